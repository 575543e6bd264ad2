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

/// Two readers of one cell, each on its own thread with its own `Reader` (a clone: its own
/// announcement), while the writer publishes version 2 and reclaims version 1: the writer must
/// wait for *every* reader it sees inside a section, not only the first.
pub fn two_readers_during_update<W: Update, R: Read + Clone>(make: fn(u64) -> (W, R)) {
    let (mut writer, first) = make(1);
    let second = first.clone();
    let readers = [first, second].map(|reader| {
        thread::spawn(move || {
            reader.read(|version| {
                thread::yield_now();
                *version
            })
        })
    });
    let writer = thread::spawn(move || writer.update(2));
    for reader in readers {
        let read = reader.join().unwrap();
        assert_ne!(
            read, POISON,
            "use after free: a reader's version was reclaimed under it"
        );
        assert!(read == 1 || read == 2, "wrong version: a reader read {read}");
    }
    writer.join().unwrap();
}

/// A reader nests a second `read` of the same `Reader` inside its section and keeps using the
/// outer version after the inner section ends, while the writer publishes version 2: the inner
/// section's end must not end the outer one (only the outermost `read` retracts the announcement).
pub fn nested_read_during_update<W: Update, R: Read>(make: fn(u64) -> (W, R)) {
    let (mut writer, reader) = make(1);
    let reader = thread::spawn(move || {
        reader.read(|outer| {
            let inner = reader.read(|inner| *inner);
            thread::yield_now();
            (*outer, inner)
        })
    });
    let writer = thread::spawn(move || writer.update(2));
    let (outer, inner) = reader.join().unwrap();
    writer.join().unwrap();
    for read in [outer, inner] {
        assert_ne!(
            read, POISON,
            "use after free: the reader's version was reclaimed under it"
        );
        assert!(read == 1 || read == 2, "wrong version: the reader read {read}");
    }
}
