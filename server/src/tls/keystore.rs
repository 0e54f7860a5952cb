//! Key stores and trust stores in the formats Java's `X509Util` reads: PEM, PKCS12 and JKS,
//! named by `ssl.keyStore.type` or, when unset, by the file's extension (Java's
//! `KeyStoreFileType.fromPropertyValueOrFileName`), and the passwords that open them
//! (`SecretUtils` for `passwordPath`).
//!
//! Mirrors Java's `FileKeyStoreLoader` family: [`pem`] is `PemReader`, [`pkcs12`] is the JDK's
//! `PKCS12KeyStore` and [`jks`] its `JavaKeyStore`. As in Java 9+ (`keystore.type.compat`),
//! a store typed JKS or PKCS12 is read by what its bytes are, so a `.jks` file that is really
//! PKCS12 loads, and the other way round.
//!
//! What a store yields is checked here, at startup: a key store must hold a private key of a
//! type rustls can sign with (RSA of 2048 bits or more, ECDSA P-256 / P-384, Ed25519) and
//! its certificate; a trust store must hold at least one trusted certificate.

mod der;
mod jks;
mod pbe;
mod pem;
mod pkcs12;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The store formats Java knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    Jks,
    /// Bouncy Castle's FIPS store: named so that the error says what is missing.
    Bcfks,
}

impl StoreType {
    /// `ssl.keyStore.type` / `ssl.trustStore.type` (case-insensitive), else the file's
    /// extension (`.pem`, `.p12`/`.pfx`, `.jks`, `.bcfks`), as Java resolves it.
    pub fn resolve(property: Option<&str>, path: &Path) -> Result<StoreType, String> {
        if let Some(p) = property.map(str::trim).filter(|p| !p.is_empty()) {
            return match p.to_ascii_uppercase().as_str() {
                "PEM" => Ok(StoreType::Pem),
                "PKCS12" => Ok(StoreType::Pkcs12),
                "JKS" => Ok(StoreType::Jks),
                "BCFKS" => Ok(StoreType::Bcfks),
                _ => Err(format!("Invalid KeyStoreFileType: {p}")),
            };
        }
        let name = path.to_string_lossy().to_ascii_lowercase();
        let by_ext = [
            (".pem", StoreType::Pem),
            (".p12", StoreType::Pkcs12),
            (".pfx", StoreType::Pkcs12),
            (".jks", StoreType::Jks),
            (".bcfks", StoreType::Bcfks),
        ];
        by_ext
            .iter()
            .find(|(ext, _)| name.ends_with(ext))
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                format!(
                    "Unable to auto-detect store file type from file name: {}",
                    path.display()
                )
            })
    }
}

/// What a key store holds for TLS: the entity's chain (leaf first) and its private key.
#[derive(Debug)]
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The password of a store as Java's `X509Util.getPasswordFromConfigPropertyOrFile` finds
/// it: the contents of `passwordPath` when that is set (it wins over `password`), else
/// `password`. The file is read as `SecretUtils.readSecret` does: UTF-8 (invalid bytes
/// replaced), and one trailing line separator (`\n` on Linux) removed, nothing else: a
/// `\r\n` ending keeps its `\r`, two newlines keep one.
pub fn store_password(
    password: Option<&str>,
    password_path: Option<&Path>,
) -> Result<Option<String>, String> {
    match password_path {
        Some(path) => read_secret(path).map(Some),
        None => Ok(password.map(str::to_string)),
    }
}

fn read_secret(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        let p = path.display();
        format!("Exception occurred when reading secret from file {p}: {e}")
    })?;
    // Java decodes with `new String(bytes, UTF_8)`: invalid bytes become U+FFFD.
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Load the private key and its certificate chain from a key store.
///
/// `password` opens the store and, as Java's `KeyManagerFactory.init(ks, password)` does,
/// its key entry too (a JKS key protected by another password cannot be recovered). When a
/// store holds several key entries, the first by alias (alphabetical) is served and a
/// warning names the others: Java picks per handshake by key type, which a single rustls
/// certificate cannot.
pub fn load_key_store(
    path: &Path,
    password: Option<&str>,
    ty: StoreType,
) -> Result<KeyMaterial, String> {
    let bytes = read(path)?;
    let at = |e: String| format!("{}: {e}", path.display());
    let material = match ty {
        StoreType::Pem => pem::key_store(&bytes, password).map_err(at)?,
        StoreType::Pkcs12 | StoreType::Jks => {
            let entries = binary_store(&bytes, password.unwrap_or(""), ty).map_err(at)?;
            first_key(entries.keys, path)?
        }
        StoreType::Bcfks => return Err(unsupported(ty, path)),
    };
    check_key(&material.key).map_err(at)?;
    Ok(material)
}

