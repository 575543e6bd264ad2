//! # IOMMU: every DMA translated and checked — and an unmap is over only when the device says so
//!
//! **This machine has no IOMMU to program** (its kernel registers none under `/sys/class/iommu`,
//! and the lab runs unprivileged), and no NIC is reachable from the lab. So the IOMMU here is the
//! lab's model of one, built the way Intel VT-d's second-level translation is: a per-device
//! **4-level radix page table** (9 index bits per level, 4 KiB pages, 48-bit IOVAs) whose table
//! pages live *in* a simulated physical memory (a boxed slice of atomic words, so two real threads
//! never race on plain memory), an **IOTLB** inside the device, and an **invalidation queue**
//! with a completion word. The device is real code on its own pinned core standing in for the
//! NIC; the driver is real code on the other. The protocol between them is the one real drivers
//! follow.
//!
//! ```
//! use lockfree_lab::nic::iommu::{real::fixed, Access, FaultKind, Geometry, Perm};
//! let (mut driver, mut device) = fixed::new(Geometry::X86, 16, false);
//! driver.claim_frame(4);
//! driver.map(0x1000, 4, Perm::RW).unwrap(); // IOVA 0x1000 -> physical 0x4000 (the seed's RX buffer)
//! device.dma_write(0x1000, &[42]).unwrap(); // IOTLB miss, 4-level walk, fill, write
//! assert_eq!(driver.iommu().read_word(0x4000), 42);
//! let blocked = device.dma_write(0xf000, &[1]).unwrap_err(); // no PTE: blocked, logged
//! assert!(matches!(blocked.kind, FaultKind::NotPresent { .. }));
//! assert_eq!(device.faults.count, 1);
//! let unmapped = driver.unmap(0x1000).unwrap(); // clear the PTE, post an invalidation
//! assert!(driver.try_reclaim(unmapped).is_err()); // strict: not reusable before the device's ack
//! device.service_invalidations(); // the device flushes its IOTLB and acknowledges
//! assert_eq!(driver.try_reclaim(unmapped), Ok(4));
//! assert!(device.translate(0x1000, Access::Write).is_err()); // the stale translation is gone
//! ```
//!
//! ## Translation: what every DMA goes through
//! A DMA names an IOVA. The device looks its page up in the IOTLB; on a miss it walks the table
//! from the root (frame 1), one 8-byte entry per level, and fills the IOTLB with the leaf's frame
//! and permissions. A DMA is **blocked and logged** ([`FaultLog`]) when its IOVA is unaligned,
//! beyond the 48-bit aperture ([`FaultKind::OutOfRange`]), has no entry at some level
//! ([`FaultKind::NotPresent`], the seed's "no PTE — DMA blocked"), or lacks the permission
//! ([`FaultKind::Permission`]: a write to a read-only TX buffer). A DMA that crosses a page is
//! translated page by page. With `--passthrough` (`iommu=pt`) there is no translation: a device
//! address is a physical address, and a stray DMA to `0x100` lands in frame 0, the kernel text.
//!
//! | entry bits | meaning (VT-d second-level style) |
//! |------------|-----------------------------------|
//! | 0          | R: reads allowed                  |
//! | 1          | W: writes allowed                 |
//! | 12..       | the next table's frame, or the page's frame (leaf) |
//! | all 0      | not present: the walk stops, the DMA is blocked |
//!
//! ## Synchronization edges (fixed)
//!
//! | edge            | one side                                        | other side                                   | carries |
//! |-----------------|-------------------------------------------------|----------------------------------------------|---------|
//! | `[pte-publish]` | driver: writes the buffer / zeroes a new table, then Release-stores the entry | device: Acquire-loads each entry on its walk | a translated DMA sees the table and the buffer as the driver left them |
//! | `[inv-post]`    | driver: clears the leaf entry, Release-stores the queue tail | device: Acquire-loads the tail, flushes its IOTLB | every walk after the flush sees the cleared entry |
//! | `[inv-done]`    | device: its DMAs, the flush, then Release-stores the completion word | driver: Acquire-loads it ≥ its sequence number, then reuses the frame | every DMA through the old translation happens-before the reuse |
//!
//! ## The bug: lazy unmap is a use-after-free through a stale translation
//! `diff src/nic/iommu/broken.rs src/nic/iommu/fixed.rs`: one block, in `try_reclaim`. Unmap clears
//! the entry and posts an invalidation in both; **fixed** (strict) hands the frame back only
//! after the device acknowledged the invalidation; **broken** (lazy) hands it back at once. The
//! failing interleaving (`check iommu`, `step iommu`):
//! 1. the device has DMA'd to IOVA X: its IOTLB holds X → frame F;
//! 2. the device starts a DMA to X: its IOTLB hits (the invalidation queue is empty);
//! 3. the driver clears X's entry and posts invalidation 1;
//! 4. broken: the driver takes F back at once and reuses it — writes new data into it;
//! 5. the device's DMA lands, through the stale translation, **in the reused frame**: the new
//!    owner's data is overwritten;
//! 6. only then does the device service its queue, flush and acknowledge.
//!
//! It is RCU's shape: the IOTLB entry is a reader's reference, the invalidation plus its
//! acknowledgement is the grace period, and reusing F before it ends is the use-after-free. It
//! is an *interleaving* bug, not a weak-ordering one, so every checker and real x86 cores see it.
//! The model scenario (`scenario.rs`: `map_unmap_reuse`, one
//! thread per side) also maps a transmit buffer while the device reads it, so the same run checks
//! all three edges:
//!
//! | checker        | broken (lazy)                          | fixed (strict) |
//! |----------------|----------------------------------------|----------------|
//! | loom           | found at execution 1 (`use after free`): nothing orders the DMA's store before the driver's refill, so loom may put the DMA last in that word's coherence order even when it ran first | passes at preemption bound 3 (~200 executions); each weakened ordering of the three edges is found (`scripts/mutate-orderings iommu`: 6 of 6 killed) |
//! | shuttle        | found, random and PCT (tens of schedules) | passes      |
//! | real x86 cores | found: `run iommu` counts reused frames the device overwrote | 0 corrupted |
//!
//! A loom note, measured: run unbounded, loom's search of this scenario ends after ~100
//! executions and misses a weakened walk ordering that bound 3 finds (both threads spin-wait on
//! each other; `loom-tests/iommu.rs` pins it), so the lab checks it at bound 3.
//!
//! One rule is the caller's, as in Linux: an IOVA is mapped again only after its unmap
//! completed (Linux frees an IOVA only after the flush, in strict and lazy mode alike), else a
//! stale IOTLB entry could send a DMA for the new mapping to the old frame. The property test
//! (`tests/iommu.rs`) drives random map / unmap / DMA sequences under that rule against an oracle
//! map: no DMA ever reaches memory that is not the device's at that moment.
//!
//! `scripts/mutate-logic` keeps three logic mutants of the fixed variant dead: no wait for the
//! device's acknowledgement (the bug itself), an acknowledgement without an IOTLB flush (both
//! caught by the model tests), and no permission check (caught by `tests/iommu.rs`).
//!
//! ## What Linux does
//! Linux's `iommu.strict=1` ("DMA unmap operations invalidate IOMMU hardware TLBs synchronously")
//! is the fixed variant; `iommu.strict=0`, lazy mode ("deferred invalidation of hardware TLBs,
//! for increased throughput at the cost of reduced device isolation"), batches invalidations in
//! a flush queue, so devices can still reach a buffer for a while after `dma_unmap` returned
//! (`Documentation/admin-guide/kernel-parameters.txt`). Linux does not reuse the *IOVA* before
//! the flush, but the page itself goes back to its owner at once: a well-behaved device never
//! touches it, a buggy or malicious one can — the broken variant's window. Intel's strict path
//! waits like `try_reclaim`: `qi_submit_sync` (`drivers/iommu/intel/dmar.c`) queues the IOTLB
//! invalidation followed by an *invalidation wait descriptor* whose status write
//! (`QI_IWD_STATUS_DATA(QI_DONE)`) the driver polls — the `[inv-done]` word here. Cited, not
//! measured: the 2008 commit that introduced batched flushing on VT-d (Mark Gross, "PCI: iommu:
//! iotlb flushing": flush after 250 entries or 10 ms) reports it recovered 15–20 % of the
//! throughput the IOMMU cost in a netperf UDP small-packet test, and "does weaken the IOMMU
//! protections a bit".
//!
//! ## What real cores show, and what they cannot
//! `run iommu` measures this model on two pinned cores: DMAs per second through the IOTLB, the
//! unmap cost strict vs lazy (waiting for the other core's acknowledgement is a cross-core round
//! trip), and the translation cost on the device core: an IOTLB hit, a full 4-level walk, and
//! passthrough. On the 2-vCPU EPYC guest this was written on (release build, heavily loaded):
//! lazy overwrote about 1.2 % of 100,000 reused frames, strict none; a 64-byte DMA cost ~11 ns
//! through an IOTLB hit, ~19 ns through a full walk, ~10 ns in passthrough. These are costs of
//! *this software model*, not of an IOMMU: a hardware IOTLB miss
//! costs memory reads by the IOMMU across the chipset. Cited, not measured: Farshin et al.,
//! "Overcoming the IOTLB wall for multi-100-Gbps Linux-based networking" (PeerJ CS, 2023),
//! measured up to a 20 % throughput drop at 200 Gbps from IOTLB misses on Xeon and EPYC servers.
//!
//! Sources: Intel Virtualization Technology for Directed I/O, Architecture Specification
//! (second-level translation, invalidation queue, invalidation wait descriptor); Linux
//! `drivers/iommu/intel/dmar.c` (`qi_submit_sync`) and `drivers/iommu/dma-iommu.c` (flush queues);
//! N. Amit, M. Ben-Yehuda, B.-A. Yassour, "IOMMU: Strategies for Mitigating the IOTLB
//! Bottleneck" (WIOSCA 2010); the seed's "IOMMU / IOVA" demo (IOVA 0x1000 → 0x4000 RX buffer,
//! 0x2000 → 0x8000 TX buffer, everything else blocked).

