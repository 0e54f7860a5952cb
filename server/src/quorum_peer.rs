//! Quorum mode (`server.N` lines in `zoo.cfg`): Java's `QuorumPeer.run` loop for a follower,
//! an observer or the leader.
//!
//! ```text
//! load the database ─▶ leader election (election port) ─▶ FOLLOWING / OBSERVING / LEADING
//!      ▲                                                        │
//!      └──── the learner session ended (leader lost) ◀── follow the leader (quorum port)
//! ```
//!
//! * The learner (zk-quorum's `follow_leader`) runs in its own task against a [`PeerDb`]: it
//!   owns the txn log (proposals are logged and fsynced before they are ACKed) and, during
//!   sync, the data tree (DIFF / TRUNC / SNAP, snapshot at NEWLEADER, epoch files).
//! * At UPTODATE the tree moves to the request pipeline (`pipeline`, driven by its `shell`), which serves clients
//!   from then on: reads locally, writes / createSession / closeSession / sync forwarded to
//!   the leader as REQUEST packets, committed txns (the learner's `Apply`s)
//!   applied through the normal apply path, answering our waiting clients. Session activity
//!   goes into the learner's PING replies; reconnecting sessions are revalidated.
//! * `/zookeeper/config` holds our ensemble's `server.N=...` lines and `version=...` (Java's
//!   `initConfigInZKDatabase`): set whenever the tree is loaded (startup, each election
//!   round, TRUNC) and after a SNAP from the leader, in every role, reconfig or not.
//! * When the session with the leader ends, every client connection is closed and the
//!   database is loaded again from disk (everything applied was logged first), then a new
//!   election starts.
//!
//! * LEADING (zk-quorum's `lead`, Java's `Leader.lead`): the pipeline keeps the tree and
//!   preps writes as standalone does, from local clients and from the learners' REQUESTs;
//!   instead of the local txn log each txn is proposed to the leader state machine
//!   , which logs it ([`LeadDb`] owns the txn log and the epoch files),
//!   collects a quorum of ACKs and commits; the commit applies it in the pipeline and
//!   answers the waiting client. The pipeline expires sessions (kept alive by the learners'
//!   touches) and reaps containers. A learner that needs a SNAP gets a copy of the
//!   pipeline's tree taken in order with the commits ([`SnapRequest`]).

use crate::auth::AuthId;
use crate::config::{Config, PeerType, ServerLine};
use crate::durability::log_options;
use crate::persist::digest::DigestTracker;
use crate::persist::snapshot::{self, SnapshotOptions};
use crate::persist::txnlog::{self, TxnLogWriter};
use crate::persist::{recovery, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use crate::pipeline::{Input, Mode, Pipeline};
use crate::shell::{self, Shell, ToPipeline, Upstream};
use crate::tree::{open_acl, AclList, DataTree};
use crate::txn::Txn;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::election::{FleConfig, ServerState};
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::db::{DbError, LearnerDb};
use zk_quorum::zab::leader::{LeaderConfig, LearnerMessage, COMMIT_LOG_COUNT};
use zk_quorum::zab::leader_net::{self, Event, LeaderDb};
use zk_quorum::zab::learner::{LearnerConfig, LearnerKind, PersistedState};
use zk_quorum::zab::learner_net::{control_channel, follow_leader};
use zk_quorum::zab::packet::{self, SNAP_SIGNATURE};
use zk_quorum::zab::snap_stream::SnapItem;

/// What the learner task tells the pipeline.
enum PeerMsg {
    /// Synced (UPTODATE): serve clients from this tree.
    Serve {
        tree: Box<DataTree>,
        digest: i64,
        epoch: i64,
    },
    /// A committed txn, after `Serve`.
    /// A committed txn, with the tree digest the leader logged with it.
    Commit(Txn, Option<i64>),
    Revalidated(i64, bool),
    Synced,
    /// The session with the leader is over.
    Ended(String),
}

/// The ensemble as the quorum crate sees it.
pub fn quorum_view(cfg: &Config) -> QuorumMaj {
    let servers = cfg.servers.iter().map(ServerLine::quorum_server).collect();
    QuorumMaj::new(servers, cfg.config_version.unwrap_or(0) as i64)
}

/// A SNAP stream from the leader being loaded into a fresh tree, item by item (Java's
/// `ZKDatabase.deserializeSnapshot`).
pub struct SnapLoader {
    tree: DataTree,
    sessions: HashMap<i64, i32>,
    acls: HashMap<i64, AclList>,
}

impl SnapLoader {
    /// Start with a tree without any node.
    pub fn new(extended_types: bool) -> SnapLoader {
        SnapLoader {
            tree: DataTree::empty_for_load(extended_types),
            sessions: HashMap::new(),
            acls: HashMap::new(),
        }
    }

    /// Add the next item of the stream: a session, an ACL cache entry or a node (whose ACL
    /// id must be -1, the open ACL, or an entry seen before).
    pub fn add(&mut self, item: SnapItem) -> Result<(), String> {
        match item {
            SnapItem::Session { id, timeout } => {
                self.sessions.insert(id, timeout);
            }
            SnapItem::Acl { id, acl } => {
                let a = self.tree.intern_acl(acl);
                self.acls.insert(id, a);
            }
            SnapItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                let acl = if acl == -1 {
                    self.tree.intern_acl(open_acl())
                } else {
                    self.acls
                        .get(&acl)
                        .cloned()
                        .ok_or_else(|| format!("node {path} refers to unknown ACL {acl}"))?
                };
                self.tree.load_node(&path, data, acl, stat)?;
            }
        }
        Ok(())
    }

    /// The loaded tree, which reflects the txns up to `zxid`; an error if the stream had no
    /// root node.
    pub fn finish(mut self, zxid: i64) -> Result<DataTree, String> {
        if self.tree.node("/").is_none() {
            return Err("snapshot without a root".into());
        }
        self.tree.finish_load(self.sessions, zxid);
        self.tree.purge_unused_acls();
        Ok(self.tree)
    }
}

