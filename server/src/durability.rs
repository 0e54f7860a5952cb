//! The standalone txn log: a thread doing group commit, and autopurge.
//!
//! The pipeline hands each txn's encoded log entry to the log thread; the thread appends
//! everything that queued up while its previous fsync ran, syncs once, and tells the
//! pipeline the highest zxid now durable. A write is applied and answered only after that
//! (Java's SyncRequestProcessor, with `forceSync`). An IO error on the log is fatal: we exit
//! rather than acknowledge writes that are not on disk, as Java does. Entries carry the
//! TxnDigest prep computed (the tree digest after the txn), as Java writes them.

use crate::config::Config;
use crate::persist::txnlog::{LogOptions, TxnLogWriter};
use crate::pipeline::Input;
use crate::shell::ToPipeline;
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

enum LogCmd {
    Entry(i64, Bytes),
    /// Start a new log file with the next entry (before a snapshot, as Java's rollLog).
    Roll,
}

/// The pipeline's handle on the log thread.
pub struct TxnLog {
    tx: std_mpsc::Sender<LogCmd>,
}

/// The txn log writer's options from zoo.cfg and the system properties.
pub fn log_options(cfg: &Config) -> LogOptions {
    LogOptions {
        prealloc_size: cfg.pre_alloc_size_kb * 1024,
        force_sync: cfg.force_sync,
        dbid: 0,
        fsync_warning_threshold_ms: cfg.fsync_warning_threshold_ms,
    }
}

/// Most entries one sync covers (bounds the latency of the first txn in a batch).
const MAX_BATCH: usize = 10_000;

impl TxnLog {
    /// Start the log thread writing into `log_dir` (`<dataLogDir>/version-2`).
    pub fn start(
        log_dir: PathBuf,
        opts: LogOptions,
        pipeline: mpsc::Sender<ToPipeline>,
    ) -> std::io::Result<TxnLog> {
        let mut writer =
            TxnLogWriter::new(log_dir, opts).map_err(|e| std::io::Error::other(e.to_string()))?;
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
                        if pipeline
                            .blocking_send(ToPipeline::Input(Input::Durable { zxid: z }))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            })?;
        Ok(TxnLog { tx })
    }

    /// Append a txn's encoded entry; `Durable` follows once it is fsync'd.
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

/// Java's autopurge: every `interval`, keep the newest `retain` snapshots and the logs they
/// need, delete the rest.
pub fn start_autopurge(
    data_dir: PathBuf,
    log_dir: PathBuf,
    retain: usize,
    interval: std::time::Duration,
) {
    let _ = std::thread::Builder::new()
        .name("autopurge".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            match crate::persist::purge::purge(&data_dir, &log_dir, retain) {
                Ok(removed) => info!("autopurge: removed {} files", removed.len()),
                Err(e) => warn!("autopurge failed: {e}"),
            }
        });
}
