//! The `all-reduce` demo: ring vs tree on real threads, the α-β model to N = 1,024, and the
//! send-buffer reuse bug (broken links) against the credit wait (fixed links).

use super::{broken_on_cores, ceil_log2, loom, measure, replay, shuttle, Algorithm, AlphaBeta, Timing};
use crate::check::Report;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput,
    Series, Spec, Threads, UsageError, Variant, Variants,
};

/// The N the α-β model extends the comparison to.
const MODEL_RANKS: usize = 1024;
/// 3-rank all-reduces of the broken links run on real cores per `run` (and for the matrix).
const BROKEN_ROUNDS: u64 = 200;

/// The `all-reduce` demo.
#[derive(Debug)]
pub struct AllReduceDemo;

/// `all-reduce`.
pub static ALL_REDUCE: AllReduceDemo = AllReduceDemo;

static SPEC: Spec = Spec {
    name: "all-reduce",
    module: "net/all_reduce",
    group: Group::Net,
    seed_title: "All-reduce: ring vs tree",
    lesson:
        "the ring sends just under 2× the vector per rank whatever N (bandwidth-optimal) in 2(N−1) steps, the tree \
             the whole vector per step in 2⌈log₂N⌉: past a message size the ring wins",
    pair: "a rank rewrites its send buffer one chunk ahead of its neighbour's credit (wrong sum) → it waits for the \
           credit of the last chunk",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::AtLeast { min: 2, default: 2 },
    default_iterations: 2_000,
    max_iterations: (
        100_000,
        "all-reduces per message size, at most (each size also stops at its time budget)",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "ranks",
            help: "ranks (worker threads) of the measured comparison besides N = 2; 0 = the cores this process may \
                   run on, read at run time (more runs, flagged as oversubscribed)",
            kind: ParamKind::Number {
                min: 0,
                max: 64,
                default: 0,
                power_of_two: false,
            },
        },
        Param {
            name: "long",
            help: "a finer, longer sweep: sizes ×2 from 8 B to 8 MiB, 4× the time per size",
            kind: ParamKind::Flag,
        },
    ],
};

/// The message sizes swept, in u64 elements.
fn sizes(long: bool) -> Vec<usize> {
    if long {
        (0..=20).map(|k| 1usize << k).collect()
    } else {
        (0..=17).step_by(3).map(|k| 1usize << k).collect()
    }
}

/// Times `algorithm` at `ranks` over `elems` u64s: one calibration run, then as many all-reduces
/// as fit `budget` seconds (at least 3, at most `max_reps`).
fn timed(algorithm: Algorithm, ranks: usize, elems: usize, budget: f64, max_reps: u64, pin: crate::hw::Pin) -> Timing {
    let probe = measure(algorithm, ranks, elems, 1, pin);
    let reps = ((budget / probe.seconds.max(1e-9)) as u64).clamp(3, max_reps.max(3));
    let t = measure(algorithm, ranks, elems, reps, pin);
    Timing {
        correct: t.correct && probe.correct,
        ..t
    }
}

/// A byte count for humans: `8 B`, `64 KiB`, `1.5 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0} {}", v, units[u])
    } else {
        format!("{:.1} {}", v, units[u])
    }
}

/// The row of one timing.
fn row(t: &Timing, cores: usize) -> Row {
    let formula_bytes = t.algorithm.max_bytes_per_rank(t.ranks, t.bytes as f64);
    let oversubscribed = t.ranks > cores;
    Row::on_cores(
        format!(
            "{} N={} {}{}",
            t.algorithm.name(),
            t.ranks,
            human_bytes(t.bytes as f64),
            if oversubscribed { " (oversubscribed)" } else { "" }
        ),
        vec![
            Figure::number("µs/all-reduce", t.seconds * 1e6, 2, "µs"),
            Figure::count("all-reduces", t.reps),
            Figure::count("steps", t.steps),
            Figure::count("formula steps", t.algorithm.steps(t.ranks)),
            Figure::count("max B sent/rank", t.max_bytes),
            Figure::number("formula B/rank", formula_bytes, 0, "B"),
            Figure::count("min B sent/rank", t.min_bytes),
            Figure::text("sum", if t.correct { "bit-exact" } else { "WRONG" }),
        ],
        &t.parallelism,
    )
}

