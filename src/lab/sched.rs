//! "You are the scheduler": the learner picks which thread takes the next step of a demo's real
//! two-thread scenario, and sees when the chosen interleaving breaks the broken variant and that
//! the fixed variant survives it.
//!
//! Nothing is simulated: [`play`] runs the demo's own shuttle scenario ([`Demo::shuttle_scenario`],
//! the algorithm code the checkers check) under a shuttle [`Scheduler`] of the lab's own, which
//! follows the learner's choices:
//!
//! - the main thread (T0: it builds the structure, joins, then checks) runs whenever it can;
//! - otherwise choice `j` names the thread that performs the `j`-th *visible* step (a traced
//!   atomic operation of T1 or T2): that thread is scheduled until the trace grows by one step;
//!   what it does between two atomic operations (spawning, returning) is invisible;
//! - when the choices run out the execution stops there, and each thread's next step is found by
//!   replaying with one more choice for it (an execution takes microseconds);
//! - a choice naming a thread that cannot run is a [`UsageError`] (`T2 has finished: choose T1`).
//!
//! The run is `done` when neither thread has a visible step left; it is then finished (each
//! thread returns, the main thread joins and runs the scenario's check) and the verdict says
//! whether the check, or any assertion on the way, failed. [`hint`] gives a failing schedule the
//! checker found for the broken variant: replayed here it breaks the broken variant, and on the
//! fixed variant (whose steps may differ: a failed CAS retries) it shows the fix surviving.
//!
//! shuttle runs one thread at a time and every read sees the latest write (sequential
//! consistency), so a schedule can show an interleaving bug (lost update, ABA, MPMC) but not a
//! weak-memory one: on `message-passing` every schedule survives, and the verdict says that the
//! stale read needs loom's weak-memory model (the trace view shows its counterexample).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use super::trace_view::{view_steps, ViewStep};
use super::{Case, Checker, Demo, Scenario, UsageError};
use crate::check::{self, Report};
use crate::sync::trace::{self, Name, Step};

/// The spawned threads of a game scenario: T1 and T2.
pub const THREADS: usize = 2;

/// The longest schedule [`play`] accepts (every game scenario finishes in far fewer steps).
pub const MAX_CHOICES: usize = 500;

/// Scheduling decisions one execution may take before the lab gives up on it (a thread spinning
/// without a visible step).
const MAX_DECISIONS: usize = 100_000;

/// A game's state after the learner's choices (JSON as `POST /api/schedule` returns it).
#[derive(Clone, Debug, Serialize)]
pub struct Play {
    /// The demo.
    pub demo: String,
    /// The case played (`broken`, `fixed`, or an ordering).
    pub case: String,
    /// The choices played: `choices[i]` is the thread that took the `i`-th visible step.
    pub choices: Vec<usize>,
    /// Every traced step so far, the main thread's setup (and, once done, its check) included.
    pub steps: Vec<ViewStep>,
    /// T1 and T2: whether each can take a step, and which.
    pub threads: Vec<ThreadState>,
    /// True when no thread has a visible step left: the run was finished and checked.
    pub done: bool,
    /// Once done: whether the scenario's check (or an assertion on the way) failed.
    pub verdict: Option<Verdict>,
    /// Each named location's value after the last step (JSON: an object, in naming order).
    pub locations: Locations,
}

/// One spawned thread of a [`Play`].
#[derive(Clone, Debug, Serialize)]
pub struct ThreadState {
    /// 1 or 2.
    pub id: usize,
    /// `runnable` (it has a visible step to take), `finished` (it has none left) or `blocked`.
    pub state: &'static str,
    /// The step it takes if chosen next (`null` unless runnable).
    pub next: Option<NextStep>,
}

/// The step a thread takes if chosen next.
#[derive(Clone, Debug, Serialize)]
pub struct NextStep {
    /// The location's name (`head`, `next[A]`, or `#N`).
    pub name: String,
    /// `load`, `compare_exchange`…
    pub op: String,
    /// `src/concurrency/stack/broken.rs:88`.
    pub location: String,
    /// The source line.
    pub code: String,
}

