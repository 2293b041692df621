//! With several repetitions (`--full`, `--repeats`), W3 and W4 run each
//! cache that many times, each time with a cache of its own, the caches
//! taking turns, and the entry of each cache keeps every run; W1 and W2
//! visit their cells in turn the same way.

#[path = "common/takes_all.rs"]
mod takes_all;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{Config, Driver, SharedCache, Traits};
use sesscache_harness::ids::value;
use sesscache_harness::results::Results;
use sesscache_harness::workloads::{self, Suite, Workload};
use takes_all::TakesAll;

/// A stand-in cache that keeps nothing, grants every take (so W4 counts
/// double takes in every run) and logs each cache built.
struct Logged {
    name: &'static str,
    builds: Arc<Mutex<Vec<&'static str>>>,
    /// A private copy per thread (the hardware limit's kind): W3 and W4
    /// skip it.
    private: bool,
}

impl Driver for Logged {
    fn name(&self) -> &'static str {
        self.name
    }
    fn traits(&self) -> Traits {
        Traits {
            single_use: false,
            expiry: true,
            bounded: false,
            private_per_thread: self.private,
            second_tier: false,
        }
    }
    fn mapping(&self) -> &'static str {
        "nothing kept; take → true"
    }
    fn version(&self) -> String {
        "0".into()
    }
    fn build(&self, _: &Config) -> Box<dyn SharedCache> {
        self.builds.lock().unwrap().push(self.name);
        Box::new(TakesAll)
    }
}

fn suite(w: Workload, repeats: usize, builds: &Arc<Mutex<Vec<&'static str>>>) -> Suite {
    // "p" keeps private copies: W3 and W4 skip it, with a note, and count
    // its steps all the same.
    let drivers: Vec<Box<dyn Driver>> = ["a", "p", "b"]
        .into_iter()
        .map(|name| {
            Box::new(Logged {
                name,
                builds: builds.clone(),
                private: name == "p",
            }) as Box<dyn Driver>
        })
        .collect();
    Suite {
        full: false,
        threads: vec![1],
        repeats,
        cell: Duration::from_millis(5),
        value: value(300),
        drivers,
        workloads: vec![w],
        start: 1_700_000_000,
        progress: ProgressBar::hidden(),
    }
}

#[test]
fn w3_runs_each_cache_once_per_repetition_in_turn() {
    let builds = Arc::new(Mutex::new(Vec::new()));
    // Four repetitions, in the quick suite: a window of the machine floor
    // after each (at least three in any case).
    let suite = suite(Workload::W3, 4, &builds);
    assert_eq!(
        suite.steps(),
        3 * 4 + 4,
        "a step per run (the skipped cache's too), one per window of the floor"
    );
    let mut results = Results::default();
    workloads::run(&suite, &mut results);
    assert_eq!(suite.progress.position(), suite.steps());
    assert_eq!(
        *builds.lock().unwrap(),
        ["a", "b", "a", "b", "a", "b", "a", "b"]
    );
    assert!(results
        .notes
        .iter()
        .any(|n| n.starts_with("W3 skipped for p")));
    let entries: Vec<(&str, usize)> = results
        .flush_latency
        .iter()
        .map(|f| (f.cache.as_str(), f.runs.len()))
        .collect();
    assert_eq!(entries, [("a", 4), ("b", 4)]);
    let floor = results.machine_floor.as_ref().expect("the machine floor");
    assert_eq!(floor.windows_p999_ns.len(), 4, "{floor:?}");
    for f in &results.flush_latency {
        // (A flush of nothing may end before any lookup is timed: no count
        // of lookups is asserted, and the median is over the runs that
        // timed one.)
        let p999: Vec<u64> = f
            .runs
            .iter()
            .filter(|r| r.timed())
            .map(|r| r.p999_ns)
            .collect();
        let lo = p999.iter().copied().min().unwrap_or(0);
        let hi = p999.iter().copied().max().unwrap_or(0);
        assert!(lo <= f.median.p999_ns && f.median.p999_ns <= hi, "{f:?}");
        assert!(f.runs.iter().all(|r| r.flush_ms.is_finite()));
    }
}

#[test]
fn w4_sums_its_runs_and_keeps_each_throughput() {
    let builds = Arc::new(Mutex::new(Vec::new()));
    let suite = suite(Workload::W4, 2, &builds);
    assert_eq!(suite.steps(), 3 * 2, "the skipped cache's steps too");
    let mut results = Results::default();
    workloads::run(&suite, &mut results);
    assert_eq!(suite.progress.position(), suite.steps());
    assert_eq!(*builds.lock().unwrap(), ["a", "b", "a", "b"]);
    assert!(results
        .notes
        .iter()
        .any(|n| n.starts_with("W4 skipped for p")));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cpus.max(2) as u64;
    for t in &results.tickets {
        assert_eq!(t.runs(), 2, "{t:?}");
        assert_eq!(t.runs_mops.len(), 2);
        // Every thread takes every ticket, in both runs.
        assert_eq!(t.taken, 2 * t.tickets * threads, "{t:?}");
        assert_eq!(t.double_takes, 2 * t.tickets, "{t:?}");
        let (lo, hi) = (
            t.runs_mops[0].min(t.runs_mops[1]),
            t.runs_mops[0].max(t.runs_mops[1]),
        );
        assert!(lo <= t.mops && t.mops <= hi, "{t:?}");
    }
    assert_eq!(results.tickets.len(), 2);
}

/// W1 and W2 visit every cell (cache × thread count) once per repetition,
/// forwards, then backwards: no cache's runs all fall in one stretch of
/// the machine's time.
#[test]
fn w1_and_w2_visit_every_cell_once_per_repetition() {
    for w in [Workload::W1, Workload::W2] {
        let builds = Arc::new(Mutex::new(Vec::new()));
        let mut suite = suite(w, 2, &builds);
        suite.threads = vec![1, 2];
        assert_eq!(suite.steps(), 3 * 2 * 2, "{w:?}: a step per run");
        let mut results = Results::default();
        workloads::run(&suite, &mut results);
        assert_eq!(suite.progress.position(), suite.steps(), "{w:?}");
        assert_eq!(
            *builds.lock().unwrap(),
            ["a", "a", "p", "p", "b", "b", "b", "b", "p", "p", "a", "a"],
            "{w:?}: a fresh cache per run, the cells in turn"
        );
        let cells: Vec<(&str, usize, usize, usize)> = results
            .throughput
            .iter()
            .map(|t| {
                (
                    t.cache.as_str(),
                    t.threads,
                    t.runs_mops.len(),
                    t.handoff_ns.len(),
                )
            })
            .collect();
        let handoffs = usize::from(std::thread::available_parallelism().map_or(1, |n| n.get()) > 1);
        assert_eq!(
            cells,
            [
                ("a", 1, 2, 2 * handoffs),
                ("a", 2, 2, 2 * handoffs),
                ("p", 1, 2, 2 * handoffs),
                ("p", 2, 2, 2 * handoffs),
                ("b", 1, 2, 2 * handoffs),
                ("b", 2, 2, 2 * handoffs),
            ],
            "{w:?}"
        );
    }
}
