// The cut-through model scenarios: the PCIe side and the wire side (the MAC) each run on their own
// model thread, through the model backend's SPSC ring; the main thread only builds the ring, joins,
// and plays the receiver, which checks every frame's FCS. Each panics with a pinned reason.
use super::pcie::send_frame;
use super::sync::{spin_loop, thread};
use crate::nic::cut_through::{frame_bytes, receive, Arrivals, Chunk, Forward, Mode, Recorder};
use crate::spsc::Push;

/// The PCIe thread streams `frames` (`(length in bytes, aborted by its sender)`) through a ring of
/// `capacity` chunks; the MAC thread forwards them in `mode`; the receiver then checks each frame:
/// an aborted frame accepted as good panics with `a bad frame was delivered as good`; a good frame
/// lost, cut short or poisoned panics with `a good frame was not delivered intact`.
pub fn stream<M: Forward, P: Push<Chunk>, C: Arrivals>(
    make: fn(usize) -> (P, C),
    capacity: usize,
    mode: Mode,
    frames: &'static [(usize, bool)],
) {
    let (mut tx, mut rx) = make(capacity);
    let pcie = thread::spawn(move || {
        for (id, &(len, abort)) in frames.iter().enumerate() {
            send_frame(&mut tx, id as u32, &frame_bytes(id as u32, len), abort);
        }
    });
    let mac = thread::spawn(move || {
        let mut mac = M::new(mode);
        let mut wire = Recorder::default();
        for _ in frames {
            while mac.poll(&mut rx, &mut wire).is_none() {
                spin_loop();
            }
        }
        wire
    });
    pcie.join().unwrap();
    let wire = mac.join().unwrap();
    for (id, &(len, aborted)) in frames.iter().enumerate() {
        let got = receive(&wire, id as u32);
        if aborted {
            if let Some(bytes) = got {
                let held = wire
                    .frames
                    .iter()
                    .find(|f| f.frame == id as u32)
                    .map_or(0, |f| f.started_with);
                panic!(
                    "a bad frame was delivered as good: frame {id} ({len} B, {} chunks) was aborted by its sender (ABORT \
                     in its last chunk), but the wire started it with {held} chunk(s) in hand, before its last one arrived, and \
                     ended it with a valid FCS: the receiver accepted its {} bytes",
                    len.div_ceil(crate::nic::cut_through::CHUNK_BYTES),
                    bytes.len()
                );
            }
        } else {
            assert!(
                got.as_deref() == Some(&frame_bytes(id as u32, len)[..]),
                "a good frame was not delivered intact: frame {id} ({len} B) arrived as {:?}",
                got.map(|b| b.len())
            );
        }
    }
}
