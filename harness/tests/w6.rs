//! W6 measures every point of a cache in alternating rounds, each point
//! through one handle for the whole measurement (a private-per-thread
//! cache keeps its sessions in the handle).

#[path = "common/counting.rs"]
mod counting;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use counting::{Counting, Tally};
use indicatif::ProgressBar;
use sesscache_harness::cache::Driver;
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{scale_points, Suite, Workload};

#[test]
fn every_round_finds_the_live_sessions_and_flushes_its_expired_ones() {
    // rustls has no expiry: it gets no expiring sessions, so its live count
    // stays the point's. A point of one session shares no seed with the
    // expiring ones.
    let lives = [1, 100, 2_000];
    // Every cache that takes part in W6 (all but the Redis tier, with the
    // default features).
    let w6: Vec<Box<dyn Driver>> = drivers::suite(None)
        .into_iter()
        .filter(|d| d.workloads().contains(&Workload::W6))
        .collect();
    assert!(w6.iter().any(|d| d.name() == "sesscache"));
    for inner in w6 {
        let name = inner.name();
        let expiry = inner.traits().expiry;
        let tally = Arc::new(Tally::default());
        let driver = Counting {
            inner,
            tally: tally.clone(),
        };
        let suite = Suite {
            full: false,
            threads: vec![1],
            // Three slices of timed stores per point (one for a point of one
            // session, which times one store).
            repeats: 3,
            cell: Duration::from_millis(5),
            value: value(300),
            drivers: Vec::new(),
            workloads: Vec::new(),
            start: 1_700_000_000,
            progress: ProgressBar::hidden(),
        };
        let points = scale_points(&suite, &driver, &lives);
        assert_eq!(points.iter().map(|p| p.live).collect::<Vec<_>>(), lives);
        // Each point's cache is told what it will hold: its live sessions
        // and a round's expiring ones (rustls sizes its table from that).
        assert_eq!(
            *tally.sessions.lock().unwrap(),
            lives.map(|l| l + 1_000),
            "{name}: the sizing hints"
        );
        assert!(points
            .iter()
            .all(|p| p.lookup_ns > 0.0 && p.store_ns.is_finite() && p.store_ns > 0.0));
        assert_eq!(
            points.iter().map(|p| p.stores_ns.len()).collect::<Vec<_>>(),
            [1, 3, 3],
            "{name}: store slices"
        );
        assert_eq!(
            tally.misses.load(Ordering::Relaxed),
            0,
            "{name}: every lookup hits"
        );
        let live: usize = lives.iter().sum();
        if !expiry {
            assert!(points
                .iter()
                .all(|p| p.flushes_us.is_empty() && p.flush_1k_us.is_nan()));
            assert_eq!(
                tally.stores.load(Ordering::Relaxed),
                live,
                "{name}: no expiring stores"
            );
            assert_eq!(tally.flushed.load(Ordering::Relaxed), 0);
            continue;
        }
        let rounds = points[0].flushes_us.len();
        assert!(
            (3..=7).contains(&rounds),
            "{name}: {rounds} rounds (quick ones: 3 to 7)"
        );
        assert!(points
            .iter()
            .all(|p| p.flushes_us.len() == rounds && p.lookups_ns.len() == rounds));
        assert!(points.iter().all(|p| p.flush_1k_us.is_finite()));
        assert_eq!(
            tally.stores.load(Ordering::Relaxed),
            live + lives.len() * rounds * 1_000,
            "{name}: the live sessions, and 1 000 expiring ones per point and round"
        );
        assert_eq!(
            tally.flushed.load(Ordering::Relaxed),
            lives.len() * rounds * 1_000,
            "{name}: each flush removes its round's 1 000 expired sessions"
        );
        // Each expiring session expires before the one stored before it, so
        // that OpenSSL appends it to its list instead of walking the list.
        assert_eq!(
            tally.unordered.load(Ordering::Relaxed),
            0,
            "{name}: expiries strictly decreasing within a round"
        );
    }
}
