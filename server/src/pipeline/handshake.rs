//! The handshake: a ConnectRequest, and a new session's creation or a reconnecting
//! session's revalidation (Java's `processConnectRequest`, `reopenSession`).

use super::*;

impl Pipeline {
    pub(super) fn connect(&mut self, conn: ConnId, addr: SocketAddr, frame: Bytes) {
        self.stats.packet_received(frame.len() as u64 + 4);
        let c = match Connect::decode(frame) {
            Ok(c) => c,
            Err(e) => {
                warn!(%addr, "closing connection: bad ConnectRequest: {e}");
                self.out.push(Output::Close { conn });
                return;
            }
        };
        if c.read_only.is_none() {
            warn!(%addr, "Connection request from old client; will be dropped if server is in r-o mode");
        }
        if self.mode == Mode::ReadOnly && c.read_only != Some(true) {
            info!(
                "Refusing session request for not-read-only client {}",
                java_addr(&addr)
            );
            self.out.push(Output::Close { conn });
            return;
        }
        let req = &c.request;
        if req.last_zxid_seen > self.tree.last_zxid {
            info!(
                "Refusing session({}) request for client {} as it has seen zxid 0x{:x} our last \
                 zxid is 0x{:x} client must try another server",
                SessionId::from(req.session_id),
                java_addr(&addr),
                req.last_zxid_seen,
                self.tree.last_zxid
            );
            self.out.push(Output::Close { conn });
            return;
        }
        let timeout = req.time_out.clamp(
            self.cfg.min_session_timeout_ms as i32,
            self.cfg.max_session_timeout_ms as i32,
        );
        self.conns.insert(
            conn,
            Conn {
                addr,
                session: 0,
                auth: AuthInfo::for_connection(&addr),
                read_only: c.read_only,
                timeout_ms: timeout,
                stats: {
                    let mut st = ConnStats::new(self.now.wall_ms);
                    st.packet_received();
                    st
                },
                pending_writes: 0,
                queued: VecDeque::new(),
                unsent: BytesMut::new(),
                expiry_bucket: 0,
                sasl: None,
            },
        );
        self.touch_cnxn(conn);
        if req.session_id == 0 && self.mode.is_learner() {
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new session {} with timeout {timeout} (forwarded to the leader)", SessionId::from(id));
            if let Some(c) = self.conns.get_mut(&conn) {
                c.pending_writes += 1;
            }
            self.forwarded.insert((id, 0), Waiter::Handshake(conn));
            let body = Bytes::copy_from_slice(&timeout.to_be_bytes());
            self.out.push(Output::Forward {
                session: id,
                cxid: 0,
                op: ops::CREATE_SESSION,
                body,
                auth: Vec::new(),
            });
        } else if req.session_id == 0 && self.mode == Mode::ReadOnly {
            // A local session: nothing is logged.
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new read-only session {} with timeout {timeout}", SessionId::from(id));
            let now = self.uptime_ms();
            self.sessions.add(id, timeout, now);
            self.finish_session(conn, id, true);
        } else if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            info!(%addr, "creating new session {} with timeout {timeout}", SessionId::from(id));
            let txn = Txn {
                hdr: self.next_header(id, 0, OpCode::CreateSession),
                body: TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
            };
            if let Some(c) = self.conns.get_mut(&conn) {
                c.pending_writes += 1;
            }
            let digest = self.current_digest();
            self.commit(txn, digest, Waiter::Handshake(conn));
        } else {
            let id = req.session_id;
            // Java first closes any other connection of this session (client reconnect),
            // whether or not the password turns out to be right.
            if let Some(old) = self.session_conn.get(&id).copied() {
                if old != conn {
                    info!(
                        "closing old connection of session {} (client reconnected)",
                        SessionId::from(id)
                    );
                    self.close(old);
                }
            }
            let pw_ok = req
                .passwd
                .as_ref()
                .is_some_and(|p| p[..] == session_id::session_password(id)[..]);
            if pw_ok && self.mode.is_learner() {
                // A follower asks the leader (Learner.validateSession).
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pending_writes += 1;
                }
                self.revalidating.push((id, conn));
                self.out.push(Output::Revalidate {
                    session: id,
                    timeout_ms: timeout,
                });
                return;
            }
            let now = self.uptime_ms();
            let valid = pw_ok && self.sessions.touch(id, now);
            if valid {
                self.sessions.set_timeout(id, timeout);
                self.sessions.touch(id, now);
                // Java's reopenSession: the session is served here now.
                self.sessions.set_owner(id, SessionOwner::Local);
            } else if !pw_ok {
                info!(%addr, "invalid password for session {}", SessionId::from(id));
            } else {
                info!(%addr, "invalid session {} (expired or unknown)", SessionId::from(id));
            }
            self.finish_session(conn, id, valid);
        }
    }

    pub(super) fn finish_session(&mut self, conn: ConnId, id: i64, valid: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: if valid { c.timeout_ms } else { 0 },
            session_id: if valid { id } else { 0 },
            passwd: Some(Bytes::copy_from_slice(&if valid {
                session_id::session_password(id)
            } else {
                [0u8; 16]
            })),
        };
        let mut b = BytesMut::with_capacity(48);
        let ro = c.read_only.map(|_| self.mode == Mode::ReadOnly);
        write_frame(&mut b, |b| encode_connect_response(&resp, ro, b));
        self.send(conn, b.freeze());
        if valid {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = id;
            }
            self.session_conn.insert(id, conn);
        } else {
            if let Some(c) = self.conns.get(&conn) {
                info!(
                    "Invalid session {} for client {}, probably expired",
                    SessionId::from(id),
                    java_addr(&c.addr)
                );
            }
            self.close(conn);
        }
    }

    /// The leader's answer to a REVALIDATE of `session`.
    pub fn revalidated(&mut self, session: i64, valid: bool) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.revalidating)
            .into_iter()
            .partition(|(s, _)| *s == session);
        self.revalidating = rest;
        for (_, conn) in done {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            c.write_done();
            let timeout = c.timeout_ms;
            if valid {
                let now = self.uptime_ms();
                if self.sessions.get(session).is_some() {
                    self.sessions.set_timeout(session, timeout);
                    self.sessions.touch(session, now);
                } else {
                    self.sessions.add(session, timeout, now);
                }
            } else {
                info!(
                    "invalid session {} (the leader says it expired)",
                    SessionId::from(session)
                );
            }
            self.finish_session(conn, session, valid);
            self.drain(conn);
        }
    }
}

/// A client's address as Java's `InetSocketAddress.toString` prints it in log lines
/// (`/127.0.0.1:50412`).
fn java_addr(addr: &SocketAddr) -> String {
    format!("/{}:{}", auth::java_host_address(addr), addr.port())
}
