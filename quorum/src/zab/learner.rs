//! The learner side of ZAB as a sans-IO state machine: a follower or observer connecting to a
//! leader, synchronising with it, then following its broadcast. It is fed the bytes the
//! leader sends ([`Learner::receive`]) and returns [`Action`]s for the shell to carry out, in
//! order, against the database and the socket. Modelled on Java 3.8's `Learner`
//! (`registerWithLeader`, `syncWithLeader`), `Follower.processPacket` and
//! `Observer.processPacket`.
//!
//! ```text
//! learner                                leader
//!   FOLLOWERINFO(zxid=(acceptedEpoch,0), LearnerInfo) ─▶
//!   ◀─ LEADERINFO(zxid=(newEpoch,0), 0x10000)            acceptedEpoch := newEpoch (if newer)
//!   ACKEPOCH(zxid=lastZxid, currentEpoch | -1) ─▶
//!   ◀─ DIFF | TRUNC(zxid) | SNAP(zxid) + snapshot stream
//!   ◀─ PROPOSAL/COMMIT ... (INFORM for observers)
//!   ◀─ NEWLEADER(zxid=(newEpoch,0), config)              [snapshot], currentEpoch := newEpoch,
//!   ACK(newLeaderZxid) ─▶                                 log what is pending
//!   ◀─ PROPOSAL/COMMIT ...
//!   ◀─ UPTODATE                                          start serving
//!   ACK((newEpoch,0)) ─▶
//!   broadcast: PROPOSAL → log, ACK; COMMIT → apply; PING → PING(touch table)
//! ```
//!
//! What happens to the txns of the sync phase depends on the sync mode, as in Java: after a
//! DIFF they go to the txn log (logged at NEWLEADER, committed at UPTODATE); after a SNAP or
//! TRUNC they are applied in memory only until NEWLEADER, where a snapshot makes them durable.
//!
//! Java 3.9 leaders speak the same protocol. Java 3.9.3's learner differs only inside
//! (ZOOKEEPER-4394/4643/4646/4785: the txns committed during sync are logged and applied
//! before currentEpoch and the NEWLEADER ACK, and not ACKed); we log every sync txn before
//! currentEpoch, which is as safe and what both leaders accept. A DIFF (or the txns after a
//! TRUNC) that skips txns within an epoch ends the sync and the next session asks for a SNAP
//! ([`Learner::ask_for_snap`]): a Java 3.9.3 leader sends such DIFFs (ZOOKEEPER-4925).
//!
//! Durability rule for the shell: actions are carried out in order, and a [`Action::Send`]
//! must not reach the socket before every earlier [`Action::Log`] is durable (so an ACK
//! always follows the fsync of what it acknowledges). A shell may therefore batch: append
//! every `Log` of a batch, sync once, then write the batch's packets.
//!
//! Dynamic reconfig: COMMITANDACTIVATE and INFORMANDACTIVATE commit as COMMIT and INFORM
//! do; the config of every applied reconfig txn and the leader's config from NEWLEADER go
//! to the shell ([`Action::LeaderConfig`]), which adopts them. Not supported yet: leaders that speak
//! the pre-3.4 protocol (NEWLEADER instead of LEADERINFO), and the "forced initial snapshot"
//! of a server started with `zookeeper.snapshot.trust.empty`.

use crate::zab::packet::{self, *};
use crate::zab::snap_stream::{SnapDecoder, SnapItem};
use crate::zab::Error;
use bytes::{Bytes, BytesMut};
use jute::quorum::QuorumPacket;
use jute::Zxid;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Whether we follow (vote on proposals) or observe (only learn committed txns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerKind {
    Follower,
    Observer,
}

/// The learner's settings.
#[derive(Debug, Clone)]
pub struct LearnerConfig {
    /// Our server id (`myid`).
    pub sid: i64,
    pub kind: LearnerKind,
    /// The version of our quorum config (`QuorumVerifier.getVersion()`; 0 for a static
    /// `zoo.cfg`). A leader refuses a learner whose config is newer than its own.
    pub config_version: i64,
    /// `tickTime`.
    pub tick_time: Duration,
    /// `initLimit`: ticks the leader may take before NEWLEADER.
    pub init_limit: u32,
    /// `syncLimit`: ticks the leader may stay silent after NEWLEADER.
    pub sync_limit: u32,
    /// `jute.maxbuffer` (+ extra size): the largest buffer or string accepted.
    pub max_buffer: usize,
}

impl LearnerConfig {
    /// A follower with Java's defaults for the timing (tickTime 2000, initLimit 10,
    /// syncLimit 5) and buffer limit.
    pub fn follower(sid: i64) -> Self {
        LearnerConfig {
            sid,
            kind: LearnerKind::Follower,
            config_version: 0,
            tick_time: Duration::from_millis(2000),
            init_limit: 10,
            sync_limit: 5,
            max_buffer: DEFAULT_MAX_BUFFER,
        }
    }
}

/// What the learner knows from its disk when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersistedState {
    /// `acceptedEpoch`: the newest epoch we acknowledged in ACKEPOCH.
    pub accepted_epoch: i64,
    /// `currentEpoch`: the epoch of the last leader we synced with (set at NEWLEADER).
    pub current_epoch: i64,
    /// The last zxid in our database (`getLastLoggedZxid`: the tree after replaying the log).
    pub last_zxid: Zxid,
}

/// How the leader brings us up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Txns we miss follow as PROPOSAL/COMMIT pairs.
    Diff,
    /// We have txns the leader does not: drop those after the zxid, then a DIFF follows.
    Trunc,
    /// A full snapshot follows.
    Snap,
}

