//! # Interrupt vs busy-poll (RX): what a wakeup costs, and the handshake that must not lose one
//!
//! A "NIC" thread hands packets to an "app" thread through the lab's SPSC ring
//! ([`crate::spsc`]), and the app learns that a packet is there in one of three ways:
//!
//! | delivery      | while the ring is empty the app…                         | what it costs |
//! |---------------|-----------------------------------------------------------|---------------|
//! | **blocking**  | sleeps (`thread::park`, a futex); the NIC wakes it (`unpark`) | the interrupt → softirq → scheduler-wakeup path on every idle→busy edge: microseconds of latency, little CPU |
//! | **busy-poll** | polls the ring in a loop                                  | the lowest latency, and a whole core burnt whether packets come or not |
//! | **hybrid**    | polls for a budget (`--spin-us`, like Linux's `net.core.busy_poll` µs), then sleeps | busy-poll's latency while traffic is dense, blocking's CPU when it is sparse |
//!
//! `lockfree-lab run irq-vs-busy-poll` measures all three side by side on two pinned cores at an
//! offered rate (`--rate`): a latency histogram of *packet ready → app has it* (p50, p99, p99.9,
//! max, with `hdrhistogram`), the app thread's CPU time against wall time, and throughput. The
//! seed's budget (MSI-X 140 ns, IRQ entry + NAPI 170 ns, scheduler wakeup 260 ns) is cited, not
//! measured: no NIC is reachable here. The device is real code on a real core standing in for a
//! NIC that is not reachable here, and the wakeup it pays for is this kernel's real futex path.
//!
//! ## The handshake (`diff src/nic/irq_poll/broken.rs src/nic/irq_poll/fixed.rs`)
//! The app may only sleep if the NIC will wake it. The app owns a *sleep word* (odd: asleep,
//! even: awake); the NIC reads it after every push:
//!
//! | side | store                          | then load                    | edge |
//! |------|--------------------------------|------------------------------|------|
//! | NIC  | push (the ring's `tail`)        | the sleep word: odd → `wake` | `[sleep-check]` |
//! | app  | the sleep word ← odd ("I sleep") | the ring again (the re-check): empty → `park` | `[sleep-check]` |
//!
//! This is Dekker's pattern, the store-buffering (SB) litmus test: each side stores, then loads
//! what the other stored. It is correct only if at least one load sees the other side's store,
//! and that needs a full fence (`fence(SeqCst)`, `mfence` / a locked instruction on x86) between
//! the store and the load **on both sides**: Release/Acquire orders nothing across a store
//! followed by a load.
//!
//! ## The broken variant: the wakeup is lost
//! Without the fences, each core's store waits in its store buffer while its next load reads
//! memory, so the app's source says "announce, then re-check" but the hardware runs "re-check,
//! then announce" — which is exactly the naive "check empty, then set sleeping" handshake:
//! 1. the app's first poll finds the ring empty;
//! 2. the app stores its sleep word = 1 ("asleep") — into its store buffer;
//! 3. the NIC pushes packet 1 (`tail = 1`) — into *its* store buffer;
//! 4. the NIC loads the sleep word → 0 (the app's store has not left the app's core): "awake,
//!    no interrupt needed";
//! 5. the app re-checks the ring: `tail` → 0 (the NIC's store has not left the NIC's core): empty;
//! 6. the app parks. Nobody will wake it: **the app sleeps with a packet in the ring.**
//!
//! A real driver would sit there until the next packet's interrupt (or forever); the lab's real
//! runs sleep with a bound (`park_timeout`), so every run ends and counts the packets that had to
//! wait for that bound.
//!
//! ## Who sees it
//! | checker      | broken (no fences)                                    | fixed |
//! |--------------|-------------------------------------------------------|-------|
//! | loom         | **found**: `deadlock` — the app parked, the NIC done, main waiting on the app; the trace shows the NIC's load of the sleep word returning 0 after the app stored 1 (stale: the store was still in the app core's store buffer); `step irq-vs-busy-poll` narrates it | passes |
//! | shuttle      | **blind**: it runs every atomic as SeqCst, where one of the two loads always sees the other's store (SB needs weak memory) | passes |
//! | real x86-64  | **found**: TSO lets a store pass a later load (the one reordering x86 does); the run counts the lost wakeups its timeout rescued | 0 lost wakeups |
//!
//! ## On real cores ([`cores`])
//! - **Paced traffic** (`--traffic paced`, `--rate`): the NIC stamps each packet when it is ready
//!   and pushes it on schedule (a full ring drops it, as a NIC counts `rx_missed`); the app stamps
//!   it when it has it. The histogram gives p50/p99/p99.9/max; the app thread's CPU time over the
//!   wall time gives what each mode burns (busy-poll: a whole core, and the output says so).
//! - **One packet in flight** (`--traffic one-in-flight`): the NIC sends the next packet as soon
//!   as the app has taken the last, after a varying pause on the app's side, so nearly every
//!   packet meets the app inside its sleep/wake handshake: the hunt for the lost wakeup
//!   (`--variant broken --delivery blocking --iterations 1000000`).
//! - **Lost wakeups are counted exactly**, not guessed from timing: the NIC logs the sleep word it
//!   read after each push; a packet the app found only after a sleep whose odd word is newer than
//!   an *even* word the NIC read for that packet was a lost wakeup (the NIC saw "awake" from before
//!   the announcement, so it sent no interrupt). The fixed handshake makes that impossible; the
//!   broken one shows it on x86, and each one costs the sleep bound ([`cores::SLEEP_BOUND`],
//!   `park_timeout`) or the next packet's interrupt, whichever comes first.
//!
//! Why fences and not SeqCst loads and stores: the NIC's store is the ring's own `tail` publish
//! (Release, inside `spsc`), so making only the sleep word SeqCst would not even be correct — a
//! SeqCst load after a Release store orders nothing on the NIC's side (on x86 the `tail` store can
//! still sit in the store buffer while a plain `mov` reads the sleep word). A fence orders every
//! earlier store, whoever wrote the code that made it; that is why the kernel writes `smp_mb()`.
//! And loom models `fence(SeqCst)` exactly, while it treats SeqCst *loads and stores* as
//! Acquire/Release (loom issue #180), so even an all-SeqCst version would be reported broken.
//!
//! ## Which real code does this
//! - Linux fm10k, `__fm10k_maybe_stop_tx` (`drivers/net/ethernet/intel/fm10k/fm10k_main.c`): the
//!   transmit path stops the queue, `smp_mb()`, then checks the ring again "in case another CPU
//!   has just made room"; the completion path does the mirror image before deciding to wake the
//!   queue. The same pair is packaged for every driver as `netif_txq_maybe_stop` /
//!   `__netif_txq_completed_wake` (`include/net/netdev_queues.h`).
//! - virtio, `virtqueue_kick_prepare` (`drivers/virtio/virtio_ring.c`): the driver publishes new
//!   available entries, issues a full barrier, and only then reads whether the device asked not
//!   to be notified — the same store-then-load, fenced.
//! - NAPI: an interrupt is unmasked only after `napi_complete_done()` succeeded, and the driver
//!   re-checks the ring after re-arming (the `napi` demo).
//!
//! Sources: Linux kernel `Documentation/memory-barriers.txt` ("SLEEP AND WAKE-UP FUNCTIONS");
//! Sewell et al., "x86-TSO" (CACM 2010); `Documentation/admin-guide/sysctl/net.rst`
//! (`busy_poll`, `busy_read`).

