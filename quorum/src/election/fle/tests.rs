//! Unit tests of the election state machine: single-step rules, then whole ensembles in a
//! simulated network (virtual clock, per-link FIFO delivery in seeded random orders, servers
//! that are down or start late).

use super::*;
use crate::verifier::{Hierarchy, QuorumMaj, QuorumServer};
use std::collections::BTreeMap;

/// A zxid from its number.
fn z(v: i64) -> Zxid {
    Zxid::from(v)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn view(voters: &[i64], observers: &[i64]) -> QuorumMaj {
    let mut servers = Vec::new();
    for &sid in voters {
        servers.push(
            QuorumServer::parse(sid, &format!("127.0.0.1:{}:{}", 1000 + sid, 2000 + sid)).unwrap(),
        );
    }
    for &sid in observers {
        servers.push(
            QuorumServer::parse(
                sid,
                &format!("127.0.0.1:{}:{}:observer", 1000 + sid, 2000 + sid),
            )
            .unwrap(),
        );
    }
    QuorumMaj::new(servers, 0)
}

fn election(my: i64, voters: &[i64], observers: &[i64]) -> Election {
    Election::new(FleConfig::new(my, view(voters, observers)))
}

fn looking(leader: i64, zxid: i64, round: i64, peer_epoch: i64) -> Notification {
    Notification::new(
        ServerState::Looking,
        leader,
        zxid,
        round,
        peer_epoch,
        Bytes::new(),
    )
}

fn with_state(
    state: ServerState,
    leader: i64,
    zxid: i64,
    round: i64,
    peer_epoch: i64,
) -> Notification {
    Notification::new(state, leader, zxid, round, peer_epoch, Bytes::new())
}

fn sends(actions: &[Action]) -> Vec<(i64, Notification)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, notification } => Some((*to, notification.clone())),
            _ => None,
        })
        .collect()
}

fn decided(actions: &[Action]) -> Option<Outcome> {
    actions.iter().find_map(|a| match a {
        Action::Decided(o) => Some(*o),
        _ => None,
    })
}

// ---------------------------------------------------------------- single steps

#[test]
fn start_proposes_itself_to_every_other_voter() {
    let t0 = Instant::now();
    let mut e = election(2, &[1, 2, 3], &[4]);
    let out = e.start(t0, z(0x1_0000_0005), 1);
    assert_eq!(e.logical_clock(), 1);
    assert_eq!(e.proposal(), (2, z(0x1_0000_0005), 1));
    let s = sends(&out);
    assert_eq!(s.iter().map(|(to, _)| *to).collect::<Vec<_>>(), vec![1, 3]);
    for (_, n) in &s {
        assert_eq!(n.server_state(), Some(ServerState::Looking));
        assert_eq!(
            (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
            (2, 0x1_0000_0005, 1, 1)
        );
        assert_eq!(n.version, 2);
        assert_eq!(
            n.config.as_deref(),
            Some(e.config().view.to_java_string().as_bytes())
        );
    }
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)));
    assert_eq!(decided(&out), None);
}

#[test]
fn total_order_is_epoch_then_zxid_then_sid() {
    let v = view(&[1, 3, 5], &[]);
    assert!(Election::better(&v, (1, z(0), 2), (3, z(100), 1)));
    assert!(Election::better(&v, (1, z(101), 1), (3, z(100), 1)));
    assert!(Election::better(&v, (3, z(100), 1), (1, z(100), 1)));
    assert!(!Election::better(&v, (3, z(100), 1), (3, z(100), 1)));
    assert!(!Election::better(&v, (5, z(99), 1), (1, z(100), 1)));
}

#[test]
fn a_server_of_weight_zero_is_never_the_better_vote() {
    let groups = hierarchy(&[(1, &[1, 3]), (2, &[5])], &[(5, 0)]);
    let v = view(&[1, 3, 5], &[]).with_hierarchy(groups).unwrap();
    // 5 has the newest epoch, but weighs nothing: Java's totalOrderPredicate refuses it.
    assert!(!Election::better(&v, (5, z(200), 9), (1, z(100), 1)));
    assert!(Election::better(&v, (3, z(200), 9), (1, z(100), 1)));
}

fn hierarchy(groups: &[(i64, &[i64])], weights: &[(i64, i64)]) -> Hierarchy {
    Hierarchy {
        groups: groups.iter().map(|(g, s)| (*g, s.to_vec())).collect(),
        weights: weights.to_vec(),
    }
}

