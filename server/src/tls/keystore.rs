//! Key stores and trust stores in the formats Java's `X509Util` reads: PEM, PKCS12 and JKS,
//! named by `ssl.keyStore.type` or, when unset, by the file's extension (Java's
//! `KeyStoreFileType.fromPropertyValueOrFileName`).

use rustls::pki_types::pem::PemObject;
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

/// Load the private key and its certificate chain from a key store.
pub fn load_key_store(
    path: &Path,
    password: Option<&str>,
    ty: StoreType,
) -> Result<KeyMaterial, String> {
    let bytes = read(path)?;
    match ty {
        StoreType::Pem => pem_key_store(&bytes, password, path),
        other => Err(unsupported(other, path)),
    }
}

/// Load the trusted certificates of a trust store.
pub fn load_trust_store(
    path: &Path,
    password: Option<&str>,
    ty: StoreType,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let _ = password;
    let bytes = read(path)?;
    match ty {
        StoreType::Pem => pem_certs(&bytes, path),
        other => Err(unsupported(other, path)),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn unsupported(ty: StoreType, path: &Path) -> String {
    format!("{ty:?} stores are not supported yet ({})", path.display())
}

fn pem_certs(bytes: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

/// Java's PEM key store: one private key (PKCS#8, PKCS#1 or SEC1) and its chain in one file.
fn pem_key_store(bytes: &[u8], password: Option<&str>, path: &Path) -> Result<KeyMaterial, String> {
    let _ = password; // encrypted PKCS#8 keys: not yet
    let chain = pem_certs(bytes, path)?;
    let key = PrivateKeyDer::from_pem_slice(bytes)
        .map_err(|e| format!("{}: no usable private key: {e}", path.display()))?;
    Ok(KeyMaterial { chain, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_type_from_property_then_extension() {
        let p = Path::new("/etc/zk/server.keystore.jks");
        assert_eq!(StoreType::resolve(None, p), Ok(StoreType::Jks));
        assert_eq!(StoreType::resolve(Some("pkcs12"), p), Ok(StoreType::Pkcs12));
        assert_eq!(StoreType::resolve(Some(" "), p), Ok(StoreType::Jks));
        for (name, t) in [
            ("a.PEM", StoreType::Pem),
            ("a.p12", StoreType::Pkcs12),
            ("a.pfx", StoreType::Pkcs12),
            ("a.bcfks", StoreType::Bcfks),
        ] {
            assert_eq!(StoreType::resolve(None, Path::new(name)), Ok(t));
        }
        assert!(StoreType::resolve(None, Path::new("a.key"))
            .unwrap_err()
            .contains("Unable to auto-detect"));
        assert!(StoreType::resolve(Some("XYZ"), p).is_err());
    }
}
