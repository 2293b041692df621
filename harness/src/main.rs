//! `sesscache-harness`: runs the workloads against every cache under test
//! and writes `results/<timestamp>/` (results.json, report.md, SVG plots).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use sesscache_harness::alloc_count::Counting;
use sesscache_harness::cache::Driver;
use sesscache_harness::results::{Results, SuiteInfo};
use sesscache_harness::workloads::{self, Suite, Workload};
use sesscache_harness::{build_info, drivers, ids, machine, plots, report};

#[global_allocator]
static ALLOC: Counting = Counting;

const LONG_ABOUT: &str = "\
Drives multi-core workloads against sesscache and its peers — OpenSSL's own
session cache (the real library, through FFI), rustls's ServerSessionMemoryCache,
moka, a naive Mutex<HashMap + BTreeMap> baseline, and the hardware limit
(hashbrown + ahash, unsynchronised, a private copy per thread) — and writes
results/<timestamp>/ with results.json (every raw figure), report.md (tables and
ratios) and SVG plots.

sesscache+redis is sesscache with its Redis second tier, as a fleet of two
machines sharing one Redis (worker threads alternate between them, so sessions
stored on one are resumed on the other through Redis); it runs in W1 and W4
only, to show what the tier costs. It uses a private redis-server started on a
free port of 127.0.0.1 (killed when the harness exits), or --redis-url; without
either it is skipped with a note.

Workloads (session ids are 32 random bytes, values a few hundred bytes):
  w1   resumption, read-mostly: prefill 100k; 90% lookups of live ids
       (Zipf 0.99), 9% stores of new sessions, 1% removes; the threads'
       stores cycle through 2048 ids in all, min(1024, 2048 / threads) of
       each thread's own (a store then replaces the session it stored that
       many stores before), and its removes take one of those, so the
       prefilled sessions all stay cached and the cache keeps its size
       however long the run
  w2   handshake storm: capacity 20480 (OpenSSL's default); 50% stores of new
       sessions, 50% lookups of one of the thread's last min(1024,
       20480 / (2 × threads)) stores; eviction all the time
  w3   flush under load: 1M sessions expiring at T plus 100k live; one thread
       flushes at T+1 while the others look up live ids; lookup latency
       p50/p99/p99.9/max during the flush, and its duration. Then the machine
       floor: the same timing loop with no cache (~250 ns of arithmetic per
       operation, a thread spinning where the flush ran; a 1 s window after
       each repetition of the caches' runs, at least three), the latency
       this machine adds to any cache's figures
  w4   tickets: store, then take single-use tickets from several threads;
       double takes are counted (must be 0 where single use is promised)
  w5   oversubscribed: w1 with 4x as many threads as cores, measured
       alternately with w1 at one thread per core, its reference
  w6   scale: store, lookup and flush of 1k expired sessions as the live
       count grows 10^3 .. 10^6 (10^7 with --full)
  w7   adversarial ids: w1 with ids sharing their first 4 bytes (all of
       OpenSSL's hash) against random ids, the two alternating (quick:
       prefill 30k, since OpenSSL fills its one collision list in O(n^2);
       --full: 100k)
  mem  bytes allocated per cached session beyond id + value

The quick suite (the default) takes under 3 minutes on 2 cores; --full runs
longer throughput cells, 5 repetitions of each throughput cell and of W3 and
W4 (each with a fresh cache, the caches taking turns; the median is
reported, with min-max), at least 5 W6 rounds, and larger sizes. --repeats
sets the repetitions in either suite; the machine floor times a window after
each (at least 3), and W6 times its stores in as many slices (the figure is
their mean, the slices' min-max its spread). W6's lookup and flush figures
are medians of its rounds. Every run stops by itself.";

#[derive(Debug, Parser)]
#[command(name = "sesscache-harness", version, about = "Benchmark sesscache against OpenSSL, rustls, moka and the hardware limit", long_about = LONG_ABOUT)]
struct Args {
    /// Longer, repeated runs (5 repetitions of each throughput cell and of
    /// W3 and W4: median with min-max; at least 5 W6 rounds) and larger
    /// sizes.
    #[arg(long)]
    full: bool,
    /// Thread counts for the throughput workloads, comma-separated
    /// (default: 1, 2, 4, ... up to 2x the cores).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(usize), allow_negative_numbers = true)]
    threads: Option<Vec<usize>>,
    /// Workloads to run (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    workloads: Option<Vec<Workload>>,
    /// Caches to measure (default: all compiled in): sesscache,
    /// sesscache+redis, openssl, rustls, moka, naive, limit.
    #[arg(long, value_delimiter = ',')]
    caches: Option<Vec<String>>,
    /// Redis server for sesscache+redis, e.g. redis://127.0.0.1:6379/0 (its
    /// keys go under a fresh prefix and are deleted after each cell). Default:
    /// a private redis-server (from PATH, or the binary
    /// $SESSCACHE_HARNESS_REDIS_SERVER names) on a free port of 127.0.0.1,
    /// started when first needed and killed on exit; if there is none,
    /// sesscache+redis is skipped with a note. A URL that no cache and
    /// workload of the run would use (sesscache+redis runs W1 and W4) is an
    /// error.
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Milliseconds per throughput measurement (default 250, 2000 with --full).
    #[arg(long, allow_negative_numbers = true)]
    cell_ms: Option<u64>,
    /// Repetitions of each throughput cell and of W3 and W4; as many
    /// machine-floor windows (at least 3) and slices of W6's timed stores
    /// (default 1, 5 with --full).
    #[arg(long, allow_negative_numbers = true)]
    repeats: Option<usize>,
    /// Size of a session value in bytes.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    value_bytes: usize,
    /// Directory under which results/<timestamp>/ is written.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Redraw report.md and the plots from an existing results.json instead
    /// of running anything (they are written beside it; no run option may
    /// be given with it).
    #[arg(
        long,
        value_name = "RESULTS_JSON",
        conflicts_with_all = [
            "full", "threads", "workloads", "caches", "redis_url", "cell_ms",
            "repeats", "value_bytes", "out",
        ]
    )]
    redraw: Option<PathBuf>,
}

