//! Single-threaded cost of each cache operation, for sesscache and for every
//! peer the harness compiles in (`sesscache_harness::drivers::all()`), plus
//! the engine's own API without the harness's `dyn` indirection. See
//! README.md.
//!
//! Every session has a random 32-byte id and a 300-byte value. Operations
//! that change the cache (add, remove, take, flush) are timed in batches
//! with their setup outside the timed part, so each timed operation runs on
//! a cache of the intended size.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sesscache::{CacheMode, ManualClock, Session, SessionCache};
use sesscache_harness::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Value};
use sesscache_harness::drivers;
use sesscache_harness::ids::{expiring_timeout, fresh_id, random_ids, value};

/// Sessions in the cache for the lookup, add, remove and take benches.
const PREFILL: usize = 100_000;
/// Bytes per session value.
const VALUE_LEN: usize = 300;
/// The logical time of every run (seconds since the UNIX epoch).
const START: u64 = 1_700_000_000;
/// Lifetime of the live sessions.
const TIMEOUT: u64 = 7200;
/// Capacity of the unbounded-in-practice caches: never reached.
const ROOMY: usize = 4 * PREFILL;
/// At most this many operations per timed batch (add, remove, take).
const BATCH: usize = 1000;
/// Expired sessions removed by each timed flush…
const FLUSH_K: usize = 1000;
/// …among this many live ones.
const FLUSH_N: [usize; 3] = [1_000, 10_000, 100_000];
/// When the flush benches flush: after every expired session, long before
/// any live one.
const FLUSH_AT: u64 = START + FLUSH_K as u64 + 1;
// Seeds of the id sets, and the salt of the fresh ids.
const SEED_LIVE: u64 = 1;
const SEED_ABSENT: u64 = 2;
const SEED_FLUSH_LIVE: u64 = 3;
const SEED_FLUSH_EXPIRED: u64 = 4;
const SALT: u64 = 0x5e55_cac4e;

fn config(capacity: usize) -> Config {
    Config {
        capacity,
        timeout: TIMEOUT,
        start: START,
        sessions: 0,
    }
}

/// The lifetime of the `i`-th expired session of a flush bench (see
/// [`expiring_timeout`]).
fn expired_timeout(i: usize) -> u64 {
    expiring_timeout(i, FLUSH_K)
}

/// Fresh ids, never seen before by any cache of this process.
struct Fresh(u64);

impl Fresh {
    fn batch(&mut self, n: usize) -> Vec<Id> {
        (0..n)
            .map(|_| {
                self.0 += 1;
                fresh_id(0, self.0, SALT)
            })
            .collect()
    }
}

/// Times `iters` operations in batches of at most `batch`: `setup` (not
/// timed) prepares a batch of the given size, `timed` runs it, `teardown`
/// (not timed) restores the cache. Returns the timed part only.
fn batched<C: ?Sized, S>(
    ctx: &mut C,
    iters: u64,
    batch: usize,
    mut setup: impl FnMut(&mut C, usize) -> S,
    mut timed: impl FnMut(&mut C, &S),
    mut teardown: impl FnMut(&mut C, S),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(batch as u64) as usize;
        let state = setup(ctx, n);
        let t = Instant::now();
        timed(ctx, &state);
        total += t.elapsed();
        teardown(ctx, state);
        left -= n as u64;
    }
    total
}

/// Prints a warning the first time a sanity check fails (the benchmark goes
/// on: one misbehaving peer must not stop the run).
fn check(ok: bool, warned: &mut bool, what: impl FnOnce() -> String) {
    if !ok && !*warned {
        *warned = true;
        eprintln!("warning: {}", what());
    }
}

fn skip(group: &str, name: &str, why: &str) {
    eprintln!("skipping {group}/{name}: {why}");
}

// ---------------------------------------------------------------------------
// Every cache through the harness's Driver / SharedCache / CacheHandle.

fn prefill(h: &mut dyn CacheHandle, ids: &[Id], v: &Value, now: u64, timeout: u64) {
    for id in ids {
        h.store(id, v, now, timeout);
    }
}

