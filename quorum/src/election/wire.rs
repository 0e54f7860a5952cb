//! The election port's wire format, as Java 3.8's `QuorumCnxManager` and
//! `FastLeaderElection` speak it.
//!
//! **Connection handshake** (the "initial message"), sent once by the side that opened the
//! TCP connection, in one write:
//!
//! ```text
//! long  protocol version: -65536 (V1, what 3.8 sends unless multiAddress.enabled)
//!                         or -65535 (V2, several addresses joined by '|')
//!                         or, from servers older than 3.5, directly the sid (>= 0)
//! long  sid               (Long.MAX_VALUE: an observer without an id)
//! int   length            (1..=2048)
//! bytes "host:port" of the sender's election address (UTF-8), V1/V2 only
//! ```
//!
//! Only the connection from the higher sid to the lower one survives: a server that opens a
//! connection to a higher sid sends its handshake and closes; the higher server, seeing a lower
//! sid, closes too and connects back. See `net.rs`.
//!
//! **Messages** after the handshake, both ways: `int length` (1..=512 KiB) then the payload.
//!
//! **Notification payload** (what `FastLeaderElection.buildMsg` writes in 3.8):
//!
//! ```text
//! int   state          0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING
//! long  leader         proposed / elected leader's sid
//! long  zxid           its last zxid
//! long  electionEpoch  the sender's logical clock (round)
//! long  peerEpoch      the proposed leader's epoch
//! int   version        0x2
//! int   config length
//! bytes the sender's configuration text (see `verifier::QuorumMaj::to_java_string`)
//! ```
//!
//! Older formats that Java 3.8 still reads: exactly 28 bytes (no peerEpoch: it is the zxid's
//! high 32 bits), exactly 40 bytes (peerEpoch and a version int that is *ignored*: version 0).
//! Any other length below 44 that is not 28 or 40 makes Java skip the message as malformed, as
//! does a config length that is negative or larger than the message; a version of 0 or 1 in a
//! longer message means "no config". Bytes after the config are ignored.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;

/// Handshake protocol version sent since 3.5 (one address).
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// Handshake protocol version of 3.6+ with `multiAddress.enabled` (addresses joined by `|`).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// The sid an observer without an id announces (`QuorumPeer.OBSERVER_ID`).
pub const OBSERVER_ID: i64 = i64::MAX;
/// Longest address string accepted in a handshake (`QuorumCnxManager.maxBuffer`).
pub const MAX_HANDSHAKE_ADDR_LEN: usize = 2048;
/// Longest message accepted after the handshake (`QuorumCnxManager.PACKETMAXSIZE`).
pub const PACKET_MAX_SIZE: usize = 512 * 1024;
/// The notification format version 3.8 writes (`Notification.CURRENTVERSION`).
pub const NOTIFICATION_VERSION: i32 = 0x2;

/// Why bytes from a peer were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// A handshake with a negative protocol version that is neither V1 nor V2.
    UnknownProtocolVersion(i64),
    /// The handshake's address length is not in 1..=2048.
    BadAddressLength(i32),
    /// An address in the handshake is not `host:port`.
    BadAddress(String),
    /// A message length is not in 1..=512 KiB.
    BadFrameLength(i32),
    /// A notification shorter than 28 bytes (Java logs "Got a short response" and drops it).
    ShortNotification(usize),
    /// A notification that Java would skip as "partial / malformed".
    MalformedNotification(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::UnknownProtocolVersion(v) => write!(f, "unrecognized protocol version {v}"),
            WireError::BadAddressLength(n) => write!(f, "unreasonable address length {n}"),
            WireError::BadAddress(a) => write!(f, "badly formed address {a:?}"),
            WireError::BadFrameLength(n) => write!(f, "invalid message length {n}"),
            WireError::ShortNotification(n) => write!(f, "short notification ({n} bytes)"),
            WireError::MalformedNotification(why) => write!(f, "malformed notification: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The result of decoding from a buffer that may not hold a whole item yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// More bytes are needed.
    Incomplete,
    /// The item and how many bytes it used.
    Done(T, usize),
}

/// The handshake's protocol generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Before 3.5: the connection starts directly with the sid, nothing else.
    Legacy,
    /// -65536: one `host:port`.
    V1,
    /// -65535: `host:port|host:port|...`.
    V2,
}

