//! Property tests of the Jute codec over every generated record, the frame codec, and the
//! client-stream decoder shared with the fuzz target (`jute::fuzz_support`).

use bytes::{BufMut, Bytes, BytesMut};
use jute::codec::{DecodeErrorKind, Record, RecordVisitor, Sample, SampleGen};
use jute::frame::{FrameCodec, FrameError};
use jute::fuzz_support::{check_client_stream, decode_client_stream};
use jute::multi::{encode_multi_request, MultiOp};
use jute::proto::*;
use jute::{ops, DecodeError, Encode};
use jute_codegen::ast::Type;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------------------------
// Every record, type-erased.

struct Entry {
    name: &'static str,
    /// Our encoding of the sample for a seed.
    encode: fn(i64) -> Vec<u8>,
    /// encode -> decode gives the sample back, using every byte, and re-encodes identically.
    round_trip: fn(i64) -> Result<(), String>,
    /// Decode a value from the front of the input; on success return the bytes used, after
    /// checking that the value is stable (its encoding decodes to itself, exactly).
    decode: fn(&[u8]) -> Result<usize, DecodeError>,
}

fn encode_sample<R: Record + Sample>(seed: i64) -> Vec<u8> {
    R::sample(&mut SampleGen::new(seed)).to_bytes().to_vec()
}

fn round_trip<R: Record + Sample>(seed: i64) -> Result<(), String> {
    let v = R::sample(&mut SampleGen::new(seed));
    let enc = v.to_bytes();
    let back = R::from_bytes_exact(enc.clone()).map_err(|e| format!("decode: {e}"))?;
    if back != v {
        return Err(format!("decoded {back:?}, encoded {v:?}"));
    }
    if back.to_bytes() != enc {
        return Err("re-encoding differs".into());
    }
    Ok(())
}

fn decode_front<R: Record>(b: &[u8]) -> Result<usize, DecodeError> {
    let mut input = Bytes::copy_from_slice(b);
    let v = R::decode(&mut input)?;
    let used = b.len() - input.len();
    // Decoding may normalise (null string -> "", booleans > 1 -> true, invalid UTF-8 ->
    // U+FFFD), so the bytes need not be canonical, but the value must be a fixed point...
    let again = reencode(&v);
    if again != v {
        // ...except for characters above U+FFFF (only a 4-byte sequence, lead F0-F4, makes
        // one): like Java we write them as CESU-8 surrogate pairs, which read back as U+FFFD
        // (Java's own round trip does the same). One more round must then be stable.
        assert!(
            b.iter().any(|x| (0xF0..=0xF4).contains(x)),
            "{}: value not stable: {v:?} became {again:?}",
            R::JAVA_NAME
        );
        assert_eq!(
            reencode(&again),
            again,
            "{}: value not stable",
            R::JAVA_NAME
        );
    }
    Ok(used)
}

fn reencode<R: Record>(v: &R) -> R {
    R::from_bytes_exact(v.to_bytes())
        .unwrap_or_else(|e| panic!("{}: re-encoded value does not decode: {e}", R::JAVA_NAME))
}

struct Collect(Vec<Entry>);

impl RecordVisitor for Collect {
    fn visit<R: Record + Sample>(&mut self) {
        self.0.push(Entry {
            name: R::JAVA_NAME,
            encode: encode_sample::<R>,
            round_trip: round_trip::<R>,
            decode: decode_front::<R>,
        });
    }
}

fn entries() -> &'static [Entry] {
    static E: OnceLock<Vec<Entry>> = OnceLock::new();
    E.get_or_init(|| {
        let mut c = Collect(Vec::new());
        jute::visit_all_records(&mut c);
        assert!(c.0.len() >= 60, "only {} records", c.0.len());
        c.0
    })
}

fn seed() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..10_000, any::<i64>()]
}

// ---------------------------------------------------------------------------------------------
// Where the length prefixes are: walk an encoding along the schema (parsed with our IDL
// parser) and note the offset of every string, buffer, vector and map length.

