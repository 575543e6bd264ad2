//! The real-world fix (feature `epoch`): a pointer-based Treiber stack on crossbeam-epoch.
//!
//! Nodes are heap allocations, not arena slots, and a popped node is not freed at once: `pop`
//! hands it to [`Guard::defer_destroy`], and crossbeam frees it only after every thread that was
//! pinned when it was unlinked has unpinned (Fraser's epoch-based reclamation). That removes ABA
//! at its root rather than making it unlikely as a tag does: while T1 is pinned holding a pointer
//! to node A, A's memory cannot be freed, so no push can receive A's address again, and T1's CAS
//! can only succeed if A is still really the top.
//!
//! The caller pins and passes `&guard`, in the stack's collector: `let guard = epoch::pin();`
//! for a stack made by [`TreiberStack::new`] (crossbeam's default collector), or
//! `handle.pin()` with `handle = collector.register()` for one made by
//! [`TreiberStack::with_collector`] (as the shuttle tests do, one collector per iteration).
//! A guard pinned in another collector would not protect this stack's nodes: a node popped and
//! retired into collector B is freed once B's participants move on, while a `pop` pinned only in
//! A may still be reading it. Every method therefore checks its guard's collector and panics
//! with [`FOREIGN_GUARD`] on a mismatch (an `unprotected` guard has none and is refused too).
//! ```should_panic
//! use lockfree_lab::stack::epoch::TreiberStack;
//! let stack = TreiberStack::with_collector(&crossbeam_epoch::Collector::new());
//! stack.push(1, &crossbeam_epoch::pin()); // panics: the default collector's guard
//! ```
//!
//! Sources: crossbeam-epoch documentation (`Atomic`, `Shared`, `Guard::defer_destroy`);
//! K. Fraser, *Practical lock-freedom*, Cambridge UCAM-CL-TR-579 (2004), ch. 5.

use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;

use crossbeam_epoch::{self as epoch, Atomic, Collector, Guard, Owned, Shared};

/// The panic of a [`TreiberStack`] method given a guard pinned in another collector than the
/// stack's (or an unprotected guard).
pub const FOREIGN_GUARD: &str =
    "epoch: the guard was not pinned in this stack's Collector, so it cannot protect the stack's nodes";

/// A lock-free LIFO stack whose popped nodes are reclaimed by crossbeam-epoch.
#[derive(Debug)]
pub struct TreiberStack<T> {
    /// The top node, or null when empty. No tag: epochs make a reused address impossible while
    /// any thread that read it is pinned.
    head: Atomic<Node<T>>,
    /// The collector every guard must be pinned in: the one popped nodes are retired into.
    collector: Collector,
}

#[derive(Debug)]
struct Node<T> {
    /// Moved out (with `ptr::read`) by the one `pop` that unlinks the node; never dropped in place.
    value: ManuallyDrop<T>,
    /// The node below; written before the node is published, never changed afterwards.
    next: Atomic<Node<T>>,
}

impl<T> Default for TreiberStack<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TreiberStack<T> {
    /// An empty stack reclaimed by crossbeam's default collector: pin with `epoch::pin()`.
    pub fn new() -> Self {
        Self::with_collector(epoch::default_collector())
    }

    /// An empty stack reclaimed by `collector`: pin with `collector.register().pin()`.
    pub fn with_collector(collector: &Collector) -> Self {
        Self {
            head: Atomic::null(),
            collector: collector.clone(),
        }
    }

    /// The collector this stack's guards must be pinned in.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// Panics with [`FOREIGN_GUARD`] unless `guard` was pinned in this stack's collector.
    #[track_caller]
    fn check(&self, guard: &Guard) {
        assert!(guard.collector() == Some(&self.collector), "{FOREIGN_GUARD}");
    }

    /// Pushes `value`.
    ///
    /// # Panics
    /// With [`FOREIGN_GUARD`] if `guard` was not pinned in this stack's collector.
    pub fn push(&self, value: T, guard: &Guard) {
        self.check(guard);
        let mut node = Owned::new(Node {
            value: ManuallyDrop::new(value),
            next: Atomic::null(),
        });
        // ORDERING: Relaxed [push-guess] — only a guess at the head; the CAS below checks it.
        let mut head = self.head.load(Ordering::Relaxed, guard);
        loop {
            // ORDERING: Relaxed [epoch-node-publish] — the node is still ours; published by the Release CAS below.
            node.next.store(head, Ordering::Relaxed);
            // ORDERING: Release/Relaxed [epoch-node-publish] — success publishes value and next to the Acquire load in `pop`; failure only refreshes the guess.
            match self
                .head
                .compare_exchange(head, node, Ordering::Release, Ordering::Relaxed, guard)
            {
                Ok(_) => return,
                Err(e) => {
                    head = e.current;
                    node = e.new;
                }
            }
        }
    }

    /// Pops the top value; `None` when empty.
    ///
    /// # Panics
    /// With [`FOREIGN_GUARD`] if `guard` was not pinned in this stack's collector.
    pub fn pop(&self, guard: &Guard) -> Option<T> {
        self.check(guard);
        loop {
            // ORDERING: Acquire [epoch-node-publish] — pairs with push's Release CAS: the node's value and next are visible.
            let head = self.head.load(Ordering::Acquire, guard);
            // SAFETY: `head` was loaded under `guard`, pinned in the stack's collector (checked
            // above); a node is only destroyed through `defer_destroy` into that collector after
            // being unlinked, which waits for this guard, so it is valid.
            let node = unsafe { head.as_ref() }?;
            // ORDERING: Relaxed [epoch-node-publish] — ordered by the Acquire load that read `head`.
            let next = node.next.load(Ordering::Relaxed, guard);
            // ORDERING: Relaxed/Relaxed [epoch-node-publish] — success: the node was acquired by the load above and its address cannot be reused while we are pinned; failure: we reload with Acquire.
            if self
                .head
                .compare_exchange(head, next, Ordering::Relaxed, Ordering::Relaxed, guard)
                .is_ok()
            {
                // SAFETY: (1) our CAS unlinked `head`, so no other pop can unlink it and read
                // its value again; (2) the node is destroyed only after `guard` (and every guard
                // that could see it, all in the stack's collector) is dropped, and `Node` never
                // drops `value` itself (`ManuallyDrop`), so moving the value out leaves nothing
                // dropped twice.
                unsafe {
                    guard.defer_destroy(head);
                    return Some(std::ptr::read(&*node.value));
                }
            }
        }
    }

    /// True when the stack holds no value (a snapshot: other threads may push or pop meanwhile).
    ///
    /// # Panics
    /// With [`FOREIGN_GUARD`] if `guard` was not pinned in this stack's collector.
    pub fn is_empty(&self, guard: &Guard) -> bool {
        self.check(guard);
        // ORDERING: Acquire [epoch-node-publish] — a snapshot consistent with a following `pop`.
        self.head.load(Ordering::Acquire, guard).is_null()
    }
}

impl<T> Drop for TreiberStack<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can access the stack, so no guard is needed and
        // the nodes can be freed at once (what crossbeam's own `Drop` impls do).
        unsafe {
            let guard = epoch::unprotected();
            // ORDERING: Relaxed [drop] — exclusive access; nothing to synchronize with.
            let mut node: Shared<'_, Node<T>> = self.head.load(Ordering::Relaxed, guard);
            while let Some(n) = node.as_ref() {
                // ORDERING: Relaxed [drop] — as above.
                let next = n.next.load(Ordering::Relaxed, guard);
                let mut owned = node.into_owned();
                ManuallyDrop::drop(&mut owned.value);
                drop(owned);
                node = next;
            }
        }
    }
}
