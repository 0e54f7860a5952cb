//! A certificate's subject as Java's `X500Principal.getName()` prints it (RFC 2253 form, as
//! `sun.security.x509.X500Name`/`RDN`/`AVA` render it): the `x509` auth id of a TLS client.
//!
//! - RDNs last to first, joined by `,`; the values of a multi-valued RDN in encoded order,
//!   joined by `+`.
//! - Attribute names: Java's RFC 2253 keywords (`CN C L ST O OU STREET DC UID`); any other
//!   attribute (`emailAddress`, `serialNumber`, `title`, ...) by its dotted OID, and then its
//!   value as `#` and the lowercase hex of the value's whole DER encoding.
//! - A keyword's value of a string type (Printable, T61, IA5, General, BMP, UTF8) as text:
//!   `, = + < > # ; " \` escaped with `\`, NUL as `\00`, leading and trailing spaces escaped,
//!   everything else (non-ASCII too) as it is; of another type, `#` and hex as above.
//!
//! Only parsing and printing: pure, no IO. Malformed DER is an error, never a panic.

/// The subject of a DER certificate, printed as Java does.
pub fn subject_rfc2253(cert_der: &[u8]) -> Result<String, String> {
    let subject = subject_der(cert_der).ok_or("malformed certificate")?;
    name_rfc2253(subject).ok_or_else(|| "malformed subject name".to_string())
}

