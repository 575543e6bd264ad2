//! # TLB & page walk: what a translation costs once the TLB runs out
//!
//! Every load names a virtual address; the core needs the physical one. The TLB caches recent
//! translations (one entry per page); a miss walks the page table, four levels on x86-64:
//!
//! | bits of the address | 47–39 | 38–30 | 29–21 | 20–12 | 11–0   |
//! |---------------------|-------|-------|-------|-------|--------|
//! | 4 KiB page          | PGD   | PUD   | PMD   | PTE   | offset |
//! | 2 MiB page          | PGD   | PUD   | PMD (leaf) | offset (21 bits) ||
//!
//! Each level is a 4 KiB table of 512 entries indexed by 9 bits; a 2 MiB page stops at the PMD,
//! so its walk is one load shorter and one TLB entry covers 512 times more memory.
//!
//! **What is measured.** A page-stride pointer chase ([`crate::cpu::cache_hierarchy::chase`],
//! the same ring and kernel as `cache-hierarchy`): one pointer in each of N consecutive 4 KiB
//! pages (at a pseudo-random line of the page, so the lines spread over the cache's sets),
//! visited in a random cyclic order, ns per dependent load against N. The same chase runs over
//! memory advised `MADV_NOHUGEPAGE` (4 KiB pages: N TLB entries) and `MADV_HUGEPAGE` (2 MiB
//! pages: N/512 entries). Both touch the same N lines, so the caches see the same thing and the
//! gap between the curves is the translation: flat while N pages fit the TLB, then a cliff at
//! each TLB level's reach. The reach is detected ([`crate::cpu::cache_hierarchy::curve::shape`])
//! on the ratio of the two curves, which cancels the data caches' own cliffs.
//!
//! **Reported, not assumed.** Whether the kernel really granted huge pages: this process's
//! `/proc/self/smaps` `AnonHugePages` for the mapping, read after the run ([`huge_granted`]); when
//! THP is off or refused the run says so and the 2 MiB curve is just another 4 KiB curve.
//! **Shown.** The walk of a real address of the run, its PGD/PUD/PMD/PTE indices and offset
//! computed from its bits ([`walk`]).
//!
//! **What this machine cannot show.** No dTLB-miss counters in a VM (perf: "not supported"): the
//! reach is inferred from timing. Under a hypervisor a guest's walk is two-dimensional (each
//! guest table access is itself translated by the host's nested tables), so a miss costs more
//! than on bare metal, and the host's own page size is invisible from inside.
//!
//! **Anchors.** Intel SDM vol. 3A §4.5 (4-level paging: the bit fields above); Drepper, "What every
//! programmer should know about memory" §4.3 (TLB influence; his Figure 4.4 shows the same cliff);
//! AMD's Zen 4 optimisation guide: 72-entry L1 DTLB, 3072-entry L2 DTLB.

pub mod demo;

use crate::cpu::cache_hierarchy::chase::{Region, Ring, SplitMix, HUGE, LINE, SMALL};

/// One level of a walk: its table's name, the bits that index it, and the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// `PGD`, `PUD`, `PMD`, `PTE`, or `offset`.
    pub name: &'static str,
    /// The highest and lowest bit it takes from the address.
    pub bits: (u32, u32),
    /// Its value.
    pub index: u64,
}

/// The 4-level walk of virtual address `addr` on a page of `page` bytes (4 KiB or 2 MiB): the
/// indices and the offset computed from its bits.
///
/// # Panics
/// On a page size other than 4 KiB or 2 MiB.
pub fn walk(addr: u64, page: usize) -> Vec<Step> {
    let levels: &[(&str, u32, u32)] = match page {
        SMALL => &[
            ("PGD", 47, 39),
            ("PUD", 38, 30),
            ("PMD", 29, 21),
            ("PTE", 20, 12),
            ("offset", 11, 0),
        ],
        HUGE => &[("PGD", 47, 39), ("PUD", 38, 30), ("PMD", 29, 21), ("offset", 20, 0)],
        _ => panic!("walk: a page of {page} bytes is neither 4 KiB nor 2 MiB"),
    };
    levels
        .iter()
        .map(|&(name, hi, lo)| Step {
            name,
            bits: (hi, lo),
            index: (addr >> lo) & ((1u64 << (hi - lo + 1)) - 1),
        })
        .collect()
}

