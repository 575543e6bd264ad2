//! Model tests for the MESI protocol model: every cache on its own model thread, every fixed test
//! with a broken twin running the same scenario (`cpu::mesi::scenario`).
//!
//! The broken protocol's bug (a write hit in S does not invalidate the other copies) is an
//! interleaving/logic bug: it needs one core's write to land between the other core's two reads.
//! loom (exhaustive) and shuttle (random, PCT) must both catch it, as a stale read or, with the
//! SWMR check on, as the state the write leaves; the fixed protocol must pass every checker.

use lockfree_lab::check;
use lockfree_lab::cpu::mesi::{loom as lm, shuttle as sh};

const ITERATIONS: usize = 2_000;

// ---- loom ----

#[test]
fn loom_broken_write_after_share_stale_read_found() {
    let report = check::loom(None, lm::scenario::write_after_share::<lm::broken::Bus>);
    let failure = report.assert_found("stale read");
    println!("{report}");
    assert!(
        failure
            .message
            .contains("single-writer/multiple-reader is broken: A holds the line M while B still holds it S"),
        "{report}"
    );
}

#[test]
fn loom_fixed_write_after_share_passes() {
    let report = check::loom(None, lm::scenario::write_after_share::<lm::fixed::Bus>);
    report.assert_passed();
    println!("{report}");
    assert!(report.executions > 10, "{report}");
}

#[test]
fn loom_broken_swmr_violated_found() {
    check::loom(None, lm::scenario::write_after_share_swmr::<lm::broken::Bus>).assert_found("SWMR violated");
}

#[test]
fn loom_fixed_swmr_holds() {
    check::loom(None, lm::scenario::write_after_share_swmr::<lm::fixed::Bus>).assert_passed();
}

#[test]
fn loom_broken_two_writers_found() {
    check::loom(None, lm::scenario::two_writers::<lm::broken::Bus>).assert_found("stale read");
}

#[test]
fn loom_fixed_two_writers_passes() {
    check::loom(None, lm::scenario::two_writers::<lm::fixed::Bus>).assert_passed();
}

// Three caches are checked under shuttle only: with the main thread that is four loom threads
// contending for one spin-locked bus, and loom's exploration of the waiting (each failed
// compare-exchange is a branch) exceeds its 1,000-branch limit per execution.

// ---- shuttle ----

#[test]
fn shuttle_pct_broken_write_after_share_found() {
    let report = check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share::<sh::broken::Bus>,
    );
    report.assert_found("stale read");
    println!("{report}");
}

#[test]
fn shuttle_pct_fixed_write_after_share_passes() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share::<sh::fixed::Bus>,
    )
    .assert_passed();
}

#[test]
fn shuttle_random_broken_write_after_share_found() {
    check::shuttle_random(
        ITERATIONS,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share::<sh::broken::Bus>,
    )
    .assert_found("stale read");
}

#[test]
fn shuttle_random_fixed_write_after_share_passes() {
    check::shuttle_random(
        ITERATIONS,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share::<sh::fixed::Bus>,
    )
    .assert_passed();
}

#[test]
fn shuttle_random_broken_swmr_violated_found() {
    check::shuttle_random(
        ITERATIONS,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share_swmr::<sh::broken::Bus>,
    )
    .assert_found("SWMR violated");
}

#[test]
fn shuttle_random_fixed_swmr_holds() {
    check::shuttle_random(
        ITERATIONS,
        check::DEFAULT_SEED,
        sh::scenario::write_after_share_swmr::<sh::fixed::Bus>,
    )
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_two_writers_found() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::two_writers::<sh::broken::Bus>,
    )
    .assert_found("stale read");
}

#[test]
fn shuttle_pct_fixed_two_writers_passes() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::two_writers::<sh::fixed::Bus>,
    )
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_three_cores_found() {
    check::shuttle_pct(
        ITERATIONS,
        3,
        check::DEFAULT_SEED,
        sh::scenario::three_cores::<sh::broken::Bus>,
    )
    .assert_found("stale read");
}

#[test]
fn shuttle_pct_fixed_three_cores_passes() {
    check::shuttle_pct(
        ITERATIONS,
        3,
        check::DEFAULT_SEED,
        sh::scenario::three_cores::<sh::fixed::Bus>,
    )
    .assert_passed();
}

// ---- real threads ----

#[test]
fn real_threads_fixed_model_never_stale() {
    use lockfree_lab::cpu::mesi::{real, run_model};
    let m = run_model::<real::fixed::Bus>(2, 5_000, lockfree_lab::hw::Pin::Spread);
    assert_eq!((m.stale, m.swmr_violations), (0, 0), "{m:?}");
}

/// The fixed model on two plain std threads (no pinning, no CPU clocks: Miri and TSan run it),
/// each core reading and writing its own values: no read is ever stale, no state breaks SWMR.
#[test]
fn real_threads_plain_fixed_model_never_stale() {
    use lockfree_lab::cpu::mesi::{check_swmr, real};
    let ops: u64 = if cfg!(miri) { 40 } else { 20_000 };
    let bus = real::fixed::Bus::new(2);
    std::thread::scope(|s| {
        for core in 0..2 {
            let bus = &bus;
            s.spawn(move || {
                for i in 0..ops {
                    let states = if i % 3 == 2 {
                        bus.write(core, i * 2 + core as u64).states
                    } else {
                        let read = bus.read(core);
                        assert_eq!(read.stale(), None);
                        read.states
                    };
                    assert_eq!(check_swmr(&states), Ok(()));
                }
            });
        }
    });
}

/// The seed's scene on the real structures: the broken model's last step is B's stale read.
#[test]
fn replay_broken_b_reads_its_stale_shared_copy() {
    use lockfree_lab::cpu::mesi::{replay::seed_replay, State};
    let steps = seed_replay(lockfree_lab::Variant::Broken);
    let states: Vec<Vec<State>> = steps.iter().map(|s| s.caches.iter().map(|c| c.0).collect()).collect();
    use State::*;
    assert_eq!(states, vec![vec![I, I], vec![E, I], vec![S, S], vec![M, S], vec![M, S]]);
    assert!(steps[4].action.contains("STALE READ"), "{}", steps[4]);
}

/// The same scene, fixed: A's write invalidates B, and B's read misses and gets 1.
#[test]
fn replay_fixed_b_misses_and_reads_the_write() {
    use lockfree_lab::cpu::mesi::{replay::seed_replay, State};
    let steps = seed_replay(lockfree_lab::Variant::Fixed);
    let states: Vec<Vec<State>> = steps.iter().map(|s| s.caches.iter().map(|c| c.0).collect()).collect();
    use State::*;
    assert_eq!(states, vec![vec![I, I], vec![E, I], vec![S, S], vec![M, I], vec![S, S]]);
    assert_eq!(steps[4].caches[1], (S, 1));
    assert_eq!(steps[4].memory, 1, "A's M copy was written back");
}
