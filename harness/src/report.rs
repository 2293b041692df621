//! The Markdown report, drawn from [`Results`] alone (so an old
//! `results.json` can be redrawn with `--redraw`).
//!
//! Formats, so tests and readers can rely on them:
//! - throughput in Mops/s with about three significant figures; a cell with
//!   more than one run reads `median (min–max)`;
//! - ratios read `4.00×` (two decimals below 10, one below 100, none above;
//!   three or four below 0.1 so small ratios keep two figures);
//! - latencies in `ns`, `µs`, `ms` or `s`, whichever reads best;
//! - anything missing, empty, NaN or unusable reads `—`, and a target whose
//!   data is missing reads `not measured`. Nothing here panics on partial data.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::results::{
    FlushLatency, FlushRun, MachineFloor, Memory, Results, ScalePoint, Throughput, TierCell,
    W5_REFERENCE,
};

/// The caches the report knows by name, in the order it shows them; any other
/// cache follows, alphabetically.
const KNOWN_CACHES: [&str; 7] = [
    "sesscache",
    "sesscache+redis",
    "openssl",
    "rustls",
    "moka",
    "naive",
    "limit",
];

/// The throughput workloads, in report order, with what each measures.
const THROUGHPUT_WORKLOADS: [(&str, &str); 5] = [
    (
        "W1",
        "resumption, read-mostly: prefill 100k; 90% lookups of live ids (Zipf 0.99), \
         9% stores of new sessions, 1% removes (the threads' stores cycle through 2 048 ids in \
         all, min(1 024, 2 048 / threads) of each thread's own, which its removes pick from: \
         the prefill stays cached and the size steady)",
    ),
    (
        "W2",
        "handshake storm: capacity 20 480; 50% stores of new sessions, 50% lookups; \
         eviction all the time",
    ),
    (
        "W5",
        "oversubscribed: W1 with 4× as many threads as cores (a preempted lock holder \
         stalls everyone)",
    ),
    (
        "W7-random",
        "W1 with random ids (the baseline for the adversarial ids); prefill 100k with \
         --full, 30k in the quick suite",
    ),
    (
        "W7-adversarial",
        "W1 with ids sharing their first 4 bytes (all of OpenSSL's hash); prefill 100k \
         with --full, 30k in the quick suite (OpenSSL fills its one collision list in \
         O(n²))",
    ),
];

/// Shown for a missing or unusable figure.
const DASH: &str = "—";

/// The name of sesscache in the results.
const SESSCACHE: &str = "sesscache";
/// The name of the hardware limit in the results.
const LIMIT: &str = "limit";

// ---------------------------------------------------------------------------
// Shared with the plots.
// ---------------------------------------------------------------------------

/// `names`, deduplicated, in report order: the known caches first, then the
/// others alphabetically.
pub(crate) fn order_caches<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let set: BTreeSet<&str> = names.into_iter().collect();
    let mut v: Vec<&str> = set.into_iter().collect();
    v.sort_by_key(|n| {
        (
            KNOWN_CACHES
                .iter()
                .position(|k| k == n)
                .unwrap_or(KNOWN_CACHES.len()),
            n.to_string(),
        )
    });
    v.into_iter().map(String::from).collect()
}

/// The throughput workloads present in `results`, in report order (known
/// ones first, then any other name alphabetically).
pub(crate) fn throughput_workloads(results: &Results) -> Vec<String> {
    let present: BTreeSet<&str> = results
        .throughput
        .iter()
        .map(|t| t.workload.as_str())
        .collect();
    let mut v: Vec<String> = THROUGHPUT_WORKLOADS
        .iter()
        .filter(|(w, _)| present.contains(w))
        .map(|(w, _)| w.to_string())
        .collect();
    for w in present {
        if w != W5_REFERENCE && !THROUGHPUT_WORKLOADS.iter().any(|(k, _)| *k == w) {
            v.push(w.to_string());
        }
    }
    v
}

/// Median, min and max of a throughput cell's usable (finite) runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stats {
    /// The median.
    pub(crate) median: f64,
    /// The smallest run.
    pub(crate) min: f64,
    /// The largest run.
    pub(crate) max: f64,
    /// How many runs.
    pub(crate) n: usize,
}

/// The stats of `t`, or `None` if it has no finite run.
pub(crate) fn stats(t: &Throughput) -> Option<Stats> {
    stats_of(&t.runs_mops)
}

/// Median, min and max of the finite values among `values`, if any.
pub(crate) fn stats_of(values: &[f64]) -> Option<Stats> {
    let runs: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if runs.is_empty() {
        return None;
    }
    Some(Stats {
        median: crate::results::median(&runs),
        min: runs.iter().copied().fold(f64::INFINITY, f64::min),
        max: runs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n: runs.len(),
    })
}

/// For two cells measured alternately (repetition `i` of one right after
/// repetition `i` of the other: W5 and its reference, W7's two halves),
/// the median over `i` of `a`'s repetition over `b`'s. The machine can
/// change state between repetitions (see BENCHMARKS.md), and a ratio of
/// medians then compares repetitions from different states; a pair is
/// measured within a second. `None` where the cells' repetitions do not
/// pair up (then the ratio of medians is the figure).
fn paired_ratio(a: &Throughput, b: &Throughput) -> Option<f64> {
    if a.runs_mops.len() != b.runs_mops.len() {
        return None;
    }
    let ratios: Vec<f64> = a
        .runs_mops
        .iter()
        .zip(&b.runs_mops)
        .filter(|(x, y)| x.is_finite() && y.is_finite() && **y > 0.0)
        .map(|(x, y)| x / y)
        .collect();
    (!ratios.is_empty()).then(|| crate::results::median(&ratios))
}

/// The first cell of `workload` for `cache` at `threads`.
fn find_cell<'a>(
    results: &'a Results,
    workload: &str,
    cache: &str,
    threads: usize,
) -> Option<&'a Throughput> {
    results
        .throughput
        .iter()
        .find(|t| t.workload == workload && t.cache == cache && t.threads == threads)
}

/// `a / b` for two cells measured alternately: the median of the paired
/// ratios where the repetitions pair up, else the ratio of the medians.
fn alternating_ratio(
    results: &Results,
    (wa, ta): (&str, usize),
    (wb, tb): (&str, usize),
    cache: &str,
) -> Option<f64> {
    let (a, b) = (
        find_cell(results, wa, cache, ta)?,
        find_cell(results, wb, cache, tb)?,
    );
    paired_ratio(a, b).or_else(|| ratio(stats(a)?.median, stats(b)?.median))
}

/// The first cell of `workload` for `cache` at `threads` with a usable run.
pub(crate) fn cell_stats(
    results: &Results,
    workload: &str,
    cache: &str,
    threads: usize,
) -> Option<Stats> {
    results
        .throughput
        .iter()
        .filter(|t| t.workload == workload && t.cache == cache && t.threads == threads)
        .find_map(stats)
}

