//! sesscache itself, through its public API.

use std::sync::Arc;

use sesscache::{CacheMode, ManualClock, Session, SessionCache};

use crate::build_info::{crates, version_of};
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// sesscache: `store` → `SessionCache::store`, lookup → `lookup_with`
/// (no reference count touched), `remove`, `take`, `flush`.
#[derive(Debug)]
pub struct SesscacheDriver;

impl Driver for SesscacheDriver {
    fn name(&self) -> &'static str {
        "sesscache"
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
        format!(
            "{} ({})",
            version_of("sesscache"),
            crates(&["crossbeam-epoch@0.9", "crossbeam-skiplist@0.1", "ahash@0.8"])
        )
    }

    fn mapping(&self) -> &'static str {
        "store → SessionCache::store (auto flush off: NO_AUTO_CLEAR), lookup → lookup_with \
         (expiry checked, stats counted), remove → remove, take → take, flush → flush"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        Box::new(Shared {
            cache: SessionCache::builder()
                .capacity(config.capacity)
                .timeout(config.timeout)
                // The harness flushes explicitly, as the workloads say.
                .mode(CacheMode::NO_AUTO_CLEAR)
                // Lookups check expiry against the logical start time.
                .clock(ManualClock::new(config.start))
                .build(),
        })
    }
}

struct Shared {
    cache: SessionCache<Value>,
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(Handle { cache: &self.cache })
    }

    fn len(&self) -> usize {
        self.cache.len()
    }
}

struct Handle<'a> {
    cache: &'a SessionCache<Value>,
}

impl CacheHandle for Handle<'_> {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        let s = Session::new(id, now, timeout, value.clone()).expect("32-byte ids are valid");
        self.cache.store(&Arc::new(s));
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        // The cache's clock reads the run's logical time.
        let _ = now;
        self.cache
            .lookup_with(id, |s| consume(s.value()))
            .unwrap_or(false)
    }

    fn remove(&mut self, id: &Id) {
        // remove() takes a session: any object with the id will do.
        let probe = Session::new(id, 0, 0, Value::from(&[][..])).expect("valid id");
        self.cache.remove(&probe);
    }

    fn take(&mut self, id: &Id, _now: u64) -> bool {
        self.cache.take(id).is_some()
    }

    fn flush(&mut self, now: u64) -> usize {
        self.cache.flush(now)
    }
}
