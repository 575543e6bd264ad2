//! # NAPI: one interrupt, a budgeted poll, and the re-check after re-arming
//!
//! A NIC writes received packets into an RX ring and raises an interrupt; a driver that took one
//! interrupt per packet would drown in them under load (an "interrupt storm"). Linux's NAPI
//! takes **one** interrupt, masks the line, and then *polls* the ring from softirq context in
//! batches of at most `budget` packets, rescheduling itself while packets remain. Only when a
//! poll finds the ring drained does it *complete*, unmask (re-arm) the interrupt and go back to
//! waiting. The lesson: **after re-arming, look at the ring once more.** A packet the NIC posted
//! while the line was masked raised no interrupt, and nothing else will ever announce it.
//!
//! The device here is real code on a real core standing in for a NIC that is not reachable from
//! the lab: the NIC thread posts packets into the lab's SPSC ring ([`crate::spsc`], its `fixed`
//! variant on every backend) and "raises an IRQ" by setting a pending latch and, on real cores,
//! writing an eventfd the driver's thread sleeps on (the analogue of the interrupt → handler path).
//!
//! ```
//! use lockfree_lab::nic::napi::{real::fixed, Irq, Poll};
//! let (mut nic, mut driver) = fixed::new(lockfree_lab::spsc::real::fixed::channel(16), 4);
//! assert_eq!(nic.receive(1), Ok(Irq::Raised)); // the line is armed: an IRQ
//! for p in 2..=6 {
//!     assert_eq!(nic.receive(p), Ok(Irq::Coalesced)); // already pending: merged into it
//! }
//! assert!(driver.take_irq()); // the hard IRQ: mask the line, schedule the poll
//! assert_eq!(nic.receive(7), Ok(Irq::Masked)); // masked: no IRQ
//! let mut got = Vec::new();
//! assert_eq!(driver.poll(|p| got.push(p)), Poll::Again { work: 4 }); // the whole budget
//! assert_eq!(driver.poll(|p| got.push(p)), Poll::Complete { work: 3 }); // drained: re-armed
//! assert_eq!(got, [1, 2, 3, 4, 5, 6, 7]);
//! assert_eq!(nic.receive(8), Ok(Irq::Raised));
//! ```
//!
//! ## The protocol (`fixed.rs`)
//!
//! | role       | step                                                                                    |
//! |------------|-----------------------------------------------------------------------------------------|
//! | NIC        | post the packet into the ring (the ring's Release tail store), `fence(SeqCst)`, then: line armed? raise (set `pending`; the first raise wakes the CPU) : stay quiet |
//! | hard IRQ   | take `pending`; **mask** the line (`armed = false`) and schedule the poll (`napi_schedule`) |
//! | poll       | drain at most `budget` packets; all `budget` used → stay scheduled (polled again)        |
//! | complete   | fewer than `budget` → unschedule, **re-arm** (`armed = true`), `fence(SeqCst)`, **re-check**: ring not empty → mask and schedule again |
//!
//! ## Synchronization edges
//!
//! | edge              | one side                                               | other side                                         | guarantees |
//! |-------------------|--------------------------------------------------------|----------------------------------------------------|------------|
//! | `[tail-publish]`  | NIC: the ring's Release tail store                     | driver: the ring's Acquire tail load               | a polled packet is the one the NIC wrote (the SPSC ring's own edge) |
//! | `[rearm-recheck]` | NIC: tail store; `fence(SeqCst)`; load `armed`         | driver: store `armed = true`; `fence(SeqCst)`; load tail (the re-check) | at least one side sees the other's store: the NIC sees the line armed and raises, or the re-check sees the packet |
//! | `[irq-latch]`     | NIC: `fence(SeqCst)` (also a release fence), then `pending.swap(true)` | driver: `pending.swap(false, Acquire)`, the hard IRQ | each raise is taken once, and the poll after it sees the packets posted before it (as PCIe orders an MSI after the packet's DMA writes) |
//!
//! `[rearm-recheck]` is the store-buffering (Dekker) shape: each side stores, then loads what the
//! other stores. Release/Acquire cannot order a store before a later load; only `SeqCst` fences
//! on both sides (or RMWs) can. They are fences, not SeqCst loads and stores, so that loom checks
//! them exactly (loom models SeqCst loads and stores as Acquire/Release, loom issue #180, and
//! would report the correct program as broken).
//!
//! ## The broken variant (`diff src/nic/napi/broken.rs src/nic/napi/fixed.rs`)
//!
//! It re-arms and stops: no fence, no re-check. Two packets are enough:
//! 1. the NIC posts packet 1; the line is armed: it raises an IRQ;
//! 2. the driver takes the IRQ, masks the line, schedules a poll;
//! 3. the poll drains packet 1: one packet, under the budget, so the ring looks drained;
//! 4. the NIC posts packet 2 and loads `armed` → false (masked): **no IRQ**;
//! 5. the poll completes and re-arms the line — and does not look at the ring again;
//! 6. packet 2 sits in the ring with the line armed and no poll scheduled. It waits for the next
//!    packet's interrupt; if none comes, forever.
//!
//! The fixed poll's re-check at step 5 sees packet 2 and polls again. Dropping only the fences
//! (re-check kept) fails too: the driver's re-check can read the ring's old tail while the NIC's
//! `armed` load reads the old "masked", each side's store still in its store buffer.
//!
//! ## Who sees it
//!
//! | checker          | verdict                                                                   |
//! |------------------|---------------------------------------------------------------------------|
//! | loom             | found (`cargo test --test model napi::loom_broken`): packet 2 stranded. Its first counterexample is often the store-buffering flavour: without the driver's fence the NIC's `armed` load may read the old "masked" even after the re-arm (the trace marks it stale) |
//! | shuttle (random, PCT) | found: a missing re-check is an interleaving bug, and its counterexample is the textbook one above (shuttle runs every atomic as SeqCst, so it could not see a missing *fence*; `scripts/mutate-orderings napi` shows loom does) |
//! | real x86-64      | found: in bursts the NIC's post lands inside the few-nanosecond window between the poll's last ring read and the re-arm (`run napi` counts each stranding; a bounded wait, a watchdog poll after 2 ms, rescues a packet no later packet would) |
//!
//! A fixed variant without its fences would also fail on x86: store buffering is the one
//! reordering TSO allows (`CHECKERS.md` measured ~1–2 % both-zero outcomes on these VMs).
//!
//! The hard IRQ's take is `Acquire`, and the NIC's fence before its raise is also a release
//! fence: the poll that follows an IRQ sees the packets posted before it, as PCIe orders an MSI
//! after the packet's DMA writes (`irq_finds_its_packet`; a Relaxed take fails it under loom).
//!
//! ## On real cores
//!
//! `run napi` measures two threads: the NIC posts a steady trickle (one packet every 20 µs) and
//! bursts (`--burst` back to back, then 200 µs); an IRQ is an eventfd in semaphore mode (the
//! NIC's `write` raises it, the driver's `read` takes it: a kernel entry on each side, plus a
//! sleep and a wakeup when the driver was idle). Against it runs a driver without NAPI that takes
//! one IRQ per packet. Counted: hard IRQs, polls, packets per poll, strandings; measured: wall
//! time and the driver's CPU time per packet. What an interrupt costs on real hardware (entry,
//! exit, the softirq) is not measured here: the eventfd is its analogue.

