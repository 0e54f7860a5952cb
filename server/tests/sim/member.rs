//! One ensemble member: the real election (`election::fle`), the real ZAB leader and learner
//! state machines (`zab::leader`, `zab::learner`) and the real data tree, glued together the
//! way `server/src/quorum_peer.rs` and the quorum crate's tokio shells (`leader_net`,
//! `learner_net`, `db::execute`) glue them, over the simulated disk and network.
//!
//! ```text
//! Looking ──Decided(LEADING)──▶ Leading ──LostQuorum / crash──▶ Looking (reload from disk)
//!    └─────Decided(FOLLOWING)─▶ Following ──reset / timeout / protocol error──┘
//! ```
//!
//! The durability rules of the shells are kept: a leader counts its own ACK only once its
//! log sync completes (`Leader::logged`); a learner's packets go out only after every txn
//! logged before them is synced (one sync per batch of actions). Syncs take virtual time.

use crate::cluster::{Ctx, Event};
use crate::disk::{Disk, ENOSPC};
use crate::net::ConnId;
use bytes::{Bytes, BytesMut};
use jute::quorum::QuorumPacket;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use zk_quorum::election::{self, Election, FleConfig, Notification, Outcome, ServerState};
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::{self, Leader, LeaderConfig, LearnerMessage, COMMIT_LOG_COUNT};
use zk_quorum::zab::learner::{self, Learner, LearnerConfig, LearnerKind, PersistedState};
use zk_quorum::zab::packet::{self, encode_packet, SNAP, SNAP_SIGNATURE};
use zk_server::persist::digest::DigestTracker;
use zk_server::persist::{snapshot, txnlog};
use zk_server::quorum_peer::SnapLoader;
use zk_server::tree::DataTree;

/// `tickTime` of the simulated ensemble (ms); `initLimit` 10, `syncLimit` 5.
pub const TICK_TIME_MS: u64 = 100;
const INIT_LIMIT: u32 = 10;
const SYNC_LIMIT: u32 = 5;
/// Java's `LeaderConnector` retry delay.
const CONNECT_RETRY_MS: u64 = 100;

pub struct Leading {
    pub leader: Leader,
    pub tree: DataTree,
    pub tracker: DigestTracker,
    pub established: bool,
    /// Bytes received from each learner, not yet a whole packet.
    inbox: BTreeMap<ConnId, BytesMut>,
    /// When the log sync issued last completes.
    disk_ready_ms: u64,
}

pub struct Following {
    pub leader_sid: i64,
    /// `None` while connecting.
    pub learner: Option<Learner>,
    pub conn: Option<ConnId>,
    pub tree: DataTree,
    pub tracker: DigestTracker,
    pub serving: bool,
    loading: Option<SnapLoader>,
    inbox: BytesMut,
    last_heard_ms: u64,
    /// Give up connecting at this time (`tickTime * initLimit`).
    connect_deadline_ms: u64,
    /// When the packets released last go out (they leave in order).
    out_ready_ms: u64,
}

pub enum Role {
    Down,
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

pub struct Member {
    pub sid: i64,
    view: QuorumMaj,
    /// Bumped at every crash and role change: events scheduled for an older one are stale.
    pub gen: u64,
    pub disk: Disk,
    election: Election,
    pub role: Role,
}

fn encode(p: &QuorumPacket) -> Bytes {
    let mut b = BytesMut::new();
    encode_packet(p, &mut b);
    b.freeze()
}

impl Member {
    pub fn new(sid: i64, view: QuorumMaj) -> Member {
        Member {
            sid,
            election: Election::new(fle_config(sid, &view)),
            view,
            gen: 0,
            disk: Disk::default(),
            role: Role::Down,
        }
    }

    pub fn is_up(&self) -> bool {
        !matches!(self.role, Role::Down)
    }

