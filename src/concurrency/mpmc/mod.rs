//! # Bounded MPMC queue: a claimed slot is not a written slot
//!
//! Many producers and many consumers share one ring of slots through `&Queue`. Claiming a
//! position is easy — a CAS on `tail` (producers) or `head` (consumers) — but the CAS only says
//! *who* owns the position, not *when* its data is ready: a producer writes the slot **after** its
//! CAS, a consumer reads it **after** its own. The lesson: give every slot its own **stamp** that
//! says which lap it is in and whether it is full, and move that stamp only after the access
//! (Dmitry Vyukov's bounded MPMC queue; crossbeam's `ArrayQueue`).
//!
//! ```
//! use lockfree_lab::mpmc::{real::fixed::Queue, Full};
//! let q: Queue<String> = Queue::new(2);
//! q.push("a".into()).unwrap();
//! q.push("b".into()).unwrap();
//! assert_eq!(q.push("c".into()), Err(Full("c".to_string())));
//! assert_eq!(q.pop().as_deref(), Some("a"));
//! assert_eq!(q.len(), 1);
//! ```
//!
//! ## The stamp (`fixed`)
//! A position is `lap | index`: the low bits are the slot index (`0..capacity`), the high bits
//! count laps (`one_lap = (capacity + 1).next_power_of_two()`), so any capacity ≥ 1 works and
//! every slot is usable. Slot `i`'s stamp starts at `i` and then cycles:
//!
//! | stamp of the slot at position `p` | means                     | who may act                  |
//! |-----------------------------------|---------------------------|------------------------------|
//! | `p`                               | empty for lap of `p`      | the producer that claims `p` |
//! | `p + 1`                           | full (written) for `p`    | the consumer that claims `p` |
//! | `p + one_lap`                     | empty for the next lap    | the producer of `p + one_lap` |
//!
//! `push` at `tail`: stamp `== tail` → CAS `tail` → write → stamp `= tail + 1`. Stamp one lap
//! behind → full, unless `head` shows a consumer has claimed the slot (then wait for its read).
//! `pop` at `head`: stamp `== head + 1` → CAS `head` → read → stamp `= head + one_lap`. Stamp
//! `== head` → empty, unless `tail` shows a producer has claimed the slot (then wait for its
//! write). Waiting for a claimed slot is what makes "a thread that just pushed can pop" and
//! "pop-then-push on a full queue never reports full" hold; it also means a producer preempted
//! between its CAS and its write stalls consumers of that slot (as in crossbeam's `ArrayQueue`).
//!
//! ## Synchronization edges
//!
//! | edge           | Release                                | Acquire                                    | guarantees |
//! |----------------|----------------------------------------|--------------------------------------------|------------|
//! | `[slot-full]`  | push stores stamp `tail + 1` after its write | pop loads the stamp before its CAS and read | the read sees the write |
//! | `[slot-empty]` | pop stores stamp `head + one_lap` after its read | push loads the stamp before its CAS and write | the next lap's write does not overwrite an unread or half-read value |
//! | `[tail-seen]`  | a successful `tail` CAS                | `fence(Acquire)` before push reads `head` to decide "full" | a `head` no older than the `tail` read: pop-then-push never reports Full |
//! | `[head-seen]`  | a successful `head` CAS                | `fence(Acquire)` before pop reads `tail` to decide "empty" | a `tail` no older than the `head` read: push-then-pop never reports empty |
//! | `[len-tail]`   | a successful `tail` CAS                | `len` loads `tail` (Acquire) before `head` | a `head` no older than that push saw: `len` never counts popped items (loom found `is_full()` on a queue that held 1 item with Relaxed loads) |
//! | `[len-head]`   | a successful `head` CAS                | `len` loads `head` (Acquire) before reloading `tail` | a reloaded `tail` no older than the pushes of the popped items: `len` never wraps below 0 |
//!
//! The other `head`/`tail` accesses are Relaxed (`[head-claim]`, `[tail-claim]`): they only
//! decide who owns a position (Vyukov's queue uses relaxed CASes). The two `-seen` edges only
//! matter on the slow paths; loom found both missing in a first version of this queue (a push
//! reporting Full right after its own pop; a pop reporting empty right after its own push).
//! crossbeam gets the same effect with SeqCst CASes and a `fence(SeqCst)` on those paths.
//!
//! ## The broken variant (`diff src/concurrency/mpmc/broken.rs src/concurrency/mpmc/fixed.rs`)
//! No stamp: a producer takes a slot as free once `head` has passed it, a consumer takes it as
//! written once `tail` has passed it. Both trust the *other side's CAS*, which happens before
//! that side's access. The failing interleaving (capacity 2, producer P, consumer C):
//! 1. P CASes `tail` 0 → 1 (position 0 is P's);
//! 2. C loads `tail` = 1 ≠ `head` = 0, so slot 0 "is written"; C CASes `head` 0 → 1;
//! 3. C reads slot 0 → **0**, a value nobody pushed;
//! 4. P writes its value into slot 0 — behind `head`: it is **lost**.
//!
//! The mirror case (capacity 1, item A inside): C CASes `head` 0 → 1; P sees `head` passed slot
//! 0, CASes `tail` and writes B into it; C reads slot 0 → B; A is lost and B is delivered twice
//! if another pop follows. Every ordering, SeqCst included, allows both: the bug is the missing
//! step, not a missing fence.
//!
//! So that a racy read is defined behaviour (never UB), the payload cell is a type parameter
//! ([`Slot`]): `UnsafeSlot<T>` (`UnsafeCell<MaybeUninit<T>>`, the default, any `T`) or
//! `AtomicSlot` (an `AtomicU64`). The broken queue only accepts [`RacySlot`]s, i.e. atomics.
//!
//! The queue owns its cells and hands each one from thread to thread, so it is `Send` and `Sync`
//! only when the cell type is `Send` (the stamps make the accesses to one cell take turns, as a
//! `Mutex` does, so the fixed queue needs no more; the broken one, whose threads may overlap on a
//! cell, also needs `Sync`). A cell that shares an `Rc` with its thread would otherwise let two
//! threads race on the reference count:
//! ```compile_fail,E0277
//! use lockfree_lab::mpmc::{real::fixed::Queue, Slot};
//! use std::{cell::Cell, rc::Rc};
//! thread_local!(static POOL: Rc<Cell<u64>> = Rc::new(Cell::new(0)));
//! /// Every cell made on a thread shares that thread's `Rc`.
//! struct RcSlot(Rc<Cell<u64>>);
//! impl Slot<u64> for RcSlot {
//!     fn empty() -> Self {
//!         RcSlot(POOL.with(Rc::clone))
//!     }
//!     unsafe fn write(&self, v: u64) {
//!         self.0.set(v)
//!     }
//!     unsafe fn read(&self) -> u64 {
//!         self.0.get()
//!     }
//!     unsafe fn drop_value(&self) {}
//! }
//! let q = Queue::<u64, RcSlot>::new(2);
//! std::thread::spawn(move || drop(q)); // error: `Rc<Cell<u64>>` cannot be sent between threads safely
//! ```
//! ```compile_fail,E0277
//! # use lockfree_lab::mpmc::{real::fixed::Queue, Slot};
//! # use std::{cell::Cell, rc::Rc};
//! # thread_local!(static POOL: Rc<Cell<u64>> = Rc::new(Cell::new(0)));
//! # struct RcSlot(Rc<Cell<u64>>);
//! # impl Slot<u64> for RcSlot {
//! #     fn empty() -> Self {
//! #         RcSlot(POOL.with(Rc::clone))
//! #     }
//! #     unsafe fn write(&self, v: u64) {
//! #         self.0.set(v)
//! #     }
//! #     unsafe fn read(&self) -> u64 {
//! #         self.0.get()
//! #     }
//! #     unsafe fn drop_value(&self) {}
//! # }
//! fn shared_by_threads<Q: Sync>(_: &Q) {}
//! shared_by_threads(&Queue::<u64, RcSlot>::new(2)); // error: `Rc<Cell<u64>>` cannot be sent between threads safely
//! ```
//!
//! ## Who sees it
//!
//! | checker            | broken queue                                                  |
//! |--------------------|---------------------------------------------------------------|
//! | loom               | found: a value delivered 0 or 2 times, in a few dozen executions |
//! | shuttle (random, PCT depth 2) | found: an interleaving bug, visible even with every atomic SeqCst |
//! | real x86-64 cores  | found: `examples/04-mpmc-lost-values.rs` counts lost, duplicated and never-pushed values |
//!
//! For the fixed queue, loom also checks every payload access for races (with `UnsafeSlot`):
//! weakening any of its Release/Acquire operations to Relaxed (or removing a fence) makes a loom
//! test fail.
//!
//! Sources: Dmitry Vyukov, "Bounded MPMC queue" (1024cores.net): per-cell sequence numbers,
//! relaxed position CASes; crossbeam-queue's `ArrayQueue`: the `lap | index` stamp for any
//! capacity, and waiting for a claimed slot instead of reporting empty/full.

