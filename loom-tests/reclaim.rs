//! Model tests for the RCU-style reclaimer (feature `epoch`): every fixed test has a broken twin
//! running the same scenario (`reclaim::scenario::read_during_update`).
//!
//! | variant  | loom   | shuttle                                  |
//! |----------|--------|------------------------------------------|
//! | broken   | caught | caught (PCT and random)                  |
//! | acqrel   | caught | **missed**: shuttle models atomics as SeqCst (test below says so) |
//! | fixed    | passes | passes                                   |
//!
//! The crossbeam-epoch cell is tested on real threads and under shuttle with an explicit
//! `Collector` per iteration (passed to `EpochCell::with_collector`), never under loom: crossbeam-epoch under loom needs the build-wide
//! `--cfg crossbeam_loom` plus its `loom` feature, a second build that the README's single
//! `cargo test --all-features` cannot run; without it loom reports a false causality violation
//! (README: "What each checker can and cannot see"). The hand-written cell is what loom verifies.
#![cfg(feature = "epoch")]

use lockfree_lab::check::{self, Report};
use lockfree_lab::reclaim::{loom as lm, shuttle as sh};

const BOUND: Option<usize> = Some(3);
const ITERATIONS: usize = 2_000;

/// loom reports the poisoning write itself, concurrent with the reader's access (`currently
/// reading from cell` while the reader is inside `with`, else `Causality violation`); shuttle's
/// cell check reports the write while the reader is inside `with` (`data race`), or the reader
/// reads the poison (`use after free`).
fn assert_use_after_free(report: &Report) {
    assert!(
        report.found("currently reading from cell")
            || report.found("Causality violation")
            || report.found("data race")
            || report.found("use after free"),
        "expected a use after free, but:\n{report}"
    );
}

// ---- loom ----

#[test]
fn loom_broken_immediate_free_found() {
    let report = check::loom(BOUND, || lm::scenario::read_during_update(lm::broken::new));
    assert_use_after_free(&report);
    println!("{report}");
}

#[test]
fn loom_acqrel_grace_period_store_buffering_found() {
    let report = check::loom(BOUND, || lm::scenario::read_during_update(lm::acqrel::new));
    assert_use_after_free(&report);
    println!("{report}");
}

#[test]
fn loom_fixed_grace_period_passes_in_few_executions() {
    let report = check::loom(BOUND, || lm::scenario::read_during_update(lm::fixed::new));
    report.assert_passed();
    println!("{report}");
    assert!(report.executions > 1 && report.executions < 1_000, "{report}");
}

#[test]
fn loom_fixed_grace_period_passes_unbounded() {
    check::loom(None, || lm::scenario::read_during_update(lm::fixed::new)).assert_passed();
}

// ---- shuttle ----

#[test]
fn shuttle_pct_broken_immediate_free_found() {
    let report = check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::broken::new)
    });
    assert_use_after_free(&report);
    println!("{report}");
}

#[test]
fn shuttle_random_broken_immediate_free_found() {
    let report = check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::broken::new)
    });
    assert_use_after_free(&report);
    println!("{report}");
}

/// The blind spot: the Acquire/Release-only grace period is broken (loom finds it:
/// `loom_acqrel_grace_period_store_buffering_found`), but shuttle runs every atomic as SeqCst,
/// where store buffering cannot happen, so no schedule shows it. This test pins shuttle's
/// *false pass*; never use shuttle alone to validate orderings.
#[test]
fn shuttle_misses_the_acqrel_store_buffering_bug() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::acqrel::new)
    })
    .assert_passed();
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::acqrel::new)
    })
    .assert_passed();
}

#[test]
fn shuttle_pct_fixed_grace_period_passes() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::fixed::new)
    })
    .assert_passed();
}

#[test]
fn shuttle_random_fixed_grace_period_passes() {
    check::shuttle_random(ITERATIONS, check::DEFAULT_SEED, || {
        sh::scenario::read_during_update(sh::fixed::new)
    })
    .assert_passed();
}

