//! The queue pair on real cores: a driver thread and a device thread, pinned, one work request in
//! flight, each post-to-completion round trip timed and checked.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{real, Config, DeviceSide, DriverSide, WorkRequest};
use crate::hw::{Parallelism, Pin};
use crate::Variant;

/// What a run of round trips measured (the queue pair's, or a socket's).
#[derive(Clone, Debug)]
pub struct Trips {
    /// Round trips done.
    pub round_trips: u64,
    /// Each round trip's time in nanoseconds, sorted (empty when not recorded).
    pub latencies_ns: Vec<u64>,
    /// Completions whose WQE counter was not the request's: last lap's CQE taken as new (the
    /// broken queue pair's bug; always 0 for sockets).
    pub stale: u64,
    /// Round trips whose completion or delivered payload was wrong in any other way.
    pub errors: u64,
    /// From the first post (or send) to the last completion (or acknowledgement).
    pub wall: Duration,
    /// How much the two threads overlapped.
    pub parallelism: Parallelism,
}

impl Trips {
    /// The `q`-quantile of the recorded round trips (0.5: the median), in nanoseconds.
    pub fn quantile_ns(&self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ns.len() - 1) as f64 * q).round() as usize;
        self.latencies_ns[i] as f64
    }

    /// The mean round trip over the whole run, in nanoseconds.
    pub fn mean_ns(&self) -> f64 {
        self.wall.as_nanos() as f64 / self.round_trips.max(1) as f64
    }
}

/// Polls `f` until it returns a value: a `pause` per miss, and a yield every 4,096 misses so that
/// two threads sharing one core (a busy machine) still make progress.
pub(crate) fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let mut misses = 0u32;
    loop {
        if let Some(v) = f() {
            return v;
        }
        misses = misses.wrapping_add(1);
        if misses % 4096 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// `n` post-to-completion round trips of `bytes` (a multiple of 8, at least 8) over a queue pair
/// of `variant`: a driver thread posts an RDMA WRITE from its registered buffer into the peer's,
/// spins until it reaps the completion, and checks it; a device thread executes. The first
/// payload word carries the round trip's number; the whole payload is checked on the first and
/// last round trips. `record`: time every round trip (two clock reads each).
///
/// # Panics
/// If `bytes` is 0, not a multiple of 8, or above [`super::MAX_MEMORY_BYTES`] / 2.
pub fn qp_round_trips(variant: Variant, bytes: u32, n: u64, pin: Pin, record: bool) -> Trips {
    match variant {
        Variant::Broken => trips(real::broken::queue_pair, bytes, n, pin, record),
        Variant::Fixed => trips(real::fixed::queue_pair, bytes, n, pin, record),
    }
}

fn trips<D: DriverSide, V: DeviceSide>(
    make: fn(&Config) -> (D, V),
    bytes: u32,
    n: u64,
    pin: Pin,
    record: bool,
) -> Trips {
    assert!(
        bytes >= 8 && bytes % 8 == 0,
        "qp_round_trips: payload of {bytes} bytes is not a positive multiple of 8"
    );
    let words = bytes as usize / 8;
    // One request in flight; a CQ of 4 wraps every 4 completions, so every lap's parity is used.
    let (driver, device) = make(&Config::new(
        1,
        4,
        &[(u64::from(bytes), false), (u64::from(bytes), true)],
    ));
    let halves = Mutex::new((Some(driver), Some(device)));
    let (results, parallelism) = crate::hw::run_threads(2, pin, |i| {
        if i == 1 {
            let mut device = halves.lock().unwrap().1.take().expect("one device");
            let mut done = 0u64;
            while done < n {
                done += u64::from(wait_for(|| match device.process() {
                    0 => None,
                    k => Some(k),
                }));
            }
            return (Vec::new(), 0, 0, Duration::ZERO);
        }
        let mut driver = halves.lock().unwrap().0.take().expect("one driver");
        let (src, dst) = (driver.region(0), driver.region(1));
        let full: Vec<u64> = (0..words).map(|k| super::pattern(0, k)).collect();
        driver.write_memory(src.addr, &full);
        let mut latencies = Vec::with_capacity(if record { n as usize } else { 0 });
        let (mut stale, mut errors) = (0u64, 0u64);
        let mut got = vec![0u64; words];
        let start = Instant::now();
        for k in 0..n {
            driver.write_memory(src.addr, &[k]);
            let wr = WorkRequest::write(100 + k, &src, src.addr, bytes, &dst, dst.addr);
            let t0 = record.then(Instant::now);
            driver.post(&wr).expect("one request in flight at a time");
            let c = wait_for(|| driver.poll());
            if let Some(t0) = t0 {
                latencies.push(t0.elapsed().as_nanos() as u64);
            }
            if c.wqe_counter != k as u32 {
                stale += 1;
                continue;
            }
            let whole = k == 0 || k + 1 == n;
            let seen = if whole { &mut got[..] } else { &mut got[..1] };
            driver.read_memory(dst.addr, seen);
            let expected_first = k;
            let bad = c.status != super::Status::Success
                || c.byte_len != bytes
                || c.wr_id != 100 + k
                || seen[0] != expected_first
                || (whole && seen[1..] != full[1..]);
            errors += u64::from(bad);
        }
        let wall = start.elapsed();
        latencies.sort_unstable();
        (latencies, stale, errors, wall)
    });
    let (latencies_ns, stale, errors, wall) = results.into_iter().next().expect("the driver's result");
    Trips {
        round_trips: n,
        latencies_ns,
        stale,
        errors,
        wall,
        parallelism,
    }
}
