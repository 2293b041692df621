//! Memory per session: bytes the cache allocates per cached session beyond
//! the 32-byte id and the value, read from the counting global allocator the
//! binary installs.

use super::Suite;
use crate::alloc_count::{counting, live_bytes};
use crate::cache::{Driver, Value};
use crate::ids::fresh_id;
use crate::results::Memory;

/// Sessions cached for the measurement.
pub(crate) const SESSIONS: usize = 100_000;

/// Measures one cache. Each session gets its own value allocation (as a
/// server's deserialized session would), counted like any other byte; the
/// id and value bytes are then subtracted.
pub fn memory(suite: &Suite, driver: &dyn Driver) -> Memory {
    let len = suite.value.len();
    let (before, after) = counting(|| {
        let before = live_bytes();
        // Bounded at exactly the sessions stored: caches that preallocate for
        // their capacity (rustls) are then charged for what they hold.
        let cache = driver.build(&suite.config(SESSIONS));
        let mut h = cache.handle();
        for i in 0..SESSIONS as u64 {
            let value: Value = suite.value.to_vec().into();
            h.store(&fresh_id(0, i, 0x4d), &value, suite.start, 7200);
        }
        let after = live_bytes();
        drop(h);
        drop(cache);
        (before, after)
    });
    let per = (after - before) as f64 / SESSIONS as f64;
    Memory {
        cache: driver.name().into(),
        sessions: SESSIONS,
        overhead_bytes: per - (32 + len) as f64,
    }
}
