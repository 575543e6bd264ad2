//! The lock-free stack: the lab's tagged arena stack (`stack::real::fixed`, `fixed`) vs the
//! lab's Treiber stack reclaimed by crossbeam-epoch (`stack::epoch`, `baseline-crossbeam-epoch`,
//! only with `--features epoch`) vs `Mutex<Vec>` (`baseline-std-mutex-vec`).
//!
//! Workload: each thread pushes one value and pops one, in a loop; time per push+pop pair per
//! thread. `stack/push-pop-1-thread` on one pinned thread, `stack/push-pop-2-threads` on both
//! cores (the top of the stack is then contended on every operation). Every pop must succeed
//! (each thread pushes before it pops), and the popped values must add up to the pushed ones.
//! Before timing, each candidate is checked: LIFO on one thread, capacity, and exactly-once
//! under two threads.
mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{parallel, Comparison, Pin, Sense::SpeedRatio, Shares};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::stack::{real::fixed, Local};

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "stack push+pop, 1 thread: tagged vs crossbeam-epoch stack",
        "stack/push-pop-1-thread",
        "fixed",
        "baseline-crossbeam-epoch",
        SpeedRatio,
    )
    .at_least(3.0, "≥ 3× the crossbeam-epoch stack"),
    Comparison::ratio(
        "stack push+pop, 1 thread: tagged vs Mutex<Vec>",
        "stack/push-pop-1-thread",
        "fixed",
        "baseline-std-mutex-vec",
        SpeedRatio,
    ),
    Comparison::ratio(
        "stack push+pop, 2 threads: tagged vs crossbeam-epoch stack",
        "stack/push-pop-2-threads",
        "fixed",
        "baseline-crossbeam-epoch",
        SpeedRatio,
    )
    .at_least(3.0, "≥ 3× the crossbeam-epoch stack"),
    Comparison::ratio(
        "stack push+pop, 2 threads: tagged vs Mutex<Vec>",
        "stack/push-pop-2-threads",
        "fixed",
        "baseline-std-mutex-vec",
        SpeedRatio,
    ),
];

/// Room for the benches' live items (at most one per thread, plus the sanity run's).
const CAPACITY: usize = 1024;

/// One concurrent stack, seen through the operations the benches use.
trait Stack: Send + Sync + Sized {
    const ID: &'static str;
    /// False for a stack that never reports full (the capacity check is skipped).
    const BOUNDED: bool = true;
    /// Per-thread state (the lab's stack recycles popped nodes through a thread-local list).
    type Local;
    fn with_capacity(capacity: usize) -> Self;
    fn local(&self) -> Self::Local;
    /// Pushes `v`; false when the stack is full.
    fn push(&self, local: &mut Self::Local, v: u64) -> bool;
    fn pop(&self, local: &mut Self::Local) -> Option<u64>;
}

impl Stack for fixed::Stack {
    const ID: &'static str = "fixed";
    type Local = Local;
    fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity)
    }
    fn local(&self) -> Local {
        Local::default()
    }
    #[inline]
    fn push(&self, local: &mut Local, v: u64) -> bool {
        fixed::Stack::push(self, local, v).is_ok()
    }
    #[inline]
    fn pop(&self, local: &mut Local) -> Option<u64> {
        fixed::Stack::pop(self, local)
    }
}

/// The lock-based baseline.
struct MutexVec {
    v: Mutex<Vec<u64>>,
    capacity: usize,
}

impl Stack for MutexVec {
    const ID: &'static str = "baseline-std-mutex-vec";
    type Local = ();
    fn local(&self) {}
    fn with_capacity(capacity: usize) -> Self {
        Self {
            v: Mutex::new(Vec::with_capacity(capacity)),
            capacity,
        }
    }
    #[inline]
    fn push(&self, _: &mut (), v: u64) -> bool {
        let mut s = self.v.lock().unwrap();
        if s.len() == self.capacity {
            return false;
        }
        s.push(v);
        true
    }
    #[inline]
    fn pop(&self, _: &mut ()) -> Option<u64> {
        self.v.lock().unwrap().pop()
    }
}

/// The lab's Treiber stack over crossbeam-epoch (`stack::epoch`, feature `epoch`), pinned once
/// per operation as a caller without a batch of operations would. Unbounded.
#[cfg(feature = "epoch")]
impl Stack for lockfree_lab::stack::epoch::TreiberStack<u64> {
    const ID: &'static str = "baseline-crossbeam-epoch";
    const BOUNDED: bool = false;
    type Local = ();
    fn local(&self) {}
    fn with_capacity(_: usize) -> Self {
        Self::new()
    }
    #[inline]
    fn push(&self, _: &mut (), v: u64) -> bool {
        self.push(v, &crossbeam_epoch::pin());
        true
    }
    #[inline]
    fn pop(&self, _: &mut ()) -> Option<u64> {
        self.pop(&crossbeam_epoch::pin())
    }
}

