//! The cache as the external session cache of an OpenSSL server (feature
//! `openssl`).
//!
//! [`install`] turns off OpenSSL's internal cache (`SSL_SESS_CACHE_SERVER |
//! SSL_SESS_CACHE_NO_INTERNAL`) and installs the three external-cache
//! callbacks, so every session of the `SslContext` lives in sesscache:
//!
//! | OpenSSL callback | sesscache |
//! |---|---|
//! | `new_session_cb` (after a full handshake) | `store` of the session's DER (`i2d_SSL_SESSION`) |
//! | `get_session_cb` (a client offers an id or a stateful TLS 1.3 ticket) | TLS 1.2 and older: `lookup`; TLS 1.3: `take` (single use); the DER is decoded with `d2i_SSL_SESSION` |
//! | `remove_session_cb` (`SSL_CTX_remove_session`, a session found bad) | `remove_id` |
//!
//! The cached value is the session's DER encoding, so the same cache (or a
//! shared second tier) can serve any number of `SslContext`s and processes.
//! A session lives in the cache for its OpenSSL timeout
//! (`SSL_CTX_set_timeout`), counted from when it was stored by the cache's
//! clock. OpenSSL checks the decoded session's own time and timeout again.
//!
//! For TLS 1.3, OpenSSL consults the session cache only for stateful
//! tickets, so [`install`] sets `SslOptions::NO_TICKET`: otherwise OpenSSL
//! issues stateless tickets that carry the whole session and never reach a
//! cache.
//!
//! ```no_run
//! use std::sync::Arc;
//! use openssl::ssl::{SslAcceptor, SslMethod};
//! use sesscache::SessionCache;
//!
//! let cache = Arc::new(SessionCache::<Vec<u8>>::builder().build());
//! let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
//! acceptor.set_session_id_context(b"my-service")?;
//! sesscache::openssl::install(&mut acceptor, cache.clone());
//! # Ok::<(), openssl::error::ErrorStack>(())
//! ```

use std::sync::Arc;

use ::openssl::ssl::{
    SslContextBuilder, SslContextRef, SslOptions, SslRef, SslSession, SslSessionCacheMode,
    SslSessionRef, SslVersion,
};

use crate::{Session, SessionStore};

/// OpenSSL's `SSL_OP_NO_ANTI_REPLAY` (the `openssl` crate has no name for it).
const SSL_OP_NO_ANTI_REPLAY: u64 = 0x0100_0000;

/// Makes `store` the session cache of the contexts `builder` builds: sets
/// the cache mode to `SERVER | NO_INTERNAL`, sets `SSL_OP_NO_TICKET` (no
/// stateless tickets: TLS 1.3 tickets are stateful, kept in the cache) and
/// `SSL_OP_NO_ANTI_REPLAY` (OpenSSL's anti-replay needs its internal cache;
/// the adapter's `take` makes each TLS 1.3 ticket single use instead), and
/// installs the new, get and remove callbacks. Clearing `NO_TICKET`
/// afterwards would bring back stateless tickets, which bypass the cache
/// and its single use. The callbacks never panic: a session that cannot be
/// encoded or decoded, or whose id the cache cannot hold, is simply not
/// cached or not found (the handshake is then a full one).
///
/// Resumption also needs a session id context
/// (`SslContextBuilder::set_session_id_context`), which is the server's to
/// choose.
pub fn install<S: SessionStore<Vec<u8>> + 'static>(builder: &mut SslContextBuilder, store: Arc<S>) {
    builder.set_session_cache_mode(SslSessionCacheMode::SERVER | SslSessionCacheMode::NO_INTERNAL);
    // No stateless tickets: every session lives in the cache, and each
    // TLS 1.3 ticket is a stateful one that `take` redeems once. That is
    // the anti-replay, so OpenSSL's own is turned off: with early data
    // enabled it accepts a ticket only if removing it from its internal
    // table succeeds, and that table is empty here. (Turning it off while
    // stateless tickets were still issued would accept replayed 0-RTT
    // data; NO_TICKET rules that out.)
    builder
        .set_options(SslOptions::NO_TICKET | SslOptions::from_bits_retain(SSL_OP_NO_ANTI_REPLAY));

    let on_new = store.clone();
    builder.set_new_session_callback(move |_ssl: &mut SslRef, session: SslSession| {
        store_session(&*on_new, &session);
    });

    let on_remove = store.clone();
    builder.set_remove_session_callback(move |_ctx: &SslContextRef, session: &SslSessionRef| {
        on_remove.remove_id(session.id());
    });

    let on_get = store;
    let get = move |ssl: &mut SslRef, id: &[u8]| -> Option<SslSession> {
        // Decoded straight from the cached DER: no copy of it is made.
        let decode = |s: &Session<Vec<u8>>| SslSession::from_der(s.value()).ok();
        if ssl.version2() == Some(SslVersion::TLS1_3) {
            // A stateful TLS 1.3 ticket is redeemed once (RFC 8446, 8.1).
            on_get.take(id).and_then(|s| decode(&s))
        } else {
            on_get.lookup_with(id, decode).flatten()
        }
    };
    // SAFETY: the callback returns only sessions freshly decoded from DER by
    // `SslSession::from_der`, which belong to no `SslContext`; the
    // requirement of `set_get_session_callback` is that a returned session
    // is not associated with a different context.
    unsafe { builder.set_get_session_callback(get) };
}

/// Stores `session`'s DER under its id, living its OpenSSL timeout.
fn store_session<S: SessionStore<Vec<u8>>>(store: &S, session: &SslSessionRef) {
    let Ok(der) = session.to_der() else {
        return;
    };
    let timeout = u64::try_from(session.timeout()).unwrap_or(0);
    if let Ok(s) = Session::new(session.id(), store.now(), timeout, der) {
        store.store(&Arc::new(s));
    }
}
