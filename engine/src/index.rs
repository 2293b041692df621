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
    /// The greatest key within `upper` (below it, or at it if included),
    /// if any.
    fn last_within(&self, upper: Bound<IndexKey>, guard: &Guard) -> Option<IndexKey>;
    fn len(&self) -> usize;
}

/// How many ranges a flush's warm-up walks side by side
/// ([`SkipIndex::warm`]).
#[cfg(not(sesscache_loom))]
pub(crate) const WARM_RANGES: usize = 4;

/// The ranges a flush's warm-up walks ([`SkipIndex::warm`]) for the
/// expired keys `[first, last]`, the index's first and last keys below
/// `(t, 0)`: consecutive, in key order, together exactly `[first, (t, 0))`
/// (some may be empty).
///
/// Keys spanning at least [`WARM_RANGES`] seconds are cut on whole seconds,
/// evenly. Keys within fewer seconds — an automatic flush every second
/// meets one or two — are cut on sequence numbers, evenly between `first`'s
/// and `last`'s, each cut in the second its share of the sequence numbers
/// falls in, the seconds shared out evenly too (exact within one second;
/// with a fixed timeout, sessions expire in the order they were added, so
/// later seconds hold higher sequence numbers). Where the sequence numbers
/// do not grow from `first` to `last` (timeouts that differ), the cuts fall
/// back to whole seconds.
#[cfg(not(sesscache_loom))]
pub(crate) fn warm_ranges(
    first: IndexKey,
    last: IndexKey,
    t: u64,
) -> [(IndexKey, IndexKey); WARM_RANGES] {
    let ((e0, q0), (el, ql)) = (first, last);
    debug_assert!(
        first <= last && el < t,
        "{first:?} ..= {last:?} against {t}"
    );
    let k = WARM_RANGES as u128;
    let by_seconds = el - e0 >= WARM_RANGES as u64 || ql < q0;
    let cut = |i: usize| -> IndexKey {
        let i = i as u128;
        if i == 0 {
            first
        } else if i == k {
            (t, 0)
        } else if by_seconds {
            // Within [e0, el]: (el + 1 - e0) * i / k ≤ el - e0 for i < k.
            // Not below `first`, which may lie within its second.
            let span = u128::from(el - e0) + 1;
            (e0 + (span * i / k) as u64, 0).max(first)
        } else {
            // The seconds [e0, el] shared out over the sequence numbers
            // [q0, ql] evenly: both grow with i, and stay within their
            // spans (step < span).
            let span = u128::from(ql - q0) + 1;
            let step = span * i / k;
            let e = (u128::from(el - e0) + 1) * step / span;
            (e0 + e as u64, q0 + step as u64)
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

/// The flush's warm-up (docs/DESIGN.md § 4): only a hint, outside the
/// protocol the model checker sees, so the stand-in has none.
#[cfg(not(sesscache_loom))]
impl<T> SkipIndex<T> {
    /// The first and the last key below `upper`, if any.
    pub(crate) fn span_below(
        &self,
        upper: IndexKey,
        guard: &Guard,
    ) -> Option<(IndexKey, IndexKey)> {
        let first = *self.list.front(guard)?.key();
        if first >= upper {
            return None;
        }
        let last = *self.list.upper_bound(Bound::Excluded(&upper), guard)?.key();
        // A concurrent removal can leave `last` before `first`.
        (first <= last).then_some((first, last))
    }

    /// Loads the entries of each range `[start, stop)` of `ranges` (at most
    /// [`WARM_RANGES`]), at most `steps` of each, walking the ranges side
    /// by side, and prefetches each entry's value; returns how many entries
    /// it loaded. The skiplist's bottom level is a chain of dependent
    /// loads, which one walk takes one cache miss at a time; walks of
    /// several ranges, interleaved, have their misses overlap. Only a hint:
    /// it changes nothing but may help unlink removed entries, as any walk
    /// does.
    pub(crate) fn warm(
        &self,
        ranges: &[(IndexKey, IndexKey)],
        steps: usize,
        guard: &Guard,
    ) -> usize {
        debug_assert!(ranges.len() <= WARM_RANGES, "{} ranges", ranges.len());
        let mut cursors: [Option<crossbeam_skiplist::base::Entry<'_, '_, IndexKey, Arc<T>>>;
            WARM_RANGES] = Default::default();
        for (c, (start, stop)) in cursors.iter_mut().zip(ranges) {
            if start < stop {
                *c = self.list.lower_bound(Bound::Included(start), guard);
            }
        }
        let mut loaded = 0;
        for step in 1..=steps {
            let before = loaded;
            for (c, (_, stop)) in cursors.iter_mut().zip(ranges) {
                let Some(e) = c.take() else { continue };
                if e.key() < stop {
                    // Retiring this index entry reads its `Entry` first.
                    prefetch(Arc::as_ptr(e.value()));
                    loaded += 1;
                    if step < steps {
                        *c = e.next();
                    }
                }
            }
            if loaded == before {
                break;
            }
        }
        loaded
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

    fn last_within(&self, upper: Bound<IndexKey>, guard: &Guard) -> Option<IndexKey> {
        let last = match upper {
            Bound::Unbounded => self.list.back(guard),
            Bound::Included(k) => self.list.upper_bound(Bound::Included(&k), guard),
            Bound::Excluded(k) => self.list.upper_bound(Bound::Excluded(&k), guard),
        };
        last.map(|e| *e.key())
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

    fn last_within(&self, upper: Bound<IndexKey>, _guard: &Guard) -> Option<IndexKey> {
        let list = self.list.lock().unwrap();
        list.range((Bound::Unbounded, upper))
            .next_back()
            .map(|(k, _)| *k)
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
    /// small, large and extreme configurations: keys over many seconds,
    /// over two and three, within one, a single key, sequence numbers that
    /// fall from `first` to `last` (timeouts that differ), and the ends of
    /// the key space.
    #[test]
    fn warm_ranges_tile_the_expired_keys() {
        let max_seq = crate::entry::MAX_SEQ;
        let cases: [(IndexKey, IndexKey, u64); 9] = [
            ((10, 3), (1_009, 50_000), 1_010),
            ((10, 3), (11, 60), 12),
            ((10, 3), (12, 90), 13),
            ((10, 3), (12, 1), 13),
            ((10, 3), (10, 3), 11),
            ((10, 3), (10, 4_003), 11),
            ((5, 0), (5, 0), 9),
            ((0, 0), (u64::MAX - 1, max_seq), u64::MAX),
            ((u64::MAX - 1, max_seq), (u64::MAX - 1, max_seq), u64::MAX),
        ];
        for (first, last, t) in cases {
            let r = warm_ranges(first, last, t);
            let case = format!("{first:?} ..= {last:?}, t = {t}: {r:?}");
            assert_eq!(r[0].0, first, "{case}");
            assert_eq!(r[WARM_RANGES - 1].1, (t, 0), "{case}");
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0, "contiguous: {case}");
            }
            for (start, stop) in r {
                assert!(start <= stop && stop <= (t, 0), "ordered: {case}");
            }
        }
    }

    /// How many of `idx`'s keys each range holds.
    fn per_range(idx: &SkipIndex<u64>, ranges: &[(IndexKey, IndexKey)]) -> Vec<usize> {
        let g = epoch::pin();
        ranges
            .iter()
            .map(|r| idx.warm(core::slice::from_ref(r), usize::MAX, &g))
            .collect()
    }

    /// The ranges share the expired keys out evenly in the layouts a flush
    /// meets — one expiry per second, a fixed timeout whose expired
    /// sessions fill one, two or three seconds while live ones (with higher
    /// sequence numbers) follow — by whole seconds over five, and at least
    /// tile them where timeouts differ. Cutting sequence numbers up to the
    /// counter's next value rather than the last expired key's, or by
    /// seconds when there are only a few, leaves ranges empty here. Where
    /// the sequence numbers fall from the first expired key to the last (a
    /// server that shortened its timeout: older sessions expire later), the
    /// cuts fall back to whole seconds, one range per second over three
    /// seconds and a quarter of them each over eight; cutting such keys by
    /// sequence number would overflow.
    #[test]
    fn warm_ranges_share_the_expired_keys_out_evenly() {
        // (keys, t, expected per range)
        let one_per_second: Vec<IndexKey> = (0..1_000).map(|i| (10 + i, i)).collect();
        let fixed_timeout = |seconds: u64, per_second: u64| -> Vec<IndexKey> {
            (0..seconds * per_second)
                .map(|q| (10 + q / per_second, q))
                // Live sessions: added later, expiring much later.
                .chain((0..500).map(|i| (5_000, seconds * per_second + i)))
                .collect()
        };
        let differing: Vec<IndexKey> = (0..1_000).map(|q: u64| (10 + (q * 7919) % 3, q)).collect();
        // The newest sessions expire first: sequence numbers fall with the
        // seconds.
        let falling = |seconds: u64, per_second: u64| -> Vec<IndexKey> {
            let n = seconds * per_second;
            (0..n)
                .map(|q| (10 + (n - 1 - q) / per_second, q))
                .chain((0..500).map(|i| (5_000, n + i)))
                .collect()
        };
        let layouts: [(Vec<IndexKey>, u64, Option<[usize; WARM_RANGES]>); 8] = [
            (one_per_second, 1_010, Some([250; 4])),
            (fixed_timeout(1, 1_000), 11, Some([250; 4])),
            (fixed_timeout(2, 500), 12, Some([250; 4])),
            (fixed_timeout(3, 300), 13, Some([225; 4])),
            (fixed_timeout(5, 200), 15, Some([200, 200, 200, 400])),
            (differing, 13, None),
            (falling(3, 300), 13, Some([0, 300, 300, 300])),
            (falling(8, 125), 18, Some([250; 4])),
        ];
        for (keys, t, expected) in layouts {
            let idx: SkipIndex<u64> = SkipIndex::new();
            let g = epoch::pin();
            for &k in &keys {
                idx.insert(k, Arc::new(k.1), &g);
            }
            let expired = keys.iter().filter(|k| k.0 < t).count();
            let (first, last) = idx.span_below((t, 0), &g).expect("some expired");
            let r = warm_ranges(first, last, t);
            let counts = per_range(&idx, &r);
            assert_eq!(counts.iter().sum::<usize>(), expired, "{r:?}");
            if let Some(expected) = expected {
                assert_eq!(counts, expected, "t = {t}: {r:?}");
            }
        }
    }

    /// `span_below` finds the first and last key below a bound, and none
    /// when nothing lies below it.
    #[test]
    fn span_below_finds_the_first_and_last_key_below_the_bound() {
        let idx: SkipIndex<u64> = SkipIndex::new();
        let g = epoch::pin();
        assert_eq!(idx.span_below((10, 0), &g), None);
        for i in 0..100 {
            idx.insert((10 + i / 10, i), Arc::new(i), &g);
        }
        assert_eq!(idx.span_below((10, 0), &g), None);
        assert_eq!(idx.span_below((10, 1), &g), Some(((10, 0), (10, 0))));
        assert_eq!(idx.span_below((13, 0), &g), Some(((10, 0), (12, 29))));
        assert_eq!(idx.span_below((u64::MAX, 0), &g), Some(((10, 0), (19, 99))));
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
        // A range whose start is not below its stop loads nothing.
        assert_eq!(idx.warm(&[((50, 0), (25, 0))], 1_000, &g), 0);
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
