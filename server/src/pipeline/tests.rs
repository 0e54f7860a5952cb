//! Unit tests of the pipeline, driven without sockets or clocks: inputs in, outputs checked,
//! time moved by hand.

use super::*;
use crate::persist::txnlog::decode_entry;

const ADDR: &str = "127.0.0.1:40000";
const EPHEMERAL: i32 = 1;
const CONTAINER: i32 = 4;

/// A decoded reply (or event, xid -1) as a client reads it.
#[derive(Debug)]
struct Reply {
    xid: i32,
    zxid: i64,
    err: i32,
    body: Bytes,
}

/// One pipeline, a hand-moved clock, and what it sent to each connection.
struct Bench {
    p: Pipeline,
    now: Now,
    /// Every output since the last `take`, in order.
    outputs: Vec<Output>,
}

fn config() -> Config {
    let mut cfg = crate::config::embedded_default();
    cfg.snap_count = 20;
    cfg
}

impl Bench {
    fn new(mode: Mode, seed: u64) -> Bench {
        Bench::with_config(config(), mode, seed)
    }

    fn with_config(cfg: Config, mode: Mode, seed: u64) -> Bench {
        let now = Now {
            mono_ms: 1_000,
            wall_ms: 1_700_000_000_000,
        };
        let mut p = Pipeline::new(cfg.clone(), mode, now, seed);
        p.load(now, DataTree::new(cfg.extended_types_enabled), 0);
        match mode {
            Mode::Standalone => p.serve_standalone(),
            Mode::Leader => p.start_leading(now, 1 << 32),
            m if m.is_learner() => p.start_following(m),
            Mode::ReadOnly => p.start_read_only(),
            _ => {}
        }
        Bench {
            p,
            now,
            outputs: Vec::new(),
        }
    }

    fn advance(&mut self, ms: i64) {
        self.now.mono_ms += ms;
        self.now.wall_ms += ms;
    }

    fn input(&mut self, input: Input) {
        self.p.handle(self.now, input);
        self.p.flush_replies();
        self.outputs.extend(self.p.take_outputs());
    }

    /// Take the outputs so far.
    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Make every logged txn durable (the txn log's fsync, or the quorum's commit).
    fn make_durable(&mut self) {
        let last = self
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Log { zxid, .. } => Some(*zxid),
                _ => None,
            })
            .max();
        if let Some(zxid) = last {
            self.input(Input::Durable { zxid });
        }
    }

    /// Open connection `conn` with a new session; returns the session id.
    fn connect(&mut self, conn: ConnId) -> i64 {
        self.input(connect_input(conn, 0));
        self.make_durable();
        let frames = self.sent_to(conn);
        let first = frames.first().expect("a ConnectResponse");
        let (resp, _) =
            jute::connect::decode_connect_response(first.clone()).expect("a ConnectResponse");
        assert_ne!(resp.session_id, 0, "session refused");
        self.take();
        resp.session_id
    }

    /// The frames sent to `conn` among the outputs so far (length prefix removed).
    fn sent_to(&self, conn: ConnId) -> Vec<Bytes> {
        let mut frames = Vec::new();
        for o in &self.outputs {
            if let Output::Send { conn: c, bytes } = o {
                if *c == conn {
                    let mut b = bytes.clone();
                    while b.len() >= 4 {
                        let n = b.get_u32() as usize;
                        frames.push(b.split_to(n));
                    }
                }
            }
        }
        frames
    }

    fn replies_to(&self, conn: ConnId) -> Vec<Reply> {
        self.sent_to(conn)
            .into_iter()
            .map(|mut f| {
                let h = ReplyHeader::decode(&mut f).expect("a reply header");
                Reply {
                    xid: h.xid,
                    zxid: h.zxid,
                    err: h.err,
                    body: f,
                }
            })
            .collect()
    }

    fn closed(&self, conn: ConnId) -> bool {
        self.outputs
            .iter()
            .any(|o| matches!(o, Output::Close { conn: c } if *c == conn))
    }

    fn logged(&self) -> Vec<Txn> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Log { entry, .. } => Some(decode_entry(entry).expect("an entry").0),
                _ => None,
            })
            .collect()
    }
}

