//! # Batching: one doorbell for a burst of items, not one per item
//!
//! A producer hands items to a consumer through the lab's SPSC ring ([`crate::spsc`]) and then
//! rings a **doorbell** to say "there is work": once per item, or once per batch of `B` items.
//! The doorbell has a fixed cost `F` whatever the batch; each item has its own cost `c` (the slot
//! write, the read, the consumer's check). The time per item is therefore
//!
//! ```text
//! t(B) = c + F / B        throughput(B) = 1 / t(B)  →  plateau 1 / c as B grows
//! ```
//!
//! and the seed's two numbers follow: the **overhead share** of a batch, `F / (F + c·B)`, and the
//! throughput as a **% of the plateau**. This is NIC TX batching: fill descriptors, then write
//! the tail register once per burst (Linux's `xmit_more`, DPDK's `rte_eth_tx_burst`, ixy's batch
//! size plot).
//!
//! ## What is measured (on these cores, this run)
//! Two threads pinned to two cores. The producer pushes `B` sequence numbers into a ring of
//! [`RING_SLOTS`] slots (one `tail` publish per batch: `push_iter`), then rings the doorbell with
//! the number of items it announces. The consumer waits for the doorbell, pops exactly the
//! announced items and checks that they arrive in order. Two doorbells, two curves:
//!
//! | doorbell | producer | consumer | its fixed cost |
//! |----------|----------|----------|----------------|
//! | **syscall** | `write(2)` of `B` to an `eventfd` | blocks in `read(2)` on it (returns the sum of the writes) | the system call, plus waking the sleeping consumer (an IPI, the scheduler) |
//! | **Release store** | stores the running count of announced items with Release | spins on it with Acquire | one cache line moving to the consumer's core (an invalidation and a miss) |
//!
//! Each point runs for a time budget (or `--iterations` items, whichever comes first); `B` runs
//! over the powers of two from 1 to 4,096 (`--fine`: every half power of two, and a longer budget).
//! `F` and `c` come from a least-squares fit of `t(B)` against `1/B` ([`fit`]), a pure function
//! tested on synthetic curves. The "% of plateau" is the measured throughput over the best
//! measured one; the overhead share uses the fitted `F` and `c`.
//!
//! ## What this machine cannot show
//! A real MMIO doorbell: an uncached write to a device register across PCIe (hundreds of ns, and
//! a posted write the CPU does not wait for). The Release store is its cheapest analogue (a
//! cross-core cache-line transfer), the eventfd write its most expensive one (a kernel entry and a
//! wakeup, as an interrupt-driven consumer pays). On a VM both include the hypervisor's costs.
//!
//! ## Synchronization edges
//! | edge | Release (writer) | Acquire (reader) | guarantees |
//! |------|------------------|------------------|------------|
//! | `[tail-publish]` | the ring's `tail` after the batch's slot writes | the ring's `tail` before the slot reads | the items are readable (the ring's own edge) |
//! | `[doorbell]` | the store doorbell's count, after the batch is pushed | the consumer's load of the count | the announced items are in the ring |
//! | `[total]` | the producer's final item count, before its last doorbell | the consumer, after draining a doorbell | the consumer knows when to stop |
//!
//! For the syscall doorbell the kernel orders the `write(2)` before the `read(2)` that returns
//! its count (the eventfd's wait-queue lock); the consumer still retries a pop that comes back
//! short rather than trust that.
//!
//! Sources: Linux `Documentation/networking` on `xmit_more` (defer the tail write while more
//! packets are queued); ixy (Emmerich et al., "User Space Network Drivers", ANCS'19: throughput
//! against batch size); `eventfd(2)`.

pub mod demo;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::hw::{run_threads, Parallelism, Pin};
use crate::spsc::real::fixed::channel;
use crossbeam_utils::{Backoff, CachePadded};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Slots in the ring: twice the largest batch, so the producer can fill one batch while the
/// consumer drains the previous one.
pub const RING_SLOTS: usize = 2 * MAX_BATCH;

