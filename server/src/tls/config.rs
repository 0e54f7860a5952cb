//! rustls configurations built from one `X509Util`'s keys ([`TlsSettings`]), for both sides:
//! [`server_config`] for a port that accepts TLS (the secure client port, the quorum ports)
//! and [`client_config`] for connecting (a learner to its leader, election connections).
//! [`Reloading`] rebuilds either when its store files change (Java's `client.certReload` and
//! `sslQuorumReloadCertFiles`): new handshakes use the new files, established connections
//! keep what they negotiated.
//!
//! Mirrors Java's `X509Util`, `SSLContextAndOptions`, `ClientX509Util` and `ZKTrustManager`:
//! - protocols: `enabledProtocols`, else `protocol`, else the generation's default: 3.8.0's
//!   context is `TLSv1.2` (the JDK then enables TLSv1.2 only); 3.9.3's default protocol is
//!   `TLSv1.3` and its Netty contexts enable just that one (a TLSv1.2-only peer fails).
//!   `TLS` (any version) enables both. Names rustls lacks (`TLSv1`, `TLSv1.1`) are warned
//!   about and dropped; none left is an error at startup.
//! - cipher suites: `ciphersuites` in Java's (IANA) names; unset: Java's default list
//!   (ECDHE GCM suites, then CBC ones, then the TLSv1.3 ones) minus the CBC suites rustls
//!   does not implement. Unknown names are warned about one by one; none left is an error.
//! - trust: the trust store's certificates are the trust anchors; without a trust store Java
//!   uses the JDK's `cacerts`, which on Debian is built from the system's CA bundle, so we read
//!   that bundle (`/etc/ssl/certs/ca-certificates.crt`).
//! - `clientAuth`: need (default) / want / none for the certificate a server asks for.
//! - `hostnameVerification` (default true): a client checks the server's certificate against
//!   the name or address it connected to (rustls: subjectAltName only, no fallback to the
//!   CN as Java's `ZKHostnameVerifier` has). A server checks the client's certificate
//!   against the client's address only where Java's `X509Util.shouldVerifyClientHostname`
//!   says so (the quorum side, not the client port): [`verify_peer_address`], after the
//!   handshake, since rustls does not hand the peer's address to its verifier.
//! - `crl` / `ocsp`: Java turns on the JDK's revocation checking, which fetches CRLs from the
//!   certificates' distribution points and asks OCSP responders over the network. rustls does
//!   neither, so either key set to true is refused at startup: serving a revoked certificate
//!   that the operator asked to be refused would be worse than not starting.

use super::keystore::{load_key_store, load_trust_store, store_password, KeyMaterial, StoreType};
use super::settings::{ClientAuth, TlsSettings};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tracing::{error, info, warn};

/// Which Java generation's defaults apply (`compat.version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    /// 3.8.0: default protocol TLSv1.2.
    V3_8,
    /// 3.9.3: default protocol TLSv1.3, and only it unless `enabledProtocols` says more.
    V3_9,
}

/// Where Debian's JDK takes its default trust anchors from (`cacerts` is generated from it).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Java's default cipher suites (`X509Util.DEFAULT_CIPHERS_JAVA9`), in its order.
const JAVA_DEFAULT_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// The rustls configuration of a port that accepts TLS. `key_store` is required (Java:
/// "Keystore is required for SSL server").
pub fn server_config(s: &TlsSettings, defaults: Defaults) -> Result<Arc<ServerConfig>, String> {
    refuse_unsupported(s)?;
    let provider = provider(s)?;
    let versions = protocol_versions(s, defaults)?;
    let KeyMaterial { chain, key } = key_material(s)?.ok_or_else(|| {
        "Keystore is required for SSL server: ssl.keyStore.location (or ssl.quorum.keyStore.location)"
            .to_string()
    })?;
    let verifier = match s.client_auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        auth => {
            let roots = Arc::new(trust_anchors(s)?);
            let b = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let b = if auth == ClientAuth::Want {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build()
                .map_err(|e| format!("client certificate verifier: {e}"))?
        }
    };
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS protocols and cipher suites: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("key store: {e}"))?;
    // Java's server picks from its own cipher suite order.
    cfg.ignore_client_order = true;
    Ok(Arc::new(cfg))
}

/// A verifier of client certificates against the trust store alone (Java's
/// X509AuthenticationProvider keeps the trust manager it was built with: the client port
/// re-checks a certificate with it after the handshake).
pub fn trust_store_verifier(s: &TlsSettings) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let provider = provider(s)?;
    let roots = Arc::new(trust_anchors(s)?);
    WebPkiClientVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| format!("client certificate verifier: {e}"))
}

