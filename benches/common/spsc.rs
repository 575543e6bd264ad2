//! What the SPSC-shaped benches share (`benches/spsc.rs`, `benches/descriptor_ring.rs`): one
//! queue interface, rtrb behind it, the checked transfer and round-trip loops, the sanity check
//! run before anything is timed, and a criterion case that records its CPU share.

use std::time::Duration;

use criterion::BenchmarkGroup;

use super::{parallel_tasks, wait_until, Pin, Shares, Task};

/// One SPSC queue implementation, seen through the operations the benches use.
pub trait Spsc {
    /// The bench id (`fixed`, `baseline-rtrb`…).
    const ID: &'static str;
    /// The producer half.
    type P: Send;
    /// The consumer half.
    type C: Send;
    /// A queue of `capacity` items.
    fn channel(capacity: usize) -> (Self::P, Self::C);
    /// Pushes `v`; false when the queue is full.
    fn push(p: &mut Self::P, v: u64) -> bool;
    /// Pops an item; `None` when the queue is empty.
    fn pop(c: &mut Self::C) -> Option<u64>;
}

/// The competitor: rtrb.
pub struct Rtrb;
impl Spsc for Rtrb {
    const ID: &'static str = "baseline-rtrb";
    type P = rtrb::Producer<u64>;
    type C = rtrb::Consumer<u64>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        rtrb::RingBuffer::new(capacity)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.push(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.pop().ok()
    }
}

#[inline]
pub fn send<Q: Spsc>(p: &mut Q::P, v: u64) {
    wait_until(|| Q::push(p, v));
}

#[inline]
pub fn recv<Q: Spsc>(c: &mut Q::C) -> u64 {
    let mut got = 0;
    wait_until(|| match Q::pop(c) {
        Some(v) => {
            got = v;
            true
        }
        None => false,
    });
    got
}

/// Moves `0..n` from a producer on core 0 to a consumer on core 1, checking order and count.
pub fn transfer<Q: Spsc>(capacity: usize, n: u64, shares: &mut Shares) -> Duration {
    let (mut p, mut c) = Q::channel(capacity);
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || (0..n).for_each(|i| send::<Q>(&mut p, i))),
        Box::new(move || {
            for i in 0..n {
                let v = recv::<Q>(&mut c);
                assert_eq!(v, i, "{}: item out of order or lost", Q::ID);
            }
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

/// `n` round trips over two rings; every echo is checked.
pub fn round_trips<Q: Spsc>(n: u64, shares: &mut Shares) -> Duration {
    let (mut ping_p, mut ping_c) = Q::channel(64);
    let (mut pong_p, mut pong_c) = Q::channel(64);
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || {
            for i in 0..n {
                send::<Q>(&mut ping_p, i);
                assert_eq!(recv::<Q>(&mut pong_c), i, "{}: wrong echo", Q::ID);
            }
        }),
        Box::new(move || {
            for _ in 0..n {
                let v = recv::<Q>(&mut ping_c);
                send::<Q>(&mut pong_p, v);
            }
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

/// Before anything is timed: `Q` holds exactly `capacity` items, is FIFO on one thread, and
/// carries 100,000 items across the cores in order.
pub fn sanity<Q: Spsc>(capacity: usize) {
    let (mut p, mut c) = Q::channel(capacity);
    for i in 0..capacity as u64 {
        assert!(Q::push(&mut p, i), "{}: push {i} of {capacity} failed", Q::ID);
    }
    assert!(!Q::push(&mut p, 99), "{}: accepted more than {capacity} items", Q::ID);
    for i in 0..capacity as u64 {
        assert_eq!(Q::pop(&mut c), Some(i), "{}: not FIFO", Q::ID);
    }
    assert_eq!(Q::pop(&mut c), None, "{}: popped from an empty queue", Q::ID);
    transfer::<Q>(capacity, 100_000, &mut Shares::default());
}

/// Runs one id in a group and records its CPU share.
pub fn case(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group: &str,
    id: &str,
    f: impl Fn(u64, &mut Shares) -> Duration,
) {
    let mut shares = Shares::default();
    g.bench_function(id, |b| b.iter_custom(|n| f(n, &mut shares)));
    shares.record(group, id);
}
