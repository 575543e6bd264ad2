//! The SPSC ring and the MPMC queue (fixed variants, real atomics) held to the edge cases that bit
//! crossbeam, rtrb and heapless: exact capacity, rejected capacities, ZSTs, FIFO and
//! exactly-once under real threads, exact drop counts, linearizability, prompt `Full`, index
//! wraparound, partial batches, and a `VecDeque` oracle under proptest.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use crossbeam_utils::Backoff;

use lockfree_lab::mpmc::real::fixed::Queue;
use lockfree_lab::spsc::real::fixed::{channel, try_channel};
use lockfree_lab::spsc::{CapacityError, Full};
use proptest::prelude::*;

const CAPACITIES: &[usize] = if cfg!(miri) {
    // Miri interprets every slot access: the small capacities keep it to seconds, and the
    // wrap-around edges (1, 2, 3, 7, 8) are all still there.
    &[1, 2, 3, 7, 8]
} else {
    &[1, 2, 3, 7, 8, 255, 256, 257, 1024]
};

/// `real` on real threads, `miri` under Miri (which interprets every step: a few hundred items
/// still cross between the threads many times, at every capacity).
const fn sized(real: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        real
    }
}

/// The capacities of the batch-copy tests (Miri: without the slow 256).
const COPY_CAPACITIES: &[usize] = if cfg!(miri) {
    &[1, 2, 3, 7, 8]
} else {
    &[1, 2, 3, 7, 8, 256]
};

/// Runs `f` on a thread and fails if it has not returned within 120 s: a hang detector (a spin
/// that never ends), not a timing test — a slow or oversubscribed machine stays far below it.
fn promptly<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    within(120, what, f)
}

/// [`promptly`] with a limit of `secs` seconds.
fn within<R: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} did not return within {secs} s"))
}

/// A payload that counts its drops.
#[derive(Debug)]
struct Tracked(u64, Arc<AtomicUsize>);

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked(self.0, Arc::clone(&self.1))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

fn drops() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

// ---- capacity: exact, rejected, Full promptly, wraparound ----

#[test]
fn spsc_capacity_is_exact_and_full_is_prompt() {
    for &cap in CAPACITIES {
        promptly("spsc fill", move || {
            let (mut tx, mut rx) = channel::<usize>(cap);
            assert_eq!((tx.capacity(), rx.capacity()), (cap, cap));
            for i in 0..cap {
                assert_eq!(tx.push(i), Ok(()), "capacity {cap}: push {i} rejected");
            }
            assert!(tx.is_full() && rx.is_full() && tx.len() == cap);
            assert_eq!(tx.push(99), Err(Full(99)), "capacity {cap}: accepted more than {cap}");
            for i in 0..cap {
                assert_eq!(rx.pop(), Some(i));
            }
            assert_eq!(rx.pop(), None);
            assert!(rx.is_empty() && tx.is_empty());
        });
    }
}

#[test]
fn mpmc_capacity_is_exact_and_full_is_prompt() {
    for &cap in CAPACITIES {
        promptly("mpmc fill", move || {
            let q = Queue::<usize>::new(cap);
            assert_eq!(q.capacity(), cap);
            for i in 0..cap {
                assert_eq!(q.push(i), Ok(()), "capacity {cap}: push {i} rejected");
            }
            assert!(q.is_full() && q.len() == cap);
            assert_eq!(q.push(99), Err(Full(99)), "capacity {cap}: accepted more than {cap}");
            for i in 0..cap {
                assert_eq!(q.pop(), Some(i));
            }
            assert_eq!(q.pop(), None);
            assert!(q.is_empty());
        });
    }
}

#[test]
#[should_panic(expected = "spsc::channel: capacity must be at least 1, got 0")]
fn spsc_capacity_zero_panics_with_the_documented_message() {
    let _ = channel::<u64>(0);
}

#[test]
#[should_panic(expected = "spsc::channel: capacity 18446744073709551615 is too large")]
fn spsc_capacity_usize_max_panics_with_the_documented_message() {
    let _ = channel::<u64>(usize::MAX);
}

#[test]
#[should_panic(expected = "mpmc::Queue::new: capacity must be at least 1, got 0")]
fn mpmc_capacity_zero_panics_with_the_documented_message() {
    let _ = Queue::<u64>::new(0);
}

