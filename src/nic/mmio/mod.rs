//! # MMIO write vs read: a posted write lets the core go on, a read stalls it
//!
//! A driver talks to its NIC through registers mapped into memory (MMIO). A **write** to one —
//! the doorbell — is *posted* on PCIe: the core hands it to the write path and moves on; it
//! reaches the device later. A **read** of one is *non-posted*: the core cannot retire the load
//! until the device's completion has come back across PCIe, and uncached reads do not overlap,
//! so five reads cost five round trips. The seed animates it: "5 writes finish ~6× sooner than 5
//! reads" (a cited figure). Hence the datapath rule: **never read a device register on the hot
//! path**; ring doorbells (writes), and learn of completions from what the device wrote into
//! host memory — the DD bit of a descriptor — never from a register read.
//!
//! No NIC is reachable from this lab. The *device* here is real code on a real, pinned core,
//! standing in for a NIC; its "registers" are cache lines. Both comparisons are therefore
//! **analogues**, and `run` labels them so: the mechanism (a store buffer absorbs stores; a
//! dependent load waits for its data) is the same one that makes posted writes cheap and reads
//! dear, but the cost here is a cross-core cache-line transfer (tens of nanoseconds), not a PCIe
//! round trip (the cited ~1 µs).
//!
//! ```
//! use lockfree_lab::nic::descriptor_ring::queue::real::fixed::channel;
//! use lockfree_lab::nic::mmio::{broken, fixed, produce, Register};
//! let (register, (mut tx, mut rx)) = (Register::default(), channel::<u64>(4));
//! produce(&mut tx, &register, 3); // the NIC completes 0, 1, 2, writing HEAD after each
//! let stats = broken::consume(&mut rx, &register, 3); // the driver reads HEAD before each one
//! assert_eq!((stats.register_reads, stats.new_counts), (3, 1));
//! let (register, (mut tx, mut rx)) = (Register::default(), channel::<u64>(4));
//! produce(&mut tx, &register, 3);
//! let stats = fixed::consume(&mut rx, &register, 3); // the driver polls DD: HEAD is never read
//! assert_eq!(stats.register_reads, 0);
//! ```
//!
//! ## 1. Writes vs reads, side by side ([`burst`])
//! Two pinned cores: the **measuring** core (the CPU issuing MMIO) and the **owner** (the device
//! side). Rounds alternate between them through one turn word, and each round is one of four
//! kinds, in rotation, so all four see the same machine state:
//! - *stores*: the measurer stores once to each of `--burst` lines (default 5, as the seed) that the
//!   owner holds Modified. Each store misses (the line must be fetched for ownership), but the
//!   store buffer takes it and the core goes on: the posted-write analogue.
//! - *stores + mfence*: the same, then `mfence`: the core waits until every store is visible — what
//!   the stores would cost if they were not "posted".
//! - *dependent loads*: each line holds the index of the next line (a new random chain every
//!   round, so no prefetcher can guess it); the measurer follows it. Each load needs the previous
//!   one's value for its address, and each misses to the owner's cache: the loads serialize, one
//!   cross-core round trip each — the non-posted-read analogue.
//! - *timer alone*: the two time stamps with nothing between (their cost is in every other figure).
//!
//! Timing: the TSC read between two `lfence`s. The first `lfence` waits until earlier
//! instructions have completed *locally*: loads have their data, but stores only need to have
//! retired into the store buffer — it does not drain it (that is `mfence`'s job). So the stores'
//! figure is the time until the core can go on, as for a posted write.
//!
//! **The handshake: what is timed is what is claimed.** Round `r` (turn word `2r` → `2r + 1` →
//! `2r + 2`):
//! 1. the owner waits for `turn == 2r` (Acquire). If round `r − 1` was a store round, it loads every
//!    line and checks that it holds the measurer's round-`(r − 1)` word (so those stores really
//!    landed; a miss is counted as a *lost write*).
//! 2. the owner **stores** a fresh word to every line: `r` in the high bits, the chain's next index
//!    in the low ones. A store needs the line exclusive, so this invalidates the measurer's copy:
//!    from here every line is Modified in the owner's cache and Invalid in the measurer's. Then
//!    it stores `turn = 2r + 1` (Release).
//! 3. the measurer waits for `turn == 2r + 1` (Acquire), stamps, does its burst, stamps. A load
//!    checks that it got round `r`'s word (else a *stale read*, counted: so each load provably read
//!    the line the owner had just written). The measurer's last store before the burst was the
//!    previous hand-back, which the owner saw (TSO: so every earlier store had drained too): the
//!    store buffer is empty when the burst starts. Then it stores `turn = 2r + 2` (Release).
//!
//! Lines are 128 bytes apart (`CachePadded`), so the adjacent-line prefetcher brings no neighbour
//! in. `run` also sweeps the burst from 1 line to 256 (the series). Measured here (AMD EPYC VM,
//! loaded): the stores stay at the timer's floor up to ~16 lines, then grow by a few ns a line as
//! the store buffer fills — still a fraction of the loads, which cost ~30 ns a line up to 64.
//! (Above 64 lines the loads' figure dropped on that machine; that is measured, not explained.)
//! The stores' figure sits at the timer's resolution (a VM's TSC may step in tens of ns), so
//! `run` prints each figure net of the timer and the ratio with it, understated.
//!
//! ## 2. The datapath lesson: the register vs the DD flag ([`broken`] / [`fixed`])
//! A NIC thread completes descriptors into the [descriptor ring's queue](crate::nic::descriptor_ring::queue)
//! — the value and its DD flag in one slot, the ring reused as it is — and after each one writes
//! its HEAD register ([`Register`]: a count on its own cache line), as a NIC updates RDH. A
//! driver thread takes the descriptors in order:
//! - **broken** (the slow way the lesson warns about, not a correctness bug): before each
//!   descriptor it reads the register until the count covers it, then takes the descriptor.
//! - **fixed**: it polls the DD flag of its next descriptor (`pop`), never the register.
//!
//! `diff src/nic/mmio/broken.rs src/nic/mmio/fixed.rs` is that one line. Both are correct (the
//! register is stored with Release after the descriptor's Release DD flag, and read with Acquire,
//! so a count that covers a descriptor guarantees its DD is visible); only the cost differs.
//!
//! **Cross-core transfers per item, inferred** (no hardware counters here, so they are inferred
//! from what each thread observed, as lower bounds):
//! - *the register line*: each register read that returns a count different from the previous
//!   read saw a store the NIC made since — the driver's copy had been invalidated by it, so that
//!   read fetched the line from the NIC's core (1 transfer), and the NIC's next store has to take
//!   it back (1 more: invalidating the driver's copy). So ≥ 2 per *new count seen*. The fixed
//!   driver never reads it: the line stays in the NIC's cache, 0.
//! - *the slot lines* (the same in both): a slot is a flag and a `u64`, 16 bytes, four to a 64-byte
//!   line (the queue's doc). Each line goes to the driver (it reads and clears the flag) and back
//!   to the NIC (its next write) at least once per lap: ≥ 2 per 4 items. Each *wait* (the driver
//!   polled a slot before the NIC filled it) is the line going to the NIC for its write and back
//!   to the driver again: ≥ 2 per wait. The bound is 2 × max(lines, waits) / items.
//!
//! ## Who sees it
//! No checker: it is a cost, not a race (`BugClass::Performance`); loom and shuttle explore
//! interleavings and count no nanoseconds. Only real cores show it, and x86's TSO is irrelevant
//! here (nothing is reordered, something is waited for).
//!
//! ## Real drivers
//! Linux's ixgbe and i40e learn of RX completions from the descriptor's write-back (`ixgbe_test_staterr`
//! on the DD bit in `ixgbe_clean_rx_irq`) and of TX completions from the descriptor (or a
//! head-write-back word in host memory), and write the tail register (`writel`) as the doorbell;
//! the 82599 datasheet offers TX head write-back precisely so drivers need not read TDH. The
//! register-read cost was measured with `mmio_test` (R. Olsson, L. Buytenhek, H. Welte, 2005): an
//! e1000 register read took ~1,700–2,100 CPU cycles, against ~370 for an L2 miss to memory.
//!
//! Sources: the seed animation ("5 writes finish ~6× sooner than 5 reads"); PCIe Base
//! Specification (posted vs non-posted transactions); R. Neugebauer et al., "Understanding PCIe
//! performance for end host networking", SIGCOMM 2018; `mmio_test` (github.com/herjulf/mmio_test);
//! Intel 82599 datasheet (TDWBAL head write-back).

