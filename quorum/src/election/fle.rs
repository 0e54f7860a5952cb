//! Fast Leader Election as a plain state machine (Java 3.8's `FastLeaderElection`, its
//! `WorkerReceiver`, and the bits of `QuorumPeer` they consult), with no IO and no threads.
//!
//! Feed it with [`Election::start`] (begin a round: Java's `lookForLeader`),
//! [`Election::receive`] (a notification arrived from a sid) and [`Election::tick`] (the time
//! is now; call it at [`Election::next_deadline`]); each returns [`Action`]s: notifications to
//! send to sids, and once per round the [`Outcome`].
//!
//! The rules, as Java applies them:
//!
//! * A vote is `(leader, zxid, peerEpoch)`; votes are ordered by peerEpoch, then zxid, then
//!   leader sid (`totalOrderPredicate`). Each server starts by voting for itself (observers
//!   propose nobody: `Long.MIN_VALUE`) and adopts any better vote it hears from a voter of its
//!   round, telling every voter (itself included, by loopback) each time its vote changes.
//! * The round (`logicalclock`, "electionEpoch") goes up by one per `lookForLeader`. A LOOKING
//!   notification from a later round moves us to that round, forgets the votes heard so far
//!   and restarts from our own initial vote (or the notification's, if better); one from an
//!   earlier round is ignored, but its sender is answered with our current proposal.
//! * When the LOOKING votes of our round that equal our proposal form a majority of the
//!   voters, we wait `finalizeWait` (200 ms): a better notification in that time resumes the
//!   election, worse ones are dropped (and restart the wait). Silence decides: LEADING if we
//!   are the proposed leader, else FOLLOWING (OBSERVING for an observer).
//! * Notifications from servers that already left the election (FOLLOWING / LEADING) are
//!   counted in the round's votes (same round) and in `outofelection` (any round); once a
//!   majority agree on a leader that says itself LEADING (or on us, in our round), we follow
//!   it at once. That is how a server joins an ensemble that is already running.
//! * Not LOOKING, we answer every LOOKING notification with our current vote and state;
//!   non-voters (observers, unknown sids) are always answered with the current vote.
//! * With nothing to read for `notTimeout` we send our proposal again; `notTimeout` starts at
//!   200 ms and doubles up to 60 s.
//!
//! Two departures from Java, both about time only (no message Java does not also send in
//! some run, no vote that Java would not take):
//! * The finalize wait is skipped when no better vote can still come: every voter of the
//!   view has voted for our proposal in this round or refused our last election connection
//!   after having had one ([`Election::peer_unreachable`], fed by `net.rs`; a notification
//!   or connection from it clears that; a server never reached may be starting, and is
//!   waited for as in Java). This lets the survivors of a killed leader decide at once.
//! * A LOOKING peer of our round that votes worse than our proposal is told our proposal
//!   at once (Java waits for its resend): a server that was not yet looking when our
//!   notifications came has dropped them.
//!
//! * Reconfiguration: the view (voters, observers, and the config text every notification
//!   carries) follows the member's committed config ([`Election::set_view`], Java reads
//!   `QuorumPeer.getQuorumVerifier()` each time). A LOOKING member with `reconfigEnabled`
//!   that hears a newer config adopts it and starts over with it, as a new
//!   `FastLeaderElection` (round 0, nothing heard yet): [`Action::NewConfig`]. Java's
//!   `WorkerReceiver` calls `processReconfig` and shuts the election down; `QuorumPeer.run`
//!   then starts a fresh one. A member not LOOKING ignores newer configs (it gets them from
//!   its leader).
//! * Hand-over: when a committed reconfig ends a member's role and designates a leader, the
//!   member takes its next role without a round ([`Election::hand_over`], Java's
//!   `reconfigFlag`) and answers peers with that vote.
//!
//! Not covered yet: hierarchical quorums and the oracle (`QuorumOracleMaj`), and the leader's
//! `reportLookingSid` bookkeeping.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jute::Zxid;
use tracing::{debug, info, warn};

use super::wire::{Notification, ServerState};
use crate::verifier::QuorumMaj;

/// Java's `finalizeWait` (ms).
pub const FINALIZE_WAIT: Duration = Duration::from_millis(200);
/// Java's `minNotificationInterval` default (`zookeeper.fastleader.minNotificationInterval`).
pub const MIN_NOTIFICATION_INTERVAL: Duration = Duration::from_millis(200);
/// Java's `maxNotificationInterval` default (`zookeeper.fastleader.maxNotificationInterval`).
pub const MAX_NOTIFICATION_INTERVAL: Duration = Duration::from_secs(60);

