//! The send-path demo's measurements on real threads, checked for what they carry rather than
//! for how fast they are: every payload arrives whole and in order, every call is recorded.
//!
//! Under Miri only `the_bypass_handoff_delivers_every_payload_on_plain_threads` runs (plain
//! `std::thread`s, a few payloads): the others open sockets or pin threads, which Miri does not
//! emulate; ThreadSanitizer runs them all (`scripts/sanitizers`).

use std::time::Duration;

use lockfree_lab::hw::Pin;
use lockfree_lab::nic::descriptor_ring::queue::real::fixed as queue;
use lockfree_lab::nic::send_path::{bypass, driver, kernel, kernel::Proto, OneInFlight};

#[test]
fn the_bypass_handoff_delivers_every_payload_on_plain_threads() {
    let n = if cfg!(miri) { 4 } else { 200 };
    let (mut tx, mut rx) = queue::channel::<[u8; 64]>(bypass::SLOTS);
    let turns = OneInFlight::default();
    let (h, errors) = std::thread::scope(|s| {
        s.spawn(|| bypass::send(&mut tx, n, Duration::ZERO, &turns));
        s.spawn(|| bypass::receive(&mut rx, n, &turns, 0)).join().unwrap()
    });
    assert_eq!((h.len(), errors), (n, 0));
}

#[test]
fn the_bypass_one_way_run_delivers_small_and_large_payloads() {
    let small = bypass::one_way::<64>(50, Pin::None, 0);
    let large = bypass::one_way::<1472>(50, Pin::None, 0);
    for r in [small, large] {
        assert_eq!((r.latency.len(), r.errors), (50, 0));
    }
}

#[test]
fn send_costs_cover_every_size_and_get_the_payload_back() {
    for proto in [Proto::Udp, Proto::Tcp] {
        let (costs, _) = kernel::send_costs(proto, &[64, 4096], 20, Pin::None, 0).unwrap();
        assert_eq!(costs.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [64, 4096]);
        assert!(costs.iter().all(|(_, h)| h.len() == 20), "{proto:?}");
    }
}

#[test]
fn the_kernel_path_delivers_every_payload_in_order_blocking_and_polling() {
    for proto in [Proto::Udp, Proto::Tcp] {
        for poll in [false, true] {
            let r = kernel::one_way(proto, 1472, 50, poll, Pin::None, 0).unwrap();
            assert_eq!((r.latency.len(), r.errors), (50, 0), "{proto:?} poll={poll}");
        }
    }
}

#[test]
fn the_null_syscall_run_records_every_call() {
    let (h, _) = kernel::null_syscall(100, Pin::None, 0);
    assert_eq!(h.len(), 100);
}

#[test]
fn every_descriptor_is_posted_rung_and_fetched_whole() {
    let c = driver::post_and_doorbell(2_000, Pin::None, 0);
    assert_eq!((c.post.len(), c.doorbell.len(), c.torn), (2_000, 2_000, 0));
}
