//! The single-producer single-consumer ring: the lab's `spsc::real::fixed` ring (`fixed`) vs
//! rtrb, crossbeam's `ArrayQueue`, std's `sync_channel` (all `baseline-<crate>`), with the
//! producer and the consumer pinned to the two cores.
//!
//! Groups:
//! - `spsc/round-trip`: ping-pong over two rings (capacity 64, one item in flight): time per round
//!   trip. `baseline-raw-pingpong` is the physical floor: two `AtomicU64` on separate
//!   `CachePadded` lines, each thread storing to its own and spinning on the other's.
//! - `spsc/throughput-cap{2,64,4096}`: the producer pushes `0..n`, the consumer pops and checks
//!   each value: time per item (throughput line = items/s).
//! - `spsc/batch-{16,256}`: the same through the batch APIs (the lab's slices, rtrb's chunks),
//!   capacity 4096: time per batch, throughput in items/s.
//!
//! Every candidate waits the same way (`common::wait_until`: spin-then-yield, or one `pause` per poll under
//! `LAB_BENCH_WAIT=poll`) and uses its
//! non-blocking calls (`try_send`/`try_recv` for `sync_channel`): this compares data structures,
//! not blocking strategies. Before timing, each candidate is checked as a queue: exactly
//! `capacity` items fit, and 100,000 items cross between the cores in order.
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::spsc::{case, round_trips, sanity, transfer, Rtrb, Spsc};
use common::{parallel_tasks, wait_until, Comparison, Pin, Sense::SpeedRatio, Sense::TimeRatio, Shares, Task};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use lockfree_lab::spsc::real::fixed;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "SPSC round trip / rtrb",
        "spsc/round-trip",
        "fixed",
        "baseline-rtrb",
        TimeRatio,
    )
    .at_most(1.0, "≤ 1.0× rtrb"),
    Comparison::ratio(
        "SPSC round trip / raw cache-line ping-pong",
        "spsc/round-trip",
        "fixed",
        "baseline-raw-pingpong",
        TimeRatio,
    )
    .at_most(1.1, "≤ 1.1× the raw ping-pong floor"),
    Comparison::ratio(
        "SPSC round trip / crossbeam ArrayQueue",
        "spsc/round-trip",
        "fixed",
        "baseline-crossbeam-arrayqueue",
        TimeRatio,
    ),
    Comparison::ratio(
        "SPSC round trip / std sync_channel",
        "spsc/round-trip",
        "fixed",
        "baseline-std-sync_channel",
        TimeRatio,
    ),
    Comparison::ratio(
        "SPSC throughput, capacity 2: fixed vs rtrb",
        "spsc/throughput-cap2",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    ),
    Comparison::ratio(
        "SPSC throughput, capacity 64: fixed vs rtrb",
        "spsc/throughput-cap64",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    ),
    Comparison::ratio(
        "SPSC throughput, capacity 4096: fixed vs rtrb",
        "spsc/throughput-cap4096",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    )
    .at_least(1.0, "≥ 1.0× rtrb"),
    Comparison::ratio(
        "SPSC throughput, capacity 4096: fixed vs crossbeam ArrayQueue",
        "spsc/throughput-cap4096",
        "fixed",
        "baseline-crossbeam-arrayqueue",
        SpeedRatio,
    ),
    Comparison::ratio(
        "SPSC throughput, capacity 4096: fixed vs std sync_channel",
        "spsc/throughput-cap4096",
        "fixed",
        "baseline-std-sync_channel",
        SpeedRatio,
    ),
    Comparison::ratio(
        "SPSC batches of 16: fixed vs rtrb chunks",
        "spsc/batch-16",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    ),
    Comparison::ratio(
        "SPSC batches of 256: fixed vs rtrb chunks",
        "spsc/batch-256",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    )
    .at_least(1.0, "≥ 1.0× rtrb chunks"),
    Comparison::rate_at_least("spsc/batch-256", "fixed", 1e9, "batches of 256 ≥ 1 G items/s"),
];

/// The lab's ring.
struct Lab;
impl Spsc for Lab {
    const ID: &'static str = "fixed";
    type P = fixed::Producer<u64>;
    type C = fixed::Consumer<u64>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        fixed::channel(capacity)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.push(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.pop()
    }
}

