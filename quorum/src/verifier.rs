//! The ensemble's membership and quorum rule: Java 3.8's `QuorumPeer.QuorumServer`,
//! `flexible.QuorumMaj` and `flexible.QuorumHierarchical`.
//!
//! A [`QuorumMaj`] lists every server (`server.N` lines) with its role. Participants vote, in
//! elections and in the commit quorum; observers don't. A set of server ids is a quorum when it
//! holds more than half of the participants (ids that are not participants don't count), or,
//! with a [`Hierarchy`] (`group.N` and `weight.N` lines), when it holds more than half the
//! weight of more than half of the groups.
//!
//! Every election notification carries the sender's configuration as text, exactly as Java's
//! `QuorumMaj.toString()` writes it: one `server.N=host:quorumPort:electionPort:role[;client]`
//! line per member in the iteration order of Java's `HashMap<Long, _>`, then `version=<hex>`
//! without a trailing newline; [`QuorumMaj::to_java_string`] reproduces it byte for byte.
//! Multiple addresses per server (`a:1:2|b:3:4`, off by default in Java) are not supported.

use std::collections::BTreeSet;
use std::fmt;

/// One member of the ensemble (`server.N=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    /// `N`, the server's `myid`.
    pub sid: i64,
    /// Host name or IP address as written (IPv6 without brackets), not resolved.
    pub host: String,
    /// Port the leader listens on for learners.
    pub quorum_port: u16,
    /// Port of leader election.
    pub election_port: u16,
    /// `:observer`: follows the leader but never votes.
    pub observer: bool,
    /// The `;[host:]port` client part when the line has one (host `0.0.0.0` when only a port
    /// was given). Java prints it in the configuration text only when it came from the line.
    pub client: Option<(String, u16)>,
}

/// Why a `server.N` line or a configuration text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Java's `String.trim`: strips every char up to and including U+0020 from both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Java's `String.split` on one char: trailing empty parts are dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    if parts.len() > 1 {
        while parts.last() == Some(&"") {
            parts.pop();
        }
    }
    parts
}

/// Java's `ConfigUtils.getHostAndPort`: `[v6]:a:b` keeps the bracketed host whole (without
/// its brackets), anything else is split on `:`, both as `String.split` does.
pub(crate) fn split_host_and_port(s: &str) -> Result<Vec<&str>, String> {
    let Some(rest) = s.strip_prefix('[') else {
        return Ok(java_split(s, ':'));
    };
    let end = rest
        .find(']')
        .ok_or_else(|| format!("{s} starts with '[' but has no matching ']'"))?;
    let (host, after) = (&rest[..end], &rest[end + 1..]);
    if after.is_empty() {
        return Ok(vec![host]);
    }
    match after.strip_prefix(':') {
        None => Err(format!("{s} does not have the form [host]:port")),
        Some("") => Err(format!("{s} has no port after the colon")),
        Some(ports) => Ok(std::iter::once(host)
            .chain(java_split(ports, ':'))
            .collect()),
    }
}

/// Why [`ServerSpec::parse`] refused a `server.N` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpecError {
    /// `a:1:2|b:3:4`: several addresses for one server (Java's `multiAddress.enabled`).
    MultipleAddresses,
    /// The value does not have the form; the reason.
    Malformed(String),
}

impl fmt::Display for ServerSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerSpecError::MultipleAddresses => {
                f.write_str("multiple addresses per server are not supported")
            }
            ServerSpecError::Malformed(why) => f.write_str(why),
        }
    }
}

/// The value of a `server.N` line, taken apart by [`ServerSpec::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    /// The client part: `(host, port)`, host `None` when only a port was given.
    pub client: Option<(Option<String>, u16)>,
}

