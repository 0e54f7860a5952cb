//! Null strings in client requests: where Java 3.8 trips over them.
//!
//! Jute writes a null string as length -1. Our decoders read it as `""` (for paths, schemes
//! and ids the server treats the two alike), but Java keeps the `null`, and code that
//! dereferences it throws a `NullPointerException`, which Java answers as MarshallingError
//! (-5): a read's reply, a write's error txn, or the whole multi. This module finds the null
//! strings of a request body (pure, no decoding of anything else) so the request paths can
//! answer as Java does. Observed with Java 3.8.0 (`test_null_strings.py`):
//!
//! - -5 for a null path in create, create2, createContainer, createTTL (after the create mode
//!   and ttl checks), delete, exists, getData, getACL, getChildren, getChildren2,
//!   checkWatches (3.8 only; 3.9.3 answers NoWatcher) and getAllChildrenNumber; for a null path in any op of a multi or multiRead
//!   (Java reads every op's path before prepping any); for a null entry in a setWatches list;
//!   and for an ACL entry whose null id Java dereferences (see [`acl_null_fault`]).
//! - As for `""` (so nothing to do here): setData, setACL and check (BadArguments from path
//!   validation), sync, getEphemerals and addWatch (accepted), removeWatches (NoWatcher), auth
//!   (AuthFailed), a null scheme in an ACL (InvalidACL).

use crate::auth::{self, AuthConfig, AuthId};
use crate::config::CompatVersion;
use crate::error::ErrorCode;
use jute::OpCode;

/// Which strings of one operation are null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpNulls {
    /// The path (the first field of every op that has one).
    pub path: bool,
    /// For each ACL entry of a create or setACL: (scheme is null, id is null).
    pub acl: Vec<(bool, bool)>,
    /// Any null in the string lists of a setWatches.
    pub watch_list: bool,
}

/// A cursor over a request body that only tells null strings from others.
struct Scan<'a> {
    b: &'a [u8],
}

impl Scan<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.b.get(..n)?, self.b.get(n..)?);
        self.b = rest;
        Some(head)
    }
    fn int(&mut self) -> Option<i32> {
        self.take(4)
            .map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    /// A string or buffer: `Some(true)` if null, `None` if the bytes are not there.
    fn string_is_null(&mut self) -> Option<bool> {
        let n = self.int()?;
        if n < 0 {
            return (n == -1).then_some(true);
        }
        self.skip(n as usize)?;
        Some(false)
    }
    fn acl(&mut self) -> Option<Vec<(bool, bool)>> {
        let n = self.int()?;
        let mut out = Vec::new();
        for _ in 0..n.max(0) {
            self.skip(4)?;
            out.push((self.string_is_null()?, self.string_is_null()?));
        }
        Some(out)
    }
    fn string_list_has_null(&mut self) -> Option<bool> {
        let n = self.int()?;
        let mut any = false;
        for _ in 0..n.max(0) {
            any |= self.string_is_null()?;
        }
        Some(any)
    }

    /// One op's record (the body of `op`, or one op of a multi).
    fn op(&mut self, op: OpCode) -> Option<OpNulls> {
        let mut r = OpNulls::default();
        match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                r.path = self.string_is_null()?;
                self.string_is_null()?; // data: null is fine
                r.acl = self.acl()?;
                self.skip(if op == OpCode::CreateTtl { 12 } else { 4 })?;
            }
            OpCode::SetAcl => {
                r.path = self.string_is_null()?;
                r.acl = self.acl()?;
                self.skip(4)?;
            }
            OpCode::SetData => {
                r.path = self.string_is_null()?;
                self.string_is_null()?;
                self.skip(4)?;
            }
            OpCode::Delete | OpCode::Check | OpCode::CheckWatches | OpCode::RemoveWatches => {
                r.path = self.string_is_null()?;
                self.skip(4)?;
            }
            OpCode::Exists | OpCode::GetData | OpCode::GetChildren | OpCode::GetChildren2 => {
                r.path = self.string_is_null()?;
                self.skip(1)?;
            }
            OpCode::GetAcl | OpCode::GetAllChildrenNumber | OpCode::Sync => {
                r.path = self.string_is_null()?;
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                self.skip(8)?;
                let lists = if op == OpCode::SetWatches { 3 } else { 5 };
                for _ in 0..lists {
                    r.watch_list |= self.string_list_has_null()?;
                }
            }
            // No strings Java dereferences, or not a request with a body we scan.
            OpCode::Notification
            | OpCode::Ping
            | OpCode::Multi
            | OpCode::Reconfig
            | OpCode::DeleteContainer
            | OpCode::MultiRead
            | OpCode::Auth
            | OpCode::Sasl
            | OpCode::GetEphemerals
            | OpCode::AddWatch
            | OpCode::WhoAmI
            | OpCode::CreateSession
            | OpCode::CloseSession
            | OpCode::Error => {}
        }
        Some(r)
    }

    /// The ops of a multi or multiRead: (type, nulls) until the `done` header.
    fn multi(&mut self) -> Option<Vec<(i32, OpNulls)>> {
        let mut out = Vec::new();
        loop {
            let ty = self.int()?;
            let done = self.take(1)?[0] != 0;
            self.skip(4)?;
            if done {
                return Some(out);
            }
            let nulls = match OpCode::try_from(ty) {
                Ok(op) => self.op(op)?,
                Err(_) => OpNulls::default(),
            };
            out.push((ty, nulls));
        }
    }
}

