//! The `mpmc` demo: the stampless queue that trusts `head`/`tail` against Vyukov's stamped slots.

use super::{loom, run_on_cores, shuttle};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Row, RunOptions, RunOutput, Scenario, Spec, Threads,
    UsageError, Variant, Variants,
};

/// The queue's capacity on real cores.
const CAPACITY: usize = 64;

/// The run keeps every value it delivers (8 bytes each) to find lost and duplicated ones:
/// producers x iterations is bounded (400 MB of values).
pub const MAX_VALUES: u64 = 50_000_000;
const WHY: &str = "the run keeps every delivered value (8 bytes) to find lost and duplicated ones; producers \
                   (threads / 2) x iterations must stay within it";

/// The `mpmc` demo.
#[derive(Debug)]
pub struct MpmcDemo;

/// `mpmc`.
pub static MPMC: MpmcDemo = MpmcDemo;

static SPEC: Spec = Spec {
    name: "mpmc",
    module: "concurrency/mpmc",
    group: Group::Concurrency,
    seed_title: "MPMC ring",
    lesson: "a claimed slot is not a written slot: each slot needs its own sequence stamp",
    pair: "`head`/`tail` trusted as written/free → per-slot sequence stamps (Vyukov)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::AtLeast { min: 2, default: 2 },
    default_iterations: 1_000_000,
    max_iterations: (MAX_VALUES, WHY),
    loom_false_positive: None,
    feature: None,
    params: &[],
};

impl Demo for MpmcDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let producers = opts.threads / 2;
        let consumers = opts.threads - producers;
        if producers as u64 * opts.iterations > MAX_VALUES {
            return Err(UsageError(format!(
                "demo `mpmc` delivers at most {MAX_VALUES} values per run (got {producers} producers x {} \
                 iterations): {WHY}",
                opts.iterations
            )));
        }
        let mut out = RunOutput::new(&SPEC, opts);
        for case in cases {
            let r = run_on_cores(
                case.variant(),
                CAPACITY,
                producers,
                consumers,
                opts.iterations,
                opts.pin,
            )
            .map_err(|e| UsageError(format!("mpmc: {e}")))?;
            out.rows.push(Row::on_cores(
                case.label(),
                vec![
                    Figure::count("pushed", r.pushed),
                    Figure::count("popped", r.popped),
                    Figure::count("lost", r.lost),
                    Figure::count("duplicated", r.duplicated),
                    Figure::count("phantom", r.phantom),
                ],
                &r.parallelism,
            ));
        }
        out.notes.push(format!(
            "{producers} producer(s), {consumers} consumer(s), capacity {CAPACITY}, atomic payloads (the broken \
             queue's races give wrong values, never undefined behaviour)"
        ));
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        use loom::slot::{AtomicSlot as LoomAtomic, UnsafeSlot as LoomUnsafe};
        use shuttle::slot::AtomicSlot as ShuttleAtomic;
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => checker.explore(2, || {
                loom::scenario::one_producer_one_consumer::<loom::broken::Queue<u64, LoomAtomic>>(2)
            }),
            (Checker::Loom, Variant::Fixed) => checker.explore(2, || {
                loom::scenario::one_producer_one_consumer::<loom::fixed::Queue<u64, LoomUnsafe<u64>>>(2)
            }),
            (_, Variant::Broken) => checker.explore(2, || {
                shuttle::scenario::one_producer_one_consumer::<shuttle::broken::Queue<u64, ShuttleAtomic>>(2)
            }),
            (_, Variant::Fixed) => checker.explore(2, || {
                shuttle::scenario::one_producer_one_consumer::<shuttle::fixed::Queue<u64, ShuttleAtomic>>(2)
            }),
        }
    }

    fn shuttle_scenario(&self, case: Case) -> Option<Scenario> {
        use shuttle::slot::AtomicSlot as ShuttleAtomic;
        Some(match case.variant() {
            Variant::Broken => Box::new(|| {
                shuttle::scenario::one_producer_one_consumer::<shuttle::broken::Queue<u64, ShuttleAtomic>>(2)
            }),
            Variant::Fixed => Box::new(|| {
                shuttle::scenario::one_producer_one_consumer::<shuttle::fixed::Queue<u64, ShuttleAtomic>>(2)
            }),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let r = run_on_cores(Variant::Broken, CAPACITY, 1, 1, 200_000, Pin::Spread).expect("capacity 64 is valid");
        Detection::from_count(
            r.lost + r.duplicated + r.phantom,
            r.pushed,
            format!("found: {} lost, {} duplicated of {}", r.lost, r.duplicated, r.pushed),
            format!("missed in {} values", r.pushed),
        )
    }
}
