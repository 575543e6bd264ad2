//! # Cut-through (CTPIO): the first byte leaves before the last one has arrived
//!
//! A NIC sends a frame the host streams to it over PCIe. **Store-and-forward** waits until the
//! whole frame is in the NIC's buffer, then puts it on the wire: the frame's first byte leaves
//! only after its last byte has crossed PCIe. **Cut-through** starts the wire as soon as the
//! first chunk is in: the PCIe transfer and the wire's serialisation overlap, and the first byte
//! leaves one chunk after the host began. Solarflare/AMD X2 NICs call this CTPIO: the host writes
//! the frame straight into the NIC and, in `ct` mode, the NIC starts transmitting after a
//! threshold (`EF_CTPIO_CT_THRESH`, 64 bytes by default: one chunk here).
//!
//! The price: a frame whose sender gives up mid-stream — a bad status or CRC in its last chunk,
//! or the process descheduled before it finished writing — has its head on the wire already. It
//! cannot be recalled, so the NIC must end it **poisoned** (a deliberately bad FCS) for the
//! receiver to drop. Onload's guide says `ct` improves latency "at the cost of occasionally
//! transmitting a poisoned frame"; `sf-np` (its default) never emits one.
//!
//! ## The lab's model
//! No NIC is reachable here. The **device is real code on a real core**, standing in for the
//! NIC: a *PCIe* thread (the host) streams each frame as 64-byte [`Chunk`]s through the lab's SPSC
//! ring (`spsc::real::fixed`, one push — one published index store — per chunk, as each PCIe write
//! lands on its own) to a *wire* thread running the NIC's transmit MAC ([`fixed::Mac`]), which
//! puts the bytes on a [`Wire`]. The protocol — when a chunk may leave, and how a frame must end —
//! is the one a real NIC follows; the ring's Release/Acquire indices are the only synchronisation
//! (see `spsc`'s lesson), so `scripts/mutate-orderings` has no ordering of this folder to weaken.
//!
//! | what                          | how it is obtained here                                                          | label     |
//! |-------------------------------|----------------------------------------------------------------------------------|-----------|
//! | host → NIC transfer ("PCIe")  | 64-byte chunks crossing between two pinned cores through the SPSC ring           | analogue (measured) |
//! | time to first byte            | from the PCIe thread starting a frame to the MAC starting it on the wire, on one monotonic clock (TSC) | measured |
//! | wire serialisation            | `8 / Gb/s` ns per byte (`--line-rate`; 10 Gb/s by default, the rate CTPIO's `ct` mode supports), added to each chunk's measured arrival | modelled |
//! | time to last byte             | the measured arrivals of the chunks plus the modelled serialisation             | measured + modelled |
//! | the FCS                       | a CRC-32 computed by the model's wire ([`Recorder`]); a real MAC computes it in hardware, so the timed wire does not | simulated |
//!
//! On a shared 2-vCPU VM a chunk takes ~100–300 ns to cross between the cores, so this analogue
//! of PCIe is slower than a 10 Gb/s line (51 ns per chunk): a streamed frame keeps running the
//! wire dry. The run counts these *wire stalls*; the model restarts the chunk's serialisation
//! when it arrives, where a real NIC, which cannot pause a frame on the wire, would underrun and
//! poison it (Onload's `latency-best` profile warns of exactly this above 10 Gb/s).
//!
//! ## The protocol and its one decision
//! The MAC polls the ring: each poll takes every chunk that has arrived by then (one look at the
//! ring's `tail`). If the frame's last chunk is among them before any byte left, the end status
//! is known: an aborted frame is dropped whole (both modes). Otherwise, under cut-through, the
//! MAC starts the frame with the chunks it holds (the threshold is one chunk) and streams each
//! later chunk as it arrives. **When the last chunk of a streamed frame arrives, its status
//! decides how the frame ends**: good → a valid FCS; aborted → a poisoned FCS.
//!
//! | edge                  | writer                                   | reader                                  | guarantees |
//! |-----------------------|------------------------------------------|-----------------------------------------|------------|
//! | `[tail-publish]` (spsc) | PCIe side: writes a chunk, Release `tail` | wire side: Acquire `tail`, reads the chunk | a chunk's bytes and its LAST/ABORT flags are seen whole |
//! | `[head-publish]` (spsc) | wire side: Release `head` after the read  | PCIe side: Acquire `head` before reuse     | a slot is not overwritten while the MAC copies it out |
//!
//! ## The broken variant (`diff src/nic/cut_through/broken.rs src/nic/cut_through/fixed.rs`)
//! The broken MAC ends every streamed frame with the FCS of the bytes it sent — a valid one —
//! whatever its last chunk says. The failing interleaving (a 2-chunk frame its sender aborts):
//! 1. PCIe pushes chunk 0 (`tail` = 1, Release);
//! 2. the wire thread looks at the ring (Acquire `tail` → 1) and takes chunk 0: the frame's end
//!    is not in, so under cut-through it starts it — chunk 0's bytes are on the wire;
//! 3. PCIe pushes chunk 1, which carries the sender's ABORT;
//! 4. the wire thread pops chunk 1, sends its bytes and ends the frame with a valid FCS;
//! 5. the receiver checks the FCS and accepts the frame: **a bad frame was delivered as good**.
//!
//! In the other order (steps 1 and 3 before 2) the whole frame is in hand before it starts, its
//! abort is seen, and it is dropped: the bug needs the wire to poll before the host has finished,
//! which is exactly when cut-through pays off. Under store-and-forward no schedule shows it
//! (`loom_broken_store_and_forward_never_delivers_a_bad_frame`).
//!
//! ## Who sees it
//! | checker      | what it finds |
//! |--------------|---------------|
//! | loom         | found at its first execution: there the wire's Acquire load of `tail` returns 1 while 2 is already published (an older value is a legal read, and to the MAC it is the same as polling between the two pushes) |
//! | shuttle      | found (random and PCT) within a few schedules: it needs no weak memory, only the wire polling between two pushes |
//! | real x86-64  | found: with 1,500- and 9,000-byte frames the wire nearly always starts before the last chunk arrives, so nearly every aborted frame leaves as good; a 64-byte frame is one chunk and is always dropped whole |
//!
//! The bug is logic, not a data race: the broken MAC is safe code and runs on real cores
//! (`run cut-through --variant broken` counts the bad frames it delivered as good).
//! `step cut-through` replays the seed's picture chunk by chunk from the real ring and MAC.
//!
//! ## The real code it mirrors
//! Onload's ef_vi API (`src/include/etherfabric/ef_vi.h` in Xilinx-CNS/onload):
//! `ef_vi_transmit_ctpio(vi, frame_buf, frame_len, ct_threshold)` streams the frame to the NIC,
//! which starts the wire once `ct_threshold` bytes are in (`EF_VI_CTPIO_CT_THRESHOLD_SNF` asks
//! for store-and-forward) and appends the FCS itself; every CTPIO send is paired with
//! `ef_vi_transmit_ctpio_fallback`, the DMA descriptor the NIC uses when the CTPIO write cannot
//! go out. Our [`Mode`] is that threshold (one chunk, or the whole frame), our [`Chunk::ABORT`]
//! the host failing mid-frame, and the completion ring of the real-core run the TX completion.
//!
//! Sources: AMD/Solarflare Onload User Guide UG1586 — `EF_CTPIO_MODE` (`sf`, `sf-np`, `ct`: "at
//! the cost of occasionally transmitting a poisoned frame"), `EF_CTPIO_CT_THRESH` (default 64
//! bytes), "CTPIO Modes" (`ct` at 10 Gb/s, not 25 Gb/s); Onload's `latency-best` profile; IEEE
//! 802.3 clause 3.2.9 (the FCS, a CRC-32); cut-through switches, which for the same reason forward
//! frames whose FCS they cannot check first.