fn connect_input(conn: ConnId, session_id: i64) -> Input {
    let mut b = BytesMut::new();
    Connect {
        request: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 4_000,
            session_id,
            passwd: Some(Bytes::from_static(&[0; 16])),
        },
        read_only: Some(false),
    }
    .encode(&mut b);
    Input::Connect {
        conn,
        addr: ADDR.parse().expect("an address"),
        frame: b.freeze(),
        flow: None,
        tls_ids: Vec::new(),
    }
}

fn request<R: Encode>(xid: i32, op: i32, body: &R) -> Bytes {
    let mut b = BytesMut::new();
    RequestHeader { xid, r#type: op }.encode(&mut b);
    body.encode(&mut b);
    b.freeze()
}

fn create(xid: i32, path: &str, data: &[u8], flags: i32) -> Bytes {
    request(
        xid,
        ops::CREATE,
        &CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: crate::tree::open_acl(),
            flags,
        },
    )
}

fn get_data(xid: i32, path: &str, watch: bool) -> Bytes {
    request(
        xid,
        ops::GET_DATA,
        &GetDataRequest {
            path: path.into(),
            watch,
        },
    )
}

fn set_data(xid: i32, path: &str, data: &[u8]) -> Bytes {
    request(
        xid,
        ops::SET_DATA,
        &SetDataRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version: -1,
        },
    )
}

fn requests(conn: ConnId, frames: Vec<Bytes>) -> Input {
    Input::Requests { conn, frames }
}

#[test]
fn a_write_is_answered_only_once_durable() {
    let mut b = Bench::new(Mode::Standalone, 1);
    b.input(connect_input(1, 0));
    assert!(
        b.sent_to(1).is_empty(),
        "no session before its txn is durable"
    );
    let logged = b.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].hdr.r#type, ops::CREATE_SESSION);
    b.make_durable();
    assert_eq!(b.sent_to(1).len(), 1, "the ConnectResponse once durable");
    b.take();

    b.input(requests(1, vec![create(1, "/a", b"x", 0)]));
    assert!(
        b.replies_to(1).is_empty(),
        "no reply before the log says durable"
    );
    assert_eq!(b.p.tree.node("/a").map(|_| ()), None, "not applied yet");
    b.make_durable();
    let r = b.replies_to(1);
    assert_eq!((r.len(), r[0].xid, r[0].err, r[0].zxid), (1, 1, 0, 2));
    assert!(b.p.tree.node("/a").is_some());
}

#[test]
fn a_read_waits_behind_the_sessions_pending_write() {
    let mut b = Bench::new(Mode::Standalone, 1);
    b.connect(1);
    // create, then getData of it, pipelined in one read.
    b.input(requests(
        1,
        vec![create(1, "/a", b"v1", 0), get_data(2, "/a", false)],
    ));
    assert!(
        b.replies_to(1).is_empty(),
        "the read must not overtake the write"
    );
    b.make_durable();
    let r = b.replies_to(1);
    assert_eq!(r.iter().map(|r| r.xid).collect::<Vec<_>>(), vec![1, 2]);
    let mut body = r[1].body.clone();
    let data = GetDataResponse::decode(&mut body).expect("getData");
    assert_eq!(data.data.as_deref(), Some(&b"v1"[..]));
}

#[test]
fn a_watch_event_goes_out_before_the_reply_that_fired_it() {
    let mut b = Bench::new(Mode::Standalone, 1);
    b.connect(1);
    b.input(requests(1, vec![create(1, "/w", b"", 0)]));
    b.make_durable();
    b.input(requests(1, vec![get_data(2, "/w", true)]));
    b.take();
    b.input(requests(1, vec![set_data(3, "/w", b"new")]));
    b.make_durable();
    let xids: Vec<i32> = b.replies_to(1).iter().map(|r| r.xid).collect();
    assert_eq!(xids, vec![ops::XID_NOTIFICATION, 3]);
}

