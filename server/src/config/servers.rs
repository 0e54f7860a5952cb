//! The ensemble's members: `server.N` lines (in `zoo.cfg` or the dynamic configuration file,
//! Java's `QuorumPeerConfig.parseDynamicConfig` and `QuorumPeer.QuorumServer`), the `myid`
//! file, and what this server's id decides (`QuorumPeerConfig.setupMyId`,
//! `setupClientPort`, `setupPeerType`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use zk_quorum::verifier::{QuorumServer, ServerSpec, ServerSpecError};

use super::properties::{dedup, java_trim, parse_properties, read_text};
use super::{Config, ConfigError, MAX_EXTENDED_SERVER_ID};

/// The role a server plays in an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerType {
    /// Votes in elections and in the commit quorum (the default).
    Participant,
    /// Follows the leader but does not vote.
    Observer,
}

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
/// line of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// `N`: the server's `myid`.
    pub id: u64,
    /// Host name or IP address (an IPv6 literal without its brackets), not resolved.
    pub host: String,
    /// Port followers connect to the leader on.
    pub quorum_port: u16,
    /// Port of leader election.
    pub election_port: u16,
    /// `:observer` was given.
    pub observer: bool,
    /// The optional client part: `(host, port)`; host `None` means all interfaces (Java
    /// writes it as `0.0.0.0`).
    pub client: Option<(Option<String>, u16)>,
}

const SERVER_LINE_FORMAT: &str = "host:quorumPort:electionPort[:participant|:observer]\
    [;[clientHost:]clientPort]";

impl ServerLine {
    /// Parses one line; `key` is the whole key (`server.3`), `value` what follows the `=`.
    pub fn parse(key: &str, value: &str) -> Result<ServerLine, ConfigError> {
        let id_text = key.strip_prefix("server.").unwrap_or(key);
        let id = id_text
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| ConfigError::Invalid {
                key: key.to_string(),
                message: format!(
                    "invalid server id \"{id_text}\" in {key}: expected a non-negative integer"
                ),
            })? as u64;
        let value = java_trim(value);
        let bad = |why: &str| ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            expected: format!("{SERVER_LINE_FORMAT} ({why})"),
        };
        let ServerSpec {
            host,
            quorum_port,
            election_port,
            observer,
            client,
        } = ServerSpec::parse(value).map_err(|e| match e {
            ServerSpecError::MultipleAddresses => ConfigError::Invalid {
                key: key.to_string(),
                message: format!(
                    "{key}: multiple addresses per server (\"{value}\") are not supported"
                ),
            },
            ServerSpecError::Malformed(why) => bad(&why),
        })?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if quorum_port == 0 || election_port == 0 || client.as_ref().is_some_and(|c| c.1 == 0) {
            return Err(bad("port 0"));
        }
        if quorum_port == election_port {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                message: format!(
                    "{key}: quorum port and election port must be different (both are \
                     {quorum_port})"
                ),
            });
        }
        // An empty client host means all interfaces, as no host does.
        let client = client.map(|(host, port)| (host.filter(|h| !h.is_empty()), port));
        Ok(ServerLine {
            id,
            host,
            quorum_port,
            election_port,
            observer,
            client,
        })
    }

    /// The line as the quorum crate sees it (client host `0.0.0.0` when none was given).
    pub fn quorum_server(&self) -> QuorumServer {
        QuorumServer {
            sid: self.id as i64,
            host: self.host.clone(),
            quorum_port: self.quorum_port,
            election_port: self.election_port,
            observer: self.observer,
            client: self
                .client
                .as_ref()
                .map(|(host, port)| (host.clone().unwrap_or_else(|| "0.0.0.0".into()), *port)),
        }
    }
}

/// Java's `QuorumServer.toString()` form, the value part of the lines in `/zookeeper/config`:
/// `host:quorumPort:electionPort:participant;clientHost:clientPort`.
impl fmt::Display for ServerLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.quorum_server().fmt(f)
    }
}