#[test]
#[should_panic(expected = "mpmc::Queue::new: capacity 18446744073709551615 is too large")]
fn mpmc_capacity_usize_max_panics_with_the_documented_message() {
    let _ = Queue::<u64>::new(usize::MAX);
}

#[test]
fn bad_capacities_are_errors_from_the_fallible_constructors() {
    assert_eq!(try_channel::<u64>(0).unwrap_err(), CapacityError::Zero);
    assert!(matches!(
        try_channel::<u64>(usize::MAX),
        Err(CapacityError::TooLarge { .. })
    ));
    assert!(matches!(
        try_channel::<()>(usize::MAX),
        Err(CapacityError::TooLarge { .. })
    ));
    assert_eq!(Queue::<u64>::try_new(0).unwrap_err(), CapacityError::Zero);
    assert!(matches!(
        Queue::<u64>::try_new(usize::MAX),
        Err(CapacityError::TooLarge { .. })
    ));
    // Within the arithmetic limit but far beyond any memory: an error, not an abort.
    assert_eq!(
        try_channel::<u64>(1 << 59).unwrap_err(),
        CapacityError::AllocationFailed { requested: 1 << 59 }
    );
    assert_eq!(CapacityError::Zero.to_string(), "capacity must be at least 1, got 0");
    assert!(!CapacityError::Zero.to_string().contains('\n'));
}

#[test]
fn indices_wrap_around_many_times() {
    for cap in [1, 2, 3, 7, 8] {
        let (mut tx, mut rx) = channel::<usize>(cap);
        let q = Queue::<usize>::new(cap);
        // Five full laps of the ring (positions run over 2 × capacity in SPSC, over laps in MPMC).
        for i in 0..cap * 10 {
            assert_eq!(tx.push(i), Ok(()));
            assert_eq!(q.push(i), Ok(()));
            if (i + 1) % cap == 0 {
                assert_eq!(tx.push(usize::MAX), Err(Full(usize::MAX)));
                assert_eq!(q.push(usize::MAX), Err(Full(usize::MAX)));
                for j in i + 1 - cap..=i {
                    assert_eq!(rx.pop(), Some(j));
                    assert_eq!(q.pop(), Some(j));
                }
            }
        }
        assert_eq!(rx.pop(), None);
        assert_eq!(q.pop(), None);
    }
}

// ---- zero-sized types ----

#[derive(Debug, PartialEq)]
struct Zst;

static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct DropZst;

impl Drop for DropZst {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn zero_sized_types_work_and_drop() {
    let (mut tx, mut rx) = channel::<Zst>(3);
    let q = Queue::<Zst>::new(3);
    for _ in 0..3 {
        assert!(tx.push(Zst).is_ok());
        assert!(q.push(Zst).is_ok());
    }
    assert!(tx.push(Zst).is_err() && q.push(Zst).is_err());
    assert_eq!((rx.pop(), q.pop()), (Some(Zst), Some(Zst)));
    assert_eq!((rx.len(), q.len()), (2, 2));

    let before = ZST_DROPS.load(Ordering::Relaxed);
    let (mut tx, rx) = channel::<DropZst>(4);
    let q = Queue::<DropZst>::new(4);
    for _ in 0..3 {
        assert!(tx.push(DropZst).is_ok());
        assert!(q.push(DropZst).is_ok());
    }
    drop((tx, rx, q));
    assert_eq!(ZST_DROPS.load(Ordering::Relaxed) - before, 6);
}

/// The largest ring of zero-sized items (`usize::MAX / 4` slots) is built with no per-slot work:
/// a loop over the slots would not end in a debug build.
#[test]
fn spsc_the_largest_ring_of_zero_sized_items_is_built_at_once_and_works() {
    let max = lockfree_lab::spsc::max_capacity(0);
    assert_eq!(max, usize::MAX / 4);
    let drops = within(30, "try_channel::<()>(max_capacity(0))", move || {
        let (mut tx, mut rx) = try_channel::<Zst>(max).expect("zero-sized slots need no memory");
        assert_eq!(tx.capacity(), max);
        for _ in 0..3 {
            assert!(tx.push(Zst).is_ok());
        }
        assert_eq!((rx.pop(), rx.pop(), rx.len()), (Some(Zst), Some(Zst), 1));
        let (mut tx, rx) = try_channel::<DropZst>(max).unwrap();
        for _ in 0..3 {
            assert!(tx.push(DropZst).is_ok());
        }
        assert_eq!(rx.len(), 3);
        let before = ZST_DROPS.load(Ordering::Relaxed);
        drop((tx, rx));
        ZST_DROPS.load(Ordering::Relaxed) - before
    });
    assert_eq!(drops, 3, "the 3 zero-sized items left inside are dropped once each");
}

// ---- FIFO and exactly-once under real threads ----

/// One producer pushes `0..n` (`push` returns false when full), one consumer checks they arrive
/// in order. Waits back off (spin, then yield): a test binary runs tests side by side, and a pure
/// spin on an oversubscribed machine burns the time slice the other side needs.
fn fifo_1p1c(
    cap: usize,
    n: u64,
    mut push: impl FnMut(u64) -> bool + Send,
    mut pop: impl FnMut() -> Option<u64> + Send,
) {
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in 0..n {
                let backoff = Backoff::new();
                while !push(i) {
                    backoff.snooze();
                }
            }
        });
        s.spawn(move || {
            let mut next = 0;
            let backoff = Backoff::new();
            while next < n {
                match pop() {
                    Some(v) => {
                        assert_eq!(v, next, "capacity {cap}: out of order");
                        next += 1;
                        backoff.reset();
                    }
                    None => backoff.snooze(),
                }
            }
        });
    });
}