use std::fmt;

backends! {
    /// The fixed IOMMU: strict unmap (wait for the device's acknowledgement before reuse).
    fixed => "fixed.rs",
    /// The broken IOMMU: lazy unmap (reuse at once). Every shared word is an atomic, so the bug
    /// is a logic bug, not undefined behaviour: it also runs on real cores.
    broken => "broken.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

pub mod cores;
pub mod demo;
pub mod replay;

/// Frame 0: kernel text. Every word of it holds `KERNEL_TEXT | word index`.
pub const KERNEL_FRAMES: u64 = 1;

/// Frame 1: the root (level-4) table.
pub const ROOT_FRAME: u64 = 1;

/// What kernel text holds (`KERNEL` in ASCII, then the word's index).
pub const KERNEL_TEXT: u64 = 0x4b45_524e_454c_0000;

/// The table's shape: `bits` index bits per level, 4 levels, and pages of `2^bits` 8-byte words
/// (a table fills exactly one page, as on x86).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    bits: u32,
}

impl Geometry {
    /// Table levels (x86's 4-level second-level tables).
    pub const LEVELS: u32 = 4;
    /// x86: 512 entries per table, 4 KiB pages, 48-bit IOVAs.
    pub const X86: Geometry = Geometry { bits: 9 };
    /// The property test's: 4 entries per table, 32-byte pages, 13-bit IOVAs.
    pub const SMALL: Geometry = Geometry { bits: 2 };
    /// The model checkers': 2 entries per table, 16-byte pages, 8-bit IOVAs (as tokio shrinks
    /// its queues under loom: the same code, small enough to explore).
    pub const MODEL: Geometry = Geometry { bits: 1 };

