//! A raw, blocking ZooKeeper client protocol connection: the handshake, requests with
//! explicit xids and op codes, replies and notifications (xid -1) read in the order the
//! server sent them, pings, auth packets and closeSession. Every frame received is kept in
//! [`Client::log`] so a caller can compare reply streams and event streams.

use bytes::{Bytes, BytesMut};
use jute::connect::{decode_connect_response, Connect};
use jute::frame::write_frame;
use jute::ops;
use jute::proto::{
    AuthPacket, ConnectRequest, ReplyHeader, RequestHeader, SetWatches, SetWatches2, WatcherEvent,
};
use jute::{Decode, Encode};
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest frame we accept from a server (Java's default `jute.maxbuffer` plus slack).
const MAX_FRAME: usize = 4 << 20;

/// One frame received from the server after the handshake.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A reply (any xid but -1): its header and the undecoded body.
    Reply { header: ReplyHeader, body: Bytes },
    /// A watch notification (xid -1): the header's zxid and the event.
    Event { zxid: i64, event: WatcherEvent },
}

/// The server's answer to the handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub protocol_version: i32,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// The trailing readOnly byte, if the server sent one.
    pub read_only: Option<bool>,
}

/// A connected session.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub session: Session,
    next_xid: i32,
    /// Every frame received after the handshake, in arrival order.
    pub log: Vec<Received>,
    /// The highest zxid seen in a reply header (what a real client sends as lastZxidSeen).
    pub last_zxid: i64,
    closed: bool,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Client {
    /// Connect and establish a new session (protocol 0, lastZxidSeen 0, readOnly false).
    /// `io_timeout` bounds every later read and write, so a stuck server fails the caller
    /// instead of hanging it. A refused session is an error.
    pub fn connect(
        addr: SocketAddr,
        session_timeout_ms: i32,
        io_timeout: Duration,
    ) -> io::Result<Client> {
        let c = Client::handshake(
            addr,
            session_timeout_ms,
            0,
            &[0; 16],
            0,
            Some(false),
            io_timeout,
        )?;
        if c.session.session_id == 0 {
            return Err(invalid("server refused the session (session id 0)"));
        }
        Ok(c)
    }

    /// The handshake with every field chosen by the caller (`session_id` non-zero resumes a
    /// session; `read_only` None is an old client without the trailing byte). A refused
    /// session is returned as is (session id 0, timeout 0): the server closes the connection
    /// after it.
    pub fn handshake(
        addr: SocketAddr,
        session_timeout_ms: i32,
        session_id: i64,
        passwd: &[u8],
        last_zxid_seen: i64,
        read_only: Option<bool>,
        io_timeout: Duration,
    ) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, io_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(io_timeout))?;
        stream.set_write_timeout(Some(io_timeout))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::with_capacity(64 * 1024, stream);

        let connect = Connect {
            request: ConnectRequest {
                protocol_version: 0,
                last_zxid_seen,
                time_out: session_timeout_ms,
                session_id,
                passwd: Some(Bytes::copy_from_slice(passwd)),
            },
            read_only,
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| connect.encode(b));
        writer.write_all(&out)?;
        let frame = read_frame(&mut reader)?;
        let (resp, read_only) = decode_connect_response(frame)
            .map_err(|e| invalid(format!("bad ConnectResponse: {e}")))?;
        Ok(Client {
            reader,
            writer,
            session: Session {
                protocol_version: resp.protocol_version,
                timeout: resp.time_out,
                session_id: resp.session_id,
                passwd: resp.passwd.unwrap_or_default(),
                read_only,
            },
            next_xid: 1,
            log: Vec::new(),
            last_zxid: last_zxid_seen,
            closed: false,
        })
    }

    pub fn session_id(&self) -> i64 {
        self.session.session_id
    }

    /// Whether closeSession was answered (the server then closes the connection).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The next xid [`Client::send`] will use.
    pub fn peek_xid(&self) -> i32 {
        self.next_xid
    }

    /// Send a request with the next xid; returns that xid.
    pub fn send(&mut self, op: i32, body: &[u8]) -> io::Result<i32> {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.send_with_xid(xid, op, body)?;
        Ok(xid)
    }

    /// Send a request with an explicit xid (reserved ones included).
    pub fn send_with_xid(&mut self, xid: i32, op: i32, body: &[u8]) -> io::Result<()> {
        let mut out = BytesMut::with_capacity(16 + body.len());
        write_frame(&mut out, |b| {
            RequestHeader { xid, r#type: op }.encode(b);
            b.extend_from_slice(body);
        });
        self.writer.write_all(&out)
    }

    /// Read the next frame (reply or notification) and append it to the log.
    pub fn read(&mut self) -> io::Result<Received> {
        let mut frame = read_frame(&mut self.reader)?;
        let header = ReplyHeader::decode(&mut frame)
            .map_err(|e| invalid(format!("bad ReplyHeader: {e}")))?;
        if header.xid != ops::XID_NOTIFICATION && header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        let r = if header.xid == ops::XID_NOTIFICATION {
            let event = WatcherEvent::from_bytes_exact(frame)
                .map_err(|e| invalid(format!("bad WatcherEvent: {e}")))?;
            Received::Event {
                zxid: header.zxid,
                event,
            }
        } else {
            Received::Reply {
                header,
                body: frame,
            }
        };
        self.log.push(r.clone());
        Ok(r)
    }

    /// Read frames up to the next reply; returns every frame read, that reply last. Servers
    /// answer in order, so it is the reply to the oldest outstanding request; its xid is
    /// left to the caller to check (Java answers a ping sent with an ordinary xid with
    /// xid -2, for one).
    pub fn read_until_reply(&mut self) -> io::Result<Vec<Received>> {
        let mut got = Vec::new();
        loop {
            let r = self.read()?;
            let done = matches!(r, Received::Reply { .. });
            got.push(r);
            if done {
                return Ok(got);
            }
        }
    }

    /// Send a request and read up to its reply (see [`Client::read_until_reply`]).
    pub fn call(&mut self, op: i32, body: &[u8]) -> io::Result<Vec<Received>> {
        self.send(op, body)?;
        self.read_until_reply()
    }

    /// `call` with a record body.
    pub fn call_record(&mut self, op: i32, body: &impl Encode) -> io::Result<Vec<Received>> {
        self.call(op, &body.to_bytes())
    }

    /// A ping (xid -2); returns the frames up to its reply.
    pub fn ping(&mut self) -> io::Result<Vec<Received>> {
        self.send_with_xid(ops::XID_PING, ops::PING, &[])?;
        self.read_until_reply()
    }

    /// An auth packet (xid -4), e.g. `auth("digest", b"user:password")`.
    pub fn auth(&mut self, scheme: &str, auth: &[u8]) -> io::Result<Vec<Received>> {
        let body = AuthPacket {
            r#type: 0,
            scheme: scheme.to_string(),
            auth: Some(Bytes::copy_from_slice(auth)),
        }
        .to_bytes();
        self.send_with_xid(ops::XID_AUTH, ops::AUTH, &body)?;
        self.read_until_reply()
    }

    /// SetWatches2 (xid -8): re-register watches after a reconnect; the server fires at once
    /// the ones whose node changed after `relative_zxid`.
    pub fn set_watches(&mut self, w: &SetWatches2) -> io::Result<Vec<Received>> {
        self.send_with_xid(ops::XID_SET_WATCHES, ops::SET_WATCHES2, &w.to_bytes())?;
        self.read_until_reply()
    }

    /// SetWatches (op 101, before persistent watches existed), xid -8.
    pub fn set_watches_v1(&mut self, w: &SetWatches) -> io::Result<Vec<Received>> {
        self.send_with_xid(ops::XID_SET_WATCHES, ops::SET_WATCHES, &w.to_bytes())?;
        self.read_until_reply()
    }

    /// closeSession; returns the frames up to its reply. The connection is unusable after.
    pub fn close_session(&mut self) -> io::Result<Vec<Received>> {
        let r = self.call(ops::CLOSE_SESSION, &[])?;
        self.closed = true;
        Ok(r)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

fn read_frame(r: &mut impl Read) -> io::Result<Bytes> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if len < 0 || len as usize > MAX_FRAME {
        return Err(invalid(format!("bad frame length {len}")));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}
