//! End-to-end tests of `sesscache::openssl::install` with real OpenSSL
//! handshakes over loopback TCP.
//!
//! Each test runs a server `SslAcceptor` whose session cache is a
//! `SessionCache<Vec<u8>>` (external cache, sessions as DER) and a client
//! that saves its session after one connection and offers it on the next.
//! They show end to end that:
//!
//! - TLS 1.2 session-id resumption is served from the cache (`lookup`);
//! - a session removed through OpenSSL (`SSL_CTX_remove_session`) or through
//!   the cache (`remove_id`) no longer resumes;
//! - a TLS 1.3 stateful ticket resumes once and a replay of it does not
//!   (`take`);
//! - a session expires by the cache's clock, after the OpenSSL timeout;
//! - several `SslContext`s share one cache;
//! - a connection the server drops without `close_notify` loses its
//!   session (OpenSSL's `SSL_free` removes it through the remove callback);
//! - the automatic flush runs on the same full handshake as OpenSSL's own
//!   internal cache runs it.
//!
//! Every connection ends with a byte each way, so the client has processed
//! the server's TLS 1.3 tickets before it takes its session, and with
//! `close_notify` both ways (unless a test says otherwise).

use std::ffi::{c_int, c_long, c_uchar, c_uint};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sha::sha256;
use openssl::ssl::{
    ShutdownResult, SslAcceptor, SslAcceptorBuilder, SslConnector, SslMethod, SslOptions,
    SslSession, SslSessionRef, SslStream, SslVersion,
};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Name, X509};
use openssl_sys::{SSL_CTX, SSL_SESSION};
use sesscache::{CacheBuilder, ManualClock, Session, SessionCache};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Bounds every socket read and write, so a broken handshake fails the test
/// instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's certificate and key, trusted by the client.
struct Identity {
    cert: X509,
    key: PKey<Private>,
}

/// A self-signed P-256 certificate for `localhost`, valid for a day.
fn identity() -> Result<Identity> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509Name::builder()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "localhost")?;
    let name = name.build();
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(1)?;

    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .build(&cert.x509v3_context(None, None))?;
    cert.append_extension(san)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok(Identity {
        cert: cert.build(),
        key,
    })
}

/// A session as the adapter caches it: its DER encoding.
type Der = Arc<Session<Vec<u8>>>;

/// The sessions a cache's `on_new` hook saw, in order.
#[derive(Clone, Default)]
struct Stored(Arc<Mutex<Vec<Der>>>);

impl Stored {
    fn sessions(&self) -> Vec<Der> {
        self.0.lock().expect("on_new hook panicked").clone()
    }

    fn ids(&self) -> Vec<Vec<u8>> {
        self.sessions().iter().map(|s| s.id().to_vec()).collect()
    }
}

/// The cache `builder` builds, with an `on_new` hook recording each session.
fn cache(builder: CacheBuilder<Vec<u8>>) -> (Arc<SessionCache<Vec<u8>>>, Stored) {
    let stored = Stored::default();
    let seen = stored.clone();
    let cache = builder
        .on_new(move |s| seen.0.lock().expect("poisoned").push(s.clone()))
        .build();
    (Arc::new(cache), stored)
}

/// A server context speaking only `version`, with `SslOptions::NO_TICKET`
/// (TLS 1.2: session ids; TLS 1.3: stateful tickets) and `cache` installed.
/// Tests adjust it further before `build()`.
fn server_ctx(
    id: &Identity,
    cache: &Arc<SessionCache<Vec<u8>>>,
    version: SslVersion,
) -> Result<SslAcceptorBuilder> {
    let mut ctx = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    ctx.set_certificate(&id.cert)?;
    ctx.set_private_key(&id.key)?;
    ctx.set_min_proto_version(Some(version))?;
    ctx.set_max_proto_version(Some(version))?;
    ctx.set_options(SslOptions::NO_TICKET);
    ctx.set_session_id_context(b"sesscache-e2e")?;
    sesscache::openssl::install(&mut ctx, cache.clone());
    Ok(ctx)
}