    /// Index bits per level.
    pub const fn bits(self) -> u32 {
        self.bits
    }
    /// Entries per table.
    pub const fn entries(self) -> usize {
        1 << self.bits
    }
    /// log2 of the page size.
    pub const fn page_shift(self) -> u32 {
        self.bits + 3
    }
    /// Bytes per page.
    pub const fn page_size(self) -> u64 {
        1 << self.page_shift()
    }
    /// 8-byte words per page.
    pub const fn page_words(self) -> usize {
        1 << self.bits
    }
    /// Bits of IOVA the table translates; a higher IOVA is out of range.
    pub const fn iova_bits(self) -> u32 {
        Self::LEVELS * self.bits + self.page_shift()
    }
    /// The index into the level-`level` table (4 = root, 1 = leaf) for `iova`.
    #[inline]
    pub const fn index(self, iova: u64, level: u32) -> usize {
        ((iova >> (self.page_shift() + (level - 1) * self.bits)) & (self.entries() as u64 - 1)) as usize
    }
    /// The page number of `iova` (what the IOTLB is keyed by).
    #[inline]
    pub const fn vpn(self, iova: u64) -> u64 {
        iova >> self.page_shift()
    }
    /// The offset of `iova` in its page.
    #[inline]
    pub const fn offset(self, iova: u64) -> u64 {
        iova & (self.page_size() - 1)
    }
}

