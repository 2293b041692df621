//! W6: scale. The cost of a store, a lookup, and a flush of 1 000 expired
//! sessions, as the number of live sessions grows.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{rng_for, Suite};
use crate::cache::{CacheHandle, Driver, Id, SharedCache};
use crate::ids::{expiring_timeout, random_ids};
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
/// Stores timed per point: the last of its live sessions, at most half.
const STORES: usize = 10_000;
/// Rounds per cache: each round stores 1 000 expiring sessions in every
/// point's cache, runs its lookups and times its flush; a point's flush
/// figure is the median of its rounds, so a flush or two that a stall of the
/// machine hit (a flush of 1k takes well under a millisecond, a stall of a
/// shared machine several) do not decide it. Up to `MAX_FLUSH_ROUNDS`,
/// while the rounds have taken less than `ROUNDS_BUDGET`, and at least
/// `MIN_FLUSH_ROUNDS` while they have taken less than `SLOW_ROUNDS_BUDGET`,
/// so that a cache whose rounds take seconds (OpenSSL's did, before each
/// expiring session got an expiry of its own: see the rounds) does not make
/// up half the quick suite. `--full` runs `MIN_FLUSH_ROUNDS_FULL` whatever
/// they take: each of its figures is the median of at least five runs.
const MIN_FLUSH_ROUNDS: usize = 3;
const MIN_FLUSH_ROUNDS_FULL: usize = 5;
const MAX_FLUSH_ROUNDS: usize = 7;
const ROUNDS_BUDGET: Duration = Duration::from_secs(2);
const SLOW_ROUNDS_BUDGET: Duration = Duration::from_secs(10);
/// Lookups per round (timed). Among 10⁵ and more live sessions they also
/// push the expired sessions, stored just before, out of the processor's
/// caches, as time would in a server; among 10³ and 10⁴ everything fits in
/// them, so the small points' flushes run warm and the large ones' cold
/// (which makes the ratio of the two larger, not smaller).
const LOOKUPS_PER_ROUND: usize = 33_000;

/// Whether a cache that has run `done` rounds in `spent` runs another
/// (`full`: the `--full` suite, which has the time for five).
fn another_round(done: usize, spent: Duration, full: bool) -> bool {
    done == 0
        || (full && done < MIN_FLUSH_ROUNDS_FULL)
        || (done < MIN_FLUSH_ROUNDS && spent < SLOW_ROUNDS_BUDGET)
        || (done < MAX_FLUSH_ROUNDS && spent < ROUNDS_BUDGET)
}

/// How many equal slices a point's timed stores are split into: one per
/// repetition of the suite (five with `--full`), at most one per store. The
/// store figure stays the mean over all of them (a median of slices would
/// drop the one where the table grew); the slices give its spread.
fn store_slices(suite: &Suite, stores: usize) -> usize {
    suite.repeats.clamp(1, stores.max(1))
}

/// The order in which round `round` visits `n` points: backwards, then
/// forwards, and so on (C B A, A B C, C B A, …), so that a drift of the
/// machine's speed over the rounds weighs on every point alike. The ratio
/// of the largest point to the smallest is a target, and this machine's
/// speed moves by a third over seconds: measured one after the other, the
/// points took turns being lucky. The very first flush of a run can be
/// slow (it once read 5 ms where the rest read 0.3): round 0 starts with
/// the largest point, so that this lands on the target's numerator, never
/// on its denominator.
fn round_order(round: usize, n: usize) -> Vec<usize> {
    if round % 2 == 0 {
        (0..n).rev().collect()
    } else {
        (0..n).collect()
    }
}

/// One W6 point under measurement: its cache's handle (which, for a cache
/// with a private copy per thread, holds the sessions) and what its rounds
/// measured.
struct Point<'a> {
    live: usize,
    live_ids: Vec<Id>,
    handle: Box<dyn CacheHandle + 'a>,
    store_ns: f64,
    stores_ns: Vec<f64>,
    lookups_ns: Vec<f64>,
    flushes: Vec<f64>,
}

