//! The measured half: what each MESI transition costs between two real cores.
//!
//! Two threads, pinned: the **measuring** core and a **helper**. Per round the helper (or the
//! measuring core itself) puts `lines` cache lines (each on its own 128-byte block, so the
//! adjacent-line prefetcher pairs nothing) into a known state, and the measuring core walks them
//! once with dependent accesses: each line holds the index of the next in a random cycle
//! (Sattolo's algorithm), so every access waits for the previous one and no prefetcher can guess
//! the next. ns per access = the walk's time / `lines`; the figure is the median over rounds.
//! See the module doc of [`super`] for the transitions and why writes are timed as `swap`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::hw::{thread_cpu_time, Parallelism};

/// One cache line of the walk, alone in a 128-byte block; it holds the index of the next line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Line(AtomicU64);

/// Hit walks are repeated this many times per round (a single walk of L1 hits is too short to time well).
const HIT_PASSES: usize = 8;

/// Round trips per ping-pong round.
const PING_PONGS: u64 = 200;

/// What a round measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Transition {
    /// Loads of lines the measuring core wrote itself: hits in M.
    LocalHit,
    /// Loads of lines the helper wrote and the measuring core has already read once: hits in S.
    SharedHit,
    /// Loads of lines the helper just wrote: misses served by the other core's M copy (M → S).
    ReadRemoteM,
    /// `swap`s of lines the helper just wrote: read for ownership, the other copy M → I.
    WriteRemoteM,
    /// `swap`s of lines both cores hold S (the helper wrote them, the measuring core read them):
    /// an upgrade that invalidates the helper's copy.
    WriteShared,
    /// `swap`s of lines the measuring core wrote itself: the locked RMW's own cost, no transfer.
    LocalRmw,
    /// nviennot's method: compare-exchange ping-pong on one line, one-way = round trip / 2.
    PingPong,
}

impl Transition {
    /// Every transition, in the table's order.
    pub const ALL: [Transition; 7] = [
        Transition::LocalHit,
        Transition::SharedHit,
        Transition::ReadRemoteM,
        Transition::WriteRemoteM,
        Transition::WriteShared,
        Transition::LocalRmw,
        Transition::PingPong,
    ];

    /// The column title (ns per access).
    pub fn label(self) -> &'static str {
        match self {
            Transition::LocalHit => "local hit (M)",
            Transition::SharedHit => "shared hit (S)",
            Transition::ReadRemoteM => "read remote M->S",
            Transition::WriteRemoteM => "write remote M (RFO)",
            Transition::WriteShared => "write S->M (inval)",
            Transition::LocalRmw => "local RMW (M)",
            Transition::PingPong => "ping-pong one-way",
        }
    }
}

/// What one pair of cores measured.
#[derive(Clone, Debug)]
pub struct PairRun {
    /// The measuring core.
    pub measurer: usize,
    /// The helper core.
    pub helper: usize,
    /// Median ns per access of each transition, in [`Transition::ALL`]'s order.
    pub median_ns: Vec<(Transition, f64)>,
    /// The spread of each transition's per-round ns per access: `(percentile, ns)` at
    /// [`SPREAD`]'s percentiles, in [`Transition::ALL`]'s order.
    pub spread: Vec<(Transition, Vec<(f64, f64)>)>,
    /// How much the two threads overlapped.
    pub parallelism: Parallelism,
}

/// One transition's median and spread, as the measuring thread returns them.
type Measured = (Transition, f64, Vec<(f64, f64)>);

/// The percentiles of the per-round figures a [`PairRun`] keeps.
pub const SPREAD: [f64; 7] = [5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0];

/// `(p, v)` at each of [`SPREAD`]'s percentiles of `sorted` (ascending, not empty).
fn spread_of(sorted: &[f64]) -> Vec<(f64, f64)> {
    SPREAD
        .iter()
        .map(|&p| (p, sorted[((sorted.len() - 1) as f64 * p / 100.0).round() as usize]))
        .collect()
}

