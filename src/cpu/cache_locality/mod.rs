//! # Cache locality: the same additions, in a different order
//!
//! One array of `u64`s is summed three times with the *same* kernel ([`sum_in_order`]: a loop
//! over an index array, `sum += data[order[k]]`); only the order differs:
//!
//! | order       | what the memory system sees                                            |
//! |-------------|------------------------------------------------------------------------|
//! | sequential  | every 64-byte line serves 8 elements; the prefetcher streams ahead      |
//! | stride S    | `0, S, 2S, …` then `1, S+1, …`: one element per line (S ≥ 8), each line fetched again on every pass over the starts once the array outgrows the caches |
//! | shuffled    | a random permutation: almost every access a new line, often a new page  |
//!
//! Every order is a permutation of `0..n`, so the three sums must be equal (the run checks it,
//! and the sum is fed to `black_box`, so the compiler cannot drop the loads). A matrix is then
//! traversed row-major (contiguous) and column-major (a stride of one row per access) with the
//! natural two-loop code ([`sum_row_major`], [`sum_col_major`]); there the contiguous walk may
//! also be vectorised, which is part of why row-major wins in real code. The curve is time per
//! element against the stride, on a log axis, with the line size sysfs reports marked.
//!
//! ## What this machine cannot show, and the model that stands in
//! The seed colours each access hit or miss. This VM has no hardware cache counters (`perf`
//! reports cache misses "not supported"), so no miss here is counted. The hit/miss grid and the
//! "L1d misses (model)" column come from [`model::LruCache`], a set-associative LRU cache fed the
//! very order that was timed, with the L1d geometry sysfs reports
//! (`/sys/devices/system/cpu/cpu0/cache/index*`). It has no prefetcher, no L2/L3, no other
//! tenants: it says which accesses *must* miss in a cache that size, not what the hardware did.
//!
//! ## Anchor
//! Drepper, "What every programmer should know about memory" (2007), §3.3 and §6.2: sequential
//! and random walks over growing working sets, and a matrix multiply with the second matrix
//! transposed that needs 23.4 % of the naive version's cycles (Table 6.2).

pub mod demo;
pub mod model;

use std::hint::black_box;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes per element: the seed's grid has 8 elements to a 64-byte line.
pub const ELEM: u64 = std::mem::size_of::<u64>() as u64;

/// The order in which the array is visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `0, 1, 2, …`.
    Sequential,
    /// `0, s, 2s, …, 1, s+1, …`: every element once, `s` elements apart.
    Strided(usize),
    /// A random permutation drawn from this seed.
    Shuffled(u64),
}

/// splitmix64: a small, fast, seedable generator (Steele, Lea & Flood, OOPSLA 2014).
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0; the bias is below 2^-32 for the sizes used here).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// The visiting order of `n` elements: always a permutation of `0..n`.
///
/// # Panics
/// When `n` does not fit in a `u32` (the demo bounds it far below).
pub fn order(kind: Order, n: usize) -> Vec<u32> {
    assert!(u32::try_from(n).is_ok(), "at most 2^32 elements");
    match kind {
        Order::Sequential => (0..n as u32).collect(),
        Order::Strided(s) => {
            let s = s.max(1);
            (0..s.min(n))
                .flat_map(|start| (start..n).step_by(s))
                .map(|i| i as u32)
                .collect()
        }
        Order::Shuffled(seed) => {
            // Fisher–Yates, "inside-out": element i lands at a random j ≤ i, moving j's to the end.
            let mut v: Vec<u32> = Vec::with_capacity(n);
            let mut rng = SplitMix(seed);
            for i in 0..n as u32 {
                let j = rng.below(u64::from(i) + 1) as usize;
                if j == v.len() {
                    v.push(i);
                } else {
                    v.push(v[j]);
                    v[j] = i;
                }
            }
            v
        }
    }
}