impl ServerSpec {
    /// Takes `host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
    /// apart as Java 3.8's `QuorumServer(sid, addressStr)` does, without resolving names:
    /// `String.split` on `;` and `:` (trailing empty parts dropped), `[v6]` hosts, no `|`, a
    /// role in any case. Every piece is trimmed as `String.trim` does. An empty host, port 0
    /// and equal quorum and election ports pass: refusing them is the caller's choice.
    pub fn parse(value: &str) -> Result<ServerSpec, ServerSpecError> {
        use ServerSpecError::Malformed;
        let parts = java_split(java_trim(value), ';');
        if parts.len() > 2 {
            return Err(Malformed("more than one ';'".into()));
        }
        let server = parts.first().copied().unwrap_or_default();
        if server.contains('|') {
            return Err(ServerSpecError::MultipleAddresses);
        }
        let server = split_host_and_port(java_trim(server)).map_err(Malformed)?;
        if !(3..=4).contains(&server.len()) {
            return Err(Malformed("expected host and two ports".into()));
        }
        let port = |s: &str, what: &str| {
            let s = java_trim(s);
            s.parse::<u16>()
                .map_err(|_| Malformed(format!("bad {what} port \"{s}\"")))
        };
        let role = server.get(3).map(|r| java_trim(r).to_ascii_lowercase());
        let observer = match role.as_deref() {
            None | Some("participant") => false,
            Some("observer") => true,
            Some(role) => return Err(Malformed(format!("unknown role \"{role}\""))),
        };
        let client = match parts.get(1) {
            None => None,
            Some(client) => match split_host_and_port(java_trim(client)).map_err(Malformed)?[..] {
                [p] => Some((None, port(p, "client")?)),
                [h, p] => Some((Some(java_trim(h).to_string()), port(p, "client")?)),
                _ => return Err(Malformed("client part must be port or host:port".into())),
            },
        };
        Ok(ServerSpec {
            host: java_trim(server[0]).to_string(),
            quorum_port: port(server[1], "quorum")?,
            election_port: port(server[2], "election")?,
            observer,
            client,
        })
    }
}

impl QuorumServer {
    /// Parses the value of a `server.N` line with [`ServerSpec::parse`]; the client host is
    /// `0.0.0.0` when only a port was given.
    pub fn parse(sid: i64, value: &str) -> Result<QuorumServer, ConfigError> {
        let spec = ServerSpec::parse(value)
            .map_err(|e| ConfigError(format!("server.{sid}={}: {e}", java_trim(value))))?;
        Ok(QuorumServer {
            sid,
            host: spec.host,
            quorum_port: spec.quorum_port,
            election_port: spec.election_port,
            observer: spec.observer,
            client: spec
                .client
                .map(|(host, port)| (host.unwrap_or_else(|| "0.0.0.0".into()), port)),
        })
    }

    /// `host:port` of the election port, as a socket address string (IPv6 bracketed).
    pub fn election_addr(&self) -> String {
        format!("{}:{}", bracketed(&self.host), self.election_port)
    }

    /// `host:port` of the quorum port.
    pub fn quorum_addr(&self) -> String {
        format!("{}:{}", bracketed(&self.host), self.quorum_port)
    }
}

/// Java's `QuorumServer.toString()`.
impl fmt::Display for QuorumServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            bracketed(&self.host),
            self.quorum_port,
            self.election_port,
            if self.observer {
                "observer"
            } else {
                "participant"
            }
        )?;
        if let Some((host, port)) = &self.client {
            write!(f, ";{}:{}", bracketed(host), port)?;
        }
        Ok(())
    }
}

/// Java's `QuorumHierarchical` rule: participants in groups, each with a weight.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hierarchy {
    /// `group.N=a:b:c`: (group id, its server ids), by group id and server id once checked.
    pub groups: Vec<(i64, Vec<i64>)>,
    /// `weight.N=w` by server id once checked; a participant without one weighs 1.
    pub weights: Vec<(i64, i64)>,
}

/// The quorums of one configuration: majorities of the participants (Java's `QuorumMaj`), or
/// Java's `QuorumHierarchical` when the configuration has groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMaj {
    /// Members in the order they were given (the configuration file's order).
    servers: Vec<QuorumServer>,
    /// The configuration version (`version=` in the dynamic configuration, hex), 0 for a
    /// static configuration.
    version: i64,
    /// Groups and weights; `None`: plain majorities.
    hierarchy: Option<Hierarchy>,
}

impl QuorumMaj {
    /// A configuration of these members. Later duplicates of a sid replace earlier ones.
    pub fn new(servers: Vec<QuorumServer>, version: i64) -> QuorumMaj {
        let mut unique: Vec<QuorumServer> = Vec::with_capacity(servers.len());
        for s in servers {
            match unique.iter_mut().find(|u| u.sid == s.sid) {
                Some(u) => *u = s,
                None => unique.push(s),
            }
        }
        QuorumMaj {
            servers: unique,
            version,
            hierarchy: None,
        }
    }

