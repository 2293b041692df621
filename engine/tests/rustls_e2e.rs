//! End to end: real rustls handshakes resuming through `sesscache`.
//!
//! A rustls client and server (the ring provider, a self-signed certificate
//! made with rcgen) run complete handshakes in memory: the bytes are pumped
//! between a `ClientConnection` and a `ServerConnection`, no sockets. The
//! server's `session_storage` is [`ServerSessionStore`] over a
//! `SessionCache<Vec<u8>>` and no ticketer is configured, so every
//! resumption is stateful and goes through the cache. Whether a handshake
//! resumed is read from `handshake_kind()` at both ends. Shown here:
//!
//! * TLS 1.2 session-id resumption looks the session up in the cache, under
//!   the id the full handshake stored;
//! * TLS 1.3 stateful tickets are single use: the resumption takes the
//!   ticket out of the cache, and the same ClientHello replayed afterwards
//!   gets a full handshake;
//! * the cache's timeout, `remove_id`, `flush` and capacity eviction decide
//!   whether rustls can resume;
//! * the adapter refuses keys the cache cannot hold and says it caches.

#[path = "common/tls.rs"]
mod tls;

use std::sync::{Arc, Mutex, PoisonError};

use rustls::server::StoresServerSessions;
use rustls::version::{TLS12, TLS13};
use rustls::{HandshakeKind, ServerConfig, ServerConnection, SupportedProtocolVersion};
use sesscache::rustls::ServerSessionStore;
use sesscache::{CacheBuilder, ManualClock, SessionCache};
use tls::{client_config, feed, handshake, identity, Identity, Result};

type Cache = SessionCache<Vec<u8>>;

/// A TLS server over `cache` (see [`tls::server_config`]).
fn server_config(
    id: &Identity,
    version: &'static SupportedProtocolVersion,
    cache: &Arc<Cache>,
) -> Result<Arc<ServerConfig>> {
    tls::server_config(
        id,
        version,
        Arc::new(ServerSessionStore::new(cache.clone())),
    )
}
/// Where the manual clocks start.
const T0: u64 = 1_700_000_000;
/// The session lifetime of the expiry tests.
const TIMEOUT: u64 = 300;

// ---------------------------------------------------------------------------
// Certificates and configurations.

/// The ids of the sessions a cache stored, in order (its `on_new` hook).
#[derive(Debug, Clone, Default)]
struct StoredIds(Arc<Mutex<Vec<Vec<u8>>>>);

impl StoredIds {
    fn all(&self) -> Vec<Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn last(&self) -> Result<Vec<u8>> {
        self.all()
            .pop()
            .ok_or_else(|| "the cache stored no session".into())
    }
}

/// The cache `builder` makes, recording the id of every session stored.
fn recording(builder: CacheBuilder<Vec<u8>>) -> (Arc<Cache>, StoredIds) {
    let ids = StoredIds::default();
    let hook = ids.clone();
    let cache = builder
        .on_new(move |s| {
            hook.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(s.id().to_vec());
        })
        .build();
    (Arc::new(cache), ids)
}

// ---------------------------------------------------------------------------
// Handshakes in memory.

/// Replays a recorded ClientHello to a new server connection, as an attacker
/// could: the kind the server chose for it (its ServerHello is sent at once;
/// the handshake cannot complete without the client's keys).
fn replay(server_cfg: &Arc<ServerConfig>, client_hello: &[u8]) -> Result<HandshakeKind> {
    let mut server = ServerConnection::new(server_cfg.clone())?;
    feed(&mut server, client_hello)?;
    server
        .handshake_kind()
        .ok_or_else(|| "the server did not answer the ClientHello".into())
}

/// Whether `client_hello` carries `id` (a TLS 1.2 session id or a TLS 1.3
/// ticket; both travel in the clear). Ids are 32 random bytes, so a chance
/// match is impossible.
fn offers(client_hello: &[u8], id: &[u8]) -> bool {
    client_hello.windows(id.len()).any(|w| w == id)
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn tls12_session_id_resumption_goes_through_the_cache() -> Result {
    let id = identity()?;
    let (cache, stored) = recording(Cache::builder());
    let server = server_config(&id, &TLS12, &cache)?;
    let client = client_config(&id, &TLS12)?;

    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    let session_id = stored.last()?;
    assert_eq!(session_id.len(), 32, "rustls's session ids are 32 bytes");
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().hits, 0);

    let second = handshake(&client, &server)?;
    assert_eq!(second.kind, HandshakeKind::Resumed);
    assert!(
        offers(&second.client_hello, &session_id),
        "the client offered the id the server stored"
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 0),
        "one lookup, of that id, and it hit"
    );
    assert_eq!(stored.all().len(), 1, "a resumption stores nothing");

    // A TLS 1.2 session is not single use: the lookup left it cached.
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Resumed);
    assert!(cache.contains(&session_id));
    assert_eq!(cache.stats().hits, 2);
    Ok(())
}

