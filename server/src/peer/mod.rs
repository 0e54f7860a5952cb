//! Quorum mode (`server.N` lines in `zoo.cfg`): Java's `QuorumPeer.run` loop.
//!
//! ```text
//! open the database ─▶ LOOKING (election port) ─▶ LEADING / FOLLOWING / OBSERVING
//!        ▲                                                    │
//!        └──── keep the served tree (or reload) ◀── the leadership or the learner session ended
//! ```
//!
//! One [`Database`] serves every role: opened once, handed to the leader or the learner
//! for a round and given back with the tree it served, which is kept and fast-forwarded
//! by the log's tail when the disk vouches for it, else reloaded from disk (everything
//! applied was logged first) before the next election. With `readonlymode.enabled`, a member still LOOKING
//! after [`role::read_only_delay`] serves a copy of its tree read-only until the election
//! ends.
//!
//! # Layout
//! - [`role`]: what a member decides from its configuration and an election, without
//!   sockets (the view, `/zookeeper/config`, follower or observer, the ZAB configs).
//! - [`leading`]: the leader's role (LEADING).
//! - [`following`]: the learners' roles (FOLLOWING and OBSERVING).
//! - [`transport`]: TLS on the election and quorum ports (`sslQuorum`, `portUnification`).
//! - [`auth`]: quorum SASL (`quorum.auth.*`, the JAAS `QuorumServer` / `QuorumLearner`
//!   sections).

pub mod auth;
pub mod following;
pub mod leading;
pub mod observer_master;
pub mod role;
pub mod transport;

use crate::config::Config;
use crate::database::{Database, DbOptions, Epochs};
use crate::net::ClientPort;
use crate::pipeline::{Mode, Pipeline};
use crate::shell::{self, Shell, ToPipeline};
use role::{
    adopts, after_election, backs_up_static_config, config_node, erases_client_keys, learner_kind,
    learner_mode, moved_client_address, quorum_view, read_only_delay, Next,
};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info};
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::election::FleConfig;
use zk_quorum::transport::Security;
use zk_quorum::zab::learner::LearnerKind;

fn fatal(msg: String) -> ! {
    error!("{msg}");
    eprintln!("zkserver: {msg}");
    std::process::exit(1);
}

/// A pipeline that serves nothing yet (electing or syncing): four-letter words only; `role`
/// is what the four-letter words show.
fn idle_shell(cfg: &Config, role: &'static str, tx: &mpsc::Sender<ToPipeline>) -> Shell {
    let pipeline = Pipeline::new(cfg.clone(), Mode::Idle(role), shell::now(), shell::seed());
    Shell::new(pipeline, tx.clone())
}

async fn resolve(addr: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(addr).await.ok()?.next()
}

/// The learner master an observer syncs from this time (Java's `Observer.findLearnerMaster`):
/// the next voter's observer master, or the leader (`None`) without observerMasterPort;
/// each waits `observer.reconnectDelayMs` (random) when it starts over.
async fn find_learner_master(
    cfg: &Config,
    masters: Option<&mut observer_master::MasterList>,
) -> Option<(i64, String)> {
    let reconnect = observer_master::random_delay(cfg.observer_reconnect_delay_ms, shell::seed());
    match masters {
        Some(list) => {
            let m = list.next_master();
            if m.wrapped {
                tokio::time::sleep(reconnect).await;
            }
            info!("Observing new leader sid={} addr={}", m.sid, m.addr);
            Some((m.sid, m.addr))
        }
        None => {
            tokio::time::sleep(reconnect).await;
            None
        }
    }
}

/// Adopt `next` as this member's quorum config (Java's `QuorumPeer.setQuorumVerifier(qv,
/// true)`): write `<zoo.cfg>.dynamic.<version>`, point `zoo.cfg` at it, let the
/// election vote and gossip with it, and listen for clients on our new client address if
/// it names another one (`cnxnFactory.reconfigure`).
pub(crate) fn adopt_config(
    cfg: &Config,
    my_id: i64,
    view: &mut zk_quorum::verifier::QuorumMaj,
    next: zk_quorum::verifier::QuorumMaj,
    election: &ElectionHandle,
    client_port: &ClientPort,
) {
    info!(
        "adopting quorum config version 0x{:x} (was 0x{:x})",
        next.version(),
        view.version()
    );
    if let Some(file) = &cfg.config_file {
        match crate::config::dynamic::adopt(file, &next, erases_client_keys(&next, my_id)) {
            Ok(path) => info!("wrote {}", path.display()),
            Err(e) => error!("Error closing file: {e}"),
        }
    }
    election.set_view(next.clone());
    if let Some((host, port)) = moved_client_address(view, &next, my_id) {
        info!("our client address is now {host}:{port}");
        client_port.move_to(&host, port);
    }
    *view = next;
}

