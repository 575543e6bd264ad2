//! Model tests for the all-reduce links: every fixed test has a broken twin running the same
//! scenario.
//!
//! The broken sender rewrites its send buffer one chunk ahead of its neighbour's credit. That is
//! an interleaving bug on well-defined atomics (the buffer cells are Relaxed atomics, published by
//! the SPSC rings' Release/Acquire), so loom and shuttle both see it, as a wrong sum.

use lockfree_lab::check;
use lockfree_lab::net::all_reduce::{links, loom as lm, shuttle as sh, Algorithm};

/// The scenario's verdict when a rank ends with the wrong vector.
const WRONG_SUM: &str = "wrong sum";

// ---- loom: a 3-rank ring's reduce-scatter, one element per chunk, each rank on its own model
// thread, at preemption bound 1 (the whole all-reduce exceeds loom's branch limit: the ranks spin
// while they wait; shuttle runs it whole, below) ----

/// The fixed 3-rank ring is beyond loom here: at preemption bound 1 its reduce-scatter passed
/// 15,000 executions, then one exceeded loom's branch limit (the ranks spin while they wait).
/// loom checks the fixed links on a 2-rank ring (below); shuttle checks the 3-rank one.
#[test]
fn loom_fixed_ring_of_2_sums_right() {
    let report = check::loom(Some(1), || {
        lm::scenario::all_reduce(Algorithm::Ring, links::loom_fixed, 2, 2)
    });
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_ring_of_2_reuses_the_send_buffer_wrong_sum() {
    // Two ranks: rank 0 may send its gathered chunk before rank 1 has read the first one.
    check::loom(Some(1), || {
        lm::scenario::all_reduce(Algorithm::Ring, links::loom_broken, 2, 2)
    })
    .assert_found(WRONG_SUM);
}

#[test]
fn loom_broken_ring_of_3_reduce_scatter_reuses_the_send_buffer_wrong_sum() {
    let report = check::loom(Some(1), || {
        lm::scenario::reduce_phase(Algorithm::Ring, links::loom_broken, 3, 3)
    });
    let failure = report.assert_found(WRONG_SUM);
    assert!(!failure.trace.is_empty(), "a counterexample has steps: {report}");
    println!("{report}");
}

#[test]
fn loom_broken_ring_of_3_whole_all_reduce_wrong_sum() {
    // The whole all-reduce: loom finds the wrong sum before its branch limit bites.
    check::loom(Some(2), || {
        lm::scenario::all_reduce(Algorithm::Ring, links::loom_broken, 3, 3)
    })
    .assert_found(WRONG_SUM);
}

#[test]
fn loom_fixed_tree_of_3_reduce_sums_right() {
    check::loom(Some(1), || {
        lm::scenario::reduce_phase(Algorithm::Tree, links::loom_fixed, 3, 2)
    })
    .assert_passed();
}

/// The tree's reduce sends on each link once, so a window of two never matters there: the broken
/// links reduce right in a tree (the bug needs a reused buffer, which only the ring has).
#[test]
fn loom_broken_tree_of_3_reduce_is_unaffected_because_no_link_is_reused() {
    check::loom(Some(1), || {
        lm::scenario::reduce_phase(Algorithm::Tree, links::loom_broken, 3, 2)
    })
    .assert_passed();
}

// ---- shuttle: random and PCT schedules find the same wrong sum ----

#[test]
fn shuttle_random_fixed_ring_of_3_sums_right() {
    check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_fixed, 3, 3)
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_ring_of_3_reuses_the_send_buffer_wrong_sum() {
    check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_broken, 3, 3)
    })
    .assert_found(WRONG_SUM);
}

#[test]
fn shuttle_pct_fixed_ring_of_3_sums_right() {
    check::shuttle_pct(1_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_fixed, 3, 3)
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_ring_of_3_reuses_the_send_buffer_wrong_sum() {
    check::shuttle_pct(1_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_broken, 3, 3)
    })
    .assert_found(WRONG_SUM);
}

#[test]
fn shuttle_random_fixed_ring_and_tree_of_4_sum_right() {
    check::shuttle_random(300, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_fixed, 4, 5);
        sh::scenario::all_reduce(Algorithm::Tree, links::shuttle_fixed, 4, 5);
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_ring_of_4_wrong_sum() {
    check::shuttle_random(300, check::DEFAULT_SEED, || {
        sh::scenario::all_reduce(Algorithm::Ring, links::shuttle_broken, 4, 5);
    })
    .assert_found(WRONG_SUM);
}

// ---- real threads: the fixed links on the machine's cores (Miri and TSan run this one) ----

/// Ring and tree on real threads, every rank on its own OS thread, checked bit-exactly against
/// the sequential reduction (small sizes under Miri).
#[test]
fn real_threads_fixed_ring_and_tree_sum_bit_exactly() {
    use lockfree_lab::net::all_reduce::real;
    let (ranks, len, rounds) = if cfg!(miri) { (3, 4, 1) } else { (4, 64, 50) };
    for _ in 0..rounds {
        real::scenario::all_reduce(Algorithm::Ring, links::real_fixed, ranks, len);
        real::scenario::all_reduce(Algorithm::Tree, links::real_fixed, ranks, len);
    }
}
