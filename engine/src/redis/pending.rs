//! Removals that Redis has not heard of yet.
//!
//! A `remove_id` made while Redis cannot be reached removes the local copy
//! only. Its id waits here until Redis is back; meanwhile a local miss on
//! it does not read the session back from Redis and a `take` of it does
//! not win. Every successful Redis operation then sends one batch of the
//! waiting deletions (and their invalidations) until none is left.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::sync::{AtomicUsize, Ordering};

/// The most removals kept waiting; beyond it the oldest are not tracked
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

    /// Forgets `id` (a new session with it was written to Redis).
    pub(crate) fn forget(&self, id: &[u8]) {
        if self.len() > 0 {
            let mut ids = self.ids();
            ids.remove(id);
            self.publish_len(&ids);
        }
    }

    /// Takes up to [`BATCH`] ids out to send.
    pub(crate) fn take_batch(&self) -> Vec<Vec<u8>> {
        let mut ids = self.ids();
        let batch: Vec<Vec<u8>> = ids.iter().take(BATCH).cloned().collect();
        for id in &batch {
            ids.remove(id);
        }
        self.publish_len(&ids);
        batch
    }

    /// Puts back a batch that could not be sent.
    pub(crate) fn put_back(&self, batch: Vec<Vec<u8>>) {
        let mut ids = self.ids();
        for id in batch {
            if ids.len() < MAX_PENDING {
                ids.insert(id);
            }
        }
        self.publish_len(&ids);
    }
}
