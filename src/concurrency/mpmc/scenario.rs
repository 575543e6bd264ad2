// The MPMC model scenarios: every producer and consumer on its own thread; the main thread only
// builds the queue, joins, drains what is left and checks that every pushed value was delivered
// exactly once (pinned reason: `not delivered exactly once`).
use super::sync::{thread, Arc};
use crate::mpmc::Mpmc;

/// Panics unless `popped` holds every value of `pushed` exactly once and nothing else.
fn check_exactly_once(mut pushed: Vec<u64>, mut popped: Vec<u64>) {
    pushed.sort_unstable();
    popped.sort_unstable();
    assert!(
        pushed == popped,
        "not delivered exactly once: pushed {pushed:?}, popped {popped:?} (0 = a slot read before it was written)"
    );
}

/// Pops whatever is left, from the main thread, after every worker is joined.
fn drain<Q: Mpmc>(q: &Q, popped: &mut Vec<u64>) {
    while let Some(v) = q.pop() {
        popped.push(v);
    }
}

/// One producer pushes 1 then 2 into an empty queue of `capacity` (≥ 2, so both fit); one consumer
/// pops twice (each pop may find the queue empty).
pub fn one_producer_one_consumer<Q: Mpmc>(capacity: usize) {
    let q = Arc::new(Q::with_capacity(capacity));
    q.name_locations();
    let producer = {
        let q = Arc::clone(&q);
        thread::spawn(move || {
            for v in [1, 2] {
                assert!(
                    q.push(v).is_ok(),
                    "not delivered exactly once: push of {v} reported Full"
                );
            }
        })
    };
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || [q.pop(), q.pop()].into_iter().flatten().collect::<Vec<_>>())
    };
    producer.join().unwrap();
    let mut popped = consumer.join().unwrap();
    drain(&*q, &mut popped);
    check_exactly_once(vec![1, 2], popped);
}

/// Slot reuse on a full queue: capacity 1 holding 1 (pushed while building); a consumer pops once
/// while a producer tries to push 2 into the same slot (it may find the queue full).
pub fn slot_reuse<Q: Mpmc>() {
    let q = Arc::new(Q::with_capacity(1));
    assert!(q.push(1).is_ok(), "a push into an empty queue reported Full");
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.pop().into_iter().collect::<Vec<_>>())
    };
    let producer = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.push(2).is_ok())
    };
    let mut popped = consumer.join().unwrap();
    let pushed_two = producer.join().unwrap();
    drain(&*q, &mut popped);
    let pushed = if pushed_two { vec![1, 2] } else { vec![1] };
    check_exactly_once(pushed, popped);
}

/// Two producers push 1 and 2 into a queue of `capacity` (≥ 2); one consumer pops twice.
pub fn two_producers_one_consumer<Q: Mpmc>(capacity: usize) {
    let q = Arc::new(Q::with_capacity(capacity));
    let producers: Vec<_> = [1, 2]
        .into_iter()
        .map(|v| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                assert!(
                    q.push(v).is_ok(),
                    "not delivered exactly once: push of {v} reported Full"
                )
            })
        })
        .collect();
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || [q.pop(), q.pop()].into_iter().flatten().collect::<Vec<_>>())
    };
    for p in producers {
        p.join().unwrap();
    }
    let mut popped = consumer.join().unwrap();
    drain(&*q, &mut popped);
    check_exactly_once(vec![1, 2], popped);
}

/// Pop-then-push on a full queue: capacity 2 holding 1 and 2; two threads each pop one item and
/// push it back. A push must never report Full (its own pop left a free slot), and every value
/// stays delivered exactly once.
pub fn pop_then_push_on_full<Q: Mpmc>() {
    let q = Arc::new(Q::with_capacity(2));
    for v in [1, 2] {
        assert!(q.push(v).is_ok(), "a push into a queue with room reported Full");
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                if let Some(v) = q.pop() {
                    assert!(
                        q.push(v).is_ok(),
                        "full after pop: a push right after a pop reported Full"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut popped = Vec::new();
    drain(&*q, &mut popped);
    check_exactly_once(vec![1, 2], popped);
}

/// Linearizable: two threads each push a value and then pop; each pop must find an item (its own
/// push is in the queue, or was taken by the other thread, whose own item is then still there).
pub fn push_then_pop<Q: Mpmc>() {
    let q = Arc::new(Q::with_capacity(2));
    let workers: Vec<_> = [1, 2]
        .into_iter()
        .map(|v| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                assert!(q.push(v).is_ok(), "a push into a queue with room reported Full");
                let got = q.pop();
                assert!(
                    got.is_some(),
                    "empty after push: a pop right after a push found nothing"
                );
                got
            })
        })
        .collect();
    let popped: Vec<u64> = workers.into_iter().filter_map(|w| w.join().unwrap()).collect();
    check_exactly_once(vec![1, 2], popped);
}

/// `len` counts only what was inside: a worker pushes 1, pops it and pushes 2, so the queue of
/// `capacity` never holds more than one item; an observer reads `len()` and then `is_full()`.
/// Each must say at most one item (pinned reason: `len: `). Capacity 2 shows a stale `head`
/// (`len() = 2`, `is_full()`), capacity 3 a stale `tail` behind `head` (a count that wrapped).
pub fn len_counts_only_what_was_inside<Q: Mpmc>(capacity: usize) {
    let q = Arc::new(Q::with_capacity(capacity));
    let worker = {
        let q = Arc::clone(&q);
        thread::spawn(move || {
            assert!(q.push(1).is_ok(), "a push into an empty queue reported Full");
            let first = q.pop();
            assert!(q.push(2).is_ok(), "a push into a queue with room reported Full");
            first
        })
    };
    let observer = {
        let q = Arc::clone(&q);
        thread::spawn(move || (q.len(), q.is_full()))
    };
    let mut popped: Vec<u64> = worker.join().unwrap().into_iter().collect();
    let (len, full) = observer.join().unwrap();
    assert!(
        len <= 1 && !full,
        "len: the observer read len() = {len}, is_full() = {full} from a queue of capacity {capacity} that never held more than 1 item"
    );
    drain(&*q, &mut popped);
    check_exactly_once(vec![1, 2], popped);
}