#[test]
fn spsc_fifo_1p1c_parallel_capacity_1_2_3() {
    for cap in [1, 2, 3] {
        let (mut tx, mut rx) = channel::<u64>(cap);
        fifo_1p1c(cap, sized(50_000, 200), move |v| tx.push(v).is_ok(), move || rx.pop());
    }
}

#[test]
fn mpmc_fifo_1p1c_parallel_capacity_1_2_3() {
    for cap in [1, 2, 3] {
        let q = Queue::<u64>::new(cap);
        fifo_1p1c(cap, sized(50_000, 200), |v| q.push(v).is_ok(), || q.pop());
    }
}

#[test]
fn mpmc_4p4c_every_value_exactly_once() {
    const PER: u64 = sized(20_000, 50);
    let q = Queue::<u64>::new(8);
    let popped = AtomicUsize::new(0);
    let total = 4 * PER as usize;
    let seen: Vec<Vec<u64>> = std::thread::scope(|s| {
        for p in 0..4u64 {
            let q = &q;
            s.spawn(move || {
                for i in 0..PER {
                    while q.push(p * PER + i).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    while popped.load(Ordering::Relaxed) < total {
                        match q.pop() {
                            Some(v) => {
                                got.push(v);
                                popped.fetch_add(1, Ordering::Relaxed);
                            }
                            None => std::thread::yield_now(),
                        }
                    }
                    got
                })
            })
            .collect();
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    // Per producer, values arrive at each consumer in push order (a consumer's pops are ordered).
    for got in &seen {
        let mut last = [None::<u64>; 4];
        for &v in got {
            let p = (v / PER) as usize;
            assert!(last[p].is_none_or(|l| l < v), "producer {p}'s values out of order");
            last[p] = Some(v);
        }
    }
    let mut all: Vec<u64> = seen.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (0..4 * PER).collect::<Vec<_>>(), "a value was lost or duplicated");
    assert_eq!(q.pop(), None);
}

// ---- linearizability ----

#[test]
fn spsc_a_push_is_immediately_poppable() {
    let (mut tx, mut rx) = channel::<u32>(1);
    for i in 0..1000 {
        tx.push(i).unwrap();
        assert_eq!(rx.pop(), Some(i));
    }
}

#[test]
fn mpmc_a_thread_that_just_pushed_can_pop() {
    let q = Queue::<u64>::new(4);
    let start = Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (q, start) = (&q, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..sized(20_000, 50) {
                    q.push(t * 1_000_000 + i).unwrap();
                    assert!(q.pop().is_some(), "pop after push found the queue empty");
                }
            });
        }
    });
}

#[test]
fn mpmc_pop_then_push_on_a_full_queue_never_reports_full() {
    let q = Queue::<u64>::new(4);
    for i in 0..4 {
        q.push(i).unwrap();
    }
    let start = Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (q, start) = (&q, &start);
            s.spawn(move || {
                start.wait();
                for _ in 0..sized(20_000, 50) {
                    let v = q.pop().expect("a full queue popped empty");
                    assert_eq!(q.push(v), Ok(()), "push right after a pop reported Full");
                }
            });
        }
    });
    assert!(q.is_full());
}

