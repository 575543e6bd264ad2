//! Model tests for the NAPI poll loop: every fixed test has a broken twin running the same scenario.
//!
//! The NIC posts two packets and goes quiet; the driver takes IRQs and polls until the line is
//! quiet. The broken poll re-arms without re-checking the ring, so a packet posted while the line
//! was masked strands: loom and shuttle both find it (an interleaving bug). The fixed poll's
//! fences are checked by `scripts/mutate-orderings napi` (each removal is caught by loom here)
//! and its re-check by `scripts/mutate-logic`.

use lockfree_lab::check;
use lockfree_lab::nic::napi::real::scenario::STRANDED;
use lockfree_lab::nic::napi::{loom as lm, shuttle as sh};
use lockfree_lab::spsc::{loom as lm_ring, shuttle as sh_ring};

/// Model threads: main, the NIC, the driver's CPU.
const THREADS: usize = 3;

// ---- the two-packet scenario, budget 2: packet 1 alone completes the first poll ----

#[test]
fn loom_fixed_two_packets_none_stranded() {
    let report = check::loom(Some(3), || {
        lm::scenario::packets_then_silence(lm::fixed::new(lm_ring::fixed::channel(2), 2), 2)
    });
    report.assert_passed();
    assert!(report.executions > 1, "loom explored only one execution: {report}");
}

#[test]
fn loom_broken_two_packets_one_strands() {
    let report = check::loom(Some(3), || {
        lm::scenario::packets_then_silence(lm::broken::new(lm_ring::fixed::channel(2), 2), 2)
    });
    report.assert_found(STRANDED);
    println!("{report}");
}

// ---- budget 1: every poll that drains a packet uses its whole budget and is polled again ----

#[test]
fn loom_fixed_budget_1_repolls_and_none_stranded() {
    check::loom(Some(2), || {
        lm::scenario::packets_then_silence(lm::fixed::new(lm_ring::fixed::channel(2), 1), 2)
    })
    .assert_passed();
}

#[test]
fn loom_broken_budget_1_strands_too() {
    check::loom(Some(2), || {
        lm::scenario::packets_then_silence(lm::broken::new(lm_ring::fixed::channel(2), 1), 2)
    })
    .assert_found(STRANDED);
}

// ---- one packet: nothing can strand it (the line starts armed), in either variant ----

#[test]
fn loom_one_packet_never_strands_even_in_the_broken_variant() {
    check::loom(None, || {
        lm::scenario::packets_then_silence(lm::broken::new(lm_ring::fixed::channel(2), 2), 1)
    })
    .assert_passed();
}

// ---- shuttle: an interleaving bug, so both schedulers see it ----

#[test]
fn shuttle_fixed_two_packets_none_stranded() {
    let scenario = || sh::scenario::packets_then_silence(sh::fixed::new(sh_ring::fixed::channel(2), 2), 2);
    check::shuttle_random(1_000, check::DEFAULT_SEED, scenario).assert_passed();
    check::shuttle_pct(1_000, THREADS, check::DEFAULT_SEED, scenario).assert_passed();
}

#[test]
fn shuttle_broken_two_packets_one_strands_random_and_pct() {
    let scenario = || sh::scenario::packets_then_silence(sh::broken::new(sh_ring::fixed::channel(2), 2), 2);
    let report = check::shuttle_random(1_000, check::DEFAULT_SEED, scenario);
    let failure = report.assert_found(STRANDED);
    // The textbook interleaving: the NIC posted a packet and found the line masked (no IRQ).
    assert!(
        failure
            .trace
            .iter()
            .any(|s| s.location.file().ends_with("napi/broken.rs") && s.op == "load" && s.detail() == "-> false"),
        "{report}"
    );
    check::shuttle_pct(1_000, THREADS, check::DEFAULT_SEED, scenario).assert_found(STRANDED);
}

// ---- the real structures, on real threads (Miri and TSan run these) ----

#[test]
fn real_threads_fixed_delivers_every_packet() {
    use lockfree_lab::nic::napi::real;
    let packets = if cfg!(miri) { 20 } else { 20_000 };
    for budget in [1, 2, 64] {
        // A ring with room for every packet: the NIC never waits, so a stranded packet ends the
        // run (the driver goes idle with it in the ring) instead of blocking the NIC forever.
        real::scenario::packets_then_silence(
            real::fixed::new(lockfree_lab::spsc::real::fixed::channel(packets as usize), budget),
            packets,
        );
    }
}

#[test]
fn replay_broken_strands_packet_7_until_packet_8() {
    use lockfree_lab::nic::napi::{replay::napi_replay, Variant};
    let steps = napi_replay(Variant::Broken);
    let last = steps.last().unwrap();
    assert!(
        last.action.contains("packet 7 was stranded until packet 8 came"),
        "{last}"
    );
    assert_eq!((last.hard_irqs, last.per_packet_irqs), (2, 8));
    assert!(steps
        .iter()
        .any(|s| s.action.contains("STRANDED") && s.armed && !s.poll_pending && s.occupancy == 1));
}

#[test]
fn replay_fixed_one_irq_for_seven_packets_nothing_stranded() {
    use lockfree_lab::nic::napi::{replay::napi_replay, Variant};
    let steps = napi_replay(Variant::Fixed);
    let last = steps.last().unwrap();
    assert!(last.action.ends_with("nothing stranded"), "{last}");
    assert_eq!((last.hard_irqs, last.polls, last.per_packet_irqs), (1, 3, 7));
    assert_eq!(last.occupancy, 0);
}

// ---- the interrupt carries its packet: the driver's Acquire take ----

#[test]
fn loom_fixed_the_poll_after_an_irq_finds_its_packet() {
    check::loom(None, || {
        lm::scenario::irq_finds_its_packet(lm::fixed::new(lm_ring::fixed::channel(2), 2))
    })
    .assert_passed();
}

#[test]
fn loom_broken_the_poll_after_an_irq_finds_its_packet_too() {
    // Not the broken variant's bug: its poll takes the IRQ with the same Acquire.
    check::loom(None, || {
        lm::scenario::irq_finds_its_packet(lm::broken::new(lm_ring::fixed::channel(2), 2))
    })
    .assert_passed();
}

#[test]
fn real_cores_fixed_run_strands_nothing_and_counts_what_it_did() {
    use lockfree_lab::hw::Pin;
    use lockfree_lab::nic::napi::cores::{run_on_cores, Kind, Workload};
    use lockfree_lab::nic::napi::Variant;
    for workload in Workload::BOTH {
        let r = run_on_cores(Kind::Napi(Variant::Fixed), workload, 3_000, 64, 8, Pin::Spread);
        assert_eq!((r.stranded, r.rescued), (0, 0), "{workload:?}: {r:?}");
        assert!(r.hard_irqs >= 1 && r.hard_irqs <= r.packets, "{r:?}");
        assert!(
            r.polls >= r.hard_irqs,
            "every IRQ is followed by at least one poll: {r:?}"
        );
        let per_packet = run_on_cores(Kind::PerPacket, workload, 3_000, 64, 8, Pin::Spread);
        assert_eq!(per_packet.hard_irqs, 3_000, "one IRQ per packet: {per_packet:?}");
    }
}
