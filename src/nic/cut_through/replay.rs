//! `lockfree-lab step cut-through`: one frame at a time, chunk by chunk, the PCIe side and the
//! wire side under store-and-forward and cut-through, and the aborted frame — played on one
//! thread, deterministically, with the real ring and the real MAC, and drawn from their state.

use super::{chunks, frame_bytes, real, receive, Forward, Mode, Outcome, Recorder, CHUNK_BYTES};
use crate::Variant;

/// Chunks of the replay's frame.
const CHUNKS: usize = 6;

/// One step of [`replay`]: one tick — a chunk crosses PCIe, then the wire side polls — and the
/// frame right after it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based step number.
    pub number: usize,
    /// The scene: `store-and-forward`, `cut-through`, `cut-through, aborted`…
    pub scene: String,
    /// The tick (one chunk across PCIe and one chunk's time on the wire per tick); 0 for the
    /// receiver's verdict.
    pub t: usize,
    /// What the PCIe side did.
    pub pcie: String,
    /// What the wire side (the MAC) did.
    pub wire: String,
    /// One character per chunk: `.` not yet arrived, `P` arrived over PCIe (in the ring or held
    /// by the MAC), `W` on the wire, `x` dropped whole.
    pub frame: String,
    /// Chunks in the ring.
    pub ring: usize,
    /// Chunks the MAC holds back from the wire.
    pub held: usize,
    /// Bytes of the frame on the wire.
    pub on_wire: usize,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.t == 0 {
            writeln!(f, "{:>2}. [{}] receiver: {}", self.number, self.scene, self.wire)?;
        } else {
            writeln!(
                f,
                "{:>2}. [{}] t={}  PCIe: {}  |  wire: {}",
                self.number, self.scene, self.t, self.pcie, self.wire
            )?;
        }
        write!(
            f,
            "    [{}]  ring {} · MAC holds {} · on the wire {} B",
            self.frame, self.ring, self.held, self.on_wire
        )
    }
}

/// The four scenes, for the `variant` MAC: a good frame under store-and-forward, then under
/// cut-through; an aborted frame under cut-through (the fixed MAC poisons it, the broken one
/// sends it as good), then under store-and-forward (dropped whole by both). Returns the steps and
/// the outcome line.
pub fn replay(variant: Variant) -> (Vec<ReplayStep>, String) {
    match variant {
        Variant::Broken => play::<real::broken::Mac>(),
        Variant::Fixed => play::<real::fixed::Mac>(),
    }
}

fn play<M: Forward>() -> (Vec<ReplayStep>, String) {
    let mut steps = Vec::new();
    let sf = scene::<M>(&mut steps, 0, Mode::StoreAndForward, false);
    let ct = scene::<M>(&mut steps, 1, Mode::CutThrough, false);
    let (_, aborted_ct) = scene::<M>(&mut steps, 2, Mode::CutThrough, true);
    scene::<M>(&mut steps, 3, Mode::StoreAndForward, true);
    let (Some(t_sf), Some(t_ct)) = (sf.0, ct.0) else {
        unreachable!("a good frame always starts")
    };
    let speedup = format!(
        "first byte at t={t_sf} under store-and-forward, t={t_ct} under cut-through ({:.0}x sooner in this schematic \
         of one chunk per tick; `run cut-through` measures it on your cores)",
        t_sf as f64 / t_ct as f64
    );
    let outcome = match aborted_ct {
        Outcome::Poisoned => format!(
            "{speedup}. The aborted frame's head was already on the wire under cut-through: the MAC ended it \
             poisoned and the receiver dropped it"
        ),
        Outcome::Sent => format!(
            "{speedup}. a bad frame was delivered as good: the aborted frame's head was already on the wire under \
             cut-through, and the MAC ended it with a valid FCS"
        ),
        Outcome::Dropped => format!("{speedup}. The aborted frame was dropped whole"),
    };
    (steps, outcome)
}

