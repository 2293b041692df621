//! The report and the plots, drawn from a small results file.

use std::path::{Path, PathBuf};

use sesscache_harness::plots;
use sesscache_harness::report::markdown;
use sesscache_harness::results::{
    BlockClass, FlushLatency, FlushRun, MachineFloor, Memory, Results, ScalePoint, Throughput,
    Tickets, TierCell, TierCounts, W5_REFERENCE,
};

fn fixture() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.json");
    let data = std::fs::read_to_string(&path).expect("the fixture is readable");
    serde_json::from_str(&data).expect("the fixture is a results.json")
}

/// The table row of `md` whose first cell is `first`, within the section
/// starting at the heading `section`.
fn row<'a>(md: &'a str, section: &str, first: &str) -> &'a str {
    let start = md
        .find(section)
        .unwrap_or_else(|| panic!("no section {section:?} in:\n{md}"));
    let rest = &md[start + section.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end]
        .lines()
        .find(|l| l.starts_with(&format!("| {first} |")))
        .unwrap_or_else(|| panic!("no row {first:?} in section {section:?} of:\n{md}"))
}

/// The cells of a table row.
fn cells(row: &str) -> Vec<&str> {
    row.trim()
        .trim_matches('|')
        .split(" | ")
        .map(str::trim)
        .collect()
}

/// The row of the targets table whose target starts with `prefix`.
fn target_row<'a>(md: &'a str, prefix: &str) -> &'a str {
    let start = md.find("## Targets").expect("a targets section");
    let rows: Vec<&str> = md[start..]
        .lines()
        .filter(|l| l.starts_with(&format!("| {prefix}")))
        .collect();
    assert_eq!(rows.len(), 1, "one target row for {prefix:?} in:\n{md}");
    rows[0]
}

/// The status cell of the target row starting with `target`.
fn target_status(md: &str, target: &str) -> String {
    let r = target_row(md, target);
    cells(r).last().expect("a status cell").to_string()
}

fn target_measured(md: &str, target: &str) -> String {
    let r = target_row(md, target);
    cells(r)[1].to_string()
}