/// A DMA's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Access {
    /// The device reads host memory (a TX buffer).
    Read,
    /// The device writes host memory (an RX buffer).
    Write,
}

/// An entry's permissions: bit 0 read, bit 1 write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm(u64);

impl Perm {
    /// Neither.
    pub const NONE: Perm = Perm(0);
    /// Read-only (a TX buffer: the device reads it).
    pub const R: Perm = Perm(1);
    /// Write-only.
    pub const W: Perm = Perm(2);
    /// Both (an RX buffer, and every non-leaf entry).
    pub const RW: Perm = Perm(3);

    /// Whether `access` is allowed.
    #[inline]
    pub const fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.0 & 1 != 0,
            Access::Write => self.0 & 2 != 0,
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = if self.0 & 1 != 0 { "R" } else { "-" };
        let w = if self.0 & 2 != 0 { "W" } else { "-" };
        write!(f, "{r}{w}")
    }
}

/// A page-table entry (see the table in the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pte(pub u64);

impl Pte {
    /// An entry pointing at `frame` with `perm`.
    #[inline]
    pub const fn new(frame: u64, perm: Perm, g: Geometry) -> Self {
        Pte((frame << g.page_shift()) | perm.0)
    }
    /// Present: some permission is set.
    #[inline]
    pub const fn present(self) -> bool {
        self.0 & 3 != 0
    }
    /// Its permissions.
    #[inline]
    pub const fn perm(self) -> Perm {
        Perm(self.0 & 3)
    }
    /// The frame it points at.
    #[inline]
    pub const fn frame(self, g: Geometry) -> u64 {
        self.0 >> g.page_shift()
    }
}

/// One entry read by a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkStep {
    /// 4 = root … 1 = leaf.
    pub level: u32,
    /// The frame holding the table.
    pub table: u64,
    /// The index into it.
    pub index: usize,
    /// The entry read.
    pub pte: Pte,
}

/// Why a DMA was blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Not 8-byte aligned.
    Unaligned,
    /// Beyond the IOVA aperture (48 bits on x86).
    OutOfRange,
    /// No entry at `level`: nothing is mapped there.
    NotPresent {
        /// Where the walk stopped (4 = root … 1 = leaf).
        level: u32,
    },
    /// An entry points outside physical memory (a corrupt table).
    BadEntry {
        /// The level of the bad entry.
        level: u32,
    },
    /// The mapping does not allow this access.
    Permission {
        /// What the mapping allows.
        perm: Perm,
    },
    /// Passthrough: the address is beyond physical memory.
    NoMemory,
}

/// A blocked DMA, as the IOMMU's fault-recording registers would log it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The device address.
    pub iova: u64,
    /// Read or write.
    pub access: Access,
    /// Why.
    pub kind: FaultKind,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            FaultKind::Unaligned => "unaligned".to_string(),
            FaultKind::OutOfRange => "beyond the IOVA aperture".to_string(),
            FaultKind::NotPresent { level } => format!("no PTE (level {level} entry not present)"),
            FaultKind::BadEntry { level } => format!("level {level} entry points outside memory"),
            FaultKind::Permission { perm } => format!("permission: the mapping is {perm}"),
            FaultKind::NoMemory => "no memory at that physical address".to_string(),
        };
        let dir = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        write!(f, "DMA {dir} at {:#x} blocked: {why}", self.iova)
    }
}

