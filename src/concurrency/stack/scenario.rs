// The stack's model scenarios: every role on its own thread; the main thread only builds the
// stack, joins and checks. Each panics with a reason starting `ABA:` when values went wrong.
use super::sync::{thread, Arc};
use crate::stack::{account, Lifo, Local};

/// The classic interleaving's scenario. The stack holds `[1, 2]` (1 on top, on node A; 2 on node
/// B). T1 pops once; T2 pops twice and pushes 3 (on a recycled node: A, the oldest it freed).
/// The main thread then drains what is left. Every value pushed must come out exactly once:
/// panics with `ABA: value v came out n times` or `ABA: cycle` otherwise.
pub fn aba<S: Lifo>() {
    let stack = Arc::new(S::with_capacity(2));
    stack.name_locations();
    let mut main = Local::default();
    for v in [2, 1] {
        assert!(stack.push(&mut main, v).is_ok(), "a push into an empty stack failed");
    }
    let t1 = {
        let stack = Arc::clone(&stack);
        thread::spawn(move || stack.pop(&mut Local::default()))
    };
    let t2 = {
        let stack = Arc::clone(&stack);
        thread::spawn(move || {
            let mut local = Local::default();
            let a = stack.pop(&mut local);
            let b = stack.pop(&mut local);
            let pushed = stack.push(&mut local, 3).is_ok();
            (a, b, pushed)
        })
    };
    let p1 = t1.join().unwrap();
    let (a, b, pushed) = t2.join().unwrap();
    let mut pushed_values = vec![1, 2];
    if pushed {
        pushed_values.push(3);
    }
    let mut out: Vec<u64> = [p1, a, b].into_iter().flatten().collect();
    // Drain: a sound stack of capacity 2 empties within 2 pops; a third value means a cycle.
    let mut drained = 0;
    while let Some(v) = stack.pop(&mut main) {
        out.push(v);
        drained += 1;
        assert!(
            drained <= 2,
            "ABA: cycle: the stack never empties (popped so far: {out:?})"
        );
    }
    if let Err(e) = account(&pushed_values, &out) {
        panic!("ABA: {e} (T1 popped {p1:?}; T2 popped {a:?}, {b:?}, pushed 3: {pushed})");
    }
}
