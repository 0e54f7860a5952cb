//! The restart fixture of issue 18 (docs/scale-plan.md section 2), written straight to disk in
//! Java's formats: a snapshot holding `/zkbench` with `SNAP_CHILDREN` children, then
//! `LOG_CHILDREN` creates under it in the txn log (with TxnDigests, as digests are on by
//! default) — 1,000,000 children in all, names of 40 to 60 bytes, 100 bytes of data each.
//!
//! ```text
//! ZK_FIXTURE_DIR=/tmp/replay-fixture cargo test --release -p zk-server --test replay_fixture \
//!     -- --ignored --nocapture
//! ```
//! writes the dataDir (`$ZK_FIXTURE_DIR/version-2`) and then times `recovery::load` on it
//! (the replay alone, printed). Run `zkserver` on a copy with a zoo.cfg pointing at it to
//! time restart-to-serving.

use bytes::Bytes;
use jute::ops;
use jute::txn::{CreateSessionTxn, CreateTxn, TxnDigest, TxnHeader};
use std::path::PathBuf;
use std::time::Instant;
use zk_server::persist::digest::DigestTracker;
use zk_server::persist::snapshot::{self, SnapshotOptions};
use zk_server::persist::txnlog::{LogOptions, TxnLogWriter};
use zk_server::persist::{recovery, version_dir};
use zk_server::tree::{open_acl, DataTree};
use zk_server::txn::{Txn, TxnBody};

const SNAP_CHILDREN: u64 = 661_490;
const LOG_CHILDREN: u64 = 338_510;
const SESSION: i64 = 0x1000_0000_0000_0001;

/// `/zkbench/u<i>-<hex>` padded to 40..60 bytes of name (length from a hash of i).
fn child_path(i: u64) -> String {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let len = 40 + (h >> 59) as usize % 21;
    let mut name = format!("u{i}-{h:016x}");
    while name.len() < len {
        name.push('x');
    }
    name.truncate(len);
    format!("/zkbench/{name}")
}

fn txn(zxid: i64, r#type: i32, body: TxnBody) -> Txn {
    Txn {
        hdr: TxnHeader {
            client_id: SESSION,
            cxid: zxid as i32,
            zxid,
            time: 1_800_000_000_000 + zxid,
            r#type,
        },
        body,
    }
}

fn create(zxid: i64, path: String) -> Txn {
    txn(
        zxid,
        ops::CREATE,
        TxnBody::Create(CreateTxn {
            path,
            data: Some(Bytes::from(vec![b'v'; 100])),
            acl: open_acl(),
            ephemeral: false,
            parent_c_version: -1,
        }),
    )
}

#[test]
#[ignore = "writes a 1M-znode dataDir; run by hand (see the module doc)"]
fn write_and_time_the_restart_fixture() {
    let dir = PathBuf::from(std::env::var("ZK_FIXTURE_DIR").expect("ZK_FIXTURE_DIR"));
    let v2 = version_dir(&dir);
    if !v2.exists() {
        let mut tree = DataTree::new(false);
        let mut ev = Vec::new();
        let mut z = 1;
        tree.apply(
            &txn(
                z,
                ops::CREATE_SESSION,
                TxnBody::CreateSession(CreateSessionTxn { time_out: 30_000 }),
            ),
            &mut ev,
        );
        z += 1;
        tree.apply(&create(z, "/zkbench".into()), &mut ev);
        for i in 0..SNAP_CHILDREN {
            z += 1;
            tree.apply(&create(z, child_path(i)), &mut ev);
            ev.clear();
        }
        snapshot::write_snapshot(&tree, &v2, z, &SnapshotOptions::default()).unwrap();
        let mut tracker = DigestTracker::new(&tree);
        let mut log = TxnLogWriter::new(&v2, LogOptions::default()).unwrap();
        for i in SNAP_CHILDREN..SNAP_CHILDREN + LOG_CHILDREN {
            z += 1;
            let t = create(z, child_path(i));
            tracker.apply(&mut tree, &t, &mut ev);
            ev.clear();
            let d = TxnDigest {
                version: 2,
                tree_digest: tracker.value(),
            };
            log.append(&t, Some(&d)).unwrap();
        }
        log.flush_and_sync().unwrap();
        println!("fixture written to {}", dir.display());
    }
    let opts = recovery::LoadOptions {
        read_only: true,
        ..Default::default()
    };
    for _ in 0..3 {
        let t0 = Instant::now();
        let l = recovery::load_with(&dir, &dir, &opts).unwrap();
        println!(
            "recovery::load: {} znodes, {} txns replayed, {} digests checked, {} mismatches, in {:?}",
            l.tree.node_count(),
            l.txns_replayed,
            l.digests_checked,
            l.digest_mismatches,
            t0.elapsed()
        );
        assert_eq!(l.txns_replayed, LOG_CHILDREN);
        assert_eq!(l.digest_mismatches, 0);
        // Every txn's digest, and the snapshot's own.
        assert_eq!(l.digests_checked, LOG_CHILDREN + 1);
        assert_eq!(
            l.tree.node("/zkbench").unwrap().stat.cversion as u64,
            SNAP_CHILDREN + LOG_CHILDREN
        );
    }
}
