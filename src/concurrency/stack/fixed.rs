// FIX: the head carries a 32-bit tag bumped by every successful CAS, so a stale CAS fails.
use super::sync::{AtomicU32, AtomicU64, Backoff, Ordering};
use crate::stack::{index, pack, tag, CapacityError, Local, Owner, PopAttempt, Snapshot, NIL};

/// One arena node. Both fields are atomics: a stale popper reading a node that its next owner is
/// rewriting reads an old or a new value, never a torn one (the bug is logical, never UB).
#[derive(Debug)]
struct Node {
    /// The pushed value; written by the pusher before the Release CAS that publishes the node.
    value: AtomicU64,
    /// Index of the node below, or `NIL`; written by the pusher before publishing.
    next: AtomicU32,
}

/// A Treiber stack of `u64` over an index arena; popped nodes are recycled through the popping
/// thread's [`Local`] list.
#[derive(Debug)]
pub struct Stack {
    /// The packed head word (see the module doc): bits 0..32 the top node's index (`NIL` when
    /// empty), bits 32..64 the tag.
    head: AtomicU64,
    /// The arena: nodes never move and are never freed while the stack lives.
    nodes: Box<[Node]>,
    /// The next never-used node, in `0..=capacity`: it stops at `capacity`.
    fresh: AtomicU32,
    /// This stack's identity for the `Local`s and `PopAttempt`s it accepts (renewed by `reset`).
    owner: Owner,
}

/// The tag the head carries after a successful CAS that read `tag`.
fn bump(tag: u32) -> u32 {
    // FIX: every successful CAS writes a new tag: the word repeats only after 2^32 of them.
    tag.wrapping_add(1)
}

impl Stack {
    /// An empty stack with `capacity` nodes, allocated and written up front (16 bytes a node).
    ///
    /// # Panics
    /// If `capacity` is 0 (`stack::Stack::new: capacity must be at least 1, got 0`), above
    /// [`MAX_CAPACITY`](crate::stack::MAX_CAPACITY) (`2^31`), or if the arena cannot be allocated
    /// (`2^31` nodes take 32 GiB); [`Stack::try_new`] returns a [`CapacityError`] instead. Where
    /// the OS overcommits memory, a too-large arena may be allocated and the process killed while
    /// its nodes are written: check the machine before asking for gigabytes.
    pub fn new(capacity: usize) -> Self {
        Self::try_new(capacity).unwrap_or_else(|e| panic!("stack::Stack::new: {e}"))
    }

    /// [`Stack::new`], returning an error instead of panicking for a bad `capacity` or an arena
    /// the allocator refuses.
    pub fn try_new(capacity: usize) -> Result<Self, CapacityError> {
        crate::stack::check_capacity(capacity, std::mem::size_of::<Node>())?;
        let mut nodes = Vec::new();
        nodes
            .try_reserve_exact(capacity)
            .map_err(|_| CapacityError::AllocationFailed { requested: capacity })?;
        nodes.extend((0..capacity).map(|_| Node {
            value: AtomicU64::new(0),
            next: AtomicU32::new(NIL),
        }));
        Ok(Self {
            head: AtomicU64::new(pack(NIL, 0)),
            nodes: nodes.into_boxed_slice(),
            fresh: AtomicU32::new(0),
            owner: Owner::new(),
        })
    }

    /// Pushes `value` on a node taken from `local` (oldest first) or a never-used one;
    /// `Err(value)` when neither is left. Panics if `local` serves another stack (see [`Local`]).
    pub fn push(&self, local: &mut Local, value: u64) -> Result<(), u64> {
        local.bind(self.owner.get());
        let Some(i) = local.take().or_else(|| self.fresh_node()) else {
            return Err(value);
        };
        let node = &self.nodes[i as usize];
        // ORDERING: Relaxed [node-publish] — published by the Release CAS below.
        node.value.store(value, Ordering::Relaxed);
        // ORDERING: Relaxed [push-guess] — only a guess at the head; the CAS below checks it.
        let mut head = self.head.load(Ordering::Relaxed);
        // Back off after a failed CAS: retrying at once only steals the line from the winner.
        let backoff = Backoff::new();
        loop {
            // ORDERING: Relaxed [node-publish] — published by the Release CAS below.
            node.next.store(index(head), Ordering::Relaxed);
            let new = pack(i, bump(tag(head)));
            // ORDERING: Release/Relaxed [node-publish] — success makes value and next visible to the Acquire loads in `pop_read`/`pop_commit` that read this word or a later CAS of its release sequence; failure only refreshes the guess.
            match self
                .head
                .compare_exchange(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => {
                    head = actual;
                    backoff.spin();
                }
            }
        }
    }

    /// Pops the top value, recycling its node into `local`; `None` when empty.
    pub fn pop(&self, local: &mut Local) -> Option<u64> {
        let mut attempt = self.pop_read()?;
        let backoff = Backoff::new();
        loop {
            match self.pop_commit(local, attempt) {
                Ok(value) => return Some(value),
                Err(retry) => {
                    attempt = retry?;
                    backoff.spin();
                }
            }
        }
    }

