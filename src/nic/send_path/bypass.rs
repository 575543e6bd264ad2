//! Kernel bypass, measured: the same payload handed from one core to the other through a
//! shared-memory ring — the descriptor ring's slot-flag [queue](crate::nic::descriptor_ring::queue),
//! each slot holding a whole payload. The sender copies the payload into the slot at its position
//! and sets the slot's flag; the receiver, polling the flag of the slot at its own position, copies
//! the payload out. The same two copies as `send()` + `recv()`, but no system call, no kernel buffer
//! and no wakeup: what DPDK or Onload buy by letting the application own the NIC's ring.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::kernel::{OneWay, GAP};
use super::{histogram, OneInFlight};
use crate::hw::{self, Pin};
use crate::nic::descriptor_ring::queue::real::fixed as queue;

/// Slots in the ring (one payload is in flight at a time; the ring's size does not matter).
pub const SLOTS: usize = 16;

/// The payload `one_way` sends: a fixed pattern (its first 16 bytes are overwritten by stamps).
pub fn pattern<const N: usize>() -> [u8; N] {
    let mut full = [0u8; N];
    for (i, b) in full.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    full
}

/// The sender's side of [`one_way`]: `n` payloads, each stamped and pushed into the ring on its
/// turn (`turns`: after the one before is taken, and `gap` of idle).
pub fn send<const N: usize>(tx: &mut queue::Producer<[u8; N]>, n: u64, gap: Duration, turns: &OneInFlight) {
    let mut buf = pattern::<N>();
    for k in 0..n {
        turns.stamp_next(&mut buf, k, gap);
        assert!(tx.push(buf).is_ok(), "one payload in flight: a slot is free");
    }
}

/// The receiver's side of [`one_way`]: polls the ring for `n` payloads and records each one's
/// latency (minus `clock_ns`). The histogram and the count of payloads that were not the ones sent.
pub fn receive<const N: usize>(
    rx: &mut queue::Consumer<[u8; N]>,
    n: u64,
    turns: &OneInFlight,
    clock_ns: u64,
) -> (Histogram<u64>, u64) {
    let full = pattern::<N>();
    let mut h = histogram();
    let mut errors = 0;
    for k in 0..n {
        // The receiver polls: a bypass stack has no one to wake it.
        let got = loop {
            if let Some(p) = rx.pop() {
                break p;
            }
            std::hint::spin_loop();
        };
        errors += u64::from(!turns.took(&got, k, n, &full, &mut h, clock_ns));
    }
    (h, errors)
}

/// `n` payloads of `N` bytes (at least 16) from a sender on the first core to a polling receiver
/// on the second, one in flight, each after [`GAP`] of idle, exactly as
/// [`one_way`](super::kernel::one_way) sends them through a socket.
pub fn one_way<const N: usize>(n: u64, pin: Pin, clock_ns: u64) -> OneWay {
    assert!(N >= 16, "bypass::one_way: a payload carries a 16-byte stamp");
    let (tx, rx) = queue::channel::<[u8; N]>(SLOTS);
    let halves = std::sync::Mutex::new((Some(tx), Some(rx)));
    let turns = OneInFlight::default();
    let (results, parallelism) = hw::run_threads(2, pin, |i| {
        if i == 0 {
            let mut tx = halves.lock().unwrap().0.take().expect("one sender");
            send(&mut tx, n, GAP, &turns);
            (histogram(), 0)
        } else {
            let mut rx = halves.lock().unwrap().1.take().expect("one receiver");
            receive(&mut rx, n, &turns, clock_ns)
        }
    });
    let mut it = results.into_iter();
    let _ = it.next().expect("the sender's result");
    let (latency, errors) = it.next().expect("the receiver's result");
    OneWay {
        latency,
        errors,
        parallelism,
    }
}
