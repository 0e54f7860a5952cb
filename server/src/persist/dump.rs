//! Human- and machine-readable renderings of log entries and snapshots, for the dump tools
//! (`zk-logdump`, `zk-snapdump`, modelled on Java's `TxnLogToolkit` and `SnapshotFormatter`).

use super::snapshot::ZxidDigest;
use crate::tree::{DataTree, Node};
use crate::txn::{Txn, TxnBody};
use jute::data::Acl;
use jute::txn::TxnDigest;
use jute::{OpCode, SessionId, Zxid};
use std::fmt::Write;

/// Java's `Request.op2String` of a txn header's type: `"create"`, `"createTtl"`, ...,
/// `"unknown N"` for a number that is no op code.
pub fn op_name(ty: i32) -> String {
    OpCode::try_from(ty).map_or_else(|_| format!("unknown {ty}"), |op| op.name().into())
}

/// Standard base64 with padding.
pub fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn format_time(ms: i64) -> String {
    let t = crate::dates::utc(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
    )
}

/// Data as text ('...') or hex (#...), the first 64 bytes of longer data.
fn data_text(d: &Option<bytes::Bytes>) -> String {
    let Some(b) = d else { return "null".into() };
    let shown = &b[..b.len().min(64)];
    let mut s = match std::str::from_utf8(shown) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => format!("'{s}'"),
        _ => format!(
            "#{}",
            shown.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    };
    if b.len() > shown.len() {
        let _ = write!(s, "...({} bytes)", b.len());
    }
    s
}

fn acl_text(acl: &[Acl]) -> String {
    let v: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
        .collect();
    format!("[{}]", v.join(","))
}

/// The body of a txn in one line.
pub fn body_text(body: &TxnBody) -> String {
    match body {
        TxnBody::Create(t) => format!(
            "{},{},{},{},{}",
            t.path,
            data_text(&t.data),
            acl_text(&t.acl),
            if t.ephemeral { "T" } else { "F" },
            t.parent_c_version
        ),
        TxnBody::CreateContainer(t) => {
            format!(
                "{},{},{},{}",
                t.path,
                data_text(&t.data),
                acl_text(&t.acl),
                t.parent_c_version
            )
        }
        TxnBody::CreateTtl(t) => format!(
            "{},{},{},{},ttl={}",
            t.path,
            data_text(&t.data),
            acl_text(&t.acl),
            t.parent_c_version,
            t.ttl
        ),
        TxnBody::Delete(t) => t.path.clone(),
        TxnBody::SetData(t) => format!("{},{},{}", t.path, data_text(&t.data), t.version),
        TxnBody::SetAcl(t) => format!("{},{},{}", t.path, acl_text(&t.acl), t.version),
        TxnBody::Check(t) => format!("{},{}", t.path, t.version),
        TxnBody::CreateSession(t) => format!("timeOut={}", t.time_out),
        TxnBody::CloseSession(None) => String::new(),
        TxnBody::CloseSession(Some(t)) => format!("paths2Delete={:?}", t.paths2_delete),
        TxnBody::Error(t) => format!("err={}", t.err),
        TxnBody::Multi(subs) => {
            let v: Vec<String> = subs
                .iter()
                .map(|(op, b)| format!("{op}:{}", body_text(b)))
                .collect();
            v.join("; ")
        }
    }
}

