//! Records what a results file needs to say where its figures came from:
//! the versions of every crate in the workspace's lock file and the
//! toolchain (through `built`), and the workspace's commit (the method that
//! measured them changes from commit to commit), with `-dirty` when a
//! tracked file differs from it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    built::write_built_file().expect("writing the build information");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.parent().expect("the harness is in the workspace");
    let commit = match git_checkout(workspace) {
        Some(git) => {
            let commit = git.commit();
            // Run again when a tracked file changes (it may make the tree
            // dirty or clean) or the checked-out commit moves. Not the
            // index: `git` rewrites it as it refreshes, which would make
            // every build run this again.
            for file in git.lines(&["ls-files"]) {
                println!("cargo:rerun-if-changed={}", workspace.join(file).display());
            }
            let mut refs = vec!["HEAD".to_string(), "packed-refs".to_string()];
            refs.extend(git.lines(&["symbolic-ref", "-q", "HEAD"]));
            for r in refs {
                for p in git.lines(&["rev-parse", "--git-path", &r]) {
                    let p = workspace.join(p);
                    if p.exists() {
                        println!("cargo:rerun-if-changed={}", p.display());
                    }
                }
            }
            commit
        }
        None => {
            // Not a git checkout of this workspace (a source tarball, maybe
            // unpacked inside another repository): no commit to name.
            for p in [
                "src",
                "build.rs",
                "Cargo.toml",
                "../Cargo.toml",
                "../Cargo.lock",
                "../engine",
            ] {
                if manifest.join(p).exists() {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            "unknown".to_string()
        }
    };
    println!("cargo:rustc-env=SESSCACHE_HARNESS_COMMIT={commit}");
}

/// `git`, run in the workspace.
struct Git<'a> {
    dir: &'a Path,
}

impl Git<'_> {
    fn run(&self, args: &[&str]) -> Option<std::process::Output> {
        Command::new("git")
            .arg("--no-optional-locks")
            .args(args)
            .current_dir(self.dir)
            .output()
            .ok()
    }

    /// The lines `git args` prints, or none if it fails.
    fn lines(&self, args: &[&str]) -> Vec<String> {
        self.run(args)
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| {
                s.lines()
                    .map(str::to_string)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The commit's hash (12 digits), with `-dirty` when a tracked file
    /// differs from it.
    fn commit(&self) -> String {
        let hash = self
            .lines(&["rev-parse", "--short=12", "HEAD"])
            .pop()
            .unwrap_or_else(|| "unknown".into());
        // `diff --quiet` exits 1 when there are differences.
        let dirty = self
            .run(&["diff", "--quiet", "HEAD", "--"])
            .is_some_and(|o| o.status.code() == Some(1));
        if dirty {
            format!("{hash}-dirty")
        } else {
            hash
        }
    }
}

/// `git` for `workspace`, if it is the top of a git checkout (not a
/// directory inside some other repository).
fn git_checkout(workspace: &Path) -> Option<Git<'_>> {
    let git = Git { dir: workspace };
    let top = PathBuf::from(git.lines(&["rev-parse", "--show-toplevel"]).pop()?);
    let same = top.canonicalize().ok()? == workspace.canonicalize().ok()?;
    same.then_some(git)
}