pub(crate) use crate::spsc::CachePadded;
pub use crate::spsc::{CapacityError, Full};

pub mod demo;

backends! {
    /// The broken queue: no per-slot stamp. Accepts only atomic payload cells ([`RacySlot`](crate::mpmc::RacySlot)).
    broken => "broken.rs",
    /// The fixed queue: Vyukov's per-slot stamps.
    fixed => "fixed.rs",
    /// The payload cells: `UnsafeSlot<T>` and `AtomicSlot`.
    slot => "slot.rs",
    /// Model scenarios shared by loom and shuttle.
    scenario => "scenario.rs",
}

/// The storage of one payload. A queue calls these only as its protocol allows; the contracts
/// below are what the protocol must guarantee.
pub trait Slot<T> {
    /// An empty slot.
    fn empty() -> Self;

    /// Moves `value` into the slot.
    ///
    /// # Safety
    /// 1. No other thread accesses the slot during the call.
    /// 2. The slot holds no value (it is new, or its value was moved out by `read`).
    unsafe fn write(&self, value: T);

    /// Moves the value out of the slot.
    ///
    /// # Safety
    /// 1. No other thread writes the slot during the call.
    /// 2. The slot holds a value written by `write` and not yet moved out.
    unsafe fn read(&self) -> T;

