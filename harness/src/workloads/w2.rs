//! W2: the handshake storm — a cache at OpenSSL's default capacity (20 480)
//! taking half stores of new sessions and half lookups of recent ones, so
//! eviction runs all the time.

use std::sync::atomic::AtomicBool;

use rand::Rng;

use super::{private_values, rng_for, should_stop, Suite};
use crate::cache::{Driver, Id, Value};
use crate::ids::{fresh_id, own_copy, random_ids};
use crate::runner::timed;

/// OpenSSL's default session cache size.
pub(crate) const STORM_CAPACITY: usize = 20_480;

/// The most recent stores a thread looks up among.
const RECENT: usize = 1024;

/// How many of its most recent stores each of `threads` threads looks up
/// among: [`RECENT`], or fewer when that many per thread would not all fit
/// in the cache. The threads store at about the same rate, so the cache
/// keeps about the last `STORM_CAPACITY / threads` of each thread's stores;
/// half of that keeps a thread's lookups on sessions the cache still holds,
/// so the hit rate does not fall as the thread count grows (with 1024 per
/// thread it would from 21 threads on, to about 1/6 at 128).
pub(crate) fn recent_window(threads: usize) -> usize {
    (STORM_CAPACITY / (2 * threads.max(1))).clamp(1, RECENT)
}

/// One timed run of W2; millions of operations per second.
pub fn storm(suite: &Suite, driver: &dyn Driver, threads: usize, run: u64) -> f64 {
    let cache = driver.build(&suite.config(STORM_CAPACITY));
    let (now, timeout) = (suite.start, 7200);
    let private = driver.traits().private_per_thread;
    let prefill = random_ids(STORM_CAPACITY, 11 + run);
    if !private {
        let mut h = cache.handle();
        for id in &prefill {
            h.store(id, &own_copy(&suite.value), now, timeout);
        }
    }
    let values = private_values(private, prefill.len(), &suite.value);
    let (cache, value, prefill, values) = (&cache, &suite.value, &prefill, &values);
    let salt = run << 40 ^ (threads as u64) << 20 ^ 0x57;
    timed(threads, suite.cell, move |t| {
        let mut h = cache.handle();
        if private {
            for (id, v) in prefill.iter().zip(values) {
                h.store(id, v, now, timeout);
            }
        }
        let mut rng = rng_for(t, salt);
        let window = recent_window(threads);
        let mut recent: Vec<Id> = prefill.iter().take(window).copied().collect();
        let mut fresh = 0u64;
        // This thread's own value (see W1).
        let value: Value = value.to_vec().into();
        Box::new(move |stop: &AtomicBool| {
            let mut ops = 0u64;
            loop {
                if should_stop(ops, stop) {
                    return ops;
                }
                if rng.random_bool(0.5) {
                    fresh += 1;
                    let id = fresh_id(t, fresh, salt);
                    h.store(&id, &value, now, timeout);
                    let slot = (fresh as usize) % window;
                    recent[slot] = id;
                } else {
                    let id = &recent[rng.random_range(0..window)];
                    std::hint::black_box(h.lookup(id, now));
                }
                ops += 1;
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_window_fits_in_the_cache_at_every_thread_count() {
        assert_eq!(recent_window(1), RECENT);
        assert_eq!(recent_window(2), RECENT);
        assert_eq!(recent_window(10), RECENT);
        assert_eq!(recent_window(64), 160);
        assert_eq!(recent_window(4096), 2);
        assert_eq!(recent_window(1 << 20), 1);
        for threads in 1..=4096 {
            let w = recent_window(threads);
            assert!((1..=RECENT).contains(&w), "{threads}: {w}");
            assert!(
                2 * threads * w <= STORM_CAPACITY || w == 1,
                "{threads} threads × {w} recent ids overflow the cache"
            );
        }
    }
}
