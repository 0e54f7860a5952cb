//! The tokio shell of the leader: listen on our quorum port, one reader and one writer task
//! per learner connection (Java's `LearnerCnxAcceptor` + `LearnerHandler`), and one actor (the
//! task running [`lead`]) that owns the [`Leader`] state machine and the [`LeaderDb`] and
//! carries out the leader's actions in order.
//!
//! Durability (group commit): our own txns ([`Action::Log`]) are appended as they come; the
//! actor takes every input already waiting (up to [`MAX_BATCH`]) before it syncs the log once
//! for all of them, and only then counts its own ACKs ([`Leader::logged`]). PROPOSALs go out
//! to the learners before that sync, so their fsyncs run alongside ours.
//! Committed txns are applied in zxid order before anything later in the batch (so a
//! snapshot for a SNAP sync reflects exactly the txns up to its zxid).
//!
//! The server talks to a running leader through a [`LeaderHandle`] (propose, hand back
//! forwarded syncs, answer REVALIDATEs, stop) and hears from it through [`Event`]s
//! (forwarded requests and syncs, session touches, learner syncs, commits). [`lead`]
//! returns when asked to stop or when the leadership is lost (no quorum in time, or the
//! synced followers no longer a quorum): the caller goes back to election.
//!
//! The database calls are made inline on the actor; the log sync runs inside
//! `block_in_place` on a multi-threaded runtime so the worker's other tasks move to another
//! thread meanwhile. A SNAP sync serializes the whole tree into memory before handing it to
//! the learner's writer.

use crate::auth::authenticate_server;
use crate::transport::{PeerStream, PeerWrite, Security};
use crate::zab::db::{blocking, DbError};
use crate::zab::leader::{
    Action, ConnId, Leader, LeaderConfig, LearnerCounts, LearnerMessage, Phase, SyncKind,
};
use crate::zab::learner::PersistedState;
use crate::zab::packet::{encode_packet, SNAP};
use crate::zab::Error;
use bytes::{Bytes, BytesMut};
use jute::Zxid;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the leader needs from the server's database: tree, txn log, snapshots, epoch files.
pub trait LeaderDb {
    /// The epochs and last zxid as on disk / in the tree.
    fn persisted_state(&self) -> PersistedState;
    /// The most recent committed txns (zxid order), for DIFF syncs (Java's `committedLog`,
    /// filled from the txn log at load). May be empty: learners then get a SNAP.
    fn committed_log(&self) -> Vec<(i64, Bytes)> {
        Vec::new()
    }
    /// Write `acceptedEpoch` durably.
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError>;
    /// Write `currentEpoch` durably.
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError>;
    /// Append a txn log entry; durable after [`LeaderDb::sync_log`].
    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError>;
    /// Make every appended entry durable.
    fn sync_log(&mut self) -> Result<(), DbError>;
    /// Start a new log file with the next appended entry (after a snapshot).
    fn roll_log(&mut self) -> Result<(), DbError>;
    /// Apply a committed txn to the tree.
    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError>;
    /// Append the SNAP stream of the tree as it is now (which reflects the txns up to `zxid`):
    /// sessions, ACL cache, nodes, "/" and the "BenWasHere" signature
    /// ([`crate::zab::snap_stream::SnapEncoder`] writes each part).
    fn snapshot_stream(&mut self, zxid: i64, out: &mut BytesMut) -> Result<(), DbError>;
    /// [`LeaderDb::snapshot_stream`] for a database whose tree may be ahead of `zxid` when
    /// it is copied (an observer master's): returns the zxid the stream really holds, which
    /// the SNAP packet then carries.
    fn snapshot_stream_held(&mut self, zxid: i64, out: &mut BytesMut) -> Result<i64, DbError> {
        self.snapshot_stream(zxid, out)?;
        Ok(zxid)
    }
    /// The leader is established; the tree's last processed zxid becomes `zxid` = (epoch, 0).
    fn established(&mut self, _epoch: i64, _zxid: i64) -> Result<(), DbError> {
        Ok(())
    }
}

