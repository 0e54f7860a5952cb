//! The committed-proposal window (Java's `ZKDatabase.committedLog`): the most recent
//! committed txns, as their txn log entries, that a leader sends a learner which is a little
//! behind as a DIFF instead of a whole snapshot.
//!
//! Seeded from the txn log when the database is opened, then kept up to date as txns commit
//! in every role (a learner's applied commits, a leader's commits), so that a follower that
//! becomes leader starts with it. Bounded by count ([`COMMIT_LOG_COUNT`], Java's
//! `commitLogCount` default) and always ending at the database's last zxid, or empty: a
//! window that does not reach the last zxid is useless for a DIFF. Never with a hole: a txn
//! that skips txns starts it afresh ([`CommittedWindow::push`]).

use crate::persist::txnlog::TxnLogReader;
use bytes::Bytes;
use std::collections::VecDeque;
use std::path::Path;
use tracing::warn;
use zk_quorum::zab::leader::COMMIT_LOG_COUNT;

/// The last committed txns, oldest first: `(zxid, txn log entry)`.
#[derive(Debug, Clone)]
pub struct CommittedWindow {
    entries: VecDeque<(i64, Bytes)>,
    capacity: usize,
}

impl Default for CommittedWindow {
    fn default() -> Self {
        CommittedWindow::with_capacity(COMMIT_LOG_COUNT)
    }
}

impl CommittedWindow {
    /// An empty window keeping at most `capacity` txns.
    pub fn with_capacity(capacity: usize) -> CommittedWindow {
        CommittedWindow {
            entries: VecDeque::with_capacity(capacity.min(COMMIT_LOG_COUNT) + 1),
            capacity,
        }
    }

    /// The most recent committed txns in the log folder `log_dir` up to `last_zxid` (at most
    /// [`COMMIT_LOG_COUNT`], starting no earlier than the first txn of `last_zxid`'s epoch
    /// when the epoch holds fewer). Empty when the log cannot be read or does not reach
    /// `last_zxid`: learners then get a SNAP.
    pub fn from_log(log_dir: &Path, last_zxid: i64) -> CommittedWindow {
        let mut window = CommittedWindow::default();
        let from = window.first_wanted(last_zxid);
        let mut reader = match TxnLogReader::open(log_dir, from) {
            Ok(r) => r,
            Err(e) => {
                warn!("cannot read the txn log for DIFF syncs: {e}");
                return window;
            }
        };
        loop {
            match reader.next_entry() {
                Ok(Some(e)) => {
                    let zxid = e.txn.hdr.zxid;
                    if zxid > last_zxid {
                        break;
                    }
                    window.push(zxid, e.raw);
                }
                Ok(None) => break,
                Err(e) => {
                    warn!("reading the txn log for DIFF syncs: {e}");
                    break;
                }
            }
        }
        if window.last_zxid() != Some(last_zxid) {
            window.clear();
        }
        window
    }

    /// The window [`from_log`](Self::from_log) would read, from the last txns the recovery
    /// replayed (`recent`, oldest first, [`crate::persist::recovery::Loaded::recent`]) when
    /// they reach back far enough, without reading the log again; `None` otherwise.
    pub fn from_recent(recent: &VecDeque<(i64, Bytes)>, last_zxid: i64) -> Option<Self> {
        let mut window = CommittedWindow::default();
        let from = window.first_wanted(last_zxid);
        if recent.front().is_none_or(|(z, _)| *z > from) {
            return None;
        }
        for (z, raw) in recent {
            if (from..=last_zxid).contains(z) {
                window.push(*z, raw.clone());
            }
        }
        (window.last_zxid() == Some(last_zxid)).then_some(window)
    }

    /// The oldest zxid a window ending at `last_zxid` holds: `capacity` txns back, but not
    /// before the first txn of `last_zxid`'s epoch.
    fn first_wanted(&self, last_zxid: i64) -> i64 {
        let counter = last_zxid & 0xffff_ffff;
        if counter > self.capacity as i64 {
            last_zxid - self.capacity as i64 + 1
        } else {
            last_zxid - counter
        }
    }

