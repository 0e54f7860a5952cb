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

/// Java's `ConfigUtils.getHostAndPort`: `[v6]:a:b` keeps the bracketed host whole, anything
/// else is split on `:`.
pub(crate) fn split_host_and_port(s: &str) -> Result<Vec<String>, ConfigError> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| ConfigError(format!("{s} starts with '[' but has no matching ']'")))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let mut parts = vec![host.to_string()];
        if !after.is_empty() {
            let tail = after
                .strip_prefix(':')
                .ok_or_else(|| ConfigError(format!("{s} does not have the form [host]:port")))?;
            parts.extend(tail.split(':').map(str::to_string));
        }
        Ok(parts)
    } else {
        Ok(s.split(':').map(str::to_string).collect())
    }
}

fn parse_port(s: &str, what: &str) -> Result<u16, ConfigError> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| ConfigError(format!("bad {what} \"{s}\"")))
}

impl QuorumServer {
    /// Parses the value of a `server.N` line (`host:q:e[:participant|:observer][;[host:]port]`).
    pub fn parse(sid: i64, value: &str) -> Result<QuorumServer, ConfigError> {
        let value = value.trim();
        let parts: Vec<&str> = value.split(';').collect();
        if parts.len() > 2 {
            return Err(ConfigError(format!(
                "server.{sid}={value}: more than one ';'"
            )));
        }
        if parts[0].contains('|') {
            return Err(ConfigError(format!(
                "server.{sid}={value}: multiple addresses per server are not supported"
            )));
        }
        let server = split_host_and_port(parts[0].trim())?;
        if server.len() < 3 || server.len() > 4 {
            return Err(ConfigError(format!(
                "server.{sid}={value}: expected host:quorumPort:electionPort[:type]"
            )));
        }
        let observer = match server.get(3).map(|t| t.trim().to_ascii_lowercase()) {
            None => false,
            Some(t) if t == "participant" => false,
            Some(t) if t == "observer" => true,
            Some(t) => return Err(ConfigError(format!("Unrecognised peertype: {t}"))),
        };
        let client = match parts.get(1) {
            None => None,
            Some(c) => {
                let c = split_host_and_port(c.trim())?;
                match c.as_slice() {
                    [port] => Some(("0.0.0.0".to_string(), parse_port(port, "client port")?)),
                    [host, port] => Some((host.clone(), parse_port(port, "client port")?)),
                    _ => {
                        return Err(ConfigError(format!(
                            "server.{sid}={value}: bad client part"
                        )))
                    }
                }
            }
        };
        Ok(QuorumServer {
            sid,
            host: server[0].trim().to_string(),
            quorum_port: parse_port(&server[1], "quorum port")?,
            election_port: parse_port(&server[2], "election port")?,
            observer,
            client,
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
