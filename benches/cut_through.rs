//! Cut-through vs store-and-forward: time from the host starting a frame to its first and its
//! last byte on the wire, with the PCIe side and the wire side (the NIC's MAC, the lab's fixed
//! one) pinned to the two cores and chunks crossing through the lab's SPSC ring.
//!
//! Groups `cut_through/first-byte-{1500,9000}` and `cut_through/last-byte-{1500,9000}`, ids
//! `cut-through` and `store-and-forward`: one iteration is one frame, and a sample's time per
//! iteration is the median latency of its good frames (every 8th frame is aborted by its sender
//! and not timed). The median, not the mean: on a shared VM a frame now and then waits out a
//! preemption of milliseconds, and one such frame would outweigh thousands. Each frame starts on an idle pipe (the host waits for the previous
//! frame's completion). What is measured and what is modelled: the chunks' crossing between the
//! cores is measured (the analogue of the PCIe transfer); the wire's serialisation is modelled at
//! 10 Gb/s (the rate CTPIO's cut-through mode supports), computed from the measured arrival of
//! each chunk. Before timing, a run checks that no chunk is misordered and no good frame lost.
mod common;

use std::time::Duration;

use common::{Comparison, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, Criterion};
use lockfree_lab::hw::Pin;
use lockfree_lab::nic::cut_through::{run_on_cores, CoreRun, LineRate, Mode};
use lockfree_lab::Variant;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "Cut-through first byte / store-and-forward, 1,500 B",
        "cut_through/first-byte-1500",
        "cut-through",
        "store-and-forward",
        TimeRatio,
    )
    .at_most(1.0 / 14.0, "≥ 14× sooner to first byte (the seed's claim)"),
    Comparison::ratio(
        "Cut-through first byte / store-and-forward, 9,000 B",
        "cut_through/first-byte-9000",
        "cut-through",
        "store-and-forward",
        TimeRatio,
    ),
    Comparison::ratio(
        "Cut-through last byte / store-and-forward, 1,500 B",
        "cut_through/last-byte-1500",
        "cut-through",
        "store-and-forward",
        TimeRatio,
    ),
    Comparison::ratio(
        "Cut-through last byte / store-and-forward, 9,000 B",
        "cut_through/last-byte-9000",
        "cut-through",
        "store-and-forward",
        TimeRatio,
    ),
    Comparison::note(
        "cut-through: the PCIe transfer is the measured analogue (64-byte chunks crossing two cores through the SPSC \
         ring); the wire is modelled at 10 Gb/s.",
    ),
];

const LINE: LineRate = LineRate::Gbps(10);

/// `frames` frames of `size` bytes in `mode`; checks the run, then returns it.
fn frames(mode: Mode, size: usize, frames: u64) -> CoreRun {
    let r = run_on_cores(Variant::Fixed, mode, size, frames.max(1), LINE, Pin::Spread);
    assert_eq!(
        (r.misordered, r.good_lost, r.bad_as_good),
        (0, 0, 0),
        "cut-through bench: the fixed MAC misbehaved"
    );
    r
}

fn bench(c: &mut Criterion) {
    for size in [1_500, 9_000] {
        for (what, first) in [("first-byte", true), ("last-byte", false)] {
            let mut g = c.benchmark_group(format!("cut_through/{what}-{size}"));
            g.sample_size(common::samples(30));
            g.measurement_time(common::measure_time(3));
            for mode in [Mode::CutThrough, Mode::StoreAndForward] {
                g.bench_function(mode.name(), |b| {
                    b.iter_custom(|iters| {
                        let r = frames(mode, size, iters);
                        let per_frame = if first { r.first_byte.p50 } else { r.last_byte.p50 };
                        Duration::from_secs_f64(per_frame * 1e-9 * iters as f64)
                    })
                });
            }
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
