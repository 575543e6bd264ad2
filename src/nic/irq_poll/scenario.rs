// The model scenario of the sleep/wake handshake: the NIC and the app each on their own model
// thread, the main thread only builds, joins and checks. A lost wakeup leaves the app parked with
// a packet in the ring while the NIC has finished: every thread is blocked, and the checker
// reports a deadlock.
use super::sync::thread;
use crate::nic::irq_poll::{AppHalf, NicHalf};

/// The NIC sends `packets` packets (1, 2, …) into a ring with room for all of them, waking the app
/// with `unpark` when it reads an odd sleep word; the app receives `packets` packets in blocking
/// mode (no spinning: it sleeps with `park` as soon as the ring is empty). They must arrive in
/// order; a lost wakeup never ends (loom and shuttle report `deadlock`).
pub fn wakeup<N: NicHalf<u64>, A: AppHalf<u64>>(make: fn(usize) -> (N, A), packets: u64) {
    let (mut nic, mut app) = make(packets as usize);
    let app = thread::spawn(move || {
        (0..packets)
            .map(|_| app.recv(|| false, |_| thread::park()))
            .collect::<Vec<u64>>()
    });
    let irq = app.thread().clone();
    let nic = thread::spawn(move || {
        for p in 1..=packets {
            if nic.send(p, || irq.unpark()).is_err() {
                panic!("lost packet: the ring had room for every packet but reported Full");
            }
        }
    });
    nic.join().unwrap();
    let got = app.join().unwrap();
    let sent: Vec<u64> = (1..=packets).collect();
    assert_eq!(
        got, sent,
        "wrong packets: the app received {got:?}, the NIC sent {sent:?}"
    );
}
