//! W4 counts every take of every ticket, at any thread count: a cache that
//! hands each ticket to every taker shows as many double takes as tickets,
//! with 256 takers (where a per-ticket count of one byte wraps to 0) as
//! with 2.

#[path = "common/takes_all.rs"]
mod takes_all;

use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{Config, Driver, SharedCache, Traits};
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{tickets_run, Suite, Workload};
use takes_all::TakesAll;

/// Builds caches that store nothing and let every `take` succeed
/// ([`TakesAll`]): the worst single-use violation there is.
struct AlwaysTakes;

impl Driver for AlwaysTakes {
    fn name(&self) -> &'static str {
        "always-takes"
    }
    fn traits(&self) -> Traits {
        Traits {
            single_use: false,
            expiry: false,
            bounded: false,
            private_per_thread: false,
            second_tier: false,
        }
    }
    fn mapping(&self) -> &'static str {
        "take → true"
    }
    fn version(&self) -> String {
        "0".into()
    }
    fn build(&self, _: &Config) -> Box<dyn SharedCache> {
        Box::new(TakesAll)
    }
}

#[test]
fn every_take_is_counted_at_any_thread_count() {
    let suite = Suite {
        full: false,
        threads: vec![1],
        repeats: 1,
        cell: Duration::from_millis(5),
        value: value(300),
        drivers: Vec::new(),
        workloads: vec![Workload::W4],
        start: 1_700_000_000,
        progress: ProgressBar::hidden(),
    };
    for threads in [2, 255, 256, 257] {
        let t = tickets_run(&suite, &AlwaysTakes, threads);
        assert_eq!(
            t.taken,
            t.tickets * threads as u64,
            "{threads} threads: {t:?}"
        );
        assert_eq!(t.double_takes, t.tickets, "{threads} threads: {t:?}");
    }
}
