//! The lab behind `cargo run --release`: the [`Demo`] interface, the [`registry`] of demos, and
//! what the commands do with them ([`run`], [`check_output`], [`replay`], [`matrix_row`]).
//!
//! A demo lives in its concept's folder (`src/<group>/<concept>/demo.rs`) and declares, in one
//! [`Spec`], everything the lab needs: its name, seed group and title, lesson, variants or
//! orderings, what a learner can do with it, its [`BugClass`], thread and iteration bounds. It
//! implements [`Demo`] for the parts that are code: how it runs on real cores, its model
//! scenario per checker, a custom replay, and how real cores detect its bug. The lab never
//! matches on a demo's name: what differs between demos is data in the spec or a method of the
//! demo, and the matrix's blind cells follow from the bug class.
//!
//! Results are typed ([`RunOutput`]: rows of [`Figure`]s, notes and [`Series`]), so text,
//! `--json` and plots render the same thing; [`render`] turns them into the terminal's text.
//!
//! The web lab's step-by-step views are library functions too: [`trace_view`] (a counterexample
//! with named locations and happens-before edges) and [`sched`] ("you are the scheduler": [`play`]
//! a demo's real shuttle scenario under the learner's choices, [`hint`] a failing schedule).

mod drive;
pub mod plot;
pub mod registry;
pub mod render;
pub mod sched;
pub mod trace_view;

use std::fmt;

use serde::Serialize;

use crate::check::Report;
pub use crate::litmus::Mode;
pub use crate::Variant;
pub use drive::{
    cases, check_output, hardware_cell, matrix_bugs, matrix_row, replay, run, validate_run, CheckOutput,
    LOOM_SEQCST_NOTE, SHUTTLE_ITERATIONS,
};
pub use registry::{find, DEMOS, SEED};
pub use sched::{hint, play, schedulable, Play};
pub use trace_view::{parse_case, trace_view, TraceView};

/// The seed site's four groups, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Group {
    /// Atomics, orderings, lock-free structures, reclamation.
    Concurrency,
    /// The driver/device protocols of a network card.
    Nic,
    /// Caches, coherence, TLB, branches, NUMA.
    Cpu,
    /// TCP and collective communication.
    Net,
}

impl Group {
    /// Every group, in the seed's order.
    pub const ALL: [Group; 4] = [Group::Concurrency, Group::Nic, Group::Cpu, Group::Net];

    /// The seed's title for the group.
    pub fn title(self) -> &'static str {
        match self {
            Group::Concurrency => "Concurrency & the memory model",
            Group::Nic => "The NIC datapath",
            Group::Cpu => "CPU & microarchitecture",
            Group::Net => "Networking, TCP & AI fabric",
        }
    }
}

/// Which reordering an ordering bug needs: it decides whether x86-64 (TSO) can show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reordering {
    /// A store passing a later load (store buffering): x86 does it.
    StoreLoad,
    /// Stores, or loads, leaving program order (message passing): x86 never does.
    StoreStoreOrLoadLoad,
    /// Two readers disagreeing on the order of independent writes (IRIW): x86 is multi-copy atomic.
    MultiCopyAtomicity,
}

/// What kind of bug the broken variant has: it decides which checker can see it and whether real
/// cores can run it (the matrix's "blind" cells and their reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BugClass {
    /// A bad interleaving of well-defined atomic steps (lost update, ABA, double pop): every
    /// checker can see it, and real cores when the threads truly run at once.
    Interleaving,
    /// A weak ordering lets a thread read a stale value: only loom models weak memory.
    Ordering(Reordering),
    /// Plain memory accessed by two threads at once, undefined behaviour on real threads, so the
    /// broken variant exists only for the checkers. `ordering_caused`: the race needs a weak
    /// ordering (shuttle cannot see it), rather than an interleaving (a use-after-free it can).
    DataRace {
        /// True when a weak ordering, not an interleaving, makes the accesses race.
        ordering_caused: bool,
    },
    /// A cost, not a bug: there is nothing for a checker to find.
    Performance,
}

