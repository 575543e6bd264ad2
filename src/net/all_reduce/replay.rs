//! `step all-reduce`: the seed's ring animation on the real structures — three ranks (G0–G2),
//! their links' send buffers and SPSC rings (`real::broken` or `real::fixed`) — driven one
//! operation at a time on one thread, with rank G1 the slow neighbour: it runs only when no other
//! rank can. Every picture is read back from the real vectors and send buffers.

use std::collections::VecDeque;
use std::fmt::Write as _;

use super::{build, expected, links, small_inputs, Algorithm, Poll, Rank, Rx, Tx};
use crate::lab::Replay;
use crate::Variant;

/// Ranks and elements per rank (one element per chunk).
const RANKS: usize = 3;
const LEN: usize = 3;
/// The order the replay offers the ranks a move: G1 last (the slow neighbour).
const PRIORITY: [usize; RANKS] = [0, 2, 1];

/// The replay of `variant`.
pub fn replay(variant: Variant) -> Replay {
    let (steps, outcome) = match variant {
        Variant::Broken => play(build(Algorithm::Ring, small_inputs(RANKS, LEN), links::real_broken)),
        Variant::Fixed => play(build(Algorithm::Ring, small_inputs(RANKS, LEN), links::real_fixed)),
    };
    Replay {
        demo: "all-reduce".into(),
        intro: format!(
            "The seed's ring all-reduce with N = {RANKS} ranks (G0–G2), {LEN} integers each cut into {RANKS} chunks, on \
             the lab's real {variant} links: each rank writes a chunk into its send buffer and pushes a notice on an \
             SPSC ring; its right neighbour reads the buffer in place and pushes a credit back. 2(N−1) = {} hops: \
             reduce-scatter, then all-gather. G1 is slow: it moves only when no other rank can. {}",
            Algorithm::Ring.steps(RANKS),
            if variant == Variant::Broken {
                "The broken sender may rewrite its buffer one chunk ahead of its credits."
            } else {
                "The fixed sender waits for the credit of its last chunk before rewriting its buffer."
            }
        ),
        steps,
        outcome,
    }
}

/// The ranks' vectors (chunks split by `|`) and their send buffers, and the hop counter.
fn picture<S: Tx, R: Rx>(ranks: &[Rank<S, R>]) -> String {
    let mut s = String::new();
    for r in ranks {
        let cells: Vec<String> = r.data().iter().map(|v| format!("{v:>3}")).collect();
        let buffers: Vec<String> = r
            .buffers()
            .iter()
            .map(|(peer, b)| format!("buffer→G{peer} {b:?}"))
            .collect();
        let _ = writeln!(s, "    G{} [{}]   {}", r.id, cells.join(" |"), buffers.join(" "));
    }
    let hop = ranks.iter().map(|r| r.clock()).max().unwrap_or(0);
    let _ = write!(s, "    hop {hop}/{}", Algorithm::Ring.steps(ranks.len()));
    s
}

fn play<S: Tx, R: Rx>(mut ranks: Vec<Rank<S, R>>) -> (Vec<String>, String) {
    let want = expected(&small_inputs(RANKS, LEN));
    // Per link (by sender), the chunks announced and not yet read: what the receiver should get.
    let mut in_flight: Vec<VecDeque<Vec<u64>>> = vec![VecDeque::new(); RANKS];
    let mut steps = vec![format!("start: every rank holds its own vector\n{}", picture(&ranks))];
    let mut wrong_reads = 0;
    loop {
        let mut waits = Vec::new();
        let mut event = None;
        for r in PRIORITY {
            let before = ranks[r].data().to_vec();
            match ranks[r].poll() {
                Poll::Done => {}
                Poll::Blocked { peer, credit } => waits.push(if credit {
                    format!("G{r} cannot send: G{peer} has not credited its last chunk (the buffer is still G{peer}'s)")
                } else {
                    format!("G{r} waits for a chunk from G{peer}")
                }),
                Poll::Sent { to, chunk } => {
                    let values = before[chunk.clone()].to_vec();
                    let overwrote = !in_flight[r].is_empty();
                    in_flight[r].push_back(values.clone());
                    event = Some(format!(
                        "G{r} → G{to}: writes chunk {} {values:?} into its send buffer and pushes a notice{}",
                        chunk.start,
                        if overwrote {
                            format!(" — OVERWRITING the chunk G{to} has not read yet")
                        } else {
                            String::new()
                        }
                    ));
                    break;
                }
                Poll::Received { from, chunk, add } => {
                    let after = ranks[r].data();
                    let got: Vec<u64> = chunk
                        .clone()
                        .map(|i| {
                            if add {
                                after[i].wrapping_sub(before[i])
                            } else {
                                after[i]
                            }
                        })
                        .collect();
                    let sent = in_flight[from].pop_front().unwrap_or_default();
                    let verdict = if got == sent {
                        String::new()
                    } else {
                        wrong_reads += 1;
                        format!(" — WRONG: G{from} sent {sent:?} for this notice, but its buffer now holds {got:?}")
                    };
                    event = Some(format!(
                        "G{r} ← G{from}: reads chunk {} {got:?} from G{from}'s buffer, {} it, pushes a credit{verdict}",
                        chunk.start,
                        if add { "adds" } else { "copies" }
                    ));
                    break;
                }
            }
        }
        let Some(event) = event else { break };
        let mut text = String::new();
        if !waits.is_empty() {
            let _ = writeln!(text, "({}.)", waits.join("; "));
        }
        let _ = write!(text, "{event}\n{}", picture(&ranks));
        steps.push(text);
    }
    let bad: Vec<usize> = ranks.iter().filter(|r| r.data() != &want[..]).map(|r| r.id).collect();
    let outcome = if bad.is_empty() {
        format!(
            "every rank holds the sequential sum {want:?}: the credit made every sender wait for its slow neighbour"
        )
    } else {
        format!(
            "wrong sum: rank(s) {bad:?} do not hold the sequential sum {want:?} ({wrong_reads} chunk(s) read after \
             their buffer was overwritten). The fix: take the credit of the last chunk before rewriting the buffer."
        )
    };
    (steps, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_replay_ends_with_a_wrong_sum_and_fixed_with_the_right_one() {
        let broken = replay(Variant::Broken);
        assert!(broken.outcome.starts_with("wrong sum"), "{}", broken.outcome);
        assert!(
            broken.steps.iter().any(|s| s.contains("OVERWRITING")),
            "{:#?}",
            broken.steps
        );
        assert!(broken.steps.iter().any(|s| s.contains("WRONG")));
        let fixed = replay(Variant::Fixed);
        assert!(fixed.outcome.starts_with("every rank holds"), "{}", fixed.outcome);
        assert!(
            fixed.steps.iter().any(|s| s.contains("has not credited")),
            "{:#?}",
            fixed.steps
        );
        assert!(!fixed
            .steps
            .iter()
            .any(|s| s.contains("WRONG") || s.contains("OVERWRITING")));
        // 2(N−1) sends per rank, one picture each, plus receives and the start.
        assert_eq!(fixed.steps.len(), 1 + 2 * RANKS * Algorithm::Ring.steps(RANKS) as usize);
    }
}
