//! Model-based property test: random operation sequences run against a real
//! [`SessionCache<u32>`] and against a small sequential reference model, and
//! every observable result is compared after every operation.
//!
//! # The model
//!
//! [`Model`] is deliberately naive (linear scans, no cleverness), written from
//! the contract in the doc comments of `SessionCache` and from OpenSSL's
//! behaviour as summarised in `REFERENCE.md` §1:
//!
//! * every session object the test ever made is a *handle* (its index in a
//!   `Vec`, which is also the session's `u32` value), with the model's copy
//!   of its id, time, timeout and resumable flag;
//! * the cache is an unordered `Vec` of `(handle, seq)`: `seq` is a counter
//!   bumped by every `add` (a re-add of the cached object or a replacement
//!   takes a fresh `seq`, i.e. it becomes the newest added). The expiry order
//!   used by eviction and flush is `(time + timeout saturating, seq)`, the
//!   smallest first;
//! * `add` (with `UPDATE_TIME` it stamps the session with the clock first):
//!   the same object cached → `false`, repositioned; another object with that
//!   id → replaced silently (no `on_remove`, not marked), `true`; otherwise a
//!   new entry, `true`, and while `capacity > 0 && len > capacity` the
//!   smallest key other than the new entry is evicted (`cache_full`,
//!   `on_remove`, marked not resumable);
//! * `remove(s)` unlinks whatever is cached under `s`'s id and always marks
//!   `s` and reports `s` to `on_remove`;
//! * `take`, `lookup`/`lookup_with` (internal cache unless
//!   `NO_INTERNAL_LOOKUP`, then `on_get` backed by an "external store"
//!   `HashMap<id, handle>` that both sides share, `cb_hits`, add unless
//!   `NO_INTERNAL_STORE`, expired → `timeouts` + `remove`), `store` (add
//!   unless `NO_INTERNAL_STORE`, `on_new`, `flush(now)` when the count of
//!   earlier stores `n` has `n & 0xff == 0xff` unless `NO_AUTO_CLEAR`;
//!   nothing but the count for a session marked not resumable), `flush(t)` (every session
//!   with `t > expiry`, all when `t == 0`, in expiry order) and
//!   `set_capacity` (evicts like `add`);
//! * invalid ids (empty, 33 bytes) make `Session::new` fail and make
//!   lookups, takes and `contains` find nothing and count nothing.
//!
//! After every operation the test compares: the operation's return value
//! (sessions by `Arc::ptr_eq`), `len()`, `is_empty()`, the full `stats()`,
//! `capacity()`, `now()`, `contains` for every id in the pool, the map and
//! index sizes from `debug_sizes()`, every session's `time()` and
//! `is_resumable()`, and the exact sequence of hook calls since the previous
//! operation (`on_new`, `on_remove` with the session's value and id and
//! whether it was still resumable when reported, and `on_get` with the id).
//!
//! Each case draws a fresh configuration: capacity 0..=4, the cache's timeout,
//! mode bits (any subset of CLIENT, SERVER, NO_AUTO_CLEAR,
//! NO_INTERNAL_LOOKUP, NO_INTERNAL_STORE, UPDATE_TIME, given through
//! `CacheMode::from_bits_truncate`), with or without `on_get`, 2 or the
//! default number of table buckets, and the starting time of a
//! [`ManualClock`] (including 0 and near `u64::MAX`). Ids come from a pool of
//! six valid ids (including ones that differ only by a trailing zero byte or
//! by length, and a 32-byte one) plus two invalid ones, so replacements and
//! collisions are frequent. Timeouts include 0 and `u64::MAX` (saturation). A
//! bulk operation stores up to 300 sessions in a row (mostly 200 or more) so
//! the automatic flush of the 256th store is reached.
//!
//! Run: `cargo test -p sesscache --test model -- --nocapture`. [`CASES`]
//! cases (or `PROPTEST_CASES`) of up to [`MAX_OPS`] operations; the test
//! prints how often the interesting paths were exercised and fails if one of
//! them never was. Failures are not persisted to a regressions file: the
//! minimal failing input is printed instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestCaseResult, TestRunner};
use sesscache::{CacheMode, Error, ManualClock, Session, SessionCache, Stats, MAX_ID_LEN};

