//! Loom models of the engine's concurrent protocol: 2–3 threads each, on
//! tiny configurations (a 2-bucket table that grows, capacities 1–3), with
//! every atomic of the engine and of crossbeam-epoch under loom's control.
//!
//! Session values are `loom::alloc::Track`ed, so a session (and thus an
//! entry) that is never freed fails the model at the end of an execution.
//!
//! Run with `scripts/loom.sh` (or see docs/MODEL-CHECKING.md).
#![cfg(sesscache_loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};

use loom::alloc::Track;
use loom::thread;
use sesscache::{CacheMode, ManualClock, Session, SessionCache};

type Value = Track<u32>;
type Cache = SessionCache<Value>;

/// Runs `f` under loom, with at most 3 preemptions unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise.
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    model_bounded(3, f);
}

/// Runs `f` under loom, with at most `preemptions` preemptions unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise: for models whose scenario needs
/// fewer and would take many minutes at 3.
fn model_bounded<F: Fn() + Sync + Send + 'static>(preemptions: usize, f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let started = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, SeqCst);
        f();
    });
    eprintln!(
        "{}: {} executions in {:.2} s (preemption bound {})",
        std::thread::current().name().unwrap_or("model"),
        executions.load(SeqCst),
        started.elapsed().as_secs_f64(),
        builder.preemption_bound.unwrap_or(0),
    );
}

fn sess(id: &[u8], time: u64, timeout: u64, v: u32) -> Arc<Session<Value>> {
    Arc::new(Session::new(id, time, timeout, Track::new(v)).unwrap())
}

/// Counts `on_remove` calls per session value (values are small integers).
#[derive(Default)]
struct Removals {
    by_value: [AtomicUsize; 8],
}

impl Removals {
    fn count(&self, v: u32) -> usize {
        self.by_value[v as usize].load(SeqCst)
    }
    fn total(&self) -> usize {
        self.by_value.iter().map(|c| c.load(SeqCst)).sum()
    }
}

fn tiny(capacity: usize, removals: &Arc<Removals>) -> Cache {
    let r = removals.clone();
    SessionCache::builder()
        .capacity(capacity)
        .table_buckets(2)
        .clock(ManualClock::new(10))
        .mode(CacheMode::NO_AUTO_CLEAR)
        .on_remove(move |s: &Session<Value>| {
            r.by_value[*s.value().get_ref() as usize].fetch_add(1, SeqCst);
        })
        .build()
}

/// The cache's length, its map and its index agree.
fn assert_consistent(cache: &Cache) {
    let (map, index, _) = cache.debug_sizes();
    assert_eq!(
        (map, index),
        (cache.len(), cache.len()),
        "map, index and len disagree"
    );
}

/// Model 1: two adds of different sessions with one id. At quiescence
/// exactly one is cached, len is 1, and map and index agree.
#[test]
fn m1_add_vs_add_same_id() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(2, &removals));
        let a = sess(b"k", 10, 100, 1);
        let b = sess(b"k", 10, 100, 2);
        let (c, a2) = (cache.clone(), a.clone());
        let t = thread::spawn(move || assert!(c.add(&a2)));
        assert!(cache.add(&b));
        t.join().unwrap();
        assert_eq!(cache.len(), 1);
        assert_consistent(&cache);
        let got = cache.lookup(b"k").expect("one of them is cached");
        assert!(Arc::ptr_eq(&got, &a) || Arc::ptr_eq(&got, &b));
        assert_eq!(removals.total(), 0, "replacement is silent");
    });
}

/// Model 1b: two adds of different ids into a cache of capacity 1: the
/// bound holds at quiescence, and the evicted one is reported once.
#[test]
fn m1b_add_vs_add_capacity_one() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(1, &removals));
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.add(&sess(b"a", 10, 100, 1))));
        assert!(cache.add(&sess(b"b", 10, 100, 2)));
        t.join().unwrap();
        assert_eq!(cache.len(), 1, "the bound holds at quiescence");
        assert_consistent(&cache);
        assert_eq!(removals.total(), 1);
        assert_eq!(cache.stats().cache_full, 1);
    });
}

