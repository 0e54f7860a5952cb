//! Our leader with Java 3.8 learners: an ensemble of four where nodes 1 and 2 are Java
//! participants, node 3 (the highest voting sid) is ours, running our election and then our
//! leader on its quorum port, and node 4 is a Java observer. With empty databases our node
//! wins the election and the Java nodes follow (observe) it. Checked:
//!
//! - the Java nodes connect, are synchronised and say `Mode: follower` / `Mode: observer`;
//! - txns proposed through our leader's API reach a Java follower and the observer (by
//!   INFORM), which serve them to a client with the same data and Stat as our tree;
//! - client writes on a Java follower come to us as REQUEST packets (createSession and
//!   create2, with the client's session id and cxid); the test answers them with txns (a
//!   tiny stand-in for the request pipeline) and the Java follower answers its client;
//! - a killed and restarted Java follower is synchronised by DIFF with the txns it missed;
//! - a Java follower restarted without its data is rebuilt from our SNAP stream (same tree,
//!   no digest complaints from Java); it finds us through our election, whose vote carries
//!   the new epoch once we are established (Java's `updateElectionVote`).
//!
//! Needs Java and the Debian `zookeeper` package. `ZAB_KEEP=1` keeps the folders of a failed
//! run.

mod zab_common;

use bytes::{Bytes, BytesMut};
use jute::ops;
use jute::proto::CreateRequest;
use jute::txn::{CreateSessionTxn, CreateTxn, TxnHeader};
use jute::{Decode, Encode};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use zab_common::client::{dump, open_acl, Client};
use zab_common::db::ServerDb;
use zab_common::java::{Ensemble, INIT_LIMIT, SYNC_LIMIT, TICK_MS};
use zk_quorum::election::fle::FleConfig;
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::election::wire::ServerState;
use zk_quorum::verifier::{QuorumMaj, QuorumServer};
use zk_quorum::zab::db::{DbError, LearnerDb};
use zk_quorum::zab::leader::{LeaderConfig, LearnerMessage, SyncKind};
use zk_quorum::zab::leader_net::{self, Event, LeaderDb, LeaderHandle};
use zk_quorum::zab::learner::PersistedState;
use zk_quorum::zab::packet::SNAP_SIGNATURE;
use zk_server::persist::snapshot;
use zk_server::persist::txnlog;
use zk_server::txn::{Txn, TxnBody};

const OURS: i64 = 3;
const OBSERVER: i64 = 4;
const SESSION_TIMEOUT: i32 = 60_000;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// The leader's database: the learner tests' [`ServerDb`] (tree, Java-format log and
/// snapshots, epoch files), plus the SNAP stream.
#[derive(Clone)]
struct Store(ServerDb);

impl LeaderDb for Store {
    fn persisted_state(&self) -> PersistedState {
        self.0.persisted_state()
    }
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        self.0.set_accepted_epoch(epoch)
    }
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), DbError> {
        self.0.set_current_epoch(epoch)
    }
    fn append_log(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        self.0.append_log(zxid, entry)
    }
    fn sync_log(&mut self) -> Result<(), DbError> {
        self.0.sync_log()
    }
    fn roll_log(&mut self) -> Result<(), DbError> {
        LearnerDb::roll_log(&mut self.0)
    }
    fn apply(&mut self, zxid: i64, entry: &Bytes) -> Result<(), DbError> {
        LearnerDb::apply(&mut self.0, zxid, entry)
    }
    fn snapshot_stream(&mut self, zxid: i64, out: &mut BytesMut) -> Result<(), DbError> {
        // A snapshot file without its file header (magic, version, dbid: 16 bytes) and its
        // seal (Adler32 long, "/": 13 bytes) is the stream body.
        let mut file = Vec::new();
        snapshot::serialize(&self.0.state().tree, zxid, false, &mut file)?;
        out.extend_from_slice(&file[16..file.len() - 13]);
        SNAP_SIGNATURE.to_string().encode(out);
        Ok(())
    }
    fn established(&mut self, _epoch: i64, zxid: i64) -> Result<(), DbError> {
        let mut s = self.0.state();
        s.tree.last_zxid = s.tree.last_zxid.max(zxid);
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn entry(session: i64, cxid: i32, zxid: i64, op: i32, body: TxnBody) -> Bytes {
    let txn = Txn {
        hdr: TxnHeader {
            client_id: session,
            cxid,
            zxid,
            time: now_ms(),
            r#type: op,
        },
        body,
    };
    txnlog::encode_entry(&txn, None)
}

/// A CreateTxn for `path` whose parent's cversion is read from our tree (txns are proposed
/// one at a time here, so the tree has every earlier one).
fn create_body(db: &ServerDb, path: &str, data: &[u8], ephemeral: bool) -> TxnBody {
    let parent = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    };
    let cversion = db.state().tree.node(parent).map_or(0, |n| n.stat.cversion);
    TxnBody::Create(CreateTxn {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: open_acl(),
        ephemeral,
        parent_c_version: cversion + 1,
    })
}

