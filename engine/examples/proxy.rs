//! A TLS-terminating server whose sessions live in sesscache.
//!
//! It accepts TLS with rustls (default) or OpenSSL, keeps every resumable
//! session (TLS 1.2 session ids and stateful TLS 1.3 tickets) in a
//! [`SessionCache`] — or, with `--redis`, in a [`TieredCache`] shared through
//! Redis by any number of proxies — and then either forwards the decrypted
//! bytes both ways to `--backend HOST:PORT`, or, without a backend, answers
//! every connection with a tiny HTTP/1.0 response saying whether the
//! handshake resumed a session. It counts full and resumed handshakes and
//! prints them with the cache's statistics every `--stats-every` seconds and
//! on exit (Ctrl-C, SIGTERM or after `--max-conns` connections).
//!
//! ```sh
//! cargo run --release -p sesscache --features rustls,openssl,redis --example proxy -- \
//!     [--tls rustls|openssl] [--listen 127.0.0.1:8443] [--backend HOST:PORT] \
//!     [--cert cert.pem --key key.pem] [--capacity N] [--timeout SECS] \
//!     [--redis redis://127.0.0.1:6379/] [--stats-every SECS] [--max-conns N]
//! ```
//!
//! Without `--cert`/`--key` it generates a self-signed certificate for
//! `localhost` and `127.0.0.1`. Then resume against it:
//!
//! ```sh
//! # TLS 1.2: one full handshake, then five reconnects that print "Reused, TLSv1.2".
//! openssl s_client -connect 127.0.0.1:8443 -reconnect -tls1_2 </dev/null | grep -E '^(New|Reused),'
//! # TLS 1.3 (stateful tickets; -reconnect does not wait for TLS 1.3 tickets):
//! openssl s_client -connect 127.0.0.1:8443 -tls1_3 -sess_out s.pem -ign_eof </dev/null
//! openssl s_client -connect 127.0.0.1:8443 -tls1_3 -sess_in s.pem -ign_eof </dev/null | grep Reused
//! curl -k https://localhost:8443/
//! ```
//!
//! No ticket key is configured (rustls: no ticketer; OpenSSL:
//! `SslOptions::NO_TICKET`), so clients get session ids and stateful
//! TLS 1.3 tickets, all looked up in (and, for TLS 1.3, taken from) the
//! cache. `--timeout` is the lifetime the cache gives rustls sessions;
//! OpenSSL stamps its sessions with its own timeout (7200 s), which the
//! adapter keeps. `RUST_LOG=debug` shows the logs of rustls and of the
//! Redis tier.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use openssl::ssl::{ErrorCode, SslAcceptor, SslMethod, SslOptions, SslStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, ServerConnection};
use rustls::HandshakeKind;
use sesscache::redis::{RedisConfig, TierStats, TieredCache};
use sesscache::{SessionCache, SessionStore, DEFAULT_CAPACITY, DEFAULT_TIMEOUT};

/// How long a client may take over its handshake (and each write to it).
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection waits for the client to close its side.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Parser, Debug)]
#[command(
    about = "A TLS-terminating proxy whose sessions live in sesscache",
    after_help = "Resume against it: openssl s_client -connect 127.0.0.1:8443 -reconnect -tls1_2 </dev/null"
)]
struct Args {
    /// The TLS library.
    #[arg(long, value_enum, default_value_t = TlsKind::Rustls)]
    tls: TlsKind,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: String,
    /// Forward the decrypted bytes to this TCP address; without it, answer
    /// each connection with a small HTTP/1.0 response.
    #[arg(long, value_name = "HOST:PORT")]
    backend: Option<String>,
    /// The certificate chain (PEM); without it, a self-signed one for localhost.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Sessions the local cache holds (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CAPACITY)]
    capacity: usize,
    /// Session lifetime in the cache, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Share sessions through Redis (a second tier behind the local cache).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// Print statistics every SECS seconds (0: only on exit).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    stats_every: u64,
    /// Exit after N connections, printing the final statistics.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_conns: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TlsKind {
    Rustls,
    Openssl,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy: {e}");
            ExitCode::from(2)
        }
    }
}

