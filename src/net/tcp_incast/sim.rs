//! The labelled simulation `--simulate` runs where the rig cannot be made (no root): a model of
//! N synchronised answers meeting at one port, stepped one round trip at a time. A model, not a
//! measurement: it shows the mechanism the real run measures.
//!
//! Each round trip, every flow that is not waiting for a timeout sends min(cwnd, what it has
//! left) segments (initial window 10, RFC 6928; doubling per round trip in slow start). The
//! segments of the N flows arrive interleaved, faster than the port drains them, so the port
//! keeps the first `buffer` segments (plus the one on the wire) and drops the rest: the tails. A
//! flow that lost its tail gets no duplicate ACKs, so it waits a minimum RTO and restarts from
//! one segment (RFC 6298's timeout; Linux's floor is 200 ms).

/// Payload bytes per segment (1,500-byte MTU, TCP timestamps on).
pub const MSS: f64 = 1_448.0;
/// Bytes a full segment takes on the wire.
pub const WIRE_BYTES: f64 = 1_514.0;
/// The simulated base RTT (a veth pair's order of magnitude).
pub const BASE_RTT: f64 = 0.000_1;

/// One simulated round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Round {
    /// The round's time, seconds.
    pub seconds: f64,
    /// Segments the port dropped.
    pub drops: u64,
    /// Timeouts the flows waited.
    pub timeouts: u64,
}

/// Simulates one round of `n` senders answering `block` bytes each through a port of
/// `rate_kbit` with `buffer_bytes` of queue; a timed-out flow waits `rto_min` seconds.
pub fn round(n: usize, block: usize, rate_kbit: u32, buffer_bytes: u32, rto_min: f64) -> Round {
    let c = f64::from(rate_kbit) * 1000.0 / 8.0 / WIRE_BYTES; // segments per second
    let room = (f64::from(buffer_bytes) / WIRE_BYTES).floor() as u64 + 1;
    let per_flow = (block as f64 / MSS).ceil() as u64;
    let mut left = vec![per_flow; n];
    let mut cwnd = vec![10u64; n];
    let mut ready = vec![0.0f64; n];
    let (mut t, mut drops, mut timeouts) = (0.0f64, 0u64, 0u64);
    while left.iter().any(|&l| l > 0) {
        let active: Vec<usize> = (0..n).filter(|&i| left[i] > 0 && ready[i] <= t).collect();
        if active.is_empty() {
            t = (0..n)
                .filter(|&i| left[i] > 0)
                .map(|i| ready[i])
                .fold(f64::INFINITY, f64::min);
            continue;
        }
        let offered: Vec<u64> = active.iter().map(|&i| cwnd[i].min(left[i])).collect();
        // Round-robin arrival: the port keeps the first `room` segments of the interleaving.
        let mut kept = vec![0u64; active.len()];
        let mut space = room;
        let mut depth = 0;
        while space > 0 && kept.iter().zip(&offered).any(|(k, o)| k < o) {
            for (j, o) in offered.iter().enumerate() {
                if space > 0 && *o > depth {
                    kept[j] += 1;
                    space -= 1;
                }
            }
            depth += 1;
        }
        let delivered: u64 = kept.iter().sum();
        let epoch = BASE_RTT + delivered as f64 / c;
        for (j, &i) in active.iter().enumerate() {
            left[i] -= kept[j];
            if kept[j] < offered[j] {
                drops += offered[j] - kept[j];
                timeouts += 1;
                cwnd[i] = 1;
                ready[i] = t + epoch + rto_min;
            } else {
                cwnd[i] *= 2;
                ready[i] = t + epoch;
            }
        }
        t += epoch;
    }
    Round {
        seconds: t,
        drops,
        timeouts,
    }
}

#[cfg(test)]
mod tests {
    use super::super::cliff;
    use super::*;

    #[test]
    fn few_senders_fit_and_many_collapse_on_the_timeout() {
        let one = round(1, 65_536, 100_000, 32_000, 0.2);
        assert_eq!(one.timeouts, 0);
        let ideal = 65_536.0 / MSS * WIRE_BYTES * 8.0 / 100e6;
        assert!(one.seconds < ideal * 1.5, "{one:?}");
        let many = round(16, 65_536, 100_000, 32_000, 0.2);
        assert!(many.timeouts > 0 && many.seconds > 0.2, "{many:?}");
        let pts: Vec<(f64, f64)> = (1..=16)
            .map(|n| {
                let r = round(n, 65_536, 100_000, 32_000, 0.2);
                (n as f64, n as f64 * 65_536.0 / r.seconds)
            })
            .collect();
        assert!(cliff(&pts, 0.5).is_some());
    }

    #[test]
    fn a_short_rto_shrinks_the_stall() {
        let slow = round(16, 65_536, 100_000, 32_000, 0.2);
        let fast = round(16, 65_536, 100_000, 32_000, 0.001);
        assert!(fast.seconds * 5.0 < slow.seconds, "{slow:?} {fast:?}");
    }
}