/// Runs the harness; an error is printed as one line with its causes
/// (`error: reading x: No such file`), never with a backtrace, even under
/// `RUST_BACKTRACE=1`.
fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    if let Some(json) = &args.redraw {
        let data =
            std::fs::read_to_string(json).with_context(|| format!("reading {}", json.display()))?;
        let results: Results = serde_json::from_str(&data)
            .with_context(|| format!("{} is not a harness results.json", json.display()))?;
        let dir = json.parent().map(PathBuf::from).unwrap_or_default();
        return write_outputs(&results, &dir);
    }

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // A thread count given twice is measured once.
    let threads = match &args.threads {
        Some(t) => first_of_each(t.clone()),
        None => default_threads(cpus),
    };
    if threads.is_empty() || threads.contains(&0) {
        bail!("--threads needs positive thread counts, e.g. --threads 1,2,4");
    }
    if threads.iter().any(|&t| t > 4096) {
        bail!("--threads: at most 4096 threads per measurement");
    }
    if args.value_bytes == 0 || args.value_bytes > 1 << 20 {
        bail!("--value-bytes must be between 1 and 1048576");
    }
    let cell = Duration::from_millis(args.cell_ms.unwrap_or(if args.full { 2000 } else { 250 }));
    if cell.is_zero() || cell > Duration::from_secs(600) {
        bail!("--cell-ms must be between 1 and 600000");
    }
    let repeats = args.repeats.unwrap_or(if args.full { 5 } else { 1 });
    if repeats == 0 || repeats > 100 {
        bail!("--repeats must be between 1 and 100");
    }
    let all = drivers::suite(args.redis_url.as_deref());
    let known: Vec<&str> = all.iter().map(|d| d.name()).collect();
    let drivers: Vec<Box<dyn Driver>> = match &args.caches {
        None => all,
        Some(names) => {
            for n in names {
                if !known.contains(&n.as_str()) {
                    bail!(
                        "--caches: unknown cache {n:?}; this build has: {}",
                        known.join(", ")
                    );
                }
            }
            drivers::suite(args.redis_url.as_deref())
                .into_iter()
                .filter(|d| names.iter().any(|n| n == d.name()))
                .collect()
        }
    };
    // A workload named twice runs once.
    let workloads = first_of_each(
        args.workloads
            .clone()
            .unwrap_or_else(|| Workload::ALL.to_vec()),
    );
    #[cfg(not(feature = "redis"))]
    if args.redis_url.is_some() {
        bail!("--redis-url: this build has no sesscache+redis driver (cargo feature `redis`)");
    }
    // A Redis URL that nothing would use is a mistake on the command line,
    // not something to ignore.
    #[cfg(feature = "redis")]
    if args.redis_url.is_some() {
        let used = drivers.iter().any(|d| {
            d.name() == drivers::tiered::NAME && workloads.iter().any(|w| d.workloads().contains(w))
        });
        if !used {
            let its: Vec<&str> = drivers::tiered::TieredDriver::new(None)
                .workloads()
                .iter()
                .map(|w| w.label())
                .collect();
            bail!(
                "--redis-url: nothing in this run uses it (only {} does, in {})",
                drivers::tiered::NAME,
                its.join(" and ")
            );
        }
    }

    // A run that cannot fit in memory is refused before it starts, rather
    // than killed (or killing the machine) halfway.
    let memory = machine::describe().memory_bytes;
    let needs = memory_estimate(
        &workloads,
        &drivers,
        &threads,
        cpus,
        args.full,
        args.value_bytes,
    );
    // A quarter is left to the system and to what the estimate leaves out.
    if memory > 0 && needs > memory / 4 * 3 {
        bail!(
            "this run would need about {:.1} GiB of memory and the machine has {:.1} GiB: \
             use a smaller --value-bytes (values are allocated per session, up to 1.1 million \
             sessions at once in W3 and W6), or fewer --threads for the limit (a private table \
             per thread)",
            needs as f64 / GIB,
            memory as f64 / GIB
        );
    }

    // Whatever a driver needs outside the process (the private Redis) is
    // stopped when main returns, on errors too.
    let _stop = StopServers;
    let mut notes = Vec::new();
    let mut setups = Vec::new();
    let mut drivers = drivers;
    let mut ready = Vec::new();
    for d in drivers.drain(..) {
        if !workloads.iter().any(|w| d.workloads().contains(w)) {
            ready.push(d);
            continue;
        }
        match d.prepare() {
            Ok(setup) => {
                setups.extend(setup.map(|s| (d.name().to_owned(), s)));
                ready.push(d);
            }
            Err(why) if args.redis_url.is_some() => bail!(why),
            Err(why) => {
                eprintln!("note: {why}");
                notes.push(why);
            }
        }
    }
    let drivers = ready;

    let start = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    // The output directory exists before anything is measured, so a bad
    // --out costs no run.
    let dir = run_dir(&args.out)?;
    let mut suite = Suite {
        full: args.full,
        threads,
        repeats,
        cell,
        value: ids::value(args.value_bytes),
        drivers,
        workloads,
        start,
        progress: ProgressBar::hidden(),
    };
    let bar = ProgressBar::new(suite.steps());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    suite.progress = bar;

    let mut results = Results {
        started: chrono::Utc::now().to_rfc3339(),
        suite: SuiteInfo {
            mode: if args.full { "full" } else { "quick" }.into(),
            threads: suite.threads.clone(),
            repeats,
            cell_ms: cell.as_millis() as u64,
            value_bytes: args.value_bytes,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        },
        machine: machine::describe(),
        notes,
        ..Results::default()
    };
    // Versions: the harness's commit, the toolchain, and each cache under
    // test (with what its setup reported, for the Redis tier).
    let mut setups: std::collections::BTreeMap<String, String> = setups.into_iter().collect();
    results
        .versions
        .insert("harness".into(), build_info::commit().into());
    results
        .versions
        .insert("rustc".into(), build_info::rustc().into());
    if let Some(libc) = build_info::libc() {
        results.versions.insert("libc".into(), libc);
    }
    for d in &suite.drivers {
        let version = match setups.remove(d.name()) {
            Some(setup) => format!("{} + {setup}", d.version()),
            None => d.version(),
        };
        results.versions.insert(d.name().into(), version);
    }
    for d in &suite.drivers {
        results.mappings.insert(d.name().into(), d.mapping().into());
    }
    workloads::run(&suite, &mut results);
    suite.progress.finish_with_message("done");

    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    write_outputs(&results, &dir)?;
    println!("results in {}", dir.display());
    Ok(())
}

