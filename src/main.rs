//! `lockfree-lab`: demos you drive — on your cores, under a model checker, step by step.
//!
//! ```text
//! cargo run --release                         # the concept table
//! cargo run --release -- list                 # every demo, grouped as the seed site groups them
//! cargo run --release -- run lost-update      # real cores: lost updates, broken vs fixed
//! cargo run --release -- check message-passing --variant broken   # loom's counterexample as steps
//! cargo run --release -- step lost-update     # replay the failing interleaving, Enter per step
//! cargo run --release -- matrix               # every bug × every checker
//! cargo run --release -- serve                # the same lab in a browser, on 127.0.0.1
//! ```

use std::io::{BufRead, IsTerminal, Write};

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lockfree_lab::lab::{self, registry, render, Checker, Mode, UsageError, Variant, DEMOS};

/// A lock-free concurrency lab: broken and fixed structures, model-checked and run on your cores.
#[derive(Parser, Debug)]
#[command(name = "lockfree-lab", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every demo, grouped as the seed site groups them.
    List {
        /// Print the README's demo table (markdown) instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Run a demo on real cores and print what happened in numbers.
    Run {
        /// The demo (see `list`).
        #[arg(value_parser = demo_names())]
        demo: String,
        /// Only this variant.
        #[arg(long, value_enum)]
        variant: Option<Variant>,
        /// Only this ordering (litmus demos).
        #[arg(long, value_enum)]
        ordering: Option<Mode>,
        /// Threads (1–64; litmus demos have a fixed count).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: Option<u16>,
        /// Iterations per thread (rounds for litmus demos), 1–1,000,000,000.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        iterations: Option<u64>,
        /// Pin threads to cores (the default).
        #[arg(long, overrides_with = "no_pin")]
        pin: bool,
        /// Let the OS place the threads.
        #[arg(long)]
        no_pin: bool,
        /// Also write the run's curves as an SVG chart to FILE (demos that return series).
        #[arg(long, value_name = "FILE")]
        svg: Option<std::path::PathBuf>,
    },
    /// Run a model checker in-process; print executions, time, verdict and a readable counterexample.
    Check {
        /// The demo (see `list`).
        #[arg(value_parser = demo_names())]
        demo: String,
        /// Only this variant.
        #[arg(long, value_enum)]
        variant: Option<Variant>,
        /// Only this ordering (litmus demos).
        #[arg(long, value_enum)]
        ordering: Option<Mode>,
        /// Which checker.
        #[arg(long, value_enum, default_value_t = CheckerArg::All)]
        checker: CheckerArg,
    },
    /// Replay a known failing interleaving one step at a time (Enter advances).
    Step {
        /// The demo (see `list`).
        #[arg(value_parser = demo_names())]
        demo: String,
        /// Replay the fixed variant instead (aba: the tagged CAS fails and retries).
        #[arg(long, value_enum, default_value_t = Variant::Broken)]
        variant: Variant,
    },
    /// Every broken variant under every checker and on real cores: the detection matrix.
    Matrix,
    /// The lab in a browser: a local web server on 127.0.0.1 only (Ctrl-C stops it).
    Serve {
        /// The port (0: any free port).
        #[arg(long, default_value_t = 7878)]
        port: u16,
    },
}

/// Parses the command line: the derived commands, plus on `run` every registered demo's own
/// options ([`lab::Param`]), returned as given (`--name`, value) for the lab to check against the
/// demo actually named.
fn parse() -> (Cli, Vec<(String, Option<String>)>) {
    use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};
    let cmd = Cli::command().mut_subcommand("run", |mut run| {
        for (param, demos) in lab::registry::params() {
            let help = format!("{} [{}: {}]", param.help, demos.join(", "), param.accepts());
            let arg = Arg::new(param.name).long(param.name).help(help);
            run = run.arg(match param.kind {
                lab::ParamKind::Flag => arg.action(ArgAction::SetTrue),
                lab::ParamKind::Number { .. } => arg.value_name("N").action(ArgAction::Set),
                lab::ParamKind::Choice { .. } => arg.value_name("VALUE").action(ArgAction::Set),
            });
        }
        run
    });
    let matches = cmd.try_get_matches().unwrap_or_else(|e| lockfree_lab::cli::exit_on(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| lockfree_lab::cli::exit_on(e));
    let mut given = Vec::new();
    if let Some(run) = matches.subcommand_matches("run") {
        for (param, _) in lab::registry::params() {
            if run.value_source(param.name) != Some(clap::parser::ValueSource::CommandLine) {
                continue;
            }
            let value = match param.kind {
                lab::ParamKind::Flag => None,
                _ => run.get_one::<String>(param.name).cloned(),
            };
            given.push((param.name.to_string(), value));
        }
    }
    (cli, given)
}

