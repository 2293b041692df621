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
#[cfg(feature = "redis")]
pub mod tiered;

/// Every in-process driver compiled in, sesscache first: the caches the
/// micro-benchmarks (`benches/`) also measure. The suite adds the Redis tier
/// ([`suite`]).
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

/// Every driver the harness runs: [`all`], with the two-tier sesscache + Redis
/// driver second when its feature is on. `redis_url` is the Redis it uses;
/// `None` starts a private `redis-server` when first needed.
pub fn suite(redis_url: Option<&str>) -> Vec<Box<dyn Driver>> {
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut v = all();
    #[cfg(feature = "redis")]
    v.insert(
        v.len().min(1),
        Box::new(tiered::TieredDriver::new(redis_url.map(str::to_owned))),
    );
    #[cfg(not(feature = "redis"))]
    let _ = redis_url;
    v
}
