//! Model tests for the IOMMU's unmap: every fixed test has a broken twin running the same
//! scenario (`nic::iommu::scenario::map_unmap_reuse`).
//!
//! | variant        | loom                      | shuttle (random, PCT)     |
//! |----------------|---------------------------|---------------------------|
//! | broken (lazy)  | caught: use after free    | caught: use after free    |
//! | fixed (strict) | passes (bound 3)          | passes                    |
//!
//! The bug is an interleaving (a DMA through a stale IOTLB entry lands after the reuse), so both
//! checkers see it. The fixed variant's three happens-before edges (`[pte-publish]`, `[inv-post]`,
//! `[inv-done]`) are what loom alone checks: `scripts/mutate-orderings iommu` weakens each of
//! their orderings in turn and this suite must fail every time.

use lockfree_lab::check;
use lockfree_lab::nic::iommu::{loom as lm, shuttle as sh};

const BOUND: Option<usize> = Some(3);
const ITERATIONS: usize = 2_000;

// ---- loom ----

#[test]
fn loom_broken_lazy_unmap_use_after_free_found() {
    let report = check::loom(BOUND, || lm::scenario::map_unmap_reuse(lm::broken::new));
    report.assert_found("use after free");
    println!("{report}");
}

#[test]
fn loom_fixed_strict_unmap_passes() {
    let report = check::loom(BOUND, || lm::scenario::map_unmap_reuse(lm::fixed::new));
    report.assert_passed();
    println!("{report}");
    assert!(report.executions > 1, "{report}");
}

/// Unbounded, loom's search on this scenario ends after ~100 executions, and with the walk's
/// Acquire weakened to Relaxed it *passes*, while bound 3 finds the stale read at execution ~80
/// (measured): with both threads in spin loops loom's unbounded exploration is not exhaustive
/// here. This test pins that blind spot so nobody mistakes the unbounded run for a proof; the
/// bounded tests above are the ones that count.
#[test]
fn loom_unbounded_explores_only_a_few_executions_here() {
    let report = check::loom(None, || lm::scenario::map_unmap_reuse(lm::fixed::new));
    report.assert_passed();
    assert!(report.executions < 1_000, "{report}");
}

// ---- shuttle ----

#[test]
fn shuttle_pct_broken_lazy_unmap_use_after_free_found() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::map_unmap_reuse(sh::broken::new)
    })
    .assert_found("use after free");
}

#[test]
fn shuttle_random_broken_lazy_unmap_use_after_free_found() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::map_unmap_reuse(sh::broken::new)
    })
    .assert_found("use after free");
}

#[test]
fn shuttle_pct_fixed_strict_unmap_passes() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::map_unmap_reuse(sh::fixed::new)
    })
    .assert_passed();
}

#[test]
fn shuttle_random_fixed_strict_unmap_passes() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::map_unmap_reuse(sh::fixed::new)
    })
    .assert_passed();
}
