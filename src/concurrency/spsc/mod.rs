//! # SPSC ring: Release/Acquire on the two indices is the whole protocol
//!
//! A bounded single-producer single-consumer ring buffer (the design of rtrb and of Erik
//! Rigtorp's `SPSCQueue`). The producer owns `tail` and writes slots; the consumer owns `head` and
//! reads them. The payloads are plain memory (`UnsafeCell<MaybeUninit<T>>`): **the only thing that
//! makes a slot write visible to the reader, and a slot read finished before the next write, is
//! the ordering on the two indices.** The lesson: where the data is not atomic, the index that
//! guards it must carry the happens-before edge.
//!
//! ```
//! use lockfree_lab::spsc::{real::fixed::channel, Full};
//! let (mut tx, mut rx) = channel(2);
//! tx.push(1).unwrap();
//! tx.push(2).unwrap();
//! assert_eq!(tx.push(3), Err(Full(3))); // the rejected value comes back
//! assert_eq!(rx.pop(), Some(1));
//! assert_eq!(tx.push_slice(&[4, 5]), 1); // a batch: one index store for all it pushed
//! assert_eq!(rx.pop_chunk(8).collect::<Vec<_>>(), vec![2, 4]);
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! The type split is the "single" in single-producer: each half is `Send` but neither is `Sync`
//! nor `Clone`, so two threads can never push (or pop) at once:
//! ```compile_fail,E0277
//! fn shared<T: Sync>(_: &T) {}
//! let (tx, _rx) = lockfree_lab::spsc::real::fixed::channel::<u64>(4);
//! shared(&tx); // error: `Producer<u64>` is not `Sync`
//! ```
//! ```compile_fail,E0599
//! let (tx, _rx) = lockfree_lab::spsc::real::fixed::channel::<u64>(4);
//! let _second = tx.clone(); // error: `Producer` is not `Clone`
//! ```
//! ```compile_fail,E0277
//! fn shared<T: Sync>(_: &T) {}
//! let (_tx, rx) = lockfree_lab::spsc::real::fixed::channel::<u64>(4);
//! shared(&rx); // error: `Consumer<u64>` is not `Sync`
//! ```
//!
//! ## Design
//! - **Positions run over `0..2 × capacity`** (rtrb's trick): `tail − head` is 0 when empty and
//!   `capacity` when full, so every slot is usable and any capacity ≥ 1 works (no power of two,
//!   no wasted slot); [`check_capacity`] rejects 0 and capacities whose slots cannot fit the
//!   address space.
//! - **`head` and `tail` sit on separate cache lines** (`crossbeam_utils::CachePadded`), so the
//!   producer's stores do not invalidate the line the consumer polls, and vice versa.
//! - **Each half caches the other's index** (Rigtorp's optimization): the producer reloads `head`
//!   only when its cached copy says "full", the consumer reloads `tail` only when its copy says
//!   "empty". In steady state a push touches only the producer's own line.
//! - **Batches** (`push_iter` / `push_slice`, `pop_chunk`) move many items and publish the index
//!   once. A batch cut short (the ring fills, the iterator panics, a chunk is dropped half-read)
//!   publishes exactly the items it moved; the others stay where they were.
//! - Either half may be dropped first, on any thread: the state lives in an `Arc`, and the last
//!   drop drops the items still inside, once each — also while its thread unwinds a panic, and
//!   also when one item's `drop` panics (a guard drops the rest, as std's collections do). Only
//!   under a model checker does a half dropped while unwinding leak the ring instead: touching
//!   the checker's state then could panic again and abort the test binary (see
//!   `DRAIN_WHILE_UNWINDING` in the sync layer).
//! - Building a ring costs one allocation and no per-slot work (on real hardware), so even
//!   [`max_capacity`]`(0)` zero-sized slots are instant.
//!
//! ## Synchronization edges
//!
//! | edge             | Release (writer)                          | Acquire (reader)                           | guarantees |
//! |------------------|-------------------------------------------|--------------------------------------------|------------|
//! | `[tail-publish]` | producer stores `tail` after writing slots | consumer loads `tail` before reading slots | a slot read sees the item written into it |
//! | `[head-publish]` | consumer stores `head` after reading slots | producer loads `head` before writing slots | a slot is not overwritten while it is read |
//!
//! ## The broken variant (`diff src/concurrency/spsc/broken.rs src/concurrency/spsc/fixed.rs`)
//! **(a) Relaxed `tail`.** The producer publishes `tail` with Relaxed and the consumer loads it
//! with Relaxed:
//! 1. producer writes item 7 into slot 0;
//! 2. producer stores `tail = 1` (Relaxed);
//! 3. consumer loads `tail` → 1 (Relaxed: no happens-before edge with step 1);
//! 4. consumer reads slot 0 — a read **concurrent** with the write of step 1: it may see the old
//!    bytes. loom reports `Causality violation: Concurrent read and write accesses`.
//!
//! **(b) Relaxed `head` load.** The producer loads `head` with Relaxed (capacity 1, item 1 inside):
//! 1. consumer reads item 1 out of slot 0;
//! 2. consumer stores `head = 1` (Release, but nobody acquires it);
//! 3. producer loads `head` → 1 (Relaxed), so the ring looks free;
//! 4. producer writes item 2 into slot 0 — **concurrent** with the read of step 1: on a weak CPU
//!    the consumer's load may be satisfied after the producer's store and return item 2.
//!    loom reports the same causality violation, on the producer's write.
//!
//! ## Who sees it
//!
//! | checker        | (a) Relaxed `tail`                         | (b) Relaxed `head` load                    |
//! |----------------|--------------------------------------------|--------------------------------------------|
//! | loom           | found: causality violation on the slot read | found: causality violation on the slot write |
//! | shuttle        | **blind**: it models every atomic as SeqCst, and a slot access never spans a scheduling point, so its cell check cannot fire | **blind**, same reasons |
//! | real x86-64    | never: TSO keeps the producer's stores, and the consumer's loads, in order; Release and Acquire compile to plain `mov`s | never: x86 does not let a store pass an earlier load |
//!
//! Both bugs are data races on non-atomic memory, i.e. undefined behaviour on real threads, so the
//! broken ring is compiled only for the checkers (`loom::broken`, `shuttle::broken`; there is no
//! `real::broken`): under loom the race is reported before the access happens, and shuttle runs
//! one thread at a time. Only the checkers can build it:
//! ```
//! let _in_a_loom_model = lockfree_lab::spsc::loom::broken::channel::<u64>; // exists (call it in `loom::model`)
//! ```
//! ```compile_fail,E0433
//! let (_tx, _rx) = lockfree_lab::spsc::real::broken::channel::<u64>(1); // error: no `real::broken`
//! ```
//!
//! `examples/03-spsc-relaxed-publish.rs` runs the fixed ring on your cores, checks FIFO
//! order, and prints why x86 would not show the bug; the loom tests show it:
//! `cargo test --test model spsc::loom_broken`.
//!
//! Sources: Erik Rigtorp, `SPSCQueue` (cached indices on separate cache lines); the rtrb crate
//! (positions over twice the capacity, `Producer`/`Consumer` halves, chunked reads and writes);
//! Mara Bos, *Rust Atomics and Locks*, ch. 5 (a one-shot channel: Release/Acquire on a ready flag
//! guarding an `UnsafeCell`); Sewell et al., "x86-TSO" (CACM 2010).

