//! The RDMA queue pair on the real backend: registered regions are never left, every WQE
//! completes once and in order across two real threads, the owner bit flips per lap, and the step
//! replay shows the broken driver's stale completion. The real-thread tests shrink under Miri.

use lockfree_lab::hw::Pin;
use lockfree_lab::nic::rdma_qp::{
    cqe_is_ours, op_own, owner_bit, pattern, qp_replay, qp_round_trips, real::fixed, tcp_round_trips, udp_round_trips,
    Config, Status, WorkRequest, BASE_ADDR, CQE_OPCODE_INVALID, CQE_OPCODE_REQ,
};
use lockfree_lab::Variant;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sizes: real ones, or Miri's.
fn sized(real: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        real
    }
}

#[test]
fn the_owner_bit_flips_every_lap_and_only_this_laps_valid_cqe_is_ours() {
    for size in [1u32, 2, 4] {
        for index in 0..4 * size {
            assert_eq!(owner_bit(index, size), (index / size) % 2, "index {index}, size {size}");
            let mine = op_own(CQE_OPCODE_REQ, owner_bit(index, size));
            let last_lap = op_own(CQE_OPCODE_REQ, 1 - owner_bit(index, size));
            assert!(cqe_is_ours(mine, index, size));
            assert!(!cqe_is_ours(last_lap, index, size), "last lap's CQE read as new");
            assert!(!cqe_is_ours(op_own(CQE_OPCODE_INVALID, 0), index, size));
            assert!(!cqe_is_ours(op_own(CQE_OPCODE_INVALID, 1), index, size));
        }
    }
    // The counters wrap at 2^32, a multiple of every power-of-two CQ size: the parity carries on.
    assert_eq!(owner_bit(u32::MAX, 4), 1);
    assert_eq!(owner_bit(u32::MAX.wrapping_add(1), 4), 0);
}

#[test]
fn bad_shapes_are_refused_with_the_reason() {
    assert!(Config::new(3, 4, &[]).check().unwrap_err().contains("powers of two"));
    assert!(Config::new(8, 4, &[]).check().unwrap_err().contains("overflow"));
    assert!(Config::new(1, 1, &[(12, true)])
        .check()
        .unwrap_err()
        .contains("multiple of 8"));
    assert!(Config::new(1, 1, &[(1 << 40, true)])
        .check()
        .unwrap_err()
        .contains("at most"));
    assert!(Config::new(4, 4, &[(64, false), (64, true)]).check().is_ok());
}

#[test]
#[should_panic(expected = "rdma_qp::queue_pair: the SQ (2) must not be larger than the CQ (1)")]
fn a_queue_pair_that_could_overflow_its_cq_panics_with_the_documented_message() {
    let _ = fixed::queue_pair(&Config::new(2, 1, &[]));
}

/// Regions: 0 local (64 B), 1 the peer's with remote write (64 B), 2 the peer's without (64 B).
fn three_regions() -> (fixed::Driver, fixed::Device) {
    fixed::queue_pair(&Config::new(1, 2, &[(64, false), (64, true), (64, false)]))
}

