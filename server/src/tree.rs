//! The data tree: znodes, their stats and ACLs, sessions and their ephemerals, and the watch
//! registrations. Sans-IO: `apply` takes a committed transaction and returns what happened
//! (Java's `ProcessTxnResult`) plus the watch events to deliver; reads never change state
//! except to register watches. Applying the same txn again after it was applied is harmless
//! (fuzzy snapshots and log replay rely on it), as in Java's DataTree.

use crate::children::Children;
use crate::error::{self, Code};
use crate::quota::{self, Quotas};
use crate::txn::{Txn, TxnBody};
use crate::watch::{Event, WatchManager, WatcherId};
use bytes::Bytes;
use jute::data::{Acl, Id, Stat, StatPersisted};
use jute::ops;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// `ephemeralOwner` of container nodes.
pub const CONTAINER_OWNER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const EXTENDED_TYPE_MASK: i64 = 0x00ff_ff00_0000_0000;
/// Largest TTL (ms) an extended-type ephemeralOwner can hold.
pub const MAX_TTL: i64 = 0x0000_00ff_ffff_ffff;

/// What kind of node an `ephemeralOwner` denotes (Java's `EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

pub fn node_kind(owner: i64, extended_types: bool) -> NodeKind {
    if owner == 0 {
        NodeKind::Persistent
    } else if owner == CONTAINER_OWNER {
        NodeKind::Container
    } else if extended_types
        && owner & EXTENDED_MASK == EXTENDED_MASK
        && owner & EXTENDED_TYPE_MASK == 0
    {
        NodeKind::Ttl(owner & MAX_TTL)
    } else {
        NodeKind::Ephemeral(owner)
    }
}

pub fn ttl_owner(ttl: i64) -> i64 {
    EXTENDED_MASK | (ttl & MAX_TTL)
}

pub type AclList = Arc<Vec<Acl>>;

/// A watch event for a connection, with the ACL of the node it is about: Java (since the
/// CVE-2024-23944 fix) delivers it only if the connection may read that node.
pub type Notification = (WatcherId, Event, AclList);

/// Attach ACLs: events on `path` get `own`, the parent's NodeChildrenChanged gets `parent`.
fn with_acls(
    path: &str,
    fired: Vec<(WatcherId, Event)>,
    own: &AclList,
    parent: &AclList,
    out: &mut Vec<Notification>,
) {
    for (w, e) in fired {
        let acl = if e.path == path {
            own.clone()
        } else {
            parent.clone()
        };
        out.push((w, e, acl));
    }
}

/// One znode. Children are stored as names.
#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Bytes>,
    pub acl: AclList,
    pub stat: StatPersisted,
    pub children: Children,
}

impl Node {
    /// The Stat clients see (Java's DataNode.copyStat): the stored cversion counts child
    /// creates, clients get `2*creates - children` (creates plus deletes); containers and TTL
    /// nodes show ephemeralOwner 0.
    pub fn stat(&self, extended_types: bool) -> Stat {
        let s = &self.stat;
        let num_children = self.children.len() as i32;
        let owner = match node_kind(s.ephemeral_owner, extended_types) {
            NodeKind::Ephemeral(o) => o,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// Java's `ProcessTxnResult`: the outcome of applying one txn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyResult {
    pub op: i32,
    pub err: Code,
    pub path: String,
    pub stat: Option<Stat>,
    pub multi: Vec<ApplyResult>,
}

/// Data kept in the tree gets its own allocation: a slice of a request frame would keep the
/// whole read buffer alive.
fn detach(data: &Option<Bytes>) -> Option<Bytes> {
    data.as_ref().map(|d| Bytes::copy_from_slice(d))
}

/// A node to change, copied first if a snapshot still shares it.
fn node_mut<'a>(nodes: &'a mut HashMap<Arc<str>, Arc<Node>>, path: &str) -> Option<&'a mut Node> {
    nodes.get_mut(path).map(Arc::make_mut)
}

/// The parent path of `path` ("/" for top-level nodes) and the child's name.
pub fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: jute::ops::perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

