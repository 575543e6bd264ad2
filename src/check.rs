//! Running a model checker in-process and reporting what it found.
//!
//! [`loom`](fn@loom), [`shuttle_random`] and [`shuttle_pct`] run a scenario under a checker, count the
//! executions it explored, catch the failure instead of unwinding through the caller, and keep
//! the failing execution's operation [`crate::sync::trace`] for a readable counterexample.
//! The model tests in `loom-tests/` and the lab binary both use them, so what a test asserts is
//! what the lab shows.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crate::sync::trace::{self, Name, Step, Value};

/// The seed every shuttle run uses unless told otherwise, so runs (and executions to first
/// failure) are reproducible.
pub const DEFAULT_SEED: u64 = 0x10c4_f7ee;

/// What one checker run found.
#[derive(Debug)]
pub struct Report {
    /// `loom`, `shuttle random` or `shuttle PCT(depth d)`.
    pub checker: String,
    /// Executions explored; on failure, up to and including the failing one.
    pub executions: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// The first failure, if the checker found one.
    pub failure: Option<Failure>,
}

/// A failing execution.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The panic message (an assertion of the scenario, or the checker's own verdict).
    pub message: String,
    /// Every traced atomic operation of the failing execution up to the panic, in schedule order.
    pub trace: Vec<Step>,
}

impl Report {
    /// True when the checker found a failure whose message contains `reason`.
    pub fn found(&self, reason: &str) -> bool {
        self.failure.as_ref().is_some_and(|f| f.message.contains(reason))
    }

    /// Panics (printing this report) unless the checker found a failure containing `reason`.
    #[track_caller]
    pub fn assert_found(&self, reason: &str) -> &Failure {
        assert!(
            self.found(reason),
            "expected the checker to find `{reason}`, but:\n{self}"
        );
        self.failure.as_ref().expect("found() checked it")
    }

    /// Panics (printing the counterexample) if the checker found any failure.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.failure.is_none(), "expected no failure, but:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(
                f,
                "{}: passed, {} executions explored in {:.2?}",
                self.checker, self.executions, self.elapsed
            ),
            Some(failure) => {
                writeln!(
                    f,
                    "{}: FAILED at execution {} after {:.2?}: {}",
                    self.checker, self.executions, self.elapsed, failure.message
                )?;
                for (i, step) in failure.trace.iter().enumerate() {
                    writeln!(f, "  {:>2}. {step}", i + 1)?;
                }
                Ok(())
            }
        }
    }
}

thread_local! {
    /// Set while a checker runs on this OS thread: panics are recorded, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The first panic of the current checker run, with the trace at that moment.
    static CAUGHT: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that, on a thread running a checker, records the first panic
/// and its trace instead of printing; on every other thread it defers to the previous hook.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // shuttle installs its own hook (once, at its first run) that prints for every panic, even
        // loom's; make it install now so that ours wraps it and can keep checker runs quiet.
        ::shuttle::Runner::new(::shuttle::scheduler::RandomScheduler::new(1), shuttle_config()).run(|| {});
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                CAUGHT.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.is_none() {
                        *c = Some(Failure {
                            message: payload_text(info.payload()),
                            trace: trace::snapshot(),
                        });
                    }
                });
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

type Body = Box<dyn Fn() + Send + Sync + 'static>;

fn run(checker: String, drive: impl FnOnce(Body), scenario: impl Fn() + Send + Sync + 'static) -> Report {
    run_traced(checker, drive, scenario).0
}

