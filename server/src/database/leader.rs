//! The database as the leader uses it: zk-quorum's [`LeaderDb`] over a [`Database`] and its
//! [`Epochs`] (Java's `Leader` side of `ZKDatabase`).
//!
//! The request pipeline holds the tree and applies every commit itself; here each commit
//! is kept in the committed window, which seeds the leader state machine's DIFF window. A
//! learner that needs a SNAP gets a copy of the pipeline's tree taken in order with the
//! commits ([`SnapRequest`]), serialized as the SNAP stream.

use super::{Database, Epochs};
use crate::persist::snapshot;
use crate::tree::DataTree;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::UnboundedSender;
use tracing::info;
use zk_quorum::zab::db::DbError;
use zk_quorum::zab::leader_net::LeaderDb;
use zk_quorum::zab::learner::PersistedState;
use zk_quorum::zab::packet::SNAP_SIGNATURE;

/// A request for a copy of the pipeline's tree once every commit announced before it is
/// applied.
pub struct SnapRequest {
    pub reply: std::sync::mpsc::Sender<DataTree>,
}

/// The database of the leader.
pub struct LeaderDatabase {
    db: Database,
    epochs: Epochs,
    /// Asks the pipeline for a copy of its tree (for a learner's SNAP).
    snapshots: UnboundedSender<SnapRequest>,
}

impl LeaderDatabase {
    pub fn new(db: Database, epochs: Epochs, snapshots: UnboundedSender<SnapRequest>) -> Self {
        LeaderDatabase {
            db,
            epochs,
            snapshots,
        }
    }

    /// The database and epochs back, once the leadership is over.
    pub fn into_parts(self) -> (Database, Epochs) {
        (self.db, self.epochs)
    }
}

impl LeaderDb for LeaderDatabase {
    fn persisted_state(&self) -> PersistedState {
        PersistedState {
            accepted_epoch: self.epochs.accepted(),
            current_epoch: self.epochs.current(),
            last_zxid: self.db.last_zxid().into(),
        }
    }

    fn committed_log(&self) -> Vec<(i64, Bytes)> {
        self.db.window().to_vec()
    }

    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        Ok(self.epochs.set_accepted(epoch)?)
    }

    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        Ok(self.epochs.set_current(epoch)?)
    }

    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        Ok(self.db.append_log(zxid, entry)?)
    }

    fn sync_log(&mut self) -> Result<(), DbError> {
        Ok(self.db.sync_log()?)
    }

    fn roll_log(&mut self) -> Result<(), DbError> {
        Ok(self.db.roll_log()?)
    }

    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        // The pipeline applies it on the commit event (it holds the prepped txn).
        self.db.record_committed(zxid, entry.clone());
        Ok(())
    }

    fn snapshot_stream(&mut self, zxid: i64, out: &mut BytesMut) -> Result<(), DbError> {
        let (reply, rx) = std::sync::mpsc::channel();
        self.snapshots
            .send(SnapRequest { reply })
            .map_err(|_| "the pipeline is gone")?;
        // The pipeline answers after applying every commit announced before this request;
        // it never waits for us.
        let tree = tokio::task::block_in_place(|| rx.recv())
            .map_err(|_| "the pipeline did not answer the snapshot request")?;
        snap_stream_body(&tree, zxid, out)?;
        info!(
            "snapshot of {} znodes at 0x{zxid:x} sent to a learner",
            tree.node_count()
        );
        Ok(())
    }
}

/// Append the SNAP stream of `tree` at `zxid`: a snapshot file without its header (magic,
/// version, dbid: 16 bytes) and its seal (Adler32 long, "/": 13 bytes), then the
/// "BenWasHere" signature.
pub fn snap_stream_body(tree: &DataTree, zxid: i64, out: &mut BytesMut) -> Result<(), DbError> {
    let mut file = Vec::new();
    snapshot::serialize(tree, zxid, false, &mut file)?;
    out.extend_from_slice(&file[16..file.len() - 13]);
    jute::Encode::encode(&SNAP_SIGNATURE.to_string(), out);
    Ok(())
}