/// A forwarded request as seen by our leader: (sid, session, cxid, op).
type SeenRequest = (i64, i64, i32, i32);

/// Our node: election, then the leader, and a stand-in request pipeline for the requests
/// the Java learners forward.
struct Ours {
    rt: Runtime,
    db: ServerDb,
    handle: LeaderHandle,
    /// Every REQUEST seen: (sid, session, cxid, op).
    requests: Arc<Mutex<Vec<SeenRequest>>>,
    /// Every sync of a learner: (sid, kind, zxid).
    syncs: Arc<Mutex<Vec<(i64, SyncKind, i64)>>>,
    committed: Arc<Mutex<i64>>,
}

fn view(ens: &Ensemble) -> QuorumMaj {
    QuorumMaj::new(
        ens.members
            .iter()
            .map(|m| {
                let role = if m.sid == OBSERVER { ":observer" } else { "" };
                QuorumServer::parse(
                    m.sid,
                    &format!("127.0.0.1:{}:{}{role}", m.quorum_port, m.election_port),
                )
                .unwrap()
            })
            .collect(),
        0,
    )
}

impl Ours {
    /// Bind the election and quorum ports at once (before the Java nodes are up), elect,
    /// and lead.
    fn start(ens: &Ensemble) -> Ours {
        let rt = Runtime::new().unwrap();
        let db = ServerDb::open(&ens.member(OURS).dir.join("data"));
        let view = view(ens);
        let me = ens.member(OURS);
        let listener = rt
            .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, me.quorum_port)))
            .expect("quorum port");
        let election = rt
            .block_on(ElectionHandle::bind(NetConfig::new(FleConfig::new(
                OURS,
                view.clone(),
            ))))
            .expect("election port");
        let st = db.persisted_state();
        let outcome = rt
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(60),
                    election.look_for_leader(st.last_zxid, st.current_epoch),
                )
                .await
            })
            .expect("election in time")
            .expect("election");
        assert_eq!(outcome.state, ServerState::Leading, "{outcome:?}");
        // The election keeps answering LOOKING peers (a restarted Java node) with our vote;
        // once established, with our new epoch in it (Java's `updateElectionVote`).
        let election = Arc::new(election);

        let mut cfg = LeaderConfig::new(OURS, view);
        cfg.tick_time = Duration::from_millis(TICK_MS);
        cfg.init_limit = INIT_LIMIT;
        cfg.sync_limit = SYNC_LIMIT;
        let (handle, control) = leader_net::control_channel();
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
        let mut store = Store(db.clone());
        rt.spawn(async move {
            let r = leader_net::lead(listener, cfg, &mut store, control, ev_tx).await;
            tracing::warn!("our leader stopped: {r:?}");
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let syncs = Arc::new(Mutex::new(Vec::new()));
        let committed = Arc::new(Mutex::new(0));
        {
            let (requests, syncs, committed) = (requests.clone(), syncs.clone(), committed.clone());
            let (handle, db) = (handle.clone(), db.clone());
            let election = election.clone();
            rt.spawn(async move {
                while let Some(ev) = ev_rx.recv().await {
                    match ev {
                        Event::FromLearner(LearnerMessage::Request {
                            sid,
                            session_id,
                            cxid,
                            op,
                            body,
                            ..
                        }) => {
                            requests.lock().unwrap().push((sid, session_id, cxid, op));
                            prep(&handle, &db, session_id, cxid, op, body).await;
                        }
                        // After the proposals of that learner's earlier requests, which
                        // `prep` above has submitted.
                        Event::FromLearner(LearnerMessage::Sync { from, .. }) => handle.sync(from),
                        Event::Synced { sid, kind, zxid } => {
                            syncs.lock().unwrap().push((sid, kind, zxid))
                        }
                        Event::Committed { zxid } => *committed.lock().unwrap() = zxid,
                        Event::Established { epoch } => election.update_peer_epoch(epoch),
                        Event::FromLearner(LearnerMessage::Revalidate {
                            from, session_id, ..
                        }) => handle.revalidated(from, session_id, true),
                        _ => {}
                    }
                }
            });
        }
        Ours {
            rt,
            db,
            handle,
            requests,
            syncs,
            committed,
        }
    }

    /// Propose a create of `path` and wait for its commit.
    fn create(&self, path: &str, data: &[u8]) -> i64 {
        let db = self.db.clone();
        let (path, data) = (path.to_string(), data.to_vec());
        let zxid = self
            .rt
            .block_on(self.handle.propose(move |zxid| {
                entry(
                    0,
                    0,
                    zxid,
                    ops::CREATE,
                    create_body(&db, &path, &data, false),
                )
            }))
            .expect("propose");
        self.wait_committed(zxid);
        zxid
    }

    fn wait_committed(&self, zxid: i64) {
        let end = Instant::now() + Duration::from_secs(10);
        while *self.committed.lock().unwrap() < zxid {
            assert!(Instant::now() < end, "0x{zxid:x} not committed in time");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn syncs_of(&self, sid: i64) -> Vec<(SyncKind, i64)> {
        self.syncs
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.0 == sid)
            .map(|s| (s.1, s.2))
            .collect()
    }
}

/// The request pipeline's stand-in: createSession and create / create2 become txns; the rest
/// is ignored.
async fn prep(h: &LeaderHandle, db: &ServerDb, session: i64, cxid: i32, op: i32, body: Bytes) {
    let r = match op {
        ops::CREATE_SESSION => {
            let time_out = if body.len() >= 4 {
                i32::from_be_bytes(body[..4].try_into().unwrap())
            } else {
                SESSION_TIMEOUT
            };
            h.propose(move |zxid| {
                entry(
                    session,
                    cxid,
                    zxid,
                    op,
                    TxnBody::CreateSession(CreateSessionTxn { time_out }),
                )
            })
            .await
        }
        ops::CREATE | ops::CREATE2 => {
            let req = CreateRequest::decode(&mut body.clone()).expect("CreateRequest");
            let db = db.clone();
            h.propose(move |zxid| {
                let data = req.data.clone().unwrap_or_default();
                let body = create_body(&db, &req.path, &data, req.flags & 1 == 1);
                entry(session, cxid, zxid, op, body)
            })
            .await
        }
        _ => return,
    };
    r.expect("propose a forwarded request");
}

fn wait_until(what: &str, timeout: Duration, ens: &Ensemble, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        if Instant::now() > end {
            panic!("timed out waiting for {what}\n{}", ens.logs_tail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Everything the Java node serves is in our tree, with the same data, Stat and children
/// (`/zookeeper/config` is each server's own).
fn assert_same_tree(c: &mut Client, db: &ServerDb) {
    let java = dump(c);
    let s = db.state();
    for (path, z) in &java {
        if path == "/zookeeper/config" {
            continue;
        }
        let n = s
            .tree
            .node(path)
            .unwrap_or_else(|| panic!("{path} is served by Java but not in our tree"));
        assert_eq!(n.data, z.data, "data of {path}");
        assert_eq!(n.stat(true), z.stat, "stat of {path}");
        let mut children: Vec<&str> = n.children.iter().collect();
        children.sort();
        assert_eq!(children, z.children, "children of {path}");
    }
}

/// Start a Java member again with the files the launcher left in its folder.
fn restart_java(ens: &Ensemble, sid: i64) -> Child {
    let m = ens.member(sid);
    let cp = [
        "/etc/zookeeper/conf",
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/zookeeper-jute.jar",
        "/usr/share/java/slf4j-api.jar",
        "/usr/share/java/slf4j-log4j12.jar",
        "/usr/share/java/log4j-1.2.jar",
    ]
    .join(":");
    let out = std::fs::File::create(m.dir.join("stdout2.log")).unwrap();
    Command::new("java")
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(cp)
        .arg(format!(
            "-Dlog4j.configuration=file:{}",
            m.dir.join("log4j.properties").display()
        ))
        .arg("-Dzookeeper.extendedTypesEnabled=true")
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-Dzookeeper.jmx.log4j.disable=true")
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(m.dir.join("zoo.cfg"))
        .current_dir(&m.dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("restart java")
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn java_followers_and_observer_follow_our_leader() {
    init_tracing();
    let mut ens = Ensemble::start_with("jfollow", 4, &[OURS], &[OBSERVER]);
    let ours = Ours::start(&ens);
    for (sid, mode) in [(1, "follower"), (2, "follower"), (OBSERVER, "observer")] {
        wait_until(
            &format!("node {sid} to be a {mode}"),
            Duration::from_secs(60),
            &ens,
            || ens.member(sid).mode().as_deref() == Some(mode),
        );
    }
    for sid in [1, 2, OBSERVER] {
        let s = ours.syncs_of(sid);
        assert_eq!(s.len(), 1, "one sync of {sid}: {s:?}");
        eprintln!("node {sid} synced by {:?}", s[0]);
    }

    // Txns proposed through our API, served by a Java follower.
    let mut last = 0;
    for i in 0..5 {
        last = ours.create(&format!("/direct-{i}"), format!("value {i}").as_bytes());
    }
    let mut c1 = Client::connect(ens.member(1).client_addr(), SESSION_TIMEOUT).unwrap();
    c1.sync("/");
    let (data, stat) = c1.get_data("/direct-3").unwrap();
    assert_eq!(data.as_deref(), Some(&b"value 3"[..]));
    let ours_stat = ours.db.state().tree.node("/direct-3").unwrap().stat(true);
    assert_eq!(stat, ours_stat);
    assert!(last > stat.mzxid);

    // A client write on the Java follower: createSession and create2 come to us.
    let path = c1
        .create("/forwarded", b"through follower 1", open_acl(), 0)
        .expect("create through a Java follower");
    assert_eq!(path, "/forwarded");
    {
        let reqs = ours.requests.lock().unwrap();
        assert!(
            reqs.iter()
                .any(|r| r.0 == 1 && r.1 == c1.session_id && r.3 == ops::CREATE_SESSION),
            "createSession forwarded: {reqs:?}"
        );
        assert!(
            reqs.iter()
                .any(|r| r.0 == 1 && r.1 == c1.session_id && r.2 > 0 && r.3 == ops::CREATE2),
            "create2 forwarded with the session and cxid: {reqs:?}"
        );
    }
    assert_same_tree(&mut c1, &ours.db);

    // The observer learned everything by INFORM.
    let mut c4 = Client::connect(ens.member(OBSERVER).client_addr(), SESSION_TIMEOUT).unwrap();
    c4.sync("/");
    assert_eq!(
        c4.get_data("/forwarded").unwrap().0.as_deref(),
        Some(&b"through follower 1"[..])
    );
    assert_same_tree(&mut c4, &ours.db);
    ours.create("/after-observer", b"x");
    c4.sync("/");
    assert!(c4.get_data("/after-observer").is_ok());

    // Follower 2 goes away; writes go on with 1 and us; when it comes back it gets a DIFF.
    ens.member_mut(2).kill();
    for i in 0..3 {
        ours.create(&format!("/while-2-down-{i}"), b"d");
    }
    let _java2 = KillOnDrop(restart_java(&ens, 2));
    wait_until(
        "node 2 to follow again",
        Duration::from_secs(60),
        &ens,
        || ens.member(2).mode().as_deref() == Some("follower"),
    );
    let s = ours.syncs_of(2);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        s[1].0,
        SyncKind::Diff,
        "a restarted follower gets a DIFF: {s:?}"
    );
    let mut c2 = Client::connect(ens.member(2).client_addr(), SESSION_TIMEOUT).unwrap();
    c2.sync("/");
    assert!(c2.get_data("/while-2-down-2").is_ok());
    assert_same_tree(&mut c2, &ours.db);

    // Everybody still follows after a few syncLimit periods of PINGs.
    std::thread::sleep(Duration::from_millis(TICK_MS * SYNC_LIMIT as u64 * 2));
    for (sid, mode) in [(1, "follower"), (2, "follower"), (OBSERVER, "observer")] {
        assert_eq!(ens.member(sid).mode().as_deref(), Some(mode), "node {sid}");
    }
    let zxid = ours.create("/last", b"l");
    c2.sync("/");
    let (_, stat) = c2.get_data("/last").unwrap();
    assert_eq!(stat.czxid, zxid);

    // Follower 1 loses its disk: our snapshot (with sessions and every node) rebuilds it.
    drop(c1);
    ens.member_mut(1).kill();
    std::fs::remove_dir_all(ens.member(1).dir.join("data/version-2")).unwrap();
    let _java1 = KillOnDrop(restart_java(&ens, 1));
    wait_until(
        "node 1 to follow again",
        Duration::from_secs(60),
        &ens,
        || ens.member(1).mode().as_deref() == Some("follower"),
    );
    let s = ours.syncs_of(1);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        s[1].0,
        SyncKind::Snap,
        "a follower without data gets a SNAP: {s:?}"
    );
    let mut c1 = Client::connect(ens.member(1).client_addr(), SESSION_TIMEOUT).unwrap();
    c1.sync("/");
    assert_same_tree(&mut c1, &ours.db);
    let log = std::fs::read_to_string(ens.member(1).dir.join("zookeeper.log")).unwrap_or_default();
    assert!(
        !log.contains("Digests are not matching"),
        "Java found a digest mismatch"
    );
    ours.handle.shutdown();
}
