//! `zkserver check` on good, empty and damaged folders written by our own database.

use super::*;
use crate::database::{Database, DbOptions};
use crate::persist::txnlog::encode_entry;
use crate::txn::{Txn, TxnBody};
use bytes::Bytes;
use jute::txn::{CreateSessionTxn, CreateTxn, TxnHeader};
use std::collections::BTreeMap;
use std::path::Path;

const LIVE_SESSION: i64 = 0x55;
const DEAD_SESSION: i64 = 0x99;

/// A standalone config on `data_dir`, and its warnings (line 4's key is unknown).
fn config_and_warnings(data_dir: &Path) -> (Config, Vec<String>) {
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort=2181\nnoSuchKey=1\n",
        data_dir.display()
    );
    crate::config::parse(&text).unwrap()
}

fn config(data_dir: &Path) -> Config {
    config_and_warnings(data_dir).0
}

fn txn(zxid: i64, session: i64, r#type: i32, body: TxnBody) -> Txn {
    Txn {
        hdr: TxnHeader {
            client_id: session,
            cxid: zxid as i32,
            zxid,
            time: 1_800_000_000_000,
            r#type,
        },
        body,
    }
}

fn create(zxid: i64, session: i64, ephemeral: bool) -> Txn {
    txn(
        zxid,
        session,
        jute::ops::CREATE,
        TxnBody::Create(CreateTxn {
            path: format!("/n{zxid}"),
            data: Some(Bytes::from_static(b"data")),
            acl: crate::tree::open_acl(),
            ephemeral,
            parent_c_version: zxid as i32,
        }),
    )
}

/// A folder as a standalone server leaves it: snapshot.0, then one log holding a live
/// session, 10 persistent nodes, an ephemeral of the live session and one of a session
/// that is not in the table. Returns the last zxid.
fn write_database(dir: &Path) -> i64 {
    let mut db = Database::open(DbOptions::from_config(&config(dir), None)).unwrap();
    let mut txns = vec![txn(
        1,
        LIVE_SESSION,
        jute::ops::CREATE_SESSION,
        TxnBody::CreateSession(CreateSessionTxn { time_out: 30_000 }),
    )];
    for z in 2..=11 {
        txns.push(create(z, LIVE_SESSION, false));
    }
    txns.push(create(12, LIVE_SESSION, true));
    txns.push(create(13, DEAD_SESSION, true));
    for t in &txns {
        db.append_log(t.hdr.zxid, &encode_entry(t, None)).unwrap();
    }
    db.sync_log().unwrap();
    13
}

/// Every file under `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(contents(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

fn log_file(dir: &Path) -> PathBuf {
    let logs = persist::list_files(&dir.join("version-2"), persist::LOG_PREFIX).unwrap();
    assert_eq!(logs.len(), 1, "one txn log written");
    logs[0].1.clone()
}

#[test]
fn a_good_folder_reports_what_the_server_serves_and_is_left_untouched() {
    let dir = crate::persist::txnlog::tests::tempdir();
    let last = write_database(&dir);
    let before = contents(&dir);
    let (cfg, warnings) = config_and_warnings(&dir);
    let found = inspect(&cfg, warnings);
    assert_eq!(contents(&dir), before, "check wrote to the folder");
    assert_eq!(found.exit_code(), EXIT_OK, "{}", found.render());
    let db = found.db.as_ref().unwrap();
    // What the server itself opens (on a copy, as opening writes).
    let served = Database::open(DbOptions::from_config(&config(&dir), None)).unwrap();
    assert_eq!(db.last_zxid, last);
    assert_eq!(db.last_zxid, served.last_zxid());
    assert_eq!(db.node_count, served.tree().unwrap().node_count());
    assert_eq!(Some(db.digest), served.digest());
    assert_eq!(db.sessions, 1);
    assert_eq!(db.ephemerals, 1);
    assert_eq!(db.dead_sessions, vec![DEAD_SESSION]);
    assert_eq!(db.txns_replayed, 13);
    assert_eq!(db.snapshot.as_ref().map(|s| s.0), Some(0));
    let report = found.render();
    assert!(
        report.contains("config warning: line 4: unknown key noSuchKey"),
        "{report}"
    );
    assert!(report.contains("last zxid: 0xd\n"), "{report}");
    assert!(report.contains("role: standalone\n"), "{report}");
    assert!(report.ends_with("result: ok\n"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_folder_is_an_empty_database_and_is_not_created() {
    let parent = crate::persist::txnlog::tests::tempdir();
    let dir = parent.join("never-started");
    let found = inspect(&config(&dir), Vec::new());
    assert!(!dir.exists(), "check created the dataDir");
    assert_eq!(found.exit_code(), EXIT_OK, "{}", found.render());
    let db = found.db.as_ref().unwrap();
    assert_eq!((db.last_zxid, db.snapshot.clone()), (0, None));
    assert!(found
        .render()
        .contains("snapshot: none (the server starts empty)"));
    std::fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn a_torn_log_tail_is_reported_and_not_truncated() {
    let dir = crate::persist::txnlog::tests::tempdir();
    write_database(&dir);
    let log = log_file(&dir);
    // Cut the log inside its last entry, as a crash during a write (the preallocated zeros
    // after it go too).
    let bytes = std::fs::read(&log).unwrap();
    let end = bytes.len() - bytes.iter().rev().take_while(|b| **b == 0).count();
    std::fs::write(&log, &bytes[..end - 5]).unwrap();
    let before = contents(&dir);
    let found = inspect(&config(&dir), Vec::new());
    assert_eq!(contents(&dir), before, "check truncated the log");
    assert_eq!(found.exit_code(), EXIT_DAMAGED, "{}", found.render());
    assert_eq!(found.db.as_ref().unwrap().last_zxid, 12);
    assert!(found.render().contains("has a torn tail"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_crc_inside_the_log_makes_the_database_unloadable() {
    let dir = crate::persist::txnlog::tests::tempdir();
    write_database(&dir);
    let log = log_file(&dir);
    let mut bytes = std::fs::read(&log).unwrap();
    // The first entry's CRC (after the 16-byte file header).
    bytes[16] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let found = inspect(&config(&dir), Vec::new());
    assert_eq!(found.exit_code(), EXIT_UNLOADABLE, "{}", found.render());
    assert!(found.db.is_none());
    assert!(found
        .render()
        .contains("result: the server would not start: "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_only_snapshot_makes_the_database_unloadable() {
    let dir = crate::persist::txnlog::tests::tempdir();
    write_database(&dir);
    std::fs::remove_file(log_file(&dir)).unwrap();
    let snap = dir.join("version-2/snapshot.0");
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&snap, &bytes).unwrap();
    let found = inspect(&config(&dir), Vec::new());
    assert_eq!(found.exit_code(), EXIT_UNLOADABLE, "{}", found.render());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_ensemble_member_reports_its_id_and_servers() {
    let dir = crate::persist::txnlog::tests::tempdir();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
            dir.display()
        ),
    )
    .unwrap();
    let (cfg, warnings) = crate::config::load(&path).unwrap();
    let found = inspect(&cfg, warnings);
    let report = found.render();
    assert!(
        report.contains("role: ensemble participant, myid 2\n  server.1=127.0.0.1:2888:3888"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
