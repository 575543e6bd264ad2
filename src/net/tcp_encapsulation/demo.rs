//! The `tcp-encapsulation` demo: a real segment's layers, captured on loopback and decoded.

use super::capture::{capture, Capture, CaptureError};
use super::frame::{hexdump, mac, Checksum, Frame, Origin};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput, Series, Spec,
    Threads, UsageError, Variant, Variants,
};
use std::net::{Ipv4Addr, TcpListener, TcpStream};

/// The size of the second send, the one segmentation offload leaves whole on loopback.
pub const GSO_SEND: usize = 12_000;

/// The 802.3 framing a real NIC adds and loopback does not (IEEE 802.3 clause 3 and 4: FCS,
/// preamble with its start-of-frame delimiter, the minimum inter-packet gap), in bytes.
const FCS: usize = 4;
const PREAMBLE_SFD: usize = 8;
const IFG: usize = 12;
/// A 1,500-byte MTU's TCP payload per segment with Linux's 12 bytes of timestamp options.
const WIRE_MSS: usize = 1_500 - 20 - 32;

/// The `tcp-encapsulation` demo.
#[derive(Debug)]
pub struct TcpEncapsulationDemo;

/// `tcp-encapsulation`.
pub static TCP_ENCAPSULATION: TcpEncapsulationDemo = TcpEncapsulationDemo;

static PARAMS: [Param; 2] = [
    Param {
        name: "bytes",
        help: "bytes the application sends in one send()",
        kind: ParamKind::Number {
            min: 1,
            max: 60_000,
            default: 64,
            power_of_two: false,
        },
    },
    Param {
        name: "built",
        help: "build the frames with etherparse instead of capturing them (no root needed; labelled built)",
        kind: ParamKind::Flag,
    },
];

