//! The `branch-prediction` demo: sorted vs shuffled vs branchless at `--predictability P`, the
//! curve over P = 50…100 % and the misprediction penalty fitted to it.

use std::hint::black_box;
use std::path::Path;

use super::{cpu_mhz, fit_penalty, mispredict_share, sum_branchless, sum_branchy, sum_if_naive, values, THRESHOLD};
use crate::cpu::cache_locality::best_chunked;
use crate::hw::{run_threads, Pin};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants,
};

/// The `branch-prediction` demo.
#[derive(Debug)]
pub struct BranchPredictionDemo;

/// `branch-prediction`.
pub static BRANCH_PREDICTION: BranchPredictionDemo = BranchPredictionDemo;

/// The seed the bytes are drawn from (fixed: a rerun times the same data).
const SEED: u64 = 0x0B4A_00C4;

static SPEC: Spec = Spec {
    name: "branch-prediction",
    module: "cpu/branch_prediction",
    group: Group::Cpu,
    seed_title: "Branch prediction",
    lesson: "the same branchy loop over the same bytes: sorted, the predictor is right; shuffled, it pays a pipeline flush per miss",
    pair: "the slow way (a real branch on shuffled data) → the fast ways (sorted data, or a branchless mask); no broken code",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(1),
    default_iterations: 1 << 23,
    max_iterations: (
        1 << 30,
        "--iterations is the branches run per timing, and a run takes ~50 timings",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "predictability",
            help: "the share (%) of bytes that take the branch: 50 is a coin flip, 0 and 100 are fully predictable",
            kind: ParamKind::Number {
                min: 0,
                max: 100,
                default: 50,
                power_of_two: false,
            },
        },
        Param {
            name: "elements",
            help: "the array's length, walked again until --iterations branches ran (the classic's 32768 is short \
                   enough for some predictors to learn)",
            kind: ParamKind::Number {
                min: 4096,
                max: 1 << 24,
                default: 1 << 20,
                power_of_two: false,
            },
        },
        Param {
            name: "long",
            help: "a finer curve (P in steps of 2 instead of 5) and twice the timed passes per point",
            kind: ParamKind::Flag,
        },
    ],
};

/// The predictabilities of the curve: 50…100 % in steps of 5 (or 2 when long).
pub fn curve_points(long: bool) -> Vec<u64> {
    (50..=100).step_by(if long { 2 } else { 5 }).collect()
}

type Kernel = fn(&[u8], u8) -> u64;

/// Time per element of `kernel` over `data`, and the sum of a pass. The array is timed in pieces
/// of [`CHUNK`] bytes, `passes` times over, and each piece's fastest time is kept: a piece of
/// ~0.1 ms is rarely interrupted on a shared machine, a whole pass often is. The array itself is
/// long (2^20 bytes by default) so that the predictor cannot learn its pattern across passes.
fn time_kernel(kernel: Kernel, data: &[u8], passes: u64) -> (f64, u64) {
    let pieces: Vec<&[u8]> = data.chunks(CHUNK).collect();
    let (t, sum) = best_chunked(passes.min(u64::from(u32::MAX)) as u32, pieces.len(), |c| {
        kernel(black_box(pieces[c]), black_box(THRESHOLD))
    });
    (t.as_nanos() as f64 / data.len() as f64, sum)
}

/// Bytes per timed piece.
const CHUNK: usize = 1 << 14;

struct Measured {
    rows: Vec<(&'static str, f64)>,
    branchy: Vec<(f64, f64)>,
    branchless: Vec<(f64, f64)>,
    taken: f64,
}

fn measure(n: usize, p: u64, passes: u64, long: bool) -> Measured {
    let passes = if long { passes * 2 } else { passes };
    let shuffled = values(n, p, SEED);
    let want: u64 = shuffled
        .iter()
        .filter(|&&v| v >= THRESHOLD)
        .map(|&v| u64::from(v))
        .sum();
    let taken = shuffled.iter().filter(|&&v| v >= THRESHOLD).count() as f64 * 100.0 / n as f64;
    let mut sorted = shuffled.clone();
    sorted.sort_unstable();
    let mut rows = Vec::new();
    for (case, kernel, data) in [
        ("sorted", sum_branchy as Kernel, &sorted),
        ("shuffled", sum_branchy, &shuffled),
        ("branchless (mask), shuffled", sum_branchless, &shuffled),
        ("plain `if` as compiled, shuffled", sum_if_naive, &shuffled),
    ] {
        let (ns, sum) = time_kernel(kernel, data, passes);
        assert_eq!(sum, want, "{case}: every kernel computes the same sum");
        rows.push((case, ns));
    }
    let mut branchy = Vec::new();
    let mut branchless = Vec::new();
    for q in curve_points(long) {
        let data = values(n, q, SEED);
        branchy.push((q as f64, time_kernel(sum_branchy, &data, passes).0));
        branchless.push((q as f64, time_kernel(sum_branchless, &data, passes).0));
    }
    Measured {
        rows,
        branchy,
        branchless,
        taken,
    }
}

impl Demo for BranchPredictionDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let p = opts.params.number("predictability");
        let n = opts.params.number("elements") as usize;
        let long = opts.params.flag("long");
        let passes = opts.iterations.div_ceil(n as u64).max(1);
        let (mut results, _) = run_threads(1, opts.pin, |_| measure(n, p, passes, long));
        let m = results.pop().expect("one thread ran");
        let mhz = cpu_mhz(Path::new("/"));
        let where_ = match opts.pin {
            Pin::None => "one thread, unpinned",
            _ => "one thread, pinned to the first core",
        };
        let sorted = m.rows[0].1;
        for (case, ns) in &m.rows {
            let cycles = match mhz {
                Some(f) => Figure::number("cycles/element", ns * f / 1000.0, 2, ""),
                None => Figure::text("cycles/element", "n/a"),
            };
            out.rows.push(Row {
                case: (*case).to_string(),
                figures: vec![
                    Figure::number("ns/element", *ns, 3, "ns"),
                    Figure::number("vs sorted", ns / sorted, 2, "x"),
                    cycles,
                ],
                parallel: None,
                parallelism: format!(
                    "{where_}; {n} bytes timed in pieces of {CHUNK}, the fastest of {} pass(es) per piece",
                    if long { passes * 2 } else { passes }
                ),
            });
        }