pub(crate) use crate::ring::CachePadded;
pub use crate::ring::{check_capacity, max_capacity, CapacityError, Full};

pub mod demo;

backends! {
    /// The fixed ring.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs";
    checkers only:
    /// The broken ring: Relaxed `tail` (a) and Relaxed `head` load (b). A data race on the slots,
    /// so it exists only under loom and shuttle; there is no `real::broken`.
    broken => "broken.rs",
}

/// What the model scenarios need of a producer half.
pub trait Push<T>: Send + 'static {
    /// `push`.
    fn push(&mut self, value: T) -> Result<(), Full<T>>;
}

/// What the model scenarios need of a consumer half.
pub trait Pop<T>: Send + 'static {
    /// `pop`.
    fn pop(&mut self) -> Option<T>;
}

macro_rules! impl_halves {
    ($($backend:ident::$variant:ident),+) => {$(
        impl<T: Send + 'static> Push<T> for $backend::$variant::Producer<T> {
            fn push(&mut self, value: T) -> Result<(), Full<T>> {
                $backend::$variant::Producer::push(self, value)
            }
        }
        impl<T: Send + 'static> Pop<T> for $backend::$variant::Consumer<T> {
            fn pop(&mut self) -> Option<T> {
                $backend::$variant::Consumer::pop(self)
            }
        }
    )+};
}
impl_halves!(real::fixed, loom::broken, loom::fixed, shuttle::broken, shuttle::fixed);

