//! The terminal's text for the lab's typed results: the overview, `list` (and its markdown
//! table for the README), a run's table, a check's verdict and counterexample, the matrix.

use std::fmt::Write as _;

use super::registry::{demos_of, DEMOS, SEED};
use super::{CheckOutput, Demo, MatrixRow, Row, RunOutput, SHUTTLE_ITERATIONS};

/// What a demo offers in this build.
fn abilities(demo: &dyn Demo) -> String {
    match demo.spec().missing_feature() {
        None => demo.spec().abilities(),
        Some(feature) => format!("needs --features {feature}"),
    }
}

/// `lockfree-lab` with no command: every demo, what you can do with it, its lesson.
pub fn overview() -> String {
    let mut s = String::from("lockfree-lab — lock-free programming you can run, check and break\n\n");
    let _ = writeln!(s, "{:<17} {:<22} lesson", "demo", "you can");
    for d in DEMOS {
        let _ = writeln!(s, "{:<17} {:<22} {}", d.spec().name, abilities(*d), d.spec().lesson);
    }
    s.push_str(
        "\nnext: `cargo run --release -- list` (all demos, as the seed groups them), `-- run lost-update`, \
         `-- check message-passing --variant broken`, `-- step lost-update`, `-- matrix`\n",
    );
    s.push_str("tests: `cargo test` runs every loom and shuttle model check\n");
    s
}

/// `list`: the seed's groups, each built demo with its seed title and lesson, then what is not
/// built yet.
pub fn list() -> String {
    let mut s = String::new();
    for (group, titles) in SEED {
        let _ = writeln!(s, "{}", group.title());
        let mut missing = Vec::new();
        for title in titles.iter() {
            let mut built = demos_of(title).peekable();
            if built.peek().is_none() {
                missing.push(*title);
            }
            for d in built {
                let _ = writeln!(
                    s,
                    "  {:<17} {:<22} {:<26} {}",
                    d.spec().name,
                    abilities(d),
                    format!("[{title}]"),
                    d.spec().lesson
                );
                for p in d.spec().params {
                    let accepts = match p.kind {
                        super::ParamKind::Number { .. } => format!(": {}", p.accepts()),
                        _ => format!(" (default {})", p.default_value()),
                    };
                    let _ = writeln!(s, "  {:<17} {}  {}{accepts}", "", p.usage(), p.help);
                }
            }
        }
        if !missing.is_empty() {
            let _ = writeln!(s, "  not built yet: {}", missing.join(", "));
        }
        s.push('\n');
    }
    s
}

