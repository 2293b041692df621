//! The Redis tier against a real `redis-server` started on a free port of
//! 127.0.0.1 (Debian's `redis-server` package; `.ci/run` installs it):
//!
//! - a session stored through cache A resumes through cache B, with its
//!   remaining lifetime as the key's TTL, and then hits B locally;
//! - a remove in A reaches Redis and B's local copy (the invalidation);
//! - caches taking one ticket concurrently: exactly one wins, every round;
//! - Redis killed mid-run: no error reaches the caller, local hits go on,
//!   and a Redis that stops answering costs at most the timeout;
//! - Redis restarted: sharing resumes, invalidations too;
//! - real rustls handshakes: a TLS 1.2 session made on server A resumes on
//!   server B.

#[path = "common/tls.rs"]
mod tls;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rustls::version::{TLS12, TLS13};
use rustls::HandshakeKind;
use sesscache::redis::{ConfigError, RedisConfig, TieredCache};
use sesscache::rustls::ServerSessionStore;
use sesscache::{ManualClock, SessionCache, SessionStore};

const T0: u64 = 1_700_000_000;
const PREFIX: &str = "test:";

/// A private `redis-server`, killed on drop.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut r = Redis { port, child: None };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port and waits until it answers PING.
    fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server; .ci/run does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.query(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            thread::yield_now();
        }
    }

    /// One command over a raw connection; the first reply line.
    fn query(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]);
        text.lines().next().map(str::to_owned)
    }

    /// How many listeners the invalidation channel has.
    fn listeners(&self) -> usize {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let channel = format!("{PREFIX}invalidate");
        let req = format!(
            "*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${}\r\n{channel}\r\n",
            channel.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        text.lines()
            .last()
            .and_then(|l| l.trim_start_matches(':').parse().ok())
            .unwrap_or(0)
    }

    /// Waits until `n` caches listen for invalidations.
    fn wait_listeners(&self, n: usize) {
        wait_until("invalidation listeners subscribed", || {
            self.listeners() >= n
        });
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` until it holds, failing after 10 s: for effects that
/// travel through Redis on another thread.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn config(redis: &Redis) -> RedisConfig {
    RedisConfig::new(&redis.url())
        .unwrap()
        .key_prefix(PREFIX)
        .timeout(Duration::from_millis(200))
        .retry_after(Duration::from_millis(300))
}

fn tiered(redis: &Redis, clock: &ManualClock) -> Arc<TieredCache<Vec<u8>>> {
    let builder = SessionCache::builder().clock(clock.clone()).timeout(300);
    Arc::new(TieredCache::new(builder, config(redis)).unwrap())
}

fn id(n: u32) -> Vec<u8> {
    let mut id = [0xA5u8; 32];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id.to_vec()
}

#[test]
fn bad_settings_are_typed_errors() {
    let err = RedisConfig::new("http://127.0.0.1/").unwrap_err();
    assert!(matches!(err, ConfigError::BadUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("http://127.0.0.1/"), "{err}");
    let ok = || RedisConfig::new("redis://127.0.0.1:1/").unwrap();
    let build = |c| TieredCache::<Vec<u8>>::new(SessionCache::builder(), c).map(|_| ());
    assert_eq!(
        build(ok().timeout(Duration::ZERO)),
        Err(ConfigError::ZeroTimeout)
    );
    assert_eq!(build(ok().pool_size(0)), Err(ConfigError::ZeroPoolSize));
    assert_eq!(
        build(ok().pool_size(u32::MAX)),
        Err(ConfigError::PoolTooLarge { size: u32::MAX })
    );
    assert_eq!(build(ok().pool_size(RedisConfig::MAX_POOL_SIZE)), Ok(()));
    assert_eq!(
        build(ok().timeout(Duration::from_secs(u64::MAX))),
        Err(ConfigError::TimeoutTooLong)
    );
    assert_eq!(build(ok().key_prefix("")), Err(ConfigError::EmptyPrefix));
    assert_eq!(build(ok()), Ok(()), "an unreachable server is not an error");
}

#[test]
fn ids_no_session_can_have_never_reach_redis() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let cache = tiered(&redis, &clock);
    // A key outside the tier's own sessions, as a client could name it.
    assert_eq!(
        redis
            .query(&["SET", "test:not-a-session-id-of-32-bytes-or-less", "x"])
            .as_deref(),
        Some("+OK")
    );
    let long = b"not-a-session-id-of-32-bytes-or-less";
    assert!(long.len() > 32);
    assert!(cache.take(long).is_none());
    assert!(!cache.remove_id(long));
    assert!(cache.take(b"").is_none() && !cache.remove_id(b""));
    assert_eq!(
        redis
            .query(&["EXISTS", "test:not-a-session-id-of-32-bytes-or-less"])
            .as_deref(),
        Some(":1")
    );
    assert_eq!(cache.tier_stats().deletes + cache.tier_stats().errors, 0);
}

#[test]
fn an_error_answer_is_not_an_outage() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let cache = tiered(&redis, &clock);
    let s = cache.new_session(&id(1), vec![1; 10]).unwrap();
    cache.store(&s);
    // Redis answers writes with an error (out of memory, no eviction).
    assert_eq!(
        redis
            .query(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
            .as_deref(),
        Some("+OK")
    );
    assert_eq!(
        redis.query(&["CONFIG", "SET", "maxmemory", "1"]).as_deref(),
        Some("+OK")
    );
    cache.store(&cache.new_session(&id(2), vec![2; 10]).unwrap());
    let after = cache.tier_stats();
    assert_eq!((after.writes, after.errors), (1, 1), "{after:?}");
    // Reads still go to Redis: the breaker did not open.
    let other = tiered(&redis, &clock);
    assert!(
        other.lookup(&id(1)).is_some(),
        "read through, despite the refused write"
    );
    assert_eq!(
        (other.tier_stats().read_hits, other.tier_stats().skipped),
        (1, 0)
    );
    assert!(cache.lookup(&id(3)).is_none());
    assert_eq!(cache.tier_stats().skipped, 0, "no outage was declared");
}

/// Reads one command (a RESP array of bulk strings) from `r`.
fn read_command(r: &mut impl std::io::BufRead) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0; len + 2];
        r.read_exact(&mut arg).ok()?;
        arg.truncate(len);
        args.push(arg);
    }
    Some(args)
}

/// A stand-in for Redis on a free port: each connection's commands are
/// answered in turn with what `answer` returns for the command (its
/// arguments), or the connection is closed where it returns `None`.
/// Returns its URL.
fn fake_redis(answer: impl Fn(&[Vec<u8>]) -> Option<Vec<u8>> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let answer = answer.clone();
            thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = std::io::BufReader::new(conn);
                while let Some(cmd) = read_command(&mut r) {
                    let Some(reply) = answer(&cmd) else { break };
                    if w.write_all(&reply).is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

/// A stand-in for Redis: the first GET is answered with `garbage` and then
/// a well-formed reply, every later GET with nil, and anything else with
/// `+OK`. Returns its URL and the GETs it answered.
fn garbling_server(garbage: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let gets = Arc::new(AtomicUsize::new(0));
    let counted = gets.clone();
    let url = fake_redis(move |cmd| {
        Some(if cmd[0].eq_ignore_ascii_case(b"GET") {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                [garbage, b"$5\r\nstale\r\n"].concat()
            } else {
                b"$-1\r\n".to_vec()
            }
        } else {
            b"+OK\r\n".to_vec()
        })
    });
    (url, gets)
}

/// A reply the client cannot parse leaves unread bytes on its connection:
/// the connection must be dropped, not pooled, or every later command on
/// it reads a reply that is not its own (here they would all fail).
#[test]
fn a_connection_that_read_a_garbled_reply_is_not_reused() {
    let (url, gets) = garbling_server(b":x\r\n");
    let config = RedisConfig::new(&url)
        .unwrap()
        .key_prefix(PREFIX)
        .timeout(Duration::from_millis(500))
        .pool_size(1);
    let cache = TieredCache::<Vec<u8>>::new(SessionCache::builder(), config).unwrap();
    assert!(cache.lookup(&id(1)).is_none());
    assert_eq!(cache.tier_stats().errors, 1, "{:?}", cache.tier_stats());
    for n in 2..6 {
        assert!(cache.lookup(&id(n)).is_none());
    }
    let stats = cache.tier_stats();
    assert_eq!(gets.load(Ordering::SeqCst), 5, "{stats:?}");
    // The first read failed; the four after it were answered (nil).
    assert_eq!(
        (stats.reads, stats.errors),
        (4, 1),
        "the later reads got their own answers: {stats:?}"
    );
}

/// A probe that Redis answers with an error closes the breaker: Redis is
/// there. A stand-in for Redis closes the connection on the first GET (an
/// outage: the breaker opens), answers the second, the probe after the
/// pause, with an error, and every later one with nil.
#[test]
fn a_probe_answered_with_an_error_closes_the_breaker() {
    let gets = Arc::new(AtomicUsize::new(0));
    let counted = gets.clone();
    let url = fake_redis(move |cmd| {
        if !cmd[0].eq_ignore_ascii_case(b"GET") {
            return Some(b"+OK\r\n".to_vec());
        }
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 => None,
            1 => Some(b"-ERR refused\r\n".to_vec()),
            _ => Some(b"$-1\r\n".to_vec()),
        }
    });
    // A pause long enough that the lookup right after the probe falls
    // within it, had the probe left the breaker open.
    let config = RedisConfig::new(&url)
        .unwrap()
        .key_prefix(PREFIX)
        .timeout(Duration::from_millis(500))
        .retry_after(Duration::from_secs(1));
    let cache = TieredCache::<Vec<u8>>::new(SessionCache::builder(), config).unwrap();
    assert!(cache.lookup(&id(1)).is_none());
    let down = cache.tier_stats();
    assert_eq!((down.errors, down.skipped), (1, 0), "{down:?}");
    // Skipped until the pause is over, then one probe: the error answer.
    wait_until("the probe", || {
        assert!(cache.lookup(&id(2)).is_none());
        gets.load(Ordering::SeqCst) >= 2
    });
    let probed = cache.tier_stats();
    assert_eq!(probed.errors, 2, "{probed:?}");
    assert!(cache.lookup(&id(3)).is_none());
    let after = cache.tier_stats();
    assert_eq!(
        (gets.load(Ordering::SeqCst), after.skipped),
        (3, probed.skipped),
        "the lookup after the probe went to Redis: {after:?}"
    );
    assert_eq!(after.reads, 1, "{after:?}");
}

#[test]
fn a_session_stored_through_a_resumes_through_b() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let (a, b) = (tiered(&redis, &clock), tiered(&redis, &clock));
    let s = a
        .new_session(b"printable-session-id", b"der-bytes".to_vec())
        .unwrap();
    a.store(&s);
    assert_eq!(a.tier_stats().writes, 1);
    let ttl: u64 = redis.query(&["TTL", "test:printable-session-id"]).unwrap()[1..]
        .parse()
        .unwrap();
    assert!(
        (299..=301).contains(&ttl),
        "TTL is the remaining lifetime: {ttl}"
    );

    let found = b
        .lookup(b"printable-session-id")
        .expect("B finds A's session in Redis");
    assert_eq!(found.value(), b"der-bytes");
    assert_eq!((found.time(), found.timeout()), (T0, 300));
    assert_eq!((b.tier_stats().reads, b.tier_stats().read_hits), (1, 1));
    assert_eq!(b.local().stats().cb_hits, 1);
    // Now a local hit: Redis is not asked again.
    assert!(b.lookup(b"printable-session-id").is_some());
    assert_eq!(b.tier_stats().reads, 1);
    // Unknown ids ask Redis and miss.
    assert!(b.lookup(&id(7)).is_none());
    assert_eq!((b.tier_stats().reads, b.tier_stats().read_hits), (2, 1));
    // An expired session is not written.
    let old = a.new_session(&id(1), vec![1]).unwrap();
    clock.advance(301);
    a.store(&old);
    assert_eq!(a.tier_stats().writes, 1);
    assert_eq!(a.tier_stats().errors + b.tier_stats().errors, 0);
}

#[test]
fn remove_in_a_is_seen_by_b() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let (a, b, c) = (
        tiered(&redis, &clock),
        tiered(&redis, &clock),
        tiered(&redis, &clock),
    );
    redis.wait_listeners(3);
    for n in 0..20 {
        a.store(&a.new_session(&id(n), vec![n as u8; 100]).unwrap());
        assert!(
            b.lookup(&id(n)).is_some(),
            "B now holds a local copy: {:?} {:?}",
            a.tier_stats(),
            b.tier_stats()
        );
    }
    assert_eq!(b.local().len(), 20);
    for n in 0..10 {
        assert!(a.remove_id(&id(n)));
    }
    assert_eq!(a.tier_stats().deletes, 10);
    wait_until("B drops its copies", || b.tier_stats().invalidations == 10);
    for n in 0..20 {
        assert_eq!(b.local().contains(&id(n)), n >= 10, "id {n}");
        assert_eq!(
            c.lookup(&id(n)).is_some(),
            n >= 10,
            "C asks Redis for id {n}"
        );
    }
    assert_eq!(a.tier_stats().invalidations, 0, "a cache ignores its own");
    // A remove in B of a session only A and Redis hold deletes it there
    // and in A.
    a.store(&a.new_session(&id(50), vec![5]).unwrap());
    assert!(!b.local().contains(&id(50)));
    assert!(b.remove_id(&id(50)), "deleted in Redis");
    wait_until("A drops its copy", || !a.local().contains(&id(50)));
    assert!(c.lookup(&id(50)).is_none());
}

/// B's `on_remove` panics for the first invalidation it hears of: its
/// listener goes on, and the next invalidation still reaches it.
#[test]
fn a_panicking_on_remove_does_not_stop_the_invalidation_listener() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let a = tiered(&redis, &clock);
    let first = Arc::new(AtomicBool::new(true));
    let builder = SessionCache::builder()
        .clock(clock.clone())
        .timeout(300)
        .on_remove(move |_: &sesscache::Session<Vec<u8>>| {
            assert!(!first.swap(false, Ordering::SeqCst), "callback failure");
        });
    let b = TieredCache::new(builder, config(&redis)).unwrap();
    redis.wait_listeners(2);
    for n in 0..2 {
        a.store(&a.new_session(&id(n), vec![1; 10]).unwrap());
        assert!(b.lookup(&id(n)).is_some(), "B holds a copy of {n}");
    }
    assert!(a.remove_id(&id(0)));
    wait_until("B drops its first copy", || !b.local().contains(&id(0)));
    assert!(a.remove_id(&id(1)));
    wait_until("B drops its second copy", || !b.local().contains(&id(1)));
    // Counted: the second; the first one's removal panicked.
    assert_eq!(b.tier_stats().invalidations, 1, "{:?}", b.tier_stats());
}

#[test]
fn concurrent_takers_on_different_caches_have_exactly_one_winner() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let caches: Vec<_> = (0..4).map(|_| tiered(&redis, &clock)).collect();
    redis.wait_listeners(4);
    const ROUNDS: u32 = 300;
    let wins = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(caches.len()));
    thread::scope(|scope| {
        for (i, cache) in caches.iter().enumerate() {
            let (wins, barrier) = (wins.clone(), barrier.clone());
            let owner = caches[0].clone();
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    if i == 0 {
                        owner.store(&owner.new_session(&id(round), vec![1; 64]).unwrap());
                    }
                    barrier.wait();
                    // Every cache holds a copy: the local caches alone
                    // would let each of them win.
                    assert!(cache.lookup(&id(round)).is_some());
                    barrier.wait();
                    if cache.take(&id(round)).is_some() {
                        wins.fetch_add(1, Ordering::Relaxed);
                    }
                    barrier.wait();
                }
            });
        }
    });
    assert_eq!(
        wins.load(Ordering::Relaxed),
        ROUNDS as usize,
        "one winner per ticket"
    );
    let errors: u64 = caches.iter().map(|c| c.tier_stats().errors).sum();
    assert_eq!(errors, 0);
    for round in 0..ROUNDS {
        assert!(
            caches.iter().all(|c| c.take(&id(round)).is_none()),
            "nothing left to take"
        );
    }
}

#[test]
fn redis_down_never_reaches_the_caller_and_restarted_redis_shares_again() {
    let mut redis = Redis::start();
    let clock = ManualClock::new(T0);
    let (a, b) = (tiered(&redis, &clock), tiered(&redis, &clock));
    redis.wait_listeners(2);
    for n in 0..100 {
        a.store(&a.new_session(&id(n), vec![7; 200]).unwrap());
    }
    // A reader of local sessions keeps going while Redis dies.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (a, stop) = (a.clone(), stop.clone());
        thread::spawn(move || {
            let mut hits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for n in 0..100 {
                    assert!(a.lookup(&id(n)).is_some(), "a local hit with Redis down");
                    hits += 1;
                }
            }
            hits
        })
    };
    redis.kill();
    // Every operation still answers, from the local cache.
    for n in 100..200 {
        a.store(&a.new_session(&id(n), vec![8; 200]).unwrap());
        assert!(a.lookup(&id(n)).is_some());
        assert!(
            b.lookup(&id(n)).is_none(),
            "B cannot reach Redis: a miss, no error"
        );
    }
    assert!(
        a.take(&id(150)).is_none(),
        "no winner without Redis: fail closed"
    );
    assert!(
        !a.local().contains(&id(150)),
        "the local copy is gone all the same"
    );
    assert!(a.remove_id(&id(151)));
    stop.store(true, Ordering::Relaxed);
    let hits = reader.join().expect("the reader never panicked");
    assert!(hits >= 100);
    let down = a.tier_stats();
    assert!(
        down.errors >= 1 && down.errors + down.skipped >= 100,
        "{down:?}"
    );

    redis.restart();
    redis.wait_listeners(2);
    // Within the retry pause the caches try Redis again by themselves.
    let mut n = 1_000;
    wait_until("sharing resumes", || {
        n += 1;
        a.store(&a.new_session(&id(n), vec![9; 10]).unwrap());
        b.lookup(&id(n)).is_some()
    });
    for m in n + 1..n + 21 {
        a.store(&a.new_session(&id(m), vec![9; 10]).unwrap());
        assert!(b.lookup(&id(m)).is_some(), "shared again: {m}");
    }
    // And invalidations flow again.
    assert!(a.remove_id(&id(n + 1)));
    wait_until("B drops the copy", || !b.local().contains(&id(n + 1)));
}

#[test]
fn a_redis_that_stops_answering_costs_at_most_the_timeout() {
    // A server that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acceptor = {
        let held = held.clone();
        thread::spawn(move || {
            for conn in silent.incoming().take(64).flatten() {
                held.lock().unwrap().push(conn);
            }
        })
    };
    let timeout = Duration::from_millis(100);
    let cfg = RedisConfig::new(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(timeout)
        .retry_after(Duration::ZERO);
    let cache = TieredCache::<Vec<u8>>::new(SessionCache::builder(), cfg).unwrap();
    let s = cache.new_session(&id(1), vec![1]).unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        cache.store(&s);
        assert!(cache.lookup(&id(2)).is_none());
        assert!(cache.take(&id(3)).is_none());
        assert!(!cache.remove_id(&id(4)));
        // Four operations; a generous margin for a loaded machine.
        let took = start.elapsed();
        assert!(took < 4 * timeout + Duration::from_secs(2), "took {took:?}");
    }
    assert!(
        cache.lookup(&id(1)).is_some(),
        "the local cache still serves"
    );
    assert!(cache.tier_stats().errors >= 12, "{:?}", cache.tier_stats());
    drop(held);
    drop(acceptor);
}

/// A take sends two commands when Redis has not seen its script (`EVALSHA`,
/// answered `NOSCRIPT`, then `EVAL`): together they stay within the one
/// timeout. A stand-in for Redis answers every script command after 90 % of
/// the timeout (`SCRIPT LOAD` with the script's true hash). With each
/// socket wait bounded by the whole timeout, and the `redis` crate's three
/// commands (`EVALSHA`, `SCRIPT LOAD`, `EVALSHA`), the take took 2.7
/// timeouts.
#[test]
fn a_take_that_must_send_its_script_stays_within_the_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let url = fake_redis(|cmd| {
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
        let reply = match name.as_str() {
            "EVALSHA" => b"-NOSCRIPT No matching script.\r\n".to_vec(),
            "SCRIPT" => {
                let code = String::from_utf8_lossy(&cmd[2]);
                let hash = redis::Script::new(&code).get_hash().to_owned();
                format!("${}\r\n{hash}\r\n", hash.len()).into_bytes()
            }
            "EVAL" => b"$-1\r\n".to_vec(),
            _ => return Some(b"+OK\r\n".to_vec()),
        };
        thread::sleep(TIMEOUT * 9 / 10);
        Some(reply)
    });
    let config = RedisConfig::new(&url)
        .unwrap()
        .key_prefix(PREFIX)
        .timeout(TIMEOUT);
    let cache = TieredCache::<Vec<u8>>::new(SessionCache::builder(), config).unwrap();
    let start = Instant::now();
    assert!(cache.take(&id(1)).is_none(), "no winner without an answer");
    let took = start.elapsed();
    // The deadline, plus a margin for a loaded machine well short of the
    // 1.8 timeouts of even two waits bounded one by one.
    assert!(took < TIMEOUT * 15 / 10, "took {took:?}");
    assert_eq!(cache.tier_stats().errors, 1, "{:?}", cache.tier_stats());
}

#[test]
fn rustls_sessions_made_on_server_a_resume_on_server_b() -> tls::Result {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let (a, b) = (tiered(&redis, &clock), tiered(&redis, &clock));
    redis.wait_listeners(2);
    let id = tls::identity()?;
    let server = |c: &Arc<TieredCache<Vec<u8>>>, v| {
        tls::server_config(&id, v, Arc::new(ServerSessionStore::new(c.clone())))
    };

    // TLS 1.2 session ids: full on A, resumed on B (through Redis), and on A.
    let client = tls::client_config(&id, &TLS12)?;
    let (on_a, on_b) = (server(&a, &TLS12)?, server(&b, &TLS12)?);
    assert_eq!(tls::handshake(&client, &on_a)?.kind, HandshakeKind::Full);
    assert_eq!(tls::handshake(&client, &on_b)?.kind, HandshakeKind::Resumed);
    assert_eq!(b.tier_stats().read_hits, 1, "B found it in Redis");
    assert_eq!(tls::handshake(&client, &on_a)?.kind, HandshakeKind::Resumed);

    // TLS 1.3 stateful tickets: a ticket issued by A is redeemed on B once;
    // the redemption's new ticket (issued by B) then works on A.
    let client = tls::client_config(&id, &TLS13)?;
    let (on_a, on_b) = (server(&a, &TLS13)?, server(&b, &TLS13)?);
    assert_eq!(tls::handshake(&client, &on_a)?.kind, HandshakeKind::Full);
    let redeemed = tls::handshake(&client, &on_b)?;
    assert_eq!(redeemed.kind, HandshakeKind::Resumed);
    assert_eq!(tls::handshake(&client, &on_a)?.kind, HandshakeKind::Resumed);
    // Replaying the redeemed ClientHello on either server: a full handshake.
    for server in [&on_a, &on_b] {
        let mut conn = rustls::ServerConnection::new(server.clone())?;
        tls::feed(&mut conn, &redeemed.client_hello)?;
        assert_eq!(conn.handshake_kind(), Some(HandshakeKind::Full), "a replay");
    }
    assert_eq!(a.tier_stats().errors + b.tier_stats().errors, 0);
    Ok(())
}

#[test]
fn a_removal_made_while_redis_is_away_reaches_it_when_it_is_back() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let (a, b) = (tiered(&redis, &clock), tiered(&redis, &clock));
    a.store(&a.new_session(&id(1), vec![1; 10]).unwrap());
    // Redis stops answering for a while: the removal cannot reach it.
    assert_eq!(
        redis.query(&["CLIENT", "PAUSE", "1000", "ALL"]).as_deref(),
        Some("+OK")
    );
    assert!(a.remove_id(&id(1)), "removed here at once");
    assert_eq!(a.tier_stats().pending_removals, 1);
    assert!(a.lookup(&id(1)).is_none(), "not read back from Redis");
    // Redis still holds it; the first operations after the pause send it.
    let mut n = 100;
    wait_until("the pending removal reaches Redis", || {
        n += 1;
        a.store(&a.new_session(&id(n), vec![2]).unwrap());
        a.tier_stats().pending_removals == 0
    });
    assert!(
        b.lookup(&id(1)).is_none(),
        "B does not resume a removed session"
    );
    assert!(b.lookup(&id(n)).is_some(), "and sharing goes on");
    assert!(a.tier_stats().deletes >= 1);
    assert!(a.take(&id(1)).is_none() && b.take(&id(1)).is_none());
    // A new session under the removed id is shared again.
    a.store(&a.new_session(&id(1), vec![3; 10]).unwrap());
    assert_eq!(
        b.lookup(&id(1)).map(|s| s.value().clone()),
        Some(vec![3; 10])
    );
}

#[test]
fn a_session_removed_while_redis_is_away_never_wins_a_take() {
    let redis = Redis::start();
    let clock = ManualClock::new(T0);
    let a = tiered(&redis, &clock);
    a.store(&a.new_session(&id(1), vec![1; 10]).unwrap());
    a.store(&a.new_session(&id(2), vec![2; 10]).unwrap());
    assert_eq!(
        redis.query(&["CLIENT", "PAUSE", "700", "ALL"]).as_deref(),
        Some("+OK")
    );
    assert!(a.remove_id(&id(1)));
    // Until the removal reaches Redis (whenever the listener gets to it),
    // every take of the id fails, and a new session under it stays local.
    a.store(&a.new_session(&id(1), vec![9; 10]).unwrap());
    let mut other_taken = false;
    wait_until("Redis answers again", || {
        assert!(a.take(&id(1)).is_none(), "a removed session never wins");
        other_taken |= a.take(&id(2)).is_some();
        other_taken
    });
    wait_until("the removal reaches Redis", || {
        a.tier_stats().pending_removals == 0
    });
    assert!(a.take(&id(1)).is_none());
    assert!(a.tier_stats().errors >= 1, "the pause was seen");
}
