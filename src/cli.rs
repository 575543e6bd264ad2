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
    if let Some(line) = unknown_demo(&e) {
        eprintln!("{line}");
        std::process::exit(2);
    }
    let mut rendered = e.render().to_string();
    // An argument with a newline (or any control character) in it would break the one line, or
    // hide part of the message: show it escaped, as the user would have to type it.
    for arg in std::env::args().skip(1).filter(|a| a.chars().any(char::is_control)) {
        rendered = rendered.replace(&arg, &escape_controls(&arg));
    }
    eprintln!("{}", one_line(&rendered));
    std::process::exit(2);
}

/// A bad `<DEMO>` value, said as the lab says it: `error: unknown demo `x`: did you mean `y`?
/// (demos: …)`, with clap's own suggestion of the closest name.
fn unknown_demo(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    if e.kind() != ErrorKind::InvalidValue || text(ContextKind::InvalidArg)?.as_str() != "<DEMO>" {
        return None;
    }
    let value = escape_controls(&text(ContextKind::InvalidValue)?);
    let suggestion = text(ContextKind::SuggestedValue)
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_default();
    let demos = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(v)) => v.join(", "),
        _ => String::new(),
    };
    Some(format!("error: unknown demo `{value}`{suggestion} (demos: {demos})"))
}

/// `s` with every control character (newline, tab, escape…) written as an escape (`\n`, `\t`,
/// `\u{1b}`), so that echoing user input never breaks a one-line message.
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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
    eprintln!("error: {}", escape_controls(&message.to_string()));
    std::process::exit(2);
}
