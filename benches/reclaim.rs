//! Reclamation (feature `epoch`): the lab's hand-written RCU cell (`reclaim::real::fixed`,
//! `fixed`) vs a cell on crossbeam-epoch (`baseline-crossbeam-epoch`: readers `pin` and load, the
//! writer swaps and `defer_destroy`s) vs arc-swap (`baseline-arc-swap`: `load` / `store`).
//!
//! Groups (time per operation of the measured thread, which stamps its own start and end):
//! - `reclaim/read`: one reader (core 0), no writer: one read-side section = enter, read the
//!   value, exit.
//! - `reclaim/read-while-updating`: the same reader while a writer on core 1 updates
//!   continuously: what a grace-period protocol costs its readers under churn.
//! - `reclaim/grace-period`: the writer's cost per update (publish, then reclaim the old version)
//!   while a reader on core 0 reads continuously. The lab's writer *waits* for the grace period;
//!   crossbeam-epoch defers the free and pays for collection in later `pin`s (amortized here);
//!   arc-swap's `store` waits for no reader either: the last holder of the old `Arc` frees it.
//! - `reclaim/grace-period-idle`: the writer alone (no reader).
//!
//! The epoch baseline is a plain cell written here, not the lab's `reclaim::epoch_cell`, whose
//! versions record every destruction in a `Mutex<Vec>` (right for the demos, not for a writer's
//! cost). Every reader checks that the values it sees never go backwards (the writer publishes
//! 1, 2, 3, ...), and each candidate is first run as a working cell: a reader sees monotone
//! values while 20,000 updates go by, and the final value is the last one written.
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{parallel_tasks, Comparison, Pin, Sense::TimeRatio, Shares, Task};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use lockfree_lab::reclaim::real::fixed;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "reclaim, read side: RCU / crossbeam-epoch pin",
        "reclaim/read",
        "fixed",
        "baseline-crossbeam-epoch",
        TimeRatio,
    )
    .at_most(1.0, "≤ 1.0× pin"),
    Comparison::ratio(
        "reclaim, read side: RCU / arc-swap load",
        "reclaim/read",
        "fixed",
        "baseline-arc-swap",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, read while a writer updates: RCU / crossbeam-epoch",
        "reclaim/read-while-updating",
        "fixed",
        "baseline-crossbeam-epoch",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, read while a writer updates: RCU / arc-swap",
        "reclaim/read-while-updating",
        "fixed",
        "baseline-arc-swap",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, update + grace period with a reader: RCU / crossbeam-epoch",
        "reclaim/grace-period",
        "fixed",
        "baseline-crossbeam-epoch",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, update + grace period with a reader: RCU / arc-swap",
        "reclaim/grace-period",
        "fixed",
        "baseline-arc-swap",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, update with no reader: RCU / crossbeam-epoch",
        "reclaim/grace-period-idle",
        "fixed",
        "baseline-crossbeam-epoch",
        TimeRatio,
    ),
    Comparison::ratio(
        "reclaim, update with no reader: RCU / arc-swap",
        "reclaim/grace-period-idle",
        "fixed",
        "baseline-arc-swap",
        TimeRatio,
    ),
];

/// One RCU-like cell of a `u64`, seen through the operations the benches use.
trait Cell {
    const ID: &'static str;
    type W: Send;
    type R: Send;
    fn new(value: u64) -> (Self::W, Self::R);
    /// One read-side section.
    fn read(r: &Self::R) -> u64;
    /// Publishes `value` and retires the old version.
    fn update(w: &mut Self::W, value: u64);
}

struct Lab;
impl Cell for Lab {
    const ID: &'static str = "fixed";
    type W = fixed::Writer;
    type R = fixed::Reader;
    fn new(value: u64) -> (Self::W, Self::R) {
        fixed::new(value)
    }
    #[inline]
    fn read(r: &Self::R) -> u64 {
        let v = r.read(|v| *v);
        assert_ne!(v, lockfree_lab::reclaim::POISON, "fixed: read a reclaimed version");
        v
    }
    #[inline]
    fn update(w: &mut Self::W, value: u64) {
        w.update(value)
    }
}