pub struct DataTree {
    /// Path -> node. Nodes are shared (`Arc`) so a snapshot can take a consistent copy of the
    /// whole map cheaply; a node is copied on its next change while a snapshot holds it.
    nodes: HashMap<Arc<str>, Arc<Node>>,
    acls: HashMap<Vec<Acl>, AclList>,
    /// Live sessions and their timeouts (as snapshots record them).
    pub sessions: HashMap<i64, i32>,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    pub last_zxid: i64,
    pub watches: WatchManager,
    extended_types: bool,
    data_size: i64,
    /// Quota roots (`/zookeeper/quota/<path>/zookeeper_limits`); see `crate::quota`.
    quotas: Quotas,
}

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` (read-only
    /// to the world, aversion -1), all with empty data and zero stats, as Java creates them.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree {
            nodes: HashMap::new(),
            acls: HashMap::new(),
            sessions: HashMap::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: 0,
            watches: WatchManager::default(),
            extended_types,
            data_size: 0,
            quotas: Quotas::new(),
        };
        let open = t.intern_acl(open_acl());
        let blank = |acl: &AclList| Node {
            data: Some(Bytes::new()),
            acl: acl.clone(),
            stat: StatPersisted::default(),
            children: Children::new(),
        };
        t.insert("/", blank(&open));
        t.insert(ZOOKEEPER, blank(&open));
        t.insert(QUOTA, blank(&open));
        let read_only = t.intern_acl(vec![Acl {
            perms: jute::ops::perms::READ,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]);
        let mut config = blank(&read_only);
        config.stat.aversion = -1;
        t.insert(CONFIG, config);
        t.link("/", "zookeeper");
        t.link(ZOOKEEPER, "quota");
        t.link(ZOOKEEPER, "config");
        t
    }

    fn insert(&mut self, path: &str, node: Node) {
        self.data_size += path.len() as i64 + node.data.as_ref().map_or(0, |d| d.len() as i64);
        self.nodes.insert(Arc::from(path), Arc::new(node));
    }

    fn link(&mut self, parent: &str, child: &str) {
        if let Some(p) = node_mut(&mut self.nodes, parent) {
            p.children.insert(child);
        }
    }

    /// Share equal ACL lists between nodes.
    pub fn intern_acl(&mut self, acl: Vec<Acl>) -> AclList {
        if let Some(a) = self.acls.get(&acl) {
            return a.clone();
        }
        let a = Arc::new(acl.clone());
        self.acls.insert(acl, a.clone());
        a
    }

    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    /// The node at `path`; "" is the root too, as in Java's DataTree.
    pub fn node(&self, path: &str) -> Option<&Node> {
        let path = if path.is_empty() { "/" } else { path };
        self.nodes.get(path).map(|n| &**n)
    }

    /// A copy of the tree's state for a snapshot, consistent at `last_zxid`: nodes are shared,
    /// not copied (watches are not part of it).
    pub fn snapshot_copy(&self) -> DataTree {
        DataTree {
            nodes: self.nodes.clone(),
            acls: self.acls.clone(),
            sessions: self.sessions.clone(),
            ephemerals: self.ephemerals.clone(),
            containers: self.containers.clone(),
            ttls: self.ttls.clone(),
            last_zxid: self.last_zxid,
            watches: WatchManager::default(),
            extended_types: self.extended_types,
            data_size: self.data_size,
            quotas: self.quotas.clone(),
        }
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Java's approximate data size: path lengths plus data lengths.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    pub fn ephemerals_of(&self, session: i64) -> impl Iterator<Item = &String> {
        self.ephemerals.get(&session).into_iter().flatten()
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub fn ephemerals_by_session(&self) -> &HashMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }

    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// Number of descendants of `path` (not counting itself).
    pub fn all_children_number(&self, path: &str) -> i32 {
        // Java counts keys starting with `path + "/"` in a map that also holds "" for the
        // root: for "" that is every node but "" itself.
        if path.is_empty() {
            return self.nodes.len() as i32;
        }
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(p.as_str()) {
                for c in n.children.iter() {
                    count += 1;
                    stack.push(if p == "/" {
                        format!("/{c}")
                    } else {
                        format!("{p}/{c}")
                    });
                }
            }
        }
        count
    }

    // ---- applying transactions ----

    /// Apply a committed txn; watch events are appended to `events`.
    pub fn apply(&mut self, txn: &Txn, events: &mut Vec<Notification>) -> ApplyResult {
        let rc = self.apply_one(txn.hdr.r#type, &txn.body, &txn.hdr, events);
        if txn.hdr.zxid > self.last_zxid {
            self.last_zxid = txn.hdr.zxid;
        }
        rc
    }

    fn apply_one(
        &mut self,
        ty: i32,
        body: &TxnBody,
        hdr: &jute::txn::TxnHeader,
        events: &mut Vec<Notification>,
    ) -> ApplyResult {
        let mut rc = ApplyResult {
            op: ty,
            ..Default::default()
        };
        let (zxid, time) = (hdr.zxid, hdr.time);
        let result = match body {
            TxnBody::Create(t) => {
                rc.path = t.path.clone();
                let owner = if t.ephemeral { hdr.client_id } else { 0 };
                self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    owner,
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                )
            }
            TxnBody::CreateContainer(t) => {
                rc.path = t.path.clone();
                self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    CONTAINER_OWNER,
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                )
            }
            TxnBody::CreateTtl(t) => {
                rc.path = t.path.clone();
                self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    ttl_owner(t.ttl),
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                )
            }
            TxnBody::Delete(t) => {
                rc.path = t.path.clone();
                self.delete_node(&t.path, zxid, events).map(|_| None)
            }
            TxnBody::SetData(t) => {
                rc.path = t.path.clone();
                self.set_data(&t.path, &t.data, t.version, zxid, time, events)
                    .map(Some)
            }
            TxnBody::SetAcl(t) => {
                rc.path = t.path.clone();
                self.set_acl(&t.path, &t.acl, t.version).map(Some)
            }
            TxnBody::Check(t) => {
                rc.path = t.path.clone();
                Ok(None)
            }
            TxnBody::CreateSession(t) => {
                self.sessions.insert(hdr.client_id, t.time_out);
                Ok(None)
            }
            TxnBody::CloseSession(t) => {
                self.kill_session(
                    hdr.client_id,
                    zxid,
                    t.as_ref().map(|t| &t.paths2_delete[..]),
                    events,
                );
                Ok(None)
            }
            TxnBody::Error(e) => Err(e.err),
            TxnBody::Multi(subs) => {
                // Java: if any sub-txn failed, every other one becomes an error too: 0 before
                // the failure, RuntimeInconsistency after it.
                let failed = subs.iter().any(|(t, _)| *t == ops::ERROR);
                let mut post_failed = false;
                for (sub_ty, sub) in subs {
                    let sub_rc = if *sub_ty == ops::ERROR {
                        post_failed = true;
                        self.apply_one(*sub_ty, sub, hdr, events)
                    } else if failed {
                        ApplyResult {
                            op: ops::ERROR,
                            err: if post_failed {
                                error::RUNTIME_INCONSISTENCY
                            } else {
                                error::OK
                            },
                            ..Default::default()
                        }
                    } else {
                        self.apply_one(*sub_ty, sub, hdr, events)
                    };
                    if sub_rc.err != 0 && rc.err == 0 {
                        rc.err = sub_rc.err;
                    }
                    rc.multi.push(sub_rc);
                }
                Ok(None)
            }
        };
        match result {
            Ok(stat) => rc.stat = stat,
            Err(e) => rc.err = e,
        }
        // Java repairs the parent's cversion/pzxid when replaying a create that already
        // happened (NodeExists on replay).
        // (Only for plain `create` txns, exactly as Java's processTxn does; the digests of
        // mixed ensembles depend on it.)
        if rc.err == error::NODE_EXISTS && ty == ops::CREATE {
            let parent_cversion = match body {
                TxnBody::Create(t) => Some(t.parent_c_version),
                _ => None,
            };
            if let Some(cv) = parent_cversion {
                let (parent, _) = split_path(&rc.path);
                if let Some(p) = node_mut(&mut self.nodes, parent) {
                    let cv = if cv == -1 { p.stat.cversion + 1 } else { cv };
                    if cv > p.stat.cversion {
                        p.stat.cversion = cv;
                        p.stat.pzxid = zxid;
                    }
                }
            }
        }
        rc
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        events: &mut Vec<Notification>,
    ) -> Result<Option<Stat>, Code> {
        let (parent_path, name) = split_path(path);
        let acl = self.intern_acl(acl.to_vec());
        let parent = node_mut(&mut self.nodes, parent_path).ok_or(error::NO_NODE)?;
        if parent.children.contains(name) {
            return Err(error::NODE_EXISTS);
        }
        let cv = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if cv > parent.stat.cversion {
            parent.stat.cversion = cv;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(name);
        let node = Node {
            data: detach(data),
            acl,
            stat: StatPersisted {
                czxid: zxid,
                mzxid: zxid,
                ctime: time,
                mtime: time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: zxid,
            },
            children: Children::new(),
        };
        let stat = node.stat(self.extended_types);
        let own_acl = node.acl.clone();
        let parent_acl = self
            .nodes
            .get(parent_path)
            .map(|p| p.acl.clone())
            .unwrap_or_default();
        self.insert(path, node);
        match node_kind(owner, self.extended_types) {
            NodeKind::Persistent => {}
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
        }
        // Quotas: Java's createNode tail (limits/stats nodes, the deepest root's stats).
        let len = data.as_ref().map_or(0, |d| d.len() as i64);
        self.with_quotas(|q, t| q.after_create(t, path, len));
        let fired = self.watches.on_create(path, parent_path);
        with_acls(path, fired, &own_acl, &parent_acl, events);
        Ok(Some(stat))
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        events: &mut Vec<Notification>,
    ) -> Result<(), Code> {
        let (parent_path, name) = split_path(path);
        if path == "/" {
            return Err(error::NO_NODE);
        }
        let parent = node_mut(&mut self.nodes, parent_path).ok_or(error::NO_NODE)?;
        parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.nodes.remove(path).ok_or(error::NO_NODE)?;
        self.data_size -= path.len() as i64 + node.data.as_ref().map_or(0, |d| d.len() as i64);
        match node_kind(node.stat.ephemeral_owner, self.extended_types) {
            NodeKind::Persistent => {}
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                }
            }
        }
        // Quotas: Java's deleteNode tail (a limits node drops its root; the root's stats).
        let len = node.data.as_ref().map_or(0, |d| d.len() as i64);
        self.with_quotas(|q, t| q.after_delete(t, path, len));
        let parent_acl = self
            .nodes
            .get(parent_path)
            .map(|p| p.acl.clone())
            .unwrap_or_default();
        let fired = self.watches.on_delete(path, parent_path);
        with_acls(path, fired, &node.acl, &parent_acl, events);
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
        events: &mut Vec<Notification>,
    ) -> Result<Stat, Code> {
        let ext = self.extended_types;
        let n = node_mut(&mut self.nodes, path).ok_or(error::NO_NODE)?;
        let old = n.data.as_ref().map_or(0, |d| d.len() as i64);
        n.data = detach(data);
        n.stat.mtime = time;
        n.stat.mzxid = zxid;
        n.stat.version = version;
        let stat = n.stat(ext);
        let acl = n.acl.clone();
        let new = data.as_ref().map_or(0, |d| d.len() as i64);
        self.data_size += new - old;
        // Quotas: Java's setData tail (the deepest root's stats).
        self.with_quotas(|q, t| q.after_set_data(t, path, old, new));
        let fired = self.watches.on_set_data(path);
        with_acls(path, fired, &acl, &acl, events);
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, Code> {
        let acl = self.intern_acl(acl.to_vec());
        let ext = self.extended_types;
        let n = node_mut(&mut self.nodes, path).ok_or(error::NO_NODE)?;
        n.stat.aversion = version;
        n.acl = acl;
        Ok(n.stat(ext))
    }

    fn kill_session(
        &mut self,
        session: i64,
        zxid: i64,
        paths: Option<&[String]>,
        events: &mut Vec<Notification>,
    ) {
        self.sessions.remove(&session);
        let owned = self.ephemerals.remove(&session).unwrap_or_default();
        let list: Vec<String> = match paths {
            Some(p) => p.to_vec(),
            None => owned.into_iter().collect(),
        };
        for p in list {
            let _ = self.delete_node(&p, zxid, events);
        }
    }

    /// Drop ACL lists no node uses any more (cheap enough to run on snapshot or rarely).
    pub fn purge_unused_acls(&mut self) {
        self.acls.retain(|_, a| Arc::strong_count(a) > 1);
    }
}

// ---- snapshot support (persist) ----
// Used by `crate::persist` to serialize a tree and to rebuild one from a snapshot.

impl DataTree {
    /// Visit every node parents-first, as Java's `DataTree.serializeNode` walks them: the root
    /// first with path "" (as snapshots store it), then "/a", "/a/b", ... Children in any order.
    pub fn for_each_node<E>(
        &self,
        mut f: impl FnMut(&str, &Node) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(root) = self.nodes.get("/") else {
            return Ok(());
        };
        f("", root)?;
        let mut path = String::new();
        let mut stack = vec![(0usize, root.children.java_order().into_iter())];
        while let Some((len, iter)) = stack.last_mut() {
            let len = *len;
            let Some(child) = iter.next() else {
                stack.pop();
                continue;
            };
            path.truncate(len);
            path.push('/');
            path.push_str(child);
            if let Some(n) = self.nodes.get(path.as_str()) {
                f(&path, n)?;
                if !n.children.is_empty() {
                    stack.push((path.len(), n.children.java_order().into_iter()));
                }
            }
        }
        Ok(())
    }

    /// A tree without any node (not even the root), to be filled by `load_node`.
    pub fn empty_for_load(extended_types: bool) -> DataTree {
        let mut t = DataTree::new(extended_types);
        t.nodes.clear();
        t.acls.clear();
        t.data_size = 0;
        t
    }

    /// Add a node read from a snapshot (Java's `DataTree.deserialize`): the root has path ""
    /// (or "/"); any other node's parent must already be loaded. Links it to its parent and
    /// indexes it as ephemeral / container / TTL by its ephemeralOwner.
    pub fn load_node(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: AclList,
        stat: StatPersisted,
    ) -> Result<(), String> {
        let acl = match self.acls.get(acl.as_slice()) {
            Some(a) => a.clone(),
            None => {
                self.acls.insert(acl.as_ref().clone(), acl.clone());
                acl
            }
        };
        let node = Node {
            data,
            acl,
            stat,
            children: Children::new(),
        };
        if path.is_empty() || path == "/" {
            if let Some(old) = self.nodes.remove("/") {
                self.data_size -= 1 + old.data.as_ref().map_or(0, |d| d.len() as i64);
            }
            self.insert("/", node);
            return Ok(());
        }
        let (parent, name) = split_path(path);
        if !path.starts_with('/') || name.is_empty() {
            return Err(format!("invalid path {path:?}"));
        }
        if !self.nodes.contains_key(parent) {
            return Err(format!("unable to find parent {parent} of path {path}"));
        }
        if let Some(old) = self.nodes.remove(path) {
            self.data_size -= path.len() as i64 + old.data.as_ref().map_or(0, |d| d.len() as i64);
        }
        let owner = node.stat.ephemeral_owner;
        self.insert(path, node);
        self.link(parent, name);
        match node_kind(owner, self.extended_types) {
            NodeKind::Persistent => {}
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
        }
        Ok(())
    }

    /// Finish a load: the tree now reflects every txn up to `last_zxid`.
    pub fn finish_load(&mut self, sessions: HashMap<i64, i32>, last_zxid: i64) {
        self.sessions = sessions;
        self.last_zxid = last_zxid;
        // Quotas: Java's deserialize ends with setupQuota (rebuild the roots, recount stats).
        self.with_quotas(|q, t| q.rebuild(t));
    }
}

// ---- quotas (crate::quota) ----

impl DataTree {
    /// Run quota bookkeeping that needs both the roots and the tree.
    fn with_quotas(&mut self, f: impl FnOnce(&mut Quotas, &mut DataTree)) {
        let mut q = std::mem::take(&mut self.quotas);
        f(&mut q, self);
        self.quotas = q;
    }

    /// The deepest quota root of `path` (Java's `getMaxPrefixWithQuota`).
    pub fn quota_prefix(&self, path: &str) -> Option<String> {
        self.quotas.max_prefix(path)
    }

    /// Java's `ZooKeeperServer.checkQuota` for prep when `zookeeper.enforceQuota` is on: a
    /// create checks (data length, 1), a setData (new length - old length, 0). `Err` means
    /// QuotaExceeded (-125); `Ok` lists the soft limits passed (Java logs them).
    pub fn check_quota(
        &self,
        path: &str,
        bytes_diff: i64,
        count_diff: i64,
    ) -> Result<Vec<String>, quota::QuotaExceeded> {
        self.quotas.check(self, path, bytes_diff, count_diff)
    }
}

impl quota::QuotaTree for DataTree {
    fn quota_node_data(&self, path: &str) -> Option<Option<&[u8]>> {
        let path = if path.is_empty() { "/" } else { path };
        self.node(path).map(|n| n.data.as_deref())
    }

    fn quota_children(&self, path: &str) -> Option<Vec<String>> {
        let path = if path.is_empty() { "/" } else { path };
        let n = self.node(path)?;
        Some(
            n.children
                .java_order()
                .into_iter()
                .map(String::from)
                .collect(),
        )
    }

    /// Java assigns the stats node's `data` directly: stat and approximate data size stay.
    fn quota_replace_data(&mut self, path: &str, data: Vec<u8>) {
        let path = if path.is_empty() { "/" } else { path };
        let Some(mut node) = self.node(path).cloned() else {
            return;
        };
        node.data = Some(Bytes::from(data));
        let size = self.data_size;
        self.nodes.remove(path);
        self.insert(path, node);
        self.data_size = size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::txn::{CreateTxn, DeleteTxn, SetDataTxn, TxnHeader};

    fn hdr(zxid: i64, ty: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x42,
            cxid: 1,
            zxid,
            time: 1000 + zxid,
            r#type: ty,
        }
    }

    fn create(zxid: i64, path: &str, cv: i32, eph: bool) -> Txn {
        Txn {
            hdr: hdr(zxid, ops::CREATE),
            body: TxnBody::Create(CreateTxn {
                path: path.into(),
                data: Some(Bytes::from_static(b"v")),
                acl: open_acl(),
                ephemeral: eph,
                parent_c_version: cv,
            }),
        }
    }

    #[test]
    fn fresh_tree_matches_java() {
        let t = DataTree::new(false);
        assert_eq!(t.node_count(), 4);
        let root = t.node("/").unwrap().stat(false);
        // Clients see cversion = 2*creates - children: -1 for "/", -2 for "/zookeeper".
        assert_eq!((root.num_children, root.cversion, root.czxid), (1, -1, 0));
        assert_eq!(t.node(ZOOKEEPER).unwrap().stat(false).cversion, -2);
        assert_eq!(t.node(CONFIG).unwrap().stat.aversion, -1);
        assert_eq!(t.node(CONFIG).unwrap().acl[0].perms, 1);
    }

    #[test]
    fn create_updates_parent_and_is_idempotent() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        let rc = t.apply(&create(5, "/a", 1, false), &mut ev);
        assert_eq!(rc.err, 0);
        let s = rc.stat.unwrap();
        assert_eq!((s.czxid, s.mzxid, s.pzxid, s.data_length), (5, 5, 5, 1));
        let root = t.node("/").unwrap();
        assert_eq!(
            (root.stat.cversion, root.stat.pzxid, root.children.len()),
            (1, 5, 2)
        );
        // Replay: NodeExists, tree unchanged.
        let rc = t.apply(&create(5, "/a", 1, false), &mut ev);
        assert_eq!(rc.err, error::NODE_EXISTS);
        assert_eq!(t.node("/").unwrap().stat.cversion, 1);
        assert_eq!(t.last_zxid, 5);
    }

    #[test]
    fn delete_sets_pzxid_not_cversion_and_ephemerals_tracked() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        t.apply(&create(1, "/e", 1, true), &mut ev);
        assert_eq!(t.ephemerals_of(0x42).count(), 1);
        let del = Txn {
            hdr: hdr(2, ops::DELETE),
            body: TxnBody::Delete(DeleteTxn { path: "/e".into() }),
        };
        assert_eq!(t.apply(&del, &mut ev).err, 0);
        let root = t.node("/").unwrap().stat(false);
        assert_eq!((root.cversion, root.pzxid), (1, 2));
        assert_eq!(t.ephemerals_of(0x42).count(), 0);
        assert_eq!(t.apply(&del, &mut ev).err, error::NO_NODE);
    }

    #[test]
    fn multi_failure_marks_others() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        let m = Txn {
            hdr: hdr(3, ops::MULTI),
            body: TxnBody::Multi(vec![
                (ops::CREATE, create(3, "/x", 1, false).body),
                (
                    ops::ERROR,
                    TxnBody::Error(jute::txn::ErrorTxn {
                        err: error::NO_NODE,
                    }),
                ),
                (
                    ops::SET_DATA,
                    TxnBody::SetData(SetDataTxn {
                        path: "/x".into(),
                        data: None,
                        version: 1,
                    }),
                ),
            ]),
        };
        let rc = t.apply(&m, &mut ev);
        assert_eq!(rc.err, error::NO_NODE);
        let errs: Vec<_> = rc.multi.iter().map(|r| r.err).collect();
        assert_eq!(errs, vec![0, error::NO_NODE, error::RUNTIME_INCONSISTENCY]);
        assert!(t.node("/x").is_none());
    }

    #[test]
    fn node_kinds() {
        assert_eq!(node_kind(0, true), NodeKind::Persistent);
        assert_eq!(node_kind(CONTAINER_OWNER, false), NodeKind::Container);
        assert_eq!(node_kind(ttl_owner(500), true), NodeKind::Ttl(500));
        assert_eq!(
            node_kind(ttl_owner(500), false),
            NodeKind::Ephemeral(ttl_owner(500))
        );
        assert_eq!(node_kind(0x100, true), NodeKind::Ephemeral(0x100));
        assert_eq!(split_path("/a"), ("/", "a"));
        assert_eq!(split_path("/a/b"), ("/a", "b"));
    }
}