pub mod broken;
pub mod burst;
pub mod demo;
pub mod fixed;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_utils::CachePadded;

use crate::hw::{run_threads, spin_until, Parallelism, Pin};
use crate::nic::descriptor_ring::queue::real::fixed::{self as queue, Producer};
use crate::Variant;

/// The seed's figure: 5 posted writes finish ~6× sooner than 5 non-posted reads (cited).
pub const SEED_RATIO: f64 = 6.0;

/// Slots of the descriptor queue per 64-byte line for `u64` items: flag + value = 16 bytes (the
/// queue's doc).
pub const SLOTS_PER_LINE: u64 = 4;

/// Why the broken driver's `pop` cannot fail.
const COUNTED: &str = "mmio: the register counted a descriptor whose DD flag was not set";

/// The NIC's HEAD register: how many descriptors it has completed, on its own cache line. The
/// NIC writes it after each one; the broken driver reads it (the "MMIO read").
#[derive(Debug, Default)]
pub struct Register(CachePadded<AtomicU64>);

impl Register {
    /// The NIC's store: `count` descriptors are done.
    pub fn write(&self, count: u64) {
        // ORDERING: Release [head-register] — the descriptor's DD flag (set before) happens-before the driver's Acquire read that sees this count.
        self.0.store(count, Ordering::Release);
    }

