//! OpenSSL's own internal session cache: the system `libssl` (3.0) through
//! `openssl-sys`, one `SSL_CTX` per cache.
//!
//! # Mapping
//!
//! * cache: `SSL_CTX_new(TLS_server_method())` with mode
//!   `SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR` (the harness
//!   flushes explicitly) and size `capacity + 1` (OpenSSL evicts while
//!   `count >= size` after the new session is in its hash, so size `N` holds
//!   `N - 1`; ours holds `N`), or 0 (unlimited) for capacity 0;
//! * `store`: `SSL_SESSION_new` + `SSL_SESSION_set1_id` + `set_time(now)` +
//!   `set_timeout(timeout)` + `SSL_SESSION_set_protocol_version` (the
//!   version of the per-thread `SSL`, since OpenSSL's hash compares it) +
//!   `SSL_SESSION_set1_ticket_appdata` (the **whole value** is copied into
//!   the session as its ticket application data, so a cached session carries
//!   the same payload as in the other caches and freeing it frees that copy),
//!   then `SSL_CTX_add_session`; our reference is dropped after it
//!   (`SSL_SESSION_free`): the cache keeps its own;
//! * `lookup`: `SSL_has_matching_session_id(ssl, id, 32)` on an `SSL*` kept
//!   per thread in the handle. It is the closest public call that takes the
//!   cache's read lock (`ctx->lock`, as the resumption path
//!   `lookup_sess_in_cache` does), but it is a pure presence test: it does
//!   **not** check expiry, takes **no** reference on the session and reads
//!   no payload (and counts no stats) — all advantages for OpenSSL over the
//!   real resumption path and over the other drivers, whose lookups check
//!   expiry and read the value;
//! * `remove`: `SSL_CTX_remove_session` with a probe `SSL_SESSION` carrying
//!   the id and the version (it removes whatever session has that id); the
//!   probe is made once per handle and only its id is rewritten, so no
//!   allocation is measured;
//! * `take`: the same call; it returns 1 for exactly one caller (the hash
//!   delete happens under the write lock), which is how OpenSSL makes TLS 1.3
//!   stateful tickets single use (0-RTT only when remove returns 1). Expiry
//!   is not checked (like `lookup`);
//! * `flush(now)`: `SSL_CTX_flush_sessions(ctx, now)` (3.0 API, returns
//!   nothing); the count is the drop in `SSL_CTX_sess_number` across the
//!   call, which is only exact when nothing else changes the cache meanwhile
//!   (a concurrent store or remove shifts it);
//! * `len`: `SSL_CTX_sess_number` (`SSL_CTX_ctrl(ctx, SSL_CTRL_SESS_NUMBER,
//!   0, NULL)`), which OpenSSL reads without the lock.
//!
//! # Threads
//!
//! The `SSL_CTX` calls made here (`SSL_CTX_add_session`,
//! `SSL_CTX_remove_session`, `SSL_CTX_flush_sessions`, `SSL_new`, and
//! `SSL_has_matching_session_id`, which locks `ssl->session_ctx`) take the
//! context's own lock or only touch atomics, so one `SSL_CTX` is shared by
//! every thread. An `SSL*` is not thread-safe: each handle makes its own
//! (`SSL_new` in [`SharedCache::handle`]) and a handle is not `Send` (it
//! holds raw pointers), so it stays on the thread that made it.

use std::ffi::{c_int, c_long, c_uchar, c_uint, c_void, CStr};
use std::ptr;

use openssl_sys::{SSL, SSL_CTX, SSL_SESSION};

use crate::build_info::crates;
use crate::cache::{CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};

/// `SSL_CTRL_SESS_NUMBER` in `openssl/ssl.h` (3.0).
const SSL_CTRL_SESS_NUMBER: c_int = 20;

/// `SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR`.
const SESS_CACHE_MODE: c_long =
    openssl_sys::SSL_SESS_CACHE_SERVER | openssl_sys::SSL_SESS_CACHE_NO_AUTO_CLEAR;

/// Length of every id (`SSL_MAX_SSL_SESSION_ID_LENGTH`).
const ID_LEN: c_uint = 32;

