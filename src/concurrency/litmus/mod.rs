//! # Memory-reordering litmus tests: what each ordering forbids
//!
//! Three classic two-to-four-thread programs, each run at four [`Mode`]s. The lesson: an
//! ordering is a promise about *which outcomes are impossible*. The checker and the hardware
//! show which outcomes remain possible.
//!
//! ## Message passing (MP) — [`real::mp`]
//! ```text
//! writer: data = 42; ready = true        reader: if ready { r = data }
//! ```
//! Forbidden outcome: `ready == true && r == 0` (a **stale read**).
//!
//! | mode              | stale read? | why                                                       |
//! |-------------------|-------------|-----------------------------------------------------------|
//! | Relaxed           | allowed     | no happens-before edge from the data store to the data load |
//! | Release/Acquire   | forbidden   | edge `[mp-ready]`: Release store → Acquire load that reads it |
//! | SeqCst            | forbidden   | SeqCst implies Release/Acquire                             |
//! | `fence(SeqCst)`   | forbidden   | edge `[mp-fence]`: fence → fence, via the relaxed flag       |
//!
//! Failing interleaving at Relaxed (loom finds it at execution 1–3):
//! 1. writer stores `data = 42` (Relaxed); 2. writer stores `ready = true` (Relaxed);
//! 3. reader loads `ready` → true; 4. reader loads `data` → **0**: nothing made the first store
//!    visible before the second.
//!
//! ## Store buffering (SB) — [`real::sb`]
//! ```text
//! A: x = 1; r1 = y                        B: y = 1; r2 = x
//! ```
//! Forbidden by sequential consistency: `r1 == 0 && r2 == 0` (**both loads read 0**).
//!
//! | mode              | both zero?  | why                                                       |
//! |-------------------|-------------|-----------------------------------------------------------|
//! | Relaxed           | allowed     | nothing orders a store before a later load               |
//! | Release/Acquire   | allowed     | Release orders what comes *before* a store, Acquire what comes *after* a load; store→load is neither |
//! | SeqCst            | forbidden   | one total order over all four SeqCst operations          |
//! | `fence(SeqCst)`   | forbidden   | edge `[sb-fence]`: the two fences are totally ordered     |
//!
//! x86 shows this one for real: each core's store waits in its store buffer while its load runs
//! ahead (`examples/02-litmus-store-buffering.rs`: ≈1–2 % of rounds at Relaxed and
//! Release/Acquire, 0 at SeqCst — the compiler emits `xchg` or `mfence` for it).
//!
//! ## IRIW — [`real::iriw`]
//! Two writers (`x = 1`, `y = 1`), two readers reading in opposite orders. Forbidden under
//! SeqCst: the readers **disagree** on which write came first. Allowed at Release/Acquire by the
//! C++ model (POWER does it); x86 is multi-copy atomic and never shows it.
//!
//! ## What the checkers see
//! | test     | loom                                         | shuttle                        | real x86-64       |
//! |----------|----------------------------------------------|--------------------------------|-------------------|
//! | MP       | stale read found at Relaxed; never at R/A    | **blind**: every atomic is SeqCst | never (TSO keeps stores and loads in order) |
//! | SB       | both-zero found at Relaxed and R/A; never with `fence(SeqCst)` | **blind** | ≈1–2 % at Relaxed and R/A |
//! | IRIW     | disagreement found at R/A; never with fences  | **blind**                      | never             |
//!
//! **loom's false positive (loom issue #180):** loom models a SeqCst *load or store* as
//! Acquire/Release, so SB written with SeqCst loads and stores (correct code) is reported as
//! both-zero. Use `fence(SeqCst)`, which loom models exactly. `loom-tests/litmus.rs` keeps a test
//! that shows the false verdict.
//!
//! Sources: Sewell et al., "x86-TSO" (CACM 2010); Alglave et al., "Herding cats" (TOPLAS 2014);
//! Jeff Preshing, "Memory Reordering Caught in the Act" (2012); loom's README and issue #180.

use std::fmt;

pub mod demo;

