//! The tier's link to Redis: a connection pool, a deadline on every
//! operation, and a breaker that leaves Redis alone for a while after a
//! failure.
//!
//! ```text
//!   UP ──(an operation fails: error counted, logged once)──▶ DOWN until t + retry_after
//!   DOWN: operations are skipped (counted); the local cache answers alone
//!   DOWN ──(pause over: one caller wins a CAS and probes)──▶ UP if Redis answers (even
//!                                                            with an error), DOWN for
//!                                                            another pause if not
//! ```
//!
//! A connection that saw a transport error (I/O, timeout, dropped) is
//! discarded rather than reused: after a timeout its late answer could
//! otherwise be read as the answer to the next command. Such an error also
//! bumps a generation number, and connections of an older generation are
//! discarded at checkout: after a restart or a failover every idle pooled
//! connection is dead, and they go at once instead of one failure each.
//! An error *answer* from the server (out of memory, read-only replica)
//! is counted but is not an outage: it neither opens the breaker nor
//! costs the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{Cmd, Connection, ConnectionLike, RedisError, RedisResult};
use scheduled_thread_pool::ScheduledThreadPool;

use super::codec;
use super::config::RedisConfig;
use super::deadline::{time_left, Deadlined};
use super::pending::Pending;
use super::script::LuaScript;
use super::subscriber::{self, NODE_LEN};
use crate::sync::{AtomicBool, AtomicU64, Ordering};

/// A pooled connection, its generation, and whether it may be reused.
pub(crate) struct Conn {
    inner: Connection,
    generation: u64,
    broken: bool,
}

/// Opens connections for the pool, each within the operation timeout.
#[derive(Debug)]
pub(crate) struct Manager {
    client: redis::Client,
    timeout: Duration,
    generation: Arc<AtomicU64>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = RedisError;

