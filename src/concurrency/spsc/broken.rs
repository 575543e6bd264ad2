// BUG: `tail` is published and read with Relaxed (a), and the producer reads `head` with Relaxed (b).
use super::sync::{
    copy_from_cells, copy_to_cells, uninit_cells, Arc, AtomicUsize, Cells, Ordering, UnsafeCell, DRAIN_WHILE_UNWINDING,
};
use crate::spsc::{CachePadded, CapacityError, Full};
use std::mem::{ManuallyDrop, MaybeUninit};

/// One payload slot of the ring.
type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// The state both halves share; dropped (and drained) by whichever half is dropped last.
struct Shared<T> {
    /// The consumer's position, in `0..2 * capacity`: the next slot to read is `head % capacity`.
    /// Written only by the consumer; it lags the consumer's own copy only inside a batch.
    head: CachePadded<AtomicUsize>,
    /// The producer's position, in `0..2 * capacity`: the next slot to write is `tail % capacity`.
    /// Written only by the producer. `tail - head (mod 2 * capacity)` is the length, `0..=capacity`.
    tail: CachePadded<AtomicUsize>,
    /// The number of slots; every one of them is usable (positions run over twice the capacity,
    /// so a full ring and an empty one have different distances).
    capacity: usize,
    /// The payloads; slot `i` is initialized exactly when `i` lies in `head..tail` (mod capacity).
    slots: Cells<T>,
}

impl<T> Shared<T> {
    /// The slot of position `pos`.
    fn slot(&self, pos: usize) -> &UnsafeCell<MaybeUninit<T>> {
        let i = self.index(pos);
        // SAFETY: positions stay in `0..2 * capacity` (`advance`), which `index` maps into
        // `0..capacity`, and there are `capacity` slots: no bounds check on the hot path.
        unsafe { self.slots.get_unchecked(i) }
    }

    /// The slot index of position `pos`.
    fn index(&self, pos: usize) -> usize {
        debug_assert!(pos < 2 * self.capacity);
        if pos >= self.capacity {
            pos - self.capacity
        } else {
            pos
        }
    }

    /// The slots of the `n <= capacity` positions from `pos`, as at most two contiguous runs:
    /// up to the end of the slot array, then the wrapped part (empty if there is none).
    fn runs(&self, pos: usize, n: usize) -> (&[Slot<T>], &[Slot<T>]) {
        debug_assert!(n <= self.capacity);
        let start = self.index(pos);
        let first = n.min(self.capacity - start);
        (&self.slots[start..start + first], &self.slots[..n - first])
    }

    /// `pos` advanced by `n <= capacity` positions.
    fn advance(&self, pos: usize, n: usize) -> usize {
        debug_assert!(pos < 2 * self.capacity && n <= self.capacity);
        let next = pos + n;
        if next >= 2 * self.capacity {
            next - 2 * self.capacity
        } else {
            next
        }
    }

    /// How many items lie between `head` and `tail`.
    fn distance(&self, head: usize, tail: usize) -> usize {
        if tail >= head {
            tail - head
        } else {
            tail + 2 * self.capacity - head
        }
    }

    /// The producer makes the slots before `tail` readable.
    fn publish_tail(&self, tail: usize) {
        // BUG: (a) Relaxed: a consumer that sees this tail may not see the slot writes before it.
        // ORDERING: Relaxed [tail-publish] — publishes nothing: the bug.
        self.tail.store(tail, Ordering::Relaxed);
    }

    /// The consumer learns how far the producer has written.
    fn load_tail(&self) -> usize {
        // BUG: (a) Relaxed: seeing the new tail does not make the producer's slot writes visible.
        // ORDERING: Relaxed [tail-publish] — synchronizes with nothing: the bug.
        self.tail.load(Ordering::Relaxed)
    }

    /// The consumer hands the slots before `head` back to the producer.
    fn publish_head(&self, head: usize) {
        // ORDERING: Release [head-publish] — the slot reads happen-before the producer's Acquire load that sees this head.
        self.head.store(head, Ordering::Release);
    }

    /// The producer learns how far the consumer has read.
    fn load_head(&self) -> usize {
        // BUG: (b) Relaxed: the consumer's read of a freed slot may not be finished when we write it.
        // ORDERING: Relaxed [head-publish] — synchronizes with nothing: the bug.
        self.head.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // ORDERING: Relaxed [last-drop] — both halves are gone: `Arc`'s drop made their accesses happen-before this.
        let head = self.head.load(Ordering::Relaxed);
        // ORDERING: Relaxed [last-drop] — as above.
        let tail = self.tail.load(Ordering::Relaxed);
        self.drop_items(head, tail);
    }
}

