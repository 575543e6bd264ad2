//! # All-reduce: ring vs tree, on real threads over the lab's SPSC rings
//!
//! N ranks (worker threads, `--ranks N`) each hold a vector of `L` integers; an all-reduce
//! leaves every rank holding the element-wise sum. Two algorithms, on the same links:
//!
//! - **ring** (reduce-scatter, then all-gather): the vector is cut into N chunks; in each of
//!   N−1 steps every rank sends one chunk to its right neighbour and adds the chunk it receives
//!   from its left one; then N−1 more steps pass the finished chunks around. **2(N−1) steps, and
//!   each rank sends 2(N−1)/N · L elements** — just under 2L whatever N is. Patarasuk & Yuan
//!   ("Bandwidth optimal all-reduce algorithms for clusters of workstations", JPDC 69(2), 2009)
//!   prove that no all-reduce can send less per rank: the ring is bandwidth-optimal.
//! - **tree** (binomial reduce to rank 0, then binomial broadcast): **2⌈log₂N⌉ steps**, but each
//!   step moves the whole vector, and the root sends it ⌈log₂N⌉ times.
//!
//! So the tree wins on latency (20 steps against 2,046 at N = 1,024) and the ring on bandwidth:
//! there is a message size above which the ring is faster, and this demo finds it.
//!
//! ## What is measured, and how
//! - **Correctness, bit-exact.** The values are `u64` and the reduction is wrapping addition,
//!   which is associative and commutative, so every reduction order gives the same bits as the
//!   sequential one ([`expected`]); each run checks every rank's vector against it. (Floats
//!   would need a fixed reduction order; integers make the check exact whatever the schedule.)
//! - **Steps and bytes, counted.** Each rank counts the bytes it sent; each notice carries the
//!   sender's Lamport clock (a send ticks it, a receive takes the max), so the clock every rank
//!   ends on is the length of the longest chain of dependent sends: the step count, measured.
//!   Both are printed against the formulas. (For N not a power of two the tree's measured chain
//!   is shorter than 2⌈log₂N⌉: the formula is a round bound.)
//! - **Real time** for both algorithms at the N this machine can run at once, over a sweep of
//!   message sizes. N beyond the cores (read at run time) still runs and is correct, but is
//!   flagged as oversubscribed: ranks then take turns on a core and the time measures the
//!   scheduler.
//! - **An α-β model** (α: the cost per step, β: per byte; Hockney's model) is fitted by weighted
//!   least squares to the N = 2 runs of both algorithms at every size (ring: 2 steps of L/2;
//!   tree: 2 steps of L), then extends the comparison to N = 1,024, where
//!   `T_ring = 2(N−1)(α + (L/N)β)` and `T_tree = 2⌈log₂N⌉(α + Lβ)`; the crossover is where they
//!   meet. The model is labelled as such: this machine's "fabric" is shared memory and the cost of
//!   the additions is folded into β.
//!
//! ## The links: the lab's SPSC rings, and the bug
//! A link from rank a to rank b is a send buffer (one chunk, read in place by b: zero-copy, as a
//! NIC or an NCCL channel reads a registered buffer) and two SPSC rings ([`crate::spsc`],
//! reused): `notices` (a → b: "a chunk is in the buffer") and `credits` (b → a: "I have read it").
//!
//! | edge      | Release (writer)                                   | Acquire (reader)                          | guarantees |
//! |-----------|----------------------------------------------------|-------------------------------------------|------------|
//! | `[notice]` | sender pushes the notice after writing the buffer | receiver pops it before reading the buffer | the receiver reads the chunk announced |
//! | `[credit]` | receiver pushes the credit after reading          | sender pops it before overwriting          | the buffer is not rewritten while read |
//!
//! Both edges are the SPSC ring's own Release/Acquire (its `tail`); the buffer cells themselves
//! are Relaxed atomics, so the fixed variant has no ordering of its own to weaken
//! (`scripts/mutate-orderings` has nothing to mutate here; `scripts/mutate-logic` removes the
//! credit wait instead).
//!
//! **The broken variant** (`diff src/net/all_reduce/broken.rs src/net/all_reduce/fixed.rs`)
//! lets a sender run one chunk ahead of its credits — a window of two on a single buffer. In a
//! 3-rank ring:
//! 1. rank 0 writes chunk 0 into its buffer and notifies rank 1 (step 1 of the reduce-scatter);
//! 2. rank 1 is slow: it has not read it yet;
//! 3. rank 0 receives chunk 2 from rank 2, adds it, and — allowed one unread chunk — writes its
//!    step-2 chunk into the same buffer;
//! 4. rank 1 finally reads "chunk 0" and gets the step-2 data: it adds the wrong numbers, and the
//!    sum every rank ends with is wrong.
//!
//! It is an interleaving bug on well-defined atomics, so loom **and** shuttle find it as a wrong
//! sum, and real cores can show it too (a slow rank is all it takes): the broken variant exists on
//! every backend. `lockfree-lab check all-reduce` prints the counterexample; `lockfree-lab step
//! all-reduce` replays it on the real structures, chunk by chunk.
//!
//! ## What this machine cannot show
//! No GPUs and no fabric: the links are shared memory between cores, so α is a cache-line
//! hand-off (hundreds of ns, not microseconds) and β a memory copy. With two cores only N = 2
//! runs truly in parallel; larger N are extrapolated by the model, not measured.

