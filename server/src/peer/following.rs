//! FOLLOWING and OBSERVING (Java's `Follower.followLeader` / `Observer.observeLeader`): the
//! learner (zk-quorum's `follow_leader`) runs in its own task over a [`LearnerDatabase`],
//! which logs proposals (fsynced before they are ACKed) and holds the tree during sync
//! (DIFF / TRUNC / SNAP, snapshot at NEWLEADER, epoch files).
//!
//! At UPTODATE the tree moves to the request pipeline, which serves clients from then on:
//! reads locally; writes, createSession / closeSession and sync forwarded to the leader as
//! REQUEST packets (the shell's `Upstream::Learner`); committed txns applied through the
//! normal apply path, answering our waiting clients. Session activity goes into the
//! learner's PING replies; reconnecting sessions are revalidated. When the session with
//! the leader ends, every client connection is closed and the database goes back to the
//! peer loop.

use super::observer_master::{self, ObserverMaster, SyncOwner};
use super::role::{adopts, learner_config, reconfig_ends_learning};
use super::{adopt_config, init_config_in_tree, resolve};
use crate::config::Config;
use crate::database::leader::SnapRequest;
use crate::database::learner::{LearnerDatabase, LearnerEvent};
use crate::database::{Database, Epochs};
use crate::pipeline::{Input, Mode};
use crate::shell::{self, Shell, ToPipeline, Upstream};
use crate::tree::DataTree;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_quorum::election::net::ElectionHandle;
use zk_quorum::transport::Security;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::LearnerMessage;
use zk_quorum::zab::leader_net::Event;
use zk_quorum::zab::learner::LearnerKind;
use zk_quorum::zab::learner_net::{control_channel, follow_leader_over, LearnerHandle, NetError};
use zk_quorum::zab::packet;

/// The pause after a session with the leader ended on a database (disk) error.
const DISK_RETRY: Duration = Duration::from_secs(1);

/// What a follower or an observer needs from the peer loop.
pub struct Learning<'a> {
    pub cfg: &'a Config,
    pub view: &'a mut QuorumMaj,
    pub my_id: i64,
    pub leader: i64,
    /// An observer's learner master other than the leader: `(sid, host:port)` of a
    /// voter's `observerMasterPort`.
    pub master: Option<(i64, String)>,
    /// How the election says we learn.
    pub kind: LearnerKind,
    /// How the pipeline serves once synced (`Follower` or `Observer`, as configured).
    pub mode: Mode,
    pub election: &'a ElectionHandle,
    /// Moves the client listener when a reconfig changes our client address.
    pub client_port: &'a crate::net::ClientPort,
    /// Plaintext or TLS to the leader's quorum port (`sslQuorum`), and quorum SASL.
    pub security: &'a Security,
}

/// The pipeline input for a learner event other than `Serve` and `Ended`.
fn as_input(ev: LearnerEvent) -> Option<Input> {
    match ev {
        LearnerEvent::Commit {
            txn, leader_digest, ..
        } => Some(Input::Committed { txn, leader_digest }),
        LearnerEvent::Revalidated { session, valid } => Some(Input::Revalidated { session, valid }),
        LearnerEvent::Synced => Some(Input::Synced),
        LearnerEvent::Serve { .. }
        | LearnerEvent::Ended(_)
        | LearnerEvent::LeaderConfig(_)
        | LearnerEvent::Activate(_) => None,
    }
}

