//! # 05 — ABA in a Treiber stack, on your cores
//!
//! ci: --rounds 1000
//!
//! ```text
//! cargo run --release --example 05-stack-aba
//! cargo run --release --example 05-stack-aba -- --threads 2 --rounds 200000 --ops 2
//! cargo run --release --example 05-stack-aba -- --replay broken
//! ```
//!
//! Two threads pinned to different cores run many short rounds on a stack over a recycled node
//! arena: each round the stack starts with 4 values; each thread pops twice and pushes two new
//! values (`--ops` times), released together by a spinning barrier; then the stack is drained and
//! every value must come out exactly once. Expect, on a quiet 2-core machine (counts vary):
//!
//! ```text
//! variant   rounds  corrupted   duplicated  lost  cycles  parallel
//! broken    200000  ~100–5000   > 0         > 0   ≥ 0     yes
//! fixed     200000  0           0           0     0       yes
//! parallelism: yes — each thread was on a CPU 9x% of the run
//! ```
//! If the parallelism line says NO, another job holds a core and the corruption shrinks or
//! vanishes. `--replay broken|fixed` prints the A→B→A interleaving step by step instead (no
//! threads: the same steps every time). The checkers find it without luck:
//! `cargo test --test model stack::`.

use clap::Parser;
use lockfree_lab::hw::Pin;
use lockfree_lab::stack::{aba_replay, run_on_cores, Variant};

/// ABA on real cores: the untagged stack corrupts, the tagged one does not.
#[derive(Parser, Debug)]
struct Args {
    /// Threads (2–64; ABA needs at least two).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..=64))]
    threads: u16,
    /// Rounds per variant (1–100,000,000).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    rounds: u64,
    /// Pop-pop-push-push cycles per thread per round (1–64).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    ops: u16,
    /// Run only this variant (default: both).
    #[arg(long, value_enum)]
    variant: Option<Variant>,
    /// Print the deterministic A→B→A replay of this variant instead of running threads.
    #[arg(long, value_enum)]
    replay: Option<Variant>,
    /// Do not pin threads to cores.
    #[arg(long)]
    no_pin: bool,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    if let Some(variant) = args.replay {
        for step in aba_replay(variant) {
            println!("{step}");
        }
        return;
    }
    let pin = if args.no_pin { Pin::None } else { Pin::Spread };
    let variants = args.variant.map_or(vec![Variant::Broken, Variant::Fixed], |v| vec![v]);
    println!(
        "{:<8} {:>9} {:>10} {:>11} {:>8} {:>7}  parallel",
        "variant", "rounds", "corrupted", "duplicated", "lost", "cycles"
    );
    let mut last = None;
    for &variant in &variants {
        let run = run_on_cores(variant, args.threads as usize, args.rounds, args.ops as usize, pin);
        println!(
            "{:<8} {:>9} {:>10} {:>11} {:>8} {:>7}  {}",
            format!("{variant:?}").to_lowercase(),
            run.rounds,
            run.corrupted,
            run.duplicated,
            run.lost,
            run.cycles,
            if run.parallelism.ran_in_parallel() { "yes" } else { "NO" },
        );
        last = Some(run.parallelism);
    }
    if let Some(p) = last {
        println!("{}", p.verdict());
    }
}
