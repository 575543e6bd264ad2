//! Not a benchmark: the table writer behind `scripts/bench-report`.
//!
//! Reads criterion's results (`<criterion dir>/**/new/{benchmark,sample}.json`) and the benches'
//! side file (`lab-extra.tsv`), and writes a markdown report: every bench id with the min, median
//! and max of its samples' time per iteration, the comparisons that matter as ratios of medians,
//! and the project's targets marked met or missed.
//!
//! Environment (set by the script): `REPORT_OUT` (required, the markdown file), `REPORT_META` (a
//! file of `- key: value` lines for the header), `REPORT_SINCE` (unix seconds: ignore results
//! older than this run). Without `REPORT_OUT` (plain `cargo bench`, `cargo test --benches`) it
//! only prints how to use it.
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

/// One criterion benchmark: its samples' time per iteration, in nanoseconds, sorted.
#[derive(Debug)]
struct Bench {
    /// Elements per iteration when the bench declared a throughput.
    elements: Option<f64>,
    /// Per-sample time per iteration (ns), ascending.
    per_iter: Vec<f64>,
}

impl Bench {
    fn min(&self) -> f64 {
        self.per_iter[0]
    }
    fn median(&self) -> f64 {
        let v = &self.per_iter;
        if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        }
    }
    fn max(&self) -> f64 {
        self.per_iter[self.per_iter.len() - 1]
    }
}

type Key = (String, String); // (group, id)

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn find_new_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") && p.join("benchmark.json").exists() {
                out.push(p);
            } else {
                find_new_dirs(&p, out);
            }
        }
    }
}

fn load(dir: &Path, since: Option<u64>) -> BTreeMap<Key, Bench> {
    let mut dirs = Vec::new();
    find_new_dirs(dir, &mut dirs);
    let mut out = BTreeMap::new();
    for d in dirs {
        let sample_path = d.join("sample.json");
        if let Some(since) = since {
            let modified = std::fs::metadata(&sample_path)
                .and_then(|m| m.modified())
                .map(|t| t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs())
                .unwrap_or(0);
            if modified < since {
                continue;
            }
        }
        let (Some(meta), Some(sample)) = (read_json(&d.join("benchmark.json")), read_json(&sample_path)) else {
            continue;
        };
        let group = meta["group_id"].as_str().unwrap_or_default().to_string();
        let id = meta["function_id"].as_str().unwrap_or_default().to_string();
        let elements = meta["throughput"]["Elements"].as_f64();
        let nums = |k: &str| -> Vec<f64> {
            sample[k]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        let (iters, times) = (nums("iters"), nums("times"));
        let mut per_iter: Vec<f64> = iters.iter().zip(&times).map(|(i, t)| t / i).collect();
        if per_iter.is_empty() {
            continue;
        }
        per_iter.sort_by(f64::total_cmp);
        out.insert((group, id), Bench { elements, per_iter });
    }
    out
}

/// `group -> id -> key -> value` from `lab-extra.tsv` (the last line for a key wins).
fn load_extra(path: &Path) -> BTreeMap<Key, BTreeMap<String, f64>> {
    let mut out: BTreeMap<Key, BTreeMap<String, f64>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let [group, id, key, value] = f[..] {
            if let Ok(v) = value.parse() {
                out.entry((group.into(), id.into())).or_default().insert(key.into(), v);
            }
        }
    }
    out
}

/// `(group, id) -> round -> ns per iteration` from `lab-paired.tsv` (see `common::paired`).
type Paired = BTreeMap<Key, BTreeMap<u32, f64>>;

fn load_paired(path: &Path) -> Paired {
    let mut out: Paired = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let [group, id, round, ns] = f[..] {
            if let (Ok(round), Ok(ns)) = (round.parse(), ns.parse()) {
                out.entry((group.into(), id.into())).or_default().insert(round, ns);
            }
        }
    }
    out
}

/// The within-round ratios of `a` to `b`: (median, min, max, rounds).
fn paired_ratio(p: &Paired, group: &str, a: &str, b: &str, sense: Sense) -> Option<(f64, f64, f64, usize)> {
    let ra = p.get(&(group.to_string(), a.to_string()))?;
    let rb = p.get(&(group.to_string(), b.to_string()))?;
    let mut v: Vec<f64> = ra
        .iter()
        .filter_map(|(r, &x)| rb.get(r).map(|&y| ratio(sense, x, y)))
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1], n))
}

