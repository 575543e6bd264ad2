//! The real-core runs: a paced NIC thread and an app thread on two pinned cores, and the
//! lost-wakeup hunt (one packet in flight, blocking delivery).
//!
//! Every packet carries its sequence number and the instant the NIC made it ready; the app
//! records *ready → has it* in an HDR histogram. The NIC also logs, per packet, the sleep word it
//! read after its push, which makes counting lost wakeups exact rather than a timing guess:
//! packet `s` was a **lost wakeup** when the app parked (sleep word `2g + 1`, its re-check having
//! missed `s`) while the NIC, after pushing `s`, read an *even* word older than `2g + 1` — so it
//! sent no interrupt. With the fences this cannot happen (one of the two loads sees the other's
//! store); without them it is the store-buffering outcome. Each sleep is bounded
//! ([`SLEEP_BOUND`]), so a lost wakeup costs that bound instead of hanging the run.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{AppHalf, NicHalf};
use crate::hw::{self, Parallelism, Pin};
use crate::Variant;

/// The longest the app sleeps before looking at the ring again by itself: what rescues a lost
/// wakeup on real cores (a driver without it would sleep until the next packet's interrupt).
pub const SLEEP_BOUND: Duration = Duration::from_micros(100);

/// The ring between the NIC and the app (a NIC's RX ring size).
pub const CAPACITY: usize = 1024;

/// The sequence number of the NIC's end-of-run packet.
const END: u64 = u64::MAX;

/// A packet: its sequence number and when the NIC made it ready (ns since the run's start).
type Packet = (u64, u64);

/// How the app waits while the ring is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Sleep at once (`park_timeout`); the NIC's `unpark` is the interrupt.
    Blocking,
    /// Poll the ring forever.
    BusyPoll,
    /// Poll for `spin`, then sleep.
    Hybrid {
        /// The polling budget of one wait.
        spin: Duration,
    },
}

impl Delivery {
    /// `blocking`, `busy-poll`, `hybrid`.
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Blocking => "blocking",
            Delivery::BusyPoll => "busy-poll",
            Delivery::Hybrid { .. } => "hybrid",
        }
    }
}

/// How the NIC sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// One packet every `1/rate` seconds (a ring that is full drops the packet, as a NIC does).
    Paced {
        /// Offered packets per second.
        rate: u64,
    },
    /// The next packet as soon as the app has taken the previous one (after a small varying
    /// delay on the app's side): every packet meets the app at its sleep/wake handshake.
    OneInFlight,
}

/// What one run measured.
#[derive(Debug)]
pub struct Measured {
    /// Packets the NIC offered (the end marker excluded).
    pub offered: u64,
    /// Packets the app received.
    pub received: u64,
    /// Packets dropped because the ring was full.
    pub dropped: u64,
    /// Ready → app-has-it, in ns.
    pub latency: Histogram<u64>,
    /// Times the app went to sleep.
    pub sleeps: u64,
    /// Interrupts the NIC raised (`unpark` calls).
    pub wakes: u64,
    /// Packets the app slept through with no interrupt coming (exact, see the module doc).
    pub lost_wakeups: u64,
    /// Lost wakeups that only the sleep bound ended (the app's sleep timed out).
    pub timeout_rescued: u64,
    /// The first lost wakeup's sequence number.
    pub first_lost: Option<u64>,
    /// Wall time and each thread's CPU time (NIC first, then app).
    pub parallelism: Parallelism,
}

impl Measured {
    /// The app thread's CPU time as a share of the wall time (1.0: a whole core).
    pub fn app_cpu_share(&self) -> f64 {
        share(self.parallelism.cpu.get(1).copied(), self.parallelism.wall)
    }

    /// The NIC thread's CPU share: it never sleeps, so below ~0.9 the machine took its core away.
    pub fn nic_cpu_share(&self) -> f64 {
        share(self.parallelism.cpu.first().copied(), self.parallelism.wall)
    }

    /// Packets received per second of wall time.
    pub fn throughput(&self) -> f64 {
        self.received as f64 / self.parallelism.wall.as_secs_f64().max(1e-9)
    }

    /// The latency at `quantile`, in µs.
    pub fn latency_us(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1e3
    }

    /// The largest latency, in µs.
    pub fn max_us(&self) -> f64 {
        self.latency.max() as f64 / 1e3
    }

