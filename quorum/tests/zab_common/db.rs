//! A [`LearnerDb`] over the server crate's data tree and Java-format persistence (txn log,
//! snapshots, epoch files in `<dataDir>/version-2`), for the learner tests. It also checks
//! every txn's digest (the leader's tree digest after the txn) against our tree's.

use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use zk_quorum::zab::db::{DbError, LearnerDb};
use zk_quorum::zab::learner::{PersistedState, SyncMode};
use zk_quorum::zab::snap_stream::SnapItem;
use zk_server::database::snap_loader::SnapLoader;
use zk_server::persist::digest::{DigestTracker, DIGEST_VERSION};
use zk_server::persist::snapshot::{self, SnapshotOptions};
use zk_server::persist::txnlog::{self, LogOptions, TxnLogWriter};
use zk_server::persist::{recovery, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use zk_server::tree::DataTree;
use zk_server::txn::Txn;

pub struct State {
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
    pub tree: DataTree,
    tracker: DigestTracker,
    log: TxnLogWriter,
    /// A snapshot being received.
    loading: Option<SnapLoader>,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// Every DIFF / TRUNC / SNAP, in order.
    pub syncs: Vec<(SyncMode, i64)>,
    /// The epoch of the last UPTODATE.
    pub serving: Option<i64>,
    pub applied: u64,
    pub logged: u64,
    pub snapshots_taken: u64,
    pub digests_checked: u64,
    pub digest_mismatches: Vec<i64>,
    /// REVALIDATE answers: (session id, valid).
    pub revalidations: Vec<(i64, bool)>,
    /// SYNC packets received.
    pub syncs_answered: u64,
}

/// The database; clones share it (the test reads it while the learner runs).
#[derive(Clone)]
pub struct ServerDb(Arc<Mutex<State>>);

fn load(data_dir: &Path) -> (DataTree, PathBuf, PathBuf) {
    let l = recovery::load(data_dir, data_dir, true).expect("load the database");
    assert_eq!(l.digest_mismatches, 0, "digest mismatches on load");
    (l.tree, l.snap_dir, l.log_dir)
}

impl ServerDb {
    /// Open (or create) the database in `data_dir`, as a restarting server would.
    pub fn open(data_dir: &Path) -> ServerDb {
        let (tree, snap_dir, log_dir) = load(data_dir);
        let (current, accepted) =
            recovery::ensure_epochs(&snap_dir, tree.last_zxid).expect("epoch files");
        let log = TxnLogWriter::new(&log_dir, LogOptions::default()).unwrap();
        ServerDb(Arc::new(Mutex::new(State {
            tracker: DigestTracker::new(&tree),
            tree,
            snap_dir,
            log_dir,
            log,
            loading: None,
            accepted_epoch: accepted,
            current_epoch: current,
            syncs: Vec::new(),
            serving: None,
            applied: 0,
            logged: 0,
            snapshots_taken: 0,
            digests_checked: 0,
            digest_mismatches: Vec::new(),
            revalidations: Vec::new(),
            syncs_answered: 0,
        })))
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Log (durably) and apply a txn of our own, as if a leader had sent it.
    pub fn append_local_txn(&self, txn: &Txn) {
        let entry = txnlog::encode_entry(txn, None);
        let mut s = self.state();
        s.log.append_entry(txn.hdr.zxid, &entry).unwrap();
        s.log.flush_and_sync().unwrap();
        let State { tree, tracker, .. } = &mut *s;
        tracker.apply(tree, txn, &mut Vec::new());
    }
}

impl State {
    fn reload(&mut self) {
        let data_dir = self.snap_dir.parent().unwrap().to_path_buf();
        let (tree, _, _) = load(&data_dir);
        self.tracker = DigestTracker::new(&tree);
        self.tree = tree;
        self.log = TxnLogWriter::new(&self.log_dir, LogOptions::default()).unwrap();
    }
}

impl LearnerDb for ServerDb {
    fn persisted_state(&self) -> PersistedState {
        let s = self.state();
        PersistedState {
            accepted_epoch: s.accepted_epoch,
            current_epoch: s.current_epoch,
            last_zxid: s.tree.last_zxid.into(),
        }
    }

    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        let mut s = self.state();
        recovery::write_epoch(&s.snap_dir, ACCEPTED_EPOCH_FILE, epoch)?;
        s.accepted_epoch = epoch;
        Ok(())
    }

    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        let mut s = self.state();
        recovery::write_epoch(&s.snap_dir, CURRENT_EPOCH_FILE, epoch)?;
        s.current_epoch = epoch;
        Ok(())
    }

    fn sync_started(&mut self, mode: SyncMode, zxid: i64) -> Result<(), DbError> {
        self.state().syncs.push((mode, zxid));
        Ok(())
    }

    fn truncate(&mut self, zxid: i64) -> Result<(), DbError> {
        let mut s = self.state();
        s.log.flush_and_sync()?;
        txnlog::truncate_after(&s.log_dir, zxid)?;
        // Snapshots of txns past the truncation point would bring them back.
        for (z, p) in snapshot::list(&s.snap_dir)? {
            if z > zxid {
                std::fs::remove_file(p)?;
            }
        }
        s.reload();
        if s.tree.last_zxid != zxid {
            return Err(format!(
                "truncated to 0x{zxid:x} but the tree is at 0x{:x}",
                s.tree.last_zxid
            )
            .into());
        }
        Ok(())
    }

    fn begin_snapshot(&mut self, _zxid: i64) -> Result<(), DbError> {
        self.state().loading = Some(SnapLoader::new(true));
        Ok(())
    }

    fn snapshot_item(&mut self, item: SnapItem) -> Result<(), DbError> {
        self.state()
            .loading
            .as_mut()
            .ok_or("snapshot item outside a snapshot")?
            .add(item)?;
        Ok(())
    }

    fn end_snapshot(&mut self, zxid: i64) -> Result<(), DbError> {
        let mut s = self.state();
        let tree = s
            .loading
            .take()
            .ok_or("snapshot end outside a snapshot")?
            .finish(zxid)?;
        s.tracker = DigestTracker::new(&tree);
        s.tree = tree;
        Ok(())
    }

    fn take_snapshot(&mut self, sync: bool) -> Result<(), DbError> {
        let mut s = self.state();
        let opts = SnapshotOptions {
            fsync: sync,
            ..Default::default()
        };
        snapshot::write_snapshot(&s.tree, &s.snap_dir, s.tree.last_zxid, &opts)?;
        s.log.roll()?;
        s.snapshots_taken += 1;
        Ok(())
    }

    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        let mut s = self.state();
        s.log.append_entry(zxid, entry)?;
        s.logged += 1;
        Ok(())
    }

    fn sync_log(&mut self) -> Result<(), DbError> {
        self.state().log.flush_and_sync()?;
        Ok(())
    }

    fn roll_log(&mut self) -> Result<(), DbError> {
        self.state().log.roll()?;
        Ok(())
    }

    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        let (txn, digest) = txnlog::decode_entry(entry)?;
        if txn.hdr.zxid != zxid {
            return Err(format!("entry of 0x{:x} applied as 0x{zxid:x}", txn.hdr.zxid).into());
        }
        let mut s = self.state();
        let State { tree, tracker, .. } = &mut *s;
        tracker.apply(tree, &txn, &mut Vec::new());
        let ours = tracker.value();
        s.applied += 1;
        if let Some(d) = digest.filter(|d| d.version == DIGEST_VERSION) {
            s.digests_checked += 1;
            if d.tree_digest != ours {
                s.digest_mismatches.push(zxid);
            }
        }
        Ok(())
    }

    fn start_serving(&mut self, epoch: i64) -> Result<(), DbError> {
        self.state().serving = Some(epoch);
        Ok(())
    }

    fn revalidated(&mut self, session_id: i64, valid: bool) {
        self.state().revalidations.push((session_id, valid));
    }

    fn synced(&mut self) {
        self.state().syncs_answered += 1;
    }
}
