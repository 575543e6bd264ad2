//! # Branch prediction: the same code, the same data, another order
//!
//! A loop sums the bytes at or above 128: `if v >= 128 { sum += v }`. The CPU guesses each
//! branch's direction before the comparison is done and runs ahead; a wrong guess throws that
//! work away. On **sorted** data the branch goes one way for half the array and then the other,
//! so the predictor is right almost every time; on **shuffled** data it is a coin flip and about
//! half the guesses are wrong. The **branchless** rewrite turns the comparison into a mask, so
//! every element costs the same.
//!
//! `--predictability P` draws each byte at or above 128 with probability P %. An ideal predictor
//! of such independent outcomes is wrong `min(P, 100 − P)` % of the time, so 50 % is a coin flip
//! and 0 % and 100 % are perfectly predictable. The run times the shuffled branchy loop at
//! P = 50…100 %, fits `ns/element = base + penalty × mispredict share` to that curve
//! ([`fit_penalty`], least squares), and prints the slope as the misprediction penalty, in ns and
//! in cycles at the clock `/proc/cpuinfo` reports. The share is the ideal predictor's; a real one
//! is slightly worse, which makes the fitted penalty an upper bound.
//!
//! ## Making sure the branch is there
//! Written plainly ([`sum_if_naive`]), the loop is compiled without a branch: LLVM turns it into a
//! `cmov` (or vector code with a wider target), and sorted and shuffled run at the same speed.
//! The measured kernel [`sum_branchy`] puts `std::hint::black_box(())` on the taken path: an
//! empty inline-asm statement that emits no instruction but that the optimiser must assume has
//! side effects, so it cannot run the path unconditionally or vectorise the loop. The kernels live
//! in `kernels.rs`, included here; the test `the_branchy_kernel_really_branches` compiles that
//! very file with `rustc -C opt-level=3 --emit asm` and checks the assembly: `sum_branchy` has a
//! byte compare followed by a conditional jump and no `cmov`/SIMD, while `sum_if_naive` has no
//! such jump and does have a `cmov` or SIMD — so the test would fail if the guard stopped working,
//! and it shows the guard is what keeps the branch.
//!
//! ## What this machine cannot show
//! No hardware branch-miss counter (`perf` reports `branch-misses` "not supported" in this VM):
//! the penalty is inferred from time, never counted. The clock in `/proc/cpuinfo` is the nominal
//! one a VM reports; the cycle figures assume it.
//!
//! ## Anchor
//! The sorted-vs-unsorted classic (Stack Overflow, "Why is processing a sorted array faster than
//! processing an unsorted array?", 2012): the C++ loop over 32,768 random bytes took 11.54 s
//! unsorted and 1.93 s sorted, a 6× gap, which vanished when the compiler emitted a `cmov`.

pub mod demo;

use std::path::Path;

use crate::cpu::cache_locality::SplitMix;

include!("kernels.rs");

/// The branch's threshold: `v >= THRESHOLD` is "taken".
pub const THRESHOLD: u8 = 128;

/// `n` bytes, each at or above [`THRESHOLD`] with probability `percent` / 100 (uniform within
/// its half), drawn from `seed`.
pub fn values(n: usize, percent: u64, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| {
            let taken = rng.below(100) < percent;
            let low = rng.below(128) as u8;
            if taken {
                low + THRESHOLD
            } else {
                low
            }
        })
        .collect()
}

/// The share of branches an ideal predictor gets wrong at predictability `percent`: independent
/// outcomes, taken with probability p, are best guessed as the more likely one.
pub fn mispredict_share(percent: f64) -> f64 {
    percent.min(100.0 - percent).max(0.0) / 100.0
}

/// A straight line through the curve: time per element against the mispredicted share.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PenaltyFit {
    /// The slope: ns lost per mispredicted branch.
    pub penalty_ns: f64,
    /// The intercept: ns per element when every branch is predicted.
    pub base_ns: f64,
    /// The coefficient of determination (1: the points lie on the line).
    pub r2: f64,
}

