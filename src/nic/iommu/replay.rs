//! `step iommu`: the seed's page table, DMAs through the IOTLB, and the unmap/reuse race, played
//! deterministically on one thread on the real structures (`real::broken` or `real::fixed`), with
//! the table, the IOTLB, the invalidation queue and the buffer's frame after every step.

use std::fmt::Write as _;

use super::{real, Access, Geometry, IommuDevice, IommuDriver, Make, Perm, WalkStep, KERNEL_TEXT};
use crate::lab::Replay;
use crate::Variant;

/// The seed's receive buffer: IOVA 0x1000 → physical 0x4000.
const RX_IOVA: u64 = 0x1000;
const RX_FRAME: u64 = 4;
/// The seed's transmit buffer: IOVA 0x2000 → physical 0x8000, read-only for the device.
const TX_IOVA: u64 = 0x2000;
const TX_FRAME: u64 = 8;
/// The seed's stray IOVA (no PTE) and the stray that passthrough sends into kernel text.
const UNMAPPED_IOVA: u64 = 0xf000;
const STRAY_IOVA: u64 = 0x100;
/// What the device writes, and what the driver writes into the frame it reuses.
const PACKET: u64 = 0xd0d0_0000_0000_0001;
const LATE_PACKET: u64 = 0xd0d0_0000_0000_0002;
const REUSED: u64 = 0x5eed_0000_0000_0001;

/// The replay of `variant`.
pub fn replay(variant: Variant) -> Replay {
    let (steps, outcome) = match variant {
        Variant::Broken => play(real::broken::new),
        Variant::Fixed => play(real::fixed::new),
    };
    Replay {
        demo: "iommu".into(),
        intro: format!(
            "The IOMMU of the seed demo, on the {variant} (\"{}\") unmap, replayed step by step on the lab's real \
             structures: a 4-level table in simulated physical memory (this machine has no IOMMU to program: the \
             table is the lab's model of one), the device's IOTLB, and the invalidation queue. The driver maps the \
             seed's buffers, the device DMAs through the IOTLB (miss, walk, fill; then hits), strays are blocked, \
             then the driver unmaps the RX buffer and reuses its frame while a packet is still in flight.",
            if variant == Variant::Broken { "lazy" } else { "strict" }
        ),
        steps,
        outcome,
    }
}

fn addr(frame: u64) -> String {
    format!("{:#06x}", frame << Geometry::X86.page_shift())
}

