//! The expiry index: every cached entry ordered by (expiry, insertion
//! sequence), so that flush visits only expired entries and eviction takes
//! the soonest-expiring one (among equal expiries, the oldest added) — the
//! order of OpenSSL's session list, without its lock.
//!
//! The index is a trait so that a model checker can substitute a stand-in
//! made of its own primitives: crossbeam-skiplist (Pugh, "Skip Lists: A
//! Probabilistic Alternative to Balanced Trees", CACM 1990, made lock-free as
//! in Fraser 2004) uses core atomics that loom cannot see; its internals are
//! covered by crossbeam's own tests.

use core::ops::Bound;
use std::sync::Arc;

use crate::sync::epoch::Guard;

/// (expiry in seconds, insertion sequence number).
pub(crate) type IndexKey = (u64, u64);

/// What the cache needs of an ordered concurrent index.
///
/// Every operation runs under the caller's epoch guard, which must be pinned
/// (`epoch::pin`, never `epoch::unprotected`): a value seen by `scan` stays
/// valid (and its `Arc` readable without touching its count) until that
/// guard is dropped, even if another thread removes it meanwhile.
pub(crate) trait ExpiryIndex<T>: Send + Sync {
    fn insert(&self, key: IndexKey, value: Arc<T>, guard: &Guard);
    fn remove(&self, key: &IndexKey, guard: &Guard);
    /// Visits entries in key order within `(lower, upper)` until `visit`
    /// returns false. Entries inserted or removed meanwhile may or may not be
    /// seen. `visit` must not touch the index.
    fn scan<'g>(
        &'g self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        guard: &'g Guard,
        visit: &mut dyn FnMut(&IndexKey, &'g Arc<T>) -> bool,
    );
    fn len(&self) -> usize;
}

/// The production index: a lock-free skiplist, used through crossbeam's
/// guard-based API: a scan takes no reference on the nodes it passes (it
/// writes only to help unlink a node another thread removed), so its cache
/// misses can overlap.
#[cfg(not(sesscache_loom))]
pub(crate) struct SkipIndex<T> {
    list: crossbeam_skiplist::base::SkipList<IndexKey, Arc<T>>,
}

#[cfg(not(sesscache_loom))]
impl<T> SkipIndex<T> {
    pub(crate) fn new() -> Self {
        SkipIndex {
            // The default collector: the one `epoch::pin` pins, so the
            // cache's guards protect the skiplist's nodes too.
            list: crossbeam_skiplist::base::SkipList::new(
                crossbeam_epoch::default_collector().clone(),
            ),
        }
    }
}

