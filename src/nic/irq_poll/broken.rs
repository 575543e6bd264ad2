// BUG: the sleep/wake handshake without fences. The NIC pushes a packet and then reads the app's
// sleep word; the app writes its sleep word and then re-checks the ring. Each store can wait in
// its core's store buffer while the later load runs: both loads miss, the wakeup is lost.
// BUG: (no `fence` to import)
use super::sync::{Arc, AtomicU64, Ordering};
use crate::spsc::{Full, Pop, Push};

/// The NIC's half: pushes packets and raises the "interrupt" when the app sleeps.
#[derive(Debug)]
pub struct Nic<P> {
    ring: P,
    /// The app's sleep word (see [`App`]); the NIC only reads it.
    sleep: Arc<AtomicU64>,
}

/// The app's half: takes packets, spinning or sleeping while the ring is empty.
///
/// The sleep word counts the app's sleeps: `2g + 1` from the moment it announces its `g`-th
/// sleep until it wakes, then `2g + 2`. Odd: asleep (or about to be), the NIC must wake it. Even:
/// awake, it will look at the ring again by itself. Only the app writes it.
#[derive(Debug)]
pub struct App<C> {
    ring: C,
    sleep: Arc<AtomicU64>,
    /// The app's own copy of the sleep word (it is the only writer).
    word: u64,
}

/// Wraps the two halves of an SPSC ring (`spsc::<backend>::fixed::channel`) in the handshake.
pub fn handshake<P, C>((ring_tx, ring_rx): (P, C)) -> (Nic<P>, App<C>) {
    let sleep = Arc::new(AtomicU64::new(0));
    let nic = Nic {
        ring: ring_tx,
        sleep: Arc::clone(&sleep),
    };
    let app = App {
        ring: ring_rx,
        sleep,
        word: 0,
    };
    (nic, app)
}

impl<P> Nic<P> {
    /// Hands `packet` to the app; calls `wake` (the interrupt: an `unpark`, a futex wake) when
    /// the app sleeps. Returns the sleep word it read (odd: it called `wake`), or the packet back
    /// when the ring is full (a real NIC drops it and counts `rx_missed`).
    pub fn send<T>(&mut self, packet: T, wake: impl FnOnce()) -> Result<u64, Full<T>>
    where
        P: Push<T>,
    {
        self.ring.push(packet)?;
        // BUG: no fence: the push may still sit in this core's store buffer when the load below reads.
        // ORDERING: Relaxed [sleep-check] — a decision, not a data guard; only a fence between the push and this load keeps them in order.
        let word = self.sleep.load(Ordering::Relaxed);
        if word & 1 == 1 {
            wake();
        }
        Ok(word)
    }
}

impl<C> App<C> {
    /// Takes the next packet. While the ring is empty it polls again as long as `spin()` says
    /// so (busy-poll: always; blocking: never; hybrid: until a deadline), then announces that it
    /// sleeps, re-checks the ring, and calls `sleep(word)` with its odd sleep word (`park`, a
    /// futex wait). `sleep` may return early or spuriously: the loop looks again.
    pub fn recv<T>(&mut self, mut spin: impl FnMut() -> bool, mut sleep: impl FnMut(u64)) -> T
    where
        C: Pop<T>,
    {
        loop {
            if let Some(packet) = self.ring.pop() {
                return packet;
            }
            if spin() {
                continue;
            }
            self.word += 1;
            // ORDERING: Relaxed [sleep-check] — the announcement; only a fence between this store and the re-check keeps them in order.
            self.sleep.store(self.word, Ordering::Relaxed);
            // BUG: no fence: the announcement may still sit in this core's store buffer when the re-check reads.
            let packet = self.ring.pop();
            if packet.is_none() {
                sleep(self.word);
            }
            self.word += 1;
            // ORDERING: Relaxed [sleep-check] — awake again: a stale odd word read by the NIC only costs a spurious wake.
            self.sleep.store(self.word, Ordering::Relaxed);
            if let Some(packet) = packet {
                return packet;
            }
        }
    }
}
