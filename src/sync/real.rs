//! The real-hardware backend: std's items, re-exported unchanged (zero cost by construction).

pub use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
pub use std::sync::{Arc, Mutex};
pub use std::thread;

/// Busy-wait hint; on real cores a `pause` instruction, under a checker a yield.
pub use std::hint::spin_loop;

/// Exponential backoff for spin loops: crossbeam-utils' own (spin, then yield to the OS).
pub use crossbeam_utils::Backoff;

/// Nothing on real cores: a SeqCst store (or read-modify-write) then a SeqCst load are ordered
/// by the language itself (the loom backend's `seqcst_pair` models that for loom, which cannot).
#[inline(always)]
pub fn seqcst_pair(announce: Ordering, load: Ordering) {
    let _ = (announce, load);
}

/// Names an atomic for the checkers' trace: nothing to do on real cores.
#[inline(always)]
pub fn name_location<T>(atomic: &T, name: impl FnOnce() -> String, format: Option<crate::sync::trace::Format>) {
    let _ = (atomic, name, format);
}

/// A cell whose contents are shared by a protocol, with loom's closure API so algorithm code is
/// identical on every backend. On real hardware `with`/`with_mut` compile to a bare pointer.
#[derive(Debug)]
#[repr(transparent)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[inline(always)]
    pub const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }
    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Runs `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
    /// Unwraps the value.
    #[inline(always)]
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

/// Copies `src` into the run of cells `dst` one `T` at a time (the real backend's batch write).
///
/// Not with `memcpy`: the slots being filled are lines the consumer core read a lap ago, and on
/// a 2-vCPU Intel Xeon VM (family 6, model 167) glibc's `memcpy` of a 256-`u64` batch took 2.0×
/// the time of item-by-item stores into the same ring (it copies with 64-byte AVX-512 stores;
/// an explicit loop of 64-byte stores took 1.8×, of 16-byte stores 1.2–1.3×, of 8-byte stores
/// within 6% of rtrb's item-by-item chunk writes). The volatile store keeps the compiler from
/// turning this loop back into a `memcpy` call; it changes nothing else (plain `mov`s).
/// The read side keeps `memcpy` (copying *out of* lines the other core wrote was not slower).
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. No other thread reads or writes any cell of `dst` during the call: the caller owns them by
///    its protocol (for the SPSC ring: free slots, written only by the producer).
#[inline(always)]
pub unsafe fn copy_to_cells<T: Copy>(dst: &[UnsafeCell<std::mem::MaybeUninit<T>>], src: &[T]) {
    debug_assert_eq!(dst.len(), src.len(), "copy_to_cells: lengths differ");
    // `UnsafeCell<MaybeUninit<T>>` is `repr(transparent)` over std's `UnsafeCell`, itself
    // `repr(transparent)`, over `MaybeUninit<T>`, which has `T`'s layout: `dst` is `dst.len()`
    // contiguous `T` slots, writable through a shared reference (interior mutability), and nobody
    // else touches them (precondition 2). `src` has the same length (precondition 1) and cannot
    // overlap the cells: it is a `&[T]` while nobody holds a reference into them.
    let dst = dst.as_ptr() as *mut T;
    for (i, &value) in src.iter().enumerate() {
        // SAFETY: `dst` is `src.len()` contiguous, aligned `T` slots (above) and `i < src.len()`.
        unsafe { std::ptr::write_volatile(dst.add(i), value) }
    }
}

/// Copies the run of cells `src` out into `dst` with one `memcpy` (the real backend's batch read).
///
/// # Safety
/// 1. `dst.len() == src.len()`.
/// 2. Every cell of `src` is initialized.
/// 3. No other thread writes any cell of `src` during the call (for the SPSC ring: full slots,
///    which the producer does not write until the consumer publishes `head` past them).
#[inline(always)]
pub unsafe fn copy_from_cells<T: Copy>(dst: &mut [T], src: &[UnsafeCell<std::mem::MaybeUninit<T>>]) {
    debug_assert_eq!(dst.len(), src.len(), "copy_from_cells: lengths differ");
    // SAFETY: as in `copy_to_cells`, `src` is `src.len()` contiguous `T` slots; they are
    // initialized (precondition 2) and not written concurrently (precondition 3), so reading them
    // as `T: Copy` is a plain copy; `dst` has the same length (precondition 1) and, being a
    // `&mut [T]`, cannot overlap the cells.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr() as *const T, dst.as_mut_ptr(), dst.len()) }
}

/// Whether a structure's destructor may use this backend's atomics and cells while its thread
/// unwinds a panic. Yes on real hardware: they are plain instructions that cannot panic, so a ring
/// dropped during a panic still drops the items left inside, as std's collections do.
pub const DRAIN_WHILE_UNWINDING: bool = true;

/// The slots of a ring on real cores: `n` cells in one allocation whose start and size are
/// whole multiples of [`SLOT_ALIGN`] bytes, so that no slot shares a cache line, or an
/// adjacent-line prefetch pair, with any other allocation, and a batch of `SLOT_ALIGN` bytes'
/// worth of slots starting at a multiple of it covers whole lines only. Derefs to the slice of
/// cells. (The checkers' backends use a plain `Box<[UnsafeCell<…>]>`: there is no cache.)
pub struct Cells<T> {
    /// The first cell; dangling (but aligned) when nothing was allocated.
    ptr: std::ptr::NonNull<UnsafeCell<std::mem::MaybeUninit<T>>>,
    /// The number of cells.
    len: usize,
    /// The allocation's layout; size 0 when nothing was allocated.
    layout: std::alloc::Layout,
}

// SAFETY: `Cells<T>` owns its cells as a `Box<[UnsafeCell<MaybeUninit<T>>]>` would: sending it
// sends the `T`s inside; like that box it is not `Sync` (no impl).
unsafe impl<T: Send> Send for Cells<T> {}

/// The alignment of a ring's slot array on real cores: two 64-byte lines, the unit Intel's
/// spatial prefetcher fetches (crossbeam-utils' `CachePadded` uses 128 on x86-64 for the same
/// reason).
pub const SLOT_ALIGN: usize = 128;

impl<T> std::fmt::Debug for Cells<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cells").field("len", &self.len).finish_non_exhaustive()
    }
}

/// The slot array could not be allocated (or its size overflows a `Layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellsAllocError;

