//! The session cache: OpenSSL's `SSL_CTX` session-cache semantics on a
//! lock-free map and a lock-free expiry index.
//!
//! # Structure
//!
//! ```text
//!            SessionMap (split-ordered list)          ExpiryIndex (skiplist)
//!   id ──▶ [node id=A | slot]──┐                ┌── (expiry 100, seq 7) ─┐
//!                              ▼                ▼                        │
//!                   Arc<Entry> { session, expiry, seq + state } ◀────────┘
//!                                         │
//!                                         ▼
//!                                  Arc<Session<V>>  (handed to callers)
//! ```
//!
//! Every `add` makes a fresh [`Entry`]: it is put in the index first
//! (`PENDING`, invisible to flush and eviction), then published in the map
//! (one CAS: a new node, or a slot replacing the previous entry for the id),
//! then marked `LIVE`. Whatever path removes an entry — remove, take, flush,
//! eviction, expiry found by a lookup, replacement — goes through
//! [`Entry::try_retire`], a CAS to `RETIRED` that exactly one thread wins;
//! that thread alone adjusts the length, empties the map slot, removes the
//! index entry and reports the session. See `docs/DESIGN.md` for the
//! linearization points and the proofs.

use core::fmt;
use core::ops::Bound;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::builder::CacheBuilder;
use crate::entry::{Entry, Path, LIVE, MAX_SEQ};
use crate::graveyard::Graveyard;
#[cfg(not(sesscache_loom))]
use crate::index::warm_ranges;
use crate::index::{ExpiryIndex, IndexKey, SkipIndex};
use crate::map::SessionMap;
use crate::panics::{catch_first_panic, drop_then_resume, pin_holding_panic, HeldPanic};
use crate::session::SessionId;
use crate::stats::{Counter, StripedStats};
use crate::sync::epoch::{self, Guard};
use crate::sync::{prefetch, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use crate::{CacheMode, Clock, Error, Session, Stats};

pub(crate) type NewHook<V> = Box<dyn Fn(&Arc<Session<V>>) + Send + Sync>;
pub(crate) type RemoveHook<V> = Box<dyn Fn(&Session<V>) + Send + Sync>;
pub(crate) type GetHook<V> = Box<dyn Fn(&[u8]) -> Option<Arc<Session<V>>> + Send + Sync>;

/// `store` runs `flush(now)` when the count of the stores before it, `n`,
/// has `n & AUTO_FLUSH_MASK == AUTO_FLUSH_MASK`: the 256th store, then every
/// 256th, as OpenSSL's `ssl_update_cache` tests `accept_good & 0xff` before
/// the handshake is counted.
#[cfg(not(sesscache_loom))]
pub(crate) const AUTO_FLUSH_MASK: u64 = 0xff;
/// Under loom: every 2nd store, so a model with a few stores reaches it.
#[cfg(sesscache_loom)]
pub(crate) const AUTO_FLUSH_MASK: u64 = 0x1;

/// Ordering of the read-modify-writes of `len`: see `SessionCache::insert`.
#[cfg(not(sesscache_mutant = "relaxed_len"))]
const LEN_RMW: Ordering = Ordering::AcqRel;
/// Ordering of the loads of `len` that decide an eviction.
#[cfg(not(sesscache_mutant = "relaxed_len"))]
const LEN_LOAD: Ordering = Ordering::Acquire;
/// Seeded bug: the store-buffer race loom found (both adders see the other's
/// entry still PENDING and the cache stays over its bound).
#[cfg(sesscache_mutant = "relaxed_len")]
const LEN_RMW: Ordering = Ordering::Relaxed;
#[cfg(sesscache_mutant = "relaxed_len")]
const LEN_LOAD: Ordering = Ordering::Relaxed;

/// Flush claims at most this many sessions before it unpins and reports
/// them, so callbacks never run pinned and garbage is released as it goes.
const FLUSH_BATCH: usize = 64;

/// How many entries of each of its ranges a flush's warm-up loads
/// ([`SessionCache::warm_expired`]): four ranges of 256 cover a flush of
/// up to about a thousand sessions (an automatic flush runs every 256
/// stores), and the warmed index nodes (~80 KB) stay in a core's cache.
#[cfg(not(sesscache_loom))]
const WARM_STEPS: usize = 256;

/// How many nodes past a bucket's dummy a flush loads ahead: three cover
/// the entry's node and the node after it in most buckets (a bucket holds
/// at most one entry on average).
const PREFETCH_DEPTH: usize = 3;

/// A lock-free TLS session cache with the semantics of OpenSSL's internal
/// `SSL_CTX` session cache.
///
/// ```
/// use sesscache::{ManualClock, SessionCache};
///
/// let clock = ManualClock::new(1_000);
/// let cache: SessionCache<&'static str> = SessionCache::builder()
///     .capacity(2)
///     .timeout(300)
///     .clock(clock.clone())
///     .build();
/// let s = cache.new_session(b"session-1", "state").unwrap();
/// assert!(cache.add(&s));
/// assert!(!cache.add(&s)); // this very session is cached already
/// assert_eq!(cache.lookup(b"session-1").unwrap().value(), &"state");
/// clock.advance(301);
/// assert!(cache.lookup(b"session-1").is_none()); // expired: removed
/// assert_eq!(cache.stats().timeouts, 1);
/// ```
pub struct SessionCache<V> {
    map: SessionMap<Entry<V>>,
    index: SkipIndex<Entry<V>>,
    /// The counters that adds, stores and removes write, on a cache line of
    /// their own.
    counters: CachePadded<Counters>,
    capacity: AtomicUsize,
    timeout: u64,
    mode: CacheMode,
    clock: Box<dyn Clock>,
    on_new: Option<NewHook<V>>,
    on_remove: Option<RemoveHook<V>>,
    on_get: Option<GetHook<V>>,
    stats: StripedStats,
}

/// The counters that adds (`next_seq`, and `len` for a new id), stores
/// (`stores`) and removes (`len`) write, kept together on one cache line
/// away from the fields that every lookup reads (the clock, the mode, the
/// hooks, the pointer to the statistics' stripes), so that a write on one
/// processor does not take those from the others.
struct Counters {
    /// Entries cached. Signed: a remover may decrement before the adder of
    /// the same entry increments.
    len: AtomicIsize,
    /// The next insertion sequence number (the index key's tie-break).
    next_seq: AtomicU64,
    /// Stores so far, for the automatic flush (every `AUTO_FLUSH_MASK + 1`).
    stores: AtomicU64,
}

impl<V: Send + Sync + 'static> Default for SessionCache<V> {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl<V: Send + Sync + 'static> SessionCache<V> {
    /// A builder with OpenSSL's defaults: capacity 20480, timeout 7200 s, no
    /// mode flags, the system clock, no callbacks.
    pub fn builder() -> CacheBuilder<V> {
        CacheBuilder::default()
    }

    pub(crate) fn from_builder(b: CacheBuilder<V>) -> Self {
        SessionCache {
            map: SessionMap::new(b.buckets),
            index: SkipIndex::new(),
            counters: CachePadded::new(Counters {
                len: AtomicIsize::new(0),
                next_seq: AtomicU64::new(0),
                stores: AtomicU64::new(0),
            }),
            capacity: AtomicUsize::new(b.capacity),
            timeout: b.timeout,
            mode: b.mode,
            clock: b.clock,
            on_new: b.on_new,
            on_remove: b.on_remove,
            on_get: b.on_get,
            stats: StripedStats::new(),
        }
    }

    /// A session stamped with the clock's current time and the cache's
    /// timeout. It is not added.
    ///
    /// # Errors
    /// [`Error::EmptyId`] or [`Error::IdTooLong`].
    pub fn new_session(&self, id: &[u8], value: V) -> Result<Arc<Session<V>>, Error> {
        Ok(Arc::new(Session::new(
            id,
            self.clock.now(),
            self.timeout,
            value,
        )?))
    }

    /// `SSL_CTX_add_session`: caches `session`.
    ///
    /// Returns true when it became a new entry, false when this very session
    /// (`Arc::ptr_eq`) was cached already (it is then repositioned as the
    /// newest among sessions of its expiry). A different session with the
    /// same id replaces the cached one silently (no `on_remove`). With
    /// [`CacheMode::UPDATE_TIME`] the session is first stamped with the
    /// clock's time. When the cache is full, the soonest-expiring sessions
    /// (among equal expiries, the oldest added) are evicted, counted in
    /// `cache_full` and reported to `on_remove`.
    pub fn add(&self, session: &Arc<Session<V>>) -> bool {
        if self.mode.contains(CacheMode::UPDATE_TIME) {
            session.set_time(self.clock.now());
        }
        let mut evicted = Vec::new();
        let new = self.insert(session, &mut evicted);
        self.report_removed(None, evicted);
        new
    }

    fn insert(&self, session: &Arc<Session<V>>, evicted: &mut Vec<Arc<Session<V>>>) -> bool {
        let guard = epoch::pin();
        let id = session.session_id();
        let hash = self.map.hash(id);
        // Relaxed: only the uniqueness of the sequence number matters. An
        // entry holds 62 bits of it (146 years at a billion adds a second).
        let seq = self.counters.next_seq.fetch_add(1, Ordering::Relaxed) & MAX_SEQ;
        let key = (session.expiry(), seq);
        let entry = Arc::new(Entry::new(session.clone(), key));
        // Index first: once the entry is in the map, a remover may retire it
        // and will then remove it from the index.
        #[cfg(not(sesscache_mutant = "index_after_publish"))]
        self.index.insert(key, entry.clone(), &guard);
        let replaced = self.map.publish(hash, id, entry.clone(), &guard);
        // Seeded bug: a remover may retire the entry before it is indexed,
        // leaving an orphan in the index.
        #[cfg(sesscache_mutant = "index_after_publish")]
        self.index.insert(key, entry.clone(), &guard);
        entry.mark_live();
        let (already_cached, counts_as_new) = match replaced {
            // Replaced silently: the new entry takes the old one's place, so
            // the length does not change.
            Some(old) if old.try_retire(Path::Map) => {
                self.index.remove(&old.key(), &guard);
                (Arc::ptr_eq(&old.session, session), false)
            }
            // A new id, or the old entry was retired by someone else, who
            // accounts for it: this is a new entry.
            _ => (false, true),
        };
        if counts_as_new {
            // AcqRel: read-modify-writes of `len` are totally ordered, so of
            // two concurrent adders the later one acquires the earlier one's
            // `mark_live` and can evict its entry. With Relaxed both could
            // see the other's entry still PENDING, evict nothing, and leave
            // the cache over its bound (a store-buffer race loom found).
            self.counters.len.fetch_add(1, LEN_RMW);
        }
        // Even a replacement checks the bound: a concurrent adder that found
        // this thread's entry still PENDING relied on it to.
        #[cfg(not(sesscache_mutant = "replacement_skips_bound"))]
        self.evict_to_capacity(Some(seq), &guard, evicted);
        // Seeded bug: only new entries check the bound.
        #[cfg(sesscache_mutant = "replacement_skips_bound")]
        if counts_as_new {
            self.evict_to_capacity(Some(seq), &guard, evicted);
        }
        !already_cached
    }

    /// Evicts the soonest-expiring live entries (never the entry with
    /// sequence `spare`) while the cache holds more than its capacity.
    ///
    /// Each eviction picks a victim, then *reserves* one unit of excess by
    /// taking it off `len` with a CAS that succeeds only while
    /// `len > capacity`, then retires the victim without decrementing again
    /// (giving the unit back and looking again if another thread retired it
    /// first). Two adders that both see the cache one over its bound
    /// therefore evict one session between them, not two; and a unit is held
    /// only across one CAS, so no other evictor is misled by it for long.
    fn evict_to_capacity(
        &self,
        spare: Option<u64>,
        guard: &Guard,
        evicted: &mut Vec<Arc<Session<V>>>,
    ) {
        loop {
            let cap = self.capacity_bound();
            // Acquire (LEN_LOAD): see `insert`; an adder that reads another's
            // increment also sees that adder's entry LIVE.
            if cap == 0 || self.counters.len.load(LEN_LOAD) <= cap {
                return;
            }
            let Some(victim) = self.soonest_live(spare, guard) else {
                // Nothing to evict: every other counted entry is being added
                // or removed by a thread that checks the bound itself when it
                // is done.
                return;
            };
            // AcqRel: see `insert`; Acquire on failure for the same reason.
            let reserved = self
                .counters
                .len
                .fetch_update(LEN_RMW, LEN_LOAD, |len| (len > cap).then_some(len - 1));
            if reserved.is_err() {
                return;
            }
            if victim.try_retire(Path::Index) {
                // The reservation already took it off `len`.
                self.unlink(victim, self.map.hash(victim.session.session_id()), guard);
                self.stats.bump(Counter::CacheFull);
                victim.session.mark_not_resumable();
                // Without an `on_remove` hook nobody is told: no reference
                // is taken and nothing is allocated for the report.
                if self.on_remove.is_some() {
                    evicted.push(victim.session.clone());
                }
            } else {
                // Another thread retired it first: give the unit back and
                // look again.
                // AcqRel: see `insert`.
                self.counters.len.fetch_add(1, LEN_RMW);
            }
        }
    }

    /// The capacity as a bound on `len` (0: unlimited). A capacity beyond
    /// `isize::MAX` cannot be reached and is as good as unlimited.
    fn capacity_bound(&self) -> isize {
        // Relaxed: a configuration value, re-read every round.
        isize::try_from(self.capacity.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The first `LIVE` entry in expiry order other than `spare`.
    fn soonest_live<'g>(&'g self, spare: Option<u64>, guard: &'g Guard) -> Option<&'g Entry<V>> {
        let mut victim = None;
        self.index
            .scan(Bound::Unbounded, Bound::Unbounded, guard, &mut |key, e| {
                if Some(key.1) != spare && e.state() == LIVE {
                    victim = Some(&**e);
                    false
                } else {
                    true
                }
            });
        victim
    }

    /// Retires `e` if no other thread has, and then removes it everywhere
    /// (`hash`: the map hash of its id). A thread that loses the race runs
    /// the eviction loop, pushing what it evicts to `evicted` for the caller
    /// to report.
    ///
    /// The length drops *before* the claim, so an adder never counts an
    /// entry that a remover has already claimed: counting it, the adder
    /// could find the cache over its bound and evict another session, one
    /// more than any sequential order would. A loser gives its unit back
    /// and, since an adder may have relied on the lower count meanwhile,
    /// checks the bound itself (docs/DESIGN.md § 4, "The size bound").
    fn retire(
        &self,
        e: &Entry<V>,
        hash: u64,
        path: Path,
        guard: &Guard,
        evicted: &mut Vec<Arc<Session<V>>>,
    ) -> bool {
        // Seeded bug: unlinking before the state transition lets a loser
        // unlink an entry it does not own (e.g. a PENDING one).
        #[cfg(sesscache_mutant = "unlink_before_retire")]
        {
            self.map.unpublish(hash, e.session.session_id(), e, guard);
            self.index.remove(&e.key(), guard);
        }
        // AcqRel: see `insert`; the decrement is ordered before the claim,
        // so an evictor that sees the entry RETIRED also sees the length
        // without it.
        self.counters.len.fetch_sub(1, LEN_RMW);
        if !e.try_retire(path) {
            // The unit goes back, then the bound is checked: an adder may
            // have found the cache within it while the unit was off.
            // Seeded bugs: the unit is not given back (the length drops
            // twice for one entry), or the bound is left unchecked.
            #[cfg(not(sesscache_mutant = "decrement_on_lost_race"))]
            {
                // AcqRel: see `insert`.
                self.counters.len.fetch_add(1, LEN_RMW);
                if cfg!(not(sesscache_mutant = "loser_skips_bound")) {
                    self.evict_to_capacity(None, guard, evicted);
                }
            }
            return false;
        }
        self.unlink(e, hash, guard);
        true
    }

    /// Removes a retired entry from the map (unless its slot already holds a
    /// replacement) and from the index. Only the retiring thread calls it,
    /// with `hash`, the map hash of the entry's id (entries do not keep it).
    fn unlink(&self, e: &Entry<V>, hash: u64, guard: &Guard) {
        debug_assert!(e.is_retired(), "only a retired entry is unlinked");
        debug_assert_eq!(hash, self.map.hash(e.session.session_id()));
        self.map.unpublish(hash, e.session.session_id(), e, guard);
        self.index.remove(&e.key(), guard);
    }

    /// The entry cached under `id` that is not retired. A retired entry still
    /// in the map belongs to a remover between its state CAS and its
    /// unpublish: help it, then look again (the id may hold a replacement).
    fn find_live<'g>(&self, hash: u64, id: &SessionId, guard: &'g Guard) -> Option<&'g Entry<V>> {
        loop {
            let e = self.map.get(hash, id, guard)?;
            if !e.is_retired() {
                return Some(e);
            }
            // Seeded bug: no re-check, so a lookup racing a replacement
            // reports the id absent.
            #[cfg(sesscache_mutant = "no_recheck_after_retired")]
            return None;
            #[cfg(not(sesscache_mutant = "no_recheck_after_retired"))]
            self.map.unpublish(hash, id, e, guard);
        }
    }

    /// Retires whatever entry is cached under `id`; returns its session.
    /// Sessions evicted on the way (see [`retire`](Self::retire)) go to
    /// `evicted`.
    fn retire_id(
        &self,
        id: &SessionId,
        evicted: &mut Vec<Arc<Session<V>>>,
    ) -> Option<Arc<Session<V>>> {
        let guard = epoch::pin();
        let hash = self.map.hash(id);
        loop {
            let e = self.find_live(hash, id, &guard)?;
            if self.retire(e, hash, Path::Map, &guard, evicted) {
                return Some(e.session.clone());
            }
        }
    }

    /// `SSL_CTX_remove_session`: removes whatever session is cached under the
    /// id of `session` (it may be another object) and returns whether there
    /// was one. Always marks `session` not resumable and calls `on_remove`
    /// with it, even when nothing was cached, so an external cache hears of it.
    pub fn remove(&self, session: &Session<V>) -> bool {
        let mut evicted = Vec::new();
        let mut first_panic = None;
        // The cached session is dropped before the reports, a panic in its
        // value's `drop` held until they are done.
        let found = self
            .retire_id(session.session_id(), &mut evicted)
            .map(|cached| catch_first_panic(&mut first_panic, || drop(cached)))
            .is_some();
        session.mark_not_resumable();
        catch_first_panic(&mut first_panic, || {
            self.report_removed(Some(session), evicted);
        });
        if let Some(p) = first_panic {
            panic::resume_unwind(p);
        }
        found
    }

    /// Removes the session cached under `id`, if there is one, and returns
    /// whether there was: it is marked not resumable and reported to
    /// `on_remove` once. Unlike [`remove`](Self::remove) nothing is reported
    /// when nothing was cached, and no statistics are counted. An id no
    /// session can have (empty, or longer than 32 bytes) removes nothing.
    /// This is how a session is dropped when only its id is known (an
    /// invalidation from another machine, OpenSSL's remove callback).
    pub fn remove_id(&self, id: &[u8]) -> bool {
        let Ok(id) = SessionId::new(id) else {
            return false;
        };
        let mut evicted = Vec::new();
        let Some(session) = self.retire_id(&id, &mut evicted) else {
            self.report_removed(None, evicted);
            return false;
        };
        session.mark_not_resumable();
        drop(self.report_held(session, evicted));
        true
    }

    /// Takes the session cached under `id` for a single use (TLS 1.3
    /// stateful tickets, 0-RTT anti-replay): among any number of concurrent
    /// takers of one id, exactly one gets it. The session is removed, marked
    /// not resumable and reported to `on_remove` once. A session that has
    /// expired is removed the same way but not returned (counted in
    /// `timeouts`); a hit counts in `hits`, nothing found in `misses`. Only
    /// the internal cache is consulted.
    pub fn take(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        let id = SessionId::new(id).ok()?;
        let now = self.clock.now();
        let mut evicted = Vec::new();
        let Some(session) = self.retire_id(&id, &mut evicted) else {
            self.stats.bump(Counter::Misses);
            self.report_removed(None, evicted);
            return None;
        };
        session.mark_not_resumable();
        let expired = session.is_expired_at(now);
        self.stats.bump(if expired {
            Counter::Timeouts
        } else {
            Counter::Hits
        });
        let session = self.report_held(session, evicted);
        (!expired).then_some(session)
    }

    /// `SSL_has_matching_session_id`: whether a session with this id is
    /// cached. No statistics, no expiry check, no callback.
    pub fn contains(&self, id: &[u8]) -> bool {
        let Ok(id) = SessionId::new(id) else {
            return false;
        };
        let guard = epoch::pin();
        let hash = self.map.hash(&id);
        self.find_live(hash, &id, &guard).is_some()
    }

    /// The lookup OpenSSL does at resumption (`ssl_get_prev_session`), at the
    /// clock's current time:
    ///
    /// 1. Unless [`CacheMode::NO_INTERNAL_LOOKUP`], the cache; nothing there
    ///    counts a miss.
    /// 2. If that found nothing, `on_get`; a session it supplies counts
    ///    `cb_hits` (one that is not resumable is ignored) and is added to the
    ///    cache unless [`CacheMode::NO_INTERNAL_STORE`].
    /// 3. A session found either way that has expired counts `timeouts`, is
    ///    removed (and reported to `on_remove`) and is not returned; one that
    ///    has not counts `hits`.
    ///
    /// An id no session can have (empty, or longer than 32 bytes) finds
    /// nothing and counts nothing.
    pub fn lookup(&self, id: &[u8]) -> Option<Arc<Session<V>>> {
        self.lookup_impl(id, Arc::clone)
    }

    /// The same lookup as [`lookup`](Self::lookup), handing the session to
    /// `f` instead of returning an `Arc`: no reference count is touched on a
    /// hit in the cache, so a popular session does not bounce a cache line
    /// between cores.
    ///
    /// On a hit in the cache `f` runs while the thread is pinned to the
    /// current reclamation epoch: keep it short (copy what you need out of
    /// the session). A slow `f` delays the freeing of removed sessions for
    /// every thread; it may call back into the cache.
    ///
    /// ```
    /// # use sesscache::SessionCache;
    /// let cache: SessionCache<Vec<u8>> = SessionCache::builder().build();
    /// cache.add(&cache.new_session(b"id", vec![1, 2, 3]).unwrap());
    /// assert_eq!(cache.lookup_with(b"id", |s| s.value().len()), Some(3));
    /// ```
    pub fn lookup_with<R>(&self, id: &[u8], f: impl FnOnce(&Session<V>) -> R) -> Option<R> {
        self.lookup_impl(id, |s| f(s))
    }

    fn lookup_impl<R>(&self, id: &[u8], f: impl FnOnce(&Arc<Session<V>>) -> R) -> Option<R> {
        let sid = SessionId::new(id).ok()?;
        let now = self.clock.now();
        if !self.mode.contains(CacheMode::NO_INTERNAL_LOOKUP) {
            let guard = epoch::pin();
            let hash = self.map.hash(&sid);
            match self.find_live(hash, &sid, &guard) {
                Some(e) if !e.session.is_expired_at(now) => {
                    self.stats.bump(Counter::Hits);
                    return Some(f(&e.session));
                }
                Some(e) => {
                    self.stats.bump(Counter::Timeouts);
                    let mut evicted = Vec::new();
                    let removed = self
                        .retire(e, hash, Path::Map, &guard, &mut evicted)
                        .then(|| e.session.clone());
                    drop(guard);
                    match removed {
                        Some(s) => {
                            s.mark_not_resumable();
                            drop(self.report_held(s, evicted));
                        }
                        None => self.report_removed(None, evicted),
                    }
                    return None;
                }
                None => self.stats.bump(Counter::Misses),
            }
        }
        let supplied = self.on_get.as_ref().and_then(|hook| hook(id))?;
        if !supplied.is_resumable() {
            return None;
        }
        self.stats.bump(Counter::CbHits);
        // `supplied` is often the only reference (an external cache made
        // it): a panic below must not unwind with it alive (see
        // `drop_then_resume`), and the steps after a panicking one still run.
        let mut first_panic = None;
        if !self.mode.contains(CacheMode::NO_INTERNAL_STORE) {
            catch_first_panic(&mut first_panic, || {
                self.add(&supplied);
            });
        }
        let expired = supplied.is_expired_at(now);
        if expired {
            self.stats.bump(Counter::Timeouts);
            catch_first_panic(&mut first_panic, || {
                self.remove(&supplied);
            });
        }
        if let Some(p) = first_panic {
            drop_then_resume(supplied, p);
        }
        if expired {
            return None;
        }
        self.stats.bump(Counter::Hits);
        match panic::catch_unwind(AssertUnwindSafe(|| f(&supplied))) {
            Ok(r) => Some(r),
            Err(p) => drop_then_resume(supplied, p),
        }
    }

    /// The new-session path after a full handshake (`ssl_update_cache`):
    /// adds the session unless [`CacheMode::NO_INTERNAL_STORE`], then calls
    /// `on_new`. A session already marked not resumable (removed, taken or
    /// evicted) is neither added nor reported, as in OpenSSL since the fix
    /// for CVE-2024-2511. The 256th store, and every 256th after it, runs
    /// `flush(now)` on the calling thread unless [`CacheMode::NO_AUTO_CLEAR`]:
    /// OpenSSL tests `accept_good & 0xff == 0xff` before it counts the
    /// handshake, so its first automatic flush is on the 256th handshake too.
    /// Every store counts, a skipped one included, but a skipped one never
    /// flushes (OpenSSL returns before its test).
    ///
    /// # Panics
    /// When the add (through `on_remove` for a session it evicts), `on_new`
    /// or the automatic flush panics, the store still does the other steps,
    /// then resumes the first panic.
    pub fn store(&self, session: &Arc<Session<V>>) {
        // Relaxed: a counter; only its atomicity matters.
        let before = self.counters.stores.fetch_add(1, Ordering::Relaxed);
        if !session.is_resumable() {
            return;
        }
        let mut first_panic = None;
        if !self.mode.contains(CacheMode::NO_INTERNAL_STORE) {
            catch_first_panic(&mut first_panic, || {
                self.add(session);
            });
        }
        if let Some(hook) = &self.on_new {
            catch_first_panic(&mut first_panic, || hook(session));
        }
        if !self.mode.contains(CacheMode::NO_AUTO_CLEAR)
            && before & AUTO_FLUSH_MASK == AUTO_FLUSH_MASK
        {
            catch_first_panic(&mut first_panic, || {
                self.flush(self.clock.now());
            });
        }
        if let Some(p) = first_panic {
            panic::resume_unwind(p);
        }
    }

    /// `SSL_CTX_flush_sessions_ex`: removes every session that has expired
    /// at `t` (`t > expiry`; `t == 0` removes all), reports each to
    /// `on_remove` and returns how many it removed.
    ///
    /// It visits only expired sessions. It is weakly consistent under
    /// concurrency: it removes every session that had expired at `t` and
    /// stayed cached for the whole flush; sessions added meanwhile may or
    /// may not be removed. It walks no further than the last expired
    /// session cached when it began, so adds that keep coming (or that its
    /// own `on_remove` makes) cannot keep it running: a `flush(0)` ends
    /// even while other threads add.
    ///
    /// # Panics
    /// When `on_remove`, or the `drop` of a session's value, panics, the
    /// flush still removes and reports every expired session, then
    /// resumes the first panic.
    pub fn flush(&self, t: u64) -> usize {
        let expired = if t == 0 {
            Bound::Unbounded
        } else {
            Bound::Excluded((t, 0))
        };
        // A panic from a callback or from a value's `drop` is held until
        // the flush is over: the flush still removes (and reports) every
        // expired session.
        let mut first_panic = None;
        let Some(last) = self.flush_end(t, expired, &mut first_panic) else {
            if let Some(p) = first_panic {
                panic::resume_unwind(p);
            }
            return 0;
        };
        let upper = Bound::Included(last);
        let mut lower = Bound::Unbounded;
        let mut total = 0;
        let mut graveyard = Graveyard::new();
        let mut hashes = Vec::with_capacity(FLUSH_BATCH);
        let mut evicted = Vec::new();
        loop {
            let mut removed = Vec::with_capacity(FLUSH_BATCH);
            let guard = pin_holding_panic(&mut first_panic);
            // The batch's entries are borrowed from the index for as long as
            // `guard` is pinned: no reference count is touched until one is
            // retired, so the scan's cache misses can overlap.
            let mut candidates: Vec<&Arc<Entry<V>>> = Vec::with_capacity(FLUSH_BATCH);
            self.index.scan(lower, upper, &guard, &mut |key, e| {
                lower = Bound::Excluded(*key);
                candidates.push(e);
                candidates.len() < FLUSH_BATCH
            });
            // A short batch means the scan reached the end of the range.
            let more = candidates.len() == FLUSH_BATCH;
            hashes.clear();
            self.prefetch_paths(&candidates, &mut hashes, &guard);
            debug_assert_eq!(hashes.len(), candidates.len(), "one hash per entry");
            for (e, &hash) in candidates.into_iter().zip(&hashes) {
                if self.retire(e, hash, Path::Index, &guard, &mut evicted) {
                    e.session.mark_not_resumable();
                    removed.push(e.session.clone());
                    graveyard.hold(e.clone());
                }
            }
            // Hand this batch's deferred releases to the epoch now, and run
            // expired ones here rather than in the readers. Those may free
            // values removed earlier, anywhere, whose `drop` may panic.
            catch_first_panic(&mut first_panic, || guard.flush());
            drop(guard);
            total += removed.len();
            // Sessions evicted by a lost race (see `retire`) are reported
            // with the batch but not counted as flushed.
            removed.append(&mut evicted);
            // The report goes first, as freeing runs the values' `drop`.
            catch_first_panic(&mut first_panic, || {
                self.report_removed(None, removed);
            });
            graveyard.sweep(&mut first_panic);
            if !more {
                graveyard.drain(&mut first_panic);
                if let Some(p) = first_panic {
                    panic::resume_unwind(p);
                }
                return total;
            }
        }
    }

    /// Where a flush at `t` stops: the last index key within `expired` (the
    /// keys below `(t, 0)`, or all of them for `t == 0`), if any.
    ///
    /// For `t ≠ 0` it also warms the index first: it loads the entries
    /// expired at `t`, up to [`WARM_STEPS`] in each of [`WARM_RANGES`]
    /// ranges of their keys, walked side by side ([`SkipIndex::warm`]), so
    /// that the flush's own walk, one entry after the other, finds them
    /// cached; the span it splits ends at the same last key, found by the
    /// same search. The warm-up is only a hint: entries added or removed
    /// meanwhile are walked or not. It is outside the protocol, so not
    /// under the model checker. (`flush(0)` removes everything: nothing to
    /// split at.)
    ///
    /// [`WARM_RANGES`]: crate::index::WARM_RANGES
    fn flush_end(
        &self,
        t: u64,
        expired: Bound<IndexKey>,
        first_panic: &mut HeldPanic,
    ) -> Option<IndexKey> {
        let guard = pin_holding_panic(first_panic);
        #[cfg(not(sesscache_loom))]
        if t != 0 {
            if let Some((first, last)) = self.index.span_below((t, 0), &guard) {
                self.index
                    .warm(&warm_ranges(first, last, t), WARM_STEPS, &guard);
                return Some(last);
            }
        }
        // The loom build has no warm-up: `t` only shapes `expired`.
        #[cfg(sesscache_loom)]
        let _ = t;
        // No span (nothing expired, or a removal raced its two searches):
        // the last key alone.
        self.index.last_within(expired, &guard)
    }

    /// Loads what retiring `batch` will read, one step of every entry's path
    /// at a time, so the batch's cache misses overlap: removing one entry
    /// follows a chain of dependent pointers (entry, then session, whose id
    /// gives the hash and so the bucket's dummy, then nodes), each a likely
    /// miss in a large cache. Pushes each entry's map hash to `hashes`, in
    /// batch order.
    fn prefetch_paths(&self, batch: &[&Arc<Entry<V>>], hashes: &mut Vec<u64>, guard: &Guard) {
        for e in batch {
            prefetch(Arc::as_ptr(e));
        }
        for e in batch {
            // A session spans two cache lines: load both, as the id that
            // hashing and removal read may lie across them.
            prefetch(Arc::as_ptr(&e.session));
            let id: *const SessionId = e.session.session_id();
            prefetch(id.cast::<u8>().wrapping_add(size_of::<SessionId>() - 1));
        }
        for e in batch {
            let hash = self.map.hash(e.session.session_id());
            hashes.push(hash);
            self.map.prefetch(hash, 0, guard);
        }
        for depth in 1..=PREFETCH_DEPTH {
            for &hash in hashes.iter() {
                self.map.prefetch(hash, depth, guard);
            }
        }
    }

    /// Calls `on_remove` for `first`, if given, then for each of `sessions`,
    /// even if one of the calls panics, then drops `sessions` one at a
    /// time; the first panic, from a call or from a value's `drop`, is
    /// resumed at the end. The sessions are already unlinked, so a panic
    /// leaves the cache consistent, and no value's `drop` runs while a
    /// panic unwinds (one that panicked too would abort the process).
    fn report_removed(&self, first: Option<&Session<V>>, sessions: Vec<Arc<Session<V>>>) {
        let mut first_panic = None;
        if let Some(hook) = &self.on_remove {
            for s in first.into_iter().chain(sessions.iter().map(|s| &**s)) {
                catch_first_panic(&mut first_panic, || hook(s));
            }
        }
        for s in sessions {
            catch_first_panic(&mut first_panic, || drop(s));
        }
        if let Some(p) = first_panic {
            panic::resume_unwind(p);
        }
    }

    /// [`report_removed`](Self::report_removed) for a removed session the
    /// caller holds, handed back when nothing panicked. On a panic the
    /// session is dropped first (its value's `drop` may panic as well, and
    /// must not run while the first panic unwinds), then the panic resumed.
    fn report_held(
        &self,
        session: Arc<Session<V>>,
        evicted: Vec<Arc<Session<V>>>,
    ) -> Arc<Session<V>> {
        match panic::catch_unwind(AssertUnwindSafe(|| {
            self.report_removed(Some(&session), evicted);
        })) {
            Ok(()) => session,
            Err(p) => drop_then_resume(session, p),
        }
    }

    /// How many sessions are cached.
    pub fn len(&self) -> usize {
        // Relaxed: see `insert`. A transiently negative count reads as 0.
        self.counters.len.load(Ordering::Relaxed).max(0) as usize
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size bound (0: unlimited).
    pub fn capacity(&self) -> usize {
        // Relaxed: a configuration value.
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the size bound (0: unlimited). Shrinking evicts the
    /// soonest-expiring sessions at once, counting `cache_full` and calling
    /// `on_remove` for each, as adds do.
    pub fn set_capacity(&self, capacity: usize) {
        // Relaxed: a configuration value; the eviction below re-reads it.
        self.capacity.store(capacity, Ordering::Relaxed);
        let mut evicted = Vec::new();
        {
            let guard = epoch::pin();
            self.evict_to_capacity(None, &guard, &mut evicted);
        }
        self.report_removed(None, evicted);
    }

    /// The timeout given to sessions made by [`new_session`](Self::new_session).
    pub fn timeout(&self) -> u64 {
        self.timeout
    }

    /// The mode flags.
    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The clock's current time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        self.stats.snapshot(self.len() as u64)
    }

    /// Internal sizes for tests: (map values, index entries, map buckets).
    #[doc(hidden)]
    pub fn debug_sizes(&self) -> (usize, usize, usize) {
        (self.map.len(), self.index.len(), self.map.buckets())
    }

    /// For the loom models, at quiescence: walks the map's list and panics
    /// unless it is sorted with every dummy in it once, exactly the linked
    /// ones. Returns (regular nodes, buckets holding one whose dummy is not
    /// linked).
    #[cfg(sesscache_loom)]
    #[doc(hidden)]
    pub fn debug_check_map(&self) -> (usize, usize) {
        let shape = self.map.debug_check();
        (shape.regular, shape.unlinked_in_use)
    }
}

impl<V> fmt::Debug for SessionCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache")
            // Relaxed: a snapshot for display.
            .field("len", &self.counters.len.load(Ordering::Relaxed))
            .field("capacity", &self.capacity.load(Ordering::Relaxed))
            .field("timeout", &self.timeout)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}