/// The largest batch the sweep reaches.
pub const MAX_BATCH: usize = 4096;

/// How the producer tells the consumer that items are waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doorbell {
    /// `write(2)` to an eventfd; the consumer blocks in `read(2)`.
    Syscall,
    /// A Release store of the announced count; the consumer spins on an Acquire load.
    Store,
}

impl Doorbell {
    /// Both, in the order a run measures them.
    pub const BOTH: [Doorbell; 2] = [Doorbell::Syscall, Doorbell::Store];

    /// The label of its rows and series.
    pub fn label(self) -> &'static str {
        match self {
            Doorbell::Syscall => "syscall doorbell (eventfd write)",
            Doorbell::Store => "Release-store doorbell",
        }
    }

    /// A short name for progress lines and bench ids.
    pub fn short(self) -> &'static str {
        match self {
            Doorbell::Syscall => "syscall",
            Doorbell::Store => "store",
        }
    }
}

/// An eventfd: a kernel counter that `write(2)` adds to and `read(2)` takes (blocking while 0).
struct EventFd(File);

impl EventFd {
    fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd takes no pointers; a negative return is an error, checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        Ok(Self(File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    /// Adds `n` to the counter: one `write(2)`, waking a blocked reader.
    fn ring(&self, n: u64) {
        (&self.0).write_all(&n.to_ne_bytes()).expect("eventfd write");
    }

    /// Blocks until the counter is non-zero, then takes it all: one `read(2)`.
    fn wait(&self) -> u64 {
        let mut buf = [0u8; 8];
        (&self.0).read_exact(&mut buf).expect("eventfd read");
        u64::from_ne_bytes(buf)
    }
}

/// One point of the sweep: a doorbell at one batch size.
#[derive(Clone, Debug)]
pub struct Point {
    /// Which doorbell.
    pub doorbell: Doorbell,
    /// Items per doorbell.
    pub batch: usize,
    /// Items moved.
    pub items: u64,
    /// Doorbells rung (`items / batch`).
    pub doorbells: u64,
    /// Items that arrived out of order (0 when the ring is correct).
    pub mismatches: u64,
    /// Times the producer found the ring full and waited.
    pub full: u64,
    /// Wall time of the transfer, and each thread's CPU time.
    pub parallelism: Parallelism,
}

impl Point {
    /// Nanoseconds per item (wall time over items).
    pub fn ns_per_item(&self) -> f64 {
        self.parallelism.wall.as_secs_f64() * 1e9 / self.items.max(1) as f64
    }

    /// Items per second.
    pub fn items_per_sec(&self) -> f64 {
        1e9 / self.ns_per_item()
    }
}

/// Moves items from a producer to a consumer (pinned as `pin` says) with `doorbell` rung once per
/// `batch` items, for `budget` or until `max_items` have moved (whole batches; at least one).
///
/// # Panics
/// If `batch` is 0 or above [`MAX_BATCH`], or the eventfd cannot be created.
pub fn run_point(doorbell: Doorbell, batch: usize, max_items: u64, budget: Duration, pin: Pin) -> Point {
    assert!((1..=MAX_BATCH).contains(&batch), "batch {batch} out of 1..={MAX_BATCH}");
    let (tx, rx) = channel::<u64>(RING_SLOTS);
    let halves = Mutex::new((Some(tx), Some(rx)));
    let efd = EventFd::new().expect("eventfd");
    let rung = CachePadded::new(AtomicU64::new(0));
    let total = CachePadded::new(AtomicU64::new(u64::MAX));
    let batch64 = batch as u64;
    // Read the clock about every 256 items, not on every doorbell of a small batch.
    let check_every = (256 / batch64).max(1);
    let (results, parallelism) = run_threads(2, pin, |i| {
        if i == 0 {
            let mut tx = halves.lock().unwrap().0.take().expect("one producer");
            let start = Instant::now();
            let (mut seq, mut batches, mut full) = (0u64, 0u64, 0u64);
            loop {
                let end = seq + batch64;
                let backoff = Backoff::new();
                while seq < end {
                    let n = tx.push_iter(seq..end) as u64;
                    if n == 0 {
                        full += 1;
                        backoff.snooze();
                    }
                    seq += n;
                }
                batches += 1;
                let last = seq >= max_items || (batches % check_every == 0 && start.elapsed() >= budget);
                if last {
                    // ORDERING: Release [total] — stored before the last doorbell; the consumer's Acquire load after draining that doorbell sees it.
                    total.store(seq, Ordering::Release);
                }
                match doorbell {
                    Doorbell::Syscall => efd.ring(batch64),
                    // ORDERING: Release [doorbell] — the batch's pushes happen-before the consumer's Acquire load that sees this count.
                    Doorbell::Store => rung.store(seq, Ordering::Release),
                }
                if last {
                    return (seq, batches, full, 0);
                }
            }
        } else {
            let mut rx = halves.lock().unwrap().1.take().expect("one consumer");
            let (mut announced, mut consumed, mut mismatches) = (0u64, 0u64, 0u64);
            loop {
                match doorbell {
                    Doorbell::Syscall => announced += efd.wait(),
                    Doorbell::Store => {
                        let backoff = Backoff::new();
                        loop {
                            // ORDERING: Acquire [doorbell] — pairs with the producer's Release store: the announced items are in the ring.
                            let now = rung.load(Ordering::Acquire);
                            if now > announced {
                                announced = now;
                                break;
                            }
                            backoff.snooze();
                        }
                    }
                }
                while consumed < announced {
                    for v in rx.pop_chunk((announced - consumed) as usize) {
                        mismatches += u64::from(v != consumed);
                        consumed += 1;
                    }
                }
                // ORDERING: Acquire [total] — pairs with the Release store made before the last doorbell.
                if consumed == total.load(Ordering::Acquire) {
                    return (consumed, 0, 0, mismatches);
                }
            }
        }
    });
    Point {
        doorbell,
        batch,
        items: results[1].0,
        doorbells: results[0].1,
        mismatches: results[1].3 + results[0].0.abs_diff(results[1].0),
        full: results[0].2,
        parallelism,
    }
}

/// `t(B) = per_item + fixed / B`, fitted to measured points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// `F`: the fixed cost of one doorbell, ns.
    pub fixed_ns: f64,
    /// `c`: the cost of one item, ns.
    pub per_item_ns: f64,
    /// The coefficient of determination of the fit (1 = every point on the curve).
    pub r2: f64,
}

impl Fit {
    /// The share of a batch of `b` items spent on its doorbell: `F / (F + c·b)`.
    pub fn overhead_share(&self, b: f64) -> f64 {
        let fixed = self.fixed_ns.max(0.0);
        let work = self.per_item_ns.max(0.0) * b;
        if fixed + work <= 0.0 {
            0.0
        } else {
            fixed / (fixed + work)
        }
    }

