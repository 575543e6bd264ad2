//! The operation trace behind readable counterexamples.
//!
//! The checker backends' shims call [`record`] after every atomic operation. While tracing is
//! on for the current OS thread (both loom and shuttle run every model thread as a coroutine on
//! the OS thread that called the checker, so a thread-local log sees the whole execution in
//! schedule order), each operation is appended as a [`Step`]; [`begin_execution`] clears the log
//! at the start of every explored execution, so when a model panics the log holds exactly the
//! failing interleaving. With tracing off a shim costs one thread-local read.
//!
//! A step keeps what the operation read and wrote as typed [`Value`]s; its text (`-> 1`,
//! `3 -> 4: ok`…) is derived from them when it is printed. This module knows no checker: each
//! backend passes its own [`ThreadIndex`] function in, called only while tracing is on.
//!
//! **Named locations.** A structure may name its atomics for the trace ([`name`], reached through
//! each backend's `name_location`): `head`, `next[A]`, `slot[1]`, with a [`Format`] that prints
//! their values the way the lesson speaks of them (a null index as `nil`, a tagged head as
//! `A/tag 3`). The names live in a thread-local registry keyed by the atomic's address, cleared
//! with the log by [`begin_execution`]; each [`Step`] carries the name its atomic had when it ran.
//! An atomic nobody named keeps its number, `#N`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A backend's way to name the model thread running now: 0 is the model's main thread, spawned
/// threads count from 1 (`None` if the checker cannot tell).
pub type ThreadIndex = fn() -> Option<usize>;

/// A value an atomic held: every integer width as a `u64`, and `AtomicBool`'s `bool`.
///
/// It prints as the atomic's own value would (`42`, `true`) and serializes as a JSON number or
/// boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// An `AtomicUsize`, `AtomicU32` or `AtomicU64` value.
    Int(u64),
    /// An `AtomicBool` value.
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => fmt::Display::fmt(n, f),
            Value::Bool(b) => fmt::Display::fmt(b, f),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Int(n)
    }
}

// `usize` is at most 64 bits on every target: the conversion below never truncates.
const _: () = assert!(usize::BITS <= u64::BITS);

impl From<usize> for Value {
    fn from(n: usize) -> Self {
        Value::Int(n as u64)
    }
}

/// How a named location's values print (`A/tag 3`, `nil`); shared by every step on it.
pub type Format = Arc<dyn Fn(Value) -> String + Send + Sync>;

/// A location's name for the trace, and how its values print.
#[derive(Clone)]
pub struct Name {
    /// `head`, `next[A]`, `slot[1]`, `ready`…
    pub text: Arc<str>,
    /// How its values print (`None`: as numbers and booleans).
    pub format: Option<Format>,
}

impl Name {
    /// `value` as this location's values print.
    pub fn show(&self, value: Value) -> String {
        match &self.format {
            Some(f) => f(value),
            None => value.to_string(),
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Name")
            .field("text", &self.text)
            .field("format", &self.format.is_some())
            .finish()
    }
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
    /// The value the operation read: a load's result, a read-modify-write's old value, the value a
    /// compare-exchange found (equal to `expected` when it succeeded). `None` for stores, fences
    /// and plain cell accesses.
    pub read: Option<Value>,
    /// The value the operation wrote: a store's, a read-modify-write's new value, a successful
    /// compare-exchange's new value. `None` for loads, failed compare-exchanges, fences and plain
    /// cell accesses.
    pub written: Option<Value>,
    /// The value a compare-exchange expected (`None` for every other operation).
    pub expected: Option<Value>,
    /// Whether a compare-exchange succeeded (`None` for every other operation).
    pub succeeded: Option<bool>,
    /// The name the atomic was given ([`name`]), if any.
    pub name: Option<Name>,
}

impl Step {
    /// What was read or written, as the trace prints it: `-> 1` (a load), `<- 42` (a store),
    /// `0 -> 1` (a read-modify-write), `3 -> 4: ok` / `expected 3, found 4: failed` (a
    /// compare-exchange), empty (a fence or a plain cell access). Derived from the typed fields.
    pub fn detail(&self) -> String {
        Detail(self, false).to_string()
    }

    /// [`Step::detail`] with the values printed through the location's [`Format`]
    /// (`A/tag 2 -> B/tag 3: ok`, `-> nil`); the same as `detail` for an unnamed atomic.
    pub fn detail_named(&self) -> String {
        Detail(self, true).to_string()
    }

    /// The location's name, or `#N` for an unnamed atomic (empty for a fence).
    pub fn location_name(&self) -> String {
        match (&self.name, self.object) {
            (Some(name), _) => name.text.to_string(),
            (None, Some(obj)) => format!("#{obj}"),
            (None, None) => String::new(),
        }
    }

    /// `value` as this step's location prints it.
    pub fn show(&self, value: Value) -> String {
        match &self.name {
            Some(name) => name.show(value),
            None => value.to_string(),
        }
    }
}

/// Writes a step's [`Step::detail`] (through its location's format when `.1`).
struct Detail<'a>(&'a Step, bool);