// ---- one announcement per Reader: several readers, nested reads ----

/// Three model threads (two readers, the writer): preemption bound 2 (CHECKERS.md).
const BOUND_3_THREADS: Option<usize> = Some(2);

#[test]
fn loom_broken_two_readers_found() {
    let report = check::loom(BOUND_3_THREADS, || {
        lm::scenario::two_readers_during_update(lm::broken::new)
    });
    assert_use_after_free(&report);
}

#[test]
fn loom_fixed_two_readers_each_with_its_own_announcement_pass() {
    let report = check::loom(BOUND_3_THREADS, || {
        lm::scenario::two_readers_during_update(lm::fixed::new)
    });
    report.assert_passed();
    println!("{report}");
}

#[test]
fn shuttle_pct_broken_two_readers_found() {
    let report = check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_readers_during_update(sh::broken::new)
    });
    assert_use_after_free(&report);
}

#[test]
fn shuttle_pct_fixed_two_readers_pass() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::two_readers_during_update(sh::fixed::new)
    })
    .assert_passed();
}

#[test]
fn loom_broken_nested_read_found() {
    let report = check::loom(BOUND, || lm::scenario::nested_read_during_update(lm::broken::new));
    assert_use_after_free(&report);
}

#[test]
fn loom_fixed_nested_read_keeps_the_outer_section_open() {
    let report = check::loom(BOUND, || lm::scenario::nested_read_during_update(lm::fixed::new));
    report.assert_passed();
    println!("{report}");
}

#[test]
fn shuttle_pct_fixed_nested_read_passes() {
    check::shuttle_pct(ITERATIONS, 2, check::DEFAULT_SEED, || {
        sh::scenario::nested_read_during_update(sh::fixed::new)
    })
    .assert_passed();
}

// ---- the hand-written cell's read-side sections: panics, and update() inside read() ----

