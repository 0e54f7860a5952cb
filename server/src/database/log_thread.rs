//! A standalone server's txn log: a thread doing group commit (Java's
//! `SyncRequestProcessor` with `forceSync`).
//!
//! The pipeline hands each txn's encoded log entry to the thread; the thread appends
//! everything that queued up while its previous fsync ran, syncs once, and reports the
//! highest zxid now durable. A write is applied and answered only after that. An IO error
//! on the log is fatal: we exit rather than acknowledge writes that are not on disk, as Java
//! does. Entries carry the TxnDigest prep computed (the tree digest after the txn), as Java
//! writes them. (A quorum member's log is written by its leader or learner through
//! [`super::Database`], which syncs once per batch the same way.)

use crate::persist::txnlog::TxnLogWriter;
use bytes::Bytes;
use std::sync::mpsc as std_mpsc;
use tracing::error;

enum LogCmd {
    Entry(i64, Bytes),
    /// Start a new log file with the next entry (before a snapshot, as Java's rollLog).
    Roll,
}

/// The pipeline's handle on the log thread.
pub struct TxnLog {
    tx: std_mpsc::Sender<LogCmd>,
}

/// Most entries one sync covers (bounds the latency of the first txn in a batch).
const MAX_BATCH: usize = 10_000;

impl TxnLog {
    /// Start the log thread appending with `writer` (the database's, [`super::Database::into_log`]).
    /// After each sync it calls `durable` with the highest zxid synced; it stops when that
    /// returns false (nobody listens any more).
    pub fn start(
        mut writer: TxnLogWriter,
        mut durable: impl FnMut(i64) -> bool + Send + 'static,
    ) -> std::io::Result<TxnLog> {
        let (tx, rx) = std_mpsc::channel::<LogCmd>();
        std::thread::Builder::new()
            .name("txn-log".into())
            .spawn(move || {
                let fatal = |what: &str, e: &dyn std::fmt::Display| -> ! {
                    error!(
                        "txn log {what} failed: {e}; exiting so no unsynced write is acknowledged"
                    );
                    std::process::exit(3);
                };
                while let Ok(first) = rx.recv() {
                    let mut last = None;
                    let mut next = Some(first);
                    let mut n = 0;
                    while let Some(cmd) = next.take() {
                        match cmd {
                            LogCmd::Entry(zxid, entry) => {
                                if let Err(e) = writer.append_entry(zxid, &entry) {
                                    fatal("append", &e);
                                }
                                last = Some(zxid);
                                n += 1;
                            }
                            LogCmd::Roll => {
                                if let Err(e) = writer.roll() {
                                    fatal("roll", &e);
                                }
                            }
                        }
                        if n < MAX_BATCH {
                            next = rx.try_recv().ok();
                        }
                    }
                    if let Err(e) = writer.flush_and_sync() {
                        fatal("fsync", &e);
                    }
                    if let Some(z) = last {
                        if !durable(z) {
                            break;
                        }
                    }
                }
            })?;
        Ok(TxnLog { tx })
    }

    /// Append a txn's encoded entry; `durable` follows once it is fsync'd.
    pub fn append(&self, zxid: i64, entry: Bytes) {
        if self.tx.send(LogCmd::Entry(zxid, entry)).is_err() {
            error!("txn log thread is gone; exiting");
            std::process::exit(3);
        }
    }

    /// Roll to a new log file before the next entry.
    pub fn roll(&self) {
        let _ = self.tx.send(LogCmd::Roll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::txnlog::{LogOptions, TxnLogReader};
    use std::time::Duration;

    #[test]
    fn appended_entries_are_reported_durable_and_read_back_in_order() {
        let dir = crate::persist::txnlog::tests::tempdir();
        let writer = TxnLogWriter::new(&dir, LogOptions::default()).unwrap();
        let (done_tx, done_rx) = std_mpsc::channel();
        let log = TxnLog::start(writer, move |z| done_tx.send(z).is_ok()).unwrap();
        let txns: Vec<_> = (1..=3).map(super::super::tests::create_txn).collect();
        for t in &txns[..2] {
            log.append(t.hdr.zxid, crate::persist::txnlog::encode_entry(t, None));
        }
        log.roll();
        log.append(3, crate::persist::txnlog::encode_entry(&txns[2], None));
        let mut durable = 0;
        while durable < 3 {
            durable = done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        let read: Vec<_> = TxnLogReader::open(&dir, 0)
            .unwrap()
            .map(|e| e.unwrap().txn)
            .collect();
        assert_eq!(read, txns);
        // The roll started a second file at the third txn.
        let files = crate::persist::list_files(&dir, crate::persist::LOG_PREFIX).unwrap();
        assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 3]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