impl BugClass {
    /// Why `checker` cannot see this class, if it cannot.
    pub fn blind_spot(self, checker: Checker) -> Option<&'static str> {
        let weak_memory = matches!(
            self,
            BugClass::Ordering(_) | BugClass::DataRace { ordering_caused: true }
        );
        (weak_memory && checker != Checker::Loom).then_some("shuttle models every atomic as SeqCst")
    }

    /// Why real x86-64 cores cannot show (or must not run) this class, if so.
    pub fn hardware_blind_spot(self) -> Option<&'static str> {
        match self {
            BugClass::DataRace { .. } => Some(
                "not run: a data race on plain memory is undefined behaviour on real cores (the broken variant \
                 exists only for the checkers)",
            ),
            BugClass::Ordering(Reordering::StoreStoreOrLoadLoad) => {
                Some("blind: x86 is TSO (stores and loads stay in order)")
            }
            BugClass::Ordering(Reordering::MultiCopyAtomicity) => Some("blind: x86 is multi-copy atomic"),
            BugClass::Ordering(Reordering::StoreLoad) | BugClass::Interleaving => None,
            BugClass::Performance => Some("not a bug: a cost to measure"),
        }
    }

    /// The name used in `list --json` and the docs.
    pub fn name(self) -> &'static str {
        match self {
            BugClass::Interleaving => "interleaving",
            BugClass::Ordering(_) => "ordering",
            BugClass::DataRace { .. } => "data race",
            BugClass::Performance => "performance",
        }
    }
}

/// How a demo's cases are chosen: a broken/fixed pair, or a litmus test at an ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variants {
    /// `--variant broken|fixed`.
    BrokenFixed,
    /// One thing measured or shown, no broken/fixed pair (a capture of real frames): `--variant`
    /// is refused, and the demo runs its one case (`Case::Variant(Variant::Fixed)`).
    Single,
    /// `--ordering` over `all`; `--variant broken` / `fixed` stand for `broken` / `fixed`.
    Orderings {
        /// The orderings `--ordering` accepts.
        all: &'static [Mode],
        /// The ordering `--variant broken` runs.
        broken: Mode,
        /// The ordering `--variant fixed` runs.
        fixed: Mode,
    },
}

/// How many threads a run takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Always this many (a litmus test's roles); `--threads` must match.
    Fixed(usize),
    /// `--threads` from `min`, `default` when not given.
    AtLeast {
        /// The fewest a run can use.
        min: usize,
        /// Without `--threads`.
        default: usize,
    },
}

/// What a learner can do with a demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Can {
    /// `run`: on real cores.
    pub run: bool,
    /// `check`: under loom and shuttle.
    pub check: bool,
    /// `step`: replay a failing interleaving.
    pub step: bool,
}

/// Everything the lab knows about a demo that is data.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The name the command line takes.
    pub name: &'static str,
    /// The concept module, as a path from `src/` (`concurrency/counter`): the README links it.
    pub module: &'static str,
    /// The seed group.
    pub group: Group,
    /// The seed demo it makes real (several lab demos may share one).
    pub seed_title: &'static str,
    /// One-line lesson.
    pub lesson: &'static str,
    /// The pair in one line: what the broken variant does → what the fixed one does instead.
    pub pair: &'static str,
    /// Its variants or orderings.
    pub variants: Variants,
    /// What a learner can do with it.
    pub can: Can,
    /// What kind of bug its broken variant has.
    pub bug: BugClass,
    /// Threads a run takes.
    pub threads: Threads,
    /// Iterations (rounds, updates…) per thread without `--iterations`.
    pub default_iterations: u64,
    /// The largest `--iterations` a run accepts, and why: every run fits in bounded memory.
    pub max_iterations: (u64, &'static str),
    /// The ordering whose loom failure is loom's known SeqCst false positive (loom models SeqCst
    /// loads and stores as Acquire/Release, loom issue #180), so it is not a detection.
    pub loom_false_positive: Option<Mode>,
    /// The cargo feature the demo needs, and whether this build has it.
    pub feature: Option<(&'static str, bool)>,
    /// Its own `run` options (`--mode rx|tx`, `--descriptors N`), beyond the lab's common ones.
    pub params: &'static [Param],
}

/// One of a demo's own `run` options: `--name VALUE` (or `--name` for a flag).
///
/// The command line offers every registered demo's params on `run` and the lab checks them
/// against the demo actually named, so `run spsc --mode rx` is one line of error, not a run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Param {
    /// The long flag without its dashes (`descriptors`).
    pub name: &'static str,
    /// One line for `--help` and `list`.
    pub help: &'static str,
    /// What it accepts and its default.
    pub kind: ParamKind,
}

