//! The counter's two lab demos: `lost-update` (load-then-store vs `fetch_add`) and `cas-retry`
//! (a CAS loop that must recompute its new value on every retry).

use super::{loom, run_on_cores, shuttle, Method};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Row, RunOptions, RunOutput, Scenario, Spec, Threads,
    UsageError, Variant, Variants, NO_ITERATION_LIMIT,
};

/// One counter demo: the same counter, incremented by `method`.
#[derive(Debug)]
pub struct CounterDemo {
    spec: Spec,
    method: Method,
}

const fn spec(name: &'static str, lesson: &'static str, pair: &'static str) -> Spec {
    Spec {
        name,
        module: "concurrency/counter",
        group: Group::Concurrency,
        seed_title: "CAS retry loop",
        lesson,
        pair,
        variants: Variants::BrokenFixed,
        can: Can {
            run: true,
            check: true,
            step: true,
        },
        bug: BugClass::Interleaving,
        threads: Threads::AtLeast { min: 1, default: 2 },
        default_iterations: 1_000_000,
        max_iterations: NO_ITERATION_LIMIT,
        loom_false_positive: None,
        feature: None,
        params: &[],
    }
}

/// `lost-update`: two threads load, add one and store; increments vanish.
pub static LOST_UPDATE: CounterDemo = CounterDemo {
    spec: spec(
        "lost-update",
        "load-then-store loses increments; fetch_add cannot",
        "load, add, store → `fetch_add`",
    ),
    method: Method::Increment,
};

/// `cas-retry`: a CAS loop that retries with a stale new value.
pub static CAS_RETRY: CounterDemo = CounterDemo {
    spec: spec(
        "cas-retry",
        "a CAS loop retries when another thread wins; count the retries",
        "CAS retried with a stale new value → recomputed on every retry",
    ),
    method: Method::Cas,
};

impl Demo for CounterDemo {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&self.spec, opts);
        for case in cases {
            let r = run_on_cores(case.variant(), self.method, opts.threads, opts.iterations, opts.pin);
            out.rows.push(Row::on_cores(
                case.label(),
                vec![
                    Figure::count("expected", r.expected),
                    Figure::count("counted", r.counted),
                    Figure::count("lost updates", r.lost()),
                    Figure::percent("lost %", r.lost(), r.expected),
                    Figure::number("CAS retries/op", r.retries as f64 / r.expected as f64, 4, ""),
                ],
                &r.parallelism,
            ));
        }
        if opts.threads == 1 {
            out.notes
                .push("one thread cannot race with itself: 0 lost for every variant".into());
        }
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        let cas = self.method == Method::Cas;
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => checker.explore(2, move || {
                loom::scenario::two_increments::<loom::broken::Counter>(cas);
            }),
            (Checker::Loom, Variant::Fixed) => checker.explore(2, move || {
                loom::scenario::two_increments::<loom::fixed::Counter>(cas);
            }),
            (_, Variant::Broken) => checker.explore(2, move || {
                shuttle::scenario::two_increments::<shuttle::broken::Counter>(cas);
            }),
            (_, Variant::Fixed) => checker.explore(2, move || {
                shuttle::scenario::two_increments::<shuttle::fixed::Counter>(cas);
            }),
        }
    }

    fn shuttle_scenario(&self, case: Case) -> Option<Scenario> {
        let cas = self.method == Method::Cas;
        Some(match case.variant() {
            Variant::Broken => Box::new(move || {
                shuttle::scenario::two_increments::<shuttle::broken::Counter>(cas);
            }),
            Variant::Fixed => Box::new(move || {
                shuttle::scenario::two_increments::<shuttle::fixed::Counter>(cas);
            }),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let r = run_on_cores(Variant::Broken, self.method, 2, 200_000, Pin::Spread);
        if r.lost() > 0 {
            Detection::Found {
                count: r.expected,
                text: format!("found: {} of {} lost", r.lost(), r.expected),
            }
        } else if r.parallelism.ran_in_parallel() {
            Detection::Missed {
                count: r.expected,
                text: "missed: 0 lost".into(),
            }
        } else {
            Detection::Blind("no: the threads did not run in parallel (machine busy)".into())
        }
    }
}
