//! # 01 — the lost update, on your cores
//!
//! ci: --iterations 10000
//!
//! ```text
//! cargo run --release --example 01-counter-lost-update
//! cargo run --release --example 01-counter-lost-update -- --threads 2 --iterations 1000000 --method cas
//! ```
//!
//! Two threads, started together by a barrier and pinned to different cores, each add one to a
//! shared counter a million times. Expect, on a quiet 2-core machine:
//!
//! ```text
//! variant  method     expected    counted       lost   retries/op
//! broken   increment   2000000    ~0.8M–1.6M   ~20–60%       0
//! fixed    increment   2000000    2000000          0         0
//! broken   cas         2000000    < 2000000      > 0      > 0
//! fixed    cas         2000000    2000000          0      ~0.1–0.5
//! parallelism: yes — each thread was on a CPU 9x% of the run
//! ```
//! If the parallelism line says NO, another job holds a core and the losses shrink or vanish.
//! The model checkers find the same bug without luck: `cargo test --test model counter::`.

use clap::Parser;
use lockfree_lab::counter::{run_on_cores, Method, Variant};
use lockfree_lab::hw::Pin;

/// The lost update on real cores.
#[derive(Parser, Debug)]
struct Args {
    /// Threads incrementing the counter (1–64).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Increments per thread (1–1,000,000,000).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    iterations: u64,
    /// Run only this variant (default: both).
    #[arg(long, value_enum)]
    variant: Option<Variant>,
    /// Run only this increment method (default: both).
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Do not pin threads to cores.
    #[arg(long)]
    no_pin: bool,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    let pin = if args.no_pin { Pin::None } else { Pin::Spread };
    let variants = args.variant.map_or(vec![Variant::Broken, Variant::Fixed], |v| vec![v]);
    let methods = args.method.map_or(vec![Method::Increment, Method::Cas], |m| vec![m]);
    println!(
        "{:<8} {:<10} {:>12} {:>12} {:>12} {:>7} {:>11}  parallel",
        "variant", "method", "expected", "counted", "lost", "lost %", "retries/op"
    );
    let mut all_parallel = true;
    for &method in &methods {
        for &variant in &variants {
            let run = run_on_cores(variant, method, args.threads as usize, args.iterations, pin);
            all_parallel &= run.parallelism.ran_in_parallel();
            println!(
                "{:<8} {:<10} {:>12} {:>12} {:>12} {:>6.2}% {:>11.4}  {}",
                format!("{variant:?}").to_lowercase(),
                format!("{method:?}").to_lowercase(),
                run.expected,
                run.counted,
                run.lost(),
                run.lost() as f64 * 100.0 / run.expected as f64,
                run.retries as f64 / run.expected as f64,
                if run.parallelism.ran_in_parallel() { "yes" } else { "NO" },
            );
            if !run.parallelism.ran_in_parallel() {
                println!("  {}", run.parallelism.verdict());
            }
        }
    }
    if args.threads < 2 {
        println!("one thread cannot race with itself: expect 0 lost for every variant");
    } else if all_parallel {
        println!("parallelism: yes — every run had its threads on separate CPUs at the same time");
    }
}
