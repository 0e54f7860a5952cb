//! The simulated world: virtual time, the event queue, the ensemble's members, the network,
//! the workload and the fault schedule, and one run of a seed.
//!
//! Everything happens as events on one queue ordered by (virtual ms, sequence number); the
//! only randomness is the seed's generator; so a seed replays exactly. A run has two phases:
//! the main phase (`steps` events) with writes and faults (crashes, leader crashes,
//! partitions, delays), then a settling phase where every fault is repaired and the
//! ensemble must converge: one leader, everyone serving the same zxid and digest, with
//! every committed txn.

use crate::check::Checker;
use crate::client::Client;
use crate::member::{Member, Role};
use crate::net::{ConnId, Net};
use crate::rng::Rng;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zk_quorum::election::Notification;
use zk_quorum::verifier::{QuorumMaj, QuorumServer};

/// How often every member's clock-driven work runs (election resends, leader pings and
/// timeouts, learner read timeouts).
const TICK_MS: u64 = 20;
/// Virtual time allowed after the faults stop for the ensemble to converge.
const SETTLE_MS: u64 = 15_000;
/// Writes keep coming for this long into the settling phase.
const SETTLE_WRITES_MS: u64 = 500;

pub enum Event {
    Tick,
    Fault,
    /// A client's next move: connect, or send its next requests.
    ClientStep {
        client: usize,
    },
    /// A client's connection reaches a member, with its handshake.
    ClientOpen {
        conn: ConnId,
        frame: Bytes,
    },
    /// A request frame reaches the member.
    ToMember {
        conn: ConnId,
        frame: Bytes,
    },
    /// Replies and events reach the client.
    ToClient {
        conn: ConnId,
        bytes: Bytes,
    },
    /// The member closed the connection (or went away): the client hears it.
    ClientDropped {
        client: usize,
        conn: ConnId,
    },
    /// The client closed the connection: the member hears it.
    ClientHungUp {
        member: i64,
        conn: ConnId,
    },
    Notification {
        from: i64,
        to: i64,
        n: Notification,
    },
    /// A learner's connection reaches the leader.
    Open {
        conn: ConnId,
    },
    /// The leader refused the connection.
    Refused {
        sid: i64,
        conn: ConnId,
    },
    Bytes {
        conn: ConnId,
        to_leader: bool,
        bytes: Bytes,
    },
    Reset {
        sid: i64,
        conn: ConnId,
    },
    /// A follower retries connecting to its leader.
    Connect {
        sid: i64,
        gen: u64,
    },
    /// A leader's log sync completed.
    LeaderLogged {
        sid: i64,
        gen: u64,
        life: u64,
        upto: u64,
        zxid: i64,
    },
    /// A learner's log sync completed: its held packets go out.
    LearnerRelease {
        sid: i64,
        gen: u64,
        life: u64,
        conn: ConnId,
        upto: u64,
        /// The currentEpoch to write once the sync is done.
        epoch: Option<i64>,
        packets: Vec<Bytes>,
    },
    Restart {
        sid: i64,
    },
    Heal,
    /// A member's full disk has space again.
    DiskSpace {
        sid: i64,
    },
}

/// Everything but the members: what a member's handlers may use.
pub struct Ctx {
    pub now_ms: u64,
    base: Instant,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    pub net: Net,
    pub check: Checker,
    pub rng: Rng,
    pub verbose: bool,
}

impl Ctx {
    /// The state machines' clock: one fixed base plus virtual time.
    pub fn instant(&self) -> Instant {
        self.base + Duration::from_millis(self.now_ms)
    }

    pub fn at(&mut self, t_ms: u64, ev: Event) {
        self.seq += 1;
        self.queue.insert((t_ms.max(self.now_ms), self.seq), ev);
    }

    pub fn trace(&self, msg: String) {
        if self.verbose {
            println!("{:>7} {msg}", self.now_ms);
        }
    }

    /// How long a log sync takes.
    pub fn fsync_ms(&mut self) -> u64 {
        if self.rng.chance(5) {
            self.rng.range(20, 80)
        } else {
            self.rng.range(1, 5)
        }
    }

    pub fn send_notification(&mut self, from: i64, to: i64, n: Notification) {
        if let Some(t) = self.net.election_arrival_ms(from, to, self.now_ms) {
            self.at(t, Event::Notification { from, to, n });
        }
    }

