//! The pointer chase both memory demos time (`cache-hierarchy` and `tlb`): a ring of pointers in
//! a random cyclic order, walked with dependent loads (`p = *p`), lmbench `lat_mem_rd`'s method.
//!
//! Each load's address is the value the previous load returned, so the loads cannot overlap and
//! the prefetchers cannot guess the next line: the time per load is the latency of wherever the
//! line lives (a cache level, DRAM) plus, when the page's translation is not in the TLB, the walk.

use std::hint::black_box;
use std::time::Instant;

/// How the kernel may back a [`Region`]: the page size is the `tlb` demo's variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// `MADV_NOHUGEPAGE`: 4 KiB pages only.
    Small,
    /// `MADV_HUGEPAGE`: 2 MiB transparent huge pages where the kernel grants them.
    Huge,
}

/// 2 MiB, the x86-64 huge page (and the alignment of every [`Region`]).
pub const HUGE: usize = 2 << 20;
/// 4 KiB, the x86-64 base page.
pub const SMALL: usize = 4 << 10;
/// One cache line: one pointer per line.
pub const LINE: usize = 64;

/// Anonymous memory from `mmap`, aligned to 2 MiB, advised as [`Pages`] says, unmapped on drop.
#[derive(Debug)]
pub struct Region {
    /// The mapping as `mmap` returned it (for `munmap`).
    map: *mut u8,
    /// Its length.
    map_len: usize,
    /// The 2 MiB-aligned start the demos use.
    base: *mut u8,
    /// Usable bytes from `base`.
    len: usize,
}

impl Region {
    /// Maps `len` bytes (rounded up to 2 MiB) advised as `pages`, or `None` if `mmap` fails.
    pub fn new(len: usize, pages: Pages) -> Option<Self> {
        let len = len.div_ceil(HUGE).max(1) * HUGE;
        let map_len = len + HUGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing; no file,
        // no existing memory is touched.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        let map = map.cast::<u8>();
        let skip = (HUGE - map as usize % HUGE) % HUGE;
        // SAFETY: `skip < HUGE` and the mapping is `len + HUGE` bytes long, so `base..base+len` is inside it.
        let base = unsafe { map.add(skip) };
        let advice = match pages {
            Pages::Small => libc::MADV_NOHUGEPAGE,
            Pages::Huge => libc::MADV_HUGEPAGE,
        };
        // SAFETY: `base..base+len` is inside our mapping and 2 MiB aligned; madvise only changes
        // how the kernel backs it. A refusal (THP compiled out) is reported later through smaps.
        unsafe { libc::madvise(base.cast(), len, advice) };
        Some(Self {
            map,
            map_len,
            base,
            len,
        })
    }

    /// The first usable byte (2 MiB aligned).
    pub fn base(&self) -> usize {
        self.base as usize
    }

    /// Usable bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never empty (at least 2 MiB); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 8-byte slot at byte `offset` from `base`.
    fn slot(&mut self, offset: usize) -> *mut usize {
        assert!(
            offset % 8 == 0 && offset + 8 <= self.len,
            "slot {offset} outside the region"
        );
        // SAFETY: checked just above: the 8 bytes at `offset` are inside the usable range.
        unsafe { self.base.add(offset).cast::<usize>() }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are exactly what mmap returned; every `Ring` borrowing this
        // region has been dropped (it borrows `&mut Region`).
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
    }
}

/// The most loads a warm-up pass takes (a full lap of a smaller ring): building the ring has
/// already brought every line of it in once.
pub const WARM_UP: u64 = 100_000;

/// Timed repetitions per point (a size, a page count), the fastest kept: short ones (2,000 loads,
/// ~0.2 ms at DRAM latency) fit between preemptions on a busy machine, and one clean repetition is
/// enough. `--fine` takes [`FINE_REPS`].
pub const REPS: usize = 25;
/// Repetitions per point with `--fine`.
pub const FINE_REPS: usize = 61;

/// A small, fast, seeded generator (SplitMix64): the shuffle needs speed, not secrecy.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the multiply-shift bias is below 2^-32 for the sizes here).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// A ring of pointers laid out in a [`Region`]: slot `i` lives at `offset(i)` and holds the
/// address of the next slot in a random cyclic order that visits every slot once. It borrows
/// the region exclusively: nothing else writes there while it exists.
#[derive(Debug)]
pub struct Ring<'r> {
    /// The ring lives in this region: it must not be unmapped while the ring exists.
    region: std::marker::PhantomData<&'r mut Region>,
    /// The region's first usable byte.
    base: usize,
    /// Slots in the cycle.
    slots: usize,
    /// The address of slot 0 (where a chase starts).
    start: usize,
}