use std::time::{Duration, Instant};

use crate::hw::{Parallelism, Pin};
use crate::Variant;

pub mod demo;
mod replay;
pub use replay::{replay, ReplayStep};

backends! {
    /// The fixed MAC: a streamed frame ends poisoned when its last chunk says the sender aborted.
    fixed => "fixed.rs",
    /// The broken MAC: a streamed frame always ends with a valid FCS.
    broken => "broken.rs",
    /// The PCIe side: streams a frame as chunks into the ring.
    pcie => "pcie.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

/// Bytes per chunk: one cache line, one PCIe write, and CTPIO's default cut-through threshold.
pub const CHUNK_BYTES: usize = 64;

/// The frame sizes the demo measures: a minimum Ethernet frame, a full standard one, a jumbo one.
pub const FRAME_SIZES: [usize; 3] = [64, 1_500, 9_000];

/// One 64-byte piece of a frame, as the host writes it to the NIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The frame's sequence number.
    pub frame: u32,
    /// The chunk's position in its frame, from 0.
    pub index: u16,
    /// Bytes of `data` in use, `1..=64`.
    pub len: u8,
    /// [`Chunk::LAST`] on the frame's last chunk, with [`Chunk::ABORT`] when its sender aborted it.
    pub flags: u8,
    /// The frame's bytes `index * 64 .. index * 64 + len`.
    pub data: [u8; CHUNK_BYTES],
}

