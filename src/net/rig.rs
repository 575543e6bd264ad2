//! The rig: two private network namespaces joined by a veth link, with a `tbf` qdisc on the
//! sender's side as the bottleneck, created for one run and always torn down.
//!
//! ```text
//!   namespace "sender"                              namespace "receiver"
//!   ┌─────────────────────────────┐                 ┌──────────────────────────┐
//!   │ 10.231.N.1   veth ─ tbf ────┼── veth link ───►┼─ veth   10.231.N.2       │
//!   │ (rate, burst, limit)        │                 │                          │
//!   └─────────────────────────────┘                 └──────────────────────────┘
//! ```
//!
//! - **Built from iproute2** (`ip netns`, `ip link`, `tc`), the tools an operator would use, so a
//!   reader can repeat every step by hand; each command and its failure are reported verbatim.
//! - **Code runs inside a namespace** on a thread that joined it ([`Rig::spawn_in`]): `setns(2)`
//!   moves only the calling thread, and every socket that thread opens lives in the namespace.
//! - **Always torn down:** on drop (so also when a run panics and unwinds), on Ctrl-C or SIGTERM
//!   (a handler deletes every live rig, then exits with 130), and, for a run killed outright
//!   (SIGKILL), by the next rig, which deletes the namespaces of rig processes that no longer
//!   exist. Deleting a namespace deletes its veth end, and with it the peer and the qdisc.
//! - **Only private addresses**, in namespaces of its own: nothing outside them is ever a target.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;

/// The prefix of every namespace the lab creates: `lfl<pid>x<n>s` / `lfl<pid>x<n>r`.
pub const PREFIX: &str = "lfl";

/// The bottleneck's shape: a token bucket on the sender's veth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rate in kbit/s.
    pub rate_kbit: u32,
    /// Bucket depth in bytes: how much may leave back to back at line rate.
    pub burst_bytes: u32,
    /// Queue limit in bytes: what waits for tokens before packets are dropped.
    pub limit_bytes: u32,
}

impl Shape {
    /// The shape a project machine showed a clean Reno sawtooth with: 20 Mbit/s, 4 kB of burst,
    /// a 30 kB queue.
    pub const SAWTOOTH: Shape = Shape {
        rate_kbit: 20_000,
        burst_bytes: 4_000,
        limit_bytes: 30_000,
    };

    /// Refuses shapes `tc` would refuse or that could not carry one full-size frame, with the
    /// accepted range in one line.
    pub fn validate(self) -> Result<Self, RigError> {
        let bad = |what: String| Err(RigError::BadShape(what));
        if !(8..=10_000_000).contains(&self.rate_kbit) {
            return bad(format!("rate {} kbit/s is outside 8..=10000000", self.rate_kbit));
        }
        // A burst smaller than one frame (1,514 bytes on the wire for a 1,500-byte MTU) would
        // hold every full-size packet forever.
        if !(1_600..=64 << 20).contains(&self.burst_bytes) {
            return bad(format!("burst {} bytes is outside 1600..=67108864", self.burst_bytes));
        }
        if !(1_600..=256 << 20).contains(&self.limit_bytes) {
            return bad(format!("limit {} bytes is outside 1600..=268435456", self.limit_bytes));
        }
        Ok(self)
    }
}

/// Why a rig could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RigError {
    /// Not root: namespaces need `CAP_NET_ADMIN`.
    NeedsRoot,
    /// `ip` or `tc` (iproute2) is not installed.
    MissingTool(&'static str),
    /// A shape outside what the rig accepts.
    BadShape(String),
    /// A setup command failed: the command and what it printed.
    Command(String),
}

impl fmt::Display for RigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RigError::NeedsRoot => write!(
                f,
                "needs root (CAP_NET_ADMIN) to create network namespaces: run it with sudo"
            ),
            RigError::MissingTool(tool) => {
                write!(f, "needs `{tool}` from iproute2 (Debian: apt-get install iproute2)")
            }
            RigError::BadShape(what) => write!(f, "bottleneck shape: {what}"),
            RigError::Command(what) => write!(f, "setting up the network rig failed: {what}"),
        }
    }
}

impl std::error::Error for RigError {}

/// One side of the rig.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The side whose egress is shaped: bulk senders live here.
    Sender,
    /// The far side, behind the bottleneck.
    Receiver,
}

/// A live rig: two namespaces, a veth link, a `tbf` bottleneck. Dropping it tears it all down.
#[derive(Debug)]
pub struct Rig {
    sender_ns: String,
    receiver_ns: String,
    sender_if: String,
    receiver_if: String,
    subnet: u32,
    shape: Shape,
}

/// Rigs made by this process and not yet torn down: the Ctrl-C handler deletes them.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
/// Distinguishes the rigs of one process (names and subnets).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether this process may create namespaces: root, or a failed check that says why not.
pub fn privileged() -> Result<(), RigError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(RigError::NeedsRoot);
    }
    for tool in ["ip", "tc"] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Err(RigError::MissingTool(tool));
        }
    }
    Ok(())
}

