//! Session values whose `drop` panics.
//!
//! The epoch frees a removed value on whichever thread runs its garbage
//! next, in whatever that thread is doing, so a panicking value made by one
//! test can go off in another test of the same process, and a test thread
//! that exits while pinned can hold the epoch back. These scenarios
//! therefore have a test binary of their own and run one after the other on
//! one thread (the one `#[test]`), each ending by driving the epoch until
//! every panicking value it made has been dropped ([`settle`]).
//!
//! A value that panics in its `drop` even while the thread is unwinding
//! ([`Panics::Always`]) aborts the process if it is ever dropped during an
//! unwind: the cache must drop values one at a time, each on its own.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::counting_cache;
use sesscache::{ManualClock, Session, SessionCache};

#[derive(Clone, Copy, PartialEq)]
enum Panics {
    Never,
    /// Only when the thread is not unwinding already.
    Calmly,
    /// Even while the thread unwinds.
    Always,
}

/// A session value that counts its drops in `dropped` (panicking ones in
/// `bombs` too), then panics as `panics` says.
struct Value {
    panics: Panics,
    dropped: Arc<AtomicUsize>,
    bombs: Arc<AtomicUsize>,
}

impl Drop for Value {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        if self.panics != Panics::Never {
            self.bombs.fetch_add(1, Ordering::SeqCst);
        }
        let unwinding = std::thread::panicking();
        match self.panics {
            Panics::Never => {}
            Panics::Calmly => assert!(unwinding, "value drop failure"),
            Panics::Always => panic!("value drop failure"),
        }
    }
}

/// Makes the values of one scenario and counts their drops.
#[derive(Default)]
struct Values {
    dropped: Arc<AtomicUsize>,
    bombs: Arc<AtomicUsize>,
    bombs_made: usize,
}

