//! # MESI coherence: measured between your cores, and checked as a protocol
//!
//! Every core keeps a private copy of the cache lines it uses, and MESI keeps those copies from
//! disagreeing. Each cache holds each line in one of four states:
//!
//! | state | meaning                          | may read | may write                         | memory     |
//! |-------|----------------------------------|----------|-----------------------------------|------------|
//! | **M** Modified  | the only copy, dirty   | yes      | yes                               | stale      |
//! | **E** Exclusive | the only copy, clean   | yes      | yes, silently becoming M          | up to date |
//! | **S** Shared    | one of several clean copies | yes | only after invalidating the others (BusUpgr) | up to date |
//! | **I** Invalid   | no copy                | miss (BusRd)  | miss (BusRdX, read for ownership) | —          |
//!
//! The invariant that makes it coherent is **single-writer / multiple-reader (SWMR)**: at any
//! instant a line is either writable by exactly one core (M or E, every other copy I) or
//! readable by any number (S, nobody in M or E). Together with "memory, or the M copy, holds the
//! last write", it means a read returns the last write.
//!
//! ## Measured (`lockfree-lab run mesi`)
//!
//! What each transition costs between two of *your* cores, for every pair ([`latency`]): a
//! helper core puts a set of cache lines in a state (it writes them: M in its cache), then the
//! measuring core walks them with **dependent** accesses in a random order (each access's address
//! comes from the previous one's value, so the CPU cannot overlap them and no prefetcher can
//! guess the next line): ns per access, median over rounds.
//!
//! | row                | the helper did   | the measuring core does         | transition               |
//! |--------------------|------------------|---------------------------------|--------------------------|
//! | local hit          | —                | loads lines it wrote itself     | hit in M                 |
//! | read-shared hit    | wrote them, then re-read them after the measuring core's read | loads them again | hit in S |
//! | read after remote write | wrote them  | loads them                      | I → S, the writer M → S  |
//! | write to a remote M line | wrote them | `swap`s them (a locked RMW)     | I → M, the writer M → I (RFO) |
//! | write to a shared line | as for the shared hit | `swap`s them | S → M, the other S → I (upgrade) |
//! | local RMW          | —                | `swap`s lines it wrote itself   | hit in M (the RMW's own cost) |
//! | ping-pong one-way  | compare-exchange ping-pong on one line, round trip / 2 (nviennot's method) | | |
//!
//! A write is timed as an atomic `swap` (x86 `xchg`, a locked instruction) because a plain store
//! retires into the store buffer and its coherence cost would be hidden; the lock waits for the
//! line in M. The "local RMW" row is that instruction's own cost, so the coherence cost of a
//! remote write is roughly its row minus the local RMW's.
//!
//! **What this machine cannot show.** No hardware counters in a VM, so the state of a line is
//! inferred from what the cores did, not read from the cache. Hypervisor vCPUs may be moved
//! between physical cores, and other guests share the L3: the figures are noisy, and two vCPUs
//! may even be SMT siblings of one physical core (then a "remote" transfer stays inside one L1/L2).
//! AMD's MOESI (and Intel's MESIF) add an Owned (Forward) state, so "read after remote write"
//! may leave the writer's copy O rather than S: same transfer cost, different letter. And a
//! first read of a dirty remote line may take it whole rather than share it: on this project's
//! AMD EPYC VM, a write right after such a read cost no more than a local RMW (consistent with
//! AMD's migratory-sharing handling). So the two "shared" rows have the helper read the lines
//! *again* after the measuring core did, which leaves both cores really holding them.
//!
//! **Anchor:** nviennot's `core-to-core-latency` (CAS ping-pong, one-way = round trip / 2)
//! publishes 20–51 ns between cores of one socket and 108–136 ns across sockets; the ping-pong
//! row is the same measurement.
//!
//! ## Checked (`lockfree-lab check mesi`, `lockfree-lab step mesi`)
//!
//! A model of the protocol ([`real::fixed::Bus`] and its broken twin), every cache a thread and the
//! bus (equivalently, a directory) shared state: one transaction at a time, each a whole access
//! — the "atomic bus" baseline of Sorin, Hill & Wood, *A Primer on Memory Consistency and Cache
//! Coherence* (2nd ed., 2020), ch. 7. An oracle (`latest`, the value of the last write in bus
//! order) lets every read be checked.
//!
//! **The pair** (`diff src/cpu/mesi/broken.rs src/cpu/mesi/fixed.rs`): on a write that hits in
//! S, the fixed cache broadcasts an upgrade (BusUpgr) that invalidates every other copy before
//! writing; the broken one upgrades to M silently, as if the line were E.
//!
//! **The failing interleaving** (the seed's two cores, `step mesi` plays it on the real model):
//! 1. A reads: a miss, nobody else has the line: A gets it **E**.
//! 2. B reads: a miss; A snoops the BusRd and drops to **S**; B gets **S**.
//! 3. A writes 1: a hit in S. Broken: no BusUpgr, A goes **M** while B stays **S** —
//!    SWMR is broken. Fixed: B is invalidated (**I**) first.
//! 4. B reads: broken: a hit in its S copy: **0, a stale read** (the last write was 1). Fixed:
//!    a miss; A supplies the line (M → S, memory updated): 1.
//!
//! | checker        | verdict |
//! |----------------|---------|
//! | loom           | found (46 executions): the stale read, or with the SWMR check on, the state after step 3 |
//! | shuttle random / PCT | found: an interleaving bug, which shuttle's sequentially consistent atomics see |
//! | (three caches) | shuttle only: four loom threads on a spin-locked bus exceed loom's 1,000-branch limit |
//! | real cores     | the model on real threads (`run mesi` notes, the matrix's hardware cell): stale reads counted |
//!
//! Real hardware never runs the broken protocol: it is a model of a cache controller's logic,
//! which a verification engineer would check exactly like this (Murφ and TLA+ models of MESI
//! find the same counterexample). The bus lock's Release/Acquire is the model's own
//! synchronization, not the hardware's.
//!
//! Sources: M. S. Papamarcos & J. H. Patel, "A low-overhead coherence solution for
//! multiprocessors with private cache memories" (ISCA 1984, the Illinois protocol, MESI);
//! Sorin, Hill & Wood (above); nviennot/core-to-core-latency (README figures); Intel 64 and
//! IA-32 Optimization Reference Manual (locked instructions wait for ownership of the line).