/// A DER `Name` (SEQUENCE OF RDN), printed as Java does.
pub fn name_rfc2253(name: &[u8]) -> Option<String> {
    let (tag, body, rest) = tlv(name)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut rdns = Vec::new();
    let mut r = body;
    while !r.is_empty() {
        let (tag, set, next) = tlv(r)?;
        if tag != SET {
            return None;
        }
        r = next;
        let mut avas = Vec::new();
        let mut s = set;
        while !s.is_empty() {
            let (tag, ava, next) = tlv(s)?;
            if tag != SEQUENCE {
                return None;
            }
            s = next;
            avas.push(ava_rfc2253(ava)?);
        }
        if avas.is_empty() {
            return None;
        }
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// Whether `new X500Principal(name)` accepts `name` (the `x509` provider's `isValid`): AVAs
/// `keyword=value` separated by `,` `;` or `+`, the keyword one Java knows (case-insensitive)
/// or a dotted OID (optionally `OID.`), the value quoted, `#hex` or with `\` escapes.
pub fn is_valid_name(name: &str) -> bool {
    const KNOWN: &[&str] = &[
        "CN",
        "C",
        "L",
        "S",
        "ST",
        "O",
        "OU",
        "T",
        "IP",
        "STREET",
        "DC",
        "DNQUALIFIER",
        "DNQ",
        "SURNAME",
        "GIVENNAME",
        "INITIALS",
        "GENERATION",
        "EMAIL",
        "EMAILADDRESS",
        "UID",
        "SERIALNUMBER",
    ];
    if name.trim().is_empty() {
        return true;
    }
    let mut avas = Vec::new();
    let (mut cur, mut escaped, mut quoted) = (String::new(), false, false);
    for c in name.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && (c == ',' || c == ';' || c == '+') {
            avas.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c);
    }
    if escaped || quoted {
        return false;
    }
    avas.push(cur);
    avas.iter().all(|ava| {
        let Some((key, value)) = ava.split_once('=') else {
            return false;
        };
        let key = key.trim();
        let oid = key
            .strip_prefix("OID.")
            .or_else(|| key.strip_prefix("oid."))
            .unwrap_or(key);
        let is_oid = oid.contains('.')
            && oid
                .split('.')
                .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
        let known = KNOWN.iter().any(|k| k.eq_ignore_ascii_case(key));
        let value = value.trim();
        let hex_ok = match value.strip_prefix('#') {
            Some(h) => {
                !h.is_empty() && h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit())
            }
            None => true,
        };
        (known || is_oid) && hex_ok
    })
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// Java's RFC 2253 keywords (`AVAKeyword` entries marked RFC 2253 compliant).
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

fn ava_rfc2253(ava: &[u8]) -> Option<String> {
    let (tag, oid_body, value) = tlv(ava)?;
    if tag != OID {
        return None;
    }
    let oid = oid_text(oid_body)?;
    let (vtag, vbody, end) = tlv(value)?;
    if !end.is_empty() {
        return None;
    }
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    let text = keyword.and_then(|_| decode_string(vtag, vbody));
    let mut out = String::from(keyword.unwrap_or(&oid));
    out.push('=');
    match text {
        Some(t) => escape_into(&t, &mut out),
        None => {
            out.push('#');
            for b in value {
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    Some(out)
}

/// The string types Java prints as text (`AVA.isDerString`, non-canonical).
fn decode_string(tag: u8, body: &[u8]) -> Option<String> {
    match tag {
        // UTF8String
        0x0c => Some(String::from_utf8_lossy(body).into_owned()),
        // PrintableString, IA5String: ASCII (Java maps other bytes to U+FFFD)
        0x13 | 0x16 => Some(
            body.iter()
                .map(|&b| if b < 0x80 { b as char } else { '\u{fffd}' })
                .collect(),
        ),
        // T61String, GeneralString: ISO-8859-1
        0x14 | 0x1b => Some(body.iter().map(|&b| b as char).collect()),
        // BMPString: UTF-16BE
        0x1e => {
            let units: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

fn escape_into(value: &str, out: &mut String) {
    const ESCAPEES: &str = ",=+<>#;\"\\";
    let mut chars: Vec<char> = Vec::with_capacity(value.len());
    for c in value.chars() {
        if ESCAPEES.contains(c) {
            chars.push('\\');
            chars.push(c);
        } else if c == '\0' {
            chars.extend(['\\', '0', '0']);
        } else {
            chars.push(c);
        }
    }
    // Leading and trailing spaces (and CRs), found on the escaped text, get a backslash.
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = chars.iter().take_while(|c| blank(c)).count();
    let trail = chars.len() - chars.iter().rev().take_while(|c| blank(c)).count();
    for (i, c) in chars.iter().enumerate() {
        if i < lead || i >= trail.max(lead) {
            out.push('\\');
        }
        out.push(*c);
    }
}

fn oid_text(body: &[u8]) -> Option<String> {
    if body.is_empty() || body.len() > 64 {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for (i, b) in body.iter().enumerate() {
        v = v.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        } else if i == body.len() - 1 {
            return None;
        }
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// One DER element: (tag, contents, what follows). Single-byte tags, definite lengths.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The subject `Name` inside a certificate:
/// `Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version OPTIONAL, serial, signature
/// algorithm, issuer, validity, subject, ... }, ... }`.
fn subject_der(cert: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, mut tbs, _) = tlv(body)?;
    if tag != SEQUENCE {
        return None;
    }
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2;
    }
    for _ in 0..4 {
        tbs = tlv(tbs)?.2; // serial, algorithm, issuer, validity
    }
    let (tag, _, after) = tlv(tbs)?;
    if tag != SEQUENCE {
        return None;
    }
    Some(&tbs[..tbs.len() - after.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Subjects made with openssl and printed by Java 17's `X500Principal.getName()`
    /// (the DER of the subject, then what Java printed).
    const JAVA_PRINTED: &[(&str, &str)] = &[
        (
            "301e310f300d06035504030c06636c69656e74310b3009060355040a0c027a6b",
            "O=zk,CN=client",
        ),
        (
            "305f31133011060a0992268993f22c64011916036f726731173015060a0992268993f22c640119\
             16076578616d706c653121300b06035504030c04612c20623012060a0992268993f22c6401010c\
             046a646f65310c300a060355040b0c03782b79",
            "OU=x\\+y,CN=a\\, b+UID=jdoe,DC=example,DC=org",
        ),
        (
            "30463119301706035504030c10206c65616420616e6420747261696c20310e300c060355040a0c\
             05236861736831193017060355040b0c1073656d693b636f6c6f6e3c3e2271225c",
            "OU=semi\\;colon\\<\\>\\\"q\\\"\\\\,O=\\#hash,CN=\\ lead and trail\\ ",
        ),
        (
            "302b3118301606035504030c0f4ac3bc7267656e204772c3bcc39f65310f300d060355040a0c06\
             e697a5e69cac",
            "O=日本,CN=Jürgen Grüße",
        ),
        (
            "30713114301206092a864886f70d01090116056140622e63310d300b06035504030c046d61696c\
             310d300b0603550405130431323334310d300b06035504070c04546f776e310e300c0603550408\
             0c055374617465310b3009060355040613024445310f300d06035504090c064d61696e2031",
            "STREET=Main 1,C=DE,ST=State,L=Town,2.5.4.5=#130431323334,CN=mail,\
             1.2.840.113549.1.9.1=#16056140622e63",
        ),
        (
            "306f3110300e06035504030c0765713d7369676e310b3009060355040c0c024472310e300c0603\
             55042a0c05476976656e310c300a06035504040c03537572310a3008060355042b0c0158310c30\
             0a060355042c0c03494949310a3008060355042e130171310a300806035504410c0170",
            "2.5.4.65=#0c0170,2.5.4.46=#130171,2.5.4.44=#0c03494949,2.5.4.43=#0c0158,\
             2.5.4.4=#0c03537572,2.5.4.42=#0c05476976656e,2.5.4.12=#0c024472,CN=eq\\=sign",
        ),
        (
            "303e310c300a06035504030c036f696431123010060a0992268993f22c6401010c027531310a30\
             08060355040f0c0162310e300c06035504110c053132333435",
            "2.5.4.17=#0c053132333435,2.5.4.15=#0c0162,UID=u1,CN=oid",
        ),
        (
            "303e313c303a06035504030c33756e6465725f73636f72652a737461724061742162616e672570\
             637426616d707e74696c64656062717c706970657b7d5b5d5e",
            "CN=under_score*star@at!bang%pct&amp~tilde`bq|pipe{}[]^",
        ),
    ];

    #[test]
    fn names_as_java_prints_them() {
        for (der, want) in JAVA_PRINTED {
            assert_eq!(name_rfc2253(&hex(der)).as_deref(), Some(*want), "{der}");
        }
    }

    #[test]
    fn acl_ids_java_would_parse() {
        for ok in [
            "CN=a",
            "CN=a,O=b",
            "cn=a+UID=x",
            "CN=a\\, b",
            "CN=\"a, b\"",
            "2.5.4.3=x",
            "",
            "C=#0c0158",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["foo", "FOO=bar", "CN", "CN=a\\", "CN=\"a", "=x", "CN=#0"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn malformed_names_are_errors() {
        let good = hex(JAVA_PRINTED[0].0);
        for cut in 0..good.len() {
            assert_eq!(name_rfc2253(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(name_rfc2253(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(name_rfc2253(&[0x30, 0x02, 0x31, 0x00]), None);
        assert_eq!(subject_rfc2253(b"\x30\x03\x02\x01\x01").ok(), None);
    }

    #[test]
    fn a_generated_certificate_subject() {
        use crate::tls::test_certs::{ca, leaf, Dir};
        use rustls::pki_types::pem::PemObject;
        let d = Dir::new("x509");
        ca(&d, "a");
        leaf(&d, "a", "c", "/DC=org/CN=a\\, b+UID=x", "IP:127.0.0.1", 2);
        let pem = std::fs::read(d.path("c.crt")).unwrap();
        let cert = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
        assert_eq!(subject_rfc2253(&cert).unwrap(), "CN=a\\, b+UID=x,DC=org");
    }
}
