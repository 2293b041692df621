//! Where the cache gets the time from.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sync::{AtomicU64, Ordering};

/// A source of the current time in whole seconds since the UNIX epoch.
///
/// The cache reads it to stamp new sessions ([`SessionCache::new_session`]),
/// to decide whether a session found by a lookup has expired, and for the
/// automatic flush. Tests and simulations use [`ManualClock`].
///
/// [`SessionCache::new_session`]: crate::SessionCache::new_session
pub trait Clock: Send + Sync {
    /// Seconds since the UNIX epoch.
    fn now(&self) -> u64;
}

/// The wall clock: [`SystemTime::now`] in seconds. A clock set before 1970
/// reads as 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that moves only when told to. Clones share one time, so a test
/// can keep a handle while the cache owns another.
///
/// ```
/// use sesscache::{Clock, ManualClock};
/// let clock = ManualClock::new(100);
/// let handle = clock.clone();
/// handle.advance(5);
/// assert_eq!(clock.now(), 105);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock that reads `t`.
    pub fn new(t: u64) -> Self {
        ManualClock {
            now: Arc::new(AtomicU64::new(t)),
        }
    }

    /// Sets the time to `t` (it may go backwards).
    pub fn set(&self, t: u64) {
        // Relaxed: the time is a lone value; no other memory is published with it.
        self.now.store(t, Ordering::Relaxed);
    }

    /// Moves the time forward by `d` seconds, saturating at `u64::MAX`.
    pub fn advance(&self, d: u64) {
        // Relaxed: as in `set`; fetch_update keeps concurrent advances from being lost.
        let _ = self
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(d))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        // Relaxed: see `set`.
        self.now.load(Ordering::Relaxed)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}
