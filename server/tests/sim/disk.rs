//! A member's simulated disk: the txn log, snapshots and the two epoch files, in memory.
//!
//! What a crash does to it is the point: entries appended since the last `sync` are lost,
//! except a random prefix of them (the OS may have written some pages on its own; a torn
//! last entry is an entry that did not make it). Epoch files and snapshots are written
//! durably at once (the real server fsyncs them before going on). Loading replays the newest
//! snapshot plus the log after it, as `persist::recovery` does with files. A full disk
//! fails every write (log, snapshot, epoch file) until space comes back.

use crate::rng::Rng;
use bytes::Bytes;
use zk_server::persist::digest::DigestTracker;
use zk_server::persist::txnlog;
use zk_server::tree::DataTree;

#[derive(Default)]
pub struct Disk {
    /// Txn log entries (TxnHeader, txn, optional TxnDigest) in append order, each with its
    /// append sequence number.
    log: Vec<(u64, i64, Bytes)>,
    /// The sequence number of the last entry appended, and of the last one made durable.
    appended: u64,
    synced: u64,
    /// Snapshots, in the order written: the tree as it was at its last zxid.
    snapshots: Vec<DataTree>,
    accepted_epoch: i64,
    current_epoch: i64,
    /// No space left: every write fails.
    pub full: bool,
}

/// What a write on a full disk gets.
pub const ENOSPC: &str = "No space left on device";

/// A database loaded from disk.
pub struct Loaded {
    pub tree: DataTree,
    pub tracker: DigestTracker,
}

impl Disk {
    pub fn append(&mut self, zxid: i64, entry: Bytes) -> Result<(), String> {
        self.writable()?;
        self.appended += 1;
        self.log.push((self.appended, zxid, entry));
        Ok(())
    }

    fn writable(&self) -> Result<(), String> {
        if self.full {
            Err(ENOSPC.into())
        } else {
            Ok(())
        }
    }

    pub fn accepted_epoch(&self) -> i64 {
        self.accepted_epoch
    }

    pub fn current_epoch(&self) -> i64 {
        self.current_epoch
    }

    /// Write `acceptedEpoch` (durably).
    pub fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), String> {
        self.writable()?;
        self.accepted_epoch = epoch;
        Ok(())
    }

    /// Write `currentEpoch` (durably).
    pub fn set_current_epoch(&mut self, epoch: i64) -> Result<(), String> {
        self.writable()?;
        self.current_epoch = epoch;
        Ok(())
    }

    /// What an fsync issued now covers: pass it to [`Disk::synced_to`] when it completes.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// An fsync covering every entry appended up to `seq` completed.
    pub fn synced_to(&mut self, seq: u64) {
        self.synced = self.synced.max(seq);
    }

    pub fn snapshot(&mut self, tree: &DataTree) -> Result<(), String> {
        self.writable()?;
        self.snapshots.push(tree.snapshot_copy());
        // Like `autopurge` would keep the newest few: drop the one of the lowest zxid.
        if self.snapshots.len() > 3 {
            let oldest = (0..self.snapshots.len())
                .min_by_key(|i| self.snapshots[*i].last_zxid)
                .expect("more than three");
            self.snapshots.remove(oldest);
        }
        Ok(())
    }

    /// The process died: the unsynced tail is lost but for a random prefix of it.
    pub fn crash(&mut self, rng: &mut Rng) {
        let durable = self.log.iter().take_while(|e| e.0 <= self.synced).count();
        let unsynced = self.log.len() - durable;
        let kept = if unsynced == 0 {
            0
        } else {
            rng.range(0, unsynced as u64) as usize
        };
        self.log.truncate(durable + kept);
        self.synced = self.appended;
    }

    /// TRUNC: sync, then drop every entry after `zxid` and every snapshot past it
    /// (`ZKDatabase.truncateLog`).
    pub fn truncate_after(&mut self, zxid: i64) {
        self.synced = self.appended;
        self.log.retain(|e| e.1 <= zxid);
        self.snapshots.retain(|t| t.last_zxid <= zxid);
    }

    /// The database as a restart would load it: the snapshot of the highest zxid, then
    /// every logged txn after it, in log order.
    pub fn load(&self) -> Result<Loaded, String> {
        let newest = self.snapshots.iter().max_by_key(|t| t.last_zxid);
        let mut tree = match newest {
            Some(t) => t.snapshot_copy(),
            None => DataTree::new(true),
        };
        let mut tracker = DigestTracker::new(&tree);
        for (_, zxid, entry) in &self.log {
            if *zxid <= tree.last_zxid {
                continue;
            }
            let (txn, _) = txnlog::decode_entry(entry)
                .map_err(|e| format!("log entry 0x{zxid:x} does not decode: {e}"))?;
            tracker.apply(&mut tree, &txn, &mut Vec::new());
        }
        Ok(Loaded { tree, tracker })
    }

    /// The most recent committed-or-logged txns of the last epoch in the log, up to `max`,
    /// ending at `last_zxid` (the leader's DIFF window, as `database::window`
    /// reads it from the log); empty when not contiguous.
    pub fn recent(&self, last_zxid: i64, max: usize) -> Vec<(i64, Bytes)> {
        let from = last_zxid - (last_zxid & 0xffff_ffff);
        let mut out: Vec<(i64, Bytes)> = self
            .log
            .iter()
            .filter(|e| e.1 >= from && e.1 <= last_zxid)
            .map(|e| (e.1, e.2.clone()))
            .collect();
        if out.len() > max {
            out.drain(..out.len() - max);
        }
        if out.last().is_some_and(|(z, _)| *z != last_zxid) {
            return Vec::new();
        }
        out
    }
}
