//! The request pipeline: one task owns the tree, the sessions and the pending changes, and
//! takes every client message in arrival order. Writes are prepped into txns (zxid
//! assigned), committed, applied, and answered; reads are answered from the tree in FIFO
//! order with their session's earlier requests. Watch events are queued to the watching
//! connection before the reply of the write that fired them, as Java does.
//!
//! A prepped txn goes to a [`Durability`] (standalone: the txn log's group commit in
//! `durability`; leader: the ZAB proposal) and is applied when `CoreMsg::Durable` says it is
//! stored (leader: committed by a quorum). A follower forwards writes through [`Upstream`].

use crate::auth::{self, AuthConfig, AuthId, AuthInfo};
use crate::config::Config;
use crate::error::{self, Code};
use crate::flow::{answers_request, counts_as_request, ConnFlow, ServerFlow};
use crate::prep::{self, Pending, PrepContext};
use crate::session_id;
use crate::sessions::{SessionOwner, SessionTracker};
use crate::stats::{op_name, ConnStats, ServerStats};
use crate::tree::{ApplyResult, DataTree, NodeKind};
use crate::txn::{Txn, TxnBody};
use crate::watch::{WatchKind, WatcherType};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use hashbrown::HashMap;
use jute::connect::{encode_connect_response, Connect};
use jute::data::{ClientInfo, Stat};
use jute::frame::write_frame;
use jute::multi::{MultiOp, MultiResult};
use jute::ops;
use jute::proto::*;
use jute::txn::{CreateSessionTxn, TxnHeader};
use jute::{Decode, Encode};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

pub type ConnId = u64;

/// What a connection's writer task is asked to do.
#[derive(Debug)]
pub enum Out {
    Frame(Bytes),
    /// Flush what was queued, then close the connection.
    Close,
}

pub type Outbox = mpsc::UnboundedSender<Out>;

/// Messages into the pipeline.
pub enum CoreMsg {
    /// The first frame of a connection (its ConnectRequest).
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        frame: Bytes,
        out: Outbox,
        /// The connection's backpressure counters (see `flow`).
        flow: Arc<ConnFlow>,
    },
    /// Frames after the handshake, in arrival order.
    Requests {
        conn: ConnId,
        frames: Vec<Bytes>,
    },
    Closed {
        conn: ConnId,
    },
    /// The connection's writer drained after the pipeline began holding its requests.
    Drained {
        conn: ConnId,
    },
    /// A four-letter word; the reply is the text to send.
    FourLetter {
        cmd: String,
        /// `stmk`'s 8-byte argument (`None`: it did not arrive, or another word).
        arg: Option<i64>,
        addr: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// Periodic housekeeping: session expiry, containers and TTL nodes.
    Tick,
    /// Every txn up to this zxid is durable (sent by the txn log after its fsync).
    Durable(i64),
}

/// Send `CoreMsg::Tick` to the pipeline a few times per tick (session expiry, containers
/// and TTL nodes are checked on it).
pub fn spawn_ticker(core: mpsc::Sender<CoreMsg>, tick_time_ms: u32) {
    let every = std::time::Duration::from_millis((tick_time_ms as u64 / 4).clamp(10, 500));
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        loop {
            iv.tick().await;
            if core.send(CoreMsg::Tick).await.is_err() {
                break;
            }
        }
    });
}

/// Where txns go to become durable (the txn log). `submit` must lead, after the txn is
/// safely stored, to `CoreMsg::Durable` with its zxid (or a later one).
pub trait Durability: Send {
    /// Log `txn`, with the tree digest after it when digests are enabled.
    fn submit(&mut self, txn: &Txn, digest: Option<&jute::txn::TxnDigest>);
    /// Start a new log file with the next txn (a snapshot is being taken).
    fn roll(&mut self) {}
}

/// Where a quorum member (follower or observer) sends what only the leader decides: every
/// write, session creation and `sync` is forwarded (Java's `Learner.request`), session
/// activity is reported for the leader's PINGs, and reconnecting sessions are revalidated.
/// The leader's committed txns come back through [`Core::apply_committed`].
pub trait Upstream: Send {
    /// Forward a client request: (session, cxid, op) and the request body after its header,
    /// with the connection's auth ids.
    fn forward(&mut self, session: i64, cxid: i32, op: i32, body: &Bytes, auth: &[AuthId]);
    /// A session on this server was active.
    fn touch(&mut self, session: i64, timeout: i32);
    /// Ask the leader whether `session` is still valid (its answer goes to
    /// [`Core::revalidated`]).
    fn revalidate(&mut self, session: i64, timeout: i32);
}

/// Who waits for a txn.
#[derive(Debug, Clone, Copy)]
enum Waiter {
    /// Issued by the server itself (expiry, container cleanup).
    Server,
    /// A client request: reply with this xid; `start_ms` times its latency.
    Request {
        conn: ConnId,
        xid: i32,
        start_ms: i64,
    },
    /// A new session: send the ConnectResponse.
    Handshake(ConnId),
    /// Leader: a request a learner forwarded on leader connection `.0`; the learner answers
    /// its client. A session it creates is that learner's.
    Learner(u64),
}

impl Conn {
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Hand what is unsent to the connection's writer.
    fn send_unsent(&mut self) {
        if !self.unsent.is_empty() {
            // Take the buffer whole: `split` would leave its spare capacity here, keeping
            // the allocation alive for as long as the connection lives.
            let _ = self
                .out
                .send(Out::Frame(std::mem::take(&mut self.unsent).freeze()));
        }
    }
}

/// A client connection as the pipeline knows it.
pub struct Conn {
    pub addr: SocketAddr,
    pub out: Outbox,
    /// 0 until the handshake completed.
    pub session: i64,
    /// The ids it is authenticated as, in Java's order (`ip:<address>` from the start).
    pub auth: AuthInfo,
    /// `None` for clients that sent no readOnly byte.
    pub read_only: Option<bool>,
    pub timeout_ms: i32,
    pub stats: ConnStats,
    /// Writes (or the session's creation) submitted but not yet applied.
    pending_writes: u32,
    /// Frames held back to keep FIFO order behind pending writes.
    queued: VecDeque<Bytes>,
    /// Replies and events not yet handed to the connection's writer ([`Core::flush_replies`]).
    unsent: BytesMut,
    /// The connection-expiry bucket it is in (monotonic ms), as Java's NIO factory files
    /// connections: the next multiple of 10 s after last activity + timeout.
    pub expiry_bucket: i64,
}

/// A connection's share of [`crate::flow`]: its counters and the frames the pipeline holds
/// unprocessed while the connection has too many reply bytes unsent.
struct ConnBackpressure {
    flow: Arc<ConnFlow>,
    held: VecDeque<Bytes>,
}

