//! LEADING (zk-quorum's `lead`, Java's `Leader.lead`): the request pipeline keeps the tree
//! and preps writes as a standalone server does, from local clients and from the learners'
//! REQUESTs; instead of the local txn log each txn is proposed to the leader state machine
//! ([`ToQuorum`]), which logs it (through a [`LeaderDatabase`]), collects a quorum of ACKs
//! and commits; the commit applies it in the pipeline and answers the waiting client. The
//! pipeline expires sessions (kept alive by the learners' touches) and reaps containers. A
//! learner that needs a SNAP gets a copy of the pipeline's tree taken in order with the
//! commits ([`SnapRequest`]).

use super::role::leader_config;
use super::{idle_core, not_serving, resolve};
use crate::auth::AuthId;
use crate::config::Config;
use crate::core::{Core, CoreMsg, Durability};
use crate::database::leader::{LeaderDatabase, SnapRequest};
use crate::database::{Database, Epochs};
use crate::durability::Snapshotter;
use crate::persist::txnlog;
use crate::txn::Txn;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use zk_quorum::election::net::ElectionHandle;
use zk_quorum::verifier::QuorumMaj;
use zk_quorum::zab::leader::LearnerMessage;
use zk_quorum::zab::leader_net::{self, Event, LeaderHandle};
use zk_quorum::zab::packet::make_zxid;

/// The leader pipeline's "txn log": every prepped txn is proposed to the quorum; its
/// commit comes back as `CoreMsg::Durable`.
struct ToQuorum(LeaderHandle);

impl Durability for ToQuorum {
    fn submit(&mut self, txn: &Txn, digest: Option<&jute::txn::TxnDigest>) {
        let entry = txnlog::encode_entry(txn, digest);
        let want = txn.hdr.zxid;
        let handle = self.0.clone();
        let sent = self.0.submit(move |zxid| {
            if zxid != want {
                error!(
                    "the pipeline numbered a txn 0x{want:x} but the leader's next zxid is \
                     0x{zxid:x}: giving up the leadership"
                );
                handle.shutdown();
            }
            entry
        });
        if sent.is_err() {
            warn!("txn 0x{want:x} not proposed: the leader has stopped");
        }
    }
}

/// Lead the ensemble until the leadership ends, serving clients once established; returns
/// the database (`None` if the leader task died with it: the caller opens it again).
pub async fn lead(
    cfg: &Config,
    view: &QuorumMaj,
    my_id: i64,
    mut db: Database,
    epochs: Epochs,
    election: &ElectionHandle,
    rx: &mut mpsc::Receiver<CoreMsg>,
) -> Option<Database> {
    let Some(me) = view.server(my_id) else {
        warn!("we were elected but are not in the ensemble's server list");
        return Some(db);
    };
    let Some(addr) = resolve(&me.quorum_addr()).await else {
        warn!("cannot resolve our quorum address {}", me.quorum_addr());
        return Some(db);
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot bind the quorum port {addr}: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Some(db);
        }
    };
    let (tree, digest) = match db.hand_to_pipeline() {
        Ok(t) => t,
        Err(e) => {
            warn!("no tree to lead with: {e}");
            return Some(db);
        }
    };
    info!(
        "LEADING from zxid 0x{:x} ({} recent txns kept for DIFF syncs)",
        tree.last_zxid,
        db.window().len()
    );
    let snap_dir = db.snap_dir().to_path_buf();
    let snap_opts = db.options().snapshot.clone();
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<SnapRequest>();
    let mut ldb = LeaderDatabase::new(db, epochs, snap_tx);
    let mut core = idle_core(cfg, "leader");
    core.set_tree(tree, digest);
    let lcfg = leader_config(cfg, view, my_id);
    let (handle, control) = leader_net::control_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        let why = match leader_net::lead(listener, lcfg, &mut ldb, control, ev_tx).await {
            Ok(exit) => format!("{exit:?}"),
            Err(e) => e.to_string(),
        };
        (why, ldb.into_parts().0)
    });
    let on_event = |core: &mut Core, ev: Event| match ev {
        Event::Established { epoch } => {
            election.update_peer_epoch(epoch);
            info!(
                "established as leader of epoch {epoch} at zxid 0x{:x}: serving as leader",
                core.tree.last_zxid
            );
            core.start_leading(make_zxid(epoch, 0), Box::new(ToQuorum(handle.clone())));
            core.set_snapshots(Snapshotter::new(snap_dir.clone(), snap_opts.clone()));
        }
        Event::Synced { sid, kind, zxid } => {
            info!("learner {sid} synchronised by {kind:?} at 0x{zxid:x}")
        }
        Event::Committed { zxid } => core.handle(CoreMsg::Durable(zxid)),
        Event::FromLearner(LearnerMessage::Request {
            from,
            session_id,
            cxid,
            op,
            body,
            authinfo,
            ..
        }) => {
            let auth = authinfo
                .into_iter()
                .map(|i| AuthId::new(i.scheme, i.id))
                .collect();
            core.learner_request(from, session_id, cxid, op, body, auth);
        }
        // `learner_request` above proposes synchronously (`ToQuorum::submit` puts the txn on
        // the leader's control channel before it returns), so a sync handed back here is
        // behind the proposals of every request that learner forwarded before it.
        Event::FromLearner(LearnerMessage::Sync { from, .. }) => handle.sync(from),
        Event::FromLearner(LearnerMessage::Touch {
            session_id,
            timeout,
        }) => core.touch_session(session_id, timeout),
        Event::FromLearner(LearnerMessage::Revalidate {
            from,
            session_id,
            timeout,
        }) => {
            let valid = core.revalidate_session(from, session_id, timeout);
            handle.revalidated(from, session_id, valid);
        }
    };
    loop {
        tokio::select! {
            // The leader's events first: a client request taken after the leader announced
            // a commit must see it (a sync + read here after a write acknowledged by a
            // follower; an unbiased select picks a ready client message half the time).
            biased;
            ev = ev_rx.recv() => match ev {
                Some(ev) => on_event(&mut core, ev),
                None => break,
            },
            Some(req) = snap_rx.recv() => {
                // Every commit the leader announced before asking is in ev_rx already.
                while let Ok(ev) = ev_rx.try_recv() {
                    on_event(&mut core, ev);
                }
                let _ = req.reply.send(core.tree.snapshot_copy());
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
    let (why, db) = match task.await {
        Ok((why, db)) => (why, Some(db)),
        Err(e) => (e.to_string(), None),
    };
    warn!("the leadership ended: {why}");
    core.close_all();
    db
}
