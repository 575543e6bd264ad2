//! Model tests for the Treiber stack: every fixed test has a broken twin running the same
//! scenario (`stack::scenario::aba`: T1 pops once; T2 pops, pops, pushes).
//!
//! ABA is an interleaving bug, so loom and shuttle (PCT at depth ≥ 2, and random) must catch the
//! broken stack; the tagged one must pass every checker. The crossbeam-epoch stack (feature
//! `epoch`) is tested at the bottom: on real threads and under shuttle, not under loom (see there).

use lockfree_lab::check;
use lockfree_lab::stack::{self, loom as lm, shuttle as sh, Variant};

/// Preemption bound for the 3-thread (main + 2) scenario; bound 1 already finds the ABA.
const BOUND: Option<usize> = Some(3);
const ITERATIONS: usize = 2_000;

// ---- loom ----

#[test]
fn loom_broken_stack_aba_found() {
    let report = check::loom(BOUND, lm::scenario::aba::<lm::broken::Stack>);
    let failure = report.assert_found("ABA");
    println!("{report}");
    // The counterexample is the lesson's: T1's CAS on the head succeeds after T2's three operations.
    let cas_ok: Vec<_> = failure
        .trace
        .iter()
        .filter(|s| s.op == "compare_exchange" && s.detail().ends_with(": ok"))
        .collect();
    assert!(cas_ok.len() >= 4, "{report}");
}

#[test]
fn loom_fixed_stack_no_aba() {
    let report = check::loom(BOUND, lm::scenario::aba::<lm::fixed::Stack>);
    report.assert_passed();
    println!("{report}");
    assert!(report.executions > 100, "{report}");
}

// ---- shuttle ----

#[test]
fn shuttle_pct_broken_stack_aba_found() {
    let report = check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::aba::<sh::broken::Stack>,
    );
    report.assert_found("ABA");
    println!("{report}");
}

#[test]
fn shuttle_pct_fixed_stack_no_aba() {
    check::shuttle_pct(
        ITERATIONS,
        2,
        check::DEFAULT_SEED,
        sh::scenario::aba::<sh::fixed::Stack>,
    )
    .assert_passed();
}

#[test]
fn shuttle_pct_depth_3_broken_stack_aba_found() {
    check::shuttle_pct(
        ITERATIONS,
        3,
        check::DEFAULT_SEED,
        sh::scenario::aba::<sh::broken::Stack>,
    )
    .assert_found("ABA");
}

#[test]
fn shuttle_pct_depth_3_fixed_stack_no_aba() {
    check::shuttle_pct(
        ITERATIONS,
        3,
        check::DEFAULT_SEED,
        sh::scenario::aba::<sh::fixed::Stack>,
    )
    .assert_passed();
}

/// PCT at depth 1 never preempts a thread, so T1 never stalls between its read and its CAS: the
/// blind spot behind "use depth ≥ 2" (README: "What each checker can and cannot see").
#[test]
fn shuttle_pct_depth_1_misses_the_aba() {
    check::shuttle_pct(
        ITERATIONS,
        1,
        check::DEFAULT_SEED,
        sh::scenario::aba::<sh::broken::Stack>,
    )
    .assert_passed();
}

#[test]
fn shuttle_random_broken_stack_aba_found() {
    let report = check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, sh::scenario::aba::<sh::broken::Stack>);
    report.assert_found("ABA");
    println!("{report}");
}

#[test]
fn shuttle_random_fixed_stack_no_aba() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, sh::scenario::aba::<sh::fixed::Stack>).assert_passed();
}

// ---- the replay ----

#[test]
fn replay_broken_stack_walks_a_to_b_to_a_into_a_cycle() {
    let steps = stack::aba_replay(Variant::Broken);
    for s in &steps {
        println!("{s}");
    }
    assert_eq!(steps.len(), 8, "{steps:#?}");
    assert_eq!(steps[0].stack, "A:1 -> B:2");
    assert!(steps[1].action.contains("(A, tag 0)") && steps[1].action.contains("A.next = B"));
    assert_eq!(
        steps[4].head, "A (tag 0)",
        "T2's push put A back on top with the same word"
    );
    assert!(steps[5].action.contains("SUCCEEDS"), "{}", steps[5].action);
    assert_eq!(steps[5].head, "B (tag 0)");
    assert!(steps[6].stack.contains("cycle"), "{}", steps[6].stack);
    assert!(steps[7].action.contains("came out"), "{}", steps[7].action);
}

