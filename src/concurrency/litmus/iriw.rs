// Independent reads of independent writes (IRIW): two writers, two readers reading in opposite
// orders. If the readers disagree on which write came first, there is no single order of the
// writes that every thread sees.
use super::sync::{fence, AtomicUsize, Ordering};
use crate::litmus::Mode;

/// The two independently written locations of IRIW.
#[derive(Debug, Default)]
pub struct Iriw {
    /// Written to 1 by the first writer.
    x: AtomicUsize,
    /// Written to 1 by the second writer.
    y: AtomicUsize,
}

impl Iriw {
    /// The first writer: `x = 1`.
    pub fn write_x(&self, mode: Mode) {
        // ORDERING: the mode's store ordering [iriw-x] — the readers' loads read it.
        self.x.store(1, mode.store());
    }

    /// The second writer: `y = 1`.
    pub fn write_y(&self, mode: Mode) {
        // ORDERING: the mode's store ordering [iriw-y] — the readers' loads read it.
        self.y.store(1, mode.store());
    }

    /// The first reader: `(x, y)`, in that order.
    pub fn read_x_then_y(&self, mode: Mode) -> (usize, usize) {
        // ORDERING: the mode's load ordering [iriw-x] — Acquire alone does not order independent writes.
        let x = self.x.load(mode.load());
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [iriw-fence] — both readers' fences are in one total order.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's load ordering [iriw-y] — as above.
        (x, self.y.load(mode.load()))
    }

    /// The second reader: `(y, x)`, in that order.
    pub fn read_y_then_x(&self, mode: Mode) -> (usize, usize) {
        // ORDERING: the mode's load ordering [iriw-y] — mirror of the first reader.
        let y = self.y.load(mode.load());
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [iriw-fence] — mirror of the first reader's fence.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's load ordering [iriw-x] — mirror of the first reader.
        (y, self.x.load(mode.load()))
    }
}
