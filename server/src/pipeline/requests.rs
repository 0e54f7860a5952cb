//! The dispatch of one request after the handshake: session checks, enforce.auth, auth and
//! SASL packets, read-only mode, then a read, a write or a forwarded op.

use super::*;

impl Pipeline {
    pub(super) fn process(&mut self, conn: ConnId, mut frame: Bytes) {
        let whole = frame.clone();
        let hdr = match RequestHeader::decode(&mut frame) {
            Ok(h) => h,
            Err(e) => {
                warn!(conn, "closing connection: bad request header: {e}");
                self.close(conn);
                return;
            }
        };
        let (session, addr) = match self.conns.get_mut(&conn) {
            Some(c) => (c.session, c.addr),
            None => return,
        };
        if session == 0 {
            // `request` holds frames back until the handshake is done.
            warn!(
                conn,
                "closing connection: request of type {} before its session exists", hdr.r#type
            );
            self.close(conn);
            return;
        }
        if !self.auth_enforced(conn, &hdr) {
            return;
        }
        // The wire number becomes an OpCode here; `None` is a number that is no op code.
        // 3.9 counts a bare check among the op codes it does not accept (`Request.isValid`).
        let op = OpCode::try_from(hdr.r#type)
            .ok()
            .filter(|&op| op != OpCode::Check || !self.cfg.compat_version.bare_check_is_invalid());
        let now = self.uptime_ms();
        if !self.sessions.touch(session, now) && op != Some(OpCode::CloseSession) {
            // The session expired or is closing: Java drops the connection.
            debug!(
                "request on dead session {}; closing",
                SessionId::from(session)
            );
            self.close(conn);
            return;
        }
        // Only a leader's sessions can be owned elsewhere (a standalone server has no learners,
        // on a learner the leader checks), so nothing else pays for the lookup.
        if self.mode == Mode::Leader
            && op != Some(OpCode::CloseSession)
            && self.sessions.check_owner(session, SessionOwner::Local)
                == Err(error::ErrorCode::SessionMoved)
        {
            // Java's PrepRequestProcessor.checkSession on a leader: the client reconnected to
            // another server; this connection is stale, and SessionMoved closes it.
            info!(
                "session {} moved to another server; closing its old connection",
                SessionId::from(session)
            );
            self.close(conn);
            return;
        }
        if self.mode.is_learner() {
            let timeout_ms = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
            self.out.push(Output::Touch {
                session,
                timeout_ms,
            });
        }
        if self.mode == Mode::ReadOnly {
            match op {
                Some(OpCode::CloseSession) => {
                    // A local session: closed here, nothing to log.
                    self.close_local_session(session);
                    let z = self.tree.last_zxid;
                    self.send(conn, reply_frame(hdr.xid, z, 0, None));
                    self.close(conn);
                    return;
                }
                Some(op @ (OpCode::Sync | OpCode::DeleteContainer)) => {
                    return self.not_read_only(conn, hdr.xid, op);
                }
                Some(op) if op.is_write() => return self.not_read_only(conn, hdr.xid, op),
                _ => {}
            }
        }
        match op {
            Some(OpCode::Sync) if self.mode.is_learner() => {
                self.forward_sync(conn, session, hdr.xid, frame)
            }
            Some(OpCode::Ping) => {
                self.record_read(conn, ops::XID_PING, OpCode::Ping);
                let z = self.last_zxid();
                self.send(conn, reply_frame(ops::XID_PING, z, 0, None));
            }
            Some(OpCode::Auth) => self.auth(conn, hdr.xid, frame, addr),
            Some(OpCode::Sasl) => self.sasl(conn, hdr.xid, frame),
            // Java 3.8.0 takes deleteContainer's path from the whole request buffer, header
            // included, so a client's deleteContainer is always BadArguments there; 3.9
            // reads a DeleteContainerRequest from the body.
            Some(OpCode::DeleteContainer) => {
                let body = if self.cfg.compat_version.delete_container_is_a_record() {
                    frame
                } else {
                    whole
                };
                self.write(conn, session, hdr.xid, OpCode::DeleteContainer, body)
            }
            Some(op) if op.is_client_request() && op.is_write() => {
                self.write(conn, session, hdr.xid, op, frame)
            }
            Some(op) if op.is_client_request() => self.read(conn, hdr.xid, op, frame),
            _ => {
                warn!("Received packet at server of unknown type {}", hdr.r#type);
                self.send(conn, reply_frame(hdr.xid, -1, error::UNIMPLEMENTED, None));
                self.close(conn);
            }
        }
    }

    /// `enforce.auth.enabled` (Java's `AuthenticationHelper.enforceAuthentication`, run on
    /// every request but auth and sasl): a connection with no id of an enforced scheme gets
    /// SessionClosedRequireSaslAuth (-124, zxid 0) and is closed, before its request touches
    /// the session or runs. The session itself lives on until it expires, as in Java.
    pub(super) fn auth_enforced(&mut self, conn: ConnId, hdr: &RequestHeader) -> bool {
        let (Some(schemes), Some(c)) = (&self.cfg.enforce_auth_schemes, self.conns.get(&conn))
        else {
            return true;
        };
        if matches!(
            OpCode::try_from(hdr.r#type),
            Ok(OpCode::Auth | OpCode::Sasl)
        ) || auth::passes_enforced_auth(c.auth.ids(), schemes)
        {
            return true;
        }
        let have: Vec<&str> = c.auth.iter().map(|id| id.scheme.as_str()).collect();
        error!(
            "Client authentication scheme(s) {have:?} does not match with any of the expected \
             authentication scheme {schemes:?}, closing session."
        );
        let frame = reply_frame(hdr.xid, 0, error::SESSION_CLOSED_REQUIRE_SASL, None);
        self.send(conn, frame);
        self.close(conn);
        false
    }

    /// A write (or sync) on a read-only server (Java's ReadOnlyRequestProcessor).
    pub(super) fn not_read_only(&mut self, conn: ConnId, xid: i32, op: OpCode) {
        let z = self.tree.last_zxid;
        let start = self.now.mono_ms;
        self.stats.record_request(0, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats
                .record_response(xid, z, op.last_op_name(), start, start);
        }
        self.send(conn, reply_frame(xid, z, error::NOT_READ_ONLY, None));
    }

    /// Forget a read-only (local) session and its watches.
    pub(super) fn close_local_session(&mut self, session: i64) {
        info!("closing read-only session {}", SessionId::from(session));
        self.sessions.remove(session);
        self.session_conn.remove(&session);
    }

    pub(super) fn auth(&mut self, conn: ConnId, xid: i32, mut frame: Bytes, addr: SocketAddr) {
        let result = AuthPacket::decode(&mut frame).ok().and_then(|p| {
            auth::authenticate(
                &p.scheme,
                p.auth.as_deref().unwrap_or(&[]),
                &addr,
                &self.auth_cfg,
            )
            .ok()
        });
        match result {
            Some(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        c.auth.add(id);
                    }
                }
                self.send(conn, reply_frame(xid, 0, 0, None));
            }
            None => {
                warn!(%addr, "authentication failed");
                self.send(conn, reply_frame(xid, 0, error::AUTH_FAILED, None));
                self.close(conn);
            }
        }
    }

    /// A SASL token (op 102): Java's `ZooKeeperServer.processSasl`. The connection's
    /// mechanism evaluates it and the reply carries the server's next token (OK, zxid 0); once
    /// the exchange completes the connection gains a `sasl` id (and `super` for a
    /// `zookeeper.superUser`). A failed step answers AuthFailed, or
    /// SessionClosedRequireSaslAuth when SASL is enforced, with no token, and closes the
    /// connection, unless `allowSaslFailedClients` (and SASL not enforced) keeps it with an
    /// empty OK. Without a SASL login Java finds no SASL server on the connection and answers
    /// OK with no token. A request it cannot read (or a null token) closes the connection.
    pub(super) fn sasl(&mut self, conn: ConnId, xid: i32, mut frame: Bytes) {
        let token = match GetSASLRequest::decode(&mut frame) {
            Ok(GetSASLRequest { token: Some(token) }) => token,
            _ => {
                warn!(conn, "closing connection: unreadable SASL request");
                self.close(conn);
                return;
            }
        };
        debug!("Size of client SASL token: {}", token.len());
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let (session, addr) = (c.session, c.addr);
        if c.sasl.is_none() {
            c.sasl = self.cfg.sasl.new_server(zk_quorum::sasl::random_bytes());
        }
        let Some(server) = c.sasl.as_mut() else {
            error!(
                "cnxn.saslServer is null: cnxn object did not initialize its saslServer properly."
            );
            self.send(conn, reply_with(xid, 0, &SetSASLResponse { token: None }));
            return;
        };
        let step = server.evaluate_response(&token).and_then(|response| {
            if !server.is_complete() {
                return Ok((response, None));
            }
            let authn = server.authentication_id().unwrap_or_default();
            let authz = server.authorization_id().unwrap_or_default();
            crate::sasl::authorized_id(&self.cfg.sasl, authn, authz)
                .map(|id| (response, Some(id)))
                .map_err(|e| {
                    zk_quorum::sasl::SaslError::runtime(format!(
                        "java.lang.IllegalArgumentException: {e}"
                    ))
                })
        });
        match step {
            Ok((response, authorized)) => {
                if let Some(id) = authorized {
                    info!(
                        "Session 0x{session:x}: adding SASL authorization for authorizationID: {id}"
                    );
                    let is_super = self.cfg.sasl.is_super_user(&id);
                    c.auth.add(AuthId::new(auth::SCHEME_SASL, id.clone()));
                    if is_super {
                        c.auth.add(AuthId::new(auth::SCHEME_SUPER, ""));
                        info!("Session 0x{session:x}: Authenticated Id '{id}' as super user");
                    }
                }
                debug!("Size of server SASL response: {}", response.len());
                let reply = SetSASLResponse {
                    token: Some(response.into()),
                };
                self.send(conn, reply_with(xid, 0, &reply));
            }
            Err(e) if e.runtime => {
                // Not a SaslException: Java's processSasl does not handle it and the
                // connection dies with it.
                warn!("Unexpected exception processing SASL from /{addr}: {e}; closing connection");
                self.close(conn);
            }
            Err(e) => {
                warn!("Client /{addr} failed to SASL authenticate: {e}");
                let sasl_required = self
                    .cfg
                    .enforce_auth_schemes
                    .as_ref()
                    .is_some_and(|s| s.iter().any(|s| s == auth::SCHEME_SASL));
                if self.cfg.sasl.allow_failed_clients && !sasl_required {
                    warn!("Maintaining client connection despite SASL authentication failure.");
                    self.send(conn, reply_with(xid, 0, &SetSASLResponse { token: None }));
                    return;
                }
                let code = if sasl_required {
                    // 3.8 spells it "authenticaiton".
                    let word = if self.cfg.compat_version.is_3_9() {
                        "authentication"
                    } else {
                        "authenticaiton"
                    };
                    warn!(
                        "Closing client connection due to server requires client SASL {word},but \
                         client SASL authentication has failed, or client is not configured with \
                         SASL authentication."
                    );
                    error::SESSION_CLOSED_REQUIRE_SASL
                } else {
                    warn!("Closing client connection due to SASL authentication failure.");
                    error::AUTH_FAILED
                };
                let body = |b: &mut BytesMut| SetSASLResponse { token: None }.encode(b);
                self.send(conn, reply_frame(xid, 0, code, Some(&body)));
                self.close(conn);
            }
        }
    }
}