/// Everything up to the accept loop; an `Err` is a setup error (exit 2).
fn run(args: &Args) -> Result<(), String> {
    let backend = match &args.backend {
        Some(b) => Some(
            b.to_socket_addrs()
                .map_err(|e| format!("bad --backend {b:?}: {e}"))?
                .next()
                .ok_or_else(|| format!("bad --backend {b:?}: no address"))?,
        ),
        None => None,
    };
    let redis = match &args.redis {
        Some(url) => Some(RedisConfig::new(url).map_err(|e| format!("--redis: {e}"))?),
        None => None,
    };
    let pem = load_or_generate_pem(args)?;
    let builder = SessionCache::<Vec<u8>>::builder()
        .capacity(args.capacity)
        .timeout(args.timeout);
    match redis {
        None => serve_with(args, &pem, backend, Arc::new(builder.build())),
        Some(config) => {
            let store = TieredCache::new(builder, config).map_err(|e| format!("--redis: {e}"))?;
            serve_with(args, &pem, backend, Arc::new(store))
        }
    }
}

fn serve_with<S: Store>(
    args: &Args,
    pem: &Pem,
    backend: Option<SocketAddr>,
    store: Arc<S>,
) -> Result<(), String> {
    match args.tls {
        TlsKind::Rustls => serve(args, backend, store.clone(), RustlsTls::new(pem, store)?),
        TlsKind::Openssl => serve(args, backend, store.clone(), OpensslTls::new(pem, store)?),
    }
}

// ---------------------------------------------------------------------------
// The store: a plain cache or a tiered one, with what the statistics need.

/// A [`SessionStore`] the proxy can also flush and report on.
trait Store: SessionStore<Vec<u8>> + 'static {
    /// The local cache (its length and statistics).
    fn cache(&self) -> &SessionCache<Vec<u8>>;
    /// The Redis tier's counters, if there is one.
    fn tier(&self) -> Option<TierStats>;
    /// Removes the expired sessions (OpenSSL's `SSL_CTX_flush_sessions`).
    fn flush_expired(&self);
}

impl Store for SessionCache<Vec<u8>> {
    fn cache(&self) -> &SessionCache<Vec<u8>> {
        self
    }
    fn tier(&self) -> Option<TierStats> {
        None
    }
    fn flush_expired(&self) {
        SessionCache::flush(self, SessionCache::now(self));
    }
}

impl Store for TieredCache<Vec<u8>> {
    fn cache(&self) -> &SessionCache<Vec<u8>> {
        self.local()
    }
    fn tier(&self) -> Option<TierStats> {
        Some(self.tier_stats())
    }
    fn flush_expired(&self) {
        TieredCache::flush(self, self.local().now());
    }
}

/// Handshake counters, shared by the connection threads.
#[derive(Default)]
struct Counters {
    full: AtomicU64,
    resumed: AtomicU64,
    errors: AtomicU64,
}

fn stats_line<S: Store>(store: &S, c: &Counters) -> String {
    // Relaxed: independent event counts, read for display only.
    let full = c.full.load(Ordering::Relaxed);
    let resumed = c.resumed.load(Ordering::Relaxed);
    let errors = c.errors.load(Ordering::Relaxed);
    let total = full + resumed;
    let pct = if total == 0 {
        0.0
    } else {
        100.0 * resumed as f64 / total as f64
    };
    let s = store.cache().stats();
    let mut line = format!(
        "handshakes={total} full={full} resumed={resumed} ({pct:.1}%) errors={errors} \
         | cache len={} hits={} misses={} timeouts={}",
        store.cache().len(),
        s.hits,
        s.misses,
        s.timeouts
    );
    if let Some(t) = store.tier() {
        let _ = write!(
            line,
            " | redis writes={} reads={} read_hits={} deletes={} errors={} skipped={} invalidations={}",
            t.writes, t.reads, t.read_hits, t.deletes, t.errors, t.skipped, t.invalidations
        );
    }
    line
}

// ---------------------------------------------------------------------------
// TLS: a handshake, then a connection driven by hand.

/// A TLS library configured with the store.
trait Tls: Send + Sync + 'static {
    type Conn: TlsConn;
    const NAME: &'static str;
    /// The server handshake over `tcp` (blocking, bounded by its timeouts):
    /// the connection and whether it resumed a session.
    fn handshake(&self, tcp: TcpStream) -> Result<(Self::Conn, bool), String>;
}

