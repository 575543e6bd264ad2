//! The `irq-vs-busy-poll` demo: blocking, busy-poll and hybrid delivery measured side by side, and
//! the sleep/wake handshake's lost wakeup (no fences) against its fix.

use std::time::Duration;

use super::cores::{self, Delivery, Measured, Traffic, SLEEP_BOUND};
use super::{loom_broken, loom_fixed, shuttle_broken, shuttle_fixed};
use crate::check::Report;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Reordering, Replay, Row,
    RunOptions, RunOutput, Series, Spec, Threads, UsageError, Variant, Variants,
};

/// The `irq-vs-busy-poll` demo.
#[derive(Debug)]
pub struct IrqPollDemo;

/// `irq-vs-busy-poll`.
pub static IRQ_VS_BUSY_POLL: IrqPollDemo = IrqPollDemo;

/// Packets the matrix's real-core detection sends at most (it stops at the first lost wakeup).
pub const DETECT_PACKETS: u64 = 1_000_000;

static SPEC: Spec = Spec {
    name: "irq-vs-busy-poll",
    module: "nic/irq_poll",
    group: Group::Nic,
    seed_title: "Interrupt vs busy-poll (RX)",
    lesson: "a sleeping app pays a wakeup per idle→busy edge, a polling one a whole core; the sleep/wake handshake \
             needs a full fence on both sides",
    pair: "announce sleep then re-check / push then read the sleep word, unfenced (store buffering loses the \
           wakeup) → fence(SeqCst) on both sides",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: true,
        step: true,
    },
    bug: BugClass::Ordering(Reordering::StoreLoad),
    threads: Threads::Fixed(2),
    default_iterations: 50_000,
    max_iterations: (
        10_000_000,
        "the NIC logs 8 bytes per packet to count lost wakeups exactly",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "delivery",
            help:
                "how the app waits for packets: sleep (blocking), spin (busy-poll), spin then sleep (hybrid), or all \
                   three side by side",
            kind: ParamKind::Choice {
                values: &["all", "blocking", "busy-poll", "hybrid"],
                default: "all",
            },
        },
        Param {
            name: "traffic",
            help: "how the NIC sends: at --rate (paced), or the next packet as soon as the app took the last \
                   (one-in-flight: every packet meets the sleep/wake handshake), or both",
            kind: ParamKind::Choice {
                values: &["both", "paced", "one-in-flight"],
                default: "both",
            },
        },
        Param {
            name: "rate",
            help: "offered packets per second of paced traffic",
            kind: ParamKind::Number {
                min: 1_000,
                max: 5_000_000,
                default: 50_000,
                power_of_two: false,
            },
        },
        Param {
            name: "spin-us",
            help: "hybrid: microseconds the app polls before it sleeps (Linux's net.core.busy_poll)",
            kind: ParamKind::Number {
                min: 1,
                max: 10_000,
                default: 10,
                power_of_two: false,
            },
        },
    ],
};

/// The delivery modes `--delivery` selects.
fn deliveries(choice: &str, spin: Duration) -> Vec<Delivery> {
    let hybrid = Delivery::Hybrid { spin };
    match choice {
        "blocking" => vec![Delivery::Blocking],
        "busy-poll" => vec![Delivery::BusyPoll],
        "hybrid" => vec![hybrid],
        _ => vec![Delivery::Blocking, Delivery::BusyPoll, hybrid],
    }
}

/// The traffic shapes `--traffic` selects.
fn traffics(choice: &str, rate: u64) -> Vec<Traffic> {
    let paced = Traffic::Paced { rate };
    match choice {
        "paced" => vec![paced],
        "one-in-flight" => vec![Traffic::OneInFlight],
        _ => vec![paced, Traffic::OneInFlight],
    }
}

fn traffic_name(t: Traffic) -> &'static str {
    match t {
        Traffic::Paced { .. } => "paced",
        Traffic::OneInFlight => "1-in-flight",
    }
}