type Schema = HashMap<String, Vec<Type>>;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        let mut s = Schema::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "jute") {
                continue;
            }
            let src = std::fs::read_to_string(&p).unwrap();
            let f = jute_codegen::parse_file(&p.display().to_string(), &src).unwrap();
            for m in f.modules {
                for c in m.classes {
                    let fields = c
                        .fields
                        .into_iter()
                        .map(|f| qualify(f.ty, &m.name))
                        .collect();
                    s.insert(format!("{}.{}", m.name, c.name), fields);
                }
            }
        }
        s
    })
}

fn qualify(t: Type, module: &str) -> Type {
    match t {
        Type::Record(n) if !n.contains('.') => Type::Record(format!("{module}.{n}")),
        Type::Vector(e) => Type::Vector(Box::new(qualify(*e, module))),
        Type::Map(k, v) => Type::Map(Box::new(qualify(*k, module)), Box::new(qualify(*v, module))),
        t => t,
    }
}

fn read_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Walk one value of type `t` at `*at`, pushing the offsets of its length prefixes.
fn walk(b: &[u8], at: &mut usize, t: &Type, lens: &mut Vec<usize>) {
    let fixed = |at: &mut usize, n: usize| *at += n;
    match t {
        Type::Byte | Type::Boolean => fixed(at, 1),
        Type::Int | Type::Float => fixed(at, 4),
        Type::Long | Type::Double => fixed(at, 8),
        Type::Ustring | Type::Buffer => {
            lens.push(*at);
            let n = read_i32(b, *at);
            *at += 4 + n.max(0) as usize;
        }
        Type::Vector(e) => {
            lens.push(*at);
            let n = read_i32(b, *at);
            *at += 4;
            for _ in 0..n.max(0) {
                walk(b, at, e, lens);
            }
        }
        Type::Map(k, v) => {
            lens.push(*at);
            let n = read_i32(b, *at);
            *at += 4;
            for _ in 0..n.max(0) {
                walk(b, at, k, lens);
                walk(b, at, v, lens);
            }
        }
        Type::Record(name) => {
            for f in &schema()[name] {
                walk(b, at, f, lens);
            }
        }
    }
}

/// Offsets of every length prefix in `enc`, an encoding of record `name`.
fn length_offsets(name: &str, enc: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut at = 0;
    walk(enc, &mut at, &Type::Record(name.to_string()), &mut lens);
    assert_eq!(
        at,
        enc.len(),
        "{name}: schema walk disagrees with the encoding"
    );
    lens
}

