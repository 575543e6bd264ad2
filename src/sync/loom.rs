//! The loom backend: loom's atomics behind traced shims, loom's `UnsafeCell`, threads and `Arc`.

pub use ::loom::hint::spin_loop;
pub use ::loom::sync::atomic::Ordering;
pub use ::loom::sync::Arc;
pub use ::loom::thread;

super::traced_int!(AtomicUsize, ::loom::sync::atomic::AtomicUsize, usize);
super::traced_int!(AtomicU32, ::loom::sync::atomic::AtomicU32, u32);
super::traced_int!(AtomicU64, ::loom::sync::atomic::AtomicU64, u64);
super::traced_bool!(::loom::sync::atomic::AtomicBool);
super::traced_fence!(::loom::sync::atomic::fence);

/// The model thread the trace names: loom numbers its threads 0 (the model's main thread), 1, 2…
pub(crate) fn thread_index() -> Option<usize> {
    super::trace::parse_thread_id(&format!("{:?}", ::loom::thread::current().id()))
}

/// loom's `UnsafeCell` (it reports concurrent accesses as a causality violation), with each
/// access traced so that the counterexample shows the racing plain-memory read or write.
#[derive(Debug)]
pub struct UnsafeCell<T>(::loom::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(::loom::cell::UnsafeCell::new(value))
    }
    /// Runs `f` with a shared pointer to the contents (a plain read: traced before loom checks it).
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        super::trace::record_plain(self as *const _ as usize, "read");
        self.0.with(f)
    }
    /// Runs `f` with a mutable pointer to the contents (a plain write: traced before loom checks it).
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        super::trace::record_plain(self as *const _ as usize, "write");
        self.0.with_mut(f)
    }
    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}
