//! W5 and W7 measure their two cells per cache alternately: W5 its
//! reference (W1 at one thread per core) and the oversubscribed cell, W7
//! random and adversarial ids.

use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::Driver;
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::results::{Results, W5_REFERENCE};
use sesscache_harness::workloads::{self, Suite, Workload};

/// A suite of sesscache and the naive cache running `workloads`, two
/// repetitions of 5 ms cells.
fn small_suite(workloads: Vec<Workload>) -> Suite {
    let drivers: Vec<Box<dyn Driver>> = drivers::suite(None)
        .into_iter()
        .filter(|d| d.name() == "naive" || d.name() == "sesscache")
        .collect();
    assert_eq!(drivers.len(), 2);
    Suite {
        full: false,
        threads: vec![1],
        repeats: 2,
        cell: Duration::from_millis(5),
        value: value(300),
        drivers,
        workloads,
        start: 1_700_000_000,
        progress: ProgressBar::hidden(),
    }
}

/// (workload, cache, threads, runs) of every throughput cell.
fn cells(results: &Results) -> Vec<(&str, &str, usize, usize)> {
    results
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
        .collect()
}

fn all_positive(results: &Results) -> bool {
    results
        .throughput
        .iter()
        .flat_map(|t| &t.runs_mops)
        .all(|&m| m.is_finite() && m > 0.0)
}

/// Runs `w` alone in a small suite, one progress step per cache; the
/// results and the number of processors.
fn run_alone(w: Workload) -> (Results, usize) {
    let suite = small_suite(vec![w]);
    assert_eq!(suite.steps(), 2, "one step per cache");
    let mut results = Results::default();
    workloads::run(&suite, &mut results);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (results, cpus)
}

#[test]
fn w5_records_a_reference_at_one_thread_per_core_for_each_cache() {
    let (results, cpus) = run_alone(Workload::W5);
    assert_eq!(
        cells(&results),
        [
            (W5_REFERENCE, "sesscache", cpus, 2),
            ("W5", "sesscache", 4 * cpus, 2),
            (W5_REFERENCE, "naive", cpus, 2),
            ("W5", "naive", 4 * cpus, 2),
        ]
    );
    assert!(all_positive(&results), "{:?}", results.throughput);
}

#[test]
fn w7_records_random_and_adversarial_ids_for_each_cache() {
    let (results, cpus) = run_alone(Workload::W7);
    assert_eq!(
        cells(&results),
        [
            ("W7-random", "sesscache", cpus, 2),
            ("W7-adversarial", "sesscache", cpus, 2),
            ("W7-random", "naive", cpus, 2),
            ("W7-adversarial", "naive", cpus, 2),
        ]
    );
    assert!(all_positive(&results), "{:?}", results.throughput);
}
