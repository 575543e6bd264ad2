// FIX: the writer reclaims the old version only after a grace period: SeqCst on both sides (the
// writer's fence; each reader's announcement and load), then waiting until every reader that was
// inside a read-side section has left it.
use super::sync::name_location;
use super::sync::{
    fence, seqcst_pair, spin_loop, Arc, AtomicUsize, Mutex, Ordering, UnsafeCell, DRAIN_WHILE_UNWINDING,
};
use crate::reclaim::{sections, CachePadded, POISON};
use std::cell::Cell;

/// One reader's announcement, on a cache line of its own: odd while its `Reader` is inside a
/// read-side section, even outside one. Stored only by that `Reader`, loaded by the writer.
type Announcement = Arc<CachePadded<AtomicUsize>>;

/// What readers and the writer share.
#[derive(Debug)]
struct Shared {
    /// Two version slots (an arena of two): the current version, and the one the writer fills
    /// next. "Freeing" a slot writes `POISON` into it: under loom a write concurrent with a read
    /// is a caught causality violation, under shuttle a reader sees `POISON`.
    slots: [UnsafeCell<u64>; 2],
    /// Index of the current version's slot, 0 or 1; stored only by the writer.
    current: AtomicUsize,
    /// Every live `Reader`'s announcement: a clone registers one, a drop removes it.
    registry: Mutex<Vec<Announcement>>,
}

impl Shared {
    /// This cell's identity in the per-thread list of open read-side sections.
    fn key(&self) -> usize {
        self as *const Shared as usize
    }

    /// A fresh announcement, registered for the writer to wait on.
    fn register(&self) -> Announcement {
        let announcement = fresh_announcement();
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        name_location(&**announcement, || format!("announcement[{}]", registry.len()), None);
        registry.push(Arc::clone(&announcement));
        announcement
    }

    /// The writer's wait: until every reader that a snapshot of the registry shows inside a
    /// read-side section has left that section. The lock is released before waiting (a reader may
    /// clone, and so register, inside its section); a reader registered after the snapshot took
    /// the lock after the writer's store of `current`, so it loads the new index.
    fn wait_for_readers(&self) {
        let announcements = self.registry.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for a in &announcements {
            // ORDERING: Acquire [reader-exit] — pairs with the reader's Release exit store: a section that ended before this load read `old` before the poison.
            let seen = a.load(Ordering::Acquire);
            // Odd: inside a section, which may have loaded `old`. Any change means it ended (a
            // re-entry announces a new odd value, so a busy reader cannot starve the writer).
            // ORDERING: Acquire [reader-exit] — pairs with the reader's Release exit store: the section's read of `old` happens-before the poison.
            while seen % 2 == 1 && a.load(Ordering::Acquire) == seen {
                spin_loop();
            }
        }
    }
}

// SAFETY: the slots are the only non-Sync fields. A slot is written only by the single
// `Writer`, and only while no reader can be reading it: a fresh slot is not yet published
// ([version-publish]), a reclaimed one is past its grace period ([grace-sb], [reader-exit]).
unsafe impl Sync for Shared {}

/// The read side: clone one per reader thread. `Send`, not `Sync` (one thread uses a `Reader`
/// at a time: its announcement has a single writer); each clone has its own announcement.
#[derive(Debug)]
pub struct Reader {
    shared: Arc<Shared>,
    /// This reader's announcement (see [`Announcement`]).
    announcement: Announcement,
    /// The announcement's value outside a section: even, 0, 2, 4, ... (wrapping keeps it even).
    /// Only this reader reads or writes it, so it is a plain `Cell` (which makes `Reader` `!Sync`).
    outside: Cell<usize>,
    /// Nested `read`s open on this reader now: only the outermost one announces and retracts.
    depth: Cell<usize>,
}

/// The write side: one writer (not `Clone`; `update` takes `&mut self`).
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Shared>,
}

/// An announcement outside any section (even).
fn fresh_announcement() -> Announcement {
    Arc::new(CachePadded::new(AtomicUsize::new(0)))
}

/// An RCU cell holding `value`: its writer and a reader.
pub fn new(value: u64) -> (Writer, Reader) {
    let announcement = fresh_announcement();
    let shared = Arc::new(Shared {
        slots: [UnsafeCell::new(value), UnsafeCell::new(POISON)],
        current: AtomicUsize::new(0),
        // The first reader's announcement, registered without taking the lock.
        registry: Mutex::new(vec![Arc::clone(&announcement)]),
    });
    // The checkers' trace names them (nothing on real cores).
    name_location(&shared.current, || "current".into(), None);
    name_location(&**announcement, || "announcement[0]".into(), None);
    let reader = Reader::registered(Arc::clone(&shared), announcement);
    (Writer { shared }, reader)
}

