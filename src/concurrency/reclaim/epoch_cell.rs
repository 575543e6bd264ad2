//! The RCU cell on crossbeam-epoch: readers pin and load; the writer swaps in a new version and
//! `defer_destroy`s the old one, which crossbeam frees once every participant that was pinned at
//! the swap has unpinned. Versions count their own destruction, so tests and the long-reader
//! example can print retired vs reclaimed.
//!
//! Two rules the types and checks enforce:
//! - **A version does not outlive its cell.** [`EpochCell::read`] returns a reference tied to
//!   both the guard and the cell: dropping the cell frees the current version at once (no other
//!   thread can reach it), so a reference kept past the drop would dangle. The compiler refuses:
//!   ```compile_fail,E0505
//!   use lockfree_lab::reclaim::epoch_cell::EpochCell;
//!   let cell = EpochCell::new(7);
//!   let guard = crossbeam_epoch::pin();
//!   let version = cell.read(&guard);
//!   drop(cell); // error[E0505]: cannot move out of `cell` because it is borrowed
//!   assert_eq!(version.value, 7);
//!   ```
//! - **One collector per cell.** A guard protects only against garbage of its own
//!   [`Collector`]: a version retired into collector B is freed once B's participants have
//!   moved on, however long a reader pinned in collector A holds it. So every method checks that
//!   its guard was pinned in the cell's collector and panics with [`FOREIGN_GUARD`] otherwise
//!   (an `unprotected` guard has no collector and is refused too). [`EpochCell::new`] uses
//!   crossbeam's default collector (`crossbeam_epoch::pin()`); [`EpochCell::with_collector`]
//!   takes an explicit one, pinned through `collector.register().pin()`.
//!   ```
//!   use lockfree_lab::reclaim::epoch_cell::EpochCell;
//!   let collector = crossbeam_epoch::Collector::new();
//!   let cell = EpochCell::with_collector(1, &collector);
//!   let handle = collector.register();
//!   cell.update(2, &handle.pin());
//!   assert_eq!(cell.read(&handle.pin()).value, 2);
//!   ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_epoch::{Atomic, Collector, Guard, Owned};

/// The panic of an [`EpochCell`] method given a guard pinned in another collector than the
/// cell's (or an unprotected guard).
pub const FOREIGN_GUARD: &str =
    "epoch: the guard was not pinned in this cell's Collector, so it cannot protect the cell's versions";

/// Which versions have been destroyed, shared by the cell and its versions.
#[derive(Debug, Default)]
struct Tracker {
    /// Versions destroyed so far; only increases.
    reclaimed: AtomicUsize,
    /// Their values, so a reader can check that what it holds is still alive.
    freed: Mutex<std::collections::HashSet<u64>>,
}

/// One version of the cell's value.
#[derive(Debug)]
pub struct Version {
    /// The value.
    pub value: u64,
    tracker: Arc<Tracker>,
}

impl Drop for Version {
    fn drop(&mut self) {
        self.tracker.freed.lock().unwrap().insert(self.value);
        // ORDERING: Relaxed [reclaimed-count] — a statistic; readers of it synchronize by joining or by the mutex above.
        self.tracker.reclaimed.fetch_add(1, Ordering::Relaxed);
    }
}

/// An RCU cell whose old versions crossbeam-epoch reclaims.
#[derive(Debug)]
pub struct EpochCell {
    /// The current version; never null.
    current: Atomic<Version>,
    /// Versions replaced so far (handed to `defer_destroy`); only increases.
    retired: AtomicUsize,
    tracker: Arc<Tracker>,
    /// The collector every guard must be pinned in: the one the old versions are retired into.
    collector: Collector,
}

impl EpochCell {
    /// A cell holding `value`, reclaimed by crossbeam's default collector: pin with
    /// `crossbeam_epoch::pin()`.
    pub fn new(value: u64) -> Self {
        Self::with_collector(value, crossbeam_epoch::default_collector())
    }

    /// A cell holding `value`, reclaimed by `collector`: pin with `collector.register().pin()`
    /// (or a [`LocalHandle`](crossbeam_epoch::LocalHandle) of it).
    pub fn with_collector(value: u64, collector: &Collector) -> Self {
        let tracker = Arc::new(Tracker::default());
        Self {
            current: Atomic::new(Version {
                value,
                tracker: Arc::clone(&tracker),
            }),
            retired: AtomicUsize::new(0),
            tracker,
            collector: collector.clone(),
        }
    }

    /// The collector this cell's guards must be pinned in.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// Panics with [`FOREIGN_GUARD`] unless `guard` was pinned in this cell's collector.
    #[track_caller]
    fn check(&self, guard: &Guard) {
        assert!(guard.collector() == Some(&self.collector), "{FOREIGN_GUARD}");
    }

    /// The current version, valid while both `guard` stays pinned and the cell is alive.
    ///
    /// # Panics
    /// With [`FOREIGN_GUARD`] if `guard` was not pinned in this cell's collector.
    pub fn read<'a>(&'a self, guard: &'a Guard) -> &'a Version {
        self.check(guard);
        // ORDERING: Acquire [epoch-version-publish] — pairs with the writer's AcqRel swap: the version's fields are visible.
        let current = self.current.load(Ordering::Acquire, guard);
        // SAFETY: `current` is never null and was loaded under `guard`, pinned in the cell's
        // collector (checked above); a replaced version is destroyed only through
        // `defer_destroy` into that same collector, after every guard pinned at the swap is
        // gone; the current one only by `Drop`, which cannot run while `&'a self` is borrowed.
        unsafe { current.deref() }
    }