#[test]
fn replay_fixed_stack_cas_fails_and_retries() {
    let steps = stack::aba_replay(Variant::Fixed);
    for s in &steps {
        println!("{s}");
    }
    assert_eq!(steps.len(), 9, "{steps:#?}");
    assert!(steps[1].action.contains("(A, tag 2)"), "{}", steps[1].action);
    assert_eq!(
        steps[4].head, "A (tag 5)",
        "three successful CASes since T1 read (A, tag 2)"
    );
    assert!(steps[5].action.contains("fails"), "{}", steps[5].action);
    assert!(steps[6].action.contains("pop -> Some(3)"), "{}", steps[6].action);
    assert_eq!(steps[7].stack, "B:4");
    assert!(
        steps[8].action.contains("every value came out exactly once"),
        "{}",
        steps[8].action
    );
}

// ---- the arena stack's API: a Local serves one stack, failed pushes claim nothing, capacity ----

/// The model test binary's allocator: the system's, except that it refuses any single allocation
/// over 4 GiB, so that an arena too big for the machine fails the same way everywhere (where the
/// OS overcommits, the system allocator may hand out 32 GiB and the process die writing it), and
/// that it counts each thread's deallocations, so that a test can see *when* a popped node of the
/// epoch stack is freed.
const ALLOCATION_LIMIT: usize = 4 << 30;

mod frees {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    std::thread_local! {
        /// Deallocations made by this thread (const-initialized, no destructor: safe to use
        /// from inside the allocator).
        static FREES: Cell<usize> = const { Cell::new(0) };
    }

    /// The system allocator, refusing allocations over the limit and counting deallocations.
    pub struct Counting;