    /// Bytes on a quorum connection, delivered in order in a few chunks.
    pub fn send(&mut self, conn: ConnId, to_leader: bool, bytes: Bytes) {
        let Some(t) = self.net.arrival_ms(conn, to_leader, self.now_ms) else {
            return;
        };
        let mut start = 0;
        for end in self.net.chunks(bytes.len()) {
            let chunk = bytes.slice(start..end);
            start = end;
            self.at(
                t,
                Event::Bytes {
                    conn,
                    to_leader,
                    bytes: chunk,
                },
            );
        }
    }

    /// A learner connects to a leader; `None` if a partition is in the way.
    pub fn open(&mut self, learner: i64, leader: i64) -> Option<ConnId> {
        let conn = self.net.open(learner, leader)?;
        let t = self.net.arrival_ms(conn, true, self.now_ms)?;
        self.at(t, Event::Open { conn });
        Some(conn)
    }

    pub fn refuse(&mut self, conn: ConnId) {
        if let Some(c) = self.net.close(conn) {
            self.at(
                self.now_ms + 1,
                Event::Refused {
                    sid: c.learner,
                    conn,
                },
            );
        }
    }

    /// Reset a connection: both ends hear of it.
    pub fn reset(&mut self, conn: ConnId) {
        if let Some(c) = self.net.close(conn) {
            self.at(
                self.now_ms + 1,
                Event::Reset {
                    sid: c.learner,
                    conn,
                },
            );
            self.at(
                self.now_ms + 1,
                Event::Reset {
                    sid: c.leader,
                    conn,
                },
            );
        }
    }

    /// Replies from a member to a client.
    pub fn send_to_client(&mut self, conn: ConnId, bytes: Bytes) {
        if let Some(t) = self.net.client_arrival_ms(conn, false, self.now_ms) {
            self.at(t, Event::ToClient { conn, bytes });
        }
    }

    /// A member closes a client connection (after what it sent before).
    pub fn close_client(&mut self, conn: ConnId) {
        let Some(t) = self.net.client_arrival_ms(conn, false, self.now_ms) else {
            return;
        };
        if let Some(c) = self.net.close_client(conn) {
            let client = c.client;
            self.at(t, Event::ClientDropped { client, conn });
        }
    }

    /// Every client connection of a member that died.
    pub fn close_clients_of(&mut self, sid: i64) {
        for conn in self.net.clients_of(sid) {
            if let Some(c) = self.net.close_client(conn) {
                let client = c.client;
                self.at(self.now_ms + 1, Event::ClientDropped { client, conn });
            }
        }
    }

    pub fn reset_all(&mut self, sid: i64) {
        for conn in self.net.conns_of(sid) {
            self.reset(conn);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Events of the main phase (writes and faults).
    pub steps: u64,
    pub faults: bool,
    pub verbose: bool,
}

/// How the ensemble ended up once the faults stopped.
enum Converged {
    /// Every member serves the same tree, with every committed txn.
    All,
    /// As `All`, but for these members, which stay out of the ensemble the way a Java
    /// learner does when its acceptedEpoch is above the leader's epoch.
    LockedOut(Vec<i64>),
}

/// What a passing run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub committed: usize,
    /// Replies the clients checked.
    pub replies: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub virtual_ms: u64,
    pub events: u64,
    /// Runs that ended with a member locked out (see `Converged::LockedOut`).
    pub locked_out: u64,
}

pub struct Sim {
    members: Vec<Member>,
    clients: Vec<Client>,
    ctx: Ctx,
    opts: Options,
    settling: bool,
    settle_start_ms: u64,
    stats: Stats,
}

/// An ensemble of `voters` members, and `observers` more that observe.
fn view(voters: i64, observers: i64) -> QuorumMaj {
    let servers = (1..=voters + observers)
        .map(|sid| {
            let role = if sid > voters { ":observer" } else { "" };
            let line = format!("127.0.0.1:{}:{}{role}", 2000 + sid, 3000 + sid);
            QuorumServer::parse(sid, &line).expect("a valid server line")
        })
        .collect();
    QuorumMaj::new(servers, 0)
}

impl Sim {
    pub fn new(seed: u64, opts: Options) -> Sim {
        let mut rng = Rng::new(seed);
        let voters = if rng.chance(25) { 5 } else { 3 };
        let observers = if rng.chance(25) { 1 } else { 0 };
        let n = voters + observers;
        let view = view(voters, observers);
        let net = Net::new(rng.fork());
        let members = (1..=n).map(|sid| Member::new(sid, view.clone())).collect();
        let clients = (0..rng.range(2, 5) as usize)
            .map(|id| {
                let mut c = Client::new(id);
                c.verbose = opts.verbose;
                c
            })
            .collect();
        Sim {
            members,
            clients,
            ctx: Ctx {
                now_ms: 0,
                base: Instant::now(),
                queue: BTreeMap::new(),
                seq: 0,
                net,
                check: Checker::default(),
                rng,
                verbose: opts.verbose,
            },
            opts,
            settling: false,
            settle_start_ms: 0,
            stats: Stats::default(),
        }
    }

