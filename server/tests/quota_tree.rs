//! Quota bookkeeping through the data tree (`DataTree::apply` and snapshot loading), as Java
//! 3.8's DataTree does it: the numbers are the ones Java's zkCli prints in the compat test
//! (compat-tests/python/test_zkcli.py, test_quota).

use bytes::Bytes;
use jute::ops;
use jute::txn::{CreateTxn, DeleteTxn, SetDataTxn, TxnHeader};
use zk_server::persist::snapshot::{self, SnapshotOptions};
use zk_server::quota::{limit_path, stat_path};
use zk_server::tree::{open_acl, DataTree};
use zk_server::txn::{Txn, TxnBody};

struct T {
    tree: DataTree,
    zxid: i64,
}

impl T {
    fn new() -> T {
        T {
            tree: DataTree::new(false),
            zxid: 0,
        }
    }

    fn hdr(&mut self, ty: i32) -> TxnHeader {
        self.zxid += 1;
        TxnHeader {
            client_id: 0x42,
            cxid: self.zxid as i32,
            zxid: self.zxid,
            time: 1_000 + self.zxid,
            r#type: ty,
        }
    }

    fn apply(&mut self, txn: Txn) {
        let rc = self.tree.apply(&txn, &mut Vec::new());
        assert_eq!(rc.err, 0, "{txn:?}");
    }

    fn create_body(path: &str, data: &str) -> TxnBody {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data.as_bytes())),
            acl: open_acl(),
            ephemeral: false,
            parent_c_version: -1,
        })
    }

    fn create(&mut self, path: &str, data: &str) {
        let hdr = self.hdr(ops::CREATE);
        self.apply(Txn {
            hdr,
            body: Self::create_body(path, data),
        });
    }

    fn delete(&mut self, path: &str) {
        let hdr = self.hdr(ops::DELETE);
        self.apply(Txn {
            hdr,
            body: TxnBody::Delete(DeleteTxn { path: path.into() }),
        });
    }

    fn set(&mut self, path: &str, data: &str) {
        let version = self.tree.node(path).unwrap().stat.version + 1;
        let hdr = self.hdr(ops::SET_DATA);
        self.apply(Txn {
            hdr,
            body: TxnBody::SetData(SetDataTxn {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data.as_bytes())),
                version,
            }),
        });
    }

    /// What zkCli's `setquota` sends: the quota path, the limits node, the stats node.
    fn setquota(&mut self, path: &str, limits: &str) {
        let mut p = String::from("/zookeeper/quota");
        for c in path.split('/').skip(1) {
            p = format!("{p}/{c}");
            if self.tree.node(&p).is_none() {
                self.create(&p, "");
            }
        }
        self.create(&limit_path(path), limits);
        self.create(&stat_path(path), "count=0,bytes=0");
    }

    /// What zkCli's `delquota` (no flags) sends: the quota node's children, then the node and
    /// parents left empty.
    fn delquota(&mut self, path: &str) {
        let q = format!("/zookeeper/quota{path}");
        let kids: Vec<String> = self
            .tree
            .node(&q)
            .unwrap()
            .children
            .java_order()
            .into_iter()
            .map(String::from)
            .collect();
        for k in kids {
            self.delete(&format!("{q}/{k}"));
        }
        let mut p = q;
        while p != "/zookeeper/quota" && self.tree.node(&p).unwrap().children.is_empty() {
            self.delete(&p);
            p = p[..p.rfind('/').unwrap()].to_string();
        }
    }

    fn data(&self, path: &str) -> String {
        let d = self
            .tree
            .node(path)
            .unwrap()
            .data
            .clone()
            .unwrap_or_default();
        String::from_utf8(d.to_vec()).unwrap()
    }
}