    /// The driver's read, counted in `stats`.
    pub fn read(&self, stats: &mut PollStats) -> u64 {
        // ORDERING: Acquire [head-register] — pairs with the NIC's Release store: the DD flags it counts are visible.
        let count = self.0.load(Ordering::Acquire);
        stats.register_reads += 1;
        if count != stats.last_count {
            stats.new_counts += 1;
            stats.last_count = count;
        }
        count
    }
}

/// What the driver observed while waiting for work.
#[derive(Clone, Debug, Default)]
pub struct PollStats {
    /// Register reads.
    pub register_reads: u64,
    /// Register reads that returned a count the previous read had not (each fetched the line).
    pub new_counts: u64,
    /// The count the last read returned.
    last_count: u64,
    /// Polls (of the register or of the DD flag) that found no new work.
    pub empty_polls: u64,
    /// Items for which the first poll found no work.
    pub waits: u64,
}

impl PollStats {
    /// One item taken after `polls` polls.
    fn item(&mut self, polls: u64) {
        self.empty_polls += polls - 1;
        self.waits += u64::from(polls > 1);
    }
}

/// The NIC: completes descriptors `0..n` into the queue, writing the register after each.
/// Returns how often it found the ring full.
pub fn produce(tx: &mut Producer<u64>, register: &Register, n: u64) -> u64 {
    let mut full = 0;
    for i in 0..n {
        spin_until(|| {
            let pushed = tx.push(i).is_ok();
            full += u64::from(!pushed);
            pushed
        });
        register.write(i + 1);
    }
    full
}

/// One run of the register-vs-DD comparison.
#[derive(Clone, Debug)]
pub struct PollRun {
    /// Which driver: broken reads the register, fixed polls DD.
    pub variant: Variant,
    /// Descriptors completed and taken.
    pub items: u64,
    /// Descriptors in the ring.
    pub descriptors: usize,
    /// What the driver observed.
    pub stats: PollStats,
    /// Times the NIC found the ring full.
    pub ring_full: u64,
    /// The two threads' overlap; `wall` is the run's time.
    pub parallelism: Parallelism,
}

impl PollRun {
    /// Nanoseconds per descriptor (wall time / descriptors).
    pub fn ns_per_item(&self) -> f64 {
        self.parallelism.wall.as_nanos() as f64 / self.items.max(1) as f64
    }

    /// Descriptors per second.
    pub fn items_per_sec(&self) -> f64 {
        1e9 / self.ns_per_item()
    }

