//! # Networking, TCP & AI fabric, on the real Linux stack
//!
//! The seed animates TCP's encapsulation, handshake, congestion control and incast, and an
//! all-reduce. Here they run on the real kernel TCP stack, between two private network
//! namespaces joined by a veth link whose sending side is shaped by a `tbf` qdisc: the
//! bottleneck (see [`rig`]). Nothing leaves those namespaces or loopback.
//!
//! Creating namespaces needs root (`CAP_NET_ADMIN`). Without it, a demo that needs the rig says
//! so in one line and offers its fallback, and every fallback is labelled as built or simulated,
//! never passed off as captured.

pub mod all_reduce;
pub mod rig;
pub mod tcp_aimd;
pub mod tcp_encapsulation;
pub mod tcp_handshake;
pub mod tcp_incast;