/// The handshake that opens every election connection (Java's `InitialMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMessage {
    /// Which generation the peer spoke.
    pub protocol: Protocol,
    /// The sender's server id ([`OBSERVER_ID`] for an observer without one).
    pub sid: i64,
    /// The sender's election addresses as `(host, port)`; wildcard addresses (`0.0.0.0`, `::`)
    /// are left out as Java does. Empty for [`Protocol::Legacy`].
    pub addresses: Vec<(String, u16)>,
}

impl InitialMessage {
    /// The handshake 3.8 sends by default: V1 with one address.
    pub fn v1(sid: i64, host: &str, port: u16) -> InitialMessage {
        InitialMessage {
            protocol: Protocol::V1,
            sid,
            addresses: vec![(host.to_string(), port)],
        }
    }

    /// The bytes of this handshake (to be written in one go: Java reads the address with a
    /// single `read` and refuses a short one).
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        match self.protocol {
            Protocol::Legacy => {
                b.put_i64(self.sid);
                return b.freeze();
            }
            Protocol::V1 => b.put_i64(PROTOCOL_VERSION_V1),
            Protocol::V2 => b.put_i64(PROTOCOL_VERSION_V2),
        }
        b.put_i64(self.sid);
        let addrs: Vec<String> = match self.protocol {
            Protocol::V1 => self.addresses.iter().take(1).map(format_addr).collect(),
            _ => self.addresses.iter().map(format_addr).collect(),
        };
        let text = addrs.join("|");
        b.put_i32(text.len() as i32);
        b.put_slice(text.as_bytes());
        b.freeze()
    }

    /// Decodes a handshake from the start of `buf` (Java's `handleConnection` +
    /// `InitialMessage.parse`).
    pub fn decode(buf: &[u8]) -> Result<Decoded<InitialMessage>, WireError> {
        if buf.len() < 8 {
            return Ok(Decoded::Incomplete);
        }
        let mut b = buf;
        let first = b.get_i64();
        if first >= 0 {
            let msg = InitialMessage {
                protocol: Protocol::Legacy,
                sid: first,
                addresses: Vec::new(),
            };
            return Ok(Decoded::Done(msg, 8));
        }
        let protocol = match first {
            PROTOCOL_VERSION_V1 => Protocol::V1,
            PROTOCOL_VERSION_V2 => Protocol::V2,
            v => return Err(WireError::UnknownProtocolVersion(v)),
        };
        if b.len() < 12 {
            return Ok(Decoded::Incomplete);
        }
        let sid = b.get_i64();
        let len = b.get_i32();
        if len <= 0 || len as usize > MAX_HANDSHAKE_ADDR_LEN {
            return Err(WireError::BadAddressLength(len));
        }
        let len = len as usize;
        if b.len() < len {
            return Ok(Decoded::Incomplete);
        }
        let text = String::from_utf8_lossy(&b[..len]).into_owned();
        let mut addresses = Vec::new();
        for addr in text.split('|') {
            let parts = crate::verifier::split_host_and_port(addr)
                .map_err(|_| WireError::BadAddress(addr.to_string()))?;
            if parts.len() != 2 {
                return Err(WireError::BadAddress(addr.to_string()));
            }
            let port = parts[1]
                .parse::<u16>()
                .map_err(|_| WireError::BadAddress(addr.to_string()))?;
            if !is_wildcard(parts[0]) {
                addresses.push((parts[0].to_string(), port));
            }
        }
        let msg = InitialMessage {
            protocol,
            sid,
            addresses,
        };
        Ok(Decoded::Done(msg, 8 + 8 + 4 + len))
    }
}

/// `NetUtils.formatInetAddr`: `host:port`, IPv6 literals in brackets.
fn format_addr((host, port): &(String, u16)) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn is_wildcard(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_unspecified(),
        Err(_) => false,
    }
}

/// Wraps a payload in a frame: `int length` + payload.
pub fn encode_frame(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + payload.len());
    b.put_i32(payload.len() as i32);
    b.put_slice(payload);
    b.freeze()
}

