//! The session map: a lock-free hash map keyed by session id.
//!
//! # Algorithm
//!
//! The map is a *split-ordered list* (Shalev & Shavit, "Split-Ordered Lists:
//! Lock-Free Extensible Hash Tables", JACM 2006). Every entry lives in one
//! lock-free sorted linked list (Michael, "High Performance Dynamic Lock-Free
//! Hash Tables and List-Based Sets", SPAA 2002), ordered by the bit-reversed
//! hash. A bucket is a pointer to a *dummy* node in that list; because of the
//! bit reversal, the entries of bucket `b` in a table of `2n` buckets are a
//! contiguous run that splits the run of bucket `b mod n`. Growing the table
//! therefore never moves an entry: it only doubles the bucket count, and each
//! new bucket's dummy is linked in lazily, by the first thread that needs it,
//! right after its parent's dummy.
//!
//! ```text
//!  buckets (4)   0          2                1          3
//!                │          │                │          │
//!                ▼          ▼                ▼          ▼
//!  list:  ──▶ [d 000]─▶(e)─▶[d 010]─▶(e)─▶(e)─▶[d 100]─▶(e)─▶[d 110]─▶(e)─▶ ∅
//!         dummy keys are reverse(b); entry keys are reverse(hash | 1<<63)
//! ```
//!
//! The bucket directory is a fixed array of segments of doubling size,
//! allocated on first use, so the directory never moves either.
//!
//! Each regular node holds one session id and a *slot* with the entry (an
//! `Arc`) cached under that id. Replacing the entry of an id is one CAS on
//! the slot, so a reader sees the old entry or the new one, never neither.
//! Removing it is a CAS to null, which is final; the node is then marked
//! deleted (Harris's tag on its `next` pointer) and unlinked.
//!
//! # Progress and reclamation
//!
//! Readers walk the list without writing or allocating, through deleted
//! nodes if need be. Writers are lock-free: a failed CAS means another thread
//! made progress. Unlinked nodes and replaced values are freed through
//! crossbeam-epoch (Fraser, "Practical lock-freedom", 2004) once no pinned
//! thread can still see them.
//!
//! # Why this design
//!
//! See `docs/DESIGN.md`: in short, the split-ordered list grows without ever
//! moving or copying an entry, which keeps the reclamation argument short and
//! a concurrent resize invisible to readers; lookups touch no shared cache
//! line for writing.

mod raw;

use std::sync::Arc;

use crate::session::SessionId;
use crate::sync::epoch::Guard;

pub(crate) use raw::RawMap;

/// The map the cache uses: ids hashed with ahash, seeded at random per map
/// (ids can be chosen by an attacker).
pub(crate) struct SessionMap<T> {
    raw: RawMap<T, ahash::RandomState>,
}

impl<T: Send + Sync + 'static> SessionMap<T> {
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

    pub(crate) fn unpublish(&self, hash: u64, id: &SessionId, expected: &T, guard: &Guard) -> bool {
        self.raw.unpublish(hash, id, expected, guard)
    }
}

#[cfg(not(sesscache_loom))]
fn random_state() -> ahash::RandomState {
    ahash::RandomState::new()
}

/// Under loom the seed is fixed so that every execution is the same program.
#[cfg(sesscache_loom)]
fn random_state() -> ahash::RandomState {
    ahash::RandomState::with_seeds(1, 2, 3, 4)
}

#[cfg(test)]
mod tests;
