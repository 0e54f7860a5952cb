//! Simulated clients: each one a session with a pipelined stream of requests (creates,
//! setData, deletes, multis, ephemerals, containers, TTL nodes, getData with watches,
//! exists, getChildren, sync + read, closeSession, pings) against a random member, reconnecting elsewhere (same session) when its
//! connection drops, and checking every reply it gets:
//!
//! - replies come back in request order (per-session FIFO);
//! - an acknowledged write is the committed txn of that session and xid, at or before the
//!   reply's zxid (`Checker::acked`);
//! - a read never misses an acknowledged write of its path at or before the zxid it
//!   answers from, and a read after a sync answers from at least every write acknowledged
//!   (to anyone) before the sync was sent;
//! - a watch event comes before any read that shows the change;
//! - once a session is closed or expired, its ephemerals go (checked at convergence).

use crate::check::Checker;
use crate::rng::Rng;
use bytes::{Buf, Bytes, BytesMut};
use jute::connect::{decode_connect_response, Connect};
use jute::multi::{decode_multi_response, encode_multi_request, MultiOp, MultiResult};
use jute::ops;
use jute::proto::*;
use jute::{Decode, Encode};
use std::collections::{BTreeMap, VecDeque};

/// Requested session timeout (the servers negotiate it into [2, 20] ticks).
pub const SESSION_TIMEOUT_MS: i32 = 3000;
/// Most requests a client has in flight.
const MAX_IN_FLIGHT: usize = 6;
/// Paths the clients share.
const PATHS: u64 = 6;

/// A request sent and not answered yet.
#[derive(Debug)]
struct Pending {
    xid: i32,
    op: i32,
    path: String,
    /// A read right after a sync: it must answer from at least this zxid.
    floor: i64,
    /// getData with a watch.
    watch: bool,
    /// A multi's second path.
    also: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// No connection.
    Idle,
    /// ConnectRequest sent.
    Handshake,
    Connected,
}

pub struct Client {
    pub id: usize,
    /// The connection, once opened.
    pub conn: Option<crate::net::ConnId>,
    session_id: i64,
    passwd: Bytes,
    timeout_ms: i32,
    state: State,
    next_xid: i32,
    pending: VecDeque<Pending>,
    /// Bytes from the server, not yet a whole frame.
    inbox: BytesMut,
    last_zxid_seen: i64,
    last_sent_ms: u64,
    /// Watches set on this connection: path → the mzxid the watching read returned.
    watches: BTreeMap<String, i64>,
    ephemerals: u64,
    pub replies: u64,
    /// Print each request and reply (`-v`).
    pub verbose: bool,
}

/// A frame's body (the network shell strips the length prefix before the pipeline).
fn frame(body: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::new();
    body(&mut out);
    out.freeze()
}

fn is_write(op: i32) -> bool {
    matches!(
        op,
        ops::CREATE | ops::SET_DATA | ops::DELETE | ops::CLOSE_SESSION
    )
}

