//! Decoding a raw client byte stream the way the server reads it, for the fuzz target
//! (`jute/fuzz`) and the property tests: frames from [`FrameCodec`], the first one a
//! [`Connect`] handshake, every later one a [`RequestHeader`] and the body its op type calls
//! for (the records Java's server deserializes for that op).

use crate::codec::{Decode, DecodeError, Encode};
use crate::connect::Connect;
use crate::frame::{FrameCodec, FrameError};
use crate::multi::{self, MultiOp};
use crate::ops::OpCode;
use crate::proto::*;
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// The body of a client request, by op type.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// Ops without a body (ping, closeSession, whoAmI).
    Empty,
    /// create, create2 and createContainer.
    Create(CreateRequest),
    CreateTtl(CreateTTLRequest),
    /// delete and deleteContainer.
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetACLRequest),
    SetAcl(SetACLRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildren2Request),
    Sync(SyncRequest),
    Check(CheckVersionRequest),
    /// multi and multiRead.
    Multi(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSASLRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    /// An op type the server does not know; its bytes are kept as they came.
    Unknown(Bytes),
}

/// Decode one request frame: header, then the body for its type. Bytes after the body are
/// ignored, as Java's server ignores them.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, RequestBody), DecodeError> {
    decode_request_from(&mut frame)
}

/// [`decode_request`], leaving what follows the body in `input`.
pub fn decode_request_from(input: &mut Bytes) -> Result<(RequestHeader, RequestBody), DecodeError> {
    let h = RequestHeader::decode(input)?;
    let Ok(op) = OpCode::try_from(h.r#type) else {
        return Ok((h, RequestBody::Unknown(std::mem::take(input))));
    };
    let body = match op {
        OpCode::Ping | OpCode::CloseSession | OpCode::WhoAmI => RequestBody::Empty,
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            RequestBody::Create(Decode::decode(input)?)
        }
        OpCode::CreateTtl => RequestBody::CreateTtl(Decode::decode(input)?),
        OpCode::Delete | OpCode::DeleteContainer => RequestBody::Delete(Decode::decode(input)?),
        OpCode::Exists => RequestBody::Exists(Decode::decode(input)?),
        OpCode::GetData => RequestBody::GetData(Decode::decode(input)?),
        OpCode::SetData => RequestBody::SetData(Decode::decode(input)?),
        OpCode::GetAcl => RequestBody::GetAcl(Decode::decode(input)?),
        OpCode::SetAcl => RequestBody::SetAcl(Decode::decode(input)?),
        OpCode::GetChildren => RequestBody::GetChildren(Decode::decode(input)?),
        OpCode::GetChildren2 => RequestBody::GetChildren2(Decode::decode(input)?),
        OpCode::Sync => RequestBody::Sync(Decode::decode(input)?),
        OpCode::Check => RequestBody::Check(Decode::decode(input)?),
        OpCode::Multi | OpCode::MultiRead => {
            RequestBody::Multi(multi::decode_multi_request(input)?)
        }
        OpCode::Reconfig => RequestBody::Reconfig(Decode::decode(input)?),
        OpCode::CheckWatches => RequestBody::CheckWatches(Decode::decode(input)?),
        OpCode::RemoveWatches => RequestBody::RemoveWatches(Decode::decode(input)?),
        OpCode::Auth => RequestBody::Auth(Decode::decode(input)?),
        OpCode::SetWatches => RequestBody::SetWatches(Decode::decode(input)?),
        OpCode::SetWatches2 => RequestBody::SetWatches2(Decode::decode(input)?),
        OpCode::Sasl => RequestBody::Sasl(Decode::decode(input)?),
        OpCode::GetEphemerals => RequestBody::GetEphemerals(Decode::decode(input)?),
        OpCode::GetAllChildrenNumber => RequestBody::GetAllChildrenNumber(Decode::decode(input)?),
        OpCode::AddWatch => RequestBody::AddWatch(Decode::decode(input)?),
        // Not client requests: their bytes are kept as they came.
        OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
            RequestBody::Unknown(std::mem::take(input))
        }
    };
    Ok((h, body))
}

/// Encode a request frame's payload (header and body), the inverse of [`decode_request`].
pub fn encode_request(h: &RequestHeader, body: &RequestBody, out: &mut BytesMut) {
    h.encode(out);
    match body {
        RequestBody::Empty => {}
        RequestBody::Create(r) => r.encode(out),
        RequestBody::CreateTtl(r) => r.encode(out),
        RequestBody::Delete(r) => r.encode(out),
        RequestBody::Exists(r) => r.encode(out),
        RequestBody::GetData(r) => r.encode(out),
        RequestBody::SetData(r) => r.encode(out),
        RequestBody::GetAcl(r) => r.encode(out),
        RequestBody::SetAcl(r) => r.encode(out),
        RequestBody::GetChildren(r) => r.encode(out),
        RequestBody::GetChildren2(r) => r.encode(out),
        RequestBody::Sync(r) => r.encode(out),
        RequestBody::Check(r) => r.encode(out),
        RequestBody::Multi(o) => multi::encode_multi_request(o, out),
        RequestBody::Reconfig(r) => r.encode(out),
        RequestBody::CheckWatches(r) => r.encode(out),
        RequestBody::RemoveWatches(r) => r.encode(out),
        RequestBody::Auth(r) => r.encode(out),
        RequestBody::SetWatches(r) => r.encode(out),
        RequestBody::SetWatches2(r) => r.encode(out),
        RequestBody::Sasl(r) => r.encode(out),
        RequestBody::GetEphemerals(r) => r.encode(out),
        RequestBody::GetAllChildrenNumber(r) => r.encode(out),
        RequestBody::AddWatch(r) => r.encode(out),
        RequestBody::Unknown(b) => out.extend_from_slice(b),
    }
}