/// A client trusting `id`'s certificate. One connector per test: every
/// session a test offers was made by a connection of that connector.
fn client(id: &Identity) -> Result<SslConnector> {
    let mut ctx = SslConnector::builder(SslMethod::tls_client())?;
    ctx.cert_store_mut().add_cert(id.cert.clone())?;
    Ok(ctx.build())
}

/// A listening server.
struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    acceptor: SslAcceptor,
    /// Whether the server sends `close_notify` before dropping a connection.
    close_notify: bool,
}

impl Server {
    fn new(acceptor: SslAcceptor) -> Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            acceptor,
            close_notify: true,
        })
    }
}

/// What one connection did, seen from both ends.
struct Handshake {
    client_reused: bool,
    server_reused: bool,
    /// The client's session after the connection (TLS 1.3: the last ticket).
    client: SslSession,
    /// The server's session of the connection.
    server: SslSession,
}

impl Handshake {
    /// Whether both ends agree the session was resumed; an error if they
    /// disagree.
    fn resumed(&self) -> Result<bool> {
        if self.client_reused != self.server_reused {
            return Err(format!(
                "client reused = {}, server reused = {}",
                self.client_reused, self.server_reused
            )
            .into());
        }
        Ok(self.client_reused)
    }
}

/// One connection from `client` to `server`, offering `offer`.
fn handshake(
    server: &Server,
    client: &SslConnector,
    offer: Option<&SslSessionRef>,
) -> Result<Handshake> {
    // The listener's backlog completes the TCP handshake, so both ends exist
    // before either thread can block.
    let client_tcp = TcpStream::connect(server.addr)?;
    let (server_tcp, _) = server.listener.accept()?;
    for tcp in [&client_tcp, &server_tcp] {
        // No Nagle: each end's last small record would otherwise wait for
        // the peer's delayed acknowledgement (tens of milliseconds).
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    }
    thread::scope(|scope| {
        let server_side = scope.spawn(|| serve(server, server_tcp));
        // An error here drops the client's socket, so the server fails too.
        let client_side = connect(client, client_tcp, offer, server.close_notify);
        let server_side = server_side.join().map_err(|_| "server thread panicked")?;
        let ((client_reused, client), (server_reused, server)) = (client_side?, server_side?);
        Ok(Handshake {
            client_reused,
            server_reused,
            client,
            server,
        })
    })
}

/// The server's end.
fn serve(server: &Server, tcp: TcpStream) -> Result<(bool, SslSession)> {
    let mut tls = server
        .acceptor
        .accept(tcp)
        .map_err(|e| format!("server handshake: {e}"))?;
    tls.write_all(b"s")?;
    tls.read_exact(&mut [0])?;
    if server.close_notify {
        close(&mut tls)?;
    }
    outcome(&tls)
}

/// The client's end; it exchanges `close_notify` with the server if the
/// server sends one.
fn connect(
    connector: &SslConnector,
    tcp: TcpStream,
    offer: Option<&SslSessionRef>,
    close_notify: bool,
) -> Result<(bool, SslSession)> {
    let mut ssl = connector.configure()?.into_ssl("localhost")?;
    if let Some(session) = offer {
        // SAFETY: each test uses one connector, and every session it offers
        // was made by an earlier connection of that connector, so the
        // session belongs to this `Ssl`'s context.
        unsafe { ssl.set_session(session)? };
    }
    let mut tls = ssl
        .connect(tcp)
        .map_err(|e| format!("client handshake: {e}"))?;
    // The server's TLS 1.3 tickets precede its byte.
    tls.read_exact(&mut [0])?;
    tls.write_all(b"c")?;
    if close_notify {
        close(&mut tls)?;
    }
    outcome(&tls)
}

