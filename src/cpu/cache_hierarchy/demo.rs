//! The `cache-hierarchy` demo: ns per dependent load against the working set, its plateaus and
//! cliffs beside the caches sysfs reports, or loads from one level (`--level`).

use std::io::IsTerminal;
use std::path::Path;

use super::chase::{Pages, Region, FINE_REPS, REPS};
use super::curve::{self, Shape};
use super::machine::{self, human, Cache, Tsc};
use super::{fits, ns_per_load, sweep_sizes, working_set, Level};
use crate::hw::run_threads;
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants,
};

/// The `cache-hierarchy` demo.
#[derive(Debug)]
pub struct CacheHierarchyDemo;

/// `cache-hierarchy`.
pub static CACHE_HIERARCHY: CacheHierarchyDemo = CacheHierarchyDemo;

static SPEC: Spec = Spec {
    name: "cache-hierarchy",
    module: "cpu/cache_hierarchy",
    group: Group::Cpu,
    seed_title: "Cache hierarchy",
    lesson: "a dependent load costs what the level holding its line costs: a staircase from L1 to DRAM",
    pair: "no pair: one sweep (a working set that fits in L1 is the fast way, one that spills to DRAM the slow way)",
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
        "loads per timed repetition: at DRAM's ~100 ns, 20 M loads are 2 s per repetition per size",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "max",
            help: "the largest working set of the sweep, in MiB (refused above physical memory)",
            kind: ParamKind::Number {
                min: 1,
                max: 1 << 22,
                default: 1024,
                power_of_two: false,
            },
        },
        Param {
            name: "level",
            help: "load from a working set sized (from sysfs) to sit in one level instead of sweeping",
            kind: ParamKind::Choice {
                values: &["sweep", "L1", "L2", "L3", "DRAM"],
                default: "sweep",
            },
        },
        Param {
            name: "fine",
            help: "a finer, longer sweep: four sizes per doubling instead of two, more repetitions",
            kind: ParamKind::Flag,
        },
    ],
};

/// The machine facts a run prints beside what it measured.
struct Facts {
    data: Vec<Cache>,
    all: Vec<Cache>,
    info: machine::CpuInfo,
    tsc: Tsc,
    memory: Option<(u64, u64)>,
}

impl Facts {
    fn read() -> Self {
        let root = Path::new("/");
        let all = machine::caches(root);
        let info = machine::cpuinfo(root);
        Self {
            data: machine::data_caches(&all),
            tsc: machine::tsc(&info),
            memory: machine::memory(root),
            all,
            info,
        }
    }

    fn cycles(&self, ns: f64) -> Figure {
        match self.tsc.ghz() {
            Some(g) => Figure::number("cycles/load", ns * g, 1, "cycles"),
            None => Figure::text("cycles/load", "unknown"),
        }
    }

    fn sysfs_line(&self) -> String {
        if self.all.is_empty() {
            return "sysfs reports no caches for cpu0 (/sys/devices/system/cpu/cpu0/cache is missing): nothing to \
                    compare the cliffs with"
                .into();
        }
        let list: Vec<String> = self
            .all
            .iter()
            .map(|c| {
                format!(
                    "{} {}{} shared by CPUs {}",
                    c.name(),
                    human(c.size as f64),
                    if c.ways > 0 {
                        format!(" {}-way", c.ways)
                    } else {
                        String::new()
                    },
                    c.shared_with
                )
            })
            .collect();
        format!("sysfs (cpu0/cache/index*): {}", list.join(" · "))
    }

    /// Refuses a working set the machine cannot hold: one line.
    fn check_fits(&self, bytes: usize, what: &str) -> Result<(), UsageError> {
        let Some((total, available)) = self.memory else {
            return Ok(());
        };
        if bytes as u64 > total {
            return Err(UsageError(format!(
                "{what} {} is above this machine's physical memory ({}, /proc/meminfo MemTotal)",
                human(bytes as f64),
                human(total as f64)
            )));
        }
        if bytes as u64 > available / 4 * 3 {
            return Err(UsageError(format!(
                "{what} {} is above three quarters of the memory available now ({} MemAvailable): pick a smaller one",
                human(bytes as f64),
                human(available as f64)
            )));
        }
        Ok(())
    }
}

