//! `tcp-aimd` and `tcp-incast` on the real stack: the runs produce their series and computed
//! figures, and leave no namespace behind; without root the binary refuses in one line, exit 2,
//! naming `--simulate`. Structure only: nothing here asserts a timing.
//!
//! The real-stack tests need root (`CAP_NET_ADMIN`): without it each says it skipped and why.

use lockfree_lab::lab::{self, Demo, RunOutput};
use lockfree_lab::net::rig;
use lockfree_lab::net::tcp_aimd::demo::TCP_AIMD;
use lockfree_lab::net::tcp_incast::demo::TCP_INCAST;

fn can_run(test: &str) -> bool {
    match rig::privileged() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{test}: skipped: {e} (CI runs as root and runs it)");
            false
        }
    }
}

fn run(demo: &dyn Demo, threads: usize, params: &[(&str, Option<&str>)]) -> RunOutput {
    let params: Vec<(String, Option<String>)> = params
        .iter()
        .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
        .collect();
    let cases = lab::cases(demo, None, None).unwrap();
    lab::run(demo, &cases, Some(threads), None, true, &params).unwrap()
}

fn ours_left(before: &[String]) -> Vec<String> {
    let pid = format!("{}{}x", rig::PREFIX, std::process::id());
    rig::namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&pid) && !before.contains(n))
        .collect()
}

#[test]
fn tcp_aimd_samples_the_window_and_computes_its_ratios() {
    if !can_run("tcp_aimd_samples_the_window") {
        return;
    }
    let before = rig::namespaces();
    let out = run(&TCP_AIMD, 2, &[("seconds", Some("3"))]);
    let row = &out.rows[0];
    assert_eq!(row.case, "reno", "the congestion control read back");
    let fig = |label: &str| row.figures.iter().find(|f| f.label == label).unwrap().clone();
    let cwnd = &out.series[0];
    assert!(cwnd.name.starts_with("cwnd"), "{}", cwnd.name);
    // 3 s sampled every 2 ms: hundreds of samples even on a loaded machine.
    assert!(cwnd.points.len() > 100, "{} samples", cwnd.points.len());
    assert!(cwnd.points.iter().all(|p| p.1 >= 1.0));
    // A 30 kB queue at 20 Mbit/s overflows within a second: the flow must have been cut, and the
    // ratio computed from the cuts.
    assert!(fig("window reductions").value >= 1.0, "{:?}", row.figures);
    let ratio = fig("halving ratio (median)").value;
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    assert!(fig("small req RTT alone (ms)").value > 0.0);
    assert!(out.series.iter().any(|s| s.name.starts_with("qdisc drops")));
    assert!(ours_left(&before).is_empty(), "left behind: {:?}", ours_left(&before));
}

#[test]
fn tcp_incast_sweeps_n_and_leaves_no_namespace() {
    if !can_run("tcp_incast_sweeps_n") {
        return;
    }
    let before = rig::namespaces();
    let out = run(
        &TCP_INCAST,
        1,
        &[("senders", Some("3")), ("rounds", Some("1")), ("block", Some("16384"))],
    );
    assert_eq!(out.rows.len(), 3, "N = 1, 2, 3");
    let goodput = &out.series[0];
    assert_eq!(goodput.points.iter().map(|p| p.0).collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
    assert!(goodput.points.iter().all(|p| p.1 > 0.0 && p.1.is_finite()));
    assert!(out.notes.iter().any(|n| n.contains("Vasudevan")));
    // The hosts namespace goes with the rig's two.
    assert!(ours_left(&before).is_empty(), "left behind: {:?}", ours_left(&before));
}

#[test]
fn tcp_incast_lowers_the_senders_rto_on_the_route() {
    if !can_run("tcp_incast_lowers_the_senders_rto") {
        return;
    }
    let out = run(
        &TCP_INCAST,
        1,
        &[("senders", Some("1")), ("rounds", Some("1")), ("rto-min", Some("10"))],
    );
    let rto = out.rows[0]
        .figures
        .iter()
        .find(|f| f.label == "sender RTO (ms)")
        .unwrap();
    // Linux's RTO is at least 200 ms unless the route's rto_min took.
    assert!(rto.value < 200.0, "{rto:?}");
}

#[test]
fn without_root_the_binary_refuses_in_one_line_and_names_simulate() {
    // Needs root to drop to an unprivileged user; setpriv comes with util-linux.
    if !can_run("without_root_the_binary_refuses") {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("lockfree-lab");
    for demo in ["tcp-aimd", "tcp-incast"] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["run", demo])
            .output()
            .expect("setpriv runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{demo}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{demo}: {err}");
        assert!(err.contains(&format!("{demo} --simulate")), "{err}");
        let sim = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["run", demo, "--simulate", "--json"])
            .output()
            .unwrap();
        assert!(
            sim.status.success(),
            "{demo} --simulate: {}",
            String::from_utf8_lossy(&sim.stderr)
        );
        assert!(String::from_utf8_lossy(&sim.stdout).contains("SIMULATED"));
    }
}