impl Chunk {
    /// The frame's last chunk.
    pub const LAST: u8 = 1;
    /// The sender aborted the frame (a bad status or CRC at the end): it must not be delivered.
    pub const ABORT: u8 = 2;

    /// True on the frame's last chunk.
    pub fn is_last(&self) -> bool {
        self.flags & Self::LAST != 0
    }

    /// True when this is the last chunk of a frame its sender aborted.
    pub fn aborted(&self) -> bool {
        self.flags & (Self::LAST | Self::ABORT) == Self::LAST | Self::ABORT
    }

    /// The bytes it carries.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

/// The chunks of frame `frame` holding `bytes`; with `abort`, the last one carries the abort.
///
/// # Panics
/// If `bytes` is empty or longer than 65,536 chunks.
pub fn chunks(frame: u32, bytes: &[u8], abort: bool) -> impl Iterator<Item = Chunk> + '_ {
    assert!(!bytes.is_empty(), "cut_through::chunks: a frame has at least one byte");
    let n = bytes.len().div_ceil(CHUNK_BYTES);
    assert!(n <= usize::from(u16::MAX) + 1, "cut_through::chunks: frame too long");
    bytes.chunks(CHUNK_BYTES).enumerate().map(move |(i, part)| {
        let mut data = [0u8; CHUNK_BYTES];
        data[..part.len()].copy_from_slice(part);
        let last = i + 1 == n;
        Chunk {
            frame,
            index: i as u16,
            len: part.len() as u8,
            flags: if last {
                Chunk::LAST | if abort { Chunk::ABORT } else { 0 }
            } else {
                0
            },
            data,
        }
    })
}

/// The `len` bytes of frame `frame` in the model and the replay: distinct per frame and position.
pub fn frame_bytes(frame: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (frame as usize * 31 + i * 7) as u8).collect()
}

/// Store-and-forward or cut-through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The frame leaves once its last chunk has arrived (CTPIO `sf`).
    StoreAndForward,
    /// The frame leaves from its first chunk on (CTPIO `ct`).
    CutThrough,
}

impl Mode {
    /// Both, store-and-forward first.
    pub const BOTH: [Mode; 2] = [Mode::StoreAndForward, Mode::CutThrough];

    /// `store-and-forward` / `cut-through`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::StoreAndForward => "store-and-forward",
            Mode::CutThrough => "cut-through",
        }
    }
}

/// How a frame ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// On the wire with a valid FCS: the receiver accepts it.
    Sent,
    /// On the wire with a poisoned FCS: the receiver drops it.
    Poisoned,
    /// Dropped before any byte left (its abort was seen first).
    Dropped,
}

/// The wire side of the MAC: where a frame's bytes go.
pub trait Wire {
    /// Frame `frame` starts now with `buffered`, its first chunks, which were already in the
    /// NIC (all of them under store-and-forward).
    fn start(&mut self, frame: u32, buffered: &[Chunk]);
    /// `chunk`, just taken from the ring, goes out after the frame's earlier bytes.
    fn send(&mut self, chunk: &Chunk);
    /// The frame ends: the MAC appends the FCS, poisoned (deliberately wrong) when `poisoned`.
    fn end(&mut self, poisoned: bool);
    /// Frame `frame` is dropped whole: none of its bytes ever leave.
    fn discard(&mut self, frame: u32);
}

