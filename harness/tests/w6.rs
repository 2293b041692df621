//! W6 measures every point of a cache in alternating rounds, each point
//! through one handle for the whole measurement (a private-per-thread
//! cache keeps its sessions in the handle).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{scale_points, Suite, Workload};

/// Counts, over every handle of its caches, stores, lookups that missed
/// and sessions flushed.
#[derive(Default)]
struct Tally {
    stores: AtomicUsize,
    misses: AtomicUsize,
    flushed: AtomicUsize,
    /// Expiring stores (timeout under W6's live 7 200 s) that did not
    /// expire before the expiring store before them since the last flush.
    unordered: AtomicUsize,
    /// The sizing hint of every cache built, in order.
    sessions: std::sync::Mutex<Vec<usize>>,
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
        if !hit {
            self.tally.misses.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }
    fn remove(&mut self, id: &Id) {
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

#[test]
fn every_round_finds_the_live_sessions_and_flushes_its_expired_ones() {
    // rustls has no expiry: it gets no expiring sessions, so its live count
    // stays the point's. A point of one session shares no seed with the
    // expiring ones.
    let lives = [1, 100, 2_000];
    // Every cache that takes part in W6 (all but the Redis tier, with the
    // default features).
    let w6: Vec<Box<dyn Driver>> = drivers::suite(None)
        .into_iter()
        .filter(|d| d.workloads().contains(&Workload::W6))
        .collect();
    assert!(w6.iter().any(|d| d.name() == "sesscache"));
    for inner in w6 {
        let name = inner.name();
        let expiry = inner.traits().expiry;
        let tally = Arc::new(Tally::default());
        let driver = Counting {
            inner,
            tally: tally.clone(),
        };
        let suite = Suite {
            full: false,
            threads: vec![1],
            repeats: 1,
            cell: Duration::from_millis(5),
            value: value(300),
            drivers: Vec::new(),
            workloads: Vec::new(),
            start: 1_700_000_000,
            progress: ProgressBar::hidden(),
        };
        let points = scale_points(&suite, &driver, &lives);
        assert_eq!(points.iter().map(|p| p.live).collect::<Vec<_>>(), lives);
        // Each point's cache is told what it will hold: its live sessions
        // and a round's expiring ones (rustls sizes its table from that).
        assert_eq!(
            *tally.sessions.lock().unwrap(),
            lives.map(|l| l + 1_000),
            "{name}: the sizing hints"
        );
        assert!(points
            .iter()
            .all(|p| p.lookup_ns > 0.0 && p.store_ns.is_finite() && p.store_ns > 0.0));
        assert_eq!(
            tally.misses.load(Ordering::Relaxed),
            0,
            "{name}: every lookup hits"
        );
        let live: usize = lives.iter().sum();
        if !expiry {
            assert!(points
                .iter()
                .all(|p| p.flushes_us.is_empty() && p.flush_1k_us.is_nan()));
            assert_eq!(
                tally.stores.load(Ordering::Relaxed),
                live,
                "{name}: no expiring stores"
            );
            assert_eq!(tally.flushed.load(Ordering::Relaxed), 0);
            continue;
        }
        let rounds = points[0].flushes_us.len();
        assert!(
            (3..=7).contains(&rounds),
            "{name}: {rounds} rounds (quick ones: 3 to 7)"
        );
        assert!(points.iter().all(|p| p.flushes_us.len() == rounds));
        assert!(points.iter().all(|p| p.flush_1k_us.is_finite()));
        assert_eq!(
            tally.stores.load(Ordering::Relaxed),
            live + lives.len() * rounds * 1_000,
            "{name}: the live sessions, and 1 000 expiring ones per point and round"
        );
        assert_eq!(
            tally.flushed.load(Ordering::Relaxed),
            lives.len() * rounds * 1_000,
            "{name}: each flush removes its round's 1 000 expired sessions"
        );
        // Each expiring session expires before the one stored before it, so
        // that OpenSSL appends it to its list instead of walking the list.
        assert_eq!(
            tally.unordered.load(Ordering::Relaxed),
            0,
            "{name}: expiries strictly decreasing within a round"
        );
    }
}
