//! Request prep: turns a write request into a transaction, checking it against the tree
//! *plus* the changes already prepped but not yet applied (Java's PrepRequestProcessor and
//! its outstanding ChangeRecords). Every write gets a zxid, failures included: a failed
//! write becomes an error txn, a failed multi a multi txn with error sub-txns, as in Java.

use crate::auth::{self, AuthConfig, AuthId};
use crate::config::CompatVersion;
use crate::error::ErrorCode;
use crate::null_strings::{self, OpNulls};
use crate::reconfig;
use crate::tree::{self, AclList, DataTree, NodeKind};
use crate::txn::{Txn, TxnBody};
use bytes::Bytes;
use hashbrown::{HashMap, HashSet};
use jute::data::{Acl, StatPersisted};
use jute::multi::MultiOp;
use jute::ops::perms;
use jute::proto::*;
use jute::txn::*;
use jute::Decode;
use jute::OpCode;
use std::collections::VecDeque;

/// A node as prep sees it: the tree's state with pending changes applied.
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    pub zxid: i64,
    /// `None` once the node is (pending) deleted.
    pub stat: Option<StatPersisted>,
    pub child_count: i32,
    pub acl: AclList,
    /// The node's data (for its digest).
    pub data: Option<Bytes>,
}

/// Changes prepped but not yet applied to the tree, newest per path.
#[derive(Default)]
pub struct Pending {
    by_path: HashMap<String, ChangeRecord>,
    order: VecDeque<(i64, String)>,
    /// Sessions whose closeSession is prepped but not applied, with that txn's zxid. Every
    /// node of the tree such a session owns as an ephemeral is gone once it applies: one
    /// entry stands for them all instead of a record per ephemeral (a session may own 100k).
    closing: HashMap<i64, i64>,
    /// The tree digest once every prepped txn is applied (Java's "current tree digest":
    /// the last outstanding change's precalculated digest). Each txn is logged with it.
    pub digest: i64,
    /// Paths whose write a hard quota refused since the caller last took them (for Java's
    /// `quota_exceeded_error_per_namespace` counters).
    quota_exceeded: Vec<String>,
    /// Java's `DataTree` digest log (the `hash` four-letter word): the tree digest after each
    /// applied txn whose zxid is a multiple of [`DIGEST_LOG_INTERVAL`], the last
    /// [`DIGEST_LOG_LIMIT`], oldest first. `digests_due` holds those not applied yet.
    digests_due: VecDeque<(i64, i64)>,
    digest_log: VecDeque<(i64, i64)>,
}

/// `DataTree.DIGEST_LOG_INTERVAL`.
pub const DIGEST_LOG_INTERVAL: i64 = 128;
/// `DataTree.DIGEST_LOG_LIMIT`.
pub const DIGEST_LOG_LIMIT: usize = 1024;

impl Pending {
    /// Forget the changes of every txn up to `zxid` (now applied to the tree).
    pub fn applied(&mut self, zxid: i64) {
        while self.digests_due.front().is_some_and(|&(z, _)| z <= zxid) {
            let due = self.digests_due.pop_front().expect("front exists");
            self.digest_log.push_back(due);
            if self.digest_log.len() > DIGEST_LOG_LIMIT {
                self.digest_log.pop_front();
            }
        }
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            let (z, path) = self.order.pop_front().unwrap();
            if self.by_path.get(&path).is_some_and(|r| r.zxid == z) {
                self.by_path.remove(&path);
            }
        }
        if !self.closing.is_empty() {
            self.closing.retain(|_, z| *z > zxid);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty() && self.closing.is_empty()
    }

    /// Whether a node of the tree with this ephemeralOwner is deleted by a pending
    /// closeSession (only sessions that own ephemerals are ever entered).
    fn closed_owner(&self, owner: i64) -> bool {
        owner != 0 && !self.closing.is_empty() && self.closing.contains_key(&owner)
    }

    /// A txn with this zxid is logged, and the tree digest will be `digest` once it is
    /// applied: kept for the digest log if the zxid is a multiple of 128.
    pub fn logged(&mut self, zxid: i64, digest: i64) {
        if zxid % DIGEST_LOG_INTERVAL == 0 {
            self.digests_due.push_back((zxid, digest));
        }
    }

    /// The digest log (`hash`): (zxid, tree digest) pairs, oldest first.
    pub fn digest_log(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.digest_log.iter().copied()
    }

    /// The paths whose create or setData a hard quota refused since the last call.
    pub fn take_quota_exceeded(&mut self) -> Vec<String> {
        std::mem::take(&mut self.quota_exceeded)
    }

    /// Paths of pending records (for closeSession: ephemerals created or deleted meanwhile).
    fn records(&self) -> impl Iterator<Item = (&String, &ChangeRecord)> {
        self.by_path.iter()
    }
}

/// Everything prep needs about the requester and the server.
pub struct PrepContext<'a> {
    pub tree: &'a DataTree,
    pub session: i64,
    pub auth: &'a [AuthId],
    pub auth_cfg: &'a AuthConfig,
    pub extended_types: bool,
    pub reconfig_enabled: bool,
    /// `zookeeper.enforceQuota`: creates and setData past a hard quota limit fail.
    pub enforce_quota: bool,
    /// The Java generation to behave as (how a multi's creates are read).
    pub compat: CompatVersion,
    /// On a leader, Java's `checkSession` for a learner's request failed with this code
    /// (SessionExpired, SessionMoved): every op that checks the session fails with it.
    pub session_error: Option<ErrorCode>,
    /// Leading an ensemble: its configs and synced followers (for reconfig); `None`
    /// standalone.
    pub leader: Option<crate::reconfig::LeaderView<'a>>,
}

impl PrepContext<'_> {
    /// Java's `sessionTracker.checkSession` at the point each op calls it.
    fn check_session(&self) -> Result<(), ErrorCode> {
        self.session_error.map_or(Ok(()), Err)
    }
}

/// Local view for one request: changes made by earlier ops of the same multi are visible,
/// and dropped if the multi fails.
struct View<'a, 'b> {
    ctx: &'a PrepContext<'b>,
    pending: &'a Pending,
    /// Paths a hard quota refused while prepping this request.
    quota_exceeded: Vec<String>,
    local: HashMap<String, ChangeRecord>,
    local_order: Vec<String>,
    /// What the changes so far do to the tree digest.
    delta: i64,
    /// This request closes the session: its tree ephemerals go without a record each
    /// (`Pending::closing`).
    closes: bool,
}

/// A record's node digest; "" is the root, as in [`View::get`].
fn record_digest(path: &str, r: &ChangeRecord) -> i64 {
    let path = if path.is_empty() { "/" } else { path };
    r.stat.as_ref().map_or(0, |s| {
        crate::persist::digest::node_digest(path, r.data.as_deref(), s)
    })
}

impl View<'_, '_> {
    fn get(&self, path: &str) -> Result<ChangeRecord, ErrorCode> {
        let path = if path.is_empty() { "/" } else { path };
        let rec = if let Some(r) = self.local.get(path) {
            Some(r.clone())
        } else if let Some(r) = self.pending.by_path.get(path) {
            Some(r.clone())
        } else {
            let n = self.ctx.tree.node(path);
            n.filter(|n| !self.pending.closed_owner(n.stat.ephemeral_owner))
                .map(|n| ChangeRecord {
                    zxid: n.stat.mzxid,
                    stat: Some(n.stat.clone()),
                    child_count: n.children.len() as i32,
                    acl: n.acl.clone(),
                    data: n.data.to_bytes(),
                })
        };
        match rec {
            Some(r) if r.stat.is_some() => Ok(r),
            _ => Err(ErrorCode::NoNode),
        }
    }

