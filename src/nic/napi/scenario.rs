// The model scenarios: the same code runs under loom and under shuttle (and on real threads).
use super::sync::{spin_loop, thread, Arc, AtomicBool, Ordering};
use crate::nic::napi::{Device, Napi, Packet};

/// The panic message of a stranded packet.
pub const STRANDED: &str = "packet stranded";

/// The NIC thread posts packets `1..=packets` and then goes quiet ("link down": no packet, no
/// IRQ, ever again); the driver's thread takes IRQs and polls until it sees the link down with
/// no IRQ pending and no poll scheduled. Every role is its own thread; the main thread builds,
/// joins and checks.
///
/// Panics with [`STRANDED`] when a packet the NIC posted was never delivered: it sits in the
/// ring with the line armed and no poll coming. Panics if packets come out of order.
pub fn packets_then_silence<N: Device, D: Napi>(pair: (N, D), packets: Packet) {
    let (mut nic, mut driver) = pair;
    let link_down = Arc::new(AtomicBool::new(false));
    let down = Arc::clone(&link_down);
    let nic = thread::spawn(move || {
        for packet in 1..=packets {
            // A full ring would block the NIC forever once a packet strands (the driver idles):
            // the scenario's ring holds every packet.
            nic.receive(packet)
                .expect("the scenario's ring has room for every packet");
        }
        // ORDERING: Release [link-down] — the posts and raises above happen-before the driver's Acquire load that sees it.
        down.store(true, Ordering::Release);
    });
    let cpu = thread::spawn(move || {
        let mut next: Packet = 1;
        loop {
            // ORDERING: Acquire [link-down] — pairs with the NIC's Release: every IRQ it raised is visible to the take below.
            let quiet = link_down.load(Ordering::Acquire);
            if driver.take_irq() {
                while driver.is_scheduled() {
                    driver.poll(|p| {
                        assert_eq!(p, next, "packets out of order");
                        next += 1;
                    });
                }
            } else if quiet {
                break;
            } else {
                // Idle: wait for an interrupt (a checker yield).
                spin_loop();
            }
        }
        next - 1
    });
    nic.join().unwrap();
    let delivered = cpu.join().unwrap();
    assert!(
        delivered == packets,
        "{STRANDED}: the NIC posted {packets} packets, the driver delivered {delivered} and went idle; packet {} \
         sits in the ring with the line re-armed, no IRQ pending and no poll scheduled",
        delivered + 1
    );
}

/// The panic message of an interrupt that arrived before its packet.
pub const OVERTOOK: &str = "the IRQ overtook its packet";

/// The NIC posts one packet (the line is armed: it raises the IRQ); the driver's CPU waits for
/// the IRQ and polls once. Panics with [`OVERTOOK`] if that poll finds the ring empty: the IRQ
/// must not arrive before the packet it announces (on PCIe an MSI is a posted write, ordered
/// after the packet's DMA writes). Both variants pass; a Relaxed take fails.
pub fn irq_finds_its_packet<N: Device, D: Napi>(pair: (N, D)) {
    let (mut nic, mut driver) = pair;
    let nic = thread::spawn(move || {
        nic.receive(1).expect("an empty ring has room");
    });
    let cpu = thread::spawn(move || {
        while !driver.take_irq() {
            spin_loop();
        }
        driver.poll(|_| {}).work()
    });
    nic.join().unwrap();
    let work = cpu.join().unwrap();
    assert!(work == 1, "{OVERTOOK}: the poll after the IRQ found {work} packets");
}
