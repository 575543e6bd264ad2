// The reclaimer's model scenario: the reader and the writer each on their own thread; the main
// thread only builds the cell, joins and checks.
use super::sync::thread;
use crate::reclaim::{Read, Update, POISON};

/// The cell holds version 1. A reader enters a read-side section, works a while (a yield: a
/// scheduling point for shuttle) and reads the version, while the writer publishes version 2
/// and reclaims version 1. The read must return 1 or 2: reading a reclaimed slot panics with
/// `use after free` (shuttle sees the poison), or loom reports the poisoning write concurrent
/// with the read as a `Causality violation`.
pub fn read_during_update<W: Update, R: Read>(make: fn(u64) -> (W, R)) {
    let (mut writer, reader) = make(1);
    let reader = thread::spawn(move || {
        reader.read(|version| {
            thread::yield_now();
            *version
        })
    });
    let writer = thread::spawn(move || writer.update(2));
    let read = reader.join().unwrap();
    writer.join().unwrap();
    assert_ne!(
        read, POISON,
        "use after free: the reader's version was reclaimed under it"
    );
    assert!(read == 1 || read == 2, "wrong version: the reader read {read}");
}
