//! Plateaus and cliffs, found in a latency curve: a pure function over `(x, y)` points, so the
//! detection is tested on synthetic curves and the demos only feed it what they measured.
//!
//! The method, on `ln y` (a latency curve's levels differ by factors, not by nanoseconds):
//! 1. smooth with a running median of three, so one noisy point makes neither a plateau nor a cliff;
//! 2. grow runs left to right: a point joins the current run while it stays within `tol` (a
//!    ratio) of the run's median, else it starts a new run;
//! 3. a run spanning at least `min_span` in x (2.0 = one octave) is a plateau; the rest is transition;
//! 4. neighbouring plateaus whose levels differ by less than `tol` merge;
//! 5. a rise of at least `min_rise` between consecutive plateaus is a cliff, located between the
//!    last x of the lower plateau and the first x of the higher one.

/// A flat stretch of the curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Plateau {
    /// Index of its first point.
    pub first: usize,
    /// Index of its last point.
    pub last: usize,
    /// Its level: the median y of its (smoothed) points.
    pub level: f64,
}

/// A rise between two plateaus.
#[derive(Clone, Debug, PartialEq)]
pub struct Cliff {
    /// The last x still on the lower plateau (what still fits).
    pub below: f64,
    /// The first x on the higher plateau.
    pub above: f64,
    /// The lower plateau's level.
    pub from: f64,
    /// The higher plateau's level.
    pub to: f64,
}

impl Cliff {
    /// Where to draw it: the geometric middle of `below` and `above`.
    pub fn at(&self) -> f64 {
        (self.below * self.above).sqrt()
    }
}

/// What [`shape`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// The plateaus, in x order.
    pub plateaus: Vec<Plateau>,
    /// The cliffs between consecutive plateaus.
    pub cliffs: Vec<Cliff>,
    /// The curve ends above its last plateau (or has none): the last level was not reached.
    pub rising_at_end: bool,
}

/// The detection's knobs.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// How far (a ratio, 0.2 = 20 %) a point may sit from its plateau's median.
    pub tol: f64,
    /// The x span (last / first) a run needs to count as a plateau.
    pub min_span: f64,
    /// The rise (a ratio) between plateaus that makes a cliff.
    pub min_rise: f64,
}

