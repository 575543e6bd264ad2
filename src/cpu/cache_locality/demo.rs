//! The `cache-locality` demo: one array summed sequentially, with a stride and shuffled; a
//! matrix row-major and column-major; a stride sweep; and the seed's hit/miss grid from a model.

use std::hint::black_box;
use std::path::Path;

use super::model::{grid_text, replay, LruCache};
use super::{
    best_chunked, l1d, order, read_caches, sum_col_major, sum_row_major, time_order, CacheInfo, Order, CHUNK, ELEM,
};
use crate::hw::{run_threads, Pin};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants,
};

/// The `cache-locality` demo.
#[derive(Debug)]
pub struct CacheLocalityDemo;

/// `cache-locality`.
pub static CACHE_LOCALITY: CacheLocalityDemo = CacheLocalityDemo;

/// The seed the shuffled order is drawn from (fixed: a rerun visits the same order).
const SEED: u64 = 0x5EED_10CA;

/// Accesses of each order fed to the L1d model (its cost grows with them; the rate settles well
/// before).
const MODEL_ACCESSES: usize = 1 << 18;

/// The grid's cache: 2 lines, a quarter of the grid's 8 (the real array dwarfs the real caches).
const GRID_LINES: usize = 2;

static SPEC: Spec = Spec {
    name: "cache-locality",
    module: "cpu/cache_locality",
    group: Group::Cpu,
    seed_title: "Cache locality",
    lesson: "the same sum over the same array: sequential streams whole lines, a stride or a shuffle pays a line per element",
    pair: "the slow way (shuffled / strided / column-major) → the fast way (sequential / row-major); no broken code",
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
        1 << 26,
        "--iterations is the array's length in 8-byte elements: 2^26 is 512 MiB plus a 256 MiB order",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "stride",
            help: "the strided walk's step, in 8-byte elements (8 = one element per 64-byte line)",
            kind: ParamKind::Number {
                min: 2,
                max: 1 << 16,
                default: 16,
                power_of_two: false,
            },
        },
        Param {
            name: "long",
            help: "a finer stride sweep (steps of ~1.4x, up to 16384) and 5 timings per point instead of 3",
            kind: ParamKind::Flag,
        },
    ],
};

/// The strides of the sweep: powers of two to 4096, or (long) steps of ~√2 to 16384, below `n`.
pub fn sweep_strides(long: bool, n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let max = if long { 1 << 14 } else { 1 << 12 };
    let mut s = 1usize;
    while s <= max {
        v.push(s);
        if long && s >= 2 && s + s / 2 <= max {
            v.push(s + s / 2);
        }
        s *= 2;
    }
    v.sort_unstable();
    v.dedup();
    v.retain(|&s| s < n.max(2));
    v
}

/// The L1d misses (percent) a model of `geo` would take on the first accesses of `indices`.
fn model_misses(geo: &CacheInfo, indices: impl Iterator<Item = u64>) -> f64 {
    let mut cache = LruCache::new(geo.sets() as usize, geo.ways as usize, geo.line);
    for i in indices.take(MODEL_ACCESSES) {
        cache.access(i * ELEM);
    }
    cache.miss_percent()
}

/// The seed's three 64-element grids side by side, from the same order builders as the run.
fn grid_note(stride: usize) -> String {
    let orders = [
        ("sequential", Order::Sequential),
        ("stride", Order::Strided(stride)),
        ("shuffled", Order::Shuffled(SEED)),
    ];
    let mut grids = Vec::new();
    let mut heads = Vec::new();
    for (name, kind) in orders {
        let mut cache = LruCache::fully_associative(GRID_LINES, 64);
        let grid = replay(&mut cache, &order(kind, 64), ELEM, 64);
        heads.push(format!("{name:<11} {:>2} miss", cache.misses()));
        grids.push(grid_text(&grid, 8));
    }
    let mut s = format!(
        "MODEL, not measured (no miss counters on this machine): the seed's grid, 64 u64s = 8 lines of 64 B \
         (one row = one line), visited in each order of this run (stride {stride}), fed to a fully associative LRU \
         cache of {GRID_LINES} lines; X = miss, · = hit\n  {}",
        heads.join("   ")
    );
    let split: Vec<Vec<&str>> = grids.iter().map(|g| g.lines().collect()).collect();
    for r in 0..8 {
        let cols: Vec<String> = split.iter().map(|g| format!("{:<19}", g[r])).collect();
        s.push_str(&format!("\n  {}", cols.join("   ").trim_end()));
    }
    s
}

