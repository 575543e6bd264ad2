// FIX: the writer reclaims the old version only after a grace period: a SeqCst fence on both
// sides, then waiting until no reader is inside a read-side section.
use super::sync::{fence, spin_loop, Arc, AtomicUsize, Ordering, UnsafeCell};
use crate::reclaim::POISON;

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

impl Reader {
    /// Runs `f` on the current version inside a read-side section: the version stays valid
    /// until `f` returns. A version that was reclaimed under `f` reads as [`POISON`].
    pub fn read<T>(&self, f: impl FnOnce(&u64) -> T) -> T {
        let s = &*self.shared;
        // ORDERING: Relaxed [reader-announce] — ordered before the load of `current` by the SeqCst fence below.
        s.readers.fetch_add(1, Ordering::Relaxed);
        // ORDERING: SeqCst fence [grace-sb] — with the writer's fence: either the writer's count load sees this announcement, or this thread's load of `current` sees the writer's new index.
        fence(Ordering::SeqCst);
        // ORDERING: Acquire [version-publish] — pairs with the writer's Release store: the slot's contents are visible.
        let i = s.current.load(Ordering::Acquire);
        // SAFETY: slot `i` was published by the writer's Release store, and the writer does not
        // rewrite it until this section ends (the grace period waits for `readers` to drop).
        let out = s.slots[i].with(|p| f(unsafe { &*p }));
        // ORDERING: Release [reader-exit] — the read above happens-before the writer's reclaim once its Acquire load sees this decrement.
        s.readers.fetch_sub(1, Ordering::Release);
        out
    }
}

impl Writer {
    /// Publishes `value` as the new version and reclaims the old one.
    pub fn update(&mut self, value: u64) {
        let s = &*self.shared;
        // ORDERING: Relaxed [writer-only] — only this writer stores `current`.
        let old = s.current.load(Ordering::Relaxed);
        let new = 1 - old;
        // SAFETY: slot `new` is not current and was reclaimed by the previous update after its
        // grace period (or never published): no reader can be reading it; only the writer writes.
        s.slots[new].with_mut(|p| unsafe { *p = value });
        // ORDERING: Release [version-publish] — the slot write above happens-before any reader's Acquire load that sees `new`.
        s.current.store(new, Ordering::Release);
        // FIX: the grace period: fence, then wait until no reader is inside a read-side section.
        // ORDERING: SeqCst fence [grace-sb] — pairs with each reader's fence (see there): a reader this load misses is one that will see `new`.
        fence(Ordering::SeqCst);
        // ORDERING: Acquire [reader-exit] — pairs with each reader's Release decrement: its read of `old` happens-before the poison below.
        while s.readers.load(Ordering::Acquire) != 0 {
            spin_loop();
        }
        // SAFETY: every reader that could have loaded `old` has left its section (grace period
        // above), and later readers load `new`; only the writer writes slots.
        s.slots[old].with_mut(|p| unsafe { *p = POISON });
    }
}