/// A server connection after its handshake. Reading the client's socket is
/// left to the caller, so that one thread can block on the client while
/// another encrypts what the backend sends, each taking the connection only
/// for a moment (neither library supports a read and a write at once).
trait TlsConn: Send + 'static {
    /// Decrypts `ciphertext` read from the client, appending the plaintext
    /// to `out`; `Ok(false)` once the client has sent close_notify.
    fn decrypt(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> io::Result<bool>;
    /// Encrypts `plaintext` and writes it to the client.
    fn send(&mut self, plaintext: &[u8]) -> io::Result<()>;
    /// Sends close_notify (errors ignored).
    fn close(&mut self);
}

// --- rustls

struct RustlsTls(Arc<ServerConfig>);

impl RustlsTls {
    fn new<S: Store>(pem: &Pem, store: Arc<S>) -> Result<Self, String> {
        let certs = CertificateDer::pem_slice_iter(&pem.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", pem.cert_name))?;
        let key = PrivateKeyDer::from_pem_slice(&pem.key)
            .map_err(|e| format!("{}: {e}", pem.key_name))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
            .map_err(|e| format!("rustls configuration: {e}"))?;
        // No ticketer: TLS 1.2 resumes by session id, TLS 1.3 by stateful
        // tickets, both in the store.
        config.session_storage = Arc::new(sesscache::rustls::ServerSessionStore::new(store));
        Ok(RustlsTls(Arc::new(config)))
    }
}

struct RustlsConn {
    conn: ServerConnection,
    tcp: TcpStream,
}

impl RustlsConn {
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.tcp)?;
        }
        Ok(())
    }
}

impl Tls for RustlsTls {
    type Conn = RustlsConn;
    const NAME: &'static str = "rustls";

    fn handshake(&self, mut tcp: TcpStream) -> Result<(RustlsConn, bool), String> {
        let mut conn = ServerConnection::new(self.0.clone()).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
        let mut c = RustlsConn { conn, tcp };
        c.flush_tls().map_err(|e| e.to_string())?; // TLS 1.3 tickets
        Ok((c, resumed))
    }
}

impl TlsConn for RustlsConn {
    fn decrypt(&mut self, mut ciphertext: &[u8], out: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            if !ciphertext.is_empty() && self.conn.read_tls(&mut ciphertext)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let state = match self.conn.process_new_packets() {
                Ok(state) => state,
                Err(e) => {
                    let _ = self.flush_tls(); // the alert, if any
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            };
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let start = out.len();
                out.resize(start + n, 0);
                self.conn.reader().read_exact(&mut out[start..])?;
            }
            self.flush_tls()?;
            if ciphertext.is_empty() {
                return Ok(!state.peer_has_closed());
            }
        }
    }

    fn send(&mut self, mut plaintext: &[u8]) -> io::Result<()> {
        while !plaintext.is_empty() {
            let n = self.conn.writer().write(plaintext)?;
            self.flush_tls()?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            plaintext = &plaintext[n..];
        }
        Ok(())
    }

    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_tls();
    }
}

// --- OpenSSL

struct OpensslTls(SslAcceptor);

impl OpensslTls {
    fn new<S: Store>(pem: &Pem, store: Arc<S>) -> Result<Self, String> {
        use openssl::pkey::PKey;
        use openssl::x509::X509;
        let err = |e: openssl::error::ErrorStack| format!("OpenSSL configuration: {e}");
        let mut chain = X509::stack_from_pem(&pem.cert)
            .map_err(|e| format!("{}: {e}", pem.cert_name))?
            .into_iter();
        let leaf = chain
            .next()
            .ok_or_else(|| format!("{}: no certificate", pem.cert_name))?;
        let key =
            PKey::private_key_from_pem(&pem.key).map_err(|e| format!("{}: {e}", pem.key_name))?;
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(err)?;
        b.set_certificate(&leaf).map_err(err)?;
        for c in chain {
            b.add_extra_chain_cert(c).map_err(err)?;
        }
        b.set_private_key(&key).map_err(err)?;
        b.check_private_key().map_err(err)?;
        b.set_session_id_context(b"sesscache-proxy").map_err(err)?;
        // No stateless tickets: TLS 1.3 gets stateful ones, kept in the store.
        b.set_options(SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION);
        sesscache::openssl::install(&mut b, store);
        Ok(OpensslTls(b.build()))
    }
}

