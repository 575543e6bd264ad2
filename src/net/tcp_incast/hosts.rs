//! A third namespace, the senders' "hosts", behind the rig's sender side, which then forwards
//! like a switch: the senders' answers cross a veth into the sender namespace, are routed, and
//! meet the `tbf` bottleneck there. A drop at that qdisc is then a drop in the network, silent to
//! the sending socket, as at a switch port; without the hop the qdisc sits on the senders' own
//! stack and a refused packet is reported back to the socket at once.
//!
//! ```text
//!   "hosts" 10.232.N.1 ── veth ── 10.232.N.2 "sender" (forwards; tbf) 10.231.N.1 ── veth ── 10.231.N.2 "receiver"
//! ```
//!
//! Named like the rig's namespaces (`lfl<pid>x<n>h`), so a run killed outright is swept by the
//! next rig; deleted on drop (and with it the veth pair).

use std::net::Ipv4Addr;
use std::process::Command;

use crate::net::rig::{Rig, Side, PREFIX};

/// The senders' namespace, routed through the rig's sender side.
#[derive(Debug)]
pub struct Hosts {
    ns: String,
    subnet: u8,
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`{}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl Hosts {
    /// Creates the namespace, its veth into the rig's sender side, the routes both ways, and turns
    /// on forwarding in the sender side. On failure, what was made is deleted.
    pub fn new(rig: &Rig) -> Result<Hosts, String> {
        let s_ns = rig.namespace(Side::Sender);
        // The rig's names are `lfl<pid>x<n>s`: ours swaps the last letter.
        let base = s_ns.strip_suffix('s').ok_or("unexpected rig namespace name")?;
        let subnet = rig.address(Side::Sender).octets()[2];
        let hosts = Hosts {
            ns: format!("{base}h"),
            subnet,
        };
        debug_assert!(hosts.ns.starts_with(PREFIX));
        let tail = base.strip_prefix(PREFIX).ok_or("unexpected rig namespace name")?;
        let (h_if, g_if) = (format!("l{tail}h"), format!("l{tail}g"));
        let (h_ip, g_ip) = (hosts.address(), Ipv4Addr::new(10, 232, subnet, 2));
        let r_ns = rig.namespace(Side::Receiver);
        let net = format!("10.232.{subnet}.0/24");
        sh(&["ip", "netns", "add", &hosts.ns])?;
        sh(&["ip", "link", "add", &h_if, "type", "veth", "peer", "name", &g_if])?;
        sh(&["ip", "link", "set", &h_if, "netns", &hosts.ns])?;
        sh(&["ip", "link", "set", &g_if, "netns", s_ns])?;
        sh(&[
            "ip",
            "-n",
            &hosts.ns,
            "addr",
            "add",
            &format!("{h_ip}/24"),
            "dev",
            &h_if,
        ])?;
        sh(&["ip", "-n", s_ns, "addr", "add", &format!("{g_ip}/24"), "dev", &g_if])?;
        sh(&["ip", "-n", &hosts.ns, "link", "set", "lo", "up"])?;
        sh(&["ip", "-n", &hosts.ns, "link", "set", &h_if, "up"])?;
        sh(&["ip", "-n", s_ns, "link", "set", &g_if, "up"])?;
        sh(&[
            "ip",
            "-n",
            &hosts.ns,
            "route",
            "add",
            "default",
            "via",
            &g_ip.to_string(),
        ])?;
        let s_ip = rig.address(Side::Sender).to_string();
        sh(&["ip", "-n", r_ns, "route", "add", &net, "via", &s_ip])?;
        // /proc/sys/net belongs to the namespace of the thread that opens it.
        rig.spawn_in(Side::Sender, || std::fs::write("/proc/sys/net/ipv4/ip_forward", "1"))
            .join()
            .map_err(|_| "the forwarding thread panicked".to_string())?
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("turn on forwarding in {s_ns}: {e}"))?;
        Ok(hosts)
    }

    /// The senders' address.
    pub fn address(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 232, self.subnet, 1)
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Runs `f` on a new thread inside the hosts namespace.
    pub fn spawn_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<Result<T, String>> {
        let path = format!("/run/netns/{}", self.ns);
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let ns = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
            // SAFETY: `ns` is an open namespace file for the duration of the call; setns only
            // changes which network namespace this thread's future sockets are created in.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
            }
            Ok(f())
        })
    }

    /// Sets the minimum RTO on the hosts' default route (`ip route replace ... rto_min`): the
    /// senders' retransmission timer then starts from it.
    pub fn set_rto_min(&self, ms: u64) -> Result<(), String> {
        let via = Ipv4Addr::new(10, 232, self.subnet, 2).to_string();
        sh(&[
            "ip",
            "-n",
            &self.ns,
            "route",
            "replace",
            "default",
            "via",
            &via,
            "rto_min",
            &format!("{ms}ms"),
        ])
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.ns]);
    }
}
