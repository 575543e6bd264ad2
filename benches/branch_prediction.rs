//! Branch prediction and cache locality, on one core: the same work in a predictable and an
//! unpredictable order.
//!
//! Groups:
//! - `branch_prediction/sum_32k`: the branchy kernel (`sum_branchy`, a real conditional jump; the
//!   lab's asm test proves it) over 32,768 random bytes, half of them taking the branch, `sorted`
//!   vs `shuffled`, and the branchless mask rewrite over the shuffled bytes (`branchless`). The
//!   classic's figure: 11.54 s unsorted vs 1.93 s sorted.
//! - `cache_locality/sum_64mib`: one 64 MiB array of `u64`s summed through an index array in
//!   `sequential` vs `shuffled` order (same kernel, same additions; only the order differs).
//!
//! Every sample checks the sum against the expected one, so no kernel can be optimised away.
mod common;

use std::hint::black_box;

use common::{Comparison, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::cpu::branch_prediction::{sum_branchless, sum_branchy, values, THRESHOLD};
use lockfree_lab::cpu::cache_locality::{order, sum_in_order, Order};

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "branch prediction, 32K bytes at 50%: shuffled / sorted (the classic: 11.54 s / 1.93 s = 6x)",
        "branch_prediction/sum_32k",
        "shuffled",
        "sorted",
        TimeRatio,
    ),
    Comparison::ratio(
        "branch prediction, 32K bytes at 50%: shuffled / branchless mask",
        "branch_prediction/sum_32k",
        "shuffled",
        "branchless",
        TimeRatio,
    ),
    Comparison::ratio(
        "cache locality, 64 MiB of u64: shuffled / sequential order (same kernel)",
        "cache_locality/sum_64mib",
        "shuffled",
        "sequential",
        TimeRatio,
    ),
    Comparison::note(
        "branch_prediction: the branchy kernel keeps its conditional jump (black_box(()) on the taken path); \
         `cargo test --lib cpu::branch_prediction` checks its assembly",
    ),
];

fn branches(c: &mut Criterion) {
    let shuffled = values(32_768, 50, 0x0B4A_00C4);
    let mut sorted = shuffled.clone();
    sorted.sort_unstable();
    let want: u64 = shuffled
        .iter()
        .filter(|&&v| v >= THRESHOLD)
        .map(|&v| u64::from(v))
        .sum();
    let mut g = c.benchmark_group("branch_prediction/sum_32k");
    g.sample_size(common::samples(50));
    g.throughput(Throughput::Elements(shuffled.len() as u64));
    for (id, kernel, data) in [
        ("sorted", sum_branchy as fn(&[u8], u8) -> u64, &sorted),
        ("shuffled", sum_branchy, &shuffled),
        ("branchless", sum_branchless, &shuffled),
    ] {
        g.bench_function(id, |b| {
            b.iter(|| {
                let s = kernel(black_box(data), black_box(THRESHOLD));
                assert_eq!(s, want);
                s
            })
        });
    }
    g.finish();
}

fn locality(c: &mut Criterion) {
    let n = if common::measuring() { 1 << 23 } else { 1 << 12 };
    let data: Vec<u64> = (0..n as u64).collect();
    let want = data.iter().sum::<u64>();
    let mut g = c.benchmark_group("cache_locality/sum_64mib");
    g.sample_size(common::samples(10));
    g.measurement_time(common::measure_time(5));
    g.throughput(Throughput::Elements(n as u64));
    for (id, kind) in [("sequential", Order::Sequential), ("shuffled", Order::Shuffled(7))] {
        let o = order(kind, n);
        g.bench_function(id, |b| {
            b.iter(|| {
                let s = sum_in_order(black_box(&data), black_box(&o));
                assert_eq!(s, want);
                s
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = branches, locality
}
criterion_main!(benches);
