//! The leader side of ZAB as a sans-IO state machine: learners (Java's or ours) connect to the
//! leader's quorum port, agree on a new epoch, are synchronised (DIFF / TRUNC / SNAP) and then
//! follow the leader's broadcast. The shell tells the [`Leader`] about connections, bytes,
//! the clock and the durability of its own log, and carries out the returned [`Action`]s in
//! order. Modelled on Java 3.8's `Leader` (`lead`, `getEpochToPropose`, `waitForEpochAck`,
//! `waitForNewLeaderAck`, `propose`, `processAck`, `tryToCommit`, `startForwarding`,
//! `processSync`) and `LearnerHandler` (`run`, `syncFollower`, `queueCommittedProposals`,
//! `ping`).
//!
//! ```text
//! learner                                          leader
//!   FOLLOWERINFO/OBSERVERINFO(zxid=(acceptedEpoch,0)) ─▶  new epoch = max(accepted)+1 once a
//!                                                         quorum of voters (with us) came in
//!   ◀─ LEADERINFO((newEpoch,0), 0x10000)
//!   ACKEPOCH(lastZxid, currentEpoch | -1) ─▶             wait for a quorum of epoch acks
//!   ◀─ DIFF(+ PROPOSAL/COMMIT pairs) | TRUNC(zxid) | SNAP(zxid) + snapshot stream
//!   ◀─ NEWLEADER((newEpoch,0), quorum config)
//!   ACK((newEpoch,0)) ─▶                                  wait for a quorum of NEWLEADER acks
//!   ◀─ UPTODATE                                           (the leader is established)
//!   broadcast: ◀─ PROPOSAL  ACK ─▶  ◀─ COMMIT  (observers: ◀─ INFORM)
//!              ◀─ PING  PING(touches) ─▶   REQUEST / REVALIDATE ─▶
//! ```
//!
//! The leader keeps, in memory, the window of recently committed txns (seeded by the shell at
//! start, Java's `committedLog`) and decides each learner's sync from it, as
//! `LearnerHandler.syncFollower` does: an empty DIFF when the learner is where we are; TRUNC
//! when it is ahead of our window in a non-new epoch; DIFF with the committed txns after its
//! zxid when that zxid is in the window (TRUNC first if it has txns we never had in that
//! epoch); SNAP otherwise. Java's extra step of diffing from the on-disk txn log when the
//! learner is older than the window (`zookeeper.snapshotSizeFactor`) is not done: we send a
//! SNAP instead, which is always correct.
//!
//! Durability rule for the shell: [`Action::Log`] appends a txn to our own log; once it is
//! durable, call [`Leader::logged`] (our own ACK). [`Action::Apply`] is for committed txns, in
//! zxid order. [`Action::Snapshot`] must be written to that learner's stream with the tree as
//! it is after every earlier `Apply` (which is exactly the txns up to its zxid).
//!
//! A forwarded REQUEST is surfaced as [`LearnerMessage::Request`] for the server's request
//! pipeline, which proposes the resulting txn with [`Leader::propose`]. A forwarded client
//! `sync` is surfaced as [`LearnerMessage::Sync`] and takes the same road: the pipeline hands
//! it back with [`Leader::sync`] behind the proposals of everything that learner forwarded
//! before it, and the SYNC goes out once the last of those is committed (Java's
//! `LearnerSyncRequest` through `PrepRequestProcessor` to `Leader.processSync`). Answering it
//! on arrival would let it overtake a write the learner forwarded just before: a Java
//! follower's `CommitProcessor` then takes that early SYNC for the commit it waits for and
//! blocks its queue for good.
//!
//! In observer-master mode ([`Leader::observer_master`], Java's `ObserverMaster`) the same
//! machine serves a follower's observers: established at once in the follower's epoch, only
//! observers, the follower's commits handed in with [`Leader::relay_commit`] and sent as
//! INFORM (a reconfig the leader committed with COMMITANDACTIVATE as INFORMANDACTIVATE),
//! no quorum, no proposals.
//!
//! Dynamic reconfig: a reconfig txn's proposal needs a quorum of the old and of the new
//! config, commits with COMMITANDACTIVATE / INFORMANDACTIVATE and switches the view.
//! Not supported yet: the pre-3.4 protocol, the
//! learner sync throttle, and the epoch roll-over Java forces when a zxid counter is about to
//! overflow (we refuse to propose instead).

use crate::verifier::QuorumMaj;
use crate::zab::learner::PersistedState;
use crate::zab::packet::{self, *};
use crate::zab::Error;
use bytes::{Bytes, BytesMut};
use jute::quorum::QuorumPacket;
use jute::{OpCode, Zxid};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Java's `ZKDatabase.commitLogCount` default: how many committed txns stay in memory for
/// DIFF syncs.
pub const COMMIT_LOG_COUNT: usize = 500;

/// A connection to the leader, numbered by the shell.
pub type ConnId = u64;

/// The leader's settings.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// Our server id.
    pub sid: i64,
    /// The ensemble (who votes; sent in NEWLEADER as Java's `QuorumVerifier.toString()`).
    pub view: QuorumMaj,
    pub tick_time: Duration,
    /// `initLimit`: ticks for each stage of establishing the leadership and for a learner's
    /// sync.
    pub init_limit: u32,
    /// `syncLimit`: ticks a synced learner may stay silent.
    pub sync_limit: u32,
    /// `jute.maxbuffer` (+ extra size).
    pub max_buffer: usize,
    /// How many committed txns to keep for DIFF syncs.
    pub commit_log_count: usize,
    /// Also keep no more than this many bytes of them (Java's `ObserverMaster`
    /// `pktsSizeLimit`, counted as its `LearnerHandler.packetSize`); `None`: no byte limit.
    pub commit_log_bytes: Option<usize>,
    /// Serve observers as a follower's `ObserverMaster` instead of leading (see
    /// [`Leader::observer_master`]).
    pub observer_master: bool,
    /// `reconfigEnabled`: an initial config (version 0) is given the version (epoch, 0) in
    /// NEWLEADER, and every member adopts it at UPTODATE (Java's `Leader.lead`,
    /// ZOOKEEPER-1783).
    pub reconfig_enabled: bool,
}

impl LeaderConfig {
    /// Java's defaults: tickTime 2000, initLimit 10, syncLimit 5.
    pub fn new(sid: i64, view: QuorumMaj) -> Self {
        LeaderConfig {
            sid,
            view,
            tick_time: Duration::from_millis(2000),
            init_limit: 10,
            sync_limit: 5,
            max_buffer: DEFAULT_MAX_BUFFER,
            commit_log_count: COMMIT_LOG_COUNT,
            commit_log_bytes: None,
            observer_master: false,
            reconfig_enabled: false,
        }
    }

    /// The config a leader of `epoch` sends in NEWLEADER and adopts once established: its
    /// own, with an initial one (version 0) versioned (epoch, 0) when reconfig is enabled.
    pub fn established_view(&self, epoch: i64) -> QuorumMaj {
        if self.reconfig_enabled && self.view.version() == 0 {
            self.view.clone().with_version(Zxid::new(epoch, 0).into())
        } else {
            self.view.clone()
        }
    }
}

/// How a learner was synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Diff,
    Trunc,
    Snap,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write a packet to a learner.
    Send { to: ConnId, packet: QuorumPacket },
    /// Write SNAP(`zxid`) and then the snapshot stream of our tree (which reflects exactly the
    /// txns up to `zxid`), ending with "BenWasHere", to a learner.
    Snapshot { to: ConnId, zxid: Zxid },
    /// Close a learner's connection (protocol error, timeout, replaced).
    Close { to: ConnId, reason: String },
    /// Persist `acceptedEpoch` durably.
    SetAcceptedEpoch(i64),
    /// Persist `currentEpoch` durably.
    SetCurrentEpoch(i64),
    /// A learner was synchronised (informational).
    Synced {
        to: ConnId,
        sid: i64,
        kind: SyncKind,
        zxid: Zxid,
    },
    /// A quorum acknowledged NEWLEADER: the leader is established and serves clients from
    /// txn `zxid` = (epoch, 0) on (Java's `startZkServer`, which also sets the tree's last
    /// processed zxid to it).
    Established { epoch: i64, zxid: Zxid },
    /// A reconfig committed: `view` is the ensemble from now on, `leader` the designated
    /// leader (us unless we left the voters; then [`Action::LostQuorum`] follows).
    Activated { view: QuorumMaj, leader: i64 },
    /// Append our own txn to the log; call [`Leader::logged`] once it is durable.
    Log { zxid: Zxid, entry: Bytes },
    /// Apply a committed txn to the tree (zxid order).
    Apply { zxid: Zxid, entry: Bytes },
    /// A learner's message for the server, which the shell passes on as
    /// [`crate::zab::leader_net::Event::FromLearner`].
    FromLearner(LearnerMessage),
    /// We cannot (or no longer) lead: no quorum in time, or the synced followers are no
    /// longer a quorum. Every connection should be closed and election started again.
    LostQuorum { reason: String },
}