    /// The same members under Java's `QuorumHierarchical` rule, with its checks: every
    /// participant in exactly one group, every grouped server with a weight (a participant
    /// without a `weight.N` line weighs 1; Java fails with a NullPointerException on a
    /// grouped non-participant without one, we refuse it).
    pub fn with_hierarchy(mut self, mut h: Hierarchy) -> Result<QuorumMaj, ConfigError> {
        let mut grouped = BTreeSet::new();
        for (_, sids) in &h.groups {
            for sid in sids {
                if !grouped.insert(*sid) {
                    return Err(ConfigError(format!("Server {sid} is in multiple groups")));
                }
            }
        }
        for s in self.servers.iter().filter(|s| !s.observer) {
            if !grouped.contains(&s.sid) {
                return Err(ConfigError(format!("Server {} is not in a group", s.sid)));
            }
            if !h.weights.iter().any(|(sid, _)| *sid == s.sid) {
                h.weights.push((s.sid, 1));
            }
        }
        if let Some(sid) = grouped
            .iter()
            .find(|sid| !h.weights.iter().any(|(w, _)| w == *sid))
        {
            return Err(ConfigError(format!(
                "server {sid} is in a group but is no participant and has no weight"
            )));
        }
        if let Some((sid, w)) = h.weights.iter().find(|(_, w)| *w < 0) {
            return Err(ConfigError(format!(
                "weight.{sid}={w}: weights are not negative"
            )));
        }
        // One order, so that equal rules compare equal whatever order they were written in.
        h.groups.sort();
        for (_, sids) in &mut h.groups {
            sids.sort();
        }
        h.weights.sort();
        self.hierarchy = Some(h);
        Ok(self)
    }

    /// The groups and weights, when the rule is hierarchical.
    pub fn hierarchy(&self) -> Option<&Hierarchy> {
        self.hierarchy.as_ref()
    }

    /// Java's `getWeight`: 1 for every server under majorities; the server's weight under
    /// groups (0 for a server without one). A server of weight 0 is never elected.
    pub fn weight(&self, sid: i64) -> i64 {
        match &self.hierarchy {
            None => 1,
            Some(h) => h
                .weights
                .iter()
                .rev()
                .find(|(s, _)| *s == sid)
                .map_or(0, |(_, w)| *w),
        }
    }

    /// Parses the configuration text that Java sends in notifications (and keeps in
    /// `/zookeeper/config`): `server.N=...` lines and `version=<hex>`; other keys are ignored.
    pub fn parse_java_string(text: &str) -> Result<QuorumMaj, ConfigError> {
        let mut servers = Vec::new();
        let mut version = 0;
        let mut hierarchy = Hierarchy::default();
        for line in text.lines() {
            let line = line.trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if let Some(id) = key.strip_prefix("server.") {
                let sid = id
                    .parse::<i64>()
                    .map_err(|_| ConfigError(format!("bad server id in {key}")))?;
                servers.push(QuorumServer::parse(sid, value)?);
            } else if key == "version" {
                version = u64::from_str_radix(value.trim(), 16)
                    .map_err(|_| ConfigError(format!("bad version \"{value}\"")))?
                    as i64;
            } else if key.starts_with("group") || key.starts_with("weight") {
                hierarchy.add_line(key, value)?;
            }
        }
        let view = QuorumMaj::new(servers, version);
        if hierarchy == Hierarchy::default() {
            Ok(view)
        } else {
            view.with_hierarchy(hierarchy)
        }
    }

    /// All members, in configuration order.
    pub fn servers(&self) -> &[QuorumServer] {
        &self.servers
    }

    /// The member with this id.
    pub fn server(&self, sid: i64) -> Option<&QuorumServer> {
        self.servers.iter().find(|s| s.sid == sid)
    }

    /// The same members under another version.
    pub fn with_version(mut self, version: i64) -> QuorumMaj {
        self.version = version;
        self
    }

    /// The configuration version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The ids of the participants (the voting members).
    pub fn voters(&self) -> BTreeSet<i64> {
        self.servers
            .iter()
            .filter(|s| !s.observer)
            .map(|s| s.sid)
            .collect()
    }

    /// Whether `sid` is a participant.
    pub fn is_voter(&self, sid: i64) -> bool {
        self.servers.iter().any(|s| s.sid == sid && !s.observer)
    }

    /// Whether `sid` is a member listed as an observer.
    pub fn is_observer(&self, sid: i64) -> bool {
        self.servers.iter().any(|s| s.sid == sid && s.observer)
    }