/// Stops, when dropped, the servers drivers started (the private
/// `redis-server`).
struct StopServers;

impl Drop for StopServers {
    fn drop(&mut self) {
        #[cfg(feature = "redis")]
        drivers::tiered::shutdown();
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// Roughly the most memory the run holds at once: the sessions of its
/// largest workload, each with a value of its own and ~600 bytes of cache
/// structure (more than most caches take, less than OpenSSL's ~1.4 KB),
/// and for the limit a private table of the prefill per thread (~200
/// bytes an entry with the table's growth, as measured: 1 024 threads of
/// W1 peaked at 20 GB; the values are shared). A guard against runs that
/// cannot fit, not a prediction.
fn memory_estimate(
    workloads: &[Workload],
    drivers: &[Box<dyn Driver>],
    threads: &[usize],
    cpus: usize,
    full: bool,
    value_bytes: usize,
) -> u64 {
    let per_session = value_bytes as u64 + 600;
    let most_threads = threads.iter().copied().max().unwrap_or(1);
    let limit = drivers.iter().any(|d| d.name() == "limit");
    workloads
        .iter()
        .map(|w| {
            let (sessions, limit_threads, limit_prefill): (u64, usize, u64) = match w {
                Workload::W1 | Workload::W7 => (100_000, most_threads, 100_000),
                Workload::W5 => (100_000, 4 * cpus, 100_000),
                Workload::W2 => (20_480, most_threads, 20_480),
                Workload::W3 => (1_100_000, 0, 0),
                // Every point's cache is alive at once.
                Workload::W6 => (
                    workloads::live_counts(full).iter().sum::<usize>() as u64,
                    0,
                    0,
                ),
                Workload::W4 | Workload::Mem => (100_000, 0, 0),
            };
            let private = if limit {
                limit_threads as u64 * limit_prefill * 200
            } else {
                0
            };
            sessions * per_session + private
        })
        .max()
        .unwrap_or(0)
}

/// A new directory `<out>/<start time>` for this run's outputs: `-2`, `-3`
/// … is appended when a run that started in the same second has it.
fn run_dir(out: &std::path::Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let stamp = chrono::Local::now().format("%Y-%m-%dT%H-%M-%S").to_string();
    for n in 1..=100 {
        let dir = if n == 1 {
            out.join(&stamp)
        } else {
            out.join(format!("{stamp}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!("{}: 100 runs started at {stamp} already", out.display())
}

fn write_outputs(results: &Results, dir: &std::path::Path) -> Result<()> {
    std::fs::write(dir.join("report.md"), report::markdown(results))?;
    plots::draw_all(results, dir)?;
    Ok(())
}

/// 1, 2, 4, ... up to twice the cores, always including 2x the cores.
/// `items` in their order, each only at its first appearance.
fn first_of_each<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn default_threads(cpus: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut t = 1;
    while t < 2 * cpus {
        v.push(t);
        t *= 2;
    }
    v.push(2 * cpus);
    v
}

/// The counting allocator as the binary installs it.
#[cfg(test)]
mod tests {
    use sesscache_harness::alloc_count::{by_size, counting, live_bytes, BlockCounts, CLASS_BYTES};

    #[test]
    fn repeated_list_items_are_kept_once_in_order() {
        assert_eq!(super::first_of_each(vec![4, 1, 4, 2, 1]), vec![4, 1, 2]);
        assert_eq!(
            super::first_of_each(Vec::<usize>::new()),
            Vec::<usize>::new()
        );
    }

    /// Blocks of class `size` in `after` minus `before`.
    fn grew(before: &BlockCounts, after: &BlockCounts, size: usize) -> isize {
        after.classes[size / CLASS_BYTES] - before.classes[size / CLASS_BYTES]
    }

    /// The counting allocator counts every thread's blocks while it is on,
    /// so its scenarios run one after the other in a single test: a second
    /// test's thread, starting or exiting, would allocate and free blocks
    /// of its own while one of them counts.
    #[test]
    fn the_counting_allocator_counts_blocks_by_size() {
        blocks_are_counted_by_size_while_counting_and_only_then();
        a_grown_block_moves_to_its_new_class();
    }

    fn blocks_are_counted_by_size_while_counting_and_only_then() {
        const N: usize = 1_000;
        let ((before, after, bytes, size), kept) = counting(|| {
            let before = by_size();
            let bytes = live_bytes();
            let mut kept: Vec<Box<[u8; 100]>> = Vec::with_capacity(N);
            kept.extend((0..N).map(|i| Box::new([i as u8; 100])));
            let after = by_size();
            // Every box landed in one class of at least 100 bytes, whatever
            // the allocator's rounding: one class grew by N.
            let classes: Vec<usize> = after
                .sized()
                .map(|(size, _)| size)
                .filter(|&size| grew(&before, &after, size) >= N as isize)
                .collect();
            assert_eq!(classes.len(), 1, "{classes:?}");
            let size = classes[0];
            // Half of them freed while counting: counted out.
            kept.truncate(N / 2);
            let half = by_size();
            assert_eq!(grew(&after, &half, size), -((N / 2) as isize));
            ((before, half, live_bytes() - bytes, size), kept)
        });
        // 100 bytes asked for, N / 2 times still live (and the vector).
        assert!(bytes >= (N / 2 * 100) as isize, "{bytes}");
        assert!(
            (100..100 + 4 * CLASS_BYTES).contains(&size),
            "a 100-byte box counted as {size}"
        );
        assert_eq!(grew(&before, &after, size), (N / 2) as isize);
        // Freed outside `counting`: not counted out.
        drop(kept);
        assert_eq!(grew(&after, &by_size(), size), 0);
    }

    fn a_grown_block_moves_to_its_new_class() {
        let (before, after, bytes, v) = counting(|| {
            let before = by_size();
            let bytes = live_bytes();
            let mut v: Vec<u8> = Vec::with_capacity(200);
            v.resize(200, 1);
            v.reserve_exact(2_000);
            (before, by_size(), live_bytes() - bytes, v)
        });
        // One block of ~2 200 bytes left, none of ~200.
        let left: Vec<(usize, isize)> = after
            .sized()
            .zip(before.sized())
            .map(|((size, a), (_, b))| (size, a - b))
            .filter(|&(_, d)| d != 0)
            .collect();
        assert!(
            left.iter()
                .any(|&(size, d)| d == 1 && (2_200..2_300).contains(&size)),
            "{left:?}"
        );
        assert!(
            !left
                .iter()
                .any(|&(size, d)| d > 0 && (200..300).contains(&size)),
            "{left:?}"
        );
        assert!((2_200..2_300).contains(&(bytes as usize)), "{bytes}");
        drop(v);
    }
}