    fn member(&mut self, sid: i64) -> &mut Member {
        &mut self.members[(sid - 1) as usize]
    }

    pub fn run(mut self) -> Result<Stats, String> {
        self.ctx.trace(format!(
            "{} members, {} clients, {} steps{}",
            self.members.len(),
            self.clients.len(),
            self.opts.steps,
            if self.opts.faults { " with faults" } else { "" }
        ));
        for sid in 1..=self.members.len() as i64 {
            let t = self.ctx.rng.range(0, 300);
            self.ctx.at(t, Event::Restart { sid });
        }
        self.ctx.at(TICK_MS, Event::Tick);
        for client in 0..self.clients.len() {
            let t = self.ctx.rng.range(300, 800);
            self.ctx.at(t, Event::ClientStep { client });
        }
        if self.opts.faults {
            let t = self.ctx.rng.range(300, 1500);
            self.ctx.at(t, Event::Fault);
        }
        let mut steps = 0;
        let mut settle_end = u64::MAX;
        while let Some(((t, _), ev)) = self.ctx.queue.pop_first() {
            self.ctx.now_ms = t;
            if !self.settling && steps >= self.opts.steps {
                self.settle();
                settle_end = t + SETTLE_MS;
            }
            if t >= settle_end {
                break;
            }
            let tick = matches!(ev, Event::Tick);
            self.handle(ev);
            steps += 1;
            self.stats.events += 1;
            if let Some(f) = self.ctx.check.failure.take() {
                return Err(format!("at {t} ms: {f}"));
            }
            // Done as soon as the writes stopped and everyone caught up.
            if tick && self.settling && t > self.settle_writes_until() && self.converged().is_ok() {
                break;
            }
        }
        self.stats.virtual_ms = self.ctx.now_ms;
        if let Converged::LockedOut(sids) = self.converged()? {
            self.stats.locked_out += 1;
            self.ctx.trace(format!(
                "members {sids:?} stay out: their acceptedEpoch is above the leader's epoch"
            ));
        }
        self.stats.committed = self.ctx.check.committed_count();
        self.stats.replies = self.clients.iter().map(|c| c.replies).sum();
        Ok(self.stats)
    }

    /// Stop the faults: heal the network, restart every member that is down.
    fn settle(&mut self) {
        self.settling = true;
        self.settle_start_ms = self.ctx.now_ms;
        self.ctx.trace("SETTLE: healing everything".into());
        self.ctx.net.heal();
        for sid in 1..=self.members.len() as i64 {
            self.member(sid).disk.full = false;
            if !self.member(sid).is_up() {
                let t = self.ctx.now_ms + self.ctx.rng.range(0, 200);
                self.ctx.at(t, Event::Restart { sid });
            }
        }
    }

