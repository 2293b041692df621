#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]

#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "sesscache needs a 64-bit target (its hash table sizes and split-order keys are 64-bit)"
);

mod builder;
mod cache;
mod clock;
mod entry;
mod error;
mod graveyard;
mod index;
mod map;
mod mode;
mod panics;
mod session;
mod stats;
mod store;
mod sync;

#[cfg(feature = "openssl")]
pub mod openssl;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "rustls")]
pub mod rustls;

pub use builder::{CacheBuilder, DEFAULT_CAPACITY, DEFAULT_TIMEOUT};
pub use cache::SessionCache;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use mode::CacheMode;
pub use session::{Session, MAX_ID_LEN};
pub use stats::Stats;
pub use store::SessionStore;