/// Model 1c: a replacement racing the add of a new id, capacity 1. The
/// replacement expires sooner than the session it replaces, so the adder's
/// scan may find it still PENDING and the old one already RETIRED: then the
/// replacing thread must settle the bound itself.
#[test]
fn m1c_replacement_vs_new_id_capacity_one() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(1, &removals));
        cache.add(&sess(b"x", 10, 100, 1));
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.add(&sess(b"x", 10, 50, 2))));
        assert!(cache.add(&sess(b"n", 10, 200, 3)));
        t.join().unwrap();
        assert_eq!(cache.len(), 1, "the bound holds at quiescence");
        assert_consistent(&cache);
    });
}

/// Model 1d: two adds of new ids into a full cache of capacity 1, one
/// expiring before the cached session and one after: one eviction each way
/// is fine, but the cache must end with exactly one session.
#[test]
fn m1d_two_adds_into_a_full_cache() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(1, &removals));
        cache.add(&sess(b"z", 10, 100, 1));
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.add(&sess(b"b", 10, 50, 2))));
        assert!(cache.add(&sess(b"a", 10, 200, 3)));
        t.join().unwrap();
        assert_eq!(cache.len(), 1, "the bound holds at quiescence");
        assert_eq!(removals.total(), 2, "two evictions for two adds");
        assert_consistent(&cache);
    });
}

/// Model 2: remove vs flush vs eviction of one session, pairwise (three
/// threads at once take too long to explore). In each pair exactly one
/// path removes the session, on_remove for that removal fires once, and len
/// drops by one.
///
/// The cached session has value 1 and expired at 10 (expiry 5). `remove`
/// is given another object (value 3) with the same id, so its
/// unconditional notice is told apart from the session's own. Eviction is
/// an add of `y` (value 2) into a cache of capacity 1.
fn remove_flush_evict(remove: bool, flush: bool, evict: bool) {
    model(move || {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(1, &removals));
        cache.add(&sess(b"x", 0, 5, 1));
        let c = cache.clone();
        // The first of the chosen paths runs on a spawned thread, the
        // second on this one.
        let other = thread::spawn(move || {
            if remove {
                (usize::from(c.remove(&sess(b"x", 0, 0, 3))), 0)
            } else {
                (0, c.flush(10))
            }
        });
        let (mut removed, mut flushed) = (0, 0);
        if evict {
            assert!(cache.add(&sess(b"y", 10, 100, 2)));
        } else {
            flushed += cache.flush(10);
        }
        let (r, f) = other.join().unwrap();
        removed += r;
        flushed += f;
        let evicted = cache.stats().cache_full as usize;
        assert_eq!(
            removed + flushed + evicted,
            1,
            "exactly one path removed x (remove {removed}, flush {flushed}, evict {evicted})"
        );
        assert_eq!(removals.count(1), flushed + evicted, "on_remove once for x");
        assert_eq!(
            removals.count(3),
            usize::from(remove),
            "remove reports its argument"
        );
        assert!(!cache.contains(b"x"));
        assert_eq!(cache.len(), usize::from(evict));
        assert_consistent(&cache);
        let _ = flush;
    });
}

#[test]
fn m2a_remove_vs_flush() {
    remove_flush_evict(true, true, false);
}

#[test]
fn m2b_remove_vs_eviction() {
    remove_flush_evict(true, false, true);
}

#[test]
fn m2c_flush_vs_eviction() {
    remove_flush_evict(false, true, true);
}

/// Model 2d: remove of the soonest-expiring session `e` vs an add into the
/// full cache (capacity 2: `e`, then `f`). Sequentially either the remove
/// comes first (nothing evicted) or the add evicts `e` and the remove finds
/// nothing; never both a successful remove and an eviction of `f`. Both
/// orders end with two sessions cached. (Before the remover took its unit
/// off `len` ahead of its claim, an adder could count `e` after the
/// remover had claimed it, find the cache over its bound, and evict `f`.)
///
/// The race needs one preemption (the remover's, between its claim and its
/// decrement): at 2 the model takes about 90 s here, at 3 about 8 minutes.
#[test]
fn m2d_remove_vs_add_into_a_full_cache() {
    model_bounded(2, || {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(2, &removals));
        cache.add(&sess(b"e", 10, 50, 1));
        cache.add(&sess(b"f", 10, 100, 2));
        let c = cache.clone();
        let remover = thread::spawn(move || c.remove_id(b"e"));
        assert!(cache.add(&sess(b"g", 10, 200, 3)));
        let removed = remover.join().unwrap();
        let evicted = cache.stats().cache_full;
        assert_eq!(removals.count(2), 0, "f is never evicted");
        assert_eq!(
            evicted,
            u64::from(!removed),
            "the remove or the eviction took e, not both, not neither"
        );
        assert_eq!(removals.count(1), 1, "e is reported once");
        assert!(cache.contains(b"f") && cache.contains(b"g"));
        assert_eq!(cache.len(), 2);
        assert_consistent(&cache);
    });
}

