//! The tokio shell of a learner: connect to the leader's quorum port, run the
//! [`Learner`] state machine on the bytes it sends, carry out its actions against a
//! [`LearnerDb`] ([`execute`]: log sync before the ACKs go out) and write its packets back.
//!
//! One call of [`follow_leader`] is one session with one leader (Java's `Follower.followLeader`
//! / `Observer.observeLeader`): it returns when the leader closes the connection, goes silent
//! for longer than the learner's read timeout (`initLimit` ticks during sync, `syncLimit`
//! after), breaks the protocol, the database fails, or the server asks it to stop. The caller
//! then goes back to leader election.
//!
//! The database calls are made on the task (they may fsync), inside `block_in_place` on a
//! multi-threaded runtime so that the worker's other tasks move to another thread meanwhile.

use crate::auth::authenticate_learner;
use crate::transport::{self, PeerStream, PeerWrite, Security, SharedTransport};
use crate::zab::db::{blocking, execute, DbError, LearnerDb};
use crate::zab::learner::{Learner, LearnerConfig, Phase};
use crate::zab::packet::encode_packet;
use crate::zab::Error;
use bytes::BytesMut;
use jute::quorum::QuorumPacket;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Java's `leaderConnectDelayDuringRetryMs` default.
pub const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Java tries to connect to the leader 5 times.
pub const CONNECT_TRIES: u32 = 5;
/// Our first retry comes this soon (a leader just elected opens its port within
/// milliseconds); each next one waits twice as long, up to [`CONNECT_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(10);

/// How long the retries may wait in all: Java's 5 tries 100 ms apart, plus the finalize
/// wait our election may have skipped (a Java leader decides up to 200 ms after we do).
pub const CONNECT_RETRY_BUDGET: Duration = Duration::from_millis(
    CONNECT_RETRY_DELAY.as_millis() as u64 * (CONNECT_TRIES as u64 - 1)
        + crate::election::fle::FINALIZE_WAIT.as_millis() as u64,
);

/// The pause before retry `attempt` (1, 2, ...): 10, 20, 40, 80, then 100 ms.
pub fn retry_delay(attempt: u32) -> Duration {
    let doubled = FIRST_RETRY_DELAY.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    doubled.min(CONNECT_RETRY_DELAY)
}

/// What the server tells a running learner.
#[derive(Debug)]
pub enum Control {
    /// A client session on this server was active (goes into the next PING reply).
    Touch { session_id: i64, timeout: i32 },
    /// Send a packet to the leader (REQUEST, REVALIDATE). Held back until the learner is
    /// synced (packets during sync would break the leader's handshake).
    Send(QuorumPacket),
    /// Start a new txn log file with the next entry (the server took a snapshot: Java's
    /// `rollLog` in `SyncRequestProcessor`), so that purging can remove the old ones.
    RollLog,
    /// Close the connection and return [`Exit::Shutdown`].
    Shutdown,
}

/// The server's side of the control channel.
#[derive(Debug, Clone)]
pub struct LearnerHandle {
    tx: mpsc::UnboundedSender<Control>,
}

impl LearnerHandle {
    pub fn touch(&self, session_id: i64, timeout: i32) {
        let _ = self.tx.send(Control::Touch {
            session_id,
            timeout,
        });
    }
    pub fn send(&self, qp: QuorumPacket) {
        let _ = self.tx.send(Control::Send(qp));
    }
    /// See [`Control::RollLog`].
    pub fn roll_log(&self) {
        let _ = self.tx.send(Control::RollLog);
    }
    pub fn shutdown(&self) {
        let _ = self.tx.send(Control::Shutdown);
    }
}

/// A control channel: the handle for the server, the receiver for [`follow_leader`].
pub fn control_channel() -> (LearnerHandle, mpsc::UnboundedReceiver<Control>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (LearnerHandle { tx }, rx)
}

/// Why a session with the leader ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// [`Control::Shutdown`].
    Shutdown,
    /// The leader closed the connection.
    LeaderClosed,
}

