//! The little DER the stores need read by hand: the two halves of an
//! `EncryptedPrivateKeyInfo` (JKS keys use Sun's own algorithm, which no PKCS#8 crate
//! knows) and the algorithm of a `PrivateKeyInfo` (to name a key type rustls cannot serve).
//! Definite lengths only, as DER has; every read is bounds-checked.

use rustls::pki_types::PrivateKeyDer;

/// A TLV read off the front of some bytes: (tag, whole TLV, contents, the bytes after it).
pub(super) type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// One TLV at the start of `input`.
pub(super) fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize),
            2 + n,
        )
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some((tag, whole, &whole[header..], &input[end..]))
}

pub(super) const SEQUENCE: u8 = 0x30;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const OID: u8 = 0x06;
pub(super) const INTEGER: u8 = 0x02;

/// `EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }`:
/// (the whole AlgorithmIdentifier TLV, the algorithm's OID contents, the encrypted bytes).
pub(super) fn encrypted_private_key_info(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (SEQUENCE, _, body, _) = tlv(input)? else {
        return None;
    };
    let (SEQUENCE, alg_whole, alg, rest) = tlv(body)? else {
        return None;
    };
    let (OID, _, oid, _) = tlv(alg)? else {
        return None;
    };
    let (OCTET_STRING, _, data, _) = tlv(rest)? else {
        return None;
    };
    Some((alg_whole, oid, data))
}

/// `PrivateKeyInfo ::= SEQUENCE { INTEGER, AlgorithmIdentifier { OID, params }, ... }`:
/// (algorithm OID contents, first parameter's TLV if any).
fn pkcs8_algorithm(input: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (SEQUENCE, _, body, _) = tlv(input)? else {
        return None;
    };
    let (INTEGER, _, _, rest) = tlv(body)? else {
        return None;
    };
    let (SEQUENCE, _, alg, _) = tlv(rest)? else {
        return None;
    };
    let (OID, _, oid, params) = tlv(alg)? else {
        return None;
    };
    Some((oid, tlv(params).map(|(_, whole, _, _)| whole)))
}

// OID contents (DER, without tag and length).
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const ED448: &[u8] = &[0x2b, 0x65, 0x71];
// EC curves, as the parameter TLV.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

/// A name for the kind of key, for errors.
pub(super) fn key_kind(key: &PrivateKeyDer<'_>) -> String {
    match key {
        PrivateKeyDer::Pkcs1(_) => "RSA (PKCS#1)".to_string(),
        PrivateKeyDer::Sec1(_) => "EC (SEC1)".to_string(),
        PrivateKeyDer::Pkcs8(k) => match pkcs8_algorithm(k.secret_pkcs8_der()) {
            Some((RSA, _)) => "RSA".to_string(),
            Some((RSA_PSS, _)) => "RSASSA-PSS".to_string(),
            Some((EC, Some(P256))) => "EC P-256".to_string(),
            Some((EC, Some(P384))) => "EC P-384".to_string(),
            Some((EC, Some(P521))) => "EC P-521".to_string(),
            Some((EC, _)) => "EC on another curve".to_string(),
            Some((DSA, _)) => "DSA".to_string(),
            Some((ED25519, _)) => "Ed25519".to_string(),
            Some((ED448, _)) => "Ed448".to_string(),
            Some(_) => "unknown algorithm".to_string(),
            None => "not a PKCS#8 key".to_string(),
        },
        _ => "unknown format".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_is_bounds_checked() {
        assert_eq!(tlv(&[]), None);
        assert_eq!(tlv(&[0x30]), None);
        assert_eq!(tlv(&[0x30, 0x02, 0x01]), None);
        assert_eq!(tlv(&[0x30, 0x80]), None, "indefinite length is not DER");
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0]), None);
        let (tag, whole, body, rest) = tlv(&[0x04, 0x81, 0x01, 0xaa, 0xbb]).unwrap();
        assert_eq!(
            (tag, whole, body, rest),
            (4, &[4, 0x81, 1, 0xaa][..], &[0xaa][..], &[0xbb][..])
        );
    }
}
