//! # TCP congestion control: the AIMD sawtooth, on the real stack
//!
//! **What it is.** TCP does not send at line rate: it probes. Slow start doubles the congestion
//! window (cwnd) every round trip; past the slow-start threshold (ssthresh) congestion avoidance
//! adds one segment per round trip (*additive increase*); a loss sets ssthresh to a fraction β of
//! cwnd and the window falls to it (*multiplicative decrease*): β = 0.5 for Reno (RFC 5681),
//! β = 0.7 for CUBIC (RFC 8312). The window over time is a sawtooth, and the queue at the
//! bottleneck fills and drains with it, so a small request sharing that queue waits behind it.
//!
//! **What is measured.** One bulk flow crosses the rig's bottleneck (a `tbf` qdisc: rate, burst,
//! queue limit) from the sender namespace to the receiver namespace, with the congestion control
//! chosen by `--cc` (`setsockopt(TCP_CONGESTION)`). A sampler reads `TCP_INFO` on the sender's
//! socket every 2 ms: cwnd, ssthresh, smoothed RTT, the retransmission counter and the
//! congestion state (Open, Disorder, CWR, Recovery, Loss). From those samples:
//! - **the halving ratio**: for every window reduction (the state leaving Open for CWR, Recovery
//!   or Loss), cwnd when the state returns to Open over cwnd just before ([`decreases`]);
//! - **the additive-increase slope**: between reductions, in congestion avoidance, cwnd against
//!   the number of round trips elapsed (Σ dt / RTT, since the RTT grows as the queue fills),
//!   fitted by least squares with one intercept per epoch ([`additive_slope`]);
//! - **the queueing delay inflicted on a small request**: a second connection sends a 64-byte
//!   request every 20 ms and times the echo, first alone, then beside the bulk flow.
//!
//! Losses are marked from two counters: the socket's retransmissions and the qdisc's drops
//! (`tc -s qdisc`, polled every 50 ms).
//!
//! **What this machine cannot show as a textbook would.** The bottleneck is a qdisc on the
//! sender's own host. A packet that the full queue refuses whole is reported to TCP at once
//! (`NET_XMIT_DROP`) and TCP cuts its window in the CWR state without a retransmission; a large
//! (GSO) packet that `tbf` splits has its overflowing segments dropped silently, and TCP finds
//! those the textbook way (SACK / duplicate ACKs, the Recovery state, a retransmission). The run
//! prints which states it saw and both counters: on the project machine the Reno run spent its
//! reductions in Recovery, with about one retransmission per qdisc drop. Either way the cut is
//! the same (ssthresh = β·cwnd). The base RTT of a veth pair is tens of microseconds, so the
//! bandwidth-delay product is about zero and the window's whole range is the queue. BBR is not
//! loss-based: it has no halving to measure, and the run says so.
//!
//! **Without root** the rig cannot be made: the run says so in one line (exit 2) and
//! `--simulate` runs the same AIMD model in a round-trip-stepped simulation ([`sim`]), labelled
//! as simulated.
//!
//! **Sources.** RFC 5681 (TCP congestion control, Reno's β = 1/2, one segment per RTT); RFC 8312
//! (CUBIC, β = 0.7); Jacobson, "Congestion Avoidance and Control", SIGCOMM 1988.

pub mod demo;
mod real;
pub mod sim;
pub mod sock;

/// One sample of the sender's window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the flow started.
    pub t: f64,
    /// Congestion window, segments.
    pub cwnd: f64,
    /// Slow-start threshold, segments (`f64::INFINITY` before the first loss).
    pub ssthresh: f64,
    /// Smoothed RTT, seconds.
    pub rtt: f64,
    /// Segments retransmitted so far.
    pub retrans: u64,
    /// True while the window is being reduced (Linux's CWR, Recovery or Loss state).
    pub reducing: bool,
}

/// One multiplicative decrease found in the samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decrease {
    /// When the reduction started, seconds.
    pub t: f64,
    /// cwnd at the last sample before it.
    pub before: f64,
    /// cwnd at the first sample after it ended.
    pub after: f64,
    /// Index of the sample that ended it.
    pub end: usize,
}

impl Decrease {
    /// after / before.
    pub fn ratio(&self) -> f64 {
        self.after / self.before
    }
}

/// The window reductions in `samples`: each starts where `reducing` turns on and ends at the
/// first sample where it is off again; a reduction still running at the end is not counted.
/// Reductions that left cwnd where it was (a ratio ≥ 0.95: a spurious CWR) are dropped.
pub fn decreases(samples: &[Sample]) -> Vec<Decrease> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < samples.len() {
        if samples[i].reducing && !samples[i - 1].reducing {
            let before = samples[i - 1].cwnd;
            let Some(end) = (i + 1..samples.len()).find(|&j| !samples[j].reducing) else {
                break;
            };
            let d = Decrease {
                t: samples[i].t,
                before,
                after: samples[end].cwnd,
                end,
            };
            if before > 0.0 && d.ratio() < 0.95 {
                out.push(d);
            }
            i = end;
        }
        i += 1;
    }
    out
}

