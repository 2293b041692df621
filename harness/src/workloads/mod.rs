//! The workloads. Each measures every selected cache and adds its figures to
//! the [`Results`].
//!
//! | id | what |
//! |----|------|
//! | W1 | resumption, read-mostly: prefill 100k; 90% lookups of live ids (Zipf 0.99), 9% stores of new sessions cycling through 2 048 ids shared out between the threads, 1% removes of those |
//! | W2 | handshake storm: capacity 20 480; 50% stores of new sessions, 50% lookups; eviction all the time |
//! | W3 | flush under load: 1M sessions expiring at T plus 100k live; one thread flushes at T+1 while the others look up live ids; lookup latency during the flush; then the same timing loop with no cache (the machine floor) |
//! | W4 | tickets: store, then take single-use tickets from several threads; count double takes |
//! | W5 | oversubscribed: W1 with 4× as many threads as cores, alternating with its reference (W1 at one thread per core) |
//! | W6 | scale: store, lookup and flush of 1k expired as the live count grows |
//! | W7 | adversarial ids: W1 with ids sharing their first 4 bytes, against random ids |
//! | mem | bytes per cached session beyond id and value |

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::cache::{Config, Driver, Value};
use crate::handoff;
use crate::ids::own_copy;
use crate::results::{
    FlushLatency, Results, Throughput, Tickets, TierCell, TierCounts, W5_REFERENCE,
};

mod mem;
mod w1;
mod w2;
mod w3;
mod w4;
mod w6;

pub use mem::memory;
use w1::resumption_cell;
use w4::tickets_cell;

pub use w1::{resumption, ResumptionSpec};
pub use w2::storm;
pub use w3::{flush_under_load, machine_floor};
pub use w4::tickets_run;
pub use w6::{live_counts, scale_points};

/// The workloads, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Workload {
    /// Resumption, read-mostly.
    W1,
    /// Handshake storm with constant eviction.
    W2,
    /// Lookup latency during a large flush.
    W3,
    /// Single-use tickets.
    W4,
    /// W1 oversubscribed 4×.
    W5,
    /// Cost as the live count grows.
    W6,
    /// Adversarial ids.
    W7,
    /// Memory per session.
    Mem,
}

impl Workload {
    /// Its name in results and the report ("W1", ..., "memory").
    pub fn label(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W6 => "W6",
            Workload::W7 => "W7",
            Workload::Mem => "memory",
        }
    }

    /// Every workload.
    pub const ALL: [Workload; 8] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W6,
        Workload::W7,
        Workload::Mem,
    ];
}

/// How a suite runs.
pub struct Suite {
    /// Longer, repeated runs and larger sizes.
    pub full: bool,
    /// Thread counts for the throughput workloads.
    pub threads: Vec<usize>,
    /// Repetitions of each throughput cell.
    pub repeats: usize,
    /// Duration of one throughput measurement.
    pub cell: Duration,
    /// The session value stored by every workload.
    pub value: Value,
    /// The caches under test.
    pub drivers: Vec<Box<dyn Driver>>,
    /// The workloads to run.
    pub workloads: Vec<Workload>,
    /// Logical time at which every run starts (seconds since the epoch).
    pub start: u64,
    /// Progress on the terminal.
    pub progress: ProgressBar,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("full", &self.full)
            .field("threads", &self.threads)
            .field("workloads", &self.workloads)
            .finish_non_exhaustive()
    }
}

impl Suite {
    /// How many progress steps `run` will take.
    pub fn steps(&self) -> u64 {
        let t = self.threads.len() as u64;
        self.workloads
            .iter()
            .map(|&w| {
                let caches = self.drivers_in(w).count() as u64;
                match w {
                    Workload::W1 | Workload::W2 => caches * t * self.repeats as u64,
                    Workload::W6 => caches * live_counts(self.full).len() as u64,
                    // And one per window of the machine floor.
                    Workload::W3 => caches * self.repeats as u64 + w3::floor_windows(self) as u64,
                    Workload::W4 => caches * self.repeats as u64,
                    _ => caches,
                }
            })
            .sum()
    }

    /// The selected caches that take part in `w`.
    pub fn drivers_in(&self, w: Workload) -> impl Iterator<Item = &dyn Driver> {
        self.drivers
            .iter()
            .map(|d| d.as_ref())
            .filter(move |d| d.workloads().contains(&w))
    }

