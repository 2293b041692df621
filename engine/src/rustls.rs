//! The cache as rustls's server session store (feature `rustls`).
//!
//! ```no_run
//! # use std::sync::Arc;
//! use sesscache::{rustls::ServerSessionStore, SessionCache};
//! # fn config(mut config: rustls::ServerConfig) {
//! let cache = Arc::new(SessionCache::<Vec<u8>>::builder().capacity(100_000).build());
//! config.session_storage = Arc::new(ServerSessionStore::new(cache.clone()));
//! # }
//! ```
//!
//! rustls keeps TLS 1.2 sessions under their session id and TLS 1.3
//! stateful tickets under the ticket (both 32 random bytes); it calls
//! `get` to resume a TLS 1.2 session and `take` to redeem a TLS 1.3 ticket,
//! which must succeed at most once. These map onto
//! [`SessionStore::lookup_with`] and [`SessionStore::take`], whose exactly-
//! one-winner rule is the trait's "reliably delete". Sessions get the
//! cache's timeout; expiry, capacity, eviction and flushes are the cache's.

use core::fmt;
use std::sync::Arc;

use ::rustls::server::StoresServerSessions;

use crate::{SessionCache, SessionStore};

/// A [`StoresServerSessions`] backed by a [`SessionStore`]: a
/// [`SessionCache<Vec<u8>>`](SessionCache) or, with the feature `redis`, a
/// `redis::TieredCache<Vec<u8>>`.
///
/// | rustls | sesscache |
/// |---|---|
/// | `put(key, value)` | `store(new_session(key, value))`; `false` for a key that is empty or longer than 32 bytes |
/// | `get(key)` | `lookup_with(key, clone the value)` |
/// | `take(key)` | `take(key)` (single use) |
/// | `can_cache()` | `true` |
pub struct ServerSessionStore<S = SessionCache<Vec<u8>>> {
    store: Arc<S>,
}

impl<S> ServerSessionStore<S> {
    /// The adapter over `store`; keep a clone of the `Arc` to flush, remove
    /// or read statistics.
    pub fn new(store: Arc<S>) -> Self {
        ServerSessionStore { store }
    }

    /// The store behind the adapter.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }
}

impl<S> Clone for ServerSessionStore<S> {
    fn clone(&self) -> Self {
        ServerSessionStore {
            store: self.store.clone(),
        }
    }
}

impl<S> fmt::Debug for ServerSessionStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSessionStore").finish_non_exhaustive()
    }
}

impl<S: SessionStore<Vec<u8>> + 'static> StoresServerSessions for ServerSessionStore<S> {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        match self.store.new_session(&key, value) {
            Ok(session) => {
                self.store.store(&session);
                true
            }
            Err(_) => false,
        }
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.store.lookup_with(key, |s| s.value().clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let session = self.store.take(key)?;
        Some(Arc::try_unwrap(session).map_or_else(|s| s.value().clone(), |s| s.into_value()))
    }

    fn can_cache(&self) -> bool {
        true
    }
}