#[test]
fn a_session_expires_on_a_tick_after_its_timeout_and_its_ephemerals_go() {
    let mut b = Bench::new(Mode::Standalone, 1);
    let session = b.connect(1);
    b.input(requests(1, vec![create(1, "/e", b"", EPHEMERAL)]));
    b.make_durable();
    b.take();
    b.advance(3_000);
    b.input(Input::Tick);
    assert!(b.logged().is_empty(), "not expired within its timeout");
    b.advance(4_000);
    b.input(Input::Tick);
    let logged = b.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        (logged[0].hdr.r#type, logged[0].hdr.client_id),
        (ops::CLOSE_SESSION, session)
    );
    b.make_durable();
    assert!(b.closed(1), "the expired session's connection is closed");
    assert!(b.p.tree.node("/e").is_none(), "its ephemeral is deleted");
}

#[test]
fn snapshots_follow_snap_count_one_at_a_time() {
    let mut b = Bench::new(Mode::Standalone, 7);
    b.connect(1);
    let snapshots = |b: &Bench| {
        b.outputs
            .iter()
            .filter(|o| matches!(o, Output::Snapshot { .. }))
            .count()
    };
    // snapCount 20: the first snapshot comes after 10 to 19 txns.
    let mut n = 0;
    while snapshots(&b) == 0 {
        n += 1;
        assert!(n < 20, "no snapshot after {n} txns");
        b.input(requests(1, vec![create(n, &format!("/n{n}"), b"", 0)]));
        b.make_durable();
    }
    assert!(n >= 9, "a snapshot after only {n} txns");
    let o = b.take();
    let i = o
        .iter()
        .position(|o| matches!(o, Output::Snapshot { .. }))
        .expect("a snapshot");
    assert!(matches!(o[i + 1], Output::RollLog), "the log rolls with it");
    // While it is being written, another that falls due is deferred, not started.
    for k in 0..40 {
        b.input(requests(
            1,
            vec![create(100 + k, &format!("/m{k}"), b"", 0)],
        ));
        b.make_durable();
    }
    assert_eq!(snapshots(&b), 0, "a second snapshot while one is written");
    // The log rolls at each threshold all the same (Java rolls when it skips a snapshot):
    // 40 txns pass at least two thresholds of 10 to 19.
    let rolls = b
        .take()
        .iter()
        .filter(|o| matches!(o, Output::RollLog))
        .count();
    assert!(
        rolls >= 2,
        "{rolls} log rolls in 40 txns while a snapshot is written"
    );
    b.input(Input::SnapshotDone { took_ms: 0 });
    b.input(Input::Tick);
    let o = b.take();
    assert_eq!(
        o.iter()
            .filter(|o| matches!(o, Output::Snapshot { .. }))
            .count(),
        1,
        "the deferred snapshot starts once free"
    );
    assert!(
        !o.iter().any(|o| matches!(o, Output::RollLog)),
        "a deferred snapshot does not roll the log again"
    );
}

#[test]
fn the_same_seed_and_inputs_give_the_same_outputs() {
    let run = |seed: u64| {
        let mut b = Bench::new(Mode::Standalone, seed);
        b.connect(1);
        let mut trace = Vec::new();
        for i in 0..60 {
            b.input(requests(1, vec![create(i, &format!("/d{i}"), b"", 0)]));
            b.make_durable();
            b.advance(7);
            for o in b.take() {
                trace.push(match o {
                    Output::Send { conn, bytes } => format!("send {conn} {bytes:?}"),
                    Output::Log { zxid, entry } => format!("log {zxid} {entry:?}"),
                    Output::Snapshot { tree } => format!("snapshot {}", tree.last_zxid),
                    other => format!("{other:?}"),
                });
            }
        }
        trace
    };
    assert_eq!(run(3), run(3));
    assert_ne!(
        run(3),
        run(4),
        "the seed decides when snapshots are taken (60 txns, snapCount 20)"
    );
}