/// Sums `data` in the order `order` gives: the one kernel every order is timed with.
#[inline(never)]
pub fn sum_in_order(data: &[u64], order: &[u32]) -> u64 {
    let mut sum = 0u64;
    for &i in order {
        sum = sum.wrapping_add(data[i as usize]);
    }
    sum
}

/// Sums rows `rows` of a `side × side` row-major matrix, row by row (contiguous).
#[inline(never)]
pub fn sum_row_major(m: &[u64], side: usize, rows: Range<usize>) -> u64 {
    let mut sum = 0u64;
    for r in rows {
        for c in 0..side {
            sum = sum.wrapping_add(m[r * side + c]);
        }
    }
    sum
}

/// Sums columns `cols` of the same matrix, column by column (one row, `side × 8` bytes, between
/// accesses).
#[inline(never)]
pub fn sum_col_major(m: &[u64], side: usize, cols: Range<usize>) -> u64 {
    let mut sum = 0u64;
    for c in cols {
        for r in 0..side {
            sum = sum.wrapping_add(m[r * side + c]);
        }
    }
    sum
}

/// Times a walk split into `chunks` pieces (`f(c)` runs piece `c`), `reps` times over, and returns
/// the sum over pieces of each piece's fastest time, and the wrapping sum of one walk's values.
///
/// On a shared machine a whole walk of tens of milliseconds is almost always interrupted; a piece
/// of ~0.1 ms usually is not, so the best time of each piece is the undisturbed cost.
pub fn best_chunked(reps: u32, chunks: usize, mut f: impl FnMut(usize) -> u64) -> (Duration, u64) {
    let mut best = vec![Duration::MAX; chunks];
    let mut value = 0u64;
    for _ in 0..reps.max(1) {
        value = 0;
        for (c, b) in best.iter_mut().enumerate() {
            let t = Instant::now();
            value = value.wrapping_add(black_box(f(c)));
            *b = (*b).min(t.elapsed());
        }
    }
    (best.iter().sum(), value)
}

/// Accesses per timed piece of an ordered walk (see [`best_chunked`]).
pub const CHUNK: usize = 1 << 14;

/// Sums `data` in `order`, timed piece by piece: the best time of the walk and its sum.
pub fn time_order(reps: u32, data: &[u64], order: &[u32]) -> (Duration, u64) {
    let pieces: Vec<&[u32]> = order.chunks(CHUNK).collect();
    best_chunked(reps, pieces.len(), |c| sum_in_order(data, black_box(pieces[c])))
}

/// One data or unified cache as sysfs describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheInfo {
    /// 1, 2, 3.
    pub level: u32,
    /// `Data`, `Instruction`, `Unified`.
    pub kind: String,
    /// Bytes.
    pub size: u64,
    /// Associativity.
    pub ways: u64,
    /// Line size in bytes.
    pub line: u64,
}

impl CacheInfo {
    /// Sets: size / (ways × line).
    pub fn sets(&self) -> u64 {
        self.size / (self.ways * self.line).max(1)
    }
}

/// `48K`, `2048K`, `32M`, `1024` → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.trim().parse::<u64>().ok().map(|n| n * mult)
}

/// The caches of cpu0 as `root/sys/devices/system/cpu/cpu0/cache/index*` lists them (`root` is
/// `/` on a real machine, a temporary tree in tests), by level. Incomplete entries are skipped.
pub fn read_caches(root: &Path) -> Vec<CacheInfo> {
    let dir = root.join("sys/devices/system/cpu/cpu0/cache");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        let read = |f: &str| std::fs::read_to_string(e.path().join(f)).ok();
        let parsed = (|| {
            Some(CacheInfo {
                level: read("level")?.trim().parse().ok()?,
                kind: read("type")?.trim().to_string(),
                size: parse_size(&read("size")?)?,
                ways: read("ways_of_associativity")?.trim().parse().ok()?,
                line: read("coherency_line_size")?.trim().parse().ok()?,
            })
        })();
        out.extend(parsed.filter(|c| c.ways > 0 && c.line.is_power_of_two()));
    }
    out.sort_by_key(|c| (c.level, c.kind.clone()));
    out
}

