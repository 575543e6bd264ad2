//! Model tests for the bounded MPMC queue: every fixed test has a broken twin running the same
//! scenario.
//!
//! The broken queue's bug (no per-slot stamp: a claimed slot is trusted to be written, or read)
//! is an interleaving bug, so loom *and* shuttle (random and PCT) catch it, with every value
//! checked to be delivered exactly once. The twins use atomic payloads (`AtomicSlot`), the only
//! ones the broken queue accepts; the fixed queue is also checked with `UnsafeSlot` payloads,
//! where loom checks every payload access for a data race.

use lockfree_lab::check;
use lockfree_lab::mpmc::{loom as lm, shuttle as sh};

type LoomFixed = lm::fixed::Queue<u64, lm::slot::AtomicSlot>;
type LoomBroken = lm::broken::Queue<u64, lm::slot::AtomicSlot>;
type LoomFixedUnsafe = lm::fixed::Queue<u64, lm::slot::UnsafeSlot<u64>>;
type ShuttleFixed = sh::fixed::Queue<u64, sh::slot::AtomicSlot>;
type ShuttleBroken = sh::broken::Queue<u64, sh::slot::AtomicSlot>;
type ShuttleFixedUnsafe = sh::fixed::Queue<u64, sh::slot::UnsafeSlot<u64>>;

const LOST: &str = "not delivered exactly once";
const ITERATIONS: usize = 1_000;

// ---- loom: 1 producer, 1 consumer, capacity 2 ----

#[test]
fn loom_fixed_1p1c_delivers_every_value_once() {
    let report = check::loom(None, || lm::scenario::one_producer_one_consumer::<LoomFixed>(2));
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_1p1c_consumer_reads_a_claimed_but_unwritten_slot() {
    let report = check::loom(None, || lm::scenario::one_producer_one_consumer::<LoomBroken>(2));
    report.assert_found(LOST);
    println!("{report}");
}

/// The same scenario with plain-memory payloads: loom also checks that no payload access races.
/// (Its broken twin is the test above: the broken queue takes only atomic payloads, so that its
/// races are wrong values, not undefined behaviour.)
#[test]
fn loom_fixed_1p1c_unsafe_slots_never_race() {
    check::loom(None, || lm::scenario::one_producer_one_consumer::<LoomFixedUnsafe>(2)).assert_passed();
}

// ---- loom: slot reuse on a full queue, capacity 1 ----

#[test]
fn loom_fixed_slot_reuse_never_overwrites_an_unread_value() {
    check::loom(None, lm::scenario::slot_reuse::<LoomFixed>).assert_passed();
}

#[test]
fn loom_broken_slot_reuse_overwrites_a_claimed_but_unread_value() {
    let report = check::loom(None, lm::scenario::slot_reuse::<LoomBroken>);
    report.assert_found(LOST);
    println!("{report}");
}

#[test]
fn loom_fixed_slot_reuse_unsafe_slots_never_race() {
    check::loom(None, lm::scenario::slot_reuse::<LoomFixedUnsafe>).assert_passed();
}

// ---- loom: 2 producers, 1 consumer (3 threads: preemption bound 2) ----

#[test]
fn loom_fixed_2p1c_delivers_every_value_once() {
    check::loom(Some(2), || lm::scenario::two_producers_one_consumer::<LoomFixed>(2)).assert_passed();
}

#[test]
fn loom_broken_2p1c_loses_a_value() {
    check::loom(Some(2), || lm::scenario::two_producers_one_consumer::<LoomBroken>(2)).assert_found(LOST);
}

#[test]
fn loom_fixed_2p1c_unsafe_slots_never_race() {
    check::loom(Some(2), || {
        lm::scenario::two_producers_one_consumer::<LoomFixedUnsafe>(2)
    })
    .assert_passed();
}

// ---- shuttle: random ----

#[test]
fn shuttle_random_fixed_delivers_every_value_once() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::one_producer_one_consumer::<ShuttleFixed>(2);
        sh::scenario::slot_reuse::<ShuttleFixed>();
        sh::scenario::two_producers_one_consumer::<ShuttleFixedUnsafe>(2);
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_1p1c_loses_a_value() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::one_producer_one_consumer::<ShuttleBroken>(2)
    })
    .assert_found(LOST);
}

#[test]
fn shuttle_random_broken_slot_reuse_loses_a_value() {
    check::shuttle_random(
        ITERATIONS,
        check::DEFAULT_SEED,
        sh::scenario::slot_reuse::<ShuttleBroken>,
    )
    .assert_found(LOST);
}

