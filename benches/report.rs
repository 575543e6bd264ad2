//! Not a benchmark: the table writer behind `scripts/bench-report`.
//!
//! Reads criterion's results (`<criterion dir>/**/new/{benchmark,sample}.json`), the benches'
//! side files (`lab-extra.tsv`, `lab-paired.tsv`) and their comparisons
//! (`lab-comparisons/<bench>.tsv`), and writes a markdown report: the project's targets marked
//! met or missed, the comparisons as ratios of medians, and every bench id found in the results
//! with the min, median and max of its samples' time per iteration.
//!
//! Nothing here names a bench. The design, so that adding a bench + its comparisons is a change
//! to ONE place, the bench's own file:
//! - each `benches/<bench>.rs` declares `const COMPARISONS: &[Comparison]` next to its benches
//!   (ratios of two ids' medians, optionally a target with its bound and words; throughput
//!   targets; notes) and passes it to `common::criterion(COMPARISONS)`, which checks it (also
//!   under `cargo test --benches`) and, when measuring, writes it to
//!   `<criterion dir>/lab-comparisons/<bench>.tsv` (`common::Comparison::to_line`), replacing that
//!   bench's previous list;
//! - `scripts/bench-report` finds the benches in Cargo.toml (every `[[bench]]` but this one) and
//!   passes their names, in Cargo.toml's order, as `REPORT_BENCHES`;
//! - this writer reads each bench's list (`Comparison::parse`) in that order, prints its rows,
//!   and prints every criterion group/id it finds. A target whose ids have no results from this
//!   run says "not run"; a ratio row without results is left out.
//!
//! The lists live in the criterion directory (not in the source tree) so the report describes the
//! benches as they were when they ran; they persist across runs, so a partial run still lists
//! the other benches' targets as not run.
//!
//! Environment (set by the script): `REPORT_OUT` (required, the markdown file), `REPORT_META` (a
//! file of `- key: value` lines for the header), `REPORT_SINCE` (unix seconds: ignore results
//! older than this run), `REPORT_BENCHES` (the benches whose comparisons to print, in order;
//! default: every list found, by name). Without `REPORT_OUT` (plain `cargo bench`,
//! `cargo test --benches`) it only prints how to use it.
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::{Comparison, Sense};
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
        .filter_map(|(r, &x)| rb.get(r).map(|&y| sense.ratio(x, y)))
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

/// A bench's comparisons, in the order it declared them.
type Declared = Vec<Comparison<String>>;

/// Every bench's comparisons, in report order: the benches named in `REPORT_BENCHES` (the script
/// passes every `[[bench]]` of Cargo.toml, in its order) or, without it, every list found, by
/// name. A bench whose list is missing (never measured here) contributes nothing.
fn load_comparisons(dir: &Path) -> Vec<(String, Declared)> {
    let dir = dir.join(common::COMPARISONS_DIR);
    let names: Vec<String> = match std::env::var("REPORT_BENCHES") {
        Ok(list) => list.split_whitespace().map(String::from).collect(),
        Err(_) => {
            let mut v: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| Some(e.path().file_name()?.to_str()?.strip_suffix(".tsv")?.to_string()))
                .collect();
            v.sort();
            v
        }
    };
    let mut out = Vec::new();
    for name in names {
        // The file is named after the bench's crate name: `-` becomes `_`.
        let path = dir.join(format!("{}.tsv", name.replace('-', "_")));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut list = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            match Comparison::parse(line) {
                Some(c) => list.push(c),
                None => eprintln!("report: {}: skipping an unreadable line: {line:?}", path.display()),
            }
        }
        out.push((name, list));
    }
    out
}

