// Store buffering (SB, Dekker's core): each thread stores its own flag, then loads the other's.
// Sequential consistency forbids both loads returning 0; only a SeqCst fence between each
// thread's store and load guarantees that in Rust's (C++'s) model.
use super::sync::{fence, AtomicUsize, Ordering};
use crate::litmus::Mode;

/// The two shared flags of the store-buffering litmus test.
#[derive(Debug, Default)]
pub struct StoreBuffering {
    /// Thread A's flag: 0, then 1.
    x: AtomicUsize,
    /// Thread B's flag: 0, then 1.
    y: AtomicUsize,
}

impl StoreBuffering {
    /// Both flags back to 0 (between real-hardware rounds).
    pub fn reset(&self) {
        // ORDERING: Relaxed — rounds are separated by the harness's own barrier.
        self.x.store(0, Ordering::Relaxed);
        // ORDERING: Relaxed — as above.
        self.y.store(0, Ordering::Relaxed);
    }

    /// Thread A: `x = 1; r = y`. Returns `r`.
    pub fn thread_a(&self, mode: Mode) -> usize {
        // ORDERING: the mode's store ordering [sb-x] — Release orders earlier accesses only, not the later load of y.
        self.x.store(1, mode.store());
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [sb-fence] — one total order with B's fence: one of the two loads sees the other's store.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's load ordering [sb-y] — Acquire orders later accesses only; it may still read the old 0.
        self.y.load(mode.load())
    }

    /// Thread B: `y = 1; r = x`. Returns `r`.
    pub fn thread_b(&self, mode: Mode) -> usize {
        // ORDERING: the mode's store ordering [sb-y] — mirror of thread A.
        self.y.store(1, mode.store());
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [sb-fence] — mirror of thread A's fence.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's load ordering [sb-x] — mirror of thread A.
        self.x.load(mode.load())
    }
}
