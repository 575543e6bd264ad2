//! A small set-associative LRU cache model: the hit/miss grid this machine cannot count.
//!
//! The VM exposes no hardware miss counters (`perf` reports cache misses as "not supported"), so
//! the lab does not claim a counted miss. Instead it feeds the very access order it timed to this
//! model and prints what a cache of that geometry would do. It is a model: no prefetcher, no
//! other levels, no other tenants; every figure it yields is labelled `model`.

/// A cache of `sets × ways` lines of `line` bytes, each set kept in LRU order.
#[derive(Clone, Debug)]
pub struct LruCache {
    line: u64,
    ways: usize,
    /// Per set, the tags it holds, most recently used first (at most `ways`).
    sets: Vec<Vec<u64>>,
    hits: u64,
    misses: u64,
}

impl LruCache {
    /// An empty cache: `sets` sets of `ways` lines of `line` bytes.
    ///
    /// # Panics
    /// When a dimension is 0 or `line` is not a power of two (a model geometry, not user input).
    pub fn new(sets: usize, ways: usize, line: u64) -> Self {
        assert!(sets > 0 && ways > 0, "a cache needs at least one set and one way");
        assert!(line.is_power_of_two(), "the line size must be a power of two");
        Self {
            line,
            ways,
            sets: vec![Vec::with_capacity(ways); sets],
            hits: 0,
            misses: 0,
        }
    }

    /// A fully associative cache of `lines` lines of `line` bytes.
    pub fn fully_associative(lines: usize, line: u64) -> Self {
        Self::new(1, lines, line)
    }

    /// Loads byte address `addr`: true on a hit. A miss fills the line, evicting the set's least
    /// recently used one when the set is full.
    pub fn access(&mut self, addr: u64) -> bool {
        let block = addr / self.line;
        let index = (block % self.sets.len() as u64) as usize;
        let set = &mut self.sets[index];
        if let Some(pos) = set.iter().position(|&t| t == block) {
            let tag = set.remove(pos);
            set.insert(0, tag);
            self.hits += 1;
            true
        } else {
            if set.len() == self.ways {
                set.pop();
            }
            set.insert(0, block);
            self.misses += 1;
            false
        }
    }

    /// Hits so far.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Misses so far.
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Misses as a percentage of accesses (0 before any access).
    pub fn miss_percent(&self) -> f64 {
        let all = self.hits + self.misses;
        if all == 0 {
            0.0
        } else {
            self.misses as f64 * 100.0 / all as f64
        }
    }
}

/// Feeds the elements of `order` (indices of `elem`-byte elements) to `cache` and returns, per
/// element index, whether its access hit (`None` for an index `order` never touched).
pub fn replay(cache: &mut LruCache, order: &[u32], elem: u64, len: usize) -> Vec<Option<bool>> {
    let mut grid = vec![None; len];
    for &i in order {
        let hit = cache.access(u64::from(i) * elem);
        if let Some(cell) = grid.get_mut(i as usize) {
            *cell = Some(hit);
        }
    }
    grid
}

/// The grid as text, `width` cells a row (one row = one cache line when `width` elements fill
/// a line): `·` a hit, `X` a miss, `?` never accessed.
pub fn grid_text(grid: &[Option<bool>], width: usize) -> String {
    grid.chunks(width.max(1))
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Some(true) => "·",
                    Some(false) => "X",
                    None => "?",
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_u64s_miss_once_per_line() {
        let mut c = LruCache::fully_associative(4, 64);
        let order: Vec<u32> = (0..64).collect();
        let grid = replay(&mut c, &order, 8, 64);
        assert_eq!(c.misses(), 8);
        assert_eq!(c.hits(), 56);
        for (i, cell) in grid.iter().enumerate() {
            assert_eq!(*cell, Some(i % 8 != 0), "element {i}");
        }
    }

    #[test]
    fn lru_evicts_the_least_recently_used_line() {
        let mut c = LruCache::fully_associative(2, 64);
        assert!(!c.access(0));
        assert!(!c.access(64));
        assert!(c.access(0)); // 0 is now the most recent; 64 the LRU
        assert!(!c.access(128)); // evicts 64
        assert!(c.access(0));
        assert!(!c.access(64));
    }

    #[test]
    fn a_cycle_one_line_larger_than_the_cache_always_misses() {
        let mut c = LruCache::fully_associative(4, 64);
        for _ in 0..10 {
            for line in 0..5u64 {
                c.access(line * 64);
            }
        }
        assert_eq!(c.hits(), 0);
        let mut fits = LruCache::fully_associative(4, 64);
        for _ in 0..10 {
            for line in 0..4u64 {
                fits.access(line * 64);
            }
        }
        assert_eq!(fits.misses(), 4, "only the compulsory misses");
    }

    #[test]
    fn lines_map_to_sets_by_address() {
        // 2 sets × 1 way: lines 0 and 2 share set 0, line 1 is alone in set 1.
        let mut c = LruCache::new(2, 1, 64);
        c.access(0);
        c.access(64);
        assert!(c.access(0) && c.access(64));
        assert!(!c.access(128)); // evicts line 0 from set 0, not line 1
        assert!(c.access(64));
        assert!(!c.access(0));
        assert!((c.miss_percent() - 100.0 * 4.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn grid_text_marks_hits_misses_and_untouched() {
        let grid = [Some(false), Some(true), None, Some(true)];
        assert_eq!(grid_text(&grid, 2), "X ·\n? ·");
    }
}
