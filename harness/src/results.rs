//! The results of a run, as data: everything the report and the plots show
//! comes from this, written to `results.json` first.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A figure that may not apply (NaN) is written as `null` and read back as
/// NaN, so a `results.json` always loads again.
mod nan_as_null {
    use super::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// [`nan_as_null`] for a list of figures: a run that measured nothing
/// (NaN, or an infinite rate) is written as `null` and read back as NaN.
mod nans_as_nulls {
    use super::{Deserialize, Deserializer, Serializer};
    use serde::ser::SerializeSeq;

    pub(super) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&x.is_finite().then_some(*x))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

/// Everything a run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// When the run started (RFC 3339).
    pub started: String,
    /// How the suite was run.
    pub suite: SuiteInfo,
    /// The machine it ran on.
    pub machine: Machine,
    /// Versions: of each cache under test (by its name), of the harness
    /// (`harness`: the workspace's commit, `-dirty` when a tracked file
    /// differed from it), the compiler (`rustc`) and the C library
    /// (`libc`). Older results files have fewer.
    pub versions: BTreeMap<String, String>,
    /// For each cache, what the harness operations map to.
    pub mappings: BTreeMap<String, String>,
    /// W1, W2, W5 (with its reference) and W7: throughput per (workload,
    /// cache, threads).
    pub throughput: Vec<Throughput>,
    /// W3: lookup latency during a large flush.
    pub flush_latency: Vec<FlushLatency>,
    /// W3's machine floor: its timing loop with no cache. Absent from older
    /// results files and from runs without W3.
    #[serde(default)]
    pub machine_floor: Option<MachineFloor>,
    /// W4: single-use tickets.
    pub tickets: Vec<Tickets>,
    /// W6: cost per operation as the live count grows.
    pub scale: Vec<ScalePoint>,
    /// Bytes per cached session beyond id and value.
    pub memory: Vec<Memory>,
    /// What a second tier (Redis) did, per cell of a cache that has one.
    /// Absent from older results files.
    #[serde(default)]
    pub tiers: Vec<TierCell>,
    /// Anything a reader should know about this run (skipped cells, caveats).
    pub notes: Vec<String>,
}

/// How the suite was run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SuiteInfo {
    /// "quick" or "full".
    pub mode: String,
    /// Thread counts measured.
    pub threads: Vec<usize>,
    /// Repetitions of each throughput cell (the figure is their median).
    pub repeats: usize,
    /// Duration of one throughput measurement, in milliseconds.
    pub cell_ms: u64,
    /// Size of a session value in bytes.
    pub value_bytes: usize,
    /// The command line.
    pub command: String,
}

/// The machine.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// CPU model, from /proc/cpuinfo where available.
    pub cpu_model: String,
    /// Total memory in bytes, where known.
    pub memory_bytes: u64,
    /// Operating system and architecture.
    pub os: String,
    /// Linux's transparent huge page mode (`always`, `madvise`, `never`),
    /// empty where unknown. With `madvise`, glibc's heap keeps 4 KiB pages
    /// unless `GLIBC_TUNABLES` asks otherwise, and a cache of 10⁶ sessions
    /// spreads over ~10⁵ of them: W6's large points pay for the misses in
    /// the processor's address translation.
    #[serde(default)]
    pub transparent_hugepages: String,
    /// The `GLIBC_TUNABLES` the run had (malloc's settings, e.g.
    /// `glibc.malloc.hugetlb=1`): empty when unset, `None` when not
    /// recorded (results from before this field).
    #[serde(default)]
    pub glibc_tunables: Option<String>,
}

/// The workload name of W5's reference cells: W1 at one thread per core,
/// measured alternately with W5.
pub const W5_REFERENCE: &str = "W5-reference";

