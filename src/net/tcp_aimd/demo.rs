//! The `tcp-aimd` demo: the Reno (or CUBIC, or BBR) window of one bulk flow through the rig's
//! bottleneck, its halving ratio and additive slope against the AIMD model, and the queueing
//! delay it inflicts on a small request; `--simulate` runs the labelled model instead.

use super::{additive_slope, decreases, median, model, percentile, real, sim, sock, Decrease, Sample};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants, NO_ITERATION_LIMIT,
};
use crate::net::rig::{self, RigError, Shape};

/// The `tcp-aimd` demo.
#[derive(Debug)]
pub struct TcpAimdDemo;

/// `tcp-aimd`.
pub static TCP_AIMD: TcpAimdDemo = TcpAimdDemo;

/// How many reductions the cwnd plot marks at most (more would hide the curve).
pub const MARKED_LOSSES: usize = 12;

static SPEC: Spec = Spec {
    name: "tcp-aimd",
    module: "net/tcp_aimd",
    group: Group::Net,
    seed_title: "TCP congestion (AIMD)",
    lesson: "one bulk TCP flow through a bottleneck: cwnd ramps by one segment per RTT and halves on loss (the \
             sawtooth), and the queue it keeps full delays every small request behind it",
    pair: "no broken/fixed pair: a measurement (the small request alone → beside the bulk flow)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(2),
    // Unused: a run is one flow, as long as --seconds.
    default_iterations: 1,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "cc",
            help: "the bulk flow's congestion control (setsockopt TCP_CONGESTION)",
            kind: ParamKind::Choice {
                values: &["reno", "cubic", "bbr"],
                default: "reno",
            },
        },
        Param {
            name: "rate-kbit",
            help: "the bottleneck's rate, kbit/s (tbf rate)",
            kind: ParamKind::Number {
                min: 1_000,
                max: 1_000_000,
                default: 20_000,
                power_of_two: false,
            },
        },
        Param {
            name: "burst-bytes",
            help: "the bottleneck's token bucket depth, bytes (tbf burst)",
            kind: ParamKind::Number {
                min: 1_600,
                max: 1_000_000,
                default: 4_000,
                power_of_two: false,
            },
        },
        Param {
            name: "limit-bytes",
            help: "the bottleneck's queue, bytes (tbf limit): the sawtooth's height",
            kind: ParamKind::Number {
                min: 3_000,
                max: 4_000_000,
                default: 30_000,
                power_of_two: false,
            },
        },
        Param {
            name: "seconds",
            help: "how long the bulk flow runs",
            kind: ParamKind::Number {
                min: 2,
                max: 60,
                default: 6,
                power_of_two: false,
            },
        },
        Param {
            name: "simulate",
            help: "run the labelled AIMD simulation instead of the real stack (needs no root)",
            kind: ParamKind::Flag,
        },
    ],
};

/// The one line a run without root prints (exit 2): the reason and the fallback.
pub fn refusal(demo: &str, why: &RigError) -> UsageError {
    UsageError(format!(
        "{demo}: {why}; or run `{demo} --simulate` for a labelled simulation"
    ))
}

impl Demo for TcpAimdDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let p = &opts.params;
        let cc = p.choice("cc");
        let number = |name| u32::try_from(p.number(name)).expect("bounded by the spec");
        let shape = Shape {
            rate_kbit: number("rate-kbit"),
            burst_bytes: number("burst-bytes"),
            limit_bytes: number("limit-bytes"),
        };
        let seconds = p.number("seconds") as f64;
        if p.flag("simulate") {
            return simulated(opts, cc, shape, seconds);
        }
        measured(opts, cc, shape, seconds, rig::privileged())
    }
}