pub mod demo;
pub mod replay;

use std::ops::Range;

backends! {
    /// The fixed link: a sender waits for the credit of the last chunk before rewriting its buffer.
    fixed => "fixed.rs",
    /// The broken link: a sender may rewrite its buffer one chunk ahead of its credits.
    broken => "broken.rs",
    /// Model scenarios shared by loom and shuttle (and real threads).
    scenario => "scenario.rs",
}

/// What a sender announces: the chunk's length and the sender's Lamport clock at the send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Elements in the chunk.
    pub len: usize,
    /// The sender's clock after the send (its step number on the longest chain).
    pub clock: u32,
}

/// The sending end of a link, whatever the backend and variant.
pub trait Tx: Send + 'static {
    /// Writes and announces `data`, or false while the buffer is not free.
    fn try_send(&mut self, data: &[u64], clock: u32) -> bool;
    /// The send buffer's contents (the replay's pictures).
    fn buffer(&self) -> Vec<u64>;
}

/// The receiving end of a link.
pub trait Rx: Send + 'static {
    /// Reads an announced chunk into `out` and credits the sender.
    fn try_recv(&mut self, out: &mut [u64]) -> Option<Notice>;
}

macro_rules! impl_ends {
    ($($backend:ident::$variant:ident),+) => {$(
        impl Tx for $backend::$variant::Sender {
            fn try_send(&mut self, data: &[u64], clock: u32) -> bool {
                $backend::$variant::Sender::try_send(self, data, clock)
            }
            fn buffer(&self) -> Vec<u64> {
                $backend::$variant::Sender::buffer(self)
            }
        }
        impl Rx for $backend::$variant::Receiver {
            fn try_recv(&mut self, out: &mut [u64]) -> Option<Notice> {
                $backend::$variant::Receiver::try_recv(self, out)
            }
        }
    )+};
}
impl_ends!(
    real::fixed,
    real::broken,
    loom::fixed,
    loom::broken,
    shuttle::fixed,
    shuttle::broken
);

/// Room in each SPSC ring of a link: the broken sender can have two chunks in flight.
const RING_SLOTS: usize = 2;

macro_rules! link_makers {
    ($($(#[$doc:meta])* $name:ident => $backend:ident::$variant:ident),+ $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(len: usize) -> ($backend::$variant::Sender, $backend::$variant::Receiver) {
            let (np, nc) = crate::spsc::$backend::fixed::channel::<Notice>(RING_SLOTS);
            let (cp, cc) = crate::spsc::$backend::fixed::channel::<u32>(RING_SLOTS);
            $backend::$variant::link(len, (Box::new(np), Box::new(nc)), (Box::new(cp), Box::new(cc)))
        }
    )+};
}