    /// Publishes `value`; the old version is retired and reclaimed after a grace period.
    ///
    /// # Panics
    /// With [`FOREIGN_GUARD`] if `guard` was not pinned in this cell's collector.
    pub fn update(&self, value: u64, guard: &Guard) {
        self.check(guard);
        let new = Owned::new(Version {
            value,
            tracker: Arc::clone(&self.tracker),
        });
        // ORDERING: AcqRel [epoch-version-publish] — Release publishes the new version to readers' Acquire loads; Acquire makes the old version's fields ours before we destroy it (a concurrent writer may have published it).
        let old = self.current.swap(new, Ordering::AcqRel, guard);
        // SAFETY: `old` is unlinked by this swap, so no new reader can load it; readers that
        // loaded it are pinned in the cell's collector (every guard is checked), the one
        // `guard` (checked above) defers into, so defer_destroy waits for them. No other writer
        // gets `old`.
        unsafe { guard.defer_destroy(old) };
        // ORDERING: Relaxed [retired-count] — a statistic.
        self.retired.fetch_add(1, Ordering::Relaxed);
    }

    /// Versions retired so far.
    pub fn retired(&self) -> usize {
        // ORDERING: Relaxed [retired-count] — a statistic.
        self.retired.load(Ordering::Relaxed)
    }

    /// Versions destroyed so far (retired ones, and the current one once the cell is dropped).
    pub fn reclaimed(&self) -> usize {
        // ORDERING: Relaxed [reclaimed-count] — a statistic.
        self.tracker.reclaimed.load(Ordering::Relaxed)
    }

    /// True when the version with `value` has been destroyed: a reader still holding it would
    /// be using freed memory. (Reads the tracker, never the version itself.)
    pub fn is_reclaimed(&self, value: u64) -> bool {
        self.tracker.freed.lock().unwrap().contains(&value)
    }
}

impl Drop for EpochCell {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader or writer can access the cell any more, and no
        // reference from `read` survives it (it borrows the cell), so the current version can be
        // freed at once without a guard.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            // ORDERING: Relaxed [drop] — exclusive access.
            drop(self.current.load(Ordering::Relaxed, guard).into_owned());
        }
    }
}

/// What [`long_reader`] measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongReader {
    /// Versions the writer retired while the reader stayed pinned.
    pub retired_while_pinned: usize,
    /// Of those, how many were freed before the reader unpinned.
    pub reclaimed_while_pinned: usize,
    /// How many were freed once the reader had unpinned (and the writer flushed again).
    pub reclaimed_after_unpin: usize,
    /// Flushes it took after the unpin to free them all.
    pub flushes_after_unpin: usize,
    /// The value the pinned reader still read at the end of its section (its version was alive).
    pub reader_saw: u64,
}

impl std::fmt::Display for LongReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reader pinned:   retired {:>6}  reclaimed {:>6}  (the reader still reads version {})\n\
             reader unpinned: retired {:>6}  reclaimed {:>6}  after {} flushes",
            self.retired_while_pinned,
            self.reclaimed_while_pinned,
            self.reader_saw,
            self.retired_while_pinned,
            self.reclaimed_after_unpin,
            self.flushes_after_unpin
        )
    }
}

/// A reader thread pins (its own `Collector`, so nothing else's garbage counts) and stays pinned
/// while a writer thread publishes `updates` versions, flushing its garbage after each; then the
/// reader unpins and the writer flushes until everything retired is reclaimed.
pub fn long_reader(updates: usize) -> LongReader {
    use std::sync::Barrier;
    let collector = Collector::new();
    let cell = EpochCell::with_collector(0, &collector);
    let (pinned, written, released) = (Barrier::new(2), Barrier::new(2), Barrier::new(2));
    let (saw, (retired, during, after, flushes)) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let handle = collector.register();
            let guard = handle.pin();
            let version = cell.read(&guard);
            pinned.wait();
            written.wait();
            let saw = version.value;
            drop(guard);
            released.wait();
            saw
        });
        let writer = s.spawn(|| {
            let handle = collector.register();
            pinned.wait();
            for v in 1..=updates as u64 {
                let guard = handle.pin();
                cell.update(v, &guard);
                guard.flush();
            }
            let (retired, during) = (cell.retired(), cell.reclaimed());
            written.wait();
            released.wait();
            let mut flushes = 0;
            while cell.reclaimed() < retired && flushes < 100_000 {
                handle.pin().flush();
                flushes += 1;
            }
            (retired, during, cell.reclaimed(), flushes)
        });
        (reader.join().unwrap(), writer.join().unwrap())
    });
    LongReader {
        retired_while_pinned: retired,
        reclaimed_while_pinned: during,
        reclaimed_after_unpin: after,
        flushes_after_unpin: flushes,
        reader_saw: saw,
    }
}
