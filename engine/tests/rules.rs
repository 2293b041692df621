//! One test per rule of the cache's contract, each over several table
//! sizes (a 2-bucket table grows during the test).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use common::{counting_cache, recording, sess, Seen, TABLES};
use sesscache::{CacheMode, Error, ManualClock, Session, SessionCache, Stats, MAX_ID_LEN};

#[test]
fn bad_ids_are_typed_errors() {
    assert_eq!(Session::new(b"", 0, 0, ()).unwrap_err(), Error::EmptyId);
    let long = [7u8; MAX_ID_LEN + 1];
    assert_eq!(
        Session::new(&long, 0, 0, ()).unwrap_err(),
        Error::IdTooLong { len: 33 }
    );
    assert!(Session::new(&long[..MAX_ID_LEN], 0, 0, ()).is_ok());
    let msg = Error::IdTooLong { len: 33 }.to_string();
    assert!(msg.contains("33") && msg.contains("32"), "{msg}");
    assert!(Error::EmptyId.to_string().contains("empty"));
    let cache: SessionCache<()> = SessionCache::builder().build();
    assert!(cache.new_session(b"", ()).is_err());
    assert!(cache.new_session(&long, ()).is_err());
    // Impossible ids find nothing and count nothing.
    assert!(cache.lookup(b"").is_none());
    assert!(cache.lookup(&long).is_none());
    assert!(cache.take(&long).is_none());
    assert!(!cache.contains(b""));
    assert_eq!(cache.stats(), Stats::default());
}

#[test]
fn expiry_saturates_and_is_strict() {
    let s = Session::new(b"x", u64::MAX - 5, 100, ()).unwrap();
    assert_eq!(s.expiry(), u64::MAX);
    assert!(!s.is_expired_at(u64::MAX));
    let s = Session::new(b"x", 10, 5, ()).unwrap();
    assert!(!s.is_expired_at(15));
    assert!(s.is_expired_at(16));
    assert_eq!((s.time(), s.timeout(), s.id()), (10, 5, &b"x"[..]));
    assert!(s.is_resumable());
}

#[test]
fn defaults_are_openssls() {
    let cache: SessionCache<()> = SessionCache::builder().build();
    assert_eq!(cache.capacity(), 20480);
    assert_eq!(cache.timeout(), 7200);
    assert_eq!(cache.mode(), CacheMode::default());
    let clock = ManualClock::new(50);
    let cache: SessionCache<()> = SessionCache::builder().clock(clock).timeout(9).build();
    let s = cache.new_session(b"a", ()).unwrap();
    assert_eq!((s.time(), s.timeout()), (50, 9));
}

#[test]
fn add_new_same_and_replacement() {
    for table in TABLES {
        let clock = ManualClock::new(100);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).build();
        let a = sess(b"id", 100, 10, 1u32);
        assert!(cache.add(&a));
        assert!(!cache.add(&a), "the same object is already cached");
        assert_eq!(cache.len(), 1);
        let b = sess(b"id", 100, 10, 2u32);
        assert!(cache.add(&b), "a different object replaces");
        assert_eq!(cache.len(), 1);
        assert!(seen.removed().is_empty(), "replacement is silent");
        assert!(
            a.is_resumable(),
            "replacement does not mark the old session"
        );
        assert!(Arc::ptr_eq(&cache.lookup(b"id").unwrap(), &b));
        assert_eq!(cache.debug_sizes().0, 1);
        assert_eq!(cache.debug_sizes().1, 1);
    }
}

#[test]
fn update_time_restamps_on_add() {
    let clock = ManualClock::new(500);
    let cache: SessionCache<()> = SessionCache::builder()
        .mode(CacheMode::UPDATE_TIME)
        .clock(clock.clone())
        .build();
    let s = sess(b"a", 1, 10, ());
    cache.add(&s);
    assert_eq!(s.time(), 500);
    clock.set(505);
    assert!(!cache.add(&s));
    assert_eq!(s.time(), 505);
    // The index follows the new expiry: flush at the old expiry keeps it.
    assert_eq!(cache.flush(511), 0);
    assert_eq!(cache.flush(516), 1);
    let plain: SessionCache<()> = SessionCache::builder().clock(clock).build();
    let s = sess(b"a", 1, 10, ());
    plain.add(&s);
    assert_eq!(s.time(), 1);
}

