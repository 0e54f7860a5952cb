//! PKCS#12's password-based encryption (RFC 7292 appendix B) for PKCS#8 keys in PEM:
//! `pbeWithSHAAnd3-KeyTripleDES-CBC`, which older openssl wrote by default
//! (`openssl pkcs8 -topk8`, now `-v1 PBE-SHA1-3DES`) and Java's `PemReader` decrypts.

use super::der::{tlv, INTEGER, OCTET_STRING, OID, SEQUENCE};
use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
use sha1::{Digest, Sha1};

/// OID 1.2.840.113549.1.12.1.3, contents.
pub(super) const SHA1_3DES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03];
/// More than any tool writes; a corrupted count must not hang startup.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Decrypt with the AlgorithmIdentifier `alg` (whole TLV) = { SHA1_3DES, { salt, iterations } }.
pub(super) fn decrypt(alg: &[u8], password: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "unsupported private key encryption: bad PBE parameters".to_string();
    let (SEQUENCE, _, body, _) = tlv(alg).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (OID, _, _, params) = tlv(body).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (SEQUENCE, _, params, _) = tlv(params).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (OCTET_STRING, _, salt, rest) = tlv(params).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (INTEGER, _, count, _) = tlv(rest).ok_or_else(bad)? else {
        return Err(bad());
    };
    if count.is_empty() || count.len() > 4 || count[0] & 0x80 != 0 {
        return Err(bad());
    }
    let iterations = count.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32);
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(bad());
    }
    let key = derive(password, salt, 1, iterations, 24);
    let iv = derive(password, salt, 2, iterations, 8);
    cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
        .map_err(|_| bad())?
        .decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| "cannot decrypt the private key: wrong password?".to_string())
}

/// RFC 7292 B.2 with SHA-1 (u = 20, v = 64): `id` 1 = key, 2 = IV.
fn derive(password: &str, salt: &[u8], id: u8, iterations: u32, len: usize) -> Vec<u8> {
    const V: usize = 64;
    // The password as a BMPString with its terminating zero.
    let mut pw: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    pw.extend([0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let n = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(n).collect()
    };
    let mut i_block = fill(salt);
    i_block.extend(fill(&pw));
    let d = [id; V];
    let mut out = Vec::with_capacity(len + 20);
    while out.len() < len {
        let mut a: [u8; 20] = Sha1::new()
            .chain_update(d)
            .chain_update(&i_block)
            .finalize()
            .into();
        for _ in 1..iterations {
            a = Sha1::digest(a).into();
        }
        out.extend_from_slice(&a);
        // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, B = A repeated.
        let b: Vec<u8> = a.iter().copied().cycle().take(V).collect();
        for chunk in i_block.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let sum = chunk[k] as u16 + b[k] as u16 + carry;
                chunk[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(len);
    out
}