impl Config {
    /// Reads the `server.N` lines (and nothing else but `version`) of a dynamic configuration
    /// file; `version` comes from the file's name (see [`version_from_file_name`]). Then
    /// checks the ensemble as [`super::parse`] does for a file without `dynamicConfigFile`.
    pub fn apply_dynamic_config(
        &mut self,
        text: &str,
        version: Option<u64>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        let entries = dedup(parse_properties(text)?, &mut warnings);
        let mut servers = Vec::new();
        let mut hierarchy = None;
        for e in entries {
            let key = java_trim(&e.key);
            if key == "version" {
                return Err(ConfigError::Invalid {
                    key: key.to_string(),
                    message: "the dynamic configuration file must not contain version".to_string(),
                });
            } else if key.starts_with("server.") {
                servers.push(ServerLine::parse(key, &e.value)?);
            } else if key.starts_with("group") || key.starts_with("weight") {
                add_hierarchy_line(&mut hierarchy, key, &e.value)?;
            } else {
                return Err(ConfigError::Invalid {
                    key: key.to_string(),
                    message: format!(
                        "unrecognised parameter {key} in the dynamic configuration file"
                    ),
                });
            }
        }
        self.servers = sorted_servers(servers)?;
        self.hierarchy = hierarchy;
        if version.is_some() {
            self.config_version = version;
        }
        self.check_ensemble(&mut warnings)?;
        Ok(warnings)
    }

    /// Takes this server's id into account, as Java's `setupMyId` and what follows it: the
    /// client port comes from this server's `server.N` line when it has a client part, the
    /// peer type follows the server list, an ensemble needs a `myid` that is in the list,
    /// and with `extendedTypesEnabled` the id must be at most 254.
    pub fn set_my_id(&mut self, my_id: Option<u64>) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        self.my_id = my_id;
        if let Some(id) = my_id {
            if self.extended_types_enabled && id > MAX_EXTENDED_SERVER_ID {
                return Err(ConfigError::Invalid {
                    key: "extendedTypesEnabled".to_string(),
                    message: format!(
                        "extendedTypesEnabled is true but the server id {id} is larger than \
                         {MAX_EXTENDED_SERVER_ID}"
                    ),
                });
            }
            let own = self.server(id).cloned();
            if let Some(ServerLine {
                client: Some((host, port)),
                ..
            }) = &own
            {
                let line_ip = match host {
                    None => None,
                    Some(h) => Some(resolve_host(h).ok_or_else(|| ConfigError::InvalidValue {
                        key: format!("server.{id}"),
                        value: h.clone(),
                        expected: "an IP address or a resolvable host name".to_string(),
                    })?),
                };
                if self.client_port != 0 {
                    let static_ip = self.client_port_address.filter(|ip| !ip.is_unspecified());
                    let line_ip_any = line_ip.filter(|ip| !ip.is_unspecified());
                    let conflict = match static_ip {
                        Some(ip) => Some(ip) != line_ip_any || self.client_port != *port,
                        None => self.client_port != *port,
                    };
                    if conflict {
                        return Err(ConfigError::Invalid {
                            key: "clientPort".to_string(),
                            message: format!(
                                "client address for this server (id = {id}) in the static \
                                 configuration ({}) is different from the one in server.{id} \
                                 ({}:{port})",
                                self.client_socket_addr(),
                                host.as_deref().unwrap_or("0.0.0.0"),
                            ),
                        });
                    }
                }
                self.client_port = *port;
                self.client_port_address = line_ip.filter(|ip| !ip.is_unspecified());
            }
            let by_list = match &own {
                Some(s) if s.observer => PeerType::Observer,
                _ => PeerType::Participant,
            };
            if by_list != self.peer_type {
                warnings.push(format!(
                    "peerType {:?} does not match the role of server.{id} in the server list \
                     ({by_list:?}); using the server list",
                    self.peer_type
                ));
                self.peer_type = by_list;
            }
            if self.is_distributed() && own.is_none() {
                return Err(ConfigError::Invalid {
                    key: format!("server.{id}"),
                    message: format!("myid {id} is not in the server list"),
                });
            }
        } else if self.is_distributed() {
            return Err(ConfigError::Invalid {
                key: "myid".to_string(),
                message: "the myid file is missing (an ensemble member needs dataDir/myid)"
                    .to_string(),
            });
        }
        if self.client_port == 0 {
            return Err(ConfigError::Missing {
                key: "clientPort".to_string(),
            });
        }
        Ok(warnings)
    }
}

/// Reads `data_dir/myid` as Java does: `None` if it is not a file, else the first line as a
/// number.
pub fn read_myid(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let path = data_dir.join("myid");
    if !path.is_file() {
        return Ok(None);
    }
    let text = read_text(&path)?;
    let first = text.lines().next().unwrap_or("");
    first
        .parse::<u64>()
        .map(Some)
        .map_err(|_| ConfigError::InvalidValue {
            key: "myid".to_string(),
            value: first.to_string(),
            expected: format!("a server id (a number) in {}", path.display()),
        })
}

