//! # Treiber stack: the ABA problem, and the tagged head that fixes it
//!
//! A Treiber stack (Treiber 1986, IBM Research Report RJ 5118) is a linked list whose head is
//! swung by compare-and-swap: `push` links a node above the head it read and CASes the head to
//! it; `pop` reads the head and the top node's `next`, then CASes the head to `next`. Nodes here
//! live in an **index arena** and are **recycled**: a popped node goes to the popping thread's
//! [`Local`] free list (oldest first) and carries its next pushed value. Recycling is what makes
//! ABA possible — and because every node field is an atomic and the arena is never freed, the
//! broken stack corrupts itself *observably* (a value comes out twice, a value is lost, the list
//! becomes a cycle) without any undefined behaviour.
//!
//! ## The head word
//!
//! ```text
//!  63                           32 31                            0
//! +-------------------------------+-------------------------------+
//! |              tag              |   index of the top node       |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! | index          | tag                                  | meaning                                |
//! |----------------|--------------------------------------|----------------------------------------|
//! | `NIL` (2³²−1)  | any                                  | empty stack                            |
//! | `i < capacity` | broken: always 0                     | node `i` on top: the word repeats as soon as node `i` is on top again |
//! | `i < capacity` | fixed: +1 (wrapping) per successful CAS, push or pop | node `i` on top, in this *incarnation* |
//!
//! ## The pair (`diff src/concurrency/stack/broken.rs src/concurrency/stack/fixed.rs`)
//!
//! One line: `bump(tag)` returns `tag` (broken) or `tag.wrapping_add(1)` (fixed).
//!
//! ## Synchronization edges
//!
//! | edge              | Release side                | Acquire side                                         | carries                   |
//! |-------------------|-----------------------------|------------------------------------------------------|---------------------------|
//! | `[node-publish]`  | `push`'s successful CAS     | `pop_read`'s load; `pop_commit`'s failed CAS          | the node's `value`, `next` |
//!
//! Every CAS on the head is a read-modify-write, so an Acquire load that reads a later word
//! (written by a `pop`) still synchronizes with every earlier push (the CAS chain is a *release
//! sequence*). `pop_commit`'s successful CAS is Relaxed: it read the very word `pop_read`
//! acquired. ABA is **not** an ordering bug: no ordering, however strong, fixes it.
//!
//! ## The failing interleaving (broken), as [`aba_replay`] plays it
//!
//! The stack is `[1, 2]`: node A holds 1 on top of node B holding 2.
//! 1. T1 starts `pop`: reads the head (A, tag 0) and `A.next` = B, and stalls before its CAS.
//! 2. T2 pops 1: node A goes to T2's free list.
//! 3. T2 pops 2: node B goes to T2's free list; the stack is empty.
//! 4. T2 pushes 3 on the oldest node it freed, A: the head is (A, tag 0) **again**.
//! 5. T1's CAS expects (A, tag 0), finds (A, tag 0), succeeds and sets the head to B — a node
//!    on T2's free list. T1 returns 3.
//! 6. T2 pushes 4 on its next free node, B, which is the top: `B.next = B`. The stack is a
//!    cycle; every later pop returns 4.
//!
//! Fixed: the setup pushes left the tag at 2, so T1 reads (A, tag 2); at step 4 the head is
//! (A, tag 5): T1's CAS fails and retries from the real head.
//!
//! **Wraparound bound.** The tag is 32 bits, so the fixed stack is only wrong if, between one
//! thread's `pop_read` and its CAS, other threads complete exactly a multiple of 2³² successful
//! CASes *and* the same node is on top: a stall of seconds at billions of operations per
//! second. Wider tags (or a 128-bit CAS) push the bound further; epochs or hazard pointers
//! remove it (the crossbeam-epoch stack in `stack::epoch`, feature `epoch`).
//!
//! ## What the API refuses
//!
//! Node indices in the wrong hands break the stack as surely as ABA does, so the API closes the
//! other ways to hand out a node that is in use:
//! - a [`Local`] is not `Clone` (a copy would recycle each node twice), and serves one stack: its
//!   first push or pop binds it, and a push or pop with it on another stack, or on the same
//!   stack after `reset` without [`Local::clear`], panics before touching the stack;
//! - a [`PopAttempt`] cannot be forged (private fields) and commits only on the stack, and the
//!   `reset` generation, that read it;
//! - the never-used-node counter stops at the capacity, so failed pushes on a full arena never
//!   wrap it back to node 0;
//! - `Stack::try_new` returns a [`CapacityError`] (0, above [`MAX_CAPACITY`], or an arena the
//!   allocator refuses) and `Stack::new` panics with its message instead of aborting.
//!
//! ## Who sees it
//!
//! | checker              | verdict                                                                          |
//! |----------------------|----------------------------------------------------------------------------------|
//! | loom                 | found (an interleaving bug, one preemption); the tagged stack passes             |
//! | shuttle PCT depth ≥2 | found; depth 1 never preempts, so never finds it                                  |
//! | shuttle random       | found, in more runs than PCT                                                      |
//! | real x86 cores       | found in a small share of short rounds when the threads really overlap: `examples/05-stack-aba.rs` |
//!
//! Sources: R. K. Treiber, *Systems Programming: Coping with Parallelism*, IBM RJ 5118 (1986);
//! the tag ("counter") next to the pointer is the IBM System/370 compare-double-and-swap
//! technique that M. M. Michael & M. L. Scott use against ABA in *Simple, Fast, and Practical
//! Non-Blocking and Blocking Concurrent Queue Algorithms* (PODC 1996); M. M. Michael, *Hazard
//! Pointers* (IEEE TPDS 2004) on ABA; K. Fraser, *Practical lock-freedom* (Cambridge
//! UCAM-CL-TR-579, 2004) and the crossbeam-epoch documentation for epoch-based reclamation.

