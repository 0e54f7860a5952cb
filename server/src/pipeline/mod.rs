//! The request pipeline as a pure state machine (Java's PrepRequestProcessor,
//! SyncRequestProcessor hand-off, CommitProcessor and FinalRequestProcessor in one owner).
//!
//! One [`Pipeline`] owns the tree, the sessions and the pending changes and takes every
//! client message in arrival order. Writes are prepped into txns (zxid assigned), made
//! durable, applied and answered; reads are answered from the tree in FIFO order with their
//! session's earlier requests. Watch events go to the watching connection before the reply
//! of the write that fired them, as Java does.
//!
//! It does no IO and reads no clock: the caller passes [`Now`] and an [`Input`] to
//! [`Pipeline::handle`] and carries out the [`Output`]s it takes from
//! [`Pipeline::take_outputs`], in order. Randomness (the snapshot interval's jitter) comes
//! from a seed. The tokio shell (`crate::shell`) owns the sockets, the txn log thread, the
//! snapshot writer, the timers and the four-letter words' probes of /proc and the disk; the
//! deterministic simulation (`server/tests/sim`) drives the same pipeline.
//!
//! How a write becomes durable depends on the [`Mode`]: standalone and leader emit
//! [`Output::Log`] (the txn log's group commit, or the leader's proposal) and apply it on
//! [`Input::Durable`] (fsync'd, or committed by a quorum); a follower or observer emits
//! [`Output::Forward`] and applies what the leader commits ([`Input::Committed`]).
//!
//! # Layout
//! * `mod.rs`: the types, construction, mode changes and the input dispatch.
//! * `conns.rs`: connections, per-session FIFO hold-back, backpressure, reply batching.
//! * `handshake.rs`: ConnectRequest, session creation and reconnection.
//! * `requests.rs`: the dispatch of one request (auth, SASL, read-only, enforce.auth).
//! * `reads.rs`: reads and watch registration.
//! * `writes.rs`: prep, durability hand-off, apply and the write replies.
//! * `forward.rs`: the quorum side: a learner's forwarding and a leader's learner requests.
//! * `housekeeping.rs`: session expiry, containers and TTL nodes, snapshot scheduling.
//! * `four_letter.rs`: the four-letter words' view of the pipeline.
//! * `audit.rs`: the audit log's hooks (`audit.enable`).

mod audit;
mod conns;
mod forward;
mod four_letter;
mod handshake;
mod housekeeping;
mod reads;
mod requests;
mod writes;

#[cfg(test)]
mod tests;

pub use four_letter::Probes;

pub(crate) use crate::auth::{self, AuthConfig, AuthId, AuthInfo};
pub(crate) use crate::config::Config;
use crate::database::digest_check::{self, DigestCheck};
pub(crate) use crate::error::{self, Code, ErrorCode};
pub(crate) use crate::flow::{answers_request, counts_as_request, ConnFlow, ServerFlow};
pub(crate) use crate::prep::{self, Pending, PrepContext};
pub(crate) use crate::session_id;
pub(crate) use crate::sessions::{SessionOwner, SessionTracker};
pub(crate) use crate::stats::{op_name, ConnStats, ServerStats};
pub(crate) use crate::tree::{ApplyResult, DataTree, NodeKind};
pub(crate) use crate::txn::{Txn, TxnBody};
pub(crate) use crate::watch::{WatchKind, WatcherType};
pub(crate) use bytes::{Buf, BufMut, Bytes, BytesMut};
pub(crate) use hashbrown::HashMap;
pub(crate) use jute::connect::{encode_connect_response, Connect};
pub(crate) use jute::data::{ClientInfo, Stat};
pub(crate) use jute::frame::write_frame;
pub(crate) use jute::multi::{MultiOp, MultiResult};
pub(crate) use jute::ops;
pub(crate) use jute::proto::*;
pub(crate) use jute::txn::{CreateSessionTxn, TxnHeader};
pub(crate) use jute::{Decode, Encode, OpCode, SessionId, Zxid};
pub(crate) use std::collections::VecDeque;
pub(crate) use std::net::SocketAddr;
pub(crate) use std::sync::Arc;
pub(crate) use tracing::{debug, error, info, warn};
use zk_quorum::zab::leader::LearnerMessage;