#[test]
fn each_pipeline_reaps_containers_on_its_own_schedule() {
    // A process-wide "last checked" made a new pipeline (a re-elected leader) wait until its
    // uptime passed the old one's: here the first pipeline ran for an hour.
    let mut old = Bench::new(Mode::Standalone, 1);
    old.advance(3_600_000);
    old.input(Input::Tick);

    let mut b = Bench::new(Mode::Standalone, 1);
    b.connect(1);
    b.input(requests(
        1,
        vec![
            request(
                1,
                ops::CREATE_CONTAINER,
                &CreateRequest {
                    path: "/c".into(),
                    data: None,
                    acl: crate::tree::open_acl(),
                    flags: CONTAINER,
                },
            ),
            create(2, "/c/x", b"", 0),
            request(
                3,
                ops::DELETE,
                &DeleteRequest {
                    path: "/c/x".into(),
                    version: -1,
                },
            ),
        ],
    ));
    b.make_durable();
    b.make_durable();
    b.take();
    assert!(b.p.tree.node("/c").is_some());
    b.advance(61_000);
    // Keep the session alive meanwhile.
    let mut ping = BytesMut::new();
    RequestHeader {
        xid: ops::XID_PING,
        r#type: ops::PING,
    }
    .encode(&mut ping);
    b.input(requests(1, vec![ping.freeze()]));
    b.input(Input::Tick);
    let logged = b.logged();
    assert!(
        logged.iter().any(|t| t.hdr.r#type == ops::DELETE_CONTAINER),
        "the empty container is reaped after one interval: {logged:?}"
    );
}

#[test]
fn an_idle_pipeline_refuses_connections_and_answers_four_letter_words() {
    let mut b = Bench::new(Mode::Idle("follower"), 1);
    b.input(connect_input(1, 0));
    assert!(b.closed(1));
    assert!(b.logged().is_empty());
    b.input(Input::FourLetter {
        token: 9,
        cmd: "srvr".into(),
        arg: None,
        addr: ADDR.parse().expect("an address"),
        probes: Box::default(),
    });
    let text = b
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::FourLetterReply { token: 9, text } => Some(text.clone()),
            _ => None,
        })
        .expect("an answer");
    assert!(text.contains("not currently serving"), "{text}");
}

/// A follower forwards what only the leader decides and answers its client when the
/// leader's commit comes back; here a leader-mode pipeline plays the leader.
#[test]
fn a_follower_forwards_writes_and_answers_on_the_commit() {
    let mut leader = Bench::new(Mode::Leader, 1);
    let mut follower = Bench::new(Mode::Follower, 2);
    // Carry the follower's forwarded requests to the leader, and the leader's commits back.
    let relay = |leader: &mut Bench, follower: &mut Bench| {
        for o in follower.take() {
            match o {
                Output::Forward {
                    session,
                    cxid,
                    op,
                    body,
                    auth,
                } => leader.input(Input::LearnerRequest {
                    from: 1,
                    session,
                    cxid,
                    op,
                    body,
                    auth,
                }),
                Output::Send { .. } | Output::Touch { .. } => follower.outputs.push(o),
                other => panic!("unexpected follower output {other:?}"),
            }
        }
        let txns = leader.logged();
        leader.make_durable();
        for txn in txns {
            follower.input(Input::Committed {
                txn,
                leader_digest: None,
            });
        }
        leader.take();
    };
    follower.input(connect_input(1, 0));
    assert!(
        follower.logged().is_empty(),
        "a follower logs nothing itself"
    );
    relay(&mut leader, &mut follower);
    let session = {
        let first = follower
            .sent_to(1)
            .first()
            .cloned()
            .expect("a ConnectResponse");
        jute::connect::decode_connect_response(first)
            .expect("a ConnectResponse")
            .0
            .session_id
    };
    assert_ne!(session, 0);
    assert!(
        leader.p.sessions.get(session).is_some(),
        "the leader knows it"
    );
    follower.take();
    follower.input(requests(
        1,
        vec![create(1, "/f", b"", 0), get_data(2, "/f", false)],
    ));
    assert!(follower.replies_to(1).is_empty());
    relay(&mut leader, &mut follower);
    let r = follower.replies_to(1);
    assert_eq!(
        r.iter().map(|r| (r.xid, r.err)).collect::<Vec<_>>(),
        vec![(1, 0), (2, 0)]
    );
    assert_eq!(r[0].zxid, (1 << 32) + 2, "the leader's zxid");
    assert!(leader.p.tree.node("/f").is_some() && follower.p.tree.node("/f").is_some());
}

