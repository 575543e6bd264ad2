// The PCIe side: the host streams a frame into the NIC, one 64-byte chunk per push, in order.
use super::sync::spin_loop;
use crate::nic::cut_through::{chunks, Chunk};
use crate::spsc::{Full, Push};

/// Streams `bytes` as frame `frame` into `ring`, one chunk per push (each push publishes its
/// chunk, as each PCIe write lands on its own), spinning while the ring is full. With `abort`,
/// the last chunk carries the sender's abort: the frame must not be delivered as good. Returns
/// the pushes that found the ring full.
pub fn send_frame<P: Push<Chunk>>(ring: &mut P, frame: u32, bytes: &[u8], abort: bool) -> u64 {
    let mut full = 0;
    for chunk in chunks(frame, bytes, abort) {
        let mut chunk = chunk;
        while let Err(Full(back)) = ring.push(chunk) {
            full += 1;
            chunk = back;
            spin_loop();
        }
    }
    full
}