/// A client connection, numbered by the network shell.
pub type ConnId = u64;

/// The time of an input: a monotonic clock for timeouts and latencies, the wall clock for
/// what Java stamps with it (txn times, mtimes, connection times, session ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub mono_ms: i64,
    pub wall_ms: i64,
}

/// What the server is doing, which decides how each request is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No ensemble: writes go to the local txn log.
    Standalone,
    /// Leading an established ensemble: writes are proposed; learners' requests come in.
    Leader,
    /// Following a leader: writes, session creation and syncs are forwarded to it.
    Follower,
    /// As a follower, without a vote.
    Observer,
    /// Java's ReadOnlyZooKeeperServer: a quorum member without a quorum serving its last
    /// loaded tree to read-only clients, with local sessions; writes get NotReadOnly.
    ReadOnly,
    /// Electing or syncing: connections are refused, four-letter words answered. The role
    /// is what it will be (`follower`, `observer`, `leader`), for the four-letter words.
    Idle(&'static str),
}

impl Mode {
    /// The name the four-letter words show (`srvr`'s Mode, `mntr`'s zk_server_state).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::ReadOnly => "read-only",
            Mode::Idle(role) => role,
        }
    }

    /// Whether writes go to a leader (follower, observer).
    pub fn is_learner(self) -> bool {
        matches!(self, Mode::Follower | Mode::Observer)
    }

    pub fn is_serving(self) -> bool {
        !matches!(self, Mode::Idle(_))
    }
}

/// Messages into the pipeline.
#[derive(Debug)]
pub enum Input {
    /// The first frame of a connection (its ConnectRequest).
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        frame: Bytes,
        /// The connection's backpressure counters, shared with its reader and writer
        /// (see `flow`); `None` without backpressure (the simulation).
        flow: Option<Arc<ConnFlow>>,
        /// Ids the TLS handshake authenticated (`super`, `x509`), added after `ip`.
        tls_ids: Vec<crate::auth::AuthId>,
    },
    /// Frames after the handshake, in arrival order.
    Requests { conn: ConnId, frames: Vec<Bytes> },
    /// The connection is gone.
    Closed { conn: ConnId },
    /// The connection's writer drained after the pipeline began holding its requests.
    Drained { conn: ConnId },
    /// A four-letter word; answered by [`Output::FourLetterReply`] with the same token.
    FourLetter {
        token: u64,
        cmd: String,
        /// `stmk`'s 8-byte argument (`None`: it did not arrive, or another word).
        arg: Option<i64>,
        addr: SocketAddr,
        /// What the shell measured for it outside the pipeline (/proc, the disk).
        probes: Box<Probes>,
    },
    /// An AdminServer command; answered by [`Output::AdminReply`] with the same token.
    Admin {
        token: u64,
        request: Box<crate::admin::AdminRequest>,
        probes: Box<Probes>,
    },
    /// Periodic housekeeping (a few times per tick): session expiry, containers and TTL
    /// nodes, deferred snapshots.
    Tick,
    /// Every txn up to this zxid is durable: fsync'd by the txn log (standalone) or
    /// committed by a quorum (leader).
    Durable { zxid: i64 },
    /// The background snapshot writer finished one, after `took_ms`.
    SnapshotDone { took_ms: i64 },
    /// Follower, observer: a txn the leader committed, with the tree digest it logged.
    Committed {
        txn: Txn,
        leader_digest: Option<i64>,
    },
    /// Follower, observer: the leader's answer to [`Output::Revalidate`].
    Revalidated { session: i64, valid: bool },
    /// Follower, observer: the leader's SYNC (the oldest forwarded `sync` may be answered).
    Synced,
    /// Leader: a request a learner forwarded on leader connection `from`.
    LearnerRequest {
        from: u64,
        session: i64,
        cxid: i32,
        op: i32,
        body: Bytes,
        auth: Vec<AuthId>,
    },
    /// Leader: a learner reports activity of a session (its PING touch table).
    LearnerTouch { session: i64, timeout_ms: i32 },
    /// Leader: a learner asks whether a reconnecting session is still valid.
    LearnerRevalidate {
        from: u64,
        session: i64,
        timeout_ms: i32,
    },
}