/// Sends `close_notify` and waits for the peer's.
fn close(tls: &mut SslStream<TcpStream>) -> Result<()> {
    match (tls.shutdown()?, tls.shutdown()?) {
        (ShutdownResult::Sent, ShutdownResult::Received) => Ok(()),
        other => Err(format!("unexpected shutdown sequence {other:?}").into()),
    }
}

fn outcome(tls: &SslStream<TcpStream>) -> Result<(bool, SslSession)> {
    let session = tls.ssl().session().ok_or("no session")?.to_owned();
    Ok((tls.ssl().session_reused(), session))
}

#[test]
fn tls12_session_id_resumes_from_the_cache() -> Result<()> {
    let id = identity()?;
    let (cache, stored) = cache(SessionCache::builder());
    let server = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    let client = client(&id)?;

    let first = handshake(&server, &client, None)?;
    assert!(
        !first.resumed()?,
        "the first connection is a full handshake"
    );
    assert_eq!(cache.len(), 1);
    assert_eq!(
        stored.ids(),
        [first.client.id()],
        "the cached id is the client's"
    );
    let hits = cache.stats().hits;

    let second = handshake(&server, &client, Some(&first.client))?;
    assert!(second.resumed()?, "the second connection resumes");
    assert_eq!(second.client.id(), first.client.id());
    assert_eq!(cache.stats().hits, hits + 1, "served by one cache lookup");
    assert_eq!(cache.len(), 1, "a resumption stores nothing new");
    assert_eq!(stored.sessions().len(), 1);
    Ok(())
}

#[test]
fn a_removed_session_does_not_resume() -> Result<()> {
    let id = identity()?;
    let (cache, _) = cache(SessionCache::builder());
    let server = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    let client = client(&id)?;

    // Through OpenSSL: SSL_CTX_remove_session reaches the remove callback.
    let full = handshake(&server, &client, None)?;
    assert!(cache.contains(full.client.id()));
    // SAFETY: `full.server` is the session of a connection of this very
    // context and was never used with another one.
    // Its return value is false: with NO_INTERNAL, OpenSSL's own table is
    // empty; only the callback removes the session.
    let _ = unsafe { server.acceptor.context().remove_session(&full.server) };
    assert!(!cache.contains(full.client.id()), "removed from the cache");
    let after = handshake(&server, &client, Some(&full.client))?;
    assert!(!after.resumed()?, "removed through OpenSSL: full handshake");

    // Through the cache.
    let full = handshake(&server, &client, None)?;
    assert!(cache.remove_id(full.client.id()));
    let after = handshake(&server, &client, Some(&full.client))?;
    assert!(
        !after.resumed()?,
        "removed through the cache: full handshake"
    );
    Ok(())
}

#[test]
fn tls13_stateful_ticket_resumes_once() -> Result<()> {
    let id = identity()?;
    let (cache, stored) = cache(SessionCache::builder());
    let mut ctx = server_ctx(&id, &cache, SslVersion::TLS1_3)?;
    ctx.set_num_tickets(1)?; // OpenSSL's default is 2 per full handshake.
    let server = Server::new(ctx.build())?;
    let client = client(&id)?;

    let first = handshake(&server, &client, None)?;
    assert!(!first.resumed()?);
    let ticket = stored.ids();
    assert_eq!(ticket.len(), 1, "one ticket, one cached session");
    // The stateful ticket is the server's session id; the client names its
    // session by the ticket's SHA-256.
    assert_eq!(sha256(&ticket[0]), first.client.id());

    let second = handshake(&server, &client, Some(&first.client))?;
    assert!(second.resumed()?, "the ticket resumes");
    assert!(!cache.contains(&ticket[0]), "the ticket was taken");

    let replay = handshake(&server, &client, Some(&first.client))?;
    assert!(!replay.resumed()?, "a replayed ticket does not resume");

    // The ticket issued by the resumption is good for one more.
    let third = handshake(&server, &client, Some(&second.client))?;
    assert!(third.resumed()?, "the new ticket resumes");
    Ok(())
}

