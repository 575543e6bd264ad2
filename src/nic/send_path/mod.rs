//! # Send path latency: where the nanoseconds of one `send()` go, measured stage by stage
//!
//! The seed draws the send path as a stack of nine stages adding up to 1,230 ns: the system
//! call and its mode switch, the kernel's TCP/IP and `sk_buff` work, the copy of the payload into
//! a kernel buffer, the softirq / scheduler wakeup, the driver writing a TX descriptor, the NIC
//! fetching it over PCIe, the doorbell, the DMA of the packet and the SerDes putting it on the
//! wire. Those are **budgets of cited constants**. This demo measures, in one run on this
//! machine, every stage that exists here, and prints the others as cited constants with their
//! source, in a column of their own ([`STAGES`]).
//!
//! No real NIC is reachable from this lab. The stages that need one — the PCIe descriptor fetch,
//! the DMA, the SerDes — cannot be measured and are **cited**. Everything else is real code on a
//! real core: real system calls on real loopback sockets, the real futex wakeup of a blocked
//! thread, and the lab's descriptor ring with a *device* that is a thread on the other core
//! standing in for the NIC.
//!
//! ## What is measured, and how ([`kernel`], [`bypass`], [`driver`])
//! | stage | measured here as | where |
//! |-------|------------------|-------|
//! | 1. syscall + mode switch | a null system call (`getppid`), one thread | [`kernel::null_syscall`] |
//! | 2. kernel TCP/IP + `sk_buff` | the intercept of `send()` time vs payload size on a connected loopback TCP socket, minus stage 1 | [`kernel::send_costs`], [`fit`] |
//! | 3. copy into kernel buffer | the slope of that fit (ns per byte) × the payload | same |
//! | 4. softirq / scheduler wakeup | a blocked receiver's wakeup minus a spinning one's, through [`irq-vs-busy-poll`](crate::nic::irq_poll)'s handshake on two pinned cores | `irq_poll::cores::run` |
//! | 5. driver writes TX descriptor | `post` on the [descriptor ring](crate::nic::descriptor_ring)'s TX ring, its device polling on the other core | [`driver::post_and_doorbell`] |
//! | 7. doorbell | `ring_doorbell` on the same ring: **an analogue**, a Release store to host memory, where a real doorbell is a posted MMIO write across PCIe (`mmio` measures that analogue) | same |
//! | 6, 8, 9 | cited | [`STAGES`] |
//!
//! Beside the stages, the **whole kernel path**: one payload from `send()` on one core to the
//! return of `recv()` on the other, over loopback UDP and TCP, the receiver blocked in `recv`
//! (or, with `--busy-poll`, polling a non-blocking socket); and **kernel bypass**: the same
//! payload copied into a slot of a shared-memory ring (the descriptor ring's slot-flag
//! [queue](crate::nic::descriptor_ring::queue)) and copied out by a thread polling it on the other
//! core — no system call, no kernel buffer, no wakeup. Every latency is an HDR histogram (p50,
//! p99); the cost of reading the clock is measured and subtracted.
//!
//! ## What loopback is, honestly
//! - A `send()` on loopback runs the *receiving* side's IP and TCP/UDP too: the loopback driver
//!   hands the `sk_buff` to `netif_rx`, and the softirq that processes it usually runs before
//!   the system call returns (on the bottom-half enable). So stage 2 here is TX *and* RX
//!   protocol work; a real NIC's `send()` returns after the driver's `ndo_start_xmit`.
//! - The copy slope is the kernel's `copy_from_user` into the `sk_buff` (loopback needs no
//!   checksum: it advertises checksum offload). The fit is least squares over six payload sizes.
//! - x86 is TSO: the descriptor ring's Release store is a plain `mov`, so the "doorbell" here
//!   costs what a store costs. A real doorbell is an uncached MMIO write that the core posts and
//!   forgets (the seed's 60 ns); the `mmio` demo measures the lab's analogue of that.
//!
//! ## Toggles (the seed's "toggle a technique to shave it")
//! - `--busy-poll`: the receiver polls instead of sleeping: stage 4 is gone (its price is a
//!   whole core), and the kernel path's receiver polls a non-blocking socket (the analogue of
//!   `SO_BUSY_POLL`; loopback has no NAPI context to poll).
//! - `--bypass`: stages 1–4 are replaced by the measured shared-memory handoff (kernel bypass as
//!   DPDK or Onload do it: the application writes the NIC's ring itself).
//!
//! Sources: the seed's "Send path latency" budget (every cited figure); R. Neugebauer et al.,
//! "Understanding PCIe performance for end host networking", SIGCOMM 2018 (PCIe DMA latencies of
//! this order, measured on real NICs); Linux `drivers/net/loopback.c` (`loopback_xmit` →
//! `__netif_rx`) for what loopback skips.

