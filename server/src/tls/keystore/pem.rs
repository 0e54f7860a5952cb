//! PEM key and trust stores, as Java's `PemReader` reads them: a key store is one file with
//! the private key and its chain (leaf first); a trust store is a file of certificates.
//!
//! Keys: PKCS#8 (`PRIVATE KEY`) and, when `ssl.keyStore.password` is set, encrypted PKCS#8
//! (`ENCRYPTED PRIVATE KEY`: PBES2 as openssl and Java write it, or PKCS#12's PBE-SHA1-3DES
//! of older openssl). Java reads nothing else;
//! we also take PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`) keys, and an
//! unencrypted key when a password is set (Java fails on both). OpenSSL's old encrypted
//! PEM (`Proc-Type: 4,ENCRYPTED`) is refused with the command that converts it.

use super::{der, pbe, KeyMaterial};
use base64ct::{Base64, Encoding};
use pkcs5::der::Decode;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

/// One `-----BEGIN label-----` ... `-----END label-----` section.
struct Section {
    label: String,
    /// Header lines (`Proc-Type: ...`) were present: OpenSSL's legacy encryption.
    has_headers: bool,
    der: Vec<u8>,
}

/// Every section of the text, in order; a section whose base64 is broken is an error
/// (Java's MIME decoder would also fail on it), text outside sections is ignored.
fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut b64 = String::new();
        let mut has_headers = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                has_headers = true;
            } else {
                b64.push_str(line);
            }
        }
        if !closed {
            return Err(format!("PEM section {label} has no END line"));
        }
        let der = if has_headers {
            Vec::new()
        } else {
            Base64::decode_vec(&b64).map_err(|e| format!("PEM section {label}: bad base64: {e}"))?
        };
        out.push(Section {
            label: label.to_string(),
            has_headers,
            der,
        });
    }
    Ok(out)
}

/// The certificates of a PEM file (`CERTIFICATE`, `X509 CERTIFICATE`), in order.
pub(super) fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    Ok(sections(bytes)?
        .into_iter()
        .filter(|s| s.label == "CERTIFICATE" || s.label == "X509 CERTIFICATE")
        .map(|s| CertificateDer::from(s.der))
        .collect())
}

/// A PEM key store: the first private key of the file and every certificate as its chain.
pub(super) fn key_store(bytes: &[u8], password: Option<&str>) -> Result<KeyMaterial, String> {
    let password = password.filter(|p| !p.is_empty());
    let all = sections(bytes)?;
    let Some(section) = all.iter().find(|s| s.label.ends_with("PRIVATE KEY")) else {
        return Err("did not find a private key".to_string());
    };
    if section.has_headers {
        return Err(format!(
            "{} uses OpenSSL's legacy PEM encryption, which Java cannot read either; convert \
             it with openssl pkcs8 -topk8 -v2 aes-256-cbc",
            section.label
        ));
    }
    let der = section.der.clone();
    let key = match section.label.as_str() {
        "PRIVATE KEY" => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        "ENCRYPTED PRIVATE KEY" => {
            let Some(password) = password else {
                return Err(
                    "the private key is encrypted and no key store password is set".to_string(),
                );
            };
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(decrypt_pkcs8(&der, password)?))
        }
        other => return Err(format!("unsupported private key section {other}")),
    };
    let chain = certificates(bytes)?;
    if chain.is_empty() {
        return Err("Certificate file does not contain any certificates".to_string());
    }
    Ok(KeyMaterial { chain, key })
}

/// Decrypt an `EncryptedPrivateKeyInfo` (PBES2, or PKCS#12's PBE-SHA1-3DES).
pub(super) fn decrypt_pkcs8(der_bytes: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let (alg, oid, data) = der::encrypted_private_key_info(der_bytes)
        .ok_or("the encrypted private key is not a valid EncryptedPrivateKeyInfo")?;
    if oid == pbe::SHA1_3DES {
        return pbe::decrypt(alg, password, data);
    }
    let scheme = pkcs5::EncryptionScheme::from_der(alg)
        .map_err(|e| format!("unsupported private key encryption: {e}"))?;
    if scheme.pbes2().is_none() {
        return Err(
            "unsupported private key encryption: PBES2 and PBE-SHA1-3DES are read (openssl \
             pkcs8 -topk8 -v2 aes-256-cbc)"
                .to_string(),
        );
    }
    scheme
        .decrypt(password, data)
        .map_err(|_| "cannot decrypt the private key: wrong password?".to_string())
}
