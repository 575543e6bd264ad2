//! What the commands do with a demo: resolve its cases, validate `run`'s options against its
//! spec, run a checker and make the verdict readable, replay a counterexample, and fill a row of
//! the detection matrix. Nothing here knows a demo by name.

use serde::Serialize;

use super::{
    BugClass, Case, Cell, Checker, Demo, Detection, MatrixRow, Mode, ParamValues, Replay, RunOptions, RunOutput,
    Threads, UsageError, Variant, Variants,
};
use crate::check::{self, Report};
use crate::hw::Pin;

/// Schedules per shuttle run.
pub const SHUTTLE_ITERATIONS: usize = 1_000;

/// Resolves `--variant` / `--ordering` for `demo` into the cases to run.
pub fn cases(demo: &dyn Demo, variant: Option<Variant>, ordering: Option<Mode>) -> Result<Vec<Case>, UsageError> {
    let spec = demo.spec();
    match (spec.variants, ordering) {
        (Variants::BrokenFixed, Some(m)) => Err(UsageError(format!(
            "demo `{}` has no --ordering (got `{}`); it takes --variant broken|fixed",
            spec.name,
            m.name()
        ))),
        (Variants::Orderings { .. }, Some(_)) if variant.is_some() => Err(UsageError(format!(
            "give --variant or --ordering for `{}`, not both",
            spec.name
        ))),
        (Variants::Orderings { all, .. }, Some(m)) if !all.contains(&m) => Err(UsageError(format!(
            "demo `{}` has no ordering `{}`",
            spec.name,
            m.name()
        ))),
        (Variants::Orderings { .. }, Some(m)) => Ok(vec![Case::Mode(m)]),
        (Variants::Orderings { all, broken, fixed }, None) => Ok(match variant {
            Some(Variant::Broken) => vec![Case::Mode(broken)],
            Some(Variant::Fixed) => vec![Case::Mode(fixed)],
            None => all.iter().map(|&m| Case::Mode(m)).collect(),
        }),
        (Variants::Single, Some(_)) | (Variants::Single, None) if variant.is_some() || ordering.is_some() => {
            Err(UsageError(format!(
                "demo `{}` has no broken/fixed variants or orderings (it shows one thing): drop --variant/--ordering",
                spec.name
            )))
        }
        (Variants::Single, _) => Ok(vec![Case::Variant(Variant::Fixed)]),
        (Variants::BrokenFixed, None) => Ok(match variant {
            Some(v) => vec![Case::Variant(v)],
            None => Variant::BOTH.iter().map(|&v| Case::Variant(v)).collect(),
        }),
    }
}

/// Refuses a demo this build left out.
pub(super) fn available(demo: &dyn Demo) -> Result<(), UsageError> {
    match demo.spec().missing_feature() {
        None => Ok(()),
        Some(feature) => Err(UsageError(format!(
            "demo `{}` needs the `{feature}` feature, which this build left out: cargo run --release --features {feature}",
            demo.spec().name
        ))),
    }
}

/// Runs `demo` on real cores: validates the options against its spec, then hands it the cases.
pub fn run(
    demo: &dyn Demo,
    cases: &[Case],
    threads: Option<usize>,
    iterations: Option<u64>,
    pin: bool,
    params: &[(String, Option<String>)],
) -> Result<RunOutput, UsageError> {
    let opts = validate_run(demo, threads, iterations, pin, params)?;
    demo.run(cases, &opts)
}