/// For each cache measured in `workload`, its usable cells as
/// `(threads, stats)` sorted by thread count.
pub(crate) fn workload_series(
    results: &Results,
    workload: &str,
) -> Vec<(String, Vec<(usize, Stats)>)> {
    let caches = order_caches(
        results
            .throughput
            .iter()
            .filter(|t| t.workload == workload)
            .map(|t| t.cache.as_str()),
    );
    caches
        .into_iter()
        .map(|c| {
            let threads: BTreeSet<usize> = results
                .throughput
                .iter()
                .filter(|t| t.workload == workload && t.cache == c)
                .map(|t| t.threads)
                .collect();
            let points = threads
                .into_iter()
                .filter_map(|th| cell_stats(results, workload, &c, th).map(|s| (th, s)))
                .collect();
            (c, points)
        })
        .collect()
}

/// One W3 entry per cache: the one with usable lookups and the most expired
/// sessions.
pub(crate) fn w3_entries(results: &Results) -> Vec<&FlushLatency> {
    let caches = order_caches(results.flush_latency.iter().map(|f| f.cache.as_str()));
    caches
        .iter()
        .filter_map(|c| {
            results
                .flush_latency
                .iter()
                .filter(|f| &f.cache == c && f.median.lookups > 0)
                .max_by_key(|f| (f.expired, f.live))
        })
        .collect()
}

/// `a / b` when both are usable (finite, `b > 0`, `a ≥ 0`).
pub(crate) fn ratio(a: f64, b: f64) -> Option<f64> {
    if a.is_finite() && b.is_finite() && b > 0.0 && a >= 0.0 {
        let r = a / b;
        r.is_finite().then_some(r)
    } else {
        None
    }
}

/// How many decimals `fmt_num` shows for `v`: about three significant
/// figures.
fn decimals(v: f64) -> usize {
    let a = v.abs();
    if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 || a == 0.0 || !a.is_finite() {
        2
    } else {
        3
    }
}

/// A number with about three significant figures (`—` if not finite).
pub(crate) fn fmt_num(v: f64) -> String {
    fmt_with(v, decimals(v))
}

/// `v` with `d` decimals (`—` if not finite).
fn fmt_with(v: f64, d: usize) -> String {
    if v.is_finite() {
        format!("{v:.d$}")
    } else {
        DASH.into()
    }
}

/// A ratio: `4.00×`, `12.5×`, `250×`, `0.053×`, `0.0026×` (`—` if not
/// finite).
pub(crate) fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        return DASH.into();
    }
    let a = r.abs();
    if a >= 100.0 {
        format!("{r:.0}×")
    } else if a >= 10.0 {
        format!("{r:.1}×")
    } else if a >= 0.1 || a == 0.0 {
        format!("{r:.2}×")
    } else if a >= 0.01 {
        format!("{r:.3}×")
    } else {
        format!("{r:.4}×")
    }
}

fn fmt_opt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| DASH.into(), fmt_ratio)
}

/// A duration given in nanoseconds, in ns, µs, ms or s.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        return DASH.into();
    }
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        let us = ns / 1e3;
        if us >= 100.0 {
            format!("{us:.0} µs")
        } else {
            format!("{us:.1} µs")
        }
    } else if ns < 1e9 {
        format!("{} ms", fmt_num(ns / 1e6))
    } else {
        format!("{} s", fmt_num(ns / 1e9))
    }
}

/// A count with thousands separators: `1,000,000`.
pub(crate) fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A live count: `10³`, `10⁶` for powers of ten from 1 000, else `fmt_count`.
pub(crate) fn fmt_live(n: usize) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut k = 0u32;
    let mut m = n;
    while m >= 10 && m % 10 == 0 {
        m /= 10;
        k += 1;
    }
    if m == 1 && k >= 3 {
        let exp: String = k
            .to_string()
            .chars()
            .map(|d| SUP[d.to_digit(10).unwrap_or(0) as usize])
            .collect();
        format!("10{exp}")
    } else {
        fmt_count(n as u64)
    }
}

// ---------------------------------------------------------------------------
// Markdown helpers.
// ---------------------------------------------------------------------------

/// Text made safe for a table cell (pipes escaped, one line).
fn cell(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return DASH.into();
    }
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// A Markdown table: first column left-aligned, the others right-aligned.
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    table_aligned(out, header, rows, 1);
}