    /// Record a change, and what it does to the tree digest (Java's precalculateDigest:
    /// remove the node's old digest, add its new one).
    fn put(&mut self, path: &str, rec: ChangeRecord) {
        let path = if path.is_empty() { "/" } else { path };
        let old = self.digest_of(path);
        self.replace(path, old, rec);
    }

    /// [`View::put`] for a caller that read the node's record itself since this view last
    /// changed `path`: `old_digest` is that record's [`record_digest`] (0 for no node), so
    /// the node is not looked up and copied a second time.
    fn replace(&mut self, path: &str, old_digest: i64, rec: ChangeRecord) {
        let path = if path.is_empty() { "/" } else { path };
        debug_assert_eq!(
            old_digest,
            self.digest_of(path),
            "stale old digest of {path}"
        );
        let new = record_digest(path, &rec);
        self.delta = self.delta.wrapping_add(new.wrapping_sub(old_digest));
        if self.local.insert(path.to_string(), rec).is_none() {
            self.local_order.push(path.to_string());
        }
    }

    /// The digest of the node at `path` as this view sees it (0 for none), what
    /// `record_digest(path, &self.get(path)?)` is, without copying the record.
    fn digest_of(&self, path: &str) -> i64 {
        let path = if path.is_empty() { "/" } else { path };
        match self
            .local
            .get(path)
            .or_else(|| self.pending.by_path.get(path))
        {
            Some(r) => record_digest(path, r),
            // A node of a session with a pending close counts as gone, as in `get`.
            None => self
                .ctx
                .tree
                .node(path)
                .filter(|n| !self.pending.closed_owner(n.stat.ephemeral_owner))
                .map_or(0, |n| {
                    crate::persist::digest::node_digest(path, *n.data, &n.stat)
                }),
        }
    }

    /// Room for `n` more changes (a closeSession of many ephemerals).
    fn reserve(&mut self, n: usize) {
        self.local.reserve(n);
        self.local_order.reserve(n);
    }

    /// Drop this request's changes (a failed op or multi).
    fn rollback(&mut self) {
        self.local.clear();
        self.local_order.clear();
        self.delta = 0;
        self.closes = false;
    }

    /// Java's `ZooKeeperServer.checkQuota` when `enforceQuota` is on: would `bytes_diff` more
    /// bytes and `count_diff` more nodes under `path` pass a hard limit of its deepest quota
    /// root? As in Java, the limits and stats are read from the applied tree (not from
    /// pending changes); passing a soft limit is only logged.
    fn check_quota(
        &mut self,
        path: &str,
        bytes_diff: i64,
        count_diff: i64,
    ) -> Result<(), ErrorCode> {
        if !self.ctx.enforce_quota {
            return Ok(());
        }
        match self.ctx.tree.check_quota(path, bytes_diff, count_diff) {
            Ok(soft) => {
                for message in soft {
                    tracing::warn!("{message}");
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!("{}", e.message);
                self.quota_exceeded.push(path.to_string());
                Err(ErrorCode::QuotaExceeded)
            }
        }
    }

    fn check_acl(&self, acl: &[Acl], perm: i32) -> Result<(), ErrorCode> {
        if auth::check_acl(acl, perm, self.ctx.auth, self.ctx.auth_cfg) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }
}

/// Java's `PathUtils.validatePath`.
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    let bytes = path.as_bytes();
    if bytes.is_empty() || bytes[0] != b'/' {
        return Err(ErrorCode::BadArguments);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(ErrorCode::BadArguments);
    }
    for seg in path[1..].split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(ErrorCode::BadArguments);
        }
    }
    for c in path.chars() {
        let c = c as u32;
        if c == 0
            || (c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || (0xfff0..=0xffff).contains(&c)
            || c > 0xffff
        {
            return Err(ErrorCode::BadArguments);
        }
    }
    Ok(())
}

/// A write a learner answers itself instead of forwarding it, because a Java leader would
/// break on it (our own leader refuses each in [`prep_write`]):
/// - a createTTL with a non-TTL mode, which a Java 3.8 leader logs as a txn that kills every
///   Java server applying it;
/// - in 3.9 mode, a single write whose body is no request record of its op
///   ([`write_record_is_malformed`]): a Java 3.9.3 leader proposes an error txn under a zxid
///   it already used and its ensemble stops serving.
pub fn refused_before_forwarding(
    op: OpCode,
    body: &Bytes,
    compat: CompatVersion,
) -> Option<ErrorCode> {
    if compat.malformed_write_takes_no_zxid() && write_record_is_malformed(op, body) {
        return Some(ErrorCode::MarshallingError);
    }
    if op != OpCode::CreateTtl {
        return None;
    }
    let r = CreateTTLRequest::decode(&mut body.clone()).ok()?;
    match CreateMode::from_flags(r.flags) {
        Ok(mode) if !mode.ttl => Some(ErrorCode::BadArguments),
        _ => None,
    }
}

/// Whether a single write's body is no request record of its op (Java 3.9's
/// `readRequestRecord` fails). Java 3.9.3 reads the record before it takes a zxid, so it
/// answers MarshallingError under the current zxid without taking a new one (and logs an
/// error txn under that used zxid, which wedges an ensemble); a multi's undecodable body
/// still takes one. Only asked once prep has answered MarshallingError, or by a learner
/// before it forwards.
pub fn write_record_is_malformed(op: OpCode, body: &Bytes) -> bool {
    let b = &mut body.clone();
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            CreateRequest::decode(b).is_err()
        }
        OpCode::CreateTtl => CreateTTLRequest::decode(b).is_err(),
        OpCode::DeleteContainer => String::decode(b).is_err(),
        OpCode::Delete => DeleteRequest::decode(b).is_err(),
        OpCode::SetData => SetDataRequest::decode(b).is_err(),
        OpCode::Reconfig => ReconfigRequest::decode(b).is_err(),
        OpCode::SetAcl => SetACLRequest::decode(b).is_err(),
        _ => false,
    }
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        Err(ErrorCode::BadVersion)
    } else {
        Ok(current.wrapping_add(1))
    }
}

fn is_special(path: &str) -> bool {
    matches!(path, "/" | tree::ZOOKEEPER | tree::QUOTA | tree::CONFIG)
}

/// Parent of a path for delete-like ops (Java's getParentPathAndValidate).
fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    match path.rfind('/') {
        Some(i) if !path.contains('\0') && !is_special(path) => Ok(&path[..i]),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// Create flags (Java's `CreateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateMode {
    pub ephemeral: bool,
    pub sequential: bool,
    pub container: bool,
    pub ttl: bool,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Result<CreateMode, ErrorCode> {
        let m = |ephemeral, sequential, container, ttl| CreateMode {
            ephemeral,
            sequential,
            container,
            ttl,
        };
        Ok(match flags {
            0 => m(false, false, false, false),
            1 => m(true, false, false, false),
            2 => m(false, true, false, false),
            3 => m(true, true, false, false),
            4 => m(false, false, true, false),
            5 => m(false, false, false, true),
            6 => m(false, true, false, true),
            _ => return Err(ErrorCode::BadArguments),
        })
    }
}

struct CreateArgs {
    op: OpCode,
    path: String,
    data: Option<Bytes>,
    acl: Vec<Acl>,
    flags: i32,
    ttl: i64,
    /// Which of the request's strings were null (decoded as "").
    nulls: OpNulls,
}