/// A crossbeam-epoch cell: the current version is a boxed `u64`.
struct EpochCell {
    current: crossbeam_epoch::Atomic<u64>,
}

impl Drop for EpochCell {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader or writer remains, so the current version can be freed
        // at once without a guard.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            // ORDERING: Relaxed [drop] — exclusive access.
            drop(self.current.load(Ordering::Relaxed, guard).into_owned());
        }
    }
}

struct Epoch;
impl Cell for Epoch {
    const ID: &'static str = "baseline-crossbeam-epoch";
    type W = Arc<EpochCell>;
    type R = Arc<EpochCell>;
    fn new(value: u64) -> (Self::W, Self::R) {
        let cell = Arc::new(EpochCell {
            current: crossbeam_epoch::Atomic::new(value),
        });
        (cell.clone(), cell)
    }
    #[inline]
    fn read(r: &Self::R) -> u64 {
        let guard = crossbeam_epoch::pin();
        // ORDERING: Acquire [epoch-publish] — pairs with the writer's AcqRel swap: the boxed value is visible.
        let p = r.current.load(Ordering::Acquire, &guard);
        // SAFETY: never null; loaded under `guard`, so it is not freed before the guard drops.
        unsafe { *p.deref() }
    }
    #[inline]
    fn update(w: &mut Self::W, value: u64) {
        let guard = crossbeam_epoch::pin();
        // ORDERING: AcqRel [epoch-publish] — Release publishes the new box; Acquire makes the old one ours to retire.
        let old = w
            .current
            .swap(crossbeam_epoch::Owned::new(value), Ordering::AcqRel, &guard);
        // SAFETY: `old` is unlinked by the swap (no new reader can load it) and retired once:
        // crossbeam frees it after every participant pinned now has unpinned.
        unsafe { guard.defer_destroy(old) };
    }
}

struct ArcSwap;
impl Cell for ArcSwap {
    const ID: &'static str = "baseline-arc-swap";
    type W = Arc<arc_swap::ArcSwap<u64>>;
    type R = Arc<arc_swap::ArcSwap<u64>>;
    fn new(value: u64) -> (Self::W, Self::R) {
        let cell = Arc::new(arc_swap::ArcSwap::from_pointee(value));
        (cell.clone(), cell)
    }
    #[inline]
    fn read(r: &Self::R) -> u64 {
        **r.load()
    }
    #[inline]
    fn update(w: &mut Self::W, value: u64) {
        w.store(Arc::new(value));
    }
}

/// `n` reads on core 0 with no writer; returns the reader's own time.
fn reads<C: Cell>(n: u64, shares: &mut Shares) -> Duration {
    let (_w, r) = C::new(7);
    let run = parallel_tasks(
        Pin::Spread,
        vec![move || {
            let start = Instant::now();
            for _ in 0..n {
                assert_eq!(black_box(C::read(&r)), 7, "{}: wrong value", C::ID);
            }
            start.elapsed()
        }],
    );
    shares.push(&run);
    run.results[0]
}

