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
use crate::alloc_count::counting;
use crate::cache::{Driver, Value};
use crate::ids::fresh_id;
use crate::results::Memory;

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
    let (before, after) = counting(|| {
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
        drop(h);
        drop(cache);
        (before, after)
    });
    let per = (after - before) as f64 / SESSIONS as f64;
    Memory {
        cache: driver.name().into(),
        sessions: SESSIONS,
        overhead_bytes: per - (32 + len) as f64,
    }
}
