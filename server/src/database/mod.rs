//! One database for every role (Java's `ZKDatabase` over `FileTxnSnapLog`): the data tree and
//! its digest, the txn log, snapshots and the committed-proposal window, opened and written
//! the same way by a standalone server, a leader, a follower and an observer.
//!
//! ```text
//!             open / reload (recovery, /zookeeper/config, orphans)
//!                                  │
//!   TreeOwner::Database ───────────┴──── hand_to_pipeline ───▶ TreeOwner::Pipeline
//!   (loaded, electing, a learner       (commits applied here)   (serving: the pipeline
//!    syncing: commits applied here)                              applies them itself)
//! ```
//!
//! Whoever holds the tree, every committed txn passes through [`Database::commit`] (a
//! learner) or [`Database::record_committed`] (a leader), which keeps the window for DIFF
//! syncs current, so a follower that becomes leader has it without reading the log again.
//!
//! # Layout
//! - [`open`]: recovering the tree from dataDir / dataLogDir, with its warnings.
//! - [`window`]: the committed-proposal window (`committedLog`).
//! - [`epochs`]: `acceptedEpoch` / `currentEpoch` (quorum mode only).
//! - [`fast_forward`]: back to election with the served tree plus the log's tail.
//! - [`snap_loader`]: a leader's SNAP stream loaded into a fresh tree.
//! - [`learner`]: the database as a follower or an observer uses it (zk-quorum's `LearnerDb`).
//! - [`leader`]: the database as the leader uses it (zk-quorum's `LeaderDb`).
//! - [`log_thread`]: a standalone server's txn log thread (group commit).
//! - [`autopurge`]: deleting old snapshots and logs (`autopurge.*`).
//!
//! Snapshots while serving are taken by the pipeline and written by its shell, with
//! [`DbOptions::snapshot`].

pub mod autopurge;
pub mod digest_check;
pub mod epochs;
pub mod fast_forward;
pub mod leader;
pub mod learner;
pub mod log_thread;
pub mod observer_master;
pub mod open;
pub mod snap_loader;
pub mod window;

use crate::config::Config;
use crate::persist::digest::DigestTracker;
use crate::persist::snapshot::{self, SnapshotOptions};
use crate::persist::txnlog::{self, LogOptions, TxnLogWriter};
use crate::persist::{self, recovery};
use crate::tree::DataTree;
use crate::txn::Txn;
use bytes::Bytes;
use digest_check::DigestCheck;
use std::path::{Path, PathBuf};
use tracing::{info, warn};
use zk_quorum::zab::db::DbError;

pub use epochs::Epochs;
pub use open::ConfigNode;
pub use window::CommittedWindow;

/// How the database is opened and written; the same in every role but for
/// `/zookeeper/config`, which only a quorum member has.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub load: recovery::LoadOptions,
    pub log: LogOptions,
    /// Options of the snapshots taken while serving (the background ones).
    pub snapshot: SnapshotOptions,
    /// Quorum mode: the `/zookeeper/config` set at every load and after a SNAP.
    pub config_node: Option<ConfigNode>,
}

impl DbOptions {
    /// The options `cfg` asks for; `config_node` in quorum mode.
    pub fn from_config(cfg: &Config, config_node: Option<ConfigNode>) -> DbOptions {
        DbOptions {
            data_dir: cfg.data_dir.clone(),
            data_log_dir: cfg.data_log_dir.clone(),
            load: recovery::LoadOptions {
                extended_types: cfg.extended_types_enabled,
                digest_enabled: cfg.digest_enabled,
                last_processed_zxid: cfg.compat_version.is_3_9(),
                ..Default::default()
            },
            log: LogOptions {
                prealloc_size: cfg.pre_alloc_size_kb * 1024,
                force_sync: cfg.force_sync,
                dbid: 0,
                fsync_warning_threshold_ms: cfg.fsync_warning_threshold_ms,
            },
            snapshot: SnapshotOptions {
                digest: cfg.digest_enabled,
                // Java 3.9's snapshot format; a 3.8.0 node reads it too, but in 3.8 mode we
                // write what Java 3.8.0 writes.
                last_processed_zxid: cfg.compat_version.is_3_9(),
                // As Java's SyncRequestProcessor (takeSnapshot(syncSnap = false)): a
                // background snapshot is not fsync'd, so its writeback does not queue in
                // front of the txn log's fsyncs. Nothing depends on it being durable: a torn
                // snapshot fails its seal at load and the previous one plus the logs (kept
                // by purge) are used.
                fsync: false,
                ..Default::default()
            },
            config_node,
        }
    }
}

