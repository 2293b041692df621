//! Memory per session: bytes the cache allocates per cached session beyond
//! the 32-byte id and the value.
//!
//! On glibc the figure is read from `mallinfo2` (bytes in use in the main
//! arena plus mmapped blocks), which sees every allocation — Rust's and the
//! C library's alike (OpenSSL allocates with `malloc`, out of sight of a
//! Rust global allocator) — and includes malloc's own per-chunk overhead,
//! which is part of what a cache costs. The measurement runs on the main
//! thread, whose allocations go to the main arena. Elsewhere the counting
//! global allocator the binary installs is used (Rust allocations only).

use super::Suite;
use crate::alloc_count::{by_size, counting, BlockCounts, BLOCKS_ARE_CHUNKS};
use crate::cache::{Driver, Value};
use crate::ids::fresh_id;
use crate::results::{BlockClass, Memory};

/// Bytes in use by malloc now (glibc: main arena + mmapped blocks).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn live_bytes() -> isize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as isize
}

/// Bytes allocated through the counting global allocator.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn live_bytes() -> isize {
    crate::alloc_count::live_bytes()
}

/// Sessions cached for the measurement.
pub(crate) const SESSIONS: usize = 100_000;

/// Measures one cache. Each session gets its own value allocation (as a
/// server's deserialized session would), counted like any other byte; the
/// id and value bytes are then subtracted.
pub fn memory(suite: &Suite, driver: &dyn Driver) -> Memory {
    let len = suite.value.len();
    let (before, after, blocks_before, blocks_after) = counting(|| {
        let blocks_before = by_size();
        let before = live_bytes();
        // Bounded at exactly the sessions stored: caches that preallocate for
        // their capacity (rustls) are then charged for what they hold.
        let cache = driver.build(&suite.config(SESSIONS));
        let mut h = cache.handle();
        for i in 0..SESSIONS as u64 {
            let value: Value = suite.value.to_vec().into();
            h.store(&fresh_id(0, i, 0x4d), &value, suite.start, 7200);
        }
        let after = live_bytes();
        let blocks_after = by_size();
        drop(h);
        drop(cache);
        (before, after, blocks_before, blocks_after)
    });
    let per = (after - before) as f64 / SESSIONS as f64;
    let (blocks, other_block_bytes) = breakdown(&blocks_before, &blocks_after, SESSIONS);
    Memory {
        cache: driver.name().into(),
        sessions: SESSIONS,
        overhead_bytes: per - (32 + len) as f64,
        blocks,
        other_block_bytes,
        blocks_are_chunks: BLOCKS_ARE_CHUNKS,
    }
}

/// Blocks allocated at least this often per session are listed one by one.
const LISTED: f64 = 0.05;

/// The blocks allocated between two [`by_size`] snapshots, per session: the
/// sizes allocated at least [`LISTED`] times per session (largest share of
/// bytes first), and the bytes per session of all the others.
pub(crate) fn breakdown(
    before: &BlockCounts,
    after: &BlockCounts,
    sessions: usize,
) -> (Vec<BlockClass>, f64) {
    let n = sessions.max(1) as f64;
    let mut listed = Vec::new();
    let mut other = (after.large_bytes - before.large_bytes) as f64;
    for ((bytes, a), (_, b)) in after.sized().zip(before.sized()) {
        let per_session = (a - b) as f64 / n;
        if per_session >= LISTED {
            listed.push(BlockClass {
                bytes: bytes as u64,
                per_session,
            });
        } else {
            other += (a - b) as f64 * bytes as f64;
        }
    }
    listed.sort_by(|x, y| {
        (y.bytes as f64 * y.per_session).total_cmp(&(x.bytes as f64 * x.per_session))
    });
    (listed, other / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_count::{CLASSES, CLASS_BYTES};

    /// A snapshot with `blocks` live blocks of each given size.
    fn counts(blocks: &[(usize, isize)], large_bytes: isize) -> BlockCounts {
        let mut classes = [0; CLASSES];
        for &(bytes, n) in blocks {
            classes[bytes / CLASS_BYTES] = n;
        }
        BlockCounts {
            classes,
            large_bytes,
        }
    }

    #[test]
    fn the_breakdown_lists_per_session_blocks_and_sums_the_rest() {
        let before = counts(&[(16, 5), (32, 100), (96, 7)], 4096);
        let after = counts(
            &[(16, 6), (32, 1_100), (48, 500), (96, 1_007)],
            4096 + 80_000,
        );
        let (listed, other) = breakdown(&before, &after, 1_000);
        assert_eq!(
            listed,
            vec![
                BlockClass {
                    bytes: 96,
                    per_session: 1.0
                },
                BlockClass {
                    bytes: 32,
                    per_session: 1.0
                },
                BlockClass {
                    bytes: 48,
                    per_session: 0.5
                },
            ]
        );
        // One 16-byte block (under 0.05 per session) and 80 000 large bytes.
        assert!(
            (other - (16.0 + 80_000.0) / 1_000.0).abs() < 1e-9,
            "{other}"
        );
    }
}
