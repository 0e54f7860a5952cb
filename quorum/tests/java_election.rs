//! Leader election against real Java 3.8 nodes (Debian's `zookeeper` package), all on
//! 127.0.0.1 with free ports.
//!
//! * three of our election nodes elect the highest (epoch, zxid, sid);
//! * two Java nodes and one of ours agree on the leader, whoever should win (ours by sid, by
//!   zxid, or a Java node by sid);
//! * ours, started after two Java nodes formed an ensemble, follows their leader.
//!
//! The Java nodes' outcome is read with [`probe`]: Java answers a stranger (a sid that is not
//! a voter) with its current vote and state, the way it answers observers. Where the Java
//! ensemble can run without us, `srvr` confirms it. The tests fail (not skip) when Java is
//! missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use compat_tests::ports::test_port;
use zk_quorum::election::fle::{FleConfig, Outcome};
use zk_quorum::election::net::{probe, ElectionHandle, NetConfig};
use zk_quorum::election::wire::{Notification, ServerState};
use zk_quorum::verifier::{QuorumMaj, QuorumServer};

const JAVA: &str = "/usr/bin/java";
const JARS: &[&str] = &[
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
/// A sid above every member's: Java keeps a connection from it and answers it as a non-voter.
const PROBE_SID: i64 = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(60);

fn require_java() {
    let missing: Vec<&str> = std::iter::once(JAVA)
        .chain(JARS.iter().copied())
        .filter(|p| !Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "these interop tests need Java ZooKeeper 3.8 (apt-get install zookeeper \
         default-jdk-headless); missing: {missing:?}"
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "zk-quorum-fle-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ports of an ensemble of `n` servers with sids 1..=n.
struct Ensemble {
    dir: PathBuf,
    view: QuorumMaj,
    client_ports: Vec<u16>,
}

impl Ensemble {
    fn new(name: &str, n: i64) -> Ensemble {
        let servers = (1..=n)
            .map(|sid| {
                let spec = format!("127.0.0.1:{}:{}", test_port(), test_port());
                QuorumServer::parse(sid, &spec).unwrap()
            })
            .collect();
        Ensemble {
            dir: scratch_dir(name),
            view: QuorumMaj::new(servers, 0),
            client_ports: (0..n).map(|_| test_port()).collect(),
        }
    }

    fn election_addr(&self, sid: i64) -> String {
        self.view.server(sid).unwrap().election_addr()
    }

    fn client_port(&self, sid: i64) -> u16 {
        self.client_ports[(sid - 1) as usize]
    }

    async fn ours(&self, sid: i64) -> ElectionHandle {
        ElectionHandle::bind(NetConfig::new(FleConfig::new(sid, self.view.clone())))
            .await
            .expect("our election port")
    }

    fn java(&self, sid: i64) -> JavaNode {
        require_java();
        let dir = self.dir.join(format!("java{sid}"));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{sid}\n")).unwrap();
        let mut cfg = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display(),
            self.client_port(sid)
        );
        for s in self.view.servers() {
            cfg.push_str(&format!(
                "server.{}=127.0.0.1:{}:{}\n",
                s.sid, s.quorum_port, s.election_port
            ));
        }
        let cfg_path = dir.join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = dir.join("server.log");
        std::fs::write(
            dir.join("log4j.properties"),
            format!(
                "log4j.rootLogger=INFO, FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n\
                 log4j.appender.FILE.File={}\nlog4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} - %-5p [%t:%C{{1}}@%L] - %m%n\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new(JAVA)
            .arg("-Xmx128m")
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                dir.join("log4j.properties").display()
            ))
            .arg("-Dzookeeper.admin.enableServer=false")
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start java");
        JavaNode {
            sid,
            child,
            log,
            election: self.election_addr(sid),
            client_port: self.client_port(sid),
        }
    }
}

struct JavaNode {
    sid: i64,
    child: Child,
    log: PathBuf,
    election: String,
    client_port: u16,
}

impl Drop for JavaNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl JavaNode {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls the node's election port until it has left LOOKING; returns its answer.
    /// Whether `n`, this node's answer to a probe, reports a finished election. Java answers
    /// with its peer state and its current vote, read separately: it sets FOLLOWING or LEADING
    /// in `lookForLeader` and stores the winning vote only after that returns, so for a moment
    /// a follower answers with the vote it started with (itself as leader). Such an answer is
    /// not a decision yet.
    fn has_decided(&self, n: &Notification) -> bool {
        match n.server_state() {
            Some(ServerState::Leading) => n.leader == self.sid,
            Some(ServerState::Following | ServerState::Observing) => n.leader != self.sid,
            _ => false,
        }
    }

    async fn decided_vote(&mut self) -> Notification {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "java node {} exited ({status}):\n{}",
                    self.sid,
                    self.log_tail()
                );
            }
            match probe(&self.election, PROBE_SID, Duration::from_secs(2)).await {
                Ok(n) if self.has_decided(&n) => return n,
                Ok(n) => last = Some(n),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "java node {} did not leave LOOKING in {TIMEOUT:?} (last answer {last:?}):\n{}",
            self.sid,
            self.log_tail()
        );
    }

    /// Fails if Java complained about anything we sent on the election port.
    fn assert_no_election_complaints(&self) {
        const COMPLAINTS: &[&str] = &[
            "Initial message parsing error",
            "Got a short response",
            "Skipping the processing of a partial / malformed",
            "Something went wrong while processing config",
            "Ignoring notification",
            "connection request from a server with our own ID",
        ];
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            log.contains("Notification:"),
            "java node {}: no election log at {}",
            self.sid,
            self.log.display()
        );
        for line in log.lines() {
            assert!(
                !COMPLAINTS.iter().any(|c| line.contains(c)),
                "java node {} complained: {line}",
                self.sid
            );
        }
    }

    /// Waits until the node runs `lookForLeader` (its answers carry a round >= 1).
    async fn wait_electing(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "java node {} exited ({status}):\n{}",
                    self.sid,
                    self.log_tail()
                );
            }
            match probe(&self.election, PROBE_SID, Duration::from_secs(2)).await {
                Ok(n) if n.election_epoch >= 1 => return,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!(
            "java node {} never started electing:\n{}",
            self.sid,
            self.log_tail()
        );
    }

    /// `srvr`'s `Mode:` line once the node serves (leader / follower).
    async fn serving_mode(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(mode) = four_letter(self.client_port, "srvr")
                .lines()
                .find_map(|l| l.strip_prefix("Mode: ").map(str::to_string))
            {
                return mode;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("java node {} never served:\n{}", self.sid, self.log_tail());
    }
}