impl Demo for AllReduceDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let cores = crate::hw::available_cores();
        let ranks = match opts.params.number("ranks") as usize {
            0 => cores.max(2),
            1 => {
                return Err(UsageError(
                    "all-reduce: --ranks 1 has nothing to reduce (give 2 or more, or 0 for the cores)".into(),
                ))
            }
            n => n,
        };
        out.threads = ranks;
        let long = opts.params.flag("long");
        let budget = if long { 0.08 } else { 0.02 };
        let run_fixed = cases.iter().any(|c| c.variant() == Variant::Fixed);
        if cases.iter().any(|c| c.variant() == Variant::Broken) {
            let (wrong, rounds) = broken_on_cores(BROKEN_ROUNDS, opts.pin);
            out.notes.push(format!(
                "broken links on real cores: {wrong} of {rounds} 3-rank ring all-reduces ended with a wrong sum (rank \
                 1 starts late; a sender may rewrite its buffer before it has read the last chunk). The checkers \
                 find it every time: check all-reduce; step all-reduce replays it"
            ));
        }
        if !run_fixed {
            return Ok(out);
        }
        let mut rank_counts = vec![2];
        if ranks != 2 {
            rank_counts.push(ranks);
        }
        let sizes = sizes(long);
        let mut timings: Vec<Timing> = Vec::new();
        for &n in &rank_counts {
            for (i, &elems) in sizes.iter().enumerate() {
                if long || n > cores {
                    // Progress on stderr (stdout stays the table, or the JSON).
                    eprintln!(
                        "all-reduce: N={n}, {} ({}/{})…",
                        human_bytes(8.0 * elems as f64),
                        i + 1,
                        sizes.len()
                    );
                }
                for alg in Algorithm::BOTH {
                    let t = timed(alg, n, elems, budget, opts.iterations, opts.pin);
                    out.rows.push(row(&t, cores));
                    timings.push(t);
                }
            }
        }
        if timings.iter().any(|t| !t.correct) {
            out.notes
                .push("UNEXPECTED: a fixed all-reduce ended with a wrong sum: please report it".into());
        }
        if ranks > cores {
            out.notes.push(format!(
                "oversubscribed: N={ranks} ranks on {cores} cores (read at run time) take turns on a core, so their \
                 times measure the scheduler, not the algorithm; the sums are still checked"
            ));
        }
        for &n in &rank_counts {
            for alg in Algorithm::BOTH {
                let pts: Vec<(f64, f64)> = timings
                    .iter()
                    .filter(|t| t.ranks == n && t.algorithm == alg)
                    .map(|t| (t.bytes as f64, t.seconds * 1e6))
                    .collect();
                out.series.push(
                    Series::new(
                        format!("measured, N={n}: {}", alg.name()),
                        ("message size", "B"),
                        ("time per all-reduce", "µs"),
                        pts,
                    )
                    .log_x()
                    .log_y(),
                );
            }
        }
        // The α-β fit from N = 2: steps and critical-path bytes of each run.
        let samples: Vec<(f64, f64, f64)> = timings
            .iter()
            .filter(|t| t.ranks == 2)
            .map(|t| {
                let steps = t.algorithm.steps(2) as f64;
                let path_bytes = t
                    .algorithm
                    .model_time(2, t.bytes as f64, AlphaBeta { alpha: 0.0, beta: 1.0 });
                (steps, path_bytes, t.seconds)
            })
            .collect();
        let Some(fit) = AlphaBeta::fit(&samples) else {
            out.notes.push("α-β model: not enough N = 2 timings to fit".into());
            return Ok(out);
        };
        out.notes.push(format!(
            "α-β model (Hockney), fitted to the {} N = 2 timings (ring: 2 steps of L/2, tree: 2 steps of L; weighted \
             least squares on the relative error): α = {:.0} ns per step, β = {:.3} ns/B ({:.2} GB/s); a MODEL of this \
             machine's shared-memory links, not a measurement at large N",
            samples.len(),
            fit.alpha * 1e9,
            fit.beta * 1e9,
            1e-9 / fit.beta.max(1e-30)
        ));
        let crossover = fit.crossover(MODEL_RANKS);
        let model_sizes: Vec<f64> = (3..=33).map(|k| 2f64.powi(k)).collect();
        for alg in Algorithm::BOTH {
            let pts = model_sizes
                .iter()
                .map(|&b| (b, alg.model_time(MODEL_RANKS, b, fit) * 1e6))
                .collect();
            let mut s = Series::new(
                format!("α-β model, N={MODEL_RANKS}: {}", alg.name()),
                ("message size", "B"),
                ("time per all-reduce", "µs"),
                pts,
            )
            .log_x()
            .log_y();
            if let Some(x) = crossover {
                s = s.mark(x, format!("ring beats tree above {} (model)", human_bytes(x)));
            }
            out.series.push(s);
        }
        let per_n: Vec<(f64, f64)> = (2..=10)
            .map(|k| 1usize << k)
            .filter_map(|n| fit.crossover(n).map(|x| (n as f64, x)))
            .collect();
        out.series.push(
            Series::new(
                "α-β model: message size above which the ring beats the tree",
                ("ranks N", ""),
                ("crossover size", "B"),
                per_n.clone(),
            )
            .log_x()
            .log_y(),
        );
        match crossover {
            Some(x) => out.notes.push(format!(
                "ring vs tree at N = {MODEL_RANKS} (model): {} vs {} steps; the ring wins above {} per rank \
                 (crossover at N = 8: {}, N = 64: {}); at 1 GiB the ring takes {:.1} ms, the tree {:.1} ms; at 8 B \
                 {:.1} µs vs {:.1} µs",
                Algorithm::Ring.steps(MODEL_RANKS),
                Algorithm::Tree.steps(MODEL_RANKS),
                human_bytes(x),
                fit.crossover(8).map_or("none".into(), human_bytes),
                fit.crossover(64).map_or("none".into(), human_bytes),
                Algorithm::Ring.model_time(MODEL_RANKS, 2f64.powi(30), fit) * 1e3,
                Algorithm::Tree.model_time(MODEL_RANKS, 2f64.powi(30), fit) * 1e3,
                Algorithm::Ring.model_time(MODEL_RANKS, 8.0, fit) * 1e6,
                Algorithm::Tree.model_time(MODEL_RANKS, 8.0, fit) * 1e6,
            )),
            None => out
                .notes
                .push("α-β model: the fitted β is 0, so the tree never loses: no crossover".into()),
        }
        out.notes.push(format!(
            "steps and bytes are counted: steps = the longest chain of dependent sends (Lamport clocks on the \
             notices); ring: every rank sends 2(N−1)/N·L, tree: the root sends ⌈log₂N⌉·L = {}·L at N={ranks} (the \
             formula for the tree's steps is a round bound, met when N is a power of two). The ring is \
             bandwidth-optimal: Patarasuk & Yuan, JPDC 69(2), 2009",
            ceil_log2(ranks)
        ));
        out.notes.push(
            "values are u64 summed with wrapping addition (associative and commutative), so every rank is checked \
             bit-exactly against the sequential reduction whatever order the schedule added them in"
                .into(),
        );
        out.notes.push(format!(
            "cannot show here: no GPUs and no fabric (the links are shared memory, so α is a cache-line hand-off), \
             and only N ≤ {cores} runs in parallel on this machine's {cores} cores; N = {MODEL_RANKS} is the model's"
        ));
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // Each rank on its own model thread. shuttle runs the 3-rank ring; loom a 2-rank ring at
        // preemption bound 1 (its exploration of the fixed 3-rank ring exceeds its branch limit:
        // the ranks spin while they wait). loom-tests/all_reduce.rs also runs the broken 3-rank one.
        const THREADS: usize = 4;
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => crate::check::loom(Some(1), || {
                loom::scenario::all_reduce(Algorithm::Ring, super::links::loom_broken, 2, 2)
            }),
            (Checker::Loom, Variant::Fixed) => crate::check::loom(Some(1), || {
                loom::scenario::all_reduce(Algorithm::Ring, super::links::loom_fixed, 2, 2)
            }),
            (_, Variant::Broken) => checker.explore(THREADS, || {
                shuttle::scenario::all_reduce(Algorithm::Ring, super::links::shuttle_broken, 3, 3)
            }),
            (_, Variant::Fixed) => checker.explore(THREADS, || {
                shuttle::scenario::all_reduce(Algorithm::Ring, super::links::shuttle_fixed, 3, 3)
            }),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        Some(replay::replay(variant))
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let (wrong, rounds) = broken_on_cores(BROKEN_ROUNDS, crate::hw::Pin::Spread);
        Detection::from_count(
            wrong,
            rounds,
            format!("{wrong} of {rounds} 3-rank all-reduces ended with a wrong sum"),
            format!("0 of {rounds} 3-rank all-reduces went wrong (the ranks kept in step)"),
        )
    }
}
