//! The `send-path` demo: the seed's nine-stage send path, every stage this machine has measured in
//! one run, the others cited, and the whole kernel path against kernel bypass.

use hdrhistogram::Histogram;

use super::kernel::{self, OneWay, Proto};
use super::{at, bypass, clock_cost_ns, driver, fit, Source, PAYLOAD, SEED_TOTAL_NS, SMALL, STAGES, SWEEP};
use crate::hw::Parallelism;
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants,
};
use crate::nic::irq_poll::cores::{self as wake, Delivery, Traffic};
use crate::Variant;

/// The `send-path` demo.
#[derive(Debug)]
pub struct SendPathDemo;

/// `send-path`.
pub static SEND_PATH: SendPathDemo = SendPathDemo;

/// The paced rate of the wakeup runs: a packet every 50 µs, so a blocking receiver is asleep
/// when each comes.
pub const WAKE_RATE: u64 = 20_000;

static SPEC: Spec = Spec {
    name: "send-path",
    module: "nic/send_path",
    group: Group::Nic,
    seed_title: "Send path latency",
    lesson: "a send() pays a system call, the kernel's stack, a copy and a wakeup before the driver's descriptor \
             and doorbell; busy-poll deletes the wakeup, kernel bypass the rest",
    pair: "no protocol pair: a cost demo — the kernel path and kernel bypass are both always measured; --bypass / \
           --busy-poll choose the budget",
    variants: Variants::Single,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(2),
    default_iterations: 5_000,
    max_iterations: (
        200_000,
        "every iteration of the one-way and wakeup runs idles 20-50 µs so the receiver sleeps: 200,000 is minutes",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "bypass",
            help: "budget with kernel bypass: stages 1-4 (syscall, stack, copy, wakeup) replaced by the measured \
                   shared-memory ring handoff",
            kind: ParamKind::Flag,
        },
        Param {
            name: "busy-poll",
            help: "the receiver polls instead of sleeping: no wakeup stage, and the kernel path's receiver spins on \
                   a non-blocking socket",
            kind: ParamKind::Flag,
        },
    ],
};

/// The figures of every row: how the figure is known, p50, p99, the seed's.
fn figures(source: &str, p50: f64, p99: Option<f64>, seed: Option<u64>) -> Vec<Figure> {
    vec![
        Figure::text("source", source),
        Figure::number("p50 ns", p50, 0, "ns"),
        p99.map_or_else(|| Figure::text("p99 ns", "—"), |v| Figure::number("p99 ns", v, 0, "ns")),
        seed.map_or_else(|| Figure::text("seed ns", "—"), |v| Figure::count("seed ns", v)),
    ]
}

/// A measured row from a histogram.
fn measured(case: String, h: &Histogram<u64>, par: &Parallelism) -> Row {
    Row::on_cores(case, figures("measured", at(h, 0.5), Some(at(h, 0.99)), None), par)
}

/// The percentile curve of a latency histogram.
fn percentiles(name: String, h: &Histogram<u64>) -> Series {
    Series::new(
        name,
        ("percentile", "%"),
        ("send → receiver has it", "ns"),
        [50.0, 90.0, 99.0, 99.9, 100.0]
            .iter()
            .map(|&p| (p, at(h, p / 100.0)))
            .collect(),
    )
}

fn io(what: &str, e: std::io::Error) -> UsageError {
    UsageError(format!("send-path: {what} on loopback failed: {e}"))
}

