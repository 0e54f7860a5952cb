//! The corruption matrix (issue 12): damaged data directories must never be served with
//! less than was acknowledged. Each server (Java 3.8 and zkserver) gets 1,000 acknowledged
//! creates (snapCount=300, so several snapshots and log files; small preallocation), is
//! killed with SIGKILL, and then every case below damages a fresh copy of its data folder and
//! starts the server on it. It must either refuse to start (exit non-zero; zkserver also
//! names the damaged file) or serve every acknowledged znode. Torn tails (a record that was
//! never acknowledged, cut short after the last one) must be served with every znode. The
//! same folder, as the database of an ensemble member (the learner's start-up path), must
//! not start with a damaged log either.
//!
//! Java 3.8 does not meet the rule everywhere: it takes a zero length, a missing 0x42 or a
//! length that overruns the record for the end of the file and serves without the rest
//! (`Util.readTxnBytes` / `FileTxnIterator.next`), and falls back to an older snapshot whose
//! logs no longer reach the newer one. Those cases are asserted as Java's known data loss
//! (`java: Loses`), so a change in Java's behaviour shows up here too.
//!
//! Needs Java and the Debian zookeeper jars (as `persist_compat`); zkserver is
//! `$ZKRS_BIN` or the test build's binary.

use bytes::{Bytes, BytesMut};
use compat_tests::ports::test_port;
use jute::data::{Acl, Id};
use jute::proto::{
    ConnectRequest, CreateRequest, GetChildrenRequest, GetChildrenResponse, ReplyHeader,
    RequestHeader,
};
use jute::{ops, Decode, Encode};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zk_server::persist::{self, txnlog::TxnLogReader};

const NODES: usize = 1000;
const JARS: &str = "/usr/share/java";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Impl {
    Java,
    Zkrs,
}

fn work_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkrs-corrupt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn zkrs_bin() -> PathBuf {
    std::env::var_os("ZKRS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_zkserver")))
}

/// Start a server on `data` (its zoo.cfg and output go next to it).
fn start(imp: Impl, data: &Path) -> (Child, u16, PathBuf) {
    start_as(imp, data, false)
}

/// Start a server on `data`; with `member`, as server 1 of a three-node ensemble whose other
/// two members never come (it loads its database, then looks for a leader for ever).
fn start_as(imp: Impl, data: &Path, member: bool) -> (Child, u16, PathBuf) {
    let port = test_port();
    let cfg = data.with_extension("cfg");
    let out = data.with_extension("out");
    let mut text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\nsnapCount=300\npreAllocSize=64\n",
        data.display()
    );
    if member {
        text.push_str("initLimit=5\nsyncLimit=2\n");
        for sid in 1..=3 {
            text.push_str(&format!(
                "server.{sid}=127.0.0.1:{}:{}\n",
                test_port(),
                test_port()
            ));
        }
        std::fs::write(data.join("myid"), "1\n").unwrap();
    }
    std::fs::write(&cfg, text).unwrap();
    let mut cmd = match imp {
        Impl::Zkrs => {
            let mut c = Command::new(zkrs_bin());
            c.arg(&cfg);
            c
        }
        Impl::Java => {
            let cp = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"]
                .iter()
                .map(|j| format!("{JARS}/{j}"))
                .chain(["/etc/zookeeper/conf".into()])
                .chain(
                    ["slf4j-log4j12.jar", "log4j-1.2.jar"]
                        .iter()
                        .map(|j| format!("{JARS}/{j}")),
                )
                .collect::<Vec<_>>()
                .join(":");
            let mut c = Command::new("java");
            c.arg("-cp")
                .arg(cp)
                .arg("-Xmx128m")
                .arg("-XX:TieredStopAtLevel=1")
                .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(&cfg);
            c
        }
    };
    let log = std::fs::File::create(&out).unwrap();
    let child = cmd
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {imp:?}: {e}"));
    (child, port, out)
}

fn send(s: &mut TcpStream, body: impl FnOnce(&mut BytesMut)) {
    let mut b = BytesMut::new();
    jute::frame::write_frame(&mut b, body);
    s.write_all(&b).unwrap();
}

fn recv(s: &mut TcpStream) -> std::io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(Bytes::from(body))
}

