//! The data tree: znodes, their stats and ACLs, sessions and their ephemerals, and the watch
//! registrations. Sans-IO: `apply` takes a committed transaction and returns what happened
//! (Java's `ProcessTxnResult`) plus the watch events to deliver; reads never change state
//! except to register watches. Applying the same txn again after it was applied is harmless
//! (fuzzy snapshots and log replay rely on it), as in Java's DataTree.

use crate::children::Children;
use crate::error::{Code, ErrorCode};
use crate::quota::{self, Quotas};
use crate::store::{Blob, Slot, Store};
use crate::txn::{Txn, TxnBody};
use crate::watch::{Event, WatchManager, WatcherId};
use bytes::Bytes;
use jute::data::{Acl, Id, Stat, StatPersisted};
use jute::{OpCode, SessionId, Zxid};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tracing::warn;

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

/// The stat of a node created by txn `zxid` at `time_ms` (shared by prep and apply, which
/// must agree on it for the digest).
pub fn created_stat(zxid: i64, time_ms: i64, owner: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime: time_ms,
        mtime: time_ms,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: owner,
        pzxid: zxid,
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

/// A znode as the tree shows it: a read-only view (the tree stores znodes compactly, see
/// `crate::store`).
pub struct Node<'a> {
    pub data: Data<'a>,
    pub acl: Acls<'a>,
    pub stat: StatPersisted,
    pub children: Children<'a>,
    slot: &'a Slot,
}

impl Clone for Node<'_> {
    fn clone(&self) -> Self {
        Node {
            data: self.data,
            acl: Acls(self.acl.0),
            stat: self.stat.clone(),
            children: self.children,
            slot: self.slot,
        }
    }
}

/// A znode's ACL list: dereferences to the shared [`AclList`] (so `n.acl.clone()` is one).
pub struct Acls<'a>(&'a AclList);

impl std::ops::Deref for Acls<'_> {
    type Target = AclList;
    fn deref(&self) -> &AclList {
        self.0
    }
}

impl PartialEq for Acls<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl std::fmt::Debug for Acls<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'a> Node<'a> {
    fn new(tree: &'a DataTree, i: u32) -> Node<'a> {
        let slot = tree.store.slot(i);
        let blob = slot.blob();
        Node {
            data: Data {
                bytes: blob.data(),
                blob,
            },
            acl: Acls(tree.acls.get(slot.acl())),
            stat: slot.stat(tree.store.owner(i)),
            children: Children::new(&tree.store, slot.kids.as_deref()),
            slot,
        }
    }

    /// The node's path ("/" for the root).
    pub fn path(&self) -> &'a str {
        self.slot.blob().path()
    }

    /// The id of the node's ACL list in the tree's table.
    pub(crate) fn acl_id(&self) -> u32 {
        self.slot.acl()
    }

    /// The Stat clients see (Java's DataNode.copyStat): the stored cversion counts child
    /// creates, clients get `2*creates - children` (creates plus deletes); containers and TTL
    /// nodes show ephemeralOwner 0.
    pub fn stat(&self, extended_types: bool) -> Stat {
        client_stat(self.slot, self.stat.ephemeral_owner, extended_types)
    }
}

fn client_stat(s: &Slot, owner: i64, extended_types: bool) -> Stat {
    let num_children = s.num_children() as i32;
    let owner = match node_kind(owner, extended_types) {
        NodeKind::Ephemeral(o) => o,
        _ => 0,
    };
    Stat {
        czxid: s.czxid,
        mzxid: s.mzxid,
        ctime: s.ctime,
        mtime: s.mtime,
        version: s.version,
        cversion: s.cversion().wrapping_mul(2).wrapping_sub(num_children),
        aversion: s.aversion,
        ephemeral_owner: owner,
        data_length: s.blob().data_len() as i32,
        num_children,
        pzxid: s.pzxid(),
    }
}

/// A znode's data: dereferences to `Option<&[u8]>` (`None` for null data); `to_bytes` gives
/// the `Bytes` a reply carries.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    bytes: Option<&'a [u8]>,
    blob: &'a Blob,
}

impl<'a> Data<'a> {
    pub fn to_bytes(&self) -> Option<Bytes> {
        self.blob.data_bytes()
    }

    /// The data length (0 for null data).
    pub fn len(&self) -> usize {
        self.bytes.map_or(0, <[u8]>::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> std::ops::Deref for Data<'a> {
    type Target = Option<&'a [u8]>;
    fn deref(&self) -> &Option<&'a [u8]> {
        &self.bytes
    }
}

impl PartialEq for Data<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl PartialEq<Option<Bytes>> for Data<'_> {
    fn eq(&self, other: &Option<Bytes>) -> bool {
        self.bytes == other.as_deref()
    }
}

impl PartialEq<Option<&[u8]>> for Data<'_> {
    fn eq(&self, other: &Option<&[u8]>) -> bool {
        self.bytes == *other
    }
}

impl std::fmt::Debug for Data<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.bytes.fmt(f)
    }
}

/// Java's `ProcessTxnResult`: the outcome of applying one txn. `err` is the wire code the
/// reply carries (as an error txn logged it).
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyResult {
    pub op: OpCode,
    pub err: Code,
    pub path: String,
    pub stat: Option<Stat>,
    pub multi: Vec<ApplyResult>,
}

impl ApplyResult {
    /// A success of `op` with nothing to report yet.
    pub fn new(op: OpCode) -> ApplyResult {
        ApplyResult {
            op,
            err: ErrorCode::Ok.code(),
            path: String::new(),
            stat: None,
            multi: Vec::new(),
        }
    }
}

