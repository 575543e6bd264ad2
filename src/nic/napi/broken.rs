// BUG: the completing poll re-arms the interrupt and stops: it never looks at the ring again.
use super::sync::{fence, Arc, AtomicBool, Ordering};
use crate::nic::napi::{Full, Irq, Packet, Poll, RxConsumer, RxProducer};

/// The interrupt line between the NIC and the driver's CPU: its mask and its pending latch.
#[derive(Debug)]
pub struct IrqLine {
    /// True while the line is unmasked: the NIC raises an IRQ after a packet only then. Written
    /// by the driver's CPU (masked by the IRQ handler, re-armed by the completing poll), read by
    /// the NIC after every packet it posts.
    armed: AtomicBool,
    /// True from a raise until the CPU takes the IRQ (the interrupt controller's latch): set by
    /// the NIC, cleared by the CPU. Raises before the take merge into one interrupt.
    pending: AtomicBool,
}

impl IrqLine {
    /// Whether the line is armed now (a snapshot, for displays and the watchdog).
    pub fn is_armed(&self) -> bool {
        // ORDERING: Relaxed [snapshot] — a display value; no decision of the protocol rests on it.
        self.armed.load(Ordering::Relaxed)
    }

    /// Whether an IRQ is pending now (a snapshot, for displays and the watchdog).
    pub fn is_pending(&self) -> bool {
        // ORDERING: Relaxed [snapshot] — a display value; no decision of the protocol rests on it.
        self.pending.load(Ordering::Relaxed)
    }
}

/// Connects a NIC and a driver through `ring` (the NIC's and the driver's ends) and a fresh,
/// armed interrupt line; the driver polls at most `budget` packets per call.
///
/// # Panics
/// If `budget` is 0 (`napi: budget must be at least 1`).
pub fn new<P: RxProducer, C: RxConsumer>(ring: (P, C), budget: usize) -> (Nic<P>, Driver<C>) {
    assert!(budget >= 1, "napi: budget must be at least 1");
    let line = Arc::new(IrqLine {
        armed: AtomicBool::new(true),
        pending: AtomicBool::new(false),
    });
    let nic = Nic {
        ring: ring.0,
        line: Arc::clone(&line),
    };
    let driver = Driver {
        ring: ring.1,
        line,
        budget,
        scheduled: false,
    };
    (nic, driver)
}

/// The device: posts received packets into the RX ring and raises the interrupt.
#[derive(Debug)]
pub struct Nic<P> {
    ring: P,
    line: Arc<IrqLine>,
}

impl<P: RxProducer> Nic<P> {
    /// Posts `packet` into the RX ring, then raises the interrupt if the line is armed. Returns
    /// what it did about the interrupt ([`Irq::Raised`]: the caller wakes the CPU), or the packet
    /// in [`Full`] when the ring has no free descriptor.
    pub fn receive(&mut self, packet: Packet) -> Result<Irq, Full<Packet>> {
        self.ring.post(packet)?;
        // ORDERING: SeqCst fence [rearm-recheck] — orders the ring's tail store before the `armed` load below; with the driver's fence between its re-arm and its re-check, one of the two sides sees the other's store.
        fence(Ordering::SeqCst);
        // ORDERING: Relaxed [rearm-recheck] — the fence above orders it after the post; it publishes nothing.
        if !self.line.armed.load(Ordering::Relaxed) {
            return Ok(Irq::Masked);
        }
        // ORDERING: Relaxed [irq-latch] — the SeqCst fence above is also a release fence: the driver's Acquire take of this raise sees the post.
        if self.line.pending.swap(true, Ordering::Relaxed) {
            Ok(Irq::Coalesced)
        } else {
            Ok(Irq::Raised)
        }
    }

    /// Packets in the ring now.
    pub fn occupancy(&self) -> usize {
        self.ring.occupancy()
    }

    /// Slots in the ring.
    pub fn slots(&self) -> usize {
        self.ring.slots()
    }

    /// The interrupt line.
    pub fn line(&self) -> &IrqLine {
        &self.line
    }
}

/// The driver's CPU: the hard IRQ handler and the NAPI poll (softirq), on one thread.
#[derive(Debug)]
pub struct Driver<C> {
    ring: C,
    line: Arc<IrqLine>,
    /// At most this many packets per poll (Linux's NAPI weight; `dev_weight` defaults to 64).
    budget: usize,
    /// A poll is scheduled (`NAPI_STATE_SCHED`): only this thread reads or writes it.
    scheduled: bool,
}

impl<C: RxConsumer> Driver<C> {
    /// The hard IRQ: if one is pending, takes it, masks the line and schedules the poll.
    pub fn take_irq(&mut self) -> bool {
        // ORDERING: Acquire [irq-latch] — with the NIC's fence before its raise: the packets posted before the IRQ are visible to the poll (PCIe orders an MSI after the packet's DMA).
        let raised = self.line.pending.swap(false, Ordering::Acquire);
        if raised {
            self.schedule();
        }
        raised
    }

    /// `napi_schedule` with the IRQ handler's mask: no more interrupts until the poll completes.
    pub fn schedule(&mut self) {
        // ORDERING: Relaxed [irq-mask] — masking is advisory: a NIC that still sees the line armed raises one IRQ more, which the latch absorbs.
        self.line.armed.store(false, Ordering::Relaxed);
        self.scheduled = true;
    }

    /// True while a poll is scheduled.
    pub fn is_scheduled(&self) -> bool {
        self.scheduled
    }

    /// One poll: delivers at most `budget` packets to `deliver`. With the budget used up it
    /// stays scheduled; otherwise it completes and re-arms the line.
    ///
    /// # Panics
    /// If no poll is scheduled (`napi: poll without a scheduled poll`).
    pub fn poll(&mut self, deliver: impl FnMut(Packet)) -> Poll {
        assert!(self.scheduled, "napi: poll without a scheduled poll");
        let work = self.ring.drain(self.budget, deliver);
        if work == self.budget {
            return Poll::Again { work };
        }
        // `napi_complete_done`: the poll is no longer scheduled; unmask the line.
        self.scheduled = false;
        // BUG: re-arm and stop: a packet the NIC posted while the line was masked raised no IRQ,
        // BUG: and it waits in the ring for the next packet's IRQ (forever, if none comes).
        // ORDERING: Relaxed [rearm] — the unmask publishes nothing, and nothing looks at the ring after it.
        self.line.armed.store(true, Ordering::Relaxed);
        Poll::Complete { work }
    }

    /// The budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The interrupt line.
    pub fn line(&self) -> &IrqLine {
        &self.line
    }
}
