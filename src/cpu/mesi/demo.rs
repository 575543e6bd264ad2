//! The `mesi` demo: the transitions' cost between every pair of your cores (measured), and the
//! protocol's write-hit-in-S invalidation (checked, broken/fixed).

use std::path::Path;

use super::latency::{measure_pair, PairRun, Transition};
use super::{loom, real, replay::seed_replay, run_model, shuttle, topology};
use crate::check::{self, Report};
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput,
    Series, Spec, Threads, UsageError, Variant, Variants,
};

/// The `mesi` demo.
#[derive(Debug)]
pub struct MesiDemo;

/// `mesi`.
pub static MESI: MesiDemo = MesiDemo;

/// Above this many cores, `--pairs auto` measures only the pairs with the first core.
const ALL_PAIRS_UP_TO: usize = 8;

/// Accesses per core of the protocol model on real threads.
const MODEL_OPS: u64 = 20_000;

static SPEC: Spec = Spec {
    name: "mesi",
    module: "cpu/mesi",
    group: Group::Cpu,
    seed_title: "MESI coherence",
    lesson: "a write must first invalidate every other copy (single writer or many readers); each transition's \
             cost, measured between your cores",
    pair: "a write hit in S upgrades to M silently → broadcasts BusUpgr, invalidating the other copies first",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::Fixed(2),
    default_iterations: 201,
    max_iterations: (
        100_000,
        "rounds per transition and pair: every round allocates nothing, but a run must stay short",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "lines",
            help: "cache lines walked per round (more than L1 holds turns the hit rows into L2 hits)",
            kind: ParamKind::Number {
                min: 16,
                max: 4096,
                default: 256,
                power_of_two: true,
            },
        },
        Param {
            name: "pairs",
            help: "which ordered core pairs to measure (auto: all up to 8 cores, else those with the first core)",
            kind: ParamKind::Choice {
                values: &["auto", "all", "first"],
                default: "auto",
            },
        },
    ],
};

/// The ordered (measuring, helper) pairs of `cores` that `pairs` asks for; one core gives the
/// same-core control `(c, c)`.
pub fn pairs(cores: &[usize], pairs: &str) -> Vec<(usize, usize)> {
    match cores {
        [] => Vec::new(),
        [only] => vec![(*only, *only)],
        [first, ..] => {
            let all = pairs == "all" || (pairs == "auto" && cores.len() <= ALL_PAIRS_UP_TO);
            let mut out = Vec::new();
            for &a in cores {
                for &b in cores {
                    if a != b && (all || a == *first || b == *first) {
                        out.push((a, b));
                    }
                }
            }
            out
        }
    }
}

fn row(r: &PairRun, cpus: &[topology::Cpu]) -> Row {
    let relation = if r.measurer == r.helper {
        "same core (control)"
    } else {
        topology::relation(cpus, r.measurer, r.helper).name()
    };
    let mut figures = vec![Figure::text("sysfs says", relation)];
    figures.extend(
        r.median_ns
            .iter()
            .map(|&(t, ns)| Figure::number(t.label(), ns, 1, "ns")),
    );
    Row::on_cores(format!("cpu{} <- cpu{}", r.measurer, r.helper), figures, &r.parallelism)
}

fn ns(r: &PairRun, t: Transition) -> f64 {
    r.median_ns.iter().find(|x| x.0 == t).map_or(f64::NAN, |x| x.1)
}

