//! W1 keeps a steady state however long a cell runs: its lookups all ask
//! for prefilled sessions, which stay cached (the removes take ids of the
//! threads' own stores), and the stores cycle through a bounded pool of ids
//! (2 048 in all), so the cache does not grow with the cell.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{resumption, ResumptionSpec, Suite, Workload};

/// What every handle of a cache did.
#[derive(Default)]
struct Tally {
    hits: AtomicUsize,
    misses: AtomicUsize,
    removes: AtomicUsize,
    /// Every id stored or prefilled.
    stored: Mutex<HashSet<Id>>,
}

struct Counting {
    inner: Box<dyn Driver>,
    tally: Arc<Tally>,
}

struct CountingCache {
    inner: Box<dyn SharedCache>,
    tally: Arc<Tally>,
}

struct CountingHandle<'a> {
    inner: Box<dyn CacheHandle + 'a>,
    tally: Arc<Tally>,
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
        })
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn prefill(&self, ids: &[Id], value: &Value, now: u64, timeout: u64) {
        self.tally
            .stored
            .lock()
            .unwrap()
            .extend(ids.iter().copied());
        self.inner.prefill(ids, value, now, timeout);
    }
}

impl CacheHandle for CountingHandle<'_> {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        self.tally.stored.lock().unwrap().insert(*id);
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
        self.inner.flush(now)
    }
}

/// A shared cache and the private-per-thread limit, with a prefill small
/// enough that the cell removes more sessions than it holds: every lookup
/// still hits, and the ids ever stored stay within the prefill plus one
/// pool per thread.
#[test]
fn w1_lookups_keep_hitting_and_the_cache_keeps_its_size() {
    const PREFILL: usize = 200;
    const THREADS: usize = 2;
    for name in ["naive", "limit"] {
        let inner = drivers::all()
            .into_iter()
            .find(|d| d.name() == name)
            .unwrap();
        let tally = Arc::new(Tally::default());
        let driver = Counting {
            inner,
            tally: tally.clone(),
        };
        let suite = Suite {
            full: false,
            threads: vec![THREADS],
            repeats: 1,
            cell: Duration::from_millis(200),
            value: value(300),
            drivers: Vec::new(),
            workloads: Vec::new(),
            start: 1_700_000_000,
            progress: ProgressBar::hidden(),
        };
        let spec = ResumptionSpec {
            prefill: PREFILL,
            ..ResumptionSpec::w1()
        };
        resumption(&suite, &driver, THREADS, &spec, 0);
        let (hits, misses) = (
            tally.hits.load(Ordering::Relaxed),
            tally.misses.load(Ordering::Relaxed),
        );
        let removes = tally.removes.load(Ordering::Relaxed);
        assert!(
            removes > 2 * PREFILL,
            "{name}: only {removes} removes: the cell is too short to tell"
        );
        assert_eq!(misses, 0, "{name}: {hits} hits, {misses} misses");
        let stored = tally.stored.lock().unwrap().len();
        assert!(
            stored <= PREFILL + 2048,
            "{name}: {stored} distinct ids stored"
        );
    }
}
