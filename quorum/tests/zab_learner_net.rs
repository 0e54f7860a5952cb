//! The learner's tokio shell against a scripted leader on 127.0.0.1: packets in the right
//! order, the log synced before the ACKs that depend on it, packets from the server held
//! back until UPTODATE, touches in the PING reply, and the read timeouts.

use bytes::{Bytes, BytesMut};
use jute::quorum::QuorumPacket;
use jute::Zxid;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_quorum::zab::db::{DbError, LearnerDb};
use zk_quorum::zab::learner::{LearnerConfig, PersistedState};
use zk_quorum::zab::learner_net::{control_channel, follow_leader, Exit, NetError};
use zk_quorum::zab::packet::{self, *};
use zk_quorum::zab::snap_stream::SnapItem;

/// Records every call, in order.
#[derive(Clone, Default)]
struct MemDb {
    events: Arc<Mutex<Vec<String>>>,
}

impl MemDb {
    fn push(&self, e: String) {
        self.events.lock().unwrap().push(e);
    }
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl LearnerDb for MemDb {
    fn persisted_state(&self) -> PersistedState {
        PersistedState::default()
    }
    fn set_accepted_epoch(&mut self, e: i64) -> Result<(), DbError> {
        self.push(format!("accepted {e}"));
        Ok(())
    }
    fn set_current_epoch(&mut self, e: i64) -> Result<(), DbError> {
        self.push(format!("current {e}"));
        Ok(())
    }
    fn truncate(&mut self, z: i64) -> Result<(), DbError> {
        self.push(format!("truncate {z:x}"));
        Ok(())
    }
    fn begin_snapshot(&mut self, _: i64) -> Result<(), DbError> {
        self.push("begin snapshot".into());
        Ok(())
    }
    fn snapshot_item(&mut self, _: SnapItem) -> Result<(), DbError> {
        Ok(())
    }
    fn end_snapshot(&mut self, _: i64) -> Result<(), DbError> {
        self.push("end snapshot".into());
        Ok(())
    }
    fn take_snapshot(&mut self, _: bool) -> Result<(), DbError> {
        self.push("take snapshot".into());
        Ok(())
    }
    fn append_log(&mut self, z: i64, _: &Bytes) -> Result<(), DbError> {
        self.push(format!("log {z:x}"));
        Ok(())
    }
    fn sync_log(&mut self) -> Result<(), DbError> {
        self.push("sync".into());
        Ok(())
    }
    fn roll_log(&mut self) -> Result<(), DbError> {
        self.push("roll".into());
        Ok(())
    }
    fn apply(&mut self, z: i64, _: &Bytes) -> Result<(), DbError> {
        self.push(format!("apply {z:x}"));
        Ok(())
    }
    fn start_serving(&mut self, e: i64) -> Result<(), DbError> {
        self.push(format!("serving {e}"));
        Ok(())
    }
}

fn config() -> LearnerConfig {
    let mut c = LearnerConfig::follower(3);
    c.tick_time = Duration::from_millis(50);
    c
}

/// The leader's end of the connection.
struct Peer {
    s: TcpStream,
    buf: BytesMut,
}

impl Peer {
    async fn accept(l: &TcpListener) -> Peer {
        let (s, _) = l.accept().await.unwrap();
        Peer {
            s,
            buf: BytesMut::new(),
        }
    }
    async fn send(&mut self, qp: QuorumPacket) {
        let mut b = BytesMut::new();
        encode_packet(&qp, &mut b);
        self.s.write_all(&b).await.unwrap();
    }
    async fn recv(&mut self) -> QuorumPacket {
        loop {
            if let Some(p) = decode_packet(&mut self.buf, DEFAULT_MAX_BUFFER).unwrap() {
                return p;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.s.read_buf(&mut self.buf))
                .await
                .expect("a packet from the learner")
                .unwrap();
            assert!(n > 0, "learner closed the connection");
        }
    }
    async fn expect(&mut self, t: i32, zxid: i64) -> QuorumPacket {
        let p = self.recv().await;
        assert_eq!(
            (type_name(p.r#type), p.zxid),
            (type_name(t), zxid),
            "packet from the learner"
        );
        p
    }
}

fn proposal(zxid: i64) -> QuorumPacket {
    let mut e = BytesMut::new();
    let hdr = jute::txn::TxnHeader {
        client_id: 1,
        cxid: 1,
        zxid,
        time: 0,
        r#type: jute::ops::CREATE_SESSION,
    };
    jute::Encode::encode(&hdr, &mut e);
    jute::Encode::encode(&jute::txn::CreateSessionTxn { time_out: 4000 }, &mut e);
    QuorumPacket {
        r#type: PROPOSAL,
        zxid,
        data: Some(e.freeze()),
        authinfo: vec![],
    }
}

#[tokio::test]
async fn shell_follows_a_scripted_leader_then_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let db = MemDb::default();
    let (handle, mut control) = control_channel();
    let mut learner_db = db.clone();
    let task =
        tokio::spawn(
            async move { follow_leader(addr, config(), &mut learner_db, &mut control).await },
        );

    let mut p = Peer::accept(&l).await;
    let info = p.expect(FOLLOWERINFO, 0).await;
    assert_eq!(
        parse_learner_info(info.data.as_deref().unwrap()),
        (Some(3), Some(PROTOCOL_VERSION), Some(0))
    );
    // A request from the server before the sync is over must wait for UPTODATE.
    handle.send(packet::request(0x55, 1, jute::ops::SYNC, b"", vec![]));
    p.send(leader_info(1, PROTOCOL_VERSION)).await;
    let ack = p.expect(ACKEPOCH, 0).await;
    assert_eq!(ack_epoch_value(&ack).unwrap(), 0);

    p.send(packet(DIFF, Zxid::from(0))).await;
    p.send(proposal(0x1_0000_0001)).await;
    p.send(packet(NEWLEADER, Zxid::from(0x1_0000_0000))).await;
    p.expect(ACK, 0x1_0000_0000).await;
    p.expect(ACK, 0x1_0000_0001).await;
    let ev = db.events();
    let log = ev.iter().position(|e| e == "log 100000001").unwrap();
    assert_eq!(
        ev[log + 1],
        "sync",
        "the log is synced before the ACKs go out: {ev:?}"
    );

    p.send(packet(UPTODATE, Zxid::NONE)).await;
    p.send(packet(COMMIT, Zxid::from(0x1_0000_0001))).await;
    p.expect(ACK, 0x1_0000_0000).await;
    let req = p.expect(REQUEST, -1).await;
    assert_eq!(decode_request(&req).unwrap().0, 0x55);

    // Broadcast: a proposal is logged and acked; a ping is answered with the touches.
    p.send(proposal(0x1_0000_0002)).await;
    p.expect(ACK, 0x1_0000_0002).await;
    handle.touch(0x99, 3000);
    tokio::time::sleep(Duration::from_millis(20)).await;
    p.send(packet(PING, Zxid::from(0x1_0000_0002))).await;
    let ping = p.expect(PING, 0x1_0000_0002).await;
    assert_eq!(
        decode_touches(ping.data.as_deref().unwrap()).unwrap(),
        vec![(0x99, 3000)]
    );
    assert_eq!(
        db.events(),
        [
            "accepted 1",
            // The txns of the sync are durable before the new epoch is.
            "log 100000001",
            "sync",
            "current 1",
            "serving 1",
            "apply 100000001",
            "log 100000002",
            "sync"
        ]
    );

    // Then the leader goes silent: the learner gives up after syncLimit ticks.
    let started = std::time::Instant::now();
    let r = task.await.unwrap();
    assert!(matches!(r, Err(NetError::Timeout(..))), "{r:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn shell_reports_a_closed_connection_and_a_shutdown() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();

    let (_handle, mut control) = control_channel();
    let mut db = MemDb::default();
    let task =
        tokio::spawn(async move { follow_leader(addr, config(), &mut db, &mut control).await });
    let mut p = Peer::accept(&l).await;
    p.expect(FOLLOWERINFO, 0).await;
    drop(p);
    assert!(matches!(task.await.unwrap(), Ok(Exit::LeaderClosed)));

    let (handle, mut control) = control_channel();
    let mut db = MemDb::default();
    let task =
        tokio::spawn(async move { follow_leader(addr, config(), &mut db, &mut control).await });
    let mut p = Peer::accept(&l).await;
    p.expect(FOLLOWERINFO, 0).await;
    handle.shutdown();
    assert!(matches!(task.await.unwrap(), Ok(Exit::Shutdown)));

    // A leader that breaks the protocol ends the session with an error.
    let (_handle, mut control) = control_channel();
    let mut db = MemDb::default();
    let task =
        tokio::spawn(async move { follow_leader(addr, config(), &mut db, &mut control).await });
    let mut p = Peer::accept(&l).await;
    p.expect(FOLLOWERINFO, 0).await;
    p.send(packet(UPTODATE, Zxid::NONE)).await;
    assert!(matches!(task.await.unwrap(), Err(NetError::Protocol(_))));
}