/// Load the trusted certificates of a trust store: every certificate of a PEM file; the
/// trusted-certificate entries of a JKS or PKCS12 store (Java's `PKIXParameters(KeyStore)`:
/// the certificates of key entries are not trust anchors, and neither are PKCS12
/// certificates without Oracle's trusted-key-usage attribute, which is how openssl writes
/// them).
pub fn load_trust_store(
    path: &Path,
    password: Option<&str>,
    ty: StoreType,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path)?;
    let at = |e: String| format!("{}: {e}", path.display());
    let certs = match ty {
        StoreType::Pem => pem::certificates(&bytes).map_err(at)?,
        StoreType::Pkcs12 | StoreType::Jks => {
            let entries = binary_store(&bytes, password.unwrap_or(""), ty).map_err(at)?;
            if entries.trusted.is_empty() {
                return Err(at(format!(
                    "the trustAnchors parameter must be non-empty: no trusted certificate \
                     entry in the store{}",
                    if entries.untrusted_certs > 0 {
                        " (its certificates lack Java's trusted-key-usage attribute, as \
                         openssl writes them; import them with keytool -importcert or use a \
                         PEM trust store)"
                    } else {
                        ""
                    }
                )));
            }
            entries.trusted
        }
        StoreType::Bcfks => return Err(unsupported(ty, path)),
    };
    if certs.is_empty() {
        return Err(at("no certificate in the file".to_string()));
    }
    Ok(certs)
}

/// A key entry of a binary store: its alias, key (PKCS#8) and chain (leaf first).
struct KeyEntry {
    alias: String,
    key: PrivateKeyDer<'static>,
    chain: Vec<CertificateDer<'static>>,
}

/// The entries of a JKS or PKCS12 store that TLS uses.
#[derive(Default)]
struct Entries {
    /// Key entries in alias order.
    keys: Vec<KeyEntry>,
    /// Trusted certificate entries in alias order.
    trusted: Vec<CertificateDer<'static>>,
    /// Certificates that are neither in a key's chain nor trusted (PKCS12 only).
    untrusted_certs: usize,
}

/// JKS and PKCS12 stores are told apart by their bytes whichever of the two was named, as
/// Java 9+ does (`DualFormatJKS`, `DualFormatPKCS12`).
fn binary_store(bytes: &[u8], password: &str, named: StoreType) -> Result<Entries, String> {
    match bytes.get(..4) {
        Some(jks::MAGIC) => jks::load(bytes, password),
        Some(jks::JCEKS_MAGIC) => Err("JCEKS stores are not supported; convert with keytool \
             -importkeystore -deststoretype PKCS12"
            .to_string()),
        Some(_) if bytes[0] == 0x30 => pkcs12::load(bytes, password),
        _ => Err(format!(
            "Invalid keystore format: not a {} store",
            if named == StoreType::Jks {
                "JKS"
            } else {
                "PKCS12"
            }
        )),
    }
}

fn first_key(keys: Vec<KeyEntry>, path: &Path) -> Result<KeyMaterial, String> {
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return Err(format!(
            "{}: no private key entry in the key store",
            path.display()
        ));
    };
    let others: Vec<String> = keys.map(|k| k.alias).collect();
    if !others.is_empty() {
        tracing::warn!(
            "{}: several private key entries; serving \"{}\", ignoring {:?}",
            path.display(),
            first.alias,
            others
        );
    }
    if first.chain.is_empty() {
        return Err(format!(
            "{}: private key entry \"{}\" has no certificate",
            path.display(),
            first.alias
        ));
    }
    Ok(KeyMaterial {
        chain: first.chain,
        key: first.key,
    })
}

/// The key is one rustls (ring) can sign with; else say what it is.
fn check_key(key: &PrivateKeyDer<'_>) -> Result<(), String> {
    rustls::crypto::ring::sign::any_supported_type(key)
        .map(|_| ())
        .map_err(|_| {
            format!(
                "unsupported private key ({}): TLS here serves RSA keys of 2048 to 8192 bits, \
                 ECDSA keys on P-256 or P-384 and Ed25519 keys",
                der::key_kind(key)
            )
        })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn unsupported(ty: StoreType, path: &Path) -> String {
    format!("{ty:?} stores are not supported ({})", path.display())
}

#[cfg(test)]
mod tests;
