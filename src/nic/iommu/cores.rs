//! The IOMMU on two real cores: a driver thread that keeps unmapping, reusing and remapping
//! receive buffers, and a device thread that keeps DMAing packets into them (`run iommu`); and
//! the translation cost on one core (IOTLB hit, page walk, passthrough).

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{real, Geometry, IommuDevice, IommuDriver, Make, Perm, KERNEL_TEXT};
use crate::hw::{run_threads, Parallelism, Pin};
use crate::Variant;

/// Receive buffers posted to the device at once (slot `s` at IOVA `0x1000 × (s + 1)`).
pub const SLOTS: usize = 4;
/// Reused frames the driver holds (filled with its own data) before checking and freeing them.
pub const HELD: usize = 4;
/// Frames of simulated memory: kernel text, the root table, three tables, the buffers and spares.
pub const FRAMES: u64 = 32;
/// DMA transactions per packet; the device services its invalidation queue between packets.
pub const TRANSACTIONS: u64 = 8;
/// Words per DMA transaction (64 bytes, a cache line).
pub const BURST: usize = 8;
/// Every this many packets the device also issues one stray DMA.
pub const STRAY_EVERY: u64 = 64;
/// Where a stray DMA goes: never mapped; in passthrough, physical `0x100`, inside kernel text.
pub const STRAY_IOVA: u64 = 0x100;
/// What the driver writes into a frame it reuses (`| iteration`).
const REUSED_TAG: u64 = 0x5eed_0000_0000_0000;
/// What the device's packets carry (`| packet number`).
const DMA_TAG: u64 = 0xd0d0_0000_0000_0000;

/// The IOVA of buffer slot `s`.
pub fn slot_iova(s: usize) -> u64 {
    0x1000 * (s as u64 + 1)
}

/// What one run on two cores did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Unmap-reuse-remap cycles of the driver.
    pub unmaps: u64,
    /// Packets the device handled.
    pub packets: u64,
    /// DMA transactions that reached memory.
    pub dmas: u64,
    /// DMA transactions blocked (a packet that read a buffer's address before the driver unmapped it).
    pub blocked: u64,
    /// Stray DMAs issued.
    pub strays: u64,
    /// Stray DMAs blocked.
    pub strays_blocked: u64,
    /// Words of kernel text overwritten.
    pub kernel_words_hit: u64,
    /// Reused frames checked.
    pub reused: u64,
    /// Reused frames the device overwrote while the driver held them.
    pub corrupted: u64,
    /// IOTLB hits.
    pub iotlb_hits: u64,
    /// IOTLB misses.
    pub iotlb_misses: u64,
    /// Device thread time per DMA transaction (both outcomes), ns.
    pub ns_per_dma: f64,
    /// Driver time per unmap, reclaim included (strict: the wait for the acknowledgement), ns.
    pub ns_per_unmap: f64,
    /// Whether the two threads ran at once.
    pub parallelism: Parallelism,
}

/// What one side returns.
#[derive(Default)]
struct Side {
    reused: u64,
    corrupted: u64,
    unmap_time: Duration,
    packets: u64,
    dmas: u64,
    blocked: u64,
    strays: u64,
    strays_blocked: u64,
    hits: u64,
    misses: u64,
    device_time: Duration,
}

/// How the two sides are started: `work(0)` is the driver, `work(1)` the device.
type Threads<'a> = &'a dyn Fn(&(dyn Fn(usize) -> Side + Sync)) -> (Vec<Side>, Parallelism);

/// Runs `unmaps` driver cycles of `variant` against a device thread, pinned as `pin` says, and
/// measures whether they ran in parallel.
pub fn run_on_cores(variant: Variant, unmaps: u64, passthrough: bool, pin: Pin) -> CoreRun {
    let threads: Threads = &|work| run_threads(2, pin, work);
    match variant {
        Variant::Broken => run(real::broken::new, unmaps, passthrough, threads),
        Variant::Fixed => run(real::fixed::new, unmaps, passthrough, threads),
    }
}