/// Plays one frame (`CHUNKS` chunks, aborted by its sender when `abort`) in `mode`; returns the
/// tick of its first byte on the wire and how it ended.
fn scene<M: Forward>(steps: &mut Vec<ReplayStep>, frame: u32, mode: Mode, abort: bool) -> (Option<usize>, Outcome) {
    let label = format!("{}{}", mode.name(), if abort { ", aborted" } else { "" });
    let bytes = frame_bytes(frame, CHUNKS * CHUNK_BYTES);
    let (mut tx, mut rx) = crate::spsc::real::fixed::channel(CHUNKS);
    let mut mac = M::new(mode);
    let mut wire = Recorder::default();
    let mut first_byte = None;
    let mut outcome = None;
    for (t, chunk) in (1..).zip(chunks(frame, &bytes, abort)) {
        tx.push(chunk).expect("the ring holds the whole frame");
        let pcie = format!(
            "chunk {} of {CHUNKS} arrives{}",
            chunk.index + 1,
            if chunk.aborted() {
                " carrying the sender's ABORT"
            } else {
                ""
            }
        );
        let was_on_wire = on_wire(&wire, frame);
        let ended = mac.poll(&mut rx, &mut wire);
        let now_on_wire = on_wire(&wire, frame);
        if first_byte.is_none() && started(&wire, frame) {
            first_byte = Some(t);
        }
        let what = match ended {
            Some(Outcome::Sent) if was_on_wire == 0 => {
                "the whole frame is in: it goes out, ending with a valid FCS".to_string()
            }
            Some(Outcome::Sent) if chunk.aborted() => {
                "sends the last chunk and ends the frame with a valid FCS — ignoring the ABORT".to_string()
            }
            Some(Outcome::Sent) => "sends the last chunk and ends the frame with a valid FCS".to_string(),
            Some(Outcome::Poisoned) => {
                "sends the last chunk; the ABORT means the frame ends with a poisoned FCS".to_string()
            }
            Some(Outcome::Dropped) => {
                "the whole frame is in and its last chunk says ABORT: dropped, no byte left".to_string()
            }
            None if now_on_wire > was_on_wire && was_on_wire == 0 => {
                "the frame's end is not in yet: cut-through starts it".to_string()
            }
            None if now_on_wire > was_on_wire => "streams the chunk onto the wire".to_string(),
            None => "holds the chunk: it waits for the last one".to_string(),
        };
        outcome = ended.or(outcome);
        steps.push(ReplayStep {
            number: steps.len() + 1,
            scene: label.clone(),
            t,
            pcie,
            wire: what,
            frame: draw(&wire, frame, t, rx.len() + mac.held()),
            ring: rx.len(),
            held: mac.held(),
            on_wire: now_on_wire,
        });
    }
    let outcome = outcome.expect("the last chunk ends the frame");
    let verdict = match (receive(&wire, frame).is_some(), abort) {
        (true, false) => "FCS valid: the frame is accepted".to_string(),
        (true, true) => "FCS valid: the frame is accepted — a bad frame was delivered as good".to_string(),
        (false, _) if wire.discarded.contains(&frame) => "nothing arrived: the frame never left".to_string(),
        (false, _) => "FCS poisoned: the frame is dropped, as its sender needs".to_string(),
    };
    steps.push(ReplayStep {
        number: steps.len() + 1,
        scene: label,
        t: 0,
        pcie: String::new(),
        wire: verdict,
        frame: draw(&wire, frame, CHUNKS, 0),
        ring: rx.len(),
        held: mac.held(),
        on_wire: on_wire(&wire, frame),
    });
    (first_byte, outcome)
}

fn started(wire: &Recorder, frame: u32) -> bool {
    wire.frames.iter().any(|f| f.frame == frame)
}

fn on_wire(wire: &Recorder, frame: u32) -> usize {
    wire.frames
        .iter()
        .find(|f| f.frame == frame)
        .map_or(0, |f| f.bytes.len())
}

/// The frame's chunks: on the wire, arrived (`waiting` of them not on the wire), not yet arrived,
/// or dropped.
fn draw(wire: &Recorder, frame: u32, arrived: usize, waiting: usize) -> String {
    if wire.discarded.contains(&frame) {
        return "x".repeat(CHUNKS);
    }
    let sent = on_wire(wire, frame).div_ceil(CHUNK_BYTES);
    let arrived = arrived.max(sent + waiting);
    (0..CHUNKS)
        .map(|i| {
            if i < sent {
                'W'
            } else if i < arrived {
                'P'
            } else {
                '.'
            }
        })
        .collect()
}