/// W6 for one cache (single-threaded): one cache per live count (each at
/// least 1), all built first, then measured in alternating rounds (see
/// [`round_order`]); one progress step per point built.
pub fn scale_points(suite: &Suite, driver: &dyn Driver, lives: &[usize]) -> Vec<ScalePoint> {
    assert!(
        lives.iter().all(|&l| l > 0),
        "W6 live counts are positive: {lives:?}"
    );
    let start = suite.start;
    let caches: Vec<Box<dyn SharedCache>> = lives
        .iter()
        .map(|&live| driver.build(&suite.config(0).holding(live + EXPIRED)))
        .collect();
    let mut points: Vec<Point<'_>> = caches
        .iter()
        .zip(lives)
        .map(|(cache, &live)| {
            suite.step(format!("W6 {} {live}", driver.name()));
            let live_ids = random_ids(live, 61 + live as u64);
            // The last `stores` of the live sessions are stored timed, right
            // after the others, while this cache is the newest thing in the
            // process (timed after the rounds, a small point's stores would
            // allocate among the larger points' memory). A table that grows
            // within this window (hashbrown at 896 and 7 168 entries) shows
            // it in the figure.
            let stores = (live / 2).clamp(1, STORES);
            let mut handle = cache.handle();
            for id in &live_ids[..live - stores] {
                handle.store(id, &suite.value, start, 7200);
            }
            let slices = store_slices(suite, stores);
            let t0 = Instant::now();
            let stores_ns: Vec<f64> = (0..slices)
                .map(|k| {
                    let slice =
                        &live_ids[live - stores..][k * stores / slices..(k + 1) * stores / slices];
                    let t0 = Instant::now();
                    for id in slice {
                        handle.store(id, &suite.value, start, 7200);
                    }
                    t0.elapsed().as_nanos() as f64 / slice.len() as f64
                })
                .collect();
            // The whole window's mean, slicing's own few clock reads
            // included.
            let store_ns = t0.elapsed().as_nanos() as f64 / stores as f64;
            Point {
                live,
                live_ids,
                handle,
                store_ns,
                stores_ns,
                lookups_ns: Vec::with_capacity(MAX_FLUSH_ROUNDS),
                flushes: Vec::with_capacity(MAX_FLUSH_ROUNDS),
            }
        })
        .collect();
    let expiry = driver.traits().expiry;
    suite
        .progress
        .set_message(format!("W6 {} rounds", driver.name()));
    let mut rng = rng_for(0, 63);
    let rounds_start = Instant::now();
    let mut round = 0;
    while another_round(round, rounds_start.elapsed(), suite.full) {
        // Seeds apart from the live ids' (`61 + live`); the same ids for
        // every point of the round (each has its own cache).
        let expiring = if expiry {
            random_ids(EXPIRED, 1 << 40 | round as u64)
        } else {
            Vec::new()
        };
        for i in round_order(round, points.len()) {
            let p = &mut points[i];
            let h = &mut p.handle;
            // A cache without expiry has nothing to flush: it gets no
            // expiring sessions, which it would keep, so that its live count
            // stays the point's. The others expire at start + 1 000,
            // start + 999, …, start + 1 (`expiring_timeout`: OpenSSL then
            // appends each to its list): all before the flush, and long
            // before the live ones (start + 7 200). Not timed.
            for (k, id) in expiring.iter().enumerate() {
                h.store(id, &suite.value, start, expiring_timeout(k, EXPIRED));
            }
            let t0 = Instant::now();
            for _ in 0..LOOKUPS_PER_ROUND {
                let id = &p.live_ids[rng.random_range(0..p.live)];
                std::hint::black_box(h.lookup(id, start));
            }
            p.lookups_ns
                .push(t0.elapsed().as_nanos() as f64 / LOOKUPS_PER_ROUND as f64);
            if expiry {
                let t0 = Instant::now();
                std::hint::black_box(h.flush(start + EXPIRED as u64 + 1));
                p.flushes.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        round += 1;
    }
    points
        .into_iter()
        .map(|p| ScalePoint {
            cache: driver.name().into(),
            live: p.live,
            store_ns: p.store_ns,
            stores_ns: p.stores_ns,
            lookup_ns: median(&p.lookups_ns),
            lookups_ns: p.lookups_ns,
            flush_1k_us: if p.flushes.is_empty() {
                f64::NAN
            } else {
                median(&p.flushes)
            },
            flushes_us: p.flushes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_runs_one_to_seven_rounds_within_its_budgets() {
        let quick = Duration::from_millis(10);
        let slow = ROUNDS_BUDGET + Duration::from_millis(1);
        let very_slow = SLOW_ROUNDS_BUDGET + Duration::from_millis(1);
        for full in [false, true] {
            assert!(another_round(0, very_slow, full), "one at least");
            assert!(another_round(1, slow, full) && another_round(2, slow, full));
            assert!(another_round(3, quick, full) && another_round(6, quick, full));
            assert!(!another_round(7, quick, full), "seven at most");
        }
        // Over budget: none past three in the quick suite, five with --full.
        assert!(!another_round(3, slow, false));
        assert!(another_round(4, slow, true) && !another_round(5, slow, true));
        // A cache whose first round took over the slow budget: one round in
        // the quick suite, five with --full.
        assert!(!another_round(1, very_slow, false));
        assert!(another_round(1, very_slow, true) && another_round(4, very_slow, true));
        assert!(!another_round(5, very_slow, true));
    }

    #[test]
    fn rounds_visit_the_points_backwards_then_forwards() {
        assert_eq!(round_order(0, 4), [3, 2, 1, 0]);
        assert_eq!(round_order(1, 4), [0, 1, 2, 3]);
        assert_eq!(round_order(2, 4), [3, 2, 1, 0]);
        assert_eq!(round_order(5, 1), [0]);
    }
}