    pub(crate) fn config(&self, capacity: usize) -> Config {
        Config {
            capacity,
            timeout: 7200,
            start: self.start,
            sessions: 0,
        }
    }

    pub(crate) fn step(&self, what: String) {
        self.progress.set_message(what);
        self.progress.inc(1);
    }
}

/// Runs every selected workload and records the figures in `results`.
pub fn run(suite: &Suite, results: &mut Results) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    note_left_out(suite, results);
    for &w in &suite.workloads {
        match w {
            Workload::W1 => {
                let spec = ResumptionSpec::w1();
                interleaved(suite, results, w, "W1", |driver, threads, r| {
                    resumption_cell(suite, driver, threads, &spec, r)
                });
            }
            Workload::W2 => {
                interleaved(suite, results, w, "W2", |driver, threads, r| {
                    (storm(suite, driver, threads, r), None)
                });
            }
            Workload::W3 => {
                let lookup_threads = cpus.saturating_sub(1).max(1);
                let mut measured = Vec::new();
                for driver in suite.drivers_in(w) {
                    let traits = driver.traits();
                    if !traits.expiry || traits.private_per_thread {
                        results.notes.push(format!(
                            "W3 skipped for {}: {}",
                            driver.name(),
                            if traits.private_per_thread {
                                "private per-thread copies have no shared flush"
                            } else {
                                "it has no expiry, so nothing to flush"
                            }
                        ));
                        suite.progress.inc(suite.repeats as u64);
                    } else {
                        measured.push((driver, Vec::with_capacity(suite.repeats)));
                    }
                }
                // Repetition by repetition, each cache in turn, so that a
                // drift of the machine's speed weighs on every cache alike;
                // a window of the machine floor (W3's loop with no cache)
                // after each, so that the floor is sampled across the same
                // minutes.
                let probe = w3::FloorProbe::new(lookup_threads, w3::FLOOR_WINDOW);
                let windows = w3::floor_windows(suite);
                let mut floor = Vec::with_capacity(windows);
                // Repetitions past the last one time the remaining windows.
                for r in 0..suite.repeats.max(windows) {
                    if r < suite.repeats {
                        for (driver, runs) in &mut measured {
                            suite.step(format!("W3 {} run {}", driver.name(), r + 1));
                            runs.push(flush_under_load(suite, *driver, lookup_threads));
                        }
                    }
                    suite.step(format!("W3 machine floor window {}", r + 1));
                    floor.push(probe.window());
                }
                results.machine_floor = Some(probe.floor(floor));
                for (driver, runs) in measured {
                    results.flush_latency.push(FlushLatency::from_runs(
                        driver.name(),
                        w3::sizes(),
                        lookup_threads,
                        runs,
                    ));
                }
            }
            Workload::W4 => {
                let threads = cpus.max(2);
                let mut measured = Vec::new();
                for driver in suite.drivers_in(w) {
                    if driver.traits().private_per_thread {
                        results.notes.push(format!(
                            "W4 skipped for {}: private per-thread copies share no tickets",
                            driver.name()
                        ));
                        suite.progress.inc(suite.repeats as u64);
                    } else {
                        measured.push((driver, Vec::new(), TierSum::default()));
                    }
                }
                // As W3's: repetition by repetition, each cache in turn.
                for r in 0..suite.repeats {
                    for (driver, runs, tier) in &mut measured {
                        suite.step(format!("W4 {} run {}", driver.name(), r + 1));
                        let (tickets, counts) = tickets_cell(suite, *driver, threads);
                        runs.push(tickets);
                        tier.add(counts);
                    }
                }
                for (driver, runs, tier) in measured {
                    results.tickets.push(Tickets::from_runs(&runs));
                    tier.record(results, "W4", driver, threads);
                }
            }
            Workload::W5 => {
                let threads = 4 * cpus;
                for driver in suite.drivers_in(w) {
                    suite.step(format!("W5 {} ×{threads} and ×{cpus}", driver.name()));
                    let spec = ResumptionSpec::w1();
                    let [reference, over] = alternate(
                        suite.repeats,
                        driver.name(),
                        [(W5_REFERENCE, cpus), ("W5", threads)],
                        |_, th, r| resumption(suite, driver, th, &spec, r),
                    );
                    results.throughput.push(reference);
                    results.throughput.push(over);
                }
            }
            Workload::W6 => {
                for driver in suite.drivers_in(w) {
                    let lives = live_counts(suite.full);
                    results.scale.extend(scale_points(suite, driver, &lives));
                }
            }
            Workload::W7 => {
                let threads = cpus;
                for driver in suite.drivers_in(w) {
                    suite.step(format!("W7 {} ×{threads}", driver.name()));
                    let specs = [false, true].map(|adversarial| ResumptionSpec {
                        adversarial,
                        prefill: w7_prefill(suite.full),
                        ..ResumptionSpec::w1()
                    });
                    let cells = alternate(
                        suite.repeats,
                        driver.name(),
                        [("W7-random", threads), ("W7-adversarial", threads)],
                        |i, th, r| resumption(suite, driver, th, &specs[i], r),
                    );
                    results.throughput.extend(cells);
                }
            }
            Workload::Mem => {
                for driver in suite.drivers_in(w) {
                    suite.step(format!("memory {}", driver.name()));
                    results.memory.push(memory(suite, driver));
                }
            }
        }
    }
}