/// [`run`], also returning the last execution's whole trace and the locations it named (the
/// trace of a passing execution too: the scheduler game shows it).
fn run_traced(
    checker: String,
    drive: impl FnOnce(Body),
    scenario: impl Fn() + Send + Sync + 'static,
) -> (Report, Vec<Step>, Vec<Name>) {
    install_hook();
    let executions = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&executions);
    let body: Body = Box::new(move || {
        // ORDERING: Relaxed — a plain tally read after the checker returns on this OS thread.
        counted.fetch_add(1, Ordering::Relaxed);
        trace::begin_execution();
        scenario();
    });
    CAUGHT.with(|c| c.borrow_mut().take());
    trace::start();
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| drive(body)));
    let elapsed = start.elapsed();
    QUIET.with(|q| q.set(false));
    let (steps, names) = trace::stop_named();
    let caught = CAUGHT.with(|c| c.borrow_mut().take());
    let failure = outcome.err().map(|payload| {
        caught.unwrap_or_else(|| Failure {
            message: payload_text(payload.as_ref()),
            trace: Vec::new(),
        })
    });
    let report = Report {
        checker,
        // ORDERING: Relaxed — the checker ran on this OS thread and has returned.
        executions: executions.load(Ordering::Relaxed),
        elapsed,
        failure,
    };
    (report, steps, names)
}

/// Explores every interleaving (and every value a relaxed load may read) with loom, up to
/// `preemption_bound` preemptions per execution (`None`: unbounded, or `LOOM_MAX_PREEMPTIONS`).
pub fn loom(preemption_bound: Option<usize>, scenario: impl Fn() + Send + Sync + 'static) -> Report {
    let mut builder = ::loom::model::Builder::new();
    if preemption_bound.is_some() {
        builder.preemption_bound = preemption_bound;
    }
    let name = match builder.preemption_bound {
        Some(b) => format!("loom (preemption bound {b})"),
        None => "loom".to_string(),
    };
    run(name, move |body| builder.check(body), scenario)
}

fn shuttle_config() -> ::shuttle::Config {
    let mut config = ::shuttle::Config::new();
    config.silence_warnings = true;
    config.failure_persistence = ::shuttle::FailurePersistence::None;
    config
}

/// Runs `iterations` random schedules with shuttle's random scheduler, seeded with `seed`.
pub fn shuttle_random(iterations: usize, seed: u64, scenario: impl Fn() + Send + Sync + 'static) -> Report {
    let scheduler = ::shuttle::scheduler::RandomScheduler::new_from_seed(seed, iterations);
    let runner = ::shuttle::Runner::new(scheduler, shuttle_config());
    run(
        "shuttle random".into(),
        move |body| {
            runner.run(body);
        },
        scenario,
    )
}

/// Runs `scenario` once under shuttle with `scheduler` deciding every step (the scheduler game's
/// own scheduler), tracing it. Returns the report (a failure if the scenario panicked), the
/// execution's whole trace, passing or not, and the locations it named.
pub fn shuttle_scheduled(
    scheduler: impl ::shuttle::scheduler::Scheduler + 'static,
    scenario: impl Fn() + Send + Sync + 'static,
) -> (Report, Vec<Step>, Vec<Name>) {
    let runner = ::shuttle::Runner::new(scheduler, shuttle_config());
    run_traced(
        "shuttle (scheduled)".into(),
        move |body| {
            runner.run(body);
        },
        scenario,
    )
}

/// Runs `iterations` schedules with shuttle's PCT scheduler at bug depth `depth` (≥ 2 finds
/// ordering bugs between two threads; depth 1 never preempts), seeded with `seed`.
pub fn shuttle_pct(iterations: usize, depth: usize, seed: u64, scenario: impl Fn() + Send + Sync + 'static) -> Report {
    let scheduler = ::shuttle::scheduler::PctScheduler::new_from_seed(seed, depth, iterations);
    let runner = ::shuttle::Runner::new(scheduler, shuttle_config());
    run(
        format!("shuttle PCT(depth {depth})"),
        move |body| {
            runner.run(body);
        },
        scenario,
    )
}