/// `threads` threads each do `n` push+pop pairs on one stack; checks every pop and the sum.
fn push_pop<S: Stack>(threads: usize, n: u64, keep: bool, shares: &mut Shares) -> (Duration, Vec<Vec<u64>>) {
    let stack = S::with_capacity(CAPACITY);
    let run = parallel(threads, Pin::Spread, |t| {
        let mut local = stack.local();
        let mut popped = Vec::new();
        let mut sum = 0u64;
        for i in 0..n {
            let v = (t as u64) << 48 | i;
            assert!(stack.push(&mut local, v), "{}: push failed below capacity", S::ID);
            let got = stack
                .pop(&mut local)
                .unwrap_or_else(|| panic!("{}: pop found the stack empty", S::ID));
            sum = sum.wrapping_add(got);
            if keep {
                popped.push(got);
            }
        }
        (sum, popped)
    });
    shares.push(&run);
    let expected = (0..threads as u64).fold(0u64, |acc, t| {
        acc.wrapping_add((t << 48).wrapping_mul(n))
            .wrapping_add(n * n.saturating_sub(1) / 2)
    });
    let got = run.results.iter().fold(0u64, |acc, r| acc.wrapping_add(r.0));
    assert_eq!(got, expected, "{}: values lost or duplicated", S::ID);
    assert_eq!(stack.pop(&mut stack.local()), None, "{}: items left behind", S::ID);
    (run.wall, run.results.into_iter().map(|r| r.1).collect())
}

/// Before anything is timed: LIFO and capacity on one thread, exactly-once under two threads.
fn sanity<S: Stack>() {
    let s = S::with_capacity(CAPACITY);
    let l = &mut s.local();
    for i in 0..CAPACITY as u64 {
        assert!(s.push(l, i), "{}: push {i} failed below capacity", S::ID);
    }
    assert!(
        !S::BOUNDED || !s.push(l, 0),
        "{}: accepted more than {CAPACITY} items",
        S::ID
    );
    for i in (0..CAPACITY as u64).rev() {
        assert_eq!(s.pop(l), Some(i), "{}: not LIFO on one thread", S::ID);
    }
    assert_eq!(s.pop(l), None, "{}: popped from an empty stack", S::ID);

    let n = 50_000u64;
    let (_, popped) = push_pop::<S>(2, n, true, &mut Shares::default());
    let mut all: Vec<u64> = popped.into_iter().flatten().collect();
    all.sort_unstable();
    let want: Vec<u64> = (0..2u64).flat_map(|t| (0..n).map(move |i| t << 48 | i)).collect();
    assert!(all == want, "{}: not every value was popped exactly once", S::ID);
}

fn case<S: Stack>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group: &str,
    threads: usize,
) {
    sanity::<S>();
    let mut shares = Shares::default();
    g.bench_function(S::ID, |b| {
        b.iter_custom(|n| push_pop::<S>(threads, n, false, &mut shares).0)
    });
    shares.record(group, S::ID);
}

fn bench(c: &mut Criterion) {
    for (group, threads) in [("stack/push-pop-1-thread", 1usize), ("stack/push-pop-2-threads", 2)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(common::samples(60));
        g.throughput(Throughput::Elements(threads as u64));
        case::<fixed::Stack>(&mut g, group, threads);
        #[cfg(feature = "epoch")]
        case::<lockfree_lab::stack::epoch::TreiberStack<u64>>(&mut g, group, threads);
        case::<MutexVec>(&mut g, group, threads);
        g.finish();
    }

    // The targets' ratios, measured in alternation (see `common::paired`).
    #[cfg(feature = "epoch")]
    for (group, threads) in [("stack/push-pop-1-thread", 1usize), ("stack/push-pop-2-threads", 2)] {
        type Epoch = lockfree_lab::stack::epoch::TreiberStack<u64>;
        common::paired(
            group,
            vec![
                (
                    "fixed",
                    Box::new(move |n| push_pop::<fixed::Stack>(threads, n, false, &mut Shares::default()).0),
                ),
                (
                    "baseline-crossbeam-epoch",
                    Box::new(move |n| push_pop::<Epoch>(threads, n, false, &mut Shares::default()).0),
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