#[test]
fn adopts_a_better_vote_and_tells_everyone() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(10), 1);
    let out = e.receive(t0, 2, looking(2, 20, 1, 1));
    assert_eq!(e.proposal(), (2, z(20), 1));
    let s = sends(&out);
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|(_, n)| n.leader == 2 && n.zxid == 20));
    // {1 (loopback), 2} agree: finalize wait.
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)));
    // A worse vote does not change the proposal, is dropped and restarts the wait.
    let out = e.receive(t0 + ms(150), 3, looking(3, 5, 1, 1));
    assert!(sends(&out).is_empty());
    assert_eq!(e.next_deadline(), Some(t0 + ms(350)));
    assert_eq!(decided(&e.tick(t0 + ms(349))), None);
    let out = e.tick(t0 + ms(350));
    assert_eq!(
        decided(&out),
        Some(Outcome {
            state: ServerState::Following,
            vote: Vote {
                leader: 2,
                zxid: z(20),
                election_epoch: 1,
                peer_epoch: 1
            }
        })
    );
    assert_eq!(e.state(), ServerState::Following);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn better_vote_during_finalize_wait_resumes_the_election() {
    let t0 = Instant::now();
    let mut e = election(3, &[1, 2, 3], &[]);
    e.start(t0, z(10), 1);
    e.receive(t0, 1, looking(3, 10, 1, 1));
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)), "finalizing");
    let out = e.receive(t0 + ms(50), 2, looking(2, 11, 1, 1));
    assert_eq!(e.proposal(), (2, z(11), 1));
    assert_eq!(sends(&out).len(), 2);
    // Back to normal: only our own vote and 2's agree -> quorum again -> finalize again.
    assert_eq!(e.next_deadline(), Some(t0 + ms(250)));
    let out = e.tick(t0 + ms(250));
    assert_eq!(decided(&out).unwrap().vote.leader, 2);
    assert_eq!(e.state(), ServerState::Following);
}

#[test]
fn leads_when_it_is_the_best() {
    let t0 = Instant::now();
    let mut e = election(3, &[1, 2, 3], &[]);
    e.start(t0, z(7), 0);
    e.receive(t0, 2, looking(3, 7, 1, 0));
    let out = e.tick(t0 + ms(200));
    let o = decided(&out).unwrap();
    assert_eq!(o.state, ServerState::Leading);
    assert_eq!(
        o.vote,
        Vote {
            leader: 3,
            zxid: z(7),
            election_epoch: 1,
            peer_epoch: 0
        }
    );
}

#[test]
fn resend_interval_doubles_up_to_the_maximum() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(0), 0);
    let mut now = t0;
    let mut intervals = Vec::new();
    for _ in 0..12 {
        let at = e.next_deadline().unwrap();
        intervals.push((at - now).as_millis() as u64);
        now = at;
        let out = e.tick(now);
        assert_eq!(sends(&out).len(), 2, "resends to both peers");
    }
    assert_eq!(
        intervals,
        vec![200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]
    );
    // A message restarts the wait with the current interval (it does not reset it).
    e.receive(now + ms(10), 2, looking(2, 0, 1, 0));
    e.receive(now + ms(10), 3, looking(1, 0, 1, 0));
    assert_eq!(
        e.next_deadline(),
        Some(now + ms(10) + ms(200)),
        "finalize wait"
    );
}

#[test]
fn later_round_resets_to_own_vote_unless_theirs_is_better() {
    let t0 = Instant::now();
    let mut e = election(2, &[1, 2, 3, 4, 5], &[]);
    e.start(t0, z(50), 1);
    // Adopt 3's vote in round 1 (2 of 5 agree: no quorum, no finalize wait).
    e.receive(t0, 3, looking(3, 60, 1, 1));
    assert_eq!(e.proposal(), (3, z(60), 1));
    // Round 5 from 1 with a worse vote: jump to round 5 and go back to our own vote.
    let out = e.receive(t0 + ms(1), 1, looking(1, 10, 5, 1));
    assert_eq!(e.logical_clock(), 5);
    assert_eq!(e.proposal(), (2, z(50), 1));
    let s = sends(&out);
    assert!(s
        .iter()
        .all(|(_, n)| n.election_epoch == 5 && n.leader == 2));
    // Round 5 from 3 with its better vote: adopt it.
    e.receive(t0 + ms(2), 3, looking(3, 60, 5, 1));
    assert_eq!(e.proposal(), (3, z(60), 1));
    // {2, 3, 4} agree in round 5 (1's round-5 vote was for 1): a quorum.
    e.receive(t0 + ms(3), 4, looking(3, 60, 5, 1));
    let o = decided(&e.tick(t0 + ms(203))).unwrap();
    assert_eq!((o.vote.leader, o.vote.election_epoch), (3, 5));
}

#[test]
fn later_round_with_a_better_vote_adopts_it() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(5), 0);
    e.receive(t0, 2, looking(3, 9, 4, 0));
    assert_eq!(e.logical_clock(), 4);
    assert_eq!(e.proposal(), (3, z(9), 0));
}