/// Latency curves: 20 % noise, an octave long, a rise of 40 %.
pub const LATENCY: Tuning = Tuning {
    tol: 0.2,
    min_span: 2.0,
    min_rise: 1.4,
};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The plateaus and cliffs of `points` (x ascending, y > 0).
pub fn shape(points: &[(f64, f64)], t: Tuning) -> Shape {
    let n = points.len();
    let ln: Vec<f64> = points.iter().map(|&(_, y)| y.max(f64::MIN_POSITIVE).ln()).collect();
    let smooth: Vec<f64> = (0..n)
        .map(|i| median(&mut ln[i.saturating_sub(1)..(i + 2).min(n)].to_vec()))
        .collect();
    let tol = (1.0 + t.tol).ln();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        let joins = i < n && (smooth[i] - median(&mut smooth[start..i].to_vec())).abs() <= tol;
        if !joins {
            runs.push((start, i - 1));
            start = i;
        }
    }
    let mut plateaus: Vec<Plateau> = Vec::new();
    for (first, last) in runs
        .into_iter()
        .filter(|&(a, b)| n > 0 && points[b].0 / points[a].0 >= t.min_span)
    {
        let level = median(&mut smooth[first..=last].to_vec());
        match plateaus.last_mut() {
            Some(p) if (level - p.level).abs() < tol => {
                p.last = last;
                p.level = median(&mut smooth[p.first..=last].to_vec());
            }
            _ => plateaus.push(Plateau { first, last, level }),
        }
    }
    let cliffs = plateaus
        .windows(2)
        .filter(|w| w[1].level - w[0].level >= t.min_rise.ln())
        .map(|w| Cliff {
            below: points[w[0].last].0,
            above: points[w[1].first].0,
            from: w[0].level.exp(),
            to: w[1].level.exp(),
        })
        .collect();
    let rising_at_end = match plateaus.last() {
        None => n > 0,
        Some(p) => p.last + 1 < n && smooth[n - 1] - p.level > tol,
    };
    for p in &mut plateaus {
        p.level = p.level.exp();
    }
    Shape {
        plateaus,
        cliffs,
        rising_at_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes 4 KiB · 2^(i/per_octave).
    fn sizes(octaves: usize, per_octave: usize) -> Vec<f64> {
        (0..=octaves * per_octave)
            .map(|i| 4096.0 * 2f64.powf(i as f64 / per_octave as f64))
            .collect()
    }

    /// A deterministic ±`amp` wobble.
    fn noise(i: usize, amp: f64) -> f64 {
        1.0 + amp * (((i * 7919) % 13) as f64 / 6.0 - 1.0)
    }

    /// A staircase: level `levels[k]` up to `edges[k]`, with a smooth sigmoid in log-x over `width` octaves.
    fn staircase(x: &[f64], edges: &[f64], levels: &[f64], width: f64, amp: f64) -> Vec<(f64, f64)> {
        x.iter()
            .enumerate()
            .map(|(i, &x)| {
                let mut ln = levels[0].ln();
                for (k, &e) in edges.iter().enumerate() {
                    let s = 1.0 / (1.0 + (-(x / e).log2() / (width / 8.0)).exp());
                    ln += s * (levels[k + 1].ln() - levels[k].ln());
                }
                (x, ln.exp() * noise(i, amp))
            })
            .collect()
    }

    #[test]
    fn finds_three_cliffs_near_the_cache_sizes() {
        let x = sizes(18, 2);
        let edges = [48.0 * 1024.0, 2.0 * 1048576.0, 32.0 * 1048576.0];
        let pts = staircase(&x, &edges, &[1.2, 3.5, 12.0, 95.0], 1.0, 0.05);
        let s = shape(&pts, LATENCY);
        assert_eq!(s.cliffs.len(), 3, "{s:?}");
        for (c, e) in s.cliffs.iter().zip(edges) {
            assert!(c.below <= e * 1.5 && c.above >= e / 1.5, "cliff {c:?} vs edge {e}");
            assert!(c.to > c.from * 1.4);
        }
        assert!(!s.rising_at_end);
        assert_eq!(s.plateaus.len(), 4);
        assert!((s.plateaus[0].level - 1.2).abs() < 0.1);
    }

    #[test]
    fn finer_sweeps_find_the_same_cliffs() {
        let x = sizes(18, 4);
        let edges = [32.0 * 1024.0, 1048576.0, 32.0 * 1048576.0];
        let pts = staircase(&x, &edges, &[1.0, 4.0, 15.0, 110.0], 1.5, 0.08);
        assert_eq!(shape(&pts, LATENCY).cliffs.len(), 3);
    }

    #[test]
    fn a_flat_curve_has_one_plateau_and_no_cliff() {
        let pts: Vec<(f64, f64)> = sizes(10, 2)
            .into_iter()
            .enumerate()
            .map(|(i, x)| (x, 2.0 * noise(i, 0.1)))
            .collect();
        let s = shape(&pts, LATENCY);
        assert_eq!(s.plateaus.len(), 1, "{s:?}");
        assert!(s.cliffs.is_empty());
        assert!(!s.rising_at_end);
    }

    #[test]
    fn one_spike_is_not_a_cliff() {
        let mut pts: Vec<(f64, f64)> = sizes(10, 2).into_iter().map(|x| (x, 2.0)).collect();
        pts[8].1 = 40.0;
        let s = shape(&pts, LATENCY);
        assert!(s.cliffs.is_empty(), "{s:?}");
        assert_eq!(s.plateaus.len(), 1);
    }

    #[test]
    fn a_curve_still_climbing_at_the_end_says_so() {
        // L1 then a steady climb that never levels off (the DRAM plateau lies beyond --max).
        let pts: Vec<(f64, f64)> = sizes(12, 2)
            .into_iter()
            .map(|x| {
                (
                    x,
                    if x <= 32768.0 {
                        1.0
                    } else {
                        (x / 32768.0).powf(0.6) * 2.0
                    },
                )
            })
            .collect();
        let s = shape(&pts, LATENCY);
        assert!(s.rising_at_end, "{s:?}");
        assert_eq!(s.plateaus.len(), 1);
        assert!(s.cliffs.is_empty());
    }

    #[test]
    fn a_fall_is_not_a_cliff() {
        let pts: Vec<(f64, f64)> = sizes(8, 2)
            .into_iter()
            .map(|x| (x, if x < 100_000.0 { 10.0 } else { 2.0 }))
            .collect();
        let s = shape(&pts, LATENCY);
        assert_eq!(s.plateaus.len(), 2);
        assert!(s.cliffs.is_empty());
    }

    #[test]
    fn empty_and_tiny_curves() {
        assert_eq!(shape(&[], LATENCY).plateaus.len(), 0);
        let one = shape(&[(4096.0, 1.0)], LATENCY);
        assert!(one.cliffs.is_empty());
        assert!(one.rising_at_end, "one point is no plateau");
    }

    #[test]
    fn cliff_is_drawn_between_its_ends() {
        let c = Cliff {
            below: 32768.0,
            above: 65536.0,
            from: 1.0,
            to: 3.0,
        };
        assert!(c.at() > c.below && c.at() < c.above);
    }
}
