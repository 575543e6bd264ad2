//! # RCU-style reclamation: when may a writer free the version readers might still hold?
//!
//! Feature `epoch`. A cell holds a *version*; readers enter a read-side section and read the
//! current version; the writer publishes a new version and must then **reclaim** the old one.
//! Reclaiming at once is a use-after-free whenever a reader loaded the old version just before
//! the switch. The fix is a **grace period** (McKenney's RCU): wait until every reader that could
//! have seen the old version has left its section. Here "free" means writing `POISON` into an
//! arena slot through the sync layer's `UnsafeCell`: loom reports a read concurrent with that
//! write as a causality violation, shuttle's reader reads `POISON` — caught, never UB.
//!
//! ## Three hand-written cells (`diff src/concurrency/reclaim/broken.rs src/concurrency/reclaim/fixed.rs`, and `acqrel.rs`)
//!
//! | variant   | the writer, after storing the new index                        | verdict                     |
//! |-----------|----------------------------------------------------------------|-----------------------------|
//! | `broken`  | poisons the old slot at once                                    | use after free              |
//! | `acqrel`  | waits for `readers == 0` with Acquire/Release only, no fences   | use after free (store buffering) |
//! | `fixed`   | `fence(SeqCst)`, then waits for `readers == 0` (its readers: SeqCst announcement and load) | correct |
//!
//! And the same cell on crossbeam-epoch, [`epoch_cell::EpochCell`]: readers pin, the writer
//! swaps and `defer_destroy`s; crossbeam frees the old version once every participant pinned at
//! the swap has unpinned. Its guards must come from the cell's own `Collector` (checked), and a
//! version read from it cannot outlive the cell (the borrow checker).
//!
//! The hand-written cells' readers may panic (the section still ends), but must not call
//! `update` on the same cell from inside `read`: the grace period would wait for the caller's
//! own section, forever. `update` detects that and panics instead
//! ([`UPDATE_INSIDE_READ`]).
//!
//! ## Synchronization edges (fixed)
//!
//! | edge                | one side                               | other side                               | carries |
//! |---------------------|----------------------------------------|------------------------------------------|---------|
//! | `[version-publish]` | writer: slot write, Release store of `current` | reader: Acquire load of `current`, slot read | the new version's contents |
//! | `[grace-sb]`        | reader: SeqCst `readers += 1`; SeqCst load of `current` | writer: store `current`; `fence(SeqCst)`; load `readers` | at least one side sees the other |
//! | `[reader-exit]`     | reader: slot read, Release `readers -= 1` | writer: Acquire load of `readers` == 0, then poison | the read happens-before the free |
//!
//! `[grace-sb]` is the store-buffering (Dekker) shape: each side writes one variable, then reads
//! the other. With Release/Acquire only (the `acqrel` variant), *both* reads may return the old
//! value: the writer sees `readers == 0` and frees, while the reader sees the old index and reads
//! it. Only SeqCst on each side forbids that outcome: a SeqCst fence between the write and the
//! read, or the write and the read themselves SeqCst.
//!
//! ## Why the reader has no fence (and what loom is shown instead)
//!
//! The writer uses a fence; the reader makes its two accesses SeqCst: a SeqCst read-modify-write
//! (`readers += 1`) then a SeqCst load of `current`. C++20's rules for S (\[atomics.order\]) then
//! forbid store buffering: if the writer's load of `readers` missed the increment, the writer's
//! fence precedes the increment in S, the increment precedes the reader's load, so that load
//! must see the new index; if instead the reader's load missed the new index, it precedes the
//! writer's fence in S — a cycle. On x86 the pair costs no fence at all: the read-modify-write is
//! a `lock xadd` (already a full barrier) and a SeqCst load a plain `mov`, where
//! `fetch_add(Relaxed)` + `fence(SeqCst)` paid an `mfence` on top of the `lock xadd`. This is the
//! trick crossbeam-epoch's `pin` plays on x86 (a SeqCst compare-exchange instead of a fence).
//!
//! loom cannot check that program as written: it models a SeqCst load as Acquire (loom issue
//! #180), so it would report the fixed cell's reader as store buffering. Under loom the sync
//! layer's `seqcst_pair(announce, read)` puts a `fence(SeqCst)` between the two — what C++
//! gives the pair — and only when *both* are SeqCst: weakening either one (as
//! `scripts/mutate-orderings` does) drops the fence and loom finds the use after free again. On
//! real cores and under shuttle (which runs everything as SeqCst) it compiles to nothing.
//!
//! ## The failing interleavings
//!
//! `broken`: 1. the reader announces itself and loads `current` = 0; 2. the writer fills slot 1
//! and stores `current` = 1; 3. the writer poisons slot 0; 4. the reader reads slot 0: poison.
//!
//! `acqrel` (no interleaving of whole steps shows it; a weak memory model does): 1. the reader
//! increments `readers` (AcqRel); 2. the writer stores `current` = 1 (Release); 3. the writer
//! loads `readers` and reads the *old* 0 — nothing orders step 1 before it; 4. the writer
//! poisons slot 0; 5. the reader loads `current` and reads the *old* 0; 6. it reads slot 0:
//! poison. Each thread's read misses the other's write: store buffering.
//!
//! ## Who sees it
//!
//! | checker        | `broken` (immediate free)    | `acqrel` (SB grace period)                    | `fixed`            |
//! |----------------|------------------------------|-----------------------------------------------|--------------------|
//! | loom           | found                        | found (loom models stale loads)               | passes, few executions |
//! | shuttle        | found (PCT and random)       | **missed**: shuttle runs every atomic as SeqCst | passes             |
//! | real x86 cores | not run: a real data race    | SB is visible on x86 (`litmus`), not demoed here | —                  |
//!
//! `broken` and `acqrel` are compiled only for the checkers (`reclaim::loom::{broken, acqrel}`,
//! `reclaim::shuttle::{broken, acqrel}`; there is no `reclaim::real::broken`): their `Sync`
//! claim is the one their bug breaks, which on real threads would be a data race, i.e. undefined
//! behaviour instead of a caught bug. Under loom the racing access is reported before it
//! happens; shuttle runs one thread at a time.
//! ```compile_fail,E0433
//! let (_writer, _reader) = lockfree_lab::reclaim::real::broken::new(0); // error: no `real::broken`
//! ```
//! ```compile_fail,E0433
//! let (_writer, _reader) = lockfree_lab::reclaim::real::acqrel::new(0); // error: no `real::acqrel`
//! ```
//! ```
//! let (_writer, _reader) = lockfree_lab::reclaim::real::fixed::new(0); // the fixed cell runs anywhere
//! ```
//!
//! crossbeam-epoch's cell is tested on real threads and under shuttle with a fresh `Collector`
//! per iteration (`EpochCell::with_collector`), not under loom: that needs `--cfg crossbeam_loom` and crossbeam-epoch's `loom`
//! feature, a second build the README's `cargo test` cannot run (and it costs
//! ~26k executions where the hand-written cell needs a few dozen; see "What each checker can and cannot see" in the README).
//!
//! ## A long-held reader stalls reclamation
//!
//! Epochs free garbage only when every pinned participant has caught up, so one reader that
//! stays pinned stops *all* reclamation in its collector: retired versions pile up until it
//! unpins (`examples/06-reclaim-long-reader.rs`; crossbeam issues #566 and #540 report this
//! memory growth in practice). The hand-written cell has the same property in a blunter form:
//! its writer *waits* for the reader.
//!
//! Sources: P. E. McKenney et al., *Read-Copy Update* (Ottawa Linux Symposium 2001) and
//! McKenney, *Is Parallel Programming Hard, And, If So, What Can You Do About It?* (RCU
//! chapter: grace periods, quiescent states); K. Fraser, *Practical lock-freedom*, Cambridge
//! UCAM-CL-TR-579 (2004) (epoch-based reclamation); the crossbeam-epoch documentation.

