//! Session ids and values for the workloads.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::cache::{Id, Value};

/// The lifetime in seconds of the `i`-th of `k` sessions stored to expire
/// soon (W6, the flush benches): each expires one second before the one
/// stored before it (`k`, `k - 1`, …, 1 seconds after they are stored).
/// OpenSSL keeps its sessions in a list ordered by expiry; it appends a
/// session that expires before all the others at the tail at once, but walks
/// the list to place one that expires with the tail, so with one expiry for
/// all `k` each store would walk every live session (untimed setup, but
/// 20–30 s per 1 000 among 10⁶).
pub fn expiring_timeout(i: usize, k: usize) -> u64 {
    debug_assert!(i < k, "session {i} of {k}");
    (k - i) as u64
}

/// `n` random 32-byte ids (distinct with overwhelming probability).
pub fn random_ids(n: usize, seed: u64) -> Vec<Id> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut id = [0u8; 32];
            rng.fill(&mut id[..]);
            id
        })
        .collect()
}

/// `n` ids that share their first 4 bytes — all of OpenSSL's hash — and
/// differ in the other 28.
pub fn adversarial_ids(n: usize, seed: u64) -> Vec<Id> {
    let mut ids = random_ids(n, seed);
    for id in &mut ids {
        id[..4].copy_from_slice(b"\xde\xad\xbe\xef");
    }
    ids
}

/// A fresh id for the `i`-th new session of thread `thread` in a run: unique
/// across threads, random-looking everywhere (the counter is mixed in).
pub fn fresh_id(thread: usize, i: u64, salt: u64) -> Id {
    let mut id = [0u8; 32];
    let mut x = (thread as u64) << 48 ^ i ^ salt.rotate_left(17);
    for chunk in id.chunks_mut(8) {
        // splitmix64: a bijection, so distinct inputs give distinct words.
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    id
}

/// A serialized-session-like value of `len` bytes.
pub fn value(len: usize) -> Value {
    (0..len)
        .map(|i| (i * 31 + 7) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A copy of `value` in an allocation of its own, for a prefilled session:
/// a server's cached sessions each have their own serialized state, and
/// one shared allocation would be a single always-cached value for every
/// lookup to read (and, in a cache whose lookups clone the value, a
/// reference count shared by every thread).
pub fn own_copy(value: &Value) -> Value {
    value.to_vec().into()
}

/// Draws indices in `0..n` with a Zipf(s) distribution: index 0 is the most
/// popular.
#[derive(Debug, Clone)]
pub struct ZipfIndex {
    zipf: Zipf<f64>,
}

impl ZipfIndex {
    /// Indices in `0..n` (n ≥ 1), exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        ZipfIndex {
            zipf: Zipf::new(n.max(1) as f64, s).expect("n >= 1 and s > 0"),
        }
    }

    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.zipf.sample(rng) as usize - 1
    }
}

/// A precomputed stream of Zipf draws, so that a workload's hot loop pays an
/// array read, not a `powf`, per draw (the cost would otherwise count against
/// every cache alike and hide the differences between them).
#[derive(Debug, Clone)]
pub struct ZipfTable {
    draws: Vec<u32>,
    next: usize,
}

impl ZipfTable {
    /// `len` draws (a power of two is best) of Zipf(s) over `0..n`.
    pub fn new<R: Rng + ?Sized>(n: usize, s: f64, len: usize, rng: &mut R) -> Self {
        let z = ZipfIndex::new(n, s);
        ZipfTable {
            draws: (0..len.max(1)).map(|_| z.sample(rng) as u32).collect(),
            next: 0,
        }
    }

    /// The next draw, cycling through the table.
    #[inline]
    pub fn next_index(&mut self) -> usize {
        let i = self.draws[self.next] as usize;
        self.next += 1;
        if self.next == self.draws.len() {
            self.next = 0;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adversarial_ids_share_four_bytes_only() {
        let ids = adversarial_ids(100, 1);
        assert!(ids.iter().all(|id| id[..4] == ids[0][..4]));
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 100);
    }

    #[test]
    fn fresh_ids_are_distinct_across_threads_and_counters() {
        let mut seen = std::collections::HashSet::new();
        for t in 0..8 {
            for i in 0..1000 {
                assert!(seen.insert(fresh_id(t, i, 42)));
            }
        }
    }

    #[test]
    fn zipf_prefers_low_indices_and_stays_in_range() {
        let z = ZipfIndex::new(1000, 0.99);
        let mut rng = SmallRng::seed_from_u64(3);
        let draws: Vec<usize> = (0..20_000).map(|_| z.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&i| i < 1000));
        let head = draws.iter().filter(|&&i| i < 10).count();
        let tail = draws.iter().filter(|&&i| (500..510).contains(&i)).count();
        assert!(head > 20 * tail.max(1), "head {head} tail {tail}");
    }
}
