//! rustls's `ServerSessionMemoryCache` through its `StoresServerSessions`
//! trait: a std `Mutex` around a `HashMap` and a `VecDeque` of keys (FIFO
//! eviction), no expiry.
//!
//! # Mapping
//!
//! * `store`: `put(id.to_vec(), value.to_vec())` — rustls takes owned keys
//!   and values, so both are copied (as a rustls server does);
//! * `lookup`: `get(id)`, which clones the value out under the mutex; the
//!   copy is read and dropped. The logical time is ignored: rustls has no
//!   expiry (its tickets carry their own lifetime, checked after the
//!   lookup), so a lookup finds anything still cached;
//! * `remove`: `take(id)` (the trait has no remove); removal also scans the
//!   FIFO queue for the key, which is O(n);
//! * `take`: `take(id)`, which removes under the mutex: exactly one of
//!   several concurrent takers gets the value (single use);
//! * `flush`: nothing to do (no expiry), returns 0;
//! * capacity: `ServerSessionMemoryCache::new(capacity)` evicts the oldest
//!   insertion when full. It needs a size and preallocates its map and queue
//!   for it, so "unlimited" (capacity 0) is approximated by
//!   [`UNLIMITED`] = 2^21 sessions (2.1 million: more than any quick-suite
//!   workload keeps; rustls preallocates for it, so a larger figure only
//!   makes every build slower), or by the sessions the workload says it
//!   keeps ([`Config::sessions`]) where that is more (W6's 10⁷ with
//!   `--full`), so that no live session is evicted;
//! * `len`: not exposed by rustls; the driver counts puts minus takes
//!   itself (exact unless a put replaces or evicts).

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

use crate::build_info::version_of;
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// The size used for capacity 0 ("unlimited"), which rustls cannot express.
pub const UNLIMITED: usize = 1 << 21;

/// rustls's in-memory server session store.
#[derive(Debug)]
pub struct RustlsDriver;

impl Driver for RustlsDriver {
    fn name(&self) -> &'static str {
        "rustls"
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: true,
            expiry: false,
            bounded: true,
            private_per_thread: false,
            second_tier: false,
        }
    }

    fn version(&self) -> String {
        version_of("rustls@0.23")
    }

    fn mapping(&self) -> &'static str {
        "rustls ServerSessionMemoryCache (one Mutex around HashMap + FIFO VecDeque, no expiry; \
         capacity 0 → 2^21, or more for a workload that keeps more): store → put (copies id \
         and value), lookup → get (clones the value out), remove → take (no remove in the \
         trait; O(n) queue scan), take → take (single use under the mutex), flush → nothing"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        let size = size_for(config);
        Box::new(Shared {
            cache: ServerSessionMemoryCache::new(size),
            size,
            stored: AtomicIsize::new(0),
        })
    }
}

/// The size rustls is given: the capacity, or for "unlimited" enough for
/// what the workload keeps ([`UNLIMITED`] at least).
fn size_for(config: &Config) -> usize {
    if config.capacity == 0 {
        UNLIMITED.max(config.sessions)
    } else {
        config.capacity
    }
}

struct Shared {
    cache: Arc<ServerSessionMemoryCache>,
    /// The size given to rustls.
    size: usize,
    /// Puts minus successful takes; see `len`.
    stored: AtomicIsize,
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(self)
    }

    /// rustls does not say how many sessions it holds: this is the driver's
    /// count of puts minus successful takes, capped at the size. It is exact
    /// while no put replaces a cached id and nothing is evicted (the
    /// workloads store fresh ids); otherwise it is an upper bound. Keeping it
    /// costs one relaxed atomic add per store and successful remove.
    fn len(&self) -> usize {
        usize::try_from(self.stored.load(Ordering::Relaxed))
            .unwrap_or(0)
            .min(self.size)
    }
}

impl CacheHandle for &Shared {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        // No expiry in rustls.
        let _ = (now, timeout);
        self.cache.put(id.to_vec(), value.to_vec());
        self.stored.fetch_add(1, Ordering::Relaxed);
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        let _ = now;
        self.cache.get(id).is_some_and(|v| consume(&v))
    }

    fn remove(&mut self, id: &Id) {
        if self.cache.take(id).is_some() {
            self.stored.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn take(&mut self, id: &Id, _now: u64) -> bool {
        let got = self.cache.take(id).is_some();
        if got {
            self.stored.fetch_sub(1, Ordering::Relaxed);
        }
        got
    }

    fn flush(&mut self, _now: u64) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(capacity: usize, sessions: usize) -> Config {
        Config {
            capacity,
            timeout: 7200,
            start: 0,
            sessions,
        }
    }

    /// "Unlimited" holds what the workload keeps: W6's 10⁷ live sessions
    /// (`--full`) used to get 2^21 slots and lose most of them to eviction.
    #[test]
    fn unlimited_is_sized_for_the_sessions_the_workload_keeps() {
        assert_eq!(size_for(&config(0, 0)), UNLIMITED);
        assert_eq!(size_for(&config(0, 1_100_000)), UNLIMITED);
        assert_eq!(size_for(&config(0, 10_001_000)), 10_001_000);
        assert_eq!(size_for(&config(20_480, 10_001_000)), 20_480);
    }
}
