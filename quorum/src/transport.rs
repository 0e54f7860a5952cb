//! How a quorum connection (election or ZAB) gets from a TCP socket to the stream the
//! protocols speak over: plaintext as it is, or TLS (Java's `sslQuorum`, `portUnification`).
//!
//! This crate does not know TLS: the server passes a [`Transport`] that upgrades an accepted
//! or a connected [`TcpStream`] into a [`PeerStream`]. [`Plain`] is the default and costs
//! nothing: the stream stays a `TcpStream` and splits into tokio's owned halves as before.
//!
//! [`looks_like_tls`] is the pure half of Java's `UnifiedServerSocket` mode detection (is the
//! first record header a TLS one?); the peeking half is [`peek_prefix`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::auth::SharedAuth;

/// A byte stream a quorum protocol can run over (a TLS stream, in practice).
pub trait PeerIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> PeerIo for T {}

/// A quorum connection after its upgrade: plaintext TCP or an encrypted stream.
pub enum PeerStream {
    Plain(TcpStream),
    Secure(Box<dyn PeerIo>),
}

/// A boxed future, as the transport's methods return.
pub type Upgrade = Pin<Box<dyn Future<Output = io::Result<PeerStream>> + Send>>;

/// What the quorum ports do with a fresh TCP connection.
pub trait Transport: Send + Sync {
    /// A connection accepted on one of our quorum ports, from `peer`.
    fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> Upgrade;
    /// A connection we opened to `peer` (the address we dialled).
    fn connect(&self, tcp: TcpStream, peer: SocketAddr) -> Upgrade;
}

/// Shared by the election, the leader and the learner.
pub type SharedTransport = Arc<dyn Transport>;

/// Plaintext both ways (no `sslQuorum`).
pub struct Plain;

impl Transport for Plain {
    fn accept(&self, tcp: TcpStream, _peer: SocketAddr) -> Upgrade {
        Box::pin(std::future::ready(Ok(PeerStream::Plain(tcp))))
    }
    fn connect(&self, tcp: TcpStream, _peer: SocketAddr) -> Upgrade {
        Box::pin(std::future::ready(Ok(PeerStream::Plain(tcp))))
    }
}

/// The plaintext transport, shared.
pub fn plain() -> SharedTransport {
    Arc::new(Plain)
}

/// How the quorum's connections are secured: the transport (TLS or not) and quorum SASL
/// (`None`: `quorum.auth.enableSasl` is off and nothing is exchanged).
#[derive(Clone)]
pub struct Security {
    pub transport: SharedTransport,
    pub auth: Option<SharedAuth>,
}

impl Security {
    /// Plaintext, no SASL: the default.
    pub fn plain() -> Security {
        Security {
            transport: plain(),
            auth: None,
        }
    }
}

/// True when `head` (a connection's first five bytes) is a TLS record header: content type
/// change_cipher_spec, alert, handshake or application_data, major version 3, and a record
/// length greater than zero, as Netty's `SslHandler.isEncrypted` (which Java's
/// `UnifiedServerSocket` asks) reads it. SSLv2-style hellos, which no TLS 1.2 peer sends,
/// count as plaintext here.
pub fn looks_like_tls(head: &[u8]) -> bool {
    if head.len() < 5 {
        return false;
    }
    let content_type_ok = (20..=23).contains(&head[0]);
    let record_len = u16::from_be_bytes([head[3], head[4]]);
    content_type_ok && head[1] == 3 && record_len > 0
}