use std::fmt;

pub mod demo;
pub mod latency;
pub mod replay;
pub mod topology;

backends! {
    /// The broken protocol: a write hit in S does not invalidate the other copies.
    broken => "broken.rs",
    /// The fixed protocol: a write hit in S broadcasts BusUpgr first.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom, shuttle and real threads.
    scenario => "scenario.rs",
}

/// The most cores (caches) a model bus takes.
pub const MAX_CORES: usize = 8;

/// A line's state in one cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    /// Modified: the only copy, dirty.
    M,
    /// Exclusive: the only copy, clean.
    E,
    /// Shared: one of possibly several clean copies.
    S,
    /// Invalid: no copy.
    I,
}

impl State {
    /// The value the model's state word holds.
    pub const fn code(self) -> u32 {
        match self {
            State::I => 0,
            State::S => 1,
            State::E => 2,
            State::M => 3,
        }
    }

    /// The state of a code.
    ///
    /// # Panics
    /// On a code above 3 (the model never writes one).
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => State::I,
            1 => State::S,
            2 => State::E,
            3 => State::M,
            _ => panic!("not a MESI state code: {code}"),
        }
    }

    /// The seed's word for it.
    pub fn name(self) -> &'static str {
        match self {
            State::M => "Modified",
            State::E => "Exclusive",
            State::S => "Shared",
            State::I => "Invalid",
        }
    }

    /// True for M and E: the holder may write without telling anyone.
    pub fn writable(self) -> bool {
        matches!(self, State::M | State::E)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::M => "M",
            State::E => "E",
            State::S => "S",
            State::I => "I",
        })
    }
}

