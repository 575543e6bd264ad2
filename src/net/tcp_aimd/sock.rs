//! The two socket options the TCP demos read and set: `TCP_INFO` (the kernel's view of one
//! connection: cwnd, ssthresh, RTT, retransmissions, congestion state) and `TCP_CONGESTION`.

use std::os::fd::AsRawFd;

/// What one `getsockopt(TCP_INFO)` said, in the units the demos use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Info {
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Slow-start threshold, in segments (`u32::MAX >> 1` or more: not set yet, "infinite").
    pub ssthresh: u32,
    /// Smoothed RTT, in microseconds.
    pub rtt_us: u32,
    /// Retransmission timeout, in microseconds.
    pub rto_us: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// Linux's congestion-avoidance state: 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss.
    pub ca_state: u8,
    /// Maximum segment size, bytes.
    pub mss: u32,
}

/// The threshold Linux reports before the first loss (`TCP_INFINITE_SSTHRESH` = 0x7fffffff).
pub const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// `ca_state` names, for the notes.
pub const CA_STATES: [&str; 5] = ["Open", "Disorder", "CWR", "Recovery", "Loss"];

/// Reads `TCP_INFO` from a connected TCP socket.
pub fn tcp_info(sock: &impl AsRawFd) -> std::io::Result<Info> {
    // SAFETY: tcp_info is plain old data (integers only): the all-zero value is valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes and `len` is a valid in/out length; the kernel
    // writes at most `len` bytes and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Info {
        cwnd: info.tcpi_snd_cwnd,
        ssthresh: info.tcpi_snd_ssthresh,
        rtt_us: info.tcpi_rtt,
        rto_us: info.tcpi_rto,
        total_retrans: info.tcpi_total_retrans,
        ca_state: info.tcpi_ca_state,
        mss: info.tcpi_snd_mss,
    })
}

/// Sets the socket's congestion control (`reno`, `cubic`, `bbr`).
pub fn set_congestion(sock: &impl AsRawFd, name: &str) -> std::io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, which live across the call; the
    // kernel only reads them.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Reads back the socket's congestion control.
pub fn congestion(sock: &impl AsRawFd) -> std::io::Result<String> {
    let mut buf = [0u8; 16];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes; the kernel writes at most that and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bytes = &buf[..(len as usize).min(buf.len())];
    Ok(String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string())
}

/// The congestion controls this kernel offers (`/proc/sys/net/ipv4/tcp_available_congestion_control`).
pub fn available_congestion() -> Vec<String> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Sets `TCP_NODELAY` (a small request leaves at once, not after Nagle's wait).
pub fn set_nodelay(sock: &std::net::TcpStream) -> std::io::Result<()> {
    sock.set_nodelay(true)
}

/// The load average's first figure (`/proc/loadavg`), printed next to every measurement.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn tcp_info_reads_a_live_loopback_connection() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let info = tcp_info(&c).unwrap();
        // A fresh connection: the initial window (10 on Linux since 2.6.39) and no retransmissions.
        assert!(info.cwnd >= 1, "{info:?}");
        assert!(info.mss > 0, "{info:?}");
        assert_eq!(info.total_retrans, 0);
        let available = available_congestion();
        if available.iter().any(|c| c == "reno") {
            set_congestion(&c, "reno").unwrap();
            assert_eq!(congestion(&c).unwrap(), "reno");
        }
        assert!(set_congestion(&c, "no-such-cc").is_err());
    }
}
