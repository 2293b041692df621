//! W5 runs, for every cache, its reference (W1 at one thread per core)
//! alternately with the oversubscribed cell.

use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::Driver;
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::results::{Results, W5_REFERENCE};
use sesscache_harness::workloads::{self, Suite, Workload};

#[test]
fn w5_records_a_reference_at_one_thread_per_core_for_each_cache() {
    let drivers: Vec<Box<dyn Driver>> = drivers::suite(None)
        .into_iter()
        .filter(|d| d.name() == "naive" || d.name() == "sesscache")
        .collect();
    assert_eq!(drivers.len(), 2);
    let suite = Suite {
        full: false,
        threads: vec![1],
        repeats: 2,
        cell: Duration::from_millis(5),
        value: value(300),
        drivers,
        workloads: vec![Workload::W5],
        start: 1_700_000_000,
        progress: ProgressBar::hidden(),
    };
    assert_eq!(suite.steps(), 2, "one step per cache");
    let mut results = Results::default();
    workloads::run(&suite, &mut results);

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cells: Vec<(&str, &str, usize, usize)> = results
        .throughput
        .iter()
        .map(|t| {
            (
                t.workload.as_str(),
                t.cache.as_str(),
                t.threads,
                t.runs_mops.len(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            (W5_REFERENCE, "sesscache", cpus, 2),
            ("W5", "sesscache", 4 * cpus, 2),
            (W5_REFERENCE, "naive", cpus, 2),
            ("W5", "naive", 4 * cpus, 2),
        ]
    );
    assert!(
        results
            .throughput
            .iter()
            .flat_map(|t| &t.runs_mops)
            .all(|&m| m.is_finite() && m > 0.0),
        "{:?}",
        results.throughput
    );
}