impl Input {
    /// Leader: the input for a learner's message, if it has one (a forwarded sync goes back
    /// to the leader state machine instead, behind that learner's earlier proposals).
    pub fn from_learner(msg: LearnerMessage) -> Option<Input> {
        match msg {
            LearnerMessage::Request {
                from,
                session_id,
                cxid,
                op,
                body,
                authinfo,
                ..
            } => Some(Input::LearnerRequest {
                from,
                session: session_id,
                cxid,
                op,
                body,
                auth: authinfo.into_iter().map(AuthId::from).collect(),
            }),
            LearnerMessage::Touch {
                session_id,
                timeout,
            } => Some(Input::LearnerTouch {
                session: session_id,
                timeout_ms: timeout,
            }),
            // Answered by the pipeline's Output::RevalidateAnswer (the shell sends it).
            LearnerMessage::Revalidate {
                from,
                session_id,
                timeout,
            } => Some(Input::LearnerRevalidate {
                from,
                session: session_id,
                timeout_ms: timeout,
            }),
            LearnerMessage::Sync { .. } => None,
        }
    }
}

/// What the pipeline asks the caller to do, in order.
pub enum Output {
    /// Replies and events for a connection (whole frames, in order).
    Send { conn: ConnId, bytes: Bytes },
    /// Close the connection once what was sent before is written.
    Close { conn: ConnId },
    /// Make a txn durable (standalone: append to the txn log; leader: propose it): its
    /// txn log entry (header, body and, when digests are enabled, the tree digest after it);
    /// answered by [`Input::Durable`].
    Log { zxid: i64, entry: Bytes },
    /// Start a new txn log file with the next entry (a snapshot started).
    RollLog,
    /// Write this consistent copy of the tree as `snapshot.<last_zxid>` in the background;
    /// answered by [`Input::SnapshotDone`].
    Snapshot { tree: Box<DataTree> },
    /// Follower, observer: forward a client request to the leader (REQUEST).
    Forward {
        session: i64,
        cxid: i32,
        op: i32,
        body: Bytes,
        auth: Vec<AuthId>,
    },
    /// Follower, observer: a session was active (for the leader's PING).
    Touch { session: i64, timeout_ms: i32 },
    /// Follower, observer: ask the leader whether a session is valid (REVALIDATE).
    Revalidate { session: i64, timeout_ms: i32 },
    /// Leader: the answer to a learner's [`Input::LearnerRevalidate`].
    RevalidateAnswer {
        from: u64,
        session: i64,
        valid: bool,
    },
    /// The text to answer a four-letter word with.
    FourLetterReply { token: u64, text: String },
    /// `orst` on a leader: reset its observers' connection counts (the leader task keeps
    /// them).
    ResetObserverStats,
    /// A record for the audit log (only with `audit.enable`).
    Audit(Box<crate::audit::AuditEvent>),
    /// The answer to an AdminServer command; for 3.9's `snapshot`, the tree to write first
    /// (the shell writes it to the data directory and fills in the answer).
    AdminReply {
        token: u64,
        response: Box<crate::admin::commands::CommandResponse>,
        snapshot: Option<Box<DataTree>>,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Send { conn, bytes } => write!(f, "Send(conn {conn}, {} bytes)", bytes.len()),
            Output::Close { conn } => write!(f, "Close(conn {conn})"),
            Output::Log { zxid, entry } => {
                write!(f, "Log({}, {} bytes)", Zxid::from(*zxid), entry.len())
            }
            Output::RollLog => write!(f, "RollLog"),
            Output::Snapshot { tree } => write!(f, "Snapshot({})", Zxid::from(tree.last_zxid)),
            Output::Forward {
                session, cxid, op, ..
            } => write!(
                f,
                "Forward(session {}, cxid {cxid}, op {op})",
                SessionId::from(*session)
            ),
            Output::Touch { session, .. } => write!(f, "Touch({})", SessionId::from(*session)),
            Output::Revalidate { session, .. } => {
                write!(f, "Revalidate({})", SessionId::from(*session))
            }
            Output::RevalidateAnswer {
                from,
                session,
                valid,
            } => write!(
                f,
                "RevalidateAnswer({from}, {}, {valid})",
                SessionId::from(*session)
            ),
            Output::FourLetterReply { token, text } => {
                write!(f, "FourLetterReply({token}, {} bytes)", text.len())
            }
            Output::Audit(event) => write!(f, "Audit({event})"),
            Output::ResetObserverStats => write!(f, "ResetObserverStats"),
            Output::AdminReply {
                token, response, ..
            } => {
                write!(f, "AdminReply({token}, {})", response.command)
            }
        }
    }
}