/// Where the learner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// FOLLOWERINFO/OBSERVERINFO sent; waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent; waiting for DIFF, TRUNC or SNAP.
    SyncStart,
    /// Reading the snapshot stream after SNAP.
    Snapshot,
    /// Receiving sync txns, up to UPTODATE.
    Sync,
    /// Synced and serving: following the leader's broadcast.
    Broadcast,
    /// A protocol error ended the session; the connection must be closed.
    Closed,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write a packet to the leader (after every earlier `Log` is durable).
    Send(QuorumPacket),
    /// Persist `acceptedEpoch` (durably, before going on).
    SetAcceptedEpoch(i64),
    /// Persist `currentEpoch` (durably, before going on), once every earlier `Log` is
    /// durable.
    SetCurrentEpoch(i64),
    /// The leader chose how to sync us; `zxid` is the DIFF/TRUNC/SNAP packet's.
    SyncStarted { mode: SyncMode, zxid: Zxid },
    /// TRUNC: drop every logged txn after `zxid` and reload the database up to it.
    Truncate { zxid: Zxid },
    /// SNAP: the database is about to be replaced by the snapshot that follows.
    SnapshotBegin { zxid: Zxid },
    /// One item of the snapshot, in stream order.
    SnapshotItem(SnapItem),
    /// The snapshot is complete: the database now reflects every txn up to `zxid`.
    SnapshotEnd { zxid: Zxid },
    /// Write a snapshot of the database as it is now (`takeSnapshot(sync)`; `sync` asks for
    /// it to be durable before going on).
    TakeSnapshot { sync: bool },
    /// Append a txn (TxnHeader, txn, optional TxnDigest: the txn log entry bytes) to the log.
    Log { zxid: Zxid, entry: Bytes },
    /// Apply a committed txn (same bytes as `Log`) to the data tree.
    Apply { zxid: Zxid, entry: Bytes },
    /// A quorum config (`QuorumVerifier.toString()`) that a member with reconfig enabled
    /// adopts when it is newer than its own (Java's `processReconfig`): the one the leader
    /// sent in NEWLEADER, at UPTODATE right before [`Action::StartServing`], and the one of
    /// each reconfig txn applied, right after its [`Action::Apply`].
    LeaderConfig(Bytes),
    /// COMMITANDACTIVATE / INFORMANDACTIVATE while serving: `leader` is the leader the
    /// reconfig designates, given right before the reconfig's `Apply` and `LeaderConfig`
    /// (Java's `processReconfig(qv, designatedLeader, zxid, true)`: if the config change
    /// ends the session, the member goes to that leader without an election).
    Activate { leader: i64 },
    /// UPTODATE: sync is over; serve clients. `epoch` is the leader's.
    StartServing { epoch: i64 },
    /// The leader's answer to a REVALIDATE we sent.
    Revalidated { session_id: i64, valid: bool },
    /// The leader's SYNC: the oldest pending client `sync` may be answered.
    Synced,
    /// The leader's DIFF skips txns (see [`Learner::ask_for_snap`]): the next session must
    /// ask for a SNAP. Comes right before the error that ends this session.
    WantSnap,
}

/// Whether txn `zxid` may come right after `last` in a leader's history: the next one in the
/// same epoch, or the first of a later epoch (each leader numbers its txns from 1).
fn follows(last: Zxid, zxid: Zxid) -> bool {
    zxid == last.next() || (zxid.epoch() > last.epoch() && zxid.counter() == 1)
}

/// A txn received from the leader and not yet committed.
#[derive(Debug, Clone, PartialEq)]
struct Proposal {
    zxid: Zxid,
    entry: Bytes,
}

/// The learner state machine. One per connection to a leader.
#[derive(Debug)]
pub struct Learner {
    cfg: LearnerConfig,
    state: PersistedState,
    phase: Phase,
    /// The leader's epoch (from LEADERINFO).
    new_epoch: i64,
    leader_protocol: i32,
    sync_mode: Option<SyncMode>,
    snap: Option<(SnapDecoder, Zxid)>,
    /// SNAP and TRUNC need a snapshot at NEWLEADER; DIFF does not.
    snapshot_needed: bool,
    /// The NEWLEADER snapshot must be synced to disk (after a SNAP).
    sync_snapshot: bool,
    /// Sync txns go to the log (after DIFF, and after NEWLEADER) rather than straight into
    /// the tree.
    write_to_txn_log: bool,
    /// No NEWLEADER seen during sync (a pre-1.0 leader): snapshot and epoch at UPTODATE.
    pre_zab_1_0: bool,
    /// Sync txns not logged yet (Java's `packetsNotCommitted`).
    not_committed: VecDeque<Proposal>,
    /// Zxids committed during sync, to apply at UPTODATE (Java's `packetsCommitted`).
    committed: VecDeque<Zxid>,
    /// Logged txns waiting for their COMMIT (Java's `FollowerZooKeeperServer.pendingTxns`).
    pending: VecDeque<Proposal>,
    last_queued: Zxid,
    last_applied: Zxid,
    /// Sessions touched since the last PING, for the PING reply.
    touches: HashMap<i64, i32>,
    leader_config: Option<Bytes>,
    /// Report last zxid 0 in ACKEPOCH and accept only a SNAP ([`Learner::ask_for_snap`]).
    snap_wanted: bool,
}

impl Learner {
    pub fn new(cfg: LearnerConfig, state: PersistedState) -> Self {
        Learner {
            cfg,
            state,
            phase: Phase::Discovery,
            new_epoch: -1,
            leader_protocol: 0,
            sync_mode: None,
            snap: None,
            snapshot_needed: true,
            sync_snapshot: false,
            write_to_txn_log: false,
            pre_zab_1_0: true,
            not_committed: VecDeque::new(),
            committed: VecDeque::new(),
            pending: VecDeque::new(),
            last_queued: state.last_zxid,
            last_applied: state.last_zxid,
            touches: HashMap::new(),
            leader_config: None,
            snap_wanted: false,
        }
    }

