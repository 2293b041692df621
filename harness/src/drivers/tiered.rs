//! sesscache with its Redis second tier (`sesscache::redis::TieredCache`),
//! measured as a fleet of two machines sharing one Redis.
//!
//! ```text
//!   worker handles: A  B  A  B ...          (alternately on the two machines)
//!                   │  │
//!   machine A: TieredCache ──┐        ┌── TieredCache: machine B
//!   (local SessionCache)     ▼        ▼   (local SessionCache)
//!                      Redis (one key prefix per cache built)
//! ```
//!
//! A session stored through one machine and looked up on the other misses
//! locally and is read from Redis (then hits locally); `take` is single use
//! across both machines (the tier's atomic GET+DEL script).
//!
//! The Redis is a private `redis-server` the driver starts once per process,
//! when first needed (on a free port of 127.0.0.1, no persistence), or the one
//! `--redis-url` names. The private server is killed by [`shutdown`], and by
//! the kernel if the harness dies without calling it (Linux: the server gets
//! SIGKILL when the process ends).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sesscache::redis::{RedisConfig, TierStats, TieredCache};
use sesscache::{CacheMode, ManualClock, Session, SessionCache, SessionStore};

use crate::build_info::crates;
use crate::cache::{consume, CacheHandle, Config, Driver, Id, SharedCache, Traits, Value};
use crate::drivers::sesscache::SesscacheDriver;
use crate::results::TierCounts;
use crate::workloads::Workload;

/// The driver's name in results and reports.
pub const NAME: &str = "sesscache+redis";

/// The bound on one Redis operation. Longer than a production setting (the
/// engine's default is 50 ms): a 2-core machine running the workers and
/// Redis side by side can stall that long, and a timeout would open the
/// tier's breaker and measure the local cache alone. Errors are reported.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a private `redis-server` has to answer PING.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// SETs per pipeline in the prefill fast path.
const PIPELINE: usize = 1000;

/// The two-machine fleet: see the module documentation.
#[derive(Debug)]
pub struct TieredDriver {
    /// `--redis-url`; `None`: the private server.
    url: Option<String>,
    /// The `--redis-url` check, done once.
    checked: OnceLock<Result<String, String>>,
}

impl TieredDriver {
    /// A driver using the Redis at `url`, or a private `redis-server`.
    pub fn new(url: Option<String>) -> Self {
        TieredDriver {
            url,
            checked: OnceLock::new(),
        }
    }

    /// The URL of the Redis to use (starting the private server if needed),
    /// and what it is.
    fn redis(&self) -> Result<(String, String), String> {
        match &self.url {
            Some(url) => self
                .checked
                .get_or_init(|| {
                    ping(url)
                        .map(|v| format!("Redis {v} at {url}"))
                        .map_err(|e| format!("{NAME}: cannot reach --redis-url {url}: {e}"))
                })
                .clone()
                .map(|what| (url.clone(), what)),
            None => private_server().map(|s| {
                (
                    s.url.clone(),
                    format!(
                        "Redis {}, private redis-server on 127.0.0.1:{}",
                        s.version, s.port
                    ),
                )
            }),
        }
    }
}

