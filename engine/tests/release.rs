//! What the cache removed is released by the epoch while the cache is in
//! use, and once it is dropped: every thread that pins runs a share of the
//! deferred releases, so a removed session (its entry, its value and any
//! secret in it) does not outlive the cache's use by readers alone.

use std::sync::Arc;

use sesscache::{Session, SessionCache};

/// A worker removes a session and exits (its thread-local epoch bag is
/// pushed to the global queue); the cache then only serves lookups, which
/// must be enough to release it.
///
/// The worker is joined explicitly: that waits for the thread's end,
/// thread-local destructors included, which is where its bag is pushed.
/// Leaving a scoped thread to the scope's implicit join does not: the scope
/// returns once the closure has, and the bag may arrive after the lookups.
#[test]
fn a_session_removed_by_an_exited_thread_is_released_while_readers_run() {
    let cache: SessionCache<Vec<u8>> = SessionCache::builder().build();
    let s = Arc::new(Session::new(b"id", 0, 100, vec![0u8; 64]).unwrap());
    cache.add(&s);
    std::thread::scope(|sc| {
        sc.spawn(|| assert!(cache.remove(&s))).join().unwrap();
    });
    for _ in 0..100_000 {
        let _ = cache.lookup(b"other");
        if Arc::strong_count(&s) == 1 {
            break;
        }
    }
    assert_eq!(
        Arc::strong_count(&s),
        1,
        "100 000 lookups later the cache still references the removed session"
    );
}

/// The same after the cache is dropped, with nothing but the epoch run.
#[test]
fn a_dropped_cache_releases_what_it_removed() {
    let s = Arc::new(Session::new(b"id", 0, 100, vec![0u8; 64]).unwrap());
    let cache: SessionCache<Vec<u8>> = SessionCache::builder().build();
    cache.add(&s);
    assert!(cache.remove(&s));
    drop(cache);
    for _ in 0..10_000 {
        if Arc::strong_count(&s) == 1 {
            break;
        }
        crossbeam_epoch::pin().flush();
    }
    assert_eq!(
        Arc::strong_count(&s),
        1,
        "still referenced after the cache's drop"
    );
}