impl<T> Shared<T> {
    /// Drops the items at positions `from..tail` (the last drop). An item whose `drop` panics
    /// does not leak the others: a guard drops them while the panic unwinds, as std's collections
    /// do (and, as there, a second panicking item aborts). Under a model checker they leak.
    fn drop_items(&self, from: usize, tail: usize) {
        /// The positions not dropped yet; dropping the guard drops their items.
        struct Rest<'a, T> {
            shared: &'a Shared<T>,
            next: usize,
            tail: usize,
        }
        impl<T> Drop for Rest<'_, T> {
            fn drop(&mut self) {
                // (Runs only while unwinding: under a checker, leak the rest; see `release`.)
                if self.next != self.tail && DRAIN_WHILE_UNWINDING {
                    self.shared.drop_items(self.next, self.tail);
                }
            }
        }
        let mut rest = Rest {
            shared: self,
            next: from,
            tail,
        };
        while rest.next != rest.tail {
            let slot = self.slot(rest.next);
            rest.next = self.advance(rest.next, 1);
            // SAFETY: positions in `head..tail` hold initialized items that nobody will read again,
            // and no other handle exists (we are in the last `Arc`'s drop); `rest` has moved past
            // this one, so it is dropped once even if its `drop` panics.
            slot.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// True while this thread unwinds a panic under a model checker: then a half's destructor must not
/// touch the checker's atomics or cells (a second panic would abort the process). See
/// `DRAIN_WHILE_UNWINDING` in the sync layer.
fn must_not_touch_the_checker() -> bool {
    !DRAIN_WHILE_UNWINDING && std::thread::panicking()
}

/// Lets go of one half's reference to the ring: the last one drops the ring and the items left
/// inside. Under a model checker while this thread unwinds, the reference is leaked instead (the
/// ring and its items with it: safe), so that nothing drains the ring from a stale `head`.
fn release<T>(shared: &mut ManuallyDrop<Arc<Shared<T>>>) {
    if must_not_touch_the_checker() {
        return;
    }
    // SAFETY: called once, from a half's `drop`, which does not use `shared` afterwards.
    unsafe { ManuallyDrop::drop(shared) };
}

/// Creates a ring of exactly `capacity` slots and returns its two halves.
///
/// # Panics
/// If `capacity` is 0 (`spsc::channel: capacity must be at least 1, got 0`), too large for the
/// address space (`spsc::channel: capacity N is too large: at most M slots of B bytes fit`), or
/// the slots cannot be allocated. [`try_channel`] returns these as a [`CapacityError`] instead.
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    try_channel(capacity).unwrap_or_else(|e| panic!("spsc::channel: {e}"))
}

/// [`channel`], returning an error instead of panicking for a bad `capacity`.
pub fn try_channel<T>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    crate::spsc::check_capacity(capacity, std::mem::size_of::<UnsafeCell<MaybeUninit<T>>>())?;
    // No per-slot work on real hardware: a ring of `usize::MAX / 4` zero-sized slots is instant.
    let slots = uninit_cells(capacity).map_err(|_| CapacityError::AllocationFailed { requested: capacity })?;
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        capacity,
        slots,
    });
    let producer = Producer {
        shared: ManuallyDrop::new(Arc::clone(&shared)),
        tail: 0,
        cached_head: 0,
    };
    let consumer = Consumer {
        shared: ManuallyDrop::new(shared),
        head: 0,
        cached_tail: 0,
    };
    Ok((producer, consumer))
}

/// The writing half: `Send` (it may move to another thread), not `Sync`, not `Clone`.
pub struct Producer<T> {
    /// Released by `drop` (see `release`).
    shared: ManuallyDrop<Arc<Shared<T>>>,
    /// The producer's own position; equal to `shared.tail` except inside a batch.
    tail: usize,
    /// The last `head` this half loaded; reloaded only when it says the ring is full.
    cached_head: usize,
}