#[test]
fn stale_round_is_answered_and_ignored() {
    let t0 = Instant::now();
    let mut e = election(2, &[1, 2, 3], &[]);
    e.start(t0, z(0), 0);
    e.receive(t0, 3, looking(3, 0, 3, 0)); // jump to round 3, adopt 3
    let out = e.receive(t0 + ms(1), 1, looking(1, 99, 1, 0));
    // Answer 1 with our proposal and our round; don't count its (better!) vote.
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    let (to, n) = &s[0];
    assert_eq!(*to, 1);
    assert_eq!((n.leader, n.zxid, n.election_epoch), (3, 0, 3));
    assert_eq!(n.server_state(), Some(ServerState::Looking));
    assert_eq!(e.proposal(), (3, z(0), 0));
}

#[test]
fn zxid_minus_one_is_ignored() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(0), 0);
    e.receive(t0, 2, looking(2, -1, 1, 0));
    assert_eq!(e.proposal(), (1, z(0), 0));
    // And with our own zxid -1, every LOOKING notification is ignored (even our own).
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(-1), 0);
    e.receive(t0, 2, looking(2, 5, 1, 0));
    e.receive(t0, 3, looking(2, 5, 1, 0));
    assert_eq!(e.proposal(), (1, z(-1), 0));
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)), "no finalize wait");
}

#[test]
fn non_voters_get_the_current_vote() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[4]);
    e.start(t0, z(0x5), 2);
    for from in [4, 77, -1] {
        let out = e.receive(t0, from, looking(from, 1000, 9, 9));
        let s = sends(&out);
        assert_eq!(s.len(), 1);
        let (to, n) = &s[0];
        assert_eq!(*to, from);
        // The vote from before the round (QuorumPeer.currentVote), our round, our state.
        assert_eq!(
            (n.leader, n.zxid, n.peer_epoch, n.election_epoch),
            (1, 5, 2, 1)
        );
        assert_eq!(n.server_state(), Some(ServerState::Looking));
    }
    assert_eq!(e.proposal(), (1, z(5), 2), "non-voters never count");
}

#[test]
fn unknown_states_and_votes_for_non_voters_are_dropped() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[4]);
    e.start(t0, z(0), 0);
    let mut n = looking(3, 50, 1, 0);
    n.state = 7;
    assert!(e.receive(t0, 3, n).is_empty());
    e.receive(t0, 2, looking(4, 50, 1, 0)); // 4 is an observer
    e.receive(t0, 2, looking(9, 50, 1, 0)); // 9 is unknown
    assert_eq!(e.proposal(), (1, z(0), 0));
}

#[test]
fn answers_looking_peers_after_the_election() {
    let t0 = Instant::now();
    let mut e = election(3, &[1, 2, 3], &[]);
    e.start(t0, z(7), 1);
    e.receive(t0, 1, looking(3, 7, 1, 1));
    e.tick(t0 + ms(200));
    assert_eq!(e.state(), ServerState::Leading);
    // A LOOKING peer in a later round gets our vote, our round and LEADING.
    let out = e.receive(t0 + ms(300), 2, looking(2, 0, 4, 0));
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    let (to, n) = &s[0];
    assert_eq!(*to, 2);
    assert_eq!(n.server_state(), Some(ServerState::Leading));
    assert_eq!(
        (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        (3, 7, 1, 1)
    );
    // Not-LOOKING peers get nothing.
    assert!(e
        .receive(t0, 1, with_state(ServerState::Following, 3, 7, 1, 1))
        .is_empty());
    // After the learner learned the new epoch, it is in the answers.
    e.update_peer_epoch(2);
    let s = sends(&e.receive(t0, 2, looking(2, 0, 4, 0)));
    assert_eq!(s[0].1.peer_epoch, 2);
}

#[test]
fn joins_an_established_ensemble() {
    let t0 = Instant::now();
    // 1 leads in round 3 and 3 follows it; 2 restarts with a better zxid than the leader's.
    let mut e = election(2, &[1, 2, 3], &[]);
    e.start(t0, z(0x1_0000_0009), 1);
    // 3 (FOLLOWING, round 3): not yet a quorum and the leader has not said it leads.
    let out = e.receive(
        t0,
        3,
        with_state(ServerState::Following, 1, 0x1_0000_0004, 3, 1),
    );
    assert_eq!(decided(&out), None);
    // 1 (LEADING, round 3): {1, 3} agree on 1, which leads: follow it.
    let out = e.receive(
        t0,
        1,
        with_state(ServerState::Leading, 1, 0x1_0000_0004, 3, 1),
    );
    let o = decided(&out).unwrap();
    assert_eq!(o.state, ServerState::Following);
    assert_eq!(
        o.vote,
        Vote {
            leader: 1,
            zxid: z(0x1_0000_0004),
            election_epoch: 3,
            peer_epoch: 1
        }
    );
    assert_eq!(e.logical_clock(), 3, "takes the ensemble's round");
}

#[test]
fn out_of_election_needs_the_leader_to_say_it_leads() {
    let t0 = Instant::now();
    let mut e = election(2, &[1, 2, 3, 4, 5], &[]);
    e.start(t0, z(0), 0);
    for from in [3, 4, 5] {
        let out = e.receive(t0, from, with_state(ServerState::Following, 1, 0, 2, 1));
        assert_eq!(
            decided(&out),
            None,
            "three followers but no word from the leader"
        );
    }
    let out = e.receive(t0, 1, with_state(ServerState::Leading, 1, 0, 2, 1));
    assert_eq!(decided(&out).unwrap().vote.leader, 1);
}

#[test]
fn out_of_election_votes_must_agree_on_the_epoch() {
    let t0 = Instant::now();
    let mut e = election(3, &[1, 2, 3], &[]);
    e.start(t0, z(0), 0);
    // 2 still reports the old epoch 1 for leader 1, the leader says epoch 2: no agreement
    // (both are version-2 votes: leader and peer epoch are compared).
    e.receive(t0, 2, with_state(ServerState::Following, 1, 0, 5, 1));
    let out = e.receive(t0, 1, with_state(ServerState::Leading, 1, 0, 5, 2));
    assert_eq!(decided(&out), None);
    let out = e.receive(t0, 2, with_state(ServerState::Following, 1, 0, 5, 2));
    assert_eq!(decided(&out).unwrap().vote.peer_epoch, 2);
}

#[test]
fn follows_in_its_own_round_when_the_votes_come_from_it() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(0), 0);
    // Same round, LEADING 3 + FOLLOWING 2 with older-format (version 0) votes.
    let mut f = with_state(ServerState::Following, 3, 0, 1, 0);
    f.version = 0;
    f.config = None;
    e.receive(t0, 2, f);
    let out = e.receive(t0, 3, with_state(ServerState::Leading, 3, 0, 1, 0));
    let o = decided(&out).unwrap();
    assert_eq!(
        (o.state, o.vote.leader, o.vote.election_epoch),
        (ServerState::Following, 3, 1)
    );
}