/// What an election needs to know about the ensemble.
#[derive(Debug, Clone)]
pub struct FleConfig {
    /// Our server id.
    pub my_sid: i64,
    /// The ensemble (voters, observers, and the configuration text we send).
    pub view: QuorumMaj,
    /// First resend interval (200 ms).
    pub min_notification_interval: Duration,
    /// Longest resend interval (60 s).
    pub max_notification_interval: Duration,
    /// Quiet time after reaching a quorum before deciding (200 ms).
    pub finalize_wait: Duration,
    /// `reconfigEnabled`: adopt a newer config gossiped while LOOKING.
    pub reconfig_enabled: bool,
}

impl FleConfig {
    /// Java's defaults for this server in this ensemble.
    pub fn new(my_sid: i64, view: QuorumMaj) -> FleConfig {
        FleConfig {
            my_sid,
            view,
            min_notification_interval: MIN_NOTIFICATION_INTERVAL,
            max_notification_interval: MAX_NOTIFICATION_INTERVAL,
            finalize_wait: FINALIZE_WAIT,
            reconfig_enabled: false,
        }
    }
}

/// A vote: who should lead, with the zxid and epoch that justify it, and the round it was
/// cast in (Java's `Vote` without state and version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// Proposed (or elected) leader's sid.
    pub leader: i64,
    /// Its last zxid.
    pub zxid: Zxid,
    /// The round (`logicalclock`) it belongs to; -1 before any election.
    pub election_epoch: i64,
    /// The leader's epoch.
    pub peer_epoch: i64,
}

/// The end of a round: the state to take and the vote that won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// LEADING, FOLLOWING or OBSERVING.
    pub state: ServerState,
    /// The winning vote (its `election_epoch` is the round that decided).
    pub vote: Vote,
}

/// What the election wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this notification to server `to` (never to ourselves: that loops back inside).
    Send {
        /// Recipient sid.
        to: i64,
        /// The message.
        notification: Notification,
    },
    /// The round is over.
    Decided(Outcome),
    /// A peer gossiped this newer config while we were LOOKING: the election now runs with
    /// it and has started over (no round until the next [`Election::start`]); the member
    /// adopts it (files, `/zookeeper/config`) and looks again.
    NewConfig(QuorumMaj),
}

/// A vote as kept in `recvset` / `outofelection`, with what Java's `Vote.equals` looks at.
#[derive(Debug, Clone, Copy)]
struct Ballot {
    vote: Vote,
    state: ServerState,
    version: i32,
}

impl Vote {
    /// The vote a notification carries.
    fn of(n: &Notification) -> Vote {
        Vote {
            leader: n.leader,
            zxid: n.zxid.into(),
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
        }
    }
}

impl Ballot {
    /// A LOOKING vote of the current round, as `recvset` keeps it.
    fn looking(vote: Vote) -> Ballot {
        Ballot {
            vote,
            state: ServerState::Looking,
            version: 0,
        }
    }

    /// Java's `Vote.equals`: LOOKING votes compare everything; votes of servers out of the
    /// election compare leader and peer epoch, or only the leader when one side has format
    /// version 0 and the other not (ZOOKEEPER-1732, ZOOKEEPER-1805).
    fn java_equals(&self, other: &Ballot) -> bool {
        let (a, b) = (&self.vote, &other.vote);
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            a.leader == b.leader
                && a.zxid == b.zxid
                && a.election_epoch == b.election_epoch
                && a.peer_epoch == b.peer_epoch
        } else if (self.version > 0) ^ (other.version > 0) {
            a.leader == b.leader
        } else {
            a.leader == b.leader && a.peer_epoch == b.peer_epoch
        }
    }
}

/// One `lookForLeader` in progress.
#[derive(Debug)]
struct Round {
    /// Votes of this round (LOOKING, or FOLLOWING/LEADING ones of this round).
    recvset: HashMap<i64, Ballot>,
    /// Votes of servers out of the election, any round.
    outofelection: HashMap<i64, Ballot>,
    /// Current resend interval.
    not_timeout: Duration,
    /// When to resend if nothing arrives.
    resend_at: Instant,
    /// In the finalize wait: decide at this time unless a better vote shows up.
    finalize_until: Option<Instant>,
}

