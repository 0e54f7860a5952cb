//! The quorum-port wire format of ZAB as Java 3.8 speaks it (`Leader`, `Learner`,
//! `LearnerHandler`): packet type numbers, the payloads that are not Jute records (written
//! with a `DataOutputStream` or a `ByteBuffer`), and the framing of
//! `QuorumPacket`s on the socket.
//!
//! On the quorum port every message is a bare Jute `QuorumPacket` record (int type, long zxid,
//! buffer data, vector<Id> authinfo) written by a `BinaryOutputArchive`: there is no length
//! prefix, so a reader finds the end of a packet by walking its fields ([`packet_len`]). The
//! one exception is the SNAP sync, where the leader writes a snapshot stream straight after
//! the SNAP packet (see [`super::snap_stream`]).

use crate::zab::Error;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use jute::quorum::{LearnerInfo, QuorumPacket};
use jute::{Decode, Encode, Zxid};

// ---- packet types (Leader.java, 3.8) ----

/// Learner → leader: a client request to be turned into a txn (`Leader.REQUEST`).
pub const REQUEST: i32 = 1;
/// Leader → follower: a txn to log and acknowledge.
pub const PROPOSAL: i32 = 2;
/// Learner → leader: a proposal (or NEWLEADER / UPTODATE) is logged.
pub const ACK: i32 = 3;
/// Leader → follower: the proposal with this zxid is committed.
pub const COMMIT: i32 = 4;
/// Both ways: liveness; a learner's reply carries its session touch table.
pub const PING: i32 = 5;
/// Both ways: validate a client session reconnecting to a learner.
pub const REVALIDATE: i32 = 6;
/// Leader → learner: a client `sync` has gone through the leader.
pub const SYNC: i32 = 7;
/// Leader → observer: a committed txn (proposal and commit in one).
pub const INFORM: i32 = 8;
/// Leader → follower: COMMIT of a reconfig, with the designated leader's sid.
pub const COMMITANDACTIVATE: i32 = 9;
/// Leader → learner: end of the sync data; data is the leader's quorum config text.
pub const NEWLEADER: i32 = 10;
/// Follower → leader: first packet, a `LearnerInfo`.
pub const FOLLOWERINFO: i32 = 11;
/// Leader → learner: the learner may serve clients.
pub const UPTODATE: i32 = 12;
/// Leader → learner: sync by the proposals that follow.
pub const DIFF: i32 = 13;
/// Leader → learner: drop logged txns after the packet's zxid.
pub const TRUNC: i32 = 14;
/// Leader → learner: a full snapshot follows on the stream.
pub const SNAP: i32 = 15;
/// Observer → leader: first packet, a `LearnerInfo`.
pub const OBSERVERINFO: i32 = 16;
/// Leader → learner: the new epoch (zxid) and the leader's protocol version (data).
pub const LEADERINFO: i32 = 17;
/// Learner → leader: epoch acknowledged; data is the learner's current epoch, zxid its last.
pub const ACKEPOCH: i32 = 18;
/// Leader → observer: INFORM of a reconfig, with the designated leader's sid.
pub const INFORMANDACTIVATE: i32 = 19;

/// The ZAB protocol version of 3.4 and later (`0x10000`), in LearnerInfo and LEADERINFO.
pub const PROTOCOL_VERSION: i32 = 0x10000;

/// The string that ends a SNAP stream (`LearnerHandler`: `oa.writeString("BenWasHere")`).
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// Java's default `jute.maxbuffer` (0xfffff) plus `zookeeper.jute.maxbuffer.extrasize`
/// (1024 by default): the largest buffer or string a `BinaryInputArchive` accepts.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff + 1024;

/// Java's name of a packet type (`LearnerHandler.packetToString`), for logs.
pub fn type_name(t: i32) -> &'static str {
    match t {
        REQUEST => "REQUEST",
        PROPOSAL => "PROPOSAL",
        ACK => "ACK",
        COMMIT => "COMMIT",
        PING => "PING",
        REVALIDATE => "REVALIDATE",
        SYNC => "SYNC",
        INFORM => "INFORM",
        COMMITANDACTIVATE => "COMMITANDACTIVATE",
        NEWLEADER => "NEWLEADER",
        FOLLOWERINFO => "FOLLOWERINFO",
        UPTODATE => "UPTODATE",
        DIFF => "DIFF",
        TRUNC => "TRUNC",
        SNAP => "SNAP",
        OBSERVERINFO => "OBSERVERINFO",
        LEADERINFO => "LEADERINFO",
        ACKEPOCH => "ACKEPOCH",
        INFORMANDACTIVATE => "INFORMANDACTIVATE",
        _ => "UNKNOWN",
    }
}