struct ArrayQ;
impl Spsc for ArrayQ {
    const ID: &'static str = "baseline-crossbeam-arrayqueue";
    type P = std::sync::Arc<crossbeam_queue::ArrayQueue<u64>>;
    type C = std::sync::Arc<crossbeam_queue::ArrayQueue<u64>>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        let q = std::sync::Arc::new(crossbeam_queue::ArrayQueue::new(capacity));
        (q.clone(), q)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.push(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.pop()
    }
}

struct StdSync;
impl Spsc for StdSync {
    const ID: &'static str = "baseline-std-sync_channel";
    type P = std::sync::mpsc::SyncSender<u64>;
    type C = std::sync::mpsc::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        std::sync::mpsc::sync_channel(capacity)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.try_send(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.try_recv().ok()
    }
}

/// The floor: a round trip that is nothing but two cache-line transfers.
fn raw_pingpong(n: u64, shares: &mut Shares) -> Duration {
    let ping = CachePadded::new(AtomicU64::new(0));
    let pong = CachePadded::new(AtomicU64::new(0));
    let (ping, pong) = (&ping, &pong);
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || {
            for i in 1..=n {
                // ORDERING: Release [ping] — pairs with the Acquire load in the echo thread (a queue would publish its slot here).
                ping.store(i, Ordering::Release);
                // ORDERING: Acquire [pong] — pairs with the Release store of the echo.
                wait_until(|| pong.load(Ordering::Acquire) == i);
            }
        }),
        Box::new(move || {
            for i in 1..=n {
                // ORDERING: Acquire [ping] — pairs with the Release store of the pinging thread.
                wait_until(|| ping.load(Ordering::Acquire) == i);
                // ORDERING: Release [pong] — pairs with the Acquire load in the pinging thread.
                pong.store(i, Ordering::Release);
            }
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

fn throughput_case<Q: Spsc>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, group: &str, cap: usize) {
    sanity::<Q>(cap);
    case(g, group, Q::ID, |n, s| transfer::<Q>(cap, n, s));
}

fn round_trip_case<Q: Spsc>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, group: &str) {
    sanity::<Q>(64);
    case(g, group, Q::ID, round_trips::<Q>);
}

fn bench(c: &mut Criterion) {
    let group = "spsc/round-trip";
    let mut g = c.benchmark_group(group);
    g.sample_size(common::samples(50));
    case(&mut g, group, "baseline-raw-pingpong", raw_pingpong);
    round_trip_case::<Lab>(&mut g, group);
    round_trip_case::<Rtrb>(&mut g, group);
    round_trip_case::<ArrayQ>(&mut g, group);
    round_trip_case::<StdSync>(&mut g, group);
    g.finish();

    // Per-item throughput is bimodal on the 2-vCPU VM: many samples, reported as min/median/max.
    for cap in [2usize, 64, 4096] {
        let group = format!("spsc/throughput-cap{cap}");
        let mut g = c.benchmark_group(&group);
        g.sample_size(common::samples(100));
        g.measurement_time(common::measure_time(5));
        g.throughput(Throughput::Elements(1));
        throughput_case::<Lab>(&mut g, &group, cap);
        throughput_case::<Rtrb>(&mut g, &group, cap);
        throughput_case::<ArrayQ>(&mut g, &group, cap);
        throughput_case::<StdSync>(&mut g, &group, cap);
        g.finish();
    }

    for k in [16usize, 256] {
        let group = format!("spsc/batch-{k}");
        let mut g = c.benchmark_group(&group);
        g.sample_size(common::samples(100));
        g.measurement_time(common::measure_time(5));
        g.throughput(Throughput::Elements(k as u64));
        lab_batches(k, 100_000 / k as u64, true, &mut Shares::default());
        case(&mut g, &group, "fixed", |n, s| lab_batches(k, n, false, s));
        rtrb_batches(k, 100_000 / k as u64, true, &mut Shares::default());
        case(&mut g, &group, "baseline-rtrb", |n, s| rtrb_batches(k, n, false, s));
        g.finish();
    }

    // The targets' ratios, measured in alternation (see `common::paired`).
    let x = Shares::default;
    common::paired(
        "spsc/round-trip",
        vec![
            ("fixed", Box::new(|n| round_trips::<Lab>(n, &mut x()))),
            ("baseline-rtrb", Box::new(|n| round_trips::<Rtrb>(n, &mut x()))),
            ("baseline-raw-pingpong", Box::new(|n| raw_pingpong(n, &mut x()))),
        ],
    );
    common::paired(
        "spsc/throughput-cap4096",
        vec![
            ("fixed", Box::new(|n| transfer::<Lab>(4096, n, &mut x()))),
            ("baseline-rtrb", Box::new(|n| transfer::<Rtrb>(4096, n, &mut x()))),
        ],
    );
    common::paired(
        "spsc/batch-256",
        vec![
            ("fixed", Box::new(|n| lab_batches(256, n, false, &mut x()))),
            ("baseline-rtrb", Box::new(|n| rtrb_batches(256, n, false, &mut x()))),
        ],
    );
}