/// `/proc/loadavg`'s first three fields.
fn load_average(root: &Path) -> String {
    std::fs::read_to_string(root.join("proc/loadavg"))
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

impl Demo for MesiDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let lines = opts.params.number("lines") as usize;
        let root = Path::new("/");
        let cpus = topology::read(root);
        let cores: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| c.id)
            .collect();
        let pairs = pairs(&cores, opts.params.choice("pairs"));
        if pairs.is_empty() {
            return Err(UsageError(
                "mesi: this process may run on no core (core_affinity found none)".into(),
            ));
        }
        let mut runs = Vec::new();
        for (i, &(a, b)) in pairs.iter().enumerate() {
            if pairs.len() > 2 {
                // Progress on stderr (stdout stays the table, or the JSON).
                eprintln!("mesi: pair {}/{}: cpu{a} <- cpu{b}…", i + 1, pairs.len());
            }
            let r = measure_pair(a, b, lines, opts.iterations);
            out.rows.push(row(&r, &cpus));
            // The first pair's spread: one curve per transition, so a transition's cost reads
            // as a band, not one number (the others' are in --json's rows).
            if i == 0 {
                for (t, spread) in &r.spread {
                    out.series.push(
                        Series::new(
                            format!("cpu{a} <- cpu{b}: {}", t.label()),
                            ("percentile of the rounds", "%"),
                            ("ns per access", "ns"),
                            spread.clone(),
                        )
                        .log_y(),
                    );
                }
            }
            runs.push(r);
        }
        out.notes.push(format!(
            "measured on {} ({} cores available), load average {} — each figure is the median ns per access over {} \
             rounds of a dependent walk over {lines} lines (128-byte apart, random cycle); `cpuA <- cpuB`: cpuA \
             measures, cpuB is the helper that wrote the lines",
            topology::model_name(root).unwrap_or_else(|| "an unknown CPU".into()),
            cores.len(),
            load_average(root),
            opts.iterations
        ));
        if let Some(r) = runs.iter().find(|r| r.measurer != r.helper) {
            out.notes.push(format!(
                "cpu{} <- cpu{}: a read of a line the other core just wrote costs {:.1} ns vs {:.1} ns for a hit \
                 ({:.0}x); a write to it {:.1} ns, of which the locked RMW itself is {:.1} ns (the coherence part is \
                 ~{:.1} ns); a write to a line both hold S {:.1} ns. A hit in S costs what a hit in M costs: \
                 coherence is paid on the transitions, not on hits",
                r.measurer,
                r.helper,
                ns(r, Transition::ReadRemoteM),
                ns(r, Transition::LocalHit),
                ns(r, Transition::ReadRemoteM) / ns(r, Transition::LocalHit),
                ns(r, Transition::WriteRemoteM),
                ns(r, Transition::LocalRmw),
                ns(r, Transition::WriteRemoteM) - ns(r, Transition::LocalRmw),
                ns(r, Transition::WriteShared),
            ));
        } else {
            out.notes.push(
                "one core only: the helper shares the measuring core (a control: every 'remote' row is a local \
                 access, no line ever leaves the core); run on 2+ cores to see the transitions"
                    .into(),
            );
        }
        out.notes.push(
            "anchor (cited): nviennot's core-to-core-latency, CAS ping-pong one-way, 20–51 ns between cores of \
             one socket, 108–136 ns across sockets: compare the `ping-pong one-way` column"
                .into(),
        );
        out.notes.push(
            "not measurable here: the line's state itself (no hardware counters in a VM; it is inferred from what \
             the cores did); where vCPUs are SMT siblings or migrate between physical cores, a 'remote' line may \
             never leave one L2. AMD (MOESI) and Intel (MESIF) add an Owned/Forward state: 'read remote M->S' \
             may leave the writer O, at the same cost"
                .into(),
        );
        let model_cores = cores.len().clamp(2, super::MAX_CORES);
        for case in cases {
            let variant = case.variant();
            let m = match variant {
                Variant::Broken => run_model::<real::broken::Bus>(model_cores, MODEL_OPS, opts.pin),
                Variant::Fixed => run_model::<real::fixed::Bus>(model_cores, MODEL_OPS, opts.pin),
            };
            out.notes.push(format!(
                "protocol model ({variant}, not the hardware): {model_cores} real threads, one per model cache, \
                 {MODEL_OPS} accesses each: {} stale reads of {} reads, {} transactions broke \
                 single-writer/multiple-reader ({})",
                m.stale,
                m.reads,
                m.swmr_violations,
                m.parallelism.verdict()
            ));
        }
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // Two caches, each on its own model thread (three with the main one).
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => {
                check::loom(None, loom::scenario::write_after_share::<loom::broken::Bus>)
            }
            (Checker::Loom, Variant::Fixed) => check::loom(None, loom::scenario::write_after_share::<loom::fixed::Bus>),
            (_, Variant::Broken) => checker.explore(2, shuttle::scenario::write_after_share::<shuttle::broken::Bus>),
            (_, Variant::Fixed) => checker.explore(2, shuttle::scenario::write_after_share::<shuttle::fixed::Bus>),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let steps = seed_replay(variant);
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "The seed's two cores on the {variant} MESI model, replayed deterministically: A reads, B reads, A \
                 writes 1, B reads. After each step, every core's state (M/E/S/I) and copy, read back from the bus."
            ),
            outcome: steps.last().map(|s| s.action.clone()).unwrap_or_default(),
            steps: steps.iter().map(ToString::to_string).collect(),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let m = run_model::<real::broken::Bus>(2, MODEL_OPS, Pin::Spread);
        Detection::from_count(
            m.stale,
            m.reads,
            format!(
                "found: {} stale reads of {} (the protocol model on 2 real threads)",
                m.stale, m.reads
            ),
            format!("missed in {} reads (the protocol model on 2 real threads)", m.reads),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_cover_what_was_asked() {
        assert_eq!(pairs(&[], "auto"), vec![]);
        assert_eq!(pairs(&[3], "auto"), vec![(3, 3)]);
        assert_eq!(pairs(&[0, 1], "auto"), vec![(0, 1), (1, 0)]);
        let many: Vec<usize> = (0..16).collect();
        assert_eq!(pairs(&many, "all").len(), 16 * 15);
        let first = pairs(&many, "auto");
        assert_eq!(first.len(), 2 * 15, "auto above 8 cores: the pairs with the first core");
        assert!(first.iter().all(|&(a, b)| a == 0 || b == 0));
        assert_eq!(pairs(&many[..4], "first").len(), 6);
    }

    #[test]
    fn load_average_of_a_fake_proc() {
        let root = std::env::temp_dir().join(format!("mesi-load-{}", std::process::id()));
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::write(root.join("proc/loadavg"), "1.50 2.25 3.00 2/345 6789\n").unwrap();
        assert_eq!(load_average(&root), "1.50 2.25 3.00");
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(load_average(&root), "unknown");
    }
}
