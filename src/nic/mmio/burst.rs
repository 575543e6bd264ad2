//! The analogue of the seed's posted writes and non-posted reads: a burst of stores to lines the
//! other core owns, and a chain of dependent loads of lines the other core has just written,
//! each timed with the time-stamp counter between two handshakes (see the module doc of
//! [`super`] for what the handshake guarantees).

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::hw::{run_threads, spin_until, Parallelism, Pin};

/// The most lines a burst may touch (a chain index lives in the low 16 bits of a line's word).
pub const MAX_LINES: usize = 1024;

/// The low 16 bits of a line's word: the next line of the chain, or this mark when the measuring
/// core wrote it.
const WRITTEN: u64 = 0xFFFF;

/// What the measuring core does in one timed burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Nothing: the two time stamps alone (the timer's own cost, included in every other kind).
    Timer,
    /// `lines` stores, one to each line (the posted-write analogue).
    Writes,
    /// The same stores, then `mfence` (`fence(SeqCst)`): the core waits until they are visible.
    WritesFenced,
    /// `lines` dependent loads: each line holds the index of the next (the non-posted-read analogue).
    Reads,
}

impl Kind {
    /// Every kind, in the order a run interleaves them (one round each, in rotation).
    pub const ALL: [Kind; 4] = [Kind::Timer, Kind::Writes, Kind::WritesFenced, Kind::Reads];

    /// Its row label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Timer => "timer alone",
            Kind::Writes => "stores (posted-write analogue)",
            Kind::WritesFenced => "stores + mfence (wait until they land)",
            Kind::Reads => "dependent loads (non-posted-read analogue)",
        }
    }
}

/// The lines and the turn word both cores share.
struct Shared {
    /// The lines a burst touches, each on its own 128-byte pair of lines (no prefetched neighbour).
    lines: Box<[CachePadded<AtomicU64>]>,
    /// Round `r`: `2r` while the owner prepares the lines, `2r + 1` while the measurer times.
    turn: CachePadded<AtomicU64>,
}

/// The timed bursts of one run, in time-stamp-counter ticks.
#[derive(Clone, Debug)]
pub struct BurstRun {
    /// Lines per burst.
    pub lines: usize,
    /// The ticks of every round of each kind, sorted, by `Kind::ALL` position.
    pub ticks: [Vec<u64>; 4],
    /// Loads that did not return this round's value (the owner's write): must be 0.
    pub stale_reads: u64,
    /// Lines the owner found without the measurer's last store: must be 0.
    pub lost_writes: u64,
    /// Both threads' overlap.
    pub parallelism: Parallelism,
}

impl BurstRun {
    /// The sorted ticks of `kind`.
    pub fn of(&self, kind: Kind) -> &[u64] {
        let i = Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        &self.ticks[i]
    }

    /// The `q` quantile (0..=1) of `kind`, in nanoseconds.
    pub fn quantile_ns(&self, kind: Kind, q: f64) -> f64 {
        let t = self.of(kind);
        if t.is_empty() {
            return 0.0;
        }
        let i = ((t.len() - 1) as f64 * q).round() as usize;
        t[i] as f64 / ticks_per_ns()
    }

    /// The median of `kind`, in nanoseconds.
    pub fn median_ns(&self, kind: Kind) -> f64 {
        self.quantile_ns(kind, 0.5)
    }

    /// The sum of `kind`'s timed bursts (a criterion bench's measurement).
    pub fn total(&self, kind: Kind) -> Duration {
        let ticks: u64 = self.of(kind).iter().sum();
        Duration::from_nanos((ticks as f64 / ticks_per_ns()) as u64)
    }
}

/// A time stamp: the TSC between two `lfence`s on x86-64 (the fence before waits for earlier
/// instructions to complete locally — loads done, stores retired into the store buffer, which
/// it does not drain — and the one after keeps later instructions from starting early), else
/// nanoseconds from a monotonic clock.
#[inline(always)]
pub fn stamp() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::{_mm_lfence, _rdtsc};
        // SAFETY: `lfence` (SSE2) and `rdtsc` are part of the x86-64 baseline; they read the time
        // stamp counter and order instructions, touching no memory.
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Time-stamp ticks per nanosecond, calibrated once against the monotonic clock (20 ms).
pub fn ticks_per_ns() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        if cfg!(not(all(target_arch = "x86_64", not(miri)))) {
            return 1.0;
        }
        let (t0, i0) = (stamp(), Instant::now());
        while i0.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let (t1, i1) = (stamp(), Instant::now());
        (t1 - t0) as f64 / (i1 - i0).as_nanos().max(1) as f64
    })
}

