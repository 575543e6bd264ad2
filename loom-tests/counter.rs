//! Model tests for the CAS counter: every fixed test has a broken twin running the same scenario.
//!
//! The lost update is an interleaving bug, so loom *and* shuttle (random and PCT) must catch the
//! broken counter; the fixed one must pass every checker.

use lockfree_lab::check;
use lockfree_lab::counter::{loom as lm, shuttle as sh};

const ITERATIONS: usize = 1_000;

// ---- loom ----

#[test]
fn loom_fixed_increment_never_loses_an_update() {
    let report = check::loom(None, || {
        lm::scenario::two_increments::<lm::fixed::Counter>(false);
    });
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_increment_loses_an_update() {
    let report = check::loom(None, || {
        lm::scenario::two_increments::<lm::broken::Counter>(false);
    });
    let failure = report.assert_found("lost update");
    println!("{report}");
    // The counterexample is the interleaving of the lesson: both threads load before either stores.
    let ops: Vec<&str> = failure.trace.iter().map(|s| s.op).collect();
    assert!(ops.iter().filter(|op| **op == "load").count() >= 2, "{report}");
}

#[test]
fn loom_fixed_cas_loop_never_loses_an_update() {
    let report = check::loom(None, || {
        lm::scenario::two_increments::<lm::fixed::Counter>(true);
    });
    report.assert_passed();
}

#[test]
fn loom_broken_cas_loop_loses_an_update() {
    check::loom(None, || {
        lm::scenario::two_increments::<lm::broken::Counter>(true);
    })
    .assert_found("lost update");
}

/// The retries are observable: loom finds an interleaving in which a CAS failed and retried.
/// Its twin: in that same interleaving the broken loop's retry writes a stale value.
#[test]
fn loom_fixed_cas_loop_retries_when_another_increment_lands_first() {
    let report = check::loom(None, || {
        let retries = lm::scenario::two_increments::<lm::fixed::Counter>(true);
        assert!(retries == 0, "a CAS retried ({retries} retries)");
    });
    report.assert_found("a CAS retried (1 retries)");
}

// ---- shuttle ----

#[test]
fn shuttle_random_fixed_increment_never_loses_an_update() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::fixed::Counter>(false);
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_increment_loses_an_update() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::broken::Counter>(false);
    })
    .assert_found("lost update");
}

#[test]
fn shuttle_pct_fixed_increment_never_loses_an_update() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::fixed::Counter>(false);
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_increment_loses_an_update() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::broken::Counter>(false);
    })
    .assert_found("lost update");
}

#[test]
fn shuttle_pct_fixed_cas_loop_never_loses_an_update() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::fixed::Counter>(true);
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_cas_loop_loses_an_update() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_increments::<sh::broken::Counter>(true);
    })
    .assert_found("lost update");
}
