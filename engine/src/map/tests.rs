//! The raw map over small, adversarial configurations: tiny tables that
//! must grow many times, and hashers that put every id in a few buckets or
//! give distinct ids one hash.

use core::hash::{BuildHasher, Hasher};
use std::collections::HashMap;
use std::sync::Arc;

use super::{Keyed, RawMap};
use crate::session::SessionId;
use crate::sync::epoch;

/// A value that knows its id, as the cache's entries do.
#[derive(Debug, PartialEq)]
pub(super) struct Val {
    id: SessionId,
    pub(super) v: u32,
}

impl Keyed for Val {
    fn key(&self) -> &SessionId {
        &self.id
    }
}

pub(super) fn val(k: u32, v: u32) -> Arc<Val> {
    Arc::new(Val { id: id(k), v })
}

/// A hasher that keeps only `bits` bits of a simple hash: many collisions.
#[derive(Clone, Copy)]
struct Narrow {
    bits: u32,
}

struct NarrowHasher {
    h: u64,
    mask: u64,
}

impl Hasher for NarrowHasher {
    fn finish(&self) -> u64 {
        self.h & self.mask
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.h = self.h.wrapping_mul(31).wrapping_add(u64::from(*b));
        }
    }
}

impl BuildHasher for Narrow {
    type Hasher = NarrowHasher;
    fn build_hasher(&self) -> NarrowHasher {
        NarrowHasher {
            h: 7,
            mask: if self.bits >= 64 {
                u64::MAX
            } else {
                (1 << self.bits) - 1
            },
        }
    }
}

fn configs() -> Vec<(usize, Narrow)> {
    vec![
        (2, Narrow { bits: 0 }),  // every id has hash 0: one chain
        (2, Narrow { bits: 2 }),  // four hashes
        (4, Narrow { bits: 64 }), // full hash, tiny table: many resizes
        (64, Narrow { bits: 64 }),
    ]
}

/// Miri runs each test a thousand times slower: scale the work down there.
fn scaled(n: u32) -> u32 {
    if cfg!(miri) {
        (n / 50).max(8)
    } else {
        n
    }
}

pub(super) fn id(n: u32) -> SessionId {
    SessionId::new(&n.to_be_bytes()).unwrap()
}

#[test]
fn insert_get_replace_remove_match_a_hashmap() {
    for (buckets, hasher) in configs() {
        let map: RawMap<Val, Narrow> = RawMap::new(buckets, hasher);
        let mut model: HashMap<u32, u32> = HashMap::new();
        let guard = epoch::pin();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..scaled(4000) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 300) as u32;
            let key = id(k);
            let h = map.hash(&key);
            match x % 3 {
                0 | 1 => {
                    let old = map.publish(h, &key, val(k, step), &guard).map(|x| x.v);
                    assert_eq!(old, model.insert(k, step), "publish {k}");
                }
                _ => {
                    let cur = map.get(h, &key, &guard).map(|x| x.v);
                    assert_eq!(cur, model.get(&k).copied(), "get {k}");
                    if let Some(v) = map.get(h, &key, &guard) {
                        assert!(map.unpublish(h, &key, v, &guard));
                        model.remove(&k);
                    }
                    assert!(map.get(h, &key, &guard).is_none());
                }
            }
            assert_eq!(map.len(), model.len());
        }
        for (k, v) in &model {
            let key = id(*k);
            assert_eq!(map.get(map.hash(&key), &key, &guard).map(|x| x.v), Some(*v));
        }
        assert!(map.buckets() >= model.len().min(1 << 20) / 2);
    }
}

#[test]
fn unpublish_of_a_stale_value_fails() {
    for (buckets, hasher) in configs() {
        let map: RawMap<Val, Narrow> = RawMap::new(buckets, hasher);
        let guard = epoch::pin();
        let key = id(1);
        let h = map.hash(&key);
        assert!(map.publish(h, &key, val(1, 1), &guard).is_none());
        let first = map.get(h, &key, &guard).unwrap();
        assert_eq!(
            map.publish(h, &key, val(1, 2), &guard).map(|x| x.v),
            Some(1)
        );
        assert!(!map.unpublish(h, &key, first, &guard), "old value is gone");
        assert_eq!(map.get(h, &key, &guard).map(|x| x.v), Some(2));
        let other = id(2);
        assert!(!map.unpublish(map.hash(&other), &other, first, &guard));
    }
}

