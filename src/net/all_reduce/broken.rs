// BUG: a sender overwrites its send buffer while the neighbour may still be reading the last chunk.
use super::sync::{Arc, AtomicU64, Ordering};
use crate::net::all_reduce::Notice;
use crate::spsc::{Pop, Push};

/// The send buffer of one directed link: written by the sender, read in place by the receiver
/// (zero-copy, as a NIC or an NCCL channel reads a registered buffer).
struct Buffer {
    /// One chunk's elements. Atomic (Relaxed) so that a protocol bug is a wrong value, not undefined
    /// behaviour: the broken variant runs on real cores too.
    cells: Box<[AtomicU64]>,
}

/// The sending end of a link: the send buffer, the "chunk ready" notices it pushes to the
/// receiver, and the credits the receiver sends back once it has read a chunk.
pub struct Sender {
    buffer: Arc<Buffer>,
    notices: Box<dyn Push<Notice>>,
    credits: Box<dyn Pop<u32>>,
    /// Chunks written into the buffer and announced.
    sent: u64,
    /// Credits received: chunks the receiver has finished reading.
    credited: u64,
}

/// The receiving end of a link.
pub struct Receiver {
    buffer: Arc<Buffer>,
    notices: Box<dyn Pop<Notice>>,
    credits: Box<dyn Push<u32>>,
}

/// A link with a send buffer of `len` elements, over two SPSC rings: `notices` (sender →
/// receiver) and `credits` (receiver → sender), each with room for two entries.
pub fn link(
    len: usize,
    notices: (Box<dyn Push<Notice>>, Box<dyn Pop<Notice>>),
    credits: (Box<dyn Push<u32>>, Box<dyn Pop<u32>>),
) -> (Sender, Receiver) {
    let buffer = Arc::new(Buffer {
        cells: (0..len).map(|_| AtomicU64::new(0)).collect(),
    });
    let sender = Sender {
        buffer: Arc::clone(&buffer),
        notices: notices.0,
        credits: credits.1,
        sent: 0,
        credited: 0,
    };
    let receiver = Receiver {
        buffer,
        notices: notices.1,
        credits: credits.0,
    };
    (sender, receiver)
}

impl Sender {
    /// Writes `data` into the send buffer and announces it with the sender's `clock`, or returns
    /// false (and writes nothing) while the buffer is not free.
    pub fn try_send(&mut self, data: &[u64], clock: u32) -> bool {
        while self.credits.pop().is_some() {
            self.credited += 1;
        }
        // BUG: one chunk may still be unread: a window of two chunks on a single buffer.
        if self.credited + 1 < self.sent {
            return false;
        }
        for (cell, &v) in self.buffer.cells.iter().zip(data) {
            // ORDERING: Relaxed [chunk] — the notice push below (the ring's Release tail) publishes it; the credit pop above (the ring's Acquire tail) ordered the receiver's reads of the last chunk before it.
            cell.store(v, Ordering::Relaxed);
        }
        let notice = Notice { len: data.len(), clock };
        assert!(
            self.notices.push(notice).is_ok(),
            "notice ring full: more than two chunks in flight on one link"
        );
        self.sent += 1;
        true
    }

    /// The send buffer's contents now (for the replay's pictures).
    pub fn buffer(&self) -> Vec<u64> {
        self.buffer
            .cells
            .iter()
            // ORDERING: Relaxed [peek] — a snapshot for display, on the replay's single thread.
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

impl Receiver {
    /// If a chunk has been announced: copies it out of the sender's buffer into `out` (up to its
    /// length), credits the sender, and returns the notice.
    pub fn try_recv(&mut self, out: &mut [u64]) -> Option<Notice> {
        let notice = self.notices.pop()?;
        for (o, cell) in out.iter_mut().zip(self.buffer.cells.iter()) {
            // ORDERING: Relaxed [chunk] — the notice pop above (the ring's Acquire tail) made the sender's stores visible; the credit push below (Release) publishes that this read is done.
            *o = cell.load(Ordering::Relaxed);
        }
        assert!(
            self.credits.push(1).is_ok(),
            "credit ring full: more than two chunks in flight on one link"
        );
        Some(notice)
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.buffer.cells.len())
            .field("sent", &self.sent)
            .field("credited", &self.credited)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.buffer.cells.len())
            .finish_non_exhaustive()
    }
}
