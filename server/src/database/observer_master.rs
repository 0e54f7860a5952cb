//! The database as a follower's observer master sees it: zk-quorum's [`LeaderDb`] for a
//! leader state machine in observer-master mode (Java's `ObserverMaster` reading the
//! follower's `ZKDatabase`). It logs nothing and keeps no epochs of its own: the follower's
//! learner does both. A SNAP for an observer is a copy of the pipeline's tree, which may be
//! ahead of the observer master's last relayed txn; the stream says how far it really goes.

use super::leader::{snap_stream_body, SnapRequest};
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::UnboundedSender;
use tracing::info;
use zk_quorum::zab::db::DbError;
use zk_quorum::zab::leader_net::LeaderDb;
use zk_quorum::zab::learner::PersistedState;

/// What an observer master reads from its follower.
pub struct ObserverMasterDatabase {
    /// The follower's current epoch and its tree's last zxid when the master started.
    state: PersistedState,
    /// Asks the follower's pipeline for a copy of its tree.
    snapshots: UnboundedSender<SnapRequest>,
}

impl ObserverMasterDatabase {
    pub fn new(epoch: i64, last_zxid: i64, snapshots: UnboundedSender<SnapRequest>) -> Self {
        ObserverMasterDatabase {
            state: PersistedState {
                accepted_epoch: epoch,
                current_epoch: epoch,
                last_zxid: last_zxid.into(),
            },
            snapshots,
        }
    }
}

impl LeaderDb for ObserverMasterDatabase {
    fn persisted_state(&self) -> PersistedState {
        self.state
    }

    // The epochs and the txn log belong to the follower's learner.
    fn set_accepted_epoch(&mut self, _epoch: i64) -> Result<(), DbError> {
        Ok(())
    }
    fn set_current_epoch(&mut self, _epoch: i64) -> Result<(), DbError> {
        Ok(())
    }
    fn append_log(&mut self, _zxid: i64, _entry: &Bytes) -> Result<(), DbError> {
        Ok(())
    }
    fn sync_log(&mut self) -> Result<(), DbError> {
        Ok(())
    }
    fn roll_log(&mut self) -> Result<(), DbError> {
        Ok(())
    }
    fn apply(&mut self, _zxid: i64, _entry: &Bytes) -> Result<(), DbError> {
        Ok(())
    }

    fn snapshot_stream(&mut self, zxid: i64, out: &mut BytesMut) -> Result<(), DbError> {
        self.snapshot_stream_held(zxid, out).map(|_| ())
    }

    fn snapshot_stream_held(&mut self, zxid: i64, out: &mut BytesMut) -> Result<i64, DbError> {
        let (reply, rx) = std::sync::mpsc::channel();
        self.snapshots
            .send(SnapRequest { reply })
            .map_err(|_| "the follower's pipeline is gone")?;
        // The follower applies each txn before relaying it, so the copy holds at least
        // every txn relayed so far (`zxid` and maybe later ones).
        let tree = tokio::task::block_in_place(|| rx.recv())
            .map_err(|_| "the follower's pipeline did not answer the snapshot request")?;
        let held = tree.last_zxid.max(zxid);
        snap_stream_body(&tree, held, out)?;
        info!(
            "snapshot of {} znodes at 0x{held:x} sent to an observer",
            tree.node_count()
        );
        Ok(held)
    }
}
