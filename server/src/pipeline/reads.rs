//! Reads and watch registration, answered from the tree in the session's FIFO order (Java's
//! FinalRequestProcessor for the read ops).

use super::*;

impl Pipeline {
    pub(super) fn read(&mut self, conn: ConnId, xid: i32, op: OpCode, mut body: Bytes) {
        let z = self.tree.last_zxid;
        let frame = match self.read_body(conn, op, &mut body) {
            Ok(Some(f)) => reply_frame(xid, z, 0, Some(&*f)),
            Ok(None) => reply_frame(xid, z, 0, None),
            Err(code) => reply_frame(xid, z, code.code(), None),
        };
        self.record_read(conn, xid, op);
        self.send(conn, frame);
    }

    /// Reads are answered at once: latency 0 ms, as Java measures within the server.
    pub(super) fn record_read(&mut self, conn: ConnId, xid: i32, op: OpCode) {
        let now = self.now.mono_ms;
        let z = self.tree.last_zxid;
        self.stats.record_request(0, false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.record_response(xid, z, op.last_op_name(), now, now);
        }
    }

    pub(super) fn check_read(
        &self,
        conn: ConnId,
        acl: &[jute::data::Acl],
        perm: i32,
    ) -> Result<(), ErrorCode> {
        let c = self.conns.get(&conn).ok_or(ErrorCode::SessionExpired)?;
        if auth::check_acl(acl, perm, c.auth.ids(), &self.auth_cfg) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    pub(super) fn get_data(
        &mut self,
        conn: ConnId,
        r: &GetDataRequest,
    ) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let n = self.tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
        self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
        let out = (n.data.to_bytes(), n.stat(self.tree.extended_types()));
        if r.watch {
            self.tree.watches.add(&r.path, conn, WatchKind::Data);
        }
        let len = out.0.as_ref().map_or(0, |d| d.len() as i64);
        self.stats.record_namespace_read(&r.path, len);
        Ok(out)
    }

