//! The naive baseline: what a developer would write in an afternoon — one
//! `Mutex` around a `HashMap` (id → session) and a `BTreeMap` ordered by
//! (expiry, sequence) for eviction and flush.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::build_info::rustc;
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// The naive baseline.
#[derive(Debug)]
pub struct NaiveDriver;

impl Driver for NaiveDriver {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: true,
            expiry: true,
            bounded: true,
            private_per_thread: false,
            second_tier: false,
        }
    }

    /// The standard library's, i.e. the compiler's.
    fn version(&self) -> String {
        format!("std of {}", rustc())
    }

    fn mapping(&self) -> &'static str {
        "every operation takes one std Mutex around a HashMap and a BTreeMap (the expiry order)"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        Box::new(Naive {
            capacity: config.capacity,
            inner: Mutex::new(Inner::default()),
        })
    }
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<Id, (Value, u64, u64)>,
    by_expiry: BTreeMap<(u64, u64), Id>,
    seq: u64,
}

impl Inner {
    fn remove(&mut self, id: &Id) -> Option<(Value, u64, u64)> {
        let old = self.by_id.remove(id)?;
        self.by_expiry.remove(&(old.1, old.2));
        Some(old)
    }
}

struct Naive {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl SharedCache for Naive {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(self)
    }

    fn len(&self) -> usize {
        self.inner.lock().unwrap().by_id.len()
    }
}

impl CacheHandle for &Naive {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        let mut g = self.inner.lock().unwrap();
        g.remove(id);
        if self.capacity > 0 {
            while g.by_id.len() >= self.capacity {
                let Some((_, victim)) = g.by_expiry.pop_first() else {
                    break;
                };
                g.by_id.remove(&victim);
            }
        }
        let expiry = now.saturating_add(timeout);
        g.seq += 1;
        let seq = g.seq;
        g.by_id.insert(*id, (value.clone(), expiry, seq));
        g.by_expiry.insert((expiry, seq), *id);
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        let mut g = self.inner.lock().unwrap();
        match g.by_id.get(id) {
            Some((v, expiry, _)) if now <= *expiry => consume(v),
            Some(_) => {
                g.remove(id);
                false
            }
            None => false,
        }
    }

    fn remove(&mut self, id: &Id) {
        self.inner.lock().unwrap().remove(id);
    }

    fn take(&mut self, id: &Id, now: u64) -> bool {
        let removed = self.inner.lock().unwrap().remove(id);
        matches!(removed, Some((_, expiry, _)) if now <= expiry)
    }

    fn flush(&mut self, now: u64) -> usize {
        let mut g = self.inner.lock().unwrap();
        let mut n = 0;
        while let Some((&(expiry, seq), _)) = g.by_expiry.first_key_value() {
            if expiry >= now {
                break;
            }
            let id = g.by_expiry.remove(&(expiry, seq)).unwrap();
            g.by_id.remove(&id);
            n += 1;
        }
        n
    }
}
