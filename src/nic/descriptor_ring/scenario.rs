// The descriptor-ring model scenarios: the driver and the NIC each run on their own thread; the
// main thread only builds the ring and joins. Each panics with a pinned reason: `torn
// descriptor`, `stale completion`, `stale read`, `descriptor not handed over`, `lost packet`.
use super::sync::{spin_loop, thread};
use crate::nic::descriptor_ring::{flag_name, RxDeviceSide, RxDriverSide, TxDeviceSide, TxDriverSide, OWN};

/// TX hand-off (2 descriptors): the driver posts packet 1, rings the doorbell and polls until
/// it reaps it; the NIC polls until the doorbell shows the descriptor, fetches and completes it.
/// The descriptor the NIC fetched must be whole (`torn descriptor`) and the status the driver
/// reaped packet 1's (`stale completion`). (Polling, with a checker yield per poll, rather than one
/// try each: loom 0.7 explored 41 executions of the one-try RX version and missed its bug.)
pub fn tx_handoff<D: TxDriverSide, V: TxDeviceSide>(make: fn(usize) -> (D, V)) {
    let (mut driver, mut nic) = make(2);
    let drv = thread::spawn(move || {
        assert!(driver.post(1), "lost packet: an empty ring refused a post");
        driver.ring_doorbell();
        let done = loop {
            match driver.reap() {
                Some(done) => break done,
                None => spin_loop(),
            }
        };
        assert_eq!(
            done.status, done.seq,
            "stale completion: the driver saw DD on d{} but read status {}; the NIC wrote back {}",
            done.desc, done.status, done.seq
        );
    });
    let dev = thread::spawn(move || {
        let seen = loop {
            match nic.fetch() {
                Some(seen) => break seen,
                None => spin_loop(),
            }
        };
        if let Some(why) = seen.torn(1) {
            panic!("{why}");
        }
        nic.complete();
    });
    drv.join().unwrap();
    dev.join().unwrap();
}

/// RX hand-off (2 descriptors): the driver posts a buffer, rings the doorbell and polls until
/// it reaps a packet; the NIC polls until the doorbell shows the descriptor, DMAs packet 1 and
/// completes it. The NIC must find the descriptor OWNed (`descriptor not handed over`); the
/// driver must read packet 1 and its length (`stale read`).
pub fn rx_handoff<D: RxDriverSide, V: RxDeviceSide>(make: fn(usize) -> (D, V)) {
    let (mut driver, mut nic) = make(2);
    let drv = thread::spawn(move || {
        assert!(driver.post(), "lost packet: an empty ring refused a post");
        driver.ring_doorbell();
        let got = loop {
            match driver.reap() {
                Some(got) => break got,
                None => spin_loop(),
            }
        };
        if let Some(why) = got.stale(1) {
            panic!("{why}");
        }
    });
    let dev = thread::spawn(move || {
        let taken = loop {
            match nic.dma(1) {
                Some(taken) => break taken,
                None => spin_loop(),
            }
        };
        assert_eq!(
            taken.flags,
            OWN,
            "descriptor not handed over: the NIC took d{} with flags {} after the doorbell",
            taken.desc,
            flag_name(taken.flags)
        );
        nic.complete();
    });
    drv.join().unwrap();
    dev.join().unwrap();
}

/// TX stream: `packets` packets through a ring of `n` descriptors, across the wrap. The driver
/// posts what fits, rings once per batch and reaps in order; the NIC fetches and completes each.
pub fn tx_stream<D: TxDriverSide, V: TxDeviceSide>(make: fn(usize) -> (D, V), n: usize, packets: u64) {
    let (mut driver, mut nic) = make(n);
    let drv = thread::spawn(move || {
        let (mut next, mut reaped) = (1, 0);
        while reaped < packets {
            let mut progress = false;
            while next <= packets && driver.post(next) {
                next += 1;
            }
            progress |= driver.ring_doorbell();
            while let Some(done) = driver.reap() {
                reaped += 1;
                assert_eq!(
                    done.seq, reaped,
                    "lost packet: reaped #{} in place of #{reaped}",
                    done.seq
                );
                assert_eq!(
                    done.status, done.seq,
                    "stale completion: the driver saw DD on d{} but read status {}; the NIC wrote back {}",
                    done.desc, done.status, done.seq
                );
                progress = true;
            }
            if !progress {
                spin_loop();
            }
        }
    });
    let dev = thread::spawn(move || {
        let mut expected = 1;
        while expected <= packets {
            match nic.fetch() {
                Some(seen) => {
                    if let Some(why) = seen.torn(expected) {
                        panic!("{why}");
                    }
                    nic.complete();
                    expected += 1;
                }
                None => spin_loop(),
            }
        }
    });
    drv.join().unwrap();
    dev.join().unwrap();
}

/// RX stream: the NIC receives `packets` packets into a ring of `n` descriptors, across the wrap;
/// the driver posts every free descriptor, reaps in order and re-posts (one doorbell per refill).
pub fn rx_stream<D: RxDriverSide, V: RxDeviceSide>(make: fn(usize) -> (D, V), n: usize, packets: u64) {
    let (mut driver, mut nic) = make(n);
    let drv = thread::spawn(move || {
        let mut expected = 1;
        while expected <= packets {
            let mut progress = false;
            while driver.post() {}
            progress |= driver.ring_doorbell();
            while let Some(got) = driver.reap() {
                if let Some(why) = got.stale(expected) {
                    panic!("{why}");
                }
                expected += 1;
                progress = true;
            }
            if !progress {
                spin_loop();
            }
        }
    });
    let dev = thread::spawn(move || {
        let mut seq = 1;
        while seq <= packets {
            match nic.dma(seq) {
                Some(taken) => {
                    assert_eq!(
                        taken.flags,
                        OWN,
                        "descriptor not handed over: the NIC took d{} with flags {} after the doorbell",
                        taken.desc,
                        flag_name(taken.flags)
                    );
                    nic.complete();
                    seq += 1;
                }
                None => spin_loop(),
            }
        }
    });
    drv.join().unwrap();
    dev.join().unwrap();
}
