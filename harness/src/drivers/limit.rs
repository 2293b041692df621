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
//! * a capacity bound per private map (the configuration's, when not 0):
//!   storing a new id into a full map first removes the oldest id stored
//!   (first in, first out; the workloads give every session the same
//!   timeout, so that is also the soonest to expire, as the shared caches
//!   evict). Without it W2's "eviction all the time" would be a map growing
//!   with the run;
//! * `SharedCache::len` is 0: the maps live in the handles, which the shared
//!   part does not track (keeping a count there would need the very
//!   synchronisation this driver leaves out).

use std::collections::VecDeque;

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
            bounded: true,
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
         expiry check + value read, remove/take → remove, flush → retain (O(n)); a capacity \
         bounds each private map, evicting first in, first out; the ceiling, not a cache the \
         threads share"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        Box::new(Shared {
            capacity: config.capacity,
        })
    }
}

struct Shared {
    /// Each private map's bound (0: none).
    capacity: usize,
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(Handle {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            capacity: self.capacity,
            order: VecDeque::new(),
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
    /// The bound on `map.len()` (0: none).
    capacity: usize,
    /// With a bound, the ids in the order they were first stored; ids
    /// removed since are skipped when they come up.
    order: VecDeque<Id>,
}

impl CacheHandle for Handle {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        let entry = (value.clone(), now.saturating_add(timeout));
        if self.capacity == 0 {
            self.map.insert(*id, entry);
            return;
        }
        if let Some(slot) = self.map.get_mut(id) {
            *slot = entry;
            return;
        }
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&oldest);
        }
        self.map.insert(*id, entry);
        self.order.push_back(*id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Id {
        [n; 32]
    }

    /// A bounded private map evicts the oldest id stored, replacing an
    /// id keeps its place, and a removed id's stale place is skipped.
    #[test]
    fn a_bounded_map_evicts_first_in_first_out() {
        let shared = LimitDriver.build(&Config {
            capacity: 3,
            timeout: 10,
            start: 0,
            sessions: 0,
        });
        let mut h = shared.handle();
        let v: Value = vec![1u8; 8].into();
        for n in 1..=3 {
            h.store(&id(n), &v, 0, 10);
        }
        h.store(&id(1), &v, 0, 10); // a replacement: nothing evicted
        h.store(&id(4), &v, 0, 10); // evicts 1, the first stored
        assert!(!h.lookup(&id(1), 0));
        assert!((2..=4).all(|n| h.lookup(&id(n), 0)));
        h.remove(&id(2));
        h.store(&id(5), &v, 0, 10); // room: 2 was removed
        h.store(&id(6), &v, 0, 10); // evicts 3 (2's place is stale)
        assert!(!h.lookup(&id(3), 0));
        assert!([4, 5, 6].iter().all(|&n| h.lookup(&id(n), 0)));
    }
}
