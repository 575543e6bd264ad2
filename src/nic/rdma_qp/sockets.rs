//! The competitors: the same payload through loopback TCP and UDP sockets, on the same two
//! pinned cores. Each round trip is a send of the payload (a system call and a copy into the
//! kernel), the peer's receive of all of it into its own buffer (a system call and a copy out),
//! and a one-byte acknowledgement back: the socket analogue of "the bytes are in the peer's
//! buffer, and the sender knows". Both sides busy-poll non-blocking sockets, as the queue pair's
//! threads busy-poll: no sleep, no wake-up, the kernel's best case.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cores::{wait_for, Trips};
use crate::hw::Pin;

/// The largest UDP payload over IPv4 (65,535 − 8 − 20 bytes): a 64 KiB payload does not fit.
pub const UDP_MAX_PAYLOAD: u32 = 65_507;

/// Retries `f` while it would block (a non-blocking socket with nothing to do yet).
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> T {
    wait_for(|| match f() {
        Ok(v) => Some(v),
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => None,
        Err(e) => panic!("loopback socket: {e}"),
    })
}

/// The payload of round trip `k`: its number in the first 8 bytes, then a fixed pattern.
fn stamp(buf: &mut [u8], k: u64) {
    buf[..8].copy_from_slice(&k.to_le_bytes());
}

fn stamped(buf: &[u8]) -> u64 {
    u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"))
}

fn payload(bytes: u32) -> Vec<u8> {
    (0..bytes).map(|i| (i % 251) as u8).collect()
}

/// `n` round trips of `bytes` (at least 8) through a loopback TCP connection (`TCP_NODELAY`):
/// the client on the first core writes the payload, the server on the second reads all of it,
/// checks it, and writes one byte back. `record`: time every round trip.
pub fn tcp_round_trips(bytes: u32, n: u64, pin: Pin, record: bool) -> io::Result<Trips> {
    assert!(
        bytes >= 8,
        "tcp_round_trips: a payload carries at least its 8-byte stamp"
    );
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
    }
    let ends = Mutex::new((Some(client), Some(server)));
    let full = payload(bytes);
    let (results, parallelism) = crate::hw::run_threads(2, pin, |i| {
        let mut errors = 0u64;
        let mut buf = full.clone();
        if i == 1 {
            let mut server = ends.lock().unwrap().1.take().expect("one server");
            for k in 0..n {
                let mut got = 0;
                while got < buf.len() {
                    let r = retry(|| server.read(&mut buf[got..]));
                    assert!(r > 0, "loopback TCP: the client closed early");
                    got += r;
                }
                let whole = k == 0 || k + 1 == n;
                errors += u64::from(stamped(&buf) != k || (whole && buf[8..] != full[8..]));
                retry(|| server.write(&[1]));
            }
            return (Vec::new(), errors, Duration::ZERO);
        }
        let mut client = ends.lock().unwrap().0.take().expect("one client");
        let mut latencies = Vec::with_capacity(if record { n as usize } else { 0 });
        let start = Instant::now();
        for k in 0..n {
            stamp(&mut buf, k);
            let t0 = record.then(Instant::now);
            let mut sent = 0;
            while sent < buf.len() {
                sent += retry(|| client.write(&buf[sent..]));
            }
            let mut ack = [0u8; 1];
            let got = retry(|| client.read(&mut ack));
            if let Some(t0) = t0 {
                latencies.push(t0.elapsed().as_nanos() as u64);
            }
            errors += u64::from(got != 1);
        }
        let wall = start.elapsed();
        latencies.sort_unstable();
        (latencies, errors, wall)
    });
    let mut it = results.into_iter();
    let (latencies_ns, client_errors, wall) = it.next().expect("the client's result");
    let (_, server_errors, _) = it.next().expect("the server's result");
    Ok(Trips {
        round_trips: n,
        latencies_ns,
        stale: 0,
        errors: client_errors + server_errors,
        wall,
        parallelism,
    })
}

/// `n` round trips of `bytes` (8 to [`UDP_MAX_PAYLOAD`]) through a pair of connected loopback
/// UDP sockets: one datagram of the payload, one datagram of one byte back. `record`: time every
/// round trip.
pub fn udp_round_trips(bytes: u32, n: u64, pin: Pin, record: bool) -> io::Result<Trips> {
    assert!(
        (8..=UDP_MAX_PAYLOAD).contains(&bytes),
        "udp_round_trips: {bytes} bytes is not a UDP payload of 8 to {UDP_MAX_PAYLOAD} bytes"
    );
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    client.connect(server.local_addr()?)?;
    server.connect(client.local_addr()?)?;
    for s in [&client, &server] {
        s.set_nonblocking(true)?;
    }
    let ends = Mutex::new((Some(client), Some(server)));
    let full = payload(bytes);
    let (results, parallelism) = crate::hw::run_threads(2, pin, |i| {
        let mut errors = 0u64;
        let mut buf = full.clone();
        if i == 1 {
            let server = ends.lock().unwrap().1.take().expect("one server");
            for k in 0..n {
                let got = retry(|| server.recv(&mut buf));
                let whole = k == 0 || k + 1 == n;
                errors += u64::from(got != buf.len() || stamped(&buf) != k || (whole && buf[8..] != full[8..]));
                retry(|| server.send(&[1]));
            }
            return (Vec::new(), errors, Duration::ZERO);
        }
        let client = ends.lock().unwrap().0.take().expect("one client");
        let mut latencies = Vec::with_capacity(if record { n as usize } else { 0 });
        let start = Instant::now();
        for k in 0..n {
            stamp(&mut buf, k);
            let t0 = record.then(Instant::now);
            let sent = retry(|| client.send(&buf));
            let mut ack = [0u8; 1];
            let got = retry(|| client.recv(&mut ack));
            if let Some(t0) = t0 {
                latencies.push(t0.elapsed().as_nanos() as u64);
            }
            errors += u64::from(sent != buf.len() || got != 1);
        }
        let wall = start.elapsed();
        latencies.sort_unstable();
        (latencies, errors, wall)
    });
    let mut it = results.into_iter();
    let (latencies_ns, client_errors, wall) = it.next().expect("the client's result");
    let (_, server_errors, _) = it.next().expect("the server's result");
    Ok(Trips {
        round_trips: n,
        latencies_ns,
        stale: 0,
        errors: client_errors + server_errors,
        wall,
        parallelism,
    })
}
