//! The `descriptor-ring` demo: the TX doorbell without `wmb()` and the RX DD bit without
//! `dma_rmb()`, against their Release/Acquire fix; `run` measures the ring on two cores.

use super::{loom, run_on_cores, shuttle, step_replay, Mode, PCIE_NOTE, X86_NOTE};
use crate::check::{self, Report};
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Figure, Group, Param, ParamKind, Reordering, Replay, Row, RunOptions,
    RunOutput, Spec, Threads, UsageError, Variant, Variants, NO_ITERATION_LIMIT,
};

/// The `descriptor-ring` demo.
#[derive(Debug)]
pub struct DescriptorRingDemo;

/// `descriptor-ring`.
pub static DESCRIPTOR_RING: DescriptorRingDemo = DescriptorRingDemo;

static SPEC: Spec = Spec {
    name: "descriptor-ring",
    module: "nic/descriptor_ring",
    group: Group::Nic,
    seed_title: "Descriptor ring (RX/TX)",
    lesson:
        "the doorbell (TAIL) must be published after the descriptors (wmb), and DD read before the length (dma_rmb)",
    pair: "Relaxed TX doorbell and Relaxed RX DD load → Release doorbell, Acquire DD",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Ordering(Reordering::StoreStoreOrLoadLoad),
    threads: Threads::Fixed(2),
    default_iterations: 1_000_000,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "mode",
            help: "which ring: tx (the driver posts, the NIC sends) or rx (the NIC receives, the driver reaps)",
            kind: ParamKind::Choice {
                values: &["tx", "rx"],
                default: "tx",
            },
        },
        Param {
            name: "descriptors",
            help: "descriptors in the ring",
            kind: ParamKind::Number {
                min: 2,
                max: 65_536,
                default: 8,
                power_of_two: true,
            },
        },
    ],
};