/// One throughput cell: a workload, a cache, a thread count.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// "W1", "W2", "W5", "W5-reference" (W1 at one thread per core,
    /// measured alternately with W5), "W7-random", "W7-adversarial".
    pub workload: String,
    /// Cache name.
    pub cache: String,
    /// Worker threads.
    pub threads: usize,
    /// Millions of operations per second, one per repetition.
    #[serde(with = "nans_as_nulls")]
    pub runs_mops: Vec<f64>,
    /// The one-way hand-off of a cache line between the first two
    /// processors ([`crate::handoff`]), in nanoseconds, measured just
    /// before each repetition; empty where it was not measured (one
    /// processor, or results from before this field).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nans_as_nulls")]
    pub handoff_ns: Vec<f64>,
}

impl Throughput {
    /// The median of the repetitions.
    pub fn median(&self) -> f64 {
        median(&self.runs_mops)
    }
    /// The smallest repetition.
    pub fn min(&self) -> f64 {
        self.runs_mops.iter().copied().fold(f64::INFINITY, f64::min)
    }
    /// The largest repetition.
    pub fn max(&self) -> f64 {
        self.runs_mops.iter().copied().fold(0.0, f64::max)
    }
}

/// W3: one cache's lookup latency while another thread flushes. With
/// several runs (`--full`, `--repeats`), each figure is the median of the
/// runs' (`runs` keeps every run).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FlushLatency {
    /// Cache name.
    pub cache: String,
    /// Sessions that expire (and are flushed).
    pub expired: usize,
    /// Live sessions being looked up.
    pub live: usize,
    /// Lookup threads.
    pub lookup_threads: usize,
    /// The figures: each the median of the runs' (written inline, as
    /// results before `runs` had them).
    #[serde(flatten)]
    pub median: FlushRun,
    /// Every run, in the order they ran, each with a cache of its own;
    /// empty in results written before this field (one run, the figures
    /// above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<FlushRun>,
}

/// W3's figures: one run's, or (in [`FlushLatency::median`]) each the
/// median of several runs'.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FlushRun {
    /// Lookups timed during the flush.
    pub lookups: u64,
    /// Latencies recorded: the lookups timed and, for each stalled one, the
    /// lookups that would have arrived meanwhile (coordinated omission).
    /// Results written before this field had only `lookups`, which
    /// counted these.
    #[serde(default)]
    pub recorded: u64,
    /// Median lookup latency, in nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Maximum.
    pub max_ns: u64,
    /// How long the flush took, in milliseconds.
    #[serde(with = "nan_as_null")]
    pub flush_ms: f64,
    /// How many sessions the flush removed.
    pub flushed: usize,
}

/// The median of integer figures, rounded to the nearest (0 for none).
fn median_u64(v: impl IntoIterator<Item = u64>) -> u64 {
    let v: Vec<f64> = v.into_iter().map(|x| x as f64).collect();
    median(&v).round() as u64
}

impl FlushRun {
    /// Whether the run timed any lookup: a run that timed none has no
    /// latency figures (its percentiles read 0), only a flush.
    pub fn timed(&self) -> bool {
        self.lookups > 0
    }
}

impl FlushLatency {
    /// One cache's W3 entry from its runs: each figure the median of the
    /// runs'. The lookup counts and latencies are taken over the runs that
    /// timed a lookup ([`FlushRun::timed`]; all 0 if none did), so that a
    /// run without figures does not pull a percentile down; the flush's
    /// duration over the runs whose flush took a finite time (NaN if none).
    pub fn from_runs(
        cache: &str,
        (expired, live): (usize, usize),
        lookup_threads: usize,
        runs: Vec<FlushRun>,
    ) -> FlushLatency {
        let flush: Vec<f64> = runs
            .iter()
            .map(|r| r.flush_ms)
            .filter(|f| f.is_finite())
            .collect();
        let timed = || runs.iter().filter(|r| r.timed());
        FlushLatency {
            cache: cache.into(),
            expired,
            live,
            lookup_threads,
            median: FlushRun {
                lookups: median_u64(timed().map(|r| r.lookups)),
                recorded: median_u64(timed().map(|r| r.recorded)),
                p50_ns: median_u64(timed().map(|r| r.p50_ns)),
                p99_ns: median_u64(timed().map(|r| r.p99_ns)),
                p999_ns: median_u64(timed().map(|r| r.p999_ns)),
                max_ns: median_u64(timed().map(|r| r.max_ns)),
                flush_ms: if flush.is_empty() {
                    f64::NAN
                } else {
                    median(&flush)
                },
                flushed: median_u64(runs.iter().map(|r| r.flushed as u64)) as usize,
            },
            runs,
        }
    }
}

