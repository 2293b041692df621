//! A driver that wraps another and counts, over every handle of the caches
//! it builds, what the workloads did to them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sesscache_harness::cache::{CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};
use sesscache_harness::workloads::Workload;

/// What every handle of a wrapped driver's caches did.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) stores: AtomicUsize,
    pub(crate) hits: AtomicUsize,
    pub(crate) misses: AtomicUsize,
    pub(crate) removes: AtomicUsize,
    pub(crate) flushed: AtomicUsize,
    /// Expiring stores (timeout under the live 7 200 s) that did not
    /// expire before the expiring store before them since the last flush.
    pub(crate) unordered: AtomicUsize,
    /// The sizing hint of every cache built, in order.
    pub(crate) sessions: Mutex<Vec<usize>>,
    /// Every id stored (a prefill through the handles included).
    pub(crate) stored: Mutex<HashSet<Id>>,
}

/// `inner`, counting into `tally`.
pub(crate) struct Counting {
    pub(crate) inner: Box<dyn Driver>,
    pub(crate) tally: Arc<Tally>,
}

struct CountingCache {
    inner: Box<dyn SharedCache>,
    tally: Arc<Tally>,
}

struct CountingHandle<'a> {
    inner: Box<dyn CacheHandle + 'a>,
    tally: Arc<Tally>,
    /// The expiry of the last expiring store since the last flush.
    last_expiry: Option<u64>,
}

impl Driver for Counting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn traits(&self) -> Traits {
        self.inner.traits()
    }
    fn mapping(&self) -> &'static str {
        self.inner.mapping()
    }
    fn version(&self) -> String {
        self.inner.version()
    }
    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        self.tally.sessions.lock().unwrap().push(config.sessions);
        Box::new(CountingCache {
            inner: self.inner.build(config),
            tally: self.tally.clone(),
        })
    }
    fn workloads(&self) -> &'static [Workload] {
        self.inner.workloads()
    }
}

impl SharedCache for CountingCache {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(CountingHandle {
            inner: self.inner.handle(),
            tally: self.tally.clone(),
            last_expiry: None,
        })
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

impl CacheHandle for CountingHandle<'_> {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        self.tally.stores.fetch_add(1, Ordering::Relaxed);
        self.tally.stored.lock().unwrap().insert(*id);
        if timeout < 7200 {
            let expiry = now + timeout;
            if self.last_expiry.is_some_and(|last| expiry >= last) {
                self.tally.unordered.fetch_add(1, Ordering::Relaxed);
            }
            self.last_expiry = Some(expiry);
        }
        self.inner.store(id, value, now, timeout);
    }
    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        let hit = self.inner.lookup(id, now);
        let n = if hit {
            &self.tally.hits
        } else {
            &self.tally.misses
        };
        n.fetch_add(1, Ordering::Relaxed);
        hit
    }
    fn remove(&mut self, id: &Id) {
        self.tally.removes.fetch_add(1, Ordering::Relaxed);
        self.inner.remove(id);
    }
    fn take(&mut self, id: &Id, now: u64) -> bool {
        self.inner.take(id, now)
    }
    fn flush(&mut self, now: u64) -> usize {
        self.last_expiry = None;
        let n = self.inner.flush(now);
        self.tally.flushed.fetch_add(n, Ordering::Relaxed);
        n
    }
}