/// W7's prefill: W1's 100k with `--full`; 30k in the quick suite, because
/// with colliding ids OpenSSL's hash table is one list, so its prefill
/// costs O(n²) — about 75 s at 100k on a 2-core machine, 2.5× the rest of
/// the quick suite.
pub fn w7_prefill(full: bool) -> usize {
    if full {
        ResumptionSpec::w1().prefill
    } else {
        30_000
    }
}

/// One note per selected cache left out of some selected workloads.
fn note_left_out(suite: &Suite, results: &mut Results) {
    for d in &suite.drivers {
        let out: Vec<&str> = suite
            .workloads
            .iter()
            .filter(|w| !d.workloads().contains(w))
            .map(|w| w.label())
            .collect();
        if out.is_empty() {
            continue;
        }
        let only: Vec<&str> = d.workloads().iter().map(|w| w.label()).collect();
        results.notes.push(format!(
            "{} runs in {} only: left out of {}",
            d.name(),
            only.join(", "),
            out.join(", ")
        ));
    }
}

/// A second tier's counts over the runs of one cell.
#[derive(Default)]
struct TierSum {
    runs: usize,
    counts: Option<TierCounts>,
}

impl TierSum {
    fn add(&mut self, counts: Option<TierCounts>) {
        if let Some(c) = counts {
            self.runs += 1;
            self.counts = Some(self.counts.unwrap_or_default() + c);
        }
    }

    fn record(self, results: &mut Results, workload: &str, driver: &dyn Driver, threads: usize) {
        if let Some(counts) = self.counts {
            results.tiers.push(TierCell {
                workload: workload.into(),
                cache: driver.name().into(),
                threads,
                runs: self.runs,
                counts,
            });
        }
    }
}

/// `suite.repeats` runs of every cell of a throughput workload (each cache
/// that takes part in `w`, at each thread count), visited repetition by
/// repetition: every cell once, forwards, then every cell once backwards,
/// and so on. The targets compare caches at one thread count, and this
/// machine changes state for seconds to minutes (a cache line's hand-off
/// between the two vCPUs moves between ~30 and ~165 ns): with each cell's
/// runs back to back, one cache's runs could all fall in one state and
/// another's in the other. `run(driver, threads, repetition)` measures one
/// run, with what a second tier did; the hand-off is measured before each.
fn interleaved(
    suite: &Suite,
    results: &mut Results,
    w: Workload,
    workload: &str,
    mut run: impl FnMut(&dyn Driver, usize, u64) -> (f64, Option<TierCounts>),
) {
    struct Cell<'a> {
        driver: &'a dyn Driver,
        threads: usize,
        runs_mops: Vec<f64>,
        handoff_ns: Vec<f64>,
        tier: TierSum,
    }
    let mut cells: Vec<Cell<'_>> = suite
        .drivers_in(w)
        .flat_map(|driver| {
            suite.threads.iter().map(move |&threads| Cell {
                driver,
                threads,
                runs_mops: Vec::with_capacity(suite.repeats),
                handoff_ns: Vec::new(),
                tier: TierSum::default(),
            })
        })
        .collect();
    for r in 0..suite.repeats {
        let order: Vec<usize> = if r % 2 == 0 {
            (0..cells.len()).collect()
        } else {
            (0..cells.len()).rev().collect()
        };
        for i in order {
            let c = &mut cells[i];
            suite.step(format!(
                "{workload} {} ×{} run {}",
                c.driver.name(),
                c.threads,
                r + 1
            ));
            c.handoff_ns
                .extend(handoff::handoff_ns(handoff::ROUND_TRIPS));
            let (mops, counts) = run(c.driver, c.threads, r as u64);
            c.runs_mops.push(mops);
            c.tier.add(counts);
        }
    }
    for c in cells {
        results.throughput.push(Throughput {
            workload: workload.into(),
            cache: c.driver.name().into(),
            threads: c.threads,
            runs_mops: c.runs_mops,
            handoff_ns: c.handoff_ns,
        });
        c.tier.record(results, workload, c.driver, c.threads);
    }
}