impl Demo for SendPathDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let (n, pin) = (opts.iterations, opts.pin);
        let use_bypass = opts.params.flag("bypass");
        let busy = opts.params.flag("busy-poll");
        let clock = clock_cost_ns();

        // Stage 1: the mode switch alone.
        let (syscall, par) = kernel::null_syscall(n, pin, clock);
        out.rows.push(measured("null syscall (getppid)".into(), &syscall, &par));

        // Stages 2 and 3: send() against payload size; the fit's intercept and slope.
        let mut fits = Vec::new();
        for proto in [Proto::Udp, Proto::Tcp] {
            let (costs, par) = kernel::send_costs(proto, &SWEEP, n, pin, clock).map_err(|e| io("send()", e))?;
            for (size, h) in &costs {
                if *size == SMALL || *size == *SWEEP.last().expect("sizes") {
                    out.rows
                        .push(measured(format!("send() {} {size} B", proto.name()), h, &par));
                }
            }
            let points: Vec<(f64, f64)> = costs.iter().map(|(s, h)| (*s as f64, at(h, 0.5))).collect();
            let line = fit(&points);
            out.series.push(
                Series::new(
                    format!("send() on loopback {}: p50 by payload", proto.name()),
                    ("payload", "B"),
                    ("send() call", "ns"),
                    points,
                )
                .mark(PAYLOAD as f64, "1472 B: the budget's payload"),
            );
            fits.push((proto, line));
        }

        // Stage 4: a blocked receiver's wakeup against a spinning one's (irq-vs-busy-poll's handshake).
        let traffic = Traffic::Paced { rate: WAKE_RATE };
        let blocked = wake::run(Variant::Fixed, Delivery::Blocking, traffic, n, pin, false);
        let spinning = wake::run(Variant::Fixed, Delivery::BusyPoll, traffic, n, pin, false);
        for (name, m) in [("blocked", &blocked), ("spinning", &spinning)] {
            out.rows.push(Row {
                case: format!("wakeup: {name} receiver"),
                figures: figures("measured", at(&m.latency, 0.5), Some(at(&m.latency, 0.99)), None),
                parallel: Some(m.ran_in_parallel()),
                parallelism: m.verdict(),
            });
        }

        // Stages 5 and 7: the descriptor ring's post and doorbell.
        let drv = driver::post_and_doorbell(n, pin, clock);
        out.rows.push(measured(
            "driver: post TX descriptor".into(),
            &drv.post,
            &drv.parallelism,
        ));
        out.rows.push(measured(
            "driver: doorbell (a store)".into(),
            &drv.doorbell,
            &drv.parallelism,
        ));

        // The whole kernel path, and kernel bypass, one way.
        let how = if busy { "polling" } else { "blocked" };
        let mut kernel_paths: Vec<(Proto, usize, OneWay)> = Vec::new();
        for proto in [Proto::Udp, Proto::Tcp] {
            for bytes in [SMALL, PAYLOAD] {
                let r = kernel::one_way(proto, bytes, n, busy, pin, clock).map_err(|e| io("send → recv", e))?;
                out.rows.push(measured(
                    format!("kernel path {} {bytes} B, receiver {how}", proto.name()),
                    &r.latency,
                    &r.parallelism,
                ));
                kernel_paths.push((proto, bytes, r));
            }
        }
        let bypassed = [
            (SMALL, bypass::one_way::<SMALL>(n, pin, clock)),
            (PAYLOAD, bypass::one_way::<PAYLOAD>(n, pin, clock)),
        ];
        for (bytes, r) in &bypassed {
            out.rows.push(measured(
                format!("bypass: shared-memory ring {bytes} B"),
                &r.latency,
                &r.parallelism,
            ));
        }
        let udp_large = kernel_paths
            .iter()
            .find(|(p, b, _)| *p == Proto::Udp && *b == PAYLOAD)
            .map(|(.., r)| r)
            .expect("measured above");
        out.series.push(percentiles(
            format!("kernel path UDP {PAYLOAD} B, receiver {how}"),
            &udp_large.latency,
        ));
        out.series
            .push(percentiles(format!("bypass ring {PAYLOAD} B"), &bypassed[1].1.latency));

        // The budget: the seed's nine stages, measured where this machine can, cited where not.
        let (_, (tcp_fixed, tcp_slope)) = fits.iter().copied().find(|(p, _)| *p == Proto::Tcp).expect("fitted");
        let syscall_ns = at(&syscall, 0.5);
        // Negative only when the machine took the spinning receiver's core away (see the notes).
        let wake_diff = at(&blocked.latency, 0.5) - at(&spinning.latency, 0.5);
        let wake_ns = wake_diff.max(0.0);
        let kernel_stages = [
            (syscall_ns, "measured", Some(at(&syscall, 0.99))),
            ((tcp_fixed - syscall_ns).max(0.0), "measured (fit)", None),
            (tcp_slope * PAYLOAD as f64, "measured (fit)", None),
            (
                if busy { 0.0 } else { wake_ns },
                if busy {
                    "removed: busy-poll"
                } else if wake_diff < 0.0 {
                    "not measurable: busy"
                } else {
                    "measured (diff)"
                },
                None,
            ),
        ];
        let budget_note = "budget: p50s of the measured rows above (fit: TCP send() intercept/slope; diff: blocked − \
                           spinning wakeup); cited rows are constants, not measured";
        let (mut measured_ns, mut cited_ns) = (0.0, 0.0);
        let mut push_budget = |case: String, source: &str, ns: f64, p99: Option<f64>, seed: Option<u64>| {
            if source.starts_with("cited") {
                cited_ns += ns;
            } else {
                measured_ns += ns;
            }
            out.rows.push(Row {
                case,
                figures: figures(source, ns, p99, seed),
                parallel: None,
                parallelism: budget_note.into(),
            });
        };
        for (i, stage) in STAGES.iter().enumerate() {
            let case = format!("[{}] {}", i + 1, stage.name);
            match (i, stage.source) {
                (0..=3, _) if use_bypass => {
                    push_budget(case, "removed: bypass", 0.0, None, Some(stage.seed_ns));
                    if i == 3 {
                        let (_, r) = &bypassed[1];
                        push_budget(
                            format!("[1-4] bypass: {PAYLOAD} B through a shared-memory ring"),
                            "measured",
                            at(&r.latency, 0.5),
                            Some(at(&r.latency, 0.99)),
                            None,
                        );
                    }
                }
                (0..=3, _) => {
                    let (ns, source, p99) = kernel_stages[i];
                    push_budget(case, source, ns, p99, Some(stage.seed_ns));
                }
                (4, _) => push_budget(
                    case,
                    "measured",
                    at(&drv.post, 0.5),
                    Some(at(&drv.post, 0.99)),
                    Some(stage.seed_ns),
                ),
                (_, Source::Analogue) => push_budget(
                    case,
                    "measured (analogue)",
                    at(&drv.doorbell, 0.5),
                    Some(at(&drv.doorbell, 0.99)),
                    Some(stage.seed_ns),
                ),
                (_, Source::Cited(_)) | (_, Source::Measured) => {
                    push_budget(case, "cited", stage.seed_ns as f64, None, Some(stage.seed_ns))
                }
            }
        }
        let total = measured_ns + cited_ns;
        out.rows.push(Row {
            case: format!("total (measured {measured_ns:.0} + cited {cited_ns:.0})"),
            figures: figures("sum", total, None, Some(SEED_TOTAL_NS)),
            parallel: None,
            parallelism: budget_note.into(),
        });

        notes(
            &mut out,
            Context {
                clock,
                fits: &fits,
                blocked: &blocked,
                spinning: &spinning,
                drv_torn: drv.torn,
                kernel_paths: &kernel_paths,
                bypassed: &bypassed,
                kernel_stages_ns: kernel_stages.iter().map(|s| s.0).sum(),
                busy,
                total,
            },
        );
        Ok(out)
    }
}