/// Link constructors, one per backend and variant: `len` is the send buffer's length.
pub mod links {
    use super::{loom, real, shuttle, Notice, RING_SLOTS};
    link_makers!(
        /// Real threads, fixed.
        real_fixed => real::fixed,
        /// Real threads, broken.
        real_broken => real::broken,
        /// loom, fixed.
        loom_fixed => loom::fixed,
        /// loom, broken.
        loom_broken => loom::broken,
        /// shuttle, fixed.
        shuttle_fixed => shuttle::fixed,
        /// shuttle, broken.
        shuttle_broken => shuttle::broken,
    );
}

/// The two algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Reduce-scatter then all-gather around a ring.
    Ring,
    /// Binomial-tree reduce to rank 0, then binomial-tree broadcast.
    Tree,
}

impl Algorithm {
    /// Both.
    pub const BOTH: [Algorithm; 2] = [Algorithm::Ring, Algorithm::Tree];

    /// `ring` / `tree`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ring => "ring",
            Algorithm::Tree => "tree",
        }
    }

    /// The step count of the formula: 2(N−1) or 2⌈log₂N⌉.
    pub fn steps(self, ranks: usize) -> u64 {
        match self {
            Algorithm::Ring => 2 * (ranks as u64).saturating_sub(1),
            Algorithm::Tree => 2 * u64::from(ceil_log2(ranks)),
        }
    }

    /// The formula for the most bytes one rank sends, for `bytes` per vector: 2(N−1)/N · L for
    /// the ring (every rank), ⌈log₂N⌉ · L for the tree (the root).
    pub fn max_bytes_per_rank(self, ranks: usize, bytes: f64) -> f64 {
        let n = ranks as f64;
        match self {
            Algorithm::Ring => 2.0 * (n - 1.0) / n * bytes,
            Algorithm::Tree => f64::from(ceil_log2(ranks)) * bytes,
        }
    }

    /// The α-β model's time: steps · α + bytes on the critical path · β.
    pub fn model_time(self, ranks: usize, bytes: f64, fit: AlphaBeta) -> f64 {
        let steps = self.steps(ranks) as f64;
        let per_step = match self {
            Algorithm::Ring => bytes / ranks as f64,
            Algorithm::Tree => bytes,
        };
        steps * (fit.alpha + per_step * fit.beta)
    }
}

/// ⌈log₂ n⌉ (0 for n ≤ 1).
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// The elements of chunk `c` of `n` chunks of a vector of `len`: balanced, in order.
pub fn chunk(len: usize, n: usize, c: usize) -> Range<usize> {
    c * len / n..(c + 1) * len / n
}

/// One operation of a rank's schedule.
#[derive(Clone, Debug)]
enum Op {
    /// Send `chunk` of the vector over `tx[link]` to rank `peer`.
    Send {
        link: usize,
        peer: usize,
        chunk: Range<usize>,
    },
    /// Receive into `chunk` over `rx[link]` from rank `peer`: add it, or copy it (`add: false`).
    Recv {
        link: usize,
        peer: usize,
        chunk: Range<usize>,
        add: bool,
    },
}

/// What one [`Rank::poll`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Sent `chunk` to rank `to`.
    Sent {
        /// The receiving rank.
        to: usize,
        /// The elements sent.
        chunk: Range<usize>,
    },
    /// Received `chunk` from rank `from`, added or copied in.
    Received {
        /// The sending rank.
        from: usize,
        /// The elements received.
        chunk: Range<usize>,
        /// Added (reduce) or copied (gather/broadcast).
        add: bool,
    },
    /// Waiting: for the credit of the last chunk sent to `peer` (`credit`), or for a chunk from it.
    Blocked {
        /// The rank waited for.
        peer: usize,
        /// True: waiting for a credit (the send buffer is busy); false: for a notice.
        credit: bool,
    },
    /// The schedule is done.
    Done,
}

/// One rank: its vector, its links and its schedule, run by [`Rank::poll`] one operation at a time.
pub struct Rank<S, R> {
    /// The rank's number.
    pub id: usize,
    data: Vec<u64>,
    ops: Vec<Op>,
    next: usize,
    tx: Vec<S>,
    rx: Vec<R>,
    scratch: Vec<u64>,
    clock: u32,
    /// Operations of the reduce phase (reduce-scatter, or the tree's reduce): the schedule's prefix.
    reduce_ops: usize,
    /// The elements this rank holds fully reduced once the reduce phase is over.
    reduced: Range<usize>,
    /// Sends made (over every run).
    pub sends: u64,
    /// Bytes sent (over every run).
    pub bytes_sent: u64,
}

