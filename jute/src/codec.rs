//! The Jute binary encoding (Java's BinaryOutputArchive / BinaryInputArchive): big-endian
//! integers, one byte per boolean, length-prefixed strings and buffers (-1 = null),
//! count-prefixed vectors and maps. Decoding never panics: truncated input, negative lengths
//! and lengths past the end of the input are errors.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// Innermost-last field path, e.g. `["CreateRequest.acl", "ACL.id", "Id.scheme"]`.
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Needed `needed` more bytes but only `remaining` were left.
    Truncated { needed: usize, remaining: usize },
    /// A length or count below -1.
    NegativeLength(i32),
    /// Bytes left over after a complete record where none may be.
    TrailingBytes(usize),
    /// A value that is structurally valid Jute but not acceptable (e.g. an unknown op type).
    Invalid(String),
}

impl DecodeError {
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError {
            kind,
            fields: Vec::new(),
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::Invalid(msg.into()))
    }
    /// Record that the error happened inside `field` (called by generated code).
    pub fn within(mut self, field: &'static str) -> Self {
        self.fields.insert(0, field);
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Truncated { needed, remaining } => {
                write!(f, "truncated: needed {needed} bytes, {remaining} left")?
            }
            DecodeErrorKind::NegativeLength(n) => write!(f, "negative length {n}")?,
            DecodeErrorKind::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes")?,
            DecodeErrorKind::Invalid(m) => write!(f, "{m}")?,
        }
        if !self.fields.is_empty() {
            write!(f, " (in {})", self.fields.join(" > "))?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// A value with a Jute binary encoding.
pub trait Encode {
    fn encode(&self, out: &mut BytesMut);

    /// Encode into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

/// A value that can be read from its Jute binary encoding. Buffers are zero-copy slices of
/// the input.
pub trait Decode: Sized {
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError>;

    /// Decode a value that must use all of `bytes`.
    fn from_bytes_exact(mut bytes: Bytes) -> Result<Self, DecodeError> {
        let v = Self::decode(&mut bytes)?;
        if bytes.has_remaining() {
            return Err(DecodeError::new(DecodeErrorKind::TrailingBytes(
                bytes.remaining(),
            )));
        }
        Ok(v)
    }
}

/// A generated record: a Jute class.
pub trait Record: Encode + Decode + Clone + PartialEq + fmt::Debug + Default + 'static {
    /// The Java class name, e.g. `org.apache.zookeeper.data.Stat`.
    const JAVA_NAME: &'static str;
}

fn need(input: &Bytes, n: usize) -> Result<(), DecodeError> {
    if input.remaining() < n {
        Err(DecodeError::new(DecodeErrorKind::Truncated {
            needed: n,
            remaining: input.remaining(),
        }))
    } else {
        Ok(())
    }
}

/// Read a length prefix: `None` for -1 (null), an error for other negatives or a length
/// longer than what is left (when `bytes_per_item` is non-zero).
fn read_len(input: &mut Bytes, bytes_per_item: usize) -> Result<Option<usize>, DecodeError> {
    let n = i32::decode(input)?;
    if n == -1 {
        return Ok(None);
    }
    if n < 0 {
        return Err(DecodeError::new(DecodeErrorKind::NegativeLength(n)));
    }
    let n = n as usize;
    need(input, n.saturating_mul(bytes_per_item))?;
    Ok(Some(n))
}

macro_rules! fixed {
    ($t:ty, $get:ident, $put:ident) => {
        impl Encode for $t {
            #[inline]
            fn encode(&self, out: &mut BytesMut) {
                out.$put(*self);
            }
        }
        impl Decode for $t {
            #[inline]
            fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
                need(input, std::mem::size_of::<$t>())?;
                Ok(input.$get())
            }
        }
    };
}

fixed!(i8, get_i8, put_i8);
fixed!(i32, get_i32, put_i32);
fixed!(i64, get_i64, put_i64);
fixed!(f32, get_f32, put_f32);
fixed!(f64, get_f64, put_f64);

impl Encode for bool {
    #[inline]
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(*self as u8);
    }
}

impl Decode for bool {
    /// Like Java's DataInput.readBoolean: any non-zero byte is true.
    #[inline]
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
        need(input, 1)?;
        Ok(input.get_u8() != 0)
    }
}

