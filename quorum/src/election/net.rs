//! The election's tokio shell: Java 3.8's `QuorumCnxManager` around the [`Election`] state
//! machine.
//!
//! * One listener on our election address. A peer that connects sends the handshake
//!   ([`InitialMessage`]); if its sid is lower than ours we close the connection and connect
//!   back to it ourselves (to the address it announced), if higher we keep it, if equal we
//!   refuse it. An observer announcing `OBSERVER_ID` gets a made-up negative id.
//! * Connecting to a peer: TCP connect (5 s timeout, `zookeeper.cnxTimeout`), send our
//!   handshake in one write; if the peer's sid is higher we close at once and wait for it to
//!   connect back. So between two servers only the higher sid's connection survives.
//! * Per peer, a send slot holding one message (Java's queues of capacity 1: a newer
//!   notification replaces an unsent older one) and the last message sent, which a new
//!   connection sends first when nothing newer waits. Sending to a peer without a
//!   connection starts one; lost connections are re-established by the next send (the
//!   election resends at every notification timeout).
//! * One actor task owns the state machine, the connections and the timer; readers feed it
//!   decoded frames, writers drain the send slots.
//!
//! [`ElectionHandle`] is the API: bind, [`ElectionHandle::look_for_leader`] (one round, like
//! Java's `lookForLeader`), and afterwards the node keeps answering LOOKING peers with its
//! vote until shut down or asked to look again. [`probe`] asks any election port (Java's or
//! ours) for its current vote and state, as a non-voting stranger.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use jute::Zxid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::auth::{authenticate_learner, authenticate_server};
use crate::transport::{PeerStream, PeerWrite, Security};
use crate::verifier::QuorumMaj;

use super::fle::{Action, Election, FleConfig, Outcome, Vote};
use super::wire::{
    check_frame_length, encode_frame, Decoded, InitialMessage, Notification, ServerState,
    OBSERVER_ID, PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2,
};

/// Java's default `zookeeper.cnxTimeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the election talks to the network.
#[derive(Clone)]
pub struct NetConfig {
    /// Our id, the ensemble, the election timings.
    pub fle: FleConfig,
    /// Where to listen; default our own `server.N` election address.
    pub listen: Option<SocketAddr>,
    /// Connect timeout (`zookeeper.cnxTimeout`, 5 s).
    pub connect_timeout: Duration,
    /// How long an accepted connection may take to send its handshake (TLS included).
    pub handshake_timeout: Duration,
    /// Plaintext or TLS (`sslQuorum`, `portUnification`), and quorum SASL.
    pub security: Security,
}

impl NetConfig {
    /// Defaults for this election.
    pub fn new(fle: FleConfig) -> NetConfig {
        NetConfig {
            fle,
            listen: None,
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: CONNECT_TIMEOUT,
            security: Security::plain(),
        }
    }
}

/// A snapshot of the election's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// LOOKING, or the last outcome's state.
    pub state: ServerState,
    /// The last outcome's vote (before that, our initial vote).
    pub current_vote: Vote,
    /// The current round.
    pub logical_clock: i64,
}

enum Command {
    Start {
        last_zxid: Zxid,
        current_epoch: i64,
        reply: oneshot::Sender<Outcome>,
    },
    UpdatePeerEpoch(i64),
    SetView(QuorumMaj),
    HandOver {
        leader: i64,
        zxid: Zxid,
        reply: oneshot::Sender<Outcome>,
    },
    Status(oneshot::Sender<Status>),
    Shutdown,
}

enum Event {
    /// The connection, its handshake, and bytes read past them (quorum SASL looked for an
    /// auth packet and found the first frame).
    Accepted(PeerStream, InitialMessage, Vec<u8>),
    Connected(i64, PeerStream),
    ConnectDone(i64),
    /// Our connection to the server failed.
    Unreachable(i64),
    Frame(i64, Bytes),
    Closed(i64, u64),
}