/// One row's figures (every row has the same labels).
fn figures(m: &Measured) -> Vec<Figure> {
    vec![
        Figure::count("received", m.received),
        Figure::count("dropped", m.dropped),
        Figure::number("p50 µs", m.latency_us(0.5), 1, "µs"),
        Figure::number("p99 µs", m.latency_us(0.99), 1, "µs"),
        Figure::number("p99.9 µs", m.latency_us(0.999), 1, "µs"),
        Figure::number("max µs", m.max_us(), 1, "µs"),
        Figure {
            text: format!("{:.0}%", m.app_cpu_share() * 100.0),
            ..Figure::number("app CPU", m.app_cpu_share() * 100.0, 0, "%")
        },
        Figure::number("kpkt/s", m.throughput() / 1e3, 1, "kpkt/s"),
        Figure::count("sleeps", m.sleeps),
        Figure::count("lost wakeups", m.lost_wakeups),
        Figure::count("waited for timeout", m.timeout_rescued),
    ]
}

impl Demo for IrqPollDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let spin = Duration::from_micros(opts.params.number("spin-us"));
        let rate = opts.params.number("rate");
        let modes = deliveries(opts.params.choice("delivery"), spin);
        let shapes = traffics(opts.params.choice("traffic"), rate);
        let mut busy_poll_skipped = false;
        let mut measured: Vec<(Variant, Traffic, Delivery, Measured)> = Vec::new();
        for &traffic in &shapes {
            for case in cases {
                let variant = case.variant();
                for &delivery in &modes {
                    if variant == Variant::Broken && delivery == Delivery::BusyPoll {
                        busy_poll_skipped = true;
                        continue;
                    }
                    let m = cores::run(variant, delivery, traffic, opts.iterations, opts.pin, false);
                    out.rows.push(Row {
                        case: format!("{} {} {}", variant.name(), delivery.name(), traffic_name(traffic)),
                        figures: figures(&m),
                        parallel: Some(m.ran_in_parallel()),
                        parallelism: m.verdict(),
                    });
                    out.series.push(
                        Series::new(
                            format!(
                                "latency: {} {} {}",
                                variant.name(),
                                delivery.name(),
                                traffic_name(traffic)
                            ),
                            ("percentile, in nines (1 = p90, 2 = p99, 3 = p99.9)", "nines"),
                            ("packet ready → app has it", "µs"),
                            // The tail as nines, -log10(1 - p), so p99.9 is as far from p99 as p99
                            // is from p90; the max is in the table.
                            [50.0, 90.0, 99.0, 99.9, 99.99]
                                .iter()
                                .map(|&p: &f64| (-(1.0 - p / 100.0).log10(), m.latency_us(p / 100.0)))
                                .collect(),
                        )
                        .log_y(),
                    );
                    measured.push((variant, traffic, delivery, m));
                }
            }
        }
        notes(&mut out, &measured, rate, spin, busy_poll_skipped);
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        // Three model threads: main (builds, joins, checks), the NIC and the app.
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => checker.explore(3, || super::loom::scenario::wakeup(loom_broken, 1)),
            (Checker::Loom, Variant::Fixed) => checker.explore(3, || super::loom::scenario::wakeup(loom_fixed, 1)),
            (_, Variant::Broken) => checker.explore(3, || super::shuttle::scenario::wakeup(shuttle_broken, 1)),
            (_, Variant::Fixed) => checker.explore(3, || super::shuttle::scenario::wakeup(shuttle_fixed, 1)),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        (variant == Variant::Broken).then(super::replay::lost_wakeup)
    }

    fn detect_on_cores(&self, case: Case) -> Detection {
        let m = cores::run(
            case.variant(),
            Delivery::Blocking,
            Traffic::OneInFlight,
            DETECT_PACKETS,
            crate::hw::Pin::Spread,
            true,
        );
        match m.first_lost {
            Some(s) => Detection::Found {
                count: s + 1,
                text: format!(
                    "found: lost wakeup at packet {} — the app slept with it in the ring (store buffering on x86; {})",
                    s + 1,
                    if m.timeout_rescued > 0 {
                        format!("the {} µs sleep bound rescued it", SLEEP_BOUND.as_micros())
                    } else {
                        "a leftover unpark token rescued it".to_string()
                    }
                ),
            },
            None if !m.ran_in_parallel() => Detection::Blind(format!(
                "could not tell: no lost wakeup in {} packets, but the machine was busy ({})",
                m.received,
                m.verdict()
            )),
            None => Detection::Missed {
                count: m.received,
                text: format!("missed in {} packets", m.received),
            },
        }
    }
}

