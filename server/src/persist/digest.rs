//! Java 3.8's data-tree digest (`DigestCalculator`, `NodeHashMapImpl`, `AdHash`), on by
//! default (`zookeeper.digest.enabled`).
//!
//! - A node's digest is the CRC32 (as an unsigned 32-bit value in an i64) of: the path's bytes
//!   (the root is hashed as "", never "/"), the data (nothing for null data), then 60 bytes of
//!   stat, big-endian: czxid, mzxid, pzxid, ctime, mtime (longs), version, cversion, aversion
//!   (ints), ephemeralOwner (long). The stat is the *persisted* one (cversion counts creates).
//! - Nodes whose path starts with `/zookeeper/` count 0 (quota and config nodes change locally);
//!   `/zookeeper` itself and the root do count.
//! - The tree digest is the wrapping sum of the node digests. Java updates it incrementally
//!   (remove a node's old digest before a change, add the new one after); the sum is the same.
//! - `TxnDigest{version 2, treeDigest}` is appended to a log entry when digests are enabled: the
//!   digest of the tree *after* the txn. A snapshot ends with `ZxidDigest{zxid, 2, digest}`.
//!
//! Java hashes the path with `String.getBytes()`, the JVM's default charset: UTF-8 on Java 18+
//! or a UTF-8 locale. We always use UTF-8 (on a Java 17 node under a non-UTF-8 locale, paths
//! with non-ASCII characters give a different digest on the Java side).

use crate::tree::{ApplyResult, DataTree, Notification};
use crate::txn::{Txn, TxnBody};
use jute::data::StatPersisted;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// `DigestCalculator.DIGEST_VERSION`.
pub const DIGEST_VERSION: i32 = 2;

/// Whether nodes at `path` take part in the digest (everything but `/zookeeper/...`).
pub fn in_digest(path: &str) -> bool {
    !path.starts_with("/zookeeper/")
}