    /// After settling: everyone serves, at the same zxid and digest, with every committed
    /// txn.
    fn converged(&self) -> Result<Converged, String> {
        let leader_epoch = self.members.iter().find_map(|m| m.established_epoch());
        let mut states = Vec::new();
        let mut locked_out = Vec::new();
        for m in &self.members {
            let Some((tree, digest)) = m.serving_tree() else {
                // Java's learner refuses a leader whose epoch is below its acceptedEpoch
                // ("Leaders epoch, 2 is less than accepted epoch, 3") and goes back to an
                // election that elects that same leader again: it stays out until the
                // leadership changes. Not a safety violation; counted and reported.
                if leader_epoch.is_some_and(|e| m.disk.accepted_epoch() > e)
                    && matches!(m.role, Role::Following(_) | Role::Looking)
                {
                    locked_out.push(m.sid);
                    continue;
                }
                let role = match &m.role {
                    Role::Down => "down",
                    Role::Looking => "looking",
                    Role::Leading(_) => "leading, not established",
                    Role::Following(_) => "following, not synced",
                };
                return Err(format!(
                    "member {} is not serving {} ms after the faults stopped ({role})",
                    m.sid, SETTLE_MS
                ));
            };
            if let Some(s) = self.ctx.check.ephemeral_of_ended_session(tree) {
                return Err(format!(
                    "member {} still has ephemerals of the ended session 0x{s:x}",
                    m.sid
                ));
            }
            states.push((m.sid, tree.last_zxid, digest));
        }
        // A leader with no commit yet in its epoch is at (epoch, 0), its followers at the
        // last zxid of the previous one: the same tree.
        let digest = states[0].2;
        let last = self.ctx.check.last_committed();
        if states.iter().any(|s| s.2 != digest || s.1 < last) {
            return Err(format!(
                "members did not converge on the committed 0x{last:x}: (sid, zxid, digest) {states:x?}"
            ));
        }
        Ok(if locked_out.is_empty() {
            Converged::All
        } else {
            Converged::LockedOut(locked_out)
        })
    }

    fn handle(&mut self, ev: Event) {
        let ctx = &mut self.ctx;
        match ev {
            Event::Tick => {
                for m in &mut self.members {
                    m.on_tick(ctx);
                }
                ctx.at(ctx.now_ms + TICK_MS, Event::Tick);
            }
            Event::ClientStep { client } => self.client_step(client),
            Event::ClientOpen { conn, frame } => {
                if let Some(c) = ctx.net.client_conn(conn) {
                    let (client, sid) = (c.client, c.member);
                    let m = &mut self.members[(sid - 1) as usize];
                    if m.is_up() {
                        m.on_client_open(ctx, conn, client, frame);
                    } else {
                        ctx.close_client(conn);
                    }
                }
            }
            Event::ToMember { conn, frame } => {
                if let Some(c) = ctx.net.client_conn(conn) {
                    let sid = c.member;
                    self.members[(sid - 1) as usize].on_client_frame(ctx, conn, frame);
                }
            }
            Event::ToClient { conn, bytes } => {
                if let Some(c) = ctx.net.client_conn(conn) {
                    let client = c.client;
                    if !self.clients[client].receive(&bytes, &mut ctx.check) {
                        self.hang_up(client);
                    }
                }
            }
            Event::ClientDropped { client, conn } => {
                ctx.trace(format!(
                    "client {client}: connection {conn} closed by the server"
                ));
                let c = &mut self.clients[client];
                if c.conn == Some(conn) {
                    c.conn = None;
                    c.disconnected();
                }
            }
            Event::ClientHungUp { member, conn } => {
                self.members[(member - 1) as usize].on_client_closed(ctx, conn)
            }
            Event::Fault => self.fault(),
            Event::Notification { from, to, n } => {
                if ctx.net.can_talk(from, to) {
                    self.members[(to - 1) as usize].on_notification(ctx, from, n);
                }
            }
            Event::Open { conn } => {
                if let Some(c) = ctx.net.conn(conn) {
                    let leader = c.leader;
                    self.members[(leader - 1) as usize].on_open(ctx, conn);
                }
            }
            Event::Refused { sid, conn } => self.members[(sid - 1) as usize].on_refused(ctx, conn),
            Event::Bytes {
                conn,
                to_leader,
                bytes,
            } => {
                if let Some(c) = ctx.net.conn(conn) {
                    let sid = if to_leader { c.leader } else { c.learner };
                    self.members[(sid - 1) as usize].on_bytes(ctx, conn, to_leader, bytes);
                }
            }
            Event::Reset { sid, conn } => self.members[(sid - 1) as usize].on_reset(ctx, conn),
            Event::Connect { sid, gen } => {
                let m = &mut self.members[(sid - 1) as usize];
                if m.gen == gen {
                    m.connect(ctx);
                }
            }
            Event::LeaderLogged {
                sid,
                gen,
                life,
                upto,
                zxid,
            } => self.members[(sid - 1) as usize].on_leader_logged(ctx, gen, life, upto, zxid),
            Event::LearnerRelease {
                sid,
                gen,
                life,
                conn,
                upto,
                epoch,
                packets,
            } => self.members[(sid - 1) as usize].on_learner_release(
                ctx,
                (gen, life),
                conn,
                (upto, epoch),
                packets,
            ),
            Event::Restart { sid } => {
                let m = &mut self.members[(sid - 1) as usize];
                if !m.is_up() {
                    m.start(ctx);
                }
            }
            Event::Heal => {
                ctx.trace("HEAL".into());
                ctx.net.heal();
            }
            Event::DiskSpace { sid } => {
                ctx.trace(format!("{sid} disk has space again"));
                self.members[(sid - 1) as usize].disk.full = false;
            }
        }
    }