/// A value as [`Detail`] prints it.
struct Shown<'a>(&'a Step, bool, Value);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.name, self.1) {
            (Some(name), true) => f.write_str(&name.show(self.2)),
            _ => fmt::Display::fmt(&self.2, f),
        }
    }
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let v = |value| Shown(s, self.1, value);
        match (s.succeeded, s.expected.map(v), s.read.map(v), s.written.map(v)) {
            (Some(true), Some(expected), _, Some(new)) => write!(f, "{expected} -> {new}: ok"),
            (Some(false), Some(expected), Some(found), _) => {
                write!(f, "expected {expected}, found {found}: failed")
            }
            (_, _, Some(old), Some(new)) => write!(f, "{old} -> {new}"),
            (_, _, Some(read), None) => write!(f, "-> {read}"),
            (_, _, None, Some(written)) => write!(f, "<- {written}"),
            (_, _, None, None) => Ok(()),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{} {}:{} ", self.thread, self.location.file(), self.location.line())?;
        if let Some(obj) = self.object {
            write!(f, "#{obj} ")?;
        }
        write!(f, "{}({}) {}", self.op, self.ordering, Detail(self, false))
    }
}

struct Log {
    steps: Vec<Step>,
    objects: Vec<usize>,
    /// Named locations by address, and the order they were named in.
    names: HashMap<usize, Name>,
    named: Vec<usize>,
}

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
}

/// Turns tracing on for this OS thread with an empty log.
pub fn start() {
    LOG.with(|l| {
        *l.borrow_mut() = Some(Log {
            steps: Vec::new(),
            objects: Vec::new(),
            names: HashMap::new(),
            named: Vec::new(),
        });
    });
    ON.with(|on| on.set(true));
}

/// Clears the log and the named locations: call first thing in every model execution.
pub fn begin_execution() {
    LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            log.steps.clear();
            log.objects.clear();
            log.names.clear();
            log.named.clear();
        }
    });
}

/// Names the atomic at `address` (the address its shim passes to [`record`]) for the rest of this
/// execution, if tracing is on: later steps on it carry `name` and print values through `format`.
/// Naming an address again renames it.
pub fn name(address: usize, name: impl FnOnce() -> String, format: Option<Format>) {
    if ON.with(Cell::get) {
        LOG.with(|l| {
            if let Some(log) = l.borrow_mut().as_mut() {
                let named = Name {
                    text: name().into(),
                    format,
                };
                if log.names.insert(address, named).is_none() {
                    log.named.push(address);
                }
            }
        });
    }
}

/// The locations named so far in this execution, in the order they were named.
pub fn named_locations() -> Vec<Name> {
    LOG.with(|l| {
        l.borrow()
            .as_ref()
            .map(|log| log.named.iter().map(|a| log.names[a].clone()).collect())
            .unwrap_or_default()
    })
}

/// Turns tracing off and returns the steps of the last execution.
pub fn stop() -> Vec<Step> {
    stop_named().0
}

/// Turns tracing off and returns the steps of the last execution and the locations it named, in
/// the order they were named.
pub fn stop_named() -> (Vec<Step>, Vec<Name>) {
    ON.with(|on| on.set(false));
    LOG.with(|l| {
        l.borrow_mut()
            .take()
            .map(|mut log| {
                let named = log.named.iter().filter_map(|a| log.names.remove(a)).collect();
                (log.steps, named)
            })
            .unwrap_or_default()
    })
}

/// A copy of the steps logged so far in this execution (for a model's own failure message).
pub fn snapshot() -> Vec<Step> {
    LOG.with(|l| l.borrow().as_ref().map(|log| log.steps.clone()).unwrap_or_default())
}

/// How many steps logged so far in this execution satisfy `which` (a scheduler counting the
/// steps it has let happen, without copying the log).
pub fn count(which: impl Fn(&Step) -> bool) -> usize {
    LOG.with(|l| {
        l.borrow()
            .as_ref()
            .map_or(0, |log| log.steps.iter().filter(|s| which(s)).count())
    })
}

/// What one operation read and wrote, before it becomes a [`Step`].
struct Access {
    ordering: String,
    read: Option<Value>,
    written: Option<Value>,
    expected: Option<Value>,
    succeeded: Option<bool>,
}

/// Appends one atomic operation (or, with `object` 0, a fence) that read `read` and wrote
/// `written`, if tracing is on. `thread` names the model thread running now.
#[track_caller]
#[inline]
pub fn record(
    thread: ThreadIndex,
    object: usize,
    op: &'static str,
    ordering: Ordering,
    read: Option<Value>,
    written: Option<Value>,
) {
    if ON.with(Cell::get) {
        let access = Access {
            ordering: format!("{ordering:?}"),
            read,
            written,
            expected: None,
            succeeded: None,
        };
        push(thread, object, op, access, Location::caller());
    }
}

/// Appends one plain (non-atomic) access of a checker `UnsafeCell` if tracing is on.
#[track_caller]
#[inline]
pub fn record_plain(thread: ThreadIndex, object: usize, op: &'static str) {
    if ON.with(Cell::get) {
        let access = Access {
            ordering: "plain".to_string(),
            read: None,
            written: None,
            expected: None,
            succeeded: None,
        };
        push(thread, object, op, access, Location::caller());
    }
}