#[test]
fn a_session_expires_by_the_cache_clock() -> Result<()> {
    const T0: u64 = 1_000_000;
    let id = identity()?;
    let clock = ManualClock::new(T0);
    // The adapter stamps sessions with their OpenSSL timeout (the context's
    // default here, 7200 s); the cache's own timeout (for `new_session`)
    // does not apply to them.
    let (cache, stored) = cache(SessionCache::builder().clock(clock.clone()).timeout(60));
    let server = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    let client = client(&id)?;

    let first = handshake(&server, &client, None)?;
    assert!(!first.resumed()?);
    let openssl_timeout = u64::try_from(first.server.timeout())?;
    let session = stored.sessions().pop().ok_or("nothing stored")?;
    assert_eq!((session.time(), session.timeout()), (T0, openssl_timeout));

    // OpenSSL's own clock has moved by milliseconds: only the cache's
    // decides.
    clock.advance(openssl_timeout);
    let at_expiry = handshake(&server, &client, Some(&first.client))?;
    assert!(at_expiry.resumed()?, "alive up to its expiry");

    clock.advance(1);
    let timeouts = cache.stats().timeouts;
    let after = handshake(&server, &client, Some(&first.client))?;
    assert!(!after.resumed()?, "expired: full handshake");
    assert_eq!(cache.stats().timeouts, timeouts + 1);
    assert!(!cache.contains(first.client.id()));
    Ok(())
}

#[test]
fn contexts_sharing_a_cache_resume_each_others_sessions() -> Result<()> {
    let id = identity()?;
    let (cache, _) = cache(SessionCache::builder());
    let a = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    let b = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    let client = client(&id)?;

    let on_a = handshake(&a, &client, None)?;
    assert!(!on_a.resumed()?);
    let on_b = handshake(&b, &client, Some(&on_a.client))?;
    assert!(on_b.resumed()?, "a session of server A resumes on server B");
    assert_eq!(cache.len(), 1);
    Ok(())
}

#[test]
fn a_connection_dropped_without_close_notify_loses_its_session() -> Result<()> {
    let id = identity()?;
    let (cache, _) = cache(SessionCache::builder());
    let mut server = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    server.close_notify = false;
    let client = client(&id)?;

    // `SSL_free` of a connection that sent no close_notify removes its
    // session (`ssl_clear_bad_session`), through the remove callback.
    let first = handshake(&server, &client, None)?;
    assert!(!cache.contains(first.client.id()));
    let second = handshake(&server, &client, Some(&first.client))?;
    assert!(!second.resumed()?);
    Ok(())
}

/// With early data enabled, OpenSSL's own anti-replay checks a redeemed
/// stateful ticket with `SSL_CTX_remove_session`, which finds nothing in
/// OpenSSL's table under `NO_INTERNAL`; without `SSL_OP_NO_ANTI_REPLAY`
/// (set by `install`) every ticket would be refused. The adapter's `take`
/// is the anti-replay: the ticket resumes once, and a replay does not.
#[test]
fn tls13_ticket_resumes_with_early_data_enabled() -> Result<()> {
    let id = identity()?;
    let (cache, _) = cache(SessionCache::builder());
    let mut ctx = server_ctx(&id, &cache, SslVersion::TLS1_3)?;
    ctx.set_max_early_data(16384)?;
    let server = Server::new(ctx.build())?;
    let client = client(&id)?;

    let first = handshake(&server, &client, None)?;
    let second = handshake(&server, &client, Some(&first.client))?;
    assert!(second.resumed()?, "the ticket resumes");
    let replay = handshake(&server, &client, Some(&first.client))?;
    assert!(!replay.resumed()?, "a replayed ticket does not");
    Ok(())
}