/// A measured thread and a background thread on the two cores: the reader (core 0) and the
/// writer (core 1). `measure_writer` picks which one runs `n` operations and is timed; the other
/// loops until it finishes. Returns the measured thread's own time. Checks that the reader's
/// values never go backwards and that the final value is the writer's last.
fn reader_and_writer<C: Cell>(n: u64, measure_writer: bool, shares: &mut Shares) -> Duration {
    let (mut w, r) = C::new(0);
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let last = std::sync::Mutex::new(0u64);
    let last = &last;
    let reader: Task<'_, Option<Duration>> = Box::new(move || {
        let start = Instant::now();
        let mut seen = 0;
        let mut i = 0;
        // ORDERING: Relaxed [stop] — a flag that only ends the loop; it publishes nothing.
        while if measure_writer {
            !stop.load(Ordering::Relaxed)
        } else {
            i < n
        } {
            let v = C::read(&r);
            assert!(v >= seen, "{}: the reader saw version {v} after {seen}", C::ID);
            seen = v;
            i += 1;
        }
        let elapsed = start.elapsed();
        if !measure_writer {
            // ORDERING: Relaxed [stop] — as above.
            stop.store(true, Ordering::Relaxed);
        }
        assert!(C::read(&r) >= seen, "{}: a final read went backwards", C::ID);
        (!measure_writer).then_some(elapsed)
    });
    let writer: Task<'_, Option<Duration>> = Box::new(move || {
        let start = Instant::now();
        let mut v = 0;
        // ORDERING: Relaxed [stop] — as above.
        while if measure_writer {
            v < n
        } else {
            !stop.load(Ordering::Relaxed)
        } {
            v += 1;
            C::update(&mut w, v);
        }
        let elapsed = start.elapsed();
        if measure_writer {
            // ORDERING: Relaxed [stop] — as above.
            stop.store(true, Ordering::Relaxed);
        }
        *last.lock().unwrap() = v;
        measure_writer.then_some(elapsed)
    });
    let run = parallel_tasks(Pin::Spread, vec![reader, writer]);
    shares.push(&run);
    run.results
        .into_iter()
        .flatten()
        .next()
        .expect("the measured thread's time")
}

/// The writer alone: `n` updates; returns its own time.
fn updates<C: Cell>(n: u64, shares: &mut Shares) -> Duration {
    let (mut w, r) = C::new(0);
    let run = parallel_tasks(
        Pin::Spread,
        vec![move || {
            let start = Instant::now();
            for v in 1..=n {
                C::update(&mut w, v);
            }
            start.elapsed()
        }],
    );
    assert_eq!(C::read(&r), n, "{}: the last update is not the current version", C::ID);
    shares.push(&run);
    run.results[0]
}

/// Before anything is timed: a working cell under concurrent reads and updates.
fn sanity<C: Cell>() {
    reader_and_writer::<C>(20_000, true, &mut Shares::default());
    let (mut w, r) = C::new(1);
    assert_eq!(C::read(&r), 1, "{}: wrong initial value", C::ID);
    C::update(&mut w, 2);
    assert_eq!(C::read(&r), 2, "{}: an update is not visible to the next read", C::ID);
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn run_case(g: &mut Group<'_>, group: &str, id: &str, mut f: impl FnMut(u64, &mut Shares) -> Duration) {
    let mut shares = Shares::default();
    g.bench_function(id, |b| b.iter_custom(|n| f(n, &mut shares)));
    shares.record(group, id);
}

/// The groups, in report order.
const GROUPS: [&str; 4] = [
    "reclaim/read",
    "reclaim/read-while-updating",
    "reclaim/grace-period",
    "reclaim/grace-period-idle",
];

fn case<C: Cell>(g: &mut Group<'_>, group: &str) {
    match group {
        "reclaim/read" => run_case(g, group, C::ID, reads::<C>),
        "reclaim/read-while-updating" => run_case(g, group, C::ID, |n, s| reader_and_writer::<C>(n, false, s)),
        "reclaim/grace-period" => run_case(g, group, C::ID, |n, s| reader_and_writer::<C>(n, true, s)),
        _ => run_case(g, group, C::ID, updates::<C>),
    }
}

fn bench(c: &mut Criterion) {
    sanity::<Lab>();
    sanity::<Epoch>();
    sanity::<ArcSwap>();
    for group in GROUPS {
        let mut g = c.benchmark_group(group);
        g.sample_size(common::samples(50));
        case::<Lab>(&mut g, group);
        case::<Epoch>(&mut g, group);
        case::<ArcSwap>(&mut g, group);
        g.finish();
    }
    // The read-side target's ratio, measured in alternation (see `common::paired`).
    common::paired(
        "reclaim/read",
        vec![
            ("fixed", Box::new(|n| reads::<Lab>(n, &mut Shares::default()))),
            (
                "baseline-crossbeam-epoch",
                Box::new(|n| reads::<Epoch>(n, &mut Shares::default())),
            ),
            (
                "baseline-arc-swap",
                Box::new(|n| reads::<ArcSwap>(n, &mut Shares::default())),
            ),
        ],
    );
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