/// Java writes strings char by char: BMP characters as 1-3 byte UTF-8, and each half of a
/// surrogate pair as its own 3-byte sequence (CESU-8). We write the same bytes.
impl Encode for String {
    fn encode(&self, out: &mut BytesMut) {
        self.as_str().encode(out)
    }
}

/// Java's jute writes a string as its UTF-16 units each encoded on its own: a character
/// outside the BMP becomes two 3-byte surrogates, not one 4-byte sequence.
impl Encode for str {
    fn encode(&self, out: &mut BytesMut) {
        if self.is_ascii() || !self.chars().any(|c| c as u32 > 0xFFFF) {
            out.put_i32(self.len() as i32);
            out.put_slice(self.as_bytes());
            return;
        }
        let mut tmp = Vec::with_capacity(self.len() + 8);
        for unit in self.encode_utf16() {
            let c = unit as u32;
            if c < 0x80 {
                tmp.push(c as u8);
            } else if c < 0x800 {
                tmp.push((0xC0 | (c >> 6)) as u8);
                tmp.push((0x80 | (c & 0x3F)) as u8);
            } else {
                tmp.push((0xE0 | (c >> 12)) as u8);
                tmp.push((0x80 | ((c >> 6) & 0x3F)) as u8);
                tmp.push((0x80 | (c & 0x3F)) as u8);
            }
        }
        out.put_i32(tmp.len() as i32);
        out.put_slice(&tmp);
    }
}

/// A null string (-1) decodes as empty. Java keeps the null, and where its request handling
/// dereferences it the answer differs from the one for `""` (MarshallingError): the server
/// finds those cases in the raw body (`zk_server::null_strings`). Invalid UTF-8 is replaced
/// with U+FFFD exactly as Java's `new String(bytes, UTF_8)` does (see `java_utf8_lossy`).
impl Decode for String {
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
        let Some(n) = read_len(input, 1)? else {
            return Ok(String::new());
        };
        let raw = input.split_to(n);
        Ok(match std::str::from_utf8(&raw) {
            Ok(s) => s.to_owned(),
            Err(_) => java_utf8_lossy(&raw),
        })
    }
}

/// Java's (JDK 17 `String.decodeUTF8_UTF16`) decoding of malformed UTF-8, which differs from
/// `String::from_utf8_lossy` in one respect: Java accepts any continuation byte after 0xED and
/// replaces an encoded surrogate (`ED A0..BF xx`, e.g. each half of a CESU-8 pair, which is
/// how Java itself writes characters above U+FFFF) or its truncated start (`ED A0..BF`) with
/// one U+FFFD, where Rust emits one per byte. Otherwise the two agree; checked against Java by
/// `jute/tests/golden.rs`.
fn java_utf8_lossy(src: &[u8]) -> String {
    const REPL: u16 = 0xFFFD;
    let cont = |b: u8| b & 0xC0 == 0x80;
    let malformed3_2 = |b1: u8, b2: u8| (b1 == 0xE0 && b2 & 0xE0 == 0x80) || !cont(b2);
    let malformed4_2 = |b1: u8, b2: u8| {
        (b1 == 0xF0 && !(0x90..=0xBF).contains(&b2))
            || (b1 == 0xF4 && b2 & 0xF0 != 0x80)
            || !cont(b2)
    };
    let mut out: Vec<u16> = Vec::with_capacity(src.len());
    let sl = src.len();
    let mut sp = 0;
    while sp < sl {
        let b1 = src[sp];
        sp += 1;
        if b1 < 0x80 {
            out.push(b1 as u16);
        } else if b1 >> 5 == 0b110 && b1 & 0x1E != 0 {
            if sp < sl {
                let b2 = src[sp];
                if cont(b2) {
                    sp += 1;
                    out.push((b1 as u16 & 0x1F) << 6 | (b2 as u16 & 0x3F));
                } else {
                    out.push(REPL);
                }
                continue;
            }
            out.push(REPL);
            break;
        } else if b1 >> 4 == 0b1110 {
            if sp + 1 < sl {
                let (b2, b3) = (src[sp], src[sp + 1]);
                if malformed3_2(b1, b2) {
                    out.push(REPL);
                } else if !cont(b3) {
                    out.push(REPL);
                    sp += 1;
                } else {
                    sp += 2;
                    let c = (b1 as u16 & 0x0F) << 12 | (b2 as u16 & 0x3F) << 6 | (b3 as u16 & 0x3F);
                    out.push(if (0xD800..0xE000).contains(&c) {
                        REPL
                    } else {
                        c
                    });
                }
                continue;
            }
            out.push(REPL);
            if sp < sl && malformed3_2(b1, src[sp]) {
                continue;
            }
            break;
        } else if b1 >> 3 == 0b11110 {
            if sp + 2 < sl {
                let (b2, b3, b4) = (src[sp], src[sp + 1], src[sp + 2]);
                let uc = (b1 as u32 & 0x07) << 18
                    | (b2 as u32 & 0x3F) << 12
                    | (b3 as u32 & 0x3F) << 6
                    | (b4 as u32 & 0x3F);
                if !cont(b2) || !cont(b3) || !cont(b4) || !(0x10000..=0x10FFFF).contains(&uc) {
                    out.push(REPL);
                    // Skip the longest valid prefix, as Java's malformed4 does.
                    if !(b1 > 0xF4 || malformed4_2(b1, b2)) {
                        sp += if cont(b3) { 2 } else { 1 };
                    }
                } else {
                    sp += 3;
                    let u = uc - 0x10000;
                    out.push(0xD800 | (u >> 10) as u16);
                    out.push(0xDC00 | (u & 0x3FF) as u16);
                }
                continue;
            }
            out.push(REPL);
            if b1 > 0xF4 || (sp < sl && malformed4_2(b1, src[sp])) {
                continue;
            }
            sp += 1;
            if sp < sl && !cont(src[sp]) {
                continue;
            }
            break;
        } else {
            out.push(REPL);
        }
    }
    String::from_utf16_lossy(&out)
}