/// Checks a frame's length prefix as Java's `RecvWorker` does.
pub fn check_frame_length(len: i32) -> Result<usize, WireError> {
    if len <= 0 || len as usize > PACKET_MAX_SIZE {
        Err(WireError::BadFrameLength(len))
    } else {
        Ok(len as usize)
    }
}

/// Decodes one frame from the start of `buf`.
pub fn decode_frame(buf: &[u8]) -> Result<Decoded<Bytes>, WireError> {
    if buf.len() < 4 {
        return Ok(Decoded::Incomplete);
    }
    let len = check_frame_length((&buf[..4]).get_i32())?;
    if buf.len() < 4 + len {
        return Ok(Decoded::Incomplete);
    }
    Ok(Decoded::Done(
        Bytes::copy_from_slice(&buf[4..4 + len]),
        4 + len,
    ))
}

/// A server's state as it appears in notifications (Java's `ServerState` ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// Electing a leader.
    Looking = 0,
    /// Following an elected leader.
    Following = 1,
    /// The elected leader.
    Leading = 2,
    /// An observer attached to a leader.
    Observing = 3,
}

impl ServerState {
    /// The state for a wire value; `None` for values Java ignores (it drops such messages).
    pub fn from_i32(v: i32) -> Option<ServerState> {
        match v {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }
}

/// One election notification, decoded (or to be encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The sender's state as sent; see [`Notification::server_state`].
    pub state: i32,
    /// The sid the sender votes for (or follows).
    pub leader: i64,
    /// That vote's zxid.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// That vote's epoch.
    pub peer_epoch: i64,
    /// Format version as Java interprets it: 0 for the 28 and 40 byte formats, else the
    /// version field (2 in 3.8).
    pub version: i32,
    /// The sender's configuration text (version > 1 only).
    pub config: Option<Bytes>,
}

impl Notification {
    /// A 3.8 notification (version 2) carrying `config`.
    pub fn new(
        state: ServerState,
        leader: i64,
        zxid: i64,
        election_epoch: i64,
        peer_epoch: i64,
        config: Bytes,
    ) -> Notification {
        Notification {
            state: state as i32,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version: NOTIFICATION_VERSION,
            config: Some(config),
        }
    }

    /// The sender's state, if it is one Java knows.
    pub fn server_state(&self) -> Option<ServerState> {
        ServerState::from_i32(self.state)
    }

    /// The payload as `FastLeaderElection.buildMsg` writes it (always the 3.8 layout: 44 bytes
    /// plus the config; a missing config is sent as empty).
    pub fn encode(&self) -> Bytes {
        let config: &[u8] = self.config.as_deref().unwrap_or(&[]);
        let mut b = BytesMut::with_capacity(44 + config.len());
        b.put_i32(self.state);
        b.put_i64(self.leader);
        b.put_i64(self.zxid);
        b.put_i64(self.election_epoch);
        b.put_i64(self.peer_epoch);
        b.put_i32(NOTIFICATION_VERSION);
        b.put_i32(config.len() as i32);
        b.put_slice(config);
        b.freeze()
    }

