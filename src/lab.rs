//! The lab: the registry of demos behind `cargo run --release`, and what each one can do.
//!
//! Every demo drives real code: `run` executes the structure on your cores, `check` runs a
//! model checker in-process and turns its counterexample into numbered steps, `step` replays a
//! known failing interleaving one step at a time, and `matrix` runs every broken variant under
//! every checker. The binary (`src/main.rs`) only parses arguments and prints.

use std::fmt;

use serde::Serialize;

use crate::check::{self, Report};
use crate::hw::Pin;
use crate::litmus::{Litmus, Mode};

/// A seed group: its title and its demos, each with the lab demos that make it real.
pub type SeedGroup = (&'static str, &'static [(&'static str, &'static [&'static str])]);

/// The seed site's groups, with the demos of each; `built` names the lab demos that make a
/// seed demo real (empty: not built yet).
pub const SEED: &[SeedGroup] = &[
    (
        "Concurrency & the memory model",
        &[
            ("Memory reordering", &["message-passing", "store-buffering", "iriw"]),
            ("CAS retry loop", &["cas-retry", "lost-update"]),
            ("The ABA problem", &["aba"]),
            ("SPSC ring buffer", &["spsc"]),
            ("MPMC ring", &["mpmc"]),
            ("RCU grace period", &["rcu", "rcu-grace"]),
            ("False sharing", &["false-sharing"]),
        ],
    ),
    (
        "The NIC datapath",
        &[
            ("Descriptor ring (RX/TX)", &[]),
            ("Send path latency", &[]),
            ("Interrupt vs busy-poll (RX)", &[]),
            ("MMIO write vs read", &[]),
            ("IOMMU / IOVA", &[]),
            ("NAPI poll loop", &[]),
            ("Cut-through (CTPIO)", &[]),
            ("RDMA queue pair", &[]),
        ],
    ),
    (
        "CPU & microarchitecture",
        &[
            ("Cache hierarchy", &[]),
            ("Cache locality", &[]),
            ("MESI coherence", &[]),
            ("TLB & page walk", &[]),
            ("Branch prediction", &[]),
            ("NUMA local vs remote", &[]),
            ("Batching", &[]),
        ],
    ),
    (
        "Networking, TCP & AI fabric",
        &[
            ("TCP encapsulation", &[]),
            ("TCP 3-way handshake", &[]),
            ("TCP congestion (AIMD)", &[]),
            ("TCP incast", &[]),
            ("All-reduce: ring vs tree", &[]),
        ],
    ),
];

/// A demo of the lab.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Demo {
    /// The name the command line takes.
    pub name: &'static str,
    /// The concept module it drives.
    pub concept: &'static str,
    /// One-line lesson.
    pub lesson: &'static str,
    /// The orderings `--ordering` accepts (empty: the demo has broken/fixed variants only).
    #[serde(serialize_with = "ser_modes")]
    pub orderings: &'static [Mode],
    /// The ordering `--variant broken` / `fixed` stands for, for litmus demos.
    #[serde(skip)]
    pub variant_orderings: Option<(Mode, Mode)>,
    /// Can it run on real cores / under a checker / step by step?
    pub run: bool,
    /// See `run`.
    pub check: bool,
    /// See `run`.
    pub step: bool,
    /// Fixed thread count (litmus tests), or `None` when `--threads` is accepted.
    pub fixed_threads: Option<usize>,
    /// The largest `--iterations` a run accepts, and why (a run keeps every outcome, value or
    /// retired version in memory): a run always fits in bounded memory.
    #[serde(skip)]
    pub max_iterations: (u64, &'static str),
    /// The ordering whose loom counterexample is loom's known SeqCst false positive: loom models
    /// SeqCst loads and stores as Acquire/Release (loom issue #180), so a correct SeqCst-only
    /// protocol is reported as broken.
    #[serde(skip)]
    pub loom_false_positive: Option<Mode>,
}

fn ser_modes<S: serde::Serializer>(modes: &&'static [Mode], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(modes.iter().map(|m| m.name()))
}

impl Demo {
    /// What a learner can do with it, for the tables.
    pub fn abilities(&self) -> String {
        let mut v = Vec::new();
        if self.run {
            v.push("run");
        }
        if self.check {
            v.push("check");
        }
        if self.step {
            v.push("step");
        }
        v.join(" · ")
    }
}

const LITMUS_MODES: &[Mode] = &Mode::ALL;

/// Whether the reclaimer (cargo feature `epoch`) is compiled in.
const EPOCH: bool = cfg!(feature = "epoch");

/// `max_iterations` of a demo whose run keeps nothing per iteration: the CLI's own bound.
const NO_LIMIT: (u64, &str) = (1_000_000_000, "the lab's bound on any run");
/// Litmus runs keep both threads' outcome of every round (16 bytes each) to compare them.
const LITMUS_ROUNDS: u64 = 10_000_000;
const LITMUS_WHY: &str = "both threads keep every round's outcome in memory to compare them";
/// The MPMC run keeps every value it delivers (8 bytes each) to find lost and duplicated ones:
/// producers x iterations is bounded (400 MB of values).
pub const MPMC_VALUES: u64 = 50_000_000;
const MPMC_WHY: &str = "the run keeps every delivered value (8 bytes) to find lost and duplicated ones; \
                        producers (threads / 2) x iterations must stay within it";

/// Every demo the lab has built.
pub const DEMOS: &[Demo] = &[
    Demo {
        name: "lost-update",
        concept: "counter",
        lesson: "load-then-store loses increments; fetch_add cannot",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: true,
        step: true,
        fixed_threads: None,
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
    Demo {
        name: "cas-retry",
        concept: "counter",
        lesson: "a CAS loop retries when another thread wins; count the retries",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: true,
        step: true,
        fixed_threads: None,
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
    Demo {
        name: "message-passing",
        concept: "litmus",
        lesson: "Relaxed publishes a flag before its data; Release/Acquire forbids the stale read",
        orderings: LITMUS_MODES,
        variant_orderings: Some((Mode::Relaxed, Mode::ReleaseAcquire)),
        run: true,
        check: true,
        step: true,
        fixed_threads: Some(2),
        max_iterations: (LITMUS_ROUNDS, LITMUS_WHY),
        loom_false_positive: None,
    },
    Demo {
        name: "store-buffering",
        concept: "litmus",
        lesson: "even Release/Acquire lets both threads miss each other's store; fence(SeqCst) forbids it",
        orderings: LITMUS_MODES,
        variant_orderings: Some((Mode::ReleaseAcquire, Mode::FenceSeqCst)),
        run: true,
        check: true,
        step: true,
        fixed_threads: Some(2),
        max_iterations: (LITMUS_ROUNDS, LITMUS_WHY),
        loom_false_positive: Some(Mode::SeqCst),
    },
    Demo {
        name: "iriw",
        concept: "litmus",
        lesson: "two readers may see two independent writes in opposite orders unless fenced",
        orderings: LITMUS_MODES,
        variant_orderings: Some((Mode::ReleaseAcquire, Mode::FenceSeqCst)),
        run: false,
        check: true,
        step: true,
        fixed_threads: Some(4),
        max_iterations: (LITMUS_ROUNDS, LITMUS_WHY),
        loom_false_positive: Some(Mode::SeqCst),
    },
    Demo {
        name: "spsc",
        concept: "spsc",
        lesson: "the index that guards plain-memory slots must carry Release/Acquire, both ways",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: true,
        step: true,
        fixed_threads: Some(2),
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
    Demo {
        name: "mpmc",
        concept: "mpmc",
        lesson: "a claimed slot is not a written slot: each slot needs its own sequence stamp",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: true,
        step: true,
        fixed_threads: None,
        max_iterations: (MPMC_VALUES, MPMC_WHY),
        loom_false_positive: None,
    },
    Demo {
        name: "aba",
        concept: "stack",
        lesson: "a recycled node makes a stale CAS succeed (A->B->A); a tag bumped per CAS fixes it",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: true,
        step: true,
        fixed_threads: None,
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
    Demo {
        name: "rcu",
        concept: "reclaim",
        lesson: "freeing an old version at once frees it under a reader; wait for a grace period",
        orderings: &[],
        variant_orderings: None,
        run: EPOCH,
        check: EPOCH,
        step: EPOCH,
        fixed_threads: Some(2),
        max_iterations: (100_000, "every update retires a version (about 2 KB with its deferred free) that stays in memory while the reader is pinned"),
        loom_false_positive: None,
    },
    Demo {
        name: "rcu-grace",
        concept: "reclaim",
        lesson: "a grace period built from Acquire/Release alone is store buffering: it needs fence(SeqCst)",
        orderings: &[],
        variant_orderings: None,
        run: false,
        check: EPOCH,
        step: EPOCH,
        fixed_threads: Some(2),
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
    Demo {
        name: "false-sharing",
        concept: "false_sharing",
        lesson: "two private counters on one cache line slow each other down; CachePadded fixes it",
        orderings: &[],
        variant_orderings: None,
        run: true,
        check: false,
        step: false,
        fixed_threads: Some(2),
        max_iterations: NO_LIMIT,
        loom_false_positive: None,
    },
];

/// A user mistake: printed as one line, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Whether this build can drive `demo` (the reclaimer needs the cargo feature `epoch`).
pub fn available(demo: &Demo) -> bool {
    demo.concept != "reclaim" || EPOCH
}

/// Finds a demo by name, or explains what exists and suggests the closest name.
pub fn find(name: &str) -> Result<&'static Demo, UsageError> {
    if let Some(d) = DEMOS.iter().find(|d| d.name == name) {
        if !available(d) {
            return Err(UsageError(format!(
                "demo `{name}` needs the `epoch` feature, which this build left out: cargo run --release --features epoch"
            )));
        }
        return Ok(d);
    }
    let closest = DEMOS
        .iter()
        .min_by_key(|d| edit_distance(d.name, name))
        .expect("demos exist");
    let names: Vec<&str> = DEMOS.iter().map(|d| d.name).collect();
    Err(UsageError(format!(
        "unknown demo `{name}`: did you mean `{}`? (demos: {})",
        closest.name,
        names.join(", ")
    )))
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `broken` or `fixed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The variant with the bug.
    Broken,
    /// The variant without it.
    Fixed,
}

impl Variant {
    /// `broken` / `fixed`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Broken => "broken",
            Variant::Fixed => "fixed",
        }
    }
}

/// The variants a command runs for a demo: each with the litmus mode it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// A broken/fixed structure.
    Variant(Variant),
    /// A litmus test at an ordering.
    Mode(Mode),
}

impl Case {
    /// The label printed for it.
    pub fn label(self) -> String {
        match self {
            Case::Variant(v) => v.name().to_string(),
            Case::Mode(m) => m.name().to_string(),
        }
    }
}

/// Resolves `--variant` / `--ordering` for `demo` into the cases to run.
pub fn cases(demo: &Demo, variant: Option<Variant>, ordering: Option<Mode>) -> Result<Vec<Case>, UsageError> {
    match (demo.variant_orderings, ordering) {
        (None, Some(m)) => Err(UsageError(format!(
            "demo `{}` has no --ordering (got `{}`); it takes --variant broken|fixed",
            demo.name,
            m.name()
        ))),
        (Some(_), Some(_)) if variant.is_some() => Err(UsageError(format!(
            "give --variant or --ordering for `{}`, not both",
            demo.name
        ))),
        (Some(_), Some(m)) => Ok(vec![Case::Mode(m)]),
        (Some((weak, strong)), None) => Ok(match variant {
            Some(Variant::Broken) => vec![Case::Mode(weak)],
            Some(Variant::Fixed) => vec![Case::Mode(strong)],
            None => demo.orderings.iter().map(|&m| Case::Mode(m)).collect(),
        }),
        (None, None) => Ok(match variant {
            Some(v) => vec![Case::Variant(v)],
            None => vec![Case::Variant(Variant::Broken), Case::Variant(Variant::Fixed)],
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// run: real cores
// ---------------------------------------------------------------------------------------------

/// Options of `run`.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Threads (demos with a fixed count reject anything else).
    pub threads: Option<usize>,
    /// Iterations (rounds for litmus tests) per thread.
    pub iterations: Option<u64>,
    /// Pin threads to cores.
    pub pin: bool,
}

/// One row of a `run`: a case and what it measured.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// `broken`, `fixed`, `relaxed`, `padded`…
    pub case: String,
    /// Named figures, in display order.
    pub figures: Vec<(String, String)>,
    /// Whether the threads really ran in parallel (`None`: not measured, it does not matter here).
    pub parallel: Option<bool>,
    /// The parallelism verdict line.
    pub parallelism: String,
}

/// What `run` printed.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutput {
    /// The demo.
    pub demo: String,
    /// Threads used.
    pub threads: usize,
    /// Iterations (or rounds) per thread.
    pub iterations: u64,
    /// One row per case.
    pub rows: Vec<RunRow>,
    /// Honest notes (what the hardware cannot show, how to see it anyway).
    pub notes: Vec<String>,
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "0.00%".into()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Runs `demo` on real cores.
pub fn run(demo: &Demo, cases: &[Case], opts: RunOptions) -> Result<RunOutput, UsageError> {
    if !demo.run {
        return Err(UsageError(format!(
            "demo `{}` cannot run on real cores ({}); try `check {}`",
            demo.name,
            if demo.name == "iriw" {
                "x86-64 is multi-copy atomic: it never shows IRIW"
            } else {
                "its broken variant is a use-after-free, undefined behaviour on real threads"
            },
            demo.name
        )));
    }
    if let (Some(fixed), Some(t)) = (demo.fixed_threads, opts.threads) {
        if t != fixed {
            return Err(UsageError(format!(
                "demo `{}` always runs {fixed} threads (got --threads {t})",
                demo.name
            )));
        }
    }
    if opts.threads == Some(0) {
        return Err(UsageError("--threads must be at least 1".into()));
    }
    let (max_iterations, why) = demo.max_iterations;
    if let Some(n) = opts.iterations.filter(|&n| n > max_iterations) {
        return Err(UsageError(format!(
            "demo `{}` takes --iterations up to {max_iterations} (got {n}): {why}",
            demo.name
        )));
    }
    let pin = if opts.pin { Pin::Spread } else { Pin::None };
    let threads = opts.threads.or(demo.fixed_threads).unwrap_or(2);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let iterations;
    match demo.name {
        "lost-update" | "cas-retry" => {
            iterations = opts.iterations.unwrap_or(1_000_000);
            let method = if demo.name == "cas-retry" {
                crate::counter::Method::Cas
            } else {
                crate::counter::Method::Increment
            };
            for case in cases {
                let Case::Variant(v) = *case else {
                    unreachable!("counter demos take variants")
                };
                let variant = match v {
                    Variant::Broken => crate::counter::Variant::Broken,
                    Variant::Fixed => crate::counter::Variant::Fixed,
                };
                let r = crate::counter::run_on_cores(variant, method, threads, iterations, pin);
                rows.push(RunRow {
                    case: case.label(),
                    figures: vec![
                        ("expected".into(), r.expected.to_string()),
                        ("counted".into(), r.counted.to_string()),
                        ("lost updates".into(), r.lost().to_string()),
                        ("lost %".into(), pct(r.lost(), r.expected)),
                        (
                            "CAS retries/op".into(),
                            format!("{:.4}", r.retries as f64 / r.expected as f64),
                        ),
                    ],
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            if threads == 1 {
                notes.push("one thread cannot race with itself: 0 lost for every variant".into());
            }
        }
        "message-passing" | "store-buffering" => {
            iterations = opts.iterations.unwrap_or(200_000);
            let test = if demo.name == "message-passing" {
                Litmus::MessagePassing
            } else {
                Litmus::StoreBuffering
            };
            for case in cases {
                let Case::Mode(m) = *case else {
                    unreachable!("litmus demos take modes")
                };
                let r = crate::litmus::run_on_cores(test, m, iterations, pin);
                let mut figures = vec![("rounds".into(), r.rounds.to_string())];
                if test == Litmus::MessagePassing {
                    figures.push(("rounds that saw ready".into(), r.observed.to_string()));
                    figures.push(("stale reads".into(), r.hits.to_string()));
                } else {
                    figures.push(("both-zero".into(), r.hits.to_string()));
                    figures.push(("both-zero %".into(), pct(r.hits, r.rounds)));
                }
                rows.push(RunRow {
                    case: case.label(),
                    figures,
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            if test == Litmus::MessagePassing {
                notes.push(crate::hw::X86_TSO_NOTE.to_string());
            } else {
                notes.push(
                    "x86 keeps each store in a store buffer while the next load runs: Relaxed and Release/Acquire \
                     allow both-zero (~1-2% of rounds on a quiet machine); SeqCst stores (xchg) and fence(SeqCst) \
                     (mfence) drain it"
                        .into(),
                );
            }
        }
        "spsc" => {
            iterations = opts.iterations.unwrap_or(10_000_000);
            for case in cases {
                if *case == Case::Variant(Variant::Broken) {
                    notes.push(format!("broken: not run on real cores — {}", crate::spsc::X86_NOTE));
                    continue;
                }
                let r =
                    crate::spsc::run_on_cores(1024, iterations, pin).map_err(|e| UsageError(format!("spsc: {e}")))?;
                rows.push(RunRow {
                    case: case.label(),
                    figures: vec![
                        ("items".into(), r.items.to_string()),
                        ("in order".into(), r.in_order.to_string()),
                        ("mismatches".into(), r.mismatches.to_string()),
                        ("M items/s".into(), format!("{:.1}", r.items_per_sec / 1e6)),
                    ],
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            notes.push("capacity 1024; the consumer checks that every sequence number arrives in order".into());
        }
        "mpmc" => {
            iterations = opts.iterations.unwrap_or(1_000_000);
            if threads < 2 {
                return Err(UsageError(format!(
                    "demo `mpmc` needs --threads of at least 2 (got {threads})"
                )));
            }
            let producers = threads / 2;
            if producers as u64 * iterations > MPMC_VALUES {
                return Err(UsageError(format!(
                    "demo `mpmc` delivers at most {MPMC_VALUES} values per run (got {producers} producers x \
                     {iterations} iterations): {MPMC_WHY}"
                )));
            }
            for case in cases {
                let Case::Variant(v) = *case else {
                    unreachable!("mpmc takes variants")
                };
                let variant = match v {
                    Variant::Broken => crate::mpmc::Variant::Broken,
                    Variant::Fixed => crate::mpmc::Variant::Fixed,
                };
                let r = crate::mpmc::run_on_cores(variant, 64, producers, threads - producers, iterations, pin)
                    .map_err(|e| UsageError(format!("mpmc: {e}")))?;
                rows.push(RunRow {
                    case: case.label(),
                    figures: vec![
                        ("pushed".into(), r.pushed.to_string()),
                        ("popped".into(), r.popped.to_string()),
                        ("lost".into(), r.lost.to_string()),
                        ("duplicated".into(), r.duplicated.to_string()),
                        ("phantom".into(), r.phantom.to_string()),
                    ],
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            notes.push(format!(
                "{producers} producer(s), {} consumer(s), capacity 64, atomic payloads (the broken queue's races give \
                 wrong values, never undefined behaviour)",
                threads - producers
            ));
        }
        "aba" => {
            iterations = opts.iterations.unwrap_or(100_000);
            if threads < 2 {
                return Err(UsageError(format!(
                    "demo `aba` needs --threads of at least 2 (got {threads})"
                )));
            }
            for case in cases {
                let Case::Variant(v) = *case else {
                    unreachable!("aba takes variants")
                };
                let variant = match v {
                    Variant::Broken => crate::stack::Variant::Broken,
                    Variant::Fixed => crate::stack::Variant::Fixed,
                };
                let r = crate::stack::run_on_cores(variant, threads, iterations, 4, pin);
                rows.push(RunRow {
                    case: case.label(),
                    figures: vec![
                        ("rounds".into(), r.rounds.to_string()),
                        ("corrupted rounds".into(), r.corrupted.to_string()),
                        ("duplicated".into(), r.duplicated.to_string()),
                        ("lost".into(), r.lost.to_string()),
                        ("cycles".into(), r.cycles.to_string()),
                    ],
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            notes.push(
                "each round: every thread pops twice and pushes twice, 4 times, over an index arena with recycled \
                 nodes; then the stack is drained and every value accounted for"
                    .into(),
            );
        }
        #[cfg(feature = "epoch")]
        "rcu" => {
            iterations = opts.iterations.unwrap_or(10_000);
            if cases.contains(&Case::Variant(Variant::Broken)) {
                notes.push(
                    "broken (free at once) is not run on real threads: a real use-after-free is undefined behaviour; \
                     `check rcu` shows loom and shuttle catching it"
                        .into(),
                );
            }
            if cases.contains(&Case::Variant(Variant::Fixed)) {
                let r = crate::reclaim::epoch_cell::long_reader(iterations as usize);
                rows.push(RunRow {
                    case: "reader pinned".into(),
                    figures: vec![
                        ("retired".into(), r.retired_while_pinned.to_string()),
                        ("reclaimed".into(), r.reclaimed_while_pinned.to_string()),
                        ("flushes".into(), "-".into()),
                    ],
                    parallel: None,
                    parallelism: format!("the pinned reader still reads version {}", r.reader_saw),
                });
                rows.push(RunRow {
                    case: "reader unpinned".into(),
                    figures: vec![
                        ("retired".into(), r.retired_while_pinned.to_string()),
                        ("reclaimed".into(), r.reclaimed_after_unpin.to_string()),
                        ("flushes".into(), r.flushes_after_unpin.to_string()),
                    ],
                    parallel: None,
                    parallelism: "fixed: crossbeam-epoch frees a version only after every reader pinned before its \
                                  retirement has unpinned"
                        .into(),
                });
                notes.push(
                    "a long-held guard stalls all reclamation: memory grows until it unpins (crossbeam issues #566, \
                     #540); keep read-side sections short"
                        .into(),
                );
            }
        }
        "false-sharing" => {
            iterations = opts.iterations.unwrap_or(20_000_000);
            let padded = crate::false_sharing::run_on_cores(true, iterations, pin);
            let same = crate::false_sharing::run_on_cores(false, iterations, pin);
            let control = crate::false_sharing::run_on_cores(false, iterations, Pin::SameCore);
            for (case, r) in [("padded", &padded), ("same line", &same)] {
                rows.push(RunRow {
                    case: case.into(),
                    figures: vec![
                        ("ns/increment".into(), format!("{:.2}", r.ns_per_op)),
                        ("vs padded".into(), format!("{:.2}x", r.ns_per_op / padded.ns_per_op)),
                    ],
                    parallel: Some(r.parallelism.ran_in_parallel()),
                    parallelism: r.parallelism.verdict(),
                });
            }
            rows.push(RunRow {
                case: "same line, one core".into(),
                figures: vec![
                    ("ns/increment".into(), format!("{:.2}", control.ns_per_op / 2.0)),
                    (
                        "vs padded".into(),
                        format!("{:.2}x", control.ns_per_op / 2.0 / padded.ns_per_op),
                    ),
                ],
                parallel: None,
                parallelism: "control: both threads pinned to one core (time-shared on purpose); \
                              ns/increment counts both threads' increments"
                    .into(),
            });
            notes.push(
                "a quick look, timed once: the criterion bench (cargo bench --bench false_sharing) measures it properly"
                    .into(),
            );
        }
        _ => unreachable!("every demo with run=true is handled"),
    }
    Ok(RunOutput {
        demo: demo.name.into(),
        threads,
        iterations,
        rows,
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// check: model checkers in-process
// ---------------------------------------------------------------------------------------------

/// The checkers `check` and `matrix` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Checker {
    /// loom, exhaustive (bounded for 3+ threads).
    Loom,
    /// shuttle's random scheduler, 1,000 schedules.
    ShuttleRandom,
    /// shuttle's PCT scheduler at depth 2 (3 for IRIW), 1,000 schedules.
    ShuttlePct,
}

impl Checker {
    /// Every checker.
    pub const ALL: [Checker; 3] = [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct];

    /// The column title.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Loom => "loom",
            Checker::ShuttleRandom => "shuttle random",
            Checker::ShuttlePct => "shuttle PCT",
        }
    }
}

/// Schedules per shuttle run.
pub const SHUTTLE_ITERATIONS: usize = 1_000;

/// Why a checker cannot see a bug class, if it cannot.
pub fn blind_spot(demo: &Demo, checker: Checker) -> Option<&'static str> {
    let ordering_bug = matches!(
        demo.name,
        "message-passing" | "store-buffering" | "iriw" | "spsc" | "rcu-grace"
    );
    (ordering_bug && checker != Checker::Loom).then_some("shuttle models every atomic as SeqCst")
}

fn in_checker(checker: Checker, threads: usize, scenario: impl Fn() + Send + Sync + 'static) -> Report {
    match checker {
        // Three or more threads: bound the preemptions, or loom's search explodes.
        Checker::Loom => check::loom(if threads >= 3 { Some(2) } else { None }, scenario),
        Checker::ShuttleRandom => check::shuttle_random(SHUTTLE_ITERATIONS, check::DEFAULT_SEED, scenario),
        Checker::ShuttlePct => check::shuttle_pct(
            SHUTTLE_ITERATIONS,
            if threads >= 3 { 3 } else { 2 },
            check::DEFAULT_SEED,
            scenario,
        ),
    }
}

/// Runs `demo`'s model scenario for `case` under `checker`.
pub fn check_case(demo: &Demo, case: Case, checker: Checker) -> Report {
    use crate::counter::{loom as cl, shuttle as cs};
    use crate::litmus::{loom as ll, shuttle as ls};
    let loom = checker == Checker::Loom;
    match (demo.name, case) {
        ("lost-update" | "cas-retry", Case::Variant(v)) => {
            let cas = demo.name == "cas-retry";
            match (loom, v) {
                (true, Variant::Broken) => in_checker(checker, 2, move || {
                    cl::scenario::two_increments::<cl::broken::Counter>(cas);
                }),
                (true, Variant::Fixed) => in_checker(checker, 2, move || {
                    cl::scenario::two_increments::<cl::fixed::Counter>(cas);
                }),
                (false, Variant::Broken) => in_checker(checker, 2, move || {
                    cs::scenario::two_increments::<cs::broken::Counter>(cas);
                }),
                (false, Variant::Fixed) => in_checker(checker, 2, move || {
                    cs::scenario::two_increments::<cs::fixed::Counter>(cas);
                }),
            }
        }
        ("spsc", Case::Variant(v)) => {
            use crate::spsc::{loom as sl, shuttle as ss};
            match (loom, v) {
                (true, Variant::Broken) => in_checker(checker, 2, || sl::scenario::handoff(sl::broken::channel::<u64>)),
                (true, Variant::Fixed) => in_checker(checker, 2, || sl::scenario::handoff(sl::fixed::channel::<u64>)),
                (false, Variant::Broken) => {
                    in_checker(checker, 2, || ss::scenario::handoff(ss::broken::channel::<u64>))
                }
                (false, Variant::Fixed) => in_checker(checker, 2, || ss::scenario::handoff(ss::fixed::channel::<u64>)),
            }
        }
        ("mpmc", Case::Variant(v)) => {
            use crate::mpmc::{loom as ml, shuttle as ms};
            match (loom, v) {
                (true, Variant::Broken) => in_checker(checker, 2, || {
                    ml::scenario::one_producer_one_consumer::<ml::broken::Queue<u64, ml::slot::AtomicSlot>>(2)
                }),
                (true, Variant::Fixed) => in_checker(checker, 2, || {
                    ml::scenario::one_producer_one_consumer::<ml::fixed::Queue<u64, ml::slot::UnsafeSlot<u64>>>(2)
                }),
                (false, Variant::Broken) => in_checker(checker, 2, || {
                    ms::scenario::one_producer_one_consumer::<ms::broken::Queue<u64, ms::slot::AtomicSlot>>(2)
                }),
                (false, Variant::Fixed) => in_checker(checker, 2, || {
                    ms::scenario::one_producer_one_consumer::<ms::fixed::Queue<u64, ms::slot::AtomicSlot>>(2)
                }),
            }
        }
        ("aba", Case::Variant(v)) => {
            use crate::stack::{loom as kl, shuttle as ks};
            // T1 pops; T2 pops, pops, pushes: three threads with the main one, so loom is bounded.
            let bound = Some(3);
            match (checker, v) {
                (Checker::Loom, Variant::Broken) => check::loom(bound, kl::scenario::aba::<kl::broken::Stack>),
                (Checker::Loom, Variant::Fixed) => check::loom(bound, kl::scenario::aba::<kl::fixed::Stack>),
                (_, Variant::Broken) => in_checker(checker, 2, ks::scenario::aba::<ks::broken::Stack>),
                (_, Variant::Fixed) => in_checker(checker, 2, ks::scenario::aba::<ks::fixed::Stack>),
            }
        }
        #[cfg(feature = "epoch")]
        ("rcu" | "rcu-grace", Case::Variant(v)) => {
            use crate::reclaim::{loom as rl, shuttle as rs};
            let bound = Some(3);
            match (checker, demo.name, v) {
                (Checker::Loom, "rcu", Variant::Broken) => {
                    check::loom(bound, || rl::scenario::read_during_update(rl::broken::new))
                }
                (Checker::Loom, "rcu-grace", Variant::Broken) => {
                    check::loom(bound, || rl::scenario::read_during_update(rl::acqrel::new))
                }
                (Checker::Loom, _, _) => check::loom(bound, || rl::scenario::read_during_update(rl::fixed::new)),
                (_, "rcu", Variant::Broken) => {
                    in_checker(checker, 2, || rs::scenario::read_during_update(rs::broken::new))
                }
                (_, "rcu-grace", Variant::Broken) => {
                    in_checker(checker, 2, || rs::scenario::read_during_update(rs::acqrel::new))
                }
                _ => in_checker(checker, 2, || rs::scenario::read_during_update(rs::fixed::new)),
            }
        }
        (name, Case::Mode(m)) => {
            let threads = demo.fixed_threads.unwrap_or(2);
            let scenario: fn(Mode) = match (name, loom) {
                ("message-passing", true) => ll::scenario::message_passing,
                ("message-passing", false) => ls::scenario::message_passing,
                ("store-buffering", true) => ll::scenario::store_buffering,
                ("store-buffering", false) => ls::scenario::store_buffering,
                ("iriw", true) => ll::scenario::iriw,
                ("iriw", false) => ls::scenario::iriw,
                _ => unreachable!("litmus demos only"),
            };
            in_checker(checker, threads, move || scenario(m))
        }
        _ => unreachable!("every checkable demo is handled"),
    }
}

/// One `check` result, for printing and JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutput {
    /// The demo.
    pub demo: String,
    /// The case (`broken`, `relaxed`…).
    pub case: String,
    /// The checker.
    pub checker: String,
    /// Executions explored (up to and including the failing one).
    pub executions: u64,
    /// Milliseconds.
    pub millis: f64,
    /// `bug found` or `passed`.
    pub verdict: String,
    /// The failure message.
    pub message: Option<String>,
    /// The counterexample, as numbered steps.
    pub steps: Vec<check::ReadableStep>,
    /// Why this checker cannot see this bug class, when it cannot.
    pub blind_spot: Option<String>,
    /// True when the failure is loom's known SeqCst false positive: the program is correct.
    pub false_positive: bool,
    /// What the reader should make of a false positive (empty otherwise).
    pub note: Option<String>,
}

/// What `check` says when loom "finds" a bug in a correct SeqCst-only program.
pub const LOOM_SEQCST_NOTE: &str = "loom reports a bug here, but this is loom's known SeqCst false positive: \
     it models SeqCst loads and stores as Acquire/Release (loom issue #180), so it lets both threads miss each \
     other's store; the program is correct (real cores and shuttle never show it). Use --ordering fence-seqcst to \
     see loom pass";

/// True when `report` is loom's known SeqCst false positive for `demo` at `case`: not a detection.
pub fn is_false_positive(demo: &Demo, case: Case, checker: Checker, report: &Report) -> bool {
    checker == Checker::Loom
        && report.failure.is_some()
        && matches!((case, demo.loom_false_positive), (Case::Mode(m), Some(fp)) if m == fp)
}

/// Runs one check and makes it printable.
pub fn check_output(demo: &Demo, case: Case, checker: Checker) -> CheckOutput {
    let report = check_case(demo, case, checker);
    let false_positive = is_false_positive(demo, case, checker, &report);
    CheckOutput {
        demo: demo.name.into(),
        case: case.label(),
        checker: report.checker.clone(),
        executions: report.executions,
        millis: report.elapsed.as_secs_f64() * 1e3,
        verdict: if false_positive {
            "loom false positive (the program is correct)".into()
        } else if report.failure.is_some() {
            "bug found".into()
        } else {
            "passed".into()
        },
        message: report
            .failure
            .as_ref()
            .map(|f| f.message.lines().next().unwrap_or_default().to_string()),
        steps: report
            .failure
            .as_ref()
            .map(|f| check::readable(&f.trace))
            .unwrap_or_default(),
        blind_spot: blind_spot(demo, checker).map(str::to_string),
        false_positive,
        note: false_positive.then(|| LOOM_SEQCST_NOTE.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// step: replay a failing interleaving
// ---------------------------------------------------------------------------------------------

/// A replay: an introduction and the steps, one per Enter.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    /// The demo.
    pub demo: String,
    /// What is being replayed and where it came from.
    pub intro: String,
    /// The steps.
    pub steps: Vec<String>,
    /// The conclusion.
    pub outcome: String,
}

/// The known failing interleaving of `demo`'s broken variant, as loom found it.
pub fn replay(demo: &Demo, variant: Variant) -> Result<Replay, UsageError> {
    if demo.name == "aba" {
        let v = match variant {
            Variant::Broken => crate::stack::Variant::Broken,
            Variant::Fixed => crate::stack::Variant::Fixed,
        };
        let steps = crate::stack::aba_replay(v);
        let outcome = steps.last().map(|s| s.action.clone()).unwrap_or_default();
        return Ok(Replay {
            demo: demo.name.into(),
            intro: format!(
                "The ABA interleaving on the {} Treiber stack, replayed deterministically: T1 reads head A and its \
                 next B, then stalls; T2 pops A, pops B and pushes a new value into the recycled node A; T1 wakes \
                 and runs its CAS. Each step shows the head word (index and tag), the stack, and T2's free list.",
                variant.name()
            ),
            steps: steps.iter().map(ToString::to_string).collect(),
            outcome,
        });
    }
    if variant == Variant::Fixed {
        return Err(UsageError(format!(
            "demo `{}` replays its broken variant's failing interleaving; the fixed variant has none (try `check {} \
             --variant fixed`)",
            demo.name, demo.name
        )));
    }
    if !demo.step {
        return Err(UsageError(format!(
            "demo `{}` has no interleaving to step through (it is a performance effect); try `run {}`",
            demo.name, demo.name
        )));
    }
    let case = match demo.variant_orderings {
        Some((weak, _)) => Case::Mode(weak),
        None => Case::Variant(Variant::Broken),
    };
    // An interleaving bug replays best from shuttle, whose executions are sequentially consistent
    // (every read sees the latest write: the steps read like the textbook interleaving); an
    // ordering bug exists only in loom's weak-memory executions.
    let checker = if blind_spot(demo, Checker::ShuttlePct).is_some() {
        Checker::Loom
    } else {
        Checker::ShuttlePct
    };
    let out = check_output(demo, case, checker);
    let steps = out.steps.iter().map(ToString::to_string).collect();
    Ok(Replay {
        demo: demo.name.into(),
        intro: format!(
            "The failing interleaving {} found for `{}` ({}) at execution {}: every atomic operation of the \
             failing run, in the order it was scheduled. T0 is the main thread, T1.. the spawned ones; #N names \
             each atomic in order of first use.",
            out.checker,
            demo.name,
            case.label(),
            out.executions
        ),
        steps,
        outcome: out.message.unwrap_or_else(|| "loom found no failure".into()),
    })
}

// ---------------------------------------------------------------------------------------------
// matrix
// ---------------------------------------------------------------------------------------------

/// One cell of the detection matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// `found` / `missed` / `blind`.
    pub verdict: String,
    /// Executions (checkers) or iterations (hardware) to first detection, or explored in all.
    pub count: u64,
    /// Human text for the cell.
    pub text: String,
}

/// One row: a broken variant under every checker and on real cores.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixRow {
    /// `demo (case)`.
    pub bug: String,
    /// loom, shuttle random, shuttle PCT, real hardware.
    pub cells: Vec<Cell>,
}

/// The broken variants the matrix covers.
pub fn matrix_bugs() -> Vec<(&'static Demo, Case)> {
    DEMOS
        .iter()
        .filter(|d| d.check)
        .map(|d| {
            let case = match d.variant_orderings {
                Some((weak, _)) => Case::Mode(weak),
                None => Case::Variant(Variant::Broken),
            };
            (d, case)
        })
        .collect()
}

/// Runs one broken variant under every checker and on real cores.
pub fn matrix_row(demo: &Demo, case: Case) -> MatrixRow {
    let mut cells: Vec<Cell> = Checker::ALL
        .iter()
        .map(|&checker| {
            let r = check_case(demo, case, checker);
            if is_false_positive(demo, case, checker, &r) {
                return Cell {
                    verdict: "false positive".into(),
                    count: r.executions,
                    text: format!(
                        "false positive at execution {} (loom's SeqCst model; not a detection)",
                        r.executions
                    ),
                };
            }
            match (&r.failure, blind_spot(demo, checker)) {
                (Some(_), _) => Cell {
                    verdict: "found".into(),
                    count: r.executions,
                    text: format!("found at execution {}", r.executions),
                },
                (None, Some(why)) => Cell {
                    verdict: "blind".into(),
                    count: r.executions,
                    text: format!("blind: {} passed ({why})", r.executions),
                },
                (None, None) => Cell {
                    verdict: "missed".into(),
                    count: r.executions,
                    text: format!("missed in {} executions", r.executions),
                },
            }
        })
        .collect();
    cells.push(hardware_cell(demo, case));
    MatrixRow {
        bug: format!("{} ({})", demo.name, case.label()),
        cells,
    }
}

fn hardware_cell(demo: &Demo, case: Case) -> Cell {
    let found = |count: u64, text: String| Cell {
        verdict: "found".into(),
        count,
        text,
    };
    let blind = |text: &str| Cell {
        verdict: "blind".into(),
        count: 0,
        text: text.into(),
    };
    match (demo.name, case) {
        ("lost-update" | "cas-retry", _) => {
            let method = if demo.name == "cas-retry" {
                crate::counter::Method::Cas
            } else {
                crate::counter::Method::Increment
            };
            let r = crate::counter::run_on_cores(crate::counter::Variant::Broken, method, 2, 200_000, Pin::Spread);
            if r.lost() > 0 {
                found(r.expected, format!("found: {} of {} lost", r.lost(), r.expected))
            } else if r.parallelism.ran_in_parallel() {
                Cell {
                    verdict: "missed".into(),
                    count: r.expected,
                    text: "missed: 0 lost".into(),
                }
            } else {
                blind("no: the threads did not run in parallel (machine busy)")
            }
        }
        ("store-buffering", Case::Mode(m)) => {
            let r = crate::litmus::run_on_cores(Litmus::StoreBuffering, m, 100_000, Pin::Spread);
            if r.hits > 0 {
                found(r.rounds, format!("found: {} of {} rounds", r.hits, r.rounds))
            } else {
                Cell {
                    verdict: "missed".into(),
                    count: r.rounds,
                    text: format!("missed in {} rounds", r.rounds),
                }
            }
        }
        ("mpmc", _) => {
            let r = crate::mpmc::run_on_cores(crate::mpmc::Variant::Broken, 64, 1, 1, 200_000, Pin::Spread)
                .expect("capacity 64 is valid");
            let bad = r.lost + r.duplicated + r.phantom;
            if bad > 0 {
                found(
                    r.pushed,
                    format!("found: {} lost, {} duplicated of {}", r.lost, r.duplicated, r.pushed),
                )
            } else {
                Cell {
                    verdict: "missed".into(),
                    count: r.pushed,
                    text: format!("missed in {} values", r.pushed),
                }
            }
        }
        ("aba", _) => {
            let r = crate::stack::run_on_cores(crate::stack::Variant::Broken, 2, 50_000, 4, Pin::Spread);
            if r.corrupted > 0 {
                found(
                    r.rounds,
                    format!("found: {} of {} rounds corrupted", r.corrupted, r.rounds),
                )
            } else {
                Cell {
                    verdict: "missed".into(),
                    count: r.rounds,
                    text: format!("missed in {} rounds", r.rounds),
                }
            }
        }
        ("rcu" | "rcu-grace", _) => blind("not run: a real use-after-free is undefined behaviour"),
        ("spsc", _) => blind("not run: a data race is UB on real cores (and x86 TSO would hide it)"),
        ("message-passing", _) => blind("blind: x86 is TSO (stores and loads stay in order)"),
        ("iriw", _) => blind("blind: x86 is multi-copy atomic"),
        _ => blind("not run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_demo_name_is_registered() {
        for (_, demos) in SEED {
            for (_, names) in demos.iter() {
                for name in names.iter() {
                    assert!(DEMOS.iter().any(|d| d.name == *name), "{name} is not in DEMOS");
                }
            }
        }
    }
}
