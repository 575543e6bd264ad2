// Message passing (MP): a writer publishes `data`, then raises `ready`; a reader that sees
// `ready` must see `data`. The orderings come from the `Mode` under test.
use super::sync::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::litmus::Mode;

/// The value the writer publishes.
pub const MESSAGE: usize = 42;

/// The two shared locations of the message-passing litmus test.
#[derive(Debug, Default)]
pub struct MessagePassing {
    /// The payload: 0 until the writer stores [`MESSAGE`].
    data: AtomicUsize,
    /// The flag: false until the writer has written `data`.
    ready: AtomicBool,
}

impl MessagePassing {
    /// Both locations back to their initial values (between real-hardware rounds).
    pub fn reset(&self) {
        // ORDERING: Relaxed — rounds are separated by the harness's own barrier.
        self.data.store(0, Ordering::Relaxed);
        // ORDERING: Relaxed — as above.
        self.ready.store(false, Ordering::Relaxed);
    }

    /// Names `data` and `ready` for the checkers' trace. Nothing on real cores.
    pub fn name_locations(&self) {
        super::sync::name_location(&self.data, || "data".into(), None);
        super::sync::name_location(&self.ready, || "ready".into(), None);
    }

    /// The writer: `data = 42; ready = true`.
    pub fn write(&self, mode: Mode) {
        // ORDERING: the mode's payload ordering [mp-data] — Relaxed except in SeqCst mode; the flag orders it.
        self.data.store(MESSAGE, mode.payload());
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [mp-fence] — pairs with the reader's fence once it has seen `ready`.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's store ordering [mp-ready] — Release makes the data store visible to an Acquire that sees `true`.
        self.ready.store(true, mode.store());
    }

    /// The reader: if it sees `ready`, the `data` it then reads (`None` if not ready yet).
    pub fn read(&self, mode: Mode) -> Option<usize> {
        // ORDERING: the mode's load ordering [mp-ready] — Acquire synchronizes with the Release store of `true`.
        if !self.ready.load(mode.load()) {
            return None;
        }
        if mode == Mode::FenceSeqCst {
            // ORDERING: SeqCst fence [mp-fence] — pairs with the writer's fence.
            fence(Ordering::SeqCst);
        }
        // ORDERING: the mode's payload ordering [mp-data] — ordered by the flag, not by itself.
        Some(self.data.load(mode.payload()))
    }
}
