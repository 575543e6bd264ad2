//! The kernel's share of the send path, measured on loopback sockets: a null system call, the
//! cost of one `send()` across payload sizes (one thread), and one payload from `send()` on one
//! core to the return of `recv()` on the other (two pinned threads).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{histogram, record, OneInFlight};
use crate::hw::{self, Parallelism, Pin};

/// Which loopback socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// A pair of connected UDP sockets: one datagram per payload.
    Udp,
    /// A connected TCP stream with `TCP_NODELAY`.
    Tcp,
}

impl Proto {
    /// `UDP` or `TCP`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
}

/// The idle time before each one-way payload: long enough that a blocking receiver is asleep in
/// `recv` when it comes, so every payload pays the wakeup.
pub const GAP: Duration = Duration::from_micros(20);

/// The two ends of a loopback connection.
enum Ends {
    Udp(UdpSocket, UdpSocket),
    Tcp(TcpStream, TcpStream),
}

/// A sender and a receiver socket of `proto` on 127.0.0.1, connected to each other.
fn connect(proto: Proto) -> io::Result<Ends> {
    Ok(match proto {
        Proto::Udp => {
            let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            tx.connect(rx.local_addr()?)?;
            rx.connect(tx.local_addr()?)?;
            Ends::Udp(tx, rx)
        }
        Proto::Tcp => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let tx = TcpStream::connect(listener.local_addr()?)?;
            let (rx, _) = listener.accept()?;
            for s in [&tx, &rx] {
                s.set_nodelay(true)?;
            }
            Ends::Tcp(tx, rx)
        }
    })
}

/// The sending end.
enum Tx {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl Tx {
    /// One `send()` of all of `buf` (a blocking socket with room takes it whole).
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Tx::Udp(s) => {
                let n = s.send(buf)?;
                assert_eq!(n, buf.len(), "a UDP send takes the whole datagram");
                Ok(())
            }
            Tx::Tcp(s) => s.write_all(buf),
        }
    }
}