/// The device's fault log: every blocked DMA counted, the first [`FaultLog::KEPT`] kept.
#[derive(Clone, Debug, Default)]
pub struct FaultLog {
    /// Blocked DMAs.
    pub count: u64,
    /// The first ones.
    pub first: Vec<Fault>,
}

impl FaultLog {
    /// Faults kept in full.
    pub const KEPT: usize = 16;

    /// Logs `fault`.
    pub fn record(&mut self, fault: Fault) {
        self.count += 1;
        if self.first.len() < Self::KEPT {
            self.first.push(fault);
        }
    }
}

/// A cached translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IotlbEntry {
    /// The IOVA's page number.
    pub vpn: u64,
    /// The frame it maps to.
    pub frame: u64,
    /// The leaf's permissions.
    pub perm: Perm,
}

/// IOTLB entries (direct-mapped: page `vpn` goes to slot `vpn % IOTLB_ENTRIES`).
pub const IOTLB_ENTRIES: usize = 16;

/// The device's IOTLB: a small direct-mapped translation cache, private to the device thread
/// (plain memory: only the device touches it; the driver reaches it only through the
/// invalidation queue).
#[derive(Clone, Debug)]
pub struct Iotlb {
    slots: [Option<IotlbEntry>; IOTLB_ENTRIES],
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups that missed (a walk followed).
    pub misses: u64,
    /// Full flushes.
    pub flushes: u64,
}

impl Default for Iotlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Iotlb {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            slots: [None; IOTLB_ENTRIES],
            hits: 0,
            misses: 0,
            flushes: 0,
        }
    }

    /// The cached translation of page `vpn`, counted as a hit or a miss.
    #[inline]
    pub fn lookup(&mut self, vpn: u64) -> Option<IotlbEntry> {
        match self.slots[(vpn % IOTLB_ENTRIES as u64) as usize] {
            Some(e) if e.vpn == vpn => {
                self.hits += 1;
                Some(e)
            }
            _ => {
                self.misses += 1;
                None
            }
        }
    }

    /// Caches `entry` (evicting whatever held its slot).
    #[inline]
    pub fn fill(&mut self, entry: IotlbEntry) {
        self.slots[(entry.vpn % IOTLB_ENTRIES as u64) as usize] = Some(entry);
    }

    /// Drops every entry.
    pub fn flush(&mut self) {
        self.slots = [None; IOTLB_ENTRIES];
        self.flushes += 1;
    }

    /// The valid entries, by slot.
    pub fn entries(&self) -> impl Iterator<Item = (usize, IotlbEntry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, e)| e.map(|e| (i, e)))
    }
}

/// Why a map failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The IOVA is not page-aligned.
    Unaligned,
    /// The IOVA is beyond the aperture.
    OutOfRange,
    /// The frame is beyond physical memory.
    NoSuchFrame,
    /// No free frame for a table.
    OutOfFrames,
    /// The page is mapped already.
    AlreadyMapped,
}

/// An unmapped page whose frame is not reusable yet: the invalidation `seq` must complete first
/// (strict), or not (lazy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The IOVA that was unmapped.
    pub iova: u64,
    /// The frame it mapped to.
    pub frame: u64,
    /// The invalidation posted for it.
    pub seq: u64,
}

/// What the scenarios and the real-core run need of a driver.
pub trait IommuDriver: Send + 'static {
    /// See `fixed::Driver::map`.
    fn map(&mut self, iova: u64, frame: u64, perm: Perm) -> Result<(), MapError>;
    /// See `fixed::Driver::unmap`.
    fn unmap(&mut self, iova: u64) -> Option<Unmapped>;
    /// See `fixed::Driver::try_reclaim`.
    fn try_reclaim(&self, unmapped: Unmapped) -> Result<u64, Unmapped>;
    /// See `fixed::Driver::reclaim`.
    fn reclaim(&self, unmapped: Unmapped) -> u64;
    /// See `fixed::Driver::alloc_frame`.
    fn alloc_frame(&mut self) -> Option<u64>;
    /// See `fixed::Driver::free_frame`.
    fn free_frame(&mut self, frame: u64);
    /// See `fixed::Driver::fill_frame`.
    fn fill_frame(&self, frame: u64, value: u64);
    /// See `fixed::Driver::frame_words`.
    fn frame_words(&self, frame: u64) -> Vec<u64>;
    /// See `fixed::Driver::claim_frame`.
    fn claim_frame(&mut self, frame: u64) -> bool;
    /// See `fixed::Driver::path`.
    fn path(&self, iova: u64) -> Vec<WalkStep>;
    /// The invalidation queue: `(posted, done)` (see `fixed::Iommu::invalidations`).
    fn invalidations(&self) -> (u64, u64);
}