/// The run's honest notes: what each figure is, what is cited, what the hardware showed.
fn notes(
    out: &mut RunOutput,
    measured: &[(Variant, Traffic, Delivery, Measured)],
    rate: u64,
    spin: Duration,
    busy_poll_skipped: bool,
) {
    let find = |v: Variant, d: &str, t: &str| {
        measured
            .iter()
            .find(|(mv, mt, md, _)| *mv == v && md.name() == d && traffic_name(*mt) == t)
            .map(|(.., m)| m)
    };
    out.notes.push(format!(
        "measured on these cores: latency = the NIC's timestamp when the packet is ready → the app's when it has it \
         (hdrhistogram); app CPU = the app thread's CPU time / wall time; paced = {rate} packets/s offered into a \
         {}-slot ring (full ring: dropped, as a NIC counts rx_missed); 1-in-flight = the next packet as soon as the \
         app took the last",
        cores::CAPACITY
    ));
    if let Some(bp) = find(Variant::Fixed, "busy-poll", "paced") {
        let mut s = if bp.ran_in_parallel() {
            format!(
                "busy-poll burns a whole core: the app was on a CPU {:.0}% of the run to take {:.0} packets/s",
                bp.app_cpu_share() * 100.0,
                bp.throughput()
            )
        } else {
            format!(
                "busy-poll never sleeps, so it takes a whole core when it gets one; this run it got only {:.0}% (the \
                 machine was busy: see parallelism), and its latencies include the time slices it lost",
                bp.app_cpu_share() * 100.0
            )
        };
        if let Some(bl) = find(Variant::Fixed, "blocking", "paced") {
            let extra = bl.latency_us(0.5) - bp.latency_us(0.5);
            s.push_str(&format!(
                "; blocking took the same traffic with {:.0}% of a core, at p50 {extra:+.1} µs against busy-poll ({})",
                bl.app_cpu_share() * 100.0,
                if extra > 0.0 {
                    "the futex wake-up and the scheduler: this kernel's interrupt → wakeup path"
                } else {
                    "no wake-up tax showed: the run was disturbed"
                }
            ));
        }
        out.notes.push(s);
    }
    if measured.iter().any(|(.., d, _)| d.name() == "hybrid") {
        out.notes.push(format!(
            "hybrid polls for {} µs (--spin-us, Linux's net.core.busy_poll) before it sleeps: busy-poll's latency \
             while packets come closer together than that, blocking's CPU when they do not",
            spin.as_micros()
        ));
    }
    out.notes.push(
        "cited, not measured (the seed's RX budget; no NIC is reachable here): NIC DMAs the packet 200 ns, MSI-X \
         interrupt 140 ns, IRQ entry + NAPI schedule 170 ns, scheduler wakes the app 260 ns, deliver 90 ns, app reads \
         the descriptor 30 ns = 890 ns; the NIC here is a thread on another core and the wakeup is a real futex wake"
            .into(),
    );
    out.notes.push(format!(
        "every sleep is bounded ({} µs, park_timeout) so a lost wakeup costs that bound instead of hanging the run; \
         'lost wakeups' is exact (the NIC logs the sleep word it read after each push; a lost wakeup is an even word \
         older than the app's announcement), 'waited for timeout' counts those only the bound ended (with paced \
         traffic the next packet's interrupt usually rescues them first)",
        SLEEP_BOUND.as_micros()
    ));
    let broken: Vec<&Measured> = measured
        .iter()
        .filter(|(v, ..)| *v == Variant::Broken)
        .map(|(.., m)| m)
        .collect();
    if !broken.is_empty() {
        let lost: u64 = broken.iter().map(|m| m.lost_wakeups).sum();
        let received: u64 = broken.iter().map(|m| m.received).sum();
        out.notes.push(if lost > 0 {
            format!(
                "broken: {lost} lost wakeups in {received} packets on these x86 cores — store buffering, the one \
                 reordering TSO allows (a store waits in the store buffer while a later load reads); loom finds it \
                 too: check irq-vs-busy-poll --variant broken"
            )
        } else {
            format!(
                "broken: no lost wakeup in {received} packets this time; the race needs both threads inside the \
                 handshake at once (try --traffic one-in-flight --iterations 1000000 on a quiet machine); loom \
                 finds it every time: check irq-vs-busy-poll --variant broken"
            )
        });
    }
    if busy_poll_skipped {
        out.notes.push(
            "broken busy-poll not run: a polling app never sleeps, so it never uses the handshake (it is the fixed \
             row's code)"
                .into(),
        );
    }
}
