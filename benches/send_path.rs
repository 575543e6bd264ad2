//! The send path's measured comparison: one 1,472-byte payload from a sender on one core to a
//! receiver on the other, through the kernel (loopback sockets) and through kernel bypass (a
//! shared-memory ring: the descriptor ring's slot-flag queue), with the two threads pinned.
//!
//! Group `send_path/one-way-1472B`: the sender idles 20 µs before each payload (so a blocking
//! receiver is asleep when it comes), stamps it and sends it; the receiver records now − stamp.
//! The time criterion reports per iteration is the **one-way latency of one payload** (summed by
//! `iter_custom` from the receiver's HDR histogram; the idle time is not counted). Ids:
//! `kernel-udp-blocked` (`send()` → a `recv()` blocked in the kernel: stack, copy, wakeup),
//! `kernel-udp-busy-poll` (the receiver polls a non-blocking socket: no wakeup),
//! `kernel-tcp-busy-poll` (the same over a connected TCP stream), `bypass-ring` (no kernel:
//! copy into a ring slot, a polling receiver copies it out).
mod common;

use std::time::Duration;

use common::{Comparison, Pin, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, Criterion};
use lockfree_lab::nic::send_path::{bypass, kernel, kernel::Proto, PAYLOAD};

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "One-way 1,472 B: kernel path (UDP, receiver blocked) / kernel bypass (shared-memory ring)",
        "send_path/one-way-1472B",
        "kernel-udp-blocked",
        "bypass-ring",
        TimeRatio,
    ),
    Comparison::ratio(
        "One-way 1,472 B: kernel path (UDP, receiver polling) / kernel bypass: the stack and the copies alone",
        "send_path/one-way-1472B",
        "kernel-udp-busy-poll",
        "bypass-ring",
        TimeRatio,
    ),
    Comparison::ratio(
        "One-way 1,472 B over UDP: receiver blocked / polling (the wakeup tax)",
        "send_path/one-way-1472B",
        "kernel-udp-blocked",
        "kernel-udp-busy-poll",
        TimeRatio,
    ),
    Comparison::ratio(
        "One-way 1,472 B, receiver polling: TCP / UDP",
        "send_path/one-way-1472B",
        "kernel-tcp-busy-poll",
        "kernel-udp-busy-poll",
        TimeRatio,
    ),
    Comparison::note(
        "Loopback runs the receiver's stack inside the sender's send(): the kernel figures are TX and RX protocol \
         work, two copies and (blocked) one wakeup, with no NIC; the ring does the same two copies and nothing else.",
    ),
];

/// The summed one-way latency of `n` payloads.
fn total(h: &hdrhistogram::Histogram<u64>) -> Duration {
    Duration::from_nanos((h.mean() * h.len() as f64) as u64)
}

fn kernel_path(proto: Proto, poll: bool, n: u64) -> Duration {
    let r = kernel::one_way(proto, PAYLOAD, n, poll, Pin::Spread, 0).expect("loopback sockets");
    assert_eq!(r.errors, 0, "every payload whole and in order");
    total(&r.latency)
}

fn ring(n: u64) -> Duration {
    let r = bypass::one_way::<PAYLOAD>(n, Pin::Spread, 0);
    assert_eq!(r.errors, 0, "every payload whole and in order");
    total(&r.latency)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_path/one-way-1472B");
    g.sample_size(common::samples(10));
    g.measurement_time(common::measure_time(2));
    g.bench_function("kernel-udp-blocked", |b| {
        b.iter_custom(|n| kernel_path(Proto::Udp, false, n))
    });
    g.bench_function("kernel-udp-busy-poll", |b| {
        b.iter_custom(|n| kernel_path(Proto::Udp, true, n))
    });
    g.bench_function("kernel-tcp-busy-poll", |b| {
        b.iter_custom(|n| kernel_path(Proto::Tcp, true, n))
    });
    g.bench_function("bypass-ring", |b| b.iter_custom(ring));
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
