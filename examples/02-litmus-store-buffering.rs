//! # 02 — store buffering caught in the act (and message passing, which x86 cannot show)
//!
//! ci: --rounds 1000
//!
//! ```text
//! cargo run --release --example 02-litmus-store-buffering
//! cargo run --release --example 02-litmus-store-buffering -- --rounds 1000000 --ordering relaxed
//! ```
//!
//! Two pinned threads run `x = 1; r1 = y` and `y = 1; r2 = x` round after round (Preshing's
//! method: a random few-iteration delay before each round so the stores collide). Expect, on a
//! quiet 2-core x86 machine:
//!
//! ```text
//! SB (store buffering): both loads read 0
//! ordering            rounds   both-zero        %   parallel
//! relaxed             200000       ~2–4k    ~1–2%   yes
//! release-acquire     200000       ~2–4k    ~1–2%   yes
//! seqcst              200000           0    0.00%   yes
//! fence-seqcst        200000           0    0.00%   yes
//! MP (message passing) at relaxed: 0 stale reads in ~N rounds that saw ready
//! x86-64 is TSO: ... loom shows the bug: cargo test --test model litmus::loom_mp_relaxed_stale_read_found
//! ```
//! Relaxed and Release/Acquire both allow the outcome; SeqCst stores compile to `xchg` and the
//! fence to `mfence`, which drain the store buffer. If `parallel` says NO, another job holds a
//! core and the counts drop to 0 for every ordering.

use clap::Parser;
use lockfree_lab::hw::{Pin, X86_TSO_NOTE};
use lockfree_lab::litmus::{run_on_cores, Litmus, Mode};

/// Memory-reordering litmus tests on real cores.
#[derive(Parser, Debug)]
struct Args {
    /// Rounds per ordering (1–100,000,000).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    rounds: u64,
    /// Run only this ordering (default: all four).
    #[arg(long, value_enum)]
    ordering: Option<Mode>,
    /// Do not pin the two threads to cores.
    #[arg(long)]
    no_pin: bool,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    let pin = if args.no_pin { Pin::None } else { Pin::Spread };
    let modes = args.ordering.map_or(Mode::ALL.to_vec(), |m| vec![m]);
    println!("SB (store buffering): both loads read 0");
    println!(
        "{:<18} {:>10} {:>11} {:>8}   parallel",
        "ordering", "rounds", "both-zero", "%"
    );
    for &mode in &modes {
        let run = run_on_cores(Litmus::StoreBuffering, mode, args.rounds, pin);
        println!(
            "{:<18} {:>10} {:>11} {:>7.2}%   {}",
            mode.name(),
            run.rounds,
            run.hits,
            run.hits as f64 * 100.0 / run.rounds as f64,
            if run.parallelism.ran_in_parallel() { "yes" } else { "NO" }
        );
        if !run.parallelism.ran_in_parallel() {
            println!("  {}", run.parallelism.verdict());
        }
    }
    let mp = run_on_cores(Litmus::MessagePassing, Mode::Relaxed, args.rounds, pin);
    println!(
        "MP (message passing) at relaxed: {} stale reads in {} rounds that saw ready ({} rounds)",
        mp.hits, mp.observed, mp.rounds
    );
    println!("{X86_TSO_NOTE}");
}
