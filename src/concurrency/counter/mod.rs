//! # CAS counter: the lost update, and the compare-and-swap retry loop
//!
//! Many threads add one to a shared count. The lesson: a read-modify-write must be **one**
//! atomic step. No memory ordering helps a load followed by a store; atomicity does.
//!
//! ## The pair (`diff src/concurrency/counter/broken.rs src/concurrency/counter/fixed.rs`)
//!
//! | method          | broken                                   | fixed                                     |
//! |-----------------|------------------------------------------|-------------------------------------------|
//! | `increment`     | `load`, then `store(seen + 1)`           | `fetch_add(1)`                            |
//! | `increment_cas` | new value computed once, before the loop | new value recomputed from each CAS failure |
//!
//! `increment_cas` returns its **retries**: how many times its CAS found a value another thread
//! had just written. That count is the CAS loop made observable (the seed's "CAS retry loop").
//!
//! ## Synchronization edges
//!
//! None. The count publishes no other memory, so every access is `Relaxed`; correctness comes
//! from the atomicity of `fetch_add` and `compare_exchange`, which act on the latest value in the
//! modification order of the counter whatever their ordering.
//!
//! ## The failing interleaving (broken `increment`)
//!
//! 1. T1 loads 0.
//! 2. T2 loads 0.
//! 3. T2 stores 1.
//! 4. T1 stores 1: T2's increment is overwritten. Two increments, count 1.
//!
//! Broken `increment_cas`: T1 loads 0 and computes `next = 1`; T2 increments to 1; T1's CAS
//! fails, reloads `current = 1`, retries with the stale `next = 1` and succeeds: count 1. Worse,
//! on real cores the stale `next` can be far behind: the retry moves the counter *backwards*,
//! erasing every increment the other thread made meanwhile (the lab shows ~40 % lost).
//!
//! ## Who sees it
//!
//! | checker          | verdict                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | loom             | found within a handful of executions (an interleaving bug)            |
//! | shuttle (random, PCT) | found: it is an interleaving bug, and shuttle explores interleavings |
//! | real x86 cores   | found, *if* the threads really run at the same time: start them together (a barrier) and pin them; `examples/01-counter-lost-update.rs` |
//!
//! Sources: Herlihy & Shavit, *The Art of Multiprocessor Programming*, ch. 5 (consensus and
//! read-modify-write); Mara Bos, *Rust Atomics and Locks*, ch. 2 ("compare-and-exchange").

pub mod demo;

backends! {
    /// The broken counter: lost updates.
    broken => "broken.rs",
    /// The fixed counter.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom, shuttle and real threads.
    scenario => "scenario.rs",
}

/// What the scenarios need of a counter, implemented by each variant on each backend.
pub trait Count: Default + Send + Sync + 'static {
    /// `increment`; returns 0 (no retries to report).
    fn increment_once(&self) -> u64;
    /// `increment_cas`; returns the retries.
    fn increment_cas(&self) -> u64;
    /// The current count.
    fn get(&self) -> u64;
    /// `name_locations`.
    fn name_locations(&self);
}

macro_rules! impl_count {
    ($($ty:ty),+) => {$(
        impl Count for $ty {
            fn increment_once(&self) -> u64 {
                self.increment();
                0
            }
            fn increment_cas(&self) -> u64 {
                <$ty>::increment_cas(self)
            }
            fn get(&self) -> u64 {
                <$ty>::get(self)
            }
            fn name_locations(&self) {
                <$ty>::name_locations(self)
            }
        }
    )+};
}
impl_count!(
    real::broken::Counter,
    real::fixed::Counter,
    loom::broken::Counter,
    loom::fixed::Counter,
    shuttle::broken::Counter,
    shuttle::fixed::Counter
);

/// Which variant a real-hardware run uses: the crate-wide switch.
pub use crate::Variant;

/// Which increment a real-hardware run calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Method {
    /// `increment`: load+store (broken) or `fetch_add` (fixed).
    Increment,
    /// `increment_cas`: the CAS retry loop.
    Cas,
}

/// What one real-hardware counter run did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Increments performed in total (`threads × iterations`).
    pub expected: u64,
    /// The final count.
    pub counted: u64,
    /// Failed CAS attempts in total (0 for `increment`).
    pub retries: u64,
    /// How much the threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

impl CoreRun {
    /// Increments that vanished.
    pub fn lost(&self) -> u64 {
        self.expected - self.counted
    }
}

/// Runs `threads` threads that each increment one shared counter `iterations` times, started
/// together by a barrier (without it, one thread often finishes before the next starts and
/// nothing is lost).
pub fn run_on_cores(variant: Variant, method: Method, threads: usize, iterations: u64, pin: crate::hw::Pin) -> CoreRun {
    fn go<C: Count>(method: Method, threads: usize, iterations: u64, pin: crate::hw::Pin) -> CoreRun {
        let counter = C::default();
        let (retries, parallelism) = crate::hw::run_threads(threads, pin, |_| {
            let mut retries = 0;
            for _ in 0..iterations {
                retries += match method {
                    Method::Increment => counter.increment_once(),
                    Method::Cas => counter.increment_cas(),
                };
            }
            retries
        });
        CoreRun {
            expected: threads as u64 * iterations,
            counted: counter.get(),
            retries: retries.iter().sum(),
            parallelism,
        }
    }
    match variant {
        Variant::Broken => go::<real::broken::Counter>(method, threads, iterations, pin),
        Variant::Fixed => go::<real::fixed::Counter>(method, threads, iterations, pin),
    }
}
