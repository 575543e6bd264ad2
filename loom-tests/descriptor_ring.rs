//! Model tests for the descriptor ring and its slot-flag queue: every fixed test has a broken
//! twin running the same scenario.
//!
//! The ring's two bugs (the Relaxed TX doorbell, the Relaxed RX DD load) are missing
//! Release/Acquire edges between atomics: loom finds the stale read and the scenario's check
//! fires (`torn descriptor`, `stale read`); shuttle, which models every atomic as SeqCst, cannot
//! (the tests below say so). The queue's twins race on a plain value: loom reports the race, and
//! shuttle sees neither (the early clear's window holds no shuttle operation, and its atomics are
//! SeqCst).

use lockfree_lab::check;
use lockfree_lab::nic::descriptor_ring::queue::{loom as qlm, shuttle as qsh};
use lockfree_lab::nic::descriptor_ring::{loom as lm, shuttle as sh};
use lockfree_lab::spsc::{loom::scenario as spsc_lm, shuttle::scenario as spsc_sh};

/// loom's verdict on a race between a plain read and a plain write.
const RACE: &str = "Causality violation: Concurrent read and write accesses";

// ---- TX: the doorbell must be published after the descriptor (the `wmb()`) ----

#[test]
fn loom_fixed_tx_handoff_nic_reads_whole_descriptors() {
    let report = check::loom(None, || lm::scenario::tx_handoff(lm::fixed::tx_ring));
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_tx_handoff_relaxed_doorbell_lets_the_nic_fetch_a_torn_descriptor() {
    let report = check::loom(None, || lm::scenario::tx_handoff(lm::broken::tx_ring));
    let failure = report.assert_found("torn descriptor");
    // The counterexample: the NIC's Acquire load saw the driver's Relaxed TAIL store, then a
    // descriptor field the driver had already written read as its initial value.
    assert!(
        failure
            .trace
            .iter()
            .any(|s| s.op == "store" && s.ordering == "Relaxed" && s.detail() == "<- 1"),
        "{report}"
    );
    println!("{report}");
}

#[test]
fn loom_fixed_tx_stream_two_laps() {
    check::loom(Some(2), || lm::scenario::tx_stream(lm::fixed::tx_ring, 2, 3)).assert_passed();
}

#[test]
fn loom_broken_tx_stream_two_laps() {
    check::loom(Some(2), || lm::scenario::tx_stream(lm::broken::tx_ring, 2, 3)).assert_found("torn descriptor");
}

// ---- RX: DD must be read before the length and the packet (the `dma_rmb()`) ----

#[test]
fn loom_fixed_rx_handoff_driver_reads_what_the_nic_wrote() {
    let report = check::loom(None, || lm::scenario::rx_handoff(lm::fixed::rx_ring));
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_broken_rx_handoff_relaxed_dd_load_reads_a_stale_length() {
    let report = check::loom(None, || lm::scenario::rx_handoff(lm::broken::rx_ring));
    let failure = report.assert_found("stale read");
    assert!(
        failure.trace.iter().any(|s| s.op == "load" && s.ordering == "Relaxed"),
        "{report}"
    );
    println!("{report}");
}

#[test]
fn loom_fixed_rx_stream_two_laps() {
    check::loom(Some(2), || lm::scenario::rx_stream(lm::fixed::rx_ring, 2, 3)).assert_passed();
}

#[test]
fn loom_broken_rx_stream_two_laps() {
    check::loom(Some(2), || lm::scenario::rx_stream(lm::broken::rx_ring, 2, 3)).assert_found("stale read");
}

// ---- shuttle: the fixed ring passes; the broken one passes too, because shuttle cannot see it ----

#[test]
fn shuttle_fixed_ring_handoffs_and_streams() {
    let scenarios = || {
        sh::scenario::tx_handoff(sh::fixed::tx_ring);
        sh::scenario::rx_handoff(sh::fixed::rx_ring);
        sh::scenario::tx_stream(sh::fixed::tx_ring, 2, 3);
        sh::scenario::rx_stream(sh::fixed::rx_ring, 2, 3);
    };
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenarios).assert_passed();
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, scenarios).assert_passed();
}

/// shuttle models every atomic access as SeqCst, so a Relaxed doorbell or a Relaxed DD load can
/// never read stale there: the bugs loom finds above pass 1,000 random and 1,000 PCT schedules.
#[test]
fn shuttle_misses_broken_ring_relaxed_doorbell_and_dd_because_it_models_every_atomic_as_seqcst() {
    let scenarios = || {
        sh::scenario::tx_handoff(sh::broken::tx_ring);
        sh::scenario::rx_handoff(sh::broken::rx_ring);
        sh::scenario::tx_stream(sh::broken::tx_ring, 2, 3);
        sh::scenario::rx_stream(sh::broken::rx_ring, 2, 3);
    };
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenarios).assert_passed();
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, scenarios).assert_passed();
}

// ---- the slot-flag queue: twin 1, the flag set Relaxed ----

