//! Transactions: the idempotent state changes that prep produces, logs persist, quorum
//! replicates and `DataTree::apply` applies. The body is typed here; `encode`/`decode` give
//! Java's layout (TxnHeader, then the body record chosen by the header's type; multi
//! sub-txns as `Txn{type, data}`).

use bytes::{Bytes, BytesMut};
use jute::ops;
use jute::txn::*;
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
    Multi(Vec<(i32, TxnBody)>),
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
                            r#type: *ty,
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

    /// Decode the body of a txn of type `ty`.
    pub fn decode(ty: i32, input: &mut Bytes) -> Result<TxnBody, DecodeError> {
        Ok(match ty {
            ops::CREATE | ops::CREATE2 => TxnBody::Create(CreateTxn::decode(input)?),
            ops::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn::decode(input)?),
            ops::CREATE_TTL => TxnBody::CreateTtl(CreateTTLTxn::decode(input)?),
            ops::DELETE | ops::DELETE_CONTAINER => TxnBody::Delete(DeleteTxn::decode(input)?),
            ops::SET_DATA | ops::RECONFIG => TxnBody::SetData(SetDataTxn::decode(input)?),
            ops::SET_ACL => TxnBody::SetAcl(SetACLTxn::decode(input)?),
            ops::CHECK => TxnBody::Check(CheckVersionTxn::decode(input)?),
            ops::MULTI => {
                let m = MultiTxn::decode(input)?;
                let mut subs = Vec::with_capacity(m.txns.len());
                for t in m.txns {
                    let mut data = t.data.unwrap_or_default();
                    subs.push((t.r#type, TxnBody::decode(t.r#type, &mut data)?));
                }
                TxnBody::Multi(subs)
            }
            ops::CREATE_SESSION => TxnBody::CreateSession(CreateSessionTxn::decode(input)?),
            ops::CLOSE_SESSION => {
                if input.is_empty() {
                    TxnBody::CloseSession(None)
                } else {
                    TxnBody::CloseSession(Some(CloseSessionTxn::decode(input)?))
                }
            }
            ops::ERROR => TxnBody::Error(ErrorTxn::decode(input)?),
            t => return Err(DecodeError::invalid(format!("unknown txn type {t}"))),
        })
    }
}

impl Txn {
    /// An error txn, as Java logs for a failed write.
    pub fn error(mut hdr: TxnHeader, err: i32) -> Txn {
        hdr.r#type = ops::ERROR;
        Txn {
            hdr,
            body: TxnBody::Error(ErrorTxn { err }),
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
                r#type: ops::MULTI,
            },
            body: TxnBody::Multi(vec![
                (
                    ops::CREATE,
                    TxnBody::Create(CreateTxn {
                        path: "/a".into(),
                        data: Some(Bytes::from_static(b"x")),
                        acl: vec![],
                        ephemeral: false,
                        parent_c_version: 1,
                    }),
                ),
                (ops::ERROR, TxnBody::Error(ErrorTxn { err: -101 })),
            ]),
        };
        let mut b = BytesMut::new();
        t.encode(&mut b);
        assert_eq!(Txn::decode(&mut b.freeze()).unwrap(), t);
    }

    #[test]
    fn old_close_session_without_body() {
        let hdr = TxnHeader {
            r#type: ops::CLOSE_SESSION,
            ..Default::default()
        };
        let mut b = BytesMut::new();
        hdr.encode(&mut b);
        let t = Txn::decode(&mut b.freeze()).unwrap();
        assert_eq!(t.body, TxnBody::CloseSession(None));
    }
}
