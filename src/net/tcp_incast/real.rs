//! The real run: N sender threads answer a barrier-synchronised request through the rig's
//! bottleneck, for every N of the sweep.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::hosts::Hosts;
use crate::hw::{pin_current, Pin};
use crate::net::rig::{Rig, Shape, Side};
use crate::net::tcp_aimd::sock;

const PORT: u16 = 6000;
/// The request that ends a sender's loop.
const END: u32 = u32::MAX;

/// What the rounds at one N measured.
#[derive(Clone, Debug)]
pub struct AtN {
    /// Senders.
    pub n: usize,
    /// Each measured round's time, seconds (the warm-up round excluded).
    pub rounds: Vec<f64>,
    /// Packets the bottleneck dropped over these rounds.
    pub drops: u64,
    /// Segments the senders retransmitted over these rounds.
    pub retrans: u64,
    /// The largest retransmission timeout a sender's socket reported at the end, ms.
    pub rto_ms: f64,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// One sender: answers every request with `block` bytes; at the end, its retransmissions since
/// the first measured round (request 1; request 0 is the warm-up) and its RTO (µs).
fn serve(mut conn: TcpStream, block: usize) -> std::io::Result<(u32, u32)> {
    let data = vec![0x3cu8; block];
    let mut req = [0u8; 4];
    let mut base = 0;
    loop {
        conn.read_exact(&mut req)?;
        match u32::from_le_bytes(req) {
            END => {
                let info = sock::tcp_info(&conn)?;
                return Ok((info.total_retrans - base, info.rto_us));
            }
            1 => base = sock::tcp_info(&conn)?.total_retrans,
            _ => {}
        }
        conn.write_all(&data)?;
    }
}

/// Runs the sweep: for each N in `ns`, one warm-up round then `rounds` measured rounds.
/// `progress` is called before each N.
pub fn run(
    shape: Shape,
    block: usize,
    ns: &[usize],
    rounds: usize,
    rto_min_ms: Option<u64>,
    pin: Pin,
    progress: impl Fn(usize),
) -> Result<Vec<AtN>, String> {
    let rig = Rig::new(shape).map_err(|e| e.to_string())?;
    let hosts = Hosts::new(&rig)?;
    if let Some(ms) = rto_min_ms {
        hosts.set_rto_min(ms)?;
    }
    let sender = hosts.address();
    let listener = hosts
        .spawn_in(move || TcpListener::bind((sender, PORT)))
        .join()
        .map_err(|_| "the senders' setup thread panicked".to_string())??
        .map_err(io("listen in the senders' namespace"))?;
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut out = Vec::new();
    for &n in ns {
        progress(n);
        // The receiver's N connections, opened from its namespace.
        let mut conns = rig
            .spawn_in(Side::Receiver, move || -> std::io::Result<Vec<TcpStream>> {
                (0..n)
                    .map(|_| {
                        let c = TcpStream::connect((sender, PORT))?;
                        c.set_nodelay(true)?;
                        c.set_read_timeout(Some(Duration::from_secs(20)))?;
                        Ok(c)
                    })
                    .collect()
            })
            .join()
            .map_err(|_| "the receiver's connect thread panicked".to_string())?
            .map_err(|e| e.to_string())?
            .map_err(io("connect to a sender"))?;
        let senders: Vec<_> = (0..n)
            .map(|i| {
                let (conn, _) = listener.accept().map_err(io("accept"))?;
                let cores = cores.clone();
                Ok(std::thread::spawn(move || {
                    pin_current(pin, i, &cores);
                    serve(conn, block)
                }))
            })
            .collect::<Result<_, String>>()?;
        let mut buf = vec![0u8; block];
        let mut times = Vec::with_capacity(rounds);
        let mut q0 = None;
        for round in 0..=rounds {
            if round == 1 {
                q0 = Some(rig.qdisc_stats().map_err(|e| e.to_string())?);
            }
            let start = Instant::now();
            for c in &mut conns {
                c.write_all(&(round as u32).to_le_bytes()).map_err(io("request"))?;
            }
            for c in &mut conns {
                c.read_exact(&mut buf).map_err(io("read an answer"))?;
            }
            if round > 0 {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        let q1 = rig.qdisc_stats().map_err(|e| e.to_string())?;
        for c in &mut conns {
            c.write_all(&END.to_le_bytes()).map_err(io("end"))?;
        }
        let (mut retrans, mut rto_us) = (0u64, 0u32);
        for s in senders {
            let (r, rto) = s
                .join()
                .map_err(|_| "a sender thread panicked".to_string())?
                .map_err(io("sender"))?;
            retrans += u64::from(r);
            rto_us = rto_us.max(rto);
        }
        out.push(AtN {
            n,
            rounds: times,
            drops: q1.dropped - q0.map_or(0, |q| q.dropped),
            retrans,
            rto_ms: f64::from(rto_us) / 1e3,
        });
    }
    drop(hosts);
    Ok(out)
}