/// Accepts connections on `addr` and keeps them open without a word until dropped.
fn hold_connections(addr: &str) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).expect("bind our quorum port");
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    })
}

fn four_letter(port: u16, cmd: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(cmd.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

async fn elect(node: &ElectionHandle, zxid: i64, epoch: i64) -> Outcome {
    tokio::time::timeout(TIMEOUT, node.look_for_leader(zxid.into(), epoch))
        .await
        .expect("our election did not finish")
        .expect("our election failed")
}

fn assert_java_follows(n: &Notification, leader: i64, sid: i64) {
    let expected = if leader == sid {
        ServerState::Leading
    } else {
        ServerState::Following
    };
    assert_eq!(n.server_state(), Some(expected), "java {sid}: {n:?}");
    assert_eq!(n.leader, leader, "java {sid}: {n:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_ours_elect_the_highest_zxid() {
    let ens = Ensemble::new("ours3", 3);
    let nodes = [ens.ours(1).await, ens.ours(2).await, ens.ours(3).await];
    let state = [(0x1_0000_0003, 1), (0x1_0000_0007, 1), (0x1_0000_0005, 1)];
    let (o1, o2, o3) = tokio::join!(
        elect(&nodes[0], state[0].0, state[0].1),
        elect(&nodes[1], state[1].0, state[1].1),
        elect(&nodes[2], state[2].0, state[2].1),
    );
    for (i, o) in [o1, o2, o3].iter().enumerate() {
        let sid = i as i64 + 1;
        assert_eq!(o.vote.leader, 2, "server {sid}: {o:?}");
        assert_eq!(o.vote.zxid, jute::Zxid::from(0x1_0000_0007));
        let expected = if sid == 2 {
            ServerState::Leading
        } else {
            ServerState::Following
        };
        assert_eq!(o.state, expected);
        // And each answers a stranger as Java would.
        let n = probe(&ens.election_addr(sid), PROBE_SID, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((n.server_state(), n.leader), (Some(expected), 2));
    }
    for node in nodes {
        node.shutdown().await;
    }
}

/// Two Java nodes and ours (sid `our_sid`, announcing `zxid`/`epoch`) elect; everyone must
/// agree on `leader`. When ours should win, it is LOOKING before the JVMs start; when a Java
/// node should win, ours starts once both Java nodes are electing (else ours and the first
/// JVM could legitimately elect the better of those two before the second JVM is up).
async fn mixed(name: &str, our_sid: i64, zxid: i64, epoch: i64, leader: i64) {
    require_java();
    let ens = Ensemble::new(name, 3);
    let ours = ens.ours(our_sid).await;
    // When ours leads, the Java followers connect to its quorum port. Nothing here speaks ZAB
    // yet: hold their connections unanswered, so that they stay FOLLOWING (waiting for
    // LEADERINFO, initLimit * tickTime) instead of giving up at once and re-electing.
    let _quorum_port = (leader == our_sid)
        .then(|| hold_connections(&ens.view.server(our_sid).unwrap().quorum_addr()));
    let java_sids: Vec<i64> = (1..=3).filter(|s| *s != our_sid).collect();
    let (outcome, mut javas) = if leader == our_sid {
        tokio::join!(elect(&ours, zxid, epoch), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            java_sids.iter().map(|s| ens.java(*s)).collect::<Vec<_>>()
        })
    } else {
        let mut javas: Vec<JavaNode> = java_sids.iter().map(|s| ens.java(*s)).collect();
        for java in &mut javas {
            java.wait_electing().await;
        }
        (elect(&ours, zxid, epoch).await, javas)
    };
    assert_eq!(outcome.vote.leader, leader, "our outcome {outcome:?}");
    let expected = if leader == our_sid {
        ServerState::Leading
    } else {
        ServerState::Following
    };
    assert_eq!(outcome.state, expected);
    for java in &mut javas {
        let n = java.decided_vote().await;
        assert_java_follows(&n, leader, java.sid);
        if leader == our_sid {
            assert_eq!(
                (n.zxid, n.peer_epoch),
                (zxid, epoch),
                "java {} took our vote",
                java.sid
            );
        }
    }
    for java in &javas {
        java.assert_no_election_complaints();
    }
    if leader != our_sid {
        // The two Java nodes are a quorum on their own: they really serve now.
        for java in &mut javas {
            let mode = java.serving_mode().await;
            let expected = if java.sid == leader {
                "leader"
            } else {
                "follower"
            };
            assert_eq!(mode, expected, "java {}", java.sid);
        }
    }
    ours.shutdown().await;
    drop(javas);
    let _ = std::fs::remove_dir_all(&ens.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_ours_wins_by_sid() {
    mixed("ours-sid", 3, 0, 0, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_java_wins_by_sid() {
    mixed("java-sid", 1, 0, 0, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_ours_wins_by_zxid() {
    // Lowest sid, but a zxid the fresh Java nodes (zxid 0) don't have.
    mixed("ours-zxid", 1, 0x5, 0, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_ours_wins_by_epoch() {
    mixed("ours-epoch", 2, 0x1_0000_0000, 1, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_joins_a_running_java_ensemble() {
    require_java();
    let ens = Ensemble::new("join", 3);
    let mut javas = vec![ens.java(1), ens.java(2)];
    // The Java pair elects 2 (equal zxids, higher sid) and serves.
    for java in &mut javas {
        let n = java.decided_vote().await;
        assert_java_follows(&n, 2, java.sid);
    }
    assert_eq!(javas[1].serving_mode().await, "leader");
    assert_eq!(javas[0].serving_mode().await, "follower");
    // Ours has the highest sid and zxid, yet must follow the established leader.
    let ours = ens.ours(3).await;
    let outcome = elect(&ours, 0x9, 0).await;
    assert_eq!(outcome.state, ServerState::Following, "{outcome:?}");
    assert_eq!(outcome.vote.leader, 2, "{outcome:?}");
    assert_eq!(outcome.vote.peer_epoch, 1, "the ensemble's new epoch");
    // Java's ensemble was not disturbed.
    assert_eq!(javas[1].serving_mode().await, "leader");
    for java in &javas {
        java.assert_no_election_complaints();
    }
    ours.shutdown().await;
    drop(javas);
    let _ = std::fs::remove_dir_all(&ens.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_wins_by_epoch_after_a_restart() {
    require_java();
    let ens = Ensemble::new("epoch", 3);
    // A first life of the Java pair moves their currentEpoch to 1.
    {
        let mut javas = [ens.java(1), ens.java(2)];
        assert_eq!(javas[1].serving_mode().await, "leader");
        assert_eq!(javas[0].serving_mode().await, "follower");
    }
    // Second life: ours (highest sid, a big zxid, but epoch 0) is LOOKING before they start.
    let ours = ens.ours(3).await;
    let (outcome, mut javas) = tokio::join!(elect(&ours, 0xffff, 0), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        vec![ens.java(1), ens.java(2)]
    });
    assert_eq!(outcome.state, ServerState::Following, "{outcome:?}");
    assert!([1, 2].contains(&outcome.vote.leader), "{outcome:?}");
    assert_eq!(
        outcome.vote.peer_epoch, 1,
        "the Java nodes' epoch beats our zxid: {outcome:?}"
    );
    for java in &mut javas {
        let n = java.decided_vote().await;
        assert_java_follows(&n, outcome.vote.leader, java.sid);
    }
    ours.shutdown().await;
    drop(javas);
    let _ = std::fs::remove_dir_all(&ens.dir);
}