/// Waits (at most `timeout`) until the connection has sent `want` bytes or closed, and
/// returns what arrived without consuming it. Java reads once and decides on whatever came;
/// waiting for the whole header decides the same for every peer that sends its first
/// message in one write (Java's and ours do).
pub async fn peek_prefix(tcp: &TcpStream, want: usize, timeout: Duration) -> Vec<u8> {
    let mut buf = vec![0u8; want];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, tcp.peek(&mut buf)).await {
            Ok(Ok(n)) if n >= want || n == 0 => {
                buf.truncate(n);
                return buf;
            }
            Ok(Ok(n)) => {
                if tokio::time::Instant::now() >= deadline {
                    buf.truncate(n);
                    return buf;
                }
                // Part of it: peeking again at once would return the same bytes.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(Err(_)) => return Vec::new(),
            Err(_) => {
                // Timed out: whatever is there now (a zero timeout still polls once).
                let n = match tokio::time::timeout(Duration::ZERO, tcp.peek(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => 0,
                };
                buf.truncate(n);
                return buf;
            }
        }
    }
}

impl PeerStream {
    /// TCP_NODELAY on the socket underneath (only the plaintext stream can still reach it;
    /// the secure transport sets it before the handshake).
    pub fn set_nodelay(&self) {
        if let PeerStream::Plain(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// A reading and a writing half that can live in different tasks.
    pub fn into_split(self) -> (PeerRead, PeerWrite) {
        match self {
            PeerStream::Plain(s) => {
                let (r, w) = s.into_split();
                (PeerRead::Plain(r), PeerWrite::Plain(w))
            }
            PeerStream::Secure(s) => {
                let (r, w) = tokio::io::split(s);
                (PeerRead::Secure(r), PeerWrite::Secure(w))
            }
        }
    }
}

/// The reading half of a [`PeerStream`].
pub enum PeerRead {
    Plain(OwnedReadHalf),
    Secure(ReadHalf<Box<dyn PeerIo>>),
}

/// The writing half of a [`PeerStream`].
pub enum PeerWrite {
    Plain(OwnedWriteHalf),
    Secure(WriteHalf<Box<dyn PeerIo>>),
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Secure(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PeerStream::Secure(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Secure(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            PeerStream::Secure(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for PeerRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerRead::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PeerRead::Secure(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerWrite::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PeerWrite::Secure(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWrite::Plain(s) => Pin::new(s).poll_flush(cx),
            PeerWrite::Secure(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWrite::Plain(s) => Pin::new(s).poll_shutdown(cx),
            PeerWrite::Secure(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_record_headers_and_quorum_plaintext() {
        // A TLS 1.2/1.3 ClientHello record: handshake, version 3.1, length 0x00c8.
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0xc8]));
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02])); // alert
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x00])); // empty record
        assert!(!looks_like_tls(&[0x16, 0x02, 0x01, 0x00, 0x10])); // not version 3
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01])); // too short
                                                       // Election handshake: protocol version -65536 (0xffff_ffff_ffff_0000) or a sid.
        assert!(!looks_like_tls(&(-65536i64).to_be_bytes()[..5]));
        assert!(!looks_like_tls(&3i64.to_be_bytes()[..5]));
        // A QuorumPacket frame: a small length first.
        assert!(!looks_like_tls(&[0, 0, 0, 0x40, 0]));
        // A sid whose top byte is 0x16 (a huge sid) still is not a record: version byte 0.
        assert!(!looks_like_tls(&[0x16, 0, 0, 0, 1]));
    }

    #[tokio::test]
    async fn peek_waits_for_the_header_and_consumes_nothing() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(&[1, 2]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            s.write_all(&[3, 4, 5, 6]).await.unwrap();
            s
        });
        let (mut srv, _) = listener.accept().await.unwrap();
        let head = peek_prefix(&srv, 5, Duration::from_secs(5)).await;
        assert_eq!(head, vec![1, 2, 3, 4, 5]);
        let mut all = [0u8; 6];
        srv.read_exact(&mut all).await.unwrap();
        assert_eq!(all, [1, 2, 3, 4, 5, 6]);
        // A silent peer: whatever came (nothing) once the timeout passes.
        let _c = client.await.unwrap();
        let listener2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a2 = listener2.local_addr().unwrap();
        let _silent = TcpStream::connect(a2).await.unwrap();
        let (srv2, _) = listener2.accept().await.unwrap();
        let head = peek_prefix(&srv2, 5, Duration::from_millis(50)).await;
        assert!(head.is_empty());
    }
}
