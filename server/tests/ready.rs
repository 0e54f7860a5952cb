//! No "ruok before ready": while zkserver loads a large database, the client port answers
//! nothing; the first `imok` comes only once sessions are served. (Java answers `imok`
//! seconds before it can serve a session on a big database; this is where we differ on
//! purpose, so the test runs against zkserver only.)

use bytes::{Bytes, BytesMut};
use compat_tests::ports::test_port;
use jute::data::{Acl, Id};
use jute::ops;
use jute::txn::{CreateTxn, TxnHeader};
use jute::Encode;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use zk_server::persist::snapshot::{write_snapshot, SnapshotOptions};
use zk_server::tree::DataTree;
use zk_server::txn::{Txn, TxnBody};

const NODES: i64 = 300_000;

fn big_data_dir(dir: &std::path::Path) {
    let mut tree = DataTree::new(false);
    let acl = vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }];
    let mut events = Vec::new();
    let data = Bytes::from(vec![b'x'; 100]);
    for i in 0..NODES {
        let path = if i < 100 {
            format!("/p{i}")
        } else {
            format!("/p{}/n{i}", i % 100)
        };
        let txn = Txn {
            hdr: TxnHeader {
                client_id: 0,
                cxid: 0,
                zxid: i + 1,
                time: 1,
                r#type: ops::CREATE,
            },
            body: TxnBody::Create(CreateTxn {
                path,
                data: Some(data.clone()),
                acl: acl.clone(),
                ephemeral: false,
                parent_c_version: -1,
            }),
        };
        assert_eq!(tree.apply(&txn, &mut events).err, 0);
    }
    let snap_dir = dir.join("version-2");
    write_snapshot(&tree, &snap_dir, NODES, &SnapshotOptions::default()).unwrap();
}

fn four_letter(addr: SocketAddr, cmd: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(cmd.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A session and a getData of one of the loaded nodes, within `limit`.
fn serves(addr: SocketAddr, limit: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    s.set_read_timeout(Some(limit)).unwrap();
    let mut b = BytesMut::new();
    jute::frame::write_frame(&mut b, |b| {
        jute::proto::ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 10_000,
            session_id: 0,
            passwd: Some(Bytes::from_static(&[0; 16])),
        }
        .encode(b);
        false.encode(b);
    });
    jute::frame::write_frame(&mut b, |b| {
        jute::proto::RequestHeader {
            xid: 1,
            r#type: ops::GET_DATA,
        }
        .encode(b);
        jute::proto::GetDataRequest {
            path: "/p7".into(),
            watch: false,
        }
        .encode(b);
    });
    if s.write_all(&b).is_err() {
        return false;
    }
    // ConnectResponse (4 + 37) then the reply header (4 + 16) and body.
    let mut buf = vec![0u8; 41 + 20];
    if s.read_exact(&mut buf).is_err() {
        return false;
    }
    let err = i32::from_be_bytes(buf[41 + 16..41 + 20].try_into().unwrap());
    err == 0
}

#[test]
fn imok_only_once_sessions_are_served() {
    let dir = std::env::temp_dir().join(format!("zkrs-ready-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    big_data_dir(&dir);
    let port = test_port();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zkserver"))
        .arg(&cfg)
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let start = Instant::now();
    let mut answered = None;
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(text) = four_letter(addr, "ruok") {
            answered = Some(text);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Loading takes several hundred ms; an imok sent before the end of loading would leave
    // the session waiting longer than this.
    let ok = answered.as_deref() == Some("imok") && serves(addr, Duration::from_millis(100));
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    assert_eq!(answered.as_deref(), Some("imok"), "no imok; log:\n{log}");
    assert!(
        ok,
        "imok came before a session could be served; log:\n{log}"
    );
    assert!(log.contains("loaded 300004 znodes"), "log:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