/// A random cyclic permutation of `0..n` (Sattolo's algorithm: one cycle through every index),
/// from a xorshift generator seeded with `seed`: `next[i]` is the index after `i`.
pub fn cycle(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize; // j < i: Sattolo, not Fisher–Yates, so one single cycle
                                         // ORDERING: none — `<[usize]>::swap`, not an atomic (the house-style check matches the name).
        order.swap(i, j);
    }
    let mut next = vec![0; n];
    for k in 0..n {
        next[order[k]] = order[(k + 1) % n];
    }
    next
}

/// Stores the chain into the lines (the writer ends up holding every line M).
fn write_chain(lines: &[Line], next: &[usize]) {
    for (line, &n) in lines.iter().zip(next) {
        // ORDERING: Relaxed [mesi-line] — only the line's cache state matters; the handshake's Release/Acquire orders the phases.
        line.0.store(n as u64, Ordering::Relaxed);
    }
}

/// Walks the chain with `steps` dependent loads from line 0; returns where it ended.
#[inline(never)]
fn walk_loads(lines: &[Line], steps: usize) -> usize {
    let mut i = 0usize;
    for _ in 0..steps {
        // ORDERING: Relaxed [mesi-line] — a dependent load: the next index comes from this value.
        i = lines[i].0.load(Ordering::Relaxed) as usize;
    }
    i
}

/// Walks the chain with `steps` dependent `swap`s (writing back the value each line holds);
/// returns where it ended.
#[inline(never)]
fn walk_swaps(lines: &[Line], next: &[usize], steps: usize) -> usize {
    let mut i = 0usize;
    for _ in 0..steps {
        // ORDERING: Relaxed [mesi-line] — a locked RMW needs the line in M whatever its ordering; the old value is the next index.
        i = lines[i].0.swap(next[i] as u64, Ordering::Relaxed) as usize;
    }
    i
}

/// Commands from the measuring core to the helper: `seq << 8 | op`.
const OP_WRITE: u64 = 1;
const OP_PING: u64 = 2;
const OP_QUIT: u64 = 3;
const OP_READ: u64 = 4;

/// Spins until `ready()`, yielding every 4,096 polls (a busy or one-core machine must not starve the other thread).
fn spin(mut ready: impl FnMut() -> bool) {
    loop {
        for _ in 0..4096 {
            if ready() {
                return;
            }
            std::hint::spin_loop();
        }
        std::thread::yield_now();
    }
}

struct Shared {
    lines: Box<[Line]>,
    next: Vec<usize>,
    /// The measuring core's command (`seq << 8 | op`).
    cmd: CachePadded<AtomicU64>,
    /// The helper's acknowledgement: the last `seq` it finished.
    ack: CachePadded<AtomicU64>,
    /// The ping-pong line.
    ball: CachePadded<AtomicU64>,
}

impl Shared {
    fn helper(&self) {
        let mut seen = 0;
        loop {
            let mut cmd = 0;
            spin(|| {
                // ORDERING: Acquire [mesi-cmd] — pairs with `request`'s Release: the measuring core's accesses are done.
                cmd = self.cmd.load(Ordering::Acquire);
                cmd != seen
            });
            seen = cmd;
            match cmd & 0xff {
                OP_WRITE => write_chain(&self.lines, &self.next),
                OP_READ => {
                    black_box(walk_loads(&self.lines, self.lines.len()));
                }
                OP_PING => {
                    for r in 0..PING_PONGS {
                        spin(|| {
                            // ORDERING: Relaxed/Relaxed [mesi-ball] — the CAS moves the line; nothing else travels with it.
                            self.ball
                                .compare_exchange(2 * r + 1, 2 * r + 2, Ordering::Relaxed, Ordering::Relaxed)
                                .is_ok()
                        });
                    }
                }
                _ => {}
            }
            // ORDERING: Release [mesi-ack] — the helper's writes happen-before the measuring core's Acquire in `request`.
            self.ack.store(cmd >> 8, Ordering::Release);
            if cmd & 0xff == OP_QUIT {
                return;
            }
        }
    }

