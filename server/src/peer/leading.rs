//! LEADING (zk-quorum's `lead`, Java's `Leader.lead`): the request pipeline keeps the tree
//! and preps writes as a standalone server does, from local clients and from the learners'
//! REQUESTs; instead of the local txn log each txn is proposed to the leader state machine
//! (the shell's `Upstream::Leader`), which logs it (through a [`LeaderDatabase`]), collects
//! a quorum of ACKs and commits; the commit applies it in the pipeline and answers the
//! waiting client. The pipeline expires sessions (kept alive by the learners' touches) and
//! reaps containers. A learner that needs a SNAP gets a copy of the pipeline's tree taken
//! in order with the commits ([`SnapRequest`]).

use super::role::{adopts, leader_config};
use super::{adopt_config, idle_shell, init_config_in_tree, resolve};
use crate::config::Config;
use crate::database::leader::{LeaderDatabase, SnapRequest};
use crate::database::{Database, Epochs};
use crate::pipeline::Input;
use crate::reconfig::Configs;
use crate::shell::{self, Shell, ToPipeline, Upstream};
use crate::tree::DataTree;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};
use zk_quorum::election::net::ElectionHandle;
use zk_quorum::transport::Security;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::LearnerMessage;
use zk_quorum::zab::leader_net::{self, Event};

/// Lead the ensemble until the leadership ends, serving clients once established; returns
/// the database (`None` if the leader task died with it: the caller opens it again) and,
/// when a committed reconfig designated another leader, that leader (followed next
/// without an election, Java's `reconfigFlag`).
#[allow(clippy::too_many_arguments)]
pub async fn lead(
    cfg: &Config,
    view: &mut QuorumMaj,
    my_id: i64,
    mut db: Database,
    epochs: Epochs,
    election: &ElectionHandle,
    client_port: &crate::net::ClientPort,
    security: &Security,
    rx: &mut mpsc::Receiver<ToPipeline>,
    tx: &mpsc::Sender<ToPipeline>,
) -> (Option<Database>, Option<i64>, Option<DataTree>) {
    let Some(me) = view.server(my_id) else {
        warn!("we were elected but are not in the ensemble's server list");
        return (Some(db), None, None);
    };
    let Some(addr) = resolve(&me.quorum_addr()).await else {
        warn!("cannot resolve our quorum address {}", me.quorum_addr());
        return (Some(db), None, None);
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot bind the quorum port {addr}: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return (Some(db), None, None);
        }
    };
    let (tree, digest) = match db.hand_to_pipeline() {
        Ok(t) => t,
        Err(e) => {
            warn!("no tree to lead with: {e}");
            return (Some(db), None, None);
        }
    };
    info!(
        "LEADING from zxid 0x{:x} ({} recent txns kept for DIFF syncs)",
        tree.last_zxid,
        db.window().len()
    );
    let snap_dir = db.snap_dir().to_path_buf();
    let snapshot_options = db.options().snapshot.clone();
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<SnapRequest>();
    let mut ldb = LeaderDatabase::new(db, epochs, snap_tx);
    // Idle until established, but holding the tree: learners syncing by SNAP get copies.
    let mut shell = idle_shell(cfg, "leader", tx);
    shell.pipeline.load(shell::now(), tree, digest);
    let lcfg = leader_config(cfg, view, my_id);
    let lcfg_view = lcfg.clone();
    let (handle, control) = leader_net::control_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let security = security.clone();
    let task = tokio::spawn(async move {
        let led = leader_net::lead_over(listener, security, lcfg, &mut ldb, control, ev_tx);
        let why = match led.await {
            Ok(exit) => format!("{exit:?}"),
            Err(e) => e.to_string(),
        };
        (why, ldb.into_parts().0)
    });
    let mut handover = None;
    let mut on_event = |shell: &mut Shell, ev: Event| match ev {
        Event::Established { epoch } => {
            election.update_peer_epoch(epoch);
            // Java's startZkServer → processReconfig: the config sent in NEWLEADER is ours.
            let established = lcfg_view.established_view(epoch);
            if adopts(cfg, view, &established) {
                adopt_config(cfg, my_id, view, established, election, client_port);
            }
            if cfg.reconfig_enabled {
                init_config_in_tree(shell, view);
            }
            shell.pipeline.quorum_configs = Some(Configs {
                committed: view.clone(),
                last_seen: view.clone(),
            });
            info!(
                "established as leader of epoch {epoch} at zxid 0x{:x}: serving as leader",
                shell.pipeline.last_zxid()
            );
            shell.upstream = Upstream::Leader(handle.clone());
            shell.write_snapshots_to(snap_dir.clone(), snapshot_options.clone());
            shell
                .pipeline
                .start_leading(shell::now(), jute::Zxid::new(epoch, 0).into());
        }
        Event::Activated { view: next, leader } => {
            // Java's processReconfig on the leader (Leader.tryToCommit): files, then the
            // view the next round starts from.
            if adopts(cfg, view, &next) {
                adopt_config(cfg, my_id, view, next, election, client_port);
            }
            shell.pipeline.quorum_configs = Some(Configs {
                committed: view.clone(),
                last_seen: view.clone(),
            });
            if leader != my_id {
                info!("reconfig designated server {leader} as leader: this leadership ends");
                // Java's QuorumPeer.updateVote wording.
                warn!("Suggested leader: {leader}");
                handover = Some(leader);
            }
        }
        Event::Synced { sid, kind, zxid } => {
            info!("learner {sid} synchronised by {kind:?} at 0x{zxid:x}")
        }
        Event::Learners(report) => shell.pipeline.learners = report,
        Event::Committed { zxid } => shell.step(ToPipeline::Input(Input::Durable { zxid })),
        // A learner's requests before it were proposed before `step` returned (the shell
        // puts each `Output::Log` on the leader's control channel at once), so a sync
        // handed back here is behind the proposals of every request it forwarded before.
        Event::FromLearner(LearnerMessage::Sync { from, .. }) => handle.sync(from),
        Event::FromLearner(msg) => {
            if let Some(input) = Input::from_learner(msg) {
                shell.step(ToPipeline::Input(input));
            }
        }
    };
    loop {
        tokio::select! {
            // The leader's events first: a client request taken after the leader announced
            // a commit must see it (a sync + read here after a write acknowledged by a
            // follower; an unbiased select picks a ready client message half the time).
            biased;
            ev = ev_rx.recv() => match ev {
                Some(ev) => on_event(&mut shell, ev),
                None => break,
            },
            Some(req) = snap_rx.recv() => {
                // Every commit the leader announced before asking is in ev_rx already.
                while let Ok(ev) = ev_rx.try_recv() {
                    on_event(&mut shell, ev);
                }
                let _ = req.reply.send(shell.pipeline.tree.snapshot_copy());
            }
            Some(m) = rx.recv() => shell.step(m),
        }
        shell.flush();
    }
    let (why, db) = match task.await {
        Ok((why, db)) => (why, Some(db)),
        Err(e) => (e.to_string(), None),
    };
    warn!("the leadership ended: {why}");
    shell.close_all();
    (
        db,
        handover,
        Some(super::following::served_tree(&mut shell)),
    )
}