impl<S, R> std::fmt::Debug for Rank<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rank")
            .field("id", &self.id)
            .field("next", &self.next)
            .field("ops", &self.ops.len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<S: Tx, R: Rx> Rank<S, R> {
    /// Runs the next operation if it can: a send whose buffer is free, a receive whose chunk has
    /// been announced.
    pub fn poll(&mut self) -> Poll {
        let Some(op) = self.ops.get(self.next) else {
            return Poll::Done;
        };
        match op.clone() {
            Op::Send { link, peer, chunk } => {
                if !self.tx[link].try_send(&self.data[chunk.clone()], self.clock + 1) {
                    return Poll::Blocked { peer, credit: true };
                }
                self.clock += 1;
                self.sends += 1;
                self.bytes_sent += 8 * chunk.len() as u64;
                self.next += 1;
                Poll::Sent { to: peer, chunk }
            }
            Op::Recv { link, peer, chunk, add } => {
                let n = chunk.len();
                let Some(notice) = self.rx[link].try_recv(&mut self.scratch[..n]) else {
                    return Poll::Blocked { peer, credit: false };
                };
                for (d, &s) in self.data[chunk.clone()].iter_mut().zip(&self.scratch[..n]) {
                    *d = if add { d.wrapping_add(s) } else { s };
                }
                self.clock = self.clock.max(notice.clock);
                self.next += 1;
                Poll::Received { from: peer, chunk, add }
            }
        }
    }

    /// Runs the schedule to the end, calling `wait` whenever the next operation must wait
    /// (`reset` after every operation that ran).
    pub fn run(&mut self, mut wait: impl FnMut(), mut reset: impl FnMut()) {
        loop {
            match self.poll() {
                Poll::Done => return,
                Poll::Blocked { .. } => wait(),
                _ => reset(),
            }
        }
    }

    /// Cuts the schedule after its reduce phase (the model checkers' smaller scenario): then only
    /// [`Rank::reduced`] is complete.
    pub fn reduce_only(&mut self) {
        self.ops.truncate(self.reduce_ops);
    }

    /// The elements this rank holds fully reduced after the reduce phase.
    pub fn reduced(&self) -> Range<usize> {
        self.reduced.clone()
    }

    /// Rewinds the schedule for another all-reduce of the vector it holds now.
    pub fn restart(&mut self) {
        self.next = 0;
        self.clock = 0;
    }

    /// The vector now.
    pub fn data(&self) -> &[u64] {
        &self.data
    }

    /// The vector, consuming the rank.
    pub fn into_data(self) -> Vec<u64> {
        self.data
    }

    /// The Lamport clock: after a run, the longest chain of dependent sends that reached this rank.
    pub fn clock(&self) -> u32 {
        self.clock
    }

    /// This rank's send buffers, as `(peer, contents)`.
    pub fn buffers(&self) -> Vec<(usize, Vec<u64>)> {
        let mut out = Vec::new();
        for op in &self.ops {
            if let Op::Send { link, peer, .. } = op {
                if !out.iter().any(|(p, _)| p == peer) {
                    out.push((*peer, self.tx[*link].buffer()));
                }
            }
        }
        out
    }
}

/// The sequential reduction every rank must end with: the element-wise wrapping sum, in rank order.
pub fn expected(inputs: &[Vec<u64>]) -> Vec<u64> {
    let len = inputs.first().map_or(0, Vec::len);
    (0..len)
        .map(|i| inputs.iter().fold(0u64, |acc, v| acc.wrapping_add(v[i])))
        .collect()
}

/// Builds the ranks of `algorithm` over `inputs` (one vector per rank, all of one length), with
/// links from `make(buffer_len)`.
pub fn build<S: Tx, R: Rx>(
    algorithm: Algorithm,
    inputs: Vec<Vec<u64>>,
    make: impl Fn(usize) -> (S, R),
) -> Vec<Rank<S, R>> {
    let n = inputs.len();
    let len = inputs.first().map_or(0, Vec::len);
    assert!(
        inputs.iter().all(|v| v.len() == len),
        "every rank's vector must have one length"
    );
    let mut ranks: Vec<Rank<S, R>> = inputs
        .into_iter()
        .enumerate()
        .map(|(id, data)| Rank {
            id,
            data,
            ops: Vec::new(),
            next: 0,
            tx: Vec::new(),
            rx: Vec::new(),
            scratch: Vec::new(),
            clock: 0,
            reduce_ops: 0,
            reduced: 0..0,
            sends: 0,
            bytes_sent: 0,
        })
        .collect();
    if n < 2 {
        return ranks;
    }
    // The directed links, each with its buffer length.
    let links: Vec<(usize, usize, usize)> = match algorithm {
        Algorithm::Ring => {
            let longest = (0..n).map(|c| chunk(len, n, c).len()).max().unwrap_or(0);
            (0..n).map(|r| (r, (r + 1) % n, longest)).collect()
        }
        Algorithm::Tree => (1..n)
            .flat_map(|r| {
                let parent = r - (1 << r.trailing_zeros());
                [(r, parent, len), (parent, r, len)]
            })
            .collect(),
    };
    let mut tx_peers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut rx_peers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, to, buffer_len) in links {
        let (s, r) = make(buffer_len);
        ranks[from].tx.push(s);
        tx_peers[from].push(to);
        ranks[to].rx.push(r);
        rx_peers[to].push(from);
    }
    let send = |r: usize, peer: usize, chunk: Range<usize>| Op::Send {
        link: tx_peers[r].iter().position(|&p| p == peer).expect("a link to the peer"),
        peer,
        chunk,
    };
    let recv = |r: usize, peer: usize, chunk: Range<usize>, add: bool| Op::Recv {
        link: rx_peers[r]
            .iter()
            .position(|&p| p == peer)
            .expect("a link from the peer"),
        peer,
        chunk,
        add,
    };
    for (r, rank) in ranks.iter_mut().enumerate() {
        let (right, left) = ((r + 1) % n, (r + n - 1) % n);
        let mut ops = Vec::new();
        match algorithm {
            Algorithm::Ring => {
                // Reduce-scatter: after step s, rank r holds chunk r−s−1 summed over s+2 ranks.
                for s in 0..n - 1 {
                    ops.push(send(r, right, chunk(len, n, (r + n - s) % n)));
                    ops.push(recv(r, left, chunk(len, n, (r + 2 * n - s - 1) % n), true));
                }
                // All-gather: rank r starts with the finished chunk r+1 and passes it on.
                rank.reduce_ops = ops.len();
                rank.reduced = chunk(len, n, (r + 1) % n);
                for s in 0..n - 1 {
                    ops.push(send(r, right, chunk(len, n, (r + 1 + n - s) % n)));
                    ops.push(recv(r, left, chunk(len, n, (r + n - s) % n), false));
                }
            }
            Algorithm::Tree => {
                let rounds = ceil_log2(n);
                for k in 0..rounds {
                    let bit = 1usize << k;
                    if r % (2 * bit) == bit {
                        ops.push(send(r, r - bit, 0..len));
                    } else if r % (2 * bit) == 0 && r + bit < n {
                        ops.push(recv(r, r + bit, 0..len, true));
                    }
                }
                rank.reduce_ops = ops.len();
                rank.reduced = if r == 0 { 0..len } else { 0..0 };
                for k in (0..rounds).rev() {
                    let bit = 1usize << k;
                    if r % (2 * bit) == 0 && r + bit < n {
                        ops.push(send(r, r + bit, 0..len));
                    } else if r % (2 * bit) == bit {
                        ops.push(recv(r, r - bit, 0..len, false));
                    }
                }
            }
        }
        let widest = ops
            .iter()
            .map(|op| match op {
                Op::Send { chunk, .. } | Op::Recv { chunk, .. } => chunk.len(),
            })
            .max()
            .unwrap_or(0);
        rank.scratch = vec![0; widest];
        rank.ops = ops;
    }
    ranks
}