/// How many random cases (configuration + operation sequence) are run.
/// (`PROPTEST_CASES` in the environment overrides it.)
const CASES: u32 = 10_000;
/// The longest operation sequence of a case.
const MAX_OPS: usize = 80;
/// `store` flushes when the count of earlier stores `n` has
/// `n & MASK == MASK`.
const AUTO_FLUSH_MASK: u64 = 0xff;

/// The id pool: the first [`VALID_IDS`] are valid, the rest are not.
const IDS: [&[u8]; 8] = [
    b"a",
    b"b",
    b"sess",
    b"sess\0",
    &[0xab; 32],
    &[0xab; 31],
    b"",
    &[0xab; 33],
];
const VALID_IDS: usize = 6;

const TIMEOUTS: [u64; 7] = [0, 1, 2, 5, 7200, u64::MAX - 1, u64::MAX];

/// A session's time, relative to the clock or absolute.
#[derive(Clone, Copy, Debug)]
enum TimeSpec {
    Rel(i8),
    Abs(u64),
}

impl TimeSpec {
    fn at(self, now: u64) -> u64 {
        match self {
            TimeSpec::Rel(d) if d < 0 => now.saturating_sub(u64::from(d.unsigned_abs())),
            TimeSpec::Rel(d) => now.saturating_add(u64::from(d.unsigned_abs())),
            TimeSpec::Abs(t) => t,
        }
    }
}

/// The argument of a `flush`.
#[derive(Clone, Copy, Debug)]
enum FlushAt {
    Zero,
    Rel(i8),
    Abs(u64),
}

impl FlushAt {
    fn at(self, now: u64) -> u64 {
        match self {
            FlushAt::Zero => 0,
            FlushAt::Rel(d) => TimeSpec::Rel(d).at(now),
            FlushAt::Abs(t) => t,
        }
    }
}

/// One operation. `usize` fields named `id` index [`IDS`]; an [`Index`]
/// picks one of the session handles made so far (the operation does nothing
/// when there is none yet).
#[derive(Clone, Debug)]
enum Op {
    /// `Session::new(IDS[id], time, timeout, value)`.
    New {
        id: usize,
        time: TimeSpec,
        timeout: u64,
    },
    /// `cache.new_session(IDS[id], value)`.
    NewFromCache {
        id: usize,
    },
    Add(Index),
    Remove(Index),
    /// `cache.remove_id(IDS[id])`.
    RemoveId(usize),
    Store(Index),
    /// `n` stores in a row: of fresh sessions (ids cycling from `id`, time
    /// `time`, timeouts cycling through [`TIMEOUTS`]) or, if not `fresh`, of
    /// the existing handles round robin.
    StoreMany {
        n: usize,
        fresh: bool,
        id: usize,
        time: TimeSpec,
    },
    Contains(usize),
    Lookup(usize),
    LookupWith(usize),
    Take(usize),
    Flush(FlushAt),
    SetCapacity(usize),
    Advance(u64),
    SetClock(u64),
    /// Puts the session in the external store `on_get` reads, under its id.
    ExtPut(Index),
    /// Deletes the external store's session under `IDS[id]`.
    ExtDel(usize),
}

#[derive(Clone, Debug)]
struct CaseConfig {
    capacity: usize,
    timeout: u64,
    /// OpenSSL mode bits, given to `CacheMode::from_bits_truncate`.
    mode_bits: u32,
    on_get: bool,
    buckets: Option<usize>,
    start: u64,
}

/// A hook call, as recorded by the real cache's hooks and predicted by the
/// model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    New {
        value: u32,
        resumable: bool,
    },
    Removed {
        value: u32,
        id: Vec<u8>,
        resumable: bool,
    },
    Get {
        id: Vec<u8>,
    },
}

/// How often the interesting paths were taken (summed over cases).
#[derive(Default)]
struct Coverage {
    evictions: AtomicU64,
    replacements: AtomicU64,
    readds: AtomicU64,
    expired_lookups: AtomicU64,
    cb_hits: AtomicU64,
    cb_expired: AtomicU64,
    auto_flushes: AtomicU64,
    auto_flush_removals: AtomicU64,
    unresumable_stores: AtomicU64,
    flush_removals: AtomicU64,
    take_hits: AtomicU64,
    take_expired: AtomicU64,
    saturated_cached: AtomicU64,
    invalid_ids: AtomicU64,
}

