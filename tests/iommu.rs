//! The IOMMU model (fixed variant, real atomics): translation checks, the seed's mappings, the
//! replay's verdicts, a property test against an oracle map, and the driver and device on two
//! real threads (small sizes under Miri).

use std::collections::HashMap;

use lockfree_lab::nic::iommu::cores::run_plain;
use lockfree_lab::nic::iommu::real::fixed::{new, Device, Driver};
use lockfree_lab::nic::iommu::{replay, Access, FaultKind, Geometry, Perm, Unmapped, KERNEL_TEXT};
use lockfree_lab::Variant;
use proptest::prelude::*;

/// A fresh x86-geometry IOMMU of 16 frames.
fn x86() -> (Driver, Device) {
    new(Geometry::X86, 16, false)
}

#[test]
fn the_seeds_table_allows_its_two_buffers_and_blocks_everything_else() {
    let (mut driver, mut device) = x86();
    assert!(driver.claim_frame(4) && driver.claim_frame(8));
    driver.map(0x1000, 4, Perm::RW).unwrap();
    driver.map(0x2000, 8, Perm::R).unwrap();
    assert_eq!(device.translate(0x1000, Access::Write), Ok(0x4000));
    assert_eq!(device.translate(0x2008, Access::Read), Ok(0x8008));
    let perm = device.translate(0x2000, Access::Write).unwrap_err();
    assert_eq!(perm.kind, FaultKind::Permission { perm: Perm::R });
    let absent = device.dma_write(0xf000, &[1]).unwrap_err();
    assert_eq!(absent.kind, FaultKind::NotPresent { level: 1 });
    let far = device.dma_write(1 << 48, &[1]).unwrap_err();
    assert_eq!(far.kind, FaultKind::OutOfRange);
    let odd = device.dma_write(0x1004, &[1]).unwrap_err();
    assert_eq!(odd.kind, FaultKind::Unaligned);
    assert_eq!(device.faults.count, 3, "every blocked DMA is logged");
    assert_eq!(device.faults.first[0], absent);
}

#[test]
fn the_walk_reads_four_levels_then_the_iotlb_answers() {
    let (mut driver, mut device) = x86();
    let frame = driver.alloc_frame().unwrap();
    driver.map(0x7000, frame, Perm::RW).unwrap();
    let mut levels = Vec::new();
    device
        .walk_with(0x7000, Access::Write, |s| levels.push(s.level))
        .unwrap();
    assert_eq!(levels, [4, 3, 2, 1]);
    device.dma_write(0x7000, &[1]).unwrap();
    device.dma_write(0x7008, &[2]).unwrap();
    assert_eq!((device.iotlb.misses, device.iotlb.hits, device.walks), (1, 1, 1));
}

#[test]
fn a_dma_across_a_page_boundary_is_translated_page_by_page() {
    let (mut driver, mut device) = x86();
    let (a, b) = (driver.alloc_frame().unwrap(), driver.alloc_frame().unwrap());
    driver.map(0x1000, a, Perm::RW).unwrap();
    driver.map(0x2000, b, Perm::RW).unwrap();
    device.dma_write(0x1ff8, &[7, 8]).unwrap();
    let page = Geometry::X86.page_size();
    assert_eq!(driver.iommu().read_word(a * page + 0xff8), 7);
    assert_eq!(driver.iommu().read_word(b * page), 8);
    // The second page unmapped: the first word lands, the second is blocked.
    let unmapped = driver.unmap(0x2000).unwrap();
    device.service_invalidations();
    driver.try_reclaim(unmapped).unwrap();
    let fault = device.dma_write(0x1ff8, &[9, 10]).unwrap_err();
    assert_eq!(fault.iova, 0x2000);
    assert_eq!(driver.iommu().read_word(a * page + 0xff8), 9);
}

#[test]
fn passthrough_sends_a_stray_dma_into_kernel_text() {
    let (driver, mut device) = new(Geometry::X86, 16, true);
    device.dma_write(0x100, &[0xbad]).unwrap();
    assert_eq!(driver.iommu().read_word(0x100), 0xbad);
    assert_eq!(driver.iommu().read_word(0x108), KERNEL_TEXT | (0x108 / 8));
    // Translated, the same DMA is blocked.
    let (driver, mut device) = x86();
    assert!(device.dma_write(0x100, &[0xbad]).is_err());
    assert_eq!(driver.iommu().read_word(0x100), KERNEL_TEXT | (0x100 / 8));
}

