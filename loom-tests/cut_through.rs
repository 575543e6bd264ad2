//! Model tests for cut-through: every fixed test has a broken twin running the same scenario.
//!
//! The bug of `cut_through::broken` is logic, exposed by an interleaving: the wire thread starts a
//! frame before its last chunk has crossed the ring, and then ends it with a valid FCS although
//! that last chunk says the sender aborted. loom and shuttle both reach that schedule (no weak
//! memory needed); under store-and-forward no schedule shows it. The PCIe side and the wire side
//! each run on their own model thread, through the model backend of the lab's SPSC ring.

use lockfree_lab::check;
use lockfree_lab::nic::cut_through::{
    self, chunks, frame_bytes, loom as lm, real, receive, shuttle as sh, Chunk, Mode, Outcome, Recorder,
};
use lockfree_lab::spsc;

/// The scenario's verdict on the broken MAC.
const BAD_AS_GOOD: &str = "a bad frame was delivered as good";

/// A good frame, then one its sender aborts: two chunks each (64 + 36 bytes).
const GOOD_THEN_ABORTED: &[(usize, bool)] = &[(100, false), (100, true)];
/// One aborted frame of two chunks.
const ABORTED: &[(usize, bool)] = &[(100, true)];

// ---- loom ----

#[test]
fn loom_fixed_cut_through_poisons_an_aborted_frame_and_delivers_a_good_one() {
    let report = check::loom(Some(2), || {
        lm::scenario::stream::<lm::fixed::Mac, _, _>(
            spsc::loom::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    });
    report.assert_passed();
    assert!(report.executions > 100, "loom explored too little: {report}");
}

#[test]
fn loom_broken_cut_through_delivers_a_bad_frame_as_good() {
    let report = check::loom(Some(2), || {
        lm::scenario::stream::<lm::broken::Mac, _, _>(
            spsc::loom::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    });
    let failure = report.assert_found(BAD_AS_GOOD);
    // The counterexample: the wire thread popped a chunk of the frame before the last one was pushed.
    assert!(failure.trace.iter().any(|s| s.op == "load"), "{report}");
    println!("{report}");
}

#[test]
fn loom_fixed_cut_through_one_aborted_frame_never_leaves_as_good() {
    check::loom(None, || {
        lm::scenario::stream::<lm::fixed::Mac, _, _>(spsc::loom::fixed::channel::<Chunk>, 1, Mode::CutThrough, ABORTED)
    })
    .assert_passed();
}

#[test]
fn loom_broken_cut_through_one_aborted_frame_leaves_as_good() {
    check::loom(None, || {
        lm::scenario::stream::<lm::broken::Mac, _, _>(spsc::loom::fixed::channel::<Chunk>, 1, Mode::CutThrough, ABORTED)
    })
    .assert_found(BAD_AS_GOOD);
}

/// The bug needs cut-through: a store-and-forward MAC holds the frame until its last chunk is in,
/// sees the abort and drops it, in every schedule — the broken MAC included.
#[test]
fn loom_broken_store_and_forward_never_delivers_a_bad_frame() {
    for make in [
        || {
            lm::scenario::stream::<lm::broken::Mac, _, _>(
                spsc::loom::fixed::channel::<Chunk>,
                2,
                Mode::StoreAndForward,
                GOOD_THEN_ABORTED,
            )
        },
        || {
            lm::scenario::stream::<lm::fixed::Mac, _, _>(
                spsc::loom::fixed::channel::<Chunk>,
                2,
                Mode::StoreAndForward,
                GOOD_THEN_ABORTED,
            )
        },
    ] {
        let report = check::loom(Some(2), make);
        report.assert_passed();
        assert!(report.executions > 1, "{report}");
    }
}

// ---- shuttle: an interleaving bug, so shuttle sees it too ----

#[test]
fn shuttle_random_fixed_cut_through_passes() {
    check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::stream::<sh::fixed::Mac, _, _>(
            spsc::shuttle::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    })
    .assert_passed();
}

#[test]
fn shuttle_random_broken_cut_through_delivers_a_bad_frame_as_good() {
    check::shuttle_random(1_000, check::DEFAULT_SEED, || {
        sh::scenario::stream::<sh::broken::Mac, _, _>(
            spsc::shuttle::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    })
    .assert_found(BAD_AS_GOOD);
}

#[test]
fn shuttle_pct_fixed_cut_through_passes() {
    check::shuttle_pct(1_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::stream::<sh::fixed::Mac, _, _>(
            spsc::shuttle::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_broken_cut_through_delivers_a_bad_frame_as_good() {
    check::shuttle_pct(1_000, 3, check::DEFAULT_SEED, || {
        sh::scenario::stream::<sh::broken::Mac, _, _>(
            spsc::shuttle::fixed::channel::<Chunk>,
            2,
            Mode::CutThrough,
            GOOD_THEN_ABORTED,
        )
    })
    .assert_found(BAD_AS_GOOD);
}

// ---- real backend, one thread: the MAC's decisions, deterministically (also run under Miri) ----

/// Pushes `frames` into a ring, all at once or one chunk per poll, and forwards them with `M`.
fn play<M: cut_through::Forward>(mode: Mode, abort: bool, interleave: bool) -> (Outcome, Recorder) {
    let bytes = frame_bytes(0, 300);
    let (mut tx, mut rx) = spsc::real::fixed::channel::<Chunk>(8);
    let mut mac = M::new(mode);
    let mut wire = Recorder::default();
    let mut outcome = None;
    for chunk in chunks(0, &bytes, abort) {
        tx.push(chunk).unwrap();
        if interleave {
            outcome = outcome.or(mac.poll(&mut rx, &mut wire));
        }
    }
    let outcome = outcome.unwrap_or_else(|| mac.forward(&mut rx, &mut wire));
    (outcome, wire)
}

#[test]
fn real_replay_cut_through_streamed_aborted_frame_fixed_poisons_broken_sends_good() {
    let (fixed, wire) = play::<real::fixed::Mac>(Mode::CutThrough, true, true);
    assert_eq!(fixed, Outcome::Poisoned);
    assert_eq!(
        wire.frames[0].bytes.len(),
        300,
        "its head had left: every byte went out"
    );
    assert_eq!(receive(&wire, 0), None, "the receiver drops a poisoned frame");
    let (broken, wire) = play::<real::broken::Mac>(Mode::CutThrough, true, true);
    assert_eq!(broken, Outcome::Sent);
    assert!(receive(&wire, 0).is_some(), "the broken MAC's FCS is valid");
}

#[test]
fn real_replay_a_frame_whole_before_it_starts_is_dropped_by_both_macs() {
    for (mode, interleave) in [
        (Mode::CutThrough, false),
        (Mode::StoreAndForward, false),
        (Mode::StoreAndForward, true),
    ] {
        let (fixed, wf) = play::<real::fixed::Mac>(mode, true, interleave);
        let (broken, wb) = play::<real::broken::Mac>(mode, true, interleave);
        assert_eq!((fixed, broken), (Outcome::Dropped, Outcome::Dropped), "{mode:?}");
        assert!(wf.frames.is_empty() && wb.frames.is_empty(), "no byte left");
    }
}

#[test]
fn real_replay_good_frames_arrive_intact_in_every_mode() {
    for mode in Mode::BOTH {
        for interleave in [false, true] {
            let (outcome, wire) = play::<real::fixed::Mac>(mode, false, interleave);
            assert_eq!(outcome, Outcome::Sent);
            assert_eq!(receive(&wire, 0), Some(frame_bytes(0, 300)), "{mode:?}");
        }
    }
}

#[test]
fn real_replay_step_shows_the_seed_scenes_from_real_state() {
    let (steps, outcome) = cut_through::replay(lockfree_lab::Variant::Broken);
    assert!(outcome.contains(BAD_AS_GOOD), "{outcome}");
    assert!(
        outcome.contains("t=6 under store-and-forward, t=1 under cut-through"),
        "{outcome}"
    );
    let (_, outcome) = cut_through::replay(lockfree_lab::Variant::Fixed);
    assert!(outcome.contains("poisoned"), "{outcome}");
    assert!(
        steps.iter().any(|s| s.frame == "xxxxxx"),
        "the aborted store-and-forward frame is dropped"
    );
}

#[test]
fn crc32_is_ieee_802_3() {
    assert_eq!(cut_through::crc32(b"123456789"), 0xCBF4_3926);
}

// ---- real threads, two cores (small sizes: also run under Miri and TSan) ----

#[test]
fn real_threads_fixed_never_sends_a_bad_frame_as_good() {
    let frames = if cfg!(miri) { 16 } else { 400 };
    for mode in Mode::BOTH {
        for len in [64, 1_500] {
            let r = cut_through::run_on_cores(
                lockfree_lab::Variant::Fixed,
                mode,
                len,
                frames,
                cut_through::LineRate::Unpaced,
                lockfree_lab::hw::Pin::Spread,
            );
            assert_eq!(r.bad_as_good, 0, "{mode:?} {len}");
            assert_eq!((r.good_lost, r.misordered), (0, 0), "{mode:?} {len}");
            assert_eq!(r.aborted, frames / cut_through::ABORT_EVERY);
            if mode == Mode::StoreAndForward || len == 64 {
                assert_eq!(r.dropped, r.aborted, "whole frames: every aborted one is dropped");
            }
        }
    }
}