/// A packet without data or auth info.
pub fn packet(r#type: i32, zxid: Zxid) -> QuorumPacket {
    QuorumPacket {
        r#type,
        zxid: zxid.into(),
        data: None,
        authinfo: Vec::new(),
    }
}

fn packet_with(r#type: i32, zxid: Zxid, data: Bytes) -> QuorumPacket {
    QuorumPacket {
        r#type,
        zxid: zxid.into(),
        data: Some(data),
        authinfo: Vec::new(),
    }
}

fn data(qp: &QuorumPacket) -> &[u8] {
    qp.data.as_deref().unwrap_or(&[])
}

fn short(what: &str, need: usize, got: usize) -> Error {
    Error::Protocol(format!("{what}: need {need} bytes of data, got {got}"))
}

// ---- handshake ----

/// FOLLOWERINFO / OBSERVERINFO (`Learner.registerWithLeader`): zxid = (acceptedEpoch, 0),
/// data = `LearnerInfo{sid, 0x10000, configVersion}` as a Jute record.
pub fn learner_info(
    r#type: i32,
    sid: i64,
    accepted_epoch: i64,
    config_version: i64,
) -> QuorumPacket {
    let info = LearnerInfo {
        serverid: sid,
        protocol_version: PROTOCOL_VERSION,
        config_version,
    };
    packet_with(r#type, Zxid::new(accepted_epoch, 0), info.to_bytes())
}

/// What a leader reads from FOLLOWERINFO / OBSERVERINFO data, as `LearnerHandler` does:
/// the sid if there are 8 bytes, the protocol version if 12, the config version if 20;
/// missing fields are `None`.
pub fn parse_learner_info(data: &[u8]) -> (Option<i64>, Option<i32>, Option<i64>) {
    let mut b = data;
    let sid = (b.len() >= 8).then(|| b.get_i64());
    let version = (b.len() >= 4 && sid.is_some()).then(|| b.get_i32());
    let config = (b.len() >= 8 && version.is_some()).then(|| b.get_i64());
    (sid, version, config)
}

/// LEADERINFO (`LearnerHandler.run`): zxid = (newEpoch, 0), data = int protocol version.
pub fn leader_info(new_epoch: i64, protocol_version: i32) -> QuorumPacket {
    packet_with(
        LEADERINFO,
        Zxid::new(new_epoch, 0),
        Bytes::copy_from_slice(&protocol_version.to_be_bytes()),
    )
}

/// The leader's protocol version from LEADERINFO data.
pub fn leader_info_version(qp: &QuorumPacket) -> Result<i32, Error> {
    let d = data(qp);
    if d.len() < 4 {
        return Err(short("LEADERINFO", 4, d.len()));
    }
    Ok(i32::from_be_bytes([d[0], d[1], d[2], d[3]]))
}

/// ACKEPOCH (`Learner.registerWithLeader`): zxid = the learner's last logged zxid, data = int
/// current epoch, or -1 when the learner had already accepted the leader's epoch (then the
/// reply does not count as an ack of the new epoch).
pub fn ack_epoch(last_zxid: Zxid, current_epoch: i32) -> QuorumPacket {
    packet_with(
        ACKEPOCH,
        last_zxid,
        Bytes::copy_from_slice(&current_epoch.to_be_bytes()),
    )
}

/// The epoch int of ACKEPOCH data.
pub fn ack_epoch_value(qp: &QuorumPacket) -> Result<i32, Error> {
    let d = data(qp);
    if d.len() < 4 {
        return Err(short("ACKEPOCH", 4, d.len()));
    }
    Ok(i32::from_be_bytes([d[0], d[1], d[2], d[3]]))
}

// ---- broadcast payloads ----

/// The data of a learner's PING reply (`Learner.ping`): for each session touched since the
/// last ping, long session id and int timeout, back to back (`DataOutputStream`).
pub fn encode_touches(touches: impl IntoIterator<Item = (i64, i32)>) -> Bytes {
    let mut b = BytesMut::new();
    for (id, timeout) in touches {
        b.put_i64(id);
        b.put_i32(timeout);
    }
    b.freeze()
}

/// The touch table of a PING reply, as `LearnerHandler` reads it (pairs while data is left).
pub fn decode_touches(data: &[u8]) -> Result<Vec<(i64, i32)>, Error> {
    if !data.len().is_multiple_of(12) {
        return Err(Error::Protocol(format!(
            "PING touch table of {} bytes is not a multiple of 12",
            data.len()
        )));
    }
    let mut b = data;
    let mut out = Vec::with_capacity(data.len() / 12);
    while b.has_remaining() {
        out.push((b.get_i64(), b.get_i32()));
    }
    Ok(out)
}

/// REVALIDATE from a learner (`Learner.validateSession`): zxid -1, data = long session id,
/// int timeout.
pub fn revalidate_request(session_id: i64, timeout: i32) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(12);
    b.put_i64(session_id);
    b.put_i32(timeout);
    packet_with(REVALIDATE, Zxid::NONE, b.freeze())
}