/// The election state machine of one server.
#[derive(Debug)]
pub struct Election {
    cfg: FleConfig,
    config_text: Bytes,
    state: ServerState,
    /// `QuorumPeer.currentVote`: the last round's result (or our initial vote).
    current_vote: Vote,
    logical_clock: i64,
    /// (leader, zxid, peerEpoch) we currently propose.
    proposal: (i64, Zxid, i64),
    /// Our own initial vote for this round.
    init: (i64, Zxid, i64),
    started: bool,
    round: Option<Round>,
    /// Notifications passed on by the receiver while LOOKING between rounds (Java's
    /// `recvqueue` before `lookForLeader` polls it).
    backlog: VecDeque<(i64, Notification, ServerState)>,
    /// Notifications not yet through the receiver: our own loopback, and what arrived
    /// before the first round.
    inbox: VecDeque<(i64, Notification)>,
    /// A newer config heard while LOOKING, to start over with once the receiver stops.
    gossiped: Option<QuorumMaj>,
    /// Voters that refused our last election connection and sent nothing since.
    unreachable: BTreeSet<i64>,
}

impl Election {
    /// A server that has not started electing yet (state LOOKING, round 0).
    pub fn new(cfg: FleConfig) -> Election {
        let config_text = Bytes::from(cfg.view.to_java_string());
        let my = cfg.my_sid;
        Election {
            cfg,
            config_text,
            state: ServerState::Looking,
            current_vote: Vote {
                leader: my,
                zxid: Zxid::NONE,
                election_epoch: -1,
                peer_epoch: -1,
            },
            logical_clock: 0,
            proposal: (-1, Zxid::NONE, -1),
            init: (-1, Zxid::NONE, -1),
            started: false,
            round: None,
            backlog: VecDeque::new(),
            inbox: VecDeque::new(),
            gossiped: None,
            unreachable: BTreeSet::new(),
        }
    }

    /// The member adopted `view` (a committed reconfig, or the config its leader sent):
    /// from now on the voters are its voters and every notification carries its text.
    /// An older or equal version changes nothing.
    pub fn set_view(&mut self, view: QuorumMaj) {
        if view.version() <= self.cfg.view.version() {
            return;
        }
        self.config_text = Bytes::from(view.to_java_string());
        self.cfg.view = view;
    }

    /// A committed reconfig designated `leader` and the member goes to it without an
    /// election (Java's `updateVote` + `updateServerState` with `reconfigFlag`): from now on
    /// we answer as LEADING (if it is us) or learning, with the vote `(leader, zxid)` of
    /// round and epoch -1 (Java's `new Vote(id, zxid)`), until the next round.
    pub fn hand_over(&mut self, leader: i64, zxid: Zxid) -> Outcome {
        self.state = if leader == self.my_sid() {
            ServerState::Leading
        } else {
            self.learning_state()
        };
        self.current_vote = Vote {
            leader,
            zxid,
            election_epoch: -1,
            peer_epoch: -1,
        };
        self.round = None;
        self.backlog.clear();
        info!(my_sid = self.my_sid(), state = ?self.state, leader, "designated leader: no election");
        Outcome {
            state: self.state,
            vote: self.current_vote,
        }
    }

    /// The config a notification carries, if it is newer than ours and we take it now
    /// (LOOKING, reconfig enabled, parseable).
    fn newer_config(&self, from: i64, n: &Notification) -> Option<QuorumMaj> {
        let text = n.config.as_ref().filter(|t| !t.is_empty())?;
        let qv = match QuorumMaj::parse_java_string(&String::from_utf8_lossy(text)) {
            Ok(qv) => qv,
            Err(e) => {
                // Java's wording.
                warn!(from, error = %e, "Something went wrong while processing config received from {from}");
                return None;
            }
        };
        if qv.version() <= self.cfg.view.version() {
            return None;
        }
        // Java's wording: "<myid> Received version: <hex> my version: <hex>".
        info!(
            "{} Received version: {:x} my version: {:x}",
            self.my_sid(),
            qv.version(),
            self.cfg.view.version()
        );
        if self.state != ServerState::Looking || !self.cfg.reconfig_enabled {
            debug!(from, state = ?self.state, "Skip processReconfig()");
            return None;
        }
        Some(qv)
    }