/// Who holds the data tree.
// One per server, moved rarely: boxing the tree would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum TreeOwner {
    /// The database: once loaded, while electing, and while a learner syncs with its
    /// leader. Committed txns are applied here, and `digest` follows them.
    Database {
        tree: DataTree,
        digest: DigestTracker,
    },
    /// The request pipeline, which serves it and applies committed txns itself.
    Pipeline,
}

/// What became of a committed txn given to [`Database::commit`].
#[derive(Debug)]
pub enum Committed {
    /// Applied to the database's own tree.
    Applied,
    /// The pipeline holds the tree: it must apply the txn (and answer the client waiting
    /// for it). `leader_digest` is the tree digest the leader logged with it.
    ForPipeline {
        txn: Txn,
        leader_digest: Option<i64>,
    },
}

/// The database of one server.
pub struct Database {
    opts: DbOptions,
    snap_dir: PathBuf,
    log_dir: PathBuf,
    tree: TreeOwner,
    /// The last committed zxid, whoever holds the tree.
    last_zxid: i64,
    log: TxnLogWriter,
    window: CommittedWindow,
    /// Txns the last open replayed from the logs.
    replayed: u64,
    /// A leader's DIFF skipped txns: the next learner session asks for a SNAP (kept in
    /// memory across sessions and reloads, cleared by the next snapshot installed).
    snap_wanted: bool,
    /// A learner's comparison of its tree with the leader's digests, while the database
    /// holds the tree (then handed to the pipeline with it).
    digest_check: DigestCheck,
}

impl Database {
    /// Recover the database from the folders of `opts` and open its txn log (no file is
    /// created until the first append) and its committed window.
    pub fn open(opts: DbOptions) -> persist::Result<Database> {
        let rec = open::recover(&opts)?;
        let log = TxnLogWriter::new(rec.log_dir.clone(), opts.log.clone())?;
        let window = CommittedWindow::from_recent(&rec.recent, rec.tree.last_zxid)
            .unwrap_or_else(|| CommittedWindow::from_log(&rec.log_dir, rec.tree.last_zxid));
        Ok(Database {
            snap_dir: rec.snap_dir,
            log_dir: rec.log_dir,
            last_zxid: rec.tree.last_zxid,
            tree: TreeOwner::Database {
                digest: DigestTracker::with_value(rec.digest),
                tree: rec.tree,
            },
            log,
            window,
            replayed: rec.replayed,
            snap_wanted: false,
            digest_check: DigestCheck::new(opts.load.digest_enabled),
            opts,
        })
    }

    /// Load the tree from disk again (a quorum member going back to election: everything
    /// it applied was logged first, and what it logged is replayed) and start a new log
    /// file with the next append. The committed window is kept when it still ends at the
    /// reloaded tree's last zxid, and read from the log otherwise.
    pub fn reload(&mut self) -> persist::Result<()> {
        let rec = open::recover(&self.opts)?;
        self.log = TxnLogWriter::new(rec.log_dir.clone(), self.opts.log.clone())?;
        self.replace_tree(rec.tree, rec.digest);
        self.replayed = rec.replayed;
        Ok(())
    }

