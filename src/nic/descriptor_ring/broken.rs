// BUG: the TX doorbell is a Relaxed store (no `wmb()` before the tail write), the RX DD bit a Relaxed load (no `dma_rmb()`).
use super::sync::{Arc, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::nic::descriptor_ring::{
    check_descriptors, len_of, DescView, Received, RingView, RxDeviceSide, RxDriverSide, RxTaken, TxDeviceSide, TxDone,
    TxDriverSide, TxFetched, DD, FREE, OWN,
};
use crate::ring::CachePadded;

/// One descriptor in host memory. Every field is an atomic written Relaxed: the flags' and the
/// TAIL register's orderings publish the others.
struct Desc {
    /// The buffer it names, in `0..2N` (written by the driver when it posts).
    addr: AtomicUsize,
    /// TX: the packet length the driver wrote. RX: the length the NIC wrote back.
    len: AtomicU32,
    /// TX write-back: the packet the NIC sent (the status word a NIC writes back).
    status: AtomicU64,
    /// `FREE` → `OWN` (driver posts) → `DD` (NIC completes) → `FREE` (driver reaps).
    flags: AtomicU32,
}

/// What the driver and the NIC share: the descriptors, the packet buffers and TAIL.
struct Shared {
    /// The ring; N is a power of two.
    descs: Box<[Desc]>,
    /// Packet buffers, 2N of them: descriptor `i` uses buffer `i` on even laps, `i + N` on odd
    /// ones. Each holds its packet's header word (the sequence number).
    bufs: Box<[AtomicU64]>,
    /// The TAIL register, in `0..N`: written only by the driver (the doorbell), read by the NIC.
    tail: CachePadded<AtomicUsize>,
}

impl Shared {
    fn new(n: usize) -> Arc<Self> {
        check_descriptors(n);
        Arc::new(Self {
            descs: (0..n)
                .map(|_| Desc {
                    addr: AtomicUsize::new(0),
                    len: AtomicU32::new(0),
                    status: AtomicU64::new(0),
                    flags: AtomicU32::new(FREE),
                })
                .collect(),
            bufs: (0..2 * n).map(|_| AtomicU64::new(0)).collect(),
            tail: CachePadded::new(AtomicUsize::new(0)),
        })
    }

    fn mask(&self) -> usize {
        self.descs.len() - 1
    }

    /// The descriptors as they are now, for the single-threaded step replay.
    fn view(&self, head: usize) -> RingView {
        RingView {
            head,
            // ORDERING: Relaxed [view] — the replay runs both sides on one thread: it reads its own writes.
            tail: self.tail.load(Ordering::Relaxed),
            descs: self
                .descs
                .iter()
                .map(|d| DescView {
                    // ORDERING: Relaxed [view] — as above: one thread.
                    flags: d.flags.load(Ordering::Relaxed),
                    // ORDERING: Relaxed [view] — as above: one thread.
                    buffer: d.addr.load(Ordering::Relaxed),
                    // ORDERING: Relaxed [view] — as above: one thread.
                    len: d.len.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

/// The driver's positions: `next_to_use` (post), `next_to_clean` (reap), the last doorbell.
struct Cursor {
    ntu: usize,
    ntc: usize,
    doorbell: usize,
    /// Laps completed by `ntu`: picks each descriptor's buffer (even lap `i`, odd lap `i + N`).
    lap: u64,
    /// The buffer posted in each descriptor (Linux's `tx_buffer_info` / `rx_buffer_info`).
    buffer: Box<[usize]>,
}

impl Cursor {
    fn new(n: usize) -> Self {
        Self {
            ntu: 0,
            ntc: 0,
            doorbell: 0,
            lap: 0,
            buffer: vec![0; n].into_boxed_slice(),
        }
    }

    /// Descriptors the driver may still fill: one always stays free (TAIL == HEAD is "empty").
    fn unused(&self, mask: usize) -> usize {
        self.ntc.wrapping_sub(self.ntu).wrapping_sub(1) & mask
    }

    /// Claims `next_to_use`: its index and the buffer it gets this lap.
    fn claim(&mut self, mask: usize) -> (usize, usize) {
        let i = self.ntu;
        let buffer = i + (mask + 1) * (self.lap & 1) as usize;
        self.buffer[i] = buffer;
        self.ntu = (i + 1) & mask;
        if self.ntu == 0 {
            self.lap += 1;
        }
        (i, buffer)
    }
}

/// Builds a TX ring of `n` descriptors, all FREE, HEAD = TAIL = 0.
///
/// # Panics
/// Unless `n` is a power of two of at least 2.
pub fn tx_ring(n: usize) -> (TxDriver, TxDevice) {
    let shared = Shared::new(n);
    let driver = TxDriver {
        shared: Arc::clone(&shared),
        at: Cursor::new(n),
        seq: vec![0; n].into_boxed_slice(),
    };
    let device = TxDevice {
        shared,
        head: 0,
        tail: 0,
        fetched: None,
    };
    (driver, device)
}

/// The driver's half of a TX ring.
pub struct TxDriver {
    shared: Arc<Shared>,
    at: Cursor,
    /// The packet posted in each descriptor, to check the write-back status against.
    seq: Box<[u64]>,
}

impl TxDriverSide for TxDriver {
    fn post(&mut self, seq: u64) -> bool {
        let mask = self.shared.mask();
        if self.at.unused(mask) == 0 {
            return false;
        }
        let (i, buffer) = self.at.claim(mask);
        self.seq[i] = seq;
        let d = &self.shared.descs[i];
        // ORDERING: Relaxed [tx-doorbell] — the packet write; the Release doorbell publishes it.
        self.shared.bufs[buffer].store(seq, Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — a descriptor field; the Release doorbell publishes it.
        d.addr.store(buffer, Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — a descriptor field; the Release doorbell publishes it.
        d.len.store(len_of(seq), Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — the NIC reads OWN only after the doorbell, which publishes it.
        d.flags.store(OWN, Ordering::Relaxed);
        true
    }

    fn ring_doorbell(&mut self) -> bool {
        if self.at.ntu == self.at.doorbell {
            return false;
        }
        self.at.doorbell = self.at.ntu;
        // BUG: Relaxed, no `wmb()`: the NIC may see this TAIL before the descriptor writes above.
        // ORDERING: Relaxed [tx-doorbell] — publishes nothing: the bug.
        self.shared.tail.store(self.at.ntu, Ordering::Relaxed);
        true
    }

    fn reap(&mut self) -> Option<TxDone> {
        let i = self.at.ntc;
        if i == self.at.ntu {
            return None;
        }
        let d = &self.shared.descs[i];
        // ORDERING: Acquire [tx-writeback] — pairs with the NIC's Release DD store: its status write-back is visible.
        if d.flags.load(Ordering::Acquire) != DD {
            return None;
        }
        // ORDERING: Relaxed [tx-writeback] — published by the DD bit loaded with Acquire above.
        let status = d.status.load(Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — the NIC touches this descriptor again only after a later doorbell (Release).
        d.flags.store(FREE, Ordering::Relaxed);
        self.at.ntc = (i + 1) & self.shared.mask();
        Some(TxDone {
            desc: i,
            seq: self.seq[i],
            status,
        })
    }

    fn in_flight(&self) -> usize {
        self.at.ntu.wrapping_sub(self.at.ntc) & self.shared.mask()
    }
}

impl TxDriver {
    /// The ring as it is now (for the single-threaded step replay), with the NIC's `head`.
    pub fn view(&self, head: usize) -> RingView {
        self.shared.view(head)
    }
}

impl std::fmt::Debug for TxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxDriver")
            .field("next_to_use", &self.at.ntu)
            .field("next_to_clean", &self.at.ntc)
            .finish_non_exhaustive()
    }
}

/// The NIC's half of a TX ring.
pub struct TxDevice {
    shared: Arc<Shared>,
    /// HEAD: the next descriptor to fetch.
    head: usize,
    /// The last TAIL the NIC read.
    tail: usize,
    /// The packet fetched and not yet completed.
    fetched: Option<u64>,
}

impl TxDeviceSide for TxDevice {
    fn backlog(&self) -> usize {
        self.tail.wrapping_sub(self.head) & self.shared.mask()
    }

    fn fetch(&mut self) -> Option<TxFetched> {
        if self.head == self.tail {
            // ORDERING: Acquire [tx-doorbell] — pairs with the driver's Release doorbell: the descriptors before it are visible.
            self.tail = self.shared.tail.load(Ordering::Acquire);
            if self.head == self.tail {
                return None;
            }
        }
        let d = &self.shared.descs[self.head];
        // ORDERING: Relaxed [tx-doorbell] — published by the TAIL loaded with Acquire.
        let flags = d.flags.load(Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — published by the TAIL loaded with Acquire.
        let buffer = d.addr.load(Ordering::Relaxed);
        // ORDERING: Relaxed [tx-doorbell] — published by the TAIL loaded with Acquire.
        let len = d.len.load(Ordering::Relaxed);
        debug_assert!(buffer < self.shared.bufs.len());
        // ORDERING: Relaxed [tx-doorbell] — the packet's DMA read, published by the TAIL loaded with Acquire.
        let header = self.shared.bufs[buffer].load(Ordering::Relaxed);
        self.fetched = Some(header);
        Some(TxFetched {
            desc: self.head,
            flags,
            buffer,
            len,
            header,
        })
    }

    fn complete(&mut self) {
        let sent = self
            .fetched
            .take()
            .expect("TxDevice::complete: no descriptor was fetched");
        let d = &self.shared.descs[self.head];
        // ORDERING: Relaxed [tx-writeback] — the status write-back; the Release DD store below publishes it.
        d.status.store(sent, Ordering::Relaxed);
        // ORDERING: Release [tx-writeback] — the status happens-before the driver's Acquire load that sees DD.
        d.flags.store(DD, Ordering::Release);
        self.head = (self.head + 1) & self.shared.mask();
    }
}

impl TxDevice {
    /// HEAD: the next descriptor the NIC fetches.
    pub fn head(&self) -> usize {
        self.head
    }
}

impl std::fmt::Debug for TxDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxDevice")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Builds an RX ring of `n` descriptors, all FREE (no buffer posted yet), HEAD = TAIL = 0.
///
/// # Panics
/// Unless `n` is a power of two of at least 2.
pub fn rx_ring(n: usize) -> (RxDriver, RxDevice) {
    let shared = Shared::new(n);
    let driver = RxDriver {
        shared: Arc::clone(&shared),
        at: Cursor::new(n),
    };
    let device = RxDevice {
        shared,
        head: 0,
        tail: 0,
        dmad: None,
    };
    (driver, device)
}

/// The driver's half of an RX ring.
pub struct RxDriver {
    shared: Arc<Shared>,
    at: Cursor,
}

impl RxDriverSide for RxDriver {
    fn post(&mut self) -> bool {
        let mask = self.shared.mask();
        if self.at.unused(mask) == 0 {
            return false;
        }
        let (i, buffer) = self.at.claim(mask);
        let d = &self.shared.descs[i];
        // ORDERING: Relaxed [rx-refill] — a descriptor field; the Release doorbell publishes it.
        d.addr.store(buffer, Ordering::Relaxed);
        // ORDERING: Relaxed [rx-refill] — the NIC reads OWN only after the doorbell, which publishes it.
        d.flags.store(OWN, Ordering::Relaxed);
        true
    }

    fn ring_doorbell(&mut self) -> bool {
        if self.at.ntu == self.at.doorbell {
            return false;
        }
        self.at.doorbell = self.at.ntu;
        // ORDERING: Release [rx-refill] — the posted descriptors happen-before the NIC's Acquire load that sees this TAIL.
        self.shared.tail.store(self.at.ntu, Ordering::Release);
        true
    }

    fn reap(&mut self) -> Option<Received> {
        let i = self.at.ntc;
        if i == self.at.ntu {
            return None;
        }
        let d = &self.shared.descs[i];
        // BUG: Relaxed, no `dma_rmb()`: seeing DD does not make the NIC's length and packet writes visible.
        // ORDERING: Relaxed [rx-writeback] — synchronizes with nothing: the bug.
        if d.flags.load(Ordering::Relaxed) != DD {
            return None;
        }
        // ORDERING: Relaxed [rx-writeback] — published by the DD bit loaded above.
        let len = d.len.load(Ordering::Relaxed);
        let buffer = self.at.buffer[i];
        // ORDERING: Relaxed [rx-writeback] — the packet, published by the DD bit loaded above.
        let header = self.shared.bufs[buffer].load(Ordering::Relaxed);
        // ORDERING: Relaxed [rx-refill] — the NIC touches this descriptor again only after a later doorbell (Release).
        d.flags.store(FREE, Ordering::Relaxed);
        self.at.ntc = (i + 1) & self.shared.mask();
        Some(Received {
            desc: i,
            buffer,
            len,
            header,
        })
    }

    fn in_flight(&self) -> usize {
        self.at.ntu.wrapping_sub(self.at.ntc) & self.shared.mask()
    }
}

impl RxDriver {
    /// The ring as it is now (for the single-threaded step replay), with the NIC's `head`.
    pub fn view(&self, head: usize) -> RingView {
        self.shared.view(head)
    }
}

impl std::fmt::Debug for RxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxDriver")
            .field("next_to_use", &self.at.ntu)
            .field("next_to_clean", &self.at.ntc)
            .finish_non_exhaustive()
    }
}

/// The NIC's half of an RX ring.
pub struct RxDevice {
    shared: Arc<Shared>,
    /// HEAD: the next descriptor to fill.
    head: usize,
    /// The last TAIL the NIC read.
    tail: usize,
    /// The packet DMA'd and not yet completed.
    dmad: Option<u64>,
}

impl RxDeviceSide for RxDevice {
    fn backlog(&self) -> usize {
        self.tail.wrapping_sub(self.head) & self.shared.mask()
    }

    fn dma(&mut self, seq: u64) -> Option<RxTaken> {
        if self.head == self.tail {
            // ORDERING: Acquire [rx-refill] — pairs with the driver's Release doorbell: the posted buffers are visible.
            self.tail = self.shared.tail.load(Ordering::Acquire);
            if self.head == self.tail {
                return None;
            }
        }
        let d = &self.shared.descs[self.head];
        // ORDERING: Relaxed [rx-refill] — published by the TAIL loaded with Acquire.
        let flags = d.flags.load(Ordering::Relaxed);
        // ORDERING: Relaxed [rx-refill] — published by the TAIL loaded with Acquire.
        let buffer = d.addr.load(Ordering::Relaxed);
        debug_assert!(buffer < self.shared.bufs.len());
        // ORDERING: Relaxed [rx-writeback] — the packet DMA; the Release DD store in `complete` publishes it.
        self.shared.bufs[buffer].store(seq, Ordering::Relaxed);
        self.dmad = Some(seq);
        Some(RxTaken {
            desc: self.head,
            flags,
            buffer,
        })
    }

    fn complete(&mut self) {
        let seq = self.dmad.take().expect("RxDevice::complete: no packet was DMA'd");
        let d = &self.shared.descs[self.head];
        // ORDERING: Relaxed [rx-writeback] — the length write-back; the Release DD store below publishes it.
        d.len.store(len_of(seq), Ordering::Relaxed);
        // ORDERING: Release [rx-writeback] — the packet DMA and the length happen-before the driver's Acquire load that sees DD.
        d.flags.store(DD, Ordering::Release);
        self.head = (self.head + 1) & self.shared.mask();
    }
}

impl RxDevice {
    /// HEAD: the next descriptor the NIC fills.
    pub fn head(&self) -> usize {
        self.head
    }
}

impl std::fmt::Debug for RxDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxDevice")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}