pub mod bypass;
pub mod demo;
pub mod driver;
pub mod kernel;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The budget payload: the largest UDP payload of one standard 1,500-byte Ethernet frame.
pub const PAYLOAD: usize = 1472;

/// The small payload of the one-way runs and the bench.
pub const SMALL: usize = 64;

/// The payload sizes of the `send()` sweep whose slope is the copy cost.
pub const SWEEP: [usize; 6] = [64, 256, 1024, PAYLOAD, 4096, 16384];

/// How a stage's figure is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Measured on this machine.
    Measured,
    /// Measured on an analogue of the real thing (named in the stage's note).
    Analogue,
    /// A constant, with its source.
    Cited(&'static str),
}

/// One stage of the seed's send path.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    /// The seed's name for it.
    pub name: &'static str,
    /// The seed's figure, ns.
    pub seed_ns: u64,
    /// Whether this machine can measure it (cited stages name their source).
    pub source: Source,
}

/// The seed's source, for the cited stages.
pub const SEED: &str = "the seed's send-path budget; PCIe latencies of this order: Neugebauer et al., SIGCOMM 2018";

/// The seed's nine stages, in order, with its figures (they sum to [`SEED_TOTAL_NS`]).
pub const STAGES: [Stage; 9] = [
    Stage {
        name: "send() syscall + mode switch",
        seed_ns: 90,
        source: Source::Measured,
    },
    Stage {
        name: "kernel TCP/IP + sk_buff",
        seed_ns: 220,
        source: Source::Measured,
    },
    Stage {
        name: "copy into kernel buffer",
        seed_ns: 80,
        source: Source::Measured,
    },
    Stage {
        name: "softirq / scheduler wakeup",
        seed_ns: 110,
        source: Source::Measured,
    },
    Stage {
        name: "driver writes TX descriptor",
        seed_ns: 40,
        source: Source::Measured,
    },
    Stage {
        name: "NIC reads descriptor over PCIe",
        seed_ns: 300,
        source: Source::Cited(SEED),
    },
    Stage {
        name: "doorbell MMIO write",
        seed_ns: 60,
        source: Source::Analogue,
    },
    Stage {
        name: "DMA across PCIe, start TX",
        seed_ns: 250,
        source: Source::Cited(SEED),
    },
    Stage {
        name: "SerDes / PHY onto the wire",
        seed_ns: 80,
        source: Source::Cited("the seed's send-path budget"),
    },
];

/// The seed's total.
pub const SEED_TOTAL_NS: u64 = 1230;

/// An HDR histogram of latencies in ns, 1 ns to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Records `elapsed_ns` minus the clock's own cost (at least 1 ns: the histogram's floor).
pub fn record(h: &mut Histogram<u64>, elapsed_ns: u64, clock_ns: u64) {
    h.saturating_record(elapsed_ns.saturating_sub(clock_ns).max(1));
}

/// The value at `quantile`, in ns.
pub fn at(h: &Histogram<u64>, quantile: f64) -> f64 {
    h.value_at_quantile(quantile) as f64
}