#[test]
fn eviction_takes_soonest_expiry_then_oldest_and_holds_exactly_capacity() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).capacity(3).build();
        let late = sess(b"late", 0, 100, ());
        let tie1 = sess(b"tie1", 0, 50, ());
        let tie2 = sess(b"tie2", 10, 40, ());
        for s in [&late, &tie1, &tie2] {
            assert!(cache.add(s));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.add(&sess(b"new1", 0, 200, ())));
        assert_eq!(cache.len(), 3, "holds exactly its capacity");
        assert_eq!(
            seen.removed(),
            vec![b"tie1".to_vec()],
            "soonest, oldest among ties"
        );
        assert!(!tie1.is_resumable(), "an evicted session is not resumable");
        // Re-adding tie2 makes it the newest of its expiry; nothing to evict.
        assert!(!cache.add(&tie2));
        assert!(cache.add(&sess(b"new2", 0, 300, ())));
        assert_eq!(seen.removed()[1], b"tie2".to_vec());
        assert_eq!(cache.stats().cache_full, 2);
        assert!(cache.contains(b"late") && cache.contains(b"new1") && cache.contains(b"new2"));
        // A replacement does not evict.
        assert!(cache.add(&sess(b"late", 0, 1, ())));
        assert_eq!(cache.stats().cache_full, 2);
        assert_eq!(cache.len(), 3);
    }
}

#[test]
fn a_fresh_session_expiring_soonest_evicts_another() {
    let cache: SessionCache<()> = SessionCache::builder().capacity(1).build();
    cache.add(&sess(b"a", 0, 100, ()));
    cache.add(&sess(b"b", 0, 1, ()));
    assert!(
        cache.contains(b"b"),
        "the session being added is never its own victim"
    );
    assert!(!cache.contains(b"a"));
}

#[test]
fn capacity_zero_is_unlimited_and_set_capacity_evicts() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).capacity(0).build();
        for i in 0..100u32 {
            cache.add(&sess(&i.to_be_bytes(), 0, u64::from(i), ()));
        }
        assert_eq!(cache.len(), 100);
        cache.set_capacity(10);
        assert_eq!(cache.capacity(), 10);
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.stats().cache_full, 90);
        let expect: Vec<Vec<u8>> = (0..90u32).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(seen.removed(), expect);
        assert_eq!(cache.debug_sizes().0, 10);
        assert_eq!(cache.debug_sizes().1, 10);
    }
}

#[test]
fn a_capacity_beyond_reach_is_unlimited() {
    let cache: SessionCache<()> = SessionCache::builder().capacity(usize::MAX).build();
    for i in 0..50u32 {
        cache.add(&sess(&i.to_be_bytes(), 0, u64::from(i), ()));
    }
    assert_eq!(cache.len(), 50);
    assert_eq!(cache.stats().cache_full, 0);
    cache.set_capacity(isize::MAX as usize + 1);
    assert_eq!(cache.len(), 50);
}

#[test]
fn huge_table_hints_are_clamped_and_the_table_still_grows() {
    let cache: SessionCache<()> = SessionCache::builder()
        .table_buckets(usize::MAX)
        .capacity(0)
        .build();
    for i in 0..3000u32 {
        cache.add(&sess(&i.to_be_bytes(), 0, 10, ()));
    }
    assert_eq!(cache.len(), 3000);
    assert!(cache.debug_sizes().2 >= 2048);
}

#[test]
fn remove_always_reports_the_argument() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).build();
        let cached = sess(b"k", 0, 10, 1u8);
        let other = sess(b"k", 0, 10, 2u8);
        cache.add(&cached);
        assert!(cache.remove(&other), "removes whatever has the id");
        assert!(!other.is_resumable());
        assert!(cached.is_resumable(), "only the argument is marked");
        assert!(!cache.contains(b"k"));
        assert!(!cache.remove(&cached), "nothing cached any more");
        assert!(!cached.is_resumable());
        assert_eq!(seen.removed(), vec![b"k".to_vec(), b"k".to_vec()]);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.debug_sizes().0 + cache.debug_sizes().1, 0);
    }
}