/// Who waits for a txn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Waiter {
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

/// A client connection as the pipeline knows it.
pub struct Conn {
    pub addr: SocketAddr,
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
    /// Replies and events not yet handed out ([`Pipeline::flush_replies`]).
    unsent: BytesMut,
    /// The connection-expiry bucket it is in (monotonic ms), as Java's NIO factory files
    /// connections: the next multiple of 10 s after last activity + timeout.
    pub expiry_bucket: i64,
    /// Its SASL exchange (Java's `ServerCnxn.zooKeeperSaslServer`), made at its first SASL
    /// token when the server has a SASL login.
    pub sasl: Option<Box<dyn zk_quorum::sasl::ServerMechanism>>,
}

impl Conn {
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// One of its writes (or its session's creation, a forwarded sync, a revalidation) is
    /// answered.
    fn write_done(&mut self) {
        debug_assert!(
            self.pending_writes > 0,
            "a write answered that was not pending"
        );
        self.pending_writes = self.pending_writes.saturating_sub(1);
    }
}

/// A connection's share of [`crate::flow`]: its counters and the frames the pipeline holds
/// unprocessed while the connection has too many reply bytes unsent.
struct ConnBackpressure {
    flow: Arc<ConnFlow>,
    held: VecDeque<Bytes>,
}

/// The snapshot writer as the pipeline schedules it (Java's SyncRequestProcessor: a
/// snapshot every snapCount txns or so, one at a time).
#[derive(Debug, Default)]
struct SnapshotSchedule {
    /// Whether snapshots are taken at all (a database to write them to).
    enabled: bool,
    /// A snapshot is being written ([`Input::SnapshotDone`] ends it).
    busy: bool,
    /// After a long snapshot the next waits until then (monotonic ms; see `REST_FACTOR`).
    rest_until_ms: i64,
    /// Txns applied since the last snapshot, and how many trigger the next one.
    txns_since: u64,
    after: u64,
    /// The tree's zxid when the last snapshot started.
    last_zxid: i64,
    /// The last snapshot due could not start (busy, resting): tried again on each tick, so
    /// that a burst of writes that ends still gets its snapshot.
    deferred: bool,
}