mod sections {
    use lockfree_lab::check;
    use lockfree_lab::reclaim::{loom as lm, real, shuttle as sh, UPDATE_INSIDE_READ};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on its own thread and returns its result, re-raising its panic; panics with
    /// `timed out: {what}` if it has not finished after 10 s (a hung `update` spins forever: the
    /// thread is left behind, but the test fails instead of hanging).
    fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(f)));
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(out)) => out,
            Ok(Err(payload)) => panic::resume_unwind(payload),
            Err(_) => panic!("timed out: {what}"),
        }
    }

    /// A reader closure that panics still leaves its read-side section: the next `update` does
    /// not wait for it forever.
    #[test]
    fn real_update_completes_after_a_reader_panicked() {
        let (mut writer, reader) = real::fixed::new(1);
        let reader = within_deadline("the panicking read", move || {
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                reader.read(|_| -> u64 { panic!("the reader's closure panics") })
            }));
            assert!(caught.is_err(), "the reader's panic propagates");
            reader
        });
        within_deadline(
            "update() after a reader panicked still waits for that reader",
            move || {
                writer.update(2);
            },
        );
        assert_eq!(reader.read(|v| *v), 2, "the update is visible");
    }

    /// A reader may clone its `Reader` (registering a new announcement) inside a read-side
    /// section while the writer is waiting for that very section: the writer waits without
    /// holding the registry's lock, so the clone does not deadlock with it.
    #[test]
    fn real_clone_inside_a_section_while_the_writer_waits() {
        let (mut writer, reader) = real::fixed::new(1);
        let (entered, wait_for_entry) = mpsc::channel();
        let updater = std::thread::spawn(move || {
            wait_for_entry.recv().unwrap();
            writer.update(2);
            writer
        });
        let (reader, clone) = within_deadline("clone() inside read() while update() waits", move || {
            let clone = reader.read(|v| {
                entered.send(()).unwrap();
                // Give the writer time to reach its wait for this section.
                std::thread::sleep(Duration::from_millis(50));
                let clone = reader.clone();
                assert_eq!(*v, 1, "the section's version is still valid");
                clone
            });
            (reader, clone)
        });
        let mut writer = within_deadline("the update, once the section ended", move || updater.join().unwrap());
        assert_eq!(
            clone.read(|v| *v),
            2,
            "after the grace period, the clone reads the update"
        );
        writer.update(3);
        assert_eq!(reader.read(|v| *v), 3);
        drop(clone);
        writer.update(4);
        assert_eq!(
            reader.read(|v| *v),
            4,
            "a dropped clone's announcement no longer counts"
        );
    }

    /// RCU's rule: no grace period inside a read-side section. `update` inside `read` of the
    /// same cell on the same thread panics instead of waiting for itself forever.
    #[test]
    #[should_panic(expected = "rcu: update() called inside read() on the same thread would wait for itself forever")]
    fn real_update_inside_read_on_the_same_thread_panics() {
        within_deadline("update() inside read() on the same thread", || {
            let (mut writer, reader) = real::fixed::new(1);
            reader.read(|_| writer.update(2));
        });
    }

    /// The check is per cell: updating another cell inside a read is no self-wait, and a read
    /// nested in a read of the same cell is fine. After the section, `update` works again.
    #[test]
    fn real_update_of_another_cell_inside_read_is_allowed() {
        within_deadline("update() of another cell inside read()", || {
            let (mut w1, r1) = real::fixed::new(1);
            let (mut w2, r2) = real::fixed::new(10);
            let nested = r1.read(|a| {
                w2.update(20);
                r1.read(|b| *a + *b) + r2.read(|c| *c)
            });
            assert_eq!(nested, 22);
            w1.update(2);
            assert_eq!(r1.read(|v| *v), 2);
        });
    }

    /// Opens one section through each of `readers` clones, nested, then updates; returns how many
    /// sections were open at the innermost point.
    fn nested_sections_through_clones(readers: usize) -> usize {
        let (mut writer, reader) = real::fixed::new(1);
        let clones: Vec<_> = (0..readers).map(|_| reader.clone()).collect();
        fn nest(readers: &[real::fixed::Reader]) -> usize {
            match readers.split_first() {
                None => 0,
                Some((r, rest)) => r.read(|_| 1 + nest(rest)),
            }
        }
        let open = nest(&clones);
        // Every section was left (or never announced): the grace period does not wait forever.
        writer.update(2);
        assert_eq!(reader.read(|v| *v), 2);
        open
    }

    /// A thread may hold `MAX_OPEN` sections (32) at once, through different readers...
    #[test]
    fn real_thirty_two_nested_sections_through_clones_are_allowed() {
        within_deadline("32 nested sections", || {
            assert_eq!(nested_sections_through_clones(32), 32)
        });
    }

    /// ...and the 33rd `read` panics before it announces anything: the writer is not stuck.
    #[test]
    fn real_a_thirty_third_nested_section_panics_and_the_writer_still_updates() {
        within_deadline("33 nested sections", || {
            let caught = std::panic::catch_unwind(|| nested_sections_through_clones(33));
            let message = caught.expect_err("a 33rd open section must panic");
            let message = message
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| message.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            assert!(message.contains(lockfree_lab::reclaim::TOO_MANY_SECTIONS), "{message}");
            // This thread's list emptied as the panic unwound the 32 sections.
            assert_eq!(nested_sections_through_clones(32), 32);
        });
    }

    /// A reader's nested reads of its own cell take one place in the list, however deep.
    #[test]
    fn real_nested_reads_of_one_reader_count_once() {
        within_deadline("deep nesting on one reader", || {
            let (mut writer, reader) = real::fixed::new(5);
            fn deep(r: &real::fixed::Reader, n: usize) -> u64 {
                if n == 0 {
                    0
                } else {
                    r.read(|v| *v + deep(r, n - 1))
                }
            }
            assert_eq!(deep(&reader, 100), 500);
            writer.update(6);
            assert_eq!(reader.read(|v| *v), 6);
        });
    }

    /// The same check under the checkers, where model threads share one OS thread: it fires for
    /// the thread inside the read (each model thread has its own list)...
    fn update_inside_read_on_one_model_thread<W: lockfree_lab::reclaim::Update, R: lockfree_lab::reclaim::Read>(
        make: fn(u64) -> (W, R),
    ) {
        let (mut writer, reader) = make(1);
        reader.read(|_| writer.update(2));
    }

    #[test]
    fn loom_update_inside_read_on_the_same_thread_panics() {
        check::loom(super::BOUND, || update_inside_read_on_one_model_thread(lm::fixed::new))
            .assert_found(UPDATE_INSIDE_READ);
    }

    #[test]
    fn shuttle_update_inside_read_on_the_same_thread_panics() {
        check::shuttle_random(10, check::DEFAULT_SEED, || {
            update_inside_read_on_one_model_thread(sh::fixed::new)
        })
        .assert_found(UPDATE_INSIDE_READ);
    }
    // ...and not for another model thread updating while a reader is inside its section: that is
    // `read_during_update`, which the fixed tests above (loom and shuttle) pass.
}

