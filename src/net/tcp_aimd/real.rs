//! The real run: one bulk flow through the rig's bottleneck, `TCP_INFO` sampled every 2 ms, and
//! a small request timed alone and beside the flow.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sock::{self, INFINITE_SSTHRESH};
use super::Sample;
use crate::hw::{pin_current, Pin};
use crate::net::rig::{QdiscStats, Rig, Shape, Side};

/// How often the sampler reads `TCP_INFO`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// How often the small request goes out.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);
/// The small request's size (and its echo's).
pub const PROBE_BYTES: usize = 64;
/// How long the small request is timed alone, before the bulk flow starts.
pub const IDLE_PROBING: Duration = Duration::from_millis(600);

const SINK_PORT: u16 = 5001;
const ECHO_PORT: u16 = 5002;

/// What the real run measured.
#[derive(Debug)]
pub struct Measured {
    /// The sender's window, every [`SAMPLE_EVERY`].
    pub samples: Vec<Sample>,
    /// Congestion states seen, counted by sample: Open, Disorder, CWR, Recovery, Loss.
    pub states: [u64; 5],
    /// The congestion control the socket reported back.
    pub cc: String,
    /// Maximum segment size, bytes.
    pub mss: u32,
    /// Bytes the receiver got.
    pub bytes: u64,
    /// The bulk flow's duration, seconds.
    pub seconds: f64,
    /// Cumulative qdisc drops over time: `(t s, drops)`.
    pub drops: Vec<(f64, f64)>,
    /// The qdisc's counters at the end.
    pub qdisc: QdiscStats,
    /// The small request's RTTs before the bulk flow, milliseconds.
    pub idle_rtts: Vec<f64>,
    /// The small request's RTTs beside the bulk flow: `(t s, ms)`.
    pub busy_rtts: Vec<(f64, f64)>,
}

