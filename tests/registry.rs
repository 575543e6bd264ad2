//! The registry, walked: every registered demo does everything its spec promises, the README's
//! demo table is the registry's, and no code outside a concept's folder knows a demo by name.

use lockfree_lab::lab::{self, registry, render, Case, Checker, Demo, Threads, DEMOS};

/// Small bounds: every capability runs, none for long. `None` when the run needs root and this is
/// not root: it refused in one line, which is its promise there (the skip is said).
fn small_run(demo: &dyn Demo) -> Option<lab::RunOutput> {
    let spec = demo.spec();
    let threads = match spec.threads {
        Threads::Fixed(n) => n,
        Threads::AtLeast { min, .. } => min.max(2),
    };
    let cases = lab::cases(demo, None, None).unwrap();
    match lab::run(
        demo,
        &cases,
        Some(threads),
        Some(spec.max_iterations.0.min(2_000)),
        true,
        &[],
    ) {
        Ok(out) => Some(out),
        // SAFETY: geteuid has no preconditions.
        Err(e) if e.0.contains("needs root") && unsafe { libc::geteuid() } != 0 => {
            assert_eq!(e.0.lines().count(), 1, "{e}");
            eprintln!("`run {}` skipped: {e}", spec.name);
            None
        }
        Err(e) => panic!("`run {}` is promised but failed: {e}", spec.name),
    }
}

#[test]
fn every_demo_does_what_its_spec_promises() {
    for &demo in DEMOS {
        let spec = demo.spec();
        if let Some(feature) = spec.missing_feature() {
            // Listed, and refused with the feature's name.
            let e = registry::find(spec.name)
                .err()
                .expect("a demo whose feature is missing is refused");
            assert!(e.0.contains(feature), "{e}");
            continue;
        }
        if spec.can.run {
            if let Some(out) = small_run(demo) {
                assert!(
                    !out.rows.is_empty() || !out.notes.is_empty(),
                    "`run {}` returned nothing",
                    spec.name
                );
                for row in &out.rows {
                    assert_eq!(
                        row.figures.len(),
                        out.rows[0].figures.len(),
                        "`run {}`: every row has the same figures",
                        spec.name
                    );
                }
            }
        } else {
            let cases = lab::cases(demo, None, None).unwrap();
            let e = lab::run(demo, &cases, None, None, true, &[]).expect_err("refused");
            assert!(e.0.contains("cannot run on real cores"), "{e}");
        }
        if spec.can.check {
            // The broken case is caught by loom (it sees every bug class the lab has); the fixed
            // one passes every checker.
            let broken = spec.broken_case();
            let out = lab::check_output(demo, broken, Checker::Loom);
            assert_eq!(
                out.verdict, "bug found",
                "`check {}` (broken) under loom: {out:?}",
                spec.name
            );
            assert!(
                !out.steps.is_empty(),
                "`check {}`: a counterexample has steps",
                spec.name
            );
            let fixed = lab::cases(demo, Some(lab::Variant::Fixed), None).unwrap()[0];
            for checker in Checker::ALL {
                let out = lab::check_output(demo, fixed, checker);
                assert_eq!(
                    out.verdict, "passed",
                    "`check {}` (fixed) under {checker:?}: {out:?}",
                    spec.name
                );
            }
            // The matrix's row: every cell filled, blind cells only where the class says so.
            let row = lab::matrix_row(demo, broken);
            assert_eq!(row.cells.len(), Checker::ALL.len() + 1);
            for (checker, cell) in Checker::ALL.iter().zip(&row.cells) {
                let blind = spec.bug.blind_spot(*checker).is_some();
                assert_eq!(
                    cell.verdict == "blind",
                    blind,
                    "{}: {checker:?} cell {cell:?}",
                    spec.name
                );
                if !blind {
                    assert_eq!(cell.verdict, "found", "{}: {checker:?} cell {cell:?}", spec.name);
                }
            }
            if let Some(why) = spec.bug.hardware_blind_spot() {
                assert_eq!(row.cells[3].text, why);
            }
        }
        if spec.can.step {
            let replay = lab::replay(demo, lab::Variant::Broken)
                .unwrap_or_else(|e| panic!("`step {}` is promised but failed: {e}", spec.name));
            assert!(!replay.steps.is_empty(), "`step {}` has no steps", spec.name);
        } else {
            assert!(lab::replay(demo, lab::Variant::Broken).is_err());
        }
    }
}

