//! The bounded multi-producer multi-consumer queue: the lab's `mpmc::real::fixed` queue
//! (`fixed`) vs crossbeam's `ArrayQueue` and `Mutex<VecDeque>` (`baseline-<crate>`), capacity
//! 1024, time per item moved (throughput line = items/s).
//!
//! - `mpmc/1p1c`: one producer (core 0), one consumer (core 1).
//! - `mpmc/2p2c`: two producers and two consumers: **four threads on a two-core machine**, one
//!   producer and one consumer pinned to each core, so they time-share (a waiting thread spins
//!   briefly, then yields: `lockfree_lab::hw::spin_until`). This measures behaviour under oversubscription
//!   as much as the queue itself.
//!
//! Producer `p` pushes `p << 48 | seq`; each consumer checks that every producer's items reach it
//! in order, and pops exactly its share (the shares add up to every item pushed), so no shared
//! counter is needed to stop. Before timing, each candidate is checked on one thread (capacity,
//! FIFO) and with 2P2C that every item arrives exactly once.
mod common;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use common::{parallel_tasks, Comparison, Pin, Sense::SpeedRatio, Shares, Task};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::hw::spin_until as wait_until;
use lockfree_lab::mpmc::real::fixed;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio("MPMC 1P1C: fixed vs crossbeam ArrayQueue", "mpmc/1p1c", "fixed", "baseline-crossbeam-arrayqueue", SpeedRatio).at_least(1.0, "≥ 1.0× ArrayQueue"),
    Comparison::ratio("MPMC 1P1C: fixed vs Mutex<VecDeque>", "mpmc/1p1c", "fixed", "baseline-std-mutex-vecdeque", SpeedRatio),
    Comparison::ratio("MPMC 2P2C: fixed vs crossbeam ArrayQueue", "mpmc/2p2c", "fixed", "baseline-crossbeam-arrayqueue", SpeedRatio).at_least(1.0, "≥ 1.0× ArrayQueue"),
    Comparison::ratio("MPMC 2P2C: fixed vs Mutex<VecDeque>", "mpmc/2p2c", "fixed", "baseline-std-mutex-vecdeque", SpeedRatio),
    Comparison::note("`mpmc/2p2c` runs **four threads on two cores** (one producer and one consumer pinned to each), so it measures the queues under time-sharing as much as under contention; its CPU share is about 0.5 by construction."),
];

const CAPACITY: usize = 1024;

/// One bounded MPMC queue, seen through the operations the benches use.
trait Mpmc: Send + Sync + Sized {
    const ID: &'static str;
    fn with_capacity(capacity: usize) -> Self;
    /// Pushes `v`; false when the queue is full.
    fn push(&self, v: u64) -> bool;
    fn pop(&self) -> Option<u64>;
}

impl Mpmc for fixed::Queue<u64> {
    const ID: &'static str = "fixed";
    fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity)
    }
    #[inline]
    fn push(&self, v: u64) -> bool {
        fixed::Queue::push(self, v).is_ok()
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        fixed::Queue::pop(self)
    }
}

impl Mpmc for crossbeam_queue::ArrayQueue<u64> {
    const ID: &'static str = "baseline-crossbeam-arrayqueue";
    fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity)
    }
    #[inline]
    fn push(&self, v: u64) -> bool {
        crossbeam_queue::ArrayQueue::push(self, v).is_ok()
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        crossbeam_queue::ArrayQueue::pop(self)
    }
}

/// The lock-based baseline: a `VecDeque` bounded by hand.
struct MutexDeque {
    q: Mutex<VecDeque<u64>>,
    capacity: usize,
}

