//! Shared bench machinery: pinned, barrier-started threads that time only their parallel
//! section, a spin-then-yield wait, quick mode, the side files for extra figures, and the
//! comparisons each bench declares for the report (`benches/report.rs`).
//!
//! Every bench includes this file with `mod common;`; not every bench uses every item.
#![allow(dead_code)]

pub mod spsc;

use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::Criterion;
pub use lockfree_lab::hw::Pin;

/// True under `BENCH_QUICK=1`: fewer, shorter samples (a smoke run of the whole suite).
pub fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty())
}

/// True when the binary was started by `cargo bench` (criterion measures), false under
/// `cargo test --benches` (criterion runs each routine once as a smoke test).
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The criterion configuration every bench starts from. `comparisons` are what the report says
/// about this bench's results (see [`Comparison`]): they are checked here, also under
/// `cargo test --benches`, and handed to the report when measuring.
pub fn criterion(comparisons: &[Comparison]) -> Criterion {
    declare(comparisons);
    let c = Criterion::default();
    if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c.sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

/// `n` samples, or 10 in quick mode (criterion's minimum).
pub fn samples(n: usize) -> usize {
    if quick() {
        10
    } else {
        n
    }
}

/// `secs` seconds of measurement, or one in quick mode.
pub fn measure_time(secs: u64) -> Duration {
    Duration::from_secs(if quick() { 1 } else { secs })
}

/// How the SPSC benches' threads wait for room or for an item (`LAB_BENCH_WAIT`): `backoff`
/// (the default: [`lockfree_lab::hw::spin_until`], doubling runs of `pause` then yields, the wait
/// every demo uses) or `poll` ([`lockfree_lab::hw::poll_until`]: one `pause` between polls). The
/// same wait for every candidate either way; `poll` shows the hand-off itself, where the backoff
/// adds up to 64 `pause`s of delay after the change it waits for.
///
/// Always inlined: as a plain `#[inline]` function LLVM kept it out of line (one copy per
/// closure type), so every item paid a call and the `LAB_BENCH_WAIT` check, and on an Intel Xeon
/// VM that overhead put the per-item streams in lock-step (31–48 ns an item, the lab's ring 1.16–
/// 1.25× rtrb's time); inlined, both rings stream at ~5 ns an item. The same wait for every
/// candidate either way.
#[inline(always)]
pub fn wait_until(ready: impl FnMut() -> bool) {
    if wait_polls() {
        lockfree_lab::hw::poll_until(ready)
    } else {
        lockfree_lab::hw::spin_until(ready)
    }
}

/// True under `LAB_BENCH_WAIT=poll` (read once). Any other value but `backoff` stops the bench.
pub fn wait_polls() -> bool {
    static POLL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *POLL.get_or_init(|| match std::env::var("LAB_BENCH_WAIT").as_deref() {
        Err(_) | Ok("") | Ok("backoff") => false,
        Ok("poll") => true,
        Ok(other) => {
            eprintln!("LAB_BENCH_WAIT: unknown wait {other:?}; accepted: backoff (the default), poll");
            std::process::exit(2)
        }
    })
}

/// One timed run of [`parallel`].
#[derive(Debug)]
pub struct Run<R> {
    /// Each thread's result, by thread index.
    pub results: Vec<R>,
    /// From the first thread leaving the barrier to the last thread finishing its work.
    pub wall: Duration,
    /// Average CPU share of the threads over `wall` (1.0: each thread on a core all the time).
    pub cpu_share: f64,
}

/// Runs `work(i)` on `threads` threads pinned per `pin` (thread `i` on core `i % cores` for
/// [`Pin::Spread`], all on the first core for [`Pin::SameCore`]), released together by a
/// barrier. See [`parallel_tasks`].
pub fn parallel<R: Send>(threads: usize, pin: Pin, work: impl Fn(usize) -> R + Sync) -> Run<R> {
    let work = &work;
    parallel_tasks(pin, (0..threads).map(|i| move || work(i)).collect())
}

/// Runs each task on its own thread (task `i` pinned per `pin` as in [`parallel`]), released
/// together by a barrier. Only the parallel section is timed: each thread stamps its own start
/// (after the barrier) and end, so spawning, pinning, joining and the unpinned main thread (which
/// may wait for a core while the workers spin) are outside the measurement.
/// `lockfree_lab::hw::run_threads` times from the main thread instead, which is right for a demo
/// and too coarse here.
pub fn parallel_tasks<R: Send, F: FnOnce() -> R + Send>(pin: Pin, tasks: Vec<F>) -> Run<R> {
    let threads = tasks.len();
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let barrier = Barrier::new(threads);
    let stamped: Vec<(R, Instant, Instant, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = tasks
            .into_iter()
            .enumerate()
            .map(|(i, task)| {
                let (barrier, cores) = (&barrier, &cores);
                s.spawn(move || {
                    lockfree_lab::hw::pin_current(pin, i, cores);
                    barrier.wait();
                    let cpu0 = lockfree_lab::hw::thread_cpu_time();
                    let start = Instant::now();
                    let r = task();
                    let end = Instant::now();
                    (r, start, end, lockfree_lab::hw::thread_cpu_time() - cpu0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread panicked"))
            .collect()
    });
    let start = stamped.iter().map(|t| t.1).min().expect("at least one thread");
    let end = stamped.iter().map(|t| t.2).max().expect("at least one thread");
    let wall = end - start;
    let busy: f64 = stamped.iter().map(|t| t.3.as_secs_f64()).sum();
    let cpu_share = if wall.is_zero() {
        1.0
    } else {
        busy / (wall.as_secs_f64() * threads as f64)
    };
    Run {
        results: stamped.into_iter().map(|t| t.0).collect(),
        wall,
        cpu_share,
    }
}

/// A boxed task for [`parallel_tasks`] when the threads do different jobs.
pub type Task<'a, R> = Box<dyn FnOnce() -> R + Send + 'a>;

/// Figures a bench records besides criterion's timings (CAS retries per op, CPU share), for
/// `scripts/bench-report`. Written only when measuring, to `<criterion dir>/lab-extra.tsv` as
/// `group<TAB>id<TAB>key<TAB>value` lines (a later line for the same key wins).
pub fn record_extra(group: &str, id: &str, key: &str, value: f64) {
    if !measuring() {
        return;
    }
    append_to_criterion_dir("lab-extra.tsv", &format!("{group}\t{id}\t{key}\t{value}\n"));
}

/// Appends `text` to `file` in criterion's output directory (created if missing).
fn append_to_criterion_dir(file: &str, text: &str) {
    use std::io::Write;
    let path = criterion_dir().join(file);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {file}: {e}"));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {file}: {e}"));
}

/// Criterion's output directory, found as criterion finds it (`CRITERION_HOME`, then
/// `CARGO_TARGET_DIR/criterion`, then `target/criterion` under the package root).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("criterion")
    }
}

/// Collects the CPU share of every sample of one bench id and records its min and median.
#[derive(Debug, Default)]
pub struct Shares(Vec<f64>);

impl Shares {
    /// Adds one run's CPU share; runs shorter than a millisecond (criterion's first warm-up
    /// calls) are dominated by thread start-up and are skipped.
    pub fn push<R>(&mut self, run: &Run<R>) {
        if run.wall >= Duration::from_millis(1) {
            self.0.push(run.cpu_share);
        }
    }

    /// Records `cpu_share_min` and `cpu_share_median` for `group`/`id`, then clears.
    pub fn record(&mut self, group: &str, id: &str) {
        if self.0.is_empty() {
            return;
        }
        self.0.sort_by(f64::total_cmp);
        record_extra(group, id, "cpu_share_min", self.0[0]);
        record_extra(group, id, "cpu_share_median", self.0[self.0.len() / 2]);
        self.0.clear();
    }
}

/// One candidate of [`paired`]: its bench id and a run of `n` iterations returning the time.
pub type Candidate<'a> = (&'a str, Box<dyn FnMut(u64) -> Duration + 'a>);

/// The interleaved (paired) measurement behind the report's target ratios. On this VM a
/// cross-core figure can flip between modes from one bench id to the next, so a ratio of two
/// criterion medians measured seconds apart may compare two different machines. Here the
/// candidates run in alternation, ~20 ms each, for 30 rounds (5 in quick mode), rotating which
/// goes first; the report takes the ratio within each round and gives the median over rounds.
/// Writes `group<TAB>id<TAB>round<TAB>ns per iteration` lines to `<criterion dir>/lab-paired.tsv`;
/// does nothing unless measuring.
pub fn paired(group: &str, mut candidates: Vec<Candidate<'_>>) {
    if !measuring() || candidates.is_empty() {
        return;
    }
    let rounds = if quick() { 5 } else { 30 };
    let per_run = Duration::from_millis(20);
    let iters: Vec<u64> = candidates
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 64u64;
            loop {
                let t = run(n);
                if t >= Duration::from_millis(2) {
                    break ((n as f64) * per_run.as_secs_f64() / t.as_secs_f64()).max(1.0) as u64;
                }
                n *= 4;
            }
        })
        .collect();
    let mut lines = String::new();
    let k = candidates.len();
    for round in 0..rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let (id, run) = &mut candidates[i];
            let t = run(iters[i]);
            lines.push_str(&format!(
                "{group}\t{id}\t{round}\t{}\n",
                t.as_nanos() as f64 / iters[i] as f64
            ));
        }
    }
    append_to_criterion_dir("lab-paired.tsv", &lines);
    println!("{group}: paired measurement, {rounds} rounds of {k} candidates");
}