/// Whether Java's prep of this create dereferences a null string (a NullPointerException,
/// answered MarshallingError): a null path once the create mode and ttl pass, or a null ACL
/// string once the path does (see [`null_strings::acl_null_fault`]).
fn create_null_fault(ctx: &PrepContext, a: &CreateArgs) -> bool {
    let Ok(mode) = CreateMode::from_flags(a.flags) else {
        return false;
    };
    let ttl_ok = if mode.ttl {
        ctx.extended_types && a.ttl > 0 && a.ttl <= tree::MAX_TTL
    } else {
        a.ttl < 0
    };
    if !ttl_ok || ctx.session_error.is_some() {
        return false;
    }
    if a.nulls.path {
        return true;
    }
    a.path.contains('/')
        && !a.path.contains('\0')
        && null_strings::acl_null_fault(&a.acl, &a.nulls.acl, ctx.auth, ctx.auth_cfg)
}

fn prep_create(v: &mut View, a: CreateArgs, zxid: i64, time_ms: i64) -> Result<TxnBody, ErrorCode> {
    if create_null_fault(v.ctx, &a) {
        return Err(ErrorCode::MarshallingError);
    }
    let mode = CreateMode::from_flags(a.flags)?;
    if mode.ttl && !v.ctx.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    // EphemeralType.validateTTL
    if mode.ttl {
        if a.ttl <= 0 || a.ttl > tree::MAX_TTL {
            return Err(ErrorCode::BadArguments);
        }
    } else if a.ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    v.ctx.check_session()?;
    if a.op == OpCode::CreateTtl && !mode.ttl {
        // Java 3.8 (and master) accepts this (ttl -1 passes validateTTL for a non-TTL mode)
        // and logs a CreateTTLTxn with ttl -1, which no server can apply: Java's own
        // standalone server dies applying it and then fails to start on the same log, and
        // its followers die likewise. We refuse it as the bad argument it is.
        return Err(ErrorCode::BadArguments);
    }
    let last_slash = match a.path.rfind('/') {
        Some(i) if !a.path.contains('\0') => i,
        _ => return Err(ErrorCode::BadArguments),
    };
    let parent_path = a.path[..last_slash].to_string();
    let acl =
        auth::fixup_acl(&a.acl, v.ctx.auth, v.ctx.auth_cfg).map_err(|_| ErrorCode::InvalidAcl)?;
    let parent = v.get(&parent_path)?;
    v.check_acl(&parent.acl, perms::CREATE)?;
    let pstat = parent.stat.clone().unwrap_or_default();
    let mut path = a.path;
    if mode.sequential {
        path.push_str(&format!("{:010}", pstat.cversion));
    }
    validate_path(&path)?;
    if v.get(&path).is_ok() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(
        tree::node_kind(pstat.ephemeral_owner, v.ctx.extended_types),
        NodeKind::Ephemeral(_)
    ) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    v.check_quota(&path, a.data.as_ref().map_or(0, |d| d.len() as i64), 1)?;
    let new_cversion = pstat.cversion.wrapping_add(1);
    let created_data = a.data.clone();
    let body = match a.op {
        OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
            path: path.clone(),
            data: a.data,
            acl: acl.clone(),
            parent_c_version: new_cversion,
        }),
        OpCode::CreateTtl => TxnBody::CreateTtl(CreateTTLTxn {
            path: path.clone(),
            data: a.data,
            acl: acl.clone(),
            parent_c_version: new_cversion,
            ttl: a.ttl,
        }),
        _ => TxnBody::Create(CreateTxn {
            path: path.clone(),
            data: a.data,
            acl: acl.clone(),
            ephemeral: mode.ephemeral,
            parent_c_version: new_cversion,
        }),
    };
    // The owner the node will have once the txn is applied: the txn type decides (a
    // CONTAINER mode sent with create/create2 makes a persistent node). Java's prep takes
    // it from the mode instead, so its predicted digest can disagree with its own tree in
    // that corner (a digest mismatch Java logs); ours matches the tree.
    let owner = match a.op {
        OpCode::CreateContainer => tree::CONTAINER_OWNER,
        OpCode::CreateTtl => tree::ttl_owner(a.ttl),
        _ if mode.ephemeral => v.ctx.session,
        _ => 0,
    };
    let parent_digest = record_digest(&parent_path, &parent);
    let mut p = parent;
    p.zxid = zxid;
    p.child_count += 1;
    if let Some(s) = p.stat.as_mut() {
        s.cversion = new_cversion;
        s.pzxid = zxid;
    }
    v.replace(&parent_path, parent_digest, p);
    let acl_list = std::sync::Arc::new(acl);
    // No live node at `path` (checked above): its old digest is 0.
    v.replace(
        &path,
        0,
        ChangeRecord {
            zxid,
            stat: Some(tree::created_stat(zxid, time_ms, owner)),
            child_count: 0,
            acl: acl_list,
            data: created_data,
        },
    );
    Ok(body)
}

fn prep_delete(v: &mut View, path: &str, version: i32, zxid: i64) -> Result<TxnBody, ErrorCode> {
    v.ctx.check_session()?;
    let parent_path = parent_for_delete(path)?;
    let parent = v.get(parent_path)?;
    v.check_acl(&parent.acl, perms::DELETE)?;
    let node = v.get(path)?;
    check_version(node.stat.as_ref().map_or(0, |s| s.version), version)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    record_removal(v, parent_path, parent, path, node, zxid);
    Ok(TxnBody::Delete(DeleteTxn {
        path: path.to_string(),
    }))
}

/// The change records of a delete: the parent loses a child (pzxid moves), the node goes.
fn record_removal(
    v: &mut View,
    parent_path: &str,
    mut parent: ChangeRecord,
    path: &str,
    node: ChangeRecord,
    zxid: i64,
) {
    parent.zxid = zxid;
    parent.child_count -= 1;
    if let Some(s) = parent.stat.as_mut() {
        s.pzxid = zxid;
    }
    v.put(parent_path, parent);
    v.put(
        path,
        ChangeRecord {
            zxid,
            stat: None,
            child_count: 0,
            acl: node.acl,
            data: None,
        },
    );
}

fn prep_set_data(
    v: &mut View,
    r: SetDataRequest,
    zxid: i64,
    time_ms: i64,
) -> Result<TxnBody, ErrorCode> {
    v.ctx.check_session()?;
    validate_path(&r.path)?;
    let mut node = v.get(&r.path)?;
    let old_digest = record_digest(&r.path, &node);
    v.check_acl(&node.acl, perms::WRITE)?;
    let len = |d: &Option<Bytes>| d.as_ref().map_or(0, |d| d.len() as i64);
    v.check_quota(&r.path, len(&r.data) - len(&node.data), 0)?;
    let s = node.stat.as_mut().expect("live record");
    let version = check_version(s.version, r.version)?;
    s.version = version;
    s.mtime = time_ms;
    s.mzxid = zxid;
    node.zxid = zxid;
    node.data = r.data.clone();
    v.replace(&r.path, old_digest, node);
    Ok(TxnBody::SetData(SetDataTxn {
        path: r.path,
        data: r.data,
        version,
    }))
}

fn prep_check(v: &mut View, r: CheckVersionRequest) -> Result<TxnBody, ErrorCode> {
    v.ctx.check_session()?;
    validate_path(&r.path)?;
    let node = v.get(&r.path)?;
    v.check_acl(&node.acl, perms::READ)?;
    let version = check_version(node.stat.as_ref().map_or(0, |s| s.version), r.version)?;
    Ok(TxnBody::Check(CheckVersionTxn {
        path: r.path,
        version,
    }))
}