/// The OpenSSL connection's transport: the client socket during the
/// handshake, then, for reads, the bytes handed to [`TlsConn::decrypt`]
/// (`WouldBlock` when they run out, which OpenSSL reports as `WANT_READ`).
/// Writes always go to the socket.
#[derive(Debug)]
struct Duplex {
    tcp: TcpStream,
    handshaken: bool,
    inbox: Vec<u8>,
    pos: usize,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.handshaken {
            return self.tcp.read(buf);
        }
        if self.pos == self.inbox.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.inbox.len() - self.pos);
        buf[..n].copy_from_slice(&self.inbox[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.inbox.len() {
            self.inbox.clear();
            self.pos = 0;
        }
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl Tls for OpensslTls {
    type Conn = SslStream<Duplex>;
    const NAME: &'static str = "openssl";

    fn handshake(&self, tcp: TcpStream) -> Result<(SslStream<Duplex>, bool), String> {
        let duplex = Duplex {
            tcp,
            handshaken: false,
            inbox: Vec::new(),
            pos: 0,
        };
        let mut stream = self.0.accept(duplex).map_err(|e| e.to_string())?;
        stream.get_mut().handshaken = true;
        let resumed = stream.ssl().session_reused();
        Ok((stream, resumed))
    }
}

impl TlsConn for SslStream<Duplex> {
    fn decrypt(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> io::Result<bool> {
        self.get_mut().inbox.extend_from_slice(ciphertext);
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.ssl_read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(true),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => return Ok(false),
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }

    fn send(&mut self, mut plaintext: &[u8]) -> io::Result<()> {
        while !plaintext.is_empty() {
            let n = self
                .ssl_write(plaintext)
                .map_err(|e| io::Error::other(e.to_string()))?;
            plaintext = &plaintext[n..];
        }
        Ok(())
    }

    fn close(&mut self) {
        let _ = self.shutdown();
    }
}

// ---------------------------------------------------------------------------
// The server.

fn serve<S: Store, T: Tls>(
    args: &Args,
    backend: Option<SocketAddr>,
    store: Arc<S>,
    tls: T,
) -> Result<(), String> {
    let listener = TcpListener::bind(&args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "listening on {addr} (tls={}, store={}, {})",
        T::NAME,
        if store.tier().is_some() {
            "local cache + redis"
        } else {
            "local cache"
        },
        match backend {
            Some(b) => format!("backend={b}"),
            None => "no backend: HTTP hello".to_string(),
        }
    );

    let tls = Arc::new(tls);
    let counters = Arc::new(Counters::default());
    {
        let (store, counters) = (store.clone(), counters.clone());
        let every = Duration::from_secs(args.stats_every);
        thread::Builder::new()
            .name("stats".into())
            .spawn(move || stats_loop(&*store, &counters, every))
            .map_err(|e| format!("cannot start the stats thread: {e}"))?;
    }
    stop_on_signals();

    let mut threads: Vec<thread::JoinHandle<()>> = Vec::new();
    let mut accepted = 0u64;
    for stream in listener.incoming() {
        let tcp = match stream {
            Ok(tcp) => tcp,
            Err(e) => {
                eprintln!("accept: {e}");
                thread::sleep(Duration::from_millis(50)); // e.g. out of file descriptors
                continue;
            }
        };
        accepted += 1;
        threads.retain(|t| !t.is_finished());
        let (tls, counters) = (tls.clone(), counters.clone());
        match thread::Builder::new()
            .name("conn".into())
            .spawn(move || connection(&*tls, tcp, backend, &counters))
        {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("cannot start a connection thread: {e}"),
        }
        if Some(accepted) == args.max_conns {
            break;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    println!("final: {}", stats_line(&*store, &counters));
    Ok(())
}

/// Set by SIGINT and SIGTERM; the stats thread then prints the final line
/// and exits.
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

fn stop_on_signals() {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, STOP.clone()) {
            eprintln!("cannot watch signal {sig}: {e}");
        }
    }
}

fn stats_loop<S: Store>(store: &S, counters: &Counters, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        thread::sleep(Duration::from_millis(100));
        if STOP.load(Ordering::SeqCst) {
            println!("final: {}", stats_line(store, counters));
            std::process::exit(0);
        }
        if !every.is_zero() && Instant::now() >= next {
            next += every;
            store.flush_expired();
            println!("stats: {}", stats_line(store, counters));
        }
    }
}

/// One client, on its own thread: handshake, then proxy or answer.
fn connection<T: Tls>(tls: &T, tcp: TcpStream, backend: Option<SocketAddr>, counters: &Counters) {
    let peer = tcp
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let setup = tcp
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| tcp.try_clone());
    let writer = match setup {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{peer}: {e}");
            return;
        }
    };
    let (conn, resumed) = match tls.handshake(writer) {
        Ok(c) => c,
        Err(e) => {
            // Relaxed: an event count.
            counters.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{peer}: handshake failed: {e}");
            return;
        }
    };
    // Relaxed: event counts.
    if resumed {
        counters.resumed.fetch_add(1, Ordering::Relaxed);
    } else {
        counters.full.fetch_add(1, Ordering::Relaxed);
    }
    // Errors after the handshake are the peers' business (a client that
    // closes at once, a backend that resets): not worth a line each.
    let _ = match backend {
        Some(addr) => proxy(conn, tcp, addr),
        None => hello(conn, tcp, resumed),
    };
}