// SAFETY: the producer only moves `T`s into the ring (so `T: Send` suffices) and it is the only
// handle that writes `tail` and the free slots; `&Producer` is not shared (no `Sync`).
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Free slots, reloading `head` only when the cached copy says there are fewer than `wanted`.
    fn free_slots(&mut self, wanted: usize) -> usize {
        let capacity = self.shared.capacity;
        let free = capacity - self.shared.distance(self.cached_head, self.tail);
        if free >= wanted {
            return free;
        }
        self.cached_head = self.shared.load_head();
        capacity - self.shared.distance(self.cached_head, self.tail)
    }

    /// Writes `value` into the slot at the producer's position and advances it (unpublished).
    fn write(&mut self, value: T) {
        let slot = self.shared.slot(self.tail);
        // SAFETY: the caller checked that this slot is free: the consumer has read it (Acquire on
        // `head`) or it was never written, and only this producer writes slots.
        slot.with_mut(|p| unsafe { (*p).write(value) });
        self.tail = self.shared.advance(self.tail, 1);
    }

    /// Appends `value`, or returns it in [`Full`] if every slot is taken.
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        if self.free_slots(1) == 0 {
            return Err(Full(value));
        }
        self.write(value);
        self.shared.publish_tail(self.tail);
        Ok(())
    }

    /// Moves items from `items` into the ring until it is full or `items` ends, then publishes
    /// them all with one store; returns how many moved. It never takes an item it has no room
    /// for, so pass `&mut iter` to keep the rest. If `items` panics, the items already moved are
    /// published before the panic continues.
    pub fn push_iter<I: IntoIterator<Item = T>>(&mut self, items: I) -> usize {
        /// Publishes the batch on every exit, unwinding included.
        struct Commit<'a, T>(&'a mut Producer<T>, usize);
        impl<T> Drop for Commit<'_, T> {
            fn drop(&mut self) {
                // (Under a checker while unwinding, the batch stays unpublished: the next push
                // publishes it.)
                if self.1 > 0 && !must_not_touch_the_checker() {
                    self.0.shared.publish_tail(self.0.tail);
                }
            }
        }
        let mut items = items.into_iter();
        let mut free = self.free_slots(1);
        let mut batch = Commit(self, 0);
        while free > 0 {
            let Some(item) = items.next() else { break };
            batch.0.write(item);
            batch.1 += 1;
            free -= 1;
            if free == 0 {
                free = batch.0.free_slots(1);
            }
        }
        batch.1
    }

    /// Clones items from the front of `items` into the ring (as many as fit), publishing once;
    /// returns how many were pushed.
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Clone,
    {
        self.push_iter(items.iter().cloned())
    }

    /// Copies items from the front of `items` into the ring (as many as fit) as at most two
    /// contiguous runs, then publishes them with one store; returns how many were pushed. The
    /// `T: Copy` fast path of [`Producer::push_slice`].
    pub fn push_copy_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.free_slots(items.len()).min(items.len());
        if n == 0 {
            return 0;
        }
        let (a, b) = self.shared.runs(self.tail, n);
        let (src_a, src_b) = items[..n].split_at(a.len());
        // SAFETY: `runs` gives runs of the lengths of `src_a`/`src_b` (1.), and its `n` slots are
        // free (2.): `free_slots` counted them from a `head` loaded with Acquire (the consumer
        // has finished reading them) or never written, and only this producer writes slots.
        unsafe {
            copy_to_cells(a, src_a);
            copy_to_cells(b, src_b);
        }
        self.tail = self.shared.advance(self.tail, n);
        self.shared.publish_tail(self.tail);
        n
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Items in the ring now (the consumer may be removing some as you read this).
    pub fn len(&self) -> usize {
        // ORDERING: Relaxed [len] — a snapshot count; it reads no slot and is not cached for `push`.
        let head = self.shared.head.load(Ordering::Relaxed);
        self.shared.distance(head, self.tail)
    }

    /// True when the ring holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when every slot is taken (a concurrent pop may free one at any moment).
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.capacity
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        release(&mut self.shared);
    }
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.shared.capacity)
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// The reading half: `Send` (it may move to another thread), not `Sync`, not `Clone`.
pub struct Consumer<T> {
    /// Released by `drop` (see `release`).
    shared: ManuallyDrop<Arc<Shared<T>>>,
    /// The consumer's own position; equal to `shared.head` except inside a [`ReadChunk`].
    head: usize,
    /// The last `tail` this half loaded; reloaded only when it says the ring is empty.
    cached_tail: usize,
}