fn figures(set: &str, ns: f64, facts: &Facts, sysfs: &str) -> Vec<Figure> {
    vec![
        Figure::text("working set", set),
        Figure::number("ns/load", ns, 2, "ns"),
        facts.cycles(ns),
        Figure::text("sysfs level", sysfs),
    ]
}

/// Where the chase's buffer came from, for the notes: THP granted or not.
fn thp_note(region: &Region, used: usize) -> String {
    let mode = machine::thp_mode(Path::new("/")).unwrap_or_else(|| "unknown".into());
    match machine::huge_backed(region.base(), used) {
        Some(b) if b as usize * 2 >= used => format!(
            "the buffer is on 2 MiB pages (smaps AnonHugePages {} of {}; THP mode {mode}), so TLB misses stay out of \
             the curve: `run tlb` measures them",
            human(b as f64),
            human(used as f64)
        ),
        Some(b) => format!(
            "transparent huge pages were NOT granted for the buffer (smaps AnonHugePages {} of {}; THP mode {mode}): \
             past the TLB's reach every load also pays a page walk, so the last plateaus include it",
            human(b as f64),
            human(used as f64)
        ),
        None => "could not read /proc/self/smaps: whether the buffer got 2 MiB pages is unknown".into(),
    }
}

/// The VM warning: the L3 sysfs reports is the host's, shared with other tenants.
fn shared_l3_warning(facts: &Facts, max: usize) -> Option<String> {
    let l3 = facts.data.iter().find(|c| c.level == 3)?;
    if !facts.info.hypervisor {
        return None;
    }
    let needed = 4 * l3.size;
    let mut s = format!(
        "this is a VM (cpuinfo flag `hypervisor`): the {} L3 sysfs reports is the host's, shared with other tenants, \
         so the L3 plateau is noisy and smaller in effect, and the DRAM plateau needs a working set well beyond it \
         (4 × L3 = {})",
        human(l3.size as f64),
        human(needed as f64)
    );
    if l3.size >= 256 << 20 {
        s.push_str("; no single CPU has an L3 that big, so it is certainly the whole host's");
    }
    if max < needed {
        s.push_str(&format!(
            "; this sweep stopped at {}: rerun with --max {} if memory allows",
            human(max as f64),
            needed >> 20
        ));
    }
    Some(s)
}