/// The learner's database: the tree until we serve, the txn log, snapshots, epoch files.
pub struct PeerDb {
    cfg: Config,
    snap_dir: PathBuf,
    log_dir: PathBuf,
    /// Ours until UPTODATE, then the pipeline's.
    tree: Option<DataTree>,
    tracker: DigestTracker,
    log: TxnLogWriter,
    loading: Option<SnapLoader>,
    accepted_epoch: i64,
    current_epoch: i64,
    to_core: mpsc::UnboundedSender<PeerMsg>,
}

/// `/zookeeper/config` from our own configuration, as Java sets it at startup and after
/// every sync with a leader (reconfig off: whatever a snapshot or a leader's SNAP held is
/// replaced, ZOOKEEPER-2819).
fn init_config_node(cfg: &Config, tree: &mut DataTree) {
    let view = quorum_view(cfg);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    tree.set_config(view.to_java_string().as_bytes(), view.version(), now_ms);
}

fn load_tree(cfg: &Config) -> Result<recovery::Loaded, DbError> {
    let opts = recovery::LoadOptions {
        extended_types: cfg.extended_types_enabled,
        digest_enabled: cfg.digest_enabled,
        ..Default::default()
    };
    let mut loaded = recovery::load_with(&cfg.data_dir, &cfg.data_log_dir, &opts)?;
    for (path, why) in &loaded.bad_snapshots {
        warn!("skipped snapshot {}: {why}", path.display());
    }
    init_config_node(cfg, &mut loaded.tree);
    let orphans = recovery::kill_orphan_sessions(&mut loaded.tree);
    for s in &orphans {
        info!("removed the ephemerals of dead session 0x{s:x}");
    }
    info!(
        "loaded {} znodes and {} sessions at zxid 0x{:x} ({} txns replayed)",
        loaded.tree.node_count(),
        loaded.tree.sessions.len(),
        loaded.last_zxid,
        loaded.txns_replayed
    );
    Ok(loaded)
}

impl PeerDb {
    fn open(cfg: &Config, to_core: mpsc::UnboundedSender<PeerMsg>) -> Result<PeerDb, DbError> {
        let loaded = load_tree(cfg)?;
        let (current, accepted) = recovery::ensure_epochs(&loaded.snap_dir, loaded.tree.last_zxid)?;
        let log = TxnLogWriter::new(loaded.log_dir.clone(), log_options(cfg))?;
        Ok(PeerDb {
            cfg: cfg.clone(),
            tracker: DigestTracker::new(&loaded.tree),
            tree: Some(loaded.tree),
            snap_dir: loaded.snap_dir,
            log_dir: loaded.log_dir,
            log,
            loading: None,
            accepted_epoch: accepted,
            current_epoch: current,
            to_core,
        })
    }

