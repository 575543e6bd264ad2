//! The `napi` demo: one IRQ and budgeted polls instead of an IRQ per packet, and the re-check
//! after re-arming whose absence strands a packet.

use super::cores::{run_on_cores, CoreRun, Kind, Workload, BURST_GAP, RING_SLOTS, TRICKLE_GAP, WATCHDOG};
use super::replay::{napi_replay, BUDGET, BURST, SLOTS};
use super::{loom, shuttle, Packet};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput,
    Spec, Threads, UsageError, Variant, Variants,
};

/// The `napi` demo.
#[derive(Debug)]
pub struct NapiDemo;

/// `napi`.
pub static NAPI: NapiDemo = NapiDemo;

/// From this many packets a run prints its progress (the trickle alone takes 2 s per driver).
const LONG_RUN: u64 = 100_000;

/// Packets in the model scenario: two are the fewest that can strand one.
const MODEL_PACKETS: Packet = 2;
/// The model's budget: packet 1 alone completes the first poll.
const MODEL_BUDGET: usize = 2;
/// The model's ring.
const MODEL_SLOTS: usize = 2;

static SPEC: Spec = Spec {
    name: "napi",
    module: "nic/napi",
    group: Group::Nic,
    seed_title: "NAPI poll loop",
    lesson: "one IRQ, then budgeted polls; after re-arming the IRQ, re-check the ring",
    pair: "re-arm and stop (a packet posted meanwhile strands) → re-arm, fence, re-check",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Interleaving,
    threads: Threads::Fixed(2),
    default_iterations: 20_000,
    max_iterations: (
        1_000_000,
        "the trickle paces one packet every 20 µs: a million packets take 20 s per driver",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "burst",
            help: "packets the NIC posts back to back in each burst (the bursts workload)",
            kind: ParamKind::Number {
                min: 1,
                max: 4096,
                default: 256,
                power_of_two: false,
            },
        },
        Param {
            name: "budget",
            help: "packets one NAPI poll may drain (Linux's dev_weight is 64)",
            kind: ParamKind::Number {
                min: 1,
                max: 1024,
                default: 64,
                power_of_two: false,
            },
        },
    ],
};

fn figures(r: &CoreRun) -> Vec<Figure> {
    vec![
        Figure::count("packets", r.packets),
        Figure::count("hard IRQs", r.hard_irqs),
        Figure::count("polls", r.polls),
        match r.per_poll() {
            Some(v) => Figure::number("packets/poll", v, 1, ""),
            None => Figure::text("packets/poll", "-"),
        },
        Figure::count("IRQs if 1/packet", r.packets),
        Figure::percent("IRQs taken %", r.hard_irqs, r.packets),
        Figure::number("wall ms", r.wall.as_secs_f64() * 1e3, 1, "ms"),
        Figure::number(
            "driver CPU ns/packet",
            r.driver_cpu.as_nanos() as f64 / r.packets.max(1) as f64,
            0,
            "ns",
        ),
        Figure::count("stranded", r.stranded),
        Figure::count("watchdog rescues", r.rescued),
    ]
}

