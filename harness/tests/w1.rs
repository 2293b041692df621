//! W1 keeps a steady state however long a cell runs: its lookups all ask
//! for prefilled sessions, which stay cached (the removes take ids of the
//! threads' own stores), and the stores cycle through a bounded pool of ids
//! (2 048 in all), so the cache does not grow with the cell.

#[path = "common/counting.rs"]
mod counting;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use counting::{Counting, Tally};
use indicatif::ProgressBar;
use sesscache_harness::drivers;
use sesscache_harness::ids::value;
use sesscache_harness::workloads::{resumption, ResumptionSpec, Suite};

/// A shared cache and the private-per-thread limit, with a prefill small
/// enough that the cell removes more sessions than it holds: every lookup
/// still hits, and the ids ever stored stay within the prefill plus one
/// pool per thread.
#[test]
fn w1_lookups_keep_hitting_and_the_cache_keeps_its_size() {
    const PREFILL: usize = 200;
    const THREADS: usize = 2;
    for name in ["naive", "limit"] {
        let inner = drivers::all()
            .into_iter()
            .find(|d| d.name() == name)
            .unwrap();
        let tally = Arc::new(Tally::default());
        let driver = Counting {
            inner,
            tally: tally.clone(),
        };
        let suite = Suite {
            full: false,
            threads: vec![THREADS],
            repeats: 1,
            cell: Duration::from_millis(200),
            value: value(300),
            drivers: Vec::new(),
            workloads: Vec::new(),
            start: 1_700_000_000,
            progress: ProgressBar::hidden(),
        };
        let spec = ResumptionSpec {
            prefill: PREFILL,
            ..ResumptionSpec::w1()
        };
        resumption(&suite, &driver, THREADS, &spec, 0);
        let (hits, misses) = (
            tally.hits.load(Ordering::Relaxed),
            tally.misses.load(Ordering::Relaxed),
        );
        let removes = tally.removes.load(Ordering::Relaxed);
        assert!(
            removes > 2 * PREFILL,
            "{name}: only {removes} removes: the cell is too short to tell"
        );
        assert_eq!(misses, 0, "{name}: {hits} hits, {misses} misses");
        let stored = tally.stored.lock().unwrap().len();
        assert!(
            stored <= PREFILL + 2048,
            "{name}: {stored} distinct ids stored"
        );
    }
}
