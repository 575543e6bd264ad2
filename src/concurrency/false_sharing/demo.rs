//! The `false-sharing` demo: two private counters on one cache line, padded apart, and the
//! same-core control.

use super::run_on_cores;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Row, RunOptions, RunOutput, Spec, Threads, UsageError, Variants,
    NO_ITERATION_LIMIT,
};

/// The `false-sharing` demo.
#[derive(Debug)]
pub struct FalseSharingDemo;

/// `false-sharing`.
pub static FALSE_SHARING: FalseSharingDemo = FalseSharingDemo;

static SPEC: Spec = Spec {
    name: "false-sharing",
    module: "concurrency/false_sharing",
    group: Group::Concurrency,
    seed_title: "False sharing",
    lesson: "two private counters on one cache line slow each other down; CachePadded fixes it",
    pair: "adjacent counters → `CachePadded`",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(2),
    default_iterations: 20_000_000,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[],
};

impl Demo for FalseSharingDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let padded = run_on_cores(true, opts.iterations, opts.pin);
        let same = run_on_cores(false, opts.iterations, opts.pin);
        let control = run_on_cores(false, opts.iterations, Pin::SameCore);
        let figures = |ns: f64| {
            vec![
                Figure::number("ns/increment", ns, 2, "ns"),
                Figure::number("vs padded", ns / padded.ns_per_op, 2, "x"),
            ]
        };
        for (case, r) in [("padded", &padded), ("same line", &same)] {
            out.rows.push(Row::on_cores(case, figures(r.ns_per_op), &r.parallelism));
        }
        out.rows.push(Row {
            case: "same line, one core".into(),
            figures: figures(control.ns_per_op / 2.0),
            parallel: None,
            parallelism: "control: both threads pinned to one core (time-shared on purpose); ns/increment counts \
                          both threads' increments"
                .into(),
        });
        out.notes.push(
            "a quick look, timed once: the criterion bench (cargo bench --bench false_sharing) measures it properly"
                .into(),
        );
        Ok(out)
    }
}