fn report(
    benches: &BTreeMap<Key, Bench>,
    extra: &BTreeMap<Key, BTreeMap<String, f64>>,
    paired: &Paired,
    declared: &[(String, Declared)],
    meta: &str,
) -> String {
    let all = || declared.iter().flat_map(|(_, list)| list);
    let get = |group: &str, id: &str| benches.get(&(group.to_string(), id.to_string()));
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
    for c in all() {
        let Comparison::Ratio {
            label,
            group,
            a,
            b,
            sense,
            target: Some(t),
        } = c
        else {
            continue;
        };
        let words = &t.words;
        let pr = paired_ratio(paired, group, a, b, *sense);
        match (get(group, a), get(group, b)) {
            (Some(a), Some(b)) => {
                let r = sense.ratio(a.median(), b.median());
                let best = sense.ratio(a.min(), b.min());
                let decisive = pr.map_or(r, |p| p.0);
                let _ = writeln!(
                    w,
                    "| {label} ({words}) | {} | {r:.2}× | {best:.2}× | {} |",
                    fmt_paired(pr),
                    if t.met(decisive) { "**met**" } else { "**missed**" }
                );
            }
            _ => {
                let _ = writeln!(w, "| {label} ({words}) | — | — | — | not run |");
            }
        }
    }
    for c in all() {
        let Comparison::Rate { group, id, target: t } = c else {
            continue;
        };
        let words = &t.words;
        match get(group, id) {
            Some(b) => {
                let per_item = b.elements.unwrap_or(1.0);
                let rate = per_item / (b.median() * 1e-9);
                let best = per_item / (b.min() * 1e-9);
                let verdict = if t.met(rate) { "**met**" } else { "**missed**" };
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

    let mut notes: Vec<&str> = all()
        .filter_map(|c| match c {
            Comparison::Note { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    notes.push(
        "Cross-core figures on a VM can be bimodal between samples and runs (plausibly the hypervisor \
         moving the two vCPUs between physical cores; not verified): prefer the paired ratios, then the \
         min columns.",
    );
    let _ = writeln!(w, "\nNotes: {}", notes.join(" "));

    let _ = writeln!(w, "\n## Ratios\n");
    let _ = writeln!(
        w,
        "| comparison | group | ratio (criterion medians) | criterion mins | paired ratio |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
    for c in all() {
        let Comparison::Ratio {
            label,
            group,
            a,
            b,
            sense,
            target: None,
        } = c
        else {
            continue;
        };
        if let (Some(x), Some(y)) = (get(group, a), get(group, b)) {
            let _ = writeln!(
                w,
                "| {label} | `{group}` | {:.2}{} | {:.2}× | {} |",
                sense.ratio(x.median(), y.median()),
                sense.unit(),
                sense.ratio(x.min(), y.min()),
                fmt_paired(paired_ratio(paired, group, a, b, *sense))
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

/// A declared id missing from a group that has results is most likely a typo in the bench's
/// `COMPARISONS`: say so (the report itself shows the row as not run, or leaves it out).
fn warn_unknown_ids(benches: &BTreeMap<Key, Bench>, declared: &[(String, Declared)]) {
    for (bench, list) in declared {
        for c in list {
            let (group, ids) = match c {
                Comparison::Ratio { group, a, b, .. } => (group, vec![a, b]),
                Comparison::Rate { group, id, .. } => (group, vec![id]),
                Comparison::Note { .. } => continue,
            };
            let group_ran = benches.keys().any(|(g, _)| g == group);
            for id in ids {
                if group_ran && !benches.contains_key(&(group.clone(), id.clone())) {
                    eprintln!("report: {bench}: a comparison names `{group}` `{id}`, which has no results");
                }
            }
        }
    }
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
    let declared = load_comparisons(&dir);
    warn_unknown_ids(&benches, &declared);
    let text = report(&benches, &extra, &paired, &declared, &meta);
    std::fs::write(&out, &text).expect("write the report");
    println!("{text}");
    eprintln!(
        "report: {} benches from {} -> {}",
        benches.len(),
        dir.display(),
        PathBuf::from(out).display()
    );
}
