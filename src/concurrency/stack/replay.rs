//! The ABA interleaving of the module doc, played step by step on one thread (`lockfree-lab step aba`).

use super::{account, index, pack, real, tag, Lifo, Local, Snapshot, Variant, NIL};

/// One step of [`aba_replay`]: what a thread did and the stack right after it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based step number.
    pub number: usize,
    /// `setup`, `T1`, `T2` or `check`.
    pub actor: &'static str,
    /// What happened, in words.
    pub action: String,
    /// The head word after the step: `A (tag 3)`, `empty (tag 2)`.
    pub head: String,
    /// The list from the head down: `A:1 -> B:2`, `B:4 -> B... (cycle)`.
    pub stack: String,
    /// T2's free list, oldest first: `[A, B]`.
    pub t2_free: String,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:>2}. [{}] {}", self.number, self.actor, self.action)?;
        write!(
            f,
            "    head = {:<14} stack: {:<24} T2 free: {}",
            self.head, self.stack, self.t2_free
        )
    }
}

/// Plays the classic ABA interleaving on one thread, deterministically, with the two halves of
/// T1's pop ([`real::broken::Stack::pop_read`] and `pop_commit`) split around T2's operations
/// (see the module doc), and returns each step with the stack after it. The broken stack ends in
/// a cycle; the fixed one ends empty with every value popped once.
pub fn aba_replay(variant: Variant) -> Vec<ReplayStep> {
    match variant {
        Variant::Broken => replay::<real::broken::Stack>(),
        Variant::Fixed => replay::<real::fixed::Stack>(),
    }
}

fn replay<S: Lifo>() -> Vec<ReplayStep> {
    let stack = S::with_capacity(2);
    let (mut main, mut t1, mut t2) = (Local::default(), Local::default(), Local::default());
    let mut steps = Vec::new();
    let mut step = |actor: &'static str, action: String, stack: &S, t2: &Local| {
        steps.push(describe(steps.len() + 1, actor, action, &stack.snapshot(), t2));
    };
    stack.push(&mut main, 2).expect("capacity 2");
    stack.push(&mut main, 1).expect("capacity 2");
    step(
        "setup",
        "push 2 (node B), then 1 (node A): the stack is [1, 2]".into(),
        &stack,
        &t2,
    );

    let attempt = stack.pop_read().expect("the stack holds two values");
    step(
        "T1",
        format!(
            "pop: reads the head {} and A.next = {}, then stalls before its CAS",
            word(attempt.head),
            name(attempt.next)
        ),
        &stack,
        &t2,
    );
    let a = stack.pop(&mut t2);
    step(
        "T2",
        format!("pop -> {a:?}: node A goes to T2's free list"),
        &stack,
        &t2,
    );
    let b = stack.pop(&mut t2);
    step(
        "T2",
        format!("pop -> {b:?}: node B goes to T2's free list"),
        &stack,
        &t2,
    );
    let _ = stack.push(&mut t2, 3);
    step(
        "T2",
        "push 3 on the oldest node it freed: A is on top again".into(),
        &stack,
        &t2,
    );
    let head_now = stack.snapshot();
    let popped = match stack.pop_commit(&mut t1, attempt) {
        Ok(v) => {
            step(
                "T1",
                format!(
                    "CAS expects {} and finds {}: it SUCCEEDS and sets the head to B, a node on T2's \
                     free list; T1 returns {v}",
                    word(attempt.head),
                    word(pack(head_now.head_index, head_now.head_tag))
                ),
                &stack,
                &t2,
            );
            Some(v)
        }
        Err(retry) => {
            step(
                "T1",
                format!(
                    "CAS expects {} but finds {}: it fails (the tag moved) and T1 must retry",
                    word(attempt.head),
                    word(pack(head_now.head_index, head_now.head_tag))
                ),
                &stack,
                &t2,
            );
            let mut attempt = retry;
            let v = loop {
                let Some(a) = attempt else { break None };
                match stack.pop_commit(&mut t1, a) {
                    Ok(v) => break Some(v),
                    Err(next) => attempt = next,
                }
            };
            step("T1", format!("retries from the real head: pop -> {v:?}"), &stack, &t2);
            v
        }
    };
    let pushed4 = stack.push(&mut t2, 4).is_ok();
    let snap = stack.snapshot();
    let action = if snap.cycle {
        "push 4 on its next free node, B — which is the top: B.next = B, the stack is a cycle".to_string()
    } else {
        "push 4 on its next free node, B".to_string()
    };
    step("T2", action, &stack, &t2);

    let mut out: Vec<u64> = [a, b, popped].into_iter().flatten().collect();
    let mut drained = Vec::new();
    while drained.len() <= 2 {
        match stack.pop(&mut main) {
            Some(v) => drained.push(v),
            None => break,
        }
    }
    out.extend(&drained);
    let mut pushed = vec![1, 2, 3];
    if pushed4 {
        pushed.push(4);
    }
    let verdict = match account(&pushed, &out) {
        Ok(()) if drained.len() <= 2 => "every value came out exactly once".to_string(),
        Ok(()) => "the stack never empties".to_string(),
        Err(e) => e,
    };
    let cycle = if drained.len() > 2 { " (and more: a cycle)" } else { "" };
    step("check", format!("drain: {drained:?}{cycle}; {verdict}"), &stack, &t2);
    steps
}

/// Node names of the replay: index 1 (pushed last, on top) is A, index 0 is B.
fn name(index: u32) -> String {
    match index {
        NIL => "NIL".into(),
        1 => "A".into(),
        0 => "B".into(),
        i => format!("#{i}"),
    }
}

fn word(w: u64) -> String {
    match index(w) {
        NIL => format!("(empty, tag {})", tag(w)),
        i => format!("({}, tag {})", name(i), tag(w)),
    }
}

fn describe(number: usize, actor: &'static str, action: String, snap: &Snapshot, t2: &Local) -> ReplayStep {
    let head = match snap.head_index {
        NIL => format!("empty (tag {})", snap.head_tag),
        i => format!("{} (tag {})", name(i), snap.head_tag),
    };
    let mut stack: Vec<String> = snap.nodes.iter().map(|&(i, v)| format!("{}:{v}", name(i))).collect();
    if snap.cycle {
        stack.push(format!("{}... (cycle)", name(snap.nodes.last().map_or(NIL, |n| n.0))));
    }
    let stack = if stack.is_empty() {
        "[]".into()
    } else {
        stack.join(" -> ")
    };
    let free: Vec<String> = t2.nodes().map(name).collect();
    ReplayStep {
        number,
        actor,
        action,
        head,
        stack,
        t2_free: format!("[{}]", free.join(", ")),
    }
}

// ---- real threads ----
