//! `lockfree-lab step rdma-qp`: post a WR, ring the doorbell, the device's DMA, the CQE, the reap —
//! played on one thread with the real queue pair, each step drawn from its state. The second lap
//! splits the driver's poll around the device's steps, where the broken variant goes wrong.

use crate::Variant;

use super::{
    cqe_is_ours, owner_bit, real, Completion, Config, CqeView, Dma, Region, SqFull, Status, WorkRequest, WqeView,
    CQE_OPCODE_INVALID, CQE_OPCODE_REQ, CQE_OPCODE_REQ_ERR,
};

/// One step of [`qp_replay`]: who acted, what happened, and the queue pair right after.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based step number.
    pub number: usize,
    /// `setup`, `driver`, `device` or `check`.
    pub actor: &'static str,
    /// What happened, in words.
    pub action: String,
    /// The send queue's entries.
    pub sq: String,
    /// The doorbell record and the device's SQ index.
    pub doorbell: String,
    /// The completion queue's entries, owner bits included.
    pub cq: String,
    /// The driver's indices and which owner bit its next completion expects.
    pub driver: String,
    /// The first words of the local and the peer's registered buffers.
    pub buffers: String,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:>2}. [{}] {}", self.number, self.actor, self.action)?;
        writeln!(f, "    SQ        {}", self.sq)?;
        writeln!(f, "    doorbell  {}", self.doorbell)?;
        writeln!(f, "    CQ        {}", self.cq)?;
        writeln!(f, "    driver    {}", self.driver)?;
        write!(f, "    buffers   {}", self.buffers)
    }
}

/// The queue pair's calls the replay makes, for both real variants.
trait Qp {
    type Driver;
    type Device;
    type Peek: Copy;
    fn make(config: &Config) -> (Self::Driver, Self::Device);
    fn region(d: &Self::Driver, i: usize) -> Region;
    fn write_memory(d: &Self::Driver, addr: u64, words: &[u64]);
    fn read_memory(d: &Self::Driver, addr: u64, out: &mut [u64]);
    fn write_wqe(d: &mut Self::Driver, wr: &WorkRequest) -> Result<(), SqFull>;
    fn ring_doorbell(d: &mut Self::Driver);
    fn poll_read(d: &Self::Driver) -> Self::Peek;
    fn read_body_early(p: &Self::Peek) -> bool;
    fn poll_check(d: &mut Self::Driver, peek: Self::Peek) -> Option<Completion>;
    fn views(d: &Self::Driver) -> (Vec<WqeView>, u32, Vec<CqeView>);
    fn indices(d: &Self::Driver) -> (u32, u32, u32);
    fn dma_next(v: &mut Self::Device) -> Option<Dma>;
    fn write_cqe(v: &mut Self::Device, dma: &Dma);
    fn device_indices(v: &Self::Device) -> (u32, u32);
}

macro_rules! impl_qp {
    ($ty:ident, $m:ident) => {
        struct $ty;
        impl Qp for $ty {
            type Driver = real::$m::Driver;
            type Device = real::$m::Device;
            type Peek = real::$m::Peek;
            fn make(config: &Config) -> (Self::Driver, Self::Device) {
                real::$m::queue_pair(config)
            }
            fn region(d: &Self::Driver, i: usize) -> Region {
                d.region(i)
            }
            fn write_memory(d: &Self::Driver, addr: u64, words: &[u64]) {
                d.write_memory(addr, words)
            }
            fn read_memory(d: &Self::Driver, addr: u64, out: &mut [u64]) {
                d.read_memory(addr, out)
            }
            fn write_wqe(d: &mut Self::Driver, wr: &WorkRequest) -> Result<(), SqFull> {
                d.write_wqe(wr)
            }
            fn ring_doorbell(d: &mut Self::Driver) {
                d.ring_doorbell()
            }
            fn poll_read(d: &Self::Driver) -> Self::Peek {
                d.poll_read()
            }
            fn read_body_early(p: &Self::Peek) -> bool {
                p.read_body_early()
            }
            fn poll_check(d: &mut Self::Driver, peek: Self::Peek) -> Option<Completion> {
                d.poll_check(peek)
            }
            fn views(d: &Self::Driver) -> (Vec<WqeView>, u32, Vec<CqeView>) {
                d.views()
            }
            fn indices(d: &Self::Driver) -> (u32, u32, u32) {
                d.indices()
            }
            fn dma_next(v: &mut Self::Device) -> Option<Dma> {
                v.dma_next()
            }
            fn write_cqe(v: &mut Self::Device, dma: &Dma) {
                v.write_cqe(dma)
            }
            fn device_indices(v: &Self::Device) -> (u32, u32) {
                v.indices()
            }
        }
    };
}
impl_qp!(Fixed, fixed);
impl_qp!(Broken, broken);

