//! What machine a run is on.

use crate::results::Machine;

/// Facts about this machine.
pub fn describe() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_bytes,
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        transparent_hugepages: selected_mode(&thp).unwrap_or_default().to_string(),
        glibc_tunables: Some(std::env::var("GLIBC_TUNABLES").unwrap_or_default()),
    }
}

/// The selected mode of a Linux setting listed as `always [madvise] never`:
/// the bracketed word, if there is exactly one.
fn selected_mode(listing: &str) -> Option<&str> {
    let mut selected = listing
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('[')?.strip_suffix(']'));
    let mode = selected.next().filter(|m| !m.is_empty())?;
    selected.next().is_none().then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::selected_mode;

    #[test]
    fn the_selected_mode_is_the_one_bracketed_word() {
        assert_eq!(selected_mode("always [madvise] never\n"), Some("madvise"));
        assert_eq!(selected_mode("[always] madvise never"), Some("always"));
        assert_eq!(selected_mode("always madvise [never]"), Some("never"));
        for odd in ["", "always madvise never", "[] x", "[a] [b]", "[always"] {
            assert_eq!(selected_mode(odd), None, "{odd:?}");
        }
    }
}
