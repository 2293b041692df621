//! A shared second tier in Redis, so a fleet of TLS servers resume each
//! other's sessions (feature `redis`).
//!
//! ```text
//!             store                lookup                 take / remove_id
//!               │                    │                          │
//!   ┌───────────▼────────────────────▼──────────────────────────▼─────────┐
//!   │ local SessionCache (lock-free; hits never leave the machine)        │
//!   └───────┬─────────────────────┬───────────────────────┬───────────────┘
//!   on_new: │ SET key v EX ttl    │ on_get (local miss):  │ GET+DEL key (take: Redis
//!           │                     │ GET key, fill local   │ decides the one winner)
//!           ▼                     ▼                       ▼ DEL key (remove)
//!   ┌─────────────────────────────────────────────────────────────────────┐
//!   │ Redis: prefix‖id → 0x01‖time‖timeout‖value, TTL = remaining life    │
//!   │ channel prefix‖"invalidate": node‖id  ──▶ other caches drop their copy │
//!   └─────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! - **Store** writes the session through with its remaining lifetime as
//!   the key's TTL (the engine's `on_new` hook, so it happens on
//!   [`SessionStore::store`] after the local add).
//! - **Lookup** is the local cache's; on a local miss its `on_get` hook asks
//!   Redis, and a session found there is added locally, so the next lookup
//!   on this machine is a local hit.
//! - **take** is single use across the fleet: the local copy is removed
//!   and a Lua script (`GET`, `DEL` and `PUBLISH`, atomic in Redis) picks
//!   the one winner among every cache that tries. When Redis cannot decide
//!   (unreachable, timed out, refused), nobody wins: `take` fails closed,
//!   a full handshake rather than a possible second use.
//! - **remove_id** removes the local copy, deletes the key and publishes an
//!   invalidation; every other cache's listener removes its copy.
//! - Flush, expiry and eviction stay local: Redis forgets a session by its
//!   TTL, and a session evicted here may still serve another machine.
//!
//! **Failures never reach the caller.** Every wait of a Redis operation (for
//! a pooled connection, on the socket, for each of its commands: a `take`
//! that finds its script unknown to Redis sends it again) is bounded by
//! what is left of [`RedisConfig::timeout`]; a failure is counted in
//! [`TierStats::errors`], logged once per outage through the `log` crate,
//! and opens a breaker: for [`RedisConfig::retry_after`] operations go to
//! the local cache only (counted in `skipped`), then exactly one caller
//! probes: any answer, an error answer included, closes the breaker; no
//! answer opens it for another pause. A connection that failed is never
//! reused, nor are the connections opened before it. An error *answer* (out of memory,
//! read-only replica) is counted and logged but is not an outage. The
//! listener reconnects by itself, and a panic from `on_remove` (or from a
//! value's `drop`) while it removes a session is logged, not fatal: it
//! goes on listening. Works with any Redis from 2.6 (Lua).
//!
//! **Limits.**
//! - Invalidations published while a listener is disconnected are lost (the
//!   copies concerned live until they expire locally).
//! - A session stored while Redis was unreachable exists only locally:
//!   other machines cannot resume it, and its `take` fails (no winner in
//!   Redis): a full handshake, never a second use.
//! - A `remove_id` made while Redis is unreachable removes the local copy
//!   at once and reaches Redis (and the other caches) only once Redis is
//!   back, sent by the invalidation listener: the id waits in a small
//!   locked set (at most 65 536 ids; touched only while something waits),
//!   and meanwhile this cache neither reads the session back, nor lets a
//!   `take` of it win, nor writes a new session with that id through.
//!   Other caches may resume it until then. Past 65 536 waiting ids, a
//!   further one is only counted in `errors`: this cache may then read
//!   that session back from Redis once Redis answers again.
//! - A reply that the `redis` crate's parser rejects drops its connection;
//!   one that it accepts although malformed cannot be told from a real
//!   answer.
//! - A read-through that races a remove (on this machine or another) may
//!   fill the local cache with the session just removed.
//! - An answer that trickles in can take longer than the timeout in all
//!   (each socket wait is bounded by what is left, not the reads of one
//!   answer together); a TLS 1.2 full
//!   handshake makes two Redis operations (a lookup miss, then a store).
//! - With OpenSSL, freeing a connection that ended without `close_notify`
//!   removes its session (OpenSSL's rule), which here removes it from the
//!   whole fleet.

mod codec;
mod config;
mod deadline;
mod link;
mod pending;
mod script;
mod subscriber;

use core::fmt;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

