//! Running algorithms on real cores: threads started together, pinned, and checked for having
//! really run in parallel.
//!
//! A hardware effect (a lost update, a store-buffering outcome, an ABA) needs two threads
//! executing *at the same instant*. On a shared machine that is not a given: with another job on
//! the second core, two threads time-share one core and the effect vanishes. [`run_threads`]
//! therefore measures each thread's CPU time against the wall-clock time of the parallel section;
//! [`Parallelism::ran_in_parallel`] says whether they overlapped, and demos print it.

mod spin;
pub use spin::{poll_until, spin_until, SpinBarrier};

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// How much the threads of one [`run_threads`] call really overlapped.
#[derive(Clone, Debug)]
pub struct Parallelism {
    /// Wall-clock time from the common start to the last thread's end.
    pub wall: Duration,
    /// CPU time each thread consumed in that section.
    pub cpu: Vec<Duration>,
}

impl Parallelism {
    /// Average CPU share of the threads: 1.0 when every thread ran the whole time on its own
    /// core; about 1/n when n threads shared one core.
    pub fn efficiency(&self) -> f64 {
        if self.cpu.is_empty() || self.wall.is_zero() {
            return 0.0;
        }
        let busy: f64 = self.cpu.iter().map(Duration::as_secs_f64).sum();
        busy / (self.wall.as_secs_f64() * self.cpu.len() as f64)
    }

    /// True when the threads ran simultaneously for (almost) the whole section.
    pub fn ran_in_parallel(&self) -> bool {
        self.cpu.len() <= available_cores() && self.efficiency() >= 0.75
    }

    /// One line for a demo's output.
    pub fn verdict(&self) -> String {
        let pct = self.efficiency() * 100.0;
        if pct > 105.0 {
            // More CPU than wall time: the section was shorter than the CPU clocks' resolution.
            format!(
                "parallelism: not measurable — the run took {:?}, too short for the threads' CPU clocks (use more \
                 --iterations)",
                self.wall
            )
        } else if self.cpu.len() > available_cores() {
            format!(
                "parallelism: {} threads on {} cores: they time-shared (CPU share {pct:.0}%)",
                self.cpu.len(),
                available_cores()
            )
        } else if self.ran_in_parallel() {
            format!("parallelism: yes — each thread was on a CPU {pct:.0}% of the run")
        } else {
            format!(
                "parallelism: NO — each thread was on a CPU only {pct:.0}% of the run; another job is using \
                 the cores, so hardware effects may not show (rerun on a quiet machine)"
            )
        }
    }
}

/// The number of cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time consumed so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_THREAD_CPUTIME_ID is supported by
    // Linux; the call only writes `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `work(i)` on `threads` OS threads released together by a barrier, thread `i` pinned to
/// core `i % cores` when `pin` is set (`same_core` pins them all to the first core instead: the
/// control for a cache-line effect). Returns each thread's result and the measured parallelism.
pub fn run_threads<R: Send>(threads: usize, pin: Pin, work: impl Fn(usize) -> R + Sync) -> (Vec<R>, Parallelism) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let barrier = Barrier::new(threads + 1);
    let (results, cpu, wall) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, work, cores) = (&barrier, &work, &cores);
                s.spawn(move || {
                    pin_current(pin, i, cores);
                    barrier.wait();
                    let cpu0 = thread_cpu_time();
                    let r = work(i);
                    (r, thread_cpu_time() - cpu0)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut results = Vec::with_capacity(threads);
        let mut cpu = Vec::with_capacity(threads);
        for h in handles {
            let (r, c) = h.join().expect("a worker thread panicked");
            results.push(r);
            cpu.push(c);
        }
        (results, cpu, start.elapsed())
    });
    (results, Parallelism { wall, cpu })
}

/// Pins the calling thread, thread `index` of a group, as `pin` says (`cores` from
/// `core_affinity::get_core_ids`).
pub fn pin_current(pin: Pin, index: usize, cores: &[core_affinity::CoreId]) {
    let core = match pin {
        Pin::None => None,
        Pin::Spread => cores.get(index % cores.len().max(1)),
        Pin::SameCore => cores.first(),
    };
    if let Some(core) = core {
        core_affinity::set_for_current(*core);
    }
}

/// Where [`run_threads`] puts its threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// Wherever the OS scheduler likes.
    None,
    /// Thread `i` on core `i % cores`.
    Spread,
    /// Every thread on the first core (a control: no two threads ever run at once).
    SameCore,
}

/// The honest line for what x86-64 cannot show.
pub const X86_TSO_NOTE: &str = "x86-64 is TSO: stores become visible in program order and loads are not reordered \
with older loads, so Relaxed message passing cannot go wrong on this CPU (only the compiler could reorder it; \
ARM and POWER show it). loom shows the bug: cargo test --test model litmus::loom_mp_relaxed_stale_read_found";