/// Model 2e: a retirer that loses its race settles the bound. Capacity 1,
/// `e` cached and expired. One thread flushes; the other replaces `e` (so
/// its replacement, not the flush, may retire it) and then adds `f`. While
/// the flush's unit is off `len`, the add of `f` may find the cache within
/// its bound and evict nothing; the flush, losing `e` to the replacement,
/// gives the unit back and must then evict, or the cache would stay over
/// its bound at quiescence (a remover by id would instead retry on the
/// replacement and settle it that way). One preemption (the flush's, after
/// its decrement) is enough, so the model runs at 2.
#[test]
fn m2e_losing_retirer_settles_the_bound() {
    model_bounded(2, || {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(1, &removals));
        cache.add(&sess(b"e", 0, 5, 1));
        let c = cache.clone();
        let flusher = thread::spawn(move || c.flush(10));
        cache.add(&sess(b"e", 10, 60, 2));
        cache.add(&sess(b"f", 10, 100, 3));
        let flushed = flusher.join().unwrap();
        assert!(
            cache.len() <= 1,
            "over the bound at quiescence: {}",
            cache.len()
        );
        assert_consistent(&cache);
        // e is flushed (and reported) or replaced silently; the replacement
        // and f are each cached or reported once.
        assert_eq!(removals.count(1), flushed);
        let gone = removals.count(2) + removals.count(3);
        assert_eq!(
            gone + cache.len(),
            2,
            "e's replacement and f: cached or reported"
        );
    });
}

/// Model 3a: two takers of one ticket: exactly one wins, on_remove once.
#[test]
fn m3a_take_vs_take() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(3, &removals));
        cache.add(&sess(b"t", 10, 100, 1));
        let c = cache.clone();
        let t = thread::spawn(move || c.take(b"t").is_some());
        let mine = cache.take(b"t").is_some();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one taker wins");
        assert_eq!(removals.count(1), 1);
        assert_eq!(cache.len(), 0);
        assert_consistent(&cache);
    });
}

/// Model 3b: take vs lookup: once a take has returned, no lookup returns
/// the session.
#[test]
fn m3b_take_vs_lookup() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(3, &removals));
        cache.add(&sess(b"t", 10, 100, 1));
        let taken = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (c, tk) = (cache.clone(), taken.clone());
        let t = thread::spawn(move || {
            assert!(c.take(b"t").is_some(), "the only taker wins");
            tk.store(true, SeqCst);
        });
        let was_taken = taken.load(SeqCst);
        let found = cache.lookup_with(b"t", |_| ()).is_some();
        assert!(
            !(was_taken && found),
            "a lookup after the take found the ticket"
        );
        t.join().unwrap();
        assert_eq!(removals.count(1), 1);
        assert_consistent(&cache);
    });
}

/// Model 4a: lookup vs replacement: the lookup returns the old or the new
/// session, never nothing.
#[test]
fn m4a_lookup_vs_replacement() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(3, &removals));
        cache.add(&sess(b"k", 10, 100, 1));
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.add(&sess(b"k", 10, 100, 2))));
        let v = cache
            .lookup_with(b"k", |s| *s.value().get_ref())
            .expect("an id being replaced is never absent");
        assert!(v == 1 || v == 2);
        t.join().unwrap();
        assert_eq!(cache.lookup_with(b"k", |s| *s.value().get_ref()), Some(2));
        assert_consistent(&cache);
    });
}

/// Model 4b: lookup vs remove: never a session after its removal
/// linearized (the remove returned before the lookup began).
#[test]
fn m4b_lookup_vs_remove() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(3, &removals));
        cache.add(&sess(b"k", 10, 100, 1));
        let done = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (c, d) = (cache.clone(), done.clone());
        let t = thread::spawn(move || {
            assert!(c.remove(&sess(b"k", 0, 0, 3)));
            d.store(true, SeqCst);
        });
        let removed_before = done.load(SeqCst);
        let got = cache.lookup(b"k");
        if removed_before {
            assert!(got.is_none(), "found a session after its removal");
        }
        if let Some(s) = got {
            assert_eq!(*s.value().get_ref(), 1);
        }
        t.join().unwrap();
        assert!(!cache.contains(b"k"));
        assert_consistent(&cache);
    });
}

