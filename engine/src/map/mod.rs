//! The session map: a lock-free hash map keyed by session id.
//!
//! # Algorithm
//!
//! The map is a *split-ordered list* (Shalev & Shavit, "Split-Ordered Lists:
//! Lock-Free Extensible Hash Tables", JACM 2006). Every entry lives in one
//! lock-free sorted linked list (Michael, "High Performance Dynamic Lock-Free
//! Hash Tables and List-Based Sets", SPAA 2002), ordered by the bit-reversed
//! hash. A bucket is a *dummy* node in that list; because of the
//! bit reversal, the entries of bucket `b` in a table of `2n` buckets are a
//! contiguous run that splits the run of bucket `b mod n`. Growing the table
//! therefore never moves an entry: it only doubles the bucket count, and each
//! new bucket's dummy is linked in lazily, by the one thread that claims it
//! (the first writer to reach the bucket, which links its ancestors first if
//! need be, or the first lookup to reach it once its parent is linked);
//! until then the bucket is served from its closest linked ancestor.
//!
//! ```text
//!  buckets (4)   0          2                1          3
//!                │          │                │          │
//!                ▼          ▼                ▼          ▼
//!  list:  ──▶ [d 000]─▶(e)─▶[d 010]─▶(e)─▶(e)─▶[d 100]─▶(e)─▶[d 110]─▶(e)─▶ ∅
//!         dummy keys are reverse(b); entry keys are reverse(hash | 1<<63)
//! ```
//!
//! The bucket directory is a fixed array of segments of doubling size:
//! segment 0 is allocated with the map, each later one by the thread that
//! doubled the table into it (or, in the moment before, by a writer that
//! needs it), so the directory never moves either. A segment
//! holds its buckets' dummy nodes inline; a dummy's otherwise unused slot
//! holds its link state (`UNLINKED → LINKING → LINKED`, see `raw.rs`).
//!
//! Each regular node holds a *slot* with the entry (an `Arc`) cached under
//! one session id; the id itself is read from the entry, so a node is three
//! words. Replacing the entry of an id is one CAS on
//! the slot, so a reader sees the old entry or the new one, never neither.
//! Removing it is a CAS to null, which is final; the node is then marked
//! deleted (Harris's tag on its `next` pointer) and unlinked.
//!
//! # Progress and reclamation
//!
//! Readers walk the list without writing or allocating, through deleted
//! nodes if need be: a bounded walk. The exception is a lookup that finds
//! its bucket's dummy unlinked (growth left it so) while the parent's is
//! linked: it links the dummy, once per bucket, as a writer would — which
//! may unlink deleted nodes on the way and retry a CAS, so that lookup is
//! lock-free rather than bounded, and allocates no segment. Left unlinked,
//! the bucket would send every lookup through its parent's entries. Writers are lock-free: a failed CAS means another thread
//! made progress. Unlinked nodes and replaced values are freed through
//! crossbeam-epoch (Fraser, "Practical lock-freedom", 2004) once no pinned
//! thread can still see them.
//!
//! # Why this design
//!
//! See `docs/DESIGN.md`: in short, the split-ordered list grows without ever
//! moving or copying an entry, which keeps the reclamation argument short and
//! a concurrent resize invisible to readers; once their buckets are linked,
//! lookups touch no shared cache line for writing.

mod raw;

use std::sync::Arc;

use crate::session::SessionId;
use crate::sync::epoch::Guard;

pub(crate) use raw::RawMap;

/// A value the map can hold: it knows the id it is stored under, so the
/// map's nodes need not keep a copy.
pub(crate) trait Keyed {
    /// The session id the value is stored under; never changes.
    fn key(&self) -> &SessionId;
}

/// How ids are hashed: ahash, except in the loom build that makes every id
/// collide (`--cfg sesscache_loom_collide`), which model-checks runs of
/// nodes with equal keys.
#[cfg(not(sesscache_loom_collide))]
type IdHasher = ahash::RandomState;
#[cfg(sesscache_loom_collide)]
type IdHasher = collide::Collide;

/// The map the cache uses: ids hashed with ahash, seeded at random per map
/// (ids can be chosen by an attacker).
pub(crate) struct SessionMap<T> {
    raw: RawMap<T, IdHasher>,
}

impl<T: Keyed + Send + Sync + 'static> SessionMap<T> {
    pub(crate) fn new(buckets: usize) -> Self {
        SessionMap {
            raw: RawMap::new(buckets, random_state()),
        }
    }

    pub(crate) fn hash(&self, id: &SessionId) -> u64 {
        self.raw.hash(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    pub(crate) fn buckets(&self) -> usize {
        self.raw.buckets()
    }

    pub(crate) fn get<'g>(&self, hash: u64, id: &SessionId, guard: &'g Guard) -> Option<&'g T> {
        self.raw.get(hash, id, guard)
    }

    pub(crate) fn publish<'g>(
        &self,
        hash: u64,
        id: &SessionId,
        value: Arc<T>,
        guard: &'g Guard,
    ) -> Option<&'g T> {
        self.raw.publish(hash, id, value, guard)
    }

    pub(crate) fn prefetch(&self, hash: u64, depth: usize, guard: &Guard) {
        self.raw.prefetch(hash, depth, guard);
    }

    pub(crate) fn unpublish(&self, hash: u64, id: &SessionId, expected: &T, guard: &Guard) -> bool {
        self.raw.unpublish(hash, id, expected, guard)
    }

    /// See [`RawMap::debug_check`](raw::RawMap::debug_check).
    #[cfg(sesscache_loom)]
    pub(crate) fn debug_check(&self) -> raw::ListShape {
        self.raw.debug_check()
    }
}

#[cfg(not(sesscache_loom))]
fn random_state() -> IdHasher {
    ahash::RandomState::new()
}

/// Under loom the seed is fixed so that every execution is the same program.
#[cfg(all(sesscache_loom, not(sesscache_loom_collide)))]
fn random_state() -> IdHasher {
    ahash::RandomState::with_seeds(1, 2, 3, 4)
}

#[cfg(sesscache_loom_collide)]
fn random_state() -> IdHasher {
    collide::Collide
}

#[cfg(sesscache_loom_collide)]
mod collide {
    /// Every id hashes to one value: every regular node of the map is in
    /// one run.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Collide;

    pub(crate) struct Same;

    impl core::hash::Hasher for Same {
        fn finish(&self) -> u64 {
            0x5eed
        }
        fn write(&mut self, _: &[u8]) {}
    }

    impl core::hash::BuildHasher for Collide {
        type Hasher = Same;
        fn build_hasher(&self) -> Same {
            Same
        }
    }
}

#[cfg(test)]
mod tests;