/// A Markdown table whose first `left` columns are left-aligned (text), the
/// others right-aligned (figures).
fn table_aligned(out: &mut String, header: &[String], rows: &[Vec<String>], left: usize) {
    if header.is_empty() {
        return;
    }
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let mut sep = String::from("|");
    for i in 0..header.len() {
        sep.push_str(if i < left { "---|" } else { "---:|" });
    }
    let _ = writeln!(out, "{sep}");
    for r in rows {
        let mut r = r.clone();
        r.resize(header.len(), DASH.into());
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

fn threads_label(t: usize) -> String {
    if t == 1 {
        "1 thread".into()
    } else {
        format!("{t} threads")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A throughput cell: `median` or `median (min–max)`.
fn fmt_stats(s: Option<Stats>) -> String {
    match s {
        None => DASH.into(),
        Some(s) if s.n > 1 => {
            // The range with the median's precision, so the three line up.
            let d = decimals(s.median);
            format!(
                "{} ({}–{})",
                fmt_with(s.median, d),
                fmt_with(s.min, d),
                fmt_with(s.max, d)
            )
        }
        Some(s) => fmt_num(s.median),
    }
}

fn fmt_bytes(b: u64) -> String {
    if b == 0 {
        return "unknown memory".into();
    }
    let gib = b as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB memory")
    } else {
        format!("{:.0} MiB memory", b as f64 / (1u64 << 20) as f64)
    }
}

fn or_dash(s: &str) -> &str {
    if s.trim().is_empty() {
        DASH
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------

/// The report for `results` as Markdown: run header and caveats, the caches
/// under test, one section per workload with its tables and ratios, the
/// issue's targets evaluated from the data, and the run's notes.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    header(&mut out, results);
    caches_under_test(&mut out, results);
    for w in throughput_workloads(results) {
        throughput_section(&mut out, results, &w);
    }
    w3_section(&mut out, results);
    w4_section(&mut out, results);
    tier_section(&mut out, results);
    w6_section(&mut out, results);
    memory_section(&mut out, results);
    targets_section(&mut out, results);
    notes_section(&mut out, results);
    out
}

fn header(out: &mut String, r: &Results) {
    let s = &r.suite;
    let m = &r.machine;
    out.push_str("# sesscache harness report\n\n");
    let _ = writeln!(out, "- **Started:** {}", or_dash(&r.started));
    let threads = if s.threads.is_empty() {
        DASH.to_string()
    } else {
        s.threads
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "- **Mode:** {} — thread counts {threads}; {} of {} ms per throughput cell; \
         session values of {} bytes",
        or_dash(&s.mode),
        plural(s.repeats, "run", "runs"),
        s.cell_ms,
        s.value_bytes
    );
    if s.command.trim().is_empty() {
        let _ = writeln!(out, "- **Command:** {DASH}");
    } else {
        let _ = writeln!(out, "- **Command:** `` {} ``", s.command.replace('\n', " "));
    }
    let cpus = if m.cpus == 0 {
        "unknown number of logical CPUs".to_string()
    } else {
        plural(m.cpus, "logical CPU", "logical CPUs")
    };
    let _ = writeln!(
        out,
        "- **Machine:** {cpus}, {}, {}, {}; transparent huge pages: {}; \
         GLIBC_TUNABLES: {}",
        or_dash(&m.cpu_model),
        fmt_bytes(m.memory_bytes),
        or_dash(&m.os),
        or_dash(&m.transparent_hugepages),
        match m.glibc_tunables.as_deref() {
            None => DASH.to_string(),
            Some(t) if t.trim().is_empty() => "unset".to_string(),
            Some(t) => format!("`` {t} ``"),
        }
    );
    let versions = if r.versions.is_empty() {
        DASH.to_string()
    } else {
        r.versions
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = writeln!(out, "- **Versions:** {versions}\n");

    let cores = if m.cpus == 0 {
        "a machine with an unknown number of cores; multi-core figures are limited to \
         however many it had"
            .to_string()
    } else {
        format!(
            "a machine with {}; multi-core figures are limited to {} — thread counts above \
             that are oversubscribed, and a bigger machine will show more (or less) scaling",
            plural(m.cpus, "core", "cores"),
            plural(m.cpus, "core", "cores"),
        )
    };
    let spread = if s.repeats > 1 {
        format!(
            "Every throughput figure is the median of {} runs, with the min–max range in \
             parentheses.",
            s.repeats
        )
    } else {
        "Every throughput figure is a single run (no spread shown); `--full` reports the \
         median of 5 runs with min–max."
            .to_string()
    };
    let _ = writeln!(
        out,
        "**Caveats.** These figures come from {cores}. {spread} Ratios are taken between \
         caches measured side by side in this run; `sesscache / x` above 1 means sesscache \
         is faster, `x / limit` is the fraction of the unsynchronised hardware limit.\n"
    );
}

fn caches_under_test(out: &mut String, r: &Results) {
    out.push_str("## Caches under test\n\n");
    if r.mappings.is_empty() {
        out.push_str("No caches recorded.\n\n");
        return;
    }
    let rows: Vec<Vec<String>> = order_caches(r.mappings.keys().map(String::as_str))
        .into_iter()
        .map(|c| {
            vec![
                cell(&c),
                r.versions
                    .get(&c)
                    .map_or_else(|| DASH.to_string(), |v| cell(v)),
                cell(r.mappings.get(&c).map_or("", String::as_str)),
            ]
        })
        .collect();
    table_aligned(
        out,
        &["cache".into(), "version".into(), "operations map to".into()],
        &rows,
        3,
    );
}

fn throughput_section(out: &mut String, r: &Results, workload: &str) {
    let desc = THROUGHPUT_WORKLOADS
        .iter()
        .find(|(w, _)| *w == workload)
        .map_or("", |(_, d)| d);
    let _ = writeln!(out, "## {workload} throughput\n");
    if !desc.is_empty() {
        let _ = writeln!(out, "{workload}: {desc}.\n");
    }
    let caches = order_caches(
        r.throughput
            .iter()
            .filter(|t| t.workload == workload)
            .map(|t| t.cache.as_str()),
    );
    let threads: Vec<usize> = r
        .throughput
        .iter()
        .filter(|t| t.workload == workload)
        .map(|t| t.threads)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    cache_by_threads_table(out, "cache (Mops/s)", &caches, &threads, |c, t| {
        fmt_stats(cell_stats(r, workload, c, t))
    });
    handoff_table(out, r, workload, &caches, &threads);

    // Ratios: sesscache to each other cache, each cache to the limit.
    let has = |c: &str| caches.iter().any(|x| x == c);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if has(SESSCACHE) {
        for c in caches.iter().filter(|c| *c != SESSCACHE) {
            pairs.push((SESSCACHE.into(), c.clone()));
        }
    }
    if has(LIMIT) {
        for c in caches.iter().filter(|c| *c != LIMIT && *c != SESSCACHE) {
            pairs.push((c.clone(), LIMIT.into()));
        }
    }
    if !pairs.is_empty() {
        let mut header = vec!["ratio (of medians)".to_string()];
        header.extend(threads.iter().map(|&t| threads_label(t)));
        let rows: Vec<Vec<String>> = pairs
            .iter()
            .map(|(a, b)| {
                let mut row = vec![format!("{} / {}", cell(a), cell(b))];
                row.extend(threads.iter().map(|&t| {
                    let ra = cell_stats(r, workload, a, t);
                    let rb = cell_stats(r, workload, b, t);
                    match (ra, rb) {
                        (Some(x), Some(y)) => fmt_opt_ratio(ratio(x.median, y.median)),
                        _ => DASH.into(),
                    }
                }));
                row
            })
            .collect();
        table(out, &header, &rows);
    }

    if workload == "W5" {
        w5_comparison(out, r);
    }
    if workload == "W7-adversarial" {
        w7_comparison(out, r);
    }
}

/// The cache-line hand-off between two processors measured before each of
/// the workload's cells ([`crate::handoff`]), in a table shaped as the
/// throughput table; nothing when no cell has it.
fn handoff_table(
    out: &mut String,
    r: &Results,
    workload: &str,
    caches: &[String],
    threads: &[usize],
) {
    let cell_of = |c: &str, t: usize| {
        r.throughput
            .iter()
            .filter(|x| x.workload == workload && x.cache == c && x.threads == t)
            .find_map(|x| stats_of(&x.handoff_ns))
    };
    if !caches
        .iter()
        .any(|c| threads.iter().any(|&t| cell_of(c, t).is_some()))
    {
        return;
    }
    let _ = writeln!(
        out,
        "The one-way hand-off of a cache line between the first two processors, measured \
         before each repetition: tens of ns between one core's two hardware threads, several \
         times that between cores. Cells whose threads write shared lines slow down with \
         it.\n"
    );
    cache_by_threads_table(
        out,
        "hand-off (ns)",
        caches,
        threads,
        |c, t| match cell_of(c, t) {
            None => DASH.into(),
            Some(s) if s.n > 1 => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
            Some(s) => format!("{:.0}", s.median),
        },
    );
}

/// A table with a row per cache and a column per thread count, `corner`
/// heading the caches' column and `cell_text(cache, threads)` filling the
/// rest.
fn cache_by_threads_table(
    out: &mut String,
    corner: &str,
    caches: &[String],
    threads: &[usize],
    cell_text: impl Fn(&str, usize) -> String,
) {
    let mut header = vec![corner.to_string()];
    header.extend(threads.iter().map(|&t| threads_label(t)));
    let rows: Vec<Vec<String>> = caches
        .iter()
        .map(|c| {
            let mut row = vec![cell(c)];
            row.extend(threads.iter().map(|&t| cell_text(c, t)));
            row
        })
        .collect();
    table(out, &header, &rows);
}

/// For each cache with a W5 reference: W5 against the same cache at one
/// thread per core, measured alternately with it. Results without any
/// reference (older files) say so.
fn w5_comparison(out: &mut String, r: &Results) {
    let refs: Vec<&Throughput> = r
        .throughput
        .iter()
        .filter(|t| t.workload == W5_REFERENCE)
        .collect();
    if refs.is_empty() {
        out.push_str(
            "No reference was measured alongside W5 (older results): the W5 target compares \
             it with the W1 cell at 2 threads, measured earlier in the suite.\n\n",
        );
        return;
    }
    let caches = order_caches(refs.iter().map(|t| t.cache.as_str()));
    let mut runs = BTreeSet::new();
    let rows: Vec<Vec<String>> = caches
        .iter()
        .map(|c| {
            let reference = w5_reference(r, c);
            let over = w5_cell(r, c);
            let show = |x: Option<(usize, Stats)>| match x {
                Some((th, s)) => format!("{} at {}", fmt_stats(Some(s)), threads_label(th)),
                None => DASH.into(),
            };
            if let Some((_, s)) = reference {
                runs.insert(s.n);
            }
            let ratio = match (reference, over) {
                (Some((ta, _)), Some((tb, _))) => {
                    fmt_opt_ratio(alternating_ratio(r, ("W5", tb), (W5_REFERENCE, ta), c))
                }
                _ => DASH.into(),
            };
            vec![cell(c), show(reference), show(over), ratio]
        })
        .collect();
    let order = if runs.iter().all(|&n| n == 1) {
        "one run of each, the reference first".to_string()
    } else {
        "alternating run by run (A B, B A, …) so that a drift of the machine's speed \
         weighs on both"
            .to_string()
    };
    let _ = write!(
        out,
        "Oversubscribed against the same cache at one thread per core, measured together \
         ({order}; W5 / one per core, the median of the ratios of the runs measured back to \
         back, 1.00× = nothing lost):\n\n"
    );
    let header = [
        "cache",
        "one per core (Mops/s)",
        "oversubscribed (Mops/s)",
        "ratio",
    ]
    .map(String::from);
    table(out, &header, &rows);
}

/// A cache's W5 cell with the most threads, `(threads, stats)`, among those
/// with a usable run.
fn w5_cell(r: &Results, cache: &str) -> Option<(usize, Stats)> {
    r.throughput
        .iter()
        .filter(|t| t.workload == "W5" && t.cache == cache)
        .filter_map(|t| stats(t).map(|s| (t.threads, s)))
        .max_by_key(|(th, _)| *th)
}

/// A cache's W5 reference cell, `(threads, stats)`, if it has a usable run.
fn w5_reference(r: &Results, cache: &str) -> Option<(usize, Stats)> {
    r.throughput
        .iter()
        .filter(|t| t.workload == W5_REFERENCE && t.cache == cache)
        .find_map(|t| stats(t).map(|s| (t.threads, s)))
}

/// Adversarial / random for each cache at every thread count measured in both.
fn w7_comparison(out: &mut String, r: &Results) {
    let rand: BTreeSet<(String, usize)> = r
        .throughput
        .iter()
        .filter(|t| t.workload == "W7-random")
        .map(|t| (t.cache.clone(), t.threads))
        .collect();
    let both: Vec<(String, usize)> = r
        .throughput
        .iter()
        .filter(|t| t.workload == "W7-adversarial")
        .map(|t| (t.cache.clone(), t.threads))
        .filter(|k| rand.contains(k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if both.is_empty() {
        return;
    }
    let threads: Vec<usize> = both
        .iter()
        .map(|(_, t)| *t)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let caches = order_caches(both.iter().map(|(c, _)| c.as_str()));
    out.push_str(
        "Adversarial ids against random ids (W7-adversarial / W7-random, 1.00× = no slowdown; \
         the median of the ratios of the repetitions measured back to back):\n\n",
    );
    let mut header = vec!["cache".to_string()];
    header.extend(threads.iter().map(|&t| threads_label(t)));
    let rows: Vec<Vec<String>> = caches
        .iter()
        .map(|c| {
            let mut row = vec![cell(c)];
            row.extend(threads.iter().map(|&t| {
                fmt_opt_ratio(alternating_ratio(
                    r,
                    ("W7-adversarial", t),
                    ("W7-random", t),
                    c,
                ))
            }));
            row
        })
        .collect();
    table(out, &header, &rows);
}

/// The sesscache W3 entry to compare `f` with: same sizes if measured, else
/// the main one.
fn w3_reference<'a>(r: &'a Results, f: &FlushLatency) -> Option<&'a FlushLatency> {
    let usable = |x: &&FlushLatency| x.cache == SESSCACHE && x.median.lookups > 0;
    r.flush_latency
        .iter()
        .filter(usable)
        .find(|x| x.expired == f.expired && x.live == f.live)
        .or_else(|| {
            r.flush_latency
                .iter()
                .filter(usable)
                .max_by_key(|x| (x.expired, x.live))
        })
}

fn fmt_pct(f: &FlushLatency, ns: u64) -> String {
    if f.median.lookups == 0 {
        DASH.into()
    } else {
        fmt_ns(ns as f64)
    }
}

/// `figure`, then ` (min–max)` of the finite `runs` in `fmt` when there are
/// two or more of them (a figure that is the median of several runs).
fn with_range(figure: String, runs: &[f64], fmt: fn(f64) -> String) -> String {
    match stats_of(runs) {
        Some(s) if s.n > 1 && figure != DASH => {
            format!("{figure} ({}–{})", fmt(s.min), fmt(s.max))
        }
        _ => figure,
    }
}

/// A W3 latency figure of `f`: its median, with the range of the runs that
/// timed a lookup.
fn w3_figure(f: &FlushLatency, run: fn(&FlushRun) -> u64) -> String {
    let runs: Vec<f64> = f
        .runs
        .iter()
        .filter(|r| r.timed())
        .map(|r| run(r) as f64)
        .collect();
    with_range(fmt_pct(f, run(&f.median)), &runs, fmt_ns)
}

fn w3_section(out: &mut String, r: &Results) {
    if r.flush_latency.is_empty() && r.machine_floor.is_none() {
        return;
    }
    out.push_str("## W3 flush under load\n\n");
    out.push_str(
        "W3: sessions expiring at T plus live ones; one thread flushes at T+1 while the \
         others look up live ids. Lookup latency during the flush, the flush's duration, \
         and each cache's p99.9 against sesscache's. *lookups* counts the lookups timed \
         during the flush; *recorded*, the latencies the percentiles are taken over: those \
         lookups and, for each stalled one, the lookups that would have arrived meanwhile \
         at the warm-up's rate (coordinated omission).\n\n",
    );
    // A run whose caches all skip W3 still measured the machine's floor.
    if !r.flush_latency.is_empty() {
        w3_table(out, r);
        let runs = r
            .flush_latency
            .iter()
            .map(|f| f.runs.len())
            .max()
            .unwrap_or(0);
        if runs > 1 {
            let _ = writeln!(
                out,
                "Each cache ran W3 {runs} times, each time with a cache of its own, the caches \
                 taking turns; every figure is the median of the runs, with their min–max in \
                 parentheses, and the ratios are of the medians.\n"
            );
        }
    }
    if let Some(f) = &r.machine_floor {
        floor_paragraph(out, r, f);
    }
}

fn w3_table(out: &mut String, r: &Results) {
    let mut entries: Vec<&FlushLatency> = r.flush_latency.iter().collect();
    let order = order_caches(entries.iter().map(|f| f.cache.as_str()));
    entries.sort_by_key(|f| order.iter().position(|c| *c == f.cache));
    let header: Vec<String> = [
        "cache",
        "expired",
        "live",
        "lookup threads",
        "lookups",
        "recorded",
        "p50",
        "p99",
        "p99.9",
        "max",
        "flush",
        "flushed",
        "p99.9 / sesscache's",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|f| {
            let rel = if f.median.lookups == 0 {
                None
            } else {
                w3_reference(r, f)
                    .and_then(|s| ratio(f.median.p999_ns as f64, s.median.p999_ns as f64))
            };
            vec![
                cell(&f.cache),
                fmt_count(f.expired as u64),
                fmt_count(f.live as u64),
                f.lookup_threads.to_string(),
                fmt_count(f.median.lookups),
                if f.median.recorded == 0 {
                    DASH.into()
                } else {
                    fmt_count(f.median.recorded)
                },
                w3_figure(f, |x| x.p50_ns),
                w3_figure(f, |x| x.p99_ns),
                w3_figure(f, |x| x.p999_ns),
                w3_figure(f, |x| x.max_ns),
                with_range(
                    fmt_ns(f.median.flush_ms * 1e6),
                    &f.runs.iter().map(|x| x.flush_ms * 1e6).collect::<Vec<_>>(),
                    fmt_ns,
                ),
                fmt_count(f.median.flushed as u64),
                fmt_opt_ratio(rel),
            ]
        })
        .collect();
    table(out, &header, &rows);
}

/// `" (the window with the median p99.9 of 3; each window's: a, b, c)"`,
/// or nothing for a single window.
fn windows_text(f: &MachineFloor) -> String {
    if f.windows_p999_ns.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = f
        .windows_p999_ns
        .iter()
        .map(|&ns| fmt_ns(ns as f64))
        .collect();
    format!(
        " (the window with the median p99.9 of {}; each window's p99.9: {})",
        each.len(),
        each.join(", ")
    )
}

/// The p99.9 of each window the machine floor timed (older results files
/// keep only the median window's).
fn floor_windows(f: &MachineFloor) -> &[u64] {
    if f.windows_p999_ns.is_empty() {
        core::slice::from_ref(&f.p999_ns)
    } else {
        &f.windows_p999_ns
    }
}

/// Whether a cache's p99.9 of `cache_ns`, missing a target of `target_ns`,
/// is within what the machine alone records: the floor's p99.9 exceeded
/// the target in every window it timed, and the cache's p99.9 is no higher
/// than the floor's highest window. The machine then did not show the
/// target reachable at all while it was measured; a cache above the
/// floor's whole range misses it by its own doing.
fn below_floor(f: &MachineFloor, target_ns: u64, cache_ns: u64) -> bool {
    let w = floor_windows(f);
    w.iter().all(|&p| p > target_ns) && w.iter().any(|&p| cache_ns <= p)
}

/// What W3's timing loop records on this machine with no cache at all.
fn floor_paragraph(out: &mut String, r: &Results, f: &MachineFloor) {
    let _ = write!(
        out,
        "**Machine floor (no cache).** W3's timing loop on {} thread{}, with a stand-in \
         operation of ~{} of arithmetic (no memory, no atomics) in place of the lookup and a \
         thread spinning for {} in place of the flush, recorded the same way (coordinated \
         omission corrected): p50 {}, p99 {}, p99.9 {}, max {} over {} recorded latencies \
         ({}){}. \
         Whatever it records beyond the operation is the machine's own (preemption, the \
         hypervisor, interrupts), and every cache's W3 percentiles include it.",
        f.threads,
        if f.threads == 1 { "" } else { "s" },
        fmt_ns(f.op_ns as f64),
        fmt_ns(f.window_ms as f64 * 1e6),
        fmt_ns(f.p50_ns as f64),
        fmt_ns(f.p99_ns as f64),
        fmt_ns(f.p999_ns as f64),
        fmt_ns(f.max_ns as f64),
        fmt_count(f.samples),
        if f.operations == 0 {
            "back-filled ones included".to_owned()
        } else {
            format!(
                "{} operations timed, the rest back-filled",
                fmt_count(f.operations)
            )
        },
        windows_text(f),
    );
    let sess = w3_entries(r).into_iter().find(|x| x.cache == SESSCACHE);
    if let Some(x) = sess.and_then(|s| ratio(s.median.p999_ns as f64, f.p999_ns as f64)) {
        let _ = write!(out, " sesscache's p99.9 is {} the floor's.", fmt_ratio(x));
    }
    out.push_str("\n\n");
}

fn w4_section(out: &mut String, r: &Results) {
    if r.tickets.is_empty() {
        return;
    }
    out.push_str("## W4 tickets\n\n");
    out.push_str(
        "W4: single-use tickets stored, then taken from several threads. Double takes must \
         be 0 for every cache that promises single use.\n\n",
    );
    let order = order_caches(r.tickets.iter().map(|t| t.cache.as_str()));
    let mut entries: Vec<_> = r.tickets.iter().collect();
    entries.sort_by_key(|t| (order.iter().position(|c| *c == t.cache), t.threads));
    let header: Vec<String> = [
        "cache",
        "threads",
        "runs",
        "tickets per run",
        "taken",
        "double takes",
        "Mops/s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|t| {
            vec![
                cell(&t.cache),
                t.threads.to_string(),
                t.runs().to_string(),
                fmt_count(t.tickets),
                fmt_count(t.taken),
                if t.double_takes > 0 {
                    format!("**{}**", fmt_count(t.double_takes))
                } else {
                    "0".into()
                },
                with_range(fmt_num(t.mops), &t.runs_mops, fmt_num),
            ]
        })
        .collect();
    table(out, &header, &rows);
    if entries.iter().any(|t| t.runs() > 1) {
        out.push_str(
            "Takes and double takes are summed over the runs (each with a cache of its \
             own, the caches taking turns); Mops/s is the median of the runs, with their \
             min–max in parentheses.\n\n",
        );
    }
}

/// A cell's throughput in Mops/s: W4's from its tickets entry, the others'
/// median.
fn cell_mops(r: &Results, workload: &str, cache: &str, threads: usize) -> Option<f64> {
    if workload == "W4" {
        r.tickets
            .iter()
            .find(|t| t.cache == cache && t.threads == threads)
            .map(|t| t.mops)
            .filter(|m| m.is_finite())
    } else {
        cell_stats(r, workload, cache, threads).map(|s| s.median)
    }
}

/// What a second tier costs against plain sesscache, and what it did.
fn tier_section(out: &mut String, r: &Results) {
    if r.tiers.is_empty() {
        return;
    }
    out.push_str(
        "## Redis tier

",
    );
    out.push_str(
        "The cost of sesscache's Redis second tier: a fleet of two machines sharing one \
         Redis, worker threads alternating between them, against plain sesscache measured \
         side by side (`tiered / sesscache` is the fraction of plain throughput kept). The \
         tier's counters are summed over both machines and the cell's runs; W1's prefill \
         bypasses them. Errors must be 0 for the figures to include every round trip, and \
         W4 double takes must be 0: the tier promises single use across the fleet.\n\n",
    );
    let order = order_caches(r.tiers.iter().map(|t| t.cache.as_str()));
    let workloads = throughput_workloads(r);
    let rank = |w: &str| match w {
        "W4" => usize::MAX - 1,
        _ => workloads.iter().position(|x| x == w).unwrap_or(usize::MAX),
    };
    let mut entries: Vec<&TierCell> = r.tiers.iter().collect();
    entries.sort_by_key(|t| {
        (
            order.iter().position(|c| *c == t.cache),
            rank(&t.workload),
            t.workload.clone(),
            t.threads,
        )
    });
    let header: Vec<String> = [
        "cache",
        "workload",
        "threads",
        "Mops/s",
        "sesscache Mops/s",
        "tiered / sesscache",
        "writes",
        "reads",
        "read hits",
        "deletes",
        "errors",
        "skipped",
        "invalidations",
        "double takes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let bold_if = |n: u64| {
        if n > 0 {
            format!("**{}**", fmt_count(n))
        } else {
            "0".into()
        }
    };
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|t| {
            let mine = cell_mops(r, &t.workload, &t.cache, t.threads);
            let plain = cell_mops(r, &t.workload, SESSCACHE, t.threads);
            let c = &t.counts;
            let double = if t.workload == "W4" {
                r.tickets
                    .iter()
                    .find(|x| x.cache == t.cache && x.threads == t.threads)
                    .map_or_else(|| DASH.to_string(), |x| bold_if(x.double_takes))
            } else {
                DASH.into()
            };
            vec![
                cell(&t.cache),
                cell(&t.workload),
                t.threads.to_string(),
                mine.map_or_else(|| DASH.into(), fmt_num),
                plain.map_or_else(|| DASH.into(), fmt_num),
                fmt_opt_ratio(mine.zip(plain).and_then(|(a, b)| ratio(a, b))),
                fmt_count(c.writes),
                fmt_count(c.reads),
                fmt_count(c.read_hits),
                fmt_count(c.deletes),
                bold_if(c.errors),
                bold_if(c.skipped),
                fmt_count(c.invalidations),
                double,
            ]
        })
        .collect();
    table_aligned(out, &header, &rows, 2);
}

/// The first W6 point of `cache` at `live`.
fn scale_point<'a>(r: &'a Results, cache: &str, live: usize) -> Option<&'a ScalePoint> {
    r.scale.iter().find(|p| p.cache == cache && p.live == live)
}

/// `(smallest live, its flush µs, largest live, its flush µs)` for `cache`,
/// over its points with a usable (finite, positive) flush figure; `None`
/// unless there are two distinct live counts.
fn flush_span(r: &Results, cache: &str) -> Option<(usize, f64, usize, f64)> {
    let pts: Vec<&ScalePoint> = r
        .scale
        .iter()
        .filter(|p| p.cache == cache && p.flush_1k_us.is_finite() && p.flush_1k_us > 0.0)
        .collect();
    let lo = pts.iter().min_by_key(|p| p.live)?;
    let hi = pts.iter().max_by_key(|p| p.live)?;
    (hi.live > lo.live).then_some((lo.live, lo.flush_1k_us, hi.live, hi.flush_1k_us))
}

/// Reads one W6 figure from a point, and the runs it is the median of.
type Metric = fn(&ScalePoint) -> (f64, &[f64]);

fn w6_section(out: &mut String, r: &Results) {
    if r.scale.is_empty() {
        return;
    }
    out.push_str("## W6 scale\n\n");
    out.push_str(
        "W6: cost of a store, a lookup and a flush of 1k expired sessions as the live count \
         grows.\n\n",
    );
    let caches = order_caches(r.scale.iter().map(|p| p.cache.as_str()));
    let lives: Vec<usize> = r
        .scale
        .iter()
        .map(|p| p.live)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let metrics: [(&str, Metric); 3] = [
        ("store (ns/op)", |p| (p.store_ns, &p.stores_ns)),
        ("lookup (ns/op)", |p| (p.lookup_ns, &p.lookups_ns)),
        ("flush 1k expired (µs)", |p| (p.flush_1k_us, &p.flushes_us)),
    ];
    for (i, (name, get)) in metrics.iter().enumerate() {
        let is_flush = i == 2;
        let mut header = vec![format!("{name} at live count")];
        header.extend(lives.iter().map(|&l| fmt_live(l)));
        if is_flush {
            header.push("largest / smallest".into());
        }
        let rows: Vec<Vec<String>> = caches
            .iter()
            .map(|c| {
                let mut row = vec![cell(c)];
                row.extend(lives.iter().map(|&l| {
                    scale_point(r, c, l).map_or_else(
                        || DASH.to_string(),
                        |p| {
                            let (v, runs) = get(p);
                            if v.is_finite() && v >= 0.0 {
                                with_range(fmt_num(v), runs, fmt_num)
                            } else {
                                DASH.into()
                            }
                        },
                    )
                }));
                if is_flush {
                    row.push(match flush_span(r, c) {
                        Some((lo, lo_us, hi, hi_us)) => format!(
                            "{} ({} / {})",
                            fmt_opt_ratio(ratio(hi_us, lo_us)),
                            fmt_live(hi),
                            fmt_live(lo)
                        ),
                        None => DASH.into(),
                    });
                }
                row
            })
            .collect();
        table(out, &header, &rows);
    }
    // How many flushes each cache's figures are the median of.
    let rounds: Vec<String> = order_caches(r.scale.iter().map(|p| p.cache.as_str()))
        .iter()
        .filter_map(|c| {
            let n = r
                .scale
                .iter()
                .filter(|p| &p.cache == c)
                .map(|p| p.flushes_us.len())
                .max()?;
            (n > 0).then(|| format!("{} {n}", cell(c)))
        })
        .collect();
    if !rounds.is_empty() {
        // What the lookup figures are depends on when the file was written:
        // older ones kept no per-round lookups, and took their mean.
        let lookups = if r.scale.iter().any(|p| !p.lookups_ns.is_empty()) {
            " and lookup"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "Each flush{lookups} figure is the median of its cache's rounds (33 000 lookups, \
             then a flush), which visit every live count in turn: {}; the min–max of the \
             rounds is in parentheses.\n",
            rounds.join(", ")
        );
    }
    let slices = r.scale.iter().map(|p| p.stores_ns.len()).max().unwrap_or(0);
    if slices > 1 {
        let _ = writeln!(
            out,
            "Each store figure is the mean over the last of the point's live sessions \
             (10 000, or half if fewer), timed as they were stored in {slices} equal \
             slices; the slices' min–max is in parentheses (a slice where the table grew \
             stands out).\n"
        );
    }
}

fn memory_section(out: &mut String, r: &Results) {
    if r.memory.is_empty() {
        return;
    }
    out.push_str("## Memory per session\n\n");
    out.push_str(
        "Bytes allocated per cached session beyond the 32-byte id and the value (glibc \
         `mallinfo2`: Rust's and the C library's allocations alike, with malloc's per-chunk \
         overhead).\n\n",
    );
    let order = order_caches(r.memory.iter().map(|m| m.cache.as_str()));
    let mut entries: Vec<_> = r.memory.iter().collect();
    entries.sort_by_key(|m| (order.iter().position(|c| *c == m.cache), m.sessions));
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|m| {
            vec![
                cell(&m.cache),
                fmt_count(m.sessions as u64),
                if m.overhead_bytes.is_finite() {
                    format!("{:.1}", m.overhead_bytes)
                } else {
                    DASH.into()
                },
            ]
        })
        .collect();
    table(
        out,
        &[
            "cache".into(),
            "sessions".into(),
            "overhead bytes / session".into(),
        ],
        &rows,
    );
    blocks_table(out, r, &entries);
}

