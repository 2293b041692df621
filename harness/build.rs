//! Records what a results file needs to say where its figures came from:
//! the versions of every crate in the workspace's lock file and the
//! toolchain (through `built`), and the harness's own commit (the method
//! that measured them changes from commit to commit).

use std::path::Path;
use std::process::Command;

fn main() {
    built::write_built_file().expect("writing the build information");
    // `git describe` fails outside a git checkout (a source tarball): the
    // commit is then "unknown".
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SESSCACHE_HARNESS_COMMIT={commit}");
    // Run again when the sources, the lock file or the checked-out commit
    // change (only paths that exist: a missing one would rerun every build).
    for p in [
        "src",
        "build.rs",
        "Cargo.toml",
        "../Cargo.lock",
        "../engine/src",
        "../.git/HEAD",
        "../.git/index",
        "../.git/refs/heads",
        "../.git/packed-refs",
    ] {
        if Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
