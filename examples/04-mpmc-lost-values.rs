//! # 04 — the MPMC queue without per-slot stamps loses values on your cores
//!
//! ci: --items 10000
//!
//! ```text
//! cargo run --release --example 04-mpmc-lost-values
//! cargo run --release --example 04-mpmc-lost-values -- --capacity 2 --producers 1 --consumers 1 --items 1000000
//! ```
//!
//! Producers push distinct values, consumers pop them, and afterwards every value is counted:
//! pushed values never popped (**lost**), popped twice (**duplicated**), and popped values nobody
//! pushed (**phantom**: a slot read before its producer wrote it). The payloads are `AtomicU64`s
//! (`mpmc::real::slot::AtomicSlot`), so the broken queue's races give wrong values, not undefined
//! behaviour. Expect, on a quiet 2-core machine (counts vary from run to run):
//!
//! ```text
//! variant  capacity  threads     pushed     popped       lost  duplicated    phantom  parallel
//! broken          4    1P+1C    2000000    2000000     ~1k–50k     ~1k–50k        ~0  yes
//! fixed           4    1P+1C    2000000    2000000          0           0          0  yes
//! parallelism: yes — each thread was on a CPU 9x% of the run
//! ```
//! (Measured on a shared 2-vCPU VM: broken lost 18,929 and duplicated 18,929 of 2,000,000, no
//! phantom: the consumer most often reads a slot that the producer has just overwritten.)
//! If the parallelism line says NO, another job holds a core: the threads take turns and the
//! broken queue may lose nothing. The model checkers find the bug without luck:
//! `cargo test --test model mpmc::broken`. `--capacity 0` prints one line and exits with code 2.

use clap::Parser;
use lockfree_lab::hw::Pin;
use lockfree_lab::mpmc::real::{fixed::Queue, slot::AtomicSlot};
use lockfree_lab::mpmc::{run_on_cores, Variant};

/// The broken and fixed MPMC queues on real cores.
#[derive(Parser, Debug)]
struct Args {
    /// Slots in the queue (at least 1).
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Producer threads (1–16).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    producers: u16,
    /// Consumer threads (1–16).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    consumers: u16,
    /// Values per producer (1–100,000,000).
    #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    items: u64,
    /// Run only this variant (default: both).
    #[arg(long, value_enum)]
    variant: Option<Variant>,
    /// Do not pin threads to cores.
    #[arg(long)]
    no_pin: bool,
}

fn main() {
    let args: Args = lockfree_lab::cli::parse();
    let pin = if args.no_pin { Pin::None } else { Pin::Spread };
    let variants = args.variant.map_or(vec![Variant::Broken, Variant::Fixed], |v| vec![v]);
    if let Err(e) = Queue::<u64, AtomicSlot>::try_new(args.capacity) {
        lockfree_lab::cli::usage_error(format_args!("invalid value for '--capacity': {e}"));
    }
    println!(
        "{:<8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>11} {:>10}  parallel",
        "variant", "capacity", "threads", "pushed", "popped", "lost", "duplicated", "phantom"
    );
    let mut fixed_ok = true;
    let mut verdict = String::new();
    for variant in variants {
        let run = run_on_cores(
            variant,
            args.capacity,
            args.producers as usize,
            args.consumers as usize,
            args.items,
            pin,
        )
        .unwrap_or_else(|e| lockfree_lab::cli::usage_error(format_args!("invalid value for '--capacity': {e}")));
        println!(
            "{:<8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>11} {:>10}  {}",
            variant,
            args.capacity,
            format!("{}P+{}C", args.producers, args.consumers),
            run.pushed,
            run.popped,
            run.lost,
            run.duplicated,
            run.phantom,
            if run.parallelism.ran_in_parallel() { "yes" } else { "NO" },
        );
        if variant == Variant::Fixed {
            fixed_ok = run.lost == 0 && run.duplicated == 0 && run.phantom == 0;
        }
        verdict = run.parallelism.verdict();
    }
    println!("{verdict}");
    if !fixed_ok {
        eprintln!("error: the fixed queue lost or duplicated values");
        std::process::exit(1);
    }
}
