//! The sync layer: the only code in the crate that names `std::sync::atomic`, loom or shuttle.
//!
//! Every algorithm file imports its atomics, cells and threads from `super::sync` and is
//! compiled three times in the same build (the `backends!` macro in `lib.rs`):
//!
//! | backend      | what it is                                   | used by                        |
//! |--------------|----------------------------------------------|--------------------------------|
//! | [`real`]     | `std` atomics re-exported as they are        | examples, benches, `lab run`   |
//! | [`loom`]     | loom's atomics, each operation traced        | loom model tests, `lab check`  |
//! | [`shuttle`]  | shuttle's atomics, each operation traced     | shuttle model tests            |
//!
//! The `real` backend is a plain `pub use` of the std items, so the algorithm compiled for it is
//! exactly the hand-written std code: no wrapper, no branch, no cost. The two checker backends wrap
//! every atomic in a `#[track_caller]` shim that appends the operation to the thread-local
//! [`trace`] when tracing is on, so that a failing model run can be printed as numbered steps.

pub mod loom;
pub mod real;
pub mod shuttle;
pub mod trace;

/// The OS thread a checker object (a traced atomic or cell of the loom or shuttle backend) was
/// created on.
///
/// loom and shuttle run every model thread as a coroutine on the OS thread that called the
/// checker, so a checker object is only ever touched by the OS thread that created it. Both
/// types are `Send + Sync` (model threads share them), so safe code could still hand one to a
/// *second* OS thread running its own execution: then two real threads would race on the
/// checker's bookkeeping and on a cell's contents, which neither checker sees. Every access checks
/// the owner first and panics, before touching anything, when another OS thread tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner(std::thread::ThreadId);

thread_local! {
    /// This OS thread's id, cached: `thread::current()` clones an `Arc` on every call.
    static OS_THREAD: std::thread::ThreadId = std::thread::current().id();
}

impl Owner {
    /// The OS thread running now.
    pub fn current() -> Self {
        Self(OS_THREAD.with(|id| *id))
    }

    /// Panics unless the OS thread running now is the owner.
    #[track_caller]
    pub fn check(self) {
        let here = Self::current();
        assert!(
            here == self,
            "checker object used from another OS thread: a loom or shuttle object belongs to the model \
             execution (and OS thread) that created it; {here:?} touched one created on {self:?}"
        );
    }
}

/// Writes the shim type `$name` around the checker's atomic `$inner` holding `$int`; `$thread` is
/// the backend's [`trace::ThreadIndex`] function. Every operation is `#[track_caller]` so the
/// trace names the algorithm's line, not this file.
macro_rules! traced_int {
    ($name:ident, $inner:ty, $int:ty, $thread:path) => {
        #[doc = concat!("A traced `", stringify!($name), "` for the model checker.")]
        #[derive(Debug)]
        pub struct $name {
            inner: $inner,
            owner: $crate::sync::Owner,
        }

        impl $name {
            /// The checker's atomic, after checking that this OS thread owns it.
            #[track_caller]
            fn checked(&self) -> &$inner {
                self.owner.check();
                &self.inner
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }

        #[allow(missing_docs)]
        impl $name {
            pub fn new(v: $int) -> Self {
                Self {
                    inner: <$inner>::new(v),
                    owner: $crate::sync::Owner::current(),
                }
            }
            #[track_caller]
            pub fn load(&self, o: Ordering) -> $int {
                let v = self.checked().load(o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "load",
                    o,
                    Some($crate::sync::trace::Value::from(v)),
                    None,
                );
                v
            }
            #[track_caller]
            pub fn store(&self, v: $int, o: Ordering) {
                self.checked().store(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "store",
                    o,
                    None,
                    Some($crate::sync::trace::Value::from(v)),
                );
            }
            #[track_caller]
            pub fn swap(&self, v: $int, o: Ordering) -> $int {
                let old = self.checked().swap(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "swap",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(v)),
                );
                old
            }
            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                let r = self.checked().compare_exchange(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    $thread,
                    self as *const _ as usize,
                    "compare_exchange",
                    (success, failure),
                    current,
                    new,
                    r,
                );
                r
            }
            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                let r = self
                    .checked()
                    .compare_exchange_weak(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    $thread,
                    self as *const _ as usize,
                    "compare_exchange_weak",
                    (success, failure),
                    current,
                    new,
                    r,
                );
                r
            }
            #[track_caller]
            pub fn fetch_add(&self, v: $int, o: Ordering) -> $int {
                let old = self.checked().fetch_add(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "fetch_add",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(old.wrapping_add(v))),
                );
                old
            }
            #[track_caller]
            pub fn fetch_sub(&self, v: $int, o: Ordering) -> $int {
                let old = self.checked().fetch_sub(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "fetch_sub",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(old.wrapping_sub(v))),
                );
                old
            }
            #[track_caller]
            pub fn fetch_or(&self, v: $int, o: Ordering) -> $int {
                let old = self.checked().fetch_or(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "fetch_or",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(old | v)),
                );
                old
            }
            #[track_caller]
            pub fn fetch_and(&self, v: $int, o: Ordering) -> $int {
                let old = self.checked().fetch_and(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "fetch_and",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(old & v)),
                );
                old
            }
        }
    };
}
pub(crate) use traced_int;

