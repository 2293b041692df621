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
//! thread, and only that one, keeps the decrement of the cache's length it
//! made just before the CAS (a loser gives its unit back), empties the map
//! slot (if the entry is still there), removes the index entry and reports
//! the removal. A `PENDING` entry is invisible to flush and eviction (it is
//! not cached yet) but a map-path operation that found it in the map may
//! retire it.

use std::sync::Arc;

use crate::index::IndexKey;
use crate::session::{Session, SessionId};
use crate::sync::{AtomicU64, Ordering};

/// Made by `add`, in the index, being published in the map.
pub(crate) const PENDING: u64 = 0;
/// Published and fully cached.
pub(crate) const LIVE: u64 = 1;
/// Removed; final.
pub(crate) const RETIRED: u64 = 2;

/// Low bits of [`Entry`]'s `seq_state` that hold the state; the bits above
/// hold the insertion sequence number.
const STATE_BITS: u32 = 2;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// The largest sequence number an entry can hold: `seq_state` gives it
/// 62 bits. At a billion adds a second a cache would reach it after 146
/// years.
pub(crate) const MAX_SEQ: u64 = u64::MAX >> STATE_BITS;

/// Which structure a retiring thread found the entry through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Path {
    /// Found in the map by id (remove, take, lookup, replacement): the entry
    /// was published, so `PENDING` counts as cached.
    Map,
    /// Found in the expiry index (flush, eviction): only `LIVE` counts.
    Index,
}

/// Three words (with the `Arc`'s two counts, a 48-byte malloc chunk): the
/// map hash is not kept, the retiring thread recomputes it from the id.
pub(crate) struct Entry<V> {
    pub(crate) session: Arc<Session<V>>,
    /// The expiry this entry is indexed under: a snapshot, since the
    /// session's own may be restamped (`UPDATE_TIME`) while it is cached.
    expiry: u64,
    /// The insertion sequence number (the bits above [`STATE_BITS`], never
    /// changed) and the state (`PENDING`, `LIVE`, `RETIRED`: the low bits),
    /// in one word so that the entry stays three words.
    seq_state: AtomicU64,
}

impl<V> Entry<V> {
    /// An entry indexed under `key` = (expiry, sequence number); the
    /// sequence number must be at most [`MAX_SEQ`].
    pub(crate) fn new(session: Arc<Session<V>>, key: IndexKey) -> Self {
        let (expiry, seq) = key;
        debug_assert!(seq <= MAX_SEQ, "sequence number {seq} out of range");
        Entry {
            session,
            expiry,
            seq_state: AtomicU64::new(seq << STATE_BITS | PENDING),
        }
    }

    /// (expiry, insertion sequence): this entry's key in the expiry index.
    pub(crate) fn key(&self) -> IndexKey {
        // Relaxed: the sequence bits never change after `new`, and the
        // entry reached this thread through a publication that orders them.
        (
            self.expiry,
            self.seq_state.load(Ordering::Relaxed) >> STATE_BITS,
        )
    }

    pub(crate) fn state(&self) -> u64 {
        // Acquire: pairs with the AcqRel transitions, so a thread that sees
        // RETIRED also sees what the retirer did before it.
        self.seq_state.load(Ordering::Acquire) & STATE_MASK
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.state() == RETIRED
    }

    /// PENDING → LIVE, once the entry is published in the map. Fails (and
    /// changes nothing) when a map-path operation retired it first.
    pub(crate) fn mark_live(&self) -> bool {
        // Acquire: as in `state`.
        let cur = self.seq_state.load(Ordering::Acquire);
        // AcqRel: orders the publication before the entry becomes visible to
        // flush and eviction. Only RETIRED can replace PENDING meanwhile.
        let ok = cur & STATE_MASK == PENDING
            && self
                .seq_state
                .compare_exchange(
                    cur,
                    cur & !STATE_MASK | LIVE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
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
            // Acquire: as in `state`.
            let cur = self.seq_state.load(Ordering::Acquire);
            let state = cur & STATE_MASK;
            if state == RETIRED || (path == Path::Index && state != LIVE) {
                return false;
            }
            self.seq_state
                .store(cur & !STATE_MASK | RETIRED, Ordering::Release);
            true
        }
        #[cfg(not(sesscache_mutant = "retire_without_cas"))]
        self.retire_by_cas(path)
    }

    #[cfg(not(sesscache_mutant = "retire_without_cas"))]
    fn retire_by_cas(&self, path: Path) -> bool {
        // Acquire: as in `state`.
        let mut cur = self.seq_state.load(Ordering::Acquire);
        loop {
            let state = cur & STATE_MASK;
            if state == RETIRED || (path == Path::Index && state != LIVE) {
                return false;
            }
            // AcqRel: the winner's later cleanup is ordered after the claim,
            // and losers see the winner's state.
            match self.seq_state.compare_exchange(
                cur,
                cur & !STATE_MASK | RETIRED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
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

#[cfg(all(test, not(sesscache_loom)))]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry<()> {
        let s = Arc::new(Session::new(b"id", 1_000, 300, ()).unwrap());
        Entry::new(s, (1_300, seq))
    }

    /// Three words: with the `Arc`'s two counts, 40 bytes, a 48-byte
    /// malloc chunk (a fourth word would make it 64).
    #[test]
    fn an_entry_is_three_words() {
        assert_eq!(size_of::<Entry<()>>(), 3 * size_of::<u64>());
    }

    /// The state shares a word with the sequence number: no transition may
    /// disturb the sequence, at either end of its range.
    #[test]
    fn transitions_keep_the_key() {
        for seq in [0, 1, 0x1234_5678_9abc, MAX_SEQ - 1, MAX_SEQ] {
            let e = entry(seq);
            assert_eq!((e.state(), e.key()), (PENDING, (1_300, seq)));
            assert!(!e.try_retire(Path::Index), "PENDING is not cached yet");
            assert!(e.mark_live());
            assert_eq!((e.state(), e.key()), (LIVE, (1_300, seq)));
            assert!(e.try_retire(Path::Index));
            assert_eq!((e.state(), e.key()), (RETIRED, (1_300, seq)));
            assert!(!e.try_retire(Path::Map) && !e.try_retire(Path::Index));
            assert!(!e.mark_live(), "RETIRED is final");
            assert_eq!((e.state(), e.key()), (RETIRED, (1_300, seq)));

            // A map-path remover may retire a PENDING entry; the adder's
            // mark_live then fails.
            let e = entry(seq);
            assert!(e.try_retire(Path::Map));
            assert!(!e.mark_live());
            assert_eq!((e.state(), e.key()), (RETIRED, (1_300, seq)));
        }
    }
}
