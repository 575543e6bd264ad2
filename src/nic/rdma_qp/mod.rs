//! # RDMA queue pair: a doorbell record, registered memory, and a CQ owner bit that flips per lap
//!
//! An RDMA queue pair as an mlx5 NIC and its user-space driver (rdma-core's `libmlx5`) run it.
//! The application posts a **work request** (here an RDMA WRITE: "copy `len` bytes from my
//! registered buffer to the peer's") into the **send queue** (SQ), publishes it through the
//! **doorbell record**, and later reaps a **completion-queue entry** (CQE) that the device wrote
//! into host memory. No system call and no kernel copy on the data path: posting and reaping are
//! plain memory writes and reads, and the device copies straight between registered buffers.
//!
//! A real NIC is not reachable here. The device is real code on its own (pinned) core: it polls
//! the doorbell record, executes each WQE as a copy from the local registered region into the
//! peer's, and writes the CQE. The lesson is the protocol, which is the same one real drivers use
//! with real devices.
//!
//! ```
//! use lockfree_lab::nic::rdma_qp::{real::fixed::queue_pair, Config, Status, WorkRequest};
//! let (mut driver, mut device) = queue_pair(&Config::new(2, 2, &[(64, false), (64, true)]));
//! let (src, dst) = (driver.region(0), driver.region(1));
//! driver.write_memory(src.addr, &[7; 8]);
//! driver.post(&WorkRequest::write(1, &src, src.addr, 64, &dst, dst.addr)).unwrap();
//! assert!(driver.poll().is_none()); // posted, not yet executed
//! assert_eq!(device.process(), 1); // the "NIC": doorbell, DMA, CQE
//! let c = driver.poll().unwrap();
//! assert_eq!((c.wr_id, c.status, c.byte_len), (1, Status::Success, 64));
//! let mut got = [0; 8];
//! driver.read_memory(dst.addr, &mut got);
//! assert_eq!(got, [7; 8]);
//! // Outside the region: an error completion, and the device touches no memory.
//! driver.post(&WorkRequest::write(2, &src, src.addr, 64, &dst, dst.addr + 8)).unwrap();
//! device.process();
//! assert_eq!(driver.poll().unwrap().status, Status::RemoteAccess);
//! ```
//!
//! ## The protocol
//! - **Registered memory.** Host memory is one array of words; [`Config`] registers regions in it
//!   (a key, an address, a size, whether the peer may write), with unregistered guard words
//!   between them. The device reaches memory only through [`ProtectionDomain::check`]: the key must
//!   name a region, `[addr, addr + len)` must lie inside it, and the remote region must allow
//!   remote writes. Otherwise the WQE completes with an error syndrome and **no word is
//!   touched** (mlx5: local protection error 0x04, remote access error 0x13).
//! - **Post.** The driver writes the WQE's segments (control, remote address, data) into slot
//!   `n % sq_size`, then stores the new WQE count into the doorbell record with **Release**
//!   (`libmlx5`'s `udma_to_device_barrier()` before `qp->db[MLX5_SND_DBR] = ...`).
//! - **Execute.** The device loads the doorbell record with **Acquire**, reads the WQE, checks
//!   both keys and bounds, copies word by word from the local region into the remote one, writes
//!   the CQE body (WQE counter, byte count, syndrome) and finally its `op_own` byte with
//!   **Release**: opcode in the high nibble, **owner bit = `(cq_index / cq_size) & 1`**, the
//!   parity of the CQ's lap.
//! - **Reap.** The driver never writes the CQ. For its `cq_ci`-th completion it loads `op_own` of
//!   slot `cq_ci % cq_size` with **Acquire**, and takes the CQE only if the opcode is not
//!   `INVALID` and the owner bit equals its own lap's parity (`libmlx5`'s `get_sw_cqe`: `!((op_own
//!   & MLX5_CQE_OWNER_MASK) ^ !!(n & (cq->ibv_cq.cqe + 1)))`); then, after a read barrier, the body.
//!   A CQE left from the previous lap has the other parity, so it reads as "not yet".
//! - **No CQ overflow.** At most `sq_size <= cq_size` WQEs are in flight and one CQE is written
//!   per WQE, so the device never overwrites a CQE the driver has not consumed.
//!
//! ## Synchronization edges
//!
//! | edge            | Release (writer)                                  | Acquire (reader)                                  | guarantees |
//! |-----------------|---------------------------------------------------|---------------------------------------------------|------------|
//! | `[sq-doorbell]` | driver stores the doorbell record after the WQE and the payload | device loads the doorbell record before the WQE | the device executes the WQE and copies the payload the driver wrote |
//! | `[cqe-owner]`   | device stores `op_own` after the copy and the CQE body | driver loads `op_own` before the body and the copied buffer | a reaped CQE describes this lap's WQE, and the peer buffer holds its bytes |
//!
//! ## The broken variant (`diff src/nic/rdma_qp/broken.rs src/nic/rdma_qp/fixed.rs`)
//! The driver reads the CQE **body before the owner check** (`poll_read` reads it; `poll_check`
//! then checks the owner byte and uses the body it already has). With `cq_size = 1`, on the
//! second lap:
//! 1. the driver posts WQE 0; the device copies it and writes CQE 0 into slot 0 (owner 0);
//! 2. the driver reaps it (lap 0 expects owner 0) and posts WQE 1;
//! 3. the driver polls for its completion #1: it reads slot 0's body — still CQE 0's, `wqe_counter = 0`;
//! 4. the device executes WQE 1 and writes its CQE into slot 0: body `wqe_counter = 1`, then owner 1;
//! 5. the driver loads `op_own`: owner 1 = lap 1's parity, "ours" — and completes with the body of
//!    step 3: **a stale completion from the previous lap** (wrong WQE counter, byte count, status;
//!    the application is told that an older request finished).
//!
//! Every access is atomic, so this is a logic bug (a bad interleaving), not a data race.
//! `scripts/mutate-logic` also kills the other classic form of it: an owner bit that does not
//! flip per lap (then last lap's CQE reads as new before the device has written anything).
//!
//! ## Who sees it
//!
//! | checker     | the stale completion |
//! |-------------|----------------------|
//! | loom        | found: the driver is preempted between its body read and its owner load |
//! | shuttle     | found (random and PCT): an interleaving of SeqCst-able steps, nothing weak about it |
//! | real x86-64 | found, counted: `run rdma-qp --variant broken` counts the completions whose WQE counter is not their own. The driver spins on the CQE while the device writes it, so its body-then-owner reads straddle the device's body-then-owner writes often: 1,245 of 20,000 round trips (6 %) at 64 B in one run on this 2-vCPU VM |
//!
//! Weakening any Release/Acquire above to Relaxed (`scripts/mutate-orderings rdma_qp`) is caught
//! by loom only; on x86-64 (TSO) such a mutant would never show: stores stay in order and loads
//! stay in order.
//!
//! ## What the run measures
//! `run rdma-qp` measures, side by side in one run on two pinned cores, the post-to-completion
//! round trip of the queue pair (post, doorbell, the device's copy into the peer's registered
//! buffer, CQE, reap) against the same payload through loopback TCP and UDP sockets (send, the
//! kernel's copies, the peer's receive into its buffer, a one-byte acknowledgement back), at
//! 64 B, 4 KiB and 64 KiB. The device's copy is word-by-word atomic loads and stores (so that a
//! broken run is never undefined behaviour), slower than a DMA engine or `memcpy`; the socket
//! side pays system calls and two kernel copies. No PCIe is crossed here: on a real NIC the
//! doorbell, the DMA and the wire add their own latency (cited, not measured: `ib_send_lat`
//! reports 0.83 µs one way at 32 B and 2.26 µs at 4 KiB on an InfiniBand RC queue pair — D. Potter's
//! master's thesis, table `mtu_performance`; perftest reports half the round trip).
//!
//! Two things the model leaves out, said plainly: the regions are registered before the queue pair
//! starts and never deregistered (no memory-window or invalidation race), and the device executes
//! RDMA WRITEs only (no SEND/RECV, so no receive queue).
//!
//! Sources: rdma-core `providers/mlx5/cq.c` (`get_sw_cqe`, `mlx5_poll_one`: owner bit against the
//! wrap parity, then `udma_from_device_barrier`) and `providers/mlx5/qp.c` (`mlx5_post_send`: the
//! doorbell record written after `udma_to_device_barrier`); Linux `drivers/infiniband/hw/mlx5/cq.c`
//! (`get_sw_cqe`, the same parity test); the mlx5 CQE opcodes (`MLX5_CQE_REQ` 0, `REQ_ERR` 13,
//! `INVALID` 15) and error syndromes (`include/linux/mlx5/device.h`); the InfiniBand verbs
//! (`ibv_post_send`, `ibv_poll_cq`, memory registration with `lkey`/`rkey`).

