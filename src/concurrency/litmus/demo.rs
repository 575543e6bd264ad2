//! The three litmus demos: message passing, store buffering and IRIW, each at every ordering.

use super::{loom, run_on_cores, shuttle, Litmus, Mode};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Reordering, Row, RunOptions, RunOutput, Scenario,
    Spec, Threads, UsageError, Variants,
};

/// Litmus runs keep both threads' outcome of every round (16 bytes each) to compare them.
const ROUNDS: (u64, &str) = (
    10_000_000,
    "both threads keep every round's outcome in memory to compare them",
);

/// One litmus demo: a test, its model scenario per backend, and its real-core run if x86 can
/// show its outcome.
#[derive(Debug)]
pub struct LitmusDemo {
    spec: Spec,
    /// The model scenario under loom.
    loom_scenario: fn(Mode),
    /// The same scenario under shuttle.
    shuttle_scenario: fn(Mode),
    /// The real-core run, where there is one.
    on_cores: Option<Litmus>,
    /// Whether the "you are the scheduler" game runs it (two threads whose steps a learner can
    /// order).
    schedulable: bool,
}

const fn spec(
    name: &'static str,
    lesson: &'static str,
    pair: &'static str,
    broken: Mode,
    fixed: Mode,
    reordering: Reordering,
    threads: usize,
) -> Spec {
    Spec {
        name,
        module: "concurrency/litmus",
        group: Group::Concurrency,
        seed_title: "Memory reordering",
        lesson,
        pair,
        variants: Variants::Orderings {
            all: &Mode::ALL,
            broken,
            fixed,
        },
        can: Can {
            run: !matches!(reordering, Reordering::MultiCopyAtomicity),
            check: true,
            step: true,
        },
        bug: BugClass::Ordering(reordering),
        threads: Threads::Fixed(threads),
        default_iterations: 200_000,
        max_iterations: ROUNDS,
        // loom models SeqCst loads and stores as Acquire/Release: a protocol that needs SeqCst
        // (store buffering, IRIW) is reported broken at `seqcst`; message passing is not.
        loom_false_positive: match reordering {
            Reordering::StoreStoreOrLoadLoad => None,
            _ => Some(Mode::SeqCst),
        },
        feature: None,
        params: &[],
    }
}

/// `message-passing`: a flag published before its data.
pub static MESSAGE_PASSING: LitmusDemo = LitmusDemo {
    spec: spec(
        "message-passing",
        "Relaxed publishes a flag before its data; Release/Acquire forbids the stale read",
        "Relaxed flag → Release/Acquire",
        Mode::Relaxed,
        Mode::ReleaseAcquire,
        Reordering::StoreStoreOrLoadLoad,
        2,
    ),
    loom_scenario: loom::scenario::message_passing,
    shuttle_scenario: shuttle::scenario::message_passing,
    on_cores: Some(Litmus::MessagePassing),
    schedulable: true,
};

/// `store-buffering`: each thread stores, then loads the other's variable.
pub static STORE_BUFFERING: LitmusDemo = LitmusDemo {
    spec: spec(
        "store-buffering",
        "even Release/Acquire lets both threads miss each other's store; fence(SeqCst) forbids it",
        "Release/Acquire → `fence(SeqCst)` on both sides",
        Mode::ReleaseAcquire,
        Mode::FenceSeqCst,
        Reordering::StoreLoad,
        2,
    ),
    loom_scenario: loom::scenario::store_buffering,
    shuttle_scenario: shuttle::scenario::store_buffering,
    on_cores: Some(Litmus::StoreBuffering),
    schedulable: false,
};

/// `iriw`: two writers, two readers that may disagree on the writes' order.
pub static IRIW: LitmusDemo = LitmusDemo {
    spec: spec(
        "iriw",
        "two readers may see two independent writes in opposite orders unless fenced",
        "Release/Acquire → `fence(SeqCst)` in both readers",
        Mode::ReleaseAcquire,
        Mode::FenceSeqCst,
        Reordering::MultiCopyAtomicity,
        4,
    ),
    loom_scenario: loom::scenario::iriw,
    shuttle_scenario: shuttle::scenario::iriw,
    on_cores: None,
    schedulable: false,
};

impl Demo for LitmusDemo {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let test = self.on_cores.expect("the spec runs only a litmus test x86 can show");
        let mut out = RunOutput::new(&self.spec, opts);
        for case in cases {
            let r = run_on_cores(test, case.mode(), opts.iterations, opts.pin);
            let mut figures = vec![Figure::count("rounds", r.rounds)];
            if test == Litmus::MessagePassing {
                figures.push(Figure::count("rounds that saw ready", r.observed));
                figures.push(Figure::count("stale reads", r.hits));
            } else {
                figures.push(Figure::count("both-zero", r.hits));
                figures.push(Figure::percent("both-zero %", r.hits, r.rounds));
            }
            out.rows.push(Row::on_cores(case.label(), figures, &r.parallelism));
        }
        out.notes.push(if test == Litmus::MessagePassing {
            crate::hw::X86_TSO_NOTE.to_string()
        } else {
            "x86 keeps each store in a store buffer while the next load runs: Relaxed and Release/Acquire allow \
             both-zero (~1-2% of rounds on a quiet machine); SeqCst stores (xchg) and fence(SeqCst) (mfence) drain it"
                .into()
        });
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        let threads = match self.spec.threads {
            Threads::Fixed(n) => n,
            Threads::AtLeast { default, .. } => default,
        };
        let scenario = if checker == Checker::Loom {
            self.loom_scenario
        } else {
            self.shuttle_scenario
        };
        let mode = case.mode();
        checker.explore(threads, move || scenario(mode))
    }

    fn shuttle_scenario(&self, case: Case) -> Option<Scenario> {
        let scenario = self.shuttle_scenario;
        let mode = case.mode();
        self.schedulable.then(|| Box::new(move || scenario(mode)) as Scenario)
    }

    fn detect_on_cores(&self, case: Case) -> Detection {
        let Some(test) = self.on_cores else {
            return Detection::Blind("not run".into());
        };
        let r = run_on_cores(test, case.mode(), 100_000, Pin::Spread);
        Detection::from_count(
            r.hits,
            r.rounds,
            format!("found: {} of {} rounds", r.hits, r.rounds),
            format!("missed in {} rounds", r.rounds),
        )
    }
}