    /// Make the leader sync us by SNAP: ACKEPOCH reports last zxid 0, which every leader
    /// (Java's `LearnerHandler.syncFollower` and ours) answers with a snapshot when it has
    /// any txn, and anything but a SNAP ends the session. For a learner whose previous sync
    /// found the leader's DIFF discontinuous: Java 3.9.3 leaves the txns a learner applied
    /// during its own sync out of its `committedLog` (ZOOKEEPER-4925, fixed in 3.9.4), so
    /// once such a node leads, its DIFFs skip them, and a learner that took them would lose
    /// those txns for good.
    pub fn ask_for_snap(&mut self) {
        self.snap_wanted = true;
    }

    /// The first packet: FOLLOWERINFO or OBSERVERINFO with our sid and accepted epoch.
    pub fn start(&mut self) -> Vec<Action> {
        let t = match self.cfg.kind {
            LearnerKind::Follower => FOLLOWERINFO,
            LearnerKind::Observer => OBSERVERINFO,
        };
        vec![Action::Send(learner_info(
            t,
            self.cfg.sid,
            self.state.accepted_epoch,
            self.cfg.config_version,
        ))]
    }

    pub fn config(&self) -> &LearnerConfig {
        &self.cfg
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The epochs and last zxid as they are now (epochs change at LEADERINFO and NEWLEADER).
    pub fn persisted(&self) -> PersistedState {
        self.state
    }

    /// The leader's epoch, once LEADERINFO is in (-1 before).
    pub fn leader_epoch(&self) -> i64 {
        self.new_epoch
    }

    /// The protocol version the leader announced in LEADERINFO.
    pub fn leader_protocol(&self) -> i32 {
        self.leader_protocol
    }

    pub fn sync_mode(&self) -> Option<SyncMode> {
        self.sync_mode
    }

    /// The zxid of the last txn handed out in an `Apply` (or the starting last zxid).
    pub fn last_applied(&self) -> Zxid {
        self.last_applied
    }

    /// The zxid of the last PROPOSAL / INFORM received.
    pub fn last_queued(&self) -> Zxid {
        self.last_queued
    }

    /// Txns logged and waiting for their COMMIT.
    pub fn pending_commits(&self) -> usize {
        self.pending.len()
    }

    /// The leader's quorum config as sent in NEWLEADER (`QuorumVerifier.toString()`).
    pub fn leader_config(&self) -> Option<&Bytes> {
        self.leader_config.as_ref()
    }

    /// How long the leader may stay silent before we give up on it: `tickTime * initLimit`
    /// until NEWLEADER, `tickTime * syncLimit` after (Java's socket timeouts).
    pub fn read_timeout(&self) -> Duration {
        let ticks = if self.pre_zab_1_0 && self.phase != Phase::Broadcast {
            self.cfg.init_limit
        } else {
            self.cfg.sync_limit
        };
        self.cfg.tick_time * ticks.max(1)
    }

    /// Record that a client session on this server was active (Java's
    /// `LearnerSessionTracker.touchSession`); reported to the leader in the next PING reply.
    pub fn touch(&mut self, session_id: i64, timeout: i32) {
        self.touches.insert(session_id, timeout);
    }

    /// Take every complete packet (or snapshot item) off the front of `buf` and handle it,
    /// pushing the resulting actions to `out`. Bytes of an incomplete packet stay in `buf`.
    /// After an error the learner is [`Phase::Closed`].
    pub fn receive(&mut self, buf: &mut BytesMut, out: &mut Vec<Action>) -> Result<(), Error> {
        let r = self.receive_inner(buf, out);
        if r.is_err() {
            self.phase = Phase::Closed;
        }
        r
    }

    fn receive_inner(&mut self, buf: &mut BytesMut, out: &mut Vec<Action>) -> Result<(), Error> {
        loop {
            if let Some((decoder, zxid)) = self.snap.as_mut() {
                let mut items = Vec::new();
                let done = decoder.decode(buf, &mut items)?;
                out.extend(items.into_iter().map(Action::SnapshotItem));
                if !done {
                    return Ok(());
                }
                let zxid = *zxid;
                tracing::info!(
                    "snapshot from the leader complete: {} nodes, zxid {}",
                    decoder.nodes(),
                    zxid
                );
                self.snap = None;
                out.push(Action::SnapshotEnd { zxid });
                self.state.last_zxid = zxid;
                self.last_applied = zxid;
                self.last_queued = zxid;
                self.phase = Phase::Sync;
                continue;
            }
            match decode_packet(buf, self.cfg.max_buffer)? {
                Some(qp) => self.handle(qp, out)?,
                None => return Ok(()),
            }
        }
    }

    /// Handle one packet from the leader (what `receive` does for each complete packet).
    /// A SNAP packet must be followed by its stream through `receive`.
    pub fn handle(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), Error> {
        tracing::trace!(
            "from leader: {} {}",
            type_name(qp.r#type),
            Zxid::from(qp.zxid)
        );
        let r = match self.phase {
            Phase::Discovery => self.on_discovery(qp, out),
            Phase::SyncStart => self.on_sync_start(qp, out),
            Phase::Snapshot => Err(Error::Protocol(
                "a packet was handed over in the middle of the snapshot stream".into(),
            )),
            Phase::Sync => self.on_sync(qp, out),
            Phase::Broadcast => self.on_broadcast(qp, out),
            Phase::Closed => Err(Error::Protocol("the learner session is closed".into())),
        };
        if r.is_err() {
            self.phase = Phase::Closed;
        }
        r
    }

    fn on_discovery(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), Error> {
        match qp.r#type {
            LEADERINFO => {
                let new_epoch = Zxid::from(qp.zxid).epoch();
                self.leader_protocol = leader_info_version(&qp)?;
                let epoch_ack = if new_epoch > self.state.accepted_epoch {
                    out.push(Action::SetAcceptedEpoch(new_epoch));
                    let current = self.state.current_epoch as i32;
                    self.state.accepted_epoch = new_epoch;
                    current
                } else if new_epoch == self.state.accepted_epoch {
                    // Already acked this epoch (to this or another leader): say so with -1, but
                    // still send our last zxid so that the leader can sync us.
                    -1
                } else {
                    return Err(Error::Protocol(format!(
                        "Leaders epoch, {new_epoch} is less than accepted epoch, {}",
                        self.state.accepted_epoch
                    )));
                };
                let last_zxid = if self.snap_wanted {
                    tracing::warn!(
                        "asking leader for a SNAP (reporting last zxid 0 instead of {}): its \
                         last DIFF skipped txns",
                        self.state.last_zxid
                    );
                    Zxid::ZERO
                } else {
                    self.state.last_zxid
                };
                out.push(Action::Send(ack_epoch(last_zxid, epoch_ack)));
                self.new_epoch = new_epoch;
                self.phase = Phase::SyncStart;
                Ok(())
            }
            NEWLEADER => Err(Error::Protocol(
                "the leader speaks the pre-3.4 protocol (NEWLEADER before LEADERINFO); not supported"
                    .into(),
            )),
            t => Err(Error::Protocol(format!(
                "expected LEADERINFO from the leader, got {}",
                type_name(t)
            ))),
        }
    }

    fn on_sync_start(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), Error> {
        let zxid = Zxid::from(qp.zxid);
        let mode = match qp.r#type {
            DIFF => SyncMode::Diff,
            SNAP => SyncMode::Snap,
            TRUNC => SyncMode::Trunc,
            t => {
                return Err(Error::Protocol(format!(
                    "Got unexpected packet from leader: {} {}",
                    type_name(t),
                    zxid
                )))
            }
        };
        tracing::info!(
            "syncing with the leader by {mode:?} {} (our last zxid {})",
            zxid,
            self.state.last_zxid
        );
        if self.snap_wanted && mode != SyncMode::Snap {
            return Err(Error::Protocol(format!(
                "asked for a SNAP, the leader answered {mode:?} {zxid}"
            )));
        }
        self.sync_mode = Some(mode);
        out.push(Action::SyncStarted { mode, zxid });
        match mode {
            SyncMode::Diff => {
                self.snapshot_needed = false;
                self.write_to_txn_log = true;
                self.phase = Phase::Sync;
            }
            SyncMode::Snap => {
                self.snapshot_needed = true;
                self.sync_snapshot = true;
                out.push(Action::SnapshotBegin { zxid });
                self.snap = Some((SnapDecoder::new(self.cfg.max_buffer), zxid));
                self.phase = Phase::Snapshot;
            }
            SyncMode::Trunc => {
                // The txns committed after a TRUNC are applied in memory only, and the
                // NEWLEADER snapshot is their one copy on disk: it must be durable before
                // currentEpoch is (Java 3.8 and 3.9 write it without fsync, so a power loss
                // leaves the new epoch without them, ZOOKEEPER-4643's shape).
                self.sync_snapshot = true;
                out.push(Action::Truncate { zxid });
                self.state.last_zxid = zxid;
                self.last_applied = zxid;
                self.last_queued = zxid;
                self.phase = Phase::Sync;
            }
        }
        Ok(())
    }