/// Answers with a fixed HTTP/1.0 response, then closes.
fn hello<C: TlsConn>(mut conn: C, mut tcp: TcpStream, resumed: bool) -> io::Result<()> {
    let body = format!(
        "hello from sesscache proxy\nresumed: {}\n",
        if resumed { "yes" } else { "no" }
    );
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    conn.send(response.as_bytes())?;
    conn.close();
    tcp.shutdown(Shutdown::Write)?;
    // Read until the client closes (bounded): closing a socket with unread
    // bytes (the request) resets the connection, maybe before the client
    // has read the response.
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    tcp.set_read_timeout(Some(DRAIN_TIMEOUT))?;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && matches!(tcp.read(&mut buf), Ok(n) if n > 0) {}
    Ok(())
}

fn lock<C>(m: &Mutex<C>) -> MutexGuard<'_, C> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forwards plaintext both ways between the client and `addr`: this thread
/// carries client → backend, a second one backend → client.
fn proxy<C: TlsConn>(mut conn: C, mut client: TcpStream, addr: SocketAddr) -> io::Result<()> {
    let mut backend = match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("backend {addr}: {e}");
            conn.close();
            return Err(e);
        }
    };
    client.set_read_timeout(None)?; // idle connections may stay open
    backend.set_write_timeout(Some(IO_TIMEOUT))?;

    // Plaintext that came with the end of the handshake.
    let mut plain = Vec::new();
    let mut open = conn.decrypt(&[], &mut plain)?;
    backend.write_all(&plain)?;

    let conn = Arc::new(Mutex::new(conn));
    let down = {
        let (conn, mut from, to) = (conn.clone(), backend.try_clone()?, client.try_clone()?);
        thread::Builder::new()
            .name("conn-down".into())
            .spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) if lock(&conn).send(&buf[..n]).is_ok() => {}
                        _ => {
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                }
                lock(&conn).close();
                let _ = to.shutdown(Shutdown::Write);
            })?
    };

    let mut buf = [0u8; 16 * 1024];
    let up: io::Result<()> = (|| {
        while open {
            let n = client.read(&mut buf)?;
            if n == 0 {
                break;
            }
            plain.clear();
            open = lock(&conn).decrypt(&buf[..n], &mut plain)?;
            backend.write_all(&plain)?;
        }
        Ok(())
    })();
    match up {
        Ok(()) => {
            let _ = backend.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = backend.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
        }
    }
    let _ = down.join();
    up
}

// ---------------------------------------------------------------------------
// Certificates.

struct Pem {
    cert: Vec<u8>,
    key: Vec<u8>,
    cert_name: String,
    key_name: String,
}

fn load_or_generate_pem(args: &Args) -> Result<Pem, String> {
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let read =
            |p: &PathBuf| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        return Ok(Pem {
            cert: read(cert)?,
            key: read(key)?,
            cert_name: cert.display().to_string(),
            key_name: key.display().to_string(),
        });
    }
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a certificate: {e}"))?;
    println!("generated a self-signed certificate for localhost and 127.0.0.1 (curl -k)");
    Ok(Pem {
        cert: ck.cert.pem().into_bytes(),
        key: ck.signing_key.serialize_pem().into_bytes(),
        cert_name: "generated certificate".into(),
        key_name: "generated key".into(),
    })
}