fn err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Times one 64-byte request and its echo, in milliseconds.
fn probe(conn: &mut TcpStream) -> Result<f64, String> {
    let req = [0x5au8; PROBE_BYTES];
    let mut resp = [0u8; PROBE_BYTES];
    let start = Instant::now();
    conn.write_all(&req).map_err(err("small request"))?;
    conn.read_exact(&mut resp).map_err(err("small request's echo"))?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// Runs the bulk flow for `seconds` with congestion control `cc` through a bottleneck of `shape`.
pub fn run(shape: Shape, cc: &'static str, seconds: f64, pin: Pin) -> Result<Measured, String> {
    let rig = Rig::new(shape).map_err(|e| e.to_string())?;
    let receiver = rig.address(Side::Receiver);
    let cores = core_affinity::get_core_ids().unwrap_or_default();

    // Listeners in the receiver's namespace; the sockets keep their namespace wherever they go.
    let listeners = rig
        .spawn_in(
            Side::Receiver,
            move || -> std::io::Result<(TcpListener, TcpListener)> {
                Ok((
                    TcpListener::bind((receiver, SINK_PORT))?,
                    TcpListener::bind((receiver, ECHO_PORT))?,
                ))
            },
        )
        .join()
        .map_err(|_| "the receiver's setup thread panicked".to_string())?
        .map_err(|e| e.to_string())?
        .map_err(err("listen in the receiver namespace"))?;
    let (sink_l, echo_l) = listeners;
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut conn, _) = sink_l.accept()?;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut conn, _) = echo_l.accept()?;
        conn.set_nodelay(true)?;
        let mut buf = [0u8; PROBE_BYTES];
        while conn.read_exact(&mut buf).is_ok() {
            conn.write_all(&buf)?;
        }
        Ok(())
    });

    // Both connections from the sender's namespace: the bulk flow and the small request share
    // the bottleneck's queue.
    let (bulk, mut req) = rig
        .spawn_in(Side::Sender, move || -> Result<(TcpStream, TcpStream), String> {
            let bulk = TcpStream::connect((receiver, SINK_PORT)).map_err(err("connect the bulk flow"))?;
            sock::set_congestion(&bulk, cc).map_err(|e| {
                format!(
                    "this kernel refused congestion control `{cc}` ({e}); it offers: {}",
                    sock::available_congestion().join(" ")
                )
            })?;
            let req = TcpStream::connect((receiver, ECHO_PORT)).map_err(err("connect the small request"))?;
            sock::set_nodelay(&req).map_err(err("TCP_NODELAY"))?;
            req.set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(err("read timeout"))?;
            Ok((bulk, req))
        })
        .join()
        .map_err(|_| "the sender's setup thread panicked".to_string())?
        .map_err(|e| e.to_string())??;
    let cc_read = sock::congestion(&bulk).map_err(err("read TCP_CONGESTION"))?;
    let mss = sock::tcp_info(&bulk).map_err(err("TCP_INFO"))?.mss;

    // The small request alone: the queue is empty.
    let mut idle_rtts = Vec::new();
    let idle_end = Instant::now() + IDLE_PROBING;
    while Instant::now() < idle_end {
        idle_rtts.push(probe(&mut req)?);
        std::thread::sleep(PROBE_EVERY);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let writer = {
        let (mut bulk, stop, cores) = (bulk.try_clone().map_err(err("dup"))?, stop.clone(), cores.clone());
        std::thread::spawn(move || -> std::io::Result<()> {
            pin_current(pin, 0, &cores);
            let chunk = vec![0xa5u8; 16 << 10];
            // ORDERING: Relaxed [stop] — a flag only; the threads share no data through it.
            while !stop.load(Ordering::Relaxed) {
                bulk.write_all(&chunk)?;
            }
            bulk.shutdown(Shutdown::Write)
        })
    };
    let sampler = {
        let (bulk, stop, cores) = (bulk.try_clone().map_err(err("dup"))?, stop.clone(), cores.clone());
        std::thread::spawn(move || -> std::io::Result<(Vec<Sample>, [u64; 5])> {
            pin_current(pin, 1, &cores);
            let mut samples = Vec::new();
            let mut states = [0u64; 5];
            let mut next = Instant::now();
            // ORDERING: Relaxed [stop] — a flag only; the samples go back through join.
            while !stop.load(Ordering::Relaxed) {
                let i = sock::tcp_info(&bulk)?;
                let ssthresh = if i.ssthresh >= INFINITE_SSTHRESH {
                    f64::INFINITY
                } else {
                    f64::from(i.ssthresh)
                };
                states[usize::from(i.ca_state).min(4)] += 1;
                samples.push(Sample {
                    t: start.elapsed().as_secs_f64(),
                    cwnd: f64::from(i.cwnd),
                    ssthresh,
                    rtt: f64::from(i.rtt_us) / 1e6,
                    retrans: u64::from(i.total_retrans),
                    reducing: i.ca_state >= 2,
                });
                next += SAMPLE_EVERY;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            Ok((samples, states))
        })
    };
    let prober = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<Vec<(f64, f64)>, String> {
            let mut v = Vec::new();
            // ORDERING: Relaxed [stop] — a flag only; the RTTs go back through join.
            while !stop.load(Ordering::Relaxed) {
                let t = start.elapsed().as_secs_f64();
                v.push((t, probe(&mut req)?));
                std::thread::sleep(PROBE_EVERY);
            }
            Ok(v)
        })
    };
    // The qdisc's drop counter, from `tc`, every 50 ms (a process per poll: too slow for 2 ms).
    let mut drops = Vec::new();
    let first = rig.qdisc_stats().map_err(|e| e.to_string())?;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let q = rig.qdisc_stats().map_err(|e| e.to_string())?;
        drops.push((start.elapsed().as_secs_f64(), (q.dropped - first.dropped) as f64));
    }
    // ORDERING: Relaxed [stop] — a flag only; every result comes back through join.
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let joined = |what: &str| format!("the {what} thread panicked");
    let (samples, states) = sampler
        .join()
        .map_err(|_| joined("sampler"))?
        .map_err(err("TCP_INFO"))?;
    let busy_rtts = prober.join().map_err(|_| joined("small-request"))??;
    writer
        .join()
        .map_err(|_| joined("bulk writer"))?
        .map_err(err("bulk write"))?;
    drop(bulk);
    let bytes = sink.join().map_err(|_| joined("sink"))?.map_err(err("sink"))?;
    let _ = echo.join();
    let qdisc = rig.qdisc_stats().map_err(|e| e.to_string())?;
    Ok(Measured {
        samples,
        states,
        cc: cc_read,
        mss,
        bytes,
        seconds: elapsed,
        drops,
        qdisc,
        idle_rtts,
        busy_rtts,
    })
}