#[test]
fn observer_proposes_nobody_and_observes_the_leader() {
    let t0 = Instant::now();
    let mut e = election(4, &[1, 2, 3], &[4]);
    let out = e.start(t0, z(0x10), 1);
    assert_eq!(e.proposal(), (i64::MIN, z(i64::MIN), i64::MIN));
    let s = sends(&out);
    assert_eq!(
        s.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    e.receive(t0, 1, with_state(ServerState::Following, 3, 0x10, 1, 1));
    let out = e.receive(t0, 3, with_state(ServerState::Leading, 3, 0x10, 1, 1));
    let o = decided(&out).unwrap();
    assert_eq!(o.state, ServerState::Observing);
    assert_eq!(o.vote.leader, 3);
}

#[test]
fn messages_before_the_first_round_wait_for_it() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    assert!(e.receive(t0, 2, looking(2, 5, 1, 0)).is_empty());
    let out = e.start(t0, z(0), 0);
    // The backlog was read after our own notifications went out, and 2's vote is better.
    assert_eq!(e.proposal(), (2, z(5), 0));
    assert_eq!(sends(&out).len(), 4);
}

#[test]
fn a_new_round_after_leading() {
    let t0 = Instant::now();
    let mut e = election(3, &[1, 2, 3], &[]);
    e.start(t0, z(1), 1);
    e.receive(t0, 2, looking(3, 1, 1, 1));
    e.tick(t0 + ms(200));
    assert_eq!(e.state(), ServerState::Leading);
    // Lost the quorum: LOOKING again in round 2 with the new epoch.
    let out = e.start(t0 + ms(1000), z(0x2_0000_0000), 2);
    assert_eq!(e.logical_clock(), 2);
    assert_eq!(e.state(), ServerState::Looking);
    assert!(sends(&out)
        .iter()
        .all(|(_, n)| n.election_epoch == 2 && n.peer_epoch == 2));
    // Its old round-1 answers from peers are stale and ignored.
    e.receive(t0 + ms(1001), 1, looking(1, 0x9_0000_0000, 1, 9));
    assert_eq!(e.proposal(), (3, z(0x2_0000_0000), 2));
}

// ---------------------------------------------------------------- whole ensembles

/// A network of election state machines with a virtual clock.
struct Sim {
    nodes: BTreeMap<i64, Election>,
    up: BTreeSet<i64>,
    /// In flight: (from, to, message). Delivered per link in order.
    wire: Vec<(i64, i64, Notification)>,
    now: Instant,
    t0: Instant,
    outcomes: BTreeMap<i64, Outcome>,
    rng: u64,
    /// Links that drop everything (both directions are listed separately).
    cut: BTreeSet<(i64, i64)>,
}

impl Sim {
    fn new(voters: &[i64], observers: &[i64], seed: u64) -> Sim {
        let t0 = Instant::now();
        let mut nodes = BTreeMap::new();
        for &sid in voters.iter().chain(observers) {
            nodes.insert(sid, election(sid, voters, observers));
        }
        Sim {
            nodes,
            up: BTreeSet::new(),
            wire: Vec::new(),
            now: t0,
            t0,
            outcomes: BTreeMap::new(),
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            cut: BTreeSet::new(),
        }
    }