/// What the MAC needs of the ring's consumer half: the chunks that have arrived, at one look.
pub trait Arrivals: Send + 'static {
    /// Every chunk in the ring now, oldest first (one load of the producer's index: chunks pushed
    /// meanwhile wait for the next look). A chunk is removed when the iterator yields it; the
    /// ones not taken stay in the ring.
    fn arrivals(&mut self) -> impl Iterator<Item = Chunk> + '_;
}

macro_rules! impl_arrivals {
    ($($backend:ident),+) => {$(
        impl Arrivals for crate::spsc::$backend::fixed::Consumer<Chunk> {
            fn arrivals(&mut self) -> impl Iterator<Item = Chunk> + '_ {
                self.pop_chunk(usize::MAX)
            }
        }
    )+};
}
impl_arrivals!(real, loom, shuttle);

/// What the model scenarios and the replay need of a MAC (broken or fixed, any backend).
pub trait Forward: Send + 'static {
    /// An idle MAC.
    fn new(mode: Mode) -> Self;
    /// One poll of the ring (see [`fixed::Mac::poll`]).
    fn poll<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Option<Outcome>;
    /// Polls until a frame ends (see [`fixed::Mac::forward`]).
    fn forward<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Outcome;
    /// Chunks held back from the wire.
    fn held(&self) -> usize;
}

macro_rules! impl_forward {
    ($($backend:ident::$variant:ident),+) => {$(
        impl Forward for $backend::$variant::Mac {
            fn new(mode: Mode) -> Self {
                $backend::$variant::Mac::new(mode)
            }
            fn poll<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Option<Outcome> {
                $backend::$variant::Mac::poll(self, ring, wire)
            }
            fn forward<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Outcome {
                $backend::$variant::Mac::forward(self, ring, wire)
            }
            fn held(&self) -> usize {
                $backend::$variant::Mac::held(self)
            }
        }
    )+};
}
impl_forward!(
    real::fixed,
    real::broken,
    loom::fixed,
    loom::broken,
    shuttle::fixed,
    shuttle::broken
);

/// IEEE 802.3's CRC-32 (reflected, polynomial `0xEDB88320`): the FCS. Bit by bit — the model's
/// frames are a few bytes; a real MAC computes it in hardware at line rate.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One frame as it went out on a [`Recorder`]'s wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnWire {
    /// The frame's number.
    pub frame: u32,
    /// Chunks the MAC held when it started the frame (all of them: store-and-forward).
    pub started_with: usize,
    /// Its bytes on the wire so far.
    pub bytes: Vec<u8>,
    /// The FCS the MAC appended (`None` while the frame is still going out).
    pub fcs: Option<u32>,
}

/// A [`Wire`] that records everything sent and appends a real FCS: the model's wire (and the
/// replay's). A receiver ([`receive`]) accepts a frame only if its FCS matches its bytes.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Frames that started, in order.
    pub frames: Vec<OnWire>,
    /// Frames dropped whole, in order.
    pub discarded: Vec<u32>,
}

impl Wire for Recorder {
    fn start(&mut self, frame: u32, buffered: &[Chunk]) {
        self.frames.push(OnWire {
            frame,
            started_with: buffered.len(),
            bytes: Vec::new(),
            fcs: None,
        });
        for chunk in buffered {
            self.send(chunk);
        }
    }
    fn send(&mut self, chunk: &Chunk) {
        let on = self.frames.last_mut().expect("a chunk is sent inside a started frame");
        assert_eq!(on.frame, chunk.frame, "a chunk of another frame went out mid-frame");
        on.bytes.extend_from_slice(chunk.bytes());
    }
    fn end(&mut self, poisoned: bool) {
        let on = self.frames.last_mut().expect("only a started frame ends");
        let crc = crc32(&on.bytes);
        on.fcs = Some(if poisoned { !crc } else { crc });
    }
    fn discard(&mut self, frame: u32) {
        self.discarded.push(frame);
    }
}

/// The receiver: frame `frame`'s bytes if it came off `wire` complete with a valid FCS.
pub fn receive(wire: &Recorder, frame: u32) -> Option<Vec<u8>> {
    wire.frames
        .iter()
        .find(|f| f.frame == frame)
        .filter(|f| f.fcs == Some(crc32(&f.bytes)))
        .map(|f| f.bytes.clone())
}

/// The line rate of the modelled wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineRate {
    /// Serialised at this many Gb/s: `8000 / gbps` picoseconds per byte, busy-waited.
    Gbps(u64),
    /// Not modelled: the wire is a buffer the bytes are copied into.
    Unpaced,
}