pub struct Core {
    pub cfg: Config,
    pub tree: DataTree,
    pub sessions: SessionTracker,
    pending: Pending,
    pub conns: HashMap<ConnId, Conn>,
    session_conn: HashMap<i64, ConnId>,
    last_zxid: i64,
    pub auth_cfg: AuthConfig,
    started: Instant,
    pub stats: ServerStats,
    /// Txns submitted for durability, in zxid order, with who waits for them.
    inflight: VecDeque<(Txn, Waiter)>,
    log: Option<Box<dyn Durability>>,
    /// Whether logged txns carry a TxnDigest (`digest.enabled`, default true).
    digest_enabled: bool,
    snapshots: Option<crate::durability::Snapshotter>,
    /// Connection-expiry buckets (monotonic ms) and how many connections are in each;
    /// emptied buckets stay until their time passes (shown by `dump`).
    pub cnxn_buckets: std::collections::BTreeMap<i64, u32>,
    /// Txns applied since the last snapshot, and how many trigger the next one.
    txns_since_snapshot: u64,
    snapshot_after: u64,
    /// The tree's zxid when the last snapshot started.
    last_snapshot_zxid: i64,
    /// The last snapshot due could not start (busy, resting): tried again on each tick, so
    /// that a burst of writes that ends still gets its snapshot.
    snapshot_deferred: bool,
    /// Quorum member mode: the leader decides writes (None standalone).
    upstream: Option<Box<dyn Upstream>>,
    /// Forwarded requests waiting for their committed txn, by (session, cxid).
    forwarded: HashMap<(i64, i32), Waiter>,
    /// Forwarded `sync`s waiting for the leader's SYNC: (conn, xid, path, start).
    pending_syncs: VecDeque<(ConnId, i32, String, i64)>,
    /// Reconnecting sessions waiting for the leader's REVALIDATE answer.
    revalidating: Vec<(i64, ConnId)>,
    /// Connections with unsent replies.
    unsent_conns: Vec<ConnId>,
    /// Backpressure: each connection's counters and the requests held while its replies
    /// are not being read.
    flows: HashMap<ConnId, ConnBackpressure>,
    /// The counters shared by all connections (from the first connection; for `mntr`).
    server_flow: Option<Arc<ServerFlow>>,
    /// The role shown by the four-letter words (`follower`, `observer`); None standalone.
    pub role: Option<&'static str>,
    /// False while a quorum member is not synced with a leader.
    pub serving: bool,
    /// Java's ReadOnlyZooKeeperServer: a quorum member without a quorum serving its last
    /// loaded tree to read-only clients, with local sessions; writes get NotReadOnly.
    pub read_only: bool,
    /// Java's `ZooTrace` text trace mask: set by `stmk`, shown by `gtmk` (nothing is traced).
    pub trace_mask: i64,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Per-namespace write statistics of an applied txn (Java's DataTree.updateWriteStat: the
/// data length for creates and setData, 0 for deletes; nothing for what failed).
fn record_namespace_writes(stats: &mut ServerStats, body: &TxnBody, rc: &ApplyResult) {
    let len = |d: &Option<Bytes>| d.as_ref().map_or(0, |d| d.len() as i64);
    match body {
        _ if rc.err != 0 && !matches!(body, TxnBody::Multi(_)) => {}
        TxnBody::Create(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CreateContainer(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CreateTtl(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::Delete(t) => stats.record_namespace_write(&t.path, 0),
        TxnBody::SetData(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CloseSession(Some(t)) => {
            for p in &t.paths2_delete {
                stats.record_namespace_write(p, 0);
            }
        }
        TxnBody::Multi(subs) => {
            for ((_, sub), sub_rc) in subs.iter().zip(&rc.multi) {
                record_namespace_writes(stats, sub, sub_rc);
            }
        }
        _ => {}
    }
}

/// The frame of a reply: header plus optional body.
fn reply_frame(xid: i32, zxid: i64, err: Code, body: Option<&dyn Fn(&mut BytesMut)>) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    write_frame(&mut b, |b| {
        ReplyHeader { xid, zxid, err }.encode(b);
        if let Some(f) = body {
            f(b)
        }
    });
    b.freeze()
}

fn reply_with<R: Encode>(xid: i32, zxid: i64, r: &R) -> Bytes {
    reply_frame(xid, zxid, 0, Some(&|b: &mut BytesMut| r.encode(b)))
}

/// Whether a write failed because its session is served by another server (a SessionMoved
/// error txn, or a multi whose sub-txn failed so).
fn session_moved(body: &TxnBody) -> bool {
    match body {
        TxnBody::Error(e) => e.err == error::SESSION_MOVED,
        TxnBody::Multi(subs) => subs
            .iter()
            .any(|(_, t)| matches!(t, TxnBody::Error(e) if e.err == error::SESSION_MOVED)),
        _ => false,
    }
}

/// Op codes Java's `Request.isValid` accepts from clients: 3.8.0's list without `check`,
/// which Java 3.8.6/3.9.3 refuse outside a multi (ZOOKEEPER-2623; 3.8.0 logs a txn it
/// cannot read back).
fn is_valid_op(op: i32) -> bool {
    matches!(
        op,
        ops::NOTIFICATION
            | ops::CLOSE_SESSION
            | ops::CREATE
            | ops::CREATE2
            | ops::CREATE_TTL
            | ops::CREATE_CONTAINER
            | ops::CREATE_SESSION
            | ops::DELETE
            | ops::DELETE_CONTAINER
            | ops::EXISTS
            | ops::GET_ACL
            | ops::GET_CHILDREN
            | ops::GET_ALL_CHILDREN_NUMBER
            | ops::GET_CHILDREN2
            | ops::GET_DATA
            | ops::MULTI
            | ops::MULTI_READ
            | ops::PING
            | ops::RECONFIG
            | ops::SET_ACL
            | ops::SET_DATA
            | ops::SET_WATCHES
            | ops::SET_WATCHES2
            | ops::SYNC
            | ops::CHECK_WATCHES
            | ops::REMOVE_WATCHES
            | ops::GET_EPHEMERALS
            | ops::ADD_WATCH
            | ops::WHO_AM_I
            | ops::SASL
    )
}

fn is_write(op: i32) -> bool {
    matches!(
        op,
        ops::CREATE
            | ops::CREATE2
            | ops::CREATE_TTL
            | ops::CREATE_CONTAINER
            | ops::DELETE
            | ops::DELETE_CONTAINER
            | ops::SET_DATA
            | ops::SET_ACL
            | ops::CHECK
            | ops::MULTI
            | ops::RECONFIG
            | ops::CLOSE_SESSION
    )
}

impl Core {
    pub fn new(cfg: Config) -> Core {
        // A standalone Java server creates sessions as server 1.
        let server_id = cfg.my_id.unwrap_or(1);
        let first_id = session_id::initial_session_id(wall_ms(), server_id);
        let auth_cfg = AuthConfig {
            super_digest: cfg.super_digest.clone(),
            skip_acl: cfg.skip_acl,
            digest_enabled: cfg.digest_auth_enabled,
        };
        let tree = DataTree::new(cfg.extended_types_enabled);
        let mut pending = Pending::default();
        pending.digest = crate::persist::digest::tree_digest(&tree);
        Core {
            tree,
            sessions: SessionTracker::new(first_id, cfg.tick_time_ms),
            pending,
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            last_zxid: 0,
            auth_cfg,
            started: Instant::now(),
            stats: ServerStats::new(crate::stats::wall_ms()),
            inflight: VecDeque::new(),
            log: None,
            digest_enabled: cfg.digest_enabled,
            snapshots: None,
            cnxn_buckets: Default::default(),
            txns_since_snapshot: 0,
            snapshot_after: u64::MAX,
            last_snapshot_zxid: 0,
            snapshot_deferred: false,
            upstream: None,
            forwarded: HashMap::new(),
            pending_syncs: VecDeque::new(),
            revalidating: Vec::new(),
            unsent_conns: Vec::new(),
            flows: HashMap::new(),
            server_flow: None,
            role: None,
            serving: true,
            read_only: false,
            trace_mask: crate::fourlw::DEFAULT_TRACE_MASK,
            cfg,
        }
    }

    /// Java's digest log, for `hash`: (zxid, tree digest) of the applied txns whose zxid is a
    /// multiple of 128 (the last 1024): txns this server prepared (standalone, leader) or,
    /// on a learner, applied while serving with the digest the leader logged.
    pub fn digest_log(&self) -> Vec<(i64, i64)> {
        self.pending.digest_log().collect()
    }

    /// A learner: the leader logged the txn `zxid` with this tree digest (what ours is once
    /// it is applied, as the leader checked); kept for the digest log as if prepared here.
    pub fn leader_digest(&mut self, zxid: i64, digest: Option<i64>) {
        if let Some(d) = digest {
            self.pending
                .logged(zxid, if self.digest_enabled { d } else { 0 });
        }
    }

    /// Requests accepted but not answered yet.
    pub fn outstanding(&self) -> usize {
        self.inflight.len()
            + self.forwarded.len()
            + self.pending_syncs.len()
            + self.conns.values().map(|c| c.queued.len()).sum::<usize>()
    }

    /// Run as a quorum member in `role`: writes go to the leader through `up`.
    pub fn set_upstream(&mut self, up: Box<dyn Upstream>, role: &'static str) {
        self.upstream = Some(up);
        self.role = Some(role);
    }

    /// Apply a txn the leader committed; answer the waiting client if it is one of ours.
    pub fn apply_committed(&mut self, txn: Txn) {
        self.last_zxid = self.last_zxid.max(txn.hdr.zxid);
        let waiter = self
            .forwarded
            .remove(&(txn.hdr.client_id, txn.hdr.cxid))
            .unwrap_or(Waiter::Server);
        self.apply(txn, waiter);
    }

    /// Start serving as the leader of the epoch whose first zxid is `zxid` ((epoch, 0)):
    /// writes go through `log`, which proposes them to the quorum; `CoreMsg::Durable`
    /// (the leader's commit) applies and answers them. Txns are numbered on from `zxid`, in
    /// step with the leader's proposals.
    pub fn start_leading(&mut self, zxid: i64, log: Box<dyn Durability>) {
        self.tree.last_zxid = zxid;
        self.last_zxid = zxid;
        self.log = Some(log);
        self.upstream = None;
        self.role = Some("leader");
        self.serving = true;
    }

    /// Leader: a request a learner forwarded on leader connection `from` (Java's
    /// `submitLearnerRequest`), prepped like a local one with the auth ids it carries and the
    /// checks Java's PrepRequestProcessor makes: the session must be live and served by that
    /// learner (else SessionExpired / SessionMoved), ACLs against the carried auth ids, and
    /// deleteContainer's path read from the whole packet as Java reads it (so a client's is
    /// always BadArguments). Nobody here waits for it: the learner answers its client once
    /// the txn is committed.
    pub fn learner_request(
        &mut self,
        from: u64,
        session: i64,
        cxid: i32,
        op: i32,
        body: Bytes,
        auth: Vec<AuthId>,
    ) {
        if session == 0 {
            // No client session has id 0: a learner that sends one is broken.
            warn!("learner request of type {op} without a session ignored");
            return;
        }
        match op {
            ops::CREATE_SESSION => {
                let timeout = match body.get(..4) {
                    Some(b) => i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    None => self.cfg.min_session_timeout_ms as i32,
                };
                info!("creating global session 0x{session:x} with timeout {timeout} for a learner");
                let txn = Txn {
                    hdr: self.next_header(session, cxid, op),
                    body: TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
                };
                let digest = self.current_digest();
                self.commit(txn, digest, Waiter::Learner(from));
            }
            op if is_write(op) => {
                let hdr = self.next_header(session, cxid, op);
                // Java checks the session inside each op (closeSession and deleteContainer
                // do not check it); prep fails those ops with this code.
                let session_error = self
                    .sessions
                    .check_owner(session, SessionOwner::Learner(from))
                    .err();
                let body = if op == ops::DELETE_CONTAINER {
                    // Java's leader takes the path from the packet's whole array: session id,
                    // cxid and type, then the body the learner forwarded.
                    let mut whole = BytesMut::with_capacity(16 + body.len());
                    whole.put_i64(session);
                    whole.put_i32(cxid);
                    whole.put_i32(op);
                    whole.extend_from_slice(&body);
                    whole.freeze()
                } else {
                    body
                };
                let ctx = PrepContext {
                    tree: &self.tree,
                    session,
                    auth: &auth,
                    auth_cfg: &self.auth_cfg,
                    extended_types: self.cfg.extended_types_enabled,
                    reconfig_enabled: self.cfg.reconfig_enabled,
                    session_error,
                    enforce_quota: self.cfg.enforce_quota,
                };
                let (txn, digest) =
                    prep::prep_write(&ctx, &mut self.pending, op, cxid, body, hdr.zxid, hdr.time);
                if op == ops::CLOSE_SESSION {
                    self.sessions.set_closing(session);
                }
                self.commit(txn, digest, Waiter::Learner(from));
            }
            op => warn!("learner request of type {op} for session 0x{session:x} ignored"),
        }
    }

    /// Leader: a learner reports activity of `session` (its PING touch table).
    pub fn touch_session(&mut self, session: i64, _timeout: i32) {
        let now = self.now();
        self.sessions.touch(session, now);
    }

    /// Leader: a learner asks whether `session` is still valid (Java's
    /// `checkIfValidGlobalSession`: a touch that succeeds).
    pub fn revalidate_session(&mut self, from: u64, session: i64, _timeout: i32) -> bool {
        let now = self.now();
        // Java's `Leader.revalidateSession`: a valid session now belongs to that learner.
        self.sessions.touch(session, now)
            && self
                .sessions
                .set_owner(session, SessionOwner::Learner(from))
    }

    /// The leader's answer to a REVALIDATE of `session`.
    pub fn revalidated(&mut self, session: i64, valid: bool) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.revalidating)
            .into_iter()
            .partition(|(s, _)| *s == session);
        self.revalidating = rest;
        for (_, conn) in done {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            c.pending_writes -= 1;
            let timeout = c.timeout_ms;
            if valid {
                let now = self.now();
                if self.sessions.get(session).is_some() {
                    self.sessions.set_timeout(session, timeout);
                    self.sessions.touch(session, now);
                } else {
                    self.sessions.add(session, timeout, now);
                }
            } else {
                info!("invalid session 0x{session:x} (the leader says it expired)");
            }
            self.finish_session(conn, session, valid);
            self.drain(conn);
        }
    }

    /// The leader's SYNC: answer the oldest forwarded `sync`.
    pub fn synced(&mut self) {
        let Some((conn, xid, path, start_ms)) = self.pending_syncs.pop_front() else {
            warn!("SYNC from the leader without a pending sync");
            return;
        };
        let z = self.tree.last_zxid;
        let frame = reply_with(xid, z, &SyncResponse { path });
        let now = crate::stats::monotonic_ms();
        self.stats.record_request(now - start_ms, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats
                .record_response(xid, z, op_name(ops::SYNC), start_ms, now);
            c.pending_writes -= 1;
        }
        self.send(conn, frame);
        self.drain(conn);
    }

    /// Close every client connection (the quorum member stops serving).
    pub fn close_all(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close(c);
        }
    }

    pub fn uptime_ms(&self) -> u64 {
        self.now()
    }

    /// Make writes durable through `log` before they are applied and answered.
    pub fn set_durability(&mut self, log: Box<dyn Durability>) {
        self.log = Some(log);
    }

    /// Take a snapshot every snapCount txns or so (Java: after snapCount/2 plus a random
    /// part of snapCount/2, so ensemble members do not snapshot together).
    pub fn set_snapshots(&mut self, s: crate::durability::Snapshotter) {
        self.snapshots = Some(s);
        self.last_snapshot_zxid = self.tree.last_zxid;
        self.snapshot_after = self.next_snapshot_threshold();
    }

    fn next_snapshot_threshold(&self) -> u64 {
        let half = (self.cfg.snap_count / 2).max(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
        half + nanos % half
    }

    /// Snapshot a consistent copy of the tree in the background and roll the log. The
    /// snapshotter may let it rest after a long snapshot, but not once 2 * snapCount txns
    /// have passed since the last one started (that bounds what a restart replays).
    pub fn snapshot_now(&mut self) {
        let Some(s) = self.snapshots.as_ref() else {
            return;
        };
        let started = s.start(self.tree.snapshot_copy(), self.snapshot_may_rest());
        if started {
            self.last_snapshot_zxid = self.tree.last_zxid;
            if let Some(log) = self.log.as_mut() {
                log.roll();
            }
        }
        self.snapshot_deferred = !started;
        self.txns_since_snapshot = 0;
        self.snapshot_after = self.next_snapshot_threshold();
    }

    /// A due snapshot may wait out the snapshotter's rest until 2 * snapCount txns have
    /// passed since the last one started.
    fn snapshot_may_rest(&self) -> bool {
        let since_last = self.tree.last_zxid.wrapping_sub(self.last_snapshot_zxid);
        (0..2 * self.cfg.snap_count as i64).contains(&since_last)
    }

    /// The tree digest once every prepped txn is applied.
    fn current_digest(&self) -> jute::txn::TxnDigest {
        jute::txn::TxnDigest {
            version: crate::persist::digest::DIGEST_VERSION,
            tree_digest: self.pending.digest,
        }
    }

    /// Continue from a recovered tree whose digest is `digest` (zxids go on from its last).
    pub fn set_tree(&mut self, tree: DataTree, digest: i64) {
        self.pending.digest = digest;
        self.last_zxid = tree.last_zxid;
        let now = self.now();
        for (id, timeout) in &tree.sessions {
            self.sessions.add(*id, *timeout, now);
        }
        self.tree = tree;
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn last_zxid(&self) -> i64 {
        self.tree.last_zxid
    }

    /// Handle one message.
    pub fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Connect {
                conn,
                addr,
                frame,
                out,
                flow,
            } => {
                self.server_flow.get_or_insert_with(|| flow.server.clone());
                self.connect(conn, addr, frame, out);
                if self.conns.contains_key(&conn) {
                    let held = VecDeque::new();
                    self.flows.insert(conn, ConnBackpressure { flow, held });
                }
            }
            CoreMsg::Requests { conn, frames } => self.admit(conn, frames),
            CoreMsg::Drained { conn } => self.release_held(conn),
            CoreMsg::Closed { conn } => self.drop_conn(conn),
            CoreMsg::FourLetter {
                cmd,
                arg,
                addr,
                reply,
            } => {
                self.gather_throttle_metrics();
                let _ = reply.send(crate::fourlw_glue::respond(self, &cmd, arg, addr));
            }
            CoreMsg::Tick => self.tick(),
            CoreMsg::Durable(zxid) => {
                while self
                    .inflight
                    .front()
                    .is_some_and(|(t, _)| t.hdr.zxid <= zxid)
                {
                    let (txn, waiter) = self.inflight.pop_front().unwrap();
                    self.apply(txn, waiter);
                }
            }
        }
    }

    // ---- backpressure (see `flow`) ----

    /// Take a connection's request frames, or hold them (unprocessed, and the reader stops
    /// reading) while the connection has too many reply bytes unsent.
    fn admit(&mut self, conn: ConnId, frames: Vec<Bytes>) {
        let mut frames = frames.into_iter();
        while let Some(f) = frames.next() {
            if !self.conns.contains_key(&conn) {
                return;
            }
            if self.must_hold(conn) {
                let fc = self.flows.get_mut(&conn).expect("must_hold found it");
                let all: Vec<Bytes> = std::iter::once(f).chain(frames).collect();
                // Held requests are not in process: they must not throttle other clients.
                let counted = all.iter().filter(|f| counts_as_request(f)).count();
                fc.flow.requests_held(counted as i64);
                fc.held.extend(all);
                return;
            }
            self.request(conn, f);
        }
    }

    /// Whether `conn`'s next request must wait for its writer to drain; starts holding if
    /// so (a `CoreMsg::Drained` from the writer ends it).
    fn must_hold(&mut self, conn: ConnId) -> bool {
        let (Some(c), Some(fc)) = (self.conns.get(&conn), self.flows.get(&conn)) else {
            return false;
        };
        if !fc.held.is_empty() {
            return true;
        }
        let pending = c.unsent.len();
        if fc.flow.may_process(pending) {
            return false;
        }
        fc.flow.hold();
        // The writer may have drained between the check and `hold`.
        if fc.flow.may_process(pending) {
            fc.flow.release();
            return false;
        }
        true
    }

    /// The writer drained: process held requests until the connection is over budget again.
    fn release_held(&mut self, conn: ConnId) {
        loop {
            let Some(fc) = self.flows.get_mut(&conn) else {
                return;
            };
            if fc.held.is_empty() {
                fc.flow.release();
                return;
            }
            let pending = self.conns.get(&conn).map_or(0, |c| c.unsent.len());
            if !fc.flow.may_process(pending) {
                fc.flow.hold();
                if !fc.flow.may_process(pending) {
                    return;
                }
            }
            let f = fc.held.pop_front().expect("not empty");
            if counts_as_request(&f) {
                fc.flow.requests_read(1);
            }
            self.request(conn, f);
        }
    }

    /// Frames queued behind a pending write would all be processed when it is applied: past
    /// the budget, they are held instead (in front of any held already, to keep the order).
    fn hold_queued(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(fc) = self.flows.get_mut(&conn) else {
            return false;
        };
        if c.queued.is_empty() || fc.flow.may_process(c.unsent.len()) {
            return false;
        }
        fc.flow.hold();
        if fc.flow.may_process(c.unsent.len()) && fc.held.is_empty() {
            fc.flow.release();
            return false;
        }
        let counted = c.queued.iter().filter(|f| counts_as_request(f)).count();
        fc.flow.requests_held(counted as i64);
        for f in c.queued.drain(..).rev() {
            fc.held.push_front(f);
        }
        true
    }

    /// Add the throttle metrics the connection tasks counted to the statistics.
    fn gather_throttle_metrics(&mut self) {
        use crate::stats::Counter;
        if let Some(sf) = &self.server_flow {
            let m = sf.take_metrics();
            self.stats
                .add(Counter::RequestThrottleWaitCount, m.request_throttle_waits);
            self.stats
                .add(Counter::StaleRequestsDropped, m.stale_requests_dropped);
            self.stats.add(Counter::StaleRequests, m.stale_requests);
        }
    }

    /// Queue `frame` for `conn`; it goes out with the connection's other replies at the next
    /// [`Core::flush_replies`].
    fn send(&mut self, conn: ConnId, frame: Bytes) {
        if answers_request(&frame) {
            if let Some(fc) = self.flows.get(&conn) {
                fc.flow.request_answered();
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packet_sent();
            self.stats.packet_sent();
            if c.unsent.is_empty() {
                self.unsent_conns.push(conn);
            }
            c.unsent.extend_from_slice(&frame);
        }
    }

    /// Hand every connection's queued replies to its writer, one message each. The owner of
    /// the pipeline calls this after each batch of messages it handled: a batch's replies to
    /// one client then cost one channel send and one socket write, not one per reply.
    pub fn flush_replies(&mut self) {
        let mut not_reading = Vec::new();
        for conn in self.unsent_conns.drain(..) {
            let (Some(c), Some(fc)) = (self.conns.get_mut(&conn), self.flows.get(&conn)) else {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.send_unsent();
                }
                continue;
            };
            fc.flow.queued(c.unsent.len());
            c.send_unsent();
            if fc.flow.unsent() > crate::flow::hard_cap(self.cfg.jute_maxbuffer) {
                not_reading.push((conn, fc.flow.unsent()));
            }
        }
        for (conn, bytes) in not_reading {
            // Watch events keep coming for a client that does not read: never drop them
            // silently, close the connection (the client's reconnect sets its watches again).
            warn!(
                conn,
                bytes, "closing connection: client does not read its replies and events"
            );
            self.close(conn);
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.send_unsent();
            let _ = c.out.send(Out::Close);
        }
        self.drop_conn(conn);
    }

    /// Java's touchCnxn: file the connection in the expiry bucket after
    /// now + its timeout (10 s buckets).
    fn touch_cnxn(&mut self, conn: ConnId) {
        const INTERVAL: i64 = 10_000;
        let now = crate::stats::monotonic_ms();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let bucket = ((now + c.timeout_ms as i64) / INTERVAL + 1) * INTERVAL;
        if bucket == c.expiry_bucket {
            return;
        }
        if let Some(n) = self.cnxn_buckets.get_mut(&c.expiry_bucket) {
            *n = n.saturating_sub(1);
        }
        c.expiry_bucket = bucket;
        *self.cnxn_buckets.entry(bucket).or_default() += 1;
        // Buckets whose time has passed are gone (Java's expirer polls them).
        self.cnxn_buckets.retain(|t, n| *t > now || *n > 0);
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(fc) = self.flows.remove(&conn) {
            fc.flow.close();
        }
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(n) = self.cnxn_buckets.get_mut(&c.expiry_bucket) {
                *n = n.saturating_sub(1);
            }
            if c.session != 0 && self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
            self.tree.watches.remove_watcher(conn);
        }
    }

    // ---- handshake ----

    fn connect(&mut self, conn: ConnId, addr: SocketAddr, frame: Bytes, out: Outbox) {
        self.stats.packet_received(frame.len() as u64 + 4);
        let c = match Connect::decode(frame) {
            Ok(c) => c,
            Err(e) => {
                warn!(%addr, "closing connection: bad ConnectRequest: {e}");
                let _ = out.send(Out::Close);
                return;
            }
        };
        if c.read_only.is_none() {
            warn!(%addr, "Connection request from old client; will be dropped if server is in r-o mode");
        }
        if self.read_only && c.read_only != Some(true) {
            info!(%addr, "Refusing session request for not-read-only client");
            let _ = out.send(Out::Close);
            return;
        }
        let req = &c.request;
        if req.last_zxid_seen > self.tree.last_zxid {
            info!(
                %addr,
                "Refusing session request for client as it has seen zxid 0x{:x} our last zxid is 0x{:x} client must try another server",
                req.last_zxid_seen, self.tree.last_zxid
            );
            let _ = out.send(Out::Close);
            return;
        }
        let timeout = req.time_out.clamp(
            self.cfg.min_session_timeout_ms as i32,
            self.cfg.max_session_timeout_ms as i32,
        );
        self.conns.insert(
            conn,
            Conn {
                addr,
                out,
                session: 0,
                auth: AuthInfo::for_connection(&addr),
                read_only: c.read_only,
                timeout_ms: timeout,
                stats: {
                    let mut st = ConnStats::new(crate::stats::wall_ms());
                    st.packet_received();
                    st
                },
                pending_writes: 0,
                queued: VecDeque::new(),
                unsent: BytesMut::new(),
                expiry_bucket: 0,
            },
        );
        self.touch_cnxn(conn);
        if req.session_id == 0 && self.upstream.is_some() {
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new session 0x{id:x} with timeout {timeout} (forwarded to the leader)");
            if let Some(c) = self.conns.get_mut(&conn) {
                c.pending_writes += 1;
            }
            self.forwarded.insert((id, 0), Waiter::Handshake(conn));
            let body = Bytes::copy_from_slice(&timeout.to_be_bytes());
            if let Some(up) = self.upstream.as_mut() {
                up.forward(id, 0, ops::CREATE_SESSION, &body, &[]);
            }
        } else if req.session_id == 0 && self.read_only {
            // A local session: nothing is logged.
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new read-only session 0x{id:x} with timeout {timeout}");
            let now = self.now();
            self.sessions.add(id, timeout, now);
            self.finish_session(conn, id, true);
        } else if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new session 0x{id:x} with timeout {timeout}");
            let txn = Txn {
                hdr: self.next_header(id, 0, ops::CREATE_SESSION),
                body: TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
            };
            if let Some(c) = self.conns.get_mut(&conn) {
                c.pending_writes += 1;
            }
            let digest = self.current_digest();
            self.commit(txn, digest, Waiter::Handshake(conn));
        } else {
            let id = req.session_id;
            // Java first closes any other connection of this session (client reconnect),
            // whether or not the password turns out to be right.
            if let Some(old) = self.session_conn.get(&id).copied() {
                if old != conn {
                    info!("closing old connection of session 0x{id:x} (client reconnected)");
                    self.close(old);
                }
            }
            let pw_ok = req
                .passwd
                .as_ref()
                .is_some_and(|p| p[..] == session_id::session_password(id)[..]);
            if pw_ok && self.upstream.is_some() {
                // A follower asks the leader (Learner.validateSession).
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pending_writes += 1;
                }
                self.revalidating.push((id, conn));
                if let Some(up) = self.upstream.as_mut() {
                    up.revalidate(id, timeout);
                }
                return;
            }
            let now = self.now();
            let valid = pw_ok && self.sessions.touch(id, now);
            if valid {
                self.sessions.set_timeout(id, timeout);
                self.sessions.touch(id, now);
                // Java's reopenSession: the session is served here now.
                self.sessions.set_owner(id, SessionOwner::Local);
            } else if !pw_ok {
                info!(%addr, "invalid password for session 0x{id:x}");
            } else {
                info!(%addr, "invalid session 0x{id:x} (expired or unknown)");
            }
            self.finish_session(conn, id, valid);
        }
    }

    fn finish_session(&mut self, conn: ConnId, id: i64, valid: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: if valid { c.timeout_ms } else { 0 },
            session_id: if valid { id } else { 0 },
            passwd: Some(Bytes::copy_from_slice(&if valid {
                session_id::session_password(id)
            } else {
                [0u8; 16]
            })),
        };
        let mut b = BytesMut::with_capacity(48);
        let ro = c.read_only.map(|_| self.read_only);
        write_frame(&mut b, |b| encode_connect_response(&resp, ro, b));
        self.send(conn, b.freeze());
        if valid {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = id;
            }
            self.session_conn.insert(id, conn);
        } else {
            self.close(conn);
        }
    }

    fn next_header(&mut self, session: i64, cxid: i32, op: i32) -> TxnHeader {
        self.last_zxid += 1;
        TxnHeader {
            client_id: session,
            cxid,
            zxid: self.last_zxid,
            time: wall_ms(),
            r#type: op,
        }
    }

    // ---- requests ----

    /// Take a frame in order: it waits behind queued frames, and a read waits until the
    /// connection's earlier writes are applied (FIFO per session).
    fn request(&mut self, conn: ConnId, frame: Bytes) {
        self.stats.packet_received(frame.len() as u64 + 4);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.stats.packet_received();
        self.touch_cnxn(conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let write = frame.len() >= 8
            && is_write(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]));
        let closing = self.sessions.get(c.session).is_some_and(|s| s.closing);
        // Nothing but the handshake runs before the session exists (Java stops reading the
        // connection until then): frames that came with or right after the ConnectRequest
        // wait, and run as the new session once it is established (or are dropped with the
        // connection if it is refused). Nothing runs behind a closeSession either: the
        // close is answered, then the connection closes with whatever came after it.
        if c.session == 0 || closing || !c.queued.is_empty() || (c.pending_writes > 0 && !write) {
            c.queued.push_back(frame);
            return;
        }
        self.process(conn, frame);
    }

    /// Process queued frames until one has to wait again.
    fn drain(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.pending_writes > 0 || c.session == 0 {
                return;
            }
            if self.hold_queued(conn) {
                return;
            }
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(frame) = c.queued.pop_front() else {
                return;
            };
            self.process(conn, frame);
        }
    }

    fn process(&mut self, conn: ConnId, mut frame: Bytes) {
        let whole = frame.clone();
        let hdr = match RequestHeader::decode(&mut frame) {
            Ok(h) => h,
            Err(e) => {
                warn!(conn, "closing connection: bad request header: {e}");
                self.close(conn);
                return;
            }
        };
        let (session, addr) = match self.conns.get_mut(&conn) {
            Some(c) => (c.session, c.addr),
            None => return,
        };
        if session == 0 {
            // `request` holds frames back until the handshake is done.
            warn!(
                conn,
                "closing connection: request of type {} before its session exists", hdr.r#type
            );
            self.close(conn);
            return;
        }
        if !self.auth_enforced(conn, &hdr) {
            return;
        }
        let now = self.now();
        if !self.sessions.touch(session, now) && hdr.r#type != ops::CLOSE_SESSION {
            // The session expired or is closing: Java drops the connection.
            debug!("request on dead session 0x{session:x}; closing");
            self.close(conn);
            return;
        }
        // Only a leader's sessions can be owned elsewhere (a standalone server has no learners,
        // on a learner the leader checks), so nothing else pays for the lookup.
        if self.role == Some("leader")
            && hdr.r#type != ops::CLOSE_SESSION
            && self.sessions.check_owner(session, SessionOwner::Local)
                == Err(error::ErrorCode::SessionMoved)
        {
            // Java's PrepRequestProcessor.checkSession on a leader: the client reconnected to
            // another server; this connection is stale, and SessionMoved closes it.
            info!("session 0x{session:x} moved to another server; closing its old connection");
            self.close(conn);
            return;
        }
        if let Some(up) = self.upstream.as_mut() {
            let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
            up.touch(session, timeout);
        }
        if self.read_only {
            match hdr.r#type {
                ops::CLOSE_SESSION => {
                    // A local session: closed here, nothing to log.
                    self.close_local_session(session);
                    let z = self.tree.last_zxid;
                    self.send(conn, reply_frame(hdr.xid, z, 0, None));
                    self.close(conn);
                    return;
                }
                op @ (ops::SYNC | ops::DELETE_CONTAINER) => {
                    return self.not_read_only(conn, hdr.xid, op);
                }
                op if is_write(op) => return self.not_read_only(conn, hdr.xid, op),
                _ => {}
            }
        }
        match hdr.r#type {
            ops::SYNC if self.upstream.is_some() => {
                self.forward_sync(conn, session, hdr.xid, frame)
            }
            ops::PING => {
                self.record_read(conn, ops::XID_PING, ops::PING);
                let z = self.last_zxid();
                self.send(conn, reply_frame(ops::XID_PING, z, 0, None));
            }
            ops::AUTH => self.auth(conn, hdr.xid, frame, addr),
            ops::SASL => self.sasl(conn, hdr.xid, frame),
            op if !is_valid_op(op) || op == ops::CREATE_SESSION || op == ops::NOTIFICATION => {
                warn!("Received packet at server of unknown type {op}");
                self.send(conn, reply_frame(hdr.xid, -1, error::UNIMPLEMENTED, None));
                self.close(conn);
            }
            // Java takes deleteContainer's path from the whole request buffer, header
            // included, so a client's deleteContainer is always BadArguments.
            ops::DELETE_CONTAINER => {
                self.write(conn, session, hdr.xid, ops::DELETE_CONTAINER, whole)
            }
            op if is_write(op) => self.write(conn, session, hdr.xid, op, frame),
            op => self.read(conn, hdr.xid, op, frame),
        }
    }

    /// `enforce.auth.enabled` (Java's `AuthenticationHelper.enforceAuthentication`, run on
    /// every request but auth and sasl): a connection with no id of an enforced scheme gets
    /// SessionClosedRequireSaslAuth (-124, zxid 0) and is closed, before its request touches
    /// the session or runs. The session itself lives on until it expires, as in Java.
    fn auth_enforced(&mut self, conn: ConnId, hdr: &RequestHeader) -> bool {
        let (Some(schemes), Some(c)) = (&self.cfg.enforce_auth_schemes, self.conns.get(&conn))
        else {
            return true;
        };
        if matches!(hdr.r#type, ops::AUTH | ops::SASL)
            || auth::passes_enforced_auth(c.auth.ids(), schemes)
        {
            return true;
        }
        let have: Vec<&str> = c.auth.iter().map(|id| id.scheme.as_str()).collect();
        error!(
            "Client authentication scheme(s) {have:?} does not match with any of the expected \
             authentication scheme {schemes:?}, closing session."
        );
        let frame = reply_frame(hdr.xid, 0, error::SESSION_CLOSED_REQUIRE_SASL, None);
        self.send(conn, frame);
        self.close(conn);
        false
    }

    /// A write (or sync) on a read-only server (Java's ReadOnlyRequestProcessor).
    fn not_read_only(&mut self, conn: ConnId, xid: i32, op: i32) {
        let z = self.tree.last_zxid;
        let start = crate::stats::monotonic_ms();
        self.stats.record_request(0, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.record_response(xid, z, op_name(op), start, start);
        }
        self.send(conn, reply_frame(xid, z, error::NOT_READ_ONLY, None));
    }

    /// Forget a read-only (local) session and its watches.
    fn close_local_session(&mut self, session: i64) {
        info!("closing read-only session 0x{session:x}");
        self.sessions.remove(session);
        self.session_conn.remove(&session);
    }

    fn auth(&mut self, conn: ConnId, xid: i32, mut frame: Bytes, addr: SocketAddr) {
        let result = AuthPacket::decode(&mut frame).ok().and_then(|p| {
            auth::authenticate(
                &p.scheme,
                p.auth.as_deref().unwrap_or(&[]),
                &addr,
                &self.auth_cfg,
            )
            .ok()
        });
        match result {
            Some(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        c.auth.add(id);
                    }
                }
                self.send(conn, reply_frame(xid, 0, 0, None));
            }
            None => {
                warn!(%addr, "authentication failed");
                self.send(conn, reply_frame(xid, 0, error::AUTH_FAILED, None));
                self.close(conn);
            }
        }
    }

    /// A SASL token (op 102) on a server without SASL: Java's `processSasl` finds no SASL
    /// server on the connection and answers OK with no token (zxid 0), keeping the
    /// connection; a request it cannot read (or a null token) closes the connection.
    fn sasl(&mut self, conn: ConnId, xid: i32, mut frame: Bytes) {
        match GetSASLRequest::decode(&mut frame) {
            Ok(GetSASLRequest { token: Some(_) }) => {
                let reply = SetSASLResponse { token: None };
                self.send(conn, reply_with(xid, 0, &reply));
            }
            _ => {
                warn!(conn, "closing connection: unreadable SASL request");
                self.close(conn);
            }
        }
    }

    /// A quorum member's write: forward it to the leader, answer when it comes back
    /// committed.
    fn forward_write(&mut self, conn: ConnId, session: i64, xid: i32, op: i32, mut body: Bytes) {
        if op == ops::DELETE_CONTAINER && body.len() >= 8 {
            // `process` passes the whole frame for deleteContainer; forward the body.
            body.advance(8);
        }
        if let Some(err) = prep::refused_before_forwarding(op, &body) {
            let z = self.tree.last_zxid;
            self.send(conn, reply_frame(xid, z, err.code(), None));
            return;
        }
        if op == ops::CLOSE_SESSION {
            self.sessions.set_closing(session);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.forwarded.insert(
            (session, xid),
            Waiter::Request {
                conn,
                xid,
                start_ms: crate::stats::monotonic_ms(),
            },
        );
        let no_auth = Vec::new();
        let auth = self.conns.get(&conn).map_or(&no_auth[..], |c| c.auth.ids());
        if let Some(up) = self.upstream.as_mut() {
            up.forward(session, xid, op, &body, auth);
        }
    }

    /// A quorum member's `sync`: the leader answers with SYNC once every earlier commit
    /// has reached us.
    fn forward_sync(&mut self, conn: ConnId, session: i64, xid: i32, body: Bytes) {
        let Ok(r) = SyncRequest::decode(&mut body.clone()) else {
            self.send(
                conn,
                reply_frame(xid, self.tree.last_zxid, error::MARSHALLING_ERROR, None),
            );
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.pending_syncs
            .push_back((conn, xid, r.path, crate::stats::monotonic_ms()));
        let no_auth = Vec::new();
        let auth = self.conns.get(&conn).map_or(&no_auth[..], |c| c.auth.ids());
        if let Some(up) = self.upstream.as_mut() {
            up.forward(session, xid, ops::SYNC, &body, auth);
        }
    }

    fn write(&mut self, conn: ConnId, session: i64, xid: i32, op: i32, body: Bytes) {
        if self.upstream.is_some() {
            return self.forward_write(conn, session, xid, op, body);
        }
        let hdr = self.next_header(session, xid, op);
        let no_auth = Vec::new();
        let auth_ids = self.conns.get(&conn).map_or(&no_auth[..], |c| c.auth.ids());
        let ctx = PrepContext {
            tree: &self.tree,
            session,
            auth: auth_ids,
            auth_cfg: &self.auth_cfg,
            extended_types: self.cfg.extended_types_enabled,
            reconfig_enabled: self.cfg.reconfig_enabled,
            session_error: None,
            enforce_quota: self.cfg.enforce_quota,
        };
        let (txn, digest) =
            prep::prep_write(&ctx, &mut self.pending, op, xid, body, hdr.zxid, hdr.time);
        if op == ops::CLOSE_SESSION {
            self.sessions.set_closing(session);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.commit(
            txn,
            digest,
            Waiter::Request {
                conn,
                xid,
                start_ms: crate::stats::monotonic_ms(),
            },
        );
    }

    /// Make a txn durable, then apply it. Without a txn log it is applied at once.
    fn commit(&mut self, txn: Txn, digest: jute::txn::TxnDigest, waiter: Waiter) {
        for path in self.pending.take_quota_exceeded() {
            if let Some(ns) = crate::stats::top_namespace(&path) {
                self.stats.record_quota_exceeded(ns);
            }
        }
        // Java logs the digest of a tree without digests as 0.
        let logged = if self.digest_enabled {
            digest.tree_digest
        } else {
            0
        };
        self.pending.logged(txn.hdr.zxid, logged);
        let digest = self.digest_enabled.then_some(digest);
        match self.log.as_mut() {
            Some(log) => {
                log.submit(&txn, digest.as_ref());
                self.inflight.push_back((txn, waiter));
            }
            None => self.apply(txn, waiter),
        }
    }

    /// Apply a durable txn, deliver its watch events, then answer whoever waits for it.
    fn apply(&mut self, txn: Txn, waiter: Waiter) {
        self.txns_since_snapshot += 1;
        if self.txns_since_snapshot > self.snapshot_after {
            self.snapshot_now();
        }
        let mut events = Vec::new();
        let rc = self.tree.apply(&txn, &mut events);
        record_namespace_writes(&mut self.stats, &txn.body, &rc);
        self.pending.applied(txn.hdr.zxid);
        match &txn.body {
            TxnBody::CreateSession(t) => {
                let now = self.now();
                self.sessions.add(txn.hdr.client_id, t.time_out, now);
                let owner = match waiter {
                    Waiter::Handshake(_) => Some(SessionOwner::Local),
                    Waiter::Learner(from) => Some(SessionOwner::Learner(from)),
                    _ => None,
                };
                if let Some(owner) = owner {
                    self.sessions.set_owner(txn.hdr.client_id, owner);
                }
            }
            TxnBody::CloseSession(_) => self.sessions.remove(txn.hdr.client_id),
            _ => {}
        }
        self.deliver(events);
        match waiter {
            Waiter::Request {
                conn,
                xid,
                start_ms,
            } => {
                if session_moved(&txn.body) {
                    // Java's FinalRequestProcessor: SessionMoved is a connection-level error,
                    // answered by closing the connection (ZOOKEEPER-710).
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.pending_writes -= 1;
                    }
                    info!(
                        "session 0x{:x} moved to another server; closing its old connection",
                        txn.hdr.client_id
                    );
                    self.close(conn);
                    return;
                }
                let frame = self.write_reply(&txn, &rc, xid);
                let now = crate::stats::monotonic_ms();
                let z = self.tree.last_zxid;
                self.stats.record_request(now - start_ms, true);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.stats
                        .record_response(xid, z, op_name(txn.hdr.r#type), start_ms, now);
                    c.pending_writes -= 1;
                }
                self.send(conn, frame);
                if txn.hdr.r#type == ops::CLOSE_SESSION {
                    self.close(conn);
                }
                self.drain(conn);
            }
            Waiter::Handshake(conn) => {
                self.finish_session(conn, txn.hdr.client_id, true);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pending_writes -= 1;
                }
                self.drain(conn);
            }
            Waiter::Server | Waiter::Learner(_) => {
                if txn.hdr.r#type == ops::CLOSE_SESSION {
                    if let Some(conn) = self.session_conn.get(&txn.hdr.client_id).copied() {
                        self.close(conn);
                    }
                }
            }
        }
    }

    /// Queue watch notifications, each only to a connection that may read the node
    /// (CVE-2024-23944), before any reply of the write that fired them.
    fn deliver(&mut self, events: Vec<crate::tree::Notification>) {
        for (conn, ev, acl) in events {
            let Some(c) = self.conns.get(&conn) else {
                continue;
            };
            if !auth::check_acl(&acl, jute::ops::perms::READ, c.auth.ids(), &self.auth_cfg) {
                continue;
            }
            let frame = reply_with(
                ops::XID_NOTIFICATION,
                -1,
                &WatcherEvent {
                    r#type: ev.kind.code(),
                    state: 3,
                    path: ev.path,
                },
            );
            self.send(conn, frame);
        }
    }

    fn write_reply(&self, txn: &Txn, rc: &ApplyResult, xid: i32) -> Bytes {
        let z = self.tree.last_zxid;
        if txn.hdr.r#type == ops::ERROR || (rc.err != 0 && txn.hdr.r#type != ops::MULTI) {
            return reply_frame(xid, z, rc.err, None);
        }
        let stat = || rc.stat.clone().unwrap_or_default();
        match txn.hdr.r#type {
            ops::CREATE => reply_with(
                xid,
                z,
                &CreateResponse {
                    path: rc.path.clone(),
                },
            ),
            ops::CREATE2 | ops::CREATE_TTL | ops::CREATE_CONTAINER => reply_with(
                xid,
                z,
                &Create2Response {
                    path: rc.path.clone(),
                    stat: stat(),
                },
            ),
            ops::SET_DATA | ops::CHECK => reply_with(xid, z, &SetDataResponse { stat: stat() }),
            ops::SET_ACL => reply_with(xid, z, &SetACLResponse { stat: stat() }),
            ops::MULTI => {
                let results: Vec<MultiResult> = rc
                    .multi
                    .iter()
                    .map(|r| match r.op {
                        ops::CHECK => MultiResult::Check,
                        ops::CREATE => MultiResult::Create(r.path.clone()),
                        ops::CREATE2 | ops::CREATE_TTL | ops::CREATE_CONTAINER => {
                            MultiResult::Create2(r.path.clone(), r.stat.clone().unwrap_or_default())
                        }
                        ops::DELETE | ops::DELETE_CONTAINER => MultiResult::Delete,
                        ops::SET_DATA => MultiResult::SetData(r.stat.clone().unwrap_or_default()),
                        _ => MultiResult::Error(r.err),
                    })
                    .collect();
                reply_frame(
                    xid,
                    z,
                    0,
                    Some(&|b: &mut BytesMut| jute::multi::encode_multi_response(&results, b)),
                )
            }
            _ => reply_frame(xid, z, 0, None),
        }
    }

    // ---- reads ----

    fn read(&mut self, conn: ConnId, xid: i32, op: i32, mut body: Bytes) {
        let z = self.tree.last_zxid;
        let frame = match self.read_body(conn, op, &mut body) {
            Ok(Some(f)) => reply_frame(xid, z, 0, Some(&*f)),
            Ok(None) => reply_frame(xid, z, 0, None),
            Err(code) => reply_frame(xid, z, code, None),
        };
        self.record_read(conn, xid, op);
        self.send(conn, frame);
    }

    /// Reads are answered at once: latency 0 ms, as Java measures within the server.
    fn record_read(&mut self, conn: ConnId, xid: i32, op: i32) {
        let now = crate::stats::monotonic_ms();
        let z = self.tree.last_zxid;
        self.stats.record_request(0, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.record_response(xid, z, op_name(op), now, now);
        }
    }

    fn check_read(&self, conn: ConnId, acl: &[jute::data::Acl], perm: i32) -> Result<(), Code> {
        let c = self.conns.get(&conn).ok_or(error::SESSION_EXPIRED)?;
        if auth::check_acl(acl, perm, c.auth.ids(), &self.auth_cfg) {
            Ok(())
        } else {
            Err(error::NO_AUTH)
        }
    }

    fn get_data(
        &mut self,
        conn: ConnId,
        r: &GetDataRequest,
    ) -> Result<(Option<Bytes>, Stat), Code> {
        let n = self.tree.node(&r.path).ok_or(error::NO_NODE)?;
        self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
        let out = (n.data.to_bytes(), n.stat(self.tree.extended_types()));
        if r.watch {
            self.tree.watches.add(&r.path, conn, WatchKind::Data);
        }
        let len = out.0.as_ref().map_or(0, |d| d.len() as i64);
        self.stats.record_namespace_read(&r.path, len);
        Ok(out)
    }

    fn get_children(
        &mut self,
        conn: ConnId,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), Code> {
        let n = self.tree.node(path).ok_or(error::NO_NODE)?;
        self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
        let children: Vec<String> = n
            .children
            .java_order()
            .into_iter()
            .map(str::to_string)
            .collect();
        let out = (children, n.stat(self.tree.extended_types()));
        if watch {
            self.tree.watches.add(path, conn, WatchKind::Child);
        }
        let bytes: usize = out
            .0
            .iter()
            .map(|c: &String| c.encode_utf16().count())
            .sum();
        self.stats.record_namespace_read(path, bytes as i64);
        Ok(out)
    }

    #[allow(clippy::type_complexity)]
    fn read_body(
        &mut self,
        conn: ConnId,
        op: i32,
        body: &mut Bytes,
    ) -> Result<Option<Box<dyn Fn(&mut BytesMut)>>, Code> {
        fn dec<T: Decode>(b: &mut Bytes) -> Result<T, Code> {
            T::decode(b).map_err(|_| error::MARSHALLING_ERROR)
        }
        fn boxed<R: Encode + 'static>(r: R) -> Option<Box<dyn Fn(&mut BytesMut)>> {
            Some(Box::new(move |b: &mut BytesMut| r.encode(b)))
        }
        if let Some(code) = crate::null_strings::read_error(op, body) {
            return Err(code.code());
        }
        match op {
            ops::EXISTS => {
                let r: ExistsRequest = dec(body)?;
                if r.path.contains('\0') {
                    return Err(error::BAD_ARGUMENTS);
                }
                if r.watch {
                    self.tree.watches.add(&r.path, conn, WatchKind::Exist);
                }
                let n = self.tree.node(&r.path).ok_or(error::NO_NODE)?;
                let stat = n.stat(self.tree.extended_types());
                self.stats.record_namespace_read(&r.path, 0);
                Ok(boxed(ExistsResponse { stat }))
            }
            ops::GET_DATA => {
                let r: GetDataRequest = dec(body)?;
                let (data, stat) = self.get_data(conn, &r)?;
                Ok(boxed(GetDataResponse { data, stat }))
            }
            ops::GET_CHILDREN => {
                let r: GetChildrenRequest = dec(body)?;
                let (children, _) = self.get_children(conn, &r.path, r.watch)?;
                Ok(boxed(GetChildrenResponse { children }))
            }
            ops::GET_CHILDREN2 => {
                let r: GetChildren2Request = dec(body)?;
                let (children, stat) = self.get_children(conn, &r.path, r.watch)?;
                Ok(boxed(GetChildren2Response { children, stat }))
            }
            ops::GET_ALL_CHILDREN_NUMBER => {
                let r: GetAllChildrenNumberRequest = dec(body)?;
                let n = self.tree.node(&r.path).ok_or(error::NO_NODE)?;
                self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
                Ok(boxed(GetAllChildrenNumberResponse {
                    total_number: self.tree.all_children_number(&r.path),
                }))
            }
            ops::GET_ACL => {
                let r: GetACLRequest = dec(body)?;
                let n = self.tree.node(&r.path).ok_or(error::NO_NODE)?;
                self.check_read(
                    conn,
                    &n.acl,
                    jute::ops::perms::READ | jute::ops::perms::ADMIN,
                )?;
                let acl = if self
                    .check_read(conn, &n.acl, jute::ops::perms::ADMIN)
                    .is_ok()
                {
                    n.acl.to_vec()
                } else {
                    auth::redact_digests(&n.acl)
                };
                Ok(boxed(GetACLResponse {
                    acl,
                    stat: n.stat(self.tree.extended_types()),
                }))
            }
            ops::SYNC => {
                let r: SyncRequest = dec(body)?;
                Ok(boxed(SyncResponse { path: r.path }))
            }
            ops::SET_WATCHES | ops::SET_WATCHES2 => {
                let w = if op == ops::SET_WATCHES {
                    let s: SetWatches = dec(body)?;
                    SetWatches2 {
                        relative_zxid: s.relative_zxid,
                        data_watches: s.data_watches,
                        exist_watches: s.exist_watches,
                        child_watches: s.child_watches,
                        ..Default::default()
                    }
                } else {
                    dec(body)?
                };
                self.set_watches(conn, w);
                Ok(None)
            }
            ops::ADD_WATCH => {
                let r: AddWatchRequest = dec(body)?;
                let kind =
                    WatchKind::from_add_watch_mode(r.mode).ok_or(error::MARSHALLING_ERROR)?;
                self.tree.watches.add(&r.path, conn, kind);
                Ok(boxed(ErrorResponse { err: 0 }))
            }
            ops::CHECK_WATCHES | ops::REMOVE_WATCHES => {
                let r: CheckWatchesRequest = dec(body)?;
                let ty = WatcherType::from_code(r.r#type).ok_or(error::MARSHALLING_ERROR)?;
                let found = if op == ops::CHECK_WATCHES {
                    self.tree
                        .watches
                        .check(&r.path, conn, ty)
                        .ok_or(error::MARSHALLING_ERROR)?
                } else {
                    self.tree.watches.remove(&r.path, conn, ty)
                };
                if found {
                    Ok(None)
                } else {
                    Err(error::NO_WATCHER)
                }
            }
            ops::WHO_AM_I => {
                let c = self.conns.get(&conn).ok_or(error::SESSION_EXPIRED)?;
                let client_info = c
                    .auth
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: auth::user_name(id, &self.auth_cfg),
                    })
                    .collect();
                Ok(boxed(WhoAmIResponse { client_info }))
            }
            ops::GET_EPHEMERALS => {
                let r: GetEphemeralsRequest = dec(body)?;
                let session = self.conns.get(&conn).map_or(0, |c| c.session);
                let prefix = r.prefix_path.trim();
                let ephemerals = self
                    .tree
                    .ephemerals_of(session)
                    .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(&r.prefix_path))
                    .cloned()
                    .collect();
                Ok(boxed(GetEphemeralsResponse { ephemerals }))
            }
            ops::MULTI_READ => {
                let ops_ = jute::multi::decode_multi_request(body)
                    .map_err(|_| error::MARSHALLING_ERROR)?;
                if ops_.iter().any(|o| !o.is_read()) {
                    return Err(error::MARSHALLING_ERROR);
                }
                let mut results = Vec::with_capacity(ops_.len());
                for o in ops_ {
                    results.push(match o {
                        MultiOp::GetChildren(r) => match self.get_children(conn, &r.path, false) {
                            Ok((c, _)) => MultiResult::GetChildren(c),
                            Err(e) => MultiResult::Error(e),
                        },
                        MultiOp::GetData(r) => match self.get_data(
                            conn,
                            &GetDataRequest {
                                path: r.path,
                                watch: false,
                            },
                        ) {
                            Ok((d, s)) => MultiResult::GetData(d, s),
                            Err(e) => MultiResult::Error(e),
                        },
                        _ => MultiResult::Error(error::MARSHALLING_ERROR),
                    });
                }
                Ok(Some(Box::new(move |b: &mut BytesMut| {
                    jute::multi::encode_multi_response(&results, b)
                })))
            }
            _ => Err(error::UNIMPLEMENTED),
        }
    }

    /// Re-register a reconnecting client's watches, firing at once what it missed since
    /// `relative_zxid` (Java's DataTree.setWatches).
    fn set_watches(&mut self, conn: ConnId, w: SetWatches2) {
        use crate::watch::EventType as E;
        let mut fire: Vec<(E, String)> = Vec::new();
        for p in w.data_watches {
            match self.tree.node(&p) {
                None => fire.push((E::NodeDeleted, p)),
                Some(n) if n.stat.mzxid > w.relative_zxid => fire.push((E::NodeDataChanged, p)),
                Some(_) => self.tree.watches.add(&p, conn, WatchKind::Data),
            }
        }
        for p in w.exist_watches {
            if self.tree.node(&p).is_some() {
                fire.push((E::NodeCreated, p));
            } else {
                self.tree.watches.add(&p, conn, WatchKind::Exist);
            }
        }
        for p in w.child_watches {
            match self.tree.node(&p) {
                None => fire.push((E::NodeDeleted, p)),
                Some(n) if n.stat.pzxid > w.relative_zxid => fire.push((E::NodeChildrenChanged, p)),
                Some(_) => self.tree.watches.add(&p, conn, WatchKind::Child),
            }
        }
        for p in w.persistent_watches {
            self.tree.watches.add(&p, conn, WatchKind::Persistent);
        }
        for p in w.persistent_recursive_watches {
            self.tree
                .watches
                .add(&p, conn, WatchKind::PersistentRecursive);
        }
        for (kind, path) in fire {
            let frame = reply_with(
                ops::XID_NOTIFICATION,
                -1,
                &WatcherEvent {
                    r#type: kind.code(),
                    state: 3,
                    path,
                },
            );
            self.send(conn, frame);
        }
    }

    // ---- housekeeping ----

    fn tick(&mut self) {
        let may_rest = self.snapshot_may_rest();
        if self.snapshot_deferred
            && self
                .snapshots
                .as_ref()
                .is_some_and(|s| s.can_start(may_rest))
        {
            self.snapshot_now();
        }
        if self.upstream.is_some() {
            // The leader expires sessions and reaps containers.
            return;
        }
        let now = self.now();
        if self.read_only {
            // Local sessions expire without a txn; the tree is never changed.
            for id in self.sessions.expire(now) {
                info!("Expiring read-only session 0x{id:x}");
                let conn = self.session_conn.get(&id).copied();
                self.close_local_session(id);
                if let Some(conn) = conn {
                    self.close(conn);
                }
            }
            return;
        }
        for id in self.sessions.expire(now) {
            info!(
                "Expiring session 0x{id:x}, timeout of {}ms exceeded",
                self.sessions.get(id).map_or(0, |s| s.timeout_ms)
            );
            self.internal_write(id, ops::CLOSE_SESSION, Bytes::new());
        }
        self.check_containers();
    }

    /// A write the server issues itself (session expiry, container cleanup).
    fn internal_write(&mut self, session: i64, op: i32, body: Bytes) {
        let hdr = self.next_header(session, 0, op);
        let ids: Vec<AuthId> = vec![AuthId::new(auth::SCHEME_SUPER, "")];
        let ctx = PrepContext {
            tree: &self.tree,
            session,
            auth: &ids,
            auth_cfg: &self.auth_cfg,
            extended_types: self.cfg.extended_types_enabled,
            reconfig_enabled: self.cfg.reconfig_enabled,
            session_error: None,
            enforce_quota: self.cfg.enforce_quota,
        };
        let (txn, digest) =
            prep::prep_write(&ctx, &mut self.pending, op, 0, body, hdr.zxid, hdr.time);
        self.commit(txn, digest, Waiter::Server);
    }

    fn container_interval_ms(&self) -> u64 {
        self.cfg
            .other
            .get("znode.container.checkIntervalMs")
            .and_then(|v| v.parse().ok())
            .unwrap_or(60_000)
    }

    /// Java's ContainerManager: delete empty containers that once had children, and TTL
    /// nodes without children whose mtime is older than their TTL.
    fn check_containers(&mut self) {
        static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let now = self.now();
        let interval = self.container_interval_ms();
        let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
        if now < last + interval {
            return;
        }
        LAST.store(now, std::sync::atomic::Ordering::Relaxed);
        let wall = wall_ms();
        let mut victims = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.node(p) {
                if n.stat.cversion > 0 && n.children.is_empty() {
                    victims.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.node(p) {
                if let NodeKind::Ttl(ttl) = crate::tree::node_kind(n.stat.ephemeral_owner, true) {
                    if n.children.is_empty() && ttl != 0 && wall - n.stat.mtime > ttl {
                        victims.push(p.clone());
                    }
                }
            }
        }
        for p in victims.into_iter().take(10_000) {
            self.internal_write(0, ops::DELETE_CONTAINER, Bytes::from(p.into_bytes()));
        }
    }
}
