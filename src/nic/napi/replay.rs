//! The seed's animation, played on the real structures on one thread (`lockfree-lab step napi`):
//! a burst, one IRQ, the mask, budgeted polls, the completion and the re-arm — and, in the
//! broken variant, the packet that slips in before the re-arm and strands.

use super::{real, Device, Irq, Napi, Packet, Poll, Variant};

/// The seed's figures: a 16-slot ring, a budget of 4, a burst of 6.
pub const SLOTS: usize = 16;
/// Packets per poll.
pub const BUDGET: usize = 4;
/// The burst.
pub const BURST: Packet = 6;

/// One step of [`napi_replay`]: who acted, what happened, and the state right after it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based.
    pub number: usize,
    /// `NIC`, `IRQ`, `poll`, `check`.
    pub actor: &'static str,
    /// What happened, in words.
    pub action: String,
    /// Packets in the RX ring.
    pub occupancy: usize,
    /// Ring slots.
    pub slots: usize,
    /// The interrupt line: armed (unmasked) or masked.
    pub armed: bool,
    /// A poll is scheduled.
    pub poll_pending: bool,
    /// Packets the latest poll drained.
    pub drained: usize,
    /// Polls so far.
    pub polls: u64,
    /// Hard IRQs taken so far.
    pub hard_irqs: u64,
    /// IRQs a one-IRQ-per-packet driver would have taken: one per packet posted.
    pub per_packet_irqs: u64,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:>2}. [{}] {}", self.number, self.actor, self.action)?;
        write!(
            f,
            "    RX ring {}/{} · line {} · {} · drained this poll {} · polls {} · hard IRQs (NAPI) {} · IRQs if \
             1-per-packet {}",
            self.occupancy,
            self.slots,
            if self.armed { "ARMED" } else { "MASKED" },
            if self.poll_pending {
                "poll pending"
            } else {
                "no poll pending"
            },
            self.drained,
            self.polls,
            self.hard_irqs,
            self.per_packet_irqs
        )
    }
}

/// Plays the burst on the `variant` driver: 6 packets, one IRQ, polls of 4; while the last poll
/// delivers its last packet the NIC posts one more (the line is masked: no IRQ). The broken poll
/// re-arms and leaves it stranded until an eighth packet raises an IRQ; the fixed poll's
/// re-check finds it at once.
pub fn napi_replay(variant: Variant) -> Vec<ReplayStep> {
    let ring = crate::spsc::real::fixed::channel::<Packet>(SLOTS);
    match variant {
        Variant::Broken => play(real::broken::new(ring, BUDGET)),
        Variant::Fixed => play(real::fixed::new(ring, BUDGET)),
    }
}

/// The counters the steps show.
#[derive(Default)]
struct Tally {
    drained: usize,
    polls: u64,
    hard_irqs: u64,
    posted: u64,
}

fn snapshot<N: Device>(
    steps: &mut Vec<ReplayStep>,
    actor: &'static str,
    action: String,
    nic: &N,
    poll_pending: bool,
    t: &Tally,
) {
    steps.push(ReplayStep {
        number: steps.len() + 1,
        actor,
        action,
        occupancy: nic.occupancy(),
        slots: nic.slots(),
        armed: nic.is_armed(),
        poll_pending,
        drained: t.drained,
        polls: t.polls,
        hard_irqs: t.hard_irqs,
        per_packet_irqs: t.posted,
    });
}