    fn random(&mut self, n: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % n as u64) as usize
    }

    fn apply(&mut self, from: i64, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, notification } => {
                    if self.cut.contains(&(from, to)) {
                        continue;
                    }
                    if !self.up.contains(&to) {
                        // Java keeps one message per peer until it connects (then also
                        // resends the last one sent).
                        self.wire.retain(|(f, t, _)| !(*f == from && *t == to));
                    }
                    self.wire.push((from, to, notification))
                }
                Action::Decided(o) => {
                    self.outcomes.insert(from, o);
                }
                Action::NewConfig(_) => panic!("the simulated ensembles never reconfigure"),
            }
        }
    }

    fn start(&mut self, sid: i64, zxid: i64, epoch: i64) {
        self.up.insert(sid);
        self.outcomes.remove(&sid);
        let now = self.now;
        let out = self.nodes.get_mut(&sid).unwrap().start(now, z(zxid), epoch);
        self.apply(sid, out);
    }

    /// Delivers one message (random link, in order on that link) or advances the clock.
    fn step(&mut self) {
        let deliverable: Vec<usize> = (0..self.wire.len())
            .filter(|i| self.up.contains(&self.wire[*i].1))
            .collect();
        if !deliverable.is_empty() {
            let pick = deliverable[self.random(deliverable.len())];
            let (from, to, _) = self.wire[pick];
            let first = self
                .wire
                .iter()
                .position(|(f, t, _)| *f == from && *t == to)
                .unwrap();
            let (from, to, n) = self.wire.remove(first);
            // A little latency per message.
            let latency = ms(self.random(3) as u64);
            self.now += latency;
            let now = self.now;
            let out = self.nodes.get_mut(&to).unwrap().receive(now, from, n);
            self.apply(to, out);
            self.tick_due();
            return;
        }
        let next = self
            .up
            .iter()
            .filter_map(|sid| self.nodes[sid].next_deadline())
            .min();
        match next {
            Some(at) => {
                self.now = self.now.max(at);
                self.tick_due();
            }
            None => self.now += ms(1000),
        }
    }

    fn tick_due(&mut self) {
        let now = self.now;
        let due: Vec<i64> = self
            .up
            .iter()
            .copied()
            .filter(|sid| matches!(self.nodes[sid].next_deadline(), Some(at) if at <= now))
            .collect();
        for sid in due {
            let out = self.nodes.get_mut(&sid).unwrap().tick(now);
            self.apply(sid, out);
        }
    }

    /// Runs until every up server decided (or the virtual time limit passes).
    fn run(&mut self, limit: Duration) {
        while self.now - self.t0 < limit {
            if self.up.iter().all(|sid| self.outcomes.contains_key(sid)) {
                return;
            }
            self.step();
        }
        panic!(
            "no decision within {limit:?}: outcomes {:?}, states {:?}",
            self.outcomes,
            self.nodes
                .iter()
                .map(|(s, e)| (*s, e.state(), e.proposal()))
                .collect::<Vec<_>>()
        );
    }

    fn leaders(&self) -> BTreeSet<i64> {
        self.outcomes.values().map(|o| o.vote.leader).collect()
    }

    fn assert_agreed(&self, leader: i64) {
        assert_eq!(
            self.leaders(),
            BTreeSet::from([leader]),
            "outcomes {:?}",
            self.outcomes
        );
        for (sid, o) in &self.outcomes {
            let expected = if *sid == leader {
                ServerState::Leading
            } else if self.nodes[sid].config().view.is_observer(*sid) {
                ServerState::Observing
            } else {
                ServerState::Following
            };
            assert_eq!(o.state, expected, "server {sid}");
        }
    }
}

fn ensemble(voters: &[i64], state: &[(i64, i64, i64)], seed: u64) -> Sim {
    let mut sim = Sim::new(voters, &[], seed);
    for &(sid, zxid, epoch) in state {
        sim.start(sid, zxid, epoch);
    }
    sim.run(Duration::from_secs(120));
    sim
}

#[test]
fn three_equal_servers_elect_the_highest_sid() {
    for seed in 0..200 {
        let sim = ensemble(&[1, 2, 3], &[(1, 0, 0), (2, 0, 0), (3, 0, 0)], seed);
        sim.assert_agreed(3);
    }
}

#[test]
fn three_servers_elect_the_highest_zxid() {
    for seed in 0..200 {
        let sim = ensemble(
            &[1, 2, 3],
            &[
                (1, 0x1_0000_0007, 1),
                (2, 0x1_0000_0003, 1),
                (3, 0x1_0000_0005, 1),
            ],
            seed,
        );
        sim.assert_agreed(1);
        assert_eq!(sim.outcomes[&2].vote.zxid, z(0x1_0000_0007));
    }
}