backends! {
    /// The fixed cell: a grace period with `fence(SeqCst)` on both sides.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs";
    checkers only:
    /// The broken cell: reclaims the old version at once (a data race: loom and shuttle only).
    broken => "broken.rs",
    /// The broken cell: a grace period with Acquire/Release only (store buffering; loom and
    /// shuttle only).
    acqrel => "acqrel.rs",
}

pub mod demo;
pub mod epoch_cell;

/// What a reclaimed slot holds; a reader that reads it has used freed memory.
pub const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// The panic of a hand-written cell's `update` called by a thread that is inside a `read` of the
/// same cell: the grace period would wait for that thread's own section to end, forever.
pub const UPDATE_INSIDE_READ: &str =
    "rcu: update() called inside read() on the same thread would wait for itself forever";

/// Which hand-written cells the current thread is reading, so that `update` can refuse to wait
/// for its own thread ([`UPDATE_INSIDE_READ`]) instead of spinning forever.
///
/// The list is per thread, and "thread" depends on the backend: loom's and shuttle's model
/// threads are coroutines on one OS thread, so a std `thread_local!` would be shared by all of
/// them (a reader yielding inside its section would make another model thread's `update`
/// panic). Each backend therefore keeps the list in its own thread-local: std's, loom's or
/// shuttle's. An algorithm file picks its backend's through `super::sync::AtomicUsize`, the
/// one type each sync backend defines for itself.
pub(crate) mod sections {
    use std::cell::RefCell;