impl<'r> Ring<'r> {
    /// Links `slots` slots, slot `i` at byte `offset(i)` of `region`, in a random single cycle.
    ///
    /// Sattolo's algorithm on the identity gives a uniformly random cyclic permutation; it is run
    /// in place (each slot first holds its successor's index, then its successor's address), so a
    /// 1 GiB ring needs no side array.
    ///
    /// # Panics
    /// If `slots` is 0 or an offset falls outside the region.
    pub fn build(region: &'r mut Region, slots: usize, offset: impl Fn(usize) -> usize, seed: u64) -> Self {
        assert!(slots > 0, "a ring needs a slot");
        for i in 0..slots {
            // SAFETY: `slot` checked the offset is inside the region; we hold the only access.
            unsafe { region.slot(offset(i)).write(i) };
        }
        let mut rng = SplitMix::new(seed);
        for i in (1..slots).rev() {
            let j = rng.below(i);
            let (a, b) = (region.slot(offset(i)), region.slot(offset(j)));
            // SAFETY: both slots are inside the region (checked) and distinct (`j < i`); the region
            // is borrowed exclusively.
            unsafe { std::ptr::swap(a, b) };
        }
        for i in 0..slots {
            let p = region.slot(offset(i));
            // SAFETY: `p` is inside the region; it holds an index `< slots` written above.
            unsafe { p.write(region.base() + offset(p.read())) };
        }
        Self {
            region: std::marker::PhantomData,
            base: region.base(),
            slots,
            start: region.base() + offset(0),
        }
    }

    /// The first usable byte of the region it lives in.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Slots in the cycle.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The address of the slot a chase starts from (a real address of the run).
    pub fn start(&self) -> usize {
        self.start
    }

    /// Follows `loads` pointers from `from` and returns where it stopped.
    pub fn chase(&self, from: usize, loads: u64) -> usize {
        // SAFETY: every slot of the ring holds the address of another slot of the same ring,
        // inside the region `self` borrows exclusively (nothing rewrote it since `build`), so every load is in bounds; `from` is a slot address
        // (`start` or a previous `chase` result).
        unsafe { chase_raw(from as *const usize, loads) as usize }
    }

    /// Nanoseconds per dependent load: `reps` timed runs of `loads` loads each after one warm-up
    /// pass (a full lap, at most [`WARM_UP`] loads or `loads` if more), the fastest run: being descheduled or interrupted only
    /// ever adds time, and a chase cannot run faster than its loads, so on a busy machine the
    /// minimum is the honest estimate.
    pub fn ns_per_load(&self, loads: u64, reps: usize) -> f64 {
        let loads = loads.max(1);
        let mut p = self.chase(self.start, (self.slots as u64).min(loads.max(WARM_UP)));
        let mut runs: Vec<f64> = (0..reps.max(1))
            .map(|_| {
                let t = Instant::now();
                p = self.chase(p, loads);
                t.elapsed().as_nanos() as f64 / loads as f64
            })
            .collect();
        black_box(p);
        runs.sort_by(f64::total_cmp);
        runs[0]
    }
}

/// The kernel: `loads` dependent loads, eight per loop trip.
///
/// # Safety
/// 1. `p` and every pointer reachable from it by `loads` dereferences are valid, aligned
///    `*const usize` that point to another such pointer.
#[inline(never)]
unsafe fn chase_raw(mut p: *const usize, loads: u64) -> *const usize {
    let mut left = loads;
    while left >= 8 {
        // SAFETY: precondition 1 — each load reads a valid pointer to the next slot.
        unsafe {
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
            p = *p as *const usize;
        }
        left -= 8;
    }
    for _ in 0..left {
        // SAFETY: precondition 1.
        p = unsafe { *p as *const usize };
    }
    black_box(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_one_cycle_through_every_slot() {
        let mut region = Region::new(1 << 20, Pages::Small).unwrap();
        for slots in [1, 2, 3, 64, 1000] {
            let ring = Ring::build(&mut region, slots, |i| i * LINE, slots as u64);
            let mut seen = vec![false; slots];
            let mut p = ring.start();
            for _ in 0..slots {
                let i = (p - ring.base()) / LINE;
                assert!(!seen[i], "slot {i} visited twice in {slots}");
                seen[i] = true;
                p = ring.chase(p, 1);
            }
            assert_eq!(p, ring.start(), "back at the start after one lap");
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn chase_really_loads_the_chain() {
        // The kernel follows the pointers: k loads land where k single steps land (a chase the
        // compiler had deleted would return `from`).
        let mut region = Region::new(1 << 20, Pages::Small).unwrap();
        let ring = Ring::build(&mut region, 777, |i| i * 4 * LINE + 8, 7);
        let mut step = ring.start();
        for k in 1..=20u64 {
            step = ring.chase(step, 1);
            assert_eq!(ring.chase(ring.start(), k), step, "after {k} loads");
        }
        assert_ne!(ring.chase(ring.start(), 13), ring.start());
        assert_eq!(ring.chase(ring.start(), 777 * 3), ring.start());
    }

    #[test]
    fn order_is_shuffled_not_sequential() {
        let mut region = Region::new(1 << 20, Pages::Small).unwrap();
        let ring = Ring::build(&mut region, 4096, |i| i * LINE, 1);
        let mut p = ring.start();
        let mut sequential = 0;
        for _ in 0..4096 {
            let q = ring.chase(p, 1);
            sequential += usize::from(q == p + LINE);
            p = q;
        }
        assert!(sequential < 50, "{sequential} of 4096 steps went to the next line");
    }

    #[test]
    fn regions_are_huge_page_aligned() {
        let r = Region::new(3 << 20, Pages::Huge).unwrap();
        assert_eq!(r.base() % HUGE, 0);
        assert_eq!(r.len(), 4 << 20);
        assert!(!r.is_empty());
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix::new(3);
        for n in 1..200 {
            assert!(rng.below(n) < n);
        }
    }
}