/// What the notes need.
struct Context<'a> {
    clock: u64,
    fits: &'a [(Proto, (f64, f64))],
    blocked: &'a wake::Measured,
    spinning: &'a wake::Measured,
    drv_torn: u64,
    kernel_paths: &'a [(Proto, usize, OneWay)],
    bypassed: &'a [(usize, OneWay)],
    kernel_stages_ns: f64,
    busy: bool,
    total: f64,
}

/// The run's honest notes: how each figure was made, what is cited and from where.
fn notes(out: &mut RunOutput, c: Context<'_>) {
    out.notes.push(format!(
        "measured on this machine, one run; every latency is an HDR histogram (p50, p99) with the clock's own cost \
         ({} ns, two back-to-back Instant::now) subtracted",
        c.clock
    ));
    for (proto, (fixed, slope)) in c.fits {
        out.notes.push(format!(
            "send() on loopback {}: {fixed:.0} ns + {slope:.3} ns/B (least squares over p50s at {SWEEP:?} B): the copy \
             into the kernel costs {:.0} ns at {PAYLOAD} B ({:.1} GB/s)",
            proto.name(),
            slope * PAYLOAD as f64,
            if *slope > 0.0 { 1.0 / slope } else { f64::INFINITY }
        ));
    }
    out.notes.push(
        "loopback runs the receiving side's IP and transport inside the same send() (loopback_xmit → __netif_rx, the \
         softirq runs on the bottom-half enable before the syscall returns): stage 2 here is TX and RX stack work; a \
         real NIC's send() returns after the driver's xmit"
            .into(),
    );
    let spin_share = c.spinning.app_cpu_share() * 100.0;
    out.notes.push(format!(
        "wakeup (irq-vs-busy-poll's handshake, {WAKE_RATE} packets/s paced): blocked p50 {:.0} ns ({} sleeps for {} \
         packets), spinning p50 {:.0} ns; {}",
        at(&c.blocked.latency, 0.5),
        c.blocked.sleeps,
        c.blocked.received,
        at(&c.spinning.latency, 0.5),
        if c.spinning.ran_in_parallel() {
            format!("the spinning receiver was on a CPU {spin_share:.0}% of the run: busy-poll costs a whole core")
        } else {
            format!(
                "the spinning receiver got a CPU only {spin_share:.0}% of the run (another job has the cores), so its \
                 latency includes the time slices it lost{}",
                if at(&c.spinning.latency, 0.5) > at(&c.blocked.latency, 0.5) {
                    ": spinning came out slower than sleeping, and stage 4 is not measurable this run"
                } else {
                    ""
                }
            )
        }
    ));
    out.notes.push(format!(
        "driver stages on the descriptor ring ({} descriptors, one doorbell per packet, the device a thread on the \
         other core; {} torn descriptors): the doorbell is a Release store to host memory — an analogue; a real one \
         is a posted MMIO write across PCIe (the seed's 60 ns; the mmio demo measures the analogue of posted vs \
         non-posted)",
        driver::DESCRIPTORS,
        c.drv_torn
    ));
    out.notes.push(format!(
        "cited, not measured (no NIC is reachable here): [6] NIC reads the descriptor over PCIe 300 ns, [8] DMA \
         across PCIe 250 ns, [9] SerDes/PHY 80 ns — source: {}",
        super::SEED
    ));
    let udp_large = c
        .kernel_paths
        .iter()
        .find(|(p, b, _)| *p == Proto::Udp && *b == PAYLOAD)
        .map(|(.., r)| r);
    if let (Some(k), Some((_, b))) = (udp_large, c.bypassed.get(1)) {
        out.notes.push(format!(
            "the whole kernel path, UDP {PAYLOAD} B send → recv on the other core, receiver {}: p50 {:.0} ns (the \
             measured kernel stages 1-4 sum to {:.0} ns); kernel bypass through a shared-memory ring: p50 {:.0} ns — {:.1}x less",
            if c.busy { "polling" } else { "blocked" },
            at(&k.latency, 0.5),
            c.kernel_stages_ns,
            at(&b.latency, 0.5),
            at(&k.latency, 0.5) / at(&b.latency, 0.5).max(1.0)
        ));
    }
    let errors: u64 = c.kernel_paths.iter().map(|(.., r)| r.errors).sum::<u64>()
        + c.bypassed.iter().map(|(_, r)| r.errors).sum::<u64>();
    out.notes.push(if errors == 0 {
        "every payload arrived whole and in order (stamp and bytes checked)".into()
    } else {
        format!("ERROR: {errors} payloads arrived wrong (stamp or bytes)")
    });
    out.notes.push(format!(
        "total {:.0} ns against the seed's {SEED_TOTAL_NS} ns: the seed's figures are a budget for a tuned host and \
         a real NIC; here they are this machine's, with the kernel's share measured",
        c.total
    ));
}