/// One line: `PGD[254] → PUD[235] → PMD[1] → PTE[1] → offset 0xa40`.
pub fn walk_line(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            if s.name == "offset" {
                format!("offset {:#x} (bits {}–{})", s.index, s.bits.0, s.bits.1)
            } else {
                format!("{}[{}] (bits {}–{})", s.name, s.index, s.bits.0, s.bits.1)
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The byte offset of page `i`'s pointer: page `i`, at a pseudo-random line of it (so that
/// N pointers spread over the cache's sets whatever the page size).
pub fn slot_offset(i: usize) -> usize {
    let line = (SplitMix::new(i as u64).next_u64() >> 58) as usize;
    i * SMALL + line * LINE
}

/// ns per load of a chase through one pointer in each of `pages` 4 KiB pages of `region`,
/// and the address the chase starts from.
pub fn ns_per_load(region: &mut Region, pages: usize, loads: u64, reps: usize) -> (f64, usize) {
    let ring = Ring::build(region, pages, slot_offset, pages as u64 ^ 0x71b);
    (ring.ns_per_load(loads, reps), ring.start())
}

/// Page counts of a sweep: 8 to `max`, `per_octave` per doubling.
pub fn page_counts(max: usize, per_octave: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for i in 0.. {
        let n = (8.0 * 2f64.powf(i as f64 / per_octave.max(1) as f64)).round() as usize;
        if n > max {
            break;
        }
        if out.last() != Some(&n) {
            out.push(n);
        }
    }
    out
}

/// Whether huge pages really back the first `span` bytes of `region`: `(AnonHugePages bytes,
/// granted)`, granted meaning at least half of the span; `None` when smaps cannot be read.
pub fn huge_granted(region: &Region, span: usize) -> Option<(u64, bool)> {
    let span = span.div_ceil(HUGE) * HUGE;
    let b = crate::cpu::cache_hierarchy::machine::huge_backed(region.base(), span)?;
    Some((b, b as usize * 2 >= span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_takes_nine_bits_per_level() {
        // PGD 0x0ff, PUD 0x1a5, PMD 0x003, PTE 0x101, offset 0xa40.
        let addr = (0x0ffu64 << 39) | (0x1a5 << 30) | (0x003 << 21) | (0x101 << 12) | 0xa40;
        let w = walk(addr, SMALL);
        let got: Vec<(&str, u64)> = w.iter().map(|s| (s.name, s.index)).collect();
        assert_eq!(
            got,
            [
                ("PGD", 0xff),
                ("PUD", 0x1a5),
                ("PMD", 3),
                ("PTE", 0x101),
                ("offset", 0xa40)
            ]
        );
        let back = w.iter().fold(0u64, |a, s| a | (s.index << s.bits.1));
        assert_eq!(back, addr, "the fields rebuild the address");
        let h = walk(addr, HUGE);
        assert_eq!(h.len(), 4, "a 2 MiB page stops at the PMD");
        assert_eq!(h[3].index, (0x101 << 12) | 0xa40, "21-bit offset");
        assert_eq!(h.iter().fold(0u64, |a, s| a | (s.index << s.bits.1)), addr);
        assert!(walk_line(&w).starts_with("PGD[255] (bits 47–39) → PUD[421]"));
        assert!(walk_line(&h).ends_with("offset 0x101a40 (bits 20–0)"));
    }

    #[test]
    #[should_panic(expected = "neither 4 KiB nor 2 MiB")]
    fn walk_refuses_other_page_sizes() {
        walk(0, 1 << 30);
    }

    #[test]
    fn slots_are_one_per_page_spread_over_lines() {
        let mut lines = std::collections::HashSet::new();
        for i in 0..4096 {
            let o = slot_offset(i);
            assert_eq!(o / SMALL, i, "page {i}");
            assert_eq!(o % LINE, 0);
            lines.insert(o % SMALL / LINE);
        }
        assert_eq!(lines.len(), 64, "every line of a page gets used");
    }

    #[test]
    fn page_counts_ascend_from_8() {
        let c = page_counts(1 << 15, 2);
        assert_eq!(c[0], 8);
        assert_eq!(*c.last().unwrap(), 1 << 15);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(c.len(), 25);
    }

    #[test]
    fn chase_over_pages_runs_and_thp_is_reported() {
        let mut region = Region::new(64 * SMALL, crate::cpu::cache_hierarchy::chase::Pages::Small).unwrap();
        let (ns, start) = ns_per_load(&mut region, 64, 1000, 1);
        assert!(ns > 0.0);
        assert_eq!((start - region.base()) % SMALL / LINE, slot_offset(0) / LINE);
        if let Some((bytes, granted)) = huge_granted(&region, 64 * SMALL) {
            assert_eq!(bytes, 0, "MADV_NOHUGEPAGE memory has no huge pages");
            assert!(!granted);
        }
    }
}
