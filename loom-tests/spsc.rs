//! Model tests for the SPSC ring: every fixed test has a broken twin running the same scenario.
//!
//! Both bugs of `spsc::broken` are missing Release/Acquire edges on the indices that guard
//! non-atomic slots, so loom reports a causality violation on a slot access; shuttle, which
//! models every atomic as SeqCst and has no race detector, cannot see either (tests below say so).

use lockfree_lab::check;
use lockfree_lab::spsc::{loom as lm, shuttle as sh};

/// loom's verdict on a race between a slot read and a slot write.
const RACE: &str = "Causality violation: Concurrent read and write accesses";

// ---- (a) Relaxed tail: the consumer reads a slot whose write it cannot see ----

#[test]
fn loom_fixed_handoff_reads_the_written_item() {
    let report = check::loom(None, || lm::scenario::handoff(lm::fixed::channel::<u64>));
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_handoff_relaxed_tail_reads_an_unwritten_slot() {
    let report = check::loom(None, || lm::scenario::handoff(lm::broken::channel::<u64>));
    let failure = report.assert_found(RACE);
    // The counterexample: the consumer's Relaxed load saw the producer's Relaxed tail store.
    assert!(
        failure
            .trace
            .iter()
            .any(|s| s.op == "load" && s.ordering == "Relaxed" && s.detail() == "-> 1"),
        "{report}"
    );
    println!("{report}");
}

// ---- (b) Relaxed head load: the producer overwrites a slot the consumer is reading ----

#[test]
fn loom_fixed_slot_reuse_never_overwrites_a_slot_being_read() {
    let report = check::loom(None, || lm::scenario::slot_reuse(lm::fixed::channel::<u64>));
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_broken_slot_reuse_relaxed_head_load_overwrites_a_slot_being_read() {
    let report = check::loom(None, || lm::scenario::slot_reuse(lm::broken::channel::<u64>));
    report.assert_found(RACE);
    println!("{report}");
}

// ---- FIFO across a wrap, and drops ----

#[test]
fn loom_fixed_fifo_capacity_1() {
    check::loom(Some(3), || lm::scenario::fifo(lm::fixed::channel::<u64>, 1)).assert_passed();
}

#[test]
fn loom_broken_fifo_capacity_1() {
    check::loom(Some(3), || lm::scenario::fifo(lm::broken::channel::<u64>, 1)).assert_found(RACE);
}

#[test]
fn loom_fixed_fifo_capacity_2() {
    check::loom(Some(3), || lm::scenario::fifo(lm::fixed::channel::<u64>, 2)).assert_passed();
}

#[test]
fn loom_broken_fifo_capacity_2() {
    check::loom(Some(3), || lm::scenario::fifo(lm::broken::channel::<u64>, 2)).assert_found(RACE);
}

#[test]
fn loom_fixed_drops_every_item_once_whichever_half_drops_last() {
    check::loom(None, || lm::scenario::drops(lm::fixed::channel)).assert_passed();
}

#[test]
fn loom_broken_drops_relaxed_tail_race() {
    check::loom(None, || lm::scenario::drops(lm::broken::channel)).assert_found(RACE);
}

// ---- the `T: Copy` batch copies: every slot of a run is checked (the loom backend copies per cell) ----

/// The producer copies `[1, 2, 3]` into a ring of capacity 2 with `push_copy_slice` (retrying the
/// rest, yielding between tries); the consumer copies out with `pop_copy_slice` until it has 3
/// items, which must be `[1, 2, 3]`. The batch wraps the slot array and reuses a slot.
macro_rules! copy_slices_scenario {
    ($variant:path) => {{
        use lockfree_lab::sync::loom::{spin_loop, thread};
        use $variant as ring;
        let (mut tx, mut rx) = ring::channel::<u64>(2);
        let producer = thread::spawn(move || {
            let items = [1u64, 2, 3];
            let mut pushed = 0;
            while pushed < items.len() {
                pushed += tx.push_copy_slice(&items[pushed..]);
                if pushed < items.len() {
                    spin_loop();
                }
            }
        });
        let consumer = thread::spawn(move || {
            let mut got = [0u64; 3];
            let mut popped = 0;
            while popped < got.len() {
                let n = rx.pop_copy_slice(&mut got[popped..]);
                popped += n;
                if n == 0 {
                    spin_loop();
                }
            }
            got
        });
        producer.join().unwrap();
        let got = consumer.join().unwrap();
        assert_eq!(
            got,
            [1, 2, 3],
            "wrong value: the consumer copied out {got:?}, expected [1, 2, 3]"
        );
    }};
}

#[test]
fn loom_fixed_copy_slices_keep_fifo_across_a_wrap() {
    let report = check::loom(Some(3), || copy_slices_scenario!(lm::fixed));
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_broken_copy_slices_relaxed_indices_race_on_a_slot() {
    check::loom(Some(3), || copy_slices_scenario!(lm::broken)).assert_found(RACE);
}

// ---- shuttle: the fixed ring passes; the broken one passes too, because shuttle cannot see it ----

#[test]
fn shuttle_random_fixed_fifo_and_drops() {
    check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::fifo(sh::fixed::channel::<u64>, 1);
        sh::scenario::fifo(sh::fixed::channel::<u64>, 2);
        sh::scenario::drops(sh::fixed::channel);
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_fixed_fifo_and_drops() {
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, || {
        sh::scenario::fifo(sh::fixed::channel::<u64>, 1);
        sh::scenario::drops(sh::fixed::channel);
    })
    .assert_passed();
}

/// shuttle models every atomic access as SeqCst and runs one thread at a time with no race
/// detector, so a missing Release/Acquire on an index can never show: the races loom finds in
/// the tests above pass 1,000 random and 1,000 PCT schedules here. Use loom for ordering bugs.
#[test]
fn shuttle_misses_broken_spsc_relaxed_indices_because_it_models_every_atomic_as_seqcst() {
    let scenarios = || {
        sh::scenario::handoff(sh::broken::channel::<u64>);
        sh::scenario::slot_reuse(sh::broken::channel::<u64>);
        sh::scenario::fifo(sh::broken::channel::<u64>, 1);
        sh::scenario::drops(sh::broken::channel);
    };
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenarios).assert_passed();
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, scenarios).assert_passed();
}
