//! zkbench's TLS client: `--tls` wraps every connection (load, setup, probes) in TLS from
//! PEM files, `--ca` the roots that verify the server, `--cert` and `--key` the client
//! certificate Java's `ssl.clientAuth=need` (its default) asks for.
//!
//! Each connection is a full handshake: session resumption is off, so `handshakes` measures
//! new TLS sessions, as a fresh client process (zkCli, kazoo) makes them.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connection, plaintext or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}
pub type Stream = Box<dyn Io>;

/// Set once from the command line, before any connection.
static CLIENT: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// `--tls`: build the client configuration from the PEM files.
pub fn configure(ca: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
        let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificate", ca.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&read(cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--cert and --key go together".to_string()),
    };
    config.resumption = rustls::client::Resumption::disabled();
    CLIENT
        .set(Arc::new(config))
        .map_err(|_| "TLS configured twice".to_string())
}

/// Connect to `addr` (HOST:PORT), in TLS when configured; the server's certificate must name
/// HOST (a DNS name or an IP address).
pub async fn connect(addr: &str) -> io::Result<Stream> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let Some(config) = CLIENT.get() else {
        return Ok(Box::new(tcp));
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await?;
    Ok(Box::new(tls))
}