/// The null strings of a request of type `op` with this body. `None` when the body does not
/// parse (the normal decoder then reports it).
pub fn scan(op: OpCode, body: &[u8]) -> Option<OpNulls> {
    Scan { b: body }.op(op)
}

/// The ops of a multi or multiRead body with their null strings (`None` if it does not parse).
pub fn scan_multi(body: &[u8]) -> Option<Vec<(i32, OpNulls)>> {
    Scan { b: body }.multi()
}

/// Java's answer to a read (or multiRead, setWatches) whose body holds a null it
/// dereferences: MarshallingError. `None`: answer as usual. Java 3.9's checkWatches looks the
/// path up in the connection's own map, where null finds nothing (NoWatcher, as for `""`).
pub fn read_error(op: OpCode, body: &[u8], compat: CompatVersion) -> Option<ErrorCode> {
    let fails = match op {
        OpCode::CheckWatches if compat.watch_modes_coexist() => false,
        OpCode::MultiRead => scan_multi(body).is_some_and(|v| v.iter().any(|(_, n)| n.path)),
        OpCode::Exists
        | OpCode::GetData
        | OpCode::GetAcl
        | OpCode::GetChildren
        | OpCode::GetChildren2
        | OpCode::CheckWatches
        | OpCode::GetAllChildrenNumber => scan(op, body).is_some_and(|n| n.path),
        OpCode::SetWatches | OpCode::SetWatches2 => scan(op, body).is_some_and(|n| n.watch_list),
        _ => false,
    };
    fails.then_some(ErrorCode::MarshallingError)
}

/// Whether a multi has an op with a null path: Java's prep reads every op's path (to save the
/// pending changes it may roll back) before prepping any, so the whole multi is
/// MarshallingError.
pub fn multi_has_null_path(body: &[u8]) -> bool {
    scan_multi(body).is_some_and(|v| v.iter().any(|(_, n)| n.path))
}

