//! Differential test against the real OpenSSL library (`libssl` through
//! `openssl-sys`): random sequences of operations are applied to a
//! [`SessionCache<()>`] and to the internal session cache of an OpenSSL
//! `SSL_CTX`, and the two must agree after every step.
//!
//! # Operations
//!
//! * add of a new session object (`SSL_CTX_add_session` on a fresh
//!   `SSL_SESSION`, [`SessionCache::add`] on a fresh `Arc<Session>`); as the
//!   ids come from a small pool this is often a *replacement* of a different
//!   object cached under the same id;
//! * add of an object made earlier again — the very same `Arc` / the very
//!   same `SSL_SESSION*` — whether it is cached, was replaced or was removed;
//! * remove (`SSL_CTX_remove_session` / [`SessionCache::remove`]) of an
//!   object made earlier (cached, replaced by another object of its id, or
//!   removed already), and of a fresh object that was never added;
//! * flush at a time `t` (`SSL_CTX_flush_sessions(ctx, t)` /
//!   [`SessionCache::flush`]), including `t == 0`, which removes everything
//!   in both: OpenSSL 3.0's `SSL_CTX_flush_sessions` walks the list from the
//!   tail and removes while `t == 0 || t > time + timeout`
//!   (`ssl/ssl_sess.c`); `openssl_behaviour_the_harness_relies_on` checks it.
//!
//! Sessions get times and timeouts from a few seconds around a base time, so
//! expiry ties are common and the tie-break (evict and flush the soonest
//! expiry first, among equal expiries the oldest added) is exercised.
//!
//! # Compared after every operation
//!
//! * the return value (add and remove: `bool` against 1/0; flush: the number
//!   removed against the drop in `SSL_CTX_sess_number` and against the
//!   number of remove callbacks the flush made);
//! * `len()` against `SSL_CTX_sess_number` (`SSL_CTRL_SESS_NUMBER`, 20);
//! * `stats().cache_full` against `SSL_CTRL_SESS_CACHE_FULL` (31);
//! * `contains(id)` against `SSL_has_matching_session_id` for every id of the
//!   pool (the `SSL*` comes from `SSL_new(ctx)`, and every `SSL_SESSION` gets
//!   that `SSL`'s `SSL_version`, since OpenSSL's hash compares it);
//! * the ids reported to the remove callbacks, in order (OpenSSL's
//!   `SSL_CTX_sess_set_remove_cb`, ours `on_remove`);
//! * `is_resumable()` of every object against `SSL_SESSION_is_resumable`.
//!
//! # Capacity
//!
//! OpenSSL evicts while `count >= size` *after* the new session is already
//! in its hash, so a cache of size `N` holds only `N - 1` sessions; ours with
//! capacity `N` holds `N`. OpenSSL therefore gets size `cap + 1`
//! (`SSL_CTRL_SET_SESS_CACHE_SIZE`) for our `capacity(cap)`; 0 is unlimited
//! in both.
//!
//! # Left out
//!
//! `UPDATE_TIME` (OpenSSL stamps with `time(NULL)`, which cannot be made to
//! agree with a [`ManualClock`]); expiry sums that overflow (OpenSSL 3.0 uses
//! a signed `time_t` and an overflow flag, ours saturates a `u64`).
//!
//! 4096 random cases run (`PROPTEST_CASES` overrides it), each with up to
//! 60 operations, in about a second. Failures are not persisted to a
//! regression file.

use std::cell::RefCell;
use std::ffi::{c_int, c_long, c_uchar, c_uint};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, Mutex};

use openssl_sys::{SSL, SSL_CTX, SSL_SESSION};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use sesscache::{CacheMode, ManualClock, Session, SessionCache};