/// The rustls configuration for connecting to a TLS port: presents the key store's
/// certificate when there is one, verifies the server against the trust store and, with
/// `hostnameVerification`, against the name it was reached by.
pub fn client_config(s: &TlsSettings, defaults: Defaults) -> Result<Arc<ClientConfig>, String> {
    refuse_unsupported(s)?;
    let provider = provider(s)?;
    let versions = protocol_versions(s, defaults)?;
    let roots = Arc::new(trust_anchors(s)?);
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("server certificate verifier: {e}"))?;
    let verifier = Arc::new(ServerVerifier {
        inner,
        check_name: s.hostname_verification,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS protocols and cipher suites: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let cfg = match key_material(s)? {
        Some(KeyMaterial { chain, key }) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("key store: {e}"))?,
        None => {
            warn!("ssl.keyStore.location not specified");
            builder.with_no_client_auth()
        }
    };
    Ok(Arc::new(cfg))
}

/// Java's client hostname verification (`ZKTrustManager.performHostVerification` on the
/// server side): the peer's certificate must name the address it connected from. (Java then
/// tries the reverse-DNS name; we accept the address only.)
pub fn verify_peer_address(end_entity: &CertificateDer<'_>, ip: IpAddr) -> Result<(), String> {
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| format!("{e:?}"))?;
    let name = ServerName::IpAddress(ip.into());
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("Failed to verify host address: {ip}: {e:?}"))
}

fn refuse_unsupported(s: &TlsSettings) -> Result<(), String> {
    if s.crl || s.ocsp {
        return Err(
            "ssl.crl / ssl.ocsp: certificate revocation checking (CRL distribution points, OCSP) \
             is not supported by zkserver; set them to false"
                .to_string(),
        );
    }
    if let Some(class) = &s.context_supplier_class {
        return Err(format!(
            "Could not retrieve the SSLContext from supplier source '{class}': Java classes \
             cannot be loaded by zkserver"
        ));
    }
    Ok(())
}

/// ring, restricted to the cipher suites the keys ask for.
fn provider(s: &TlsSettings) -> Result<Arc<CryptoProvider>, String> {
    let mut p = ring::default_provider();
    p.cipher_suites = cipher_suites(s.cipher_suites.as_deref())?;
    Ok(Arc::new(p))
}

/// Java's suite names mapped onto ring's suites, in the order given.
fn cipher_suites(names: Option<&[String]>) -> Result<Vec<SupportedCipherSuite>, String> {
    let explicit = names.is_some();
    let names: Vec<&str> = match names {
        Some(n) => n.iter().map(String::as_str).collect(),
        None => JAVA_DEFAULT_SUITES.to_vec(),
    };
    let mut out = Vec::new();
    for name in names {
        match suite_by_java_name(name) {
            Some(s) if !out.contains(&s) => out.push(s),
            Some(_) => {}
            None if explicit => warn!("ssl.ciphersuites: {name} is not supported; skipped"),
            None => {}
        }
    }
    if out.is_empty() {
        return Err("ssl.ciphersuites: none of the cipher suites is supported".to_string());
    }
    Ok(out)
}

/// rustls names TLS 1.3 suites `TLS13_*`; Java (and IANA) `TLS_*`.
fn suite_by_java_name(name: &str) -> Option<SupportedCipherSuite> {
    let name = name.trim();
    ring::ALL_CIPHER_SUITES.iter().copied().find(|s| {
        let ours = s.suite().as_str().unwrap_or("");
        ours == name || ours.strip_prefix("TLS13_") == name.strip_prefix("TLS_")
    })
}

fn protocol_versions(
    s: &TlsSettings,
    defaults: Defaults,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let default = match defaults {
        Defaults::V3_8 => "TLSv1.2",
        Defaults::V3_9 => "TLSv1.3",
    };
    let names: Vec<&str> = match (&s.enabled_protocols, &s.protocol) {
        (Some(list), _) => list.iter().map(String::as_str).collect(),
        (None, Some(p)) => vec![p.as_str()],
        (None, None) => vec![default],
    };
    let mut out: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for name in names {
        let add: &[&'static SupportedProtocolVersion] = match name.trim() {
            "TLSv1.2" => &[&rustls::version::TLS12],
            "TLSv1.3" => &[&rustls::version::TLS13],
            "TLS" => &[&rustls::version::TLS13, &rustls::version::TLS12],
            other => {
                warn!("ssl protocol {other} is not supported (TLSv1.2 and TLSv1.3 are); skipped");
                &[]
            }
        };
        for v in add {
            if !out.iter().any(|o| o.version == v.version) {
                out.push(v);
            }
        }
    }
    if out.is_empty() {
        return Err("ssl.enabledProtocols: none of the protocols is supported".to_string());
    }
    Ok(out)
}

