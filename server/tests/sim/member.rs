//! One ensemble member: the real election (`election::fle`), the real ZAB leader and learner
//! state machines (`zab::leader`, `zab::learner`) and the real request pipeline
//! (`server/src/pipeline`) over the data tree, glued together the way
//! `server/src/peer/`, `server/src/shell.rs`, `server/src/database/` and the quorum crate's shells
//! (`leader_net`, `learner_net`, `db::execute`) glue them, over the simulated disk and
//! network.
//!
//! ```text
//! Looking ──Decided(LEADING)──▶ Leading ──LostQuorum / db error / crash──▶ Looking
//!    └─────Decided(FOLLOWING)─▶ Following ──reset / timeout / protocol error──┘
//!                                (every role change reloads the database from disk and
//!                                 gives the member a new, idle pipeline)
//! ```
//!
//! Between the pipeline and the leader state machine run two FIFO queues, as the real
//! shell's two channels do: `to_leader` (proposals, syncs handed back, revalidation
//! answers: the leader's control channel) and `to_pipeline` (commits, learners' requests,
//! touches: the leader's events). The durability rules of the shells are kept: a leader
//! counts its own ACK only once its log sync completes (`Leader::logged`); a learner's
//! packets go out only after every txn logged before them is synced (one sync per batch of
//! actions). Syncs take virtual time.

use crate::cluster::{Ctx, Event};
use crate::disk::{Disk, ENOSPC};
use crate::net::ConnId;
use bytes::{Bytes, BytesMut};
use jute::quorum::QuorumPacket;
use jute::Zxid;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;
use zk_quorum::election::{self, Election, FleConfig, Notification, Outcome, ServerState};
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::{self, Leader, LeaderConfig, LearnerMessage, COMMIT_LOG_COUNT};
use zk_quorum::zab::learner::{self, Learner, LearnerConfig, LearnerKind, PersistedState};
use zk_quorum::zab::packet::{self, encode_packet, SNAP, SNAP_SIGNATURE};
use zk_server::auth::AuthId;
use zk_server::config::Config;
use zk_server::database::snap_loader::SnapLoader;
use zk_server::persist::digest::{digest_of, touched_paths, DigestTracker};
use zk_server::persist::{snapshot, txnlog};
use zk_server::pipeline::{Input, Mode, Now, Output, Pipeline};
use zk_server::tree::DataTree;
use zk_server::txn::Txn;

/// `tickTime` of the simulated ensemble (ms); `initLimit` 10, `syncLimit` 5.
pub const TICK_TIME_MS: u64 = 100;
const INIT_LIMIT: u32 = 10;
const SYNC_LIMIT: u32 = 5;
/// Java's `LeaderConnector` retry delay.
const CONNECT_RETRY_MS: u64 = 100;
/// The wall clock at virtual time 0 (what txn times, mtimes and session ids are made of).
const WALL_BASE_MS: i64 = 1_760_000_000_000;

pub struct Leading {
    pub leader: Leader,
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
    /// The learner's tree until it serves; then the pipeline's.
    tree: Option<DataTree>,
    pub serving: bool,
    loading: Option<SnapLoader>,
    inbox: BytesMut,
    last_heard_ms: u64,
    /// Give up connecting at this time (`tickTime * initLimit`).
    connect_deadline_ms: u64,
    /// When the packets released last go out (they leave in order), and how many
    /// releases are scheduled and not done (nothing may overtake them).
    out_ready_ms: u64,
    releases_pending: usize,
    /// The pipeline's packets for the leader, held until the learner is synced
    /// (`learner_net`'s `held_back`).
    held_back: Vec<Bytes>,
}

