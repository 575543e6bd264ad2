//! NAPI on real cores: a NIC thread posts packets (a steady trickle, or bursts) and raises IRQs;
//! the driver's thread sleeps until one comes, then polls. An IRQ is an eventfd (semaphore mode):
//! the NIC's `write` raises it, the driver's `read` takes it, each a kernel entry, plus a sleep
//! and a wakeup when the driver was idle — the analogue of interrupt → handler. Counted: hard IRQs, polls, packets per poll, strandings;
//! measured: wall time and the driver's CPU time per packet. The baseline takes one IRQ (one
//! wakeup) per packet, as a driver without NAPI would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{real, Device, Irq, Napi, Packet, Variant};
use crate::hw::{thread_cpu_time, Parallelism, Pin};

/// RX ring slots on real cores (a typical descriptor ring size).
pub const RING_SLOTS: usize = 1024;
/// Trickle: one packet every this long, enough for the driver to finish and sleep in between.
pub const TRICKLE_GAP: Duration = Duration::from_micros(20);
/// Bursts: this long between the end of one burst and the start of the next.
pub const BURST_GAP: Duration = Duration::from_micros(200);
/// The bounded wait: a driver that slept this long with a posted packet in the ring and no IRQ
/// pending polls anyway (a watchdog), so a broken run always ends.
pub const WATCHDOG: Duration = Duration::from_millis(2);

/// How the NIC spaces its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One packet, then [`TRICKLE_GAP`].
    Trickle,
    /// `burst` packets back to back, then [`BURST_GAP`].
    Bursts,
}

impl Workload {
    /// Both, trickle first.
    pub const BOTH: [Workload; 2] = [Workload::Trickle, Workload::Bursts];

    /// `trickle` / `bursts`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Trickle => "trickle",
            Workload::Bursts => "bursts",
        }
    }
}

/// Which driver runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// NAPI, broken or fixed.
    Napi(Variant),
    /// No NAPI: the line is never masked, every packet raises an IRQ, each IRQ handles one packet.
    PerPacket,
}

impl Kind {
    /// `fixed`, `broken`, `1 IRQ/packet`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Napi(v) => v.name(),
            Kind::PerPacket => "1 IRQ/packet",
        }
    }
}

/// What one real-core run did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Packets posted (and delivered: the run checks every one arrives, in order).
    pub packets: u64,
    /// Interrupts the driver's CPU took.
    pub hard_irqs: u64,
    /// Poll calls (0 for the per-packet driver).
    pub polls: u64,
    /// Completing polls whose ring held a posted packet with no IRQ pending: a stranding.
    pub stranded: u64,
    /// Strandings the bounded wait ended (no later packet came to raise an IRQ).
    pub rescued: u64,
    /// Times the NIC found the ring full and waited.
    pub ring_full: u64,
    /// Wall time of the run.
    pub wall: Duration,
    /// CPU time the driver's thread used.
    pub driver_cpu: Duration,
    /// The threads' CPU times against the wall time.
    pub parallelism: Parallelism,
}

impl CoreRun {
    /// Packets per poll (`None` without polls).
    pub fn per_poll(&self) -> Option<f64> {
        (self.polls > 0).then(|| self.packets as f64 / self.polls as f64)
    }

    /// True when the NIC thread (always busy: it paces its packets by spinning) had a core to
    /// itself for most of the run; the driver sleeps between IRQs by design.
    pub fn nic_had_a_core(&self) -> bool {
        crate::hw::available_cores() >= 2 && self.nic_share() >= 0.75
    }

    /// The NIC thread's CPU time over the wall time.
    pub fn nic_share(&self) -> f64 {
        let wall = self.parallelism.wall.as_secs_f64();
        if wall == 0.0 {
            return 0.0;
        }
        self.parallelism.cpu.first().map_or(0.0, Duration::as_secs_f64) / wall
    }

    /// The parallelism line: the driver idles by design, so the NIC's share decides.
    pub fn verdict(&self) -> String {
        let nic = self.nic_share() * 100.0;
        let driver = self.driver_cpu.as_secs_f64() * 100.0 / self.parallelism.wall.as_secs_f64().max(1e-9);
        if self.nic_had_a_core() {
            format!(
                "parallelism: yes — the NIC thread was on a CPU {nic:.0}% of the run; the driver used {driver:.0}% \
                 (it sleeps between IRQs by design)"
            )
        } else {
            format!(
                "parallelism: NO — the NIC thread was on a CPU only {nic:.0}% of the run (driver {driver:.0}%); \
                 another job is using the cores: rerun on a quiet machine"
            )
        }
    }
}