#[test]
fn a_read_only_server_answers_reads_and_refuses_writes() {
    let mut b = Bench::new(Mode::ReadOnly, 1);
    // A client that does not allow read-only servers is refused.
    b.input(connect_input(1, 0));
    assert!(b.closed(1));
    b.take();
    let mut frame = BytesMut::new();
    Connect {
        request: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 4_000,
            session_id: 0,
            passwd: Some(Bytes::from_static(&[0; 16])),
        },
        read_only: Some(true),
    }
    .encode(&mut frame);
    b.input(Input::Connect {
        conn: 2,
        addr: ADDR.parse().expect("an address"),
        frame: frame.freeze(),
        flow: None,
        tls_ids: Vec::new(),
    });
    assert!(
        b.logged().is_empty(),
        "a read-only session is local: nothing logged"
    );
    assert_eq!(b.sent_to(2).len(), 1, "answered at once");
    b.take();
    b.input(requests(
        2,
        vec![create(1, "/x", b"", 0), get_data(2, "/", false)],
    ));
    let r = b.replies_to(2);
    assert_eq!(
        r.iter().map(|r| (r.xid, r.err)).collect::<Vec<_>>(),
        vec![(1, error::NOT_READ_ONLY), (2, 0)]
    );
    assert!(b.logged().is_empty());
}