/// What one real-hardware run of the fixed ring did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Items pushed.
    pub items: u64,
    /// Items popped in the order pushed (every item, when the ring is correct).
    pub in_order: u64,
    /// Items popped out of order, duplicated or wrong.
    pub mismatches: u64,
    /// Pushes rejected with `Full` (the consumer was behind).
    pub full: u64,
    /// Items per second through the ring.
    pub items_per_sec: f64,
    /// How much the two threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// Streams `items` sequence numbers through a fixed ring of `capacity` from a producer thread
/// to a consumer thread (pinned as `pin` says) and checks that they arrive in order.
pub fn run_on_cores(capacity: usize, items: u64, pin: crate::hw::Pin) -> Result<CoreRun, CapacityError> {
    let (tx, rx) = real::fixed::try_channel::<u64>(capacity)?;
    let halves = std::sync::Mutex::new((Some(tx), Some(rx)));
    let start = std::time::Instant::now();
    let (results, parallelism) = crate::hw::run_threads(2, pin, |i| {
        if i == 0 {
            let mut tx = halves.lock().unwrap().0.take().expect("one producer");
            let mut full = 0;
            for n in 0..items {
                let mut v = n;
                // Spin, then yield: with both threads on one core (or a busy machine) a pure spin
                // would burn the time slice the consumer needs.
                let backoff = crossbeam_utils::Backoff::new();
                while let Err(Full(back)) = tx.push(v) {
                    full += 1;
                    v = back;
                    backoff.snooze();
                }
            }
            (0, 0, full)
        } else {
            let mut rx = halves.lock().unwrap().1.take().expect("one consumer");
            let (mut next, mut in_order, mut mismatches) = (0u64, 0u64, 0u64);
            let backoff = crossbeam_utils::Backoff::new();
            while next < items {
                let mut got = false;
                for v in rx.pop_chunk(64) {
                    got = true;
                    if v == next {
                        in_order += 1;
                    } else {
                        mismatches += 1;
                    }
                    next += 1;
                }
                if got {
                    backoff.reset();
                } else {
                    backoff.snooze();
                }
            }
            (in_order, mismatches, 0)
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    Ok(CoreRun {
        items,
        in_order: results[1].0,
        mismatches: results[1].1,
        full: results[0].2,
        items_per_sec: items as f64 / elapsed.max(1e-9),
        parallelism,
    })
}

/// Why the broken ring is not run on real cores, and where to see its bug.
pub const X86_NOTE: &str = "the broken ring's bug is a data race on the slots: undefined behaviour, so it is not \
run on real threads. On x86-64 it would not show anyway: TSO keeps the producer's slot write before its tail store \
and the consumer's tail load before its slot read (Release and Acquire are plain movs), and no store passes an \
earlier load. ARM and POWER can show it. loom shows it: cargo test --test model spsc::loom_broken";