#[test]
fn remove_id_reports_only_what_it_removed() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).build();
        let cached = sess(b"k", 0, 10, 1u8);
        cache.add(&cached);
        cache.add(&sess(b"other", 0, 10, 2u8));
        assert!(!cache.remove_id(b"nope"));
        assert!(!cache.remove_id(b""));
        assert!(!cache.remove_id(&[1u8; MAX_ID_LEN + 1]));
        assert!(seen.removed().is_empty(), "nothing reported for a miss");
        assert!(cache.remove_id(b"k"));
        assert!(!cached.is_resumable());
        assert!(!cache.contains(b"k") && cache.contains(b"other"));
        assert!(!cache.remove_id(b"k"), "only once");
        assert_eq!(seen.removed(), vec![b"k".to_vec()]);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.debug_sizes().0, 1);
        let stats = cache.stats();
        assert_eq!(
            (stats.number, stats.hits, stats.misses),
            (1, 0, 0),
            "no counting"
        );
    }
}

#[test]
fn contains_counts_nothing_and_ignores_expiry() {
    let clock = ManualClock::new(0);
    let cache: SessionCache<()> = SessionCache::builder().clock(clock.clone()).build();
    cache.add(&sess(b"a", 0, 5, ()));
    clock.set(100);
    assert!(cache.contains(b"a"));
    assert!(!cache.contains(b"b"));
    assert_eq!(
        cache.stats().hits + cache.stats().misses + cache.stats().timeouts,
        0
    );
}

#[test]
fn lookup_hits_misses_and_expires() {
    for table in TABLES {
        let clock = ManualClock::new(10);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).build();
        let s = sess(b"a", 10, 5, 42u32);
        cache.add(&s);
        assert_eq!(cache.lookup_with(b"a", |s| *s.value()), Some(42));
        assert!(Arc::ptr_eq(&cache.lookup(b"a").unwrap(), &s));
        assert!(cache.lookup(b"zz").is_none());
        clock.set(15);
        assert!(
            cache.lookup(b"a").is_some(),
            "expires only when now > expiry"
        );
        clock.set(16);
        assert!(cache.lookup(b"a").is_none());
        assert!(!s.is_resumable());
        assert!(!cache.contains(b"a"), "an expired session found is removed");
        assert_eq!(seen.removed(), vec![b"a".to_vec()]);
        let st = cache.stats();
        assert_eq!((st.hits, st.misses, st.timeouts, st.number), (3, 1, 1, 0));
        assert!(cache.lookup(b"a").is_none());
        assert_eq!(cache.stats().misses, 2);
    }
}

/// The external store behind `on_get`.
type External = Arc<Mutex<Vec<Arc<Session<u32>>>>>;

/// An `on_get` backed by a store the test controls.
fn getter(store: &External) -> impl Fn(&[u8]) -> Option<Arc<Session<u32>>> + Send + Sync + 'static {
    let store = store.clone();
    move |id: &[u8]| store.lock().unwrap().iter().find(|s| s.id() == id).cloned()
}