use std::ops::Range;

pub(crate) use crate::ring::CachePadded;

mod cores;
pub mod demo;
mod replay;
mod sockets;

pub use cores::{qp_round_trips, Trips};
pub use replay::{qp_replay, ReplayStep};
pub use sockets::{tcp_round_trips, udp_round_trips, UDP_MAX_PAYLOAD};

backends! {
    /// The broken queue pair: the driver reads a CQE's body before its owner check.
    broken => "broken.rs",
    /// The fixed queue pair: owner check (Acquire), then the body.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

/// The byte address of host memory word 0 (so addresses look like addresses in the replay).
pub const BASE_ADDR: u64 = 0x1000;
/// mlx5's WQE opcode for an RDMA WRITE (`MLX5_OPCODE_RDMA_WRITE`).
pub const WQE_OPCODE_RDMA_WRITE: u32 = 0x08;
/// mlx5's CQE opcode of a successful requester completion (`MLX5_CQE_REQ`).
pub const CQE_OPCODE_REQ: u32 = 0x0;
/// mlx5's CQE opcode of a requester error completion (`MLX5_CQE_REQ_ERR`).
pub const CQE_OPCODE_REQ_ERR: u32 = 0xd;
/// mlx5's CQE opcode of a CQE never written (`MLX5_CQE_INVALID`): how every CQE starts.
pub const CQE_OPCODE_INVALID: u32 = 0xf;

/// The owner bit the device writes into completion `index`'s CQE, and the driver expects there:
/// the parity of the CQ lap, `(index / cq_size) & 1`, so it flips every time the CQ wraps.
pub fn owner_bit(index: u32, cq_size: u32) -> u32 {
    (index / cq_size) & 1
}

/// The `op_own` byte: `opcode << 4 | owner`.
pub fn op_own(opcode: u32, owner: u32) -> u32 {
    (opcode << 4) | (owner & 1)
}

/// True when `op_own` says the CQE in the slot of completion `index` is that completion: a
/// valid opcode and this lap's owner parity (`libmlx5`'s `get_sw_cqe`).
pub fn cqe_is_ours(op_own: u32, index: u32, cq_size: u32) -> bool {
    op_own >> 4 != CQE_OPCODE_INVALID && op_own & 1 == owner_bit(index, cq_size)
}

/// A completion's status: success or an mlx5 error syndrome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    /// The copy was done.
    Success,
    /// Address or length not a multiple of 8 bytes (`LOCAL_LENGTH_ERR`, 0x01).
    LocalLength,
    /// Not an opcode this device executes (`LOCAL_QP_OP_ERR`, 0x02).
    LocalQpOperation,
    /// Bad `lkey`, or the local range leaves its region (`LOCAL_PROT_ERR`, 0x04).
    LocalProtection,
    /// Bad `rkey`, the remote range leaves its region, or the region takes no remote writes
    /// (`REMOTE_ACCESS_ERR`, 0x13).
    RemoteAccess,
    /// A syndrome this lab never writes (read from a stale or garbled CQE).
    Other(u32),
}