/// W3's machine floor: W3's timing loop with a stand-in operation of pure
/// arithmetic instead of a lookup and a spinning thread instead of the
/// flush, over several windows. What it records beyond the operation is the
/// machine's own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MachineFloor {
    /// Timing threads (as W3's lookup threads).
    pub threads: usize,
    /// What the stand-in operation is calibrated to take, in nanoseconds.
    pub op_ns: u64,
    /// How long the spinning thread ran in each window, in milliseconds.
    pub window_ms: u64,
    /// Operations timed in the reported window (0 in results written
    /// before this field).
    #[serde(default)]
    pub operations: u64,
    /// Latencies recorded in it: the operations timed and the
    /// coordinated-omission back-fill.
    pub samples: u64,
    /// Latency percentiles and maximum, in nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Maximum.
    pub max_ns: u64,
    /// The p99.9 of every window, in the order they ran; the figures above
    /// are the window with the median p99.9.
    #[serde(default)]
    pub windows_p999_ns: Vec<u64>,
}

/// W4: tickets stored then taken concurrently, in one run or several
/// (`--full`, `--repeats`), each with a cache of its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Tickets {
    /// Cache name.
    pub cache: String,
    /// Threads taking.
    pub threads: usize,
    /// Tickets stored in each run.
    pub tickets: u64,
    /// Successful takes, over all runs.
    pub taken: u64,
    /// Tickets taken more than once, over all runs (must be 0 for
    /// single-use caches).
    pub double_takes: u64,
    /// Millions of operations (stores + takes) per second: the median of
    /// `runs_mops`.
    #[serde(with = "nan_as_null")]
    pub mops: f64,
    /// Each run's Mops/s, in the order they ran; empty in results written
    /// before this field (one run, `mops`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nans_as_nulls")]
    pub runs_mops: Vec<f64>,
}

impl Tickets {
    /// How many runs the entry sums (1 for results written before runs
    /// were kept).
    pub fn runs(&self) -> usize {
        self.runs_mops.len().max(1)
    }

    /// One cache's W4 entry from its runs (each a one-run entry of the same
    /// cache, thread count and ticket count): takes and double takes
    /// summed, Mops/s the median of the runs' finite figures (NaN if none).
    pub fn from_runs(runs: &[Tickets]) -> Tickets {
        let first = runs.first().cloned().unwrap_or_default();
        debug_assert!(
            runs.iter().all(|t| (t.cache.as_str(), t.threads, t.tickets)
                == (first.cache.as_str(), first.threads, first.tickets)),
            "runs of one W4 cell"
        );
        let runs_mops: Vec<f64> = runs.iter().map(|t| t.mops).collect();
        let finite: Vec<f64> = runs_mops
            .iter()
            .copied()
            .filter(|m| m.is_finite())
            .collect();
        Tickets {
            taken: runs.iter().map(|t| t.taken).sum(),
            double_takes: runs.iter().map(|t| t.double_takes).sum(),
            mops: if finite.is_empty() {
                f64::NAN
            } else {
                median(&finite)
            },
            runs_mops,
            ..first
        }
    }
}