#[test]
fn spsc_pop_then_push_on_a_full_ring_never_reports_full() {
    for cap in [1, 2, 3] {
        let (mut tx, mut rx) = channel::<usize>(cap);
        for i in 0..cap {
            tx.push(i).unwrap();
        }
        for i in 0..100 {
            assert!(rx.pop().is_some());
            assert_eq!(tx.push(i), Ok(()), "capacity {cap}: full after a pop");
        }
    }
}

// ---- drops ----

#[test]
fn spsc_drops_every_item_once_including_those_left_inside() {
    for producer_first in [true, false] {
        let d = drops();
        let (mut tx, mut rx) = channel::<Tracked>(4);
        for i in 0..4 {
            tx.push(Tracked(i, d.clone())).unwrap();
        }
        let rejected = tx.push(Tracked(9, d.clone())).unwrap_err();
        drop(rejected);
        drop(rx.pop());
        assert_eq!(d.load(Ordering::Relaxed), 2);
        // Drop the halves on two other threads, in either order.
        if producer_first {
            std::thread::spawn(move || drop(tx)).join().unwrap();
            assert_eq!(d.load(Ordering::Relaxed), 2, "dropping one half dropped items");
            std::thread::spawn(move || drop(rx)).join().unwrap();
        } else {
            std::thread::spawn(move || drop(rx)).join().unwrap();
            assert_eq!(d.load(Ordering::Relaxed), 2, "dropping one half dropped items");
            std::thread::spawn(move || drop(tx)).join().unwrap();
        }
        assert_eq!(
            d.load(Ordering::Relaxed),
            5,
            "3 items left inside must be dropped once each"
        );
    }
}

#[test]
fn mpmc_drops_every_item_once_including_those_left_inside() {
    let d = drops();
    let q = Queue::<Tracked>::new(3);
    for lap in 0..3 {
        for i in 0..3 {
            q.push(Tracked(lap * 3 + i, d.clone())).unwrap();
        }
        drop(q.push(Tracked(99, d.clone())).unwrap_err());
        drop(q.pop());
        drop(q.pop());
        drop(q.pop());
    }
    assert_eq!(d.load(Ordering::Relaxed), 12);
    q.push(Tracked(10, d.clone())).unwrap();
    q.push(Tracked(11, d.clone())).unwrap();
    drop(q);
    assert_eq!(d.load(Ordering::Relaxed), 14);
}

/// The last half is dropped by a thread that is unwinding a panic: the items left inside are
/// still dropped (as rtrb and std's collections do), whichever half goes last.
#[test]
fn spsc_the_last_half_dropped_while_unwinding_drops_the_items_inside() {
    for consumer_last in [false, true] {
        let d = drops();
        let (mut tx, rx) = channel::<Tracked>(4);
        for i in 0..3 {
            tx.push(Tracked(i, d.clone())).unwrap();
        }
        let last: Box<dyn std::any::Any + Send> = if consumer_last {
            drop(tx);
            Box::new(rx)
        } else {
            drop(rx);
            Box::new(tx)
        };
        let unwound = std::thread::spawn(move || {
            let _last = last;
            panic!("the thread holding the last half panics");
        })
        .join();
        assert!(unwound.is_err());
        assert_eq!(
            d.load(Ordering::Relaxed),
            3,
            "the 3 items left inside must be dropped once each (consumer last: {consumer_last})"
        );
    }
}

#[test]
fn mpmc_a_queue_dropped_while_unwinding_drops_the_items_inside() {
    let d = drops();
    let q = Queue::<Tracked>::new(4);
    for i in 0..3 {
        q.push(Tracked(i, d.clone())).unwrap();
    }
    let unwound = std::thread::spawn(move || {
        let _q = q;
        panic!("the thread holding the queue panics");
    })
    .join();
    assert!(unwound.is_err());
    assert_eq!(
        d.load(Ordering::Relaxed),
        3,
        "the 3 items left inside must be dropped once each"
    );
}

/// An item whose `drop` panics (number 1), among 4 items left in a ring whose contents wrap
/// around the end of the slot array.
struct PanicsOnDrop(u64, Arc<AtomicUsize>);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
        assert!(self.0 != 1, "the drop of item 1 panics");
    }
}

