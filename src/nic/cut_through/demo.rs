//! The `cut-through` demo: time to first and last byte, store-and-forward vs cut-through, on two
//! pinned cores; and the aborted frame the broken MAC sends as good.

use super::{
    compare_on_cores, loom, replay, run_on_cores, shuttle, Chunk, CoreRun, LineRate, Mode, ABORT_EVERY, FRAME_SIZES,
};
use crate::check::Report;
use crate::hw::Pin;
use crate::lab::{
    BugClass, Can, Case, Checker, Demo, Detection, Figure, Group, Param, ParamKind, Replay, Row, RunOptions, RunOutput,
    Spec, Threads, UsageError, Variant, Variants,
};

/// The model's frames: a good one, then one its sender aborts; two chunks each (64 + 36 bytes).
const MODEL_FRAMES: &[(usize, bool)] = &[(100, false), (100, true)];

/// Ring capacity under the checkers: each frame fits, the PCIe side still meets a full ring.
const MODEL_CAPACITY: usize = 2;

/// The `cut-through` demo.
#[derive(Debug)]
pub struct CutThroughDemo;

/// `cut-through`.
pub static CUT_THROUGH: CutThroughDemo = CutThroughDemo;

static SPEC: Spec = Spec {
    name: "cut-through",
    module: "nic/cut_through",
    group: Group::Nic,
    seed_title: "Cut-through (CTPIO)",
    lesson: "cut-through puts a frame's first byte on the wire before its last byte has crossed PCIe, so a frame \
             aborted mid-stream must go out poisoned",
    pair: "a streamed frame ends with a valid FCS whatever its last chunk says → poisoned when it says ABORT",
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
        2_000_000,
        "every frame's timestamps are kept for the medians (48 bytes per frame)",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "frame",
            help: "the frame size in bytes (all: 64, 1500 and 9000)",
            kind: ParamKind::Choice {
                values: &["all", "64", "1500", "9000"],
                default: "all",
            },
        },
        Param {
            name: "line-rate",
            help: "the modelled wire's rate in Gb/s (off: the wire is a buffer, no serialisation time)",
            kind: ParamKind::Choice {
                values: &["10", "25", "100", "off"],
                default: "10",
            },
        },
    ],
};

fn figures(r: &CoreRun, first_byte_gain: f64) -> Vec<Figure> {
    vec![
        Figure::count("frames", r.frames),
        Figure::number("1st byte p50 ns", r.first_byte.p50, 0, "ns"),
        Figure::number("p99", r.first_byte.p99, 0, "ns"),
        Figure::number("last byte p50 ns", r.last_byte.p50, 0, "ns"),
        Figure::number("p99", r.last_byte.p99, 0, "ns"),
        Figure::number("1st-byte gain", first_byte_gain, 1, "x"),
        Figure::count("aborted", r.aborted),
        Figure::count("dropped", r.dropped),
        Figure::count("poisoned", r.poisoned),
        Figure::count("bad sent as good", r.bad_as_good),
        Figure::count("good lost", r.good_lost),
        Figure::count("wire stalls", r.stalls),
    ]
}