#[test]
fn stats_follow_writes_like_java() {
    let mut t = T::new();
    t.create("/zq", "");
    t.create("/zq/a", "12345");
    t.setquota(
        "/zq",
        "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
    );
    let sp = stat_path("/zq");
    assert_eq!(t.data(&sp), "count=2,bytes=5");
    let stat_before = t.tree.node(&sp).unwrap().stat.clone();
    let size_before = t.tree.approximate_data_size();

    t.create("/zq/b", "123");
    t.create("/zq/a/c", "1234567890");
    t.set("/zq/a", "1");
    assert_eq!(t.data(&sp), "count=4,bytes=14");
    t.delete("/zq/b");
    assert_eq!(t.data(&sp), "count=3,bytes=11");

    // Only the data changes: not version, mzxid, ... nor Java's approximate data size (which
    // counts the stats node as it was created).
    assert_eq!(t.tree.node(&sp).unwrap().stat, stat_before);
    assert_eq!(
        t.tree.approximate_data_size(),
        size_before + (10 - 4) + ("/zq/a/c".len() as i64)
    );

    // Writes outside the root, and a multi inside it.
    t.create("/zqq", "xx");
    let hdr = t.hdr(ops::MULTI);
    t.apply(Txn {
        hdr,
        body: TxnBody::Multi(vec![
            (jute::OpCode::Create, T::create_body("/zq/m1", "ab")),
            (jute::OpCode::Create, T::create_body("/zq/m2", "c")),
        ]),
    });
    assert_eq!(t.data(&sp), "count=5,bytes=14");
    t.delete("/zq/m1");
    t.delete("/zq/m2");
    assert_eq!(t.tree.quota_prefix("/zq/a/c").as_deref(), Some("/zq"));

    // delquota: no root any more, later writes count nowhere.
    t.delquota("/zq");
    assert_eq!(t.tree.quota_prefix("/zq/a"), None);
    assert!(t.tree.node("/zookeeper/quota/zq").is_none());
    t.create("/zq/x", "");

    // setquota -N 3: recounted when the stats node is created.
    t.setquota(
        "/zq",
        "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3",
    );
    assert_eq!(t.data(&sp), "count=4,bytes=11");
    t.create("/zq/d", "");
    t.create("/zq/e", "");
    assert_eq!(t.data(&sp), "count=6,bytes=11");

    // Enforcement check (prep's, when zookeeper.enforceQuota is on): hard count 3 passed.
    let e = t.tree.check_quota("/zq/f", 0, 1).unwrap_err();
    assert_eq!(e.prefix, "/zq");
    assert_eq!(
        e.message,
        "Quota exceeded: /zq [current count=7, hardCountLimit=3]"
    );
    assert_eq!(t.tree.check_quota("/zq/a", 5, 0), Ok(vec![]));
    assert_eq!(t.tree.check_quota("/other", 5, 1), Ok(vec![]));
}

#[test]
fn snapshot_load_rebuilds_roots_and_recounts() {
    let mut t = T::new();
    t.create("/a", "1");
    t.create("/a/b", "22");
    t.setquota("/a", "count=10,bytes=-1");
    t.create("/a/b/c", "333");
    assert_eq!(t.data(&stat_path("/a")), "count=3,bytes=6");
    // A stale stats node (a client wrote it): the load recounts it.
    t.set(&stat_path("/a"), "count=99,bytes=99");
    let stat_before = t.tree.node(&stat_path("/a")).unwrap().stat.clone();

    let dir = std::env::temp_dir().join(format!("zkrs-quota-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file =
        snapshot::write_snapshot(&t.tree, &dir, t.zxid, &SnapshotOptions::default()).unwrap();
    let loaded = snapshot::load(&file, false).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut l = T {
        tree: loaded.tree,
        zxid: t.zxid,
    };
    assert_eq!(l.data(&stat_path("/a")), "count=3,bytes=6");
    assert_eq!(l.tree.node(&stat_path("/a")).unwrap().stat, stat_before);
    assert_eq!(l.tree.quota_prefix("/a/b/c").as_deref(), Some("/a"));
    // And the loaded tree keeps counting.
    l.create("/a/d", "4444");
    assert_eq!(l.data(&stat_path("/a")), "count=4,bytes=10");
    l.delete(&limit_path("/a"));
    l.create("/a/e", "");
    assert_eq!(l.data(&stat_path("/a")), "count=4,bytes=10");
}
