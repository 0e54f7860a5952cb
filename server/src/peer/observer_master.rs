//! `observerMasterPort` (Java's `ObserverMaster`, `Observer.findLearnerMaster` and
//! `QuorumPeer.nextObserverMaster`): observers sync from and follow a follower instead of
//! the leader.
//!
//! The follower side: once synced, a follower with `observerMasterPort` listens on that
//! port of its quorum address and runs zk-quorum's leader shell in observer-master mode
//! over an [`ObserverMasterDatabase`]: an observer gets LEADERINFO in the follower's epoch,
//! a DIFF from the txns relayed since the master started (SNAP when it is older: Java would
//! also DIFF from the follower's own committed log), NEWLEADER and UPTODATE, then every txn
//! the follower commits as INFORM. The observers' REQUESTs, REVALIDATEs and session touches
//! go on to the leader through the follower's learner; the leader's answers to REVALIDATE
//! and SYNC come back to the follower, which hands each to whoever asked ([`Relay`]).
//!
//! The observer side: [`MasterList`], the voters at their quorum hosts and *our*
//! `observerMasterPort` (Java uses its own port for every voter), shuffled once and tried
//! in turn, one per observing session; the leader is never on it as such (its port is
//! refused, as in Java, and the observer moves on after the election delay).

use super::resolve;
use crate::config::Config;
use crate::database::leader::SnapRequest;
use crate::database::observer_master::ObserverMasterDatabase;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};
use zk_quorum::transport::Security;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::{ConnId, LeaderConfig};
use zk_quorum::zab::leader_net::{self, Event, LeaderHandle};

/// Who a SYNC from the leader answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOwner {
    /// A client of this follower (the pipeline's own forwarded sync).
    Local,
    /// An observer on this connection of the observer master.
    Observer(ConnId),
}

/// The follower's bookkeeping of what it forwarded to the leader for its observers, so
/// that the leader's answers go back to whoever asked (Java's `Follower` with its
/// `pendingSyncs` queue and `ObserverMaster.pendingRevalidations`). The leader answers
/// one learner's syncs in the order they were sent, and every forward goes out on the
/// same learner channel, so a FIFO is enough.
#[derive(Debug, Default)]
pub struct Relay {
    syncs: VecDeque<SyncOwner>,
    /// The pipeline's forwarded syncs already queued.
    local_syncs: u64,
    revalidations: HashMap<i64, VecDeque<ConnId>>,
}

impl Relay {
    /// The pipeline has forwarded `forwarded` syncs in all: queue the new ones (call
    /// before queuing an observer's and before taking an answer).
    pub fn local_syncs(&mut self, forwarded: u64) {
        while self.local_syncs < forwarded {
            self.local_syncs += 1;
            self.syncs.push_back(SyncOwner::Local);
        }
    }

    /// An observer's sync was forwarded.
    pub fn observer_sync(&mut self, from: ConnId) {
        self.syncs.push_back(SyncOwner::Observer(from));
    }

    /// The leader's SYNC: whose it is (a SYNC nobody waits for goes to the pipeline, which
    /// says so as Java's `Not expecting a sync`).
    pub fn synced(&mut self) -> SyncOwner {
        self.syncs.pop_front().unwrap_or(SyncOwner::Local)
    }

    /// An observer's REVALIDATE was forwarded.
    pub fn observer_revalidate(&mut self, from: ConnId, session: i64) {
        self.revalidations
            .entry(session)
            .or_default()
            .push_back(from);
    }

    /// The leader's answer about `session`: the observer connection that asked, if one did.
    pub fn revalidated(&mut self, session: i64) -> Option<ConnId> {
        let q = self.revalidations.get_mut(&session)?;
        let from = q.pop_front();
        if q.is_empty() {
            self.revalidations.remove(&session);
        }
        from
    }
}

/// A running observer master.
pub struct ObserverMaster {
    pub handle: LeaderHandle,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub snapshots: mpsc::UnboundedReceiver<SnapRequest>,
    pub relay: Relay,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ObserverMaster {
    fn drop(&mut self) {
        // Java's `ObserverMaster.stop`: the listener and every observer connection close.
        self.handle.shutdown();
        self.task.abort();
    }
}

/// The address a follower's observer master listens on: its quorum host and `port`.
fn listen_addr(view: &QuorumMaj, my_id: i64, port: u16) -> Option<String> {
    let me = view.server(my_id)?;
    Some(host_port(&me.host, port))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Start serving observers on `cfg.observer_master_port`, if set, for a follower synced in
/// `epoch` at `last_zxid`. `None` when off or the port cannot be bound (logged; the
/// follower goes on without it, where Java's drops its leader and elects again).
pub async fn start(
    cfg: &Config,
    view: &QuorumMaj,
    my_id: i64,
    epoch: i64,
    last_zxid: i64,
    security: &Security,
) -> Option<ObserverMaster> {
    let port = cfg.observer_master_port?;
    let addr: SocketAddr = resolve(&listen_addr(view, my_id, port)?).await?;
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot bind the observer master port {addr}: {e}");
            return None;
        }
    };
    info!("Starting ObserverMaster on {addr}");
    let mut lcfg = super::role::leader_config(cfg, view, my_id);
    lcfg.observer_master = true;
    lcfg.commit_log_count = usize::MAX;
    lcfg.commit_log_bytes = Some(cfg.observer_master_size_limit.max(0) as usize);
    Some(spawn(listener, lcfg, epoch, last_zxid, security.clone()))
}