/// What a [`Param`] accepts (JSON: `{"Choice": {"values": [...], "default": ...}}`).
#[derive(Clone, Copy, Debug, Serialize)]
pub enum ParamKind {
    /// One of `values`; `default` without the flag.
    Choice {
        /// The accepted values.
        values: &'static [&'static str],
        /// The value without the flag.
        default: &'static str,
    },
    /// A whole number in `min..=max` (a power of two when `power_of_two`).
    Number {
        /// The smallest accepted.
        min: u64,
        /// The largest accepted: every run fits in bounded memory and time.
        max: u64,
        /// The value without the flag.
        default: u64,
        /// Only powers of two (ring sizes).
        power_of_two: bool,
    },
    /// A switch: off without the flag.
    Flag,
}

impl Param {
    /// How the flag is written with what it accepts: `--mode rx|tx`, `--descriptors N`, `--passthrough`.
    pub fn usage(&self) -> String {
        match self.kind {
            ParamKind::Choice { values, .. } => format!("--{} {}", self.name, values.join("|")),
            ParamKind::Number { .. } => format!("--{} N", self.name),
            ParamKind::Flag => format!("--{}", self.name),
        }
    }

    /// What it accepts, in words: `a power of two from 2 to 4096 (default 8)`.
    pub fn accepts(&self) -> String {
        match self.kind {
            ParamKind::Choice { values, default } => format!("{} (default {default})", values.join(" or ")),
            ParamKind::Number {
                min,
                max,
                default,
                power_of_two,
            } => format!(
                "{} from {min} to {max} (default {default})",
                if power_of_two {
                    "a power of two"
                } else {
                    "a whole number"
                }
            ),
            ParamKind::Flag => "a switch (off by default)".into(),
        }
    }

    /// Its value without the flag.
    pub fn default_value(&self) -> ParamValue {
        match self.kind {
            ParamKind::Choice { default, .. } => ParamValue::Choice(default),
            ParamKind::Number { default, .. } => ParamValue::Number(default),
            ParamKind::Flag => ParamValue::Flag(false),
        }
    }

    /// Parses `given` (`None` for a bare flag) against this param; the error is one line naming
    /// what is accepted.
    fn parse(&self, demo: &str, given: Option<&str>) -> Result<ParamValue, UsageError> {
        let bad = |got: &str| {
            UsageError(format!(
                "demo `{demo}` takes --{} as {} (got `{}`)",
                self.name,
                self.accepts(),
                crate::cli::escape_controls(got)
            ))
        };
        match (self.kind, given) {
            (ParamKind::Flag, None) => Ok(ParamValue::Flag(true)),
            (ParamKind::Flag, Some(v)) => Err(bad(v)),
            (_, None) => Err(bad("")),
            (ParamKind::Choice { values, .. }, Some(v)) => values
                .iter()
                .find(|&&c| c == v)
                .map(|&c| ParamValue::Choice(c))
                .ok_or_else(|| bad(v)),
            (
                ParamKind::Number {
                    min, max, power_of_two, ..
                },
                Some(v),
            ) => match v.trim().replace('_', "").parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) && (!power_of_two || n.is_power_of_two()) => {
                    Ok(ParamValue::Number(n))
                }
                _ => Err(bad(v)),
            },
        }
    }
}

/// A resolved param value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// A [`ParamKind::Choice`].
    Choice(&'static str),
    /// A [`ParamKind::Number`].
    Number(u64),
    /// A [`ParamKind::Flag`].
    Flag(bool),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Choice(c) => f.write_str(c),
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Flag(b) => write!(f, "{}", if *b { "on" } else { "off" }),
        }
    }
}

/// A demo's params, resolved: every param its spec declares, given or defaulted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamValues(Vec<(&'static str, ParamValue)>);

impl ParamValues {
    /// Resolves the `given` (`--name`, value) pairs against `spec`: unknown names and bad values
    /// are one-line errors naming what the demo accepts.
    pub fn resolve(spec: &Spec, given: &[(String, Option<String>)]) -> Result<Self, UsageError> {
        let mut values = Self::defaults(spec).0;
        for (name, value) in given {
            let Some(param) = spec.params.iter().find(|p| p.name == name) else {
                let takes = if spec.params.is_empty() {
                    "no options of its own".to_string()
                } else {
                    spec.params.iter().map(Param::usage).collect::<Vec<_>>().join(", ")
                };
                return Err(UsageError(format!(
                    "demo `{}` has no --{} (it takes {takes})",
                    spec.name,
                    crate::cli::escape_controls(name)
                )));
            };
            let v = param.parse(spec.name, value.as_deref())?;
            if let Some(slot) = values.iter_mut().find(|(n, _)| *n == param.name) {
                slot.1 = v;
            }
        }
        Ok(Self(values))
    }