/// The real run, or the one-line refusal when `privileged` says the rig cannot be made.
pub fn measured(
    opts: &RunOptions,
    cc: &'static str,
    shape: Shape,
    seconds: f64,
    privileged: Result<(), RigError>,
) -> Result<RunOutput, UsageError> {
    privileged.map_err(|e| refusal(SPEC.name, &e))?;
    let shape = shape.validate().map_err(|e| UsageError(e.to_string()))?;
    if !sock::available_congestion().iter().any(|c| c == cc) {
        return Err(UsageError(format!(
            "tcp-aimd: this kernel lacks congestion control `{cc}` (/proc/sys/net/ipv4/tcp_available_congestion_control \
             lists: {}); try `modprobe tcp_{cc}`",
            sock::available_congestion().join(" ")
        )));
    }
    eprintln!("tcp-aimd: {cc} through {} kbit/s, {seconds:.0} s…", shape.rate_kbit);
    let m = real::run(shape, cc, seconds, opts.pin).map_err(|e| UsageError(format!("tcp-aimd: {e}")))?;
    let mut out = RunOutput::new(&SPEC, opts);
    let cuts = decreases(&m.samples);
    let ratios: Vec<f64> = cuts.iter().map(Decrease::ratio).collect();
    let slope = additive_slope(&m.samples, &cuts);
    let (beta, model_text) = model(cc);
    let busy: Vec<f64> = m.busy_rtts.iter().map(|p| p.1).collect();
    let retrans = m.samples.last().map_or(0, |s| s.retrans);
    let mbit = m.bytes as f64 * 8.0 / m.seconds / 1e6;
    let load = sock::load_average();
    let mut figures = window_figures(&cuts, &ratios, beta, slope, &m.samples);
    figures.extend([
        Figure::count("retransmitted segments", retrans),
        Figure::count("qdisc drops", m.qdisc.dropped),
        Figure::number("goodput", mbit, 2, "Mbit/s"),
    ]);
    figures.extend(delay_figures(
        median(&m.idle_rtts),
        median(&busy),
        percentile(&busy, 99.0),
    ));
    out.rows.push(Row {
        case: m.cc.clone(),
        figures,
        parallel: None,
        parallelism: format!(
            "not a parallel-cores measurement: the threads wait on sockets (load average {load} while it ran)"
        ),
    });
    let states: Vec<String> = sock::CA_STATES
        .iter()
        .zip(m.states)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    out.notes.push(format!(
        "measured on the real stack: {} TCP_INFO samples every {} ms over {:.1} s, MSS {} bytes, congestion control \
         read back: {}; bottleneck tbf {} kbit/s, burst {} B, limit {} B; load average {load}",
        m.samples.len(),
        real::SAMPLE_EVERY.as_millis(),
        m.seconds,
        m.mss,
        m.cc,
        shape.rate_kbit,
        shape.burst_bytes,
        shape.limit_bytes
    ));
    out.notes.push(format!("model: {model_text}"));
    out.notes.push(format!(
        "congestion states by sample: {}; {retrans} retransmissions for {} qdisc drops — Recovery/Loss are the \
         textbook paths (duplicate ACKs / SACK, the timer); CWR is a drop the local qdisc reported to TCP at once \
         (NET_XMIT_DROP), cut without a retransmission",
        states.join(", "),
        m.qdisc.dropped
    ));
    out.notes.push(format!(
        "small request: {} B every {} ms on its own connection through the same queue, {} alone then {} beside the \
         bulk flow",
        real::PROBE_BYTES,
        real::PROBE_EVERY.as_millis(),
        m.idle_rtts.len(),
        busy.len()
    ));
    if cc == "bbr" {
        out.notes.push(
            "BBR paces at its estimate of the bottleneck rate and caps inflight near the BDP: no sawtooth and no \
             halving; its cwnd is not driven by loss"
                .into(),
        );
    }
    out.series = window_series(cc, &m.samples, &cuts, false);
    out.series.push(Series::new(
        "qdisc drops, cumulative (tc -s qdisc, every 50 ms)",
        ("time", "s"),
        ("drops", "packets"),
        m.drops.clone(),
    ));
    out.series.push(Series::new(
        "small request RTT beside the bulk flow",
        ("time", "s"),
        ("RTT", "ms"),
        m.busy_rtts.clone(),
    ));
    Ok(out)
}

fn window_figures(
    cuts: &[Decrease],
    ratios: &[f64],
    beta: Option<f64>,
    slope: Option<f64>,
    s: &[Sample],
) -> Vec<Figure> {
    let lo = s.iter().map(|s| s.cwnd).fold(f64::INFINITY, f64::min);
    let hi = s.iter().map(|s| s.cwnd).fold(0.0, f64::max);
    let or_text = |label: &str, v: Option<f64>, why: &str| match v {
        Some(v) if v.is_finite() => Figure::number(label, v, 2, ""),
        _ => Figure::text(label, why),
    };
    vec![
        Figure::count("window reductions", cuts.len() as u64),
        or_text(
            "halving ratio (median)",
            (!ratios.is_empty()).then(|| median(ratios)),
            "no reduction",
        ),
        or_text("model β", beta, "n/a"),
        or_text("AI slope (seg/RTT)", slope, "too few epochs"),
        Figure::text("cwnd range (seg)", &format!("{lo:.0}–{hi:.0}")),
    ]
}

fn delay_figures(idle: f64, busy: f64, busy_p99: f64) -> Vec<Figure> {
    vec![
        Figure::number("small req RTT alone (ms)", idle, 3, "ms"),
        Figure::number("… beside bulk, median (ms)", busy, 3, "ms"),
        Figure::number("… beside bulk, p99 (ms)", busy_p99, 3, "ms"),
        Figure::number("queueing delay added (ms)", busy - idle, 3, "ms"),
    ]
}