/// What the leader tells the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A quorum acknowledged NEWLEADER: serve clients.
    Established { epoch: i64 },
    /// A reconfig committed: the ensemble is `view` from now on, led by `leader`.
    Activated {
        view: crate::verifier::QuorumMaj,
        leader: i64,
    },
    /// A learner was synchronised.
    Synced { sid: i64, kind: SyncKind, zxid: i64 },
    /// A txn was committed (and applied to the database).
    Committed { zxid: i64 },
    /// A learner's message: a forwarded client request for the request pipeline (whose txn
    /// comes back through [`LeaderHandle::propose`]), a forwarded sync to hand back with
    /// [`LeaderHandle::sync`] behind the proposals of that learner's earlier requests, a
    /// session active on the learner, or a revalidation to answer with
    /// [`LeaderHandle::revalidated`].
    FromLearner(LearnerMessage),
    /// The learners: after any change of their counts (connected, synced, gone), and at
    /// each tick (their packet counts move).
    Learners(LearnerReport),
}

/// The leader's learners for the four-letter words and the AdminServer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnerReport {
    /// Java's leader gauges.
    pub counts: LearnerCounts,
    /// Every learner that introduced itself.
    pub learners: Vec<LearnerInfo>,
}

/// One learner connection as Java's `LearnerHandler.getLearnerHandlerInfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerInfo {
    pub sid: i64,
    pub observer: bool,
    pub synced: bool,
    pub remote: SocketAddr,
    /// When the connection was accepted, wall-clock ms.
    pub established_ms: i64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub requests: u64,
    /// The zxid of the last packet sent that carried one (-1: none).
    pub last_zxid: i64,
}

/// Builds a txn log entry for the zxid it is given.
pub type BuildTxn = Box<dyn FnOnce(i64) -> Bytes + Send>;

enum Control {
    Propose {
        build: BuildTxn,
        reply: oneshot::Sender<Result<i64, Error>>,
    },
    Revalidated {
        to: ConnId,
        session_id: i64,
        valid: bool,
    },
    Sync {
        to: ConnId,
    },
    Status(oneshot::Sender<Status>),
    ResetObserverStats,
    /// An observer master's follower committed this txn log entry (a reconfig with
    /// COMMITANDACTIVATE naming this designated leader).
    Relay(Bytes, Option<i64>),
    /// Start a new txn log file with the next proposal (the server took a snapshot).
    RollLog,
    Shutdown,
}

/// A view of the running leader.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub phase: Phase,
    pub epoch: i64,
    pub last_proposed: i64,
    pub last_committed: i64,
    /// `(sid, observer, phase)` of each learner.
    pub learners: Vec<(i64, bool, crate::zab::leader::LearnerPhase)>,
}

/// The server's side of a running leader.
#[derive(Clone)]
pub struct LeaderHandle {
    tx: mpsc::UnboundedSender<Control>,
}