/// A running election node.
pub struct ElectionHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// A newer config a peer gossiped while we were LOOKING (see [`Action::NewConfig`]).
    gossiped: Arc<Mutex<Option<QuorumMaj>>>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ElectionHandle {
    /// Binds the election port and starts answering peers (LOOKING, round 0, until
    /// [`ElectionHandle::look_for_leader`]).
    pub async fn bind(cfg: NetConfig) -> io::Result<ElectionHandle> {
        let my = cfg.fle.my_sid;
        let listen = match cfg.listen {
            Some(a) => a,
            None => {
                let me = cfg.fle.view.server(my).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("sid {my} is not in the configuration"),
                    )
                })?;
                tokio::net::lookup_host(me.election_addr())
                    .await?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, me.election_addr()))?
            }
        };
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        info!(my_sid = my, %local_addr, "election port listening");
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        let gossiped = Arc::new(Mutex::new(None));
        let accept = tokio::spawn(accept_loop(
            listener,
            events.clone(),
            cfg.handshake_timeout,
            cfg.security.clone(),
        ));
        let actor = Actor {
            election: Election::new(cfg.fle.clone()),
            cfg,
            local_addr,
            events,
            conns: HashMap::new(),
            slots: HashMap::new(),
            connecting: HashSet::new(),
            once_connected: HashSet::new(),
            announced: HashMap::new(),
            next_conn_id: 0,
            next_observer_id: -1,
            waiting: None,
            gossiped: gossiped.clone(),
            accept,
        };
        let task = tokio::spawn(actor.run(command_rx, event_rx));
        Ok(ElectionHandle {
            commands,
            gossiped,
            local_addr,
            task,
        })
    }

    /// The address the election port listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs one round (Java's `lookForLeader`) with our last logged zxid and current epoch;
    /// returns when it is decided. An outcome LOOKING means a peer gossiped a newer config:
    /// [`ElectionHandle::take_new_config`] has it, and the next round runs with it.
    pub async fn look_for_leader(
        &self,
        last_zxid: Zxid,
        current_epoch: i64,
    ) -> io::Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Start {
                last_zxid,
                current_epoch,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// The learner learned the leader's new epoch (`QuorumPeer.updateElectionVote`).
    pub fn update_peer_epoch(&self, peer_epoch: i64) {
        let _ = self.commands.send(Command::UpdatePeerEpoch(peer_epoch));
    }

    /// The member adopted `view` (`QuorumPeer.setQuorumVerifier`): voters and the config
    /// our notifications carry follow it. Older versions are ignored.
    pub fn set_view(&self, view: QuorumMaj) {
        let _ = self.commands.send(Command::SetView(view));
    }

    /// Instead of a round: a committed reconfig designated `leader` (see
    /// [`Election::hand_over`]); returns the outcome to act on.
    pub async fn hand_over(&self, leader: i64, zxid: Zxid) -> io::Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::HandOver {
                leader,
                zxid,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// The newer config that ended the last round, if one did.
    pub fn take_new_config(&self) -> Option<QuorumMaj> {
        self.gossiped.lock().unwrap().take()
    }

    /// The current state.
    pub async fn status(&self) -> io::Result<Status> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Status(reply))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// Closes the port and every connection.
    pub async fn shutdown(self) {
        let _ = self.commands.send(Command::Shutdown);
        let _ = self.task.await;
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the election has stopped")
}

/// One message waiting for a peer (capacity 1) and the last one sent to it.
#[derive(Default)]
struct SendSlot {
    state: Mutex<SlotState>,
    wake: Notify,
}

#[derive(Default)]
struct SlotState {
    pending: Option<Bytes>,
    last_sent: Option<Bytes>,
}

impl SendSlot {
    fn put(&self, frame: Bytes) {
        self.state.lock().unwrap().pending = Some(frame);
        self.wake.notify_one();
    }
}

struct Conn {
    id: u64,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

struct Actor {
    cfg: NetConfig,
    election: Election,
    local_addr: SocketAddr,
    events: mpsc::UnboundedSender<Event>,
    conns: HashMap<i64, Conn>,
    slots: HashMap<i64, Arc<SendSlot>>,
    connecting: HashSet<i64>,
    /// Servers we had an election connection with: one that refuses us now has gone down
    /// (a server never reached may just be starting, so the finalize wait stays for it).
    once_connected: HashSet<i64>,
    /// Election addresses peers announced in their handshakes (Java connects back to those).
    announced: HashMap<i64, String>,
    next_conn_id: u64,
    next_observer_id: i64,
    waiting: Option<oneshot::Sender<Outcome>>,
    gossiped: Arc<Mutex<Option<QuorumMaj>>>,
    accept: JoinHandle<()>,
}

impl Actor {
    fn my_sid(&self) -> i64 {
        self.cfg.fle.my_sid
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<Event>,
    ) {
        loop {
            let deadline = self.election.next_deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.command(cmd),
                },
                Some(ev) = events.recv() => self.event(ev),
                _ = sleep => {
                    let actions = self.election.tick(std::time::Instant::now());
                    self.act(actions);
                }
            }
        }
        self.accept.abort();
        self.conns.clear();
        debug!(my_sid = self.my_sid(), "election stopped");
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Start {
                last_zxid,
                current_epoch,
                reply,
            } => {
                self.waiting = Some(reply);
                let actions =
                    self.election
                        .start(std::time::Instant::now(), last_zxid, current_epoch);
                self.act(actions);
            }
            Command::UpdatePeerEpoch(e) => self.election.update_peer_epoch(e),
            Command::SetView(view) => self.election.set_view(view),
            Command::HandOver {
                leader,
                zxid,
                reply,
            } => {
                let _ = reply.send(self.election.hand_over(leader, zxid));
            }
            Command::Status(reply) => {
                let _ = reply.send(Status {
                    state: self.election.state(),
                    current_vote: self.election.current_vote(),
                    logical_clock: self.election.logical_clock(),
                });
            }
            Command::Shutdown => {}
        }
    }

    fn act(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { to, notification } => self.send(to, &notification),
                Action::Decided(outcome) => {
                    if let Some(reply) = self.waiting.take() {
                        let _ = reply.send(outcome);
                    }
                }
                Action::NewConfig(view) => {
                    *self.gossiped.lock().unwrap() = Some(view);
                    if let Some(reply) = self.waiting.take() {
                        let _ = reply.send(Outcome {
                            state: ServerState::Looking,
                            vote: self.election.current_vote(),
                        });
                    }
                }
            }
        }
    }

    /// `QuorumCnxManager.toSend`: queue (replacing anything unsent) and make sure there is a
    /// connection.
    fn send(&mut self, to: i64, n: &Notification) {
        let frame = encode_frame(&n.encode());
        self.slots.entry(to).or_default().put(frame);
        self.connect_one(to);
    }

    fn connect_one(&mut self, sid: i64) {
        if self.conns.contains_key(&sid) || self.connecting.contains(&sid) {
            return;
        }
        let addr = match self.announced.get(&sid) {
            Some(a) => a.clone(),
            None => match self.election.config().view.server(sid) {
                Some(s) => s.election_addr(),
                None => {
                    debug!(sid, "no address for this sid; not connecting");
                    return;
                }
            },
        };
        self.connecting.insert(sid);
        let hello = self.hello();
        let my = self.my_sid();
        let timeout = self.cfg.connect_timeout;
        let events = self.events.clone();
        let security = self.cfg.security.clone();
        // Java authenticates only to members of the voting view (`getVotingView().get(sid)`).
        let authenticate = self.election.config().view.is_voter(sid);
        tokio::spawn(async move {
            let result = async {
                // Java's initiateConnection: connect and (sslQuorum) finish the TLS
                // handshake within cnxTimeout, then send the initial message.
                let stream = tokio::time::timeout(timeout, async {
                    let tcp = TcpStream::connect(&addr).await?;
                    tcp.set_nodelay(true)?;
                    let peer = tcp.peer_addr()?;
                    let stream = security.transport.connect(tcp, peer).await?;
                    io::Result::Ok((stream, peer))
                })
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
                let (mut stream, peer) = stream;
                stream.write_all(&hello).await?;
                stream.flush().await?;
                if let (Some(auth), true) = (&security.auth, authenticate) {
                    let done = authenticate_learner(&mut stream, auth, peer);
                    if let Err(e) = tokio::time::timeout(timeout, done)
                        .await
                        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")))
                    {
                        // Java's initiateConnection wording.
                        error!("Exception while connecting, id: {sid}, addr: {peer}, closing learner connection: {e}");
                        return Err(e);
                    }
                }
                io::Result::Ok(stream)
            }
            .await;
            let event = match result {
                Ok(stream) if sid < my => Event::Connected(sid, stream),
                Ok(_) => {
                    debug!(
                        sid,
                        "have the smaller sid: dropping our connection, it will connect back"
                    );
                    Event::ConnectDone(sid)
                }
                Err(e) => {
                    // Java's initiateConnection wording.
                    warn!("Cannot open channel to {sid} at election address {addr}: {e}");
                    Event::Unreachable(sid)
                }
            };
            let _ = events.send(event);
        });
    }

    /// Our handshake: V1, our sid, our election address.
    fn hello(&self) -> Bytes {
        let my = self.my_sid();
        let (host, port) = match self.election.config().view.server(my) {
            Some(s) => (s.host.clone(), s.election_port),
            None => (self.local_addr.ip().to_string(), self.local_addr.port()),
        };
        InitialMessage::v1(my, &host, port).encode()
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Accepted(stream, hello, leftover) => {
                let sid = if hello.sid == OBSERVER_ID {
                    let id = self.next_observer_id;
                    self.next_observer_id -= 1;
                    info!(id, "observer without an id connected");
                    id
                } else {
                    hello.sid
                };
                if let Some((host, port)) = hello.addresses.first() {
                    let addr = if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    };
                    self.announced.insert(sid, addr);
                }
                self.election.peer_reachable(sid);
                if sid < self.my_sid() {
                    debug!(sid, "lower sid connected: closing, connecting back");
                    drop(stream);
                    self.conns.remove(&sid);
                    self.connect_one(sid);
                } else if sid == self.my_sid() {
                    warn!("connection from a server with our own id: configuration error?");
                } else {
                    self.install(sid, stream, leftover);
                }
            }
            Event::Connected(sid, stream) => {
                self.connecting.remove(&sid);
                self.election.peer_reachable(sid);
                self.install(sid, stream, Vec::new());
            }
            Event::ConnectDone(sid) => {
                self.connecting.remove(&sid);
                self.election.peer_reachable(sid);
            }
            Event::Unreachable(sid) => {
                self.connecting.remove(&sid);
                if self.once_connected.contains(&sid) {
                    let actions = self
                        .election
                        .peer_unreachable(std::time::Instant::now(), sid);
                    self.act(actions);
                }
            }
            Event::Frame(sid, payload) => match Notification::decode(&payload) {
                Ok(n) => {
                    let actions = self.election.receive(std::time::Instant::now(), sid, n);
                    self.act(actions);
                }
                Err(e) => warn!(sid, error = %e, "dropping a notification"),
            },
            Event::Closed(sid, id) => {
                if self.conns.get(&sid).map(|c| c.id) == Some(id) {
                    debug!(sid, "election connection closed");
                    self.conns.remove(&sid);
                }
            }
        }
    }

    /// Starts the workers of a new connection to `sid`, replacing any old one.
    fn install(&mut self, sid: i64, stream: PeerStream, leftover: Vec<u8>) {
        stream.set_nodelay();
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let (read, write) = stream.into_split();
        let slot = self.slots.entry(sid).or_default().clone();
        let read = std::io::Cursor::new(leftover).chain(read);
        let reader = tokio::spawn(read_frames(sid, id, read, self.events.clone()));
        let writer = tokio::spawn(write_frames(sid, id, write, slot, self.events.clone()));
        debug!(sid, id, "election connection up");
        self.once_connected.insert(sid);
        self.conns.insert(sid, Conn { id, reader, writer });
    }
}