// Functions `openssl-sys` does not declare; all are exported by libssl 3.0
// with these prototypes (`openssl/ssl.h`), and `openssl-sys` links libssl.
// The same declarations are used by `engine/tests/openssl_diff.rs`.
extern "C" {
    fn SSL_SESSION_new() -> *mut SSL_SESSION;
    fn SSL_SESSION_set1_id(s: *mut SSL_SESSION, sid: *const c_uchar, sid_len: c_uint) -> c_int;
    fn SSL_SESSION_set_time(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_SESSION_set_timeout(s: *mut SSL_SESSION, t: c_long) -> c_long;
    fn SSL_SESSION_set_protocol_version(s: *mut SSL_SESSION, version: c_int) -> c_int;
    fn SSL_SESSION_set1_ticket_appdata(
        s: *mut SSL_SESSION,
        data: *const c_void,
        len: usize,
    ) -> c_int;
    fn SSL_CTX_flush_sessions(ctx: *mut SSL_CTX, tm: c_long);
    fn SSL_has_matching_session_id(ssl: *const SSL, id: *const c_uchar, id_len: c_uint) -> c_int;
}

/// OpenSSL's internal session cache.
#[derive(Debug)]
pub struct OpensslDriver;

impl Driver for OpensslDriver {
    fn name(&self) -> &'static str {
        "openssl"
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: true,
            expiry: true,
            bounded: true,
            private_per_thread: false,
            second_tier: false,
        }
    }

    /// The library this process loaded (`OpenSSL_version`), which may not
    /// be the one its headers came from, and the bindings' crate.
    fn version(&self) -> String {
        // SAFETY: `OpenSSL_version` returns a pointer to a static
        // NUL-terminated string (or to "not available"), never null.
        let loaded =
            unsafe { CStr::from_ptr(openssl_sys::OpenSSL_version(openssl_sys::OPENSSL_VERSION)) };
        format!(
            "{} ({})",
            loaded.to_string_lossy(),
            crates(&["openssl-sys@0.9"])
        )
    }

    fn mapping(&self) -> &'static str {
        "system libssl 3.0, one SSL_CTX (SERVER|NO_AUTO_CLEAR, size cap+1): store → \
         SSL_SESSION_new+set1_id/time/timeout/protocol_version+set1_ticket_appdata(value)+\
         SSL_CTX_add_session, lookup → SSL_has_matching_session_id on a per-thread SSL (read \
         lock; no expiry check, no reference, no payload read: an advantage), remove/take → \
         SSL_CTX_remove_session with a per-thread probe session (1 for exactly one caller), \
         flush → SSL_CTX_flush_sessions (count from SSL_CTX_sess_number before/after)"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        Box::new(Shared::new(config.capacity))
    }
}

/// Converts a logical time or timeout to OpenSSL's `long` seconds,
/// saturating (OpenSSL 3.0 saturates `time + timeout` itself).
fn long(t: u64) -> c_long {
    c_long::try_from(t).unwrap_or(c_long::MAX)
}

/// One `SSL_CTX`.
///
/// Invariant: `ctx` is a valid, non-null `SSL_CTX` owned by this struct (one
/// reference), freed in `Drop`.
struct Shared {
    ctx: *mut SSL_CTX,
}

// SAFETY: the `SSL_CTX` is only used through calls that are thread-safe on a
// shared context (they take `ctx->lock` or use atomic reference counts; see
// the module docs); the pointer itself is owned and freed once, in `Drop`.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`: `&Shared` only exposes those thread-safe calls.
unsafe impl Sync for Shared {}

impl Shared {
    fn new(capacity: usize) -> Shared {
        openssl_sys::init();
        // SAFETY: the library is initialised; `TLS_server_method` returns a
        // static method table. A null result is checked before use.
        let ctx = unsafe { openssl_sys::SSL_CTX_new(openssl_sys::TLS_server_method()) };
        assert!(!ctx.is_null(), "SSL_CTX_new failed");
        let shared = Shared { ctx };
        let size = if capacity == 0 {
            0
        } else {
            long(capacity as u64).saturating_add(1)
        };
        // SAFETY: `shared.ctx` is a valid SSL_CTX that no other thread sees
        // yet (and that `shared`'s Drop frees if anything below panics).
        unsafe {
            openssl_sys::SSL_CTX_set_session_cache_mode(shared.ctx, SESS_CACHE_MODE);
            openssl_sys::SSL_CTX_sess_set_cache_size(shared.ctx, size);
        }
        shared
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: the invariant: we own one reference on `ctx`. Every handle
        // borrows `self`, so all are gone (their `SSL`s freed) by now; the
        // cached sessions hold the cache's references and are freed with it.
        unsafe { openssl_sys::SSL_CTX_free(self.ctx) }
    }
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        Box::new(Handle::new(self))
    }

    fn len(&self) -> usize {
        // SAFETY: `ctx` is valid (the invariant); this read-only control takes
        // no pointer argument. OpenSSL reads the hash's item count without
        // the lock, so under concurrent changes the figure is approximate.
        let n = unsafe {
            openssl_sys::SSL_CTX_ctrl(self.ctx, SSL_CTRL_SESS_NUMBER, 0, ptr::null_mut())
        };
        usize::try_from(n).unwrap_or(0)
    }
}

/// A thread's `SSL*` and probe session.
///
/// Invariant: `ssl` is a valid `SSL` made from `shared.ctx` and `probe` a
/// valid `SSL_SESSION`, both non-null and owned by this handle (one
/// reference each), used only on the thread that made them (the raw
/// pointers make the handle neither `Send` nor `Sync`), freed in `Drop`.
struct Handle<'a> {
    shared: &'a Shared,
    ssl: *mut SSL,
    /// `SSL_version(ssl)`: OpenSSL's hash and comparison include it, so
    /// every session (and the probe) carries it.
    version: c_int,
    /// A session object never added to the cache: `SSL_CTX_remove_session`
    /// takes a session and removes whatever cached one has its id.
    probe: *mut SSL_SESSION,
}

