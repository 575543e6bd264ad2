// FIX: the driver learns of new work from the DD flag of its next descriptor, in host memory.
//! The right way: the driver polls the flag of the descriptor it will read next (its DD bit, in
//! the same cache line as the descriptor) and never reads the NIC's register. The descriptor is
//! taken from the [queue](crate::nic::descriptor_ring::queue), whose `pop` is exactly that poll.

use super::{PollStats, Register};
use crate::hw::spin_until;
use crate::nic::descriptor_ring::queue::real::fixed::Consumer;

/// Takes descriptors `0..n` from `rx` in order, and counts how it waited.
///
/// # Panics
/// If a descriptor arrives out of order.
pub fn consume(rx: &mut Consumer<u64>, register: &Register, n: u64) -> PollStats {
    let mut stats = PollStats::default();
    for expected in 0..n {
        let mut polls = 0;
        let mut value = None;
        spin_until(|| {
            polls += 1;
            // FIX: ask the descriptor: its DD flag shares the line the driver reads next anyway; the
            // register is never read (the NIC still writes it: nobody pulls its line over).
            let _ = register;
            value = rx.pop();
            value.is_some()
        });
        stats.item(polls);
        assert_eq!(value, Some(expected), "mmio: descriptor {expected} out of order");
    }
    stats
}
