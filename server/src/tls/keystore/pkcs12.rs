//! PKCS12 stores (the JDK's `PKCS12KeyStore`), through the p12-keystore crate: Java 17
//! keytool's PBES2 (AES-256-CBC, HmacSHA256 MAC) and the legacy PBES1 ciphers (3DES, RC2-40,
//! SHA-1 MAC) of openssl -legacy and older JDKs.
//!
//! What Java makes of the bags: a private key with the certificate bag of the same
//! `localKeyId` (and the chain to its issuers) is a key entry; a certificate bag with
//! Oracle's trusted-key-usage attribute (2.16.840.1.113894.746875.1.1, written by
//! `keytool -importcert`) is a trusted entry; any other certificate is ignored (Java 17's
//! `keytool -list` shows 0 entries for a store `openssl pkcs12 -export -nokeys` made).

use super::{Entries, KeyEntry};
use p12_keystore::error::Error;
use p12_keystore::{Certificate, Pkcs12Archive};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub(super) fn load(bytes: &[u8], password: &str) -> Result<Entries, String> {
    let archive = Pkcs12Archive::from_pkcs12(bytes, password).map_err(|e| match e {
        // The MAC (or, without one, the decryption) is how a wrong password shows.
        Error::MacError(_) | Error::UnpadError => "keystore password was incorrect".to_string(),
        other => format!("Invalid PKCS12 store: {other}"),
    })?;
    let certs = &archive.certs;
    let mut used = vec![false; certs.len()];
    let mut keys = Vec::new();
    for bag in &archive.keys {
        let Some(id) = &bag.local_key_id else {
            continue;
        };
        let Some(leaf) = certs
            .iter()
            .position(|c| c.local_key_id.as_deref() == Some(id.0.as_slice()))
        else {
            continue;
        };
        let mut chain = vec![leaf];
        // Up to the issuers by name, as Java does; stop at a self-signed one or a loop.
        loop {
            let last = &certs[*chain.last().expect("starts with the leaf")].cert;
            if last.issuer() == last.subject() {
                break;
            }
            match (0..certs.len())
                .find(|&i| certs[i].cert.subject() == last.issuer() && !chain.contains(&i))
            {
                Some(i) => chain.push(i),
                None => break,
            }
        }
        for &i in &chain {
            used[i] = true;
        }
        let alias = bag
            .friendly_name
            .clone()
            .unwrap_or_else(|| id.0.iter().map(|b| format!("{b:02x}")).collect::<String>());
        keys.push(KeyEntry {
            alias,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec())),
            chain: chain.iter().map(|&i| der(&certs[i].cert)).collect(),
        });
    }
    keys.sort_by(|a, b| a.alias.cmp(&b.alias));
    let mut trusted: Vec<(String, CertificateDer<'static>)> = certs
        .iter()
        .filter(|c| c.trusted)
        .map(|c| {
            let alias = c.friendly_name.clone().unwrap_or_default();
            (alias, der(&c.cert))
        })
        .collect();
    trusted.sort_by(|a, b| a.0.cmp(&b.0));
    let untrusted_certs = certs
        .iter()
        .zip(&used)
        .filter(|(c, used)| !c.trusted && !**used)
        .count();
    Ok(Entries {
        keys,
        trusted: trusted.into_iter().map(|(_, c)| c).collect(),
        untrusted_certs,
    })
}

fn der(cert: &Certificate) -> CertificateDer<'static> {
    CertificateDer::from(cert.as_der().to_vec())
}