/// The digest of one node (Java's `DigestCalculator.calculateDigest`); 0 for `/zookeeper/...`.
/// `path` may be "/" or "" for the root.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    if !in_digest(path) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let data = data.unwrap_or(&[]);
    let mut st = [0u8; 60];
    st[0..8].copy_from_slice(&stat.czxid.to_be_bytes());
    st[8..16].copy_from_slice(&stat.mzxid.to_be_bytes());
    st[16..24].copy_from_slice(&stat.pzxid.to_be_bytes());
    st[24..32].copy_from_slice(&stat.ctime.to_be_bytes());
    st[32..40].copy_from_slice(&stat.mtime.to_be_bytes());
    st[40..44].copy_from_slice(&stat.version.to_be_bytes());
    st[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    st[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    st[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    // One contiguous input when small: crc32fast's SIMD path wants 128+ bytes at a time, and
    // three short updates each take its slow path.
    const BUF: usize = 512;
    if path.len() + data.len() <= BUF - 60 {
        let mut b = [0u8; BUF];
        let (p, d) = (path.len(), data.len());
        b[..p].copy_from_slice(path.as_bytes());
        b[p..p + d].copy_from_slice(data);
        b[p + d..p + d + 60].copy_from_slice(&st);
        return crc32fast::hash(&b[..p + d + 60]) as i64;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(path.as_bytes());
    h.update(data);
    h.update(&st);
    h.finalize() as i64
}

/// The digest of the node at `path` in `tree`, 0 if there is none.
pub fn digest_of(tree: &DataTree, path: &str) -> i64 {
    tree.node(path)
        .map_or(0, |n| node_digest(path, *n.data, &n.stat))
}

/// The whole tree's digest, computed from scratch (O(nodes); the sum does not depend on the
/// order, so the nodes are visited in storage order).
pub fn tree_digest(tree: &DataTree) -> i64 {
    let mut sum = 0i64;
    tree.for_each_node_unordered(|path, n| {
        sum = sum.wrapping_add(node_digest(path, *n.data, &n.stat));
    });
    sum
}

/// Keeps a tree digest up to date across `apply`: before a txn, the digests of the nodes it can
/// touch are subtracted; after it, added back. Cost: O(paths the txn names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTracker {
    digest: i64,
}

impl DigestTracker {
    /// Start from the full digest of `tree`.
    pub fn new(tree: &DataTree) -> Self {
        DigestTracker {
            digest: tree_digest(tree),
        }
    }

    /// Start from a known digest.
    pub fn with_value(digest: i64) -> Self {
        DigestTracker { digest }
    }

    pub fn value(&self) -> i64 {
        self.digest
    }

    /// Apply `txn` to `tree` and update the digest.
    pub fn apply(
        &mut self,
        tree: &mut DataTree,
        txn: &Txn,
        events: &mut Vec<Notification>,
    ) -> ApplyResult {
        let mut touched = Vec::with_capacity(4);
        collect(tree, txn.hdr.client_id, &txn.body, &mut touched);
        touched.sort_unstable();
        touched.dedup();
        for p in &touched {
            self.digest = self.digest.wrapping_sub(digest_of(tree, p));
        }
        let rc = tree.apply(txn, events);
        for p in &touched {
            self.digest = self.digest.wrapping_add(digest_of(tree, p));
        }
        rc
    }
}

/// Every node whose digest `txn` may change when applied to `tree` (as it is now): the paths it
/// names and their parents; for closeSession, the session's ephemerals and their parents.
pub fn touched_paths(tree: &DataTree, txn: &Txn) -> BTreeSet<String> {
    let mut out = Vec::new();
    collect(tree, txn.hdr.client_id, &txn.body, &mut out);
    out.into_iter().map(Cow::into_owned).collect()
}

fn with_parent<'a>(path: Cow<'a, str>, out: &mut Vec<Cow<'a, str>>) {
    let parent = match &path {
        Cow::Borrowed(p) => Cow::Borrowed(crate::tree::split_path(p).0),
        Cow::Owned(p) => Cow::Owned(crate::tree::split_path(p).0.to_string()),
    };
    out.push(path);
    out.push(parent);
}

fn collect<'a>(tree: &DataTree, session: i64, body: &'a TxnBody, out: &mut Vec<Cow<'a, str>>) {
    match body {
        TxnBody::Create(t) => with_parent(Cow::Borrowed(&t.path), out),
        TxnBody::CreateContainer(t) => with_parent(Cow::Borrowed(&t.path), out),
        TxnBody::CreateTtl(t) => with_parent(Cow::Borrowed(&t.path), out),
        TxnBody::Delete(t) => with_parent(Cow::Borrowed(&t.path), out),
        TxnBody::SetData(t) => out.push(Cow::Borrowed(&t.path)),
        TxnBody::SetAcl(t) => out.push(Cow::Borrowed(&t.path)),
        TxnBody::CloseSession(t) => {
            for p in tree.ephemerals_of(session) {
                with_parent(Cow::Owned(p.clone()), out);
            }
            if let Some(t) = t {
                for p in &t.paths2_delete {
                    with_parent(Cow::Borrowed(p), out);
                }
            }
        }
        TxnBody::Multi(subs) => {
            for (_, sub) in subs {
                collect(tree, session, sub, out);
            }
        }
        TxnBody::Check(_) | TxnBody::CreateSession(_) | TxnBody::Error(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_and_root_alias() {
        let s = StatPersisted {
            czxid: 1,
            ..Default::default()
        };
        assert_eq!(node_digest("/zookeeper/quota", None, &s), 0);
        assert_ne!(node_digest("/zookeeper", None, &s), 0);
        assert_eq!(node_digest("/", None, &s), node_digest("", None, &s));
        // Null and empty data hash the same (Java skips a null array).
        assert_eq!(
            node_digest("/a", None, &s),
            node_digest("/a", Some(b""), &s)
        );
    }

    #[test]
    fn known_value() {
        // crc32 of 60 zero bytes (the root of a fresh tree: path "", empty data, zero stat).
        let mut h = crc32fast::Hasher::new();
        h.update(&[0u8; 60]);
        let want = h.finalize() as i64;
        assert_eq!(node_digest("/", Some(b""), &StatPersisted::default()), want);
    }
}