/// Checks `run`'s options against `demo`'s spec and resolves the defaults, without running
/// anything (the web lab refuses a bad request before it starts a job).
pub fn validate_run(
    demo: &dyn Demo,
    threads: Option<usize>,
    iterations: Option<u64>,
    pin: bool,
    params: &[(String, Option<String>)],
) -> Result<RunOptions, UsageError> {
    let spec = demo.spec();
    available(demo)?;
    let params = ParamValues::resolve(spec, params)?;
    if !spec.can.run {
        let why = spec.bug.hardware_blind_spot().unwrap_or("it has no real-core run");
        return Err(UsageError(format!(
            "demo `{}` cannot run on real cores ({why}); try `check {}`",
            spec.name, spec.name
        )));
    }
    if threads == Some(0) {
        return Err(UsageError("--threads must be at least 1".into()));
    }
    let threads = match (spec.threads, threads) {
        (Threads::Fixed(n), Some(t)) if t != n => {
            return Err(UsageError(format!(
                "demo `{}` always runs {n} threads (got --threads {t})",
                spec.name
            )))
        }
        (Threads::Fixed(n), _) => n,
        (Threads::AtLeast { min, .. }, Some(t)) if t < min => {
            return Err(UsageError(format!(
                "demo `{}` needs --threads of at least {min} (got {t})",
                spec.name
            )))
        }
        (Threads::AtLeast { default, .. }, t) => t.unwrap_or(default),
    };
    let (max_iterations, why) = spec.max_iterations;
    if let Some(n) = iterations.filter(|&n| n > max_iterations) {
        return Err(UsageError(format!(
            "demo `{}` takes --iterations up to {max_iterations} (got {n}): {why}",
            spec.name
        )));
    }
    Ok(RunOptions {
        threads,
        iterations: iterations.unwrap_or(spec.default_iterations),
        pin: if pin { Pin::Spread } else { Pin::None },
        params,
    })
}

/// What `check` says when loom "finds" a bug in a correct SeqCst-only program.
pub const LOOM_SEQCST_NOTE: &str = "loom reports a bug here, but this is loom's known SeqCst false positive: \
     it models SeqCst loads and stores as Acquire/Release (loom issue #180), so it lets both threads miss each \
     other's store; the program is correct (real cores and shuttle never show it). Use --ordering fence-seqcst to \
     see loom pass";

/// True when `report` is loom's known SeqCst false positive for `demo` at `case`: not a detection.
pub(super) fn is_false_positive(demo: &dyn Demo, case: Case, checker: Checker, report: &Report) -> bool {
    checker == Checker::Loom
        && report.failure.is_some()
        && matches!((case, demo.spec().loom_false_positive), (Case::Mode(m), Some(fp)) if m == fp)
}

/// One `check` result, for printing and JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutput {
    /// The demo.
    pub demo: String,
    /// The case (`broken`, `relaxed`…).
    pub case: String,
    /// The checker.
    pub checker: String,
    /// Executions explored (up to and including the failing one).
    pub executions: u64,
    /// Milliseconds.
    pub millis: f64,
    /// `bug found`, `passed`, or loom's false positive.
    pub verdict: String,
    /// The failure message.
    pub message: Option<String>,
    /// The counterexample, as numbered steps.
    pub steps: Vec<check::ReadableStep>,
    /// Why this checker cannot see this bug class, when it cannot.
    pub blind_spot: Option<String>,
    /// True when the failure is loom's known SeqCst false positive: the program is correct.
    pub false_positive: bool,
    /// What the reader should make of a false positive (empty otherwise).
    pub note: Option<String>,
}

/// Runs one check and makes it printable.
pub fn check_output(demo: &dyn Demo, case: Case, checker: Checker) -> CheckOutput {
    let spec = demo.spec();
    let report = demo.check(case, checker);
    let false_positive = is_false_positive(demo, case, checker, &report);
    CheckOutput {
        demo: spec.name.into(),
        case: case.label(),
        checker: report.checker.clone(),
        executions: report.executions,
        millis: report.elapsed.as_secs_f64() * 1e3,
        verdict: if false_positive {
            "loom false positive (the program is correct)".into()
        } else if report.failure.is_some() {
            "bug found".into()
        } else {
            "passed".into()
        },
        message: report
            .failure
            .as_ref()
            .map(|f| f.message.lines().next().unwrap_or_default().to_string()),
        steps: report
            .failure
            .as_ref()
            .map(|f| check::readable(&f.trace))
            .unwrap_or_default(),
        blind_spot: spec.bug.blind_spot(checker).map(str::to_string),
        false_positive,
        note: false_positive.then(|| LOOM_SEQCST_NOTE.to_string()),
    }
}