/// Writes the traced `AtomicBool` shim around the checker's `$inner`; `$thread` is the backend's
/// [`trace::ThreadIndex`] function.
macro_rules! traced_bool {
    ($inner:ty, $thread:path) => {
        /// A traced `AtomicBool` for the model checker.
        #[derive(Debug)]
        pub struct AtomicBool {
            inner: $inner,
            owner: $crate::sync::Owner,
        }

        impl AtomicBool {
            /// The checker's atomic, after checking that this OS thread owns it.
            #[track_caller]
            fn checked(&self) -> &$inner {
                self.owner.check();
                &self.inner
            }
        }

        impl Default for AtomicBool {
            fn default() -> Self {
                Self::new(false)
            }
        }

        #[allow(missing_docs)]
        impl AtomicBool {
            pub fn new(v: bool) -> Self {
                Self {
                    inner: <$inner>::new(v),
                    owner: $crate::sync::Owner::current(),
                }
            }
            #[track_caller]
            pub fn load(&self, o: Ordering) -> bool {
                let v = self.checked().load(o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "load",
                    o,
                    Some($crate::sync::trace::Value::from(v)),
                    None,
                );
                v
            }
            #[track_caller]
            pub fn store(&self, v: bool, o: Ordering) {
                self.checked().store(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "store",
                    o,
                    None,
                    Some($crate::sync::trace::Value::from(v)),
                );
            }
            #[track_caller]
            pub fn swap(&self, v: bool, o: Ordering) -> bool {
                let old = self.checked().swap(v, o);
                $crate::sync::trace::record(
                    $thread,
                    self as *const _ as usize,
                    "swap",
                    o,
                    Some($crate::sync::trace::Value::from(old)),
                    Some($crate::sync::trace::Value::from(v)),
                );
                old
            }
            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: bool,
                new: bool,
                success: Ordering,
                failure: Ordering,
            ) -> Result<bool, bool> {
                let r = self.checked().compare_exchange(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    $thread,
                    self as *const _ as usize,
                    "compare_exchange",
                    (success, failure),
                    current,
                    new,
                    r,
                );
                r
            }
        }
    };
}
pub(crate) use traced_bool;

/// Writes the traced `fence` around the checker's fence `$inner`; `$thread` is the backend's
/// [`trace::ThreadIndex`] function.
macro_rules! traced_fence {
    ($inner:path, $thread:path) => {
        /// A traced memory fence for the model checker.
        #[track_caller]
        pub fn fence(o: Ordering) {
            $inner(o);
            $crate::sync::trace::record($thread, 0, "fence", o, None, None);
        }
    };
}
pub(crate) use traced_fence;

