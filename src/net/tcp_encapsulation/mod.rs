//! # TCP encapsulation, captured: your bytes, then TCP, IP and Ethernet in front of them
//!
//! `send(fd, buf, len)` hands the kernel only the payload. On the way down, TCP puts 20 bytes
//! (plus options: 12 more for timestamps on Linux) in front with the ports, sequence and
//! acknowledgment numbers, the window and a checksum; IP puts 20 with the addresses, the TTL, the
//! total length and a header checksum; the link layer puts 14 with the MAC addresses and the
//! EtherType; a NIC appends a 4-byte FCS and sends a preamble before it and a gap after it.
//!
//! ## What is real here
//! The demo opens a real TCP connection on loopback and reads its frames off `lo` with an
//! AF_PACKET socket (root: `CAP_NET_RAW`), then decodes them with etherparse, layer by layer, and
//! recomputes every checksum. `step` walks the captured data segment down the seed's six layers
//! with its real bytes.
//!
//! ## What the real stack shows that the textbook does not
//! - **The TCP checksum is not there.** The field holds only the folded sum of the pseudo-header
//!   (addresses, protocol, length): Linux leaves the rest for the NIC to finish (checksum
//!   offload, `CHECKSUM_PARTIAL`), and on loopback nobody finishes it because nothing can corrupt
//!   it. The demo proves which it is: the field equals the pseudo-header sum and not the full
//!   checksum it recomputes.
//! - **One `send()` of 12,000 bytes is one "frame".** `lo`'s MTU is 65,536, and segmentation
//!   offload (GSO/TSO) would cut the segment at a real NIC's 1,500-byte MTU only at the driver or
//!   in the NIC itself. The capture shows one IP packet of 12,052 bytes where a wire would carry
//!   nine.
//! - **Loopback has no wire.** No FCS, no preamble, no inter-frame gap, MAC addresses of zero:
//!   the 802.3 framing a real NIC adds is printed as cited constants, apart from what was read.
//!
//! ## Without root
//! `run tcp-encapsulation --built` makes the same frames with etherparse from a real connection's
//! addresses and ports, labelled *built, not captured*: their sequence numbers and complete
//! checksums are etherparse's, and they cannot show offload.

pub mod capture;
pub mod demo;
pub mod frame;
