//! The house style, enforced in the normal test run (see CONTRIBUTING.md):
//! 1. every atomic operation in `src/` (outside `src/sync/`) has an `ORDERING:` comment above it;
//! 2. each broken/fixed pair differs only on lines marked `BUG:` / `FIX:` (or in their block).
//!
//! Each rule also has a test feeding it a bad snippet, so the checker itself can fail. (`// SAFETY:`
//! above every `unsafe` is clippy's `undocumented_unsafe_blocks`, denied in `Cargo.toml`.)

use std::path::{Path, PathBuf};

const ATOMIC_OPS: &[&str] = &[
    ".load(",
    ".store(",
    ".swap(",
    ".compare_exchange(",
    ".compare_exchange_weak(",
    ".fetch_add(",
    ".fetch_sub(",
    ".fetch_or(",
    ".fetch_and(",
    ".fetch_xor(",
    ".fetch_max(",
    ".fetch_min(",
    ".fetch_update(",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.retain(|p| !p.starts_with(root.join("sync")));
    files.sort();
    files
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
}

/// The code part of a line (drops a trailing `//` comment, naively but enough for this crate).
fn code(line: &str) -> &str {
    if is_comment(line) {
        return "";
    }
    match line.find("// ") {
        Some(i) if !line[..i].contains('"') => &line[..i],
        _ => line,
    }
}

fn is_atomic_op(line: &str) -> bool {
    let c = code(line);
    ATOMIC_OPS.iter().any(|op| c.contains(op)) || c.contains("fence(Ordering") || c.contains("fence(std::sync")
}

/// True when the comment block directly above the statement that holds line `i` contains
/// `marker`. Walks up over continuation lines of the same statement and over the comment block.
fn justified(lines: &[&str], i: usize, marker: &str) -> bool {
    if lines[i].contains(marker) {
        return true;
    }
    let mut j = i;
    let mut in_comments = false;
    while j > 0 {
        j -= 1;
        let l = lines[j].trim();
        if is_comment(l) {
            if l.contains(marker) {
                return true;
            }
            in_comments = true;
            continue;
        }
        if in_comments || l.is_empty() {
            return false;
        }
        // A code line that ends a statement or opens/closes a block is not part of ours.
        if l.ends_with(';') || l.ends_with('{') || l.ends_with('}') || l.ends_with("},") || i - j > 6 {
            return false;
        }
        // Else: a continuation of the same statement (`match x`, `.method(`, arguments): keep going.
    }
    false
}

fn ordering_violations(file: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .filter(|&i| is_atomic_op(lines[i]) && !justified(&lines, i, "ORDERING:"))
        .map(|i| {
            format!(
                "{file}:{}: atomic operation without an `// ORDERING:` line above: {}",
                i + 1,
                lines[i].trim()
            )
        })
        .collect()
}

/// Longest-common-subsequence diff: for each side, which lines are not in the common part.
fn changed_lines(a: &[&str], b: &[&str]) -> (Vec<bool>, Vec<bool>) {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i].trim() == b[j].trim() {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut ca, mut cb) = (vec![true; n], vec![true; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i].trim() == b[j].trim() {
            ca[i] = false;
            cb[j] = false;
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    (ca, cb)
}

/// A changed line is covered if it carries the marker or follows a marker line in the same block
/// (no blank line in between, at most 8 lines).
fn covered(lines: &[&str], i: usize, marker: &str) -> bool {
    for j in (i.saturating_sub(8)..=i).rev() {
        if lines[j].contains(marker) {
            return true;
        }
        if lines[j].trim().is_empty() {
            return false;
        }
    }
    false
}

fn pair_violations(name: &str, broken: &str, fixed: &str) -> Vec<String> {
    let (b, f): (Vec<&str>, Vec<&str>) = (broken.lines().collect(), fixed.lines().collect());
    let (cb, cf) = changed_lines(&b, &f);
    let mut out = Vec::new();
    for (i, _) in cb.iter().enumerate().filter(|(_, c)| **c) {
        if !b[i].trim().is_empty() && !covered(&b, i, "BUG:") {
            out.push(format!(
                "{name}/broken.rs:{}: differs from fixed.rs but is not marked BUG: {}",
                i + 1,
                b[i].trim()
            ));
        }
    }
    for (i, _) in cf.iter().enumerate().filter(|(_, c)| **c) {
        if !f[i].trim().is_empty() && !covered(&f, i, "FIX:") {
            out.push(format!(
                "{name}/fixed.rs:{}: differs from broken.rs but is not marked FIX: {}",
                i + 1,
                f[i].trim()
            ));
        }
    }
    out
}

#[test]
fn every_atomic_operation_has_an_ordering_comment() {
    let mut bad = Vec::new();
    for path in src_files() {
        bad.extend(ordering_violations(
            &path.display().to_string(),
            &std::fs::read_to_string(&path).unwrap(),
        ));
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn broken_and_fixed_differ_only_on_marked_lines() {
    let mut pairs = 0;
    let mut bad = Vec::new();
    for path in src_files() {
        // A broken twin: `broken.rs`, or any other file of the folder that opens with a `// BUG:`
        // line (a second broken variant, e.g. `reclaim/acqrel.rs`).
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let twin = name == "broken.rs" || (name != "fixed.rs" && text.starts_with("// BUG:"));
        if twin {
            let fixed = path.with_file_name("fixed.rs");
            assert!(fixed.exists(), "{} has no fixed.rs beside it", path.display());
            let dir = path.parent().unwrap().display().to_string();
            let label = if name == "broken.rs" {
                dir
            } else {
                format!("{dir} ({name} as broken.rs)")
            };
            bad.extend(pair_violations(
                &label,
                &text,
                &std::fs::read_to_string(&fixed).unwrap(),
            ));
            pairs += 1;
        }
    }
    assert!(
        pairs >= 6,
        "expected every concept's pairs (and reclaim's acqrel.rs), found {pairs}"
    );
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

// ---- the checker itself can fail ----

#[test]
fn an_unjustified_atomic_operation_is_reported() {
    let snippet = "fn f(a: &AtomicU64) {\n    let x = 1;\n    a.store(x, Ordering::Release);\n}\n";
    assert_eq!(ordering_violations("s.rs", snippet).len(), 1);
    let ok = "fn f(a: &AtomicU64) {\n    // ORDERING: Release [x] — why.\n    a.store(1, Ordering::Release);\n}\n";
    assert!(ordering_violations("s.rs", ok).is_empty());
    let multi = "    // ORDERING: AcqRel/Acquire [x] — why.\n    match a\n        .compare_exchange(1, 2, AcqRel, Acquire)\n    {\n";
    assert!(ordering_violations("s.rs", multi).is_empty());
    let fence = "    x = 1;\n    fence(Ordering::SeqCst);\n";
    assert_eq!(ordering_violations("s.rs", fence).len(), 1);
}

#[test]
fn an_unmarked_difference_between_broken_and_fixed_is_reported() {
    let broken = "fn f() {\n    // BUG: two steps.\n    let v = load();\n    store(v + 1);\n\n    tail();\n}\n";
    let fixed_ok = "fn f() {\n    // FIX: one step.\n    fetch_add(1);\n\n    tail();\n}\n";
    assert!(pair_violations("c", broken, fixed_ok).is_empty());
    let fixed_sneaky = "fn f() {\n    // FIX: one step.\n    fetch_add(1);\n\n    tail_changed();\n}\n";
    assert_eq!(
        pair_violations("c", broken, fixed_sneaky).len(),
        2,
        "{:?}",
        pair_violations("c", broken, fixed_sneaky)
    );
}