    fn proposal(&mut self, entry: Bytes, check_order: bool) -> Result<Proposal, Error> {
        let zxid = txn_zxid(&entry)?;
        if check_order {
            // Java warns on any gap.
            if !follows(self.last_queued, zxid) {
                tracing::warn!("Got zxid {} expected {}", zxid, self.last_queued.next());
            }
            self.last_queued = zxid;
        }
        Ok(Proposal { zxid, entry })
    }

    fn apply(&mut self, p: Proposal, out: &mut Vec<Action>) {
        self.last_applied = p.zxid;
        let config = packet::reconfig_config(&p.entry);
        out.push(Action::Apply {
            zxid: p.zxid,
            entry: p.entry,
        });
        // A committed reconfig (COMMITANDACTIVATE / INFORMANDACTIVATE, or one in a sync):
        // its config is the one to adopt (Java's processReconfig).
        if let Some(config) = config {
            out.push(Action::LeaderConfig(config));
        }
    }

    /// INFORM / INFORMANDACTIVATE data: the txn entry (after the leader id for the latter).
    fn inform_entry(qp: &QuorumPacket) -> Result<Bytes, Error> {
        let d = qp.data.clone().unwrap_or_default();
        if qp.r#type == INFORMANDACTIVATE {
            activate_leader_id(qp)?;
            Ok(d.slice(8..))
        } else {
            Ok(d)
        }
    }

    fn on_sync(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), Error> {
        let zxid = Zxid::from(qp.zxid);
        match qp.r#type {
            PROPOSAL => {
                let after = self.last_queued;
                let p = self.proposal(qp.data.unwrap_or_default(), true)?;
                if self.sync_mode != Some(SyncMode::Snap) && !follows(after, p.zxid) {
                    // Before NEWLEADER nothing of this sync is logged or applied for good:
                    // ending the session loses nothing, the next one asks for a SNAP.
                    out.push(Action::WantSnap);
                    return Err(Error::Protocol(format!(
                        "the leader's {:?} skips txns: {} after {} (a Java 3.9.3 leader's \
                         discontinuous committedLog, ZOOKEEPER-4925); asking for a SNAP",
                        self.sync_mode.expect("set when the sync started"),
                        p.zxid,
                        after
                    )));
                }
                self.not_committed.push_back(p);
            }
            COMMIT | COMMITANDACTIVATE => {
                if self.write_to_txn_log {
                    self.committed.push_back(zxid);
                } else {
                    match self.not_committed.front() {
                        Some(p) if p.zxid == zxid => {
                            let p = self.not_committed.pop_front().expect("front");
                            self.apply(p, out);
                        }
                        Some(p) => {
                            tracing::warn!("Committing {}, but next proposal is {}", zxid, p.zxid)
                        }
                        None => tracing::warn!("Committing {} without seeing txn", zxid),
                    }
                }
            }
            INFORM | INFORMANDACTIVATE => {
                let entry = Self::inform_entry(&qp)?;
                let p = self.proposal(entry, qp.r#type == INFORM)?;
                if self.write_to_txn_log {
                    self.not_committed.push_back(p);
                    self.committed.push_back(zxid);
                } else {
                    self.apply(p, out);
                }
            }
            NEWLEADER => self.on_new_leader(qp, out),
            UPTODATE => self.on_up_to_date(out)?,
            // Java's sync loop ignores everything else (PINGs included).
            t => tracing::debug!("ignoring {} during sync", type_name(t)),
        }
        Ok(())
    }

    fn on_new_leader(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) {
        tracing::info!("Learner received NEWLEADER message");
        if let Some(d) = qp.data.filter(|d| d.len() > 1) {
            self.leader_config = Some(d);
        }
        if self.snapshot_needed {
            out.push(Action::TakeSnapshot {
                sync: self.sync_snapshot,
            });
        }
        // Log what came so far before taking the new epoch (the shell makes those entries
        // durable before it writes currentEpoch): a follower that crashed in between with
        // the new currentEpoch but without the txns could win the next election on that
        // epoch and truncate committed txns away (found by the simulation; Java 3.8 writes
        // currentEpoch first, ZOOKEEPER-4643).
        let logged: Vec<Proposal> = match self.cfg.kind {
            LearnerKind::Follower => self.not_committed.drain(..).collect(),
            LearnerKind::Observer => Vec::new(),
        };
        for p in &logged {
            out.push(Action::Log {
                zxid: p.zxid,
                entry: p.entry.clone(),
            });
        }
        out.push(Action::SetCurrentEpoch(self.new_epoch));
        self.state.current_epoch = self.new_epoch;
        self.write_to_txn_log = true;
        self.pre_zab_1_0 = false;
        let new_leader_zxid = Zxid::new(self.new_epoch, 0);
        match self.cfg.kind {
            LearnerKind::Follower => {
                // ACK NEWLEADER (the shell syncs the log before sending), then acknowledge
                // each logged txn as the follower's ack processor would; the leader expects
                // the NEWLEADER ACK first.
                out.push(Action::Send(packet(ACK, new_leader_zxid)));
                for p in logged {
                    out.push(Action::Send(packet(ACK, p.zxid)));
                    self.pending.push_back(p);
                }
            }
            LearnerKind::Observer => out.push(Action::Send(packet(ACK, new_leader_zxid))),
        }
    }

    fn on_up_to_date(&mut self, out: &mut Vec<Action>) -> Result<(), Error> {
        tracing::info!("Learner received UPTODATE message");
        if self.pre_zab_1_0 {
            out.push(Action::TakeSnapshot {
                sync: self.sync_snapshot,
            });
            out.push(Action::SetCurrentEpoch(self.new_epoch));
            self.state.current_epoch = self.new_epoch;
        }
        out.push(Action::Send(packet(ACK, Zxid::new(self.new_epoch, 0))));
        if let Some(config) = self.leader_config.clone() {
            out.push(Action::LeaderConfig(config));
        }
        out.push(Action::StartServing {
            epoch: self.new_epoch,
        });
        self.phase = Phase::Broadcast;
        match self.cfg.kind {
            LearnerKind::Follower => {
                for p in std::mem::take(&mut self.not_committed) {
                    self.log_and_ack(p, out);
                }
                for zxid in std::mem::take(&mut self.committed) {
                    self.commit(zxid, out)?;
                }
            }
            LearnerKind::Observer => {
                for p in std::mem::take(&mut self.not_committed) {
                    if self.committed.front() != Some(&p.zxid) {
                        tracing::warn!(
                            "Committing {}, but next proposal is {}",
                            self.committed
                                .front()
                                .map_or("none".into(), Zxid::to_string),
                            p.zxid
                        );
                        continue;
                    }
                    self.committed.pop_front();
                    out.push(Action::Log {
                        zxid: p.zxid,
                        entry: p.entry.clone(),
                    });
                    self.apply(p, out);
                }
                self.committed.clear();
            }
        }
        Ok(())
    }

    fn log_and_ack(&mut self, p: Proposal, out: &mut Vec<Action>) {
        out.push(Action::Log {
            zxid: p.zxid,
            entry: p.entry.clone(),
        });
        out.push(Action::Send(packet(ACK, p.zxid)));
        self.pending.push_back(p);
    }

    /// `FollowerZooKeeperServer.commit`: the COMMIT must be for the oldest pending txn.
    fn commit(&mut self, zxid: Zxid, out: &mut Vec<Action>) -> Result<(), Error> {
        match self.pending.front() {
            None => {
                tracing::warn!("Committing {} without seeing txn", zxid);
                Ok(())
            }
            Some(p) if p.zxid != zxid => Err(Error::Protocol(format!(
                "Committing zxid {} but next pending txn {}",
                zxid, p.zxid
            ))),
            Some(_) => {
                let p = self.pending.pop_front().expect("front");
                self.apply(p, out);
                Ok(())
            }
        }
    }

    fn ping_reply(&mut self, qp: QuorumPacket) -> Action {
        let touches = encode_touches(self.touches.drain());
        Action::Send(QuorumPacket {
            r#type: PING,
            zxid: qp.zxid,
            data: Some(touches),
            authinfo: qp.authinfo,
        })
    }

    fn on_broadcast(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), Error> {
        let observer = self.cfg.kind == LearnerKind::Observer;
        match qp.r#type {
            PING => out.push(self.ping_reply(qp)),
            REVALIDATE => {
                let (session_id, valid) = decode_revalidate_reply(&qp)?;
                out.push(Action::Revalidated { session_id, valid });
            }
            SYNC => out.push(Action::Synced),
            UPTODATE => tracing::error!("Received an UPTODATE message after the learner started"),
            PROPOSAL if !observer => {
                let p = self.proposal(qp.data.unwrap_or_default(), true)?;
                self.log_and_ack(p, out);
            }
            COMMIT | COMMITANDACTIVATE if !observer => {
                if qp.r#type == COMMITANDACTIVATE {
                    let leader = activate_leader_id(&qp)?;
                    out.push(Action::Activate { leader });
                }
                self.commit(Zxid::from(qp.zxid), out)?
            }
            INFORM | INFORMANDACTIVATE if observer => {
                if qp.r#type == INFORMANDACTIVATE {
                    let leader = activate_leader_id(&qp)?;
                    out.push(Action::Activate { leader });
                }
                let entry = Self::inform_entry(&qp)?;
                let p = self.proposal(entry, false)?;
                out.push(Action::Log {
                    zxid: p.zxid,
                    entry: p.entry.clone(),
                });
                self.apply(p, out);
            }
            t => tracing::warn!(
                "Unknown or unexpected packet type: {}",
                packet::type_name(t)
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use jute::Encode;

    fn entry(zxid: i64) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i64(0x77); // clientId
        b.put_i32(1); // cxid
        b.put_i64(zxid);
        b.put_i64(1000); // time
        b.put_i32(jute::ops::SET_DATA);
        b.extend_from_slice(b"body");
        b.freeze()
    }

    fn proposal(zxid: i64) -> QuorumPacket {
        QuorumPacket {
            r#type: PROPOSAL,
            zxid,
            data: Some(entry(zxid)),
            authinfo: vec![],
        }
    }

    fn feed(l: &mut Learner, pkts: &[QuorumPacket]) -> Vec<Action> {
        let mut buf = BytesMut::new();
        for p in pkts {
            p.encode(&mut buf);
        }
        let mut out = Vec::new();
        l.receive(&mut buf, &mut out).unwrap();
        assert!(buf.is_empty());
        out
    }

    fn sent(actions: &[Action]) -> Vec<(i32, i64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(p) => Some((p.r#type, p.zxid)),
                _ => None,
            })
            .collect()
    }

    fn learner(accepted: i64, current: i64, last: i64) -> Learner {
        Learner::new(
            LearnerConfig::follower(3),
            PersistedState {
                accepted_epoch: accepted,
                current_epoch: current,
                last_zxid: last.into(),
            },
        )
    }

    #[test]
    fn handshake_new_epoch() {
        let mut l = learner(1, 1, 0x1_0000_0005);
        let a = l.start();
        assert_eq!(sent(&a), vec![(FOLLOWERINFO, 0x1_0000_0000)]);
        let a = feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        assert_eq!(a[0], Action::SetAcceptedEpoch(2));
        let Action::Send(ack) = &a[1] else { panic!() };
        assert_eq!((ack.r#type, ack.zxid), (ACKEPOCH, 0x1_0000_0005));
        assert_eq!(ack_epoch_value(ack).unwrap(), 1);
        assert_eq!(l.phase(), Phase::SyncStart);
        assert_eq!(l.persisted().accepted_epoch, 2);
    }

    #[test]
    fn handshake_same_epoch_acks_minus_one() {
        let mut l = learner(2, 1, 7);
        let a = feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        assert_eq!(a.len(), 1);
        let Action::Send(ack) = &a[0] else { panic!() };
        assert_eq!(ack_epoch_value(ack).unwrap(), -1);
    }

    #[test]
    fn handshake_older_epoch_is_refused() {
        let mut l = learner(3, 3, 0);
        let mut buf = BytesMut::new();
        leader_info(2, PROTOCOL_VERSION).encode(&mut buf);
        assert!(l.receive(&mut buf, &mut Vec::new()).is_err());
        assert_eq!(l.phase(), Phase::Closed);
    }

    #[test]
    fn diff_sync_logs_at_newleader_and_commits_at_uptodate() {
        let mut l = learner(1, 1, 0x1_0000_0002);
        feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        let a = feed(
            &mut l,
            &[
                packet(DIFF, Zxid::from(0x1_0000_0004)),
                proposal(0x1_0000_0003),
                packet(COMMIT, Zxid::from(0x1_0000_0003)),
                proposal(0x1_0000_0004),
                packet(COMMIT, Zxid::from(0x1_0000_0004)),
            ],
        );
        assert_eq!(
            a,
            vec![Action::SyncStarted {
                mode: SyncMode::Diff,
                zxid: Zxid::from(0x1_0000_0004)
            }]
        );
        let a = feed(&mut l, &[packet(NEWLEADER, Zxid::from(0x2_0000_0000))]);
        assert!(matches!(
            a[0],
            Action::Log { zxid, .. } if zxid.as_i64() == 0x1_0000_0003
        ));
        assert!(matches!(
            a[1],
            Action::Log { zxid, .. } if zxid.as_i64() == 0x1_0000_0004
        ));
        // The txns first: currentEpoch is written once they are durable.
        assert_eq!(a[2], Action::SetCurrentEpoch(2));
        assert_eq!(
            sent(&a),
            vec![
                (ACK, 0x2_0000_0000),
                (ACK, 0x1_0000_0003),
                (ACK, 0x1_0000_0004)
            ]
        );
        // A proposal between NEWLEADER and UPTODATE waits for UPTODATE.
        let a = feed(
            &mut l,
            &[proposal(0x2_0000_0001), packet(PING, Zxid::from(0))],
        );
        assert!(a.is_empty());
        let a = feed(&mut l, &[packet(UPTODATE, Zxid::NONE)]);
        assert_eq!(a[0], Action::Send(packet(ACK, Zxid::from(0x2_0000_0000))));
        assert_eq!(a[1], Action::StartServing { epoch: 2 });
        assert!(matches!(
            a[2],
            Action::Log { zxid, .. } if zxid.as_i64() == 0x2_0000_0001
        ));
        assert_eq!(a[3], Action::Send(packet(ACK, Zxid::from(0x2_0000_0001))));
        assert!(matches!(
            a[4],
            Action::Apply { zxid, .. } if zxid.as_i64() == 0x1_0000_0003
        ));
        assert!(matches!(
            a[5],
            Action::Apply { zxid, .. } if zxid.as_i64() == 0x1_0000_0004
        ));
        assert_eq!(a.len(), 6);
        assert_eq!(l.pending_commits(), 1);
        let a = feed(&mut l, &[packet(COMMIT, Zxid::from(0x2_0000_0001))]);
        assert!(matches!(
            a[0],
            Action::Apply { zxid, .. } if zxid.as_i64() == 0x2_0000_0001
        ));
        assert_eq!(l.phase(), Phase::Broadcast);
        assert_eq!(l.persisted().current_epoch, 2);
    }

    #[test]
    fn a_diff_that_skips_txns_ends_the_session_and_asks_for_a_snap() {
        // A Java 3.9.3 leader's committedLog lacks the txns it applied in its own sync
        // (ZOOKEEPER-4925): its DIFF jumps from (1,4) to (1,7).
        let mut l = learner(1, 1, 0x1_0000_0002);
        feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        let mut buf = BytesMut::new();
        for p in [
            packet(DIFF, Zxid::from(0x1_0000_0008)),
            proposal(0x1_0000_0003),
            packet(COMMIT, Zxid::from(0x1_0000_0003)),
            proposal(0x1_0000_0004),
            packet(COMMIT, Zxid::from(0x1_0000_0004)),
            proposal(0x1_0000_0007),
            packet(COMMIT, Zxid::from(0x1_0000_0007)),
        ] {
            p.encode(&mut buf);
        }
        let mut out = Vec::new();
        let err = l.receive(&mut buf, &mut out).unwrap_err();
        assert!(err.to_string().contains("skips txns"), "{err}");
        assert_eq!(l.phase(), Phase::Closed);
        // Nothing of the sync was logged or applied; the next session asks for a SNAP.
        assert_eq!(
            out,
            vec![
                Action::SyncStarted {
                    mode: SyncMode::Diff,
                    zxid: Zxid::from(0x1_0000_0008)
                },
                Action::WantSnap
            ]
        );
    }

    #[test]
    fn a_diff_into_a_new_epoch_is_no_gap() {
        let mut l = learner(1, 1, 0x1_0000_0002);
        feed(&mut l, &[leader_info(3, PROTOCOL_VERSION)]);
        feed(
            &mut l,
            &[
                packet(DIFF, Zxid::from(0x2_0000_0001)),
                proposal(0x1_0000_0003),
                packet(COMMIT, Zxid::from(0x1_0000_0003)),
                proposal(0x2_0000_0001),
                packet(COMMIT, Zxid::from(0x2_0000_0001)),
                packet(NEWLEADER, Zxid::from(0x3_0000_0000)),
            ],
        );
        assert_eq!(l.phase(), Phase::Sync);
    }

    #[test]
    fn a_learner_asking_for_a_snap_reports_zxid_zero_and_takes_only_a_snap() {
        let mut l = learner(1, 1, 0x1_0000_0005);
        l.ask_for_snap();
        let a = feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        assert_eq!(sent(&a), vec![(ACKEPOCH, 0)]);
        let mut buf = BytesMut::new();
        packet(DIFF, Zxid::from(0x1_0000_0005)).encode(&mut buf);
        let err = l.receive(&mut buf, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("asked for a SNAP"), "{err}");

        let mut l = learner(1, 1, 0x1_0000_0005);
        l.ask_for_snap();
        feed(&mut l, &[leader_info(2, PROTOCOL_VERSION)]);
        let a = feed(&mut l, &[packet(SNAP, Zxid::from(0x1_0000_0009))]);
        assert_eq!(
            a[1],
            Action::SnapshotBegin {
                zxid: Zxid::from(0x1_0000_0009)
            }
        );
        assert_eq!(l.phase(), Phase::Snapshot);
    }

    #[test]
    fn snap_sync_applies_in_memory_then_snapshots() {
        use crate::zab::snap_stream::SnapEncoder;
        use jute::data::StatPersisted;
        let mut l = learner(0, 0, 0);
        feed(&mut l, &[leader_info(1, PROTOCOL_VERSION)]);
        let mut wire = BytesMut::new();
        packet(SNAP, Zxid::from(0x1_0000_0002)).encode(&mut wire);
        SnapEncoder::sessions(&mut wire, &[(5, 4000)]);
        SnapEncoder::acls(&mut wire, &[]);
        SnapEncoder::node(&mut wire, "", None, -1, &StatPersisted::default());
        SnapEncoder::finish(&mut wire);
        proposal(0x1_0000_0003).encode(&mut wire);
        packet(COMMIT, Zxid::from(0x1_0000_0003)).encode(&mut wire);
        proposal(0x1_0000_0004).encode(&mut wire);
        packet(NEWLEADER, Zxid::from(0x1_0000_0000)).encode(&mut wire);
        packet(UPTODATE, Zxid::NONE).encode(&mut wire);
        packet(COMMIT, Zxid::from(0x1_0000_0004)).encode(&mut wire);
        packet(PING, Zxid::from(0x1_0000_0004)).encode(&mut wire);
        // Byte by byte: every split must work.
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        for b in wire.iter() {
            buf.put_u8(*b);
            l.receive(&mut buf, &mut out).unwrap();
        }
        assert!(buf.is_empty());
        let kinds: Vec<String> = out
            .iter()
            .map(|a| match a {
                Action::Send(p) => format!("send {} {:x}", type_name(p.r#type), p.zxid),
                Action::SnapshotItem(SnapItem::Session { .. }) => "session".into(),
                Action::SnapshotItem(SnapItem::Node { .. }) => "node".into(),
                Action::Log { zxid, .. } => format!("log {:x}", zxid.as_i64()),
                Action::Apply { zxid, .. } => format!("apply {:x}", zxid.as_i64()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "SyncStarted { mode: Snap, zxid: Zxid(0x100000002) }",
                "SnapshotBegin { zxid: Zxid(0x100000002) }",
                "session",
                "node",
                "SnapshotEnd { zxid: Zxid(0x100000002) }",
                "apply 100000003",
                "TakeSnapshot { sync: true }",
                "log 100000004",
                "SetCurrentEpoch(1)",
                "send ACK 100000000",
                "send ACK 100000004",
                "send ACK 100000000",
                "StartServing { epoch: 1 }",
                "apply 100000004",
                "send PING 100000004",
            ]
        );
    }

    #[test]
    fn trunc_then_broadcast() {
        let mut l = learner(1, 1, 0x1_0000_0009);
        feed(&mut l, &[leader_info(1, PROTOCOL_VERSION)]);
        let a = feed(
            &mut l,
            &[
                packet(TRUNC, Zxid::from(0x1_0000_0007)),
                packet(NEWLEADER, Zxid::from(0x1_0000_0000)),
                packet(UPTODATE, Zxid::NONE),
            ],
        );
        assert_eq!(
            a[1],
            Action::Truncate {
                zxid: Zxid::from(0x1_0000_0007)
            }
        );
        // Durable, and before the epoch.
        assert_eq!(a[2], Action::TakeSnapshot { sync: true });
        assert_eq!(a[3], Action::SetCurrentEpoch(1));
        assert_eq!(l.persisted().last_zxid, Zxid::from(0x1_0000_0007));
        l.touch(0x42, 6000);
        let a = feed(
            &mut l,
            &[proposal(0x1_0000_0008), packet(PING, Zxid::from(9))],
        );
        assert!(matches!(
            a[0],
            Action::Log { zxid, .. } if zxid.as_i64() == 0x1_0000_0008
        ));
        assert_eq!(a[1], Action::Send(packet(ACK, Zxid::from(0x1_0000_0008))));
        let Action::Send(ping) = &a[2] else { panic!() };
        assert_eq!(ping.r#type, PING);
        assert_eq!(ping.zxid, 9);
        assert_eq!(
            decode_touches(ping.data.as_deref().unwrap()).unwrap(),
            vec![(0x42, 6000)]
        );
        // The table is emptied by the reply.
        let a = feed(&mut l, &[packet(PING, Zxid::from(10))]);
        let Action::Send(ping) = &a[0] else { panic!() };
        assert_eq!(ping.data.as_deref(), Some(&[][..]));
    }

    #[test]
    fn out_of_order_commit_closes() {
        let mut l = learner(1, 1, 0);
        feed(
            &mut l,
            &[
                leader_info(1, PROTOCOL_VERSION),
                packet(DIFF, Zxid::from(0)),
                packet(NEWLEADER, Zxid::from(0x1_0000_0000)),
                packet(UPTODATE, Zxid::NONE),
                proposal(0x1_0000_0001),
                proposal(0x1_0000_0002),
            ],
        );
        let mut buf = BytesMut::new();
        packet(COMMIT, Zxid::from(0x1_0000_0002)).encode(&mut buf);
        assert!(l.receive(&mut buf, &mut Vec::new()).is_err());
        assert_eq!(l.phase(), Phase::Closed);
    }

    #[test]
    fn observer_learns_from_inform() {
        let mut cfg = LearnerConfig::follower(4);
        cfg.kind = LearnerKind::Observer;
        let mut l = Learner::new(cfg, PersistedState::default());
        assert_eq!(sent(&l.start()), vec![(OBSERVERINFO, 0)]);
        let inform = QuorumPacket {
            r#type: INFORM,
            zxid: 0x1_0000_0001,
            data: Some(entry(0x1_0000_0001)),
            authinfo: vec![],
        };
        let a = feed(
            &mut l,
            &[
                leader_info(1, PROTOCOL_VERSION),
                packet(DIFF, Zxid::from(0)),
                inform.clone(),
                packet(NEWLEADER, Zxid::from(0x1_0000_0000)),
                packet(UPTODATE, Zxid::NONE),
            ],
        );
        let tail: Vec<_> = a.iter().rev().take(2).collect();
        assert!(matches!(
            tail[0],
            Action::Apply { zxid, .. } if zxid.as_i64() == 0x1_0000_0001
        ));
        assert!(matches!(
            tail[1],
            Action::Log { zxid, .. } if zxid.as_i64() == 0x1_0000_0001
        ));
        // Observers never ACK proposals; PROPOSAL/COMMIT are ignored.
        let mut inform2 = inform;
        inform2.zxid = 0x1_0000_0002;
        inform2.data = Some(entry(0x1_0000_0002));
        let a = feed(&mut l, &[proposal(0x1_0000_0002), inform2]);
        assert_eq!(sent(&a), vec![]);
        assert!(matches!(
            a[1],
            Action::Apply { zxid, .. } if zxid.as_i64() == 0x1_0000_0002
        ));
    }
}