impl<T> std::ops::Deref for Cells<T> {
    type Target = [UnsafeCell<std::mem::MaybeUninit<T>>];
    fn deref(&self) -> &Self::Target {
        // SAFETY: `ptr` is aligned and, for a non-zero size, points at `len` cells of one live
        // allocation (a dangling aligned pointer is valid for zero-sized cells or `len == 0`);
        // an uninitialized cell is a valid value (see `uninit_cells`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for Cells<T> {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: allocated in `uninit_cells` with exactly this layout, freed once (here);
            // the cells hold `MaybeUninit`, so there is nothing to drop in them.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), self.layout) }
        }
    }
}

/// `n` cells holding `MaybeUninit::uninit()`, with no per-cell work: one allocation aligned to
/// [`SLOT_ALIGN`] (none for a zero-sized `T`), so even `usize::MAX / 4` zero-sized slots cost
/// nothing. An error if the allocation fails.
pub fn uninit_cells<T>(n: usize) -> Result<Cells<T>, CellsAllocError> {
    let cell = std::alloc::Layout::new::<UnsafeCell<std::mem::MaybeUninit<T>>>();
    let bytes = cell.size().checked_mul(n).ok_or(CellsAllocError)?;
    if bytes == 0 {
        return Ok(Cells {
            ptr: std::ptr::NonNull::dangling(),
            len: n,
            layout: std::alloc::Layout::new::<()>(),
        });
    }
    let align = cell.align().max(SLOT_ALIGN);
    let layout = std::alloc::Layout::from_size_align(bytes, align)
        .map_err(|_| CellsAllocError)?
        .pad_to_align();
    // SAFETY: `layout` has a non-zero size (checked above).
    let ptr = unsafe { std::alloc::alloc(layout) };
    let ptr = std::ptr::NonNull::new(ptr.cast()).ok_or(CellsAllocError)?;
    Ok(Cells { ptr, len: n, layout })
}