/// Per-case counts, added to [`Coverage`] at the end of the case.
#[derive(Default, Debug, Clone, Copy)]
struct CaseCoverage {
    evictions: u64,
    replacements: u64,
    readds: u64,
    expired_lookups: u64,
    cb_hits: u64,
    cb_expired: u64,
    auto_flushes: u64,
    auto_flush_removals: u64,
    unresumable_stores: u64,
    flush_removals: u64,
    take_hits: u64,
    take_expired: u64,
    saturated_cached: u64,
    invalid_ids: u64,
}

impl Coverage {
    fn absorb(&self, c: &CaseCoverage) {
        let pairs = [
            (&self.evictions, c.evictions),
            (&self.replacements, c.replacements),
            (&self.readds, c.readds),
            (&self.expired_lookups, c.expired_lookups),
            (&self.cb_hits, c.cb_hits),
            (&self.cb_expired, c.cb_expired),
            (&self.auto_flushes, c.auto_flushes),
            (&self.auto_flush_removals, c.auto_flush_removals),
            (&self.unresumable_stores, c.unresumable_stores),
            (&self.flush_removals, c.flush_removals),
            (&self.take_hits, c.take_hits),
            (&self.take_expired, c.take_expired),
            (&self.saturated_cached, c.saturated_cached),
            (&self.invalid_ids, c.invalid_ids),
        ];
        for (total, n) in pairs {
            total.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn report(&self) -> Vec<(&'static str, u64)> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("evictions", get(&self.evictions)),
            ("silent replacements", get(&self.replacements)),
            ("re-adds of the cached object", get(&self.readds)),
            ("expired internal lookups", get(&self.expired_lookups)),
            ("on_get hits", get(&self.cb_hits)),
            ("expired on_get hits", get(&self.cb_expired)),
            ("automatic flushes", get(&self.auto_flushes)),
            (
                "sessions removed by automatic flushes",
                get(&self.auto_flush_removals),
            ),
            (
                "stores of sessions not resumable",
                get(&self.unresumable_stores),
            ),
            (
                "sessions removed by explicit flushes",
                get(&self.flush_removals),
            ),
            ("take hits", get(&self.take_hits)),
            ("expired takes", get(&self.take_expired)),
            (
                "adds of never-expiring (saturated) sessions",
                get(&self.saturated_cached),
            ),
            ("operations on invalid ids", get(&self.invalid_ids)),
        ]
    }
}

// ---------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ModelSession {
    id: Vec<u8>,
    time: u64,
    timeout: u64,
    resumable: bool,
}

impl ModelSession {
    fn expiry(&self) -> u64 {
        self.time.saturating_add(self.timeout)
    }

    fn expired_at(&self, t: u64) -> bool {
        t > self.expiry()
    }
}

#[derive(Clone, Copy, Debug)]
struct Cached {
    handle: usize,
    seq: u64,
}

#[derive(Debug)]
struct Model {
    capacity: usize,
    timeout: u64,
    update_time: bool,
    no_internal_lookup: bool,
    no_internal_store: bool,
    no_auto_clear: bool,
    on_get: bool,
    now: u64,
    sessions: Vec<ModelSession>,
    /// Unordered; the order that matters is computed from (expiry, seq).
    cache: Vec<Cached>,
    next_seq: u64,
    stores: u64,
    ext: HashMap<Vec<u8>, usize>,
    stats: Stats,
    events: Vec<Event>,
    cov: CaseCoverage,
}

fn id_error(id: &[u8]) -> Option<Error> {
    if id.is_empty() {
        Some(Error::EmptyId)
    } else if id.len() > MAX_ID_LEN {
        Some(Error::IdTooLong { len: id.len() })
    } else {
        None
    }
}

