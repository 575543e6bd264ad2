//! # Cache hierarchy: the latency of one load, from L1 to DRAM
//!
//! **What is measured.** The time of one load whose address depends on the previous load, over
//! working sets from 4 KiB to `--max` (1 GiB by default). The working set is a ring of pointers,
//! one per 64-byte line, linked in a random cyclic order ([`chase`]: Sattolo's shuffle, then
//! `p = *p`): lmbench `lat_mem_rd`'s method. A dependent load cannot start before the previous
//! one returns, and a random order defeats the prefetchers, so ns per load is the latency of the
//! level the working set fits in. The curve is a staircase:
//!
//! | working set fits in | typical latency          | on the curve                         |
//! |---------------------|--------------------------|--------------------------------------|
//! | L1d (32–48 KiB)     | 4–5 cycles, ~1 ns        | the first plateau                    |
//! | L2 (0.5–2 MiB)      | ~14 cycles, 3–5 ns       | a cliff after L1's size, a plateau   |
//! | L3 (MiBs, shared)   | 40–70 cycles, 10–20 ns   | a cliff after L2's size              |
//! | DRAM                | 80–120 ns                | the last cliff, after L3's size      |
//!
//! The plateaus and cliffs are found from the measured curve ([`curve::shape`], a pure function
//! tested on synthetic staircases) and printed beside the sizes sysfs reports
//! (`/sys/devices/system/cpu/cpu0/cache/index*`, read by [`machine::caches`], tested on fake
//! trees). `--level L1|L2|L3|DRAM` is the seed's "pick what's cached, then load": a working set
//! sized from sysfs to sit in that level, then loads from it.
//!
//! **Cycles** are ns × the TSC's rate, when it is known ([`machine::tsc`] says where it came from:
//! CPUID, the hypervisor's leaf, or a measurement against the monotonic clock); they are the
//! TSC's reference cycles, not the core's own when it boosts.
//!
//! **What this machine cannot show, and why.** No hardware counters in the VMs this lab was
//! written on (`perf` reports cache misses "not supported"): which level served a load is
//! inferred from timing, never counted. In a VM the L3 sysfs reports is the host's, shared with
//! other tenants (one project machine reported 480 MiB): its plateau is noisy and the DRAM
//! plateau may need a working set well beyond it — the run warns and says which `--max` to use.
//! The buffer asks for 2 MiB pages (`MADV_HUGEPAGE`) so that TLB misses stay out of the curve
//! (the `tlb` demo measures them); where the kernel refuses, the note says so and the DRAM
//! plateau includes page walks.
//!
//! **Anchors.** lmbench `lat_mem_rd` (McVoy & Staelin, USENIX'96: a ring of dependent loads, ns
//! per load against size); Drepper, "What every programmer should know about memory" (2007),
//! §3.3: L1 ~3, L2 ~14, DRAM ~240 cycles on his Pentium 4.

pub mod chase;
pub mod curve;
pub mod demo;
pub mod machine;

use chase::{Region, Ring, LINE};
use machine::{human, Cache};

/// The smallest working set of a sweep.
pub const MIN_SET: usize = 4 << 10;

/// Working sets from 4 KiB to `max`, `per_octave` sizes per doubling, each a whole number of lines.
pub fn sweep_sizes(max: usize, per_octave: usize) -> Vec<usize> {
    let per_octave = per_octave.max(1);
    let mut out: Vec<usize> = Vec::new();
    for i in 0.. {
        let s = MIN_SET as f64 * 2f64.powf(i as f64 / per_octave as f64);
        if s > max as f64 * 1.0001 {
            break;
        }
        let s = (s as usize).div_ceil(LINE) * LINE;
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    if out.last().is_some_and(|&l| l < max && max >= MIN_SET) {
        out.push(max / LINE * LINE);
    }
    out
}

/// ns per load over a working set of `bytes` (the first `bytes` of `region`, one pointer per line).
pub fn ns_per_load(region: &mut Region, bytes: usize, loads: u64, reps: usize) -> f64 {
    let ring = Ring::build(region, (bytes / LINE).max(1), |i| i * LINE, bytes as u64);
    ring.ns_per_load(loads, reps)
}

/// A level the seed lets you pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The first-level data cache.
    L1,
    /// The second level.
    L2,
    /// The third level.
    L3,
    /// Main memory.
    Dram,
}

impl Level {
    /// `--level`'s spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "L1" => Some(Level::L1),
            "L2" => Some(Level::L2),
            "L3" => Some(Level::L3),
            "DRAM" => Some(Level::Dram),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Level::L1 => "L1",
            Level::L2 => "L2",
            Level::L3 => "L3",
            Level::Dram => "DRAM",
        }
    }
}

/// The smallest DRAM working set: above any cache a single CPU has had so far.
pub const DRAM_FLOOR: usize = 256 << 20;

