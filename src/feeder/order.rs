//! Which row a feeder sends next: the four strategies, each over this
//! worker's share of the rows, so that the workers of a scaled-out run
//! (`--worker I/N`) never send the same row and together skip none.
//!
//! The rows are numbered 0..n in the file's order. Worker `i` of `w` owns the
//! positions `p ≡ i (mod w)`: `queue` and `circular` send the rows at those
//! positions in the file's order (once, or over and over); `random` draws among
//! them; `shuffle` reads the positions through a seeded permutation of 0..n
//! that every worker computes alike, a new one each pass, so each pass sends
//! every row exactly once across the workers.
//!
//! The permutation holds no table: a four-round Feistel network over the
//! smallest even power of two not below n, walked until it lands below n
//! (cycle walking keeps a bijection), costs O(1) memory for any n.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How a feeder walks its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Each row once, in the file's order; then the data has run out.
    #[default]
    Queue,
    /// The rows in the file's order, from the first again after the last.
    Circular,
    /// A row drawn at random (seeded) each time; rows repeat.
    Random,
    /// A seeded permutation of the rows, each row once per pass; a new
    /// permutation each pass.
    Shuffle,
}

impl Strategy {
    /// The name a scenario writes.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Queue => "queue",
            Strategy::Circular => "circular",
            Strategy::Random => "random",
            Strategy::Shuffle => "shuffle",
        }
    }
}

/// The order of one worker's rows.
#[derive(Debug)]
pub(super) struct Order {
    strategy: Strategy,
    rows: u64,
    index: u64,
    count: u64,
    /// Rows this worker owns.
    own: u64,
    /// Rows handed out so far.
    taken: u64,
    seed: u64,
    rng: ChaCha8Rng,
}

impl Order {
    /// The order of worker `index` of `count` over `rows` rows, seeded by `seed`.
    pub(super) fn new(
        strategy: Strategy,
        rows: u64,
        (index, count): (u16, u16),
        seed: u64,
    ) -> Self {
        let (index, count) = (u64::from(index), u64::from(count.max(1)));
        let own = rows / count + u64::from(index < rows % count);
        Order {
            strategy,
            rows,
            index,
            count,
            own,
            taken: 0,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6665_6564 ^ (index << 32)),
        }
    }

    /// Rows this worker owns.
    pub(super) fn own(&self) -> u64 {
        self.own
    }

    /// Rows handed out so far.
    pub(super) fn taken(&self) -> u64 {
        self.taken
    }

    /// The next row's number (0-based, in the file's order); `None` when a
    /// queue has sent its rows (or the worker owns none).
    pub(super) fn next(&mut self) -> Option<u64> {
        if self.own == 0 {
            return None;
        }
        let j = match self.strategy {
            Strategy::Queue if self.taken >= self.own => return None,
            Strategy::Queue | Strategy::Circular | Strategy::Shuffle => self.taken % self.own,
            Strategy::Random => self.rng.random_range(0..self.own),
        };
        let position = self.index + j * self.count;
        let row = match self.strategy {
            Strategy::Shuffle => {
                let pass = self.taken / self.own;
                permute(
                    position,
                    self.rows,
                    self.seed ^ pass.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                )
            }
            _ => position,
        };
        self.taken += 1;
        Some(row)
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `x`'s place in the permutation of 0..n keyed by `key` (x < n).
fn permute(x: u64, n: u64, key: u64) -> u64 {
    if n <= 1 {
        return x;
    }
    // Bits of the smallest power of two ≥ n, rounded up to even (two halves).
    let bits = (64 - (n - 1).leading_zeros()).max(2).next_multiple_of(2);
    let half = bits / 2;
    let mask = (1u64 << half) - 1;
    let mut y = x;
    loop {
        let (mut left, mut right) = (y >> half, y & mask);
        for round in 0..4u64 {
            let f = mix(key ^ (round << 58) ^ right) & mask;
            (left, right) = (right, left ^ f);
        }
        y = (left << half) | right;
        if y < n {
            return y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(order: &mut Order, k: usize) -> Vec<u64> {
        (0..k).map_while(|_| order.next()).collect()
    }

    #[test]
    fn the_permutation_is_a_bijection_for_awkward_sizes() {
        for n in [1u64, 2, 3, 5, 17, 64, 65, 1000, 4097] {
            let mut seen: Vec<u64> = (0..n).map(|x| permute(x, n, 42)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
        let a: Vec<u64> = (0..100).map(|x| permute(x, 100, 1)).collect();
        assert_ne!(
            a,
            (0..100).collect::<Vec<_>>(),
            "a permutation that moves nothing"
        );
    }

    #[test]
    fn workers_of_a_queue_or_a_shuffle_pass_share_every_row_exactly_once() {
        for strategy in [Strategy::Queue, Strategy::Shuffle] {
            for (rows, workers) in [(10u64, 3u16), (3, 3), (2, 3), (101, 4), (7, 1)] {
                let mut all: Vec<u64> = (0..workers)
                    .flat_map(|i| {
                        let mut o = Order::new(strategy, rows, (i, workers), 9);
                        let own = o.own() as usize;
                        take(&mut o, own)
                    })
                    .collect();
                all.sort_unstable();
                assert_eq!(
                    all,
                    (0..rows).collect::<Vec<_>>(),
                    "{strategy:?} {rows}/{workers}"
                );
            }
        }
    }

    #[test]
    fn a_queue_runs_out_and_the_others_go_on() {
        let mut q = Order::new(Strategy::Queue, 5, (1, 2), 1);
        assert_eq!(take(&mut q, 10), vec![1, 3]);
        assert_eq!(q.next(), None);
        let mut c = Order::new(Strategy::Circular, 5, (1, 2), 1);
        assert_eq!(take(&mut c, 5), vec![1, 3, 1, 3, 1]);
        let mut s = Order::new(Strategy::Shuffle, 6, (0, 1), 3);
        let (first, second) = (take(&mut s, 6), take(&mut s, 6));
        for pass in [&first, &second] {
            let mut sorted = pass.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        }
        let mut r = Order::new(Strategy::Random, 10, (2, 3), 5);
        let drawn = take(&mut r, 200);
        assert_eq!(drawn.len(), 200);
        assert!(drawn.iter().all(|k| k % 3 == 2), "{drawn:?}");
        assert_eq!(
            drawn,
            take(&mut Order::new(Strategy::Random, 10, (2, 3), 5), 200),
            "seeded"
        );
    }
}
