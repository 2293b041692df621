//! What a TLS integration needs from a session cache.
//!
//! The adapters for rustls ([`crate::rustls`]) and OpenSSL
//! ([`crate::openssl`]) are written against [`SessionStore`], so they work
//! the same over a plain [`SessionCache`] and over a cache with a shared
//! second tier (`redis::TieredCache`, feature `redis`).

use std::sync::Arc;

use crate::{Error, Session, SessionCache};

/// A session cache as the TLS adapters see it. Implemented by
/// [`SessionCache`]; with the feature `redis`, also by
/// `redis::TieredCache`, whose `lookup` falls back to Redis and whose `take`
/// and `remove_id` act on the whole fleet.
pub trait SessionStore<V>: Send + Sync {
    /// The clock's current time, seconds since the UNIX epoch.
    fn now(&self) -> u64;

    /// The lifetime in seconds given to sessions by
    /// [`new_session`](Self::new_session).
    fn timeout(&self) -> u64;

    /// A new session stamped with [`now`](Self::now) and
    /// [`timeout`](Self::timeout); an id that is empty or longer than 32
    /// bytes is an [`Error`].
    fn new_session(&self, id: &[u8], value: V) -> Result<Arc<Session<V>>, Error> {
        Session::new(id, self.now(), self.timeout(), value).map(Arc::new)
    }

    /// Stores a session after a full handshake ([`SessionCache::store`]).
    fn store(&self, session: &Arc<Session<V>>);

    /// The resumption lookup ([`SessionCache::lookup`]).
    fn lookup(&self, id: &[u8]) -> Option<Arc<Session<V>>>;

    /// The resumption lookup, handing the session to `f`
    /// ([`SessionCache::lookup_with`]).
    fn lookup_with<R>(&self, id: &[u8], f: impl FnOnce(&Session<V>) -> R) -> Option<R>;

    /// Removes the session cached under `id` ([`SessionCache::remove_id`]).
    fn remove_id(&self, id: &[u8]) -> bool;

    /// Takes a session for a single use ([`SessionCache::take`]): among
    /// concurrent takers of one id exactly one gets it.
    fn take(&self, id: &[u8]) -> Option<Arc<Session<V>>>;
}

impl<V: Send + Sync + 'static> SessionStore<V> for SessionCache<V> {
    fn now(&self) -> u64 {
        SessionCache::now(self)
    }
    fn timeout(&self) -> u64 {
        SessionCache::timeout(self)
    }
    fn new_session(&self, id: &[u8], value: V) -> Result<Arc<Session<V>>, Error> {
        SessionCache::new_session(self, id, value)
    }
    fn store(&self, session: &Arc<Session<V>>) {
        SessionCache::store(self, session);
    }
    fn lookup(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        SessionCache::lookup(self, id)
    }
    fn lookup_with<R>(&self, id: &[u8], f: impl FnOnce(&Session<V>) -> R) -> Option<R> {
        SessionCache::lookup_with(self, id, f)
    }
    fn remove_id(&self, id: &[u8]) -> bool {
        SessionCache::remove_id(self, id)
    }
    fn take(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        SessionCache::take(self, id)
    }
}