    /// The defaults of `spec`'s params (what `run` uses without flags).
    pub fn defaults(spec: &Spec) -> Self {
        Self(spec.params.iter().map(|p| (p.name, p.default_value())).collect())
    }

    fn get(&self, name: &str) -> ParamValue {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
            .unwrap_or_else(|| panic!("no param `{name}` in this demo's spec"))
    }

    /// The value of a choice param.
    ///
    /// # Panics
    /// When the spec declares no choice param `name` (a bug in the demo, not user input).
    pub fn choice(&self, name: &str) -> &'static str {
        match self.get(name) {
            ParamValue::Choice(c) => c,
            other => panic!("param `{name}` is not a choice: {other:?}"),
        }
    }

    /// The value of a number param.
    ///
    /// # Panics
    /// When the spec declares no number param `name`.
    pub fn number(&self, name: &str) -> u64 {
        match self.get(name) {
            ParamValue::Number(n) => n,
            other => panic!("param `{name}` is not a number: {other:?}"),
        }
    }

    /// The value of a flag param.
    ///
    /// # Panics
    /// When the spec declares no flag param `name`.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            ParamValue::Flag(b) => b,
            other => panic!("param `{name}` is not a flag: {other:?}"),
        }
    }

    /// `(name, value)` pairs, in the spec's order, for printing.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        self.0.iter().map(|(n, v)| (*n, v.to_string())).collect()
    }
}

/// `max_iterations` of a demo whose run keeps nothing per iteration: the CLI's own bound.
pub const NO_ITERATION_LIMIT: (u64, &str) = (1_000_000_000, "the lab's bound on any run");

impl Spec {
    /// The cargo feature the demo needs, when this build left it out.
    pub fn missing_feature(&self) -> Option<&'static str> {
        self.feature.filter(|&(_, on)| !on).map(|(name, _)| name)
    }

    /// What a learner can do with it, for the tables.
    pub fn abilities(&self) -> String {
        let mut v = Vec::new();
        for (yes, what) in [
            (self.can.run, "run"),
            (self.can.check, "check"),
            (self.can.step, "step"),
        ] {
            if yes {
                v.push(what);
            }
        }
        v.join(" · ")
    }

    /// The orderings `--ordering` accepts (empty for a broken/fixed pair).
    pub fn orderings(&self) -> &'static [Mode] {
        match self.variants {
            Variants::BrokenFixed | Variants::Single => &[],
            Variants::Orderings { all, .. } => all,
        }
    }

    /// The case that stands for its broken variant (the matrix's row, `step`'s replay).
    pub fn broken_case(&self) -> Case {
        match self.variants {
            Variants::BrokenFixed | Variants::Single => Case::Variant(Variant::Broken),
            Variants::Orderings { broken, .. } => Case::Mode(broken),
        }
    }
}

impl Serialize for Spec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Demo", 13)?;
        st.serialize_field("name", self.name)?;
        st.serialize_field("concept", self.module.rsplit('/').next().unwrap_or(self.module))?;
        st.serialize_field("group", self.group.title())?;
        st.serialize_field("seed_demo", self.seed_title)?;
        st.serialize_field("lesson", self.lesson)?;
        st.serialize_field("pair", self.pair)?;
        st.serialize_field(
            "orderings",
            &self.orderings().iter().map(|m| m.name()).collect::<Vec<_>>(),
        )?;
        st.serialize_field("run", &self.can.run)?;
        st.serialize_field("check", &self.can.check)?;
        st.serialize_field("step", &self.can.step)?;
        st.serialize_field("bug_class", self.bug.name())?;
        st.serialize_field("available", &self.missing_feature().is_none())?;
        st.serialize_field("params", self.params)?;
        st.end()
    }
}

/// A demo of the lab: its [`Spec`] and the code behind `run`, `check`, `step` and the matrix.
///
/// A method the spec does not promise (`can.run: false` and no `run`) keeps its default; a test
/// (`tests/registry.rs`) walks the registry and exercises every promised one.
pub trait Demo: Sync {
    /// Everything about the demo that is data.
    fn spec(&self) -> &Spec;

    /// Runs `cases` on real cores. The lab has already checked the cases, the thread count and the
    /// iteration bound against the spec, and resolved the defaults into `opts`.
    fn run(&self, cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let _ = (cases, opts);
        Err(UsageError(format!("demo `{}` has no real-core run", self.spec().name)))
    }

    /// Runs the model scenario of `case` under `checker` (every role on its own model thread).
    fn check(&self, case: Case, checker: Checker) -> Report {
        let _ = (case, checker);
        unreachable!("demo `{}` has no model scenario", self.spec().name)
    }

