// FIX: every slot carries a stamp; a slot is written only when its stamp says "empty for this lap"
// FIX: and read only when it says "full for this lap", and each side moves the stamp after its access.
use super::slot::UnsafeSlot;
use super::sync::{fence, AtomicUsize, Backoff, Ordering, DRAIN_WHILE_UNWINDING};
use crate::mpmc::{CachePadded, CapacityError, Full, Slot};
use std::marker::PhantomData;

/// One cell of the ring.
struct Entry<S> {
    // FIX: the stamp, `lap | index`: equal to the position that may write the slot next (empty),
    // FIX: or to that position + 1 once it is written (full).
    stamp: AtomicUsize,
    /// The payload: holds a value exactly when the stamp says full.
    value: S,
}

/// A bounded multi-producer multi-consumer queue of exactly `capacity` slots; share it by `&`
/// (`Send + Sync` for `T: Send` and a `Send` payload cell). `S` is the payload cell:
/// [`UnsafeSlot<T>`] (the default: any `T`) or, for the demos, `AtomicSlot` (`u64`).
pub struct Queue<T, S: Slot<T> = UnsafeSlot<T>> {
    /// The next position to pop, `lap | index` (see `stamp`); moved by the consumer that claims it.
    head: CachePadded<AtomicUsize>,
    /// The next position to push, `lap | index`; moved by the producer that claims it.
    tail: CachePadded<AtomicUsize>,
    /// The number of slots.
    capacity: usize,
    /// `(capacity + 1).next_power_of_two()`: the low bits of a position are the index
    /// (`0..capacity`), the high bits count laps, so a position says which lap it belongs to.
    one_lap: usize,
    /// The slots, `capacity` of them.
    entries: Box<[Entry<S>]>,
    /// The queue owns `T`s.
    _items: PhantomData<T>,
}

// SAFETY: the queue owns its `T`s and its payload cells `S`: moving it to another thread moves
// them (and drops them there), so both must be `Send`.
unsafe impl<T: Send, S: Slot<T> + Send> Send for Queue<T, S> {}
// SAFETY: `&Queue` lets any thread `push` (a `T` moves in) and `pop` (a `T` moves out), so
// `T: Send`; every thread also touches the cells `S`:
// FIX: the stamps give a slot to one thread at a time, each access happening-before the next
// FIX: (Release/Acquire on the stamp), so a cell passes from thread to thread as a moved value
// FIX: would, as in a `Mutex<S>`: `S: Send` suffices (`UnsafeSlot` is `Send`, not `Sync`).
unsafe impl<T: Send, S: Slot<T> + Send> Sync for Queue<T, S> {}

impl<T, S: Slot<T>> Queue<T, S> {
    /// The slot of position `pos`.
    fn entry(&self, pos: usize) -> &Entry<S> {
        let index = pos & (self.one_lap - 1);
        debug_assert!(index < self.capacity);
        // SAFETY: every position is made by `next` (or is 0), whose index part stays below
        // `capacity`, the number of entries: no bounds check on the hot path (as `ArrayQueue`).
        unsafe { self.entries.get_unchecked(index) }
    }