extern "C" {
    fn SSL_SESSION_new() -> *mut SSL_SESSION;
    fn SSL_SESSION_set1_id(s: *mut SSL_SESSION, sid: *const c_uchar, sid_len: c_uint) -> c_int;
    fn SSL_SESSION_set_time(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_SESSION_set_timeout(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_CTX_add_session(ctx: *mut SSL_CTX, s: *mut SSL_SESSION) -> c_int;
    fn SSL_SESSION_free(s: *mut SSL_SESSION);
}

/// The id of the session both caches hold, expired, before the handshakes.
const STALE: &[u8] = b"stale-session";

/// Full handshakes from fresh clients until `flushed` reads non-zero, at
/// most `limit`; `done` counts them for the remove hooks.
fn full_handshakes_until(
    server: &Server,
    client: &SslConnector,
    done: &AtomicUsize,
    flushed: &AtomicUsize,
    limit: usize,
) -> Result<()> {
    while flushed.load(Ordering::SeqCst) == 0 && done.load(Ordering::SeqCst) < limit {
        let h = handshake(server, client, None)?;
        assert!(!h.resumed()?, "every connection is a full handshake");
        done.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// OpenSSL's internal cache flushes expired sessions from
/// `ssl_update_cache`, testing `accept_good & 0xff == 0xff` before the
/// handshake is counted: on the 256th full handshake. A cache installed
/// through the adapter must flush on the same one (its `store` counts).
#[test]
fn the_automatic_flush_runs_on_the_same_handshake_as_openssls() -> Result<()> {
    const LIMIT: usize = 600;
    let id = identity()?;
    let client = client(&id)?;

    // OpenSSL's own cache, holding one session that expired long ago.
    let (done, flushed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut ctx = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    ctx.set_certificate(&id.cert)?;
    ctx.set_private_key(&id.key)?;
    ctx.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    ctx.set_max_proto_version(Some(SslVersion::TLS1_2))?;
    ctx.set_options(SslOptions::NO_TICKET);
    ctx.set_session_id_context(b"sesscache-e2e")?;
    let (d, f) = (done.clone(), flushed.clone());
    ctx.set_remove_session_callback(move |_, s| {
        if s.id() == STALE {
            f.store(d.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        }
    });
    let acceptor = ctx.build();
    // SAFETY: a fresh session, given its id, time and timeout, then added
    // to the context (which takes its own reference) and released.
    unsafe {
        let s = SSL_SESSION_new();
        assert!(!s.is_null());
        assert_eq!(
            SSL_SESSION_set1_id(s, STALE.as_ptr(), STALE.len() as c_uint),
            1
        );
        SSL_SESSION_set_time(s, 1_000);
        SSL_SESSION_set_timeout(s, 10);
        assert_eq!(SSL_CTX_add_session(acceptor.context().as_ptr(), s), 1);
        SSL_SESSION_free(s);
    }
    let server = Server::new(acceptor)?;
    full_handshakes_until(&server, &client, &done, &flushed, LIMIT)?;
    let theirs = flushed.load(Ordering::SeqCst);

    // sesscache through the adapter, holding the same expired session.
    let (done, flushed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (d, f) = (done.clone(), flushed.clone());
    let (cache, _) = cache(
        SessionCache::builder()
            .clock(ManualClock::new(1_000_000))
            .on_remove(move |s| {
                if s.id() == STALE {
                    f.store(d.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
                }
            }),
    );
    cache.add(&Arc::new(Session::new(STALE, 1_000, 10, Vec::new())?));
    let server = Server::new(server_ctx(&id, &cache, SslVersion::TLS1_2)?.build())?;
    full_handshakes_until(&server, &client, &done, &flushed, LIMIT)?;
    let ours = flushed.load(Ordering::SeqCst);

    assert_ne!(theirs, 0, "OpenSSL flushed within {LIMIT} handshakes");
    assert_eq!(ours, theirs, "the full handshake whose store flushed");
    Ok(())
}
