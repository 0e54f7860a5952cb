//! `multi` and `multiRead` bodies: a sequence of (MultiHeader, op record) pairs closed by a
//! header with `done = true` (type -1, err -1), as Java's MultiOperationRecord and
//! MultiResponse write them.

use crate::codec::{Decode, DecodeError, Encode};
use crate::data::Stat;
use crate::ops::OpCode;
use crate::proto::*;
use bytes::{Bytes, BytesMut};

/// One operation of a multi request. `Create` keeps the header's op code (create, create2 or
/// createContainer all carry a CreateRequest).
#[derive(Debug, Clone, PartialEq)]
pub enum MultiOp {
    Create(OpCode, CreateRequest),
    CreateTtl(CreateTTLRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(t, _) => *t,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
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
        r#type: OpCode::Error.code(),
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
        let invalid = || DecodeError::invalid(format!("Invalid type of op {}", h.r#type));
        let op = OpCode::try_from(h.r#type).map_err(|_| invalid())?;
        out.push(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
                MultiOp::Create(op, CreateRequest::decode(input)?)
            }
            OpCode::CreateTtl => MultiOp::CreateTtl(CreateTTLRequest::decode(input)?),
            OpCode::Delete => MultiOp::Delete(DeleteRequest::decode(input)?),
            OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(input)?),
            OpCode::Check => MultiOp::Check(CheckVersionRequest::decode(input)?),
            OpCode::GetChildren => MultiOp::GetChildren(GetChildrenRequest::decode(input)?),
            OpCode::GetData => MultiOp::GetData(GetDataRequest::decode(input)?),
            _ => return Err(invalid()),
        });
    }
}

pub fn encode_multi_request(ops_: &[MultiOp], out: &mut BytesMut) {
    for op in ops_ {
        MultiHeader {
            r#type: op.op_code().code(),
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
    fn op_code(&self) -> OpCode {
        match self {
            MultiResult::Create(_) => OpCode::Create,
            MultiResult::Create2(..) => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData(_) => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetChildren(_) => OpCode::GetChildren,
            MultiResult::GetData(..) => OpCode::GetData,
            MultiResult::Error(_) => OpCode::Error,
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
            r#type: r.op_code().code(),
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
        let invalid =
            || DecodeError::invalid(format!("Invalid type {} in MultiResponse", h.r#type));
        out.push(match OpCode::try_from(h.r#type).map_err(|_| invalid())? {
            OpCode::Create => MultiResult::Create(String::decode(input)?),
            OpCode::Create2 => MultiResult::Create2(String::decode(input)?, Stat::decode(input)?),
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData(Stat::decode(input)?),
            OpCode::Check => MultiResult::Check,
            OpCode::GetChildren => MultiResult::GetChildren(Vec::decode(input)?),
            OpCode::GetData => MultiResult::GetData(Option::decode(input)?, Stat::decode(input)?),
            OpCode::Error => MultiResult::Error(i32::decode(input)?),
            _ => return Err(invalid()),
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
                OpCode::Create2,
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
            r#type: OpCode::Delete.code(),
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
