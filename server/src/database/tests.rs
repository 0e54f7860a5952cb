//! The database over real temporary folders: opening, committing in both owners, reload,
//! TRUNC, SNAP and the snapshot handoff between a leader and a learner.

use super::leader::{snap_stream_body, LeaderDatabase, SnapRequest};
use super::learner::{LearnerDatabase, LearnerEvent};
use super::*;
use crate::persist::digest::tree_digest;
use crate::persist::txnlog::encode_entry;
use crate::txn::TxnBody;
use bytes::BytesMut;
use jute::txn::{CreateTxn, TxnHeader};
use jute::Zxid;
use tokio::sync::mpsc;
use zk_quorum::zab::db::LearnerDb;
use zk_quorum::zab::leader_net::LeaderDb;
use zk_quorum::zab::snap_stream::SnapDecoder;

const EPOCH: i64 = 1 << 32;

fn tempdir() -> PathBuf {
    crate::persist::txnlog::tests::tempdir()
}

fn config_node() -> ConfigNode {
    ConfigNode {
        data: "server.1=127.0.0.1:2888:3888:participant\nversion=0".into(),
        version: 0,
    }
}

fn opts(dir: &Path, quorum: bool) -> DbOptions {
    DbOptions {
        data_dir: dir.to_path_buf(),
        data_log_dir: dir.to_path_buf(),
        load: recovery::LoadOptions {
            extended_types: true,
            ..Default::default()
        },
        log: LogOptions {
            prealloc_size: 64 * 1024,
            ..Default::default()
        },
        snapshot: SnapshotOptions {
            fsync: false,
            ..Default::default()
        },
        config_node: quorum.then(config_node),
    }
}

/// A plain `create /n<counter>` txn numbered `zxid`.
pub(super) fn create_txn(zxid: i64) -> Txn {
    create(zxid, 0x77, false)
}

/// `create /n<counter>` by session `owner`, ephemeral when `ephemeral`.
fn create(zxid: i64, owner: i64, ephemeral: bool) -> Txn {
    Txn {
        hdr: TxnHeader {
            client_id: owner,
            cxid: 1,
            zxid,
            time: 1_800_000_000_000,
            r#type: jute::ops::CREATE,
        },
        body: TxnBody::Create(CreateTxn {
            path: format!("/n{}", zxid & 0xffff_ffff),
            data: Some(Bytes::from_static(b"x")),
            acl: crate::tree::open_acl(),
            ephemeral,
            parent_c_version: (zxid & 0xffff_ffff) as i32,
        }),
    }
}

fn entry(zxid: i64) -> Bytes {
    encode_entry(&create(zxid, 0x77, false), None)
}