impl Driver for TieredDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn traits(&self) -> Traits {
        Traits {
            single_use: true,
            expiry: true,
            bounded: true,
            private_per_thread: false,
            second_tier: true,
        }
    }

    /// sesscache's, and the Redis client's (the server's comes from
    /// `prepare`).
    fn version(&self) -> String {
        format!("{}, {}", SesscacheDriver.version(), crates(&["redis@1"]))
    }

    fn mapping(&self) -> &'static str {
        "a fleet of two machines A and B, each a TieredCache (a sesscache SessionCache set up \
         as the sesscache driver's, plus the Redis tier: 1 s timeout, pool of 16), sharing one \
         Redis under a key prefix fresh for each cache built (its keys deleted afterwards); \
         worker handles alternate A, B, A, ...: store → TieredCache::store (local add, then \
         SET EX remaining life), lookup → lookup_with (a local miss GETs from Redis and fills \
         the local cache), remove → remove_id (local remove, DEL + PUBLISH invalidation), \
         take → take (local take + GET/DEL/PUBLISH script: single use across the fleet), flush → \
         flush (local; Redis forgets by TTL). W1's untimed 100k prefill takes a fast path: \
         sessions alternately added to A's and B's local cache (SessionCache::add, no hook) and \
         written to Redis in pipelined SETs of 1000 in the tier's own layout, so each machine \
         holds half locally and finds the other half in Redis (the tier's counters leave the \
         prefill out)"
    }

    fn build(&self, config: &Config) -> Box<dyn SharedCache> {
        let url = match self.redis() {
            Ok((url, _)) => url,
            Err(why) => panic!("{why}"),
        };
        Box::new(Shared::new(&url, config))
    }

    fn workloads(&self) -> &'static [Workload] {
        // The cost of the tier shows in the resumption mix and in tickets;
        // the other workloads measure the local cache's structures (and
        // would take minutes of Redis round trips).
        &[Workload::W1, Workload::W4]
    }

    fn prepare(&self) -> Result<Option<String>, String> {
        self.redis().map(|(_, what)| Some(what))
    }
}

/// A fresh key prefix: unique per cache built, per process and per run.
fn fresh_prefix() -> String {
    static BUILT: AtomicU64 = AtomicU64::new(0);
    let n = BUILT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("sesscache-harness:{}.{nanos}.{n}:", std::process::id())
}

struct Shared {
    machines: [TieredCache<Value>; 2],
    /// Which machine the next handle is on.
    next: AtomicUsize,
    /// For the prefill and the cleanup.
    client: Option<redis::Client>,
    prefix: String,
}

impl Shared {
    fn new(url: &str, config: &Config) -> Shared {
        let prefix = fresh_prefix();
        // One logical clock for the fleet, reading the run's start time.
        let clock = ManualClock::new(config.start);
        let machine = || {
            let tier = RedisConfig::new(url)
                .unwrap_or_else(|e| panic!("{NAME}: {e}"))
                .key_prefix(&prefix)
                .timeout(REDIS_TIMEOUT);
            let local = SessionCache::builder()
                .capacity(config.capacity)
                .timeout(config.timeout)
                .mode(CacheMode::NO_AUTO_CLEAR)
                .clock(clock.clone());
            TieredCache::new(local, tier).unwrap_or_else(|e| panic!("{NAME}: {e}"))
        };
        Shared {
            machines: [machine(), machine()],
            next: AtomicUsize::new(0),
            client: redis::Client::open(url).ok(),
            prefix,
        }
    }

    fn key(&self, id: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + id.len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(id);
        k
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let client = self.client.as_ref().ok_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "no client"))
        })?;
        let con = client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        con.set_read_timeout(Some(Duration::from_secs(30)))?;
        con.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(con)
    }

    /// The prefill's Redis writes, pipelined: what `TieredCache::store`
    /// would write for each session.
    fn write_pipelined(&self, sessions: &[Arc<Session<Value>>]) -> redis::RedisResult<()> {
        let mut con = self.connect()?;
        let now = self.machines[0].local().now();
        for chunk in sessions.chunks(PIPELINE) {
            let mut pipe = redis::pipe();
            for s in chunk {
                if let Some(ttl) = ttl(s, now) {
                    pipe.cmd("SET")
                        .arg(self.key(s.id()))
                        .arg(encode(s))
                        .arg("EX")
                        .arg(ttl)
                        .ignore();
                }
            }
            pipe.query::<()>(&mut con)?;
        }
        Ok(())
    }

    /// Deletes every key of this cache (the engine leaves them to their
    /// TTL, hours away): the next cache starts from an empty key space and
    /// Redis does not grow cell after cell.
    fn delete_keys(&self) -> redis::RedisResult<()> {
        let mut con = self.connect()?;
        let pattern = format!("{}*", self.prefix);
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(10_000)
                .query(&mut con)?;
            if !keys.is_empty() {
                redis::cmd("UNLINK").arg(&keys).query::<()>(&mut con)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Best effort: a Redis gone away has nothing left to clean.
        let _ = self.delete_keys();
    }
}

