// BUG: the driver reads a CQE's body before the owner check, so a body left from the CQ's previous lap passes as new.
use super::sync::{Arc, AtomicU32, AtomicU64, Ordering};
use crate::nic::rdma_qp::{
    cqe_is_ours, op_own, owner_bit, CachePadded, Completion, Config, CqeView, Dma, ProtectionDomain, Region, SqFull,
    Status, WorkRequest, WqeView, CQE_OPCODE_INVALID, CQE_OPCODE_REQ, CQE_OPCODE_REQ_ERR, WQE_OPCODE_RDMA_WRITE,
};

/// One send-queue entry (a WQE), laid out as mlx5's segments: control, remote address, data.
/// Written by the driver before it rings the doorbell, read by the device after; every field is
/// an atomic so that even a broken protocol is a wrong value, never a data race.
struct Wqe {
    /// Control segment: `wqe_index << 8 | opcode` (mlx5's `opmod_idx_opcode`).
    ctrl: AtomicU32,
    /// Remote address segment: the peer's byte address.
    raddr: AtomicU64,
    /// Remote address segment: the peer region's key (`rkey`).
    rkey: AtomicU32,
    /// Data segment: the byte count.
    byte_count: AtomicU32,
    /// Data segment: the local region's key (`lkey`).
    lkey: AtomicU32,
    /// Data segment: the local byte address.
    addr: AtomicU64,
}

/// One completion-queue entry (a CQE). Written only by the device; the driver never writes the
/// CQ (mlx5 style): it tells a new CQE from last lap's by the owner bit alone.
struct Cqe {
    /// The index of the WQE this CQE completes.
    wqe_counter: AtomicU32,
    /// Bytes moved (0 on error).
    byte_cnt: AtomicU32,
    /// The error syndrome (0 on success; see [`Status`]).
    syndrome: AtomicU32,
    /// `opcode << 4 | owner`: written last, with Release. Starts as `CQE_OPCODE_INVALID << 4 | 1`.
    /// Its owner bit is the CQ lap's parity: `(cq_index / cq_size) & 1` ([`owner_bit`]).
    op_own: AtomicU32,
}

/// What the driver and the device share: host memory, the registered regions, the SQ, the
/// doorbell record and the CQ.
struct Shared {
    /// Host memory, one word per 8 bytes from [`super::BASE_ADDR`]: the registered regions and
    /// the unregistered guard words around them.
    memory: Box<[AtomicU64]>,
    /// The device's table of registered regions (fixed before the queue pair starts).
    pd: ProtectionDomain,
    /// The send queue: `sq_size` WQEs, WQE `n` in slot `n % sq_size`.
    sq: Box<[Wqe]>,
    /// The doorbell record: how many WQEs the driver has posted (wrapping). Written by the driver
    /// only, after the WQEs it covers.
    doorbell: CachePadded<AtomicU32>,
    /// The completion queue: `cq_size` CQEs, completion `n` in slot `n % cq_size`.
    cq: Box<[Cqe]>,
}

impl Shared {
    fn sq_slot(&self, n: u32) -> &Wqe {
        &self.sq[(n % self.sq.len() as u32) as usize]
    }

    fn cq_slot(&self, n: u32) -> &Cqe {
        &self.cq[(n % self.cq.len() as u32) as usize]
    }

    fn cq_size(&self) -> u32 {
        self.cq.len() as u32
    }
}

/// The body of a CQE, as the driver read it.
#[derive(Clone, Copy, Debug)]
struct Body {
    wqe_counter: u32,
    byte_cnt: u32,
    syndrome: u32,
}

impl Cqe {
    /// Reads the body (what the owner byte guards).
    fn read_body(&self) -> Body {
        Body {
            // ORDERING: Relaxed [cqe-owner] — ordered after the Acquire load of `op_own` that found the CQE ours (the fixed driver reads the body only then).
            wqe_counter: self.wqe_counter.load(Ordering::Relaxed),
            // ORDERING: Relaxed [cqe-owner] — as `wqe_counter`.
            byte_cnt: self.byte_cnt.load(Ordering::Relaxed),
            // ORDERING: Relaxed [cqe-owner] — as `wqe_counter`.
            syndrome: self.syndrome.load(Ordering::Relaxed),
        }
    }
}

