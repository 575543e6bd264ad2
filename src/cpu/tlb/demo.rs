//! The `tlb` demo: a page-stride chase on 4 KiB pages vs 2 MiB pages against pages touched, the
//! TLB reach detected from it, whether THP was granted, and the walk of a real address.

use std::io::IsTerminal;
use std::path::Path;

use super::{huge_granted, ns_per_load, page_counts, walk, walk_line};
use crate::cpu::cache_hierarchy::chase::{Pages, Region, FINE_REPS, HUGE, REPS, SMALL};
use crate::cpu::cache_hierarchy::curve::{self, Shape};
use crate::cpu::cache_hierarchy::machine::{self, human};
use crate::hw::run_threads;
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variant, Variants,
};

/// The `tlb` demo.
#[derive(Debug)]
pub struct TlbDemo;

/// `tlb`.
pub static TLB: TlbDemo = TlbDemo;

static SPEC: Spec = Spec {
    name: "tlb",
    module: "cpu/tlb",
    group: Group::Cpu,
    seed_title: "TLB & page walk",
    lesson: "past the TLB's reach every load walks the page table; 2 MiB pages reach 512 times further",
    pair: "the slow way → the fast way: 4 KiB pages (MADV_NOHUGEPAGE) → 2 MiB pages (MADV_HUGEPAGE)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(1),
    default_iterations: 2_000,
    max_iterations: (
        20_000_000,
        "loads per timed repetition: at a walk's ~50 ns, 20 M loads are 1 s per repetition per point",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "pages",
            help: "the most 4 KiB pages the chase touches (each page size maps that many × 4 KiB)",
            kind: ParamKind::Number {
                min: 16,
                max: 1 << 18,
                default: 1 << 15,
                power_of_two: true,
            },
        },
        Param {
            name: "fine",
            help: "a finer, longer sweep: four page counts per doubling instead of two, more repetitions",
            kind: ParamKind::Flag,
        },
    ],
};

/// One page size's curve and what smaps said about it.
struct Curve {
    pages: Pages,
    points: Vec<(f64, f64)>,
    /// A real address of the run: where the chase over the most pages started.
    addr: usize,
    /// smaps `AnonHugePages` over the span, and whether that counts as granted.
    huge: Option<(u64, bool)>,
}

impl Curve {
    fn label(&self) -> &'static str {
        match self.pages {
            Pages::Small => "4 KiB pages (MADV_NOHUGEPAGE)",
            Pages::Huge => "2 MiB pages (MADV_HUGEPAGE)",
        }
    }
}

fn pages_of(case: &Case) -> Pages {
    match case.variant() {
        Variant::Broken => Pages::Small,
        Variant::Fixed => Pages::Huge,
    }
}