#[test]
fn header_and_caches() {
    let md = markdown(&fixture());
    assert!(md.starts_with("# sesscache harness report\n"));
    assert!(md.contains("2025-01-02T03:04:05+00:00"));
    assert!(md.contains("**Mode:** quick"));
    assert!(md.contains("sesscache-harness --threads 1,2,4 --repeats 3"));
    assert!(md.contains(
        "2 logical CPUs, Test CPU @ 3.0GHz, 8.0 GiB memory, linux x86_64; \
         transparent huge pages: madvise; GLIBC_TUNABLES: `` glibc.malloc.hugetlb=1 ``\n"
    ));
    // One entry per name, separated by semicolons: a version may list
    // several crates, separated by commas.
    assert!(
        md.contains("- **Versions:** openssl: OpenSSL 3.0.13; rustc: 1.95.0; sesscache: 0.1.0\n")
    );
    assert!(md.contains("a machine with 2 cores; multi-core figures are limited to 2 cores"));
    assert!(md.contains("median of 3 runs"));
    // Caches under test, in report order, pipes escaped.
    let c = cells(row(&md, "## Caches under test", "openssl"));
    assert_eq!(c[1], "OpenSSL 3.0.13");
    assert!(
        c[2].contains("SSL_has_matching_session_id \\| store"),
        "{c:?}"
    );
    let order: Vec<usize> = ["| sesscache |", "| openssl |", "| moka |", "| limit |"]
        .iter()
        .map(|k| md.find(k).expect("every cache listed"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn throughput_tables_and_ratios() {
    let md = markdown(&fixture());
    let sec = "## W1 throughput";
    assert!(md.contains("| cache (Mops/s) | 1 thread | 2 threads | 4 threads |"));
    assert_eq!(
        cells(row(&md, sec, "sesscache")),
        [
            "sesscache",
            "2.00 (1.80–2.20)",
            "4.00 (3.90–4.10)",
            "4.50 (4.40–4.60)"
        ]
    );
    assert_eq!(
        cells(row(&md, sec, "moka")),
        ["moka", "—", "3.00 (3.00–3.00)", "—"]
    );
    assert_eq!(
        cells(row(&md, sec, "sesscache / openssl")),
        ["sesscache / openssl", "2.00×", "4.00×", "9.00×"]
    );
    assert_eq!(
        cells(row(&md, sec, "sesscache / limit")),
        ["sesscache / limit", "0.40×", "0.40×", "—"]
    );
    assert_eq!(
        cells(row(&md, sec, "openssl / limit")),
        ["openssl / limit", "0.20×", "0.10×", "—"]
    );
    assert_eq!(
        cells(row(&md, sec, "moka / limit")),
        ["moka / limit", "—", "0.30×", "—"]
    );
    // W2 has only unusable cells: shown as dashes, no panic.
    assert_eq!(cells(row(&md, "## W2 throughput", "naive")), ["naive", "—"]);
    // W5 at its own thread count.
    assert_eq!(
        cells(row(&md, "## W5 throughput", "sesscache / openssl")),
        ["sesscache / openssl", "19.0×"]
    );
    // W7: adversarial against random.
    let adv = "## W7-adversarial throughput";
    assert!(md.contains(adv));
    assert!(md.contains("## W7-random throughput"));
    let cmp = "W7-adversarial / W7-random";
    assert_eq!(
        cells(row(&md, cmp, "sesscache")),
        ["sesscache", "0.95×", "0.75×"]
    );
    assert_eq!(cells(row(&md, cmp, "openssl")), ["openssl", "—", "0.10×"]);
    assert!(md.find(adv) < md.find(cmp));
}

#[test]
fn w3_w4_w6_memory_tables() {
    let md = markdown(&fixture());
    let s = cells(row(&md, "## W3 flush under load", "sesscache"));
    assert_eq!(
        s,
        [
            "sesscache",
            "200,000",
            "100,000",
            "1",
            "500,000",
            "—",
            "120 ns",
            "900 ns",
            "8.0 µs",
            "45.0 µs",
            "35.5 ms",
            "200,000",
            "1.00×"
        ]
    );
    let o = cells(row(&md, "## W3 flush under load", "openssl"));
    assert_eq!(o[7], "120 ms");
    assert_eq!(o[8], "2.00 s");
    assert_eq!(o[12], "250000×");

    assert_eq!(
        cells(row(&md, "## W4 tickets", "naive")),
        ["naive", "2", "1", "100,000", "100,003", "**3**", "1.25"]
    );
    assert_eq!(
        cells(row(&md, "## W4 tickets", "sesscache")),
        ["sesscache", "2", "1", "100,000", "100,000", "0", "6.50"]
    );
    assert!(!md.contains("summed over the runs"), "one run each");

    assert!(md.contains("| store (ns/op) at live count | 10³ | 10⁶ |"));
    assert!(md.contains("| flush 1k expired (µs) at live count | 10³ | 10⁶ | largest / smallest |"));
    assert!(md.contains("| sesscache | 10.0 | 12.0 | 1.20× (10⁶ / 10³) |"));
    assert!(md.contains("| naive | 50.0 | 250 | 5.00× (10⁶ / 10³) |"));

    assert_eq!(
        cells(row(&md, "## Memory per session", "sesscache")),
        ["sesscache", "100,000", "96.5"]
    );
    assert!(md.contains("## Notes\n\n- rustls skipped: feature off\n"));
}

#[test]
fn targets_from_the_fixture() {
    let md = markdown(&fixture());
    let w1 = "W1 at 2 threads: sesscache";
    assert_eq!(target_status(&md, &format!("{w1} ≥ 2× openssl")), "met");
    assert!(target_measured(&md, &format!("{w1} ≥ 2× openssl")).starts_with("4.00× "));
    assert_eq!(
        target_status(&md, &format!("{w1} ≥ 2× rustls")),
        "not measured"
    );
    assert_eq!(target_status(&md, &format!("{w1} ≥ 1.5× moka")), "not met");
    assert!(target_measured(&md, &format!("{w1} ≥ 1.5× moka")).starts_with("1.33× "));
    assert_eq!(
        target_status(&md, &format!("{w1} ≥ 0.5× the limit")),
        "not met"
    );
    assert!(target_measured(&md, &format!("{w1} ≥ 0.5× the limit")).starts_with("0.40× "));

    let w3 = "W3: sesscache lookup p99.9 during the flush ≤ 10 µs";
    assert_eq!(target_status(&md, w3), "met");
    assert!(target_measured(&md, w3).starts_with("8.0 µs"));
    let w3o = "W3: sesscache p99.9 ≥ 100× lower than openssl's";
    assert_eq!(target_status(&md, w3o), "met");
    assert!(target_measured(&md, w3o).starts_with("250000× "));

    let w5 = "W5: sesscache oversubscribed";
    assert_eq!(target_status(&md, w5), "met");
    let m = target_measured(&md, w5);
    assert!(m.starts_with("0.95× ") && m.contains("8 threads"), "{m}");

    let w6 = "W6: sesscache flush of 1k expired";
    assert_eq!(target_status(&md, w6), "met");
    let m = target_measured(&md, w6);
    assert!(m.starts_with("1.20× (10⁶: 12.0 µs / 10³: 10.0 µs"), "{m}");
    assert!(!m.contains("sizes differ"), "{m}");

    let w7 = "W7: sesscache with adversarial ids";
    assert_eq!(target_status(&md, w7), "not met");
    let m = target_measured(&md, w7);
    assert!(m.starts_with("0.75× ") && m.contains("2 threads"), "{m}");

    let mem = "Memory: sesscache overhead ≤ 128 bytes";
    assert_eq!(target_status(&md, mem), "met");
    assert!(target_measured(&md, mem).starts_with("96.5 bytes"));

    assert!(md.contains("6 met, 3 not met, 1 not measured."), "{md}");
}

#[test]
fn targets_flip_with_the_data() {
    let mut r = fixture();
    // sesscache's W1 at 2 threads drops to 1.5: below 2× openssl (1.0).
    for t in &mut r.throughput {
        if t.workload == "W1" && t.cache == "sesscache" && t.threads == 2 {
            t.runs_mops = vec![1.5];
        }
    }
    // p99.9 just above 10 µs.
    r.flush_latency[0].median.p999_ns = 10_001;
    // Flush at 10^6 costs 1.6× the 10^3 figure; only two sizes, 10^3 and 10^5.
    r.scale.retain(|p| p.cache != "sesscache");
    r.scale.push(ScalePoint {
        cache: "sesscache".into(),
        live: 1_000,
        flush_1k_us: 10.0,
        ..ScalePoint::default()
    });
    r.scale.push(ScalePoint {
        cache: "sesscache".into(),
        live: 100_000,
        flush_1k_us: 16.0,
        ..ScalePoint::default()
    });
    r.memory[0].overhead_bytes = 128.5;
    let md = markdown(&r);
    assert_eq!(
        target_status(&md, "W1 at 2 threads: sesscache ≥ 2× openssl"),
        "not met"
    );
    assert!(target_measured(&md, "W1 at 2 threads: sesscache ≥ 2× openssl").starts_with("1.50× "));
    assert_eq!(target_status(&md, "W3: sesscache lookup p99.9"), "not met");
    // W5: 3.8 / 1.5 is well above 0.9.
    assert_eq!(target_status(&md, "W5: sesscache oversubscribed"), "met");
    assert_eq!(
        target_status(&md, "W6: sesscache flush of 1k expired"),
        "not met"
    );
    let m = target_measured(&md, "W6: sesscache flush of 1k expired");
    assert!(
        m.starts_with("1.60× (10⁵: 16.0 µs / 10³: 10.0 µs; sizes differ"),
        "{m}"
    );
    assert_eq!(target_status(&md, "Memory: sesscache overhead"), "not met");
}

/// A machine floor as this 2-vCPU machine records it: W3's loop with no
/// cache reaches ~1 ms at p99.9.
fn floor(p999_ns: u64) -> MachineFloor {
    MachineFloor {
        threads: 1,
        op_ns: 250,
        window_ms: 1000,
        operations: 2_400_000,
        samples: 3_000_000,
        p50_ns: 270,
        p99_ns: 60_000,
        p999_ns,
        max_ns: 2_000_000,
        windows_p999_ns: vec![3 * p999_ns, p999_ns, p999_ns / 2],
    }
}

#[test]
fn the_machine_floor_is_reported_and_qualifies_the_w3_target() {
    let w3 = "W3: sesscache lookup p99.9 during the flush ≤ 10 µs";
    let mut r = fixture();
    assert!(
        !markdown(&r).contains("Machine floor"),
        "no floor, no paragraph"
    );

    // sesscache at 1.3 ms, the machine alone at 1.1 ms.
    r.flush_latency[0].median.p999_ns = 1_300_000;
    r.machine_floor = Some(floor(1_100_000));
    let md = markdown(&r);
    assert_eq!(
        target_status(&md, w3),
        "not met: within this machine's floor, which misses it too"
    );
    let m = target_measured(&md, w3);
    assert!(
        m.starts_with("1.30 ms") && m.contains("machine floor (the same loop, no cache) 1.10 ms"),
        "{m}"
    );
    assert!(
        md.contains(
            "5 met, 4 not met (1 of them within this machine's floor, which misses it too), 1 \
             not measured."
        ),
        "{md}"
    );
    let start = md.find("## W3").expect("a W3 section");
    let w3_text = &md[start..start + md[start..].find("\n## ").unwrap()];
    assert!(
        w3_text.contains("**Machine floor (no cache).**"),
        "{w3_text}"
    );
    assert!(
        w3_text.contains(
            "p50 270 ns, p99 60.0 µs, p99.9 1.10 ms, max 2.00 ms over 3,000,000 recorded \
             latencies (2,400,000 operations timed, the rest back-filled) (the window with the \
             median p99.9 of 3; each window's p99.9: 3.30 ms, 1.10 ms, 550 µs)."
        ),
        "{w3_text}"
    );
    // The table counts the lookups timed and the latencies recorded apart;
    // a results file from before the second count shows a dash for it.
    let sess_row = |md: &str| {
        let start = md.find("## W3").unwrap();
        md[start..]
            .lines()
            .find(|l| l.starts_with("| sesscache |"))
            .unwrap()
            .to_owned()
    };
    assert!(
        sess_row(&md).contains("| 500,000 | — |"),
        "{}",
        sess_row(&md)
    );
    r.flush_latency[0].median.recorded = 620_000;
    let md = markdown(&r);
    assert!(
        sess_row(&md).contains("| 500,000 | 620,000 |"),
        "{}",
        sess_row(&md)
    );
    r.machine_floor.as_mut().unwrap().operations = 0;
    assert!(
        markdown(&r).contains("over 3,000,000 recorded latencies (back-filled ones included)"),
        "a floor from before its operation count"
    );
    r.machine_floor.as_mut().unwrap().operations = 2_400_000;
    assert!(
        w3_text.contains("sesscache's p99.9 is 1.18× the floor's."),
        "{w3_text}"
    );

    // sesscache above the floor's highest window (3.3 ms): its own miss.
    r.flush_latency[0].median.p999_ns = 5_000_000;
    assert_eq!(target_status(&markdown(&r), w3), "not met");
    // A results file from before the floor kept its windows: the median
    // window alone decides.
    r.flush_latency[0].median.p999_ns = 1_000_000;
    let mut f = floor(1_100_000);
    f.windows_p999_ns.clear();
    r.machine_floor = Some(f);
    let md = markdown(&r);
    assert_eq!(
        target_status(&md, w3),
        "not met: within this machine's floor, which misses it too"
    );
    assert!(!md.contains("each window's"), "{md}");
    r.flush_latency[0].median.p999_ns = 1_300_000;

    // A floor under 10 µs: the miss is sesscache's own.
    r.machine_floor = Some(floor(5_000));
    let md = markdown(&r);
    assert_eq!(target_status(&md, w3), "not met");
    assert!(md.contains("5 met, 4 not met, 1 not measured."), "{md}");
    // Over 10 µs in the median window but not in every window: the machine
    // showed it can get under 10 µs, so the miss is sesscache's own too.
    let mut f = floor(12_000);
    f.windows_p999_ns = vec![15_000, 12_000, 9_000];
    r.machine_floor = Some(f);
    assert_eq!(target_status(&markdown(&r), w3), "not met");

    // A met target stays met whatever the floor.
    r.flush_latency[0].median.p999_ns = 8_000;
    r.machine_floor = Some(floor(1_100_000));
    assert_eq!(target_status(&markdown(&r), w3), "met");

    // The plot shows the floor beside the caches.
    let dir = scratch_dir("floor");
    plots::draw_all(&r, &dir).expect("plots draw");
    let svg = std::fs::read_to_string(dir.join("w3-latency.svg")).unwrap();
    assert!(svg.contains("machine floor") && svg.contains("sesscache"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_memory_breakdown_adds_up_to_the_figure() {
    let mut r = fixture();
    assert!(
        !markdown(&r).contains("Where the bytes go"),
        "no breakdown in the file, no table"
    );
    // sesscache: 96.5 + 32 + 300 = 428.5 bytes per session, of which
    // 336 + 64 in listed blocks and 20 in others: 8.5 not seen.
    r.memory[0].blocks = vec![
        BlockClass {
            bytes: 336,
            per_session: 1.0,
        },
        BlockClass {
            bytes: 32,
            per_session: 2.0,
        },
    ];
    r.memory[0].other_block_bytes = 20.0;
    r.memory[0].blocks_are_chunks = true;
    let md = markdown(&r);
    assert!(
        md.contains("malloc chunks, so headers and rounding included"),
        "{md}"
    );
    assert!(md.contains("Where the bytes go"), "{md}");
    let row = cells(row(&md, "## Memory per session", "sesscache"));
    // The first sesscache row is the overhead table's; the breakdown's is
    // the one with five cells.
    assert_eq!(row.len(), 3, "{row:?}");
    let start = md.find("Where the bytes go").unwrap();
    let line = md[start..]
        .lines()
        .find(|l| l.starts_with("| sesscache |"))
        .expect("a breakdown row for sesscache");
    assert_eq!(
        cells(line),
        [
            "sesscache",
            "336 B × 1.00, 32 B × 2.00",
            "20.0",
            "8.5",
            "428.5"
        ]
    );
    // openssl has no breakdown (C's malloc): no row.
    assert!(!md[start..].contains("| openssl |"), "{md}");

    // Sizes asked for rather than chunks: the residual may be negative,
    // and is shown as it is.
    r.memory[0].blocks_are_chunks = false;
    r.memory[0].other_block_bytes = 30.0;
    let md = markdown(&r);
    assert!(md.contains("malloc's headers are not in them"), "{md}");
    let start = md.find("Where the bytes go").unwrap();
    let line = md[start..]
        .lines()
        .find(|l| l.starts_with("| sesscache |"))
        .unwrap();
    assert_eq!(cells(line)[3], "-1.5", "{line}");
}

/// The text of the section starting at the heading `section`, up to the
/// next heading.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading:?} in:\n{md}"));
    let rest = &md[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn w5_is_compared_with_its_reference_measured_alongside() {
    let mut r = fixture();
    // sesscache's W1 at 2 threads is 4.0 and its W5 3.8 (0.95×); the
    // reference measured alongside reads 4.5 (median), and the ratio is
    // the median of the pairs measured back to back: 0.85×.
    // openssl's W5 is 0.2 against a reference of 1.0.
    for (cache, mops) in [("sesscache", vec![4.4, 4.5, 4.6]), ("openssl", vec![1.0])] {
        r.throughput.push(Throughput {
            workload: W5_REFERENCE.into(),
            cache: cache.into(),
            threads: 2,
            runs_mops: mops,
            handoff_ns: vec![],
        });
    }
    let md = markdown(&r);
    let w5 = "W5: sesscache oversubscribed";
    assert_eq!(target_status(&md, w5), "not met");
    let m = target_measured(&md, w5);
    assert!(
        m.starts_with("0.85×, the median of the ratios of the runs measured back to back (W5 at 8 threads: 3.80 Mops/s; W1 at 2 threads measured alternately with it: 4.50 Mops/s; the W1 section's 2-thread cell, measured earlier: 4.00 Mops/s)"),
        "{m}"
    );
    // The comparison table is in the W5 section, one row per cache with a
    // reference, each divided by its own reference.
    let w5_section = section(&md, "## W5 throughput");
    assert!(w5_section.contains("W5 / one per core"), "{w5_section}");
    assert!(
        w5_section.contains("alternating run by run"),
        "{w5_section}"
    );
    let cmp = "W5 / one per core";
    assert_eq!(
        cells(row(&md, cmp, "sesscache")),
        [
            "sesscache",
            "4.50 (4.40–4.60) at 2 threads",
            "3.80 (3.70–3.90) at 8 threads",
            "0.85×"
        ]
    );
    let o = cells(row(&md, cmp, "openssl"));
    assert_eq!((o[1], o[3]), ("1.00 at 2 threads", "0.20×"), "{o:?}");
    // The reference has no section or plot of its own.
    assert!(!md.contains("## W5-reference"), "{md}");
    let dir = scratch_dir("w5-reference");
    let written = plots::draw_all(&r, &dir).expect("plots draw");
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("reference")), "{names:?}");

    // A run without W1 at 2 threads (`--threads 1,4`) still has its target.
    let mut no_w1 = r.clone();
    no_w1
        .throughput
        .retain(|t| !(t.workload == "W1" && t.threads == 2));
    let m = target_measured(&markdown(&no_w1), w5);
    assert!(
        m.starts_with("0.85×, ") && !m.contains("measured earlier"),
        "{m}"
    );

    // A reference with no usable run is not replaced by the older W1 cell.
    let mut unusable = r.clone();
    for t in &mut unusable.throughput {
        if t.workload == W5_REFERENCE && t.cache == "sesscache" {
            t.runs_mops = vec![f64::NAN];
        }
    }
    let md = markdown(&unusable);
    assert_eq!(target_status(&md, w5), "not measured");
    assert!(target_measured(&md, w5).contains("W5 reference has no usable run"));

    // Without any reference (an older results file) the target falls back to
    // W1 at 2 threads, and the W5 section says so.
    r.throughput.retain(|t| t.workload != W5_REFERENCE);
    let md = markdown(&r);
    assert_eq!(target_status(&md, w5), "met");
    assert!(target_measured(&md, w5).contains("; W1 at 2 threads: 4.00 Mops/s)"));
    assert!(section(&md, "## W5 throughput").contains("No reference was measured alongside W5"));
}

#[test]
fn a_single_run_of_each_is_said_to_be_one_pair() {
    let mut r = fixture();
    r.throughput.push(Throughput {
        workload: W5_REFERENCE.into(),
        cache: "sesscache".into(),
        threads: 2,
        runs_mops: vec![4.0],
        handoff_ns: vec![],
    });
    let md = markdown(&r);
    let w5_section = section(&md, "## W5 throughput");
    assert!(
        w5_section.contains("one run of each, the reference first"),
        "{w5_section}"
    );
    assert!(!w5_section.contains("alternating"), "{w5_section}");
}

#[test]
fn w6_says_how_many_rounds_each_flush_figure_is_the_median_of() {
    let mut r = fixture();
    let md = markdown(&r);
    assert!(
        !md.contains("median of its cache's rounds"),
        "older files: no line"
    );
    for p in &mut r.scale {
        p.flushes_us = if p.cache == "sesscache" {
            vec![1.0; 7]
        } else {
            vec![2.0]
        };
    }
    let md = markdown(&r);
    let w6 = section(&md, "## W6 scale");
    let line = w6
        .lines()
        .find(|l| l.contains("median of its cache's rounds"))
        .unwrap_or_else(|| panic!("{w6}"));
    assert!(line.contains(": sesscache 7, "), "{line}");
    assert!(line.contains(" 1"), "{line}");
    // Files without per-round lookups took the lookups' mean: the line
    // does not call it a median; nor does it speak of store slices.
    assert!(line.starts_with("Each flush figure is"), "{line}");
    assert!(!w6.contains("equal slices"), "{w6}");
    for p in &mut r.scale {
        p.lookups_ns = vec![3.0; p.flushes_us.len()];
    }
    let md = markdown(&r);
    assert!(
        section(&md, "## W6 scale").contains("Each flush and lookup figure is the median"),
        "{md}"
    );
}

/// With several runs (`--full`, `--repeats`), each W3 and W4 figure is
/// the median of the runs', shown with their range; double takes are
/// summed, so one in any run shows; W6's stores and rounds likewise.
#[test]
fn repeated_w3_w4_and_w6_figures_are_medians_with_their_range() {
    let mut r = fixture();
    let run = |p999_ns, flush_ms| FlushRun {
        lookups: 1_000,
        recorded: 1_000,
        p50_ns: 100,
        p99_ns: 1_000,
        p999_ns,
        max_ns: 2 * p999_ns,
        flush_ms,
        flushed: 200_000,
    };
    // A run that timed no lookup has no latency figures: it must neither
    // pull the median down nor widen the range.
    let untimed = FlushRun {
        lookups: 0,
        recorded: 0,
        p50_ns: 0,
        p99_ns: 0,
        p999_ns: 0,
        max_ns: 0,
        flush_ms: 50.0,
        flushed: 200_000,
    };
    let runs = vec![
        run(9_000, 30.0),
        untimed.clone(),
        run(30_000, f64::NAN),
        untimed,
        run(7_000, 40.0),
    ];
    let sess = FlushLatency::from_runs("sesscache", (200_000, 100_000), 1, runs.clone());
    assert_eq!(
        (
            sess.median.p999_ns,
            sess.median.max_ns,
            sess.median.p50_ns,
            sess.median.lookups,
            sess.median.flushed
        ),
        (9_000, 18_000, 100, 1_000, 200_000)
    );
    assert_eq!(sess.median.flush_ms, 45.0, "the NaN flush is left out");
    assert_eq!(
        sess.runs.iter().map(|r| r.p999_ns).collect::<Vec<_>>(),
        runs.iter().map(|r| r.p999_ns).collect::<Vec<_>>(),
        "every run is kept, in order"
    );
    r.flush_latency.retain(|f| f.cache != "sesscache");
    r.flush_latency.insert(0, sess);
    let md = markdown(&r);
    let s = cells(row(&md, "## W3 flush under load", "sesscache"));
    assert_eq!(s[8], "9.0 µs (7.0 µs–30.0 µs)", "{s:?}");
    assert_eq!(s[9], "18.0 µs (14.0 µs–60.0 µs)", "{s:?}");
    assert_eq!(s[10], "45.0 ms (30.0 ms–50.0 ms)", "{s:?}");
    assert!(section(&md, "## W3 flush under load").contains("ran W3 5 times"));
    // No run timed a lookup: no latency figure at all.
    let none = FlushLatency::from_runs(
        "moka",
        (200_000, 100_000),
        1,
        vec![runs[1].clone(), runs[1].clone()],
    );
    assert_eq!((none.median.lookups, none.median.p999_ns), (0, 0));
    r.flush_latency.push(none);
    let md = markdown(&r);
    let m = cells(row(&md, "## W3 flush under load", "moka"));
    assert_eq!(
        &m[6..11],
        ["—", "—", "—", "—", "50.0 ms (50.0 ms–50.0 ms)"],
        "{m:?}"
    );
    // The target reads the median.
    assert!(
        target_measured(&md, "W3: sesscache lookup p99.9").starts_with("9.0 µs"),
        "{}",
        target_measured(&md, "W3: sesscache lookup p99.9")
    );

    let tk = |mops, double_takes| Tickets {
        cache: "naive".into(),
        threads: 2,
        tickets: 1_000,
        taken: 1_000 + double_takes,
        double_takes,
        mops,
        runs_mops: vec![mops],
    };
    let naive = Tickets::from_runs(&[tk(1.0, 0), tk(3.0, 2), tk(2.0, 0), tk(f64::NAN, 0)]);
    assert_eq!(
        (naive.runs(), naive.taken, naive.double_takes, naive.tickets),
        (4, 4_002, 2, 1_000)
    );
    assert_eq!(naive.mops, 2.0, "the median of the finite runs");
    r.tickets.retain(|t| t.cache != "naive");
    r.tickets.push(naive);
    let md = markdown(&r);
    assert_eq!(
        cells(row(&md, "## W4 tickets", "naive")),
        [
            "naive",
            "2",
            "4",
            "1,000",
            "4,002",
            "**2**",
            "2.00 (1.00–3.00)"
        ]
    );
    assert!(section(&md, "## W4 tickets").contains("summed over the runs"));

    for p in &mut r.scale {
        if p.cache == "sesscache" && p.live == 1_000 {
            p.store_ns = 12.0;
            p.stores_ns = vec![10.0, 14.0, 12.0];
            p.lookups_ns = vec![5.0];
        }
    }
    let md = markdown(&r);
    let w6 = section(&md, "## W6 scale");
    assert!(md.contains("| sesscache | 12.0 (10.0–14.0) |"), "{w6}");
    assert!(
        w6.contains("timed as they were stored in 3 equal slices"),
        "{w6}"
    );

    // Figures that measured nothing are written as null and read back as
    // NaN: the file loads again.
    r.tickets[0].runs_mops = vec![1.0, f64::NAN, f64::INFINITY];
    r.scale[0].lookups_ns = vec![f64::NAN];
    let json = serde_json::to_string(&r).expect("serializes");
    let back: Results = serde_json::from_str(&json).expect("loads again");
    assert_eq!(back.tickets[0].runs_mops[0], 1.0);
    assert!(back.tickets[0].runs_mops[1..].iter().all(|m| m.is_nan()));
    assert!(back.scale[0].lookups_ns[0].is_nan());
}

#[test]
fn missing_data_is_not_measured() {
    let mut r = fixture();
    r.throughput.retain(|t| t.cache != "sesscache");
    r.flush_latency.retain(|f| f.cache != "openssl");
    r.scale
        .retain(|p| !(p.cache == "sesscache" && p.live == 1_000_000));
    r.memory.clear();
    let md = markdown(&r);
    for target in [
        "W1 at 2 threads: sesscache ≥ 2× openssl",
        "W1 at 2 threads: sesscache ≥ 2× rustls",
        "W1 at 2 threads: sesscache ≥ 1.5× moka",
        "W1 at 2 threads: sesscache ≥ 0.5× the limit",
        "W3: sesscache p99.9 ≥ 100× lower than openssl's",
        "W5: sesscache oversubscribed",
        "W6: sesscache flush of 1k expired",
        "W7: sesscache with adversarial ids",
        "Memory: sesscache overhead",
    ] {
        assert_eq!(target_status(&md, target), "not measured", "{target}");
        assert!(target_measured(&md, target).starts_with("— ("), "{target}");
    }
    // The W3 absolute target still reads sesscache's own figure.
    assert_eq!(target_status(&md, "W3: sesscache lookup p99.9"), "met");
    // No sesscache: no "sesscache / x" ratios.
    assert!(!md.contains("| sesscache / openssl |"));
    assert!(md.contains("| openssl / limit |"));
    assert!(!md.contains("## Memory per session"));
}

#[test]
fn nan_zero_and_odd_values_do_not_panic() {
    let r = Results {
        throughput: vec![
            Throughput {
                workload: "W1".into(),
                cache: "sesscache".into(),
                threads: 2,
                runs_mops: vec![f64::NAN, 2.0],
                handoff_ns: vec![],
            },
            Throughput {
                workload: "W1".into(),
                cache: "openssl".into(),
                threads: 2,
                runs_mops: vec![0.0],
                handoff_ns: vec![],
            },
            Throughput {
                workload: "W1".into(),
                cache: "moka".into(),
                threads: 2,
                runs_mops: vec![f64::NAN],
                handoff_ns: vec![],
            },
            Throughput {
                workload: "W9-custom".into(),
                cache: "other | cache".into(),
                threads: 0,
                runs_mops: vec![f64::INFINITY],
                handoff_ns: vec![],
            },
        ],
        flush_latency: vec![FlushLatency {
            cache: "sesscache".into(),
            ..FlushLatency::default()
        }],
        tickets: vec![Tickets::default()],
        scale: vec![ScalePoint {
            cache: "sesscache".into(),
            live: 1000,
            store_ns: f64::NAN,
            lookup_ns: -1.0,
            flush_1k_us: 0.0,
            flushes_us: vec![f64::INFINITY],
            stores_ns: vec![f64::NAN, 1.0],
            lookups_ns: vec![],
        }],
        memory: vec![Memory {
            cache: "sesscache".into(),
            sessions: 0,
            overhead_bytes: f64::NAN,
            ..Memory::default()
        }],
        ..Results::default()
    };
    let md = markdown(&r);
    // The NaN run is dropped; 2.0 remains.
    assert_eq!(
        cells(row(&md, "## W1 throughput", "sesscache")),
        ["sesscache", "2.00"]
    );
    assert_eq!(cells(row(&md, "## W1 throughput", "moka")), ["moka", "—"]);
    // A zero denominator gives no ratio and no target verdict.
    assert_eq!(
        cells(row(&md, "## W1 throughput", "sesscache / openssl")),
        ["sesscache / openssl", "—"]
    );
    assert_eq!(
        target_status(&md, "W1 at 2 threads: sesscache ≥ 2× openssl"),
        "not measured"
    );
    assert_eq!(
        target_status(&md, "W1 at 2 threads: sesscache ≥ 1.5× moka"),
        "not measured"
    );
    // A W3 entry without lookups is not a measurement.
    assert_eq!(
        target_status(&md, "W3: sesscache lookup p99.9"),
        "not measured"
    );
    assert!(md.contains("## W9-custom throughput"));
    assert!(md.contains("other \\| cache"));
    assert_eq!(
        target_status(&md, "Memory: sesscache overhead"),
        "not measured"
    );

    let dir = scratch_dir("odd");
    plots::draw_all(&r, &dir).expect("odd values still draw");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn empty_results_render() {
    let r = Results::default();
    let md = markdown(&r);
    assert!(md.starts_with("# sesscache harness report"));
    assert!(md.contains("No caches recorded."));
    assert!(md.contains("## Targets"));
    assert!(md.contains("0 met, 0 not met, 10 not measured."));
    assert!(!md.contains("| met |"));
    assert!(md.contains("## Notes\n\nNone.\n"));
    // Results from before the machine's page settings were recorded say
    // nothing about them, not that they were unset.
    assert!(md.contains("transparent huge pages: —; GLIBC_TUNABLES: —\n"));

    let dir = scratch_dir("empty");
    let written = plots::draw_all(&r, &dir).expect("nothing to draw is fine");
    assert!(written.is_empty(), "{written:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory under the system temp dir.
fn scratch_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "sesscache-report-test-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn plots_are_written() {
    let dir = scratch_dir("plots");
    let written = plots::draw_all(&fixture(), &dir).expect("plots draw");
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "w1-throughput.svg",
            "w5-throughput.svg",
            "w7-random-throughput.svg",
            "w7-adversarial-throughput.svg",
            "w3-latency.svg",
            "w6-scale.svg",
            "memory.svg",
        ],
        "W2 has no usable cell, so no W2 plot"
    );
    for p in &written {
        assert!(p.starts_with(&dir));
        let svg = std::fs::read_to_string(p).expect("an SVG file");
        let head = svg.trim_start();
        assert!(
            head.starts_with("<svg") || head.starts_with("<?xml"),
            "{}: {}",
            p.display(),
            &svg[..svg.len().min(80)]
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{}", p.display());
        assert!(svg.len() > 500, "{}", p.display());
    }
    let w1 = std::fs::read_to_string(dir.join("w1-throughput.svg")).unwrap();
    for cache in ["sesscache", "openssl", "moka", "limit"] {
        assert!(w1.contains(cache), "legend names {cache}");
    }
    let w3 = std::fs::read_to_string(dir.join("w3-latency.svg")).unwrap();
    assert!(w3.contains("p99.9") && w3.contains("openssl"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_round_trip() {
    let r = fixture();
    let json = serde_json::to_string_pretty(&r).expect("serializes");
    let back: Results = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, r);
    let empty: Results = serde_json::from_str(&serde_json::to_string(&Results::default()).unwrap())
        .expect("an empty run round-trips");
    assert_eq!(empty, Results::default());
}

/// The Redis tier's cells: in the W1 and W4 tables, with their ratio to
/// plain sesscache and the tier's counters in a section of their own.
#[test]
fn redis_tier_section() {
    let tp = |cache: &str, threads, mops| Throughput {
        workload: "W1".into(),
        cache: cache.into(),
        threads,
        runs_mops: vec![mops],
        handoff_ns: vec![],
    };
    let tk = |cache: &str, mops, double_takes| Tickets {
        cache: cache.into(),
        threads: 2,
        tickets: 50_000,
        taken: 50_000,
        double_takes,
        mops,
        runs_mops: vec![mops],
    };
    let tier = |workload: &str, threads, errors| TierCell {
        workload: workload.into(),
        cache: "sesscache+redis".into(),
        threads,
        runs: 1,
        counts: TierCounts {
            writes: 20_000,
            reads: 30_000,
            read_hits: 25_000,
            deletes: 1_000,
            errors,
            skipped: 0,
            invalidations: 900,
        },
    };
    let r = Results {
        throughput: vec![
            tp("sesscache", 1, 4.0),
            tp("sesscache+redis", 1, 0.2),
            tp("sesscache", 2, 6.0),
            tp("sesscache+redis", 2, 0.3),
        ],
        tickets: vec![tk("sesscache", 5.0, 0), tk("sesscache+redis", 0.1, 0)],
        tiers: vec![tier("W4", 2, 3), tier("W1", 2, 0), tier("W1", 1, 0)],
        ..Results::default()
    };
    let md = markdown(&r);
    let w1 = "## W1 throughput";
    assert_eq!(
        cells(row(&md, w1, "sesscache+redis")),
        ["sesscache+redis", "0.200", "0.300"]
    );
    assert_eq!(
        cells(row(&md, w1, "sesscache / sesscache+redis")),
        ["sesscache / sesscache+redis", "20.0×", "20.0×"]
    );
    assert_eq!(
        cells(row(&md, "## W4 tickets", "sesscache+redis")),
        [
            "sesscache+redis",
            "2",
            "1",
            "50,000",
            "50,000",
            "0",
            "0.100"
        ]
    );
    let sec = "## Redis tier";
    let rows: Vec<Vec<&str>> = md[md.find(sec).expect("a tier section")..]
        .lines()
        .skip_while(|l| !l.starts_with("| sesscache+redis |"))
        .take_while(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "sesscache+redis",
                "W1",
                "1",
                "0.200",
                "4.00",
                "0.050×",
                "20,000",
                "30,000",
                "25,000",
                "1,000",
                "0",
                "0",
                "900",
                "—"
            ],
            vec![
                "sesscache+redis",
                "W1",
                "2",
                "0.300",
                "6.00",
                "0.050×",
                "20,000",
                "30,000",
                "25,000",
                "1,000",
                "0",
                "0",
                "900",
                "—"
            ],
            vec![
                "sesscache+redis",
                "W4",
                "2",
                "0.100",
                "5.00",
                "0.020×",
                "20,000",
                "30,000",
                "25,000",
                "1,000",
                "**3**",
                "0",
                "900",
                "0"
            ],
        ],
        "{md}"
    );
    // No tier cells, no section (older results files).
    assert!(!markdown(&fixture()).contains(sec));
}

/// The hand-off measured before each repetition is tabled beside the
/// throughput, cell by cell; without it there is no such table.
#[test]
fn the_hand_off_before_each_cell_is_reported() {
    let mut r = fixture();
    assert!(!markdown(&r).contains("hand-off (ns)"), "nothing measured");
    let cell = r
        .throughput
        .iter_mut()
        .find(|t| t.workload == "W1" && t.cache == "sesscache" && t.threads == 2)
        .expect("a W1 sesscache cell at 2 threads");
    cell.handoff_ns = vec![165.0, 28.0, 30.0];
    let md = markdown(&r);
    let start = md.find("## W1 throughput").unwrap();
    let section = &md[start..start + 1 + md[start + 1..].find("\n## ").unwrap()];
    let table = &section[section
        .find("| hand-off (ns) |")
        .unwrap_or_else(|| panic!("no hand-off table in:\n{section}"))..];
    let header = cells(table.lines().next().unwrap());
    let row = cells(
        table
            .lines()
            .find(|l| l.starts_with("| sesscache |"))
            .unwrap(),
    );
    let col = header.iter().position(|h| *h == "2 threads").unwrap();
    assert_eq!(row[col], "30 (28–165)", "{table}");
    // Cells without the measurement show a dash.
    assert_eq!(row[1], "—", "{table}");
}

/// A run whose caches all skip W3 (rustls alone) still measured the
/// machine's floor: the W3 section reports it, with no table.
#[test]
fn the_machine_floor_is_reported_without_w3_entries() {
    let mut r = fixture();
    r.flush_latency.clear();
    r.machine_floor = Some(floor(1_100_000));
    let md = markdown(&r);
    let start = md.find("## W3").expect("a W3 section");
    let w3_text = &md[start..start + md[start..].find("\n## ").unwrap()];
    assert!(
        w3_text.contains("**Machine floor (no cache).**"),
        "{w3_text}"
    );
    assert!(!w3_text.contains("| cache |"), "{w3_text}");
}

/// Cells measured alternately are compared pair by pair: when the machine
/// changes state partway (3 of 5 adversarial runs slow, 2 of 5 random
/// ones), the ratio of the medians says 0.57×, the pairs about 0.94×.
#[test]
fn alternating_cells_are_compared_by_their_back_to_back_pairs() {
    let mut r = fixture();
    r.throughput
        .retain(|t| !t.workload.starts_with("W7") || t.cache != "sesscache");
    for (workload, runs) in [
        ("W7-random", vec![9.64, 10.09, 9.11, 5.51, 5.06]),
        ("W7-adversarial", vec![9.08, 9.28, 5.19, 5.35, 5.38]),
    ] {
        r.throughput.push(Throughput {
            workload: workload.into(),
            cache: "sesscache".into(),
            threads: 2,
            runs_mops: runs,
            handoff_ns: vec![],
        });
    }
    let md = markdown(&r);
    let w7 = "W7: sesscache with adversarial ids";
    let m = target_measured(&md, w7);
    assert!(m.starts_with("0.94× (the median of the ratios"), "{m}");
    assert_eq!(target_status(&md, w7), "met");
}