    /// Asks the helper to do `op` and, unless it is a ping-pong, waits until it has.
    fn request(&self, seq: &mut u64, op: u64) {
        *seq += 1;
        // ORDERING: Release [mesi-cmd] — the measuring core's accesses happen-before the helper's.
        self.cmd.store(*seq << 8 | op, Ordering::Release);
        if op != OP_PING {
            self.wait_ack(*seq);
        }
    }

    fn wait_ack(&self, seq: u64) {
        // ORDERING: Acquire [mesi-ack] — pairs with the helper's Release: its writes are done.
        spin(|| self.ack.load(Ordering::Acquire) == seq);
    }

    /// Leaves every line Shared by both cores: the helper writes them, the measuring core reads
    /// them, then the helper reads them again. (The second read matters: AMD's protocol may hand
    /// a dirty line to its first reader whole, M or E, instead of sharing it.)
    fn share(&self, seq: &mut u64) {
        self.request(seq, OP_WRITE);
        black_box(walk_loads(&self.lines, self.lines.len()));
        self.request(seq, OP_READ);
    }

    /// One round of `t`: ns per access.
    fn round(&self, t: Transition, seq: &mut u64) -> f64 {
        let k = self.lines.len();
        let (elapsed, accesses) = match t {
            Transition::LocalHit => {
                write_chain(&self.lines, &self.next);
                (time(|| walk_loads(&self.lines, k * HIT_PASSES)), k * HIT_PASSES)
            }
            Transition::SharedHit => {
                self.share(seq);
                (time(|| walk_loads(&self.lines, k * HIT_PASSES)), k * HIT_PASSES)
            }
            Transition::ReadRemoteM => {
                self.request(seq, OP_WRITE);
                (time(|| walk_loads(&self.lines, k)), k)
            }
            Transition::WriteRemoteM => {
                self.request(seq, OP_WRITE);
                (time(|| walk_swaps(&self.lines, &self.next, k)), k)
            }
            Transition::WriteShared => {
                self.share(seq);
                (time(|| walk_swaps(&self.lines, &self.next, k)), k)
            }
            Transition::LocalRmw => {
                write_chain(&self.lines, &self.next);
                (time(|| walk_swaps(&self.lines, &self.next, k)), k)
            }
            Transition::PingPong => {
                // ORDERING: Relaxed [mesi-ball] — reset before the request; its Release publishes it.
                self.ball.store(0, Ordering::Relaxed);
                self.request(seq, OP_PING);
                let start = Instant::now();
                for r in 0..PING_PONGS {
                    spin(|| {
                        // ORDERING: Relaxed/Relaxed [mesi-ball] — the CAS moves the line; nothing else travels with it.
                        self.ball
                            .compare_exchange(2 * r, 2 * r + 1, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                    });
                }
                // ORDERING: Relaxed [mesi-ball] — waits for the helper's last CAS (the last round trip's return).
                spin(|| self.ball.load(Ordering::Relaxed) == 2 * PING_PONGS);
                let elapsed = start.elapsed();
                self.wait_ack(*seq);
                (elapsed, 2 * PING_PONGS as usize)
            }
        };
        elapsed.as_secs_f64() * 1e9 / accesses as f64
    }
}

/// How long `walk` took; its result goes through `black_box`, so the walk cannot be deleted.
fn time(walk: impl FnOnce() -> usize) -> Duration {
    let start = Instant::now();
    black_box(walk());
    start.elapsed()
}

/// The median of `v` (sorted in place); NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Measures every transition between `measurer` and `helper` (core ids as `core_affinity` gives
/// them; the same id twice is the one-core control), `rounds` rounds each over `lines` lines.
///
/// # Panics
/// If `lines` is 0.
pub fn measure_pair(measurer: usize, helper: usize, lines: usize, rounds: u64) -> PairRun {
    assert!(lines > 0, "measure_pair: at least one line");
    let shared = Shared {
        lines: (0..lines).map(|_| Line::default()).collect(),
        next: cycle(lines, 0x9e37_79b9_7f4a_7c15 ^ lines as u64),
        cmd: CachePadded::new(AtomicU64::new(0)),
        ack: CachePadded::new(AtomicU64::new(0)),
        ball: CachePadded::new(AtomicU64::new(0)),
    };
    let pin = |id: usize| {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    };
    let start = Instant::now();
    let (samples, cpu_m, cpu_h) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            pin(helper);
            let cpu0 = thread_cpu_time();
            shared.helper();
            thread_cpu_time() - cpu0
        });
        let m = s.spawn(|| {
            pin(measurer);
            let cpu0 = thread_cpu_time();
            let mut seq = 0;
            let samples: Vec<Measured> = Transition::ALL
                .iter()
                .map(|&t| {
                    let mut ns: Vec<f64> = (0..rounds).map(|_| shared.round(t, &mut seq)).collect();
                    // `median` sorts `ns`, which the spread then reads.
                    let m = median(&mut ns);
                    let spread = if ns.is_empty() { Vec::new() } else { spread_of(&ns) };
                    (t, m, spread)
                })
                .collect();
            shared.request(&mut seq, OP_QUIT);
            (samples, thread_cpu_time() - cpu0)
        });
        let (samples, cpu_m) = m.join().expect("the measuring thread panicked");
        let cpu_h = h.join().expect("the helper thread panicked");
        (samples, cpu_m, cpu_h)
    });
    PairRun {
        measurer,
        helper,
        median_ns: samples.iter().map(|(t, m, _)| (*t, *m)).collect(),
        spread: samples.into_iter().map(|(t, _, spread)| (t, spread)).collect(),
        parallelism: Parallelism {
            wall: start.elapsed(),
            cpu: vec![cpu_m, cpu_h],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_one_cycle_through_every_line() {
        for n in [1, 2, 16, 257] {
            let next = cycle(n, 42);
            let mut seen = vec![false; n];
            let mut i = 0;
            for _ in 0..n {
                assert!(!seen[i], "n = {n}: index {i} visited twice");
                seen[i] = true;
                i = next[i];
            }
            assert_eq!(i, 0, "n = {n}: the walk returns to its start after n steps");
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn the_walks_really_follow_the_chain() {
        let next = cycle(64, 7);
        let lines: Vec<Line> = (0..64).map(|_| Line::default()).collect();
        write_chain(&lines, &next);
        // One full cycle ends where it started; one step short does not.
        assert_eq!(walk_loads(&lines, 64), 0);
        assert_eq!(walk_loads(&lines, 63), next.iter().position(|&n| n == 0).unwrap());
        assert_eq!(walk_swaps(&lines, &next, 64), 0);
        // The swaps wrote back the chain unchanged.
        // ORDERING: Relaxed [mesi-line] — single-threaded test.
        assert!(lines
            .iter()
            .zip(&next)
            .all(|(l, &n)| l.0.load(Ordering::Relaxed) == n as u64));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn a_pair_run_measures_every_transition() {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let (a, b) = match cores.as_slice() {
            [a, b, ..] => (a.id, b.id),
            [a] => (a.id, a.id),
            [] => (0, 0),
        };
        let run = measure_pair(a, b, 16, 3);
        let got: Vec<Transition> = run.median_ns.iter().map(|t| t.0).collect();
        assert_eq!(got, Transition::ALL);
        assert!(
            run.median_ns.iter().all(|t| t.1.is_finite() && t.1 > 0.0),
            "{:?}",
            run.median_ns
        );
    }
}