impl Demo for TlbDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let root = Path::new("/");
        let fine = opts.params.flag("fine");
        let reps = if fine { FINE_REPS } else { REPS };
        let max = usize::try_from(opts.params.number("pages")).unwrap_or(1 << 18);
        let span = max * SMALL;
        let loads = opts.iterations;
        let kinds: Vec<Pages> = cases.iter().map(pages_of).collect();
        if let Some((total, available)) = machine::memory(root) {
            let need = (span.div_ceil(HUGE) * HUGE * kinds.len()) as u64;
            if need > total {
                return Err(UsageError(format!(
                    "--pages {max} maps {} per page size, above this machine's physical memory ({})",
                    human(span as f64),
                    human(total as f64)
                )));
            }
            if need > available / 4 * 3 {
                return Err(UsageError(format!(
                    "--pages {max} needs {}, above three quarters of the memory available now ({})",
                    human(need as f64),
                    human(available as f64)
                )));
            }
        }
        let counts = page_counts(max, if fine { 4 } else { 2 });
        let progress = std::io::stderr().is_terminal();
        // The regions are mapped and first touched on the pinned thread (their memory is local to it).
        let (curves, par) = run_threads(1, opts.pin, |_| {
            let mut regions: Vec<Region> = kinds.iter().map(|&k| Region::new(span, k)).collect::<Option<_>>()?;
            let mut curves: Vec<Curve> = kinds
                .iter()
                .map(|&pages| Curve {
                    pages,
                    points: Vec::new(),
                    addr: 0,
                    huge: None,
                })
                .collect();
            // Interleaved per count, so a burst of noise from other jobs hits both curves alike.
            for &n in &counts {
                for (c, region) in curves.iter_mut().zip(&mut regions) {
                    let (ns, addr) = ns_per_load(region, n, loads, reps);
                    c.points.push((n as f64, ns));
                    c.addr = addr;
                }
                if progress {
                    let figs: Vec<String> = curves
                        .iter()
                        .map(|c| format!("{:.2} ns", c.points.last().unwrap().1))
                        .collect();
                    eprintln!("tlb: {n:>7} pages  {}", figs.join(" · "));
                }
            }
            for (c, region) in curves.iter_mut().zip(&regions) {
                c.huge = huge_granted(region, span);
            }
            Some(curves)
        });
        let curves = curves
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| UsageError(format!("mmap of {} failed", human(span as f64))))?;
        let info = machine::cpuinfo(root);
        let tsc = machine::tsc(&info);
        let first = counts[0];
        for c in &curves {
            let at = |i: usize| c.points.get(i).map_or(f64::NAN, |p| p.1);
            let last = at(c.points.len() - 1);
            let backing = match c.huge {
                Some((b, _)) => format!("{} of {}", human(b as f64), human((span.div_ceil(HUGE) * HUGE) as f64)),
                None => "smaps unreadable".into(),
            };
            out.rows.push(Row::on_cores(
                c.label(),
                vec![
                    Figure::text("huge-page backed (smaps)", &backing),
                    Figure::number(&format!("ns/load @ {first} pages"), at(0), 2, "ns"),
                    Figure::number(&format!("ns/load @ {max} pages"), last, 2, "ns"),
                    match tsc.ghz() {
                        Some(g) => Figure::number(&format!("cycles @ {max} pages"), last * g, 1, "cycles"),
                        None => Figure::text(&format!("cycles @ {max} pages"), "unknown"),
                    },
                ],
                &par,
            ));
        }
        let small = curves.iter().find(|c| c.pages == Pages::Small);
        let huge = curves.iter().find(|c| c.pages == Pages::Huge);
        let granted = huge.and_then(|h| h.huge).is_some_and(|(_, g)| g);
        if let Some(h) = huge {
            out.notes.push(thp_note(h, span, machine::thp_mode(root)));
        }
        let (shape, basis) = reach_basis(small, huge, granted);
        out.notes.extend(reach_notes(&shape, &basis, &info));
        if let (Some(s), Some(h)) = (small, huge) {
            let (a, b) = (
                s.points.last().map_or(0.0, |p| p.1),
                h.points.last().map_or(0.0, |p| p.1),
            );
            if granted {
                out.notes.push(format!(
                    "at {max} pages a load costs {a:.1} ns on 4 KiB pages and {b:.1} ns on 2 MiB pages: the \
                     translation (TLB misses and walks) adds {:.1} ns{} per load",
                    a - b,
                    tsc.ghz()
                        .map_or(String::new(), |g| format!(" ≈ {:.0} cycles", (a - b) * g))
                ));
            }
        }
        for c in &curves {
            let page = match c.pages {
                Pages::Small => SMALL,
                Pages::Huge if c.huge.is_some_and(|(_, g)| g) => HUGE,
                Pages::Huge => SMALL,
            };
            out.notes.push(format!(
                "walk of {:#x}, where the {}-page chase started ({} page): {}",
                c.addr,
                max,
                human(page as f64),
                walk_line(&walk(c.addr as u64, page))
            ));
        }
        out.notes.push(format!(
            "each walk level is a 512-entry table, so 9 bits per level; {} (the page-walk caches keep the upper levels, \
             so a miss usually costs the last one or two loads)",
            if info.la57 {
                "this CPU can do 5-level paging (la57), but user addresses below 2^47 have a P4D index of 0"
            } else {
                "this CPU has 4-level paging (no la57)"
            }
        ));
        out.notes.push(tsc.describe());
        if info.hypervisor {
            out.notes.push(
                "this is a VM: a guest TLB miss walks two page tables (the guest's, each of its loads translated by \
                 the host's), so a miss costs more than on bare metal"
                    .into(),
            );
        }
        out.notes.push(format!(
            "{} page counts from {first} to {max}, {loads} dependent loads × {reps} repetitions each (the fastest: preemption only adds time), one \
             thread pinned, both page sizes interleaved; --fine for four per doubling",
            counts.len()
        ));
        out.notes.push(match machine::load_average(root) {
            Some(l) => format!("load average {l:.2} at the end: other jobs on these cores make the figures noisy"),
            None => "load average unknown".into(),
        });
        out.notes.push(
            "measured: wall time per load; TLB misses are inferred from the curve, not counted (no dTLB-miss \
             counters in this kind of VM)"
                .into(),
        );
        for c in &curves {
            let mut s = Series::new(
                format!("ns per load, {}", c.label()),
                ("4 KiB pages touched", "pages"),
                ("latency", "ns"),
                c.points.clone(),
            )
            .log_x();
            for cl in &shape.cliffs {
                s = s.mark(cl.below, format!("{} reach ≈ {} pages", basis.word, cl.below));
            }
            out.series.push(s);
        }
        if let (Some(s), Some(h)) = (small, huge) {
            let mut r = Series::new(
                "4 KiB ÷ 2 MiB: the translation's share",
                ("4 KiB pages touched", "pages"),
                ("ratio", "x"),
                ratio(&s.points, &h.points),
            )
            .log_x();
            for cl in &shape.cliffs {
                r = r.mark(cl.at(), "cliff");
            }
            out.series.push(r);
        }
        Ok(out)
    }
}