impl Status {
    /// The syndrome written into the CQE.
    pub fn syndrome(self) -> u32 {
        match self {
            Status::Success => 0,
            Status::LocalLength => 0x01,
            Status::LocalQpOperation => 0x02,
            Status::LocalProtection => 0x04,
            Status::RemoteAccess => 0x13,
            Status::Other(s) => s,
        }
    }

    /// The status a CQE's syndrome stands for.
    pub fn from_syndrome(s: u32) -> Self {
        match s {
            0 => Status::Success,
            0x01 => Status::LocalLength,
            0x02 => Status::LocalQpOperation,
            0x04 => Status::LocalProtection,
            0x13 => Status::RemoteAccess,
            s => Status::Other(s),
        }
    }
}

/// The SQ has `sq_size` WQEs in flight: reap a completion first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqFull;

/// A registered memory region: what the device checks every access against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    /// Its key (`lkey` locally, `rkey` for the peer): `(index + 1) << 8 | 0x5a` (mlx5 mkeys are
    /// an index and a variant byte).
    pub key: u32,
    /// Its first byte's address.
    pub addr: u64,
    /// Its size in bytes (a multiple of 8).
    pub bytes: u64,
    /// Whether the peer may write it (`IBV_ACCESS_REMOTE_WRITE`).
    pub remote_write: bool,
}

/// An RDMA WRITE work request: copy `len` bytes from `local_addr` (in the region of `lkey`) to
/// `remote_addr` (in the region of `rkey`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkRequest {
    /// The caller's tag, returned in the completion.
    pub wr_id: u64,
    /// The local source address.
    pub local_addr: u64,
    /// The local region's key.
    pub lkey: u32,
    /// Bytes to copy (a multiple of 8).
    pub len: u32,
    /// The remote destination address.
    pub remote_addr: u64,
    /// The remote region's key.
    pub rkey: u32,
}

