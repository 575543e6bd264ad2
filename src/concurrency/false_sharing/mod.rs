//! # False sharing: two variables, one cache line
//!
//! Two threads each update *their own* counter. If the two counters sit in one 64-byte cache
//! line, every write needs the line in Modified state in the writer's core, so the line
//! ping-pongs between the cores (MESI) and both threads slow down although they share no data.
//! `crossbeam_utils::CachePadded` puts each counter on its own line (128 bytes on x86-64,
//! because the adjacent-line prefetcher pulls lines in pairs).
//!
//! | layout      | two threads on two cores | both threads pinned to one core (control) |
//! |-------------|--------------------------|-------------------------------------------|
//! | same line   | slow: the line ping-pongs | fast: one core owns the line             |
//! | padded      | fast                     | fast                                       |
//!
//! No model checker sees this: it is a performance effect of caches, not a correctness bug.
//! Measured properly in `benches/false_sharing.rs`; `lockfree-lab run false-sharing` gives a
//! quick look.

pub mod demo;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::hw::{run_threads, Parallelism, Pin};

/// Two counters in one cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct SameLine {
    /// Thread 0's counter.
    pub a: AtomicU64,
    /// Thread 1's counter, 8 bytes after `a`.
    pub b: AtomicU64,
}

/// Two counters on separate cache lines.
#[derive(Debug, Default)]
pub struct Padded {
    /// Thread 0's counter.
    pub a: CachePadded<AtomicU64>,
    /// Thread 1's counter.
    pub b: CachePadded<AtomicU64>,
}

/// What one false-sharing run measured.
#[derive(Debug, Clone)]
pub struct CoreRun {
    /// Nanoseconds per increment, per thread (wall time of the parallel section / increments).
    pub ns_per_op: f64,
    /// How much the threads overlapped.
    pub parallelism: Parallelism,
}

fn hammer(counter: &AtomicU64, iterations: u64) {
    for _ in 0..iterations {
        // ORDERING: Relaxed [fs-count] — each counter is private to its thread; only the cache line is shared.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Two threads each increment their own counter `iterations` times, `padded` or on one line.
pub fn run_on_cores(padded: bool, iterations: u64, pin: Pin) -> CoreRun {
    let same = SameLine::default();
    let pad = Padded::default();
    let (_, parallelism) = run_threads(2, pin, |i| {
        let counter = match (padded, i) {
            (false, 0) => &same.a,
            (false, _) => &same.b,
            (true, 0) => &*pad.a,
            (true, _) => &*pad.b,
        };
        hammer(counter, iterations);
    });
    let wall: Duration = parallelism.wall;
    CoreRun {
        ns_per_op: wall.as_nanos() as f64 / iterations as f64,
        parallelism,
    }
}