    /// Decodes a payload as Java 3.8's `WorkerReceiver` does, including the older formats.
    pub fn decode(payload: &[u8]) -> Result<Notification, WireError> {
        let capacity = payload.len();
        if capacity < 28 {
            return Err(WireError::ShortNotification(capacity));
        }
        let malformed = |why: &str| WireError::MalformedNotification(why.to_string());
        let mut b = payload;
        let state = b.get_i32();
        let leader = b.get_i64();
        let zxid = b.get_i64();
        let election_epoch = b.get_i64();
        let (peer_epoch, version) = if capacity == 28 {
            (jute::Zxid::from(zxid).epoch(), 0)
        } else {
            if b.remaining() < 8 {
                // Java's getLong would throw BufferUnderflowException here.
                return Err(malformed("no room for the peer epoch"));
            }
            let peer_epoch = b.get_i64();
            if capacity == 40 {
                (peer_epoch, 0)
            } else {
                if b.remaining() < 4 {
                    return Err(malformed("no room for the version"));
                }
                (peer_epoch, b.get_i32())
            }
        };
        let config = if version > 0x1 {
            if b.remaining() < 4 {
                return Err(malformed("no room for the config length"));
            }
            let len = b.get_i32();
            if len < 0 || len as usize > capacity {
                return Err(malformed(&format!("invalid config length {len}")));
            }
            let len = len as usize;
            if b.remaining() < len {
                return Err(malformed("config longer than the message"));
            }
            Some(Bytes::copy_from_slice(&b[..len]))
        } else {
            None
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a real Java 3.8 node (sid 2, fresh data dir) sent to a fake sid-1 peer listening
    /// on server.1's election port: its handshake, then the same LOOKING notification
    /// repeated by its resend timer.
    const JAVA_CAPTURE: &[u8] =
        include_bytes!("../../tests/data/java38_handshake_notifications.bin");

    #[test]
    fn decodes_java_capture() {
        let Decoded::Done(hello, used) = InitialMessage::decode(JAVA_CAPTURE).unwrap() else {
            panic!("incomplete handshake")
        };
        assert_eq!(
            hello,
            InitialMessage {
                protocol: Protocol::V1,
                sid: 2,
                addresses: vec![("127.0.0.1".to_string(), 49853)],
            }
        );
        // Our encoding of the same handshake is byte-identical.
        assert_eq!(&hello.encode()[..], &JAVA_CAPTURE[..used]);

        let config = "server.1=127.0.0.1:45731:50493:participant\n\
                      server.2=127.0.0.1:48697:49853:participant\nversion=0";
        let mut rest = &JAVA_CAPTURE[used..];
        let mut frames = 0;
        while let Decoded::Done(payload, used) = decode_frame(rest).unwrap() {
            rest = &rest[used..];
            frames += 1;
            let n = Notification::decode(&payload).unwrap();
            let expected = Notification::new(
                ServerState::Looking,
                2,
                0,
                1,
                0,
                Bytes::from_static(config.as_bytes()),
            );
            assert_eq!(n, expected);
            assert_eq!(n.encode(), payload, "our encoding is Java's");
        }
        assert!(frames >= 2, "the capture holds several frames");
    }

    #[test]
    fn handshake_round_trips_and_is_incremental() {
        let hello = InitialMessage::v1(7, "127.0.0.1", 3888);
        let bytes = hello.encode();
        for cut in 0..bytes.len() {
            assert_eq!(
                InitialMessage::decode(&bytes[..cut]).unwrap(),
                Decoded::Incomplete
            );
        }
        assert_eq!(
            InitialMessage::decode(&bytes).unwrap(),
            Decoded::Done(hello, bytes.len())
        );
        let v2 = InitialMessage {
            protocol: Protocol::V2,
            sid: 3,
            addresses: vec![("::1".to_string(), 1), ("10.0.0.1".to_string(), 2)],
        };
        let bytes = v2.encode();
        assert_eq!(&bytes[20..], b"[::1]:1|10.0.0.1:2");
        assert_eq!(
            InitialMessage::decode(&bytes).unwrap(),
            Decoded::Done(v2, bytes.len())
        );
    }

    #[test]
    fn handshake_edge_cases() {
        // Pre-3.5: just the sid.
        let legacy = 5i64.to_be_bytes();
        let Decoded::Done(m, 8) = InitialMessage::decode(&legacy).unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.protocol, m.sid, m.addresses.len()),
            (Protocol::Legacy, 5, 0)
        );
        // Unknown negative version.
        assert_eq!(
            InitialMessage::decode(&(-3i64).to_be_bytes()),
            Err(WireError::UnknownProtocolVersion(-3))
        );
        // Address lengths 0 and 2049 are refused.
        for len in [0i32, 2049, -1] {
            let mut b = BytesMut::new();
            b.put_i64(PROTOCOL_VERSION_V1);
            b.put_i64(1);
            b.put_i32(len);
            assert_eq!(
                InitialMessage::decode(&b),
                Err(WireError::BadAddressLength(len))
            );
        }
        // Wildcard addresses are dropped, garbage refused.
        let wild = InitialMessage::v1(1, "0.0.0.0", 5).encode();
        let Decoded::Done(m, _) = InitialMessage::decode(&wild).unwrap() else {
            panic!()
        };
        assert!(m.addresses.is_empty());
        let mut b = BytesMut::new();
        b.put_i64(PROTOCOL_VERSION_V1);
        b.put_i64(1);
        b.put_i32(4);
        b.put_slice(b"host");
        assert!(matches!(
            InitialMessage::decode(&b),
            Err(WireError::BadAddress(_))
        ));
    }