pub enum Role {
    Down,
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

/// What the pipeline side of the leader's shell is told (the leader's event channel).
enum ToPipeline {
    Input(Input),
    /// A committed txn to apply (leader: `Input::Durable`; learner: `Input::Committed`).
    Apply {
        zxid: i64,
        entry: Bytes,
    },
    /// The leader is established: serve from (epoch, 0).
    StartLeading {
        epoch: i64,
    },
    /// A learner's forwarded sync, handed back to the leader behind the proposals of what
    /// it forwarded before.
    HandBackSync {
        from: ConnId,
    },
}

/// What the leader state machine is told by the pipeline (the leader's control channel).
enum ToLeader {
    Propose {
        zxid: i64,
        entry: Bytes,
    },
    Sync {
        from: ConnId,
    },
    Revalidated {
        to: ConnId,
        session: i64,
        valid: bool,
    },
}

pub struct Member {
    pub sid: i64,
    view: QuorumMaj,
    /// Bumped at every crash and role change: events scheduled for an older one are stale.
    pub gen: u64,
    /// Bumped at every crash: an fsync issued before one never completes, while one issued
    /// before a mere role change does.
    life: u64,
    pub disk: Disk,
    election: Election,
    pub role: Role,
    pipeline: Pipeline,
    /// The digest of the serving tree (the pipeline's), kept up to date across applies.
    digest: DigestTracker,
    to_pipeline: VecDeque<ToPipeline>,
    to_leader: VecDeque<ToLeader>,
    ticks: u64,
}

fn encode(p: &QuorumPacket) -> Bytes {
    let mut b = BytesMut::new();
    encode_packet(p, &mut b);
    b.freeze()
}

fn pipeline_config(sid: i64) -> Config {
    Config {
        my_id: Some(sid as u64),
        tick_time_ms: TICK_TIME_MS as u32,
        min_session_timeout_ms: 2 * TICK_TIME_MS as u32,
        max_session_timeout_ms: 20 * TICK_TIME_MS as u32,
        extended_types_enabled: true,
        // Snapshots every few txns, so that restarts load a snapshot and the log after it.
        snap_count: 16,
        // Containers and expired TTL nodes are reaped within the runs' few seconds.
        container_check_interval_ms: 200,
        ..Config::default()
    }
}

impl Member {
    pub fn new(sid: i64, view: QuorumMaj) -> Member {
        let pipeline = idle_pipeline(sid, &view, Now::default(), 0);
        Member {
            sid,
            election: Election::new(fle_config(sid, &view)),
            view,
            gen: 0,
            life: 0,
            disk: Disk::default(),
            role: Role::Down,
            pipeline,
            digest: DigestTracker::with_value(0),
            to_pipeline: VecDeque::new(),
            to_leader: VecDeque::new(),
            ticks: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        !matches!(self.role, Role::Down)
    }

    /// The tree the member serves clients from, and its digest.
    pub fn serving_tree(&self) -> Option<(&DataTree, i64)> {
        let serving = match &self.role {
            Role::Leading(l) => l.established,
            Role::Following(f) => f.serving,
            _ => false,
        };
        serving.then(|| (&self.pipeline.tree, self.digest.value()))
    }

    /// The epoch this member leads, once established.
    pub fn established_epoch(&self) -> Option<i64> {
        match &self.role {
            Role::Leading(l) if l.established => Some(l.leader.epoch()),
            _ => None,
        }
    }

    /// Whether the member is a leader (established or not).
    pub fn is_leading(&self) -> bool {
        matches!(self.role, Role::Leading(_))
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
        self.life += 1;
        ctx.reset_all(self.sid);
        ctx.close_clients_of(self.sid);
        self.disk.crash(&mut ctx.rng);
        self.to_pipeline.clear();
        self.to_leader.clear();
        self.role = Role::Down;
    }

    /// Go back to leader election: close every connection, reload the database from disk
    /// (as `peer::run` does at each round), take a new idle pipeline and start a
    /// round.
    fn look(&mut self, ctx: &mut Ctx, why: &str) {
        ctx.trace(format!("{} LOOKING: {why}", self.sid));
        self.gen += 1;
        ctx.reset_all(self.sid);
        self.to_pipeline.clear();
        self.to_leader.clear();
        self.pipeline.close_all();
        self.pipeline_outputs(ctx);
        self.pipeline = idle_pipeline(self.sid, &self.view, now(ctx), ctx.rng.next_u64());
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
        let acts = self.election.start(
            ctx.instant(),
            Zxid::from_i64(zxid),
            self.disk.current_epoch(),
        );
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
                // The simulation runs without reconfigEnabled.
                election::Action::NewConfig(_) => {}
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

    fn persisted(&self, last_zxid: i64) -> PersistedState {
        PersistedState {
            accepted_epoch: self.disk.accepted_epoch(),
            current_epoch: self.disk.current_epoch(),
            last_zxid: Zxid::from_i64(last_zxid),
        }
    }

    // ---- leading ----

    fn lead(&mut self, ctx: &mut Ctx) {
        let loaded = match self.disk.load() {
            Ok(l) => l,
            Err(e) => return ctx.check.fail(format!("member {}: {e}", self.sid)),
        };
        let state = self.persisted(loaded.tree.last_zxid);
        ctx.trace(format!(
            "{} LEADING from 0x{:x} (accepted {}, current {})",
            self.sid,
            state.last_zxid.as_i64(),
            state.accepted_epoch,
            state.current_epoch
        ));
        let committed = self.disk.recent(state.last_zxid.as_i64(), COMMIT_LOG_COUNT);
        let mut cfg = LeaderConfig::new(self.sid, self.view.clone());
        cfg.tick_time = Duration::from_millis(TICK_TIME_MS);
        cfg.init_limit = INIT_LIMIT;
        cfg.sync_limit = SYNC_LIMIT;
        let mut leader = Leader::new(
            cfg,
            state,
            committed
                .into_iter()
                .map(|(z, e)| (Zxid::from_i64(z), e))
                .collect(),
            ctx.instant(),
        );
        let acts = leader.start(ctx.instant());
        // Idle until established, but holding the tree: learners synced by SNAP get it.
        self.digest = loaded.tracker;
        self.pipeline
            .load(now(ctx), loaded.tree, self.digest.value());
        self.role = Role::Leading(Box::new(Leading {
            leader,
            established: false,
            inbox: BTreeMap::new(),
            disk_ready_ms: ctx.now_ms,
        }));
        self.run_leader(ctx, acts);
        self.process(ctx);
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

    /// Carry out the leader's actions in order (`leader_net`'s actor).
    fn run_leader(&mut self, ctx: &mut Ctx, mut acts: Vec<leader::Action>) {
        in_channel_order(&mut acts);
        for a in acts {
            let Role::Leading(l) = &mut self.role else {
                return;
            };
            match a {
                leader::Action::Send { to, packet } => ctx.send(to, false, encode(&packet)),
                leader::Action::Snapshot { to, zxid } => {
                    // `LeadDb::snapshot_stream`: the pipeline first takes every commit
                    // announced before (they are in its queue), then its tree is copied.
                    self.drain_pipeline(ctx);
                    let mut b = BytesMut::from(&encode(&packet::packet(SNAP, zxid))[..]);
                    let mut file = Vec::new();
                    snapshot::serialize(&self.pipeline.tree, zxid.as_i64(), false, &mut file)
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
                } => ctx.trace(format!("{} synced {sid} by {kind:?} at {zxid}", self.sid)),
                // The simulated members run without reconfig.
                leader::Action::Activated { .. } => {}
                leader::Action::Established { epoch, zxid } => {
                    ctx.trace(format!("{} ESTABLISHED epoch {epoch} ({zxid})", self.sid));
                    l.established = true;
                    self.election.update_peer_epoch(epoch);
                    ctx.check
                        .established(self.sid, epoch, self.pipeline.tree.last_zxid);
                    self.to_pipeline
                        .push_back(ToPipeline::StartLeading { epoch });
                }
                leader::Action::Log { zxid, entry } => {
                    if let Err(e) = self.disk.append(zxid.as_i64(), entry) {
                        return self.look(ctx, &format!("leader's database error: {e}"));
                    }
                    let done = l.disk_ready_ms.max(ctx.now_ms) + ctx.fsync_ms();
                    l.disk_ready_ms = done;
                    let ev = Event::LeaderLogged {
                        sid: self.sid,
                        gen: self.gen,
                        life: self.life,
                        upto: self.disk.appended(),
                        zxid: zxid.as_i64(),
                    };
                    ctx.at(done, ev);
                }
                leader::Action::Apply { zxid, entry } => {
                    if ctx.verbose {
                        let mut b = entry.clone();
                        if let Ok(h) = <jute::txn::TxnHeader as jute::Decode>::decode(&mut b) {
                            ctx.trace(format!(
                                "{} commits {zxid}: session 0x{:x} cxid {} type {}",
                                self.sid, h.client_id, h.cxid, h.r#type
                            ));
                        }
                    }
                    ctx.check.committed(self.sid, zxid.as_i64(), &entry);
                    self.to_pipeline.push_back(ToPipeline::Apply {
                        zxid: zxid.as_i64(),
                        entry,
                    });
                }
                leader::Action::FromLearner(m) => self.to_pipeline.push_back(match m {
                    LearnerMessage::Sync { from, .. } => ToPipeline::HandBackSync { from },
                    m => ToPipeline::Input(
                        Input::from_learner(m).expect("only a sync has no pipeline input"),
                    ),
                }),
                leader::Action::LostQuorum { reason } => {
                    return self.look(ctx, &format!("leadership lost: {reason}"));
                }
            }
        }
    }

    pub fn on_leader_logged(&mut self, ctx: &mut Ctx, gen: u64, life: u64, upto: u64, zxid: i64) {
        if life == self.life {
            self.disk.synced_to(upto);
        }
        if gen != self.gen {
            return;
        }
        if let Role::Leading(l) = &mut self.role {
            let acts = l.leader.logged(Zxid::from_i64(zxid));
            self.run_leader(ctx, acts);
            self.process(ctx);
        }
    }

    fn leader_work(&mut self, ctx: &mut Ctx, w: ToLeader) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        let acts = match w {
            ToLeader::Propose { zxid, entry } => {
                if l.leader.next_zxid().as_i64() != zxid {
                    return ctx.check.fail(format!(
                        "member {}: the pipeline numbered a txn 0x{zxid:x} but the leader's next zxid is 0x{:x}",
                        self.sid,
                        l.leader.next_zxid().as_i64()
                    ));
                }
                match l.leader.propose(entry) {
                    Ok(acts) => acts,
                    Err(e) => {
                        return ctx
                            .check
                            .fail(format!("member {}: proposal refused: {e}", self.sid))
                    }
                }
            }
            ToLeader::Sync { from } => l.leader.sync(from),
            ToLeader::Revalidated { to, session, valid } => {
                l.leader.revalidated(to, session, valid)
            }
        };
        self.run_leader(ctx, acts);
    }

    // ---- following ----

    fn follow(&mut self, ctx: &mut Ctx, leader_sid: i64) {
        let loaded = match self.disk.load() {
            Ok(l) => l,
            Err(e) => return ctx.check.fail(format!("member {}: {e}", self.sid)),
        };
        ctx.trace(format!("{} FOLLOWING {leader_sid}", self.sid));
        self.digest = loaded.tracker;
        self.role = Role::Following(Box::new(Following {
            leader_sid,
            learner: None,
            conn: None,
            tree: Some(loaded.tree),
            serving: false,
            loading: None,
            inbox: BytesMut::new(),
            last_heard_ms: ctx.now_ms,
            connect_deadline_ms: ctx.now_ms + TICK_TIME_MS * INIT_LIMIT as u64,
            out_ready_ms: ctx.now_ms,
            releases_pending: 0,
            held_back: Vec::new(),
        }));
        self.connect(ctx);
    }

    /// Connect to the leader and say FOLLOWERINFO (`learner_net::follow_leader`).
    pub fn connect(&mut self, ctx: &mut Ctx) {
        let last_zxid = match &self.role {
            Role::Following(f) if f.conn.is_none() => f.tree.as_ref().map_or(0, |t| t.last_zxid),
            _ => return,
        };
        let state = self.persisted(last_zxid);
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let Some(conn) = ctx.open(self.sid, f.leader_sid) else {
            return self.connect_failed(ctx);
        };
        let cfg = LearnerConfig {
            sid: self.sid,
            kind: if self.view.is_observer(self.sid) {
                LearnerKind::Observer
            } else {
                LearnerKind::Follower
            },
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

    /// Carry out the learner's actions in order against the database (`db::execute`).
    fn run_learner(&mut self, ctx: &mut Ctx, acts: Vec<learner::Action>) {
        let sid = self.sid;
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let mut logged = false;
        let mut epoch_after_sync = None;
        let mut packets = Vec::new();
        for a in acts {
            let r: Result<(), String> = match a {
                learner::Action::Send(p) => {
                    packets.push(encode(&p));
                    Ok(())
                }
                learner::Action::SetAcceptedEpoch(e) => self.disk.set_accepted_epoch(e),
                // db::execute: the txns logged before it are synced first, so the new
                // epoch is written when that sync completes.
                learner::Action::SetCurrentEpoch(e) if logged => {
                    epoch_after_sync = Some(e);
                    Ok(())
                }
                learner::Action::SetCurrentEpoch(e) => self.disk.set_current_epoch(e),
                learner::Action::SyncStarted { mode, zxid } => {
                    ctx.trace(format!("{sid} sync {mode:?} {zxid}"));
                    Ok(())
                }
                learner::Action::Truncate { zxid } => {
                    self.disk.truncate_after(zxid.as_i64());
                    match self.disk.load() {
                        Ok(l) if l.tree.last_zxid == zxid.as_i64() => {
                            ctx.check.state(
                                sid,
                                zxid.as_i64(),
                                l.tracker.value(),
                                "truncating its log",
                            );
                            f.tree = Some(l.tree);
                            self.digest = l.tracker;
                            Ok(())
                        }
                        // The disk cannot go back to `zxid`: what it had up to there was
                        // only in a snapshot past it (a learner that took a snapshot of a
                        // SNAP sync whose leader never established). The learner database
                        // fails the same way and the session ends; the next sync, from an
                        // empty disk, is a SNAP.
                        Ok(l) => {
                            let why = format!(
                                "truncated to {zxid} but the tree is at 0x{:x}",
                                l.tree.last_zxid
                            );
                            return self.look(ctx, &why);
                        }
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
                    Some(l) => l.finish(zxid.as_i64()).map(|tree| {
                        self.digest = DigestTracker::new(&tree);
                        f.tree = Some(tree);
                        ctx.check.state(
                            sid,
                            zxid.as_i64(),
                            self.digest.value(),
                            "a leader's snapshot",
                        );
                    }),
                    None => Err("snapshot end outside a snapshot".into()),
                },
                learner::Action::TakeSnapshot { .. } => match &f.tree {
                    Some(t) => self.disk.snapshot(t),
                    // Serving: the pipeline takes the snapshots.
                    None => Ok(()),
                },
                learner::Action::Log { zxid, entry } => {
                    logged = true;
                    self.disk.append(zxid.as_i64(), entry)
                }
                learner::Action::Apply { zxid, entry } => {
                    match f.tree.as_mut() {
                        // Syncing: into the learner's own tree.
                        Some(tree) => {
                            apply(ctx, sid, tree, &mut self.digest, zxid.as_i64(), &entry)
                        }
                        None => self.to_pipeline.push_back(ToPipeline::Apply {
                            zxid: zxid.as_i64(),
                            entry,
                        }),
                    }
                    Ok(())
                }
                learner::Action::LeaderConfig(_) | learner::Action::Activate { .. } => Ok(()),
                learner::Action::StartServing { epoch } => match f.tree.take() {
                    Some(tree) => {
                        ctx.trace(format!("{sid} serving at 0x{:x}", tree.last_zxid));
                        f.serving = true;
                        self.election.update_peer_epoch(epoch);
                        self.pipeline.load(now(ctx), tree, self.digest.value());
                        self.pipeline
                            .start_following(if self.view.is_observer(sid) {
                                Mode::Observer
                            } else {
                                Mode::Follower
                            });
                        Ok(())
                    }
                    None => Err("serving twice".into()),
                },
                learner::Action::Revalidated { session_id, valid } => {
                    self.to_pipeline
                        .push_back(ToPipeline::Input(Input::Revalidated {
                            session: session_id,
                            valid,
                        }));
                    Ok(())
                }
                learner::Action::Synced => {
                    self.to_pipeline.push_back(ToPipeline::Input(Input::Synced));
                    Ok(())
                }
                // Our leaders' DIFFs never skip txns (only a Java 3.9.3 leader's do,
                // ZOOKEEPER-4925): a gap here is a bug of the leader.
                learner::Action::WantSnap => Err("the leader's DIFF skipped txns".into()),
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
        if f.learner
            .as_ref()
            .is_some_and(|l| l.phase() == learner::Phase::Broadcast)
        {
            packets.append(&mut f.held_back);
        }
        // db::execute: one sync for the batch, before its packets leave.
        let sync = logged.then(|| (ctx.fsync_ms(), epoch_after_sync));
        self.send_to_leader(ctx, packets, sync);
    }

    /// Send packets to the leader after everything sent before them, and after a log sync
    /// covering every entry appended so far when `sync` says how long it takes (and which
    /// currentEpoch to write once it is done).
    fn send_to_leader(
        &mut self,
        ctx: &mut Ctx,
        packets: Vec<Bytes>,
        sync: Option<(u64, Option<i64>)>,
    ) {
        let (fsync_ms, epoch) = sync.unwrap_or((0, None));
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let Some(conn) = f.conn else {
            return;
        };
        let ready = f.out_ready_ms.max(ctx.now_ms) + fsync_ms;
        f.out_ready_ms = ready;
        if sync.is_none() && ready == ctx.now_ms && f.releases_pending == 0 {
            for p in packets {
                ctx.send(conn, true, p);
            }
        } else if sync.is_some() || !packets.is_empty() {
            f.releases_pending += 1;
            let ev = Event::LearnerRelease {
                sid: self.sid,
                gen: self.gen,
                life: self.life,
                conn,
                upto: if sync.is_some() {
                    self.disk.appended()
                } else {
                    0
                },
                epoch,
                packets,
            };
            ctx.at(ready, ev);
        }
    }

    /// A packet from the pipeline to the leader (REQUEST, REVALIDATE): held back until the
    /// learner is synced.
    fn forward(&mut self, ctx: &mut Ctx, p: QuorumPacket) {
        let Role::Following(f) = &mut self.role else {
            return;
        };
        let synced = f
            .learner
            .as_ref()
            .is_some_and(|l| l.phase() == learner::Phase::Broadcast);
        if synced {
            self.send_to_leader(ctx, vec![encode(&p)], None);
        } else {
            f.held_back.push(encode(&p));
        }
    }

    pub fn on_learner_release(
        &mut self,
        ctx: &mut Ctx,
        (gen, life): (u64, u64),
        conn: ConnId,
        (upto, epoch): (u64, Option<i64>),
        packets: Vec<Bytes>,
    ) {
        // The sync and the epoch write complete unless the process died meanwhile.
        let mut written = Ok(());
        if life == self.life {
            self.disk.synced_to(upto);
            if let Some(e) = epoch {
                written = self.disk.set_current_epoch(e);
            }
        }
        if gen != self.gen {
            return;
        }
        if let Err(e) = written {
            return self.look(ctx, &format!("learner's database error: {e}"));
        }
        if let Role::Following(f) = &mut self.role {
            f.releases_pending -= 1;
        }
        for p in packets {
            ctx.send(conn, true, p);
        }
    }

    // ---- the pipeline ----

    /// Run the queued work of the pipeline and the leader until none is left, then send
    /// the replies (the shell's `step`s, then its `flush`).
    fn process(&mut self, ctx: &mut Ctx) {
        loop {
            if let Some(w) = self.to_leader.pop_front() {
                self.leader_work(ctx, w);
            } else if let Some(w) = self.to_pipeline.pop_front() {
                self.pipeline_work(ctx, w);
            } else {
                break;
            }
        }
        if self.is_up() {
            self.pipeline.flush_replies();
            self.pipeline_outputs(ctx);
        }
    }

    /// Only the pipeline's queue (what it has been told comes before what it is asked).
    fn drain_pipeline(&mut self, ctx: &mut Ctx) {
        while let Some(w) = self.to_pipeline.pop_front() {
            self.pipeline_work(ctx, w);
        }
    }

    fn pipeline_work(&mut self, ctx: &mut Ctx, w: ToPipeline) {
        match w {
            ToPipeline::Input(input) => self.pipeline.handle(now(ctx), input),
            ToPipeline::Apply { zxid, entry } => self.pipeline_apply(ctx, zxid, entry),
            ToPipeline::StartLeading { epoch } => {
                self.pipeline
                    .start_leading(now(ctx), Zxid::new(epoch, 0).as_i64());
                let z = self.pipeline.tree.last_zxid;
                ctx.check
                    .state(self.sid, z, self.digest.value(), "establishing");
            }
            ToPipeline::HandBackSync { from } => {
                self.to_leader.push_back(ToLeader::Sync { from });
            }
        }
        self.pipeline_outputs(ctx);
    }

    /// Hand a committed txn to the pipeline (leader: `Durable`; learner: `Committed`) and
    /// check the tree it leaves.
    fn pipeline_apply(&mut self, ctx: &mut Ctx, zxid: i64, entry: Bytes) {
        let (txn, leader_digest) = match txnlog::decode_entry(&entry) {
            Ok(t) => t,
            Err(e) => {
                return ctx.check.fail(format!(
                    "member {}: txn 0x{zxid:x} does not decode: {e}",
                    self.sid
                ))
            }
        };
        let paths = touched_paths(&self.pipeline.tree, &txn);
        let mut digest = self.digest.value();
        for p in &paths {
            digest = digest.wrapping_sub(digest_of(&self.pipeline.tree, p));
        }
        let logged_digest = leader_digest.as_ref().map(|d| d.tree_digest);
        let input = if self.is_leading() {
            Input::Durable { zxid }
        } else {
            Input::Committed {
                txn,
                leader_digest: leader_digest.map(|d| d.tree_digest),
            }
        };
        self.pipeline.handle(now(ctx), input);
        for p in &paths {
            digest = digest.wrapping_add(digest_of(&self.pipeline.tree, p));
        }
        self.digest = DigestTracker::with_value(digest);
        let at = self.pipeline.tree.last_zxid;
        if at != zxid {
            return ctx.check.fail(format!(
                "member {}: the pipeline applied 0x{zxid:x} but its tree is at 0x{at:x}",
                self.sid
            ));
        }
        ctx.check
            .applied(self.sid, zxid, &entry, digest, logged_digest);
    }

    /// Carry out the pipeline's outputs in order (`Shell::carry_out`).
    fn pipeline_outputs(&mut self, ctx: &mut Ctx) {
        let mut outputs = self.pipeline.take_outputs();
        // Outputs for different client connections may come in `HashMap` order (closing
        // every connection, watch events): each connection's own order is what counts,
        // and a seed must replay the same run.
        outputs.sort_by_key(|o| match o {
            Output::Send { conn, .. } | Output::Close { conn } => *conn,
            _ => 0,
        });
        for o in outputs {
            match o {
                Output::Send { conn, bytes } => ctx.send_to_client(conn, bytes),
                Output::Close { conn } => ctx.close_client(conn),
                Output::Log { zxid, entry } => {
                    self.to_leader.push_back(ToLeader::Propose { zxid, entry })
                }
                Output::RollLog
                | Output::FourLetterReply { .. }
                | Output::AdminReply { .. }
                | Output::Audit(_)
                | Output::ResetObserverStats => {}
                Output::Snapshot { tree } => {
                    ctx.trace(format!("{} snapshot at 0x{:x}", self.sid, tree.last_zxid));
                    if let Err(e) = self.disk.snapshot(&tree) {
                        ctx.trace(format!("{} snapshot not written: {e}", self.sid));
                    }
                    self.to_pipeline
                        .push_back(ToPipeline::Input(Input::SnapshotDone { took_ms: 1 }));
                }
                Output::Forward {
                    session,
                    cxid,
                    op,
                    body,
                    auth,
                } => {
                    let ids = auth.iter().map(AuthId::to_wire).collect();
                    self.forward(ctx, packet::request(session, cxid, op, &body, ids));
                }
                Output::Touch {
                    session,
                    timeout_ms,
                } => {
                    if let Role::Following(f) = &mut self.role {
                        if let Some(l) = f.learner.as_mut() {
                            l.touch(session, timeout_ms);
                        }
                    }
                }
                Output::Revalidate {
                    session,
                    timeout_ms,
                } => self.forward(ctx, packet::revalidate_request(session, timeout_ms)),
                Output::RevalidateAnswer {
                    from,
                    session,
                    valid,
                } => self.to_leader.push_back(ToLeader::Revalidated {
                    to: from,
                    session,
                    valid,
                }),
            }
        }
    }

    /// A client's connection reached us with its handshake.
    pub fn on_client_open(&mut self, ctx: &mut Ctx, conn: ConnId, client: usize, frame: Bytes) {
        let addr = SocketAddr::from(([10, 0, 0, (client % 250) as u8 + 1], 40000));
        self.to_pipeline
            .push_back(ToPipeline::Input(Input::Connect {
                conn,
                addr,
                frame,
                flow: None,
                tls_ids: Vec::new(),
            }));
        self.process(ctx);
    }

    pub fn on_client_frame(&mut self, ctx: &mut Ctx, conn: ConnId, frame: Bytes) {
        self.to_pipeline
            .push_back(ToPipeline::Input(Input::Requests {
                conn,
                frames: vec![frame],
            }));
        self.process(ctx);
    }

    pub fn on_client_closed(&mut self, ctx: &mut Ctx, conn: ConnId) {
        self.to_pipeline
            .push_back(ToPipeline::Input(Input::Closed { conn }));
        self.process(ctx);
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
                    return self.look(ctx, &format!("protocol error from the leader: {e}"));
                }
            }
            _ => return,
        }
        self.process(ctx);
    }

    /// The connection `conn` was reset (by the other end, a partition or a crash).
    pub fn on_reset(&mut self, ctx: &mut Ctx, conn: ConnId) {
        if let Role::Leading(l) = &mut self.role {
            if l.inbox.remove(&conn).is_some() {
                l.leader.disconnected(conn);
            }
            return;
        }
        if matches!(&self.role, Role::Following(f) if f.conn == Some(conn)) {
            self.look(ctx, "the connection to the leader was reset");
        }
    }

    pub fn on_tick(&mut self, ctx: &mut Ctx) {
        self.ticks += 1;
        match &mut self.role {
            Role::Down => return,
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
                        return self.look(ctx, "the leader is silent");
                    }
                }
            }
        }
        // The pipeline's housekeeping, a few times per tick.
        if self.ticks.is_multiple_of(3) && self.is_up() {
            self.to_pipeline.push_back(ToPipeline::Input(Input::Tick));
        }
        self.process(ctx);
    }
}

/// The leader sends to its learners in `HashMap` order in places (PINGs): sort each run of
/// consecutive sends by connection (stable, so each connection keeps its order), so that a
/// seed replays the same run. Sends to different connections are independent.
fn in_channel_order(acts: &mut [leader::Action]) {
    let is_send = |a: &leader::Action| matches!(a, leader::Action::Send { .. });
    let to = |a: &leader::Action| match a {
        leader::Action::Send { to, .. } => *to,
        _ => 0,
    };
    let mut start = 0;
    while start < acts.len() {
        if !is_send(&acts[start]) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < acts.len() && is_send(&acts[end]) {
            end += 1;
        }
        acts[start..end].sort_by_key(to);
        start = end;
    }
}

fn now(ctx: &Ctx) -> Now {
    Now {
        mono_ms: ctx.now_ms as i64,
        wall_ms: WALL_BASE_MS + ctx.now_ms as i64,
    }
}

fn idle_pipeline(sid: i64, view: &QuorumMaj, now: Now, seed: u64) -> Pipeline {
    let role = if view.is_observer(sid) {
        "observer"
    } else {
        "follower"
    };
    Pipeline::new(pipeline_config(sid), Mode::Idle(role), now, seed)
}

/// Apply a committed txn to a learner's tree while it syncs, and report it to the checker.
fn apply(
    ctx: &mut Ctx,
    sid: i64,
    tree: &mut DataTree,
    tracker: &mut DigestTracker,
    zxid: i64,
    entry: &Bytes,
) {
    match txnlog::decode_entry(entry) {
        Ok((txn, logged)) if txn.hdr.zxid == zxid => {
            let txn: Txn = txn;
            tracker.apply(tree, &txn, &mut Vec::new());
            let logged = logged.map(|d| d.tree_digest);
            ctx.check.applied(sid, zxid, entry, tracker.value(), logged);
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