/// The curve the reach is detected on.
struct Basis {
    /// `TLB` when it is the 4 KiB/2 MiB ratio, `TLB or cache` on the 4 KiB curve alone.
    word: &'static str,
    why: String,
}

/// Point-by-point `a / b`.
fn ratio(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    a.iter()
        .zip(b)
        .map(|(&(x, ya), &(_, yb))| (x, ya / yb.max(1e-9)))
        .collect()
}

/// The ratio when both page sizes ran and 2 MiB pages were granted; else the 4 KiB curve alone.
fn reach_basis(small: Option<&Curve>, huge: Option<&Curve>, granted: bool) -> (Shape, Basis) {
    match (small, huge) {
        (Some(s), Some(h)) if granted => (
            curve::shape(&ratio(&s.points, &h.points), curve::LATENCY),
            Basis {
                word: "TLB",
                why: "on the 4 KiB ÷ 2 MiB ratio (the caches' own cliffs cancel)".into(),
            },
        ),
        (Some(s), _) => (
            curve::shape(&s.points, curve::LATENCY),
            Basis {
                word: "TLB or cache",
                why: "on the 4 KiB curve alone (no granted 2 MiB curve to divide by), so a data cache's cliff may \
                      pass for a TLB's"
                    .into(),
            },
        ),
        (None, Some(h)) => (
            curve::shape(&h.points, curve::LATENCY),
            Basis {
                word: "cache",
                why: "on the 2 MiB curve alone: its cliffs are the data caches' (N lines), not a TLB's".into(),
            },
        ),
        (None, None) => (
            curve::shape(&[], curve::LATENCY),
            Basis {
                word: "",
                why: "nothing ran".into(),
            },
        ),
    }
}

fn thp_note(h: &Curve, span: usize, mode: Option<String>) -> String {
    let mode = mode.unwrap_or_else(|| "unknown".into());
    let span = span.div_ceil(HUGE) * HUGE;
    match h.huge {
        Some((b, true)) => format!(
            "THP granted: smaps AnonHugePages shows {} of the {} 2 MiB mapping on huge pages (THP mode [{mode}])",
            human(b as f64),
            human(span as f64)
        ),
        Some((b, false)) => format!(
            "THP NOT granted: smaps AnonHugePages shows only {} of the {} mapping on huge pages (THP mode [{mode}]), \
             so the \"2 MiB\" curve ran on 4 KiB pages and the comparison shows nothing (enable THP: echo madvise > \
             /sys/kernel/mm/transparent_hugepage/enabled)",
            human(b as f64),
            human(span as f64)
        ),
        None => "could not read /proc/self/smaps: whether 2 MiB pages were granted is unknown, so the 2 MiB curve \
                 may be a 4 KiB one"
            .into(),
    }
}

