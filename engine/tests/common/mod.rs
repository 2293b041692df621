//! Shared helpers for the engine's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sesscache::{CacheBuilder, CacheMode, ManualClock, Session, SessionCache};

/// The table sizes every scenario runs over: a 2-bucket table that must
/// grow on the first few adds, and the default.
pub const TABLES: [usize; 3] = [2, 4, 16];

/// What a cache's callbacks saw, in order.
#[derive(Default)]
pub struct Seen {
    pub removed: Mutex<Vec<Vec<u8>>>,
    pub new: Mutex<Vec<Vec<u8>>>,
}

impl Seen {
    pub fn removed(&self) -> Vec<Vec<u8>> {
        self.removed.lock().unwrap().clone()
    }
    pub fn new_ids(&self) -> Vec<Vec<u8>> {
        self.new.lock().unwrap().clone()
    }
    pub fn removed_count(&self) -> usize {
        self.removed.lock().unwrap().len()
    }
}

/// A builder with a manual clock at `t` and recording callbacks.
pub fn recording<V: Send + Sync + 'static>(
    table: usize,
    clock: &ManualClock,
    seen: &Arc<Seen>,
) -> CacheBuilder<V> {
    let on_remove = seen.clone();
    let on_new = seen.clone();
    SessionCache::builder()
        .table_buckets(table)
        .clock(clock.clone())
        .on_remove(move |s: &Session<V>| on_remove.removed.lock().unwrap().push(s.id().to_vec()))
        .on_new(move |s: &Arc<Session<V>>| on_new.new.lock().unwrap().push(s.id().to_vec()))
}

pub fn sess<V>(id: &[u8], time: u64, timeout: u64, v: V) -> Arc<Session<V>> {
    Arc::new(Session::new(id, time, timeout, v).unwrap())
}

pub fn modes() -> [CacheMode; 4] {
    [
        CacheMode::default(),
        CacheMode::NO_AUTO_CLEAR,
        CacheMode::UPDATE_TIME,
        CacheMode::NO_AUTO_CLEAR | CacheMode::UPDATE_TIME,
    ]
}

/// A cache with the given size bound (0: none) whose `on_remove` counts its
/// calls (in the returned counter), then runs `then`.
pub fn counting_cache<V: Send + Sync + 'static>(
    capacity: usize,
    then: impl Fn(&Session<V>) + Send + Sync + 'static,
) -> (SessionCache<V>, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    let cache = SessionCache::builder()
        .capacity(capacity)
        .clock(ManualClock::new(0))
        .on_remove(move |s: &Session<V>| {
            c2.fetch_add(1, Ordering::SeqCst);
            then(s);
        })
        .build();
    (cache, count)
}
