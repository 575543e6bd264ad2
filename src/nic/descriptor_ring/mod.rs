//! # Descriptor ring (RX and TX): the doorbell needs `wmb()`, the DD bit needs `dma_rmb()`
//!
//! A NIC and its driver share a ring of N descriptors in host memory. Each descriptor names a
//! packet buffer (here: its index in a buffer pool), a length, a write-back status, and two flag
//! bits: **OWN** (the driver handed it to the NIC) and **DD** (descriptor done: the NIC finished
//! it and it awaits the driver's reap). Two registers delimit the NIC's work: **TAIL**, written
//! by the driver (the *doorbell*: "descriptors up to here are yours"), and **HEAD**, the NIC's own
//! position. No real NIC is reachable from this lab: the *device* is real code on its own pinned
//! core, sharing memory with the driver thread; the protocol below is the one real drivers speak
//! with real devices.
//!
//! ```
//! use lockfree_lab::nic::descriptor_ring::{len_of, real::fixed, TxDeviceSide, TxDriverSide};
//! let (mut driver, mut nic) = fixed::tx_ring(8);
//! assert!(driver.post(1) && driver.post(2)); // fill two descriptors: buffer, length, OWN
//! assert!(nic.fetch().is_none()); // no doorbell yet: the NIC sees nothing
//! driver.ring_doorbell(); // TAIL = 2 (Release: the `wmb()` before the MMIO write)
//! let seen = nic.fetch().unwrap(); // the NIC's DMA read of descriptor 0 and its packet
//! assert_eq!((seen.header, seen.len), (1, len_of(1)));
//! nic.complete(); // write-back: status, then DD (Release)
//! assert_eq!(driver.reap().map(|d| d.status), Some(1)); // DD seen (Acquire): reaped
//! ```
//!
//! ## The protocol
//! **TX** (the driver sends): the driver writes the packet into a buffer, fills the descriptor at
//! its `next_to_use` (buffer, length, OWN), and after a batch of them writes TAIL — one doorbell
//! per batch, as Linux's `xmit_more` lets a driver do. The NIC reads TAIL, then each descriptor
//! from HEAD up to it and the packet it names (DMA reads), transmits it, writes back the status
//! and sets DD. The driver reaps at its `next_to_clean`: DD set → read the status, free the slot.
//!
//! **RX** (the driver receives): the driver posts empty buffers (buffer, OWN) and rings the
//! doorbell. The NIC takes the descriptor at HEAD, DMAs the packet into its buffer, writes back
//! the length and sets DD. The driver learns of the packet from DD **in host memory** — never by
//! reading a NIC register (an MMIO read stalls the core for a PCIe round trip) — then reads the
//! length and the packet, and re-posts the descriptor with a fresh buffer.
//!
//! TAIL is an index mod N, as the hardware register is, so the driver never fills the last free
//! descriptor: TAIL == HEAD means "nothing for the NIC", and at most N − 1 are in flight (Linux's
//! `ixgbe_desc_unused` keeps the same one back). Each descriptor alternates between two buffers,
//! lap by lap (ixgbe's RX page flip), so a stale buffer index is visible.
//!
//! Every field is an atomic written Relaxed: the ordering of the two marked edges is the whole
//! protocol, and the broken variant is a weak-memory bug (not a data race), safe to run on real
//! cores.
//!
//! ## Synchronization edges
//!
//! | edge              | Release (writer)                                  | Acquire (reader)                               | guarantees |
//! |-------------------|---------------------------------------------------|------------------------------------------------|------------|
//! | `[tx-doorbell]`   | driver stores TAIL after filling descriptors (`wmb(); writel(tail)`) | NIC loads TAIL before reading them | the NIC never reads a half-written descriptor |
//! | `[tx-writeback]`  | NIC sets DD after writing the status back          | driver loads DD before reading the status      | the reaped status is this packet's |
//! | `[rx-refill]`     | driver stores TAIL after posting buffers           | NIC loads TAIL before taking a descriptor      | the NIC DMAs into the buffer just posted |
//! | `[rx-writeback]`  | NIC sets DD after the packet DMA and the length    | driver loads DD before reading length and packet (`dma_rmb()`) | the driver never reads a stale length or packet |
//!
//! ## The broken variant (`diff src/nic/descriptor_ring/broken.rs src/nic/descriptor_ring/fixed.rs`)
//! **TX: the doorbell without `wmb()`.** The driver stores TAIL with Relaxed:
//! 1. the driver writes packet 1 into buffer 0, then descriptor 0: length 61, OWN (Relaxed);
//! 2. the driver stores TAIL = 1 (Relaxed: nothing orders step 1 before it);
//! 3. the NIC loads TAIL → 1 and reads descriptor 0: the flags are still FREE, the length still 0
//!    — a **half-written descriptor**, DMA'd and put on the wire.
//!
//! **RX: DD without `dma_rmb()`.** The driver loads DD with Relaxed:
//! 1. the NIC DMAs packet 1 into buffer 0, writes length 61, sets DD (Release);
//! 2. the driver loads DD → set (Relaxed: no happens-before with step 1);
//! 3. the driver reads the length → 0 and the buffer → 0: a **stale read**, the packet it hands up
//!    the stack is not the one the NIC wrote.
//!
//! ## Who sees it
//!
//! | checker     | TX Relaxed doorbell | RX Relaxed DD load |
//! |-------------|---------------------|--------------------|
//! | loom        | found: the NIC reads a descriptor still FREE | found: the driver reads length 0 under DD |
//! | shuttle     | **blind**: it models every atomic as SeqCst | **blind**, same reason |
//! | real x86-64 | **never**: TSO keeps the driver's stores in order (Release is a plain `mov`), so `run --variant broken` counts 0 torn descriptors | **never**: x86 keeps loads in order |
//!
//! ARM and POWER reorder both (a store may pass an earlier store, a load an earlier load): that is
//! why Linux needs `wmb()` before the tail write and `dma_rmb()` after the DD check there. On x86
//! the Release store and the Acquire load here are plain `mov`s, and Linux's `dma_rmb()` is only a
//! compiler barrier; its `wmb()` is an `sfence` there, for the MMIO doorbell and write-combining
//! stores a real NIC involves, which a doorbell that is an ordinary store to memory does not need.
//!
//! ## The same design as a queue
//! [`queue`] is this ring without the registers: an SPSC queue whose consumer polls the full flag
//! in the slot's own cache line (FastForward), benchmarked against the lab's index-based ring and
//! rtrb in `benches/descriptor_ring.rs`.
//!
//! Sources: Linux `drivers/net/ethernet/intel/ixgbe/ixgbe_main.c` — `ixgbe_tx_map` issues `wmb()`
//! before writing the tail ("force memory writes to complete before letting h/w know there are
//! new descriptors to fetch"), `ixgbe_clean_rx_irq` issues `dma_rmb()` after seeing the DD bit
//! (fm10k and i40e carry the same comment: no other field of the descriptor may be read before it
//! is known to be written back), `ixgbe_desc_unused` keeps one descriptor back; the Intel 82599
//! datasheet (TDT/TDH, RDT/RDH, DD write-back); ixy (Emmerich et al., "User Space Network Drivers",
//! ANCS 2019). The seed animation's latency budget gives the cited PCIe figures `run` prints.

