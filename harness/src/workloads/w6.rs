//! W6: scale. The cost of a store, a lookup, and a flush of 1 000 expired
//! sessions, as the number of live sessions grows.

use std::time::Instant;

use rand::Rng;

use super::{rng_for, Suite};
use crate::cache::Driver;
use crate::ids::{fresh_id, random_ids};
use crate::results::ScalePoint;

/// Live counts measured.
pub fn live_counts(full: bool) -> Vec<usize> {
    let mut v = vec![1_000, 10_000, 100_000, 1_000_000];
    if full {
        v.push(10_000_000);
    }
    v
}

const EXPIRED: usize = 1_000;
const STORES: u64 = 10_000;
const LOOKUPS: usize = 100_000;

/// One point of W6 for one cache (single-threaded).
pub fn scale_point(suite: &Suite, driver: &dyn Driver, live: usize) -> ScalePoint {
    let cache = driver.build(&suite.config(0));
    let start = suite.start;
    let mut h = cache.handle();
    let live_ids = random_ids(live, 61 + live as u64);
    for id in &live_ids {
        h.store(id, &suite.value, start, 7200);
    }
    for id in random_ids(EXPIRED, 62) {
        h.store(&id, &suite.value, start, 1);
    }
    let mut rng = rng_for(0, 63);
    let t0 = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(h.lookup(&live_ids[rng.random_range(0..live)], start));
    }
    let lookup_ns = t0.elapsed().as_nanos() as f64 / LOOKUPS as f64;
    let flush_1k_us = if driver.traits().expiry {
        let t0 = Instant::now();
        let n = h.flush(start + 2);
        std::hint::black_box(n);
        t0.elapsed().as_secs_f64() * 1e6
    } else {
        f64::NAN
    };
    let t0 = Instant::now();
    for i in 0..STORES {
        h.store(&fresh_id(0, i, 64), &suite.value, start, 7200);
    }
    let store_ns = t0.elapsed().as_nanos() as f64 / STORES as f64;
    ScalePoint {
        cache: driver.name().into(),
        live,
        store_ns,
        lookup_ns,
        flush_1k_us,
    }
}