/// A cache whose 2-bucket table holds `k1` and `k2`: the next add of a new
/// id doubles it.
fn about_to_double(removals: &Arc<Removals>) -> Arc<Cache> {
    let cache = Arc::new(tiny(0, removals));
    cache.add(&sess(b"k1", 10, 100, 1));
    cache.add(&sess(b"k2", 10, 100, 2));
    cache
}

/// Model 5: an insert and a remove racing a table resize: the table has 2
/// buckets and 2 entries, so the insert of a third doubles it while the
/// other thread removes a key: no key lost or duplicated.
#[test]
fn m5a_insert_vs_remove_during_resize() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = about_to_double(&removals);
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.take(b"k1").is_some()));
        assert!(cache.add(&sess(b"k3", 10, 100, 3)));
        t.join().unwrap();
        for (id, present) in [(&b"k1"[..], false), (b"k2", true), (b"k3", true)] {
            assert_eq!(cache.contains(id), present, "{:?}", std::str::from_utf8(id));
        }
        assert_eq!(cache.len(), 2);
        assert_consistent(&cache);
        assert_eq!(removals.count(1), 1);
    });
}

/// Model 5b: two inserts that both find the table over its load and grow
/// it, into buckets that are being split: both keys present once.
#[test]
fn m5b_insert_vs_insert_during_resize() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = about_to_double(&removals);
        let c = cache.clone();
        let t = thread::spawn(move || assert!(c.add(&sess(b"k3", 10, 100, 3))));
        assert!(cache.add(&sess(b"k4", 10, 100, 4)));
        t.join().unwrap();
        for id in [&b"k1"[..], b"k2", b"k3", b"k4"] {
            assert!(cache.contains(id), "{:?}", std::str::from_utf8(id));
        }
        assert_eq!(cache.len(), 4);
        assert_consistent(&cache);
        assert!(cache.debug_sizes().2 >= 4, "the table grew");
    });
}

/// Model 5c: lookups racing an insert right after a resize. Three adds
/// grow the table to 4 buckets, and the buckets only the resize made are
/// unlinked: the lookups claim and link them (as a writer would) while the
/// insert links and fills its own. Every lookup finds its key; at
/// quiescence the list is sorted with each dummy in it once, exactly the
/// linked ones, and no bucket holding an entry is left unlinked.
#[test]
fn m5c_lookups_vs_insert_after_resize() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(0, &removals));
        for (id, v) in [(&b"k1"[..], 1), (b"k2", 2), (b"k3", 3)] {
            cache.add(&sess(id, 10, 100, v));
        }
        assert_eq!(cache.debug_sizes().2, 4, "the table grew");
        let c = cache.clone();
        let t = thread::spawn(move || {
            for id in [&b"k1"[..], b"k2", b"k3"] {
                assert!(c.contains(id), "{:?}", std::str::from_utf8(id));
            }
        });
        assert!(cache.add(&sess(b"k4", 10, 100, 4)));
        t.join().unwrap();
        assert_eq!(cache.len(), 4);
        assert_consistent(&cache);
        assert_eq!(cache.debug_check_map(), (4, 0));
    });
}

/// Model 5d: lookups racing the add that doubles the table. A lookup may
/// read the new bucket count before the doubling thread has allocated the
/// new half's segment (it must then start from an ancestor, allocating
/// nothing), or after (it may link its bucket's dummy while the adder's
/// own search runs): every lookup finds its key, and at quiescence the
/// list is sorted with each dummy in it once, exactly the linked ones.
#[test]
fn m5d_lookups_vs_the_doubling_add() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = about_to_double(&removals);
        let c = cache.clone();
        let t = thread::spawn(move || {
            for id in [&b"k1"[..], b"k2"] {
                assert!(c.contains(id), "{:?}", std::str::from_utf8(id));
            }
        });
        assert!(cache.add(&sess(b"k3", 10, 100, 3)));
        t.join().unwrap();
        assert_eq!(cache.debug_sizes().2, 4, "the table grew");
        assert_eq!(cache.len(), 3);
        assert_consistent(&cache);
        assert_eq!(cache.debug_check_map().0, 3);
    });
}

