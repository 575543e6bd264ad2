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

super::traced_int!(AtomicUsize, ::shuttle::sync::atomic::AtomicUsize, usize);
super::traced_int!(AtomicU32, ::shuttle::sync::atomic::AtomicU32, u32);
super::traced_int!(AtomicU64, ::shuttle::sync::atomic::AtomicU64, u64);
super::traced_bool!(::shuttle::sync::atomic::AtomicBool);
super::traced_fence!(::shuttle::sync::atomic::fence);

/// The model thread the trace names: shuttle numbers its threads 0 (the test's main thread), 1…
pub(crate) fn thread_index() -> Option<usize> {
    Some(usize::from(::shuttle::thread::current().id()))
}
