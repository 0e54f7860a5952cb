//! Quorum SASL authentication (`quorum.auth.enableSasl`): the `QuorumAuthPacket` exchange
//! that opens election connections (after the initial message) and learner connections
//! (before FOLLOWERINFO), as Java's `SaslQuorumAuthServer` / `SaslQuorumAuthLearner` run it.
//!
//! ```text
//! QuorumAuthPacket: long magic (QUORUM_AUTH_MAGIC_NUMBER) · int status · buffer token
//! status: 0 IN_PROGRESS, 1 SUCCESS, -1 ERROR
//!
//! learner                                      server
//!   IN_PROGRESS, initial token (empty) ──▶
//!                                        ◀──  IN_PROGRESS, challenge
//!   IN_PROGRESS, response             ──▶
//!                                        ◀──  SUCCESS, rspauth      (or ERROR, then closed)
//! ```
//!
//! - A learner without `learnerRequireSasl` sends nothing (Java: "Skipping SASL
//!   authentication").
//! - A server looks at the first 8 bytes: the magic starts an exchange; anything else is let
//!   through unless `serverRequireSasl` (those bytes then belong to the protocol that
//!   follows: [`authenticate_server`] hands them back). A failed exchange is answered with
//!   ERROR; with `serverRequireSasl` the connection is refused, without it Java keeps it
//!   ("Maintaining learner connection despite SASL authentication failure").
//! - Every connection is authenticated whatever server id its initial message claims (an
//!   observer's, one not in the view, one lower than ours): the id is never a reason to skip
//!   it (the CVE-2023-44981 concern: authorization must not rest on what the peer claims).
//!
//! The mechanisms (DIGEST-MD5, GSSAPI) are behind [`ServerMech`] / [`LearnerMech`], made fresh for
//! each connection by the server's [`QuorumAuth`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{error, info, warn};

/// `QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER`, Java's `-0xa0dbcafecafe1234L`: the literal is a
/// negative long already, so the negation is positive (0x5f2435013501edcc), whatever the
/// comment beside it in Java says.
pub const MAGIC: i64 = (0xa0db_cafe_cafe_1234_u64 as i64).wrapping_neg();
/// `SaslQuorumAuthServer.MAX_RETRIES`.
pub const MAX_RETRIES: u32 = 5;
/// The largest token accepted (Java's `jute.maxbuffer` default, 0xfffff).
pub const MAX_TOKEN_LEN: usize = 0xfffff;
/// `QUORUM_SERVER_PROTOCOL_NAME` and `QUORUM_SERVER_SASL_DIGEST`: DIGEST-MD5's protocol and
/// server name on the quorum (digest-uri `zookeeper-quorum/zk-quorum-sasl-md5`).
pub const PROTOCOL: &str = "zookeeper-quorum";
pub const SERVER_NAME: &str = "zk-quorum-sasl-md5";

/// `QuorumAuth.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Success,
    Error,
}

impl Status {
    pub fn code(self) -> i32 {
        match self {
            Status::InProgress => 0,
            Status::Success => 1,
            Status::Error => -1,
        }
    }

    /// Java's `getStatus`: an unknown code is logged and read as ERROR.
    pub fn from_code(code: i32) -> Status {
        match code {
            0 => Status::InProgress,
            1 => Status::Success,
            -1 => Status::Error,
            other => {
                error!("Unknown status:{other}!");
                Status::Error
            }
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Success => "SUCCESS",
            Status::Error => "ERROR",
        })
    }
}

/// One `QuorumAuthPacket`; a `None` token is Jute's null buffer (length -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPacket {
    pub magic: i64,
    pub status: i32,
    pub token: Option<Vec<u8>>,
}

