//! The ensemble's membership and majority rule: Java 3.8's `QuorumPeer.QuorumServer` and
//! `flexible.QuorumMaj`.
//!
//! A [`QuorumMaj`] lists every server (`server.N` lines) with its role. Participants vote, in
//! elections and in the commit quorum; observers don't. A set of server ids is a quorum when it
//! holds more than half of the participants (ids that are not participants don't count).
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

/// Majority quorums over the participants of one configuration (Java's `QuorumMaj`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMaj {
    /// Members in the order they were given (the configuration file's order).
    servers: Vec<QuorumServer>,
    /// The configuration version (`version=` in the dynamic configuration, hex), 0 for a
    /// static configuration.
    version: i64,
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
        }
    }

    /// Parses the configuration text that Java sends in notifications (and keeps in
    /// `/zookeeper/config`): `server.N=...` lines and `version=<hex>`; other keys are ignored.
    pub fn parse_java_string(text: &str) -> Result<QuorumMaj, ConfigError> {
        let mut servers = Vec::new();
        let mut version = 0;
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
            }
        }
        Ok(QuorumMaj::new(servers, version))
    }

    /// All members, in configuration order.
    pub fn servers(&self) -> &[QuorumServer] {
        &self.servers
    }

    /// The member with this id.
    pub fn server(&self, sid: i64) -> Option<&QuorumServer> {
        self.servers.iter().find(|s| s.sid == sid)
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

    /// Whether the participants among `acks` are a majority of all participants.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a i64>) -> bool {
        let voters: BTreeSet<i64> = acks
            .into_iter()
            .copied()
            .filter(|sid| self.is_voter(*sid))
            .collect();
        voters.len() > self.half()
    }

    /// `QuorumMaj.toString()`: the text sent in every election notification.
    pub fn to_java_string(&self) -> String {
        let mut out = String::new();
        for s in java_hashmap_order(&self.servers) {
            out.push_str(&format!("server.{}={}\n", s.sid, s));
        }
        out.push_str(&format!("version={:x}", self.version));
        out
    }
}

/// The iteration order of a `java.util.HashMap<Long, _>` filled with these members in this
/// order: by bucket (`Long.hashCode` spread, masked by the table size, which doubles from 16
/// while more than 3/4 full), then by insertion within a bucket.
fn java_hashmap_order(servers: &[QuorumServer]) -> Vec<&QuorumServer> {
    let mut capacity: usize = 16;
    while servers.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |sid: i64| {
        let v = sid as u64;
        let h = (v ^ (v >> 32)) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut ordered: Vec<(usize, usize, &QuorumServer)> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| (bucket(s.sid), i, s))
        .collect();
    ordered.sort_by_key(|(b, i, _)| (*b, *i));
    ordered.into_iter().map(|(_, _, s)| s).collect()
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