/// `SSL_CTRL_SESS_NUMBER` in `openssl/ssl.h` (3.0).
const SSL_CTRL_SESS_NUMBER: c_int = 20;
/// `SSL_CTRL_SESS_CACHE_FULL` in `openssl/ssl.h` (3.0).
const SSL_CTRL_SESS_CACHE_FULL: c_int = 31;
/// `SSL_CTRL_GET_SESS_CACHE_MODE` in `openssl/ssl.h` (3.0).
const SSL_CTRL_GET_SESS_CACHE_MODE: c_int = 45;
/// OpenSSL's mode: `SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR`
/// (ours: `CacheMode::NO_AUTO_CLEAR`; neither side stores or looks up here,
/// so only `add`, `remove` and `flush` act).
const SESS_CACHE_MODE: c_long =
    openssl_sys::SSL_SESS_CACHE_SERVER | openssl_sys::SSL_SESS_CACHE_NO_AUTO_CLEAR;

// Functions `openssl-sys` does not declare; all are exported by libssl 3.0
// with these prototypes (`openssl/ssl.h`), and `openssl-sys` links libssl.
extern "C" {
    fn SSL_SESSION_new() -> *mut SSL_SESSION;
    fn SSL_SESSION_set1_id(s: *mut SSL_SESSION, sid: *const c_uchar, sid_len: c_uint) -> c_int;
    fn SSL_SESSION_set_time(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_SESSION_set_timeout(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_SESSION_set_protocol_version(s: *mut SSL_SESSION, version: c_int) -> c_int;
    fn SSL_SESSION_is_resumable(s: *const SSL_SESSION) -> c_int;
    fn SSL_CTX_flush_sessions(ctx: *mut SSL_CTX, tm: c_long);
    fn SSL_has_matching_session_id(ssl: *const SSL, id: *const c_uchar, id_len: c_uint) -> c_int;
}

/// The base time of every session (seconds); far from 0, which `flush`
/// treats specially.
const T0: u64 = 1_000_000;
/// Session times (after `T0`) and timeouts are drawn from `0..spread`, with
/// `spread` from 1 (every expiry ties) to `SPREAD` per case, so expiries fall
/// in `T0..T0 + 2 * SPREAD - 1` and often tie.
const SPREAD: u64 = 6;

/// Random cases run by default (`PROPTEST_CASES` overrides it); each takes
/// about 0.2 ms.
const CASES: u32 = 4096;

const LONG_ID: [u8; 32] = [0x5a; 32];
/// The ids sessions are made with. "sess", "sess-1" and "sess-2" share their
/// first 4 bytes, which is OpenSSL's hash: they fall in one bucket there.
const IDS: [&[u8]; 6] = [b"a", b"b", b"sess", b"sess-1", b"sess-2", &LONG_ID];

thread_local! {
    /// Ids passed to OpenSSL's remove callback on this thread, in order.
    static OSSL_REMOVED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// OpenSSL's remove callback: records the id of the session.
///
/// # Safety
/// `sess` must point to a live `SSL_SESSION`, as OpenSSL guarantees for the
/// duration of a remove callback.
unsafe extern "C" fn record_removed(_ctx: *mut SSL_CTX, sess: *mut SSL_SESSION) {
    let mut len: c_uint = 0;
    // SAFETY: `sess` is live for the callback (the caller's contract);
    // `SSL_SESSION_get_id` returns a pointer to its inline id array of `len`
    // bytes (at most 32), valid while the session is.
    let id = unsafe {
        let p = openssl_sys::SSL_SESSION_get_id(sess, &mut len);
        std::slice::from_raw_parts(p, len as usize).to_vec()
    };
    // Never unwind into C: a panic here (the thread-local already borrowed,
    // which the harness never does across an OpenSSL call) aborts.
    let pushed = panic::catch_unwind(AssertUnwindSafe(|| {
        OSSL_REMOVED.with(|r| r.borrow_mut().push(id));
    }));
    if pushed.is_err() {
        std::process::abort();
    }
}

fn take_ossl_removed() -> Vec<Vec<u8>> {
    OSSL_REMOVED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// An OpenSSL `SSL_CTX` in server mode with its internal session cache, an
/// `SSL` made from it (for `SSL_has_matching_session_id`), and every session
/// object made so far, each with one reference owned by this struct.
///
/// Invariant: `ctx` and `ssl` are valid, non-null and owned (`ssl` is null
/// only while `new` runs); every pointer in
/// `sessions` is a valid `SSL_SESSION` on which this struct owns one
/// reference. Everything is released in `Drop`.
struct OpenSsl {
    ctx: *mut SSL_CTX,
    ssl: *mut SSL,
    version: c_int,
    sessions: Vec<*mut SSL_SESSION>,
}

impl OpenSsl {
    /// A cache of OpenSSL size `size` (0: unlimited).
    fn new(size: usize) -> OpenSsl {
        openssl_sys::init();
        take_ossl_removed();
        // SAFETY: the library is initialised; `TLS_server_method` returns a
        // static method table. A null result is checked before use.
        let ctx = unsafe { openssl_sys::SSL_CTX_new(openssl_sys::TLS_server_method()) };
        assert!(!ctx.is_null(), "SSL_CTX_new failed");
        let mut o = OpenSsl {
            ctx,
            ssl: ptr::null_mut(),
            version: 0,
            sessions: Vec::new(),
        };
        let size = c_long::try_from(size).expect("small size");
        // SAFETY: `o.ctx` is a valid SSL_CTX owned by `o` (dropped, and so
        // freed, if an assertion below fails). The callback has the signature
        // OpenSSL expects and only reads the session it is given.
        unsafe {
            openssl_sys::SSL_CTX_set_session_cache_mode(o.ctx, SESS_CACHE_MODE);
            openssl_sys::SSL_CTX_sess_set_cache_size(o.ctx, size);
            openssl_sys::SSL_CTX_sess_set_remove_cb(o.ctx, Some(record_removed));
            o.ssl = openssl_sys::SSL_new(o.ctx);
            assert!(!o.ssl.is_null(), "SSL_new failed");
            o.version = openssl_sys::SSL_version(o.ssl);
            assert_eq!(openssl_sys::SSL_CTX_sess_get_cache_size(o.ctx), size);
            assert_eq!(o.ctrl(SSL_CTRL_GET_SESS_CACHE_MODE), SESS_CACHE_MODE);
        }
        o
    }

    /// Makes a session object (not added); returns its index.
    fn new_session(&mut self, id: &[u8], time: u64, timeout: u64) -> usize {
        let len = c_uint::try_from(id.len()).expect("short id");
        let time = c_long::try_from(time).expect("small time");
        let timeout = c_long::try_from(timeout).expect("small timeout");
        // SAFETY: `SSL_SESSION_new` returns a new session with one reference
        // (checked for null), which is pushed to `self.sessions` before any
        // assertion so `Drop` frees it. `id` is a valid slice of `len` bytes
        // and `SSL_SESSION_set1_id` copies it.
        unsafe {
            let s = SSL_SESSION_new();
            assert!(!s.is_null(), "SSL_SESSION_new failed");
            self.sessions.push(s);
            assert_eq!(SSL_SESSION_set1_id(s, id.as_ptr(), len), 1);
            assert_eq!(SSL_SESSION_set_time(s, time), time);
            assert_eq!(SSL_SESSION_set_timeout(s, timeout), 1);
            assert_eq!(SSL_SESSION_set_protocol_version(s, self.version), 1);
        }
        self.sessions.len() - 1
    }

    /// `SSL_CTX_add_session`; it takes its own reference.
    fn add(&self, obj: usize) -> c_int {
        // SAFETY: the invariant: `ctx` is valid and `sessions[obj]` is a valid
        // session on which we hold a reference.
        unsafe { openssl_sys::SSL_CTX_add_session(self.ctx, self.sessions[obj]) }
    }

    /// `SSL_CTX_remove_session`; it drops the cache's reference, not ours.
    fn remove(&self, obj: usize) -> c_int {
        // SAFETY: as in `add`.
        unsafe { openssl_sys::SSL_CTX_remove_session(self.ctx, self.sessions[obj]) }
    }

    fn flush(&self, t: u64) {
        let t = c_long::try_from(t).expect("small time");
        // SAFETY: `ctx` is valid (the invariant).
        unsafe { SSL_CTX_flush_sessions(self.ctx, t) }
    }

    fn ctrl(&self, cmd: c_int) -> c_long {
        // SAFETY: `ctx` is valid (the invariant); these read-only controls
        // take no pointer argument.
        unsafe { openssl_sys::SSL_CTX_ctrl(self.ctx, cmd, 0, ptr::null_mut()) }
    }

    /// `SSL_CTX_sess_number`.
    fn number(&self) -> c_long {
        self.ctrl(SSL_CTRL_SESS_NUMBER)
    }

    /// `SSL_CTX_sess_cache_full`.
    fn cache_full(&self) -> c_long {
        self.ctrl(SSL_CTRL_SESS_CACHE_FULL)
    }

    /// `SSL_has_matching_session_id`.
    fn contains(&self, id: &[u8]) -> bool {
        let len = c_uint::try_from(id.len()).expect("short id");
        // SAFETY: `ssl` is valid (the invariant); `id` is a valid slice of
        // `len` bytes, only read.
        unsafe { SSL_has_matching_session_id(self.ssl, id.as_ptr(), len) == 1 }
    }

    fn is_resumable(&self, obj: usize) -> bool {
        // SAFETY: as in `add`.
        unsafe { SSL_SESSION_is_resumable(self.sessions[obj]) == 1 }
    }
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        // SAFETY: the invariant: we own `ctx` (never null), `ssl` (null only
        // if `new` failed at `SSL_new`; `SSL_free` accepts null) and one
        // reference on each session. Our session references go first (sessions still
        // cached keep the cache's reference and are freed by SSL_CTX_free),
        // then the SSL (which holds a reference on the ctx), then the ctx.
        // The remove callback is unset first so freeing the ctx records
        // nothing.
        unsafe {
            openssl_sys::SSL_CTX_sess_set_remove_cb(self.ctx, None);
            for &s in &self.sessions {
                openssl_sys::SSL_SESSION_free(s);
            }
            openssl_sys::SSL_free(self.ssl);
            openssl_sys::SSL_CTX_free(self.ctx);
        }
    }
}

/// One step of a test sequence. Ids are indices into `IDS`; objects are
/// picked among those made so far.
#[derive(Clone)]
enum Op {
    /// Make a session object (id, time `T0 + time`, timeout) and add it.
    AddNew { id: usize, time: u64, timeout: u64 },
    /// Add again the object numbered `n % objects made so far` (cached,
    /// replaced or removed).
    AddAgain(usize),
    /// Remove the object numbered `n % objects made so far` (cached,
    /// replaced or removed).
    Remove(usize),
    /// Make an object that is never added and remove it.
    RemoveUnadded { id: usize },
    /// Flush at `T0 + t`, or with `None` at time 0 (everything).
    Flush(Option<u64>),
}

/// One line per step, also under `{:#?}`, so a shrunk sequence stays short.
impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddNew { id, time, timeout } => write!(
                f,
                "AddNew {{ id: {:?}, time: T0 + {time}, timeout: {timeout} }}",
                show_id(IDS[*id])
            ),
            Op::AddAgain(n) => write!(f, "AddAgain({n})"),
            Op::Remove(n) => write!(f, "Remove({n})"),
            Op::RemoveUnadded { id } => {
                write!(f, "RemoveUnadded {{ id: {:?} }}", show_id(IDS[*id]))
            }
            Op::Flush(at) => write!(f, "Flush({at:?})"),
        }
    }
}