    fn tree(&mut self) -> Result<&mut DataTree, DbError> {
        self.tree
            .as_mut()
            .ok_or_else(|| "the tree already belongs to the pipeline".into())
    }
}

impl LearnerDb for PeerDb {
    fn persisted_state(&self) -> PersistedState {
        PersistedState {
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            last_zxid: self.tree.as_ref().map_or(0, |t| t.last_zxid).into(),
        }
    }

    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        recovery::write_epoch(&self.snap_dir, ACCEPTED_EPOCH_FILE, epoch)?;
        self.accepted_epoch = epoch;
        Ok(())
    }

    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        recovery::write_epoch(&self.snap_dir, CURRENT_EPOCH_FILE, epoch)?;
        self.current_epoch = epoch;
        Ok(())
    }

    fn truncate(&mut self, zxid: i64) -> Result<(), DbError> {
        self.log.flush_and_sync()?;
        txnlog::truncate_after(&self.log_dir, zxid)?;
        // Snapshots past the truncation point would bring the dropped txns back.
        for (z, p) in snapshot::list(&self.snap_dir)? {
            if z > zxid {
                std::fs::remove_file(p)?;
            }
        }
        let loaded = load_tree(&self.cfg)?;
        if loaded.tree.last_zxid != zxid {
            return Err(format!(
                "truncated to 0x{zxid:x} but the tree is at 0x{:x}",
                loaded.tree.last_zxid
            )
            .into());
        }
        self.tracker = DigestTracker::new(&loaded.tree);
        self.tree = Some(loaded.tree);
        self.log = TxnLogWriter::new(self.log_dir.clone(), log_options(&self.cfg))?;
        Ok(())
    }

    fn begin_snapshot(&mut self, _zxid: i64) -> Result<(), DbError> {
        self.loading = Some(SnapLoader::new(self.cfg.extended_types_enabled));
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
        let mut tree = self
            .loading
            .take()
            .ok_or("snapshot end outside a snapshot")?
            .finish(zxid)?;
        init_config_node(&self.cfg, &mut tree);
        self.tracker = DigestTracker::new(&tree);
        self.tree = Some(tree);
        Ok(())
    }

    fn take_snapshot(&mut self, sync: bool) -> Result<(), DbError> {
        let opts = SnapshotOptions {
            fsync: sync,
            digest: self.cfg.digest_enabled,
            ..Default::default()
        };
        let snap_dir = self.snap_dir.clone();
        let Some(tree) = self.tree.as_ref() else {
            warn!("the learner asked for a snapshot while serving; the pipeline takes them");
            return Ok(());
        };
        let path = snapshot::write_snapshot(tree, &snap_dir, tree.last_zxid, &opts)?;
        info!("snapshot {} written", path.display());
        self.log.roll()?;
        Ok(())
    }

    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        self.log.append_entry(zxid, entry)?;
        Ok(())
    }

    fn sync_log(&mut self) -> Result<(), DbError> {
        self.log.flush_and_sync()?;
        Ok(())
    }

    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        let (txn, digest) = txnlog::decode_entry(entry)?;
        if txn.hdr.zxid != zxid {
            return Err(format!("entry of 0x{:x} applied as 0x{zxid:x}", txn.hdr.zxid).into());
        }
        if self.tree.is_none() {
            // Serving: the pipeline applies it and answers the client.
            self.to_core
                .send(PeerMsg::Commit(txn, digest.map(|d| d.tree_digest)))
                .map_err(|_| "the pipeline is gone")?;
            return Ok(());
        }
        let mut tracker = std::mem::replace(&mut self.tracker, DigestTracker::with_value(0));
        tracker.apply(self.tree()?, &txn, &mut Vec::new());
        self.tracker = tracker;
        Ok(())
    }

    fn start_serving(&mut self, epoch: i64) -> Result<(), DbError> {
        let tree = self.tree.take().ok_or("serving twice")?;
        self.to_core
            .send(PeerMsg::Serve {
                tree: Box::new(tree),
                digest: self.tracker.value(),
                epoch,
            })
            .map_err(|_| "the pipeline is gone")?;
        Ok(())
    }

    fn revalidated(&mut self, session_id: i64, valid: bool) {
        let _ = self.to_core.send(PeerMsg::Revalidated(session_id, valid));
    }

    fn synced(&mut self) {
        let _ = self.to_core.send(PeerMsg::Synced);
    }
}