    /// Drops the value in the slot.
    ///
    /// # Safety
    /// As for [`Slot::read`], and the caller has exclusive access.
    unsafe fn drop_value(&self);

    /// Names the slot's atomic, if it is one, for the checkers' trace (`slot[1]`).
    fn name_location(&self, name: String) {
        let _ = name;
    }
}

/// How a position (`head`, `tail`, a stamp) prints in the trace: its index, and its lap when not
/// the first (`1`, `0 (lap 1)`); `one_lap` is the queue's lap unit.
pub fn position_format(one_lap: usize) -> crate::sync::trace::Format {
    std::sync::Arc::new(move |v| match v {
        crate::sync::trace::Value::Int(pos) => {
            let (lap, index) = (pos / one_lap as u64, pos % one_lap as u64);
            if lap == 0 {
                index.to_string()
            } else {
                format!("{index} (lap {lap})")
            }
        }
        other => other.to_string(),
    })
}

/// A [`Slot`] whose methods are defined behaviour even when their contracts are broken (each is
/// one atomic access): a read of an unwritten slot returns a stale value. The broken queue, whose
/// protocol breaks those contracts, accepts only these.
///
/// # Safety
/// Implement only if every method of the [`Slot`] impl is sound in any order, from any threads.
pub unsafe trait RacySlot<T>: Slot<T> {}

/// What the model scenarios and the real-core runs need of a queue of `u64`s.
pub trait Mpmc: Send + Sync + 'static {
    /// `new(capacity)`.
    fn with_capacity(capacity: usize) -> Self;
    /// `push`.
    fn push(&self, value: u64) -> Result<(), Full<u64>>;
    /// `pop`.
    fn pop(&self) -> Option<u64>;
    /// `len`.
    fn len(&self) -> usize;
    /// `is_empty`.
    fn is_empty(&self) -> bool;
    /// `is_full`.
    fn is_full(&self) -> bool;
    /// `name_locations`.
    fn name_locations(&self);
}

macro_rules! impl_mpmc {
    ($($backend:ident::$variant:ident<$slot:ty>),+ $(,)?) => {$(
        impl Mpmc for $backend::$variant::Queue<u64, $slot> {
            fn with_capacity(capacity: usize) -> Self {
                Self::new(capacity)
            }
            fn push(&self, value: u64) -> Result<(), Full<u64>> {
                $backend::$variant::Queue::push(self, value)
            }
            fn pop(&self) -> Option<u64> {
                $backend::$variant::Queue::pop(self)
            }
            fn len(&self) -> usize {
                $backend::$variant::Queue::len(self)
            }
            fn is_empty(&self) -> bool {
                $backend::$variant::Queue::is_empty(self)
            }
            fn is_full(&self) -> bool {
                $backend::$variant::Queue::is_full(self)
            }
            fn name_locations(&self) {
                $backend::$variant::Queue::name_locations(self)
            }
        }
    )+};
}
impl_mpmc!(
    real::broken<real::slot::AtomicSlot>,
    real::fixed<real::slot::AtomicSlot>,
    real::fixed<real::slot::UnsafeSlot<u64>>,
    loom::broken<loom::slot::AtomicSlot>,
    loom::fixed<loom::slot::AtomicSlot>,
    loom::fixed<loom::slot::UnsafeSlot<u64>>,
    shuttle::broken<shuttle::slot::AtomicSlot>,
    shuttle::fixed<shuttle::slot::AtomicSlot>,
    shuttle::fixed<shuttle::slot::UnsafeSlot<u64>>,
);

