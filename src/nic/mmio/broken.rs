// BUG: the driver learns of new work by reading the NIC's HEAD register before every descriptor.
//! The slow way: before each descriptor the driver reads the register the NIC writes after
//! every one it completes (on a real NIC, an MMIO read: a PCIe round trip that stalls the core).
//! The descriptor is then taken from the [queue](crate::nic::descriptor_ring::queue), which the
//! register's count guarantees is full.

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
            // BUG: ask the register: a load of the line the NIC writes after every descriptor, until it
            // counts this one; only then take the descriptor (its DD is set: the register says so).
            value = (register.read(&mut stats) > expected).then(|| rx.pop().expect(super::COUNTED));
            value.is_some()
        });
        stats.item(polls);
        assert_eq!(value, Some(expected), "mmio: descriptor {expected} out of order");
    }
    stats
}
