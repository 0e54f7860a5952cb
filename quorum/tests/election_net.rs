//! The election shell's connection rules, checked with hand-driven fake peers (no Java):
//! only the connection from the higher sid survives, the handshake is Java's V1, a new
//! connection gets the message that waited for it, and a lower sid that connects is called
//! back at the address it announced.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use zk_quorum::election::fle::FleConfig;
use zk_quorum::election::net::{ElectionHandle, NetConfig};
use zk_quorum::election::wire::{
    encode_frame, Decoded, InitialMessage, Notification, Protocol, ServerState,
};
use zk_quorum::verifier::{QuorumMaj, QuorumServer};

const T: Duration = Duration::from_secs(10);

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn view(election_ports: &[(i64, u16)]) -> QuorumMaj {
    QuorumMaj::new(
        election_ports
            .iter()
            .map(|(sid, port)| {
                QuorumServer::parse(*sid, &format!("127.0.0.1:1{sid}:{port}")).unwrap()
            })
            .collect(),
        0,
    )
}

async fn read_hello(s: &mut TcpStream) -> InitialMessage {
    let mut buf = Vec::new();
    loop {
        if let Decoded::Done(m, _) = InitialMessage::decode(&buf).unwrap() {
            return m;
        }
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        buf.push(b[0]);
    }
}

async fn read_notification(s: &mut TcpStream) -> Notification {
    let len = s.read_i32().await.unwrap();
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await.unwrap();
    Notification::decode(&payload).unwrap()
}

/// Ours is sid 2 between fake peers 1 and 3.
async fn ours_between_fakes() -> (ElectionHandle, TcpListener, TcpListener, u16) {
    let (fake1, p1) = listener().await;
    let (fake3, p3) = listener().await;
    let (probe, p2) = listener().await;
    drop(probe); // free port for ours
    let v = view(&[(1, p1), (2, p2), (3, p3)]);
    let ours = ElectionHandle::bind(NetConfig::new(FleConfig::new(2, v)))
        .await
        .unwrap();
    (ours, fake1, fake3, p2)
}

#[tokio::test]
async fn connects_to_lower_sids_and_keeps_the_connection() {
    let (ours, fake1, _fake3, p2) = ours_between_fakes().await;
    let election = tokio::spawn(async move {
        let o = ours.look_for_leader(jute::Zxid::from(0x7), 0).await;
        (ours, o)
    });
    let (mut s, _) = tokio::time::timeout(T, fake1.accept())
        .await
        .unwrap()
        .unwrap();
    let hello = read_hello(&mut s).await;
    assert_eq!(hello.protocol, Protocol::V1);
    assert_eq!(hello.sid, 2);
    assert_eq!(hello.addresses, vec![("127.0.0.1".to_string(), p2)]);
    let n = tokio::time::timeout(T, read_notification(&mut s))
        .await
        .unwrap();
    assert_eq!(n.server_state(), Some(ServerState::Looking));
    assert_eq!(
        (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        (2, 0x7, 1, 0)
    );
    // Agree with it: {1, 2} is a quorum of 3, so ours leads.
    let agree = Notification::new(
        ServerState::Looking,
        2,
        0x7,
        1,
        0,
        n.config.clone().unwrap(),
    );
    s.write_all(&encode_frame(&agree.encode())).await.unwrap();
    let (ours, outcome) = tokio::time::timeout(T, election).await.unwrap().unwrap();
    assert_eq!(outcome.unwrap().state, ServerState::Leading);
    ours.shutdown().await;
}

#[tokio::test]
async fn a_higher_sid_is_left_to_connect_back() {
    let (ours, _fake1, fake3, p2) = ours_between_fakes().await;
    let election = tokio::spawn(async move {
        let o = ours.look_for_leader(jute::Zxid::from(0x7), 0).await;
        (ours, o)
    });
    // Ours calls 3, says who it is, and hangs up.
    let (mut s, _) = tokio::time::timeout(T, fake3.accept())
        .await
        .unwrap()
        .unwrap();
    let hello = read_hello(&mut s).await;
    assert_eq!(hello.sid, 2);
    let mut rest = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty(), "nothing after the handshake: {rest:?}");
    // 3 connects back: ours keeps that connection and sends the notification that waited.
    let mut back = TcpStream::connect(("127.0.0.1", p2)).await.unwrap();
    back.write_all(&InitialMessage::v1(3, "127.0.0.1", 1).encode())
        .await
        .unwrap();
    let n = tokio::time::timeout(T, read_notification(&mut back))
        .await
        .unwrap();
    assert_eq!((n.leader, n.election_epoch), (2, 1));
    // 3 proposes itself (better sid): ours adopts it and tells 3.
    let better = Notification::new(
        ServerState::Looking,
        3,
        0x7,
        1,
        0,
        n.config.clone().unwrap(),
    );
    back.write_all(&encode_frame(&better.encode()))
        .await
        .unwrap();
    let n = tokio::time::timeout(T, read_notification(&mut back))
        .await
        .unwrap();
    assert_eq!(n.leader, 3);
    let (ours, outcome) = tokio::time::timeout(T, election).await.unwrap().unwrap();
    let outcome = outcome.unwrap();
    assert_eq!(
        (outcome.state, outcome.vote.leader),
        (ServerState::Following, 3)
    );
    ours.shutdown().await;
}

#[tokio::test]
async fn a_lower_sid_that_connects_is_called_back_at_its_announced_address() {
    let (ours, _fake1, _fake3, p2) = ours_between_fakes().await;
    // The real listener of "1" is elsewhere than the configuration says: the handshake tells.
    let (announced, pa) = listener().await;
    let mut s = TcpStream::connect(("127.0.0.1", p2)).await.unwrap();
    s.write_all(&InitialMessage::v1(1, "127.0.0.1", pa).encode())
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty(), "ours closed the lower sid's connection");
    let (mut back, _) = tokio::time::timeout(T, announced.accept())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_hello(&mut back).await.sid, 2);
    ours.shutdown().await;
}

#[tokio::test]
async fn answers_a_stranger_and_refuses_garbage() {
    let (ours, _fake1, _fake3, p2) = ours_between_fakes().await;
    // A bad protocol version is dropped without an answer.
    let mut bad = TcpStream::connect(("127.0.0.1", p2)).await.unwrap();
    bad.write_all(&(-7i64).to_be_bytes()).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(T, bad.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    // A stranger (sid 99) gets our current vote, round and state while we look (alone).
    let ours = std::sync::Arc::new(ours);
    let looking = {
        let ours = ours.clone();
        tokio::spawn(async move { ours.look_for_leader(jute::Zxid::from(0x7), 0).await })
    };
    let n = zk_quorum::election::net::probe(&format!("127.0.0.1:{p2}"), 99, T)
        .await
        .unwrap();
    assert_eq!(n.server_state(), Some(ServerState::Looking));
    assert_eq!(
        (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        (2, 0x7, 1, 0)
    );
    looking.abort();
}
