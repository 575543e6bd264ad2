//! One frame, layer by layer: decoded with etherparse, its checksums recomputed and classified,
//! or built by etherparse from a connection's parameters when a capture is not possible.

use etherparse::{Ethernet2HeaderSlice, Ipv4HeaderSlice, PacketBuilder, TcpSlice};
use std::net::Ipv4Addr;

/// Where a frame came from: the two must never be confused in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read off the loopback interface with an AF_PACKET socket: the kernel's own bytes.
    Captured,
    /// Built by etherparse from a real connection's addresses and ports: the sequence numbers and
    /// checksums are etherparse's, not the kernel's.
    Built,
}

impl Origin {
    /// How the output labels it.
    pub fn label(self) -> &'static str {
        match self {
            Origin::Captured => "captured on lo (AF_PACKET)",
            Origin::Built => "built with etherparse from the connection's parameters, not captured",
        }
    }
}

/// What a TCP checksum field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The full checksum over the pseudo-header, header and payload: it verifies.
    Complete,
    /// Only the pseudo-header's folded sum, left for the NIC to finish (checksum offload,
    /// Linux's CHECKSUM_PARTIAL): on loopback nobody finishes it, and nobody needs to.
    Partial,
    /// Neither: a corrupt segment.
    Wrong,
}

/// The layers of one Ethernet/IPv4/TCP frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The whole frame as it was captured or built.
    pub bytes: Vec<u8>,
    /// Ethernet: destination and source MAC, EtherType.
    pub eth_dst: [u8; 6],
    /// Source MAC.
    pub eth_src: [u8; 6],
    /// EtherType (0x0800 for IPv4).
    pub ether_type: u16,
    /// IPv4 header length in bytes.
    pub ip_header_len: usize,
    /// IPv4 total length: header plus TCP segment.
    pub ip_total_len: u16,
    /// Time to live.
    pub ttl: u8,
    /// The IPv4 identification field.
    pub ip_id: u16,
    /// Don't-fragment flag.
    pub dont_fragment: bool,
    /// The header checksum field, and whether it verifies.
    pub ip_checksum: (u16, bool),
    /// Source and destination addresses.
    pub ip_src: Ipv4Addr,
    /// Destination address.
    pub ip_dst: Ipv4Addr,
    /// TCP ports.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence and acknowledgment numbers.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// TCP header length in bytes (20 plus options).
    pub tcp_header_len: usize,
    /// The flags set, in wire order (`SYN`, `ACK`, `PSH`, `FIN`…).
    pub flags: Vec<&'static str>,
    /// Advertised window (unscaled, as on the wire).
    pub window: u16,
    /// The checksum field, the full checksum recomputed, and what the field holds.
    pub tcp_checksum: (u16, u16, Checksum),
    /// Payload bytes.
    pub payload_len: usize,
    /// The first payload bytes (up to 32), for display.
    pub payload_head: Vec<u8>,
}

/// The one's-complement sum of the IPv4 pseudo-header for a TCP segment of `tcp_len` bytes,
/// folded to 16 bits: what Linux leaves in the checksum field for the NIC to finish.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: u16) -> u16 {
    let mut sum: u32 = 0;
    for pair in src.octets().chunks(2).chain(dst.octets().chunks(2)) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    sum += 6; // the protocol number, TCP
    sum += u32::from(tcp_len);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

impl Frame {
    /// Decodes an Ethernet II / IPv4 / TCP frame; anything else is `Err` with what it is.
    pub fn decode(bytes: &[u8]) -> Result<Frame, String> {
        let eth = Ethernet2HeaderSlice::from_slice(bytes).map_err(|e| format!("ethernet: {e}"))?;
        if eth.ether_type().0 != 0x0800 {
            return Err(format!("not IPv4 (EtherType {:#06x})", eth.ether_type().0));
        }
        let mut f = Self::decode_ip(&bytes[14..])?;
        f.bytes = bytes.to_vec();
        f.eth_dst = eth.destination();
        f.eth_src = eth.source();
        Ok(f)
    }

    /// Decodes a bare IPv4 / TCP packet (an IP-medium device's, no link header): the Ethernet
    /// fields are zero and `bytes` is the IP packet.
    pub fn decode_ip(ip_bytes: &[u8]) -> Result<Frame, String> {
        let ip = Ipv4HeaderSlice::from_slice(ip_bytes).map_err(|e| format!("ipv4: {e}"))?;
        if ip.protocol().0 != 6 {
            return Err(format!("not TCP (IP protocol {})", ip.protocol().0));
        }
        let ip_header_len = usize::from(ip.ihl()) * 4;
        let total = usize::from(ip.total_len()).min(ip_bytes.len());
        let tcp = TcpSlice::from_slice(&ip_bytes[ip_header_len..total]).map_err(|e| format!("tcp: {e}"))?;
        let header = ip.to_header();
        let ip_ok = header.calc_header_checksum() == ip.header_checksum();
        let full = tcp
            .calc_checksum_ipv4(ip.source(), ip.destination())
            .map_err(|e| format!("tcp checksum: {e}"))?;
        let field = tcp.checksum();
        let partial = pseudo_header_sum(ip.source_addr(), ip.destination_addr(), (total - ip_header_len) as u16);
        let class = if field == full {
            Checksum::Complete
        } else if field == partial {
            Checksum::Partial
        } else {
            Checksum::Wrong
        };
        let mut flags = Vec::new();
        for (set, name) in [
            (tcp.cwr(), "CWR"),
            (tcp.ece(), "ECE"),
            (tcp.urg(), "URG"),
            (tcp.ack(), "ACK"),
            (tcp.psh(), "PSH"),
            (tcp.rst(), "RST"),
            (tcp.syn(), "SYN"),
            (tcp.fin(), "FIN"),
        ] {
            if set {
                flags.push(name);
            }
        }
        let payload = tcp.payload();
        Ok(Frame {
            bytes: ip_bytes.to_vec(),
            eth_dst: [0; 6],
            eth_src: [0; 6],
            ether_type: 0x0800,
            ip_header_len,
            ip_total_len: ip.total_len(),
            ttl: ip.ttl(),
            ip_id: ip.identification(),
            dont_fragment: ip.dont_fragment(),
            ip_checksum: (ip.header_checksum(), ip_ok),
            ip_src: ip.source_addr(),
            ip_dst: ip.destination_addr(),
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            tcp_header_len: usize::from(tcp.data_offset()) * 4,
            flags,
            window: tcp.window_size(),
            tcp_checksum: (field, full, class),
            payload_len: payload.len(),
            payload_head: payload[..payload.len().min(32)].to_vec(),
        })
    }