fn key_material(s: &TlsSettings) -> Result<Option<KeyMaterial>, String> {
    let Some(path) = &s.key_store_location else {
        return Ok(None);
    };
    let ty = StoreType::resolve(s.key_store_type.as_deref(), path)?;
    let password = password(&s.key_store_password, &s.key_store_password_path)?;
    load_key_store(path, password.as_deref(), ty)
        .map(Some)
        .map_err(|e| format!("Failed to create KeyManager: {e}"))
}

fn trust_anchors(s: &TlsSettings) -> Result<RootCertStore, String> {
    let certs = match &s.trust_store_location {
        Some(path) => {
            let ty = StoreType::resolve(s.trust_store_type.as_deref(), path)?;
            let password = password(&s.trust_store_password, &s.trust_store_password_path)?;
            load_trust_store(path, password.as_deref(), ty)
                .map_err(|e| format!("Failed to create TrustManager: {e}"))?
        }
        None => system_anchors()?,
    };
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if ignored > 0 {
        warn!("trust store: {ignored} certificate(s) could not be used as trust anchors");
    }
    if added == 0 {
        return Err("trust store: no usable trusted certificate".to_string());
    }
    Ok(roots)
}

fn system_anchors() -> Result<Vec<CertificateDer<'static>>, String> {
    for bundle in SYSTEM_CA_BUNDLES {
        let path = Path::new(bundle);
        if path.exists() {
            info!("ssl.trustStore.location not specified: trusting the system CAs of {bundle}");
            return load_trust_store(path, None, StoreType::Pem);
        }
    }
    Err("ssl.trustStore.location not specified and no system CA bundle found".to_string())
}

/// Java's `getPasswordFromConfigPropertyOrFile`: the file, when named, wins, and loses
/// exactly one trailing newline (`SecretUtils.readSecret`, see [`store_password`]).
fn password(value: &Option<String>, path: &Option<PathBuf>) -> Result<Option<String>, String> {
    store_password(value.as_deref(), path.as_deref())
}

/// The trust store's chain check, and the name check only with `hostnameVerification`.
#[derive(Debug)]
struct ServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last: a name error means the chain itself was fine.
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A configuration rebuilt from its settings when the key or trust store file changes
/// (modification time or length), checked at each [`Reloading::current`] call, that is at
/// each new handshake. A rebuild that fails is logged and the previous configuration kept.
pub struct Reloading<C> {
    build: Box<dyn Fn() -> Result<Arc<C>, String> + Send + Sync>,
    files: Vec<PathBuf>,
    reload: bool,
    state: Mutex<(Vec<Stamp>, Arc<C>)>,
}

impl<C> Reloading<C> {
    /// Build once now; with `reload`, again whenever a store file changes.
    pub fn new(
        s: &TlsSettings,
        reload: bool,
        build: impl Fn(&TlsSettings) -> Result<Arc<C>, String> + Send + Sync + 'static,
    ) -> Result<Reloading<C>, String> {
        let files: Vec<PathBuf> = [&s.key_store_location, &s.trust_store_location]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let stamps = stamps(&files);
        let first = build(s)?;
        let s = s.clone();
        Ok(Reloading {
            build: Box::new(move || build(&s)),
            files,
            reload,
            state: Mutex::new((stamps, first)),
        })
    }

    /// The configuration for a new handshake.
    pub fn current(&self) -> Arc<C> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.reload {
            let now = stamps(&self.files);
            if now != state.0 {
                state.0 = now;
                match (self.build)() {
                    Ok(c) => {
                        info!("TLS key or trust store changed: new handshakes use the new files");
                        state.1 = c;
                    }
                    Err(e) => error!("TLS key or trust store changed but cannot be used: {e}"),
                }
            }
        }
        state.1.clone()
    }
}

