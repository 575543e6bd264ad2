// The MESI model scenarios: every cache (core) runs on its own model thread; the main thread only
// builds the bus and joins. Each panics with a pinned reason: `stale read:` when a read returns
// something other than the last write, `SWMR violated:` when a transaction leaves a writer beside
// another copy.
use super::sync::{thread, Arc};
use crate::cpu::mesi::{check_swmr, Coherent, Read, Write};

/// Panics with `stale read: …` unless `read` returned the last write.
pub fn assert_fresh(read: &Read) {
    if let Some(why) = read.stale() {
        panic!("stale read: {why}");
    }
}

/// Panics with `SWMR violated: …` if the states a transaction left break single-writer/multiple-reader.
pub fn assert_swmr(states: &[crate::cpu::mesi::State], after: &str) {
    if let Err(why) = check_swmr(states) {
        panic!("SWMR violated: after {after}: {why}");
    }
}

/// One core's program, run on its own thread.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Load the line; the value must be the last write.
    Read,
    /// Store this value.
    Write(u64),
}

/// Runs `programs[c]` on core `c`, each core on its own model thread, checking every read against
/// the last write and, when `swmr`, the states after every transaction.
pub fn run<B: Coherent>(programs: &'static [&'static [Op]], swmr: bool) {
    let bus = Arc::new(B::new(programs.len()));
    let handles: Vec<_> = programs
        .iter()
        .enumerate()
        .map(|(core, program)| {
            let bus = Arc::clone(&bus);
            thread::spawn(move || {
                for op in program.iter() {
                    match *op {
                        Op::Read => {
                            let read = bus.read(core);
                            if swmr {
                                assert_swmr(&read.states, &read.to_string());
                            }
                            assert_fresh(&read);
                        }
                        Op::Write(v) => {
                            let write: Write = bus.write(core, v);
                            if swmr {
                                assert_swmr(&write.states, &write.to_string());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// The seed's scene, two cores: A reads then writes 1; B reads twice. The bug needs A's write to
/// hit in S (B read first) and B's second read to come after it: B then hits its stale S copy.
pub const WRITE_AFTER_SHARE: &[&[Op]] = &[&[Op::Read, Op::Write(1)], &[Op::Read, Op::Read]];

/// Two writers: A reads then writes 1, B reads then writes 2, then each reads once more. With both
/// lines Shared, the broken protocol lets both writes hit silently: two Modified copies.
pub const TWO_WRITERS: &[&[Op]] = &[&[Op::Read, Op::Write(1), Op::Read], &[Op::Read, Op::Write(2), Op::Read]];

/// Three cores: A reads then writes 1; B and C read twice (a write must invalidate *every* copy).
pub const THREE_CORES: &[&[Op]] = &[&[Op::Read, Op::Write(1)], &[Op::Read, Op::Read], &[Op::Read, Op::Read]];

/// [`WRITE_AFTER_SHARE`]: every read must return the last write.
pub fn write_after_share<B: Coherent>() {
    run::<B>(WRITE_AFTER_SHARE, false);
}

/// [`WRITE_AFTER_SHARE`], checking the single-writer/multiple-reader invariant after every step.
pub fn write_after_share_swmr<B: Coherent>() {
    run::<B>(WRITE_AFTER_SHARE, true);
}

/// [`TWO_WRITERS`]: every read must return the last write.
pub fn two_writers<B: Coherent>() {
    run::<B>(TWO_WRITERS, false);
}

/// [`THREE_CORES`]: every read must return the last write.
pub fn three_cores<B: Coherent>() {
    run::<B>(THREE_CORES, false);
}