static SPEC: Spec = Spec {
    name: "tcp-encapsulation",
    module: "net/tcp_encapsulation",
    group: Group::Net,
    seed_title: "TCP encapsulation",
    lesson: "send() hands over only your bytes: TCP, IP and Ethernet headers go in front, captured off lo",
    pair: "one real segment, captured and decoded (no broken/fixed pair)",
    variants: Variants::Single,
    can: Can {
        run: true,
        check: false,
        step: true,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(2),
    default_iterations: 1,
    max_iterations: (1, "one connection is captured per run"),
    loom_false_positive: None,
    feature: None,
    params: &PARAMS,
};

/// `lockfree-lab ` bytes, repeated to `len`.
fn payload(len: usize) -> Vec<u8> {
    b"lockfree-lab ".iter().copied().cycle().take(len).collect()
}

/// The frames of one connection that sends `payload`: captured, or (when `built`) built.
fn frames(payload: &[u8], built: bool) -> Result<(Origin, Capture), UsageError> {
    if built {
        return Ok((Origin::Built, build(payload)?));
    }
    match capture(payload) {
        Ok(c) => Ok((Origin::Captured, c)),
        Err(CaptureError::NeedsRoot) => Err(UsageError(
            "capturing frames needs root (CAP_NET_RAW, for an AF_PACKET socket on lo): run it with sudo, or add \
             --built to build the same frames with etherparse (labelled built, not captured)"
                .into(),
        )),
        Err(CaptureError::Io(e)) => Err(UsageError(format!("the capture on lo failed: {e}"))),
    }
}

/// The data segment of a real loopback connection's addresses and ports, built by etherparse
/// (one segment of at most 65,483 bytes, as loopback would carry it).
fn build(payload: &[u8]) -> Result<Capture, UsageError> {
    let io = |e: std::io::Error| UsageError(format!("a loopback connection for the built frames failed: {e}"));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    let server = listener.local_addr().map_err(io)?;
    let client = TcpStream::connect(server).map_err(io)?;
    let local = client.local_addr().map_err(io)?;
    let ip = |a: std::net::SocketAddr| match a.ip() {
        std::net::IpAddr::V4(v4) => v4,
        std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    // Sequence numbers 1 and 1: the kernel's real ISNs are random and only a capture shows them.
    let frame = Frame::build((ip(local), local.port()), (ip(server), server.port()), 1, 1, payload);
    Ok(Capture {
        frames: vec![frame],
        port: server.port(),
        payload: payload.to_vec(),
    })
}

fn checksum_text(f: &Frame) -> String {
    let (field, full, class) = f.tcp_checksum;
    match class {
        Checksum::Complete => format!("checksum {field:#06x} (complete: verifies)"),
        Checksum::Partial => format!(
            "checksum {field:#06x} = the pseudo-header sum only, not the full {full:#06x}: left for the NIC (offload)"
        ),
        Checksum::Wrong => format!("checksum {field:#06x}: wrong (full would be {full:#06x})"),
    }
}

fn tcp_text(f: &Frame) -> String {
    format!(
        "ports {}→{}, seq {}, ack {}, {}, window {} (before scaling), {}",
        f.src_port,
        f.dst_port,
        f.seq,
        f.ack,
        f.flag_text(),
        f.window,
        checksum_text(f)
    )
}

fn ip_text(f: &Frame) -> String {
    format!(
        "{}→{}, TTL {}, total length {}, id {}{}, header checksum {:#06x} ({})",
        f.ip_src,
        f.ip_dst,
        f.ttl,
        f.ip_total_len,
        f.ip_id,
        if f.dont_fragment { ", DF" } else { "" },
        f.ip_checksum.0,
        if f.ip_checksum.1 { "verifies" } else { "WRONG" }
    )
}

fn eth_text(f: &Frame) -> String {
    format!(
        "{} → {}, EtherType {:#06x} (IPv4)",
        mac(f.eth_src),
        mac(f.eth_dst),
        f.ether_type
    )
}

/// The loopback interface's MTU from sysfs, if readable.
fn lo_mtu() -> Option<u64> {
    std::fs::read_to_string("/sys/class/net/lo/mtu")
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Demo for TcpEncapsulationDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let built = opts.params.flag("built");
        let len = opts.params.number("bytes") as usize;
        let (origin, cap) = frames(&payload(len), built)?;
        let data = cap
            .first_data()
            .ok_or_else(|| UsageError("the capture saw no data segment of the connection".into()))?
            .clone();
        let how = format!("origin: {}", origin.label());
        let row = |case: &str, bytes: usize, text: String| Row {
            case: case.into(),
            figures: vec![
                Figure::count("bytes", bytes as u64),
                Figure::text("what it says", &text),
            ],
            parallel: None,
            parallelism: how.clone(),
        };
        let head = String::from_utf8_lossy(&data.payload_head).into_owned();
        out.rows.push(row(
            "send(): your payload",
            data.payload_len,
            format!("{head:?}{}", if data.payload_len > 32 { "…" } else { "" }),
        ));
        out.rows.push(row("+ TCP header", data.tcp_header_len, tcp_text(&data)));
        out.rows.push(row("+ IPv4 header", data.ip_header_len, ip_text(&data)));
        out.rows.push(row("+ Ethernet header", 14, eth_text(&data)));
        out.rows.push(row(
            "= the frame on lo",
            data.bytes.len(),
            format!(
                "{} bytes of headers on {} of payload ({:.1}% overhead)",
                data.overhead(),
                data.payload_len,
                100.0 * data.overhead() as f64 / data.bytes.len() as f64
            ),
        ));
        out.rows.push(Row {
            parallelism: "cited, not measured: IEEE 802.3 framing, which loopback does not have".into(),
            ..row(
                "+ a real wire (cited)",
                data.bytes.len() + FCS + PREAMBLE_SFD + IFG,
                format!("+{FCS} FCS, +{PREAMBLE_SFD} preamble and SFD, +{IFG} inter-frame gap (IEEE 802.3)"),
            )
        });
        // What the headers cost as the payload grows: this frame's real header sizes over sizes
        // from one byte to a full 1,500-byte-MTU segment, on lo and on a wire (802.3 framing cited).
        let headers = data.overhead() as f64;
        let sizes: Vec<f64> = (0..=11)
            .map(|k| f64::from(1u32 << k))
            .chain([WIRE_MSS as f64])
            .collect();
        let share = |extra: f64| -> Vec<(f64, f64)> {
            sizes
                .iter()
                .map(|&p| (p, 100.0 * (headers + extra) / (headers + extra + p)))
                .collect()
        };
        out.series.push(
            Series::new(
                format!("headers on lo ({} B, {})", data.overhead(), origin.label()),
                ("payload per segment", "B"),
                ("share of the bytes that are headers", "%"),
                share(0.0),
            )
            .log_x()
            .mark(data.payload_len as f64, "this run's payload"),
        );
        out.series.push(
            Series::new(
                format!(
                    "headers + 802.3 framing on a wire (+{} B, cited)",
                    FCS + PREAMBLE_SFD + IFG
                ),
                ("payload per segment", "B"),
                ("share of the bytes that are headers", "%"),
                share((FCS + PREAMBLE_SFD + IFG) as f64),
            )
            .log_x()
            .mark(data.payload_len as f64, "this run's payload"),
        );
        if origin == Origin::Captured {
            let segs = cap.frames.iter().filter(|f| f.dst_port == cap.port).count();
            let syn = cap.frames.iter().filter(|f| f.flags.contains(&"SYN")).count();
            out.notes.push(format!(
                "the connection on the wire: {} frames ({segs} client→server), {syn} carrying SYN: the handshake, \
                 the data, the ACKs and the close (tcp-handshake steps through the first three)",
                cap.frames.len()
            ));
            if data.tcp_checksum.2 == Checksum::Partial {
                out.notes.push(
                    "the TCP checksum field holds only the pseudo-header's sum: Linux leaves the rest to the NIC \
                     (checksum offload, CHECKSUM_PARTIAL), and loopback never finishes it"
                        .into(),
                );
            }
            // The second connection: one send larger than a real wire's segment.
            let big = capture(&payload(GSO_SEND)).map_err(|e| match e {
                CaptureError::NeedsRoot => UsageError("the second capture lost its privileges".into()),
                CaptureError::Io(e) => UsageError(format!("the capture on lo failed: {e}")),
            })?;
            let data_frames: Vec<&Frame> = big
                .frames
                .iter()
                .filter(|f| f.dst_port == big.port && f.payload_len > 0)
                .collect();
            let largest = data_frames.iter().map(|f| f.bytes.len()).max().unwrap_or(0);
            out.rows.push(Row {
                parallelism: how.clone(),
                ..row(
                    &format!("send() of {GSO_SEND} B: frames on lo"),
                    largest,
                    format!(
                        "{} data frame(s), the largest {largest} bytes (IP total length {}): on a 1,500-byte-MTU wire \
                         it would be {} segments; segmentation offload cuts it only at the driver or the NIC",
                        data_frames.len(),
                        data_frames.iter().map(|f| f.ip_total_len).max().unwrap_or(0),
                        GSO_SEND.div_ceil(WIRE_MSS)
                    ),
                )
            });
            out.notes.push(format!(
                "lo's MTU is {} (sysfs): loopback carries a segment up to 64 KiB whole",
                lo_mtu().map_or("unknown".into(), |m| m.to_string())
            ));
        } else {
            out.notes.push(
                "built, not captured: etherparse computed complete checksums and the sequence numbers are 1; a \
                 capture (as root) shows the kernel's random ISNs, its partial checksum and segmentation offload"
                    .into(),
            );
        }
        Ok(out)
    }

    fn replay(&self, _variant: Variant) -> Option<Replay> {
        let len = 26;
        // `step` has no options: it captures when it may, and says so when it builds instead.
        let (origin, cap) = match frames(&payload(len), false) {
            Ok(c) => c,
            Err(_) => frames(&payload(len), true).ok()?,
        };
        let f = cap.first_data()?.clone();
        let eth_end = 14;
        let ip_end = eth_end + f.ip_header_len;
        let tcp_end = ip_end + f.tcp_header_len;
        let steps = vec![
            format!(
                "1/6 Application: send(fd, buf, {}) hands the kernel only your bytes, in a socket buffer:\n{}",
                f.payload_len,
                hexdump(&f.bytes[tcp_end..])
            ),
            format!(
                "2/6 TCP puts {} bytes in front ({}):\n{}\n{}",
                f.tcp_header_len,
                if f.tcp_header_len > 20 {
                    "20 + options: timestamps"
                } else {
                    "no options"
                },
                tcp_text(&f),
                hexdump(&f.bytes[ip_end..tcp_end])
            ),
            format!(
                "3/6 IP puts {} bytes in front: routing, TTL, the header checksum:\n{}\n{}",
                f.ip_header_len,
                ip_text(&f),
                hexdump(&f.bytes[eth_end..ip_end])
            ),
            format!(
                "4/6 Link (driver): 14 bytes of Ethernet header:\n{}\n{}",
                eth_text(&f),
                hexdump(&f.bytes[..eth_end])
            ),
            "5/6 NIC / DMA: on loopback there is no NIC: the driver hands the frame straight to its own receive \
             path. A real NIC (cited) would DMA it out of the TX ring's buffer, finish the TCP checksum, cut a \
             large segment to the MTU (TSO) and append the 4-byte FCS."
                .to_string(),
            format!(
                "6/6 Wire: the whole frame, {} bytes ({} of them yours); a real wire adds {FCS} FCS + {PREAMBLE_SFD} \
                 preamble + {IFG} gap (cited, IEEE 802.3):\n{}",
                f.bytes.len(),
                f.payload_len,
                hexdump(&f.bytes)
            ),
        ];
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "One data segment of a real loopback TCP connection, {}, walked down the seed's six layers with its \
                 real bytes.",
                origin.label()
            ),
            steps,
            outcome: format!(
                "{} bytes of headers carried {} bytes of payload{}",
                f.overhead(),
                f.payload_len,
                if f.tcp_checksum.2 == Checksum::Partial {
                    "; the TCP checksum was left partial for an offload that loopback never does"
                } else {
                    ""
                }
            ),
        })
    }
}