fn prep_set_acl(
    v: &mut View,
    r: SetACLRequest,
    nulls: &OpNulls,
    zxid: i64,
) -> Result<TxnBody, ErrorCode> {
    v.ctx.check_session()?;
    validate_path(&r.path)?;
    if null_strings::acl_null_fault(&r.acl, &nulls.acl, v.ctx.auth, v.ctx.auth_cfg) {
        return Err(ErrorCode::MarshallingError);
    }
    let acl =
        auth::fixup_acl(&r.acl, v.ctx.auth, v.ctx.auth_cfg).map_err(|_| ErrorCode::InvalidAcl)?;
    let mut node = v.get(&r.path)?;
    v.check_acl(&node.acl, perms::ADMIN)?;
    let s = node.stat.as_mut().expect("live record");
    let version = check_version(s.aversion, r.version)?;
    s.aversion = version;
    node.zxid = zxid;
    node.acl = std::sync::Arc::new(acl.clone());
    v.put(&r.path, node);
    Ok(TxnBody::SetAcl(SetACLTxn {
        path: r.path,
        acl,
        version,
    }))
}

fn decode<T: Decode>(body: &mut Bytes) -> Result<T, ErrorCode> {
    T::decode(body).map_err(|_| ErrorCode::MarshallingError)
}

/// Prep one write request (`op` is its op code, `body` the bytes after the RequestHeader;
/// an op that is no write is refused as Unimplemented).
/// Returns the txn to log and apply, with the tree digest it leads to (what Java logs as
/// its TxnDigest; a failed write keeps the current digest); `pending` is updated with its
/// changes.
pub fn prep_write(
    ctx: &PrepContext,
    pending: &mut Pending,
    op: OpCode,
    cxid: i32,
    body: Bytes,
    zxid: i64,
    time_ms: i64,
) -> (Txn, TxnDigest) {
    let hdr = TxnHeader {
        client_id: ctx.session,
        cxid,
        zxid,
        time: time_ms,
        r#type: op.code(),
    };
    let mut v = View {
        ctx,
        pending,
        quota_exceeded: Vec::new(),
        local: HashMap::new(),
        local_order: Vec::new(),
        delta: 0,
        closes: false,
    };
    let result = prep_op(&mut v, ctx, op, body, zxid, time_ms);
    let txn = match result {
        Ok(body) => Txn { hdr, body },
        Err(code) => {
            v.rollback();
            Txn::error(hdr, code)
        }
    };
    let View {
        local,
        local_order,
        delta,
        quota_exceeded,
        closes,
        ..
    } = v;
    if closes {
        pending.closing.insert(ctx.session, zxid);
    }
    pending.quota_exceeded.extend(quota_exceeded);
    pending.digest = pending.digest.wrapping_add(delta);
    let mut local = local;
    pending.by_path.reserve(local_order.len());
    pending.order.reserve(local_order.len());
    for path in local_order {
        if let Some(rec) = local.remove(&path) {
            pending.order.push_back((zxid, path.clone()));
            pending.by_path.insert(path, rec);
        }
    }
    let digest = TxnDigest {
        version: crate::persist::digest::DIGEST_VERSION,
        tree_digest: pending.digest,
    };
    (txn, digest)
}

/// The txn body of write `op`, or the code it fails with.
fn prep_op(
    v: &mut View,
    ctx: &PrepContext,
    op: OpCode,
    mut body: Bytes,
    zxid: i64,
    time_ms: i64,
) -> Result<TxnBody, ErrorCode> {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            let nulls = null_strings::scan(op, &body).unwrap_or_default();
            let r: CreateRequest = decode(&mut body)?;
            prep_create(
                v,
                CreateArgs {
                    op,
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    ttl: -1,
                    nulls,
                },
                zxid,
                time_ms,
            )
        }
        OpCode::CreateTtl => {
            let nulls = null_strings::scan(op, &body).unwrap_or_default();
            let r: CreateTTLRequest = decode(&mut body)?;
            prep_create(
                v,
                CreateArgs {
                    op,
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    ttl: r.ttl,
                    nulls,
                },
                zxid,
                time_ms,
            )
        }
        OpCode::Delete => {
            if null_strings::scan(op, &body).is_some_and(|n| n.path) {
                ctx.check_session()?;
                return Err(ErrorCode::MarshallingError);
            }
            let r: DeleteRequest = decode(&mut body)?;
            prep_delete(v, &r.path, r.version, zxid)
        }
        OpCode::DeleteContainer => {
            let path = if ctx.compat.delete_container_is_a_record() {
                // Java 3.9's DeleteContainerRequest (org.apache.zookeeper, outside the Jute
                // IDL): one string.
                decode::<String>(&mut body)?
            } else {
                // Java 3.8.0: the raw bytes (a client's whole request buffer, or the
                // container manager's bare path).
                String::from_utf8_lossy(&body).into_owned()
            };
            let parent_path = parent_for_delete(&path)?;
            if ctx.compat.delete_container_is_a_record() {
                // Java 3.9.3 checks no ACL here, so any session may delete any childless
                // node that is not an ephemeral. Ours asks what delete asks: DELETE on the
                // parent (the container manager acts as super).
                let parent = v.get(parent_path)?;
                v.check_acl(&parent.acl, perms::DELETE)?;
            }
            let node = v.get(&path)?;
            if node.child_count > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            let owner = node.stat.as_ref().map_or(0, |s| s.ephemeral_owner);
            if matches!(
                tree::node_kind(owner, ctx.extended_types),
                NodeKind::Ephemeral(_)
            ) {
                return Err(ErrorCode::BadVersion);
            }
            let parent = v.get(parent_path)?;
            record_removal(v, parent_path, parent, &path, node, zxid);
            Ok(TxnBody::Delete(DeleteTxn { path }))
        }
        OpCode::SetData => {
            let r: SetDataRequest = decode(&mut body)?;
            prep_set_data(v, r, zxid, time_ms)
        }
        OpCode::SetAcl => {
            let nulls = null_strings::scan(op, &body).unwrap_or_default();
            let r: SetACLRequest = decode(&mut body)?;
            prep_set_acl(v, r, &nulls, zxid)
        }
        // A check outside a multi would be logged as a txn of type 13, which Java cannot read
        // back (its log and its followers stop); Java 3.8.6/3.9.3 refuse it (ZOOKEEPER-2623).
        OpCode::Check => Err(ErrorCode::Unimplemented),
        OpCode::Reconfig => {
            let _r: ReconfigRequest = decode(&mut body.clone())?;
            if !ctx.reconfig_enabled {
                return Err(ErrorCode::ReconfigDisabled);
            }
            ctx.check_session()?;
            // A standalone server is not a leader: Java answers Unimplemented.
            let Some(leader) = &ctx.leader else {
                return Err(ErrorCode::Unimplemented);
            };
            let req = reconfig::decode_request(&body).ok_or(ErrorCode::MarshallingError)?;
            let next = reconfig::next_config(leader, &req, zxid)?;
            let mut node = v.get(tree::CONFIG)?;
            v.check_acl(&node.acl, perms::WRITE)?;
            // A setData of /zookeeper/config with version -1 (the stat keeps -1).
            let data = Some(Bytes::from(reconfig::config_text(leader, &req, &next)));
            let s = node.stat.as_mut().expect("live record");
            s.version = -1;
            s.mtime = time_ms;
            s.mzxid = zxid;
            node.zxid = zxid;
            node.data = data.clone();
            v.put(tree::CONFIG, node);
            Ok(TxnBody::SetData(SetDataTxn {
                path: tree::CONFIG.to_string(),
                data,
                version: -1,
            }))
        }
        OpCode::Multi => {
            if null_strings::multi_has_null_path(&body) {
                return Err(ErrorCode::MarshallingError);
            }
            let nulls: Vec<OpNulls> = null_strings::scan_multi(&body)
                .map(|v| v.into_iter().map(|(_, n)| n).collect())
                .unwrap_or_default();
            let ops_ = jute::multi::decode_multi_request(&mut body)
                .map_err(|_| ErrorCode::MarshallingError)?;
            if ops_.iter().any(|o| o.is_read()) {
                // Java: "Mixing different kind of ops" while deserializing.
                return Err(ErrorCode::MarshallingError);
            }
            prep_multi(v, ops_, nulls, zxid, time_ms)
        }
        OpCode::CloseSession => Ok(prep_close_session(v, zxid)),
        OpCode::Notification
        | OpCode::Exists
        | OpCode::GetData
        | OpCode::GetAcl
        | OpCode::GetChildren
        | OpCode::Sync
        | OpCode::Ping
        | OpCode::GetChildren2
        | OpCode::CheckWatches
        | OpCode::RemoveWatches
        | OpCode::MultiRead
        | OpCode::Auth
        | OpCode::SetWatches
        | OpCode::Sasl
        | OpCode::GetEphemerals
        | OpCode::GetAllChildrenNumber
        | OpCode::SetWatches2
        | OpCode::AddWatch
        | OpCode::WhoAmI
        | OpCode::CreateSession
        | OpCode::Error => Err(ErrorCode::Unimplemented),
    }
}

