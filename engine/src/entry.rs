//! One cached insertion of a session, and the state machine that decides
//! which thread removes it.
//!
//! Every `add` makes a fresh [`Entry`], even for a session that is already
//! cached, so an entry pointer names one insertion and is never reused while
//! a thread can still hold it.
//!
//! ```text
//!             publish in map          mark_live (the adder)
//!  PENDING ─────────────────────▶ PENDING ─────────────────▶ LIVE
//!     │ (in the index, being                                  │
//!     │  published in the map)                                │
//!     │ try_retire(Path::Map)                                 │ try_retire(any path)
//!     ▼                                                       ▼
//!  RETIRED ◀──────────────────────────────────────────────── RETIRED
//! ```
//!
//! `RETIRED` is final and is reached by exactly one successful CAS: that
//! thread, and only that one, decrements the cache's length, empties the map
//! slot (if the entry is still there), removes the index entry and reports
//! the removal. A `PENDING` entry is invisible to flush and eviction (it is
//! not cached yet) but a map-path operation that found it in the map may
//! retire it.

use std::sync::Arc;

use crate::index::IndexKey;
use crate::session::{Session, SessionId};
use crate::sync::{AtomicU8, Ordering};

/// Made by `add`, in the index, being published in the map.
pub(crate) const PENDING: u8 = 0;
/// Published and fully cached.
pub(crate) const LIVE: u8 = 1;
/// Removed; final.
pub(crate) const RETIRED: u8 = 2;

/// Which structure a retiring thread found the entry through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Path {
    /// Found in the map by id (remove, take, lookup, replacement): the entry
    /// was published, so `PENDING` counts as cached.
    Map,
    /// Found in the expiry index (flush, eviction): only `LIVE` counts.
    Index,
}

pub(crate) struct Entry<V> {
    pub(crate) session: Arc<Session<V>>,
    /// The map hash of the session id, kept so removal does not rehash.
    pub(crate) hash: u64,
    /// (expiry, insertion sequence): this entry's key in the expiry index.
    pub(crate) key: IndexKey,
    state: AtomicU8,
}

impl<V> Entry<V> {
    pub(crate) fn new(session: Arc<Session<V>>, hash: u64, key: IndexKey) -> Self {
        Entry {
            session,
            hash,
            key,
            state: AtomicU8::new(PENDING),
        }
    }

    pub(crate) fn state(&self) -> u8 {
        // Acquire: pairs with the AcqRel transitions, so a thread that sees
        // RETIRED also sees what the retirer did before it.
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.state() == RETIRED
    }

    /// PENDING → LIVE, once the entry is published in the map. Fails (and
    /// changes nothing) when a map-path operation retired it first.
    pub(crate) fn mark_live(&self) -> bool {
        // AcqRel: orders the publication before the entry becomes visible to
        // flush and eviction.
        let ok = self
            .state
            .compare_exchange(PENDING, LIVE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        debug_assert!(
            ok || self.state() == RETIRED,
            "only RETIRED can follow PENDING besides LIVE"
        );
        ok
    }

    /// The one transition that removes an entry: exactly one caller, over
    /// all paths, gets `true`.
    pub(crate) fn try_retire(&self, path: Path) -> bool {
        #[cfg(sesscache_mutant = "retire_without_cas")]
        {
            // Seeded bug: a check then a store instead of a CAS, so two
            // threads can both believe they removed the entry.
            let cur = self.state();
            if cur == RETIRED || (path == Path::Index && cur != LIVE) {
                return false;
            }
            self.state.store(RETIRED, Ordering::Release);
            true
        }
        #[cfg(not(sesscache_mutant = "retire_without_cas"))]
        self.retire_by_cas(path)
    }

    #[cfg(not(sesscache_mutant = "retire_without_cas"))]
    fn retire_by_cas(&self, path: Path) -> bool {
        let mut cur = self.state();
        loop {
            if cur == RETIRED || (path == Path::Index && cur != LIVE) {
                return false;
            }
            // AcqRel: the winner's later cleanup is ordered after the claim,
            // and losers see the winner's state.
            match self
                .state
                .compare_exchange(cur, RETIRED, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                // Re-check: a PENDING entry may have just become LIVE.
                Err(actual) => cur = actual,
            }
        }
    }
}

impl<V> crate::map::Keyed for Entry<V> {
    fn key(&self) -> &SessionId {
        self.session.session_id()
    }
}