/// The level-1 data cache, if sysfs described one.
pub fn l1d(caches: &[CacheInfo]) -> Option<&CacheInfo> {
    caches.iter().find(|c| c.level == 1 && c.kind == "Data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_permutation(v: &[u32], n: usize) -> bool {
        let mut s = v.to_vec();
        s.sort_unstable();
        s.len() == n && s.iter().enumerate().all(|(i, &x)| x as usize == i)
    }

    #[test]
    fn every_order_is_a_permutation() {
        for n in [0, 1, 7, 64, 1000] {
            for kind in [
                Order::Sequential,
                Order::Strided(1),
                Order::Strided(3),
                Order::Strided(16),
                Order::Strided(5000),
                Order::Shuffled(7),
            ] {
                assert!(is_permutation(&order(kind, n), n), "{kind:?} n={n}");
            }
        }
    }

    #[test]
    fn strided_order_steps_by_the_stride_then_shifts() {
        assert_eq!(order(Order::Strided(3), 7), [0, 3, 6, 1, 4, 2, 5]);
        let s = order(Order::Shuffled(1), 64);
        assert_ne!(s, order(Order::Sequential, 64), "shuffled moved something");
        assert_eq!(s, order(Order::Shuffled(1), 64), "the seed fixes the order");
    }

    #[test]
    fn every_kernel_sums_the_same() {
        let side = 37;
        let data: Vec<u64> = (0..(side * side) as u64).map(|i| i * 3 + 1).collect();
        let want: u64 = data.iter().sum();
        for kind in [Order::Sequential, Order::Strided(8), Order::Shuffled(9)] {
            assert_eq!(sum_in_order(&data, &order(kind, data.len())), want);
        }
        assert_eq!(sum_row_major(&data, side, 0..side), want);
        assert_eq!(sum_col_major(&data, side, 0..side), want);
        let halves = sum_row_major(&data, side, 0..10).wrapping_add(sum_row_major(&data, side, 10..side));
        assert_eq!(halves, want);
        assert_eq!(time_order(2, &data, &order(Order::Shuffled(3), data.len())).1, want);
        let (_, pieces) = best_chunked(3, 4, |c| c as u64);
        assert_eq!(pieces, 6, "one walk's values, not the reps'");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("lots"), None);
    }

    fn fake_index(root: &Path, i: u32, files: &[(&str, &str)]) {
        let d = root.join(format!("sys/devices/system/cpu/cpu0/cache/index{i}"));
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in files {
            std::fs::write(d.join(f), format!("{v}\n")).unwrap();
        }
    }

    #[test]
    fn caches_are_read_from_a_fake_sysfs_tree() {
        let dir = std::env::temp_dir().join(format!("lab-locality-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = |level: &'static str, kind: &'static str, size: &'static str, ways: &'static str| {
            [
                ("level", level),
                ("type", kind),
                ("size", size),
                ("ways_of_associativity", ways),
                ("coherency_line_size", "64"),
            ]
        };
        fake_index(&dir, 0, &cache("1", "Data", "32K", "8"));
        fake_index(&dir, 1, &cache("1", "Instruction", "32K", "8"));
        fake_index(&dir, 2, &cache("2", "Unified", "1024K", "16"));
        fake_index(&dir, 3, &[("level", "3"), ("type", "Unified")]); // incomplete: skipped
        let caches = read_caches(&dir);
        assert_eq!(caches.len(), 3);
        let l1 = l1d(&caches).expect("an L1d");
        assert_eq!((l1.size, l1.ways, l1.line, l1.sets()), (32 << 10, 8, 64, 64));
        assert_eq!(caches[2].size, 1 << 20);
        assert!(read_caches(&dir.join("nowhere")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
