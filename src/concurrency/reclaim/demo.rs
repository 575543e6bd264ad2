//! The two RCU demos: `rcu` (freeing at once against waiting for a grace period, and a
//! crossbeam-epoch reader that stalls reclamation) and `rcu-grace` (a grace period built from
//! Acquire/Release alone). Built without the `epoch` feature too, so the lab can say they need it.

#[cfg(feature = "epoch")]
use super::{epoch_cell, loom, shuttle};
use crate::check::Report;
use crate::lab::{BugClass, Can, Case, Checker, Demo, Group, Spec, Threads, Variants, NO_ITERATION_LIMIT};
#[cfg(feature = "epoch")]
use crate::lab::{Figure, Row, RunOptions, RunOutput, UsageError, Variant};

/// The cargo feature the reclaimer needs, and whether this build has it.
const FEATURE: Option<(&str, bool)> = Some(("epoch", cfg!(feature = "epoch")));

/// Which broken variant a demo checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    /// `broken.rs`: the old version is freed at once.
    FreeAtOnce,
    /// `acqrel.rs`: the grace period's two sides are Release/Acquire only.
    AcqRelGrace,
}

/// One RCU demo.
#[derive(Debug)]
pub struct RcuDemo {
    spec: Spec,
    #[cfg_attr(not(feature = "epoch"), allow(dead_code))]
    broken: Broken,
}

/// `rcu`.
pub static RCU: RcuDemo = RcuDemo {
    spec: Spec {
        name: "rcu",
        module: "concurrency/reclaim",
        group: Group::Concurrency,
        seed_title: "RCU grace period",
        lesson: "freeing an old version at once frees it under a reader; wait for a grace period",
        pair: "old version freed at once → freed after a grace period (and a crossbeam-epoch cell)",
        variants: Variants::BrokenFixed,
        can: Can {
            run: true,
            check: true,
            step: true,
        },
        bug: BugClass::DataRace { ordering_caused: false },
        threads: Threads::Fixed(2),
        default_iterations: 10_000,
        max_iterations: (
            100_000,
            "every update retires a version (about 2 KB with its deferred free) that stays in memory while the \
             reader is pinned",
        ),
        loom_false_positive: None,
        feature: FEATURE,
        params: &[],
    },
    broken: Broken::FreeAtOnce,
};

/// `rcu-grace`.
pub static RCU_GRACE: RcuDemo = RcuDemo {
    spec: Spec {
        name: "rcu-grace",
        module: "concurrency/reclaim",
        group: Group::Concurrency,
        seed_title: "RCU grace period",
        lesson: "a grace period built from Acquire/Release alone is store buffering: it needs SeqCst on both sides",
        pair: "Acquire/Release grace period → the writer's `fence(SeqCst)`, each reader's SeqCst announcement (its own word) and load",
        variants: Variants::BrokenFixed,
        can: Can {
            run: false,
            check: true,
            step: true,
        },
        bug: BugClass::DataRace { ordering_caused: true },
        threads: Threads::Fixed(2),
        default_iterations: 10_000,
        max_iterations: NO_ITERATION_LIMIT,
        loom_false_positive: None,
        feature: FEATURE,
        params: &[],
    },
    broken: Broken::AcqRelGrace,
};

impl Demo for RcuDemo {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    #[cfg(feature = "epoch")]
    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&self.spec, opts);
        if cases.contains(&Case::Variant(Variant::Broken)) {
            out.notes.push(
                "broken (free at once) is not run on real threads: a real use-after-free is undefined behaviour; \
                 `check rcu` shows loom and shuttle catching it"
                    .into(),
            );
        }
        if cases.contains(&Case::Variant(Variant::Fixed)) {
            let r = epoch_cell::long_reader(opts.iterations as usize);
            out.rows.push(Row {
                case: "reader pinned".into(),
                figures: vec![
                    Figure::count("retired", r.retired_while_pinned as u64),
                    Figure::count("reclaimed", r.reclaimed_while_pinned as u64),
                    Figure::text("flushes", "-"),
                ],
                parallel: None,
                parallelism: format!("the pinned reader still reads version {}", r.reader_saw),
            });
            out.rows.push(Row {
                case: "reader unpinned".into(),
                figures: vec![
                    Figure::count("retired", r.retired_while_pinned as u64),
                    Figure::count("reclaimed", r.reclaimed_after_unpin as u64),
                    Figure::count("flushes", r.flushes_after_unpin as u64),
                ],
                parallel: None,
                parallelism: "fixed: crossbeam-epoch frees a version only after every reader pinned before its \
                              retirement has unpinned"
                    .into(),
            });
            out.notes.push(
                "a long-held guard stalls all reclamation: memory grows until it unpins (crossbeam issues #566, \
                 #540); keep read-side sections short"
                    .into(),
            );
        }
        Ok(out)
    }

    #[cfg(feature = "epoch")]
    fn check(&self, case: Case, checker: Checker) -> Report {
        use crate::check;
        let bound = Some(3);
        match (checker, case.variant(), self.broken) {
            (Checker::Loom, Variant::Broken, Broken::FreeAtOnce) => {
                check::loom(bound, || loom::scenario::read_during_update(loom::broken::new))
            }
            (Checker::Loom, Variant::Broken, Broken::AcqRelGrace) => {
                check::loom(bound, || loom::scenario::read_during_update(loom::acqrel::new))
            }
            (Checker::Loom, Variant::Fixed, _) => {
                check::loom(bound, || loom::scenario::read_during_update(loom::fixed::new))
            }
            (_, Variant::Broken, Broken::FreeAtOnce) => {
                checker.explore(2, || shuttle::scenario::read_during_update(shuttle::broken::new))
            }
            (_, Variant::Broken, Broken::AcqRelGrace) => {
                checker.explore(2, || shuttle::scenario::read_during_update(shuttle::acqrel::new))
            }
            (_, Variant::Fixed, _) => checker.explore(2, || shuttle::scenario::read_during_update(shuttle::fixed::new)),
        }
    }

    #[cfg(not(feature = "epoch"))]
    fn check(&self, _case: Case, _checker: Checker) -> Report {
        unreachable!("the lab refuses a demo whose feature this build left out")
    }
}