#[test]
fn a_request_outside_its_registration_completes_with_an_error_and_touches_no_memory() {
    let (mut driver, mut device) = three_regions();
    let (src, dst, ro) = (driver.region(0), driver.region(1), driver.region(2));
    let words = (ro.addr + ro.bytes + 8 - BASE_ADDR) as usize / 8; // every word of host memory
    driver.write_memory(src.addr, &[7; 8]);
    let bad_key = |k: u32| k ^ 0x01;
    let cases = [
        (
            "remote range runs past the region's end",
            WorkRequest::write(1, &src, src.addr, 64, &dst, dst.addr + 8),
            Status::RemoteAccess,
        ),
        (
            "remote range starts before the region",
            WorkRequest::write(2, &src, src.addr, 16, &dst, dst.addr - 8),
            Status::RemoteAccess,
        ),
        (
            "local range runs past the region's end",
            WorkRequest::write(3, &src, src.addr + 8, 64, &dst, dst.addr),
            Status::LocalProtection,
        ),
        (
            "unknown rkey",
            WorkRequest {
                rkey: bad_key(dst.key),
                ..WorkRequest::write(4, &src, src.addr, 8, &dst, dst.addr)
            },
            Status::RemoteAccess,
        ),
        (
            "unknown lkey",
            WorkRequest {
                lkey: bad_key(src.key),
                ..WorkRequest::write(5, &src, src.addr, 8, &dst, dst.addr)
            },
            Status::LocalProtection,
        ),
        (
            "rkey of a region index that does not exist",
            WorkRequest {
                rkey: (9 << 8) | 0x5a,
                ..WorkRequest::write(6, &src, src.addr, 8, &dst, dst.addr)
            },
            Status::RemoteAccess,
        ),
        (
            "key 0",
            WorkRequest {
                rkey: 0,
                ..WorkRequest::write(7, &src, src.addr, 8, &dst, dst.addr)
            },
            Status::RemoteAccess,
        ),
        (
            "region registered without remote write",
            WorkRequest::write(8, &src, src.addr, 8, &ro, ro.addr),
            Status::RemoteAccess,
        ),
        (
            "unaligned address",
            WorkRequest::write(9, &src, src.addr, 8, &dst, dst.addr + 4),
            Status::LocalLength,
        ),
        (
            "unaligned length",
            WorkRequest::write(10, &src, src.addr, 12, &dst, dst.addr),
            Status::LocalLength,
        ),
        (
            "address wraps around",
            WorkRequest::write(11, &src, src.addr, 64, &dst, u64::MAX - 31),
            Status::RemoteAccess,
        ),
    ];
    for (what, wr, status) in cases {
        let mut before = vec![0; words];
        driver.read_memory(BASE_ADDR, &mut before);
        driver.post(&wr).unwrap();
        assert_eq!(device.process(), 1);
        let c = driver.poll().expect("every request completes");
        assert_eq!((c.wr_id, c.status, c.byte_len), (wr.wr_id, status, 0), "{what}");
        let mut after = vec![0; words];
        driver.read_memory(BASE_ADDR, &mut after);
        assert_eq!(before, after, "{what}: the device touched memory");
    }
    // The same queue pair still copies a request that stays inside: the last word of the region.
    driver
        .post(&WorkRequest::write(12, &src, src.addr, 8, &dst, dst.addr + 56))
        .unwrap();
    device.process();
    assert_eq!(driver.poll().unwrap().status, Status::Success);
    let mut got = [0; 9];
    driver.read_memory(dst.addr, &mut got);
    assert_eq!(
        got,
        [0, 0, 0, 0, 0, 0, 0, 7, 0],
        "inside the region, and not one word past it"
    );
}

#[test]
fn the_sq_holds_sq_size_requests_and_a_doorbell_covers_a_batch() {
    let (mut driver, mut device) = fixed::queue_pair(&Config::new(2, 4, &[(16, false), (16, true)]));
    let (src, dst) = (driver.region(0), driver.region(1));
    let wr = |id| WorkRequest::write(id, &src, src.addr, 8, &dst, dst.addr + 8 * (id % 2));
    driver.write_wqe(&wr(0)).unwrap();
    driver.write_wqe(&wr(1)).unwrap();
    assert!(driver.write_wqe(&wr(2)).is_err(), "a third WQE in an SQ of 2");
    assert_eq!(device.process(), 0, "no doorbell yet: the device sees nothing");
    driver.ring_doorbell();
    assert_eq!(device.process(), 2, "one doorbell covers both");
    let ids: Vec<u64> = std::iter::from_fn(|| driver.poll()).map(|c| c.wr_id).collect();
    assert_eq!(ids, [0, 1]);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn every_wqe_completes_once_in_order_across_two_real_threads() {
    const SLOTS: u64 = 4;
    let n = sized(20_000, 24);
    let (mut driver, mut device) = fixed::queue_pair(&Config::new(4, 8, &[(SLOTS * 16, false), (SLOTS * 16, true)]));
    let (src, dst) = (driver.region(0), driver.region(1));
    // A failed assertion below must not leave the device spinning for ever (the scope would wait).
    let stop = AtomicBool::new(false);
    let stop = &stop;
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut done = 0;
            // ORDERING: Relaxed [stop] — a request to quit; nothing is read after it.
            while done < n && !stop.load(Ordering::Relaxed) {
                match device.process() {
                    0 => std::thread::yield_now(),
                    k => done += u64::from(k),
                }
            }
        });
        let _stop = StopOnDrop(stop);
        let (mut posted, mut reaped) = (0u64, 0u64);
        while reaped < n {
            // Every fifth request aims one word past the peer's region: an error, no copy.
            while posted < n && driver.in_flight() < 4 {
                let slot = posted % SLOTS;
                let words = [pattern(posted, 0), pattern(posted, 1)];
                driver.write_memory(src.addr + 16 * slot, &words);
                let to = if posted % 5 == 4 {
                    dst.addr + dst.bytes - 8
                } else {
                    dst.addr + 16 * slot
                };
                driver
                    .post(&WorkRequest::write(posted, &src, src.addr + 16 * slot, 16, &dst, to))
                    .unwrap();
                posted += 1;
            }
            let Some(c) = driver.poll() else {
                std::thread::yield_now();
                continue;
            };
            let k = reaped;
            assert_eq!(
                (c.wqe_counter, c.wr_id),
                (k as u32, k),
                "completions in order, each once"
            );
            if k % 5 == 4 {
                assert_eq!((c.status, c.byte_len), (Status::RemoteAccess, 0));
            } else {
                assert_eq!((c.status, c.byte_len), (Status::Success, 16));
                let mut got = [0; 2];
                driver.read_memory(dst.addr + 16 * (k % SLOTS), &mut got);
                assert_eq!(got, [pattern(k, 0), pattern(k, 1)], "the payload of request {k}");
            }
            reaped += 1;
        }
    });
}