/// The leader's database: the txn log and the epoch files; the tree is the pipeline's.
struct LeadDb {
    snap_dir: PathBuf,
    log: TxnLogWriter,
    state: PersistedState,
    committed: Vec<(i64, Bytes)>,
    /// Asks the pipeline for a copy of its tree (for a learner's SNAP).
    snapshots: mpsc::UnboundedSender<SnapRequest>,
}

/// A copy of the pipeline's tree once every commit before the request is applied.
struct SnapRequest {
    reply: std::sync::mpsc::Sender<DataTree>,
}

/// The most recent committed txns in our log (up to Java's `commitLogCount`), for DIFF
/// syncs of learners that are a little behind.
fn recent_committed(log_dir: &std::path::Path, last_zxid: i64) -> Vec<(i64, Bytes)> {
    let counter = last_zxid & 0xffff_ffff;
    let from = if counter > COMMIT_LOG_COUNT as i64 {
        last_zxid - COMMIT_LOG_COUNT as i64 + 1
    } else {
        last_zxid - counter
    };
    let mut out = std::collections::VecDeque::new();
    let mut reader = match txnlog::TxnLogReader::open(log_dir, from) {
        Ok(r) => r,
        Err(e) => {
            warn!("cannot read the txn log for DIFF syncs: {e}");
            return Vec::new();
        }
    };
    loop {
        match reader.next_entry() {
            Ok(Some(e)) => {
                let zxid = e.txn.hdr.zxid;
                if zxid > last_zxid {
                    break;
                }
                out.push_back((zxid, e.raw));
                if out.len() > COMMIT_LOG_COUNT {
                    out.pop_front();
                }
            }
            Ok(None) => break,
            Err(e) => {
                warn!("reading the txn log for DIFF syncs: {e}");
                break;
            }
        }
    }
    // The window must be contiguous up to our last zxid, or it is useless.
    if out.back().is_some_and(|(z, _)| *z != last_zxid) {
        return Vec::new();
    }
    out.into()
}

impl LeaderDb for LeadDb {
    fn persisted_state(&self) -> PersistedState {
        self.state
    }

    fn committed_log(&self) -> Vec<(i64, Bytes)> {
        self.committed.clone()
    }

    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        recovery::write_epoch(&self.snap_dir, ACCEPTED_EPOCH_FILE, epoch)?;
        self.state.accepted_epoch = epoch;
        Ok(())
    }

    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        recovery::write_epoch(&self.snap_dir, CURRENT_EPOCH_FILE, epoch)?;
        self.state.current_epoch = epoch;
        Ok(())
    }

    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        self.log.append_entry(zxid, entry)?;
        Ok(())
    }

    fn sync_log(&mut self) -> Result<(), DbError> {
        self.log.flush_and_sync()?;
        Ok(())
    }

    fn apply(&mut self, _zxid: i64, _entry: &Bytes) -> Result<(), DbError> {
        // The pipeline applies it on Event::Committed (it holds the prepped txn).
        Ok(())
    }

    fn snapshot_stream(&mut self, zxid: i64, out: &mut BytesMut) -> Result<(), DbError> {
        let (reply, rx) = std::sync::mpsc::channel();
        self.snapshots
            .send(SnapRequest { reply })
            .map_err(|_| "the pipeline is gone")?;
        // The pipeline answers after applying every commit announced before this request;
        // it never waits for us.
        let tree = tokio::task::block_in_place(|| rx.recv())
            .map_err(|_| "the pipeline did not answer the snapshot request")?;
        // A snapshot file without its header (magic, version, dbid: 16 bytes) and its seal
        // (Adler32 long, "/": 13 bytes) is the stream body.
        let mut file = Vec::new();
        snapshot::serialize(&tree, zxid, false, &mut file)?;
        out.extend_from_slice(&file[16..file.len() - 13]);
        jute::Encode::encode(&SNAP_SIGNATURE.to_string(), out);
        info!(
            "snapshot of {} znodes at 0x{zxid:x} sent to a learner",
            tree.node_count()
        );
        Ok(())
    }
}

