// The slot-flag queue's own model scenario (the hand-off, slot reuse and FIFO scenarios of
// `spsc::scenario` apply to it as they are). The producer and the consumer each run on their own
// thread; the main thread only builds, joins and checks.
use super::sync::thread;
use crate::spsc::{Pop, Push};

/// Look-ahead reuse: a queue of capacity 2 whose producer looks 2 slots ahead starts full with
/// 1 and 2 (pushed while building); the consumer pops twice while the producer pushes 3. The
/// push finds its slot free through the look-ahead slot (both popped) or its own (one popped), and
/// must not overwrite a value being read: the pops return 1 then 2, and 3 (if accepted) remains.
pub fn look_ahead_reuse<P: Push<u64>, C: Pop<u64>>(make: fn(usize) -> (P, C)) {
    let (mut tx, mut rx) = make(2);
    assert!(
        tx.push(1).is_ok() && tx.push(2).is_ok(),
        "an empty queue of 2 refused a push"
    );
    let consumer = thread::spawn(move || {
        let popped = (rx.pop(), rx.pop());
        (popped, rx)
    });
    let producer = thread::spawn(move || tx.push(3).is_ok());
    let (popped, mut rx) = consumer.join().unwrap();
    let pushed = producer.join().unwrap();
    assert_eq!(
        popped,
        (Some(1), Some(2)),
        "wrong value: the two pops returned {popped:?}, expected 1 then 2"
    );
    let rest = rx.pop();
    assert_eq!(
        rest,
        pushed.then_some(3),
        "wrong value: after two pops the queue held {rest:?}"
    );
}
