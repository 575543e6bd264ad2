//! The scheduler game and the trace view (`lab::sched`, `lab::trace_view`) on the five two-thread
//! demos: names, edges, schedules that break the broken variants and that the fixed ones survive,
//! and one-line errors for bad input. (Here, not in `src/lab/`: only a concept's folder names a
//! demo in the library's source.)

use lockfree_lab::lab::{self, find, parse_case, sched, trace_view, Case, Demo, Play, Variant};

const BROKEN: Case = Case::Variant(Variant::Broken);
const FIXED: Case = Case::Variant(Variant::Fixed);

fn demo(name: &str) -> &'static dyn Demo {
    find(name).unwrap()
}

fn broke(play: &Play) -> bool {
    assert!(play.done, "not done: {play:?}");
    play.verdict.as_ref().expect("a done play has a verdict").broken
}

/// Plays `choices`, then lets each runnable thread (lowest first) take steps until done.
fn play_to_end(demo: &dyn Demo, case: Case, choices: &[usize]) -> Play {
    let mut choices = choices.to_vec();
    loop {
        let p = lab::play(demo, case, &choices).unwrap();
        if p.done {
            return p;
        }
        let t = p
            .threads
            .iter()
            .find(|t| t.state == "runnable")
            .expect("not done: a thread can run");
        choices.push(t.id);
    }
}

/// The ABA interleaving: T1 reads head A and next[A] = B and stalls; T2 pops A, pops B and
/// pushes 3 on the recycled A; T1's CAS (A -> B) succeeds on the broken stack.
fn aba_schedule() -> Vec<usize> {
    let aba = demo("aba");
    let mut choices = vec![1, 1];
    // T2 runs its whole pop, pop, push.
    loop {
        let p = lab::play(aba, BROKEN, &choices).unwrap();
        let t2 = &p.threads[1];
        if t2.state != "runnable" {
            break;
        }
        choices.push(2);
    }
    choices
}

#[test]
fn the_aba_schedule_breaks_the_broken_stack_and_the_tagged_stack_survives_it() {
    let aba = demo("aba");
    let choices = aba_schedule();
    let p = play_to_end(aba, BROKEN, &choices);
    assert!(broke(&p), "{:?}", p.verdict);
    assert!(p.verdict.unwrap().text.contains("ABA"));
    let p = play_to_end(aba, FIXED, &choices);
    assert!(!broke(&p), "{:?}", p.verdict);
}

/// The twin: T1 pops whole, then T2 runs: no interleaving, no ABA.
#[test]
fn a_schedule_that_does_not_interleave_does_not_break_the_broken_stack() {
    let p = play_to_end(demo("aba"), BROKEN, &[1]);
    let first_t2 = p.steps.iter().position(|s| s.thread == 2).unwrap();
    assert!(p.steps[first_t2..].iter().all(|s| s.thread != 1), "T1 ran whole first");
    assert!(!broke(&p), "{:?}", p.verdict);
}

#[test]
fn the_first_steps_name_the_head_and_show_each_thread_s_next_step() {
    let p = lab::play(demo("aba"), BROKEN, &[]).unwrap();
    assert!(!p.done && p.verdict.is_none());
    assert!(p.steps.iter().all(|s| s.thread == 0), "only the setup ran");
    for t in &p.threads {
        assert_eq!(t.state, "runnable");
        let next = t.next.as_ref().unwrap();
        assert_eq!((next.name.as_str(), next.op.as_str()), ("head", "load"));
    }
    assert_eq!(p.locations.0.iter().find(|(n, _)| n == "head").unwrap().1, "A");
    let p = lab::play(demo("aba"), BROKEN, &[1]).unwrap();
    let last = p.steps.last().unwrap();
    assert_eq!(
        (last.thread, last.name.as_str(), last.value.as_str()),
        (1, "head", "-> A")
    );
    assert_eq!(p.threads[0].next.as_ref().unwrap().name, "next[A]");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["locations"]["next[A]"], "B");
    assert_eq!(json["threads"][0]["state"], "runnable");
}

#[test]
fn the_five_two_thread_demos_are_schedulable() {
    let names: Vec<&str> = lab::DEMOS
        .iter()
        .filter(|d| sched::schedulable(**d))
        .map(|d| d.spec().name)
        .collect();
    assert_eq!(names, ["lost-update", "cas-retry", "message-passing", "mpmc", "aba"]);
}

#[test]
fn bad_choices_are_one_line_errors() {
    let aba = demo("aba");
    let err = lab::play(aba, BROKEN, &[1, 3]).unwrap_err().0;
    assert!(err.contains("choice 2 is 3"), "{err}");
    assert!(lab::play(aba, BROKEN, &[0]).is_err());
    // T1's pop takes four steps (head, next, the CAS, the value): a fifth is refused.
    assert!(lab::play(aba, BROKEN, &[1, 1, 1, 1]).is_ok());
    let err = lab::play(aba, BROKEN, &[1, 1, 1, 1, 1]).unwrap_err().0;
    assert!(err.starts_with("T1 has finished: choose T2"), "{err}");
    let err = lab::play(aba, BROKEN, &vec![1; 10_000]).unwrap_err().0;
    assert!(err.contains("at most"), "{err}");
    let err = lab::play(demo("spsc"), BROKEN, &[]).unwrap_err().0;
    assert!(err.contains("aba"), "{err}");
    let full = play_to_end(aba, BROKEN, &[1]);
    let mut more = full.choices.clone();
    more.push(2);
    let err = lab::play(aba, BROKEN, &more).unwrap_err().0;
    assert!(err.contains("and so has T1: the run is over"), "{err}");
}