/// The failing interleaving of `demo`'s broken variant: the demo's own replay, or the
/// counterexample a checker finds.
pub fn replay(demo: &dyn Demo, variant: Variant) -> Result<Replay, UsageError> {
    let spec = demo.spec();
    available(demo)?;
    if !spec.can.step {
        return Err(UsageError(format!(
            "demo `{}` has no interleaving to step through (it is a performance effect); try `run {}`",
            spec.name, spec.name
        )));
    }
    if let Some(replay) = demo.replay(variant) {
        return Ok(replay);
    }
    if variant == Variant::Fixed {
        return Err(UsageError(format!(
            "demo `{}` replays its broken variant's failing interleaving; the fixed variant has none (try `check {} \
             --variant fixed`)",
            spec.name, spec.name
        )));
    }
    let case = spec.broken_case();
    // An interleaving bug replays best from shuttle, whose executions are sequentially consistent
    // (every read sees the latest write: the steps read like the textbook interleaving); an
    // ordering bug exists only in loom's weak-memory executions.
    let checker = if spec.bug.blind_spot(Checker::ShuttlePct).is_some() {
        Checker::Loom
    } else {
        Checker::ShuttlePct
    };
    let out = check_output(demo, case, checker);
    Ok(Replay {
        demo: spec.name.into(),
        intro: format!(
            "The failing interleaving {} found for `{}` ({}) at execution {}: every atomic operation of the \
             failing run, in the order it was scheduled. T0 is the main thread, T1.. the spawned ones; #N names \
             each atomic in order of first use.",
            out.checker,
            spec.name,
            case.label(),
            out.executions
        ),
        steps: out.steps.iter().map(ToString::to_string).collect(),
        outcome: out.message.unwrap_or_else(|| "loom found no failure".into()),
    })
}

/// The broken variants the matrix covers: every checkable demo this build has.
pub fn matrix_bugs() -> Vec<(&'static dyn Demo, Case)> {
    super::DEMOS
        .iter()
        .copied()
        .filter(|d| d.spec().can.check && d.spec().missing_feature().is_none())
        .map(|d| (d, d.spec().broken_case()))
        .collect()
}

/// Runs one broken variant under every checker and on real cores.
pub fn matrix_row(demo: &dyn Demo, case: Case) -> MatrixRow {
    let bug = demo.spec().bug;
    let mut cells: Vec<Cell> = Checker::ALL
        .iter()
        .map(|&checker| {
            let r = demo.check(case, checker);
            if is_false_positive(demo, case, checker, &r) {
                return Cell {
                    verdict: "false positive".into(),
                    count: r.executions,
                    text: format!(
                        "false positive at execution {} (loom's SeqCst model; not a detection)",
                        r.executions
                    ),
                };
            }
            match (&r.failure, bug.blind_spot(checker)) {
                (Some(_), _) => Cell {
                    verdict: "found".into(),
                    count: r.executions,
                    text: format!("found at execution {}", r.executions),
                },
                (None, Some(why)) => Cell {
                    verdict: "blind".into(),
                    count: r.executions,
                    text: format!("blind: {} passed ({why})", r.executions),
                },
                (None, None) => Cell {
                    verdict: "missed".into(),
                    count: r.executions,
                    text: format!("missed in {} executions", r.executions),
                },
            }
        })
        .collect();
    cells.push(hardware_cell(demo, case));
    MatrixRow {
        bug: format!("{} ({})", demo.spec().name, case.label()),
        cells,
    }
}

/// The matrix's real-cores cell: blind where the bug class says real cores cannot show (or must
/// not run) the bug, else whatever the demo's real-core detection saw.
pub fn hardware_cell(demo: &dyn Demo, case: Case) -> Cell {
    let blind = |text: String| Cell {
        verdict: "blind".into(),
        count: 0,
        text,
    };
    if let Some(why) = demo.spec().bug.hardware_blind_spot() {
        return blind(why.into());
    }
    debug_assert!(matches!(
        demo.spec().bug,
        BugClass::Interleaving | BugClass::Ordering(_)
    ));
    match demo.detect_on_cores(case) {
        Detection::Found { count, text } => Cell {
            verdict: "found".into(),
            count,
            text,
        },
        Detection::Missed { count, text } => Cell {
            verdict: "missed".into(),
            count,
            text,
        },
        Detection::Blind(text) => blind(text),
    }
}