// SAFETY: the consumer only moves `T`s out of the ring (so `T: Send` suffices) and it is the only
// handle that writes `head` and reads the full slots; `&Consumer` is not shared (no `Sync`).
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Readable items, reloading `tail` only when the cached copy says there are fewer than `wanted`.
    fn ready_slots(&mut self, wanted: usize) -> usize {
        let ready = self.shared.distance(self.head, self.cached_tail);
        if ready >= wanted {
            return ready;
        }
        self.cached_tail = self.shared.load_tail();
        self.shared.distance(self.head, self.cached_tail)
    }

    /// True when an item is ready: the `ready_slots(1)` of `pop`, as one comparison while the
    /// cached tail is ahead (an empty ring has `head == tail`).
    fn has_item(&mut self) -> bool {
        if self.head != self.cached_tail {
            return true;
        }
        self.cached_tail = self.shared.load_tail();
        self.head != self.cached_tail
    }

    /// Moves the item at the consumer's position out and advances it (unpublished).
    fn read(&mut self) -> T {
        let slot = self.shared.slot(self.head);
        // SAFETY: the caller checked that this slot is full: the producer wrote it before the
        // tail we loaded with Acquire, and it will not write it again until we publish `head`.
        let value = slot.with(|p| unsafe { (*p).assume_init_read() });
        self.head = self.shared.advance(self.head, 1);
        value
    }

    /// Removes the oldest item, or returns `None` if the ring is empty.
    pub fn pop(&mut self) -> Option<T> {
        if !self.has_item() {
            return None;
        }
        let value = self.read();
        self.shared.publish_head(self.head);
        Some(value)
    }

    /// A batch read of up to `max` items: iterate it to take them; dropping it publishes `head`
    /// once for the items taken, and the items not taken stay in the ring.
    pub fn pop_chunk(&mut self, max: usize) -> ReadChunk<'_, T> {
        let len = self.ready_slots(max.min(self.shared.capacity)).min(max);
        ReadChunk {
            consumer: self,
            remaining: len,
            taken: 0,
        }
    }

    /// Copies the oldest items out into `dst` (as many as are ready, up to `dst.len()`) as at
    /// most two contiguous runs, then publishes `head` with one store; returns how many were
    /// popped (they fill the front of `dst`). The `T: Copy` fast path of [`Consumer::pop_chunk`].
    pub fn pop_copy_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = self.ready_slots(dst.len()).min(dst.len());
        if n == 0 {
            return 0;
        }
        let (a, b) = self.shared.runs(self.head, n);
        let (dst_a, dst_b) = dst[..n].split_at_mut(a.len());
        // SAFETY: `runs` gives runs of the lengths of `dst_a`/`dst_b` (1.); its `n` slots are full
        // (2.): the producer wrote them before the tail we loaded with Acquire; and it will not
        // write them again (3.) until we publish a `head` past them, below.
        unsafe {
            copy_from_cells(dst_a, a);
            copy_from_cells(dst_b, b);
        }
        self.head = self.shared.advance(self.head, n);
        self.shared.publish_head(self.head);
        n
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Items in the ring now (the producer may be adding some as you read this).
    pub fn len(&self) -> usize {
        // ORDERING: Relaxed [len] — a snapshot count; it reads no slot and is not cached for `pop`.
        let tail = self.shared.tail.load(Ordering::Relaxed);
        self.shared.distance(self.head, tail)
    }

    /// True when the ring holds no item (a concurrent push may add one at any moment).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when every slot is taken.
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.capacity
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // A forgotten `ReadChunk` leaves `head` unpublished: publish it, so that the last drop
        // never drains items that were already moved out. (Under a checker while unwinding,
        // `release` leaks the ring instead: nothing drains it.)
        if !must_not_touch_the_checker() {
            self.shared.publish_head(self.head);
        }
        release(&mut self.shared);
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.shared.capacity)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Up to `max` items of a [`Consumer::pop_chunk`]; an iterator that moves them out.
pub struct ReadChunk<'a, T> {
    consumer: &'a mut Consumer<T>,
    /// Items still available to this chunk.
    remaining: usize,
    /// Items taken so far (published when the chunk is dropped).
    taken: usize,
}

impl<T> Iterator for ReadChunk<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.taken += 1;
        Some(self.consumer.read())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for ReadChunk<'_, T> {}

impl<T> Drop for ReadChunk<'_, T> {
    fn drop(&mut self) {
        // (Under a checker while unwinding, the consumer's `head` stays unpublished: its next
        // pop, or its drop, publishes it.)
        if self.taken > 0 && !must_not_touch_the_checker() {
            self.consumer.shared.publish_head(self.consumer.head);
        }
    }
}

impl<T> std::fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadChunk")
            .field("remaining", &self.remaining)
            .field("taken", &self.taken)
            .finish()
    }
}