impl Demo for CacheHierarchyDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let facts = Facts::read();
        let fine = opts.params.flag("fine");
        let reps = if fine { FINE_REPS } else { REPS };
        let level = Level::parse(opts.params.choice("level"));
        let max = usize::try_from(opts.params.number("max")).unwrap_or(usize::MAX >> 21) << 20;
        let loads = opts.iterations;
        let load_note = match machine::load_average(Path::new("/")) {
            Some(l) => format!("load average {l:.2} at the start: other jobs on these cores make the figures noisy"),
            None => "load average unknown (/proc/loadavg unreadable)".into(),
        };

        if let Some(level) = level {
            let (bytes, why) = working_set(level, &facts.data).map_err(UsageError)?;
            facts.check_fits(bytes, &format!("the {} working set", level.name()))?;
            // The buffer is mapped and first touched on the pinned thread (its memory is local to it).
            let (res, par) = run_threads(1, opts.pin, |_| {
                let mut region = Region::new(bytes, Pages::Huge)?;
                let ns = ns_per_load(&mut region, bytes, loads, reps);
                Some((ns, thp_note(&region, bytes)))
            });
            let (ns, thp) = res
                .into_iter()
                .next()
                .flatten()
                .ok_or_else(|| UsageError(format!("mmap of {} failed", human(bytes as f64))))?;
            let sysfs = facts
                .data
                .iter()
                .find(|c| c.level == level as u32 + 1 && level != Level::Dram)
                .map_or_else(
                    || "beyond every cache".to_string(),
                    |c| format!("{} {}", c.name(), human(c.size as f64)),
                );
            out.rows.push(Row::on_cores(
                level.name(),
                figures(&human(bytes as f64), ns, &facts, &sysfs),
                &par,
            ));
            out.notes.push(format!(
                "pick what's cached, then load: {} working set ({why}), {loads} dependent loads × {reps}, the fastest — \
                 target hit: {} @ {}",
                human(bytes as f64),
                level.name(),
                facts
                    .tsc
                    .ghz()
                    .map_or_else(|| format!("{ns:.1} ns"), |g| format!("{:.0} cycles ({ns:.1} ns)", ns * g))
            ));
            out.notes.push(facts.sysfs_line());
            out.notes.push(facts.tsc.describe());
            out.notes.push(thp);
            if level == Level::Dram || level == Level::L3 {
                out.notes.extend(shared_l3_warning(&facts, bytes));
            }
            out.notes.push(load_note);
            out.notes.push(NO_COUNTERS.into());
            return Ok(out);
        }

        facts.check_fits(max, "--max")?;
        let sizes = sweep_sizes(max, if fine { 4 } else { 2 });
        let progress = std::io::stderr().is_terminal();
        let (res, par) = run_threads(1, opts.pin, |_| {
            let mut region = Region::new(max, Pages::Huge)?;
            let points: Vec<(f64, f64)> = sizes
                .iter()
                .map(|&bytes| {
                    let ns = ns_per_load(&mut region, bytes, loads, reps);
                    if progress {
                        eprintln!("cache-hierarchy: {:>10}  {ns:8.2} ns/load", human(bytes as f64));
                    }
                    (bytes as f64, ns)
                })
                .collect();
            Some((points, thp_note(&region, max)))
        });
        let (points, thp) = res
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| UsageError(format!("mmap of {} failed", human(max as f64))))?;
        let shape = curve::shape(&points, curve::LATENCY);
        for (k, p) in shape.plateaus.iter().enumerate() {
            let (first, last) = (points[p.first].0 as usize, points[p.last].0 as usize);
            out.rows.push(Row::on_cores(
                format!("plateau {}", k + 1),
                figures(
                    &format!("{}–{}", human(first as f64), human(last as f64)),
                    p.level,
                    &facts,
                    &fits(first, last, &facts.data),
                ),
                &par,
            ));
        }
        out.notes.extend(cliff_notes(&shape, &facts));
        out.notes.push(facts.sysfs_line());
        out.notes.push(facts.tsc.describe());
        out.notes.push(thp);
        out.notes.extend(shared_l3_warning(&facts, max));
        out.notes.push(format!(
            "{} sizes from 4 KiB to {}, {loads} dependent loads × {reps} timed repetitions each (the fastest: preemption only adds time), one thread \
             pinned; --fine for four sizes per doubling",
            sizes.len(),
            human(max as f64)
        ));
        out.notes.push(load_note);
        out.notes.push(NO_COUNTERS.into());
        let mut ns = Series::new(
            "ns per dependent load (random pointer chase)",
            ("working set", "bytes"),
            ("latency", "ns"),
            points.clone(),
        )
        .log_x();
        for c in &facts.data {
            ns = ns.mark(c.size as f64, format!("{} {} (sysfs)", c.name(), human(c.size as f64)));
        }
        for c in &shape.cliffs {
            ns = ns.mark(c.at(), "cliff");
        }
        let marks = ns.marks.clone();
        out.series.push(ns);
        if let Some(g) = facts.tsc.ghz() {
            let mut cy = Series::new(
                "cycles per dependent load (TSC reference cycles)",
                ("working set", "bytes"),
                ("latency", "cycles"),
                points.iter().map(|&(x, y)| (x, y * g)).collect(),
            )
            .log_x();
            cy.marks = marks;
            out.series.push(cy);
        }
        Ok(out)
    }
}

/// Every counted thing here is timed, not counted.
const NO_COUNTERS: &str = "measured: wall time per dependent load; which level served a load is inferred from the \
curve, not counted (hardware cache-miss counters are not available in this kind of VM)";