//! ## What the real drivers do
//! - Linux `napi_complete_done()` (net/core/dev.c) returns false when a schedule arrived during
//!   the poll (`NAPIF_STATE_MISSED`) and polls again; the NAPI documentation
//!   (Documentation/networking/napi.rst) tells drivers to unmask the device's IRQ only after
//!   `napi_complete_done()` returned true.
//! - virtio-net: the interrupt callback `skb_recv_done` disables callbacks
//!   (`virtqueue_disable_cb`, the mask) and schedules NAPI; `virtnet_poll` completes through
//!   `virtqueue_napi_complete`, which re-enables callbacks (`virtqueue_enable_cb_prepare`) and,
//!   if `virtqueue_poll` (a full barrier, then the used index) finds new buffers, schedules the
//!   poll again: re-arm, fence, re-check — this module's fixed poll.
//! - `net.core.dev_weight` (64) is Linux's default per-poll budget; `netdev_budget` (300) bounds
//!   a whole softirq round.
//!
//! `lockfree-lab run napi --burst 256 --budget 64` measures packets, hard IRQs, polls, packets per
//! poll and what one IRQ per packet would have cost; `lockfree-lab step napi` replays the seed's
//! animation from the real structures; `cargo test --test model napi::` runs the model tests.

use crate::spsc::Full;

pub mod cores;
pub mod demo;
pub mod replay;

backends! {
    /// The broken NAPI poll: re-arms without re-checking the ring.
    broken => "broken.rs",
    /// The fixed NAPI poll: re-arm, `fence(SeqCst)`, re-check.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom, shuttle and real threads.
    scenario => "scenario.rs",
}

/// A received packet: its sequence number, from 1 (0 never arrives).
pub type Packet = u64;

/// What the NIC did about the interrupt after posting a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// The line was armed and no IRQ was pending: the NIC raised one (the caller wakes the CPU).
    Raised,
    /// The line was armed but an IRQ was already pending: this one merged into it.
    Coalesced,
    /// The line was masked (a poll is scheduled or running): no IRQ.
    Masked,
}

/// What one call of the poll did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// It used its whole budget: still scheduled, the softirq polls again.
    Again {
        /// Packets delivered.
        work: usize,
    },
    /// It drained the ring, completed and re-armed the line.
    Complete {
        /// Packets delivered.
        work: usize,
    },
    /// It completed and re-armed, and the re-check found the ring not empty: masked and
    /// scheduled again (fixed only).
    Rechecked {
        /// Packets delivered.
        work: usize,
    },
}

impl Poll {
    /// Packets this poll delivered.
    pub fn work(self) -> usize {
        match self {
            Poll::Again { work } | Poll::Complete { work } | Poll::Rechecked { work } => work,
        }
    }
}

