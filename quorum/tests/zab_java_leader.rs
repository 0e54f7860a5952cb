//! Our learner against a Java 3.8 leader: an ensemble of three where nodes 1 and 2 are Java
//! (they elect a leader between them, 2 of 3 being a quorum) and node 3 is ours, connecting
//! as a follower to the Java leader's quorum port. Checked:
//!
//! - a fresh learner syncs by SNAP, a restarted one by DIFF, one with a txn the leader never
//!   had by TRUNC; each time our data tree ends up identical to what the Java leader serves
//!   (every path: data, Stat, ACL, children), and the leader's digest after every txn matches
//!   ours;
//! - proposals after the sync are logged, acknowledged and committed;
//! - with the Java follower killed, the leader keeps its quorum with us alone for several
//!   syncLimit periods and writes still commit: our PING replies and ACKs are what Java wants.
//!
//! Needs Java and the Debian `zookeeper` package; fails with a message saying so otherwise.
//! `ZAB_KEEP=1` keeps the ensemble's folders of a failed run (they are under the temp dir).

mod zab_common;

use jute::ops;
use jute::txn::{SetDataTxn, TxnHeader};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use zab_common::client::{dump, open_acl, Client};
use zab_common::db::ServerDb;
use zab_common::java::{Ensemble, INIT_LIMIT, SYNC_LIMIT, TICK_MS};
use zk_quorum::zab::learner::{LearnerConfig, LearnerKind, SyncMode};
use zk_quorum::zab::learner_net::{control_channel, follow_leader, Exit, LearnerHandle, NetError};
use zk_quorum::zab::packet::{self, DEFAULT_MAX_BUFFER};
use zk_server::txn::{Txn, TxnBody};

const OURS: i64 = 3;
const SESSION_TIMEOUT: i32 = 60_000;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

fn learner_config(kind: LearnerKind) -> LearnerConfig {
    LearnerConfig {
        sid: OURS,
        kind,
        config_version: 0,
        tick_time: Duration::from_millis(TICK_MS),
        init_limit: INIT_LIMIT,
        sync_limit: SYNC_LIMIT,
        max_buffer: DEFAULT_MAX_BUFFER,
    }
}

/// Our learner running on the runtime.
struct Running {
    handle: LearnerHandle,
    task: JoinHandle<Result<Exit, NetError>>,
}

fn start_learner(rt: &Runtime, leader: SocketAddr, db: &ServerDb) -> Running {
    start_learner_as(rt, leader, db, LearnerKind::Follower)
}

fn start_learner_as(rt: &Runtime, leader: SocketAddr, db: &ServerDb, kind: LearnerKind) -> Running {
    let (handle, mut control) = control_channel();
    let mut db = db.clone();
    let cfg = learner_config(kind);
    let task = rt.spawn(async move { follow_leader(leader, cfg, &mut db, &mut control).await });
    Running { handle, task }
}

impl Running {
    fn stop(self, rt: &Runtime) {
        self.handle.shutdown();
        let r = rt.block_on(self.task).expect("learner task");
        assert!(matches!(r, Ok(Exit::Shutdown)), "learner ended with {r:?}");
    }

    fn assert_alive(&self) {
        assert!(!self.task.is_finished(), "the learner session ended early");
    }
}