fn fmt_paired(x: Option<(f64, f64, f64, usize)>) -> String {
    x.map_or("—".to_string(), |(m, lo, hi, n)| {
        format!("{m:.2}× [{lo:.2}–{hi:.2}], {n} rounds")
    })
}

fn fmt_time(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 100.0 {
        format!("{ns:.1} ns")
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn fmt_rate(per_s: f64) -> String {
    if per_s >= 1e9 {
        format!("{:.2} G/s", per_s / 1e9)
    } else if per_s >= 1e6 {
        format!("{:.1} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}

/// How a comparison reads.
#[derive(Clone, Copy)]
enum Sense {
    /// `a / b` of times: "a takes N× as long as b" (a penalty, a latency ratio).
    TimeRatio,
    /// `b / a` of times: "a does N× the work of b per second" (a throughput ratio).
    SpeedRatio,
}

/// A comparison of two ids, optionally a target.
struct Cmp {
    label: &'static str,
    group: &'static str,
    a: &'static str,
    b: &'static str,
    sense: Sense,
    /// (`<=` or `>=`, bound, the target as the issue states it)
    target: Option<(&'static str, f64, &'static str)>,
}

const fn cmp(label: &'static str, group: &'static str, a: &'static str, b: &'static str, sense: Sense) -> Cmp {
    Cmp {
        label,
        group,
        a,
        b,
        sense,
        target: None,
    }
}

const fn target(
    label: &'static str,
    group: &'static str,
    a: &'static str,
    b: &'static str,
    sense: Sense,
    t: (&'static str, f64, &'static str),
) -> Cmp {
    Cmp {
        label,
        group,
        a,
        b,
        sense,
        target: Some(t),
    }
}

use Sense::{SpeedRatio, TimeRatio};

/// The comparisons, in report order. Ids that were not run are reported as such.
fn comparisons() -> Vec<Cmp> {
    let mut v = vec![
        cmp(
            "false sharing, fetch_add: same line / padded (2 cores)",
            "false_sharing/fetch_add",
            "broken",
            "fixed",
            TimeRatio,
        ),
        cmp(
            "false sharing, fetch_add: same line / padded, both on one core (control)",
            "false_sharing/fetch_add",
            "broken-same-core",
            "fixed-same-core",
            TimeRatio,
        ),
        cmp(
            "false sharing, fetch_add: padded (2 cores) / one thread",
            "false_sharing/fetch_add",
            "fixed",
            "baseline-one-thread",
            TimeRatio,
        ),
        cmp(
            "false sharing, load+store: same line / padded (2 cores)",
            "false_sharing/load_store",
            "broken",
            "fixed",
            TimeRatio,
        ),
        cmp(
            "false sharing, load+store: same line / padded, both on one core (control)",
            "false_sharing/load_store",
            "broken-same-core",
            "fixed-same-core",
            TimeRatio,
        ),
        cmp(
            "false sharing, load+store: padded (2 cores) / one thread",
            "false_sharing/load_store",
            "fixed",
            "baseline-one-thread",
            TimeRatio,
        ),
    ];
    for g in ["counter/1-thread", "counter/2-threads"] {
        v.push(cmp(
            "counter: CAS loop / fetch_add",
            g,
            "fixed-increment_cas",
            "fixed-increment",
            TimeRatio,
        ));
        v.push(cmp(
            "counter: Mutex / fetch_add",
            g,
            "baseline-std-mutex",
            "fixed-increment",
            TimeRatio,
        ));
    }
    v.extend([
        target(
            "SPSC round trip / rtrb",
            "spsc/round-trip",
            "fixed",
            "baseline-rtrb",
            TimeRatio,
            ("<=", 1.0, "≤ 1.0× rtrb"),
        ),
        target(
            "SPSC round trip / raw cache-line ping-pong",
            "spsc/round-trip",
            "fixed",
            "baseline-raw-pingpong",
            TimeRatio,
            ("<=", 1.1, "≤ 1.1× the raw ping-pong floor"),
        ),
        cmp(
            "SPSC round trip / crossbeam ArrayQueue",
            "spsc/round-trip",
            "fixed",
            "baseline-crossbeam-arrayqueue",
            TimeRatio,
        ),
        cmp(
            "SPSC round trip / std sync_channel",
            "spsc/round-trip",
            "fixed",
            "baseline-std-sync_channel",
            TimeRatio,
        ),
        cmp(
            "SPSC throughput, capacity 2: fixed vs rtrb",
            "spsc/throughput-cap2",
            "fixed",
            "baseline-rtrb",
            SpeedRatio,
        ),
        cmp(
            "SPSC throughput, capacity 64: fixed vs rtrb",
            "spsc/throughput-cap64",
            "fixed",
            "baseline-rtrb",
            SpeedRatio,
        ),
        target(
            "SPSC throughput, capacity 4096: fixed vs rtrb",
            "spsc/throughput-cap4096",
            "fixed",
            "baseline-rtrb",
            SpeedRatio,
            (">=", 1.3, "≥ 1.3× rtrb"),
        ),
        cmp(
            "SPSC throughput, capacity 4096: fixed vs crossbeam ArrayQueue",
            "spsc/throughput-cap4096",
            "fixed",
            "baseline-crossbeam-arrayqueue",
            SpeedRatio,
        ),
        cmp(
            "SPSC throughput, capacity 4096: fixed vs std sync_channel",
            "spsc/throughput-cap4096",
            "fixed",
            "baseline-std-sync_channel",
            SpeedRatio,
        ),
        cmp(
            "SPSC batches of 16: fixed vs rtrb chunks",
            "spsc/batch-16",
            "fixed",
            "baseline-rtrb",
            SpeedRatio,
        ),
        cmp(
            "SPSC batches of 256: fixed vs rtrb chunks",
            "spsc/batch-256",
            "fixed",
            "baseline-rtrb",
            SpeedRatio,
        ),
        target(
            "MPMC 1P1C: fixed vs crossbeam ArrayQueue",
            "mpmc/1p1c",
            "fixed",
            "baseline-crossbeam-arrayqueue",
            SpeedRatio,
            (">=", 1.5, "≥ 1.5× ArrayQueue"),
        ),
        cmp(
            "MPMC 1P1C: fixed vs Mutex<VecDeque>",
            "mpmc/1p1c",
            "fixed",
            "baseline-std-mutex-vecdeque",
            SpeedRatio,
        ),
        target(
            "MPMC 2P2C: fixed vs crossbeam ArrayQueue",
            "mpmc/2p2c",
            "fixed",
            "baseline-crossbeam-arrayqueue",
            SpeedRatio,
            (">=", 1.0, "≥ 1.0× ArrayQueue"),
        ),
        cmp(
            "MPMC 2P2C: fixed vs Mutex<VecDeque>",
            "mpmc/2p2c",
            "fixed",
            "baseline-std-mutex-vecdeque",
            SpeedRatio,
        ),
        target(
            "stack push+pop, 1 thread: tagged vs crossbeam-epoch stack",
            "stack/push-pop-1-thread",
            "fixed",
            "baseline-crossbeam-epoch",
            SpeedRatio,
            (">=", 3.0, "≥ 3× the crossbeam-epoch stack"),
        ),
        cmp(
            "stack push+pop, 1 thread: tagged vs Mutex<Vec>",
            "stack/push-pop-1-thread",
            "fixed",
            "baseline-std-mutex-vec",
            SpeedRatio,
        ),
        target(
            "stack push+pop, 2 threads: tagged vs crossbeam-epoch stack",
            "stack/push-pop-2-threads",
            "fixed",
            "baseline-crossbeam-epoch",
            SpeedRatio,
            (">=", 3.0, "≥ 3× the crossbeam-epoch stack"),
        ),
        cmp(
            "stack push+pop, 2 threads: tagged vs Mutex<Vec>",
            "stack/push-pop-2-threads",
            "fixed",
            "baseline-std-mutex-vec",
            SpeedRatio,
        ),
        cmp(
            "reclaim, read side: RCU / crossbeam-epoch pin",
            "reclaim/read",
            "fixed",
            "baseline-crossbeam-epoch",
            TimeRatio,
        ),
        cmp(
            "reclaim, read side: RCU / arc-swap load",
            "reclaim/read",
            "fixed",
            "baseline-arc-swap",
            TimeRatio,
        ),
        cmp(
            "reclaim, read while a writer updates: RCU / crossbeam-epoch",
            "reclaim/read-while-updating",
            "fixed",
            "baseline-crossbeam-epoch",
            TimeRatio,
        ),
        cmp(
            "reclaim, read while a writer updates: RCU / arc-swap",
            "reclaim/read-while-updating",
            "fixed",
            "baseline-arc-swap",
            TimeRatio,
        ),
        cmp(
            "reclaim, update + grace period with a reader: RCU / crossbeam-epoch",
            "reclaim/grace-period",
            "fixed",
            "baseline-crossbeam-epoch",
            TimeRatio,
        ),
        cmp(
            "reclaim, update + grace period with a reader: RCU / arc-swap",
            "reclaim/grace-period",
            "fixed",
            "baseline-arc-swap",
            TimeRatio,
        ),
        cmp(
            "reclaim, update with no reader: RCU / crossbeam-epoch",
            "reclaim/grace-period-idle",
            "fixed",
            "baseline-crossbeam-epoch",
            TimeRatio,
        ),
        cmp(
            "reclaim, update with no reader: RCU / arc-swap",
            "reclaim/grace-period-idle",
            "fixed",
            "baseline-arc-swap",
            TimeRatio,
        ),
    ]);
    v
}

fn ratio(sense: Sense, a: f64, b: f64) -> f64 {
    match sense {
        TimeRatio => a / b,
        SpeedRatio => b / a,
    }
}

/// A target on a bench's absolute throughput: (group, id, minimum items/s, the target's words).
const RATE_TARGETS: &[(&str, &str, f64, &str)] = &[("spsc/batch-256", "fixed", 1e9, "batches of 256 ≥ 1 G items/s")];

fn report(
    benches: &BTreeMap<Key, Bench>,
    extra: &BTreeMap<Key, BTreeMap<String, f64>>,
    paired: &Paired,
    meta: &str,
) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# lockfree-lab benchmark report\n");
    let _ = writeln!(w, "{}", meta.trim_end());
    let _ = writeln!(
        w,
        "\nTimes are per iteration as each bench defines it (its doc says: per op, per item, per round \
         trip), over criterion's samples: **min / median / max** of the samples, not a mean. Ratios use \
         medians; the bracket gives the ratio of the best samples (mins), which matters when a \
         measurement is bimodal. `CPU share` is the threads' median CPU time over the timed wall time \
         (1.00: every thread on a core the whole time; about 0.5 when two threads time-shared a core).\n"
    );

    // Targets first: the question a reader asks.
    let _ = writeln!(w, "## Targets\n");
    let _ = writeln!(
        w,
        "The verdict uses the **paired** ratio when there is one: the candidates run in alternation, \
         ~20 ms each, and the ratio is taken within each round (median [min–max] over rounds), so both \
         sides of a ratio saw the same machine state. The criterion columns compare medians (and \
         mins) of runs made seconds apart.\n"
    );
    let _ = writeln!(
        w,
        "| target | paired ratio | criterion medians | criterion mins | verdict |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
    for c in comparisons().iter().filter(|c| c.target.is_some()) {
        let (op, bound, words) = c.target.expect("filtered");
        let got = |id: &str| benches.get(&(c.group.to_string(), id.to_string()));
        let pr = paired_ratio(paired, c.group, c.a, c.b, c.sense);
        match (got(c.a), got(c.b)) {
            (Some(a), Some(b)) => {
                let r = ratio(c.sense, a.median(), b.median());
                let best = ratio(c.sense, a.min(), b.min());
                let decisive = pr.map_or(r, |p| p.0);
                let met = if op == "<=" {
                    decisive <= bound
                } else {
                    decisive >= bound
                };
                let _ = writeln!(
                    w,
                    "| {} ({words}) | {} | {r:.2}× | {best:.2}× | {} |",
                    c.label,
                    fmt_paired(pr),
                    if met { "**met**" } else { "**missed**" }
                );
            }
            _ => {
                let _ = writeln!(w, "| {} ({words}) | — | — | — | not run |", c.label);
            }
        }
    }
    for (group, id, min_rate, words) in RATE_TARGETS {
        match benches.get(&(group.to_string(), id.to_string())) {
            Some(b) => {
                let per_item = b.elements.unwrap_or(1.0);
                let rate = per_item / (b.median() * 1e-9);
                let best = per_item / (b.min() * 1e-9);
                let verdict = if rate >= *min_rate { "**met**" } else { "**missed**" };
                let paired_rate = paired
                    .get(&(group.to_string(), id.to_string()))
                    .map(|r| {
                        let mut v: Vec<f64> = r.values().copied().collect();
                        v.sort_by(f64::total_cmp);
                        fmt_rate(per_item / (v[v.len() / 2] * 1e-9)) + " (median round)"
                    })
                    .unwrap_or_else(|| "—".to_string());
                let _ = writeln!(
                    w,
                    "| {group} {id} ({words}) | {paired_rate} | {} | {} | {verdict} |",
                    fmt_rate(rate),
                    fmt_rate(best)
                );
            }
            None => {
                let _ = writeln!(w, "| {group} {id} ({words}) | — | — | — | not run |");
            }
        }
    }

    let _ = writeln!(
        w,
        "\nNotes: `mpmc/2p2c` runs **four threads on two cores** (one producer and one consumer \
         pinned to each), so it measures the queues under time-sharing as much as under contention; \
         its CPU share is about 0.5 by construction. The `*-same-core` false-sharing controls pin both \
         threads to one core and report wall time / both threads' ops (CPU share 0.5 by construction). \
         Cross-core figures on a VM can be \
         bimodal between samples and runs (plausibly the hypervisor moving the two vCPUs between \
         physical cores; not verified): prefer the paired ratios, then the min columns."
    );

    let _ = writeln!(w, "\n## Ratios\n");
    let _ = writeln!(
        w,
        "| comparison | group | ratio (criterion medians) | criterion mins | paired ratio |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
    for c in comparisons().iter().filter(|c| c.target.is_none()) {
        let got = |id: &str| benches.get(&(c.group.to_string(), id.to_string()));
        if let (Some(a), Some(b)) = (got(c.a), got(c.b)) {
            let what = match c.sense {
                TimeRatio => "× the time",
                SpeedRatio => "× the throughput",
            };
            let _ = writeln!(
                w,
                "| {} | `{}` | {:.2}{what} | {:.2}× | {} |",
                c.label,
                c.group,
                ratio(c.sense, a.median(), b.median()),
                ratio(c.sense, a.min(), b.min()),
                fmt_paired(paired_ratio(paired, c.group, c.a, c.b, c.sense))
            );
        }
    }

    let _ = writeln!(w, "\n## Every bench\n");
    let _ = writeln!(
        w,
        "| group | id | min | median | max | throughput (median) | CPU share | notes |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|");
    for ((group, id), b) in benches {
        let x = extra.get(&(group.clone(), id.clone()));
        let share = x
            .and_then(|x| x.get("cpu_share_median"))
            .map_or("—".to_string(), |v| format!("{v:.2}"));
        let notes: Vec<String> = x
            .into_iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with("cpu_share"))
            .map(|(k, v)| format!("{}: {v:.4}", k.replace('_', " ")))
            .collect();
        let rate = b
            .elements
            .map_or("—".to_string(), |e| fmt_rate(e / (b.median() * 1e-9)));
        let _ = writeln!(
            w,
            "| `{group}` | `{id}` | {} | {} | {} | {rate} | {share} | {} |",
            fmt_time(b.min()),
            fmt_time(b.median()),
            fmt_time(b.max()),
            notes.join("; ")
        );
    }
    s
}

fn main() {
    let Some(out) = std::env::var_os("REPORT_OUT") else {
        if common::measuring() {
            println!("report: set REPORT_OUT (scripts/bench-report does) to write the markdown report");
        }
        return;
    };
    let dir = common::criterion_dir();
    let since = std::env::var("REPORT_SINCE").ok().and_then(|s| s.parse().ok());
    let benches = load(&dir, since);
    let extra = load_extra(&dir.join("lab-extra.tsv"));
    let meta = std::env::var_os("REPORT_META")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let paired = load_paired(&dir.join("lab-paired.tsv"));
    let text = report(&benches, &extra, &paired, &meta);
    std::fs::write(&out, &text).expect("write the report");
    println!("{text}");
    eprintln!(
        "report: {} benches from {} -> {}",
        benches.len(),
        dir.display(),
        PathBuf::from(out).display()
    );
}
