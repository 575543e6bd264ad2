//! Waiting without a lock: the lab's one spin barrier and one spin-wait, both on crossbeam-utils'
//! `Backoff` (spin a little, then yield the core).
//!
//! A real-core demo needs its threads released *together*, within nanoseconds: a blocking
//! barrier wakes them microseconds apart and hides the race being shown. A pure spin, though,
//! burns the time slice of the thread it waits for when threads outnumber cores (a busy machine,
//! a CI runner, a same-core control run), so both back off to `yield_now` after a few rounds.

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::Backoff;

/// A reusable barrier for a fixed number of threads that spins, then yields, while it waits.
#[derive(Debug)]
pub struct SpinBarrier {
    /// Threads that have arrived in the current generation, in `0..threads`.
    arrived: AtomicUsize,
    /// Bumped (wrapping) by the last thread to arrive: it releases the generation's waiters.
    generation: AtomicUsize,
    /// The number of threads that must arrive.
    threads: usize,
}

impl SpinBarrier {
    /// A barrier for `threads` threads.
    ///
    /// # Panics
    /// If `threads` is 0.
    pub fn new(threads: usize) -> Self {
        assert!(threads > 0, "SpinBarrier::new: a barrier needs at least one thread");
        Self {
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            threads,
        }
    }

    /// Waits until all `threads` threads have called `wait` for this generation. Everything a
    /// thread did before its `wait` happens-before everything every thread does after it.
    pub fn wait(&self) {
        // ORDERING: Acquire [barrier-release] — reads the generation before arriving, so the bump below is a new one.
        let generation = self.generation.load(Ordering::Acquire);
        // ORDERING: AcqRel [barrier-arrive] — the last arriver acquires every earlier arriver's work (a release sequence on this counter).
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            // ORDERING: Relaxed [barrier-arrive] — ordered before the Release bump below; nobody arrives again until it.
            self.arrived.store(0, Ordering::Relaxed);
            // ORDERING: Release [barrier-release] — pairs with the waiters' Acquire loads: all work before the barrier is visible after it.
            self.generation.store(generation.wrapping_add(1), Ordering::Release);
        } else {
            // ORDERING: Acquire [barrier-release] — pairs with the last arriver's Release bump.
            spin_until(|| self.generation.load(Ordering::Acquire) != generation);
        }
    }
}

/// Spins until `ready()` returns true: `pause` a few times, doubling, then `yield_now` between
/// polls. Every waiting loop of the real-core demos and of the benches waits this way, so the
/// candidates a bench compares wait alike.
#[inline]
pub fn spin_until(mut ready: impl FnMut() -> bool) {
    let backoff = Backoff::new();
    while !ready() {
        backoff.snooze();
    }
}

/// Polls `ready()` with one `pause` between polls, and yields the core between polls only after
/// [`POLLS_BEFORE_YIELD`] of them in a row: the wait of the latency benches. A waiter notices the
/// change within one `pause` (26–42 ns on an AMD EPYC VM, 8.6 ns on an Intel Xeon VM, family 6
/// model 167: not the ~140 cycles Intel documents for its cores since Skylake), where
/// [`spin_until`]'s doubling `pause` runs (1, 2, 4 … 64 of them) let a change sit unseen for up
/// to 64 `pause`s: a bench that waits that way measures where the change fell in the backoff
/// schedule as much as the queue it times.
#[inline]
pub fn poll_until(mut ready: impl FnMut() -> bool) {
    let mut polls = 0u32;
    while !ready() {
        if polls < POLLS_BEFORE_YIELD {
            polls += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// How many polls [`poll_until`] spins through before it starts yielding: about 100 µs of
/// `pause`s, long after any cross-core handoff, soon enough to give the core back to a thread
/// that a busy machine has descheduled.
pub const POLLS_BEFORE_YIELD: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn poll_until_returns_once_another_thread_makes_it_ready_also_after_it_starts_yielding() {
        let flag = AtomicU64::new(0);
        let mut polls = 0u64;
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                // ORDERING: Release [test-flag] — pairs with the poller's Acquire load (nothing else is published).
                flag.store(1, Ordering::Release);
            });
            poll_until(|| {
                polls += 1;
                // ORDERING: Acquire [test-flag] — pairs with the Release store above.
                flag.load(Ordering::Acquire) == 1
            });
        });
        // ORDERING: Relaxed [test-flag] — after the scope joined the setter: already ordered.
        let set = flag.load(Ordering::Relaxed);
        assert_eq!(set, 1, "poll_until returned before the flag was set");
        assert!(
            polls > u64::from(POLLS_BEFORE_YIELD),
            "20 ms is past the spinning phase: {polls} polls"
        );
    }

    #[test]
    fn no_thread_passes_a_generation_before_every_thread_arrived() {
        const THREADS: usize = 3;
        const ROUNDS: u64 = 2_000;
        let barrier = SpinBarrier::new(THREADS);
        let arrivals = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for round in 1..=ROUNDS {
                        // ORDERING: Relaxed [test-count] — the barrier orders it with the checks below.
                        arrivals.fetch_add(1, Ordering::Relaxed);
                        barrier.wait();
                        // ORDERING: Relaxed [test-count] — after the barrier, every arrival of this round is visible.
                        let seen = arrivals.load(Ordering::Relaxed);
                        assert!(seen >= round * THREADS as u64, "round {round}: only {seen} arrivals");
                        barrier.wait();
                    }
                });
            }
        });
    }

    #[test]
    #[should_panic(expected = "at least one thread")]
    fn a_barrier_of_zero_threads_is_refused() {
        SpinBarrier::new(0);
    }
}
