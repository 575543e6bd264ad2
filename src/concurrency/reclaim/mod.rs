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
//! | `acqrel`  | waits for every reader's announcement with Acquire/Release only, no fence | use after free (store buffering) |
//! | `fixed`   | `fence(SeqCst)`, then waits for every reader's announcement (its readers: SeqCst announcement and load) | correct |
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
//! | `[grace-sb]`        | reader: SeqCst store of an odd announcement; SeqCst load of `current` | writer: store `current`; `fence(SeqCst)`; load each announcement | at least one side sees the other |
//! | `[reader-exit]`     | reader: slot read, Release store of the next even announcement | writer: Acquire load of that announcement (even, or changed), then poison | the read happens-before the free |
//!
//! `[grace-sb]` is the store-buffering (Dekker) shape: each side writes one variable, then reads
//! the other. With Release/Acquire only (the `acqrel` variant), *both* reads may return the old
//! value: the writer sees the reader's announcement still even and frees, while the reader sees
//! the old index and reads it. Only SeqCst on each side forbids that outcome: a SeqCst fence
//! between the write and the read, or the write and the read themselves SeqCst.
//!
//! ## One announcement per reader
//!
//! Each [`Reader`](real::fixed::Reader) (each clone: "one per reader thread") owns an
//! announcement word on a cache line of its own, registered in the cell's registry (a
//! `Mutex<Vec<_>>`: a clone registers a fresh one, a drop removes it). The reader keeps a private
//! count; a section stores an odd value on entry and the next even value on exit:
//!
//! | announcement | the reader is                      | the writer's wait              |
//! |--------------|------------------------------------|--------------------------------|
//! | even         | outside any section                | passes                         |
//! | odd `n`      | inside the section that stored `n` | spins until it is no longer `n` |
//!
//! Waiting for a *change*, not for "even", means a reader that leaves and re-enters (a new odd
//! value) cannot starve the writer: the section the writer saw has ended. A `read` nested in a
//! `read` of the same `Reader` neither announces nor retracts: a depth count leaves that to the
//! outermost one. The writer snapshots the registry and releases the lock before waiting (a
//! reader may clone inside its section); a reader registered after the snapshot took the lock
//! after the writer's store of `current`, so it loads the new index. Only the reader stores its
//! announcement, so `Reader` is `Send` but not `Sync`:
//! ```compile_fail,E0277
//! fn shared_between_threads<T: Sync>(_: &T) {}
//! let (_writer, reader) = lockfree_lab::reclaim::real::fixed::new(0);
//! shared_between_threads(&reader); // error: a `Reader` is not `Sync`: clone one per thread
//! ```
//! ```
//! let (mut writer, reader) = lockfree_lab::reclaim::real::fixed::new(1);
//! let other = reader.clone(); // its own announcement
//! let seen = std::thread::spawn(move || other.read(|v| *v)).join().unwrap();
//! writer.update(2);
//! assert!(seen == 1 || seen == 2);
//! assert_eq!(reader.read(|v| *v), 2);
//! ```
//!
//! Why not one shared count of readers (`readers += 1` on entry, `readers -= 1` on exit, as this
//! cell did before)? Every section then pays two locked read-modify-writes, on a line every
//! reader writes (crossbeam-epoch's `pin` also gives each participant its own word). With an
//! announcement per reader, the protocol's part of the read side has no read-modify-write at
//! all: one `xchg` in, one plain `mov` out (read in the release build's code). The same-thread
//! check behind [`UPDATE_INSIDE_READ`] is a thread-local list of open sections, entered and left
//! by a reader's outermost `read` only; it is a fixed array of `Cell`s (at most 32 open sections
//! a thread, [`TOO_MANY_SECTIONS`]), because a `RefCell<Vec>` there cost more than the
//! announcement itself.
//!
//! ## Why the reader has no fence (and what loom is shown instead)
//!
//! The writer uses a fence; the reader makes its two accesses SeqCst: a SeqCst store of its odd
//! announcement, then a SeqCst load of `current`. C++20's rules for S (\[atomics.order\]/4) then
//! forbid store buffering: if the writer's load of the announcement (after its SeqCst fence)
//! misses the reader's SeqCst store, the fence precedes that store in S (4.3); the store
//! precedes the reader's SeqCst load in S (program order); if that load missed the new
//! `current`, it precedes the fence in S (4.2) — a cycle. So either the writer sees the odd
//! announcement and waits, or the reader loads the new index and never touches the old slot. On
//! x86 the pair costs no fence: a SeqCst store is an `xchg` (already a full barrier) and a SeqCst
//! load a plain `mov`; the exit is a Release store, a plain `mov`. This is the trick
//! crossbeam-epoch's `pin` plays on x86 (a SeqCst read-modify-write instead of a fence).
//!
//! loom cannot check that program as written: it models a SeqCst store as Release and a SeqCst
//! load as Acquire (loom issue #180), so it would report the fixed cell's reader as store
//! buffering. Under loom the sync layer's `seqcst_pair(announce, read)` puts a `fence(SeqCst)`
//! between the two — what C++ gives the pair — and only when *both* are SeqCst: weakening
//! either one (as `scripts/mutate-orderings` does) drops the fence and loom finds the use after
//! free again. On real cores and under shuttle (which runs everything as SeqCst) it compiles to
//! nothing.
//!
//! ## The failing interleavings
//!
//! `broken`: 1. the reader announces itself and loads `current` = 0; 2. the writer fills slot 1
//! and stores `current` = 1; 3. the writer poisons slot 0; 4. the reader reads slot 0: poison.
//!
//! `acqrel` (no interleaving of whole steps shows it; a weak memory model does): 1. the reader
//! stores its odd announcement (Release); 2. the writer stores `current` = 1 (Release); 3. the
//! writer loads the announcement and reads the *old* even value — nothing orders step 1 before
//! it; 4. the writer poisons slot 0; 5. the reader loads `current` and reads the *old* 0; 6. it
//! reads slot 0: poison. Each thread's read misses the other's write: store buffering.
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
    /// The fixed cell: a grace period with SeqCst on both sides (the writer's fence; each
    /// reader's announcement and load).
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