#[test]
fn strict_reclaim_waits_for_the_acknowledgement_and_lazy_does_not() {
    let (mut driver, mut device) = x86();
    let frame = driver.alloc_frame().unwrap();
    driver.map(0x1000, frame, Perm::RW).unwrap();
    let unmapped = driver.unmap(0x1000).unwrap();
    assert_eq!(driver.try_reclaim(unmapped), Err(unmapped));
    assert!(device.service_invalidations());
    assert!(!device.service_invalidations(), "nothing new to process");
    assert_eq!(driver.try_reclaim(unmapped), Ok(frame));
    let (mut lazy, _device) = lockfree_lab::nic::iommu::real::broken::new(Geometry::X86, 16, false);
    let frame = lazy.alloc_frame().unwrap();
    lazy.map(0x1000, frame, Perm::RW).unwrap();
    let unmapped = lazy.unmap(0x1000).unwrap();
    assert_eq!(lazy.try_reclaim(unmapped), Ok(frame), "lazy: at once");
}

#[test]
fn the_replay_ends_in_a_use_after_free_only_for_the_lazy_unmap() {
    let broken = replay::replay(Variant::Broken);
    assert!(broken.outcome.starts_with("use after free"), "{}", broken.outcome);
    assert!(broken.steps.iter().any(|s| s.contains("INSIDE THE REUSED FRAME")));
    let fixed = replay::replay(Variant::Fixed);
    assert!(
        fixed.outcome.contains("holds only the driver's data"),
        "{}",
        fixed.outcome
    );
    assert!(fixed.steps.iter().any(|s| s.contains("STRICT")));
}

/// The size of a run on two real threads: a few hundred cycles, a handful under Miri.
const UNMAPS: u64 = if cfg!(miri) { 12 } else { 20_000 };

#[test]
fn real_threads_strict_unmap_never_lets_a_dma_into_a_reused_frame() {
    let r = run_plain(Variant::Fixed, UNMAPS, false);
    assert_eq!(r.corrupted, 0, "{r:?}");
    assert_eq!(r.reused, UNMAPS);
    assert_eq!(r.kernel_words_hit, 0, "{r:?}");
    assert_eq!(r.strays_blocked, r.strays, "every stray DMA is blocked: {r:?}");
}

// ---- the property: no DMA reaches memory that is not the device's at that moment ----

/// Pages of the property test's IOVA space that operations use (the rest stay unmapped).
const PAGES: u64 = 8;
/// Frames of the property test's memory (kernel, root, tables, buffers).
const FRAMES: u64 = 40;

#[derive(Clone, Debug)]
enum Op {
    Map { page: u64, write: bool },
    Unmap { page: u64 },
    Service,
    Reclaim,
    Write { page: u64, word: u64, len: usize },
    Read { page: u64, word: u64, len: usize },
    Stray { iova: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..PAGES, any::<bool>()).prop_map(|(page, write)| Op::Map { page, write }),
        (0..PAGES).prop_map(|page| Op::Unmap { page }),
        Just(Op::Service),
        Just(Op::Reclaim),
        (0..PAGES, 0..4u64, 1..7usize).prop_map(|(page, word, len)| Op::Write { page, word, len }),
        (0..PAGES, 0..4u64, 1..7usize).prop_map(|(page, word, len)| Op::Read { page, word, len }),
        (0..1u64 << 14).prop_map(|iova| Op::Stray { iova: iova & !7 }),
    ]
}

/// The oracle: which pages are the device's now (mapped, or unmapped but not yet reclaimed:
/// strict unmap has not returned), and what every other frame must still hold.
struct Oracle {
    mapped: HashMap<u64, (u64, Perm)>,
    pending: Vec<(u64, Unmapped)>,
    /// The contents of every frame the CPU owns; `None`: the device's, or a page table.
    expected: Vec<Option<Vec<u64>>>,
    tag: u64,
}

impl Oracle {
    fn device_may_write(&self, page: u64) -> bool {
        self.mapped.get(&page).is_some_and(|(_, p)| p.allows(Access::Write))
            || self.pending.iter().any(|(p, _)| *p == page)
    }
    fn device_may_read(&self, page: u64) -> bool {
        self.mapped.get(&page).is_some_and(|(_, p)| p.allows(Access::Read))
            || self.pending.iter().any(|(p, _)| *p == page)
    }
}