/// Deterministic inputs: rank r's element i is a well-mixed 64-bit value (so that a wrong chunk
/// can never sum to the right answer by accident).
pub fn inputs(ranks: usize, len: usize) -> Vec<Vec<u64>> {
    (0..ranks)
        .map(|r| {
            (0..len)
                .map(|i| {
                    let mut z = ((r as u64) << 40 ^ i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    z ^ (z >> 31)
                })
                .collect()
        })
        .collect()
}

/// The model scenarios' small, readable inputs: rank r holds `[1, 2, 3…] × 10^r`.
pub fn small_inputs(ranks: usize, len: usize) -> Vec<Vec<u64>> {
    (0..ranks)
        .map(|r| (1..=len as u64).map(|i| i * 10u64.pow(r as u32)).collect())
        .collect()
}

/// The α-β (Hockney) model's two parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlphaBeta {
    /// Seconds per step (latency).
    pub alpha: f64,
    /// Seconds per byte on the critical path.
    pub beta: f64,
}

impl AlphaBeta {
    /// Fits `t = steps·α + bytes·β` to `(steps, bytes, seconds)` samples by least squares on the
    /// relative error (each sample weighted by 1/t², so that 8-byte and 8-MiB runs count alike),
    /// with α, β ≥ 0. `None` with fewer than two distinct samples.
    pub fn fit(samples: &[(f64, f64, f64)]) -> Option<AlphaBeta> {
        let ok: Vec<_> = samples
            .iter()
            .copied()
            .filter(|s| s.2 > 0.0 && s.2.is_finite())
            .collect();
        if ok.len() < 2 {
            return None;
        }
        let (mut saa, mut sab, mut sbb, mut sat, mut sbt) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(a, b, t) in &ok {
            let w = 1.0 / (t * t);
            saa += w * a * a;
            sab += w * a * b;
            sbb += w * b * b;
            sat += w * a * t;
            sbt += w * b * t;
        }
        let det = saa * sbb - sab * sab;
        let (alpha, beta) = if det.abs() > 1e-12 * saa * sbb {
            ((sat * sbb - sbt * sab) / det, (saa * sbt - sab * sat) / det)
        } else {
            (f64::NAN, f64::NAN)
        };
        if alpha.is_finite() && beta.is_finite() && alpha >= 0.0 && beta >= 0.0 {
            return Some(AlphaBeta { alpha, beta });
        }
        // One parameter would be negative: fit the other alone, keep the better.
        let only_alpha = AlphaBeta {
            alpha: sat / saa,
            beta: 0.0,
        };
        let only_beta = AlphaBeta {
            alpha: 0.0,
            beta: if sbb > 0.0 { sbt / sbb } else { 0.0 },
        };
        let err = |f: AlphaBeta| {
            ok.iter()
                .map(|&(a, b, t)| ((a * f.alpha + b * f.beta - t) / t).powi(2))
                .sum::<f64>()
        };
        Some(if err(only_alpha) <= err(only_beta) {
            only_alpha
        } else {
            only_beta
        })
    }