    /// Record a committed txn. A zxid not above the last one is a replay (an entry applied
    /// twice) and is ignored. A zxid that skips txns (not the next one of the epoch, nor the
    /// first of a later epoch) starts the window afresh: a DIFF taken across the hole would
    /// leave a learner without the skipped txns for good (Java 3.9.3's ZOOKEEPER-4925; its
    /// fix, in 3.9.4, refuses such a txn), while a window from here only turns the learners
    /// behind it to SNAP.
    pub fn push(&mut self, zxid: i64, entry: Bytes) {
        if let Some(last) = self.last_zxid() {
            if zxid <= last {
                return;
            }
            let next_in_epoch = zxid == last + 1;
            let first_of_later_epoch = zxid >> 32 > last >> 32 && zxid & 0xffff_ffff == 1;
            if !next_in_epoch && !first_of_later_epoch {
                warn!(
                    "committed txn 0x{zxid:x} does not follow 0x{last:x}: the window for DIFF \
                     syncs starts again from it"
                );
                self.entries.clear();
            }
        }
        self.entries.push_back((zxid, entry));
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// Forget the txns after `zxid` (a TRUNC).
    pub fn truncate_after(&mut self, zxid: i64) {
        while self.last_zxid().is_some_and(|last| last > zxid) {
            self.entries.pop_back();
        }
    }

    /// Forget everything (the database was replaced by a leader's snapshot).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn first_zxid(&self) -> Option<i64> {
        self.entries.front().map(|(z, _)| *z)
    }

