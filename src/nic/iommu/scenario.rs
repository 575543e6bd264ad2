// The IOMMU's model scenarios: the driver and the device each run on their own thread; the main
// thread only builds the IOMMU, joins and checks. Each panics with a pinned reason.
use super::sync::{spin_loop, thread, Arc, AtomicBool, Ordering};
use crate::nic::iommu::{FaultKind, Geometry, IommuDevice, IommuDriver, Make, Perm};

/// Frames under the checkers: kernel text, the root table, three tables below it, two pages.
pub const FRAMES: u64 = 7;

/// The IOVA both scenarios use (any page of [`Geometry::MODEL`]'s 256-byte IOVA space).
pub const IOVA: u64 = 0x50;

/// What the device's DMA writes.
pub const DMA_DATA: u64 = 0xD0D0;

/// What the driver writes into a frame it reuses.
pub const REUSED: u64 = 0x5EED;

/// What the driver writes into a buffer before it maps it for the device to read.
pub const TX_DATA: u64 = 0x7777;

/// Strict vs lazy unmap. `IOVA` is mapped to a frame and the device has used it (its IOTLB holds
/// the translation). Then, at once:
/// - the device DMAs to `IOVA`, services its invalidation queue, DMAs to `IOVA` again, and keeps
///   servicing the queue until the driver is done;
/// - the driver unmaps `IOVA`, reclaims the frame and reuses it (fills it with [`REUSED`]).
///
/// After both: the reused frame must hold only [`REUSED`] (`use after free` otherwise: a DMA
/// landed in it after the driver took it back) and each DMA either succeeded or was blocked as
/// not present.
pub fn unmap_then_reuse<D: IommuDriver, V: IommuDevice>(make: Make<D, V>) {
    let (mut driver, mut device) = make(Geometry::MODEL, FRAMES, false);
    let frame = driver.alloc_frame().expect("a free frame");
    driver.map(IOVA, frame, Perm::RW).expect("IOVA maps");
    device
        .dma_write(IOVA, &[DMA_DATA])
        .expect("a DMA to a mapped IOVA is allowed");
    let done = Arc::new(AtomicBool::new(false));
    let device = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let first = device.dma_write(IOVA, &[DMA_DATA]);
            device.service_invalidations();
            let second = device.dma_write(IOVA, &[DMA_DATA]);
            // ORDERING: Relaxed [scenario-done] — only ends the loop; the checks run after the joins.
            while !done.load(Ordering::Relaxed) {
                device.service_invalidations();
                spin_loop();
            }
            [first, second]
        })
    };
    let driver = thread::spawn(move || {
        let unmapped = driver.unmap(IOVA).expect("IOVA was mapped");
        let reused = driver.reclaim(unmapped);
        driver.fill_frame(reused, REUSED);
        // ORDERING: Relaxed [scenario-done] — only ends the device's loop.
        done.store(true, Ordering::Relaxed);
        (driver, reused)
    });
    let results = device.join().unwrap();
    let (driver, reused) = driver.join().unwrap();
    assert_eq!(reused, frame, "the driver reclaimed frame {reused}, not the unmapped {frame}");
    let words = driver.frame_words(frame);
    assert!(
        words.iter().all(|&w| w == REUSED),
        "use after free: a device DMA landed in frame {frame} after the driver unmapped and reused it \
         (frame holds {words:x?}, the driver wrote {REUSED:#x})"
    );
    for r in results {
        if let Err(f) = r {
            assert!(
                matches!(f.kind, FaultKind::NotPresent { .. }),
                "a DMA to the unmapped IOVA was blocked for the wrong reason: {f}"
            );
        }
    }
}

/// Map publishes the buffer. The driver writes [`TX_DATA`] into a frame and maps it read-only at
/// `IOVA`, building the three tables below the root; the device, at the same time, DMA-reads
/// `IOVA`. If the read was allowed it must return [`TX_DATA`] (`stale read` otherwise); if it
/// was blocked, only because the page was not mapped yet.
pub fn map_then_read<D: IommuDriver, V: IommuDevice>(make: Make<D, V>) {
    let (mut driver, mut device) = make(Geometry::MODEL, FRAMES, false);
    let driver = thread::spawn(move || {
        let frame = driver.alloc_frame().expect("a free frame");
        driver.fill_frame(frame, TX_DATA);
        driver.map(IOVA, frame, Perm::R).expect("IOVA maps");
    });
    let device = thread::spawn(move || {
        let mut word = [0];
        device.dma_read(IOVA, &mut word).map(|()| word[0])
    });
    driver.join().unwrap();
    match device.join().unwrap() {
        Ok(v) => assert_eq!(
            v, TX_DATA,
            "stale read: the device translated IOVA {IOVA:#x} but read {v:#x}, not the driver's {TX_DATA:#x}"
        ),
        Err(f) => assert!(
            matches!(f.kind, FaultKind::NotPresent { .. }),
            "a DMA was blocked for the wrong reason: {f}"
        ),
    }
}
