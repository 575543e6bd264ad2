// FIX: a frame already on the wire ends with the status its last chunk carries: an aborted frame goes out poisoned.
use super::sync::spin_loop;
use crate::nic::cut_through::{Arrivals, Chunk, Mode, Outcome, Wire};

/// The transmit MAC of the NIC: it takes each frame's chunks from the PCIe ring, in order, and
/// puts them on the wire — after the last one (store-and-forward) or from the first one on
/// (cut-through).
#[derive(Debug)]
pub struct Mac {
    /// Store-and-forward or cut-through.
    mode: Mode,
    /// Chunks of the current frame taken from the ring and not on the wire yet, in order.
    held: Vec<Chunk>,
    /// True from the moment the current frame's first byte went out before its last chunk had
    /// arrived (cut-through) until its last chunk is sent.
    streaming: bool,
}

impl Mac {
    /// An idle MAC in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            held: Vec::new(),
            streaming: false,
        }
    }

    /// Chunks taken from the ring and held back from the wire.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// True while a frame is on the wire with its last chunk still to come.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// One poll: takes every chunk that has arrived (one look at the ring) and puts on the wire
    /// what the mode allows. Returns how the frame ended once its last chunk is handled (`None`:
    /// not yet); chunks of the next frame stay in the ring.
    ///
    /// A frame whose last chunk arrived before any of its bytes left is handled as under
    /// store-and-forward in both modes: its end status is known, so an aborted one is dropped
    /// whole. Otherwise cut-through starts the frame with the chunks it holds (the threshold is
    /// one 64-byte chunk), before its end status exists.
    pub fn poll<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Option<Outcome> {
        for chunk in ring.arrivals() {
            if !self.streaming {
                self.held.push(chunk);
                if chunk.is_last() {
                    return Some(self.store_and_forward(wire));
                }
                continue;
            }
            wire.send(&chunk);
            if chunk.is_last() {
                self.streaming = false;
                // FIX: the end status decides how the frame ends: its head has already left, so an aborted frame
                // FIX: gets a poisoned FCS, which every receiver drops (CTPIO's "poisoned frame").
                let poisoned = chunk.aborted();
                wire.end(poisoned);
                return Some(if poisoned { Outcome::Poisoned } else { Outcome::Sent });
            }
        }
        if self.mode == Mode::CutThrough && !self.streaming && !self.held.is_empty() {
            // The threshold is in hand and the frame's end is not: start it on the wire now.
            wire.start(self.held[0].frame, &self.held);
            self.held.clear();
            self.streaming = true;
        }
        None
    }

    /// The whole frame is in `held`: drop it if its sender aborted it, else send it whole.
    fn store_and_forward<W: Wire>(&mut self, wire: &mut W) -> Outcome {
        let frame = self.held[0].frame;
        if self.held.last().is_some_and(Chunk::aborted) {
            wire.discard(frame);
            self.held.clear();
            return Outcome::Dropped;
        }
        wire.start(frame, &self.held);
        self.held.clear();
        wire.end(false);
        Outcome::Sent
    }

    /// Polls until one frame has ended (spinning while the ring is empty) and returns how.
    pub fn forward<R: Arrivals, W: Wire>(&mut self, ring: &mut R, wire: &mut W) -> Outcome {
        loop {
            if let Some(outcome) = self.poll(ring, wire) {
                return outcome;
            }
            spin_loop();
        }
    }
}
