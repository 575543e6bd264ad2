//! A real TCP connection on loopback, captured with an AF_PACKET socket.
//!
//! The capture socket is bound to `lo` before the connection starts, so it sees the handshake,
//! the data and the close. Loopback shows every frame twice, once leaving (`PACKET_OUTGOING`) and
//! once arriving (`PACKET_HOST`): only the outgoing copy is kept. Only frames of this
//! connection's listening port are kept: nothing else on the machine is read into the output.

use super::frame::Frame;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a capture could not run.
#[derive(Debug)]
pub enum CaptureError {
    /// The AF_PACKET socket needs CAP_NET_RAW.
    NeedsRoot,
    /// Anything else, with the system's reason.
    Io(String),
}

/// What one connection put on the wire, frame by frame, in the order the capture saw them.
#[derive(Debug)]
pub struct Capture {
    /// Every frame of the connection (both directions), decoded.
    pub frames: Vec<Frame>,
    /// The listening (server) port.
    pub port: u16,
    /// The payload the client sent.
    pub payload: Vec<u8>,
}

impl Capture {
    /// The first frame carrying payload from the client.
    pub fn first_data(&self) -> Option<&Frame> {
        self.frames
            .iter()
            .find(|f| f.dst_port == self.port && f.payload_len > 0)
    }
}

/// An AF_PACKET socket bound to `lo`, reading every protocol, with a receive timeout.
fn packet_socket() -> Result<OwnedFd, CaptureError> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) with constant arguments has no memory-safety preconditions.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => CaptureError::NeedsRoot,
            _ => CaptureError::Io(format!("AF_PACKET socket: {e}")),
        });
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the name is a NUL-terminated C string literal.
    let index = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    if index == 0 {
        return Err(CaptureError::Io("no loopback interface `lo`".into()));
    }
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value before the fields are set.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = index as i32;
    // SAFETY: `addr` is a valid sockaddr_ll and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        return Err(CaptureError::Io(format!(
            "bind to lo: {}",
            std::io::Error::last_os_error()
        )));
    }
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: `timeout` is a valid timeval and the length passed is its size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    Ok(fd)
}

/// Reads one frame: its bytes and whether it was the outgoing copy. `None` on the timeout.
fn read_frame(fd: &OwnedFd, buf: &mut [u8]) -> Option<(usize, bool)> {
    // SAFETY: as above, all-zero is a valid sockaddr_ll.
    let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
    // SAFETY: `buf` is valid for `buf.len()` bytes; `from` and `len` describe a valid sockaddr_ll.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&mut from as *mut libc::sockaddr_ll).cast(),
            &mut len,
        )
    };
    (n > 0).then_some((n as usize, from.sll_pkttype == libc::PACKET_OUTGOING))
}

/// Opens a connection on loopback, sends `payload` in one write (TCP_NODELAY), closes it, and
/// returns every frame of it the capture saw.
pub fn capture(payload: &[u8]) -> Result<Capture, CaptureError> {
    let sock = packet_socket()?;
    let io = |what: &str, e: std::io::Error| CaptureError::Io(format!("{what}: {e}"));
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).map_err(|e| io("bind", e))?;
    let port = listener.local_addr().map_err(|e| io("local_addr", e))?.port();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut frames = Vec::new();
            let mut buf = vec![0u8; 1 << 17];
            let deadline = Instant::now() + Duration::from_secs(5);
            // ORDERING: Acquire [capture-done] — pairs with the Release store after the close: a
            // frame sent before it is in the socket's queue and read before this loop ends.
            while !done.load(Ordering::Acquire) && Instant::now() < deadline {
                while let Some((n, outgoing)) = read_frame(&sock, &mut buf) {
                    if !outgoing {
                        continue;
                    }
                    if let Ok(f) = Frame::decode(&buf[..n]) {
                        if f.src_port == port || f.dst_port == port {
                            frames.push(f);
                        }
                    }
                }
            }
            frames
        })
    };
    let server = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let (mut conn, _) = listener.accept()?;
        let mut got = Vec::new();
        conn.read_to_end(&mut got)?;
        Ok(got)
    });
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(|e| io("connect", e))?;
    client.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e))?;
    client.write_all(payload).map_err(|e| io("send", e))?;
    drop(client);
    let got = server
        .join()
        .map_err(|_| CaptureError::Io("the server thread panicked".into()))?
        .map_err(|e| io("recv", e))?;
    if got != payload {
        return Err(CaptureError::Io(format!(
            "the server received {} bytes, not the {} sent",
            got.len(),
            payload.len()
        )));
    }
    // Let the FIN/ACK exchange reach the capture queue, then stop the reader.
    std::thread::sleep(Duration::from_millis(200));
    // ORDERING: Release [capture-done] — see the reader's Acquire load.
    done.store(true, Ordering::Release);
    let frames = reader
        .join()
        .map_err(|_| CaptureError::Io("the capture thread panicked".into()))?;
    Ok(Capture {
        frames,
        port,
        payload: payload.to_vec(),
    })
}