/// A session, or None if the server does not (yet) give one.
fn session(port: u16) -> Option<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut b = BytesMut::new();
    jute::frame::write_frame(&mut b, |b| {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: Some(Bytes::from_static(&[0; 16])),
        }
        .encode(b);
        false.encode(b);
    });
    s.write_all(&b).ok()?;
    let resp = recv(&mut s).ok()?;
    // protocol version, timeout, session id: a zero timeout is a refused session.
    (resp.len() >= 16 && i32::from_be_bytes(resp[4..8].try_into().unwrap()) > 0).then_some(s)
}

fn reply(s: &mut TcpStream) -> (ReplyHeader, Bytes) {
    loop {
        let mut r = recv(s).expect("reply");
        let h = ReplyHeader::decode(&mut r).unwrap();
        if h.xid >= 0 {
            return (h, r);
        }
    }
}

/// Pipelined creates of /m/n0..n999 on a fresh server; every one must be acknowledged.
fn populate(port: u16) {
    let mut s = session(port).expect("session");
    let acl = vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }];
    let create = |s: &mut TcpStream, xid: i32, path: String| {
        send(s, |b| {
            RequestHeader {
                xid,
                r#type: ops::CREATE,
            }
            .encode(b);
            CreateRequest {
                path,
                data: Some(Bytes::from(vec![b'd'; 40])),
                acl: acl.clone(),
                flags: 0,
            }
            .encode(b);
        })
    };
    create(&mut s, 1, "/m".into());
    assert_eq!(reply(&mut s).0.err, 0);
    for batch in 0..NODES / 100 {
        for i in batch * 100..(batch + 1) * 100 {
            create(&mut s, 2 + i as i32, format!("/m/n{i:04}"));
        }
        for _ in 0..100 {
            assert_eq!(reply(&mut s).0.err, 0, "create acknowledged");
        }
    }
}

fn children(s: &mut TcpStream) -> Option<BTreeSet<String>> {
    send(s, |b| {
        RequestHeader {
            xid: 7,
            r#type: ops::GET_CHILDREN,
        }
        .encode(b);
        GetChildrenRequest {
            path: "/m".into(),
            watch: false,
        }
        .encode(b);
    });
    let (h, mut body) = reply(s);
    if h.err != 0 {
        return Some(BTreeSet::new()); // NoNode: none of the acknowledged znodes
    }
    let r = GetChildrenResponse::decode(&mut body).ok()?;
    Some(r.children.into_iter().collect())
}

#[derive(Debug)]
enum Outcome {
    /// Exited without serving: the exit code and its output.
    Refused(Option<i32>, String),
    /// Served: how many of the acknowledged znodes it has.
    Served(usize),
}

/// Start on `data` and see what happens.
fn run(imp: Impl, data: &Path) -> Outcome {
    let (mut child, port, out) = start(imp, data);
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            break Outcome::Refused(status.code(), text);
        }
        if let Some(mut s) = session(port) {
            if let Some(c) = children(&mut s) {
                let expected = (0..NODES).filter(|i| c.contains(&format!("n{i:04}")));
                break Outcome::Served(expected.count());
            }
        }
        assert!(
            Instant::now() < deadline,
            "{imp:?} neither served nor exited on {}; see {}",
            data.display(),
            out.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// The pristine data folder of one server, and where its records are.
struct Layout {
    logs: Vec<(PathBuf, Vec<(u64, usize)>)>,
    snaps: Vec<PathBuf>,
}

fn layout(v2: &Path) -> Layout {
    let logs = persist::list_files(v2, persist::LOG_PREFIX)
        .unwrap()
        .into_iter()
        .map(|(_, p)| {
            let e = TxnLogReader::open_file(&p)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.offset, e.raw.len())
                })
                .collect();
            (p, e)
        })
        .collect();
    let snaps = persist::list_files(v2, persist::SNAPSHOT_PREFIX)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    Layout { logs, snaps }
}

