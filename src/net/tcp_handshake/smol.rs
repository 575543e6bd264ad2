//! The handshake inside smoltcp, one segment at a time: two sockets on one interface over a
//! loopback device of the lab's own that records every packet, driven with smoltcp's bounded
//! `poll_egress` (send what the sockets queued) and `poll_ingress_single` (deliver one packet), so
//! each side's state is read after every step rather than assumed.

use crate::net::tcp_encapsulation::frame::Frame;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;

/// The server's port and the client's.
pub const SERVER_PORT: u16 = 5001;
/// The client's (ephemeral) port.
pub const CLIENT_PORT: u16 = 49_152;

/// A loopback device that keeps a copy of every packet sent through it.
#[derive(Default)]
struct Recorder {
    queue: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Recorder);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let r = f(&mut packet);
        self.0.sent.push(packet.clone());
        self.0.queue.push_back(packet);
        r
    }
}

impl Device for Recorder {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.queue.pop_front()?;
        Some((Rx(packet), Tx(self)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 65_535;
        caps
    }
}

/// One thing that happened, and both sides' states right after it, as smoltcp reports them.
#[derive(Clone, Debug)]
pub struct Event {
    /// What happened (a call, a segment sent, a segment delivered).
    pub what: String,
    /// The segment sent, for a send.
    pub segment: Option<Frame>,
    /// The client's state (`SYN-SENT`…).
    pub client: String,
    /// The server's state.
    pub server: String,
}

/// Runs the handshake in smoltcp and returns every step with both states after it.
pub fn handshake() -> Vec<Event> {
    let mut dev = Recorder::default();
    // smoltcp draws its ISNs from this seed: a new one per run, so they are as random as a real
    // stack's (the default seed, 0, would give the same ISNs every run).
    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut iface = Interface::new(config, &mut dev, Instant::from_millis(0));
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
            .expect("one address fits");
    });
    let socket = || {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 4096]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        )
    };
    let mut sockets = SocketSet::new(Vec::new());
    let server = sockets.add(socket());
    let client = sockets.add(socket());
    let mut events = Vec::new();
    let snap = |sockets: &SocketSet, what: String, segment: Option<Frame>| Event {
        what,
        segment,
        client: sockets.get::<tcp::Socket>(client).state().to_string(),
        server: sockets.get::<tcp::Socket>(server).state().to_string(),
    };
    events.push(snap(&sockets, "both sockets created".into(), None));
    sockets
        .get_mut::<tcp::Socket>(server)
        .listen(SERVER_PORT)
        .expect("the port is free on a fresh interface");
    events.push(snap(&sockets, "server: listen() — a passive open".into(), None));
    sockets
        .get_mut::<tcp::Socket>(client)
        .connect(iface.context(), (IpAddress::v4(127, 0, 0, 1), SERVER_PORT), CLIENT_PORT)
        .expect("a fresh socket connects");
    events.push(snap(&sockets, "client: connect() — an active open".into(), None));
    let mut now = 0;
    for _ in 0..16 {
        now += 1;
        let at = Instant::from_millis(now);
        let before = dev.sent.len();
        iface.poll_egress(at, &mut dev, &mut sockets);
        for packet in &dev.sent[before..] {
            let f = Frame::decode_ip(packet).ok();
            let who = match &f {
                Some(f) if f.src_port == SERVER_PORT => "server",
                _ => "client",
            };
            let flags = f.as_ref().map_or(String::new(), |f| f.flag_text());
            events.push(snap(&sockets, format!("{who} sends {flags}"), f));
        }
        if dev.queue.is_empty() {
            break;
        }
        let delivered = dev.queue.front().and_then(|p| Frame::decode_ip(p).ok());
        iface.poll_ingress_single(at, &mut dev, &mut sockets);
        if let Some(f) = delivered {
            let to = if f.dst_port == SERVER_PORT { "server" } else { "client" };
            events.push(snap(&sockets, format!("{to} receives {}", f.flag_text()), None));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_of_the_handshake_is_observed_in_order() {
        let events = handshake();
        let mut client: Vec<&str> = events.iter().map(|e| e.client.as_str()).collect();
        let mut server: Vec<&str> = events.iter().map(|e| e.server.as_str()).collect();
        client.dedup();
        server.dedup();
        assert_eq!(client, ["CLOSED", "SYN-SENT", "ESTABLISHED"], "{events:#?}");
        assert_eq!(
            server,
            ["CLOSED", "LISTEN", "SYN-RECEIVED", "ESTABLISHED"],
            "{events:#?}"
        );
    }

    #[test]
    fn three_segments_and_each_ack_is_the_peers_isn_plus_one() {
        let events = handshake();
        let segs: Vec<&Frame> = events.iter().filter_map(|e| e.segment.as_ref()).collect();
        let flags: Vec<String> = segs.iter().map(|f| f.flag_text()).collect();
        assert_eq!(flags, ["SYN", "ACK|SYN", "ACK"], "{events:#?}");
        let (syn, syn_ack, ack) = (segs[0], segs[1], segs[2]);
        assert_eq!(syn_ack.ack, syn.seq.wrapping_add(1));
        assert_eq!(ack.ack, syn_ack.seq.wrapping_add(1));
        assert_eq!(ack.seq, syn.seq.wrapping_add(1));
        // The server moves to SYN-RECEIVED only when the SYN is delivered, not when it is sent.
        let sent = events.iter().position(|e| e.what == "client sends SYN").unwrap();
        assert_eq!(events[sent].server, "LISTEN");
        assert_eq!(events[sent + 1].what, "server receives SYN");
        assert_eq!(events[sent + 1].server, "SYN-RECEIVED");
    }
}
