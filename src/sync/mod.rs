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

/// Writes the shim type `$name` around the checker's atomic `$inner` holding `$int`.
/// Every operation is `#[track_caller]` so the trace names the algorithm's line, not this file.
macro_rules! traced_int {
    ($name:ident, $inner:ty, $int:ty) => {
        #[doc = concat!("A traced `", stringify!($name), "` for the model checker.")]
        #[derive(Debug)]
        pub struct $name(pub(crate) $inner);

        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }

        #[allow(missing_docs)]
        impl $name {
            pub fn new(v: $int) -> Self {
                Self(<$inner>::new(v))
            }
            #[track_caller]
            pub fn load(&self, o: Ordering) -> $int {
                let v = self.0.load(o);
                $crate::sync::trace::record(self as *const _ as usize, "load", o, format_args!("-> {v}"));
                v
            }
            #[track_caller]
            pub fn store(&self, v: $int, o: Ordering) {
                self.0.store(v, o);
                $crate::sync::trace::record(self as *const _ as usize, "store", o, format_args!("<- {v}"));
            }
            #[track_caller]
            pub fn swap(&self, v: $int, o: Ordering) -> $int {
                let old = self.0.swap(v, o);
                $crate::sync::trace::record(self as *const _ as usize, "swap", o, format_args!("{old} -> {v}"));
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
                let r = self.0.compare_exchange(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    self as *const _ as usize,
                    "compare_exchange",
                    success,
                    failure,
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
                let r = self.0.compare_exchange_weak(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    self as *const _ as usize,
                    "compare_exchange_weak",
                    success,
                    failure,
                    current,
                    new,
                    r,
                );
                r
            }
            #[track_caller]
            pub fn fetch_add(&self, v: $int, o: Ordering) -> $int {
                let old = self.0.fetch_add(v, o);
                $crate::sync::trace::record(
                    self as *const _ as usize,
                    "fetch_add",
                    o,
                    format_args!("{old} -> {}", old.wrapping_add(v)),
                );
                old
            }
            #[track_caller]
            pub fn fetch_sub(&self, v: $int, o: Ordering) -> $int {
                let old = self.0.fetch_sub(v, o);
                $crate::sync::trace::record(
                    self as *const _ as usize,
                    "fetch_sub",
                    o,
                    format_args!("{old} -> {}", old.wrapping_sub(v)),
                );
                old
            }
            #[track_caller]
            pub fn fetch_or(&self, v: $int, o: Ordering) -> $int {
                let old = self.0.fetch_or(v, o);
                $crate::sync::trace::record(
                    self as *const _ as usize,
                    "fetch_or",
                    o,
                    format_args!("{old} -> {}", old | v),
                );
                old
            }
            #[track_caller]
            pub fn fetch_and(&self, v: $int, o: Ordering) -> $int {
                let old = self.0.fetch_and(v, o);
                $crate::sync::trace::record(
                    self as *const _ as usize,
                    "fetch_and",
                    o,
                    format_args!("{old} -> {}", old & v),
                );
                old
            }
        }
    };
}
pub(crate) use traced_int;

/// Writes the traced `AtomicBool` shim around the checker's `$inner`.
macro_rules! traced_bool {
    ($inner:ty) => {
        /// A traced `AtomicBool` for the model checker.
        #[derive(Debug)]
        pub struct AtomicBool(pub(crate) $inner);

        impl Default for AtomicBool {
            fn default() -> Self {
                Self::new(false)
            }
        }

        #[allow(missing_docs)]
        impl AtomicBool {
            pub fn new(v: bool) -> Self {
                Self(<$inner>::new(v))
            }
            #[track_caller]
            pub fn load(&self, o: Ordering) -> bool {
                let v = self.0.load(o);
                $crate::sync::trace::record(self as *const _ as usize, "load", o, format_args!("-> {v}"));
                v
            }
            #[track_caller]
            pub fn store(&self, v: bool, o: Ordering) {
                self.0.store(v, o);
                $crate::sync::trace::record(self as *const _ as usize, "store", o, format_args!("<- {v}"));
            }
            #[track_caller]
            pub fn swap(&self, v: bool, o: Ordering) -> bool {
                let old = self.0.swap(v, o);
                $crate::sync::trace::record(self as *const _ as usize, "swap", o, format_args!("{old} -> {v}"));
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
                let r = self.0.compare_exchange(current, new, success, failure);
                $crate::sync::trace::record_cas(
                    self as *const _ as usize,
                    "compare_exchange",
                    success,
                    failure,
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

/// Writes the traced `fence` around the checker's fence `$inner`.
macro_rules! traced_fence {
    ($inner:path) => {
        /// A traced memory fence for the model checker.
        #[track_caller]
        pub fn fence(o: Ordering) {
            $inner(o);
            $crate::sync::trace::record(0, "fence", o, format_args!(""));
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