fn spawn(
    listener: TcpListener,
    lcfg: LeaderConfig,
    epoch: i64,
    last_zxid: i64,
    security: Security,
) -> ObserverMaster {
    let (snap_tx, snapshots) = mpsc::unbounded_channel();
    let (handle, control) = leader_net::control_channel();
    let (ev_tx, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut db = ObserverMasterDatabase::new(epoch, last_zxid, snap_tx);
        match leader_net::lead_over(listener, security, lcfg, &mut db, control, ev_tx).await {
            Ok(exit) => info!("ObserverMaster stopped: {exit:?}"),
            Err(e) => warn!("ObserverMaster failed: {e}"),
        }
    });
    ObserverMaster {
        handle,
        events,
        snapshots,
        relay: Relay::default(),
        task,
    }
}

/// Relay one committed txn to the observers (`activate`: the designated leader of a
/// reconfig committed with COMMITANDACTIVATE, relayed as INFORMANDACTIVATE).
pub fn relay_commit(om: &Option<ObserverMaster>, entry: &Bytes, activate: Option<i64>) {
    if let Some(om) = om {
        om.handle.relay_commit(entry.clone(), activate);
    }
}

/// An observer's list of learner masters (Java's `QuorumPeer.observerMasters`).
#[derive(Debug, Clone)]
pub struct MasterList {
    /// `(sid, host:port)` of each voter.
    masters: Vec<(i64, String)>,
    next: usize,
}

/// The learner master an observer connects to next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    pub sid: i64,
    pub addr: String,
    /// The list started again: Java waits `observer.reconnectDelayMs` first.
    pub wrapped: bool,
}

impl MasterList {
    /// The voters of `view` at `port`, shuffled by `seed`; `None` without a port (observers
    /// then follow the leader).
    pub fn new(view: &QuorumMaj, port: Option<u16>, seed: u64) -> Option<MasterList> {
        let port = port?;
        let mut masters: Vec<(i64, String)> = view
            .servers()
            .iter()
            .filter(|s| view.is_voter(s.sid))
            .map(|s| (s.sid, host_port(&s.host, port)))
            .collect();
        if masters.is_empty() {
            return None;
        }
        // Fisher-Yates with a small LCG (Java: Collections.shuffle).
        let mut x = seed | 1;
        for i in (1..masters.len()).rev() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            masters.swap(i, ((x >> 33) % (i as u64 + 1)) as usize);
        }
        Some(MasterList { masters, next: 0 })
    }

    /// The next master in turn.
    pub fn next_master(&mut self) -> Master {
        let wrapped = self.next >= self.masters.len();
        if wrapped {
            self.next = 0;
        }
        let (sid, addr) = self.masters[self.next].clone();
        self.next += 1;
        Master { sid, addr, wrapped }
    }
}

/// A random delay below `max_ms` (Java's `waitForReconnectDelayHelper`; nothing when 0 or
/// less).
pub fn random_delay(max_ms: i64, seed: u64) -> std::time::Duration {
    if max_ms <= 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::from_millis(seed % max_ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> QuorumMaj {
        let text =
            "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/tmp/zkrs-om\nclientPort=2181\n\
                    server.1=127.0.0.11:2888:3888\nserver.2=127.0.0.12:2888:3888\n\
                    server.3=127.0.0.13:2888:3888\nserver.4=127.0.0.14:2888:3888:observer\n";
        let cfg = crate::config::parse(text).expect("a valid zoo.cfg").0;
        super::super::role::quorum_view(&cfg)
    }

    #[test]
    fn masters_are_the_voters_at_our_port_in_a_shuffled_cycle() {
        let v = view();
        assert!(MasterList::new(&v, None, 1).is_none());
        let mut l = MasterList::new(&v, Some(2191), 7).unwrap();
        let first: Vec<Master> = (0..3).map(|_| l.next_master()).collect();
        let mut sids: Vec<i64> = first.iter().map(|m| m.sid).collect();
        sids.sort();
        assert_eq!(sids, vec![1, 2, 3]);
        assert!(first.iter().all(|m| !m.wrapped));
        for m in &first {
            assert_eq!(m.addr, format!("127.0.0.1{}:2191", m.sid));
        }
        let again = l.next_master();
        assert!(again.wrapped);
        assert_eq!(again.sid, first[0].sid);
        assert!(!l.next_master().wrapped);
        // Some seed orders them differently.
        let orders: std::collections::BTreeSet<Vec<i64>> = (0..20u64)
            .map(|seed| {
                let mut l = MasterList::new(&v, Some(1), seed).unwrap();
                (0..3).map(|_| l.next_master().sid).collect()
            })
            .collect();
        assert!(orders.len() > 1, "{orders:?}");
    }

    #[test]
    fn answers_go_back_to_whoever_asked() {
        let mut r = Relay::default();
        r.local_syncs(1);
        r.observer_sync(5);
        r.local_syncs(3);
        r.local_syncs(3);
        assert_eq!(r.synced(), SyncOwner::Local);
        assert_eq!(r.synced(), SyncOwner::Observer(5));
        assert_eq!(r.synced(), SyncOwner::Local);
        assert_eq!(r.synced(), SyncOwner::Local);
        // Nobody waiting: the pipeline's to refuse.
        assert_eq!(r.synced(), SyncOwner::Local);
        r.observer_revalidate(5, 0x10);
        r.observer_revalidate(6, 0x10);
        assert_eq!(r.revalidated(0x11), None);
        assert_eq!(r.revalidated(0x10), Some(5));
        assert_eq!(r.revalidated(0x10), Some(6));
        assert_eq!(r.revalidated(0x10), None);
    }

    #[test]
    fn delays_stay_below_their_bound() {
        assert_eq!(random_delay(0, 99), std::time::Duration::ZERO);
        assert_eq!(random_delay(-5, 99), std::time::Duration::ZERO);
        assert!(random_delay(200, 12345) < std::time::Duration::from_millis(200));
    }
}