    /// Whether the run measured what it claims: both threads had a core of their own. The NIC
    /// never sleeps, so its CPU share says whether the machine was busy; the app's share is
    /// the measurement itself (a blocking app sleeps by design).
    pub fn ran_in_parallel(&self) -> bool {
        hw::available_cores() >= 2 && self.nic_cpu_share() >= 0.75
    }

    /// The parallelism line for the output.
    pub fn verdict(&self) -> String {
        let nic = self.nic_cpu_share() * 100.0;
        if hw::available_cores() < 2 {
            format!("parallelism: NO — one core: the NIC and the app time-shared it (NIC CPU share {nic:.0}%)")
        } else if self.ran_in_parallel() {
            format!(
                "parallelism: yes — the NIC thread (it never sleeps) was on a CPU {nic:.0}% of the run; the app's \
                 CPU share is the measurement"
            )
        } else {
            format!(
                "parallelism: NO — the NIC thread (it never sleeps) was on a CPU only {nic:.0}% of the run; another \
                 job is using the cores, so latencies include its time slices (rerun on a quiet machine)"
            )
        }
    }
}

fn share(cpu: Option<Duration>, wall: Duration) -> f64 {
    cpu.map_or(0.0, |c| c.as_secs_f64() / wall.as_secs_f64().max(1e-9))
}

/// Runs `packets` packets through the `variant` handshake, the app waiting as `delivery` says
/// and the NIC sending as `traffic` says, on two threads pinned as `pin` says. With
/// `stop_at_first_lost`, the run ends at the first lost wakeup (the matrix's detection).
pub fn run(
    variant: Variant,
    delivery: Delivery,
    traffic: Traffic,
    packets: u64,
    pin: Pin,
    stop_at_first_lost: bool,
) -> Measured {
    let cfg = Config {
        delivery,
        traffic,
        packets,
        pin,
        stop_at_first_lost,
    };
    match variant {
        Variant::Fixed => run_on(super::real_fixed::<Packet>(CAPACITY), cfg),
        Variant::Broken => run_on(super::real_broken::<Packet>(CAPACITY), cfg),
    }
}

#[derive(Clone, Copy)]
struct Config {
    delivery: Delivery,
    traffic: Traffic,
    packets: u64,
    pin: Pin,
    stop_at_first_lost: bool,
}

/// What each thread hands back.
enum Side {
    Nic {
        offered: u64,
        dropped: u64,
        wakes: u64,
    },
    App {
        latency: Box<Histogram<u64>>,
        received: u64,
        sleeps: u64,
        lost: u64,
        rescued: u64,
        first_lost: Option<u64>,
    },
}

