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
#[cfg(not(sesscache_loom))]
use crate::sync::prefetch;

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

    /// Loads (a hint: it only reads, and may help unlink removed entries as
    /// any walk does) the entries of each range `[start, stop)` of
    /// `ranges`, at most `steps` of each, walking the ranges side by side.
    /// An ordered list is a chain of dependent loads, which one walk takes
    /// one cache miss at a time; walks of several ranges, interleaved, have
    /// their misses overlap. Returns how many entries it loaded. The
    /// default does nothing.
    fn warm(&self, ranges: &[(IndexKey, IndexKey)], steps: usize, guard: &Guard) -> usize {
        let _ = (ranges, steps, guard);
        0
    }
}

/// How many ranges a flush's warm-up walks side by side.
pub(crate) const WARM_RANGES: usize = 4;

/// The ranges a flush of the keys in `[first, (t, 0))` warms (see
/// [`ExpiryIndex::warm`]): consecutive, in key order, together exactly
/// `[first, (t, 0))` (some may be empty), `first` being the index's first
/// key, which must be below `(t, 0)`. Expired sessions spread over several
/// seconds are split by expiry; within one second (all expired at `t - 1`)
/// by sequence number, up to `next_seq`, the next one to be handed out.
pub(crate) fn warm_ranges(
    first: IndexKey,
    t: u64,
    next_seq: u64,
) -> [(IndexKey, IndexKey); WARM_RANGES] {
    let (e0, q0) = first;
    debug_assert!(e0 < t, "nothing expired: {first:?} against {t}");
    let k = WARM_RANGES as u128;
    let cut = |i: usize| -> IndexKey {
        let i = i as u128;
        if i == 0 {
            first
        } else if i == k {
            (t, 0)
        } else if t - e0 >= 2 {
            // Below t: (t - e0) * i / k < t - e0 for i < k. Not below
            // `first`, which may lie within the first second.
            (e0 + ((u128::from(t - e0) * i / k) as u64), 0).max(first)
        } else {
            // Below next_seq (or q0 itself when nothing was handed out
            // after it), so within expiry e0 = t - 1.
            let span = u128::from(next_seq.saturating_sub(q0));
            (e0, q0 + (span * i / k) as u64)
        }
    };
    core::array::from_fn(|i| (cut(i), cut(i + 1)))
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

    fn warm(&self, ranges: &[(IndexKey, IndexKey)], steps: usize, guard: &Guard) -> usize {
        debug_assert!(ranges.len() <= WARM_RANGES, "{} ranges", ranges.len());
        let mut cursors: [Option<crossbeam_skiplist::base::Entry<'_, '_, IndexKey, Arc<T>>>;
            WARM_RANGES] = Default::default();
        for (c, (start, _)) in cursors.iter_mut().zip(ranges) {
            *c = self.list.lower_bound(Bound::Included(start), guard);
        }
        let mut loaded = 0;
        for _ in 0..steps {
            let before = loaded;
            for (c, (_, stop)) in cursors.iter_mut().zip(ranges) {
                let Some(e) = c.take() else { continue };
                if e.key() < stop {
                    // The entry is what retiring this one reads first.
                    prefetch(Arc::as_ptr(e.value()));
                    *c = e.next();
                    loaded += 1;
                }
            }
            if loaded == before {
                break;
            }
        }
        loaded
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

    /// The warm-up's ranges tile `[first, (t, 0))` in key order, over
    /// small, large and extreme configurations: expiries spread over many
    /// seconds (cut on whole seconds, evenly), over fewer seconds than
    /// ranges, within one second (cut on sequence numbers below
    /// `next_seq`, evenly), and a counter that wrapped below `first`.
    #[test]
    fn warm_ranges_tile_the_expired_keys() {
        let cases: [(IndexKey, u64, u64); 8] = [
            ((10, 3), 1_010, 50),
            ((10, 3), 12, 50),
            ((10, 3), 11, 4_003),
            ((10, 3), 11, 3),
            ((10, 3), 11, 1),
            ((0, 0), u64::MAX, u64::MAX),
            (
                (u64::MAX - 1, crate::entry::MAX_SEQ),
                u64::MAX,
                crate::entry::MAX_SEQ,
            ),
            ((5, 0), 9, 0),
        ];
        for (first, t, next_seq) in cases {
            let r = warm_ranges(first, t, next_seq);
            let case = format!("{first:?} t={t} next_seq={next_seq}: {r:?}");
            assert_eq!(r[0].0, first, "{case}");
            assert_eq!(r[WARM_RANGES - 1].1, (t, 0), "{case}");
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0, "contiguous: {case}");
            }
            for (start, stop) in r {
                assert!(start <= stop, "ordered: {case}");
            }
        }
        // Many seconds: whole seconds, a quarter each.
        let r = warm_ranges((10, 3), 1_010, 50);
        assert_eq!(
            r.map(|(s, _)| s),
            [(10, 3), (260, 0), (510, 0), (760, 0)],
            "{r:?}"
        );
        // One second: sequence numbers from 3 up to 4 003, a quarter each.
        let r = warm_ranges((10, 3), 11, 4_003);
        assert_eq!(
            r.map(|(s, _)| s),
            [(10, 3), (10, 1_003), (10, 2_003), (10, 3_003)],
            "{r:?}"
        );
    }

    /// The warm-up walks each range up to its stop and at most `steps`
    /// entries of each, and changes nothing.
    #[test]
    fn warm_loads_each_range_up_to_its_stop_and_step_budget() {
        let idx: SkipIndex<u64> = SkipIndex::new();
        let g = epoch::pin();
        for i in 0..1_000 {
            idx.insert((i / 10, i), Arc::new(i), &g);
        }
        let quarters = [
            ((0, 0), (25, 0)),
            ((25, 0), (50, 0)),
            ((50, 0), (75, 0)),
            ((75, 0), (100, 0)),
        ];
        assert_eq!(idx.warm(&quarters, 1_000, &g), 1_000);
        assert_eq!(idx.warm(&quarters, 100, &g), 400);
        assert_eq!(idx.warm(&quarters, 0, &g), 0);
        // Uneven ranges, one empty, one past the last key, one ending
        // between two keys of one expiry.
        let uneven = [
            ((0, 0), (0, 5)),
            ((3, 0), (3, 0)),
            ((99, 995), (200, 0)),
            ((10, 0), (11, 0)),
        ];
        // 5 before (0, 5), none in the empty range, 5 from (99, 995), 10.
        assert_eq!(idx.warm(&uneven, 1_000, &g), 20);
        assert_eq!(idx.warm(&[], 1_000, &g), 0);
        assert_eq!(idx.len(), 1_000);
        let mut keys = Vec::new();
        idx.scan(Bound::Unbounded, Bound::Unbounded, &g, &mut |k, _| {
            keys.push(*k);
            true
        });
        assert_eq!(keys, (0..1_000).map(|i| (i / 10, i)).collect::<Vec<_>>());
    }

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