/// An id as text for failure messages ("ZZZ…Z" is the 32-byte one).
fn show_id(id: &[u8]) -> String {
    String::from_utf8_lossy(id).into_owned()
}

fn show(ids: &[Vec<u8>]) -> Vec<String> {
    ids.iter().map(|id| show_id(id)).collect()
}

/// A step with ids from the first `pool` of `IDS` and times and timeouts
/// below `spread` (a small spread makes most expiries tie).
fn op(pool: usize, spread: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..pool, 0..spread, 0..spread)
            .prop_map(|(id, time, timeout)| Op::AddNew { id, time, timeout }),
        2 => (0..64usize).prop_map(Op::AddAgain),
        2 => (0..64usize).prop_map(Op::Remove),
        1 => (0..pool).prop_map(|id| Op::RemoveUnadded { id }),
        1 => prop_oneof![
            1 => Just(None),
            4 => (0..=2 * spread).prop_map(Some),
        ]
        .prop_map(Op::Flush),
    ]
}

/// A capacity (0 to 5) and a sequence of up to 60 steps over an id pool of
/// 1 to 6 ids and a time spread of 1 to `SPREAD`.
fn case() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (0..=5usize, 1..=IDS.len(), 1..=SPREAD).prop_flat_map(|(cap, pool, spread)| {
        (Just(cap), prop::collection::vec(op(pool, spread), 0..=60))
    })
}