#[test]
fn a_followers_sync_is_answered_on_the_leaders_sync_not_before() {
    let mut b = Bench::new(Mode::Follower, 1);
    b.input(connect_input(1, 0));
    let (session, body) = b
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Forward {
                session, op, body, ..
            } if *op == ops::CREATE_SESSION => Some((*session, body.clone())),
            _ => None,
        })
        .expect("createSession forwarded");
    assert_eq!(body.len(), 4, "the timeout");
    b.take();
    b.input(Input::Committed {
        txn: Txn {
            hdr: TxnHeader {
                client_id: session,
                cxid: 0,
                zxid: 1,
                time: 0,
                r#type: ops::CREATE_SESSION,
            },
            body: TxnBody::CreateSession(CreateSessionTxn { time_out: 4_000 }),
        },
        leader_digest: None,
    });
    assert_eq!(b.sent_to(1).len(), 1, "the ConnectResponse");
    b.take();
    b.input(requests(
        1,
        vec![
            request(1, ops::SYNC, &SyncRequest { path: "/".into() }),
            get_data(2, "/", false),
        ],
    ));
    assert!(
        b.outputs
            .iter()
            .any(|o| matches!(o, Output::Forward { op, .. } if *op == ops::SYNC)),
        "the sync goes to the leader"
    );
    assert!(
        b.replies_to(1).is_empty(),
        "nothing before the leader's SYNC"
    );
    b.input(Input::Synced);
    let r = b.replies_to(1);
    assert_eq!(r.iter().map(|r| r.xid).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn a_leader_fails_a_moved_sessions_write_and_answers_revalidations() {
    let mut b = Bench::new(Mode::Leader, 1);
    // Learner connection 7 creates a session; the leader's own client then uses it here.
    let session = 0x77;
    b.input(Input::LearnerRequest {
        from: 7,
        session,
        cxid: 0,
        op: ops::CREATE_SESSION,
        body: Bytes::copy_from_slice(&4_000i32.to_be_bytes()),
        auth: Vec::new(),
    });
    b.make_durable();
    assert!(b.p.sessions.get(session).is_some());
    b.take();
    b.input(Input::LearnerRevalidate {
        from: 8,
        session,
        timeout_ms: 4_000,
    });
    assert!(matches!(
        b.take().as_slice(),
        [Output::RevalidateAnswer {
            from: 8,
            valid: true,
            ..
        }]
    ));
    // Now owned by learner 8: learner 7's write fails SessionMoved.
    let mut body = BytesMut::new();
    SetDataRequest {
        path: "/".into(),
        data: None,
        version: -1,
    }
    .encode(&mut body);
    b.input(Input::LearnerRequest {
        from: 7,
        session,
        cxid: 5,
        op: ops::SET_DATA,
        body: body.freeze(),
        auth: Vec::new(),
    });
    let logged = b.logged();
    assert_eq!(logged.len(), 1);
    assert!(
        matches!(&logged[0].body, TxnBody::Error(e) if e.err == error::SESSION_MOVED),
        "{:?}",
        logged[0].body
    );
}

#[test]
fn a_learners_messages_become_pipeline_inputs() {
    let req = zk_quorum::zab::leader::LearnerMessage::Request {
        from: 3,
        sid: 2,
        session_id: 0x55,
        cxid: 7,
        op: 1,
        body: Bytes::from_static(b"body"),
        authinfo: vec![jute::data::Id {
            scheme: "digest".into(),
            id: "u:p".into(),
        }],
    };
    match Input::from_learner(req) {
        Some(Input::LearnerRequest {
            from,
            session,
            cxid,
            op,
            body,
            auth,
        }) => {
            assert_eq!((from, session, cxid, op), (3, 0x55, 7, 1));
            assert_eq!(body, Bytes::from_static(b"body"));
            assert_eq!(auth, vec![AuthId::new("digest", "u:p")]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Input::from_learner(zk_quorum::zab::leader::LearnerMessage::Touch {
            session_id: 1,
            timeout: 4000
        }),
        Some(Input::LearnerTouch {
            session: 1,
            timeout_ms: 4000
        })
    ));
    assert!(matches!(
        Input::from_learner(zk_quorum::zab::leader::LearnerMessage::Revalidate {
            from: 2,
            session_id: 1,
            timeout: 4000
        }),
        Some(Input::LearnerRevalidate {
            from: 2,
            session: 1,
            timeout_ms: 4000
        })
    ));
}

/// A SASL-configured server: the JAAS Server section's users, the sasl provider.
fn sasl_config(extra: &[(&str, &str)]) -> Config {
    let mut cfg = config();
    cfg.auth_providers
        .push(("1".into(), crate::sasl::SASL_PROVIDER_CLASS.into()));
    for (k, v) in extra {
        match *k {
            "superUser" => cfg.sasl.super_users.push(v.to_string()),
            "allowSaslFailedClients" => cfg.sasl.allow_failed_clients = *v == "true",
            "enforce" => cfg.enforce_auth_schemes = Some(vec![v.to_string()]),
            _ => panic!("{k}"),
        }
    }
    let jaas = "Server { org.apache.zookeeper.server.auth.DigestLoginModule required \
                user_bob=\"bobsecret\" user_admin=\"adminsecret\"; };";
    cfg.sasl.login = crate::sasl::configure_login(&cfg.sasl, Some(Ok(jaas.to_string())), &|_| None)
        .expect("a good JAAS file");
    cfg
}

fn sasl_request(xid: i32, token: &[u8]) -> Bytes {
    request(
        xid,
        ops::SASL,
        &GetSASLRequest {
            token: Some(Bytes::copy_from_slice(token)),
        },
    )
}

/// The SASL reply's (err, token) for xid.
fn sasl_reply(b: &Bench, conn: ConnId, xid: i32) -> (i32, Option<Bytes>) {
    let r = b
        .replies_to(conn)
        .into_iter()
        .find(|r| r.xid == xid)
        .expect("a SASL reply");
    assert_eq!(r.zxid, 0);
    let mut body = r.body;
    let resp = SetSASLResponse::decode(&mut body).expect("a SetSASLResponse");
    (r.err, resp.token)
}

/// Runs a DIGEST-MD5 exchange on `conn` as `user`; returns the last reply's (err, token).
fn sasl_login(b: &mut Bench, conn: ConnId, user: &str, password: &str) -> (i32, Option<Bytes>) {
    use zk_quorum::sasl::digest_md5::{DigestMd5Client, CLIENT_PROTOCOL, CLIENT_SERVER_NAME};
    let mut client = DigestMd5Client::new(
        CLIENT_PROTOCOL,
        CLIENT_SERVER_NAME,
        user,
        password,
        None,
        [9; 30],
    );
    b.input(requests(
        conn,
        vec![sasl_request(1, &client.initial_response())],
    ));
    let (err, challenge) = sasl_reply(b, conn, 1);
    assert_eq!(err, 0);
    let response = client
        .evaluate_challenge(&challenge.expect("a challenge"))
        .expect("a response");
    b.input(requests(conn, vec![sasl_request(2, &response)]));
    sasl_reply(b, conn, 2)
}

#[test]
fn a_sasl_login_adds_a_sasl_id_and_a_failed_one_closes() {
    let mut b = Bench::with_config(sasl_config(&[("superUser", "admin")]), Mode::Standalone, 1);
    b.connect(1);
    let (err, token) = sasl_login(&mut b, 1, "bob", "bobsecret");
    assert_eq!(err, 0);
    assert!(token.expect("rspauth").starts_with(b"rspauth="));
    let ids = b.p.conns[&1].auth.ids().to_vec();
    assert!(ids.contains(&AuthId::new("sasl", "bob")), "{ids:?}");
    assert!(!ids.iter().any(|id| id.scheme == "super"));
    assert!(!b.closed(1));
    // A second exchange on the same connection: the SASL server is done.
    b.take();
    b.input(requests(1, vec![sasl_request(3, b"")]));
    assert_eq!(sasl_reply(&b, 1, 3), (error::AUTH_FAILED, None));
    assert!(b.closed(1));

    // A wrong password: AuthFailed with no token, the connection closed, no sasl id.
    b.connect(2);
    assert_eq!(
        sasl_login(&mut b, 2, "bob", "nope"),
        (error::AUTH_FAILED, None)
    );
    assert!(b.closed(2));

    // The super user.
    b.connect(3);
    assert_eq!(sasl_login(&mut b, 3, "admin", "adminsecret").0, 0);
    let ids = b.p.conns[&3].auth.ids().to_vec();
    assert!(ids.contains(&AuthId::new("super", "")), "{ids:?}");
}

#[test]
fn sasl_failures_with_allow_failed_clients_or_enforced_sasl() {
    let mut b = Bench::with_config(
        sasl_config(&[("allowSaslFailedClients", "true")]),
        Mode::Standalone,
        1,
    );
    b.connect(1);
    assert_eq!(sasl_login(&mut b, 1, "eve", "x"), (0, None));
    assert!(!b.closed(1));
    assert!(!b.p.conns[&1]
        .auth
        .ids()
        .iter()
        .any(|id| id.scheme == "sasl"));

    // Enforced sasl wins over allowSaslFailedClients: -124, closed.
    let mut cfg = sasl_config(&[("enforce", "sasl")]);
    cfg.sasl.allow_failed_clients = true;
    let mut b = Bench::with_config(cfg, Mode::Standalone, 1);
    b.connect(1);
    assert_eq!(
        sasl_login(&mut b, 1, "bob", "nope"),
        (error::SESSION_CLOSED_REQUIRE_SASL, None)
    );
    assert!(b.closed(1));
    // A session that logged in is served.
    b.connect(2);
    assert_eq!(sasl_login(&mut b, 2, "bob", "bobsecret").0, 0);
    b.take();
    b.input(requests(2, vec![get_data(7, "/", false)]));
    assert_eq!(b.replies_to(2)[0].err, 0);
}

#[test]
fn without_a_sasl_login_a_token_gets_an_empty_ok() {
    let mut b = Bench::new(Mode::Standalone, 1);
    b.connect(1);
    b.input(requests(1, vec![sasl_request(1, b"")]));
    assert_eq!(sasl_reply(&b, 1, 1), (0, None));
    assert!(!b.closed(1));
}