impl Model {
    fn new(cfg: &CaseConfig) -> Self {
        Model {
            capacity: cfg.capacity,
            timeout: cfg.timeout,
            update_time: cfg.mode_bits & 0x400 != 0,
            no_internal_lookup: cfg.mode_bits & 0x100 != 0,
            no_internal_store: cfg.mode_bits & 0x200 != 0,
            no_auto_clear: cfg.mode_bits & 0x80 != 0,
            on_get: cfg.on_get,
            now: cfg.start,
            sessions: Vec::new(),
            cache: Vec::new(),
            next_seq: 0,
            stores: 0,
            ext: HashMap::new(),
            stats: Stats::default(),
            events: Vec::new(),
            cov: CaseCoverage::default(),
        }
    }

    fn new_session(&mut self, id: &[u8], time: u64, timeout: u64) -> Result<usize, Error> {
        if let Some(e) = id_error(id) {
            self.cov.invalid_ids += 1;
            return Err(e);
        }
        self.sessions.push(ModelSession {
            id: id.to_vec(),
            time,
            timeout,
            resumable: true,
        });
        Ok(self.sessions.len() - 1)
    }

    fn find(&self, id: &[u8]) -> Option<usize> {
        self.cache
            .iter()
            .position(|c| self.sessions[c.handle].id == id)
    }

    fn order_key(&self, c: &Cached) -> (u64, u64) {
        (self.sessions[c.handle].expiry(), c.seq)
    }

    fn expired(&self, h: usize) -> bool {
        self.sessions[h].expired_at(self.now)
    }

    /// Marks `h` not resumable and reports it to `on_remove`.
    fn report_removed(&mut self, h: usize) {
        self.sessions[h].resumable = false;
        self.events.push(Event::Removed {
            value: h as u32,
            id: self.sessions[h].id.clone(),
            resumable: false,
        });
    }