/// A store file's modification time and length (`None`: unreadable).
type Stamp = Option<(SystemTime, u64)>;

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().map(|s| s.suite().as_str().unwrap()).collect()
    }

    #[test]
    fn default_suites_are_javas_minus_cbc() {
        let got = cipher_suites(None).unwrap();
        assert_eq!(
            names(&got),
            [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_CHACHA20_POLY1305_SHA256",
            ]
        );
    }

    #[test]
    fn java_suite_names_map_and_unknown_ones_are_dropped() {
        let want = [
            "TLS_AES_128_GCM_SHA256".to_string(),
            "TLS_RSA_WITH_AES_128_CBC_SHA".to_string(),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256".to_string(),
        ];
        let got = cipher_suites(Some(&want)).unwrap();
        assert_eq!(
            names(&got),
            [
                "TLS13_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            ]
        );
        assert!(cipher_suites(Some(&["TLS_RSA_WITH_NULL_MD5".to_string()])).is_err());
    }

    #[test]
    fn protocols_follow_the_generation_then_the_keys() {
        let v = |s: &TlsSettings, d| {
            protocol_versions(s, d)
                .map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>())
                .map_err(|_| ())
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        let mut s = TlsSettings::default();
        assert_eq!(v(&s, Defaults::V3_8), Ok(vec![TLSv1_2]));
        assert_eq!(v(&s, Defaults::V3_9), Ok(vec![TLSv1_3]));
        s.protocol = Some("TLSv1.2".into());
        assert_eq!(v(&s, Defaults::V3_9), Ok(vec![TLSv1_2]));
        s.enabled_protocols = Some(vec!["TLSv1.1".into(), "TLSv1.3".into(), "TLSv1.2".into()]);
        assert_eq!(v(&s, Defaults::V3_8), Ok(vec![TLSv1_3, TLSv1_2]));
        s.enabled_protocols = Some(vec!["TLSv1".into()]);
        assert!(v(&s, Defaults::V3_8).is_err());
    }

    #[test]
    fn revocation_checking_is_refused() {
        let s = TlsSettings {
            crl: true,
            ..TlsSettings::default()
        };
        assert!(server_config(&s, Defaults::V3_8)
            .unwrap_err()
            .contains("ssl.crl"));
        let s = TlsSettings {
            ocsp: true,
            ..TlsSettings::default()
        };
        assert!(client_config(&s, Defaults::V3_9)
            .unwrap_err()
            .contains("ocsp"));
    }

    #[test]
    fn password_files_lose_exactly_one_trailing_newline() {
        let d = crate::tls::test_certs::Dir::new("pwfile");
        let read = |name: &str, body: &[u8]| {
            std::fs::write(d.path(name), body).unwrap();
            password(&Some("from-key".into()), &Some(d.path(name))).unwrap()
        };
        // SecretUtils.readSecret: strip one System.lineSeparator() ("\n" on Linux), no more.
        assert_eq!(read("a", b"pw\n").as_deref(), Some("pw"));
        assert_eq!(read("b", b"pw").as_deref(), Some("pw"));
        assert_eq!(read("c", b"pw\n\n").as_deref(), Some("pw\n"));
        assert_eq!(read("d", b"pw\r\n").as_deref(), Some("pw\r"));
        assert_eq!(read("e", b" pw \n").as_deref(), Some(" pw "));
        assert_eq!(read("f", b"").as_deref(), Some(""));
        assert_eq!(read("g", b"p\xffw\n").as_deref(), Some("p\u{fffd}w"));
        // No file named: the key's value; a named file that is missing: an error.
        assert_eq!(
            password(&Some("k".into()), &None).unwrap().as_deref(),
            Some("k")
        );
        assert!(password(&None, &Some(d.path("missing"))).is_err());
    }

    #[test]
    fn a_server_needs_a_key_store() {
        let e = server_config(&TlsSettings::default(), Defaults::V3_9).unwrap_err();
        assert!(e.contains("Keystore is required"), "{e}");
    }
}

#[cfg(test)]
mod handshake_tests {
    use super::*;
    use crate::tls::test_certs::{ca, handshake, leaf, Dir};

    fn pem_settings(dir: &Dir, key: &str, trust: &str) -> TlsSettings {
        TlsSettings {
            key_store_location: Some(dir.path(&format!("{key}.pem"))),
            trust_store_location: Some(dir.path(&format!("{trust}-ca.pem"))),
            ..TlsSettings::default()
        }
    }