impl Demo for NapiDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let burst = opts.params.number("burst") as usize;
        let budget = opts.params.number("budget") as usize;
        let mut kinds: Vec<Kind> = cases.iter().map(|c| Kind::Napi(c.variant())).collect();
        kinds.push(Kind::PerPacket);
        let mut stranded = 0;
        for workload in Workload::BOTH {
            for &kind in &kinds {
                if opts.iterations >= LONG_RUN {
                    // Progress on stderr (stdout stays the table, or the JSON).
                    eprintln!(
                        "napi: {} · {}: {} packets…",
                        kind.label(),
                        workload.name(),
                        opts.iterations
                    );
                }
                let r = run_on_cores(kind, workload, opts.iterations, burst, budget, opts.pin);
                if kind == Kind::Napi(Variant::Fixed) && r.stranded + r.rescued > 0 {
                    out.notes.push(format!(
                        "UNEXPECTED: the fixed poll stranded {} packets under {}: please report it",
                        r.stranded + r.rescued,
                        workload.name()
                    ));
                }
                if kind == Kind::Napi(Variant::Broken) {
                    stranded += r.stranded;
                }
                out.rows.push(Row {
                    case: format!("{} · {}", kind.label(), workload.name()),
                    figures: figures(&r),
                    parallel: Some(r.nic_had_a_core()),
                    parallelism: r.verdict(),
                });
            }
        }
        out.notes.push(format!(
            "measured on two threads: the NIC thread posts into a {RING_SLOTS}-slot RX ring (the lab's SPSC ring) and \
             raises an IRQ only while the line is armed; an IRQ is an eventfd write by the NIC and a read by the \
             driver (a kernel entry each, a sleep and a wakeup when the driver was idle: the analogue of interrupt → \
             handler; no device is reachable here). trickle: 1 packet every {} µs; \
             bursts: {burst} packets back to back, then {} µs. budget {budget} packets per poll",
            TRICKLE_GAP.as_micros(),
            BURST_GAP.as_micros()
        ));
        out.notes.push(
            "`IRQs if 1/packet` is what a driver without NAPI takes: the `1 IRQ/packet` rows measure it (never masked, \
             one eventfd read and one packet per IRQ); compare its driver CPU per packet with NAPI's. A real hard IRQ \
             (entry, exit, softirq) is not measured here: the eventfd stands in for it"
                .into(),
        );
        if kinds.contains(&Kind::Napi(Variant::Broken)) {
            out.notes.push(format!(
                "broken: `stranded` counts completions that re-armed the line with a posted packet left in the ring and \
                 no IRQ coming (it waits for the next packet's IRQ); `watchdog rescues` counts those no later packet \
                 ended, polled after a bounded {} ms wait so the run always ends{}",
                WATCHDOG.as_millis(),
                if stranded == 0 {
                    ": none this run — the window between the poll's last ring read and the re-arm is a few \
                     nanoseconds; long bursts hit it most (--burst 4096), and loom finds it every time (check napi)"
                } else {
                    ""
                }
            ));
        }
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // Three model threads: the main one (build, join, check), the NIC and the driver's CPU.
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => checker.explore(3, || {
                loom::scenario::packets_then_silence(
                    loom::broken::new(crate::spsc::loom::fixed::channel(MODEL_SLOTS), MODEL_BUDGET),
                    MODEL_PACKETS,
                )
            }),
            (Checker::Loom, Variant::Fixed) => checker.explore(3, || {
                loom::scenario::packets_then_silence(
                    loom::fixed::new(crate::spsc::loom::fixed::channel(MODEL_SLOTS), MODEL_BUDGET),
                    MODEL_PACKETS,
                )
            }),
            (_, Variant::Broken) => checker.explore(3, || {
                shuttle::scenario::packets_then_silence(
                    shuttle::broken::new(crate::spsc::shuttle::fixed::channel(MODEL_SLOTS), MODEL_BUDGET),
                    MODEL_PACKETS,
                )
            }),
            (_, Variant::Fixed) => checker.explore(3, || {
                shuttle::scenario::packets_then_silence(
                    shuttle::fixed::new(crate::spsc::shuttle::fixed::channel(MODEL_SLOTS), MODEL_BUDGET),
                    MODEL_PACKETS,
                )
            }),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let steps = napi_replay(variant);
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "The seed's NAPI animation on the real {variant} structures (a {SLOTS}-slot SPSC ring, budget {BUDGET}, \
                 N = {BURST}), played deterministically on one thread: burst, IRQ, mask, polls, complete, re-arm — \
                 with one packet posted just before the last poll completes. Each step shows the ring, the line and \
                 the counters, read from the structures."
            ),
            outcome: steps.last().map(|s| s.action.clone()).unwrap_or_default(),
            steps: steps.iter().map(ToString::to_string).collect(),
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let mut packets = 0;
        let mut stranded = 0;
        let mut rescued = 0;
        let mut parallel = true;
        // Long bursts: the driver catches up with the NIC mid-burst again and again, and each time
        // its completion races the next post (the window is a few nanoseconds wide).
        for (workload, burst, n) in [(Workload::Bursts, 4096, 100_000), (Workload::Bursts, 4096, 100_000)] {
            let r = run_on_cores(Kind::Napi(Variant::Broken), workload, n, burst, 64, Pin::Spread);
            packets += r.packets;
            stranded += r.stranded;
            rescued += r.rescued;
            parallel &= r.nic_had_a_core();
        }
        if stranded == 0 && !parallel {
            return Detection::Blind("no: the NIC thread did not have a core (machine busy)".into());
        }
        Detection::from_count(
            stranded,
            packets,
            format!("found: {stranded} strandings in {packets} packets ({rescued} ended by the watchdog)"),
            format!("missed: 0 strandings in {packets} packets"),
        )
    }
}
