//! The IOMMU model's costs. The IOMMU is the lab's software model (this machine has no IOMMU to
//! program), so these are the model's costs on these cores, not an IOMMU's.
//!
//! Groups:
//! - `iommu/translate`: one 64-byte DMA write to a mapped page on one core, through an IOTLB
//!   hit (`fixed-iotlb-hit`), through a full 4-level walk (the IOTLB flushed before each DMA,
//!   `fixed-walk`), and with translation off (`baseline-passthrough`).
//! - `iommu/unmap`: one unmap + reclaim + remap cycle by the driver while the device thread, on
//!   the other core, services its invalidation queue between 64-byte DMAs: strict (`fixed`,
//!   waits for the device's acknowledgement) vs lazy (`broken`, reuses at once). This is the
//!   throughput `iommu.strict=0` buys, at the price `check iommu` shows.
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{parallel_tasks, Comparison, Pin, Sense::TimeRatio, Task};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::nic::iommu::{real, Geometry, IommuDevice, IommuDriver, Make, Perm};

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "IOMMU model, 64-byte DMA: 4-level walk / IOTLB hit",
        "iommu/translate",
        "fixed-walk",
        "fixed-iotlb-hit",
        TimeRatio,
    ),
    Comparison::ratio(
        "IOMMU model, 64-byte DMA: IOTLB hit / passthrough",
        "iommu/translate",
        "fixed-iotlb-hit",
        "baseline-passthrough",
        TimeRatio,
    ),
    Comparison::ratio(
        "IOMMU model, unmap cycle: strict (wait for the ack) / lazy",
        "iommu/unmap",
        "fixed",
        "broken",
        TimeRatio,
    ),
    Comparison::note(
        "iommu: the IOMMU is the lab's software model (no IOMMU to program here): the model's costs, not \
         hardware's. Cited: IOTLB misses cost up to 20% throughput at 200 Gbps (Farshin et al., PeerJ CS 2023)",
    ),
];

/// Words per DMA (64 bytes).
const BURST: usize = 8;

fn translate(c: &mut Criterion) {
    let mut group = c.benchmark_group("iommu/translate");
    group.throughput(Throughput::Elements(1));
    let data = [1u64; BURST];
    let (mut driver, mut device) = real::fixed::new(Geometry::X86, 8, false);
    let frame = driver.alloc_frame().expect("a free frame");
    driver.map(0x1000, frame, Perm::RW).expect("maps");
    group.bench_function("fixed-iotlb-hit", |b| {
        b.iter(|| device.dma_write(black_box(0x1000), &data).expect("mapped"))
    });
    group.bench_function("fixed-walk", |b| {
        b.iter(|| {
            device.iotlb.flush();
            device.dma_write(black_box(0x1000), &data).expect("mapped")
        })
    });
    let (_, mut passthrough) = real::fixed::new(Geometry::X86, 8, true);
    let phys = frame << Geometry::X86.page_shift();
    group.bench_function("baseline-passthrough", |b| {
        b.iter(|| passthrough.dma_write(black_box(phys), &data).expect("inside memory"))
    });
    group.finish();
}

/// `n` unmap + reclaim + remap cycles of the driver against a device thread on the other core.
fn unmap_cycles<D: IommuDriver, V: IommuDevice>(make: Make<D, V>, n: u64) -> Duration {
    let (mut driver, mut device) = make(Geometry::X86, 16, false);
    let frame = driver.alloc_frame().expect("a free frame");
    driver.map(0x1000, frame, Perm::RW).expect("maps");
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || {
            for _ in 0..n {
                let unmapped = driver.unmap(0x1000).expect("mapped");
                let frame = driver.reclaim(unmapped);
                driver.map(0x1000, frame, Perm::RW).expect("remaps");
            }
            // ORDERING: Relaxed [stop] — only ends the device's loop; the join orders the rest.
            stop.store(true, Ordering::Relaxed);
        }),
        Box::new(move || {
            let data = [2u64; BURST];
            // ORDERING: Relaxed [stop] — only ends the loop.
            while !stop.load(Ordering::Relaxed) {
                device.service_invalidations();
                let _ = device.dma_write(0x1000, &data);
            }
        }),
    ];
    parallel_tasks(Pin::Spread, tasks).wall
}

fn unmap(c: &mut Criterion) {
    let mut group = c.benchmark_group("iommu/unmap");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fixed", |b| b.iter_custom(|n| unmap_cycles(real::fixed::new, n)));
    group.bench_function("broken", |b| b.iter_custom(|n| unmap_cycles(real::broken::new, n)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = translate, unmap
}
criterion_main!(benches);