    /// The first half of `pop`: reads the head word and the top node's `next`. `None` when empty.
    /// A thread that stalls here is T1 of the ABA interleaving.
    pub fn pop_read(&self) -> Option<PopAttempt> {
        // ORDERING: Acquire [node-publish] — pairs with push's Release CAS: the top node's next and value are visible.
        let head = self.head.load(Ordering::Acquire);
        self.read_next(head)
    }

    /// The second half of `pop`: the CAS from `attempt.head` to `attempt.next`. On success the
    /// node is ours: returns its value and recycles it into `local`. On failure returns the fresh
    /// attempt to retry with (`None`: the stack is now empty). Panics, before touching the stack,
    /// if `local` serves another stack or another stack (or this one before a `reset`) read
    /// `attempt`.
    pub fn pop_commit(&self, local: &mut Local, attempt: PopAttempt) -> Result<u64, Option<PopAttempt>> {
        attempt.check(self.owner.get());
        local.bind(self.owner.get());
        let new = pack(attempt.next, bump(tag(attempt.head)));
        // ORDERING: Relaxed/Acquire [node-publish] — success: the word equals the one the Acquire load read, which already made this node visible; failure: the fresh head is read like `pop_read` reads it.
        match self
            .head
            .compare_exchange(attempt.head, new, Ordering::Relaxed, Ordering::Acquire)
        {
            Ok(_) => {
                let i = index(attempt.head);
                // ORDERING: Relaxed [node-publish] — ordered by the Acquire that read this node's index.
                let value = self.nodes[i as usize].value.load(Ordering::Relaxed);
                local.put(i);
                Ok(value)
            }
            Err(actual) => Err(self.read_next(actual)),
        }
    }

    /// The attempt to pop the node `head` names, or `None` if it names no node.
    fn read_next(&self, head: u64) -> Option<PopAttempt> {
        if index(head) == NIL {
            return None;
        }
        // ORDERING: Relaxed [node-publish] — ordered by the Acquire that read `head`.
        let next = self.nodes[index(head) as usize].next.load(Ordering::Relaxed);
        Some(PopAttempt {
            head,
            next,
            stack: self.owner.get(),
        })
    }

    /// Claims a never-used node. The counter stops at the capacity: a failed claim does not move
    /// it (a `fetch_add` would, and after 2^32 failed pushes hand out node 0 again while in use).
    fn fresh_node(&self) -> Option<u32> {
        // ORDERING: Relaxed [fresh] — a guess at the next ticket; the CAS below checks it.
        let mut i = self.fresh.load(Ordering::Relaxed);
        while (i as usize) < self.nodes.len() {
            // ORDERING: Relaxed/Relaxed [fresh] — success: a unique ticket, the node is published by push's Release CAS; failure only refreshes the guess.
            match self
                .fresh
                .compare_exchange_weak(i, i + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(i),
                Err(actual) => i = actual,
            }
        }
        None
    }

    /// Empties the stack and forgets every node. Only while no other thread uses the stack. Every
    /// `Local` must be [`clear`](Local::clear)ed before its next use here (else it panics), and
    /// every `PopAttempt` read before is refused.
    pub fn reset(&self) {
        self.owner.renew();
        // ORDERING: Relaxed [reset] — quiescent: the caller's barrier orders it with every thread.
        self.head.store(pack(NIL, 0), Ordering::Relaxed);
        // ORDERING: Relaxed [reset] — as above.
        self.fresh.store(0, Ordering::Relaxed);
    }

    /// The stack as the head word describes it: the head, then each node's index and value down
    /// the `next` chain (stopping at a repeated node: a cycle). Only while no thread pushes or pops.
    pub fn snapshot(&self) -> Snapshot {
        // ORDERING: Relaxed [snapshot] — quiescent: the caller ordered it after every operation.
        let head = self.head.load(Ordering::Relaxed);
        let mut nodes = Vec::new();
        let mut i = index(head);
        while i != NIL && !nodes.iter().any(|&(n, _)| n == i) {
            let node = &self.nodes[i as usize];
            // ORDERING: Relaxed [snapshot] — as above.
            nodes.push((i, node.value.load(Ordering::Relaxed)));
            // ORDERING: Relaxed [snapshot] — as above.
            i = node.next.load(Ordering::Relaxed);
        }
        Snapshot {
            head_index: index(head),
            head_tag: tag(head),
            cycle: i != NIL,
            nodes,
            // ORDERING: Relaxed [snapshot] — as above.
            claimed: self.fresh.load(Ordering::Relaxed),
        }
    }

    /// Names the head, each node's `next` and `value` and the never-used-node counter for the
    /// checkers' trace (`head`, `next[A]`, `value[B]`, `fresh`; see [`crate::stack::node_name`]).
    /// Nothing on real cores.
    pub fn name_locations(&self) {
        let capacity = self.nodes.len();
        super::sync::name_location(&self.head, || "head".into(), Some(crate::stack::head_format(capacity)));
        // From the top of a full stack down: A, B…
        for (i, node) in self.nodes.iter().enumerate().rev() {
            let node_name = crate::stack::node_name(i as u32, capacity);
            let format = Some(crate::stack::index_format(capacity));
            super::sync::name_location(&node.next, || format!("next[{node_name}]"), format);
            super::sync::name_location(&node.value, || format!("value[{node_name}]"), None);
        }
        super::sync::name_location(&self.fresh, || "fresh".into(), None);
    }
}