    /// Java's `half`: a quorum needs more than this many participants.
    pub fn half(&self) -> usize {
        self.servers.iter().filter(|s| !s.observer).count() / 2
    }

    /// Whether `acks` hold a quorum: a majority of all participants (ids that are not
    /// participants don't count), or under groups Java's `QuorumHierarchical.containsQuorum`:
    /// more than half of the groups each see more than half of their weight.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a i64>) -> bool {
        let Some(h) = &self.hierarchy else {
            let voters: BTreeSet<i64> = acks
                .into_iter()
                .copied()
                .filter(|sid| self.is_voter(*sid))
                .collect();
            return voters.len() > self.half();
        };
        let acks: BTreeSet<i64> = acks.into_iter().copied().collect();
        let majority_groups = h
            .groups
            .iter()
            .filter(|(_, sids)| {
                let total: i64 = sids.iter().map(|s| self.weight(*s)).sum();
                let seen: i64 = sids
                    .iter()
                    .filter(|s| acks.contains(s))
                    .map(|s| self.weight(*s))
                    .sum();
                // Half the group's weight rounded down, as Java's long division.
                seen > total / 2
            })
            .count();
        !acks.is_empty() && majority_groups > h.groups.len() / 2
    }

    /// `QuorumMaj.toString()` / `QuorumHierarchical.toString()`: the text sent in every
    /// election notification and kept in `/zookeeper/config`.
    pub fn to_java_string(&self) -> String {
        self.java_text(JAVA_HASHMAP_TABLE)
    }

    /// [`QuorumMaj::to_java_string`] of the config as Java holds it after an incremental
    /// reconfig: its members copied into `new HashMap<>(m)` of a map of `copied_len`
    /// members, whose table starts at [`java_copied_table`] instead of 16.
    pub fn to_java_string_copied(&self, copied_len: usize) -> String {
        self.java_text(java_copied_table(copied_len))
    }

    fn java_text(&self, table: usize) -> String {
        let mut out = String::new();
        let sids: Vec<i64> = self.servers.iter().map(|s| s.sid).collect();
        for i in java_hashmap_order_from(&sids, table) {
            let s = &self.servers[i];
            out.push_str(&format!("server.{}={}\n", s.sid, s));
        }
        if let Some(h) = &self.hierarchy {
            // `group.N` lines: a HashMap by group id, each value the group's ids joined in
            // the order of the HashMap of server -> group.
            let mut member_of: Vec<(i64, i64)> = Vec::new();
            for (gid, members) in &h.groups {
                member_of.extend(members.iter().map(|sid| (*sid, *gid)));
            }
            let member_ids: Vec<i64> = member_of.iter().map(|(sid, _)| *sid).collect();
            let mut lines: Vec<(i64, String)> = Vec::new();
            for i in java_hashmap_order(&member_ids) {
                let (sid, gid) = member_of[i];
                match lines.iter_mut().find(|(g, _)| *g == gid) {
                    Some((_, text)) => text.push_str(&format!(":{sid}")),
                    None => lines.push((gid, sid.to_string())),
                }
            }
            let gids: Vec<i64> = lines.iter().map(|(g, _)| *g).collect();
            for i in java_hashmap_order(&gids) {
                out.push_str(&format!("group.{}={}\n", lines[i].0, lines[i].1));
            }
            let weighted: Vec<i64> = h.weights.iter().map(|(sid, _)| *sid).collect();
            for i in java_hashmap_order(&weighted) {
                let (sid, w) = h.weights[i];
                out.push_str(&format!("weight.{sid}={w}\n"));
            }
        }
        out.push_str(&format!("version={:x}", self.version));
        out
    }
}

impl Hierarchy {
    /// One `group.N=a:b` or `weight.N=w` line (`key` trimmed), as Java's parse reads it.
    pub fn add_line(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let id = |key: &str| -> Result<i64, ConfigError> {
            key.split_once('.')
                .and_then(|(_, id)| id.parse::<i64>().ok())
                .ok_or_else(|| ConfigError(format!("{key}: not a number after the dot")))
        };
        let number = |text: &str| -> Result<i64, ConfigError> {
            text.trim()
                .parse::<i64>()
                .map_err(|_| ConfigError(format!("{key}={value}: {text:?} is not a number")))
        };
        if key.starts_with("group") {
            let gid = id(key)?;
            let sids = value
                .trim()
                .split(':')
                .map(number)
                .collect::<Result<Vec<_>, _>>()?;
            self.groups.push((gid, sids));
        } else {
            let sid = id(key)?;
            let w = number(value)?;
            match self.weights.iter_mut().find(|(s, _)| *s == sid) {
                Some(entry) => entry.1 = w,
                None => self.weights.push((sid, w)),
            }
        }
        Ok(())
    }
}

