//! Client network: accepts TCP connections, answers four-letter words, splits the stream
//! into frames (with the jute.maxbuffer limit) and feeds them to the pipeline (through the
//! shell's channel; four-letter words with their probes measured here); a writer
//! task per connection sends queued replies in batches (one syscall for many replies).
//! The reader stops reading while `flow` says so (unsent replies past the budget, Java's
//! globalOutstandingLimit) and lets requests into the pipeline only as Java's
//! RequestThrottler would; the writer tells the pipeline when it has drained.
//!
//! TLS (Java's NettyServerCnxnFactory with its SslHandler / DualModeSslHandler): a listener
//! with a [`ClientTls`] runs the handshake first (`secureClientPort`), or only when the first
//! bytes look like a TLS record (`client.portUnification`), then the same connection code
//! runs over the decrypted stream. The client certificate's subject becomes the session's
//! `x509` id (and `super` for `X509AuthenticationProvider.superUser`) before the
//! ConnectRequest, as Java's CertificateVerifier adds it. The plaintext path is generic code
//! instantiated for the TCP halves: no boxing, no extra copy.
//!
//! A reconfig that gives this member another client address moves the plaintext listener
//! ([`ClientPort::move_to`], Java's `NIOServerCnxnFactory.reconfigure`): the old listening
//! socket is closed first, then the new address bound; connections already accepted keep
//! their sessions. A failed bind is logged and leaves no listener until the next move.

use crate::auth::{AuthId, SCHEME_SUPER, SCHEME_X509};
use crate::config::CompatVersion;
use crate::config::Config;
use crate::flow::{counts_as_request, ConnFlow, ServerFlow};
use crate::pipeline::{ConnId, Input};
use crate::shell::{Out, ToPipeline};
use crate::tls::config::{server_config, Defaults, Reloading};
use crate::tls::ClientAuth;
use bytes::{Buf, Bytes, BytesMut};
use jute::frame::FrameCodec;
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Decoder;
use tracing::{debug, error, info, warn};

