//! The engine's error type.

use core::fmt;

/// What can be wrong with the input of a [`Session`](crate::Session) or of the
/// cache's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A session id must hold at least one byte: OpenSSL never caches or
    /// removes a zero-length id.
    EmptyId,
    /// A session id holds at most [`MAX_ID_LEN`](crate::MAX_ID_LEN) (32) bytes,
    /// OpenSSL's `SSL_MAX_SSL_SESSION_ID_LENGTH`.
    IdTooLong {
        /// The length that was given.
        len: usize,
    },
    /// An OpenSSL session cache mode this cache cannot take
    /// ([`CacheMode::from_openssl`](crate::CacheMode::from_openssl)): one
    /// without `SSL_SESS_CACHE_SERVER` (`SSL_SESS_CACHE_OFF`, or client
    /// only), with which OpenSSL caches no server session, or one with bits
    /// OpenSSL does not define.
    UnsupportedMode {
        /// The mode value that was given.
        bits: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyId => f.write_str("session id is empty: give an id of 1 to 32 bytes"),
            Error::IdTooLong { len } => write!(
                f,
                "session id is {len} bytes long: at most {} bytes are allowed (SSL_MAX_SSL_SESSION_ID_LENGTH)",
                crate::MAX_ID_LEN
            ),
            Error::UnsupportedMode { bits } if bits & !crate::mode::OPENSSL_BITS != 0 => write!(
                f,
                "session cache mode {bits:#x} has bits OpenSSL does not define ({:#x})",
                bits & !crate::mode::OPENSSL_BITS
            ),
            Error::UnsupportedMode { bits } => write!(
                f,
                "session cache mode {bits:#x} has no SSL_SESS_CACHE_SERVER (0x2): OpenSSL caches no server session in it; a server that wants no cache should not use one"
            ),
        }
    }
}

impl std::error::Error for Error {}
