//! Kernel bypass, measured: the same payload handed from one core to the other through a
//! shared-memory ring — the descriptor ring's slot-flag [queue](crate::nic::descriptor_ring::queue),
//! each slot holding a whole payload. The sender copies the payload into the slot at its position
//! and sets the slot's flag; the receiver, polling the flag of the slot at its own position, copies
//! the payload out. The same two copies as `send()` + `recv()`, but no system call, no kernel buffer
//! and no wakeup: what DPDK or Onload buy by letting the application own the NIC's ring.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::kernel::{OneWay, GAP};
use super::{histogram, record};
use crate::hw::{self, Pin};
use crate::nic::descriptor_ring::queue::real::fixed as queue;

/// Slots in the ring (one payload is in flight at a time; the ring's size does not matter).
pub const SLOTS: usize = 16;

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
    let now_ns = || base.elapsed().as_nanos() as u64;
    let mut full = [0u8; N];
    for (i, b) in full.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let (results, parallelism) = hw::run_threads(2, pin, |i| {
        let mut buf = full;
        if i == 0 {
            let mut tx = halves.lock().unwrap().0.take().expect("one sender");
            for k in 0..n {
                // ORDERING: Acquire [taken] — pairs with the receiver's Release store: payload k − 1 is in.
                hw::spin_until(|| taken.load(Ordering::Acquire) >= k);
                let idle_until = Instant::now() + GAP;
                while Instant::now() < idle_until {
                    std::hint::spin_loop();
                }
                buf[8..16].copy_from_slice(&k.to_le_bytes());
                let ready = now_ns();
                buf[..8].copy_from_slice(&ready.to_le_bytes());
                assert!(tx.push(buf).is_ok(), "one payload in flight: a slot is free");
            }
            return (histogram(), 0);
        }
        let mut rx = halves.lock().unwrap().1.take().expect("one receiver");
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
            let at = now_ns();
            let ready = u64::from_le_bytes(got[..8].try_into().expect("8 bytes"));
            record(&mut h, at.saturating_sub(ready), clock_ns);
            let seq = u64::from_le_bytes(got[8..16].try_into().expect("8 bytes"));
            errors += u64::from(seq != k || ((k == 0 || k + 1 == n) && got[16..] != full[16..]));
            // ORDERING: Release [taken] — pairs with the sender's Acquire load: payload k is taken.
            taken.store(k + 1, Ordering::Release);
        }
        (h, errors)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_arrives_whole_and_in_order() {
        let small = one_way::<64>(50, Pin::None, 0);
        let large = one_way::<1472>(50, Pin::None, 0);
        for r in [small, large] {
            assert_eq!((r.latency.len(), r.errors), (50, 0));
        }
    }
}
