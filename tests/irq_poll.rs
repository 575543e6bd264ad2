//! Real-thread tests of the `irq-vs-busy-poll` handshake (`nic::irq_poll::real::fixed`): every
//! packet arrives, in order, in every delivery mode, and no sleep ever misses its wakeup. Small
//! under Miri (`cfg!(miri)`), whose data-race detector and weak-memory emulation then check the
//! NIC and the app running at once; TSan runs them at full size (`scripts/sanitizers`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lockfree_lab::hw::Pin;
use lockfree_lab::nic::irq_poll::{self as irq, cores};
use lockfree_lab::Variant;

fn sized(full: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

#[derive(Clone, Copy, Debug)]
enum Wait {
    Blocking,
    BusyPoll,
    /// Polls `n` times, then sleeps.
    Spin(u32),
}

/// The NIC sends `n` packets (pausing now and then, so the app gets to sleep), the app takes them
/// waiting as `wait` says; returns the packets received and the lost wakeups (the NIC read an even
/// sleep word older than the one the app parked with, for the packet the app then found).
fn hand_off(wait: Wait, n: u64) -> (Vec<u64>, u64) {
    let (mut nic, mut app) = irq::real_fixed::<u64>(4);
    let seen: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let seen = &seen;
    std::thread::scope(|s| {
        let app = s.spawn(move || {
            let (mut got, mut lost) = (Vec::new(), 0);
            for _ in 0..n {
                let mut parked = None;
                let mut polls = 0;
                let sleep = |word| {
                    parked = Some(word);
                    // Bounded: a lost wakeup must fail the test, not hang it.
                    std::thread::park_timeout(Duration::from_millis(200));
                };
                let p = match wait {
                    Wait::Blocking => app.recv(|| false, sleep),
                    Wait::BusyPoll => app.recv(|| true, sleep),
                    Wait::Spin(k) => app.recv(
                        || {
                            polls += 1;
                            polls <= k
                        },
                        sleep,
                    ),
                };
                if let Some(word) = parked {
                    // ORDERING: Relaxed [seen-log] — a logged value: wait until the NIC has written it.
                    while seen[p as usize].load(Ordering::Relaxed) == 0 {
                        std::thread::yield_now();
                    }
                    // ORDERING: Relaxed [seen-log] — as above.
                    let nic_read = seen[p as usize].load(Ordering::Relaxed) - 1;
                    if nic_read % 2 == 0 && nic_read < word {
                        lost += 1;
                    }
                }
                got.push(p);
            }
            (got, lost)
        });
        let irq = app.thread().clone();
        s.spawn(move || {
            for p in 0..n {
                let mut packet = p;
                let word = loop {
                    match nic.send(packet, || irq.unpark()) {
                        Ok(word) => break word,
                        Err(back) => {
                            packet = back.0;
                            std::thread::yield_now();
                        }
                    }
                };
                // ORDERING: Relaxed [seen-log] — a logged value, read by the app after it has the packet.
                seen[p as usize].store(word + 1, Ordering::Relaxed);
                if p % 7 == 0 {
                    std::thread::yield_now();
                }
            }
        });
        app.join().unwrap()
    })
}

#[test]
fn every_packet_arrives_in_order_and_no_wakeup_is_lost_in_every_delivery_mode() {
    let n = sized(20_000, 40);
    for wait in [Wait::Blocking, Wait::BusyPoll, Wait::Spin(50)] {
        let (got, lost) = hand_off(wait, n);
        assert_eq!(
            got,
            (0..n).collect::<Vec<_>>(),
            "{wait:?}: packets lost or out of order"
        );
        assert_eq!(lost, 0, "{wait:?}: the fixed handshake lost a wakeup");
    }
}

#[test]
fn the_fixed_one_in_flight_run_counts_no_lost_wakeup() {
    let n = sized(3_000, 20);
    let m = cores::run(
        Variant::Fixed,
        cores::Delivery::Blocking,
        cores::Traffic::OneInFlight,
        n,
        Pin::None,
        false,
    );
    assert_eq!((m.received, m.dropped, m.offered), (n, 0, n));
    assert_eq!((m.lost_wakeups, m.timeout_rescued), (0, 0));
    assert_eq!(m.latency.len(), n, "one latency per packet");
}

#[test]
fn a_paced_run_receives_or_drops_every_packet_offered() {
    let n = sized(3_000, 20);
    for delivery in [
        cores::Delivery::Blocking,
        cores::Delivery::BusyPoll,
        cores::Delivery::Hybrid {
            spin: Duration::from_micros(5),
        },
    ] {
        let m = cores::run(
            Variant::Fixed,
            delivery,
            cores::Traffic::Paced { rate: 200_000 },
            n,
            Pin::None,
            false,
        );
        assert_eq!(m.offered, n, "{delivery:?}");
        assert_eq!(m.received + m.dropped, n, "{delivery:?}");
        assert_eq!(m.lost_wakeups, 0, "{delivery:?}");
        if delivery == cores::Delivery::BusyPoll {
            assert_eq!(m.sleeps, 0, "busy-poll never sleeps");
        }
    }
}
