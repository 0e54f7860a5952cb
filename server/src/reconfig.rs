//! Dynamic reconfig (op 16) as the leader decides it, without IO: Java's
//! `PrepRequestProcessor` case `OpCode.reconfig` (identical in 3.8.0 and 3.9.3) from the
//! point where it knows it leads.
//!
//! The checks, in Java's order (each failure becomes the error txn the pipeline logs):
//!
//! 1. reconfigEnabled false → ReconfigDisabled; the session check; not a leader (standalone)
//!    → Unimplemented. These three stay in `prep.rs`.
//! 2. The last seen config is not the committed one (a reconfig is being committed) →
//!    ReconfigInProgress.
//! 3. `curConfigId` neither -1 nor the last seen version → BadVersion.
//! 4. The next membership: `newMembers` (non-incremental: `server.N=...` lines, and
//!    `group.N=a:b` / `weight.N=w` lines for Java's `QuorumHierarchical`, separated by `,`
//!    or newlines) or `leavingServers` / `joiningServers` (comma-separated ids and
//!    `server.N=host:q:e[:role];[host:]client` specs) applied to the last seen config. A spec
//!    Java rejects with a ConfigException is BadArguments; a number Java reads with
//!    `Long.parseLong` that is no number throws NumberFormatException, which Java answers as
//!    MarshallingError.
//! 5. Fewer than two voters (one without `standaloneEnabled`) → BadArguments.
//! 6. The voters among the leader and its synced followers hold no quorum of the new config
//!    (`Leader.isQuorumSynced`) → NewConfigNoQuorum.
//! 7. WRITE on `/zookeeper/config` (world:anyone:r: so super or skipACL) → NoAuth; that one
//!    stays in `prep.rs`, which has the ACL machinery.
//!
//! The request's strings are read here with their nulls: a null `newMembers` means
//! incremental, an empty one a (necessarily failing) empty membership.

use crate::error::ErrorCode;
use std::collections::BTreeSet;
use zk_quorum::verifier::{Hierarchy, QuorumMaj, QuorumServer};

/// A `ReconfigRequest` with Java's nulls kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub joining: Option<String>,
    pub leaving: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

/// Reads a `ReconfigRequest` body (three Jute strings, length -1 for null, then a long).
pub fn decode_request(body: &[u8]) -> Option<Request> {
    let mut rest = body;
    let mut string = || -> Option<Option<String>> {
        let len = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        rest = &rest[4..];
        if len < 0 {
            return Some(None);
        }
        let bytes = rest.get(..len as usize)?;
        rest = &rest[len as usize..];
        Some(Some(String::from_utf8_lossy(bytes).into_owned()))
    };
    let joining = string()?;
    let leaving = string()?;
    let new_members = string()?;
    let cur_config_id = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    Some(Request {
        joining,
        leaving,
        new_members,
        cur_config_id,
    })
}

/// A leader's quorum configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configs {
    /// The committed config (`QuorumPeer.getQuorumVerifier`).
    pub committed: QuorumMaj,
    /// The newest config seen (`getLastSeenQuorumVerifier`).
    pub last_seen: QuorumMaj,
}

/// What the leader knows when it preps a reconfig.
#[derive(Debug, Clone)]
pub struct LeaderView<'a> {
    /// The committed config (`QuorumPeer.getQuorumVerifier`).
    pub committed: &'a QuorumMaj,
    /// The newest config seen (`getLastSeenQuorumVerifier`); differs while one commits.
    pub last_seen: &'a QuorumMaj,
    /// The leader and the followers it forwards proposals to that are synced.
    pub synced: BTreeSet<i64>,
    /// `standaloneEnabled`.
    pub standalone_enabled: bool,
}

/// Checks 2–6 of the module doc: the next config (its version is `zxid`, the reconfig txn's
/// zxid), or Java's error code.
pub fn next_config(leader: &LeaderView, req: &Request, zxid: i64) -> Result<QuorumMaj, ErrorCode> {
    if leader.last_seen.version() != leader.committed.version() {
        return Err(ErrorCode::ReconfigInProgress);
    }
    if req.cur_config_id != -1 && req.cur_config_id != leader.last_seen.version() {
        return Err(ErrorCode::BadVersion);
    }
    let next = match &req.new_members {
        Some(members) => {
            let (servers, hierarchy) = members_config(members)?;
            let next = QuorumMaj::new(servers, zxid);
            match hierarchy {
                // QuorumHierarchical's ConfigExceptions ("is in multiple groups", "is not
                // in a group").
                Some(h) => next
                    .with_hierarchy(h)
                    .map_err(|_| ErrorCode::BadArguments)?,
                None => next,
            }
        }
        None => QuorumMaj::new(incremental(leader.last_seen, req)?, zxid),
    };
    let voters = next.voters().len();
    if voters < if leader.standalone_enabled { 2 } else { 1 } {
        return Err(ErrorCode::BadArguments);
    }
    let synced: BTreeSet<i64> = leader
        .synced
        .iter()
        .copied()
        .filter(|sid| next.is_voter(*sid))
        .collect();
    if !next.contains_quorum(&synced) {
        return Err(ErrorCode::NewConfigNoQuorum);
    }
    Ok(next)
}