impl Client {
    pub fn new(id: usize) -> Client {
        Client {
            id,
            conn: None,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            timeout_ms: SESSION_TIMEOUT_MS,
            state: State::Idle,
            next_xid: 1,
            pending: VecDeque::new(),
            inbox: BytesMut::new(),
            last_zxid_seen: 0,
            last_sent_ms: 0,
            watches: BTreeMap::new(),
            ephemerals: 0,
            replies: 0,
            verbose: false,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// A new connection: the handshake frame (a new session, or ours to resume).
    pub fn connect_frame(&mut self, now_ms: u64) -> Bytes {
        self.state = State::Handshake;
        self.inbox.clear();
        self.last_sent_ms = now_ms;
        let connect = Connect {
            request: ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid_seen,
                time_out: self.timeout_ms,
                session_id: self.session_id,
                passwd: Some(self.passwd.clone()),
            },
            read_only: Some(false),
        };
        frame(|b| connect.encode(b))
    }

    /// The connection is gone: what was in flight has an unknown outcome; watches set on
    /// it are gone with it (we do not re-register them).
    pub fn disconnected(&mut self) {
        self.state = State::Idle;
        self.pending.clear();
        self.watches.clear();
        self.inbox.clear();
    }

    /// The next frames to send now (requests, or a ping when idle for a third of the
    /// session timeout).
    pub fn step(&mut self, rng: &mut Rng, now_ms: u64, check: &Checker) -> Vec<Bytes> {
        if self.state != State::Connected || self.pending.len() >= MAX_IN_FLIGHT {
            return Vec::new();
        }
        if rng.chance(20) {
            if now_ms >= self.last_sent_ms + self.timeout_ms as u64 / 3 {
                // Pings are answered out of band (not part of the FIFO check).
                self.last_sent_ms = now_ms;
                let h = RequestHeader {
                    xid: ops::XID_PING,
                    r#type: ops::PING,
                };
                return vec![frame(|b| h.encode(b))];
            }
            return Vec::new();
        }
        self.last_sent_ms = now_ms;
        let path = format!("/k{}", rng.range(0, PATHS - 1));
        let data = Some(Bytes::from(format!("c{}-{now_ms}", self.id)));
        let acl = zk_server::tree::open_acl;
        match rng.range(0, 99) {
            0..=19 => {
                let r = SetDataRequest {
                    path: path.clone(),
                    data,
                    version: -1,
                };
                vec![self.request(ops::SET_DATA, path, 0, false, |b| r.encode(b))]
            }
            20..=29 => {
                let r = CreateRequest {
                    path: path.clone(),
                    data,
                    acl: acl(),
                    flags: 0,
                };
                vec![self.request(ops::CREATE, path, 0, false, |b| r.encode(b))]
            }
            30..=36 => {
                let r = DeleteRequest {
                    path: path.clone(),
                    version: -1,
                };
                vec![self.request(ops::DELETE, path, 0, false, |b| r.encode(b))]
            }
            37..=40 => {
                self.ephemerals += 1;
                let path = format!("/e{}-{}", self.id, self.ephemerals);
                let r = CreateRequest {
                    path: path.clone(),
                    data,
                    acl: acl(),
                    flags: 1,
                };
                vec![self.request(ops::CREATE, path, 0, false, |b| r.encode(b))]
            }
            // Now and then a session ends: its ephemerals must go with it.
            41 => {
                let body = |_: &mut BytesMut| {};
                vec![self.request(ops::CLOSE_SESSION, String::new(), 0, false, body)]
            }
            // Containers, and children that come and go under them: the leader deletes
            // a container that had children and has none left.
            42..=44 => {
                let path = format!("/c{}", rng.range(0, 2));
                let r = CreateRequest {
                    path: path.clone(),
                    data,
                    acl: acl(),
                    flags: 4,
                };
                vec![self.request(ops::CREATE_CONTAINER, path, 0, false, |b| r.encode(b))]
            }
            45..=49 => {
                let path = format!("/c{}/x{}", rng.range(0, 2), rng.range(0, 2));
                if rng.chance(50) {
                    let r = CreateRequest {
                        path: path.clone(),
                        data,
                        acl: acl(),
                        flags: 0,
                    };
                    vec![self.request(ops::CREATE, path, 0, false, |b| r.encode(b))]
                } else {
                    let r = DeleteRequest {
                        path: path.clone(),
                        version: -1,
                    };
                    vec![self.request(ops::DELETE, path, 0, false, |b| r.encode(b))]
                }
            }
            // TTL nodes, which the leader deletes once unmodified for longer than their TTL.
            50..=52 => {
                let path = format!("/t{}", rng.range(0, 2));
                let r = CreateTTLRequest {
                    path: path.clone(),
                    data,
                    acl: acl(),
                    flags: 5,
                    ttl: rng.range(100, 1000) as i64,
                };
                vec![self.request(ops::CREATE_TTL, path, 0, false, |b| r.encode(b))]
            }
            // A multi: set one path, create or delete another, all or nothing.
            53..=57 => {
                let other = format!("/k{}", rng.range(0, PATHS - 1));
                let second = if rng.chance(50) {
                    MultiOp::Create(
                        jute::ops::OpCode::Create,
                        CreateRequest {
                            path: other.clone(),
                            data: data.clone(),
                            acl: acl(),
                            flags: 0,
                        },
                    )
                } else {
                    MultiOp::Delete(DeleteRequest {
                        path: other.clone(),
                        version: -1,
                    })
                };
                let multi = [
                    MultiOp::SetData(SetDataRequest {
                        path: path.clone(),
                        data,
                        version: -1,
                    }),
                    second,
                ];
                let frame = self.request(ops::MULTI, path, 0, false, |b| {
                    encode_multi_request(&multi, b)
                });
                if let Some(p) = self.pending.back_mut() {
                    p.also = Some(other);
                }
                vec![frame]
            }
            58..=72 => {
                let watch = rng.chance(40);
                let r = GetDataRequest {
                    path: path.clone(),
                    watch,
                };
                vec![self.request(ops::GET_DATA, path, 0, watch, |b| r.encode(b))]
            }
            73..=80 => {
                let r = ExistsRequest {
                    path: path.clone(),
                    watch: false,
                };
                vec![self.request(ops::EXISTS, path, 0, false, |b| r.encode(b))]
            }
            81..=84 => {
                let r = GetChildrenRequest {
                    path: "/".into(),
                    watch: false,
                };
                vec![self.request(ops::GET_CHILDREN, "/".into(), 0, false, |b| r.encode(b))]
            }
            // sync, then a read that must see every write acknowledged before the sync.
            _ => {
                let floor = check.max_acked();
                let s = SyncRequest { path: "/".into() };
                let r = GetDataRequest {
                    path: path.clone(),
                    watch: false,
                };
                vec![
                    self.request(ops::SYNC, "/".into(), 0, false, |b| s.encode(b)),
                    self.request(ops::GET_DATA, path, floor, false, |b| r.encode(b)),
                ]
            }
        }
    }

    fn request(
        &mut self,
        op: i32,
        path: String,
        floor: i64,
        watch: bool,
        body: impl FnOnce(&mut BytesMut),
    ) -> Bytes {
        let xid = self.next_xid;
        self.next_xid += 1;
        if self.verbose {
            println!("        client {} > xid {xid} op {op} {path}", self.id);
        }
        self.pending.push_back(Pending {
            xid,
            op,
            path,
            floor,
            watch,
            also: None,
        });
        frame(|b| {
            RequestHeader { xid, r#type: op }.encode(b);
            body(b);
        })
    }

    /// Bytes from the server. Returns false when the client must drop the connection
    /// (the session was refused or expired: it will start a new one).
    pub fn receive(&mut self, bytes: &[u8], check: &mut Checker) -> bool {
        self.inbox.extend_from_slice(bytes);
        while self.inbox.len() >= 4 {
            let len = i32::from_be_bytes(self.inbox[..4].try_into().expect("4 bytes"));
            if len < 0 {
                check.fail(format!("client {}: negative frame length {len}", self.id));
                return false;
            }
            if self.inbox.len() < 4 + len as usize {
                break;
            }
            self.inbox.advance(4);
            let f = self.inbox.split_to(len as usize).freeze();
            if !self.frame(f, check) {
                return false;
            }
        }
        true
    }

    fn frame(&mut self, mut f: Bytes, check: &mut Checker) -> bool {
        let who = format!("client {} (session 0x{:x})", self.id, self.session_id);
        if self.state == State::Handshake {
            let Ok((resp, _)) = decode_connect_response(f) else {
                check.fail(format!("{who}: bad ConnectResponse"));
                return false;
            };
            if resp.session_id == 0 {
                // Expired (or never valid): start over with a new session.
                if self.session_id != 0 {
                    check.session_ended(self.session_id);
                }
                self.session_id = 0;
                self.passwd = Bytes::from_static(&[0; 16]);
                return false;
            }
            if self.session_id != 0 && resp.session_id != self.session_id {
                check.fail(format!("{who}: resumed as session 0x{:x}", resp.session_id));
            }
            self.session_id = resp.session_id;
            self.passwd = resp.passwd.unwrap_or_default();
            self.timeout_ms = resp.time_out;
            self.state = State::Connected;
            return true;
        }
        let Ok(hdr) = ReplyHeader::decode(&mut f) else {
            check.fail(format!("{who}: bad ReplyHeader"));
            return false;
        };
        if self.verbose {
            println!(
                "        client {} < xid {} zxid 0x{:x} err {}",
                self.id, hdr.xid, hdr.zxid, hdr.err
            );
        }
        if hdr.xid == ops::XID_PING {
            return true;
        }
        if hdr.xid == ops::XID_NOTIFICATION {
            return match WatcherEvent::decode(&mut f) {
                Ok(e) => {
                    self.watches.remove(&e.path);
                    true
                }
                Err(_) => {
                    check.fail(format!("{who}: bad WatcherEvent"));
                    false
                }
            };
        }
        let Some(p) = self.pending.pop_front() else {
            check.fail(format!("{who}: reply xid {} to no request", hdr.xid));
            return false;
        };
        if p.xid != hdr.xid {
            check.fail(format!(
                "{who}: reply xid {} while xid {} ({}) was the oldest pending (FIFO)",
                hdr.xid, p.xid, p.op
            ));
            return false;
        }
        self.replies += 1;
        if hdr.zxid > self.last_zxid_seen {
            self.last_zxid_seen = hdr.zxid;
        }
        if hdr.err != 0 {
            return true;
        }
        if is_write(p.op) {
            if p.op == ops::MULTI {
                // All or nothing: a failed op fails the whole multi.
                match decode_multi_response(&mut f) {
                    Ok(results) if results.iter().any(|r| matches!(r, MultiResult::Error(_))) => {
                        return true;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        check.fail(format!("{who}: bad multi response"));
                        return false;
                    }
                }
            }
            check.acked(self.session_id, p.xid, hdr.zxid, &p.path, &who);
            if let Some(also) = &p.also {
                check.acked(self.session_id, p.xid, hdr.zxid, also, &who);
            }
            if p.op == ops::CLOSE_SESSION {
                check.session_ended(self.session_id);
                self.session_id = 0;
                self.passwd = Bytes::from_static(&[0; 16]);
                return false;
            }
            return true;
        }
        let stat = match p.op {
            ops::GET_DATA => GetDataResponse::decode(&mut f).map(|r| r.stat),
            ops::EXISTS => ExistsResponse::decode(&mut f).map(|r| r.stat),
            _ => return true,
        };
        let Ok(stat) = stat else {
            check.fail(format!("{who}: bad reply body to op {}", p.op));
            return false;
        };
        if hdr.zxid < p.floor {
            check.fail(format!(
                "{who}: read of {} after a sync answered from 0x{:x}, before the write 0x{:x} acknowledged before the sync",
                p.path, hdr.zxid, p.floor
            ));
        }
        check.read(&p.path, stat.mzxid, hdr.zxid, &who);
        if let Some(&m0) = self.watches.get(&p.path) {
            if stat.mzxid > m0 {
                check.fail(format!(
                    "{who}: read {} at mzxid 0x{:x} before the watch event for its change from 0x{m0:x}",
                    p.path, stat.mzxid
                ));
            }
        }
        if p.watch {
            self.watches.entry(p.path).or_insert(stat.mzxid);
        }
        true
    }
}