/// Connections allowed per client IP (maxClientCnxns; 0 = unlimited).
#[derive(Clone)]
struct PerIpLimit {
    max: u32,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl PerIpLimit {
    fn try_acquire(&self, ip: IpAddr) -> bool {
        let mut m = self.counts.lock().unwrap();
        let n = m.entry(ip).or_insert(0);
        if self.max != 0 && *n >= self.max {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, ip: IpAddr) {
        let mut m = self.counts.lock().unwrap();
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

/// How long a connection may stay without a session (Java's sessionless timeout, 10 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `stmk` waits for its 8-byte argument (Java does a single read; a client sends the
/// word and the mask together).
const STMK_ARG_WAIT: Duration = Duration::from_secs(1);

/// TLS on one client listener: the rustls configuration for each new handshake, and how
/// its clients are authenticated.
pub struct ClientTls {
    config: Reloading<rustls::ServerConfig>,
    /// `client.portUnification`: plaintext clients are served too.
    plaintext_too: bool,
    client_auth: ClientAuth,
    /// The `x509` provider is registered (see `Config::x509_provider`).
    x509_provider: bool,
    /// A trust store is configured (Java's X509AuthenticationProvider has a trust manager).
    trust_store: bool,
    super_user: Option<String>,
    compat: CompatVersion,
    /// 3.9 without `client.certReload` nor `ssl.authProvider`: the x509 provider keeps the
    /// trust store read at startup while new handshakes read the files anew, so a
    /// certificate is re-checked against the startup trust store.
    x509_trust: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

impl ClientTls {
    /// From the `ssl.*` keys; `Err` refuses the start, as Java fails to create its
    /// SslContext (or, without Netty, to configure a secure factory at all).
    pub fn from_config(cfg: &Config, plaintext_too: bool) -> Result<Arc<ClientTls>, String> {
        if cfg.server_cnxn_factory.as_deref().map(str::trim) != Some(crate::config::NETTY_FACTORY) {
            return Err("Unexpected exception, exiting abnormally: \
                        java.lang.UnsupportedOperationException: SSL isn't supported in \
                        NIOServerCnxn (TLS on the client port needs \
                        serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory)"
                .to_string());
        }
        if let Some(p) = cfg.ssl.auth_provider.as_deref() {
            if p != SCHEME_X509 {
                return Err(format!(
                    "No auth provider configured for the SSL authentication scheme '{p}'."
                ));
            }
        }
        let defaults = match cfg.compat_version {
            CompatVersion::V3_8 => Defaults::V3_8,
            CompatVersion::V3_9 => Defaults::V3_9,
        };
        // 3.9.3 builds the client port's SslContext for every connection: without
        // `ssl.authProvider` from the store files (changed files apply with or without
        // client.certReload), with it from the x509 provider's key and trust managers, which
        // read the files once (again only when client.certReload's watcher re-creates the
        // provider). 3.8.0 builds it once.
        let reload = cfg.compat_version == CompatVersion::V3_9
            && (cfg.ssl.auth_provider.is_none() || cfg.client_cert_reload);
        let config = Reloading::new(&cfg.ssl, reload, move |s| server_config(s, defaults))?;
        let x509_trust = match (reload, cfg.client_cert_reload, cfg.ssl.client_auth) {
            (true, false, ClientAuth::Want | ClientAuth::Need)
                if cfg.ssl.trust_store_location.is_some() =>
            {
                Some(crate::tls::config::trust_store_verifier(&cfg.ssl)?)
            }
            _ => None,
        };
        Ok(Arc::new(ClientTls {
            config,
            plaintext_too,
            client_auth: cfg.ssl.client_auth,
            x509_provider: cfg.x509_provider(),
            trust_store: cfg.ssl.trust_store_location.is_some(),
            super_user: cfg.x509_super_user.clone(),
            compat: cfg.compat_version,
            x509_trust,
        }))
    }

    /// The handshake, then the certificate check of Java's CertificateVerifier: the ids to
    /// add, or `None` (logged) when the connection is to be closed.
    async fn accept(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
    ) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, Vec<AuthId>)> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.current());
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                error!(%addr, "Unsuccessful handshake with session 0x0: {e}");
                return None;
            }
            Err(_) => {
                error!(%addr, "Unsuccessful handshake with session 0x0: handshake timed out after {HANDSHAKE_TIMEOUT:?}");
                return None;
            }
        };
        let (_, conn) = tls.get_ref();
        let chain = conn.peer_certificates().unwrap_or(&[]);
        let cert = chain.first().cloned();
        if let (Some(v), Some(leaf)) = (&self.x509_trust, &cert) {
            let now = rustls::pki_types::UnixTime::now();
            if let Err(e) = v.verify_client_cert(leaf, &chain[1..], now) {
                error!(%addr, "Failed to trust certificate: {e}");
                return None;
            }
        }
        let mut ids = Vec::new();
        match (self.client_auth, cert) {
            (ClientAuth::None, _) | (ClientAuth::Want, None) => {}
            (ClientAuth::Need, None) => {
                error!(%addr, "Error getting peer certificates: peer not authenticated");
                return None;
            }
            (_, Some(cert)) => {
                if !self.x509_provider {
                    error!(%addr, "X509 Auth provider not found: x509");
                    return None;
                }
                if !self.trust_store {
                    error!(%addr, "No trust manager available to authenticate session 0x0");
                    return None;
                }
                let subject = match crate::tls::x509::subject_rfc2253(&cert) {
                    Ok(s) => s,
                    Err(e) => {
                        error!(%addr, "Failed to trust certificate for session 0x0: {e}");
                        return None;
                    }
                };
                if self.super_user.as_deref() == Some(subject.as_str()) {
                    info!("Authenticated Id '{subject}' as super user");
                    ids.push(AuthId::new(SCHEME_SUPER, subject.clone()));
                }
                let word = match self.compat {
                    CompatVersion::V3_8 => "Scheme",
                    CompatVersion::V3_9 => "scheme",
                };
                info!("Authenticated Id '{subject}' for {word} 'x509'");
                ids.push(AuthId::new(SCHEME_X509, subject));
            }
        }
        Some((tls, ids))
    }
}

/// Whether a connection's first bytes are a TLS record (Netty's `SslHandler.isEncrypted`
/// as DualModeSslHandler uses it): it waits for five bytes unless the first one already
/// is not a TLS handshake record (a four-letter word). `None`: closed or silent too long.
async fn starts_with_tls(stream: &TcpStream) -> Option<bool> {
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut head = [0u8; 5];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut head))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        if head[0] != 0x16 {
            return Some((20..=23).contains(&head[0]) && n >= 2 && head[1] == 3);
        }
        if n >= 5 {
            return Some(head[1] == 3);
        }
        // peek returns what is there; wait a little for the rest of the record header.
        tokio::time::sleep_until(
            (tokio::time::Instant::now() + Duration::from_millis(2)).min(deadline),
        )
        .await;
    }
}