    // SAFETY: every call is forwarded unchanged to `System`, or answered with null (allocation
    // failure), which an allocator may always do; `dealloc` only also bumps a thread-local
    // counter, which neither allocates nor unwinds (`try_with`).
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > super::ALLOCATION_LIMIT {
                return std::ptr::null_mut();
            }
            // SAFETY: the caller's contract for `alloc`, forwarded.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if layout.size() > super::ALLOCATION_LIMIT {
                return std::ptr::null_mut();
            }
            // SAFETY: the caller's contract for `alloc_zeroed`, forwarded.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if new_size > super::ALLOCATION_LIMIT {
                return std::ptr::null_mut();
            }
            // SAFETY: the caller's contract for `realloc`, forwarded.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let _ = FREES.try_with(|f| f.set(f.get() + 1));
            // SAFETY: the caller's contract for `dealloc`, forwarded.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Deallocations made by the current thread so far.
    #[cfg_attr(not(feature = "epoch"), allow(dead_code))]
    pub fn on_this_thread() -> usize {
        FREES.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: frees::Counting = frees::Counting;

mod arena {
    use lockfree_lab::stack::{self, account, real, CapacityError, Lifo, Local, MAX_CAPACITY};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// Runs `f`, expecting a panic whose message contains `expected`.
    fn panic_message<R>(f: impl FnOnce() -> R) -> String {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(_) => panic!("expected a panic, but the call returned"),
            Err(e) => e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        }
    }

    /// A `Local` holding node 0 of stack `a`, pushed onto stack `b` whose node 0 holds a value:
    /// unchecked, `b`'s node 0 would be pushed a second time (a cycle, values out many times).
    fn local_on_a_second_stack<S: Lifo>() {
        let (a, b) = (S::with_capacity(2), S::with_capacity(2));
        let mut la = Local::default();
        assert!(a.push(&mut la, 1).is_ok());
        assert_eq!(a.pop(&mut la), Some(1), "node 0 of a is now on la");
        let mut lb = Local::default();
        assert!(b.push(&mut lb, 10).is_ok());
        let before = b.snapshot();
        let msg = panic_message(|| b.push(&mut la, 11));
        assert!(msg.contains("stack::Local used with a second stack"), "{msg}");
        let msg = panic_message(|| b.pop(&mut la));
        assert!(msg.contains("stack::Local used with a second stack"), "{msg}");
        assert_eq!(b.snapshot(), before, "the refused push and pop left b untouched");
        assert_eq!(b.pop(&mut lb), Some(10));
        assert_eq!(b.pop(&mut lb), None);
    }

    #[test]
    fn a_local_used_on_a_second_stack_panics_before_touching_it() {
        local_on_a_second_stack::<real::broken::Stack>();
        local_on_a_second_stack::<real::fixed::Stack>();
    }

    /// An attempt read on `a` and committed on `b` (same head word: node 0, same tag) would
    /// succeed and set `b`'s head to `a`'s `next`.
    fn attempt_on_a_second_stack<S: Lifo>() {
        let (a, b) = (S::with_capacity(2), S::with_capacity(2));
        let (mut la, mut lb) = (Local::default(), Local::default());
        assert!(a.push(&mut la, 1).is_ok());
        assert!(b.push(&mut lb, 2).is_ok());
        let attempt = a.pop_read().expect("a holds 1");
        let before = b.snapshot();
        assert_eq!(
            attempt.head(),
            stack::pack(before.head_index, before.head_tag),
            "both heads hold the same word: only the check tells the stacks apart"
        );
        let msg = panic_message(|| b.pop_commit(&mut lb, attempt));
        assert!(
            msg.contains("stack::PopAttempt committed on a stack that did not read it"),
            "{msg}"
        );
        assert_eq!(b.snapshot(), before);
    }

    #[test]
    fn a_pop_attempt_from_another_stack_is_refused() {
        attempt_on_a_second_stack::<real::broken::Stack>();
        attempt_on_a_second_stack::<real::fixed::Stack>();
    }

    /// After `reset`, a `Local` still holding a node (not cleared) would hand it out while a fresh
    /// claim of the same node is on the stack; an attempt read before the reset would commit on
    /// the new contents. Both are refused; a cleared `Local` serves again.
    fn reset_without_clear<S: Lifo>() {
        let s = S::with_capacity(2);
        let (mut l, mut m) = (Local::default(), Local::default());
        assert!(s.push(&mut l, 1).is_ok());
        assert!(s.push(&mut l, 2).is_ok());
        let stale = s.pop_read().expect("s holds two values");
        assert_eq!(s.pop(&mut l), Some(2), "node 1 is now on l");
        s.reset();
        assert!(s.push(&mut m, 3).is_ok(), "claims node 0");
        assert!(s.push(&mut m, 4).is_ok(), "claims node 1");
        let before = s.snapshot();
        let msg = panic_message(|| s.push(&mut l, 5));
        assert!(msg.contains("after reset without clear"), "{msg}");
        let msg = panic_message(|| s.pop_commit(&mut m, stale));
        assert!(
            msg.contains("stack::PopAttempt committed on a stack that did not read it"),
            "{msg}"
        );
        assert_eq!(s.snapshot(), before);
        l.clear();
        let out: Vec<u64> = [s.pop(&mut l), s.pop(&mut l), s.pop(&mut l)]
            .into_iter()
            .flatten()
            .collect();
        account(&[3, 4], &out).unwrap();
    }

    #[test]
    fn a_local_not_cleared_after_reset_panics_and_a_cleared_one_serves() {
        reset_without_clear::<real::broken::Stack>();
        reset_without_clear::<real::fixed::Stack>();
    }

    /// Pushes on a full arena fail without claiming a node: the fresh counter stays at the
    /// capacity. (A `fetch_add` moved it on every failure: after 2^32 − 1 of them it wrapped to 0
    /// and handed out node 0 while node 0 was on the stack.)
    fn full_arena<S: Lifo>() {
        let s = S::with_capacity(2);
        let mut l = Local::default();
        assert!(s.push(&mut l, 1).is_ok());
        assert!(s.push(&mut l, 2).is_ok());
        for _ in 0..1_000 {
            assert_eq!(s.push(&mut l, 3), Err(3));
        }
        assert_eq!(
            s.snapshot().claimed,
            2,
            "a failed push moved the fresh counter past the capacity"
        );
        assert_eq!(s.pop(&mut l), Some(2));
        assert!(s.push(&mut l, 5).is_ok(), "reuses the recycled node");
        assert_eq!(s.push(&mut l, 6), Err(6));
        assert_eq!(s.snapshot().claimed, 2);
        let out: Vec<u64> = [s.pop(&mut l), s.pop(&mut l), s.pop(&mut l)]
            .into_iter()
            .flatten()
            .collect();
        account(&[1, 5], &out).unwrap();
    }

    #[test]
    fn failed_pushes_on_a_full_arena_claim_no_node() {
        full_arena::<real::broken::Stack>();
        full_arena::<real::fixed::Stack>();
    }

    #[test]
    fn try_new_refuses_zero_and_more_than_max_capacity() {
        assert_eq!(real::fixed::Stack::try_new(0).unwrap_err(), CapacityError::Zero);
        assert_eq!(real::broken::Stack::try_new(0).unwrap_err(), CapacityError::Zero);
        let too_large = CapacityError::TooLarge {
            requested: MAX_CAPACITY + 1,
            max: MAX_CAPACITY,
            slot_bytes: 16,
        };
        assert_eq!(real::fixed::Stack::try_new(MAX_CAPACITY + 1).unwrap_err(), too_large);
        assert_eq!(real::broken::Stack::try_new(MAX_CAPACITY + 1).unwrap_err(), too_large);
        assert!(real::fixed::Stack::try_new(1 << 16).is_ok());
    }

    /// `MAX_CAPACITY` nodes take 32 GiB, which this binary's allocator refuses: an error, not an
    /// abort.
    #[test]
    fn try_new_reports_an_arena_the_allocator_refuses() {
        let failed = CapacityError::AllocationFailed {
            requested: MAX_CAPACITY,
        };
        const { assert!(MAX_CAPACITY * 16 > super::ALLOCATION_LIMIT) };
        assert_eq!(real::fixed::Stack::try_new(MAX_CAPACITY).unwrap_err(), failed);
        assert_eq!(real::broken::Stack::try_new(MAX_CAPACITY).unwrap_err(), failed);
    }

    #[test]
    #[should_panic(expected = "stack::Stack::new: cannot allocate 2147483648 slots: out of memory")]
    fn new_panics_with_a_message_when_the_arena_cannot_be_allocated() {
        let _ = real::fixed::Stack::new(MAX_CAPACITY);
    }

    #[test]
    #[should_panic(expected = "stack::Stack::new: capacity must be at least 1, got 0")]
    fn new_panics_on_capacity_zero() {
        let _ = real::fixed::Stack::new(0);
    }
}

