//! FOLLOWING and OBSERVING (Java's `Follower.followLeader` / `Observer.observeLeader`): the
//! learner (zk-quorum's `follow_leader`) runs in its own task over a [`LearnerDatabase`],
//! which logs proposals (fsynced before they are ACKed) and holds the tree during sync
//! (DIFF / TRUNC / SNAP, snapshot at NEWLEADER, epoch files).
//!
//! At UPTODATE the tree moves to the request pipeline, which serves clients from then on:
//! reads locally; writes, createSession / closeSession and sync forwarded to the leader as
//! REQUEST packets ([`ToLeader`]); committed txns applied through the normal apply path,
//! answering our waiting clients. Session activity goes into the learner's PING replies;
//! reconnecting sessions are revalidated. When the session with the leader ends, every
//! client connection is closed and the database goes back to the peer loop.

use super::role::learner_config;
use super::{idle_core, not_serving, resolve};
use crate::auth::AuthId;
use crate::config::Config;
use crate::core::{Core, CoreMsg, Upstream};
use crate::database::learner::{LearnerDatabase, LearnerEvent};
use crate::database::{Database, Epochs};
use crate::durability::Snapshotter;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};
use zk_quorum::election::net::ElectionHandle;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::learner::LearnerKind;
use zk_quorum::zab::learner_net::{control_channel, follow_leader, LearnerHandle};
use zk_quorum::zab::packet;

/// Forwards the pipeline's requests to the leader through the learner.
struct ToLeader(LearnerHandle);

impl Upstream for ToLeader {
    fn forward(&mut self, session: i64, cxid: i32, op: i32, body: &Bytes, auth: &[AuthId]) {
        let ids = auth
            .iter()
            .map(|a| jute::data::Id {
                scheme: a.scheme.clone(),
                id: a.id.clone(),
            })
            .collect();
        self.0.send(packet::request(session, cxid, op, body, ids));
    }

    fn touch(&mut self, session: i64, timeout: i32) {
        self.0.touch(session, timeout);
    }

    fn revalidate(&mut self, session: i64, timeout: i32) {
        self.0.send(packet::revalidate_request(session, timeout));
    }
}

/// What a follower or an observer needs from the peer loop.
pub struct Learning<'a> {
    pub cfg: &'a Config,
    pub view: &'a QuorumMaj,
    pub my_id: i64,
    pub leader: i64,
    pub kind: LearnerKind,
    /// Our role's name as configured (`follower` or `observer`).
    pub role: &'static str,
    pub election: &'a ElectionHandle,
}

/// Follow (or observe) `leader` until the session with it ends; returns the database.
/// `None` if the learner task died with it (the caller opens it again from disk).
pub async fn follow(
    l: Learning<'_>,
    db: Database,
    epochs: Epochs,
    core: &mut Core,
    rx: &mut mpsc::Receiver<CoreMsg>,
) -> Option<Database> {
    let role = l.role;
    let resolved = match l.view.server(l.leader) {
        Some(s) => resolve(&s.quorum_addr()).await,
        None => None,
    };
    let Some(leader_addr) = resolved else {
        warn!("no quorum address for the elected leader {}", l.leader);
        tokio::time::sleep(Duration::from_millis(500)).await;
        return Some(db);
    };
    let lcfg = learner_config(l.cfg, l.view, l.my_id, l.kind);
    let snap_dir = db.snap_dir().to_path_buf();
    let snap_opts = db.options().snapshot.clone();
    let (ev_tx, mut events) = mpsc::unbounded_channel::<LearnerEvent>();
    let (handle, mut control) = control_channel();
    let learner = tokio::spawn(async move {
        let mut ldb = LearnerDatabase::new(db, epochs, ev_tx);
        let why = match follow_leader(leader_addr, lcfg, &mut ldb, &mut control).await {
            Ok(exit) => format!("{exit:?}"),
            Err(e) => e.to_string(),
        };
        let _ = ldb.events().send(LearnerEvent::Ended(why));
        ldb.into_parts().0
    });
    let leader = l.leader;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(LearnerEvent::Serve { tree, digest, epoch }) => {
                    l.election.update_peer_epoch(epoch);
                    info!(
                        "synced with leader {leader} (epoch {epoch}) at zxid 0x{:x}: serving as {role}",
                        tree.last_zxid
                    );
                    core.set_tree(*tree, digest);
                    core.set_snapshots(Snapshotter::new(snap_dir.clone(), snap_opts.clone()));
                    core.set_upstream(Box::new(ToLeader(handle.clone())), role);
                    core.serving = true;
                }
                Some(LearnerEvent::Commit { txn, leader_digest }) => {
                    core.leader_digest(txn.hdr.zxid, leader_digest);
                    core.apply_committed(txn)
                }
                Some(LearnerEvent::Revalidated { session, valid }) => core.revalidated(session, valid),
                Some(LearnerEvent::Synced) => core.synced(),
                Some(LearnerEvent::Ended(why)) => {
                    warn!("the session with leader {leader} ended: {why}");
                    break;
                }
                None => break,
            },
            Some(m) = rx.recv() => {
                if core.serving {
                    core.handle(m);
                } else {
                    not_serving(core, m);
                }
            }
        }
        core.flush_replies();
    }
    let db = learner.await.ok();
    core.close_all();
    *core = idle_core(l.cfg, role);
    db
}