/// Why a session with the leader failed.
#[derive(Debug)]
pub enum NetError {
    /// No connection to the leader's quorum port after every try.
    Connect(io::Error),
    Io(io::Error),
    /// The leader sent nothing for this long.
    Timeout(Duration, Phase),
    Protocol(Error),
    Db(DbError),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Connect(e) => write!(f, "cannot connect to the leader: {e}"),
            NetError::Io(e) => write!(f, "connection to the leader failed: {e}"),
            NetError::Timeout(d, p) => write!(f, "no packet from the leader for {d:?} ({p:?})"),
            NetError::Protocol(e) => write!(f, "protocol error: {e}"),
            NetError::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for NetError {}

/// Connect to the leader's quorum port as Java's `LeaderConnector` does, but retrying
/// sooner: tries [`retry_delay`] apart until they have waited [`CONNECT_RETRY_BUDGET`] in
/// all, within `limit`
/// (`tickTime * initLimit`); TCP_NODELAY on.
pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, NetError> {
    connect_over(addr, &transport::plain(), limit)
        .await
        .and_then(|s| match s {
            PeerStream::Plain(tcp) => Ok(tcp),
            // The plain transport never encrypts; not worth a panic if that ever changed.
            PeerStream::Secure(_) => Err(NetError::Connect(io::Error::other(
                "the plaintext transport returned an encrypted stream",
            ))),
        })
}

/// [`connect`], each attempt upgraded by `transport` (TLS: `sslQuorum`; a failed handshake
/// counts as a failed attempt, as in Java's `Learner.sockConnect`).
pub async fn connect_over(
    addr: SocketAddr,
    transport: &SharedTransport,
    limit: Duration,
) -> Result<PeerStream, NetError> {
    let deadline = Instant::now() + limit;
    let mut last = io::Error::new(
        io::ErrorKind::TimedOut,
        "connectToLeader exceeded on retries",
    );
    let budget = CONNECT_RETRY_BUDGET;
    let mut waited = Duration::ZERO;
    for attempt in 0.. {
        if attempt > 0 {
            let pause = retry_delay(attempt);
            if waited >= budget || Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            waited += pause;
        }
        let attempt_io = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            transport.connect(tcp, addr).await
        };
        match tokio::time::timeout_at(deadline, attempt_io).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => {
                tracing::warn!("connecting to the leader at {addr} (try {attempt}): {e}");
                last = e;
            }
            Err(_) => break,
        }
    }
    Err(NetError::Connect(last))
}

/// Connect to the leader at `addr` and follow (or observe) it until the session ends.
pub async fn follow_leader<D: LearnerDb + ?Sized>(
    addr: SocketAddr,
    cfg: LearnerConfig,
    db: &mut D,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<Exit, NetError> {
    follow_leader_over(addr, &Security::plain(), cfg, db, control).await
}

/// [`follow_leader`] secured as `security` says: TLS (`sslQuorum`), then quorum SASL
/// before FOLLOWERINFO (Java's `Learner.connectToLeader`).
pub async fn follow_leader_over<D: LearnerDb + ?Sized>(
    addr: SocketAddr,
    security: &Security,
    cfg: LearnerConfig,
    db: &mut D,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<Exit, NetError> {
    let limit = cfg.tick_time * cfg.init_limit.max(1);
    let mut stream = connect_over(addr, &security.transport, limit).await?;
    tracing::info!("connected to the leader at {addr}");
    if let Some(auth) = &security.auth {
        let done = authenticate_learner(&mut stream, auth, addr);
        tokio::time::timeout(limit, done)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "quorum SASL timed out",
                ))
            })
            .map_err(NetError::Connect)?;
    }
    follow_stream(stream, cfg, db, control).await
}