    fn add(&mut self, h: usize) -> bool {
        if self.update_time {
            self.sessions[h].time = self.now;
        }
        if self.sessions[h].expiry() == u64::MAX {
            self.cov.saturated_cached += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = self.sessions[h].id.clone();
        match self.find(&id) {
            Some(pos) => {
                let old = self.cache[pos].handle;
                self.cache[pos] = Cached { handle: h, seq };
                if old == h {
                    self.cov.readds += 1;
                } else {
                    self.cov.replacements += 1;
                }
                old != h
            }
            None => {
                self.cache.push(Cached { handle: h, seq });
                self.evict(Some(seq));
                true
            }
        }
    }

    fn evict(&mut self, spare: Option<u64>) {
        while self.capacity > 0 && self.cache.len() > self.capacity {
            let pos = (0..self.cache.len())
                .filter(|&i| Some(self.cache[i].seq) != spare)
                .min_by_key(|&i| self.order_key(&self.cache[i]))
                .expect("more than one entry when over a capacity of at least 1");
            let h = self.cache.remove(pos).handle;
            self.stats.cache_full += 1;
            self.cov.evictions += 1;
            self.report_removed(h);
        }
    }

    fn remove(&mut self, h: usize) -> bool {
        let found = match self.find(&self.sessions[h].id) {
            Some(pos) => {
                self.cache.remove(pos);
                true
            }
            None => false,
        };
        self.report_removed(h);
        found
    }

    fn remove_id(&mut self, id: &[u8]) -> bool {
        if id_error(id).is_some() {
            return false;
        }
        let Some(pos) = self.find(id) else {
            return false;
        };
        let h = self.cache.remove(pos).handle;
        self.report_removed(h);
        true
    }

    fn contains(&self, id: &[u8]) -> bool {
        id_error(id).is_none() && self.find(id).is_some()
    }

    fn lookup(&mut self, id: &[u8]) -> Option<usize> {
        if id_error(id).is_some() {
            self.cov.invalid_ids += 1;
            return None;
        }
        if !self.no_internal_lookup {
            match self.find(id) {
                Some(pos) => {
                    let h = self.cache[pos].handle;
                    if !self.expired(h) {
                        self.stats.hits += 1;
                        return Some(h);
                    }
                    self.stats.timeouts += 1;
                    self.cov.expired_lookups += 1;
                    self.cache.remove(pos);
                    self.report_removed(h);
                    return None;
                }
                None => self.stats.misses += 1,
            }
        }
        if !self.on_get {
            return None;
        }
        self.events.push(Event::Get { id: id.to_vec() });
        let h = *self.ext.get(id)?;
        if !self.sessions[h].resumable {
            return None;
        }
        self.stats.cb_hits += 1;
        self.cov.cb_hits += 1;
        if !self.no_internal_store {
            self.add(h);
        }
        if self.expired(h) {
            self.stats.timeouts += 1;
            self.cov.cb_expired += 1;
            self.remove(h);
            return None;
        }
        self.stats.hits += 1;
        Some(h)
    }

    fn take(&mut self, id: &[u8]) -> Option<usize> {
        if id_error(id).is_some() {
            self.cov.invalid_ids += 1;
            return None;
        }
        let Some(pos) = self.find(id) else {
            self.stats.misses += 1;
            return None;
        };
        let h = self.cache.remove(pos).handle;
        let expired = self.expired(h);
        if expired {
            self.stats.timeouts += 1;
            self.cov.take_expired += 1;
        } else {
            self.stats.hits += 1;
            self.cov.take_hits += 1;
        }
        self.report_removed(h);
        (!expired).then_some(h)
    }

    fn store(&mut self, h: usize) {
        let before = self.stores;
        self.stores += 1;
        if !self.sessions[h].resumable {
            self.cov.unresumable_stores += 1;
            return;
        }
        if !self.no_internal_store {
            self.add(h);
        }
        self.events.push(Event::New {
            value: h as u32,
            resumable: self.sessions[h].resumable,
        });
        if !self.no_auto_clear && before & AUTO_FLUSH_MASK == AUTO_FLUSH_MASK {
            self.cov.auto_flushes += 1;
            self.cov.auto_flush_removals += self.flush(self.now) as u64;
        }
    }

    fn flush(&mut self, t: u64) -> usize {
        let mut victims: Vec<Cached> = self
            .cache
            .iter()
            .copied()
            .filter(|c| t == 0 || self.sessions[c.handle].expired_at(t))
            .collect();
        victims.sort_by_key(|c| self.order_key(c));
        self.cache
            .retain(|c| !victims.iter().any(|v| v.seq == c.seq));
        for v in &victims {
            self.report_removed(v.handle);
        }
        victims.len()
    }

    fn set_capacity(&mut self, n: usize) {
        self.capacity = n;
        self.evict(None);
    }

    fn expected_stats(&self) -> Stats {
        Stats {
            number: self.cache.len() as u64,
            ..self.stats
        }
    }
}

// ---------------------------------------------------------------------------
// The system under test and the comparison.
// ---------------------------------------------------------------------------

type ExtStore = Arc<Mutex<HashMap<Vec<u8>, Arc<Session<u32>>>>>;

struct Real {
    cache: SessionCache<u32>,
    clock: ManualClock,
    events: Arc<Mutex<Vec<Event>>>,
    ext: ExtStore,
    handles: Vec<Arc<Session<u32>>>,
}

impl Real {
    fn new(cfg: &CaseConfig) -> Self {
        let clock = ManualClock::new(cfg.start);
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let ext: ExtStore = Arc::default();
        let on_new_log = Arc::clone(&events);
        let on_remove_log = Arc::clone(&events);
        let mut b = SessionCache::builder()
            .capacity(cfg.capacity)
            .timeout(cfg.timeout)
            .mode(CacheMode::from_bits_truncate(cfg.mode_bits))
            .clock(clock.clone())
            .on_new(move |s| {
                on_new_log.lock().unwrap().push(Event::New {
                    value: *s.value(),
                    resumable: s.is_resumable(),
                });
            })
            .on_remove(move |s| {
                on_remove_log.lock().unwrap().push(Event::Removed {
                    value: *s.value(),
                    id: s.id().to_vec(),
                    resumable: s.is_resumable(),
                });
            });
        if cfg.on_get {
            let log = Arc::clone(&events);
            let store = Arc::clone(&ext);
            b = b.on_get(move |id| {
                log.lock().unwrap().push(Event::Get { id: id.to_vec() });
                store.lock().unwrap().get(id).cloned()
            });
        }
        if let Some(n) = cfg.buckets {
            b = b.table_buckets(n);
        }
        Real {
            cache: b.build(),
            clock,
            events,
            ext,
            handles: Vec::new(),
        }
    }

    fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

/// Whether the real result is the model's handle (the very same object).
fn same_session(
    real: Option<&Arc<Session<u32>>>,
    model: Option<usize>,
    handles: &[Arc<Session<u32>>],
) -> bool {
    match (real, model) {
        (None, None) => true,
        (Some(r), Some(h)) => Arc::ptr_eq(r, &handles[h]),
        _ => false,
    }
}

fn describe(real: Option<&Arc<Session<u32>>>) -> Option<u32> {
    real.map(|s| *s.value())
}

/// Compares every observable of the real cache with the model.
fn check(real: &Real, model: &mut Model, step: usize, op: &Op) -> TestCaseResult {
    let cache = &real.cache;
    let ctx = || format!("after step {step}: {op:?}");
    prop_assert_eq!(
        real.take_events(),
        std::mem::take(&mut model.events),
        "hook calls {}",
        ctx()
    );
    prop_assert_eq!(cache.len(), model.cache.len(), "len {}", ctx());
    prop_assert_eq!(
        cache.is_empty(),
        model.cache.is_empty(),
        "is_empty {}",
        ctx()
    );
    prop_assert_eq!(cache.stats(), model.expected_stats(), "stats {}", ctx());
    prop_assert_eq!(cache.capacity(), model.capacity, "capacity {}", ctx());
    prop_assert_eq!(cache.now(), model.now, "now {}", ctx());
    let (map_len, index_len, _) = cache.debug_sizes();
    prop_assert_eq!(map_len, model.cache.len(), "map size {}", ctx());
    prop_assert_eq!(index_len, model.cache.len(), "index size {}", ctx());
    for id in IDS {
        prop_assert_eq!(
            cache.contains(id),
            model.contains(id),
            "contains({:?}) {}",
            id,
            ctx()
        );
    }
    prop_assert_eq!(
        real.handles.len(),
        model.sessions.len(),
        "handles {}",
        ctx()
    );
    for (h, (s, m)) in real.handles.iter().zip(&model.sessions).enumerate() {
        prop_assert_eq!(s.time(), m.time, "time of session {} {}", h, ctx());
        prop_assert_eq!(
            s.is_resumable(),
            m.resumable,
            "resumable of session {} {}",
            h,
            ctx()
        );
    }
    Ok(())
}

fn run_case(cfg: &CaseConfig, ops: &[Op], coverage: &Coverage) -> TestCaseResult {
    let mut real = Real::new(cfg);
    let mut model = Model::new(cfg);
    prop_assert_eq!(real.cache.mode().bits(), cfg.mode_bits & 0x780, "mode");
    prop_assert_eq!(real.cache.timeout(), cfg.timeout, "timeout");
    let pick = |i: &Index, n: usize| (n > 0).then(|| i.index(n));
    for (step, op) in ops.iter().enumerate() {
        let now = model.now;
        match *op {
            Op::New { id, time, timeout } => {
                let t = time.at(now);
                let value = real.handles.len() as u32;
                let got = Session::new(IDS[id], t, timeout, value);
                let want = model.new_session(IDS[id], t, timeout);
                match (got, want) {
                    (Ok(s), Ok(h)) => {
                        prop_assert_eq!(h, real.handles.len());
                        real.handles.push(Arc::new(s));
                    }
                    (Err(e), Err(w)) => prop_assert_eq!(e, w, "step {}", step),
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step} {op:?}: Session::new gave {:?}, expected {:?}",
                            got.map(|_| ()),
                            want.map(|_| ())
                        )))
                    }
                }
            }
            Op::NewFromCache { id } => {
                let value = real.handles.len() as u32;
                let got = real.cache.new_session(IDS[id], value);
                let want = model.new_session(IDS[id], now, model.timeout);
                match (got, want) {
                    (Ok(s), Ok(h)) => {
                        prop_assert_eq!(h, real.handles.len());
                        real.handles.push(s);
                    }
                    (Err(e), Err(w)) => prop_assert_eq!(e, w, "step {}", step),
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step} {op:?}: new_session gave {:?}, expected {:?}",
                            got.map(|_| ()),
                            want.map(|_| ())
                        )))
                    }
                }
            }
            Op::Add(ref i) => {
                if let Some(h) = pick(i, real.handles.len()) {
                    let got = real.cache.add(&real.handles[h]);
                    prop_assert_eq!(got, model.add(h), "add({}) at step {}", h, step);
                }
            }
            Op::Remove(ref i) => {
                if let Some(h) = pick(i, real.handles.len()) {
                    let got = real.cache.remove(&real.handles[h]);
                    prop_assert_eq!(got, model.remove(h), "remove({}) at step {}", h, step);
                }
            }
            Op::RemoveId(id) => {
                let got = real.cache.remove_id(IDS[id]);
                prop_assert_eq!(got, model.remove_id(IDS[id]), "remove_id at step {}", step);
            }
            Op::Store(ref i) => {
                if let Some(h) = pick(i, real.handles.len()) {
                    real.cache.store(&real.handles[h]);
                    model.store(h);
                }
            }
            Op::StoreMany { n, fresh, id, time } => {
                let existing = real.handles.len();
                for k in 0..n {
                    let h = if fresh || existing == 0 {
                        let sid = IDS[(id + k) % VALID_IDS];
                        let timeout = TIMEOUTS[k % TIMEOUTS.len()];
                        let t = time.at(now);
                        let value = real.handles.len() as u32;
                        let s = Session::new(sid, t, timeout, value)
                            .map_err(|e| TestCaseError::fail(format!("valid id refused: {e}")))?;
                        real.handles.push(Arc::new(s));
                        let h = model.new_session(sid, t, timeout).expect("a valid id");
                        prop_assert_eq!(h, real.handles.len() - 1);
                        h
                    } else {
                        k % existing
                    };
                    real.cache.store(&real.handles[h]);
                    model.store(h);
                    prop_assert_eq!(
                        real.cache.stats(),
                        model.expected_stats(),
                        "stats after store {} of step {}",
                        k,
                        step
                    );
                }
            }
            Op::Contains(id) => {
                prop_assert_eq!(real.cache.contains(IDS[id]), model.contains(IDS[id]));
            }
            Op::Lookup(id) => {
                let got = real.cache.lookup(IDS[id]);
                let want = model.lookup(IDS[id]);
                prop_assert!(
                    same_session(got.as_ref(), want, &real.handles),
                    "step {} {:?}: lookup gave session {:?}, expected {:?}",
                    step,
                    op,
                    describe(got.as_ref()),
                    want
                );
            }
            Op::LookupWith(id) => {
                let got = real
                    .cache
                    .lookup_with(IDS[id], |s| (*s.value(), s as *const Session<u32>));
                let want = model
                    .lookup(IDS[id])
                    .map(|h| (h as u32, Arc::as_ptr(&real.handles[h])));
                prop_assert_eq!(got, want, "lookup_with at step {}", step);
            }
            Op::Take(id) => {
                let got = real.cache.take(IDS[id]);
                let want = model.take(IDS[id]);
                prop_assert!(
                    same_session(got.as_ref(), want, &real.handles),
                    "step {} {:?}: take gave session {:?}, expected {:?}",
                    step,
                    op,
                    describe(got.as_ref()),
                    want
                );
            }
            Op::Flush(at) => {
                let t = at.at(now);
                let want = model.flush(t);
                model.cov.flush_removals += want as u64;
                prop_assert_eq!(real.cache.flush(t), want, "flush({}) at step {}", t, step);
            }
            Op::SetCapacity(n) => {
                real.cache.set_capacity(n);
                model.set_capacity(n);
            }
            Op::Advance(d) => {
                real.clock.advance(d);
                model.now = model.now.saturating_add(d);
            }
            Op::SetClock(t) => {
                real.clock.set(t);
                model.now = t;
            }
            Op::ExtPut(ref i) => {
                if let Some(h) = pick(i, real.handles.len()) {
                    let s = Arc::clone(&real.handles[h]);
                    real.ext.lock().unwrap().insert(s.id().to_vec(), s);
                    model.ext.insert(model.sessions[h].id.clone(), h);
                }
            }
            Op::ExtDel(id) => {
                real.ext.lock().unwrap().remove(IDS[id]);
                model.ext.remove(IDS[id]);
            }
        }
        check(&real, &mut model, step, op)?;
    }
    coverage.absorb(&model.cov);
    Ok(())
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