/// Session id and timeout of a learner's REVALIDATE.
pub fn decode_revalidate_request(qp: &QuorumPacket) -> Result<(i64, i32), Error> {
    let mut d = data(qp);
    if d.len() < 12 {
        return Err(short("REVALIDATE request", 12, d.len()));
    }
    Ok((d.get_i64(), d.get_i32()))
}

/// REVALIDATE answer of a leader (`LearnerHandler`/`Leader.revalidateSession`): zxid -1,
/// data = long session id, boolean valid (one byte).
pub fn revalidate_reply(session_id: i64, valid: bool) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(9);
    b.put_i64(session_id);
    b.put_u8(valid as u8);
    packet_with(REVALIDATE, Zxid::NONE, b.freeze())
}

/// Session id and verdict of a leader's REVALIDATE answer (`Learner.revalidate`).
pub fn decode_revalidate_reply(qp: &QuorumPacket) -> Result<(i64, bool), Error> {
    let mut d = data(qp);
    if d.len() < 9 {
        return Err(short("REVALIDATE reply", 9, d.len()));
    }
    Ok((d.get_i64(), d.get_u8() != 0))
}

/// A client request forwarded by a learner (`Learner.request`): zxid -1, data = long session
/// id, int cxid, int op type, then the request body as the client sent it; the session's
/// auth ids travel in `authinfo`.
pub fn request(
    session_id: i64,
    cxid: i32,
    op: i32,
    body: &[u8],
    authinfo: Vec<jute::data::Id>,
) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(16 + body.len());
    b.put_i64(session_id);
    b.put_i32(cxid);
    b.put_i32(op);
    b.extend_from_slice(body);
    QuorumPacket {
        r#type: REQUEST,
        zxid: -1,
        data: Some(b.freeze()),
        authinfo,
    }
}

/// A forwarded request: (session id, cxid, op type, body).
pub fn decode_request(qp: &QuorumPacket) -> Result<(i64, i32, i32, Bytes), Error> {
    let d = qp.data.clone().unwrap_or_default();
    if d.len() < 16 {
        return Err(short("REQUEST", 16, d.len()));
    }
    let mut h = &d[..16];
    let (s, c, t) = (h.get_i64(), h.get_i32(), h.get_i32());
    Ok((s, c, t, d.slice(16..)))
}