/// The interrupt wire: an eventfd in semaphore mode. Each `raise` is one `write` syscall; each
/// `take` one `read` (after a `poll` when waiting with a timeout), so every IRQ costs a kernel
/// entry on both sides, and a sleep and a wakeup when the driver was idle.
#[derive(Debug)]
struct Wire(libc::c_int);

impl Wire {
    fn new() -> Self {
        // SAFETY: eventfd takes two integers and returns a new descriptor or -1; no memory is passed.
        let fd = unsafe { libc::eventfd(0, libc::EFD_SEMAPHORE | libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "napi: eventfd failed: {}", std::io::Error::last_os_error());
        Self(fd)
    }

    /// Raises one IRQ.
    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local u64 to our own eventfd.
        let n = unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
        assert_eq!(n, 8, "napi: eventfd write failed: {}", std::io::Error::last_os_error());
    }

    /// Takes one IRQ, sleeping until one is raised.
    fn take(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live local u64 from our own eventfd (blocking).
        let n = unsafe { libc::read(self.0, (&mut v as *mut u64).cast(), 8) };
        assert_eq!(n, 8, "napi: eventfd read failed: {}", std::io::Error::last_os_error());
    }

    /// Takes one IRQ if one is raised within `timeout`; false if none came.
    fn take_within(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live, initialized pollfd; poll writes only its `revents`.
        let ready = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if ready <= 0 {
            return false;
        }
        self.take();
        true
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours (opened in `new`) and closed once, here.
        unsafe { libc::close(self.0) };
    }
}

/// Waits until `gap` has passed since `from`, spinning (the NIC is a device: it has its core).
fn pace(from: Instant, gap: Duration) {
    while from.elapsed() < gap {
        std::hint::spin_loop();
    }
}

/// Runs `packets` packets through the `kind` driver under `workload` (`burst` packets per burst,
/// `budget` per poll) on two threads pinned as `pin` says, and checks that every packet arrives
/// once, in order.
pub fn run_on_cores(kind: Kind, workload: Workload, packets: u64, burst: usize, budget: usize, pin: Pin) -> CoreRun {
    let ring = crate::spsc::real::fixed::channel::<Packet>(RING_SLOTS);
    match kind {
        Kind::Napi(Variant::Fixed) => napi_run(real::fixed::new(ring, budget), workload, packets, burst, pin),
        Kind::Napi(Variant::Broken) => napi_run(real::broken::new(ring, budget), workload, packets, burst, pin),
        Kind::PerPacket => per_packet_run(ring, workload, packets, burst, pin),
    }
}

/// How many packets the NIC posts next, back to back.
fn batch(workload: Workload, burst: usize) -> u64 {
    match workload {
        Workload::Trickle => 1,
        Workload::Bursts => burst as u64,
    }
}

fn gap(workload: Workload) -> Duration {
    match workload {
        Workload::Trickle => TRICKLE_GAP,
        Workload::Bursts => BURST_GAP,
    }
}

/// The per-thread results: (hard IRQs, polls, stranded, rescued, ring full, driver CPU).
type Tally = (u64, u64, u64, u64, u64, Duration);