/// Where each cache's bytes went: the blocks Rust's allocator handed out
/// per session, by size.
fn blocks_table(out: &mut String, r: &Results, entries: &[&Memory]) {
    let with_blocks: Vec<&&Memory> = entries
        .iter()
        .filter(|m| m.overhead_bytes.is_finite() && m.sessions > 0)
        .filter(|m| !m.blocks.is_empty() || m.other_block_bytes != 0.0)
        .collect();
    if with_blocks.is_empty() {
        return;
    }
    let value = r.suite.value_bytes;
    let chunks = with_blocks.iter().all(|m| m.blocks_are_chunks);
    let _ = write!(
        out,
        "Where the bytes go: the blocks allocated per session through Rust's allocator, by \
         size ({}), the id and the {value}-byte value among them; sizes allocated less than \
         once per 20 sessions are summed as *other* (tables, directories), and *not seen* is \
         the rest of the total: what C code allocated with `malloc` (all of OpenSSL's){}.\n\n",
        if chunks {
            "malloc chunks, so headers and rounding included"
        } else {
            "the sizes asked for, rounded up to 16 bytes: malloc's headers are not in them"
        },
        if chunks {
            ", or a fraction of a byte either way"
        } else {
            ", less the headers and rounding the blocks leave out (negative where that is more)"
        },
    );
    let rows: Vec<Vec<String>> = with_blocks
        .iter()
        .map(|m| {
            let listed: f64 = m
                .blocks
                .iter()
                .map(|b| b.bytes as f64 * b.per_session)
                .sum();
            let total = m.overhead_bytes + (32 + value) as f64;
            let blocks = if m.blocks.is_empty() {
                DASH.to_string()
            } else {
                m.blocks
                    .iter()
                    .map(|b| format!("{} B × {:.2}", b.bytes, b.per_session))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let unseen = total - listed - m.other_block_bytes;
            vec![
                cell(&m.cache),
                blocks,
                format!("{:.1}", m.other_block_bytes),
                // Rounded to 0.0, a tiny negative residual prints as -0.0.
                format!("{:.1}", if unseen.abs() < 0.05 { 0.0 } else { unseen }),
                format!("{total:.1}"),
            ]
        })
        .collect();
    table(
        out,
        &[
            "cache".into(),
            "blocks per session (bytes × blocks)".into(),
            "other blocks (bytes)".into(),
            "not seen (bytes)".into(),
            "total bytes / session".into(),
        ],
        &rows,
    );
}

// ---------------------------------------------------------------------------
// Targets.
// ---------------------------------------------------------------------------

/// Whether a target is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Met,
    NotMet,
    /// Not met, but within what the machine alone records: its floor
    /// (W3's timing loop with no cache) misses it too, in every window, and
    /// by as much.
    BelowFloor,
    NotMeasured,
}