#[test]
fn epoch_beats_zxid() {
    for seed in 0..100 {
        let sim = ensemble(
            &[1, 2, 3],
            &[
                (1, 0x1_0000_0100, 1),
                (2, 0x2_0000_0000, 2),
                (3, 0x1_0000_0200, 1),
            ],
            seed,
        );
        sim.assert_agreed(2);
    }
}

#[test]
fn five_servers_in_random_orders() {
    let mut seed = 0;
    for case in 0..40u64 {
        // Pseudo-random (epoch, zxid) per server, with deliberate ties.
        let state: Vec<(i64, i64, i64)> = (1..=5)
            .map(|sid| {
                let epoch = ((case * 7 + sid as u64 * 3) % 3) as i64;
                let zxid = (epoch << 32) | (((case + sid as u64) % 2) as i64 * 5);
                (sid, zxid, epoch)
            })
            .collect();
        let best = state
            .iter()
            .map(|&(sid, zxid, epoch)| (epoch, zxid, sid))
            .max()
            .unwrap()
            .2;
        for _ in 0..5 {
            seed += 1;
            let sim = ensemble(&[1, 2, 3, 4, 5], &state, seed);
            sim.assert_agreed(best);
        }
    }
}

#[test]
fn a_majority_elects_without_the_others() {
    for seed in 0..100 {
        // 5 voters, 3 up: the best of the three wins (4 and 5 are down).
        let sim = ensemble(&[1, 2, 3, 4, 5], &[(1, 9, 0), (2, 3, 0), (3, 3, 0)], seed);
        sim.assert_agreed(1);
    }
}

#[test]
fn a_minority_never_decides() {
    let mut sim = Sim::new(&[1, 2, 3, 4, 5], &[], 1);
    sim.start(1, 0, 0);
    sim.start(2, 0, 0);
    for _ in 0..10_000 {
        sim.step();
    }
    assert!(sim.outcomes.is_empty());
    assert!(
        sim.now - sim.t0 > Duration::from_secs(120),
        "virtual time went on"
    );
}

#[test]
fn late_server_joins_the_established_leader() {
    for seed in 0..100 {
        // 1 and 2 elect 2; then 3 starts with the best zxid of all and must still follow 2.
        let mut sim = Sim::new(&[1, 2, 3], &[], seed);
        sim.start(1, 0x1_0000_0001, 1);
        sim.start(2, 0x1_0000_0002, 1);
        sim.run(Duration::from_secs(60));
        sim.assert_agreed(2);
        sim.start(3, 0x1_0000_0009, 1);
        sim.run(Duration::from_secs(120));
        sim.assert_agreed(2);
        assert_eq!(sim.outcomes[&3].state, ServerState::Following);
    }
}

#[test]
fn late_server_with_a_lower_round_catches_up() {
    // The established ensemble went through several rounds; the newcomer starts at round 1.
    let mut sim = Sim::new(&[1, 2, 3], &[], 7);
    sim.start(1, 0, 0);
    sim.start(2, 0, 0);
    sim.run(Duration::from_secs(60));
    for _ in 0..3 {
        sim.start(1, 0, 0);
        sim.start(2, 0, 0);
        sim.run(Duration::from_secs(60));
    }
    assert_eq!(sim.nodes[&1].logical_clock(), 4);
    sim.start(3, 0, 0);
    sim.run(Duration::from_secs(120));
    sim.assert_agreed(2);
    assert_eq!(sim.outcomes[&3].vote.election_epoch, 4);
}

#[test]
fn observers_observe_and_do_not_vote() {
    for seed in 0..100 {
        let mut sim = Sim::new(&[1, 2, 3], &[4, 5], seed);
        // The observers have the "best" zxids, which must not matter.
        sim.start(4, 0x9_0000_0000, 9);
        sim.start(5, 0x9_0000_0000, 9);
        sim.start(1, 0x1_0000_0001, 1);
        sim.start(2, 0x1_0000_0003, 1);
        sim.start(3, 0x1_0000_0002, 1);
        sim.run(Duration::from_secs(120));
        sim.assert_agreed(2);
        assert_eq!(sim.outcomes[&4].state, ServerState::Observing);
    }
}

#[test]
fn re_election_after_the_leader_dies() {
    for seed in 0..50 {
        let mut sim = Sim::new(&[1, 2, 3], &[], seed);
        for sid in [1, 2, 3] {
            sim.start(sid, 0x1_0000_0005, 1);
        }
        sim.run(Duration::from_secs(60));
        sim.assert_agreed(3);
        // 3 dies; 1 and 2 look again in a new round.
        sim.up.remove(&3);
        sim.outcomes.clear();
        sim.start(1, 0x1_0000_0005, 1);
        sim.start(2, 0x1_0000_0005, 1);
        sim.run(Duration::from_secs(120));
        sim.assert_agreed(2);
        assert_eq!(sim.outcomes[&1].vote.election_epoch, 2);
    }
}

