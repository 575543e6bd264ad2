//! Batching: items through the lab's SPSC ring (`cpu::batching::run_point`) from a producer to a
//! consumer pinned to the two cores, with a doorbell rung once per item or once per batch of 64.
//!
//! Group `batching/transfer`; the time criterion reports per iteration is the **wall time per
//! item** (whole batches). Ids: `syscall-per-item`, `syscall-per-batch-64` (the doorbell is an
//! eventfd `write(2)`, the consumer blocks in `read(2)`), `store-per-item`, `store-per-batch-64`
//! (the doorbell is a Release store the consumer spins on). Each sample checks that every item
//! arrived, in order.
mod common;

use std::time::Duration;

use common::{Comparison, Pin, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, Criterion};
use lockfree_lab::cpu::batching::{run_point, Doorbell};

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "Syscall doorbell (eventfd): one per item / one per batch of 64",
        "batching/transfer",
        "syscall-per-item",
        "syscall-per-batch-64",
        TimeRatio,
    ),
    Comparison::ratio(
        "Release-store doorbell: one per item / one per batch of 64",
        "batching/transfer",
        "store-per-item",
        "store-per-batch-64",
        TimeRatio,
    ),
    Comparison::ratio(
        "Doorbell per item: syscall / Release store",
        "batching/transfer",
        "syscall-per-item",
        "store-per-item",
        TimeRatio,
    ),
    Comparison::note(
        "Time per item, wall clock, both threads pinned; the consumer of the syscall doorbell sleeps between \
         doorbells, so its per-item figure includes waking it. `cargo run --release -- run batching` sweeps B from 1 \
         to 4,096 and fits the fixed and per-item costs.",
    ),
];

/// Wall time for `iters` items (rounded up to whole batches) with `doorbell` every `batch` items.
fn sample(doorbell: Doorbell, batch: usize, iters: u64) -> Duration {
    let p = run_point(doorbell, batch, iters.max(1), Duration::from_secs(3600), Pin::Spread);
    assert_eq!(p.mismatches, 0, "an item arrived out of order");
    p.parallelism.wall.mul_f64(iters.max(1) as f64 / p.items as f64)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("batching/transfer");
    g.sample_size(common::samples(30));
    g.measurement_time(common::measure_time(3));
    for doorbell in Doorbell::BOTH {
        for (id, batch) in [("per-item", 1), ("per-batch-64", 64)] {
            g.bench_function(format!("{}-{id}", doorbell.short()), |b| {
                b.iter_custom(|iters| sample(doorbell, batch, iters))
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
