// The queue pair's model scenarios: the driver and the device each run on their own thread; the
// main thread only builds the queue pair and joins. Each panics with a pinned reason.
use super::sync::{spin_loop, thread};
use crate::nic::rdma_qp::{pattern, Config, DeviceSide, DriverSide, Status, WorkRequest};

/// Why a reaped completion is wrong, or `None`: it must be work request `n`'s (`wqe_counter`),
/// a success of `len` bytes, with `wr_id` `100 + n`. A body that is not the one the device wrote
/// for this completion (last lap's, or the initial one) is a **stale completion**.
pub fn wrong_completion(c: &crate::nic::rdma_qp::Completion, n: u32, len: u32) -> Option<String> {
    if c.wqe_counter != n || c.byte_len != len || c.status != Status::Success {
        return Some(format!(
            "stale completion: CQE #{} was reaped with a body the device did not write for it: WQE {}, {} B, {:?} \
             (expected WQE {n}, {len} B, Success)",
            c.cq_index, c.wqe_counter, c.byte_len, c.status
        ));
    }
    if c.wr_id != 100 + u64::from(n) {
        return Some(format!(
            "wrong completion: CQE #{} for WQE {n} has wr_id {} (expected {})",
            c.cq_index,
            c.wr_id,
            100 + u64::from(n)
        ));
    }
    None
}

/// Two laps of a one-entry CQ: the driver writes `words` payload words, posts an RDMA WRITE of
/// them into the peer's region, spins until it reaps the completion and checks it and the peer's
/// buffer; twice. The device executes both. SQ and CQ have one entry, so completion 1 lands in
/// the slot of completion 0 with the other owner parity.
pub fn two_laps<D: DriverSide, V: DeviceSide>(make: fn(&Config) -> (D, V), words: usize) {
    let bytes = 8 * words as u64;
    let (mut driver, mut device) = make(&Config::new(1, 1, &[(bytes, false), (bytes, true)]));
    let requests = 2;
    let driver = thread::spawn(move || {
        let (src, dst) = (driver.region(0), driver.region(1));
        for n in 0..requests {
            let payload: Vec<u64> = (0..words).map(|k| pattern(n as u64, k)).collect();
            driver.write_memory(src.addr, &payload);
            let wr = WorkRequest::write(100 + n as u64, &src, src.addr, bytes as u32, &dst, dst.addr);
            assert!(
                driver.post(&wr).is_ok(),
                "lost request: the SQ was full with nothing in flight"
            );
            let c = loop {
                match driver.poll() {
                    Some(c) => break c,
                    None => spin_loop(),
                }
            };
            if let Some(why) = wrong_completion(&c, n, bytes as u32) {
                panic!("{why}");
            }
            let mut got = vec![0; words];
            driver.read_memory(dst.addr, &mut got);
            assert_eq!(
                got, payload,
                "wrong payload: after the completion of WQE {n} the peer's buffer holds {got:x?}"
            );
        }
    });
    let device = thread::spawn(move || {
        let mut done = 0;
        while done < requests {
            match device.process() {
                0 => spin_loop(),
                k => done += k,
            }
        }
    });
    driver.join().unwrap();
    device.join().unwrap();
}
