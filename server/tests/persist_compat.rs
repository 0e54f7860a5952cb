//! On-disk compatibility with Java ZooKeeper 3.8, both ways. Needs Java and the Debian
//! zookeeper jars (`apt-get install zookeeper default-jdk-headless`); fails with a clear
//! message when they are missing.
//!
//! (a) Java writes: a Java server (snapCount=100, so dozens of snapshots and logs) is driven by
//!     Java's own client (tests/java/ZkDriver.java) with thousands of varied znodes (ephemerals
//!     of live sessions, digest/ip ACLs, containers, TTLs, sequentials, multis, failed writes,
//!     a closed session), then killed with SIGKILL. Our recovery must see exactly what Java's
//!     client saw: every znode, stat, data and ACL, the live sessions, and matching digests.
//!     Our re-encoding of Java's log entries and of Java's snapshot must match Java's bytes.
//!     A torn tail is then made, and Java and we must agree on the result.
//! (b) We write: a tree built by applying txns, a snapshot in the middle, logs with digests.
//!     Java 3.8 starts on it and its client must see exactly our tree, with no digest
//!     mismatch; Java then writes more, and we load its additions back.

use bytes::Bytes;
use compat_tests::ports::test_port;
use jute::data::{Acl, Id, Stat, StatPersisted};
use jute::ops;
use jute::txn::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zk_quorum::zab::leader::COMMIT_LOG_COUNT;
use zk_server::database::{Database, DbOptions};
use zk_server::persist::digest::{tree_digest, DigestTracker};
use zk_server::persist::snapshot::{self, SnapItem, SnapshotOptions};
use zk_server::persist::txnlog::{self, LogOptions, TxnLogReader, TxnLogWriter};
use zk_server::persist::{self, recovery};
use zk_server::tree::{DataTree, Node};
use zk_server::txn::{Txn, TxnBody};

const JARS: &str = "/usr/share/java";

/// The Java ZooKeeper a test runs against: the jars, logging and what each generation writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JavaRef {
    /// Debian's 3.8.0 (`apt-get install zookeeper`), in /usr/share/java.
    V3_8,
    /// 3.9.3 from PyPI's pyspark jars, fetched by tools/install-deps.sh into
    /// `$ZK_JAVA39_DIR` or `~/.cache/zk-rs/java-3.9.3` (as compat-tests' zkharness).
    V3_9,
}

impl JavaRef {
    fn java39_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("ZK_JAVA39_DIR") {
            return d.into();
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
        cache.join("zk-rs").join("java-3.9.3")
    }

