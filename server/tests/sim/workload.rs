//! The writes the simulation drives: creates, updates and deletes over a few paths, built
//! as txns against the leader's tree (until the request pipeline drives them from clients).

use bytes::Bytes;
use jute::ops;
use jute::txn::{CreateTxn, DeleteTxn, SetDataTxn, TxnHeader};
use zk_server::persist::txnlog;
use zk_server::tree::{open_acl, DataTree};
use zk_server::txn::{Txn, TxnBody};

/// The txn log entry of the next write at `zxid`, chosen by `r`.
pub fn next_txn(r: u64, tree: &DataTree, zxid: i64, now_ms: u64) -> Bytes {
    let path = format!("/k{}", r % 8);
    let data = Bytes::from(format!("{zxid:x}"));
    let (ty, body) = match tree.stat_of(&path) {
        Some(stat) if (r >> 8) % 4 != 0 => (
            ops::SET_DATA,
            TxnBody::SetData(SetDataTxn {
                path,
                data: Some(data),
                version: stat.version + 1,
            }),
        ),
        Some(_) => (ops::DELETE, TxnBody::Delete(DeleteTxn { path })),
        None => {
            let parent_cversion = tree.stat_of("/").map_or(0, |s| s.cversion);
            (
                ops::CREATE,
                TxnBody::Create(CreateTxn {
                    path,
                    data: Some(data),
                    acl: open_acl(),
                    ephemeral: false,
                    parent_c_version: parent_cversion + 1,
                }),
            )
        }
    };
    let txn = Txn {
        hdr: TxnHeader {
            client_id: 0x100,
            cxid: (zxid & 0x7fff_ffff) as i32,
            zxid,
            time: now_ms as i64,
            r#type: ty,
        },
        body,
    };
    txnlog::encode_entry(&txn, None)
}