fn run_on<N: NicHalf<Packet>, A: AppHalf<Packet>>(halves: (N, A), cfg: Config) -> Measured {
    let n = usize::try_from(cfg.packets).expect("the packet count fits memory (the spec bounds it)");
    // The sleep word the NIC read after pushing packet s, plus one (0: not pushed, or not yet logged).
    let seen: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    // Packets the app has taken: the one-in-flight NIC waits for it.
    let taken = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let app_thread: OnceLock<Thread> = OnceLock::new();
    let halves = Mutex::new((Some(halves.0), Some(halves.1)));
    let base = Instant::now();
    let now_ns = || u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let (sides, parallelism) = hw::run_threads(2, cfg.pin, |i| {
        if i == 0 {
            let mut nic = halves.lock().unwrap().0.take().expect("one NIC");
            // The app publishes its handle before its first wait.
            hw::spin_until(|| app_thread.get().is_some());
            let app = app_thread.get().expect("published").clone();
            let (mut offered, mut dropped, mut wakes) = (0, 0, 0);
            let start = now_ns();
            for s in 0..cfg.packets {
                // ORDERING: Relaxed [stop] — a hint to end early; nothing is published with it.
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match cfg.traffic {
                    Traffic::Paced { rate } => {
                        let due = start + (s as f64 * 1e9 / rate as f64) as u64;
                        while now_ns() < due {
                            std::hint::spin_loop();
                        }
                    }
                    // ORDERING: Acquire [taken] — pairs with the app's Release store: it is done with packet s - 1.
                    Traffic::OneInFlight => hw::spin_until(|| taken.load(Ordering::Acquire) >= s),
                }
                offered += 1;
                let ready = now_ns();
                let wake = || {
                    wakes += 1;
                    app.unpark();
                };
                match nic.send((s, ready), wake) {
                    // ORDERING: Relaxed [seen-log] — a logged value, not a guard: the app spins until it appears.
                    Ok(word) => seen[s as usize].store(word + 1, Ordering::Relaxed),
                    Err(_) => dropped += 1,
                }
            }
            let mut end = (END, 0);
            loop {
                match nic.send(end, || app.unpark()) {
                    Ok(_) => break,
                    Err(back) => {
                        end = back.0;
                        std::thread::yield_now();
                    }
                }
            }
            Side::Nic {
                offered,
                dropped,
                wakes,
            }
        } else {
            let mut app = halves.lock().unwrap().1.take().expect("one app");
            app_thread.set(std::thread::current()).expect("one app thread");
            let mut latency = Box::new(Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"));
            let (mut received, mut sleeps, mut lost, mut rescued, mut first_lost) = (0, 0, 0, 0, None);
            let mut jitter = 0x9e37_79b9_u32;
            loop {
                // The last sleep of this wait: its odd sleep word and whether the bound ended it.
                let last_sleep: Cell<Option<(u64, bool)>> = Cell::new(None);
                let sleep = |word: u64| {
                    let t = Instant::now();
                    std::thread::park_timeout(SLEEP_BOUND);
                    last_sleep.set(Some((word, t.elapsed() >= SLEEP_BOUND)));
                    sleeps += 1;
                };
                let (s, ready) = match cfg.delivery {
                    Delivery::Blocking => app.recv(|| false, sleep),
                    Delivery::BusyPoll => app.recv(
                        || {
                            std::hint::spin_loop();
                            true
                        },
                        sleep,
                    ),
                    Delivery::Hybrid { spin } => {
                        let mut deadline = None;
                        app.recv(
                            || {
                                std::hint::spin_loop();
                                let now = Instant::now();
                                now < *deadline.get_or_insert(now + spin)
                            },
                            sleep,
                        )
                    }
                };
                let got = now_ns();
                if s == END {
                    break;
                }
                received += 1;
                latency.saturating_record(got.saturating_sub(ready).max(1));
                if let Some((parked, timed_out)) = last_sleep.get() {
                    // ORDERING: Relaxed [seen-log] — the NIC logs it right after its push; wait for the value.
                    hw::spin_until(|| seen[s as usize].load(Ordering::Relaxed) != 0);
                    // ORDERING: Relaxed [seen-log] — as above.
                    let nic_read = seen[s as usize].load(Ordering::Relaxed) - 1;
                    // The NIC read "awake" from before this sleep's announcement: no interrupt came.
                    if nic_read % 2 == 0 && nic_read < parked {
                        lost += 1;
                        first_lost.get_or_insert(s);
                        if timed_out {
                            rescued += 1;
                        }
                        if cfg.stop_at_first_lost {
                            // ORDERING: Relaxed [stop] — a hint to end early.
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                if cfg.traffic == Traffic::OneInFlight {
                    // ORDERING: Release [taken] — pairs with the NIC's Acquire load: packet s is done.
                    taken.store(s + 1, Ordering::Release);
                    // A varying pause (0–255 spins) before waiting again: the NIC's next push lands
                    // at varying points of the app's way back into the handshake.
                    jitter ^= jitter << 13;
                    jitter ^= jitter >> 17;
                    jitter ^= jitter << 5;
                    for _ in 0..(jitter & 0xff) {
                        std::hint::spin_loop();
                    }
                }
            }
            Side::App {
                latency,
                received,
                sleeps,
                lost,
                rescued,
                first_lost,
            }
        }
    });
    let mut sides = sides.into_iter();
    let (
        Some(Side::Nic {
            offered,
            dropped,
            wakes,
        }),
        Some(Side::App {
            latency,
            received,
            sleeps,
            lost,
            rescued,
            first_lost,
        }),
    ) = (sides.next(), sides.next())
    else {
        unreachable!("thread 0 is the NIC, thread 1 the app")
    };
    Measured {
        offered,
        received,
        dropped,
        latency: *latency,
        sleeps,
        wakes,
        lost_wakeups: lost,
        timeout_rescued: rescued,
        first_lost,
        parallelism,
    }
}
