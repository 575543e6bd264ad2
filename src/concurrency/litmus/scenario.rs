// The litmus scenarios: every role on its own thread; the main thread only spawns, joins and
// checks. Each panics with a pinned reason when it observes the forbidden outcome.
use super::sync::{thread, Arc};
use crate::litmus::Mode;

/// MP: panics with `stale read` if the reader saw `ready` but not the data.
pub fn message_passing(mode: Mode) {
    let mp = Arc::new(super::mp::MessagePassing::default());
    mp.name_locations();
    let writer = {
        let mp = Arc::clone(&mp);
        thread::spawn(move || mp.write(mode))
    };
    let reader = {
        let mp = Arc::clone(&mp);
        thread::spawn(move || mp.read(mode))
    };
    writer.join().unwrap();
    if let Some(data) = reader.join().unwrap() {
        assert_eq!(
            data,
            super::mp::MESSAGE,
            "stale read: the reader saw ready == true but data == {data} ({mode})"
        );
    }
}

/// SB: panics with `both loads read 0` if neither thread saw the other's store.
pub fn store_buffering(mode: Mode) {
    let sb = Arc::new(super::sb::StoreBuffering::default());
    let a = {
        let sb = Arc::clone(&sb);
        thread::spawn(move || sb.thread_a(mode))
    };
    let b = {
        let sb = Arc::clone(&sb);
        thread::spawn(move || sb.thread_b(mode))
    };
    let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
    assert!(
        ra == 1 || rb == 1,
        "both loads read 0: each thread missed the other's store ({mode})"
    );
}

/// IRIW: panics with `readers disagree` if the two readers saw the writes in opposite orders.
pub fn iriw(mode: Mode) {
    let t = Arc::new(super::iriw::Iriw::default());
    let wx = {
        let t = Arc::clone(&t);
        thread::spawn(move || t.write_x(mode))
    };
    let wy = {
        let t = Arc::clone(&t);
        thread::spawn(move || t.write_y(mode))
    };
    let r1 = {
        let t = Arc::clone(&t);
        thread::spawn(move || t.read_x_then_y(mode))
    };
    let r2 = {
        let t = Arc::clone(&t);
        thread::spawn(move || t.read_y_then_x(mode))
    };
    wx.join().unwrap();
    wy.join().unwrap();
    let ((x1, y1), (y2, x2)) = (r1.join().unwrap(), r2.join().unwrap());
    let disagree = (x1, y1) == (1, 0) && (y2, x2) == (1, 0);
    assert!(
        !disagree,
        "readers disagree: one saw x before y, the other y before x ({mode})"
    );
}