impl Mpmc for MutexDeque {
    const ID: &'static str = "baseline-std-mutex-vecdeque";
    fn with_capacity(capacity: usize) -> Self {
        Self {
            q: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }
    #[inline]
    fn push(&self, v: u64) -> bool {
        let mut q = self.q.lock().unwrap();
        if q.len() == self.capacity {
            return false;
        }
        q.push_back(v);
        true
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.q.lock().unwrap().pop_front()
    }
}

/// What a consumer saw.
struct Seen {
    sum: u64,
    /// Every item, when the caller asked to keep them (the sanity run).
    items: Vec<u64>,
}

/// `producers` threads push `per_producer` items each; `producers` consumers pop an equal share.
/// Producer `i` and consumer `i` share core `i % cores`. Checks per-producer order at every
/// consumer and the total; returns the run's wall time and what the consumers saw.
fn run<Q: Mpmc>(producers: usize, per_producer: u64, keep: bool, shares: &mut Shares) -> (Duration, Vec<Seen>) {
    let q = Q::with_capacity(CAPACITY);
    let q = &q;
    let mut tasks: Vec<Task<'_, Option<Seen>>> = Vec::new();
    for p in 0..producers as u64 {
        // Task order P0, C0, C1, P1, ... puts one producer and one consumer on each core.
        let producer: Task<'_, Option<Seen>> = Box::new(move || {
            for seq in 0..per_producer {
                let v = p << 48 | seq;
                wait_until(|| q.push(v));
            }
            None
        });
        let consumer: Task<'_, Option<Seen>> = Box::new(move || {
            let mut next = vec![0u64; producers];
            let mut seen = Seen {
                sum: 0,
                items: Vec::new(),
            };
            for _ in 0..per_producer {
                let mut v = 0;
                wait_until(|| q.pop().map(|x| v = x).is_some());
                let (from, seq) = ((v >> 48) as usize, v & ((1 << 48) - 1));
                assert!(
                    seq >= next[from],
                    "{}: producer {from}'s items arrived out of order",
                    Q::ID
                );
                next[from] = seq + 1;
                seen.sum = seen.sum.wrapping_add(v);
                if keep {
                    seen.items.push(v);
                }
            }
            Some(seen)
        });
        if p % 2 == 0 {
            tasks.extend([producer, consumer]);
        } else {
            tasks.extend([consumer, producer]);
        }
    }
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    let seen: Vec<Seen> = run.results.into_iter().flatten().collect();
    // Sums wrap: compare them modulo 2^64.
    let expected = (0..producers as u64).fold(0u64, |acc, p| {
        acc.wrapping_add((p << 48).wrapping_mul(per_producer))
            .wrapping_add(per_producer * per_producer.saturating_sub(1) / 2)
    });
    let got = seen.iter().fold(0u64, |acc, s| acc.wrapping_add(s.sum));
    assert_eq!(got, expected, "{}: items lost or duplicated", Q::ID);
    (run.wall, seen)
}

/// Before anything is timed: capacity and FIFO on one thread, then 2P2C exactly-once.
fn sanity<Q: Mpmc>() {
    let q = Q::with_capacity(CAPACITY);
    for i in 0..CAPACITY as u64 {
        assert!(q.push(i), "{}: push {i} failed below capacity", Q::ID);
    }
    assert!(!q.push(0), "{}: accepted more than {CAPACITY} items", Q::ID);
    for i in 0..CAPACITY as u64 {
        assert_eq!(q.pop(), Some(i), "{}: not FIFO on one thread", Q::ID);
    }
    assert_eq!(q.pop(), None, "{}: popped from an empty queue", Q::ID);

    let per = 50_000u64;
    let (_, seen) = run::<Q>(2, per, true, &mut Shares::default());
    let mut all: Vec<u64> = seen.into_iter().flat_map(|s| s.items).collect();
    all.sort_unstable();
    let want: Vec<u64> = (0..2u64).flat_map(|p| (0..per).map(move |s| p << 48 | s)).collect();
    assert!(all == want, "{}: not every item arrived exactly once", Q::ID);
}

/// `n` items in all, split evenly (rounded up) between the producers; the time scaled to `n`.
fn timed<Q: Mpmc>(producers: usize, n: u64, shares: &mut Shares) -> Duration {
    let per = n.div_ceil(producers as u64);
    let (wall, _) = run::<Q>(producers, per, false, shares);
    wall.mul_f64(n as f64 / (per * producers as u64) as f64)
}

fn case<Q: Mpmc>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group: &str,
    producers: usize,
) {
    sanity::<Q>();
    let mut shares = Shares::default();
    g.bench_function(Q::ID, |b| b.iter_custom(|n| timed::<Q>(producers, n, &mut shares)));
    shares.record(group, Q::ID);
}

fn bench(c: &mut Criterion) {
    for (group, producers) in [("mpmc/1p1c", 1usize), ("mpmc/2p2c", 2)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(common::samples(60));
        g.measurement_time(common::measure_time(5));
        g.throughput(Throughput::Elements(1));
        case::<fixed::Queue<u64>>(&mut g, group, producers);
        case::<crossbeam_queue::ArrayQueue<u64>>(&mut g, group, producers);
        case::<MutexDeque>(&mut g, group, producers);
        g.finish();
    }

    // The targets' ratios, measured in alternation (see `common::paired`).
    for (group, producers) in [("mpmc/1p1c", 1usize), ("mpmc/2p2c", 2)] {
        common::paired(
            group,
            vec![
                (
                    "fixed",
                    Box::new(move |n| timed::<fixed::Queue<u64>>(producers, n, &mut Shares::default())),
                ),
                (
                    "baseline-crossbeam-arrayqueue",
                    Box::new(move |n| timed::<crossbeam_queue::ArrayQueue<u64>>(producers, n, &mut Shares::default())),
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
