//! The seed's animation, played on the real ring (`lockfree-lab step descriptor-ring`): post
//! buffers, ring the doorbell, the NIC's DMA, DD set, the driver's reap — TX, then RX. Both
//! sides run on one thread, step by step, and every picture is drawn from the ring's state.

use super::{flag_name, real, RingView, RxDeviceSide, RxDriverSide, TxDeviceSide, TxDriverSide, FREE};
use crate::Variant;

/// Descriptors in the replayed rings (the seed draws 8).
pub const REPLAY_DESCRIPTORS: usize = 8;

/// One step: who acted, what it did, and the ring right after.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based.
    pub number: usize,
    /// `setup`, `driver` or `NIC`.
    pub actor: &'static str,
    /// `TX` or `RX`.
    pub ring: &'static str,
    /// What happened.
    pub action: String,
    /// The ring after the step.
    pub view: RingView,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const W: usize = 6;
        writeln!(f, "{:>2}. [{}] {}", self.number, self.actor, self.action)?;
        let n = self.view.descs.len();
        let row = |cells: Vec<String>| cells.iter().map(|c| format!("{c:<W$}")).collect::<String>();
        let names = row((0..n).map(|i| format!("d{i}")).collect());
        let flags = row(self.view.descs.iter().map(|d| flag_name(d.flags).to_string()).collect());
        let bufs = row(self
            .view
            .descs
            .iter()
            .map(|d| {
                if d.flags == FREE {
                    "·".to_string()
                } else {
                    format!("b{}", d.buffer)
                }
            })
            .collect());
        let lens = row(self
            .view
            .descs
            .iter()
            .map(|d| {
                if d.flags == FREE || d.len == 0 {
                    "·".to_string()
                } else {
                    d.len.to_string()
                }
            })
            .collect());
        let marks = row((0..n)
            .map(|i| match (i == self.view.head, i == self.view.tail) {
                (true, true) => "H T".to_string(),
                (true, false) => "H".to_string(),
                (false, true) => "T".to_string(),
                _ => String::new(),
            })
            .collect());
        writeln!(f, "      {} ring   {}", self.ring, names.trim_end())?;
        writeln!(f, "      flags     {}", flags.trim_end())?;
        writeln!(f, "      buffer    {}", bufs.trim_end())?;
        writeln!(f, "      length    {}", lens.trim_end())?;
        writeln!(f, "                {}", marks.trim_end())?;
        write!(
            f,
            "      HEAD {} (NIC-owned: the next descriptor it takes) · TAIL {} (driver-owned: the last doorbell)",
            self.view.head, self.view.tail
        )
    }
}

