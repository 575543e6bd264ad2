//! The ring on real cores: a driver thread and a NIC thread, pinned, pushing packets through.

use super::{real, RxDeviceSide, RxDriverSide, TxDeviceSide, TxDriverSide};
use crate::hw::{run_threads, Parallelism, Pin};
use crate::Variant;
use crossbeam_utils::Backoff;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which ring runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// The driver sends: it posts, the NIC fetches and completes.
    Tx,
    /// The driver receives: the NIC fills posted buffers, the driver reaps and re-posts.
    Rx,
}

impl Mode {
    /// `tx` or `rx`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tx => "tx",
            Mode::Rx => "rx",
        }
    }
}

/// The most descriptors the TX driver fills before it rings the doorbell: its batch
/// (Linux's `xmit_more` lets the stack hand a driver a burst; NAPI's default budget is 64).
pub const TX_BATCH: usize = 64;

/// What one real-core run did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Packets through the ring (sent in TX, received in RX).
    pub packets: u64,
    /// TX: descriptors the NIC fetched half-written. RX: descriptors the NIC took without OWN.
    pub torn: u64,
    /// TX: completions whose status was not the packet's. RX: packets read stale under DD.
    pub stale: u64,
    /// TAIL writes (MMIO doorbells).
    pub doorbells: u64,
    /// Descriptors in flight: TAIL − HEAD as the NIC sees it, sampled at every descriptor it
    /// takes (the one it takes included).
    pub in_flight_mean: f64,
    /// The most in flight at one sample.
    pub in_flight_max: usize,
    /// The parallel section's wall-clock time.
    pub wall: Duration,
    /// How much the two threads overlapped.
    pub parallelism: Parallelism,
}

