//! `lockfree-lab step irq-vs-busy-poll`: the lost wakeup as loom found it, each atomic operation of
//! the failing execution with what it means for the handshake.

use crate::check::{self, ReadableStep};
use crate::lab::{Checker, Replay};
use crate::sync::trace::Value;

/// The model threads of `scenario::wakeup`: the app is spawned first.
const APP: &str = "T1";

/// Runs loom on the broken handshake (one packet) and narrates its counterexample.
pub(super) fn lost_wakeup() -> Replay {
    let report = Checker::Loom.explore(3, || super::loom::scenario::wakeup(super::loom_broken, 1));
    let intro = format!(
        "The lost wakeup of the broken handshake, as loom found it at execution {} (T1 = the app, T2 = the NIC, T0 = \
         main, which only builds and joins). Every atomic operation of that execution, in the order loom scheduled \
         it, with what it means; a read marked stale returned a value older than the latest store: loom lets it, as \
         a store buffer does.",
        report.executions
    );
    let Some(failure) = report.failure else {
        return Replay {
            demo: "irq-vs-busy-poll".into(),
            intro,
            steps: Vec::new(),
            outcome: "loom found no failure (unexpected: the broken handshake has no fences)".into(),
        };
    };
    let mut polls = 0;
    let steps = check::readable(&failure.trace)
        .iter()
        .map(|s| {
            let meaning = meaning(s, &mut polls);
            format!("{s}\n       => {meaning}")
        })
        .collect();
    Replay {
        demo: "irq-vs-busy-poll".into(),
        intro,
        steps,
        outcome: format!(
            "loom: {} — the app is parked with packet 1 in the ring, the NIC has finished without an interrupt, and \
             main waits for the app forever. With fence(SeqCst) after the announcement and after the push, one of \
             the two loads must see the other's store (check irq-vs-busy-poll --variant fixed passes). On real cores \
             the sleep is bounded (park_timeout): run irq-vs-busy-poll --variant broken counts the packets that \
             waited for it.",
            failure.message.lines().next().unwrap_or_default()
        ),
    }
}

/// What one step means, from where it ran and what it read or wrote.
fn meaning(s: &ReadableStep, polls: &mut u32) -> String {
    let stale = if s.note.is_empty() {
        String::new()
    } else {
        format!(" ({}: the other core's store had not reached this one)", s.note)
    };
    let ring = s.location.contains("spsc/");
    let app = s.thread == APP;
    match (app, ring, s.operation.as_str()) {
        (true, true, "load") => {
            *polls += 1;
            let what = if *polls == 1 {
                "the app polls the ring"
            } else {
                "the app re-checks the ring after announcing its sleep"
            };
            let empty = if s.value == "-> 0" { "empty" } else { "a packet" };
            let then = if *polls > 1 && empty == "empty" {
                "; it parks: only the NIC's unpark can wake it now"
            } else {
                ""
            };
            format!("{what}: tail {} → {empty}{stale}{then}", s.value)
        }
        (true, false, "store") => match s.written {
            Some(Value::Int(w)) if w % 2 == 1 => format!(
                "the app announces that it sleeps: sleep word {} (odd); with no fence after it, this store may still \
                 sit in the app core's store buffer",
                s.value
            ),
            _ => format!("the app is awake again: sleep word {}", s.value),
        },
        (false, true, "write") => "the NIC writes packet 1 into the ring's slot".into(),
        (false, true, "store") => format!(
            "the NIC publishes the packet: tail {}; with no fence after it, this store may still sit in the NIC \
             core's store buffer",
            s.value
        ),
        (false, true, "load") => format!("the NIC reads the app's head: {}{stale}", s.value),
        (false, false, "load") => {
            let awake = matches!(s.read, Some(Value::Int(w)) if w % 2 == 0);
            if awake {
                format!(
                    "the NIC reads the sleep word {}: 'awake', so it raises no interrupt{stale}",
                    s.value
                )
            } else {
                format!(
                    "the NIC reads the sleep word {}: 'asleep', so it wakes the app{stale}",
                    s.value
                )
            }
        }
        (_, _, "fence") => "a SeqCst fence".into(),
        _ => format!("{} {}", s.operation, s.value),
    }
}
