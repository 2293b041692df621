//! W4 counts every take of every ticket, at any thread count: a cache that
//! hands each ticket to every taker shows as many double takes as tickets,
//! with 256 takers (where a per-ticket count of one byte wraps to 0) as
//! with 2.

use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{tickets_run, Suite, Workload};

/// A cache that stores nothing and lets every `take` succeed: the worst
/// single-use violation there is.
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
        Box::new(AlwaysTakes)
    }
}

impl SharedCache for AlwaysTakes {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(AlwaysTakes)
    }
    fn len(&self) -> usize {
        0
    }
}

impl CacheHandle for AlwaysTakes {
    fn store(&mut self, _: &Id, _: &Value, _: u64, _: u64) {}
    fn lookup(&mut self, _: &Id, _: u64) -> bool {
        false
    }
    fn remove(&mut self, _: &Id) {}
    fn take(&mut self, _: &Id, _: u64) -> bool {
        true
    }
    fn flush(&mut self, _: u64) -> usize {
        0
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