/// What a learner sends that the server handles (the request pipeline, the session tracker).
#[derive(Debug, Clone, PartialEq)]
pub enum LearnerMessage {
    /// A client request forwarded by a learner, for the request pipeline.
    Request {
        from: ConnId,
        sid: i64,
        session_id: i64,
        cxid: i32,
        op: i32,
        body: Bytes,
        authinfo: Vec<jute::data::Id>,
    },
    /// A client `sync` forwarded by a learner. Hand it back with [`Leader::sync`] once every
    /// request that learner forwarded before it has been proposed (or refused).
    Sync {
        from: ConnId,
        session_id: i64,
        cxid: i32,
        /// The request's body (a `SyncRequest`), for an observer master to pass on.
        body: Bytes,
    },
    /// A learner's PING reply: this session was active on it.
    Touch { session_id: i64, timeout: i32 },
    /// A learner asks whether a session is valid (and touches it); answer with
    /// [`Leader::revalidated`].
    Revalidate {
        from: ConnId,
        session_id: i64,
        timeout: i32,
    },
}

/// The leader's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a quorum of FOLLOWERINFOs to pick the new epoch.
    Discovery,
    /// New epoch sent; waiting for a quorum of ACKEPOCHs.
    EpochAck,
    /// Learners synced; waiting for a quorum of NEWLEADER ACKs.
    NewLeaderAck,
    /// Established: broadcasting.
    Broadcast,
    /// Gave up (see [`Action::LostQuorum`]).
    Closed,
}

/// Where one learner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerPhase {
    /// Connected; waiting for FOLLOWERINFO / OBSERVERINFO.
    Info,
    /// Waiting for the new epoch to be decided.
    AwaitEpoch,
    /// LEADERINFO sent; waiting for ACKEPOCH.
    AckEpoch,
    /// ACKEPOCH in; waiting for a quorum of them.
    AwaitSync,
    /// Sync and NEWLEADER sent; waiting for its ACK.
    NewLeaderAck,
    /// NEWLEADER acknowledged; waiting for the leader to be established.
    AwaitStartup,
    /// UPTODATE sent.
    Broadcast,
}

/// A leader's learners as Java's gauges count them: `learners` (every learner connection,
/// `Leader.getLearners`), `synced_followers` (followers receiving proposals,
/// `getForwardingFollowers`), of them `synced_non_voting_followers`, and `synced_observers`
/// (observers receiving INFORMs, `getObservingLearners`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnerCounts {
    pub learners: usize,
    pub synced_followers: usize,
    pub synced_non_voting_followers: usize,
    pub synced_observers: usize,
}

#[derive(Debug)]
struct Peer {
    phase: LearnerPhase,
    sid: i64,
    observer: bool,
    /// The learner's last zxid (from ACKEPOCH).
    last_zxid: Zxid,
    last_heard: Instant,
    /// Receives PROPOSAL/COMMIT (followers) or INFORM (observers) from now on.
    forwarding: bool,
    /// Its SNAP held every txn up to this zxid (an observer master's tree may be ahead of
    /// the zxid it decided the sync at): no INFORM up to it.
    skip_through: Zxid,
    /// Packets and REQUESTs read once in broadcast (Java's `LearnerHandler`
    /// `packetsReceived` / `requestsReceived`, which `orst` resets for observers).
    packets_received: u64,
    requests: u64,
}

/// One learner as the leader state machine knows it (see [`Leader::learner_states`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerState {
    pub conn: ConnId,
    pub sid: i64,
    pub observer: bool,
    /// Receiving proposals (followers) or INFORMs (observers).
    pub synced: bool,
    pub packets_received: u64,
    pub requests: u64,
}

#[derive(Debug)]
struct Proposal {
    entry: Bytes,
    acks: BTreeSet<i64>,
    /// A reconfig txn's new config: the proposal needs a quorum of it too, and commits
    /// with COMMITANDACTIVATE / INFORMANDACTIVATE (Java's `qvAcksetPairs`).
    next_view: Option<QuorumMaj>,
}

/// The leader state machine: one per term of leadership.
#[derive(Debug)]
pub struct Leader {
    cfg: LeaderConfig,
    state: PersistedState,
    phase: Phase,
    /// The new epoch, once decided.
    epoch: i64,
    /// Deadline of the current establishment stage.
    stage_deadline: Instant,
    /// Accepted epochs reported (with ours), while discovering.
    connecting: BTreeSet<i64>,
    max_accepted: i64,
    /// Voters whose ACKEPOCH counted (with us).
    electing: BTreeSet<i64>,
    /// Voters that acknowledged NEWLEADER (with us).
    newleader_acks: BTreeSet<i64>,
    peers: HashMap<ConnId, Peer>,
    /// The tree's last processed zxid (snapshot zxid).
    last_processed: Zxid,
    last_proposed: Zxid,
    last_committed: Zxid,
    /// The zxid our own log has made durable.
    last_logged: Zxid,
    outstanding: BTreeMap<Zxid, Proposal>,
    /// Recently committed txns (Java's `committedLog`).
    committed_log: VecDeque<(Zxid, Bytes)>,
    /// Their size as [`LeaderConfig::commit_log_bytes`] counts it.
    committed_log_bytes: usize,
    /// Learners waiting for SYNC, by the last proposed zxid when they asked.
    pending_syncs: BTreeMap<Zxid, Vec<ConnId>>,
    next_ping: Instant,
}

fn send(to: ConnId, packet: QuorumPacket) -> Action {
    Action::Send { to, packet }
}

/// A committed txn's size as Java's `LearnerHandler.packetSize` counts its packet: 28 bytes
/// of type, zxid and references, and the data.
fn packet_size(entry: &Bytes) -> usize {
    28 + entry.len()
}

impl Leader {
    /// A leader over a database in `state` (epochs and last zxid) whose recent committed
    /// txns are `committed` (zxid order, the last being `state.last_zxid` if any; may be
    /// empty). Our own accepted epoch counts at once.
    pub fn new(
        cfg: LeaderConfig,
        state: PersistedState,
        committed: Vec<(Zxid, Bytes)>,
        now: Instant,
    ) -> Leader {
        let mut committed_log: VecDeque<(Zxid, Bytes)> = committed.into();
        while committed_log.len() > cfg.commit_log_count {
            committed_log.pop_front();
        }
        let stage = cfg.tick_time * cfg.init_limit.max(1);
        let mut l = Leader {
            state,
            phase: Phase::Discovery,
            epoch: -1,
            stage_deadline: now + stage,
            connecting: BTreeSet::new(),
            max_accepted: state.accepted_epoch,
            electing: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            peers: HashMap::new(),
            last_processed: state.last_zxid,
            last_proposed: state.last_zxid,
            last_committed: state.last_zxid,
            last_logged: state.last_zxid,
            outstanding: BTreeMap::new(),
            committed_log,
            committed_log_bytes: 0,
            pending_syncs: BTreeMap::new(),
            next_ping: now,
            cfg,
        };
        l.committed_log_bytes = l.committed_log.iter().map(|(_, e)| packet_size(e)).sum();
        l.trim_committed_log();
        l.connecting.insert(l.cfg.sid);
        l
    }

    /// A follower's `ObserverMaster` (Java's `ObserverMaster` as the `LearnerMaster` of a
    /// `LearnerHandler`): observers only, in `epoch` (the follower's current epoch, sent
    /// in LEADERINFO without waiting for anyone), synced from the txns relayed with
    /// [`Leader::relay_commit`] since `last_zxid` (the follower's tree when it started; older
    /// learners get a SNAP) and then sent each relayed txn as INFORM. Nothing is proposed,
    /// logged or counted: the follower's leader does that.
    pub fn observer_master(
        mut cfg: LeaderConfig,
        epoch: i64,
        last_zxid: Zxid,
        now: Instant,
    ) -> Leader {
        cfg.observer_master = true;
        let state = PersistedState {
            accepted_epoch: epoch,
            current_epoch: epoch,
            last_zxid,
        };
        let mut l = Leader::new(cfg, state, Vec::new(), now);
        l.phase = Phase::Broadcast;
        l.epoch = epoch;
        l
    }

    /// An observer master's follower committed the txn `entry` (in zxid order): keep it
    /// for DIFF syncs and send it as INFORM to the synced observers (Java's
    /// `ObserverMaster.proposalCommitted`). A reconfig the leader committed with
    /// COMMITANDACTIVATE naming `activate` goes as INFORMANDACTIVATE with that id, and its
    /// config is the one later observers get in NEWLEADER (`informAndActivate`). A txn at
    /// or before the last one is ignored.
    pub fn relay_commit(
        &mut self,
        entry: Bytes,
        activate: Option<i64>,
    ) -> Result<Vec<Action>, Error> {
        let zxid = txn_zxid(&entry)?;
        let mut out = Vec::new();
        if !self.cfg.observer_master || zxid <= self.last_committed {
            return Ok(out);
        }
        self.last_proposed = zxid;
        match activate {
            None => self.commit(zxid, entry, &mut out),
            Some(designated) => {
                let mut inform = BytesMut::with_capacity(8 + entry.len());
                inform.extend_from_slice(&designated.to_be_bytes());
                inform.extend_from_slice(&entry);
                let activate = QuorumPacket {
                    r#type: COMMITANDACTIVATE,
                    zxid: zxid.into(),
                    data: Some(Bytes::copy_from_slice(&designated.to_be_bytes())),
                    authinfo: Vec::new(),
                };
                let next = packet::reconfig_config(&entry).and_then(|text| {
                    QuorumMaj::parse_java_string(&String::from_utf8_lossy(&text)).ok()
                });
                self.commit_with(zxid, entry, &activate, inform.freeze(), &mut out);
                if let Some(next) = next {
                    self.cfg.view = next;
                }
            }
        }
        out.retain(|a| !matches!(a, Action::Apply { .. }));
        Ok(out)
    }