/// The tier's value layout (engine/src/redis/codec.rs, private to the
/// engine): `0x01 ‖ time (u64 BE) ‖ timeout (u64 BE) ‖ value`. The driver's
/// tests check that a prefilled session is found through the other machine,
/// so a change of layout fails them.
fn encode(s: &Session<Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + s.value().len());
    out.push(1);
    out.extend_from_slice(&s.time().to_be_bytes());
    out.extend_from_slice(&s.timeout().to_be_bytes());
    out.extend_from_slice(s.value());
    out
}

/// The TTL the tier gives a session at `now` (its remaining life plus one
/// second, at most 2^40 s), or `None` if it has expired.
fn ttl(s: &Session<Value>, now: u64) -> Option<u64> {
    (!s.is_expired_at(now)).then(|| (s.expiry() - now).saturating_add(1).min(1 << 40))
}

fn counts(s: TierStats) -> TierCounts {
    TierCounts {
        writes: s.writes,
        reads: s.reads,
        read_hits: s.read_hits,
        deletes: s.deletes,
        errors: s.errors,
        skipped: s.skipped,
        invalidations: s.invalidations,
    }
}

impl SharedCache for Shared {
    fn handle(&self) -> Box<dyn CacheHandle + '_> {
        // Relaxed: only the alternation matters.
        let i = self.next.fetch_add(1, Ordering::Relaxed) % 2;
        Box::new(Handle {
            cache: &self.machines[i],
        })
    }

    fn len(&self) -> usize {
        self.machines.iter().map(|m| m.local().len()).sum()
    }

    fn prefill(&self, ids: &[Id], value: &Value, now: u64, timeout: u64) {
        let sessions: Vec<Arc<Session<Value>>> = ids
            .iter()
            .map(|id| {
                let value = crate::ids::own_copy(value);
                Arc::new(Session::new(id, now, timeout, value).expect("valid id"))
            })
            .collect();
        for (i, s) in sessions.iter().enumerate() {
            self.machines[i % 2].local().add(s);
        }
        if let Err(e) = self.write_pipelined(&sessions) {
            // Unexpected (the server answered PING): store through the tier,
            // whose counters then show what failed.
            eprintln!("{NAME}: pipelined prefill failed ({e}); storing one by one");
            for (i, s) in sessions.iter().enumerate() {
                self.machines[i % 2].store(s);
            }
        }
    }

    fn tier_stats(&self) -> Option<TierCounts> {
        Some(counts(self.machines[0].tier_stats()) + counts(self.machines[1].tier_stats()))
    }
}

struct Handle<'a> {
    cache: &'a TieredCache<Value>,
}

impl CacheHandle for Handle<'_> {
    fn store(&mut self, id: &Id, value: &Value, now: u64, timeout: u64) {
        let s = Session::new(id, now, timeout, value.clone()).expect("32-byte ids are valid");
        self.cache.store(&Arc::new(s));
    }

    fn lookup(&mut self, id: &Id, now: u64) -> bool {
        // The fleet's clock reads the run's logical time (as sesscache's).
        let _ = now;
        self.cache
            .lookup_with(id, |s| consume(s.value()))
            .unwrap_or(false)
    }

    fn remove(&mut self, id: &Id) {
        self.cache.remove_id(id);
    }

    fn take(&mut self, id: &Id, _now: u64) -> bool {
        self.cache.take(id).is_some()
    }

    fn flush(&mut self, now: u64) -> usize {
        self.cache.flush(now)
    }
}

// ---------------------------------------------------------------------------
// The private redis-server.
// ---------------------------------------------------------------------------