/// One log entry as a line, like `TxnLogToolkit`.
pub fn txn_line(txn: &Txn, digest: Option<&TxnDigest>) -> String {
    let h = &txn.hdr;
    let mut s = format!(
        "{} session {} cxid 0x{:x} zxid {} {} {}",
        format_time(h.time),
        SessionId::from(h.client_id),
        h.cxid as u32,
        Zxid::from(h.zxid),
        op_name(h.r#type),
        body_text(&txn.body)
    );
    if let Some(d) = digest {
        let _ = write!(s, " digest {}:{}", d.version, d.tree_digest);
    }
    s
}

fn acl_json(acl: &[Acl]) -> String {
    let v: Vec<String> = acl
        .iter()
        .map(|a| {
            format!(
                "{{\"perms\":{},\"scheme\":{},\"id\":{}}}",
                a.perms,
                json_str(&a.id.scheme),
                json_str(&a.id.id)
            )
        })
        .collect();
    format!("[{}]", v.join(","))
}

fn data_json(d: &Option<bytes::Bytes>) -> String {
    d.as_ref().map_or("null".into(), |b| json_str(&base64(b)))
}

fn body_json(body: &TxnBody) -> String {
    match body {
        TxnBody::Create(t) => format!(
            "{{\"path\":{},\"data\":{},\"acl\":{},\"ephemeral\":{},\"parentCVersion\":{}}}",
            json_str(&t.path),
            data_json(&t.data),
            acl_json(&t.acl),
            t.ephemeral,
            t.parent_c_version
        ),
        TxnBody::CreateContainer(t) => format!(
            "{{\"path\":{},\"data\":{},\"acl\":{},\"parentCVersion\":{}}}",
            json_str(&t.path),
            data_json(&t.data),
            acl_json(&t.acl),
            t.parent_c_version
        ),
        TxnBody::CreateTtl(t) => format!(
            "{{\"path\":{},\"data\":{},\"acl\":{},\"parentCVersion\":{},\"ttl\":{}}}",
            json_str(&t.path),
            data_json(&t.data),
            acl_json(&t.acl),
            t.parent_c_version,
            t.ttl
        ),
        TxnBody::Delete(t) => format!("{{\"path\":{}}}", json_str(&t.path)),
        TxnBody::SetData(t) => format!(
            "{{\"path\":{},\"data\":{},\"version\":{}}}",
            json_str(&t.path),
            data_json(&t.data),
            t.version
        ),
        TxnBody::SetAcl(t) => format!(
            "{{\"path\":{},\"acl\":{},\"version\":{}}}",
            json_str(&t.path),
            acl_json(&t.acl),
            t.version
        ),
        TxnBody::Check(t) => format!(
            "{{\"path\":{},\"version\":{}}}",
            json_str(&t.path),
            t.version
        ),
        TxnBody::CreateSession(t) => format!("{{\"timeOut\":{}}}", t.time_out),
        TxnBody::CloseSession(None) => "null".into(),
        TxnBody::CloseSession(Some(t)) => {
            let v: Vec<String> = t.paths2_delete.iter().map(|p| json_str(p)).collect();
            format!("{{\"paths2Delete\":[{}]}}", v.join(","))
        }
        TxnBody::Error(t) => format!("{{\"err\":{}}}", t.err),
        TxnBody::Multi(subs) => {
            let v: Vec<String> = subs
                .iter()
                .map(|(ty, b)| {
                    format!(
                        "{{\"type\":{},\"txn\":{}}}",
                        json_str(ty.name()),
                        body_json(b)
                    )
                })
                .collect();
            format!("[{}]", v.join(","))
        }
    }
}

/// One log entry as a JSON object (one line).
pub fn txn_json(txn: &Txn, digest: Option<&TxnDigest>) -> String {
    let h = &txn.hdr;
    format!(
        "{{\"zxid\":\"{}\",\"time\":{},\"session\":\"{}\",\"cxid\":{},\"type\":{},\"txn\":{},\"digest\":{}}}",
        Zxid::from(h.zxid),
        h.time,
        SessionId::from(h.client_id),
        h.cxid,
        json_str(&op_name(h.r#type)),
        body_json(&txn.body),
        digest.map_or("null".into(), |d| format!(
            "{{\"version\":{},\"treeDigest\":{}}}",
            d.version, d.tree_digest
        ))
    )
}

/// Java's `%#016x`.
fn jhex(v: i64) -> String {
    format!("{:#016x}", v as u64)
}

/// A snapshot as `SnapshotFormatter` prints it (with `-d`: data in base64; we also print ACLs).
pub fn snapshot_text(
    tree: &DataTree,
    file_zxid: i64,
    digest: Option<&ZxidDigest>,
    with_data: bool,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "ZNode Details (count={}):", tree.node_count());
    let mut max_zxid = 0i64;
    let _ = tree.for_each_node(|p, n: &Node| {
        let s = &n.stat;
        let _ = writeln!(o, "----");
        let _ = writeln!(o, "{}", if p.is_empty() { "/" } else { p });
        let _ = writeln!(o, "  cZxid = {}", jhex(s.czxid));
        let _ = writeln!(o, "  ctime = {}", format_time(s.ctime));
        let _ = writeln!(o, "  mZxid = {}", jhex(s.mzxid));
        let _ = writeln!(o, "  mtime = {}", format_time(s.mtime));
        let _ = writeln!(o, "  pZxid = {}", jhex(s.pzxid));
        let _ = writeln!(o, "  cversion = {}", s.cversion);
        let _ = writeln!(o, "  dataVersion = {}", s.version);
        let _ = writeln!(o, "  aclVersion = {}", s.aversion);
        let _ = writeln!(o, "  ephemeralOwner = {}", jhex(s.ephemeral_owner));
        if with_data {
            let _ = writeln!(
                o,
                "  data = {}",
                n.data.as_ref().map_or(String::new(), |d| base64(d))
            );
        } else {
            let _ = writeln!(
                o,
                "  dataLength = {}",
                n.data.as_ref().map_or(0, |d| d.len())
            );
        }
        let _ = writeln!(o, "  acl = {}", acl_text(&n.acl));
        max_zxid = max_zxid.max(s.mzxid).max(s.pzxid);
        Ok::<(), ()>(())
    });
    let _ = writeln!(o, "----");
    let _ = writeln!(o, "Session Details (sid, timeout, ephemeralCount):");
    let mut sessions: Vec<_> = tree.sessions.iter().collect();
    sessions.sort();
    for (sid, timeout) in sessions {
        let _ = writeln!(
            o,
            "{}, {}, {}",
            jhex(*sid),
            timeout,
            tree.ephemerals_of(*sid).count()
        );
    }
    if let Some(d) = digest {
        let _ = writeln!(
            o,
            "Target zxid digest is: {:x}, {}",
            d.zxid as u64, d.digest
        );
    }
    let _ = writeln!(
        o,
        "----\nLast zxid: {}",
        Zxid::from(file_zxid.max(max_zxid))
    );
    o
}

/// A snapshot as one JSON object: zxid, sessions, digest, nodes (parents first).
pub fn snapshot_json(tree: &DataTree, file_zxid: i64, digest: Option<&ZxidDigest>) -> String {
    let mut o = String::new();
    let _ = write!(o, "{{\"zxid\":\"{}\",\"sessions\":[", Zxid::from(file_zxid));
    let mut sessions: Vec<_> = tree.sessions.iter().collect();
    sessions.sort();
    for (i, (sid, timeout)) in sessions.iter().enumerate() {
        let _ = write!(
            o,
            "{}{{\"id\":\"{}\",\"timeout\":{},\"ephemerals\":{}}}",
            if i > 0 { "," } else { "" },
            SessionId::from(**sid),
            timeout,
            tree.ephemerals_of(**sid).count()
        );
    }
    let _ = write!(
        o,
        "],\"digest\":{},\"nodes\":[",
        digest.map_or("null".into(), |d| format!(
            "{{\"zxid\":\"{}\",\"version\":{},\"digest\":{}}}",
            Zxid::from(d.zxid),
            d.version,
            d.digest
        ))
    );
    let mut first = true;
    let _ = tree.for_each_node(|p, n: &Node| {
        let s = &n.stat;
        let _ = write!(
            o,
            "{}\n{{\"path\":{},\"data\":{},\"acl\":{},\"stat\":{{\"czxid\":{},\"mzxid\":{},\"ctime\":{},\"mtime\":{},\"version\":{},\"cversion\":{},\"aversion\":{},\"ephemeralOwner\":{},\"pzxid\":{}}}}}",
            if first { "" } else { "," },
            json_str(if p.is_empty() { "/" } else { p }),
            data_json(&n.data.to_bytes()),
            acl_json(&n.acl),
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.pzxid
        );
        first = false;
        Ok::<(), ()>(())
    });
    o.push_str("\n]}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(json_str("a\"b\\\n\u{1}é"), "\"a\\\"b\\\\\\n\\u0001é\"");
        assert_eq!(format_time(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            format_time(1_700_000_000_123),
            "2023-11-14 22:13:20.123 UTC"
        );
        assert_eq!(jhex(0), "0x00000000000000");
        assert_eq!(jhex(0x1234), "0x00000000001234");
        assert_eq!(jhex(-1), "0xffffffffffffffff");
    }
}