async fn accept_loop(
    listener: TcpListener,
    events: mpsc::UnboundedSender<Event>,
    timeout: Duration,
    security: Security,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "election accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let events = events.clone();
        let security = security.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let handshake = async {
                let mut stream = security.transport.accept(tcp, peer).await?;
                let hello = read_handshake(&mut stream).await?;
                io::Result::Ok((stream, hello))
            };
            let (mut stream, hello) = match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(x)) => x,
                // Java's handleConnection: "Exception reading or writing challenge".
                Ok(Err(e)) => {
                    warn!(%peer, error = %e, "Exception reading or writing challenge");
                    return;
                }
                Err(_) => {
                    warn!(%peer, "election handshake timed out");
                    return;
                }
            };
            debug!(%peer, sid = hello.sid, "election connection request");
            // Java's handleConnection authenticates every connection here, before it looks
            // at the sid: whatever id the peer claims, it does not skip this.
            let leftover = match &security.auth {
                None => Vec::new(),
                Some(auth) => {
                    let done = authenticate_server(&mut stream, auth, peer);
                    match tokio::time::timeout(timeout, done).await {
                        Ok(Ok(leftover)) => leftover,
                        Ok(Err(e)) => {
                            error!("Exception handling connection, addr: {peer}, closing server connection: {e}");
                            return;
                        }
                        Err(_) => {
                            error!("Exception handling connection, addr: {peer}, closing server connection: SASL timed out");
                            return;
                        }
                    }
                }
            };
            let _ = events.send(Event::Accepted(stream, hello, leftover));
        });
    }
}