/// The lab's batch API: `n` batches of `k` items through a ring of 4096. The producer fills a
/// buffer with the batch's numbers and copies it in with `push_copy_slice`; the consumer copies
/// them out into a buffer with `pop_copy_slice`, then checks it (see [`check_batch`]). Each side
/// *tries first* and waits only when the call came back short, as rtrb is driven below: a first
/// version polled `len()` before every batch, one more load of the other side's index (a cache
/// miss per batch) than rtrb's chunk calls, which consult their cached copy first. In steady
/// state both move whole batches and publish once per batch.
fn lab_batches(k: usize, n: u64, full_check: bool, shares: &mut Shares) -> Duration {
    let (mut p, mut c) = fixed::channel::<u64>(4096);
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || {
            let mut src = vec![0u64; k];
            for batch in 0..n {
                fill_batch(&mut src, batch * k as u64);
                // Try first, as rtrb's `write_chunk_uninit` does: the call checks the cached
                // `head` and reloads it only when that says there is too little room.
                let mut moved = p.push_copy_slice(&src);
                while moved < k {
                    wait_until(|| p.capacity() - p.len() >= k - moved);
                    moved += p.push_copy_slice(&src[moved..]);
                }
            }
        }),
        Box::new(move || {
            let mut buf = vec![0u64; k];
            for batch in 0..n {
                let mut got = c.pop_copy_slice(&mut buf);
                while got < k {
                    wait_until(|| c.len() >= k - got);
                    got += c.pop_copy_slice(&mut buf[got..]);
                }
                check_batch("fixed", &buf, batch * k as u64, full_check);
            }
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

/// Batch `first / k` of the sequence: `first..first + k`.
#[inline]
fn fill_batch(buf: &mut [u64], first: u64) {
    for (j, v) in buf.iter_mut().enumerate() {
        *v = first + j as u64;
    }
}

/// rtrb's chunk API, used the same way: the producer copies the batch's buffer into a
/// `write_chunk_uninit(k)` (waiting for `k` free slots), the consumer copies a `read_chunk(k)`
/// out to a buffer.
fn rtrb_batches(k: usize, n: u64, full_check: bool, shares: &mut Shares) -> Duration {
    let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(4096);
    let tasks: Vec<Task<'_, ()>> = vec![
        Box::new(move || {
            let mut src = vec![0u64; k];
            for batch in 0..n {
                fill_batch(&mut src, batch * k as u64);
                let mut chunk = loop {
                    match p.write_chunk_uninit(k) {
                        Ok(chunk) => break chunk,
                        Err(_) => wait_until(|| p.slots() >= k),
                    }
                };
                let (a, b) = chunk.as_mut_slices();
                for (slot, &v) in a.iter_mut().chain(b.iter_mut()).zip(&src) {
                    slot.write(v);
                }
                // SAFETY: every one of the chunk's `k` slots was written just above.
                unsafe { chunk.commit_all() };
            }
        }),
        Box::new(move || {
            let mut buf = vec![0u64; k];
            for batch in 0..n {
                let chunk = loop {
                    match c.read_chunk(k) {
                        Ok(chunk) => break chunk,
                        Err(_) => wait_until(|| c.slots() >= k),
                    }
                };
                let (a, b) = chunk.as_slices();
                buf[..a.len()].copy_from_slice(a);
                buf[a.len()..].copy_from_slice(b);
                chunk.commit_all();
                check_batch("baseline-rtrb", &buf, batch * k as u64, full_check);
            }
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    run.wall
}

/// A received batch must be `first..first + k`. Timed runs check both ends of every batch
/// (a per-item check would cost as much as the copy being measured); the sanity run checks every
/// item.
#[inline]
fn check_batch(id: &str, buf: &[u64], first: u64, full: bool) {
    let k = buf.len() as u64;
    if full {
        for (j, &v) in buf.iter().enumerate() {
            assert_eq!(v, first + j as u64, "{id}: batch item out of order or lost");
        }
    } else {
        assert!(
            buf[0] == first && buf[buf.len() - 1] == first + k - 1,
            "{id}: batch out of order or lost"
        );
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
