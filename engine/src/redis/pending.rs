//! Removals that Redis has not heard of yet.
//!
//! A `remove_id` made while Redis cannot be reached removes the local copy
//! only. Its id waits here until Redis is back; meanwhile a local miss on
//! it does not read the session back from Redis, a `take` of it does not
//! win and a new session stored under it is not written through. The
//! invalidation listener sends the waiting deletions (and their
//! invalidations) in batches once Redis answers, off every handshake's
//! path; an id leaves the set only once Redis has confirmed its deletion.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::sync::{AtomicUsize, Ordering};

/// The most removals kept waiting; beyond it new ones are not tracked
/// (counted as errors): Redis then forgets them by their TTL.
pub(crate) const MAX_PENDING: usize = 1 << 16;
/// Deletions sent per batch.
pub(crate) const BATCH: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Pending {
    ids: Mutex<HashSet<Vec<u8>>>,
    /// `ids.len()`, readable without the lock so the common case (nothing
    /// waiting) costs one load.
    len: AtomicUsize,
}

impl Pending {
    fn ids(&self) -> MutexGuard<'_, HashSet<Vec<u8>>> {
        // A panic cannot leave the set half-updated: each operation is one
        // call on it.
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_len(&self, ids: &HashSet<Vec<u8>>) {
        // Relaxed: a hint read before taking the lock; the lock orders the
        // set itself.
        self.len.store(ids.len(), Ordering::Relaxed);
    }

    pub(crate) fn len(&self) -> usize {
        // Relaxed: see `publish_len`.
        self.len.load(Ordering::Relaxed)
    }

    /// Remembers `id`; false when the set is full.
    pub(crate) fn add(&self, id: &[u8]) -> bool {
        let mut ids = self.ids();
        if ids.len() >= MAX_PENDING && !ids.contains(id) {
            return false;
        }
        ids.insert(id.to_vec());
        self.publish_len(&ids);
        true
    }

    pub(crate) fn contains(&self, id: &[u8]) -> bool {
        self.len() > 0 && self.ids().contains(id)
    }

    /// Up to [`BATCH`] waiting ids to send; they stay waiting until
    /// [`confirm`](Self::confirm).
    pub(crate) fn batch(&self) -> Vec<Vec<u8>> {
        self.ids().iter().take(BATCH).cloned().collect()
    }

    /// Redis has deleted `batch`: the ids stop waiting.
    pub(crate) fn confirm(&self, batch: &[Vec<u8>]) {
        let mut ids = self.ids();
        for id in batch {
            ids.remove(id);
        }
        self.publish_len(&ids);
    }
}