/// Everything one run measured (on the pinned thread).
struct Measured {
    rows: Vec<(String, f64, f64)>,
    sweep: Vec<(f64, f64)>,
    sweep_model: Vec<(f64, f64)>,
    side: usize,
}

fn measure(n: usize, stride: usize, long: bool, geo: Option<&CacheInfo>) -> Measured {
    let reps = if long { 5 } else { 3 };
    let data: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9) ^ i).collect();
    let want = data.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    let data = black_box(data);
    let model = |o: &[u32]| geo.map_or(f64::NAN, |g| model_misses(g, o.iter().map(|&i| u64::from(i))));
    let per_elem = |d: std::time::Duration| d.as_nanos() as f64 / n as f64;

    let mut rows = Vec::new();
    for (name, kind) in [
        ("sequential".to_string(), Order::Sequential),
        (format!("stride {stride}"), Order::Strided(stride)),
        ("shuffled".to_string(), Order::Shuffled(SEED)),
    ] {
        let o = order(kind, n);
        let (t, sum) = time_order(reps, &data, &o);
        assert_eq!(sum, want, "{name}: every order visits every element once");
        rows.push((name, per_elem(t), model(&o)));
    }

    let side = (n as f64).sqrt() as usize;
    let m = &data[..side * side];
    let msum = m.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    let per_cell = |d: std::time::Duration| d.as_nanos() as f64 / (side * side).max(1) as f64;
    // Pieces of `lines` rows (or columns): ~CHUNK elements each.
    let lines = (CHUNK / side.max(1)).max(1);
    let pieces = side.div_ceil(lines);
    let range = |c: usize| c * lines..((c + 1) * lines).min(side);
    let (t, s) = best_chunked(reps, pieces, |c| sum_row_major(black_box(m), side, range(c)));
    assert_eq!(s, msum);
    let row_model = geo.map_or(f64::NAN, |g| model_misses(g, 0..(side * side) as u64));
    rows.push((format!("matrix {side}² row-major"), per_cell(t), row_model));
    let (t, s) = best_chunked(reps, pieces, |c| sum_col_major(black_box(m), side, range(c)));
    assert_eq!(s, msum);
    let cols = (0..side as u64).flat_map(|c| (0..side as u64).map(move |r| r * side as u64 + c));
    rows.push((
        format!("matrix {side}² column-major"),
        per_cell(t),
        geo.map_or(f64::NAN, |g| model_misses(g, cols)),
    ));

    let mut sweep = Vec::new();
    let mut sweep_model = Vec::new();
    for s in sweep_strides(long, n) {
        let o = order(Order::Strided(s), n);
        let (t, sum) = time_order(reps, &data, &o);
        assert_eq!(sum, want);
        sweep.push((s as f64, per_elem(t)));
        sweep_model.push((s as f64, model(&o)));
    }
    Measured {
        rows,
        sweep,
        sweep_model,
        side,
    }
}

