// FIX: each slot's flag is set with Release after its value is written, and cleared with Release after its value is read.
use super::sync::{Arc, AtomicBool, Ordering, UnsafeCell};
use crate::nic::descriptor_ring::queue::{default_look_ahead, CapacityError, Full};
use std::mem::MaybeUninit;

/// One slot: the flag and the value side by side, in one cache line.
struct Slot<T> {
    /// True from the producer's write of `value` until the consumer has read it.
    full: AtomicBool,
    /// Initialized while `full` is true (and from then on: `T: Copy` leaves nothing to drop).
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The slots both halves share; no index is shared.
struct Shared<T> {
    slots: Box<[Slot<T>]>,
    /// How far ahead the producer looks for free slots, in `1..=capacity`.
    look_ahead: usize,
}

/// A queue of `capacity` slots (any capacity ≥ 1), with the default look-ahead.
///
/// # Panics
/// With `queue::channel: {error}` when `capacity` is 0 or too large (see [`try_channel`]).
pub fn channel<T: Copy + Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    try_channel(capacity).unwrap_or_else(|e| panic!("queue::channel: {e}"))
}

/// [`channel`], returning an error instead of panicking for a bad `capacity`.
pub fn try_channel<T: Copy + Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    crate::ring::check_capacity(capacity, std::mem::size_of::<Slot<T>>())?;
    Ok(with_look_ahead(capacity, default_look_ahead(capacity)))
}

/// A queue of `capacity` slots whose producer looks `look_ahead` slots ahead (1: no look-ahead).
///
/// # Panics
/// Unless `1 <= look_ahead <= capacity`, or when `capacity` is too large.
pub fn with_look_ahead<T: Copy + Send>(capacity: usize, look_ahead: usize) -> (Producer<T>, Consumer<T>) {
    assert!(
        (1..=capacity).contains(&look_ahead),
        "queue::with_look_ahead: the look-ahead must be in 1..={capacity}, got {look_ahead}"
    );
    crate::ring::check_capacity(capacity, std::mem::size_of::<Slot<T>>())
        .unwrap_or_else(|e| panic!("queue::with_look_ahead: {e}"));
    let shared = Arc::new(Shared {
        slots: (0..capacity)
            .map(|_| Slot {
                full: AtomicBool::new(false),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect(),
        look_ahead,
    });
    let producer = Producer {
        shared: Arc::clone(&shared),
        tail: 0,
        known_free: 0,
    };
    let consumer = Consumer { shared, head: 0 };
    (producer, consumer)
}

/// The writing half: `Send`, not `Sync`, not `Clone`.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// The next slot to write, in `0..capacity`.
    tail: usize,
    /// Slots from `tail` on that a flag load has shown empty and are not yet written.
    known_free: usize,
}

// SAFETY: the producer only moves `T`s into the queue (so `T: Send` suffices) and it is the only
// handle that writes values into empty slots; `&Producer` is not shared (no `Sync`).
unsafe impl<T: Send> Send for Producer<T> {}

impl<T: Copy> Producer<T> {
    /// Appends `value`, or returns it in [`Full`] when every slot is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        if self.known_free == 0 && !self.look() {
            return Err(Full(value));
        }
        let slot = &self.shared.slots[self.tail];
        // SAFETY: the slot is empty (a flag load with Acquire showed it or a later slot empty: the
        // consumer has finished reading it) and only this producer writes values.
        slot.value.with_mut(|p| unsafe { (*p).write(value) });
        // FIX: Release: the value written above travels with the flag.
        // ORDERING: Release [slot-publish] — the value write happens-before the consumer's Acquire load that sees the flag set.
        slot.full.store(true, Ordering::Release);
        self.known_free -= 1;
        self.tail = if self.tail + 1 == self.shared.slots.len() {
            0
        } else {
            self.tail + 1
        };
        Ok(())
    }

    /// Finds free slots from `tail` on: the look-ahead slot first, then `tail`'s own. False when
    /// `tail`'s slot is still full, i.e. every slot is.
    #[inline(never)]
    fn look(&mut self) -> bool {
        let n = self.shared.slots.len();
        let ahead = self.shared.look_ahead;
        if ahead > 1 {
            let far = (self.tail + ahead - 1) % n;
            // ORDERING: Acquire [slot-free] — pairs with the consumer's Release clear of that slot, made after its reads of it and of every slot before it.
            if !self.shared.slots[far].full.load(Ordering::Acquire) {
                self.known_free = ahead;
                return true;
            }
        }
        // ORDERING: Acquire [slot-free] — pairs with the consumer's Release clear: its read of this slot is finished.
        if !self.shared.slots[self.tail].full.load(Ordering::Acquire) {
            self.known_free = 1;
            return true;
        }
        false
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.shared.slots.len())
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// The reading half: `Send`, not `Sync`, not `Clone`.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// The next slot to read, in `0..capacity`.
    head: usize,
}

// SAFETY: the consumer only moves `T`s out of the queue (so `T: Send` suffices) and it is the only
// handle that reads full slots; `&Consumer` is not shared (no `Sync`).
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T: Copy> Consumer<T> {
    /// Removes the oldest value, or returns `None` when the queue is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let slot = &self.shared.slots[self.head];
        // ORDERING: Acquire [slot-publish] — pairs with the producer's Release store: its value write is visible.
        if !slot.full.load(Ordering::Acquire) {
            return None;
        }
        // FIX: read the value first, then hand the slot back.
        // SAFETY: the flag (loaded with Acquire) says the producer wrote the slot, and it will not
        // write it again until the flag is cleared below; `T: Copy`, so the copy read out is ours.
        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });
        // ORDERING: Release [slot-free] — the value read happens-before the producer's Acquire load that sees the flag clear.
        slot.full.store(false, Ordering::Release);
        self.head = if self.head + 1 == self.shared.slots.len() {
            0
        } else {
            self.head + 1
        };
        Some(value)
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.shared.slots.len())
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl<T: Copy + Send + 'static> crate::spsc::Push<T> for Producer<T> {
    fn push(&mut self, value: T) -> Result<(), Full<T>> {
        Producer::push(self, value)
    }
}

impl<T: Copy + Send + 'static> crate::spsc::Pop<T> for Consumer<T> {
    fn pop(&mut self) -> Option<T> {
        Consumer::pop(self)
    }
}
