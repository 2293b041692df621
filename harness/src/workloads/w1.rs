//! W1 (resumption), W5 (oversubscribed W1) and W7 (W1 with adversarial ids).

use std::sync::atomic::AtomicBool;

use rand::Rng;

use super::{private_values, rng_for, should_stop, Suite};
use crate::cache::Value;
use crate::cache::{Driver, Id};
use crate::ids::{adversarial_ids, fresh_id, random_ids, ZipfTable};
use crate::results::TierCounts;
use crate::runner::timed;

/// How many ids the threads' stores cycle through, all threads together
/// ([`store_pool`] each): once a thread has stored its share of new
/// sessions, each store replaces the session it stored that many stores
/// earlier. The cache then keeps a steady size (the prefill plus at most
/// this many) however long a cell runs and however many threads run it, as
/// a cache in service keeps one by evicting and expiring; and W5's
/// oversubscribed threads keep as many recent sessions hot as W1's do.
pub(crate) const STORE_POOL: usize = 2048;

/// Each thread's share of [`STORE_POOL`]: at most 1 024, at least one.
pub(crate) fn store_pool(threads: usize) -> usize {
    (STORE_POOL / threads.max(1)).clamp(1, 1024)
}

/// The shape of a resumption workload.
#[derive(Clone, Debug)]
pub struct ResumptionSpec {
    /// Sessions cached before the measurement.
    pub prefill: usize,
    /// Percent of operations that look up a live id (Zipf-distributed).
    pub lookup_pct: u32,
    /// Percent that store a new session (cycling through the thread's
    /// [`store_pool`] ids); the rest remove one of those ids, so the
    /// prefilled sessions that the lookups ask for all stay cached.
    pub store_pct: u32,
    /// Zipf exponent of the lookups.
    pub zipf: f64,
    /// Ids sharing their first 4 bytes (W7).
    pub adversarial: bool,
    /// Capacity of the cache (0 = unlimited).
    pub capacity: usize,
}

impl ResumptionSpec {
    /// W1: prefill 100k; 90% lookups (Zipf 0.99), 9% stores, 1% removes
    /// (both within each thread's [`store_pool`]).
    pub fn w1() -> Self {
        ResumptionSpec {
            prefill: 100_000,
            lookup_pct: 90,
            store_pct: 9,
            zipf: 0.99,
            adversarial: false,
            capacity: 0,
        }
    }
}

/// One timed run of a resumption workload; millions of operations per second.
pub fn resumption(
    suite: &Suite,
    driver: &dyn Driver,
    threads: usize,
    spec: &ResumptionSpec,
    run: u64,
) -> f64 {
    resumption_cell(suite, driver, threads, spec, run).0
}

/// [`resumption`], with what the cache's second tier did (if it has one)
/// over the run, prefill included.
pub(crate) fn resumption_cell(
    suite: &Suite,
    driver: &dyn Driver,
    threads: usize,
    spec: &ResumptionSpec,
    run: u64,
) -> (f64, Option<TierCounts>) {
    let ids: Vec<Id> = if spec.adversarial {
        adversarial_ids(spec.prefill, 7 + run)
    } else {
        random_ids(spec.prefill, 7 + run)
    };
    let cache = driver.build(&suite.config(spec.capacity));
    let now = suite.start;
    let timeout = 7200;
    let private = driver.traits().private_per_thread;
    if !private {
        cache.prefill(&ids, &suite.value, now, timeout);
    }
    let values = private_values(private, ids.len(), &suite.value);
    let (ids, values, cache, value) = (&ids, &values, &cache, &suite.value);
    let salt = run << 40 ^ threads as u64;
    let mops = timed(threads, suite.cell, move |t| {
        let mut h = cache.handle();
        if private {
            for (id, v) in ids.iter().zip(values) {
                h.store(id, v, now, timeout);
            }
        }
        let mut rng = rng_for(t, salt);
        let mut zipf = ZipfTable::new(ids.len(), spec.zipf, 1 << 16, &mut rng);
        // A value of this thread's own: cloning one shared `Arc` from every
        // thread would make its reference count a contended cache line.
        let value: Value = value.to_vec().into();
        // The k-th id of this thread's store pool.
        let pool_id = move |k: u64| {
            let mut id = fresh_id(t, k + 1, salt);
            if spec.adversarial {
                id[..4].copy_from_slice(b"\xde\xad\xbe\xef");
            }
            id
        };
        let mut next = 0u64;
        let pool = store_pool(threads) as u64;
        Box::new(move |stop: &AtomicBool| {
            let mut ops = 0u64;
            loop {
                if should_stop(ops, stop) {
                    return ops;
                }
                let roll = rng.random_range(0..100u32);
                if roll < spec.lookup_pct {
                    std::hint::black_box(h.lookup(&ids[zipf.next_index()], now));
                } else if roll < spec.lookup_pct + spec.store_pct {
                    next = (next + 1) % pool;
                    h.store(&pool_id(next), &value, now, timeout);
                } else {
                    h.remove(&pool_id(rng.random_range(0..pool)));
                }
                ops += 1;
            }
        })
    });
    (mops, cache.tier_stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_pools_hold_a_fixed_number_of_sessions_in_all() {
        assert_eq!(store_pool(1), 1024);
        assert_eq!(store_pool(2), 1024);
        assert_eq!(store_pool(8), 256);
        assert_eq!(store_pool(4096), 1);
        for threads in 1..=8192 {
            let p = store_pool(threads);
            assert!((1..=1024).contains(&p), "{threads}: {p}");
            assert!(threads * p <= STORE_POOL || p == 1, "{threads} × {p}");
        }
    }
}