fn base(imp: Impl) -> (PathBuf, Layout) {
    let dir = work_dir(&format!("{imp:?}-base"));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (mut child, port, out) = start(imp, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    while session(port).is_none() {
        assert!(
            Instant::now() < deadline,
            "{imp:?} did not start; see {}",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    populate(port);
    child.kill().unwrap(); // SIGKILL: every create was acknowledged, so it is on disk
    child.wait().unwrap();
    let l = layout(&data.join("version-2"));
    assert!(l.logs.len() >= 2, "{imp:?}: several log files expected");
    assert!(l.snaps.len() >= 2, "{imp:?}: several snapshots expected");
    (data, l)
}

fn patch(file: &Path, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn flip(file: &Path, at: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
}

/// The bytes of the record at `(offset, len)` of `file`.
fn record(file: &Path, (off, len): (u64, usize)) -> Vec<u8> {
    let f = std::fs::File::open(file).unwrap();
    let mut b = vec![0u8; 12 + len + 1];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

fn end((off, len): (u64, usize)) -> u64 {
    off + 12 + len as u64 + 1
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Refuse to start, or serve every acknowledged znode.
    AllOrRefuse,
    /// Serve every acknowledged znode (a torn tail, or nothing damaged).
    All,
    /// Java 3.8's known data loss: it serves fewer.
    Loses,
}

struct Case {
    name: &'static str,
    damage: fn(&Path, &Layout),
    /// The file it damages (zkserver's refusal must name it), from the layout.
    file: fn(&Layout) -> PathBuf,
    zkrs: Expect,
    java: Expect,
}

fn newest_log(l: &Layout) -> PathBuf {
    l.logs.last().unwrap().0.clone()
}
fn oldest_log(l: &Layout) -> PathBuf {
    l.logs[0].0.clone()
}
fn newest_snap(l: &Layout) -> PathBuf {
    l.snaps.last().unwrap().clone()
}
/// The same file in the copy `v2`.
fn at(v2: &Path, p: &Path) -> PathBuf {
    v2.join(p.file_name().unwrap())
}
fn mid(l: &Layout, log: usize) -> (u64, usize) {
    let e = &l.logs[log].1;
    e[e.len() / 2]
}
fn newest(l: &Layout) -> usize {
    l.logs.len() - 1
}
/// Remove every snapshot but snapshot.0, so that every log file is replayed (the older ones
/// too, not only the newest).
fn replay_all_logs(v2: &Path, l: &Layout) {
    for p in &l.snaps[1..] {
        std::fs::remove_file(at(v2, p)).unwrap();
    }
}
fn set_len_field(v2: &Path, l: &Layout, log: usize, rec: (u64, usize), len: i32) {
    patch(&at(v2, &l.logs[log].0), rec.0 + 8, &len.to_be_bytes());
}
/// An unacknowledged record cut short after the last one of log `log`: the first `keep`
/// bytes of a copy of its last record.
fn append_torn(v2: &Path, l: &Layout, log: usize, keep: impl Fn(usize) -> usize) -> (PathBuf, u64) {
    let file = at(v2, &l.logs[log].0);
    let last = *l.logs[log].1.last().unwrap();
    let rec = record(&file, last);
    let k = keep(rec.len());
    patch(&file, end(last), &rec[..k]);
    (file, end(last) + k as u64)
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        Case {
            name: "undamaged",
            damage: |_, _| {},
            file: newest_log,
            zkrs: All,
            java: All,
        },
        Case {
            name: "newest log: first record's body flipped",
            damage: |v2, l| {
                let r = l.logs[newest(l)].1[0];
                flip(&at(v2, &newest_log(l)), r.0 + 20)
            },
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: middle record's body flipped",
            damage: |v2, l| flip(&at(v2, &newest_log(l)), mid(l, newest(l)).0 + 20),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: middle record's checksum flipped",
            damage: |v2, l| flip(&at(v2, &newest_log(l)), mid(l, newest(l)).0 + 6),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: middle record's length + 1",
            damage: |v2, l| {
                let r = mid(l, newest(l));
                set_len_field(v2, l, newest(l), r, r.1 as i32 + 1)
            },
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: middle record's length - 1",
            damage: |v2, l| {
                let r = mid(l, newest(l));
                set_len_field(v2, l, newest(l), r, r.1 as i32 - 1)
            },
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: middle record's length 0",
            damage: |v2, l| set_len_field(v2, l, newest(l), mid(l, newest(l)), 0),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: middle record's length 0x7fffffff",
            damage: |v2, l| set_len_field(v2, l, newest(l), mid(l, newest(l)), i32::MAX),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: middle record's length -1",
            damage: |v2, l| set_len_field(v2, l, newest(l), mid(l, newest(l)), -1),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: middle record's end byte flipped",
            damage: |v2, l| flip(&at(v2, &newest_log(l)), end(mid(l, newest(l))) - 1),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: middle record's header zeroed",
            damage: |v2, l| patch(&at(v2, &newest_log(l)), mid(l, newest(l)).0, &[0; 12]),
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: last record's body flipped",
            damage: |v2, l| {
                let r = *l.logs[newest(l)].1.last().unwrap();
                flip(&at(v2, &newest_log(l)), r.0 + 20)
            },
            file: newest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest log: last record's length + 100",
            damage: |v2, l| {
                let r = *l.logs[newest(l)].1.last().unwrap();
                set_len_field(v2, l, newest(l), r, r.1 as i32 + 100)
            },
            file: newest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "newest log: torn record (half written) after the last, zeros after it",
            damage: |v2, l| {
                append_torn(v2, l, newest(l), |n| n / 2);
            },
            file: newest_log,
            zkrs: All,
            java: All,
        },
        Case {
            name: "newest log: torn record, the file ends inside it",
            damage: |v2, l| {
                let (file, len) = append_torn(v2, l, newest(l), |n| n - 7);
                let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
                f.set_len(len).unwrap();
            },
            file: newest_log,
            zkrs: All,
            java: All,
        },
        Case {
            name: "newest log: torn record missing only its end byte",
            damage: |v2, l| {
                append_torn(v2, l, newest(l), |n| n - 1);
            },
            file: newest_log,
            zkrs: All,
            java: All,
        },
        Case {
            name: "older log (all logs replayed): middle record's body flipped",
            damage: |v2, l| {
                replay_all_logs(v2, l);
                flip(&at(v2, &oldest_log(l)), mid(l, 0).0 + 20)
            },
            file: oldest_log,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "older log (all logs replayed): middle record's length 0",
            damage: |v2, l| {
                replay_all_logs(v2, l);
                set_len_field(v2, l, 0, mid(l, 0), 0)
            },
            file: oldest_log,
            zkrs: AllOrRefuse,
            java: Loses,
        },
        Case {
            name: "older log (all logs replayed): torn record after its last one",
            damage: |v2, l| {
                replay_all_logs(v2, l);
                append_torn(v2, l, 0, |n| n / 3);
            },
            file: oldest_log,
            zkrs: All,
            java: All,
        },
        Case {
            name: "newest snapshot: magic flipped",
            damage: |v2, l| flip(&at(v2, &newest_snap(l)), 1),
            file: newest_snap,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest snapshot: body byte flipped",
            damage: |v2, l| {
                let f = at(v2, &newest_snap(l));
                let n = std::fs::metadata(&f).unwrap().len();
                flip(&f, n / 2)
            },
            file: newest_snap,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest snapshot: checksum flipped",
            damage: |v2, l| {
                let f = at(v2, &newest_snap(l));
                let n = std::fs::metadata(&f).unwrap().len();
                // [.. nodes, "/"] [seal: long] [digest: zxid, version, digest] [seal: long] [1, '/']
                flip(&f, n - 5 - 8 - 20 - 5 - 4)
            },
            file: newest_snap,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest snapshot: cut in half",
            damage: |v2, l| {
                let f = at(v2, &newest_snap(l));
                let n = std::fs::metadata(&f).unwrap().len();
                let h = std::fs::OpenOptions::new().write(true).open(f).unwrap();
                h.set_len(n / 2).unwrap();
            },
            file: newest_snap,
            zkrs: AllOrRefuse,
            java: AllOrRefuse,
        },
        Case {
            name: "newest snapshot: body flipped, and the logs before it gone",
            damage: |v2, l| {
                let f = at(v2, &newest_snap(l));
                let n = std::fs::metadata(&f).unwrap().len();
                flip(&f, n / 2);
                let z =
                    persist::zxid_from_name(f.file_name().unwrap().to_str().unwrap(), "snapshot")
                        .unwrap();
                // Every log that starts at or before the snapshot's zxid: the older
                // snapshots can no longer be brought up to date. (Java names a snapshot
                // after the last applied txn, which under load lags the log roll, so the
                // log holding the txns right after it may start well before it.)
                for (p, _) in &l.logs {
                    let name = p.file_name().unwrap().to_str().unwrap();
                    let start = persist::zxid_from_name(name, "log").unwrap();
                    if start <= z {
                        std::fs::remove_file(at(v2, p)).unwrap();
                    }
                }
            },
            file: newest_snap,
            zkrs: AllOrRefuse,
            java: Loses,
        },
    ]
}

fn matrix(imp: Impl) {
    let t0 = Instant::now();
    let (data, l) = base(imp);
    let work = data.parent().unwrap().to_path_buf();
    let mut failures = Vec::new();
    for (i, c) in cases().iter().enumerate() {
        let copy = work.join(format!("case{i}"));
        let v2 = copy.join("version-2");
        std::fs::create_dir_all(&v2).unwrap();
        for e in std::fs::read_dir(data.join("version-2")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), v2.join(e.file_name())).unwrap();
        }
        (c.damage)(&v2, &l);
        let damaged = at(&v2, &(c.file)(&l));
        let outcome = run(imp, &copy);
        let expect = match imp {
            Impl::Java => c.java,
            Impl::Zkrs => c.zkrs,
        };
        let summary = match &outcome {
            Outcome::Refused(code, _) => format!("refused (exit {code:?})"),
            Outcome::Served(n) => format!("served {n}/{NODES}"),
        };
        eprintln!("{imp:?}: {}: {summary}", c.name);
        if let (Outcome::Refused(_, text), Impl::Zkrs) = (&outcome, imp) {
            let name = damaged.file_name().unwrap().to_string_lossy().to_string();
            if let Some(line) = text.lines().find(|l| l.contains(&name)) {
                eprintln!("    {line}");
            }
        }
        let ok = match (&outcome, expect) {
            (Outcome::Served(n), Expect::All | Expect::AllOrRefuse) => *n == NODES,
            (Outcome::Refused(code, text), Expect::AllOrRefuse) => {
                code != &Some(0)
                    && (imp == Impl::Java
                        || text
                            .contains(&damaged.file_name().unwrap().to_string_lossy().to_string()))
            }
            (Outcome::Refused(..), Expect::All) => false,
            (Outcome::Served(n), Expect::Loses) => *n < NODES,
            (Outcome::Refused(..), Expect::Loses) => false,
        };
        if !ok {
            let tail = match &outcome {
                Outcome::Refused(_, text) => {
                    text.lines().rev().take(5).collect::<Vec<_>>().join("\n")
                }
                _ => String::new(),
            };
            failures.push(format!(
                "{}: expected {expect:?}, got {summary}\n{tail}",
                c.name
            ));
        } else {
            let _ = std::fs::remove_dir_all(&copy);
        }
    }
    member(imp, &data);
    eprintln!("{imp:?}: {} cases in {:?}", cases().len() + 2, t0.elapsed());
    assert!(failures.is_empty(), "{imp:?}:\n{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&work);
}

/// The start-up of an ensemble member (the learner's path: `peer::run` loads its own
/// database before the election) on the same damage: a member with a damaged log must not
/// start (it would elect or sync from a database that silently lacks acknowledged txns); an
/// undamaged one loads and keeps looking for its peers.
fn member(imp: Impl, data: &Path) {
    let work = data.parent().unwrap();
    let l = layout(&data.join("version-2"));
    for damaged in [false, true] {
        let copy = work.join(format!("member-{damaged}"));
        let v2 = copy.join("version-2");
        std::fs::create_dir_all(&v2).unwrap();
        for e in std::fs::read_dir(data.join("version-2")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), v2.join(e.file_name())).unwrap();
        }
        if damaged {
            flip(&at(&v2, &newest_log(&l)), mid(&l, newest(&l)).0 + 20);
        }
        let (mut child, port, out) = start_as(imp, &copy, true);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut open_since = None;
        let exited = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if open_since.is_none() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                open_since = Some(Instant::now());
            }
            // Up for 3 s with its client port open: it loaded and is looking for peers.
            if open_since.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
                break None;
            }
            assert!(
                Instant::now() < deadline,
                "{imp:?} member: see {}",
                out.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        eprintln!("{imp:?}: ensemble member, log damaged: {damaged}: exited {exited:?}");
        if damaged {
            let status =
                exited.unwrap_or_else(|| panic!("{imp:?} member started on a damaged log"));
            assert!(!status.success());
            if imp == Impl::Zkrs {
                let name = newest_log(&l)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                assert!(
                    text.contains(&name) && text.contains("zk-logdump truncate"),
                    "{text}"
                );
            }
        } else {
            assert!(exited.is_none(), "{imp:?} member did not start: {text}");
        }
        let _ = std::fs::remove_dir_all(&copy);
    }
}

#[test]
fn zkserver_serves_every_acked_write_or_refuses() {
    matrix(Impl::Zkrs);
}

#[test]
fn java_3_8_on_the_same_damage() {
    let java_ok = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new(JARS).join("zookeeper.jar").exists();
    assert!(
        java_ok,
        "needs Java ZooKeeper 3.8: apt-get install -y zookeeper default-jdk-headless"
    );
    matrix(Impl::Java);
}