/// How a comparison's ratio reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sense {
    /// `a / b` of times: "a takes N× as long as b" (a penalty, a latency ratio).
    TimeRatio,
    /// `b / a` of times: "a does N× the work of b per second" (a throughput ratio).
    SpeedRatio,
}

impl Sense {
    /// The ratio of `a` to `b` given their times.
    pub fn ratio(self, a: f64, b: f64) -> f64 {
        match self {
            Sense::TimeRatio => a / b,
            Sense::SpeedRatio => b / a,
        }
    }

    /// The unit after a ratio in the report's ratio table.
    pub fn unit(self) -> &'static str {
        match self {
            Sense::TimeRatio => "× the time",
            Sense::SpeedRatio => "× the throughput",
        }
    }

    const fn key(self) -> &'static str {
        match self {
            Sense::TimeRatio => "time",
            Sense::SpeedRatio => "speed",
        }
    }
}

/// Which side of a target's bound is met.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// Met when the figure is `<=` the bound.
    AtMost,
    /// Met when the figure is `>=` the bound.
    AtLeast,
}

impl Bound {
    const fn key(self) -> &'static str {
        match self {
            Bound::AtMost => "<=",
            Bound::AtLeast => ">=",
        }
    }
}

/// A bound a figure must respect, with the target's words as the issue states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target<S> {
    pub bound: Bound,
    pub value: f64,
    pub words: S,
}

