//! Where a run's figures came from: the versions of the crates and
//! libraries under test, the toolchain, and the harness's commit.

// The generated file defines more than the harness reads.
#[allow(dead_code, unreachable_pub)]
mod built {
    include!(concat!(env!("OUT_DIR"), "/built.rs"));
}

/// The versions of crate `name` in the workspace's lock file, joined by
/// " / " when it holds several; `None` when it holds none. `name@0.15`
/// keeps only the versions in that series (`0.15.x`), for a crate the lock
/// file holds in several.
pub fn crate_version(name: &str) -> Option<String> {
    let (name, series) = match name.split_once('@') {
        Some((n, s)) => (n, Some(s)),
        None => (name, None),
    };
    let versions: Vec<&str> = built::DEPENDENCIES
        .iter()
        .filter(|(n, v)| *n == name && series.map_or(true, |s| in_series(v, s)))
        .map(|(_, v)| *v)
        .collect();
    (!versions.is_empty()).then(|| versions.join(" / "))
}

/// Whether `version` is in `series`: equal to it, or it followed by a dot
/// and more (`1.0.229` is in `1.0`, not in `1.0.22`).
fn in_series(version: &str, series: &str) -> bool {
    version
        .strip_prefix(series)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// [`crate_version`], or "?" when the lock file does not hold the crate.
pub fn version_of(name: &str) -> String {
    crate_version(name).unwrap_or_else(|| "?".into())
}

/// `"name version"` for each of `names` (which may name a series, as in
/// [`crate_version`]), as [`version_of`] gives it, joined by ", ".
pub fn crates(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            let name = n.split_once('@').map_or(*n, |(name, _)| name);
            format!("{name} {}", version_of(n))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The compiler that built the harness (`rustc --version`).
pub fn rustc() -> &'static str {
    built::RUSTC_VERSION
}

/// The workspace's commit (12 hex digits, with `-dirty` when a tracked file
/// differs from it), or "unknown" outside a git checkout of it.
pub fn commit() -> &'static str {
    env!("SESSCACHE_HARNESS_COMMIT")
}

/// The C library's version (glibc's `gnu_get_libc_version`); its malloc is
/// every cache's allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn libc() -> Option<String> {
    // SAFETY: glibc returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    Some(format!("glibc {}", v.to_string_lossy()))
}

/// The C library's version, where the harness knows how to ask.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn libc() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_matches_whole_components() {
        assert!(in_series("1.0.229", "1.0"));
        assert!(in_series("1.0.229", "1"));
        assert!(in_series("1.0.229", "1.0.229"));
        assert!(!in_series("1.0.229", "1.0.22"));
        assert!(!in_series("1.10.0", "1.1"));
        assert!(!in_series("0.17.1", "0.15"));
        assert!(in_series("300.6.1+3.6.3", "300.6"));
    }

    #[test]
    fn crate_versions_come_from_the_lock_file() {
        // The engine's version is its manifest's (the harness has its own).
        let manifest =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../engine/Cargo.toml"))
                .expect("the engine's manifest");
        let engine = manifest
            .lines()
            .find_map(|l| l.strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("the engine's version");
        assert_eq!(crate_version("sesscache").as_deref(), Some(engine));
        assert_eq!(crate_version("no-such-crate"), None);
        assert_eq!(crates(&["no-such-crate"]), "no-such-crate ?");
        // The lock file may hold several hashbrowns (it holds the limit's
        // and a dependency's as this is written): a series picks one.
        let all = crate_version("hashbrown").expect("in the lock file");
        let limit = crate_version("hashbrown@0.15").expect("the limit's");
        assert!(
            limit.starts_with("0.15.") && !limit.contains(" / "),
            "{limit}"
        );
        assert!(all.split(" / ").any(|v| v == limit), "{all}");
        assert_eq!(crates(&["hashbrown@0.15"]), format!("hashbrown {limit}"));
    }

    #[test]
    fn the_toolchain_and_commit_are_recorded() {
        assert!(rustc().starts_with("rustc "), "{}", rustc());
        // A 12-digit hash, maybe marked dirty, or "unknown" outside a
        // checkout of this workspace.
        let c = commit();
        let hash = c.strip_suffix("-dirty").unwrap_or(c);
        assert!(
            c == "unknown" || (hash.len() == 12 && hash.chars().all(|d| d.is_ascii_hexdigit())),
            "{c}"
        );
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(libc().is_some_and(|v| v.starts_with("glibc 2.")));
    }
}