pub mod demo;
pub mod queue;
mod replay;

pub use replay::{step_replay, ReplayStep};

backends! {
    /// The fixed ring: a Release doorbell and an Acquire DD load.
    fixed => "fixed.rs",
    /// The broken ring: the TX doorbell is published Relaxed (no `wmb()`), the RX DD bit is read
    /// Relaxed (no `dma_rmb()`). Every field is an atomic, so it runs on real cores too.
    broken => "broken.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

/// A descriptor nobody owns: the driver may fill it.
pub const FREE: u32 = 0;
/// The OWN bit: the driver handed the descriptor to the NIC.
pub const OWN: u32 = 1;
/// The DD bit: the NIC is done with it; it awaits the driver's reap.
pub const DD: u32 = 2;

/// The length of packet `seq` in bytes: a different, nonzero length for consecutive packets
/// (Ethernet frames of 60..=1514 bytes), so a stale length shows.
pub fn len_of(seq: u64) -> u32 {
    60 + (seq % 1455) as u32
}

/// The name of a flags word, as the step replay draws it.
pub fn flag_name(flags: u32) -> &'static str {
    match flags {
        FREE => "FREE",
        OWN => "OWN",
        DD => "DD",
        _ => "????",
    }
}

/// Checks a descriptor count: a power of two of at least 2 (one descriptor always stays free).
///
/// # Panics
/// With `descriptor ring: the descriptor count must be a power of two of at least 2, got {n}`.
pub fn check_descriptors(n: usize) {
    assert!(
        n >= 2 && n.is_power_of_two(),
        "descriptor ring: the descriptor count must be a power of two of at least 2, got {n}"
    );
}

/// What the NIC read in one TX descriptor fetch (its DMA reads of the descriptor and the packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFetched {
    /// The descriptor's index.
    pub desc: usize,
    /// Its flags as read: `OWN` when the driver's writes were visible.
    pub flags: u32,
    /// The buffer it names.
    pub buffer: usize,
    /// Its length field.
    pub len: u32,
    /// The packet's header word read from the buffer (its sequence number).
    pub header: u64,
}

impl TxFetched {
    /// Why this descriptor is torn (not the whole, fully written descriptor of packet
    /// `expected`), if it is.
    pub fn torn(&self, expected: u64) -> Option<String> {
        if self.flags != OWN || self.header != expected || self.len != len_of(expected) {
            Some(format!(
                "torn descriptor: the NIC fetched d{} with flags {}, length {}, packet #{} from buffer {} after the \
                 doorbell; the driver wrote OWN, length {}, packet #{expected}",
                self.desc,
                flag_name(self.flags),
                self.len,
                self.header,
                self.buffer,
                len_of(expected)
            ))
        } else {
            None
        }
    }
}