// ---------------------------------------------------------------------------------------------
// Records.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every record's sample round-trips exactly, for any seed.
    #[test]
    fn records_round_trip(seed in seed()) {
        for e in entries() {
            (e.round_trip)(seed).map_err(|m| TestCaseError::fail(format!("{}: {m}", e.name)))?;
        }
    }

    /// Arbitrary bytes never make a decoder panic, and whatever decodes is stable.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for e in entries() {
            if let Ok(used) = (e.decode)(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }
    }

    /// Valid encodings with random bytes overwritten never make a decoder panic.
    #[test]
    fn mutated_encodings_never_panic(
        seed in seed(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        for e in entries() {
            let mut enc = (e.encode)(seed);
            for &(i, v) in &edits {
                let n = enc.len();
                enc[i % n] = v;
            }
            let _ = (e.decode)(&enc);
            // Also with a random tail removed and random garbage appended.
            enc.truncate(cut % (enc.len() + 1));
            enc.extend(edits.iter().map(|&(_, v)| v));
            let _ = (e.decode)(&enc);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every strict prefix of every encoding is a `Truncated` error, never a value or a panic.
    #[test]
    fn strict_prefixes_are_truncated(seed in seed()) {
        for e in entries() {
            let enc = (e.encode)(seed);
            for cut in 0..enc.len() {
                match (e.decode)(&enc[..cut]) {
                    Err(DecodeError { kind: DecodeErrorKind::Truncated { .. }, .. }) => {}
                    other => {
                        return Err(TestCaseError::fail(format!(
                            "{} seed {seed}: prefix {cut}/{} gave {other:?}",
                            e.name,
                            enc.len()
                        )))
                    }
                }
            }
        }
    }

    /// A length prefix set to a negative value (other than -1, null) or to more than what is
    /// left is an error of the right kind, without allocating or panicking; -1 never panics.
    #[test]
    fn bad_lengths_are_errors(seed in seed(), neg in i32::MIN..-1) {
        let mut mutated = 0;
        for e in entries() {
            let enc = (e.encode)(seed);
            for at in length_offsets(e.name, &enc) {
                let left = (enc.len() - at - 4) as i32;
                for (len, negative) in [
                    (neg, true),
                    (-2, true),
                    (i32::MIN, true),
                    (left + 1, false),
                    (i32::MAX, false),
                    (-1, false),
                ] {
                    let mut m = enc.clone();
                    m[at..at + 4].copy_from_slice(&len.to_be_bytes());
                    let r = (e.decode)(&m);
                    mutated += 1;
                    if len == -1 {
                        continue;
                    }
                    let ok = match &r {
                        Err(DecodeError { kind: DecodeErrorKind::NegativeLength(n), .. }) => {
                            negative && *n == len
                        }
                        Err(DecodeError { kind: DecodeErrorKind::Truncated { .. }, .. }) => {
                            !negative
                        }
                        _ => false,
                    };
                    prop_assert!(
                        ok,
                        "{} seed {seed}: length {len} at offset {at} gave {:?}",
                        e.name,
                        r
                    );
                }
            }
        }
        prop_assert!(mutated > 100, "only {mutated} length mutations");
    }
}

// ---------------------------------------------------------------------------------------------
// Frames.

/// Feed `stream` to a FrameCodec in chunks of the given sizes, decoding after each chunk.
fn frames_chunked(
    stream: &[u8],
    chunks: &[usize],
    max: usize,
) -> (Vec<Bytes>, Option<FrameError>, usize) {
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut sizes = chunks.iter().cycle();
    while pos < stream.len() {
        let n = (*sizes.next().unwrap()).min(stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }
    (out, None, buf.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// However the stream is split, the same frames come out, and nothing is left over.
    #[test]
    fn frames_survive_any_chunking(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        chunks in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let mut stream = BytesMut::new();
        let mut enc = FrameCodec::default();
        for f in &frames {
            enc.encode(Bytes::copy_from_slice(f), &mut stream).unwrap();
        }
        let (got, err, left) = frames_chunked(&stream, &chunks, 300);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(left, 0);
        prop_assert_eq!(got.len(), frames.len());
        for (g, f) in got.iter().zip(&frames) {
            prop_assert_eq!(&g[..], &f[..]);
        }
    }

    /// A negative or oversized length stops the stream with BadLength, after exactly the
    /// frames before it.
    #[test]
    fn bad_frame_length_stops_the_stream(
        before in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..5),
        bad in prop_oneof![i32::MIN..0, 101i32..=i32::MAX],
        tail in proptest::collection::vec(any::<u8>(), 0..50),
        chunks in proptest::collection::vec(1usize..32, 1..8),
    ) {
        let mut stream = BytesMut::new();
        for f in &before {
            stream.put_i32(f.len() as i32);
            stream.put_slice(f);
        }
        stream.put_i32(bad);
        stream.put_slice(&tail);
        let (got, err, _) = frames_chunked(&stream, &chunks, 100);
        prop_assert_eq!(got.len(), before.len());
        prop_assert!(
            matches!(err, Some(FrameError::BadLength { len, max: 100 }) if len == bad),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Client streams (the fuzz target's logic).

fn enc<R: Record + Sample>(seed: i64) -> Vec<u8> {
    encode_sample::<R>(seed)
}

/// Every op a client may send, with a sample body for it.
const OPS: &[i32] = &[
    ops::CREATE,
    ops::DELETE,
    ops::EXISTS,
    ops::GET_DATA,
    ops::SET_DATA,
    ops::GET_ACL,
    ops::SET_ACL,
    ops::GET_CHILDREN,
    ops::SYNC,
    ops::PING,
    ops::GET_CHILDREN2,
    ops::CHECK,
    ops::MULTI,
    ops::CREATE2,
    ops::RECONFIG,
    ops::CHECK_WATCHES,
    ops::REMOVE_WATCHES,
    ops::CREATE_CONTAINER,
    ops::DELETE_CONTAINER,
    ops::CREATE_TTL,
    ops::MULTI_READ,
    ops::AUTH,
    ops::SET_WATCHES,
    ops::SASL,
    ops::GET_EPHEMERALS,
    ops::GET_ALL_CHILDREN_NUMBER,
    ops::SET_WATCHES2,
    ops::ADD_WATCH,
    ops::WHO_AM_I,
    ops::CLOSE_SESSION,
];

fn sample_body(op: i32, seed: i64) -> Vec<u8> {
    match op {
        ops::CREATE | ops::CREATE2 | ops::CREATE_CONTAINER => enc::<CreateRequest>(seed),
        ops::CREATE_TTL => enc::<CreateTTLRequest>(seed),
        ops::DELETE | ops::DELETE_CONTAINER => enc::<DeleteRequest>(seed),
        ops::EXISTS => enc::<ExistsRequest>(seed),
        ops::GET_DATA => enc::<GetDataRequest>(seed),
        ops::SET_DATA => enc::<SetDataRequest>(seed),
        ops::GET_ACL => enc::<GetACLRequest>(seed),
        ops::SET_ACL => enc::<SetACLRequest>(seed),
        ops::GET_CHILDREN => enc::<GetChildrenRequest>(seed),
        ops::GET_CHILDREN2 => enc::<GetChildren2Request>(seed),
        ops::SYNC => enc::<SyncRequest>(seed),
        ops::CHECK => enc::<CheckVersionRequest>(seed),
        ops::RECONFIG => enc::<ReconfigRequest>(seed),
        ops::CHECK_WATCHES => enc::<CheckWatchesRequest>(seed),
        ops::REMOVE_WATCHES => enc::<RemoveWatchesRequest>(seed),
        ops::AUTH => enc::<AuthPacket>(seed),
        ops::SET_WATCHES => enc::<SetWatches>(seed),
        ops::SET_WATCHES2 => enc::<SetWatches2>(seed),
        ops::SASL => enc::<GetSASLRequest>(seed),
        ops::GET_EPHEMERALS => enc::<GetEphemeralsRequest>(seed),
        ops::GET_ALL_CHILDREN_NUMBER => enc::<GetAllChildrenNumberRequest>(seed),
        ops::ADD_WATCH => enc::<AddWatchRequest>(seed),
        ops::MULTI | ops::MULTI_READ => {
            let mut g = SampleGen::new(seed);
            let ops_ = (0..seed.rem_euclid(4))
                .map(|i| match (seed + i).rem_euclid(7) {
                    0 => MultiOp::Create(jute::OpCode::Create, Sample::sample(&mut g)),
                    1 => MultiOp::CreateTtl(Sample::sample(&mut g)),
                    2 => MultiOp::Delete(Sample::sample(&mut g)),
                    3 => MultiOp::SetData(Sample::sample(&mut g)),
                    4 => MultiOp::Check(Sample::sample(&mut g)),
                    5 => MultiOp::GetChildren(Sample::sample(&mut g)),
                    _ => MultiOp::GetData(Sample::sample(&mut g)),
                })
                .collect::<Vec<_>>();
            let mut b = BytesMut::new();
            encode_multi_request(&ops_, &mut b);
            b.to_vec()
        }
        _ => Vec::new(),
    }
}

/// One frame payload of a generated client stream.
#[derive(Debug, Clone)]
enum FrameSpec {
    /// A valid request: op index into OPS, xid, body seed.
    Valid(usize, i32, i64),
    /// A valid request with bytes overwritten.
    Mutated(usize, i32, i64, Vec<(usize, u8)>),
    /// Random bytes.
    Random(Vec<u8>),
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    prop_oneof![
        4 => (0..OPS.len(), any::<i32>(), seed()).prop_map(|(o, x, s)| FrameSpec::Valid(o, x, s)),
        3 => (0..OPS.len(), any::<i32>(), seed(),
              proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6))
            .prop_map(|(o, x, s, m)| FrameSpec::Mutated(o, x, s, m)),
        2 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(FrameSpec::Random),
    ]
}

fn payload(f: &FrameSpec) -> Vec<u8> {
    match f {
        FrameSpec::Valid(o, xid, seed) | FrameSpec::Mutated(o, xid, seed, _) => {
            let mut b = BytesMut::new();
            RequestHeader {
                xid: *xid,
                r#type: OPS[*o],
            }
            .encode(&mut b);
            b.extend_from_slice(&sample_body(OPS[*o], *seed));
            let mut v = b.to_vec();
            if let FrameSpec::Mutated(.., edits) = f {
                for &(i, x) in edits {
                    let n = v.len();
                    v[i % n] = x;
                }
            }
            v
        }
        FrameSpec::Random(v) => v.clone(),
    }
}

fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut s = Vec::new();
    for p in payloads {
        s.extend_from_slice(&(p.len() as i32).to_be_bytes());
        s.extend_from_slice(p);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// A well-formed session (handshake, then valid requests) decodes completely.
    #[test]
    fn valid_client_streams_decode(
        connect_seed in seed(),
        read_only in proptest::option::of(any::<bool>()),
        reqs in proptest::collection::vec((0..OPS.len(), any::<i32>(), seed()), 0..12),
    ) {
        let mut c = enc::<ConnectRequest>(connect_seed);
        if let Some(ro) = read_only {
            c.push(ro as u8);
        }
        let mut payloads = vec![c];
        payloads.extend(reqs.iter().map(|&(o, x, s)| payload(&FrameSpec::Valid(o, x, s))));
        let s = check_client_stream(&framed(&payloads));
        prop_assert!(s.connect_ok);
        prop_assert_eq!(s.frames, payloads.len());
        prop_assert_eq!(s.requests_ok, reqs.len());
        prop_assert_eq!(s.decode_errors, 0);
        prop_assert!(!s.bad_frame_length);
        prop_assert_eq!(s.leftover, 0);
    }

    /// Mixed valid, mutated and random frames, then random trailing bytes: never a panic,
    /// every decoded frame stable, and the frame count is right.
    #[test]
    fn mixed_client_streams_never_panic(
        connect in prop_oneof![
            seed().prop_map(enc::<ConnectRequest>),
            proptest::collection::vec(any::<u8>(), 0..60),
        ],
        frames in proptest::collection::vec(frame_spec(), 0..12),
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut payloads = vec![connect];
        payloads.extend(frames.iter().map(payload));
        let mut stream = framed(&payloads);
        stream.extend_from_slice(&tail);
        let s = check_client_stream(&stream);
        prop_assert!(s.frames >= payloads.len());
        prop_assert_eq!(s.connect_ok as usize + s.requests_ok + s.decode_errors, s.frames);
        prop_assert_eq!(decode_client_stream(&stream), s);
    }

    /// Raw random bytes through the same function as the fuzz target.
    #[test]
    fn random_client_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let s = check_client_stream(&data);
        prop_assert_eq!(s.connect_ok as usize + s.requests_ok + s.decode_errors, s.frames);
    }
}
