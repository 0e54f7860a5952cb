//! The SNAP sync stream (`LearnerHandler.run` → `ZKDatabase.serializeSnapshot`, read by
//! `Learner.syncWithLeader` → `ZKDatabase.deserializeSnapshot`).
//!
//! Right after the SNAP packet the leader writes, on the same `BinaryOutputArchive` and with
//! no length prefix:
//!
//! ```text
//! int count, then count × (long sessionId, int timeout)     SerializeUtils.serializeSnapshot
//! int count, then count × (long aclId, vector<ACL>)         ReferenceCountedACLCache.serialize
//! node*: string path, buffer data, long acl, StatPersisted  DataTree.serializeNode (root = "")
//! string "/"                                                end of the nodes
//! string "BenWasHere"                                       the signature
//! ```
//!
//! Unlike a snapshot *file* there is no file header, no Adler32 seal and no digest section.
//! [`SnapDecoder`] takes this stream apart incrementally (any split of the bytes across reads
//! works) and hands out one [`SnapItem`] at a time; [`SnapEncoder`] writes it (for a leader,
//! and for tests).

use crate::zab::packet::{Walk, SNAP_SIGNATURE};
use crate::zab::Error;
use bytes::{BufMut, Bytes, BytesMut};
use jute::data::{Acl, StatPersisted};
use jute::{Decode, Encode};

/// One item of a SNAP stream, in stream order: sessions, then ACL lists, then nodes parents
/// first (the root with path ""). A snapshot file's body has the same items: its reader
/// (zk-server's `persist::snapshot`) lends the node path from its buffer (`P` = `&str`).
#[derive(Debug, Clone, PartialEq)]
pub enum SnapItem<P = String> {
    Session {
        id: i64,
        timeout: i32,
    },
    /// An entry of the ACL cache: nodes refer to the list by `id` (-1 is the open ACL).
    Acl {
        id: i64,
        acl: Vec<Acl>,
    },
    Node {
        path: P,
        data: Option<Bytes>,
        acl: i64,
        stat: StatPersisted,
    },
}

/// `StatPersisted`: czxid, mzxid, ctime, mtime (longs), version, cversion, aversion (ints),
/// ephemeralOwner, pzxid (longs).
const STAT_PERSISTED_LEN: usize = 4 * 8 + 3 * 4 + 2 * 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SessionCount,
    Sessions(u32),
    AclCount,
    Acls(u32),
    Nodes,
    Signature,
    Done,
}

/// Incremental decoder of a SNAP stream.
#[derive(Debug)]
pub struct SnapDecoder {
    state: State,
    max_buffer: usize,
    nodes: u64,
}

impl SnapDecoder {
    /// A decoder that refuses buffers and strings longer than `max_buffer` (as Java's
    /// `BinaryInputArchive` does with `jute.maxbuffer`).
    pub fn new(max_buffer: usize) -> Self {
        SnapDecoder {
            state: State::SessionCount,
            max_buffer,
            nodes: 0,
        }
    }

    /// Whether the signature has been read: the stream is over.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Nodes decoded so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// Take every complete item off the front of `buf` and push it to `out`. Returns true
    /// once the stream is complete (the bytes after the signature are left in `buf`).
    pub fn decode(&mut self, buf: &mut BytesMut, out: &mut Vec<SnapItem>) -> Result<bool, Error> {
        loop {
            match self.state {
                State::Done => return Ok(true),
                State::SessionCount | State::AclCount => {
                    if buf.len() < 4 {
                        return Ok(false);
                    }
                    let n = i32::decode(&mut buf.split_to(4).freeze())?;
                    let n = u32::try_from(n.max(0)).unwrap_or(0);
                    self.state = match self.state {
                        State::SessionCount => State::Sessions(n),
                        _ => State::Acls(n),
                    };
                }
                State::Sessions(0) => self.state = State::AclCount,
                State::Sessions(left) => {
                    if buf.len() < 12 {
                        return Ok(false);
                    }
                    let mut b = buf.split_to(12).freeze();
                    out.push(SnapItem::Session {
                        id: i64::decode(&mut b)?,
                        timeout: i32::decode(&mut b)?,
                    });
                    self.state = State::Sessions(left - 1);
                }
                State::Acls(0) => self.state = State::Nodes,
                State::Acls(left) => {
                    let Some(n) = self.acl_entry_len(buf)? else {
                        return Ok(false);
                    };
                    let mut b = buf.split_to(n).freeze();
                    let id = i64::decode(&mut b)?;
                    let acl = Vec::<Acl>::decode(&mut b)?;
                    out.push(SnapItem::Acl { id, acl });
                    self.state = State::Acls(left - 1);
                }
                State::Nodes => {
                    let mut w = Walk::new(buf, self.max_buffer);
                    if w.sized("path")?.is_none() {
                        return Ok(false);
                    }
                    let path_end = w.pos;
                    if &buf[4..path_end] == b"/" {
                        let _ = buf.split_to(path_end);
                        self.state = State::Signature;
                        continue;
                    }
                    if w.sized("node data")?.is_none() || !w.skip(8 + STAT_PERSISTED_LEN) {
                        return Ok(false);
                    }
                    let mut b = buf.split_to(w.pos).freeze();
                    let path = String::decode(&mut b)?;
                    let data = Option::<Bytes>::decode(&mut b)?;
                    let acl = i64::decode(&mut b)?;
                    let stat = StatPersisted::decode(&mut b)?;
                    self.nodes += 1;
                    out.push(SnapItem::Node {
                        path,
                        data,
                        acl,
                        stat,
                    });
                }
                State::Signature => {
                    let mut w = Walk::new(buf, self.max_buffer);
                    if w.sized("signature")?.is_none() {
                        return Ok(false);
                    }
                    let sig = String::decode(&mut buf.split_to(w.pos).freeze())?;
                    if sig != SNAP_SIGNATURE {
                        return Err(Error::Protocol(format!("Missing signature. Got {sig}")));
                    }
                    self.state = State::Done;
                }
            }
        }
    }