    /// Per item: `x / items`.
    pub fn per_item(&self, x: u64) -> f64 {
        x as f64 / self.items.max(1) as f64
    }

    /// Inferred cross-core transfers of the register line per item (≥, see the module doc).
    pub fn register_transfers(&self) -> f64 {
        self.per_item(2 * self.stats.new_counts)
    }

    /// Inferred cross-core transfers of the slot lines per item (≥, see the module doc).
    pub fn slot_transfers(&self) -> f64 {
        let lines = self.items.div_ceil(SLOTS_PER_LINE);
        self.per_item(2 * lines.max(self.stats.waits))
    }
}

/// Runs `items` descriptors through a ring of `descriptors` slots: the NIC on thread 0, the
/// `variant` driver on thread 1.
///
/// # Panics
/// If `descriptors` is not a valid queue capacity, or a descriptor arrives out of order.
pub fn run_poll(variant: Variant, items: u64, descriptors: usize, pin: Pin) -> PollRun {
    let (tx, rx) = queue::channel::<u64>(descriptors);
    let register = Register::default();
    let halves = Mutex::new((Some(tx), Some(rx)));
    let (results, parallelism) = run_threads(2, pin, |role| {
        let mut halves = halves.lock().unwrap_or_else(|e| e.into_inner());
        if role == 0 {
            let mut tx = halves.0.take().expect("one NIC");
            drop(halves);
            (produce(&mut tx, &register, items), PollStats::default())
        } else {
            let mut rx = halves.1.take().expect("one driver");
            drop(halves);
            let stats = match variant {
                Variant::Broken => broken::consume(&mut rx, &register, items),
                Variant::Fixed => fixed::consume(&mut rx, &register, items),
            };
            (0, stats)
        }
    });
    let mut results = results.into_iter();
    let (ring_full, _) = results.next().unwrap_or_default();
    let (_, stats) = results.next().unwrap_or_default();
    PollRun {
        variant,
        items,
        descriptors,
        stats,
        ring_full,
        parallelism,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> u64 {
        if cfg!(miri) {
            50
        } else {
            20_000
        }
    }

    #[test]
    fn the_register_driver_takes_every_descriptor_in_order_and_reads_the_register() {
        let r = run_poll(Variant::Broken, items(), 8, Pin::None);
        assert!(r.stats.register_reads >= items(), "a read before every descriptor");
        assert!(r.stats.new_counts >= 1 && r.stats.new_counts <= r.stats.register_reads);
        assert!(r.register_transfers() > 0.0);
    }

    #[test]
    fn the_dd_driver_takes_every_descriptor_in_order_and_never_reads_the_register() {
        let r = run_poll(Variant::Fixed, items(), 8, Pin::None);
        assert_eq!((r.stats.register_reads, r.register_transfers()), (0, 0.0));
        assert!(r.slot_transfers() >= 0.5, "at least 2 transfers per line of 4 slots");
    }

    /// Both drivers against the NIC on plain scoped threads (no pinning, no CPU clocks: Miri runs it).
    #[test]
    fn both_drivers_take_every_descriptor_in_order_on_two_threads() {
        let n = if cfg!(miri) { 30 } else { 20_000 };
        for variant in [Variant::Broken, Variant::Fixed] {
            let (mut tx, mut rx) = queue::channel::<u64>(4);
            let register = Register::default();
            let stats = std::thread::scope(|s| {
                s.spawn(|| produce(&mut tx, &register, n));
                match variant {
                    Variant::Broken => broken::consume(&mut rx, &register, n),
                    Variant::Fixed => fixed::consume(&mut rx, &register, n),
                }
            });
            let reads = if variant == Variant::Broken { n } else { 0 };
            assert!(stats.register_reads >= reads, "{variant:?}: {stats:?}");
        }
    }

    #[test]
    fn a_count_seen_again_is_not_a_new_count() {
        let (reg, mut stats) = (Register::default(), PollStats::default());
        reg.write(3);
        assert_eq!((reg.read(&mut stats), reg.read(&mut stats)), (3, 3));
        reg.write(4);
        reg.read(&mut stats);
        assert_eq!((stats.register_reads, stats.new_counts), (3, 2));
    }
}