    /// A replay of its own (the default replays the checker's counterexample); `None`: use the default.
    fn replay(&self, variant: Variant) -> Option<Replay> {
        let _ = variant;
        None
    }

    /// The shuttle scenario of `case` for the "you are the scheduler" game ([`sched`]): the same
    /// scenario (and algorithm code) the checkers check, with two spawned threads beside the main
    /// one, which only builds, joins and checks. `None`: the demo has no such game.
    fn shuttle_scenario(&self, case: Case) -> Option<Scenario> {
        let _ = case;
        None
    }

    /// Runs the broken variant on real cores for the matrix (only asked when the bug class lets
    /// real cores show it).
    fn detect_on_cores(&self, case: Case) -> Detection {
        let _ = case;
        Detection::Blind("not run".into())
    }
}

/// A model scenario the lab runs under a scheduler of its own ([`Demo::shuttle_scenario`]).
pub type Scenario = Box<dyn Fn() + Send + Sync + 'static>;

/// What a real-core run of a broken variant showed, for the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The bug showed: after `count` iterations (rounds, values…), and how.
    Found {
        /// Iterations (or rounds, values) run.
        count: u64,
        /// What showed.
        text: String,
    },
    /// It did not show in `count` iterations.
    Missed {
        /// Iterations (or rounds, values) run.
        count: u64,
        /// What ran.
        text: String,
    },
    /// Could not tell (the machine was busy), or cannot run: why.
    Blind(String),
}

impl Detection {
    /// `Found` with `found` when `bad > 0` in `count` iterations, else `Missed` with `missed`.
    pub fn from_count(bad: u64, count: u64, found: String, missed: String) -> Self {
        if bad > 0 {
            Detection::Found { count, text: found }
        } else {
            Detection::Missed { count, text: missed }
        }
    }
}

/// A user mistake: printed as one line, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// One case of a command: a broken/fixed variant, or a litmus test at an ordering.
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

    /// The variant of a broken/fixed case.
    ///
    /// # Panics
    /// On a litmus case: the lab hands a demo only the cases its spec declares.
    pub fn variant(self) -> Variant {
        match self {
            Case::Variant(v) => v,
            Case::Mode(m) => unreachable!("a broken/fixed demo got ordering {m}"),
        }
    }

    /// The ordering of a litmus case.
    ///
    /// # Panics
    /// On a broken/fixed case: the lab hands a demo only the cases its spec declares.
    pub fn mode(self) -> Mode {
        match self {
            Case::Mode(m) => m,
            Case::Variant(v) => unreachable!("a litmus demo got variant {v}"),
        }
    }
}

/// `run`'s options, resolved against the demo's spec.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Threads.
    pub threads: usize,
    /// Iterations (rounds for litmus tests) per thread.
    pub iterations: u64,
    /// How to pin the threads.
    pub pin: crate::hw::Pin,
    /// The demo's own options ([`Spec::params`]), resolved.
    pub params: ParamValues,
}

/// One measured or counted figure of a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What it is: `lost updates`, `ns/increment`…
    pub label: String,
    /// Its value as a number (`NaN` for a figure that is not one).
    pub value: f64,
    /// Its unit (`ns`, `%`, `x`, `items/s`; empty for a count).
    pub unit: &'static str,
    /// How the text output prints it.
    pub text: String,
}

impl Figure {
    /// A count.
    pub fn count(label: &str, n: u64) -> Self {
        Self {
            label: label.into(),
            value: n as f64,
            unit: "",
            text: n.to_string(),
        }
    }

    /// A number printed with `decimals` decimals, in `unit`.
    pub fn number(label: &str, value: f64, decimals: usize, unit: &'static str) -> Self {
        Self {
            label: label.into(),
            value,
            unit,
            text: format!("{value:.decimals$}{}", if unit == "x" { "x" } else { "" }),
        }
    }

    /// `part` as a percentage of `whole`, two decimals.
    pub fn percent(label: &str, part: u64, whole: u64) -> Self {
        let value = if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        };
        Self {
            label: label.into(),
            value,
            unit: "%",
            text: format!("{value:.2}%"),
        }
    }

    /// Text only (a figure that is not a number here).
    pub fn text(label: &str, text: &str) -> Self {
        Self {
            label: label.into(),
            value: f64::NAN,
            unit: "",
            text: text.into(),
        }
    }
}

