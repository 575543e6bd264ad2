//! MMIO write vs read, the analogue, and the driver that reads the NIC's register against the one
//! that polls the DD flag (`lockfree_lab::nic::mmio`), the two threads pinned to the two cores.
//!
//! Groups:
//! - `mmio/burst-5`: the seed's 5 lines. `writes`: 5 stores to lines the other core owns (the
//!   posted-write analogue); `writes-mfence`: the same, then `mfence`; `reads`: 5 dependent loads
//!   of lines the other core has just written (the non-posted-read analogue). Time per burst: only
//!   the burst between its two time stamps is counted, not the handshake that prepares the lines
//!   (so the wall time of a sample is many times what criterion reports).
//! - `mmio/poll-512`: a NIC thread completes `n` descriptors into the descriptor ring's queue (512
//!   slots) and writes its HEAD register after each; the driver takes them in order. `broken`:
//!   it reads the register before each descriptor; `fixed`: it polls the DD flag. Time per
//!   descriptor. Every descriptor is checked to arrive in order.
mod common;

use std::time::Duration;

use common::{parallel_tasks, Comparison, Pin, Sense::SpeedRatio, Sense::TimeRatio, Shares, Task};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::nic::descriptor_ring::queue::real::fixed as flag_queue;
use lockfree_lab::nic::mmio::burst::{self, Kind};
use lockfree_lab::nic::mmio::{broken, fixed, produce, PollStats, Register};
use lockfree_lab::Variant;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "MMIO analogue, 5 lines: dependent loads of lines the other core wrote / stores to lines it owns (seed, cited: ~6x for PCIe)",
        "mmio/burst-5",
        "reads",
        "writes",
        TimeRatio,
    )
    .at_least(2.0, "≥ 2× the stores: the store buffer absorbs them, the loads serialize"),
    Comparison::ratio(
        "MMIO analogue, 5 lines: dependent loads / stores + mfence",
        "mmio/burst-5",
        "reads",
        "writes-mfence",
        TimeRatio,
    ),
    Comparison::ratio(
        "Driver polling the DD flag vs reading the NIC's HEAD register per descriptor (512 descriptors)",
        "mmio/poll-512",
        "fixed",
        "broken",
        SpeedRatio,
    ),
    Comparison::note(
        "mmio is an analogue: the \"device\" is a thread on the other core, so a register read or write is a \
         cache-line transfer between cores, not a PCIe transaction; the seed's ~6x is a cited figure",
    ),
];

const LINES: usize = 5;
const DESCRIPTORS: usize = 512;

/// `rounds` bursts of `kind`: the total of their timed parts.
fn bursts(kind: Kind, rounds: u64) -> Duration {
    let r = burst::run(&[kind], LINES, rounds, Pin::Spread);
    assert_eq!((r.stale_reads, r.lost_writes), (0, 0), "the handshake failed");
    r.total(kind)
}

/// `n` descriptors through the ring with the `variant` driver: the parallel section's time.
fn descriptors(variant: Variant, n: u64, shares: &mut Shares) -> Duration {
    let (mut tx, mut rx) = flag_queue::channel::<u64>(DESCRIPTORS);
    let register = Register::default();
    let register = &register;
    let tasks: Vec<Task<'_, PollStats>> = vec![
        Box::new(move || {
            produce(&mut tx, register, n);
            PollStats::default()
        }),
        Box::new(move || match variant {
            Variant::Broken => broken::consume(&mut rx, register, n),
            Variant::Fixed => fixed::consume(&mut rx, register, n),
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

fn bench(c: &mut Criterion) {
    assert!(
        core_affinity::get_core_ids().is_some_and(|c| c.len() >= 2),
        "the mmio bench needs two cores to pin to"
    );
    {
        let mut g = c.benchmark_group("mmio/burst-5");
        // Only the bursts are timed; the handshake around each costs several times more wall time.
        g.sample_size(common::samples(20))
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(if common::quick() { 50 } else { 200 }));
        for (id, kind) in [
            ("writes", Kind::Writes),
            ("writes-mfence", Kind::WritesFenced),
            ("reads", Kind::Reads),
        ] {
            g.bench_function(id, |b| b.iter_custom(|rounds| bursts(kind, rounds)));
        }
        g.finish();
    }
    {
        let group = format!("mmio/poll-{DESCRIPTORS}");
        let mut g = c.benchmark_group(&group);
        g.sample_size(common::samples(30)).throughput(Throughput::Elements(1));
        let mut shares = Shares::default();
        for (id, variant) in [("broken", Variant::Broken), ("fixed", Variant::Fixed)] {
            g.bench_function(id, |b| b.iter_custom(|n| descriptors(variant, n, &mut shares)));
            shares.record(&group, id);
        }
        g.finish();
    }
    common::paired(
        "mmio/burst-5",
        vec![
            ("writes", Box::new(|n| bursts(Kind::Writes, n))),
            ("writes-mfence", Box::new(|n| bursts(Kind::WritesFenced, n))),
            ("reads", Box::new(|n| bursts(Kind::Reads, n))),
        ],
    );
    let s = Shares::default;
    common::paired(
        &format!("mmio/poll-{DESCRIPTORS}"),
        vec![
            ("broken", Box::new(move |n| descriptors(Variant::Broken, n, &mut s()))),
            ("fixed", Box::new(move |n| descriptors(Variant::Fixed, n, &mut s()))),
        ],
    );
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