impl LeaderHandle {
    /// Propose a txn: `build` gets the next zxid and returns the txn log entry (TxnHeader
    /// with that zxid, txn, optional TxnDigest). Answers the zxid once proposed (not yet
    /// committed: see [`Event::Committed`]).
    pub async fn propose(
        &self,
        build: impl FnOnce(i64) -> Bytes + Send + 'static,
    ) -> Result<i64, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Control::Propose {
                build: Box::new(build),
                reply,
            })
            .map_err(|_| Error::Protocol("the leader has stopped".into()))?;
        rx.await
            .map_err(|_| Error::Protocol("the leader has stopped".into()))?
    }

    /// Propose without waiting: like [`LeaderHandle::propose`], for a caller that is not
    /// async. Proposals are taken in the order submitted; an error (not established, zxid
    /// counter exhausted) is only logged, and the leadership ends soon after anyway. Fails
    /// only if the leader has stopped.
    pub fn submit(&self, build: impl FnOnce(i64) -> Bytes + Send + 'static) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        drop(rx);
        self.tx
            .send(Control::Propose {
                build: Box::new(build),
                reply,
            })
            .map_err(|_| Error::Protocol("the leader has stopped".into()))
    }

    /// Answer a [`LearnerMessage::Revalidate`].
    pub fn revalidated(&self, to: ConnId, session_id: i64, valid: bool) {
        let _ = self.tx.send(Control::Revalidated {
            to,
            session_id,
            valid,
        });
    }

    /// Hand back a [`LearnerMessage::Sync`] once the proposals of every request that learner
    /// forwarded before it have been submitted (with [`LeaderHandle::propose`] or
    /// [`LeaderHandle::submit`] on this handle or a clone): the control channel keeps that
    /// order, so the SYNC goes out after those proposals commit (`Leader.processSync`).
    pub fn sync(&self, to: ConnId) {
        let _ = self.tx.send(Control::Sync { to });
    }

    /// An observer master's follower committed the txn `entry` (zxid order; `activate`:
    /// the designated leader of a reconfig's COMMITANDACTIVATE): INFORM (or
    /// INFORMANDACTIVATE) the observers ([`Leader::relay_commit`]).
    pub fn relay_commit(&self, entry: Bytes, activate: Option<i64>) {
        let _ = self.tx.send(Control::Relay(entry, activate));
    }

    /// The AdminServer's `orst`: the observers' connection counts start again.
    pub fn reset_observer_stats(&self) {
        let _ = self.tx.send(Control::ResetObserverStats);
    }

    /// Start a new txn log file with the next proposal: the server took a snapshot (Java's
    /// `rollLog` in `SyncRequestProcessor`), so that purging can remove the old files.
    pub fn roll_log(&self) {
        let _ = self.tx.send(Control::RollLog);
    }

    pub async fn status(&self) -> Option<Status> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Control::Status(reply)).ok()?;
        rx.await.ok()
    }

    /// Close every connection and make [`lead`] return [`Exit::Shutdown`].
    pub fn shutdown(&self) {
        let _ = self.tx.send(Control::Shutdown);
    }
}

/// The control receiver, to give to [`lead`].
pub struct ControlReceiver(mpsc::UnboundedReceiver<Control>);

/// A control channel: the handle for the server, the receiver for [`lead`].
pub fn control_channel() -> (LeaderHandle, ControlReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (LeaderHandle { tx }, ControlReceiver(rx))
}

/// Why the leadership ended normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Shutdown,
    /// No quorum (in time, or any more).
    LostQuorum(String),
}

#[derive(Debug)]
pub enum NetError {
    Io(io::Error),
    Db(DbError),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Io(e) => write!(f, "quorum port: {e}"),
            NetError::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for NetError {}

enum FromConn {
    Data(ConnId, Bytes),
    Closed(ConnId),
}

struct Conn {
    buf: BytesMut,
    out: mpsc::UnboundedSender<Bytes>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    remote: SocketAddr,
    established_ms: i64,
    /// Packets handed to the writer, and the last zxid among them (Java's `LearnerHandler`
    /// `packetsSent`, `lastZxid`).
    packets_sent: u64,
    last_zxid: i64,
}

/// How long a closed connection's writer may go on draining what was queued: a learner
/// that stopped reading (a paused process, a full receive window) would keep it, the
/// socket and every queued packet forever.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

impl Drop for Conn {
    /// The writer drains what was queued and half-closes; the reader goes on reading (what
    /// it reads goes nowhere: the id is gone) until the learner closes its side too. A
    /// socket closed with unread bytes (the learner's last ACKs) is reset, and a reset
    /// can make the learner lose the packets we sent last, such as the COMMITANDACTIVATE of
    /// a reconfig that removed us. Both get [`DRAIN_GRACE`].
    fn drop(&mut self) {
        let reader = self.reader.abort_handle();
        let writer = self.writer.abort_handle();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            reader.abort();
            writer.abort();
            return;
        };
        rt.spawn(async move {
            let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
            while !(writer.is_finished() && reader.is_finished())
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !writer.is_finished() {
                tracing::warn!("learner connection not drained in {DRAIN_GRACE:?}: dropped");
            }
            writer.abort();
            reader.abort();
        });
    }
}