    /// Back to election after a role that served `served` (the pipeline's tree): keep it,
    /// fast-forwarded by the txns logged after it ([`fast_forward`]), when the disk vouches
    /// for it; otherwise (or without a served tree) load from disk as [`Database::reload`].
    pub fn back_to_election(&mut self, served: Option<DataTree>) -> persist::Result<()> {
        let Some(mut tree) = served.filter(|_| matches!(self.tree, TreeOwner::Pipeline)) else {
            return self.reload();
        };
        let t0 = std::time::Instant::now();
        if let Err(e) = self.log.flush_and_sync() {
            warn!("loading the database from disk: the txn log did not sync ({e})");
            return self.reload();
        }
        match fast_forward::fast_forward(
            &mut tree,
            self.log.last_zxid(),
            &self.snap_dir,
            &self.log_dir,
        )? {
            Ok(applied) => {
                // Watches belonged to the connections just closed.
                tree.watches = crate::watch::WatchManager::new(crate::config::CompatVersion::V3_9);
                if let Some(node) = &self.opts.config_node {
                    open::init_config_node(&mut tree, node);
                }
                for s in recovery::kill_orphan_sessions(&mut tree) {
                    info!("removed the ephemerals of dead session 0x{s:x}");
                }
                let digest = crate::persist::digest::tree_digest(&tree);
                self.log = TxnLogWriter::new(self.log_dir.clone(), self.opts.log.clone())?;
                info!(
                    "kept the served tree: {} znodes at zxid 0x{:x} ({applied} logged txns applied) in {:?}",
                    tree.node_count(),
                    tree.last_zxid,
                    t0.elapsed()
                );
                self.replace_tree(tree, digest);
                Ok(())
            }
            Err(why) => {
                warn!("loading the database from disk: the served tree is not kept ({why})");
                self.reload()
            }
        }
    }

    /// Make `tree` (whose digest is `digest`) the database's, and the window fit it.
    fn replace_tree(&mut self, tree: DataTree, digest: i64) {
        self.last_zxid = tree.last_zxid;
        self.window.truncate_after(self.last_zxid);
        if self.window.last_zxid() != Some(self.last_zxid) {
            self.window = CommittedWindow::from_log(&self.log_dir, self.last_zxid);
        }
        self.tree = TreeOwner::Database {
            tree,
            digest: DigestTracker::with_value(digest),
        };
        // Loaded from our own disk: consistent, every txn from here on is compared.
        self.digest_check = DigestCheck::new(self.opts.load.digest_enabled);
    }

    /// The `/zookeeper/config` set at every load from now on (a newer quorum config).
    pub fn set_config_node(&mut self, node: ConfigNode) {
        self.opts.config_node = Some(node);
    }

    pub fn options(&self) -> &DbOptions {
        &self.opts
    }