/// [`run_on_cores`] on two plain scoped threads: no pinning, no CPU clocks (so it also runs
/// under Miri and ThreadSanitizer); `parallelism` is left empty.
pub fn run_plain(variant: Variant, unmaps: u64, passthrough: bool) -> CoreRun {
    let threads: Threads = &|work| {
        let sides = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2).map(|i| s.spawn(move || work(i))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a side panicked"))
                .collect()
        });
        let none = Parallelism {
            wall: Duration::ZERO,
            cpu: Vec::new(),
        };
        (sides, none)
    };
    match variant {
        Variant::Broken => run(real::broken::new, unmaps, passthrough, threads),
        Variant::Fixed => run(real::fixed::new, unmaps, passthrough, threads),
    }
}

fn run<D: IommuDriver, V: IommuDevice>(make: Make<D, V>, unmaps: u64, passthrough: bool, threads: Threads) -> CoreRun {
    let g = Geometry::X86;
    let (mut driver, device) = make(g, FRAMES, passthrough);
    let mailbox: Vec<AtomicU64> = (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
    let mut current = [0u64; SLOTS];
    for (s, frame) in current.iter_mut().enumerate() {
        *frame = driver.alloc_frame().expect("FRAMES has room for every slot");
        let addr = post(&mut driver, s, *frame, passthrough);
        // ORDERING: Relaxed [mailbox] — before the threads start: spawning orders it.
        mailbox[s].store(addr, Ordering::Relaxed);
    }
    let stop = AtomicBool::new(false);
    let sides = Mutex::new((Some((driver, current)), Some(device)));
    let (results, parallelism) = threads(&|i| {
        if i == 0 {
            let (mut driver, mut current) = sides.lock().unwrap().0.take().expect("one driver");
            let side = drive(&mut driver, &mailbox, &mut current, unmaps, passthrough);
            // ORDERING: Relaxed [stop] — only ends the device's loop; the join orders everything after.
            stop.store(true, Ordering::Relaxed);
            sides.lock().unwrap().0 = Some((driver, current));
            side
        } else {
            let mut device = sides.lock().unwrap().1.take().expect("one device");
            let side = serve(&mut device, &mailbox, &stop);
            sides.lock().unwrap().1 = Some(device);
            side
        }
    });
    let (driver, _) = sides.into_inner().unwrap();
    let (driver, _) = driver.expect("the driver came back");
    let kernel_words_hit = driver
        .frame_words(0)
        .iter()
        .enumerate()
        .filter(|&(i, &w)| w != KERNEL_TEXT | i as u64)
        .count() as u64;
    let (d, v) = (&results[0], &results[1]);
    let transactions = v.dmas + v.blocked;
    CoreRun {
        unmaps,
        packets: v.packets,
        dmas: v.dmas,
        blocked: v.blocked,
        strays: v.strays,
        strays_blocked: v.strays_blocked,
        kernel_words_hit,
        reused: d.reused,
        corrupted: d.corrupted,
        iotlb_hits: v.hits,
        iotlb_misses: v.misses,
        ns_per_dma: v.device_time.as_nanos() as f64 / transactions.max(1) as f64,
        ns_per_unmap: d.unmap_time.as_nanos() as f64 / unmaps.max(1) as f64,
        parallelism,
    }
}

/// Maps slot `s` to `frame` (translated) and returns the address to post: the slot's IOVA, or in
/// passthrough the frame's physical address (there is nothing to map).
fn post<D: IommuDriver>(driver: &mut D, s: usize, frame: u64, passthrough: bool) -> u64 {
    if passthrough {
        frame << Geometry::X86.page_shift()
    } else {
        driver.map(slot_iova(s), frame, Perm::RW).expect("a slot's IOVA maps");
        slot_iova(s)
    }
}

/// The driver's loop: retract a buffer, unmap it, reuse its frame (fill it with the driver's own
/// data and hold it a while), check the frame held before, post a fresh buffer.
fn drive<D: IommuDriver>(
    driver: &mut D,
    mailbox: &[AtomicU64],
    current: &mut [u64; SLOTS],
    unmaps: u64,
    passthrough: bool,
) -> Side {
    let mut side = Side::default();
    let mut held: VecDeque<(u64, u64)> = VecDeque::with_capacity(HELD + 1);
    // Checks a held frame (did a DMA overwrite the driver's data?) and frees it.
    let check = |driver: &mut D, frame: u64, tag: u64, side: &mut Side| {
        if driver.frame_words(frame).iter().any(|&w| w != tag) {
            side.corrupted += 1;
        }
        driver.free_frame(frame);
    };
    for i in 0..unmaps {
        let s = (i % SLOTS as u64) as usize;
        // ORDERING: Relaxed [mailbox] — retracting only stops new packets; a packet that already read the address is the IOMMU's to stop.
        mailbox[s].store(0, Ordering::Relaxed);
        let t0 = Instant::now();
        let frame = if passthrough {
            current[s]
        } else {
            let unmapped = driver.unmap(slot_iova(s)).expect("the slot is mapped");
            driver.reclaim(unmapped)
        };
        side.unmap_time += t0.elapsed();
        let tag = REUSED_TAG | i;
        driver.fill_frame(frame, tag);
        side.reused += 1;
        held.push_back((frame, tag));
        if held.len() > HELD {
            let (f, t) = held.pop_front().expect("more than HELD");
            check(driver, f, t, &mut side);
        }
        current[s] = driver.alloc_frame().expect("FRAMES has room for the held frames");
        let addr = post(driver, s, current[s], passthrough);
        // ORDERING: Release [mailbox] — the mapping above happens-before the device's use of this address (its Acquire load).
        mailbox[s].store(addr, Ordering::Release);
    }
    while let Some((f, t)) = held.pop_front() {
        check(driver, f, t, &mut side);
    }
    side
}

/// The device's loop: between packets, service the invalidation queue; each packet is
/// `TRANSACTIONS` DMA writes of 64 bytes into the next slot's posted buffer; now and then a
/// stray DMA.
fn serve<V: IommuDevice>(device: &mut V, mailbox: &[AtomicU64], stop: &AtomicBool) -> Side {
    let mut side = Side::default();
    let t0 = Instant::now();
    // ORDERING: Relaxed [stop] — only ends the loop.
    while !stop.load(Ordering::Relaxed) {
        device.service_invalidations();
        let s = (side.packets % SLOTS as u64) as usize;
        side.packets += 1;
        // ORDERING: Acquire [mailbox] — pairs with the driver's Release post: the buffer's mapping is in place.
        let addr = mailbox[s].load(Ordering::Acquire);
        if addr != 0 {
            let data = [DMA_TAG | side.packets; BURST];
            for t in 0..TRANSACTIONS {
                match device.dma_write(addr + t * 8 * BURST as u64, &data) {
                    Ok(()) => side.dmas += 1,
                    Err(_) => side.blocked += 1,
                }
            }
        }
        if side.packets % STRAY_EVERY == 0 {
            side.strays += 1;
            if device.dma_write(STRAY_IOVA, &[DMA_TAG]).is_err() {
                side.strays_blocked += 1;
            }
        }
    }
    side.device_time = t0.elapsed();
    let iotlb = device.iotlb();
    (side.hits, side.misses) = (iotlb.hits, iotlb.misses);
    side
}

/// The translation cost of one 64-byte DMA write on this core, in ns: through an IOTLB hit,
/// through a full 4-level walk (the IOTLB flushed before each DMA), and in passthrough.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    /// IOTLB hit.
    pub hit: f64,
    /// Page walk (flush included).
    pub walk: f64,
    /// No translation.
    pub passthrough: f64,
}