fn wait_until(what: &str, timeout: Duration, ens: &Ensemble, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        if Instant::now() > end {
            panic!("timed out waiting for {what}\n{}", ens.logs_tail());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until our tree has every txn the leader has, then compare it with what the leader
/// serves.
fn assert_in_sync(ens: &Ensemble, leader: i64, c: &mut Client, db: &ServerDb, run: &Running) {
    c.sync("/");
    let target = ens.member(leader).zxid().expect("leader zxid");
    wait_until(
        "UPTODATE and the leader's zxid",
        Duration::from_secs(20),
        ens,
        || {
            run.assert_alive();
            let s = db.state();
            s.serving.is_some() && s.tree.last_zxid >= target
        },
    );
    assert_same_tree(c, db);
}

/// Every path the Java node serves, with data, Stat, ACL and children, is in our tree, and
/// nothing else is. `/zookeeper/config` is skipped: each server writes its own copy of it
/// (mtime included) from its local config, outside of any txn.
fn assert_same_tree(c: &mut Client, db: &ServerDb) {
    let java = dump(c);
    let s = db.state();
    let tree = &s.tree;
    for (path, z) in &java {
        if path == "/zookeeper/config" {
            continue;
        }
        let n = tree
            .node(path)
            .unwrap_or_else(|| panic!("{path} is missing from our tree"));
        assert_eq!(n.data, z.data, "data of {path}");
        assert_eq!(n.stat(true), z.stat, "stat of {path}");
        assert_eq!(n.acl.as_slice(), z.acl.as_slice(), "acl of {path}");
        let mut children: Vec<&str> = n.children.iter().collect();
        children.sort();
        assert_eq!(children, z.children, "children of {path}");
    }
    assert_eq!(tree.node_count(), java.len(), "number of nodes");
    assert!(
        s.digest_mismatches.is_empty(),
        "digest mismatches at {:x?}",
        s.digest_mismatches
    );
}

/// The txns `populate` writes.
const POPULATE_TXNS: u64 = 20;

/// A mix of everything a tree holds: nested nodes, binary and large data, sequential,
/// ephemeral (owned by `c`'s session), container, TTL, an ACL'd node, changed and deleted
/// nodes.
fn populate(c: &mut Client, prefix: &str) {
    let p = |s: &str| format!("{prefix}{s}");
    c.create(&p(""), b"root", open_acl(), 0).unwrap();
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        c.create(
            &p(&format!("/{name}")),
            format!("data {i}").as_bytes(),
            open_acl(),
            0,
        )
        .unwrap();
    }
    c.create(&p("/a/deep"), &[0, 1, 2, 0, 255], open_acl(), 0)
        .unwrap();
    c.create(&p("/big"), &vec![b'x'; 100_000], open_acl(), 0)
        .unwrap();
    for _ in 0..3 {
        c.create(&p("/seq-"), b"s", open_acl(), 2).unwrap();
    }
    c.create(&p("/eph"), b"mine", open_acl(), 1).unwrap();
    c.create(&p("/container"), b"", open_acl(), 4).unwrap();
    c.create(&p("/container/child"), b"c", open_acl(), 0)
        .unwrap();
    c.create_ttl(&p("/ttl"), b"t", 3_600_000).unwrap();
    let auth_acl = vec![jute::data::Acl {
        perms: ops::perms::ALL,
        id: jute::data::Id {
            scheme: "auth".into(),
            id: "".into(),
        },
    }];
    c.create(&p("/secure"), b"secret", auth_acl, 0).unwrap();
    c.set_data(&p("/a"), b"changed once").unwrap();
    c.set_data(&p("/a"), b"changed twice").unwrap();
    c.delete(&p("/e")).unwrap();
    c.create(&p("/empty"), b"", open_acl(), 0).unwrap();
}

fn other_java(ens: &Ensemble, leader: i64) -> i64 {
    ens.members
        .iter()
        .find(|m| m.is_java() && m.sid != leader)
        .expect("a Java follower")
        .sid
}

#[test]
fn fresh_learner_syncs_by_snap_and_follows_a_java_leader() {
    init_tracing();
    let mut ens = Ensemble::start("snap", 3, &[OURS]);
    let leader = ens.wait_for_leader(Duration::from_secs(60));
    let follower = other_java(&ens, leader);
    let rt = Runtime::new().unwrap();

    let mut c = Client::connect(ens.member(leader).client_addr(), SESSION_TIMEOUT).unwrap();
    c.add_digest_auth("user:secret");
    populate(&mut c, "/before");

    let db = ServerDb::open(&ens.member(OURS).dir.join("data"));
    let run = start_learner(&rt, ens.member(leader).quorum_addr(), &db);
    wait_until("UPTODATE", Duration::from_secs(30), &ens, || {
        run.assert_alive();
        db.state().serving.is_some()
    });
    {
        let s = db.state();
        assert_eq!(s.syncs.len(), 1);
        assert_eq!(
            s.syncs[0].0,
            SyncMode::Snap,
            "a fresh learner gets a snapshot"
        );
        let epoch = s.serving.unwrap();
        assert_eq!(s.accepted_epoch, epoch);
        assert_eq!(s.current_epoch, epoch);
        assert!(s.snapshots_taken >= 1, "the SNAP is saved at NEWLEADER");
    }
    assert_in_sync(&ens, leader, &mut c, &db, &run);

    // REVALIDATE of a live session and of an unknown one; then a client `sync` forwarded as a
    // REQUEST (the leader answers it with SYNC). The revalidated session is ours from then on
    // (the leader makes us its owner), so it is a separate one.
    let other = Client::connect(ens.member(leader).client_addr(), SESSION_TIMEOUT).unwrap();
    let bogus = 0x7f00_0000_0000_0001;
    run.handle.send(packet::revalidate_request(
        other.session_id,
        SESSION_TIMEOUT,
    ));
    run.handle
        .send(packet::revalidate_request(bogus, SESSION_TIMEOUT));
    wait_until("REVALIDATE answers", Duration::from_secs(10), &ens, || {
        db.state().revalidations.len() == 2
    });
    assert_eq!(
        db.state().revalidations,
        vec![(other.session_id, true), (bogus, false)]
    );
    let sync_body = jute::proto::SyncRequest { path: "/".into() };
    run.handle.send(packet::request(
        other.session_id,
        1,
        ops::SYNC,
        &jute::Encode::to_bytes(&sync_body),
        vec![],
    ));
    wait_until("the leader's SYNC", Duration::from_secs(10), &ens, || {
        db.state().syncs_answered == 1
    });

    // Proposals after the sync, written through the Java follower (forwarded to the leader).
    let mut cf = Client::connect(ens.member(follower).client_addr(), SESSION_TIMEOUT).unwrap();
    cf.add_digest_auth("user:secret");
    let applied_before = db.state().applied;
    populate(&mut cf, "/after");
    cf.delete("/before/b").unwrap();
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    {
        let s = db.state();
        assert!(
            s.applied >= applied_before + POPULATE_TXNS,
            "broadcast txns were applied"
        );
        assert!(s.logged >= s.applied - applied_before, "and logged first");
        assert!(s.digests_checked > 20, "the leader sends digests");
        assert_eq!(
            jute::Zxid::from(s.tree.last_zxid).epoch(),
            s.serving.unwrap()
        );
    }
    drop(cf);

    // Now the leader has only us: it stays leader only while our PING replies keep coming,
    // and a write commits only with our ACK.
    ens.member_mut(follower).kill();
    let hold = Duration::from_millis(TICK_MS * SYNC_LIMIT as u64 * 3);
    let end = Instant::now() + hold;
    let mut n = 0;
    while Instant::now() < end {
        c.create(&format!("/alone-{n}"), b"acked by zk-rs", open_acl(), 0)
            .unwrap_or_else(|e| {
                panic!(
                    "write {n} with only our ACK failed: {e}\n{}",
                    ens.logs_tail()
                )
            });
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        ens.member(leader).mode().as_deref(),
        Some("leader"),
        "the Java leader kept its quorum with us for {hold:?}\n{}",
        ens.logs_tail()
    );
    assert!(!ens
        .member(leader)
        .log()
        .contains("Closing connection to peer due to transaction timeout"));
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    run.stop(&rt);
}

#[test]
fn restarted_learner_syncs_by_diff_and_trunc() {
    init_tracing();
    let ens = Ensemble::start("diff", 3, &[OURS]);
    let leader = ens.wait_for_leader(Duration::from_secs(60));
    let quorum = ens.member(leader).quorum_addr();
    let data_dir = ens.member(OURS).dir.join("data");
    let rt = Runtime::new().unwrap();
    let mut c = Client::connect(ens.member(leader).client_addr(), SESSION_TIMEOUT).unwrap();
    c.add_digest_auth("user:secret");
    populate(&mut c, "/one");

    // Run 1: fresh, by SNAP.
    let db = ServerDb::open(&data_dir);
    let run = start_learner(&rt, quorum, &db);
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    let synced_to = db.state().tree.last_zxid;
    run.stop(&rt);
    drop(db);

    // Meanwhile the ensemble moves on.
    populate(&mut c, "/two");
    c.set_data("/one/a", b"while we were away").unwrap();
    c.delete("/one/c").unwrap();

    // Run 2: restart from our disk, by DIFF.
    let db = ServerDb::open(&data_dir);
    assert_eq!(
        db.state().tree.last_zxid,
        synced_to,
        "our disk kept the first sync"
    );
    let run = start_learner(&rt, quorum, &db);
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    {
        let s = db.state();
        assert_eq!(s.syncs.len(), 1);
        assert_eq!(
            s.syncs[0].0,
            SyncMode::Diff,
            "a learner a few txns behind gets a DIFF"
        );
        assert_eq!(s.snapshots_taken, 0, "no snapshot after a DIFF");
        assert!(s.applied >= POPULATE_TXNS);
    }
    // Broadcast after a DIFF too.
    c.create("/two/more", b"m", open_acl(), 0).unwrap();
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    run.stop(&rt);
    drop(db);

    // Run 3: we logged a txn the leader never had (as a deposed leader might): TRUNC.
    let leader_zxid = ens.member(leader).zxid().unwrap();
    let db = ServerDb::open(&data_dir);
    assert_eq!(db.state().tree.last_zxid, leader_zxid);
    db.append_local_txn(&Txn {
        hdr: TxnHeader {
            client_id: 0,
            cxid: 0,
            zxid: leader_zxid + 1,
            time: 1,
            r#type: ops::SET_DATA,
        },
        body: TxnBody::SetData(SetDataTxn {
            path: "/one/a".into(),
            data: Some(bytes::Bytes::from_static(b"never committed")),
            version: 99,
        }),
    });
    drop(db);
    let db = ServerDb::open(&data_dir);
    assert_eq!(db.state().tree.last_zxid, leader_zxid + 1);
    let run = start_learner(&rt, quorum, &db);
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    {
        let s = db.state();
        assert_eq!(s.syncs, vec![(SyncMode::Trunc, leader_zxid)]);
        assert_eq!(
            s.snapshots_taken, 1,
            "TRUNC is saved by a snapshot at NEWLEADER"
        );
    }
    c.set_data("/one/a", b"after trunc").unwrap();
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    run.stop(&rt);

    // And the disk agrees: a restart loads the same tree.
    let reopened = ServerDb::open(&data_dir);
    assert_same_tree(&mut c, &reopened);
}

#[test]
fn observer_learns_by_inform() {
    init_tracing();
    let ens = Ensemble::start_with("observer", 3, &[OURS], &[OURS]);
    let leader = ens.wait_for_leader(Duration::from_secs(60));
    let rt = Runtime::new().unwrap();
    let mut c = Client::connect(ens.member(leader).client_addr(), SESSION_TIMEOUT).unwrap();
    c.add_digest_auth("user:secret");
    populate(&mut c, "/before");

    let db = ServerDb::open(&ens.member(OURS).dir.join("data"));
    let quorum = ens.member(leader).quorum_addr();
    let run = start_learner_as(&rt, quorum, &db, LearnerKind::Observer);
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    assert_eq!(db.state().syncs[0].0, SyncMode::Snap);
    let applied_before = db.state().applied;
    populate(&mut c, "/after");
    assert_in_sync(&ens, leader, &mut c, &db, &run);
    {
        let s = db.state();
        assert!(
            s.applied >= applied_before + POPULATE_TXNS,
            "INFORMs were applied"
        );
        assert!(s.logged >= s.applied - applied_before, "and logged");
    }
    let log = ens.member(leader).log();
    assert!(log.contains("Follower sid: 3"), "the leader saw us");
    run.stop(&rt);
}