impl LineRate {
    /// Picoseconds per byte, when paced.
    fn ps_per_byte(self) -> Option<u64> {
        match self {
            LineRate::Gbps(g) => Some(8_000 / g.max(1)),
            LineRate::Unpaced => None,
        }
    }

    /// `10 Gb/s (modelled)` / `unpaced`.
    pub fn describe(self) -> String {
        match self {
            LineRate::Gbps(g) => format!("{g} Gb/s (modelled)"),
            LineRate::Unpaced => "unpaced (the wire is a buffer)".into(),
        }
    }
}

/// The timed wire of a real-core run. It stamps each frame's first byte when the MAC starts it,
/// copies every chunk into a frame buffer, and computes when the last byte has left: each chunk is
/// serialised at the modelled line rate from when the previous one finished or when it arrived
/// (was taken from the ring), whichever is later — arithmetic, not a busy-wait, so the clock reads
/// and copies of the simulation never stretch the modelled wire. It computes no FCS (a MAC does
/// that in hardware, at line rate) and records whether the frame ended poisoned.
#[derive(Debug)]
struct TimedWire {
    ps_per_byte: Option<u64>,
    buffer: Vec<u8>,
    /// Bytes of the current frame in `buffer`.
    filled: usize,
    /// The current frame and the chunk expected next.
    frame: u32,
    next_index: u16,
    /// When the current frame's first byte left.
    first: Instant,
    /// When the bytes sent so far finish serialising: `first` plus the frame's serialisation
    /// time, plus every stall.
    done: Instant,
    /// Picoseconds of serialisation not yet added to `done` (it counts whole nanoseconds).
    carry_ps: u64,
    /// Per frame, in order: `(first byte, last byte, poisoned)`, or `None` if dropped whole.
    ends: Vec<Option<(Instant, Instant, bool)>>,
    /// Streamed chunks that arrived after the wire had finished the previous one (the host was
    /// slower than the line: a real NIC would underrun here).
    stalls: u64,
    /// Chunks out of order or of the wrong frame (0 when the ring is correct).
    misordered: u64,
}

impl TimedWire {
    fn new(line: LineRate, frames: usize) -> Self {
        let now = Instant::now();
        Self {
            ps_per_byte: line.ps_per_byte(),
            buffer: vec![0; FRAME_SIZES[2] + CHUNK_BYTES],
            filled: 0,
            frame: 0,
            next_index: 0,
            first: now,
            done: now,
            carry_ps: 0,
            ends: Vec::with_capacity(frames),
            stalls: 0,
            misordered: 0,
        }
    }

    /// Copies `chunk` out and adds its serialisation time to `done`.
    fn put(&mut self, chunk: &Chunk) {
        if chunk.frame != self.frame || chunk.index != self.next_index {
            self.misordered += 1;
        }
        self.next_index = chunk.index.wrapping_add(1);
        let len = usize::from(chunk.len);
        if let Some(dst) = self.buffer.get_mut(self.filled..self.filled + len) {
            dst.copy_from_slice(chunk.bytes());
            self.filled += len;
        }
        if let Some(ps) = self.ps_per_byte {
            let total = self.carry_ps + len as u64 * ps;
            self.done += Duration::from_nanos(total / 1_000);
            self.carry_ps = total % 1_000;
        }
    }
}

impl Wire for TimedWire {
    fn start(&mut self, frame: u32, buffered: &[Chunk]) {
        let now = Instant::now();
        (self.first, self.done, self.carry_ps) = (now, now, 0);
        (self.frame, self.next_index, self.filled) = (frame, 0, 0);
        for chunk in buffered {
            self.put(chunk);
        }
    }

    fn send(&mut self, chunk: &Chunk) {
        if self.ps_per_byte.is_some() {
            let arrived = Instant::now();
            if arrived > self.done {
                // The wire ran dry mid-frame: this chunk starts when it arrived.
                self.stalls += 1;
                self.done = arrived;
            }
        }
        self.put(chunk);
    }

    fn end(&mut self, poisoned: bool) {
        let last = match self.ps_per_byte {
            Some(_) => self.done,
            None => Instant::now(),
        };
        self.ends.push(Some((self.first, last, poisoned)));
    }

