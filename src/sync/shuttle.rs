//! The shuttle backend: shuttle's atomics behind traced shims, threads and `Arc`.
//!
//! shuttle has no `UnsafeCell` of its own and does not detect data races; it also models every
//! atomic as `SeqCst`, so this backend is for interleaving bugs only (see `CHECKERS` in the
//! README).

pub use ::shuttle::hint::spin_loop;
pub use ::shuttle::sync::atomic::Ordering;
pub use ::shuttle::sync::Arc;
pub use ::shuttle::thread;

pub use super::real::UnsafeCell;

super::checker_backoff!();

super::traced_int!(AtomicUsize, ::shuttle::sync::atomic::AtomicUsize, usize);
super::traced_int!(AtomicU32, ::shuttle::sync::atomic::AtomicU32, u32);
super::traced_int!(AtomicU64, ::shuttle::sync::atomic::AtomicU64, u64);
super::traced_bool!(::shuttle::sync::atomic::AtomicBool);
super::traced_fence!(::shuttle::sync::atomic::fence);

/// The model thread the trace names: shuttle numbers its threads 0 (the test's main thread), 1…
pub(crate) fn thread_index() -> Option<usize> {
    Some(usize::from(::shuttle::thread::current().id()))
}

/// Copies `src` into the run of cells `dst` one cell at a time, so that every slot write is a
/// separate step between shuttle's scheduling points (as on the loom backend).
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. No other thread reads or writes any cell of `dst` during the call.
pub unsafe fn copy_to_cells<T: Copy>(dst: &[UnsafeCell<std::mem::MaybeUninit<T>>], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "copy_to_cells: lengths differ");
    for (cell, &value) in dst.iter().zip(src) {
        // SAFETY: the pointer is valid for writes and nobody else accesses the cell (precondition 2).
        cell.with_mut(|p| unsafe { p.write(std::mem::MaybeUninit::new(value)) });
    }
}

/// Copies the run of cells `src` out into `dst` one cell at a time (see [`copy_to_cells`]).
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. Every cell of `src` is initialized.
/// 3. No other thread writes any cell of `src` during the call.
pub unsafe fn copy_from_cells<T: Copy>(dst: &mut [T], src: &[UnsafeCell<std::mem::MaybeUninit<T>>]) {
    assert_eq!(dst.len(), src.len(), "copy_from_cells: lengths differ");
    for (out, cell) in dst.iter_mut().zip(src) {
        // SAFETY: the cell is initialized (precondition 2) and not written concurrently
        // (precondition 3); `T: Copy`, so reading it leaves it valid.
        *out = cell.with(|p| unsafe { (*p).assume_init() });
    }
}