/// The receiving end.
enum Rx {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl Rx {
    /// Receives one whole payload into `buf`: blocking, or polling a non-blocking socket.
    fn recv(&mut self, buf: &mut [u8], poll: bool) -> io::Result<()> {
        match self {
            Rx::Udp(s) => loop {
                match s.recv(buf) {
                    Ok(n) if n == buf.len() => return Ok(()),
                    Ok(n) => return Err(io::Error::other(format!("a {n}-byte datagram, {} expected", buf.len()))),
                    Err(e) if poll && e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
            Rx::Tcp(s) => {
                let mut got = 0;
                while got < buf.len() {
                    match s.read(&mut buf[got..]) {
                        Ok(0) => return Err(io::Error::other("the sender closed early")),
                        Ok(n) => got += n,
                        Err(e) if poll && e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Rx::Udp(s) => s.set_nonblocking(on),
            Rx::Tcp(s) => s.set_nonblocking(on),
        }
    }
}

fn split(ends: Ends) -> (Tx, Rx) {
    match ends {
        Ends::Udp(tx, rx) => (Tx::Udp(tx), Rx::Udp(rx)),
        Ends::Tcp(tx, rx) => (Tx::Tcp(tx), Rx::Tcp(rx)),
    }
}

/// One payload size and its `send()` times, ns.
pub type SizeCost = (usize, Histogram<u64>);

/// A payload of `bytes` with a fixed pattern (its first 16 bytes are overwritten by stamps).
pub fn payload(bytes: usize) -> Vec<u8> {
    (0..bytes).map(|i| (i % 251) as u8).collect()
}

/// `n` null system calls (`getppid`: no work in the kernel but the entry and the exit) on one
/// thread pinned as `pin` says: the mode switch's cost, ns each.
pub fn null_syscall(n: u64, pin: Pin, clock_ns: u64) -> (Histogram<u64>, Parallelism) {
    let (mut hs, par) = hw::run_threads(1, pin, |_| {
        let mut h = histogram();
        for _ in 0..n {
            let t = Instant::now();
            // SAFETY: getppid takes no arguments, touches no memory of ours and cannot fail.
            let ppid = unsafe { libc::getppid() };
            record(&mut h, t.elapsed().as_nanos() as u64, clock_ns);
            std::hint::black_box(ppid);
        }
        h
    });
    (hs.pop().expect("one thread"), par)
}

/// For each payload size of `sizes`, `n` timed `send()` calls of that many bytes on a loopback
/// `proto` socket, on one thread pinned as `pin` says; after each, untimed, the same thread
/// receives the payload, so every send finds an empty receive queue. ns per `send()`, by size.
pub fn send_costs(
    proto: Proto,
    sizes: &[usize],
    n: u64,
    pin: Pin,
    clock_ns: u64,
) -> io::Result<(Vec<SizeCost>, Parallelism)> {
    let (tx, rx) = split(connect(proto)?);
    let ends = Mutex::new(Some((tx, rx)));
    let (mut results, par) = hw::run_threads(1, pin, |_| -> io::Result<Vec<SizeCost>> {
        let (mut tx, mut rx) = ends.lock().unwrap().take().expect("one thread");
        let mut out = Vec::with_capacity(sizes.len());
        for &size in sizes {
            let buf = payload(size);
            let mut back = vec![0u8; size];
            let mut h = histogram();
            // A tenth of the calls untimed first: warm caches, grown socket buffers.
            for k in 0..n + n / 10 {
                let t = Instant::now();
                tx.send(&buf)?;
                let ns = t.elapsed().as_nanos() as u64;
                rx.recv(&mut back, false)?;
                if k >= n / 10 {
                    record(&mut h, ns, clock_ns);
                }
            }
            if back != buf {
                return Err(io::Error::other("loopback returned a different payload"));
            }
            out.push((size, h));
        }
        Ok(out)
    });
    Ok((results.pop().expect("one thread")?, par))
}

/// What a one-way run measured.
#[derive(Debug)]
pub struct OneWay {
    /// `send()` called on one core → the payload whole in the receiver's buffer on the other, ns.
    pub latency: Histogram<u64>,
    /// Payloads whose stamp or bytes were not the ones sent.
    pub errors: u64,
    /// The two threads' overlap (the sender never sleeps: its share says whether the machine was busy).
    pub parallelism: Parallelism,
}

/// `n` payloads of `bytes` (at least 16) from a sender on the first core to a receiver on the
/// second over loopback `proto`, one in flight, each after [`GAP`] of idle: the receiver blocks
/// in `recv`, or with `poll` spins on a non-blocking socket. Each payload carries its sequence
/// number and its send instant; the receiver records now − that instant.
pub fn one_way(proto: Proto, bytes: usize, n: u64, poll: bool, pin: Pin, clock_ns: u64) -> io::Result<OneWay> {
    assert!(bytes >= 16, "one_way: a payload carries a 16-byte stamp");
    let (tx, rx) = split(connect(proto)?);
    rx.set_nonblocking(poll)?;
    let ends = Mutex::new((Some(tx), Some(rx)));
    let turns = OneInFlight::default();
    let full = payload(bytes);
    let (results, parallelism) = hw::run_threads(2, pin, |i| -> io::Result<(Histogram<u64>, u64)> {
        let mut buf = full.clone();
        if i == 0 {
            let mut tx = ends.lock().unwrap().0.take().expect("one sender");
            for k in 0..n {
                turns.stamp_next(&mut buf, k, GAP);
                tx.send(&buf)?;
            }
            return Ok((histogram(), 0));
        }
        let mut rx = ends.lock().unwrap().1.take().expect("one receiver");
        let mut h = histogram();
        let mut errors = 0;
        for k in 0..n {
            rx.recv(&mut buf, poll)?;
            errors += u64::from(!turns.took(&buf, k, n, &full, &mut h, clock_ns));
        }
        Ok((h, errors))
    });
    let mut it = results.into_iter();
    let _ = it.next().expect("the sender's result")?;
    let (latency, errors) = it.next().expect("the receiver's result")?;
    Ok(OneWay {
        latency,
        errors,
        parallelism,
    })
}