/// Which variant a real-hardware run uses: the crate-wide switch.
pub use crate::Variant;

/// What one real-hardware run saw: every pushed value should be popped exactly once.
#[derive(Clone, Debug)]
pub struct CoreRun {
    /// Values pushed (accepted by `push`).
    pub pushed: u64,
    /// Values popped in total (including those drained after the threads stopped).
    pub popped: u64,
    /// Pushed values never popped.
    pub lost: u64,
    /// Extra pops of a pushed value (a value popped 3 times counts 2).
    pub duplicated: u64,
    /// Popped values that nobody pushed (a slot read before it was written).
    pub phantom: u64,
    /// How much the threads overlapped.
    pub parallelism: crate::hw::Parallelism,
}

/// Runs `producers` threads pushing `per_producer` distinct values each and `consumers` threads
/// popping, through one queue of `capacity` with atomic payloads; then drains what is left and
/// counts every value. Threads are released together and pinned as `pin` says.
pub fn run_on_cores(
    variant: Variant,
    capacity: usize,
    producers: usize,
    consumers: usize,
    per_producer: u64,
    pin: crate::hw::Pin,
) -> Result<CoreRun, CapacityError> {
    fn go<Q: Mpmc>(q: Q, producers: usize, consumers: usize, per_producer: u64, pin: crate::hw::Pin) -> CoreRun {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let done = AtomicUsize::new(0);
        let (lists, parallelism) = crate::hw::run_threads(producers + consumers, pin, |i| {
            let mut got = Vec::new();
            if i < producers {
                // Value = producer << 40 | sequence, plus one so that 0 (a never-written slot) is
                // never a pushed value.
                for n in 0..per_producer {
                    let mut v = ((i as u64) << 40 | n) + 1;
                    // Spin, then yield: more threads than cores is the normal case here.
                    let backoff = crossbeam_utils::Backoff::new();
                    while let Err(Full(back)) = q.push(v) {
                        v = back;
                        backoff.snooze();
                    }
                }
                // ORDERING: Release [producers-done] — not needed for the count; keeps the tally honest on weak CPUs.
                done.fetch_add(1, Ordering::Release);
            } else {
                let backoff = crossbeam_utils::Backoff::new();
                loop {
                    match q.pop() {
                        Some(v) => {
                            got.push(v);
                            backoff.reset();
                        }
                        // ORDERING: Acquire [producers-done] — pairs with the producers' Release increments.
                        None if done.load(Ordering::Acquire) == producers => break,
                        None => backoff.snooze(),
                    }
                }
            }
            got
        });
        let mut seen: Vec<u64> = lists.into_iter().flatten().collect();
        while let Some(v) = q.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        let popped = seen.len() as u64;
        let is_pushed = |v: u64| {
            let v = v.wrapping_sub(1);
            ((v >> 40) as usize) < producers && (v & ((1 << 40) - 1)) < per_producer
        };
        let (mut delivered, mut duplicated, mut phantom) = (0u64, 0u64, 0u64);
        for (k, &v) in seen.iter().enumerate() {
            if !is_pushed(v) {
                phantom += 1;
            } else if k > 0 && seen[k - 1] == v {
                duplicated += 1;
            } else {
                delivered += 1;
            }
        }
        let pushed = producers as u64 * per_producer;
        CoreRun {
            pushed,
            popped,
            lost: pushed - delivered,
            duplicated,
            phantom,
            parallelism,
        }
    }
    use real::slot::AtomicSlot;
    Ok(match variant {
        Variant::Broken => go(
            real::broken::Queue::<u64, AtomicSlot>::try_new(capacity)?,
            producers,
            consumers,
            per_producer,
            pin,
        ),
        Variant::Fixed => go(
            real::fixed::Queue::<u64, AtomicSlot>::try_new(capacity)?,
            producers,
            consumers,
            per_producer,
            pin,
        ),
    })
}