/// How a finished game ended.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// True when the invariant broke.
    pub broken: bool,
    /// What happened, in one line.
    pub text: String,
}

/// Named locations and their current values, printed as a JSON object in naming order.
#[derive(Clone, Debug, Default)]
pub struct Locations(pub Vec<(String, String)>);

impl Serialize for Locations {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// What to do once the choices run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    /// Stop the execution there.
    Stop,
    /// Let the threads finish in any order (round-robin on a yield), visible steps and all.
    Finish,
}

/// What the scheduler saw, read back after the execution.
#[derive(Debug, Default)]
struct Seen {
    /// The first choice that named a thread that could not run: `(position, thread)`.
    stuck: Option<(usize, usize)>,
    /// The spawned threads that were ever runnable.
    spawned: BTreeSet<usize>,
    /// True when the decision bound stopped the execution.
    spinning: bool,
}

/// The game's scheduler: the main thread first, then the learner's choices (see the module doc).
struct Chooser {
    choices: Vec<usize>,
    tail: Tail,
    /// A choice naming a thread that cannot run is skipped (a replay of another variant's
    /// schedule) rather than stopping the execution.
    lenient: bool,
    skipped: usize,
    decisions: usize,
    started: bool,
    seen: Rc<RefCell<Seen>>,
}