/// Tells the device thread to quit when the driver's side ends, a panic included.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        // ORDERING: Relaxed [stop] — the device only stops polling; the scope's join orders the rest.
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn qp_round_trips_on_real_cores_fixed_are_all_correct() {
    for bytes in [8, 64, 4096] {
        let t = qp_round_trips(Variant::Fixed, bytes, sized(2_000, 5), Pin::Spread, true);
        assert_eq!((t.stale, t.errors), (0, 0), "{bytes} B");
        assert_eq!(t.latencies_ns.len() as u64, t.round_trips);
        assert!(t.latencies_ns.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri isolates the process: no sockets")]
fn socket_round_trips_deliver_every_payload() {
    for bytes in [8, 4096, 65536] {
        let t = tcp_round_trips(bytes, 200, Pin::Spread, true).unwrap();
        assert_eq!((t.errors, t.latencies_ns.len()), (0, 200), "TCP {bytes} B");
    }
    for bytes in [8, 4096, 65507] {
        let t = udp_round_trips(bytes, 200, Pin::Spread, true).unwrap();
        assert_eq!((t.errors, t.latencies_ns.len()), (0, 200), "UDP {bytes} B");
    }
}

#[test]
fn replay_broken_reaps_last_laps_cqe_as_new() {
    let steps = qp_replay(Variant::Broken);
    let stale = steps
        .iter()
        .find(|s| s.action.contains("STALE COMPLETION"))
        .expect("the broken replay takes a stale completion");
    assert!(stale.action.contains("WQE 0"), "{stale}");
    assert!(steps.iter().any(|s| s.action.contains("BODY FIRST")));
    let last = steps.last().unwrap();
    assert!(last.action.contains("reported WQE 0 twice"), "{last}");
    assert!(
        last.action.contains("RemoteAccess") && last.action.contains("unchanged"),
        "{last}"
    );
}

#[test]
fn replay_fixed_reports_each_wqe_once_with_the_owner_bit_flipping_per_lap() {
    let steps = qp_replay(Variant::Fixed);
    assert!(steps.iter().all(|s| !s.action.contains("STALE")));
    let last = steps.last().unwrap();
    assert!(last.action.contains("every completion named its own WQE"), "{last}");
    // CQ slot 0 shows owner 0 (lap 0), then owner 1 (lap 1), then owner 0 (lap 2).
    let owners: Vec<&str> = steps
        .iter()
        .filter(|s| s.action.starts_with("writes CQE"))
        .map(|s| if s.cq.contains("owner 1") { "1" } else { "0" })
        .collect();
    assert_eq!(owners, ["0", "1", "0"], "{steps:#?}");
}
