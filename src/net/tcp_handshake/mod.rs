//! # The TCP three-way handshake: SYN, SYN-ACK, ACK, and each side's state
//!
//! Each side must show the other that it can send and receive, so each SYN needs its own ACK.
//! That would be four segments; the server's ACK rides on its own SYN (the SYN-ACK), giving
//! three. Every ack number is the next sequence number expected: the peer's initial sequence
//! number (ISN) plus one, because a SYN takes up one sequence number. Nothing can be sent until
//! the handshake is done, so a new connection costs one round trip before its first byte.
//!
//! ## What is real here
//! - **The kernel's handshake, captured** (root): a real loopback connection read off `lo` with
//!   an AF_PACKET socket (the capture of `tcp-encapsulation`), showing the real random ISNs and
//!   checking ack = ISN + 1 on both sides.
//! - **Every state observed, in-process** (no root): two sockets of smoltcp, a TCP implementation
//!   in Rust, on one interface over a loopback device that records each packet. The lab drives
//!   smoltcp one bounded step at a time (send what the sockets queued; deliver one packet) and
//!   reads both sockets' states after each step: CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED,
//!   ESTABLISHED come from smoltcp, not from a script.
//! - **The round trip it costs**: the time a blocking `connect()` takes on loopback, measured.
//!
//! The kernel's own states cannot be read segment by segment without tracing it (its sockets
//! move on in microseconds); smoltcp stands in for them and says so.

pub mod demo;
pub mod smol;
