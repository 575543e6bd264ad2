// FIX: strict unmap. A frame the driver unmapped comes back for reuse only once the device has
// flushed its IOTLB and acknowledged the invalidation (`try_reclaim`, the FIX block).
use super::sync::{Arc, AtomicU64, Backoff, Ordering};
use crate::nic::iommu::{
    Access, Fault, FaultKind, FaultLog, Geometry, Iotlb, IotlbEntry, MapError, Perm, Pte, Unmapped, WalkStep,
    KERNEL_FRAMES, KERNEL_TEXT, ROOT_FRAME,
};

/// What the driver and the device share: the simulated physical memory (the page tables live in
/// it, as real second-level tables live in RAM) and the invalidation queue's two counters.
#[derive(Debug)]
pub struct Iommu {
    /// Table fan-out and page size.
    geometry: Geometry,
    /// Physical memory, one atomic word per 8 bytes: `frames × geometry.page_words()` words.
    /// Atomics because the device thread and the driver thread touch the same words.
    memory: Box<[AtomicU64]>,
    /// Frames of memory; physical addresses run over `0..frames << page_shift`.
    frames: u64,
    /// Translation off (`iommu=pt`): a device address *is* a physical address.
    passthrough: bool,
    /// Invalidations the driver has posted (the queue's tail), `0..`; stored only by the driver.
    inv_posted: AtomicU64,
    /// Invalidations the device has completed (the wait descriptor's status word), `0..=inv_posted`;
    /// stored only by the device.
    inv_done: AtomicU64,
}

impl Iommu {
    /// The memory word at physical address `phys` (8-byte aligned, inside memory).
    #[inline]
    fn word(&self, phys: u64) -> &AtomicU64 {
        debug_assert!(phys % 8 == 0 && phys < self.frames << self.geometry.page_shift());
        &self.memory[(phys >> 3) as usize]
    }

    /// The physical address of entry `index` of the table in frame `table`.
    #[inline]
    fn entry_addr(&self, table: u64, index: usize) -> u64 {
        (table << self.geometry.page_shift()) + 8 * index as u64
    }

    /// A page-table entry as the device's walk reads it.
    #[inline]
    fn walk_entry(&self, addr: u64) -> Pte {
        // ORDERING: Acquire [pte-publish] — pairs with the driver's Release store of this entry: the table or page it points to was written before.
        Pte(self.word(addr).load(Ordering::Acquire))
    }

    /// Table fan-out and page size.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Frames of memory.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Whether translation is off.
    pub fn passthrough(&self) -> bool {
        self.passthrough
    }

    /// A CPU read of the word at `phys` (checks and the replay; not part of the protocol).
    pub fn read_word(&self, phys: u64) -> u64 {
        // ORDERING: Relaxed [cpu-access] — a snapshot: callers order it by a join or their own protocol.
        self.word(phys).load(Ordering::Relaxed)
    }

    /// The words of `frame`, as the CPU reads them.
    pub fn frame_words(&self, frame: u64) -> Vec<u64> {
        let base = frame << self.geometry.page_shift();
        (0..self.geometry.page_words() as u64)
            .map(|i| self.read_word(base + 8 * i))
            .collect()
    }

    /// The invalidation queue: `(posted, done)`.
    pub fn invalidations(&self) -> (u64, u64) {
        // ORDERING: Relaxed [snapshot] — for display: nothing is read through these values.
        let posted = self.inv_posted.load(Ordering::Relaxed);
        // ORDERING: Relaxed [snapshot] — for display: nothing is read through these values.
        let done = self.inv_done.load(Ordering::Relaxed);
        (posted, done)
    }
}

/// An IOMMU over `frames` frames of `geometry`, its driver and its device. Frame 0 holds kernel
/// text ([`KERNEL_TEXT`] in every word), frame 1 the root table; the rest are free.
///
/// # Panics
/// With fewer than 3 frames (kernel, root, one more).
pub fn new(geometry: Geometry, frames: u64, passthrough: bool) -> (Driver, Device) {
    assert!(
        frames > ROOT_FRAME + 1,
        "iommu::new: at least 3 frames (kernel text, root table, one page)"
    );
    let kernel_words = KERNEL_FRAMES as usize * geometry.page_words();
    let words = frames as usize * geometry.page_words();
    let memory: Box<[AtomicU64]> = (0..words)
        .map(|i| AtomicU64::new(if i < kernel_words { KERNEL_TEXT | i as u64 } else { 0 }))
        .collect();
    let iommu = Arc::new(Iommu {
        geometry,
        memory,
        frames,
        passthrough,
        inv_posted: AtomicU64::new(0),
        inv_done: AtomicU64::new(0),
    });
    let driver = Driver {
        iommu: Arc::clone(&iommu),
        free: (ROOT_FRAME + 1..frames).rev().collect(),
        posted: 0,
    };
    let device = Device {
        iommu,
        iotlb: Iotlb::new(),
        done: 0,
        faults: FaultLog::default(),
        walks: 0,
    };
    (driver, device)
}

