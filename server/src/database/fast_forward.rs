//! Back to election with the tree a role served, instead of reading the whole database from
//! disk again (Java's `ZKDatabase.fastForwardDataBase`, which `ZooKeeperServer.shutdown`
//! runs when a follower or leader stops without clearing the database).
//!
//! The served tree holds only committed txns, each logged before it was applied; the log
//! may hold more (proposals logged but not yet committed). The result must be what a
//! reload would give: the tree plus every logged txn after it. This is accepted only when
//! the disk provably holds the tree's last txn (it is in the log, or a snapshot ends at it)
//! and the log goes on from there without a gap or a torn entry; otherwise the caller
//! loads from disk as before.

use crate::persist::recovery::follows;
use crate::persist::snapshot;
use crate::persist::txnlog::TxnLogReader;
use crate::persist::{self};
use crate::tree::DataTree;
use std::path::Path;

/// Why the served tree cannot be kept (the caller reloads from disk).
pub type Refusal = String;

/// Apply to `tree` every txn logged in `log_dir` after its last zxid. `Ok(Err(..))` when the
/// disk does not vouch for the tree; `Ok(Ok(n))`: `n` txns applied. `last_appended` is the
/// zxid the log writer appended (and synced) last: when it is the tree's, the log holds it
/// and nothing after it, and nothing is read.
pub fn fast_forward(
    tree: &mut DataTree,
    last_appended: i64,
    snap_dir: &Path,
    log_dir: &Path,
) -> persist::Result<Result<u64, Refusal>> {
    let start = tree.last_zxid;
    if start > 0 && last_appended == start {
        return Ok(Ok(0));
    }
    // From `start` itself: its own entry, when logged, proves the disk has it.
    let mut reader = TxnLogReader::open(log_dir, start)?;
    let mut vouched = false;
    let mut prev = start;
    let mut applied = 0u64;
    let mut events = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        let z = entry.txn.hdr.zxid;
        if z == start {
            vouched = true;
            continue;
        }
        if z < start {
            continue;
        }
        if !follows(prev.into(), z.into()) {
            return Ok(Err(format!("the txn log jumps from 0x{prev:x} to 0x{z:x}")));
        }
        tree.apply(&entry.txn, &mut events);
        events.clear();
        prev = z;
        applied += 1;
    }
    if !reader.torn_tails().is_empty() {
        return Ok(Err("the txn log has a torn tail".into()));
    }
    if !vouched && !snapshot::list(snap_dir)?.iter().any(|(z, _)| *z == start) {
        return Ok(Err(format!(
            "neither the txn log nor a snapshot holds the tree's last zxid 0x{start:x}"
        )));
    }
    Ok(Ok(applied))
}