backends! {
    /// Message passing.
    mp => "mp.rs",
    /// Store buffering.
    sb => "sb.rs",
    /// Independent reads of independent writes.
    iriw => "iriw.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

/// The orderings a litmus test runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// Every access `Relaxed`.
    Relaxed,
    /// Stores `Release`, loads `Acquire`.
    #[value(name = "release-acquire")]
    ReleaseAcquire,
    /// Every access `SeqCst`.
    #[value(name = "seqcst")]
    SeqCst,
    /// Every access `Relaxed`, with a `fence(SeqCst)` between each thread's two accesses.
    #[value(name = "fence-seqcst")]
    FenceSeqCst,
}

impl Mode {
    /// Every mode, weakest first.
    pub const ALL: [Mode; 4] = [Mode::Relaxed, Mode::ReleaseAcquire, Mode::SeqCst, Mode::FenceSeqCst];

    /// The ordering of a flag store.
    pub fn store(self) -> std::sync::atomic::Ordering {
        use std::sync::atomic::Ordering::*;
        match self {
            Mode::Relaxed | Mode::FenceSeqCst => Relaxed,
            Mode::ReleaseAcquire => Release,
            Mode::SeqCst => SeqCst,
        }
    }

    /// The ordering of a flag load.
    pub fn load(self) -> std::sync::atomic::Ordering {
        use std::sync::atomic::Ordering::*;
        match self {
            Mode::Relaxed | Mode::FenceSeqCst => Relaxed,
            Mode::ReleaseAcquire => Acquire,
            Mode::SeqCst => SeqCst,
        }
    }

    /// The ordering of a payload access ordered by a flag (MP's `data`).
    pub fn payload(self) -> std::sync::atomic::Ordering {
        use std::sync::atomic::Ordering::*;
        match self {
            Mode::SeqCst => SeqCst,
            _ => Relaxed,
        }
    }

    /// The name the command line accepts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Relaxed => "relaxed",
            Mode::ReleaseAcquire => "release-acquire",
            Mode::SeqCst => "seqcst",
            Mode::FenceSeqCst => "fence-seqcst",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The litmus tests that run on real cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Litmus {
    /// Message passing: counts stale reads.
    #[value(name = "mp")]
    MessagePassing,
    /// Store buffering: counts both-zero outcomes.
    #[value(name = "sb")]
    StoreBuffering,
}

/// What one real-hardware litmus run saw.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Rounds run.
    pub rounds: u64,
    /// Rounds that showed the forbidden-by-SC outcome (stale read / both zero).
    pub hits: u64,
    /// MP only: rounds in which the reader saw `ready` at all.
    pub observed: u64,
    /// How much the two threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// A random 0–7 iteration spin before each round's operation, so the two threads' critical
/// instructions line up in some rounds (Preshing's method).
fn jitter(state: &mut u64) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    for _ in 0..(*state & 7) {
        std::hint::spin_loop();
    }
}

/// Runs `rounds` rounds of `test` at `mode` on two threads; thread 0 is the writer (MP) or
/// thread A (SB), thread 1 the reader or thread B.
pub fn run_on_cores(test: Litmus, mode: Mode, rounds: u64, pin: crate::hw::Pin) -> CoreRun {
    let mp = real::mp::MessagePassing::default();
    let sb = real::sb::StoreBuffering::default();
    let barrier = crate::hw::SpinBarrier::new(2);
    let (results, parallelism) = crate::hw::run_threads(2, pin, |me| {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (me as u64 + 1);
        let mut outcomes = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            if me == 0 {
                mp.reset();
                sb.reset();
            }
            barrier.wait();
            jitter(&mut rng);
            let outcome = match (test, me) {
                (Litmus::MessagePassing, 0) => {
                    mp.write(mode);
                    None
                }
                (Litmus::MessagePassing, _) => mp.read(mode),
                (Litmus::StoreBuffering, 0) => Some(sb.thread_a(mode)),
                (Litmus::StoreBuffering, _) => Some(sb.thread_b(mode)),
            };
            outcomes.push(outcome);
            barrier.wait();
        }
        outcomes
    });
    let (a, b) = (&results[0], &results[1]);
    let (mut hits, mut observed) = (0, 0);
    for (ra, rb) in a.iter().zip(b) {
        match test {
            Litmus::MessagePassing => {
                if let Some(data) = rb {
                    observed += 1;
                    hits += u64::from(*data != real::mp::MESSAGE);
                }
            }
            Litmus::StoreBuffering => hits += u64::from(*ra == Some(0) && *rb == Some(0)),
        }
    }
    CoreRun {
        rounds,
        hits,
        observed,
        parallelism,
    }
}
