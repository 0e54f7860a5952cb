//! The simulated network: quorum-port connections (learner → leader) as pairs of FIFO byte
//! streams, election messages between pairs of members (FIFO per pair, like Java's one TCP
//! connection per pair), random delays, and partitions.
//!
//! TCP's guarantees are kept and nothing more: within a connection bytes arrive in order (in
//! random chunks, so packet framing is exercised), but a connection can be reset at any time,
//! and whatever was in flight on it is lost. A partition resets every connection across it
//! and refuses new ones until it heals.
//!
//! Client connections (client → member, whole frames) are FIFO both ways too; partitions
//! only cut members from each other (clients reach every member that is up).

use crate::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};

pub type ConnId = u64;

/// One quorum connection, from a learner to a leader.
#[derive(Debug)]
pub struct Conn {
    pub learner: i64,
    pub leader: i64,
    /// Arrival time of the last byte sent in each direction (FIFO).
    last_to_leader_ms: u64,
    last_to_learner_ms: u64,
}

/// One client connection.
#[derive(Debug)]
pub struct ClientConn {
    pub client: usize,
    pub member: i64,
    last_to_member_ms: u64,
    last_to_client_ms: u64,
}

pub struct Net {
    rng: Rng,
    conns: BTreeMap<ConnId, Conn>,
    clients: BTreeMap<ConnId, ClientConn>,
    next_conn: ConnId,
    /// Unordered pairs `(low, high)` that cannot talk.
    cut: BTreeSet<(i64, i64)>,
    /// Arrival time of the last election message per (from, to).
    election_last_ms: BTreeMap<(i64, i64), u64>,
}

fn pair(a: i64, b: i64) -> (i64, i64) {
    (a.min(b), a.max(b))
}

impl Net {
    pub fn new(rng: Rng) -> Net {
        Net {
            rng,
            conns: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_conn: 1,
            cut: BTreeSet::new(),
            election_last_ms: BTreeMap::new(),
        }
    }

    /// A one-way delay: mostly a few ms, sometimes much longer.
    fn delay_ms(&mut self) -> u64 {
        if self.rng.chance(5) {
            self.rng.range(20, 150)
        } else {
            self.rng.range(1, 6)
        }
    }

    pub fn can_talk(&self, a: i64, b: i64) -> bool {
        !self.cut.contains(&pair(a, b))
    }

    /// Open a connection; `None` when a partition is in the way.
    pub fn open(&mut self, learner: i64, leader: i64) -> Option<ConnId> {
        if !self.can_talk(learner, leader) {
            return None;
        }
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                learner,
                leader,
                last_to_leader_ms: 0,
                last_to_learner_ms: 0,
            },
        );
        Some(id)
    }

    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    pub fn close(&mut self, id: ConnId) -> Option<Conn> {
        self.conns.remove(&id)
    }

    /// Open connections that `sid` is an end of.
    pub fn conns_of(&self, sid: i64) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.learner == sid || c.leader == sid)
            .map(|(id, _)| *id)
            .collect()
    }

    /// When bytes sent now on `id` towards the leader (or the learner) arrive; `None` if the
    /// connection is gone.
    pub fn arrival_ms(&mut self, id: ConnId, to_leader: bool, now_ms: u64) -> Option<u64> {
        let d = self.delay_ms();
        let c = self.conns.get_mut(&id)?;
        let last = if to_leader {
            &mut c.last_to_leader_ms
        } else {
            &mut c.last_to_learner_ms
        };
        *last = (*last).max(now_ms + d);
        Some(*last)
    }

    /// When an election message sent now from `from` to `to` arrives; `None` if cut off.
    pub fn election_arrival_ms(&mut self, from: i64, to: i64, now_ms: u64) -> Option<u64> {
        if !self.can_talk(from, to) {
            return None;
        }
        let d = self.delay_ms();
        let last = self.election_last_ms.entry((from, to)).or_insert(0);
        *last = (*last).max(now_ms + d);
        Some(*last)
    }

    /// Split the members: `side` cannot talk to anyone outside it. Returns the connections
    /// that cross the cut (the caller resets them).
    pub fn partition(&mut self, side: &[i64], all: &[i64]) -> Vec<ConnId> {
        for a in side {
            for b in all {
                if !side.contains(b) {
                    self.cut.insert(pair(*a, *b));
                }
            }
        }
        self.conns
            .iter()
            .filter(|(_, c)| !self.can_talk(c.learner, c.leader))
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn open_client(&mut self, client: usize, member: i64) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.clients.insert(
            id,
            ClientConn {
                client,
                member,
                last_to_member_ms: 0,
                last_to_client_ms: 0,
            },
        );
        id
    }

    pub fn client_conn(&self, id: ConnId) -> Option<&ClientConn> {
        self.clients.get(&id)
    }

    pub fn close_client(&mut self, id: ConnId) -> Option<ClientConn> {
        self.clients.remove(&id)
    }

    /// Client connections to `member`.
    pub fn clients_of(&self, member: i64) -> Vec<ConnId> {
        self.clients
            .iter()
            .filter(|(_, c)| c.member == member)
            .map(|(id, _)| *id)
            .collect()
    }

    /// When a frame sent now on client connection `id` arrives (at the member, or at the
    /// client); `None` if the connection is gone.
    pub fn client_arrival_ms(&mut self, id: ConnId, to_member: bool, now_ms: u64) -> Option<u64> {
        let d = if self.rng.chance(3) {
            self.rng.range(10, 60)
        } else {
            self.rng.range(0, 3)
        };
        let c = self.clients.get_mut(&id)?;
        let last = if to_member {
            &mut c.last_to_member_ms
        } else {
            &mut c.last_to_client_ms
        };
        *last = (*last).max(now_ms + d);
        Some(*last)
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn partitioned(&self) -> bool {
        !self.cut.is_empty()
    }

    /// Cut `len` bytes into a few chunks at random points.
    pub fn chunks(&mut self, len: usize) -> Vec<usize> {
        let mut cuts = Vec::new();
        if len > 1 && self.rng.chance(30) {
            for _ in 0..self.rng.range(1, 3) {
                cuts.push(self.rng.range(1, len as u64 - 1) as usize);
            }
        }
        cuts.push(len);
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}
