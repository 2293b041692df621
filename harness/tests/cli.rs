//! Bad command lines: each is refused before anything runs, with one clear
//! error line on stderr (no panic, no backtrace even under
//! `RUST_BACKTRACE=1`) and a failing exit status, and writes no results.

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory of this test's own, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sesscache-harness-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the harness with `args` (and `--out` into `out`), with backtraces
/// asked for; returns whether it succeeded and its stderr.
fn run(args: &[&str], out: &std::path::Path) -> (bool, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_sesscache-harness"))
        .args(args)
        .arg("--out")
        .arg(out)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn bad_arguments_are_one_clear_error_and_run_nothing() {
    let dir = scratch("bad");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let garbage = garbage.to_str().unwrap().to_owned();
    let missing = dir.join("missing.json");
    let missing = missing.to_str().unwrap().to_owned();
    // (arguments, what stderr must say)
    let cases: &[(&[&str], &str)] = &[
        (
            &["--threads", "0"],
            "--threads needs positive thread counts",
        ),
        (
            &["--threads", "2,0"],
            "--threads needs positive thread counts",
        ),
        (&["--threads", "5000"], "at most 4096 threads"),
        (&["--threads", "-1"], "invalid value '-1' for '--threads"),
        (&["--threads", "two"], "invalid value 'two' for '--threads"),
        (&["--repeats", "-3"], "invalid value '-3' for '--repeats"),
        (&["--cell-ms", "-3"], "invalid value '-3' for '--cell-ms"),
        (&["--value-bytes", "0"], "--value-bytes must be between"),
        (
            &["--value-bytes", "2000000"],
            "--value-bytes must be between",
        ),
        (&["--cell-ms", "0"], "--cell-ms must be between"),
        (&["--cell-ms", "600001"], "--cell-ms must be between"),
        (&["--repeats", "0"], "--repeats must be between"),
        (&["--repeats", "101"], "--repeats must be between"),
        (&["--workloads", "w9"], "w9"),
        (&["--caches", "memcached"], "unknown cache \"memcached\""),
        (&["--caches", ""], "unknown cache \"\""),
        (&["--redraw", &missing], "reading"),
        (&["--redraw", &garbage], "is not a harness results.json"),
        // A Redis URL that nothing in the run would use.
        (
            &[
                "--redis-url",
                "redis://127.0.0.1:1/0",
                "--caches",
                "sesscache",
            ],
            "--redis-url: ",
        ),
        (
            &["--redis-url", "redis://127.0.0.1:1/0", "--workloads", "w2"],
            "--redis-url: ",
        ),
    ];
    for (args, says) in cases {
        let out = dir.join("out");
        let (ok, stderr) = run(args, &out);
        assert!(!ok, "{args:?} succeeded: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        for noise in ["panicked", "backtrace", "Backtrace", "RUST_BACKTRACE"] {
            assert!(!stderr.contains(noise), "{args:?}: {stderr}");
        }
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        // clap adds a usage line and a hint to its own errors.
        assert!(
            lines.len() <= 4 && lines[0].starts_with("error: "),
            "{args:?}: {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote results");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