/// The median cost of reading the clock (`Instant::now` twice, back to back), in ns: subtracted
/// from every timed interval.
pub fn clock_cost_ns() -> u64 {
    let mut h = histogram();
    for _ in 0..10_000 {
        let t = std::time::Instant::now();
        h.saturating_record(t.elapsed().as_nanos() as u64);
    }
    h.value_at_quantile(0.5)
}

/// The pacing of a one-way run, one payload in flight, shared by the socket and the ring runs:
/// the sender sends payload `k` only once the receiver has taken `k − 1`, after an idle gap, and
/// stamps it with `k` (bytes 8..16) and its send instant (bytes 0..8, ns since the run's start).
#[derive(Debug)]
pub struct OneInFlight {
    /// Payloads the receiver has taken.
    taken: AtomicU64,
    /// The run's start: both threads read the same monotonic clock.
    base: Instant,
}

impl Default for OneInFlight {
    fn default() -> Self {
        Self {
            taken: AtomicU64::new(0),
            base: Instant::now(),
        }
    }
}

impl OneInFlight {
    /// The sender's turn: waits until payload `k − 1` is taken, idles `gap`, then stamps `buf`
    /// (at least 16 bytes) with `k` and now. Send `buf` right after.
    pub fn stamp_next(&self, buf: &mut [u8], k: u64, gap: Duration) {
        // ORDERING: Acquire [taken] — pairs with the receiver's Release store in `took`: payload k − 1 is in.
        crate::hw::spin_until(|| self.taken.load(Ordering::Acquire) >= k);
        let idle_until = Instant::now() + gap;
        while Instant::now() < idle_until {
            std::hint::spin_loop();
        }
        buf[8..16].copy_from_slice(&k.to_le_bytes());
        buf[..8].copy_from_slice(&self.now_ns().to_le_bytes());
    }

    /// The receiver has payload `k` of `n` in `buf`: records now − its stamp into `h` (minus
    /// `clock_ns`), lets the sender go on, and says whether the payload is the one sent (its
    /// sequence number, and for the first and the last, every byte after the stamps against `full`).
    pub fn took(&self, buf: &[u8], k: u64, n: u64, full: &[u8], h: &mut Histogram<u64>, clock_ns: u64) -> bool {
        let at = self.now_ns();
        let ready = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        record(h, at.saturating_sub(ready), clock_ns);
        let seq = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
        // ORDERING: Release [taken] — pairs with the sender's Acquire load in `stamp_next`: payload k is taken.
        self.taken.store(k + 1, Ordering::Release);
        seq == k && (!(k == 0 || k + 1 == n) || buf[16..] == full[16..])
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// A least-squares line through `points`: `(intercept, slope)`.
///
/// # Panics
/// With fewer than two distinct x values.
pub fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|&(x, _)| (x - mx) * (x - mx)).sum();
    let sxy: f64 = points.iter().map(|&(x, y)| (x - mx) * (y - my)).sum();
    assert!(sxx > 0.0, "fit: needs two distinct x values");
    let slope = sxy / sxx;
    (my - slope * mx, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_stages_sum_to_its_total() {
        assert_eq!(STAGES.iter().map(|s| s.seed_ns).sum::<u64>(), SEED_TOTAL_NS);
    }

    #[test]
    fn fit_recovers_a_line() {
        let (a, b) = fit(&[(0.0, 100.0), (1000.0, 150.0), (2000.0, 200.0)]);
        assert!((a - 100.0).abs() < 1e-9 && (b - 0.05).abs() < 1e-12, "{a} {b}");
    }

    #[test]
    fn record_subtracts_the_clock_and_keeps_the_floor() {
        let mut h = histogram();
        record(&mut h, 100, 30);
        record(&mut h, 10, 30);
        assert_eq!((h.min(), h.max()), (1, 70));
    }
}