#[test]
fn on_get_supplies_misses() {
    for mode in [
        CacheMode::default(),
        CacheMode::NO_INTERNAL_LOOKUP,
        CacheMode::NO_INTERNAL_STORE,
        CacheMode::NO_INTERNAL,
    ] {
        let clock = ManualClock::new(10);
        let seen = Arc::new(Seen::default());
        let store = External::default();
        let get = getter(&store);
        let cache = recording(2, &clock, &seen).mode(mode).on_get(get).build();
        store.lock().unwrap().push(sess(b"ext", 10, 100, 7));
        assert_eq!(
            cache.lookup_with(b"ext", |s| *s.value()),
            Some(7),
            "{mode:?}"
        );
        let st = cache.stats();
        let internal = !mode.contains(CacheMode::NO_INTERNAL_LOOKUP);
        assert_eq!(st.misses, u64::from(internal), "{mode:?}");
        assert_eq!((st.cb_hits, st.hits), (1, 1), "{mode:?}");
        let stored = !mode.contains(CacheMode::NO_INTERNAL_STORE);
        assert_eq!(cache.contains(b"ext"), stored, "{mode:?}");
        // Second lookup: from the cache when stored and looked up internally.
        cache.lookup(b"ext").unwrap();
        let from_cache = stored && internal;
        assert_eq!(
            cache.stats().cb_hits,
            if from_cache { 1 } else { 2 },
            "{mode:?}"
        );
        // Nothing anywhere: a miss (when internal) and no cb_hit.
        assert!(cache.lookup(b"none").is_none());
        // A non-resumable session from the callback is ignored.
        let dead = sess(b"dead", 10, 100, 8);
        dead_mark(&dead);
        store.lock().unwrap().push(dead);
        assert!(cache.lookup(b"dead").is_none(), "{mode:?}");
        assert!(!cache.contains(b"dead"));
        // An expired session from the callback: timeouts, removed, reported.
        store.lock().unwrap().push(sess(b"old", 0, 5, 9));
        assert!(cache.lookup(b"old").is_none());
        assert!(!cache.contains(b"old"));
        assert_eq!(cache.stats().timeouts, 1);
        assert_eq!(
            seen.removed(),
            vec![b"dead".to_vec(), b"old".to_vec()][1..].to_vec()
        );
    }
}

/// Marks a session not resumable the way an application would see it: by
/// removing it from some cache.
fn dead_mark(s: &Arc<Session<u32>>) {
    let scratch: SessionCache<u32> = SessionCache::builder().build();
    scratch.remove(s);
    assert!(!s.is_resumable());
}

/// Makes the 256th store of `cache` (built with `mode` and holding a
/// session `stale` that expired at 1000 unless `UPDATE_TIME` restamped it)
/// and checks that it flushed `stale` unless `NO_AUTO_CLEAR`.
fn store_256th(cache: &SessionCache<()>, mode: CacheMode) {
    cache.store(&sess(b"256th", 1000, 100, ()));
    let flushed = !mode.contains(CacheMode::NO_AUTO_CLEAR);
    let stale_expired = !mode.contains(CacheMode::UPDATE_TIME);
    assert_eq!(
        cache.contains(b"stale"),
        !(flushed && stale_expired),
        "{mode:?}"
    );
}

#[test]
fn store_calls_on_new_and_auto_flushes_every_256th() {
    for mode in common::modes() {
        let clock = ManualClock::new(1000);
        let seen = Arc::new(Seen::default());
        let cache = recording(2, &clock, &seen).mode(mode).capacity(0).build();
        // One session that is already expired at 1000.
        cache.add(&sess(b"stale", 0, 1, ()));
        for i in 0..255u32 {
            cache.store(&sess(&i.to_be_bytes(), 1000, 100, ()));
        }
        assert!(cache.contains(b"stale") || mode.contains(CacheMode::UPDATE_TIME));
        assert_eq!(seen.new_ids().len(), 255);
        store_256th(&cache, mode);
    }
    let seen = Arc::new(Seen::default());
    let cache = recording::<()>(2, &ManualClock::new(0), &seen)
        .mode(CacheMode::NO_INTERNAL_STORE)
        .build();
    cache.store(&sess(b"x", 0, 10, ()));
    assert!(!cache.contains(b"x"));
    assert_eq!(seen.new_ids(), vec![b"x".to_vec()]);
}

#[test]
fn take_is_single_use() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).build();
        let t = sess(b"ticket", 0, 10, ());
        cache.add(&t);
        let got = cache.take(b"ticket").unwrap();
        assert!(Arc::ptr_eq(&got, &t));
        assert!(!t.is_resumable());
        assert!(cache.take(b"ticket").is_none());
        assert!(cache.lookup(b"ticket").is_none());
        cache.add(&sess(b"old", 0, 1, ()));
        clock.set(5);
        assert!(
            cache.take(b"old").is_none(),
            "expired tickets are not handed out"
        );
        assert!(!cache.contains(b"old"));
        assert_eq!(seen.removed(), vec![b"ticket".to_vec(), b"old".to_vec()]);
        let st = cache.stats();
        assert_eq!((st.hits, st.misses, st.timeouts), (1, 2, 1));
    }
}