// ---- the crossbeam-epoch cell: real threads and shuttle (explicit Collector per iteration) ----

mod epoch_cell {
    use crossbeam_epoch::Collector;
    use lockfree_lab::check;
    use lockfree_lab::reclaim::epoch_cell::EpochCell;
    use std::sync::Arc;

    /// Flushes `collector`'s garbage until `cell` has reclaimed `target` versions (or gives up).
    fn flush_until(collector: &Collector, cell: &EpochCell, target: usize) {
        let handle = collector.register();
        for _ in 0..10_000 {
            if cell.reclaimed() >= target {
                return;
            }
            handle.pin().flush();
        }
    }

    /// The reader pins, works a while, reads; the writer publishes twice, flushing its garbage.
    /// The version the reader holds must never be reclaimed while it is pinned.
    fn read_during_updates() {
        use shuttle::thread;
        let collector = Collector::new();
        let cell = Arc::new(EpochCell::with_collector(1, &collector));
        let reader = {
            let (cell, collector) = (Arc::clone(&cell), collector.clone());
            thread::spawn(move || {
                let handle = collector.register();
                let guard = handle.pin();
                let version = cell.read(&guard);
                thread::yield_now();
                let value = version.value;
                thread::yield_now();
                assert!(
                    !cell.is_reclaimed(value),
                    "use after free: version {value} reclaimed while pinned"
                );
                value
            })
        };
        let writer = {
            let (cell, collector) = (Arc::clone(&cell), collector.clone());
            thread::spawn(move || {
                let handle = collector.register();
                for v in [2, 3] {
                    let guard = handle.pin();
                    cell.update(v, &guard);
                    guard.flush();
                    drop(guard);
                    thread::yield_now();
                }
            })
        };
        let read = reader.join().unwrap();
        writer.join().unwrap();
        assert!((1..=3).contains(&read), "wrong version {read}");
        flush_until(&collector, &cell, 2);
        assert_eq!(
            cell.reclaimed(),
            2,
            "every retired version is reclaimed once no one is pinned"
        );
    }

    #[test]
    fn shuttle_pct_epoch_cell_never_frees_a_pinned_version() {
        let report = check::shuttle_pct(super::ITERATIONS, 2, check::DEFAULT_SEED, read_during_updates);
        report.assert_passed();
        println!("{report}");
    }

    #[test]
    fn shuttle_random_epoch_cell_never_frees_a_pinned_version() {
        check::shuttle_random(super::ITERATIONS, check::DEFAULT_SEED, read_during_updates).assert_passed();
    }