impl<S> Target<S> {
    /// Whether `figure` meets the target.
    pub fn met(&self, figure: f64) -> bool {
        match self.bound {
            Bound::AtMost => figure <= self.value,
            Bound::AtLeast => figure >= self.value,
        }
    }
}

/// One thing the report says about a bench's results. Each bench file declares its own in a
/// `const COMPARISONS: &[Comparison]` next to its benches and passes it to [`criterion`]; when
/// measuring, the list goes to `<criterion dir>/`[`COMPARISONS_DIR`]`/<bench>.tsv` (one line each,
/// replacing that bench's previous list), which `benches/report.rs` reads. `S` is `&'static str`
/// in the benches and `String` once the report has read a line back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Comparison<S = &'static str> {
    /// The ratio of the medians of `group`/`a` and `group`/`b` (and of their mins, and the paired
    /// ratio when the bench measured the two in alternation). With a target it goes to the
    /// report's targets table with a met/missed verdict, otherwise to the ratios table.
    Ratio {
        label: S,
        group: S,
        a: S,
        b: S,
        sense: Sense,
        target: Option<Target<S>>,
    },
    /// A target on `group`/`id`'s absolute throughput, in items per second (the bench's declared
    /// elements per iteration over its median time).
    Rate { group: S, id: S, target: Target<S> },
    /// A sentence for the notes under the targets table.
    Note { text: S },
}

impl Comparison {
    /// A ratio row: `label`, then `a` vs `b` in `group`.
    pub const fn ratio(
        label: &'static str,
        group: &'static str,
        a: &'static str,
        b: &'static str,
        sense: Sense,
    ) -> Self {
        Comparison::Ratio {
            label,
            group,
            a,
            b,
            sense,
            target: None,
        }
    }

    /// Makes a ratio row a target: met when the ratio is at most `value`.
    pub const fn at_most(self, value: f64, words: &'static str) -> Self {
        self.with_target(Bound::AtMost, value, words)
    }

    /// Makes a ratio row a target: met when the ratio is at least `value`.
    pub const fn at_least(self, value: f64, words: &'static str) -> Self {
        self.with_target(Bound::AtLeast, value, words)
    }

    const fn with_target(self, bound: Bound, value: f64, words: &'static str) -> Self {
        match self {
            Comparison::Ratio {
                label,
                group,
                a,
                b,
                sense,
                ..
            } => Comparison::Ratio {
                label,
                group,
                a,
                b,
                sense,
                target: Some(Target { bound, value, words }),
            },
            _ => panic!("only a ratio takes a target this way"),
        }
    }