/// The detected reaches, one note each, beside what cpuinfo says where it says anything.
fn reach_notes(shape: &Shape, basis: &Basis, info: &machine::CpuInfo) -> Vec<String> {
    let ordinal = ["first", "second", "third", "fourth"];
    let mut v: Vec<String> = shape
        .cliffs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "detected {} {} reach: up to {} pages ({} of 4 KiB pages) stay flat, {} pages cost {:.2}× more — \
                 detected {}",
                ordinal.get(i).unwrap_or(&"next"),
                basis.word,
                c.below,
                human(c.below * SMALL as f64),
                c.above,
                c.to / c.from,
                basis.why
            )
        })
        .collect();
    if shape.cliffs.is_empty() {
        v.push(format!(
            "no reach detected {}: the curve stayed within 40 % (a larger --pages, or a quieter machine)",
            basis.why
        ));
    }
    if let Some(t) = &info.tlb_size {
        v.push(format!(
            "cpuinfo's \"TLB size\": {t} (AMD's figure for its second-level TLB)"
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::cache_hierarchy::curve::Cliff;

    fn curve(pages: Pages, ys: &[f64], huge: Option<(u64, bool)>) -> Curve {
        Curve {
            pages,
            points: ys
                .iter()
                .enumerate()
                .map(|(i, &y)| (8.0 * 2f64.powi(i as i32), y))
                .collect(),
            addr: 0x7f00_0000_0000,
            huge,
        }
    }

    #[test]
    fn reach_is_found_on_the_ratio_when_thp_is_granted() {
        // The data caches' cliff (at 512 pages) is in both curves; the TLB's (after 64) only in 4 KiB.
        let s = curve(Pages::Small, &[1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 9.0, 9.0, 9.0], None);
        let h = curve(
            Pages::Huge,
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0],
            Some((1 << 30, true)),
        );
        let (shape, basis) = reach_basis(Some(&s), Some(&h), true);
        assert_eq!(basis.word, "TLB");
        assert_eq!(shape.cliffs.len(), 1, "{shape:?}");
        assert_eq!(shape.cliffs[0].below, 64.0);
        let (alone, b) = reach_basis(Some(&s), Some(&h), false);
        assert_eq!(b.word, "TLB or cache");
        assert_eq!(
            alone.cliffs.len(),
            2,
            "without the control the cache's cliff counts too"
        );
    }

    #[test]
    fn thp_refusal_is_said_plainly() {
        let h = curve(Pages::Huge, &[1.0], Some((0, false)));
        let n = thp_note(&h, 128 << 20, Some("never".into()));
        assert!(n.starts_with("THP NOT granted") && n.contains("[never]"), "{n}");
        let g = curve(Pages::Huge, &[1.0], Some((128 << 20, true)));
        assert!(thp_note(&g, 128 << 20, Some("madvise".into())).starts_with("THP granted"));
        let u = curve(Pages::Huge, &[1.0], None);
        assert!(thp_note(&u, 1 << 20, None).contains("unknown"));
    }

    #[test]
    fn reach_notes_name_pages_and_bytes() {
        let shape = Shape {
            plateaus: vec![],
            cliffs: vec![Cliff {
                below: 64.0,
                above: 91.0,
                from: 1.0,
                to: 2.0,
            }],
            rising_at_end: false,
        };
        let basis = Basis {
            word: "TLB",
            why: "x".into(),
        };
        let info = machine::CpuInfo {
            tlb_size: Some("3072 4K pages".into()),
            ..Default::default()
        };
        let n = reach_notes(&shape, &basis, &info);
        assert!(n[0].contains("first TLB reach: up to 64 pages (256 KiB"), "{n:?}");
        assert!(n[1].contains("3072 4K pages"));
    }
}