/// Model 6: add vs flush: at quiescence no orphan (in the map but not the
/// index, or the reverse), and each expired session reported once.
#[test]
fn m6_add_vs_flush() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(0, &removals));
        cache.add(&sess(b"old", 0, 5, 1));
        let c = cache.clone();
        // An already expired session being added while the flush runs.
        let t = thread::spawn(move || c.add(&sess(b"new", 0, 5, 2)));
        let flushed = cache.flush(10);
        t.join().unwrap();
        assert!(flushed >= 1, "old had expired and stayed cached throughout");
        assert!(!cache.contains(b"old"));
        assert_eq!(removals.count(1), 1);
        assert_eq!(removals.count(2), usize::from(!cache.contains(b"new")));
        assert_consistent(&cache);
    });
}

/// Model 6b: add (replacement) vs take of the same id: no orphan either way.
#[test]
fn m6b_replacement_vs_take() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let cache = Arc::new(tiny(0, &removals));
        cache.add(&sess(b"k", 10, 100, 1));
        let c = cache.clone();
        let t = thread::spawn(move || c.add(&sess(b"k", 10, 100, 2)));
        let taken = cache.take(b"k").map(|s| *s.value().get_ref());
        t.join().unwrap();
        let left = cache.lookup_with(b"k", |s| *s.value().get_ref());
        match taken {
            Some(1) => assert_eq!(left, Some(2)),
            Some(2) => assert_eq!(left, None),
            None => unreachable!("k is always cached when take runs"),
            Some(v) => unreachable!("unknown session {v}"),
        }
        assert_eq!(removals.total(), 1, "only the taken session is reported");
        assert_consistent(&cache);
    });
}

/// Model 7: a remove callback that calls back into the cache (add, remove):
/// no deadlock, state consistent.
#[test]
fn m7_reentrant_callback() {
    model(|| {
        let slot: Arc<OnceLock<Weak<Cache>>> = Arc::default();
        let s2 = slot.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let cache = Arc::new(
            SessionCache::builder()
                .capacity(2)
                .table_buckets(2)
                .clock(ManualClock::new(10))
                .mode(CacheMode::NO_AUTO_CLEAR)
                .on_remove(move |s: &Session<Value>| {
                    c2.fetch_add(1, SeqCst);
                    let v = *s.value().get_ref();
                    if v < 3 {
                        if let Some(cache) = s2.get().and_then(Weak::upgrade) {
                            cache.add(&sess(b"again", 10, 100, 5));
                            cache.remove(&sess(b"other", 0, 0, 6));
                        }
                    }
                })
                .build(),
        );
        slot.set(Arc::downgrade(&cache)).ok().unwrap();
        cache.add(&sess(b"a", 0, 5, 1));
        cache.add(&sess(b"other", 10, 100, 2));
        let c = cache.clone();
        let t = thread::spawn(move || c.flush(10));
        cache.take(b"a");
        t.join().unwrap();
        assert!(calls.load(SeqCst) >= 2);
        assert!(!cache.contains(b"a"));
        assert!(cache.len() <= 2);
        assert_consistent(&cache);
    });
}

/// Model 8: stores with the automatic flush (every 2nd store under loom)
/// racing other stores: every expired session reported once, no orphan.
#[test]
fn m8_store_with_auto_flush() {
    model(|| {
        let removals = Arc::new(Removals::default());
        let r = removals.clone();
        let cache = Arc::new(
            SessionCache::builder()
                .capacity(0)
                .table_buckets(2)
                .clock(ManualClock::new(10))
                .on_remove(move |s: &Session<Value>| {
                    r.by_value[*s.value().get_ref() as usize].fetch_add(1, SeqCst);
                })
                .build(),
        );
        cache.add(&sess(b"old", 0, 5, 1));
        let c = cache.clone();
        let t = thread::spawn(move || c.store(&sess(b"s1", 10, 100, 2)));
        cache.store(&sess(b"s2", 10, 100, 3));
        t.join().unwrap();
        // Two stores: the second one (whichever thread) flushed at 10.
        assert!(!cache.contains(b"old"));
        assert_eq!(removals.count(1), 1);
        assert_eq!(removals.total(), 1);
        assert_eq!(cache.len(), 2);
        assert_consistent(&cache);
    });
}