    /// A target on `group`/`id`'s throughput: at least `per_second` items per second.
    pub const fn rate_at_least(group: &'static str, id: &'static str, per_second: f64, words: &'static str) -> Self {
        Comparison::Rate {
            group,
            id,
            target: Target {
                bound: Bound::AtLeast,
                value: per_second,
                words,
            },
        }
    }

    /// A sentence for the report's notes.
    pub const fn note(text: &'static str) -> Self {
        Comparison::Note { text }
    }
}

impl<S: AsRef<str>> Comparison<S> {
    /// The side file's line: tab-separated, the kind first.
    pub fn to_line(&self) -> String {
        let target = |t: &Target<S>| {
            [
                t.bound.key().to_string(),
                t.value.to_string(),
                t.words.as_ref().to_string(),
            ]
        };
        let f: Vec<String> = match self {
            Comparison::Ratio {
                label,
                group,
                a,
                b,
                sense,
                target: t,
            } => {
                let mut f = vec![
                    "ratio".to_string(),
                    group.as_ref().to_string(),
                    a.as_ref().to_string(),
                    b.as_ref().to_string(),
                    sense.key().to_string(),
                    label.as_ref().to_string(),
                ];
                f.extend(t.iter().flat_map(target));
                f
            }
            Comparison::Rate { group, id, target: t } => {
                let mut f = vec!["rate".to_string(), group.as_ref().to_string(), id.as_ref().to_string()];
                f.extend(target(t));
                f
            }
            Comparison::Note { text } => vec!["note".to_string(), text.as_ref().to_string()],
        };
        f.join("\t")
    }
}

impl Comparison<String> {
    /// Reads back a line of [`Comparison::to_line`]; `None` if it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split('\t').collect();
        let s = |i: usize| f[i].to_string();
        let target = |at: usize| -> Option<Target<String>> {
            let bound = match f[at] {
                "<=" => Bound::AtMost,
                ">=" => Bound::AtLeast,
                _ => return None,
            };
            Some(Target {
                bound,
                value: f[at + 1].parse().ok()?,
                words: s(at + 2),
            })
        };
        match (f[0], f.len()) {
            ("ratio", 6 | 9) => Some(Comparison::Ratio {
                label: s(5),
                group: s(1),
                a: s(2),
                b: s(3),
                sense: match f[4] {
                    "time" => Sense::TimeRatio,
                    "speed" => Sense::SpeedRatio,
                    _ => return None,
                },
                target: if f.len() == 9 { Some(target(6)?) } else { None },
            }),
            ("rate", 6) => Some(Comparison::Rate {
                group: s(1),
                id: s(2),
                target: target(3)?,
            }),
            ("note", 2) => Some(Comparison::Note { text: s(1) }),
            _ => None,
        }
    }
}

/// The directory under criterion's where each bench writes its comparisons, as `<bench>.tsv`.
pub const COMPARISONS_DIR: &str = "lab-comparisons";

/// Checks `comparisons` (every field non-empty and free of tabs and line breaks, a ratio's two
/// ids different, a bound positive, each line read back as written) and, when measuring, writes
/// them for the report as this bench's list.
fn declare(comparisons: &[Comparison]) {
    let mut text = String::new();
    for c in comparisons {
        let line = c.to_line();
        let fields: Vec<&str> = line.split('\t').collect();
        assert!(
            fields.iter().all(|f| !f.is_empty() && !f.contains(['\n', '\r'])),
            "a comparison has an empty field or a line break: {c:?}"
        );
        if let Comparison::Ratio { a, b, .. } = c {
            assert_ne!(a, b, "a comparison of an id with itself: {c:?}");
        }
        if let Comparison::Ratio { target: Some(t), .. } | Comparison::Rate { target: t, .. } = c {
            assert!(
                t.value.is_finite() && t.value > 0.0,
                "a target's bound must be positive: {c:?}"
            );
        }
        assert_eq!(
            Comparison::parse(&line).map(|p| p.to_line()).as_deref(),
            Some(line.as_str()),
            "a comparison the report would not read back (a tab in a field?): {c:?}"
        );
        text.push_str(&line);
        text.push('\n');
    }
    if !measuring() {
        return;
    }
    // A bench target's crate name is its name with `-` as `_`.
    let path = criterion_dir()
        .join(COMPARISONS_DIR)
        .join(concat!(env!("CARGO_CRATE_NAME"), ".tsv"));
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