/// JSON: `[label, text, value, unit]` (the first two as the lab has always printed them).
impl Serialize for Figure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(4)?;
        t.serialize_element(&self.label)?;
        t.serialize_element(&self.text)?;
        t.serialize_element(&(self.value.is_finite()).then_some(self.value))?;
        t.serialize_element(self.unit)?;
        t.end()
    }
}

/// One row of a run: a case and what it measured.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `broken`, `fixed`, `relaxed`, `padded`…
    pub case: String,
    /// Its figures, in display order (every row of a run has the same labels).
    pub figures: Vec<Figure>,
    /// Whether the threads really ran in parallel (`None`: not measured, it does not matter here).
    pub parallel: Option<bool>,
    /// The parallelism verdict line.
    pub parallelism: String,
}

impl Row {
    /// A row measured by threads on real cores: `parallelism` says whether they overlapped.
    pub fn on_cores(case: impl Into<String>, figures: Vec<Figure>, parallelism: &crate::hw::Parallelism) -> Self {
        Self {
            case: case.into(),
            figures,
            parallel: Some(parallelism.ran_in_parallel()),
            parallelism: parallelism.verdict(),
        }
    }
}

/// A curve: `(x, y)` points with units, for plots.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    /// What the curve is.
    pub name: String,
    /// The x axis' label and unit.
    pub x: (String, &'static str),
    /// The y axis' label and unit.
    pub y: (String, &'static str),
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
    /// Plot x on a log scale (a sweep of sizes from KiB to GiB).
    pub log_x: bool,
    /// Plot y on a log scale (a latency distribution whose tail is 100× its median).
    pub log_y: bool,
    /// Vertical marks on the x axis: detected boundaries or reference sizes, `(x, label)`.
    pub marks: Vec<(f64, String)>,
}

impl Series {
    /// A linear-x curve with no marks: `x` and `y` are `(label, unit)`.
    pub fn new(
        name: impl Into<String>,
        x: (&str, &'static str),
        y: (&str, &'static str),
        points: Vec<(f64, f64)>,
    ) -> Self {
        Self {
            name: name.into(),
            x: (x.0.into(), x.1),
            y: (y.0.into(), y.1),
            points,
            log_x: false,
            log_y: false,
            marks: Vec::new(),
        }
    }

    /// The same curve plotted with a log-scale x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// The same curve plotted with a log-scale y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Adds a vertical mark at `x` (a detected cliff, a cache size sysfs reports).
    pub fn mark(mut self, x: f64, label: impl Into<String>) -> Self {
        self.marks.push((x, label.into()));
        self
    }
}

/// What a `run` measured: rows, notes and series.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutput {
    /// The demo.
    pub demo: String,
    /// Threads used.
    pub threads: usize,
    /// Iterations (or rounds) per thread.
    pub iterations: u64,
    /// The demo's own options as run (`[["mode", "tx"], ["descriptors", "8"]]`).
    pub params: Vec<(&'static str, String)>,
    /// One row per case.
    pub rows: Vec<Row>,
    /// Honest notes (what the hardware cannot show, how to see it anyway).
    pub notes: Vec<String>,
    /// Curves, where the demo measures one.
    pub series: Vec<Series>,
}

impl RunOutput {
    /// An empty result for `demo` with `opts`: the demo adds rows, notes and series.
    pub fn new(spec: &Spec, opts: &RunOptions) -> Self {
        Self {
            demo: spec.name.into(),
            threads: opts.threads,
            iterations: opts.iterations,
            params: opts.params.pairs(),
            rows: Vec::new(),
            notes: Vec::new(),
            series: Vec::new(),
        }
    }
}

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

/// The checkers `check` and `matrix` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Checker {
    /// loom, exhaustive (bounded for 3+ threads).
    Loom,
    /// shuttle's random scheduler, [`SHUTTLE_ITERATIONS`] schedules.
    ShuttleRandom,
    /// shuttle's PCT scheduler at depth 2 (3 for 3+ threads), [`SHUTTLE_ITERATIONS`] schedules.
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

    /// Runs `scenario` (with `threads` model threads, the main one included) under this checker,
    /// with the lab's bounds: loom bounds preemptions at 2 for 3+ threads (its search explodes
    /// otherwise), shuttle PCT looks for bugs of depth 2 (3 for 3+ threads).
    pub fn explore(self, threads: usize, scenario: impl Fn() + Send + Sync + 'static) -> Report {
        use crate::check;
        match self {
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
}

/// One cell of the detection matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// `found` / `missed` / `blind` / `false positive`.
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