fn play<N: Device, D: Napi>((mut nic, mut driver): (N, D)) -> Vec<ReplayStep> {
    let mut steps = Vec::new();
    let mut t = Tally::default();
    snapshot(
        &mut steps,
        "setup",
        format!("idle: an empty {SLOTS}-slot RX ring, the line armed, a budget of {BUDGET} packets per poll"),
        &nic,
        false,
        &t,
    );

    let mut irqs = Vec::new();
    for p in 1..=BURST {
        irqs.push(nic.receive(p).expect("16 slots hold the burst"));
        t.posted += 1;
    }
    let raised = irqs.iter().filter(|&&i| i == Irq::Raised).count();
    let merged = irqs.iter().filter(|&&i| i == Irq::Coalesced).count();
    snapshot(
        &mut steps,
        "NIC",
        format!(
            "burst of {BURST} packets into the ring: packet 1 finds the line armed and raises the IRQ ({raised} raised); \
             packets 2-{BURST} find it already pending and merge into it ({merged} merged)"
        ),
        &nic,
        false,
        &t,
    );

    assert!(driver.take_irq(), "the burst raised an IRQ");
    t.hard_irqs += 1;
    snapshot(
        &mut steps,
        "IRQ",
        "the CPU takes the hard IRQ: the handler masks the line (no more IRQs) and schedules the poll \
         (napi_schedule)"
            .into(),
        &nic,
        driver.is_scheduled(),
        &t,
    );

    // Poll until complete; the poll that drains the ring finds it empty, and right then, before
    // that poll completes and re-arms, the NIC posts packet 7.
    let late: Packet = BURST + 1;
    let mut slipped = false;
    let mut stranded = false;
    while driver.is_scheduled() {
        t.polls += 1;
        let polls = t.polls;
        let before = nic.occupancy();
        let slip = !slipped && before < BUDGET;
        let mut delivered = 0;
        let result = driver.poll(|_| {
            delivered += 1;
            if slip && delivered == before {
                t.drained = delivered;
                snapshot(
                    &mut steps,
                    "poll",
                    format!(
                        "poll #{polls}: drains {delivered} packets, fewer than the budget: the ring is empty, so this \
                         poll is about to complete"
                    ),
                    &nic,
                    true,
                    &t,
                );
                let irq = nic.receive(late).expect("room for one more");
                t.posted += 1;
                snapshot(
                    &mut steps,
                    "NIC",
                    format!(
                        "packet {late} arrives now, after the poll's last look at the ring and before its re-arm: the \
                         line is masked, so no IRQ ({irq:?})"
                    ),
                    &nic,
                    true,
                    &t,
                );
            }
        });
        slipped |= slip;
        t.drained = result.work();
        if !slip {
            let what = match result {
                Poll::Again { work } => format!(
                    "poll #{polls}: drains {work} packets, its whole budget: still scheduled, the softirq polls again"
                ),
                Poll::Complete { work } | Poll::Rechecked { work } => format!(
                    "poll #{polls}: drains {work} packet{}, fewer than the budget",
                    if work == 1 { "" } else { "s" }
                ),
            };
            snapshot(&mut steps, "poll", what, &nic, true, &t);
        }
        match result {
            Poll::Again { .. } => {}
            Poll::Complete { .. } => {
                stranded = nic.occupancy() > 0;
                snapshot(
                    &mut steps,
                    "poll",
                    if stranded {
                        format!(
                            "complete (napi_complete_done) and re-arm the line — and stop, without looking at the ring \
                             again: packet {late} is STRANDED (in the ring, line armed, no IRQ pending, no poll)"
                        )
                    } else {
                        "complete (napi_complete_done), re-arm the line, fence, re-check the ring: empty; idle until \
                         the next IRQ"
                            .into()
                    },
                    &nic,
                    driver.is_scheduled(),
                    &t,
                );
            }
            Poll::Rechecked { .. } => snapshot(
                &mut steps,
                "poll",
                format!(
                    "complete and re-arm the line, fence, then re-check the ring: packet {late} is there, so mask \
                     again and reschedule the poll (no IRQ needed)"
                ),
                &nic,
                driver.is_scheduled(),
                &t,
            ),
        }
    }

    if stranded {
        // Only the next packet's IRQ ends the stranding.
        let next = late + 1;
        let irq = nic.receive(next).expect("room");
        t.posted += 1;
        snapshot(
            &mut steps,
            "NIC",
            format!("much later, packet {next} arrives: the line is armed, so it raises an IRQ ({irq:?})"),
            &nic,
            false,
            &t,
        );
        assert!(driver.take_irq(), "packet {next} raised an IRQ");
        t.hard_irqs += 1;
        let result = driver.poll(|_| {});
        t.polls += 1;
        t.drained = result.work();
        snapshot(
            &mut steps,
            "poll",
            format!(
                "IRQ, mask, poll #{}: drains {} packets — packet {late} waited for packet {next}'s interrupt; had none \
                 come, it would wait forever",
                t.polls,
                result.work()
            ),
            &nic,
            driver.is_scheduled(),
            &t,
        );
    }

    snapshot(
        &mut steps,
        "check",
        format!(
            "{} packets, {} hard IRQ{}, {} polls ({:.1} packets per poll); one IRQ per packet would have taken {}{}",
            t.posted,
            t.hard_irqs,
            if t.hard_irqs == 1 { "" } else { "s" },
            t.polls,
            t.posted as f64 / t.polls as f64,
            t.posted,
            if stranded {
                format!("; packet {late} was stranded until packet {} came", late + 1)
            } else {
                "; nothing stranded".into()
            }
        ),
        &nic,
        driver.is_scheduled(),
        &t,
    );
    steps
}