/// A working set that sits in `level`, sized from the data caches sysfs reports (`data`, one per
/// level, smallest first), with the reason in words; `Err` (one line) when sysfs lacks the level.
///
/// L1: half of L1d. L2: half of L2, at least twice L1. L3: eight L2s or half the L3, whichever is
/// smaller, at least twice L2 (a VM's L3 is the host's, shared: a big share of it is not ours).
/// DRAM: four times the last level, at least [`DRAM_FLOOR`].
pub fn working_set(level: Level, data: &[Cache]) -> Result<(usize, String), String> {
    let size = |l: u32| data.iter().find(|c| c.level == l).map(|c| c.size);
    let need = |l: u32| {
        size(l).ok_or_else(|| {
            format!("sysfs reports no L{l} data cache on this machine, so --level L{l} has nothing to sit in")
        })
    };
    let line = |bytes: usize| bytes / LINE * LINE;
    Ok(match level {
        Level::L1 => {
            let l1 = need(1)?;
            (line(l1 / 2), format!("half of L1d {}", human(l1 as f64)))
        }
        Level::L2 => {
            let (l1, l2) = (need(1)?, need(2)?);
            (
                line((l2 / 2).max(2 * l1)),
                format!("half of L2 {}, over twice L1d", human(l2 as f64)),
            )
        }
        Level::L3 => {
            let (l2, l3) = (need(2)?, need(3)?);
            (
                line((l3 / 2).min(8 * l2).max(2 * l2)),
                format!("beyond L2 {}, well inside L3 {}", human(l2 as f64), human(l3 as f64)),
            )
        }
        Level::Dram => {
            let last = data.iter().map(|c| c.size).max().unwrap_or(0);
            (
                line((4 * last).max(DRAM_FLOOR)),
                format!(
                    "four times the last cache ({}), at least {}",
                    human(last as f64),
                    human(DRAM_FLOOR as f64)
                ),
            )
        }
    })
}

/// The sysfs cache a plateau ending at `last` bytes fits (the smallest data cache holding it,
/// where the next size no longer fits), or DRAM beyond all of them.
pub fn fits(first: usize, last: usize, data: &[Cache]) -> String {
    match data.iter().find(|c| c.size as f64 >= last as f64 * 0.9) {
        Some(c) => format!("{} {}", c.name(), human(c.size as f64)),
        None if data.last().is_some_and(|c| first >= c.size) => "DRAM".into(),
        None if data.is_empty() => "? (no sysfs caches)".into(),
        None => format!(
            "beyond {} {}",
            data.last().map(Cache::name).unwrap_or_default(),
            human(data.last().map_or(0, |c| c.size) as f64)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(level: u32, kind: &str, size: usize) -> Cache {
        Cache {
            level,
            kind: kind.into(),
            size,
            ways: 8,
            shared_with: "0".into(),
        }
    }

    fn zen4() -> Vec<Cache> {
        vec![
            cache(1, "Data", 32 << 10),
            cache(2, "Unified", 1 << 20),
            cache(3, "Unified", 32 << 20),
        ]
    }

    #[test]
    fn sweep_covers_4k_to_max_ascending() {
        let s = sweep_sizes(1 << 30, 2);
        assert_eq!(s[0], 4096);
        assert_eq!(*s.last().unwrap(), 1 << 30);
        assert_eq!(s.len(), 37);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s.iter().all(|b| b % LINE == 0));
        let odd = sweep_sizes(3 << 20, 4);
        assert_eq!(*odd.last().unwrap(), 3 << 20, "ends at max");
        assert!(sweep_sizes(1 << 30, 4).len() > 70);
    }

    #[test]
    fn working_sets_sit_in_their_level() {
        let z = zen4();
        assert_eq!(working_set(Level::L1, &z).unwrap().0, 16 << 10);
        assert_eq!(working_set(Level::L2, &z).unwrap().0, 512 << 10);
        assert_eq!(working_set(Level::L3, &z).unwrap().0, 8 << 20);
        assert_eq!(working_set(Level::Dram, &z).unwrap().0, 256 << 20);
        // The VM of DEMOS.md: a 480 MiB "L3".
        let vm = vec![
            cache(1, "Data", 48 << 10),
            cache(2, "Unified", 2 << 20),
            cache(3, "Unified", 480 << 20),
        ];
        assert_eq!(working_set(Level::L3, &vm).unwrap().0, 16 << 20);
        assert_eq!(working_set(Level::Dram, &vm).unwrap().0, 1920 << 20);
        let no_l3 = &vm[..2];
        let e = working_set(Level::L3, no_l3).unwrap_err();
        assert!(e.contains("no L3") && !e.contains('\n'));
        assert!(working_set(Level::L1, &[]).is_err());
        assert_eq!(working_set(Level::Dram, &[]).unwrap().0, DRAM_FLOOR);
    }

    #[test]
    fn plateaus_are_named_after_the_cache_they_fit() {
        let z = zen4();
        assert_eq!(fits(4096, 32 << 10, &z), "L1d 32 KiB");
        assert_eq!(fits(64 << 10, 768 << 10, &z), "L2 1 MiB");
        assert_eq!(fits(2 << 20, 24 << 20, &z), "L3 32 MiB");
        assert_eq!(fits(64 << 20, 1 << 30, &z), "DRAM");
        assert_eq!(fits(16 << 20, 1 << 30, &z), "beyond L3 32 MiB");
        assert!(fits(4096, 8192, &[]).contains("no sysfs"));
    }

    #[test]
    fn level_names_round_trip() {
        for l in [Level::L1, Level::L2, Level::L3, Level::Dram] {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse("L4"), None);
    }
}
