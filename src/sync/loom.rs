//! The loom backend: loom's atomics behind traced shims, loom's `UnsafeCell`, threads and `Arc`.

pub use ::loom::cell::UnsafeCell;
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