/// The driver (the OS side): owns the free frames, edits the page table, posts invalidations.
#[derive(Debug)]
pub struct Driver {
    iommu: Arc<Iommu>,
    /// Free frames; `alloc_frame` takes the lowest.
    free: Vec<u64>,
    /// Invalidations posted so far (the last value stored to `inv_posted`).
    posted: u64,
}

impl Driver {
    /// The shared IOMMU.
    pub fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    /// A free frame, the lowest one.
    pub fn alloc_frame(&mut self) -> Option<u64> {
        self.free.pop()
    }

    /// Takes `frame` out of the free list (the replay maps the seed's frames); false if not free.
    pub fn claim_frame(&mut self, frame: u64) -> bool {
        match self.free.iter().position(|&f| f == frame) {
            Some(i) => {
                self.free.remove(i);
                true
            }
            None => false,
        }
    }

    /// Gives `frame` back to the free list.
    pub fn free_frame(&mut self, frame: u64) {
        debug_assert!(!self.free.contains(&frame), "frame {frame} freed twice");
        self.free.push(frame);
    }

    /// The CPU writes `value` into every word of `frame`.
    pub fn fill_frame(&self, frame: u64, value: u64) {
        let base = frame << self.iommu.geometry.page_shift();
        for i in 0..self.iommu.geometry.page_words() as u64 {
            // ORDERING: Relaxed [cpu-access] — published to the device by [pte-publish], or ordered after its DMAs by [inv-done].
            self.iommu.word(base + 8 * i).store(value, Ordering::Relaxed);
        }
    }

    /// The words of `frame`, as the CPU reads them.
    pub fn frame_words(&self, frame: u64) -> Vec<u64> {
        self.iommu.frame_words(frame)
    }

    /// An entry as the driver reads it.
    fn own_entry(&self, addr: u64) -> Pte {
        // ORDERING: Relaxed [driver-only] — only the driver stores page-table entries: it reads its own writes.
        Pte(self.iommu.word(addr).load(Ordering::Relaxed))
    }

    /// Makes an entry point at a table or a page.
    fn set_entry(&self, addr: u64, pte: Pte) {
        // ORDERING: Release [pte-publish] — the zeroed table or the buffer behind `pte` happens-before any walk whose Acquire load reads this entry.
        self.iommu.word(addr).store(pte.0, Ordering::Release);
    }

    /// Clears a leaf entry.
    fn clear_entry(&self, addr: u64) {
        // ORDERING: Relaxed [inv-post] — ordered before the device's next walk by the Release post of the invalidation that follows.
        self.iommu.word(addr).store(0, Ordering::Relaxed);
    }

    /// The leaf entry's address for `iova`, if every table on its path exists.
    fn leaf_addr(&self, iova: u64) -> Option<u64> {
        let g = self.iommu.geometry;
        let mut table = ROOT_FRAME;
        for level in (2..=Geometry::LEVELS).rev() {
            let pte = self.own_entry(self.iommu.entry_addr(table, g.index(iova, level)));
            if !pte.present() {
                return None;
            }
            table = pte.frame(g);
        }
        Some(self.iommu.entry_addr(table, g.index(iova, 1)))
    }

    /// The entries on `iova`'s path, root first: `(level, table frame, index, entry)`.
    pub fn path(&self, iova: u64) -> Vec<WalkStep> {
        let g = self.iommu.geometry;
        let mut table = ROOT_FRAME;
        let mut steps = Vec::new();
        for level in (1..=Geometry::LEVELS).rev() {
            let index = g.index(iova, level);
            let pte = self.own_entry(self.iommu.entry_addr(table, index));
            steps.push(WalkStep {
                level,
                table,
                index,
                pte,
            });
            if !pte.present() || level == 1 {
                break;
            }
            table = pte.frame(g);
        }
        steps
    }