/// The smallest step of [`stamp`] in nanoseconds: the least nonzero difference of back-to-back
/// stamps (a VM's TSC may advance in coarse steps).
pub fn resolution_ns() -> f64 {
    static STEP: OnceLock<f64> = OnceLock::new();
    *STEP.get_or_init(|| {
        let step = (0..10_000)
            .map(|_| {
                let t0 = stamp();
                let mut t1 = stamp();
                while t1 == t0 {
                    t1 = stamp();
                }
                t1 - t0
            })
            .min()
            .unwrap_or(1);
        step as f64 / ticks_per_ns()
    })
}

/// A small xorshift generator: the owner's chain order, new every round.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs `rounds` rounds, kinds from `kinds` in rotation, each touching `lines` lines: thread 0 (the
/// core that issues the "MMIO") times, thread 1 (the "device" side) owns the lines between bursts.
///
/// # Panics
/// Unless `1 <= lines <= MAX_LINES` and `kinds` is not empty.
pub fn run(kinds: &[Kind], lines: usize, rounds: u64, pin: Pin) -> BurstRun {
    assert!(
        (1..=MAX_LINES).contains(&lines),
        "mmio burst: lines must be in 1..={MAX_LINES}, got {lines}"
    );
    assert!(!kinds.is_empty(), "mmio burst: no kind to time");
    let _ = ticks_per_ns(); // calibrate before the threads start
    let shared = Shared {
        lines: (0..lines).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
        turn: CachePadded::new(AtomicU64::new(0)),
    };
    let kind_of = |r: u64| kinds[(r % kinds.len() as u64) as usize];
    let (results, parallelism) = run_threads(2, pin, |role| {
        if role == 0 {
            measure(&shared, rounds, kind_of)
        } else {
            (own(&shared, rounds, kind_of), [vec![], vec![], vec![], vec![]])
        }
    });
    let mut results = results.into_iter();
    let (stale_reads, mut ticks) = results.next().unwrap_or_default();
    let (lost_writes, _) = results.next().unwrap_or_default();
    for t in &mut ticks {
        t.sort_unstable();
    }
    BurstRun {
        lines,
        ticks,
        stale_reads,
        lost_writes,
        parallelism,
    }
}

/// The owner: before each round, checks that the last round's stores (if any) arrived, then
/// stores a fresh word to every line — taking each line into its own cache in Modified state,
/// which invalidates the measurer's copy — and hands the turn over. Returns the lost writes.
fn own(shared: &Shared, rounds: u64, kind_of: impl Fn(u64) -> Kind) -> u64 {
    let n = shared.lines.len();
    let mut lost = 0;
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut order: Vec<usize> = (1..n).collect();
    for r in 0..=rounds {
        // ORDERING: Acquire [burst-done] — pairs with the measurer's Release hand-back: its stores of round r − 1 are visible.
        spin_until(|| shared.turn.load(Ordering::Acquire) == 2 * r);
        if r > 0 && matches!(kind_of(r - 1), Kind::Writes | Kind::WritesFenced) {
            for line in shared.lines.iter() {
                // ORDERING: Relaxed [burst-done] — the Acquire load of the turn above ordered the measurer's stores before it.
                if line.load(Ordering::Relaxed) != ((r - 1) << 16 | WRITTEN) {
                    lost += 1;
                }
            }
        }
        if r == rounds {
            break;
        }
        // A new random chain 0 → order[0] → order[1] → …, so no prefetcher can guess the next line.
        for i in (1..order.len()).rev() {
            let j = (next_random(&mut rng) % (i as u64 + 1)) as usize;
            <[usize]>::swap(&mut order, i, j); // a slice swap (Fisher–Yates), not an atomic one
        }
        let mut at = 0;
        for &next in order.iter().chain(std::iter::once(&0)) {
            // ORDERING: Relaxed [burst-ready] — published by the Release store of the turn below.
            shared.lines[at].store(r << 16 | next as u64, Ordering::Relaxed);
            at = next;
        }
        debug_assert_eq!(at, 0, "the chain visits every line once");
        // ORDERING: Release [burst-ready] — every line's store above happens-before the measurer's Acquire load that sees this turn.
        shared.turn.store(2 * r + 1, Ordering::Release);
    }
    lost
}

