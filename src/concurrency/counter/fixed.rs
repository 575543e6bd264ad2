// FIX: an increment is one atomic read-modify-write, and a CAS retry recomputes its new value.
use super::sync::{AtomicU64, Ordering};

/// A shared event counter that many threads increment.
#[derive(Debug, Default)]
pub struct Counter {
    /// The count, in `0..=u64::MAX`; only ever increases. It guards no other memory.
    value: AtomicU64,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self {
            value: AtomicU64::new(0),
        }
    }

    /// Adds one.
    pub fn increment(&self) {
        // FIX: read and write are one atomic step: no other increment can land between them.
        // ORDERING: Relaxed [count] — the count publishes no other memory; only atomicity matters.
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds one with an explicit compare-and-swap loop; returns how many CAS attempts failed
    /// (the retries: each one is an increment by another thread that landed in between).
    pub fn increment_cas(&self) -> u64 {
        let mut retries = 0;
        // ORDERING: Relaxed [count] — the first guess; a stale value only costs a retry.
        let mut current = self.value.load(Ordering::Relaxed);
        loop {
            // FIX: the new value is computed from the value this CAS compares against.
            let next = current + 1;
            // ORDERING: Relaxed/Relaxed [count] — success publishes nothing; failure only reloads.
            match self
                .value
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return retries,
                Err(actual) => {
                    retries += 1;
                    current = actual;
                }
            }
        }
    }

    /// Names the count for the checkers' trace (`count`). Nothing on real cores.
    pub fn name_locations(&self) {
        super::sync::name_location(&self.value, || "count".into(), None);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        // ORDERING: Relaxed [count] — callers join the incrementing threads first.
        self.value.load(Ordering::Relaxed)
    }
}