/// One counterexample step made readable: the trace step, the algorithm's source line, a note
/// where a load read a value older than the latest store the schedule had already made (a
/// *stale* read, possible only through weak ordering), and the happens-before edges it takes part
/// in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadableStep {
    /// 1-based step number.
    pub number: usize,
    /// `T1`, `T2`… (`T0` is the model's main thread).
    pub thread: String,
    /// `src/concurrency/litmus/mp.rs:34`.
    pub location: String,
    /// The source line at that location, trimmed (empty if the source is not at hand).
    pub code: String,
    /// Which atomic (`#0`, `#1`… in order of first use; empty for fences).
    pub object: String,
    /// The atomic's name (`head`, `next[A]`), or `#N` when the structure did not name it (empty
    /// for fences).
    pub name: String,
    /// `load`, `store`, `compare_exchange`…
    pub operation: String,
    /// The ordering(s) used.
    pub ordering: String,
    /// The value read or written, as text: `-> 1`, `<- 42`, `0 -> 1`, `3 -> 4: ok`…
    pub value: String,
    /// [`value`](Self::value) printed through the location's format: `-> A/tag 2`, `<- nil`.
    pub shown: String,
    /// `stale: the latest store to #1 was 42` or empty.
    pub note: String,
    /// The value read (a number or a boolean; `null` for stores, fences and plain accesses).
    pub read: Option<Value>,
    /// The value written (`null` for loads, failed compare-exchanges, fences and plain accesses).
    pub written: Option<Value>,
    /// The value a compare-exchange expected (`null` for every other operation).
    pub expected: Option<Value>,
    /// Whether a compare-exchange succeeded (`null` for every other operation).
    pub succeeded: Option<bool>,
    /// For a step that reads: the number of the step whose write it read (the latest earlier
    /// write of the value read to the same atomic; `null`: the initial value).
    pub reads_from: Option<usize>,
    /// For an acquire read (Acquire, AcqRel or SeqCst; a failed CAS by its failure ordering): the
    /// release write it synchronizes with — the write it read when that is Release, AcqRel or
    /// SeqCst, or the head of the release sequence a read-modify-write it read continues.
    pub synchronizes_with: Option<usize>,
}

/// Reads line `line` of `file` (a path relative to this crate's root, as `Location` gives it).
pub fn source_line(file: &str, line: u32) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().nth(line as usize - 1).map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

/// The orderings a step read and wrote with: a CAS's success ordering for its write and for the
/// read of a success, its failure ordering for the read of a failure.
fn step_orderings(step: &Step) -> (&str, &str) {
    let (success, failure) = step
        .ordering
        .split_once('/')
        .unwrap_or((&step.ordering, &step.ordering));
    let read = if step.succeeded == Some(false) {
        failure
    } else {
        success
    };
    (read, success)
}

fn is_acquire(ordering: &str) -> bool {
    matches!(ordering, "Acquire" | "AcqRel" | "SeqCst")
}

fn is_release(ordering: &str) -> bool {
    matches!(ordering, "Release" | "AcqRel" | "SeqCst")
}

/// One write the edges may read from: its step number, the value, and the release write an
/// acquire read of it synchronizes with: itself when it is a release, the head of the release
/// sequence a read-modify-write continues, `None` otherwise.
struct Write {
    number: usize,
    value: Value,
    release_head: Option<usize>,
}

/// Makes a failing trace readable: source lines, names, stale reads marked, and the reads-from
/// and synchronizes-with edges.
///
/// A read is stale when it differs from the latest value the schedule had already written to
/// that atomic (or, before any write, from the first value read from it).
pub fn readable(trace: &[Step]) -> Vec<ReadableStep> {
    let mut latest: std::collections::HashMap<usize, Value> = std::collections::HashMap::new();
    let mut writes: std::collections::HashMap<usize, Vec<Write>> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(trace.len());
    for (i, step) in trace.iter().enumerate() {
        let number = i + 1;
        let mut note = String::new();
        let (mut reads_from, mut synchronizes_with) = (None, None);
        if let Some(obj) = step.object {
            if let (Some(read), Some(last)) = (step.read, latest.get(&obj)) {
                if *last != read {
                    note = format!(
                        "stale: the latest store to {} was {}",
                        step.location_name(),
                        step.show(*last)
                    );
                }
            }
            if let Some(written) = step.written {
                latest.insert(obj, written);
            } else if let Some(read) = step.read {
                latest.entry(obj).or_insert(read);
            }
            let (read_ordering, write_ordering) = step_orderings(step);
            let history = writes.entry(obj).or_default();
            let mut continued = None;
            if let Some(read) = step.read {
                if let Some(w) = history.iter().rev().find(|w| w.value == read) {
                    reads_from = Some(w.number);
                    continued = w.release_head;
                    if is_acquire(read_ordering) {
                        synchronizes_with = w.release_head;
                    }
                }
            }
            if let Some(value) = step.written {
                let rmw = step.read.is_some();
                let release_head = if is_release(write_ordering) {
                    Some(number)
                } else if rmw {
                    continued
                } else {
                    None
                };
                history.push(Write {
                    number,
                    value,
                    release_head,
                });
            }
        }
        out.push(ReadableStep {
            number,
            thread: format!("T{}", step.thread),
            location: format!("{}:{}", step.location.file(), step.location.line()),
            code: source_line(step.location.file(), step.location.line()),
            object: step.object.map(|o| format!("#{o}")).unwrap_or_default(),
            name: step.location_name(),
            operation: step.op.to_string(),
            ordering: step.ordering.clone(),
            value: step.detail(),
            shown: step.detail_named(),
            note,
            read: step.read,
            written: step.written,
            expected: step.expected,
            succeeded: step.succeeded,
            reads_from,
            synchronizes_with,
        });
    }
    out
}