/// The demo names the registry holds: clap lists them and suggests the closest one.
fn demo_names() -> PossibleValuesParser {
    PossibleValuesParser::new(registry::names())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CheckerArg {
    /// loom only.
    Loom,
    /// shuttle, random and PCT.
    Shuttle,
    /// loom and shuttle.
    All,
}

fn main() {
    // SAFETY: restoring the default SIGPIPE action at startup, before any thread exists, has no
    // memory-safety preconditions; it makes `lockfree-lab list | head` end quietly instead of
    // panicking on a closed pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let (cli, params) = parse();
    let result = match cli.command {
        None => {
            overview(cli.json);
            Ok(())
        }
        Some(Command::List { markdown }) => {
            list(cli.json, markdown);
            Ok(())
        }
        Some(Command::Run {
            demo,
            variant,
            ordering,
            threads,
            iterations,
            pin: _,
            no_pin,
            svg,
        }) => run(
            &demo,
            RunArgs {
                variant,
                ordering,
                threads,
                iterations,
                pin: !no_pin,
                params,
                svg,
            },
            cli.json,
        ),
        Some(Command::Check {
            demo,
            variant,
            ordering,
            checker,
        }) => check(&demo, variant, ordering, checker, cli.json),
        Some(Command::Step { demo, variant }) => step(&demo, variant, cli.json),
        Some(Command::Matrix) => {
            matrix(cli.json);
            Ok(())
        }
        Some(Command::Serve { port }) => serve(port),
    };
    if let Err(e) = result {
        lockfree_lab::cli::usage_error(e);
    }
}

/// Runs `f` with the process's stderr sent to /dev/null: shuttle prints its own replay hints for
/// every failure it finds, which would bury the lab's readable counterexample.
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return f();
    };
    // SAFETY: dup on the always-open fd 2 has no memory-safety preconditions; it returns a new fd or -1.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 {
        return f();
    }
    // SAFETY: both fds are open (null is owned by `null`, alive until the end of this function).
    unsafe { libc::dup2(null.as_raw_fd(), 2) };
    let out = f();
    // SAFETY: `saved` is the fd dup returned above and is still open; it is closed exactly once.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    out
}

/// A progress line for `lockfree-lab serve`, which runs the lab as a child process with
/// [`PROGRESS_ENV`](lockfree_lab::serve::jobs::PROGRESS_ENV) set and streams these lines to the page.
fn progress(line: impl std::fmt::Display) {
    if std::env::var_os(lockfree_lab::serve::jobs::PROGRESS_ENV).is_some() {
        eprintln!("progress: {line}");
    }
}

fn serve(port: u16) -> Result<(), UsageError> {
    let exe = std::env::current_exe().map_err(|e| UsageError(format!("cannot find the lab's own binary: {e}")))?;
    let handle = lockfree_lab::serve::start(lockfree_lab::serve::Config { port, exe }).map_err(|e| {
        UsageError(format!(
            "cannot serve on 127.0.0.1:{port}: {e} (try --port 0 for any free port)"
        ))
    })?;
    println!("lockfree-lab serving on {}", handle.url());
    println!("open it in a browser; Ctrl-C stops the server (and cancels a running job)");
    std::io::stdout().flush().ok();
    handle.wait();
    Ok(())
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("lab output serializes")
    );
}

fn overview(json: bool) {
    if json {
        print_json(&DEMOS.iter().map(|d| d.spec()).collect::<Vec<_>>());
    } else {
        print!("{}", render::overview());
    }
}

fn list(json: bool, markdown: bool) {
    if json {
        print_json(&render::list_json());
    } else if markdown {
        print!("{}", render::markdown_table());
    } else {
        print!("{}", render::list());
    }
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stdout());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `run`'s options as given.
struct RunArgs {
    variant: Option<Variant>,
    ordering: Option<Mode>,
    threads: Option<u16>,
    iterations: Option<u64>,
    pin: bool,
    params: Vec<(String, Option<String>)>,
    svg: Option<std::path::PathBuf>,
}