    #[test]
    fn frames() {
        let f = encode_frame(b"abc");
        assert_eq!(&f[..], b"\0\0\0\x03abc");
        assert_eq!(decode_frame(&f[..6]).unwrap(), Decoded::Incomplete);
        assert_eq!(
            decode_frame(&f).unwrap(),
            Decoded::Done(Bytes::from_static(b"abc"), 7)
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 0]),
            Err(WireError::BadFrameLength(0))
        );
        assert_eq!(
            decode_frame(&[0, 8, 0, 1]),
            Err(WireError::BadFrameLength(512 * 1024 + 1))
        );
        assert!(check_frame_length(512 * 1024).is_ok());
    }

    fn raw(state: i32, leader: i64, zxid: i64, epoch: i64) -> BytesMut {
        let mut b = BytesMut::new();
        b.put_i32(state);
        b.put_i64(leader);
        b.put_i64(zxid);
        b.put_i64(epoch);
        b
    }

    #[test]
    fn older_notification_formats() {
        // 28 bytes: the peer epoch is the zxid's epoch.
        let b = raw(1, 3, 0x0000_0005_0000_0010, 7);
        let n = Notification::decode(&b).unwrap();
        assert_eq!((n.peer_epoch, n.version, n.config.clone()), (5, 0, None));
        assert_eq!(n.server_state(), Some(ServerState::Following));
        // 40 bytes: the version int is ignored (version 0, no config).
        let mut b = raw(2, 3, 16, 7);
        b.put_i64(4);
        b.put_i32(0x1);
        let n = Notification::decode(&b).unwrap();
        assert_eq!((n.peer_epoch, n.version, n.config.clone()), (4, 0, None));
        // 36 bytes: Java reads a version that is not there and skips the message.
        let mut b = raw(0, 3, 16, 7);
        b.put_i64(4);
        assert!(matches!(
            Notification::decode(&b),
            Err(WireError::MalformedNotification(_))
        ));
        // Shorter than 28.
        assert_eq!(
            Notification::decode(&[0; 27]),
            Err(WireError::ShortNotification(27))
        );
        // 44 bytes with version 1: no config.
        let mut b = raw(0, 3, 16, 7);
        b.put_i64(4);
        b.put_i32(1);
        b.put_i32(99);
        let n = Notification::decode(&b).unwrap();
        assert_eq!((n.version, n.config), (1, None));
        // Unknown state values decode (Java drops them later, after answering non-voters).
        let mut b = raw(9, 3, 16, 7);
        b.put_i64(4);
        b.put_i32(2);
        b.put_i32(0);
        let n = Notification::decode(&b).unwrap();
        assert_eq!(
            (n.server_state(), n.config.as_deref()),
            (None, Some(&b""[..]))
        );
    }

    #[test]
    fn bad_config_lengths() {
        for len in [-1i32, 1000] {
            let mut b = raw(0, 1, 0, 1);
            b.put_i64(0);
            b.put_i32(2);
            b.put_i32(len);
            b.put_slice(b"abc");
            assert!(matches!(
                Notification::decode(&b),
                Err(WireError::MalformedNotification(_))
            ));
        }
        // Within the capacity but past the end: underflow, also malformed.
        let mut b = raw(0, 1, 0, 1);
        b.put_i64(0);
        b.put_i32(2);
        b.put_i32(40);
        assert!(matches!(
            Notification::decode(&b),
            Err(WireError::MalformedNotification(_))
        ));
        // Trailing bytes after the config are ignored.
        let mut b = BytesMut::from(
            &Notification::new(ServerState::Leading, 1, 2, 3, 4, Bytes::from_static(b"x")).encode()
                [..],
        );
        b.put_slice(b"junk");
        assert_eq!(
            Notification::decode(&b).unwrap().config.as_deref(),
            Some(&b"x"[..])
        );
    }
}