/// Core `c`'s name as the seed draws it: A, B, C…
pub fn core_name(core: usize) -> String {
    match u8::try_from(core) {
        Ok(c) if c < 26 => char::from(b'A' + c).to_string(),
        _ => format!("#{core}"),
    }
}

/// `A: M · B: S`, the seed's one-line summary.
pub fn states_line(states: &[State]) -> String {
    states
        .iter()
        .enumerate()
        .map(|(c, s)| format!("{}: {s}", core_name(c)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The single-writer/multiple-reader invariant over one line's states: at most one core in M or
/// E, and then every other core in I. The error names the offending cores.
pub fn check_swmr(states: &[State]) -> Result<(), String> {
    let writers: Vec<usize> = (0..states.len()).filter(|&c| states[c].writable()).collect();
    match writers.as_slice() {
        [] => Ok(()),
        [w] => match (0..states.len()).find(|&c| c != *w && states[c] != State::I) {
            None => Ok(()),
            Some(other) => Err(format!(
                "{} holds the line {} while {} still holds it {} ({})",
                core_name(*w),
                states[*w],
                core_name(other),
                states[other],
                states_line(states)
            )),
        },
        many => Err(format!(
            "{} cores hold the line writable at once ({})",
            many.len(),
            states_line(states)
        )),
    }
}

/// What one read did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The reading core.
    pub core: usize,
    /// The value it got.
    pub value: u64,
    /// The last write, in bus order (the oracle).
    pub latest: u64,
    /// Its state before the read (I: a miss).
    pub before: State,
    /// Its state after.
    pub after: State,
    /// Every core's state right after the read.
    pub states: Vec<State>,
}

impl Read {
    /// Why the read is stale, if it is: it returned something other than the last write.
    pub fn stale(&self) -> Option<String> {
        (self.value != self.latest).then(|| {
            let swmr = match check_swmr(&self.states) {
                Err(why) => format!("single-writer/multiple-reader is broken: {why}"),
                Ok(()) => states_line(&self.states),
            };
            format!(
                "core {} read {} from its {} copy, but the last write was {}; {swmr}",
                core_name(self.core),
                self.value,
                self.before,
                self.latest
            )
        })
    }
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.before == State::I { "miss" } else { "hit" };
        write!(
            f,
            "{} read -> {} ({how} in {}, now {})",
            core_name(self.core),
            self.value,
            self.before,
            self.after
        )
    }
}

/// What one write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The writing core.
    pub core: usize,
    /// The value written.
    pub value: u64,
    /// Its state before the write (I: a miss; S: an upgrade).
    pub before: State,
    /// Every core's state right after the write.
    pub states: Vec<State>,
}

impl fmt::Display for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} write {} ({} -> M)",
            core_name(self.core),
            self.value,
            self.before
        )
    }
}

/// What the model scenarios need of a bus, on every backend.
pub trait Coherent: Send + Sync + 'static {
    /// A bus with `cores` caches, the line 0 in memory and Invalid everywhere.
    fn new(cores: usize) -> Self;
    /// Core `core` loads the line.
    fn read(&self, core: usize) -> Read;
    /// Core `core` stores `value`.
    fn write(&self, core: usize, value: u64) -> Write;
    /// Every core's state and copy, and memory's value.
    fn snapshot(&self) -> (Vec<(State, u64)>, u64);
}