/// Serve one accepted connection: plaintext, or TLS first when the listener says so.
async fn accepted(
    stream: TcpStream,
    addr: SocketAddr,
    id: ConnId,
    core: mpsc::Sender<ToPipeline>,
    flow: Arc<ConnFlow>,
    cfg: Arc<Config>,
    tls: Option<Arc<ClientTls>>,
) {
    let tls = match tls {
        Some(t) if t.plaintext_too => match starts_with_tls(&stream).await {
            None => return,
            Some(true) => Some(t),
            Some(false) => None,
        },
        other => other,
    };
    match tls {
        None => {
            let (rd, wr) = stream.into_split();
            connection(rd, wr, addr, id, core, flow, cfg, Vec::new()).await;
        }
        Some(t) => {
            if let Some((stream, ids)) = t.accept(stream, addr).await {
                let (rd, wr) = tokio::io::split(stream);
                connection(rd, wr, addr, id, core, flow, cfg, ids).await;
            }
        }
    }
}

/// The port the plaintext client listener is bound to, as `conf` and the AdminServer's
/// `configuration` show `clientPort` (Java's `getLocalPort()`): the new port after a
/// reconfig moved it, -1 after a failed move (Java's unbound socket), 0 before [`start`]
/// (then the configured port is shown). One zkserver per process.
static BOUND_CLIENT_PORT: AtomicI32 = AtomicI32::new(0);

/// [`BOUND_CLIENT_PORT`], `None` before the listener is up.
pub fn bound_client_port() -> Option<i32> {
    Some(BOUND_CLIENT_PORT.load(Ordering::Relaxed)).filter(|&p| p != 0)
}

fn set_bound_client_port(listener: Option<&TcpListener>) {
    let port = listener
        .and_then(|l| l.local_addr().ok())
        .map_or(-1, |a| i32::from(a.port()));
    BOUND_CLIENT_PORT.store(port, Ordering::Relaxed);
}

/// Where a running server's `clientPort` listener should listen next: `(host, port)` of a
/// `server.N=...;host:port` line (host `0.0.0.0` for every interface).
#[derive(Clone, Debug)]
pub struct ClientPort(mpsc::UnboundedSender<(String, u16)>);

impl ClientPort {
    /// Close the plaintext client listener and listen on `host:port` instead; a no-op when
    /// it already listens there. Ignored once the server stopped accepting.
    pub fn move_to(&self, host: &str, port: u16) {
        let _ = self.0.send((host.to_string(), port));
    }
}

/// Serve the client ports: `clientPort` on `plain` (also TLS with `client.portUnification`)
/// and, when set, `secureClientPort` (TLS only). `Err`: the start is refused with this text.
/// The answer moves the plaintext listener (reconfig).
pub async fn start(
    cfg: &Config,
    plain: TcpListener,
    core: mpsc::Sender<ToPipeline>,
) -> Result<ClientPort, String> {
    let netty =
        cfg.server_cnxn_factory.as_deref().map(str::trim) == Some(crate::config::NETTY_FACTORY);
    let unified = match (cfg.client_port_unification, netty) {
        (true, true) => Some(ClientTls::from_config(cfg, true)?),
        (true, false) => {
            warn!(
                "client.portUnification is ignored: Java's NIOServerCnxnFactory does not read it \
                 (serverCnxnFactory={} needed)",
                crate::config::NETTY_FACTORY
            );
            None
        }
        (false, _) => None,
    };
    let secure = if cfg.secure_client_port != 0 {
        let tls = ClientTls::from_config(cfg, false)?;
        let ip = cfg
            .secure_client_port_address
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let addr = SocketAddr::new(ip, cfg.secure_client_port);
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot bind secure client port {addr}: {e}"))?;
        info!("binding to port {addr} (secure)");
        Some((l, tls))
    } else {
        None
    };
    let flow = ServerFlow::new(crate::flow::Limits::from_config(cfg));
    let cfg = Arc::new(cfg.clone());
    let (moves_tx, moves) = mpsc::unbounded_channel();
    set_bound_client_port(Some(&plain));
    tokio::spawn(serve(
        Listening::new(plain, Some(moves)),
        core.clone(),
        flow.clone(),
        cfg.clone(),
        unified,
    ));
    if let Some((l, tls)) = secure {
        tokio::spawn(serve(Listening::new(l, None), core, flow, cfg, Some(tls)));
    }
    Ok(ClientPort(moves_tx))
}

