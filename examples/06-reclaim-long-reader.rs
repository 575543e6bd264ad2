//! # 06 — a long-held reader stalls epoch reclamation
//!
//! ci: --updates 1000
//!
//! ```text
//! cargo run --release --example 06-reclaim-long-reader
//! cargo run --release --example 06-reclaim-long-reader -- --updates 100000
//! ```
//!
//! A reader pins a crossbeam-epoch guard and keeps it while a writer publishes `--updates` new
//! versions of an RCU cell, flushing its garbage after each. Nothing retired after the reader
//! pinned can be freed until it unpins; then a few flushes free it all. Expect (exact counts for
//! the default 10,000 updates; the flush count varies):
//!
//! ```text
//! reader pinned:   retired  10000  reclaimed      0  (the reader still reads version 0)
//! reader unpinned: retired  10000  reclaimed  10000  after ~1000–1500 flushes
//! ```
//! A service that holds a guard across slow work sees exactly this as memory growth (crossbeam
//! issues #566 and #540). Keep read-side sections short, or `repin` in long loops. The
//! hand-written cells and the checkers' verdicts: `cargo test --test model reclaim::`.

use clap::Parser;

/// Epoch reclamation stalls while one reader stays pinned.
#[derive(Parser, Debug)]
struct Args {
    /// Versions the writer publishes while the reader is pinned (1–10,000,000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    updates: u64,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    let run = lockfree_lab::reclaim::epoch_cell::long_reader(args.updates as usize);
    println!("{run}");
}