/// One note per cliff, beside the sysfs size it matches, and one when the curve never levels off.
fn cliff_notes(shape: &Shape, facts: &Facts) -> Vec<String> {
    let mut v: Vec<String> = shape
        .cliffs
        .iter()
        .map(|c| {
            let near = facts
                .data
                .iter()
                .filter(|k| k.size as f64 >= c.below / 1.6 && (k.size as f64) < c.above * 1.6)
                .map(|k| format!("{} {}", k.name(), human(k.size as f64)))
                .collect::<Vec<_>>();
            format!(
                "detected cliff between {} and {}: {:.1} → {:.1} ns/load — sysfs: {}",
                human(c.below),
                human(c.above),
                c.from,
                c.to,
                if near.is_empty() {
                    "no cache of that size (a TLB's reach, or a shared cache's effective share?)".to_string()
                } else {
                    near.join(", ")
                }
            )
        })
        .collect();
    if shape.cliffs.is_empty() {
        v.push("no cliff detected: the curve is flat within 40 % (a noisy run? rerun on a quiet machine)".into());
    }
    if shape.rising_at_end {
        v.push(
            "the curve still rises at the largest size: the last plateau (DRAM) needs a bigger working set (--max)"
                .into(),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::cache_hierarchy::curve::Cliff;

    fn facts(data: Vec<Cache>, hypervisor: bool) -> Facts {
        Facts {
            all: data.clone(),
            data,
            info: machine::CpuInfo {
                hypervisor,
                ..Default::default()
            },
            tsc: Tsc::Unknown("test".into()),
            memory: Some((8 << 30, 4 << 30)),
        }
    }

    fn l3(size: usize) -> Cache {
        Cache {
            level: 3,
            kind: "Unified".into(),
            size,
            ways: 16,
            shared_with: "0-1".into(),
        }
    }

    #[test]
    fn the_vm_warning_names_the_max_to_use() {
        let f = facts(vec![l3(480 << 20)], true);
        let w = shared_l3_warning(&f, 1 << 30).unwrap();
        assert!(
            w.contains("480 MiB") && w.contains("--max 1920") && w.contains("whole host"),
            "{w}"
        );
        assert!(
            shared_l3_warning(&facts(vec![l3(32 << 20)], false), 1 << 30).is_none(),
            "bare metal"
        );
        let small = shared_l3_warning(&facts(vec![l3(32 << 20)], true), 1 << 30).unwrap();
        assert!(!small.contains("--max"), "1 GiB is past 4 × 32 MiB: {small}");
    }

    #[test]
    fn memory_bounds_are_one_line_refusals() {
        let f = facts(vec![], false);
        let e = f.check_fits(16 << 30, "--max").unwrap_err();
        assert!(e.0.contains("physical memory") && !e.0.contains('\n'), "{e}");
        let e = f.check_fits(7 << 30 >> 1, "--max").unwrap_err();
        assert!(e.0.contains("available"), "{e}");
        assert!(f.check_fits(1 << 30, "--max").is_ok());
    }

    #[test]
    fn cliffs_are_printed_beside_sysfs_sizes() {
        let f = facts(vec![l3(32 << 20)], false);
        let shape = Shape {
            plateaus: vec![],
            cliffs: vec![Cliff {
                below: (32 << 20) as f64,
                above: (45 << 20) as f64,
                from: 12.0,
                to: 90.0,
            }],
            rising_at_end: true,
        };
        let notes = cliff_notes(&shape, &f);
        assert!(notes[0].contains("sysfs: L3 32 MiB"), "{notes:?}");
        assert!(notes[1].contains("--max"));
    }

    #[test]
    fn spec_params_resolve() {
        use crate::lab::ParamValues;
        let v = ParamValues::resolve(&SPEC, &[("level".into(), Some("DRAM".into()))]).unwrap();
        assert_eq!(Level::parse(v.choice("level")), Some(Level::Dram));
        assert!(ParamValues::resolve(&SPEC, &[("level".into(), Some("L4".into()))]).is_err());
        assert_eq!(
            Level::parse(ParamValues::defaults(&SPEC).choice("level")),
            None,
            "sweep"
        );
    }
}