/// Runs one iproute2 command; its stderr becomes the error.
fn sh(args: &[&str]) -> Result<String, RigError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| RigError::Command(format!("{}: {e}", args.join(" "))))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(RigError::Command(format!(
            "`{}`: {}",
            args.join(" "),
            err.trim().replace('\n', "; ")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lab's namespaces that exist now, by name.
pub fn namespaces() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    names.sort();
    names
}

/// The pid a lab namespace name carries (`lfl<pid>x<n>s` → pid).
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('x').next()?.parse().ok()
}

/// Deletes the namespaces of lab processes that no longer exist (a run killed by SIGKILL had no
/// chance to clean up); returns the names it deleted.
pub fn sweep_stale() -> Vec<String> {
    let mut deleted = Vec::new();
    for name in namespaces() {
        let alive = owner_pid(&name).is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive && sh(&["ip", "netns", "del", &name]).is_ok() {
            deleted.push(name);
        }
    }
    deleted
}

fn tear_down(names: &[String]) {
    for name in names {
        let _ = sh(&["ip", "netns", "del", name]);
    }
}

/// Installs, once per process, the Ctrl-C / SIGTERM handler that deletes every live rig.
fn install_handler() {
    HANDLER.call_once(|| {
        // The handler runs on a thread of its own (not in signal context), so it may take the
        // lock and run `ip`. Exit code 130 is the shell's "ended by SIGINT".
        let _ = ctrlc::set_handler(|| {
            let names = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
            tear_down(&names);
            eprintln!("interrupted: the network rig was torn down");
            std::process::exit(130);
        });
    });
}

impl Rig {
    /// Creates the two namespaces, the veth link between them (addresses 10.231.N.1 and .2) and
    /// the `tbf` bottleneck on the sender's side. On any failure, what was made is deleted.
    pub fn new(shape: Shape) -> Result<Rig, RigError> {
        let shape = shape.validate()?;
        privileged()?;
        sweep_stale();
        install_handler();
        // ORDERING: Relaxed: a unique number per rig; it publishes nothing.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let rig = Rig {
            sender_ns: format!("{PREFIX}{pid}x{n}s"),
            receiver_ns: format!("{PREFIX}{pid}x{n}r"),
            // Interface names have at most 15 bytes: "l<pid>x<n>s" fits for any pid and n < 1000.
            sender_if: format!("l{pid}x{n}s"),
            receiver_if: format!("l{pid}x{n}r"),
            subnet: n % 250,
            shape,
        };
        // Registered before the first command: a Ctrl-C mid-setup deletes what exists so far
        // (deleting a namespace that was never made fails quietly).
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([rig.sender_ns.clone(), rig.receiver_ns.clone()]);
        // On an error, `rig` is dropped here, which deletes whatever was created.
        rig.build()?;
        Ok(rig)
    }

    fn build(&self) -> Result<(), RigError> {
        let (s, r) = (&self.sender_ns, &self.receiver_ns);
        let (si, ri) = (&self.sender_if, &self.receiver_if);
        sh(&["ip", "netns", "add", s])?;
        sh(&["ip", "netns", "add", r])?;
        sh(&["ip", "link", "add", si, "type", "veth", "peer", "name", ri])?;
        sh(&["ip", "link", "set", si, "netns", s])?;
        sh(&["ip", "link", "set", ri, "netns", r])?;
        let (sa, ra) = (self.address(Side::Sender), self.address(Side::Receiver));
        sh(&["ip", "-n", s, "addr", "add", &format!("{sa}/24"), "dev", si])?;
        sh(&["ip", "-n", r, "addr", "add", &format!("{ra}/24"), "dev", ri])?;
        for (ns, dev) in [(s, si), (r, ri)] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        }
        let Shape {
            rate_kbit,
            burst_bytes,
            limit_bytes,
        } = self.shape;
        sh(&[
            "tc",
            "-n",
            s,
            "qdisc",
            "add",
            "dev",
            si,
            "root",
            "tbf",
            "rate",
            &format!("{rate_kbit}kbit"),
            "burst",
            &burst_bytes.to_string(),
            "limit",
            &limit_bytes.to_string(),
        ])?;
        Ok(())
    }

    /// The IPv4 address of a side.
    pub fn address(&self, side: Side) -> std::net::Ipv4Addr {
        let host = match side {
            Side::Sender => 1,
            Side::Receiver => 2,
        };
        std::net::Ipv4Addr::new(10, 231, self.subnet as u8, host)
    }

    /// A side's namespace name (for `ip netns exec NAME ...` by hand).
    pub fn namespace(&self, side: Side) -> &str {
        match side {
            Side::Sender => &self.sender_ns,
            Side::Receiver => &self.receiver_ns,
        }
    }

    /// A side's veth interface name (inside its namespace).
    pub fn interface(&self, side: Side) -> &str {
        match side {
            Side::Sender => &self.sender_if,
            Side::Receiver => &self.receiver_if,
        }
    }

    /// The bottleneck's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Runs `f` on a new thread that has joined `side`'s namespace: every socket it opens lives
    /// there. Fails (inside the thread's result) if the namespace cannot be joined.
    pub fn spawn_in<T: Send + 'static>(
        &self,
        side: Side,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<Result<T, RigError>> {
        let path = format!("/run/netns/{}", self.namespace(side));
        std::thread::spawn(move || {
            join(&path)?;
            Ok(f())
        })
    }

    /// The qdisc statistics of the bottleneck (`tc -s qdisc show`): sent bytes and packets,
    /// drops, overlimits, as `tc` prints them.
    pub fn qdisc_stats(&self) -> Result<QdiscStats, RigError> {
        let text = sh(&[
            "tc",
            "-s",
            "-n",
            &self.sender_ns,
            "qdisc",
            "show",
            "dev",
            &self.sender_if,
        ])?;
        QdiscStats::parse(&text).ok_or_else(|| RigError::Command(format!("unexpected `tc -s qdisc` output: {text}")))
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let names = [self.sender_ns.clone(), self.receiver_ns.clone()];
        tear_down(&names);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n| !names.contains(n));
    }
}

