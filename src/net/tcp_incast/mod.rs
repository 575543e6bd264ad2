//! # TCP incast: many senders, one small buffer, and the 200 ms cliff
//!
//! **What it is.** In a data centre, one client asks N servers for a block each (a distributed
//! read, a partition-aggregate query) and waits for all of them before its next request (a
//! barrier). The N answers leave at the same instant and meet at the switch port in front of the
//! client. While they fit in the port's buffer, goodput grows with N; once they do not, the tail
//! of several flows is dropped, a flow whose tail is lost gets no duplicate ACKs to recover by,
//! and it waits for its retransmission timeout, at least 200 ms on Linux (`TCP_RTO_MIN`), while
//! the link sits idle: goodput collapses by an order of magnitude. Vasudevan et al., "Safe and
//! Effective Fine-grained TCP Retransmissions for Datacenter Communication", SIGCOMM 2009,
//! measured throughput "reduced by up to 90%" and fixed it with microsecond RTOs; a bigger
//! buffer moves the cliff to a larger N at the price of queueing delay.
//!
//! **What is measured.** N sender threads in the rig's sender namespace each hold a TCP
//! connection from one receiver in the receiver namespace. A round: the receiver writes a small
//! request to every connection back to back, every sender answers with `--block` bytes at once,
//! and the receiver reads all N answers before the next round (the barrier). The answers cross the
//! rig's bottleneck (`tbf`, `--rate-kbit`, queue `--buffer` bytes). Per N: the goodput (bytes
//! delivered over the rounds' total time), the rounds that stalled (took at least the ideal time
//! plus the minimum RTO: [`is_stall`]), the qdisc's drops and the senders' retransmissions
//! (`TCP_INFO`). The cliff is the smallest N from which the median round's goodput stays below
//! half the best of any smaller N ([`cliff`]), marked on the plot. Toggles: `--big-buffer` (a 16× queue) and
//! `--rto-min MS` (set on the senders' route, `ip route ... rto_min`; the senders' RTO as
//! `TCP_INFO` reports it is printed, so the setting is seen to take).
//!
//! **Why the extra hop.** A first version put the senders in the rig's sender namespace, on the
//! same stack as the `tbf`. There a packet the full queue refuses whole is reported back to the
//! socket (`NET_XMIT_DROP`) instead of being lost; a socket left with nothing in flight then
//! waits for the probe timer, whose floor is the kernel's fixed 200 ms `TCP_RTO_MIN` whatever the
//! route says, so lowering `rto_min` changed nothing (measured: the N = 3 round took 228 ms with
//! `--rto-min 10`). Forwarded through a namespace of their own, the senders lose packets as
//! they would at a switch: silently, found by duplicate ACKs or the retransmission timer.
//!
//! **What this machine cannot show.** A veth's base RTT is tens of microseconds, not a data
//! centre's hundreds, and every "host" shares two cores; the cliff's N depends on the buffer and
//! the initial window (10 segments per answer's first flight), as in the paper.
//!
//! **Without root** the rig cannot be made: the run says so in one line (exit 2), and
//! `--simulate` runs a labelled round-trip-stepped model of the same port ([`sim`]).

pub mod demo;
pub mod hosts;
mod real;
pub mod sim;

/// Whether a round stalled on a retransmission timeout: it took at least the minimum RTO (a
/// flow that times out waits that long from its loss, while the others' data still flows, so
/// the RTO overlaps the transfer rather than adding to it) and at least 1.5 times its ideal time
/// (the bytes at the bottleneck's rate), so that a long round is not mistaken for a stall.
pub fn is_stall(round_s: f64, ideal_s: f64, rto_min_s: f64) -> bool {
    round_s >= rto_min_s && round_s >= 1.5 * ideal_s
}

/// The incast cliff: the smallest N from which goodput stays below `fraction` of the best
/// goodput at any smaller N, for every larger N too (a sustained collapse, so that one noisy
/// round trip at a small N on a busy machine is not taken for the cliff). `points` are
/// `(N, goodput)` in increasing N.
pub fn cliff(points: &[(f64, f64)], fraction: f64) -> Option<f64> {
    let mut best = f64::NEG_INFINITY;
    for (i, &(n, g)) in points.iter().enumerate() {
        if best > 0.0 && points[i..].iter().all(|&(_, later)| later < fraction * best) {
            return Some(n);
        }
        best = best.max(g);
    }
    None
}

/// The sender counts a sweep visits: `fine` visits every N up to `max`, else a coarse ladder.
pub fn sweep(max: usize, fine: bool) -> Vec<usize> {
    if fine {
        return (1..=max).collect();
    }
    let ladder = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
    let mut v: Vec<usize> = ladder.iter().copied().filter(|&n| n < max).collect();
    v.push(max);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cliff_is_the_first_collapse_below_half_the_best() {
        let pts = [(1.0, 90.0), (2.0, 95.0), (4.0, 96.0), (6.0, 30.0), (8.0, 12.0)];
        assert_eq!(cliff(&pts, 0.5), Some(6.0));
        let flat = [(1.0, 90.0), (2.0, 80.0), (4.0, 70.0)];
        assert_eq!(cliff(&flat, 0.5), None);
        // A dip that recovers is noise, not the cliff; the sustained collapse after it is.
        let noisy = [
            (1.0, 50.0),
            (2.0, 20.0),
            (3.0, 80.0),
            (4.0, 86.0),
            (6.0, 14.0),
            (8.0, 16.0),
        ];
        assert_eq!(cliff(&noisy, 0.5), Some(6.0));
        assert_eq!(cliff(&[(1.0, 50.0), (2.0, 20.0), (3.0, 60.0)], 0.5), None);
        assert_eq!(cliff(&[], 0.5), None);
    }

    #[test]
    fn a_stall_is_a_round_that_waited_a_whole_minimum_rto() {
        assert!(is_stall(0.213, 0.017, 0.200));
        assert!(!is_stall(0.150, 0.010, 0.200));
        // A round that is long only because it carries much data.
        assert!(!is_stall(0.400, 0.357, 0.200));
        assert!(is_stall(0.021, 0.010, 0.010));
        assert!(!is_stall(0.012, 0.010, 0.010));
    }

    #[test]
    fn the_sweep_ends_at_the_maximum() {
        assert_eq!(sweep(16, false), vec![1, 2, 3, 4, 6, 8, 12, 16]);
        assert_eq!(sweep(5, false), vec![1, 2, 3, 4, 5]);
        assert_eq!(sweep(3, true), vec![1, 2, 3]);
        assert_eq!(sweep(1, false), vec![1]);
    }
}