/// Log and commit the txns `from..=to` of epoch 1, as a learner does.
fn log_and_commit(db: &mut Database, from: i64, to: i64) {
    for c in from..=to {
        db.append_log(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    db.sync_log().unwrap();
    for c in from..=to {
        db.commit(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
}

#[test]
fn an_empty_folder_opens_at_zxid_0() {
    let dir = tempdir();
    let db = Database::open(opts(&dir, false)).unwrap();
    assert_eq!(db.last_zxid(), 0);
    assert_eq!(db.replayed(), 0);
    assert!(db.window().is_empty());
    assert!(dir.join("version-2/snapshot.0").exists());
    let tree = db.tree().expect("the database holds a freshly opened tree");
    assert_eq!(db.digest(), Some(tree_digest(tree)));
    // Standalone: no epoch files.
    assert!(!dir.join("version-2/currentEpoch").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn quorum_mode_sets_the_config_node_outside_the_digest() {
    let dir = tempdir();
    let standalone = Database::open(opts(&dir, false)).unwrap();
    let db = Database::open(opts(&dir, true)).unwrap();
    let node = db.tree().unwrap().node(crate::tree::CONFIG).unwrap();
    assert_eq!(node.data.as_deref(), Some(config_node().data.as_bytes()));
    assert_eq!(db.digest(), standalone.digest());
    assert_eq!(db.digest(), Some(tree_digest(db.tree().unwrap())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn commits_are_applied_by_whoever_holds_the_tree_and_always_kept_in_the_window() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 3);
    let tree = db.tree().unwrap();
    assert_eq!(tree.last_zxid, EPOCH | 3);
    assert!(tree.node("/n3").is_some());
    assert_eq!(db.digest(), Some(tree_digest(tree)));
    assert_eq!(db.window().len(), 3);

    let (tree, digest) = db.hand_to_pipeline().unwrap();
    assert_eq!(digest, tree_digest(&tree));
    assert!(matches!(db.owner(), TreeOwner::Pipeline));
    assert!(
        db.hand_to_pipeline().is_err(),
        "the tree is handed over once"
    );
    db.append_log(EPOCH | 4, &entry(EPOCH | 4)).unwrap();
    match db.commit(EPOCH | 4, &entry(EPOCH | 4)).unwrap() {
        Committed::ForPipeline { txn, leader_digest } => {
            assert_eq!(txn, create(EPOCH | 4, 0x77, false));
            assert_eq!(leader_digest, None);
        }
        Committed::Applied => panic!("the pipeline holds the tree"),
    }
    assert_eq!(db.last_zxid(), EPOCH | 4);
    assert_eq!(db.window().last_zxid(), Some(EPOCH | 4));
    // An entry under another zxid is refused.
    assert!(db.commit(EPOCH | 5, &entry(EPOCH | 6)).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_replays_the_log_and_keeps_a_window_that_still_fits() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 5);
    db.hand_to_pipeline().unwrap();
    let window = db.window().to_vec();
    db.reload().unwrap();
    assert_eq!(db.tree().unwrap().last_zxid, EPOCH | 5);
    assert_eq!(db.replayed(), 5);
    assert_eq!(db.window().to_vec(), window);

    // A proposal logged but never committed: the reloaded tree has it (as Java's), and so
    // does the window, read from the log.
    db.append_log(EPOCH | 6, &entry(EPOCH | 6)).unwrap();
    db.sync_log().unwrap();
    db.reload().unwrap();
    assert_eq!(db.last_zxid(), EPOCH | 6);
    assert_eq!(
        (db.window().first_zxid(), db.window().last_zxid()),
        (Some(EPOCH | 1), Some(EPOCH | 6))
    );
    // A fresh open sees the same.
    let again = Database::open(opts(&dir, true)).unwrap();
    assert_eq!(again.window().to_vec(), db.window().to_vec());
    assert_eq!(again.digest(), db.digest());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_window_is_bounded_by_count_and_seeded_on_open() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    let n = zk_quorum::zab::leader::COMMIT_LOG_COUNT as i64 + 7;
    log_and_commit(&mut db, 1, n);
    assert_eq!(db.window().len(), zk_quorum::zab::leader::COMMIT_LOG_COUNT);
    assert_eq!(db.window().first_zxid(), Some(EPOCH | 8));
    let reopened = Database::open(opts(&dir, true)).unwrap();
    assert_eq!(reopened.window().to_vec(), db.window().to_vec());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncate_drops_later_txns_snapshots_and_window_entries() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 3);
    db.write_snapshot(true)
        .unwrap()
        .expect("the database holds the tree");
    log_and_commit(&mut db, 4, 6);
    db.write_snapshot(false).unwrap();
    assert!(dir
        .join(format!("version-2/snapshot.{:x}", EPOCH | 6))
        .exists());

    db.truncate(EPOCH | 4).unwrap();
    assert_eq!(db.last_zxid(), EPOCH | 4);
    let tree = db.tree().unwrap();
    assert!(tree.node("/n4").is_some() && tree.node("/n5").is_none());
    assert_eq!(db.digest(), Some(tree_digest(tree)));
    assert_eq!(db.window().last_zxid(), Some(EPOCH | 4));
    assert!(!dir
        .join(format!("version-2/snapshot.{:x}", EPOCH | 6))
        .exists());
    assert!(dir
        .join(format!("version-2/snapshot.{:x}", EPOCH | 3))
        .exists());
    // Logging goes on after the cut, and a restart sees exactly that.
    log_and_commit(&mut db, 5, 5);
    let reopened = Database::open(opts(&dir, true)).unwrap();
    assert_eq!(reopened.last_zxid(), EPOCH | 5);
    assert_eq!(reopened.digest(), db.digest());
    // Past the end of the log: the tree cannot end there.
    assert!(db.truncate(EPOCH | 9).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ephemerals_of_a_session_nobody_has_are_removed_on_open() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, false)).unwrap();
    // Session 0x99 was never created: its ephemeral belongs to nobody after a restart.
    let orphan = encode_entry(&create(EPOCH | 1, 0x99, true), None);
    db.append_log(EPOCH | 1, &orphan).unwrap();
    db.append_log(EPOCH | 2, &entry(EPOCH | 2)).unwrap();
    db.sync_log().unwrap();
    let o = opts(&dir, false);
    let replayed = recovery::load_with(&dir, &dir, &o.load).unwrap();
    assert!(
        replayed.tree.node("/n1").is_some(),
        "recovery alone keeps it"
    );
    let db = Database::open(o).unwrap();
    let tree = db.tree().unwrap();
    assert!(tree.node("/n1").is_none());
    assert!(tree.node("/n2").is_some());
    assert_eq!(db.digest(), Some(tree_digest(tree)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_snapshot_while_the_pipeline_holds_the_tree_is_not_the_databases() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    db.hand_to_pipeline().unwrap();
    assert_eq!(db.write_snapshot(true).unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A leader's SNAP stream, produced from the pipeline's copy of its tree, loaded by a
/// learner: the learner ends up with the same tree (and its own config node).
#[test]
fn snapshot_handoff_from_leader_to_learner() {
    let lead_dir = tempdir();
    let mut lead = Database::open(opts(&lead_dir, true)).unwrap();
    log_and_commit(&mut lead, 1, 20);
    let (pipeline_tree, _) = lead.hand_to_pipeline().unwrap();
    let epochs = Epochs::open(&lead_dir.join("version-2"), lead.last_zxid()).unwrap();
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<SnapRequest>();
    let mut leader = LeaderDatabase::new(lead, epochs, snap_tx);
    assert_eq!(leader.committed_log().len(), 20);
    assert_eq!(leader.persisted_state().last_zxid, Zxid::from(EPOCH | 20));
    // The pipeline's side: answer with a copy of its tree.
    let pipeline = std::thread::spawn(move || {
        let req = snap_rx.blocking_recv().expect("a snapshot request");
        req.reply.send(pipeline_tree.snapshot_copy()).unwrap();
        pipeline_tree
    });
    let mut stream = BytesMut::new();
    leader.snapshot_stream(EPOCH | 20, &mut stream).unwrap();
    let pipeline_tree = pipeline.join().unwrap();
    let mut direct = BytesMut::new();
    snap_stream_body(&pipeline_tree, EPOCH | 20, &mut direct).unwrap();
    assert_eq!(stream, direct);

    let learn_dir = tempdir();
    let db = Database::open(opts(&learn_dir, true)).unwrap();
    let epochs = Epochs::open(&learn_dir.join("version-2"), db.last_zxid()).unwrap();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut learner = LearnerDatabase::new(db, epochs, ev_tx);
    learner.begin_snapshot(EPOCH | 20).unwrap();
    let mut items = Vec::new();
    let done = SnapDecoder::new(1 << 20)
        .decode(&mut stream, &mut items)
        .unwrap();
    assert!(done);
    for item in items {
        learner.snapshot_item(item).unwrap();
    }
    learner.end_snapshot(EPOCH | 20).unwrap();
    assert_eq!(learner.persisted_state().last_zxid, Zxid::from(EPOCH | 20));
    learner.take_snapshot(true).unwrap();
    learner.start_serving(1).unwrap();
    let LearnerEvent::Serve {
        tree,
        digest,
        epoch,
        digest_check,
    } = ev_rx.try_recv().unwrap()
    else {
        panic!("serve first");
    };
    assert_eq!(epoch, 1);
    assert_eq!(digest_check.clone().take_mismatches(), 0);
    assert_eq!(digest, tree_digest(&pipeline_tree));
    assert_eq!(tree.node_count(), pipeline_tree.node_count());
    assert_eq!(
        tree.node(crate::tree::CONFIG).unwrap().data.as_deref(),
        Some(config_node().data.as_bytes())
    );
    // Committed txns now go to the pipeline.
    learner.append_log(EPOCH | 21, &entry(EPOCH | 21)).unwrap();
    learner.apply(EPOCH | 21, &entry(EPOCH | 21)).unwrap();
    assert!(matches!(
        ev_rx.try_recv().unwrap(),
        LearnerEvent::Commit { txn, .. } if txn.hdr.zxid == EPOCH | 21
    ));
    let (db, _) = learner.into_parts();
    assert_eq!(db.window().to_vec(), vec![(EPOCH | 21, entry(EPOCH | 21))]);
    // What the learner wrote is a database a restart opens at the same point.
    let reopened = Database::open(opts(&learn_dir, true)).unwrap();
    assert_eq!(reopened.last_zxid(), EPOCH | 20);
    assert_eq!(reopened.digest(), Some(digest));
    std::fs::remove_dir_all(&lead_dir).unwrap();
    std::fs::remove_dir_all(&learn_dir).unwrap();
}

#[test]
fn the_leader_keeps_each_commit_in_the_window() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    db.hand_to_pipeline().unwrap();
    let epochs = Epochs::open(&dir.join("version-2"), 0).unwrap();
    let (snap_tx, _snap_rx) = mpsc::unbounded_channel();
    let mut leader = LeaderDatabase::new(db, epochs, snap_tx);
    leader.set_accepted_epoch(1).unwrap();
    leader.set_current_epoch(1).unwrap();
    for c in 1..=3 {
        leader.append_log(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    leader.sync_log().unwrap();
    for c in 1..=3 {
        leader.apply(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    let state = leader.persisted_state();
    assert_eq!(
        (state.accepted_epoch, state.current_epoch, state.last_zxid),
        (1, 1, Zxid::from(EPOCH | 3))
    );
    assert_eq!(leader.committed_log().len(), 3);
    let (mut db, epochs) = leader.into_parts();
    assert_eq!((epochs.current(), epochs.accepted()), (1, 1));
    // Back to election: the reload keeps the window (it ends at the logged last zxid).
    let window = db.window().to_vec();
    db.reload().unwrap();
    assert_eq!(db.window().to_vec(), window);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A learner's DIFF (logged, synced, applied to the database's own tree), then a TRUNC
/// and epochs, through zk-quorum's trait: nothing reaches the pipeline before UPTODATE.
#[test]
fn a_learner_syncs_by_diff_and_trunc_before_serving() {
    let dir = tempdir();
    let db = Database::open(opts(&dir, true)).unwrap();
    let epochs = Epochs::open(&dir.join("version-2"), db.last_zxid()).unwrap();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut learner = LearnerDatabase::new(db, epochs, ev_tx);
    learner.set_accepted_epoch(1).unwrap();
    for c in 1..=4 {
        learner.append_log(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    learner.sync_log().unwrap();
    for c in 1..=4 {
        learner.apply(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    assert_eq!(learner.persisted_state().last_zxid, Zxid::from(EPOCH | 4));
    learner.truncate(EPOCH | 2).unwrap();
    learner.set_current_epoch(1).unwrap();
    let state = learner.persisted_state();
    assert_eq!(
        (state.accepted_epoch, state.current_epoch, state.last_zxid),
        (1, 1, Zxid::from(EPOCH | 2))
    );
    assert!(ev_rx.try_recv().is_err(), "no event before UPTODATE");
    learner.start_serving(1).unwrap();
    assert!(matches!(
        ev_rx.try_recv().unwrap(),
        LearnerEvent::Serve { tree, .. } if tree.last_zxid == EPOCH | 2 && tree.node("/n3").is_none()
    ));
    let (db, epochs) = learner.into_parts();
    assert_eq!(db.window().last_zxid(), Some(EPOCH | 2));
    assert_eq!((epochs.accepted(), epochs.current()), (1, 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `compat.version` picks the snapshot format: 3.9 writes Java 3.9's lastProcessedZxid
/// section (the initial `snapshot.0` and later ones), 3.8 writes Java 3.8.0's format.
#[test]
fn compat_version_picks_the_snapshot_format() {
    for (compat, want) in [("3.8", false), ("3.9", true)] {
        let dir = tempdir();
        let text = format!(
            "dataDir={}\nclientPort=2181\ncompat.version={compat}\n",
            dir.display()
        );
        let (cfg, _) = crate::config::parse(&text).unwrap();
        let mut db = Database::open(DbOptions::from_config(&cfg, None)).unwrap();
        let lpz = |p: &Path| {
            snapshot::read_stream(snapshot::open(p).unwrap(), |_| Ok(()))
                .unwrap()
                .last_processed_zxid
        };
        let v2 = db.snap_dir().to_path_buf();
        assert_eq!(lpz(&v2.join("snapshot.0")), want.then_some(0), "{compat}");
        db.commit(EPOCH | 1, &entry(EPOCH | 1)).unwrap();
        let p = db.write_snapshot(true).unwrap().unwrap();
        assert_eq!(lpz(&p), want.then_some(EPOCH | 1), "{compat}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_wanted_snap_outlives_sessions_and_reloads_until_a_snapshot_is_installed() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 3);
    let epochs = Epochs::open(&dir.join("version-2"), db.last_zxid()).unwrap();
    let (ev_tx, _ev_rx) = mpsc::unbounded_channel();
    let mut learner = LearnerDatabase::new(db, epochs, ev_tx.clone());
    assert!(!learner.snap_wanted());
    learner.want_snap();
    // The session ends; the peer loop reloads the database and starts the next session.
    let (mut db, epochs) = learner.into_parts();
    db.reload().unwrap();
    let learner = LearnerDatabase::new(db, epochs, ev_tx);
    assert!(learner.snap_wanted());
    // The leader's snapshot arrives: the next session syncs as usual.
    let (mut db, _) = learner.into_parts();
    let tree = db
        .tree()
        .expect("the database holds the tree")
        .snapshot_copy();
    db.install_snapshot(tree);
    assert!(!db.snap_wanted());
    // Only memory: a restarted server asks for nothing (its next gap asks again).
    db.want_snap();
    assert!(!Database::open(opts(&dir, true)).unwrap().snap_wanted());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The learner's half of ZOOKEEPER-4643 / 4646 / 4785, over a real database: a follower whose
/// log cannot take a DIFF's txns neither writes the new `currentEpoch` nor ACKs NEWLEADER,
/// and once it can, both follow the txns on disk. (Java 3.8.0 writes `currentEpoch` and ACKs
/// before its asynchronous log append; `compat-tests/python/test_sync_loss.py` runs the
/// same with real servers.)
#[test]
fn a_diff_whose_txns_cannot_be_logged_takes_no_epoch_and_sends_no_ack() {
    use jute::quorum::QuorumPacket;
    use zk_quorum::zab::db::{execute, DbError};
    use zk_quorum::zab::learner::{Learner, LearnerConfig};
    use zk_quorum::zab::packet::{self, ACK, COMMIT, DIFF, NEWLEADER, PROPOSAL};

    let dir = tempdir();
    let log_dir = dir.join("version-2");
    {
        let mut db = Database::open(opts(&dir, true)).unwrap();
        log_and_commit(&mut db, 1, 2);
        let mut epochs = Epochs::open(&log_dir, db.last_zxid()).unwrap();
        epochs.set_accepted(1).unwrap();
        epochs.set_current(1).unwrap();
    }
    // The leader of epoch 2 sends (1,3) and (1,4), committed, by DIFF.
    let session = |ldb: &mut LearnerDatabase| -> (Result<(), DbError>, Vec<QuorumPacket>) {
        let mut learner = Learner::new(LearnerConfig::follower(1), ldb.persisted_state());
        let mut outbox = Vec::new();
        execute(ldb, learner.start(), &mut outbox).unwrap();
        outbox.clear();
        let mut from_leader = vec![
            packet::leader_info(2, 0x10000),
            packet::packet(DIFF, Zxid::from(EPOCH | 4)),
        ];
        for c in 3..=4 {
            from_leader.push(QuorumPacket {
                r#type: PROPOSAL,
                zxid: EPOCH | c,
                data: Some(entry(EPOCH | c)),
                authinfo: Vec::new(),
            });
            from_leader.push(packet::packet(COMMIT, Zxid::from(EPOCH | c)));
        }
        from_leader.push(QuorumPacket {
            r#type: NEWLEADER,
            zxid: 2 << 32,
            data: None,
            authinfo: Vec::new(),
        });
        for qp in from_leader {
            let mut actions = Vec::new();
            learner.handle(qp, &mut actions).unwrap();
            if let Err(e) = execute(ldb, actions, &mut outbox) {
                return (Err(e), outbox);
            }
        }
        (Ok(()), outbox)
    };
    let reopen = || {
        let db = Database::open(opts(&dir, true)).unwrap();
        let epochs = Epochs::open(&log_dir, db.last_zxid()).unwrap();
        let (ev_tx, _) = mpsc::unbounded_channel();
        LearnerDatabase::new(db, epochs, ev_tx)
    };
    let newleader_ack =
        |out: &[QuorumPacket]| out.iter().any(|p| p.r#type == ACK && p.zxid == 2 << 32);

    // A restarted follower starts a new log file with (1,3): make that impossible once it
    // has loaded.
    let mut ldb = reopen();
    let blocker = log_dir.join(crate::persist::log_name(EPOCH | 3));
    std::fs::create_dir(&blocker).unwrap();
    let (res, out) = session(&mut ldb);
    assert!(res.is_err(), "the append into a directory fails");
    assert!(!newleader_ack(&out), "no NEWLEADER ACK: {out:?}");
    // The follower gives up (a crash); the disk is back when it starts again (a directory
    // among the logs stops a start).
    drop(ldb);
    std::fs::remove_dir(&blocker).unwrap();
    let ldb = reopen();
    let st = ldb.persisted_state();
    assert_eq!(
        (st.accepted_epoch, st.current_epoch, st.last_zxid),
        (2, 1, Zxid::from(EPOCH | 2)),
        "epoch 2 accepted, not taken without (1,3) and (1,4)"
    );
    drop(ldb);

    // The next session logs them before taking the epoch and ACKing.
    let mut ldb = reopen();
    let (res, out) = session(&mut ldb);
    res.unwrap();
    assert!(newleader_ack(&out), "NEWLEADER ACKed: {out:?}");
    drop(ldb); // a crash right after the ACK went out
    let ldb = reopen();
    let st = ldb.persisted_state();
    assert_eq!(
        (st.current_epoch, st.last_zxid),
        (2, Zxid::from(EPOCH | 4)),
        "what was ACKed is on disk"
    );
    drop(ldb);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A txn applied while the database holds the tree (a learner's sync) is compared with the
/// digest the leader logged with it; the count goes to the pipeline with the tree.
#[test]
fn a_learners_sync_txns_are_checked_against_the_leaders_digest() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    let mut shadow = db.tree().unwrap().snapshot_copy();
    let mut tracker = crate::persist::digest::DigestTracker::new(&shadow);
    let with_digest = |zxid: i64, shadow: &mut DataTree, tracker: &mut DigestTracker| {
        let txn = create(zxid, 0x77, false);
        tracker.apply(shadow, &txn, &mut Vec::new());
        let d = jute::txn::TxnDigest {
            version: crate::persist::digest::DIGEST_VERSION,
            tree_digest: tracker.value(),
        };
        encode_entry(&txn, Some(&d))
    };
    // The leader's tree and ours agree: no mismatch.
    for c in 1..=2 {
        let e = with_digest(EPOCH | c, &mut shadow, &mut tracker);
        db.append_log(EPOCH | c, &e).unwrap();
        db.commit(EPOCH | c, &e).unwrap();
    }
    assert_eq!(db.take_digest_check().take_mismatches(), 0);
    // The leader had a node we lack: every later txn mismatches.
    shadow.apply(&create(EPOCH | 3, 0x77, false), &mut Vec::new());
    tracker = crate::persist::digest::DigestTracker::new(&shadow);
    for c in 4..=5 {
        let e = with_digest(EPOCH | c, &mut shadow, &mut tracker);
        db.append_log(EPOCH | c, &e).unwrap();
        db.commit(EPOCH | c, &e).unwrap();
    }
    assert_eq!(db.take_digest_check().take_mismatches(), 2);
    // A txn without a digest is not compared.
    db.commit(EPOCH | 6, &entry(EPOCH | 6)).unwrap();
    assert_eq!(db.take_digest_check().take_mismatches(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The database after serving (the tree handed to the pipeline and back): the same tree
/// and digest as a reload from disk, with the logged-only tail applied.
#[test]
fn back_to_election_keeps_the_served_tree_plus_the_logged_tail() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 5);
    let (mut served, _) = db.hand_to_pipeline().unwrap();
    // The pipeline applies 6..=8 as they commit; 9 and 10 are logged, never committed.
    for c in 6..=10 {
        db.append_log(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    for c in 6..=8 {
        served.apply(&create_txn(EPOCH | c), &mut Vec::new());
    }
    db.back_to_election(Some(served)).unwrap();
    let kept = db.tree().unwrap();
    assert_eq!(kept.last_zxid, EPOCH | 10);
    assert!(kept.node("/n10").is_some());
    assert_eq!(db.last_zxid(), EPOCH | 10);
    assert_eq!(db.digest(), Some(tree_digest(kept)));
    assert_eq!(db.replayed(), 0, "kept, not replayed from disk");
    let reloaded = Database::open(opts(&dir, true)).unwrap();
    assert_eq!(reloaded.digest(), db.digest());
    assert_eq!(reloaded.tree().unwrap().node_count(), kept.node_count());
}

/// A served tree the disk does not vouch for (ahead of the log) is dropped for a reload.
#[test]
fn back_to_election_reloads_a_tree_ahead_of_the_disk() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 3);
    let (mut served, _) = db.hand_to_pipeline().unwrap();
    // Applied but never logged: must not survive.
    served.apply(&create_txn(EPOCH | 4), &mut Vec::new());
    db.back_to_election(Some(served)).unwrap();
    assert_eq!(db.last_zxid(), EPOCH | 3);
    assert!(db.tree().unwrap().node("/n4").is_none());
    assert_eq!(db.replayed(), 3, "loaded from disk");

    // A gap in the log after the served tree: reload too (and no tree at all: reload).
    let (served, _) = db.hand_to_pipeline().unwrap();
    db.append_log(EPOCH | 5, &entry(EPOCH | 5)).unwrap();
    db.sync_log().unwrap();
    db.back_to_election(Some(served)).unwrap();
    assert_eq!(
        db.last_zxid(),
        Database::open(opts(&dir, true)).unwrap().last_zxid()
    );
    db.hand_to_pipeline().unwrap();
    db.back_to_election(None).unwrap();
    assert!(db.tree().is_some());
}

/// A failing disk under the kept tree: the last logged txn after it is torn (its bytes
/// stop and zeros follow, as after a crash mid-write). The tree is not kept on top of that
/// file; the database is what a fresh open gives (the torn txn gone), and a txn logged
/// afterwards survives a reopen.
#[test]
fn back_to_election_reloads_over_a_torn_tail() {
    let dir = tempdir();
    let mut db = Database::open(opts(&dir, true)).unwrap();
    log_and_commit(&mut db, 1, 5);
    let (served, _) = db.hand_to_pipeline().unwrap();
    for c in 6..=8 {
        db.append_log(EPOCH | c, &entry(EPOCH | c)).unwrap();
    }
    db.sync_log().unwrap();
    // Zero the last 8 bytes of the newest log's last record (its end byte included).
    let logs = crate::persist::list_files(&dir.join("version-2"), "log").unwrap();
    let (_, newest) = logs.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap();
    bytes[end - 7..=end].fill(0);
    std::fs::write(newest, &bytes).unwrap();

    db.back_to_election(Some(served)).unwrap();
    assert!(
        db.replayed() > 0,
        "loaded from disk, not kept over the torn file"
    );
    let fresh = Database::open(opts(&dir, true)).unwrap();
    assert_eq!(db.last_zxid(), EPOCH | 7, "the torn txn is gone");
    assert_eq!(fresh.last_zxid(), db.last_zxid());
    assert_eq!(fresh.digest(), db.digest());
    drop(fresh);

    db.append_log(EPOCH | 8, &entry(EPOCH | 8)).unwrap();
    db.sync_log().unwrap();
    assert_eq!(
        Database::open(opts(&dir, true)).unwrap().last_zxid(),
        EPOCH | 8
    );
}
