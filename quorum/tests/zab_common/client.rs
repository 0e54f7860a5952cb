//! A minimal blocking ZooKeeper client for the ZAB interop tests: enough to write znodes
//! through a Java node and to read back every path, its data, stat and ACL.

use bytes::{BufMut, Bytes, BytesMut};
use jute::connect::{decode_connect_response, Connect};
use jute::data::{Acl, Id, Stat};
use jute::ops;
use jute::proto::*;
use jute::{Decode, Encode};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Client {
    stream: TcpStream,
    xid: i32,
    pub session_id: i64,
    pub timeout: i32,
}

/// A reply's error code (0 = ok) and body.
pub type Reply = (i32, Bytes);

pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: ops::perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn read_frame(s: &mut TcpStream) -> io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(0..=16 << 20).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad frame length",
        ));
    }
    let mut buf = vec![0u8; len as usize];
    s.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

impl Client {
    /// Connect and open a session with the given timeout (ms).
    pub fn connect(addr: SocketAddr, session_timeout: i32) -> io::Result<Client> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let c = Connect {
            request: ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                time_out: session_timeout,
                session_id: 0,
                passwd: Some(Bytes::from_static(&[0; 16])),
            },
            read_only: Some(false),
        };
        let mut body = BytesMut::new();
        c.encode(&mut body);
        let mut out = BytesMut::new();
        out.put_i32(body.len() as i32);
        out.extend_from_slice(&body);
        stream.write_all(&out)?;
        let (resp, _) = decode_connect_response(read_frame(&mut stream)?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if resp.session_id == 0 {
            return Err(io::Error::other("session refused"));
        }
        Ok(Client {
            stream,
            xid: 1,
            session_id: resp.session_id,
            timeout: resp.time_out,
        })
    }

    /// Send a request and wait for its reply (skipping notifications).
    pub fn call(&mut self, op: i32, body: &[u8]) -> io::Result<Reply> {
        let xid = match op {
            ops::PING => ops::XID_PING,
            ops::AUTH => ops::XID_AUTH,
            _ => {
                self.xid += 1;
                self.xid
            }
        };
        let mut out = BytesMut::new();
        out.put_i32((8 + body.len()) as i32);
        RequestHeader { xid, r#type: op }.encode(&mut out);
        out.extend_from_slice(body);
        self.stream.write_all(&out)?;
        loop {
            let mut f = read_frame(&mut self.stream)?;
            let h = ReplyHeader::decode(&mut f)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if h.xid == ops::XID_NOTIFICATION {
                continue;
            }
            if h.xid != xid {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("reply xid {} for request {xid}", h.xid),
                ));
            }
            return Ok((h.err, f));
        }
    }

    fn ok<T: Decode>(&mut self, op: i32, body: &impl Encode) -> Result<T, i32> {
        let (err, mut b) = self.call(op, &body.to_bytes()).expect("client I/O");
        if err != 0 {
            return Err(err);
        }
        Ok(T::decode(&mut b).expect("reply body"))
    }

    pub fn ping(&mut self) -> io::Result<()> {
        self.call(ops::PING, &[]).map(|_| ())
    }

    pub fn add_digest_auth(&mut self, user_pass: &str) {
        let body = AuthPacket {
            r#type: 0,
            scheme: "digest".into(),
            auth: Some(Bytes::copy_from_slice(user_pass.as_bytes())),
        };
        let (err, _) = self.call(ops::AUTH, &body.to_bytes()).expect("auth");
        assert_eq!(err, 0, "auth failed");
    }

    /// create2 with the given flags (0 persistent, 1 ephemeral, 2 sequential, 4 container).
    pub fn create(
        &mut self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
    ) -> Result<String, i32> {
        let op = if flags == 4 {
            ops::CREATE_CONTAINER
        } else {
            ops::CREATE2
        };
        let r: Create2Response = self.ok(
            op,
            &CreateRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl,
                flags,
            },
        )?;
        Ok(r.path)
    }

    /// A persistent node with a TTL (needs extended types on the server).
    pub fn create_ttl(&mut self, path: &str, data: &[u8], ttl: i64) -> Result<String, i32> {
        let r: Create2Response = self.ok(
            ops::CREATE_TTL,
            &CreateTTLRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl: open_acl(),
                flags: 5, // PERSISTENT_WITH_TTL
                ttl,
            },
        )?;
        Ok(r.path)
    }

    pub fn set_data(&mut self, path: &str, data: &[u8]) -> Result<Stat, i32> {
        let r: SetDataResponse = self.ok(
            ops::SET_DATA,
            &SetDataRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                version: -1,
            },
        )?;
        Ok(r.stat)
    }

    pub fn delete(&mut self, path: &str) -> Result<(), i32> {
        let (err, _) = self
            .call(
                ops::DELETE,
                &DeleteRequest {
                    path: path.into(),
                    version: -1,
                }
                .to_bytes(),
            )
            .expect("delete");
        if err != 0 {
            return Err(err);
        }
        Ok(())
    }

    /// `sync`: the node has seen everything the leader committed before it.
    pub fn sync(&mut self, path: &str) {
        let _: SyncResponse = self
            .ok(ops::SYNC, &SyncRequest { path: path.into() })
            .expect("sync");
    }

    pub fn get_data(&mut self, path: &str) -> Result<(Option<Bytes>, Stat), i32> {
        let r: GetDataResponse = self.ok(
            ops::GET_DATA,
            &GetDataRequest {
                path: path.into(),
                watch: false,
            },
        )?;
        Ok((r.data, r.stat))
    }

    pub fn get_children(&mut self, path: &str) -> Result<Vec<String>, i32> {
        let r: GetChildren2Response = self.ok(
            ops::GET_CHILDREN2,
            &GetChildrenRequest {
                path: path.into(),
                watch: false,
            },
        )?;
        Ok(r.children)
    }

    pub fn get_acl(&mut self, path: &str) -> Result<Vec<Acl>, i32> {
        let r: GetACLResponse = self.ok(ops::GET_ACL, &GetACLRequest { path: path.into() })?;
        Ok(r.acl)
    }

    pub fn close(mut self) {
        let _ = self.call(ops::CLOSE_SESSION, &[]);
    }
}

/// One znode as a server serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Znode {
    pub data: Option<Bytes>,
    pub stat: Stat,
    pub acl: Vec<Acl>,
    pub children: Vec<String>,
}

/// Every znode under `/` (children sorted), read through `c`.
pub fn dump(c: &mut Client) -> std::collections::BTreeMap<String, Znode> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec!["/".to_string()];
    while let Some(p) = todo.pop() {
        let Ok((data, stat)) = c.get_data(&p) else {
            continue; // deleted meanwhile
        };
        let acl = c.get_acl(&p).unwrap_or_default();
        let mut children = c.get_children(&p).unwrap_or_default();
        children.sort();
        for ch in &children {
            todo.push(if p == "/" {
                format!("/{ch}")
            } else {
                format!("{p}/{ch}")
            });
        }
        out.insert(
            p,
            Znode {
                data,
                stat,
                acl,
                children,
            },
        );
    }
    out
}

/// Ask a four-letter word and return the answer.
pub fn four_letter(addr: SocketAddr, word: &str) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The zxid of a `srvr` answer ("Zxid: 0x...").
pub fn srvr_zxid(srvr: &str) -> Option<i64> {
    let line = srvr.lines().find(|l| l.starts_with("Zxid: 0x"))?;
    i64::from_str_radix(line.trim_start_matches("Zxid: 0x").trim(), 16).ok()
}