#[test]
fn partitioned_server_rejoins() {
    let mut sim = Sim::new(&[1, 2, 3], &[], 3);
    // 3 can't reach anyone and nobody reaches 3.
    for other in [1, 2] {
        sim.cut.insert((3, other));
        sim.cut.insert((other, 3));
    }
    sim.start(1, 0, 0);
    sim.start(2, 0, 0);
    sim.start(3, 0, 0);
    for _ in 0..2000 {
        sim.step();
        if sim.outcomes.len() == 2 {
            break;
        }
    }
    assert_eq!(sim.leaders(), BTreeSet::from([2]));
    assert!(!sim.outcomes.contains_key(&3));
    // Heal: 3's next resend reaches them and their answers bring it in.
    sim.cut.clear();
    sim.run(Duration::from_secs(600));
    sim.assert_agreed(2);
}

// ---------------------------------------------------------------- reconfiguration

fn reconfig_election(my: i64, voters: &[i64]) -> Election {
    let mut cfg = FleConfig::new(my, view(voters, &[]));
    cfg.reconfig_enabled = true;
    Election::new(cfg)
}

fn config_of(n: &Notification) -> QuorumMaj {
    let text = n.config.as_ref().expect("a config");
    QuorumMaj::parse_java_string(std::str::from_utf8(text).unwrap()).unwrap()
}

#[test]
fn set_view_changes_the_voters_and_the_config_sent() {
    let t0 = Instant::now();
    let mut e = reconfig_election(1, &[1, 2, 3]);
    e.start(t0, z(5), 1);
    let newer = view(&[1, 2, 3, 4], &[]).with_version(0x1_0000_0003);
    e.set_view(newer.clone());
    // An older version does not take it back.
    e.set_view(view(&[1, 2], &[]));
    let out = e.tick(t0 + ms(1000));
    let sent = sends(&out);
    let to: Vec<i64> = sent.iter().map(|(to, _)| *to).collect();
    assert_eq!(to, vec![2, 3, 4]);
    for (_, n) in &sent {
        assert_eq!(config_of(n), newer);
    }
    // An observer or unknown sid is answered with the new config too.
    let out = e.receive(t0 + ms(1001), 9, looking(9, 0, 1, 1));
    assert_eq!(config_of(&sends(&out)[0].1).version(), 0x1_0000_0003);
}