/// Appends one compare-exchange, with its `(success, failure)` orderings, the value it expected,
/// the value it would write and its result (`Ok(previous)` or `Err(found)`), if tracing is on.
#[track_caller]
#[inline]
pub fn record_cas<T: Into<Value>>(
    thread: ThreadIndex,
    object: usize,
    op: &'static str,
    (success, failure): (Ordering, Ordering),
    expected: T,
    new: T,
    result: Result<T, T>,
) {
    if ON.with(Cell::get) {
        let (read, written, succeeded) = match result {
            Ok(previous) => (previous.into(), Some(new.into()), true),
            Err(found) => (found.into(), None, false),
        };
        let access = Access {
            ordering: format!("{success:?}/{failure:?}"),
            read: Some(read),
            written,
            expected: Some(expected.into()),
            succeeded: Some(succeeded),
        };
        push(thread, object, op, access, Location::caller());
    }
}

fn push(thread: ThreadIndex, object: usize, op: &'static str, access: Access, location: &'static Location<'static>) {
    // Ask the backend before borrowing the log: its thread lookup must not re-enter this module.
    let thread = thread().unwrap_or(usize::MAX);
    LOG.with(|l| {
        let mut l = l.borrow_mut();
        let Some(log) = l.as_mut() else { return };
        let name = log.names.get(&object).cloned();
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
            ordering: access.ordering,
            read: access.read,
            written: access.written,
            expected: access.expected,
            succeeded: access.succeeded,
            name,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::{Location, Step, Value};

    /// A step of `op` on atomic #0 with the given typed fields.
    fn step(
        op: &'static str,
        read: Option<Value>,
        written: Option<Value>,
        expected: Option<Value>,
        succeeded: Option<bool>,
    ) -> Step {
        Step {
            thread: 1,
            location: Location::caller(),
            object: Some(0),
            op,
            ordering: "Relaxed".into(),
            read,
            written,
            expected,
            succeeded,
            name: None,
        }
    }

    #[test]
    fn the_detail_is_derived_from_the_typed_fields_as_the_trace_always_printed_it() {
        let int = |n: u64| Some(Value::Int(n));
        let cases = [
            (step("load", int(1), None, None, None), "-> 1"),
            (step("store", None, int(42), None, None), "<- 42"),
            (step("fetch_add", int(0), int(1), None, None), "0 -> 1"),
            (
                step("swap", Some(Value::Bool(false)), Some(Value::Bool(true)), None, None),
                "false -> true",
            ),
            (step("load", Some(Value::Bool(true)), None, None, None), "-> true"),
            (
                step("compare_exchange", int(3), int(4), int(3), Some(true)),
                "3 -> 4: ok",
            ),
            (
                step("compare_exchange", int(4), None, int(3), Some(false)),
                "expected 3, found 4: failed",
            ),
            (step("fence", None, None, None, None), ""),
        ];
        for (step, detail) in cases {
            assert_eq!(step.detail(), detail, "{step:?}");
            let line = step.to_string();
            assert!(line.ends_with(&format!("#0 {}(Relaxed) {detail}", step.op)), "{line}");
        }
    }

    #[test]
    fn a_named_atomic_s_steps_carry_its_name_and_format_until_the_next_execution() {
        use std::sync::atomic::Ordering::Relaxed;
        fn main_thread() -> Option<usize> {
            Some(0)
        }
        let (named, unnamed) = (0x1000_usize, 0x2000_usize);
        super::start();
        let nil: super::Format = std::sync::Arc::new(|v| match v {
            Value::Int(u64::MAX) => "nil".into(),
            v => v.to_string(),
        });
        super::name(named, || "head".into(), Some(nil));
        super::record(main_thread, named, "load", Relaxed, Some(Value::Int(u64::MAX)), None);
        super::record(main_thread, unnamed, "store", Relaxed, None, Some(Value::Int(7)));
        let steps = super::snapshot();
        assert_eq!(
            (steps[0].location_name(), steps[0].detail_named()),
            ("head".into(), "-> nil".into())
        );
        assert_eq!(steps[0].detail(), format!("-> {}", u64::MAX), "the raw text is kept");
        assert_eq!(
            (steps[1].location_name(), steps[1].detail_named()),
            ("#1".into(), "<- 7".into())
        );
        assert_eq!(super::named_locations().len(), 1);
        // A new execution forgets the names: the same address is a number again.
        super::begin_execution();
        super::record(main_thread, named, "load", Relaxed, Some(Value::Int(0)), None);
        let (steps, names) = super::stop_named();
        assert_eq!(steps[0].location_name(), "#0");
        assert!(names.is_empty());
    }

    #[test]
    fn values_serialize_as_json_numbers_and_booleans() {
        let json = serde_json::to_string(&[Some(Value::Int(7)), Some(Value::Bool(true)), None]).unwrap();
        assert_eq!(json, "[7,true,null]");
        assert_eq!(Value::from(usize::MAX), Value::Int(u64::MAX));
    }
}