#[test]
fn every_schedulable_demo_s_hint_breaks_its_broken_variant_and_the_fixed_one_survives() {
    for name in ["lost-update", "cas-retry", "aba", "mpmc"] {
        let d = demo(name);
        let broken = d.spec().broken_case();
        let choices = lab::hint(d, broken).unwrap();
        let p = lab::play(d, broken, &choices).unwrap();
        assert!(broke(&p), "{name}: {:?}", p.verdict);
        let fixed = lab::cases(d, Some(Variant::Fixed), None).unwrap()[0];
        let (report, _) = sched::replay_to_end(d, fixed, &choices).unwrap();
        assert!(report.failure.is_none(), "{name}: {report}");
    }
    // Where the fixed variant takes the same steps, the very same choices finish it.
    let d = demo("cas-retry");
    let choices = lab::hint(d, BROKEN).unwrap();
    let p = lab::play(d, FIXED, &choices).unwrap();
    assert!(!broke(&p), "{:?}", p.verdict);
}

/// message-passing's bug is weak memory: its hint (loom's counterexample) breaks nothing here,
/// and the verdict says why.
#[test]
fn message_passing_survives_every_schedule_here_and_says_why() {
    let d = demo("message-passing");
    let broken = d.spec().broken_case();
    let choices = lab::hint(d, broken).unwrap();
    let p = play_to_end(d, broken, &choices);
    let v = p.verdict.unwrap();
    assert!(!v.broken && v.text.contains("weak memory"), "{v:?}");
}

#[test]
fn the_aba_counterexample_names_head_and_the_nodes_and_draws_edges() {
    let aba = find("aba").unwrap();
    let v = trace_view(aba, Case::Variant(Variant::Broken)).unwrap();
    assert!(v.verdict.starts_with("found: ABA"), "{}", v.verdict);
    assert!(v.failure.is_some());
    for name in ["head", "next[A]", "next[B]"] {
        assert!(v.locations.iter().any(|l| l == name), "{name} in {:?}", v.locations);
    }
    assert!(v.steps.iter().all(|s| !s.name.starts_with('#')), "every atomic named");
    assert!(
        v.edges.iter().any(|e| e.kind == "sw"),
        "the push's Release CAS read by an Acquire"
    );
    assert!(v.edges.iter().any(|e| e.kind == "rf"));
    assert_eq!(v.threads, [0, 1, 2]);
    let json = serde_json::to_value(&v).unwrap();
    let step = &json["steps"][0];
    for field in [
        "number", "thread", "location", "code", "name", "op", "ordering", "value", "note",
    ] {
        assert!(!step[field].is_null(), "{field}");
    }
    assert!(step.get("reads_from").is_some() && step.get("synchronizes_with").is_some());
}

#[test]
fn the_fixed_stack_passes_and_survives_the_broken_schedule() {
    let aba = find("aba").unwrap();
    let v = trace_view(aba, Case::Variant(Variant::Fixed)).unwrap();
    assert!(v.verdict.starts_with("nothing found"), "{}", v.verdict);
    assert!(v.verdict.contains("it survives"), "{}", v.verdict);
    assert!(v.failure.is_none());
    assert!(
        v.steps.iter().any(|s| s.value.contains("/tag ")),
        "the tagged head prints its tag"
    );
}

#[test]
fn message_passing_s_stale_read_is_marked_and_has_no_synchronizes_with_edge() {
    let mp = find("message-passing").unwrap();
    let v = trace_view(mp, parse_case(mp, "broken").unwrap()).unwrap();
    assert_eq!(v.checker, "loom");
    assert!(
        v.steps.iter().any(|s| s.name == "data" && !s.note.is_empty()),
        "{:#?}",
        v.steps
    );
    assert!(v.edges.iter().all(|e| e.kind != "sw"));
}

/// A demo that names nothing keeps the trace's numbers.
#[test]
fn an_unnamed_atomic_keeps_its_number() {
    let spsc = find("spsc").unwrap();
    let v = trace_view(spsc, parse_case(spsc, "broken").unwrap()).unwrap();
    assert!(v.failure.is_some(), "{}", v.verdict);
    assert!(v.locations.iter().all(|l| l.starts_with('#')), "{:?}", v.locations);
    assert!(!v.locations.is_empty());
}

#[test]
fn a_demo_with_nothing_to_check_or_a_bad_variant_is_a_usage_error() {
    let spsc = find("spsc").unwrap();
    assert!(parse_case(spsc, "relaxed").is_err());
    assert!(parse_case(spsc, "fixed").is_ok());
    let mp = find("message-passing").unwrap();
    assert_eq!(parse_case(mp, "relaxed").unwrap(), parse_case(mp, "broken").unwrap());
    let perf = lab::DEMOS.iter().find(|d| !d.spec().can.check).unwrap();
    assert!(trace_view(*perf, perf.spec().broken_case()).is_err());
}
