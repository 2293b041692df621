//! Configuration of a [`SessionCache`].

use core::fmt;
use std::sync::Arc;

use crate::cache::{GetHook, NewHook, RemoveHook};
use crate::{CacheMode, Clock, Session, SessionCache, SystemClock};

/// OpenSSL's default cache size (`SSL_SESSION_CACHE_MAX_SIZE_DEFAULT`).
pub const DEFAULT_CAPACITY: usize = 20480;
/// OpenSSL's default session timeout in seconds, as the library really sets it
/// (the manual pages say 300).
pub const DEFAULT_TIMEOUT: u64 = 7200;

/// Builds a [`SessionCache`]; made by [`SessionCache::builder`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use sesscache::{CacheMode, ManualClock, SessionCache};
///
/// let removed = Arc::new(AtomicUsize::new(0));
/// let seen = removed.clone();
/// let cache: SessionCache<Vec<u8>> = SessionCache::builder()
///     .capacity(1024)
///     .timeout(300)
///     .mode(CacheMode::NO_AUTO_CLEAR)
///     .clock(ManualClock::new(1_000))
///     .on_remove(move |_session| {
///         seen.fetch_add(1, Ordering::Relaxed);
///     })
///     .build();
/// assert_eq!(cache.capacity(), 1024);
/// ```
pub struct CacheBuilder<V> {
    pub(crate) capacity: usize,
    pub(crate) timeout: u64,
    pub(crate) mode: CacheMode,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) on_new: Option<NewHook<V>>,
    pub(crate) on_remove: Option<RemoveHook<V>>,
    pub(crate) on_get: Option<GetHook<V>>,
    pub(crate) buckets: usize,
}

impl<V: Send + Sync + 'static> Default for CacheBuilder<V> {
    fn default() -> Self {
        CacheBuilder {
            capacity: DEFAULT_CAPACITY,
            timeout: DEFAULT_TIMEOUT,
            mode: CacheMode::default(),
            clock: Box::new(SystemClock),
            on_new: None,
            on_remove: None,
            on_get: None,
            buckets: 16,
        }
    }
}

impl<V: Send + Sync + 'static> CacheBuilder<V> {
    /// The most sessions the cache holds; 0 means unlimited. Default 20480.
    /// When an add finds the cache full it evicts the soonest-expiring
    /// sessions first. The cache holds exactly `n` sessions when full
    /// (OpenSSL 3.x holds `n - 1`).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// The lifetime in seconds of sessions made by
    /// [`SessionCache::new_session`]. Default 7200.
    pub fn timeout(mut self, secs: u64) -> Self {
        self.timeout = secs;
        self
    }

    /// The same as [`timeout`](Self::timeout), as a `Duration` (whole seconds).
    pub fn timeout_duration(self, timeout: std::time::Duration) -> Self {
        self.timeout(timeout.as_secs())
    }

    /// The mode flags. Default: none.
    pub fn mode(mut self, mode: CacheMode) -> Self {
        self.mode = mode;
        self
    }

    /// The clock. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Called by [`SessionCache::store`] with each new session, after it was
    /// added (OpenSSL's `new_session_cb`).
    pub fn on_new(mut self, f: impl Fn(&Arc<Session<V>>) + Send + Sync + 'static) -> Self {
        self.on_new = Some(Box::new(f));
        self
    }

    /// Called once for each session that leaves the cache (flush, eviction,
    /// take, expiry found by a lookup) and once per [`SessionCache::remove`]
    /// call, after the session was unlinked and outside any critical section
    /// (OpenSSL's `remove_session_cb`).
    pub fn on_remove(mut self, f: impl Fn(&Session<V>) + Send + Sync + 'static) -> Self {
        self.on_remove = Some(Box::new(f));
        self
    }

    /// Asked by a lookup that found nothing in the cache (OpenSSL's
    /// `get_session_cb`): an external cache's chance to supply the session.
    pub fn on_get(
        mut self,
        f: impl Fn(&[u8]) -> Option<Arc<Session<V>>> + Send + Sync + 'static,
    ) -> Self {
        self.on_get = Some(Box::new(f));
        self
    }

    /// How many hash buckets the table starts with (rounded up to a power of
    /// two, at least 2). The table grows online as sessions arrive, so this
    /// is only a hint. Default 16.
    pub fn table_buckets(mut self, n: usize) -> Self {
        self.buckets = n;
        self
    }

    /// The cache.
    pub fn build(self) -> SessionCache<V> {
        SessionCache::from_builder(self)
    }
}

impl<V> fmt::Debug for CacheBuilder<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("timeout", &self.timeout)
            .field("mode", &self.mode)
            .field("on_new", &self.on_new.is_some())
            .field("on_remove", &self.on_remove.is_some())
            .field("on_get", &self.on_get.is_some())
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}
