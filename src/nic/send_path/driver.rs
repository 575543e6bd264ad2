//! Stages 5 and 7 on the lab's descriptor ring: the driver's descriptor write (`post`) and its
//! doorbell (`ring_doorbell`), timed one by one on the driver's core while the device — a thread on
//! the other core standing in for the NIC — fetches and completes each descriptor as soon as the
//! doorbell covers it. The doorbell here is a Release store to host memory: an analogue of the
//! real posted MMIO write, which this machine cannot issue to a device.

use hdrhistogram::Histogram;

use super::{histogram, record};
use crate::hw::{self, Parallelism, Pin};
use crate::nic::descriptor_ring::{real::fixed, TxDeviceSide, TxDriverSide};

/// The TX ring's size (ixgbe's default TX ring is 512; any power of two works).
pub const DESCRIPTORS: usize = 256;

/// What the driver-side run measured.
#[derive(Debug)]
pub struct DriverCosts {
    /// One `post` (packet header, buffer, length, OWN), ns.
    pub post: Histogram<u64>,
    /// One `ring_doorbell` (the Release TAIL store), ns.
    pub doorbell: Histogram<u64>,
    /// Descriptors the device fetched half-written or out of order (0 unless the ring is broken).
    pub torn: u64,
    /// The two threads' overlap.
    pub parallelism: Parallelism,
}

/// `n` packets, each posted and then announced by its own doorbell (no batching: the seed's
/// path sends one packet), on two threads pinned as `pin` says.
pub fn post_and_doorbell(n: u64, pin: Pin, clock_ns: u64) -> DriverCosts {
    let (driver, device) = fixed::tx_ring(DESCRIPTORS);
    let halves = std::sync::Mutex::new((Some(driver), Some(device)));
    let (results, parallelism) = hw::run_threads(2, pin, |i| {
        if i == 0 {
            let mut driver = halves.lock().unwrap().0.take().expect("one driver");
            let (mut post, mut doorbell) = (histogram(), histogram());
            for seq in 0..n {
                // Keep a quarter of the ring free (untimed): the post below never waits.
                while driver.in_flight() >= DESCRIPTORS / 4 * 3 {
                    if driver.reap().is_none() {
                        std::hint::spin_loop();
                    }
                }
                let t = std::time::Instant::now();
                let posted = driver.post(seq);
                let t_post = t.elapsed().as_nanos() as u64;
                let t = std::time::Instant::now();
                let rang = driver.ring_doorbell();
                let t_bell = t.elapsed().as_nanos() as u64;
                assert!(posted && rang, "a free descriptor was kept");
                record(&mut post, t_post, clock_ns);
                record(&mut doorbell, t_bell, clock_ns);
            }
            (Some((post, doorbell)), 0)
        } else {
            let mut device = halves.lock().unwrap().1.take().expect("one device");
            let mut torn = 0;
            for seq in 0..n {
                let mut fetched = None;
                hw::spin_until(|| {
                    fetched = device.fetch();
                    fetched.is_some()
                });
                let fetched = fetched.expect("spun until fetched");
                torn += u64::from(fetched.torn(seq).is_some());
                device.complete();
            }
            (None, torn)
        }
    });
    let mut it = results.into_iter();
    let (Some((post, doorbell)), _) = it.next().expect("the driver's result") else {
        unreachable!("thread 0 is the driver")
    };
    let (_, torn) = it.next().expect("the device's result");
    DriverCosts {
        post,
        doorbell,
        torn,
        parallelism,
    }
}