    /// The message size (bytes) above which the ring beats the tree at `ranks`, if there is one:
    /// where `2(N−1)α + 2(N−1)/N·Lβ = 2Kα + 2K·Lβ`. `Some(0)` when the ring is never slower.
    pub fn crossover(self, ranks: usize) -> Option<f64> {
        let n = ranks as f64;
        let k = f64::from(ceil_log2(ranks));
        let extra_latency = (n - 1.0 - k) * self.alpha;
        let saved_bandwidth = (k - (n - 1.0) / n) * self.beta;
        if saved_bandwidth <= 0.0 {
            return None;
        }
        Some((extra_latency / saved_bandwidth).max(0.0))
    }
}

/// One timed configuration on real threads.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Ranks (threads).
    pub ranks: usize,
    /// Bytes per vector.
    pub bytes: usize,
    /// All-reduces run back to back.
    pub reps: u64,
    /// Seconds per all-reduce (wall time of the whole batch / reps).
    pub seconds: f64,
    /// Every rank held the sequential reduction after every all-reduce.
    pub correct: bool,
    /// The longest chain of dependent sends (max final clock over ranks), for one all-reduce.
    pub steps: u64,
    /// The most bytes one rank sent per all-reduce.
    pub max_bytes: u64,
    /// The fewest bytes one rank sent per all-reduce.
    pub min_bytes: u64,
    /// How much the ranks overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// Runs `reps` all-reduces of `elems` u64s per rank with `algorithm` on `ranks` threads (fixed
