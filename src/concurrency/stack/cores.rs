//! The ABA race on real cores: short rounds of pops and pushes by threads released together,
//! each round checked by draining the stack and accounting for every value.

use std::collections::HashMap;

use super::{real, Lifo, Local, Variant};

/// What one real-hardware run did.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Rounds run.
    pub rounds: u64,
    /// Rounds after which some value came out twice, was lost, or the stack was a cycle.
    pub corrupted: u64,
    /// Values that came out more than once (summed over rounds).
    pub duplicated: u64,
    /// Values pushed that never came out (summed over rounds).
    pub lost: u64,
    /// Rounds that ended with a cycle.
    pub cycles: u64,
    /// How much the threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// Runs `rounds` short rounds on `threads` threads. Each round the stack starts with `2 ×
/// threads` values; every thread pops twice and pushes two new values, `ops` times, all
/// released together by a spinning barrier; then thread 0 drains the stack and checks that every
/// value came out exactly once.
pub fn run_on_cores(variant: Variant, threads: usize, rounds: u64, ops: usize, pin: crate::hw::Pin) -> CoreRun {
    match variant {
        Variant::Broken => rounds_on_cores::<real::broken::Stack>(threads, rounds, ops, pin),
        Variant::Fixed => rounds_on_cores::<real::fixed::Stack>(threads, rounds, ops, pin),
    }
}

fn rounds_on_cores<S: Lifo>(threads: usize, rounds: u64, ops: usize, pin: crate::hw::Pin) -> CoreRun {
    let initial = 2 * threads as u64;
    let capacity = (initial as usize) + 2 * threads * ops;
    let stack = S::with_capacity(capacity);
    let barrier = crate::hw::SpinBarrier::new(threads);
    let popped = std::sync::Mutex::new(Vec::new());
    let pushed = std::sync::Mutex::new(Vec::new());
    let (results, parallelism) = crate::hw::run_threads(threads, pin, |t| {
        let mut local = Local::default();
        let mut tally = [0u64; 4]; // corrupted, duplicated, lost, cycles
        for round in 0..rounds {
            local.clear();
            if t == 0 {
                stack.reset();
                for v in 1..=initial {
                    let _ = stack.push(&mut local, v);
                }
                popped.lock().unwrap().clear();
                *pushed.lock().unwrap() = (1..=initial).collect::<Vec<u64>>();
            }
            barrier.wait();
            let mut mine = Vec::new();
            let mut my_pushes = Vec::new();
            for k in 0..ops as u64 {
                mine.extend(stack.pop(&mut local));
                mine.extend(stack.pop(&mut local));
                for j in 0..2 {
                    let v = 1_000 + ((t as u64 * ops as u64 + k) * 2 + j);
                    if stack.push(&mut local, v).is_ok() {
                        my_pushes.push(v);
                    }
                }
            }
            popped.lock().unwrap().extend(mine);
            pushed.lock().unwrap().extend(my_pushes);
            barrier.wait();
            if t == 0 {
                let mut out = std::mem::take(&mut *popped.lock().unwrap());
                let pushed = std::mem::take(&mut *pushed.lock().unwrap());
                let mut drained = 0;
                let mut cycle = false;
                while let Some(v) = stack.pop(&mut local) {
                    out.push(v);
                    drained += 1;
                    if drained > capacity {
                        cycle = true;
                        break;
                    }
                }
                let mut counts: HashMap<u64, u64> = pushed.iter().map(|&v| (v, 0)).collect();
                for v in &out {
                    *counts.entry(*v).or_default() += 1;
                }
                let dup: u64 = counts.values().map(|&n| n.saturating_sub(1)).sum();
                let lost = counts.values().filter(|&&n| n == 0).count() as u64;
                if dup > 0 || lost > 0 || cycle {
                    tally[0] += 1;
                }
                tally[1] += dup;
                tally[2] += lost;
                tally[3] += u64::from(cycle);
            }
            let _ = round;
            barrier.wait();
        }
        tally
    });
    let t = results[0];
    CoreRun {
        rounds,
        corrupted: t[0],
        duplicated: t[1],
        lost: t[2],
        cycles: t[3],
        parallelism,
    }
}