/// `buffer`: `None` is Java's null (-1), distinct from an empty buffer.
impl Encode for Option<Bytes> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(b) => {
                out.put_i32(b.len() as i32);
                out.put_slice(b);
            }
        }
    }
}

impl Decode for Option<Bytes> {
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(read_len(input, 1)?.map(|n| input.split_to(n)))
    }
}

/// `vector<T>`: a null vector (-1) decodes as empty; Java's server handles a null and an
/// empty list alike wherever a client may send one.
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        for v in self {
            v.encode(out);
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
        // Every element of every Jute type takes at least one byte, so a count beyond the
        // remaining bytes is rejected before allocating.
        let Some(n) = read_len(input, 1)? else {
            return Ok(Vec::new());
        };
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode(input)?);
        }
        Ok(v)
    }
}

/// A `map<K,V>` entry; maps are `Vec<(K, V)>` in wire order.
impl<K: Encode, V: Encode> Encode for (K, V) {
    fn encode(&self, out: &mut BytesMut) {
        self.0.encode(out);
        self.1.encode(out);
    }
}

impl<K: Decode, V: Decode> Decode for (K, V) {
    fn decode(input: &mut Bytes) -> Result<Self, DecodeError> {
        Ok((K::decode(input)?, V::decode(input)?))
    }
}

/// Deterministic sample values, generated the same way by our Java golden-vector program
/// (`jute/golden/Golden.java`). Every primitive draws the next counter value `k`:
/// byte `(k*37) as i8`; boolean `k odd`; int `(k as i32) * -1640531535` (wrapping);
/// long `k * -7046029254386353131` (wrapping); float `k as f32 * 0.5`; double
/// `k as f64 * 0.25`; ustring `"s{k}"` plus `"é"` when `k%3==0`, `"/ü€"` when `k%3==1`;
/// buffer null when `k%5==0`, else `k%7` bytes `(k + 31*i) as u8`; vector `k%3` elements;
/// map `k%3` entries (keys then values, as generated).
#[cfg(feature = "sample")]
pub struct SampleGen {
    k: i64,
}

#[cfg(feature = "sample")]
impl SampleGen {
    pub fn new(seed: i64) -> Self {
        SampleGen { k: seed }
    }
    pub fn next_value(&mut self) -> i64 {
        self.k = self.k.wrapping_add(1);
        self.k
    }
}

/// A value with a deterministic sample (see [`SampleGen`]).
#[cfg(feature = "sample")]
pub trait Sample {
    fn sample(g: &mut SampleGen) -> Self;
}

#[cfg(feature = "sample")]
mod sample_impls {
    use super::{Sample, SampleGen};
    use bytes::Bytes;