/// Builds a queue pair for `config`: the driver's half and the device's half.
///
/// # Panics
/// If `config` is invalid (see [`Config::check`]).
pub fn queue_pair(config: &Config) -> (Driver, Device) {
    config.check().unwrap_or_else(|e| panic!("rdma_qp::queue_pair: {e}"));
    let pd = ProtectionDomain::new(config);
    let memory = (0..pd.memory_words()).map(|_| AtomicU64::new(0)).collect();
    let sq = (0..config.sq_size)
        .map(|_| Wqe {
            ctrl: AtomicU32::new(0),
            raddr: AtomicU64::new(0),
            rkey: AtomicU32::new(0),
            byte_count: AtomicU32::new(0),
            lkey: AtomicU32::new(0),
            addr: AtomicU64::new(0),
        })
        .collect();
    let cq = (0..config.cq_size)
        .map(|_| Cqe {
            wqe_counter: AtomicU32::new(0),
            byte_cnt: AtomicU32::new(0),
            syndrome: AtomicU32::new(0),
            // Hardware-owned for lap 0: an invalid opcode (and owner 1, the parity of lap 1).
            op_own: AtomicU32::new(op_own(CQE_OPCODE_INVALID, 1)),
        })
        .collect();
    let shared = Arc::new(Shared {
        memory,
        pd,
        sq,
        doorbell: CachePadded::new(AtomicU32::new(0)),
        cq,
    });
    let driver = Driver {
        shared: Arc::clone(&shared),
        sq_pi: 0,
        sq_published: 0,
        sq_ci: 0,
        cq_ci: 0,
        wr_ids: vec![0; config.sq_size as usize].into_boxed_slice(),
    };
    let device = Device {
        shared,
        sq_ci: 0,
        cq_pi: 0,
    };
    (driver, device)
}

/// The driver's half: posts work requests, rings the doorbell, reaps completions. Posting and
/// polling take `&mut self`: one thread drives a queue pair.
pub struct Driver {
    shared: Arc<Shared>,
    /// WQEs written (wrapping): the next WQE goes to slot `sq_pi % sq_size`.
    sq_pi: u32,
    /// The last value stored in the doorbell record.
    sq_published: u32,
    /// WQEs completed (wrapping): `sq_pi - sq_ci` are in flight.
    sq_ci: u32,
    /// CQEs consumed (wrapping): the next CQE is in slot `cq_ci % cq_size`, lap `cq_ci / cq_size`.
    cq_ci: u32,
    /// The caller's `wr_id` of the WQE in each SQ slot (mlx5's `wrid` array).
    wr_ids: Box<[u64]>,
}

/// What [`Driver::poll_read`] read of the next CQE before its owner check.
#[derive(Clone, Copy, Debug)]
pub struct Peek {
    body: Option<Body>,
}

impl Peek {
    /// True when the body was read before the owner check (the broken driver's poll).
    pub fn read_body_early(&self) -> bool {
        self.body.is_some()
    }
}

impl Driver {
    /// Registered region `i` (its key, address and size).
    pub fn region(&self, i: usize) -> Region {
        self.shared.pd.regions()[i]
    }

    /// Writes `words` into host memory at byte address `addr` (the application filling its own
    /// registered buffer before it posts).
    ///
    /// # Panics
    /// If the range is not inside host memory or `addr` is not 8-byte aligned.
    pub fn write_memory(&self, addr: u64, words: &[u64]) {
        let range = self.shared.pd.host_words(addr, words.len());
        for (cell, &w) in self.shared.memory[range].iter().zip(words) {
            // ORDERING: Relaxed [sq-doorbell] — the Release store of the doorbell record that posts a WQE reading this word orders it.
            cell.store(w, Ordering::Relaxed);
        }
    }

    /// Reads host memory at byte address `addr` into `out` (the application reading a buffer
    /// after the completion that says the device wrote it).
    ///
    /// # Panics
    /// If the range is not inside host memory or `addr` is not 8-byte aligned.
    pub fn read_memory(&self, addr: u64, out: &mut [u64]) {
        let range = self.shared.pd.host_words(addr, out.len());
        for (w, cell) in out.iter_mut().zip(&self.shared.memory[range]) {
            // ORDERING: Relaxed [cqe-owner] — read after the Acquire load of the owner byte of the CQE that completed the DMA into it.
            *w = cell.load(Ordering::Relaxed);
        }
    }