    #[test]
    fn both_sides_with_client_certificates() {
        let d = Dir::new("cfg");
        ca(&d, "a");
        ca(&d, "b");
        leaf(
            &d,
            "a",
            "server",
            "/CN=server",
            "IP:127.0.0.1,DNS:localhost",
            2,
        );
        leaf(&d, "a", "client", "/CN=client/O=zk", "IP:10.9.9.9", 2);
        leaf(&d, "b", "stranger", "/CN=stranger", "IP:127.0.0.1", 2);
        leaf(&d, "a", "expired", "/CN=old", "IP:127.0.0.1", -1);
        let server = pem_settings(&d, "server", "a");
        for defaults in [Defaults::V3_8, Defaults::V3_9] {
            let srv = server_config(&server, defaults).unwrap();
            let cli = client_config(&pem_settings(&d, "client", "a"), defaults).unwrap();
            let conn = handshake(srv.clone(), cli.clone(), "localhost").unwrap();
            let want = match defaults {
                Defaults::V3_8 => rustls::ProtocolVersion::TLSv1_2,
                Defaults::V3_9 => rustls::ProtocolVersion::TLSv1_3,
            };
            assert_eq!(conn.protocol_version(), Some(want));
            assert_eq!(conn.peer_certificates().map(|c| c.len()), Some(1));
            // The client's certificate names 10.9.9.9, not 127.0.0.1.
            let cert = &conn.peer_certificates().unwrap()[0];
            assert!(verify_peer_address(cert, "10.9.9.9".parse().unwrap()).is_ok());
            assert!(verify_peer_address(cert, "127.0.0.1".parse().unwrap()).is_err());
            // Wrong host for the server's certificate: refused unless verification is off.
            assert!(handshake(srv.clone(), cli.clone(), "other.example").is_err());
            let mut lax = pem_settings(&d, "client", "a");
            lax.hostname_verification = false;
            let lax = client_config(&lax, defaults).unwrap();
            assert!(handshake(srv.clone(), lax, "other.example").is_ok());
            // A client certificate from another CA, an expired one, none at all.
            let cli_b = client_config(&pem_settings(&d, "stranger", "a"), defaults).unwrap();
            assert!(handshake(srv.clone(), cli_b, "localhost").is_err());
            let old = client_config(&pem_settings(&d, "expired", "a"), defaults).unwrap();
            assert!(handshake(srv.clone(), old.clone(), "localhost").is_err());
            let mut anon = pem_settings(&d, "client", "a");
            anon.key_store_location = None;
            let anon = client_config(&anon, defaults).unwrap();
            assert!(handshake(srv.clone(), anon.clone(), "localhost").is_err());
            // want: no certificate is fine, a bad one is not; none: nothing asked.
            let mut want_cfg = server.clone();
            want_cfg.client_auth = ClientAuth::Want;
            let srv_want = server_config(&want_cfg, defaults).unwrap();
            let c = handshake(srv_want.clone(), anon.clone(), "localhost").unwrap();
            assert!(c.peer_certificates().is_none());
            assert!(handshake(srv_want, old, "localhost").is_err());
            let mut none_cfg = server.clone();
            none_cfg.client_auth = ClientAuth::None;
            let srv_none = server_config(&none_cfg, defaults).unwrap();
            let c = handshake(srv_none, cli.clone(), "localhost").unwrap();
            assert!(c.peer_certificates().is_none());
        }
        // 3.9's default is TLSv1.3 only: a 3.8 (TLSv1.2) client cannot connect.
        let srv39 = server_config(&server, Defaults::V3_9).unwrap();
        let cli38 = client_config(&pem_settings(&d, "client", "a"), Defaults::V3_8).unwrap();
        assert!(handshake(srv39, cli38, "localhost").is_err());
    }

    #[test]
    fn reloading_picks_up_new_files() {
        let d = Dir::new("reload");
        ca(&d, "a");
        ca(&d, "b");
        leaf(&d, "a", "server", "/CN=server", "DNS:localhost", 2);
        leaf(&d, "b", "client", "/CN=client", "DNS:localhost", 2);
        std::fs::copy(d.path("a-ca.pem"), d.path("trust-ca.pem")).unwrap();
        let s = pem_settings(&d, "server", "trust");
        let r = Reloading::new(&s, true, |s| server_config(s, Defaults::V3_9)).unwrap();
        // The client (CA b) trusts the server's CA a.
        let cli = client_config(&pem_settings(&d, "client", "a"), Defaults::V3_9).unwrap();
        assert!(handshake(r.current(), cli.clone(), "localhost").is_err());
        std::fs::copy(d.path("b-ca.pem"), d.path("trust-ca.pem")).unwrap();
        let now_b = r.current();
        assert!(handshake(now_b.clone(), cli.clone(), "localhost").is_ok());
        // A store that no longer parses keeps the previous configuration.
        std::fs::write(d.path("trust-ca.pem"), b"garbage").unwrap();
        assert!(Arc::ptr_eq(&now_b, &r.current()));
        // Without reload the first files stay.
        std::fs::copy(d.path("a-ca.pem"), d.path("trust-ca.pem")).unwrap();
        let fixed = Reloading::new(&s, false, |s| server_config(s, Defaults::V3_9)).unwrap();
        std::fs::copy(d.path("b-ca.pem"), d.path("trust-ca.pem")).unwrap();
        assert!(handshake(fixed.current(), cli, "localhost").is_err());
    }
}