/// Run one learner session on an established connection.
pub async fn follow<D: LearnerDb + ?Sized>(
    stream: TcpStream,
    cfg: LearnerConfig,
    db: &mut D,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<Exit, NetError> {
    follow_stream(PeerStream::Plain(stream), cfg, db, control).await
}

/// [`follow`] on a plaintext or an encrypted connection.
pub async fn follow_stream<D: LearnerDb + ?Sized>(
    stream: PeerStream,
    cfg: LearnerConfig,
    db: &mut D,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<Exit, NetError> {
    let (mut rd, mut wr) = stream.into_split();
    let mut learner = Learner::new(cfg, db.persisted_state());
    if db.snap_wanted() {
        learner.ask_for_snap();
    }
    let mut outbox = Vec::new();
    let mut held_back = Vec::new();
    let mut wire = BytesMut::new();
    execute(db, learner.start(), &mut outbox).map_err(NetError::Db)?;
    write(&mut wr, &mut outbox, &mut wire).await?;

    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut control_open = true;
    let mut deadline = Instant::now() + learner.read_timeout();
    loop {
        tokio::select! {
            r = tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)) => {
                match r {
                    Err(_) => return Err(NetError::Timeout(learner.read_timeout(), learner.phase())),
                    Ok(Err(e)) => return Err(NetError::Io(e)),
                    Ok(Ok(0)) => return Ok(Exit::LeaderClosed),
                    Ok(Ok(_)) => {}
                }
                let mut actions = Vec::new();
                let res = learner.receive(&mut buf, &mut actions);
                // What came before a bad packet is still carried out (as Java would have).
                blocking(|| execute(db, actions, &mut outbox)).map_err(NetError::Db)?;
                res.map_err(NetError::Protocol)?;
                if learner.phase() == Phase::Broadcast {
                    outbox.append(&mut held_back);
                }
                write(&mut wr, &mut outbox, &mut wire).await?;
                deadline = Instant::now() + learner.read_timeout();
                if buf.capacity() - buf.len() < 16 * 1024 {
                    buf.reserve(64 * 1024);
                }
            }
            c = control.recv(), if control_open => {
                // Everything the server queued meanwhile goes out in the same write.
                let mut next = c;
                let mut taken = 0;
                loop {
                    match next {
                        None => {
                            control_open = false;
                            break;
                        }
                        Some(Control::Touch { session_id, timeout }) => {
                            learner.touch(session_id, timeout)
                        }
                        Some(Control::Send(qp)) => {
                            if learner.phase() == Phase::Broadcast {
                                outbox.push(qp);
                            } else {
                                held_back.push(qp);
                            }
                        }
                        Some(Control::RollLog) => {
                            blocking(|| db.roll_log()).map_err(NetError::Db)?;
                        }
                        Some(Control::Shutdown) => {
                            write(&mut wr, &mut outbox, &mut wire).await?;
                            let _ = wr.shutdown().await;
                            return Ok(Exit::Shutdown);
                        }
                    }
                    taken += 1;
                    if taken == MAX_CONTROL_BATCH {
                        break;
                    }
                    match control.try_recv() {
                        Ok(c) => next = Some(c),
                        Err(_) => break,
                    }
                }
                write(&mut wr, &mut outbox, &mut wire).await?;
            }
        }
    }
}

/// Most control messages taken before writing to the leader.
const MAX_CONTROL_BATCH: usize = 1024;

async fn write(
    wr: &mut PeerWrite,
    outbox: &mut Vec<QuorumPacket>,
    wire: &mut BytesMut,
) -> Result<(), NetError> {
    if outbox.is_empty() {
        return Ok(());
    }
    wire.clear();
    for p in outbox.drain(..) {
        tracing::trace!(
            "to leader: {} {}",
            crate::zab::packet::type_name(p.r#type),
            jute::Zxid::from(p.zxid)
        );
        encode_packet(&p, wire);
    }
    wr.write_all(wire).await.map_err(NetError::Io)?;
    // A no-op on plaintext; pushes the TLS records out.
    wr.flush().await.map_err(NetError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_soon_and_wait_as_long_as_java_in_all() {
        let delays: Vec<u64> = (1..=7).map(|a| retry_delay(a).as_millis() as u64).collect();
        assert_eq!(delays, [10, 20, 40, 80, 100, 100, 100]);
        assert_eq!(retry_delay(u32::MAX), CONNECT_RETRY_DELAY);
        // Java waits 4 x 100 ms between its 5 tries, and decides 200 ms later than we may.
        assert_eq!(CONNECT_RETRY_BUDGET, Duration::from_millis(600));
        let mut waited = Duration::ZERO;
        let mut tries = 1;
        while waited < CONNECT_RETRY_BUDGET {
            waited += retry_delay(tries);
            tries += 1;
        }
        assert_eq!((tries, waited.as_millis()), (10, 650));
    }

    #[tokio::test]
    async fn a_port_that_opens_late_is_still_reached() {
        // A reserved port, opened 250 ms later (within Java's 400 ms).
        let port = compat_tests::ports::free_port().unwrap();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let opener = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let l = tokio::net::TcpListener::bind(addr).await.unwrap();
            let _ = l.accept().await;
        });
        let t0 = std::time::Instant::now();
        connect(addr, Duration::from_secs(5)).await.unwrap();
        assert!(
            t0.elapsed() < Duration::from_millis(400),
            "{:?}",
            t0.elapsed()
        );
        opener.await.unwrap();
    }
}