pub use config::{ConfigError, RedisConfig};
use link::{Counters, Link};
use subscriber::NODE_LEN;

use crate::session::SessionId;
use crate::sync::{AtomicBool, Ordering};
use crate::{CacheBuilder, Clock, Session, SessionCache, SessionStore, SystemClock};

/// What the Redis tier did, counted since the cache was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierStats {
    /// Sessions written through to Redis.
    pub writes: u64,
    /// Local misses that asked Redis.
    pub reads: u64,
    /// Of those, how many Redis answered with a session (including takes
    /// Redis granted).
    pub read_hits: u64,
    /// Keys deleted by `remove_id` or `take`.
    pub deletes: u64,
    /// Operations that failed or ran out of time.
    pub errors: u64,
    /// Operations not tried because Redis had just failed.
    pub skipped: u64,
    /// Local sessions removed because another cache removed or took them.
    pub invalidations: u64,
    /// Removals made while Redis could not be reached, still to be sent
    /// (a gauge, not a count).
    pub pending_removals: u64,
}

/// A local [`SessionCache`] with a shared second tier in Redis.
///
/// ```no_run
/// use std::sync::Arc;
/// use sesscache::redis::{RedisConfig, TieredCache};
/// use sesscache::{SessionCache, SessionStore};
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379/")?;
/// let cache = Arc::new(TieredCache::new(
///     SessionCache::<Vec<u8>>::builder().capacity(100_000),
///     config,
/// )?);
/// let s = cache.new_session(b"session-id", b"der".to_vec())?;
/// cache.store(&s); // local add, then SET in Redis with the remaining TTL
/// // On another machine, a local miss finds it in Redis.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TieredCache<V> {
    local: Arc<SessionCache<V>>,
    link: Arc<Link>,
    stop: Arc<AtomicBool>,
}

impl<V: AsRef<[u8]> + From<Vec<u8>> + Send + Sync + 'static> TieredCache<V> {
    /// The local cache `builder` describes, with the Redis tier `config`
    /// behind it. The builder's own hooks are kept: its `on_new` runs before
    /// the write-through; its `on_get` is asked when Redis has nothing. Nothing is
    /// connected yet: a Redis that is down now is not an error.
    ///
    /// # Errors
    /// [`ConfigError::ZeroTimeout`], [`ConfigError::TimeoutTooLong`],
    /// [`ConfigError::ZeroPoolSize`] or [`ConfigError::EmptyPrefix`].
    pub fn new(mut builder: CacheBuilder<V>, config: RedisConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let node = node_name();
        let link = Arc::new(Link::new(config, node));

        // The write-through needs the cache's time for the TTL.
        let clock: Arc<dyn Clock> =
            Arc::from(std::mem::replace(&mut builder.clock, Box::new(SystemClock)));
        builder.clock = Box::new(SharedClock(clock.clone()));

        let user_new = builder.on_new.take();
        let writer = link.clone();
        builder = builder.on_new(move |s| {
            if let Some(hook) = &user_new {
                hook(s);
            }
            write_through(&writer, s, clock.now());
        });

        let user_get = builder.on_get.take();
        let reader = link.clone();
        builder = builder.on_get(move |id| {
            read_through(&reader, id).or_else(|| user_get.as_ref().and_then(|hook| hook(id)))
        });

        let local = Arc::new(builder.build());
        let stop = Arc::new(AtomicBool::new(false));
        subscriber::spawn(link.clone(), node, Arc::downgrade(&local), stop.clone());
        Ok(TieredCache { local, link, stop })
    }

    /// The local cache: statistics, flush, capacity, and operations that
    /// should not touch Redis.
    pub fn local(&self) -> &SessionCache<V> {
        &self.local
    }

    /// What the tier did.
    pub fn tier_stats(&self) -> TierStats {
        let c = &self.link.counters;
        // Relaxed: statistics.
        let get = |a: &crate::sync::AtomicU64| a.load(Ordering::Relaxed);
        TierStats {
            writes: get(&c.writes),
            reads: get(&c.reads),
            read_hits: get(&c.read_hits),
            deletes: get(&c.deletes),
            errors: get(&c.errors),
            skipped: get(&c.skipped),
            invalidations: get(&c.invalidations),
            pending_removals: self.link.pending.len() as u64,
        }
    }

    /// Flushes the local cache ([`SessionCache::flush`]); Redis forgets
    /// expired sessions by their TTL.
    pub fn flush(&self, t: u64) -> usize {
        self.local.flush(t)
    }
}