/// The additive-increase slope, in segments per round trip: in each epoch between reductions,
/// the congestion-avoidance samples (not reducing, cwnd ≥ ssthresh) give cwnd against the round
/// trips elapsed (Σ dt / RTT); one least-squares slope is fitted over all epochs, each with its
/// own intercept. `None` without two epochs' worth of points (at least 4 points in all).
pub fn additive_slope(samples: &[Sample], cuts: &[Decrease]) -> Option<f64> {
    let mut bounds: Vec<usize> = cuts.iter().map(|d| d.end).collect();
    bounds.push(samples.len());
    let (mut sxy, mut sxx, mut n) = (0.0, 0.0, 0usize);
    let mut start = 0;
    for &end in &bounds {
        let mut pts = Vec::new();
        let mut rtts = 0.0;
        for j in start..end {
            let s = samples[j];
            if j > start && s.rtt > 0.0 {
                rtts += (s.t - samples[j - 1].t) / s.rtt;
            }
            if !s.reducing && s.cwnd >= s.ssthresh {
                pts.push((rtts, s.cwnd));
            }
        }
        if pts.len() >= 2 {
            let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
            let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
            for (x, y) in &pts {
                sxy += (x - mx) * (y - my);
                sxx += (x - mx) * (x - mx);
            }
            n += pts.len();
        }
        start = end;
    }
    (n >= 4 && sxx > 0.0).then(|| sxy / sxx)
}

/// The model's β and additive increase for a congestion control, with the source.
pub fn model(cc: &str) -> (Option<f64>, &'static str) {
    match cc {
        "reno" => (Some(0.5), "Reno: β = 0.5, +1 segment per RTT (RFC 5681)"),
        "cubic" => (
            Some(0.7),
            "CUBIC: β = 0.7 (RFC 8312); growth is a cubic of the time since the loss, not +1 per RTT",
        ),
        _ => (None, "BBR: model-based, no loss-driven halving to compare"),
    }
}

/// The `p`-th percentile (0..=100) of `v` by nearest rank; `NaN` when empty.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// The median of `v`.
pub fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic Reno sawtooth: +1 per RTT (10 ms) from `floor` to `peak`, then a reduction
    /// lasting 3 samples to `beta · peak`.
    fn sawtooth(beta: f64, peak: f64, epochs: usize, per_rtt: f64) -> Vec<Sample> {
        let rtt = 0.010;
        let mut v = Vec::new();
        let mut t = 0.0;
        let mut cwnd = peak * beta;
        let ssthresh = peak * beta;
        for _ in 0..epochs {
            while cwnd < peak {
                v.push(Sample {
                    t,
                    cwnd,
                    ssthresh,
                    rtt,
                    retrans: 0,
                    reducing: false,
                });
                t += rtt / 2.0;
                cwnd += per_rtt / 2.0;
            }
            for k in 0..3 {
                v.push(Sample {
                    t,
                    cwnd: peak - (peak - peak * beta) * (k as f64 + 1.0) / 4.0,
                    ssthresh,
                    rtt,
                    retrans: 1,
                    reducing: true,
                });
                t += rtt / 2.0;
            }
            cwnd = peak * beta;
        }
        v.push(Sample {
            t,
            cwnd,
            ssthresh,
            rtt,
            retrans: 1,
            reducing: false,
        });
        v
    }

    #[test]
    fn halvings_are_found_with_their_ratio() {
        let s = sawtooth(0.5, 40.0, 5, 1.0);
        let d = decreases(&s);
        assert_eq!(d.len(), 5);
        for x in &d {
            assert!((x.ratio() - 0.5).abs() < 0.03, "{x:?}");
        }
        let cubic = decreases(&sawtooth(0.7, 40.0, 3, 1.0));
        assert_eq!(cubic.len(), 3);
        assert!((median(&cubic.iter().map(Decrease::ratio).collect::<Vec<_>>()) - 0.7).abs() < 0.03);
    }

    #[test]
    fn a_reduction_still_running_at_the_end_and_a_spurious_one_are_not_counted() {
        let mut s = sawtooth(0.5, 20.0, 1, 1.0);
        s.pop();
        assert!(decreases(&s).is_empty());
        let flat: Vec<Sample> = (0..10)
            .map(|i| Sample {
                t: i as f64,
                cwnd: 10.0,
                ssthresh: 5.0,
                rtt: 1.0,
                retrans: 0,
                reducing: i == 4,
            })
            .collect();
        assert!(decreases(&flat).is_empty());
    }

    #[test]
    fn the_slope_fit_recovers_segments_per_rtt() {
        for per_rtt in [1.0, 2.0, 0.5] {
            let s = sawtooth(0.5, 40.0, 4, per_rtt);
            let slope = additive_slope(&s, &decreases(&s)).unwrap();
            assert!((slope - per_rtt).abs() < 0.05 * per_rtt, "{per_rtt}: {slope}");
        }
        assert_eq!(additive_slope(&[], &[]), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(median(&v), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert!(median(&[]).is_nan());
    }
}
