//! The `rdma-qp` demo: a queue pair whose driver reads a CQE's body before its owner bit, against
//! the mlx5 order (owner bit with Acquire, then the body); measured against loopback sockets.

use super::{loom, qp_replay, qp_round_trips, shuttle, tcp_round_trips, udp_round_trips, Trips, UDP_MAX_PAYLOAD};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput,
    Spec, Threads, UsageError, Variant, Variants,
};

/// The payload sizes `run` measures.
pub const SIZES: [u32; 3] = [64, 4096, 65536];

/// Round trips kept per size and transport: each one's time is kept (8 bytes) for the median and p99.
pub const MAX_ROUND_TRIPS: u64 = 2_000_000;
const WHY: &str = "every round trip's time is kept (8 bytes) for the median and the p99, per size and transport";

/// Round trips of the broken queue pair the matrix runs on real cores.
const DETECT_ROUND_TRIPS: u64 = 100_000;

/// The `rdma-qp` demo.
#[derive(Debug)]
pub struct RdmaQpDemo;

/// `rdma-qp`.
pub static RDMA_QP: RdmaQpDemo = RdmaQpDemo;

static PARAMS: [Param; 1] = [Param {
    name: "payload",
    help: "payload bytes per round trip (rdma-qp): 64, 4096, 65536, or all three",
    kind: ParamKind::Choice {
        values: &["all", "64", "4096", "65536"],
        default: "all",
    },
}];

static SPEC: Spec = Spec {
    name: "rdma-qp",
    module: "nic/rdma_qp",
    group: Group::Nic,
    seed_title: "RDMA queue pair",
    lesson: "post, doorbell, zero-copy DMA, CQE: a CQE is this lap's only when its owner bit says so",
    pair: "CQE body read before the owner-parity check → owner bit (Acquire), then the body",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::Fixed(2),
    default_iterations: 20_000,
    max_iterations: (MAX_ROUND_TRIPS, WHY),
    loom_false_positive: None,
    feature: None,
    params: &PARAMS,
};

/// One row's figures, the same labels for every row.
fn figures(bytes: u32, t: &Trips, baseline: Option<f64>) -> Vec<Figure> {
    let median = t.quantile_ns(0.5);
    vec![
        Figure::count("payload B", u64::from(bytes)),
        Figure::count("round trips", t.round_trips),
        Figure::number("median ns", median, 0, "ns"),
        Figure::number("p99 ns", t.quantile_ns(0.99), 0, "ns"),
        Figure::number("x QP median", baseline.map_or(f64::NAN, |b| median / b), 1, "x"),
        Figure::count("stale completions", t.stale),
        Figure::count("errors", t.errors),
    ]
}