fn run_ops(ops: &[Op]) -> Result<(), TestCaseError> {
    let g = Geometry::SMALL;
    let page_size = g.page_size();
    let (mut driver, mut device) = new(g, FRAMES, false);
    let words = g.page_words();
    let mut oracle = Oracle {
        mapped: HashMap::new(),
        pending: Vec::new(),
        expected: (0..FRAMES)
            .map(|f| match f {
                0 => Some((0..words as u64).map(|i| KERNEL_TEXT | i).collect()),
                1 => None,
                _ => Some(vec![0; words]),
            })
            .collect(),
        tag: 1,
    };
    for op in ops {
        match *op {
            Op::Map { page, write } => {
                // An IOVA is reused only after its unmap completed (Linux frees an IOVA only
                // after the flush, in strict and lazy mode alike).
                if oracle.mapped.contains_key(&page) || oracle.pending.iter().any(|(p, _)| *p == page) {
                    continue;
                }
                let Some(frame) = driver.alloc_frame() else { continue };
                oracle.tag += 1;
                driver.fill_frame(frame, oracle.tag);
                let perm = if write { Perm::RW } else { Perm::R };
                if driver.map(page * page_size, frame, perm).is_err() {
                    driver.free_frame(frame);
                    oracle.expected[frame as usize] = Some(vec![oracle.tag; words]);
                    continue;
                }
                oracle.expected[frame as usize] = None;
                for step in driver.path(page * page_size) {
                    oracle.expected[step.table as usize] = None;
                }
                oracle.mapped.insert(page, (frame, perm));
            }
            Op::Unmap { page } => {
                let Some((frame, _)) = oracle.mapped.remove(&page) else {
                    prop_assert!(driver.unmap(page * page_size).is_none());
                    continue;
                };
                let unmapped = driver.unmap(page * page_size).expect("mapped");
                prop_assert_eq!(unmapped.frame, frame);
                oracle.pending.push((page, unmapped));
            }
            Op::Service => {
                device.service_invalidations();
            }
            Op::Reclaim => {
                let mut still = Vec::new();
                for (page, unmapped) in oracle.pending.drain(..) {
                    match driver.try_reclaim(unmapped) {
                        Ok(frame) => {
                            oracle.tag += 1;
                            driver.fill_frame(frame, oracle.tag);
                            oracle.expected[frame as usize] = Some(vec![oracle.tag; words]);
                            driver.free_frame(frame);
                        }
                        Err(u) => still.push((page, u)),
                    }
                }
                oracle.pending = still;
            }
            Op::Write { page, word, len } | Op::Read { page, word, len } => {
                let write = matches!(op, Op::Write { .. });
                let iova = page * page_size + 8 * word;
                let pages: Vec<u64> = (0..len as u64).map(|k| (iova + 8 * k) / page_size).collect();
                oracle.tag += 1;
                let tag = oracle.tag;
                let allowed = |p: u64| {
                    if write {
                        oracle.device_may_write(p)
                    } else {
                        oracle.device_may_read(p)
                    }
                };
                let must = |p: u64| {
                    oracle
                        .mapped
                        .get(&p)
                        .is_some_and(|(_, perm)| perm.allows(if write { Access::Write } else { Access::Read }))
                };
                let data = vec![tag; len];
                let result = if write {
                    device.dma_write(iova, &data)
                } else {
                    let mut out = vec![0; len];
                    device.dma_read(iova, &mut out)
                };
                match result {
                    Ok(()) => prop_assert!(pages.iter().all(|&p| allowed(p)), "{op:?} allowed into {pages:?}"),
                    Err(f) => {
                        let p = f.iova / page_size;
                        prop_assert!(!must(p), "{op:?} blocked on mapped page {p}: {f}");
                    }
                }
                if write && pages.iter().all(|&p| must(p)) {
                    prop_assert!(result.is_ok());
                    for (k, &p) in pages.iter().enumerate() {
                        let frame = oracle.mapped[&p].0;
                        let phys = frame * page_size + (iova + 8 * k as u64) % page_size;
                        prop_assert_eq!(driver.iommu().read_word(phys), tag);
                    }
                }
            }
            Op::Stray { iova } => {
                let page = iova / page_size;
                let r = device.dma_write(iova, &[0xbad]);
                if r.is_ok() {
                    prop_assert!(oracle.device_may_write(page), "stray {iova:#x} allowed");
                }
            }
        }
        // No DMA reached a frame the CPU owns: kernel text, free and reused frames are intact.
        for (frame, want) in oracle.expected.iter().enumerate() {
            if let Some(want) = want {
                prop_assert_eq!(
                    &driver.frame_words(frame as u64),
                    want,
                    "frame {} after {:?}",
                    frame,
                    op
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

    /// Random map / unmap / service / reclaim / DMA sequences (fixed variant, one thread playing
    /// both sides): no DMA ever reaches memory that is not the device's at that moment.
    #[test]
    fn no_dma_reaches_memory_that_is_not_the_devices(ops in proptest::collection::vec(op(), 1..80)) {
        run_ops(&ops)?;
    }
}