/// links, pinned as `pin` says) and checks every result bit-exactly.
pub fn measure(algorithm: Algorithm, ranks: usize, elems: usize, reps: u64, pin: crate::hw::Pin) -> Timing {
    let start = inputs(ranks, elems);
    // Each all-reduce reduces the vectors the last one left (every rank then holds the same sum
    // S, so the next gives N·S): the sequential reference follows the same recurrence.
    let mut want = expected(&start);
    let built = build(algorithm, start, links::real_fixed);
    let slots: Vec<_> = built.into_iter().map(|r| std::sync::Mutex::new(Some(r))).collect();
    let (results, parallelism) = crate::hw::run_threads(ranks, pin, |i| {
        let mut rank = slots[i].lock().unwrap().take().expect("one thread per rank");
        let backoff = crossbeam_utils::Backoff::new();
        let mut history = Vec::with_capacity(2);
        for rep in 0..reps {
            rank.restart();
            rank.run(|| backoff.snooze(), || backoff.reset());
            // Keep the first result for the bit-exact check (later ones follow the recurrence).
            if rep == 0 {
                history.push(rank.data().to_vec());
            }
        }
        history.push(rank.data().to_vec());
        (history, rank.clock(), rank.bytes_sent)
    });
    let first_ok = results.iter().all(|(h, _, _)| h[0] == want);
    for _ in 1..reps {
        want.iter_mut().for_each(|v| *v = v.wrapping_mul(ranks as u64));
    }
    let last_ok = results.iter().all(|(h, _, _)| h[h.len() - 1] == want);
    let bytes: Vec<u64> = results.iter().map(|r| r.2 / reps.max(1)).collect();
    Timing {
        algorithm,
        ranks,
        bytes: elems * 8,
        reps,
        seconds: parallelism.wall.as_secs_f64() / reps.max(1) as f64,
        correct: first_ok && last_ok,
        steps: results.iter().map(|r| u64::from(r.1)).max().unwrap_or(0),
        max_bytes: bytes.iter().copied().max().unwrap_or(0),
        min_bytes: bytes.iter().copied().min().unwrap_or(0),
        parallelism,
    }
}