use std::collections::{HashMap, VecDeque};

pub mod demo;

backends! {
    /// The broken stack: the tag never changes (ABA).
    broken => "broken.rs",
    /// The fixed stack: the tag changes on every successful CAS.
    fixed => "fixed.rs",
    /// Model scenarios shared by loom, shuttle and real threads.
    scenario => "scenario.rs",
}

#[cfg(feature = "epoch")]
pub mod epoch;

/// The index that names no node: the empty stack, the bottom node's `next`.
pub const NIL: u32 = u32::MAX;

/// The head word for node `index` and `tag`.
pub const fn pack(index: u32, tag: u32) -> u64 {
    (tag as u64) << 32 | index as u64
}

/// The node index of a head word (bits 0..32).
pub const fn index(word: u64) -> u32 {
    word as u32
}

/// The tag of a head word (bits 32..64).
pub const fn tag(word: u64) -> u32 {
    (word >> 32) as u32
}

/// One thread's recycled nodes, oldest first. A popped node goes here; a push takes the oldest.
/// It holds indices only: the nodes stay in the arena.
///
/// A `Local` serves **one stack**: its first push or pop binds it to that stack, and using it
/// with another one (or with the same one after [`reset`](real::fixed::Stack::reset), unless it
/// was [`clear`](Local::clear)ed) panics before the stack is touched — its indices would name
/// nodes of the other stack that are in use. Use one `Local` per thread and per stack.
///
/// It is not `Clone`: a copy would hand out each of its nodes a second time while the first is
/// on the stack (the stack becomes a cycle).
///
/// ```compile_fail,E0599
/// let local = lockfree_lab::stack::Local::default();
/// let twin = local.clone();
/// ```
#[derive(Debug, Default)]
pub struct Local {
    free: VecDeque<u32>,
    /// The [`Owner`] number of the stack this list serves; 0 until its first push or pop.
    stack: u64,
}

impl Local {
    /// Binds this list to the stack whose owner number is `stack`, or panics if it serves
    /// another one. Called by `push` and `pop_commit` before they touch the stack.
    pub(crate) fn bind(&mut self, stack: u64) {
        if self.stack != stack {
            assert!(
                self.stack == 0,
                "stack::Local used with a second stack (or after reset without clear): its free list \
                 names the first stack's nodes; use one Local per thread and per stack"
            );
            self.stack = stack;
        }
    }
    pub(crate) fn take(&mut self) -> Option<u32> {
        self.free.pop_front()
    }
    pub(crate) fn put(&mut self, index: u32) {
        self.free.push_back(index);
    }
    /// The recycled nodes' indices, oldest first.
    pub fn nodes(&self) -> impl Iterator<Item = u32> + '_ {
        self.free.iter().copied()
    }
    /// Forgets every node (after [`broken::Stack::reset`](real::broken::Stack::reset)) and
    /// unbinds the list: empty, it may serve any stack.
    pub fn clear(&mut self) {
        self.free.clear();
        self.stack = 0;
    }
}