/// The designated leader's sid at the head of COMMITANDACTIVATE / INFORMANDACTIVATE data.
pub fn activate_leader_id(qp: &QuorumPacket) -> Result<i64, Error> {
    let mut d = data(qp);
    if d.len() < 8 {
        return Err(short(type_name(qp.r#type), 8, d.len()));
    }
    Ok(d.get_i64())
}

/// The length of a `TxnHeader` (clientId, cxid, zxid, time, type).
pub const TXN_HEADER_LEN: usize = 8 + 4 + 8 + 8 + 4;

/// The zxid in the `TxnHeader` at the start of a PROPOSAL / INFORM's data (the txn log
/// entry: header, txn, optional digest).
pub fn txn_zxid(entry: &[u8]) -> Result<Zxid, Error> {
    if entry.len() < TXN_HEADER_LEN {
        return Err(short("txn entry", TXN_HEADER_LEN, entry.len()));
    }
    Ok(Zxid::from(i64::from_be_bytes(
        entry[12..20].try_into().expect("8 bytes"),
    )))
}

/// The op code of `reconfig`, whose txn is a `SetDataTxn` of `/zookeeper/config`.
pub const RECONFIG_TXN: i32 = 16;

/// The new quorum config a reconfig txn entry carries (its `SetDataTxn` data, Java's
/// `QuorumVerifier.toString()`); `None` for other txns or a malformed one.
pub fn reconfig_config(entry: &[u8]) -> Option<Bytes> {
    if txn_type(entry).ok()? != RECONFIG_TXN {
        return None;
    }
    let rest = &entry[TXN_HEADER_LEN..];
    let len = |b: &[u8]| -> Option<usize> {
        usize::try_from(i32::from_be_bytes(b.get(..4)?.try_into().ok()?)).ok()
    };
    let path_len = len(rest)?;
    let rest = rest.get(4 + path_len..)?;
    let data_len = len(rest)?;
    rest.get(4..4 + data_len).map(Bytes::copy_from_slice)
}

/// The op type in the `TxnHeader` of a txn entry.
pub fn txn_type(entry: &[u8]) -> Result<i32, Error> {
    if entry.len() < TXN_HEADER_LEN {
        return Err(short("txn entry", TXN_HEADER_LEN, entry.len()));
    }
    Ok(i32::from_be_bytes(
        entry[28..32].try_into().expect("4 bytes"),
    ))
}

// ---- framing ----

/// A cursor that walks Jute fields without decoding them, to find where a value ends in a
/// buffer that may hold only part of it. `Ok(None)` from a walker means "incomplete".
pub(crate) struct Walk<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub max_buffer: usize,
}

impl<'a> Walk<'a> {
    pub fn new(buf: &'a [u8], max_buffer: usize) -> Self {
        Walk {
            buf,
            pos: 0,
            max_buffer,
        }
    }

    /// Skip `n` bytes; false if they are not all there.
    pub fn skip(&mut self, n: usize) -> bool {
        if self.buf.len() - self.pos < n {
            return false;
        }
        self.pos += n;
        true
    }

    pub fn int(&mut self) -> Option<i32> {
        let b = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(i32::from_be_bytes(b.try_into().expect("4 bytes")))
    }

    /// Skip a length-prefixed buffer or string (-1 = null); errors on a bad length.
    pub fn sized(&mut self, what: &str) -> Result<Option<()>, Error> {
        let Some(n) = self.int() else {
            return Ok(None);
        };
        if n == -1 {
            return Ok(Some(()));
        }
        if n < -1 {
            return Err(Error::Protocol(format!("negative {what} length {n}")));
        }
        if n as usize > self.max_buffer {
            return Err(Error::TooLarge {
                what: what.to_string(),
                len: n as usize,
                max: self.max_buffer,
            });
        }
        Ok(self.skip(n as usize).then_some(()))
    }
}

/// The length of the `QuorumPacket` at the start of `buf`, `Ok(None)` if `buf` holds only
/// part of it. Buffers and strings longer than `max_buffer` are an error (as in Java).
pub fn packet_len(buf: &[u8], max_buffer: usize) -> Result<Option<usize>, Error> {
    let mut w = Walk::new(buf, max_buffer);
    if !w.skip(4 + 8) {
        return Ok(None);
    }
    if w.sized("packet data")?.is_none() {
        return Ok(None);
    }
    let Some(n) = w.int() else {
        return Ok(None);
    };
    for _ in 0..n.max(0) {
        if w.sized("auth scheme")?.is_none() || w.sized("auth id")?.is_none() {
            return Ok(None);
        }
    }
    Ok(Some(w.pos))
}

/// Take one complete `QuorumPacket` off the front of `buf`, or `Ok(None)` if it is not all
/// there yet.
pub fn decode_packet(buf: &mut BytesMut, max_buffer: usize) -> Result<Option<QuorumPacket>, Error> {
    let Some(n) = packet_len(buf, max_buffer)? else {
        return Ok(None);
    };
    let bytes = buf.split_to(n).freeze();
    Ok(Some(QuorumPacket::from_bytes_exact(bytes)?))
}

/// Append a packet as it goes on the wire (the bare record).
pub fn encode_packet(qp: &QuorumPacket, out: &mut BytesMut) {
    qp.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_info_layout() {
        // Bytes as Java's BinaryOutputArchive writes LearnerInfo(3, 0x10000, 0x1_0000_0000).
        let qp = learner_info(FOLLOWERINFO, 3, 5, 0x1_0000_0000);
        assert_eq!(qp.zxid, 0x5_0000_0000);
        let d = qp.data.clone().unwrap();
        assert_eq!(
            &d[..],
            &[0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            parse_learner_info(&d),
            (Some(3), Some(0x10000), Some(0x1_0000_0000))
        );
        assert_eq!(parse_learner_info(&d[..8]), (Some(3), None, None));
    }

    #[test]
    fn payloads_round_trip() {
        let li = leader_info(9, PROTOCOL_VERSION);
        assert_eq!(li.zxid, 9 << 32);
        assert_eq!(leader_info_version(&li).unwrap(), 0x10000);
        let ae = ack_epoch(Zxid::from(0x2_0000_0005), -1);
        assert_eq!(ack_epoch_value(&ae).unwrap(), -1);
        assert_eq!(ae.zxid, 0x2_0000_0005);
        let t = encode_touches([(0x100, 4000), (-5, 30000)]);
        assert_eq!(t.len(), 24);
        assert_eq!(
            decode_touches(&t).unwrap(),
            vec![(0x100, 4000), (-5, 30000)]
        );
        assert!(decode_touches(&t[..13]).is_err());
        let rv = revalidate_request(77, 5000);
        assert_eq!(decode_revalidate_request(&rv).unwrap(), (77, 5000));
        let rr = revalidate_reply(77, true);
        assert_eq!(rr.data.as_deref().unwrap().len(), 9);
        assert_eq!(decode_revalidate_reply(&rr).unwrap(), (77, true));
        let rq = request(1, 2, 3, b"body", vec![]);
        let (s, c, t, b) = decode_request(&rq).unwrap();
        assert_eq!((s, c, t, &b[..]), (1, 2, 3, &b"body"[..]));
    }

    #[test]
    fn framing_waits_for_whole_packets() {
        let qp = QuorumPacket {
            r#type: PROPOSAL,
            zxid: 42,
            data: Some(Bytes::from_static(b"0123456789")),
            authinfo: vec![jute::data::Id {
                scheme: "digest".into(),
                id: "u:x".into(),
            }],
        };
        let mut wire = BytesMut::new();
        encode_packet(&qp, &mut wire);
        encode_packet(&packet(PING, Zxid::from(1)), &mut wire);
        let total = wire.len();
        for cut in 0..total {
            let mut b = BytesMut::from(&wire[..cut]);
            let first = decode_packet(&mut b, DEFAULT_MAX_BUFFER).unwrap();
            if cut < total - 20 {
                assert!(first.is_none(), "cut {cut}");
            } else {
                assert_eq!(first.unwrap(), qp);
            }
        }
        let mut b = wire.clone();
        assert_eq!(
            decode_packet(&mut b, DEFAULT_MAX_BUFFER).unwrap().unwrap(),
            qp
        );
        assert_eq!(
            decode_packet(&mut b, DEFAULT_MAX_BUFFER).unwrap().unwrap(),
            packet(PING, Zxid::from(1))
        );
        assert!(b.is_empty());
    }

    #[test]
    fn framing_rejects_bad_lengths() {
        let mut b = BytesMut::new();
        b.put_i32(PROPOSAL);
        b.put_i64(1);
        b.put_i32(-2);
        assert!(decode_packet(&mut b, 100).is_err());
        let mut b = BytesMut::new();
        b.put_i32(PROPOSAL);
        b.put_i64(1);
        b.put_i32(101);
        assert!(matches!(
            decode_packet(&mut b, 100),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn txn_header_fields() {
        let mut e = BytesMut::new();
        e.put_i64(0x55); // clientId
        e.put_i32(7); // cxid
        e.put_i64(0x1_0000_0009); // zxid
        e.put_i64(1234); // time
        e.put_i32(1); // type
        assert_eq!(txn_zxid(&e).unwrap(), Zxid::from(0x1_0000_0009));
        assert_eq!(txn_type(&e).unwrap(), 1);
        assert!(txn_zxid(&e[..20]).is_err());
    }
}