/// The new `/zookeeper/config` data (Java's `request.qv.toString()`): an incremental change
/// holds its members in `new HashMap<>(lastSeen.getAllMembers())`, a table sized for the
/// last seen member count (8 for 3 to 5), so `server.9` joining members 1-4 comes right
/// after `server.1`; `newMembers` are parsed into a new HashMap (16).
pub fn config_text(leader: &LeaderView, req: &Request, next: &QuorumMaj) -> String {
    match req.new_members {
        Some(_) => next.to_java_string(),
        None => next.to_java_string_copied(leader.last_seen.servers().len()),
    }
}

/// Java's `StringUtils.split`: split on `sep`, trim each piece, drop the empty ones.
fn split_trimmed(s: &str, sep: char) -> Vec<&str> {
    s.split(sep)
        .map(java_trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Long.parseLong` (NumberFormatException → MarshallingError).
fn parse_long(s: &str) -> Result<i64, ErrorCode> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorCode::MarshallingError);
    }
    s.parse::<i64>().map_err(|_| ErrorCode::MarshallingError)
}

/// The incremental change: `leaving` ids removed, then each `joining` spec added or
/// replacing its id (Java checks no two members share an address).
fn incremental(last_seen: &QuorumMaj, req: &Request) -> Result<Vec<QuorumServer>, ErrorCode> {
    if last_seen.hierarchy().is_some() {
        // "Incremental reconfiguration requested but last configuration seen has a
        // non-majority quorum system"
        return Err(ErrorCode::BadArguments);
    }
    let mut next: Vec<QuorumServer> = last_seen.servers().to_vec();
    for leaving in split_trimmed(req.leaving.as_deref().unwrap_or(""), ',') {
        let sid = parse_long(leaving)?;
        next.retain(|s| s.sid != sid);
    }
    for joiner in split_trimmed(req.joining.as_deref().unwrap_or(""), ',') {
        let parts = split_trimmed(joiner, '=');
        let [key, spec] = parts[..] else {
            return Err(ErrorCode::BadArguments); // "Wrong format of server string"
        };
        let sid = parse_long(key.rsplit_once('.').map_or(key, |(_, id)| id))?;
        let server = QuorumServer::parse(sid, spec).map_err(|_| ErrorCode::BadArguments)?;
        if server.client.is_none() {
            // "each server should have 3 ports specified"
            return Err(ErrorCode::BadArguments);
        }
        if next
            .iter()
            .any(|other| other.sid != sid && shares_address(other, &server))
        {
            return Err(ErrorCode::BadArguments);
        }
        next.retain(|s| s.sid != sid);
        next.push(server);
    }
    Ok(next)
}

/// Java's `QuorumServer.checkAddressDuplicate`: the quorum or election address of one is
/// the quorum or election address of the other.
fn shares_address(a: &QuorumServer, b: &QuorumServer) -> bool {
    let mine = [a.quorum_addr(), a.election_addr()];
    [b.quorum_addr(), b.election_addr()]
        .iter()
        .any(|x| mine.contains(x))
}

/// The non-incremental membership: `,` or newline separated `server.N=...` lines, `group.N`
/// and `weight.N` lines (any of them makes it hierarchical, as in Java's
/// `parseDynamicConfig`), and `version` (ignored), read as a dynamic configuration file.
fn members_config(members: &str) -> Result<(Vec<QuorumServer>, Option<Hierarchy>), ErrorCode> {
    let text = members.replace(',', "\n");
    let mut servers: Vec<QuorumServer> = Vec::new();
    let mut hierarchy: Option<Hierarchy> = None;
    for line in text.lines() {
        let line = java_trim(line);
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = line
            .split_once(['=', ':'])
            .map_or((line, ""), |(k, v)| (java_trim(k), v));
        if let Some(id) = key.strip_prefix("server.") {
            let sid = parse_long(id)?;
            let server = QuorumServer::parse(sid, value).map_err(|_| ErrorCode::BadArguments)?;
            servers.retain(|s| s.sid != sid);
            servers.push(server);
        } else if key == "version" {
            // QuorumMaj reads it (Long.parseLong(v, 16)), then the leader overwrites it.
            let hex = java_trim(value);
            let digits = hex.strip_prefix(['+', '-']).unwrap_or(hex);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ErrorCode::MarshallingError);
            }
        } else if key.starts_with("group") || key.starts_with("weight") {
            // QuorumHierarchical reads ids, group members and weights with Long.parseLong.
            hierarchy
                .get_or_insert_with(Hierarchy::default)
                .add_line(key, value)
                .map_err(|_| ErrorCode::MarshallingError)?;
        } else {
            // "Unrecognised parameter".
            return Err(ErrorCode::BadArguments);
        }
    }
    let voters = servers.iter().filter(|s| !s.observer).count();
    if voters == 0 && servers.iter().any(|s| s.observer) {
        // IllegalArgumentException("Observers w/o participants ...") → MarshallingError.
        return Err(ErrorCode::MarshallingError);
    }
    Ok((servers, hierarchy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: i64, version: i64) -> QuorumMaj {
        let servers = (1..=n)
            .map(|sid| {
                QuorumServer::parse(sid, &format!("127.0.0.1:{}:{}", 2000 + sid, 3000 + sid))
                    .unwrap()
            })
            .collect();
        QuorumMaj::new(servers, version)
    }

    fn req(joining: Option<&str>, leaving: Option<&str>, members: Option<&str>) -> Request {
        Request {
            joining: joining.map(str::to_string),
            leaving: leaving.map(str::to_string),
            new_members: members.map(str::to_string),
            cur_config_id: -1,
        }
    }

    fn run(r: &Request) -> Result<QuorumMaj, ErrorCode> {
        let v = view(3, 0x1_0000_0000);
        let leader = LeaderView {
            committed: &v,
            last_seen: &v,
            synced: [1, 2, 3].into(),
            standalone_enabled: true,
        };
        next_config(&leader, r, 0x1_0000_0005)
    }

    #[test]
    fn decodes_nulls() {
        let mut b = Vec::new();
        b.extend((-1i32).to_be_bytes());
        b.extend(1i32.to_be_bytes());
        b.push(b'3');
        b.extend(0i32.to_be_bytes());
        b.extend(7i64.to_be_bytes());
        assert_eq!(
            decode_request(&b),
            Some(Request {
                joining: None,
                leaving: Some("3".into()),
                new_members: Some(String::new()),
                cur_config_id: 7,
            })
        );
        assert_eq!(decode_request(&b[..b.len() - 1]), None);
    }

    #[test]
    fn removes_and_adds_in_javas_order() {
        let next = run(&req(None, Some(" 3 ,"), None)).unwrap();
        assert_eq!(next.voters(), [1, 2].into());
        assert_eq!(next.version(), 0x1_0000_0005);
        let next = run(&req(Some("server.4=127.0.0.1:2004:3004;2184"), None, None)).unwrap();
        assert_eq!(next.voters(), [1, 2, 3, 4].into());
        assert!(next
            .to_java_string()
            .contains("server.4=127.0.0.1:2004:3004:participant;0.0.0.0:2184"));
    }

    #[test]
    fn config_text_in_javas_hashmap_order() {
        let v = view(4, 0x1_0000_0000);
        let leader = LeaderView {
            committed: &v,
            last_seen: &v,
            synced: [1, 2, 3, 4].into(),
            standalone_enabled: true,
        };
        let sids = |text: String| -> Vec<String> {
            text.lines()
                .filter_map(|l| Some(l.strip_prefix("server.")?.split('=').next()?.to_string()))
                .collect()
        };
        // Seen from Java 3.8.0 and 3.9.3: 1, 9, 2, 3, 4 (a table of 8).
        let r = req(
            Some("server.9=127.0.0.1:2009:3009:observer;2189"),
            None,
            None,
        );
        let next = next_config(&leader, &r, 0x1_0000_0005).unwrap();
        assert_eq!(
            sids(config_text(&leader, &r, &next)),
            ["1", "9", "2", "3", "4"]
        );
        // newMembers: a new HashMap of 16.
        let text = next.to_java_string();
        let members: Vec<&str> = text.lines().filter(|l| l.starts_with("server.")).collect();
        let members = members.join("\n");
        let r = req(None, None, Some(&members));
        let next = next_config(&leader, &r, 0x1_0000_0006).unwrap();
        assert_eq!(
            sids(config_text(&leader, &r, &next)),
            ["1", "2", "3", "4", "9"]
        );
    }

    #[test]
    fn errors_as_java() {
        use ErrorCode::*;
        assert_eq!(
            run(&req(None, Some("x"), None)).err(),
            Some(MarshallingError)
        );
        assert_eq!(
            run(&req(Some("server.4=foo"), None, None)).err(),
            Some(BadArguments)
        );
        assert_eq!(
            run(&req(Some("server.x=1.2.3.4:1:2;3"), None, None)).err(),
            Some(MarshallingError)
        );
        assert_eq!(
            run(&req(Some("a=b=c"), None, None)).err(),
            Some(BadArguments)
        );
        // No client port.
        assert_eq!(
            run(&req(Some("server.4=127.0.0.1:5:6"), None, None)).err(),
            Some(BadArguments)
        );
        // Address of server 1.
        assert_eq!(
            run(&req(Some("server.4=127.0.0.1:2001:9;9"), None, None)).err(),
            Some(BadArguments)
        );
        assert_eq!(run(&req(None, Some("1,2"), None)).err(), Some(BadArguments));
        assert_eq!(
            run(&req(None, None, Some("server.1=bad"))).err(),
            Some(BadArguments)
        );
        assert_eq!(
            run(&req(None, None, Some("foo=1"))).err(),
            Some(BadArguments)
        );
        assert_eq!(run(&req(None, None, Some(""))).err(), Some(BadArguments));
        let four_more = "server.4=127.0.0.1:1:2;3,server.5=127.0.0.1:4:5;6,\
                         server.6=127.0.0.1:7:8;9,server.7=127.0.0.1:10:11;12";
        assert_eq!(
            run(&req(Some(four_more), None, None)).err(),
            Some(NewConfigNoQuorum)
        );
        let mut r = req(None, Some("3"), None);
        r.cur_config_id = 5;
        assert_eq!(run(&r).err(), Some(BadVersion));
        r.cur_config_id = 0x1_0000_0000;
        assert!(run(&r).is_ok());
    }

    #[test]
    fn hierarchical_new_members_as_java() {
        use ErrorCode::*;
        let members = |extra: &str| {
            let mut m: Vec<String> = (1..=3)
                .map(|sid| format!("server.{sid}=127.0.0.1:{}:{}", 2000 + sid, 3000 + sid))
                .collect();
            m.push(extra.to_string());
            m.join(",")
        };
        // Server 1 weighs 3 in group 1 = {1, 2}; group 2 = {3}.
        let next = run(&req(
            None,
            None,
            Some(&members("group.1=1:2\ngroup.2=3\nweight.1=3")),
        ))
        .unwrap();
        assert_eq!(next.weight(1), 3);
        assert_eq!(
            next.weight(2),
            1,
            "a participant without a weight line weighs 1"
        );
        assert!(next.contains_quorum(&[1, 3]));
        assert!(!next.contains_quorum(&[2, 3]));
        assert!(!next.contains_quorum(&[1, 2]), "group 2 is missing");
        let text = next.to_java_string();
        assert!(
            text.ends_with(
                "group.1=1:2\ngroup.2=3\nweight.1=3\nweight.2=1\nweight.3=1\nversion=100000005"
            ),
            "{text}"
        );
        // QuorumHierarchical's ConfigExceptions, and Long.parseLong's NumberFormatException.
        assert_eq!(
            run(&req(None, None, Some(&members("group.1=1:2")))).err(),
            Some(BadArguments),
            "server 3 is in no group"
        );
        assert_eq!(
            run(&req(None, None, Some(&members("group.1=1:2:3\ngroup.2=3")))).err(),
            Some(BadArguments),
            "server 3 in two groups"
        );
        assert_eq!(
            run(&req(None, None, Some(&members("group.1=1:2:x")))).err(),
            Some(MarshallingError)
        );
        assert_eq!(
            run(&req(
                None,
                None,
                Some(&members("group.1=1:2:3\nweight.2=heavy"))
            ))
            .err(),
            Some(MarshallingError)
        );
    }

    #[test]
    fn in_progress_first() {
        let (a, b) = (view(3, 1), view(3, 2));
        let leader = LeaderView {
            committed: &a,
            last_seen: &b,
            synced: [1, 2, 3].into(),
            standalone_enabled: true,
        };
        let mut r = req(None, Some("x"), None);
        r.cur_config_id = 99;
        assert_eq!(
            next_config(&leader, &r, 9).err(),
            Some(ErrorCode::ReconfigInProgress)
        );
    }

    #[test]
    fn members_replace_the_config() {
        let next = run(&req(
            None,
            None,
            Some("server.1=127.0.0.1:2001:3001;2181,server.2=127.0.0.1:2002:3002;2182"),
        ))
        .unwrap();
        assert_eq!(next.voters(), [1, 2].into());
    }
}