#[test]
fn tls13_stateful_tickets_are_single_use() -> Result {
    let id = identity()?;
    let (cache, stored) = recording(Cache::builder());
    let server = server_config(&id, &TLS13, &cache)?;
    let client = client_config(&id, &TLS13)?;

    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    let ticket = stored.last()?;
    assert_eq!(stored.all().len(), 1, "send_tls13_tickets = 1");
    assert!(cache.contains(&ticket));

    // The client redeems the ticket: the server takes it out of the cache
    // (and issues a new one).
    let second = handshake(&client, &server)?;
    assert_eq!(second.kind, HandshakeKind::Resumed);
    assert!(offers(&second.client_hello, &ticket));
    assert!(!cache.contains(&ticket), "the resumption took the ticket");
    assert_eq!(cache.stats().hits, 1);
    let fresh = stored.last()?;
    assert_ne!(fresh, ticket);
    assert_eq!(cache.len(), 1, "only the new ticket is cached");

    // The same ClientHello, replayed: the ticket is gone, so no resumption.
    assert_eq!(
        replay(&server, &second.client_hello)?,
        HandshakeKind::Full,
        "a replayed ticket must not resume"
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 1),
        "the replay's take found nothing"
    );

    // The honest client still resumes, with the ticket it was given last.
    let fourth = handshake(&client, &server)?;
    assert_eq!(fourth.kind, HandshakeKind::Resumed);
    assert!(offers(&fourth.client_hello, &fresh));
    assert!(!cache.contains(&fresh));
    Ok(())
}

#[test]
fn tls12_sessions_expire_with_the_cache_timeout() -> Result {
    let id = identity()?;
    let clock = ManualClock::new(T0);
    let (cache, _) = recording(Cache::builder().clock(clock.clone()).timeout(TIMEOUT));
    let server = server_config(&id, &TLS12, &cache)?;
    let client = client_config(&id, &TLS12)?;

    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    clock.advance(TIMEOUT - 1);
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Resumed);
    // A resumption does not restamp the session: it was made at T0.
    clock.advance(2);
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    assert_eq!(cache.stats().timeouts, 1, "the lookup found it expired");
    Ok(())
}

#[test]
fn tls13_tickets_expire_with_the_cache_timeout() -> Result {
    let id = identity()?;
    let clock = ManualClock::new(T0);
    let (cache, _) = recording(Cache::builder().clock(clock.clone()).timeout(TIMEOUT));
    let server = server_config(&id, &TLS13, &cache)?;
    let client = client_config(&id, &TLS13)?;

    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    clock.advance(TIMEOUT - 1);
    // Resumes, and is given a new ticket stamped now.
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Resumed);
    clock.advance(TIMEOUT + 1);
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.timeouts),
        (1, 1),
        "the second take found its ticket expired"
    );
    Ok(())
}

#[test]
fn removed_and_flushed_sessions_do_not_resume() -> Result {
    let id = identity()?;
    let (cache, stored) = recording(Cache::builder());
    let server = server_config(&id, &TLS12, &cache)?;
    let client = client_config(&id, &TLS12)?;

    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Resumed);

    assert!(cache.remove_id(&stored.last()?));
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    assert_eq!(
        stored.all().len(),
        2,
        "the full handshake stored a new session"
    );

    assert_eq!(cache.flush(0), 1, "flush(0) removes every session");
    assert_eq!(handshake(&client, &server)?.kind, HandshakeKind::Full);
    assert_eq!(stored.all().len(), 3);
    Ok(())
}

#[test]
fn a_full_cache_evicts_the_oldest_session() -> Result {
    let id = identity()?;
    let (cache, _) = recording(Cache::builder().capacity(1).clock(ManualClock::new(T0)));
    let server = server_config(&id, &TLS12, &cache)?;
    let alice = client_config(&id, &TLS12)?;
    let bob = client_config(&id, &TLS12)?;

    assert_eq!(handshake(&alice, &server)?.kind, HandshakeKind::Full);
    assert_eq!(handshake(&bob, &server)?.kind, HandshakeKind::Full);
    assert_eq!(cache.stats().cache_full, 1, "bob's session evicted alice's");
    assert_eq!(handshake(&bob, &server)?.kind, HandshakeKind::Resumed);
    assert_eq!(handshake(&alice, &server)?.kind, HandshakeKind::Full);
    Ok(())
}

#[test]
fn the_adapter_refuses_ids_the_cache_cannot_hold() {
    let cache = Arc::new(Cache::builder().build());
    let store = ServerSessionStore::new(cache.clone());

    assert!(store.can_cache());
    assert!(!store.put(vec![7; 33], b"state".to_vec()), "33-byte key");
    assert!(!store.put(Vec::new(), b"state".to_vec()), "empty key");
    assert!(cache.is_empty());

    assert!(store.put(vec![7; 32], b"state".to_vec()));
    assert_eq!(store.get(&[7; 32]).as_deref(), Some(&b"state"[..]));
    assert_eq!(store.take(&[7; 32]).as_deref(), Some(&b"state"[..]));
    assert_eq!(store.take(&[7; 32]), None, "taken once");
    assert_eq!(store.get(&[7; 32]), None);
}