impl Status {
    fn of(ok: bool) -> Self {
        if ok {
            Status::Met
        } else {
            Status::NotMet
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not met",
            Status::BelowFloor => "not met: within this machine's floor, which misses it too",
            Status::NotMeasured => "not measured",
        }
    }
}

/// One row of the targets table.
struct Target {
    what: String,
    measured: String,
    status: Status,
}

impl Target {
    fn missing(what: impl Into<String>, why: impl Into<String>) -> Self {
        Target {
            what: what.into(),
            measured: format!("{DASH} ({})", why.into()),
            status: Status::NotMeasured,
        }
    }
}

/// Every target of the issue, evaluated from `r`.
fn targets(r: &Results) -> Vec<Target> {
    let mut t = Vec::new();

    // W1 at 2 threads against each peer and the limit.
    let s2 = cell_stats(r, "W1", SESSCACHE, 2);
    for (peer, min, label) in [
        ("openssl", 2.0, "≥ 2× openssl"),
        ("rustls", 2.0, "≥ 2× rustls"),
        ("moka", 1.5, "≥ 1.5× moka"),
        (LIMIT, 0.5, "≥ 0.5× the limit"),
    ] {
        let what = format!("W1 at 2 threads: sesscache {label}");
        let p2 = cell_stats(r, "W1", peer, 2);
        let target = match (s2, p2) {
            (Some(s), Some(p)) => match ratio(s.median, p.median) {
                Some(x) => Target {
                    what,
                    measured: format!(
                        "{} (sesscache {} vs {peer} {} Mops/s)",
                        fmt_ratio(x),
                        fmt_num(s.median),
                        fmt_num(p.median)
                    ),
                    status: Status::of(x >= min),
                },
                None => Target::missing(what, format!("{peer}'s W1 figure at 2 threads is 0")),
            },
            (None, _) => Target::missing(what, "no sesscache W1 cell at 2 threads"),
            (_, None) => Target::missing(what, format!("no {peer} W1 cell at 2 threads")),
        };
        t.push(target);
    }

    // W3: sesscache's p99.9 during the flush, absolute and against OpenSSL.
    let w3 = w3_entries(r);
    let sess = w3.iter().find(|f| f.cache == SESSCACHE);
    let what = "W3: sesscache lookup p99.9 during the flush ≤ 10 µs";
    t.push(match sess {
        Some(s) => {
            let met = s.median.p999_ns <= 10_000;
            let floor = r.machine_floor.as_ref();
            Target {
                what: what.into(),
                measured: format!(
                    "{} ({} expired, {} live){}",
                    fmt_ns(s.median.p999_ns as f64),
                    fmt_count(s.expired as u64),
                    fmt_count(s.live as u64),
                    floor.map_or(String::new(), |f| format!(
                        "; machine floor (the same loop, no cache) {}",
                        fmt_ns(f.p999_ns as f64)
                    ))
                ),
                status: match floor {
                    Some(f) if !met && below_floor(f, 10_000, s.median.p999_ns) => {
                        Status::BelowFloor
                    }
                    _ => Status::of(met),
                },
            }
        }
        None => Target::missing(what, "no sesscache W3 entry with lookups"),
    });
    let what = "W3: sesscache p99.9 ≥ 100× lower than openssl's";
    let ossl = sess.and_then(|s| {
        r.flush_latency
            .iter()
            .filter(|f| f.cache == "openssl" && f.median.lookups > 0)
            .find(|f| f.expired == s.expired && f.live == s.live)
            .or_else(|| w3.iter().copied().find(|f| f.cache == "openssl"))
    });
    t.push(match (sess, ossl) {
        (Some(s), Some(o)) => match ratio(o.median.p999_ns as f64, s.median.p999_ns as f64) {
            Some(x) => Target {
                what: what.into(),
                measured: format!(
                    "{} (openssl {}, sesscache {})",
                    fmt_ratio(x),
                    fmt_ns(o.median.p999_ns as f64),
                    fmt_ns(s.median.p999_ns as f64)
                ),
                status: Status::of(x >= 100.0),
            },
            None => Target::missing(what, "sesscache's p99.9 is 0"),
        },
        (None, _) => Target::missing(what, "no sesscache W3 entry with lookups"),
        (_, None) => Target::missing(what, "no openssl W3 entry with lookups"),
    });

    // W5: oversubscribed against sesscache's own 2-thread W1.
    let what = "W5: sesscache oversubscribed ≥ 0.9× its own 2-thread W1";
    let w5 = w5_cell(r, SESSCACHE);
    // The reference measured alternately with W5 if there is one (W1 at one
    // thread per core: 2 threads on the 2-core machine the issue assumes),
    // else W1's cell at 2 threads (older results files).
    let has_reference = r
        .throughput
        .iter()
        .any(|c| c.workload == W5_REFERENCE && c.cache == SESSCACHE);
    let reference = if has_reference {
        w5_reference(r, SESSCACHE).map(|(th, s)| {
            let mut label = format!("W1 at {} measured alternately with it", threads_label(th));
            if th != 2 {
                label.push_str(", one thread per core (the issue's 2 threads assume 2 cores)");
            }
            (label, s, Some(th))
        })
    } else {
        s2.map(|s| ("W1 at 2 threads".to_string(), s, None))
    };
    t.push(match (w5, reference) {
        (Some((th, w)), Some((label, b, ref_th))) => match ref_th.map_or_else(
            || ratio(w.median, b.median),
            |ref_th| alternating_ratio(r, ("W5", th), (W5_REFERENCE, ref_th), SESSCACHE),
        ) {
            Some(x) => {
                let mut measured = format!(
                    "{}{} (W5 at {}: {} Mops/s; {label}: {} Mops/s",
                    fmt_ratio(x),
                    if ref_th.is_some() {
                        ", the median of the ratios of the runs measured back to back"
                    } else {
                        ""
                    },
                    threads_label(th),
                    fmt_num(w.median),
                    fmt_num(b.median)
                );
                if has_reference {
                    if let Some(s) = s2 {
                        let _ = write!(
                            measured,
                            "; the W1 section's 2-thread cell, measured earlier: {} Mops/s",
                            fmt_num(s.median)
                        );
                    }
                }
                measured.push(')');
                Target {
                    what: what.into(),
                    measured,
                    status: Status::of(x >= 0.9),
                }
            }
            None => Target::missing(what, "sesscache's reference figure is 0"),
        },
        (None, _) => Target::missing(what, "no sesscache W5 cell"),
        (_, None) if has_reference => {
            Target::missing(what, "sesscache's W5 reference has no usable run")
        }
        (_, None) => Target::missing(what, "no sesscache W5 reference, nor W1 cell at 2 threads"),
    });

    // W6: flush of 1k expired, largest live count against smallest.
    let what = "W6: sesscache flush of 1k expired at the largest live count ≤ 1.5× at the \
                smallest (issue: 10⁶ vs 10³)";
    t.push(match flush_span(r, SESSCACHE) {
        Some((lo, lo_us, hi, hi_us)) => match ratio(hi_us, lo_us) {
            Some(x) => {
                let sizes = if lo == 1_000 && hi == 1_000_000 {
                    String::new()
                } else {
                    "; sizes differ from the issue's 10⁶ vs 10³".into()
                };
                Target {
                    what: what.into(),
                    measured: format!(
                        "{} ({}: {} µs / {}: {} µs{sizes})",
                        fmt_ratio(x),
                        fmt_live(hi),
                        fmt_num(hi_us),
                        fmt_live(lo),
                        fmt_num(lo_us)
                    ),
                    status: Status::of(x <= 1.5),
                }
            }
            None => Target::missing(what, "unusable flush figures"),
        },
        None => Target::missing(
            what,
            "sesscache needs W6 flush figures at two or more live counts",
        ),
    });

    // W7: adversarial ids against random ids at the largest common thread count.
    let what = "W7: sesscache with adversarial ids within 10% of random ids \
                (adversarial / random ≥ 0.90×)";
    let common = r
        .throughput
        .iter()
        .filter(|c| c.workload == "W7-adversarial" && c.cache == SESSCACHE)
        .map(|c| c.threads)
        .filter(|&th| {
            cell_stats(r, "W7-adversarial", SESSCACHE, th).is_some()
                && cell_stats(r, "W7-random", SESSCACHE, th).is_some()
        })
        .max();
    t.push(match common {
        Some(th) => {
            let a = cell_stats(r, "W7-adversarial", SESSCACHE, th);
            let b = cell_stats(r, "W7-random", SESSCACHE, th);
            match a.zip(b).and_then(|(a, b)| {
                alternating_ratio(r, ("W7-adversarial", th), ("W7-random", th), SESSCACHE)
                    .map(|x| (a, b, x))
            }) {
                Some((a, b, x)) => Target {
                    what: what.into(),
                    measured: format!(
                        "{} (the median of the ratios of the repetitions measured back to \
                         back; at {}: adversarial {} vs random {} Mops/s, medians)",
                        fmt_ratio(x),
                        threads_label(th),
                        fmt_num(a.median),
                        fmt_num(b.median)
                    ),
                    status: Status::of(x >= 0.9),
                },
                None => Target::missing(what, "sesscache's W7-random figure is 0"),
            }
        }
        None => Target::missing(
            what,
            "no sesscache W7-random and W7-adversarial cells at a common thread count",
        ),
    });

    // Memory.
    let what = "Memory: sesscache overhead ≤ 128 bytes per session";
    let mem = r
        .memory
        .iter()
        .filter(|m| m.cache == SESSCACHE && m.overhead_bytes.is_finite())
        .max_by_key(|m| m.sessions);
    t.push(match mem {
        Some(m) => Target {
            what: what.into(),
            measured: format!(
                "{:.1} bytes (at {} sessions)",
                m.overhead_bytes,
                fmt_count(m.sessions as u64)
            ),
            status: Status::of(m.overhead_bytes <= 128.0),
        },
        None => Target::missing(what, "no sesscache memory figure"),
    });
    t
}