#[test]
fn spsc_an_item_whose_drop_panics_does_not_leak_the_others() {
    let d = drops();
    let (mut tx, mut rx) = channel::<PanicsOnDrop>(4);
    // Move the positions on by 2, so that items 0..4 sit in slots 2, 3, 0, 1.
    for i in [10, 11] {
        tx.push(PanicsOnDrop(i, d.clone())).unwrap();
        drop(rx.pop());
    }
    for i in 0..4 {
        tx.push(PanicsOnDrop(i, d.clone())).unwrap();
    }
    let before = d.load(Ordering::Relaxed);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop((tx, rx))));
    assert!(r.is_err(), "the panic of item 1's drop goes on");
    assert_eq!(
        d.load(Ordering::Relaxed) - before,
        4,
        "items 0..4 must all be dropped, the one that panicked and the ones after it"
    );
}

#[test]
fn mpmc_an_item_whose_drop_panics_does_not_leak_the_others() {
    let d = drops();
    let q = Queue::<PanicsOnDrop>::new(4);
    for i in [10, 11] {
        q.push(PanicsOnDrop(i, d.clone())).unwrap();
        drop(q.pop());
    }
    for i in 0..4 {
        q.push(PanicsOnDrop(i, d.clone())).unwrap();
    }
    let before = d.load(Ordering::Relaxed);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(q)));
    assert!(r.is_err(), "the panic of item 1's drop goes on");
    assert_eq!(
        d.load(Ordering::Relaxed) - before,
        4,
        "items 0..4 must all be dropped, the one that panicked and the ones after it"
    );
}

// ---- misuse of a checker's ring outside its checker: one panic, never an abort ----

