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

/// Runs the harness with `args` (and `--out` into `out`, unless it
/// redraws), with backtraces asked for; returns whether it succeeded and
/// its stderr.
fn run(args: &[&str], out: &std::path::Path) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesscache-harness"));
    cmd.args(args);
    if !args.contains(&"--redraw") {
        cmd.arg("--out").arg(out);
    }
    let run = cmd
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
        // A megabyte per session for W3's 1.1 million: no machine here has
        // that memory.
        (
            &["--value-bytes", "1048576", "--workloads", "w3"],
            "would need about",
        ),
        (&["--cell-ms", "600001"], "--cell-ms must be between"),
        (&["--repeats", "0"], "--repeats must be between"),
        (&["--repeats", "101"], "--repeats must be between"),
        (&["--workloads", "w9"], "w9"),
        (&["--caches", "memcached"], "unknown cache \"memcached\""),
        (&["--caches", ""], "unknown cache \"\""),
        (&["--redraw", &missing], "reading"),
        (&["--redraw", &garbage], "is not a harness results.json"),
        // A redraw runs nothing: run options with it are a mistake.
        (
            &["--redraw", &garbage, "--threads", "2"],
            "cannot be used with '--threads",
        ),
        (
            &["--redraw", &garbage, "--full"],
            "cannot be used with '--full",
        ),
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

/// An output directory that cannot be made fails the run before anything
/// is measured: here a cell of ten minutes, which the run must not reach.
#[test]
fn a_bad_output_directory_fails_before_the_run() {
    let dir = scratch("bad-out");
    let file = dir.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesscache-harness"))
        .args(["--workloads", "w1", "--caches", "naive", "--threads", "1"])
        .args(["--cell-ms", "600000", "--out"])
        .arg(file.join("x"))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the run started measuring with an unusable --out");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.starts_with("error: creating "), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs that start in the same second write to directories of their own.
#[test]
fn runs_in_the_same_second_do_not_share_a_directory() {
    let dir = scratch("same-second");
    let out = dir.join("out");
    for _ in 0..3 {
        let run = Command::new(env!("CARGO_BIN_EXE_sesscache-harness"))
            .args(["--workloads", "w4", "--caches", "naive", "--threads", "1"])
            .args(["--cell-ms", "1", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let mut runs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 3, "{runs:?}");
    for r in &runs {
        assert!(out.join(r).join("results.json").exists(), "{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
