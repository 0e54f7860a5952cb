//! Opening a dataDir / dataLogDir, the same way in every role (Java's
//! `ZKDatabase.loadDataBase` and `ZooKeeperServer.loadData`): recover the tree from the
//! newest valid snapshot and the logs ([`recovery::load_with`]), log what recovery passed
//! over or repaired (bad snapshots, torn tails, digest mismatches), set `/zookeeper/config`
//! in quorum mode, and close the sessions that own ephemerals but are not in the session
//! table.

use super::DbOptions;
use crate::persist::digest::tree_digest;
use crate::persist::{self, recovery};
use crate::tree::DataTree;
use std::path::PathBuf;
use std::time::Instant;
use tracing::{info, warn};

/// `/zookeeper/config` of a quorum member: the ensemble's `server.N=...` lines and
/// `version=<hex>` (Java's `QuorumVerifier.toString`), and the config version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigNode {
    pub data: String,
    pub version: i64,
}

/// What opening the folders found.
pub struct Recovered {
    pub tree: DataTree,
    /// The tree's digest.
    pub digest: i64,
    /// Txns replayed from the logs after the snapshot.
    pub replayed: u64,
    /// The last of them (`recovery::Loaded::recent`).
    pub recent: std::collections::VecDeque<(i64, bytes::Bytes)>,
    /// `<dataDir>/version-2` (snapshots, epoch files) and `<dataLogDir>/version-2` (logs).
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
}

/// Recover the database from `opts.data_dir` / `opts.data_log_dir`.
pub fn recover(opts: &DbOptions) -> persist::Result<Recovered> {
    let t0 = Instant::now();
    let mut loaded = recovery::load_with(&opts.data_dir, &opts.data_log_dir, &opts.load)?;
    for (path, why) in &loaded.bad_snapshots {
        warn!("skipped snapshot {}: {why}", path.display());
    }
    for t in &loaded.torn_tails {
        warn!("txn log tail was torn and truncated: {t:?}");
    }
    if loaded.digest_mismatches > 0 {
        warn!(
            "{} of {} txn digests did not match the replayed tree",
            loaded.digest_mismatches, loaded.digests_checked
        );
    } else {
        info!(
            "{} txn digests checked against the replayed tree",
            loaded.digests_checked
        );
    }
    if let Some(node) = &opts.config_node {
        init_config_node(&mut loaded.tree, node);
    }
    // Ephemerals whose session is not in the session table belong to nobody any more
    // (Java's loadData "clean up dead sessions").
    let orphans = recovery::kill_orphan_sessions(&mut loaded.tree);
    for s in &orphans {
        info!("removed the ephemerals of dead session 0x{s:x}");
    }
    // The tree changed after recovery computed its digest: take it afresh then.
    let digest = if orphans.is_empty() && opts.config_node.is_none() {
        loaded.digest
    } else {
        tree_digest(&loaded.tree)
    };
    info!(
        "loaded {} znodes and {} sessions at zxid 0x{:x} ({} txns replayed) in {:?}",
        loaded.tree.node_count(),
        loaded.tree.sessions.len(),
        loaded.last_zxid,
        loaded.txns_replayed,
        t0.elapsed()
    );
    Ok(Recovered {
        tree: loaded.tree,
        digest,
        replayed: loaded.txns_replayed,
        recent: loaded.recent,
        snap_dir: loaded.snap_dir,
        log_dir: loaded.log_dir,
    })
}

/// Set `/zookeeper/config` from our own configuration, as Java does at startup and after
/// every sync with a leader (reconfig off: whatever a snapshot or a leader's SNAP held is
/// replaced, ZOOKEEPER-2819). Its mtime is this member's wall clock.
pub fn init_config_node(tree: &mut DataTree, node: &ConfigNode) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    tree.set_config(node.data.as_bytes(), node.version, now_ms);
}