fn run(name: &str, args: RunArgs, json: bool) -> Result<(), UsageError> {
    let RunArgs {
        variant,
        ordering,
        threads,
        iterations,
        pin,
        params,
        svg,
    } = args;
    let demo = registry::find(name)?;
    let cases = lab::cases(demo, variant, ordering)?;
    // A file that cannot be written is refused before the run, not after a minute of measuring.
    if let Some(path) = &svg {
        std::fs::File::create(path)
            .map_err(|e| UsageError(format!("cannot write the --svg file {}: {e}", path.display())))?;
    }
    let bar = spinner(format!("running {name} on real cores"));
    progress(format_args!("running {name} on real cores ({} case(s))", cases.len()));
    let out = lab::run(demo, &cases, threads.map(usize::from), iterations, pin, &params);
    bar.finish_and_clear();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            if let Some(path) = &svg {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    if json {
        print_json(&out);
    } else {
        print!("{}", render::run(&out, pin));
        print!("{}", lab::plot::terminal(&out.series));
    }
    // `lockfree-lab serve` asks for the chart when there is one (no chart is not an error there).
    if let Some(path) = std::env::var_os(lockfree_lab::serve::jobs::SVG_ENV) {
        if let Ok(doc) = lab::plot::svg(&format!("lockfree-lab run {name}"), &out.series) {
            let _ = std::fs::write(path, doc);
        }
    }
    if let Some(path) = &svg {
        let title = format!("lockfree-lab run {name}");
        match lab::plot::svg(&title, &out.series) {
            Ok(doc) => std::fs::write(path, doc)
                .map_err(|e| UsageError(format!("cannot write the --svg file {}: {e}", path.display())))?,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(UsageError(format!("--svg: `{name}` drew no chart: {e}")));
            }
        }
        if !json {
            println!("wrote the chart to {}", path.display());
        }
    }
    Ok(())
}

fn check(
    name: &str,
    variant: Option<Variant>,
    ordering: Option<Mode>,
    checker: CheckerArg,
    json: bool,
) -> Result<(), UsageError> {
    let demo = registry::find(name)?;
    let cases = lab::cases(demo, variant, ordering)?;
    if !demo.spec().can.check {
        return Err(UsageError(format!(
            "demo `{name}` has nothing for a model checker to find (a performance effect); try `run {name}`"
        )));
    }
    let checkers: Vec<Checker> = match checker {
        CheckerArg::Loom => vec![Checker::Loom],
        CheckerArg::Shuttle => vec![Checker::ShuttleRandom, Checker::ShuttlePct],
        CheckerArg::All => Checker::ALL.to_vec(),
    };
    let mut outputs = Vec::new();
    for case in &cases {
        for &c in &checkers {
            let bar = spinner(format!("{} {name} ({})", c.name(), case.label()));
            progress(format_args!("{} {}: exploring", c.name(), case.label()));
            let out = quiet_stderr(|| lab::check_output(demo, *case, c));
            bar.finish_and_clear();
            progress(format_args!(
                "{} {}: {} ({} executions, {:.0} ms)",
                c.name(),
                case.label(),
                out.verdict,
                out.executions,
                out.millis
            ));
            if !json {
                println!("{}", render::check(&out));
            }
            outputs.push(out);
        }
    }
    if json {
        print_json(&outputs);
    }
    Ok(())
}

fn step(name: &str, variant: Variant, json: bool) -> Result<(), UsageError> {
    let demo = registry::find(name)?;
    let replay = quiet_stderr(|| lab::replay(demo, variant))?;
    if json {
        print_json(&replay);
        return Ok(());
    }
    println!("{}\n", replay.intro);
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let stdin = std::io::stdin();
    let total = replay.steps.len();
    for (i, s) in replay.steps.iter().enumerate() {
        println!("{s}");
        if interactive && i + 1 < total {
            print!("      [Enter: next step {}/{total}] ", i + 2);
            std::io::stdout().flush().ok();
            let mut line = String::new();
            if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
        }
    }
    println!("\nresult: {}", replay.outcome);
    Ok(())
}

fn matrix(json: bool) {
    let bugs = lab::matrix_bugs();
    let bar = ProgressBar::with_draw_target(Some(bugs.len() as u64), indicatif::ProgressDrawTarget::stdout());
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("valid template"));
    let mut rows = Vec::new();
    let total = bugs.len();
    for (demo, case) in bugs {
        bar.set_message(format!("{} ({})", demo.spec().name, case.label()));
        progress(format_args!(
            "{}/{} {} ({})",
            rows.len() + 1,
            total,
            demo.spec().name,
            case.label()
        ));
        rows.push(quiet_stderr(|| lab::matrix_row(demo, case)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if json {
        print_json(&rows);
        return;
    }
    print!("{}", render::matrix(&rows));
}
