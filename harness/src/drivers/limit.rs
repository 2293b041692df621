//! The hardware limit: a `hashbrown::HashMap` with `ahash` and no
//! synchronisation at all. Every handle owns a private map (the workloads
//! prefill each handle separately when `private_per_thread` is set), so
//! threads share no table: what it measures is how fast one core can do the
//! table work alone, the ceiling no shared cache can pass. The prefilled
//! values are one read-only allocation per session, which every thread's
//! map holds a clone of: reading shared lines costs no contention, and the
//! prefill's memory does not grow with the thread count.
//!
//! # Mapping
//!
//! * `store`: `insert(id, (value.clone(), now + timeout))` (an `Arc` clone);
//! * `lookup`: `get`, `expiry >= now`, the value read;
//! * `remove`: `remove`;
//! * `take`: `remove`, true when the entry was live. Not single use in the
//!   harness's sense: no other thread can see the entry at all;
//! * `flush(now)`: `retain(expiry >= now)`, a full O(n) scan of the map;
//!   returns how many were dropped;
//! * no capacity bound (the configuration's capacity is ignored);
//! * `SharedCache::len` is 0: the maps live in the handles, which the shared
//!   part does not track (keeping a count there would need the very
//!   synchronisation this driver leaves out).

use hashbrown::HashMap;

use crate::build_info::crates;
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// The hardware limit: a private unsynchronised hash map per thread.
#[derive(Debug)]
pub struct LimitDriver;

impl Driver for LimitDriver {
    fn name(&self) -> &'static str {
        "limit"
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: false,
            expiry: true,
            bounded: false,
            private_per_thread: true,
            second_tier: false,
        }
    }

    fn version(&self) -> String {
        crates(&["hashbrown@0.15", "ahash@0.8"])
    }

    fn mapping(&self) -> &'static str {
        "a private hashbrown HashMap (ahash) per thread, no synchronisation and no shared \
         table (the prefilled values are shared, read-only): store → insert, lookup → get + \
         expiry check + value read, remove/take → remove, flush → retain (O(n)); the ceiling, \
         not a cache the threads share"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        let _ = config;
        Box::new(Shared)
    }
}

struct Shared;

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(Handle {
            map: HashMap::with_hasher(ahash::RandomState::new()),
        })
    }

    /// Always 0: the sessions live in the handles' private maps.
    fn len(&self) -> usize {
        0
    }
}

/// A thread's private table: id → (value, logical expiry).
struct Handle {
    map: HashMap<Id, (Value, u64), ahash::RandomState>,
}

impl CacheHandle for Handle {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        self.map
            .insert(*id, (value.clone(), now.saturating_add(timeout)));
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        match self.map.get(id) {
            Some((v, expiry)) if *expiry >= now => consume(v),
            _ => false,
        }
    }

    fn remove(&mut self, id: &Id) {
        self.map.remove(id);
    }

    fn take(&mut self, id: &Id, now: u64) -> bool {
        matches!(self.map.remove(id), Some((_, expiry)) if expiry >= now)
    }

    fn flush(&mut self, now: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, (_, expiry)| *expiry >= now);
        before - self.map.len()
    }
}