/// A stack's identity for the [`Local`]s and [`PopAttempt`]s it accepts: a number no other stack
/// (and no earlier `reset` of this one) ever had. A std atomic under every backend: written only
/// by `new` and by `reset` (which is quiescent), so no checker needs to see it.
#[derive(Debug)]
pub(crate) struct Owner(std::sync::atomic::AtomicU64);

/// The next owner number; 0 is never handed out (it marks an unbound [`Local`]).
static NEXT_OWNER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_owner() -> u64 {
    // ORDERING: Relaxed [owner-number] — only uniqueness matters; the number is published with the stack that holds it.
    NEXT_OWNER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Owner {
    pub(crate) fn new() -> Self {
        Self(std::sync::atomic::AtomicU64::new(next_owner()))
    }
    /// The current number.
    pub(crate) fn get(&self) -> u64 {
        // ORDERING: Relaxed [owner-number] — written only by `new` (published with the stack) and by a quiescent `reset` (ordered by the caller's barrier).
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// A new number: every `Local` and `PopAttempt` of the old one is refused.
    pub(crate) fn renew(&self) {
        // ORDERING: Relaxed [owner-number] — as in `get`: quiescent.
        self.0.store(next_owner(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// The largest capacity of a stack: node indices are `u32` below [`NIL`]; `2^31` keeps them far
/// from it. The arena is allocated and written up front, 16 bytes a node on std atomics
/// (`2^31` nodes: 32 GiB), so memory is usually the real limit.
pub const MAX_CAPACITY: usize = 1 << 31;

/// Why a stack of the requested capacity cannot be built (the rings' error type).
pub use crate::spsc::CapacityError;

/// Checks `capacity` against `1..=`[`MAX_CAPACITY`] and against the address space for nodes of
/// `node_bytes` bytes.
pub(crate) fn check_capacity(capacity: usize, node_bytes: usize) -> Result<(), CapacityError> {
    crate::ring::check_capacity_at_most(capacity, node_bytes, MAX_CAPACITY)
}

/// What the first half of a pop read: the head word and the top node's `next`. Only a stack makes
/// one, and only that stack (before any `reset`) accepts it: `pop_commit` panics otherwise, since
/// a forged or foreign `next` would put any node on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PopAttempt {
    /// The head word read (index and tag).
    head: u64,
    /// The index the top node's `next` held when read.
    next: u32,
    /// The [`Owner`] number of the stack that read it.
    stack: u64,
}

impl PopAttempt {
    /// The head word read (index and tag).
    pub fn head(&self) -> u64 {
        self.head
    }
    /// The index the top node's `next` held when read.
    pub fn next(&self) -> u32 {
        self.next
    }
    /// Panics unless the stack whose owner number is `stack` read this attempt.
    pub(crate) fn check(&self, stack: u64) {
        assert!(
            self.stack == stack,
            "stack::PopAttempt committed on a stack that did not read it (another stack, or before a reset)"
        );
    }
}

/// The stack as seen when no thread is operating on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The top node's index (`NIL`: empty).
    pub head_index: u32,
    /// The head's tag.
    pub head_tag: u32,
    /// `(index, value)` from the top down, stopping before a node seen already.
    pub nodes: Vec<(u32, u64)>,
    /// True when the `next` chain returns to a node already listed.
    pub cycle: bool,
    /// How many never-used nodes pushes have claimed from the arena: at most the capacity, and
    /// it stays there once reached (a failed push claims nothing).
    pub claimed: u32,
}

/// What the scenarios, the replay and the real-thread runs need of a stack.
pub trait Lifo: Send + Sync + 'static {
    /// An empty stack of `capacity` nodes.
    fn with_capacity(capacity: usize) -> Self;
    /// `push`.
    fn push(&self, local: &mut Local, value: u64) -> Result<(), u64>;
    /// `pop`.
    fn pop(&self, local: &mut Local) -> Option<u64>;
    /// `pop_read`.
    fn pop_read(&self) -> Option<PopAttempt>;
    /// `pop_commit`.
    fn pop_commit(&self, local: &mut Local, attempt: PopAttempt) -> Result<u64, Option<PopAttempt>>;
    /// `reset`.
    fn reset(&self);
    /// `snapshot`.
    fn snapshot(&self) -> Snapshot;
    /// `name_locations`.
    fn name_locations(&self);
}

macro_rules! impl_lifo {
    ($($ty:ty),+) => {$(
        impl Lifo for $ty {
            fn with_capacity(capacity: usize) -> Self {
                <$ty>::new(capacity)
            }
            fn push(&self, local: &mut Local, value: u64) -> Result<(), u64> {
                <$ty>::push(self, local, value)
            }
            fn pop(&self, local: &mut Local) -> Option<u64> {
                <$ty>::pop(self, local)
            }
            fn pop_read(&self) -> Option<PopAttempt> {
                <$ty>::pop_read(self)
            }
            fn pop_commit(&self, local: &mut Local, attempt: PopAttempt) -> Result<u64, Option<PopAttempt>> {
                <$ty>::pop_commit(self, local, attempt)
            }
            fn reset(&self) {
                <$ty>::reset(self)
            }
            fn snapshot(&self) -> Snapshot {
                <$ty>::snapshot(self)
            }
            fn name_locations(&self) {
                <$ty>::name_locations(self)
            }
        }
    )+};
}
impl_lifo!(
    real::broken::Stack,
    real::fixed::Stack,
    loom::broken::Stack,
    loom::fixed::Stack,
    shuttle::broken::Stack,
    shuttle::fixed::Stack
);

/// Which variant a real-hardware run uses: the crate-wide switch.
pub use crate::Variant;

/// A node's name in the trace and the lessons: lettered from the top of a stack filled in index
/// order, so the last node (pushed last, on top) is `A`, the one below it `B`… (the ABA
/// interleaving's names); a stack of more than 26 nodes names them by index (`n30`).
pub fn node_name(index: u32, capacity: usize) -> String {
    match (capacity.checked_sub(1 + index as usize), index) {
        (_, NIL) => "nil".into(),
        (Some(from_top), _) if capacity <= 26 => char::from(b'A' + from_top as u8).to_string(),
        _ => format!("n{index}"),
    }
}

/// How a node index (a `next` field) prints in the trace: `A`, `B`… or `nil`.
pub fn index_format(capacity: usize) -> crate::sync::trace::Format {
    std::sync::Arc::new(move |v| match v {
        crate::sync::trace::Value::Int(i) => node_name(i as u32, capacity),
        other => other.to_string(),
    })
}

/// How a head word prints in the trace: the top node and, once a CAS has bumped it, the tag
/// (`A/tag 3`); the broken stack's tag stays 0, so its head prints as the node alone (`A`, `nil`).
pub fn head_format(capacity: usize) -> crate::sync::trace::Format {
    std::sync::Arc::new(move |v| match v {
        crate::sync::trace::Value::Int(word) if tag(word) == 0 => node_name(index(word), capacity),
        crate::sync::trace::Value::Int(word) => format!("{}/tag {}", node_name(index(word), capacity), tag(word)),
        other => other.to_string(),
    })
}

/// Checks that every value of `pushed` came out of the stack exactly once in `out` (the values
/// popped by every thread plus the drain). `Err` names the first value that did not.
pub fn account(pushed: &[u64], out: &[u64]) -> Result<(), String> {
    let mut counts: HashMap<u64, usize> = pushed.iter().map(|&v| (v, 0)).collect();
    for v in out {
        match counts.get_mut(v) {
            Some(n) => *n += 1,
            None => return Err(format!("value {v} came out but was never pushed")),
        }
    }
    for v in pushed {
        match counts[v] {
            1 => {}
            0 => return Err(format!("value {v} was lost")),
            n => return Err(format!("value {v} came out {n} times")),
        }
    }
    Ok(())
}

// ---- the replay ----

mod cores;
mod replay;
pub use cores::{run_on_cores, CoreRun};
pub use replay::{aba_replay, ReplayStep};
