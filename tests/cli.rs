//! The lab binary, driven as a user would: each subcommand, `--json`, and every misuse.

use assert_cmd::Command;

fn lab() -> Command {
    Command::cargo_bin("lockfree-lab").expect("the lab binary builds")
}

fn stdout(args: &[&str]) -> String {
    let out = lab().args(args).write_stdin("").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a misuse: exit code 2 and exactly one line on stderr that contains `needle`.
fn misuse(args: &[&str], needle: &str) {
    let out = lab().args(args).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?} printed more than one line: {err}"
    );
    assert!(err.contains(needle), "{args:?}: expected `{needle}` in: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn no_arguments_prints_the_concept_table() {
    let out = stdout(&[]);
    for demo in [
        "lost-update",
        "cas-retry",
        "message-passing",
        "store-buffering",
        "false-sharing",
    ] {
        assert!(out.contains(demo), "{demo} missing from:\n{out}");
    }
}

#[test]
fn list_groups_demos_as_the_seed_does_and_names_the_lab_demos_of_each_seed_demo() {
    let out = stdout(&["list"]);
    assert!(out.contains("Concurrency & the memory model"));
    assert!(out.contains("[Memory reordering]"));
    let json: serde_json::Value = serde_json::from_str(&stdout(&["list", "--json"])).unwrap();
    let groups = json.as_array().unwrap();
    assert_eq!(groups.len(), 4);
    // Every seed demo is marked built exactly when a lab demo makes it real, and the text list
    // says "not built yet" exactly when one is not.
    let mut unbuilt = 0;
    for group in groups {
        for d in group["demos"].as_array().unwrap() {
            let title = d["seed_demo"].as_str().unwrap();
            let lab = d["lab_demos"].as_array().unwrap();
            assert_eq!(d["built"].as_bool(), Some(!lab.is_empty()), "{d}");
            if lab.is_empty() {
                unbuilt += 1;
            } else {
                assert!(out.contains(&format!("[{title}]")), "{title} missing from:\n{out}");
            }
        }
    }
    assert_eq!(out.contains("not built yet:"), unbuilt > 0, "{out}");
}

#[test]
fn run_counts_lost_updates_on_real_cores() {
    let out = stdout(&["run", "lost-update", "--iterations", "20000"]);
    assert!(out.contains("lost updates") && out.contains("parallel"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&[
        "run",
        "lost-update",
        "--variant",
        "fixed",
        "--iterations",
        "20000",
        "--json",
    ]))
    .unwrap();
    let figures = &json["rows"][0]["figures"];
    let lost = figures
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0] == "lost updates")
        .unwrap();
    assert_eq!(lost[1], "0", "the fixed counter never loses an update");
}

#[test]
fn run_store_buffering_prints_both_zero_per_ordering() {
    let out = stdout(&["run", "store-buffering", "--iterations", "2000"]);
    for m in ["relaxed", "release-acquire", "seqcst", "fence-seqcst"] {
        assert!(out.contains(m), "{out}");
    }
    assert!(out.contains("both-zero"));
}

#[test]
fn run_message_passing_says_what_x86_cannot_show() {
    let out = stdout(&[
        "run",
        "message-passing",
        "--ordering",
        "relaxed",
        "--iterations",
        "2000",
    ]);
    assert!(out.contains("x86-64 is TSO"), "{out}");
}

#[test]
fn check_prints_loom_counterexample_as_numbered_steps() {
    let out = stdout(&["check", "message-passing", "--variant", "broken", "--checker", "loom"]);
    assert!(out.contains("bug found"), "{out}");
    // The writer (T1) stores data then ready; the reader (T2) sees ready, then reads stale data.
    let data_store = out.find("T1 src/concurrency/litmus/mp.rs").expect("writer steps");
    let stale = out.find("T2 src/concurrency/litmus/mp.rs").expect("reader steps");
    assert!(data_store < stale, "{out}");
    assert!(out.contains("store(Relaxed) <- 42"), "{out}");
    assert!(out.contains("load(Relaxed) -> true"), "{out}");
    assert!(
        out.contains("data load(Relaxed) -> 0   <- stale: the latest store to data was 42"),
        "{out}"
    );
    assert!(
        out.contains("self.data.load(mode.payload())"),
        "the source line is shown: {out}"
    );
}