impl CoreRun {
    /// Packets per second.
    pub fn packets_per_sec(&self) -> f64 {
        self.packets as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Doorbells per packet.
    pub fn doorbells_per_packet(&self) -> f64 {
        self.doorbells as f64 / (self.packets.max(1)) as f64
    }
}

/// The driver's tallies.
#[derive(Default)]
struct DriverTally {
    stale: u64,
    doorbells: u64,
}

/// The NIC's tallies.
#[derive(Default)]
struct NicTally {
    torn: u64,
    samples: u64,
    in_flight_sum: u64,
    in_flight_max: usize,
}

impl NicTally {
    fn took(&mut self, in_flight: usize, torn: bool) {
        self.torn += u64::from(torn);
        self.samples += 1;
        self.in_flight_sum += in_flight as u64;
        self.in_flight_max = self.in_flight_max.max(in_flight);
    }
}

/// Pushes `packets` packets through a `variant` ring of `descriptors` in `mode`, the driver on
/// one thread and the NIC on another (pinned as `pin` says), and counts what each saw wrong.
///
/// # Panics
/// Unless `descriptors` is a power of two of at least 2.
pub fn run_on_cores(variant: Variant, mode: Mode, descriptors: usize, packets: u64, pin: Pin) -> CoreRun {
    match (variant, mode) {
        (Variant::Fixed, Mode::Tx) => tx(real::fixed::tx_ring(descriptors), packets, pin),
        (Variant::Broken, Mode::Tx) => tx(real::broken::tx_ring(descriptors), packets, pin),
        (Variant::Fixed, Mode::Rx) => rx(real::fixed::rx_ring(descriptors), packets, pin),
        (Variant::Broken, Mode::Rx) => rx(real::broken::rx_ring(descriptors), packets, pin),
    }
}

/// The result of one side: the driver's tally or the NIC's torn count.
enum Side {
    Driver(DriverTally),
    Nic(NicTally),
}

fn finish(results: Vec<(Side, Instant, Instant)>, packets: u64, parallelism: Parallelism) -> CoreRun {
    let start = results.iter().map(|r| r.1).min().expect("two threads");
    let end = results.iter().map(|r| r.2).max().expect("two threads");
    let (mut driver, mut nic) = (DriverTally::default(), NicTally::default());
    for (side, ..) in results {
        match side {
            Side::Driver(t) => driver = t,
            Side::Nic(t) => nic = t,
        }
    }
    CoreRun {
        packets,
        torn: nic.torn,
        stale: driver.stale,
        doorbells: driver.doorbells,
        in_flight_mean: nic.in_flight_sum as f64 / nic.samples.max(1) as f64,
        in_flight_max: nic.in_flight_max,
        wall: end - start,
        parallelism,
    }
}

fn tx<D: TxDriverSide, V: TxDeviceSide>((driver, nic): (D, V), packets: u64, pin: Pin) -> CoreRun {
    let halves = Mutex::new((Some(driver), Some(nic)));
    let (results, parallelism) = run_threads(2, pin, |i| {
        let start = Instant::now();
        let backoff = Backoff::new();
        let side = if i == 0 {
            let mut driver = halves.lock().unwrap().0.take().expect("one driver");
            let mut t = DriverTally::default();
            let (mut next, mut reaped) = (1u64, 0u64);
            while reaped < packets {
                let mut batch = 0;
                while batch < TX_BATCH && next <= packets && driver.post(next) {
                    next += 1;
                    batch += 1;
                }
                let mut progress = false;
                if driver.ring_doorbell() {
                    t.doorbells += 1;
                    progress = true;
                }
                while let Some(done) = driver.reap() {
                    reaped += 1;
                    if done.status != done.seq {
                        t.stale += 1;
                    }
                    progress = true;
                }
                if progress {
                    backoff.reset();
                } else {
                    backoff.snooze();
                }
            }
            Side::Driver(t)
        } else {
            let mut nic = halves.lock().unwrap().1.take().expect("one NIC");
            let (mut expected, mut t) = (1u64, NicTally::default());
            while expected <= packets {
                match nic.fetch() {
                    Some(seen) => {
                        t.took(nic.backlog(), seen.torn(expected).is_some());
                        nic.complete();
                        expected += 1;
                        backoff.reset();
                    }
                    None => backoff.snooze(),
                }
            }
            Side::Nic(t)
        };
        (side, start, Instant::now())
    });
    finish(results, packets, parallelism)
}

fn rx<D: RxDriverSide, V: RxDeviceSide>((driver, nic): (D, V), packets: u64, pin: Pin) -> CoreRun {
    let halves = Mutex::new((Some(driver), Some(nic)));
    let (results, parallelism) = run_threads(2, pin, |i| {
        let start = Instant::now();
        let backoff = Backoff::new();
        let side = if i == 0 {
            let mut driver = halves.lock().unwrap().0.take().expect("one driver");
            let mut t = DriverTally::default();
            let mut expected = 1u64;
            while expected <= packets {
                let mut progress = false;
                while driver.post() {}
                if driver.ring_doorbell() {
                    t.doorbells += 1;
                    progress = true;
                }
                while let Some(got) = driver.reap() {
                    if got.stale(expected).is_some() {
                        t.stale += 1;
                    }
                    expected += 1;
                    progress = true;
                }
                if progress {
                    backoff.reset();
                } else {
                    backoff.snooze();
                }
            }
            Side::Driver(t)
        } else {
            let mut nic = halves.lock().unwrap().1.take().expect("one NIC");
            let (mut seq, mut t) = (1u64, NicTally::default());
            while seq <= packets {
                match nic.dma(seq) {
                    Some(taken) => {
                        t.took(nic.backlog(), taken.flags != super::OWN);
                        nic.complete();
                        seq += 1;
                        backoff.reset();
                    }
                    None => backoff.snooze(),
                }
            }
            Side::Nic(t)
        };
        (side, start, Instant::now())
    });
    finish(results, packets, parallelism)
}

/// Why the broken ring shows nothing on this CPU, and where to see its bug.
pub const X86_NOTE: &str = "x86-64 is TSO: the driver's descriptor stores become visible in program order before \
its TAIL store, and the driver's loads of DD, length and packet are not reordered, so the broken ring (Relaxed doorbell, \
Relaxed DD load) counts 0 torn descriptors and 0 stale reads here. On ARM or POWER the same code can fetch a \
half-written descriptor or read a stale length: that is why Linux puts wmb() before the tail write and dma_rmb() after \
the DD check. loom shows both: cargo test --test model descriptor_ring::loom_broken";

/// The PCIe figures the seed's latency budget gives: cited, not measured (no NIC here).
pub const PCIE_NOTE: &str = "cited, not measured (no NIC on this machine; the NIC here is a thread on another core, \
so a doorbell is a cache-line transfer, not an MMIO write): the seed's send-path budget gives a doorbell MMIO write \
~60 ns, the NIC reading a descriptor over PCIe ~300 ns, the DMA across PCIe ~250 ns; Neugebauer et al., \
\"Understanding PCIe performance for end host networking\" (SIGCOMM 2018) measure such latencies with pcie-bench";