/// A small seeded generator (splitmix64): the pipeline's only source of randomness.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub struct Pipeline {
    pub cfg: Config,
    pub tree: DataTree,
    pub sessions: SessionTracker,
    pending: Pending,
    pub conns: HashMap<ConnId, Conn>,
    session_conn: HashMap<i64, ConnId>,
    /// The last zxid handed out (prepped), ahead of the tree's while txns are in flight.
    last_zxid: i64,
    pub auth_cfg: AuthConfig,
    pub mode: Mode,
    /// The time of the input being handled.
    now: Now,
    /// When the pipeline started (monotonic ms): session times count from it.
    started_ms: i64,
    /// When this pipeline began to serve as leader (Java's `Leader.leaderStartTime`, for
    /// `leader_uptime`), on the monotonic clock.
    leading_since_ms: i64,
    rng: Rng,
    pub stats: ServerStats,
    /// Txns handed out for durability, in zxid order, with who waits for them.
    inflight: VecDeque<(Txn, Waiter)>,
    /// Where [`Output::Log`] entries are encoded (kept between txns: see
    /// `persist::txnlog::encode_entry_with`).
    log_scratch: BytesMut,
    /// Whether logged txns carry a TxnDigest (`digest.enabled`, default true).
    digest_enabled: bool,
    /// Learner: the comparison of the tree with the leader's digests (then `pending.digest`
    /// follows the tree as txns are applied).
    digest_check: Option<DigestCheck>,
    snapshots: SnapshotSchedule,
    /// When containers and TTL nodes were last checked (pipeline uptime ms).
    containers_checked_ms: u64,
    /// Connection-expiry buckets (monotonic ms) and how many connections are in each;
    /// emptied buckets stay until their time passes (shown by `dump`).
    pub cnxn_buckets: std::collections::BTreeMap<i64, u32>,
    /// Follower: forwarded requests waiting for their committed txn, by (session, cxid).
    forwarded: HashMap<(i64, i32), Waiter>,
    /// Follower: forwarded `sync`s waiting for the leader's SYNC: (conn, xid, path, start).
    pending_syncs: VecDeque<(ConnId, i32, String, i64)>,
    /// Follower: reconnecting sessions waiting for the leader's REVALIDATE answer.
    revalidating: Vec<(i64, ConnId)>,
    /// Connections with unsent replies.
    unsent_conns: Vec<ConnId>,
    /// Backpressure: each connection's counters and the requests held while its replies
    /// are not being read.
    flows: HashMap<ConnId, ConnBackpressure>,
    /// The counters shared by all connections (from the first connection; for `mntr`).
    server_flow: Option<Arc<ServerFlow>>,
    /// With `audit.enable`: client writes waiting for their txn, by (session, xid).
    audit_requests: HashMap<(i64, i32), audit::AuditedRequest>,
    /// Java's `ZooTrace` text trace mask: set by `stmk`, shown by `gtmk` (nothing is traced).
    pub trace_mask: i64,
    /// The elected leader's id in a quorum role (the AdminServer's `leader`).
    pub leader_id: Option<i64>,
    /// The AdminServer's snapshot rate limiter: (last reset, monotonic ms; a permit left).
    pub admin_snapshot_permit: (i64, bool),
    /// Leader: sizes of the txns proposed (Java's `Leader.getProposalStats`; `stat`'s
    /// `Proposal sizes last/min/max`, the AdminServer's `proposal_stats`).
    pub proposal_sizes: crate::stats::BufferStats,
    /// Leader: its learners as the leader task last reported them; follower: its observer
    /// master's observers.
    pub learners: zk_quorum::zab::leader_net::LearnerReport,
    /// Follower: an observer master runs (observerMasterPort), so `mntr` has Java's
    /// `synced_observers` gauge.
    pub observer_master: bool,
    /// Leader: the committed and the last seen quorum config (reconfig's checks).
    pub quorum_configs: Option<crate::reconfig::Configs>,
    /// What to do, in order (taken by [`Pipeline::take_outputs`]).
    out: Vec<Output>,
}

/// The frame of a reply: header plus optional body.
pub(crate) fn reply_frame(
    xid: i32,
    zxid: i64,
    err: Code,
    body: Option<&dyn Fn(&mut BytesMut)>,
) -> Bytes {
    // Room for a Stat and a small value (a setData or getData reply) without regrowing.
    let mut b = BytesMut::with_capacity(256);
    write_frame(&mut b, |b| {
        ReplyHeader { xid, zxid, err }.encode(b);
        if let Some(f) = body {
            f(b)
        }
    });
    b.freeze()
}

pub(crate) fn reply_with<R: Encode>(xid: i32, zxid: i64, r: &R) -> Bytes {
    reply_frame(xid, zxid, 0, Some(&|b: &mut BytesMut| r.encode(b)))
}

