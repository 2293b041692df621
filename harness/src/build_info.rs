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
        .filter(|(n, v)| {
            *n == name
                && series.map_or(true, |s| {
                    v.strip_prefix(s)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                })
        })
        .map(|(_, v)| *v)
        .collect();
    (!versions.is_empty()).then(|| versions.join(" / "))
}

/// `"name version"` for each of `names` (which may name a series, as in
/// [`crate_version`]), or "name ?" for one the lock file does not hold,
/// joined by ", ".
pub fn crates(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            let name = n.split_once('@').map_or(*n, |(name, _)| name);
            format!("{name} {}", crate_version(n).as_deref().unwrap_or("?"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The compiler that built the harness (`rustc --version`).
pub fn rustc() -> &'static str {
    built::RUSTC_VERSION
}

/// The harness's commit (`git describe --always --dirty`), or "unknown"
/// outside a git checkout.
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
    fn crate_versions_come_from_the_lock_file() {
        assert_eq!(
            crate_version("sesscache").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(crate_version("no-such-crate"), None);
        let serde = crate_version("serde").expect("the harness uses serde");
        assert!(serde.starts_with("1."), "{serde}");
        assert_eq!(crates(&["no-such-crate"]), "no-such-crate ?");
        // A series picks one version out of several, and only a whole
        // component matches ("1.1" is not in series "1.10").
        let series = &serde[..serde.rfind('.').expect("x.y.z")];
        assert_eq!(
            crate_version(&format!("serde@{series}")),
            Some(serde.clone())
        );
        assert_eq!(crate_version(&format!("serde@{series}9")), None);
        assert_eq!(
            crates(&[&format!("serde@{series}")]),
            format!("serde {serde}")
        );
    }

    #[test]
    fn the_toolchain_and_commit_are_recorded() {
        assert!(rustc().starts_with("rustc "), "{}", rustc());
        assert!(!commit().is_empty());
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(libc().is_some_and(|v| v.starts_with("glibc 2.")));
    }
}
