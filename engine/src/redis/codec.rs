//! How a session is kept in Redis.
//!
//! ```text
//! key   = prefix ‖ session id
//! value = 0x01 ‖ time (u64 BE) ‖ timeout (u64 BE) ‖ value bytes
//! TTL   = seconds until the session expires, plus one
//! ```
//!
//! The leading version byte lets a later layout coexist with this one;
//! anything that does not decode is treated as a miss.

use crate::Session;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 8 + 8;
/// Redis refuses expiry times that overflow its millisecond clock; a
/// session that lives longer than this is kept this long.
const MAX_TTL_SECS: u64 = 1 << 40;

/// The Redis key of `id`.
pub(crate) fn key(prefix: &[u8], id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id);
    k
}

/// The encoded session.
pub(crate) fn encode<V: AsRef<[u8]>>(session: &Session<V>) -> Vec<u8> {
    let value = session.value().as_ref();
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.push(VERSION);
    out.extend_from_slice(&session.time().to_be_bytes());
    out.extend_from_slice(&session.timeout().to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The session `bytes` encode, if they are one of ours with a valid id.
pub(crate) fn decode<V: From<Vec<u8>>>(id: &[u8], mut bytes: Vec<u8>) -> Option<Session<V>> {
    if bytes.len() < HEADER || bytes[0] != VERSION {
        return None;
    }
    let time = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
    let timeout = u64::from_be_bytes(bytes[9..17].try_into().ok()?);
    bytes.drain(..HEADER);
    Session::new(id, time, timeout, V::from(bytes)).ok()
}

/// The TTL for a session at `now`, or `None` if it has already expired.
pub(crate) fn ttl<V>(session: &Session<V>, now: u64) -> Option<u64> {
    if session.is_expired_at(now) {
        return None;
    }
    // Valid while now <= expiry: keep it until just after.
    Some((session.expiry() - now).saturating_add(1).min(MAX_TTL_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let s = Session::new(b"abc", 1_000, 300, b"der".to_vec()).unwrap();
        let bytes = encode(&s);
        let back: Session<Vec<u8>> = decode(b"abc", bytes.clone()).unwrap();
        assert_eq!((back.time(), back.timeout()), (1_000, 300));
        assert_eq!(back.value(), b"der");
        assert!(decode::<Vec<u8>>(b"abc", bytes[..HEADER - 1].to_vec()).is_none());
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(decode::<Vec<u8>>(b"abc", other).is_none());
        assert!(
            decode::<Vec<u8>>(b"", bytes).is_none(),
            "an id no session can have"
        );
        assert_eq!(key(b"p:", b"id"), b"p:id");
    }

    #[test]
    fn ttl_covers_the_last_valid_second() {
        let s = Session::new(b"a", 100, 10, ()).unwrap();
        assert_eq!(ttl(&s, 100), Some(11));
        assert_eq!(ttl(&s, 110), Some(1));
        assert_eq!(ttl(&s, 111), None);
        let forever = Session::new(b"a", 100, u64::MAX, ()).unwrap();
        assert_eq!(ttl(&forever, 100), Some(MAX_TTL_SECS));
    }
}