/// Whether Java's `PrepRequestProcessor.fixupACL` throws a NullPointerException for `acl`
/// (as decoded, nulls read as `""`) where `nulls[i]` says which strings of entry i were null,
/// for a requester authenticated as `ids`; false where it succeeds or throws InvalidACL first.
///
/// Java first drops duplicates with `ACL.equals`, which dereferences the *new* entry's scheme
/// (and, when the schemes match, its id) once the perms match an entry already kept. Then, in
/// order: a null scheme is InvalidACL; `world` compares the id with `anyone` (null: NPE);
/// `auth` ignores the id; any other scheme with a provider (`ip`, `digest`) passes the id to
/// `isValid`, which splits it (null: NPE); a scheme without one is InvalidACL.
pub fn acl_null_fault(
    acl: &[jute::data::Acl],
    nulls: &[(bool, bool)],
    ids: &[AuthId],
    cfg: &AuthConfig,
) -> bool {
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..acl.len().min(nulls.len()) {
        let (scheme_null, id_null) = nulls[i];
        let mut duplicate = false;
        for &k in &kept {
            if acl[i].perms != acl[k].perms {
                continue;
            }
            if scheme_null {
                return true;
            }
            if acl[i].id.scheme != acl[k].id.scheme || nulls[k].0 {
                continue;
            }
            if id_null {
                return true;
            }
            if acl[i].id.id == acl[k].id.id && !nulls[k].1 {
                duplicate = true;
                break;
            }
        }
        if !duplicate {
            kept.push(i);
        }
    }
    for &i in &kept {
        let (scheme_null, id_null) = nulls[i];
        let a = &acl[i];
        if scheme_null {
            return false;
        }
        match a.id.scheme.as_str() {
            auth::SCHEME_WORLD if id_null => return true,
            auth::SCHEME_WORLD if a.id.id == auth::ID_ANYONE => {}
            auth::SCHEME_AUTH => {
                if auth::fixup_acl(std::slice::from_ref(a), ids, cfg).is_err() {
                    return false;
                }
            }
            scheme => {
                if !auth::has_provider(scheme, cfg) {
                    return false;
                }
                if id_null {
                    return true;
                }
                if auth::fixup_acl(std::slice::from_ref(a), ids, cfg).is_err() {
                    return false;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use jute::ops;

    fn s(b: &mut BytesMut, v: Option<&str>) {
        match v {
            None => b.put_i32(-1),
            Some(v) => {
                b.put_i32(v.len() as i32);
                b.put_slice(v.as_bytes());
            }
        }
    }

    fn create(path: Option<&str>, acl: &[(Option<&str>, Option<&str>)]) -> BytesMut {
        let mut b = BytesMut::new();
        s(&mut b, path);
        b.put_i32(-1);
        b.put_i32(acl.len() as i32);
        for (sc, id) in acl {
            b.put_i32(31);
            s(&mut b, *sc);
            s(&mut b, *id);
        }
        b.put_i32(0);
        b
    }

    #[test]
    fn finds_null_paths_and_acl_strings() {
        let b = create(None, &[(Some("world"), Some("anyone"))]);
        assert_eq!(
            scan(OpCode::Create, &b),
            Some(OpNulls {
                path: true,
                acl: vec![(false, false)],
                watch_list: false
            })
        );
        let b = create(Some("/a"), &[(Some("world"), None), (None, Some("x"))]);
        assert_eq!(
            scan(OpCode::Create, &b).unwrap().acl,
            vec![(false, true), (true, false)]
        );
        // Truncated: no answer, the decoder reports it.
        assert_eq!(scan(OpCode::Create, &b[..b.len() - 1]), None);
        let mut g = BytesMut::new();
        s(&mut g, None);
        g.put_u8(0);
        assert_eq!(
            read_error(OpCode::GetData, &g, CompatVersion::V3_8),
            Some(ErrorCode::MarshallingError)
        );
        assert_eq!(read_error(OpCode::Sync, &g[..4], CompatVersion::V3_8), None);
    }

    #[test]
    fn multi_paths() {
        let mut b = BytesMut::new();
        b.put_i32(ops::CHECK);
        b.put_u8(0);
        b.put_i32(-1);
        s(&mut b, Some("/a"));
        b.put_i32(0);
        b.put_i32(ops::DELETE);
        b.put_u8(0);
        b.put_i32(-1);
        s(&mut b, None);
        b.put_i32(-1);
        b.put_i32(-1);
        b.put_u8(1);
        b.put_i32(-1);
        assert!(multi_has_null_path(&b));
        assert_eq!(scan_multi(&b).unwrap().len(), 2);
    }

    #[test]
    fn acl_faults_follow_java() {
        let cfg = AuthConfig::default();
        let ids = vec![AuthId::new("ip", "127.0.0.1")];
        let acl = |v: &[(&str, &str)]| -> Vec<jute::data::Acl> {
            v.iter().map(|(s, i)| auth::new_acl(31, *s, *i)).collect()
        };
        // world with a null id: NPE; an unknown scheme with a null id: InvalidACL.
        assert!(acl_null_fault(
            &acl(&[("world", "")]),
            &[(false, true)],
            &ids,
            &cfg
        ));
        assert!(!acl_null_fault(
            &acl(&[("nope", "")]),
            &[(false, true)],
            &ids,
            &cfg
        ));
        assert!(acl_null_fault(
            &acl(&[("digest", "")]),
            &[(false, true)],
            &ids,
            &cfg
        ));
        assert!(acl_null_fault(
            &acl(&[("ip", "")]),
            &[(false, true)],
            &ids,
            &cfg
        ));
        // A null scheme alone is InvalidACL; after an entry with the same perms, equals() NPEs.
        assert!(!acl_null_fault(
            &acl(&[("", "x")]),
            &[(true, false)],
            &ids,
            &cfg
        ));
        let two = acl(&[("world", "anyone"), ("", "x")]);
        assert!(acl_null_fault(
            &two,
            &[(false, false), (true, false)],
            &ids,
            &cfg
        ));
        // An earlier invalid entry throws InvalidACL first.
        let two = acl(&[("world", "nobody"), ("world", "")]);
        let mut two = two;
        two[1].perms = 1;
        assert!(!acl_null_fault(
            &two,
            &[(false, false), (false, true)],
            &ids,
            &cfg
        ));
        // auth ignores its id (it fails for lack of an authenticated id here: InvalidACL).
        assert!(!acl_null_fault(
            &acl(&[("auth", "")]),
            &[(false, true)],
            &ids,
            &cfg
        ));
    }
}