/// Follow (or observe) `leader` until the session with it ends, serving clients through
/// `shell` once synced (its connections are closed at the end); returns the database,
/// `None` if the learner task died with it (the caller opens it again from disk), the
/// leader to go to without an election when a committed reconfig ended the session
/// (Java's `reconfigFlag`: our role changed, or the leader left and designated another),
/// and the tree the pipeline served.
pub async fn follow(
    l: Learning<'_>,
    db: Database,
    epochs: Epochs,
    shell: &mut Shell,
    rx: &mut mpsc::Receiver<ToPipeline>,
) -> (Option<Database>, Option<i64>, Option<DataTree>) {
    let (master_id, master_addr) = match &l.master {
        Some((sid, addr)) => (*sid, Some(addr.clone())),
        None => (l.leader, l.view.server(l.leader).map(|s| s.quorum_addr())),
    };
    let resolved = match master_addr {
        Some(a) => resolve(&a).await,
        None => None,
    };
    let Some(leader_addr) = resolved else {
        warn!("no quorum address for the learner master {master_id}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        return (Some(db), None, None);
    };
    let lcfg = learner_config(l.cfg, l.view, l.my_id, l.kind);
    let snap_dir = db.snap_dir().to_path_buf();
    let snapshot_options = db.options().snapshot.clone();
    let (ev_tx, mut events) = mpsc::unbounded_channel::<LearnerEvent>();
    let (handle, mut control) = control_channel();
    let security = l.security.clone();
    let learner = tokio::spawn(async move {
        let mut ldb = LearnerDatabase::new(db, epochs, ev_tx);
        let followed = follow_leader_over(leader_addr, &security, lcfg, &mut ldb, &mut control);
        let (why, disk) = match followed.await {
            Ok(exit) => (format!("{exit:?}"), false),
            Err(e @ NetError::Db(_)) => (e.to_string(), true),
            Err(e) => (e.to_string(), false),
        };
        if disk {
            // A full or failing disk: nothing was acknowledged that was not written. Say
            // so loudly, and do not spin through election and sync while it lasts.
            error!("cannot follow: {why}; trying again in {DISK_RETRY:?}");
        }
        let _ = ldb.events().send(LearnerEvent::Ended(why));
        if disk {
            tokio::time::sleep(DISK_RETRY).await;
        }
        ldb.into_parts().0
    });
    let leader = master_id;
    let role = l.mode.name();
    // A follower's observer master, once synced (observerMasterPort).
    let mut om: Option<ObserverMaster> = None;
    // The leader the last COMMITANDACTIVATE / INFORMANDACTIVATE designated, and whether
    // its config ended this session.
    let mut designated: Option<i64> = None;
    let mut handover: Option<i64> = None;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(LearnerEvent::Serve { tree, digest, epoch, digest_check }) => {
                    l.election.update_peer_epoch(epoch);
                    let last_zxid = tree.last_zxid;
                    info!(
                        "synced with leader {leader} (epoch {epoch}) at zxid 0x{last_zxid:x}: serving as {role}",
                    );
                    shell.pipeline.load(shell::now(), *tree, digest);
                    shell.pipeline.check_digests(*digest_check);
                    if l.cfg.reconfig_enabled {
                        // processReconfig at UPTODATE → initConfigInZKDatabase.
                        init_config_in_tree(shell, l.view);
                    }
                    shell.write_snapshots_to(snap_dir.clone(), snapshot_options.clone());
                    shell.upstream = Upstream::Learner(handle.clone());
                    // An observer's is its learner master (Java's setLeaderAddressAndId).
                    shell.pipeline.leader_id = Some(master_id);
                    shell.pipeline.start_following(l.mode);
                    if l.kind == LearnerKind::Follower {
                        om = observer_master::start(
                            l.cfg, l.view, l.my_id, epoch, last_zxid, l.security,
                        )
                        .await;
                        shell.pipeline.observer_master = om.is_some();
                    }
                }
                Some(LearnerEvent::LeaderConfig(text)) => {
                    match QuorumMaj::parse_java_string(&String::from_utf8_lossy(&text)) {
                        Ok(next) if adopts(l.cfg, l.view, &next) => {
                            let ends = reconfig_ends_learning(l.kind, &next, l.my_id, l.leader);
                            adopt_config(l.cfg, l.my_id, l.view, next, l.election, l.client_port);
                            if shell.pipeline.mode.is_serving() && ends {
                                // processReconfig's "major change": our role or our
                                // leader changed; the next role, under the new config,
                                // starts with the designated leader.
                                warn!("the reconfig changed this server's role or its leader's");
                                handover = designated;
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => warn!("the leader's quorum config is not valid: {e}"),
                    }
                }
                Some(LearnerEvent::Activate(leader)) => {
                    if leader != l.leader {
                        // Java's QuorumPeer.updateVote wording.
                        warn!("Suggested leader: {leader}");
                    }
                    designated = Some(leader);
                }
                Some(LearnerEvent::Ended(why)) => {
                    warn!("the session with leader {leader} ended: {why}");
                    break;
                }
                Some(LearnerEvent::Commit { txn, leader_digest, entry, activate }) => {
                    shell.step(ToPipeline::Input(Input::Committed { txn, leader_digest }));
                    // Applied first: a SNAP copy for an observer holds every relayed txn.
                    observer_master::relay_commit(&om, &entry, activate);
                }
                Some(LearnerEvent::Synced) if om.is_some() => {
                    let o = om.as_mut().expect("checked");
                    o.relay.local_syncs(shell.forwarded_syncs);
                    match o.relay.synced() {
                        SyncOwner::Local => shell.step(ToPipeline::Input(Input::Synced)),
                        SyncOwner::Observer(conn) => o.handle.sync(conn),
                    }
                }
                Some(LearnerEvent::Revalidated { session, valid }) if om.is_some() => {
                    let o = om.as_mut().expect("checked");
                    match o.relay.revalidated(session) {
                        Some(conn) => o.handle.revalidated(conn, session, valid),
                        None => shell.step(ToPipeline::Input(Input::Revalidated { session, valid })),
                    }
                }
                Some(ev) => {
                    if let Some(input) = as_input(ev) {
                        shell.step(ToPipeline::Input(input));
                    }
                }
                None => break,
            },
            input = observer_master_input(&mut om) => match input {
                OmInput::Event(ev) => on_observer_master_event(&mut om, ev, shell, &handle),
                OmInput::Snap(req) => {
                    let _ = req.reply.send(shell.pipeline.tree.snapshot_copy());
                }
                OmInput::Gone => {
                    warn!("the observer master stopped");
                    om = None;
                }
            },
            Some(m) = rx.recv() => shell.step(m),
        }
        shell.flush();
    }
    drop(om);
    // We may leave while the session with the leader is still up (a reconfig changed our
    // role): end it.
    handle.shutdown();
    let db = learner.await.ok();
    shell.close_all();
    (db, handover, Some(served_tree(shell)))
}