/// Plays the steps on the ring module `$m`.
macro_rules! animate {
    ($m:path) => {{
        use $m as ring;
        let mut steps: Vec<ReplayStep> = Vec::new();
        let mut push = |actor: &'static str, which: &'static str, action: String, view: RingView| {
            let number = steps.len() + 1;
            steps.push(ReplayStep {
                number,
                actor,
                ring: which,
                action,
                view,
            });
        };
        let n = REPLAY_DESCRIPTORS;

        // ---- TX ----
        let (mut driver, mut nic) = ring::tx_ring(n);
        push(
            "setup",
            "TX",
            format!("TX ring initialized: {n} descriptors, all FREE; MMIO doorbell idle"),
            driver.view(nic.head()),
        );
        for seq in 1..=3 {
            assert!(driver.post(seq), "the replay's ring has room");
        }
        push(
            "driver",
            "TX",
            "posts packets #1-#3: writes each packet into a buffer, then fills d0-d2 (buffer, length) and sets OWN. \
             TAIL has not moved: the NIC cannot see them yet"
                .into(),
            driver.view(nic.head()),
        );
        driver.ring_doorbell();
        push(
            "driver",
            "TX",
            "rings the doorbell: TAIL <- 3, one MMIO write for the batch. Barrier first: the descriptor writes must be \
             visible before the doorbell (wmb(); here a Release store), or the NIC can DMA a half-written descriptor"
                .into(),
            driver.view(nic.head()),
        );
        let seen = nic.fetch().expect("the doorbell covers d0");
        push(
            "NIC",
            "TX",
            format!(
                "reads TAIL (3), then DMA-reads d{} (flags {}, buffer b{}, length {}) and packet #{} from its buffer, \
                 and puts it on the wire",
                seen.desc,
                flag_name(seen.flags),
                seen.buffer,
                seen.len,
                seen.header
            ),
            driver.view(nic.head()),
        );
        nic.complete();
        push(
            "NIC",
            "TX",
            "writes back d0's status, then sets DD (Release): done, awaiting reap. HEAD advances to 1".into(),
            driver.view(nic.head()),
        );
        while let Some(seen) = nic.fetch() {
            nic.complete();
            let _ = seen;
        }
        push(
            "NIC",
            "TX",
            "fetches and sends d1 and d2 the same way and sets their DD: HEAD reaches TAIL, nothing left for the NIC"
                .into(),
            driver.view(nic.head()),
        );
        let mut reaped = Vec::new();
        while let Some(done) = driver.reap() {
            reaped.push(format!("d{} (status #{})", done.desc, done.status));
        }
        push(
            "driver",
            "TX",
            format!(
                "reaps {}: it sees DD in host memory (an Acquire load; never a read of a NIC register), frees the \
                 buffers and clears the descriptors to FREE",
                reaped.join(", ")
            ),
            driver.view(nic.head()),
        );

        // ---- RX ----
        let (mut driver, mut nic) = ring::rx_ring(n);
        push(
            "setup",
            "RX",
            format!("RX ring initialized: {n} descriptors, all FREE, no buffer posted"),
            driver.view(nic.head()),
        );
        let mut posted = 0;
        while driver.post() {
            posted += 1;
        }
        push(
            "driver",
            "RX",
            format!(
                "posts {posted} empty buffers (d0-d{}): buffer, OWN. One descriptor stays free: TAIL == HEAD must \
                 mean \"nothing for the NIC\", never \"all of it\"",
                posted - 1
            ),
            driver.view(nic.head()),
        );
        driver.ring_doorbell();
        push(
            "driver",
            "RX",
            format!("rings the doorbell: TAIL <- {posted} (Release: the posts are visible first)"),
            driver.view(nic.head()),
        );
        let taken = nic.dma(1).expect("buffers are posted");
        push(
            "NIC",
            "RX",
            format!(
                "packet #1 arrives: the NIC takes d{} (flags {}) and DMAs the packet into buffer b{}",
                taken.desc,
                flag_name(taken.flags),
                taken.buffer
            ),
            driver.view(nic.head()),
        );
        nic.complete();
        push(
            "NIC",
            "RX",
            "writes back d0's length, then sets DD (Release): HEAD advances to 1".into(),
            driver.view(nic.head()),
        );
        for seq in 2..=3 {
            nic.dma(seq).expect("buffers are posted");
            nic.complete();
        }
        push(
            "NIC",
            "RX",
            "packets #2 and #3 land in d1 and d2 the same way".into(),
            driver.view(nic.head()),
        );
        let mut got = Vec::new();
        while let Some(r) = driver.reap() {
            got.push(format!("d{} (packet #{}, {} bytes)", r.desc, r.header, r.len));
        }
        push(
            "driver",
            "RX",
            format!(
                "reaps {}: DD first (an Acquire load, the dma_rmb()), then the length and the packet",
                got.join(", ")
            ),
            driver.view(nic.head()),
        );
        let mut reposted = 0;
        while driver.post() {
            reposted += 1;
        }
        driver.ring_doorbell();
        let view = driver.view(nic.head());
        let tail = view.tail;
        push(
            "driver",
            "RX",
            format!(
                "re-posts {reposted} descriptors with fresh buffers (the other half of each page: b{n}-) and rings the \
                 doorbell: TAIL wraps to {tail}"
            ),
            view,
        );
        steps
    }};
}

/// The animation on the `variant` ring (on one thread the two variants behave alike: their
/// difference is an ordering, which only a second core — or loom — can tell).
pub fn step_replay(variant: Variant) -> Vec<ReplayStep> {
    match variant {
        Variant::Fixed => animate!(real::fixed),
        Variant::Broken => animate!(real::broken),
    }
}
