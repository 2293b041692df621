//! The tier's link to Redis: a connection pool, a deadline on every
//! operation, and a breaker that leaves Redis alone for a while after a
//! failure.
//!
//! ```text
//!   UP ──(an operation fails: error counted, logged once)──▶ DOWN until t + retry_after
//!   DOWN: operations are skipped (counted); the local cache answers alone
//!   DOWN ──(pause over: one caller wins a CAS and probes)──▶ UP if the probe succeeds,
//!                                                            DOWN for another pause if not
//! ```
//!
//! A connection that saw any error is discarded rather than reused: after
//! a timeout its late answer could otherwise be read as the answer to the
//! next command.

use std::time::{Duration, Instant};

use redis::{Cmd, Connection, ConnectionLike, RedisError, RedisResult};

use super::config::RedisConfig;
use crate::sync::{AtomicBool, AtomicU64, Ordering};

/// A pooled connection and whether it may be reused.
pub(crate) struct Conn {
    inner: Connection,
    broken: bool,
}

/// Opens connections for the pool, each within the operation timeout.
#[derive(Debug)]
pub(crate) struct Manager {
    client: redis::Client,
    timeout: Duration,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = RedisError;

    fn connect(&self) -> RedisResult<Conn> {
        let inner = self.client.get_connection_with_timeout(self.timeout)?;
        Ok(Conn {
            inner,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> RedisResult<()> {
        Cmd::ping().query::<()>(&mut conn.inner)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || !conn.inner.is_open()
    }
}

/// What the tier counts. Relaxed everywhere: these are statistics; nothing
/// is ordered by them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) writes: AtomicU64,
    pub(crate) reads: AtomicU64,
    pub(crate) read_hits: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) invalidations: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        // Relaxed: a statistic.
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The pool, the breaker and the counters.
pub(crate) struct Link {
    pool: r2d2::Pool<Manager>,
    pub(crate) config: RedisConfig,
    pub(crate) counters: Counters,
    /// 0 while Redis is up; otherwise the millisecond (after `epoch`) before
    /// which Redis is not tried.
    down_until: AtomicU64,
    /// Whether the last operation reached Redis (to log transitions once).
    up: AtomicBool,
    epoch: Instant,
}

impl Link {
    pub(crate) fn new(config: RedisConfig) -> Link {
        let manager = Manager {
            client: config.client.clone(),
            timeout: config.timeout,
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            // Connect on demand: a Redis that is down at start-up must not
            // stop the cache from being built.
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(config.timeout)
            // Failures are counted and logged by `run`, once per outage.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Link {
            pool,
            config,
            counters: Counters::default(),
            down_until: AtomicU64::new(0),
            up: AtomicBool::new(true),
            epoch: Instant::now(),
        }
    }

    fn retry_ms(&self) -> u64 {
        u64::try_from(self.config.retry_after.as_millis()).unwrap_or(u64::MAX)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `op` on a pooled connection within the configured timeout.
    /// `None` when Redis was skipped (the breaker is open) or failed; the
    /// failure is counted and, the first time in an outage, logged.
    pub(crate) fn run<T>(
        &self,
        what: &str,
        op: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Option<T> {
        // Relaxed: the breaker is advisory; a stale read only means one
        // extra attempt or one extra skip.
        let until = self.down_until.load(Ordering::Relaxed);
        let now = self.now_ms();
        if until != 0 {
            // Down: skip until the pause is over, then let exactly one
            // caller probe (it pushes the pause on; the rest keep skipping).
            let probe = now >= until
                && self
                    .down_until
                    // Relaxed: as above; the CAS only elects one prober.
                    .compare_exchange(
                        until,
                        now.saturating_add(self.retry_ms()),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok();
            if !probe {
                Counters::bump(&self.counters.skipped);
                return None;
            }
        }
        let deadline = Instant::now() + self.config.timeout;
        let result = self
            .pool
            .get_timeout(self.config.timeout)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                let left = deadline
                    .checked_duration_since(Instant::now())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| "timed out waiting for a connection".to_owned())?;
                let outcome = conn
                    .inner
                    .set_read_timeout(Some(left))
                    .and_then(|()| conn.inner.set_write_timeout(Some(left)))
                    .and_then(|()| op(&mut conn.inner));
                outcome.map_err(|e| {
                    conn.broken = true;
                    e.to_string()
                })
            });
        match result {
            Ok(v) => {
                if until != 0 {
                    // Relaxed: as above.
                    self.down_until.store(0, Ordering::Relaxed);
                }
                // Relaxed: only for logging the recovery once.
                if !self.up.swap(true, Ordering::Relaxed) {
                    log::info!(
                        "redis {} reachable again; sharing sessions",
                        self.config.url
                    );
                }
                Some(v)
            }
            Err(e) => {
                Counters::bump(&self.counters.errors);
                // Relaxed: see the load above. At least 1: 0 means up.
                let until = self.now_ms().saturating_add(self.retry_ms()).max(1);
                self.down_until.store(until, Ordering::Relaxed);
                // Relaxed: only for logging the outage once.
                if self.up.swap(false, Ordering::Relaxed) {
                    log::warn!(
                        "redis {} failed to {what}: {e}; serving from the local cache, retrying every {:?}",
                        self.config.url,
                        self.config.retry_after
                    );
                } else {
                    log::debug!("redis {} failed to {what}: {e}", self.config.url);
                }
                None
            }
        }
    }
}
