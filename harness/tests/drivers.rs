//! The same small conformance scenario against every driver the harness
//! runs (`drivers::suite()`: every driver compiled in, the Redis tier
//! included), and a concurrent single-use check for the drivers that claim
//! single use.
//!
//! The Redis tier's driver needs `redis-server` (it starts a private one):
//! without it these tests fail, saying so, rather than skip it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

use sesscache_harness::cache::{CacheHandle, Config, Driver, Id, SharedCache, Value};
use sesscache_harness::drivers;

/// The logical start time of every cache built here.
const START: u64 = 1_700_000_000;

fn config(capacity: usize) -> Config {
    Config {
        capacity,
        timeout: 7200,
        start: START,
        sessions: 0,
    }
}

fn value() -> Value {
    (0..300u32)
        .map(|i| (i % 251) as u8 + 1)
        .collect::<Vec<u8>>()
        .into()
}

/// A distinct id per `n` (the first bytes differ, so OpenSSL's 4-byte hash
/// spreads them).
fn id(n: u32) -> Id {
    let mut id = [0x5a; 32];
    id[..4].copy_from_slice(&n.wrapping_mul(0x9e37_79b9).to_le_bytes());
    id[28..].copy_from_slice(&n.to_le_bytes());
    id
}

/// Every driver the harness runs, each ready (the Redis tier's private
/// server started).
fn all_drivers() -> Vec<Box<dyn Driver>> {
    let v = drivers::suite(None);
    for d in &v {
        if let Err(why) = d.prepare() {
            panic!(
                "{}: {why}\nThese tests cover every driver: install redis-server \
                 (apt-get install redis-server; CI installs it).",
                d.name()
            );
        }
    }
    v
}

/// Builds a cache and runs `f` on it with one handle.
fn with_cache(
    d: &dyn Driver,
    capacity: usize,
    f: impl FnOnce(&dyn SharedCache, &mut dyn CacheHandle),
) {
    let cache = d.build(&config(capacity));
    let mut h = cache.handle();
    f(&*cache, &mut *h);
}

#[test]
fn every_driver_is_compiled_in_by_default() {
    let names: Vec<&str> = drivers::all().iter().map(|d| d.name()).collect();
    assert_eq!(names[0], "sesscache", "sesscache first: {names:?}");
    for name in names.iter() {
        let d = drivers::all()
            .into_iter()
            .find(|d| d.name() == *name)
            .unwrap();
        assert!(!d.mapping().is_empty(), "{name}: mapping");
    }
    #[cfg(all(
        feature = "openssl",
        feature = "rustls",
        feature = "moka",
        feature = "naive",
        feature = "limit"
    ))]
    assert_eq!(
        names,
        ["sesscache", "openssl", "rustls", "moka", "naive", "limit"]
    );
    // The suite adds the Redis tier, second.
    let suite = drivers::suite(None);
    for d in &suite {
        assert!(!d.mapping().is_empty(), "{}: mapping", d.name());
        // Every version is found: in the lock file, or (OpenSSL) asked of
        // the library loaded.
        let version = d.version();
        assert!(
            !version.is_empty() && !version.contains('?') && !version.contains(" / "),
            "{}: version {version:?} (one version of each crate)",
            d.name()
        );
        let first = version.chars().next().unwrap();
        let expected_start = match d.name() {
            "openssl" => version.starts_with("OpenSSL "),
            "naive" => version.starts_with("std of rustc "),
            "limit" => version.starts_with("hashbrown 0.15."),
            _ => first.is_ascii_digit(),
        };
        assert!(expected_start, "{}: version {version:?}", d.name());
    }
    let suite: Vec<&str> = suite.iter().map(|d| d.name()).collect();
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut expected = names.clone();
    #[cfg(feature = "redis")]
    expected.insert(1, "sesscache+redis");
    assert_eq!(suite, expected);
}