impl Demo for CutThroughDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let sizes: Vec<usize> = match opts.params.choice("frame") {
            "all" => FRAME_SIZES.to_vec(),
            n => vec![n
                .parse()
                .map_err(|_| UsageError(format!("cut-through: bad --frame {n}")))?],
        };
        let line = match opts.params.choice("line-rate") {
            "off" => LineRate::Unpaced,
            g => LineRate::Gbps(
                g.parse()
                    .map_err(|_| UsageError(format!("cut-through: bad --line-rate {g}")))?,
            ),
        };
        let mut misordered = 0;
        for case in cases {
            let variant = case.variant();
            for &size in &sizes {
                let [sf, ct] = compare_on_cores(variant, size, opts.iterations, line, opts.pin);
                misordered += sf.misordered + ct.misordered;
                let gain = sf.first_byte.p50 / ct.first_byte.p50.max(1.0);
                if variant == Variant::Fixed || cases.len() == 1 {
                    out.notes.push(format!(
                        "{size} B: cut-through's first byte left {gain:.1}x sooner (p50 {:.0} ns vs {:.0} ns), its last \
                         byte {:.2}x sooner (p50 {:.0} ns vs {:.0} ns)",
                        ct.first_byte.p50,
                        sf.first_byte.p50,
                        sf.last_byte.p50 / ct.last_byte.p50.max(1.0),
                        ct.last_byte.p50,
                        sf.last_byte.p50,
                    ));
                }
                for (mode, r, g) in [(Mode::StoreAndForward, &sf, 1.0), (Mode::CutThrough, &ct, gain)] {
                    out.rows.push(Row::on_cores(
                        format!("{variant} {} {size} B", mode.name()),
                        figures(r, g),
                        &r.parallelism,
                    ));
                }
            }
        }
        out.notes.push(format!(
            "measured: time from the PCIe thread starting a frame to its first byte on the wire (one monotonic clock; \
             medians and p99 over the good frames; each frame starts on an idle pipe; store-and-forward and \
             cut-through measured in alternation, 10 rounds each). Analogue: the \"PCIe\" transfer is 64-byte chunks \
             crossing between two cores through the lab's SPSC ring. Modelled: the wire serialises at {}; the last \
             byte is each chunk's measured arrival plus that serialisation. No NIC is reachable here: the device is \
             real code on a real core",
            line.describe()
        ));
        out.notes.push(format!(
            "every {ABORT_EVERY}th frame is aborted by its sender (ABORT in its last chunk): store-and-forward drops it \
             whole; cut-through has sent its head already, so the fixed MAC ends it poisoned and the broken one ends it \
             with a valid FCS (\"bad sent as good\"). A 64-byte frame is one chunk: always dropped whole"
        ));
        out.notes.push(format!(
            "chunks out of order: {misordered} (the ring keeps them in order). wire stalls: streamed chunks that arrived \
             after the modelled wire had sent everything before them (the host slower than the line); the model \
             starts such a chunk when it arrives, where a real NIC, which cannot pause a frame, would underrun and \
             poison it"
        ));
        Ok(out)
    }

    fn check(&self, case: Case, checker: Checker) -> Report {
        let ring = MODEL_CAPACITY;
        let ct = Mode::CutThrough;
        // PCIe and wire threads plus the main one: loom bounds preemptions, PCT looks at depth 3.
        match (checker, case.variant()) {
            (Checker::Loom, Variant::Broken) => checker.explore(3, move || {
                loom::scenario::stream::<loom::broken::Mac, _, _>(
                    crate::spsc::loom::fixed::channel::<Chunk>,
                    ring,
                    ct,
                    MODEL_FRAMES,
                )
            }),
            (Checker::Loom, Variant::Fixed) => checker.explore(3, move || {
                loom::scenario::stream::<loom::fixed::Mac, _, _>(
                    crate::spsc::loom::fixed::channel::<Chunk>,
                    ring,
                    ct,
                    MODEL_FRAMES,
                )
            }),
            (_, Variant::Broken) => checker.explore(3, move || {
                shuttle::scenario::stream::<shuttle::broken::Mac, _, _>(
                    crate::spsc::shuttle::fixed::channel::<Chunk>,
                    ring,
                    ct,
                    MODEL_FRAMES,
                )
            }),
            (_, Variant::Fixed) => checker.explore(3, move || {
                shuttle::scenario::stream::<shuttle::fixed::Mac, _, _>(
                    crate::spsc::shuttle::fixed::channel::<Chunk>,
                    ring,
                    ct,
                    MODEL_FRAMES,
                )
            }),
        }
    }

    fn replay(&self, variant: Variant) -> Option<Replay> {
        let (steps, outcome) = replay(variant);
        Some(Replay {
            demo: SPEC.name.into(),
            intro: format!(
                "One 6-chunk frame (384 B) at a time, on the {variant} MAC, with the real SPSC ring and the real MAC \
                 played on one thread: each tick one chunk crosses PCIe, then the wire side polls. Legend: . not yet \
                 arrived, P arrived over PCIe, W on the wire, x dropped. Scenes: a good frame under store-and-forward, \
                 then cut-through; a frame its sender aborts (ABORT in its last chunk) under cut-through, then \
                 store-and-forward."
            ),
            steps: steps.iter().map(ToString::to_string).collect(),
            outcome,
        })
    }

    fn detect_on_cores(&self, _case: Case) -> Detection {
        let r = run_on_cores(
            Variant::Broken,
            Mode::CutThrough,
            1_500,
            4_000,
            LineRate::Gbps(10),
            Pin::Spread,
        );
        if r.bad_as_good == 0 && !r.parallelism.ran_in_parallel() {
            return Detection::Blind("no: the threads did not run in parallel (machine busy)".into());
        }
        Detection::from_count(
            r.bad_as_good,
            r.frames,
            format!(
                "found: {} of {} aborted 1,500 B frames sent as good, in {} frames",
                r.bad_as_good, r.aborted, r.frames
            ),
            format!("missed: 0 of {} aborted frames sent as good", r.aborted),
        )
    }
}