#[test]
fn every_seed_title_a_demo_names_is_in_the_seed_catalogue() {
    for &demo in DEMOS {
        let spec = demo.spec();
        let group = lab::SEED
            .iter()
            .find(|(g, _)| *g == spec.group)
            .expect("its group is a seed group");
        assert!(
            group.1.contains(&spec.seed_title),
            "{}: seed demo `{}` is not in the {} group",
            spec.name,
            spec.seed_title,
            spec.group.title()
        );
    }
}

#[test]
fn demo_names_are_unique_and_cases_match_the_spec() {
    let names = registry::names();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate demo names: {names:?}");
    for &demo in DEMOS {
        for case in lab::cases(demo, None, None).unwrap() {
            match case {
                Case::Mode(m) => assert!(demo.spec().orderings().contains(&m)),
                Case::Variant(_) => assert!(demo.spec().orderings().is_empty()),
            }
        }
    }
}

#[test]
fn the_readme_demo_table_is_the_registrys() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let begin = "<!-- BEGIN generated by `lockfree-lab list --markdown` -->\n";
    let start = readme
        .find(begin)
        .expect("the README has the generated table's markers")
        + begin.len();
    let end = readme[start..].find("<!-- END generated -->").expect("end marker") + start;
    assert_eq!(
        &readme[start..end],
        render::markdown_table(),
        "README.md's demo table is stale: replace it with `cargo run --release -- list --markdown`"
    );
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_outside_a_concept_folder_names_a_demo() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut bad = Vec::new();
    for &demo in DEMOS {
        let spec = demo.spec();
        let home = root.join("src").join(spec.module);
        let quoted = format!("\"{}\"", spec.name);
        for file in files.iter().filter(|f| !f.starts_with(&home)) {
            let text = std::fs::read_to_string(file).unwrap();
            if text.contains(&quoted) {
                bad.push(format!("{} names demo {quoted}", file.display()));
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

/// Every demo's own options: the command line offers each once, none shadows a common option,
/// a name two demos share means the same kind of value, every default is accepted, and a param
/// given to a demo that lacks it, or with a bad value, is a one-line refusal naming what is taken.
#[test]
fn demo_params_are_declared_once_and_validated_against_the_named_demo() {
    const COMMON: &[&str] = &[
        "variant",
        "ordering",
        "threads",
        "iterations",
        "pin",
        "no-pin",
        "json",
        "help",
    ];
    for (param, demos) in registry::params() {
        assert!(
            !COMMON.contains(&param.name),
            "--{} shadows a common option",
            param.name
        );
        for name in &demos {
            let spec = DEMOS.iter().map(|d| d.spec()).find(|s| s.name == *name).unwrap();
            let own = spec.params.iter().find(|p| p.name == param.name).unwrap();
            assert_eq!(
                std::mem::discriminant(&own.kind),
                std::mem::discriminant(&param.kind),
                "--{} means different kinds of value in {demos:?}",
                param.name
            );
        }
    }
    for &demo in DEMOS {
        let spec = demo.spec();
        assert_eq!(
            lab::ParamValues::resolve(spec, &[]).unwrap(),
            lab::ParamValues::defaults(spec)
        );
        let e = lab::ParamValues::resolve(spec, &[("no-such-option".into(), Some("1".into()))]).unwrap_err();
        assert!(e.0.contains("has no --no-such-option (it takes "), "{e}");
        for p in spec.params {
            let bad = match p.kind {
                lab::ParamKind::Flag => Some("yes".to_string()),
                lab::ParamKind::Number { max, .. } => Some((max + 1).to_string()),
                lab::ParamKind::Choice { .. } => Some("no-such-value".to_string()),
            };
            let e = lab::ParamValues::resolve(spec, &[(p.name.into(), bad)]).unwrap_err();
            assert!(e.0.contains(&format!("takes --{} as ", p.name)), "{e}");
            assert!(!e.0.contains('\n'), "one line: {e}");
        }
    }
}