#[test]
fn flush_removes_strictly_expired_in_order() {
    for table in TABLES {
        let clock = ManualClock::new(0);
        let seen = Arc::new(Seen::default());
        let cache = recording(table, &clock, &seen).capacity(0).build();
        for i in 0..300u32 {
            // Expiries 0..=99, three sessions each.
            cache.add(&sess(&i.to_be_bytes(), 0, u64::from(i % 100), ()));
        }
        assert_eq!(cache.flush(50), 150, "expiry < 50");
        assert_eq!(cache.len(), 150);
        let removed = seen.removed();
        let expiries: Vec<u32> = removed
            .iter()
            .map(|id| u32::from_be_bytes(id[..4].try_into().unwrap()) % 100)
            .collect();
        assert!(expiries.windows(2).all(|w| w[0] <= w[1]), "soonest first");
        assert_eq!(cache.flush(50), 0);
        assert!(cache.contains(&50u32.to_be_bytes()), "expiry == t stays");
        assert_eq!(cache.flush(0), 150, "t == 0 removes all");
        assert!(cache.is_empty());
        assert_eq!(cache.debug_sizes().0 + cache.debug_sizes().1, 0);
    }
}

/// A flush walks no further than the last expired session cached when it
/// began: sessions added meanwhile — here by its own `on_remove`, one for
/// every session it reports, between its batches — cannot keep it running.
/// (Resuming after the last key it saw, an unbounded walk would remove each
/// new session too, and then the ones added for those, until the hook
/// stopped adding.)
#[test]
fn a_flush_ends_while_sessions_keep_coming() {
    const CACHED: u32 = 200;
    const HOOK_ADDS_AT_MOST: usize = 5_000;
    for t in [0, 1_000] {
        let cache_slot: Arc<OnceLock<Weak<SessionCache<u32>>>> = Arc::default();
        let slot = cache_slot.clone();
        let added = Arc::new(AtomicUsize::new(0));
        let a2 = added.clone();
        let cache = Arc::new(
            SessionCache::builder()
                .capacity(0)
                .clock(ManualClock::new(0))
                .mode(CacheMode::NO_AUTO_CLEAR)
                .on_remove(move |_: &Session<u32>| {
                    let Some(cache) = slot.get().and_then(Weak::upgrade) else {
                        return;
                    };
                    let n = a2.fetch_add(1, Ordering::SeqCst);
                    if n < HOOK_ADDS_AT_MOST {
                        // Expires at 500: within the flush at 1 000 as well.
                        let id = [b"new-".as_slice(), &n.to_be_bytes()].concat();
                        cache.add(&sess(&id, 0, 500, 1));
                    }
                })
                .build(),
        );
        cache_slot.set(Arc::downgrade(&cache)).unwrap();
        for i in 0..CACHED {
            cache.add(&sess(&i.to_be_bytes(), 0, 100 + u64::from(i), 0));
        }
        assert_eq!(cache.flush(t), CACHED as usize, "flush({t})");
        // One add per report, all still cached.
        assert_eq!(added.load(Ordering::SeqCst), CACHED as usize, "flush({t})");
        assert_eq!(cache.len(), CACHED as usize, "flush({t})");
        assert!(!cache.contains(&0u32.to_be_bytes()));
        assert!(cache.contains(b"new-\0\0\0\0\0\0\0\0"));
        let (map, index, _) = cache.debug_sizes();
        assert_eq!((map, index), (cache.len(), cache.len()));
    }
}

#[test]
fn callbacks_may_reenter_the_cache() {
    // on_remove adds a replacement session, removes another, flushes: no
    // deadlock, and the cache stays consistent.
    let cache_slot: Arc<OnceLock<Weak<SessionCache<u32>>>> = Arc::default();
    let slot = cache_slot.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let cache = Arc::new(
        SessionCache::builder()
            .capacity(4)
            .clock(ManualClock::new(0))
            .on_remove(move |s: &Session<u32>| {
                c2.fetch_add(1, Ordering::SeqCst);
                let Some(cache) = slot.get().and_then(Weak::upgrade) else {
                    return;
                };
                if *s.value() < 100 {
                    cache.add(&sess(&[s.id(), b"+"].concat(), 0, 1000, s.value() + 100));
                    cache.remove(&Session::new(b"victim", 0, 0, 1000).unwrap());
                    cache.flush(1);
                }
            })
            .build(),
    );
    cache_slot.set(Arc::downgrade(&cache)).unwrap();
    cache.add(&sess(b"victim", 0, 1000, 500));
    for i in 0..4u32 {
        cache.add(&sess(&i.to_be_bytes(), 0, 10 + u64::from(i), i));
    }
    assert!(calls.load(Ordering::SeqCst) > 0);
    assert!(cache.len() <= 4);
    let (map, index, _) = cache.debug_sizes();
    assert_eq!((map, index), (cache.len(), cache.len()));
}