impl Demo for DescriptorRingDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mode = match opts.params.choice("mode") {
            "rx" => Mode::Rx,
            _ => Mode::Tx,
        };
        let descriptors = opts.params.number("descriptors") as usize;
        let mut out = RunOutput::new(&SPEC, opts);
        for case in cases {
            let r = run_on_cores(case.variant(), mode, descriptors, opts.iterations, opts.pin);
            let (torn, stale) = match mode {
                Mode::Tx => ("torn descriptors", "stale completions"),
                Mode::Rx => ("descriptors taken without OWN", "stale reads"),
            };
            out.rows.push(Row::on_cores(
                case.label(),
                vec![
                    Figure::count("packets", r.packets),
                    Figure::number("M packets/s", r.packets_per_sec() / 1e6, 2, "M packets/s"),
                    Figure::number("in flight (mean)", r.in_flight_mean, 1, "descriptors"),
                    Figure::count("in flight (max)", r.in_flight_max as u64),
                    Figure::number("doorbells/packet", r.doorbells_per_packet(), 3, "doorbells/packet"),
                    Figure::count(torn, r.torn),
                    Figure::count(stale, r.stale),
                ],
                &r.parallelism,
            ));
        }
        out.notes.push(match mode {
            Mode::Tx => format!(
                "measured: tx ring of {descriptors} descriptors (at most {} in flight: one stays free); the driver \
                 fills up to {} descriptors, then rings the doorbell once (xmit_more), and reaps what has DD; the NIC \
                 checks every descriptor it fetches against the packet's sequence number",
                descriptors - 1,
                super::cores::TX_BATCH
            ),
            Mode::Rx => format!(
                "measured: rx ring of {descriptors} descriptors (at most {} buffers posted: one stays free); the \
                 driver reaps what has DD, checks every packet's length and sequence number, re-posts that many \
                 buffers and rings the doorbell once per refill",
                descriptors - 1
            ),
        });
        out.notes.push(
            "in flight = TAIL − HEAD as the NIC sees it (descriptors handed to it, doorbell rung, not yet completed), \
             sampled at every descriptor it takes"
                .into(),
        );
        if cases.iter().any(|c| c.variant() == Variant::Broken) {
            out.notes.push(format!("broken: {X86_NOTE}"));
        }
        out.notes.push(PCIE_NOTE.into());
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // The TX scenario first; the RX one only if TX passed (a report per checker: their sum).
        let tx = self.check_mode(case.variant(), Mode::Tx, checker);
        if tx.failure.is_some() {
            return tx;
        }
        let mut rx = self.check_mode(case.variant(), Mode::Rx, checker);
        rx.executions += tx.executions;
        rx.elapsed += tx.elapsed;
        rx
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let animation = step_replay(variant);
        let mut steps: Vec<String> = animation.iter().map(ToString::to_string).collect();
        let outcome = match variant {
            Variant::Fixed => "every descriptor went FREE -> OWN -> DD -> FREE; the NIC never saw a descriptor before \
                               its doorbell, the driver never read a length before its DD"
                .to_string(),
            Variant::Broken => {
                for mode in [Mode::Tx, Mode::Rx] {
                    let report = self.check_mode(Variant::Broken, mode, Checker::Loom);
                    let Some(failure) = &report.failure else {
                        continue;
                    };
                    let mut text = format!(
                        "[loom] {} ring, broken: on one thread the broken ring does what the fixed one does (above); \
                         two cores can interleave it like this — loom's failing execution {} (T1 the driver, T2 the \
                         NIC; #N names each atomic):\n",
                        mode.name().to_uppercase(),
                        report.executions
                    );
                    for s in check::readable(&failure.trace) {
                        text.push_str(&format!("      {s}\n"));
                    }
                    text.push_str(&format!(
                        "      => {}",
                        failure.message.lines().next().unwrap_or_default()
                    ));
                    steps.push(text);
                }
                "loom found both: the NIC fetched a half-written descriptor (TX) and the driver read a stale length \
                 under DD (RX); x86 never shows them (TSO), ARM and POWER can"
                    .to_string()
            }
        };
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "The seed's animation on the real {variant} ring: both sides run on this thread, one step at a time, \
                 and every picture is the ring's state. OWN = handed to the NIC, DD = done, awaiting reap; H = HEAD \
                 (the NIC's), T = TAIL (the driver's doorbell){}",
                if variant == Variant::Broken {
                    "; then loom's failing interleavings of the broken ring"
                } else {
                    ""
                }
            ),
            steps,
            outcome,
        })
    }
}

impl DescriptorRingDemo {
    /// The hand-off scenario of `mode` for `variant` under `checker`.
    fn check_mode(&self, variant: Variant, mode: Mode, checker: Checker) -> Report {
        match (checker, variant, mode) {
            (Checker::Loom, Variant::Broken, Mode::Tx) => {
                checker.explore(2, || loom::scenario::tx_handoff(loom::broken::tx_ring))
            }
            (Checker::Loom, Variant::Fixed, Mode::Tx) => {
                checker.explore(2, || loom::scenario::tx_handoff(loom::fixed::tx_ring))
            }
            (Checker::Loom, Variant::Broken, Mode::Rx) => {
                checker.explore(2, || loom::scenario::rx_handoff(loom::broken::rx_ring))
            }
            (Checker::Loom, Variant::Fixed, Mode::Rx) => {
                checker.explore(2, || loom::scenario::rx_handoff(loom::fixed::rx_ring))
            }
            (_, Variant::Broken, Mode::Tx) => {
                checker.explore(2, || shuttle::scenario::tx_handoff(shuttle::broken::tx_ring))
            }
            (_, Variant::Fixed, Mode::Tx) => {
                checker.explore(2, || shuttle::scenario::tx_handoff(shuttle::fixed::tx_ring))
            }
            (_, Variant::Broken, Mode::Rx) => {
                checker.explore(2, || shuttle::scenario::rx_handoff(shuttle::broken::rx_ring))
            }
            (_, Variant::Fixed, Mode::Rx) => {
                checker.explore(2, || shuttle::scenario::rx_handoff(shuttle::fixed::rx_ring))
            }
        }
    }
}