/// cwnd and ssthresh over time, the reductions marked.
fn window_series(cc: &str, samples: &[Sample], cuts: &[Decrease], simulated: bool) -> Vec<Series> {
    let label = if simulated { "SIMULATED " } else { "" };
    let mut cwnd = Series::new(
        format!(
            "{label}cwnd of one {cc} flow ({})",
            if simulated { "per RTT" } else { "TCP_INFO every 2 ms" }
        ),
        ("time", "s"),
        ("cwnd", "segments"),
        samples.iter().map(|s| (s.t, s.cwnd)).collect(),
    );
    // Every k-th reduction, so the marks spread over the whole run.
    let every = cuts.len().div_ceil(MARKED_LOSSES).max(1);
    for d in cuts.iter().step_by(every) {
        cwnd = cwnd.mark(d.t, "loss");
    }
    let ssthresh = Series::new(
        format!("{label}ssthresh of the {cc} flow (after the first loss)"),
        ("time", "s"),
        ("ssthresh", "segments"),
        samples
            .iter()
            .filter(|s| s.ssthresh.is_finite())
            .map(|s| (s.t, s.ssthresh))
            .collect(),
    );
    let retrans = Series::new(
        format!("{label}retransmitted segments, cumulative"),
        ("time", "s"),
        ("segments", ""),
        samples.iter().map(|s| (s.t, s.retrans as f64)).collect(),
    );
    vec![cwnd, ssthresh, retrans]
}

fn simulated(opts: &RunOptions, cc: &'static str, shape: Shape, seconds: f64) -> Result<RunOutput, UsageError> {
    if cc == "bbr" {
        return Err(UsageError(
            "tcp-aimd --simulate models loss-based AIMD (--cc reno or cubic); BBR is model-based and has no \
             sawtooth to simulate"
                .into(),
        ));
    }
    let s = sim::simulate(cc, shape.rate_kbit, shape.limit_bytes, seconds);
    let cuts = decreases(&s.samples);
    let ratios: Vec<f64> = cuts.iter().map(Decrease::ratio).collect();
    let (beta, model_text) = model(cc);
    let mut out = RunOutput::new(&SPEC, opts);
    let mut figures = window_figures(&cuts, &ratios, beta, additive_slope(&s.samples, &cuts), &s.samples);
    figures.push(Figure::count("simulated losses", s.losses));
    figures.extend(delay_figures(s.idle_rtt_ms, s.busy_rtt_ms, f64::NAN));
    out.rows.push(Row {
        case: format!("{cc} (SIMULATED)"),
        figures,
        parallel: None,
        parallelism: "simulated: no threads, no network".into(),
    });
    out.notes.push(format!(
        "SIMULATED, not measured: the AIMD model stepped one RTT at a time ({model_text}); link {} kbit/s, queue {} \
         B, base RTT {} ms; its ratios are the model's inputs. The real run needs root (the rig's namespaces).",
        shape.rate_kbit,
        shape.limit_bytes,
        sim::BASE_RTT * 1e3
    ));
    out.notes
        .push("simulated small request: the mean RTT over the flow's round trips (base RTT + queue / rate)".into());
    out.series = window_series(cc, &s.samples, &cuts, true);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::ParamValues;

    fn opts(given: &[(&str, Option<&str>)]) -> RunOptions {
        let given: Vec<(String, Option<String>)> = given
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
            .collect();
        RunOptions {
            threads: 2,
            iterations: 1,
            pin: crate::hw::Pin::Spread,
            params: ParamValues::resolve(&SPEC, &given).unwrap(),
        }
    }

    #[test]
    fn without_root_the_run_refuses_in_one_line_naming_simulate() {
        let e = measured(&opts(&[]), "reno", Shape::SAWTOOTH, 2.0, Err(RigError::NeedsRoot)).unwrap_err();
        assert!(!e.0.contains('\n'));
        assert!(e.0.contains("--simulate") && e.0.contains("root"), "{e}");
    }

    #[test]
    fn the_simulation_is_labelled_and_computes_its_ratios() {
        let o = opts(&[("simulate", None), ("seconds", Some("3"))]);
        let out = TCP_AIMD.run(&[], &o).unwrap();
        assert!(out.rows[0].case.contains("SIMULATED"));
        assert!(out.notes[0].starts_with("SIMULATED"));
        assert!(out.series.iter().all(|s| s.name.starts_with("SIMULATED")));
        let ratio = &out.rows[0].figures[1];
        assert!((ratio.value - 0.5).abs() < 0.06, "{ratio:?}");
        assert!(!out.series[0].marks.is_empty());
        let bbr = opts(&[("simulate", None), ("cc", Some("bbr"))]);
        assert!(TCP_AIMD.run(&[], &bbr).unwrap_err().0.contains("BBR"));
    }
}
