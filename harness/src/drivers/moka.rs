//! moka's `sync::Cache`: a lock-free hash table (crossbeam-epoch) whose reads
//! and writes are also logged to bounded channels and applied to its
//! eviction and expiry structures by maintenance run on caller threads.
//!
//! # Mapping
//!
//! * cache: `moka::sync::Cache<Id, Entry>` where `Entry` holds the value
//!   (an `Arc`, so moka's clone on read is a reference-count increment) and
//!   the session's logical expiry; built with
//!   - `max_capacity(capacity)` (capacity 0: none, unbounded) and
//!     `EvictionPolicy::lru()`: moka's default TinyLFU *admission* would
//!     reject new sessions in favour of frequently read ones once full,
//!     which a session cache must not do. moka applies the bound lazily
//!     (during maintenance), so it may briefly hold more than `capacity`;
//!   - a per-entry `Expiry`: moka expires on wall-clock `Instant`s, not on
//!     the harness's logical clock, so an entry's moka lifetime is
//!     `expiry - config.start` seconds from its insertion (a session stored
//!     at the start with the run's long timeout stays live for the run), and
//!     the logical expiry is checked by the driver (below);
//!   - an eviction listener (a real session cache must hear of removals,
//!     and installing one changes moka's removal path: it locks the key): it
//!     reads the removed value;
//!   - the `ahash` hasher, as sesscache and the hardware limit use.
//! * `store`: `insert`;
//! * `lookup`: `get` (clones the `Entry`), then `expiry >= now` on the
//!   logical clock and the value read — so results agree with the caches
//!   that expire on the logical clock;
//! * `remove`: `invalidate` (no value clone);
//! * `take`: `remove`, which returns the value when this call removed it,
//!   then the logical expiry check. moka's documentation only says `remove`
//!   "discards any cached value for the key and returns a clone of the
//!   value"; it does not promise a single winner among concurrent callers.
//!   Its implementation does give one: the removal is a compare-and-swap
//!   that turns the hash-table bucket into a tombstone
//!   (`cht::map::bucket::BucketArray::remove_if`, moka 0.12), and only the
//!   caller whose CAS succeeds gets `Some`. The driver relies on that (and
//!   the concurrent test in `tests/drivers.rs` checks it): single use;
//! * `flush(now)`: moka keeps no index by expiry on the harness's logical
//!   clock, and `invalidate_entries_if` is applied lazily by maintenance (a
//!   flush would return before anything is removed), so the driver walks
//!   every entry (`iter`) and `remove`s the expired ones: O(n), synchronous,
//!   counted exactly.
//! * `len`: `entry_count()` after `run_pending_tasks()`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::Expiry;

use crate::build_info::version_of;
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// moka's synchronous cache.
#[derive(Debug)]
pub struct MokaDriver;

impl Driver for MokaDriver {
    fn name(&self) -> &'static str {
        "moka"
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: true,
            expiry: true,
            bounded: true,
            private_per_thread: false,
            second_tier: false,
        }
    }

    fn version(&self) -> String {
        version_of("moka@0.12")
    }

    fn mapping(&self) -> &'static str {
        "moka::sync::Cache (LRU, per-entry Expiry of expiry-start wall-clock seconds, eviction \
         listener, ahash): store → insert, lookup → get (Arc clone) + \
         logical expiry check, remove → invalidate, take → remove (single winner by a bucket \
         CAS, not a documented promise), flush → iterate all entries and remove the expired \
         ones (O(n): moka has no expiry index on a logical clock)"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        let mut builder = moka::sync::Cache::builder()
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(LogicalExpiry {
                start: config.start,
            })
            .eviction_listener(move |_id: Arc<Id>, e: Entry, _cause: RemovalCause| {
                // Read what was removed, as a cache notifying an external
                // store would.
                std::hint::black_box(consume(&e.value));
            });
        if config.capacity > 0 {
            builder = builder.max_capacity(config.capacity as u64);
        }
        Box::new(Shared {
            cache: builder.build_with_hasher(ahash::RandomState::new()),
        })
    }
}

/// A cached session: the value and its logical expiry (seconds).
#[derive(Clone, Debug)]
struct Entry {
    value: Value,
    expiry: u64,
}

/// moka's per-entry lifetime: `expiry - start` wall-clock seconds.
struct LogicalExpiry {
    start: u64,
}

impl LogicalExpiry {
    fn lifetime(&self, e: &Entry) -> Option<Duration> {
        Some(Duration::from_secs(e.expiry.saturating_sub(self.start)))
    }
}

impl Expiry<Id, Entry> for LogicalExpiry {
    fn expire_after_create(&self, _id: &Id, e: &Entry, _created_at: Instant) -> Option<Duration> {
        self.lifetime(e)
    }

    /// A store over a cached id replaces the session: its own lifetime
    /// applies (moka's default would keep the old one).
    fn expire_after_update(
        &self,
        _id: &Id,
        e: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.lifetime(e)
    }
}

type MokaCache = moka::sync::Cache<Id, Entry, ahash::RandomState>;

struct Shared {
    cache: MokaCache,
}

impl Shared {
    fn entry_count(&self) -> usize {
        self.cache.run_pending_tasks();
        usize::try_from(self.cache.entry_count()).unwrap_or(usize::MAX)
    }
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(self)
    }

    fn len(&self) -> usize {
        self.entry_count()
    }
}

impl CacheHandle for &Shared {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        let e = Entry {
            value: value.clone(),
            expiry: now.saturating_add(timeout),
        };
        self.cache.insert(*id, e);
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        match self.cache.get(id) {
            Some(e) if e.expiry >= now => consume(&e.value),
            _ => false,
        }
    }

    fn remove(&mut self, id: &Id) {
        self.cache.invalidate(id);
    }

    fn take(&mut self, id: &Id, now: u64) -> bool {
        matches!(self.cache.remove(id), Some(e) if e.expiry >= now)
    }

    fn flush(&mut self, now: u64) -> usize {
        // moka has no index by expiry the harness's logical clock could use,
        // and `invalidate_entries_if` is applied lazily by its maintenance
        // tasks (a flush would return before anything is removed). So the
        // flush walks every entry and invalidates the expired ones: O(n),
        // synchronous, and counted exactly.
        let expired: Vec<Id> = self
            .cache
            .iter()
            .filter(|(_, e)| e.expiry < now)
            .map(|(k, _)| *k)
            .collect();
        let mut removed = 0;
        for id in &expired {
            if self.cache.remove(id).is_some() {
                removed += 1;
            }
        }
        removed
    }
}