/// Lead on `listener` (our quorum port) until stopped or the quorum is lost; plaintext.
pub async fn lead<D: LeaderDb + ?Sized>(
    listener: TcpListener,
    cfg: LeaderConfig,
    db: &mut D,
    control: ControlReceiver,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Exit, NetError> {
    lead_over(listener, Security::plain(), cfg, db, control, events).await
}

/// [`lead`], with each accepted connection upgraded by the transport (TLS: `sslQuorum`) and
/// authenticated (quorum SASL, Java's `LearnerHandler` constructor) in its own task before
/// the leader sees it; a connection that fails either never reaches the leader.
pub async fn lead_over<D: LeaderDb + ?Sized>(
    listener: TcpListener,
    security: Security,
    cfg: LeaderConfig,
    db: &mut D,
    control: ControlReceiver,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Exit, NetError> {
    let mut control = control.0;
    // Java's LearnerCnxAcceptor gives a new socket tickTime * initLimit to speak.
    let upgrade_timeout = cfg.tick_time * cfg.init_limit.max(1);
    let (upgraded_tx, mut upgraded) =
        mpsc::unbounded_channel::<(PeerStream, SocketAddr, Vec<u8>)>();
    let now = Instant::now();
    let state = db.persisted_state();
    let mut leader = if cfg.observer_master {
        Leader::observer_master(cfg, state.current_epoch, state.last_zxid, now.into_std())
    } else {
        Leader::new(
            cfg,
            state,
            db.committed_log()
                .into_iter()
                .map(|(z, e)| (Zxid::from(z), e))
                .collect(),
            now.into_std(),
        )
    };
    let (from_conn_tx, mut from_conn) = mpsc::unbounded_channel();
    let mut shell = Shell {
        conns: HashMap::new(),
        from_conn: from_conn_tx,
        next_id: 0,
        events,
        unsynced: None,
        exit: None,
        learner_counts: LearnerCounts::default(),
        report_due: false,
    };
    let first = leader.start(now.into_std());
    shell.execute(&mut leader, db, first)?;
    shell.settle(&mut leader, db)?;
    loop {
        if let Some(exit) = shell.exit.take() {
            return Ok(exit);
        }
        let deadline = Instant::from_std(leader.next_deadline());
        let input = tokio::select! {
            a = listener.accept() => {
                let (tcp, addr) = a.map_err(NetError::Io)?;
                let _ = tcp.set_nodelay(true);
                let upgrade = security.transport.accept(tcp, addr);
                let auth = security.auth.clone();
                let tx = upgraded_tx.clone();
                tokio::spawn(async move {
                    let ready = async {
                        let mut stream = upgrade.await?;
                        let leftover = match &auth {
                            None => Vec::new(),
                            Some(auth) => match authenticate_server(&mut stream, auth, addr).await {
                                Ok(l) => l,
                                Err(e) => {
                                    tracing::error!("Server failed to authenticate quorum learner, addr: {addr}, closing connection: {e}");
                                    return Err(e);
                                }
                            },
                        };
                        io::Result::Ok((stream, leftover))
                    };
                    match tokio::time::timeout(upgrade_timeout, ready).await {
                        Ok(Ok((stream, leftover))) => {
                            let _ = tx.send((stream, addr, leftover));
                        }
                        Ok(Err(e)) => {
                            tracing::error!("Unexpected exception in LearnerHandler from {addr}: {e}")
                        }
                        Err(_) => tracing::error!(
                            "Unexpected exception in LearnerHandler from {addr}: handshake timed out"
                        ),
                    }
                });
                continue;
            }
            Some((stream, addr, leftover)) = upgraded.recv() => Input::Accept(stream, addr, leftover),
            m = from_conn.recv() => Input::Conn(m.expect("we hold a sender")),
            _ = tokio::time::sleep_until(deadline) => Input::Tick,
            c = control.recv() => Input::Control(c),
        };
        shell.handle(&mut leader, db, input)?;
        // Group commit: take whatever else is already waiting (proposals, ACKs, requests)
        // before syncing our log once for all of it.
        for _ in 0..MAX_BATCH {
            if shell.exit.is_some() {
                break;
            }
            let input = match from_conn.try_recv() {
                Ok(m) => Input::Conn(m),
                Err(_) => match control.try_recv() {
                    Ok(c) => Input::Control(Some(c)),
                    Err(_) => break,
                },
            };
            shell.handle(&mut leader, db, input)?;
        }
        shell.settle(&mut leader, db)?;
        shell.report_learners(&leader);
    }
}

/// Most inputs taken before one sync of our log (bounds the wait of the first in a batch).
const MAX_BATCH: usize = 1024;

/// One thing that woke the actor.
enum Input {
    /// A learner connection, and bytes read past quorum SASL (the start of its first packet).
    Accept(PeerStream, SocketAddr, Vec<u8>),
    Conn(FromConn),
    Tick,
    /// `None`: every handle is gone.
    Control(Option<Control>),
}

struct Shell {
    conns: HashMap<ConnId, Conn>,
    /// Given to each connection's reader task.
    from_conn: mpsc::UnboundedSender<FromConn>,
    next_id: ConnId,
    events: mpsc::UnboundedSender<Event>,
    /// The highest zxid appended to our log since its last sync.
    unsynced: Option<Zxid>,
    exit: Option<Exit>,
    /// The counts last reported by [`Event::Learners`].
    learner_counts: LearnerCounts,
    /// Report the learners after this batch even if their counts did not change.
    report_due: bool,
}

impl Shell {
    /// React to one input; our log is not synced yet (see [`Shell::settle`]).
    fn handle<D: LeaderDb + ?Sized>(
        &mut self,
        leader: &mut Leader,
        db: &mut D,
        input: Input,
    ) -> Result<(), NetError> {
        match input {
            Input::Accept(stream, addr, leftover) => {
                let id = self.accept(stream, addr, leftover);
                leader.connected(id, Instant::now().into_std());
            }
            Input::Conn(FromConn::Data(id, data)) => {
                let Some(c) = self.conns.get_mut(&id) else {
                    return Ok(());
                };
                c.buf.extend_from_slice(&data);
                let mut buf = std::mem::take(&mut c.buf);
                let actions = leader.receive(id, &mut buf, Instant::now().into_std());
                if let Some(c) = self.conns.get_mut(&id) {
                    c.buf = buf;
                }
                self.execute(leader, db, actions)?;
            }
            Input::Conn(FromConn::Closed(id)) => {
                if self.conns.remove(&id).is_some() {
                    leader.disconnected(id);
                }
            }
            Input::Tick => {
                self.report_due = true;
                let actions = leader.tick(Instant::now().into_std());
                self.execute(leader, db, actions)?;
            }
            Input::Control(None | Some(Control::Shutdown)) => self.exit = Some(Exit::Shutdown),
            Input::Control(Some(Control::Propose { build, reply })) => {
                let zxid = leader.next_zxid();
                match leader.propose(build(zxid.into())) {
                    Ok(actions) => {
                        self.execute(leader, db, actions)?;
                        let _ = reply.send(Ok(zxid.into()));
                    }
                    Err(e) => {
                        tracing::warn!("proposal refused: {e}");
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Input::Control(Some(Control::Revalidated {
                to,
                session_id,
                valid,
            })) => {
                let actions = leader.revalidated(to, session_id, valid);
                self.execute(leader, db, actions)?;
            }
            Input::Control(Some(Control::Sync { to })) => {
                let actions = leader.sync(to);
                self.execute(leader, db, actions)?;
            }
            Input::Control(Some(Control::Relay(entry, activate))) => {
                match leader.relay_commit(entry, activate) {
                    Ok(actions) => self.execute(leader, db, actions)?,
                    Err(e) => tracing::warn!("cannot relay a committed txn to the observers: {e}"),
                }
            }
            Input::Control(Some(Control::ResetObserverStats)) => {
                leader.reset_observer_stats();
                let observers: Vec<ConnId> = leader
                    .learner_states()
                    .iter()
                    .filter(|l| l.observer)
                    .map(|l| l.conn)
                    .collect();
                for id in observers {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.packets_sent = 0;
                        c.last_zxid = -1;
                    }
                }
                self.report_due = true;
            }
            Input::Control(Some(Control::RollLog)) => {
                // Entries appended before the roll are synced by the next sync_log, whichever
                // file they are in.
                db.roll_log().map_err(NetError::Db)?;
            }
            Input::Control(Some(Control::Status(reply))) => {
                let _ = reply.send(Status {
                    phase: leader.phase(),
                    epoch: leader.epoch(),
                    last_proposed: leader.last_proposed().into(),
                    last_committed: leader.last_committed().into(),
                    learners: leader.learners(),
                });
            }
        }
        Ok(())
    }

    /// Start the reader and writer tasks of a new learner connection.
    fn accept(&mut self, stream: PeerStream, addr: SocketAddr, leftover: Vec<u8>) -> ConnId {
        stream.set_nodelay();
        self.next_id += 1;
        let id = self.next_id;
        tracing::info!("learner connection {id} from {addr}");
        let (mut rd, wr) = stream.into_split();
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Bytes>();
        let writer = tokio::spawn(write_packets(wr, out_rx));
        let tx = self.from_conn.clone();
        let reader = tokio::spawn(async move {
            if !leftover.is_empty() {
                let _ = tx.send(FromConn::Data(id, Bytes::from(leftover)));
            }
            let mut b = BytesMut::with_capacity(64 * 1024);
            loop {
                match rd.read_buf(&mut b).await {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(FromConn::Closed(id));
                        return;
                    }
                    Ok(_) => {
                        let _ = tx.send(FromConn::Data(id, b.split().freeze()));
                        if b.capacity() < 16 * 1024 {
                            b.reserve(64 * 1024);
                        }
                    }
                }
            }
        });
        self.conns.insert(
            id,
            Conn {
                buf: BytesMut::new(),
                out: out_tx,
                reader,
                writer,
                remote: addr,
                established_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
                packets_sent: 0,
                last_zxid: -1,
            },
        );
        id
    }

    /// Report the learners if their counts changed since the last report, or a tick or an
    /// `orst` asked for it.
    fn report_learners(&mut self, leader: &Leader) {
        let counts = leader.learner_counts();
        if counts == self.learner_counts && !std::mem::take(&mut self.report_due) {
            return;
        }
        self.learner_counts = counts;
        let learners = leader
            .learner_states()
            .into_iter()
            .filter_map(|l| {
                let c = self.conns.get(&l.conn)?;
                Some(LearnerInfo {
                    sid: l.sid,
                    observer: l.observer,
                    synced: l.synced,
                    remote: c.remote,
                    established_ms: c.established_ms,
                    packets_received: l.packets_received,
                    packets_sent: c.packets_sent,
                    requests: l.requests,
                    last_zxid: c.last_zxid,
                })
            })
            .collect();
        let _ = self
            .events
            .send(Event::Learners(LearnerReport { counts, learners }));
    }

    /// Carry out `actions` in order. Appends to our log are synced later, by
    /// [`Shell::settle`].
    fn execute<D: LeaderDb + ?Sized>(
        &mut self,
        leader: &mut Leader,
        db: &mut D,
        actions: Vec<Action>,
    ) -> Result<(), NetError> {
        for a in actions {
            if let Some((to, held)) = self.one(db, a)? {
                leader.snapshot_sent(to, held);
            }
        }
        Ok(())
    }

    /// Sync our log once for everything appended since the last sync, then count our own
    /// ACKs (which may commit and so produce more actions).
    fn settle<D: LeaderDb + ?Sized>(
        &mut self,
        leader: &mut Leader,
        db: &mut D,
    ) -> Result<(), NetError> {
        while let Some(zxid) = self.unsynced.take() {
            blocking(|| db.sync_log()).map_err(NetError::Db)?;
            let actions = leader.logged(zxid);
            self.execute(leader, db, actions)?;
        }
        Ok(())
    }

    fn send(&mut self, to: ConnId, b: Bytes) {
        if let Some(c) = self.conns.get(&to) {
            let _ = c.out.send(b);
        }
    }

    /// Carry out one action; a SNAP sync answers the learner and the zxid its stream held.
    fn one<D: LeaderDb + ?Sized>(
        &mut self,
        db: &mut D,
        a: Action,
    ) -> Result<Option<(ConnId, Zxid)>, NetError> {
        let ev = |s: &Self, e: Event| {
            let _ = s.events.send(e);
        };
        match a {
            Action::Send { to, packet } => {
                tracing::trace!(
                    "to learner {to}: {} {}",
                    crate::zab::packet::type_name(packet.r#type),
                    Zxid::from(packet.zxid)
                );
                let mut b = BytesMut::new();
                encode_packet(&packet, &mut b);
                if let Some(c) = self.conns.get_mut(&to) {
                    c.packets_sent += 1;
                    if packet.zxid > 0 {
                        c.last_zxid = packet.zxid;
                    }
                }
                self.send(to, b.freeze());
            }
            Action::Snapshot { to, zxid } => {
                let mut stream = BytesMut::new();
                let held = db
                    .snapshot_stream_held(zxid.into(), &mut stream)
                    .map_err(NetError::Db)?;
                let held = Zxid::from(held.max(zxid.into()));
                let mut b = BytesMut::with_capacity(stream.len() + 64);
                encode_packet(&crate::zab::packet::packet(SNAP, held), &mut b);
                b.extend_from_slice(&stream);
                self.send(to, b.freeze());
                return Ok(Some((to, held)));
            }
            Action::Close { to, reason } => {
                tracing::info!("closing learner connection {to}: {reason}");
                // The writer drains and shuts the socket down (within DRAIN_GRACE).
                self.conns.remove(&to);
            }
            Action::SetAcceptedEpoch(e) => db.set_accepted_epoch(e).map_err(NetError::Db)?,
            Action::SetCurrentEpoch(e) => db.set_current_epoch(e).map_err(NetError::Db)?,
            Action::Synced {
                sid, kind, zxid, ..
            } => ev(
                self,
                Event::Synced {
                    sid,
                    kind,
                    zxid: zxid.into(),
                },
            ),
            Action::Established { epoch, zxid } => {
                debug_assert_eq!(zxid, Zxid::new(epoch, 0));
                db.established(epoch, zxid.into()).map_err(NetError::Db)?;
                ev(self, Event::Established { epoch });
            }
            Action::Activated { view, leader } => ev(self, Event::Activated { view, leader }),
            Action::Log { zxid, entry } => {
                db.append_log(zxid.into(), &entry).map_err(NetError::Db)?;
                self.unsynced = Some(zxid);
            }
            Action::Apply { zxid, entry } => {
                db.apply(zxid.into(), &entry).map_err(NetError::Db)?;
                ev(self, Event::Committed { zxid: zxid.into() });
            }
            Action::FromLearner(m) => ev(self, Event::FromLearner(m)),
            Action::LostQuorum { reason } => {
                self.conns.clear();
                self.exit = Some(Exit::LostQuorum(reason));
            }
        }
        Ok(None)
    }
}

/// Most bytes gathered into one write to a learner.
const MAX_WRITE: usize = 256 * 1024;

/// A learner connection's writer: every packet queued while the previous write ran goes out
/// in one write; the socket is shut down once the connection is dropped.
async fn write_packets(mut wr: PeerWrite, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut wire = BytesMut::new();
    while let Some(first) = rx.recv().await {
        let res = if rx.is_empty() {
            wr.write_all(&first).await
        } else {
            wire.clear();
            wire.extend_from_slice(&first);
            while wire.len() < MAX_WRITE {
                match rx.try_recv() {
                    Ok(b) => wire.extend_from_slice(&b),
                    Err(_) => break,
                }
            }
            wr.write_all(&wire).await
        };
        // A no-op on plaintext; pushes the TLS records out.
        let res = match res {
            Ok(()) => wr.flush().await,
            e => e,
        };
        if res.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}
