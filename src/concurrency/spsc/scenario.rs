// The SPSC model scenarios: the producer and the consumer each run on their own thread; the
// main thread only builds the ring, joins and checks. Each panics with a pinned reason.
use super::sync::{spin_loop, thread, Arc, AtomicUsize, Ordering};
use crate::spsc::{Full, Pop, Push};

/// A payload that counts its drops, to check that every item is dropped exactly once.
#[derive(Debug)]
pub struct Tracked {
    /// The item's number.
    pub id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // ORDERING: Relaxed [drop-count] — a tally the main thread reads after joining every thread.
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// (a) The hand-off: the producer pushes 7 into an empty ring of capacity 1, the consumer pops
/// once. If the consumer got an item, it must be 7 (`wrong value`); loom reports a causality
/// violation before a stale read can happen.
pub fn handoff<P: Push<u64>, C: Pop<u64>>(make: fn(usize) -> (P, C)) {
    let (mut tx, mut rx) = make(1);
    let producer = thread::spawn(move || tx.push(7).is_ok());
    let consumer = thread::spawn(move || rx.pop());
    assert!(
        producer.join().unwrap(),
        "lost item: a push into an empty ring reported Full"
    );
    if let Some(v) = consumer.join().unwrap() {
        assert_eq!(v, 7, "wrong value: the consumer popped {v}, the producer pushed 7");
    }
}

/// (b) Slot reuse: a ring of capacity 1 starts with item 1 inside (pushed while building); the
/// consumer pops once while the producer tries to push 2 into the same slot. Checks that the
/// consumer got 1 and that 2, if accepted, is what remains.
pub fn slot_reuse<P: Push<u64>, C: Pop<u64>>(make: fn(usize) -> (P, C)) {
    let (mut tx, mut rx) = make(1);
    assert!(tx.push(1).is_ok(), "a push into an empty ring reported Full");
    let consumer = thread::spawn(move || (rx.pop(), rx));
    let producer = thread::spawn(move || tx.push(2).is_ok());
    let (first, mut rx) = consumer.join().unwrap();
    let pushed = producer.join().unwrap();
    assert_eq!(
        first,
        Some(1),
        "wrong value: the first pop returned {first:?}, expected Some(1)"
    );
    let rest = rx.pop();
    assert_eq!(
        rest,
        pushed.then_some(2),
        "wrong value: after the first pop the ring held {rest:?}"
    );
}

/// FIFO across a wrap: the producer pushes 1, 2, 3 (retrying on Full) into a ring of
/// `capacity`; the consumer pops until it has three items, which must be 1, 2, 3.
pub fn fifo<P: Push<u64>, C: Pop<u64>>(make: fn(usize) -> (P, C), capacity: usize) {
    let (mut tx, mut rx) = make(capacity);
    let producer = thread::spawn(move || {
        for n in 1..=3 {
            let mut v = n;
            while let Err(Full(back)) = tx.push(v) {
                v = back;
                spin_loop();
            }
        }
    });
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.pop() {
                Some(v) => got.push(v),
                None => spin_loop(),
            }
        }
        got
    });
    producer.join().unwrap();
    let got = consumer.join().unwrap();
    assert_eq!(got, vec![1, 2, 3], "wrong value: popped {got:?}, pushed [1, 2, 3]");
}

/// Drops: the producer pushes two tracked items into a ring of capacity 2 and drops its half;
/// the consumer pops at most one and drops its half, each on its own thread, in either order.
/// Every item must be dropped exactly once (`drop count`).
pub fn drops<P: Push<Tracked>, C: Pop<Tracked>>(make: fn(usize) -> (P, C)) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = make(2);
    let producer = {
        let drops = Arc::clone(&drops);
        thread::spawn(move || {
            for id in 0..2 {
                let item = Tracked {
                    id,
                    drops: Arc::clone(&drops),
                };
                assert!(
                    tx.push(item).is_ok(),
                    "lost item: a push into a ring with room reported Full"
                );
            }
        })
    };
    let consumer = thread::spawn(move || {
        if let Some(item) = rx.pop() {
            assert_eq!(item.id, 0, "wrong value: the first item popped is #{}", item.id);
        }
    });
    producer.join().unwrap();
    consumer.join().unwrap();
    // ORDERING: Relaxed [drop-count] — both threads are joined.
    let dropped = drops.load(Ordering::Relaxed);
    assert_eq!(dropped, 2, "drop count: {dropped} drops for 2 items");
}
