//! The operation trace behind readable counterexamples.
//!
//! The checker backends' shims call [`record`] after every atomic operation. While tracing is
//! on for the current OS thread (both loom and shuttle run every model thread as a coroutine on
//! the OS thread that called the checker, so a thread-local log sees the whole execution in
//! schedule order), each operation is appended as a [`Step`]; [`begin_execution`] clears the log
//! at the start of every explored execution, so when a model panics the log holds exactly the
//! failing interleaving. With tracing off a shim costs one thread-local read.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;

/// Which checker is running on this OS thread (it decides how threads are named).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// loom's exhaustive exploration.
    Loom,
    /// shuttle's randomized / PCT schedulers.
    Shuttle,
}

/// One atomic operation of one model thread.
#[derive(Clone, Debug)]
pub struct Step {
    /// The model thread: 0 is the model's main thread, spawned threads count from 1.
    pub thread: usize,
    /// The algorithm line that performed the operation.
    pub location: &'static Location<'static>,
    /// Which atomic: numbered in the order the execution first touched it (`None` for fences).
    pub object: Option<usize>,
    /// `load`, `store`, `compare_exchange`, `fetch_add`, `fence`…
    pub op: &'static str,
    /// The ordering(s) the operation used.
    pub ordering: String,
    /// What was read or written: `-> 1`, `<- 42`, `0 -> 1`, `expected 3, found 4: failed`.
    pub detail: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{} {}:{} ", self.thread, self.location.file(), self.location.line())?;
        if let Some(obj) = self.object {
            write!(f, "#{obj} ")?;
        }
        write!(f, "{}({}) {}", self.op, self.ordering, self.detail)
    }
}

struct Log {
    backend: Backend,
    steps: Vec<Step>,
    objects: Vec<usize>,
}

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
}

/// Turns tracing on for this OS thread with an empty log.
pub fn start(backend: Backend) {
    LOG.with(|l| {
        *l.borrow_mut() = Some(Log {
            backend,
            steps: Vec::new(),
            objects: Vec::new(),
        });
    });
    ON.with(|on| on.set(true));
}

/// Clears the log: call first thing in every model execution.
pub fn begin_execution() {
    LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            log.steps.clear();
            log.objects.clear();
        }
    });
}

/// Turns tracing off and returns the steps of the last execution.
pub fn stop() -> Vec<Step> {
    ON.with(|on| on.set(false));
    LOG.with(|l| l.borrow_mut().take().map(|log| log.steps).unwrap_or_default())
}

/// A copy of the steps logged so far in this execution (for a model's own failure message).
pub fn snapshot() -> Vec<Step> {
    LOG.with(|l| l.borrow().as_ref().map(|log| log.steps.clone()).unwrap_or_default())
}

/// Appends one operation to the log if tracing is on.
#[track_caller]
#[inline]
pub fn record(object: usize, op: &'static str, ordering: Ordering, detail: fmt::Arguments<'_>) {
    if ON.with(Cell::get) {
        push(
            object,
            op,
            format!("{ordering:?}"),
            detail.to_string(),
            Location::caller(),
        );
    }
}

/// Appends one plain (non-atomic) access of a checker `UnsafeCell` if tracing is on.
#[track_caller]
#[inline]
pub fn record_plain(object: usize, op: &'static str) {
    if ON.with(Cell::get) {
        push(object, op, "plain".to_string(), String::new(), Location::caller());
    }
}

/// Appends one compare-exchange, with both orderings and its outcome, if tracing is on.
#[track_caller]
#[inline]
pub fn record_cas<T: fmt::Display>(
    object: usize,
    op: &'static str,
    success: Ordering,
    failure: Ordering,
    expected: T,
    new: T,
    result: Result<T, T>,
) {
    if ON.with(Cell::get) {
        let detail = match result {
            Ok(_) => format!("{expected} -> {new}: ok"),
            Err(found) => format!("expected {expected}, found {found}: failed"),
        };
        push(
            object,
            op,
            format!("{success:?}/{failure:?}"),
            detail,
            Location::caller(),
        );
    }
}

fn push(object: usize, op: &'static str, ordering: String, detail: String, location: &'static Location<'static>) {
    LOG.with(|l| {
        let mut l = l.borrow_mut();
        let Some(log) = l.as_mut() else { return };
        let thread = match log.backend {
            Backend::Loom => super::loom::thread_index(),
            Backend::Shuttle => super::shuttle::thread_index(),
        }
        .unwrap_or(usize::MAX);
        let object = (object != 0).then(|| match log.objects.iter().position(|&o| o == object) {
            Some(i) => i,
            None => {
                log.objects.push(object);
                log.objects.len() - 1
            }
        });
        log.steps.push(Step {
            thread,
            location,
            object,
            op,
            ordering,
            detail,
        });
    });
}

/// Reads the number out of a `ThreadId(N)` debug string.
pub(crate) fn parse_thread_id(debug: &str) -> Option<usize> {
    debug.trim_start_matches("ThreadId(").trim_end_matches(')').parse().ok()
}