    /// Builds the frame a data segment of `payload` from `src` to `dst` would be, with etherparse
    /// (zero MACs, as on loopback; TTL 64 as Linux's default; the given sequence numbers).
    pub fn build(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), seq: u32, ack: u32, payload: &[u8]) -> Frame {
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4(src.0.octets(), dst.0.octets(), 64)
            .tcp(src.1, dst.1, seq, 65_483)
            .ack(ack)
            .psh();
        let mut bytes = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut bytes, payload)
            .expect("a payload under 64 KiB always fits an IPv4 packet");
        Frame::decode(&bytes).expect("etherparse decodes what it built")
    }

    /// The flags as `ACK|PSH`.
    pub fn flag_text(&self) -> String {
        self.flags.join("|")
    }

    /// Header bytes the three layers add on top of the payload.
    pub fn overhead(&self) -> usize {
        14 + self.ip_header_len + self.tcp_header_len
    }
}

/// A MAC address as `00:00:00:00:00:00`.
pub fn mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Bytes as hex, 16 per line, each line prefixed by its offset.
pub fn hexdump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, line)| {
            let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:04x}  {}", i * 16, hex.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 0, 1), 40_000);
    const B: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 0, 1), 5_001);

    #[test]
    fn a_built_frame_decodes_layer_by_layer_and_its_checksums_verify() {
        let f = Frame::build(A, B, 1_000, 2_000, b"hello, lab");
        assert_eq!(f.ether_type, 0x0800);
        assert_eq!((f.ip_header_len, f.tcp_header_len), (20, 20));
        assert_eq!(usize::from(f.ip_total_len), 20 + 20 + 10);
        assert_eq!(f.bytes.len(), 14 + 20 + 20 + 10);
        assert_eq!(f.overhead(), 54);
        assert_eq!((f.src_port, f.dst_port, f.seq, f.ack), (40_000, 5_001, 1_000, 2_000));
        assert_eq!(f.flag_text(), "ACK|PSH");
        assert_eq!(f.ttl, 64);
        assert!(f.ip_checksum.1, "the IPv4 header checksum verifies");
        assert_eq!(f.tcp_checksum.2, Checksum::Complete);
        assert_eq!(f.payload_head, b"hello, lab");
    }

    #[test]
    fn a_checksum_field_holding_the_pseudo_header_sum_is_partial_and_a_flipped_bit_is_wrong() {
        let f = Frame::build(A, B, 1, 1, b"0123456789");
        let at = 14 + 20 + 16; // the TCP checksum field
        let mut partial = f.bytes.clone();
        let sum = pseudo_header_sum(A.0, B.0, 30);
        partial[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(Frame::decode(&partial).unwrap().tcp_checksum.2, Checksum::Partial);
        let mut wrong = f.bytes.clone();
        wrong[at] ^= 0x40;
        assert_eq!(Frame::decode(&wrong).unwrap().tcp_checksum.2, Checksum::Wrong);
        let mut payload_flip = f.bytes.clone();
        *payload_flip.last_mut().unwrap() ^= 1;
        assert_eq!(Frame::decode(&payload_flip).unwrap().tcp_checksum.2, Checksum::Wrong);
    }

    #[test]
    fn the_pseudo_header_sum_folds_the_carry() {
        // 127.0.0.1 twice: 0x7f00 + 0x0001 + 0x7f00 + 0x0001 + 6 + len.
        assert_eq!(pseudo_header_sum(A.0, B.0, 30), 0x7f00 * 2 + 2 + 6 + 30);
        let ones = Ipv4Addr::new(255, 255, 255, 255);
        // 4 * 0xffff + 6 + 0xffff = 0x5_0001, folded: 0x0001 + 0x5.
        assert_eq!(pseudo_header_sum(ones, ones, 0xffff), 0x0006);
    }

    #[test]
    fn what_is_not_ipv4_tcp_is_refused_with_what_it_is() {
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert!(Frame::decode(&arp).unwrap_err().contains("0x0806"));
        assert!(Frame::decode(&[0; 5]).unwrap_err().starts_with("ethernet"));
    }

    #[test]
    fn hexdump_prints_offsets_and_sixteen_bytes_a_line() {
        let dump = hexdump(&(0u8..20).collect::<Vec<_>>());
        assert_eq!(
            dump,
            "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n0010  10 11 12 13"
        );
    }
}