/// A new `java.util.HashMap`'s table size.
const JAVA_HASHMAP_TABLE: usize = 16;

/// The table size of `new HashMap<>(m)` for a map `m` of `len` entries (Java's
/// `putMapEntries`: `tableSizeFor((int) (len / 0.75f + 1.0f))`); 16 for an empty one.
pub fn java_copied_table(len: usize) -> usize {
    if len == 0 {
        return JAVA_HASHMAP_TABLE;
    }
    ((len as f32 / 0.75 + 1.0) as usize).next_power_of_two()
}

/// The iteration order (indexes into `ids`) of a new `java.util.HashMap<Long, _>` filled
/// with these keys in this order.
fn java_hashmap_order(ids: &[i64]) -> Vec<usize> {
    java_hashmap_order_from(ids, JAVA_HASHMAP_TABLE)
}

/// [`java_hashmap_order`] for a map whose table starts at `table` entries: by bucket
/// (`Long.hashCode` spread, masked by the table size, which doubles while more than 3/4
/// full), then by insertion within a bucket.
fn java_hashmap_order_from(ids: &[i64], table: usize) -> Vec<usize> {
    let mut capacity = table.max(1);
    while ids.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |sid: i64| {
        let v = sid as u64;
        let h = (v ^ (v >> 32)) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut ordered: Vec<(usize, usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, sid)| (bucket(*sid), i))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(sid: i64, q: u16, e: u16) -> QuorumServer {
        QuorumServer::parse(sid, &format!("127.0.0.1:{q}:{e}")).unwrap()
    }

    #[test]
    fn parses_server_lines() {
        let s = QuorumServer::parse(3, " 10.0.0.1:2888:3888:observer;2181 ").unwrap();
        assert_eq!(s.host, "10.0.0.1");
        assert_eq!((s.quorum_port, s.election_port), (2888, 3888));
        assert!(s.observer);
        assert_eq!(s.client, Some(("0.0.0.0".to_string(), 2181)));
        assert_eq!(s.to_string(), "10.0.0.1:2888:3888:observer;0.0.0.0:2181");
        let v6 = QuorumServer::parse(1, "[::1]:1:2;[::1]:3").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:1:2:participant;[::1]:3");
        assert_eq!(v6.election_addr(), "[::1]:2");
        assert!(QuorumServer::parse(1, "a:1:2:leader").is_err());
        assert!(QuorumServer::parse(1, "a:1").is_err());
        assert!(QuorumServer::parse(1, "a:1:2|b:3:4").is_err());
    }

    #[test]
    fn server_spec_splits_as_java() {
        let p = ServerSpec::parse;
        // String.split drops trailing empty parts.
        assert_eq!(p("h:1:2;").unwrap().client, None);
        assert!(!p("h:1:2:").unwrap().observer);
        assert_eq!(p("h:1:2;5:").unwrap().client, Some((None, 5)));
        assert_eq!(split_host_and_port("[::1]:5:"), Ok(vec!["::1", "5"]));
        // getHostAndPort: a bracketed host may stand alone; after `]` comes `:` and a port.
        assert_eq!(p("h:1:2;[5]").unwrap().client, Some((None, 5)));
        for bad in [
            "[::1]x1:2",
            "[::1]:",
            "[::1:1:2",
            "h:1:2;3;4",
            "h:1:2:Leader",
        ] {
            assert!(
                matches!(p(bad), Err(ServerSpecError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(p("a:1:2|b:3:4"), Err(ServerSpecError::MultipleAddresses));
        // An empty host, port 0 and equal ports are for the caller to refuse.
        let s = p(" :0:0 ; :5").unwrap();
        assert_eq!(
            (s.host.as_str(), s.quorum_port, s.election_port),
            ("", 0, 0)
        );
        assert_eq!(s.client, Some((Some(String::new()), 5)));
    }

    #[test]
    fn java_string_matches_captured_java_text() {
        // What a Java 3.8 node sent in its notifications (see tests/data).
        let qv = QuorumMaj::new(vec![server(1, 45731, 50493), server(2, 48697, 49853)], 0);
        assert_eq!(
            qv.to_java_string(),
            "server.1=127.0.0.1:45731:50493:participant\n\
             server.2=127.0.0.1:48697:49853:participant\nversion=0"
        );
        assert_eq!(
            QuorumMaj::parse_java_string(&qv.to_java_string()).unwrap(),
            qv
        );
    }

    #[test]
    fn hashmap_order_of_large_ids() {
        // 17 lands in bucket 1 next to 1 (after it, inserted later); 16 in bucket 0.
        let qv = QuorumMaj::new(
            vec![server(17, 1, 2), server(1, 3, 4), server(16, 5, 6)],
            0x100000000,
        );
        let text = qv.to_java_string();
        let ids: Vec<&str> = text.lines().map(|l| l.split('=').next().unwrap()).collect();
        assert_eq!(ids, ["server.16", "server.17", "server.1", "version"]);
        assert!(text.ends_with("version=100000000"));
    }

    fn hierarchical(text: &str) -> QuorumMaj {
        let mut lines = String::new();
        for i in 1..=9 {
            lines.push_str(&format!("server.{i}=127.0.0.1:{}:{}\n", 100 + i, 200 + i));
        }
        lines.push_str(text);
        QuorumMaj::parse_java_string(&lines).unwrap()
    }

    #[test]
    fn hierarchical_quorums_as_java_counts_them() {
        // Three groups of three: a quorum is a majority of the weight in two of the groups.
        let qv = hierarchical("group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\n");
        assert!(qv.contains_quorum(&[1, 2, 4, 5]));
        assert!(!qv.contains_quorum(&[1, 2, 3, 4]));
        assert!(!qv.contains_quorum(&[1, 2, 3, 4, 7]));
        // One whole group lost, the other two carry on.
        assert!(qv.contains_quorum(&[4, 5, 6, 7, 8, 9]));
        assert!(qv.contains_quorum(&[4, 5, 7, 8]));
        assert!(!qv.contains_quorum(&[]));
        assert_eq!(qv.weight(5), 1);
        // Weights: server 1 alone outweighs 2 and 3 in its group; weight 0 never counts.
        let qv =
            hierarchical("group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\nweight.1=3\nweight.4=0\n");
        assert!(qv.contains_quorum(&[1, 5, 6]));
        assert!(!qv.contains_quorum(&[2, 3, 4, 5]));
        assert!(!qv.contains_quorum(&[2, 3, 5, 6]));
        assert!(!qv.contains_quorum(&[1, 4, 5]));
        assert_eq!((qv.weight(1), qv.weight(4), qv.weight(2)), (3, 0, 1));
    }

    #[test]
    fn hierarchical_config_checks_and_text() {
        let err = |text: &str| {
            let mut lines = String::from("server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\n");
            lines.push_str(text);
            QuorumMaj::parse_java_string(&lines).unwrap_err().0
        };
        assert_eq!(err("group.1=1:2\n"), "Server 3 is not in a group");
        assert_eq!(
            err("group.1=1:2:3\ngroup.2=3\n"),
            "Server 3 is in multiple groups"
        );
        assert!(err("group.1=1:2:3\ngroup.2=4\n").contains("no weight"));
        assert!(err("group.1=1:x\n").contains("not a number"));
        // Java's HashMap orders: servers, groups by id, members and weights by server id.
        let qv = QuorumMaj::parse_java_string(
            "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\ngroup.2=3:1\ngroup.1=2\n\
             weight.2=5\nversion=0",
        )
        .unwrap();
        assert_eq!(
            qv.to_java_string(),
            "server.1=h:1:2:participant\nserver.2=h:3:4:participant\n\
             server.3=h:5:6:participant\ngroup.1=2\ngroup.2=1:3\nweight.1=1\nweight.2=5\n\
             weight.3=1\nversion=0"
        );
        assert_eq!(
            QuorumMaj::parse_java_string(&qv.to_java_string()).unwrap(),
            qv
        );
    }

    #[test]
    fn majority_over_participants_only() {
        let mut servers: Vec<QuorumServer> = (1..=5).map(|i| server(i, 1, 2)).collect();
        servers.push(QuorumServer::parse(6, "h:1:2:observer").unwrap());
        let qv = QuorumMaj::new(servers, 0);
        assert_eq!(qv.half(), 2);
        assert!(!qv.contains_quorum(&[1, 2, 6, 7]));
        assert!(qv.contains_quorum(&[1, 2, 5]));
        assert!(qv.is_observer(6) && !qv.is_voter(6));
    }
}
