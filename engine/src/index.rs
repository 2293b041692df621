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

/// (expiry in seconds, insertion sequence number).
pub(crate) type IndexKey = (u64, u64);

/// What the cache needs of an ordered concurrent index.
pub(crate) trait ExpiryIndex<T>: Send + Sync {
    fn insert(&self, key: IndexKey, value: Arc<T>);
    fn remove(&self, key: &IndexKey);
    /// Visits entries in key order within `(lower, upper)` until `visit`
    /// returns false. Entries inserted or removed meanwhile may or may not be
    /// seen. `visit` must not touch the index.
    fn scan(
        &self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        visit: &mut dyn FnMut(&IndexKey, &Arc<T>) -> bool,
    );
    fn len(&self) -> usize;
}

/// The production index: a lock-free skiplist.
#[cfg(not(sesscache_loom))]
pub(crate) struct SkipIndex<T> {
    list: crossbeam_skiplist::SkipMap<IndexKey, Arc<T>>,
}

#[cfg(not(sesscache_loom))]
impl<T> SkipIndex<T> {
    pub(crate) fn new() -> Self {
        SkipIndex {
            list: crossbeam_skiplist::SkipMap::new(),
        }
    }
}

#[cfg(not(sesscache_loom))]
impl<T: Send + Sync + 'static> ExpiryIndex<T> for SkipIndex<T> {
    fn insert(&self, key: IndexKey, value: Arc<T>) {
        self.list.insert(key, value);
    }

    fn remove(&self, key: &IndexKey) {
        self.list.remove(key);
    }

    fn scan(
        &self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        visit: &mut dyn FnMut(&IndexKey, &Arc<T>) -> bool,
    ) {
        // Not `SkipMap::range`: in crossbeam-skiplist 0.1.3 its iterator
        // leaks a reference to every node it passes, so a flushed node would
        // never be freed (crossbeam issue #1178, fixed upstream after 0.1.3).
        // `lower_bound` and `Entry::next` release their references.
        let mut cursor = match lower {
            Bound::Unbounded => self.list.front(),
            Bound::Included(k) => self.list.lower_bound(Bound::Included(&k)),
            Bound::Excluded(k) => self.list.lower_bound(Bound::Excluded(&k)),
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
    fn insert(&self, key: IndexKey, value: Arc<T>) {
        self.list.lock().unwrap().insert(key, value);
    }

    fn remove(&self, key: &IndexKey) {
        self.list.lock().unwrap().remove(key);
    }

    fn scan(
        &self,
        lower: Bound<IndexKey>,
        upper: Bound<IndexKey>,
        visit: &mut dyn FnMut(&IndexKey, &Arc<T>) -> bool,
    ) {
        // Copy the range out so `visit` runs without the stand-in's lock,
        // as it would with the skiplist.
        let snapshot: Vec<(IndexKey, Arc<T>)> = self
            .list
            .lock()
            .unwrap()
            .range((lower, upper))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (k, v) in &snapshot {
            if !visit(k, v) {
                break;
            }
        }
    }

    fn len(&self) -> usize {
        self.list.lock().unwrap().len()
    }
}
