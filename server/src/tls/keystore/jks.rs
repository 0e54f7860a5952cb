//! Java's proprietary JKS store (the JDK's `sun.security.provider.JavaKeyStore`), read only.
//!
//! ```text
//! u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 count
//! count x entry:
//!   u32 tag: 1 = private key, 2 = trusted certificate
//!   UTF alias (u16 length + modified UTF-8), u64 creation date (ms)
//!   tag 1: u32 length + EncryptedPrivateKeyInfo (Sun's KeyProtector), u32 chain length,
//!          per certificate: [v2: UTF type "X.509"] u32 length + DER
//!   tag 2: [v2: UTF type] u32 length + DER
//! 20 bytes: SHA-1(password as UTF-16BE, "Mighty Aphrodite", every byte before)
//! ```
//!
//! The key protector (OID 1.3.6.1.4.1.42.2.17.1.1) is salt(20) | key XOR stream | check(20),
//! where the stream is SHA-1(password, salt), SHA-1(password, previous digest), ... and
//! check = SHA-1(password, key).

use super::{der, Entries, KeyEntry};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::{Digest, Sha1};

pub(super) const MAGIC: &[u8] = &[0xfe, 0xed, 0xfe, 0xed];
pub(super) const JCEKS_MAGIC: &[u8] = &[0xce, 0xce, 0xce, 0xce];
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const TAMPERED: &str = "Keystore was tampered with, or password was incorrect";

/// A bounds-checked reader over the store's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or("truncated JKS store")?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("took 2"),
        ))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("took 4"),
        ))
    }
    /// `DataInput.readUTF`: the alias only names the entry, so lossy is fine.
    fn utf(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn blob(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn cert(&mut self, version: u32) -> Result<CertificateDer<'static>, String> {
        if version == 2 {
            let ty = self.utf()?;
            if ty != "X.509" {
                return Err(format!("unsupported certificate type {ty}"));
            }
        }
        Ok(CertificateDer::from(self.blob()?.to_vec()))
    }
}

/// UTF-16BE, as Java turns a `char[]` password into bytes here.
fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Read a JKS store; key entries are recovered with `password` (as Java's key manager
/// does with the store password).
pub(super) fn load(bytes: &[u8], password: &str) -> Result<Entries, String> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4)? != MAGIC {
        return Err("Invalid keystore format".to_string());
    }
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err("Invalid keystore format".to_string());
    }
    let count = r.u32()?;
    let mut protected = Vec::new();
    let mut trusted = Vec::new();
    for _ in 0..count {
        match r.u32()? {
            1 => {
                let alias = r.utf()?;
                r.take(8)?;
                let key = r.blob()?;
                let chain_len = r.u32()?;
                let mut chain = Vec::new();
                for _ in 0..chain_len {
                    chain.push(r.cert(version)?);
                }
                protected.push((alias, key, chain));
            }
            2 => {
                let alias = r.utf()?;
                r.take(8)?;
                trusted.push((alias, r.cert(version)?));
            }
            _ => return Err("Unrecognized keystore entry".to_string()),
        }
    }
    let body = &bytes[..r.pos];
    let stored = r.take(20)?;
    let pw = password_bytes(password);
    let digest = Sha1::new()
        .chain_update(&pw)
        .chain_update(b"Mighty Aphrodite")
        .chain_update(body)
        .finalize();
    if digest.as_slice() != stored {
        return Err(TAMPERED.to_string());
    }

    protected.sort_by(|a, b| a.0.cmp(&b.0));
    trusted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut keys = Vec::new();
    for (alias, key, chain) in protected {
        let pkcs8 = recover_key(key, &pw).map_err(|e| format!("entry \"{alias}\": {e}"))?;
        keys.push(KeyEntry {
            alias,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
            chain,
        });
    }
    Ok(Entries {
        keys,
        trusted: trusted.into_iter().map(|(_, c)| c).collect(),
        untrusted_certs: 0,
    })
}

/// Undo Sun's `KeyProtector`: the PKCS#8 `PrivateKeyInfo` inside.
fn recover_key(protected: &[u8], password: &[u8]) -> Result<Vec<u8>, String> {
    let (_, oid, data) = der::encrypted_private_key_info(protected)
        .ok_or("the protected key is not an EncryptedPrivateKeyInfo")?;
    if oid != KEY_PROTECTOR_OID {
        return Err("unsupported key protection algorithm (not Sun's KeyProtector)".to_string());
    }
    if data.len() < 40 {
        return Err("Cannot recover key".to_string());
    }
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(rest.len() - 20);
    let mut plain = Vec::with_capacity(encrypted.len());
    let mut digest: [u8; 20] = salt.try_into().expect("split at 20");
    for chunk in encrypted.chunks(20) {
        digest = Sha1::new()
            .chain_update(password)
            .chain_update(digest)
            .finalize()
            .into();
        plain.extend(chunk.iter().zip(digest).map(|(c, k)| c ^ k));
    }
    let ok = Sha1::new()
        .chain_update(password)
        .chain_update(&plain)
        .finalize();
    if ok.as_slice() != check {
        return Err("Cannot recover key".to_string());
    }
    Ok(plain)
}
