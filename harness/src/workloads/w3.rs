//! W3: flush under load. Many sessions expire at T while others stay live;
//! one thread flushes at T+1 while the others look up live sessions. The
//! lookup latency during the flush shows whether a flush stalls handshakes
//! (OpenSSL flushes under its write lock).
//!
//! Latencies are corrected for coordinated omission: a lookup thread that is
//! stalled issues no lookups meanwhile, so without correction a stall of
//! 100 ms counts once and the percentiles hide it. Each stall is back-filled
//! with the lookups that would have arrived at the pre-flush rate.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::Rng;

use super::{rng_for, Suite};
use crate::cache::Driver;
use crate::ids::random_ids;
use crate::results::FlushLatency;
use crate::runner::split;

const WARMUP: u8 = 0;
const FLUSHING: u8 = 1;
const DONE: u8 = 2;

/// Sizes of W3: (expired, live), as the workload defines them in both
/// modes.
pub(crate) fn sizes() -> (usize, usize) {
    (1_000_000, 100_000)
}

/// Runs W3 against one cache with `lookup_threads` lookup threads.
pub fn flush_under_load(suite: &Suite, driver: &dyn Driver, lookup_threads: usize) -> FlushLatency {
    let (expired_n, live_n) = sizes();
    let cache = driver.build(&suite.config(0));
    let start = suite.start;
    let t_expire = start + 10;
    let expired = random_ids(expired_n, 31);
    let live = random_ids(live_n, 32);
    // Fill in parallel: the fill is setup, not measured.
    std::thread::scope(|s| {
        for part in split(expired.len(), lookup_threads + 1) {
            let (cache, expired, value) = (&cache, &expired, &suite.value);
            s.spawn(move || {
                let mut h = cache.handle();
                for id in &expired[part] {
                    h.store(id, value, start, t_expire - start);
                }
            });
        }
    });
    {
        let mut h = cache.handle();
        for id in &live {
            h.store(id, &suite.value, start, 7200);
        }
    }
    let phase = AtomicU8::new(WARMUP);
    let mut flush_ms = 0.0;
    let mut flushed = 0;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..lookup_threads)
            .map(|t| {
                let (cache, live, phase) = (&cache, &live, &phase);
                s.spawn(move || {
                    let mut h = cache.handle();
                    let mut rng = rng_for(t, 0x33);
                    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
                        .expect("valid bounds");
                    // The mean lookup time before the flush: the interval at
                    // which lookups would keep arriving (see below).
                    let (mut warm_ns, mut warm_n) = (0u64, 0u64);
                    loop {
                        let p = phase.load(Ordering::Acquire);
                        if p == DONE {
                            break;
                        }
                        let id = &live[rng.random_range(0..live.len())];
                        let t0 = Instant::now();
                        let hit = h.lookup(id, start);
                        let ns = t0.elapsed().as_nanos() as u64;
                        std::hint::black_box(hit);
                        if p == WARMUP {
                            warm_ns += ns;
                            warm_n += 1;
                        } else {
                            // Corrected for coordinated omission: a lookup
                            // stalled for `ns` stands for every lookup that
                            // would have arrived meanwhile (handshakes do not
                            // wait for the previous one), as hdrhistogram's
                            // `record_correct` back-fills them.
                            let expected = (warm_ns / warm_n.max(1)).max(1);
                            let _ = hist.record_correct(ns.max(1), expected);
                        }
                    }
                    hist
                })
            })
            .collect();
        // Let the lookup threads get going, then flush.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut h = cache.handle();
        phase.store(FLUSHING, Ordering::Release);
        let t0 = Instant::now();
        flushed = h.flush(t_expire + 1);
        flush_ms = t0.elapsed().as_secs_f64() * 1e3;
        phase.store(DONE, Ordering::Release);
        for w in workers {
            hist.add(w.join().expect("lookup thread"))
                .expect("same bounds");
        }
    });
    FlushLatency {
        cache: driver.name().into(),
        expired: expired_n,
        live: live_n,
        lookup_threads,
        lookups: hist.len(),
        p50_ns: hist.value_at_quantile(0.50),
        p99_ns: hist.value_at_quantile(0.99),
        p999_ns: hist.value_at_quantile(0.999),
        max_ns: hist.max(),
        flush_ms,
        flushed,
    }
}