    impl Sample for i8 {
        fn sample(g: &mut SampleGen) -> Self {
            g.next_value().wrapping_mul(37) as i8
        }
    }
    impl Sample for bool {
        fn sample(g: &mut SampleGen) -> Self {
            g.next_value() & 1 == 1
        }
    }
    impl Sample for i32 {
        fn sample(g: &mut SampleGen) -> Self {
            (g.next_value() as i32).wrapping_mul(-1640531535)
        }
    }
    impl Sample for i64 {
        fn sample(g: &mut SampleGen) -> Self {
            g.next_value().wrapping_mul(-7046029254386353131)
        }
    }
    impl Sample for f32 {
        fn sample(g: &mut SampleGen) -> Self {
            g.next_value() as f32 * 0.5
        }
    }
    impl Sample for f64 {
        fn sample(g: &mut SampleGen) -> Self {
            g.next_value() as f64 * 0.25
        }
    }
    impl Sample for String {
        fn sample(g: &mut SampleGen) -> Self {
            let k = g.next_value();
            let tail = match k.rem_euclid(3) {
                0 => "é",
                1 => "/ü€",
                _ => "",
            };
            format!("s{k}{tail}")
        }
    }
    impl Sample for Option<Bytes> {
        fn sample(g: &mut SampleGen) -> Self {
            let k = g.next_value();
            if k.rem_euclid(5) == 0 {
                return None;
            }
            let n = k.rem_euclid(7);
            Some((0..n).map(|i| k.wrapping_add(31 * i) as u8).collect())
        }
    }
    impl<T: Sample> Sample for Vec<T> {
        fn sample(g: &mut SampleGen) -> Self {
            let n = g.next_value().rem_euclid(3);
            (0..n).map(|_| T::sample(g)).collect()
        }
    }
    impl<K: Sample, V: Sample> Sample for (K, V) {
        fn sample(g: &mut SampleGen) -> Self {
            let k = K::sample(g);
            (k, V::sample(g))
        }
    }
}

/// Visits record types generically (see `visit_all_records`).
#[cfg(feature = "sample")]
pub trait RecordVisitor {
    fn visit<R: Record + Sample>(&mut self);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<T: Encode>(v: &T) -> Vec<u8> {
        v.to_bytes().to_vec()
    }

    #[test]
    fn primitives_are_big_endian() {
        assert_eq!(enc(&1i32), [0, 0, 0, 1]);
        assert_eq!(
            enc(&-2i64),
            [0xff; 8][..7]
                .iter()
                .copied()
                .chain([0xfe])
                .collect::<Vec<_>>()
        );
        assert_eq!(enc(&true), [1]);
        assert_eq!(enc(&1.0f32), [0x3f, 0x80, 0, 0]);
    }

    #[test]
    fn null_buffer_vs_empty() {
        assert_eq!(enc(&None::<Bytes>), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(enc(&Some(Bytes::new())), [0, 0, 0, 0]);
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Option::<Bytes>::decode(&mut b).unwrap(), None);
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(String::decode(&mut b).unwrap(), "");
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        assert!(Vec::<i32>::decode(&mut b).unwrap().is_empty());
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(
            String::decode(&mut b).unwrap_err().kind,
            DecodeErrorKind::NegativeLength(-2)
        );
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, b'a']);
        assert!(matches!(
            Option::<Bytes>::decode(&mut b).unwrap_err().kind,
            DecodeErrorKind::Truncated { .. }
        ));
        // A huge vector count must not allocate.
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
        assert!(Vec::<i64>::decode(&mut b).is_err());
        let mut b = Bytes::from_static(&[0, 0]);
        assert!(i32::decode(&mut b).is_err());
    }

    #[test]
    fn strings_match_java_encoding() {
        assert_eq!(enc(&"é".to_string()), [0, 0, 0, 2, 0xc3, 0xa9]);
        // U+1F600 is written as two 3-byte surrogates, as Java does.
        assert_eq!(
            enc(&"\u{1F600}".to_string()),
            [0, 0, 0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]
        );
        let mut b = Bytes::from_static(&[0, 0, 0, 2, 0xff, b'a']);
        assert_eq!(String::decode(&mut b).unwrap(), "\u{FFFD}a");
        // Java reads each CESU-8 surrogate back as a single U+FFFD (Rust's lossy UTF-8
        // decoder would give three per surrogate).
        let mut b = Bytes::from_static(&[0, 0, 0, 7, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80, b'a']);
        assert_eq!(String::decode(&mut b).unwrap(), "\u{FFFD}\u{FFFD}a");
    }
}