/// A listener that a reconfig may move: `None` after a failed bind.
pub struct Listening {
    listener: Option<TcpListener>,
    moves: Option<mpsc::UnboundedReceiver<(String, u16)>>,
}

impl Listening {
    pub fn new(
        listener: TcpListener,
        moves: Option<mpsc::UnboundedReceiver<(String, u16)>>,
    ) -> Self {
        Listening {
            listener: Some(listener),
            moves,
        }
    }

    /// The next connection, moving the listener on the way when asked to.
    async fn accept(&mut self) -> std::io::Result<(TcpStream, SocketAddr)> {
        loop {
            let (listener, moves) = (self.listener.as_ref(), self.moves.as_mut());
            let next_move = async {
                match moves {
                    Some(rx) => match rx.recv().await {
                        Some(to) => to,
                        None => std::future::pending().await,
                    },
                    None => std::future::pending().await,
                }
            };
            let accepted = async {
                match listener {
                    Some(l) => l.accept().await,
                    None => std::future::pending().await,
                }
            };
            let (host, port) = tokio::select! {
                r = accepted => return r,
                to = next_move => to,
            };
            self.move_to(&host, port).await;
        }
    }

    /// Java's `NIOServerCnxnFactory.reconfigure`: close the old socket, then bind the new
    /// address; a failure is logged and leaves no listener.
    async fn move_to(&mut self, host: &str, port: u16) {
        let to = tokio::net::lookup_host((host, port))
            .await
            .ok()
            .and_then(|mut a| a.next());
        let bound = self.listener.as_ref().and_then(|l| l.local_addr().ok());
        if to.is_some() && to == bound {
            return;
        }
        self.listener = None;
        match to {
            None => {
                error!("Error reconfiguring client port to {host}:{port}: cannot resolve {host}")
            }
            Some(to) => {
                info!("binding to port {to}");
                match TcpListener::bind(to).await {
                    Ok(l) => self.listener = Some(l),
                    Err(e) => error!("Error reconfiguring client port to {to}: {e}"),
                }
            }
        }
        set_bound_client_port(self.listener.as_ref());
    }
}

/// Accept client connections on `listening`; with `tls`, they speak TLS (only, or also).
pub async fn serve(
    mut listening: Listening,
    core: mpsc::Sender<ToPipeline>,
    flow: Arc<ServerFlow>,
    cfg: Arc<Config>,
    tls: Option<Arc<ClientTls>>,
) {
    let max_client_cnxns = cfg.max_client_cnxns;
    let next_id = AtomicU64::new(1);
    let limit = PerIpLimit {
        max: max_client_cnxns,
        counts: Arc::default(),
    };
    loop {
        let (stream, addr) = match listening.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !limit.try_acquire(addr.ip()) {
            // Java's wording, the address as InetAddress prints it (`/127.0.0.1`).
            warn!(
                "Too many connections from /{} - max is {}",
                crate::auth::java_host_address(&addr),
                limit.max
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let core = core.clone();
        let limit = limit.clone();
        let flow = ConnFlow::new(flow.clone());
        let cfg = cfg.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            accepted(stream, addr, id, core.clone(), flow.clone(), cfg, tls).await;
            let _ = core
                .send(ToPipeline::Input(Input::Closed { conn: id }))
                .await;
            flow.close();
            limit.release(addr.ip());
        });
    }
}

