//! `multi` and `multiRead` bodies: a sequence of (MultiHeader, op record) pairs closed by a
//! header with `done = true` (type -1, err -1), as Java's MultiOperationRecord and
//! MultiResponse write them.

use crate::codec::{Decode, DecodeError, Encode};
use crate::data::Stat;
use crate::ops;
use crate::proto::*;
use bytes::{Bytes, BytesMut};

/// One operation of a multi request. `Create` keeps the header's op code (create, create2 or
/// createContainer all carry a CreateRequest).
#[derive(Debug, Clone, PartialEq)]
pub enum MultiOp {
    Create(i32, CreateRequest),
    CreateTtl(CreateTTLRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> i32 {
        match self {
            MultiOp::Create(t, _) => *t,
            MultiOp::CreateTtl(_) => ops::CREATE_TTL,
            MultiOp::Delete(_) => ops::DELETE,
            MultiOp::SetData(_) => ops::SET_DATA,
            MultiOp::Check(_) => ops::CHECK,
            MultiOp::GetChildren(_) => ops::GET_CHILDREN,
            MultiOp::GetData(_) => ops::GET_DATA,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(_, r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    /// Reads (getChildren, getData) may only be mixed with reads, writes with writes.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

fn end_header() -> MultiHeader {
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
}

/// Decode the ops of a multi request. An unknown op type is an error, as in Java
/// ("Invalid type of op").
pub fn decode_multi_request(input: &mut Bytes) -> Result<Vec<MultiOp>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::decode(input)?;
        if h.done {
            return Ok(out);
        }
        out.push(match h.r#type {
            ops::CREATE | ops::CREATE2 | ops::CREATE_CONTAINER => {
                MultiOp::Create(h.r#type, CreateRequest::decode(input)?)
            }
            ops::CREATE_TTL => MultiOp::CreateTtl(CreateTTLRequest::decode(input)?),
            ops::DELETE => MultiOp::Delete(DeleteRequest::decode(input)?),
            ops::SET_DATA => MultiOp::SetData(SetDataRequest::decode(input)?),
            ops::CHECK => MultiOp::Check(CheckVersionRequest::decode(input)?),
            ops::GET_CHILDREN => MultiOp::GetChildren(GetChildrenRequest::decode(input)?),
            ops::GET_DATA => MultiOp::GetData(GetDataRequest::decode(input)?),
            t => return Err(DecodeError::invalid(format!("Invalid type of op {t}"))),
        });
    }
}

pub fn encode_multi_request(ops_: &[MultiOp], out: &mut BytesMut) {
    for op in ops_ {
        MultiHeader {
            r#type: op.op_code(),
            done: false,
            err: -1,
        }
        .encode(out);
        match op {
            MultiOp::Create(_, r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetChildren(r) => r.encode(out),
            MultiOp::GetData(r) => r.encode(out),
        }
    }
    end_header().encode(out);
}

/// One result of a multi response.
#[derive(Debug, Clone, PartialEq)]
pub enum MultiResult {
    Create(String),
    Create2(String, Stat),
    Delete,
    SetData(Stat),
    Check,
    GetChildren(Vec<String>),
    GetData(Option<Bytes>, Stat),
    /// An error code; in a failed multi every op gets one (0 for ops that would have
    /// succeeded but were rolled back is `RuntimeInconsistency`, -2, as Java reports).
    Error(i32),
}

impl MultiResult {
    fn op_code(&self) -> i32 {
        match self {
            MultiResult::Create(_) => ops::CREATE,
            MultiResult::Create2(..) => ops::CREATE2,
            MultiResult::Delete => ops::DELETE,
            MultiResult::SetData(_) => ops::SET_DATA,
            MultiResult::Check => ops::CHECK,
            MultiResult::GetChildren(_) => ops::GET_CHILDREN,
            MultiResult::GetData(..) => ops::GET_DATA,
            MultiResult::Error(_) => ops::ERROR,
        }
    }
}

pub fn encode_multi_response(results: &[MultiResult], out: &mut BytesMut) {
    for r in results {
        let err = match r {
            MultiResult::Error(e) => *e,
            _ => 0,
        };
        MultiHeader {
            r#type: r.op_code(),
            done: false,
            err,
        }
        .encode(out);
        match r {
            MultiResult::Create(p) => p.encode(out),
            MultiResult::Create2(p, s) => {
                p.encode(out);
                s.encode(out)
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData(s) => s.encode(out),
            MultiResult::GetChildren(c) => c.encode(out),
            MultiResult::GetData(d, s) => {
                d.encode(out);
                s.encode(out)
            }
            MultiResult::Error(e) => e.encode(out),
        }
    }
    end_header().encode(out);
}

pub fn decode_multi_response(input: &mut Bytes) -> Result<Vec<MultiResult>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::decode(input)?;
        if h.done {
            return Ok(out);
        }
        out.push(match h.r#type {
            ops::CREATE => MultiResult::Create(String::decode(input)?),
            ops::CREATE2 => MultiResult::Create2(String::decode(input)?, Stat::decode(input)?),
            ops::DELETE => MultiResult::Delete,
            ops::SET_DATA => MultiResult::SetData(Stat::decode(input)?),
            ops::CHECK => MultiResult::Check,
            ops::GET_CHILDREN => MultiResult::GetChildren(Vec::decode(input)?),
            ops::GET_DATA => MultiResult::GetData(Option::decode(input)?, Stat::decode(input)?),
            ops::ERROR => MultiResult::Error(i32::decode(input)?),
            t => {
                return Err(DecodeError::invalid(format!(
                    "Invalid type {t} in MultiResponse"
                )))
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_and_terminator() {
        let ops_ = vec![
            MultiOp::Create(
                ops::CREATE2,
                CreateRequest {
                    path: "/a".into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: vec![],
                    flags: 0,
                },
            ),
            MultiOp::Delete(DeleteRequest {
                path: "/b".into(),
                version: -1,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/c".into(),
                version: 3,
            }),
        ];
        let mut b = BytesMut::new();
        encode_multi_request(&ops_, &mut b);
        // Terminator: type -1, done true, err -1.
        assert_eq!(
            &b[b.len() - 9..],
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]
        );
        let mut bytes = b.freeze();
        assert_eq!(decode_multi_request(&mut bytes).unwrap(), ops_);
        assert!(bytes.is_empty());
    }

    #[test]
    fn empty_multi_and_errors() {
        let mut b = BytesMut::new();
        encode_multi_request(&[], &mut b);
        assert_eq!(b.len(), 9);
        assert!(decode_multi_request(&mut b.freeze()).unwrap().is_empty());
        // Unknown op type.
        let mut b = BytesMut::new();
        MultiHeader {
            r#type: 99,
            done: false,
            err: -1,
        }
        .encode(&mut b);
        assert!(decode_multi_request(&mut b.freeze()).is_err());
        // Missing terminator.
        let mut b = BytesMut::new();
        MultiHeader {
            r#type: ops::DELETE,
            done: false,
            err: -1,
        }
        .encode(&mut b);
        DeleteRequest {
            path: "/x".into(),
            version: 0,
        }
        .encode(&mut b);
        assert!(decode_multi_request(&mut b.freeze()).is_err());
    }

    #[test]
    fn response_round_trip() {
        let rs = vec![
            MultiResult::Create("/a".into()),
            MultiResult::Create2("/b".into(), Stat::default()),
            MultiResult::Delete,
            MultiResult::SetData(Stat {
                version: 3,
                ..Stat::default()
            }),
            MultiResult::Check,
            MultiResult::GetChildren(vec!["x".into()]),
            MultiResult::GetData(None, Stat::default()),
            MultiResult::Error(-101),
        ];
        let mut b = BytesMut::new();
        encode_multi_response(&rs, &mut b);
        assert_eq!(decode_multi_response(&mut b.freeze()).unwrap(), rs);
    }
}
