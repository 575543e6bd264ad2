//! The lock-free stack: the lab's tagged arena stack (`fixed`) vs a Treiber stack reclaimed by
//! crossbeam-epoch (`baseline-crossbeam-epoch`, with `--features epoch`) vs `Mutex<Vec>`
//! (`baseline-std-mutex-vec`).
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

use common::{parallel, Pin, Shares};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Room for the benches' live items (at most one per thread, plus the sanity run's).
const CAPACITY: usize = 1024;

/// One concurrent stack, seen through the operations the benches use.
trait Stack: Send + Sync + Sized {
    const ID: &'static str;
    /// False for a stack that never reports full (the capacity check is skipped).
    const BOUNDED: bool = true;
    fn with_capacity(capacity: usize) -> Self;
    /// Pushes `v`; false when the stack is full.
    fn push(&self, v: u64) -> bool;
    fn pop(&self) -> Option<u64>;
}

/// The lock-based baseline.
struct MutexVec {
    v: Mutex<Vec<u64>>,
    capacity: usize,
}

impl Stack for MutexVec {
    const ID: &'static str = "baseline-std-mutex-vec";
    fn with_capacity(capacity: usize) -> Self {
        Self {
            v: Mutex::new(Vec::with_capacity(capacity)),
            capacity,
        }
    }
    #[inline]
    fn push(&self, v: u64) -> bool {
        let mut s = self.v.lock().unwrap();
        if s.len() == self.capacity {
            return false;
        }
        s.push(v);
        true
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.v.lock().unwrap().pop()
    }
}

/// A Treiber stack whose nodes crossbeam-epoch frees (the crossbeam-epoch documentation's
/// example). Unbounded: a length counter would add a contended RMW to every operation.
#[cfg(feature = "epoch")]
mod epoch_stack {
    use crossbeam_epoch::{self as epoch, Atomic, Owned};
    use std::mem::ManuallyDrop;
    use std::sync::atomic::Ordering;

    struct Node {
        value: ManuallyDrop<u64>,
        next: Atomic<Node>,
    }

    pub struct EpochStack {
        head: Atomic<Node>,
    }

    impl EpochStack {
        pub fn new() -> Self {
            Self { head: Atomic::null() }
        }

        pub fn push(&self, value: u64) {
            let mut node = Owned::new(Node {
                value: ManuallyDrop::new(value),
                next: Atomic::null(),
            });
            let guard = epoch::pin();
            loop {
                // ORDERING: Relaxed [head] — the CAS below validates the snapshot.
                let head = self.head.load(Ordering::Relaxed, &guard);
                // ORDERING: Relaxed [node-next] — published by the Release CAS below.
                node.next.store(head, Ordering::Relaxed);
                // ORDERING: Release/Relaxed [node-publish] — the node's fields happen-before the Acquire load of a popper that sees it; failure only retries.
                match self
                    .head
                    .compare_exchange(head, node, Ordering::Release, Ordering::Relaxed, &guard)
                {
                    Ok(_) => return,
                    Err(e) => node = e.new,
                }
            }
        }

        pub fn pop(&self) -> Option<u64> {
            let guard = epoch::pin();
            loop {
                // ORDERING: Acquire [node-publish] — pairs with push's Release CAS: the node's fields are visible.
                let head = self.head.load(Ordering::Acquire, &guard);
                // SAFETY: `head` was loaded under `guard`, so the node is not freed before the guard drops.
                let h = unsafe { head.as_ref() }?;
                // ORDERING: Relaxed [node-next] — the Acquire load of `head` made the node's fields visible.
                let next = h.next.load(Ordering::Relaxed, &guard);
                // ORDERING: Relaxed/Relaxed [head] — the winner owns the node; epoch pinning (not ordering) keeps `h` alive for losers.
                if self
                    .head
                    .compare_exchange(head, next, Ordering::Relaxed, Ordering::Relaxed, &guard)
                    .is_ok()
                {
                    // SAFETY: our CAS unlinked `head`: no new reader can reach it, and the epoch
                    // frees it only after every guard that may still see it is dropped. The value
                    // is moved out exactly once (here), and `Node` has no drop glue for it.
                    unsafe {
                        guard.defer_destroy(head);
                        return Some(ManuallyDrop::into_inner(std::ptr::read(&h.value)));
                    }
                }
            }
        }
    }

    impl Drop for EpochStack {
        fn drop(&mut self) {
            while self.pop().is_some() {}
        }
    }
}

#[cfg(feature = "epoch")]
impl Stack for epoch_stack::EpochStack {
    const ID: &'static str = "baseline-crossbeam-epoch";
    const BOUNDED: bool = false;
    fn with_capacity(_: usize) -> Self {
        Self::new()
    }
    #[inline]
    fn push(&self, v: u64) -> bool {
        epoch_stack::EpochStack::push(self, v);
        true
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        epoch_stack::EpochStack::pop(self)
    }
}

/// `threads` threads each do `n` push+pop pairs on one stack; checks every pop and the sum.
fn push_pop<S: Stack>(threads: usize, n: u64, keep: bool, shares: &mut Shares) -> (Duration, Vec<Vec<u64>>) {
    let stack = S::with_capacity(CAPACITY);
    let run = parallel(threads, Pin::Spread, |t| {
        let mut popped = Vec::new();
        let mut sum = 0u64;
        for i in 0..n {
            let v = (t as u64) << 48 | i;
            assert!(stack.push(v), "{}: push failed below capacity", S::ID);
            let got = stack
                .pop()
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
    assert_eq!(stack.pop(), None, "{}: items left behind", S::ID);
    (run.wall, run.results.into_iter().map(|r| r.1).collect())
}

/// Before anything is timed: LIFO and capacity on one thread, exactly-once under two threads.
fn sanity<S: Stack>() {
    let s = S::with_capacity(CAPACITY);
    for i in 0..CAPACITY as u64 {
        assert!(s.push(i), "{}: push {i} failed below capacity", S::ID);
    }
    assert!(
        !S::BOUNDED || !s.push(0),
        "{}: accepted more than {CAPACITY} items",
        S::ID
    );
    for i in (0..CAPACITY as u64).rev() {
        assert_eq!(s.pop(), Some(i), "{}: not LIFO on one thread", S::ID);
    }
    assert_eq!(s.pop(), None, "{}: popped from an empty stack", S::ID);

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
        #[cfg(feature = "epoch")]
        case::<epoch_stack::EpochStack>(&mut g, group, threads);
        case::<MutexVec>(&mut g, group, threads);
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
