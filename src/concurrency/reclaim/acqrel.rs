// BUG: the grace period is built from Acquire/Release alone, without the SeqCst fences: store
// buffering lets the writer miss a reader that misses the new version.
use super::sync::{seqcst_pair, spin_loop, Arc, AtomicUsize, Ordering, UnsafeCell};
use crate::reclaim::{sections, POISON};

/// What readers and the writer share.
#[derive(Debug)]
struct Shared {
    /// Two version slots (an arena of two): the current version, and the one the writer fills
    /// next. "Freeing" a slot writes `POISON` into it: under loom a write concurrent with a read
    /// is a caught causality violation, under shuttle a reader sees `POISON`.
    slots: [UnsafeCell<u64>; 2],
    /// Index of the current version's slot, 0 or 1; stored only by the writer.
    current: AtomicUsize,
    /// Readers inside a read-side section, in `0..=number of readers`.
    readers: AtomicUsize,
}

impl Shared {
    /// This cell's identity in the per-thread list of open read-side sections.
    fn key(&self) -> usize {
        self as *const Shared as usize
    }
}

// BUG: the fixed variant's claim, false here: the writer may poison a slot a reader reads.
// Only the checkers run this variant; on real threads it would be a data race.
// SAFETY: the slots are the only non-Sync fields. A slot is written only by the single
// `Writer`, and only while no reader can be reading it: a fresh slot is not yet published
// ([version-publish]), a reclaimed one is past its grace period ([grace-sb], [reader-exit]).
unsafe impl Sync for Shared {}

/// The read side: clone one per reader thread.
#[derive(Debug, Clone)]
pub struct Reader {
    shared: Arc<Shared>,
}

/// The write side: one writer (not `Clone`; `update` takes `&mut self`).
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Shared>,
}

/// An RCU cell holding `value`: its writer and a reader.
pub fn new(value: u64) -> (Writer, Reader) {
    let shared = Arc::new(Shared {
        slots: [UnsafeCell::new(value), UnsafeCell::new(POISON)],
        current: AtomicUsize::new(0),
        readers: AtomicUsize::new(0),
    });
    let reader = Reader {
        shared: Arc::clone(&shared),
    };
    (Writer { shared }, reader)
}

/// One thread's read-side section of one cell, left when dropped: after the reader's closure
/// returns, and also while a panicking closure unwinds (else `readers` would never drop back to
/// 0 and every later `update` would spin forever).
struct Section<'a> {
    shared: &'a Shared,
}

impl<'a> Section<'a> {
    /// Records the section in this thread's list (for `update`'s same-thread check).
    fn opened(shared: &'a Shared) -> Self {
        sections::enter::<AtomicUsize>(shared.key());
        Section { shared }
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        let s = self.shared;
        // ORDERING: Release [reader-exit] — the section's slot read happens-before the writer's reclaim once its Acquire load sees this decrement.
        s.readers.fetch_sub(1, Ordering::Release);
        sections::leave::<AtomicUsize>(s.key());
    }
}

impl Reader {
    /// Runs `f` on the current version inside a read-side section: the version stays valid
    /// until `f` returns. A version that was reclaimed under `f` reads as [`POISON`].
    ///
    /// If `f` panics, the section still ends (the panic propagates; later updates proceed).
    /// `f` must not call `update` on this cell's writer: see [`Writer::update`].
    pub fn read<T>(&self, f: impl FnOnce(&u64) -> T) -> T {
        let s = &*self.shared;
        // BUG: AcqRel orders this increment with earlier and later accesses of *this* thread only;
        // nothing stops the load below from reading the old index while the writer reads 0.
        // ORDERING: AcqRel [reader-announce] — not enough: Release/Acquire cannot forbid store buffering.
        let announce = Ordering::AcqRel;
        // ORDERING: Acquire [version-publish] — pairs with the writer's Release store: the slot's contents are visible.
        let read = Ordering::Acquire;
        // ORDERING: announce — chosen above.
        s.readers.fetch_add(1, announce);
        // Under loom only, the fence that stands for a SeqCst pair's order (loom models a SeqCst load as Acquire); nothing on real cores.
        seqcst_pair(announce, read);
        // The section ends when this drops (the announcement above cannot panic): after `f`
        // returns, or while a panicking `f` unwinds.
        let _section = Section::opened(s);
        // ORDERING: read — chosen above.
        let i = s.current.load(read);
        // SAFETY: slot `i` was published by the writer's Release store, and the writer does not
        // rewrite it until this section ends (the grace period waits for `readers` to drop).
        s.slots[i].with(|p| f(unsafe { &*p }))
    }
}

impl Writer {
    /// Publishes `value` as the new version and reclaims the old one.
    ///
    /// # Panics
    /// With [`UPDATE_INSIDE_READ`](crate::reclaim::UPDATE_INSIDE_READ) when called inside a
    /// [`Reader::read`] of this cell on the same thread (RCU's rule: no grace period inside a
    /// read-side section): the grace period would wait for that section to end, which it never
    /// does. Checked per thread (per model thread under loom and shuttle).
    pub fn update(&mut self, value: u64) {
        let s = &*self.shared;
        sections::assert_not_reading::<AtomicUsize>(s.key());
        // ORDERING: Relaxed [writer-only] — only this writer stores `current`.
        let old = s.current.load(Ordering::Relaxed);
        let new = 1 - old;
        // SAFETY: slot `new` is not current and was reclaimed by the previous update after its
        // grace period (or never published): no reader can be reading it; only the writer writes.
        s.slots[new].with_mut(|p| unsafe { *p = value });
        // ORDERING: Release [version-publish] — the slot write above happens-before any reader's Acquire load that sees `new`.
        s.current.store(new, Ordering::Release);
        // BUG: the grace period without the fence: this load may miss a reader's increment
        // while that reader's load of `current` misses the store above.
        // ORDERING: Acquire [reader-exit] — pairs with each reader's Release decrement: its read of `old` happens-before the poison below.
        while s.readers.load(Ordering::Acquire) != 0 {
            spin_loop();
        }
        // SAFETY: every reader that could have loaded `old` has left its section (grace period
        // above), and later readers load `new`; only the writer writes slots.
        s.slots[old].with_mut(|p| unsafe { *p = POISON });
    }
}
