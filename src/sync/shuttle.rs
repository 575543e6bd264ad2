//! The shuttle backend: shuttle's atomics behind traced shims, threads and `Arc`.
//!
//! shuttle has no `UnsafeCell` of its own and no race detector: it runs one thread at a time and
//! switches only at its own operations, and it models every atomic as `SeqCst`, so this backend
//! is for interleaving bugs (see "What each checker can and cannot see" in the README). Its [`UnsafeCell`] does one check of
//! its own: an access that overlaps another thread's closure across a scheduling point panics
//! before it happens, so a broken variant never becomes undefined behaviour under shuttle.

pub use ::shuttle::hint::spin_loop;
pub use ::shuttle::sync::atomic::Ordering;
pub use ::shuttle::sync::{Arc, Mutex};
pub use ::shuttle::thread;

/// A cell with loom's closure API that checks, like loom's, that no thread writes it while
/// another is inside `with` (or reads it inside another's `with_mut`), and panics *before* such
/// an access. shuttle runs one thread at a time and switches only at its own operations, so an
/// overlap happens only when a closure spans a scheduling point (an RCU reader holding a version
/// across a yield): without this check the overlapping write would mutate memory behind a live
/// `&T`, undefined behaviour that an optimizer may exploit (a release build then hides the bug).
#[derive(Debug)]
pub struct UnsafeCell<T> {
    value: std::cell::UnsafeCell<T>,
    /// `WRITING`, or the number of `with` closures running now. A plain `Cell`: shuttle runs one
    /// thread at a time, so the bookkeeping needs no synchronization.
    state: std::cell::Cell<usize>,
    /// The OS thread whose executions may touch the cell (see [`super::Owner`]).
    owner: super::Owner,
}

/// `UnsafeCell::state` while a `with_mut` closure runs.
const WRITING: usize = usize::MAX;

/// Ends an access when the closure returns or unwinds: a read (`false`) leaves, a write (`true`)
/// frees the cell.
struct Access<'a>(&'a std::cell::Cell<usize>, bool);

impl Drop for Access<'_> {
    fn drop(&mut self) {
        self.0.set(if self.1 { 0 } else { self.0.get() - 1 });
    }
}

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            value: std::cell::UnsafeCell::new(value),
            state: std::cell::Cell::new(0),
            owner: super::Owner::current(),
        }
    }
    /// Runs `f` with a shared pointer to the contents; panics if a `with_mut` is running.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.owner.check();
        super::trace::record_plain(thread_index, self as *const _ as usize, "read");
        let readers = self.state.get();
        assert!(
            readers != WRITING,
            "data race: a read of a cell while another thread is writing it (shuttle backend's cell check)"
        );
        self.state.set(readers + 1);
        let _end = Access(&self.state, false);
        f(self.value.get())
    }
    /// Runs `f` with a mutable pointer to the contents; panics if another access is running.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.owner.check();
        super::trace::record_plain(thread_index, self as *const _ as usize, "write");
        let state = self.state.get();
        assert!(
            state == 0,
            "data race: a write to a cell while another thread is {} it (shuttle backend's cell check)",
            if state == WRITING { "writing" } else { "reading" }
        );
        self.state.set(WRITING);
        let _end = Access(&self.state, true);
        f(self.value.get())
    }
    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

super::checker_backoff!();

/// Names `atomic` (a traced atomic of this backend) in the trace: `head`, `next[A]`; its values
/// print through `format` (see [`super::trace::name`]). Only while tracing is on; free otherwise.
pub fn name_location<T>(atomic: &T, name: impl FnOnce() -> String, format: Option<super::trace::Format>) {
    super::trace::name(atomic as *const T as usize, name, format);
}

super::traced_int!(AtomicUsize, ::shuttle::sync::atomic::AtomicUsize, usize, thread_index);
super::traced_int!(AtomicU32, ::shuttle::sync::atomic::AtomicU32, u32, thread_index);
super::traced_int!(AtomicU64, ::shuttle::sync::atomic::AtomicU64, u64, thread_index);
super::traced_bool!(::shuttle::sync::atomic::AtomicBool, thread_index);
super::traced_fence!(::shuttle::sync::atomic::fence, thread_index);

/// Nothing under shuttle: it runs every atomic as SeqCst, so a SeqCst pair is already in its one
/// order (the loom backend's `seqcst_pair` says why loom needs a fence here).
#[inline(always)]
pub fn seqcst_pair(announce: Ordering, load: Ordering) {
    let _ = (announce, load);
}

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

/// Whether a structure's destructor may use this backend's atomics and cells while its thread
/// unwinds a panic. No under a model checker: its operations can panic themselves (outside a
/// model, or while the checker tears a failed execution down), and a panic during unwinding aborts
/// the whole test binary. So while unwinding, the rings leak (their handles, their items) instead:
/// a leak is safe, an abort loses every test's result.
pub const DRAIN_WHILE_UNWINDING: bool = false;

/// A ring's slot array under a checker (no cache to align for).
pub type Cells<T> = Box<[UnsafeCell<std::mem::MaybeUninit<T>>]>;

/// `n` cells holding `MaybeUninit::uninit()`, built one by one (each checker cell has state of its
/// own). An error if the allocation fails.
pub fn uninit_cells<T>(n: usize) -> Result<Cells<T>, std::collections::TryReserveError> {
    let mut cells = Vec::new();
    cells.try_reserve_exact(n)?;
    cells.extend((0..n).map(|_| UnsafeCell::new(std::mem::MaybeUninit::uninit())));
    Ok(cells.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::{thread, Arc, UnsafeCell};
    use crate::check;

    /// A cell shared by two model threads; the test itself is the protocol under check.
    struct Shared(UnsafeCell<u64>);
    // SAFETY: only shuttle threads touch it, one at a time, and the cell check reports any access
    // that would overlap another's closure before it happens.
    unsafe impl Sync for Shared {}

    /// A reader that yields inside `with` (`hold`) or reads at once, and a writer.
    fn reader_and_writer(hold: bool) {
        let cell = Arc::new(Shared(UnsafeCell::new(1)));
        let reader = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                cell.0.with(|p| {
                    if hold {
                        thread::yield_now();
                    }
                    // SAFETY: the cell is initialized; a write during this read is reported first.
                    unsafe { *p }
                })
            })
        };
        // A scheduling point: the reader may run before the write, or not.
        thread::yield_now();
        // SAFETY: the cell check reports this write if it overlaps the reader's closure.
        cell.0.with_mut(|p| unsafe { *p = 2 });
        let read = reader.join().unwrap();
        assert!(read == 1 || read == 2);
    }

    #[test]
    fn a_write_while_another_thread_holds_the_cell_across_a_yield_is_reported() {
        check::shuttle_pct(100, 2, check::DEFAULT_SEED, || reader_and_writer(true))
            .assert_found("data race: a write to a cell while another thread is reading it");
    }

    #[test]
    fn accesses_that_do_not_overlap_pass() {
        check::shuttle_pct(100, 2, check::DEFAULT_SEED, || reader_and_writer(false)).assert_passed();
    }
}