/// lookup_hit, lookup_miss, add, remove and take on a cache of `PREFILL`
/// sessions; add_evict on a full one.
fn harness_ops(c: &mut Criterion) {
    let drivers = drivers::all();
    let live = random_ids(PREFILL, SEED_LIVE);
    let absent = random_ids(PREFILL, SEED_ABSENT);
    let v = value(VALUE_LEN);
    let mut fresh = Fresh(0);

    // One cache per driver, kept for all these groups (and one handle each:
    // a private-per-thread cache lives in its handle).
    let shared: Vec<(&dyn Driver, Box<dyn SharedCache>)> = drivers
        .iter()
        .map(|d| (&**d, d.build(&config(ROOMY))))
        .collect();
    let mut handles: Vec<(&dyn Driver, Box<dyn CacheHandle + '_>)> = shared
        .iter()
        .map(|(d, s)| {
            let mut h = s.handle();
            prefill(&mut *h, &live, &v, START, TIMEOUT);
            (*d, h)
        })
        .collect();

    let mut g = c.benchmark_group("lookup_hit");
    g.throughput(Throughput::Elements(1));
    for (d, h) in &mut handles {
        let hits = live
            .iter()
            .take(BATCH)
            .filter(|id| h.lookup(id, START))
            .count();
        check(hits == BATCH, &mut false, || {
            format!(
                "lookup_hit/{}: {hits} of {BATCH} prefilled sessions hit",
                d.name()
            )
        });
        g.bench_function(d.name(), |b| {
            let mut i = 0;
            b.iter(|| {
                let id = &live[i];
                i += 1;
                if i == live.len() {
                    i = 0;
                }
                h.lookup(black_box(id), START)
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("lookup_miss");
    g.throughput(Throughput::Elements(1));
    for (d, h) in &mut handles {
        g.bench_function(d.name(), |b| {
            let mut i = 0;
            b.iter(|| {
                let id = &absent[i];
                i += 1;
                if i == absent.len() {
                    i = 0;
                }
                h.lookup(black_box(id), START)
            });
        });
    }
    g.finish();

    // add: store new sessions into a cache of PREFILL; removed again
    // (untimed) after each batch.
    let mut g = c.benchmark_group("add");
    g.throughput(Throughput::Elements(1));
    for (d, h) in &mut handles {
        g.bench_function(d.name(), |b| {
            b.iter_custom(|iters| {
                batched(
                    h,
                    iters,
                    BATCH,
                    |_, n| fresh.batch(n),
                    |h, ids| {
                        for id in ids {
                            h.store(black_box(id), &v, START, TIMEOUT);
                        }
                    },
                    |h, ids| {
                        for id in &ids {
                            h.remove(id);
                        }
                    },
                )
            });
        });
    }
    g.finish();

    // remove: sessions stored (untimed) into a cache of PREFILL, then removed.
    let mut g = c.benchmark_group("remove");
    g.throughput(Throughput::Elements(1));
    for (d, h) in &mut handles {
        g.bench_function(d.name(), |b| {
            b.iter_custom(|iters| {
                batched(
                    h,
                    iters,
                    BATCH,
                    |h, n| {
                        let ids = fresh.batch(n);
                        prefill(&mut **h, &ids, &v, START, TIMEOUT);
                        ids
                    },
                    |h, ids| {
                        for id in ids {
                            h.remove(black_box(id));
                        }
                    },
                    |_, _| {},
                )
            });
        });
    }
    g.finish();

    // take: tickets stored (untimed) into a cache of PREFILL, then taken.
    let mut g = c.benchmark_group("take");
    g.throughput(Throughput::Elements(1));
    for (d, h) in &mut handles {
        if !d.traits().single_use {
            skip("take", d.name(), "take is not single use");
            continue;
        }
        let mut warned = false;
        g.bench_function(d.name(), |b| {
            b.iter_custom(|iters| {
                let mut got = 0;
                let mut wanted = 0;
                let t = batched(
                    h,
                    iters,
                    BATCH,
                    |h, n| {
                        let ids = fresh.batch(n);
                        prefill(&mut **h, &ids, &v, START, TIMEOUT);
                        ids
                    },
                    |h, ids| {
                        for id in ids {
                            got += usize::from(h.take(black_box(id), START));
                        }
                    },
                    |_, ids| wanted += ids.len(),
                );
                check(got == wanted, &mut warned, || {
                    format!("take/{}: took {got} of {wanted} stored tickets", d.name())
                });
                t
            });
        });
    }
    g.finish();

    drop(handles);
    drop(shared);

    // add_evict: store new sessions into a full cache of PREFILL; each
    // store evicts one.
    let mut g = c.benchmark_group("add_evict");
    g.throughput(Throughput::Elements(1));
    for d in &drivers {
        if !d.traits().bounded {
            skip("add_evict", d.name(), "no capacity bound");
            continue;
        }
        let cache = d.build(&config(PREFILL));
        let mut h = cache.handle();
        prefill(&mut *h, &live, &v, START, TIMEOUT);
        g.bench_function(d.name(), |b| {
            b.iter_custom(|iters| {
                batched(
                    &mut h,
                    iters,
                    BATCH,
                    |_, n| fresh.batch(n),
                    |h, ids| {
                        for id in ids {
                            h.store(black_box(id), &v, START, TIMEOUT);
                        }
                    },
                    |_, _| {},
                )
            });
        });
        let len = cache.len();
        check(
            d.traits().private_per_thread || len <= PREFILL + PREFILL / 100,
            &mut false,
            || {
                format!(
                    "add_evict/{}: {len} sessions in a cache of capacity {PREFILL}",
                    d.name()
                )
            },
        );
    }
    g.finish();
}

/// flush: FLUSH_K expired sessions among n live ones, one flush per
/// iteration (the expired ones are stored again, untimed, before each).
fn harness_flush(c: &mut Criterion) {
    let drivers = drivers::all();
    let expired = random_ids(FLUSH_K, SEED_FLUSH_EXPIRED);
    let v = value(VALUE_LEN);
    let mut g = c.benchmark_group("flush");
    g.throughput(Throughput::Elements(FLUSH_K as u64));
    for d in &drivers {
        if !d.traits().expiry {
            skip("flush", d.name(), "no expiry");
            continue;
        }
        for n in FLUSH_N {
            let cache = d.build(&config(ROOMY));
            let mut h = cache.handle();
            prefill(&mut *h, &random_ids(n, SEED_FLUSH_LIVE), &v, START, TIMEOUT);
            let mut warned = false;
            let id = BenchmarkId::new(d.name(), format!("{FLUSH_K}_of_{n}"));
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        for (i, id) in expired.iter().enumerate() {
                            h.store(id, &v, START, expired_timeout(i));
                        }
                        let t = Instant::now();
                        let removed = h.flush(black_box(FLUSH_AT));
                        total += t.elapsed();
                        check(removed == FLUSH_K, &mut warned, || {
                            format!("flush/{}: removed {removed} of {FLUSH_K}", d.name())
                        });
                    }
                    total
                });
            });
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// sesscache through its own API.

type Engine = SessionCache<Value>;

fn engine(capacity: usize) -> Engine {
    SessionCache::builder()
        .capacity(capacity)
        .timeout(TIMEOUT)
        .mode(CacheMode::NO_AUTO_CLEAR)
        .clock(ManualClock::new(START))
        .build()
}

fn sessions(ids: &[Id], v: &Value, time: u64, timeout: u64) -> Vec<Arc<Session<Value>>> {
    ids.iter()
        .map(|id| Arc::new(Session::new(id, time, timeout, v.clone()).expect("32-byte id")))
        .collect()
}

fn engine_filled(capacity: usize, ids: &[Id], v: &Value) -> Engine {
    let cache = engine(capacity);
    for s in sessions(ids, v, START, TIMEOUT) {
        cache.add(&s);
    }
    cache
}

fn engine_ops(c: &mut Criterion) {
    let live = random_ids(PREFILL, SEED_LIVE);
    let absent = random_ids(PREFILL, SEED_ABSENT);
    let v = value(VALUE_LEN);
    let mut fresh = Fresh(1 << 40);
    let cache = engine_filled(ROOMY, &live, &v);
    check(cache.len() == PREFILL, &mut false, || {
        "engine: prefill short".into()
    });

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));

    g.bench_function("lookup_hit/lookup_with", |b| {
        let mut i = 0;
        b.iter(|| {
            let id = &live[i];
            i += 1;
            if i == live.len() {
                i = 0;
            }
            cache.lookup_with(black_box(id), |s| consume(s.value()))
        });
    });
    g.bench_function("lookup_hit/lookup", |b| {
        let mut i = 0;
        b.iter(|| {
            let id = &live[i];
            i += 1;
            if i == live.len() {
                i = 0;
            }
            cache.lookup(black_box(id)).map(|s| consume(s.value()))
        });
    });
    g.bench_function("lookup_miss/lookup_with", |b| {
        let mut i = 0;
        b.iter(|| {
            let id = &absent[i];
            i += 1;
            if i == absent.len() {
                i = 0;
            }
            cache.lookup_with(black_box(id), |s| consume(s.value()))
        });
    });

    // add: sessions made (untimed), added, taken out again (untimed).
    g.bench_function("add", |b| {
        b.iter_custom(|iters| {
            batched(
                &mut (),
                iters,
                BATCH,
                |_, n| sessions(&fresh.batch(n), &v, START, TIMEOUT),
                |_, ss| {
                    for s in ss {
                        cache.add(black_box(s));
                    }
                },
                |_, ss| {
                    for s in &ss {
                        cache.take(s.id());
                    }
                },
            )
        });
    });
    g.bench_function("remove", |b| {
        b.iter_custom(|iters| {
            batched(
                &mut (),
                iters,
                BATCH,
                |_, n| {
                    let ss = sessions(&fresh.batch(n), &v, START, TIMEOUT);
                    for s in &ss {
                        cache.add(s);
                    }
                    ss
                },
                |_, ss| {
                    for s in ss {
                        cache.remove(black_box(s));
                    }
                },
                |_, _| {},
            )
        });
    });
    g.bench_function("take", |b| {
        b.iter_custom(|iters| {
            batched(
                &mut (),
                iters,
                BATCH,
                |_, n| {
                    let ss = sessions(&fresh.batch(n), &v, START, TIMEOUT);
                    for s in &ss {
                        cache.add(s);
                    }
                    ss
                },
                |_, ss| {
                    for s in ss {
                        black_box(cache.take(black_box(s.id())));
                    }
                },
                |_, _| {},
            )
        });
    });
    let len = cache.len();
    check(len == PREFILL, &mut false, || {
        format!("engine: {len} sessions left after add/remove/take, not {PREFILL}")
    });
    drop(cache);

    let full = engine_filled(PREFILL, &live, &v);
    g.bench_function("add_evict", |b| {
        b.iter_custom(|iters| {
            batched(
                &mut (),
                iters,
                BATCH,
                |_, n| sessions(&fresh.batch(n), &v, START, TIMEOUT),
                |_, ss| {
                    for s in ss {
                        full.add(black_box(s));
                    }
                },
                |_, _| {},
            )
        });
    });
    let len = full.len();
    check(len == PREFILL, &mut false, || {
        format!("engine/add_evict: {len} sessions in a cache of capacity {PREFILL}")
    });
    drop(full);

    g.throughput(Throughput::Elements(FLUSH_K as u64));
    let expired = random_ids(FLUSH_K, SEED_FLUSH_EXPIRED);
    for n in FLUSH_N {
        let cache = engine_filled(ROOMY, &random_ids(n, SEED_FLUSH_LIVE), &v);
        let id = BenchmarkId::new("flush", format!("{FLUSH_K}_of_{n}"));
        let mut warned = false;
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    for (i, id) in expired.iter().enumerate() {
                        let s = Session::new(id, START, expired_timeout(i), v.clone());
                        cache.add(&Arc::new(s.expect("32-byte id")));
                    }
                    let t = Instant::now();
                    let removed = cache.flush(black_box(FLUSH_AT));
                    total += t.elapsed();
                    check(removed == FLUSH_K, &mut warned, || {
                        format!("engine/flush: removed {removed} of {FLUSH_K}")
                    });
                }
                total
            });
        });
        let len = cache.len();
        check(len == n, &mut false, || {
            format!("engine/flush: {len} live, not {n}")
        });
    }
    g.finish();
}

/// Short by default: the whole run over every compiled-in cache takes a few
/// minutes on two cores. Command-line options (`--measurement-time`, …)
/// override these.
fn config_criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .nresamples(20_000)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config_criterion();
    targets = engine_ops, harness_ops, harness_flush
}
criterion_main!(benches);