/// The multi txn: each op prepped in turn against the changes of the ones before it; after
/// a failure the rest become RuntimeInconsistency and the earlier changes are dropped. An
/// error for the whole request (`Err`) is what Java's prep throws outside any single op.
fn prep_multi(
    v: &mut View,
    ops_: Vec<MultiOp>,
    nulls: Vec<OpNulls>,
    zxid: i64,
    time_ms: i64,
) -> Result<TxnBody, ErrorCode> {
    if v.ctx.compat.multi_keeps_create2() && ops_.iter().any(create_mode_refused_by_3_9) {
        // 3.9 builds each create's CreateMode while decoding the multi: an unknown mode,
        // or a TTL mode without a TTL, fails the whole request before any op is prepped.
        return Err(ErrorCode::MarshallingError);
    }
    let mut subs: Vec<(OpCode, TxnBody)> = Vec::with_capacity(ops_.len());
    let mut failed = false;
    let mut nulls = nulls.into_iter();
    for op in ops_ {
        let op_nulls = nulls.next().unwrap_or_default();
        if failed {
            subs.push((
                OpCode::Error,
                TxnBody::Error(ErrorTxn {
                    err: ErrorCode::RuntimeInconsistency.code(),
                }),
            ));
            continue;
        }
        // Java rebuilds each op from its flags: a create's op type follows its create mode.
        let r = match op {
            MultiOp::Create(_, r) if CreateMode::from_flags(r.flags).is_ok_and(|m| m.ttl) => {
                // Java makes this a TTL op whose request record is a plain CreateRequest:
                // the cast fails and the whole multi is MarshallingError. (Java also keeps
                // the earlier ops' pending changes by mistake; we drop them.)
                v.rollback();
                return Err(ErrorCode::MarshallingError);
            }
            MultiOp::Create(header_op, r) => {
                let ty = match CreateMode::from_flags(r.flags) {
                    Ok(m) if m.ttl => OpCode::CreateTtl,
                    Ok(m) if m.container => OpCode::CreateContainer,
                    // 3.9's Op.create keeps the header's op (create, create2 or
                    // createContainer) unless the mode says container or TTL.
                    Ok(_) if v.ctx.compat.multi_keeps_create2() => header_op,
                    _ => OpCode::Create,
                };
                let args = CreateArgs {
                    op: ty,
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    ttl: -1,
                    nulls: op_nulls,
                };
                if create_null_fault(v.ctx, &args) {
                    // Java's NullPointerException escapes the multi: the whole request fails.
                    v.rollback();
                    return Err(ErrorCode::MarshallingError);
                }
                (ty, prep_create(v, args, zxid, time_ms))
            }
            MultiOp::CreateTtl(r) => {
                // Without TTL flags Java makes it a plain create and ignores the ttl.
                let (ty, ttl) = match CreateMode::from_flags(r.flags) {
                    Ok(m) if m.container => (OpCode::CreateContainer, -1),
                    Ok(m) if !m.ttl => (OpCode::Create, -1),
                    _ => (OpCode::CreateTtl, r.ttl),
                };
                let args = CreateArgs {
                    op: ty,
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    ttl,
                    nulls: op_nulls,
                };
                if create_null_fault(v.ctx, &args) {
                    v.rollback();
                    return Err(ErrorCode::MarshallingError);
                }
                (ty, prep_create(v, args, zxid, time_ms))
            }
            MultiOp::Delete(r) => (OpCode::Delete, prep_delete(v, &r.path, r.version, zxid)),
            MultiOp::SetData(r) => (OpCode::SetData, prep_set_data(v, r, zxid, time_ms)),
            MultiOp::Check(r) => (OpCode::Check, prep_check(v, r)),
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                (OpCode::Error, Err(ErrorCode::MarshallingError))
            }
        };
        match r {
            (ty, Ok(body)) => subs.push((ty, body)),
            (_, Err(code)) => {
                failed = true;
                // Roll back this multi's changes.
                v.rollback();
                subs.push((OpCode::Error, TxnBody::Error(ErrorTxn { err: code.code() })));
            }
        }
    }
    Ok(TxnBody::Multi(subs))
}

/// A create sub-op (sent as create, create2 or createContainer) whose flags Java 3.9's
/// `MultiOperationRecord.deserialize` cannot turn into `CreateOptions`.
fn create_mode_refused_by_3_9(op: &MultiOp) -> bool {
    match op {
        MultiOp::Create(_, r) => CreateMode::from_flags(r.flags).map_or(true, |m| m.ttl),
        _ => false,
    }
}

