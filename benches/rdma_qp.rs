//! The RDMA queue pair's post-to-completion round trip (`fixed`: `nic::rdma_qp::real::fixed`)
//! against the same payload through loopback sockets (`baseline-tcp-loopback`,
//! `baseline-udp-loopback`), driver/client and device/server pinned to the two cores.
//!
//! Groups `rdma_qp/round-trip-{64,4096,65536}`: time per round trip, one request in flight.
//! - `fixed`: post a WQE, ring the doorbell, the device thread copies the payload from the local
//!   registered region straight into the peer's (word-by-word atomics), writes the CQE; the
//!   driver reaps it. No system call, no kernel copy.
//! - `baseline-tcp-loopback`: `write` the payload on a `TCP_NODELAY` loopback connection, the
//!   server `read`s all of it into its buffer and writes one byte back.
//! - `baseline-udp-loopback`: the payload as one datagram, one byte back (not at 64 KiB: a UDP
//!   payload is at most 65,507 bytes).
//!
//! Every side busy-polls (non-blocking sockets), so this compares data paths, not wake-ups.
//! Before timing, each candidate runs 200 round trips whose payloads and completions are checked.
mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::{Comparison, Pin, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use lockfree_lab::nic::rdma_qp::{qp_round_trips, tcp_round_trips, udp_round_trips, Trips, UDP_MAX_PAYLOAD};
use lockfree_lab::Variant;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "RDMA QP round trip / loopback TCP, 64 B",
        "rdma_qp/round-trip-64",
        "fixed",
        "baseline-tcp-loopback",
        TimeRatio,
    )
    .at_most(1.0, "≤ 1.0× TCP: no kernel, no copy"),
    Comparison::ratio(
        "RDMA QP round trip / loopback UDP, 64 B",
        "rdma_qp/round-trip-64",
        "fixed",
        "baseline-udp-loopback",
        TimeRatio,
    ),
    Comparison::ratio(
        "RDMA QP round trip / loopback TCP, 4 KiB",
        "rdma_qp/round-trip-4096",
        "fixed",
        "baseline-tcp-loopback",
        TimeRatio,
    )
    .at_most(1.0, "≤ 1.0× TCP: no kernel, no copy"),
    Comparison::ratio(
        "RDMA QP round trip / loopback UDP, 4 KiB",
        "rdma_qp/round-trip-4096",
        "fixed",
        "baseline-udp-loopback",
        TimeRatio,
    ),
    Comparison::ratio(
        "RDMA QP round trip / loopback TCP, 64 KiB",
        "rdma_qp/round-trip-65536",
        "fixed",
        "baseline-tcp-loopback",
        TimeRatio,
    ),
    Comparison::note(
        "rdma_qp: the device's copy is word-by-word atomic loads and stores (a broken queue pair is then a wrong \
         value, never undefined behaviour), slower than memcpy or a DMA engine; no PCIe is crossed on this machine",
    ),
];

/// The payload sizes.
const SIZES: [u32; 3] = [64, 4096, 65536];

fn qp(bytes: u32, n: u64) -> Trips {
    qp_round_trips(Variant::Fixed, bytes, n, Pin::Spread, false)
}

fn tcp(bytes: u32, n: u64) -> Trips {
    tcp_round_trips(bytes, n, Pin::Spread, false).expect("loopback TCP")
}

fn udp(bytes: u32, n: u64) -> Trips {
    udp_round_trips(bytes, n, Pin::Spread, false).expect("loopback UDP")
}

/// Runs one id in a group, and records its threads' CPU share (min and median over the samples
/// of a millisecond or more) for the report.
fn case(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, group: &str, id: &str, f: impl Fn(u64) -> Trips) {
    let shares = RefCell::new(Vec::new());
    g.bench_function(id, |b| {
        b.iter_custom(|n| {
            let t = f(n);
            if t.wall >= Duration::from_millis(1) {
                shares.borrow_mut().push(t.parallelism.efficiency());
            }
            t.wall
        })
    });
    let mut shares = shares.into_inner();
    if !shares.is_empty() {
        shares.sort_by(f64::total_cmp);
        common::record_extra(group, id, "cpu_share_min", shares[0]);
        common::record_extra(group, id, "cpu_share_median", shares[shares.len() / 2]);
    }
}

/// Before anything is timed: every candidate delivers 200 checked payloads.
fn sanity(bytes: u32) {
    let t = qp_round_trips(Variant::Fixed, bytes, 200, Pin::Spread, false);
    assert_eq!((t.stale, t.errors), (0, 0), "fixed QP, {bytes} B");
    let t = tcp_round_trips(bytes, 200, Pin::Spread, false).expect("loopback TCP");
    assert_eq!(t.errors, 0, "TCP, {bytes} B");
    if bytes <= UDP_MAX_PAYLOAD {
        let t = udp_round_trips(bytes, 200, Pin::Spread, false).expect("loopback UDP");
        assert_eq!(t.errors, 0, "UDP, {bytes} B");
    }
}

fn bench(c: &mut Criterion) {
    for bytes in SIZES {
        sanity(bytes);
        let group = format!("rdma_qp/round-trip-{bytes}");
        let mut g = c.benchmark_group(&group);
        g.sample_size(common::samples(30));
        g.throughput(Throughput::Bytes(u64::from(bytes)));
        case(&mut g, &group, "fixed", |n| qp(bytes, n));
        case(&mut g, &group, "baseline-tcp-loopback", |n| tcp(bytes, n));
        if bytes <= UDP_MAX_PAYLOAD {
            case(&mut g, &group, "baseline-udp-loopback", |n| udp(bytes, n));
        }
        g.finish();

        // The ratios, measured in alternation (see `common::paired`).
        let mut candidates: Vec<common::Candidate<'_>> = vec![
            ("fixed", Box::new(move |n| qp(bytes, n).wall)),
            ("baseline-tcp-loopback", Box::new(move |n| tcp(bytes, n).wall)),
        ];
        if bytes <= UDP_MAX_PAYLOAD {
            candidates.push(("baseline-udp-loopback", Box::new(move |n| udp(bytes, n).wall)));
        }
        common::paired(&group, candidates);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
