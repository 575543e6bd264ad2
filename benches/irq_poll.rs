//! Interrupt vs busy-poll: the wake-up latency of the `irq-vs-busy-poll` handshake
//! (`nic::irq_poll::real::fixed` over the lab's SPSC ring), with the NIC and the app pinned to the
//! two cores, against std's `mpsc` channel's blocking `recv` (`baseline-std-mpsc`).
//!
//! Group `irq_poll/wakeup-after-idle`: the NIC sends one packet, waits until the app has it, then
//! stays idle for 50 µs before the next, so a blocking (or hybrid) app is asleep when each packet
//! comes. The time criterion reports per iteration is the **latency of one packet**: the NIC's
//! timestamp when the packet is ready → the app's when it has it (summed by `iter_custom`; the
//! idle time is not counted). Ids: `busy-poll` (the app spins), `blocking` (it sleeps in `park`
//! and the NIC's `unpark` is the interrupt), `hybrid` (spins 10 µs, then sleeps: past the budget,
//! so it pays the wake-up too), `baseline-std-mpsc` (a blocking `recv` on std's channel).
//! The CPU share each burns is recorded as an extra figure (busy-poll: a whole core).
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{parallel_tasks, Comparison, Pin, Sense::TimeRatio, Shares, Task};
use criterion::{criterion_group, criterion_main, Criterion};
use lockfree_lab::hw::spin_until;
use lockfree_lab::nic::irq_poll as irq;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "Wake-up after idle: blocking / busy-poll (the interrupt → wakeup tax)",
        "irq_poll/wakeup-after-idle",
        "blocking",
        "busy-poll",
        TimeRatio,
    ),
    Comparison::ratio(
        "Wake-up after idle: hybrid past its spin budget / blocking",
        "irq_poll/wakeup-after-idle",
        "hybrid",
        "blocking",
        TimeRatio,
    ),
    Comparison::ratio(
        "Wake-up after idle: the lab's blocking handshake / std mpsc blocking recv",
        "irq_poll/wakeup-after-idle",
        "blocking",
        "baseline-std-mpsc",
        TimeRatio,
    )
    .at_most(1.5, "≤ 1.5× std's channel"),
    Comparison::note(
        "The idle gap is 50 µs and hybrid spins 10 µs, so hybrid sleeps before each packet: the ratio says what a \
         spin budget shorter than the gap buys (nothing) and costs (10 µs of CPU per packet).",
    ),
];

const IDLE: Duration = Duration::from_micros(50);
const HYBRID_SPIN: Duration = Duration::from_micros(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    BusyPoll,
    Blocking,
    Hybrid,
}

fn now_ns(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// `n` packets, each after `IDLE`, through the lab's handshake; the summed ready → has-it latency.
fn handshake(mode: Mode, n: u64, shares: &mut Shares) -> Duration {
    let (mut nic, mut app) = irq::real_fixed::<(u64, u64)>(64);
    let taken = AtomicU64::new(0);
    let app_thread = std::sync::OnceLock::new();
    let base = Instant::now();
    let (taken, app_thread) = (&taken, &app_thread);
    let tasks: Vec<Task<'_, u64>> = vec![
        Box::new(move || {
            spin_until(|| app_thread.get().is_some());
            let app: &std::thread::Thread = app_thread.get().expect("published");
            for s in 0..n {
                let idle_until = Instant::now() + IDLE;
                while Instant::now() < idle_until {
                    std::hint::spin_loop();
                }
                let ready = now_ns(base);
                assert!(
                    nic.send((s, ready), || app.unpark()).is_ok(),
                    "one packet in flight: room"
                );
                // ORDERING: Acquire [taken] — pairs with the app's Release store: packet s is taken.
                spin_until(|| taken.load(Ordering::Acquire) > s);
            }
            0
        }),
        Box::new(move || {
            app_thread.set(std::thread::current()).expect("one app");
            let mut total = 0;
            for s in 0..n {
                let sleep = |_| std::thread::park();
                let (seq, ready) = match mode {
                    Mode::BusyPoll => app.recv(
                        || {
                            std::hint::spin_loop();
                            true
                        },
                        sleep,
                    ),
                    Mode::Blocking => app.recv(|| false, sleep),
                    Mode::Hybrid => {
                        let mut deadline = None;
                        app.recv(
                            || {
                                std::hint::spin_loop();
                                let now = Instant::now();
                                now < *deadline.get_or_insert(now + HYBRID_SPIN)
                            },
                            sleep,
                        )
                    }
                };
                total += now_ns(base) - ready;
                assert_eq!(seq, s, "packets in order");
                // ORDERING: Release [taken] — pairs with the NIC's Acquire load.
                taken.store(s + 1, Ordering::Release);
            }
            total
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    Duration::from_nanos(run.results[1])
}

/// The same through std's channel: `send` and a blocking `recv`.
fn std_mpsc(n: u64, shares: &mut Shares) -> Duration {
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let taken = AtomicU64::new(0);
    let base = Instant::now();
    let taken = &taken;
    let tasks: Vec<Task<'_, u64>> = vec![
        Box::new(move || {
            for s in 0..n {
                let idle_until = Instant::now() + IDLE;
                while Instant::now() < idle_until {
                    std::hint::spin_loop();
                }
                tx.send(now_ns(base)).expect("the receiver lives");
                // ORDERING: Acquire [taken] — pairs with the app's Release store.
                spin_until(|| taken.load(Ordering::Acquire) > s);
            }
            0
        }),
        Box::new(move || {
            let mut total = 0;
            for s in 0..n {
                let ready = rx.recv().expect("the sender lives");
                total += now_ns(base) - ready;
                // ORDERING: Release [taken] — pairs with the NIC's Acquire load.
                taken.store(s + 1, Ordering::Release);
            }
            total
        }),
    ];
    let run = parallel_tasks(Pin::Spread, tasks);
    shares.push(&run);
    Duration::from_nanos(run.results[1])
}

fn bench(c: &mut Criterion) {
    let group = "irq_poll/wakeup-after-idle";
    let mut g = c.benchmark_group(group);
    g.sample_size(common::samples(20));
    g.measurement_time(common::measure_time(3));
    for (id, mode) in [
        ("busy-poll", Mode::BusyPoll),
        ("blocking", Mode::Blocking),
        ("hybrid", Mode::Hybrid),
    ] {
        let mut shares = Shares::default();
        g.bench_function(id, |b| b.iter_custom(|n| handshake(mode, n, &mut shares)));
        shares.record(group, id);
    }
    let mut shares = Shares::default();
    g.bench_function("baseline-std-mpsc", |b| b.iter_custom(|n| std_mpsc(n, &mut shares)));
    shares.record(group, "baseline-std-mpsc");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