    pub fn last_zxid(&self) -> Option<i64> {
        self.entries.back().map(|(z, _)| *z)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The window, oldest first (the entries' bytes are shared, not copied).
    pub fn to_vec(&self) -> Vec<(i64, Bytes)> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::txnlog::{encode_entry, LogOptions, TxnLogWriter};
    use crate::txn::{Txn, TxnBody};
    use jute::txn::{CreateTxn, TxnHeader};

    fn entry(zxid: i64) -> Bytes {
        Bytes::from(format!("txn {zxid:x}"))
    }

    fn create(zxid: i64) -> Txn {
        Txn {
            hdr: TxnHeader {
                client_id: 1,
                cxid: zxid as i32,
                zxid,
                time: 0,
                r#type: jute::ops::CREATE,
            },
            body: TxnBody::Create(CreateTxn {
                path: format!("/n{zxid:x}"),
                data: Some(Bytes::new()),
                acl: crate::tree::open_acl(),
                ephemeral: false,
                parent_c_version: 1,
            }),
        }
    }

    fn log_dir(name: &str, zxids: impl IntoIterator<Item = i64>) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("zkrs-window-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut w = TxnLogWriter::new(&dir, LogOptions::default()).unwrap();
        for z in zxids {
            w.append_entry(z, &encode_entry(&create(z), None)).unwrap();
        }
        w.flush_and_sync().unwrap();
        dir
    }

    #[test]
    fn keeps_the_newest_up_to_capacity() {
        let mut w = CommittedWindow::with_capacity(3);
        for z in 1..=5 {
            w.push(z, entry(z));
        }
        assert_eq!(w.len(), 3);
        assert_eq!((w.first_zxid(), w.last_zxid()), (Some(3), Some(5)));
        assert_eq!(w.to_vec()[0], (3, entry(3)));
    }

    #[test]
    fn a_replayed_zxid_is_ignored() {
        let mut w = CommittedWindow::with_capacity(10);
        w.push(1, entry(1));
        w.push(2, entry(2));
        w.push(2, Bytes::from_static(b"again"));
        w.push(1, Bytes::from_static(b"older"));
        assert_eq!(w.to_vec(), vec![(1, entry(1)), (2, entry(2))]);
    }

    #[test]
    fn a_txn_that_skips_txns_starts_the_window_afresh() {
        let e1 = 1i64 << 32;
        let e2 = 2i64 << 32;
        let mut w = CommittedWindow::with_capacity(10);
        for z in 1..=3 {
            w.push(e1 | z, entry(e1 | z));
        }
        // The first txn of the next epoch follows (1,3).
        w.push(e2 | 1, entry(e2 | 1));
        assert_eq!((w.first_zxid(), w.len()), (Some(e1 | 1), 4));
        // (2,3) without (2,2): a DIFF from (2,1) must not be possible.
        w.push(e2 | 3, entry(e2 | 3));
        assert_eq!(
            (w.first_zxid(), w.last_zxid()),
            (Some(e2 | 3), Some(e2 | 3))
        );
        // A later epoch that does not start at counter 1 skips txns too.
        w.push((3i64 << 32) | 2, entry((3i64 << 32) | 2));
        assert_eq!(w.len(), 1);
        assert_eq!(w.first_zxid(), Some((3i64 << 32) | 2));
    }

    #[test]
    fn truncate_drops_the_later_txns_only() {
        let mut w = CommittedWindow::with_capacity(10);
        for z in 1..=5 {
            w.push(z, entry(z));
        }
        w.truncate_after(3);
        assert_eq!(w.last_zxid(), Some(3));
        w.truncate_after(7);
        assert_eq!(w.last_zxid(), Some(3));
        w.truncate_after(0);
        assert!(w.is_empty());
        w.push(2, entry(2));
        assert_eq!(w.last_zxid(), Some(2));
    }

    #[test]
    fn seeded_from_the_log_bounded_by_count() {
        let epoch = 1i64 << 32;
        let n = COMMIT_LOG_COUNT as i64 + 20;
        let dir = log_dir("bounded", (1..=n).map(|c| epoch | c));
        let w = CommittedWindow::from_log(&dir, epoch | n);
        assert_eq!(w.len(), COMMIT_LOG_COUNT);
        assert_eq!(w.first_zxid(), Some(epoch | 21));
        assert_eq!(w.last_zxid(), Some(epoch | n));
        // The entries are the log's bytes, which decode back to the txns.
        let (txn, _) = crate::persist::txnlog::decode_entry(&w.to_vec()[0].1).unwrap();
        assert_eq!(txn.hdr.zxid, epoch | 21);
        // Up to an earlier zxid: the window ends there.
        let w = CommittedWindow::from_log(&dir, epoch | 30);
        assert_eq!(
            (w.first_zxid(), w.last_zxid()),
            (Some(epoch | 1), Some(epoch | 30))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The window built from the txns a replay kept equals the one read from the log, and
    /// too few kept txns give none (the caller then reads the log).
    #[test]
    fn from_the_replayed_txns_as_from_the_log() {
        let epoch = 1i64 << 32;
        let n = COMMIT_LOG_COUNT as i64 + 20;
        let dir = log_dir("recent", (1..=n).map(|c| epoch | c));
        let mut recent = VecDeque::new();
        let mut reader = TxnLogReader::open(&dir, 0).unwrap();
        while let Some(e) = reader.next_entry().unwrap() {
            recent.push_back((e.txn.hdr.zxid, e.raw));
            if recent.len() > COMMIT_LOG_COUNT {
                recent.pop_front();
            }
        }
        let w = CommittedWindow::from_recent(&recent, epoch | n).unwrap();
        assert_eq!(
            w.to_vec(),
            CommittedWindow::from_log(&dir, epoch | n).to_vec()
        );
        assert_eq!(w.len(), COMMIT_LOG_COUNT);
        // One txn short of the window: no answer.
        recent.pop_front();
        assert!(CommittedWindow::from_recent(&recent, epoch | n).is_none());
        // A short epoch: the window starts at its first txn, and older txns are left out.
        let mut recent: VecDeque<_> = (1..=30).map(|c| (c, entry(c))).collect();
        recent.extend((1..=10).map(|c| ((2i64 << 32) | c, entry(c))));
        let w = CommittedWindow::from_recent(&recent, (2i64 << 32) | 10).unwrap();
        assert_eq!((w.first_zxid(), w.len()), (Some((2i64 << 32) | 1), 10));
        // Not ending at the last zxid: none.
        assert!(CommittedWindow::from_recent(&recent, (2i64 << 32) | 11).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_log_short_of_the_last_zxid_gives_no_window() {
        let dir = log_dir("short", 1..=5);
        assert!(CommittedWindow::from_log(&dir, 7).is_empty());
        let empty = log_dir("empty", []);
        assert!(CommittedWindow::from_log(&empty, 0).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&empty);
    }
}