impl Values {
    fn session(&mut self, id: &[u8], timeout: u64, panics: Panics) -> Arc<Session<Value>> {
        if panics != Panics::Never {
            self.bombs_made += 1;
        }
        let value = Value {
            panics,
            dropped: self.dropped.clone(),
            bombs: self.bombs.clone(),
        };
        Arc::new(Session::new(id, 0, timeout, value).unwrap())
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// Drives the epoch until every panicking value of `values` was dropped
/// (the others may never be: a panic inside a batch of the epoch's garbage
/// skips the rest of that batch), catching the panics of their drops.
fn settle(values: &Values) {
    for _ in 0..100_000 {
        if values.bombs.load(Ordering::SeqCst) == values.bombs_made {
            return;
        }
        let _ = catch_unwind(|| crossbeam_epoch::pin().flush());
    }
    panic!(
        "{} of {} panicking values were dropped",
        values.bombs.load(Ordering::SeqCst),
        values.bombs_made
    );
}

/// Fills a cache with `n` sessions whose values panic as `panics` says for
/// each, held by the cache alone, and flushes them all: the first panic
/// reaches the caller, every session is removed and reported, and the
/// cache is consistent. Returns the values, for their counts, and the
/// cache.
fn flush_panicking_values(n: u32, panics: impl Fn(u32) -> Panics) -> (Values, SessionCache<Value>) {
    let mut values = Values::default();
    let (cache, count) = counting_cache(0, |_| {});
    for i in 0..n {
        cache.add(&values.session(&i.to_be_bytes(), u64::from(i), panics(i)));
    }
    let r = catch_unwind(AssertUnwindSafe(|| cache.flush(0)));
    assert!(r.is_err(), "a drop's panic reaches the caller");
    assert_eq!(cache.len(), 0, "the flush went on after the panic");
    assert_eq!(
        count.load(Ordering::SeqCst),
        n as usize,
        "every session removed is reported"
    );
    let (map, index, _) = cache.debug_sizes();
    assert_eq!((map, index), (0, 0));
    (values, cache)
}

/// A session value whose `drop` panics, freed by a flush: every session the
/// flush removed is still reported, and the cache stays consistent.
fn a_panicking_value_drop_loses_no_report() {
    let (values, cache) = flush_panicking_values(640, |i| {
        if i == 0 {
            Panics::Calmly
        } else {
            Panics::Never
        }
    });
    drop(cache);
    settle(&values);
}

/// A session removed earlier, whose value's `drop` panics, is freed by the
/// epoch's garbage that a later flush runs (not the flush's own): every
/// session the flush removes is still reported, and the flush goes on.
fn a_panicking_drop_of_earlier_garbage_loses_no_report() {
    const N: u32 = 640;
    let mut values = Values::default();
    let (cache, count) = counting_cache(0, |_| {});
    for i in 1..=N {
        cache.add(&values.session(&i.to_be_bytes(), u64::from(i), Panics::Never));
    }
    // Removed and released here: the epoch frees it later, on whichever
    // thread runs its garbage next.
    let bomb = values.session(b"bomb", 1_000_000, Panics::Calmly);
    cache.add(&bomb);
    assert!(cache.remove(&bomb));
    drop(bomb);
    let before = count.load(Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| cache.flush(0)));
    assert!(r.is_err(), "the drop's panic reaches the caller");
    assert_eq!(cache.len(), 0, "the flush went on after the panic");
    assert_eq!(
        count.load(Ordering::SeqCst) - before,
        N as usize,
        "every session the flush removed is reported"
    );
    let (map, index, _) = cache.debug_sizes();
    assert_eq!((map, index), (0, 0));
    drop(cache);
    settle(&values);
}

/// Two values whose `drop` panics even during unwinding, freed by one
/// flush: the process does not abort (no drop runs while another's panic
/// unwinds), every value is dropped once, every session is reported, and
/// the first panic reaches the caller.
fn two_hard_panicking_value_drops_in_one_flush_do_not_abort() {
    let (values, cache) = flush_panicking_values(10, |i| {
        if i == 3 || i == 7 {
            Panics::Always
        } else {
            Panics::Never
        }
    });
    assert_eq!(values.dropped(), 10, "all freed");
    drop(cache);
    settle(&values);
}

/// `on_remove` runs the epoch's garbage (as any other thread may at that
/// moment), which frees the entry of the session it is told of, and then
/// panics: the session's last reference is then the cache's own, and its
/// value, which panics even while unwinding, must be dropped before that
/// panic unwinds, not during it.
fn collect_then_panic(_: &Session<Value>) {
    for _ in 0..100 {
        crossbeam_epoch::pin().flush();
    }
    panic!("callback failure");
}

/// An eviction reported to an `on_remove` that panics.
fn a_panicking_report_of_an_eviction_does_not_abort() {
    let mut values = Values::default();
    let (cache, count) = counting_cache(1, collect_then_panic);
    cache.add(&values.session(b"a", 100, Panics::Always));
    let b = values.session(b"b", 200, Panics::Never);
    let r = catch_unwind(AssertUnwindSafe(|| cache.add(&b)));
    assert!(r.is_err(), "a panic reaches the caller");
    assert_eq!(count.load(Ordering::SeqCst), 1, "the eviction was reported");
    assert!(cache.contains(b"b") && !cache.contains(b"a"));
    assert_eq!(cache.len(), 1);
    drop((cache, b));
    settle(&values);
    assert_eq!(values.dropped(), 2, "both values freed");
}

/// A take, a `remove_id` and a lookup of an expired session, each reported
/// to an `on_remove` that panics.
fn a_panicking_report_of_a_take_or_removal_does_not_abort() {
    let mut values = Values::default();
    let (cache, count) = counting_cache(0, collect_then_panic);
    let clock = ManualClock::new(0);
    let cache_expiring: SessionCache<Value> = SessionCache::builder()
        .clock(clock.clone())
        .on_remove(collect_then_panic)
        .build();
    cache.add(&values.session(b"taken", 100, Panics::Always));
    cache.add(&values.session(b"removed", 100, Panics::Always));
    cache_expiring.add(&values.session(b"expired", 100, Panics::Always));
    let taken = catch_unwind(AssertUnwindSafe(|| cache.take(b"taken")));
    assert!(taken.is_err(), "a panic reaches the caller");
    let removed = catch_unwind(AssertUnwindSafe(|| cache.remove_id(b"removed")));
    assert!(removed.is_err(), "a panic reaches the caller");
    clock.set(1_000);
    let looked_up = catch_unwind(AssertUnwindSafe(|| cache_expiring.lookup(b"expired")));
    assert!(looked_up.is_err(), "a panic reaches the caller");
    assert_eq!(count.load(Ordering::SeqCst), 2, "both reported");
    assert!(cache.is_empty() && cache_expiring.is_empty());
    drop((cache, cache_expiring));
    settle(&values);
    assert_eq!(values.dropped(), 3, "every value freed");
}

/// A session an external cache supplies through `on_get` (often the only
/// reference to it) while `on_remove` or the caller's closure panics.
fn a_panic_on_the_on_get_path_does_not_abort() {
    for store in [false, true] {
        let mut values = Values::default();
        let supplied = [
            values.session(b"expired", 100, Panics::Always),
            values.session(b"live", 100_000, Panics::Always),
        ];
        let slot = std::sync::Mutex::new(supplied.map(Some));
        let clock = ManualClock::new(0);
        let mode = if store {
            sesscache::CacheMode::empty()
        } else {
            sesscache::CacheMode::NO_INTERNAL_STORE
        };
        let cache: SessionCache<Value> = SessionCache::builder()
            .clock(clock.clone())
            .mode(mode)
            .on_get(move |id| {
                let mut slot = slot.lock().unwrap();
                let i = usize::from(id == b"live");
                slot[i].take()
            })
            .on_remove(collect_then_panic)
            .build();
        clock.set(1_000);
        // Expired: stored (or not), then removed, and `on_remove` panics.
        let r = catch_unwind(AssertUnwindSafe(|| cache.lookup(b"expired")));
        assert!(r.is_err(), "a panic reaches the caller (store: {store})");
        // Live: the caller's closure panics.
        let r = catch_unwind(AssertUnwindSafe(|| {
            cache.lookup_with(b"live", |_| panic!("caller failure"))
        }));
        assert!(r.is_err(), "the closure's panic reaches the caller");
        // With the internal store, the cache still holds the live session:
        // its value's `drop` panics when the cache goes.
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(cache)));
        assert_eq!(
            dropped.is_err(),
            store,
            "the cache's drop frees the live value"
        );
        settle(&values);
        assert_eq!(values.dropped(), 2, "both values freed (store: {store})");
    }
}

/// Runs each scenario in turn, on this one thread.
#[test]
fn panicking_drops() {
    a_panicking_value_drop_loses_no_report();
    a_panicking_drop_of_earlier_garbage_loses_no_report();
    two_hard_panicking_value_drops_in_one_flush_do_not_abort();
    a_panicking_report_of_an_eviction_does_not_abort();
    a_panicking_report_of_a_take_or_removal_does_not_abort();
    a_panic_on_the_on_get_path_does_not_abort();
}
