//! Maps and sets keyed by a 64-bit fingerprint, split into [`SHARDS`] hash
//! tables by the fingerprint's top bits, so that no insert is ever O(entries):
//! a table grows by rehashing only its own shard (1/256th of the entries), and
//! a [`Fingerprints`] generation turns over one shard at a time. The store's
//! people and duplicate fingerprints live here; a single table of a million
//! entries paused the request that made it grow for tens of milliseconds.

use rustc_hash::{FxHashMap, FxHashSet};

/// Tables a map or set is split into.
pub(crate) const SHARDS: usize = 256;

/// The shard of fingerprint `fp` (its top byte: fingerprints are hashes).
fn shard(fp: u64) -> usize {
    (fp >> 56) as usize
}

/// A map from fingerprints to `V`.
pub(crate) struct ShardedMap<V> {
    shards: Vec<FxHashMap<u64, V>>,
    len: usize,
}

impl<V> ShardedMap<V> {
    pub(crate) fn new() -> Self {
        ShardedMap {
            shards: (0..SHARDS).map(|_| FxHashMap::default()).collect(),
            len: 0,
        }
    }

    pub(crate) fn get(&self, fp: &u64) -> Option<&V> {
        self.shards[shard(*fp)].get(fp)
    }

    pub(crate) fn insert(&mut self, fp: u64, v: V) -> Option<V> {
        let old = self.shards[shard(fp)].insert(fp, v);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, fp: &u64) -> Option<V> {
        let old = self.shards[shard(*fp)].remove(fp);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A set of fingerprints in two generations, at most `max` in all: each
/// shard keeps at most its share of `max / 2` in its current generation; when
/// it is full, its older generation is forgotten and the current one becomes
/// it. A small set (under [`SHARDS`] × 1024 per generation) is one shard, as
/// the store always had.
pub(crate) struct Fingerprints {
    current: Vec<FxHashSet<u64>>,
    previous: Vec<FxHashSet<u64>>,
    /// Shard count - 1 (0 or `SHARDS - 1`).
    mask: usize,
    /// Largest current generation of one shard.
    generation: usize,
}

impl Fingerprints {
    pub(crate) fn new(max: usize) -> Self {
        let half = (max / 2).max(1);
        let shards = if half >= SHARDS * 1024 { SHARDS } else { 1 };
        let empty = || (0..shards).map(|_| FxHashSet::default()).collect();
        Fingerprints {
            current: empty(),
            previous: empty(),
            mask: shards - 1,
            generation: half / shards,
        }
    }

    fn slot(&self, fp: u64) -> usize {
        shard(fp) & self.mask
    }

    pub(crate) fn contains(&self, fp: u64) -> bool {
        let s = self.slot(fp);
        self.current[s].contains(&fp) || self.previous[s].contains(&fp)
    }

    pub(crate) fn insert(&mut self, fp: u64) {
        let s = self.slot(fp);
        if self.current[s].len() >= self.generation {
            // The old generation's table is reused (cleared, not reallocated).
            std::mem::swap(&mut self.current[s], &mut self.previous[s]);
            self.current[s].clear();
        }
        self.current[s].insert(fp);
    }

    pub(crate) fn remove(&mut self, fp: u64) {
        let s = self.slot(fp);
        self.current[s].remove(&fp);
        self.previous[s].remove(&fp);
    }

    pub(crate) fn len(&self) -> usize {
        self.current
            .iter()
            .chain(&self.previous)
            .map(std::collections::HashSet::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_counts_and_finds_across_shards() {
        let mut m = ShardedMap::new();
        for i in 0..10_000u64 {
            let fp = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert!(m.insert(fp, i).is_none());
        }
        assert_eq!(m.len(), 10_000);
        let fp = 7u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        assert_eq!(m.get(&fp), Some(&7));
        assert_eq!(m.insert(fp, 8), Some(7));
        assert_eq!(m.remove(&fp), Some(8));
        assert_eq!(m.remove(&fp), None);
        assert_eq!(m.len(), 9_999);
    }

    #[test]
    fn fingerprints_stay_bounded_and_remember_the_recent_ones() {
        for max in [8, 2 * SHARDS * 1024] {
            let mut f = Fingerprints::new(max);
            let fps: Vec<u64> = (0..(3 * max) as u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect();
            for &fp in &fps {
                f.insert(fp);
                assert!(f.contains(fp));
            }
            assert!(f.len() <= max, "{} > {max}", f.len());
            assert!(!f.contains(fps[0]), "the oldest are forgotten ({max})");
            let last = fps[fps.len() - 1];
            f.remove(last);
            assert!(!f.contains(last));
        }
    }
}