impl Scheduler for Chooser {
    fn new_execution(&mut self) -> Option<Schedule> {
        (!std::mem::replace(&mut self.started, true)).then(|| Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let mut seen = self.seen.borrow_mut();
        self.decisions += 1;
        if self.decisions > MAX_DECISIONS {
            seen.spinning = true;
            return None;
        }
        let ids: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
        seen.spawned.extend(ids.iter().copied().filter(|&id| id != 0));
        if ids.contains(&0) {
            return Some(TaskId::from(0));
        }
        let visible = trace::count(|s: &Step| s.thread != 0);
        loop {
            let position = visible + self.skipped;
            let Some(&wanted) = self.choices.get(position) else {
                break;
            };
            if ids.contains(&wanted) {
                return Some(TaskId::from(wanted));
            }
            if !self.lenient {
                seen.stuck = Some((position, wanted));
                return None;
            }
            self.skipped += 1;
        }
        match self.tail {
            Tail::Stop => None,
            Tail::Finish => {
                let current = current.map(usize::from).filter(|c| ids.contains(c));
                let pick = match current {
                    Some(c) if !is_yielding => c,
                    // Round-robin past a thread that yields (a spin loop waiting for the other).
                    Some(c) => ids.iter().copied().find(|&id| id > c).unwrap_or(ids[0]),
                    None => *ids.first()?,
                };
                Some(TaskId::from(pick))
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// One execution of a game scenario.
struct Run {
    report: Report,
    steps: Vec<Step>,
    names: Vec<Name>,
    seen: Seen,
}

impl Run {
    /// The visible steps (of T1 and T2).
    fn visible(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.thread != 0)
    }

    /// The first of `choices` this run could not follow, `(position, thread)`: one naming a
    /// thread that could not run when asked, or one left over when the run ended first.
    fn stuck(&self, choices: &[usize]) -> Option<(usize, usize)> {
        let taken = self.visible().count();
        self.seen
            .stuck
            .or_else(|| choices.get(taken).map(|&thread| (taken, thread)))
    }
}

/// Runs `scenario` once under the game's scheduler.
fn execute(scenario: &Arc<Scenario>, choices: &[usize], tail: Tail, lenient: bool) -> Run {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let chooser = Chooser {
        choices: choices.to_vec(),
        tail,
        lenient,
        skipped: 0,
        decisions: 0,
        started: false,
        seen: Rc::clone(&seen),
    };
    // shuttle wants a `'static` scenario; the `Arc` lets every run of one game share it.
    let body = Arc::clone(scenario);
    let (report, steps, names) = check::shuttle_scheduled(chooser, move || body());
    let seen = std::mem::take(&mut *seen.borrow_mut());
    Run {
        report,
        steps,
        names,
        seen,
    }
}

/// The demo's game scenario for `case`, or the error naming the demos that have one.
fn scenario(demo: &dyn Demo, case: Case) -> Result<Arc<Scenario>, UsageError> {
    super::drive::available(demo)?;
    demo.shuttle_scenario(case).map(Arc::new).ok_or_else(|| {
        let names: Vec<&str> = super::DEMOS
            .iter()
            .filter(|d| schedulable(**d))
            .map(|d| d.spec().name)
            .collect();
        UsageError(format!(
            "demo `{}` has no \"you are the scheduler\" round (it is for the two-thread demos: {})",
            demo.spec().name,
            names.join(", ")
        ))
    })
}

/// Whether `demo` has a "you are the scheduler" round (the catalogue's `schedulable`).
pub fn schedulable(demo: &dyn Demo) -> bool {
    demo.spec().missing_feature().is_none() && demo.shuttle_scenario(demo.spec().broken_case()).is_some()
}

/// Checks that every choice names T1 or T2 and that there are not too many.
fn check_choices(choices: &[usize]) -> Result<(), UsageError> {
    if choices.len() > MAX_CHOICES {
        return Err(UsageError(format!(
            "a schedule takes at most {MAX_CHOICES} choices (got {})",
            choices.len()
        )));
    }
    if let Some((i, c)) = choices.iter().enumerate().find(|(_, &c)| !(1..=THREADS).contains(&c)) {
        return Err(UsageError(format!(
            "choice {} is {c}: a choice is the thread that takes the next step, 1 or 2",
            i + 1
        )));
    }
    Ok(())
}

/// The other spawned thread.
fn other(thread: usize) -> usize {
    if thread == 1 {
        2
    } else {
        1
    }
}

/// Plays `choices` on `demo`'s `case`: the steps so far, each thread's next step, and once no
/// thread has a visible step left, the verdict. A choice naming a thread that cannot run, or a
/// demo without a game, is a [`UsageError`].
pub fn play(demo: &dyn Demo, case: Case, choices: &[usize]) -> Result<Play, UsageError> {
    check_choices(choices)?;
    let scenario = scenario(demo, case)?;
    let run = execute(&scenario, choices, Tail::Stop, false);
    if run.seen.spinning {
        return Err(UsageError(format!(
            "the schedule made no visible step in {MAX_DECISIONS} scheduling decisions (a thread spins): try \
             the other thread"
        )));
    }
    if let Some((position, thread)) = run.stuck(choices) {
        let how = if run.seen.spawned.contains(&thread) {
            "has finished"
        } else {
            "cannot run yet"
        };
        if let Some(f) = run.report.failure.as_ref().filter(|_| run.seen.stuck.is_none()) {
            return Err(UsageError(format!(
                "the run already ended after {position} choices ({}): drop the choices after it",
                f.message.lines().next().unwrap_or_default()
            )));
        }
        let alternative = if run.seen.spawned.contains(&other(thread)) {
            // The other thread was runnable at that decision unless it had finished too.
            let probe_choices = [&choices[..position], &[other(thread)]].concat();
            let probe = execute(&scenario, &probe_choices, Tail::Stop, false);
            if probe.stuck(&probe_choices).is_none() {
                format!(": choose T{}", other(thread))
            } else {
                format!(
                    ", and so has T{}: the run is over after {position} choices",
                    other(thread)
                )
            }
        } else {
            String::new()
        };
        return Err(UsageError(format!(
            "T{thread} {how}{alternative} (choice {} of {})",
            position + 1,
            choices.len()
        )));
    }
    let spec = demo.spec();
    let mut threads = Vec::with_capacity(THREADS);
    if run.report.failure.is_none() {
        for id in 1..=THREADS {
            let probe = execute(&scenario, &[choices, &[id]].concat(), Tail::Stop, false);
            let next = probe.visible().nth(choices.len()).filter(|s| s.thread == id).map(|s| {
                let view = &view_steps(std::slice::from_ref(s))[0];
                NextStep {
                    name: view.name.clone(),
                    op: view.op.clone(),
                    location: view.location.clone(),
                    code: view.code.clone(),
                }
            });
            threads.push(ThreadState {
                id,
                state: if next.is_some() { "runnable" } else { "finished" },
                next,
            });
        }
    } else {
        // An assertion failed on the way: the execution is over.
        threads.extend((1..=THREADS).map(|id| ThreadState {
            id,
            state: "finished",
            next: None,
        }));
    }
    let done = threads.iter().all(|t| t.next.is_none());
    // Once no thread has a visible step left, let them return and the main thread check.
    let run = if done && run.report.failure.is_none() {
        execute(&scenario, choices, Tail::Finish, false)
    } else {
        run
    };
    let verdict = done.then(|| verdict(demo, case, &run.report));
    Ok(Play {
        demo: spec.name.into(),
        case: case.label(),
        choices: choices.to_vec(),
        steps: view_steps(&run.steps),
        threads,
        done,
        verdict,
        locations: locations(&run.steps, &run.names),
    })
}

/// The verdict of a finished run.
fn verdict(demo: &dyn Demo, case: Case, report: &Report) -> Verdict {
    let broken_case = case == demo.spec().broken_case();
    match &report.failure {
        Some(f) => Verdict {
            broken: true,
            text: f.message.lines().next().unwrap_or_default().to_string(),
        },
        None => Verdict {
            broken: false,
            text: match demo.spec().bug.blind_spot(Checker::ShuttleRandom) {
                Some(why) if broken_case => format!(
                    "every check passed on this schedule: the bug here is one of weak memory, not of interleaving, \
                     and this round runs each step in order ({why}); loom's counterexample in the trace view shows \
                     the stale read"
                ),
                _ => "every check passed: each value accounted for".into(),
            },
        },
    }
}

/// Each named location's value after the last step: the value its last step wrote, or read.
fn locations(steps: &[Step], names: &[Name]) -> Locations {
    Locations(
        names
            .iter()
            .filter_map(|name| {
                let step = steps
                    .iter()
                    .rev()
                    .find(|s| s.name.as_ref().is_some_and(|n| n.text == name.text))?;
                let value = step.written.or(step.read)?;
                Some((name.text.to_string(), name.show(value)))
            })
            .collect(),
    )
}

/// A schedule that breaks `demo`'s broken variant, from a checker's counterexample: the threads
/// of its visible steps, in order. shuttle's counterexample when shuttle finds one (it replays
/// here step for step); else loom's (a weak-memory bug: the same steps, which this round's
/// sequentially consistent runs survive). `case` only selects the demo's game: the hint is always
/// the broken variant's.
pub fn hint(demo: &dyn Demo, case: Case) -> Result<Vec<usize>, UsageError> {
    let broken = demo.spec().broken_case();
    scenario(demo, case)?;
    let broken_scenario = scenario(demo, broken)?;
    let shuttle = check::shuttle_random(super::SHUTTLE_ITERATIONS, check::DEFAULT_SEED, move || {
        broken_scenario()
    });
    let failure = match shuttle.failure {
        Some(f) => Some(f),
        None => demo.check(broken, Checker::Loom).failure,
    };
    let Some(failure) = failure else {
        return Err(UsageError(format!(
            "no checker found a failing schedule for `{}` ({})",
            demo.spec().name,
            broken.label()
        )));
    };
    Ok(failure
        .trace
        .iter()
        .filter(|s| s.thread != 0)
        .map(|s| s.thread)
        .collect())
}

/// Replays `choices` on `case` leniently (a choice its thread cannot take is skipped), then lets
/// the threads finish in order: the steps and report of a whole run (the trace view's replay of
/// the broken variant's counterexample on the fixed variant).
pub fn replay_to_end(demo: &dyn Demo, case: Case, choices: &[usize]) -> Option<(Report, Vec<Step>)> {
    let scenario = demo.shuttle_scenario(case)?;
    let run = execute(&Arc::new(scenario), choices, Tail::Finish, true);
    Some((run.report, run.steps))
}
