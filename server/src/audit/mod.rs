//! The audit log's records (Java's `org.apache.zookeeper.audit`: `AuditEvent`, `AuditHelper`,
//! `ZKAuditProvider`), pure: which requests Java audits, with which fields, in which order.
//! The pipeline builds them when `audit.enable` is true and hands them out as
//! `Output::Audit`; [`writer`] writes them off the pipeline thread, as Java's
//! `Slf4jAuditLogger` does through its logger.
//!
//! What Java audits (3.8.0 and 3.9.3 alike), on the server the client is connected to (its
//! FinalRequestProcessor skips requests without a connection, so a leader does not audit
//! what a follower forwarded):
//! - `create`, `create2`, `createContainer` as `create` with `znode_type` (`createTTL` is not
//!   audited at all); `delete`, `deleteContainer` as `delete`; `setData`; `setAcl` with its
//!   `acl`; `reconfig`: success or failure. A failure decided before apply (an error txn)
//!   names the request's path; a success the applied one (a sequential node's full name).
//! - a `multi` that succeeded: one record per create, delete and setData in it (a create's
//!   `znode_type` is looked up by the applied path, so sequential and TTL creates have
//!   none); one that failed: one `multiOperation` failure without a znode.
//! - session close and expiry: one `ephemeralZNodeDeletionOnSessionCloseOrExpire` per
//!   ephemeral node, as the server's user, on every server that applies the txn.
//! - `serverStart` (success) once serving, `serverStop` (invoked) on SIGTERM / SIGINT.
//!
//! A record is `key=value` pairs separated by tabs, absent fields left out, `result` last.

pub mod writer;

use crate::auth::AuthId;
use crate::tree::ApplyResult;
use bytes::Bytes;
use jute::data::Acl;
use jute::multi::MultiOp;
use jute::proto::{CreateRequest, DeleteRequest, SetACLRequest, SetDataRequest};
use jute::{Decode, OpCode};
use std::fmt;

/// The only `audit.impl.class` there is (Java's default).
pub const DEFAULT_IMPL_CLASS: &str = "org.apache.zookeeper.audit.Slf4jAuditLogger";

/// `AuditEvent.Result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// `serverStop`: logged before the server has stopped.
    Invoked,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Invoked => "invoked",
        }
    }
}

/// Who did it: a client (its users, as `Request.getUsersForAudit`), or the server itself
/// (`ZKAuditProvider.getZKUser`: the user it runs as), resolved by the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    Client(Option<String>),
    Server,
}

/// One audit record (`AuditEvent`): Java's fields in Java's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub session: Option<i64>,
    pub user: User,
    pub ip: Option<String>,
    pub operation: &'static str,
    pub znode: Option<String>,
    pub znode_type: Option<&'static str>,
    pub acl: Option<String>,
    pub result: Outcome,
}

impl AuditEvent {
    /// `serverStart` / `serverStop` (`ZKAuditProvider.createLogEvent(user, operation, result)`).
    pub fn server(operation: &'static str, result: Outcome) -> AuditEvent {
        AuditEvent {
            session: None,
            user: User::Server,
            ip: None,
            operation,
            znode: None,
            znode_type: None,
            acl: None,
            result,
        }
    }

