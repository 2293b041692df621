//! The invalidation listener: removes from the local cache the sessions
//! other caches removed or took.
//!
//! Every tier subscribes to `prefix ‖ "invalidate"`. A cache that removes
//! or takes a session publishes `node ‖ id`, where `node` is 16 random
//! bytes naming the publishing cache, so it can ignore its own messages.
//! The listener runs on its own thread, reconnects after any failure, and
//! stops within [`POLL`] of its cache being dropped. It also sends the
//! removals that waited while Redis was away (`pending.rs`), a batch per
//! wake-up. Messages published
//! while it is disconnected are lost; the copies they concerned live on in
//! the local cache until they expire, are evicted or are flushed.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::link::{Counters, Link};
use crate::sync::{AtomicBool, Ordering};
use crate::SessionCache;

/// How often the listener looks up from a quiet channel to see whether it
/// should stop.
pub(crate) const POLL: Duration = Duration::from_millis(100);
/// Length of a cache's node name.
pub(crate) const NODE_LEN: usize = 16;

/// The channel invalidations travel on.
pub(crate) fn channel(prefix: &[u8]) -> Vec<u8> {
    let mut c = prefix.to_vec();
    c.extend_from_slice(b"invalidate");
    c
}

/// Starts the listener for `cache`.
pub(crate) fn spawn<V: Send + Sync + 'static>(
    link: Arc<Link>,
    node: [u8; NODE_LEN],
    cache: Weak<SessionCache<V>>,
    stop: Arc<AtomicBool>,
) {
    let name = "sesscache-redis-invalidate".to_owned();
    let spawned = thread::Builder::new()
        .name(name)
        .spawn(move || listen(&link, &node, &cache, &stop));
    if let Err(e) = spawned {
        log::error!("could not start the redis invalidation listener: {e}");
    }
}

fn stopped<V>(stop: &AtomicBool, cache: &Weak<SessionCache<V>>) -> bool {
    // Relaxed: a flag polled in a loop; nothing is published through it.
    stop.load(Ordering::Relaxed) || cache.strong_count() == 0
}

fn listen<V: Send + Sync + 'static>(
    link: &Link,
    node: &[u8; NODE_LEN],
    cache: &Weak<SessionCache<V>>,
    stop: &AtomicBool,
) {
    let channel = channel(&link.config.prefix);
    while !stopped(stop, cache) {
        if let Err(e) = session(link, &channel, node, cache, stop) {
            log::debug!("redis invalidation listener: {e}; reconnecting");
        }
        // Pause before reconnecting (at least one POLL, so a zero
        // `retry_after` cannot spin), in short steps so a drop is noticed.
        let mut waited = Duration::ZERO;
        loop {
            thread::sleep(POLL);
            waited += POLL;
            if waited >= link.config.retry_after || stopped(stop, cache) {
                break;
            }
        }
    }
}

/// One connection's worth of listening; returns on failure or stop.
fn session<V: Send + Sync + 'static>(
    link: &Link,
    channel: &[u8],
    node: &[u8; NODE_LEN],
    cache: &Weak<SessionCache<V>>,
    stop: &AtomicBool,
) -> redis::RedisResult<()> {
    let mut conn = link
        .config
        .client
        .get_connection_with_timeout(link.config.timeout)?;
    conn.set_write_timeout(Some(link.config.timeout))?;
    let mut pubsub = conn.as_pubsub();
    pubsub.set_read_timeout(Some(link.config.timeout.max(POLL)))?;
    pubsub.subscribe(channel)?;
    pubsub.set_read_timeout(Some(POLL))?;
    let mut next_drain = Instant::now();
    loop {
        if stopped(stop, cache) {
            return Ok(());
        }
        // Removals made while Redis was away: send them now that it
        // answers, a batch per wake-up; after a failure, wait a pause.
        if link.pending.len() > 0 && Instant::now() >= next_drain && !link.drain_some() {
            // A pause too long for an `Instant` (`Duration::MAX`) waits a
            // year instead of panicking this thread.
            let now = Instant::now();
            next_drain = now
                .checked_add(link.config.retry_after)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
                .unwrap_or(now);
        }
        let msg = match pubsub.get_message() {
            Ok(msg) => msg,
            Err(e) if e.is_timeout() => continue,
            Err(e) => return Err(e),
        };
        let payload = msg.get_payload_bytes();
        let Some((from, id)) = payload.split_first_chunk::<NODE_LEN>() else {
            continue;
        };
        if from == node {
            continue;
        }
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        // A panic from `on_remove`, or from a value's `drop` run by the
        // epoch's garbage here, must not end the listener: invalidations
        // and waiting removals would stop for good. It is logged; the
        // removal itself is complete (`remove_id` finishes before it
        // resumes a panic).
        match panic::catch_unwind(AssertUnwindSafe(|| cache.remove_id(id))) {
            Ok(true) => Counters::bump(&link.counters.invalidations),
            Ok(false) => {}
            Err(p) => {
                let what = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a panic");
                log::error!("redis invalidation listener: removing a session panicked: {what}");
            }
        }
    }
}
