//! Model tests for the sleep/wake handshake of `irq-vs-busy-poll`: every fixed test has a broken
//! twin running the same scenario.
//!
//! The broken handshake's bug is store buffering: without a SeqCst fence on each side, the NIC's
//! load of the sleep word and the app's re-check of the ring can both miss the other side's store,
//! and the app parks with a packet in the ring. loom (weak memory) finds the resulting deadlock;
//! shuttle (every atomic SeqCst) cannot, and a test says so.

use lockfree_lab::check;
use lockfree_lab::nic::irq_poll::{self as irq, loom as lm, shuttle as sh};

/// loom's and shuttle's verdict when every thread is blocked: the app parked, nobody to wake it.
const LOST_WAKEUP: &str = "deadlock";

#[test]
fn loom_fixed_one_packet_always_wakes_the_app() {
    let report = check::loom(None, || lm::scenario::wakeup(irq::loom_fixed::<u64>, 1));
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_one_packet_loses_the_wakeup() {
    let report = check::loom(None, || lm::scenario::wakeup(irq::loom_broken::<u64>, 1));
    let failure = report.assert_found(LOST_WAKEUP);
    // The counterexample is store buffering: the NIC read the sleep word as "awake" (0) after its
    // push, and the app's re-check read the ring's tail as 0 after announcing its sleep.
    assert!(
        failure.trace.iter().any(|s| s.op == "load" && s.detail() == "-> 0"),
        "{report}"
    );
    println!("{report}");
}

#[test]
fn loom_fixed_two_packets_sleep_wake_sleep() {
    check::loom(Some(3), || lm::scenario::wakeup(irq::loom_fixed::<u64>, 2)).assert_passed();
}

#[test]
fn loom_broken_two_packets_loses_a_wakeup() {
    check::loom(Some(3), || lm::scenario::wakeup(irq::loom_broken::<u64>, 2)).assert_found(LOST_WAKEUP);
}

// ---- shuttle: blind to store buffering (it models every atomic as SeqCst) ----

#[test]
fn shuttle_fixed_one_packet_always_wakes_the_app() {
    check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, || {
        sh::scenario::wakeup(irq::shuttle_fixed::<u64>, 2)
    })
    .assert_passed();
}

/// The blind spot, stated: shuttle runs the broken handshake's schedules sequentially
/// consistently, where one of the two loads always sees the other's store, so it never loses the
/// wakeup. (loom, which models the store buffer, does: `loom_broken_one_packet_loses_the_wakeup`.)
#[test]
fn shuttle_is_blind_to_the_broken_handshake_store_buffering() {
    let random = check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::wakeup(irq::shuttle_broken::<u64>, 2)
    });
    random.assert_passed();
    let pct = check::shuttle_pct(1_000, 2, check::DEFAULT_SEED, || {
        sh::scenario::wakeup(irq::shuttle_broken::<u64>, 2)
    });
    pct.assert_passed();
}
