//! A cached TLS session and its id.

use core::fmt;

use crate::sync::{AtomicBool, AtomicU64, Ordering};
use crate::Error;

/// The longest session id, in bytes (`SSL_MAX_SSL_SESSION_ID_LENGTH`).
pub const MAX_ID_LEN: usize = 32;

/// A session id of 1 to 32 bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionId {
    len: u8,
    bytes: [u8; MAX_ID_LEN],
}

impl SessionId {
    #[inline]
    pub(crate) fn new(id: &[u8]) -> Result<SessionId, Error> {
        // The common case (TLS session ids and ticket ids are 32 bytes): the
        // id is built in place from a fixed-size copy, with no zeroing first
        // and no memmove call.
        if let Ok(full) = <&[u8; MAX_ID_LEN]>::try_from(id) {
            return Ok(SessionId {
                len: MAX_ID_LEN as u8,
                bytes: *full,
            });
        }
        SessionId::new_short(id)
    }

    /// [`new`](Self::new) for ids that are not 32 bytes long.
    #[cold]
    fn new_short(id: &[u8]) -> Result<SessionId, Error> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        if id.len() > MAX_ID_LEN {
            return Err(Error::IdTooLong { len: id.len() });
        }
        let mut bytes = [0; MAX_ID_LEN];
        bytes[..id.len()].copy_from_slice(id);
        Ok(SessionId {
            // The length was checked against MAX_ID_LEN (32) just above.
            len: id.len() as u8,
            bytes,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A resumable TLS session: its id, when it was made, how long it lives, and
/// the application's value (typically the serialized session state).
///
/// A session has expired at time `t` when `t > expiry()`, as in OpenSSL.
///
/// ```
/// use sesscache::Session;
/// let s = Session::new(b"id-1", 1_000, 300, "state").unwrap();
/// assert_eq!(s.expiry(), 1_300);
/// assert!(!s.is_expired_at(1_300));
/// assert!(s.is_expired_at(1_301));
/// assert!(Session::new(b"", 0, 0, ()).is_err());
/// ```
pub struct Session<V> {
    id: SessionId,
    /// Seconds since the UNIX epoch. Atomic because `UPDATE_TIME` restamps a
    /// session that other threads may be reading.
    time: AtomicU64,
    timeout: u64,
    resumable: AtomicBool,
    value: V,
}

impl<V> Session<V> {
    /// A session with id `id` (1 to 32 bytes), made at `time` (seconds since
    /// the UNIX epoch), living `timeout` seconds.
    ///
    /// # Errors
    /// [`Error::EmptyId`] or [`Error::IdTooLong`] when the id is out of bounds.
    pub fn new(id: &[u8], time: u64, timeout: u64, value: V) -> Result<Session<V>, Error> {
        Ok(Session {
            id: SessionId::new(id)?,
            time: AtomicU64::new(time),
            timeout,
            resumable: AtomicBool::new(true),
            value,
        })
    }

    /// The session id.
    pub fn id(&self) -> &[u8] {
        self.id.as_bytes()
    }

    pub(crate) fn session_id(&self) -> &SessionId {
        &self.id
    }

    /// When the session was made (or last restamped by `UPDATE_TIME`), in
    /// seconds since the UNIX epoch.
    pub fn time(&self) -> u64 {
        // Relaxed: the time is a lone value; the cache snapshots it when it
        // indexes the session and never derives memory safety from it.
        self.time.load(Ordering::Relaxed)
    }

    pub(crate) fn set_time(&self, t: u64) {
        // Relaxed: see `time`.
        self.time.store(t, Ordering::Relaxed);
    }

    /// The lifetime in seconds.
    pub fn timeout(&self) -> u64 {
        self.timeout
    }

    /// `time() + timeout()`, saturating: a session whose sum overflows never
    /// expires.
    pub fn expiry(&self) -> u64 {
        self.time().saturating_add(self.timeout)
    }

    /// Whether the session has expired at `t` (`t > expiry()`).
    pub fn is_expired_at(&self, t: u64) -> bool {
        t > self.expiry()
    }

    /// The application's value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The application's value, consuming the session (for instance one
    /// that [`take`](crate::SessionCache::take) returned and nobody else
    /// holds: `Arc::try_unwrap`).
    pub fn into_value(self) -> V {
        self.value
    }

    /// False once the session was removed from a cache (by `remove`, `take`,
    /// `flush`, eviction or expiry): like OpenSSL's `not_resumable`, it tells an
    /// application not to offer it again.
    pub fn is_resumable(&self) -> bool {
        // Relaxed: an advisory flag; nothing else is published with it.
        self.resumable.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_not_resumable(&self) {
        // Relaxed: see `is_resumable`.
        self.resumable.store(false, Ordering::Relaxed);
    }
}

impl<V: fmt::Debug> fmt::Debug for Session<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("time", &self.time())
            .field("timeout", &self.timeout)
            .field("resumable", &self.is_resumable())
            .field("value", &self.value)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length from 1 to 32 round-trips, with the bytes past the
    /// length zero, so that equal ids built from different buffers are
    /// equal and hash alike; an id never equals the same bytes with a zero
    /// byte added; the two ends fail with their own errors. The 32-byte
    /// fast path and the short path must agree on all of it.
    #[test]
    fn ids_of_every_length_round_trip_and_zero_padding_does_not_collide() {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let bytes: Vec<u8> = (1..=33).collect();
        for len in 1..=MAX_ID_LEN {
            let id = SessionId::new(&bytes[..len]).unwrap();
            assert_eq!(id.as_bytes(), &bytes[..len], "length {len}");
            assert!(id.bytes[len..].iter().all(|&b| b == 0), "length {len}");
            // The same bytes, from a buffer with other bytes after them.
            let mut other = [0xAA; 64];
            other[..len].copy_from_slice(&bytes[..len]);
            let same = SessionId::new(&other[..len]).unwrap();
            assert_eq!(same, id, "length {len}");
            assert_eq!(hasher.hash_one(same), hasher.hash_one(id), "length {len}");
            let mut padded = bytes[..len - 1].to_vec();
            padded.push(0);
            if let Ok(shorter) = SessionId::new(&bytes[..len - 1]) {
                assert_ne!(SessionId::new(&padded).unwrap(), shorter, "length {len}");
            }
        }
        assert_eq!(SessionId::new(&[]), Err(Error::EmptyId));
        assert_eq!(SessionId::new(&bytes), Err(Error::IdTooLong { len: 33 }));
        let mut zeros31 = [0u8; 31].to_vec();
        let short = SessionId::new(&zeros31).unwrap();
        zeros31.push(0);
        assert_ne!(SessionId::new(&zeros31).unwrap(), short);
    }
}