/// One client connection over its read and write halves (TCP's own halves, or a TLS
/// stream's); `tls_ids` are what its TLS handshake authenticated.
#[allow(clippy::too_many_arguments)]
async fn connection<R, W>(
    mut rd: R,
    mut wr: W,
    addr: SocketAddr,
    conn: ConnId,
    core: mpsc::Sender<ToPipeline>,
    flow: Arc<ConnFlow>,
    cfg: Arc<Config>,
    mut tls_ids: Vec<AuthId>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let max_buffer = flow.server.limits.max_buffer;
    let mut buf = BytesMut::with_capacity(4096);

    // The first four bytes are either a four-letter word or the handshake's length.
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        while buf.len() < 4 {
            if rd.read_buf(&mut buf).await? == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
        }
        Ok(true)
    })
    .await;
    match first {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return,
        Ok(Err(e)) => {
            debug!(%addr, "read error before handshake: {e}");
            return;
        }
        Err(_) => {
            info!(%addr, "closing connection: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    }
    if let Some(cmd) = crate::fourlw::command_from_bytes([buf[0], buf[1], buf[2], buf[3]]) {
        // `stmk` carries an 8-byte mask; Java reads it with one read right after the word.
        let arg = if cmd == "stmk" {
            let _ = tokio::time::timeout(STMK_ARG_WAIT, async {
                while buf.len() < 12 && rd.read_buf(&mut buf).await.is_ok_and(|n| n > 0) {}
            })
            .await;
            buf.get(4..12)
                .map(|b| i64::from_be_bytes(b.try_into().expect("8 bytes")))
        } else {
            None
        };
        // What the word shows from /proc and the disk is measured here, off the pipeline.
        let probes = {
            let cmd = cmd.to_string();
            tokio::task::spawn_blocking(move || crate::probes::measure(&cmd, &cfg))
                .await
                .unwrap_or_default()
        };
        let (tx, rx) = oneshot::channel();
        if core
            .send(ToPipeline::FourLetter {
                cmd: cmd.to_string(),
                arg,
                addr,
                probes: Box::new(probes),
                reply: tx,
            })
            .await
            .is_ok()
        {
            if let Ok(text) = rx.await {
                let _ = wr.write_all(text.as_bytes()).await;
            }
        }
        let _ = wr.shutdown().await;
        return;
    }

    let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
    let (closed_tx, mut closed_rx) = oneshot::channel::<()>();
    let writer = tokio::spawn(write_replies(
        wr,
        out_rx,
        flow.clone(),
        core.clone(),
        conn,
        closed_tx,
    ));

    let mut codec = FrameCodec::new(max_buffer);
    let mut handshaken = false;
    // The client closed its side or the socket failed (not: the server ends the connection).
    let mut client_gone = false;
    let handshake_deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        // Hand every complete frame buffered so far to the pipeline in one message. A bad
        // frame length ends the connection, but only after the frames before it: Java reads
        // frame by frame, so it answers a handshake (and runs requests) that came in the
        // same write as a bad frame before it closes.
        let mut frames: Vec<Bytes> = Vec::new();
        let mut bad_frame = None;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    bad_frame = Some(e);
                    break;
                }
            }
        }
        if !frames.is_empty() {
            let mut frames = frames.into_iter();
            if !handshaken {
                handshaken = true;
                let frame = frames.next().unwrap();
                if core
                    .send(ToPipeline::Connect {
                        conn,
                        addr,
                        frame,
                        out: out_tx.clone(),
                        flow: flow.clone(),
                        tls_ids: std::mem::take(&mut tls_ids),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let rest: Vec<Bytes> = frames.collect();
            match submit(&core, conn, &flow, rest, &mut closed_rx).await {
                Submitted::Yes => {}
                Submitted::ConnectionClosed => break,
                Submitted::PipelineGone => return,
            }
        }
        if let Some(e) = bad_frame {
            warn!(%addr, "closing connection: {e}");
            break;
        }
        // Backpressure: no reading while the pipeline holds this connection's requests
        // (its replies are not being read) or the server has too many requests outstanding.
        if handshaken && !wait_until_readable(&flow, &mut closed_rx).await {
            break;
        }
        let read = async {
            if handshaken {
                rd.read_buf(&mut buf).await
            } else {
                match tokio::time::timeout_at(handshake_deadline, rd.read_buf(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no handshake",
                    )),
                }
            }
        };
        tokio::select! {
            r = read => match r {
                Ok(0) => {
                    client_gone = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(%addr, "connection read ended: {e}");
                    client_gone = true;
                    break;
                }
            },
            _ = &mut closed_rx => break,
        }
    }
    if client_gone {
        // The pipeline forgets the connection now (its watches go at once, as in Java, which
        // closes a connection on end of stream), not after the writer's last flush. (After a
        // bad frame it stays a second longer: what came before the bad frame is answered.)
        let _ = core.send(ToPipeline::Input(Input::Closed { conn })).await;
    }
    drop(out_tx);
    // Let queued replies go out before the socket closes (not for ever: a client that
    // does not read would keep the writer and its buffers).
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(1), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
}

