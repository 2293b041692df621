//! W4: single-use tickets. Threads store a batch of tickets, then every
//! thread tries to take every ticket; a ticket taken twice is a replay that
//! 0-RTT anti-replay relies on never happening.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use super::Suite;
use crate::cache::Driver;
use crate::ids::random_ids;
use crate::results::{Tickets, TierCounts};
use crate::runner::split;

/// Tickets per run.
pub(crate) fn tickets(full: bool) -> usize {
    if full {
        200_000
    } else {
        50_000
    }
}

/// Runs W4 once against a fresh cache of `driver`'s with `threads` threads
/// ([`Tickets::from_runs`] sums runs).
pub fn tickets_run(suite: &Suite, driver: &dyn Driver, threads: usize) -> Tickets {
    tickets_cell(suite, driver, threads).0
}

/// [`tickets_run`], with what the cache's second tier did (if it has one).
pub(crate) fn tickets_cell(
    suite: &Suite,
    driver: &dyn Driver,
    threads: usize,
) -> (Tickets, Option<TierCounts>) {
    let n = tickets(suite.full);
    let ids = random_ids(n, 41);
    let cache = driver.build(&suite.config(0));
    // Counts up to 2^32 takes of one ticket: one per thread, and threads are
    // at most 4096 (a byte wrapped at 256 and hid every double take).
    let taken: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let barrier = Barrier::new(threads);
    let now = suite.start;
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for (t, part) in split(n, threads).into_iter().enumerate() {
            let (cache, ids, taken, barrier, value) =
                (&cache, &ids, &taken, &barrier, &suite.value);
            s.spawn(move || {
                let mut h = cache.handle();
                for id in &ids[part] {
                    h.store(id, value, now, 7200);
                }
                barrier.wait();
                // Everyone takes every ticket, each thread starting elsewhere.
                let offset = t * n / threads;
                for k in 0..n {
                    let i = (offset + k) % n;
                    if h.take(&ids[i], now) {
                        taken[i].fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let mops = (n + n * threads) as f64 / secs / 1e6;
    let counts: Vec<u32> = taken.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let tier = cache.tier_stats();
    let tickets = Tickets {
        cache: driver.name().into(),
        threads,
        tickets: n as u64,
        taken: counts.iter().map(|&c| u64::from(c)).sum(),
        double_takes: counts.iter().filter(|&&c| c > 1).count() as u64,
        mops,
        runs_mops: vec![mops],
    };
    (tickets, tier)
}