    /// `DataTree.deleteNodes`: an ephemeral node of a closed or expired session.
    pub fn ephemeral_deleted(session: i64, path: &str, deleted: bool) -> AuditEvent {
        AuditEvent {
            session: Some(session),
            znode: Some(path.to_string()),
            result: if deleted {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            ..AuditEvent::server(OP_DELETE_EPHEMERAL, Outcome::Success)
        }
    }

    /// The record as `AuditEvent.toString` writes it, `server_user` standing for
    /// [`User::Server`].
    pub fn render(&self, server_user: &str) -> String {
        let mut out = Vec::with_capacity(128);
        self.render_into(server_user, &mut out);
        String::from_utf8(out).expect("made of strs")
    }

    /// [`AuditEvent::render`] appended to `out`.
    pub fn render_into(&self, server_user: &str, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let user = match &self.user {
            User::Client(u) => u.as_deref(),
            User::Server => Some(server_user),
        };
        let mut first = true;
        let mut field = |out: &mut Vec<u8>, key: &str, value: &str| {
            if !first {
                out.push(b'\t');
            }
            first = false;
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        };
        if let Some(session) = self.session {
            field(out, "session", "");
            let _ = write!(out, "0x{session:x}");
        }
        let fields = [
            ("user", user),
            ("ip", self.ip.as_deref()),
            ("operation", Some(self.operation)),
            ("znode", self.znode.as_deref()),
            ("znode_type", self.znode_type),
            ("acl", self.acl.as_deref()),
            ("result", Some(self.result.word())),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                field(out, key, value);
            }
        }
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<server>"))
    }
}

pub const OP_START: &str = "serverStart";
pub const OP_STOP: &str = "serverStop";
const OP_CREATE: &str = "create";
const OP_DELETE: &str = "delete";
const OP_SET_DATA: &str = "setData";
const OP_SET_ACL: &str = "setAcl";
const OP_MULTI: &str = "multiOperation";
const OP_RECONFIG: &str = "reconfig";
const OP_DELETE_EPHEMERAL: &str = "ephemeralZNodeDeletionOnSessionCloseOrExpire";

/// The client a request came from, as the audit log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub session: i64,
    /// `AuthUtil.getUsers` of its auth ids.
    pub user: Option<String>,
    /// `ServerCnxn.getHostAddress`.
    pub ip: String,
}

/// `AuthUtil.getUsers`: each id's user name (`AuthenticationProvider.getUserName`: a digest
/// id's name before the first `:`, any other provider's whole id; none for a scheme without
/// a provider, such as the `super` marker), blank ones left out, joined by commas; `None`
/// when none is left.
pub fn users(ids: &[AuthId]) -> Option<String> {
    let names: Vec<&str> = ids
        .iter()
        .filter_map(|id| match id.scheme.as_str() {
            "digest" => id.id.split(':').next(),
            "ip" | "x509" | "sasl" | "key" => Some(id.id.as_str()),
            _ => None,
        })
        .filter(|name| !name.trim().is_empty())
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// `ZKUtil.aclToString`: `scheme:id:perms` for each entry, with nothing between entries.
pub fn acl_string(acl: &[Acl]) -> String {
    let mut s = String::new();
    for a in acl {
        s.push_str(&a.id.scheme);
        s.push(':');
        s.push_str(&a.id.id);
        s.push(':');
        for (bit, c) in [(4, 'c'), (8, 'd'), (1, 'r'), (2, 'w'), (16, 'a')] {
            if a.perms & bit != 0 {
                s.push(c);
            }
        }
    }
    s
}

/// `CreateMode.fromFlag(flags).toString().toLowerCase()`; `None` for a flag Java rejects
/// (its audit then logs an error instead of the record).
pub fn create_mode(flags: i32) -> Option<&'static str> {
    Some(match flags {
        0 => "persistent",
        1 => "ephemeral",
        2 => "persistent_sequential",
        3 => "ephemeral_sequential",
        4 => "container",
        5 => "persistent_with_ttl",
        6 => "persistent_sequential_with_ttl",
        _ => return None,
    })
}

