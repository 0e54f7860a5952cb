//! The IO side of durability: a txn-log thread doing group commit, and background snapshots.
//!
//! The pipeline hands each txn's encoded log entry to the log thread; the thread appends
//! everything that queued up while its previous fsync ran, syncs once, and tells the
//! pipeline the highest zxid now durable. A write is applied and answered only after that
//! (Java's SyncRequestProcessor, with `forceSync`). An IO error on the log is fatal: we exit
//! rather than acknowledge writes that are not on disk, as Java does. Entries carry the
//! TxnDigest prep computed (the tree digest after the txn), as Java writes them.

use crate::config::Config;
use crate::core::{CoreMsg, Durability};
use crate::persist::snapshot::{self, SnapshotOptions};
use crate::persist::txnlog::{encode_entry, LogOptions, TxnLogWriter};
use crate::tree::DataTree;
use crate::txn::Txn;
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

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
        core: mpsc::Sender<CoreMsg>,
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
                        if core.blocking_send(CoreMsg::Durable(z)).is_err() {
                            break;
                        }
                    }
                }
            })?;
        Ok(TxnLog { tx })
    }

    /// Roll to a new log file before the next entry.
    pub fn roll(&self) {
        let _ = self.tx.send(LogCmd::Roll);
    }
}

impl Durability for TxnLog {
    fn submit(&mut self, txn: &Txn, digest: Option<&jute::txn::TxnDigest>) {
        let entry = encode_entry(txn, digest);
        if self.tx.send(LogCmd::Entry(txn.hdr.zxid, entry)).is_err() {
            error!("txn log thread is gone; exiting");
            std::process::exit(3);
        }
    }

    fn roll(&mut self) {
        TxnLog::roll(self);
    }
}

/// After a snapshot that took `d`, the next one starts no sooner than `d * REST_FACTOR` after
/// it ended. Under sustained writes a large tree is snapshotted every snapCount txns, each
/// snapshot writing the whole tree: at 100k creates/s that kept the snapshot thread busy all
/// the time and its writeback in front of the txn log's fsyncs (creates 101-103k ops/s with
/// snapshots, 109-153k without). With this the snapshot thread works at most a quarter of
/// the time; at ordinary rates a snapshot takes milliseconds and nothing changes. The caller
/// bounds how long a rest may last (what a restart must replay): see [`Snapshotter::start`].
const REST_FACTOR: u32 = 3;

/// Takes snapshots in a background thread, one at a time.
pub struct Snapshotter {
    snap_dir: PathBuf,
    opts: SnapshotOptions,
    busy: Arc<AtomicBool>,
    /// When the next snapshot may start (see [`REST_FACTOR`]).
    not_before: Arc<Mutex<Option<Instant>>>,
}

impl Snapshotter {
    pub fn new(snap_dir: PathBuf, opts: SnapshotOptions) -> Self {
        Snapshotter {
            snap_dir,
            opts,
            busy: Arc::default(),
            not_before: Arc::default(),
        }
    }

    /// Write `tree` (a consistent copy) as `snapshot.<zxid>` in the background. Returns false
    /// if the previous snapshot is still being written (Java: "Too busy to snap, skipping")
    /// or, when `may_rest`, ended too recently for its length (see [`REST_FACTOR`]).
    pub fn start(&self, tree: DataTree, may_rest: bool) -> bool {
        if may_rest && self.resting() {
            debug!("snapshot deferred: the previous one ended too recently for its length");
            return false;
        }
        if self.busy.swap(true, Ordering::AcqRel) {
            warn!("Too busy to snap, skipping");
            return false;
        }
        let busy = self.busy.clone();
        let not_before = self.not_before.clone();
        let dir = self.snap_dir.clone();
        let opts = self.opts.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                lower_this_threads_priority();
                let zxid = tree.last_zxid;
                let t0 = Instant::now();
                match snapshot::write_snapshot(&tree, &dir, zxid, &opts) {
                    Ok(path) => info!(
                        "snapshot of {} nodes at zxid 0x{zxid:x} written to {} in {:?}",
                        tree.node_count(),
                        path.display(),
                        t0.elapsed()
                    ),
                    Err(e) => error!("snapshot at zxid 0x{zxid:x} failed: {e}"),
                }
                // What the copy alone held (chunks changed meanwhile) is freed here; the
                // zkserver binary's allocator (mimalloc, purge delay 0) returns it to the
                // system at once.
                drop(tree);
                let took = t0.elapsed();
                *not_before.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Instant::now() + took * REST_FACTOR);
                busy.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.busy.store(false, Ordering::Release);
            return false;
        }
        true
    }

    /// Whether [`Snapshotter::start`] would start one now (for a retry that should not log
    /// the refusals).
    pub fn can_start(&self, may_rest: bool) -> bool {
        let resting = may_rest && self.resting();
        !(self.busy.load(Ordering::Acquire) || resting)
    }

    fn resting(&self) -> bool {
        let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }
}

/// Let the pipeline, the log and the connections run before the snapshot writer when the
/// CPUs are busy: the snapshot can wait, a client cannot (nice 19 for this thread only; on
/// Linux the nice value is per thread).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        // SAFETY: setpriority(PRIO_PROCESS = 0, 0 = the calling thread, 19) only changes
        // the calling thread's nice value; it reads and writes no memory of ours.
        unsafe {
            setpriority(0, 0, 19);
        }
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