/// What [`decode_client_stream`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Complete frames read.
    pub frames: usize,
    /// The first frame was a valid handshake.
    pub connect_ok: bool,
    /// Later frames that decoded as a request.
    pub requests_ok: usize,
    /// Frames (the handshake included) that failed to decode.
    pub decode_errors: usize,
    /// The stream ended at a bad frame length (negative or above `jute.maxbuffer`).
    pub bad_frame_length: bool,
    /// Bytes after the last complete frame.
    pub leftover: usize,
}

/// Split `data` into frames and decode them as a client session would send them. Never
/// panics, whatever the input.
pub fn decode_client_stream(data: &[u8]) -> StreamSummary {
    let mut s = StreamSummary::default();
    for_each_frame(data, &mut s, |i, frame, s| {
        if i == 0 {
            match Connect::decode(frame) {
                Ok(_) => s.connect_ok = true,
                Err(_) => s.decode_errors += 1,
            }
        } else {
            match decode_request(frame) {
                Ok(_) => s.requests_ok += 1,
                Err(_) => s.decode_errors += 1,
            }
        }
    });
    s
}

/// Like [`decode_client_stream`], and also checks that every frame that decodes is stable:
/// re-encoding it and decoding that gives the same value, using every byte. Panics if not,
/// which is a bug in the codec; this is what the fuzz target runs.
///
/// One exception, shared with Java: a character above U+FFFF (decoded from a 4-byte UTF-8
/// sequence) is written as a CESU-8 surrogate pair, which reads back as U+FFFD. Such a value
/// must be stable after that one extra round.
pub fn check_client_stream(data: &[u8]) -> StreamSummary {
    let mut s = StreamSummary::default();
    for_each_frame(data, &mut s, |i, frame, s| {
        let has_4_byte_lead = frame.iter().any(|b| (0xF0..=0xF4).contains(b));
        if i == 0 {
            match Connect::decode(frame) {
                Ok(c) => {
                    s.connect_ok = true;
                    assert_stable(c, has_4_byte_lead, |c| {
                        let mut out = BytesMut::new();
                        c.encode(&mut out);
                        Connect::decode(out.freeze()).expect("re-encoded handshake decodes")
                    });
                }
                Err(_) => s.decode_errors += 1,
            }
        } else {
            match decode_request(frame) {
                Ok(r) => {
                    s.requests_ok += 1;
                    assert_stable(r, has_4_byte_lead, |(h, body)| {
                        let mut out = BytesMut::new();
                        encode_request(h, body, &mut out);
                        let mut out = out.freeze();
                        let again =
                            decode_request_from(&mut out).expect("re-encoded request decodes");
                        assert!(
                            out.is_empty(),
                            "re-encoded request has {} extra bytes",
                            out.len()
                        );
                        again
                    });
                }
                Err(_) => s.decode_errors += 1,
            }
        }
    });
    s
}

fn assert_stable<T: PartialEq + std::fmt::Debug>(
    v: T,
    may_change_once: bool,
    round: impl Fn(&T) -> T,
) {
    let again = round(&v);
    if again != v {
        assert!(may_change_once, "not stable: {v:?} became {again:?}");
        let third = round(&again);
        assert_eq!(third, again, "not stable after one round");
    }
}

fn for_each_frame(
    data: &[u8],
    s: &mut StreamSummary,
    mut f: impl FnMut(usize, Bytes, &mut StreamSummary),
) {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::from(data);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(frame)) => {
                f(s.frames, frame, s);
                s.frames += 1;
            }
            Ok(None) => break,
            Err(FrameError::BadLength { .. }) => {
                s.bad_frame_length = true;
                break;
            }
            Err(FrameError::Io(_)) => break,
        }
    }
    s.leftover = buf.len();
}

/// A seeded xorshift64* generator for mutation tests: a failure replays from its seed.
pub struct MutationRng(u64);

impl MutationRng {
    pub fn new(seed: u64) -> MutationRng {
        MutationRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// A few random edits of `seed`, as the decoders' mutation tests apply them: byte flips,
/// big-endian ints set to edge values, cuts, inserted bytes.
pub fn mutate(seed: &[u8], rng: &mut MutationRng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 if at < b.len() => b[at] ^= 1 << rng.below(8),
            1 if at + 4 <= b.len() => {
                let v: i32 = [0, -1, 1, i32::MAX, i32::MIN, 0x100000, 7][rng.below(7)];
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            2 => b.truncate(at),
            3 => {
                let n = rng.below(16);
                b.splice(at..at, (0..n).map(|_| rng.next_u64() as u8));
            }
            _ if at < b.len() => b[at] = rng.next_u64() as u8,
            _ => {}
        }
    }
    b
}
