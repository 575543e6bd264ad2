//! The `tcp-incast` demo: N synchronised senders answer one receiver through a small buffer;
//! goodput against N, the RTO stalls, and the cliff; `--simulate` runs the labelled model.

use super::{cliff, is_stall, real, sim, sweep};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants, NO_ITERATION_LIMIT,
};
use crate::net::rig::{self, RigError, Shape};
use crate::net::tcp_aimd::demo::refusal;
use crate::net::tcp_aimd::{median, sock};

/// The `tcp-incast` demo.
#[derive(Debug)]
pub struct TcpIncastDemo;

/// `tcp-incast`.
pub static TCP_INCAST: TcpIncastDemo = TcpIncastDemo;

/// `--big-buffer` multiplies `--buffer` by this.
pub const BIG_BUFFER: u32 = 16;
/// Linux's minimum RTO (`TCP_RTO_MIN`, include/net/tcp.h), ms.
pub const LINUX_RTO_MIN_MS: u64 = 200;
/// The cliff: goodput below this fraction of the best at a smaller N, from there on.
pub const CLIFF_FRACTION: f64 = 0.5;
/// The bottleneck's token bucket depth: two full frames.
pub const BURST_BYTES: u32 = 3_028;

static SPEC: Spec = Spec {
    name: "tcp-incast",
    module: "net/tcp_incast",
    group: Group::Net,
    seed_title: "TCP incast",
    lesson: "N synchronised answers overflow a small port buffer: dropped tails wait a 200 ms minimum RTO and \
             goodput collapses past a cliff N; a bigger buffer moves the cliff, a short RTO removes it",
    pair: "no broken/fixed pair: a measurement (a small buffer and Linux's 200 ms RTO floor → --big-buffer or \
           --rto-min 10)",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    // The receiver's thread; the senders' threads are --senders.
    threads: Threads::Fixed(1),
    // Unused: rounds per N are --rounds.
    default_iterations: 1,
    max_iterations: NO_ITERATION_LIMIT,
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "senders",
            help: "the largest N of the sweep: sender threads answering at once",
            kind: ParamKind::Number {
                min: 1,
                max: 64,
                default: 16,
                power_of_two: false,
            },
        },
        Param {
            name: "buffer",
            help: "the bottleneck port's buffer, bytes (tbf limit)",
            kind: ParamKind::Number {
                min: 3_000,
                max: 4_000_000,
                default: 32_000,
                power_of_two: false,
            },
        },
        Param {
            name: "big-buffer",
            help: "a 16x buffer: the cliff moves to a larger N",
            kind: ParamKind::Flag,
        },
        Param {
            name: "rto-min",
            help: "minimum RTO on the senders' route, ms (200 = Linux's default, the route untouched)",
            kind: ParamKind::Number {
                min: 1,
                max: 200,
                default: 200,
                power_of_two: false,
            },
        },
        Param {
            name: "rate-kbit",
            help: "the bottleneck's rate, kbit/s (tbf rate)",
            kind: ParamKind::Number {
                min: 1_000,
                max: 1_000_000,
                default: 100_000,
                power_of_two: false,
            },
        },
        Param {
            name: "block",
            help: "bytes each sender answers per round",
            kind: ParamKind::Number {
                min: 1_024,
                max: 1_048_576,
                default: 65_536,
                power_of_two: false,
            },
        },
        Param {
            name: "rounds",
            help: "measured rounds per N (after one warm-up round)",
            kind: ParamKind::Number {
                min: 1,
                max: 100,
                default: 5,
                power_of_two: false,
            },
        },
        Param {
            name: "fine",
            help: "sweep every N from 1 to --senders (longer)",
            kind: ParamKind::Flag,
        },
        Param {
            name: "simulate",
            help: "run the labelled incast simulation instead of the real stack (needs no root)",
            kind: ParamKind::Flag,
        },
    ],
};

/// The run's settings, from the params.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The bottleneck.
    pub shape: Shape,
    /// Bytes per answer.
    pub block: usize,
    /// The sweep's largest N.
    pub senders: usize,
    /// Measured rounds per N.
    pub rounds: usize,
    /// Minimum RTO, ms.
    pub rto_min_ms: u64,
    /// Every N, not the ladder.
    pub fine: bool,
}

impl Settings {
    fn from(opts: &RunOptions) -> Self {
        let p = &opts.params;
        let buffer = u32::try_from(p.number("buffer")).expect("bounded by the spec");
        Settings {
            shape: Shape {
                rate_kbit: u32::try_from(p.number("rate-kbit")).expect("bounded by the spec"),
                burst_bytes: BURST_BYTES,
                limit_bytes: if p.flag("big-buffer") {
                    buffer * BIG_BUFFER
                } else {
                    buffer
                },
            },
            block: p.number("block") as usize,
            senders: p.number("senders") as usize,
            rounds: p.number("rounds") as usize,
            rto_min_ms: p.number("rto-min"),
            fine: p.flag("fine"),
        }
    }

