//! # 03 — the SPSC ring on your cores, and why x86 cannot show its Relaxed-publish bug
//!
//! ci: --items 10000
//!
//! ```text
//! cargo run --release --example 03-spsc-relaxed-publish
//! cargo run --release --example 03-spsc-relaxed-publish -- --capacity 1 --items 1000000
//! ```
//!
//! A producer and a consumer, pinned to different cores, stream sequence numbers through the
//! fixed ring (`spsc::real::fixed`) and the consumer checks that every one arrives in order.
//! Expect, on a quiet 2-core x86 machine:
//!
//! ```text
//! ring     capacity      items   in order  mismatches   full pushes    M items/s  parallel
//! fixed          64   10000000   10000000           0          ~1e5–1e7     ~20–200  yes
//! broken: not run on real threads: the broken ring's bug is a data race on the slots ... loom shows it: cargo test --test model spsc::loom_broken
//! parallelism: yes — each thread was on a CPU 9x% of the run
//! ```
//! The broken ring (Relaxed `tail` publish, Relaxed `head` load) is a data race on plain memory —
//! undefined behaviour — so it is not run here; on x86 it would pass anyway (TSO keeps the
//! stores, and the loads, in order). The model checker shows it:
//! `cargo test --test model spsc::loom_broken -- --nocapture` prints the failing interleaving.
//! `--capacity 0` prints one line and exits with code 2.

use clap::Parser;
use lockfree_lab::hw::Pin;
use lockfree_lab::spsc::{run_on_cores, X86_NOTE};

/// The fixed SPSC ring on real cores.
#[derive(Parser, Debug)]
struct Args {
    /// Slots in the ring (at least 1).
    #[arg(long, default_value_t = 64)]
    capacity: usize,
    /// Items to stream (1–1,000,000,000).
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    items: u64,
    /// Do not pin the two threads to cores.
    #[arg(long)]
    no_pin: bool,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    let pin = if args.no_pin { Pin::None } else { Pin::Spread };
    let run = run_on_cores(args.capacity, args.items, pin)
        .unwrap_or_else(|e| lockfree_lab::cli::usage_error(format_args!("invalid value for '--capacity': {e}")));
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>11} {:>13} {:>12}  parallel",
        "ring", "capacity", "items", "in order", "mismatches", "full pushes", "M items/s"
    );
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>11} {:>13} {:>12.1}  {}",
        "fixed",
        args.capacity,
        run.items,
        run.in_order,
        run.mismatches,
        run.full,
        run.items_per_sec / 1e6,
        if run.parallelism.ran_in_parallel() { "yes" } else { "NO" },
    );
    println!("broken: not run on real threads: {X86_NOTE}");
    println!("{}", run.parallelism.verdict());
    if run.mismatches != 0 {
        eprintln!("error: the fixed ring delivered {} items out of order", run.mismatches);
        std::process::exit(1);
    }
}