impl Reader {
    /// A reader of `shared` whose `announcement` is in its registry.
    fn registered(shared: Arc<Shared>, announcement: Announcement) -> Self {
        Reader {
            shared,
            announcement,
            outside: Cell::new(0),
            depth: Cell::new(0),
        }
    }
}

impl Clone for Reader {
    /// Another reader of the same cell, with its own announcement (registered now; safe inside
    /// a read-side section: the writer never holds the registry's lock while it waits).
    fn clone(&self) -> Self {
        Reader::registered(Arc::clone(&self.shared), self.shared.register())
    }
}

impl Drop for Reader {
    /// Removes this reader's announcement from the registry. Under a checker, not while the
    /// thread unwinds (the checker's mutex could panic again): the announcement then stays
    /// registered, even, and the writer's wait passes over it.
    fn drop(&mut self) {
        if std::thread::panicking() && !DRAIN_WHILE_UNWINDING {
            return;
        }
        let mut registry = self.shared.registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = registry.iter().position(|a| Arc::ptr_eq(a, &self.announcement)) {
            registry.swap_remove(i);
        }
    }
}

/// One thread's read-side section of one cell, left when dropped: after the reader's closure
/// returns, and also while a panicking closure unwinds (else the announcement would stay odd
/// and every later `update` would spin forever).
struct Section<'a> {
    reader: &'a Reader,
}

impl<'a> Section<'a> {
    /// Records the section in this thread's list (for `update`'s same-thread check).
    fn opened(reader: &'a Reader) -> Self {
        if reader.depth.get() == 0 {
            sections::enter::<AtomicUsize>(reader.shared.key());
        }
        reader.depth.set(reader.depth.get() + 1);
        Section { reader }
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        let r = self.reader;
        r.depth.set(r.depth.get() - 1);
        if r.depth.get() == 0 {
            sections::leave::<AtomicUsize>(r.shared.key());
            // Under a checker while this thread unwinds, the announcement is not touched: the
            // checker's atomic could panic again (the panic may be its own, e.g. the announcement
            // used from the wrong OS thread), which would abort the process. The execution has
            // failed anyway; on real cores the section always ends.
            if !DRAIN_WHILE_UNWINDING && std::thread::panicking() {
                return;
            }
            r.outside.set(r.outside.get().wrapping_add(2));
            // ORDERING: Release [reader-exit] — the section's slot reads happen-before the writer's reclaim once its Acquire load sees this even value.
            r.announcement.store(r.outside.get(), Ordering::Release);
        }
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
        // FIX: the reader's half of the grace period: its announcement and its load of `current` are both SeqCst, so both sit in S with the writer's fence.
        // ORDERING: SeqCst [grace-sb] — the announcement is in the single total order S: with the writer's SeqCst fence, either its load of this announcement sees it, or the load of `current` below sees the new index.
        let announce = Ordering::SeqCst;
        // ORDERING: SeqCst [grace-sb] [version-publish] — in S after the announcement (its half of the pair); as an acquire, pairs with the writer's Release store: the slot's contents are visible.
        let read = Ordering::SeqCst;
        // The section ends when this drops: after `f` returns, or while a panicking `f` unwinds.
        // It is opened first, so that nothing can panic between the announcement and its guard.
        let _section = Section::opened(self);
        if self.depth.get() == 1 {
            // ORDERING: announce — chosen above (odd: inside a section).
            self.announcement.store(self.outside.get() + 1, announce);
            // Under loom only, the fence that stands for a SeqCst pair's order (loom models a SeqCst load as Acquire); nothing on real cores.
            seqcst_pair(announce, read);
        }
        // ORDERING: read — chosen above.
        let i = s.current.load(read);
        // SAFETY: slot `i` was published by the writer's Release store, and the writer does not
        // rewrite it until this reader's outermost section ends (the grace period waits for it).
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
        // FIX: the grace period: fence, then wait until every reader seen inside a section has left it.
        // ORDERING: SeqCst fence [grace-sb] — in S with each reader's SeqCst announcement and load: an announcement the wait's loads miss is one whose load of `current` sees `new`.
        fence(Ordering::SeqCst);
        s.wait_for_readers();
        // SAFETY: every reader that could have loaded `old` has left its section (grace period
        // above), and later readers load `new`; only the writer writes slots.
        s.slots[old].with_mut(|p| unsafe { *p = POISON });
    }
}