/// Runs the ignored test `name` of this test binary in a child process and checks that it
/// passed: an abort (a panic while unwinding) would kill the child with SIGABRT, and it would
/// kill this whole test binary if it ran here.
fn passes_in_a_child_process(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a child process: {} (an abort is a signal, a failed test exit status 101)\n\
         stdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A shuttle ring used outside shuttle: the push panics (shuttle's own message); the halves are
/// dropped while that panic unwinds and must not touch shuttle again.
#[test]
#[ignore = "the child process of spsc_shuttle_ring_used_outside_shuttle_panics_once_and_never_aborts"]
#[should_panic(expected = "Are you accessing a Shuttle primitive outside of a Shuttle test?")]
fn child_spsc_shuttle_ring_used_outside_shuttle() {
    let (mut tx, rx) = lockfree_lab::spsc::shuttle::fixed::channel::<u64>(2);
    let _rx = rx;
    let _ = tx.push(1);
}

/// The same with a plain panic while both halves (one with an item inside) are alive.
#[test]
#[ignore = "the child process of spsc_shuttle_ring_used_outside_shuttle_panics_once_and_never_aborts"]
#[should_panic(expected = "a panic while a shuttle ring is alive")]
fn child_spsc_shuttle_ring_alive_during_a_panic() {
    let (tx, rx) = lockfree_lab::spsc::shuttle::fixed::channel::<u64>(2);
    let _halves = (tx, rx);
    panic!("a panic while a shuttle ring is alive");
}

/// The MPMC queue, likewise.
#[test]
#[ignore = "the child process of mpmc_shuttle_queue_used_outside_shuttle_panics_once_and_never_aborts"]
#[should_panic(expected = "Are you accessing a Shuttle primitive outside of a Shuttle test?")]
fn child_mpmc_shuttle_queue_used_outside_shuttle() {
    let q = lockfree_lab::mpmc::shuttle::fixed::Queue::<u64>::new(2);
    let _ = q.push(1);
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn a process")]
fn spsc_shuttle_ring_used_outside_shuttle_panics_once_and_never_aborts() {
    passes_in_a_child_process("child_spsc_shuttle_ring_used_outside_shuttle");
    passes_in_a_child_process("child_spsc_shuttle_ring_alive_during_a_panic");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn a process")]
fn mpmc_shuttle_queue_used_outside_shuttle_panics_once_and_never_aborts() {
    passes_in_a_child_process("child_mpmc_shuttle_queue_used_outside_shuttle");
}

// ---- batches: partial commits ----

#[test]
fn spsc_push_iter_stops_at_full_and_keeps_the_rest() {
    let d = drops();
    let (mut tx, mut rx) = channel::<Tracked>(3);
    tx.push(Tracked(0, d.clone())).unwrap();
    let mut items = (1..=5).map(|i| Tracked(i, d.clone()));
    assert_eq!(tx.push_iter(&mut items), 2, "room for 2");
    // Nothing was taken from the iterator without a slot for it.
    assert_eq!(items.next().map(|t| t.0), Some(3));
    assert_eq!(d.load(Ordering::Relaxed), 1, "only item 3, taken by us, was dropped");
    drop(items); // 4 and 5 were never produced
    let got: Vec<u64> = std::iter::from_fn(|| rx.pop()).map(|t| t.0).collect();
    assert_eq!(got, vec![0, 1, 2]);
    assert_eq!(d.load(Ordering::Relaxed), 4);
    drop((tx, rx));
    assert_eq!(d.load(Ordering::Relaxed), 4);
}

#[test]
fn spsc_push_slice_that_panics_midway_commits_the_items_it_moved() {
    struct Bomb(u32, Arc<AtomicUsize>);
    impl Clone for Bomb {
        fn clone(&self) -> Self {
            assert!(self.0 != 3, "clone of 3 panics");
            Bomb(self.0, self.1.clone())
        }
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }
    let d = drops();
    let source: Vec<Bomb> = (1..=4).map(|i| Bomb(i, d.clone())).collect();
    let (mut tx, mut rx) = channel::<Bomb>(8);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.push_slice(&source)));
    assert!(r.is_err());
    // 1 and 2 were moved in and published before the panic; nothing else was.
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.pop().map(|b| b.0), Some(1));
    assert_eq!(rx.pop().map(|b| b.0), Some(2));
    assert!(rx.pop().is_none());
    assert_eq!(d.load(Ordering::Relaxed), 2);
    drop(source);
    drop((tx, rx));
    assert_eq!(d.load(Ordering::Relaxed), 6);
}

#[test]
fn spsc_read_chunk_taken_partly_keeps_the_rest_in_the_ring() {
    let d = drops();
    let (mut tx, mut rx) = channel::<Tracked>(4);
    assert_eq!(tx.push_iter((0..4).map(|i| Tracked(i, d.clone()))), 4);
    {
        let mut chunk = rx.pop_chunk(3);
        assert_eq!(chunk.len(), 3);
        assert_eq!(chunk.next().map(|t| t.0), Some(0));
        assert_eq!(chunk.next().map(|t| t.0), Some(1));
        // the chunk is dropped with item 2 not taken
    }
    assert_eq!(d.load(Ordering::Relaxed), 2);
    assert_eq!(rx.len(), 2);
    assert_eq!(tx.len(), 2, "the producer sees the two freed slots");
    assert_eq!(tx.push_slice(&[Tracked(4, d.clone()), Tracked(5, d.clone())]), 2);
    assert_eq!(
        d.load(Ordering::Relaxed),
        4,
        "the two originals of the slice are dropped"
    );
    let got: Vec<u64> = rx.pop_chunk(10).map(|t| t.0).collect();
    assert_eq!(got, vec![2, 3, 4, 5]);
    assert_eq!(d.load(Ordering::Relaxed), 8);
}

#[test]
fn spsc_forgotten_read_chunk_never_double_drops() {
    let d = drops();
    let (mut tx, mut rx) = channel::<Tracked>(4);
    tx.push_iter((0..3).map(|i| Tracked(i, d.clone())));
    let mut chunk = rx.pop_chunk(2);
    let first = chunk.next().unwrap();
    std::mem::forget(chunk);
    drop(first);
    assert_eq!(d.load(Ordering::Relaxed), 1);
    drop((tx, rx));
    assert_eq!(
        d.load(Ordering::Relaxed),
        3,
        "items 1 and 2 dropped once, item 0 not again"
    );
}

// ---- the `T: Copy` batch copies ----

/// Pushes `0..total` in batches of `batch` through a ring of `cap` with `push_copy_slice` and
/// `pop_copy_slice` (both halves on this thread, the producer running ahead by up to `cap`),
/// checking each call's count and the order.
fn copy_slices_round_trip(cap: usize, batch: usize, total: u64) {
    let (mut tx, mut rx) = channel::<u64>(cap);
    let (mut next_in, mut next_out) = (0u64, 0u64);
    let mut buf = vec![u64::MAX; batch];
    while next_out < total {
        let src: Vec<u64> = (next_in..total.min(next_in + batch as u64)).collect();
        let free = cap - tx.len();
        let pushed = tx.push_copy_slice(&src);
        assert_eq!(pushed, src.len().min(free), "cap {cap}: push_copy_slice count");
        next_in += pushed as u64;
        let ready = rx.len();
        let popped = rx.pop_copy_slice(&mut buf);
        assert_eq!(popped, ready.min(batch), "cap {cap}: pop_copy_slice count");
        for &v in &buf[..popped] {
            assert_eq!(v, next_out, "cap {cap}, batch {batch}: out of order");
            next_out += 1;
        }
    }
    assert!(rx.is_empty() && tx.is_empty());
}

#[test]
fn spsc_copy_slices_wrap_around_at_capacities_1_2_3_7_8_256() {
    for &cap in COPY_CAPACITIES {
        for batch in [1, 2, 3, cap.saturating_sub(1).max(1), cap, cap + 1, 2 * cap + 3] {
            // At least 3 full wraps of the positions (which run over 2 * cap).
            copy_slices_round_trip(cap, batch, (8 * cap + 5) as u64);
        }
    }
}

#[test]
fn spsc_copy_slices_partial_fills_return_what_fit_and_what_was_ready() {
    for &cap in COPY_CAPACITIES {
        let (mut tx, mut rx) = channel::<u32>(cap);
        let src: Vec<u32> = (0..2 * cap as u32 + 1).collect();
        // Offset the positions so that the copies below wrap the slot array.
        let offset = cap / 2 + 1;
        for i in 0..offset {
            tx.push(i as u32).unwrap();
            assert_eq!(rx.pop(), Some(i as u32));
        }
        assert_eq!(tx.push_copy_slice(&[]), 0);
        assert_eq!(
            tx.push_copy_slice(&src),
            cap,
            "cap {cap}: a push into an empty ring fills it"
        );
        assert_eq!(
            tx.push_copy_slice(&src),
            0,
            "cap {cap}: a push into a full ring moves nothing"
        );
        let mut out = vec![u32::MAX; 2 * cap + 1];
        assert_eq!(rx.pop_copy_slice(&mut out[..0]), 0);
        assert_eq!(
            rx.pop_copy_slice(&mut out),
            cap,
            "cap {cap}: pop takes every ready item"
        );
        assert_eq!(&out[..cap], &src[..cap]);
        assert_eq!(out[cap], u32::MAX, "cap {cap}: pop wrote past the items it took");
        assert_eq!(rx.pop_copy_slice(&mut out), 0, "cap {cap}: pop from an empty ring");
        // Half full, then a push of more than the free room.
        let half = cap.div_ceil(2);
        assert_eq!(tx.push_copy_slice(&src[..half]), half);
        assert_eq!(tx.push_copy_slice(&src[half..]), cap - half);
        assert_eq!(rx.pop_copy_slice(&mut out[..1]), 1);
        assert_eq!(out[0], 0);
        assert_eq!(rx.pop_copy_slice(&mut out), cap - 1);
        assert_eq!(&out[..cap - 1], &src[1..cap]);
    }
}

#[test]
fn spsc_copy_slices_interleave_with_per_item_push_and_pop() {
    for &cap in COPY_CAPACITIES {
        let (mut tx, mut rx) = channel::<u64>(cap);
        let mut model = VecDeque::new();
        let mut next = 0u64;
        let mut buf = vec![0u64; cap + 2];
        for round in 0..(6 * cap + 10) {
            let k = round % (cap + 2);
            if round % 2 == 0 {
                let src: Vec<u64> = (next..next + k as u64).collect();
                let n = tx.push_copy_slice(&src);
                assert_eq!(n, k.min(cap - model.len()));
                model.extend(&src[..n]);
                next += n as u64;
                if tx.push(next).is_ok() {
                    model.push_back(next);
                    next += 1;
                }
            } else {
                assert_eq!(rx.pop(), model.pop_front());
                let n = rx.pop_copy_slice(&mut buf[..k]);
                assert_eq!(n, k.min(model.len()));
                for &v in &buf[..n] {
                    assert_eq!(Some(v), model.pop_front());
                }
            }
            assert_eq!(rx.len(), model.len());
        }
        // The other APIs see what the copies left: drain with a chunk.
        let rest: Vec<u64> = rx.pop_chunk(cap).collect();
        assert_eq!(rest, Vec::from(model));
    }
}

#[test]
fn spsc_copy_slices_across_threads_keep_fifo_order() {
    for cap in [1usize, 3, 8, 256] {
        promptly("copy slices across threads", move || {
            let (mut tx, mut rx) = channel::<u64>(cap);
            const N: u64 = sized(100_000, 300);
            let producer = std::thread::spawn(move || {
                let mut next = 0u64;
                let backoff = Backoff::new();
                while next < N {
                    let src: Vec<u64> = (next..N.min(next + 5)).collect();
                    match tx.push_copy_slice(&src) {
                        0 => backoff.snooze(),
                        n => {
                            next += n as u64;
                            backoff.reset();
                        }
                    }
                }
            });
            let mut buf = [0u64; 7];
            let mut expected = 0u64;
            let backoff = Backoff::new();
            while expected < N {
                let n = rx.pop_copy_slice(&mut buf);
                if n == 0 {
                    backoff.snooze();
                    continue;
                }
                backoff.reset();
                for &v in &buf[..n] {
                    assert_eq!(v, expected, "cap {cap}: out of order");
                    expected += 1;
                }
            }
            producer.join().unwrap();
        });
    }
}

// ---- a VecDeque oracle ----

#[derive(Clone, Debug)]
enum Op {
    Push(u16),
    Pop,
    PushSlice(Vec<u16>),
    PopChunk(usize, usize),
    PushCopySlice(Vec<u16>),
    PopCopySlice(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Push),
        Just(Op::Pop),
        prop::collection::vec(any::<u16>(), 0..6).prop_map(Op::PushSlice),
        (0usize..6, 0usize..6).prop_map(|(max, take)| Op::PopChunk(max, take)),
        prop::collection::vec(any::<u16>(), 0..8).prop_map(Op::PushCopySlice),
        (0usize..8).prop_map(Op::PopCopySlice),
    ]
}