/// Set `/zookeeper/config` in the serving tree from `view` (Java's
/// `initConfigInZKDatabase`).
pub(crate) fn init_config_in_tree(shell: &mut Shell, view: &zk_quorum::verifier::QuorumMaj) {
    crate::database::open::init_config_node(&mut shell.pipeline.tree, &config_node(view));
}

/// Run as a member of the ensemble described by `cfg` (`cfg.is_distributed()`).
pub async fn run(cfg: Config, process: crate::admin::ProcessInfo) {
    let Some(my_id) = cfg.my_id.map(|id| id as i64) else {
        fatal(format!(
            "{}/myid is missing: a server of an ensemble needs its id",
            cfg.data_dir.display()
        ));
    };
    let mut view = quorum_view(&cfg);
    if backs_up_static_config(&cfg) {
        if let Some(file) = &cfg.config_file {
            if let Err(e) = crate::config::dynamic::backup_static(file) {
                fatal(format!("cannot back up {}: {e}", file.display()));
            }
        }
    }
    let mut mode = learner_mode(learner_kind(&cfg, &view, my_id));
    let mut role = mode.name();
    let addr = cfg.client_socket_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => fatal(format!("cannot bind client port {addr}: {e}")),
    };
    info!("binding to port {addr}");
    let (tx, mut rx) = mpsc::channel::<ToPipeline>(8192);
    if let Err(e) = crate::metrics::endpoint::start(&cfg, tx.clone()).await {
        fatal(e);
    }
    shell::spawn_ticker(tx.clone(), cfg.tick_time_ms);
    crate::admin::start(&cfg, process, tx.clone()).await;
    let client_port = match crate::net::start(&cfg, listener, tx.clone()).await {
        Ok(p) => p,
        Err(e) => fatal(e),
    };
    let security = Security {
        transport: transport::quorum_transport(&cfg).unwrap_or_else(|e| fatal(e)),
        // The JAAS file: -Djava.security.auth.login.config, as for the client port.
        auth: auth::quorum_auth(&cfg.quorum_sasl, cfg.sasl.login_config.as_deref(), &view)
            .unwrap_or_else(|e| fatal(e)),
    };
    let mut fle = FleConfig::new(my_id, view.clone());
    fle.reconfig_enabled = cfg.reconfig_enabled;
    let mut net = NetConfig::new(fle);
    net.security = security.clone();
    let election = match ElectionHandle::bind(net).await {
        Ok(e) => e,
        Err(e) => fatal(format!("cannot start leader election: {e}")),
    };
    let mut opts = DbOptions::from_config(&cfg, Some(config_node(&view)));
    let open_failed = |e: &dyn std::fmt::Display| -> ! {
        fatal(format!(
            "cannot open the database in {}: {e}",
            cfg.data_dir.display()
        ))
    };
    let mut db = Database::open(opts.clone()).unwrap_or_else(|e| open_failed(&e));
    let mut shell = idle_shell(&cfg, role, &tx);
    // An observer with observerMasterPort learns from the voters' observer masters.
    let mut masters = match mode {
        Mode::Observer => {
            observer_master::MasterList::new(&view, cfg.observer_master_port, shell::seed())
        }
        _ => None,
    };
    // The leader a committed reconfig designated when it ended our last role (Java's
    // reconfigFlag): the next role starts without an election.
    let mut handover: Option<i64> = None;
    loop {
        let epochs =
            Epochs::open(db.snap_dir(), db.last_zxid()).unwrap_or_else(|e| open_failed(&e));
        let looking_since = std::time::Instant::now();
        // Only to a voter of the config we now have (else: an election).
        let outcome = if let Some(leader) = handover.take().filter(|l| view.is_voter(*l)) {
            election.hand_over(leader, db.last_zxid().into()).await
        } else {
            info!(
                "LOOKING (last zxid 0x{:x}, current epoch {})",
                db.last_zxid(),
                epochs.current()
            );
            let look = election.look_for_leader(db.last_zxid().into(), epochs.current());
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
                            shell = idle_shell(&cfg, "read-only", &tx);
                            shell.pipeline.load(shell::now(), tree.snapshot_copy(), digest);
                            shell.pipeline.start_read_only();
                        }
                    }
                    Some(m) = rx.recv() => shell.step(m),
                }
                shell.flush();
            }
        };
        if shell.pipeline.mode == Mode::ReadOnly {
            info!("leaving read-only mode: closing the read-only sessions");
            shell.close_all();
            shell = idle_shell(&cfg, role, &tx);
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
                // Java's Leader.lead wording (QuorumPeer.FLE_TIME_UNIT).
                let took_ms = looking_since.elapsed().as_millis();
                info!("LEADING - LEADER ELECTION TOOK - {took_ms} MS");
                shell.close_all();
                let (back, next, served) = leading::lead(
                    &cfg,
                    &mut view,
                    my_id,
                    db,
                    epochs,
                    &election,
                    &client_port,
                    &security,
                    &mut rx,
                    &tx,
                )
                .await;
                handover = next;
                shell = idle_shell(&cfg, role, &tx);
                (back, served)
            }
            Next::Learn { leader, kind } => {
                // The election learns our kind from the current config: a reconfig may have
                // made us an observer or a participant (Java's updateLearnerType).
                if learner_mode(kind) != mode {
                    mode = learner_mode(kind);
                    role = mode.name();
                    shell = idle_shell(&cfg, role, &tx);
                    masters = match mode {
                        Mode::Observer => observer_master::MasterList::new(
                            &view,
                            cfg.observer_master_port,
                            shell::seed(),
                        ),
                        _ => None,
                    };
                }
                info!(
                    "{} server {leader} (election round {})",
                    if kind == LearnerKind::Observer {
                        "OBSERVING"
                    } else {
                        "FOLLOWING"
                    },
                    outcome.vote.election_epoch
                );
                if kind != LearnerKind::Observer {
                    // Java's Follower.followLeader wording.
                    let took_ms = looking_since.elapsed().as_millis();
                    info!("FOLLOWING - LEADER ELECTION TOOK - {took_ms} MS");
                }
                let master = if kind == LearnerKind::Observer {
                    find_learner_master(&cfg, masters.as_mut()).await
                } else {
                    None
                };
                let learning = following::Learning {
                    cfg: &cfg,
                    view: &mut view,
                    my_id,
                    leader,
                    master,
                    kind,
                    mode,
                    election: &election,
                    client_port: &client_port,
                    security: &security,
                };
                let (back, next, served) =
                    following::follow(learning, db, epochs, &mut shell, &mut rx).await;
                handover = next;
                shell = idle_shell(&cfg, role, &tx);
                if kind == LearnerKind::Observer {
                    // Java's observer.election.DelayMs: spread the observers' elections.
                    let delay = observer_master::random_delay(
                        cfg.observer_election_delay_ms,
                        shell::seed(),
                    );
                    tokio::time::sleep(delay).await;
                }
                (back, served)
            }
            Next::Look => {
                // A peer gossiped a newer config (FastLeaderElection's processReconfig).
                if let Some(next) = election.take_new_config() {
                    if adopts(&cfg, &view, &next) {
                        adopt_config(&cfg, my_id, &mut view, next, &election, &client_port);
                    }
                }
                (Some(db), None)
            }
        };
        let (back, served) = back;
        // Back to election with the database as on disk (and the config adopted meanwhile):
        // the served tree fast-forwarded by the log, or loaded again.
        opts.config_node = Some(config_node(&view));
        db = match back {
            Some(mut db) => {
                db.set_config_node(config_node(&view));
                db.back_to_election(served)
                    .unwrap_or_else(|e| open_failed(&e));
                db
            }
            None => Database::open(opts.clone()).unwrap_or_else(|e| open_failed(&e)),
        };
    }
}