/// Least-squares fit of `ns = base + penalty × mispredict_share(p)` over `(p %, ns/element)`
/// points. `None` when there are fewer than two distinct shares (no slope to fit).
pub fn fit_penalty(points: &[(f64, f64)]) -> Option<PenaltyFit> {
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter(|(p, t)| p.is_finite() && t.is_finite())
        .map(|&(p, t)| (mispredict_share(p), t))
        .collect();
    let n = xy.len() as f64;
    if xy.len() < 2 {
        return None;
    }
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = xy.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx < 1e-12 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy == 0.0 { 1.0 } else { (sxy * sxy) / (sxx * syy) };
    Some(PenaltyFit {
        penalty_ns: slope,
        base_ns: my - slope * mx,
        r2,
    })
}

/// The clock the first CPU in `root/proc/cpuinfo` reports (`cpu MHz`), if any.
pub fn cpu_mhz(root: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(root.join("proc/cpuinfo")).ok()?;
    text.lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|&mhz| mhz > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_the_branch_with_the_asked_probability() {
        for p in [0, 25, 50, 90, 100] {
            let v = values(100_000, p, 3);
            let taken = v.iter().filter(|&&x| x >= THRESHOLD).count() as f64 / 1000.0;
            assert!((taken - p as f64).abs() < 1.0, "p={p}: {taken}%");
        }
        assert_eq!(values(64, 50, 1), values(64, 50, 1));
    }

    #[test]
    fn every_kernel_computes_the_same_sum() {
        let mut v = values(10_000, 50, 5);
        let want: u64 = v.iter().filter(|&&x| x >= THRESHOLD).map(|&x| u64::from(x)).sum();
        assert!(want > 0);
        for f in [sum_if_naive, sum_branchy, sum_branchless] {
            assert_eq!(f(&v, THRESHOLD), want);
        }
        v.sort_unstable();
        assert_eq!(sum_branchy(&v, THRESHOLD), want);
    }

    #[test]
    fn mispredict_share_peaks_at_a_coin_flip() {
        assert_eq!(mispredict_share(50.0), 0.5);
        assert_eq!(mispredict_share(100.0), 0.0);
        assert_eq!(mispredict_share(0.0), 0.0);
        assert!((mispredict_share(75.0) - 0.25).abs() < 1e-12);
        assert!((mispredict_share(25.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn the_fit_recovers_a_synthetic_penalty() {
        // base 0.8 ns, 6 ns per miss, with a little deterministic noise.
        let pts: Vec<(f64, f64)> = (0..=10)
            .map(|i| {
                let p = 50.0 + 5.0 * i as f64;
                let noise = if i % 2 == 0 { 0.02 } else { -0.02 };
                (p, 0.8 + 6.0 * mispredict_share(p) + noise)
            })
            .collect();
        let fit = fit_penalty(&pts).unwrap();
        assert!((fit.penalty_ns - 6.0).abs() < 0.1, "{fit:?}");
        assert!((fit.base_ns - 0.8).abs() < 0.05, "{fit:?}");
        assert!(fit.r2 > 0.99, "{fit:?}");
        let exact = fit_penalty(&[(50.0, 3.0), (100.0, 1.0)]).unwrap();
        assert!((exact.penalty_ns - 4.0).abs() < 1e-9 && (exact.base_ns - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_flat_or_degenerate_curve_gives_no_penalty() {
        let flat: Vec<(f64, f64)> = (50..=100).step_by(5).map(|p| (p as f64, 1.5)).collect();
        let fit = fit_penalty(&flat).unwrap();
        assert!(fit.penalty_ns.abs() < 1e-9);
        assert_eq!(fit_penalty(&[(60.0, 1.0)]), None);
        assert_eq!(fit_penalty(&[(60.0, 1.0), (40.0, 2.0)]), None, "one share: no slope");
        assert_eq!(fit_penalty(&[]), None);
    }

    #[test]
    fn cpu_mhz_is_read_from_a_fake_proc_tree() {
        let dir = std::env::temp_dir().join(format!("lab-branch-proc-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(
            dir.join("proc/cpuinfo"),
            "processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2596.136\n\nprocessor\t: 1\ncpu MHz\t\t: 1000\n",
        )
        .unwrap();
        assert_eq!(cpu_mhz(&dir), Some(2596.136));
        std::fs::write(dir.join("proc/cpuinfo"), "processor\t: 0\n").unwrap();
        assert_eq!(cpu_mhz(&dir), None);
        assert_eq!(cpu_mhz(&dir.join("nowhere")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The instructions of function `name` (a mangled symbol containing it) in rustc's AT&T asm,
    /// following an alias (`a = b`, `.set a, b`) when the optimiser merged two identical bodies.
    #[cfg(target_arch = "x86_64")]
    fn asm_body(asm: &str, name: &str) -> Vec<String> {
        let lines: Vec<&str> = asm.lines().collect();
        let mangled = format!("{}{name}17h", name.len());
        let mut label = None;
        for l in &lines {
            let t = l.trim();
            if let Some(sym) = t.strip_suffix(':') {
                if sym.contains(&mangled) {
                    label = Some(sym.to_string());
                }
            } else if let Some((alias, target)) = t
                .split_once(" = ")
                .or_else(|| t.strip_prefix(".set ").and_then(|r| r.split_once(", ")))
            {
                if alias.contains(&mangled) {
                    label = Some(target.trim().to_string());
                }
            }
        }
        let label = label.unwrap_or_else(|| panic!("no function {name} in the asm"));
        let start = lines
            .iter()
            .position(|l| l.trim() == format!("{label}:"))
            .expect("the function's label");
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with(".Lfunc_end"))
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('.') && !l.starts_with('#') && !l.ends_with(':'))
            .map(str::to_string)
            .collect()
    }

    /// A byte compare directly followed by a conditional jump: the data-dependent branch.
    #[cfg(target_arch = "x86_64")]
    fn has_data_branch(body: &[String]) -> bool {
        body.windows(2)
            .any(|w| w[0].starts_with("cmpb") && w[1].starts_with('j') && !w[1].starts_with("jmp"))
    }

    #[cfg(target_arch = "x86_64")]
    fn has_cmov_or_simd(body: &[String]) -> bool {
        body.iter()
            .any(|i| i.starts_with("cmov") || i.contains("%xmm") || i.contains("%ymm") || i.contains("%zmm"))
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_branchy_kernel_really_branches() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cpu/branch_prediction/kernels.rs");
        let out = std::env::temp_dir().join(format!("lab-branch-kernels-{}.s", std::process::id()));
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let status = std::process::Command::new(rustc)
            .args(["--edition", "2021", "--crate-type", "lib", "--crate-name", "kernels"])
            .args(["-C", "opt-level=3", "--emit", "asm", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("rustc runs");
        assert!(status.success(), "rustc compiled kernels.rs");
        let asm = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_file(&out);

        let branchy = asm_body(&asm, "sum_branchy");
        assert!(
            has_data_branch(&branchy),
            "sum_branchy lost its branch:\n{}",
            branchy.join("\n")
        );
        assert!(!has_cmov_or_simd(&branchy), "sum_branchy:\n{}", branchy.join("\n"));

        // The twin without the guard: the optimiser removes the branch, so the test above can fail.
        let naive = asm_body(&asm, "sum_if_naive");
        assert!(!has_data_branch(&naive), "sum_if_naive:\n{}", naive.join("\n"));
        assert!(has_cmov_or_simd(&naive), "sum_if_naive:\n{}", naive.join("\n"));

        let branchless = asm_body(&asm, "sum_branchless");
        assert!(
            !has_data_branch(&branchless),
            "sum_branchless:\n{}",
            branchless.join("\n")
        );
    }
}
