// The model scenarios: the same code runs under loom, under shuttle and on real threads.
use super::sync::{thread, Arc};
use crate::counter::Count;

/// Two threads each increment once; afterwards the count must be 2.
/// Panics with `lost update` when an increment vanished.
pub fn two_increments<C: Count>(use_cas: bool) -> u64 {
    let counter = Arc::new(C::default());
    counter.name_locations();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                if use_cas {
                    counter.increment_cas()
                } else {
                    counter.increment_once()
                }
            })
        })
        .collect();
    let retries: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let total = counter.get();
    assert_eq!(total, 2, "lost update: two increments, but the counter reads {total}");
    retries
}