/// closeSession: the session's ephemerals, those of the tree and those created by pending
/// txns, go. Only nodes this session owns as ephemerals: never a persistent node (owner 0),
/// a container or a TTL node, whatever session id the request carries.
///
/// The tree's ephemerals get no change record each: `Pending::closing` marks them all
/// deleted (their digests leave the tree digest here). Only paths with a pending record
/// get one of this txn, so that record says "deleted".
fn prep_close_session(v: &mut View, zxid: i64) -> TxnBody {
    let session = v.ctx.session;
    let ext = v.ctx.extended_types;
    let owns = |owner: i64| {
        owner == session && tree::node_kind(owner, ext) == NodeKind::Ephemeral(session)
    };
    if !owns(session) {
        return TxnBody::CloseSession(Some(CloseSessionTxn {
            paths2_delete: Vec::new(),
        }));
    }
    // An earlier close still pending has taken the tree's ephemerals already.
    let mut paths: Vec<String> = if v.pending.closing.contains_key(&session) {
        Vec::new()
    } else {
        v.ctx.tree.ephemerals_of(session).cloned().collect()
    };
    // Pending records (a set, not a scan per record: a session may own 100k nodes): a
    // listed node that a pending txn deleted (or deleted and another session re-created)
    // is not listed; one the session owns in its pending state (created, or changed) is
    // listed and gets this txn's record.
    let mut recorded: Vec<String> = Vec::new();
    if !v.pending.by_path.is_empty() {
        let mut gone: HashSet<String> = HashSet::new();
        let mut created: Vec<String> = Vec::new();
        {
            let listed: HashSet<&str> = paths.iter().map(String::as_str).collect();
            for (path, rec) in v.pending.records() {
                let owned = rec.stat.as_ref().is_some_and(|s| owns(s.ephemeral_owner));
                match (listed.contains(path.as_str()), owned) {
                    (true, true) => recorded.push(path.clone()),
                    (true, false) => {
                        gone.insert(path.clone());
                    }
                    (false, true) => created.push(path.clone()),
                    (false, false) => {}
                }
            }
        }
        if !gone.is_empty() {
            paths.retain(|p| !gone.contains(p));
        }
        recorded.extend(created.iter().cloned());
        paths.extend(created);
    }
    v.reserve(recorded.len() + 1);
    // The tree's nodes without a pending record: their digests leave the tree digest.
    let recorded_set: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let mut delta = 0i64;
    for p in &paths {
        if recorded_set.contains(p.as_str()) {
            continue;
        }
        if let Some(n) = v.ctx.tree.node(p) {
            delta = delta.wrapping_sub(crate::persist::digest::node_digest(p, *n.data, &n.stat));
        }
    }
    drop(recorded_set);
    v.delta = v.delta.wrapping_add(delta);
    v.closes = true;
    // As Java with digests on: each parent's pzxid moves, then the nodes go. Every change
    // of this txn has the same zxid, so a parent shared by many nodes is changed once.
    let mut parents: HashSet<&str> = HashSet::new();
    for p in &paths {
        let Ok(parent_path) = parent_for_delete(p) else {
            continue;
        };
        if parents.insert(parent_path) {
            if let Ok(mut parent) = v.get(parent_path) {
                parent.zxid = zxid;
                if let Some(s) = parent.stat.as_mut() {
                    s.pzxid = zxid;
                }
                v.put(parent_path, parent);
            }
        }
    }
    drop(parents);
    for p in &recorded {
        v.put(
            p,
            ChangeRecord {
                zxid,
                stat: None,
                child_count: 0,
                acl: std::sync::Arc::new(Vec::new()),
                data: None,
            },
        );
    }
    TxnBody::CloseSession(Some(CloseSessionTxn {
        paths2_delete: paths,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::ops;

    #[test]
    fn path_validation_matches_java() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/é", "/a b"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "a", "/a/", "//a", "/a//b", "/.", "/a/..", "/a\u{0}", "/\u{1}", "/\u{7f}",
        ] {
            assert_eq!(validate_path(bad), Err(ErrorCode::BadArguments), "{bad:?}");
        }
    }

    fn prep_one(tree: &DataTree, enforce_quota: bool, op: OpCode, body: Bytes) -> Txn {
        prep_as(CompatVersion::V3_9, tree, enforce_quota, op, body)
    }

    fn prep_as(
        compat: CompatVersion,
        tree: &DataTree,
        enforce_quota: bool,
        op: OpCode,
        body: Bytes,
    ) -> Txn {
        let auth = vec![AuthId::new("ip", "127.0.0.1")];
        let cfg = AuthConfig::default();
        let ctx = PrepContext {
            tree,
            session: 0x0100_0000_0000_0001,
            auth: &auth,
            auth_cfg: &cfg,
            extended_types: true,
            reconfig_enabled: false,
            enforce_quota,
            compat,
            session_error: None,
            leader: None,
        };
        let zxid = tree.last_zxid + 1;
        prep_write(&ctx, &mut Pending::default(), op, 1, body, zxid, 1000).0
    }

    /// Apply a create of a persistent node at the next zxid, straight to the tree.
    fn create_node(tree: &mut DataTree, path: &str, data: Option<Bytes>, acl: Vec<Acl>) {
        let txn = Txn {
            hdr: TxnHeader {
                client_id: 1,
                cxid: 1,
                zxid: tree.last_zxid + 1,
                time: 1,
                r#type: ops::CREATE,
            },
            body: TxnBody::Create(CreateTxn {
                path: path.into(),
                data,
                acl,
                ephemeral: false,
                parent_c_version: 0,
            }),
        };
        tree.apply(&txn, &mut Vec::new());
    }

    fn encoded<R: jute::Encode>(r: &R) -> Bytes {
        let mut b = bytes::BytesMut::new();
        r.encode(&mut b);
        b.freeze()
    }

    fn error_code(txn: &Txn) -> Option<ErrorCode> {
        match &txn.body {
            TxnBody::Error(e) => Some(ErrorCode::try_from(e.err).expect("a known code")),
            _ => None,
        }
    }

    /// deleteContainer from a client: 3.8 mode reads raw path bytes (a client's whole
    /// buffer never names a valid path); 3.9 mode reads a DeleteContainerRequest and, unlike
    /// Java 3.9.3, asks for DELETE on the parent as delete does.
    #[test]
    fn delete_container_reads_the_path_per_generation_and_needs_delete_on_the_parent() {
        let mut tree = DataTree::new(true);
        let read_only = vec![Acl {
            perms: perms::READ,
            id: jute::data::Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        create_node(&mut tree, "/sealed", None, read_only);
        create_node(&mut tree, "/sealed/leaf", None, tree::open_acl());
        create_node(&mut tree, "/open", None, tree::open_acl());
        create_node(&mut tree, "/open/leaf", None, tree::open_acl());
        let record = |path: &str| encoded(&path.to_string());
        let v39 = |body| {
            error_code(&prep_as(
                CompatVersion::V3_9,
                &tree,
                false,
                OpCode::DeleteContainer,
                body,
            ))
        };
        assert_eq!(v39(record("/sealed/leaf")), Some(ErrorCode::NoAuth));
        assert_eq!(v39(record("/open")), Some(ErrorCode::NotEmpty));
        assert_eq!(v39(record("/open/nope")), Some(ErrorCode::NoNode));
        assert_eq!(
            v39(Bytes::from_static(b"/open/leaf")),
            Some(ErrorCode::MarshallingError)
        );
        assert_eq!(v39(record("/open/leaf")), None);
        // 3.8 mode: raw bytes; a record's length prefix makes an invalid path.
        let v38 = |body| {
            error_code(&prep_as(
                CompatVersion::V3_8,
                &tree,
                false,
                OpCode::DeleteContainer,
                body,
            ))
        };
        assert_eq!(v38(record("/open/leaf")), Some(ErrorCode::BadArguments));
        assert_eq!(v38(Bytes::from_static(b"/open/leaf")), None);
    }

    /// The sub-txn types of a multi of creates sent as (header op, flags), and whether prep
    /// refused the whole multi.
    fn multi_create_types(
        compat: CompatVersion,
        ops: &[(OpCode, i32)],
    ) -> Result<Vec<OpCode>, ErrorCode> {
        let tree = DataTree::new(true);
        let ops: Vec<MultiOp> = ops
            .iter()
            .enumerate()
            .map(|(i, &(op, flags))| {
                MultiOp::Create(
                    op,
                    CreateRequest {
                        path: format!("/n{i}"),
                        data: None,
                        acl: tree::open_acl(),
                        flags,
                    },
                )
            })
            .collect();
        let mut b = bytes::BytesMut::new();
        jute::multi::encode_multi_request(&ops, &mut b);
        let txn = prep_as(compat, &tree, false, OpCode::Multi, b.freeze());
        match txn.body {
            TxnBody::Multi(subs) => Ok(subs.into_iter().map(|(ty, _)| ty).collect()),
            _ => Err(error_code(&txn).expect("a multi or an error")),
        }
    }

    #[test]
    fn create2_inside_multi_is_logged_as_create2_only_in_3_9() {
        use CompatVersion::{V3_8, V3_9};
        use OpCode::{Create, Create2, CreateContainer};
        let ops = [
            (Create2, 0),
            (Create, 1),
            (Create2, 4),
            (CreateContainer, 0),
        ];
        assert_eq!(
            multi_create_types(V3_9, &ops),
            Ok(vec![Create2, Create, CreateContainer, CreateContainer])
        );
        // 3.8.0 decays the header op to what the mode says: it never logs a type-15 sub-txn.
        assert_eq!(
            multi_create_types(V3_8, &ops),
            Ok(vec![Create, Create, CreateContainer, Create])
        );
        // An unknown mode: 3.9 refuses the whole multi while decoding it, 3.8 fails the op.
        assert_eq!(
            multi_create_types(V3_9, &[(Create, 0), (Create2, 7)]),
            Err(ErrorCode::MarshallingError)
        );
        assert_eq!(
            multi_create_types(V3_8, &[(Create, 0), (Create2, 7)]),
            Ok(vec![Create, OpCode::Error])
        );
    }

    #[test]
    fn create_ttl_with_a_non_ttl_mode_is_bad_arguments() {
        let tree = DataTree::new(true);
        for (flags, ttl, want) in [
            (0, -1, Some(ErrorCode::BadArguments)),
            (1, -1, Some(ErrorCode::BadArguments)),
            (4, -1, Some(ErrorCode::BadArguments)),
            (0, 5, Some(ErrorCode::BadArguments)),
            (5, 5, None),
        ] {
            let body = encoded(&CreateTTLRequest {
                path: "/t".into(),
                data: None,
                acl: tree::open_acl(),
                flags,
                ttl,
            });
            let txn = prep_one(&tree, false, OpCode::CreateTtl, body);
            assert_eq!(error_code(&txn), want, "flags {flags} ttl {ttl}");
        }
    }

    #[test]
    fn hard_quota_is_enforced_only_when_asked() {
        let mut tree = DataTree::new(true);
        let apply = |tree: &mut DataTree, path: &str, data: &str| {
            create_node(
                tree,
                path,
                Some(Bytes::from(data.to_string())),
                tree::open_acl(),
            )
        };
        apply(&mut tree, "/q", "");
        apply(&mut tree, "/zookeeper/quota/q", "");
        apply(
            &mut tree,
            "/zookeeper/quota/q/zookeeper_limits",
            "count=-1,bytes=-1=;byteHardLimit=4;countHardLimit=2",
        );
        apply(
            &mut tree,
            "/zookeeper/quota/q/zookeeper_stats",
            "count=0,bytes=0",
        );
        apply(&mut tree, "/q/a", "abc");
        let create = |path: &str| {
            encoded(&CreateRequest {
                path: path.into(),
                data: None,
                acl: tree::open_acl(),
                flags: 0,
            })
        };
        let set = |len: usize| {
            encoded(&SetDataRequest {
                path: "/q/a".into(),
                data: Some(Bytes::from(vec![b'x'; len])),
                version: -1,
            })
        };
        let q = Some(ErrorCode::QuotaExceeded);
        assert_eq!(
            error_code(&prep_one(&tree, true, OpCode::Create, create("/q/b"))),
            q
        );
        assert_eq!(
            error_code(&prep_one(&tree, false, OpCode::Create, create("/q/b"))),
            None
        );
        assert_eq!(
            error_code(&prep_one(&tree, true, OpCode::Create, create("/b"))),
            None
        );
        assert_eq!(
            error_code(&prep_one(&tree, true, OpCode::SetData, set(5))),
            q
        );
        assert_eq!(
            error_code(&prep_one(&tree, true, OpCode::SetData, set(4))),
            None
        );
    }

    #[test]
    fn create_modes() {
        assert!(CreateMode::from_flags(3).unwrap().ephemeral);
        assert!(CreateMode::from_flags(6).unwrap().sequential);
        assert_eq!(CreateMode::from_flags(7), Err(ErrorCode::BadArguments));
        assert_eq!(CreateMode::from_flags(-1), Err(ErrorCode::BadArguments));
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use crate::persist::digest::tree_digest;
    use bytes::BytesMut;
    use jute::Encode;

    /// A 3.9 prep context for `session` with quotas and reconfig off, as most tests want.
    fn ctx<'a>(
        tree: &'a DataTree,
        session: i64,
        auth: &'a [AuthId],
        cfg: &'a AuthConfig,
    ) -> PrepContext<'a> {
        PrepContext {
            tree,
            session,
            auth,
            auth_cfg: cfg,
            extended_types: true,
            reconfig_enabled: false,
            session_error: None,
            leader: None,
            enforce_quota: false,
            compat: CompatVersion::V3_9,
        }
    }

    fn body<R: Encode>(r: &R) -> Bytes {
        let mut b = BytesMut::new();
        r.encode(&mut b);
        b.freeze()
    }

    fn create(path: &str, flags: i32) -> (OpCode, Bytes) {
        let r = CreateRequest {
            path: path.into(),
            data: Some(Bytes::from(format!("data of {path}"))),
            acl: tree::open_acl(),
            flags,
        };
        (OpCode::Create2, body(&r))
    }

    /// The digest prep predicts for each txn equals the digest of the tree once the txn is
    /// applied, whether txns are applied at once or a few behind.
    #[test]
    fn close_session_lists_only_ephemerals_the_session_owns() {
        let mut tree = DataTree::new(true);
        let mut pending = Pending::default();
        let auth = vec![AuthId::new("ip", "127.0.0.1")];
        let cfg = AuthConfig::default();
        let create = |path: &str, flags: i32| {
            body(&CreateRequest {
                path: path.into(),
                data: None,
                acl: tree::open_acl(),
                flags,
            })
        };
        let s1 = 0x0100_0000_0000_0001;
        let mut ev = Vec::new();
        for (z, path, flags) in [(1, "/p", 0), (2, "/e", 1), (3, "/g", 1)] {
            let (txn, _) = prep_write(
                &ctx(&tree, s1, &auth, &cfg),
                &mut pending,
                OpCode::Create,
                1,
                create(path, flags),
                z,
                0,
            );
            tree.apply(&txn, &mut ev);
            pending.applied(z);
        }
        // Pending, not applied: a setData of persistent /p (owner 0), a container, and
        // another ephemeral of s1.
        let set_p = body(&SetDataRequest {
            path: "/p".into(),
            data: None,
            version: -1,
        });
        prep_write(
            &ctx(&tree, s1, &auth, &cfg),
            &mut pending,
            OpCode::SetData,
            2,
            set_p,
            4,
            0,
        );
        prep_write(
            &ctx(&tree, s1, &auth, &cfg),
            &mut pending,
            OpCode::CreateContainer,
            3,
            create("/k", 4),
            5,
            0,
        );
        prep_write(
            &ctx(&tree, s1, &auth, &cfg),
            &mut pending,
            OpCode::Create,
            4,
            create("/f", 1),
            6,
            0,
        );
        // A pending delete of s1's ephemeral /g: the close must not list it again.
        prep_write(
            &ctx(&tree, s1, &auth, &cfg),
            &mut pending,
            OpCode::Delete,
            5,
            body(&DeleteRequest {
                path: "/g".into(),
                version: -1,
            }),
            7,
            0,
        );
        let paths = |txn: Txn| match txn.body {
            TxnBody::CloseSession(Some(t)) => {
                let mut p = t.paths2_delete;
                p.sort();
                p
            }
            b => panic!("{b:?}"),
        };
        let (none, _) = prep_write(
            &ctx(&tree, 0, &auth, &cfg),
            &mut pending,
            OpCode::CloseSession,
            0,
            Bytes::new(),
            8,
            0,
        );
        assert_eq!(paths(none), Vec::<String>::new());
        let (own, _) = prep_write(
            &ctx(&tree, s1, &auth, &cfg),
            &mut pending,
            OpCode::CloseSession,
            0,
            Bytes::new(),
            9,
            0,
        );
        assert_eq!(paths(own), vec!["/e".to_string(), "/f".to_string()]);
    }

    #[test]
    fn predicted_digest_matches_the_applied_tree() {
        for lag in [0usize, 3] {
            let mut tree = DataTree::new(true);
            let mut pending = Pending {
                digest: tree_digest(&tree),
                ..Pending::default()
            };
            let auth = vec![AuthId::new("ip", "127.0.0.1")];
            let cfg = AuthConfig::default();
            let session = 0x0100_0000_0000_0001;
            let set = |p: &str, v: i32| {
                (
                    OpCode::SetData,
                    body(&SetDataRequest {
                        path: p.into(),
                        data: Some(Bytes::from_static(b"new")),
                        version: v,
                    }),
                )
            };
            let del = |p: &str| {
                (
                    OpCode::Delete,
                    body(&DeleteRequest {
                        path: p.into(),
                        version: -1,
                    }),
                )
            };
            let mut multi_ok = BytesMut::new();
            jute::multi::encode_multi_request(
                &[
                    MultiOp::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: "/m".into(),
                            data: None,
                            acl: tree::open_acl(),
                            flags: 0,
                        },
                    ),
                    MultiOp::SetData(SetDataRequest {
                        path: "/m".into(),
                        data: Some(Bytes::from_static(b"x")),
                        version: 0,
                    }),
                ],
                &mut multi_ok,
            );
            let mut multi_bad = BytesMut::new();
            jute::multi::encode_multi_request(
                &[
                    MultiOp::Delete(DeleteRequest {
                        path: "/m".into(),
                        version: -1,
                    }),
                    MultiOp::Check(CheckVersionRequest {
                        path: "/nope".into(),
                        version: 0,
                    }),
                ],
                &mut multi_bad,
            );
            let writes: Vec<(OpCode, Bytes)> = vec![
                create("/a", 0),
                create("/a/s-", 2),
                create("/a/e", 1),
                create("/a/es-", 3),
                create("/c", 4),
                create("/c/x", 0),
                set("/a", 0),
                set("/a", 7),    // BadVersion: error txn, digest unchanged
                create("/a", 0), // NodeExists
                (
                    OpCode::SetAcl,
                    body(&SetACLRequest {
                        path: "/a".into(),
                        acl: tree::open_acl(),
                        version: -1,
                    }),
                ),
                (OpCode::Multi, multi_ok.freeze()),
                (OpCode::Multi, multi_bad.freeze()),
                del("/c/x"),
                del("/a/s-0000000000"),
                (OpCode::CloseSession, Bytes::new()),
                create("/zookeeper/q", 0),
            ];
            let mut queue: VecDeque<(Txn, TxnDigest)> = VecDeque::new();
            let mut zxid = 0;
            let check = |tree: &mut DataTree, pending: &mut Pending, (txn, d): (Txn, TxnDigest)| {
                let mut ev = Vec::new();
                tree.apply(&txn, &mut ev);
                pending.applied(txn.hdr.zxid);
                assert_eq!(d.tree_digest, tree_digest(tree), "after {:?}", txn.hdr);
            };
            for (op, b) in writes {
                zxid += 1;
                let ctx = ctx(&tree, session, &auth, &cfg);
                queue.push_back(prep_write(&ctx, &mut pending, op, 1, b, zxid, 1000 + zxid));
                while queue.len() > lag {
                    let t = queue.pop_front().unwrap();
                    check(&mut tree, &mut pending, t);
                }
            }
            while let Some(t) = queue.pop_front() {
                check(&mut tree, &mut pending, t);
            }
            assert!(
                tree.node("/a/e").is_none(),
                "closeSession removed the ephemerals"
            );
        }
    }

    /// A closeSession prepped while other txns of its ephemerals are pending, and writes
    /// prepped after it that depend on it, all applied only afterwards: the close lists
    /// exactly the nodes the session owns then, later writes see its nodes gone, and the
    /// predicted digest equals one computed from scratch after every txn.
    #[test]
    fn close_session_races_pending_writes_of_its_ephemerals() {
        let mut tree = DataTree::new(true);
        let mut pending = Pending {
            digest: tree_digest(&tree),
            ..Pending::default()
        };
        let auth = vec![AuthId::new("ip", "127.0.0.1")];
        let cfg = AuthConfig::default();
        let (a, b) = (0x0100_0000_0000_0001, 0x0100_0000_0000_0002);
        let mut zxid = 0;
        let mut prep =
            |tree: &DataTree, pending: &mut Pending, s: i64, (op, body): (OpCode, Bytes)| {
                zxid += 1;
                prep_write(
                    &ctx(tree, s, &auth, &cfg),
                    pending,
                    op,
                    1,
                    body,
                    zxid,
                    1000 + zxid,
                )
            };
        let apply = |tree: &mut DataTree, pending: &mut Pending, (txn, d): (Txn, TxnDigest)| {
            tree.apply(&txn, &mut Vec::new());
            pending.applied(txn.hdr.zxid);
            assert_eq!(d.tree_digest, tree_digest(tree), "after {:?}", txn.hdr);
        };
        let set = |p: &str| {
            (
                OpCode::SetData,
                body(&SetDataRequest {
                    path: p.into(),
                    data: Some(Bytes::from_static(b"changed")),
                    version: -1,
                }),
            )
        };
        let del = |p: &str| {
            (
                OpCode::Delete,
                body(&DeleteRequest {
                    path: p.into(),
                    version: -1,
                }),
            )
        };
        let close = || (OpCode::CloseSession, Bytes::new());
        let t = prep(&tree, &mut pending, a, create("/p", 0));
        apply(&mut tree, &mut pending, t);
        for i in 0..10 {
            let t = prep(&tree, &mut pending, a, create(&format!("/p/a{i}"), 1));
            apply(&mut tree, &mut pending, t);
        }
        let mut queue = vec![
            prep(&tree, &mut pending, a, set("/p/a1")),
            prep(&tree, &mut pending, a, del("/p/a2")),
            prep(&tree, &mut pending, b, del("/p/a3")),
            prep(&tree, &mut pending, b, create("/p/a3", 1)),
            prep(&tree, &mut pending, a, create("/p/a10", 1)),
        ];
        let closing = prep(&tree, &mut pending, a, close());
        let mut listed = match &closing.0.body {
            TxnBody::CloseSession(Some(t)) => t.paths2_delete.clone(),
            b => panic!("{b:?}"),
        };
        listed.sort();
        let want: Vec<String> = [0, 1, 10, 4, 5, 6, 7, 8, 9]
            .iter()
            .map(|i| format!("/p/a{i}"))
            .collect();
        assert_eq!(listed, want);
        queue.push(closing);
        // Prepped after the close, before it is applied: its nodes are gone to them.
        let after = [
            (b, create("/p/a0", 0)),
            (b, create("/p/a1", 0)),
            (b, create("/p/a10", 0)),
            (b, set("/p/a5")),
            (a, close()),
        ];
        for (s, w) in after {
            queue.push(prep(&tree, &mut pending, s, w));
        }
        let errors: Vec<Option<ErrorCode>> = queue[6..]
            .iter()
            .map(|(t, _)| match &t.body {
                TxnBody::Error(e) => ErrorCode::try_from(e.err).ok(),
                _ => None,
            })
            .collect();
        assert_eq!(
            errors,
            vec![None, None, None, Some(ErrorCode::NoNode), None]
        );
        match &queue[10].0.body {
            TxnBody::CloseSession(Some(t)) => assert!(t.paths2_delete.is_empty()),
            b => panic!("{b:?}"),
        }
        for t in queue {
            apply(&mut tree, &mut pending, t);
        }
        assert!(pending.is_empty());
        let mut kids: Vec<(String, i64)> = tree
            .node("/p")
            .unwrap()
            .children
            .iter()
            .map(|n| {
                let p = format!("/p/{n}");
                let owner = tree.node(&p).unwrap().stat.ephemeral_owner;
                (p, owner)
            })
            .collect();
        kids.sort();
        let want = vec![
            ("/p/a0".to_string(), 0),
            ("/p/a1".to_string(), 0),
            ("/p/a10".to_string(), 0),
            ("/p/a3".to_string(), b),
        ];
        assert_eq!(kids, want);
        assert_eq!(tree.ephemerals_of(a).count(), 0);
    }
}