    fn discard(&mut self, _frame: u32) {
        self.ends.push(None);
    }
}

/// Every `ABORT_EVERY`-th frame of a real-core run is aborted by its sender (the last of each group).
pub const ABORT_EVERY: u64 = 8;

/// Nanosecond percentiles of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The mean.
    pub mean: f64,
}

impl Percentiles {
    fn of(mut ns: Vec<f64>) -> Self {
        if ns.is_empty() {
            return Self::default();
        }
        ns.sort_by(f64::total_cmp);
        Self {
            p50: ns[ns.len() / 2],
            p99: ns[(ns.len() * 99 / 100).min(ns.len() - 1)],
            mean: ns.iter().sum::<f64>() / ns.len() as f64,
        }
    }
}

/// What one real-core run measured.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Frames streamed.
    pub frames: u64,
    /// Frames that were not aborted (the latency sample).
    pub good: u64,
    /// From the PCIe side starting a good frame to its first byte on the wire.
    pub first_byte: Percentiles,
    /// From the PCIe side starting a good frame to its last byte on the wire.
    pub last_byte: Percentiles,
    /// Frames their sender aborted.
    pub aborted: u64,
    /// Aborted frames dropped whole before a byte left.
    pub dropped: u64,
    /// Aborted frames that went out poisoned.
    pub poisoned: u64,
    /// Aborted frames that went out with a valid FCS: **a bad frame delivered as good**.
    pub bad_as_good: u64,
    /// Good frames that went out poisoned or were dropped (0 when the MAC is right).
    pub good_lost: u64,
    /// Streamed chunks that found the modelled wire idle mid-frame (the host slower than the line).
    pub stalls: u64,
    /// Chunks out of order (0 when the ring is right).
    pub misordered: u64,
    /// Whether the two threads really ran at once.
    pub parallelism: Parallelism,
}

/// The raw results of one or more runs of one case, merged.
#[derive(Debug)]
struct Tally {
    first: Vec<f64>,
    last: Vec<f64>,
    frames: u64,
    dropped: u64,
    poisoned: u64,
    bad_as_good: u64,
    good_lost: u64,
    stalls: u64,
    misordered: u64,
    parallelism: Parallelism,
}

impl Tally {
    fn new() -> Self {
        Self {
            first: Vec::new(),
            last: Vec::new(),
            frames: 0,
            dropped: 0,
            poisoned: 0,
            bad_as_good: 0,
            good_lost: 0,
            stalls: 0,
            misordered: 0,
            parallelism: Parallelism {
                wall: Duration::ZERO,
                cpu: vec![Duration::ZERO; 2],
            },
        }
    }

    fn into_run(self) -> CoreRun {
        CoreRun {
            frames: self.frames,
            good: self.first.len() as u64,
            first_byte: Percentiles::of(self.first),
            last_byte: Percentiles::of(self.last),
            aborted: self.dropped + self.poisoned + self.bad_as_good,
            dropped: self.dropped,
            poisoned: self.poisoned,
            bad_as_good: self.bad_as_good,
            good_lost: self.good_lost,
            stalls: self.stalls,
            misordered: self.misordered,
            parallelism: self.parallelism,
        }
    }
}

/// Streams `frames` frames of `frame_len` bytes from a PCIe thread to a wire thread running the
/// `variant` MAC in `mode`, one frame at a time (the PCIe side starts the next frame when the
/// wire's completion for the last one arrives, so every frame meets an idle pipe), every
/// [`ABORT_EVERY`]-th frame aborted by its sender. Pinned as `pin` says.
///
/// # Panics
/// If `frame_len` is 0 or more than 9,000 bytes.
pub fn run_on_cores(variant: Variant, mode: Mode, frame_len: usize, frames: u64, line: LineRate, pin: Pin) -> CoreRun {
    let mut tally = Tally::new();
    measure(&mut tally, variant, mode, frame_len, frames, line, pin);
    tally.into_run()
}

