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

/// The wall clock in whole seconds. A clock set before 1970 reads as 0.
///
/// On Linux it reads `CLOCK_REALTIME_COARSE`: the time as of the last
/// scheduler tick (a few milliseconds old at most), read from the vDSO
/// without a hardware timer access. A lookup reads the clock once, and a
/// precise read cost as much as the rest of a cached lookup; whole seconds
/// need no more precision. Elsewhere it is [`SystemTime::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        #[cfg(all(target_os = "linux", not(miri)))]
        if let Some(t) = coarse_now() {
            return t;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// `CLOCK_REALTIME_COARSE` in whole seconds; `None` if the kernel refuses
/// it (older than 2.6.32).
#[cfg(all(target_os = "linux", not(miri)))]
fn coarse_now() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    // A time before 1970 is negative and reads as 0, as `SystemTime` does.
    (rc == 0).then(|| u64::try_from(ts.tv_sec).unwrap_or(0))
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

#[cfg(all(test, not(sesscache_loom)))]
mod tests {
    use super::*;

    fn precise_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// The coarse read is the wall clock in seconds: never ahead of a
    /// precise read taken after it, and at most one tick (so at most one
    /// second boundary) behind one taken before it.
    #[test]
    // Miri's isolation refuses to read the wall clock.
    #[cfg_attr(miri, ignore)]
    fn system_clock_reads_the_wall_clock_in_seconds() {
        for _ in 0..1_000 {
            let before = precise_secs();
            let t = SystemClock.now();
            let after = precise_secs();
            assert!(
                t + 1 >= before && t <= after,
                "{before} ≤ {t} (+1) ≤ {after} does not hold"
            );
        }
    }
}