/// Writes `Backoff` for a checker backend: every `spin`/`snooze` is one checker yield (the
/// backend's `spin_loop`), so a spin loop lets the other model threads run instead of growing the
/// state space; crossbeam's `Backoff` would spin on the real CPU, invisible to the checker.
macro_rules! checker_backoff {
    () => {
        /// Backoff under the model checker: each call is one checker yield.
        #[derive(Debug, Default)]
        pub struct Backoff(());

        impl Backoff {
            /// A fresh backoff.
            pub fn new() -> Self {
                Self(())
            }
            /// After a lost race (a failed CAS): yield to the checker.
            pub fn spin(&self) {
                spin_loop();
            }
            /// While waiting for another thread to finish a step: yield to the checker.
            pub fn snooze(&self) {
                spin_loop();
            }
        }
    };
}
pub(crate) use checker_backoff;

#[cfg(test)]
mod tests {
    use crate::check;
    use std::sync::Mutex;

    /// Runs `scenario` under shuttle on a second OS thread and returns the report.
    fn shuttle_on_another_thread(scenario: impl Fn() + Send + Sync + 'static) -> check::Report {
        std::thread::spawn(move || check::shuttle_random(10, check::DEFAULT_SEED, scenario))
            .join()
            .expect("the checker catches the panic")
    }

    const WRONG_THREAD: &str = "checker object used from another OS thread";

    #[test]
    fn a_shuttle_atomic_created_on_one_os_thread_is_refused_on_another() {
        let shared = std::sync::Arc::new(super::shuttle::AtomicUsize::new(0));
        let report = shuttle_on_another_thread(move || {
            shared.fetch_add(1, super::shuttle::Ordering::Relaxed);
        });
        report.assert_found(WRONG_THREAD);
    }

    #[test]
    fn a_loom_cell_created_on_one_os_thread_is_refused_on_another() {
        let cell = std::sync::Arc::new(Mutex::new(None::<super::loom::UnsafeCell<u64>>));
        let stash = std::sync::Arc::clone(&cell);
        // The first OS thread creates the cell inside its own loom execution and keeps it.
        check::loom(None, move || {
            stash
                .lock()
                .unwrap()
                .get_or_insert_with(|| super::loom::UnsafeCell::new(7));
        })
        .assert_passed();
        // A loom execution on another OS thread touches it: refused before the access.
        let report = std::thread::spawn(move || {
            check::loom(None, move || {
                let guard = cell.lock().unwrap();
                // SAFETY: never reached: the owner check panics first (the cell belongs to another OS thread).
                guard.as_ref().unwrap().with(|p| unsafe { *p });
            })
        })
        .join()
        .unwrap();
        report.assert_found(WRONG_THREAD);
    }

    #[test]
    fn the_same_objects_on_their_own_os_thread_pass() {
        let shared = std::sync::Arc::new(super::shuttle::AtomicUsize::new(0));
        check::shuttle_random(10, check::DEFAULT_SEED, move || {
            shared.fetch_add(1, super::shuttle::Ordering::Relaxed);
        })
        .assert_passed();
    }

    /// The review's case: two shuttle executions on two OS threads sharing one broken RCU cell
    /// (its reader really raced with the other thread's writer and read poison).
    #[cfg(feature = "epoch")]
    #[test]
    fn two_os_threads_sharing_a_checker_only_broken_rcu_cell_are_stopped() {
        use crate::reclaim::shuttle::broken;
        let (writer, reader) = broken::new(1);
        let writer = std::sync::Arc::new(Mutex::new(writer));
        // A `Reader` is `Send`, not `Sync`: a std `Mutex` lets the checker's `Fn` share it. Leaked:
        // its drop would lock the cell's shuttle mutex outside any shuttle execution.
        let reader: &'static Mutex<broken::Reader> = Box::leak(Box::new(Mutex::new(reader)));
        let report = shuttle_on_another_thread(move || {
            reader.lock().unwrap().read(|v| *v);
        });
        report.assert_found(WRONG_THREAD);
        let report = shuttle_on_another_thread(move || writer.lock().unwrap().update(2));
        report.assert_found(WRONG_THREAD);
    }
}