impl fmt::Display for ReadableStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The location's name (`#N` when unnamed) in a column of at least 4, then a space.
        let width = 4.max(self.name.chars().count() + 1);
        write!(
            f,
            "{:>3}. {} {:<36} {:<width$}{}({}) {}",
            self.number, self.thread, self.location, self.name, self.operation, self.ordering, self.shown
        )?;
        if !self.note.is_empty() {
            write!(f, "   <- {}", self.note)?;
        }
        if !self.code.is_empty() {
            write!(f, "\n       | {}", self.code)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{readable, Report, Step};
    use crate::sync::trace::Value;
    use crate::sync::{loom as lm, shuttle as sh};
    use std::panic::Location;

    /// A hand-built step of thread `thread` on atomic `object`.
    fn step(thread: usize, object: usize, op: &'static str, read: Option<u64>, written: Option<u64>) -> Step {
        Step {
            thread,
            location: Location::caller(),
            object: Some(object),
            op,
            ordering: "Relaxed".into(),
            read: read.map(Value::Int),
            written: written.map(Value::Int),
            expected: None,
            succeeded: None,
            name: None,
        }
    }

    #[test]
    fn a_read_older_than_the_latest_store_is_marked_stale_from_the_typed_values() {
        let trace = [
            step(1, 0, "store", None, Some(42)),
            step(1, 1, "store", None, Some(1)),
            step(2, 1, "load", Some(1), None),
            step(2, 0, "load", Some(0), None),
            step(2, 0, "fetch_add", Some(42), Some(43)),
            step(2, 0, "load", Some(42), None),
        ];
        let steps = readable(&trace);
        let notes: Vec<&str> = steps.iter().map(|s| s.note.as_str()).collect();
        assert_eq!(
            notes,
            [
                "",
                "",
                "",
                "stale: the latest store to #0 was 42",
                "",
                "stale: the latest store to #0 was 43"
            ]
        );
        assert_eq!(steps[3].value, "-> 0");
        assert_eq!((steps[3].read, steps[3].written), (Some(Value::Int(0)), None));
        assert_eq!(steps[4].value, "42 -> 43");
        assert_eq!(steps[4].to_string().lines().next().unwrap().trim_end(), {
            let loc = format!("{}:{}", trace[4].location.file(), trace[4].location.line());
            format!("  5. T2 {loc:<36} #0  fetch_add(Relaxed) 42 -> 43")
        });
    }

    #[test]
    fn a_first_read_is_the_reference_for_the_next_read_of_the_same_atomic() {
        let trace = [
            step(1, 0, "load", Some(5), None),
            step(2, 0, "load", Some(4), None),
            step(2, 1, "load", Some(4), None),
        ];
        let notes: Vec<String> = readable(&trace).into_iter().map(|s| s.note).collect();
        assert_eq!(notes, ["", "stale: the latest store to #0 was 5", ""]);
    }

    /// `step` with `ordering`.
    #[track_caller]
    fn ordered(
        thread: usize,
        object: usize,
        op: &'static str,
        ordering: &str,
        read: Option<u64>,
        written: Option<u64>,
    ) -> Step {
        Step {
            ordering: ordering.into(),
            ..step(thread, object, op, read, written)
        }
    }

    /// `(reads_from, synchronizes_with)` of every step.
    fn edges(trace: &[Step]) -> Vec<(Option<usize>, Option<usize>)> {
        readable(trace)
            .iter()
            .map(|s| (s.reads_from, s.synchronizes_with))
            .collect()
    }

    #[test]
    fn a_release_store_read_by_an_acquire_load_is_a_synchronizes_with_edge() {
        let trace = [
            ordered(1, 0, "store", "Relaxed", None, Some(42)),
            ordered(1, 1, "store", "Release", None, Some(1)),
            ordered(2, 1, "load", "Acquire", Some(1), None),
            ordered(2, 0, "load", "Relaxed", Some(42), None),
        ];
        assert_eq!(
            edges(&trace),
            [(None, None), (None, None), (Some(2), Some(2)), (Some(1), None)]
        );
    }

    /// The twin: the same pair with Relaxed on either side reads from the store but does not
    /// synchronize with it.
    #[test]
    fn a_relaxed_pair_reads_from_but_does_not_synchronize() {
        for (store, load) in [("Relaxed", "Acquire"), ("Release", "Relaxed"), ("Relaxed", "Relaxed")] {
            let trace = [
                ordered(1, 1, "store", store, None, Some(1)),
                ordered(2, 1, "load", load, Some(1), None),
            ];
            assert_eq!(edges(&trace), [(None, None), (Some(1), None)], "{store} -> {load}");
        }
    }

    #[test]
    fn a_read_of_the_initial_value_reads_from_no_step_and_the_latest_equal_write_wins() {
        let trace = [
            ordered(2, 0, "load", "Acquire", Some(0), None),
            ordered(1, 0, "store", "Release", None, Some(5)),
            ordered(1, 0, "store", "Relaxed", None, Some(6)),
            ordered(1, 0, "store", "Relaxed", None, Some(5)),
            ordered(2, 0, "load", "Acquire", Some(5), None),
        ];
        let e = edges(&trace);
        assert_eq!(e[0], (None, None));
        assert_eq!(e[4], (Some(4), None), "the relaxed store of 5 is the latest 5");
    }

    #[test]
    fn a_relaxed_read_modify_write_continues_the_release_sequence() {
        let trace = [
            ordered(0, 0, "store", "Release", None, Some(1)),
            ordered(1, 0, "fetch_add", "Relaxed", Some(1), Some(2)),
            ordered(2, 0, "load", "Acquire", Some(2), None),
            ordered(2, 0, "store", "Relaxed", None, Some(7)),
            ordered(1, 0, "fetch_add", "Relaxed", Some(7), Some(8)),
            ordered(2, 0, "load", "Acquire", Some(8), None),
        ];
        let e = edges(&trace);
        assert_eq!(e[1], (Some(1), None), "a Relaxed RMW does not acquire");
        assert_eq!(
            e[2],
            (Some(2), Some(1)),
            "the RMW carries the Release store's sequence: sw from the store"
        );
        assert_eq!(e[5], (Some(5), None), "a Relaxed store ends the release sequence");
    }

    #[test]
    fn a_failed_cas_acquires_by_its_failure_ordering() {
        let cas = |ordering: &str| Step {
            expected: Some(Value::Int(0)),
            succeeded: Some(false),
            ..ordered(2, 0, "compare_exchange", ordering, Some(3), None)
        };
        let store = ordered(1, 0, "store", "Release", None, Some(3));
        assert_eq!(edges(&[store.clone(), cas("Relaxed/Acquire")])[1], (Some(1), Some(1)));
        assert_eq!(edges(&[store, cas("Acquire/Relaxed")])[1], (Some(1), None));
    }

    /// The last step of the failing execution of `report` (its scenario panics on purpose).
    fn last_step(report: &Report) -> Step {
        let failure = report.assert_found("show the trace");
        failure.trace.last().expect("the trace has the operation").clone()
    }

    #[test]
    fn a_failed_cas_records_what_it_expected_and_what_it_found() {
        let report = super::loom(None, || {
            let a = lm::AtomicU32::new(4);
            // ORDERING: AcqRel/Acquire — one thread, no edge: the trace records the orderings given.
            let _ = a.compare_exchange(3, 5, lm::Ordering::AcqRel, lm::Ordering::Acquire);
            panic!("show the trace");
        });
        let cas = last_step(&report);
        assert_eq!(cas.op, "compare_exchange");
        assert_eq!(cas.ordering, "AcqRel/Acquire");
        assert_eq!(cas.expected, Some(Value::Int(3)));
        assert_eq!(cas.read, Some(Value::Int(4)), "the value found");
        assert_eq!(cas.written, None, "a failed CAS writes nothing");
        assert_eq!(cas.succeeded, Some(false));
        assert_eq!(cas.detail(), "expected 3, found 4: failed");
        let readable = readable(std::slice::from_ref(&cas));
        assert_eq!(readable[0].expected, Some(Value::Int(3)));
        assert_eq!(readable[0].read, Some(Value::Int(4)));
        assert_eq!(readable[0].succeeded, Some(false));
        let json = serde_json::to_value(&readable[0]).unwrap();
        assert_eq!(
            (&json["expected"], &json["read"], &json["written"], &json["succeeded"]),
            (&3.into(), &4.into(), &serde_json::Value::Null, &false.into())
        );
    }

    #[test]
    fn a_successful_cas_records_expected_and_written() {
        let report = super::shuttle_random(1, super::DEFAULT_SEED, || {
            let flag = sh::AtomicBool::new(false);
            // ORDERING: SeqCst/Relaxed — one thread, no edge: the trace records the orderings given.
            let _ = flag.compare_exchange(false, true, sh::Ordering::SeqCst, sh::Ordering::Relaxed);
            panic!("show the trace");
        });
        let cas = last_step(&report);
        assert_eq!(cas.ordering, "SeqCst/Relaxed");
        assert_eq!(cas.expected, Some(Value::Bool(false)));
        assert_eq!(cas.read, Some(Value::Bool(false)));
        assert_eq!(cas.written, Some(Value::Bool(true)));
        assert_eq!(cas.succeeded, Some(true));
        assert_eq!(cas.detail(), "false -> true: ok");
    }

    /// Each backend passes its own thread index in: the main model thread is T0, a spawned one T1.
    #[test]
    fn each_backend_names_its_model_threads() {
        fn threads(report: &Report) -> Vec<usize> {
            report
                .assert_found("show the trace")
                .trace
                .iter()
                .map(|s| s.thread)
                .collect()
        }
        let report = super::loom(None, || {
            let a = lm::Arc::new(lm::AtomicUsize::new(0));
            // ORDERING: Relaxed — no edge needed: only which thread ran each step is checked.
            a.store(1, lm::Ordering::Relaxed);
            let b = lm::Arc::clone(&a);
            // ORDERING: Relaxed — the join orders it before the panic; the value is not checked.
            lm::thread::spawn(move || b.fetch_add(1, lm::Ordering::Relaxed))
                .join()
                .unwrap();
            panic!("show the trace");
        });
        assert_eq!(threads(&report), [0, 1], "{report}");
        let report = super::shuttle_random(1, super::DEFAULT_SEED, || {
            let a = sh::Arc::new(sh::AtomicU64::new(0));
            // ORDERING: Relaxed — no edge needed: only which thread ran each step is checked.
            a.store(1, sh::Ordering::Relaxed);
            let b = sh::Arc::clone(&a);
            // ORDERING: Relaxed — the join orders it before the panic; the value is not checked.
            sh::thread::spawn(move || b.fetch_add(1, sh::Ordering::Relaxed))
                .join()
                .unwrap();
            // ORDERING: SeqCst fence — no edge: a fence step on the main thread, traced as T0.
            sh::fence(sh::Ordering::SeqCst);
            panic!("show the trace");
        });
        assert_eq!(threads(&report), [0, 1, 0], "{report}");
    }
}
