//! The one trait every cache under test implements.
//!
//! A [`Driver`] builds a [`SharedCache`] for a configuration; each worker
//! thread takes its own [`CacheHandle`] from it. A handle may keep per-thread
//! state (OpenSSL's driver keeps an `SSL*` per thread for
//! `SSL_has_matching_session_id`; the hardware-limit driver keeps a whole
//! private table per thread), which is why handle methods take `&mut self`.

use std::sync::Arc;

use crate::results::TierCounts;
use crate::workloads::Workload;

/// A session id: 32 bytes, as TLS 1.2 session ids and TLS 1.3 stateful
/// ticket ids are.
pub type Id = [u8; 32];

/// A serialized session: a few hundred bytes, shared so the workload does not
/// measure its own allocations; caches that keep owned bytes copy it.
pub type Value = Arc<[u8]>;

/// How a cache under test is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Most sessions held; 0 = unlimited.
    pub capacity: usize,
    /// The default timeout in seconds (sessions are stored with an explicit
    /// one; this is for caches that need one at construction).
    pub timeout: u64,
    /// The logical time at which the run starts, in seconds since the UNIX
    /// epoch. Caches with a clock of their own are given a clock that reads
    /// this time, so that expiry follows the harness's logical clock.
    pub start: u64,
    /// The most sessions the workload keeps cached at once, where it knows
    /// (0 = not said): a sizing hint for caches that must be given a size
    /// even when unbounded (rustls).
    pub sessions: usize,
}

impl Config {
    /// This configuration, for a workload that keeps up to `sessions`
    /// sessions cached at once.
    pub fn holding(self, sessions: usize) -> Self {
        Config { sessions, ..self }
    }
}

/// What a cache under test can do; workloads skip what a cache cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traits {
    /// `take` is single use: among concurrent takers of one id, one wins.
    pub single_use: bool,
    /// Sessions expire on the harness's logical clock and `flush(t)` removes
    /// the expired ones.
    pub expiry: bool,
    /// A capacity bound with eviction.
    pub bounded: bool,
    /// Every thread has a private copy (the hardware limit): nothing is
    /// shared, so nothing is synchronised.
    pub private_per_thread: bool,
    /// Sessions are also kept in a second tier outside the process (Redis)
    /// shared by several local caches: `flush`, expiry and the capacity bound
    /// apply to each local cache only, the tier forgets a session by its own
    /// wall-clock TTL, so a session flushed or evicted locally can come back
    /// from the tier; `len` counts the local copies of every local cache.
    pub second_tier: bool,
}

/// A cache implementation the harness can drive.
pub trait Driver: Send + Sync {
    /// Short name used in results, tables and plots.
    fn name(&self) -> &'static str;
    /// What the cache can do.
    fn traits(&self) -> Traits;
    /// One line on what each harness operation maps to in this cache, and
    /// any advantage that mapping gives it.
    fn mapping(&self) -> &'static str;
    /// The version of what is under test: the crate (and the crates it is
    /// built on, where they matter) or, for OpenSSL, the library the
    /// process loaded. Recorded in `results.json` with the run.
    fn version(&self) -> String;
    /// A fresh, empty cache.
    fn build(&self, config: &Config) -> Box<dyn SharedCache>;
    /// The workloads this cache takes part in (default: all); the harness
    /// notes the ones it is left out of.
    fn workloads(&self) -> &'static [Workload] {
        &Workload::ALL
    }
    /// Gets ready to build caches: starts or checks whatever the cache needs
    /// outside the process, once. `Ok(Some(text))` describes what it uses
    /// (reported with the versions); `Err(why)` means it cannot run here: the
    /// harness skips it and says why, in one line. Default: nothing to do.
    fn prepare(&self) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// One cache instance, shared by the worker threads.
pub trait SharedCache: Send + Sync {
    /// A handle for the calling thread.
    fn handle(&self) -> Box<dyn CacheHandle + '_>;
    /// How many sessions the cache holds (for the private-per-thread
    /// driver: those of the handles still alive, or 0).
    fn len(&self) -> usize;
    /// Whether the cache holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills the cache with `ids` before a measurement (untimed), each
    /// stored at `now` for `timeout` seconds, each with its own copy of
    /// `value` ([`own_copy`](crate::ids::own_copy)). By default each is stored
    /// through one handle; a cache may take a faster path that leaves it in
    /// an equivalent state (every session found by every handle), and says
    /// so in its [`Driver::mapping`].
    fn prefill(&self, ids: &[Id], value: &Value, now: u64, timeout: u64) {
        let mut h = self.handle();
        for id in ids {
            h.store(id, &crate::ids::own_copy(value), now, timeout);
        }
    }
    /// What a second tier did since the cache was built (`None`: no tier).
    fn tier_stats(&self) -> Option<TierCounts> {
        None
    }
}

/// A thread's access to a cache under test. `now` is the harness's logical
/// clock in seconds.
pub trait CacheHandle {
    /// Stores a new session made at `now`, living `timeout` seconds.
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64);
    /// The resumption lookup at `now`: true when a live session was found
    /// and its value read.
    fn lookup(&mut self, id: &Id, now: u64) -> bool;
    /// Removes the session with this id, if any.
    fn remove(&mut self, id: &Id);
    /// Takes the session for a single use; true when this call got it.
    fn take(&mut self, id: &Id, now: u64) -> bool;
    /// Removes every session expired at `now`; returns how many (0 when the
    /// cache has no expiry).
    fn flush(&mut self, now: u64) -> usize;
}

/// Reads a value the way a server would before resuming: touches its length
/// and first and last bytes, so a lookup cannot be optimised into a
/// presence test.
#[inline]
pub fn consume(value: &[u8]) -> bool {
    std::hint::black_box(value.len() + usize::from(value.first().copied().unwrap_or(0)))
        + usize::from(value.last().copied().unwrap_or(0))
        > 0
}