#[test]
fn the_table_grows_and_keeps_every_key() {
    let map: RawMap<Val, ahash::RandomState> = RawMap::new(2, ahash::RandomState::new());
    let guard = epoch::pin();
    let n = scaled(10_000);
    for k in 0..n {
        let key = id(k);
        assert!(map
            .publish(map.hash(&key), &key, val(k, k), &guard)
            .is_none());
    }
    assert!(map.buckets() as u32 >= n / 2, "buckets {}", map.buckets());
    for k in 0..n {
        let key = id(k);
        assert_eq!(map.get(map.hash(&key), &key, &guard).map(|x| x.v), Some(k));
    }
}

#[test]
fn concurrent_inserts_and_removes_lose_nothing() {
    for (buckets, hasher) in configs() {
        let map: Arc<RawMap<Val, Narrow>> = Arc::new(RawMap::new(buckets, hasher));
        let threads = 4;
        let per = scaled(2000);
        std::thread::scope(|s| {
            for t in 0..threads {
                let map = &map;
                s.spawn(move || {
                    for i in 0..per {
                        let k = t * per + i;
                        let key = id(k);
                        let guard = epoch::pin();
                        let h = map.hash(&key);
                        assert!(map.publish(h, &key, val(k, k), &guard).is_none());
                        if i % 2 == 1 {
                            let v = map.get(h, &key, &guard).expect("own key");
                            assert!(map.unpublish(h, &key, v, &guard));
                        }
                    }
                });
            }
        });
        let guard = epoch::pin();
        for k in 0..threads * per {
            let key = id(k);
            let got = map.get(map.hash(&key), &key, &guard).map(|x| x.v);
            let expect = (k % per % 2 == 0).then_some(k);
            assert_eq!(got, expect, "key {k}");
        }
        assert_eq!(map.len(), (threads * per / 2) as usize);
    }
}

/// Every id hashes to `hash`.
#[derive(Clone, Copy)]
struct Const(u64);

struct ConstHasher(u64);

impl Hasher for ConstHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {}
}

impl BuildHasher for Const {
    type Hasher = ConstHasher;
    fn build_hasher(&self) -> ConstHasher {
        ConstHasher(self.0)
    }
}

#[test]
fn removed_nodes_are_unlinked_from_any_run() {
    // Runs of equal keys, including the last key of all (hash u64::MAX).
    for hash in [0, 1, u64::MAX - 1, u64::MAX] {
        let map: RawMap<Val, Const> = RawMap::new(2, Const(hash));
        let guard = epoch::pin();
        for k in 0..6 {
            let key = id(k);
            assert!(map.publish(hash, &key, val(k, k), &guard).is_none());
        }
        for k in [1, 4] {
            let key = id(k);
            let v = map.get(hash, &key, &guard).expect("published");
            assert!(map.unpublish(hash, &key, v, &guard));
        }
        let (nodes, marked) = map.debug_nodes();
        assert_eq!(marked, 0, "hash {hash:#x}: removed nodes stay linked");
        assert!(nodes > map.len(), "the head dummy and every value");
        for k in 0..6 {
            let key = id(k);
            let got = map.get(hash, &key, &guard).map(|x| x.v);
            assert_eq!(
                got,
                (k != 1 && k != 4).then_some(k),
                "hash {hash:#x} id {k}"
            );
        }
    }
}

/// `prefetch` walks paths that other threads are changing: it must only
/// read nodes its guard protects (checked under Miri), and it changes
/// nothing: the map ends as the writer's own record says.
#[test]
fn prefetch_races_publish_and_unpublish() {
    for (buckets, hasher) in configs() {
        let map: RawMap<Val, Narrow> = RawMap::new(buckets, hasher);
        let n = scaled(2000);
        let expected = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut expected = std::collections::HashMap::new();
                for step in 0..n {
                    let guard = epoch::pin();
                    let k = step % 40;
                    let key = id(k);
                    let h = map.hash(&key);
                    if step % 3 == 2 {
                        if let Some(v) = map.get(h, &key, &guard) {
                            assert!(map.unpublish(h, &key, v, &guard));
                        }
                        expected.remove(&k);
                    } else {
                        map.publish(h, &key, val(k, step), &guard);
                        expected.insert(k, step);
                    }
                }
                expected
            });
            s.spawn(|| {
                for step in 0..n {
                    let guard = epoch::pin();
                    let key = id((step * 7) % 40);
                    let h = map.hash(&key);
                    for d in 0..8 {
                        map.prefetch(h, d, &guard);
                    }
                }
            });
            writer.join().unwrap()
        });
        let guard = epoch::pin();
        for k in 0..40 {
            let key = id(k);
            let found = map.get(map.hash(&key), &key, &guard).map(|v| v.v);
            assert_eq!(found, expected.get(&k).copied(), "key {k}");
        }
    }
}
