//! The quorum side of the pipeline: a follower's or observer's forwarding to the leader
//! (writes, createSession, sync, revalidation; Java's `Learner.request`) and the answers that
//! come back, and a leader's handling of what its learners forward (Java's
//! `submitLearnerRequest`, `Leader.revalidateSession`).

use super::writes::Author;
use super::*;

impl Pipeline {
    /// A quorum member's write: forward it to the leader, answer when it comes back
    /// committed.
    pub(super) fn forward_write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: OpCode,
        mut body: Bytes,
    ) {
        if op == OpCode::DeleteContainer
            && body.len() >= 8
            && !self.cfg.compat_version.delete_container_is_a_record()
        {
            // In 3.8 mode `process` passes the whole frame for deleteContainer; forward
            // the body.
            body.advance(8);
        }
        if let Some(err) = prep::refused_before_forwarding(op, &body, self.cfg.compat_version) {
            self.refuse_in_order(conn, xid, op, body, err);
            return;
        }
        if op == OpCode::CloseSession {
            self.sessions.set_closing(session);
        }
        self.audit_submitted(conn, session, xid, op, &body);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.forwarded.insert(
            (session, xid),
            Waiter::Request {
                conn,
                xid,
                start_ms: self.now.mono_ms,
            },
        );
        let no_auth = Vec::new();
        let auth = self.conns.get(&conn).map_or(&no_auth[..], |c| c.auth.ids());
        let auth = auth.to_vec();
        self.out.push(Output::Forward {
            session,
            cxid: xid,
            op: op.code(),
            body,
            auth,
        });
    }

    /// A quorum member's `sync`: the leader answers with SYNC once every earlier commit
    /// has reached us.
    pub(super) fn forward_sync(&mut self, conn: ConnId, session: i64, xid: i32, body: Bytes) {
        let Ok(r) = SyncRequest::decode(&mut body.clone()) else {
            self.send(
                conn,
                reply_frame(xid, self.tree.last_zxid, error::MARSHALLING_ERROR, None),
            );
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending_writes += 1;
        }
        self.pending_syncs
            .push_back((conn, xid, r.path, self.now.mono_ms));
        let no_auth = Vec::new();
        let auth = self.conns.get(&conn).map_or(&no_auth[..], |c| c.auth.ids());
        let auth = auth.to_vec();
        self.out.push(Output::Forward {
            session,
            cxid: xid,
            op: ops::SYNC,
            body,
            auth,
        });
    }

    /// The leader's SYNC: answer the oldest forwarded `sync`.
    pub(super) fn synced(&mut self) {
        let Some((conn, xid, path, start_ms)) = self.pending_syncs.pop_front() else {
            warn!("SYNC from the leader without a pending sync");
            return;
        };
        let z = self.tree.last_zxid;
        let frame = reply_with(xid, z, &SyncResponse { path });
        let now = self.now.mono_ms;
        self.stats.record_request(now - start_ms, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats
                .record_response(xid, z, OpCode::Sync.last_op_name(), start_ms, now);
            c.write_done();
        }
        self.send(conn, frame);
        self.drain(conn);
    }

    /// Leader: a request a learner forwarded on leader connection `from` (Java's
    /// `submitLearnerRequest`), prepped like a local one with the auth ids it carries and the
    /// checks Java's PrepRequestProcessor makes: the session must be live and served by that
    /// learner (else SessionExpired / SessionMoved), ACLs against the carried auth ids, and
    /// deleteContainer's path read from the whole packet as Java reads it (so a client's is
    /// always BadArguments). Nobody here waits for it: the learner answers its client once
    /// the txn is committed.
    pub(super) fn learner_request(
        &mut self,
        from: u64,
        session: i64,
        cxid: i32,
        op: i32,
        body: Bytes,
        auth: Vec<AuthId>,
    ) {
        if session == 0 {
            // No client session has id 0: a learner that sends one is broken.
            warn!("learner request of type {op} without a session ignored");
            return;
        }
        match OpCode::try_from(op) {
            Ok(OpCode::CreateSession) => {
                let timeout = match body.get(..4) {
                    Some(b) => i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    None => self.cfg.min_session_timeout_ms as i32,
                };
                info!(
                    "creating global session {} with timeout {timeout} for a learner",
                    SessionId::from(session)
                );
                let txn = Txn {
                    hdr: self.next_header(session, cxid, OpCode::CreateSession),
                    body: TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
                };
                let digest = self.current_digest();
                self.commit(txn, digest, Waiter::Learner(from));
            }
            Ok(op) if op.is_write() => {
                // Java checks the session inside each op (closeSession and deleteContainer
                // do not check it); prep fails those ops with this code.
                let session_error = self
                    .sessions
                    .check_owner(session, SessionOwner::Learner(from))
                    .err();
                let body = if op == OpCode::DeleteContainer
                    && !self.cfg.compat_version.delete_container_is_a_record()
                {
                    // Java 3.8.0's leader takes the path from the packet's whole array:
                    // session id, cxid and type, then the body the learner forwarded.
                    let mut whole = BytesMut::with_capacity(16 + body.len());
                    whole.put_i64(session);
                    whole.put_i32(cxid);
                    whole.put_i32(op.code());
                    whole.extend_from_slice(&body);
                    whole.freeze()
                } else {
                    body
                };
                let (txn, digest) =
                    self.prep(Author::Ids(&auth), session, cxid, op, body, session_error);
                if op == OpCode::CloseSession {
                    self.sessions.set_closing(session);
                }
                self.commit(txn, digest, Waiter::Learner(from));
            }
            _ => warn!(
                "learner request of type {op} for session {} ignored",
                SessionId::from(session)
            ),
        }
    }

    /// Leader: a learner reports activity of `session` (its PING touch table).
    pub(super) fn touch_session(&mut self, session: i64) {
        let now = self.uptime_ms();
        self.sessions.touch(session, now);
    }

    /// Leader: a learner asks whether `session` is still valid (Java's
    /// `checkIfValidGlobalSession`: a touch that succeeds).
    pub(super) fn revalidate_session(&mut self, from: u64, session: i64) -> bool {
        let now = self.uptime_ms();
        // Java's `Leader.revalidateSession`: a valid session now belongs to that learner.
        self.sessions.touch(session, now)
            && self
                .sessions
                .set_owner(session, SessionOwner::Learner(from))
    }

    /// Apply a txn the leader committed; answer the waiting client if it is one of ours.
    pub(super) fn apply_committed(&mut self, txn: Txn) {
        self.last_zxid = self.last_zxid.max(txn.hdr.zxid);
        let waiter = self
            .forwarded
            .remove(&(txn.hdr.client_id, txn.hdr.cxid))
            .unwrap_or(Waiter::Server);
        self.apply(txn, waiter);
    }

    /// A learner applied the committed txn `zxid`: compare its tree with the digest the
    /// leader logged with it (Java's `DataTree.compareDigest`).
    pub(super) fn compare_digest(&mut self, zxid: i64, leader_digest: Option<i64>) {
        let Some(check) = self.digest_check.as_mut() else {
            return;
        };
        let lines = check.check(zxid, leader_digest, self.pending.digest, self.now.mono_ms);
        let n = check.take_mismatches();
        self.stats
            .add(crate::stats::Counter::DigestMismatchesCount, n);
        digest_check::log(lines);
    }
}