/// Moves the calling thread into the network namespace bound at `path`.
fn join(path: &str) -> Result<(), RigError> {
    use std::os::fd::AsRawFd;
    let ns = std::fs::File::open(path).map_err(|e| RigError::Command(format!("open {path}: {e}")))?;
    // SAFETY: `ns` is an open namespace file for the duration of the call; setns only changes
    // which network namespace this thread's future sockets are created in.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(RigError::Command(format!(
            "setns {path}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// What `tc -s qdisc show` says about the bottleneck.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QdiscStats {
    /// Bytes the qdisc sent.
    pub bytes: u64,
    /// Packets the qdisc sent.
    pub packets: u64,
    /// Packets it dropped (the queue was full).
    pub dropped: u64,
    /// Times a packet had to wait for tokens.
    pub overlimits: u64,
}

impl QdiscStats {
    /// Parses `Sent 123 bytes 4 pkt (dropped 5, overlimits 6 requeues 0)` from `tc -s` output.
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().find(|l| l.trim_start().starts_with("Sent "))?;
        let words: Vec<&str> = line.split([' ', ',', '(', ')']).filter(|w| !w.is_empty()).collect();
        let after = |key: &str| -> Option<u64> {
            let i = words.iter().position(|w| *w == key)?;
            words.get(i + 1)?.parse().ok()
        };
        Some(Self {
            bytes: after("Sent")?,
            packets: words
                .iter()
                .position(|w| *w == "pkt")
                .and_then(|i| words.get(i - 1)?.parse().ok())?,
            dropped: after("dropped")?,
            overlimits: after("overlimits")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qdisc_stats_parse_tc_output() {
        let text = "qdisc tbf 8001: root refcnt 2 rate 20Mbit burst 4000b lat 12.0ms \n Sent 1234567 bytes 890 pkt (dropped 71, overlimits 455 requeues 0) \n backlog 0b 0p requeues 0\n";
        assert_eq!(
            QdiscStats::parse(text),
            Some(QdiscStats {
                bytes: 1_234_567,
                packets: 890,
                dropped: 71,
                overlimits: 455
            })
        );
        assert_eq!(QdiscStats::parse("qdisc noqueue 0: root"), None);
    }

    #[test]
    fn shapes_outside_the_accepted_range_are_refused_in_one_line() {
        assert!(Shape::SAWTOOTH.validate().is_ok());
        let slow = Shape {
            rate_kbit: 1,
            ..Shape::SAWTOOTH
        };
        let msg = slow.validate().unwrap_err().to_string();
        assert_eq!(msg, "bottleneck shape: rate 1 kbit/s is outside 8..=10000000");
        let tiny = Shape {
            burst_bytes: 100,
            ..Shape::SAWTOOTH
        };
        assert!(tiny.validate().unwrap_err().to_string().contains("burst 100 bytes"));
    }

    #[test]
    fn namespace_names_carry_their_owners_pid() {
        assert_eq!(owner_pid("lfl4242x0s"), Some(4242));
        assert_eq!(owner_pid("lfl4242x17r"), Some(4242));
        assert_eq!(owner_pid("other"), None);
        assert_eq!(owner_pid("lflx0s"), None);
    }

    #[test]
    fn the_errors_say_what_to_do() {
        assert!(RigError::NeedsRoot.to_string().contains("run it with sudo"));
        assert!(RigError::MissingTool("tc")
            .to_string()
            .contains("apt-get install iproute2"));
    }
}