    /// Maps the page at `iova` to `frame` with `perm`, building the tables on its path. The
    /// buffer's contents, written before, are visible to any DMA that translates through it.
    /// An IOVA is mapped again only after its unmap completed (its frame reclaimed), as Linux
    /// frees an IOVA only after the flush: else a stale IOTLB entry could still send the device
    /// to the old frame.
    pub fn map(&mut self, iova: u64, frame: u64, perm: Perm) -> Result<(), MapError> {
        let g = self.iommu.geometry;
        if iova % g.page_size() != 0 {
            return Err(MapError::Unaligned);
        }
        if iova >> g.iova_bits() != 0 {
            return Err(MapError::OutOfRange);
        }
        if frame >= self.iommu.frames {
            return Err(MapError::NoSuchFrame);
        }
        let mut table = ROOT_FRAME;
        for level in (2..=Geometry::LEVELS).rev() {
            let addr = self.iommu.entry_addr(table, g.index(iova, level));
            let pte = self.own_entry(addr);
            table = if pte.present() {
                pte.frame(g)
            } else {
                let next = self.free.pop().ok_or(MapError::OutOfFrames)?;
                self.fill_frame(next, 0);
                self.set_entry(addr, Pte::new(next, Perm::RW, g));
                next
            };
        }
        let addr = self.iommu.entry_addr(table, g.index(iova, 1));
        if self.own_entry(addr).present() {
            return Err(MapError::AlreadyMapped);
        }
        self.set_entry(addr, Pte::new(frame, perm, g));
        Ok(())
    }

    /// Clears `iova`'s leaf entry and posts an IOTLB invalidation; `None` if it was not mapped.
    /// The frame is not free yet: it comes back through [`Driver::try_reclaim`] or [`Driver::reclaim`].
    pub fn unmap(&mut self, iova: u64) -> Option<Unmapped> {
        let g = self.iommu.geometry;
        let addr = self.leaf_addr(iova)?;
        let pte = self.own_entry(addr);
        if !pte.present() {
            return None;
        }
        self.clear_entry(addr);
        self.posted += 1;
        // ORDERING: Release [inv-post] — the entry clear above happens-before every walk the device makes after its Acquire load sees this post.
        self.iommu.inv_posted.store(self.posted, Ordering::Release);
        Some(Unmapped {
            iova,
            frame: pte.frame(g),
            seq: self.posted,
        })
    }

    /// The unmapped frame, if it may be reused now; else the token back, to try again.
    pub fn try_reclaim(&self, unmapped: Unmapped) -> Result<u64, Unmapped> {
        // FIX: strict: the frame comes back only once the device has flushed its IOTLB and
        // acknowledged invalidation `seq` (the status write of VT-d's invalidation wait descriptor).
        // ORDERING: Acquire [inv-done] — pairs with the device's Release acknowledgement: every DMA it made through the flushed translation happens-before the reuse.
        if self.iommu.inv_done.load(Ordering::Acquire) < unmapped.seq {
            return Err(unmapped);
        }
        Ok(unmapped.frame)
    }

    /// The unmapped frame, once it may be reused (spins, then yields, until then).
    pub fn reclaim(&self, mut unmapped: Unmapped) -> u64 {
        let backoff = Backoff::new();
        loop {
            match self.try_reclaim(unmapped) {
                Ok(frame) => return frame,
                Err(again) => unmapped = again,
            }
            backoff.snooze();
        }
    }
}

/// The device (the NIC with the IOMMU in front of it): its IOTLB, its DMA engine, its fault log.
/// Real code on its own core; no real device is reachable from the lab.
#[derive(Debug)]
pub struct Device {
    iommu: Arc<Iommu>,
    /// The device's translation cache.
    pub iotlb: Iotlb,
    /// The last invalidation this device completed.
    done: u64,
    /// Every blocked DMA, counted (the first few kept).
    pub faults: FaultLog,
    /// Page walks (IOTLB misses that reached the table).
    pub walks: u64,
}

impl Device {
    /// The shared IOMMU.
    pub fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    /// Processes the invalidation queue: if the driver posted invalidations since the last call,
    /// flushes the IOTLB and acknowledges them. True if it flushed.
    pub fn service_invalidations(&mut self) -> bool {
        // ORDERING: Acquire [inv-post] — pairs with the driver's Release post: the walks after this flush see its cleared entries.
        let posted = self.iommu.inv_posted.load(Ordering::Acquire);
        if posted == self.done {
            return false;
        }
        self.iotlb.flush();
        self.done = posted;
        // ORDERING: Release [inv-done] — every DMA made through the flushed entries happens-before the driver's reuse once its Acquire load sees this.
        self.iommu.inv_done.store(posted, Ordering::Release);
        true
    }

