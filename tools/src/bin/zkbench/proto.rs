//! The few client-protocol pieces zkbench needs, encoded by hand on the hot path (no record
//! structs, no allocation): request frames straight into the connection's write buffer, and
//! reply headers read in place from its read buffer. The handshake uses jute's records.

use bytes::{BufMut, BytesMut};
use jute::frame::write_frame;
use jute::ops;
use jute::proto::{ConnectRequest, ConnectResponse};
use jute::Encode;
use std::io;
use std::ops::RangeInclusive;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::tls::Stream;

/// `Code.NONODE`, `Code.NODEEXISTS` as the server sends them.
pub const ERR_NODEEXISTS: i32 = -110;

/// The open ACL `world:anyone` with all permissions, pre-encoded (a one-element vector).
fn put_open_acl(b: &mut BytesMut) {
    b.put_i32(1);
    b.put_i32(ops::perms::ALL);
    put_str(b, b"world");
    put_str(b, b"anyone");
}

#[inline]
pub fn put_str(b: &mut BytesMut, s: &[u8]) {
    b.put_i32(s.len() as i32);
    b.put_slice(s);
}

#[inline]
pub fn get_data(out: &mut BytesMut, xid: i32, path: &[u8], watch: bool) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::GET_DATA);
        put_str(b, path);
        b.put_u8(watch as u8);
    });
}

#[inline]
pub fn get_children(out: &mut BytesMut, xid: i32, path: &[u8]) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::GET_CHILDREN);
        put_str(b, path);
        b.put_u8(0);
    });
}

#[inline]
pub fn exists(out: &mut BytesMut, xid: i32, path: &[u8], watch: bool) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::EXISTS);
        put_str(b, path);
        b.put_u8(watch as u8);
    });
}

#[inline]
pub fn set_data(out: &mut BytesMut, xid: i32, path: &[u8], data: &[u8]) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::SET_DATA);
        put_str(b, path);
        put_str(b, data);
        b.put_i32(-1);
    });
}

/// `create` with the open ACL; `flags` 0 = persistent, 1 = ephemeral.
#[inline]
pub fn create(out: &mut BytesMut, xid: i32, path: &[u8], data: &[u8], flags: i32) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::CREATE);
        put_str(b, path);
        put_str(b, data);
        put_open_acl(b);
        b.put_i32(flags);
    });
}

#[inline]
pub fn delete(out: &mut BytesMut, xid: i32, path: &[u8]) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::DELETE);
        put_str(b, path);
        b.put_i32(-1);
    });
}

pub fn ping(out: &mut BytesMut) {
    write_frame(out, |b| {
        b.put_i32(ops::XID_PING);
        b.put_i32(ops::PING);
    });
}

pub fn close_session(out: &mut BytesMut, xid: i32) {
    write_frame(out, |b| {
        b.put_i32(xid);
        b.put_i32(ops::CLOSE_SESSION);
    });
}

/// A reply's header fields, read in place: (xid, zxid, err).
#[inline]
pub fn reply_header(frame: &[u8]) -> Option<(i32, i64, i32)> {
    if frame.len() < 16 {
        return None;
    }
    let xid = i32::from_be_bytes(frame[0..4].try_into().unwrap());
    let zxid = i64::from_be_bytes(frame[4..12].try_into().unwrap());
    let err = i32::from_be_bytes(frame[12..16].try_into().unwrap());
    Some((xid, zxid, err))
}

/// A notification's WatcherEvent (after the 16-byte header): (type, path bytes).
pub fn watcher_event(frame: &[u8]) -> Option<(i32, &[u8])> {
    let body = frame.get(16..)?;
    if body.len() < 12 {
        return None;
    }
    let typ = i32::from_be_bytes(body[0..4].try_into().unwrap());
    let len = i32::from_be_bytes(body[8..12].try_into().unwrap());
    let path = body.get(12..12 + usize::try_from(len).ok()?)?;
    Some((typ, path))
}

/// Split complete frames off the front of `buf`, calling `f` with each payload; returns how
/// many bytes were consumed. A negative or absurd length is an error.
#[inline]
pub fn for_each_frame(buf: &[u8], mut f: impl FnMut(&[u8])) -> io::Result<usize> {
    let mut off = 0;
    while buf.len() - off >= 4 {
        let len = i32::from_be_bytes(buf[off..off + 4].try_into().unwrap());
        if !(0..=64 << 20).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad frame length {len}"),
            ));
        }
        let len = len as usize;
        if buf.len() - off - 4 < len {
            break;
        }
        f(&buf[off + 4..off + 4 + len]);
        off += 4 + len;
    }
    Ok(off)
}

