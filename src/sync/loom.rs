//! The loom backend: loom's atomics behind traced shims, loom's `UnsafeCell`, threads and `Arc`.

pub use ::loom::hint::spin_loop;
pub use ::loom::sync::atomic::Ordering;
pub use ::loom::sync::{Arc, Mutex};
pub use ::loom::thread;

super::checker_backoff!();

/// Names `atomic` (a traced atomic of this backend) in the trace: `head`, `next[A]`; its values
/// print through `format` (see [`super::trace::name`]). Only while tracing is on; free otherwise.
pub fn name_location<T>(atomic: &T, name: impl FnOnce() -> String, format: Option<super::trace::Format>) {
    super::trace::name(atomic as *const T as usize, name, format);
}

super::traced_int!(AtomicUsize, ::loom::sync::atomic::AtomicUsize, usize, thread_index);
super::traced_int!(AtomicU32, ::loom::sync::atomic::AtomicU32, u32, thread_index);
super::traced_int!(AtomicU64, ::loom::sync::atomic::AtomicU64, u64, thread_index);
super::traced_bool!(::loom::sync::atomic::AtomicBool, thread_index);
super::traced_fence!(::loom::sync::atomic::fence, thread_index);

/// The fence that gives a SeqCst load its place in the single total order S after a SeqCst
/// store (or read-modify-write) of the same thread (`announce`, then `load`), which loom does not
/// model: loom treats a SeqCst store as Release and a SeqCst load as Acquire (loom issue #180), so
/// without this its model of a fence-free SeqCst store-buffering pair would be weaker than C++'s.
/// A `fence(SeqCst)` between the two gives the pair exactly the ordering C++ gives it against
/// another thread's SeqCst fence (on x86 a SeqCst store is already an `xchg`, a full barrier, and
/// a SeqCst load a plain `mov`).
/// Only when *both* are SeqCst: weaken either and the model loses the fence, as C++ loses the
/// order (`scripts/mutate-orderings` relies on it).
pub fn seqcst_pair(announce: Ordering, load: Ordering) {
    if announce == Ordering::SeqCst && load == Ordering::SeqCst {
        fence(Ordering::SeqCst);
    }
}

/// The model thread the trace names: loom numbers its threads 0 (the model's main thread), 1, 2…
/// (the number is read out of the `ThreadId(N)` debug string: loom exposes no other).
pub(crate) fn thread_index() -> Option<usize> {
    let debug = format!("{:?}", ::loom::thread::current().id());
    debug.trim_start_matches("ThreadId(").trim_end_matches(')').parse().ok()
}

/// loom's `UnsafeCell` (it reports concurrent accesses as a causality violation), with each
/// access traced so that the counterexample shows the racing plain-memory read or write.
#[derive(Debug)]
pub struct UnsafeCell<T> {
    inner: ::loom::cell::UnsafeCell<T>,
    owner: super::Owner,
}

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: ::loom::cell::UnsafeCell::new(value),
            owner: super::Owner::current(),
        }
    }
    /// Runs `f` with a shared pointer to the contents (a plain read: traced before loom checks it).
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.owner.check();
        super::trace::record_plain(thread_index, self as *const _ as usize, "read");
        self.inner.with(f)
    }
    /// Runs `f` with a mutable pointer to the contents (a plain write: traced before loom checks it).
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.owner.check();
        super::trace::record_plain(thread_index, self as *const _ as usize, "write");
        self.inner.with_mut(f)
    }
    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

/// Copies `src` into the run of cells `dst` one cell at a time, so that loom checks (and the
/// trace shows) every slot write.
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. No other thread reads or writes any cell of `dst` during the call (loom reports a
///    causality violation if one does).
#[track_caller]
pub unsafe fn copy_to_cells<T: Copy>(dst: &[UnsafeCell<std::mem::MaybeUninit<T>>], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "copy_to_cells: lengths differ");
    for (cell, &value) in dst.iter().zip(src) {
        // SAFETY: loom's `with_mut` pointer is valid for writes; exclusivity is precondition 2,
        // which loom itself checks.
        cell.with_mut(|p| unsafe { p.write(std::mem::MaybeUninit::new(value)) });
    }
}

/// Copies the run of cells `src` out into `dst` one cell at a time, so that loom checks (and the
/// trace shows) every slot read.
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. Every cell of `src` is initialized.
/// 3. No other thread writes any cell of `src` during the call (loom reports a causality
///    violation if one does).
#[track_caller]
pub unsafe fn copy_from_cells<T: Copy>(dst: &mut [T], src: &[UnsafeCell<std::mem::MaybeUninit<T>>]) {
    assert_eq!(dst.len(), src.len(), "copy_from_cells: lengths differ");
    for (out, cell) in dst.iter_mut().zip(src) {
        // SAFETY: the cell is initialized (precondition 2) and not written concurrently
        // (precondition 3, checked by loom); `T: Copy`, so reading it leaves it valid.
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
