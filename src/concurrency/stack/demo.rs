//! The `aba` demo: the untagged Treiber stack a recycled node fools, against the tagged head.

use super::{aba_replay, loom, run_on_cores, shuttle};
use crate::check::{self, Report};
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Replay, Row, RunOptions, RunOutput, Scenario, Spec,
    Threads, UsageError, Variant, Variants, NO_ITERATION_LIMIT,
};

/// Pop-pop-push-push steps per thread per round.
const OPS: usize = 4;

/// The `aba` demo.
#[derive(Debug)]
pub struct AbaDemo;

/// `aba`.
pub static ABA: AbaDemo = AbaDemo;

static SPEC: Spec = Spec {
    name: "aba",
    module: "concurrency/stack",
    group: Group::Concurrency,
    seed_title: "The ABA problem",
    lesson: "a recycled node makes a stale CAS succeed (A->B->A); a tag bumped per CAS fixes it",
    pair: "untagged index head → 32-bit tag bumped per CAS (and a crossbeam-epoch stack)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::AtLeast { min: 2, default: 2 },
    default_iterations: 100_000,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[],
};

impl Demo for AbaDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        for case in cases {
            let r = run_on_cores(case.variant(), opts.threads, opts.iterations, OPS, opts.pin);
            out.rows.push(Row::on_cores(
                case.label(),
                vec![
                    Figure::count("rounds", r.rounds),
                    Figure::count("corrupted rounds", r.corrupted),
                    Figure::count("duplicated", r.duplicated),
                    Figure::count("lost", r.lost),
                    Figure::count("cycles", r.cycles),
                ],
                &r.parallelism,
            ));
        }
        out.notes.push(format!(
            "each round: every thread pops twice and pushes twice, {OPS} times, over an index arena with recycled \
             nodes; then the stack is drained and every value accounted for"
        ));
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // T1 pops; T2 pops, pops, pushes: three threads with the main one, so loom is bounded.
        let bound = Some(3);
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => check::loom(bound, loom::scenario::aba::<loom::broken::Stack>),
            (Checker::Loom, Variant::Fixed) => check::loom(bound, loom::scenario::aba::<loom::fixed::Stack>),
            (_, Variant::Broken) => checker.explore(2, shuttle::scenario::aba::<shuttle::broken::Stack>),
            (_, Variant::Fixed) => checker.explore(2, shuttle::scenario::aba::<shuttle::fixed::Stack>),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let steps = aba_replay(variant);
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "The ABA interleaving on the {variant} Treiber stack, replayed deterministically: T1 reads head A and \
                 its next B, then stalls; T2 pops A, pops B and pushes a new value into the recycled node A; T1 \
                 wakes and runs its CAS. Each step shows the head word (index and tag), the stack, and T2's free list."
            ),
            outcome: steps.last().map(|s| s.action.clone()).unwrap_or_default(),
            steps: steps.iter().map(ToString::to_string).collect(),
        })
    }

    fn shuttle_scenario(&self, case: Case) -> Option<Scenario> {
        Some(match case.variant() {
            Variant::Broken => Box::new(shuttle::scenario::aba::<shuttle::broken::Stack>),
            Variant::Fixed => Box::new(shuttle::scenario::aba::<shuttle::fixed::Stack>),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let r = run_on_cores(Variant::Broken, 2, 50_000, OPS, Pin::Spread);
        Detection::from_count(
            r.corrupted,
            r.rounds,
            format!("found: {} of {} rounds corrupted", r.corrupted, r.rounds),
            format!("missed in {} rounds", r.rounds),
        )
    }
}
