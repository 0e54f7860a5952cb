//! Transactions: the idempotent state changes that prep produces, logs persist, quorum
//! replicates and `DataTree::apply` applies. The body is typed here; `encode`/`decode` give
//! Java's layout (TxnHeader, then the body record chosen by the header's type; multi
//! sub-txns as `Txn{type, data}`).

use crate::error::ErrorCode;
use bytes::{Bytes, BytesMut};
use jute::txn::*;
use jute::OpCode;
use jute::{Decode, DecodeError, Encode};

/// A transaction body, one variant per txn record.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnBody {
    /// `create` / `create2` (the header type tells which).
    Create(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTTLTxn),
    /// `delete` / `deleteContainer`.
    Delete(DeleteTxn),
    /// `setData` / `reconfig`.
    SetData(SetDataTxn),
    SetAcl(SetACLTxn),
    Check(CheckVersionTxn),
    /// Sub-transactions with their own op types.
    Multi(Vec<(OpCode, TxnBody)>),
    CreateSession(CreateSessionTxn),
    /// `closeSession`; `None` for the old body-less form.
    CloseSession(Option<CloseSessionTxn>),
    Error(ErrorTxn),
}

/// A transaction: header (session, cxid, zxid, time, type) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Txn {
    pub hdr: TxnHeader,
    pub body: TxnBody,
}

/// The op code of a txn header's type.
fn txn_type(ty: i32) -> Result<OpCode, DecodeError> {
    OpCode::try_from(ty).map_err(|_| DecodeError::invalid(format!("unknown txn type {ty}")))
}

impl TxnBody {
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            TxnBody::Create(t) => t.encode(out),
            TxnBody::CreateContainer(t) => t.encode(out),
            TxnBody::CreateTtl(t) => t.encode(out),
            TxnBody::Delete(t) => t.encode(out),
            TxnBody::SetData(t) => t.encode(out),
            TxnBody::SetAcl(t) => t.encode(out),
            TxnBody::Check(t) => t.encode(out),
            TxnBody::Multi(subs) => {
                let txns = subs
                    .iter()
                    .map(|(ty, b)| {
                        let mut buf = BytesMut::new();
                        b.encode(&mut buf);
                        jute::txn::Txn {
                            r#type: ty.code(),
                            data: Some(buf.freeze()),
                        }
                    })
                    .collect();
                MultiTxn { txns }.encode(out)
            }
            TxnBody::CreateSession(t) => t.encode(out),
            TxnBody::CloseSession(Some(t)) => t.encode(out),
            TxnBody::CloseSession(None) => {}
            TxnBody::Error(t) => t.encode(out),
        }
    }

    /// Decode the body of a txn of type `ty` (the wire number of its header).
    pub fn decode(ty: i32, input: &mut Bytes) -> Result<TxnBody, DecodeError> {
        TxnBody::decode_op(txn_type(ty)?, input)
    }

    /// Decode the body of a txn of type `op`.
    pub fn decode_op(op: OpCode, input: &mut Bytes) -> Result<TxnBody, DecodeError> {
        let unknown = || DecodeError::invalid(format!("unknown txn type {}", op.code()));
        Ok(match op {
            OpCode::Create | OpCode::Create2 => TxnBody::Create(CreateTxn::decode(input)?),
            OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn::decode(input)?),
            OpCode::CreateTtl => TxnBody::CreateTtl(CreateTTLTxn::decode(input)?),
            OpCode::Delete | OpCode::DeleteContainer => TxnBody::Delete(DeleteTxn::decode(input)?),
            OpCode::SetData | OpCode::Reconfig => TxnBody::SetData(SetDataTxn::decode(input)?),
            OpCode::SetAcl => TxnBody::SetAcl(SetACLTxn::decode(input)?),
            OpCode::Check => TxnBody::Check(CheckVersionTxn::decode(input)?),
            OpCode::Multi => {
                let m = MultiTxn::decode(input)?;
                let mut subs = Vec::with_capacity(m.txns.len());
                for t in m.txns {
                    let mut data = t.data.unwrap_or_default();
                    let op = txn_type(t.r#type)?;
                    subs.push((op, TxnBody::decode_op(op, &mut data)?));
                }
                TxnBody::Multi(subs)
            }
            OpCode::CreateSession => TxnBody::CreateSession(CreateSessionTxn::decode(input)?),
            OpCode::CloseSession => {
                if input.is_empty() {
                    TxnBody::CloseSession(None)
                } else {
                    TxnBody::CloseSession(Some(CloseSessionTxn::decode(input)?))
                }
            }
            OpCode::Error => TxnBody::Error(ErrorTxn::decode(input)?),
            OpCode::Notification
            | OpCode::Exists
            | OpCode::GetData
            | OpCode::GetAcl
            | OpCode::GetChildren
            | OpCode::Sync
            | OpCode::Ping
            | OpCode::GetChildren2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::MultiRead
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::Sasl
            | OpCode::GetEphemerals
            | OpCode::GetAllChildrenNumber
            | OpCode::SetWatches2
            | OpCode::AddWatch
            | OpCode::WhoAmI => return Err(unknown()),
        })
    }
}

impl Txn {
    /// An error txn, as Java logs for a failed write.
    pub fn error(mut hdr: TxnHeader, err: ErrorCode) -> Txn {
        hdr.r#type = OpCode::Error.code();
        Txn {
            hdr,
            body: TxnBody::Error(ErrorTxn { err: err.code() }),
        }
    }

    pub fn encode(&self, out: &mut BytesMut) {
        self.hdr.encode(out);
        self.body.encode(out);
    }

    pub fn decode(input: &mut Bytes) -> Result<Txn, DecodeError> {
        let hdr = TxnHeader::decode(input)?;
        let body = TxnBody::decode(hdr.r#type, input)?;
        Ok(Txn { hdr, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_round_trip() {
        let t = Txn {
            hdr: TxnHeader {
                client_id: 7,
                cxid: 3,
                zxid: 0x100000002,
                time: 1234,
                r#type: OpCode::Multi.code(),
            },
            body: TxnBody::Multi(vec![
                (
                    OpCode::Create,
                    TxnBody::Create(CreateTxn {
                        path: "/a".into(),
                        data: Some(Bytes::from_static(b"x")),
                        acl: vec![],
                        ephemeral: false,
                        parent_c_version: 1,
                    }),
                ),
                (OpCode::Error, TxnBody::Error(ErrorTxn { err: -101 })),
            ]),
        };
        let mut b = BytesMut::new();
        t.encode(&mut b);
        assert_eq!(Txn::decode(&mut b.freeze()).unwrap(), t);
    }

    #[test]
    fn old_close_session_without_body() {
        let hdr = TxnHeader {
            r#type: OpCode::CloseSession.code(),
            ..Default::default()
        };
        let mut b = BytesMut::new();
        hdr.encode(&mut b);
        let t = Txn::decode(&mut b.freeze()).unwrap();
        assert_eq!(t.body, TxnBody::CloseSession(None));
    }
}