pub mod cores;
pub mod demo;
mod replay;

backends! {
    /// The fixed handshake: a SeqCst fence on each side.
    fixed => "fixed.rs",
    /// The broken handshake: no fences. Atomics only (no data race), so it runs on real cores too.
    broken => "broken.rs",
    /// The model scenario shared by loom and shuttle.
    scenario => "scenario.rs",
}

use crate::spsc::Full;

/// What the scenario and the real-core runs need of a NIC half.
pub trait NicHalf<T>: Send + 'static {
    /// `send`: push, then wake the app if its sleep word is odd; the word read, or the packet back.
    fn send(&mut self, packet: T, wake: impl FnOnce()) -> Result<u64, Full<T>>;
}

/// What the scenario and the real-core runs need of an app half.
pub trait AppHalf<T>: Send + 'static {
    /// `recv`: poll while `spin()` says so, then announce, re-check and `sleep(word)`.
    fn recv(&mut self, spin: impl FnMut() -> bool, sleep: impl FnMut(u64)) -> T;
}

macro_rules! impl_halves {
    ($($backend:ident::$variant:ident),+) => {$(
        impl<T: Send + 'static> NicHalf<T> for $backend::$variant::Nic<crate::spsc::$backend::fixed::Producer<T>> {
            fn send(&mut self, packet: T, wake: impl FnOnce()) -> Result<u64, Full<T>> {
                $backend::$variant::Nic::send(self, packet, wake)
            }
        }
        impl<T: Send + 'static> AppHalf<T> for $backend::$variant::App<crate::spsc::$backend::fixed::Consumer<T>> {
            fn recv(&mut self, spin: impl FnMut() -> bool, sleep: impl FnMut(u64)) -> T {
                $backend::$variant::App::recv(self, spin, sleep)
            }
        }
    )+};
}
impl_halves!(
    real::fixed,
    real::broken,
    loom::fixed,
    loom::broken,
    shuttle::fixed,
    shuttle::broken
);

macro_rules! channels {
    ($($(#[$doc:meta])* $name:ident => $backend:ident::$variant:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[allow(clippy::type_complexity)]
        pub fn $name<T: Send + 'static>(
            capacity: usize,
        ) -> (
            $backend::$variant::Nic<crate::spsc::$backend::fixed::Producer<T>>,
            $backend::$variant::App<crate::spsc::$backend::fixed::Consumer<T>>,
        ) {
            $backend::$variant::handshake(crate::spsc::$backend::fixed::channel(capacity))
        }
    )+};
}
channels!(
    /// `(NIC, app)`: the fixed handshake over a real ring of `capacity` (panics on 0).
    real_fixed => real::fixed,
    /// `(NIC, app)`: the broken handshake over a real ring of `capacity` (panics on 0).
    real_broken => real::broken,
    /// `(NIC, app)`: the fixed handshake over a loom ring (call it inside `loom::model`).
    loom_fixed => loom::fixed,
    /// `(NIC, app)`: the broken handshake over a loom ring (call it inside `loom::model`).
    loom_broken => loom::broken,
    /// `(NIC, app)`: the fixed handshake over a shuttle ring (call it inside a shuttle run).
    shuttle_fixed => shuttle::fixed,
    /// `(NIC, app)`: the broken handshake over a shuttle ring (call it inside a shuttle run).
    shuttle_broken => shuttle::broken,
);