impl<V> Drop for TieredCache<V> {
    fn drop(&mut self) {
        // Relaxed: the listener polls the flag; it also sees the cache's
        // last strong reference go.
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl<V> fmt::Debug for TieredCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredCache")
            .field("redis", &self.link.config.url)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// The builder's clock, shared with the write-through hook.
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> u64 {
        self.0.now()
    }
}

fn write_through<V: AsRef<[u8]>>(link: &Link, s: &Arc<Session<V>>, now: u64) {
    let Some(ttl) = codec::ttl(s, now) else {
        return;
    };
    if link.pending.contains(s.id()) {
        // The id's removal has not reached Redis yet, and would delete this
        // session there when it does: keep it local.
        return;
    }
    let key = link.key(s.id());
    let value = codec::encode(s);
    let done = link.run("store a session", |c| {
        redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .arg("EX")
            .arg(ttl)
            .query::<()>(c)
    });
    if done.is_some() {
        Counters::bump(&link.counters.writes);
    }
}

fn read_through<V: From<Vec<u8>>>(link: &Link, id: &[u8]) -> Option<Arc<Session<V>>> {
    if link.pending.contains(id) {
        return None; // removed here while Redis was away
    }
    let key = link.key(id);
    let bytes = link.run("look a session up", |c| {
        redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(c)
    })?;
    Counters::bump(&link.counters.reads);
    let session = codec::decode(id, bytes?)?;
    Counters::bump(&link.counters.read_hits);
    Some(Arc::new(session))
}

/// 16 bytes that name this cache among all caches sharing the Redis.
fn node_name() -> [u8; NODE_LEN] {
    let mut out = [0u8; NODE_LEN];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

impl<V: AsRef<[u8]> + From<Vec<u8>> + Send + Sync + 'static> SessionStore<V> for TieredCache<V> {
    fn now(&self) -> u64 {
        self.local.now()
    }

    fn timeout(&self) -> u64 {
        self.local.timeout()
    }

    /// [`SessionCache::store`], then a write-through to Redis with the
    /// session's remaining lifetime as TTL.
    fn store(&self, session: &Arc<Session<V>>) {
        self.local.store(session);
    }

    /// [`SessionCache::lookup`]; a local miss asks Redis.
    fn lookup(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        self.local.lookup(id)
    }

    fn lookup_with<R>(&self, id: &[u8], f: impl FnOnce(&Session<V>) -> R) -> Option<R> {
        self.local.lookup_with(id, f)
    }

    /// Removes the session here and in Redis, and tells the other caches.
    fn remove_id(&self, id: &[u8]) -> bool {
        if SessionId::new(id).is_err() {
            return false; // no session can have this id, here or in Redis
        }
        let here = self.local.remove_id(id);
        let there = match self.link.delete(&[id.to_vec()]) {
            Some(n) => {
                if n > 0 {
                    Counters::bump(&self.link.counters.deletes);
                }
                n > 0
            }
            None => {
                // Redis did not hear of it: keep the id until it does, and
                // meanwhile never read the session back.
                if !self.link.pending.add(id) {
                    Counters::bump(&self.link.counters.errors);
                }
                false
            }
        };
        here || there
    }

    /// Single use across every cache sharing the Redis: the local copy is
    /// removed, and Redis decides the one winner. When Redis cannot decide
    /// (unreachable, timed out, refused), nobody wins: the caller gets
    /// `None`, a full handshake rather than a possible second use.
    fn take(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        if SessionId::new(id).is_err() {
            return None; // no session can have this id, here or in Redis
        }
        // Checked before asking Redis: a removal waiting for Redis may be
        // confirmed (and leave the set) while the script runs.
        let removed_meanwhile = self.link.pending.contains(id);
        let here = self.local.take(id);
        let (key, channel, msg) = (
            self.link.key(id),
            self.link.channel(),
            self.link.invalidation(id),
        );
        let answer = self.link.run("take a session", |c| {
            self.link
                .take_script
                .invoke::<Option<Vec<u8>>>(c, &[&key], &[&channel, &msg])
        });
        let bytes = answer??;
        Counters::bump(&self.link.counters.deletes);
        if removed_meanwhile {
            return None; // removed here while Redis was away: not a winner
        }
        if here.is_some() {
            return here;
        }
        let session: Session<V> = codec::decode(id, bytes)?;
        Counters::bump(&self.link.counters.read_hits);
        session.mark_not_resumable();
        (!session.is_expired_at(self.local.now())).then(|| Arc::new(session))
    }
}