impl Pipeline {
    /// A pipeline in `mode` with an empty tree ([`Pipeline::load`] gives it its database,
    /// the `serve_*`/`start_*` methods its mode). `seed` feeds its randomness.
    pub fn new(cfg: Config, mode: Mode, now: Now, seed: u64) -> Pipeline {
        // A standalone Java server creates sessions as server 1.
        let server_id = cfg.my_id.unwrap_or(1);
        let first_id = session_id::initial_session_id(now.wall_ms, server_id);
        let auth_cfg = AuthConfig {
            super_digest: cfg.super_digest.clone(),
            skip_acl: cfg.skip_acl,
            digest_enabled: cfg.digest_auth_enabled,
            compat: cfg.compat_version,
            sasl_enabled: cfg.sasl_provider(),
            let_any_sasl_user_do_x: cfg.let_any_sasl_user_do_x.clone(),
            x509_enabled: cfg.x509_provider(),
            x509_super_user: cfg.x509_super_user.clone(),
        };
        let mut tree = DataTree::new(cfg.extended_types_enabled);
        tree.watches.set_compat(cfg.compat_version);
        let mut pending = Pending::default();
        pending.digest = crate::persist::digest::tree_digest(&tree);
        Pipeline {
            tree,
            sessions: SessionTracker::new(first_id, cfg.tick_time_ms),
            pending,
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            last_zxid: 0,
            auth_cfg,
            mode,
            now,
            started_ms: now.mono_ms,
            leading_since_ms: now.mono_ms,
            rng: Rng(seed),
            stats: ServerStats::new(now.wall_ms),
            inflight: VecDeque::new(),
            log_scratch: BytesMut::new(),
            digest_enabled: cfg.digest_enabled,
            digest_check: None,
            snapshots: SnapshotSchedule {
                after: u64::MAX,
                ..Default::default()
            },
            containers_checked_ms: 0,
            cnxn_buckets: Default::default(),
            forwarded: HashMap::new(),
            pending_syncs: VecDeque::new(),
            revalidating: Vec::new(),
            unsent_conns: Vec::new(),
            flows: HashMap::new(),
            server_flow: None,
            audit_requests: HashMap::new(),
            trace_mask: crate::fourlw::DEFAULT_TRACE_MASK,
            leader_id: None,
            admin_snapshot_permit: (now.mono_ms, true),
            proposal_sizes: crate::stats::BufferStats::default(),
            learners: Default::default(),
            observer_master: false,
            quorum_configs: None,
            out: Vec::new(),
            cfg,
        }
    }

    // ---- mode changes ----

    /// Take the database to serve from: a recovered or synced tree whose digest is
    /// `digest` (zxids go on from its last; its sessions are tracked from now).
    pub fn load(&mut self, now: Now, mut tree: DataTree, digest: i64) {
        tree.watches.set_compat(self.cfg.compat_version);
        self.now = now;
        self.pending.digest = digest;
        self.digest_check = None;
        self.last_zxid = tree.last_zxid;
        let now = self.uptime_ms();
        for (id, timeout) in &tree.sessions {
            self.sessions.add(*id, *timeout, now);
        }
        self.tree = tree;
    }

    /// A learner: compare the loaded tree with the leader's digest after each committed txn,
    /// going on with `check` (the sync's comparisons; its mismatches are counted now).
    pub fn check_digests(&mut self, mut check: DigestCheck) {
        let n = check.take_mismatches();
        self.stats
            .add(crate::stats::Counter::DigestMismatchesCount, n);
        self.digest_check = Some(check);
    }

    /// Serve standalone from the loaded tree; snapshots every snapCount txns or so.
    pub fn serve_standalone(&mut self) {
        self.mode = Mode::Standalone;
        self.enable_snapshots();
    }

    /// Lead the epoch whose first zxid is `first_zxid` ((epoch, 0)): txns are numbered on
    /// from it, in step with the leader's proposals.
    pub fn start_leading(&mut self, now: Now, first_zxid: i64) {
        self.leading_since_ms = now.mono_ms;
        self.tree.last_zxid = first_zxid;
        self.last_zxid = first_zxid;
        self.mode = Mode::Leader;
        self.enable_snapshots();
    }

    /// Serve as a follower or observer once synced with the leader.
    pub fn start_following(&mut self, mode: Mode) {
        assert!(mode.is_learner(), "start_following as {mode:?}");
        self.mode = mode;
        self.enable_snapshots();
    }

    /// Java's ReadOnlyZooKeeperServer: serve the loaded tree to read-only clients (no
    /// snapshots, nothing is ever written).
    pub fn start_read_only(&mut self) {
        self.mode = Mode::ReadOnly;
    }