/// The records of a client's write `op` (its request body `request`) applied with result
/// `rc`; `error_txn` when prep turned it into an error txn (`AuditHelper.addAuditLog`).
/// Empty for what Java does not audit, and where Java's audit fails to read the request.
pub fn request_events(
    client: &Client,
    op: OpCode,
    request: &Bytes,
    rc: &ApplyResult,
    error_txn: bool,
) -> Vec<AuditEvent> {
    let record = |operation, znode: Option<String>, znode_type, acl, result| AuditEvent {
        session: Some(client.session),
        user: User::Client(client.user.clone()),
        ip: Some(client.ip.clone()),
        operation,
        znode,
        znode_type,
        acl,
        result,
    };
    let result = if error_txn || rc.err != 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    // A failed txn's result carries no path: Java reads it from the request.
    let applied_path = (!error_txn && !rc.path.is_empty()).then(|| rc.path.clone());
    let one = match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            let Ok(req) = CreateRequest::decode(&mut request.clone()) else {
                return Vec::new();
            };
            let Some(mode) = create_mode(req.flags) else {
                return Vec::new();
            };
            let path = if error_txn {
                Some(req.path)
            } else {
                applied_path
            };
            record(OP_CREATE, path, Some(mode), None, result)
        }
        OpCode::Delete | OpCode::DeleteContainer => {
            let path = if error_txn {
                match DeleteRequest::decode(&mut request.clone()) {
                    Ok(req) => Some(req.path),
                    Err(_) => return Vec::new(),
                }
            } else {
                applied_path
            };
            record(OP_DELETE, path, None, None, result)
        }
        OpCode::SetData => {
            let path = if error_txn {
                match SetDataRequest::decode(&mut request.clone()) {
                    Ok(req) => Some(req.path),
                    Err(_) => return Vec::new(),
                }
            } else {
                applied_path
            };
            record(OP_SET_DATA, path, None, None, result)
        }
        OpCode::SetAcl => {
            let Ok(req) = SetACLRequest::decode(&mut request.clone()) else {
                return Vec::new();
            };
            let path = if error_txn {
                Some(req.path)
            } else {
                applied_path
            };
            record(OP_SET_ACL, path, None, Some(acl_string(&req.acl)), result)
        }
        OpCode::Multi if error_txn => record(OP_MULTI, None, None, None, Outcome::Failure),
        OpCode::Multi => return multi_events(request, rc, &record),
        OpCode::Reconfig => record(OP_RECONFIG, applied_path, None, None, result),
        _ => return Vec::new(),
    };
    vec![one]
}

/// `AuditHelper.logMultiOperation`: a record per create, delete and setData that was
/// applied, and one `multiOperation` failure if any sub-op failed.
fn multi_events(
    request: &Bytes,
    rc: &ApplyResult,
    record: &dyn Fn(
        &'static str,
        Option<String>,
        Option<&'static str>,
        Option<String>,
        Outcome,
    ) -> AuditEvent,
) -> Vec<AuditEvent> {
    // `getCreateModes`: the modes of create, create2 and createContainer by request path.
    let Ok(ops) = jute::multi::decode_multi_request(&mut request.clone()) else {
        return Vec::new();
    };
    let mut modes: Vec<(&str, &'static str)> = Vec::new();
    for op in &ops {
        if let MultiOp::Create(_, req) = op {
            match create_mode(req.flags) {
                Some(mode) => modes.push((&req.path, mode)),
                None => return Vec::new(),
            }
        }
    }
    // Java's HashMap: a later create of the same path wins.
    let mode_of = |path: &str| modes.iter().rev().find(|(p, _)| *p == path).map(|m| m.1);
    let mut events = Vec::new();
    let mut failed = false;
    for sub in &rc.multi {
        let path = || Some(sub.path.clone());
        match sub.op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                events.push(record(
                    OP_CREATE,
                    path(),
                    mode_of(&sub.path),
                    None,
                    Outcome::Success,
                ))
            }
            OpCode::Delete | OpCode::DeleteContainer => {
                events.push(record(OP_DELETE, path(), None, None, Outcome::Success))
            }
            OpCode::SetData => {
                events.push(record(OP_SET_DATA, path(), None, None, Outcome::Success))
            }
            OpCode::Error => failed = true,
            _ => {}
        }
    }
    if failed {
        events.push(record(OP_MULTI, None, None, None, Outcome::Failure));
    }
    events
}

#[cfg(test)]
mod tests;