impl Demo for RdmaQpDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let sizes: Vec<u32> = match opts.params.choice("payload") {
            "all" => SIZES.to_vec(),
            one => vec![one.parse().expect("the spec's choices are numbers")],
        };
        let n = opts.iterations;
        let mut out = RunOutput::new(&SPEC, opts);
        let socket = |e: std::io::Error| UsageError(format!("rdma-qp: a loopback socket failed: {e}"));
        for &bytes in &sizes {
            let mut qp_median = None;
            // The fixed queue pair first: the other rows are compared with it.
            let mut ordered: Vec<Variant> = cases.iter().map(|c| c.variant()).collect();
            ordered.sort_by_key(|v| *v != Variant::Fixed);
            for variant in ordered {
                let t = qp_round_trips(variant, bytes, n, opts.pin, true);
                let median = t.quantile_ns(0.5);
                let base = *qp_median.get_or_insert(median);
                out.rows.push(Row::on_cores(
                    format!("{variant} QP, {bytes} B"),
                    figures(bytes, &t, Some(base)),
                    &t.parallelism,
                ));
            }
            let t = tcp_round_trips(bytes, n, opts.pin, true).map_err(socket)?;
            out.rows.push(Row::on_cores(
                format!("TCP loopback, {bytes} B"),
                figures(bytes, &t, qp_median),
                &t.parallelism,
            ));
            if bytes <= UDP_MAX_PAYLOAD {
                let t = udp_round_trips(bytes, n, opts.pin, true).map_err(socket)?;
                out.rows.push(Row::on_cores(
                    format!("UDP loopback, {bytes} B"),
                    figures(bytes, &t, qp_median),
                    &t.parallelism,
                ));
            }
        }
        out.notes.push(
            "measured, on these two cores, one request in flight: QP = post a WQE, ring the doorbell, the device \
             thread copies the payload from the local registered buffer straight into the peer's, writes a CQE, the \
             driver reaps it (no system call, no kernel copy). TCP/UDP = send the payload, the peer receives all of \
             it into its buffer, one byte back (system calls and two kernel copies). Both sides busy-poll"
                .into(),
        );
        out.notes.push(
            "the device's copy is word-by-word atomic loads and stores (so a broken run is a wrong value, never \
             undefined behaviour): slower than memcpy or a DMA engine, which favours the sockets at 64 KiB"
                .into(),
        );
        if sizes.contains(&65536) {
            out.notes.push(format!(
                "no UDP row at 64 KiB: a UDP payload is at most {UDP_MAX_PAYLOAD} bytes"
            ));
        }
        out.notes.push(
            "cited, not measured (no NIC here): a real RC queue pair adds PCIe and the wire — ib_send_lat one-way \
             0.83 µs at 32 B, 2.26 µs at 4 KiB, 4.57 µs at 32 KiB on InfiniBand (D. Potter, master's thesis, table \
             mtu_performance; perftest reports half the round trip)"
                .into(),
        );
        if cases.iter().any(|c| c.variant() == Variant::Broken) {
            out.notes.push(
                "broken: its driver reads the CQE body before the owner bit, so a CQE left from the CQ's previous lap \
                 can pass as new when the device's CQE write falls between the two reads; `stale completions` counts \
                 them. An interleaving, not a reordering: x86's TSO does not hide it"
                    .into(),
            );
        }
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // Driver and device on their own threads, with the main one: three, so loom is bounded.
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => {
                checker.explore(3, || loom::scenario::two_laps(loom::broken::queue_pair, 1))
            }
            (Checker::Loom, Variant::Fixed) => {
                checker.explore(3, || loom::scenario::two_laps(loom::fixed::queue_pair, 1))
            }
            (_, Variant::Broken) => checker.explore(3, || shuttle::scenario::two_laps(shuttle::broken::queue_pair, 1)),
            (_, Variant::Fixed) => checker.explore(3, || shuttle::scenario::two_laps(shuttle::fixed::queue_pair, 1)),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let steps = qp_replay(variant);
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "The {variant} queue pair, played on one thread with the real structures: post a WR, ring the \
                 doorbell, the device's DMA, its CQE, the reap; then lap 1 of the one-entry CQ with the driver's poll \
                 split around the device's CQE write; then a WR outside the peer's region. Each step shows the SQ, \
                 the doorbell record, the CQ with its owner bits, the driver's indices and the buffers."
            ),
            outcome: steps.last().map(|s| s.action.clone()).unwrap_or_default(),
            steps: steps.iter().map(ToString::to_string).collect(),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let t = qp_round_trips(Variant::Broken, 64, DETECT_ROUND_TRIPS, Pin::Spread, false);
        if t.stale > 0 {
            Detection::Found {
                count: t.round_trips,
                text: format!("found: {} stale completions in {} round trips", t.stale, t.round_trips),
            }
        } else if t.parallelism.ran_in_parallel() {
            Detection::Missed {
                count: t.round_trips,
                text: format!("missed: 0 stale completions in {} round trips", t.round_trips),
            }
        } else {
            Detection::Blind("no: the threads did not run in parallel (machine busy)".into())
        }
    }
}
