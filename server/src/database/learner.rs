//! The database as a follower or an observer uses it: zk-quorum's [`LearnerDb`] over a
//! [`Database`] and its [`Epochs`] (Java's `Learner.syncWithLeader` side of `ZKDatabase`).
//!
//! Until UPTODATE the database holds the tree: a DIFF's txns are applied to it, a TRUNC
//! reloads it, a SNAP replaces it, and the snapshot at NEWLEADER is written from it. At
//! UPTODATE the tree goes to the request pipeline ([`LearnerEvent::Serve`]); from then on
//! every committed txn is kept in the window and handed to the pipeline
//! ([`LearnerEvent::Commit`]), which applies it and answers the client waiting for it.

use super::digest_check::DigestCheck;
use super::snap_loader::SnapLoader;
use super::{Committed, Database, Epochs};
use crate::tree::DataTree;
use crate::txn::Txn;
use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;
use zk_quorum::zab::db::{DbError, LearnerDb};
use zk_quorum::zab::learner::PersistedState;
use zk_quorum::zab::snap_stream::SnapItem;

/// What the learner's database tells the request pipeline's owner.
pub enum LearnerEvent {
    /// Synced (UPTODATE): serve clients from this tree, whose digest is `digest`, in the
    /// leader's `epoch`.
    Serve {
        tree: Box<DataTree>,
        digest: i64,
        epoch: i64,
        /// The comparison with the leader's digests, which the pipeline goes on with.
        digest_check: Box<DigestCheck>,
    },
    /// The leader's quorum config from NEWLEADER (at UPTODATE, before `Serve`).
    LeaderConfig(bytes::Bytes),
    /// A committed reconfig designates this leader (before its `Commit` and `LeaderConfig`).
    Activate(i64),
    /// A committed txn, with the tree digest the leader logged with it, and its txn log
    /// entry (for the observers of an observer master; `activate`: the designated leader
    /// when it is a reconfig committed with COMMITANDACTIVATE).
    Commit {
        txn: Txn,
        leader_digest: Option<i64>,
        entry: Bytes,
        activate: Option<i64>,
    },
    /// The leader's answer to a REVALIDATE.
    Revalidated { session: i64, valid: bool },
    /// The leader's SYNC for the oldest pending client `sync`.
    Synced,
    /// The session with the leader is over (sent by whoever ran it, after every other
    /// event).
    Ended(String),
}

/// The database of a follower or an observer.
pub struct LearnerDatabase {
    db: Database,
    epochs: Epochs,
    /// A leader's SNAP being received.
    loading: Option<SnapLoader>,
    /// The designated leader of the COMMITANDACTIVATE whose txn is applied next.
    activating: Option<i64>,
    events: UnboundedSender<LearnerEvent>,
}

impl LearnerDatabase {
    pub fn new(db: Database, epochs: Epochs, events: UnboundedSender<LearnerEvent>) -> Self {
        LearnerDatabase {
            db,
            epochs,
            loading: None,
            activating: None,
            events,
        }
    }

    /// Where the events go (to announce [`LearnerEvent::Ended`]).
    pub fn events(&self) -> UnboundedSender<LearnerEvent> {
        self.events.clone()
    }

    /// The database and epochs back, once the session with the leader is over.
    pub fn into_parts(self) -> (Database, Epochs) {
        (self.db, self.epochs)
    }

    fn send(&self, ev: LearnerEvent) -> Result<(), DbError> {
        self.events
            .send(ev)
            .map_err(|_| "the pipeline is gone".into())
    }
}

impl LearnerDb for LearnerDatabase {
    fn persisted_state(&self) -> PersistedState {
        PersistedState {
            accepted_epoch: self.epochs.accepted(),
            current_epoch: self.epochs.current(),
            last_zxid: self.db.tree().map_or(0, |t| t.last_zxid).into(),
        }
    }

    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        Ok(self.epochs.set_accepted(epoch)?)
    }

    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        Ok(self.epochs.set_current(epoch)?)
    }

    fn truncate(&mut self, zxid: i64) -> Result<(), DbError> {
        self.db.truncate(zxid)
    }

    fn begin_snapshot(&mut self, _zxid: i64) -> Result<(), DbError> {
        self.loading = Some(SnapLoader::new(self.db.options().load.extended_types));
        Ok(())
    }

    fn snapshot_item(&mut self, item: SnapItem) -> Result<(), DbError> {
        self.loading
            .as_mut()
            .ok_or("snapshot item outside a snapshot")?
            .add(item)?;
        Ok(())
    }

    fn end_snapshot(&mut self, zxid: i64) -> Result<(), DbError> {
        let tree = self
            .loading
            .take()
            .ok_or("snapshot end outside a snapshot")?
            .finish(zxid)?;
        self.db.install_snapshot(tree);
        Ok(())
    }

    fn take_snapshot(&mut self, sync: bool) -> Result<(), DbError> {
        self.db.write_snapshot(sync)?;
        Ok(())
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
        let activate = self.activating.take();
        match self.db.commit(zxid, entry)? {
            Committed::Applied => Ok(()),
            Committed::ForPipeline { txn, leader_digest } => self.send(LearnerEvent::Commit {
                txn,
                leader_digest,
                entry: entry.clone(),
                activate,
            }),
        }
    }

    fn leader_config(&mut self, config: Bytes) {
        let _ = self.send(LearnerEvent::LeaderConfig(config));
    }

    /// A COMMITANDACTIVATE / INFORMANDACTIVATE designates `leader`: the peer hears of it
    /// (a hand-over if the reconfig ends our session), and the reconfig txn applied next is
    /// relayed to our observers as INFORMANDACTIVATE with it.
    fn activate(&mut self, leader: i64) {
        self.activating = Some(leader);
        let _ = self.send(LearnerEvent::Activate(leader));
    }

    fn start_serving(&mut self, epoch: i64) -> Result<(), DbError> {
        let (tree, digest) = self.db.hand_to_pipeline()?;
        let digest_check = Box::new(self.db.take_digest_check());
        self.send(LearnerEvent::Serve {
            tree: Box::new(tree),
            digest,
            epoch,
            digest_check,
        })
    }

    fn revalidated(&mut self, session_id: i64, valid: bool) {
        let _ = self.send(LearnerEvent::Revalidated {
            session: session_id,
            valid,
        });
    }

    fn synced(&mut self) {
        let _ = self.send(LearnerEvent::Synced);
    }

    fn snap_wanted(&self) -> bool {
        self.db.snap_wanted()
    }

    fn want_snap(&mut self) {
        self.db.want_snap();
    }
}