    #[test]
    fn real_threads_epoch_cell_readers_never_see_a_reclaimed_version() {
        const UPDATES: u64 = 5_000;
        let collector = Collector::new();
        let cell = EpochCell::with_collector(0, &collector);
        lockfree_lab::hw::run_threads(2, lockfree_lab::hw::Pin::Spread, |t| {
            let handle = collector.register();
            if t == 0 {
                for v in 1..=UPDATES {
                    cell.update(v, &handle.pin());
                }
            } else {
                for _ in 0..UPDATES {
                    let guard = handle.pin();
                    let version = cell.read(&guard);
                    let value = version.value;
                    assert!(!cell.is_reclaimed(value), "use after free: version {value}");
                }
            }
        });
        flush_until(&collector, &cell, UPDATES as usize);
        assert_eq!(cell.retired(), UPDATES as usize);
        assert_eq!(cell.reclaimed(), UPDATES as usize);
    }

    /// The default collector's path: `EpochCell::new` with `crossbeam_epoch::pin()` guards.
    #[test]
    fn default_collector_cell_reads_its_updates() {
        let cell = EpochCell::new(1);
        assert_eq!(cell.read(&crossbeam_epoch::pin()).value, 1);
        cell.update(2, &crossbeam_epoch::pin());
        let guard = crossbeam_epoch::pin();
        assert_eq!(cell.read(&guard).value, 2);
        assert_eq!(cell.retired(), 1);
    }

    /// A guard protects only against its own collector's garbage. Here a reader pinned in A
    /// holds version 1 while the writer retires it into B and flushes B, where nobody is pinned:
    /// B would free version 1 under the reader. The cell refuses B's guard at the update.
    #[test]
    #[should_panic(expected = "epoch: the guard was not pinned in this cell's Collector")]
    fn a_guard_from_another_collector_is_refused_by_update() {
        let (a, b) = (Collector::new(), Collector::new());
        let cell = EpochCell::with_collector(1, &a);
        let reader = a.register();
        let pinned = reader.pin();
        let _version = cell.read(&pinned);
        let writer = b.register();
        cell.update(2, &writer.pin());
        for _ in 0..1_000 {
            writer.pin().flush();
        }
        assert!(
            !cell.is_reclaimed(1),
            "use after free: version 1 was freed by collector B while a reader pinned in A holds it"
        );
    }

    /// A read under another collector's guard is not protected from the cell's collector.
    #[test]
    #[should_panic(expected = "epoch: the guard was not pinned in this cell's Collector")]
    fn a_guard_from_another_collector_is_refused_by_read() {
        let cell = EpochCell::with_collector(1, &Collector::new());
        let other = Collector::new().register();
        let _ = cell.read(&other.pin()).value;
    }

    /// The default collector's guard is "another collector" for a cell with its own.
    #[test]
    #[should_panic(expected = "epoch: the guard was not pinned in this cell's Collector")]
    fn the_default_collectors_guard_is_refused_by_a_cell_with_its_own() {
        let cell = EpochCell::with_collector(1, &Collector::new());
        cell.update(2, &crossbeam_epoch::pin());
    }

    /// A long-held reader stalls reclamation (crossbeam issues #566 and #540: memory grows while
    /// a guard is held): while one reader stays pinned, none of the versions retired after it
    /// pinned is freed however often the writer flushes; once it unpins, they all are.
    #[test]
    fn long_held_reader_stalls_reclamation_until_it_unpins() {
        // Miri interprets every epoch operation: 100 updates show the same thing in seconds.
        let updates = if cfg!(miri) { 100 } else { 1_000 };
        let run = lockfree_lab::reclaim::epoch_cell::long_reader(updates);
        println!("{run}");
        assert_eq!(run.retired_while_pinned, updates);
        assert_eq!(run.reclaimed_while_pinned, 0, "{run}");
        assert_eq!(run.reclaimed_after_unpin, updates, "{run}");
    }
}