/// Both caches and the session objects made so far (same index in both).
struct Pair {
    ours: SessionCache<()>,
    ours_removed: Arc<Mutex<Vec<Vec<u8>>>>,
    objects: Vec<Arc<Session<()>>>,
    ossl: OpenSsl,
}

impl Pair {
    fn new(cap: usize) -> Pair {
        let ours_removed = Arc::new(Mutex::new(Vec::new()));
        let log = ours_removed.clone();
        let ours = SessionCache::builder()
            .capacity(cap)
            .mode(CacheMode::NO_AUTO_CLEAR)
            .clock(ManualClock::new(T0))
            .on_remove(move |s| log.lock().unwrap().push(s.id().to_vec()))
            .build();
        Pair {
            ours,
            ours_removed,
            objects: Vec::new(),
            ossl: OpenSsl::new(if cap == 0 { 0 } else { cap + 1 }),
        }
    }

    /// Makes one session object in both; returns its index.
    fn make(&mut self, id: &[u8], time: u64, timeout: u64) -> usize {
        let n = self.ossl.new_session(id, time, timeout);
        self.objects
            .push(Arc::new(Session::new(id, time, timeout, ()).unwrap()));
        debug_assert_eq!(n, self.objects.len() - 1);
        n
    }

    fn take_ours_removed(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.ours_removed.lock().unwrap())
    }

    /// Applies `op` to both and compares everything.
    fn step(&mut self, step: usize, op: &Op) -> Result<(), TestCaseError> {
        let ctx = format!("step {step}: {op:?}");
        let mut flushed = None;
        match *op {
            Op::AddNew { id, time, timeout } => {
                let obj = self.make(IDS[id], T0 + time, timeout);
                self.compare_add(obj, &ctx)?;
            }
            Op::AddAgain(i) => {
                if !self.objects.is_empty() {
                    self.compare_add(i % self.objects.len(), &ctx)?;
                }
            }
            Op::Remove(i) => {
                if !self.objects.is_empty() {
                    self.compare_remove(i % self.objects.len(), &ctx)?;
                }
            }
            Op::RemoveUnadded { id } => {
                let obj = self.make(IDS[id], T0, 0);
                self.compare_remove(obj, &ctx)?;
            }
            Op::Flush(at) => {
                let t = at.map_or(0, |d| T0 + d);
                let before = self.ossl.number();
                let ours = self.ours.flush(t);
                self.ossl.flush(t);
                let theirs = before - self.ossl.number();
                prop_assert_eq!(
                    c_long::try_from(ours).unwrap(),
                    theirs,
                    "{}: flush count (ours returned, OpenSSL's number dropped by)",
                    ctx
                );
                flushed = Some(ours);
            }
        }
        self.compare_state(&ctx, flushed)
    }

    fn compare_add(&self, obj: usize, ctx: &str) -> Result<(), TestCaseError> {
        let ours = self.ours.add(&self.objects[obj]);
        let theirs = self.ossl.add(obj);
        prop_assert_eq!(c_int::from(ours), theirs, "{}: add of object {}", ctx, obj);
        Ok(())
    }

    fn compare_remove(&self, obj: usize, ctx: &str) -> Result<(), TestCaseError> {
        let ours = self.ours.remove(&self.objects[obj]);
        let theirs = self.ossl.remove(obj);
        prop_assert_eq!(
            c_int::from(ours),
            theirs,
            "{}: remove of object {}",
            ctx,
            obj
        );
        Ok(())
    }

    /// Compares the state after a step and the remove callbacks the step
    /// made (`flushed`: how many sessions our flush said it removed).
    fn compare_state(&self, ctx: &str, flushed: Option<usize>) -> Result<(), TestCaseError> {
        let ours_removed = self.take_ours_removed();
        let theirs_removed = take_ossl_removed();
        prop_assert_eq!(
            show(&ours_removed),
            show(&theirs_removed),
            "{}: ids reported removed (ours on_remove, OpenSSL remove_session_cb)",
            ctx
        );
        if let Some(n) = flushed {
            prop_assert_eq!(n, theirs_removed.len(), "{}: flush count vs callbacks", ctx);
        }
        prop_assert_eq!(
            c_long::try_from(self.ours.len()).unwrap(),
            self.ossl.number(),
            "{}: len vs SSL_CTX_sess_number",
            ctx
        );
        prop_assert_eq!(
            c_long::try_from(self.ours.stats().cache_full).unwrap(),
            self.ossl.cache_full(),
            "{}: cache_full",
            ctx
        );
        for id in IDS {
            prop_assert_eq!(
                self.ours.contains(id),
                self.ossl.contains(id),
                "{}: contains({:?})",
                ctx,
                String::from_utf8_lossy(id)
            );
        }
        for (i, s) in self.objects.iter().enumerate() {
            prop_assert_eq!(
                s.is_resumable(),
                self.ossl.is_resumable(i),
                "{}: is_resumable of object {}",
                ctx,
                i
            );
        }
        Ok(())
    }
}