/// The NIC's end of the RX ring.
pub trait RxProducer: Send + 'static {
    /// Posts a packet (the descriptor write and the tail publish), or hands it back when full.
    fn post(&mut self, packet: Packet) -> Result<(), Full<Packet>>;
    /// Packets in the ring now.
    fn occupancy(&self) -> usize;
    /// Slots in the ring.
    fn slots(&self) -> usize;
}

/// The driver's end of the RX ring.
pub trait RxConsumer: Send + 'static {
    /// Delivers at most `max` packets to `deliver`, oldest first; returns how many.
    fn drain(&mut self, max: usize, deliver: impl FnMut(Packet)) -> usize;
    /// True when the ring holds no packet (the re-check).
    fn is_empty(&self) -> bool;
}

macro_rules! impl_rx_ring {
    ($($backend:ident),+) => {$(
        impl RxProducer for crate::spsc::$backend::fixed::Producer<Packet> {
            fn post(&mut self, packet: Packet) -> Result<(), Full<Packet>> {
                self.push(packet)
            }
            fn occupancy(&self) -> usize {
                self.len()
            }
            fn slots(&self) -> usize {
                self.capacity()
            }
        }
        impl RxConsumer for crate::spsc::$backend::fixed::Consumer<Packet> {
            fn drain(&mut self, max: usize, mut deliver: impl FnMut(Packet)) -> usize {
                // The packets ready when the poll starts, up to `max` (one tail load, as a driver
                // reads the device's index once per poll); then each is taken and handed back to
                // the NIC (its slot freed) one by one. A packet posted meanwhile waits for the
                // next poll, or for the re-check.
                let ready = self.pop_chunk(max).len();
                for _ in 0..ready {
                    deliver(self.pop().expect("counted as ready above, and only this consumer pops"));
                }
                ready
            }
            fn is_empty(&self) -> bool {
                crate::spsc::$backend::fixed::Consumer::is_empty(self)
            }
        }
    )+};
}
impl_rx_ring!(real, loom, shuttle);

/// What the scenarios and the real-core runs need of the NIC, on every backend and variant.
pub trait Device: Send + 'static {
    /// Posts `packet` and raises the interrupt if the line is armed.
    fn receive(&mut self, packet: Packet) -> Result<Irq, Full<Packet>>;
    /// Packets in the ring now.
    fn occupancy(&self) -> usize;
    /// Slots in the ring.
    fn slots(&self) -> usize;
    /// Whether the line is armed now (a snapshot).
    fn is_armed(&self) -> bool;
}

/// What the scenarios and the real-core runs need of the driver, on every backend and variant.
pub trait Napi: Send + 'static {
    /// The hard IRQ: takes a pending interrupt, masks the line and schedules the poll.
    fn take_irq(&mut self) -> bool;
    /// Schedules the poll without an IRQ (a watchdog), masking the line.
    fn schedule(&mut self);
    /// True while a poll is scheduled.
    fn is_scheduled(&self) -> bool;
    /// One poll: at most `budget` packets to `deliver`.
    fn poll(&mut self, deliver: impl FnMut(Packet)) -> Poll;
    /// Whether the line is armed now (a snapshot).
    fn is_armed(&self) -> bool;
    /// Whether an IRQ is pending now (a snapshot).
    fn is_pending(&self) -> bool;
}

macro_rules! impl_roles {
    ($($backend:ident::$variant:ident),+) => {$(
        impl<P: RxProducer> Device for $backend::$variant::Nic<P> {
            fn receive(&mut self, packet: Packet) -> Result<Irq, Full<Packet>> {
                $backend::$variant::Nic::receive(self, packet)
            }
            fn occupancy(&self) -> usize {
                $backend::$variant::Nic::occupancy(self)
            }
            fn slots(&self) -> usize {
                $backend::$variant::Nic::slots(self)
            }
            fn is_armed(&self) -> bool {
                $backend::$variant::Nic::line(self).is_armed()
            }
        }
        impl<C: RxConsumer> Napi for $backend::$variant::Driver<C> {
            fn take_irq(&mut self) -> bool {
                $backend::$variant::Driver::take_irq(self)
            }
            fn schedule(&mut self) {
                $backend::$variant::Driver::schedule(self)
            }
            fn is_scheduled(&self) -> bool {
                $backend::$variant::Driver::is_scheduled(self)
            }
            fn poll(&mut self, deliver: impl FnMut(Packet)) -> Poll {
                $backend::$variant::Driver::poll(self, deliver)
            }
            fn is_armed(&self) -> bool {
                $backend::$variant::Driver::line(self).is_armed()
            }
            fn is_pending(&self) -> bool {
                $backend::$variant::Driver::line(self).is_pending()
            }
        }
    )+};
}
impl_roles!(
    real::broken,
    real::fixed,
    loom::broken,
    loom::fixed,
    shuttle::broken,
    shuttle::fixed
);

/// Which variant a real-core run or a replay uses: the crate-wide switch.
pub use crate::Variant;