/// The configuration version a dynamic configuration file's name carries: the hex digits
/// after its last `.` (`zoo.cfg.dynamic.100000000` → 0x100000000), as Java reads it.
pub fn version_from_file_name(name: &str) -> Option<u64> {
    let (_, suffix) = name.rsplit_once('.')?;
    u64::from_str_radix(suffix, 16).ok()
}

/// One `group.N` / `weight.N` line into the ensemble's hierarchy.
pub(super) fn add_hierarchy_line(
    hierarchy: &mut Option<zk_quorum::verifier::Hierarchy>,
    key: &str,
    value: &str,
) -> Result<(), ConfigError> {
    hierarchy
        .get_or_insert_with(Default::default)
        .add_line(key, value)
        .map_err(|e| ConfigError::Invalid {
            key: key.to_string(),
            message: e.0,
        })
}

impl Config {
    /// The ensemble as the quorum crate sees it: the members, the configuration version and
    /// the quorum rule (majorities, or groups and weights, checked as Java checks them).
    pub fn quorum_view(&self) -> Result<zk_quorum::verifier::QuorumMaj, ConfigError> {
        let servers = self.servers.iter().map(ServerLine::quorum_server).collect();
        let view =
            zk_quorum::verifier::QuorumMaj::new(servers, self.config_version.unwrap_or(0) as i64);
        match &self.hierarchy {
            None => Ok(view),
            Some(h) => view
                .with_hierarchy(h.clone())
                .map_err(|e| ConfigError::Invalid {
                    key: "group".to_string(),
                    message: e.0,
                }),
        }
    }
}

pub(super) fn sorted_servers(mut servers: Vec<ServerLine>) -> Result<Vec<ServerLine>, ConfigError> {
    servers.sort_by_key(|s| s.id);
    for pair in servers.windows(2) {
        if pair[0].id == pair[1].id {
            let id = pair[0].id;
            return Err(ConfigError::Invalid {
                key: format!("server.{id}"),
                message: format!("server id {id} is given more than once"),
            });
        }
    }
    Ok(servers)
}

/// `InetAddress.getByName`: an IP literal (IPv6 may be bracketed), or a host name resolved
/// with IPv4 preferred (Java's default); the empty string is the loopback address.
pub(super) fn resolve_host(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(h);
    if h.is_empty() {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip);
    }
    let addrs: Vec<SocketAddr> = (h, 0).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines() {
        let p = |v: &str| ServerLine::parse("server.7", v);
        let s = p("host:2888:3888:observer;127.0.0.1:2181").unwrap();
        assert_eq!(s.id, 7);
        assert!(s.observer);
        assert_eq!(s.client, Some((Some("127.0.0.1".into()), 2181)));
        assert_eq!(s.to_string(), "host:2888:3888:observer;127.0.0.1:2181");
        let s = p("[::1]:2888:3888;[::1]:2181").unwrap();
        assert_eq!(s.host, "::1");
        assert_eq!(s.client, Some((Some("::1".into()), 2181)));
        assert_eq!(s.to_string(), "[::1]:2888:3888:participant;[::1]:2181");
        let s = p(" h:1:2:PARTICIPANT ;2181 ").unwrap();
        assert!(!s.observer);
        assert_eq!(s.to_string(), "h:1:2:participant;0.0.0.0:2181");
        // Java's String.split drops trailing empty parts.
        assert_eq!(p("h:1:2;").unwrap().client, None);
        assert!(!p("h:1:2:").unwrap().observer);
        assert_eq!(p("h:1:2").unwrap().to_string(), "h:1:2:participant");

        for bad in [
            "h:1",
            "h",
            "h:1:2:3:4",
            "h:x:2",
            "h:1:70000",
            "h:0:2",
            ":1:2",
            "h:1:2:leader",
            "h:1:2;a:b:c",
            "h:1:2;x",
            "h:1:2;1;2",
            "[::1:1:2",
            "[::1]",
        ] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.key(), Some("server.7"), "{bad}: {e}");
            assert!(
                matches!(e, ConfigError::InvalidValue { .. }),
                "{bad}: {e:?}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid value \"{}\"", bad.trim())),
                "{e}"
            );
        }
        let e = p("h:1:1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "server.7: quorum port and election port must be different (both are 1)"
        );
        let e = p("a:1:2|b:1:2").unwrap_err();
        assert!(e.to_string().contains("multiple addresses"), "{e}");
        for key in ["server.x", "server.-1", "server."] {
            let e = ServerLine::parse(key, "h:1:2").unwrap_err();
            assert!(e.to_string().contains("invalid server id"), "{e}");
        }
        assert_eq!(ServerLine::parse("server.0", "h:1:2").unwrap().id, 0);
    }
}