    /// The server's jars (its logging binding apart for 3.8).
    fn jars(self) -> Vec<String> {
        match self {
            JavaRef::V3_8 => ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"]
                .iter()
                .map(|j| format!("{JARS}/{j}"))
                .collect(),
            JavaRef::V3_9 => {
                let mut v: Vec<String> = std::fs::read_dir(Self::java39_dir())
                    .map(|d| {
                        d.filter_map(|e| e.ok())
                            .map(|e| e.path())
                            .filter(|p| {
                                let n = p.file_name().unwrap().to_string_lossy();
                                n.ends_with(".jar") && !n.starts_with("curator-")
                            })
                            .map(|p| p.display().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                v.sort();
                v
            }
        }
    }

    /// `extra`, the jars, and for tools and the driver a quiet logging binding (3.9's set
    /// has log4j2, whose default configuration logs only errors).
    fn classpath(self, extra: &[&str]) -> String {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(self.jars());
        if self == JavaRef::V3_8 {
            v.push(format!("{JARS}/slf4j-nop.jar"));
        }
        v.join(":")
    }

    /// Java and the jars, or a clear failure.
    fn require(self) {
        let java = Command::new("java").arg("-version").output();
        let javac = Command::new("javac").arg("-version").output();
        let tools = java.map(|o| o.status.success()).unwrap_or(false)
            && javac.map(|o| o.status.success()).unwrap_or(false);
        match self {
            JavaRef::V3_8 => {
                let jars = [
                    "zookeeper.jar",
                    "zookeeper-jute.jar",
                    "slf4j-api.jar",
                    "slf4j-nop.jar",
                ]
                .iter()
                .all(|j| Path::new(JARS).join(j).exists());
                if !(tools && jars) {
                    panic!(
                        "persist_compat needs Java 3.8 ZooKeeper: `apt-get install -y zookeeper default-jdk-headless` \
                         (java, javac and {JARS}/zookeeper.jar, zookeeper-jute.jar, slf4j-api.jar, slf4j-nop.jar)"
                    );
                }
            }
            JavaRef::V3_9 => {
                let dir = Self::java39_dir();
                let jars = ["zookeeper-3.9.3.jar", "zookeeper-jute-3.9.3.jar"]
                    .iter()
                    .all(|j| dir.join(j).exists());
                if !(tools && jars) {
                    panic!(
                        "persist_compat needs Java ZooKeeper 3.9.3: java and javac \
                         (`apt-get install -y default-jdk-headless`) and the 3.9.3 jars in {} \
                         (run tools/install-deps.sh, or set ZK_JAVA39_DIR)",
                        dir.display()
                    );
                }
            }
        }
    }

    /// Class path entries and JVM options that send the server's log (INFO) to stdout.
    fn server_logging(self, work: &Path) -> (Vec<String>, Vec<String>) {
        match self {
            JavaRef::V3_8 => {
                let conf = Path::new("/etc/zookeeper/conf");
                let log4j = [
                    format!("{JARS}/slf4j-log4j12.jar"),
                    format!("{JARS}/log4j-1.2.jar"),
                ];
                let cp = if conf.join("log4j.properties").exists()
                    && log4j.iter().all(|j| Path::new(j).exists())
                {
                    let mut v = vec!["/etc/zookeeper/conf".to_string()];
                    v.extend(log4j.iter().cloned());
                    v
                } else {
                    vec![format!("{JARS}/slf4j-nop.jar")]
                };
                (cp, vec!["-Dzookeeper.root.logger=INFO,CONSOLE".into()])
            }
            JavaRef::V3_9 => {
                let conf = work.join("log4j2.properties");
                std::fs::write(
                    &conf,
                    "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n\
                     appender.out.type = Console\nappender.out.name = OUT\n\
                     appender.out.layout.type = PatternLayout\n\
                     appender.out.layout.pattern = %d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n\n",
                )
                .unwrap();
                (
                    vec![],
                    vec![
                        format!("-Dlog4j2.configurationFile=file:{}", conf.display()),
                        "-Dzookeeper.jmx.log4j.disable=true".into(),
                    ],
                )
            }
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkrs-persist-compat-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The compiled driver's class folder, one per Java generation (compiled against its jars).
fn driver_classes(jr: JavaRef) -> &'static Path {
    static DIRS: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    DIRS[jr as usize].get_or_init(|| {
        jr.require();
        let out = tmp(&format!("driver-classes-{jr:?}"));
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/ZkDriver.java");
        let st = Command::new("javac")
            .arg("-d")
            .arg(&out)
            .arg("-cp")
            .arg(jr.classpath(&[]))
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "javac ZkDriver.java failed ({jr:?})");
        out
    })
}

fn driver(jr: JavaRef, args: &[&str]) -> Command {
    let mut c = Command::new("java");
    c.arg("-cp")
        .arg(jr.classpath(&[driver_classes(jr).to_str().unwrap()]))
        .arg("ZkDriver")
        .args(args);
    c
}

/// A running server, Java's or ours (`zkrs`).
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    jr: JavaRef,
    zkrs: bool,
}

impl Server {
    fn start(jr: JavaRef, data_dir: &Path, work: &Path) -> Server {
        jr.require();
        let port = test_port();
        let cfg = work.join(format!("zoo-{port}.cfg"));
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\nsnapCount=100\n\
                 extendedTypesEnabled=true\nmaxSessionTimeout=120000\nforceSync=no\n",
                data_dir.display()
            ),
        )
        .unwrap();
        let log = work.join(format!("java-{port}.log"));
        let (cp_extra, log_args) = jr.server_logging(work);
        let mut cp: Vec<String> = cp_extra;
        cp.extend(jr.jars());
        let child = Command::new("java")
            .arg("-cp")
            .arg(cp.join(":"))
            .args(&log_args)
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg("-Dznode.container.checkIntervalMs=3600000")
            .arg("-Dfile.encoding=UTF-8")
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        Server::wait_for(child, port, log, jr, false)
    }

    /// zkserver (this crate's binary) on `data_dir`, as `compat.version=compat`; it answers
    /// the driver like a Java server of `jr`'s generation.
    fn start_zkserver(jr: JavaRef, compat: &str, data_dir: &Path, work: &Path) -> Server {
        let port = test_port();
        let cfg = work.join(format!("zkrs-{port}.cfg"));
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\nsnapCount=100\n\
                 extendedTypesEnabled=true\nmaxSessionTimeout=120000\nforceSync=no\n\
                 znode.container.checkIntervalMs=3600000\ncompat.version={compat}\n",
                data_dir.display()
            ),
        )
        .unwrap();
        let log = work.join(format!("zkrs-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_zkserver"))
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        Server::wait_for(child, port, log, jr, true)
    }

    fn wait_for(child: Child, port: u16, log: PathBuf, jr: JavaRef, zkrs: bool) -> Server {
        let s = Server {
            child,
            port,
            log,
            jr,
            zkrs,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not start; see {}",
                s.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn four(&self, cmd: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        // A Java server still starting may accept and then never answer nor close.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(cmd.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The digest mismatches the server has reported: Java's `mntr` count; zkserver's from
    /// its log (the load's "N of M txn digests did not match" line; its `mntr` does not
    /// count them).
    fn digest_mismatches(&self) -> u64 {
        if self.zkrs {
            let log = std::fs::read_to_string(&self.log).unwrap();
            return log
                .lines()
                .filter_map(|l| l.split_once(" txn digests did not match"))
                .map(|(head, _)| {
                    let head = head.rsplit_once(" of ").unwrap().0;
                    head.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
                })
                .sum();
        }
        // Java answers "not currently serving requests" until its database is loaded.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mntr = self.four("mntr");
            if let Some(n) = mntr
                .lines()
                .find_map(|l| l.strip_prefix("zk_digest_mismatches_count\t"))
            {
                return n.trim().parse().unwrap();
            }
            assert!(Instant::now() < deadline, "no digest count in mntr: {mntr}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    stat: Stat,
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
}

fn b64d(s: &str) -> Vec<u8> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = acc << 6 | T.iter().position(|&t| t == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A driver dump: path -> what the client saw, and the live sessions (id, timeout).
fn parse_dump(file: &Path) -> (BTreeMap<String, Seen>, Vec<(i64, i32)>) {
    let mut nodes = BTreeMap::new();
    let mut sessions = vec![];
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "N" => {
                let n = |i: usize| f[i].parse::<i64>().unwrap();
                let stat = Stat {
                    czxid: n(2),
                    mzxid: n(3),
                    ctime: n(4),
                    mtime: n(5),
                    version: n(6) as i32,
                    cversion: n(7) as i32,
                    aversion: n(8) as i32,
                    ephemeral_owner: n(9),
                    data_length: n(10) as i32,
                    num_children: n(11) as i32,
                    pzxid: n(12),
                };
                let data = (f[13] != "-").then(|| b64d(f[13]));
                let acl = f[14]
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(|a| {
                        let p: Vec<&str> = a.split(',').collect();
                        Acl {
                            perms: p[0].parse().unwrap(),
                            id: Id {
                                scheme: p[1].into(),
                                id: String::from_utf8(b64d(p[2])).unwrap(),
                            },
                        }
                    })
                    .collect();
                let path = String::from_utf8(b64d(f[1])).unwrap();
                nodes.insert(path, Seen { stat, data, acl });
            }
            "S" => sessions.push((
                u64::from_str_radix(f[1], 16).unwrap() as i64,
                f[2].parse().unwrap(),
            )),
            _ => panic!("bad dump line {line}"),
        }
    }
    (nodes, sessions)
}

/// The Stat Java's server hands a client for a node (`DataNode.copyStat`: cversion counts
/// creates and deletes; containers / TTL nodes show ephemeralOwner 0).
fn client_stat(n: &Node, extended: bool) -> Stat {
    n.stat(extended)
}

fn tree_view(tree: &DataTree) -> BTreeMap<String, Seen> {
    let mut m = BTreeMap::new();
    let _ = tree.for_each_node(|p, n| {
        let path = if p.is_empty() {
            "/".to_string()
        } else {
            p.to_string()
        };
        m.insert(
            path,
            Seen {
                stat: client_stat(n, true),
                data: n.data.as_ref().map(|d| d.to_vec()),
                acl: n.acl.as_ref().clone(),
            },
        );
        Ok::<(), ()>(())
    });
    m
}

fn assert_same_view(ours: &BTreeMap<String, Seen>, java: &BTreeMap<String, Seen>) {
    let a: BTreeSet<_> = ours.keys().collect();
    let b: BTreeSet<_> = java.keys().collect();
    assert_eq!(
        a.symmetric_difference(&b).take(10).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "paths differ (ours vs Java)"
    );
    let mut diffs = 0;
    for (p, j) in java {
        let o = &ours[p];
        if o != j {
            if diffs < 5 {
                eprintln!("node {p} differs:\n ours {o:?}\n java {j:?}");
            }
            diffs += 1;
        }
    }
    assert_eq!(diffs, 0, "{diffs} znodes differ (ours vs Java)");
}

/// Run the driver's populate mode until READY; returns the driver (holding its sessions).
fn populate(server: &Server, dump: &Path, nodes: usize) -> Child {
    let mut child = driver(
        server.jr,
        &[
            "populate",
            &server.addr(),
            dump.to_str().unwrap(),
            &nodes.to_string(),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let line = line.unwrap_or_default();
            if line.contains("READY") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(300)).is_err() {
        let _ = child.kill();
        panic!(
            "driver populate did not finish; server log {}",
            server.log.display()
        );
    }
    child
}

fn dump_with_java(server: &Server, file: &Path) -> (BTreeMap<String, Seen>, Vec<(i64, i32)>) {
    let st = driver(server.jr, &["dump", &server.addr(), file.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(
        st.success(),
        "driver dump failed; server log {}",
        server.log.display()
    );
    parse_dump(file)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            sparse_copy(&e.path(), &t);
        }
    }
}

/// Copy a file keeping runs of zeros as holes (logs are preallocated with 64 MiB of zeros).
fn sparse_copy(from: &Path, to: &Path) {
    use std::io::{Seek, SeekFrom};
    let mut src = std::fs::File::open(from).unwrap();
    let len = src.metadata().unwrap().len();
    let mut dst = std::fs::File::create(to).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = src.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        if buf[..k].iter().all(|&b| b == 0) {
            dst.seek(SeekFrom::Current(k as i64)).unwrap();
        } else {
            dst.write_all(&buf[..k]).unwrap();
        }
    }
    dst.set_len(len).unwrap();
}

/// A snapshot file as a canonical value: header, sessions, nodes with resolved ACLs, digest,
/// lastProcessedZxid (Java 3.9's format).
type Canonical = (
    (i32, i32, i64),
    BTreeMap<i64, i32>,
    BTreeMap<String, (Option<Bytes>, Vec<Acl>, StatPersisted)>,
    Option<snapshot::ZxidDigest>,
    Option<i64>,
);

fn canonical(path: &Path) -> Canonical {
    let mut sessions = BTreeMap::new();
    let mut acls: BTreeMap<i64, Vec<Acl>> = BTreeMap::new();
    let mut nodes = BTreeMap::new();
    let mut order_ok = true;
    let trailer = snapshot::read_stream(snapshot::open(path).unwrap(), |item| {
        match item {
            SnapItem::Session { id, timeout } => {
                sessions.insert(id, timeout);
            }
            SnapItem::Acl { id, acl } => {
                acls.insert(id, acl);
            }
            SnapItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                let acl = if acl == -1 {
                    zk_server::tree::open_acl()
                } else {
                    acls[&acl].clone()
                };
                if !path.is_empty() {
                    let parent = zk_server::tree::split_path(path).0;
                    let parent = if parent == "/" { "" } else { parent };
                    order_ok &= nodes.contains_key(parent);
                }
                nodes.insert(path.to_string(), (data, acl, stat));
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(order_ok, "{}: a node before its parent", path.display());
    let h = trailer.header;
    (
        (h.magic, h.version, h.dbid),
        sessions,
        nodes,
        trailer.digest,
        trailer.last_processed_zxid,
    )
}

/// Java's SnapshotFormatter output, as a sorted multiset of (sorted) blocks.
fn java_format_snapshot(jr: JavaRef, path: &Path) -> Vec<Vec<String>> {
    let out = Command::new("java")
        .arg("-cp")
        .arg(jr.classpath(&[]))
        .arg("-Dzookeeper.extendedTypesEnabled=true")
        .arg("org.apache.zookeeper.server.SnapshotFormatter")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SnapshotFormatter failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut blocks: Vec<Vec<String>> = text
        .split("----")
        .map(|b| {
            let mut l: Vec<String> = b
                .lines()
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .collect();
            l.sort();
            l
        })
        .collect();
    blocks.sort();
    blocks
}

#[test]
fn java38_writes_rust_reads() {
    java_writes_rust_reads(JavaRef::V3_8);
}

#[test]
fn java39_writes_rust_reads() {
    java_writes_rust_reads(JavaRef::V3_9);
}

fn java_writes_rust_reads(jr: JavaRef) {
    jr.require();
    let work = tmp(&format!("a-{jr:?}"));
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start(jr, &data, &work);
    let dump = work.join("dump.txt");
    let mut drv = populate(&server, &dump, 3000);
    let (java_view, java_sessions) = parse_dump(&dump);
    assert!(
        java_view.len() > 2500,
        "driver made {} znodes",
        java_view.len()
    );
    let mntr = server.four("mntr");
    assert!(mntr.contains("zk_digest_mismatches_count\t0"), "{mntr}");
    let log = server.log.clone();
    server.kill9();
    let _ = drv.kill();
    let _ = drv.wait();

    let v2 = data.join("version-2");
    let logs = persist::list_files(&v2, "log").unwrap();
    let snaps = snapshot::list(&v2).unwrap();
    assert!(
        logs.len() >= 10 && snaps.len() >= 10,
        "{} logs, {} snapshots",
        logs.len(),
        snaps.len()
    );
    // Java 3.9 ends each snapshot with its lastProcessedZxid (at or after the file's zxid:
    // snapshots are fuzzy), sealed; Java 3.8 does not.
    for (z, p) in &snaps {
        let lpz = canonical(p).4;
        match jr {
            JavaRef::V3_8 => assert_eq!(lpz, None, "{}", p.display()),
            JavaRef::V3_9 => assert!(lpz.is_some_and(|l| l >= *z), "{}: {lpz:?}", p.display()),
        }
    }

    // Load Java's dataDir (on a copy: recovery may truncate).
    let copy = work.join("copy");
    copy_dir(&data, &copy);
    let loaded = recovery::load(&copy, &copy, true).unwrap();
    assert!(loaded.torn_tails.is_empty(), "{:?}", loaded.torn_tails);
    assert!(loaded.bad_snapshots.is_empty());
    assert_same_view(&tree_view(&loaded.tree), &java_view);
    for (id, timeout) in &java_sessions {
        assert_eq!(
            loaded.tree.sessions.get(id),
            Some(timeout),
            "session 0x{id:x}"
        );
    }
    assert!(loaded.tree.ephemerals_of(java_sessions[0].0).count() > 10);
    assert!(loaded.tree.containers().contains("/cont"));
    assert!(loaded.tree.ttls().contains("/ttl"));
    // Digests: every TxnDigest Java wrote after the snapshot matches our tree, and so does
    // the snapshot's digest unless Java finds it fuzzy too (see
    // java39_then_zkserver39_then_java39_on_one_data_dir).
    let verdict = java_load_mismatches(jr, &data, &work.join("verdict"));
    assert_eq!(
        loaded.digest_mismatches,
        verdict,
        "server log {}",
        log.display()
    );
    assert!(loaded.digests_checked > 0);
    assert_eq!(loaded.digest, tree_digest(&loaded.tree));
    // The database every role opens sees the same (the live sessions keep their
    // ephemerals), and its window for DIFF syncs holds Java's last txns up to the last zxid.
    let db = Database::open(DbOptions {
        data_dir: copy.clone(),
        data_log_dir: copy.clone(),
        load: recovery::LoadOptions {
            extended_types: true,
            ..Default::default()
        },
        log: LogOptions::default(),
        snapshot: SnapshotOptions::default(),
        config_node: None,
    })
    .unwrap();
    assert_same_view(&tree_view(db.tree().unwrap()), &java_view);
    assert_eq!(db.digest(), Some(loaded.digest));
    assert_eq!(db.window().len(), COMMIT_LOG_COUNT);
    assert_eq!(
        (db.window().first_zxid(), db.window().last_zxid()),
        (
            Some(loaded.last_zxid - COMMIT_LOG_COUNT as i64 + 1),
            Some(loaded.last_zxid)
        )
    );

    // Every txn of every Java log: our tree digest after it equals Java's TxnDigest, and our
    // re-encoding of the entry equals Java's bytes.
    let mut tree = DataTree::new(true);
    let mut tracker = DigestTracker::new(&tree);
    let mut ev = vec![];
    let (mut n, mut with_digest, mut types) = (0, 0, BTreeSet::new());
    let mut sub_types = BTreeSet::new();
    for e in TxnLogReader::open(&v2, 0).unwrap() {
        let e = e.unwrap();
        assert_eq!(
            txnlog::encode_entry(&e.txn, e.digest.as_ref()),
            e.raw,
            "re-encoding of 0x{:x}",
            e.txn.hdr.zxid
        );
        tracker.apply(&mut tree, &e.txn, &mut ev);
        ev.clear();
        if let Some(d) = e.digest {
            assert_eq!(d.version, 2);
            assert_eq!(
                d.tree_digest,
                tracker.value(),
                "digest after txn 0x{:x} {:?}",
                e.txn.hdr.zxid,
                e.txn
            );
            with_digest += 1;
        }
        types.insert(e.txn.hdr.r#type);
        if let TxnBody::Multi(subs) = &e.txn.body {
            sub_types.extend(subs.iter().map(|(op, _)| op.code()));
        }
        n += 1;
    }
    assert!(
        n > 3000 && with_digest > 3000,
        "{n} txns, {with_digest} with digest"
    );
    eprintln!(
        "Java wrote {} logs, {} snapshots, {n} txns ({with_digest} with digest); recovery replayed {} and checked {} digests",
        logs.len(),
        snaps.len(),
        loaded.txns_replayed,
        loaded.digests_checked
    );
    for t in [
        ops::CREATE_SESSION,
        ops::CLOSE_SESSION,
        ops::MULTI,
        ops::ERROR,
        ops::CREATE_TTL,
        ops::CREATE_CONTAINER,
        ops::SET_ACL,
    ] {
        assert!(
            types.contains(&t),
            "no txn of type {t} in Java's logs: {types:?}"
        );
    }
    // 3.9's client sends create2 inside multis (the driver does so with it), and 3.9 logs
    // them as type-15 sub-txns.
    assert_eq!(
        sub_types.contains(&ops::CREATE2),
        jr == JavaRef::V3_9,
        "multi sub-txn types in Java's logs: {sub_types:?}"
    );
    assert_same_view(&tree_view(&tree), &java_view);
    assert_eq!(tracker.value(), tree_digest(&tree));

    // Java's log files rewritten by our writer: identical bytes up to the end of the entries.
    let ours = work.join("relog");
    for (_, jf) in &logs {
        let mut w = TxnLogWriter::new(&ours, LogOptions::default()).unwrap();
        let mut r = TxnLogReader::open_file(jf).unwrap();
        let mut end = 16u64;
        while let Some(e) = r.next_entry().unwrap() {
            w.append_entry(e.txn.hdr.zxid, &e.raw).unwrap();
            end = e.offset + 13 + e.raw.len() as u64;
        }
        w.flush_and_sync().unwrap();
        let head = |p: &Path| {
            let mut v = vec![];
            std::fs::File::open(p)
                .unwrap()
                .take(end + 4096)
                .read_to_end(&mut v)
                .unwrap();
            v
        };
        let (mine, theirs) = (head(w.current_file().unwrap()), head(jf));
        assert_eq!(
            mine[..end as usize],
            theirs[..end as usize],
            "{}",
            jf.display()
        );
        assert!(mine[end as usize..].iter().all(|&b| b == 0));
        let len = std::fs::metadata(w.current_file().unwrap()).unwrap().len();
        assert_eq!(len % (64 * 1024 * 1024), 16);
    }

    // Java's newest snapshot, loaded and written again by us: the same content, and Java's
    // SnapshotFormatter prints the same for both.
    let (snap_zxid, java_snap) = snaps[0].clone();
    let s = snapshot::load(&java_snap, true).unwrap();
    let mine_dir = work.join("resnap");
    let same_format = SnapshotOptions {
        last_processed_zxid: jr == JavaRef::V3_9,
        ..Default::default()
    };
    let mine = snapshot::write_snapshot(&s.tree, &mine_dir, snap_zxid, &same_format).unwrap();
    let (ch, cs, cn, cd, cl) = canonical(&java_snap);
    let (mh, ms, mn, md, ml) = canonical(&mine);
    assert_eq!(ml.is_some(), cl.is_some());
    assert_eq!(mh, ch);
    assert_eq!(ms, cs);
    assert_eq!(mn.len(), cn.len());
    assert!(mn == cn, "snapshot nodes differ");
    // Java's snapshot digest is that of its (fuzzy) tree at the digest's zxid, ours of the
    // loaded tree at the file's zxid: equal when nothing happened during Java's snapshot.
    if cd.unwrap().zxid == snap_zxid {
        assert_eq!(md, cd);
    }
    if cl == Some(snap_zxid) {
        assert_eq!(ml, cl);
    }
    assert_eq!(
        java_format_snapshot(jr, &mine),
        java_format_snapshot(jr, &java_snap)
    );
    // Same size too, but for ACL numbering (Java gives the root and /zookeeper id -1).
    let jl = std::fs::metadata(&java_snap).unwrap().len() as i64;
    let ml = std::fs::metadata(&mine).unwrap().len() as i64;
    eprintln!(
        "snapshot {}: Java {jl} bytes, ours {ml} bytes",
        java_snap.display()
    );
    assert!((jl - ml).abs() < 200, "java {jl} bytes, ours {ml}");

    // A torn tail: cut the last entry of the newest log short, as a crash mid-write would.
    let torn = work.join("torn");
    copy_dir(&data, &torn);
    let tv2 = torn.join("version-2");
    let (_, newest) = persist::list_files(&tv2, "log").unwrap().pop().unwrap();
    let entries: Vec<_> = TxnLogReader::open_file(&newest)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    let last = entries.last().unwrap();
    let lost_zxid = last.txn.hdr.zxid;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&newest)
            .unwrap();
        let len = last.raw.len();
        f.write_all_at(
            &vec![0u8; len / 2 + 1],
            last.offset + 12 + (len - len / 2) as u64,
        )
        .unwrap();
    }
    let torn_java = work.join("torn-java");
    copy_dir(&torn, &torn_java);
    let l = recovery::load(&torn, &torn, true).unwrap();
    assert_eq!(l.torn_tails.len(), 1, "{:?}", l.torn_tails);
    assert_eq!(l.torn_tails[0].file, newest);
    // Java rolls its log at each snapshot, so the newest log may hold only the torn entry.
    assert_eq!(
        l.torn_tails[0].last_zxid,
        entries
            .len()
            .checked_sub(2)
            .map(|i| entries[i].txn.hdr.zxid)
    );
    // The torn txn is lost unless Java's newest snapshot already holds it (Java snapshots
    // on its own schedule, so that happens in some runs).
    let newest_snapshot = persist::list_files(&tv2, "snapshot")
        .unwrap()
        .last()
        .map_or(0, |(z, _)| *z);
    assert_eq!(l.last_zxid, (lost_zxid - 1).max(newest_snapshot));
    assert_eq!(std::fs::metadata(&newest).unwrap().len(), last.offset);
    assert_eq!(l.digest_mismatches, 0);
    let ours = tree_view(&l.tree);
    // Java reads the torn files as we do...
    let server = Server::start(jr, &torn_java, &work);
    let (java_torn, _) = dump_with_java(&server, &work.join("dump-torn.txt"));
    server.kill9();
    assert_same_view(&ours, &java_torn);
    // ...and after our truncation.
    let server = Server::start(jr, &torn, &work);
    let (java_again, _) = dump_with_java(&server, &work.join("dump-torn2.txt"));
    server.kill9();
    assert_same_view(&ours, &java_again);

    let _ = std::fs::remove_dir_all(&work);
}

// ---- (b) we write, Java reads ----

struct Builder {
    tree: DataTree,
    tracker: DigestTracker,
    zxid: i64,
    txns: Vec<(Txn, TxnDigest)>,
}

impl Builder {
    fn apply(&mut self, client: i64, ty: i32, body: TxnBody) {
        self.zxid += 1;
        let txn = Txn {
            hdr: TxnHeader {
                client_id: client,
                cxid: self.zxid as i32,
                zxid: self.zxid,
                time: 1_750_000_000_000 + self.zxid * 7,
                r#type: ty,
            },
            body,
        };
        let mut ev = vec![];
        self.tracker.apply(&mut self.tree, &txn, &mut ev);
        let d = TxnDigest {
            version: 2,
            tree_digest: self.tracker.value(),
        };
        self.txns.push((txn, d));
    }
    fn cversion(&self, parent: &str) -> i32 {
        self.tree.node(parent).unwrap().stat.cversion + 1
    }
    fn create(&mut self, client: i64, path: &str, data: Option<&[u8]>, acl: Vec<Acl>, eph: bool) {
        let cv = self.cversion(zk_server::tree::split_path(path).0);
        self.apply(
            client,
            ops::CREATE,
            TxnBody::Create(CreateTxn {
                path: path.into(),
                data: data.map(Bytes::copy_from_slice),
                acl,
                ephemeral: eph,
                parent_c_version: cv,
            }),
        );
    }
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

#[test]
fn rust_writes_java38_reads() {
    rust_writes_java_reads(JavaRef::V3_8);
}

#[test]
fn rust_writes_java39_reads() {
    rust_writes_java_reads(JavaRef::V3_9);
}

fn rust_writes_java_reads(jr: JavaRef) {
    jr.require();
    let work = tmp(&format!("b-{jr:?}"));
    let data = work.join("data");
    let v2 = data.join("version-2");
    std::fs::create_dir_all(&v2).unwrap();
    let open = zk_server::tree::open_acl();
    let alice = acl(31, "digest", &zk_server::auth::digest_id("alice:secret"));
    let mixed = vec![
        acl(1, "world", "anyone"),
        acl(31, "ip", "127.0.0.1"),
        alice.clone(),
    ];
    let mut b = Builder {
        tree: DataTree::new(true),
        tracker: DigestTracker::new(&DataTree::new(true)),
        zxid: 0,
        txns: vec![],
    };
    let (s1, s2, s3) = (
        0x0100_0001_0000_0001i64,
        0x0100_0001_0000_0002i64,
        0x0100_0001_0000_0003i64,
    );
    for s in [s1, s2, s3] {
        b.apply(
            s,
            ops::CREATE_SESSION,
            TxnBody::CreateSession(CreateSessionTxn { time_out: 120000 }),
        );
    }
    b.create(s1, "/r", Some(b"rust"), open.clone(), false);
    b.create(s1, "/r/secure", Some(b"s"), vec![alice.clone()], false);
    b.create(s1, "/r/mixed", None, mixed.clone(), false);
    b.create(s1, "/r/ünï€", Some("ü".as_bytes()), open.clone(), false);
    let cv = b.cversion("/");
    b.apply(
        s1,
        ops::CREATE_CONTAINER,
        TxnBody::CreateContainer(CreateContainerTxn {
            path: "/cont".into(),
            data: None,
            acl: open.clone(),
            parent_c_version: cv,
        }),
    );
    b.create(s1, "/cont/kid", Some(b"k"), open.clone(), false);
    let cv = b.cversion("/");
    b.apply(
        s1,
        ops::CREATE_TTL,
        TxnBody::CreateTtl(CreateTTLTxn {
            path: "/ttl".into(),
            data: Some(Bytes::from_static(b"t")),
            acl: open.clone(),
            parent_c_version: cv,
            ttl: 3_600_000,
        }),
    );
    for i in 0..400 {
        let d = format!("/r/d{}", i / 20);
        if i % 20 == 0 {
            b.create(
                s1,
                &d,
                Some(format!("dir{i}").as_bytes()),
                open.clone(),
                false,
            );
        }
        let p = format!("{d}/n{i}");
        let data: Option<Vec<u8>> = match i % 4 {
            0 => None,
            1 => Some(vec![]),
            2 => Some((0..(i * 13 % 3000)).map(|k| (k * 7 + i) as u8).collect()),
            _ => Some(format!("v{i}").into_bytes()),
        };
        let a = if i % 7 == 0 {
            mixed.clone()
        } else {
            open.clone()
        };
        let owner = [s1, s2, s3][i % 3];
        b.create(owner, &p, data.as_deref(), a, i % 5 == 0);
        if i % 3 == 0 {
            b.apply(
                s1,
                ops::SET_DATA,
                TxnBody::SetData(SetDataTxn {
                    path: p.clone(),
                    data: Some(Bytes::from(format!("set{i}"))),
                    version: 1,
                }),
            );
        }
        if i % 11 == 0 {
            b.apply(
                s1,
                ops::SET_ACL,
                TxnBody::SetAcl(SetACLTxn {
                    path: p.clone(),
                    acl: vec![alice.clone()],
                    version: 1,
                }),
            );
        }
        if i % 17 == 0 && i % 5 != 0 {
            b.apply(
                s1,
                ops::DELETE,
                TxnBody::Delete(DeleteTxn { path: p.clone() }),
            );
        }
        if i % 50 == 25 {
            let cv = b.cversion(&d);
            b.apply(
                s1,
                ops::MULTI,
                TxnBody::Multi(vec![
                    (
                        jute::OpCode::Create,
                        TxnBody::Create(CreateTxn {
                            path: format!("{d}/multi{i}"),
                            data: Some(Bytes::from_static(b"m")),
                            acl: open.clone(),
                            ephemeral: false,
                            parent_c_version: cv,
                        }),
                    ),
                    (
                        jute::OpCode::Check,
                        TxnBody::Check(CheckVersionTxn {
                            path: d.clone(),
                            version: 0,
                        }),
                    ),
                    (
                        jute::OpCode::SetData,
                        TxnBody::SetData(SetDataTxn {
                            path: d.clone(),
                            data: Some(Bytes::from_static(b"multi")),
                            version: 1,
                        }),
                    ),
                ]),
            );
            b.apply(s1, ops::ERROR, TxnBody::Error(ErrorTxn { err: -101 }));
        }
    }
    // Session 2 closes: its ephemerals go.
    let paths: Vec<String> = b.tree.ephemerals_of(s2).cloned().collect();
    assert!(!paths.is_empty());
    b.apply(
        s2,
        ops::CLOSE_SESSION,
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths2_delete: paths,
        })),
    );

    // Log: one file up to the roll point, then a snapshot of the tree at a zxid a bit after it
    // (as Java rolls then snapshots, and its snapshot is fuzzy), then the rest.
    let n = b.txns.len();
    let roll_at = n / 2;
    let snap_at = roll_at + 10;
    let mut w = TxnLogWriter::new(&v2, LogOptions::default()).unwrap();
    let mut replay = DataTree::new(true);
    let mut ev = vec![];
    for (i, (t, d)) in b.txns.iter().enumerate() {
        w.append(t, Some(d)).unwrap();
        replay.apply(t, &mut ev);
        ev.clear();
        if i + 1 == roll_at {
            w.flush_and_sync().unwrap();
            w.roll().unwrap();
        }
        if i + 1 == snap_at {
            // Java 3.9's format (with lastProcessedZxid), for 3.8.0 too: it reads it.
            let format39 = SnapshotOptions {
                last_processed_zxid: true,
                ..Default::default()
            };
            snapshot::write_snapshot(&replay, &v2, t.hdr.zxid, &format39).unwrap();
        }
    }
    w.flush_and_sync().unwrap();
    let last_zxid = b.zxid;
    assert_eq!(tree_digest(&replay), b.tracker.value());

    // Java's own tools read our files.
    let logs = persist::list_files(&v2, "log").unwrap();
    assert_eq!(logs.len(), 2);
    let mut total = 0;
    for (_, f) in &logs {
        let out = Command::new("java")
            .arg("-cp")
            .arg(jr.classpath(&[]))
            .arg("org.apache.zookeeper.server.persistence.TxnLogToolkit")
            .arg(f)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let k: usize = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("EOF reached after ")
                    .and_then(|r| r.strip_suffix(" txns."))
            })
            .unwrap_or_else(|| panic!("TxnLogToolkit on {}: {text}", f.display()))
            .parse()
            .unwrap();
        total += k;
    }
    assert_eq!(total, n);

    // Java reads our snapshots in both formats (3.8's, and 3.9's with lastProcessedZxid), and
    // our compressed ones (gz, snappy-java framing) as the plain one.
    let plain = snapshot::write_snapshot(
        &b.tree,
        &work.join("plain"),
        last_zxid,
        &SnapshotOptions {
            last_processed_zxid: false,
            ..Default::default()
        },
    )
    .unwrap();
    let want = java_format_snapshot(jr, &plain);
    for last_processed_zxid in [false, true] {
        for c in [
            snapshot::Compression::None,
            snapshot::Compression::Gzip,
            snapshot::Compression::Snappy,
        ] {
            let opts = SnapshotOptions {
                compression: c,
                last_processed_zxid,
                ..Default::default()
            };
            let dir = work.join(format!("formats-{last_processed_zxid}"));
            let f = snapshot::write_snapshot(&b.tree, &dir, last_zxid, &opts).unwrap();
            assert_eq!(
                java_format_snapshot(jr, &f),
                want,
                "{c:?}, lastProcessedZxid {last_processed_zxid}"
            );
        }
    }

    // A crash right after a log file was created leaves it empty. Java 3.9 deletes such a
    // file at the tail (FileTxnLog: "Delete empty tail log file"), as our recovery does (a
    // unit test of txnlog); Java 3.8.0 cannot read it and refuses to start.
    let empty_tail = v2.join(format!("log.{:x}", last_zxid + 1));
    if jr == JavaRef::V3_9 {
        std::fs::write(&empty_tail, b"").unwrap();
    }

    // Java starts on our dataDir and its client sees our tree.
    let server = Server::start(jr, &data, &work);
    let (java_view, _) = dump_with_java(&server, &work.join("dump.txt"));
    assert_same_view(&tree_view(&b.tree), &java_view);
    let mntr = server.four("mntr");
    assert!(
        mntr.contains("zk_digest_mismatches_count\t0"),
        "Java found digest mismatches: {mntr}"
    );
    let jlog = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(
        !jlog.contains("Digests are not matching"),
        "see {}",
        server.log.display()
    );
    assert!(
        jlog.contains(&format!("highest zxid is 0x{last_zxid:x}")),
        "see {}",
        server.log.display()
    );
    assert!(
        jlog.contains(&format!(
            "Reading snapshot {}",
            v2.join(format!("snapshot.{:x}", b.txns[snap_at - 1].0.hdr.zxid))
                .display()
        )) && !jlog.contains("problem reading snap file"),
        "Java did not load our snapshot; see {}",
        server.log.display()
    );
    if jr == JavaRef::V3_9 {
        // (Java then makes that file again for its own writes.)
        assert!(
            jlog.contains(&format!(
                "Delete empty tail log file to recover from corruption file: {}",
                empty_tail.file_name().unwrap().to_string_lossy()
            )),
            "see {}",
            server.log.display()
        );
    }

    // Java writes more; we load it back (and go on from there).
    let st = driver(jr, &["more", &server.addr(), "150"])
        .status()
        .unwrap();
    assert!(st.success());
    let (java_view2, _) = dump_with_java(&server, &work.join("dump2.txt"));
    server.kill9();
    let l = recovery::load(&data, &data, true).unwrap();
    assert_eq!(l.digest_mismatches, 0);
    assert!(l.digests_checked > 0);
    let ours = tree_view(&l.tree);
    assert_eq!(ours["/java-again"].stat.num_children, 150);
    assert_same_view(&ours, &java_view2);

    let _ = std::fs::remove_dir_all(&work);
}

// ---- (c) an operator goes back and forth: Java 3.9.3 -> zkserver (3.9) -> Java 3.9.3 ----

/// The digest mismatches Java reports on loading (a copy of) `data`.
fn java_load_mismatches(jr: JavaRef, data: &Path, work: &Path) -> u64 {
    let copy = work.join("data");
    copy_dir(data, &copy);
    let java = Server::start(jr, &copy, work);
    let n = java.digest_mismatches();
    java.kill9();
    eprintln!(
        "Java finds {n} digest mismatches loading {}",
        data.display()
    );
    n
}

/// The newest snapshot file's zxid and lastProcessedZxid section.
fn newest_snapshot(v2: &Path) -> (i64, PathBuf, Option<i64>) {
    let (z, p) = snapshot::list(v2).unwrap().remove(0);
    let lpz = canonical(&p).4;
    (z, p, lpz)
}

/// One dataDir served in turn by Java 3.9.3, zkserver with `compat.version=3.9` and Java 3.9.3
/// again. Each starts on what the previous one left (its newest snapshot and logs), its
/// client view is the previous one's, it writes and snapshots (snapCount=100) in Java 3.9's
/// format, and no server reports a digest mismatch. Java's snapshots carry the
/// lastProcessedZxid section, and so do ours.
#[test]
fn java39_then_zkserver39_then_java39_on_one_data_dir() {
    let jr = JavaRef::V3_9;
    jr.require();
    let work = tmp("operator-39");
    let data = work.join("data");
    let v2 = data.join("version-2");
    std::fs::create_dir_all(&data).unwrap();

    // 1. Java 3.9.3 writes a varied tree; the driver then closes its sessions (so no session
    // expires while the servers change hands).
    let java = Server::start(jr, &data, &work);
    let mut drv = populate(&java, &work.join("populate.txt"), 1500);
    drop(drv.stdin.take());
    assert!(drv.wait().unwrap().success());
    let (view1, _) = dump_with_java(&java, &work.join("dump1.txt"));
    assert_eq!(java.digest_mismatches(), 0);
    java.kill9();
    let (java_snap, _, java_lpz) = newest_snapshot(&v2);
    assert!(java_snap > 0 && java_lpz.is_some_and(|l| l >= java_snap));

    // 2. zkserver starts on Java's dataDir, sees the same tree, writes on and snapshots. It
    // finds as many digest mismatches as Java does on the same files: none, unless Java's
    // newest snapshot is fuzzy (Java names it after the last logged txn, which may not be
    // applied yet when its digest is taken, and then reports a mismatch on loading it too).
    let java_verdict = java_load_mismatches(jr, &data, &work.join("verdict1"));
    let ours = Server::start_zkserver(jr, "3.9", &data, &work);
    let (view2, _) = dump_with_java(&ours, &work.join("dump2.txt"));
    assert_same_view(&view2, &view1);
    let st = driver(jr, &["more", &ours.addr(), "400", "/zkrs-wrote"])
        .status()
        .unwrap();
    assert!(st.success());
    let (view3, _) = dump_with_java(&ours, &work.join("dump3.txt"));
    assert_eq!(view3["/zkrs-wrote"].stat.num_children, 400);
    assert_eq!(ours.digest_mismatches(), java_verdict);
    let zlog = std::fs::read_to_string(&ours.log).unwrap();
    ours.kill9();
    let (our_snap, our_snap_path, our_lpz) = newest_snapshot(&v2);
    assert!(
        our_snap > java_snap,
        "zkserver took no snapshot; see its log:\n{zlog}"
    );
    assert_eq!(our_lpz, Some(our_snap), "{}", our_snap_path.display());

    // 3. Java 3.9.3 starts on what zkserver left: it loads our newest snapshot (never fuzzy)
    // and replays our logs with no digest mismatch, sees the same tree, writes on and
    // snapshots.
    let java = Server::start(jr, &data, &work);
    assert_eq!(java.digest_mismatches(), 0, "see {}", java.log.display());
    let (view4, _) = dump_with_java(&java, &work.join("dump4.txt"));
    assert_same_view(&view4, &view3);
    let jlog = std::fs::read_to_string(&java.log).unwrap();
    assert!(
        jlog.contains(&format!("Reading snapshot {}", our_snap_path.display()))
            && !jlog.contains("problem reading snap file"),
        "Java did not load zkserver's snapshot; see {}",
        java.log.display()
    );
    let st = driver(jr, &["more", &java.addr(), "300", "/java-wrote"])
        .status()
        .unwrap();
    assert!(st.success());
    let (view5, _) = dump_with_java(&java, &work.join("dump5.txt"));
    assert_eq!(view5["/java-wrote"].stat.num_children, 300);
    assert_eq!(view5["/zkrs-wrote"], view3["/zkrs-wrote"]);
    assert_eq!(java.digest_mismatches(), 0, "see {}", java.log.display());
    java.kill9();
    let (java_snap2, _, java_lpz2) = newest_snapshot(&v2);
    assert!(java_snap2 > our_snap && java_lpz2.is_some_and(|l| l >= java_snap2));

    // 4. And we read Java's final state back: the same tree, and the same digest verdict as
    // Java's on the same files.
    let java_verdict = java_load_mismatches(jr, &data, &work.join("verdict2"));
    let l = recovery::load(&data, &data, true).unwrap();
    assert_eq!(l.digest_mismatches, java_verdict);
    assert!(l.digests_checked > 0);
    assert!(l.bad_snapshots.is_empty());
    assert_same_view(&tree_view(&l.tree), &view5);

    let _ = std::fs::remove_dir_all(&work);
}