    /// This thread's open read-side sections: the address of each cell being read.
    type Open = RefCell<Vec<usize>>;

    std::thread_local! {
        static REAL: Open = const { RefCell::new(Vec::new()) };
    }
    ::loom::thread_local! {
        static LOOM: Open = RefCell::new(Vec::new());
    }
    ::shuttle::thread_local! {
        static SHUTTLE: Open = RefCell::new(Vec::new());
    }

    /// A backend's thread-local list of open sections, selected by its `AtomicUsize` type.
    pub trait Backend {
        /// Runs `f` on the current (OS or model) thread's list.
        fn with_open<R>(f: impl FnOnce(&RefCell<Vec<usize>>) -> R) -> R;
    }

    impl Backend for std::sync::atomic::AtomicUsize {
        fn with_open<R>(f: impl FnOnce(&RefCell<Vec<usize>>) -> R) -> R {
            REAL.with(f)
        }
    }

    impl Backend for crate::sync::loom::AtomicUsize {
        fn with_open<R>(f: impl FnOnce(&RefCell<Vec<usize>>) -> R) -> R {
            LOOM.with(f)
        }
    }

    impl Backend for crate::sync::shuttle::AtomicUsize {
        fn with_open<R>(f: impl FnOnce(&RefCell<Vec<usize>>) -> R) -> R {
            SHUTTLE.with(f)
        }
    }

    /// The current thread enters a read-side section of the cell at `cell`.
    pub fn enter<B: Backend>(cell: usize) {
        B::with_open(|open| open.borrow_mut().push(cell));
    }

    /// The current thread leaves one read-side section of the cell at `cell`.
    pub fn leave<B: Backend>(cell: usize) {
        B::with_open(|open| {
            let mut open = open.borrow_mut();
            if let Some(i) = open.iter().rposition(|&c| c == cell) {
                open.swap_remove(i);
            }
        });
    }

    /// Panics with [`super::UPDATE_INSIDE_READ`] if the current thread is inside a read-side
    /// section of the cell at `cell`.
    #[track_caller]
    pub fn assert_not_reading<B: Backend>(cell: usize) {
        if B::with_open(|open| open.borrow().contains(&cell)) {
            panic!("{}", super::UPDATE_INSIDE_READ);
        }
    }
}

/// The write side of a hand-written cell.
pub trait Update: Send + 'static {
    /// Publishes `value` and reclaims the old version.
    fn update(&mut self, value: u64);
}

/// The read side of a hand-written cell.
pub trait Read: Send + 'static {
    /// Runs `f` on the current version in a read-side section.
    fn read<T>(&self, f: impl FnOnce(&u64) -> T) -> T;
}

macro_rules! impl_cells {
    ($($w:ty, $r:ty);+ $(;)?) => {$(
        impl Update for $w {
            fn update(&mut self, value: u64) {
                <$w>::update(self, value)
            }
        }
        impl Read for $r {
            fn read<T>(&self, f: impl FnOnce(&u64) -> T) -> T {
                <$r>::read(self, f)
            }
        }
    )+};
}
impl_cells!(
    real::fixed::Writer, real::fixed::Reader;
    loom::broken::Writer, loom::broken::Reader;
    loom::acqrel::Writer, loom::acqrel::Reader;
    loom::fixed::Writer, loom::fixed::Reader;
    shuttle::broken::Writer, shuttle::broken::Reader;
    shuttle::acqrel::Writer, shuttle::acqrel::Reader;
    shuttle::fixed::Writer, shuttle::fixed::Reader;
);