#[test]
fn conformance() {
    let v = value();
    for d in all_drivers() {
        let name = d.name();
        let traits = d.traits();
        with_cache(&*d, 0, |cache, h| {
            // Live sessions we expect the cache to hold at the end.
            let mut live = 0;

            // Store then lookup hits.
            h.store(&id(1), &v, START, 7200);
            live += 1;
            assert!(h.lookup(&id(1), START), "{name}: lookup after store");
            assert!(h.lookup(&id(1), START + 10), "{name}: lookup later");
            if !traits.private_per_thread {
                // Shared: another handle (OpenSSL: another SSL*) sees it.
                let mut other = cache.handle();
                assert!(
                    other.lookup(&id(1), START),
                    "{name}: lookup by another handle"
                );
            }

            // Unknown id misses.
            assert!(!h.lookup(&id(2), START), "{name}: unknown id");

            // Remove then lookup misses; removing again or an unknown id is
            // harmless.
            h.store(&id(3), &v, START, 7200);
            assert!(h.lookup(&id(3), START), "{name}: lookup before remove");
            h.remove(&id(3));
            assert!(!h.lookup(&id(3), START), "{name}: lookup after remove");
            h.remove(&id(3));
            h.remove(&id(4));
            assert!(h.lookup(&id(1), START), "{name}: others survive a remove");

            // Take: once true, then false.
            if traits.single_use {
                h.store(&id(5), &v, START, 7200);
                assert!(h.take(&id(5), START), "{name}: first take");
                assert!(!h.take(&id(5), START), "{name}: second take");
                assert!(!h.lookup(&id(5), START), "{name}: lookup after take");
                assert!(!h.take(&id(6), START), "{name}: take of an unknown id");
            }

            // Flush removes the expired (really removes: a lookup at a time
            // the session would still be live misses) and keeps the rest.
            if traits.expiry {
                h.store(&id(7), &v, START, 1);
                h.store(&id(8), &v, START, 7200);
                live += 1;
                assert!(h.lookup(&id(7), START), "{name}: short-lived before flush");
                assert_eq!(h.flush(START + 1), 0, "{name}: flush at the expiry");
                assert!(h.lookup(&id(7), START), "{name}: live at its expiry");
                assert_eq!(h.flush(START + 5), 1, "{name}: flush count");
                if !traits.second_tier {
                    // A tier keeps it until its own (wall-clock) TTL: the
                    // lookup below, at a time it is still live, would find
                    // it there again.
                    assert!(!h.lookup(&id(7), START), "{name}: flushed");
                }
                assert!(h.lookup(&id(8), START + 5), "{name}: long-lived kept");
                assert!(h.lookup(&id(1), START + 5), "{name}: first kept");
            } else {
                assert_eq!(h.flush(START + 5), 0, "{name}: no expiry, no flush");
            }

            let expected = if traits.private_per_thread {
                0
            } else if traits.second_tier {
                // The local copies: the other machine holds id 1 too (its
                // lookup fetched it from the tier).
                live + 1
            } else {
                live
            };
            assert_eq!(cache.len(), expected, "{name}: len");
        });
    }
}

/// Expired sessions are not found by the drivers that check expiry at
/// lookup (OpenSSL's presence test does not: it is left out).
#[test]
fn lookup_after_expiry_misses_where_checked() {
    let v = value();
    for d in all_drivers() {
        let name = d.name();
        if !d.traits().expiry || name == "openssl" || name.starts_with("sesscache") {
            // sesscache (with or without its tier) checks expiry against its
            // own clock, fixed at the start; OpenSSL's presence test never
            // checks it.
            continue;
        }
        with_cache(&*d, 0, |_, h| {
            h.store(&id(1), &v, START, 10);
            assert!(h.lookup(&id(1), START + 10), "{name}: live at the expiry");
            assert!(!h.lookup(&id(1), START + 11), "{name}: expired");
        });
    }
}

/// A bounded cache of capacity 4 holds at most 4 sessions, the last stored
/// among them.
#[test]
fn capacity_bounds_the_shared_caches() {
    let v = value();
    for d in all_drivers() {
        let name = d.name();
        let traits = d.traits();
        if !traits.bounded || traits.private_per_thread {
            continue;
        }
        with_cache(&*d, 4, |cache, h| {
            for n in 0..10 {
                h.store(&id(n), &v, START + u64::from(n), 7200);
            }
            let len = cache.len();
            assert!((1..=4).contains(&len), "{name}: len {len} with capacity 4");
            assert!(h.lookup(&id(9), START), "{name}: the newest is kept");
            if traits.second_tier {
                // The bound is local: every evicted session is still in the
                // tier, and a lookup brings it back (evicting another).
                let held = (0..10).filter(|&n| h.lookup(&id(n), START)).count();
                assert_eq!(held, 10, "{name}: the tier keeps the evicted");
                let len = cache.len();
                assert!((1..=4).contains(&len), "{name}: len {len} after lookups");
            } else {
                let held = (0..10).filter(|&n| h.lookup(&id(n), START)).count();
                assert!(held <= 4, "{name}: {held} found with capacity 4");
            }
        });
    }
}

/// For single-use drivers: 4 threads take the same 200 ids; each id is
/// taken exactly once.
#[test]
fn concurrent_take_is_single_use() {
    const THREADS: usize = 4;
    const IDS: u32 = 200;
    const ROUNDS: u32 = 10;
    let v = value();
    for d in all_drivers() {
        let name = d.name();
        if !d.traits().single_use {
            continue;
        }
        for round in 0..ROUNDS {
            let cache = d.build(&config(0));
            let ids: Vec<Id> = (0..IDS).map(|n| id(n + round * IDS)).collect();
            {
                let mut h = cache.handle();
                for id in &ids {
                    h.store(id, &v, START, 7200);
                }
            }
            let wins: Arc<Vec<AtomicU32>> = Arc::new((0..IDS).map(|_| AtomicU32::new(0)).collect());
            let barrier = Barrier::new(THREADS);
            std::thread::scope(|s| {
                for _ in 0..THREADS {
                    let (cache, ids, wins, barrier) = (&cache, &ids, &wins, &barrier);
                    s.spawn(move || {
                        let mut h = cache.handle();
                        barrier.wait();
                        for (i, id) in ids.iter().enumerate() {
                            if h.take(id, START) {
                                wins[i].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            for (i, w) in wins.iter().enumerate() {
                assert_eq!(
                    w.load(Ordering::Relaxed),
                    1,
                    "{name}: round {round}, id {i} taken that many times"
                );
            }
            assert_eq!(cache.len(), 0, "{name}: everything taken");
        }
    }
}