    /// `<dataDir>/version-2`: snapshots and epoch files.
    pub fn snap_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// `<dataLogDir>/version-2`: txn logs.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    pub fn owner(&self) -> &TreeOwner {
        &self.tree
    }

    /// The tree, while the database holds it.
    pub fn tree(&self) -> Option<&DataTree> {
        match &self.tree {
            TreeOwner::Database { tree, .. } => Some(tree),
            TreeOwner::Pipeline => None,
        }
    }

    /// The tree's digest, while the database holds it.
    pub fn digest(&self) -> Option<i64> {
        match &self.tree {
            TreeOwner::Database { digest, .. } => Some(digest.value()),
            TreeOwner::Pipeline => None,
        }
    }

    /// The last committed zxid, whoever holds the tree.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Txns the last open or reload replayed from the logs (a snapshot then saves the next
    /// start-up from replaying them again).
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// The committed-proposal window for DIFF syncs.
    pub fn window(&self) -> &CommittedWindow {
        &self.window
    }

    /// Give the tree and its digest to the request pipeline, which serves it from now on.
    pub fn hand_to_pipeline(&mut self) -> Result<(DataTree, i64), DbError> {
        match std::mem::replace(&mut self.tree, TreeOwner::Pipeline) {
            TreeOwner::Database { tree, digest } => Ok((tree, digest.value())),
            TreeOwner::Pipeline => Err("the tree already belongs to the pipeline".into()),
        }
    }

    /// The digest check of the tree just handed to the pipeline (which goes on with it); the
    /// database starts a fresh one.
    pub fn take_digest_check(&mut self) -> DigestCheck {
        let fresh = DigestCheck::new(self.opts.load.digest_enabled);
        std::mem::replace(&mut self.digest_check, fresh)
    }

    /// A learner's committed txn, as its txn log entry: kept in the window, and applied to
    /// the tree if the database holds it (otherwise handed back for the pipeline).
    pub fn commit(&mut self, zxid: i64, entry: &Bytes) -> Result<Committed, DbError> {
        let (txn, logged) = txnlog::decode_entry(entry)?;
        if txn.hdr.zxid != zxid {
            return Err(format!("entry of 0x{:x} applied as 0x{zxid:x}", txn.hdr.zxid).into());
        }
        self.record_committed(zxid, entry.clone());
        let leader_digest = digest_check::leader_digest(logged);
        match &mut self.tree {
            TreeOwner::Database { tree, digest } => {
                digest.apply(tree, &txn, &mut Vec::new());
                let now_ms = crate::stats::monotonic_ms();
                let lines = self
                    .digest_check
                    .check(zxid, leader_digest, digest.value(), now_ms);
                digest_check::log(lines);
                Ok(Committed::Applied)
            }
            TreeOwner::Pipeline => Ok(Committed::ForPipeline { txn, leader_digest }),
        }
    }

    /// A txn committed and applied elsewhere (by the leader's pipeline): kept in the window.
    pub fn record_committed(&mut self, zxid: i64, entry: Bytes) {
        self.window.push(zxid, entry);
        self.last_zxid = self.last_zxid.max(zxid);
    }

    /// Append a txn log entry; durable after [`Database::sync_log`].
    pub fn append_log(&mut self, zxid: i64, entry: &[u8]) -> persist::Result<()> {
        self.log.append_entry(zxid, entry)
    }

    /// Make every appended entry durable.
    pub fn sync_log(&mut self) -> persist::Result<()> {
        self.log.flush_and_sync()
    }

    /// Start a new log file with the next append (after a snapshot, Java's `rollLog`).
    pub fn roll_log(&mut self) -> persist::Result<()> {
        self.log.roll()
    }

    /// Give up the txn log writer (a standalone server's log thread takes it over).
    pub fn into_log(self) -> TxnLogWriter {
        self.log
    }

    /// Snapshot the tree the database holds, durably when `sync`, then roll the log.
    /// `None` while the pipeline holds the tree (it takes its own snapshots then).
    pub fn write_snapshot(&mut self, sync: bool) -> persist::Result<Option<PathBuf>> {
        let TreeOwner::Database { tree, .. } = &self.tree else {
            warn!("a snapshot was asked for while serving; the pipeline takes them");
            return Ok(None);
        };
        let opts = SnapshotOptions {
            fsync: sync,
            ..self.opts.snapshot.clone()
        };
        let path = snapshot::write_snapshot(tree, &self.snap_dir, tree.last_zxid, &opts)?;
        info!("snapshot {} written", path.display());
        self.log.roll()?;
        Ok(Some(path))
    }

    /// A leader's TRUNC (Java's `ZKDatabase.truncateLog`): drop every logged txn after
    /// `zxid` and every snapshot past it, then load the tree again, which must end at `zxid`.
    pub fn truncate(&mut self, zxid: i64) -> Result<(), DbError> {
        self.log.flush_and_sync()?;
        txnlog::truncate_after(&self.log_dir, zxid)?;
        // Snapshots past the truncation point would bring the dropped txns back.
        for (z, p) in snapshot::list(&self.snap_dir)? {
            if z > zxid {
                std::fs::remove_file(p)?;
            }
        }
        let rec = open::recover(&self.opts)?;
        if rec.tree.last_zxid != zxid {
            return Err(format!(
                "truncated to 0x{zxid:x} but the tree is at 0x{:x}",
                rec.tree.last_zxid
            )
            .into());
        }
        self.log = TxnLogWriter::new(self.log_dir.clone(), self.opts.log.clone())?;
        self.replace_tree(rec.tree, rec.digest);
        Ok(())
    }

    /// The tree a leader's SNAP stream delivered replaces ours (with our `/zookeeper/config`);
    /// the window starts afresh from it.
    pub fn install_snapshot(&mut self, mut tree: DataTree) {
        if let Some(node) = &self.opts.config_node {
            open::init_config_node(&mut tree, node);
        }
        let digest = DigestTracker::new(&tree);
        self.digest_check.after_snapshot(&tree);
        self.window.clear();
        self.last_zxid = tree.last_zxid;
        self.tree = TreeOwner::Database { tree, digest };
        self.snap_wanted = false;
    }

    /// Whether the next learner session must ask its leader for a SNAP.
    pub fn snap_wanted(&self) -> bool {
        self.snap_wanted
    }

    /// The last leader's DIFF skipped txns (`zk_quorum::zab::learner::Learner::ask_for_snap`):
    /// the next learner session asks for a SNAP.
    pub fn want_snap(&mut self) {
        self.snap_wanted = true;
    }
}

#[cfg(test)]
mod tests;