    /// WQEs posted and not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.sq_pi.wrapping_sub(self.sq_ci)
    }

    /// Writes `wr` into the next free SQ slot, without ringing the doorbell (post several, then
    /// ring once); `SqFull` when `sq_size` WQEs are in flight.
    pub fn write_wqe(&mut self, wr: &WorkRequest) -> Result<(), SqFull> {
        if self.in_flight() == self.shared.sq.len() as u32 {
            return Err(SqFull);
        }
        let n = self.sq_pi;
        let wqe = self.shared.sq_slot(n);
        // The slot is free: the device read it before writing the CQE this driver has consumed.
        // ORDERING: Relaxed [sq-doorbell] — published by the Release store of the doorbell record (all six fields).
        wqe.ctrl.store((n << 8) | WQE_OPCODE_RDMA_WRITE, Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        wqe.raddr.store(wr.remote_addr, Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        wqe.rkey.store(wr.rkey, Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        wqe.byte_count.store(wr.len, Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        wqe.lkey.store(wr.lkey, Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        wqe.addr.store(wr.local_addr, Ordering::Relaxed);
        let slot = (n % self.shared.sq.len() as u32) as usize;
        self.wr_ids[slot] = wr.wr_id;
        self.sq_pi = n.wrapping_add(1);
        Ok(())
    }

    /// Rings the doorbell: publishes every WQE written so far (the doorbell record holds the
    /// count of WQEs posted). Does nothing if there is nothing new.
    pub fn ring_doorbell(&mut self) {
        if self.sq_published == self.sq_pi {
            return;
        }
        // ORDERING: Release [sq-doorbell] — the WQE fields and the payload written before it happen-before the device's Acquire load that sees this count (mlx5's `udma_to_device_barrier` before the DBR write).
        self.shared.doorbell.store(self.sq_pi, Ordering::Release);
        self.sq_published = self.sq_pi;
    }

    /// Posts `wr` and rings the doorbell (`ibv_post_send` of one work request).
    pub fn post(&mut self, wr: &WorkRequest) -> Result<(), SqFull> {
        self.write_wqe(wr)?;
        self.ring_doorbell();
        Ok(())
    }

    /// Reaps the next completion, or `None` if the device has not written it yet.
    pub fn poll(&mut self) -> Option<Completion> {
        let peek = self.poll_read();
        self.poll_check(peek)
    }

    /// The first half of [`Driver::poll`]: what is read of the next CQE before its owner check.
    pub fn poll_read(&self) -> Peek {
        // BUG: the body is read now, before the owner byte says whose it is: it may be last lap's.
        Peek {
            body: Some(self.shared.cq_slot(self.cq_ci).read_body()),
        }
    }

    /// The second half of [`Driver::poll`]: the owner check, then the body (unless read early).
    pub fn poll_check(&mut self, peek: Peek) -> Option<Completion> {
        let index = self.cq_ci;
        let cqe = self.shared.cq_slot(index);
        // ORDERING: Acquire [cqe-owner] — pairs with the device's Release store of `op_own`: the CQE body and the DMA'd payload are visible after it (mlx5's `udma_from_device_barrier` after the owner check).
        let own = cqe.op_own.load(Ordering::Acquire);
        if !cqe_is_ours(own, index, self.shared.cq_size()) {
            return None;
        }
        let body = match peek.body {
            Some(early) => early,
            None => cqe.read_body(),
        };
        self.cq_ci = index.wrapping_add(1);
        let slot = (body.wqe_counter % self.shared.sq.len() as u32) as usize;
        // One CQE per WQE, in order: the oldest WQE in flight is done.
        self.sq_ci = self.sq_ci.wrapping_add(1);
        Some(Completion {
            cq_index: index,
            wqe_counter: body.wqe_counter,
            wr_id: self.wr_ids[slot],
            status: Status::from_syndrome(body.syndrome),
            byte_len: body.byte_cnt,
        })
    }

    /// The queue pair's state as the replay draws it: SQ, doorbell record, CQ and the driver's
    /// indices. The device's indices come from [`Device::indices`].
    pub fn views(&self) -> (Vec<WqeView>, u32, Vec<CqeView>) {
        let sq = self
            .shared
            .sq
            .iter()
            .map(|w| WqeView {
                // ORDERING: Relaxed [snapshot] — the replay runs both halves on one thread.
                ctrl: w.ctrl.load(Ordering::Relaxed),
                // ORDERING: Relaxed [snapshot] — as above.
                raddr: w.raddr.load(Ordering::Relaxed),
                // ORDERING: Relaxed [snapshot] — as above.
                rkey: w.rkey.load(Ordering::Relaxed),
                // ORDERING: Relaxed [snapshot] — as above.
                byte_count: w.byte_count.load(Ordering::Relaxed),
                // ORDERING: Relaxed [snapshot] — as above.
                lkey: w.lkey.load(Ordering::Relaxed),
                // ORDERING: Relaxed [snapshot] — as above.
                addr: w.addr.load(Ordering::Relaxed),
            })
            .collect();
        // ORDERING: Relaxed [snapshot] — as above.
        let doorbell = self.shared.doorbell.load(Ordering::Relaxed);
        let cq = self
            .shared
            .cq
            .iter()
            .map(|c| {
                let b = c.read_body();
                CqeView {
                    wqe_counter: b.wqe_counter,
                    byte_cnt: b.byte_cnt,
                    syndrome: b.syndrome,
                    // ORDERING: Relaxed [snapshot] — as above.
                    op_own: c.op_own.load(Ordering::Relaxed),
                }
            })
            .collect();
        (sq, doorbell, cq)
    }

    /// The driver's indices: `(sq_pi, sq_ci, cq_ci)`.
    pub fn indices(&self) -> (u32, u32, u32) {
        (self.sq_pi, self.sq_ci, self.cq_ci)
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("sq_pi", &self.sq_pi)
            .field("sq_ci", &self.sq_ci)
            .field("cq_ci", &self.cq_ci)
            .finish_non_exhaustive()
    }
}

/// The device's half: the NIC's execution engine, code on its own core. It touches host memory
/// only through a registered region's key and bounds.
pub struct Device {
    shared: Arc<Shared>,
    /// WQEs executed (wrapping).
    sq_ci: u32,
    /// CQEs written (wrapping): the next goes to slot `cq_pi % cq_size`, lap `cq_pi / cq_size`.
    cq_pi: u32,
}

impl Device {
    /// Executes every WQE the doorbell record covers and writes their CQEs; returns how many.
    pub fn process(&mut self) -> u32 {
        let mut done = 0;
        while let Some(dma) = self.dma_next() {
            self.write_cqe(&dma);
            done += 1;
        }
        done
    }

    /// Executes the next posted WQE, if the doorbell record covers one: checks both keys and
    /// bounds, then copies straight from the local region into the remote one.
    pub fn dma_next(&mut self) -> Option<Dma> {
        // ORDERING: Acquire [sq-doorbell] — pairs with the driver's Release store: the WQE fields and the payload it covers are visible after it.
        let posted = self.shared.doorbell.load(Ordering::Acquire);
        if posted == self.sq_ci {
            return None;
        }
        let wqe = self.shared.sq_slot(self.sq_ci);
        // ORDERING: Relaxed [sq-doorbell] — ordered by the Acquire load of the doorbell record above.
        let ctrl = wqe.ctrl.load(Ordering::Relaxed);
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        let (raddr, rkey) = (wqe.raddr.load(Ordering::Relaxed), wqe.rkey.load(Ordering::Relaxed));
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        let (len, lkey) = (wqe.byte_count.load(Ordering::Relaxed), wqe.lkey.load(Ordering::Relaxed));
        // ORDERING: Relaxed [sq-doorbell] — as `ctrl`.
        let addr = wqe.addr.load(Ordering::Relaxed);
        let checked = if ctrl & 0xff != WQE_OPCODE_RDMA_WRITE {
            Err(Status::LocalQpOperation)
        } else {
            self.shared
                .pd
                .check(lkey, addr, len, false)
                .and_then(|src| self.shared.pd.check(rkey, raddr, len, true).map(|dst| (src, dst)))
        };
        let status = match checked {
            Ok((src, dst)) => {
                let memory = &self.shared.memory;
                for (s, d) in src.zip(dst) {
                    // ORDERING: Relaxed [sq-doorbell] — the payload word was written before the doorbell this thread acquired.
                    let w = memory[s].load(Ordering::Relaxed);
                    // ORDERING: Relaxed [cqe-owner] — published by the Release store of this WQE's CQE owner byte.
                    memory[d].store(w, Ordering::Relaxed);
                }
                Status::Success
            }
            Err(status) => status,
        };
        let dma = Dma {
            wqe_counter: ctrl >> 8,
            byte_len: if status == Status::Success { len } else { 0 },
            status,
            lkey,
            addr,
            rkey,
            raddr,
        };
        self.sq_ci = self.sq_ci.wrapping_add(1);
        Some(dma)
    }

    /// Writes the CQE of `dma` into the next CQ slot: the body, then the owner byte with this
    /// lap's parity.
    pub fn write_cqe(&mut self, dma: &Dma) {
        let index = self.cq_pi;
        let cqe = self.shared.cq_slot(index);
        // ORDERING: Relaxed [cqe-owner] — published by the Release store of `op_own` below.
        cqe.wqe_counter.store(dma.wqe_counter, Ordering::Relaxed);
        // ORDERING: Relaxed [cqe-owner] — as `wqe_counter`.
        cqe.byte_cnt.store(dma.byte_len, Ordering::Relaxed);
        // ORDERING: Relaxed [cqe-owner] — as `wqe_counter`.
        cqe.syndrome.store(dma.status.syndrome(), Ordering::Relaxed);
        let opcode = if dma.status == Status::Success {
            CQE_OPCODE_REQ
        } else {
            CQE_OPCODE_REQ_ERR
        };
        let owner = owner_bit(index, self.shared.cq_size());
        // ORDERING: Release [cqe-owner] — the body above and the payload copied before it happen-before the driver's Acquire load that sees this owner byte.
        cqe.op_own.store(op_own(opcode, owner), Ordering::Release);
        self.cq_pi = index.wrapping_add(1);
    }

    /// The device's indices: `(sq_ci, cq_pi)`.
    pub fn indices(&self) -> (u32, u32) {
        (self.sq_ci, self.cq_pi)
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("sq_ci", &self.sq_ci)
            .field("cq_pi", &self.cq_pi)
            .finish_non_exhaustive()
    }
}
