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

use crate::sync::trace::{self, Backend, Step};

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

fn run(
    checker: String,
    backend: Backend,
    drive: impl FnOnce(Body),
    scenario: impl Fn() + Send + Sync + 'static,
) -> Report {
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
    trace::start(backend);
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| drive(body)));
    let elapsed = start.elapsed();
    QUIET.with(|q| q.set(false));
    trace::stop();
    let caught = CAUGHT.with(|c| c.borrow_mut().take());
    let failure = outcome.err().map(|payload| {
        caught.unwrap_or_else(|| Failure {
            message: payload_text(payload.as_ref()),
            trace: Vec::new(),
        })
    });
    Report {
        checker,
        // ORDERING: Relaxed — the checker ran on this OS thread and has returned.
        executions: executions.load(Ordering::Relaxed),
        elapsed,
        failure,
    }
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
    run(name, Backend::Loom, move |body| builder.check(body), scenario)
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
        Backend::Shuttle,
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
        Backend::Shuttle,
        move |body| {
            runner.run(body);
        },
        scenario,
    )
}

/// One counterexample step made readable: the trace step, the algorithm's source line, and a
/// note where a load read a value older than the latest store the schedule had already made
/// (a *stale* read, possible only through weak ordering).
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
    /// `load`, `store`, `compare_exchange`…
    pub operation: String,
    /// The ordering(s) used.
    pub ordering: String,
    /// The value read or written.
    pub value: String,
    /// `stale: the latest store to #1 was 42` or empty.
    pub note: String,
}

/// The values a step read and wrote, parsed back from its `detail`.
fn read_written(step: &Step) -> (Option<String>, Option<String>) {
    let d = step.detail.as_str();
    match step.op {
        "load" => (d.strip_prefix("-> ").map(str::to_string), None),
        "store" => (None, d.strip_prefix("<- ").map(str::to_string)),
        "fence" | "read" | "write" => (None, None),
        _ if d.ends_with(": failed") => {
            let found = d
                .split("found ")
                .nth(1)
                .map(|s| s.trim_end_matches(": failed").to_string());
            (found, None)
        }
        _ => {
            let d = d.trim_end_matches(": ok");
            let mut parts = d.splitn(2, " -> ");
            (parts.next().map(str::to_string), parts.next().map(str::to_string))
        }
    }
}

/// Reads line `line` of `file` (a path relative to this crate's root, as `Location` gives it).
pub fn source_line(file: &str, line: u32) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().nth(line as usize - 1).map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

/// Makes a failing trace readable: source lines, and stale reads marked.
pub fn readable(trace: &[Step]) -> Vec<ReadableStep> {
    let mut latest: std::collections::HashMap<usize, String> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(trace.len());
    for (i, step) in trace.iter().enumerate() {
        let (read, written) = read_written(step);
        let mut note = String::new();
        if let (Some(obj), Some(read)) = (step.object, &read) {
            if let Some(last) = latest.get(&obj) {
                if last != read {
                    note = format!("stale: the latest store to #{obj} was {last}");
                }
            }
        }
        if let (Some(obj), Some(w)) = (step.object, written) {
            latest.insert(obj, w);
        } else if let (Some(obj), Some(r)) = (step.object, read) {
            latest.entry(obj).or_insert(r);
        }
        out.push(ReadableStep {
            number: i + 1,
            thread: format!("T{}", step.thread),
            location: format!("{}:{}", step.location.file(), step.location.line()),
            code: source_line(step.location.file(), step.location.line()),
            object: step.object.map(|o| format!("#{o}")).unwrap_or_default(),
            operation: step.op.to_string(),
            ordering: step.ordering.clone(),
            value: step.detail.clone(),
            note,
        });
    }
    out
}

impl fmt::Display for ReadableStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>3}. {} {:<28} {:<4}{}({}) {}",
            self.number, self.thread, self.location, self.object, self.operation, self.ordering, self.value
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