/// Plays the queue pair's life on one thread, deterministically: register two 64-byte regions,
/// post WR 0, ring the doorbell, the device's DMA and CQE, the reap; then lap 1 of the one-entry
/// CQ with the driver's poll split around the device (the broken driver reads the body first and
/// takes last lap's CQE); then a WR outside the peer's region (an error CQE, no memory touched).
pub fn qp_replay(variant: Variant) -> Vec<ReplayStep> {
    match variant {
        Variant::Broken => replay::<Broken>(),
        Variant::Fixed => replay::<Fixed>(),
    }
}

/// Bytes per region in the replay.
const BYTES: u32 = 64;

/// CQ entries in the replay: one, so every completion starts a new lap.
const CQ_SIZE: u32 = 1;

fn replay<Q: Qp>() -> Vec<ReplayStep> {
    let (mut drv, mut dev) = Q::make(&Config::new(1, CQ_SIZE, &[(64, false), (64, true)]));
    let (src, dst) = (Q::region(&drv, 0), Q::region(&drv, 1));
    let mut steps = Vec::new();
    let mut step = |actor: &'static str, action: String, drv: &Q::Driver, dev: &Q::Device| {
        steps.push(describe::<Q>(steps.len() + 1, actor, action, drv, dev, &src, &dst));
    };
    step(
        "setup",
        format!(
            "register two {BYTES}-byte regions: local (lkey {:#x} at {:#x}) and the peer's (rkey {:#x} at {:#x}, remote \
             write). SQ and CQ have one entry; the CQE starts INVALID, owned by the device",
            src.key, src.addr, dst.key, dst.addr
        ),
        &drv,
        &dev,
    );

    // Lap 0: post, doorbell, DMA, CQE, reap.
    Q::write_memory(&drv, src.addr, &words(0xa0));
    let wr0 = WorkRequest::write(100, &src, src.addr, BYTES, &dst, dst.addr);
    Q::write_wqe(&mut drv, &wr0).expect("the SQ is empty");
    step(
        "driver",
        format!(
            "fills its buffer and writes WQE 0 (RDMA WRITE, wr_id 100, {BYTES} B → the peer's region) into SQ slot 0: \
             plain stores, no system call"
        ),
        &drv,
        &dev,
    );
    Q::ring_doorbell(&mut drv);
    step(
        "driver",
        "rings the doorbell: the doorbell record := 1 (a Release store: the WQE and payload travel with it)".into(),
        &drv,
        &dev,
    );
    let dma0 = Q::dma_next(&mut dev).expect("WQE 0 is posted");
    step("device", dma_words(&dma0), &drv, &dev);
    Q::write_cqe(&mut dev, &dma0);
    step(
        "device",
        format!(
            "writes CQE #0 into CQ slot 0: the body (WQE 0, {BYTES} B), then op_own with owner {} = lap 0's parity \
             (a Release store)",
            owner_bit(0, CQ_SIZE)
        ),
        &drv,
        &dev,
    );
    let peek = Q::poll_read(&drv);
    let c0 = Q::poll_check(&mut drv, peek);
    step("driver", reaped(0, c0, CQ_SIZE), &drv, &dev);

    // Lap 1: the poll split around the device.
    Q::write_memory(&drv, src.addr, &words(0xb0));
    let wr1 = WorkRequest::write(101, &src, src.addr, BYTES, &dst, dst.addr);
    Q::write_wqe(&mut drv, &wr1).expect("WQE 0 completed");
    Q::ring_doorbell(&mut drv);
    step(
        "driver",
        "refills its buffer, writes WQE 1 (wr_id 101) into SQ slot 0 and rings the doorbell (:= 2). CQE #1 will land \
         in CQ slot 0 again: lap 1, owner 1"
            .into(),
        &drv,
        &dev,
    );
    let peek = Q::poll_read(&drv);
    let (_, _, cq) = Q::views(&drv);
    let read_early = Q::read_body_early(&peek);
    step(
        "driver",
        if read_early {
            format!(
                "polls for CQE #1 — and reads slot 0's BODY FIRST: WQE {}, {} B. That is CQE #0's body, last lap's",
                cq[0].wqe_counter, cq[0].byte_cnt
            )
        } else {
            "polls for CQE #1: reads nothing of slot 0 yet (the owner byte comes first)".into()
        },
        &drv,
        &dev,
    );
    let dma1 = Q::dma_next(&mut dev).expect("WQE 1 is posted");
    step("device", dma_words(&dma1), &drv, &dev);
    Q::write_cqe(&mut dev, &dma1);
    step(
        "device",
        format!(
            "writes CQE #1 into slot 0: the body (WQE 1), then op_own with owner {} = lap 1's parity",
            owner_bit(1, CQ_SIZE)
        ),
        &drv,
        &dev,
    );
    let c1 = Q::poll_check(&mut drv, peek);
    let stale = c1.is_some_and(|c| c.wqe_counter != 1);
    step(
        "driver",
        match c1 {
            Some(c) if stale => format!(
                "loads op_own: owner 1 = lap 1's parity, so the CQE is ours — and completes with the body it read \
                 BEFORE: WQE {}, {} B. A STALE COMPLETION: last lap's CQE taken as new; WQE 1's own CQE is never \
                 reported",
                c.wqe_counter, c.byte_len
            ),
            other => reaped(1, other, CQ_SIZE),
        },
        &drv,
        &dev,
    );

    // Lap 2: outside the region: an error completion, no memory touched.
    let mut before = vec![0; BYTES as usize / 8];
    Q::read_memory(&drv, dst.addr, &mut before);
    let wr2 = WorkRequest::write(102, &src, src.addr, BYTES, &dst, dst.addr + 8);
    Q::write_wqe(&mut drv, &wr2).expect("WQE 1 completed");
    Q::ring_doorbell(&mut drv);
    step(
        "driver",
        format!(
            "posts WQE 2 (wr_id 102): {BYTES} B to {:#x}, 8 bytes past the start of the peer's {BYTES}-byte region — \
             its last word would land outside it",
            dst.addr + 8
        ),
        &drv,
        &dev,
    );
    let dma2 = Q::dma_next(&mut dev).expect("WQE 2 is posted");
    step("device", dma_words(&dma2), &drv, &dev);
    Q::write_cqe(&mut dev, &dma2);
    let peek = Q::poll_read(&drv);
    let c2 = Q::poll_check(&mut drv, peek);
    let mut after = vec![0; BYTES as usize / 8];
    Q::read_memory(&drv, dst.addr, &mut after);
    step(
        "device",
        format!(
            "writes CQE #2 (REQ_ERR, owner {}); the driver reaps it: {}",
            owner_bit(2, CQ_SIZE),
            c2.map_or("nothing".into(), |c| format!("{:?}, {} B", c.status, c.byte_len))
        ),
        &drv,
        &dev,
    );
    let verdict = if stale {
        "the broken driver reported WQE 0 twice and never WQE 1: read the body only after the owner bit says the CQE \
         is this lap's"
            .to_string()
    } else {
        "every completion named its own WQE, in order".to_string()
    };
    step(
        "check",
        format!(
            "{verdict}; the out-of-bounds WQE completed with {} and the peer's buffer is {}",
            c2.map_or("nothing".into(), |c| format!("{:?}", c.status)),
            if before == after { "unchanged" } else { "CHANGED" }
        ),
        &drv,
        &dev,
    );
    steps
}