fn napi_run<N: Device, D: Napi>(pair: (N, D), workload: Workload, packets: u64, burst: usize, pin: Pin) -> CoreRun {
    let roles = std::sync::Mutex::new((Some(pair.0), Some(pair.1)));
    let wire = Wire::new();
    // The last packet whose IRQ decision the NIC has made (0: none yet).
    let decided = AtomicU64::new(0);
    let start = Instant::now();
    let (tallies, parallelism) = crate::hw::run_threads(2, pin, |i| -> Tally {
        if i == 0 {
            let mut nic = roles.lock().unwrap().0.take().expect("one NIC");
            let mut full = 0;
            let mut seq: Packet = 1;
            while seq <= packets {
                let t0 = Instant::now();
                for _ in 0..batch(workload, burst) {
                    if seq > packets {
                        break;
                    }
                    let backoff = crossbeam_utils::Backoff::new();
                    let irq = loop {
                        match nic.receive(seq) {
                            Ok(irq) => break irq,
                            Err(_) => {
                                full += 1;
                                backoff.snooze();
                            }
                        }
                    };
                    if irq == Irq::Raised {
                        wire.raise();
                    }
                    // ORDERING: Release [decided] — the post and the raise above happen-before the driver's Acquire load that sees this.
                    decided.store(seq, Ordering::Release);
                    seq += 1;
                }
                pace(t0, gap(workload));
            }
            (0, 0, 0, 0, full, Duration::ZERO)
        } else {
            let mut driver = roles.lock().unwrap().1.take().expect("one driver");
            let cpu0 = thread_cpu_time();
            let (mut irqs, mut polls, mut stranded, mut rescued) = (0, 0, 0, 0);
            let mut next: Packet = 1;
            while next <= packets {
                if driver.take_irq() {
                    irqs += 1;
                } else if !wire.take_within(WATCHDOG) {
                    // Nothing raised for a whole watchdog period: is a posted packet stranded?
                    // ORDERING: Acquire [decided] — pairs with the NIC's Release: an IRQ it raised for that packet is visible to the take below.
                    if decided.load(Ordering::Acquire) >= next {
                        if driver.take_irq() {
                            irqs += 1;
                        } else {
                            rescued += 1;
                            driver.schedule();
                        }
                    }
                }
                while driver.is_scheduled() {
                    let p = driver.poll(|p| {
                        assert_eq!(p, next, "napi: packets out of order");
                        next += 1;
                    });
                    polls += 1;
                    // A completion with a decided packet left behind and no IRQ coming: stranded.
                    // ORDERING: Acquire [decided] — as above: an IRQ raised for packet `next` is visible to `is_pending`.
                    if matches!(p, super::Poll::Complete { .. })
                        && decided.load(Ordering::Acquire) >= next
                        && !driver.is_pending()
                    {
                        stranded += 1;
                    }
                }
            }
            (irqs, polls, stranded, rescued, 0, thread_cpu_time() - cpu0)
        }
    });
    finish(packets, &tallies, start.elapsed(), parallelism)
}

fn finish(packets: u64, tallies: &[Tally], wall: Duration, parallelism: Parallelism) -> CoreRun {
    let (nic, drv) = (tallies[0], tallies[1]);
    CoreRun {
        packets,
        hard_irqs: drv.0,
        polls: drv.1,
        stranded: drv.2,
        rescued: drv.3,
        ring_full: nic.4,
        wall,
        driver_cpu: drv.5,
        parallelism,
    }
}

/// The driver without NAPI: every packet raises an IRQ (a counter, and a wakeup), and every IRQ
/// handles exactly one packet.
fn per_packet_run(
    ring: (
        crate::spsc::real::fixed::Producer<Packet>,
        crate::spsc::real::fixed::Consumer<Packet>,
    ),
    workload: Workload,
    packets: u64,
    burst: usize,
    pin: Pin,
) -> CoreRun {
    let roles = std::sync::Mutex::new((Some(ring.0), Some(ring.1)));
    let wire = Wire::new();
    let start = Instant::now();
    let (tallies, parallelism) = crate::hw::run_threads(2, pin, |i| -> Tally {
        if i == 0 {
            let mut tx = roles.lock().unwrap().0.take().expect("one NIC");
            let mut full = 0;
            let mut seq: Packet = 1;
            while seq <= packets {
                let t0 = Instant::now();
                for _ in 0..batch(workload, burst) {
                    if seq > packets {
                        break;
                    }
                    let backoff = crossbeam_utils::Backoff::new();
                    let mut p = seq;
                    while let Err(crate::spsc::Full(back)) = tx.push(p) {
                        full += 1;
                        p = back;
                        backoff.snooze();
                    }
                    // One IRQ per packet.
                    wire.raise();
                    seq += 1;
                }
                pace(t0, gap(workload));
            }
            (0, 0, 0, 0, full, Duration::ZERO)
        } else {
            let mut rx = roles.lock().unwrap().1.take().expect("one driver");
            let cpu0 = thread_cpu_time();
            let mut taken = 0u64;
            let mut next: Packet = 1;
            while next <= packets {
                // One IRQ, one packet; waited for exactly as the NAPI driver waits (poll, then read),
                // returning at once when the IRQ is already raised.
                while !wire.take_within(WATCHDOG) {}
                taken += 1;
                // The IRQ was raised after the push; the eventfd's syscalls order them in practice,
                // but only the ring's Acquire tail load is an edge the memory model knows: spin on it.
                let p = loop {
                    if let Some(p) = rx.pop() {
                        break p;
                    }
                    std::hint::spin_loop();
                };
                assert_eq!(p, next, "per-packet driver: packets out of order");
                next += 1;
            }
            (taken, 0, 0, 0, 0, thread_cpu_time() - cpu0)
        }
    });
    finish(packets, &tallies, start.elapsed(), parallelism)
}