/// W6: cost per operation at one live count.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScalePoint {
    /// Cache name.
    pub cache: String,
    /// Sessions cached.
    pub live: usize,
    /// Nanoseconds per store of a new session: the mean over the last of
    /// the live sessions (10 000, or half of them if fewer), timed as the
    /// prefill ends, so that a table that grows among them shows its
    /// growth here.
    #[serde(with = "nan_as_null")]
    pub store_ns: f64,
    /// The same stores timed in as many equal slices as the suite has
    /// repetitions, nanoseconds per store in each, in the order they ran:
    /// their spread (a slice where the table grew stands out); empty in
    /// results written before this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nans_as_nulls")]
    pub stores_ns: Vec<f64>,
    /// Nanoseconds per lookup of a live session: the median of
    /// `lookups_ns` (in results written before that field, the mean over
    /// every round).
    #[serde(with = "nan_as_null")]
    pub lookup_ns: f64,
    /// Nanoseconds per lookup in each round (33 000 lookups each), in the
    /// order they ran; empty in results written before this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nans_as_nulls")]
    pub lookups_ns: Vec<f64>,
    /// Microseconds to flush 1 000 expired sessions among `live`: the median
    /// of `flushes_us`.
    #[serde(with = "nan_as_null")]
    pub flush_1k_us: f64,
    /// Every flush measured, in microseconds, each after 33 000 lookups:
    /// one to seven (five to seven with `--full`), one per round, the
    /// rounds alternating over the live counts (see the W6 workload); empty
    /// for a cache without expiry, and in older results files (which
    /// measured each live count on its own, with three flushes).
    #[serde(default, with = "nans_as_nulls")]
    pub flushes_us: Vec<f64>,
}

/// Memory per cached session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Memory {
    /// Cache name.
    pub cache: String,
    /// Sessions cached for the measurement.
    pub sessions: usize,
    /// Bytes allocated per session beyond the 32-byte id and the value.
    #[serde(with = "nan_as_null")]
    pub overhead_bytes: f64,
    /// Where the bytes went, as far as Rust's allocator saw them: the block
    /// sizes allocated at least once per 20 sessions (malloc chunks with
    /// glibc, so they add up to what `mallinfo2` counts), largest share
    /// first. Allocations made by C code (OpenSSL's `malloc`) are not in
    /// it. Absent from older results files.
    #[serde(default)]
    pub blocks: Vec<BlockClass>,
    /// Bytes per session in the blocks of sizes allocated less often than
    /// that (tables, directories, segments), Rust's allocator only.
    #[serde(default)]
    pub other_block_bytes: f64,
    /// Whether block sizes are malloc chunks (glibc), which add up to the
    /// overhead figure, rather than the sizes asked for, rounded up to 16.
    #[serde(default)]
    pub blocks_are_chunks: bool,
}

/// One block size of a [`Memory`] breakdown.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockClass {
    /// Bytes a block occupies (a malloc chunk with glibc).
    pub bytes: u64,
    /// Blocks of this size per cached session.
    pub per_session: f64,
}

/// What a second tier did: the Redis tier's `TierStats`, summed over the
/// local caches sharing it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TierCounts {
    /// Sessions written through to the tier.
    pub writes: u64,
    /// Local misses that asked the tier.
    pub reads: u64,
    /// Of those, how many the tier answered with a session (including takes
    /// it granted).
    pub read_hits: u64,
    /// Keys deleted by removes and takes.
    pub deletes: u64,
    /// Operations that failed or ran out of time.
    pub errors: u64,
    /// Operations not tried because the tier had just failed.
    pub skipped: u64,
    /// Local copies dropped because another local cache removed or took them.
    pub invalidations: u64,
}

impl std::ops::Add for TierCounts {
    type Output = TierCounts;

    fn add(self, o: TierCounts) -> TierCounts {
        TierCounts {
            writes: self.writes + o.writes,
            reads: self.reads + o.reads,
            read_hits: self.read_hits + o.read_hits,
            deletes: self.deletes + o.deletes,
            errors: self.errors + o.errors,
            skipped: self.skipped + o.skipped,
            invalidations: self.invalidations + o.invalidations,
        }
    }
}

/// A second tier's counts over one cell (W1 or W4), summed over its runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TierCell {
    /// "W1", "W4", ...
    pub workload: String,
    /// Cache name.
    pub cache: String,
    /// Worker threads.
    pub threads: usize,
    /// Runs summed.
    pub runs: usize,
    /// What the tier did (untimed prefills that bypass it are not counted).
    pub counts: TierCounts,
}

/// The median of `v` (0 for an empty slice).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
