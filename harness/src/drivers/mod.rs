//! One module per cache under test, each behind a cargo feature.

use crate::cache::Driver;

#[cfg(feature = "limit")]
pub mod limit;
#[cfg(feature = "moka")]
pub mod moka;
#[cfg(feature = "naive")]
pub mod naive;
#[cfg(feature = "openssl")]
pub mod openssl;
#[cfg(feature = "rustls")]
pub mod rustls;
#[cfg(feature = "sesscache")]
pub mod sesscache;

/// Every driver compiled in, sesscache first.
#[allow(
    clippy::vec_init_then_push,
    reason = "each push is behind its own cargo feature"
)]
pub fn all() -> Vec<Box<dyn Driver>> {
    let mut v: Vec<Box<dyn Driver>> = Vec::new();
    #[cfg(feature = "sesscache")]
    v.push(Box::new(sesscache::SesscacheDriver));
    #[cfg(feature = "openssl")]
    v.push(Box::new(openssl::OpensslDriver));
    #[cfg(feature = "rustls")]
    v.push(Box::new(rustls::RustlsDriver));
    #[cfg(feature = "moka")]
    v.push(Box::new(moka::MokaDriver));
    #[cfg(feature = "naive")]
    v.push(Box::new(naive::NaiveDriver));
    #[cfg(feature = "limit")]
    v.push(Box::new(limit::LimitDriver));
    v
}