#[test]
fn loom_fixed_queue_handoff_reads_the_written_value() {
    let report = check::loom(None, || spsc_lm::handoff(qlm::fixed::channel::<u64>));
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_broken_queue_relaxed_flag_reads_an_unwritten_value() {
    let report = check::loom(None, || spsc_lm::handoff(qlm::broken::channel::<u64>));
    report.assert_found(RACE);
    println!("{report}");
}

#[test]
fn loom_fixed_queue_fifo_capacity_1_and_2() {
    check::loom(Some(3), || spsc_lm::fifo(qlm::fixed::channel::<u64>, 1)).assert_passed();
    check::loom(Some(3), || spsc_lm::fifo(qlm::fixed::channel::<u64>, 2)).assert_passed();
}

#[test]
fn loom_broken_queue_fifo_capacity_2() {
    check::loom(Some(3), || spsc_lm::fifo(qlm::broken::channel::<u64>, 2)).assert_found(RACE);
}

// ---- twin 2: the flag cleared before the value is read ----

#[test]
fn loom_fixed_queue_slot_reuse_never_overwrites_a_value_being_read() {
    let report = check::loom(None, || spsc_lm::slot_reuse(qlm::fixed::channel::<u64>));
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_early_clear_queue_slot_reuse_overwrites_a_value_being_read() {
    let report = check::loom(None, || spsc_lm::slot_reuse(qlm::early_clear::channel::<u64>));
    report.assert_found(RACE);
    println!("{report}");
}

/// The look-ahead path: the producer finds its slot free through the slot one ahead.
#[test]
fn loom_fixed_queue_look_ahead_reuse() {
    let report = check::loom(None, || {
        qlm::scenario::look_ahead_reuse(|c| qlm::fixed::with_look_ahead::<u64>(c, c))
    });
    report.assert_passed();
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_early_clear_queue_look_ahead_reuse() {
    check::loom(None, || {
        qlm::scenario::look_ahead_reuse(|c| qlm::early_clear::with_look_ahead::<u64>(c, c))
    })
    .assert_found(RACE);
}

// ---- shuttle on the queue: blind to both twins ----

#[test]
fn shuttle_fixed_queue_passes() {
    let scenarios = || {
        spsc_sh::handoff(qsh::fixed::channel::<u64>);
        spsc_sh::slot_reuse(qsh::fixed::channel::<u64>);
        spsc_sh::fifo(qsh::fixed::channel::<u64>, 2);
        qsh::scenario::look_ahead_reuse(|c| qsh::fixed::with_look_ahead::<u64>(c, c));
    };
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenarios).assert_passed();
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, scenarios).assert_passed();
}

/// shuttle switches threads only at its own operations, before each one. The early clear's
/// window lies between the flag store and the plain read that follows it, with no shuttle
/// operation in between, so no schedule can put the producer's write there; and a Relaxed flag
/// is SeqCst under shuttle. Both twins pass 1,000 random and 1,000 PCT schedules: use loom.
#[test]
fn shuttle_misses_both_queue_twins_no_scheduling_point_inside_the_window_and_seqcst_atomics() {
    let scenarios = || {
        spsc_sh::handoff(qsh::broken::channel::<u64>);
        spsc_sh::fifo(qsh::broken::channel::<u64>, 2);
        spsc_sh::slot_reuse(qsh::early_clear::channel::<u64>);
        qsh::scenario::look_ahead_reuse(|c| qsh::early_clear::with_look_ahead::<u64>(c, c));
    };
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenarios).assert_passed();
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, scenarios).assert_passed();
}

// ---- the step replay: real rings, driven on one thread ----

#[test]
fn replay_draws_every_descriptor_through_free_own_dd_free() {
    use lockfree_lab::nic::descriptor_ring::{step_replay, DD, FREE, OWN};
    use lockfree_lab::Variant;
    for variant in [Variant::Fixed, Variant::Broken] {
        let steps = step_replay(variant);
        let flags = |i: usize| steps[i].view.descs.iter().map(|d| d.flags).collect::<Vec<_>>();
        // TX: setup, post 3, doorbell, DMA d0, DD d0, d1-d2, reap.
        assert_eq!(flags(0), vec![FREE; 8]);
        assert_eq!(&flags(1)[..4], &[OWN, OWN, OWN, FREE]);
        assert_eq!(
            (steps[1].view.tail, steps[2].view.tail),
            (0, 3),
            "the doorbell moves TAIL"
        );
        assert_eq!(&flags(4)[..3], &[DD, OWN, OWN]);
        assert_eq!(steps[5].view.head, 3);
        assert_eq!(flags(6), vec![FREE; 8], "the reap frees every descriptor");
        // RX: 7 posted (one stays free), three filled, reaped, re-posted across the wrap.
        assert_eq!(flags(8).iter().filter(|&&f| f == OWN).count(), 7);
        assert_eq!(&flags(12)[..4], &[DD, DD, DD, OWN]);
        let last = steps.last().unwrap();
        assert_eq!((last.view.head, last.view.tail), (3, 2), "TAIL wrapped past the end");
        assert_eq!(last.view.descs[0].buffer, 8, "d0's second lap uses the other buffer");
    }
}
