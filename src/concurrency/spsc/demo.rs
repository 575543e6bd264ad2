//! The `spsc` demo: the ring's Relaxed index publish (checkers only) against its Release/Acquire fix.

use super::{loom, run_on_cores, shuttle, X86_NOTE};
use crate::check::Report;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Figure, Group, Row, RunOptions, RunOutput, Spec, Threads, UsageError, Variant,
    Variants, NO_ITERATION_LIMIT,
};

/// The ring's capacity on real cores.
const CAPACITY: usize = 1024;

/// The `spsc` demo.
#[derive(Debug)]
pub struct SpscDemo;

/// `spsc`.
pub static SPSC: SpscDemo = SpscDemo;

static SPEC: Spec = Spec {
    name: "spsc",
    module: "concurrency/spsc",
    group: Group::Concurrency,
    seed_title: "SPSC ring buffer",
    lesson: "the index that guards plain-memory slots must carry Release/Acquire, both ways",
    pair: "Relaxed `tail` publish and `head` load → Release/Acquire (broken: checkers only)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::DataRace { ordering_caused: true },
    threads: Threads::Fixed(2),
    default_iterations: 10_000_000,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[],
};

impl Demo for SpscDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        for case in cases {
            if case.variant() == Variant::Broken {
                out.notes.push(format!("broken: not run on real cores — {X86_NOTE}"));
                continue;
            }
            let r = run_on_cores(CAPACITY, opts.iterations, opts.pin).map_err(|e| UsageError(format!("spsc: {e}")))?;
            out.rows.push(Row::on_cores(
                case.label(),
                vec![
                    Figure::count("items", r.items),
                    Figure::count("in order", r.in_order),
                    Figure::count("mismatches", r.mismatches),
                    Figure::number("M items/s", r.items_per_sec / 1e6, 1, "M items/s"),
                ],
                &r.parallelism,
            ));
        }
        out.notes.push(format!(
            "capacity {CAPACITY}; the consumer checks that every sequence number arrives in order"
        ));
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => {
                checker.explore(2, || loom::scenario::handoff(loom::broken::channel::<u64>))
            }
            (Checker::Loom, Variant::Fixed) => {
                checker.explore(2, || loom::scenario::handoff(loom::fixed::channel::<u64>))
            }
            (_, Variant::Broken) => checker.explore(2, || shuttle::scenario::handoff(shuttle::broken::channel::<u64>)),
            (_, Variant::Fixed) => checker.explore(2, || shuttle::scenario::handoff(shuttle::fixed::channel::<u64>)),
        }
    }
}