/// What a batch of real-thread runs of the broken links did: how many all-reduces ended wrong.
pub fn broken_on_cores(rounds: u64, pin: crate::hw::Pin) -> (u64, u64) {
    let mut wrong = 0;
    for _ in 0..rounds {
        let start = small_inputs(3, 3);
        let want = expected(&start);
        let built = build(Algorithm::Ring, start, links::real_broken);
        let slots: Vec<_> = built.into_iter().map(|r| std::sync::Mutex::new(Some(r))).collect();
        let (results, _) = crate::hw::run_threads(3, pin, |i| {
            let mut rank = slots[i].lock().unwrap().take().expect("one thread per rank");
            // Rank 1 is the slow neighbour: it lets the others run ahead before it reads.
            if i == 1 {
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
            }
            rank.run(std::thread::yield_now, || {});
            rank.into_data()
        });
        if results.iter().any(|d| *d != want) {
            wrong += 1;
        }
    }
    (wrong, rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_sequentially<S: Tx, R: Rx>(ranks: &mut [Rank<S, R>]) {
        // Round-robin polling on one thread: every schedule must complete without deadlock.
        let mut idle = 0;
        while idle < 10 * ranks.len() {
            let mut moved = false;
            for r in ranks.iter_mut() {
                if !matches!(r.poll(), Poll::Done | Poll::Blocked { .. }) {
                    moved = true;
                }
            }
            idle = if moved { 0 } else { idle + 1 };
        }
        assert!(
            ranks.iter_mut().all(|r| r.poll() == Poll::Done),
            "a rank did not finish"
        );
    }

    #[test]
    fn both_algorithms_sum_bit_exactly_for_every_n_and_length() {
        for n in 2..=9 {
            for len in [1, 2, 3, 7, 16, 33] {
                for alg in Algorithm::BOTH {
                    let inp = inputs(n, len);
                    let want = expected(&inp);
                    let mut ranks = build(alg, inp, links::real_fixed);
                    run_sequentially(&mut ranks);
                    for r in &ranks {
                        assert_eq!(r.data(), &want[..], "{} n={n} len={len} rank {}", alg.name(), r.id);
                    }
                }
            }
        }
    }

    #[test]
    fn counted_steps_and_bytes_match_the_formulas() {
        for n in [2usize, 3, 4, 8, 16] {
            let len = 16 * n;
            for alg in Algorithm::BOTH {
                let mut ranks = build(alg, inputs(n, len), links::real_fixed);
                run_sequentially(&mut ranks);
                let steps = ranks.iter().map(|r| u64::from(r.clock())).max().unwrap();
                let max_bytes = ranks.iter().map(|r| r.bytes_sent).max().unwrap();
                let total: u64 = ranks.iter().map(|r| r.bytes_sent).sum();
                if n.is_power_of_two() || alg == Algorithm::Ring {
                    assert_eq!(steps, alg.steps(n), "{} n={n}", alg.name());
                } else {
                    assert!(steps <= alg.steps(n), "{} n={n}: {steps}", alg.name());
                }
                assert_eq!(
                    max_bytes as f64,
                    alg.max_bytes_per_rank(n, 8.0 * len as f64),
                    "{} n={n}",
                    alg.name()
                );
                // Both send 2(N−1) vectors' worth in total: the ring spreads it, the tree does not.
                assert_eq!(total, 2 * (n as u64 - 1) * 8 * len as u64, "{} n={n}", alg.name());
            }
        }
    }

    #[test]
    fn broken_links_give_a_wrong_sum_when_the_neighbour_is_slow() {
        // The replay's schedule, on the real broken links: rank 1 runs only when nobody else can.
        let start = small_inputs(3, 3);
        let want = expected(&start);
        let mut ranks = build(Algorithm::Ring, start, links::real_broken);
        for _ in 0..100 {
            for r in [0, 2, 1] {
                if !matches!(ranks[r].poll(), Poll::Done | Poll::Blocked { .. }) {
                    break;
                }
            }
        }
        assert!(
            ranks.iter().any(|r| r.data() != &want[..]),
            "the broken links summed correctly"
        );
    }

    #[test]
    fn ceil_log2_and_chunks() {
        assert_eq!([1, 2, 3, 4, 5, 1024].map(ceil_log2), [0, 1, 2, 2, 3, 10]);
        assert_eq!(
            (0..3).map(|c| chunk(7, 3, c)).collect::<Vec<_>>(),
            vec![0..2, 2..4, 4..7]
        );
    }

    #[test]
    fn fit_recovers_alpha_and_beta_from_synthetic_samples() {
        let truth = AlphaBeta {
            alpha: 2e-6,
            beta: 1e-10,
        };
        let samples: Vec<_> = [8.0, 64.0, 512.0, 4096.0, 32768.0, 262144.0, 2097152.0]
            .iter()
            .flat_map(|&l: &f64| [(2.0, l, 0.0), (2.0, 2.0 * l, 0.0)])
            .map(|(a, b, _)| (a, b, a * truth.alpha + b * truth.beta))
            .collect();
        let f = AlphaBeta::fit(&samples).unwrap();
        assert!(
            (f.alpha / truth.alpha - 1.0).abs() < 1e-6 && (f.beta / truth.beta - 1.0).abs() < 1e-6,
            "{f:?}"
        );
        // Crossover at N = 1,024: (1023 − 10)α / ((10 − 1023/1024)β).
        let x = f.crossover(1024).unwrap();
        let want = 1013.0 * 2e-6 / ((10.0 - 1023.0 / 1024.0) * 1e-10);
        assert!((x / want - 1.0).abs() < 1e-6, "{x} vs {want}");
        // Where it is, the two model times meet.
        let (ring, tree) = (
            Algorithm::Ring.model_time(1024, x, f),
            Algorithm::Tree.model_time(1024, x, f),
        );
        assert!((ring / tree - 1.0).abs() < 1e-9);
        // At N = 2 the ring never loses (same steps, half the bytes).
        assert_eq!(f.crossover(2), Some(0.0));
        assert!(AlphaBeta::fit(&samples[..1]).is_none());
    }
}