/// `list --json`: the seed's groups, each seed demo with the lab demos that make it real.
pub fn list_json() -> serde_json::Value {
    SEED.iter()
        .map(|(group, titles)| {
            serde_json::json!({
                "group": group.title(),
                "demos": titles.iter().map(|title| {
                    let built: Vec<&str> = demos_of(title).map(|d| d.spec().name).collect();
                    serde_json::json!({
                        "seed_demo": title,
                        "built": !built.is_empty(),
                        "lab_demos": built,
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// `list --markdown`: the README's demo table, generated from the registry (a test keeps the
/// README's copy in step).
pub fn markdown_table() -> String {
    let mut s =
        String::from(
        "| demo | seed demo | lesson | broken → fixed | you can | bug class | concept |\n|---|---|---|---|---|---|---|\n",
    );
    for d in DEMOS {
        let spec = d.spec();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | [`{}`](src/{}/mod.rs){} |",
            spec.name,
            spec.seed_title,
            spec.lesson.replace('|', "\\|"),
            spec.pair.replace('|', "\\|"),
            spec.abilities(),
            spec.bug.name(),
            spec.module.rsplit('/').next().unwrap_or(spec.module),
            spec.module,
            spec.feature
                .map(|(f, _)| format!(" (feature `{f}`)"))
                .unwrap_or_default(),
        );
    }
    s
}

/// A run's table: one row per case, its figures, whether the threads ran in parallel; then the
/// parallelism verdicts and the notes.
pub fn run(out: &RunOutput, pinned: bool) -> String {
    let mut s = String::new();
    let params: String = out.params.iter().map(|(n, v)| format!(", --{n} {v}")).collect();
    let _ = writeln!(
        s,
        "{} — {} thread(s), {} iterations each, {}{params}",
        out.demo,
        out.threads,
        out.iterations,
        if pinned { "pinned" } else { "unpinned" }
    );
    let mut widths: Vec<usize> = out
        .rows
        .first()
        .map(|r| r.figures.iter().map(|f| f.label.len()).collect())
        .unwrap_or_default();
    for row in &out.rows {
        for (w, f) in widths.iter_mut().zip(&row.figures) {
            *w = (*w).max(f.text.len());
        }
    }
    let case_width = out.rows.iter().map(|r| r.case.len()).max().unwrap_or(4).max(4);
    if let Some(first) = out.rows.first() {
        let _ = write!(s, "{:<case_width$}", "case");
        for (f, w) in first.figures.iter().zip(&widths) {
            // Numbers align right, text (a figure that is not a number) left.
            if f.value.is_nan() {
                let _ = write!(s, "  {:<w$}", f.label);
            } else {
                let _ = write!(s, "  {:>w$}", f.label);
            }
        }
        s.push_str("  parallel\n");
    }
    for (i, row) in out.rows.iter().enumerate() {
        // A row whose figures differ from the row above (a demo measuring two things) gets its own header.
        let labels = |r: &Row| r.figures.iter().map(|f| f.label.clone()).collect::<Vec<_>>();
        if i > 0 && labels(row) != labels(&out.rows[i - 1]) {
            widths = row.figures.iter().map(|f| f.label.len()).collect();
            for r in out.rows[i..].iter().take_while(|r| labels(r) == labels(row)) {
                for (w, f) in widths.iter_mut().zip(&r.figures) {
                    *w = (*w).max(f.text.len());
                }
            }
            let _ = write!(s, "{:<case_width$}", "case");
            for (f, w) in row.figures.iter().zip(&widths) {
                let _ = write!(s, "  {:>w$}", f.label);
            }
            s.push_str("  parallel\n");
        }
        let _ = write!(s, "{:<case_width$}", row.case);
        for (f, w) in row.figures.iter().zip(&widths) {
            if f.value.is_nan() {
                let _ = write!(s, "  {:<w$}", f.text);
            } else {
                let _ = write!(s, "  {:>w$}", f.text);
            }
        }
        let parallel = match row.parallel {
            Some(true) => "yes",
            Some(false) => "no",
            None => "n/a",
        };
        let _ = writeln!(s, "  {parallel}");
    }
    // Each distinct verdict once, in the order the rows first give it.
    let mut verdicts: Vec<&str> = Vec::new();
    for r in &out.rows {
        if !verdicts.contains(&r.parallelism.as_str()) {
            verdicts.push(&r.parallelism);
        }
    }
    for v in verdicts {
        let _ = writeln!(s, "{v}");
    }
    for note in &out.notes {
        let _ = writeln!(s, "note: {note}");
    }
    s
}

/// One check's verdict, and the counterexample of a failure.
pub fn check(out: &CheckOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}) under {}: {} — {} executions in {:.1} ms",
        out.demo, out.case, out.checker, out.verdict, out.executions, out.millis
    );
    if let Some(note) = &out.note {
        let _ = writeln!(s, "  note: {note}");
    }
    if let Some(msg) = &out.message {
        let _ = writeln!(s, "  reason: {msg}");
        if out.false_positive {
            s.push_str("  loom's spurious counterexample (an execution real SeqCst forbids):\n");
        } else {
            s.push_str("  counterexample (the failing execution, in schedule order):\n");
        }
        for step in &out.steps {
            let _ = writeln!(s, "  {step}");
        }
    } else if let Some(why) = &out.blind_spot {
        let _ = writeln!(s, "  note: this checker cannot see this bug class: {why}");
    }
    s
}

/// The detection matrix.
pub fn matrix(rows: &[MatrixRow]) -> String {
    let mut s = String::from(
        "detection matrix: each broken variant under each checker (executions or iterations to first detection)\n",
    );
    for row in rows {
        let _ = writeln!(s, "\n{}", row.bug);
        for (col, cell) in ["loom", "shuttle random", "shuttle PCT", "real x86 cores"]
            .iter()
            .zip(&row.cells)
        {
            let _ = writeln!(s, "  {col:<16} {}", cell.text);
        }
    }
    let _ = writeln!(
        s,
        "\nshuttle: {SHUTTLE_ITERATIONS} schedules per run (seeded, reproducible); loom: exhaustive (preemption \
         bound 2 for 3+ threads)"
    );
    s
}