#[test]
fn a_looking_member_adopts_a_newer_gossiped_config_and_starts_over() {
    let t0 = Instant::now();
    // Server 4 joins: it starts with the members plus itself, version 0.
    let mut e = reconfig_election(4, &[1, 2, 3, 4]);
    e.start(t0, z(0), 0);
    let committed = view(&[1, 2, 3], &[]).with_version(0x1_0000_0000);
    let mut n = with_state(ServerState::Following, 3, 0x1_0000_0005, 1, 1);
    n.config = Some(Bytes::from(committed.to_java_string()));
    let out = e.receive(t0 + ms(1), 1, n.clone());
    assert_eq!(
        out.iter()
            .filter_map(|a| match a {
                Action::NewConfig(v) => Some(v.clone()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        vec![committed.clone()]
    );
    assert!(decided(&out).is_none());
    assert_eq!(e.config().view, committed);
    assert_eq!(e.logical_clock(), 0, "a new election starts at round 0");
    assert!(e.next_deadline().is_none(), "no round until the next start");
    // The next round runs with the new view: not a voter any more, it proposes nobody and
    // tells the voters 1, 2, 3 with the new config.
    let out = e.start(t0 + ms(2), z(0), 0);
    let sent = sends(&out);
    assert_eq!(
        sent.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(config_of(&sent[0].1), committed);
    assert_eq!(sent[0].1.leader, i64::MIN);
    // The same config again changes nothing; the out-of-election votes elect 3.
    let mut out = e.receive(t0 + ms(3), 1, n.clone());
    let mut lead = with_state(ServerState::Leading, 3, 0x1_0000_0005, 1, 1);
    lead.config = n.config.clone();
    out.extend(e.receive(t0 + ms(4), 3, lead));
    assert!(!out.iter().any(|a| matches!(a, Action::NewConfig(_))));
    let o = decided(&out).expect("follows the running leader");
    assert_eq!((o.state, o.vote.leader), (ServerState::Following, 3));
}

#[test]
fn newer_configs_are_ignored_without_reconfig_or_when_not_looking() {
    let t0 = Instant::now();
    let newer = view(&[1, 2, 3], &[]).with_version(7);
    let mut n = with_state(ServerState::Leading, 3, 5, 1, 1);
    n.config = Some(Bytes::from(newer.to_java_string()));
    // reconfigEnabled=false: only logged.
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(5), 1);
    let out = e.receive(t0 + ms(1), 3, n.clone());
    assert!(!out.iter().any(|a| matches!(a, Action::NewConfig(_))));
    assert_eq!(e.config().view.version(), 0);
    // Decided (FOLLOWING): the leader will send the config; the election keeps its view.
    let mut e = reconfig_election(1, &[1, 2, 3]);
    e.start(t0, z(5), 1);
    e.receive(t0, 2, looking(3, 5, 1, 1));
    e.receive(t0, 3, looking(3, 5, 1, 1));
    let out = e.tick(t0 + ms(500));
    assert_eq!(decided(&out).map(|o| o.state), Some(ServerState::Following));
    let out = e.receive(t0 + ms(501), 2, n);
    assert!(!out.iter().any(|a| matches!(a, Action::NewConfig(_))));
    assert_eq!(e.config().view.version(), 0);
}

#[test]
fn a_hand_over_answers_with_the_designated_leader_without_a_round() {
    let t0 = Instant::now();
    let mut e = reconfig_election(2, &[1, 2, 3]);
    e.start(t0, z(5), 1);
    e.receive(t0, 1, looking(3, 5, 1, 1));
    e.receive(t0, 3, looking(3, 5, 1, 1));
    assert_eq!(
        decided(&e.tick(t0 + ms(500))).map(|o| o.vote.leader),
        Some(3)
    );
    // Server 3 left by reconfig and designated us; then server 1.
    let o = e.hand_over(2, z(9));
    assert_eq!(
        (o.state, o.vote.leader, o.vote.zxid),
        (ServerState::Leading, 2, z(9))
    );
    assert!(e.next_deadline().is_none());
    let out = e.receive(t0 + ms(600), 1, looking(1, 9, 2, 1));
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    let (to, n) = &sent[0];
    assert_eq!(
        (*to, n.server_state(), n.leader),
        (1, Some(ServerState::Leading), 2)
    );
    let o = e.hand_over(1, z(9));
    assert_eq!((o.state, o.vote.leader), (ServerState::Following, 1));
}

#[test]
fn a_worse_vote_of_our_round_is_answered_at_once() {
    let t0 = Instant::now();
    let mut e = election(2, &[1, 2, 3], &[]);
    e.start(t0, z(10), 1);
    // 1 was not looking when our notification came: it proposes itself.
    let out = e.receive(t0, 1, looking(1, 10, 1, 1));
    assert_eq!(e.proposal(), (2, z(10), 1));
    let s = sends(&out);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!((s[0].0, s[0].1.leader, s[0].1.election_epoch), (1, 2, 1));
    // An equal vote is not answered (no ping-pong), and 1 now agrees: quorum.
    let out = e.receive(t0, 1, looking(2, 10, 1, 1));
    assert!(sends(&out).is_empty());
    assert!(e.next_deadline().is_some());
}

#[test]
fn no_finalize_wait_when_every_voter_agrees() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(10), 1);
    e.receive(t0, 3, looking(3, 10, 1, 1));
    // {1, 3} agree, 2 unheard: Java's 200 ms.
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)));
    let out = e.receive(t0 + ms(5), 2, looking(3, 10, 1, 1));
    assert!(decided(&out).is_none());
    assert_eq!(e.next_deadline(), Some(t0 + ms(5)), "every voter agrees");
    assert_eq!(decided(&e.tick(t0 + ms(5))).unwrap().vote.leader, 3);
}

#[test]
fn an_unreachable_voter_does_not_hold_up_the_decision() {
    let t0 = Instant::now();
    let mut e = election(1, &[1, 2, 3], &[]);
    e.start(t0, z(10), 1);
    e.receive(t0, 2, looking(2, 10, 1, 1));
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)));
    // 3 (the leader just killed) refuses our connection: decided at once.
    let out = e.peer_unreachable(t0 + ms(1), 3);
    let o = decided(&out).unwrap();
    assert_eq!((o.state, o.vote.leader), (ServerState::Following, 2));

    // Known unreachable before the quorum: no wait either.
    let mut e = election(2, &[1, 2, 3], &[]);
    assert!(e.peer_unreachable(t0, 3).is_empty());
    e.start(t0, z(10), 1);
    e.receive(t0, 1, looking(2, 10, 1, 1));
    assert_eq!(e.next_deadline(), Some(t0));
    assert_eq!(decided(&e.tick(t0)).unwrap().state, ServerState::Leading);

    // Heard from again: back to the full wait.
    let mut e = election(1, &[1, 2, 3], &[]);
    e.peer_unreachable(t0, 3);
    e.start(t0, z(10), 1);
    e.receive(t0, 3, looking(1, 10, 1, 1));
    e.receive(t0, 2, looking(2, 10, 1, 1));
    assert_eq!(e.proposal(), (2, z(10), 1));
    // {1, 2} agree; 3's vote (for 1) is old news, it is reachable: wait.
    assert_eq!(e.next_deadline(), Some(t0 + ms(200)));
}