fn targets_section(out: &mut String, r: &Results) {
    out.push_str("## Targets\n\n");
    out.push_str(
        "The issue's targets, evaluated from this run's figures (ratios of medians measured \
         side by side).\n\n",
    );
    let t = targets(r);
    let rows: Vec<Vec<String>> = t
        .iter()
        .map(|x| vec![x.what.clone(), x.measured.clone(), x.status.as_str().into()])
        .collect();
    table_aligned(
        out,
        &["target".into(), "measured".into(), "status".into()],
        &rows,
        3,
    );
    let met = t.iter().filter(|x| x.status == Status::Met).count();
    let below = t.iter().filter(|x| x.status == Status::BelowFloor).count();
    let not_met = below + t.iter().filter(|x| x.status == Status::NotMet).count();
    let unmeasured = t.iter().filter(|x| x.status == Status::NotMeasured).count();
    let below = if below == 0 {
        String::new()
    } else {
        format!(" ({below} of them within this machine's floor, which misses it too)")
    };
    let _ = writeln!(
        out,
        "{met} met, {not_met} not met{below}, {unmeasured} not measured.\n"
    );
}

fn notes_section(out: &mut String, r: &Results) {
    out.push_str("## Notes\n\n");
    if r.notes.is_empty() {
        out.push_str("None.\n");
        return;
    }
    for n in &r.notes {
        let _ = writeln!(out, "- {}", n.trim().replace('\n', "\n  "));
    }
}
