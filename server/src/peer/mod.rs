//! Quorum mode (`server.N` lines in `zoo.cfg`): Java's `QuorumPeer.run` loop.
//!
//! ```text
//! open the database ─▶ LOOKING (election port) ─▶ LEADING / FOLLOWING / OBSERVING
//!        ▲                                                    │
//!        └──── reload the database from disk ◀── the leadership or the learner session ended
//! ```
//!
//! One [`Database`] serves every role: opened once, handed to the leader or the learner
//! for a round and given back, then reloaded from disk (everything applied was logged
//! first) before the next election. With `readonlymode.enabled`, a member still LOOKING
//! after [`role::read_only_delay`] serves a copy of its tree read-only until the election
//! ends.
//!
//! # Layout
//! - [`role`]: what a member decides from its configuration and an election, without
//!   sockets (the view, `/zookeeper/config`, follower or observer, the ZAB configs).
//! - [`leading`]: LEADING.
//! - [`following`]: FOLLOWING and OBSERVING.

pub mod following;
pub mod leading;
pub mod role;

use crate::config::Config;
use crate::core::{Core, CoreMsg, Out};
use crate::database::{Database, DbOptions, Epochs};
use role::{after_election, config_node, learner_kind, quorum_view, read_only_delay, role_name, Next};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info};
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::election::FleConfig;
use zk_quorum::zab::learner::LearnerKind;

fn fatal(msg: String) -> ! {
    error!("{msg}");
    eprintln!("zkserver: {msg}");
    std::process::exit(1);
}

/// A pipeline that serves nothing yet (electing or syncing): four-letter words only.
fn idle_core(cfg: &Config, role: &'static str) -> Core {
    let mut core = Core::new(cfg.clone());
    core.role = Some(role);
    core.serving = false;
    core
}

/// A client message while not serving: connections are closed, four-letter words answered.
fn not_serving(core: &mut Core, msg: CoreMsg) {
    match msg {
        CoreMsg::Connect { out, .. } => {
            let _ = out.send(Out::Close);
        }
        m @ CoreMsg::FourLetter { .. } => core.handle(m),
        _ => {}
    }
}

async fn resolve(addr: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(addr).await.ok()?.next()
}

/// Run as a member of the ensemble described by `cfg` (`cfg.is_distributed()`).
pub async fn run(cfg: Config) {
    let Some(my_id) = cfg.my_id.map(|id| id as i64) else {
        fatal(format!(
            "{}/myid is missing: a server of an ensemble needs its id",
            cfg.data_dir.display()
        ));
    };
    let view = quorum_view(&cfg);
    let role = role_name(learner_kind(&cfg, &view, my_id));
    let addr = cfg.client_socket_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => fatal(format!("cannot bind client port {addr}: {e}")),
    };
    info!("binding to port {addr}");
    let (tx, mut rx) = mpsc::channel::<CoreMsg>(8192);
    crate::core::spawn_ticker(tx.clone(), cfg.tick_time_ms);
    tokio::spawn(crate::net::serve(
        listener,
        tx,
        crate::flow::ServerFlow::new(crate::flow::Limits::from_config(&cfg)),
        cfg.max_client_cnxns,
    ));
    let election =
        match ElectionHandle::bind(NetConfig::new(FleConfig::new(my_id, view.clone()))).await {
            Ok(e) => e,
            Err(e) => fatal(format!("cannot start leader election: {e}")),
        };
    let opts = DbOptions::from_config(&cfg, Some(config_node(&view)));
    let open_failed = |e: &dyn std::fmt::Display| -> ! {
        fatal(format!(
            "cannot open the database in {}: {e}",
            cfg.data_dir.display()
        ))
    };
    let mut db = Database::open(opts.clone()).unwrap_or_else(|e| open_failed(&e));
    let mut core = idle_core(&cfg, role);
    loop {
        let epochs =
            Epochs::open(db.snap_dir(), db.last_zxid()).unwrap_or_else(|e| open_failed(&e));
        info!(
            "LOOKING (last zxid 0x{:x}, current epoch {})",
            db.last_zxid(),
            epochs.current()
        );
        let outcome = {
            let look = election.look_for_leader(db.last_zxid(), epochs.current());
            tokio::pin!(look);
            // Java's QuorumPeer: with readonlymode.enabled, a peer still LOOKING after
            // max(2000 ms, tickTime) serves its last loaded tree read-only.
            let ro_delay = tokio::time::sleep(read_only_delay(&cfg));
            tokio::pin!(ro_delay);
            let mut ro_pending = cfg.read_only_mode_enabled;
            loop {
                tokio::select! {
                    o = &mut look => break o,
                    _ = &mut ro_delay, if ro_pending => {
                        ro_pending = false;
                        if let (Some(tree), Some(digest)) = (db.tree(), db.digest()) {
                            info!(
                                "no quorum: serving read-only at zxid 0x{:x}",
                                tree.last_zxid
                            );
                            core = idle_core(&cfg, "read-only");
                            core.set_tree(tree.snapshot_copy(), digest);
                            core.read_only = true;
                            core.serving = true;
                        }
                    }
                    Some(m) = rx.recv() => {
                        if core.serving {
                            core.handle(m);
                        } else {
                            not_serving(&mut core, m);
                        }
                    }
                }
                core.flush_replies();
            }
        };
        if core.read_only {
            info!("leaving read-only mode: closing the read-only sessions");
            core.close_all();
            core = idle_core(&cfg, role);
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => fatal(format!("leader election failed: {e}")),
        };
        let back = match after_election(outcome.state, outcome.vote.leader) {
            Next::Lead => {
                info!(
                    "LEADING (election round {}, peer epoch {})",
                    outcome.vote.election_epoch, outcome.vote.peer_epoch
                );
                core.close_all();
                let back =
                    leading::lead(&cfg, &view, my_id, db, epochs, &election, &mut rx).await;
                core = idle_core(&cfg, role);
                back
            }
            Next::Learn { leader, kind } => {
                info!(
                    "{} server {leader} (election round {})",
                    if kind == LearnerKind::Observer {
                        "OBSERVING"
                    } else {
                        "FOLLOWING"
                    },
                    outcome.vote.election_epoch
                );
                let learning = following::Learning {
                    cfg: &cfg,
                    view: &view,
                    my_id,
                    leader,
                    kind,
                    role,
                    election: &election,
                };
                following::follow(learning, db, epochs, &mut core, &mut rx).await
            }
            Next::Look => Some(db),
        };
        // Back to election with the database as on disk.
        db = match back {
            Some(mut db) => {
                db.reload().unwrap_or_else(|e| open_failed(&e));
                db
            }
            None => Database::open(opts.clone()).unwrap_or_else(|e| open_failed(&e)),
        };
    }
}