#[test]
fn shuttle_random_broken_2p1c_loses_a_value() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::two_producers_one_consumer::<ShuttleBroken>(2)
    })
    .assert_found(LOST);
}

// ---- shuttle: PCT, depth 2 (depth 1 cannot place the one preemption these bugs need) ----

#[test]
fn shuttle_pct_fixed_delivers_every_value_once() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::one_producer_one_consumer::<ShuttleFixed>(2);
        sh::scenario::slot_reuse::<ShuttleFixed>();
        sh::scenario::two_producers_one_consumer::<ShuttleFixedUnsafe>(2);
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_1p1c_loses_a_value() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::one_producer_one_consumer::<ShuttleBroken>(2)
    })
    .assert_found(LOST);
}

#[test]
fn shuttle_pct_broken_slot_reuse_loses_a_value() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::slot_reuse::<ShuttleBroken>,
    )
    .assert_found(LOST);
}

#[test]
fn shuttle_pct_broken_2p1c_loses_a_value() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_producers_one_consumer::<ShuttleBroken>(2)
    })
    .assert_found(LOST);
}

// ---- loom: pop-then-push on a full queue never reports Full ----

/// Without the `[tail-seen]` edge (Release tail CAS, Acquire fence before reading `head`), loom
/// finds a push that reports Full from a `head` older than the `tail` it read.
#[test]
fn loom_fixed_pop_then_push_on_full_never_reports_full() {
    check::loom(None, lm::scenario::pop_then_push_on_full::<LoomFixedUnsafe>).assert_passed();
}

#[test]
fn loom_fixed_pop_then_push_on_full_atomic_slots() {
    check::loom(None, lm::scenario::pop_then_push_on_full::<LoomFixed>).assert_passed();
}

#[test]
fn loom_broken_pop_then_push_on_full_loses_a_value() {
    check::loom(None, lm::scenario::pop_then_push_on_full::<LoomBroken>).assert_found(LOST);
}

// ---- loom: a thread that just pushed can pop (linearizable) ----

/// Without the `[head-seen]` edge (Release head CAS, Acquire fence before reading `tail`), loom
/// finds a pop that reports empty from a stale stamp while the other thread's item is inside.
#[test]
fn loom_fixed_push_then_pop_always_finds_an_item() {
    check::loom(None, lm::scenario::push_then_pop::<LoomFixedUnsafe>).assert_passed();
}

#[test]
fn loom_fixed_push_then_pop_atomic_slots() {
    check::loom(None, lm::scenario::push_then_pop::<LoomFixed>).assert_passed();
}

#[test]
fn loom_broken_push_then_pop_loses_a_value() {
    check::loom(None, lm::scenario::push_then_pop::<LoomBroken>).assert_found(LOST);
}

// ---- shuttle: the linearizability scenarios ----

#[test]
fn shuttle_pct_fixed_pop_then_push_and_push_then_pop() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::pop_then_push_on_full::<ShuttleFixedUnsafe>();
        sh::scenario::push_then_pop::<ShuttleFixedUnsafe>();
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_pop_then_push_loses_a_value() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::pop_then_push_on_full::<ShuttleBroken>,
    )
    .assert_found(LOST);
}

#[test]
fn shuttle_pct_broken_push_then_pop_loses_a_value() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::push_then_pop::<ShuttleBroken>,
    )
    .assert_found(LOST);
}

// ---- loom: `len` and `is_full` count only what was inside ----

/// A worker pushes 1, pops it, pushes 2; an observer's `len()` must never say 2 (capacity 2: a
/// `head` older than the `tail` it read, i.e. `is_full()` on a queue that held one item) nor a
/// wrapped count (capacity 3: a `tail` older than the `head`). With Relaxed loads in `len` loom
/// finds both (`scripts/mutate-orderings mpmc` weakens each Acquire of `len` in turn: this test
/// kills them). `len` is the same code in both variants, so the broken queue has no twin here.
#[test]
fn loom_fixed_len_counts_only_what_was_inside() {
    for capacity in [2, 3] {
        let report = check::loom(Some(2), move || {
            lm::scenario::len_counts_only_what_was_inside::<LoomFixed>(capacity)
        });
        report.assert_passed();
        assert!(report.executions > 1, "loom explored only one execution: {report}");
    }
}
