//! False sharing: two threads, each updating only its own counter, where the two counters share
//! one cache line (`broken`) or sit on separate lines (`fixed`, `crossbeam_utils::CachePadded`).
//!
//! Workloads (groups): `false_sharing/fetch_add` (an atomic read-modify-write per op) and
//! `false_sharing/load_store` (a plain `load` then `store(v + 1)` per op: no lock prefix, the
//! line still has to come back in exclusive state for every store).
//!
//! Ids, all reported as **time per op on one core**:
//! - `broken`, `fixed`: two threads pinned to the two cores; time = wall / ops per thread.
//! - `broken-same-core`, `fixed-same-core`: the control. Both threads pinned to core 0, so they
//!   time-share it and never touch the line at the same instant: the penalty must vanish. Their
//!   ops run one after another, so time = wall / (both threads' ops).
//! - `baseline-one-thread`: one thread, one counter.
//!
//! Each sample checks that every thread's counter ends at exactly its op count.
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{parallel, Comparison, Pin, Sense::TimeRatio, Shares};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::CachePadded;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio("false sharing, fetch_add: same line / padded (2 cores)", "false_sharing/fetch_add", "broken", "fixed", TimeRatio),
    Comparison::ratio("false sharing, fetch_add: same line / padded, both on one core (control)", "false_sharing/fetch_add", "broken-same-core", "fixed-same-core", TimeRatio),
    Comparison::ratio("false sharing, fetch_add: padded (2 cores) / one thread", "false_sharing/fetch_add", "fixed", "baseline-one-thread", TimeRatio),
    Comparison::ratio("false sharing, load+store: same line / padded (2 cores)", "false_sharing/load_store", "broken", "fixed", TimeRatio),
    Comparison::ratio("false sharing, load+store: same line / padded, both on one core (control)", "false_sharing/load_store", "broken-same-core", "fixed-same-core", TimeRatio),
    Comparison::ratio("false sharing, load+store: padded (2 cores) / one thread", "false_sharing/load_store", "fixed", "baseline-one-thread", TimeRatio),
    Comparison::note("The `*-same-core` false-sharing controls pin both threads to one core and report wall time / both threads' ops (CPU share 0.5 by construction)."),
];

/// Two counters in one 64-byte line.
#[repr(C, align(64))]
#[derive(Default)]
struct SameLine {
    a: AtomicU64,
    b: AtomicU64,
}

/// Two counters, each on its own (pair of) cache line(s).
#[derive(Default)]
struct Padded {
    a: CachePadded<AtomicU64>,
    b: CachePadded<AtomicU64>,
}

trait Pair: Default + Sync {
    fn field(&self, i: usize) -> &AtomicU64;
}
impl Pair for SameLine {
    fn field(&self, i: usize) -> &AtomicU64 {
        if i == 0 {
            &self.a
        } else {
            &self.b
        }
    }
}
impl Pair for Padded {
    fn field(&self, i: usize) -> &AtomicU64 {
        if i == 0 {
            &self.a
        } else {
            &self.b
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    FetchAdd,
    LoadStore,
}

#[inline(never)]
fn hammer(counter: &AtomicU64, op: Op, iters: u64) {
    match op {
        Op::FetchAdd => {
            for _ in 0..iters {
                // ORDERING: Relaxed [own-count] — each thread owns its counter; nothing is published.
                black_box(counter.fetch_add(1, Ordering::Relaxed));
            }
        }
        Op::LoadStore => {
            for _ in 0..iters {
                // ORDERING: Relaxed [own-count] — only this thread writes the counter.
                let v = counter.load(Ordering::Relaxed);
                // ORDERING: Relaxed [own-count] — read back by this thread and after the join.
                counter.store(black_box(v) + 1, Ordering::Relaxed);
            }
        }
    }
}

/// Times `threads` threads (1 or 2) hammering their own field of a fresh `P`; returns time per
/// op on one core (see the module doc) and checks every count.
fn sample<P: Pair>(threads: usize, pin: Pin, op: Op, iters: u64, shares: &mut Shares) -> Duration {
    let pair = P::default();
    let run = parallel(threads, pin, |i| hammer(pair.field(i), op, iters));
    for i in 0..threads {
        // ORDERING: Relaxed [own-count] — the join of the scoped threads ordered their stores before this.
        assert_eq!(
            pair.field(i).load(Ordering::Relaxed),
            iters,
            "thread {i} lost an update"
        );
    }
    shares.push(&run);
    match pin {
        Pin::SameCore => run.wall / threads as u32,
        _ => run.wall,
    }
}

/// The layouts really are what the ids claim.
fn check_layouts() {
    let s = SameLine::default();
    let p = Padded::default();
    let line = |x: &AtomicU64| x as *const AtomicU64 as usize / 64;
    assert_eq!(line(&s.a), line(&s.b), "SameLine fields must share a cache line");
    assert_ne!(line(&p.a), line(&p.b), "Padded fields must be on different lines");
    assert!(
        core_affinity::get_core_ids().is_some_and(|c| !c.is_empty()),
        "core pinning is unavailable"
    );
}

fn bench(c: &mut Criterion) {
    check_layouts();
    for (name, op) in [("fetch_add", Op::FetchAdd), ("load_store", Op::LoadStore)] {
        let group_name = format!("false_sharing/{name}");
        let mut g = c.benchmark_group(&group_name);
        g.sample_size(common::samples(60));
        let mut shares = Shares::default();
        let mut case = |id: &str, f: &dyn Fn(u64, &mut Shares) -> Duration| {
            g.bench_function(id, |b| b.iter_custom(|iters| f(iters, &mut shares)));
            shares.record(&group_name, id);
        };
        case("broken", &|n, s| sample::<SameLine>(2, Pin::Spread, op, n, s));
        case("fixed", &|n, s| sample::<Padded>(2, Pin::Spread, op, n, s));
        case("broken-same-core", &|n, s| {
            sample::<SameLine>(2, Pin::SameCore, op, n, s)
        });
        case("fixed-same-core", &|n, s| sample::<Padded>(2, Pin::SameCore, op, n, s));
        case("baseline-one-thread", &|n, s| {
            sample::<Padded>(1, Pin::Spread, op, n, s)
        });
        g.finish();
    }

    // The penalty and its control, measured in alternation (see `common::paired`).
    for (name, op) in [("fetch_add", Op::FetchAdd), ("load_store", Op::LoadStore)] {
        let s = Shares::default;
        common::paired(
            &format!("false_sharing/{name}"),
            vec![
                (
                    "broken",
                    Box::new(move |n| sample::<SameLine>(2, Pin::Spread, op, n, &mut s())),
                ),
                (
                    "fixed",
                    Box::new(move |n| sample::<Padded>(2, Pin::Spread, op, n, &mut s())),
                ),
                (
                    "broken-same-core",
                    Box::new(move |n| sample::<SameLine>(2, Pin::SameCore, op, n, &mut s())),
                ),
                (
                    "fixed-same-core",
                    Box::new(move |n| sample::<Padded>(2, Pin::SameCore, op, n, &mut s())),
                ),
            ],
        );
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