struct Server {
    url: String,
    port: u16,
    version: String,
    child: Mutex<Option<Child>>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The private server, started on first use.
fn private_server() -> Result<&'static Server, String> {
    SERVER
        .get_or_init(start_server)
        .as_ref()
        .map_err(Clone::clone)
}

/// Kills the private `redis-server`, if one was started, and waits for it.
/// Caches built afterwards find no Redis: call it when the run is over.
pub fn shutdown() {
    if let Some(Ok(server)) = SERVER.get() {
        let child = server
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Names the `redis-server` binary to start instead of looking for one.
pub const SERVER_ENV: &str = "SESSCACHE_HARNESS_REDIS_SERVER";

/// `redis-server`: the one [`SERVER_ENV`] names, else on the PATH or in the
/// usual places.
fn find_redis_server() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(SERVER_ENV) {
        let bin = PathBuf::from(bin);
        return is_executable(&bin).then_some(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join("redis-server"))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file()
}

fn start_server() -> Result<Server, String> {
    let bin = find_redis_server().ok_or_else(|| {
        let looked = match std::env::var_os(SERVER_ENV) {
            Some(bin) => format!("{SERVER_ENV}={}", bin.to_string_lossy()),
            None => "PATH, /usr/bin, /usr/sbin, /usr/local/bin".into(),
        };
        format!(
            "{NAME} skipped: no redis-server binary found ({looked}) and no --redis-url \
             given; install redis-server (apt-get install redis-server) or pass --redis-url"
        )
    })?;
    let mut last = String::new();
    // A port found free can be taken before the server binds it: try again.
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("{NAME} skipped: no free port on 127.0.0.1: {e}"))?
            .port();
        let mut cmd = Command::new(&bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = spawn_kept(cmd)
            .map_err(|e| format!("{NAME} skipped: could not start {}: {e}", bin.display()))?;
        let url = format!("redis://127.0.0.1:{port}/");
        match wait_ready(&url, &mut child) {
            Ok(version) => {
                return Ok(Server {
                    url,
                    port,
                    version,
                    child: Mutex::new(Some(child)),
                })
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                last = e;
            }
        }
    }
    Err(format!(
        "{NAME} skipped: {} did not start: {last}",
        bin.display()
    ))
}

/// Spawns `cmd` from a thread that lives as long as the process, with (on
/// Linux) SIGKILL as its parent-death signal: the kernel sends it when the
/// thread that spawned it ends, which for this thread is when the process
/// does, however it ends.
fn spawn_kept(mut cmd: Command) -> std::io::Result<Child> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        let hook = move || {
            // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: getppid cannot fail.
            let ppid = unsafe { libc::getppid() };
            // The harness ended before prctl took effect: no signal will
            // come, so do not start.
            if u32::try_from(ppid).ok() != Some(parent) {
                return Err(std::io::Error::other("the harness is gone"));
            }
            Ok(())
        };
        // SAFETY: the hook runs in the child between fork and exec; it only
        // makes async-signal-safe system calls and takes no lock and
        // allocates nothing on its success path.
        unsafe {
            cmd.pre_exec(hook);
        }
    }
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("harness-redis-server".into())
        .spawn(move || {
            let _ = tx.send(cmd.spawn());
            loop {
                thread::park();
            }
        })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the spawning thread died"))?
}

/// Waits until the server at `url` answers PING; its version.
fn wait_ready(url: &str, child: &mut Child) -> Result<String, String> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited ({status})"));
        }
        match ping(url) {
            Ok(version) => return Ok(version),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("no answer to PING within {START_DEADLINE:?}: {e}"))
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// PING, then the server's version.
fn ping(url: &str) -> Result<String, String> {
    let ask = || -> redis::RedisResult<String> {
        let client = redis::Client::open(url)?;
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500))?;
        con.set_read_timeout(Some(Duration::from_secs(2)))?;
        redis::cmd("PING").query::<String>(&mut con)?;
        let info: String = redis::cmd("INFO").arg("server").query(&mut con)?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("(unknown version)")
            .trim()
            .to_owned())
    };
    ask().map_err(|e| e.to_string())
}