/// Lead the ensemble until the leadership ends, serving clients once established.
async fn lead_ensemble(
    cfg: &Config,
    view: &QuorumMaj,
    my_id: i64,
    db: PeerDb,
    election: &ElectionHandle,
    rx: &mut mpsc::Receiver<ToPipeline>,
    tx: &mpsc::Sender<ToPipeline>,
) {
    let Some(me) = view.server(my_id) else {
        warn!("we were elected but are not in the ensemble's server list");
        return;
    };
    let Some(addr) = resolve(&me.quorum_addr()).await else {
        warn!("cannot resolve our quorum address {}", me.quorum_addr());
        return;
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot bind the quorum port {addr}: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
    };
    let PeerDb {
        tree,
        tracker,
        log,
        log_dir,
        snap_dir,
        accepted_epoch,
        current_epoch,
        ..
    } = db;
    let Some(tree) = tree else {
        warn!("no tree to lead with");
        return;
    };
    let state = PersistedState {
        accepted_epoch,
        current_epoch,
        last_zxid: tree.last_zxid.into(),
    };
    let committed = recent_committed(&log_dir, tree.last_zxid);
    info!(
        "LEADING from zxid 0x{:x} ({} recent txns kept for DIFF syncs)",
        tree.last_zxid,
        committed.len()
    );
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<SnapRequest>();
    let mut ldb = LeadDb {
        snap_dir,
        log,
        state,
        committed,
        snapshots: snap_tx,
    };
    // Idle until established, but holding the tree: learners syncing by SNAP get copies.
    let mut shell = idle_shell(cfg, "leader", tx);
    shell.pipeline.load(shell::now(), tree, tracker.value());
    let mut lcfg = LeaderConfig::new(my_id, view.clone());
    lcfg.tick_time = Duration::from_millis(cfg.tick_time_ms as u64);
    lcfg.init_limit = cfg.init_limit;
    lcfg.sync_limit = cfg.sync_limit;
    lcfg.max_buffer = packet::DEFAULT_MAX_BUFFER.max(cfg.jute_maxbuffer + 1024);
    let (handle, control) = leader_net::control_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        match leader_net::lead(listener, lcfg, &mut ldb, control, ev_tx).await {
            Ok(exit) => format!("{exit:?}"),
            Err(e) => e.to_string(),
        }
    });
    let on_event = |shell: &mut Shell, ev: Event| match ev {
        Event::Established { epoch } => {
            election.update_peer_epoch(epoch);
            info!(
                "established as leader of epoch {epoch} at zxid 0x{:x}: serving as leader",
                shell.pipeline.last_zxid()
            );
            shell.upstream = Upstream::Leader(handle.clone());
            shell.write_snapshots_to(snapshot_dir(cfg), snapshot_options(cfg));
            shell
                .pipeline
                .start_leading(jute::Zxid::new(epoch, 0).into());
        }
        Event::Synced { sid, kind, zxid } => {
            info!("learner {sid} synchronised by {kind:?} at 0x{zxid:x}")
        }
        Event::Committed { zxid } => shell.step(ToPipeline::Input(Input::Durable { zxid })),
        Event::FromLearner(LearnerMessage::Request {
            from,
            session_id,
            cxid,
            op,
            body,
            authinfo,
            ..
        }) => {
            let auth = authinfo
                .into_iter()
                .map(|i| AuthId::new(i.scheme, i.id))
                .collect();
            shell.step(ToPipeline::Input(Input::LearnerRequest {
                from,
                session: session_id,
                cxid,
                op,
                body,
                auth,
            }));
        }
        // The request above was proposed before `step` returned (the shell puts each
        // `Output::Log` on the leader's control channel at once), so a sync handed back here
        // is behind the proposals of every request that learner forwarded before it.
        Event::FromLearner(LearnerMessage::Sync { from, .. }) => handle.sync(from),
        Event::FromLearner(LearnerMessage::Touch {
            session_id,
            timeout,
        }) => shell.step(ToPipeline::Input(Input::LearnerTouch {
            session: session_id,
            timeout_ms: timeout,
        })),
        // Answered by the pipeline's Output::RevalidateAnswer (the shell sends it).
        Event::FromLearner(LearnerMessage::Revalidate {
            from,
            session_id,
            timeout,
        }) => shell.step(ToPipeline::Input(Input::LearnerRevalidate {
            from,
            session: session_id,
            timeout_ms: timeout,
        })),
    };
    loop {
        tokio::select! {
            // The leader's events first: a client request taken after the leader announced
            // a commit must see it (a sync + read here after a write acknowledged by a
            // follower; an unbiased select picks a ready client message half the time).
            biased;
            ev = ev_rx.recv() => match ev {
                Some(ev) => on_event(&mut shell, ev),
                None => break,
            },
            Some(req) = snap_rx.recv() => {
                // Every commit the leader announced before asking is in ev_rx already.
                while let Ok(ev) = ev_rx.try_recv() {
                    on_event(&mut shell, ev);
                }
                let _ = req.reply.send(shell.pipeline.tree.snapshot_copy());
            }
            Some(m) = rx.recv() => shell.step(m),
        }
        shell.flush();
    }
    let why = task.await.unwrap_or_else(|e| e.to_string());
    warn!("the leadership ended: {why}");
    shell.close_all();
}