    /// The SNAP stream written to learner `to` held every txn up to `zxid`, which may be
    /// later than the zxid of its [`Action::Snapshot`] (an observer master copies the
    /// follower's tree as it is when the copy is made): the INFORMs up to `zxid` are not
    /// sent to it.
    pub fn snapshot_sent(&mut self, to: ConnId, zxid: Zxid) {
        if let Some(p) = self.peers.get_mut(&to) {
            p.skip_through = p.skip_through.max(zxid);
        }
    }

    /// Drop the oldest committed txns beyond the count and byte limits (Java's
    /// `ObserverMaster.cacheCommittedPacket` trims the same way at its hard cap).
    fn trim_committed_log(&mut self) {
        while self.committed_log.len() > self.cfg.commit_log_count
            || self
                .cfg
                .commit_log_bytes
                .is_some_and(|max| self.committed_log_bytes > max)
        {
            let Some((_, e)) = self.committed_log.pop_front() else {
                break;
            };
            self.committed_log_bytes -= packet_size(&e);
        }
    }

    /// Decide the epoch at once if we are a quorum on our own (a single voter). Call once
    /// after [`Leader::new`].
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.maybe_decide_epoch(now, &mut out);
        out
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// The new epoch (-1 until decided).
    pub fn epoch(&self) -> i64 {
        self.epoch
    }
    pub fn last_proposed(&self) -> Zxid {
        self.last_proposed
    }
    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }
    /// Proposals not committed yet.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
    /// The zxid the next [`Leader::propose`] must carry.
    pub fn next_zxid(&self) -> Zxid {
        self.last_proposed.next()
    }
    /// `(sid, observer, phase)` of every connection that introduced itself.
    pub fn learners(&self) -> Vec<(i64, bool, LearnerPhase)> {
        let mut v: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.phase != LearnerPhase::Info)
            .map(|p| (p.sid, p.observer, p.phase))
            .collect();
        v.sort_by_key(|p| p.0);
        v
    }

    /// The learner gauges Java's `LeaderZooKeeperServer` registers, as they stand now.
    pub fn learner_counts(&self) -> LearnerCounts {
        let mut c = LearnerCounts {
            learners: self.peers.len(),
            ..LearnerCounts::default()
        };
        for p in self.peers.values().filter(|p| p.forwarding) {
            if p.observer {
                c.synced_observers += 1;
            } else if self.cfg.view.is_voter(p.sid) {
                c.synced_followers += 1;
            } else {
                // A participant outside the voting view (Java's `getNonVotingFollowers`):
                // counted among the forwarding followers too.
                c.synced_followers += 1;
                c.synced_non_voting_followers += 1;
            }
        }
        c
    }

    /// Every learner that introduced itself, by connection.
    pub fn learner_states(&self) -> Vec<LearnerState> {
        let mut v: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, p)| p.phase != LearnerPhase::Info)
            .map(|(conn, p)| LearnerState {
                conn: *conn,
                sid: p.sid,
                observer: p.observer,
                synced: p.forwarding,
                packets_received: p.packets_received,
                requests: p.requests,
            })
            .collect();
        v.sort_by_key(|l| l.conn);
        v
    }

    /// Java's `Leader.resetObserverConnectionStats` (the AdminServer's `orst`): the
    /// observers' packet and request counts start again from 0.
    pub fn reset_observer_stats(&mut self) {
        for p in self.peers.values_mut().filter(|p| p.observer) {
            p.packets_received = 0;
            p.requests = 0;
        }
    }

    /// When [`Leader::tick`] should be called next.
    pub fn next_deadline(&self) -> Instant {
        match self.phase {
            Phase::Broadcast => self.next_ping,
            _ => self.next_ping.min(self.stage_deadline),
        }
    }

    /// A learner connected.
    pub fn connected(&mut self, id: ConnId, now: Instant) {
        self.peers.insert(
            id,
            Peer {
                phase: LearnerPhase::Info,
                sid: -1,
                observer: false,
                last_zxid: Zxid::NONE,
                last_heard: now,
                forwarding: false,
                skip_through: Zxid::NONE,
                packets_received: 0,
                requests: 0,
            },
        );
    }

    /// A learner's connection is gone.
    pub fn disconnected(&mut self, id: ConnId) {
        if let Some(p) = self.peers.remove(&id) {
            tracing::info!("learner sid {} ({:?}) disconnected", p.sid, p.phase);
        }
        for v in self.pending_syncs.values_mut() {
            v.retain(|c| *c != id);
        }
    }

    /// Take every complete packet off the front of `buf` (bytes from learner `id`) and handle
    /// it. A learner that breaks the protocol gets an [`Action::Close`].
    pub fn receive(&mut self, id: ConnId, buf: &mut BytesMut, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        loop {
            if !self.peers.contains_key(&id) {
                buf.clear();
                break;
            }
            match decode_packet(buf, self.cfg.max_buffer) {
                Ok(Some(qp)) => {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.last_heard = now;
                    }
                    if let Err(e) = self.handle(id, qp, now, &mut out) {
                        self.close(id, e.to_string(), &mut out);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.close(id, e.to_string(), &mut out);
                    break;
                }
            }
        }
        out
    }

    fn close(&mut self, id: ConnId, reason: String, out: &mut Vec<Action>) {
        tracing::warn!("closing learner connection {id}: {reason}");
        self.disconnected(id);
        out.push(Action::Close { to: id, reason });
    }

    fn lost(&mut self, reason: String, out: &mut Vec<Action>) {
        tracing::warn!("leader gives up: {reason}");
        self.phase = Phase::Closed;
        out.push(Action::LostQuorum { reason });
    }

    /// The clock: establishment deadlines, PINGs every tickTime/2, silent learners dropped
    /// after `syncLimit` ticks (`initLimit` while syncing), and the check that the synced
    /// followers are still a quorum.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Closed {
            return out;
        }
        if self.phase != Phase::Broadcast && now >= self.stage_deadline {
            let what = match self.phase {
                Phase::Discovery => "Timeout while waiting for epoch from quorum",
                Phase::EpochAck => "Timeout while waiting for epoch to be acked by quorum",
                _ => "Timeout while waiting for NEWLEADER to be acked by quorum",
            };
            self.lost(what.into(), &mut out);
            return out;
        }
        if now < self.next_ping {
            return out;
        }
        self.next_ping = now + self.cfg.tick_time / 2;
        let sync_limit = self.cfg.tick_time * self.cfg.sync_limit.max(1);
        let init_limit = self.cfg.tick_time * self.cfg.init_limit.max(1);
        let mut dead = Vec::new();
        for (id, p) in &self.peers {
            let synced = matches!(
                p.phase,
                LearnerPhase::AwaitStartup | LearnerPhase::Broadcast
            );
            let limit = if synced { sync_limit } else { init_limit };
            if now.saturating_duration_since(p.last_heard) > limit {
                dead.push((*id, p.sid, limit));
            }
        }
        dead.sort();
        for (id, sid, limit) in dead {
            self.close(
                id,
                format!("learner sid {sid} silent for more than {limit:?}"),
                &mut out,
            );
        }
        let ping = packet(PING, self.last_proposed);
        for (id, p) in &self.peers {
            if matches!(
                p.phase,
                LearnerPhase::AwaitStartup | LearnerPhase::Broadcast
            ) {
                out.push(send(*id, ping.clone()));
            }
        }
        if self.phase == Phase::Broadcast && !self.cfg.observer_master {
            let mut synced: BTreeSet<i64> = self
                .peers
                .values()
                .filter(|p| !p.observer && p.phase == LearnerPhase::Broadcast)
                .map(|p| p.sid)
                .collect();
            synced.insert(self.cfg.sid);
            if !self.cfg.view.contains_quorum(&synced) {
                self.lost(
                    format!("Not sufficient followers synced, only synced with sids: {synced:?}"),
                    &mut out,
                );
            }
        }
        out
    }

    fn handle(
        &mut self,
        id: ConnId,
        qp: QuorumPacket,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        let phase = self.peers[&id].phase;
        tracing::trace!(
            "from learner {id}: {} {} ({phase:?})",
            type_name(qp.r#type),
            qp.zxid
        );
        match phase {
            LearnerPhase::Info => self.on_info(id, qp, now, out),
            LearnerPhase::AwaitEpoch | LearnerPhase::AwaitSync | LearnerPhase::AwaitStartup
                if qp.r#type != ACK =>
            {
                // Java's handler thread is blocked here and does not read.
                Err(Error::Protocol(format!(
                    "unexpected {} while {phase:?}",
                    type_name(qp.r#type)
                )))
            }
            LearnerPhase::AckEpoch => self.on_ack_epoch(id, qp, now, out),
            LearnerPhase::NewLeaderAck => self.on_newleader_ack(id, qp, out),
            _ => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.packets_received += 1;
                    p.requests += u64::from(qp.r#type == REQUEST);
                }
                self.on_broadcast(id, qp, out)
            }
        }
    }

    fn on_info(
        &mut self,
        id: ConnId,
        qp: QuorumPacket,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        let observer = match qp.r#type {
            FOLLOWERINFO if self.cfg.observer_master => {
                return Err(Error::Protocol(
                    "Non observer attempting to connect to ObserverMaster".into(),
                ))
            }
            FOLLOWERINFO => false,
            OBSERVERINFO => true,
            t => {
                return Err(Error::Protocol(format!(
                    "First packet {} is not FOLLOWERINFO or OBSERVERINFO!",
                    type_name(t)
                )))
            }
        };
        let (sid, version, config_version) = parse_learner_info(qp.data.as_deref().unwrap_or(&[]));
        let Some(sid) = sid else {
            return Err(Error::Protocol("learner without a sid (pre-3.4)".into()));
        };
        let version = version.unwrap_or(0);
        if version < PROTOCOL_VERSION {
            return Err(Error::Protocol(format!(
                "learner sid {sid} speaks protocol 0x{version:x}; only 0x10000 is supported"
            )));
        }
        if let Some(v) = config_version {
            if v > self.cfg.view.version() {
                tracing::warn!(
                    "learner sid {sid} has config version 0x{v:x}, newer than ours; \
                     reconfig is not supported"
                );
            }
        }
        let observer = observer || self.cfg.view.is_observer(sid);
        if sid == self.cfg.sid {
            return Err(Error::Protocol(format!("learner claims our own sid {sid}")));
        }
        // A reconnecting learner replaces its old connection.
        let old: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(c, p)| **c != id && p.sid == sid)
            .map(|(c, _)| *c)
            .collect();
        for c in old {
            self.close(c, format!("sid {sid} connected again"), out);
        }
        let accepted = Zxid::from(qp.zxid).epoch();
        tracing::info!(
            "{} sid {sid} connected, accepted epoch {accepted}",
            if observer { "observer" } else { "follower" }
        );
        let p = self.peers.get_mut(&id).expect("peer");
        p.sid = sid;
        p.observer = observer;
        p.phase = LearnerPhase::AwaitEpoch;
        if self.phase == Phase::Discovery {
            // getEpochToPropose: every learner's accepted epoch counts for the maximum,
            // only voters for the quorum.
            self.max_accepted = self.max_accepted.max(accepted);
            if self.cfg.view.is_voter(sid) {
                self.connecting.insert(sid);
            }
            self.maybe_decide_epoch(now, out);
        } else {
            self.send_leader_info(id, out);
        }
        Ok(())
    }

    fn maybe_decide_epoch(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase != Phase::Discovery || !self.cfg.view.contains_quorum(&self.connecting) {
            return;
        }
        self.epoch = self.max_accepted + 1;
        tracing::info!(
            "new epoch {} (connecting: {:?})",
            self.epoch,
            self.connecting
        );
        self.state.accepted_epoch = self.epoch;
        out.push(Action::SetAcceptedEpoch(self.epoch));
        self.last_proposed = Zxid::new(self.epoch, 0);
        self.phase = Phase::EpochAck;
        self.stage_deadline = now + self.cfg.tick_time * self.cfg.init_limit.max(1);
        self.electing.insert(self.cfg.sid);
        let waiting: Vec<ConnId> = self.sorted_peers(LearnerPhase::AwaitEpoch);
        for id in waiting {
            self.send_leader_info(id, out);
        }
        // A single-voter ensemble goes straight on.
        self.maybe_epoch_quorum(now, out);
    }

    fn sorted_peers(&self, phase: LearnerPhase) -> Vec<ConnId> {
        let mut v: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.phase == phase)
            .map(|(c, _)| *c)
            .collect();
        v.sort();
        v
    }

    fn send_leader_info(&mut self, id: ConnId, out: &mut Vec<Action>) {
        self.peers.get_mut(&id).expect("peer").phase = LearnerPhase::AckEpoch;
        out.push(send(id, leader_info(self.epoch, PROTOCOL_VERSION)));
    }

    fn on_ack_epoch(
        &mut self,
        id: ConnId,
        qp: QuorumPacket,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        if qp.r#type != ACKEPOCH {
            return Err(Error::Protocol(format!(
                "{} is not ACKEPOCH",
                type_name(qp.r#type)
            )));
        }
        let current = ack_epoch_value(&qp)? as i64;
        let peer_last = Zxid::from(qp.zxid);
        let p = self.peers.get_mut(&id).expect("peer");
        p.last_zxid = peer_last;
        p.phase = LearnerPhase::AwaitSync;
        let (sid, observer) = (p.sid, p.observer);
        if self.phase == Phase::EpochAck && current != -1 {
            // waitForEpochAck: a learner more recent than us cannot follow us.
            let ours = (self.state.current_epoch, self.last_processed);
            if (current, peer_last) > ours {
                return Err(Error::Protocol(format!(
                    "Follower is ahead of the leader, leader summary: {} (current epoch), {} \
                     (last zxid); follower: {current}, {}",
                    ours.0, ours.1, peer_last
                )));
            }
            if !observer && self.cfg.view.is_voter(sid) {
                self.electing.insert(sid);
            }
            self.maybe_epoch_quorum(now, out);
        } else if self.phase != Phase::EpochAck {
            self.sync_learner(id, out);
        }
        Ok(())
    }

    fn maybe_epoch_quorum(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase != Phase::EpochAck || !self.cfg.view.contains_quorum(&self.electing) {
            return;
        }
        tracing::info!("epoch {} acknowledged by {:?}", self.epoch, self.electing);
        self.state.current_epoch = self.epoch;
        out.push(Action::SetCurrentEpoch(self.epoch));
        self.phase = Phase::NewLeaderAck;
        self.stage_deadline = now + self.cfg.tick_time * self.cfg.init_limit.max(1);
        self.newleader_acks.insert(self.cfg.sid);
        for id in self.sorted_peers(LearnerPhase::AwaitSync) {
            self.sync_learner(id, out);
        }
        self.maybe_established(out);
    }

    /// `LearnerHandler.syncFollower` + `Leader.startForwarding` + NEWLEADER.
    fn sync_learner(&mut self, id: ConnId, out: &mut Vec<Action>) {
        let (peer_last, observer, sid) = {
            let p = &self.peers[&id];
            (p.last_zxid, p.observer, p.sid)
        };
        let last_processed = self.last_committed.max(self.last_processed);
        let (min_log, max_log) = match (self.committed_log.front(), self.committed_log.back()) {
            (Some(f), Some(b)) => (f.0, b.0),
            _ => (last_processed, last_processed),
        };
        let new_epoch_zxid = peer_last.counter() == 0;
        let mut kind = SyncKind::Snap;
        let mut current = last_processed;
        let mut queued: Vec<QuorumPacket> = Vec::new();
        if peer_last == last_processed {
            kind = SyncKind::Diff;
            queued.push(packet(DIFF, peer_last));
        } else if peer_last > max_log && !new_epoch_zxid {
            kind = SyncKind::Trunc;
            queued.push(packet(TRUNC, max_log));
            current = max_log;
        } else if max_log >= peer_last && min_log <= peer_last {
            // queueCommittedProposals
            let mut need_op = true;
            // Java's `prevProposalZxid`, -1 before the first proposal.
            let mut prev = Zxid::NONE;
            let mut queued_zxid = peer_last;
            let mut failed = false;
            for (zxid, entry) in &self.committed_log {
                let zxid = *zxid;
                if zxid < peer_last {
                    prev = zxid;
                    continue;
                }
                if need_op {
                    if zxid == peer_last {
                        queued.push(packet(DIFF, max_log));
                        kind = SyncKind::Diff;
                        need_op = false;
                        prev = zxid;
                        continue;
                    }
                    if new_epoch_zxid {
                        queued.push(packet(DIFF, max_log));
                        kind = SyncKind::Diff;
                        need_op = false;
                    } else if zxid > peer_last {
                        if zxid.epoch() != peer_last.epoch() || prev < Zxid::ZERO {
                            tracing::warn!(
                                "Cannot send TRUNC to peer sid: {sid} peer zxid is from \
                                 different epoch"
                            );
                            failed = true;
                            break;
                        }
                        queued.push(packet(TRUNC, prev));
                        kind = SyncKind::Trunc;
                        need_op = false;
                    }
                }
                prev = zxid;
                if zxid <= queued_zxid {
                    continue;
                }
                queued.push(QuorumPacket {
                    r#type: PROPOSAL,
                    zxid: zxid.into(),
                    data: Some(entry.clone()),
                    authinfo: Vec::new(),
                });
                queued.push(packet(COMMIT, zxid));
                queued_zxid = zxid;
            }
            if failed || need_op {
                queued.clear();
                kind = SyncKind::Snap;
            } else {
                current = max_log;
            }
        }
        let sync_zxid;
        if kind == SyncKind::Snap {
            current = last_processed;
            sync_zxid = current;
            out.push(Action::Snapshot {
                to: id,
                zxid: current,
            });
        } else {
            sync_zxid = Zxid::from(queued[0].zxid);
            out.extend(queued.into_iter().map(|p| send(id, p)));
        }
        tracing::info!("syncing sid {sid} (last zxid {peer_last}) by {kind:?} {sync_zxid}");
        out.push(Action::Synced {
            to: id,
            sid,
            kind,
            zxid: sync_zxid,
        });
        // Whatever this learner acknowledged before (on an earlier connection) no longer
        // counts: after this sync it has nothing past `current` (a TRUNC drops what it had
        // logged), and the outstanding proposals go to it again below. Counting an old ACK
        // could commit a txn that only the leader has (found by the simulation).
        for p in self.outstanding.values_mut() {
            p.acks.remove(&sid);
        }
        // startForwarding: what was proposed after `current` (committed ones with their
        // COMMIT; outstanding ones to followers only).
        for (zxid, p) in self.outstanding.range(current.next()..) {
            if !observer {
                out.push(send(
                    id,
                    QuorumPacket {
                        r#type: PROPOSAL,
                        zxid: zxid.as_i64(),
                        data: Some(p.entry.clone()),
                        authinfo: Vec::new(),
                    },
                ));
            }
        }
        let p = self.peers.get_mut(&id).expect("peer");
        p.forwarding = true;
        p.phase = LearnerPhase::NewLeaderAck;
        out.push(send(
            id,
            QuorumPacket {
                r#type: NEWLEADER,
                zxid: Zxid::new(self.epoch, 0).into(),
                data: Some(Bytes::from(
                    self.cfg.established_view(self.epoch).to_java_string(),
                )),
                authinfo: Vec::new(),
            },
        ));
    }

    fn on_newleader_ack(
        &mut self,
        id: ConnId,
        qp: QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        if qp.r#type != ACK {
            return Err(Error::Protocol(format!(
                "Next packet was supposed to be an ACK, but received packet: {}",
                type_name(qp.r#type)
            )));
        }
        let p = self.peers.get_mut(&id).expect("peer");
        p.phase = LearnerPhase::AwaitStartup;
        let (sid, observer) = (p.sid, p.observer);
        if self.phase == Phase::NewLeaderAck {
            let current = Zxid::new(self.epoch, 0);
            let received = Zxid::from(qp.zxid);
            if received != current {
                tracing::error!(
                    "NEWLEADER ACK from sid: {sid} is from a different epoch - current \
                     {current} received {received}"
                );
            } else if !observer && self.cfg.view.is_voter(sid) {
                self.newleader_acks.insert(sid);
            }
            self.maybe_established(out);
        } else if self.phase == Phase::Broadcast {
            self.send_uptodate(id, out);
        }
        Ok(())
    }

    fn maybe_established(&mut self, out: &mut Vec<Action>) {
        if self.phase != Phase::NewLeaderAck || !self.cfg.view.contains_quorum(&self.newleader_acks)
        {
            return;
        }
        let zxid = Zxid::new(self.epoch, 0);
        tracing::info!(
            "leading epoch {}: NEWLEADER acknowledged by {:?}",
            self.epoch,
            self.newleader_acks
        );
        self.phase = Phase::Broadcast;
        // startZkServer: lastCommitted and the tree's last processed zxid become (epoch, 0).
        self.last_committed = zxid;
        self.last_processed = zxid;
        self.last_proposed = zxid;
        self.last_logged = self.last_logged.max(zxid);
        out.push(Action::Established {
            epoch: self.epoch,
            zxid,
        });
        for id in self.sorted_peers(LearnerPhase::AwaitStartup) {
            self.send_uptodate(id, out);
        }
    }

    fn send_uptodate(&mut self, id: ConnId, out: &mut Vec<Action>) {
        self.peers.get_mut(&id).expect("peer").phase = LearnerPhase::Broadcast;
        out.push(send(id, packet(UPTODATE, Zxid::NONE)));
    }

    fn on_broadcast(
        &mut self,
        id: ConnId,
        qp: QuorumPacket,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        let (sid, observer) = {
            let p = &self.peers[&id];
            (p.sid, p.observer)
        };
        match qp.r#type {
            ACK => {
                if observer {
                    tracing::debug!("Received ACK from Observer {sid}");
                } else {
                    self.process_ack(sid, qp.zxid.into(), out);
                }
            }
            PING => {
                for (session_id, timeout) in decode_touches(qp.data.as_deref().unwrap_or(&[]))? {
                    out.push(Action::FromLearner(LearnerMessage::Touch {
                        session_id,
                        timeout,
                    }));
                }
            }
            REVALIDATE => {
                let (session_id, timeout) = decode_revalidate_request(&qp)?;
                out.push(Action::FromLearner(LearnerMessage::Revalidate {
                    from: id,
                    session_id,
                    timeout,
                }));
            }
            REQUEST => {
                let (session_id, cxid, op, body) = decode_request(&qp)?;
                if op == OpCode::Sync.code() {
                    out.push(Action::FromLearner(LearnerMessage::Sync {
                        from: id,
                        session_id,
                        cxid,
                        body,
                    }));
                } else {
                    out.push(Action::FromLearner(LearnerMessage::Request {
                        from: id,
                        sid,
                        session_id,
                        cxid,
                        op,
                        body,
                        authinfo: qp.authinfo,
                    }));
                }
            }
            t => tracing::warn!("unexpected packet {} from sid {sid}", packet::type_name(t)),
        }
        Ok(())
    }

    /// A [`LearnerMessage::Sync`] handed back by the request pipeline after the proposals of
    /// everything learner `to` forwarded before it (`Leader.processSync`): SYNC now if
    /// nothing is outstanding, else once the last proposed txn commits. Nothing if the
    /// learner is gone.
    pub fn sync(&mut self, to: ConnId) -> Vec<Action> {
        if !self.peers.contains_key(&to) {
            return Vec::new();
        }
        if self.outstanding.is_empty() {
            return vec![send(to, packet(SYNC, Zxid::ZERO))];
        }
        self.pending_syncs
            .entry(self.last_proposed)
            .or_default()
            .push(to);
        Vec::new()
    }

    /// Answer a [`LearnerMessage::Revalidate`].
    pub fn revalidated(&mut self, to: ConnId, session_id: i64, valid: bool) -> Vec<Action> {
        if self.peers.contains_key(&to) {
            vec![send(to, revalidate_reply(session_id, valid))]
        } else {
            Vec::new()
        }
    }

    /// Propose a txn (a txn log entry: TxnHeader, txn, optional TxnDigest) whose zxid is
    /// [`Leader::next_zxid`]. Only once established.
    pub fn propose(&mut self, entry: Bytes) -> Result<Vec<Action>, Error> {
        if self.phase != Phase::Broadcast {
            return Err(Error::Protocol(format!(
                "cannot propose while {:?}",
                self.phase
            )));
        }
        let zxid = txn_zxid(&entry)?;
        if zxid != self.next_zxid() || zxid.epoch() != self.epoch {
            return Err(Error::Protocol(format!(
                "proposal {zxid} is not the next zxid {}",
                self.next_zxid()
            )));
        }
        if zxid.counter() == 0xffff_ffff {
            return Err(Error::Protocol("zxid counter exhausted".into()));
        }
        self.last_proposed = zxid;
        let next_view = packet::reconfig_config(&entry).and_then(|text| {
            QuorumMaj::parse_java_string(&String::from_utf8_lossy(&text))
                .map_err(|e| tracing::warn!("reconfig proposal {zxid} has a bad config: {e}"))
                .ok()
        });
        self.outstanding.insert(
            zxid,
            Proposal {
                entry: entry.clone(),
                acks: BTreeSet::new(),
                next_view,
            },
        );
        let mut out = vec![Action::Log {
            zxid,
            entry: entry.clone(),
        }];
        let qp = QuorumPacket {
            r#type: PROPOSAL,
            zxid: zxid.into(),
            data: Some(entry),
            authinfo: Vec::new(),
        };
        for id in self.forwarding(false) {
            out.push(send(id, qp.clone()));
        }
        Ok(out)
    }

    /// Our own log made every txn up to `zxid` durable: our ACK.
    pub fn logged(&mut self, zxid: Zxid) -> Vec<Action> {
        let mut out = Vec::new();
        if zxid > self.last_logged {
            self.last_logged = zxid;
        }
        let zxids: Vec<Zxid> = self.outstanding.range(..=zxid).map(|(z, _)| *z).collect();
        for z in zxids {
            self.process_ack(self.cfg.sid, z, &mut out);
        }
        out
    }

    fn forwarding(&self, observers: bool) -> Vec<ConnId> {
        let mut v: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.forwarding && p.observer == observers)
            .map(|(c, _)| *c)
            .collect();
        v.sort();
        v
    }

    /// `Leader.processAck` / `tryToCommit`: count the ack; commit in zxid order.
    fn process_ack(&mut self, sid: i64, zxid: Zxid, out: &mut Vec<Action>) {
        if zxid.counter() == 0 {
            return; // NEWLEADER / UPTODATE acks
        }
        if zxid <= self.last_committed {
            return;
        }
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            tracing::warn!("Trying to commit future proposal: zxid {zxid} from {sid}");
            return;
        };
        if self.cfg.view.is_voter(sid) || p.next_view.as_ref().is_some_and(|v| v.is_voter(sid)) {
            p.acks.insert(sid);
        }
        // Commit the oldest ones as long as they have a quorum (of the old and the new
        // config for a reconfig).
        while let Some((&z, p)) = self.outstanding.first_key_value() {
            let quorum = self.cfg.view.contains_quorum(&p.acks)
                && p.next_view
                    .as_ref()
                    .is_none_or(|v| v.contains_quorum(&p.acks));
            if !quorum {
                break;
            }
            let p = self.outstanding.remove(&z).expect("first");
            match p.next_view {
                None => self.commit(z, p.entry, out),
                Some(next) => self.commit_and_activate(z, p.entry, &p.acks, next, out),
            }
            if self.phase == Phase::Closed {
                return;
            }
        }
    }

    /// `Leader.getDesignatedLeader`: we stay leader when we vote in the new config;
    /// otherwise the lowest voter of the new config that acknowledged it (Java takes the
    /// first of a HashSet of the acks, which for small ids is the lowest).
    fn designated_leader(&self, acks: &BTreeSet<i64>, next: &QuorumMaj) -> i64 {
        if next.is_voter(self.cfg.sid) {
            return self.cfg.sid;
        }
        acks.iter()
            .copied()
            .find(|sid| *sid != self.cfg.sid && next.is_voter(*sid))
            .unwrap_or(self.cfg.sid)
    }

    /// A reconfig txn commits: apply it, COMMITANDACTIVATE to the followers and
    /// INFORMANDACTIVATE to the observers (both with the designated leader), then the new
    /// config is ours; if another server is to lead, this leadership ends.
    fn commit_and_activate(
        &mut self,
        zxid: Zxid,
        entry: Bytes,
        acks: &BTreeSet<i64>,
        next: QuorumMaj,
        out: &mut Vec<Action>,
    ) {
        let designated = self.designated_leader(acks, &next);
        let activate = QuorumPacket {
            r#type: COMMITANDACTIVATE,
            zxid: zxid.into(),
            data: Some(Bytes::copy_from_slice(&designated.to_be_bytes())),
            authinfo: Vec::new(),
        };
        let mut inform = BytesMut::with_capacity(8 + entry.len());
        inform.extend_from_slice(&designated.to_be_bytes());
        inform.extend_from_slice(&entry);
        self.commit_with(zxid, entry, &activate, inform.freeze(), out);
        tracing::info!(
            "committed reconfig {zxid}: config version 0x{:x}, designated leader {designated}",
            next.version()
        );
        self.cfg.view = next.clone();
        out.push(Action::Activated {
            view: next,
            leader: designated,
        });
        if designated != self.cfg.sid {
            self.lost(
                format!("reconfig {zxid} designated server {designated} as leader"),
                out,
            );
        }
    }

    fn commit(&mut self, zxid: Zxid, entry: Bytes, out: &mut Vec<Action>) {
        let commit = packet(COMMIT, zxid);
        self.commit_with(zxid, entry.clone(), &commit, entry, out);
    }

    /// Commit `zxid`: apply, `commit` to the followers, INFORMANDACTIVATE or INFORM with
    /// `inform_data` to the observers.
    fn commit_with(
        &mut self,
        zxid: Zxid,
        entry: Bytes,
        commit: &QuorumPacket,
        inform_data: Bytes,
        out: &mut Vec<Action>,
    ) {
        self.last_committed = zxid;
        self.last_processed = zxid;
        // Our own Apply goes before the COMMITs (Java sends them first): by the time a
        // learner can answer its client, the commit is already on its way into our tree, so
        // a later sync + read on this server sees it.
        out.push(Action::Apply {
            zxid,
            entry: entry.clone(),
        });
        for id in self.forwarding(false) {
            out.push(send(id, commit.clone()));
        }
        let inform = QuorumPacket {
            r#type: if commit.r#type == COMMITANDACTIVATE {
                INFORMANDACTIVATE
            } else {
                INFORM
            },
            zxid: zxid.into(),
            data: Some(inform_data),
            authinfo: Vec::new(),
        };
        for id in self.forwarding(true) {
            if self.peers[&id].skip_through < zxid {
                out.push(send(id, inform.clone()));
            }
        }
        self.committed_log_bytes += packet_size(&entry);
        self.committed_log.push_back((zxid, entry));
        self.trim_committed_log();
        if let Some(ids) = self.pending_syncs.remove(&zxid) {
            for id in ids {
                out.push(send(id, packet(SYNC, Zxid::ZERO)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::QuorumServer;
    use crate::zab::learner::{self, Learner, LearnerConfig, LearnerKind, SyncMode};
    use bytes::BufMut;
    use jute::Encode;

    fn view(n: i64, observers: &[i64]) -> QuorumMaj {
        QuorumMaj::new(
            (1..=n)
                .map(|sid| {
                    let role = if observers.contains(&sid) {
                        ":observer"
                    } else {
                        ""
                    };
                    QuorumServer::parse(
                        sid,
                        &format!("127.0.0.1:{}:{}{role}", 2000 + sid, 3000 + sid),
                    )
                    .unwrap()
                })
                .collect(),
            0,
        )
    }

    fn entry(zxid: i64) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i64(0x77);
        b.put_i32(1);
        b.put_i64(zxid);
        b.put_i64(1000);
        b.put_i32(jute::ops::SET_DATA);
        b.extend_from_slice(b"body");
        b.freeze()
    }

    fn bytes_of(p: &QuorumPacket) -> BytesMut {
        let mut b = BytesMut::new();
        p.encode(&mut b);
        b
    }

    /// A leader (sid 3) wired to sans-IO learners: packets are passed between them until
    /// nothing moves. Snapshots are an empty tree.
    struct Sim {
        leader: Leader,
        learners: HashMap<ConnId, Learner>,
        now: Instant,
        log: Vec<String>,
        applied: Vec<i64>,
        learner_applied: HashMap<ConnId, Vec<i64>>,
        requests: Vec<(i64, i32, i32)>,
        /// The server's request pipeline, when `pipeline` is on: a forwarded request is
        /// proposed (as a SET_DATA txn) and a forwarded sync handed back with
        /// [`Leader::sync`], in the order they came (the shell's control channel).
        pipeline: bool,
        to_pipeline: VecDeque<LearnerMessage>,
        syncs: HashMap<ConnId, (SyncMode, i64)>,
        lost: bool,
        /// Our own log does not sync by itself (the test calls `logged`).
        hold_own_log: bool,
        /// Bytes in flight to learners / packets in flight to the leader (FIFO per
        /// connection, as TCP).
        to_learners: VecDeque<(ConnId, BytesMut)>,
        to_leader: VecDeque<(ConnId, QuorumPacket)>,
    }

    impl Sim {
        fn new(n: i64, observers: &[i64], state: PersistedState, log: Vec<(i64, Bytes)>) -> Sim {
            let now = Instant::now();
            let leader_sid = (1..=n).rev().find(|s| !observers.contains(s)).unwrap();
            let mut cfg = LeaderConfig::new(leader_sid, view(n, observers));
            cfg.tick_time = Duration::from_millis(100);
            Sim {
                leader: Leader::new(
                    cfg,
                    state,
                    log.into_iter().map(|(z, e)| (Zxid::from(z), e)).collect(),
                    now,
                ),
                learners: HashMap::new(),
                now,
                log: Vec::new(),
                applied: Vec::new(),
                learner_applied: HashMap::new(),
                requests: Vec::new(),
                pipeline: false,
                to_pipeline: VecDeque::new(),
                syncs: HashMap::new(),
                lost: false,
                hold_own_log: false,
                to_learners: VecDeque::new(),
                to_leader: VecDeque::new(),
            }
        }

        fn connect(&mut self, id: ConnId, sid: i64, observer: bool, st: PersistedState) {
            let mut cfg = LearnerConfig::follower(sid);
            if observer {
                cfg.kind = LearnerKind::Observer;
            }
            let mut l = Learner::new(cfg, st);
            self.leader.connected(id, self.now);
            let a = l.start();
            self.learners.insert(id, l);
            self.handle_learner_actions(id, a);
            self.pump();
        }

        fn pump(&mut self) {
            loop {
                if let Some((id, p)) = self.to_leader.pop_front() {
                    let out = self.leader.receive(id, &mut bytes_of(&p), self.now);
                    self.run(out);
                } else if let Some(m) = self.to_pipeline.pop_front() {
                    let out = match m {
                        LearnerMessage::Sync { from, .. } => self.leader.sync(from),
                        _ => {
                            let z = self.leader.next_zxid();
                            self.leader.propose(entry(z.into())).unwrap()
                        }
                    };
                    self.run(out);
                } else if let Some((id, mut b)) = self.to_learners.pop_front() {
                    let Some(l) = self.learners.get_mut(&id) else {
                        continue;
                    };
                    let mut out = Vec::new();
                    l.receive(&mut b, &mut out).expect("learner accepts");
                    self.handle_learner_actions(id, out);
                } else {
                    break;
                }
            }
        }

        fn handle_learner_actions(&mut self, id: ConnId, actions: Vec<learner::Action>) {
            for a in actions {
                match a {
                    learner::Action::Send(p) => self.to_leader.push_back((id, p)),
                    learner::Action::Apply { zxid, .. } => self
                        .learner_applied
                        .entry(id)
                        .or_default()
                        .push(zxid.into()),
                    learner::Action::SyncStarted { mode, zxid } => {
                        self.syncs.insert(id, (mode, zxid.into()));
                    }
                    _ => {}
                }
            }
        }

        fn deliver(&mut self, id: ConnId, b: BytesMut) {
            self.to_learners.push_back((id, b));
        }

        fn run(&mut self, actions: Vec<Action>) {
            for a in actions {
                match a {
                    Action::Send { to, packet } => {
                        self.log.push(format!(
                            "{to} {} {:#x}",
                            type_name(packet.r#type),
                            packet.zxid
                        ));
                        self.deliver(to, bytes_of(&packet));
                    }
                    Action::Snapshot { to, zxid } => {
                        use crate::zab::snap_stream::SnapEncoder;
                        use jute::data::StatPersisted;
                        self.log.push(format!("{to} SNAP"));
                        let mut b = bytes_of(&packet(SNAP, zxid));
                        SnapEncoder::sessions(&mut b, &[]);
                        SnapEncoder::acls(&mut b, &[]);
                        SnapEncoder::node(&mut b, "", None, -1, &StatPersisted::default());
                        SnapEncoder::finish(&mut b);
                        self.deliver(to, b);
                    }
                    Action::Log { zxid, .. } if !self.hold_own_log => {
                        let out = self.leader.logged(zxid);
                        self.run(out);
                    }
                    Action::Apply { zxid, .. } => self.applied.push(zxid.into()),
                    Action::FromLearner(m @ LearnerMessage::Request { .. }) => {
                        let LearnerMessage::Request {
                            session_id,
                            cxid,
                            op,
                            ..
                        } = &m
                        else {
                            unreachable!()
                        };
                        self.requests.push((*session_id, *cxid, *op));
                        if self.pipeline {
                            self.to_pipeline.push_back(m);
                        }
                    }
                    Action::FromLearner(m @ LearnerMessage::Sync { .. }) if self.pipeline => {
                        self.to_pipeline.push_back(m);
                    }
                    Action::Close { to, .. } => {
                        self.learners.remove(&to);
                    }
                    Action::LostQuorum { .. } => self.lost = true,
                    _ => {}
                }
            }
        }

        fn propose(&mut self) -> i64 {
            let z = self.leader.next_zxid();
            let out = self.leader.propose(entry(z.into())).unwrap();
            self.run(out);
            self.pump();
            z.into()
        }
    }

    fn st(accepted: i64, current: i64, last: i64) -> PersistedState {
        PersistedState {
            accepted_epoch: accepted,
            current_epoch: current,
            last_zxid: last.into(),
        }
    }

    #[test]
    fn establishes_with_a_quorum_and_commits() {
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        assert!(s.leader.start(s.now).is_empty());
        s.connect(1, 1, false, st(0, 0, 0));
        // Quorum {1, 3}: epoch 1, empty DIFF, NEWLEADER, UPTODATE.
        assert_eq!(s.leader.phase(), Phase::Broadcast);
        assert_eq!(s.leader.epoch(), 1);
        assert_eq!(s.syncs[&1], (SyncMode::Diff, 0));
        assert_eq!(
            s.learners[&1].phase(),
            crate::zab::learner::Phase::Broadcast
        );
        let z = s.propose();
        assert_eq!(z, 0x1_0000_0001);
        assert_eq!(s.applied, vec![z]);
        assert_eq!(s.learner_applied.get(&1), Some(&vec![z]), "{:?}", s.log);
        // A late follower with nothing: committed log window (1,1)..(1,1), peer at 0 → SNAP.
        s.connect(2, 2, false, st(0, 0, 0));
        assert_eq!(s.syncs[&2], (SyncMode::Snap, z));
        let z2 = s.propose();
        assert_eq!(s.learner_applied[&2], vec![z2]);
        assert_eq!(s.learner_applied[&1], vec![z, z2]);
    }

    /// A follower's observer master: epoch as given, no quorum, SNAP or DIFF from the
    /// relayed commits, then INFORMs; followers are refused; a SNAP that held more than its
    /// zxid skips the INFORMs it already held.
    #[test]
    fn observer_master_serves_observers_from_relayed_commits() {
        let mut s = Sim::new(3, &[4, 5], st(0, 0, 0), vec![]);
        let mut cfg = LeaderConfig::new(2, view(3, &[4, 5, 6]));
        cfg.tick_time = Duration::from_millis(100);
        cfg.commit_log_count = usize::MAX;
        cfg.commit_log_bytes = Some(3 * (28 + entry(0).len()));
        let base = Zxid::new(2, 5);
        s.leader = Leader::observer_master(cfg, 2, base, s.now);
        assert_eq!(s.leader.phase(), Phase::Broadcast);
        // A lagging observer: SNAP at the follower's zxid, then UPTODATE at once.
        s.connect(4, 4, true, st(1, 1, 0x1_0000_0003));
        assert_eq!(s.syncs[&4], (SyncMode::Snap, base.into()));
        assert_eq!(
            s.learners[&4].phase(),
            crate::zab::learner::Phase::Broadcast
        );
        for c in 6..=9 {
            let out = s
                .leader
                .relay_commit(entry(Zxid::new(2, c).into()), None)
                .unwrap();
            assert!(!out.iter().any(|a| matches!(a, Action::Apply { .. })));
            s.run(out);
            s.pump();
        }
        let z = |c| Zxid::new(2, c).as_i64();
        assert_eq!(s.learner_applied[&4], vec![z(6), z(7), z(8), z(9)]);
        // Relayed again (a follower that re-delivers): ignored.
        let out = s.leader.relay_commit(entry(z(9)), None).unwrap();
        assert!(out.is_empty(), "{out:?}");
        // The byte limit keeps the last three: an observer at (2,7) gets a DIFF of 8, 9.
        s.connect(5, 5, true, st(2, 2, z(7)));
        assert_eq!(s.syncs[&5], (SyncMode::Diff, z(9)));
        assert_eq!(s.learner_applied[&5], vec![z(8), z(9)]);
        // One at (2,6) is older than the window: SNAP.
        s.connect(6, 6, true, st(2, 2, z(6)));
        assert_eq!(s.syncs[&6].0, SyncMode::Snap);
        // Its snapshot really held up to (2,10): the INFORM of 10 is not sent to it again.
        s.leader.snapshot_sent(6, Zxid::new(2, 10));
        let out = s.leader.relay_commit(entry(z(10)), None).unwrap();
        s.run(out);
        s.pump();
        assert_eq!(s.learner_applied[&5], vec![z(8), z(9), z(10)]);
        assert!(
            !s.log.iter().any(|l| l.starts_with("6 INFORM ")),
            "{:?}",
            s.log
        );
        // A reconfig the leader committed with COMMITANDACTIVATE (designated leader 3):
        // INFORMANDACTIVATE to every observer, and its config is the one NEWLEADER sends.
        let text = format!(
            "server.1=127.0.0.1:2001:3001:participant\nserver.2=127.0.0.1:2002:3002:participant\n\
             server.4=127.0.0.1:2004:3004:observer\nversion={:x}",
            z(11)
        );
        let mut b = BytesMut::new();
        b.put_i64(0x77);
        b.put_i32(2);
        b.put_i64(z(11));
        b.put_i64(1000);
        b.put_i32(RECONFIG_TXN);
        jute::txn::SetDataTxn {
            path: "/zookeeper/config".into(),
            data: Some(text.clone().into_bytes().into()),
            version: -1,
        }
        .encode(&mut b);
        let out = s.leader.relay_commit(b.freeze(), Some(3)).unwrap();
        s.run(out);
        s.pump();
        for o in [4, 5, 6] {
            let line = format!("{o} INFORMANDACTIVATE {:#x}", z(11));
            assert!(s.log.contains(&line), "{line}: {:?}", s.log);
        }
        assert_eq!(s.learner_applied[&5].last(), Some(&z(11)));
        assert_eq!(s.leader.cfg.view.to_java_string(), text);
        // No quorum to lose.
        s.now += Duration::from_millis(50);
        let out = s.leader.tick(s.now);
        assert!(!out.iter().any(|a| matches!(a, Action::LostQuorum { .. })));
        // A follower is refused.
        s.leader.connected(7, s.now);
        let out = s.leader.receive(
            7,
            &mut bytes_of(&learner_info(FOLLOWERINFO, 1, 1, 0)),
            s.now,
        );
        assert!(matches!(&out[..], [Action::Close { to: 7, .. }]), "{out:?}");
    }

    #[test]
    fn acks_from_before_a_resync_do_not_count() {
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        assert!(s.leader.start(s.now).is_empty());
        s.connect(1, 1, false, st(0, 0, 0));
        assert_eq!(s.leader.phase(), Phase::Broadcast);
        s.hold_own_log = true;
        // Learner 1 logs and acknowledges z; our own log has not synced it yet.
        let z = s.propose();
        assert!(s.applied.is_empty());
        // Learner 1 comes back on a new connection with z logged: TRUNC, z proposed again.
        s.learners.remove(&1);
        s.leader.disconnected(1);
        s.leader.connected(2, s.now);
        let info = learner_info(FOLLOWERINFO, 1, 1, 0);
        s.leader.receive(2, &mut bytes_of(&info), s.now);
        let out = s
            .leader
            .receive(2, &mut bytes_of(&ack_epoch(Zxid::from_i64(z), 1)), s.now);
        assert!(
            out.iter().any(|a| matches!(
                a,
                Action::Send { to: 2, packet } if packet.r#type == TRUNC
            )),
            "{out:?}"
        );
        // Our log syncs before the learner acknowledges z again: its ACK from before the
        // TRUNC must not make a quorum (it may never log z again).
        let out = s.leader.logged(Zxid::from_i64(z));
        assert!(
            !out.iter().any(|a| matches!(a, Action::Apply { .. })),
            "{out:?}"
        );
    }

    #[test]
    fn waits_for_a_quorum_and_takes_the_highest_epoch() {
        let mut s = Sim::new(5, &[], st(2, 2, 0x2_0000_0003), vec![]);
        s.connect(1, 1, false, st(4, 2, 0x2_0000_0001));
        assert_eq!(s.leader.phase(), Phase::Discovery);
        s.connect(2, 2, false, st(1, 1, 0x1_0000_0001));
        assert_eq!(s.leader.epoch(), 5);
        assert_eq!(s.leader.phase(), Phase::Broadcast);
        // 1 was behind in our epoch's log window (empty window: snapshot); 2 likewise.
        assert_eq!(s.syncs[&1].0, SyncMode::Snap);
        assert!(s.log.iter().any(|l| l.starts_with("1 NEWLEADER ")));
    }

    #[test]
    fn diff_and_trunc_from_the_committed_log() {
        let log: Vec<(i64, Bytes)> = (1..=5)
            .map(|c| (Zxid::new(1, c).as_i64(), entry(Zxid::new(1, c).as_i64())))
            .collect();
        let mut s = Sim::new(3, &[], st(1, 1, 0x1_0000_0005), log);
        // 1 has (1,3): DIFF with 4, 5.
        s.connect(1, 1, false, st(1, 1, 0x1_0000_0003));
        assert_eq!(s.syncs[&1], (SyncMode::Diff, 0x1_0000_0005));
        assert_eq!(s.leader.epoch(), 2);
        // 2 has (1,7) (txns we never committed): TRUNC to (1,5).
        s.connect(2, 2, false, st(1, 1, 0x1_0000_0007));
        assert_eq!(s.syncs[&2], (SyncMode::Trunc, 0x1_0000_0005));
    }

    #[test]
    fn acks_commit_in_order_and_observers_get_inform() {
        let mut s = Sim::new(4, &[4], st(0, 0, 0), vec![]);
        s.connect(1, 1, false, st(0, 0, 0));
        s.connect(2, 2, false, st(0, 0, 0));
        s.connect(4, 4, true, st(0, 0, 0));
        // Joined after the leader moved to (1,0): a snapshot.
        assert_eq!(s.syncs[&4].0, SyncMode::Snap);
        let z = s.propose();
        assert_eq!(s.learner_applied[&4], vec![z]);
        assert!(s.log.iter().any(|l| l.starts_with("4 INFORM ")));
        assert!(!s.log.iter().any(|l| l.starts_with("4 PROPOSAL ")));
        // Java's leader gauges: the leader is no learner of its own.
        assert_eq!(
            s.leader.learner_counts(),
            LearnerCounts {
                learners: 3,
                synced_followers: 2,
                synced_non_voting_followers: 0,
                synced_observers: 1,
            }
        );
        let observer = |s: &Sim| s.leader.learner_states().into_iter().find(|l| l.sid == 4);
        let o = observer(&s).expect("observer 4 introduced itself");
        assert!(o.observer && o.synced);
        assert!(o.packets_received > 0, "{o:?}");
        s.leader.reset_observer_stats();
        let o = observer(&s).expect("observer 4 introduced itself");
        assert_eq!((o.packets_received, o.requests), (0, 0));
    }

    #[test]
    fn forwarded_requests_sync_revalidate_and_ping() {
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        s.connect(1, 1, false, st(0, 0, 0));
        let req = request(0x55, 7, jute::ops::CREATE, b"x", vec![]);
        let out = s.leader.receive(1, &mut bytes_of(&req), s.now);
        s.run(out);
        s.pump();
        assert_eq!(s.requests, vec![(0x55, 7, jute::ops::CREATE)]);
        let out = s.leader.receive(
            1,
            &mut bytes_of(&request(0x55, 8, jute::ops::SYNC, b"", vec![])),
            s.now,
        );
        assert_eq!(
            out,
            vec![Action::FromLearner(LearnerMessage::Sync {
                from: 1,
                session_id: 0x55,
                cxid: 8,
                body: Bytes::new(),
            })]
        );
        assert_eq!(s.leader.sync(1), vec![send(1, packet(SYNC, Zxid::from(0)))]);
        let out = s
            .leader
            .receive(1, &mut bytes_of(&revalidate_request(0x55, 4000)), s.now);
        assert_eq!(
            out,
            vec![Action::FromLearner(LearnerMessage::Revalidate {
                from: 1,
                session_id: 0x55,
                timeout: 4000
            })]
        );
        assert_eq!(
            s.leader.revalidated(1, 0x55, true),
            vec![send(1, revalidate_reply(0x55, true))]
        );
        // PING goes out; the learner answers with its touches.
        s.learners.get_mut(&1).unwrap().touch(0x55, 4000);
        let now = s.now + Duration::from_millis(60);
        s.now = now;
        let out = s.leader.tick(now);
        assert!(matches!(&out[0], Action::Send { to: 1, packet } if packet.r#type == PING));
        let Action::Send { packet: ping, .. } = &out[0] else {
            panic!()
        };
        let mut reply = Vec::new();
        s.learners
            .get_mut(&1)
            .unwrap()
            .receive(&mut bytes_of(ping), &mut reply)
            .unwrap();
        let learner::Action::Send(r) = &reply[0] else {
            panic!()
        };
        let out = s.leader.receive(1, &mut bytes_of(r), now);
        assert_eq!(
            out,
            vec![Action::FromLearner(LearnerMessage::Touch {
                session_id: 0x55,
                timeout: 4000
            })]
        );
        // Silent for more than syncLimit ticks: dropped, and the quorum is lost.
        let later = now + Duration::from_millis(600);
        let out = s.leader.tick(later);
        assert!(out.iter().any(|a| matches!(a, Action::Close { to: 1, .. })));
        assert!(out.iter().any(|a| matches!(a, Action::LostQuorum { .. })));
    }

    /// What learner `id` was sent, in order ("PROPOSAL 0x100000001", "SYNC 0x0", ...).
    fn sent_to(s: &Sim, id: ConnId) -> Vec<String> {
        let prefix = format!("{id} ");
        s.log
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_forwarded_sync_waits_for_the_learners_earlier_write() {
        // A follower forwards a write and then a sync in one read (Java followers wedged): the
        // SYNC must come after that write's COMMIT, never before its PROPOSAL.
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        s.pipeline = true;
        s.connect(1, 1, false, st(0, 0, 0));
        s.log.clear();
        let mut wire = bytes_of(&request(0x55, 7, jute::ops::SET_DATA, b"w", vec![]));
        wire.extend_from_slice(&bytes_of(&request(0x56, 3, jute::ops::SYNC, b"", vec![])));
        let out = s.leader.receive(1, &mut wire, s.now);
        s.run(out);
        s.pump();
        let z = 0x1_0000_0001;
        assert_eq!(
            sent_to(&s, 1),
            vec![
                format!("PROPOSAL {z:#x}"),
                format!("COMMIT {z:#x}"),
                "SYNC 0x0".to_string()
            ]
        );
        assert_eq!(s.learner_applied[&1], vec![z]);
    }

    #[test]
    fn a_sync_handed_back_waits_for_the_last_proposal() {
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        s.connect(1, 1, false, st(0, 0, 0));
        s.connect(2, 2, false, st(0, 0, 0));
        s.log.clear();
        // Two proposals out, acks not in yet: the sync waits for the second.
        for _ in 0..2 {
            let z = s.leader.next_zxid();
            let out = s.leader.propose(entry(z.into())).unwrap();
            s.run(out);
        }
        assert_eq!(s.leader.outstanding(), 2);
        assert!(s.leader.sync(2).is_empty());
        assert!(s.leader.sync(1).is_empty());
        // A sync of a learner that is gone is dropped.
        assert!(s.leader.sync(9).is_empty());
        s.pump();
        assert_eq!(s.leader.outstanding(), 0);
        for id in [1, 2] {
            let got = sent_to(&s, id);
            assert_eq!(got.last().map(String::as_str), Some("SYNC 0x0"), "{got:?}");
            assert_eq!(
                got.iter().filter(|p| p.starts_with("COMMIT")).count(),
                2,
                "{got:?}"
            );
        }
        // Nothing outstanding: SYNC at once.
        assert_eq!(s.leader.sync(1), vec![send(1, packet(SYNC, Zxid::from(0)))]);
    }

    #[test]
    fn no_quorum_in_time_gives_up() {
        let mut s = Sim::new(3, &[], st(0, 0, 0), vec![]);
        let out = s.leader.tick(s.now + Duration::from_secs(2));
        assert!(matches!(out[0], Action::LostQuorum { .. }));
        assert_eq!(s.leader.phase(), Phase::Closed);
    }

    #[test]
    fn follower_ahead_is_refused() {
        let mut s = Sim::new(3, &[], st(1, 1, 0x1_0000_0002), vec![]);
        s.leader.connected(1, s.now);
        let out = s.leader.receive(
            1,
            &mut bytes_of(&learner_info(FOLLOWERINFO, 1, 1, 0)),
            s.now,
        );
        assert_eq!(out.len(), 2); // SetAcceptedEpoch, LEADERINFO
        let out = s.leader.receive(
            1,
            &mut bytes_of(&ack_epoch(Zxid::from(0x1_0000_0009), 1)),
            s.now,
        );
        assert!(matches!(out[0], Action::Close { to: 1, .. }));
    }
}
