//! Settings of the Redis tier.

use core::fmt;
use std::time::Duration;

/// What is wrong with a Redis tier's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not one the `redis` crate accepts.
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The timeout must be longer than zero.
    ZeroTimeout,
    /// The timeout must be at most [`RedisConfig::MAX_TIMEOUT`].
    TimeoutTooLong,
    /// The pool must hold at least one connection.
    ZeroPoolSize,
    /// The pool holds at most [`RedisConfig::MAX_POOL_SIZE`] connections
    /// (its bookkeeping is allocated for all of them up front).
    PoolTooLarge {
        /// The size given.
        size: u32,
    },
    /// The key prefix must not be empty: the tier deletes keys made of the
    /// prefix and ids that clients send.
    EmptyPrefix,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadUrl { url, reason } => write!(
                f,
                "bad Redis URL {url:?}: {reason} (expected redis://[user:password@]host[:port][/db])"
            ),
            ConfigError::ZeroTimeout => f.write_str("the Redis timeout must be longer than zero"),
            ConfigError::TimeoutTooLong => write!(
                f,
                "the Redis timeout must be at most {:?}: it bounds a wait inside a TLS handshake",
                RedisConfig::MAX_TIMEOUT
            ),
            ConfigError::EmptyPrefix => f.write_str(
                "the Redis key prefix must not be empty: keys are the prefix followed by client-sent ids",
            ),
            ConfigError::ZeroPoolSize => {
                f.write_str("the Redis connection pool must hold at least one connection")
            }
            ConfigError::PoolTooLarge { size } => write!(
                f,
                "the Redis connection pool may hold at most {} connections, not {size}",
                RedisConfig::MAX_POOL_SIZE
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where the Redis tier is and how patient it is.
///
/// ```
/// use std::time::Duration;
/// use sesscache::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")?
///     .timeout(Duration::from_millis(20))
///     .pool_size(32)
///     .key_prefix("edge-tls:");
/// assert!(RedisConfig::new("http://nope").is_err());
/// # Ok::<(), sesscache::redis::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) client: redis::Client,
    pub(crate) url: String,
    pub(crate) timeout: Duration,
    pub(crate) pool_size: u32,
    pub(crate) prefix: Vec<u8>,
    pub(crate) retry_after: Duration,
}

impl RedisConfig {
    /// Default bound on one Redis operation.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
    /// Default number of pooled connections.
    pub const DEFAULT_POOL_SIZE: u32 = 16;
    /// The largest pool: far more connections than threads that could use
    /// them at once on any machine (the pool reserves room for all).
    pub const MAX_POOL_SIZE: u32 = 1024;
    /// The longest timeout accepted.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default prefix of every key (and of the invalidation channel).
    pub const DEFAULT_PREFIX: &'static str = "sesscache:";
    /// Default pause after a failure before Redis is tried again.
    pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

    /// Settings for the server at `url`:
    /// `redis://[user:password@]host[:port][/db]` or `unix:///path`.
    ///
    /// # Errors
    /// [`ConfigError::BadUrl`] for a URL the `redis` crate does not accept.
    /// Nothing is connected yet: an unreachable server is not an error.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url).map_err(|e| ConfigError::BadUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(RedisConfig {
            client,
            url: url.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            pool_size: Self::DEFAULT_POOL_SIZE,
            prefix: Self::DEFAULT_PREFIX.as_bytes().to_vec(),
            retry_after: Self::DEFAULT_RETRY_AFTER,
        })
    }

    /// How long a cache operation waits for Redis: every wait (for a
    /// pooled connection, on the socket) is bounded by what is left of it.
    /// An operation that runs out of time counts as an error and the cache
    /// carries on without Redis. Default 50 ms; at most
    /// [`MAX_TIMEOUT`](Self::MAX_TIMEOUT).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many connections the pool keeps open at most. Default 16; 1 to
    /// [`MAX_POOL_SIZE`](Self::MAX_POOL_SIZE).
    pub fn pool_size(mut self, n: u32) -> Self {
        self.pool_size = n;
        self
    }

    /// The prefix of every key the tier writes; the invalidation channel is
    /// the prefix followed by `invalidate`. Caches that share sessions must
    /// use the same prefix; it must not be empty. Default `sesscache:`.
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.as_bytes().to_vec();
        self
    }

    /// After a failed operation, Redis is left alone this long: operations
    /// in between go to the local cache only (counted as `skipped`), so an
    /// unreachable Redis costs one timeout per interval, not one per
    /// handshake. Default 1 s.
    pub fn retry_after(mut self, pause: Duration) -> Self {
        self.retry_after = pause;
        self
    }

    /// The URL given to [`new`](Self::new).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.timeout > Self::MAX_TIMEOUT {
            return Err(ConfigError::TimeoutTooLong);
        }
        if self.prefix.is_empty() {
            return Err(ConfigError::EmptyPrefix);
        }
        if self.pool_size == 0 {
            return Err(ConfigError::ZeroPoolSize);
        }
        if self.pool_size > Self::MAX_POOL_SIZE {
            return Err(ConfigError::PoolTooLarge {
                size: self.pool_size,
            });
        }
        Ok(())
    }
}