proptest! {
    #[test]
    fn spsc_behaves_like_a_bounded_vecdeque(cap in 1usize..6, ops in prop::collection::vec(op(), 0..80)) {
        let (mut tx, mut rx) = channel::<u16>(cap);
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(v) => {
                    let expected = if model.len() < cap { model.push_back(v); Ok(()) } else { Err(Full(v)) };
                    prop_assert_eq!(tx.push(v), expected);
                }
                Op::Pop => prop_assert_eq!(rx.pop(), model.pop_front()),
                Op::PushSlice(vs) => {
                    let n = vs.len().min(cap - model.len());
                    model.extend(&vs[..n]);
                    prop_assert_eq!(tx.push_slice(&vs), n);
                }
                Op::PopChunk(max, take) => {
                    let mut chunk = rx.pop_chunk(max);
                    let len = max.min(model.len());
                    prop_assert_eq!(chunk.len(), len);
                    for k in 0..take {
                        let expected = if k < len { model.pop_front() } else { None };
                        prop_assert_eq!(chunk.next(), expected);
                    }
                }
                Op::PushCopySlice(vs) => {
                    let n = vs.len().min(cap - model.len());
                    model.extend(&vs[..n]);
                    prop_assert_eq!(tx.push_copy_slice(&vs), n);
                }
                Op::PopCopySlice(max) => {
                    let mut buf = vec![0u16; max];
                    let n = max.min(model.len());
                    prop_assert_eq!(rx.pop_copy_slice(&mut buf), n);
                    let expected: Vec<u16> = model.drain(..n).collect();
                    prop_assert_eq!(&buf[..n], &expected[..]);
                }
            }
            prop_assert_eq!(tx.len(), model.len());
            prop_assert_eq!(rx.len(), model.len());
            prop_assert_eq!(rx.is_empty(), model.is_empty());
            prop_assert_eq!(tx.is_full(), model.len() == cap);
        }
    }

    #[test]
    fn mpmc_behaves_like_a_bounded_vecdeque(cap in 1usize..6, ops in prop::collection::vec(op(), 0..80)) {
        let q = Queue::<u16>::new(cap);
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(v) => {
                    let expected = if model.len() < cap { model.push_back(v); Ok(()) } else { Err(Full(v)) };
                    prop_assert_eq!(q.push(v), expected);
                }
                Op::Pop | Op::PopChunk(..) => prop_assert_eq!(q.pop(), model.pop_front()),
                Op::PopCopySlice(max) => {
                    for _ in 0..max {
                        prop_assert_eq!(q.pop(), model.pop_front());
                    }
                }
                Op::PushSlice(vs) | Op::PushCopySlice(vs) => {
                    for v in vs {
                        let expected = if model.len() < cap { model.push_back(v); Ok(()) } else { Err(Full(v)) };
                        prop_assert_eq!(q.push(v), expected);
                    }
                }
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_empty(), model.is_empty());
            prop_assert_eq!(q.is_full(), model.len() == cap);
        }
    }
}