    /// The member's tree, when it has one it serves from.
    pub fn serving_tree(&self) -> Option<(&DataTree, i64)> {
        match &self.role {
            Role::Leading(l) if l.established => Some((&l.tree, l.tracker.value())),
            Role::Following(f) if f.serving => Some((&f.tree, f.tracker.value())),
            _ => None,
        }
    }

    /// Start (or restart after a crash): a fresh process over the same disk.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.election = Election::new(fle_config(self.sid, &self.view));
        self.look(ctx, "started");
    }

    /// The process dies: its connections reset, the unsynced tail of its log is lost.
    pub fn crash(&mut self, ctx: &mut Ctx) {
        ctx.trace(format!("{} CRASH", self.sid));
        self.gen += 1;
        ctx.reset_all(self.sid);
        self.disk.crash(&mut ctx.rng);
        self.role = Role::Down;
    }

    /// Go back to leader election: close every connection, reload the database from disk
    /// (as `quorum_peer::run` does at each round) and start a round.
    fn look(&mut self, ctx: &mut Ctx, why: &str) {
        ctx.trace(format!("{} LOOKING: {why}", self.sid));
        self.gen += 1;
        ctx.reset_all(self.sid);
        let loaded = match self.disk.load() {
            Ok(l) => l,
            Err(e) => {
                ctx.check
                    .fail(format!("member {} cannot load its disk: {e}", self.sid));
                self.role = Role::Down;
                return;
            }
        };
        let zxid = loaded.tree.last_zxid;
        ctx.check
            .state(self.sid, zxid, loaded.tracker.value(), "loading its disk");
        self.role = Role::Looking;
        let acts = self
            .election
            .start(ctx.instant(), zxid, self.disk.current_epoch());
        self.run_election(ctx, acts);
    }

    pub fn on_notification(&mut self, ctx: &mut Ctx, from: i64, n: Notification) {
        if !self.is_up() {
            return;
        }
        let acts = self.election.receive(ctx.instant(), from, n);
        self.run_election(ctx, acts);
    }

    fn run_election(&mut self, ctx: &mut Ctx, acts: Vec<election::Action>) {
        for a in acts {
            match a {
                election::Action::Send { to, notification } => {
                    ctx.send_notification(self.sid, to, notification)
                }
                election::Action::Decided(o) => self.decided(ctx, o),
            }
        }
    }

    fn decided(&mut self, ctx: &mut Ctx, o: Outcome) {
        if !matches!(self.role, Role::Looking) {
            return;
        }
        match o.state {
            ServerState::Leading => self.lead(ctx),
            ServerState::Following | ServerState::Observing => self.follow(ctx, o.vote.leader),
            ServerState::Looking => {}
        }
    }

    fn persisted(&self, tree: &DataTree) -> PersistedState {
        PersistedState {
            accepted_epoch: self.disk.accepted_epoch(),
            current_epoch: self.disk.current_epoch(),
            last_zxid: tree.last_zxid,
        }
    }

    // ---- leading ----

    fn lead(&mut self, ctx: &mut Ctx) {
        let loaded = match self.disk.load() {
            Ok(l) => l,
            Err(e) => return ctx.check.fail(format!("member {}: {e}", self.sid)),
        };
        let state = self.persisted(&loaded.tree);
        ctx.trace(format!(
            "{} LEADING from 0x{:x} (accepted {}, current {})",
            self.sid, state.last_zxid, state.accepted_epoch, state.current_epoch
        ));
        let committed = self.disk.recent(state.last_zxid, COMMIT_LOG_COUNT);
        let mut cfg = LeaderConfig::new(self.sid, self.view.clone());
        cfg.tick_time = Duration::from_millis(TICK_TIME_MS);
        cfg.init_limit = INIT_LIMIT;
        cfg.sync_limit = SYNC_LIMIT;
        let mut leader = Leader::new(cfg, state, committed, ctx.instant());
        let acts = leader.start(ctx.instant());
        self.role = Role::Leading(Box::new(Leading {
            leader,
            tree: loaded.tree,
            tracker: loaded.tracker,
            established: false,
            inbox: BTreeMap::new(),
            disk_ready_ms: ctx.now_ms,
        }));
        self.run_leader(ctx, acts);
    }