/// Measures [`Cost`] on the calling thread: 5 rounds of `n` DMAs per case, the cases
/// interleaved, the fastest round of each kept (a shared machine only ever adds time).
pub fn translation_cost(n: u64) -> Cost {
    let data = [1u64; BURST];
    let (mut driver, mut device) = real::fixed::new(Geometry::X86, 8, false);
    let frame = driver.alloc_frame().expect("a free frame");
    driver.map(0x1000, frame, Perm::RW).expect("maps");
    let (_, mut pt) = real::fixed::new(Geometry::X86, 8, true);
    let phys = frame << Geometry::X86.page_shift();
    let time = |f: &mut dyn FnMut()| {
        f();
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        t0.elapsed().as_nanos() as f64 / n.max(1) as f64
    };
    let mut best = Cost {
        hit: f64::INFINITY,
        walk: f64::INFINITY,
        passthrough: f64::INFINITY,
    };
    for _ in 0..5 {
        best.hit = best.hit.min(time(&mut || {
            device.dma_write(black_box(0x1000), &data).expect("mapped");
        }));
        best.walk = best.walk.min(time(&mut || {
            device.iotlb.flush();
            device.dma_write(black_box(0x1000), &data).expect("mapped");
        }));
        best.passthrough = best.passthrough.min(time(&mut || {
            pt.dma_write(black_box(phys), &data).expect("inside memory");
        }));
    }
    best
}