fn fatal(msg: String) -> ! {
    error!("{msg}");
    eprintln!("zkserver: {msg}");
    std::process::exit(1);
}

/// A pipeline that serves nothing yet (electing or syncing): four-letter words only; `role`
/// is what the four-letter words show.
fn idle_shell(cfg: &Config, role: &'static str, tx: &mpsc::Sender<ToPipeline>) -> Shell {
    let pipeline = Pipeline::new(cfg.clone(), Mode::Idle(role), shell::now(), shell::seed());
    Shell::new(pipeline, tx.clone())
}

fn snapshot_dir(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("version-2")
}

fn snapshot_options(cfg: &Config) -> SnapshotOptions {
    SnapshotOptions {
        digest: cfg.digest_enabled,
        ..Default::default()
    }
}

async fn resolve(addr: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(addr).await.ok()?.next()
}

/// Run as a member of the ensemble described by `cfg` (`cfg.is_distributed()`).
pub async fn run(cfg: Config) {
    let Some(my_id) = cfg.my_id.map(|id| id as i64) else {
        fatal(format!(
            "{}/myid is missing: a server of an ensemble needs its id",
            cfg.data_dir.display()
        ));
    };
    let view = quorum_view(&cfg);
    let mode = if cfg.peer_type == PeerType::Observer || view.is_observer(my_id) {
        Mode::Observer
    } else {
        Mode::Follower
    };
    let role = mode.name();
    let addr = cfg.client_socket_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => fatal(format!("cannot bind client port {addr}: {e}")),
    };
    info!("binding to port {addr}");
    let (tx, mut rx) = mpsc::channel::<ToPipeline>(8192);
    shell::spawn_ticker(tx.clone(), cfg.tick_time_ms);
    tokio::spawn(crate::net::serve(
        listener,
        tx.clone(),
        crate::flow::ServerFlow::new(crate::flow::Limits::from_config(&cfg)),
        std::sync::Arc::new(cfg.clone()),
    ));
    let election =
        match ElectionHandle::bind(NetConfig::new(FleConfig::new(my_id, view.clone()))).await {
            Ok(e) => e,
            Err(e) => fatal(format!("cannot start leader election: {e}")),
        };
    let mut shell = idle_shell(&cfg, role, &tx);
    loop {
        let (peer_tx, mut peer_rx) = mpsc::unbounded_channel::<PeerMsg>();
        let db = match PeerDb::open(&cfg, peer_tx.clone()) {
            Ok(db) => db,
            Err(e) => fatal(format!(
                "cannot open the database in {}: {e}",
                cfg.data_dir.display()
            )),
        };
        drop(peer_tx);
        let ps = db.persisted_state();
        info!(
            "LOOKING (last zxid {}, current epoch {})",
            ps.last_zxid, ps.current_epoch
        );
        let outcome = {
            let look = election.look_for_leader(ps.last_zxid, ps.current_epoch);
            tokio::pin!(look);
            // Java's QuorumPeer: with readonlymode.enabled, a peer still LOOKING after
            // max(2000 ms, tickTime) serves its last loaded tree read-only.
            let ro_delay =
                tokio::time::sleep(Duration::from_millis((cfg.tick_time_ms as u64).max(2000)));
            tokio::pin!(ro_delay);
            let mut ro_pending = cfg.read_only_mode_enabled;
            loop {
                tokio::select! {
                    o = &mut look => break o,
                    _ = &mut ro_delay, if ro_pending => {
                        ro_pending = false;
                        if let Some(tree) = db.tree.as_ref() {
                            info!(
                                "no quorum: serving read-only at zxid 0x{:x}",
                                tree.last_zxid
                            );
                            shell = idle_shell(&cfg, "read-only", &tx);
                            shell.pipeline.load(
                                shell::now(),
                                tree.snapshot_copy(),
                                db.tracker.value(),
                            );
                            shell.pipeline.start_read_only();
                        }
                    }
                    Some(m) = rx.recv() => shell.step(m),
                }
                shell.flush();
            }
        };
        if shell.pipeline.mode == Mode::ReadOnly {
            info!("leaving read-only mode: closing the read-only sessions");
            shell.close_all();
            shell = idle_shell(&cfg, role, &tx);
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => fatal(format!("leader election failed: {e}")),
        };
        let leader = outcome.vote.leader;
        let kind = match outcome.state {
            ServerState::Following => LearnerKind::Follower,
            ServerState::Observing => LearnerKind::Observer,
            ServerState::Leading => {
                info!(
                    "LEADING (election round {}, peer epoch {})",
                    outcome.vote.election_epoch, outcome.vote.peer_epoch
                );
                shell.close_all();
                lead_ensemble(&cfg, &view, my_id, db, &election, &mut rx, &tx).await;
                shell = idle_shell(&cfg, role, &tx);
                continue;
            }
            ServerState::Looking => continue,
        };
        info!(
            "{} server {leader} (election round {})",
            if kind == LearnerKind::Observer {
                "OBSERVING"
            } else {
                "FOLLOWING"
            },
            outcome.vote.election_epoch
        );
        let resolved = match view.server(leader) {
            Some(s) => resolve(&s.quorum_addr()).await,
            None => None,
        };
        let Some(leader_addr) = resolved else {
            warn!("no quorum address for the elected leader {leader}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let lcfg = LearnerConfig {
            sid: my_id,
            kind,
            config_version: view.version(),
            tick_time: Duration::from_millis(cfg.tick_time_ms as u64),
            init_limit: cfg.init_limit,
            sync_limit: cfg.sync_limit,
            max_buffer: packet::DEFAULT_MAX_BUFFER.max(cfg.jute_maxbuffer + 1024),
        };
        let (handle, mut control) = control_channel();
        let learner = tokio::spawn(async move {
            let mut db = db;
            let to_core = db.to_core.clone();
            let why = match follow_leader(leader_addr, lcfg, &mut db, &mut control).await {
                Ok(exit) => format!("{exit:?}"),
                Err(e) => e.to_string(),
            };
            let _ = to_core.send(PeerMsg::Ended(why));
        });
        loop {
            tokio::select! {
                m = peer_rx.recv() => match m {
                    Some(PeerMsg::Serve { tree, digest, epoch }) => {
                        election.update_peer_epoch(epoch);
                        info!(
                            "synced with leader {leader} (epoch {epoch}) at zxid 0x{:x}: serving as {role}",
                            tree.last_zxid
                        );
                        shell.pipeline.load(shell::now(), *tree, digest);
                        shell.write_snapshots_to(snapshot_dir(&cfg), snapshot_options(&cfg));
                        shell.upstream = Upstream::Learner(handle.clone());
                        shell.pipeline.start_following(mode);
                    }
                    Some(PeerMsg::Commit(txn, leader_digest)) => {
                        shell.step(ToPipeline::Input(Input::Committed { txn, leader_digest }))
                    }
                    Some(PeerMsg::Revalidated(session, valid)) => {
                        shell.step(ToPipeline::Input(Input::Revalidated { session, valid }))
                    }
                    Some(PeerMsg::Synced) => shell.step(ToPipeline::Input(Input::Synced)),
                    Some(PeerMsg::Ended(why)) => {
                        warn!("the session with leader {leader} ended: {why}");
                        break;
                    }
                    None => break,
                },
                Some(m) = rx.recv() => shell.step(m),
            }
            shell.flush();
        }
        let _ = learner.await;
        shell.close_all();
        shell = idle_shell(&cfg, role, &tx);
    }
}