    /// A learner's connection reached us.
    pub fn on_open(&mut self, ctx: &mut Ctx, conn: ConnId) {
        match &mut self.role {
            Role::Leading(l) if l.leader.phase() != leader::Phase::Closed => {
                l.leader.connected(conn, ctx.instant());
                l.inbox.insert(conn, BytesMut::new());
            }
            _ => ctx.refuse(conn),
        }
    }

    fn run_leader(&mut self, ctx: &mut Ctx, acts: Vec<leader::Action>) {
        let mut todo: VecDeque<leader::Action> = acts.into();
        while let Some(a) = todo.pop_front() {
            let Role::Leading(l) = &mut self.role else {
                return;
            };
            match a {
                leader::Action::Send { to, packet } => ctx.send(to, false, encode(&packet)),
                leader::Action::Snapshot { to, zxid } => {
                    let mut b = BytesMut::from(&encode(&packet::packet(SNAP, zxid))[..]);
                    let mut file = Vec::new();
                    snapshot::serialize(&l.tree, zxid, false, &mut file)
                        .expect("serializing a tree into memory");
                    b.extend_from_slice(&file[16..file.len() - 13]);
                    jute::Encode::encode(&SNAP_SIGNATURE.to_string(), &mut b);
                    ctx.send(to, false, b.freeze());
                }
                leader::Action::Close { to, reason } => {
                    ctx.trace(format!("{} closes conn {to}: {reason}", self.sid));
                    l.inbox.remove(&to);
                    ctx.reset(to);
                }
                leader::Action::SetAcceptedEpoch(e) => {
                    if let Err(e) = self.disk.set_accepted_epoch(e) {
                        return self.look(ctx, &format!("leader's database error: {e}"));
                    }
                }
                leader::Action::SetCurrentEpoch(e) => {
                    if let Err(e) = self.disk.set_current_epoch(e) {
                        return self.look(ctx, &format!("leader's database error: {e}"));
                    }
                }
                leader::Action::Synced {
                    sid, kind, zxid, ..
                } => ctx.trace(format!(
                    "{} synced {sid} by {kind:?} at 0x{zxid:x}",
                    self.sid
                )),
                leader::Action::Established { epoch, zxid } => {
                    ctx.trace(format!(
                        "{} ESTABLISHED epoch {epoch} (0x{zxid:x})",
                        self.sid
                    ));
                    l.established = true;
                    self.election.update_peer_epoch(epoch);
                    ctx.check.established(self.sid, epoch, l.tree.last_zxid);
                }
                leader::Action::Log { zxid, entry } => {
                    if let Err(e) = self.disk.append(zxid, entry) {
                        return self.look(ctx, &format!("leader's database error: {e}"));
                    }
                    let done = l.disk_ready_ms.max(ctx.now_ms) + ctx.fsync_ms();
                    l.disk_ready_ms = done;
                    let ev = Event::LeaderLogged {
                        sid: self.sid,
                        gen: self.gen,
                        upto: self.disk.appended(),
                        zxid,
                    };
                    ctx.at(done, ev);
                }
                leader::Action::Apply { zxid, entry } => {
                    ctx.check.committed(self.sid, zxid, &entry);
                    apply(ctx, self.sid, &mut l.tree, &mut l.tracker, zxid, &entry);
                }
                leader::Action::FromLearner(m) => {
                    let more = match m {
                        LearnerMessage::Sync { from, .. } => l.leader.sync(from),
                        LearnerMessage::Revalidate {
                            from, session_id, ..
                        } => l.leader.revalidated(from, session_id, true),
                        LearnerMessage::Request { .. } | LearnerMessage::Touch { .. } => Vec::new(),
                    };
                    todo.extend(more);
                }
                leader::Action::LostQuorum { reason } => {
                    return self.look(ctx, &format!("leadership lost: {reason}"));
                }
            }
        }
    }