/// A recognizable payload: `base`, `base + 1`, …
fn words(base: u64) -> Vec<u64> {
    (0..u64::from(BYTES) / 8).map(|k| base + k).collect()
}

fn dma_words(d: &Dma) -> String {
    match d.status {
        Status::Success => format!(
            "sees doorbell > its index, reads WQE {}, checks lkey {:#x} and rkey {:#x} against their regions' bounds, \
             and copies {} B straight from {:#x} into the peer's {:#x}: no kernel, no intermediate copy",
            d.wqe_counter, d.lkey, d.rkey, d.byte_len, d.addr, d.raddr
        ),
        s => format!(
            "reads WQE {}: rkey {:#x} at {:#x} + {BYTES} B leaves the peer's region: {s:?}. The copy is refused \
             and no word of memory is touched",
            d.wqe_counter, d.rkey, d.raddr
        ),
    }
}

fn reaped(n: u32, c: Option<Completion>, cq_size: u32) -> String {
    match c {
        Some(c) => format!(
            "polls: slot {}'s owner bit matches lap {}'s parity ({}), so CQE #{} is ours; then reads the body: WQE {}, \
             wr_id {}, {:?}, {} B",
            c.cq_index % cq_size,
            n / cq_size,
            owner_bit(n, cq_size),
            c.cq_index,
            c.wqe_counter,
            c.wr_id,
            c.status,
            c.byte_len
        ),
        None => "polls: the owner bit says the device has not written this CQE yet".into(),
    }
}