    fn connect(&self) -> RedisResult<Conn> {
        // Relaxed: a connection made just after a bump may carry the old
        // number and be discarded once more; that is all.
        let generation = self.generation.load(Ordering::Relaxed);
        let inner = self.client.get_connection_with_timeout(self.timeout)?;
        Ok(Conn {
            inner,
            generation,
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

/// Take = get and delete, plus an invalidation when there was something to
/// take, atomically (GET and DEL rather than GETDEL, which needs Redis 6.2).
const TAKE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return v";

/// Deletes `KEYS` and publishes, for each, its invalidation (`ARGV[i + 1]`)
/// on the channel `ARGV[1]`; returns how many keys existed. One command
/// and one reply, so a Redis that stops answering costs one socket wait,
/// not one per key (a pipeline of DEL and PUBLISH pairs waited for each of
/// its replies in turn).
const DELETE: &str = r"
local n = 0
for i, k in ipairs(KEYS) do
  n = n + redis.call('DEL', k)
  redis.call('PUBLISH', ARGV[1], ARGV[i + 1])
end
return n";

/// How long r2d2 keeps retrying a connection in the background. Callers
/// never wait this long (each waits at most its operation's timeout);
/// a long value only makes r2d2's retries back off instead of hammering
/// an unreachable server every few milliseconds.
const BACKGROUND_CONNECT: Duration = Duration::from_secs(10);

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
        Self::add(c, 1);
    }

    pub(crate) fn add(c: &AtomicU64, n: u64) {
        // Relaxed: a statistic.
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Whether an error means Redis (or the way to it) is unwell, rather than
/// an error answer to one command.
fn is_outage(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal()
}

/// The pool, the breaker and the counters.
pub(crate) struct Link {
    pool: r2d2::Pool<Manager>,
    pub(crate) config: RedisConfig,
    pub(crate) counters: Counters,
    /// Bumped by every transport error; older connections are discarded.
    generation: Arc<AtomicU64>,
    /// 0 while Redis is up; otherwise the millisecond (after `epoch`) before
    /// which Redis is not tried.
    down_until: AtomicU64,
    /// Whether the last operation reached Redis (to log transitions once).
    up: AtomicBool,
    epoch: Instant,
    /// Names this cache in its invalidations.
    pub(crate) node: [u8; NODE_LEN],
    /// Removals Redis has not heard of yet.
    pub(crate) pending: Pending,
    /// The take script (`EVALSHA`, falling back to `EVAL`).
    pub(crate) take_script: LuaScript,
    delete_script: LuaScript,
}

impl Link {
    pub(crate) fn new(config: RedisConfig, node: [u8; NODE_LEN]) -> Link {
        let generation = Arc::new(AtomicU64::new(0));
        let manager = Manager {
            client: config.client.clone(),
            timeout: config.timeout,
            generation: generation.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            // Connect on demand: a Redis that is down at start-up must not
            // stop the cache from being built.
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(BACKGROUND_CONNECT)
            // Two threads open connections for this pool (r2d2 would start
            // three). No reaper: it would keep them alive for up to 30 s
            // after the cache is dropped; a dead idle connection is caught
            // by the generation check instead.
            .thread_pool(Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(2)
                    .thread_name_pattern("sesscache-redis-pool-{}")
                    .build(),
            ))
            .idle_timeout(None)
            .max_lifetime(None)
            // Failures are counted and logged by `run`, once per outage.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Link {
            pool,
            config,
            counters: Counters::default(),
            generation,
            down_until: AtomicU64::new(0),
            up: AtomicBool::new(true),
            epoch: Instant::now(),
            node,
            pending: Pending::default(),
            take_script: LuaScript::new(TAKE),
            delete_script: LuaScript::new(DELETE),
        }
    }

    /// The Redis key of `id`.
    pub(crate) fn key(&self, id: &[u8]) -> Vec<u8> {
        codec::key(&self.config.prefix, id)
    }

    /// The channel invalidations travel on.
    pub(crate) fn channel(&self) -> Vec<u8> {
        subscriber::channel(&self.config.prefix)
    }

    /// The invalidation message for `id`.
    pub(crate) fn invalidation(&self, id: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(NODE_LEN + id.len());
        m.extend_from_slice(&self.node);
        m.extend_from_slice(id);
        m
    }

    /// Deletes `ids` in Redis and tells the other caches, in one command
    /// (the [`DELETE`] script); how many keys were deleted, or `None` if
    /// Redis was not reached.
    pub(crate) fn delete(&self, ids: &[Vec<u8>]) -> Option<u64> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| self.key(id)).collect();
        let channel = self.channel();
        let invalidations: Vec<Vec<u8>> = ids.iter().map(|id| self.invalidation(id)).collect();
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let args: Vec<&[u8]> = core::iter::once(channel.as_slice())
            .chain(invalidations.iter().map(Vec::as_slice))
            .collect();
        self.run("remove sessions", |c| {
            self.delete_script.invoke::<u64>(c, &keys, &args)
        })
    }

    /// Sends one batch of waiting removals; false if Redis did not take
    /// it. Called by the invalidation listener only.
    pub(crate) fn drain_some(&self) -> bool {
        let batch = self.pending.batch();
        if batch.is_empty() {
            return true;
        }
        let Some(n) = self.delete(&batch) else {
            return false;
        };
        self.pending.confirm(&batch);
        Counters::add(&self.counters.deletes, n);
        true
    }

    fn retry_ms(&self) -> u64 {
        u64::try_from(self.config.retry_after.as_millis()).unwrap_or(u64::MAX)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether Redis may be tried now: always while it is up; once the
    /// pause is over, by exactly one caller (it pushes the pause on; the
    /// rest keep skipping). A skip is counted.
    fn may_try(&self) -> (bool, u64) {
        // Relaxed: the breaker is advisory; a stale read only means one
        // extra attempt or one extra skip.
        let until = self.down_until.load(Ordering::Relaxed);
        if until == 0 {
            return (true, until);
        }
        let now = self.now_ms();
        let probe = now >= until
            && self
                .down_until
                // Relaxed: as above; the CAS only elects one prober.
                .compare_exchange(
                    until,
                    now.saturating_add(self.retry_ms()).max(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if !probe {
            Counters::bump(&self.counters.skipped);
        }
        (probe, until)
    }

    /// Redis answered an operation that `may_try` let through when the
    /// breaker read `until`: closes the breaker if that was a probe.
    fn answered(&self, until: u64) {
        if until != 0 {
            // Relaxed: as in `may_try`.
            self.down_until.store(0, Ordering::Relaxed);
        }
        // Relaxed: only for logging the recovery once.
        if !self.up.swap(true, Ordering::Relaxed) {
            log::info!(
                "redis {} reachable again; sharing sessions",
                self.config.url
            );
        }
    }

    /// A pooled connection of the current generation, within `deadline`.
    fn checkout(&self, deadline: Instant) -> Result<r2d2::PooledConnection<Manager>, String> {
        let left =
            || time_left(deadline).ok_or_else(|| "timed out waiting for a connection".to_owned());
        loop {
            let mut conn = self.pool.get_timeout(left()?).map_err(|e| e.to_string())?;
            // The socket timeouts are set before each command (`Deadlined`).
            // Relaxed: see `Manager::connect`.
            if conn.generation >= self.generation.load(Ordering::Relaxed) {
                return Ok(conn);
            }
            // Made before a transport error: probably dead; never reused.
            conn.broken = true;
        }
    }

    /// Runs `op` on a pooled connection. `None` when Redis was skipped
    /// (the breaker is open) or the operation failed; a failure is counted
    /// and, the first time in an outage, logged.
    ///
    /// Every wait (for a connection; for each command `op` sends, its
    /// write and its read) is bounded by what is left of the configured
    /// timeout when it starts (see [`Deadlined`]); an answer that trickles
    /// in a byte at a time can take longer in all.
    pub(crate) fn run<T>(
        &self,
        what: &str,
        op: impl FnOnce(&mut Deadlined<'_>) -> RedisResult<T>,
    ) -> Option<T> {
        let (go, until) = self.may_try();
        if !go {
            return None;
        }
        let deadline = Instant::now()
            .checked_add(self.config.timeout)
            .unwrap_or_else(Instant::now);
        let result = self
            .checkout(deadline)
            .map_err(|e| (e, true))
            .and_then(|mut conn| {
                op(&mut Deadlined::new(&mut conn.inner, deadline)).map_err(|e| {
                    let outage = is_outage(&e);
                    // Only an error answer from the server (it has a code)
                    // leaves the connection in step with its replies; any
                    // other error (a reply the parser refused, half read)
                    // may leave bytes behind that the next command would
                    // read as its own reply.
                    if outage || e.code().is_none() {
                        conn.broken = true;
                    }
                    if outage {
                        // Relaxed: a hint for checkouts; nothing is published.
                        self.generation.fetch_add(1, Ordering::Relaxed);
                    }
                    (e.to_string(), outage)
                })
            });
        match result {
            Ok(v) => {
                self.answered(until);
                Some(v)
            }
            Err((e, false)) => {
                // An error answer: refused, but Redis is there, so a probe
                // that gets one closes the breaker all the same.
                self.answered(until);
                Counters::bump(&self.counters.errors);
                log::warn!("redis {} refused to {what}: {e}", self.config.url);
                None
            }
            Err((e, true)) => {
                Counters::bump(&self.counters.errors);
                // Relaxed: as in `may_try`. At least 1: 0 means up.
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
