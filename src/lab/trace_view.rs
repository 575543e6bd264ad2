//! The "check and step" view of a counterexample: the checker's failing execution as steps in
//! per-thread columns, each atomic named (`head`, `next[A]`) and its values printed the way the
//! lesson speaks of them (`A/tag 3`, `nil`), with the reads-from and synchronizes-with edges
//! between the steps and the stale reads marked (JSON as `GET /api/trace` returns it).
//!
//! The counterexample is loom's when loom finds one (it models weak memory, so a stale read shows
//! as what it is), else shuttle's. For a variant no checker breaks, the view says so and, where
//! the demo has a scheduler game, replays the broken variant's failing schedule on it: the same
//! interleaving, survived.

use clap::ValueEnum;
use serde::Serialize;

use super::{drive, sched, Case, Checker, Demo, Mode, UsageError, Variant, Variants};
use crate::check::{self, Report};
use crate::sync::trace::Step;

/// A counterexample (or a survived replay) made steppable.
#[derive(Clone, Debug, Serialize)]
pub struct TraceView {
    /// The demo.
    pub demo: String,
    /// The case (`broken`, `fixed`, or an ordering).
    pub case: String,
    /// The checker whose execution this is (`loom`, `shuttle random`…).
    pub checker: String,
    /// `found: <the failure> after N executions`, or what passed.
    pub verdict: String,
    /// The threads that take a step, in order (0 is the main thread).
    pub threads: Vec<usize>,
    /// The locations the steps touch, by name, in order of first use.
    pub locations: Vec<String>,
    /// The steps, in schedule order.
    pub steps: Vec<ViewStep>,
    /// Every reads-from edge (`rf`) and, for a release→acquire pair, its synchronizes-with edge (`sw`).
    pub edges: Vec<Edge>,
    /// The failure message (`null` when the execution passed).
    pub failure: Option<String>,
}

/// One step of a trace view (and of a scheduler game).
#[derive(Clone, Debug, Serialize)]
pub struct ViewStep {
    /// 1-based.
    pub number: usize,
    /// 0 is the main thread, spawned threads count from 1.
    pub thread: usize,
    /// `src/concurrency/stack/broken.rs:88`.
    pub location: String,
    /// The source line, trimmed.
    pub code: String,
    /// The location's name (`head`, `next[A]`), `#N` for an unnamed atomic, empty for a fence.
    pub name: String,
    /// `load`, `store`, `compare_exchange`…
    pub op: String,
    /// The ordering(s).
    pub ordering: String,
    /// What was read or written, through the location's format: `-> A`, `A -> B: ok`.
    pub value: String,
    /// Non-empty on a stale read.
    pub note: String,
    /// The step whose write this read took (`null`: the initial value, or not a read).
    pub reads_from: Option<usize>,
    /// The same step when the pair is release→acquire.
    pub synchronizes_with: Option<usize>,
}

/// An edge between two steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The writing step.
    pub from: usize,
    /// The reading step.
    pub to: usize,
    /// `rf` (reads-from) or `sw` (synchronizes-with).
    pub kind: &'static str,
}

/// The steps of `trace` as the views show them.
pub fn view_steps(trace: &[Step]) -> Vec<ViewStep> {
    check::readable(trace)
        .into_iter()
        .zip(trace)
        .map(|(r, step)| ViewStep {
            number: r.number,
            thread: step.thread,
            location: r.location,
            code: r.code,
            name: r.name,
            op: r.operation,
            ordering: r.ordering,
            value: r.shown,
            note: r.note,
            reads_from: r.reads_from,
            synchronizes_with: r.synchronizes_with,
        })
        .collect()
}

/// `variant` of `demo` as a case: `broken` or `fixed`, or one of an orderings demo's orderings
/// (`relaxed`, `release-acquire`…).
pub fn parse_case(demo: &dyn Demo, variant: &str) -> Result<Case, UsageError> {
    let spec = demo.spec();
    if let Ok(v) = Variant::from_str(variant, false) {
        return Ok(drive::cases(demo, Some(v), None)?[0]);
    }
    match spec.variants {
        Variants::Orderings { all, .. } => Mode::from_str(variant, false)
            .ok()
            .filter(|m| all.contains(m))
            .map(Case::Mode)
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|m| m.name()).collect();
                UsageError(format!(
                    "demo `{}` takes variant broken or fixed, or an ordering: {} (got `{}`)",
                    spec.name,
                    names.join(", "),
                    crate::cli::escape_controls(variant)
                ))
            }),
        _ => Err(UsageError(format!(
            "demo `{}` takes variant broken or fixed (got `{}`)",
            spec.name,
            crate::cli::escape_controls(variant)
        ))),
    }
}

