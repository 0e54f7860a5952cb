//! A SNAP stream from the leader loaded into a fresh tree, item by item (Java's
//! `ZKDatabase.deserializeSnapshot`): sessions, the ACL cache, then the nodes, whose ACL ids
//! refer to the cache entries seen before them.

use crate::tree::{open_acl, AclList, DataTree};
use std::collections::HashMap;
use zk_quorum::zab::snap_stream::SnapItem;

/// A tree being loaded from a leader's snapshot stream.
pub struct SnapLoader {
    tree: DataTree,
    sessions: HashMap<i64, i32>,
    acls: HashMap<i64, AclList>,
}

impl SnapLoader {
    /// Start with a tree without any node.
    pub fn new(extended_types: bool) -> SnapLoader {
        SnapLoader {
            tree: DataTree::empty_for_load(extended_types),
            sessions: HashMap::new(),
            acls: HashMap::new(),
        }
    }

    /// Add the next item of the stream: a session, an ACL cache entry or a node (whose ACL
    /// id must be -1, the open ACL, or an entry seen before).
    pub fn add(&mut self, item: SnapItem) -> Result<(), String> {
        match item {
            SnapItem::Session { id, timeout } => {
                self.sessions.insert(id, timeout);
            }
            SnapItem::Acl { id, acl } => {
                let a = self.tree.intern_acl(acl);
                self.acls.insert(id, a);
            }
            SnapItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                let acl = if acl == -1 {
                    self.tree.intern_acl(open_acl())
                } else {
                    self.acls
                        .get(&acl)
                        .cloned()
                        .ok_or_else(|| format!("node {path} refers to unknown ACL {acl}"))?
                };
                self.tree.load_node(&path, data, acl, stat)?;
            }
        }
        Ok(())
    }

    /// The loaded tree, which reflects the txns up to `zxid`; an error if the stream had no
    /// root node.
    pub fn finish(mut self, zxid: i64) -> Result<DataTree, String> {
        if self.tree.node("/").is_none() {
            return Err("snapshot without a root".into());
        }
        self.tree.finish_load(self.sessions, zxid);
        self.tree.purge_unused_acls();
        Ok(self.tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::data::StatPersisted;

    fn node(path: &str, acl: i64) -> SnapItem {
        SnapItem::Node {
            path: path.into(),
            data: Some(bytes::Bytes::from_static(b"d")),
            acl,
            stat: StatPersisted {
                czxid: 1,
                mzxid: 1,
                pzxid: 1,
                ..StatPersisted::default()
            },
        }
    }

    #[test]
    fn loads_sessions_acls_and_nodes() {
        let mut l = SnapLoader::new(false);
        l.add(SnapItem::Session {
            id: 0x55,
            timeout: 4000,
        })
        .unwrap();
        l.add(SnapItem::Acl {
            id: 1,
            acl: open_acl(),
        })
        .unwrap();
        l.add(node("", -1)).unwrap();
        l.add(node("/a", 1)).unwrap();
        let tree = l.finish(9).unwrap();
        assert_eq!(tree.last_zxid, 9);
        assert_eq!(tree.sessions.get(&0x55), Some(&4000));
        assert!(tree.node("/a").is_some());
    }

    #[test]
    fn an_unknown_acl_or_a_missing_root_is_an_error() {
        let mut l = SnapLoader::new(false);
        l.add(node("", -1)).unwrap();
        assert!(l.add(node("/a", 7)).is_err());
        let l = SnapLoader::new(false);
        assert!(l.finish(1).is_err());
    }
}
