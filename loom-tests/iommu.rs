//! Model tests for the IOMMU's unmap: every fixed test has a broken twin running the same
//! scenario (`nic::iommu::scenario::unmap_reuse_remap`).
//!
//! | variant        | loom                      | shuttle (random, PCT)     |
//! |----------------|---------------------------|---------------------------|
//! | broken (lazy)  | caught: use after free    | caught: use after free    |
//! | fixed (strict) | passes (bound 3, and unbounded) | passes              |
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
    let report = check::loom(BOUND, || lm::scenario::unmap_reuse_remap(lm::broken::new));
    report.assert_found("use after free");
    println!("{report}");
}

#[test]
fn loom_fixed_strict_unmap_passes() {
    let report = check::loom(BOUND, || lm::scenario::unmap_reuse_remap(lm::fixed::new));
    report.assert_passed();
    println!("{report}");
    assert!(report.executions > 1, "{report}");
}

#[test]
fn loom_fixed_strict_unmap_passes_unbounded() {
    let report = check::loom(None, || lm::scenario::unmap_reuse_remap(lm::fixed::new));
    report.assert_passed();
    println!("{report}");
}

// ---- shuttle ----

#[test]
fn shuttle_pct_broken_lazy_unmap_use_after_free_found() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::unmap_reuse_remap(sh::broken::new)
    })
    .assert_found("use after free");
}

#[test]
fn shuttle_random_broken_lazy_unmap_use_after_free_found() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::unmap_reuse_remap(sh::broken::new)
    })
    .assert_found("use after free");
}

#[test]
fn shuttle_pct_fixed_strict_unmap_passes() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::unmap_reuse_remap(sh::fixed::new)
    })
    .assert_passed();
}

#[test]
fn shuttle_random_fixed_strict_unmap_passes() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::unmap_reuse_remap(sh::fixed::new)
    })
    .assert_passed();
}