macro_rules! impl_coherent {
    ($($backend:ident::$variant:ident),+) => {$(
        impl Coherent for $backend::$variant::Bus {
            fn new(cores: usize) -> Self {
                $backend::$variant::Bus::new(cores)
            }
            fn read(&self, core: usize) -> Read {
                $backend::$variant::Bus::read(self, core)
            }
            fn write(&self, core: usize, value: u64) -> Write {
                $backend::$variant::Bus::write(self, core, value)
            }
            fn snapshot(&self) -> (Vec<(State, u64)>, u64) {
                $backend::$variant::Bus::snapshot(self)
            }
        }
    )+};
}
impl_coherent!(
    real::broken,
    real::fixed,
    loom::broken,
    loom::fixed,
    shuttle::broken,
    shuttle::fixed
);

/// What the protocol model did on real threads.
#[derive(Clone, Debug)]
pub struct ModelRun {
    /// Reads performed, over every core.
    pub reads: u64,
    /// Reads that returned something other than the last write.
    pub stale: u64,
    /// Transactions after which the states broke single-writer/multiple-reader.
    pub swmr_violations: u64,
    /// How much the threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// Runs the protocol model on `cores` real threads (pinned as `pin` says), one per model cache:
/// each does `ops` accesses, a write every fourth (of a value unique to it), and counts the
/// stale reads and the SWMR violations it saw.
///
/// # Panics
/// If `cores` is 0 or above [`MAX_CORES`].
pub fn run_model<B: Coherent>(cores: usize, ops: u64, pin: crate::hw::Pin) -> ModelRun {
    let bus = B::new(cores);
    let (results, parallelism) = crate::hw::run_threads(cores, pin, |core| {
        let (mut reads, mut stale, mut swmr) = (0u64, 0u64, 0u64);
        for i in 0..ops {
            let states = if i % 4 == 3 {
                bus.write(core, (i + 1) * MAX_CORES as u64 + core as u64).states
            } else {
                let read = bus.read(core);
                reads += 1;
                stale += u64::from(read.stale().is_some());
                read.states
            };
            swmr += u64::from(check_swmr(&states).is_err());
        }
        (reads, stale, swmr)
    });
    ModelRun {
        reads: results.iter().map(|r| r.0).sum(),
        stale: results.iter().map(|r| r.1).sum(),
        swmr_violations: results.iter().map(|r| r.2).sum(),
        parallelism,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swmr_accepts_the_legal_states() {
        use State::*;
        for ok in [&[I, I][..], &[M, I], &[E, I], &[S, S], &[S, I, S], &[I, I, E]] {
            assert!(check_swmr(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn swmr_rejects_a_writer_beside_a_copy() {
        use State::*;
        for bad in [&[M, S][..], &[E, S], &[M, M], &[S, I, M], &[E, E, I]] {
            assert!(check_swmr(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_swmr(&[M, S]).unwrap_err(),
            "A holds the line M while B still holds it S (A: M · B: S)"
        );
    }

    #[test]
    fn state_codes_round_trip() {
        for s in [State::M, State::E, State::S, State::I] {
            assert_eq!(State::from_code(s.code()), s);
        }
    }

    #[test]
    fn the_seed_scene_on_the_real_model() {
        let fixed = real::fixed::Bus::new(2);
        fixed.read(0);
        fixed.read(1);
        fixed.write(0, 1);
        let r = fixed.read(1);
        assert_eq!((r.value, r.before), (1, State::I), "fixed: B misses and gets A's write");

        let broken = real::broken::Bus::new(2);
        broken.read(0);
        broken.read(1);
        let w = broken.write(0, 1);
        assert_eq!(w.states, vec![State::M, State::S], "broken: B keeps its S copy");
        let r = broken.read(1);
        assert_eq!((r.value, r.before), (0, State::S), "broken: B hits its stale copy");
        assert!(r.stale().unwrap().contains("single-writer/multiple-reader is broken"));
    }

    #[test]
    fn the_fixed_model_on_real_threads_never_goes_stale() {
        let fixed = run_model::<real::fixed::Bus>(2, 2_000, crate::hw::Pin::Spread);
        assert_eq!((fixed.stale, fixed.swmr_violations), (0, 0));
        assert!(fixed.reads > 0);
    }
}
