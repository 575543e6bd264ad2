//! tcp-encapsulation and tcp-handshake for real: a loopback connection captured off `lo` (root), and the one-line
//! refusal, with the fallback named, for a user who is not root.

use assert_cmd::Command;
use lockfree_lab::net::tcp_encapsulation::capture::{capture, CaptureError};
use lockfree_lab::net::tcp_encapsulation::frame::Checksum;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_captured_connection_shows_the_handshake_the_data_a_partial_checksum_and_one_big_frame() {
    if !is_root() {
        eprintln!("skipped: capturing on lo needs root (CAP_NET_RAW); CI runs as root and runs it");
        return;
    }
    let payload = vec![0x5a; 12_000];
    let cap = match capture(&payload) {
        Ok(c) => c,
        Err(CaptureError::NeedsRoot) => panic!("root was refused an AF_PACKET socket"),
        Err(CaptureError::Io(e)) => panic!("{e}"),
    };
    // The handshake: SYN from the client, SYN-ACK from the server, and the ack numbers that
    // acknowledge each ISN plus one.
    let syn = cap.frames.iter().find(|f| f.flag_text() == "SYN").expect("a SYN");
    let syn_ack = cap
        .frames
        .iter()
        .find(|f| f.flag_text() == "ACK|SYN")
        .expect("a SYN-ACK");
    assert_eq!(syn.dst_port, cap.port);
    assert_eq!(syn_ack.ack, syn.seq.wrapping_add(1));
    // The data: one frame carries all 12,000 bytes (lo's MTU is 64 KiB: GSO never cuts it), its
    // TCP checksum holds only the pseudo-header sum (offload), its IP checksum verifies.
    let data: Vec<_> = cap
        .frames
        .iter()
        .filter(|f| f.dst_port == cap.port && f.payload_len > 0)
        .collect();
    assert_eq!(
        data.len(),
        1,
        "{:?}",
        data.iter().map(|f| f.payload_len).collect::<Vec<_>>()
    );
    let d = data[0];
    assert_eq!(d.payload_len, 12_000);
    assert_eq!(usize::from(d.ip_total_len), 12_000 + d.ip_header_len + d.tcp_header_len);
    assert_eq!(d.tcp_checksum.2, Checksum::Partial, "{:?}", d.tcp_checksum);
    assert!(d.ip_checksum.1);
    assert_eq!(
        d.seq,
        syn.seq.wrapping_add(1),
        "the first data byte follows the SYN's ISN"
    );
    // The close: a FIN from each side.
    assert_eq!(cap.frames.iter().filter(|f| f.flags.contains(&"FIN")).count(), 2);
}

#[test]
fn without_root_the_run_says_why_in_one_line_and_names_the_fallback() {
    if !is_root() {
        eprintln!("skipped: needs root to run the lab as another user; CI runs as root and runs it");
        return;
    }
    let lab = assert_cmd::cargo::cargo_bin("lockfree-lab");
    // The binary sits under a root-owned target dir that `nobody` may not traverse: run a copy.
    let dir = std::env::temp_dir().join(format!("lfl-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("lockfree-lab");
    std::fs::copy(&lab, &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = |args: &[&str]| {
        let mut all = vec![
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            copy.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        Command::new("setpriv").args(all).output().unwrap()
    };
    let out = nobody(&["run", "tcp-encapsulation"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("needs root") && err.contains("--built"), "{err}");
    // The fallback works for that user, and says what it is.
    let out = nobody(&["run", "tcp-encapsulation", "--built"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("built with etherparse") && text.contains("not captured"),
        "{text}"
    );
    // tcp-handshake needs no root for smoltcp's handshake, and says what it left out.
    let out = nobody(&["run", "tcp-handshake", "--iterations", "20"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("smoltcp: server sends ACK|SYN"), "{text}");
    assert!(!text.contains("kernel: SYN") && text.contains("needs root"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn misuse_is_one_line() {
    let lab = || Command::cargo_bin("lockfree-lab").unwrap();
    for (args, needle) in [
        (
            &["run", "tcp-encapsulation", "--variant", "broken"][..],
            "no broken/fixed variants",
        ),
        (&["run", "tcp-encapsulation", "--bytes", "0"][..], "--bytes"),
        (&["run", "tcp-encapsulation", "--bytes", "70000"][..], "--bytes"),
        (&["check", "tcp-encapsulation"][..], "nothing for a model checker"),
        (
            &["run", "tcp-handshake", "--variant", "fixed"][..],
            "no broken/fixed variants",
        ),
        (&["run", "tcp-handshake", "--iterations", "100001"][..], "--iterations"),
    ] {
        let out = lab().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