/// A reader's announcement word sits on a cache line of its own (128 bytes on x86-64).
pub(crate) use crate::ring::CachePadded;

/// What a reclaimed slot holds; a reader that reads it has used freed memory.
pub const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// The panic of a hand-written cell's `update` called by a thread that is inside a `read` of the
/// same cell: the grace period would wait for that thread's own section to end, forever.
pub const UPDATE_INSIDE_READ: &str =
    "rcu: update() called inside read() on the same thread would wait for itself forever";

/// The panic of a `read` that would open more than 32 read-side sections on one thread at once
/// (nested reads of different cells, or through different readers of one cell).
pub const TOO_MANY_SECTIONS: &str = "rcu: more than 32 read-side sections open on one thread";

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
    use std::cell::Cell;

    /// How many read-side sections one thread can hold open at once (of different cells, or
    /// through different readers of one cell; a reader's nested `read`s count once). One more
    /// panics with [`TOO_MANY_SECTIONS`](super::TOO_MANY_SECTIONS) before announcing anything.
    pub const MAX_OPEN: usize = 32;

    /// This thread's open read-side sections: the address of each cell being read, in
    /// `cells[..len]`. A fixed array of `Cell`s rather than a `RefCell<Vec<usize>>`: with no
    /// destructor and no borrow flag, std's thread-local is one `fs`-relative access. The `Vec`
    /// version cost about 4.5 ns per enter + leave on the AMD EPYC VM (an `#[inline(never)]`
    /// experiment), twice the reader's announcement itself (2.2 ns).
    pub struct Open {
        len: Cell<usize>,
        cells: [Cell<usize>; MAX_OPEN],
    }

    impl Open {
        const fn new() -> Self {
            Open {
                len: Cell::new(0),
                cells: [const { Cell::new(0) }; MAX_OPEN],
            }
        }

        /// The open sections' cells.
        fn open(&self) -> &[Cell<usize>] {
            &self.cells[..self.len.get()]
        }
    }

    std::thread_local! {
        static REAL: Open = const { Open::new() };
    }
    ::loom::thread_local! {
        static LOOM: Open = Open::new();
    }
    ::shuttle::thread_local! {
        static SHUTTLE: Open = Open::new();
    }

    /// A backend's thread-local list of open sections, selected by its `AtomicUsize` type.
    pub trait Backend {
        /// Runs `f` on the current (OS or model) thread's list.
        fn with_open<R>(f: impl FnOnce(&Open) -> R) -> R;
    }

    impl Backend for std::sync::atomic::AtomicUsize {
        #[inline]
        fn with_open<R>(f: impl FnOnce(&Open) -> R) -> R {
            REAL.with(f)
        }
    }

    impl Backend for crate::sync::loom::AtomicUsize {
        fn with_open<R>(f: impl FnOnce(&Open) -> R) -> R {
            LOOM.with(f)
        }
    }

    impl Backend for crate::sync::shuttle::AtomicUsize {
        fn with_open<R>(f: impl FnOnce(&Open) -> R) -> R {
            SHUTTLE.with(f)
        }
    }

    /// The current thread enters a read-side section of the cell at `cell`. Panics with
    /// [`TOO_MANY_SECTIONS`](super::TOO_MANY_SECTIONS) if [`MAX_OPEN`] are open already.
    #[inline]
    pub fn enter<B: Backend>(cell: usize) {
        B::with_open(|open| {
            let n = open.len.get();
            assert!(n < MAX_OPEN, "{}", super::TOO_MANY_SECTIONS);
            open.cells[n].set(cell);
            open.len.set(n + 1);
        });
    }

    /// The current thread leaves one read-side section of the cell at `cell` (the innermost).
    #[inline]
    pub fn leave<B: Backend>(cell: usize) {
        B::with_open(|open| {
            let cells = open.open();
            if let Some(i) = cells.iter().rposition(|c| c.get() == cell) {
                let last = cells.len() - 1;
                cells[i].set(cells[last].get());
                open.len.set(last);
            }
        });
    }

    /// Panics with [`super::UPDATE_INSIDE_READ`] if the current thread is inside a read-side
    /// section of the cell at `cell`.
    #[track_caller]
    pub fn assert_not_reading<B: Backend>(cell: usize) {
        if B::with_open(|open| open.open().iter().any(|c| c.get() == cell)) {
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