    /// The batch at which the doorbell and the items cost the same: `F / c`.
    pub fn break_even(&self) -> Option<f64> {
        (self.fixed_ns > 0.0 && self.per_item_ns > 0.0).then(|| self.fixed_ns / self.per_item_ns)
    }
}

/// Least-squares fit of `ns_per_item = c + F · (1/B)` to `(B, ns_per_item)` points: ordinary
/// least squares of `y` on `x = 1/B`, so the small batches fix `F` and the large ones `c`.
/// `None` with fewer than two distinct batch sizes.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let xs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(b, y)| *b > 0.0 && y.is_finite())
        .map(|&(b, y)| (1.0 / b, y))
        .collect();
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let mx = xs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= f64::EPSILON * mx.abs().max(1.0) {
        return None;
    }
    let fixed = sxy / sxx;
    let per_item = my - fixed * mx;
    let ss_tot: f64 = xs.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = xs.iter().map(|p| (p.1 - per_item - fixed * p.0).powi(2)).sum();
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 1.0 };
    Some(Fit {
        fixed_ns: fixed,
        per_item_ns: per_item,
        r2,
    })
}

/// The batch sizes of a sweep: the powers of two from 1 to [`MAX_BATCH`], and with `fine` the
/// half powers between them (rounded), ascending and distinct.
pub fn batch_sizes(fine: bool) -> Vec<usize> {
    let steps = MAX_BATCH.trailing_zeros() as usize;
    let mut v: Vec<usize> = Vec::new();
    for k in 0..=steps {
        v.push(1 << k);
        if fine && k < steps {
            v.push(((1u64 << k) as f64 * std::f64::consts::SQRT_2).round() as usize);
        }
    }
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(fixed: f64, per_item: f64, noise: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
        batch_sizes(false)
            .iter()
            .enumerate()
            .map(|(i, &b)| (b as f64, (per_item + fixed / b as f64) * (1.0 + noise(i))))
            .collect()
    }

    #[test]
    fn fit_recovers_an_exact_curve() {
        let f = fit(&curve(300.0, 10.0, |_| 0.0)).unwrap();
        assert!((f.fixed_ns - 300.0).abs() < 1e-6, "{f:?}");
        assert!((f.per_item_ns - 10.0).abs() < 1e-6, "{f:?}");
        assert!((f.r2 - 1.0).abs() < 1e-9, "{f:?}");
        // The seed's own numbers: at B = 1 the doorbell is 300 / 310 of the time.
        assert!((f.overhead_share(1.0) - 300.0 / 310.0).abs() < 1e-9);
        assert!((f.break_even().unwrap() - 30.0).abs() < 1e-6);
    }

    #[test]
    fn fit_tolerates_noise() {
        // ±1 % alternating noise: the fit stays within 10 % of the truth.
        let f = fit(&curve(2_000.0, 25.0, |i| if i % 2 == 0 { 0.01 } else { -0.01 })).unwrap();
        assert!((f.fixed_ns / 2_000.0 - 1.0).abs() < 0.1, "{f:?}");
        assert!((f.per_item_ns / 25.0 - 1.0).abs() < 0.1, "{f:?}");
        assert!(f.r2 > 0.9 && f.r2 < 1.0, "{f:?}");
    }

    #[test]
    fn fit_needs_two_batch_sizes() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[(4.0, 10.0)]), None);
        assert_eq!(fit(&[(4.0, 10.0), (4.0, 12.0)]), None);
        assert!(fit(&[(1.0, 10.0), (4.0, 12.0)]).is_some());
    }

    #[test]
    fn a_flat_curve_has_no_fixed_cost() {
        let f = fit(&curve(0.0, 7.0, |_| 0.0)).unwrap();
        assert!(f.fixed_ns.abs() < 1e-9, "{f:?}");
        assert!(f.overhead_share(1.0) < 1e-9, "{f:?}");
    }

    #[test]
    fn sweeps_ascend_from_1_to_4096() {
        for fine in [false, true] {
            let b = batch_sizes(fine);
            assert_eq!((b[0], *b.last().unwrap()), (1, MAX_BATCH));
            assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
        }
        assert_eq!(batch_sizes(false).len(), 13);
        assert!(batch_sizes(true).len() > 20);
    }

    #[test]
    fn every_item_arrives_in_order_with_either_doorbell() {
        for doorbell in Doorbell::BOTH {
            for batch in [1, 7, 64] {
                let p = run_point(doorbell, batch, 1_000, Duration::from_secs(5), Pin::Spread);
                assert_eq!(p.mismatches, 0, "{doorbell:?} B={batch}");
                // Whole batches: the first multiple of `batch` at or above 1,000.
                assert_eq!(p.items, 1_000u64.div_ceil(batch as u64) * batch as u64);
                assert_eq!(p.doorbells, p.items / batch as u64);
            }
        }
    }

    #[test]
    fn a_time_budget_ends_a_point() {
        let p = run_point(Doorbell::Store, 64, u64::MAX, Duration::from_millis(20), Pin::Spread);
        assert_eq!(p.mismatches, 0);
        assert!(p.items > 0 && p.items % 64 == 0);
    }
}