/// Store-and-forward and cut-through on the same frames, measured in alternation (ten rounds
/// each, `frames` frames in all per mode) so that both meet the same machine: on a shared VM the
/// cost of a cross-core transfer drifts within seconds. Returns `[store-and-forward, cut-through]`.
///
/// # Panics
/// If `frame_len` is 0 or more than 9,000 bytes.
pub fn compare_on_cores(variant: Variant, frame_len: usize, frames: u64, line: LineRate, pin: Pin) -> [CoreRun; 2] {
    const ROUNDS: u64 = 10;
    let mut tallies = [Tally::new(), Tally::new()];
    for round in 0..ROUNDS {
        let n = frames / ROUNDS + u64::from(round < frames % ROUNDS);
        for (tally, mode) in tallies.iter_mut().zip(Mode::BOTH) {
            measure(tally, variant, mode, frame_len, n, line, pin);
        }
    }
    tallies.map(Tally::into_run)
}

fn is_aborted(frame: u64) -> bool {
    frame % ABORT_EVERY == ABORT_EVERY - 1
}

fn measure(tally: &mut Tally, variant: Variant, mode: Mode, frame_len: usize, frames: u64, line: LineRate, pin: Pin) {
    assert!(
        (1..=FRAME_SIZES[2]).contains(&frame_len),
        "cut_through::run_on_cores: a frame of 1 to 9000 bytes, got {frame_len}"
    );
    match variant {
        Variant::Broken => measure_mac::<real::broken::Mac>(tally, mode, frame_len, frames, line, pin),
        Variant::Fixed => measure_mac::<real::fixed::Mac>(tally, mode, frame_len, frames, line, pin),
    }
}

fn measure_mac<M: Forward>(tally: &mut Tally, mode: Mode, frame_len: usize, frames: u64, line: LineRate, pin: Pin) {
    if frames == 0 {
        return;
    }
    // The NIC's buffer holds a whole jumbo frame, so store-and-forward never stalls the host.
    let (tx, rx) = crate::spsc::real::fixed::channel::<Chunk>(FRAME_SIZES[2].div_ceil(CHUNK_BYTES) + 1);
    // TX completions, wire to host: one per frame.
    let (done_tx, done_rx) = crate::spsc::real::fixed::channel::<u32>(4);
    let halves = std::sync::Mutex::new((Some((tx, done_rx)), Some((rx, done_tx))));
    let bytes = frame_bytes(0, frame_len);
    let n = frames as usize;
    enum Side {
        Pcie(Vec<Instant>),
        Wire(TimedWire),
    }
    let (mut results, parallelism) = crate::hw::run_threads(2, pin, |i| {
        if i == 0 {
            let (mut tx, mut done) = halves.lock().unwrap().0.take().expect("one PCIe side");
            let mut starts = Vec::with_capacity(n);
            for f in 0..frames {
                starts.push(Instant::now());
                real::pcie::send_frame(&mut tx, f as u32, &bytes, is_aborted(f));
                crate::hw::spin_until(|| done.pop().is_some());
            }
            Side::Pcie(starts)
        } else {
            let (mut rx, mut done) = halves.lock().unwrap().1.take().expect("one wire side");
            let mut mac = M::new(mode);
            let mut wire = TimedWire::new(line, n);
            for f in 0..frames {
                mac.forward(&mut rx, &mut wire);
                crate::hw::spin_until(|| done.push(f as u32).is_ok());
            }
            Side::Wire(wire)
        }
    });
    let (Some(Side::Wire(wire)), Some(Side::Pcie(starts))) = (results.pop(), results.pop()) else {
        unreachable!("thread 0 is the PCIe side, thread 1 the wire")
    };
    let ns = |from: Instant, to: Instant| to.saturating_duration_since(from).as_nanos() as f64;
    for (f, (start, end)) in starts.iter().zip(&wire.ends).enumerate() {
        match (is_aborted(f as u64), *end) {
            (true, None) => tally.dropped += 1,
            (true, Some((_, _, true))) => tally.poisoned += 1,
            (true, Some((_, _, false))) => tally.bad_as_good += 1,
            (false, Some((a, b, false))) => {
                tally.first.push(ns(*start, a));
                tally.last.push(ns(*start, b));
            }
            (false, _) => tally.good_lost += 1,
        }
    }
    tally.frames += frames;
    tally.stalls += wire.stalls;
    tally.misordered += wire.misordered;
    tally.parallelism.wall += parallelism.wall;
    for (sum, cpu) in tally.parallelism.cpu.iter_mut().zip(&parallelism.cpu) {
        *sum += *cpu;
    }
}