    /// Length of the ACL cache entry at the front of `buf` (long id, int count, count × ACL).
    fn acl_entry_len(&self, buf: &[u8]) -> Result<Option<usize>, Error> {
        let mut w = Walk::new(buf, self.max_buffer);
        if !w.skip(8) {
            return Ok(None);
        }
        let Some(n) = w.int() else {
            return Ok(None);
        };
        if n < 0 {
            // Java: "Incorrent format of InputArchive when deserialize DataTree - missing acls".
            return Err(Error::Protocol(
                "snapshot ACL cache entry without acls".into(),
            ));
        }
        for _ in 0..n {
            if !w.skip(4) || w.sized("acl scheme")?.is_none() || w.sized("acl id")?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(w.pos))
    }
}

/// Writes a SNAP stream in order: `sessions`, `acls`, any number of `node` calls (parents
/// before children, the root as ""), then `finish`.
#[derive(Debug, Default)]
pub struct SnapEncoder;

impl SnapEncoder {
    pub fn sessions(out: &mut BytesMut, sessions: &[(i64, i32)]) {
        out.put_i32(sessions.len() as i32);
        for (id, timeout) in sessions {
            out.put_i64(*id);
            out.put_i32(*timeout);
        }
    }

    pub fn acls(out: &mut BytesMut, acls: &[(i64, Vec<Acl>)]) {
        out.put_i32(acls.len() as i32);
        for (id, list) in acls {
            out.put_i64(*id);
            list.encode(out);
        }
    }

    pub fn node(
        out: &mut BytesMut,
        path: &str,
        data: Option<&Bytes>,
        acl: i64,
        stat: &StatPersisted,
    ) {
        path.to_string().encode(out);
        data.cloned().encode(out);
        out.put_i64(acl);
        stat.encode(out);
    }

    /// The end-of-nodes marker "/" and the signature.
    pub fn finish(out: &mut BytesMut) {
        "/".to_string().encode(out);
        SNAP_SIGNATURE.to_string().encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::data::Id;

    fn sample() -> (BytesMut, Vec<SnapItem>) {
        let acl = vec![Acl {
            perms: 31,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        let stat = StatPersisted {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            pzxid: 9,
        };
        let mut b = BytesMut::new();
        SnapEncoder::sessions(&mut b, &[(0x1234, 30000), (0x99, 4000)]);
        SnapEncoder::acls(&mut b, &[(1, acl.clone())]);
        let data = Bytes::from_static(b"hello");
        SnapEncoder::node(
            &mut b,
            "",
            Some(&Bytes::new()),
            -1,
            &StatPersisted::default(),
        );
        SnapEncoder::node(&mut b, "/a", Some(&data), 1, &stat);
        SnapEncoder::node(&mut b, "/a/b", None, 1, &stat);
        SnapEncoder::finish(&mut b);
        let items = vec![
            SnapItem::Session {
                id: 0x1234,
                timeout: 30000,
            },
            SnapItem::Session {
                id: 0x99,
                timeout: 4000,
            },
            SnapItem::Acl { id: 1, acl },
            SnapItem::Node {
                path: "".into(),
                data: Some(Bytes::new()),
                acl: -1,
                stat: StatPersisted::default(),
            },
            SnapItem::Node {
                path: "/a".into(),
                data: Some(data),
                acl: 1,
                stat: stat.clone(),
            },
            SnapItem::Node {
                path: "/a/b".into(),
                data: None,
                acl: 1,
                stat,
            },
        ];
        (b, items)
    }

    #[test]
    fn stat_persisted_len() {
        assert_eq!(
            StatPersisted::default().to_bytes().len(),
            STAT_PERSISTED_LEN
        );
    }

    #[test]
    fn decodes_in_one_piece_and_leaves_the_rest() {
        let (mut b, items) = sample();
        b.extend_from_slice(b"NEXT");
        let mut d = SnapDecoder::new(1 << 20);
        let mut out = Vec::new();
        assert!(d.decode(&mut b, &mut out).unwrap());
        assert_eq!(out, items);
        assert_eq!(&b[..], b"NEXT");
        assert_eq!(d.nodes(), 3);
    }

    #[test]
    fn decodes_byte_by_byte() {
        let (b, items) = sample();
        let mut d = SnapDecoder::new(1 << 20);
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        let mut done = false;
        for (i, byte) in b.iter().enumerate() {
            buf.put_u8(*byte);
            done = d.decode(&mut buf, &mut out).unwrap();
            assert_eq!(done, i == b.len() - 1);
        }
        assert!(done);
        assert_eq!(out, items);
    }

    #[test]
    fn bad_signature_is_an_error() {
        let mut b = BytesMut::new();
        SnapEncoder::sessions(&mut b, &[]);
        SnapEncoder::acls(&mut b, &[]);
        "/".to_string().encode(&mut b);
        "BenWasNotHere".to_string().encode(&mut b);
        let mut out = Vec::new();
        assert!(SnapDecoder::new(1 << 20).decode(&mut b, &mut out).is_err());
    }

    #[test]
    fn oversized_data_is_an_error() {
        let (mut b, _) = sample();
        let mut out = Vec::new();
        // The ACL scheme "world" and the data "hello" are 5 bytes: a limit of 4 rejects them.
        assert!(matches!(
            SnapDecoder::new(4).decode(&mut b, &mut out),
            Err(Error::TooLarge { .. })
        ));
    }
}