/// Runs one sequence on a cache of capacity `cap`.
fn run(cap: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut pair = Pair::new(cap);
    for (i, op) in ops.iter().enumerate() {
        pair.step(i, op)?;
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Shortens a failing sequence further than proptest's shrinking (which
/// deletes steps in one pass only, before simplifying them): deletes single
/// steps and lowers the capacity while it still fails, to a fixed point.
fn minimize(mut cap: usize, mut ops: Vec<Op>) -> (usize, Vec<Op>) {
    loop {
        let mut progress = false;
        let mut i = 0;
        while i < ops.len() {
            let mut fewer = ops.clone();
            fewer.remove(i);
            if run(cap, &fewer).is_err() {
                ops = fewer;
                progress = true;
            } else {
                i += 1;
            }
        }
        if let Some(c) = (0..cap).find(|&c| run(c, &ops).is_err()) {
            cap = c;
            progress = true;
        }
        if !progress {
            return (cap, ops);
        }
    }
}

/// Random sequences agree with OpenSSL step by step. A failure is shrunk by
/// proptest, then by `minimize`, and reported with the first difference.
#[test]
fn agrees_with_openssl() {
    let mut runner = TestRunner::new(config());
    match runner.run(&case(), |(cap, ops)| run(cap, &ops)) {
        Ok(()) => {}
        Err(TestError::Fail(_, (cap, ops))) => {
            let (cap, ops) = minimize(cap, ops);
            let reason = run(cap, &ops).expect_err("a minimized sequence still fails");
            let steps: String = ops
                .iter()
                .enumerate()
                .map(|(i, op)| format!("\n  {i:2}: {op:?}"))
                .collect();
            panic!(
                "OpenSSL and sesscache disagree (left: sesscache, right: OpenSSL)\n\
                 capacity {cap}, steps:{steps}\n{reason}"
            );
        }
        Err(e) => panic!("{e}"),
    }
}

/// The OpenSSL 3.0 behaviour the harness and the module docs rely on,
/// checked on the library itself (not on ours).
#[test]
fn openssl_behaviour_the_harness_relies_on() {
    // Size 4 holds 3: the 4th and 5th adds evict the soonest expiries.
    let mut o = OpenSsl::new(4);
    for (i, id) in [b"s1", b"s2", b"s3", b"s4", b"s5"].iter().enumerate() {
        let obj = o.new_session(*id, T0 + i as u64, 10);
        assert_eq!(o.add(obj), 1);
    }
    assert_eq!(o.number(), 3);
    assert_eq!(o.cache_full(), 2);
    assert_eq!(take_ossl_removed(), [b"s1".to_vec(), b"s2".to_vec()]);
    drop(o);

    // Equal expiries: the oldest added goes first; re-adding the same object
    // returns 0 and makes it the newest of its expiry.
    let mut o = OpenSsl::new(3);
    let a = o.new_session(b"a", T0, 10);
    let b = o.new_session(b"b", T0 + 5, 5);
    let c = o.new_session(b"c", T0 + 1, 9);
    assert_eq!(o.add(a), 1);
    assert_eq!(o.add(b), 1);
    assert_eq!(o.add(a), 0);
    assert_eq!(o.add(c), 1);
    assert_eq!(take_ossl_removed(), [b"b".to_vec()]);
    drop(o);

    // A different object with a cached id replaces it silently and counts as
    // new; removing an object that is not cached still calls the callback.
    let mut o = OpenSsl::new(0);
    let a1 = o.new_session(b"a", T0, 10);
    let a2 = o.new_session(b"a", T0, 20);
    assert_eq!(o.add(a1), 1);
    assert_eq!(o.add(a2), 1);
    assert_eq!(o.number(), 1);
    assert!(take_ossl_removed().is_empty());
    assert!(o.is_resumable(a1));
    assert_eq!(o.remove(a1), 1, "remove finds whatever object has the id");
    assert_eq!(o.remove(a2), 0);
    assert_eq!(take_ossl_removed(), [b"a".to_vec(), b"a".to_vec()]);
    assert!(!o.is_resumable(a1) && !o.is_resumable(a2));
    assert!(!o.contains(b"a"));

    // Flush: strictly after the expiry; 0 removes everything.
    let x = o.new_session(b"x", T0, 10);
    let y = o.new_session(b"y", T0, 1_000_000);
    assert_eq!((o.add(x), o.add(y)), (1, 1));
    o.flush(T0 + 10);
    assert_eq!(o.number(), 2);
    o.flush(T0 + 11);
    assert_eq!(o.number(), 1);
    assert_eq!(take_ossl_removed(), [b"x".to_vec()]);
    o.flush(0);
    assert_eq!(o.number(), 0);
    assert_eq!(take_ossl_removed(), [b"y".to_vec()]);
    assert!(!o.contains(b"y") && !o.is_resumable(y));
}

/// A fixed sequence touching every kind of step, so a plain `cargo test`
/// exercises them all even with few random cases.
#[test]
fn fixed_sequence_agrees() {
    use Op::*;
    let add = |id, time, timeout| AddNew { id, time, timeout };
    let ops = [
        add(0, 0, 3),
        add(1, 1, 2),
        AddAgain(0),
        add(0, 2, 0),
        add(2, 0, 3),
        add(3, 3, 0),
        Remove(0),
        RemoveUnadded { id: 4 },
        AddAgain(0),
        add(5, 1, 1),
        Flush(Some(3)),
        Flush(None),
    ];
    for cap in 0..=5 {
        if let Err(e) = run(cap, &ops) {
            panic!("capacity {cap}: {e}");
        }
    }
}