impl AuthPacket {
    pub fn new(status: Status, token: Option<Vec<u8>>) -> AuthPacket {
        AuthPacket {
            magic: MAGIC,
            status: status.code(),
            token,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let len = self.token.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(16 + len);
        out.extend_from_slice(&self.magic.to_be_bytes());
        out.extend_from_slice(&self.status.to_be_bytes());
        match &self.token {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(t) => {
                out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                out.extend_from_slice(t);
            }
        }
        out
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads the rest of a packet whose magic was read: status and token.
async fn read_after_magic<S: AsyncRead + Unpin>(s: &mut S, magic: i64) -> io::Result<AuthPacket> {
    let status = s.read_i32().await?;
    let len = s.read_i32().await?;
    let token = match len {
        -1 => None,
        n if n < -1 => return Err(invalid(format!("negative token length {n}"))),
        n if n as usize > MAX_TOKEN_LEN => {
            return Err(invalid(format!("token of {n} bytes is too large")))
        }
        n => {
            let mut t = vec![0u8; n as usize];
            s.read_exact(&mut t).await?;
            Some(t)
        }
    };
    Ok(AuthPacket {
        magic,
        status,
        token,
    })
}

/// Reads one packet (Java checks no magic after the first one, and neither do we).
pub async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<AuthPacket> {
    let magic = s.read_i64().await?;
    read_after_magic(s, magic).await
}

async fn send<S: AsyncWrite + Unpin>(
    s: &mut S,
    status: Status,
    token: Option<Vec<u8>>,
) -> io::Result<()> {
    s.write_all(&AuthPacket::new(status, token).encode())
        .await?;
    s.flush().await
}

/// The server side of a mechanism, one per connection (Java's `SaslServer`).
pub trait ServerMech: Send {
    /// The challenge to the learner's response; `Err` fails the exchange.
    fn evaluate_response(&mut self, response: &[u8]) -> Result<Vec<u8>, String>;
    fn is_complete(&self) -> bool;
}

/// The learner side of a mechanism, one per connection (Java's `SaslClient`).
pub trait LearnerMech: Send {
    /// The first token (DIGEST-MD5 has none: empty; GSSAPI's is the AP-REQ).
    fn initial_response(&mut self) -> Result<Vec<u8>, String>;
    /// The response to a challenge (empty once the exchange is over).
    fn evaluate_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String>;
    fn is_complete(&self) -> bool;
}

/// Quorum SASL as configured (`quorum.auth.enableSasl=true`; without it there is no
/// `QuorumAuth` at all and nothing is exchanged).
pub struct QuorumAuth {
    /// `quorum.auth.serverRequireSasl`.
    pub server_requires: bool,
    /// `quorum.auth.learnerRequireSasl`.
    pub learner_requires: bool,
    /// A fresh server mechanism (the `QuorumServer` JAAS section's users).
    pub new_server: Box<dyn Fn() -> Box<dyn ServerMech> + Send + Sync>,
    /// A fresh learner mechanism towards the server at this address (the `QuorumLearner`
    /// section's login; Kerberos names the server's principal after its host).
    #[allow(clippy::type_complexity)]
    pub new_learner: Box<dyn Fn(SocketAddr) -> Result<Box<dyn LearnerMech>, String> + Send + Sync>,
}

pub type SharedAuth = Arc<QuorumAuth>;

/// Java's `SaslQuorumAuthLearner.authenticate` on a connection we opened to `peer`.
pub async fn authenticate_learner<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    auth: &QuorumAuth,
    peer: SocketAddr,
) -> io::Result<()> {
    if !auth.learner_requires {
        info!("Skipping SASL authentication as quorum.auth.learnerRequireSasl=false");
        return Ok(());
    }
    let failed = || invalid(format!("Authentication failed against server addr: {peer}"));
    let mut mech = (auth.new_learner)(peer).map_err(invalid)?;
    let first = mech.initial_response().map_err(invalid)?;
    send(s, Status::InProgress, Some(first)).await?;
    let mut packet = read_packet(s).await?;
    let mut status = Status::from_code(packet.status);
    while !mech.is_complete() {
        let token = packet.token.take().ok_or_else(|| {
            invalid("Error in authenticating with a Zookeeper Quorum member: the quorum member's saslToken is null.")
        })?;
        match status {
            Status::Success => {
                let response = mech.evaluate_challenge(&token).map_err(invalid)?;
                if !response.is_empty() {
                    return Err(invalid(
                        "Protocol error: attempting to send response after completion",
                    ));
                }
                if !mech.is_complete() {
                    return Err(failed());
                }
            }
            Status::InProgress => {
                let response = mech.evaluate_challenge(&token).map_err(invalid)?;
                send(s, Status::InProgress, Some(response)).await?;
                packet = read_packet(s).await?;
                status = Status::from_code(packet.status);
            }
            Status::Error => return Err(failed()),
        }
    }
    if status != Status::Success {
        return Err(invalid(format!(
            "Authentication failed against server addr: {peer}, qpStatus: {status}"
        )));
    }
    info!("Successfully completed the authentication using SASL. server addr: {peer}, status: {status}");
    Ok(())
}

/// Java's `SaslQuorumAuthServer.authenticate` on a connection from `peer`. `Ok` holds the
/// bytes read that were not an exchange (the start of the protocol that follows, at most
/// 8); `Err` when the connection must be closed.
pub async fn authenticate_server<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    auth: &QuorumAuth,
    peer: SocketAddr,
) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 8];
    let exchange = async {
        s.read_exact(&mut head).await?;
        let magic = i64::from_be_bytes(head);
        if magic != MAGIC {
            if auth.server_requires {
                return Err(invalid(
                    "Learner not trying to authenticate and authentication is required",
                ));
            }
            return Ok(false);
        }
        let mut token = read_after_magic(s, magic).await?.token;
        let mut mech = (auth.new_server)();
        let mut tries = 0;
        let mut challenge = Vec::new();
        while !mech.is_complete() {
            let response = token.take().unwrap_or_default();
            challenge = mech.evaluate_response(&response).map_err(invalid)?;
            if !mech.is_complete() {
                tries += 1;
                if tries > MAX_RETRIES {
                    send(s, Status::Error, Some(challenge)).await?;
                    warn!("Failed to authenticate using SASL, server addr: {peer}, retries={tries} exceeded.");
                    return Err(invalid("retries exceeded"));
                }
                send(s, Status::InProgress, Some(challenge.clone())).await?;
                token = read_packet(s).await?.token;
            }
        }
        // A mechanism with nothing left to say (GSSAPI) gives Java's null token.
        let last = Some(challenge).filter(|c| !c.is_empty());
        send(s, Status::Success, last).await?;
        info!("Successfully completed the authentication using SASL. learner addr: {peer}");
        io::Result::Ok(true)
    }
    .await;
    match exchange {
        Ok(true) => Ok(Vec::new()),
        Ok(false) => Ok(head.to_vec()),
        Err(e) => {
            // Best effort: tell the learner (Java sends ERROR with an empty token).
            let _ = send(s, Status::Error, Some(Vec::new())).await;
            if auth.server_requires {
                error!("Failed to authenticate using SASL: {e}");
                Err(invalid(format!("Failed to authenticate using SASL: {e}")))
            } else {
                warn!("Failed to authenticate using SASL: {e}");
                warn!("Maintaining learner connection despite SASL authentication failure. server addr: {peer}, quorum.auth.serverRequireSasl: false");
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy mechanism: the learner must answer the challenge "c" with the secret.
    struct ToyServer {
        secret: Vec<u8>,
        step: u8,
    }
    impl ServerMech for ToyServer {
        fn evaluate_response(&mut self, r: &[u8]) -> Result<Vec<u8>, String> {
            match self.step {
                0 => {
                    self.step = 1;
                    Ok(b"c".to_vec())
                }
                _ if r == self.secret.as_slice() => {
                    self.step = 2;
                    Ok(b"ok".to_vec())
                }
                _ => Err("digest response format violation. Mismatched response.".into()),
            }
        }
        fn is_complete(&self) -> bool {
            self.step == 2
        }
    }
    struct ToyLearner {
        secret: Vec<u8>,
        done: bool,
    }
    impl LearnerMech for ToyLearner {
        fn initial_response(&mut self) -> Result<Vec<u8>, String> {
            Ok(Vec::new())
        }
        fn evaluate_challenge(&mut self, c: &[u8]) -> Result<Vec<u8>, String> {
            if c == b"ok" {
                self.done = true;
                return Ok(Vec::new());
            }
            Ok(self.secret.clone())
        }
        fn is_complete(&self) -> bool {
            self.done
        }
    }

    fn auth(
        server_secret: &'static [u8],
        learner_secret: &'static [u8],
        required: bool,
    ) -> QuorumAuth {
        QuorumAuth {
            server_requires: required,
            learner_requires: true,
            new_server: Box::new(move || {
                Box::new(ToyServer {
                    secret: server_secret.to_vec(),
                    step: 0,
                })
            }),
            new_learner: Box::new(move |_| {
                Ok(Box::new(ToyLearner {
                    secret: learner_secret.to_vec(),
                    done: false,
                }))
            }),
        }
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn packet_bytes_as_java_writes_them() {
        let p = AuthPacket::new(Status::InProgress, Some(vec![]));
        let b = p.encode();
        assert_eq!(&b[..8], &MAGIC.to_be_bytes());
        assert_eq!(&b[8..], &[0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(MAGIC, 0x5f24_3501_3501_edcc);
        let n = AuthPacket::new(Status::Error, None).encode();
        assert_eq!(&n[8..], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Status::from_code(7), Status::Error);
    }

    async fn run(a: QuorumAuth) -> (io::Result<()>, io::Result<Vec<u8>>) {
        let (mut l, mut s) = tokio::io::duplex(4096);
        let a = Arc::new(a);
        let a2 = a.clone();
        let learner = tokio::spawn(async move {
            let r = authenticate_learner(&mut l, &a2, addr()).await;
            drop(l);
            r
        });
        let server = authenticate_server(&mut s, &a, addr()).await;
        drop(s);
        (learner.await.unwrap(), server)
    }

    #[tokio::test]
    async fn the_exchange_and_its_failures() {
        let (l, s) = run(auth(b"pw", b"pw", true)).await;
        assert!(l.is_ok(), "{l:?}");
        assert_eq!(s.unwrap(), Vec::<u8>::new());
        // A wrong password: refused on both sides when required.
        let (l, s) = run(auth(b"pw", b"nope", true)).await;
        assert!(l.is_err());
        assert!(s.is_err());
        // Not required: the server keeps the connection, the learner still fails.
        let (l, s) = run(auth(b"pw", b"nope", false)).await;
        assert!(l.is_err());
        assert!(s.is_ok());
    }

    #[tokio::test]
    async fn a_peer_that_does_not_authenticate() {
        // The first 8 bytes of an election notification frame or a FOLLOWERINFO packet.
        let (mut peer, mut s) = tokio::io::duplex(4096);
        peer.write_all(&[0, 0, 0, 40, 0, 0, 0, 11, 9, 9])
            .await
            .unwrap();
        let a = auth(b"pw", b"pw", false);
        assert_eq!(
            authenticate_server(&mut s, &a, addr()).await.unwrap(),
            vec![0, 0, 0, 40, 0, 0, 0, 11]
        );
        let (mut peer, mut s) = tokio::io::duplex(4096);
        peer.write_all(&[0, 0, 0, 40, 0, 0, 0, 11]).await.unwrap();
        let a = auth(b"pw", b"pw", true);
        assert!(authenticate_server(&mut s, &a, addr()).await.is_err());
        // What it is sent back: one ERROR packet.
        let p = read_packet(&mut peer).await.unwrap();
        assert_eq!(p.status, -1);
    }

    #[tokio::test]
    async fn truncated_and_oversized_packets() {
        let a = auth(b"pw", b"pw", true);
        // The magic, then a token length far past the limit.
        let (mut peer, mut s) = tokio::io::duplex(4096);
        let mut bytes = MAGIC.to_be_bytes().to_vec();
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&i32::MAX.to_be_bytes());
        peer.write_all(&bytes).await.unwrap();
        assert!(authenticate_server(&mut s, &a, addr()).await.is_err());
        // The magic and half a header, then the peer goes away.
        let (mut peer, mut s) = tokio::io::duplex(4096);
        peer.write_all(&MAGIC.to_be_bytes()[..8]).await.unwrap();
        peer.write_all(&[0, 0]).await.unwrap();
        drop(peer);
        assert!(authenticate_server(&mut s, &a, addr()).await.is_err());
        // A learner facing a server that answers garbage status codes fails cleanly.
        let (mut l, mut srv) = tokio::io::duplex(4096);
        let task = tokio::spawn(async move {
            let _ = read_packet(&mut srv).await;
            let mut p = AuthPacket::new(Status::InProgress, None);
            p.status = 42;
            srv.write_all(&p.encode()).await.unwrap();
            srv
        });
        assert!(authenticate_learner(&mut l, &a, addr()).await.is_err());
        drop(task.await.unwrap());
    }
}