/// Reads exactly the handshake (what follows it belongs to the frame reader).
async fn read_handshake(stream: &mut PeerStream) -> io::Result<InitialMessage> {
    let mut buf = BytesMut::new();
    let mut first = [0u8; 8];
    stream.read_exact(&mut first).await?;
    buf.extend_from_slice(&first);
    let version = i64::from_be_bytes(first);
    if version < 0 && version != PROTOCOL_VERSION_V1 && version != PROTOCOL_VERSION_V2 {
        // Refused before reading on, as Java does.
        let e = super::wire::WireError::UnknownProtocolVersion(version);
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    if version < 0 {
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        buf.extend_from_slice(&head);
        let len = i32::from_be_bytes(head[8..12].try_into().unwrap());
        if len > 0 && len as usize <= super::wire::MAX_HANDSHAKE_ADDR_LEN {
            let mut addr = vec![0u8; len as usize];
            stream.read_exact(&mut addr).await?;
            buf.extend_from_slice(&addr);
        }
    }
    match InitialMessage::decode(&buf) {
        Ok(Decoded::Done(hello, _)) => Ok(hello),
        Ok(Decoded::Incomplete) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short handshake",
        )),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

async fn read_frame<R: tokio::io::AsyncRead + Unpin>(read: &mut R) -> io::Result<Bytes> {
    let len = read.read_i32().await?;
    let len = check_frame_length(len).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut payload = vec![0u8; len];
    read.read_exact(&mut payload).await?;
    Ok(Bytes::from(payload))
}

async fn read_frames<R: tokio::io::AsyncRead + Unpin>(
    sid: i64,
    id: u64,
    mut read: R,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        match read_frame(&mut read).await {
            Ok(payload) => {
                if events.send(Event::Frame(sid, payload)).is_err() {
                    return;
                }
            }
            Err(e) => {
                debug!(sid, error = %e, "election connection broken");
                let _ = events.send(Event::Closed(sid, id));
                return;
            }
        }
    }
}