/// Connect and open a session (30 s timeout); returns the stream and the session id.
pub async fn connect(addr: &str, timeout: Duration) -> io::Result<(Stream, i64)> {
    connect_with(addr, timeout, 30_000).await
}

/// [`connect`] asking for a session timeout of `session_timeout_ms`.
pub async fn connect_with(
    addr: &str,
    timeout: Duration,
    session_timeout_ms: i32,
) -> io::Result<(Stream, i64)> {
    let fut = async {
        let mut s = crate::tls::connect(addr).await?;
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: session_timeout_ms,
            session_id: 0,
            passwd: Some(bytes::Bytes::from_static(&[0; 16])),
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| {
            req.encode(b);
            b.put_u8(0);
        });
        s.write_all(&out).await?;
        s.flush().await?;
        let len = s.read_i32().await?;
        if !(16..=4096).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad handshake reply length {len}"),
            ));
        }
        let mut body = vec![0u8; len as usize];
        s.read_exact(&mut body).await?;
        let (resp, _): (ConnectResponse, _) =
            jute::connect::decode_connect_response(bytes::Bytes::from(body))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if resp.session_id == 0 || resp.time_out <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "session refused (server not serving yet?)",
            ));
        }
        Ok((s, resp.session_id))
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "handshake timed out",
        )),
    }
}

/// Read frames from `s` until the reply to `xid` (watch events and other replies are
/// skipped) and return its body, reply header first. A frame whose length is outside
/// `lengths` is an error.
pub async fn read_reply<R: AsyncRead + Unpin>(
    s: &mut R,
    xid: i32,
    lengths: RangeInclusive<i32>,
) -> io::Result<Vec<u8>> {
    loop {
        let len = s.read_i32().await?;
        if !lengths.contains(&len) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame"));
        }
        let mut body = vec![0u8; len as usize];
        s.read_exact(&mut body).await?;
        if reply_header(&body).map(|h| h.0) == Some(xid) {
            return Ok(body);
        }
    }
}

/// One blocking-style request/reply on a fresh connection: getData(path). Returns the error
/// code (0 = found). Used to probe readiness and recovery.
pub async fn probe_get(addr: &str, path: &str, timeout: Duration) -> io::Result<i32> {
    let fut = async {
        let (mut s, _) = connect(addr, timeout).await?;
        let mut out = BytesMut::new();
        get_data(&mut out, 1, path.as_bytes(), false);
        close_session(&mut out, 2);
        s.write_all(&out).await?;
        s.flush().await?;
        let body = read_reply(&mut s, 1, 0..=64 << 20).await?;
        Ok(reply_header(&body).map_or(-1, |h| h.2))
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "probe timed out")),
    }
}

/// Poll [`probe_get`] of `path` every `every` until it answers OK or `timeout` passes;
/// `alive` is asked before each try (its error ends the wait). Returns how long it took.
pub async fn wait_for_path(
    addr: &str,
    path: &str,
    timeout: Duration,
    every: Duration,
    mut alive: impl FnMut() -> io::Result<()>,
) -> io::Result<Duration> {
    let t0 = std::time::Instant::now();
    loop {
        alive()?;
        if let Ok(0) = probe_get(addr, path, Duration::from_secs(2)).await {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{addr} does not answer getData({path}) after {timeout:?}"),
            ));
        }
        tokio::time::sleep(every).await;
    }
}

/// A four-letter word (`srvr`, `ruok`, ...) on a fresh connection; returns the reply text.
pub async fn four_letter(addr: &str, word: &str, timeout: Duration) -> io::Result<String> {
    let fut = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "four-letter word timed out",
        )),
    }
}

/// Error codes by name, for reports.
pub fn err_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        -1 => "SYSTEMERROR",
        -2 => "RUNTIMEINCONSISTENCY",
        -3 => "DATAINCONSISTENCY",
        -4 => "CONNECTIONLOSS",
        -5 => "MARSHALLINGERROR",
        -6 => "UNIMPLEMENTED",
        -7 => "OPERATIONTIMEOUT",
        -8 => "BADARGUMENTS",
        -100 => "APIERROR",
        -101 => "NONODE",
        -102 => "NOAUTH",
        -103 => "BADVERSION",
        -108 => "NOCHILDRENFOREPHEMERALS",
        -110 => "NODEEXISTS",
        -111 => "NOTEMPTY",
        -112 => "SESSIONEXPIRED",
        -118 => "SESSIONMOVED",
        -122 => "THROTTLEDOP",
        _ => "?",
    }
}