#[cfg(not(sesscache_loom))]
impl<T: Send + Sync + 'static> ExpiryIndex<T> for SkipIndex<T> {
    fn insert(&self, key: IndexKey, value: Arc<T>, guard: &Guard) {
        self.list.insert(key, value, guard).release(guard);
    }

    fn remove(&self, key: &IndexKey, guard: &Guard) {
        if let Some(e) = self.list.remove(key, guard) {
            e.release(guard);
        }
    }

    fn scan<'g>(
        &'g self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        guard: &'g Guard,
        visit: &mut dyn FnMut(&IndexKey, &'g Arc<T>) -> bool,
    ) {
        // A guard-based cursor: no reference is taken, so none can leak (as
        // `SkipMap::range` leaked one per node in crossbeam-skiplist 0.1.3,
        // crossbeam issue #1178).
        let mut cursor = match lower {
            Bound::Unbounded => self.list.front(guard),
            Bound::Included(k) => self.list.lower_bound(Bound::Included(&k), guard),
            Bound::Excluded(k) => self.list.lower_bound(Bound::Excluded(&k), guard),
        };
        while let Some(e) = cursor {
            let below_upper = match upper {
                Bound::Unbounded => true,
                Bound::Included(k) => *e.key() <= k,
                Bound::Excluded(k) => *e.key() < k,
            };
            if !below_upper || !visit(e.key(), e.value()) {
                break;
            }
            cursor = e.next();
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}

/// The model checker's index: a loom mutex around a `BTreeMap`, so loom sees
/// (and interleaves) every index operation.
#[cfg(sesscache_loom)]
pub(crate) struct SkipIndex<T> {
    list: loom::sync::Mutex<std::collections::BTreeMap<IndexKey, Arc<T>>>,
}

#[cfg(sesscache_loom)]
impl<T> SkipIndex<T> {
    pub(crate) fn new() -> Self {
        SkipIndex {
            list: loom::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }
}

#[cfg(sesscache_loom)]
impl<T: Send + Sync + 'static> ExpiryIndex<T> for SkipIndex<T> {
    fn insert(&self, key: IndexKey, value: Arc<T>, _guard: &Guard) {
        self.list.lock().unwrap().insert(key, value);
    }

    fn remove(&self, key: &IndexKey, _guard: &Guard) {
        self.list.lock().unwrap().remove(key);
    }

    fn scan<'g>(
        &'g self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        guard: &'g Guard,
        visit: &mut dyn FnMut(&IndexKey, &'g Arc<T>) -> bool,
    ) {
        debug_assert!(guard.collector().is_some(), "the guard must be pinned");
        // Copy the range out so `visit` runs without the stand-in's lock,
        // as it would with the skiplist. The copy is freed through the
        // epoch, as the skiplist frees its nodes, so what `visit` is handed
        // stays valid for `guard`.
        let snapshot: Arc<[(IndexKey, Arc<T>)]> = self
            .list
            .lock()
            .unwrap()
            .range((lower, upper))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let items: *const [(IndexKey, Arc<T>)] = Arc::as_ptr(&snapshot);
        guard.defer(move || drop(snapshot));
        // SAFETY: `guard` is pinned (the trait's contract), so the deferred
        // closure, which owns the snapshot, runs only after `guard` is gone;
        // until then the slice is alive and never written.
        for (k, v) in unsafe { &*items } {
            if !visit(k, v) {
                break;
            }
        }
    }

    fn len(&self) -> usize {
        self.list.lock().unwrap().len()
    }
}

#[cfg(all(test, not(sesscache_loom)))]
mod tests {
    use super::*;
    use crate::sync::epoch;

    /// What a scan hands out stays valid for its guard while another thread
    /// removes those very entries (under Miri, a use after free here is
    /// reported; natively the values would be garbage).
    #[test]
    // Under Miri run it with `-Zmiri-disable-stacked-borrows` (races and
    // uses after free are still checked): with either aliasing model Miri
    // stops inside crossbeam-skiplist's own `Drop` (docs/MODEL-CHECKING.md).
    fn scanned_values_outlive_their_removal_until_the_guard_drops() {
        let idx: SkipIndex<u64> = SkipIndex::new();
        let n: u64 = if cfg!(miri) { 800 } else { 20_000 };
        {
            let g = epoch::pin();
            for i in 0..16 {
                idx.insert((i, i), Arc::new(i), &g);
            }
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 16..n {
                    let g = epoch::pin();
                    idx.insert((i, i), Arc::new(i), &g);
                    idx.remove(&(i - 16, i - 16), &g);
                }
            });
            s.spawn(|| {
                for _ in 0..n / 4 {
                    let g = epoch::pin();
                    let mut seen: Vec<(IndexKey, &Arc<u64>)> = Vec::new();
                    idx.scan(Bound::Unbounded, Bound::Unbounded, &g, &mut |k, v| {
                        seen.push((*k, v));
                        seen.len() < 8
                    });
                    std::thread::yield_now();
                    for (k, v) in seen {
                        assert_eq!(k.0, **v);
                    }
                }
            });
        });
        let g = epoch::pin();
        for i in n - 16..n {
            idx.remove(&(i, i), &g);
        }
        drop(g);
        assert_eq!(idx.len(), 0);
    }
}
