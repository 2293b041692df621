//! A shared second tier in Redis (feature `redis`). API SKETCH: bodies to come.
#![allow(missing_docs, dead_code, unused_variables)]

use std::sync::Arc;
use std::time::Duration;

use crate::{CacheBuilder, Session, SessionCache, SessionStore};

/// A bad Redis configuration.
#[derive(Debug)]
pub struct ConfigError(String);

/// Redis settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    url: String,
}

impl RedisConfig {
    /// Settings for the server at `url` (`redis://host:port/db`).
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        todo!()
    }
    /// Bound on each Redis round trip (default 50 ms).
    pub fn timeout(self, t: Duration) -> Self {
        self
    }
    /// Pooled connections (default 16).
    pub fn pool_size(self, n: u32) -> Self {
        self
    }
    /// Key prefix (default `sesscache:`).
    pub fn key_prefix(self, prefix: &str) -> Self {
        self
    }
    /// How long Redis is skipped after a failure (default 1 s).
    pub fn retry_after(self, t: Duration) -> Self {
        self
    }
}

/// Counters of the tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    pub writes: u64,
    pub reads: u64,
    pub read_hits: u64,
    pub deletes: u64,
    pub errors: u64,
    pub skipped: u64,
    pub invalidations: u64,
}

/// A local SessionCache with Redis behind it.
pub struct TieredCache<V> {
    local: Arc<SessionCache<V>>,
}

impl<V: AsRef<[u8]> + From<Vec<u8>> + Send + Sync + 'static> TieredCache<V> {
    /// The local cache `builder` describes, with Redis behind it.
    pub fn new(builder: CacheBuilder<V>, config: RedisConfig) -> Self {
        todo!()
    }
    pub fn local(&self) -> &SessionCache<V> {
        &self.local
    }
    pub fn tier_stats(&self) -> TierStats {
        todo!()
    }
    pub fn flush(&self, t: u64) -> usize {
        self.local.flush(t)
    }
}

impl<V: AsRef<[u8]> + From<Vec<u8>> + Send + Sync + 'static> SessionStore<V> for TieredCache<V> {
    fn now(&self) -> u64 {
        self.local.now()
    }
    fn timeout(&self) -> u64 {
        self.local.timeout()
    }
    fn store(&self, session: &Arc<Session<V>>) {
        todo!()
    }
    fn lookup(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        todo!()
    }
    fn lookup_with<R>(&self, id: &[u8], f: impl FnOnce(&Session<V>) -> R) -> Option<R> {
        todo!()
    }
    fn remove_id(&self, id: &[u8]) -> bool {
        todo!()
    }
    fn take(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        todo!()
    }
}
