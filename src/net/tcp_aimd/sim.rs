//! The labelled simulation `--simulate` runs where the rig cannot be made (no root): the AIMD
//! model of the same bottleneck, stepped one round trip at a time. It is a model, not a
//! measurement: it shows the shape the real run measures, and its ratios are its inputs.
//!
//! Per round trip: cwnd segments are in flight; what exceeds the bandwidth-delay product queues
//! at the bottleneck and lengthens the RTT; a queue beyond the limit loses a segment, and the
//! window is cut to β·cwnd (Reno: ½, RFC 5681; CUBIC: 0.7, RFC 8312). Otherwise slow start
//! doubles cwnd below ssthresh, and congestion avoidance adds one segment (Reno) or follows
//! CUBIC's W(t) = C(t − K)³ + W_max with C = 0.4, K = ∛(W_max(1 − β)/C), never below the
//! Reno-friendly estimate (RFC 8312 §4.2, §4.3).

use super::Sample;

/// Bytes one full-size segment takes on the wire (1,448 bytes of payload with timestamps).
pub const WIRE_BYTES: f64 = 1_514.0;
/// The simulated link's base RTT: a veth pair's, about what the rig measures idle.
pub const BASE_RTT: f64 = 0.000_1;

/// What the simulation produced.
#[derive(Debug)]
pub struct Simulated {
    /// One sample per round trip.
    pub samples: Vec<Sample>,
    /// Losses (one per reduction).
    pub losses: u64,
    /// The small request's RTT without the flow (the base RTT), ms.
    pub idle_rtt_ms: f64,
    /// The small request's RTT beside the flow (mean over round trips), ms.
    pub busy_rtt_ms: f64,
}

/// Simulates `seconds` of one flow with `cc` (`reno` or `cubic`) through a link of `rate_kbit`
/// and a queue of `limit_bytes`.
pub fn simulate(cc: &str, rate_kbit: u32, limit_bytes: u32, seconds: f64) -> Simulated {
    let cubic = cc == "cubic";
    let beta = if cubic { 0.7 } else { 0.5 };
    let c = f64::from(rate_kbit) * 1000.0 / 8.0 / WIRE_BYTES; // segments per second
    let bdp = c * BASE_RTT;
    let limit = (f64::from(limit_bytes) / WIRE_BYTES).max(1.0);
    let (mut cwnd, mut ssthresh) = (10.0f64, f64::INFINITY);
    let (mut w_max, mut epoch) = (0.0f64, 0.0f64);
    let (mut t, mut losses) = (0.0, 0u64);
    let mut samples = Vec::new();
    let mut rtt_sum = 0.0;
    while t < seconds {
        let queue = (cwnd - bdp).max(0.0);
        let rtt = BASE_RTT + queue.min(limit) / c;
        let lost = queue > limit;
        samples.push(Sample {
            t,
            cwnd: cwnd.floor(),
            ssthresh,
            rtt,
            retrans: losses,
            reducing: lost,
        });
        rtt_sum += rtt;
        t += rtt;
        if lost {
            losses += 1;
            w_max = cwnd;
            epoch = t;
            cwnd = (cwnd * beta).max(2.0);
            ssthresh = cwnd;
        } else if cwnd < ssthresh {
            cwnd = (cwnd * 2.0).min(ssthresh.max(cwnd + 1.0));
        } else if cubic {
            let k = (w_max * (1.0 - beta) / 0.4).cbrt();
            let w_cubic = 0.4 * (t - epoch - k).powi(3) + w_max;
            let w_reno = w_max * beta + 3.0 * (1.0 - beta) / (1.0 + beta) * (t - epoch) / rtt;
            cwnd = w_cubic.max(w_reno).max(cwnd);
        } else {
            cwnd += 1.0;
        }
    }
    let busy = rtt_sum / samples.len().max(1) as f64;
    Simulated {
        samples,
        losses,
        idle_rtt_ms: BASE_RTT * 1e3,
        busy_rtt_ms: busy * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{additive_slope, decreases, median, Decrease};
    use super::*;

    #[test]
    fn the_simulated_reno_sawtooth_halves_and_adds_one_per_rtt() {
        let s = simulate("reno", 20_000, 30_000, 5.0);
        let d = decreases(&s.samples);
        assert!(d.len() >= 3, "{} reductions", d.len());
        let r = median(&d.iter().map(Decrease::ratio).collect::<Vec<_>>());
        assert!((r - 0.5).abs() < 0.06, "ratio {r}");
        let slope = additive_slope(&s.samples, &d).unwrap();
        assert!((slope - 1.0).abs() < 0.1, "slope {slope}");
        assert!(s.busy_rtt_ms > s.idle_rtt_ms * 10.0);
    }

    #[test]
    fn the_simulated_cubic_cuts_to_seven_tenths() {
        let s = simulate("cubic", 20_000, 30_000, 10.0);
        let d = decreases(&s.samples);
        assert!(!d.is_empty());
        let r = median(&d.iter().map(Decrease::ratio).collect::<Vec<_>>());
        assert!((r - 0.7).abs() < 0.06, "ratio {r}");
    }
}