    /// Ends the receiver's work after a newer config was heard: start over with it, like the
    /// new `FastLeaderElection` Java makes (`shuttingDownLE`, `startLeaderElection`).
    /// Returns whether it did.
    fn restart_if_gossiped(&mut self, out: &mut Vec<Action>) -> bool {
        let Some(view) = self.gossiped.take() else {
            return false;
        };
        info!(my_sid = self.my_sid(), "restarting leader election");
        let cfg = FleConfig {
            view: view.clone(),
            ..self.cfg.clone()
        };
        *self = Election::new(cfg);
        out.retain(|a| !matches!(a, Action::Decided(_)));
        out.push(Action::NewConfig(view));
        true
    }

    /// Our state: LOOKING during a round (and before the first), else the last outcome's.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// `QuorumPeer.currentVote`: the last outcome's vote (before that, our initial vote).
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// The current round (`logicalclock`).
    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// What we propose in the current round: `(leader, zxid, peerEpoch)`.
    pub fn proposal(&self) -> (i64, Zxid, i64) {
        self.proposal
    }

    /// The configuration this election runs with.
    pub fn config(&self) -> &FleConfig {
        &self.cfg
    }

    /// When [`Election::tick`] has something to do (resend or end of the finalize wait).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.round
            .as_ref()
            .map(|r| r.finalize_until.unwrap_or(r.resend_at))
    }

    /// `QuorumPeer.updateElectionVote`: a learner learned the new epoch after the election;
    /// the vote it answers with carries it from now on.
    pub fn update_peer_epoch(&mut self, peer_epoch: i64) {
        self.current_vote.peer_epoch = peer_epoch;
    }

    fn my_sid(&self) -> i64 {
        self.cfg.my_sid
    }

    fn is_participant(&self) -> bool {
        !self.cfg.view.is_observer(self.my_sid())
    }

    fn is_voter(&self, sid: i64) -> bool {
        self.cfg.view.is_voter(sid)
    }

    fn learning_state(&self) -> ServerState {
        if self.is_participant() {
            ServerState::Following
        } else {
            ServerState::Observing
        }
    }

    fn notification(&self, state: ServerState, vote: (i64, Zxid, i64), epoch: i64) -> Notification {
        let (leader, zxid, peer_epoch) = vote;
        Notification::new(
            state,
            leader,
            zxid.into(),
            epoch,
            peer_epoch,
            self.config_text.clone(),
        )
    }

    /// Begins a round (`lookForLeader`): we are LOOKING with our last logged zxid and current
    /// epoch (ignored for an observer, which proposes nobody).
    pub fn start(&mut self, now: Instant, last_zxid: Zxid, current_epoch: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.started {
            // QuorumPeer.startLeaderElection: the vote we answer non-voters with until the
            // first round ends.
            self.started = true;
            self.current_vote = Vote {
                leader: self.my_sid(),
                zxid: last_zxid,
                election_epoch: -1,
                peer_epoch: current_epoch,
            };
            self.drain(now, &mut out);
            if self.restart_if_gossiped(&mut out) {
                return out;
            }
        }
        self.state = ServerState::Looking;
        self.logical_clock += 1;
        let participant = self.is_participant();
        self.init = (
            if self.is_voter(self.my_sid()) {
                self.my_sid()
            } else {
                i64::MIN
            },
            // A non-participant proposes nobody: Java's Long.MIN_VALUE for each field.
            if participant {
                last_zxid
            } else {
                Zxid::from_i64(i64::MIN)
            },
            if participant { current_epoch } else { i64::MIN },
        );
        self.proposal = self.init;
        self.round = Some(Round {
            recvset: HashMap::new(),
            outofelection: HashMap::new(),
            not_timeout: self.cfg.min_notification_interval,
            resend_at: now + self.cfg.min_notification_interval,
            finalize_until: None,
        });
        info!(
            my_sid = self.my_sid(),
            round = self.logical_clock,
            zxid = %self.proposal.1,
            "new election"
        );
        self.send_notifications(&mut out);
        let backlog: Vec<_> = self.backlog.drain(..).collect();
        for (from, n, state) in backlog {
            if self.round.is_none() {
                break;
            }
            self.look_for_leader_step(now, from, &n, state, &mut out);
        }
        self.drain(now, &mut out);
        self.restart_if_gossiped(&mut out);
        out
    }

    /// Our election connection to `sid` was refused (or failed): it cannot be sending a
    /// better vote now, so a finalize wait need not wait for it.
    pub fn peer_unreachable(&mut self, now: Instant, sid: i64) -> Vec<Action> {
        self.unreachable.insert(sid);
        if let Some(round) = self.round.as_ref() {
            if round.finalize_until.is_some() && self.nothing_better_can_come() {
                self.round.as_mut().expect("checked").finalize_until = Some(now);
                return self.tick(now);
            }
        }
        Vec::new()
    }

    /// An election connection with `sid` is up.
    pub fn peer_reachable(&mut self, sid: i64) {
        self.unreachable.remove(&sid);
    }

    /// Our proposal as a LOOKING ballot of the current round.
    fn proposal_ballot(&self) -> Ballot {
        let (leader, zxid, peer_epoch) = self.proposal;
        Ballot::looking(Vote {
            leader,
            zxid,
            election_epoch: self.logical_clock,
            peer_epoch,
        })
    }

    /// Every voter has voted for our proposal in this round or is unreachable.
    fn nothing_better_can_come(&self) -> bool {
        let Some(round) = self.round.as_ref() else {
            return false;
        };
        let target = self.proposal_ballot();
        self.cfg.view.voters().iter().all(|sid| {
            self.unreachable.contains(sid)
                || matches!(round.recvset.get(sid), Some(b) if target.java_equals(b))
        })
    }

    /// The end of a finalize wait starting `now`: at once when nothing better can come.
    fn finalize_deadline(&self, now: Instant) -> Instant {
        if self.nothing_better_can_come() {
            now
        } else {
            now + self.cfg.finalize_wait
        }
    }

    /// A notification from server `from` arrived.
    pub fn receive(&mut self, now: Instant, from: i64, n: Notification) -> Vec<Action> {
        let mut out = Vec::new();
        if from != self.my_sid() {
            self.unreachable.remove(&from);
        }
        self.inbox.push_back((from, n));
        if self.started {
            self.drain(now, &mut out);
            self.restart_if_gossiped(&mut out);
        }
        out
    }

    /// Time passed: resend when nothing arrived for `notTimeout`, decide at the end of the
    /// finalize wait.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let my_sid = self.my_sid();
        let Some(round) = self.round.as_mut() else {
            return out;
        };
        if let Some(until) = round.finalize_until {
            if now >= until {
                let (leader, zxid, peer_epoch) = self.proposal;
                let vote = Vote {
                    leader,
                    zxid,
                    election_epoch: self.logical_clock,
                    peer_epoch,
                };
                self.decide(vote, &mut out);
            }
        } else if now >= round.resend_at {
            // Java resends when a queue is empty and otherwise only reconnects; the send
            // queues hold one message, so resending the same proposal is the same thing.
            round.not_timeout = (round.not_timeout * 2).min(self.cfg.max_notification_interval);
            round.resend_at = now + round.not_timeout;
            info!(
                my_sid,
                next_ms = round.not_timeout.as_millis() as u64,
                "notification time out, resending"
            );
            self.send_notifications(&mut out);
        }
        self.drain(now, &mut out);
        self.restart_if_gossiped(&mut out);
        out
    }

    /// `sendNotifications`: our proposal to every voter, ourselves included (loopback).
    fn send_notifications(&mut self, out: &mut Vec<Action>) {
        let n = self.notification(ServerState::Looking, self.proposal, self.logical_clock);
        let voters: BTreeSet<i64> = self.cfg.view.voters();
        for sid in voters {
            if sid == self.my_sid() {
                self.inbox.push_back((sid, n.clone()));
            } else {
                out.push(Action::Send {
                    to: sid,
                    notification: n.clone(),
                });
            }
        }
    }

    fn drain(&mut self, now: Instant, out: &mut Vec<Action>) {
        while self.gossiped.is_none() {
            let Some((from, n)) = self.inbox.pop_front() else {
                break;
            };
            self.worker_receiver(now, from, n, out);
        }
    }

    /// Java's `WorkerReceiver`: answers what needs answering and passes the rest on to the
    /// round (or keeps it for the next round while LOOKING).
    fn worker_receiver(&mut self, now: Instant, from: i64, n: Notification, out: &mut Vec<Action>) {
        if let Some(qv) = self.newer_config(from, &n) {
            // Java's receiver stops here: this notification is dropped with the election.
            self.gossiped = Some(qv);
            return;
        }
        if !self.is_voter(from) {
            // An observer or a server we don't know: tell it what we think.
            let v = self.current_vote;
            let reply = self.notification(
                self.state,
                (v.leader, v.zxid, v.peer_epoch),
                self.logical_clock,
            );
            self.send_to(from, reply, out);
            return;
        }
        let Some(state) = n.server_state() else {
            debug!(
                from,
                state = n.state,
                "notification with an unknown state dropped"
            );
            return;
        };
        debug!(
            my_state = ?self.state, from, ?state, leader = n.leader,
            round = n.election_epoch, peer_epoch = n.peer_epoch,
            zxid = %Zxid::from(n.zxid), "notification"
        );
        if self.state == ServerState::Looking {
            let stale_peer = state == ServerState::Looking && n.election_epoch < self.logical_clock;
            if stale_peer {
                let reply = self.notification(self.state, self.proposal, self.logical_clock);
                self.send_to(from, reply, out);
            }
            if self.round.is_some() {
                self.look_for_leader_step(now, from, &n, state, out);
            } else {
                self.backlog.push_back((from, n, state));
            }
        } else if state == ServerState::Looking {
            let v = self.current_vote;
            let reply = self.notification(
                self.state,
                (v.leader, v.zxid, v.peer_epoch),
                v.election_epoch,
            );
            self.send_to(from, reply, out);
        }
    }

    fn send_to(&mut self, to: i64, notification: Notification, out: &mut Vec<Action>) {
        if to == self.my_sid() {
            self.inbox.push_back((to, notification));
        } else {
            out.push(Action::Send { to, notification });
        }
    }

    /// `totalOrderPredicate`: is `new` a better vote than `cur`? Never for a server of
    /// weight 0 (hierarchical quorums), which may vote but not lead.
    fn better(view: &QuorumMaj, new: (i64, Zxid, i64), cur: (i64, Zxid, i64)) -> bool {
        if view.weight(new.0) == 0 {
            return false;
        }
        let (new_id, new_zxid, new_epoch) = new;
        let (cur_id, cur_zxid, cur_epoch) = cur;
        (new_epoch, new_zxid, new_id) > (cur_epoch, cur_zxid, cur_id)
    }

    /// Whether the ballots equal to `target` come from a majority of the voters.
    fn has_quorum(&self, set: &HashMap<i64, Ballot>, target: &Ballot) -> bool {
        let acks: Vec<i64> = set
            .iter()
            .filter(|(_, b)| target.java_equals(b))
            .map(|(sid, _)| *sid)
            .collect();
        self.cfg.view.contains_quorum(&acks)
    }

    /// `checkLeader`: the leader we would follow must say it leads (or be us, in our round).
    fn check_leader(&self, set: &HashMap<i64, Ballot>, leader: i64, election_epoch: i64) -> bool {
        if leader != self.my_sid() {
            matches!(set.get(&leader), Some(b) if b.state == ServerState::Leading)
        } else {
            self.logical_clock == election_epoch
        }
    }

    /// One iteration of `lookForLeader`'s loop for a notification it polled.
    fn look_for_leader_step(
        &mut self,
        now: Instant,
        from: i64,
        n: &Notification,
        state: ServerState,
        out: &mut Vec<Action>,
    ) {
        let vote_of_n = (n.leader, Zxid::from(n.zxid), n.peer_epoch);
        let proposal = self.proposal;
        if self
            .round
            .as_ref()
            .expect("a round is running")
            .finalize_until
            .is_some()
        {
            if !Self::better(&self.cfg.view, vote_of_n, proposal) {
                // Kept only to know when every voter agrees (Java drops it).
                if state == ServerState::Looking
                    && n.election_epoch == self.logical_clock
                    && vote_of_n == proposal
                    && self.is_voter(from)
                {
                    self.round
                        .as_mut()
                        .expect("checked")
                        .recvset
                        .insert(from, Ballot::looking(Vote::of(n)));
                }
                let deadline = self.finalize_deadline(now);
                self.round.as_mut().expect("checked").finalize_until = Some(deadline);
                return;
            }
            debug!(from, "better vote during the finalize wait");
            self.round.as_mut().expect("checked").finalize_until = None;
        }
        let round = self.round.as_mut().expect("a round is running");
        round.resend_at = now + round.not_timeout;
        if !(self.is_voter(from) && self.is_voter(n.leader)) {
            if !self.is_voter(n.leader) {
                warn!(from, leader = n.leader, "ignoring a vote for a non-voter");
            }
            return;
        }
        match state {
            ServerState::Looking => {
                if self.init.1 == Zxid::NONE || Zxid::from(n.zxid) == Zxid::NONE {
                    debug!(from, "ignoring a notification: zxid -1");
                    return;
                }
                if n.election_epoch > self.logical_clock {
                    self.logical_clock = n.election_epoch;
                    self.round.as_mut().unwrap().recvset.clear();
                    self.proposal = if Self::better(&self.cfg.view, vote_of_n, self.init) {
                        vote_of_n
                    } else {
                        self.init
                    };
                    self.send_notifications(out);
                } else if n.election_epoch < self.logical_clock {
                    return;
                } else if Self::better(&self.cfg.view, vote_of_n, self.proposal) {
                    self.proposal = vote_of_n;
                    self.send_notifications(out);
                } else if Self::better(&self.cfg.view, self.proposal, vote_of_n) {
                    // Not in Java: a peer of our round votes worse than we do, so our
                    // notification may have reached it before it was looking (and was
                    // dropped). Tell it now rather than at its next resend (200-400 ms);
                    // it adopts the better vote, so this cannot bounce back and forth.
                    let reply =
                        self.notification(ServerState::Looking, self.proposal, self.logical_clock);
                    self.send_to(from, reply, out);
                }
                let ballot = Ballot::looking(Vote::of(n));
                let target = self.proposal_ballot();
                let leader = target.vote.leader;
                let round = self.round.as_mut().unwrap();
                round.recvset.insert(from, ballot);
                let set = std::mem::take(&mut round.recvset);
                let quorum = self.has_quorum(&set, &target);
                self.round.as_mut().unwrap().recvset = set;
                if quorum {
                    let deadline = self.finalize_deadline(now);
                    debug!(
                        leader,
                        wait_ms = (deadline - now).as_millis() as u64,
                        "a quorum agrees; finalize wait"
                    );
                    self.round.as_mut().unwrap().finalize_until = Some(deadline);
                }
            }
            ServerState::Observing => debug!(from, "notification from an observer"),
            ServerState::Following | ServerState::Leading => {
                self.received_out_of_election(from, n, state, out);
            }
        }
    }

    /// `receivedFollowingNotification` / `receivedLeadingNotification` (without the oracle).
    fn received_out_of_election(
        &mut self,
        from: i64,
        n: &Notification,
        state: ServerState,
        out: &mut Vec<Action>,
    ) {
        let vote = Vote::of(n);
        let target = Ballot {
            vote,
            state,
            version: n.version,
        };
        if n.election_epoch == self.logical_clock {
            let round = self.round.as_mut().unwrap();
            round.recvset.insert(
                from,
                Ballot {
                    vote,
                    state,
                    version: 0,
                },
            );
            let set = std::mem::take(&mut round.recvset);
            let agreed = self.has_quorum(&set, &target)
                && self.check_leader(&set, n.leader, n.election_epoch);
            self.round.as_mut().unwrap().recvset = set;
            if agreed {
                self.decide(vote, out);
                return;
            }
        }
        let round = self.round.as_mut().unwrap();
        round.outofelection.insert(from, target);
        let set = std::mem::take(&mut round.outofelection);
        let agreed =
            self.has_quorum(&set, &target) && self.check_leader(&set, n.leader, n.election_epoch);
        self.round.as_mut().unwrap().outofelection = set;
        if agreed {
            self.logical_clock = n.election_epoch;
            self.decide(vote, out);
        }
    }

    /// Ends the round (`setPeerState` + `leaveInstance`).
    fn decide(&mut self, vote: Vote, out: &mut Vec<Action>) {
        self.state = if vote.leader == self.my_sid() {
            ServerState::Leading
        } else {
            self.learning_state()
        };
        self.current_vote = vote;
        self.round = None;
        self.backlog.clear();
        info!(
            my_sid = self.my_sid(),
            state = ?self.state,
            leader = vote.leader,
            zxid = %vote.zxid,
            round = vote.election_epoch,
            peer_epoch = vote.peer_epoch,
            "election decided"
        );
        out.push(Action::Decided(Outcome {
            state: self.state,
            vote,
        }));
    }
}

#[cfg(test)]
mod tests;