#[test]
fn a_panicking_callback_leaves_the_cache_consistent() {
    let clock = ManualClock::new(0);
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    let cache: SessionCache<u32> = SessionCache::builder()
        .capacity(0)
        .clock(clock.clone())
        .on_remove(move |s: &Session<u32>| {
            c2.fetch_add(1, Ordering::SeqCst);
            if s.value() % 7 == 0 {
                panic!("callback failure");
            }
        })
        .on_new(|s: &Arc<Session<u32>>| assert!(*s.value() != 3, "on_new failure"))
        .on_get(|id: &[u8]| {
            if id == b"boom" {
                panic!("on_get failure")
            } else {
                None
            }
        })
        .build();
    for i in 1..=20u32 {
        cache.add(&sess(&i.to_be_bytes(), 0, u64::from(i), i));
    }
    let r = catch_unwind(AssertUnwindSafe(|| cache.flush(0)));
    assert!(r.is_err(), "the panic reaches the caller");
    assert_eq!(
        count.load(Ordering::SeqCst),
        20,
        "every session was still reported"
    );
    assert!(cache.is_empty());
    assert_eq!(cache.debug_sizes().0 + cache.debug_sizes().1, 0);
    // Still usable, with the same failures elsewhere.
    assert!(catch_unwind(AssertUnwindSafe(|| cache.store(&sess(b"s3", 0, 10, 3)))).is_err());
    assert!(cache.contains(b"s3"), "added before on_new ran");
    assert!(catch_unwind(AssertUnwindSafe(|| cache.lookup(b"boom"))).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| cache.remove(&sess(b"s3", 0, 0, 14)))).is_err());
    assert!(!cache.contains(b"s3"));
    assert_eq!(cache.len(), 0);
    cache.add(&sess(b"after", 0, 10, 1));
    assert_eq!(cache.len(), 1);
}

#[test]
fn the_cache_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SessionCache<Vec<u8>>>();
    check::<Session<Vec<u8>>>();
}

#[test]
fn sessions_outlive_their_removal() {
    let cache: SessionCache<String> = SessionCache::builder().build();
    let s = cache.new_session(b"a", "value".to_string()).unwrap();
    cache.add(&s);
    let held = cache.lookup(b"a").unwrap();
    cache.flush(0);
    drop(cache);
    assert_eq!(held.value(), "value");
    // The cache's own reference goes when the epoch reclaims its entry.
    for _ in 0..10_000 {
        if Arc::strong_count(&s) == 2 {
            break;
        }
        crossbeam_epoch::pin().flush();
    }
    assert_eq!(Arc::strong_count(&s), 2, "only `s` and `held` remain");
}

/// A callback that panics in a flush's first batch: the flush still
/// removes and reports every expired session, then resumes the panic.
#[test]
fn a_panicking_callback_does_not_stop_a_flush() {
    const N: u32 = 1000;
    let (cache, count) = counting_cache(0, |s: &Session<u32>| {
        assert!(*s.value() != 5, "callback failure");
    });
    for i in 0..N {
        cache.add(&sess(&i.to_be_bytes(), 0, u64::from(i), i));
    }
    // One live session that the flush must leave.
    cache.add(&sess(b"live", 0, 10_000, 1));
    let r = catch_unwind(AssertUnwindSafe(|| cache.flush(2_000)));
    assert!(r.is_err(), "the panic reaches the caller");
    assert_eq!(count.load(Ordering::SeqCst), N as usize);
    assert_eq!(cache.len(), 1);
    assert!(cache.contains(b"live"));
    let (map, index, _) = cache.debug_sizes();
    assert_eq!((map, index), (1, 1));
}

