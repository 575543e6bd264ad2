//! The `tcp-handshake` demo: the kernel's handshake captured, and smoltcp's states step by step.

use super::smol::{handshake, Event};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Replay, Row, RunOptions, RunOutput, Series, Spec, Threads, UsageError,
    Variant, Variants,
};
use crate::net::tcp_encapsulation::capture::{capture, CaptureError};
use crate::net::tcp_encapsulation::frame::Frame;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Instant;

/// Connections timed for the handshake's cost.
pub const MAX_CONNECTS: u64 = 100_000;

/// The `tcp-handshake` demo.
#[derive(Debug)]
pub struct TcpHandshakeDemo;

/// `tcp-handshake`.
pub static TCP_HANDSHAKE: TcpHandshakeDemo = TcpHandshakeDemo;

static SPEC: Spec = Spec {
    name: "tcp-handshake",
    module: "net/tcp_handshake",
    group: Group::Net,
    seed_title: "TCP 3-way handshake",
    lesson: "SYN, SYN-ACK, ACK: each ack is the peer's ISN + 1, and a connection costs a round trip before byte one",
    pair: "the kernel's handshake captured, smoltcp's states observed (no broken/fixed pair)",
    variants: Variants::Single,
    can: Can {
        run: true,
        check: false,
        step: true,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(2),
    default_iterations: 1_000,
    max_iterations: (MAX_CONNECTS, "each connect()'s time is kept for the median and p99"),
    loom_false_positive: None,
    feature: None,
    params: &[],
};

fn segment_text(f: &Frame) -> String {
    format!(
        "{} {}→{}, seq {}{}, window {}",
        f.flag_text(),
        f.src_port,
        f.dst_port,
        f.seq,
        if f.flags.contains(&"ACK") {
            format!(", ack {}", f.ack)
        } else {
            String::new()
        },
        f.window
    )
}

/// `n` blocking connect() calls on loopback, each one's time in µs, sorted.
fn connect_times(n: u64) -> Result<Vec<f64>, UsageError> {
    let io = |e: std::io::Error| UsageError(format!("a loopback connection failed: {e}"));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    // The kernel completes the handshake in its accept queue; an accepting thread drains it.
    let acceptor = std::thread::spawn(move || {
        for _ in 0..n {
            if listener.accept().is_err() {
                break;
            }
        }
    });
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        let conn = TcpStream::connect(addr).map_err(io)?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
        drop(conn);
    }
    let _ = acceptor.join();
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// The `q` quantile of `sorted` (not empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Demo for TcpHandshakeDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let smol = "observed in smoltcp (in-process, every state read after each step)";
        for e in handshake().iter().filter(|e| e.segment.is_some()) {
            let f = e.segment.as_ref().expect("filtered");
            out.rows.push(Row {
                case: format!("smoltcp: {}", e.what),
                figures: vec![
                    Figure::text("segment", &segment_text(f)),
                    Figure::text("states after", &format!("client {} · server {}", e.client, e.server)),
                ],
                parallel: None,
                parallelism: smol.into(),
            });
        }
        match capture(b"x") {
            Ok(cap) => {
                let kernel = "captured: the kernel's handshake on lo (AF_PACKET)";
                let hs: Vec<&Frame> = cap.frames.iter().take(3).collect();
                for (i, f) in hs.iter().enumerate() {
                    let check = match i {
                        1 => format!("ack = client ISN + 1: {}", f.ack == hs[0].seq.wrapping_add(1)),
                        2 => format!("ack = server ISN + 1: {}", f.ack == hs[1].seq.wrapping_add(1)),
                        _ => "the client's random ISN".into(),
                    };
                    out.rows.push(Row {
                        case: format!("kernel: {}", f.flag_text()),
                        figures: vec![
                            Figure::text("segment", &segment_text(f)),
                            Figure::text("states after", &check),
                        ],
                        parallel: None,
                        parallelism: kernel.into(),
                    });
                }
            }
            Err(CaptureError::NeedsRoot) => out.notes.push(
                "the kernel's own handshake is not shown: capturing it needs root (CAP_NET_RAW, an AF_PACKET \
                 socket); smoltcp's handshake above needs none"
                    .into(),
            ),
            Err(CaptureError::Io(e)) => out.notes.push(format!("the capture on lo failed: {e}")),
        }
        let times = connect_times(opts.iterations)?;
        let (p50, p99) = (quantile(&times, 0.5), quantile(&times, 0.99));
        out.series.push(
            Series::new(
                "blocking connect() on lo",
                ("percentile of the connections", "%"),
                ("time until connect() returned", "µs"),
                [1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0]
                    .iter()
                    .map(|&p| (p, quantile(&times, p / 100.0)))
                    .collect(),
            )
            .log_y(),
        );
        out.rows.push(Row {
            case: format!("connect() on lo, {} times", opts.iterations),
            figures: vec![
                Figure::text("segment", &format!("p50 {p50:.1} µs, p99 {p99:.1} µs")),
                Figure::text("states after", "one round trip before the first byte can go"),
            ],
            parallel: None,
            parallelism: "measured: blocking connect() until the SYN-ACK is back".into(),
        });
        out.notes.push(
            "window in the SYN and SYN-ACK is unscaled (scaling starts after the handshake); the window-scale, \
             MSS and timestamp options ride in these segments"
                .into(),
        );
        Ok(out)
    }

    fn replay(&self, _variant: Variant) -> Option<Replay> {
        let events = handshake();
        let steps = events
            .iter()
            .enumerate()
            .map(|(i, e): (usize, &Event)| {
                let seg = e
                    .segment
                    .as_ref()
                    .map_or(String::new(), |f| format!("\n   on the wire: {}", segment_text(f)));
                format!(
                    "{}/{} {}{seg}\n   client: {:<12} server: {}",
                    i + 1,
                    events.len(),
                    e.what,
                    e.client,
                    e.server
                )
            })
            .collect();
        Some(Replay {
            demo: SPEC.name.into(),
            intro: "smoltcp's client and server on one in-process loopback interface, driven one bounded step at a \
                    time (send what the sockets queued, deliver one packet); both states are read from smoltcp \
                    after every step."
                .into(),
            steps,
            outcome: "three segments: each side's SYN acknowledged with its ISN + 1, the server's ACK riding on its \
                      own SYN; the client is ESTABLISHED a step before the server"
                .into(),
        })
    }
}