// ---- the crossbeam-epoch stack (feature `epoch`) ----
//
// Not under loom: crossbeam-epoch runs under loom only when the whole build uses
// `--cfg crossbeam_loom` with crossbeam-epoch's `loom` feature; without it every loom thread shares
// one pinned participant and loom reports a false causality violation (README: "What each checker can and cannot see").
// That would need a second build with RUSTFLAGS, which the README's single `cargo test
// --all-features` cannot run. So: real threads (the allocator really recycles addresses, the
// race that made ABA) and shuttle, which interleaves whole stack operations (crossbeam's atomics
// are std's, invisible to shuttle) with a fresh `Collector` per iteration, so that nothing
// deferred in one iteration runs in the next.

#[cfg(feature = "epoch")]
mod epoch_stack {
    use lockfree_lab::check;
    use lockfree_lab::stack::account;
    use lockfree_lab::stack::epoch::TreiberStack;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A value that counts its drops.
    struct Tracked(u64, Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn real_threads_every_value_out_once_and_dropped_once() {
        const THREADS: u64 = 2;
        const OPS: u64 = 20_000;
        let stack = TreiberStack::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (outs, _) = lockfree_lab::hw::run_threads(THREADS as usize, lockfree_lab::hw::Pin::Spread, |t| {
            let mut out = Vec::new();
            for k in 0..OPS {
                stack.push(Tracked(t as u64 * OPS + k, Arc::clone(&drops)), &crossbeam_epoch::pin());
                if k % 2 == 1 {
                    for _ in 0..2 {
                        if let Some(v) = stack.pop(&crossbeam_epoch::pin()) {
                            out.push(v.0);
                        }
                    }
                }
            }
            out
        });
        let mut out: Vec<u64> = outs.into_iter().flatten().collect();
        let guard = crossbeam_epoch::pin();
        while let Some(v) = stack.pop(&guard) {
            out.push(v.0);
        }
        let pushed: Vec<u64> = (0..THREADS * OPS).collect();
        account(&pushed, &out).unwrap();
        assert_eq!(
            drops.load(Ordering::Relaxed),
            (THREADS * OPS) as usize,
            "each value dropped once"
        );
    }

    /// A payload that can tell whether it is intact: `check` is derived from `value`, and
    /// dropping it overwrites both with poison. A `pop` that reads its node after the node was
    /// freed reads allocator bookkeeping or another node's payload: a broken checksum, or a value
    /// out twice (`account`).
    struct Checked {
        value: u64,
        check: u64,
    }
    const KEY: u64 = 0x9E37_79B9_7F4A_7C15;
    const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;
    impl Checked {
        fn new(value: u64) -> Self {
            Self {
                value,
                check: value.rotate_left(29) ^ KEY,
            }
        }
        fn intact(&self) -> bool {
            self.value != POISON && self.check == self.value.rotate_left(29) ^ KEY
        }
    }
    impl Drop for Checked {
        fn drop(&mut self) {
            self.value = POISON;
            self.check = POISON;
            std::hint::black_box(&mut *self);
        }
    }

    use super::frees;

    /// The deferral itself, deterministically. While another participant of the stack's
    /// collector is pinned (standing for a concurrent `pop` that loaded the top node and has not
    /// yet read its `next`), popping frees no node at all: a `pop` that frees its node at once
    /// (`scripts/mutate-logic`) frees one per pop here, whether it frees before or after reading
    /// the value. Once that participant unpins, flushing frees every popped node (a `pop` that
    /// never frees, a leak, fails there). Shuttle cannot show any of this: crossbeam's atomics
    /// are std's, so shuttle never preempts inside `pop`.
    #[test]
    fn popped_nodes_are_freed_only_after_every_pinned_participant_unpins() {
        const N: usize = 1_000;
        let collector = crossbeam_epoch::Collector::new();
        let stack = TreiberStack::with_collector(&collector);
        let popper = collector.register();
        for v in 0..N as u64 {
            stack.push(Checked::new(v), &popper.pin());
        }
        let other = collector.register();
        let pinned = other.pin();
        let mut out = Vec::with_capacity(N);
        let before = frees::on_this_thread();
        while let Some(v) = stack.pop(&popper.pin()) {
            assert!(v.intact(), "use after free: pop returned a corrupt value");
            out.push(v.value);
        }
        let during = frees::on_this_thread() - before;
        assert_eq!(out.len(), N, "every value comes out");
        assert_eq!(
            during, 0,
            "use after free: pop freed nodes at once ({during} frees for {N} pops) while another participant was pinned and may still read them"
        );
        drop(pinned);
        let before = frees::on_this_thread();
        for _ in 0..10_000 {
            if frees::on_this_thread() - before >= N {
                break;
            }
            popper.pin().flush();
        }
        let after = frees::on_this_thread() - before;
        assert!(
            after >= N,
            "leak: only {after} frees for {N} popped nodes once no participant was pinned"
        );
    }

    /// Real threads, more than cores, hammer push/pop pairs on checksummed payloads: a `pop`
    /// that frees its node before reading the value out of it returns allocator bookkeeping
    /// (a broken checksum); a concurrent `pop` that reads a freed node, or wins its CAS on a
    /// recycled address (ABA), shows as a value out twice or lost, or a crash. (Racy: the
    /// deterministic test of the deferral is the one above.)
    #[test]
    fn real_threads_popped_nodes_are_not_freed_under_a_concurrent_pop() {
        const THREADS: u64 = 4;
        const OPS: u64 = 100_000;
        let collector = crossbeam_epoch::Collector::new();
        let stack = TreiberStack::with_collector(&collector);
        let (outs, _) = lockfree_lab::hw::run_threads(THREADS as usize, lockfree_lab::hw::Pin::Spread, |t| {
            let handle = collector.register();
            let mut out = Vec::with_capacity(OPS as usize);
            for k in 0..OPS {
                stack.push(Checked::new(t as u64 * OPS + k), &handle.pin());
                if let Some(v) = stack.pop(&handle.pin()) {
                    assert!(
                        v.intact(),
                        "use after free: pop returned a corrupt value ({:#x}, check {:#x}): its node was freed before it was read",
                        v.value,
                        v.check
                    );
                    out.push(v.value);
                }
            }
            out
        });
        let mut out: Vec<u64> = outs.into_iter().flatten().collect();
        let handle = collector.register();
        while let Some(v) = stack.pop(&handle.pin()) {
            assert!(v.intact(), "use after free: a corrupt value left in the stack");
            out.push(v.value);
        }
        let pushed: Vec<u64> = (0..THREADS * OPS).collect();
        if let Err(e) = account(&pushed, &out) {
            panic!("use after free (a recycled node): {e}");
        }
    }

    /// A guard protects only against its own collector's garbage: the stack refuses the guard
    /// of another collector (here crossbeam's default one).
    #[test]
    #[should_panic(expected = "epoch: the guard was not pinned in this stack's Collector")]
    fn a_guard_from_another_collector_is_refused() {
        let collector = crossbeam_epoch::Collector::new();
        let stack = TreiberStack::with_collector(&collector);
        stack.push(1u64, &collector.register().pin());
        let _ = stack.pop(&crossbeam_epoch::pin());
    }

    #[test]
    fn dropping_the_stack_drops_the_values_left() {
        let drops = Arc::new(AtomicUsize::new(0));
        let stack = TreiberStack::new();
        for v in 0..3 {
            stack.push(Tracked(v, Arc::clone(&drops)), &crossbeam_epoch::pin());
        }
        drop(stack);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    }

    /// The ABA scenario of the arena stack, on the epoch stack, under shuttle's PCT: T1 pops; T2
    /// pops, pops, pushes. Every value comes out once; every popped node is freed by the end of
    /// the iteration (its own collector).
    fn aba_scenario() {
        use shuttle::thread;
        let collector = crossbeam_epoch::Collector::new();
        let stack = Arc::new(TreiberStack::with_collector(&collector));
        {
            let handle = collector.register();
            let guard = handle.pin();
            stack.push(2u64, &guard);
            stack.push(1, &guard);
        }
        let t1 = {
            let (stack, collector) = (Arc::clone(&stack), collector.clone());
            thread::spawn(move || {
                let handle = collector.register();
                let guard = handle.pin();
                thread::yield_now();
                stack.pop(&guard)
            })
        };
        let t2 = {
            let (stack, collector) = (Arc::clone(&stack), collector.clone());
            thread::spawn(move || {
                let handle = collector.register();
                let a = stack.pop(&handle.pin());
                thread::yield_now();
                let b = stack.pop(&handle.pin());
                thread::yield_now();
                stack.push(3, &handle.pin());
                (a, b)
            })
        };
        let p1 = t1.join().unwrap();
        let (a, b) = t2.join().unwrap();
        let mut out: Vec<u64> = [p1, a, b].into_iter().flatten().collect();
        let handle = collector.register();
        let guard = handle.pin();
        while let Some(v) = stack.pop(&guard) {
            out.push(v);
        }
        if let Err(e) = account(&[1, 2, 3], &out) {
            panic!("ABA: {e}");
        }
    }

    #[test]
    fn shuttle_pct_epoch_stack_no_aba() {
        let report = check::shuttle_pct(super::ITERATIONS, 2, check::DEFAULT_SEED, aba_scenario);
        report.assert_passed();
        println!("{report}");
    }

    #[test]
    fn shuttle_random_epoch_stack_no_aba() {
        check::shuttle_random(super::ITERATIONS, check::DEFAULT_SEED, aba_scenario).assert_passed();
    }
}
