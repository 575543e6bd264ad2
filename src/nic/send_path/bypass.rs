//! Kernel bypass, measured: the same payload handed from one core to the other through a
//! shared-memory ring — the descriptor ring's slot-flag [queue](crate::nic::descriptor_ring::queue),
//! each slot holding a whole payload. The sender copies the payload into the slot at its position
//! and sets the slot's flag; the receiver, polling the flag of the slot at its own position, copies
//! the payload out. The same two copies as `send()` + `recv()`, but no system call, no kernel buffer
//! and no wakeup: what DPDK or Onload buy by letting the application own the NIC's ring.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::kernel::{OneWay, GAP};
use super::{histogram, record};
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

/// The sender's side of [`one_way`]: `n` payloads, each once the receiver has taken the one
/// before (`taken`) and after `gap` of idle, stamped with its sequence number and its instant
/// (ns since `base`) and pushed into the ring.
pub fn send<const N: usize>(tx: &mut queue::Producer<[u8; N]>, n: u64, gap: Duration, taken: &AtomicU64, base: Instant) {
    let mut buf = pattern::<N>();
    for k in 0..n {
        // ORDERING: Acquire [taken] — pairs with the receiver's Release store: payload k − 1 is in.
        hw::spin_until(|| taken.load(Ordering::Acquire) >= k);
        let idle_until = Instant::now() + gap;
        while Instant::now() < idle_until {
            std::hint::spin_loop();
        }
        buf[8..16].copy_from_slice(&k.to_le_bytes());
        let ready = base.elapsed().as_nanos() as u64;
        buf[..8].copy_from_slice(&ready.to_le_bytes());
        assert!(tx.push(buf).is_ok(), "one payload in flight: a slot is free");
    }
}

/// The receiver's side of [`one_way`]: polls the ring for `n` payloads, records each one's
/// latency (now − its stamp, minus `clock_ns`), checks its sequence number and (first and last)
/// its bytes, and tells the sender through `taken`. The histogram and the count of wrong payloads.
pub fn receive<const N: usize>(
    rx: &mut queue::Consumer<[u8; N]>,
    n: u64,
    taken: &AtomicU64,
    base: Instant,
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
        let at = base.elapsed().as_nanos() as u64;
        let ready = u64::from_le_bytes(got[..8].try_into().expect("8 bytes"));
        record(&mut h, at.saturating_sub(ready), clock_ns);
        let seq = u64::from_le_bytes(got[8..16].try_into().expect("8 bytes"));
        errors += u64::from(seq != k || ((k == 0 || k + 1 == n) && got[16..] != full[16..]));
        // ORDERING: Release [taken] — pairs with the sender's Acquire load: payload k is taken.
        taken.store(k + 1, Ordering::Release);
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
    // Payloads the receiver has taken: the sender sends the next only then.
    let taken = AtomicU64::new(0);
    let base = Instant::now();
    let (results, parallelism) = hw::run_threads(2, pin, |i| {
        if i == 0 {
            let mut tx = halves.lock().unwrap().0.take().expect("one sender");
            send(&mut tx, n, GAP, &taken, base);
            (histogram(), 0)
        } else {
            let mut rx = halves.lock().unwrap().1.take().expect("one receiver");
            receive(&mut rx, n, &taken, base, clock_ns)
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

