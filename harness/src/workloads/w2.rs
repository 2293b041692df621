//! W2: the handshake storm — a cache at OpenSSL's default capacity (20 480)
//! taking half stores of new sessions and half lookups of recent ones, so
//! eviction runs all the time.

use std::sync::atomic::AtomicBool;

use rand::Rng;

use super::{rng_for, should_stop, Suite};
use crate::cache::{Driver, Id, Value};
use crate::ids::{fresh_id, own_copy, random_ids};
use crate::runner::timed;

/// OpenSSL's default session cache size.
pub(crate) const STORM_CAPACITY: usize = 20_480;

/// How many of its recent stores a thread looks up among.
const RECENT: usize = 1024;

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
    let (cache, value, prefill) = (&cache, &suite.value, &prefill);
    let salt = run << 40 ^ (threads as u64) << 20 ^ 0x57;
    timed(threads, suite.cell, move |t| {
        let mut h = cache.handle();
        if private {
            for id in prefill {
                h.store(id, &own_copy(value), now, timeout);
            }
        }
        let mut rng = rng_for(t, salt);
        let mut recent: Vec<Id> = prefill.iter().take(RECENT).copied().collect();
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
                    let slot = (fresh as usize) % RECENT;
                    recent[slot] = id;
                } else {
                    let id = &recent[rng.random_range(0..RECENT)];
                    std::hint::black_box(h.lookup(id, now));
                }
                ops += 1;
            }
        })
    })
}
