//! TLS on the quorum ports (election and ZAB), as Java's `QuorumX509Util`,
//! `UnifiedServerSocket` and `QuorumCnxManager` / `Learner` do it, given to the quorum crate
//! as a [`Transport`].
//!
//! | `sslQuorum` | `portUnification` | we dial | we accept |
//! | --- | --- | --- | --- |
//! | false | false | plaintext | plaintext (no detection at all) |
//! | false | true | plaintext | TLS and plaintext |
//! | true | false | TLS | TLS only ("Blocked insecure connection attempt") |
//! | true | true | TLS | TLS and plaintext |
//!
//! An accepted connection's first five bytes tell TLS from plaintext (Netty's
//! `SslHandler.isEncrypted`, within `ssl.quorum.handshakeDetectionTimeoutMillis`; silence
//! counts as plaintext, as in Java). The TLS settings are `ssl.quorum.*`; with
//! `ssl.quorum.hostnameVerification` (default true) both sides check the other's
//! certificate against its address: the dialler the address it dialled, the acceptor the
//! address the connection came from (Java's `QuorumX509Util.shouldVerifyClientHostname` is
//! true). Java 3.9 in FIPS mode (`zookeeper.fips-mode`, default true) hands certificates to
//! the JDK's trust manager instead of its `ZKTrustManager` and so checks no host names on
//! the quorum; in 3.9 mode we do the same unless `fips-mode=false`.
//! `sslQuorumReloadCertFiles`: each new handshake uses the store files' current contents.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{info, warn};
use zk_quorum::transport::{
    self, looks_like_tls, peek_prefix, PeerStream, SharedTransport, Transport, Upgrade,
};

use crate::config::{CompatVersion, Config};
use crate::tls::config::{client_config, server_config, verify_peer_address, Defaults, Reloading};

/// The quorum transport `cfg` asks for: plaintext unless `sslQuorum` or
/// `portUnification`. `Err` when the `ssl.quorum.*` stores cannot be used (Java would start
/// and then fail every quorum handshake; we refuse to start).
pub fn quorum_transport(cfg: &Config) -> Result<SharedTransport, String> {
    if !cfg.ssl_quorum_enabled && !cfg.quorum_port_unification {
        return Ok(transport::plain());
    }
    let defaults = match cfg.compat_version {
        CompatVersion::V3_8 => Defaults::V3_8,
        _ => Defaults::V3_9,
    };
    let mut s = cfg.ssl_quorum.clone();
    // Java 3.9 in FIPS mode (its default) uses the JDK's trust manager on the quorum, which
    // checks no host names: ssl.quorum.hostnameVerification then has no effect.
    let fips = defaults == Defaults::V3_9 && cfg.fips_mode.unwrap_or(true);
    if fips {
        s.hostname_verification = false;
    }
    let s = &s;
    let reload = cfg.ssl_quorum_reload_cert_files;
    let server = Reloading::new(s, reload, move |s| server_config(s, defaults))
        .map_err(|e| format!("ssl.quorum: {e}"))?;
    let client = Reloading::new(s, reload, move |s| client_config(s, defaults))
        .map_err(|e| format!("ssl.quorum: {e}"))?;
    info!(
        ssl_quorum = cfg.ssl_quorum_enabled,
        port_unification = cfg.quorum_port_unification,
        "quorum TLS configured"
    );
    Ok(Arc::new(QuorumTls {
        server,
        client,
        dial_tls: cfg.ssl_quorum_enabled,
        accept_plaintext: cfg.quorum_port_unification,
        verify_peer_address: s.hostname_verification,
        detect_timeout: Duration::from_millis(u64::from(s.handshake_detection_timeout_ms)),
    }))
}

struct QuorumTls {
    server: Reloading<ServerConfig>,
    client: Reloading<ClientConfig>,
    /// `sslQuorum`.
    dial_tls: bool,
    /// `portUnification`.
    accept_plaintext: bool,
    /// `ssl.quorum.hostnameVerification`.
    verify_peer_address: bool,
    detect_timeout: Duration,
}

fn io_error(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// Java's names: `TLSv1.3`, `TLS_AES_128_GCM_SHA256`.
fn describe(conn: &rustls::CommonState) -> (String, String) {
    let protocol = conn
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."))
        .unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()).replace("TLS13_", "TLS_"))
        .unwrap_or_default();
    (protocol, suite)
}

impl Transport for QuorumTls {
    fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> Upgrade {
        let config = self.server.current();
        let accept_plaintext = self.accept_plaintext;
        let verify = self.verify_peer_address;
        let detect_timeout = self.detect_timeout;
        Box::pin(async move {
            let head = peek_prefix(&tcp, 5, detect_timeout).await;
            if !looks_like_tls(&head) {
                if head.is_empty() {
                    warn!(
                        "Socket mode detection timed out after {} ms, assuming PLAINTEXT",
                        detect_timeout.as_millis()
                    );
                }
                if accept_plaintext {
                    info!("Accepted plaintext connection from {peer}");
                    return Ok(PeerStream::Plain(tcp));
                }
                return Err(io_error("Blocked insecure connection attempt".into()));
            }
            let tls = TlsAcceptor::from(config).accept(tcp).await?;
            let (_, conn) = tls.get_ref();
            if verify {
                let cert = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .ok_or_else(|| io_error(format!("no certificate from {peer}")))?;
                verify_peer_address(cert, peer.ip()).map_err(io_error)?;
            }
            let (protocol, suite) = describe(conn);
            info!("Accepted TLS connection from {peer} - {protocol} - {suite}");
            Ok(PeerStream::Secure(Box::new(tls)))
        })
    }

    fn connect(&self, tcp: TcpStream, peer: SocketAddr) -> Upgrade {
        if !self.dial_tls {
            return Box::pin(std::future::ready(Ok(PeerStream::Plain(tcp))));
        }
        let connector = TlsConnector::from(self.client.current());
        Box::pin(async move {
            let name = ServerName::IpAddress(peer.ip().into());
            let tls = connector.connect(name, tcp).await?;
            let (_, conn) = tls.get_ref();
            let (protocol, suite) = describe(conn);
            info!("SSL handshake complete with {peer} - {protocol} - {suite}");
            Ok(PeerStream::Secure(Box::new(tls)))
        })
    }
}