fn id_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 0..VALID_IDS, 1 => VALID_IDS..IDS.len()]
}

fn time_strategy() -> impl Strategy<Value = TimeSpec> {
    prop_oneof![
        6 => (-3i8..=3).prop_map(TimeSpec::Rel),
        1 => select(&[0, u64::MAX - 2, u64::MAX][..]).prop_map(TimeSpec::Abs),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (id_strategy(), time_strategy(), select(&TIMEOUTS[..]))
            .prop_map(|(id, time, timeout)| Op::New { id, time, timeout }),
        2 => id_strategy().prop_map(|id| Op::NewFromCache { id }),
        8 => any::<Index>().prop_map(Op::Add),
        4 => any::<Index>().prop_map(Op::Remove),
        2 => id_strategy().prop_map(Op::RemoveId),
        5 => any::<Index>().prop_map(Op::Store),
        // Mostly long enough to reach the 255th store; the short arm comes
        // first so a failing case shrinks towards few stores.
        1 => (
            prop_oneof![1 => 1usize..200, 3 => 200usize..=300],
            any::<bool>(),
            0..VALID_IDS,
            time_strategy(),
        )
            .prop_map(|(n, fresh, id, time)| Op::StoreMany { n, fresh, id, time }),
        2 => id_strategy().prop_map(Op::Contains),
        8 => id_strategy().prop_map(Op::Lookup),
        3 => id_strategy().prop_map(Op::LookupWith),
        4 => id_strategy().prop_map(Op::Take),
        3 => prop_oneof![
            Just(FlushAt::Zero),
            (-3i8..=3).prop_map(FlushAt::Rel),
            select(&[1, u64::MAX - 1, u64::MAX][..]).prop_map(FlushAt::Abs),
        ]
        .prop_map(Op::Flush),
        2 => (0usize..=4).prop_map(Op::SetCapacity),
        5 => select(&[0, 1, 2, 3, 5, 100, 7201, u64::MAX / 2][..]).prop_map(Op::Advance),
        1 => select(&[0, 1, 1000, u64::MAX - 3, u64::MAX][..]).prop_map(Op::SetClock),
        4 => any::<Index>().prop_map(Op::ExtPut),
        1 => id_strategy().prop_map(Op::ExtDel),
    ]
}