/// Two cells of one cache measured alternately, repetition by repetition,
/// in the order A B, B A, A B, … so that a drift of the machine's speed over
/// the cells (other tenants, frequency) weighs on both alike: W5 compares a
/// cache oversubscribed with the same cache at one thread per core, W7 a
/// cache with adversarial ids with the same cache with random ones, and a
/// minute (or a few seconds) between the two would put the machine's drift
/// into the ratio. `cells` are (workload, threads); `run(cell, threads,
/// repetition)` measures one, `cell` being 0 or 1 and `threads` its count.
fn alternate(
    repeats: usize,
    cache: &str,
    cells: [(&str, usize); 2],
    mut run: impl FnMut(usize, usize, u64) -> f64,
) -> [Throughput; 2] {
    let mut runs: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut handoffs: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for r in 0..repeats as u64 {
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            handoffs[i].extend(handoff::handoff_ns(handoff::ROUND_TRIPS));
            runs[i].push(run(i, cells[i].1, r));
        }
    }
    let [a, b] = runs;
    let [ha, hb] = handoffs;
    [(0, a, ha), (1, b, hb)].map(|(i, runs_mops, handoff_ns)| Throughput {
        workload: cells[i].0.into(),
        cache: cache.into(),
        threads: cells[i].1,
        runs_mops,
        handoff_ns,
    })
}

/// Shared by the workloads: a thread's random source.
pub(crate) fn rng_for(thread: usize, salt: u64) -> SmallRng {
    SmallRng::seed_from_u64(0x5e55_cac8e ^ (thread as u64) << 32 ^ salt)
}

/// The values a driver with private per-thread copies (the hardware limit)
/// prefills every thread's copy with: one allocation per prefilled session,
/// shared by the threads' copies; none for a shared cache. Values are only
/// read, so sharing them makes no cache line contended, and a copy per
/// thread would make the prefill's memory grow with the thread count
/// (hundreds of threads on a large machine, times 100 000 sessions).
pub(crate) fn private_values(private: bool, sessions: usize, value: &Value) -> Vec<Value> {
    if private {
        (0..sessions).map(|_| own_copy(value)).collect()
    } else {
        Vec::new()
    }
}

/// Checks `stop` every this many operations.
pub(crate) const STOP_EVERY: u64 = 64;

/// A stop check for a hot loop.
#[inline]
pub(crate) fn should_stop(ops: u64, stop: &AtomicBool) -> bool {
    ops % STOP_EVERY == 0 && stop.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_copies_share_one_value_per_session() {
        let value: Value = vec![7u8; 300].into();
        assert!(private_values(false, 5, &value).is_empty());
        let values = private_values(true, 5, &value);
        assert_eq!(values.len(), 5);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(v[..], value[..]);
            assert!(!std::ptr::eq(v.as_ptr(), value.as_ptr()));
            for w in &values[..i] {
                assert!(!std::ptr::eq(v.as_ptr(), w.as_ptr()), "one allocation each");
            }
        }
    }

    #[test]
    fn alternate_measures_the_two_cells_in_a_b_b_a_order() {
        let mut calls = Vec::new();
        let [a, b] = alternate(5, "c", [("A", 2), ("B", 8)], |i, th, r| {
            calls.push((i, r));
            (th as u64 * 100 + r) as f64
        });
        assert_eq!(
            calls,
            [
                (0, 0),
                (1, 0),
                (1, 1),
                (0, 1),
                (0, 2),
                (1, 2),
                (1, 3),
                (0, 3),
                (0, 4),
                (1, 4)
            ]
        );
        assert_eq!(
            (a.workload.as_str(), a.cache.as_str(), a.threads),
            ("A", "c", 2)
        );
        assert_eq!(a.runs_mops, [200.0, 201.0, 202.0, 203.0, 204.0]);
        assert_eq!((b.workload.as_str(), b.threads), ("B", 8));
        assert_eq!(b.runs_mops, [800.0, 801.0, 802.0, 803.0, 804.0]);
    }
}