#[test]
fn check_json_steps_carry_typed_values_next_to_the_text() {
    let json: serde_json::Value = serde_json::from_str(&stdout(&[
        "check",
        "message-passing",
        "--variant",
        "broken",
        "--checker",
        "loom",
        "--json",
    ]))
    .unwrap();
    let steps = json[0]["steps"].as_array().unwrap();
    let find = |value: &str| {
        steps
            .iter()
            .find(|s| s["value"] == value)
            .unwrap_or_else(|| panic!("a step `{value}`: {json}"))
    };
    let store = find("<- 42");
    assert_eq!(
        (&store["read"], &store["written"]),
        (&serde_json::Value::Null, &42.into())
    );
    let flag = find("-> true");
    assert_eq!(
        (&flag["read"], &flag["written"]),
        (&true.into(), &serde_json::Value::Null)
    );
    let stale = find("-> 0");
    assert_eq!(stale["read"], 0, "{stale}");
    assert_eq!(stale["note"], "stale: the latest store to data was 42", "{stale}");
    assert_eq!(stale["name"], "data", "{stale}");
    assert_eq!(
        (&stale["expected"], &stale["succeeded"]),
        (&serde_json::Value::Null, &serde_json::Value::Null)
    );
}

#[test]
fn check_prints_shuttle_counterexample_with_both_threads() {
    let json: serde_json::Value = serde_json::from_str(&stdout(&[
        "check",
        "lost-update",
        "--variant",
        "broken",
        "--checker",
        "shuttle",
        "--json",
    ]))
    .unwrap();
    for run in json.as_array().unwrap() {
        assert_eq!(run["verdict"], "bug found", "{run}");
        let steps = run["steps"].as_array().unwrap();
        let ops: Vec<(String, String)> = steps
            .iter()
            .map(|s| {
                (
                    s["thread"].as_str().unwrap().to_string(),
                    s["operation"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for t in ["T1", "T2"] {
            assert!(ops.contains(&(t.to_string(), "load".to_string())), "{t} loads: {ops:?}");
            assert!(
                ops.contains(&(t.to_string(), "store".to_string())),
                "{t} stores: {ops:?}"
            );
        }
    }
}

#[test]
fn check_fixed_variant_passes_every_checker() {
    let out = stdout(&["check", "lost-update", "--variant", "fixed"]);
    assert_eq!(out.matches("passed").count(), 3, "{out}");
}

#[test]
fn check_states_shuttle_blind_spot() {
    let out = stdout(&[
        "check",
        "store-buffering",
        "--variant",
        "broken",
        "--checker",
        "shuttle",
    ]);
    assert!(out.contains("cannot see this bug class"), "{out}");
}

#[test]
fn step_without_a_terminal_prints_every_step_at_once() {
    let out = stdout(&["step", "lost-update"]);
    assert!(out.contains("  1. T"), "{out}");
    assert!(out.contains("result: ") && out.contains("lost update"), "{out}");
    let out = stdout(&["step", "message-passing"]);
    assert!(out.contains("stale"), "{out}");
}

#[test]
fn matrix_covers_every_broken_variant_and_checker() {
    let json: serde_json::Value = serde_json::from_str(&stdout(&["matrix", "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert!(rows.len() >= 5);
    // A demo whose spec declares an interleaving bug is one shuttle must find.
    for row in rows {
        let cells = row["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[0]["verdict"], "found", "loom finds every broken variant: {row}");
        // shuttle finds every interleaving bug and is blind only to ordering bugs (it runs every
        // atomic as SeqCst): "missed" would mean a bug of its class went unseen.
        let bug = row["bug"].as_str().unwrap();
        let name = bug.split(' ').next().unwrap();
        // The demo's bug class says which: no demo is named here.
        let demo = lockfree_lab::lab::find(name).unwrap();
        let interleaving = demo
            .spec()
            .bug
            .blind_spot(lockfree_lab::lab::Checker::ShuttleRandom)
            .is_none();
        for cell in &cells[1..3] {
            let want = if interleaving { "found" } else { "blind" };
            assert_eq!(cell["verdict"], want, "shuttle on {bug}: {row}");
        }
    }
    let mp = rows
        .iter()
        .find(|r| r["bug"].as_str().unwrap().starts_with("message-passing"))
        .unwrap();
    assert_eq!(mp["cells"][1]["verdict"], "blind");
}

#[test]
fn misuse_gets_one_line_and_exit_code_2() {
    misuse(&["run", "lost-updte"], "did you mean `lost-update`");
    misuse(&["check", "aba-stak"], "unknown demo");
    misuse(
        &["run", "lost-update", "--variant", "bogus"],
        "possible values: broken, fixed",
    );
    misuse(&["run", "lost-update", "--ordering", "relaxed"], "has no --ordering");
    misuse(&["run", "store-buffering", "--ordering", "acquire"], "possible values");
    misuse(&["run", "lost-update", "--threads", "0"], "0 is not in 1..=64");
    misuse(&["run", "store-buffering", "--threads", "3"], "always runs 2 threads");
    misuse(&["run", "lost-update", "--iterations", "0"], "0 is not in");
    misuse(&["check", "false-sharing"], "nothing for a model checker");
    misuse(&["run", "iriw"], "cannot run on real cores");
    misuse(&["step", "false-sharing"], "no interleaving to step through");
    misuse(&["check", "lost-update", "--checker", "spin"], "possible values");
    misuse(&["frobnicate"], "unrecognized subcommand");
}

#[test]
fn check_spsc_counterexample_shows_the_racing_plain_accesses() {
    let out = stdout(&["check", "spsc", "--variant", "broken", "--checker", "loom"]);
    assert!(out.contains("Causality violation"), "{out}");
    let write = out.find("T1 src/concurrency/spsc/broken.rs").expect("producer steps");
    assert!(out.contains("write(plain)") && out.contains("read(plain)"), "{out}");
    assert!(
        out.contains("store(Relaxed) <- 1") && out.contains("load(Relaxed) -> 1"),
        "{out}"
    );
    assert!(
        write < out.find("T2 src/concurrency/spsc/broken.rs").expect("consumer steps"),
        "{out}"
    );
}

#[test]
fn run_mpmc_counts_lost_and_duplicated_values() {
    let out = stdout(&["run", "mpmc", "--iterations", "20000"]);
    for col in ["pushed", "popped", "lost", "duplicated", "phantom"] {
        assert!(out.contains(col), "{out}");
    }
    misuse(&["run", "mpmc", "--threads", "1"], "at least 2");
}

#[test]
fn step_aba_walks_a_to_b_to_a() {
    let out = stdout(&["step", "aba"]);
    let t1_reads = out.find("[T1] pop: reads the head (A").expect("T1 reads A");
    let t2_pops_a = out.find("[T2] pop -> Some(1)").expect("T2 pops A");
    let a_again = out.find("A is on top again").expect("A is back");
    let cas = out.find("it SUCCEEDS").expect("T1's stale CAS succeeds");
    assert!(t1_reads < t2_pops_a && t2_pops_a < a_again && a_again < cas, "{out}");
    let fixed = stdout(&["step", "aba", "--variant", "fixed"]);
    assert!(fixed.contains("FAILS") || fixed.contains("fails"), "{fixed}");
    misuse(&["step", "lost-update", "--variant", "fixed"], "fixed variant has none");
}

#[test]
fn check_aba_loom_finds_it_and_passes_the_tagged_stack() {
    let out = stdout(&["check", "aba", "--checker", "loom"]);
    assert!(
        out.contains("aba (broken) under loom (preemption bound 3): bug found"),
        "{out}"
    );
    assert!(
        out.contains("aba (fixed) under loom (preemption bound 3): passed"),
        "{out}"
    );
}

#[test]
fn run_aba_counts_corrupted_rounds() {
    let out = stdout(&["run", "aba", "--iterations", "2000"]);
    assert!(out.contains("corrupted rounds") && out.contains("cycles"), "{out}");
}

#[cfg(feature = "epoch")]
#[test]
fn rcu_demos_show_the_stalled_reclamation_and_shuttles_blind_spot() {
    let out = stdout(&["run", "rcu", "--iterations", "1000"]);
    assert!(
        out.contains("reader pinned") && out.contains("reader unpinned"),
        "{out}"
    );
    let out = stdout(&["check", "rcu-grace", "--variant", "broken"]);
    assert!(out.contains("under loom (preemption bound 3): bug found"), "{out}");
    assert!(out.contains("cannot see this bug class"), "{out}");
    misuse(&["run", "rcu-grace"], "cannot run on real cores");
}

#[cfg(not(feature = "epoch"))]
#[test]
fn rcu_demos_say_they_need_the_epoch_feature() {
    misuse(&["run", "rcu"], "needs the `epoch` feature");
    assert!(stdout(&["list"]).contains("needs --features epoch"));
}

/// Issue 15, item 16: an accepted input runs in bounded memory; one that would not is refused up
/// front, naming the limit.
#[test]
fn runs_that_would_grow_memory_without_bound_are_refused_up_front() {
    if cfg!(feature = "epoch") {
        misuse(
            &["run", "rcu", "--iterations", "1000000000"],
            "takes --iterations up to 100000 (got 1000000000)",
        );
    }
    misuse(
        &["run", "mpmc", "--threads", "64", "--iterations", "1000000000"],
        "takes --iterations up to 50000000",
    );
    misuse(
        &["run", "mpmc", "--threads", "64", "--iterations", "10000000"],
        "at most 50000000 values per run (got 32 producers x 10000000 iterations)",
    );
    misuse(
        &["run", "store-buffering", "--iterations", "1000000000"],
        "takes --iterations up to 10000000",
    );
}

/// Issue 15, item 17: loom's SeqCst false positive is labelled, not reported as a bug.
#[test]
fn loom_seqcst_false_positive_is_labelled_and_not_a_detection() {
    for demo in ["store-buffering", "iriw"] {
        let out = stdout(&["check", demo, "--ordering", "seqcst", "--checker", "loom"]);
        assert!(out.contains("loom false positive (the program is correct)"), "{out}");
        assert!(out.contains("known SeqCst false positive"), "{out}");
        assert!(out.contains("--ordering fence-seqcst"), "{out}");
        assert!(!out.contains(": bug found"), "{out}");
        let json: serde_json::Value = serde_json::from_str(&stdout(&[
            "check",
            demo,
            "--ordering",
            "seqcst",
            "--checker",
            "loom",
            "--json",
        ]))
        .unwrap();
        assert_eq!(json[0]["false_positive"], true, "{json}");
        assert!(json[0]["verdict"].as_str().unwrap().contains("false positive"));
        let out = stdout(&["check", demo, "--ordering", "fence-seqcst", "--checker", "loom"]);
        assert!(out.contains(": passed"), "{out}");
    }
    // A real detection is still a detection.
    let out = stdout(&[
        "check",
        "store-buffering",
        "--ordering",
        "release-acquire",
        "--checker",
        "loom",
    ]);
    assert!(out.contains(": bug found"), "{out}");
}

/// Issue 15, item 18: input with control characters still gets one line, shown escaped.
#[test]
fn control_characters_in_input_are_escaped_in_the_one_line_error() {
    misuse(&["run", "lost\nupdate"], "unknown demo `lost\\nupdate`");
    misuse(&["check", "aba\u{1b}[2J"], "unknown demo `aba\\u{1b}[2J`");
    misuse(
        &["run", "lost-update", "--variant", "bro\nken"],
        "invalid value 'bro\\nken'",
    );
}

#[test]
fn svg_writes_the_runs_curves_and_refuses_what_it_cannot_draw() {
    let dir = std::env::temp_dir().join(format!("lockfree-lab-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("irq.svg");
    let path = file.to_str().unwrap();
    let text = stdout(&[
        "run",
        "irq-vs-busy-poll",
        "--variant",
        "fixed",
        "--iterations",
        "2000",
        "--svg",
        path,
    ]);
    // The terminal chart sits under the numbers, and the file is a chart of the same series.
    assert!(text.contains("against percentile"), "{text}");
    assert!(text.contains("wrote the chart to"), "{text}");
    let doc = std::fs::read_to_string(&file).unwrap();
    assert!(
        doc.starts_with("<svg") && doc.contains("latency: fixed blocking paced"),
        "{doc}"
    );

    // A demo with no curve: one line, and no empty file left behind.
    let none = dir.join("none.svg");
    misuse(
        &[
            "run",
            "lost-update",
            "--iterations",
            "1000",
            "--svg",
            none.to_str().unwrap(),
        ],
        "drew no chart",
    );
    assert!(!none.exists());
    // A file that cannot be created is refused before the run.
    misuse(
        &["run", "lost-update", "--svg", "/nonexistent-dir/x.svg"],
        "cannot write the --svg file /nonexistent-dir/x.svg",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