    /// Seconds `n` answers take at the bottleneck's rate (wire bytes: 1,514 per 1,448 of payload).
    pub fn ideal(&self, n: usize) -> f64 {
        let wire = (self.block as f64 / sim::MSS).ceil() * sim::WIRE_BYTES * n as f64;
        wire * 8.0 / (f64::from(self.shape.rate_kbit) * 1000.0)
    }
}

/// What one N gave, however it was obtained.
struct Point {
    n: usize,
    goodput_mbit: f64,
    typical_mbit: f64,
    median_ms: f64,
    stalled: usize,
    rounds: usize,
    drops: u64,
    retrans: Option<u64>,
    rto_ms: Option<f64>,
}

impl Demo for TcpIncastDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let s = Settings::from(opts);
        if opts.params.flag("simulate") {
            return Ok(simulated(opts, s));
        }
        measured(opts, s, rig::privileged())
    }
}

fn point(s: &Settings, n: usize, times: &[f64], drops: u64, retrans: Option<u64>, rto_ms: Option<f64>) -> Point {
    let total: f64 = times.iter().sum();
    let rto = s.rto_min_ms as f64 / 1e3;
    Point {
        n,
        goodput_mbit: (n * s.block * times.len()) as f64 * 8.0 / total / 1e6,
        typical_mbit: (n * s.block) as f64 * 8.0 / median(times) / 1e6,
        median_ms: median(times) * 1e3,
        stalled: times.iter().filter(|&&t| is_stall(t, s.ideal(n), rto)).count(),
        rounds: times.len(),
        drops,
        retrans,
        rto_ms,
    }
}

/// The real sweep, or the one-line refusal when `privileged` says the rig cannot be made.
pub fn measured(opts: &RunOptions, s: Settings, privileged: Result<(), RigError>) -> Result<RunOutput, UsageError> {
    privileged.map_err(|e| refusal(SPEC.name, &e))?;
    let ns = sweep(s.senders, s.fine);
    let rto = (s.rto_min_ms < LINUX_RTO_MIN_MS).then_some(s.rto_min_ms);
    let load_before = sock::load_average();
    let results = real::run(s.shape, s.block, &ns, s.rounds, rto, opts.pin, |n| {
        eprintln!("tcp-incast: N = {n} senders, {} rounds…", s.rounds + 1);
    })
    .map_err(|e| UsageError(format!("tcp-incast: {e}")))?;
    let points: Vec<Point> = results
        .iter()
        .map(|r| point(&s, r.n, &r.rounds, r.drops, Some(r.retrans), Some(r.rto_ms)))
        .collect();
    let mut out = RunOutput::new(&SPEC, opts);
    let load = sock::load_average();
    fill(&mut out, &s, &points, false, &load);
    out.notes.insert(
        0,
        format!(
            "measured on the real stack: tbf {} kbit/s, buffer {} B, {} B per answer, {} rounds per N after a warm-up, \
             minimum RTO {} ms{}; load average {load_before} before, {load} after",
            s.shape.rate_kbit,
            s.shape.limit_bytes,
            s.block,
            s.rounds,
            s.rto_min_ms,
            if rto.is_some() { " (set on the senders' route)" } else { " (Linux's default)" },
        ),
    );
    out.notes.push(
        "topology: the senders live in a namespace of their own, forwarded through the rig's sender namespace to \
         its tbf (a switch port), so a drop is lost in the network, not reported to the socket; sender RTO: the \
         largest TCP_INFO rto of the N sockets at the end of the rounds"
            .into(),
    );
    Ok(out)
}