/// A TX descriptor the driver reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxDone {
    /// The descriptor's index.
    pub desc: usize,
    /// The packet the driver posted in it.
    pub seq: u64,
    /// The status the NIC wrote back (the packet it sent): `seq` when the write-back was visible.
    pub status: u64,
}

/// What the NIC saw when it took an RX descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxTaken {
    /// The descriptor's index.
    pub desc: usize,
    /// Its flags as read: `OWN` when the driver's post was visible.
    pub flags: u32,
    /// The buffer it named, which the packet was DMA'd into.
    pub buffer: usize,
}

/// An RX descriptor the driver reaped: what it read under DD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The descriptor's index.
    pub desc: usize,
    /// The buffer the driver had posted in it.
    pub buffer: usize,
    /// The length written back, as read.
    pub len: u32,
    /// The packet's header word, as read from the buffer (its sequence number).
    pub header: u64,
}

impl Received {
    /// Why this is a stale read (not packet `expected` with its length), if it is.
    pub fn stale(&self, expected: u64) -> Option<String> {
        if self.header != expected || self.len != len_of(expected) {
            Some(format!(
                "stale read: the driver saw DD on d{} but read length {} and packet #{} from buffer {}; the NIC wrote \
                 length {}, packet #{expected}",
                self.desc,
                self.len,
                self.header,
                self.buffer,
                len_of(expected)
            ))
        } else {
            None
        }
    }
}

/// One descriptor as the step replay draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DescView {
    /// `FREE`, `OWN` or `DD`.
    pub flags: u32,
    /// The buffer it names.
    pub buffer: usize,
    /// Its length field.
    pub len: u32,
}

/// The driver's side of a TX ring (implemented by every variant on every backend).
pub trait TxDriverSide: Send + 'static {
    /// Writes packet `seq` into a buffer and fills the descriptor at `next_to_use` (buffer,
    /// length, OWN); false when no descriptor is free. The NIC sees it after the next doorbell.
    fn post(&mut self, seq: u64) -> bool;
    /// Publishes TAIL up to the last posted descriptor; false when nothing new was posted.
    fn ring_doorbell(&mut self) -> bool;
    /// Reaps the descriptor at `next_to_clean` if its DD bit is set.
    fn reap(&mut self) -> Option<TxDone>;
    /// Descriptors posted and not yet reaped (OWN or DD).
    fn in_flight(&self) -> usize;
}

/// The NIC's side of a TX ring.
pub trait TxDeviceSide: Send + 'static {
    /// Descriptors the NIC owns as of its last TAIL read: TAIL − HEAD (mod N), including the
    /// one it is working on.
    fn backlog(&self) -> usize;
    /// Reads the descriptor at HEAD and its packet (a DMA read), if the doorbell covers it.
    fn fetch(&mut self) -> Option<TxFetched>;
    /// Writes back the fetched descriptor's status, sets DD and advances HEAD.
    ///
    /// # Panics
    /// If no descriptor was fetched.
    fn complete(&mut self);
}

/// The driver's side of an RX ring.
pub trait RxDriverSide: Send + 'static {
    /// Posts an empty buffer in the descriptor at `next_to_use` (buffer, OWN); false when none
    /// is free. The NIC sees it after the next doorbell.
    fn post(&mut self) -> bool;
    /// Publishes TAIL up to the last posted descriptor; false when nothing new was posted.
    fn ring_doorbell(&mut self) -> bool;
    /// Reaps the descriptor at `next_to_clean` if its DD bit is set: its length and packet.
    fn reap(&mut self) -> Option<Received>;
    /// Descriptors posted and not yet reaped (OWN or DD).
    fn in_flight(&self) -> usize;
}

/// The NIC's side of an RX ring.
pub trait RxDeviceSide: Send + 'static {
    /// Descriptors the NIC owns as of its last TAIL read: TAIL − HEAD (mod N), including the
    /// one it is working on.
    fn backlog(&self) -> usize;
    /// Takes the descriptor at HEAD, if the doorbell covers it, and DMAs packet `seq` into its
    /// buffer.
    fn dma(&mut self, seq: u64) -> Option<RxTaken>;
    /// Writes back the length, sets DD and advances HEAD.
    ///
    /// # Panics
    /// If no packet was DMA'd.
    fn complete(&mut self);
}

/// The ring as the step replay draws it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RingView {
    /// The NIC's HEAD.
    pub head: usize,
    /// The TAIL register (the last doorbell).
    pub tail: usize,
    /// Every descriptor.
    pub descs: Vec<DescView>,
}

mod cores;
pub use cores::{run_on_cores, CoreRun, Mode, PCIE_NOTE, X86_NOTE};
