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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_certs::{ca, leaf, Dir};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn cfg(d: &Dir, key: &str, ssl: bool, unify: bool, v39: bool) -> Config {
        let mut c = crate::config::parse("dataDir=/tmp/x\nclientPort=1\n")
            .unwrap()
            .0;
        c.ssl_quorum.key_store_location = Some(d.path(&format!("{key}.pem")));
        c.ssl_quorum.trust_store_location = Some(d.path("a-ca.pem"));
        c.ssl_quorum_enabled = ssl;
        c.quorum_port_unification = unify;
        c.compat_version = if v39 {
            CompatVersion::V3_9
        } else {
            CompatVersion::V3_8
        };
        c
    }

    /// Dials `acceptor` with `dialler` over loopback, `hello` and back; `Ok` when both upgrades
    /// succeed and the bytes go through.
    async fn link(dialler: &SharedTransport, acceptor: &SharedTransport) -> Result<(), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = acceptor.clone();
        let server = tokio::spawn(async move {
            let (tcp, peer) = listener.accept().await.unwrap();
            let mut s = acceptor
                .accept(tcp, peer)
                .await
                .map_err(|e| e.to_string())?;
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
            s.write_all(&b).await.map_err(|e| e.to_string())?;
            s.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        });
        let client = async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut s = dialler
                .connect(tcp, addr)
                .await
                .map_err(|e| e.to_string())?;
            s.write_all(b"hello").await.map_err(|e| e.to_string())?;
            s.flush().await.map_err(|e| e.to_string())?;
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(b == *b"hello")
        };
        let c = tokio::time::timeout(Duration::from_secs(10), client).await;
        let s = tokio::time::timeout(Duration::from_secs(10), server).await;
        match (c, s) {
            (Ok(Ok(true)), Ok(Ok(Ok(())))) => Ok(()),
            (c, s) => Err(format!("{c:?} / {s:?}")),
        }
    }

    #[tokio::test]
    async fn tls_only_unified_and_address_checks() {
        let d = Dir::new("quorum");
        ca(&d, "a");
        leaf(&d, "a", "node", "/CN=node", "IP:127.0.0.1", 2);
        leaf(&d, "a", "far", "/CN=far", "IP:10.9.9.9", 2);
        let t = |key, ssl, unify, v39| quorum_transport(&cfg(&d, key, ssl, unify, v39)).unwrap();
        let plain = transport::plain();
        let tls_only = t("node", true, false, false);
        let unified = t("node", false, true, false);
        assert!(link(&tls_only, &tls_only).await.is_ok());
        // sslQuorum alone refuses plaintext; portUnification takes both.
        let refused = link(&plain, &tls_only).await.unwrap_err();
        assert!(
            refused.contains("Blocked insecure connection attempt"),
            "{refused}"
        );
        assert!(link(&plain, &unified).await.is_ok());
        assert!(link(&tls_only, &unified).await.is_ok());
        // 3.8: a certificate for another address is refused, whichever side shows it.
        let far = t("far", true, false, false);
        assert!(link(&far, &tls_only).await.is_err());
        assert!(link(&tls_only, &far).await.is_err());
        // 3.9's default FIPS mode checks no host names on the quorum.
        let far39 = t("far", true, false, true);
        let node39 = t("node", true, false, true);
        assert!(link(&far39, &node39).await.is_ok());
        assert!(link(&node39, &far39).await.is_ok());
        // Without a key store nothing starts.
        let mut none = cfg(&d, "node", true, false, false);
        none.ssl_quorum.key_store_location = None;
        assert!(quorum_transport(&none).is_err());
        // Neither key: the plaintext transport, nothing loaded.
        let mut off = cfg(&d, "node", false, false, false);
        off.ssl_quorum.key_store_location = Some(d.path("missing.pem"));
        assert!(quorum_transport(&off).is_ok());
    }
}
