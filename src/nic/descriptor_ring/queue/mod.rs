//! # The descriptor ring as a queue: one flag per slot, no shared index (FastForward)
//!
//! Strip the registers from the [descriptor ring](super) and what is left is a queue: the
//! producer fills the slot at its position and sets the slot's **full** flag (OWN, in the ring);
//! the consumer polls the flag of the slot at *its* position, takes the value and clears the flag
//! (the reap). The two sides share no index at all: each keeps its position to itself, and the
//! only shared words are the slots. The consumer polls a flag that lives in the same cache line as
//! the value it is about to read, so an item costs one line transfer, not two (the index line and
//! the slot line of an index-based ring such as [`crate::spsc`] or rtrb). This is Giacomoni,
//! Moseley and Vachharajani's FastForward (PPoPP 2008); DPDK's and Linux's NIC rings poll the same
//! way. `benches/descriptor_ring.rs` measures it against the lab's index-based ring and rtrb.
//!
//! ```
//! use lockfree_lab::nic::descriptor_ring::queue::real::fixed::channel;
//! use lockfree_lab::spsc::Full;
//! let (mut tx, mut rx) = channel::<u64>(2);
//! tx.push(1).unwrap();
//! tx.push(2).unwrap();
//! assert_eq!(tx.push(3), Err(Full(3))); // full only when every slot is full
//! assert_eq!(rx.pop(), Some(1));
//! tx.push(3).unwrap(); // the freed slot is usable at once
//! assert_eq!((rx.pop(), rx.pop(), rx.pop()), (Some(2), Some(3), None));
//! ```
//!
//! ## Design
//! - **A slot is a flag and a value side by side** (16 bytes for a `u64`, four to a cache line).
//!   A separate flag array would put them on different lines and lose the point (measured 4-7×
//!   slower in published slot-flag results).
//! - **Exact `try` semantics.** `push` reports [`Full`] only when the slot at
//!   its position still holds an item, which, since the consumer frees slots in order, means
//!   every slot does; `pop` returns `None` only when the slot at its position is empty.
//! - **Producer look-ahead** (B-Queue, JCTools' `SpscArrayQueue`): when the producer has no slot
//!   known free, it first checks the flag `look_ahead − 1` slots ahead; if that one is empty, every
//!   slot up to it is (the consumer empties them in order), and the next `look_ahead` pushes skip
//!   the flag load. Otherwise it checks only its own slot — so "full" stays exact, unlike the
//!   original B-Queue code, which could report a false "full" (JCTools and glommio check the
//!   near slot before giving up, as here).
//! - Any capacity ≥ 1 works; values are `Copy` (a `u64`, a descriptor), so nothing is left to drop.
//!
//! ## Synchronization edges
//!
//! | edge             | Release (writer)                              | Acquire (reader)                                | guarantees |
//! |------------------|-----------------------------------------------|-------------------------------------------------|------------|
//! | `[slot-publish]` | `push` sets the flag after writing the value  | `pop` loads the flag before reading the value   | the value read is the one written |
//! | `[slot-free]`    | `pop` clears the flag after reading the value | `push` loads the flag (its own, or the look-ahead one) before writing | a value is not overwritten while it is read |
//!
//! ## The broken twins
//! **`broken.rs`: the flag set Relaxed** (`diff .../queue/broken.rs .../queue/fixed.rs`):
//! 1. the producer writes 7 into slot 0, then sets its flag (Relaxed);
//! 2. the consumer loads the flag → full (Acquire, but the store released nothing);
//! 3. the consumer reads slot 0 — concurrently with the write of step 1: loom reports
//!    `Causality violation`. Shuttle is blind (every atomic is SeqCst there); x86 would not show it
//!    (TSO keeps the two stores in order).
//!
//! **`early_clear.rs`: the flag cleared before the value is read**:
//! 1. the consumer sees slot 0 full and clears its flag (Release) — before reading the value;
//! 2. the producer sees slot 0 empty and writes 2 into it;
//! 3. the consumer reads slot 0 and gets 2, not the 1 it saw flagged: a lost item. loom reports
//!    the race on the slot. shuttle cannot: it switches threads only at its own operations, and
//!    none lies between the clear and the read. x86 could show it (it is an interleaving, not a
//!    reordering), but as a data race on plain memory it is not run on real threads.
//!
//! Both are data races on the plain value, undefined behaviour on real threads, so they exist only
//! for the checkers (`loom::broken`, `shuttle::early_clear`, no `real::broken`):
//! ```compile_fail,E0433
//! let _ = lockfree_lab::nic::descriptor_ring::queue::real::broken::channel::<u64>(1);
//! ```
//!
//! Sources: J. Giacomoni, T. Moseley, M. Vachharajani, "FastForward for Efficient Pipeline
//! Parallelism: A Cache-Optimized Concurrent Lock-Free Queue", PPoPP 2008; J. Wang et al.,
//! "B-Queue: Efficient and Practical Queuing for Fast Core-to-Core Communication", IJPP 2013;
//! JCTools `SpscArrayQueue` (look-ahead step); the rtrb crate and Erik Rigtorp's `SPSCQueue`
//! (the cached-index design it is measured against).

pub use crate::ring::{CapacityError, Full};

backends! {
    /// The fixed queue.
    fixed => "fixed.rs",
    /// Model scenarios of the look-ahead.
    scenario => "scenario.rs";
    checkers only:
    /// Broken twin 1: the flag set with Relaxed. A data race on the value: checkers only.
    broken => "broken.rs",
    /// Broken twin 2: the flag cleared before the value is read. A data race: checkers only.
    early_clear => "early_clear.rs",
}

/// The look-ahead of a queue of `capacity` slots without one given: a quarter of the ring, at
/// most 4096 slots (JCTools' step), at least 1 (no look-ahead).
pub fn default_look_ahead(capacity: usize) -> usize {
    (capacity / 4).clamp(1, 4096)
}