impl WorkRequest {
    /// An RDMA WRITE of `len` bytes from `local_addr` in `local` to `remote_addr` in `remote`.
    pub fn write(wr_id: u64, local: &Region, local_addr: u64, len: u32, remote: &Region, remote_addr: u64) -> Self {
        Self {
            wr_id,
            local_addr,
            lkey: local.key,
            len,
            remote_addr,
            rkey: remote.key,
        }
    }
}

/// A reaped completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Completion {
    /// Its index in the CQ's sequence (slot `cq_index % cq_size`).
    pub cq_index: u32,
    /// The WQE it completes, as the CQE says.
    pub wqe_counter: u32,
    /// The `wr_id` of that WQE's SQ slot.
    pub wr_id: u64,
    /// Success or the error.
    pub status: Status,
    /// Bytes copied.
    pub byte_len: u32,
}

/// What the device did with one WQE (for the replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dma {
    /// The WQE's index.
    pub wqe_counter: u32,
    /// Bytes copied (0 on error).
    pub byte_len: u32,
    /// The outcome.
    pub status: Status,
    /// The WQE's local key and address.
    pub lkey: u32,
    /// The local address.
    pub addr: u64,
    /// The WQE's remote key.
    pub rkey: u32,
    /// The remote address.
    pub raddr: u64,
}

/// A WQE's fields as the replay shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WqeView {
    /// `wqe_index << 8 | opcode`.
    pub ctrl: u32,
    /// Remote address.
    pub raddr: u64,
    /// Remote key.
    pub rkey: u32,
    /// Bytes.
    pub byte_count: u32,
    /// Local key.
    pub lkey: u32,
    /// Local address.
    pub addr: u64,
}

/// A CQE's fields as the replay shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqeView {
    /// The WQE it completes.
    pub wqe_counter: u32,
    /// Bytes.
    pub byte_cnt: u32,
    /// Error syndrome.
    pub syndrome: u32,
    /// `opcode << 4 | owner`.
    pub op_own: u32,
}

/// A queue pair's shape: SQ and CQ sizes and the regions to register, in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Send-queue entries (a power of two, at most `cq_size`).
    pub sq_size: u32,
    /// Completion-queue entries (a power of two).
    pub cq_size: u32,
    /// `(bytes, remote_write)` of each region, registered in this order.
    pub regions: Vec<(u64, bool)>,
}

/// The largest host memory a queue pair is built with (64 MiB).
pub const MAX_MEMORY_BYTES: u64 = 64 << 20;

impl Config {
    /// A queue pair with these sizes and regions.
    pub fn new(sq_size: u32, cq_size: u32, regions: &[(u64, bool)]) -> Self {
        Self {
            sq_size,
            cq_size,
            regions: regions.to_vec(),
        }
    }

    /// Why this shape cannot be built, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if !self.sq_size.is_power_of_two() || !self.cq_size.is_power_of_two() {
            return Err(format!(
                "SQ and CQ sizes must be powers of two (got {} and {})",
                self.sq_size, self.cq_size
            ));
        }
        if self.sq_size > self.cq_size {
            return Err(format!(
                "the SQ ({}) must not be larger than the CQ ({}): the CQ could overflow",
                self.sq_size, self.cq_size
            ));
        }
        let mut total = 8u64;
        for &(bytes, _) in &self.regions {
            if bytes % 8 != 0 {
                return Err(format!("a region's size must be a multiple of 8 bytes (got {bytes})"));
            }
            total = total.saturating_add(bytes).saturating_add(8);
        }
        if total > MAX_MEMORY_BYTES {
            return Err(format!("at most {MAX_MEMORY_BYTES} bytes of host memory (got {total})"));
        }
        Ok(())
    }
}

/// The registered regions and the host memory's layout: a guard word, region 0, a guard word,
/// region 1, …, a guard word. Plain data, fixed before the queue pair starts.
#[derive(Clone, Debug)]
pub struct ProtectionDomain {
    regions: Vec<Region>,
    words: usize,
}

