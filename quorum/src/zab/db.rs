//! What a learner needs from the server's database, as a trait the server implements (the
//! quorum crate does not know the data tree or the file formats), and [`execute`], which
//! carries out a learner's [`Action`]s against it with the durability rule of
//! [`crate::zab::learner`] (group commit: one log sync per batch, before the batch's packets
//! go out).

use crate::zab::learner::{Action, PersistedState, SyncMode};
use crate::zab::snap_stream::SnapItem;
use bytes::Bytes;
use jute::quorum::QuorumPacket;

/// An error of the database (I/O, a txn that does not decode, ...). It ends the session with
/// the leader.
pub type DbError = Box<dyn std::error::Error + Send + Sync>;

/// The database of a learner: data tree, txn log, snapshots and the two epoch files.
///
/// Calls may block (fsync); the learner shell makes them one at a time, in protocol order.
pub trait LearnerDb {
    /// The epochs and last zxid as on disk / in the tree, read when connecting to a leader.
    fn persisted_state(&self) -> PersistedState;

    /// Write `acceptedEpoch` durably (`QuorumPeer.setAcceptedEpoch`).
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError>;

    /// Write `currentEpoch` durably (`QuorumPeer.setCurrentEpoch`).
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError>;

    /// The leader chose DIFF, TRUNC or SNAP. Informational.
    fn sync_started(&mut self, _mode: SyncMode, _zxid: i64) -> Result<(), DbError> {
        Ok(())
    }

    /// TRUNC: drop every logged txn after `zxid`, then reload the tree so that it reflects
    /// exactly the txns up to `zxid` (`ZKDatabase.truncateLog`).
    fn truncate(&mut self, zxid: i64) -> Result<(), DbError>;

    /// SNAP: start replacing the whole database (tree and sessions) by the leader's.
    fn begin_snapshot(&mut self, zxid: i64) -> Result<(), DbError>;

    /// One item of the leader's snapshot, in stream order.
    fn snapshot_item(&mut self, item: SnapItem) -> Result<(), DbError>;

    /// The snapshot is complete; the tree's last processed zxid is `zxid`.
    fn end_snapshot(&mut self, zxid: i64) -> Result<(), DbError>;

    /// Save a snapshot of the tree as it is now; with `sync`, durably before returning.
    fn take_snapshot(&mut self, sync: bool) -> Result<(), DbError>;

    /// Append a txn log entry (TxnHeader, txn, optional TxnDigest) for txn `zxid`. It need
    /// not be durable until [`LearnerDb::sync_log`].
    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError>;

    /// Make every appended entry durable.
    fn sync_log(&mut self) -> Result<(), DbError>;

    /// Start a new log file with the next appended entry (after a snapshot).
    fn roll_log(&mut self) -> Result<(), DbError>;

    /// Apply a committed txn (the same entry bytes) to the tree.
    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError>;

    /// The leader's quorum config from NEWLEADER, at UPTODATE.
    fn leader_config(&mut self, _config: Bytes) {}

    /// A committed reconfig designates `leader` (see [`Action::Activate`]).
    fn activate(&mut self, _leader: i64) {}

    /// Sync is over: the server may serve clients.
    fn start_serving(&mut self, _epoch: i64) -> Result<(), DbError> {
        Ok(())
    }

    /// The leader's answer to a REVALIDATE.
    fn revalidated(&mut self, _session_id: i64, _valid: bool) {}

    /// The leader's SYNC for the oldest pending client `sync`.
    fn synced(&mut self) {}

    /// Whether the next session must ask the leader for a SNAP ([`Action::WantSnap`] was
    /// seen and no snapshot has been installed since).
    fn snap_wanted(&self) -> bool {
        false
    }

    /// Remember that the next session must ask for a SNAP (kept across sessions, in
    /// memory).
    fn want_snap(&mut self) {}
}

/// Carry out `actions` in order against `db`; the packets to send are pushed to `outbox`.
/// Every `Log` of the batch is made durable (one `sync_log`) before this returns, so the
/// caller may write `outbox` as soon as it gets it back.
pub fn execute<D: LearnerDb + ?Sized>(
    db: &mut D,
    actions: Vec<Action>,
    outbox: &mut Vec<QuorumPacket>,
) -> Result<(), DbError> {
    let mut unsynced = false;
    for a in actions {
        match a {
            Action::Send(p) => outbox.push(p),
            Action::SetAcceptedEpoch(e) => db.set_accepted_epoch(e)?,
            Action::SetCurrentEpoch(e) => {
                // The txns logged before the new epoch are durable before it is.
                if unsynced {
                    db.sync_log()?;
                    unsynced = false;
                }
                db.set_current_epoch(e)?
            }
            Action::SyncStarted { mode, zxid } => db.sync_started(mode, zxid.into())?,
            Action::Truncate { zxid } => db.truncate(zxid.into())?,
            Action::SnapshotBegin { zxid } => db.begin_snapshot(zxid.into())?,
            Action::SnapshotItem(item) => db.snapshot_item(item)?,
            Action::SnapshotEnd { zxid } => db.end_snapshot(zxid.into())?,
            Action::TakeSnapshot { sync } => db.take_snapshot(sync)?,
            Action::Log { zxid, entry } => {
                db.append_log(zxid.into(), &entry)?;
                unsynced = true;
            }
            Action::Apply { zxid, entry } => db.apply(zxid.into(), &entry)?,
            Action::LeaderConfig(config) => db.leader_config(config),
            Action::Activate { leader } => db.activate(leader),
            Action::StartServing { epoch } => db.start_serving(epoch)?,
            Action::Revalidated { session_id, valid } => db.revalidated(session_id, valid),
            Action::Synced => db.synced(),
            Action::WantSnap => db.want_snap(),
        }
    }
    if unsynced {
        db.sync_log()?;
    }
    Ok(())
}

/// Run a database call that may block (fsync, a snapshot) from a shell task. On a
/// multi-threaded runtime the worker hands its other tasks (client connections, the other
/// quorum connections) to another thread meanwhile; on a current-thread runtime (tests) it
/// simply runs.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
