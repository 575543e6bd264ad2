//! Model tests for the RDMA queue pair: every fixed test has a broken twin running the same scenario.
//!
//! The broken driver reads a CQE's body before its owner bit. Every access is atomic, so the bug
//! is an interleaving: loom and shuttle (random and PCT) both find the driver preempted between
//! its body read and its owner load while the device writes the CQE. The fixed scenarios are also
//! what kills every weakened ordering of `fixed.rs` (`scripts/mutate-orderings rdma_qp`): a
//! Relaxed doorbell record lets the device read a WQE or payload word older than the post, a
//! Relaxed owner byte lets the driver read an old body or an old peer buffer.

use lockfree_lab::check;
use lockfree_lab::nic::rdma_qp::{loom as lm, shuttle as sh};

const STALE: &str = "stale completion";

// ---- loom: two laps of a one-entry CQ, one payload word, then two ----

#[test]
fn loom_fixed_two_laps_every_completion_is_its_own() {
    let report = check::loom(None, || lm::scenario::two_laps(lm::fixed::queue_pair, 1));
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_two_laps_reaps_a_stale_completion() {
    let report = check::loom(None, || lm::scenario::two_laps(lm::broken::queue_pair, 1));
    report.assert_found(STALE);
    println!("{report}");
}

#[test]
fn loom_fixed_two_laps_two_payload_words() {
    check::loom(Some(2), || lm::scenario::two_laps(lm::fixed::queue_pair, 2)).assert_passed();
}

#[test]
fn loom_broken_two_laps_two_payload_words() {
    check::loom(Some(2), || lm::scenario::two_laps(lm::broken::queue_pair, 2)).assert_found(STALE);
}

// ---- shuttle: the same scenario; the bug is an interleaving, so shuttle sees it too ----

#[test]
fn shuttle_random_fixed_two_laps() {
    check::shuttle_random(2_000, check::DEFAULT_SEED, || {
        sh::scenario::two_laps(sh::fixed::queue_pair, 1)
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_two_laps() {
    check::shuttle_random(2_000, check::DEFAULT_SEED, || {
        sh::scenario::two_laps(sh::broken::queue_pair, 1)
    })
    .assert_found(STALE);
}

#[test]
fn shuttle_pct_fixed_two_laps() {
    check::shuttle_pct(2_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::two_laps(sh::fixed::queue_pair, 1)
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_two_laps() {
    check::shuttle_pct(2_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::two_laps(sh::broken::queue_pair, 1)
    })
    .assert_found(STALE);
}