impl ProtectionDomain {
    /// Lays out `config`'s regions.
    pub fn new(config: &Config) -> Self {
        let mut word = 1u64; // the first guard word
        let regions = config
            .regions
            .iter()
            .enumerate()
            .map(|(i, &(bytes, remote_write))| {
                let r = Region {
                    key: ((i as u32 + 1) << 8) | 0x5a,
                    addr: BASE_ADDR + word * 8,
                    bytes,
                    remote_write,
                };
                word += bytes / 8 + 1; // the region, then a guard word
                r
            })
            .collect();
        Self {
            regions,
            words: word as usize,
        }
    }

    /// The registered regions.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Words of host memory.
    pub fn memory_words(&self) -> usize {
        self.words
    }

    /// The host memory words of `n` words from byte address `addr`, registered or not (the
    /// application's own view of its memory, and the tests' view of the guards).
    ///
    /// # Panics
    /// If the range is not inside host memory or `addr` is not 8-byte aligned.
    pub fn host_words(&self, addr: u64, n: usize) -> Range<usize> {
        assert!(
            addr >= BASE_ADDR && addr % 8 == 0,
            "host address {addr:#x} is unaligned or below host memory"
        );
        let first = ((addr - BASE_ADDR) / 8) as usize;
        assert!(
            first + n <= self.words,
            "host range {addr:#x} + {n} words leaves host memory"
        );
        first..first + n
    }

    /// The device's access check: the host memory words of `len` bytes at `addr` through the
    /// region of `key`, if the key names a region, the range lies inside it and (for the
    /// `remote` side) the region takes remote writes; else the error syndrome, and no access.
    pub fn check(&self, key: u32, addr: u64, len: u32, remote: bool) -> Result<Range<usize>, Status> {
        let denied = if remote {
            Status::RemoteAccess
        } else {
            Status::LocalProtection
        };
        let index = ((key >> 8) as usize).checked_sub(1).ok_or(denied)?;
        let region = self.regions.get(index).filter(|r| r.key == key).ok_or(denied)?;
        if remote && !region.remote_write {
            return Err(denied);
        }
        if addr % 8 != 0 || len % 8 != 0 {
            return Err(Status::LocalLength);
        }
        let end = addr.checked_add(u64::from(len)).ok_or(denied)?;
        if addr < region.addr || end > region.addr + region.bytes {
            return Err(denied);
        }
        let first = ((addr - BASE_ADDR) / 8) as usize;
        Ok(first..first + len as usize / 8)
    }
}

/// What the model scenarios and the real-core runs need of a driver half.
pub trait DriverSide: Send + 'static {
    /// [`real::fixed::Driver::region`].
    fn region(&self, i: usize) -> Region;
    /// [`real::fixed::Driver::write_memory`].
    fn write_memory(&self, addr: u64, words: &[u64]);
    /// [`real::fixed::Driver::read_memory`].
    fn read_memory(&self, addr: u64, out: &mut [u64]);
    /// [`real::fixed::Driver::post`].
    fn post(&mut self, wr: &WorkRequest) -> Result<(), SqFull>;
    /// [`real::fixed::Driver::poll`].
    fn poll(&mut self) -> Option<Completion>;
}

/// What the model scenarios and the real-core runs need of a device half.
pub trait DeviceSide: Send + 'static {
    /// [`real::fixed::Device::process`].
    fn process(&mut self) -> u32;
}

macro_rules! impl_sides {
    ($($backend:ident::$variant:ident),+) => {$(
        impl DriverSide for $backend::$variant::Driver {
            fn region(&self, i: usize) -> Region {
                $backend::$variant::Driver::region(self, i)
            }
            fn write_memory(&self, addr: u64, words: &[u64]) {
                $backend::$variant::Driver::write_memory(self, addr, words)
            }
            fn read_memory(&self, addr: u64, out: &mut [u64]) {
                $backend::$variant::Driver::read_memory(self, addr, out)
            }
            fn post(&mut self, wr: &WorkRequest) -> Result<(), SqFull> {
                $backend::$variant::Driver::post(self, wr)
            }
            fn poll(&mut self) -> Option<Completion> {
                $backend::$variant::Driver::poll(self)
            }
        }
        impl DeviceSide for $backend::$variant::Device {
            fn process(&mut self) -> u32 {
                $backend::$variant::Device::process(self)
            }
        }
    )+};
}
impl_sides!(
    real::broken,
    real::fixed,
    loom::broken,
    loom::fixed,
    shuttle::broken,
    shuttle::fixed
);

/// The payload word `k` of work request `n`: distinct for every request and word, so a stale or
/// torn copy shows.
pub fn pattern(n: u64, k: usize) -> u64 {
    (n << 20) ^ (k as u64) ^ 0x5eed_0000_0000_0000
}