/// The writer task: write everything queued with one vectored write (the frames are not
/// copied: a buffer kept per connection would stay as large as the largest batch, for each
/// of thousands of connections), count what was written, and wake the pipeline when it waits
/// for this connection to drain.
async fn write_replies<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
    flow: Arc<ConnFlow>,
    core: mpsc::Sender<ToPipeline>,
    conn: ConnId,
    closed_tx: oneshot::Sender<()>,
) {
    let mut batch: Vec<Bytes> = Vec::new();
    let mut closing = false;
    'run: while let Some(first) = out_rx.recv().await {
        let mut next = Some(first);
        let mut bytes = 0;
        while let Some(o) = next.take() {
            match o {
                Out::Frame(f) => {
                    bytes += f.len();
                    batch.push(f);
                }
                Out::Close => closing = true,
            }
            if closing || bytes > 256 * 1024 || batch.len() >= MAX_IOVECS {
                break;
            }
            next = out_rx.try_recv().ok();
        }
        let mut start = 0;
        while start < batch.len() {
            let slices: Vec<IoSlice> = batch[start..].iter().map(|b| IoSlice::new(b)).collect();
            let mut n = match wr.write_vectored(&slices).await {
                Ok(0) | Err(_) => break 'run,
                Ok(n) => n,
            };
            if flow.written(n)
                && core
                    .send(ToPipeline::Input(Input::Drained { conn }))
                    .await
                    .is_err()
            {
                break 'run;
            }
            while n > 0 {
                let b = &mut batch[start];
                let k = n.min(b.len());
                b.advance(k);
                n -= k;
                if b.is_empty() {
                    start += 1;
                }
            }
            while start < batch.len() && batch[start].is_empty() {
                start += 1;
            }
        }
        batch.clear();
        // TLS buffers what it could not send yet; TCP's flush does nothing.
        if wr.flush().await.is_err() {
            break;
        }
        if closing {
            break;
        }
    }
    let _ = wr.shutdown().await;
    let _ = closed_tx.send(());
}

/// Frames per vectored write (Linux takes up to 1024).
const MAX_IOVECS: usize = 256;

enum Submitted {
    Yes,
    /// The connection was closed while its requests waited (they were dropped).
    ConnectionClosed,
    PipelineGone,
}

/// Hand request frames to the pipeline, as Java's RequestThrottler lets them in: while
/// `request_throttle_max_requests` are in process they wait, re-checking every
/// `request_throttle_stall_time` ms (or when requests finish).
async fn submit(
    core: &mpsc::Sender<ToPipeline>,
    conn: ConnId,
    flow: &ConnFlow,
    mut frames: Vec<Bytes>,
    closed_rx: &mut oneshot::Receiver<()>,
) -> Submitted {
    let server = &flow.server;
    let limits = server.limits;
    let mut outcome = Submitted::Yes;
    while !frames.is_empty() {
        let mut take = frames.len();
        while limits.throttle_max_requests > 0 && matches!(outcome, Submitted::Yes) {
            let fell = server.fell.notified();
            let room = limits.throttle_max_requests - server.in_process();
            if room > 0 {
                take = take.min(room as usize);
                break;
            }
            server.count_throttle_wait();
            // Java's `wait(stallTime)`: 0 waits until a request finishes.
            let stall = async {
                if limits.throttle_stall.is_zero() {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(limits.throttle_stall).await
                }
            };
            tokio::select! {
                _ = fell => {}
                _ = stall => {}
                _ = &mut *closed_rx => {
                    // Java's dropStaleRequests: the waiting requests of a closed connection
                    // are dropped; without it they go on (and count as stale).
                    let n = frames.len() as u64;
                    server.count_stale(limits.throttle_drop_stale, n);
                    if limits.throttle_drop_stale {
                        return Submitted::ConnectionClosed;
                    }
                    outcome = Submitted::ConnectionClosed;
                    take = frames.len();
                }
            }
        }
        let rest = frames.split_off(take);
        let counted = frames.iter().filter(|f| counts_as_request(f)).count();
        flow.requests_read(counted as i64);
        if core
            .send(ToPipeline::Input(Input::Requests { conn, frames }))
            .await
            .is_err()
        {
            return Submitted::PipelineGone;
        }
        frames = rest;
    }
    outcome
}

/// Wait while the reader must not read (see `flow`). False when the connection was closed
/// meanwhile (by the pipeline: its writer may be stuck on a client that does not read, so
/// the reader ends the connection).
async fn wait_until_readable(flow: &ConnFlow, closed_rx: &mut oneshot::Receiver<()>) -> bool {
    loop {
        let woken = flow.wake.notified();
        let fell = flow.server.fell.notified();
        if flow.is_closed() {
            return false;
        }
        if !flow.reader_paused() {
            return true;
        }
        tokio::select! {
            _ = woken => {}
            _ = fell => {}
            _ = &mut *closed_rx => return false,
        }
    }
}