fn config_strategy() -> impl Strategy<Value = CaseConfig> {
    // CLIENT, SERVER, NO_AUTO_CLEAR, NO_INTERNAL_LOOKUP, NO_INTERNAL_STORE,
    // UPDATE_TIME.
    const FLAGS: [u32; 6] = [0x1, 0x2, 0x80, 0x100, 0x200, 0x400];
    (
        0usize..=4,
        select(&TIMEOUTS[..]),
        0u32..(1 << FLAGS.len()),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![Just(None), Just(Some(2))],
        prop_oneof![6 => Just(1000u64), 1 => Just(0), 1 => Just(u64::MAX - 4)],
    )
        .prop_map(|(capacity, timeout, subset, on_get, buckets, start)| {
            let mode_bits = FLAGS
                .iter()
                .enumerate()
                .filter(|(i, _)| subset & (1 << i) != 0)
                .fold(0, |m, (_, f)| m | f);
            CaseConfig {
                capacity,
                timeout,
                mode_bits,
                on_get,
                buckets,
                start,
            }
        })
}

#[test]
fn cache_matches_sequential_model() {
    let coverage = Coverage::default();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let strategy = (
        config_strategy(),
        prop::collection::vec(op_strategy(), 1..=MAX_OPS),
    );
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |(cfg, ops)| run_case(&cfg, &ops, &coverage));
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "model: {cases} cases of up to {MAX_OPS} operations in {:.2?}",
        started.elapsed()
    );
    let mut never = Vec::new();
    for (what, n) in coverage.report() {
        eprintln!("  {what}: {n}");
        if n == 0 {
            never.push(what);
        }
    }
    assert!(never.is_empty(), "paths never exercised: {never:?}");
}
