//! A stand-in cache that keeps nothing and grants every take: the worst
//! single-use violation there is, and a cache whose operations cost next to
//! nothing (for tests of the workloads' bookkeeping, not of a cache).

use sesscache_harness::cache::{CacheHandle, Id, SharedCache, Value};

pub(crate) struct TakesAll;

impl SharedCache for TakesAll {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(TakesAll)
    }
    fn len(&self) -> usize {
        0
    }
}

impl CacheHandle for TakesAll {
    fn store(&mut self, _: &Id, _: &Value, _: u64, _: u64) {}
    fn lookup(&mut self, _: &Id, _: u64) -> bool {
        false
    }
    fn remove(&mut self, _: &Id) {}
    fn take(&mut self, _: &Id, _: u64) -> bool {
        true
    }
    fn flush(&mut self, _: u64) -> usize {
        0
    }
}
