//! The shared counter: `fetch_add` (`fixed-increment`) vs the CAS retry loop
//! (`fixed-increment_cas`) vs `std::sync::Mutex<u64>` (`baseline-std-mutex`), on 1 and 2 pinned
//! threads. Time is per increment per thread (criterion's throughput line is the aggregate).
//!
//! The CAS loop's retries per increment go to the side file for `scripts/bench-report`, and are
//! printed. Every sample checks the final count (no broken variant here: it loses updates).
mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{parallel, Comparison, Pin, Sense::TimeRatio, Shares};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::counter::real::fixed::Counter;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "counter: CAS loop / fetch_add",
        "counter/1-thread",
        "fixed-increment_cas",
        "fixed-increment",
        TimeRatio,
    ),
    Comparison::ratio(
        "counter: Mutex / fetch_add",
        "counter/1-thread",
        "baseline-std-mutex",
        "fixed-increment",
        TimeRatio,
    ),
    Comparison::ratio(
        "counter: CAS loop / fetch_add",
        "counter/2-threads",
        "fixed-increment_cas",
        "fixed-increment",
        TimeRatio,
    ),
    Comparison::ratio(
        "counter: Mutex / fetch_add",
        "counter/2-threads",
        "baseline-std-mutex",
        "fixed-increment",
        TimeRatio,
    ),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    FetchAdd,
    Cas,
    Mutex,
}

/// One sample: `threads` threads each increment `iters` times. Returns the wall time and the CAS
/// retries.
fn sample(kind: Kind, threads: usize, iters: u64, shares: &mut Shares) -> (Duration, u64) {
    let counter = Counter::new();
    let mutex = Mutex::new(0u64);
    let run = parallel(threads, Pin::Spread, |_| {
        let mut retries = 0;
        match kind {
            Kind::FetchAdd => (0..iters).for_each(|_| counter.increment()),
            Kind::Cas => (0..iters).for_each(|_| retries += counter.increment_cas()),
            Kind::Mutex => (0..iters).for_each(|_| *mutex.lock().unwrap() += 1),
        }
        retries
    });
    let total = threads as u64 * iters;
    let counted = if kind == Kind::Mutex {
        *mutex.lock().unwrap()
    } else {
        counter.get()
    };
    assert_eq!(counted, total, "the counter lost increments");
    shares.push(&run);
    (run.wall, run.results.iter().sum())
}

fn bench(c: &mut Criterion) {
    for threads in [1usize, 2] {
        let group_name = format!("counter/{threads}-thread{}", if threads > 1 { "s" } else { "" });
        let mut g = c.benchmark_group(&group_name);
        g.sample_size(common::samples(50));
        g.throughput(Throughput::Elements(threads as u64));
        let mut shares = Shares::default();
        for (id, kind) in [
            ("fixed-increment", Kind::FetchAdd),
            ("fixed-increment_cas", Kind::Cas),
            ("baseline-std-mutex", Kind::Mutex),
        ] {
            let (mut retries, mut ops) = (0u64, 0u64);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let (wall, r) = sample(kind, threads, iters, &mut shares);
                    retries += r;
                    ops += threads as u64 * iters;
                    wall
                })
            });
            shares.record(&group_name, id);
            if kind == Kind::Cas && ops > 0 {
                let per_op = retries as f64 / ops as f64;
                if common::measuring() {
                    println!("{group_name}/{id}: {per_op:.4} CAS retries per increment ({retries} in {ops})");
                }
                common::record_extra(&group_name, id, "cas_retries_per_op", per_op);
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
