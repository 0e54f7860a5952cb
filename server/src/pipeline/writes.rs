//! Writes: prep, the durability hand-off, apply, and the write replies (Java's
//! PrepRequestProcessor for the local ones, then FinalRequestProcessor).

use super::*;
use crate::persist::digest::DigestTracker;
use crate::reconfig::LeaderView;

/// Per-namespace write statistics of an applied txn (Java's DataTree.updateWriteStat: the
/// data length for creates and setData, 0 for deletes; nothing for what failed).
fn record_namespace_writes(stats: &mut ServerStats, body: &TxnBody, rc: &ApplyResult) {
    let len = |d: &Option<Bytes>| d.as_ref().map_or(0, |d| d.len() as i64);
    match body {
        _ if rc.err != 0 && !matches!(body, TxnBody::Multi(_)) => {}
        TxnBody::Create(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CreateContainer(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CreateTtl(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::Delete(t) => stats.record_namespace_write(&t.path, 0),
        TxnBody::SetData(t) => stats.record_namespace_write(&t.path, len(&t.data)),
        TxnBody::CloseSession(Some(t)) => {
            for p in &t.paths2_delete {
                stats.record_namespace_write(p, 0);
            }
        }
        TxnBody::Multi(subs) => {
            for ((_, sub), sub_rc) in subs.iter().zip(&rc.multi) {
                record_namespace_writes(stats, sub, sub_rc);
            }
        }
        _ => {}
    }
}

/// Whether a write failed because its session is served by another server (a SessionMoved
/// error txn, or a multi whose sub-txn failed so).
fn session_moved(body: &TxnBody) -> bool {
    match body {
        TxnBody::Error(e) => e.err == error::SESSION_MOVED,
        TxnBody::Multi(subs) => subs
            .iter()
            .any(|(_, t)| matches!(t, TxnBody::Error(e) if e.err == error::SESSION_MOVED)),
        _ => false,
    }
}

/// Whom a prepped write runs as.
pub(super) enum Author<'a> {
    /// A client connection's auth ids.
    Conn(ConnId),
    /// These ids (a learner's forwarded ones, the server's own).
    Ids(&'a [AuthId]),
}

impl Pipeline {
    pub(super) fn write(&mut self, conn: ConnId, session: i64, xid: i32, op: OpCode, body: Bytes) {
        if self.mode.is_learner() {
            return self.forward_write(conn, session, xid, op, body);
        }
        let kept = body.clone();
        let (txn, digest) = self.prep(Author::Conn(conn), session, xid, op, body, None);
        if self.cfg.compat_version.malformed_write_takes_no_zxid()
            && matches!(&txn.body, TxnBody::Error(e) if e.err == ErrorCode::MarshallingError.code())
            && prep::write_record_is_malformed(op, &kept)
        {
            // Java 3.9 read the record before taking a zxid: nothing to log.
            self.last_zxid -= 1;
            self.refuse_in_order(conn, xid, op, kept, ErrorCode::MarshallingError);
            return;
        }
        if op == OpCode::CloseSession {
            self.sessions.set_closing(session);
        }
        self.audit_submitted(conn, session, xid, op, &kept);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.commit(
            txn,
            digest,
            Waiter::Request {
                conn,
                xid,
                start_ms: self.now.mono_ms,
            },
        );
    }

    /// Answer a write with `err` and no txn, in the connection's order: behind its pending
    /// writes the request goes back to the connection's queue (which is empty while writes
    /// pass straight through) and comes round again once they are answered.
    pub(super) fn refuse_in_order(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        body: Bytes,
        err: ErrorCode,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.pending_writes > 0 {
            let mut frame = BytesMut::with_capacity(8 + body.len());
            frame.put_i32(xid);
            frame.put_i32(op.code());
            frame.extend_from_slice(&body);
            c.queued.push_back(frame.freeze());
            return;
        }
        // Java answers under the last zxid it handed out (its learners: applied).
        let z = if self.mode.is_learner() {
            self.tree.last_zxid
        } else {
            self.last_zxid
        };
        self.send(conn, reply_frame(xid, z, err.code(), None));
    }

    /// Hand a prepped txn out to be made durable ([`Output::Log`]); it is applied when
    /// [`Input::Durable`] reaches its zxid.
    pub(super) fn commit(&mut self, txn: Txn, digest: jute::txn::TxnDigest, waiter: Waiter) {
        for path in self.pending.take_quota_exceeded() {
            if let Some(ns) = crate::stats::top_namespace(&path) {
                self.stats.record_quota_exceeded(ns);
            }
        }
        // Java logs the digest of a tree without digests as 0.
        let logged = if self.digest_enabled {
            digest.tree_digest
        } else {
            0
        };
        self.pending.logged(txn.hdr.zxid, logged);
        let digest = self.digest_enabled.then_some(digest);
        debug_assert!(
            self.inflight
                .back()
                .is_none_or(|(t, _)| t.hdr.zxid < txn.hdr.zxid),
            "txns are handed out in zxid order"
        );
        let entry =
            crate::persist::txnlog::encode_entry_with(&mut self.log_scratch, &txn, digest.as_ref());
        if self.mode == Mode::Leader {
            // Java's Leader.propose: the proposal's data is this entry.
            self.proposal_sizes.set_last(entry.len() as i64);
        }
        self.out.push(Output::Log {
            zxid: txn.hdr.zxid,
            entry,
        });
        self.inflight.push_back((txn, waiter));
    }

    /// Every txn up to `zxid` is durable (logged, or committed by a quorum): apply them.
    pub(super) fn durable(&mut self, zxid: i64) {
        while self
            .inflight
            .front()
            .is_some_and(|(t, _)| t.hdr.zxid <= zxid)
        {
            let (txn, waiter) = self.inflight.pop_front().expect("front checked");
            self.apply(txn, waiter);
        }
    }

    /// Apply a durable txn, deliver its watch events, then answer whoever waits for it.
    pub(super) fn apply(&mut self, mut txn: Txn, waiter: Waiter) {
        self.snapshots.txns_since += 1;
        if self.snapshots.txns_since > self.snapshots.after {
            self.snapshot_now();
        }
        // Txns this server numbers rise by one; a learner applies what the leader committed,
        // in the leader's order.
        debug_assert!(
            if self.mode.is_learner() {
                txn.hdr.zxid > self.tree.last_zxid
            } else {
                txn.hdr.zxid == self.tree.last_zxid + 1
            },
            "txn {} applied after {} as {:?}",
            Zxid::from(txn.hdr.zxid),
            Zxid::from(self.tree.last_zxid),
            self.mode
        );
        let mut events = Vec::new();
        let ephemerals = self.audit_before_apply(&txn);
        let rc = if self.digest_check.is_some() && self.mode.is_learner() {
            // A learner keeps its tree's digest, to compare with the leader's.
            let mut tracker = DigestTracker::with_value(self.pending.digest);
            let rc = tracker.apply(&mut self.tree, &txn, &mut events);
            self.pending.digest = tracker.value();
            rc
        } else {
            self.tree.apply(&txn, &mut events)
        };
        record_namespace_writes(&mut self.stats, &txn.body, &rc);
        let client_write = matches!(waiter, Waiter::Request { .. });
        self.audit_applied(&txn, &rc, client_write, ephemerals);
        self.pending.applied(txn.hdr.zxid);
        match &txn.body {
            TxnBody::CreateSession(t) => {
                let now = self.uptime_ms();
                self.sessions.add(txn.hdr.client_id, t.time_out, now);
                let owner = match waiter {
                    Waiter::Handshake(_) => Some(SessionOwner::Local),
                    Waiter::Learner(from) => Some(SessionOwner::Learner(from)),
                    _ => None,
                };
                if let Some(owner) = owner {
                    self.sessions.set_owner(txn.hdr.client_id, owner);
                }
            }
            TxnBody::CloseSession(_) => self.sessions.remove(txn.hdr.client_id),
            _ => {}
        }
        if let TxnBody::CloseSession(Some(t)) = &mut txn.body {
            // A session's 100k paths are freed on another thread, not before the next read.
            let paths = std::mem::take(&mut t.paths2_delete);
            let n = paths.len();
            crate::drop_later::drop_later(paths, n);
        }
        self.deliver(events, txn.hdr.zxid);
        match waiter {
            Waiter::Request {
                conn,
                xid,
                start_ms,
            } => {
                if session_moved(&txn.body) {
                    // Java's FinalRequestProcessor: SessionMoved is a connection-level error,
                    // answered by closing the connection (ZOOKEEPER-710).
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.write_done();
                    }
                    info!(
                        "session {} moved to another server; closing its old connection",
                        SessionId::from(txn.hdr.client_id)
                    );
                    self.close(conn);
                    return;
                }
                let frame = self.write_reply(&rc, xid);
                let now = self.now.mono_ms;
                let z = self.tree.last_zxid;
                self.stats.record_request(now - start_ms, true);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.stats
                        .record_response(xid, z, op_name(txn.hdr.r#type), start_ms, now);
                    c.write_done();
                }
                self.send(conn, frame);
                if txn.hdr.r#type == ops::CLOSE_SESSION {
                    self.close(conn);
                }
                self.drain(conn);
            }
            Waiter::Handshake(conn) => {
                self.finish_session(conn, txn.hdr.client_id, true);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.write_done();
                }
                self.drain(conn);
            }
            Waiter::Server | Waiter::Learner(_) => {
                if txn.hdr.r#type == ops::CLOSE_SESSION {
                    if let Some(conn) = self.session_conn.get(&txn.hdr.client_id).copied() {
                        self.close(conn);
                    }
                }
            }
        }
    }

    /// Queue watch notifications of the change made by txn `zxid`, each only to a
    /// connection that may read the node (CVE-2024-23944), before any reply of the write
    /// that fired them. Their header carries that zxid in 3.9 mode, -1 in 3.8 mode.
    pub(super) fn deliver(&mut self, events: Vec<crate::tree::Notification>, zxid: i64) {
        let header_zxid = self.cfg.compat_version.notification_zxid(zxid);
        for (conn, ev, acl) in events {
            let Some(c) = self.conns.get(&conn) else {
                continue;
            };
            if !auth::check_acl(&acl, jute::ops::perms::READ, c.auth.ids(), &self.auth_cfg) {
                continue;
            }
            let frame = reply_with(
                ops::XID_NOTIFICATION,
                header_zxid,
                &WatcherEvent {
                    r#type: ev.kind.code(),
                    state: 3,
                    path: ev.path,
                },
            );
            self.send(conn, frame);
        }
    }

    pub(super) fn write_reply(&self, rc: &ApplyResult, xid: i32) -> Bytes {
        let z = self.tree.last_zxid;
        if rc.op == OpCode::Error || (rc.err != 0 && rc.op != OpCode::Multi) {
            return reply_frame(xid, z, rc.err, None);
        }
        let stat = || rc.stat.clone().unwrap_or_default();
        match rc.op {
            OpCode::Create => reply_with(
                xid,
                z,
                &CreateResponse {
                    path: rc.path.clone(),
                },
            ),
            OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => reply_with(
                xid,
                z,
                &Create2Response {
                    path: rc.path.clone(),
                    stat: stat(),
                },
            ),
            OpCode::SetData | OpCode::Check => {
                reply_with(xid, z, &SetDataResponse { stat: stat() })
            }
            OpCode::SetAcl => reply_with(xid, z, &SetACLResponse { stat: stat() }),
            // Java's FinalRequestProcessor: the new config and the config node's stat.
            OpCode::Reconfig => reply_with(
                xid,
                z,
                &GetDataResponse {
                    data: self
                        .tree
                        .node(crate::tree::CONFIG)
                        .and_then(|n| n.data.to_bytes()),
                    stat: stat(),
                },
            ),
            OpCode::Multi => {
                let results: Vec<MultiResult> = rc
                    .multi
                    .iter()
                    .map(|r| match r.op {
                        OpCode::Check => MultiResult::Check,
                        OpCode::Create => MultiResult::Create(r.path.clone()),
                        OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                            MultiResult::Create2(r.path.clone(), r.stat.clone().unwrap_or_default())
                        }
                        OpCode::Delete | OpCode::DeleteContainer => MultiResult::Delete,
                        OpCode::SetData => MultiResult::SetData(r.stat.clone().unwrap_or_default()),
                        _ => MultiResult::Error(r.err),
                    })
                    .collect();
                reply_frame(
                    xid,
                    z,
                    0,
                    Some(&|b: &mut BytesMut| jute::multi::encode_multi_response(&results, b)),
                )
            }
            // delete, deleteContainer, reconfig, createSession, closeSession: no body.
            _ => reply_frame(xid, z, 0, None),
        }
    }

    /// Prep the write `op` of `session` into the next txn (Java's PrepRequestProcessor),
    /// checked as `author` against the tree and the pending changes; `session_error` fails
    /// the ops that check their session (Java's checkSession).
    pub(super) fn prep(
        &mut self,
        author: Author,
        session: i64,
        cxid: i32,
        op: OpCode,
        body: Bytes,
        session_error: Option<ErrorCode>,
    ) -> (Txn, jute::txn::TxnDigest) {
        self.last_zxid += 1;
        let auth = match author {
            Author::Conn(conn) => self.conns.get(&conn).map_or(&[][..], |c| c.auth.ids()),
            Author::Ids(ids) => ids,
        };
        let leader = match (&self.mode, &self.quorum_configs) {
            (Mode::Leader, Some(configs)) => Some(self.leader_view(configs)),
            _ => None,
        };
        let ctx = PrepContext {
            leader,
            tree: &self.tree,
            session,
            auth,
            auth_cfg: &self.auth_cfg,
            extended_types: self.cfg.extended_types_enabled,
            reconfig_enabled: self.cfg.reconfig_enabled,
            session_error,
            enforce_quota: self.cfg.enforce_quota,
            compat: self.cfg.compat_version,
        };
        let (zxid, time_ms) = (self.last_zxid, self.now.wall_ms);
        let prepped = prep::prep_write(&ctx, &mut self.pending, op, cxid, body, zxid, time_ms);
        if let (TxnBody::SetData(t), Some(configs)) = (&prepped.0.body, &mut self.quorum_configs) {
            if op == OpCode::Reconfig {
                // The proposed config is the last seen one until it commits: another
                // reconfig meanwhile gets ReconfigInProgress.
                let text = String::from_utf8_lossy(t.data.as_deref().unwrap_or_default());
                match zk_quorum::verifier::QuorumMaj::parse_java_string(&text) {
                    Ok(next) => configs.last_seen = next,
                    Err(e) => tracing::warn!("a prepped reconfig has a bad config: {e}"),
                }
            }
        }
        prepped
    }

    /// What reconfig's checks need of a leader: its configs, and itself with the synced
    /// followers (Java's `forwardingFollowers` that are synced).
    fn leader_view<'a>(&self, configs: &'a crate::reconfig::Configs) -> LeaderView<'a> {
        let synced = self
            .learners
            .learners
            .iter()
            .filter(|l| l.synced && !l.observer)
            .map(|l| l.sid)
            .chain(self.cfg.my_id.map(|id| id as i64))
            .collect();
        LeaderView {
            committed: &configs.committed,
            last_seen: &configs.last_seen,
            synced,
            standalone_enabled: self.cfg.standalone_enabled,
        }
    }

    /// The header of the next txn, for those not prepped from a request (createSession).
    pub(super) fn next_header(&mut self, session: i64, cxid: i32, op: OpCode) -> TxnHeader {
        self.last_zxid += 1;
        TxnHeader {
            client_id: session,
            cxid,
            zxid: self.last_zxid,
            time: self.now.wall_ms,
            r#type: op.code(),
        }
    }

    /// The tree digest once every prepped txn is applied.
    pub(super) fn current_digest(&self) -> jute::txn::TxnDigest {
        jute::txn::TxnDigest {
            version: crate::persist::digest::DIGEST_VERSION,
            tree_digest: self.pending.digest,
        }
    }

    /// A write the server issues itself (session expiry, container cleanup).
    pub(super) fn internal_write(&mut self, session: i64, op: OpCode, body: Bytes) {
        let ids = [AuthId::new(auth::SCHEME_SUPER, "")];
        let (txn, digest) = self.prep(Author::Ids(&ids), session, 0, op, body, None);
        self.commit(txn, digest, Waiter::Server);
    }

    /// A learner: the leader logged the txn `zxid` with this tree digest (what ours is once
    /// it is applied, as the leader checked); kept for the digest log as if prepared here.
    pub(super) fn leader_digest(&mut self, zxid: i64, digest: Option<i64>) {
        if let Some(d) = digest {
            self.pending
                .logged(zxid, if self.digest_enabled { d } else { 0 });
        }
    }
}