/// `store` does every step although one panics: an `on_remove` that panics
/// for the session its add evicts still lets `on_new` hear of the new one,
/// and the panic reaches the caller afterwards.
#[test]
fn a_panicking_eviction_report_does_not_skip_on_new() {
    let news = Arc::new(AtomicUsize::new(0));
    let n2 = news.clone();
    let cache: SessionCache<u32> = SessionCache::builder()
        .capacity(1)
        .clock(ManualClock::new(0))
        .on_remove(|_: &Session<u32>| panic!("callback failure"))
        .on_new(move |_: &Arc<Session<u32>>| {
            n2.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    cache.store(&sess(b"a", 0, 100, 1));
    let r = catch_unwind(AssertUnwindSafe(|| cache.store(&sess(b"b", 0, 100, 2))));
    assert!(r.is_err(), "the panic reaches the caller");
    assert!(cache.contains(b"b") && !cache.contains(b"a"));
    assert_eq!(news.load(Ordering::SeqCst), 2, "on_new heard of both");
}

/// An `on_new` that panics on the 256th store does not cost that store
/// its automatic flush.
#[test]
fn a_panicking_on_new_does_not_skip_the_automatic_flush() {
    let clock = ManualClock::new(0);
    let cache: SessionCache<u32> = SessionCache::builder()
        .capacity(0)
        .clock(clock.clone())
        .on_new(|s: &Arc<Session<u32>>| assert!(*s.value() != 255, "callback failure"))
        .build();
    for i in 0..255u32 {
        cache.store(&sess(&i.to_be_bytes(), 0, 10, i));
    }
    // Everything stored so far has expired by the 256th store.
    clock.set(1_000);
    let r = catch_unwind(AssertUnwindSafe(|| {
        cache.store(&sess(b"256th", 1_000, 10, 255))
    }));
    assert!(r.is_err(), "the panic reaches the caller");
    assert_eq!(cache.len(), 1, "the 256th store flushed the expired ones");
    assert!(cache.contains(b"256th"));
}

/// A session marked not resumable (taken, removed or evicted) is not
/// stored again and `on_new` does not hear of it, as in OpenSSL's
/// `ssl_update_cache`; the store still counts towards the automatic flush.
#[test]
fn a_session_not_resumable_is_not_stored() {
    for mode in common::modes() {
        let clock = ManualClock::new(1000);
        let seen = Arc::new(Seen::default());
        let cache = recording(2, &clock, &seen).mode(mode).capacity(0).build();
        let s = sess(b"a", 1000, 100, ());
        cache.add(&s);
        assert!(cache.remove(&s));
        assert!(!s.is_resumable());
        cache.add(&sess(b"stale", 0, 1, ()));
        for _ in 0..255 {
            cache.store(&s);
        }
        assert!(!cache.contains(b"a"), "{mode:?}");
        assert!(seen.new_ids().is_empty(), "{mode:?}");
        // The 256th store flushes; the 255 skipped ones counted.
        store_256th(&cache, mode);
    }
}

/// OpenSSL mode values: a server mode maps to its flags; `OFF`, client
/// only and undefined bits are typed errors, with a message that says why.
#[test]
fn openssl_modes_convert_or_are_refused() {
    assert_eq!(CacheMode::from_openssl(0x2), Ok(CacheMode::empty()));
    assert_eq!(
        CacheMode::from_openssl(0x3 | 0x300 | 0x400),
        Ok(CacheMode::NO_INTERNAL | CacheMode::UPDATE_TIME)
    );
    for bits in [0, 0x1, 0x80, 0x301, 0x2 | 0x800, 0x2 | 0x4, u32::MAX] {
        let err = CacheMode::from_openssl(bits).unwrap_err();
        assert_eq!(err, Error::UnsupportedMode { bits });
        let text = err.to_string();
        let why = if bits & 0x2 == 0 {
            "SSL_SESS_CACHE_SERVER"
        } else {
            "does not define"
        };
        assert!(
            text.contains(why) && text.contains(&format!("{bits:#x}")),
            "{text}"
        );
    }
}