    pub fn on_leader_logged(&mut self, ctx: &mut Ctx, gen: u64, upto: usize, zxid: i64) {
        if gen != self.gen {
            return;
        }
        self.disk.synced_to(upto);
        if let Role::Leading(l) = &mut self.role {
            let acts = l.leader.logged(zxid);
            self.run_leader(ctx, acts);
        }
    }

    /// The workload's write, proposed if we are an established leader with room.
    pub fn propose(&mut self, ctx: &mut Ctx, make: impl FnOnce(&DataTree, i64, u64) -> Bytes) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        if !l.established || l.leader.outstanding() > 20 {
            return;
        }
        let entry = make(&l.tree, l.leader.next_zxid(), ctx.now_ms);
        match l.leader.propose(entry) {
            Ok(acts) => self.run_leader(ctx, acts),
            Err(e) => ctx.trace(format!("{} cannot propose: {e}", self.sid)),
        }
    }

    // ---- following ----

    fn follow(&mut self, ctx: &mut Ctx, leader_sid: i64) {
        let loaded = match self.disk.load() {
            Ok(l) => l,
            Err(e) => return ctx.check.fail(format!("member {}: {e}", self.sid)),
        };
        ctx.trace(format!("{} FOLLOWING {leader_sid}", self.sid));
        self.role = Role::Following(Box::new(Following {
            leader_sid,
            learner: None,
            conn: None,
            tree: loaded.tree,
            tracker: loaded.tracker,
            serving: false,
            loading: None,
            inbox: BytesMut::new(),
            last_heard_ms: ctx.now_ms,
            connect_deadline_ms: ctx.now_ms + TICK_TIME_MS * INIT_LIMIT as u64,
            out_ready_ms: ctx.now_ms,
        }));
        self.connect(ctx);
    }

    /// Connect to the leader and say FOLLOWERINFO (`learner_net::follow_leader`).
    pub fn connect(&mut self, ctx: &mut Ctx) {
        let state = match &self.role {
            Role::Following(f) if f.conn.is_none() => self.persisted(&f.tree),
            _ => return,
        };
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let Some(conn) = ctx.open(self.sid, f.leader_sid) else {
            return self.connect_failed(ctx);
        };
        let cfg = LearnerConfig {
            sid: self.sid,
            kind: LearnerKind::Follower,
            config_version: self.view.version(),
            tick_time: Duration::from_millis(TICK_TIME_MS),
            init_limit: INIT_LIMIT,
            sync_limit: SYNC_LIMIT,
            max_buffer: packet::DEFAULT_MAX_BUFFER,
        };
        let mut learner = Learner::new(cfg, state);
        let acts = learner.start();
        f.learner = Some(learner);
        f.conn = Some(conn);
        f.inbox.clear();
        f.last_heard_ms = ctx.now_ms;
        self.run_learner(ctx, acts);
    }

    fn connect_failed(&mut self, ctx: &mut Ctx) {
        let Role::Following(f) = &mut self.role else {
            return;
        };
        f.conn = None;
        f.learner = None;
        if ctx.now_ms + CONNECT_RETRY_MS < f.connect_deadline_ms {
            let ev = Event::Connect {
                sid: self.sid,
                gen: self.gen,
            };
            ctx.at(ctx.now_ms + CONNECT_RETRY_MS, ev);
        } else {
            self.look(ctx, "cannot connect to the leader");
        }
    }

    /// The leader refused our connection (it is not leading).
    pub fn on_refused(&mut self, ctx: &mut Ctx, conn: ConnId) {
        if let Role::Following(f) = &self.role {
            if f.conn == Some(conn) {
                self.connect_failed(ctx);
            }
        }
    }

    fn run_learner(&mut self, ctx: &mut Ctx, acts: Vec<learner::Action>) {
        let sid = self.sid;
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let mut logged = false;
        let mut packets = Vec::new();
        for a in acts {
            let r: Result<(), String> = match a {
                learner::Action::Send(p) => {
                    packets.push(encode(&p));
                    Ok(())
                }
                learner::Action::SetAcceptedEpoch(e) => self.disk.set_accepted_epoch(e),
                learner::Action::SetCurrentEpoch(e) => self.disk.set_current_epoch(e),
                learner::Action::SyncStarted { mode, zxid } => {
                    ctx.trace(format!("{sid} sync {mode:?} 0x{zxid:x}"));
                    Ok(())
                }
                learner::Action::Truncate { zxid } => {
                    self.disk.truncate_after(zxid);
                    match self.disk.load() {
                        Ok(l) if l.tree.last_zxid == zxid => {
                            ctx.check
                                .state(sid, zxid, l.tracker.value(), "truncating its log");
                            f.tree = l.tree;
                            f.tracker = l.tracker;
                            Ok(())
                        }
                        Ok(l) => Err(format!(
                            "truncated to 0x{zxid:x} but the tree is at 0x{:x}",
                            l.tree.last_zxid
                        )),
                        Err(e) => Err(e),
                    }
                }
                learner::Action::SnapshotBegin { .. } => {
                    f.loading = Some(SnapLoader::new(true));
                    Ok(())
                }
                learner::Action::SnapshotItem(item) => match f.loading.as_mut() {
                    Some(l) => l.add(item),
                    None => Err("snapshot item outside a snapshot".into()),
                },
                learner::Action::SnapshotEnd { zxid } => match f.loading.take() {
                    Some(l) => l.finish(zxid).map(|tree| {
                        f.tracker = DigestTracker::new(&tree);
                        f.tree = tree;
                        ctx.check
                            .state(sid, zxid, f.tracker.value(), "a leader's snapshot");
                    }),
                    None => Err("snapshot end outside a snapshot".into()),
                },
                learner::Action::TakeSnapshot { .. } => self.disk.snapshot(&f.tree),
                learner::Action::Log { zxid, entry } => {
                    logged = true;
                    self.disk.append(zxid, entry)
                }
                learner::Action::Apply { zxid, entry } => {
                    apply(ctx, sid, &mut f.tree, &mut f.tracker, zxid, &entry);
                    Ok(())
                }
                learner::Action::StartServing { epoch } => {
                    ctx.trace(format!("{sid} serving at 0x{:x}", f.tree.last_zxid));
                    f.serving = true;
                    self.election.update_peer_epoch(epoch);
                    Ok(())
                }
                learner::Action::Revalidated { .. } | learner::Action::Synced => Ok(()),
            };
            match r {
                Ok(()) => {}
                // learner_net: a database error ends the session with the leader.
                Err(e) if e == ENOSPC => {
                    return self.look(ctx, &format!("learner's database error: {e}"));
                }
                Err(e) => return ctx.check.fail(format!("member {sid}: database error: {e}")),
            }
        }
        let Some(conn) = f.conn else {
            return;
        };
        // db::execute: one sync for the batch, before its packets leave.
        let ready = if logged {
            f.out_ready_ms.max(ctx.now_ms) + ctx.fsync_ms()
        } else {
            f.out_ready_ms.max(ctx.now_ms)
        };
        f.out_ready_ms = ready;
        if ready == ctx.now_ms && !logged {
            for p in packets {
                ctx.send(conn, true, p);
            }
        } else {
            let ev = Event::LearnerRelease {
                sid,
                gen: self.gen,
                conn,
                upto: self.disk.appended(),
                packets,
            };
            ctx.at(ready, ev);
        }
    }

    pub fn on_learner_release(
        &mut self,
        ctx: &mut Ctx,
        gen: u64,
        conn: ConnId,
        upto: usize,
        packets: Vec<Bytes>,
    ) {
        if gen != self.gen {
            return;
        }
        self.disk.synced_to(upto);
        for p in packets {
            ctx.send(conn, true, p);
        }
    }

    // ---- both sides ----

    pub fn on_bytes(&mut self, ctx: &mut Ctx, conn: ConnId, to_leader: bool, bytes: Bytes) {
        match &mut self.role {
            Role::Leading(l) if to_leader => {
                let Some(buf) = l.inbox.get_mut(&conn) else {
                    return;
                };
                buf.extend_from_slice(&bytes);
                let mut buf = std::mem::take(buf);
                let acts = l.leader.receive(conn, &mut buf, ctx.instant());
                if let Some(b) = l.inbox.get_mut(&conn) {
                    *b = buf;
                }
                self.run_leader(ctx, acts);
            }
            Role::Following(f) if !to_leader && f.conn == Some(conn) => {
                f.last_heard_ms = ctx.now_ms;
                f.inbox.extend_from_slice(&bytes);
                let Some(learner) = f.learner.as_mut() else {
                    return;
                };
                let mut acts = Vec::new();
                let res = learner.receive(&mut f.inbox, &mut acts);
                self.run_learner(ctx, acts);
                if let Err(e) = res {
                    self.look(ctx, &format!("protocol error from the leader: {e}"));
                }
            }
            _ => {}
        }
    }

    /// The connection `conn` was reset (by the other end, a partition or a crash).
    pub fn on_reset(&mut self, ctx: &mut Ctx, conn: ConnId) {
        match &mut self.role {
            Role::Leading(l) => {
                if l.inbox.remove(&conn).is_some() {
                    l.leader.disconnected(conn);
                }
            }
            Role::Following(f) if f.conn == Some(conn) => {
                self.look(ctx, "the connection to the leader was reset");
            }
            _ => {}
        }
    }

    pub fn on_tick(&mut self, ctx: &mut Ctx) {
        match &mut self.role {
            Role::Down => {}
            Role::Looking => {
                let acts = self.election.tick(ctx.instant());
                self.run_election(ctx, acts);
            }
            Role::Leading(l) => {
                let acts = l.leader.tick(ctx.instant());
                self.run_leader(ctx, acts);
            }
            Role::Following(f) => {
                if let (Some(l), Some(_)) = (&f.learner, f.conn) {
                    let timeout_ms = l.read_timeout().as_millis() as u64;
                    if ctx.now_ms > f.last_heard_ms + timeout_ms {
                        self.look(ctx, "the leader is silent");
                    }
                }
            }
        }
    }
}

/// Apply a committed txn to a tree and report it to the checker.
fn apply(
    ctx: &mut Ctx,
    sid: i64,
    tree: &mut DataTree,
    tracker: &mut DigestTracker,
    zxid: i64,
    entry: &Bytes,
) {
    match txnlog::decode_entry(entry) {
        Ok((txn, _)) if txn.hdr.zxid == zxid => {
            tracker.apply(tree, &txn, &mut Vec::new());
            ctx.check.applied(sid, zxid, entry, tracker.value());
        }
        Ok((txn, _)) => ctx.check.fail(format!(
            "member {sid}: entry of 0x{:x} applied as 0x{zxid:x}",
            txn.hdr.zxid
        )),
        Err(e) => ctx
            .check
            .fail(format!("member {sid}: txn 0x{zxid:x} does not decode: {e}")),
    }
}

fn fle_config(sid: i64, view: &QuorumMaj) -> FleConfig {
    let mut cfg = FleConfig::new(sid, view.clone());
    // Java's 60 s backoff cap would make a healed partition take minutes of virtual time.
    cfg.max_notification_interval = Duration::from_millis(3200);
    cfg
}
