//! The cache mode flags, with OpenSSL's values.

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

use crate::Error;

/// How the cache behaves, as OpenSSL's `SSL_CTX_set_session_cache_mode`
/// flags. Combine them with `|`; [`CacheMode::default()`] has none set.
///
/// ```
/// use sesscache::CacheMode;
/// let mode = CacheMode::NO_AUTO_CLEAR | CacheMode::UPDATE_TIME;
/// assert!(mode.contains(CacheMode::UPDATE_TIME));
/// assert!(!mode.contains(CacheMode::NO_INTERNAL_LOOKUP));
/// assert_eq!(CacheMode::NO_INTERNAL, CacheMode::NO_INTERNAL_LOOKUP | CacheMode::NO_INTERNAL_STORE);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CacheMode(u32);

/// `SSL_SESS_CACHE_SERVER`.
const SERVER: u32 = 0x2;
/// Every bit OpenSSL defines for the mode: `SSL_SESS_CACHE_CLIENT` (0x1),
/// `SSL_SESS_CACHE_SERVER` and the flags.
pub(crate) const OPENSSL_BITS: u32 = 0x3 | CacheMode::ALL;

impl CacheMode {
    /// No automatic flush every 256 stores (`SSL_SESS_CACHE_NO_AUTO_CLEAR`).
    pub const NO_AUTO_CLEAR: CacheMode = CacheMode(0x80);
    /// Lookups skip the internal cache and ask only `on_get`
    /// (`SSL_SESS_CACHE_NO_INTERNAL_LOOKUP`).
    pub const NO_INTERNAL_LOOKUP: CacheMode = CacheMode(0x100);
    /// `store` and sessions returned by `on_get` are not added to the internal
    /// cache (`SSL_SESS_CACHE_NO_INTERNAL_STORE`).
    pub const NO_INTERNAL_STORE: CacheMode = CacheMode(0x200);
    /// Both of the above (`SSL_SESS_CACHE_NO_INTERNAL`).
    pub const NO_INTERNAL: CacheMode = CacheMode(0x300);
    /// `add` stamps the session with the clock's current time first
    /// (`SSL_SESS_CACHE_UPDATE_TIME`).
    pub const UPDATE_TIME: CacheMode = CacheMode(0x400);

    const ALL: u32 = 0x780;

    /// No flag set.
    pub const fn empty() -> CacheMode {
        CacheMode(0)
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: CacheMode) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags as OpenSSL's integer value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The flags of an OpenSSL mode value; bits this cache has no use for
    /// (`SSL_SESS_CACHE_CLIENT`, `SSL_SESS_CACHE_SERVER`, unknown bits) are
    /// dropped. That includes the absence of `SSL_SESS_CACHE_SERVER`:
    /// `SSL_SESS_CACHE_OFF` (0) gives the empty mode, which caches. To carry
    /// an OpenSSL configuration over, use [`from_openssl`](Self::from_openssl),
    /// which refuses what it cannot represent.
    pub const fn from_bits_truncate(bits: u32) -> CacheMode {
        CacheMode(bits & Self::ALL)
    }

    /// The flags of an OpenSSL server's mode value
    /// (`SSL_CTX_set_session_cache_mode`), which must include
    /// `SSL_SESS_CACHE_SERVER` (0x2); `SSL_SESS_CACHE_CLIENT` (0x1) may be
    /// set too and is ignored.
    ///
    /// # Errors
    /// [`Error::UnsupportedMode`] for a mode without
    /// `SSL_SESS_CACHE_SERVER` (`SSL_SESS_CACHE_OFF`, client only: OpenSSL
    /// caches no server session with it, so no cache should be used) or
    /// with bits OpenSSL does not define.
    ///
    /// ```
    /// use sesscache::{CacheMode, Error};
    /// // SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR
    /// assert_eq!(CacheMode::from_openssl(0x82), Ok(CacheMode::NO_AUTO_CLEAR));
    /// // SSL_SESS_CACHE_OFF
    /// assert_eq!(CacheMode::from_openssl(0), Err(Error::UnsupportedMode { bits: 0 }));
    /// assert!(CacheMode::from_openssl(0x1002).is_err());
    /// ```
    pub const fn from_openssl(bits: u32) -> Result<CacheMode, Error> {
        if bits & SERVER == 0 || bits & !OPENSSL_BITS != 0 {
            return Err(Error::UnsupportedMode { bits });
        }
        Ok(CacheMode(bits & Self::ALL))
    }
}

impl BitOr for CacheMode {
    type Output = CacheMode;
    fn bitor(self, rhs: CacheMode) -> CacheMode {
        CacheMode(self.0 | rhs.0)
    }
}

impl BitOrAssign for CacheMode {
    fn bitor_assign(&mut self, rhs: CacheMode) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for CacheMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (CacheMode::NO_AUTO_CLEAR, "NO_AUTO_CLEAR"),
            (CacheMode::NO_INTERNAL_LOOKUP, "NO_INTERNAL_LOOKUP"),
            (CacheMode::NO_INTERNAL_STORE, "NO_INTERNAL_STORE"),
            (CacheMode::UPDATE_TIME, "UPDATE_TIME"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        if set.is_empty() {
            f.write_str("CacheMode(empty)")
        } else {
            write!(f, "CacheMode({})", set.join(" | "))
        }
    }
}
