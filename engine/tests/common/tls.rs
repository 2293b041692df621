//! Real rustls handshakes in memory, for the end-to-end tests: a
//! self-signed certificate (rcgen), the ring provider, and a pump that
//! moves bytes between a client and a server connection until both are
//! done.
#![allow(dead_code, unreachable_pub)]

use std::error::Error;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::StoresServerSessions;
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};

pub type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

/// The name in the certificate and the client's SNI.
pub const SERVER_NAME: &str = "localhost";
/// More flights than any handshake here needs: a bound on the pump.
const MAX_FLIGHTS: usize = 16;

/// The server's certificate and key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

/// A fresh self-signed certificate for [`SERVER_NAME`].
pub fn identity() -> Result<Identity> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])?;
    Ok(Identity {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(signing_key.serialize_der()),
    })
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server speaking only `version` whose session storage is `storage`; it
/// has no ticketer (TLS 1.3 tickets are then stateful, kept in the storage)
/// and sends one TLS 1.3 ticket per handshake.
pub fn server_config(
    id: &Identity,
    version: &'static SupportedProtocolVersion,
    storage: Arc<dyn StoresServerSessions>,
) -> Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])?
        .with_no_client_auth()
        .with_single_cert(
            vec![id.cert.clone()],
            PrivateKeyDer::Pkcs8(id.key.clone_key()),
        )?;
    config.session_storage = storage;
    config.send_tls13_tickets = 1;
    assert!(
        !config.ticketer.enabled(),
        "no stateless tickets: every resumption must go through the storage"
    );
    Ok(Arc::new(config))
}

/// A client speaking only `version` that trusts `id`, with rustls's default
/// in-memory client session cache (one per config).
pub fn client_config(
    id: &Identity,
    version: &'static SupportedProtocolVersion,
) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.add(id.cert.clone())?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What one completed handshake did.
#[derive(Debug)]
pub struct Handshake {
    /// Full or resumed, as both ends saw it.
    pub kind: HandshakeKind,
    /// The client's first flight, its ClientHello, as sent on the wire.
    pub client_hello: Vec<u8>,
}

/// Everything `conn` has to send.
pub fn drain<D>(conn: &mut ConnectionCommon<D>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    Ok(out)
}

/// Hands `bytes` to `conn` and has it process them.
pub fn feed<D>(conn: &mut ConnectionCommon<D>, mut bytes: &[u8]) -> Result {
    while !bytes.is_empty() {
        conn.read_tls(&mut bytes)?;
        conn.process_new_packets()?;
    }
    Ok(())
}

/// A complete handshake between a new client and a new server connection,
/// continued until neither has anything left to send (so TLS 1.3 tickets
/// reach the client). Both ends must agree on its kind.
pub fn handshake(
    client_cfg: &Arc<ClientConfig>,
    server_cfg: &Arc<ServerConfig>,
) -> Result<Handshake> {
    let mut client = ClientConnection::new(client_cfg.clone(), ServerName::try_from(SERVER_NAME)?)?;
    let mut server = ServerConnection::new(server_cfg.clone())?;
    let client_hello = drain(&mut client)?;
    feed(&mut server, &client_hello)?;
    for _ in 0..MAX_FLIGHTS {
        let to_client = drain(&mut server)?;
        feed(&mut client, &to_client)?;
        let to_server = drain(&mut client)?;
        feed(&mut server, &to_server)?;
        if to_client.is_empty() && to_server.is_empty() {
            break;
        }
    }
    if client.is_handshaking() || server.is_handshaking() {
        return Err("the handshake did not complete".into());
    }
    match (client.handshake_kind(), server.handshake_kind()) {
        (Some(c), Some(s)) if c == s => Ok(Handshake {
            kind: s,
            client_hello,
        }),
        (c, s) => Err(format!("client saw {c:?}, server saw {s:?}").into()),
    }
}