impl<'a> Handle<'a> {
    fn new(shared: &'a Shared) -> Handle<'a> {
        // SAFETY: `shared.ctx` is valid (its invariant) and `SSL_new` on a
        // shared context is thread-safe (it takes a reference atomically).
        let ssl = unsafe { openssl_sys::SSL_new(shared.ctx) };
        assert!(!ssl.is_null(), "SSL_new failed");
        // SAFETY: `ssl` is valid and only used by this thread.
        let version = unsafe { openssl_sys::SSL_version(ssl) };
        // SAFETY: `SSL_SESSION_new` has no preconditions; null is checked.
        let probe = unsafe { SSL_SESSION_new() };
        if probe.is_null() {
            // SAFETY: `ssl` is valid and owned here, not yet in a handle.
            unsafe { openssl_sys::SSL_free(ssl) };
            panic!("SSL_SESSION_new failed");
        }
        let h = Handle {
            shared,
            ssl,
            version,
            probe,
        };
        // SAFETY: `probe` is a valid session owned by `h` and never shared.
        let ok = unsafe { SSL_SESSION_set_protocol_version(h.probe, version) };
        assert_eq!(ok, 1, "SSL_SESSION_set_protocol_version failed");
        h
    }

    /// `SSL_CTX_remove_session` of whatever session has `id`; 1 when one was
    /// cached.
    fn remove_id(&mut self, id: &Id) -> c_int {
        // SAFETY: the invariant: `probe` is valid and owned by this handle
        // (only this thread touches it); `id` is 32 readable bytes, copied by
        // `set1_id`. `ctx` is valid and `SSL_CTX_remove_session` takes the
        // context's write lock; it marks the probe non-resumable (harmless:
        // the probe is never added) and drops the cache's reference on the
        // removed session, never ours on the probe.
        unsafe {
            let ok = SSL_SESSION_set1_id(self.probe, id.as_ptr(), ID_LEN);
            debug_assert_eq!(ok, 1);
            openssl_sys::SSL_CTX_remove_session(self.shared.ctx, self.probe)
        }
    }
}

impl Drop for Handle<'_> {
    fn drop(&mut self) {
        // SAFETY: the invariant: this handle owns one reference on `probe`
        // and on `ssl` (which holds a reference on the context, released
        // here; the context itself outlives the handle).
        unsafe {
            openssl_sys::SSL_SESSION_free(self.probe);
            openssl_sys::SSL_free(self.ssl);
        }
    }
}

impl CacheHandle for Handle<'_> {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        // SAFETY: `SSL_SESSION_new` returns a fresh session with one
        // reference, ours (null is checked), seen by no other thread until
        // `SSL_CTX_add_session`, which takes its own reference under the
        // context's write lock; ours is dropped after it on every path. `id`
        // is 32 readable bytes and `value` `value.len()` readable bytes, both
        // copied by the setters.
        unsafe {
            let s = SSL_SESSION_new();
            assert!(!s.is_null(), "SSL_SESSION_new failed");
            let ok = SSL_SESSION_set1_id(s, id.as_ptr(), ID_LEN) == 1
                && SSL_SESSION_set_protocol_version(s, self.version) == 1
                && SSL_SESSION_set1_ticket_appdata(s, value.as_ptr().cast(), value.len()) == 1;
            SSL_SESSION_set_time(s, long(now));
            SSL_SESSION_set_timeout(s, long(timeout));
            if ok {
                openssl_sys::SSL_CTX_add_session(self.shared.ctx, s);
            }
            openssl_sys::SSL_SESSION_free(s);
            assert!(ok, "setting up an SSL_SESSION failed");
        }
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        // OpenSSL's presence test has no notion of time.
        let _ = now;
        // SAFETY: the invariant: `ssl` is valid and used by this thread only;
        // the call locks `ssl->session_ctx` (our shared context) for reading
        // and only reads the 32 bytes of `id`.
        unsafe { SSL_has_matching_session_id(self.ssl, id.as_ptr(), ID_LEN) == 1 }
    }

    fn remove(&mut self, id: &Id) {
        self.remove_id(id);
    }

    fn take(&mut self, id: &Id, _now: u64) -> bool {
        self.remove_id(id) == 1
    }

    fn flush(&mut self, now: u64) -> usize {
        let before = self.shared.len();
        // SAFETY: `ctx` is valid (the shared invariant); the flush takes the
        // context's write lock. No remove callback is installed.
        unsafe { SSL_CTX_flush_sessions(self.shared.ctx, long(now)) };
        before.saturating_sub(self.shared.len())
    }
}