    /// A client connects to a random member, or sends its next requests; clients stop
    /// once the settling phase's writes are over.
    fn client_step(&mut self, client: usize) {
        if self.settling && self.ctx.now_ms >= self.settle_writes_until() {
            return;
        }
        let ctx = &mut self.ctx;
        let c = &mut self.clients[client];
        if c.is_idle() {
            let member = ctx.rng.range(1, self.members.len() as u64) as i64;
            let conn = ctx.net.open_client(client, member);
            ctx.trace(format!(
                "client {client} connects to {member} (conn {conn})"
            ));
            c.conn = Some(conn);
            let frame = c.connect_frame(ctx.now_ms);
            if let Some(t) = ctx.net.client_arrival_ms(conn, true, ctx.now_ms) {
                ctx.at(t, Event::ClientOpen { conn, frame });
            }
        } else if let Some(conn) = c.conn {
            for frame in c.step(&mut ctx.rng, ctx.now_ms, &ctx.check) {
                if let Some(t) = ctx.net.client_arrival_ms(conn, true, ctx.now_ms) {
                    ctx.at(t, Event::ToMember { conn, frame });
                }
            }
        }
        let t = ctx.now_ms + ctx.rng.range(1, 30);
        ctx.at(t, Event::ClientStep { client });
    }

    /// A client gives up its connection (it will connect again at its next step).
    fn hang_up(&mut self, client: usize) {
        let c = &mut self.clients[client];
        if let Some(conn) = c.conn.take() {
            if let Some(cc) = self.ctx.net.close_client(conn) {
                let member = cc.member;
                self.ctx
                    .at(self.ctx.now_ms + 1, Event::ClientHungUp { member, conn });
            }
        }
        c.disconnected();
    }

    fn settle_writes_until(&self) -> u64 {
        self.settle_start_ms + SETTLE_WRITES_MS
    }

    /// One fault, and the next one scheduled (not once settling).
    fn fault(&mut self) {
        if self.settling {
            return;
        }
        let n = self.members.len() as i64;
        let rng = &mut self.ctx.rng;
        match rng.range(0, 9) {
            // Crash a member (the leader, half the time), restart it later.
            0..=4 => {
                let leader = self
                    .members
                    .iter()
                    .find(|m| matches!(m.role, Role::Leading(_)))
                    .map(|m| m.sid);
                let sid = match leader {
                    Some(l) if rng.chance(50) => l,
                    _ => rng.range(1, n as u64) as i64,
                };
                let back = self.ctx.now_ms + self.ctx.rng.range(50, 3000);
                let m = &mut self.members[(sid - 1) as usize];
                if m.is_up() {
                    m.crash(&mut self.ctx);
                    self.stats.crashes += 1;
                    self.ctx.at(back, Event::Restart { sid });
                }
            }
            // Partition: one member alone, or a random split.
            5..=7 if !self.ctx.net.partitioned() => {
                let all: Vec<i64> = (1..=n).collect();
                let side: Vec<i64> = if rng.chance(60) {
                    vec![rng.range(1, n as u64) as i64]
                } else {
                    all.iter().copied().filter(|_| rng.chance(50)).collect()
                };
                self.ctx.trace(format!("PARTITION {side:?} from the rest"));
                for conn in self.ctx.net.partition(&side, &all) {
                    self.ctx.reset(conn);
                }
                self.stats.partitions += 1;
                let heal = self.ctx.now_ms + self.ctx.rng.range(100, 4000);
                self.ctx.at(heal, Event::Heal);
            }
            // A disk fills up for a while.
            8 => {
                let sid = rng.range(1, n as u64) as i64;
                self.ctx.trace(format!("{sid} DISK FULL"));
                self.members[(sid - 1) as usize].disk.full = true;
                let t = self.ctx.now_ms + self.ctx.rng.range(50, 2000);
                self.ctx.at(t, Event::DiskSpace { sid });
            }
            _ => {}
        }
        let next = self.ctx.now_ms + self.ctx.rng.range(100, 1000);
        self.ctx.at(next, Event::Fault);
    }
}