/// The measurer: waits for each round's turn, times its burst, hands the turn back. Returns the
/// stale reads and each kind's ticks.
fn measure(shared: &Shared, rounds: u64, kind_of: impl Fn(u64) -> Kind) -> (u64, [Vec<u64>; 4]) {
    let mut ticks: [Vec<u64>; 4] = Default::default();
    for t in &mut ticks {
        t.reserve(rounds as usize / Kind::ALL.len() + 1);
    }
    let mut stale = 0;
    let lines = &shared.lines;
    for r in 0..rounds {
        // ORDERING: Acquire [burst-ready] — pairs with the owner's Release turn store: its stores to every line are visible.
        spin_until(|| shared.turn.load(Ordering::Acquire) == 2 * r + 1);
        let kind = kind_of(r);
        let t0 = stamp();
        match kind {
            Kind::Timer => {}
            Kind::Writes => {
                for line in lines.iter() {
                    // ORDERING: Relaxed [burst-done] — published by the Release hand-back below.
                    line.store(r << 16 | WRITTEN, Ordering::Relaxed);
                }
            }
            Kind::WritesFenced => {
                for line in lines.iter() {
                    // ORDERING: Relaxed [burst-done] — published by the Release hand-back below.
                    line.store(r << 16 | WRITTEN, Ordering::Relaxed);
                }
                // ORDERING: SeqCst [burst-drain] — an mfence: the core waits until the stores above are globally visible (the point of this kind).
                fence(Ordering::SeqCst);
            }
            Kind::Reads => {
                let mut at = 0;
                for _ in 0..lines.len() {
                    // ORDERING: Relaxed [burst-ready] — the Acquire turn load above ordered the owner's stores before it.
                    let word = lines[at].load(Ordering::Relaxed);
                    if word >> 16 != r {
                        stale += 1;
                    }
                    // The next address depends on this load's value: the loads cannot overlap.
                    at = (word & WRITTEN) as usize % lines.len();
                }
                std::hint::black_box(at);
            }
        }
        let t1 = stamp();
        ticks[Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0)].push(t1.saturating_sub(t0));
        // ORDERING: Release [burst-done] — this round's stores happen-before the owner's Acquire load that sees the turn back.
        shared.turn.store(2 * r + 2, Ordering::Release);
    }
    (stale, ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_reads_the_owners_words_and_the_owner_finds_every_store() {
        let rounds = if cfg!(miri) { 8 } else { 400 };
        let r = run(&Kind::ALL, 5, rounds, Pin::None);
        assert_eq!((r.stale_reads, r.lost_writes), (0, 0));
        for kind in Kind::ALL {
            assert_eq!(r.of(kind).len() as u64, rounds / 4, "{kind:?}");
        }
    }

    /// Both roles on plain scoped threads (no pinning, no CPU clocks: Miri runs it).
    #[test]
    fn the_handshake_hands_fresh_words_both_ways_on_two_threads() {
        let rounds = if cfg!(miri) { 8 } else { 2_000 };
        let shared = Shared {
            lines: (0..4).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
            turn: CachePadded::new(AtomicU64::new(0)),
        };
        let kind_of = |r: u64| Kind::ALL[(r % 4) as usize];
        let (lost, (stale, ticks)) = std::thread::scope(|s| {
            let owner = s.spawn(|| own(&shared, rounds, kind_of));
            let measured = measure(&shared, rounds, kind_of);
            (owner.join().unwrap(), measured)
        });
        assert_eq!((stale, lost), (0, 0));
        assert!(ticks.iter().all(|t| t.len() as u64 == rounds / 4));
    }

    #[test]
    fn a_store_the_owner_does_not_find_is_counted() {
        // The owner checks the measurer's stores: a round of Writes followed by a round whose
        // kind the owner believes was Writes but was not (Timer) must count every line lost.
        let shared = Shared {
            lines: (0..3).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
            turn: CachePadded::new(AtomicU64::new(0)),
        };
        let lost = std::thread::scope(|s| {
            let owner = s.spawn(|| own(&shared, 1, |_| Kind::Writes));
            measure(&shared, 1, |_| Kind::Timer);
            owner.join().unwrap()
        });
        assert_eq!(lost, 3);
    }

    #[test]
    #[should_panic(expected = "lines must be in")]
    fn zero_lines_is_refused() {
        run(&Kind::ALL, 0, 1, Pin::None);
    }
}