fn fill(out: &mut RunOutput, s: &Settings, points: &[Point], simulated: bool, load: &str) {
    let label = if simulated { "SIMULATED " } else { "" };
    for p in points {
        let mut figures = vec![
            Figure::number("goodput", p.goodput_mbit, 1, "Mbit/s"),
            Figure::number("median-round goodput", p.typical_mbit, 1, "Mbit/s"),
            Figure::number(
                "of the link",
                p.goodput_mbit * 1e3 / f64::from(s.shape.rate_kbit) * 100.0,
                0,
                "%",
            ),
            Figure::number("median round (ms)", p.median_ms, 1, "ms"),
            Figure::number("ideal round (ms)", s.ideal(p.n) * 1e3, 1, "ms"),
            Figure::text("RTO-stalled rounds", &format!("{}/{}", p.stalled, p.rounds)),
            Figure::count("drops", p.drops),
        ];
        figures.push(match p.retrans {
            Some(r) => Figure::count("retransmits", r),
            None => Figure::text("retransmits", "= drops (model)"),
        });
        figures.push(match p.rto_ms {
            Some(r) => Figure::number("sender RTO (ms)", r, 0, "ms"),
            None => Figure::text("sender RTO (ms)", &format!("{} (model)", s.rto_min_ms)),
        });
        out.rows.push(Row {
            case: format!("{label}N = {}", p.n),
            figures,
            parallel: None,
            parallelism: if simulated {
                "simulated: no threads, no network".into()
            } else {
                format!(
                    "{} sender threads wait on sockets, not a parallel-cores measurement (load average {load})",
                    p.n
                )
            },
        });
    }
    // The cliff is found on the median round's goodput: one stalled round in five halves the mean
    // at small N, and noise from a busy machine should not move the cliff.
    let typical: Vec<(f64, f64)> = points.iter().map(|p| (p.n as f64, p.typical_mbit)).collect();
    let found = cliff(&typical, CLIFF_FRACTION);
    let mut series = Series::new(
        format!(
            "{label}incast goodput of the median round against N (buffer {} B, min RTO {} ms)",
            s.shape.limit_bytes, s.rto_min_ms
        ),
        ("senders N", ""),
        ("goodput", "Mbit/s"),
        typical,
    );
    if let Some(n) = found {
        series = series.mark(n, "cliff");
    }
    out.series.push(series);
    out.series.push(Series::new(
        format!("{label}incast goodput over all rounds against N"),
        ("senders N", ""),
        ("goodput", "Mbit/s"),
        points.iter().map(|p| (p.n as f64, p.goodput_mbit)).collect(),
    ));
    out.series.push(Series::new(
        format!("{label}rounds stalled by an RTO"),
        ("senders N", ""),
        ("stalled rounds", "%"),
        points
            .iter()
            .map(|p| (p.n as f64, p.stalled as f64 * 100.0 / p.rounds.max(1) as f64))
            .collect(),
    ));
    let best = points.iter().map(|p| p.typical_mbit).fold(0.0, f64::max);
    let worst_after = found
        .and_then(|n| {
            points
                .iter()
                .filter(|p| p.n as f64 >= n)
                .map(|p| p.typical_mbit)
                .reduce(f64::min)
        })
        .unwrap_or(best);
    out.notes.push(match found {
        Some(n) => format!(
            "cliff at N = {n:.0}: from there the median round's goodput stayed below {:.0}% of the best at smaller N; \
             worst past it {:.1} Mbit/s, {:.0}% below the best {:.1} Mbit/s (Vasudevan et al., SIGCOMM 2009: throughput \"reduced by up to 90%\")",
            CLIFF_FRACTION * 100.0,
            worst_after,
            (1.0 - worst_after / best) * 100.0,
            best
        ),
        None => format!(
            "no cliff up to N = {}: goodput never stayed below {:.0}% of the best at a smaller N (Vasudevan et al., \
             SIGCOMM 2009, saw throughput \"reduced by up to 90%\" past it; try a larger --senders or a smaller \
             --buffer)",
            s.senders,
            CLIFF_FRACTION * 100.0
        ),
    });
}

fn simulated(opts: &RunOptions, s: Settings) -> RunOutput {
    let rto = s.rto_min_ms as f64 / 1e3;
    let points: Vec<Point> = sweep(s.senders, s.fine)
        .into_iter()
        .map(|n| {
            let r = sim::round(n, s.block, s.shape.rate_kbit, s.shape.limit_bytes, rto);
            let mut p = point(&s, n, &[r.seconds], r.drops, None, None);
            p.stalled = usize::from(r.timeouts > 0);
            p
        })
        .collect();
    let mut out = RunOutput::new(&SPEC, opts);
    fill(&mut out, &s, &points, true, "");
    out.notes.insert(
        0,
        format!(
            "SIMULATED, not measured: the port model stepped one RTT at a time (initial window 10, tail drops, a \
             flow that lost its tail waits the minimum RTO of {} ms); link {} kbit/s, buffer {} B, {} B per answer; \
             deterministic, so one round per N. The real run needs root (the rig's namespaces).",
            s.rto_min_ms, s.shape.rate_kbit, s.shape.limit_bytes, s.block
        ),
    );
    out
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
            threads: 1,
            iterations: 1,
            pin: crate::hw::Pin::Spread,
            params: ParamValues::resolve(&SPEC, &given).unwrap(),
        }
    }

    #[test]
    fn without_root_the_run_refuses_in_one_line_naming_simulate() {
        let o = opts(&[]);
        let e = measured(&o, Settings::from(&o), Err(RigError::NeedsRoot))
            .err()
            .unwrap();
        assert!(!e.0.contains('\n'));
        assert!(e.0.contains("tcp-incast --simulate"), "{e}");
    }

    #[test]
    fn the_simulation_is_labelled_finds_the_cliff_and_a_short_rto_lifts_it() {
        let out = TCP_INCAST.run(&[], &opts(&[("simulate", None)])).unwrap();
        assert!(out.notes[0].starts_with("SIMULATED"));
        assert!(out.rows.iter().all(|r| r.case.starts_with("SIMULATED")));
        assert_eq!(out.rows.len(), sweep(16, false).len());
        assert_eq!(out.series[0].marks.len(), 1, "{:?}", out.series[0]);
        let short = TCP_INCAST
            .run(&[], &opts(&[("simulate", None), ("rto-min", Some("1"))]))
            .unwrap();
        let at = |o: &RunOutput| o.series[0].points.last().unwrap().1;
        assert!(at(&short) > 3.0 * at(&out), "{} vs {}", at(&short), at(&out));
    }
}