/// A path's length as Java's `String.length()` counts it (UTF-16 code units), which is what
/// `DataTree.getNodeSize` adds to the approximate data size (`zk_approximate_data_size`).
fn java_path_len(path: &str) -> i64 {
    if path.is_ascii() {
        path.len() as i64
    } else {
        path.encode_utf16().count() as i64
    }
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

/// The distinct ACL lists in use, each once, with the number of znodes using it (Java's
/// `ReferenceCountedACLCache`); znodes refer to a list by its id.
#[derive(Clone, Default)]
struct AclTable {
    lists: Vec<AclList>,
    refs: Vec<u32>,
    ids: hashbrown::HashMap<Vec<Acl>, u32>,
    free: Vec<u32>,
}

impl AclTable {
    /// The id of `acl`, added (unused) if new.
    fn intern(&mut self, acl: &[Acl]) -> u32 {
        if let Some(&id) = self.ids.get(acl) {
            return id;
        }
        self.add(Arc::new(acl.to_vec()))
    }

    /// As `intern`, keeping `acl` itself when it is new.
    fn intern_arc(&mut self, acl: &AclList) -> u32 {
        if let Some(&id) = self.ids.get(acl.as_slice()) {
            return id;
        }
        self.add(acl.clone())
    }

    fn add(&mut self, list: AclList) -> u32 {
        self.ids.insert(list.as_ref().clone(), 0);
        let id = match self.free.pop() {
            Some(id) => {
                self.lists[id as usize] = list.clone();
                self.refs[id as usize] = 0;
                id
            }
            None => {
                self.lists.push(list.clone());
                self.refs.push(0);
                (self.lists.len() - 1) as u32
            }
        };
        *self.ids.get_mut(list.as_slice()).expect("just added") = id;
        id
    }

    fn get(&self, id: u32) -> &AclList {
        &self.lists[id as usize]
    }

    fn add_ref(&mut self, id: u32) {
        self.refs[id as usize] += 1;
    }

    /// One znode less uses `id`; the list goes when none does.
    fn release(&mut self, id: u32) {
        let r = &mut self.refs[id as usize];
        *r = r.saturating_sub(1);
        if *r == 0 {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u32) {
        let list = std::mem::take(&mut self.lists[id as usize]);
        if self.ids.get(list.as_slice()) == Some(&id) {
            self.ids.remove(list.as_slice());
            self.free.push(id);
        }
    }

    fn purge_unused(&mut self) {
        let unused: Vec<u32> = self
            .ids
            .values()
            .copied()
            .filter(|&id| self.refs[id as usize] == 0)
            .collect();
        for id in unused {
            self.remove(id);
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

pub struct DataTree {
    /// The znodes (slab + path index; copy-on-write, so a snapshot can take a consistent copy
    /// of the whole tree cheaply and a changed chunk is copied while a snapshot holds it).
    store: Store,
    acls: AclTable,
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
    /// The last parent `load_node` looked up (snapshots list siblings one after the other).
    load_parent: Option<(String, u32)>,
    bulk: Option<Bulk>,
}

/// State of a bulk load (`DataTree::bulk_node`).
#[derive(Default)]
struct Bulk {
    started: bool,
    /// The current depth-first path: slots whose children may come next.
    stack: Vec<u32>,
    /// (hash of path, slot) of every node added.
    hashes: Vec<(u64, u32)>,
}

/// A bulk load cannot go on: load the nodes one by one instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkFallback;

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` (read-only
    /// to the world, aversion -1), all with empty data and zero stats, as Java creates them.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree::empty_for_load(extended_types);
        let open = t.acls.intern(&open_acl());
        let read_only = t.acls.intern(&[Acl {
            perms: jute::ops::perms::READ,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]);
        let blank = StatPersisted::default();
        let root = t.insert_new("/", Some(b""), open, &blank);
        let zk = t.insert_new(ZOOKEEPER, Some(b""), open, &blank);
        let quota = t.insert_new(QUOTA, Some(b""), open, &blank);
        t.store.add_child(root, zk);
        t.store.add_child(zk, quota);
        t.add_config_node(read_only);
        t
    }

    /// `/zookeeper/config` with empty data, zero stats, aversion -1 and the ACL `acl` (Java's
    /// `addConfigNode`: read-only to the world, ZOOKEEPER-2014).
    fn add_config_node(&mut self, acl: u32) {
        let Some(zk) = self.store.find(ZOOKEEPER) else {
            return;
        };
        let stat = StatPersisted {
            aversion: -1,
            ..StatPersisted::default()
        };
        let config = self.insert_new(CONFIG, Some(b""), acl, &stat);
        self.store.add_child(zk, config);
    }

    /// A quorum member's `/zookeeper/config` (Java's `ZKDatabase.initConfigInZKDatabase`, run
    /// at startup and after each sync with a leader, even with reconfig off): `data` is the
    /// ensemble's `server.N=...` lines and `version=<hex>`, mzxid the config version,
    /// version -1, mtime `time_ms`. The node is created first if the tree has none (a
    /// snapshot from before 3.5). Nodes under `/zookeeper/` take no part in the digest.
    pub fn set_config(&mut self, data: &[u8], config_version: i64, time_ms: i64) {
        if self.store.find(CONFIG).is_none() {
            let read_only = self.acls.intern(&[Acl {
                perms: jute::ops::perms::READ,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }]);
            self.add_config_node(read_only);
        }
        let data = Some(Bytes::copy_from_slice(data));
        // Called on a tree nobody watches yet (loaded, synced): no event to deliver.
        let mut events = Vec::new();
        let _ = self.set_data(CONFIG, &data, -1, config_version, time_ms, &mut events);
    }

    /// Index a new node (not linked to its parent); counts its ACL and data size.
    fn insert_new(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
    ) -> u32 {
        let h = self.store.hash(path);
        self.insert_hashed(h, path, data, acl, stat)
    }

    fn insert_hashed(
        &mut self,
        h: u64,
        path: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
    ) -> u32 {
        self.data_size += java_path_len(path) + data.map_or(0, |d| d.len() as i64);
        self.acls.add_ref(acl);
        self.store.insert_hashed(
            h,
            Slot::new(Blob::new(path, data), stat, acl),
            stat.ephemeral_owner,
        )
    }

    /// Share equal ACL lists between nodes.
    pub fn intern_acl(&mut self, acl: Vec<Acl>) -> AclList {
        let id = self.acls.intern(&acl);
        self.acls.get(id).clone()
    }

    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    /// The node at `path`; "" is the root too, as in Java's DataTree.
    pub fn node(&self, path: &str) -> Option<Node<'_>> {
        let path = if path.is_empty() { "/" } else { path };
        let i = self.store.find(path)?;
        Some(Node::new(self, i))
    }

    /// The client-visible Stat of the node at `path` (cheaper than `node(path)?.stat(..)`);
    /// "" is the root too.
    pub fn stat_of(&self, path: &str) -> Option<Stat> {
        let path = if path.is_empty() { "/" } else { path };
        let i = self.store.find(path)?;
        Some(self.client_stat(i))
    }

    fn client_stat(&self, i: u32) -> Stat {
        client_stat(self.store.slot(i), self.store.owner(i), self.extended_types)
    }

    /// A copy of the tree's state for a snapshot, consistent at `last_zxid`: znodes are shared,
    /// not copied (watches are not part of it). Cost: a pointer per 256 znodes.
    pub fn snapshot_copy(&self) -> DataTree {
        DataTree {
            store: self.store.clone(),
            acls: self.acls.clone(),
            sessions: self.sessions.clone(),
            ephemerals: self.ephemerals.clone(),
            containers: self.containers.clone(),
            ttls: self.ttls.clone(),
            last_zxid: self.last_zxid,
            watches: WatchManager::new(crate::config::CompatVersion::V3_9),
            extended_types: self.extended_types,
            data_size: self.data_size,
            quotas: self.quotas.clone(),
            load_parent: None,
            bulk: None,
        }
    }

    pub fn node_count(&self) -> usize {
        self.store.len()
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
            return self.store.len() as i32;
        }
        let Some(i) = self.store.find(path) else {
            return 0;
        };
        let mut count = 0;
        let mut stack = vec![i];
        while let Some(i) = stack.pop() {
            if let Some(k) = &self.store.slot(i).kids {
                count += k.len() as i32;
                stack.extend(k.iter());
            }
        }
        count
    }

    /// Index a node by kind (ephemeral of a session, container, TTL).
    fn track_kind(&mut self, path: &str, owner: i64) {
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
    }

    fn untrack_kind(&mut self, path: &str, owner: i64) {
        match node_kind(owner, self.extended_types) {
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
    }

    // ---- applying transactions ----

    /// Apply a committed txn; watch events are appended to `events`.
    pub fn apply(&mut self, txn: &Txn, events: &mut Vec<Notification>) -> ApplyResult {
        let op = OpCode::try_from(txn.hdr.r#type)
            .expect("a txn's type is an op code: Txn::decode checks it, prep sets it from one");
        let rc = self.apply_one(op, &txn.body, &txn.hdr, events);
        if txn.hdr.zxid > self.last_zxid {
            self.last_zxid = txn.hdr.zxid;
        }
        rc
    }

    fn apply_one(
        &mut self,
        op: OpCode,
        body: &TxnBody,
        hdr: &jute::txn::TxnHeader,
        events: &mut Vec<Notification>,
    ) -> ApplyResult {
        let mut rc = ApplyResult::new(op);
        let (zxid, time_ms) = (hdr.zxid, hdr.time);
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
                    time_ms,
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
                    time_ms,
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
                    time_ms,
                    events,
                )
            }
            TxnBody::Delete(t) => {
                rc.path = t.path.clone();
                self.delete_node(&t.path, zxid, events).map(|_| None)
            }
            TxnBody::SetData(t) => {
                rc.path = t.path.clone();
                self.set_data(&t.path, &t.data, t.version, zxid, time_ms, events)
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
            TxnBody::Error(e) => {
                // The code as logged (a wire number, kept as it is).
                rc.err = e.err;
                Ok(None)
            }
            TxnBody::Multi(subs) => {
                // Java: if any sub-txn failed, every other one becomes an error too: 0 before
                // the failure, RuntimeInconsistency after it.
                let failed = subs.iter().any(|(t, _)| *t == OpCode::Error);
                let mut post_failed = false;
                for (sub_ty, sub) in subs {
                    let sub_rc = if *sub_ty == OpCode::Error {
                        post_failed = true;
                        self.apply_one(*sub_ty, sub, hdr, events)
                    } else if failed {
                        let err = if post_failed {
                            ErrorCode::RuntimeInconsistency
                        } else {
                            ErrorCode::Ok
                        };
                        ApplyResult {
                            err: err.code(),
                            ..ApplyResult::new(OpCode::Error)
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
            Err(e) => rc.err = e.code(),
        }
        // Java repairs the parent's cversion/pzxid when replaying a create that already
        // happened (NodeExists on replay).
        // (Only for plain `create` txns, exactly as Java's processTxn does; the digests of
        // mixed ensembles depend on it.)
        if rc.err == ErrorCode::NodeExists.code() && op == OpCode::Create {
            let parent_cversion = match body {
                TxnBody::Create(t) => Some(t.parent_c_version),
                _ => None,
            };
            if let Some(cv) = parent_cversion {
                let (parent, _) = split_path(&rc.path);
                if let Some(pi) = self.store.find(parent) {
                    let p = self.store.slot_mut(pi);
                    let cv = if cv == -1 { p.cversion() + 1 } else { cv };
                    if cv > p.cversion() {
                        let k = p.kids_mut();
                        k.cversion = cv;
                        k.pzxid = zxid;
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
        time_ms: i64,
        events: &mut Vec<Notification>,
    ) -> Result<Option<Stat>, ErrorCode> {
        let (parent_path, _) = split_path(path);
        let pi = self.store.find(parent_path).ok_or(ErrorCode::NoNode)?;
        let h = self.store.hash(path);
        if self.store.find_hashed(h, path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        let acl = self.acls.intern(acl);
        let parent = self.store.slot_mut(pi);
        let cv = if parent_cversion == -1 {
            parent.cversion() + 1
        } else {
            parent_cversion
        };
        if cv > parent.cversion() {
            let k = parent.kids_mut();
            k.cversion = cv;
            k.pzxid = zxid;
        }
        let stat = created_stat(zxid, time_ms, owner);
        let ci = self.insert_hashed(h, path, data.as_deref(), acl, &stat);
        self.store.add_child(pi, ci);
        let stat = self.client_stat(ci);
        let own_acl = self.acls.get(acl).clone();
        let parent_acl = self.acls.get(self.store.slot(pi).acl()).clone();
        self.track_kind(path, owner);
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
    ) -> Result<(), ErrorCode> {
        let (parent_path, _) = split_path(path);
        if path == "/" {
            return Err(ErrorCode::NoNode);
        }
        // Java updates the parent's pzxid even when the child is gone already (a fuzzy
        // snapshot may hold the parent as it was after the delete).
        let pi = self.store.find(parent_path).ok_or(ErrorCode::NoNode)?;
        self.move_pzxid(pi, zxid);
        let h = self.store.hash(path);
        let i = self.store.find_hashed(h, path).ok_or(ErrorCode::NoNode)?;
        self.unlink(path, h, i, pi, events);
        Ok(())
    }

    /// A child of slot `pi` is deleted at `zxid`.
    fn move_pzxid(&mut self, pi: u32, zxid: i64) {
        let parent = self.store.slot_mut(pi);
        if zxid > parent.pzxid() {
            parent.kids_mut().pzxid = zxid;
        }
    }

    /// Delete node `i` at `path` (path hash `h`), a child of slot `pi` (whose pzxid the
    /// caller moved): the store, the indexes, data size, ACL references, quotas, watches.
    /// Returns what the slot held, for the caller to free.
    fn unlink(
        &mut self,
        path: &str,
        h: u64,
        i: u32,
        pi: u32,
        events: &mut Vec<Notification>,
    ) -> Slot {
        let (node, owner) = self.store.remove_found(h, i);
        self.store.remove_child(pi, node.pos);
        let len = node.blob().data_len() as i64;
        self.data_size -= java_path_len(path) + len;
        self.untrack_kind(path, owner);
        // Quotas: Java's deleteNode tail (a limits node drops its root; the root's stats).
        self.with_quotas(|q, t| q.after_delete(t, path, len));
        let parent_path = split_path(path).0;
        let fired = self.watches.on_delete(path, parent_path);
        if !fired.is_empty() {
            let own_acl = self.acls.get(node.acl()).clone();
            let parent_acl = self.acls.get(self.store.slot(pi).acl()).clone();
            with_acls(path, fired, &own_acl, &parent_acl, events);
        }
        self.acls.release(node.acl());
        node
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        version: i32,
        zxid: i64,
        time_ms: i64,
        events: &mut Vec<Notification>,
    ) -> Result<Stat, ErrorCode> {
        let i = self.store.find(path).ok_or(ErrorCode::NoNode)?;
        let n = self.store.slot_mut(i);
        let old = n.blob().data_len() as i64;
        n.blob = Some(n.blob().with_data(data.as_deref()));
        n.mtime = time_ms;
        n.mzxid = zxid;
        n.version = version;
        let acl = n.acl();
        let stat = self.client_stat(i);
        let acl = self.acls.get(acl).clone();
        let new = data.as_ref().map_or(0, |d| d.len() as i64);
        self.data_size += new - old;
        // Quotas: Java's setData tail (the deepest root's stats).
        self.with_quotas(|q, t| q.after_set_data(t, path, old, new));
        let fired = self.watches.on_set_data(path);
        with_acls(path, fired, &acl, &acl, events);
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let i = self.store.find(path).ok_or(ErrorCode::NoNode)?;
        let id = self.acls.intern(acl);
        self.acls.add_ref(id);
        let n = self.store.slot_mut(i);
        let old = n.acl();
        n.set_acl(id);
        n.aversion = version;
        self.acls.release(old);
        Ok(self.client_stat(i))
    }

    /// closeSession: delete `paths` (the txn's list; `None`: the session's ephemerals as
    /// the tree knows them), each only if the session owns it as an ephemeral and it has no
    /// children. Each path is hashed once, a parent shared by consecutive paths looked up
    /// once, and what the deletes free is handed to another thread to drop.
    fn kill_session(
        &mut self,
        session: i64,
        zxid: i64,
        paths: Option<&[String]>,
        events: &mut Vec<Notification>,
    ) {
        self.sessions.remove(&session);
        let owned = self.ephemerals.remove(&session).unwrap_or_default();
        let listed: Vec<String> = match paths {
            Some(_) => {
                let n = owned.len();
                crate::drop_later::drop_later(owned, n);
                Vec::new()
            }
            None => owned.into_iter().collect(),
        };
        let paths = paths.unwrap_or(&listed);
        let ephemeral = node_kind(session, self.extended_types) == NodeKind::Ephemeral(session);
        let mut parent: Option<(&str, u32)> = None;
        let mut freed = Vec::with_capacity(paths.len());
        for p in paths {
            let h = self.store.hash(p);
            let Some(i) = self.store.find_hashed(h, p) else {
                continue; // gone already (a fuzzy snapshot may be past this txn)
            };
            // A session's close removes only its own ephemerals, which never have children:
            // a txn that names anything else (a persistent node, a container, another
            // session's node) must not cut a subtree loose.
            let owner = self.store.owner(i);
            let kids = self.store.slot(i).num_children();
            if !ephemeral || owner != session || kids > 0 {
                warn!(
                    "closeSession of session {} at zxid {} names {p}, owned by {} with {} \
                     children: not deleted",
                    SessionId::from(session),
                    Zxid::from(zxid),
                    SessionId::from(owner),
                    kids
                );
                continue;
            }
            let parent_path = split_path(p).0;
            let pi = match parent {
                Some((pp, pi)) if pp == parent_path => pi,
                _ => {
                    let Some(pi) = self.store.find(parent_path) else {
                        continue;
                    };
                    self.move_pzxid(pi, zxid);
                    parent = Some((parent_path, pi));
                    pi
                }
            };
            freed.push(self.unlink(p, h, i, pi, events));
        }
        let n = freed.len();
        crate::drop_later::drop_later((freed, listed), n);
    }

    /// Drop ACL lists no node uses any more (Java's `purgeUnused`). Lists are dropped as soon
    /// as their last node goes; this catches lists interned but never used.
    pub fn purge_unused_acls(&mut self) {
        self.acls.purge_unused();
    }

    /// Distinct ACL lists in the table.
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }
}

// ---- snapshot support (persist) ----
// Used by `crate::persist` to serialize a tree and to rebuild one from a snapshot.

impl DataTree {
    /// Visit every node parents-first, as Java's `DataTree.serializeNode` walks them: the root
    /// first with path "" (as snapshots store it), then "/a", "/a/b", ... Children in Java's
    /// order.
    pub fn for_each_node<E>(
        &self,
        mut f: impl FnMut(&str, &Node<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(root) = self.store.find("/") else {
            return Ok(());
        };
        let kids = |i: u32| {
            let s = self.store.slot(i);
            Children::new(&self.store, s.kids.as_deref()).java_order_slots()
        };
        f("", &Node::new(self, root))?;
        let mut stack = vec![kids(root)];
        while let Some(iter) = stack.last_mut() {
            let Some(c) = iter.next() else {
                stack.pop();
                continue;
            };
            let n = Node::new(self, c);
            f(n.path(), &n)?;
            if !n.children.is_empty() {
                stack.push(kids(c));
            }
        }
        Ok(())
    }

    /// The ACL lists in use, for a snapshot's ACL cache section: the lists in the order of
    /// their numbers (1..), and a function from a node to its list's number.
    pub(crate) fn numbered_acls(&self) -> (Vec<&AclList>, impl Fn(&Node<'_>) -> i64 + '_) {
        let mut number = vec![0i64; self.acls.lists.len()];
        let mut lists = Vec::new();
        for (id, list) in self.acls.lists.iter().enumerate() {
            if self.acls.refs[id] > 0 {
                lists.push(list);
                number[id] = lists.len() as i64;
            }
        }
        (lists, move |n: &Node<'_>| number[n.acl_id() as usize])
    }

    /// Every node in storage order (cheap; no particular order).
    pub fn for_each_node_unordered(&self, mut f: impl FnMut(&str, &Node<'_>)) {
        for (i, _) in self.store.iter() {
            let n = Node::new(self, i);
            let path = n.path();
            f(if path == "/" { "" } else { path }, &n);
        }
    }

    /// A tree without any node (not even the root), to be filled by `load_node`.
    pub fn empty_for_load(extended_types: bool) -> DataTree {
        DataTree {
            store: Store::new(),
            acls: AclTable::default(),
            sessions: HashMap::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: 0,
            watches: WatchManager::new(crate::config::CompatVersion::V3_9),
            extended_types,
            data_size: 0,
            quotas: Quotas::new(),
            load_parent: None,
            bulk: None,
        }
    }

    /// Room for `n` more nodes (a loader that knows the count avoids growing the index).
    pub fn reserve(&mut self, n: usize) {
        self.store.reserve(n);
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
        let acl = self.acls.intern_arc(&acl);
        self.load_node_with(path, data.as_deref(), acl, &stat)
    }

    /// The id of an ACL list for `load_node_with` (interned; unused ones go with
    /// `purge_unused_acls`).
    pub fn acl_id(&mut self, acl: &[Acl]) -> u32 {
        self.acls.intern(acl)
    }

    /// `load_node` without intermediate copies: `acl` from `acl_id`.
    pub fn load_node_with(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
    ) -> Result<(), String> {
        if path.is_empty() || path == "/" {
            if let Some((_, old, _)) = self.store.remove("/") {
                self.data_size -= 1 + old.blob().data_len() as i64;
                self.acls.release(old.acl());
            }
            self.load_parent = None;
            self.insert_new("/", data, acl, stat);
            return Ok(());
        }
        let (parent, _) = split_path(path);
        if !path.starts_with('/') || path.ends_with('/') {
            return Err(format!("invalid path {path:?}"));
        }
        let pi = match &self.load_parent {
            Some((p, i)) if p == parent => *i,
            _ => {
                let i = self
                    .store
                    .find(parent)
                    .ok_or_else(|| format!("unable to find parent {parent} of path {path}"))?;
                self.load_parent = Some((parent.to_string(), i));
                i
            }
        };
        let h = self.store.hash(path);
        if let Some(i) = self.store.find_hashed(h, path) {
            // The same path twice: the later node replaces the earlier one (Java's map put),
            // without its children.
            let old = self.store.slot(i);
            self.data_size += data.map_or(0, |d| d.len() as i64) - old.blob().data_len() as i64;
            let (old_acl, old_owner) = (old.acl(), self.store.owner(i));
            self.untrack_kind(path, old_owner);
            self.acls.add_ref(acl);
            self.acls.release(old_acl);
            let s = self.store.slot_mut(i);
            let pos = s.pos;
            *s = Slot::new(Blob::new(path, data), stat, acl);
            s.pos = pos;
            self.store.set_owner(i, stat.ephemeral_owner);
            self.load_parent = None;
        } else {
            let i = self.insert_hashed(h, path, data, acl, stat);
            self.store.add_child(pi, i);
        }
        self.track_kind(path, stat.ephemeral_owner);
        Ok(())
    }

    /// Bulk loading (snapshots): nodes come parents first, in depth-first order as Java
    /// writes them, and are indexed all at once at the end (`bulk_finish`), which is much
    /// cheaper than one index insert per node. A node whose parent is not on the current
    /// depth-first path, or a path seen twice, makes the bulk load give up: the caller then
    /// loads the snapshot again with `load_node_with`.
    pub fn bulk_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
    ) -> Result<(), BulkFallback> {
        let bulk = self.bulk.get_or_insert_with(Default::default);
        let parent = if path.is_empty() || path == "/" {
            if bulk.started {
                return Err(BulkFallback);
            }
            None
        } else {
            if !path.starts_with('/') || path.ends_with('/') {
                return Err(BulkFallback);
            }
            let (parent, _) = split_path(path);
            loop {
                let &top = bulk.stack.last().ok_or(BulkFallback)?;
                if self.store.slot(top).path() == parent {
                    break Some(top);
                }
                bulk.stack.pop();
            }
        };
        bulk.started = true;
        let path = if parent.is_none() { "/" } else { path };
        let h = self.store.hash(path);
        self.data_size += java_path_len(path) + data.map_or(0, |d| d.len() as i64);
        self.acls.add_ref(acl);
        let i = self.store.push_unindexed(
            Slot::new(Blob::new(path, data), stat, acl),
            stat.ephemeral_owner,
        );
        if let Some(p) = parent {
            self.store.add_child(p, i);
        }
        let bulk = self.bulk.as_mut().expect("bulk");
        bulk.stack.push(i);
        bulk.hashes.push((h, i));
        if stat.ephemeral_owner != 0 {
            self.track_kind(path, stat.ephemeral_owner);
        }
        Ok(())
    }

    /// Index what `bulk_node` added.
    pub fn bulk_finish(&mut self) -> Result<(), BulkFallback> {
        let Some(bulk) = self.bulk.take() else {
            return Ok(());
        };
        self.store
            .index_bulk(&bulk.hashes)
            .map_err(|_| BulkFallback)
    }

    /// Finish a load: the tree now reflects every txn up to `last_zxid`.
    pub fn finish_load(&mut self, sessions: HashMap<i64, i32>, last_zxid: i64) {
        self.sessions = sessions;
        self.last_zxid = last_zxid;
        self.load_parent = None;
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
        let i = self.store.find(path)?;
        Some(self.store.slot(i).blob().data())
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
        let Some(i) = self.store.find(path) else {
            return;
        };
        let s = self.store.slot_mut(i);
        s.blob = Some(s.blob().with_data(Some(&data)));
    }
}

#[cfg(test)]
impl DataTree {
    /// Panics unless the store, the ACL table and the kind indexes agree with each other.
    pub(crate) fn check_invariants(&self) {
        let mut refs = vec![0u32; self.acls.lists.len()];
        let mut size = 0i64;
        let mut owned = 0;
        for (i, s) in self.store.iter() {
            let path = s.path();
            assert_eq!(self.store.find(path), Some(i), "{path} indexed");
            size += java_path_len(path) + s.blob().data_len() as i64;
            refs[s.acl() as usize] += 1;
            let owner = self.store.owner(i);
            assert_eq!(s.has_owner(), owner != 0, "{path} owner flag");
            if owner != 0 {
                owned += 1;
            }
            let in_kind = match node_kind(owner, self.extended_types) {
                NodeKind::Persistent => true,
                NodeKind::Container => self.containers.contains(path),
                NodeKind::Ttl(_) => self.ttls.contains(path),
                NodeKind::Ephemeral(o) => self.ephemerals.get(&o).is_some_and(|e| e.contains(path)),
            };
            assert!(in_kind, "{path} in its kind's index");
            if path != "/" {
                let p = self.store.find(split_path(path).0).expect("parent");
                let k = self.store.slot(p).kids.as_ref().expect("parent's children");
                assert_eq!(k.at(s.pos), Some(i), "{path} at its place");
            }
            if let Some(k) = &s.kids {
                assert_eq!(k.iter().count(), k.len(), "{path}: children counted");
                assert!(k.java_capacity >= 8 || k.is_empty() && k.java_capacity == 0);
            }
        }
        assert_eq!(owned, self.store.owners_len(), "owners map");
        assert_eq!(size, self.data_size, "approximate data size");
        for (id, &n) in refs.iter().enumerate() {
            assert_eq!(self.acls.refs[id], n, "references to ACL {id}");
            if n > 0 {
                assert_eq!(
                    self.acls.ids.get(self.acls.lists[id].as_slice()),
                    Some(&(id as u32))
                );
            }
        }
        let mut walked = 0;
        let _ = self.for_each_node(|_, _| {
            walked += 1;
            Ok::<(), ()>(())
        });
        assert_eq!(
            walked,
            self.node_count(),
            "every node reachable from the root"
        );
        let kinds = self.containers.len()
            + self.ttls.len()
            + self.ephemerals.values().map(BTreeSet::len).sum::<usize>();
        assert_eq!(kinds, owned, "kind indexes hold live nodes only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;
    use jute::ops;
    use jute::txn::{CloseSessionTxn, CreateTxn, DeleteTxn, SetDataTxn, TxnHeader};

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
    fn config_node_as_a_quorum_member_sets_it() {
        let mut t = DataTree::new(false);
        let digest = crate::persist::digest::tree_digest(&t);
        let data = b"server.1=127.0.0.1:2888:3888:participant\nversion=0";
        t.set_config(data, 0, 1_700_000_000_000);
        let n = t.node(CONFIG).unwrap();
        assert_eq!(n.data.to_bytes().as_deref(), Some(&data[..]));
        let s = n.stat(false);
        assert_eq!(
            (s.czxid, s.mzxid, s.ctime, s.mtime, s.version, s.aversion),
            (0, 0, 0, 1_700_000_000_000, -1, -1)
        );
        assert_eq!(s.data_length as usize, data.len());
        assert_eq!(n.acl[0].perms, ops::perms::READ);
        // Not part of the digest (`/zookeeper/...`), unlike the data size.
        assert_eq!(crate::persist::digest::tree_digest(&t), digest);
        // A tree without the node (a pre-3.5 snapshot) gets it, read-only to the world.
        let mut t = DataTree::empty_for_load(false);
        let open = t.intern_acl(open_acl());
        for path in ["", ZOOKEEPER] {
            t.load_node(
                path,
                Some(Bytes::new()),
                open.clone(),
                StatPersisted::default(),
            )
            .unwrap();
        }
        t.set_config(data, 7, 1);
        let n = t.node(CONFIG).unwrap();
        assert_eq!((n.stat.mzxid, n.stat.version), (7, -1));
        assert_eq!(n.acl[0].perms, ops::perms::READ);
        assert_eq!(t.node(ZOOKEEPER).unwrap().children.len(), 1);
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
                (OpCode::Create, create(3, "/x", 1, false).body),
                (
                    OpCode::Error,
                    TxnBody::Error(jute::txn::ErrorTxn {
                        err: error::NO_NODE,
                    }),
                ),
                (
                    OpCode::SetData,
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

    /// closeSession of many ephemerals under two parents, listed interleaved (the parent
    /// changes with every path) or taken from the tree's index (no list): the same tree,
    /// each parent's pzxid the close's zxid, one event per watch, indexes consistent.
    #[test]
    fn close_session_of_many_ephemerals_under_alternating_parents() {
        let mut t = DataTree::new(true);
        let mut ev = vec![];
        t.apply(&create(1, "/p", 1, false), &mut ev);
        t.apply(&create(2, "/q", 2, false), &mut ev);
        let n = 5000;
        let mut listed = Vec::new();
        for i in 0..n {
            let path = format!("/{}/e{i}", if i % 2 == 0 { "p" } else { "q" });
            t.apply(&create(3 + i, &path, -1, true), &mut ev);
            listed.push(path);
        }
        t.apply(&create(3 + n, "/q/kept", -1, false), &mut ev);
        t.watches.add("/p", 1, crate::watch::WatchKind::Child);
        t.watches.add("/q", 1, crate::watch::WatchKind::Child);
        t.watches.add("/p/e0", 2, crate::watch::WatchKind::Exist);
        let zxid = 4 + n;
        let close = |paths: Option<Vec<String>>| Txn {
            hdr: hdr(zxid, ops::CLOSE_SESSION),
            body: TxnBody::CloseSession(paths.map(|p| CloseSessionTxn { paths2_delete: p })),
        };
        let mut unlisted = t.snapshot_copy();
        let mut events = vec![];
        t.apply(&close(Some(listed)), &mut events);
        unlisted.apply(&close(None), &mut vec![]);
        t.check_invariants();
        unlisted.check_invariants();
        assert_eq!(
            crate::persist::digest::tree_digest(&t),
            crate::persist::digest::tree_digest(&unlisted)
        );
        assert_eq!(t.node("/p").unwrap().children.len(), 0);
        assert_eq!(t.node("/q").unwrap().children.len(), 1);
        for parent in ["/p", "/q"] {
            assert_eq!(t.node(parent).unwrap().stat.pzxid, zxid, "{parent}");
        }
        assert_eq!(t.ephemerals_of(0x42).count(), 0);
        let mut fired: Vec<(u64, String)> = events
            .iter()
            .map(|(w, e, _)| (*w, e.path.clone()))
            .collect();
        fired.sort();
        let want = [(1, "/p"), (1, "/q"), (2, "/p/e0")];
        assert_eq!(fired, want.map(|(w, p)| (w, p.to_string())));
    }

    #[test]
    fn close_session_deletes_only_its_own_childless_ephemerals() {
        let mut t = DataTree::new(true);
        let mut ev = vec![];
        t.apply(&create(1, "/p", 1, false), &mut ev);
        t.apply(&create(2, "/p/c", 1, false), &mut ev);
        t.apply(&create(3, "/q", 2, false), &mut ev);
        t.apply(&create(4, "/e", 3, true), &mut ev); // owned by 0x42
        let close = |zxid: i64, session: i64, paths: &[&str]| Txn {
            hdr: TxnHeader {
                client_id: session,
                ..hdr(zxid, ops::CLOSE_SESSION)
            },
            body: TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: paths.iter().map(|p| p.to_string()).collect(),
            })),
        };
        // Session 0 "owns" every persistent node by ephemeralOwner; its close deletes none.
        t.apply(&close(5, 0, &["/q", "/p", "/e"]), &mut ev);
        // A real session's close that names nodes it does not own deletes only its own.
        t.apply(&close(6, 0x42, &["/p", "/q", "/e"]), &mut ev);
        for kept in ["/p", "/p/c", "/q"] {
            assert!(t.node(kept).is_some(), "{kept}");
        }
        assert!(t.node("/e").is_none());
        assert_eq!(t.ephemerals_of(0x42).count(), 0);
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

    fn txn(zxid: i64, ty: i32, body: TxnBody) -> Txn {
        Txn {
            hdr: hdr(zxid, ty),
            body,
        }
    }

    fn delete(zxid: i64, path: &str) -> Txn {
        txn(
            zxid,
            ops::DELETE,
            TxnBody::Delete(DeleteTxn { path: path.into() }),
        )
    }

    fn set(zxid: i64, path: &str, data: &[u8]) -> Txn {
        txn(
            zxid,
            ops::SET_DATA,
            TxnBody::SetData(SetDataTxn {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                version: 1,
            }),
        )
    }

    /// Path, data, ACL, stat and number of children.
    type Seen = (String, Option<Vec<u8>>, Vec<Acl>, StatPersisted, usize);

    /// Everything a snapshot holds about every node, in snapshot order.
    fn view(t: &DataTree) -> Vec<Seen> {
        let mut v = Vec::new();
        let _ = t.for_each_node(|p, n| {
            v.push((
                p.to_string(),
                n.data.map(<[u8]>::to_vec),
                n.acl.to_vec(),
                n.stat.clone(),
                n.children.len(),
            ));
            Ok::<(), ()>(())
        });
        v
    }

    #[test]
    fn snapshot_copy_stays_as_it_was_while_the_tree_changes() {
        let mut t = DataTree::new(true);
        let mut ev = vec![];
        let mut z = 0;
        let mut next = || {
            z += 1;
            z
        };
        for i in 0..2000 {
            let z = next();
            t.apply(&create(z, &format!("/n{i}"), -1, i % 7 == 0), &mut ev);
        }
        let before = view(&t);
        let count = t.node_count();
        let copy = t.snapshot_copy();
        // Every kind of change, on nodes in every chunk.
        for i in (0..2000).step_by(3) {
            t.apply(&delete(next(), &format!("/n{i}")), &mut ev);
        }
        for i in (1..2000).step_by(3) {
            t.apply(&set(next(), &format!("/n{i}"), b"changed"), &mut ev);
            if i % 7 != 0 {
                // (Ephemerals have no children.)
                let z = next();
                t.apply(&create(z, &format!("/n{i}/kid"), -1, false), &mut ev);
            }
        }
        let acl = vec![Acl {
            perms: 1,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        let z = next();
        t.apply(
            &txn(
                z,
                ops::SET_ACL,
                TxnBody::SetAcl(jute::txn::SetACLTxn {
                    path: "/n2".into(),
                    acl,
                    version: 1,
                }),
            ),
            &mut ev,
        );
        let z = next();
        t.apply(
            &txn(z, ops::CLOSE_SESSION, TxnBody::CloseSession(None)),
            &mut ev,
        );
        assert_eq!(view(&copy), before);
        assert_eq!(copy.node_count(), count);
        assert_eq!(copy.ephemerals_of(0x42).count(), 286);
        assert_eq!(t.ephemerals_of(0x42).count(), 0);
        assert_eq!(
            t.node("/n1").unwrap().data.to_bytes().unwrap(),
            &b"changed"[..]
        );
        assert_eq!(copy.node("/n1").unwrap().data, Some(&b"v"[..]));
        assert_eq!(t.node("/n2").unwrap().acl[0].perms, 1);
        assert_eq!(copy.node("/n2").unwrap().acl[0].perms, ops::perms::ALL);
        assert!(t.node("/n1/kid").is_some() && copy.node("/n1/kid").is_none());
        // A digest from scratch agrees with the store of each.
        let d = crate::persist::digest::tree_digest;
        let walked: Vec<String> = view(&t).into_iter().map(|v| v.0).collect();
        let mut stored = vec![];
        t.for_each_node_unordered(|p, _| stored.push(p.to_string()));
        assert_eq!(walked.len(), t.node_count());
        let mut w2 = walked.clone();
        w2.sort();
        stored.sort();
        assert_eq!(w2, stored);
        let mut fresh = DataTree::empty_for_load(true);
        for (p, data, acl, stat, _) in view(&t) {
            let acl = fresh.intern_acl(acl);
            fresh
                .load_node(&p, data.map(Bytes::from), acl, stat)
                .unwrap();
        }
        assert_eq!(d(&fresh), d(&t));
    }

    #[test]
    fn pzxid_and_cversion_live_with_the_children() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        t.apply(&create(1, "/leaf", -1, false), &mut ev);
        let s = t.node("/leaf").unwrap().stat;
        assert_eq!((s.pzxid, s.cversion), (1, 0));
        // Java bumps the parent's pzxid even when the child to delete is gone.
        assert_eq!(
            t.apply(&delete(7, "/leaf/none"), &mut ev).err,
            error::NO_NODE
        );
        let s = t.node("/leaf").unwrap().stat;
        assert_eq!((s.czxid, s.pzxid, s.cversion), (1, 7, 0));
        // An explicit parent cversion (a create txn from prep).
        t.apply(&create(8, "/leaf/a", 5, false), &mut ev);
        let n = t.node("/leaf").unwrap();
        assert_eq!((n.stat.pzxid, n.stat.cversion), (8, 5));
        assert_eq!(n.stat(false).cversion, 9);
        // Replaying a create that is there already repairs the parent (NodeExists).
        t.apply(&delete(9, "/leaf/a"), &mut ev);
        t.apply(&create(10, "/leaf/a", 6, false), &mut ev);
        assert_eq!(
            t.apply(&create(11, "/leaf/a", 8, false), &mut ev).err,
            error::NODE_EXISTS
        );
        let s = t.node("/leaf").unwrap().stat;
        assert_eq!((s.pzxid, s.cversion), (11, 8));
    }

    #[test]
    fn acl_lists_are_counted_and_dropped_with_their_last_node() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        let base = t.acl_count();
        let acl = |n: i32| {
            vec![Acl {
                perms: n,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }]
        };
        let mk = |z: i64, path: &str, a: Vec<Acl>| {
            txn(
                z,
                ops::CREATE,
                TxnBody::Create(CreateTxn {
                    path: path.into(),
                    data: None,
                    acl: a,
                    ephemeral: false,
                    parent_c_version: -1,
                }),
            )
        };
        t.apply(&mk(1, "/a", acl(3)), &mut ev);
        t.apply(&mk(2, "/b", acl(3)), &mut ev);
        t.apply(&mk(3, "/c", acl(7)), &mut ev);
        assert_eq!(t.acl_count(), base + 2);
        assert!(Arc::ptr_eq(
            &t.node("/a").unwrap().acl,
            &t.node("/b").unwrap().acl
        ));
        t.apply(&delete(4, "/a"), &mut ev);
        assert_eq!(t.acl_count(), base + 2);
        t.apply(&delete(5, "/b"), &mut ev);
        assert_eq!(t.acl_count(), base + 1);
        // setAcl to the list the node has already keeps it.
        let set_acl = |z: i64, a: Vec<Acl>| {
            txn(
                z,
                ops::SET_ACL,
                TxnBody::SetAcl(jute::txn::SetACLTxn {
                    path: "/c".into(),
                    acl: a,
                    version: 1,
                }),
            )
        };
        t.apply(&set_acl(6, acl(7)), &mut ev);
        assert_eq!(t.node("/c").unwrap().acl[0].perms, 7);
        t.apply(&set_acl(7, acl(2)), &mut ev);
        assert_eq!(t.node("/c").unwrap().acl[0].perms, 2);
        assert_eq!(t.acl_count(), base + 1);
        // Lists interned but never used go with purge_unused_acls.
        t.intern_acl(acl(9));
        assert_eq!(t.acl_count(), base + 2);
        t.purge_unused_acls();
        assert_eq!(t.acl_count(), base + 1);
    }

    #[test]
    fn large_data_is_shared_with_replies() {
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        t.apply(&create(1, "/big", -1, false), &mut ev);
        t.apply(&set(2, "/big", &[5u8; 100_000]), &mut ev);
        let b = t.node("/big").unwrap().data.to_bytes().unwrap();
        t.apply(&delete(3, "/big"), &mut ev);
        assert_eq!((b.len(), b[99_999]), (100_000, 5));
        assert_eq!(
            t.approximate_data_size(),
            DataTree::new(false).approximate_data_size()
        );
    }

    #[test]
    fn approximate_data_size_counts_path_length_in_utf16_units_as_java() {
        // Java's getNodeSize adds path.length(): "/\u{e9}t\u{e9}" is 4 units (6 UTF-8 bytes).
        let mut t = DataTree::new(false);
        let mut ev = vec![];
        let base = t.approximate_data_size();
        t.apply(&create(1, "/\u{e9}t\u{e9}", -1, false), &mut ev);
        assert_eq!(t.approximate_data_size(), base + 4 + 1);
        t.apply(&delete(2, "/\u{e9}t\u{e9}"), &mut ev);
        assert_eq!(t.approximate_data_size(), base);
    }

    /// xorshift64*: deterministic randomness for the model test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_histories_keep_the_tree_consistent_and_copies_frozen() {
        for seed in 1..=4u64 {
            let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut t = DataTree::new(true);
            let mut ev = vec![];
            let names = ["a", "b", "c", "d", "e", "f"];
            let acls = [
                open_acl(),
                vec![Acl {
                    perms: 1,
                    id: Id {
                        scheme: "world".into(),
                        id: "anyone".into(),
                    },
                }],
                vec![Acl {
                    perms: 31,
                    id: Id {
                        scheme: "digest".into(),
                        id: "u:x".into(),
                    },
                }],
            ];
            // Copies with the snapshot bytes they had when taken.
            let mut copies: Vec<(DataTree, Vec<u8>)> = vec![];
            for z in 1..3000i64 {
                let depth = 1 + r.below(3) as usize;
                let path: String = (0..depth)
                    .map(|_| format!("/{}", names[r.below(6) as usize]))
                    .collect();
                let session = 0x10 + r.below(3) as i64;
                let mut h = hdr(z, ops::CREATE);
                h.client_id = session;
                let body = match r.below(10) {
                    0..=3 => {
                        let data = match r.below(4) {
                            0 => None,
                            1 => Some(Bytes::from(vec![7u8; 600 + r.below(100) as usize])),
                            _ => Some(Bytes::from(format!("d{z}"))),
                        };
                        let acl = acls[r.below(3) as usize].clone();
                        let parent_c_version = -1;
                        let (ty, body) = match r.below(4) {
                            0 => (
                                ops::CREATE,
                                TxnBody::Create(CreateTxn {
                                    path,
                                    data,
                                    acl,
                                    ephemeral: true,
                                    parent_c_version,
                                }),
                            ),
                            1 => (
                                ops::CREATE_CONTAINER,
                                TxnBody::CreateContainer(jute::txn::CreateContainerTxn {
                                    path,
                                    data,
                                    acl,
                                    parent_c_version,
                                }),
                            ),
                            2 => (
                                ops::CREATE_TTL,
                                TxnBody::CreateTtl(jute::txn::CreateTTLTxn {
                                    path,
                                    data,
                                    acl,
                                    parent_c_version,
                                    ttl: 1000,
                                }),
                            ),
                            _ => (
                                ops::CREATE,
                                TxnBody::Create(CreateTxn {
                                    path,
                                    data,
                                    acl,
                                    ephemeral: false,
                                    parent_c_version,
                                }),
                            ),
                        };
                        // As prep would: no children under ephemerals.
                        let parent = split_path(match &body {
                            TxnBody::Create(c) => &c.path,
                            TxnBody::CreateContainer(c) => &c.path,
                            TxnBody::CreateTtl(c) => &c.path,
                            _ => unreachable!(),
                        })
                        .0
                        .to_string();
                        let eph_parent = t.node(&parent).is_some_and(|n| {
                            matches!(
                                node_kind(n.stat.ephemeral_owner, true),
                                NodeKind::Ephemeral(_)
                            )
                        });
                        if eph_parent {
                            continue;
                        }
                        h.r#type = ty;
                        body
                    }
                    4..=5 => {
                        // As prep would: only leaves.
                        if t.node(&path).is_some_and(|n| !n.children.is_empty()) {
                            continue;
                        }
                        h.r#type = ops::DELETE;
                        TxnBody::Delete(DeleteTxn { path })
                    }
                    6..=7 => {
                        h.r#type = ops::SET_DATA;
                        TxnBody::SetData(SetDataTxn {
                            path,
                            data: Some(Bytes::from(format!("s{z}"))),
                            version: z as i32,
                        })
                    }
                    8 => {
                        h.r#type = ops::SET_ACL;
                        TxnBody::SetAcl(jute::txn::SetACLTxn {
                            path,
                            acl: acls[r.below(3) as usize].clone(),
                            version: z as i32,
                        })
                    }
                    _ => {
                        // Ephemerals with children cannot exist, so a close is always clean.
                        h.r#type = ops::CLOSE_SESSION;
                        TxnBody::CloseSession(None)
                    }
                };
                t.apply(&Txn { hdr: h, body }, &mut ev);
                ev.clear();
                if r.below(200) == 0 {
                    let c = t.snapshot_copy();
                    let mut b = vec![];
                    crate::persist::snapshot::serialize(&c, c.last_zxid, true, &mut b).unwrap();
                    copies.push((c, b));
                }
                if z % 500 == 0 {
                    t.check_invariants();
                }
            }
            t.check_invariants();
            for (c, bytes) in &copies {
                c.check_invariants();
                let mut b = vec![];
                crate::persist::snapshot::serialize(c, c.last_zxid, true, &mut b).unwrap();
                assert_eq!(&b, bytes, "a copy changed after it was taken (seed {seed})");
            }
            // A snapshot of the tree loads back into the same tree.
            let mut b = vec![];
            crate::persist::snapshot::serialize(&t, t.last_zxid, true, &mut b).unwrap();
            let dir = crate::persist::txnlog::tests::tempdir();
            let p = dir.join(format!("snapshot.{:x}", t.last_zxid));
            std::fs::write(&p, &b).unwrap();
            let l = crate::persist::snapshot::load(&p, true).unwrap();
            l.tree.check_invariants();
            assert_eq!(view(&l.tree), view(&t));
            assert_eq!(l.digest, crate::persist::digest::tree_digest(&t));
            let mut again = vec![];
            crate::persist::snapshot::serialize(&l.tree, t.last_zxid, true, &mut again).unwrap();
            assert_eq!(again, b);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
