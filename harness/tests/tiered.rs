//! The two-machine Redis tier driver (`sesscache+redis`) against a private
//! `redis-server`: its fast prefill, its fleet, and its place in the suite
//! (W1 and W4 only, with the tier's counters recorded). Without
//! `redis-server` these tests fail, saying to install it.
#![cfg(feature = "redis")]

use std::time::Duration;

use indicatif::ProgressBar;
use sesscache_harness::cache::{Config, Driver, Value};
use sesscache_harness::drivers::{self, tiered};
use sesscache_harness::ids::{random_ids, value};
use sesscache_harness::results::Results;
use sesscache_harness::workloads::{self, Suite, Workload};

const START: u64 = 1_700_000_000;

fn driver() -> Box<dyn Driver> {
    let d = drivers::suite(None)
        .into_iter()
        .find(|d| d.name() == tiered::NAME)
        .expect("the tiered driver is in the suite");
    if let Err(why) = d.prepare() {
        panic!("{why}\nInstall redis-server (apt-get install redis-server; CI installs it).");
    }
    d
}

#[test]
fn takes_part_in_w1_and_w4_only() {
    let d = driver();
    assert_eq!(d.workloads(), [Workload::W1, Workload::W4]);
    assert!(d.traits().second_tier && d.traits().single_use);
    let setup = d.prepare().unwrap().expect("says what it uses");
    assert!(setup.starts_with("Redis "), "{setup}");
}

/// The fast prefill leaves each machine half the sessions locally and the
/// other half in Redis, in the layout the tier reads back: every handle, on
/// either machine, finds every session, the other machine's through Redis.
#[test]
fn prefill_is_found_on_both_machines() {
    let d = driver();
    let cache = d.build(&Config {
        capacity: 0,
        timeout: 7200,
        start: START,
        sessions: 0,
    });
    let ids = random_ids(1000, 5);
    let v: Value = value(300);
    cache.prefill(&ids, &v, START, 7200);
    assert_eq!(cache.len(), 1000, "half on each machine");
    let zero = cache.tier_stats().expect("a tier");
    assert_eq!(
        (zero.writes, zero.reads),
        (0, 0),
        "the prefill bypasses the counters"
    );
    let mut a = cache.handle();
    let mut b = cache.handle();
    for id in &ids {
        assert!(a.lookup(id, START), "machine A finds it");
        assert!(b.lookup(id, START), "machine B finds it");
    }
    let t = cache.tier_stats().unwrap();
    assert_eq!((t.reads, t.read_hits, t.errors), (1000, 1000, 0), "{t:?}");
    assert_eq!(cache.len(), 2000, "both machines now hold every session");
    // A store on one machine is taken once, on the other.
    let fresh = [7u8; 32];
    a.store(&fresh, &v, START, 7200);
    assert!(b.take(&fresh, START));
    assert!(!a.take(&fresh, START), "single use across the fleet");
}

/// A small suite: the tiered driver runs in W1 and W4, not in W2, with
/// the tier's counters recorded and no double take.
#[test]
fn suite_runs_it_in_w1_and_w4_with_tier_counts() {
    let drivers: Vec<Box<dyn Driver>> = drivers::suite(None)
        .into_iter()
        .filter(|d| d.name() == "sesscache" || d.name() == tiered::NAME)
        .collect();
    assert_eq!(drivers.len(), 2);
    for d in &drivers {
        d.prepare().unwrap_or_else(|why| {
            panic!("{why}\nInstall redis-server (apt-get install redis-server).")
        });
    }
    let suite = Suite {
        full: false,
        threads: vec![2],
        repeats: 1,
        cell: Duration::from_millis(20),
        value: value(300),
        drivers,
        workloads: vec![Workload::W1, Workload::W2, Workload::W4],
        start: START,
        progress: ProgressBar::hidden(),
    };
    // W1 and W2 for both at one thread count, W4 for both: 2 + 1 + 2.
    assert_eq!(suite.steps(), 5);
    let mut results = Results::default();
    workloads::run(&suite, &mut results);

    let cells = |w: &str| -> Vec<&str> {
        results
            .throughput
            .iter()
            .filter(|t| t.workload == w)
            .map(|t| t.cache.as_str())
            .collect()
    };
    assert_eq!(cells("W1"), ["sesscache", tiered::NAME]);
    assert_eq!(cells("W2"), ["sesscache"]);
    let tickets = results
        .tickets
        .iter()
        .find(|t| t.cache == tiered::NAME)
        .expect("a W4 entry");
    assert_eq!(tickets.taken, tickets.tickets, "{tickets:?}");
    assert_eq!(tickets.double_takes, 0, "{tickets:?}");
    let tiers: Vec<(&str, usize)> = results
        .tiers
        .iter()
        .map(|t| (t.workload.as_str(), t.threads))
        .collect();
    assert_eq!(tiers, [("W1", 2), ("W4", 2)]);
    assert!(results.tiers.iter().all(|t| t.cache == tiered::NAME));
    let w4 = &results.tiers[1].counts;
    assert_eq!(w4.writes, tickets.tickets, "every ticket written through");
    assert_eq!(w4.errors, 0, "{w4:?}");
    assert!(
        results
            .notes
            .iter()
            .any(|n| n == "sesscache+redis runs in W1, W4 only: left out of W2"),
        "{:?}",
        results.notes
    );
    let md = sesscache_harness::report::markdown(&results);
    assert!(md.contains("## Redis tier"), "{md}");
    assert!(md.contains("| sesscache / sesscache+redis |"), "{md}");
}

/// A scratch directory for a harness run.
fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sesscache-tiered-test-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Without a redis-server (and no --redis-url) the driver is skipped with
/// a one-line note, on the terminal and in the report: not a panic, not a
/// silent drop.
#[test]
fn no_redis_server_skips_with_a_note() {
    let out = scratch("no-server");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sesscache-harness"))
        .env(tiered::SERVER_ENV, "/nonexistent/redis-server")
        .args(["--caches", "sesscache,sesscache+redis", "--workloads", "w4"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let note = "sesscache+redis skipped: no redis-server binary found";
    let line = stderr
        .lines()
        .find(|l| l.contains(note))
        .unwrap_or_else(|| panic!("a note on the terminal: {stderr}"));
    assert!(line.contains("install redis-server"), "{line}");
    let dir = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let notes = &md[md.find("## Notes").expect("notes")..];
    assert!(notes.contains(note), "{notes}");
    assert!(
        md.contains("| sesscache | 2 |"),
        "sesscache still ran: {md}"
    );
    assert!(!md.contains("| sesscache+redis |"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A --redis-url that does not answer is an error, not a skip.
#[test]
fn unreachable_redis_url_is_an_error() {
    let out = scratch("bad-url");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sesscache-harness"))
        .args(["--caches", "sesscache+redis", "--workloads", "w1"])
        .args(["--redis-url", "redis://127.0.0.1:1/"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("cannot reach --redis-url redis://127.0.0.1:1/"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