    /// The position after `pos`: the next index, or index 0 of the next lap.
    fn next(&self, pos: usize) -> usize {
        if (pos & (self.one_lap - 1)) + 1 < self.capacity {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Names `head`, `tail` and each slot (`slot[1]`) for the checkers' trace; positions print as
    /// their index and lap (`1`, `0 (lap 1)`). Nothing on real cores.
    pub fn name_locations(&self) {
        let format = || Some(crate::mpmc::position_format(self.one_lap));
        super::sync::name_location(&*self.head, || "head".into(), format());
        super::sync::name_location(&*self.tail, || "tail".into(), format());
        for (i, entry) in self.entries.iter().enumerate() {
            // FIX: the stamp too: `lap | index` like a position, +1 when full.
            super::sync::name_location(
                &entry.stamp,
                || format!("stamp[{i}]"),
                Some(crate::mpmc::position_format(self.one_lap)),
            );
            entry.value.name_location(format!("slot[{i}]"));
        }
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items in the queue at one instant (others may push or pop as you read it): never more than
    /// were ever inside, never a wrapped-around negative count.
    pub fn len(&self) -> usize {
        loop {
            // ORDERING: Acquire [len-tail] — pairs with the Release `tail` CAS that wrote this value: the pops its producer came after (in its thread, or through an Acquire it made) happen-before our `head` load, so that `head` is not older than this `tail` (a stale `head` would count popped items: a length the queue never had).
            let tail = self.tail.load(Ordering::Acquire);
            // ORDERING: Acquire [len-head] — pairs with the Release `head` CAS that wrote this value: its consumer saw the stamp its producer stored after moving `tail`, so our reload of `tail` is not older than the pushes of the items popped (a stale `tail` behind `head` would wrap to a count near `capacity`).
            let head = self.head.load(Ordering::Acquire);
            // ORDERING: Relaxed [len] — only compared with the first load (coherence keeps it no older); orders nothing after it.
            if self.tail.load(Ordering::Relaxed) == tail {
                let (h, t) = (head & (self.one_lap - 1), tail & (self.one_lap - 1));
                return if h < t {
                    t - h
                } else if h > t {
                    self.capacity - h + t
                } else if tail == head {
                    0
                } else {
                    self.capacity
                };
            }
        }
    }

    /// True when the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when every slot holds an item.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity
    }
}

// FIX: any payload cell: the stamps make every access to a slot exclusive.
impl<T, S: Slot<T>> Queue<T, S> {
    /// A queue of exactly `capacity` slots.
    ///
    /// # Panics
    /// If `capacity` is 0 (`mpmc::Queue::new: capacity must be at least 1, got 0`) or too large
    /// (`mpmc::Queue::new: capacity N is too large: at most M slots of B bytes fit`), or the
    /// slots cannot be allocated; [`Queue::try_new`] returns a [`CapacityError`] instead.
    pub fn new(capacity: usize) -> Self {
        Self::try_new(capacity).unwrap_or_else(|e| panic!("mpmc::Queue::new: {e}"))
    }

    /// [`Queue::new`], returning an error instead of panicking for a bad `capacity`.
    pub fn try_new(capacity: usize) -> Result<Self, CapacityError> {
        crate::spsc::check_capacity(capacity, std::mem::size_of::<Entry<S>>())?;
        let mut entries = Vec::new();
        entries
            .try_reserve_exact(capacity)
            .map_err(|_| CapacityError::AllocationFailed { requested: capacity })?;
        entries.extend((0..capacity).map(|i| {
            // FIX: slot `i` starts empty for position `i` of lap 0.
            let stamp = AtomicUsize::new(i);
            Entry {
                stamp,
                value: S::empty(),
            }
        }));
        Ok(Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            capacity,
            one_lap: (capacity + 1).next_power_of_two(),
            entries: entries.into_boxed_slice(),
            _items: PhantomData,
        })
    }

    /// Appends `value`, or returns it in [`Full`] if every slot holds an item.
    pub fn push(&self, value: T) -> Result<(), Full<T>> {
        // ORDERING: Relaxed [tail-claim] — a first guess at the position; the CAS below checks it.
        let mut tail = self.tail.load(Ordering::Relaxed);
        let backoff = Backoff::new();
        loop {
            let entry = self.entry(tail);
            // FIX: the slot's own stamp says whether the consumer of the previous lap is done with it.
            // ORDERING: Acquire [slot-empty] — pairs with pop's Release stamp store: its read of the slot happens-before our write.
            let stamp = entry.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // ORDERING: Release/Relaxed [tail-seen] — success: our earlier ops (a pop, its stamp) happen-before the Acquire fence of a thread that reads this `tail`; failure only reloads.
                match self
                    .tail
                    .compare_exchange_weak(tail, self.next(tail), Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => {
                        // FIX: the stamp said empty for this lap (Acquire), and our CAS made the position ours.
                        // SAFETY: (1) we own position `tail`, and the stamp (Acquire) shows the previous
                        // lap's read finished; (2) that read moved the old value out.
                        unsafe { entry.value.write(value) };
                        // FIX: only now does the stamp tell consumers the slot is full.
                        // ORDERING: Release [slot-full] — our write happens-before the read of the consumer whose Acquire load sees `tail + 1`.
                        entry.stamp.store(tail + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => {
                        // Lost the race for the position: back off before the next guess.
                        tail = current;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot holds the previous lap's item: the queue is full, unless a consumer has
                // already claimed that item and is reading it (then wait for it).
                // ORDERING: Acquire fence [tail-seen] — pairs with the Release CAS that wrote the `tail` we read: what that producer did before (pops included) is visible, so `head` below is not older than `tail`.
                fence(Ordering::Acquire);
                // ORDERING: Relaxed [head-claim] — only compared with `tail`; the fence above orders it.
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(Full(value));
                }
                backoff.spin();
                // ORDERING: Relaxed [tail-claim] — a fresh guess, as above.
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another producer has taken `tail` already: our guess is stale.
                backoff.snooze();
                // ORDERING: Relaxed [tail-claim] — a fresh guess, as above.
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest item, or returns `None` if the queue is empty.
    pub fn pop(&self) -> Option<T> {
        // ORDERING: Relaxed [head-claim] — a first guess at the position; the CAS below checks it.
        let mut head = self.head.load(Ordering::Relaxed);
        let backoff = Backoff::new();
        loop {
            let entry = self.entry(head);
            // FIX: the slot's own stamp says whether the producer of this lap has written it.
            // ORDERING: Acquire [slot-full] — pairs with push's Release stamp store: its write of the slot happens-before our read.
            let stamp = entry.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                // ORDERING: Release/Relaxed [head-seen] — success: our earlier ops (a push, its stamp) happen-before the Acquire fence of a thread that reads this `head`; failure only reloads.
                match self
                    .head
                    .compare_exchange_weak(head, self.next(head), Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => {
                        // FIX: the stamp said full for this lap (Acquire), and our CAS made the position ours.
                        // SAFETY: (1) we own position `head`, and no producer writes the slot until we
                        // move the stamp; (2) the stamp (Acquire) shows this lap's write finished.
                        let value = unsafe { entry.value.read() };
                        // FIX: only now does the stamp hand the slot to the next lap's producer.
                        // ORDERING: Release [slot-empty] — our read happens-before the write of the producer whose Acquire load sees this stamp.
                        entry.stamp.store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(current) => {
                        // Lost the race for the position: back off before the next guess.
                        head = current;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // The slot is empty for this lap: the queue is empty, unless a producer has already
                // claimed the position and is writing it (then wait for it).
                // ORDERING: Acquire fence [head-seen] — pairs with the Release CAS that wrote the `head` we read: what that consumer did before (pushes included) is visible, so `tail` below is not older than `head`.
                fence(Ordering::Acquire);
                // ORDERING: Relaxed [tail-claim] — only compared with `head`; the fence above orders it.
                let tail = self.tail.load(Ordering::Relaxed);
                if tail == head {
                    return None;
                }
                backoff.spin();
                // ORDERING: Relaxed [head-claim] — a fresh guess, as above.
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another consumer has taken `head` already: our guess is stale.
                backoff.snooze();
                // ORDERING: Relaxed [head-claim] — a fresh guess, as above.
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }
}

impl<T, S: Slot<T>> Drop for Queue<T, S> {
    fn drop(&mut self) {
        if !DRAIN_WHILE_UNWINDING && std::thread::panicking() {
            // Under a model checker, leak the items rather than touch its state while this thread
            // unwinds (a second panic would abort the test binary): a leak is safe. On real
            // hardware the items are dropped, unwinding or not.
            return;
        }
        // ORDERING: Relaxed [last-drop] — `&mut self`: every other access happens-before this drop.
        let head = self.head.load(Ordering::Relaxed);
        // ORDERING: Relaxed [last-drop] — as above.
        let tail = self.tail.load(Ordering::Relaxed);
        self.drop_values(head, tail);
    }
}

impl<T, S: Slot<T>> Queue<T, S> {
    /// Drops the values at positions `from..tail` (the queue's drop). A value whose `drop` panics
    /// does not leak the others: a guard drops them while the panic unwinds, as std's collections
    /// do (and, as there, a second panicking value aborts). Under a model checker they leak.
    fn drop_values(&mut self, from: usize, tail: usize) {
        /// The positions not dropped yet; dropping the guard drops their values.
        struct Rest<'a, T, S: Slot<T>> {
            queue: &'a mut Queue<T, S>,
            next: usize,
            tail: usize,
        }
        impl<T, S: Slot<T>> Drop for Rest<'_, T, S> {
            fn drop(&mut self) {
                // (Runs only while unwinding: under a checker, leak the rest, as `drop` does.)
                if self.next != self.tail && DRAIN_WHILE_UNWINDING {
                    self.queue.drop_values(self.next, self.tail);
                }
            }
        }
        let mut rest = Rest {
            queue: self,
            next: from,
            tail,
        };
        while rest.next != rest.tail {
            let pos = rest.next;
            rest.next = rest.queue.next(pos);
            // SAFETY: no push or pop is running (`&mut self`), so every position in `head..tail`
            // holds a written, unread value; `rest` has moved past this one, so it is dropped once
            // even if its `drop` panics.
            unsafe { rest.queue.entry(pos).value.drop_value() };
        }
    }
}

impl<T, S: Slot<T>> std::fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}