    /// Close every client connection (the quorum member stops serving).
    pub fn close_all(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close(c);
        }
    }

    // ---- queries ----

    /// Java's digest log, for `hash`: (zxid, tree digest) of the applied txns whose zxid is a
    /// multiple of 128 (the last 1024): txns this server prepared (standalone, leader) or,
    /// on a learner, applied while serving with the digest the leader logged.
    pub fn digest_log(&self) -> Vec<(i64, i64)> {
        self.pending.digest_log().collect()
    }

    /// Requests accepted but not answered yet.
    pub fn outstanding(&self) -> usize {
        self.inflight.len()
            + self.forwarded.len()
            + self.pending_syncs.len()
            + self.conns.values().map(|c| c.queued.len()).sum::<usize>()
    }

    /// Milliseconds since this pipeline began to lead (meaningful as leader only).
    pub fn leader_uptime_ms(&self) -> i64 {
        self.now.mono_ms - self.leading_since_ms
    }

    /// Milliseconds since the pipeline started (the session tracker's clock).
    pub fn uptime_ms(&self) -> u64 {
        u64::try_from(self.now.mono_ms - self.started_ms).unwrap_or(0)
    }

    /// The zxid of the last applied txn.
    pub fn last_zxid(&self) -> i64 {
        self.tree.last_zxid
    }

    // ---- input and output ----

    /// Handle one input at `now`; what to do is then in [`Pipeline::take_outputs`].
    pub fn handle(&mut self, now: Now, input: Input) {
        // Clocks never run backwards here, whatever the caller's do.
        self.now = Now {
            mono_ms: now.mono_ms.max(self.now.mono_ms),
            wall_ms: now.wall_ms,
        };
        if !self.mode.is_serving() {
            return self.handle_idle(input);
        }
        match input {
            Input::Connect {
                conn,
                addr,
                frame,
                flow,
                tls_ids,
            } => {
                self.connect(conn, addr, frame, tls_ids);
                if let Some(flow) = flow {
                    self.server_flow.get_or_insert_with(|| flow.server.clone());
                    if self.conns.contains_key(&conn) {
                        let held = VecDeque::new();
                        self.flows.insert(conn, ConnBackpressure { flow, held });
                    }
                }
            }
            Input::Requests { conn, frames } => self.admit(conn, frames),
            Input::Drained { conn } => self.release_held(conn),
            Input::Closed { conn } => self.drop_conn(conn),
            Input::FourLetter {
                token,
                cmd,
                arg,
                addr,
                probes,
            } => self.four_letter(token, &cmd, arg, addr, *probes),
            Input::Admin {
                token,
                request,
                probes,
            } => self.admin(token, *request, *probes),
            Input::Tick => self.tick(),
            Input::Durable { zxid } => self.durable(zxid),
            Input::SnapshotDone { took_ms } => self.snapshot_done(took_ms),
            Input::Committed { txn, leader_digest } => {
                self.leader_digest(txn.hdr.zxid, leader_digest);
                let zxid = txn.hdr.zxid;
                self.apply_committed(txn);
                self.compare_digest(zxid, leader_digest);
            }
            Input::Revalidated { session, valid } => self.revalidated(session, valid),
            Input::Synced => self.synced(),
            Input::LearnerRequest {
                from,
                session,
                cxid,
                op,
                body,
                auth,
            } => self.learner_request(from, session, cxid, op, body, auth),
            Input::LearnerTouch { session, .. } => self.touch_session(session),
            Input::LearnerRevalidate { from, session, .. } => {
                let valid = self.revalidate_session(from, session);
                self.out.push(Output::RevalidateAnswer {
                    from,
                    session,
                    valid,
                });
            }
        }
    }

    /// Electing or syncing: connections are refused, four-letter words answered.
    fn handle_idle(&mut self, input: Input) {
        match input {
            Input::Connect { conn, .. } => self.out.push(Output::Close { conn }),
            Input::FourLetter {
                token,
                cmd,
                arg,
                addr,
                probes,
            } => self.four_letter(token, &cmd, arg, addr, *probes),
            Input::Admin {
                token,
                request,
                probes,
            } => self.admin(token, *request, *probes),
            Input::SnapshotDone { took_ms } => self.snapshot_done(took_ms),
            _ => {}
        }
    }

    /// What to do since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// Move what the outputs vector holds into `into` (keeps both allocations).
    pub fn drain_outputs_into(&mut self, into: &mut Vec<Output>) {
        into.append(&mut self.out);
    }
}