fn describe<Q: Qp>(
    number: usize,
    actor: &'static str,
    action: String,
    drv: &Q::Driver,
    dev: &Q::Device,
    src: &Region,
    dst: &Region,
) -> ReplayStep {
    let (sq, doorbell, cq) = Q::views(drv);
    let (sq_pi, sq_ci, cq_ci) = Q::indices(drv);
    let (dev_sq, dev_cq) = Q::device_indices(dev);
    let sq = sq
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if w.lkey == 0 {
                format!("[{i}] empty")
            } else {
                format!(
                    "[{i}] WQE {} RDMA_WRITE {} B lkey {:#x} @ {:#x} -> rkey {:#x} @ {:#x}",
                    w.ctrl >> 8,
                    w.byte_count,
                    w.lkey,
                    w.addr,
                    w.rkey,
                    w.raddr
                )
            }
        })
        .collect::<Vec<_>>()
        .join("  ");
    let cq_size = cq.len() as u32;
    let cq = cq
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let opcode = match c.op_own >> 4 {
                CQE_OPCODE_INVALID => "INVALID",
                CQE_OPCODE_REQ => "REQ",
                CQE_OPCODE_REQ_ERR => "REQ_ERR",
                _ => "?",
            };
            if c.op_own >> 4 == CQE_OPCODE_INVALID {
                format!("[{i}] {opcode} owner {}", c.op_own & 1)
            } else {
                format!(
                    "[{i}] {opcode} owner {} | body: WQE {}, {} B, syndrome {:#x}",
                    c.op_own & 1,
                    c.wqe_counter,
                    c.byte_cnt,
                    c.syndrome
                )
            }
        })
        .collect::<Vec<_>>()
        .join("  ");
    let (_, _, cqv) = Q::views(drv);
    let next_slot = (cq_ci % cq_size) as usize;
    let ready = cqe_is_ours(cqv[next_slot].op_own, cq_ci, cq_size);
    let mut local = [0u64; 2];
    let mut peer = [0u64; 2];
    Q::read_memory(drv, src.addr, &mut local);
    Q::read_memory(drv, dst.addr, &mut peer);
    ReplayStep {
        number,
        actor,
        action,
        sq,
        doorbell: format!("record = {doorbell} (WQEs posted)   device: executed {dev_sq}, CQEs written {dev_cq}"),
        cq,
        driver: format!(
            "posted {sq_pi}, completed {sq_ci}, next CQE #{cq_ci} in slot {next_slot} (lap {}, expects owner {}: {})",
            cq_ci / cq_size,
            owner_bit(cq_ci, cq_size),
            if ready { "ready" } else { "not yet" }
        ),
        buffers: format!(
            "local {:#x} = [{:#x}, {:#x}, …]   peer {:#x} = [{:#x}, {:#x}, …]",
            src.addr, local[0], local[1], dst.addr, peer[0], peer[1]
        ),
    }
}
