//! Command-line helpers shared by the examples and the lab binary: bad input gets one line and
//! exit code 2, never a panic or a wall of usage text.

use clap::error::ErrorKind;
use clap::Parser;

/// Parses the process arguments; on a usage error prints one line naming what is wrong and what
/// is accepted, then exits with code 2. `--help` and `--version` print as usual.
pub fn parse<P: Parser>() -> P {
    match P::try_parse() {
        Ok(args) => args,
        Err(e) => exit_on(e),
    }
}

/// Prints a clap error as one line (or help/version as usual) and exits.
pub fn exit_on(e: clap::Error) -> ! {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    eprintln!("{}", one_line(&e.render().to_string()));
    std::process::exit(2);
}

/// Folds clap's multi-line error into one line: `error: invalid value 'x' for '--ordering
/// <ORDERING>' [possible values: relaxed, release-acquire]`.
pub fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .filter(|l| !l.starts_with("tip:"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints `error: {message}` and exits with code 2: for invalid input found after parsing.
pub fn usage_error(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}
