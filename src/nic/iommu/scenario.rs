// The IOMMU's model scenarios: the driver and the device each run on their own thread; the main
// thread only builds the IOMMU, joins and checks. Each panics with a pinned reason.
use super::sync::{spin_loop, thread};
use crate::nic::iommu::{FaultKind, Geometry, IommuDevice, IommuDriver, Make, Perm};

/// Frames under the checkers: kernel text, the root table, three tables below it, two pages.
pub const FRAMES: u64 = 7;

/// The IOVA the device writes (a page of [`Geometry::MODEL`]'s 256-byte IOVA space).
pub const IOVA: u64 = 0x50;

/// What the device's DMA writes.
pub const DMA_DATA: u64 = 0xD0D0;

/// What the driver writes into a frame it reuses.
pub const REUSED: u64 = 0x5EED;

/// Where the driver maps a transmit buffer: the other entry of `IOVA`'s leaf table.
pub const IOVA2: u64 = 0x40;

/// What the driver writes into the transmit buffer before it maps it.
pub const TX_DATA: u64 = 0x7777;

/// Map, then strict vs lazy unmap. `IOVA` is mapped to frame F and the device has used it (its
/// IOTLB holds the translation). Then, at once:
/// - the device DMA-reads [`IOVA2`], DMA-writes `IOVA`, services its invalidation queue until
///   there is an invalidation to process (flush, acknowledge), and DMA-writes `IOVA` again;
/// - the driver fills a second frame G with [`TX_DATA`] and maps it read-only at [`IOVA2`] (a
///   transmit buffer), then unmaps `IOVA`, reclaims F and reuses it (fills it with [`REUSED`]).
///
/// After both: F must hold only [`REUSED`] (`use after free` otherwise: a DMA landed in it
/// after the driver took it back); the last write must have been blocked (`stale translation`
/// otherwise: the flush left the device a way to F); a read of `IOVA2` that was allowed must
/// return [`TX_DATA`] (`stale read` otherwise: the mapping was visible before the buffer); every
/// blocked DMA was blocked as not present.
pub fn map_unmap_reuse<D: IommuDriver, V: IommuDevice>(make: Make<D, V>) {
    let (mut driver, mut device) = make(Geometry::MODEL, FRAMES, false);
    let frame = driver.alloc_frame().expect("a free frame");
    driver.map(IOVA, frame, Perm::RW).expect("IOVA maps");
    device
        .dma_write(IOVA, &[DMA_DATA])
        .expect("a DMA to a mapped IOVA is allowed");
    let device = thread::spawn(move || {
        let mut word = [0];
        let read = device.dma_read(IOVA2, &mut word).map(|()| word[0]);
        let first = device.dma_write(IOVA, &[DMA_DATA]);
        while !device.service_invalidations() {
            spin_loop();
        }
        let second = device.dma_write(IOVA, &[DMA_DATA]);
        (read, first, second)
    });
    let driver = thread::spawn(move || {
        let tx = driver.alloc_frame().expect("a free frame");
        driver.fill_frame(tx, TX_DATA);
        driver.map(IOVA2, tx, Perm::R).expect("IOVA2 maps");
        let unmapped = driver.unmap(IOVA).expect("IOVA was mapped");
        let reused = driver.reclaim(unmapped);
        driver.fill_frame(reused, REUSED);
        (driver, reused)
    });
    let (read, first, second) = device.join().unwrap();
    let (driver, reused) = driver.join().unwrap();
    assert_eq!(
        reused, frame,
        "the driver reclaimed frame {reused}, not the unmapped {frame}"
    );
    let words = driver.frame_words(frame);
    assert!(
        words.iter().all(|&w| w == REUSED),
        "use after free: a device DMA landed in frame {frame} after the driver unmapped and reused it \
         (frame holds {words:x?}, the driver wrote {REUSED:#x})"
    );
    assert!(
        second.is_err(),
        "stale translation: after its IOTLB flush the device still wrote through the unmapped IOVA {IOVA:#x}"
    );
    if let Ok(v) = read {
        assert_eq!(
            v, TX_DATA,
            "stale read: the device translated IOVA {IOVA2:#x} but read {v:#x}, not the driver's {TX_DATA:#x}"
        );
    }
    for fault in [read.err(), first.err(), second.err()].into_iter().flatten() {
        assert!(
            matches!(fault.kind, FaultKind::NotPresent { .. }),
            "a DMA was blocked for the wrong reason: {fault}"
        );
    }
}
