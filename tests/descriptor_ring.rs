//! Real-thread tests of the fixed descriptor ring and the fixed slot-flag queue, sized so that
//! Miri (its data-race detector and weak-memory emulation) and ThreadSanitizer can run them
//! (`scripts/sanitizers`).

use lockfree_lab::hw::Pin;
use lockfree_lab::nic::descriptor_ring::queue::real::fixed as queue;
use lockfree_lab::nic::descriptor_ring::{
    len_of, real::fixed, run_on_cores, Mode, RxDeviceSide, RxDriverSide, TxDeviceSide, TxDriverSide,
};
use lockfree_lab::spsc::Full;
use lockfree_lab::Variant;

/// `full` on real hardware, `miri` under Miri (it interprets every instruction).
fn sized(full: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

// ---- the descriptor ring ----

#[test]
fn ring_keeps_one_descriptor_free_and_the_nic_sees_nothing_before_the_doorbell() {
    for n in [2usize, 4, 8] {
        let (mut driver, mut nic) = fixed::tx_ring(n);
        for seq in 1..n as u64 {
            assert!(driver.post(seq), "d{} of {n} refused", seq - 1);
        }
        assert!(
            !driver.post(99),
            "a ring of {n} accepted {n} descriptors: TAIL would equal HEAD"
        );
        assert!(nic.fetch().is_none(), "the NIC saw a descriptor before the doorbell");
        assert!(driver.ring_doorbell());
        assert!(!driver.ring_doorbell(), "a second doorbell with nothing new");
        for seq in 1..n as u64 {
            let seen = nic.fetch().expect("covered by the doorbell");
            assert_eq!(seen.torn(seq), None);
            nic.complete();
        }
        assert!(nic.fetch().is_none());
        for seq in 1..n as u64 {
            let done = driver.reap().expect("completed");
            assert_eq!((done.seq, done.status), (seq, seq));
        }
        assert!(driver.reap().is_none());
        assert_eq!(driver.in_flight(), 0);
    }
}

#[test]
fn rx_ring_flips_buffers_lap_by_lap() {
    let (mut driver, mut nic) = fixed::rx_ring(2);
    let mut buffers = Vec::new();
    for seq in 1..=4 {
        assert!(driver.post());
        assert!(!driver.post(), "a ring of 2 takes one buffer at a time");
        driver.ring_doorbell();
        let taken = nic.dma(seq).expect("posted");
        nic.complete();
        let got = driver.reap().expect("DD set");
        assert_eq!(got.buffer, taken.buffer);
        assert_eq!((got.header, got.len), (seq, len_of(seq)));
        buffers.push(got.buffer);
    }
    // d0 lap 0 -> b0, d1 lap 0 -> b1, d0 lap 1 -> b2, d1 lap 1 -> b3.
    assert_eq!(buffers, vec![0, 1, 2, 3]);
}

#[test]
#[should_panic(expected = "must be a power of two of at least 2, got 6")]
fn ring_of_6_descriptors_is_refused() {
    let _ = fixed::tx_ring(6);
}

#[test]
fn fixed_ring_on_two_threads_tx_and_rx_every_packet_whole() {
    let packets = sized(20_000, 200);
    for mode in [Mode::Tx, Mode::Rx] {
        for n in [2usize, 8] {
            let r = run_on_cores(Variant::Fixed, mode, n, packets, Pin::None);
            assert_eq!(r.packets, packets);
            assert_eq!((r.torn, r.stale), (0, 0), "{mode:?} ring of {n}: {r:?}");
            assert!(r.in_flight_max < n, "{mode:?}: more than N − 1 in flight: {r:?}");
            assert!(r.doorbells >= 1 && r.doorbells <= packets, "{r:?}");
        }
    }
}

// ---- the slot-flag queue ----

#[test]
fn queue_capacity_is_exact_and_full_is_prompt() {
    for cap in [1usize, 2, 3, 7, 8, 64] {
        let (mut tx, mut rx) = queue::channel::<u64>(cap);
        for i in 0..cap as u64 {
            assert_eq!(tx.push(i), Ok(()), "capacity {cap}: push {i} refused");
        }
        assert_eq!(tx.push(99), Err(Full(99)), "capacity {cap}: accepted one too many");
        // Pop one, and the producer (whose look-ahead saw a full ring) may push one at once.
        assert_eq!(rx.pop(), Some(0));
        assert_eq!(tx.push(100), Ok(()), "capacity {cap}: a freed slot was reported full");
        assert_eq!(tx.push(101), Err(Full(101)));
        let mut got: Vec<u64> = std::iter::from_fn(|| rx.pop()).collect();
        let mut want: Vec<u64> = (1..cap as u64).collect();
        want.push(100);
        assert_eq!(got, want, "capacity {cap}: not FIFO");
        got.clear();
        assert_eq!(rx.pop(), None);
    }
}

#[test]
fn queue_look_ahead_never_reports_a_false_full() {
    // Any look-ahead, any interleaving of single-threaded pushes and pops against a model count.
    for cap in [1usize, 2, 5, 8] {
        for look in 1..=cap {
            let (mut tx, mut rx) = queue::with_look_ahead::<u64>(cap, look);
            let (mut pushed, mut popped) = (0u64, 0u64);
            for step in 0..(8 * cap as u64 + 13) {
                if step % 3 != 2 {
                    let ok = tx.push(pushed).is_ok();
                    assert_eq!(ok, (pushed - popped) < cap as u64, "cap {cap} look {look} step {step}");
                    pushed += u64::from(ok);
                } else {
                    let v = rx.pop();
                    assert_eq!(v, (popped < pushed).then_some(popped), "cap {cap} look {look}");
                    popped += u64::from(v.is_some());
                }
            }
        }
    }
}

#[test]
fn queue_fifo_1p1c_parallel_capacities_1_2_3_4096() {
    let items = sized(50_000, 300);
    for cap in [1usize, 2, 3, 4096] {
        let (mut tx, mut rx) = queue::channel::<u64>(cap);
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..items {
                    let mut v = i;
                    while let Err(Full(back)) = tx.push(v) {
                        v = back;
                        std::thread::yield_now();
                    }
                }
            });
            s.spawn(move || {
                let mut next = 0;
                while next < items {
                    match rx.pop() {
                        Some(v) => {
                            assert_eq!(v, next, "capacity {cap}: out of order");
                            next += 1;
                        }
                        None => std::thread::yield_now(),
                    }
                }
            });
        });
    }
}

#[test]
#[should_panic(expected = "queue::channel: capacity must be at least 1, got 0")]
fn queue_capacity_zero_panics_with_the_documented_message() {
    let _ = queue::channel::<u64>(0);
}