/// What the scenarios and the real-core run need of a device.
pub trait IommuDevice: Send + 'static {
    /// See `fixed::Device::service_invalidations`.
    fn service_invalidations(&mut self) -> bool;
    /// See `fixed::Device::dma_write`.
    fn dma_write(&mut self, iova: u64, data: &[u64]) -> Result<(), Fault>;
    /// See `fixed::Device::dma_read`.
    fn dma_read(&mut self, iova: u64, out: &mut [u64]) -> Result<(), Fault>;
    /// The device's IOTLB.
    fn iotlb(&mut self) -> &mut Iotlb;
    /// The device's fault log.
    fn faults(&self) -> &FaultLog;
    /// A page walk for `iova` that records every entry it reads (see `fixed::Device::walk_with`).
    fn walk_steps(&self, iova: u64, access: Access) -> (Vec<WalkStep>, Result<IotlbEntry, Fault>);
}

/// Builds an IOMMU: `(geometry, frames, passthrough) -> (driver, device)`.
pub type Make<D, V> = fn(Geometry, u64, bool) -> (D, V);

macro_rules! impl_sides {
    ($($backend:ident::$variant:ident),+) => {$(
        impl IommuDriver for $backend::$variant::Driver {
            fn map(&mut self, iova: u64, frame: u64, perm: Perm) -> Result<(), MapError> {
                $backend::$variant::Driver::map(self, iova, frame, perm)
            }
            fn unmap(&mut self, iova: u64) -> Option<Unmapped> {
                $backend::$variant::Driver::unmap(self, iova)
            }
            fn try_reclaim(&self, unmapped: Unmapped) -> Result<u64, Unmapped> {
                $backend::$variant::Driver::try_reclaim(self, unmapped)
            }
            fn reclaim(&self, unmapped: Unmapped) -> u64 {
                $backend::$variant::Driver::reclaim(self, unmapped)
            }
            fn alloc_frame(&mut self) -> Option<u64> {
                $backend::$variant::Driver::alloc_frame(self)
            }
            fn free_frame(&mut self, frame: u64) {
                $backend::$variant::Driver::free_frame(self, frame)
            }
            fn fill_frame(&self, frame: u64, value: u64) {
                $backend::$variant::Driver::fill_frame(self, frame, value)
            }
            fn frame_words(&self, frame: u64) -> Vec<u64> {
                $backend::$variant::Driver::frame_words(self, frame)
            }
            fn claim_frame(&mut self, frame: u64) -> bool {
                $backend::$variant::Driver::claim_frame(self, frame)
            }
            fn path(&self, iova: u64) -> Vec<WalkStep> {
                $backend::$variant::Driver::path(self, iova)
            }
            fn invalidations(&self) -> (u64, u64) {
                self.iommu().invalidations()
            }
        }
        impl IommuDevice for $backend::$variant::Device {
            fn service_invalidations(&mut self) -> bool {
                $backend::$variant::Device::service_invalidations(self)
            }
            #[inline]
            fn dma_write(&mut self, iova: u64, data: &[u64]) -> Result<(), Fault> {
                $backend::$variant::Device::dma_write(self, iova, data)
            }
            #[inline]
            fn dma_read(&mut self, iova: u64, out: &mut [u64]) -> Result<(), Fault> {
                $backend::$variant::Device::dma_read(self, iova, out)
            }
            fn iotlb(&mut self) -> &mut Iotlb {
                &mut self.iotlb
            }
            fn faults(&self) -> &FaultLog {
                &self.faults
            }
            fn walk_steps(&self, iova: u64, access: Access) -> (Vec<WalkStep>, Result<IotlbEntry, Fault>) {
                let mut steps = Vec::new();
                let r = self.walk_with(iova, access, |s| steps.push(s));
                (steps, r)
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