        let fit = fit_penalty(&m.branchy);
        let mut curve = Series::new(
            "branchy loop over shuffled bytes (measured)",
            ("predictability: bytes taking the branch", "%"),
            ("time per element", "ns"),
            m.branchy.clone(),
        );
        if let Some(f) = fit {
            curve = curve.mark(50.0, format!("fitted penalty {:.2} ns/miss", f.penalty_ns));
        }
        out.series.push(curve);
        out.series.push(Series::new(
            "branchless mask over the same bytes (measured)",
            ("predictability: bytes taking the branch", "%"),
            ("time per element", "ns"),
            m.branchless,
        ));
        if let Some(f) = fit {
            out.series.push(Series::new(
                "fit: base + penalty × ideal mispredict share",
                ("predictability: bytes taking the branch", "%"),
                ("time per element", "ns"),
                m.branchy
                    .iter()
                    .map(|&(q, _)| (q, f.base_ns + f.penalty_ns * mispredict_share(q)))
                    .collect(),
            ));
        }

        out.notes.push(format!(
            "measured at --predictability {p}: {:.1}% of the {n} bytes take the branch; the ideal predictor would miss \
             {:.0}% of them shuffled, ~0% sorted",
            m.taken,
            mispredict_share(p as f64) * 100.0
        ));
        out.notes.push(match (fit, mhz) {
            (Some(f), Some(mhz)) => format!(
                "misprediction penalty (slope of the curve, least squares over P = 50…100%): {:.2} ns ≈ {:.0} cycles \
                 at the {mhz:.0} MHz /proc/cpuinfo reports (a VM's nominal clock); base {:.2} ns/element, r² {:.3}",
                f.penalty_ns,
                f.penalty_ns * mhz / 1000.0,
                f.base_ns,
                f.r2
            ),
            (Some(f), None) => format!(
                "misprediction penalty (slope of the curve): {:.2} ns; base {:.2} ns/element, r² {:.3} (/proc/cpuinfo \
                 gives no clock: no cycles)",
                f.penalty_ns, f.base_ns, f.r2
            ),
            (None, _) => "misprediction penalty: the curve had no slope to fit".into(),
        });
        out.notes.push(
            "the branch is real: `sum_branchy` keeps a cmp + conditional jump (black_box(()) on the taken path); the \
             plain `if` row is what the compiler makes of the classic loop (a cmov: no branch to mispredict); \
             proof: cargo test --lib cpu::branch_prediction::tests::the_branchy_kernel_really_branches"
                .into(),
        );
        out.notes.push(
            "not measured here: branch-miss counters (perf reports them \"not supported\" in this VM), so the \
             penalty is inferred from time"
                .into(),
        );
        out.notes.push(
            "anchor (cited): Stack Overflow, \"Why is processing a sorted array faster than processing an unsorted \
             array?\" (2012): 11.54 s unsorted vs 1.93 s sorted (6x) over 32,768 bytes walked 100,000 times; a \
             recent predictor may learn a pattern that short (try --elements 32768), hence 2^20 bytes here"
                .into(),
        );
        out.notes.push(
            "a quick look: cargo bench --bench branch_prediction measures sorted, shuffled and branchless".into(),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{ParamValues, Variant};

    #[test]
    fn the_curve_spans_a_coin_flip_to_certainty() {
        assert_eq!(curve_points(false).first(), Some(&50));
        assert_eq!(curve_points(false).last(), Some(&100));
        assert_eq!(curve_points(false).len(), 11);
        assert!(curve_points(true).len() > 11 && curve_points(true).last() == Some(&100));
    }

    #[test]
    fn a_small_run_has_rows_series_and_notes() {
        let opts = RunOptions {
            threads: 1,
            iterations: 4096,
            pin: Pin::None,
            params: ParamValues::resolve(&SPEC, &[("elements".into(), Some("4096".into()))]).unwrap(),
        };
        let out = BRANCH_PREDICTION.run(&[Case::Variant(Variant::Fixed)], &opts).unwrap();
        let cases: Vec<&str> = out.rows.iter().map(|r| r.case.as_str()).collect();
        assert_eq!(cases[..3], ["sorted", "shuffled", "branchless (mask), shuffled"]);
        assert_eq!(out.series[0].points.len(), 11);
        assert!(out.series[0].points.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(out.series[0].x.1, "%");
        assert!(out.notes.iter().any(|n| n.contains("11.54 s")));
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["rows"][0]["figures"][0][0], "ns/element");
    }

    #[test]
    fn a_predictability_over_100_is_one_line_of_refusal() {
        let e = ParamValues::resolve(&SPEC, &[("predictability".into(), Some("101".into()))]).unwrap_err();
        assert!(e.0.contains("--predictability") && !e.0.contains('\n'), "{e}");
        assert!(ParamValues::resolve(&SPEC, &[("predictability".into(), Some("100".into()))]).is_ok());
    }
}