async fn write_frames(
    sid: i64,
    id: u64,
    mut write: PeerWrite,
    slot: Arc<SendSlot>,
    events: mpsc::UnboundedSender<Event>,
) {
    // A new connection first repeats the last message sent, unless something newer waits.
    let resend = {
        let s = slot.state.lock().unwrap();
        if s.pending.is_none() {
            s.last_sent.clone()
        } else {
            None
        }
    };
    let result = async {
        if let Some(frame) = resend {
            write.write_all(&frame).await?;
            write.flush().await?;
        }
        loop {
            let next = {
                let mut s = slot.state.lock().unwrap();
                let next = s.pending.take();
                if let Some(frame) = &next {
                    s.last_sent = Some(frame.clone());
                }
                next
            };
            match next {
                Some(frame) => {
                    write.write_all(&frame).await?;
                    // A no-op on plaintext; pushes the TLS record out.
                    write.flush().await?;
                }
                None => slot.wake.notified().await,
            }
        }
    }
    .await;
    let result: io::Result<()> = result;
    if let Err(e) = result {
        debug!(sid, error = %e, "election send failed");
    }
    let _ = events.send(Event::Closed(sid, id));
}

/// Asks the election port at `addr` what its server currently thinks, the way Java answers
/// a server that is not a voter: connect as `probe_sid` (pick one higher than every member's,
/// so that the connection is kept), send a LOOKING notification in the 40-byte format, return
/// the first answer.
pub async fn probe(addr: &str, probe_sid: i64, timeout: Duration) -> io::Result<Notification> {
    tokio::time::timeout(timeout, async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let mut out = BytesMut::new();
        out.extend_from_slice(
            &InitialMessage::v1(probe_sid, &local.ip().to_string(), local.port()).encode(),
        );
        let mut payload = BytesMut::new();
        payload.extend_from_slice(&(ServerState::Looking as i32).to_be_bytes());
        payload.extend_from_slice(&probe_sid.to_be_bytes()); // leader
        payload.extend_from_slice(&0i64.to_be_bytes()); // zxid
        payload.extend_from_slice(&0i64.to_be_bytes()); // election epoch
        payload.extend_from_slice(&0i64.to_be_bytes()); // peer epoch
        payload.extend_from_slice(&0x1i32.to_be_bytes()); // ignored in the 40-byte format
        out.extend_from_slice(&encode_frame(&payload));
        stream.write_all(&out).await?;
        let (mut read, _write) = stream.into_split();
        loop {
            let frame = read_frame(&mut read).await?;
            match Notification::decode(&frame) {
                Ok(n) => return Ok(n),
                Err(e) => warn!(error = %e, "probe: undecodable answer"),
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer to the probe"))?
}