/// The tree the pipeline served (the database keeps it for the next election when the
/// disk vouches for it), leaving an empty one.
pub(crate) fn served_tree(shell: &mut Shell) -> DataTree {
    let empty = DataTree::new(shell.pipeline.tree.extended_types());
    std::mem::replace(&mut shell.pipeline.tree, empty)
}

enum OmInput {
    Event(Event),
    Snap(SnapRequest),
    Gone,
}

/// The next thing the observer master asks of the follower (never, without one).
async fn observer_master_input(om: &mut Option<ObserverMaster>) -> OmInput {
    let Some(o) = om else {
        return std::future::pending().await;
    };
    tokio::select! {
        e = o.events.recv() => e.map_or(OmInput::Gone, OmInput::Event),
        s = o.snapshots.recv() => s.map_or(OmInput::Gone, OmInput::Snap),
    }
}

/// An observer master's event: its observers' requests, syncs, revalidations and session
/// touches go on to the leader through our learner (Java's `ObserverMaster` hands them to
/// the `FollowerZooKeeperServer`); its observers are shown by `observers` / `mntr`.
fn on_observer_master_event(
    om: &mut Option<ObserverMaster>,
    ev: Event,
    shell: &mut Shell,
    learner: &LearnerHandle,
) {
    let Some(o) = om else { return };
    match ev {
        Event::FromLearner(LearnerMessage::Request {
            session_id,
            cxid,
            op,
            body,
            authinfo,
            ..
        }) => learner.send(packet::request(session_id, cxid, op, &body, authinfo)),
        Event::FromLearner(LearnerMessage::Sync {
            from,
            session_id,
            cxid,
            body,
        }) => {
            o.relay.local_syncs(shell.forwarded_syncs);
            o.relay.observer_sync(from);
            let op = jute::OpCode::Sync.code();
            learner.send(packet::request(session_id, cxid, op, &body, Vec::new()));
        }
        Event::FromLearner(LearnerMessage::Touch {
            session_id,
            timeout,
        }) => learner.touch(session_id, timeout),
        Event::FromLearner(LearnerMessage::Revalidate {
            from,
            session_id,
            timeout,
        }) => {
            o.relay.observer_revalidate(from, session_id);
            learner.send(packet::revalidate_request(session_id, timeout));
        }
        Event::Learners(report) => shell.pipeline.learners = report,
        Event::Synced { sid, kind, zxid } => {
            info!("observer {sid} synchronised by {kind:?} at 0x{zxid:x}")
        }
        // An observer master proposes nothing, so no reconfig of its own activates.
        Event::Established { .. } | Event::Committed { .. } | Event::Activated { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_events_become_pipeline_inputs() {
        let txn = crate::txn::Txn {
            hdr: jute::txn::TxnHeader {
                client_id: 9,
                cxid: 1,
                zxid: 7,
                time: 0,
                r#type: jute::ops::CLOSE_SESSION,
            },
            body: crate::txn::TxnBody::CloseSession(None),
        };
        assert!(matches!(
            as_input(LearnerEvent::Commit { txn: txn.clone(), leader_digest: Some(5), entry: bytes::Bytes::new(), activate: None }),
            Some(Input::Committed { txn: t, leader_digest: Some(5) }) if t == txn
        ));
        assert!(matches!(
            as_input(LearnerEvent::Revalidated {
                session: 9,
                valid: true
            }),
            Some(Input::Revalidated {
                session: 9,
                valid: true
            })
        ));
        assert!(matches!(
            as_input(LearnerEvent::Synced),
            Some(Input::Synced)
        ));
        assert!(as_input(LearnerEvent::Ended("x".into())).is_none());
    }
}