    /// Walks the table for `iova`, calling `seen` on every entry read, root first.
    #[inline]
    pub fn walk_with(&self, iova: u64, access: Access, mut seen: impl FnMut(WalkStep)) -> Result<IotlbEntry, Fault> {
        let g = self.iommu.geometry;
        let mut table = ROOT_FRAME;
        let mut level = Geometry::LEVELS;
        loop {
            let index = g.index(iova, level);
            let pte = self.iommu.walk_entry(self.iommu.entry_addr(table, index));
            seen(WalkStep {
                level,
                table,
                index,
                pte,
            });
            let fault = |kind| Fault { iova, access, kind };
            if !pte.present() {
                return Err(fault(FaultKind::NotPresent { level }));
            }
            if pte.frame(g) >= self.iommu.frames {
                return Err(fault(FaultKind::BadEntry { level }));
            }
            if level == 1 {
                return Ok(IotlbEntry {
                    vpn: g.vpn(iova),
                    frame: pte.frame(g),
                    perm: pte.perm(),
                });
            }
            table = pte.frame(g);
            level -= 1;
        }
    }

    /// The physical address a DMA `access` to `iova` reaches: through the IOTLB, or a page walk
    /// that fills it; checked for alignment, range and permission. In passthrough, `iova` itself.
    #[inline]
    pub fn translate(&mut self, iova: u64, access: Access) -> Result<u64, Fault> {
        let g = self.iommu.geometry;
        let fault = |kind| Fault { iova, access, kind };
        if iova % 8 != 0 {
            return Err(fault(FaultKind::Unaligned));
        }
        if self.iommu.passthrough {
            if iova >= self.iommu.frames << g.page_shift() {
                return Err(fault(FaultKind::NoMemory));
            }
            return Ok(iova);
        }
        if iova >> g.iova_bits() != 0 {
            return Err(fault(FaultKind::OutOfRange));
        }
        let entry = match self.iotlb.lookup(g.vpn(iova)) {
            Some(entry) => entry,
            None => {
                self.walks += 1;
                let entry = self.walk_with(iova, access, |_| {})?;
                self.iotlb.fill(entry);
                entry
            }
        };
        if !entry.perm.allows(access) {
            return Err(fault(FaultKind::Permission { perm: entry.perm }));
        }
        Ok((entry.frame << g.page_shift()) | g.offset(iova))
    }

    /// Writes `data` at `iova`, page by page; a blocked page stops the DMA (the pages before it
    /// were written) and is logged.
    #[inline]
    pub fn dma_write(&mut self, iova: u64, data: &[u64]) -> Result<(), Fault> {
        let mut done = 0;
        while done < data.len() {
            let at = iova.wrapping_add(8 * done as u64);
            let phys = self
                .translate(at, Access::Write)
                .inspect_err(|f| self.faults.record(*f))?;
            let n = self.words_left(at).min(data.len() - done);
            for (k, &value) in data[done..done + n].iter().enumerate() {
                // ORDERING: Relaxed [dma-data] — the payload: ordered by [pte-publish] before it and [inv-done] after it.
                self.iommu.word(phys + 8 * k as u64).store(value, Ordering::Relaxed);
            }
            done += n;
        }
        Ok(())
    }

    /// Reads `out.len()` words at `iova`, page by page; a blocked page stops the DMA and is logged.
    #[inline]
    pub fn dma_read(&mut self, iova: u64, out: &mut [u64]) -> Result<(), Fault> {
        let mut done = 0;
        while done < out.len() {
            let at = iova.wrapping_add(8 * done as u64);
            let phys = self
                .translate(at, Access::Read)
                .inspect_err(|f| self.faults.record(*f))?;
            let n = self.words_left(at).min(out.len() - done);
            for (k, slot) in out[done..done + n].iter_mut().enumerate() {
                // ORDERING: Relaxed [dma-data] — the payload: the driver's writes were published by [pte-publish].
                *slot = self.iommu.word(phys + 8 * k as u64).load(Ordering::Relaxed);
            }
            done += n;
        }
        Ok(())
    }

    /// Words from `iova` to the end of its page.
    #[inline]
    fn words_left(&self, iova: u64) -> usize {
        let g = self.iommu.geometry;
        ((g.page_size() - g.offset(iova)) / 8) as usize
    }
}