/// The view of `demo`'s `case`: the checker's counterexample (shuttle first for an interleaving
/// bug, loom first for an ordering bug; the next checker when one finds nothing), or, when nothing is found, that verdict and the broken variant's failing schedule
/// replayed on this case where the demo has a scheduler game.
pub fn trace_view(demo: &dyn Demo, case: Case) -> Result<TraceView, UsageError> {
    let spec = demo.spec();
    drive::available(demo)?;
    if !spec.can.check {
        return Err(UsageError(format!(
            "demo `{}` has no model scenario to check (it measures a cost); try `run {}`",
            spec.name, spec.name
        )));
    }
    let mut passed = Vec::new();
    // An interleaving bug reads like the textbook from shuttle, whose executions are sequentially
    // consistent; an ordering bug needs loom, the only checker that models weak memory.
    let order = if spec.bug == crate::lab::BugClass::Interleaving {
        [Checker::ShuttlePct, Checker::ShuttleRandom, Checker::Loom]
    } else {
        [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom]
    };
    for checker in order {
        if checker != Checker::Loom && spec.bug.blind_spot(checker).is_some() {
            continue;
        }
        let report = demo.check(case, checker);
        if drive::is_false_positive(demo, case, checker, &report) {
            passed.push(format!(
                "{} reported its known SeqCst false positive (the program is correct)",
                report.checker
            ));
            continue;
        }
        if let Some(failure) = &report.failure {
            let message = failure.message.lines().next().unwrap_or_default().to_string();
            return Ok(view(
                demo,
                case,
                &report,
                format!("found: {message} after {} executions", report.executions),
                &failure.trace,
                Some(message),
            ));
        }
        passed.push(format!("{} passed {} executions", report.checker, report.executions));
    }
    let mut verdict = format!("nothing found: {}", passed.join("; "));
    let broken = spec.broken_case();
    let replayed = (case != broken)
        .then(|| sched::hint(demo, broken).ok())
        .flatten()
        .and_then(|choices| sched::replay_to_end(demo, case, &choices));
    let (report, steps) = match replayed {
        Some((report, steps)) => {
            verdict.push_str(&format!(
                ". Below: the broken variant's failing schedule replayed on {}: {}",
                case.label(),
                match &report.failure {
                    None => "it survives".to_string(),
                    Some(f) => format!("it fails: {}", f.message),
                }
            ));
            (Some(report), steps)
        }
        None => (None, Vec::new()),
    };
    let checker = report.as_ref().map_or("loom".to_string(), |r| r.checker.clone());
    let failure = report
        .as_ref()
        .and_then(|r| r.failure.as_ref())
        .map(|f| f.message.clone());
    let mut out = view(
        demo,
        case,
        report.as_ref().unwrap_or(&Report {
            checker: checker.clone(),
            executions: 0,
            elapsed: std::time::Duration::ZERO,
            failure: None,
        }),
        verdict,
        &steps,
        failure,
    );
    out.checker = checker;
    Ok(out)
}

fn view(
    demo: &dyn Demo,
    case: Case,
    report: &Report,
    verdict: String,
    trace: &[Step],
    failure: Option<String>,
) -> TraceView {
    let steps = view_steps(trace);
    let mut threads: Vec<usize> = steps.iter().map(|s| s.thread).collect();
    threads.sort_unstable();
    threads.dedup();
    let mut locations: Vec<String> = Vec::new();
    for s in &steps {
        if !s.name.is_empty() && !locations.contains(&s.name) {
            locations.push(s.name.clone());
        }
    }
    let mut edges = Vec::new();
    for s in &steps {
        if let Some(from) = s.reads_from {
            edges.push(Edge {
                from,
                to: s.number,
                kind: "rf",
            });
        }
        if let Some(from) = s.synchronizes_with {
            edges.push(Edge {
                from,
                to: s.number,
                kind: "sw",
            });
        }
    }
    TraceView {
        demo: demo.spec().name.into(),
        case: case.label(),
        checker: report.checker.clone(),
        verdict,
        threads,
        locations,
        steps,
        edges,
        failure,
    }
}