fn walk_text(steps: &[WalkStep]) -> String {
    let g = Geometry::X86;
    steps
        .iter()
        .map(|s| {
            let target = if !s.pte.present() {
                "not present".to_string()
            } else if s.level == 1 {
                format!("page {} {}", addr(s.pte.frame(g)), s.pte.perm())
            } else {
                format!("table {}", addr(s.pte.frame(g)))
            };
            format!("L{}[{}]@{} = {target}", s.level, s.index, addr(s.table))
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The two mappings' paths through the table.
fn tables<D: IommuDriver>(driver: &D) -> String {
    let mut s = String::new();
    for (name, iova) in [("RX", RX_IOVA), ("TX", TX_IOVA)] {
        let _ = writeln!(s, "    table {name} {iova:#06x}: {}", walk_text(&driver.path(iova)));
    }
    s
}

/// The state after a step: the IOTLB, the invalidation queue, the RX frame.
fn state<D: IommuDriver, V: IommuDevice>(driver: &D, device: &mut V) -> String {
    let mut s = String::new();
    let entries: Vec<String> = device
        .iotlb()
        .entries()
        .map(|(slot, e)| {
            format!(
                "[{slot}] {:#06x} → {} {}",
                e.vpn << Geometry::X86.page_shift(),
                addr(e.frame),
                e.perm
            )
        })
        .collect();
    let (posted, done) = driver.invalidations();
    let rx: Vec<String> = driver.frame_words(RX_FRAME)[..2]
        .iter()
        .map(|w| format!("{w:#x}"))
        .collect();
    let _ = writeln!(
        s,
        "    IOTLB: {}",
        if entries.is_empty() {
            "empty".to_string()
        } else {
            entries.join(", ")
        }
    );
    let _ = write!(
        s,
        "    invalidation queue: posted {posted}, acknowledged {done} · frame {} (RX buffer): [{}, …]",
        addr(RX_FRAME),
        rx.join(", ")
    );
    s
}

fn play<D: IommuDriver, V: IommuDevice>(make: Make<D, V>) -> (Vec<String>, String) {
    let mut steps = Vec::new();
    let mut last_tables = String::new();
    // Each step: what happened, the table paths when they changed, then the IOTLB, the queue and
    // the RX frame, all read from the real structures.
    let mut step = |actor: &str, action: String, driver: &D, device: &mut V| {
        let now = tables(driver);
        let table = if now == last_tables {
            "    table: unchanged\n".to_string()
        } else {
            now.clone()
        };
        last_tables = now;
        steps.push(format!(
            "{:>2}. [{actor}] {action}\n{table}{}",
            steps.len() + 1,
            state(driver, device)
        ));
    };
    let (mut driver, mut device) = make(Geometry::X86, 16, false);
    assert!(driver.claim_frame(RX_FRAME) && driver.claim_frame(TX_FRAME));
    driver.map(RX_IOVA, RX_FRAME, Perm::RW).expect("RX maps");
    driver.map(TX_IOVA, TX_FRAME, Perm::R).expect("TX maps");
    step(
        "driver",
        format!(
            "maps the seed's buffers: IOVA {RX_IOVA:#06x} → {} (RX ring buffer, RW) and {TX_IOVA:#06x} → {} (TX ring \
             buffer, read-only for the device); kernel text is frame {}, the root table frame {}; the tables \
             below it come from the free frames",
            addr(RX_FRAME),
            addr(TX_FRAME),
            addr(0),
            addr(super::ROOT_FRAME)
        ),
        &driver,
        &mut device,
    );

    let (walk, _) = device.walk_steps(RX_IOVA, Access::Write);
    let r = device.dma_write(RX_IOVA, &[PACKET]);
    step(
        "device",
        format!(
            "DMA write {PACKET:#x} to {RX_IOVA:#06x}: IOTLB miss → walk {} → fill → {}",
            walk_text(&walk),
            outcome(&r, RX_FRAME)
        ),
        &driver,
        &mut device,
    );
    let r = device.dma_write(RX_IOVA + 8, &[PACKET]);
    step(
        "device",
        format!(
            "DMA write to {:#06x}: IOTLB hit, no walk → {}",
            RX_IOVA + 8,
            outcome(&r, RX_FRAME)
        ),
        &driver,
        &mut device,
    );
    let r = device.dma_write(TX_IOVA, &[PACKET]);
    step(
        "device",
        format!("DMA write to {TX_IOVA:#06x} (the TX buffer): {}", outcome(&r, TX_FRAME)),
        &driver,
        &mut device,
    );
    let r = device.dma_write(UNMAPPED_IOVA, &[PACKET]);
    step(
        "device",
        format!(
            "DMA write to {UNMAPPED_IOVA:#06x}: {} (the seed's \"other IOVAs → fault\")",
            outcome(&r, 0)
        ),
        &driver,
        &mut device,
    );
    let r = device.dma_write(STRAY_IOVA, &[PACKET]);
    let (pt_driver, mut pt_device) = make(Geometry::X86, 16, true);
    let landed = pt_device.dma_write(STRAY_IOVA, &[PACKET]);
    let kernel_word = pt_driver.frame_words(0)[(STRAY_IOVA / 8) as usize];
    step(
        "device",
        format!(
            "stray DMA write to {STRAY_IOVA:#06x}: {} — with --passthrough (translation off, on a second IOMMU) the \
             same DMA {} at physical {STRAY_IOVA:#06x}, kernel text: the word that held {:#x} now holds \
             {kernel_word:#x}",
            outcome(&r, 0),
            if landed.is_ok() { "lands" } else { "is refused" },
            KERNEL_TEXT | (STRAY_IOVA / 8)
        ),
        &driver,
        &mut device,
    );

    let unmapped = driver.unmap(RX_IOVA).expect("RX was mapped");
    step(
        "driver",
        format!(
            "unmaps {RX_IOVA:#06x}: clears its leaf entry and posts invalidation {} — the device has not processed \
             it: its IOTLB still maps {RX_IOVA:#06x} → {}",
            unmapped.seq,
            addr(unmapped.frame)
        ),
        &driver,
        &mut device,
    );
    let first = driver.try_reclaim(unmapped);
    let mut reused = false;
    match first {
        Ok(frame) => {
            driver.fill_frame(frame, REUSED);
            reused = true;
            step(
                "driver",
                format!(
                    "LAZY: takes frame {} back at once and reuses it for its own data ({REUSED:#x} in every word)",
                    addr(frame)
                ),
                &driver,
                &mut device,
            );
        }
        Err(u) => step(
            "driver",
            format!(
                "STRICT: frame {} is not reusable yet: invalidation {} is not acknowledged; the driver waits",
                addr(u.frame),
                u.seq
            ),
            &driver,
            &mut device,
        ),
    }
    let r = device.dma_write(RX_IOVA, &[LATE_PACKET]);
    step(
        "device",
        format!(
            "a packet still in flight: DMA write {LATE_PACKET:#x} to {RX_IOVA:#06x}: IOTLB hit on the stale entry → {}{}",
            outcome(&r, RX_FRAME),
            if reused {
                " — INSIDE THE REUSED FRAME"
            } else {
                " — still the device's frame: the driver has not taken it back"
            }
        ),
        &driver,
        &mut device,
    );
    device.service_invalidations();
    step(
        "device",
        format!(
            "services its invalidation queue: flushes the IOTLB and acknowledges invalidation {}",
            unmapped.seq
        ),
        &driver,
        &mut device,
    );
    if !reused {
        let frame = driver
            .try_reclaim(unmapped)
            .expect("acknowledged: the frame is reusable");
        driver.fill_frame(frame, REUSED);
        step(
            "driver",
            format!(
                "sees the acknowledgement: takes frame {} back and reuses it ({REUSED:#x} in every word)",
                addr(frame)
            ),
            &driver,
            &mut device,
        );
    }
    let (walk, _) = device.walk_steps(RX_IOVA, Access::Write);
    let r = device.dma_write(RX_IOVA, &[LATE_PACKET]);
    step(
        "device",
        format!(
            "DMA write to {RX_IOVA:#06x} again: IOTLB miss → walk {} → {}",
            walk_text(&walk),
            outcome(&r, RX_FRAME)
        ),
        &driver,
        &mut device,
    );
    let words = driver.frame_words(RX_FRAME);
    let intact = words.iter().all(|&w| w == REUSED);
    let outcome = if intact {
        format!(
            "the reused frame {} holds only the driver's data: strict unmap — no DMA reached it after the driver \
             took it back ({} DMAs blocked and logged)",
            addr(RX_FRAME),
            device.faults().count
        )
    } else {
        format!(
            "use after free: the reused frame {} holds the device's {:#x} where the driver wrote {REUSED:#x} — a DMA \
             through a stale IOTLB entry (lazy unmap; Linux iommu.strict=0's window)",
            addr(RX_FRAME),
            words[0]
        )
    };
    (steps, outcome)
}

/// Where a DMA went, in words.
fn outcome(r: &Result<(), super::Fault>, frame: u64) -> String {
    match r {
        Ok(()) => format!("ALLOW: lands in {}", addr(frame)),
        Err(f) => format!("BLOCK, logged: {f}"),
    }
}
