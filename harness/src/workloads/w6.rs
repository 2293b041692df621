//! W6: scale. The cost of a store, a lookup, and a flush of 1 000 expired
//! sessions, as the number of live sessions grows.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{rng_for, Suite};
use crate::cache::Driver;
use crate::ids::{fresh_id, random_ids};
use crate::results::{median, ScalePoint};

/// Live counts measured.
pub fn live_counts(full: bool) -> Vec<usize> {
    let mut v = vec![1_000, 10_000, 100_000, 1_000_000];
    if full {
        v.push(10_000_000);
    }
    v
}

const EXPIRED: usize = 1_000;
const STORES: u64 = 10_000;
/// Flushes measured per point, each after its own 1 000 expired stores and
/// lookups; the median is reported, so a flush or two that a stall of the
/// machine hit (a flush of 1k takes well under a millisecond, a stall of a
/// shared machine several) do not decide the point. At least
/// `MIN_FLUSH_ROUNDS`; more, up to `MAX_FLUSH_ROUNDS`, while the point's
/// rounds have taken less than `ROUNDS_BUDGET`: OpenSSL walks its whole
/// session list to insert a session that expires before the others, so its
/// rounds among 10⁶ sessions take seconds each (its 1 000 stores, not its
/// flush), and seven of them would double the quick suite.
const MIN_FLUSH_ROUNDS: usize = 3;
const MAX_FLUSH_ROUNDS: usize = 7;
const ROUNDS_BUDGET: Duration = Duration::from_secs(2);

/// Whether a point that has run `done` rounds in `spent` runs another.
fn another_round(done: usize, spent: Duration) -> bool {
    done < MIN_FLUSH_ROUNDS || (done < MAX_FLUSH_ROUNDS && spent < ROUNDS_BUDGET)
}

/// Lookups per round (timed): they also push the expired sessions, stored
/// just before, out of the processor's caches, as time would in a server.
const LOOKUPS_PER_ROUND: usize = 33_000;

/// One point of W6 for one cache (single-threaded).
pub fn scale_point(suite: &Suite, driver: &dyn Driver, live: usize) -> ScalePoint {
    let cache = driver.build(&suite.config(0));
    let start = suite.start;
    let mut h = cache.handle();
    let live_ids = random_ids(live, 61 + live as u64);
    for id in &live_ids {
        h.store(id, &suite.value, start, 7200);
    }
    let mut rng = rng_for(0, 63);
    let mut lookup_time = Duration::ZERO;
    let mut flushes = Vec::with_capacity(MAX_FLUSH_ROUNDS);
    let rounds_start = Instant::now();
    let mut round = 0;
    while another_round(round, rounds_start.elapsed()) {
        for id in random_ids(EXPIRED, 62 + 1000 * round as u64) {
            h.store(&id, &suite.value, start, 1);
        }
        let t0 = Instant::now();
        for _ in 0..LOOKUPS_PER_ROUND {
            std::hint::black_box(h.lookup(&live_ids[rng.random_range(0..live)], start));
        }
        lookup_time += t0.elapsed();
        if driver.traits().expiry {
            let t0 = Instant::now();
            let n = h.flush(start + 2);
            std::hint::black_box(n);
            flushes.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        round += 1;
    }
    let lookup_ns = lookup_time.as_nanos() as f64 / (round * LOOKUPS_PER_ROUND) as f64;
    let flush_1k_us = if flushes.is_empty() {
        f64::NAN
    } else {
        median(&flushes)
    };
    let t0 = Instant::now();
    for i in 0..STORES {
        h.store(&fresh_id(0, i, 64), &suite.value, start, 7200);
    }
    let store_ns = t0.elapsed().as_nanos() as f64 / STORES as f64;
    ScalePoint {
        cache: driver.name().into(),
        live,
        store_ns,
        lookup_ns,
        flush_1k_us,
        flushes_us: flushes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_runs_three_to_seven_rounds_within_its_budget() {
        let quick = Duration::from_millis(10);
        let slow = ROUNDS_BUDGET + Duration::from_millis(1);
        assert!(
            another_round(0, slow) && another_round(2, slow),
            "three at least"
        );
        assert!(!another_round(3, slow), "none past three once over budget");
        assert!(another_round(3, quick) && another_round(6, quick));
        assert!(!another_round(7, quick), "seven at most");
    }
}