impl Demo for CacheLocalityDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let n = usize::try_from(opts.iterations).map_err(|_| UsageError("--iterations too large".into()))?;
        if n < 64 {
            return Err(UsageError(format!(
                "demo `cache-locality` needs --iterations (the array's length) of at least 64 (got {n})"
            )));
        }
        let stride = opts.params.number("stride") as usize;
        let long = opts.params.flag("long");
        let caches = read_caches(Path::new("/"));
        let geo = l1d(&caches).cloned();
        let (mut results, _) = run_threads(1, opts.pin, |_| measure(n, stride, long, geo.as_ref()));
        let m = results.pop().expect("one thread ran");
        let where_ = match opts.pin {
            Pin::None => "one thread, unpinned",
            _ => "one thread, pinned to the first core",
        };
        let seq = m.rows[0].1;
        for (case, ns, miss) in &m.rows {
            let model_fig = if miss.is_nan() {
                Figure::text("L1d misses (model)", "n/a")
            } else {
                Figure::number("L1d misses (model)", *miss, 1, "%")
            };
            out.rows.push(Row {
                case: case.clone(),
                figures: vec![
                    Figure::number("ns/element", *ns, 2, "ns"),
                    Figure::number("vs sequential", ns / seq, 2, "x"),
                    model_fig,
                ],
                parallel: None,
                parallelism: format!(
                    "{where_}; each piece of {CHUNK} accesses timed {} times, its best kept",
                    if long { 5 } else { 3 }
                ),
            });
        }

        let line = geo.as_ref().map_or(64, |g| g.line);
        let page = page_size();
        let mut series = Series::new(
            "sum time per element against stride (same array, same kernel, measured)",
            ("stride", "elements of 8 B"),
            ("time per element", "ns"),
            m.sweep,
        )
        .log_x();
        let mut model_series = Series::new(
            "L1d misses against stride (MODEL: LRU cache with the sysfs L1d geometry, not measured)",
            ("stride", "elements of 8 B"),
            ("L1d misses (model)", "%"),
            m.sweep_model,
        )
        .log_x();
        let line_mark = format!("line {line} B (sysfs)");
        series = series.mark((line / ELEM) as f64, line_mark.clone());
        model_series = model_series.mark((line / ELEM) as f64, line_mark);
        if let Some(p) = page {
            series = series.mark((p / ELEM) as f64, format!("page {} KiB", p >> 10));
        }
        out.series.push(series);
        if geo.is_some() {
            out.series.push(model_series);
        }

        out.notes.push(format!(
            "measured: {n} elements ({} MiB), one kernel `sum += data[order[k]]` for every order, so only the order \
             differs; the matrix ({}² of the same array) uses the plain two-loop code, whose row-major walk the \
             compiler may vectorise",
            (n as u64 * ELEM) >> 20,
            m.side
        ));
        out.notes.push(match &geo {
            Some(g) => format!(
                "L1d (sysfs cpu0): {} KiB, {}-way, {} B lines, {} sets: the model's geometry; the model column is \
                 the share of the first {MODEL_ACCESSES} accesses that miss it — a model, not a counted miss",
                g.size >> 10,
                g.ways,
                g.line,
                g.sets()
            ),
            None => "sysfs lists no L1d for cpu0: the model column is n/a".into(),
        });
        out.notes.push(
            "not measured here: hardware cache-miss counters (perf reports them \"not supported\" in this VM), so \
             misses are inferred from time and shown by the model only"
                .into(),
        );
        out.notes.push(grid_note(stride));
        out.notes.push(
            "anchor (cited): Drepper, \"What every programmer should know about memory\" (2007), Table 6.2: the \
             transposed (sequential) matrix multiply took 23.4% of the naive one's cycles"
                .into(),
        );
        out.notes.push(
            "a quick look, timed once: cargo bench --bench branch_prediction measures sequential vs shuffled".into(),
        );
        Ok(out)
    }
}

/// The page size the OS reports (`sysconf(_SC_PAGESIZE)`).
fn page_size() -> Option<u64> {
    // SAFETY: sysconf only reads a system constant; it has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).ok().filter(|p| p.is_power_of_two())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{ParamValues, Variant};

    #[test]
    fn sweep_strides_ascend_and_stay_below_the_array() {
        let s = sweep_strides(false, 1 << 20);
        assert_eq!(s.first(), Some(&1));
        assert_eq!(s.last(), Some(&4096));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        let long = sweep_strides(true, 1 << 20);
        assert!(long.len() > s.len() && long.contains(&3) && long.last() == Some(&(1 << 14)));
        assert!(sweep_strides(false, 100).iter().all(|&x| x < 100));
    }

    #[test]
    fn the_grid_shows_the_seed_picture() {
        let g = grid_note(16);
        assert!(g.starts_with("MODEL"));
        // sequential: one miss per line, 8 in all.
        assert!(g.contains("sequential   8 miss"), "{g}");
        assert_eq!(g.lines().count(), 10);
    }

    #[test]
    fn a_small_run_has_rows_series_and_labelled_model() {
        let opts = RunOptions {
            threads: 1,
            iterations: 4096,
            pin: Pin::None,
            params: ParamValues::resolve(&SPEC, &[]).unwrap(),
        };
        let out = CACHE_LOCALITY.run(&[Case::Variant(Variant::Fixed)], &opts).unwrap();
        assert_eq!(out.rows.len(), 5);
        assert_eq!(out.rows[0].case, "sequential");
        assert!(out.series[0].log_x && !out.series[0].points.is_empty());
        assert!(out.series[0].points.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(out.series.iter().skip(1).all(|s| s.name.contains("MODEL")));
        assert!(out.notes.iter().any(|n| n.starts_with("MODEL")));
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["rows"][1]["figures"][0][0], "ns/element");
        let tiny = RunOptions { iterations: 10, ..opts };
        assert!(CACHE_LOCALITY.run(&[], &tiny).is_err());
    }
}