    /// The child list of `path` in its wire form (jute `vector<ustring>`, Java's HashSet
    /// order) and the node's stat. The names go from the tree straight into one buffer: a
    /// 100k-child reply is one allocation, not 100k strings.
    pub(super) fn get_children(
        &mut self,
        conn: ConnId,
        path: &str,
        watch: bool,
    ) -> Result<(Bytes, Stat), ErrorCode> {
        let n = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
        let (children, utf16_units) = encode_names(&n.children.java_order());
        let stat = n.stat(self.tree.extended_types());
        if watch {
            self.tree.watches.add(path, conn, WatchKind::Child);
        }
        self.stats.record_namespace_read(path, utf16_units as i64);
        Ok((children, stat))
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn read_body(
        &mut self,
        conn: ConnId,
        op: OpCode,
        body: &mut Bytes,
    ) -> Result<Option<Box<dyn Fn(&mut BytesMut)>>, ErrorCode> {
        fn dec<T: Decode>(b: &mut Bytes) -> Result<T, ErrorCode> {
            T::decode(b).map_err(|_| ErrorCode::MarshallingError)
        }
        fn boxed<R: Encode + 'static>(r: R) -> Option<Box<dyn Fn(&mut BytesMut)>> {
            Some(Box::new(move |b: &mut BytesMut| r.encode(b)))
        }
        if let Some(code) = crate::null_strings::read_error(op, body, self.cfg.compat_version) {
            return Err(code);
        }
        match op {
            OpCode::Exists => {
                let r: ExistsRequest = dec(body)?;
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                if self.cfg.compat_version.exists_checks_read() {
                    if let Some(n) = self.tree.node(&r.path) {
                        self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
                    }
                }
                if r.watch {
                    self.tree.watches.add(&r.path, conn, WatchKind::Exist);
                }
                let n = self.tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
                let stat = n.stat(self.tree.extended_types());
                self.stats.record_namespace_read(&r.path, 0);
                Ok(boxed(ExistsResponse { stat }))
            }
            OpCode::GetData => {
                let r: GetDataRequest = dec(body)?;
                let (data, stat) = self.get_data(conn, &r)?;
                Ok(boxed(GetDataResponse { data, stat }))
            }
            OpCode::GetChildren => {
                let r: GetChildrenRequest = dec(body)?;
                let (children, _) = self.get_children(conn, &r.path, r.watch)?;
                Ok(Some(Box::new(move |b: &mut BytesMut| {
                    b.extend_from_slice(&children)
                })))
            }
            OpCode::GetChildren2 => {
                let r: GetChildren2Request = dec(body)?;
                let (children, stat) = self.get_children(conn, &r.path, r.watch)?;
                Ok(Some(Box::new(move |b: &mut BytesMut| {
                    b.extend_from_slice(&children);
                    stat.encode(b)
                })))
            }
            OpCode::GetAllChildrenNumber => {
                let r: GetAllChildrenNumberRequest = dec(body)?;
                let n = self.tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
                self.check_read(conn, &n.acl, jute::ops::perms::READ)?;
                Ok(boxed(GetAllChildrenNumberResponse {
                    total_number: self.tree.all_children_number(&r.path),
                }))
            }
            OpCode::GetAcl => {
                let r: GetACLRequest = dec(body)?;
                let n = self.tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
                self.check_read(
                    conn,
                    &n.acl,
                    jute::ops::perms::READ | jute::ops::perms::ADMIN,
                )?;
                let acl = if self
                    .check_read(conn, &n.acl, jute::ops::perms::ADMIN)
                    .is_ok()
                {
                    n.acl.to_vec()
                } else {
                    auth::redact_digests(&n.acl)
                };
                Ok(boxed(GetACLResponse {
                    acl,
                    stat: n.stat(self.tree.extended_types()),
                }))
            }
            OpCode::Sync => {
                let r: SyncRequest = dec(body)?;
                Ok(boxed(SyncResponse { path: r.path }))
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                let w = if op == OpCode::SetWatches {
                    let s: SetWatches = dec(body)?;
                    SetWatches2 {
                        relative_zxid: s.relative_zxid,
                        data_watches: s.data_watches,
                        exist_watches: s.exist_watches,
                        child_watches: s.child_watches,
                        ..Default::default()
                    }
                } else {
                    dec(body)?
                };
                self.set_watches(conn, w);
                Ok(None)
            }
            OpCode::AddWatch => {
                let r: AddWatchRequest = dec(body)?;
                let kind =
                    WatchKind::from_add_watch_mode(r.mode).ok_or(ErrorCode::MarshallingError)?;
                self.tree.watches.add(&r.path, conn, kind);
                Ok(boxed(ErrorResponse { err: 0 }))
            }
            OpCode::CheckWatches | OpCode::RemoveWatches => {
                let r: CheckWatchesRequest = dec(body)?;
                let ty = WatcherType::from_code(r.r#type, self.cfg.compat_version)
                    .ok_or(ErrorCode::MarshallingError)?;
                let found = if op == OpCode::CheckWatches {
                    self.tree
                        .watches
                        .check(&r.path, conn, ty)
                        .ok_or(ErrorCode::MarshallingError)?
                } else {
                    self.tree.watches.remove(&r.path, conn, ty)
                };
                if found {
                    Ok(None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            OpCode::WhoAmI => {
                let c = self.conns.get(&conn).ok_or(ErrorCode::SessionExpired)?;
                let client_info = c
                    .auth
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: auth::user_name(id, &self.auth_cfg),
                    })
                    .collect();
                Ok(boxed(WhoAmIResponse { client_info }))
            }
            OpCode::GetEphemerals => {
                let r: GetEphemeralsRequest = dec(body)?;
                let session = self.conns.get(&conn).map_or(0, |c| c.session);
                let prefix = r.prefix_path.trim();
                let ephemerals = self
                    .tree
                    .ephemerals_of(session)
                    .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(&r.prefix_path))
                    .cloned()
                    .collect();
                Ok(boxed(GetEphemeralsResponse { ephemerals }))
            }
            OpCode::MultiRead => {
                let ops_ = jute::multi::decode_multi_request(body)
                    .map_err(|_| ErrorCode::MarshallingError)?;
                if ops_.iter().any(|o| !o.is_read()) {
                    return Err(ErrorCode::MarshallingError);
                }
                let mut results = Vec::with_capacity(ops_.len());
                for o in ops_ {
                    results.push(match o {
                        MultiOp::GetChildren(r) => match self.get_children(conn, &r.path, false) {
                            Ok((c, _)) => match Vec::<String>::decode(&mut c.clone()) {
                                Ok(names) => MultiResult::GetChildren(names),
                                Err(_) => MultiResult::Error(ErrorCode::MarshallingError.code()),
                            },
                            Err(e) => MultiResult::Error(e.code()),
                        },
                        MultiOp::GetData(r) => match self.get_data(
                            conn,
                            &GetDataRequest {
                                path: r.path,
                                watch: false,
                            },
                        ) {
                            Ok((d, s)) => MultiResult::GetData(d, s),
                            Err(e) => MultiResult::Error(e.code()),
                        },
                        _ => MultiResult::Error(ErrorCode::MarshallingError.code()),
                    });
                }
                Ok(Some(Box::new(move |b: &mut BytesMut| {
                    jute::multi::encode_multi_response(&results, b)
                })))
            }
            // Writes, and what `process` answers itself, never come here.
            OpCode::Notification
            | OpCode::Create
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Ping
            | OpCode::Check
            | OpCode::Multi
            | OpCode::Create2
            | OpCode::Reconfig
            | OpCode::CreateContainer
            | OpCode::DeleteContainer
            | OpCode::CreateTtl
            | OpCode::Auth
            | OpCode::Sasl
            | OpCode::CreateSession
            | OpCode::CloseSession
            | OpCode::Error => Err(ErrorCode::Unimplemented),
        }
    }

    /// Re-register a reconnecting client's watches, firing at once what it missed since
    /// `relative_zxid` (Java's DataTree.setWatches).
    pub(super) fn set_watches(&mut self, conn: ConnId, w: SetWatches2) {
        use crate::watch::EventType as E;
        let mut fire: Vec<(E, String)> = Vec::new();
        for p in w.data_watches {
            match self.tree.node(&p) {
                None => fire.push((E::NodeDeleted, p)),
                Some(n) if n.stat.mzxid > w.relative_zxid => fire.push((E::NodeDataChanged, p)),
                Some(_) => self.tree.watches.add(&p, conn, WatchKind::Data),
            }
        }
        for p in w.exist_watches {
            if self.tree.node(&p).is_some() {
                fire.push((E::NodeCreated, p));
            } else {
                self.tree.watches.add(&p, conn, WatchKind::Exist);
            }
        }
        for p in w.child_watches {
            match self.tree.node(&p) {
                None => fire.push((E::NodeDeleted, p)),
                Some(n) if n.stat.pzxid > w.relative_zxid => fire.push((E::NodeChildrenChanged, p)),
                Some(_) => self.tree.watches.add(&p, conn, WatchKind::Child),
            }
        }
        for p in w.persistent_watches {
            self.tree.watches.add(&p, conn, WatchKind::Persistent);
        }
        for p in w.persistent_recursive_watches {
            self.tree
                .watches
                .add(&p, conn, WatchKind::PersistentRecursive);
        }
        // Java builds these events without a zxid (WatchedEvent.NO_ZXID) in 3.8 and 3.9.
        for (kind, path) in fire {
            let frame = reply_with(
                ops::XID_NOTIFICATION,
                -1,
                &WatcherEvent {
                    r#type: kind.code(),
                    state: 3,
                    path,
                },
            );
            self.send(conn, frame);
        }
    }
}

/// Names as a jute `vector<ustring>` (count, then length-prefixed UTF-8), and their length in
/// UTF-16 code units (what Java's per-namespace read statistics count).
fn encode_names(names: &[&str]) -> (Bytes, usize) {
    let bytes: usize = names.iter().map(|n| n.len()).sum();
    let mut b = BytesMut::with_capacity(4 + 4 * names.len() + bytes);
    b.put_i32(names.len() as i32);
    let mut units = 0;
    for n in names {
        n.encode(&mut b);
        units += if n.is_ascii() {
            n.len()
        } else {
            n.encode_utf16().count()
        };
    }
    (b.freeze(), units)
}

#[cfg(test)]
mod encode_names_tests {
    use super::*;

    #[test]
    fn names_encode_as_a_jute_string_vector() {
        let names = ["a", "bc", "\u{e9}t\u{e9}", "\u{1f600}"];
        let (b, units) = encode_names(&names);
        let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut want = BytesMut::new();
        owned.encode(&mut want);
        assert_eq!(&b[..], &want[..]);
        // UTF-16 code units: 1 + 2 + 3 + 2 (a surrogate pair).
        assert_eq!(units, 8);
        let (empty, n) = encode_names(&[]);
        assert_eq!((&empty[..], n), (&[0u8, 0, 0, 0][..], 0));
    }
}
