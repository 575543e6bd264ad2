// The two payload cells a queue can be built with (see `crate::mpmc::Slot`).
use super::sync::{AtomicU64, Ordering, UnsafeCell};
use crate::mpmc::{RacySlot, Slot};
use std::mem::MaybeUninit;

/// Plain memory for any `T`: the real queue. Under loom every access is checked for races.
#[derive(Debug)]
pub struct UnsafeSlot<T>(UnsafeCell<MaybeUninit<T>>);

impl<T> Slot<T> for UnsafeSlot<T> {
    fn empty() -> Self {
        Self(UnsafeCell::new(MaybeUninit::uninit()))
    }

    unsafe fn write(&self, value: T) {
        // SAFETY: the caller owns the slot (contract 1) and it is empty (contract 2), so nothing
        // reads or drops the memory we overwrite.
        self.0.with_mut(|p| unsafe { (*p).write(value) });
    }

    unsafe fn read(&self) -> T {
        // SAFETY: the slot holds a value written by `write` and not yet moved out, and nobody
        // writes it meanwhile (the caller's contract).
        self.0.with(|p| unsafe { (*p).assume_init_read() })
    }

    unsafe fn drop_value(&self) {
        // SAFETY: as for `read`, and the caller has exclusive access.
        self.0.with_mut(|p| unsafe { (*p).assume_init_drop() });
    }
}

/// A `u64` payload in an atomic: reading a slot nobody wrote returns a stale value (0 at first)
/// instead of being undefined behaviour. For demos and model tests of the broken queue.
#[derive(Debug)]
pub struct AtomicSlot(AtomicU64);

impl Slot<u64> for AtomicSlot {
    fn empty() -> Self {
        Self(AtomicU64::new(0))
    }

    unsafe fn write(&self, value: u64) {
        // ORDERING: Relaxed [payload] — the queue's stamps order the payload; in the broken queue nothing does.
        self.0.store(value, Ordering::Relaxed);
    }

    unsafe fn read(&self) -> u64 {
        // ORDERING: Relaxed [payload] — as for `write`.
        self.0.load(Ordering::Relaxed)
    }

    unsafe fn drop_value(&self) {}

    fn name_location(&self, name: String) {
        super::sync::name_location(&self.0, || name, None);
    }
}

// SAFETY: every method is a single atomic access or nothing: defined behaviour whatever order the
// threads call them in.
unsafe impl RacySlot<u64> for AtomicSlot {}
