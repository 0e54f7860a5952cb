//! `zoo.cfg`: reading the Java server's configuration file into a [`Config`].
//!
//! This module owns everything between the operator's text and the typed settings the rest of
//! the server uses:
//!
//! * the `java.util.Properties` syntax (`key=value`, `key: value`, `key value`, `#` / `!`
//!   comments, backslash continuation lines, `\t` / `\uXXXX` escapes);
//! * the keys `QuorumPeerConfig.parseProperties` of ZooKeeper 3.8 understands, with Java's
//!   defaults and Java's cross-key checks (`dataDir` required, `minSessionTimeout` not above
//!   `maxSessionTimeout`, `initLimit` / `syncLimit` required in an ensemble, ...);
//! * the keys Java turns into `zookeeper.`-prefixed system properties that change server
//!   behaviour (`4lw.commands.whitelist`, `snapCount`, `forceSync`, `extendedTypesEnabled`,
//!   `admin.*`, `DigestAuthenticationProvider.superDigest`, ...), with the quirks of the Java
//!   code that reads them (for example `forceSync` is off only for the exact value `no`);
//! * `server.N` lines (and the optional dynamic configuration file), and the `myid` file.
//!
//! Differences from Java, on purpose:
//!
//! * a value Java would silently replace by a default because it does not parse as a number
//!   (`snapCount=abc`) is an error here, naming the key and the value;
//! * `jute.maxbuffer` in `zoo.cfg` is honoured (Java ignores it there, since it only reads the
//!   `-Djute.maxbuffer` system property) and a warning says so;
//! * `zookeeper.`-prefixed spellings of system-property keys (`zookeeper.snapCount`) are
//!   honoured with a warning (Java would look for `zookeeper.zookeeper.snapCount`);
//! * hierarchical quorums (`group.*`, `weight.*`) and multiple addresses per server
//!   (`host:p:p|host:p:p`) are refused rather than half supported;
//! * a file that is not valid UTF-8 is read as ISO-8859-1, which is what Java always does.
//!
//! Java system properties given on the command line (`-Dzookeeper.snapCount=...`, also
//! `-Djute.maxbuffer` and `-Dreadonlymode.enabled`) can be passed to
//! [`parse_with_system_properties`] / [`load_with_system_properties`]; as in Java, a value in
//! the file wins over the same setting given as a system property.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use zk_quorum::verifier::{QuorumServer, ServerSpec, ServerSpecError};

/// `tickTime` when the file does not set it (Java's `ZooKeeperServer.DEFAULT_TICK_TIME`).
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// `tickTime` of [`embedded_default`].
pub const EMBEDDED_TICK_TIME_MS: u32 = 2000;
/// Largest frame a client may send, unless `jute.maxbuffer` says otherwise.
pub const DEFAULT_JUTE_MAXBUFFER: usize = 0xfffff;
/// Java never keeps fewer snapshots than this when purging.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// With `extendedTypesEnabled`, a server id above this cannot be encoded in TTL session ids.
pub const MAX_EXTENDED_SERVER_ID: u64 = 254;

/// Every command Java 3.8's `FourLetterCommands` knows; `4lw.commands.whitelist=*` enables
/// exactly these. (`telnet close` is the telnet interrupt sequence `0xfff4fffd`.)
pub const KNOWN_FOUR_LETTER_WORDS: [&str; 19] = [
    "conf",
    "cons",
    "crst",
    "dirs",
    "dump",
    "envi",
    "gtmk",
    "ruok",
    "stmk",
    "srst",
    "srvr",
    "stat",
    "wchc",
    "wchp",
    "wchs",
    "mntr",
    "isro",
    "telnet close",
    "hash",
];

/// Which four-letter words the client port answers.
///
/// Java 3.8: without `4lw.commands.whitelist` only `srvr` is enabled (`zkServer.sh status`
/// needs it), plus `isro` when the system property `readonlymode.enabled` is `true`. The
/// value is a comma-separated list; an entry `*` enables every known command. `srvr` is
/// always enabled, whatever the list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every command in [`KNOWN_FOUR_LETTER_WORDS`].
    All,
    /// Exactly these (always including `srvr`).
    Only(BTreeSet<String>),
}

impl FourLetterWhitelist {
    /// Java's default: `srvr` only.
    pub fn java_default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_string()]))
    }

    /// Parses the value of `4lw.commands.whitelist`. Returns warnings for entries that are
    /// not four-letter words Java knows (Java accepts and ignores them silently).
    pub fn parse(value: &str) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut words = BTreeSet::new();
        for entry in value.split(',') {
            let entry = java_trim(entry);
            if entry == "*" {
                return (FourLetterWhitelist::All, warnings);
            }
            if entry.is_empty() {
                continue;
            }
            if !KNOWN_FOUR_LETTER_WORDS.contains(&entry) {
                warnings.push(format!(
                    "4lw.commands.whitelist: \"{entry}\" is not a four letter word command"
                ));
            }
            words.insert(entry.to_string());
        }
        words.insert("srvr".to_string());
        (FourLetterWhitelist::Only(words), warnings)
    }

    /// Whether the command `word` (for example `"ruok"`) may be executed: it must be one of
    /// [`KNOWN_FOUR_LETTER_WORDS`] (case matters) and on the list.
    pub fn is_enabled(&self, word: &str) -> bool {
        KNOWN_FOUR_LETTER_WORDS.contains(&word)
            && match self {
                FourLetterWhitelist::All => true,
                FourLetterWhitelist::Only(words) => words.contains(word),
            }
    }

    fn add(&mut self, word: &str) {
        if let FourLetterWhitelist::Only(words) = self {
            words.insert(word.to_string());
        }
    }
}

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

/// Why a configuration was refused. `Display` names the key and, where there is one, the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file (configuration, dynamic configuration or `myid`) could not be read.
    Io { path: PathBuf, message: String },
    /// The text is not valid `java.util.Properties` syntax.
    Syntax { line: usize, message: String },
    /// A value does not have the form the key needs.
    InvalidValue {
        key: String,
        value: String,
        expected: String,
    },
    /// A required key is absent.
    Missing { key: String },
    /// Values that are fine alone but not together, or not supported; `message` names the key.
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Io { .. } | ConfigError::Syntax { .. } => None,
            ConfigError::InvalidValue { key, .. }
            | ConfigError::Missing { key }
            | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            ConfigError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            ConfigError::InvalidValue {
                key,
                value,
                expected,
            } => write!(
                f,
                "invalid value \"{value}\" for {key}: expected {expected}"
            ),
            ConfigError::Missing { key } => write!(f, "{key} is not set"),
            ConfigError::Invalid { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The server's configuration. Field comments give the `zoo.cfg` key and Java's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `tickTime`, default 3000 ([`DEFAULT_TICK_TIME_MS`]); must be positive.
    pub tick_time_ms: u32,
    /// `initLimit` in ticks; default 0, which Java refuses in an ensemble.
    pub init_limit: u32,
    /// `syncLimit` in ticks; default 0, which Java refuses in an ensemble.
    pub sync_limit: u32,
    /// `connectToLearnerMasterLimit` in ticks; 0 (default) means use `initLimit`.
    pub connect_to_learner_master_limit: u32,
    /// `dataDir`, required; relative paths stay relative (to the working directory).
    pub data_dir: PathBuf,
    /// `dataLogDir`, defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`. 0 only when it is to be taken from this server's `server.N` line by
    /// [`Config::set_my_id`] (which [`load`] calls).
    pub client_port: u16,
    /// `clientPortAddress` (an IP, or a host name resolved when parsing); `None` = all
    /// interfaces.
    pub client_port_address: Option<IpAddr>,
    /// `clientPortListenBacklog`; `None` (default, `-1`) = the OS default.
    pub client_port_listen_backlog: Option<u32>,
    /// `maxClientCnxns`: connections per client IP, default 60, 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `maxCnxns`: connections in total, default 0 = unlimited.
    pub max_cnxns: u32,
    /// `minSessionTimeout` in ms, default (or `-1`) 2 × tickTime.
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout` in ms, default (or `-1`) 20 × tickTime.
    pub max_session_timeout_ms: u32,
    /// `4lw.commands.whitelist`, default `srvr` only.
    pub four_letter_whitelist: FourLetterWhitelist,
    /// `extendedTypesEnabled` (TTL nodes), default false; Java: true only for `true` in any
    /// case.
    pub extended_types_enabled: bool,
    /// `snapCount`: txns between snapshots, default 100000, at least 2.
    pub snap_count: u64,
    /// `autopurge.snapRetainCount`, default 3, raised to 3 if lower.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours, default 0 = no automatic purge.
    pub autopurge_purge_interval_hours: u32,
    /// `forceSync`, default yes; Java turns it off only for the exact value `no`.
    pub force_sync: bool,
    /// `preAllocSize` in KiB: txn log files grow by this much, default 65536 (64 MiB).
    pub pre_alloc_size_kb: u64,
    /// `fsync.warningthresholdms` (system property `zookeeper.fsync.warningthresholdms`, else
    /// `fsync.warningthresholdms`): a txn log fsync slower than this is logged, default 1000.
    pub fsync_warning_threshold_ms: i64,
    /// `globalOutstandingLimit`, default 1000.
    pub global_outstanding_limit: u32,
    /// `request_throttle_max_requests` (system property
    /// `zookeeper.request_throttle_max_requests`): requests in process before new ones wait
    /// (Java's `RequestThrottler`), default 0 = no throttling (as is any value below 1).
    pub request_throttle_max_requests: i32,
    /// `request_throttle_stall_time` in ms: how long a throttled request waits before it
    /// checks again, default 100.
    pub request_throttle_stall_time_ms: u32,
    /// `request_throttle_drop_stale`: drop throttled requests of a closed connection,
    /// default true (`Boolean.parseBoolean`).
    pub request_throttle_drop_stale: bool,
    /// `jute.maxbuffer` (see the module doc), default 0xfffff.
    pub jute_maxbuffer: usize,
    /// `digest.enabled`, default true.
    pub digest_enabled: bool,
    /// `skipACL`, default no; Java skips ACL checks only for the exact value `yes`.
    pub skip_acl: bool,
    /// `reconfigEnabled`, default false.
    pub reconfig_enabled: bool,
    /// `standaloneEnabled`, default true.
    pub standalone_enabled: bool,
    /// `localSessionsEnabled`, default false.
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled`, default false.
    pub local_sessions_upgrading_enabled: bool,
    /// `peerType`, default participant; [`Config::set_my_id`] makes it agree with the
    /// server list, as Java does.
    pub peer_type: PeerType,
    /// `quorumListenOnAllIPs`, default false.
    pub quorum_listen_on_all_ips: bool,
    /// `syncEnabled`: observers log and snapshot, default true.
    pub sync_enabled: bool,
    /// `observerMasterPort`; `None` (default) = observers connect to the leader.
    pub observer_master_port: Option<u16>,
    /// The `server.N` lines, ordered by id.
    pub servers: Vec<ServerLine>,
    /// `version` of the ensemble configuration (hex), from the file or from the name of the
    /// dynamic configuration file.
    pub config_version: Option<u64>,
    /// `dynamicConfigFile`: where the `server.N` lines are when set.
    pub dynamic_config_file: Option<PathBuf>,
    /// This server's id, from `dataDir/myid` (set by [`load`] / [`Config::set_my_id`]).
    pub my_id: Option<u64>,
    /// The super user's digest (`user:base64(sha1(user:password))`). Java reads it from the
    /// system property `zookeeper.DigestAuthenticationProvider.superDigest`, which the key
    /// `DigestAuthenticationProvider.superDigest` in `zoo.cfg` sets; the caller may also set
    /// it (for example from the environment).
    pub super_digest: Option<String>,
    /// `admin.enableServer`, default true; Java disables it only for the exact value `false`.
    pub admin_enable_server: bool,
    /// `admin.serverAddress`, default `0.0.0.0`.
    pub admin_server_address: String,
    /// `admin.serverPort`, default 8080.
    pub admin_server_port: u16,
    /// The system property `readonlymode.enabled`, or the same key in `zoo.cfg` (which
    /// Java ignores): a quorum member without a quorum serves read-only. Enables `isro`.
    pub read_only_mode_enabled: bool,
    /// `DigestAuthenticationProvider.enabled` (system property
    /// `zookeeper.DigestAuthenticationProvider.enabled`), default true: the `digest` scheme.
    pub digest_auth_enabled: bool,
    /// `enforce.auth.enabled` / `enforce.auth.schemes` (or `sessionRequireClientSASLAuth`,
    /// which means `sasl`): the schemes one of which a connection must be authenticated with
    /// before any request but auth and sasl; `None` (default) when not enforced. Java's
    /// `AuthenticationHelper`; checked against the known providers when the file is read.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// `enforceQuota`, default false: creates and setData past a hard quota limit fail with
    /// QuotaExceeded (Java's `ZooKeeperServer.checkQuota`).
    pub enforce_quota: bool,
    /// Every other key of the file, as written (trimmed): keys Java knows that have no field
    /// here (`ssl.*`, `metricsProvider.*`, `authProvider.*`, ...) and unknown keys.
    pub other: BTreeMap<String, String>,
}

impl Config {
    /// Java's defaults, with no `dataDir` and no `clientPort` yet.
    fn java_defaults() -> Config {
        Config {
            tick_time_ms: DEFAULT_TICK_TIME_MS,
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: 0,
            client_port_address: None,
            client_port_listen_backlog: None,
            max_client_cnxns: 60,
            max_cnxns: 0,
            min_session_timeout_ms: 2 * DEFAULT_TICK_TIME_MS,
            max_session_timeout_ms: 20 * DEFAULT_TICK_TIME_MS,
            four_letter_whitelist: FourLetterWhitelist::java_default(),
            extended_types_enabled: false,
            snap_count: 100_000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            force_sync: true,
            pre_alloc_size_kb: 65_536,
            fsync_warning_threshold_ms: crate::persist::txnlog::DEFAULT_FSYNC_WARNING_THRESHOLD_MS,
            global_outstanding_limit: 1000,
            request_throttle_max_requests: 0,
            request_throttle_stall_time_ms: 100,
            request_throttle_drop_stale: true,
            jute_maxbuffer: DEFAULT_JUTE_MAXBUFFER,
            digest_enabled: true,
            skip_acl: false,
            reconfig_enabled: false,
            standalone_enabled: true,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            peer_type: PeerType::Participant,
            quorum_listen_on_all_ips: false,
            sync_enabled: true,
            observer_master_port: None,
            servers: Vec::new(),
            config_version: None,
            dynamic_config_file: None,
            my_id: None,
            super_digest: None,
            admin_enable_server: true,
            admin_server_address: "0.0.0.0".to_string(),
            admin_server_port: 8080,
            read_only_mode_enabled: false,
            digest_auth_enabled: true,
            enforce_auth_schemes: None,
            enforce_quota: false,
            other: BTreeMap::new(),
        }
    }

    /// The address to listen on for clients.
    pub fn client_socket_addr(&self) -> SocketAddr {
        let ip = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, self.client_port)
    }

    /// The `server.N` line with this id.
    pub fn server(&self, id: u64) -> Option<&ServerLine> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Voting members (servers that are not observers).
    pub fn participants(&self) -> impl Iterator<Item = &ServerLine> {
        self.servers.iter().filter(|s| !s.observer)
    }

    /// Java's `isDistributed`: an ensemble rather than a standalone server.
    pub fn is_distributed(&self) -> bool {
        !self.standalone_enabled || self.participants().count() > 1
    }

    /// Whether the four-letter word `word` may be executed.
    pub fn four_letter_word_enabled(&self, word: &str) -> bool {
        self.four_letter_whitelist.is_enabled(word)
    }

    /// Reads the `server.N` lines (and nothing else but `version`) of a dynamic configuration
    /// file; `version` comes from the file's name (see [`version_from_file_name`]). Then
    /// checks the ensemble as [`parse`] does for a file without `dynamicConfigFile`.
    pub fn apply_dynamic_config(
        &mut self,
        text: &str,
        version: Option<u64>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        let entries = dedup(parse_properties(text)?, &mut warnings);
        let mut servers = Vec::new();
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
                return Err(hierarchical_unsupported(key));
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

    /// Java's ensemble checks (`parseDynamicConfig` and `checkValidity`), plus the
    /// requirement that there is a client port somewhere.
    fn check_ensemble(&mut self, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
        let participants = self.participants().count();
        let observers = self.servers.len() - participants;
        if participants == 0 {
            if !self.standalone_enabled {
                return Err(ConfigError::Invalid {
                    key: "standaloneEnabled".to_string(),
                    message: "standaloneEnabled is false, so there must be at least one \
                              participant server.N line"
                        .to_string(),
                });
            }
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: "server".to_string(),
                    message: "observers without participants is an invalid configuration"
                        .to_string(),
                });
            }
        } else if participants == 1 && self.standalone_enabled {
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: "server".to_string(),
                    message: "observers without a quorum is an invalid configuration".to_string(),
                });
            }
            warnings.push(
                "only one server.N line: running standalone (set standaloneEnabled=false for \
                 a one-member ensemble)"
                    .to_string(),
            );
        } else if participants <= 2 {
            warnings.push(
                "no server failure will be tolerated: you need at least 3 servers".to_string(),
            );
        } else if participants.is_multiple_of(2) {
            warnings
                .push("non-optimal configuration: consider an odd number of servers".to_string());
        }
        if self.is_distributed() {
            if self.init_limit == 0 {
                return Err(ConfigError::Missing {
                    key: "initLimit".to_string(),
                });
            }
            if self.sync_limit == 0 {
                return Err(ConfigError::Missing {
                    key: "syncLimit".to_string(),
                });
            }
        }
        if self.client_port == 0 && !self.servers.iter().any(|s| s.client.is_some()) {
            return Err(ConfigError::Missing {
                key: "clientPort".to_string(),
            });
        }
        Ok(())
    }
}

impl Default for Config {
    /// Same as [`embedded_default`].
    fn default() -> Self {
        embedded_default()
    }
}

/// A configuration for running without a file: standalone on 127.0.0.1:2181, `dataDir`
/// `./zk-data`, tickTime 2000, every four-letter word enabled; otherwise Java's defaults.
pub fn embedded_default() -> Config {
    let mut c = Config::java_defaults();
    c.tick_time_ms = EMBEDDED_TICK_TIME_MS;
    c.min_session_timeout_ms = 2 * EMBEDDED_TICK_TIME_MS;
    c.max_session_timeout_ms = 20 * EMBEDDED_TICK_TIME_MS;
    c.init_limit = 10;
    c.sync_limit = 5;
    c.data_dir = PathBuf::from("./zk-data");
    c.data_log_dir = c.data_dir.clone();
    c.client_port = 2181;
    c.client_port_address = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    c.four_letter_whitelist = FourLetterWhitelist::All;
    c
}

/// Parses the text of a `zoo.cfg`. Returns the configuration and warnings (unknown keys,
/// values Java would quietly adjust, ...). Touches no file: when the text names a
/// `dynamicConfigFile`, the ensemble checks wait for [`Config::apply_dynamic_config`];
/// `myid` is [`Config::set_my_id`]'s business. [`load`] does all of it.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    parse_with_system_properties(text, &[])
}

/// [`parse`], with Java system properties (`("zookeeper.snapCount", "1000")`,
/// `("jute.maxbuffer", "4194304")`, `("readonlymode.enabled", "true")`, ...) applied first,
/// so that the file wins where both set something. Properties zk-rs has no use for are
/// ignored.
pub fn parse_with_system_properties(
    text: &str,
    system_properties: &[(&str, &str)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut p = Parser {
        config: Config::java_defaults(),
        warnings: Vec::new(),
        servers: Vec::new(),
        tick_time: None,
        min_session: -1,
        max_session: -1,
        client_port_address: None,
        secure_client_port: 0,
        secure_client_port_address: false,
        data_dir: None,
        data_log_dir: None,
        quorum_sasl: [false; 3],
        fsync_threshold_prefixed: false,
        enforce_auth: [None, None, None],
    };
    for (name, value) in system_properties {
        p.apply_system_property(name, java_trim(value))?;
    }
    let entries = dedup(parse_properties(text)?, &mut p.warnings);
    let has_dynamic = entries
        .iter()
        .any(|e| java_trim(&e.key) == "dynamicConfigFile");
    for e in &entries {
        p.apply_file_key(java_trim(&e.key), java_trim(&e.value), e.line, has_dynamic)?;
    }
    p.finish()
}

/// Reads and parses a `zoo.cfg` file, then its `dynamicConfigFile` if it names one, then
/// `dataDir/myid` if it exists, as Java does at startup. Relative paths in the file stay
/// relative to the working directory, as in Java.
pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
    load_with_system_properties(path, &[])
}

/// [`load`] with Java system properties, as in [`parse_with_system_properties`].
pub fn load_with_system_properties(
    path: &Path,
    system_properties: &[(&str, &str)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let text = read_text(path)?;
    let (mut config, mut warnings) = parse_with_system_properties(&text, system_properties)?;
    if let Some(dynamic) = config.dynamic_config_file.clone() {
        let text = read_text(&dynamic)?;
        let version = dynamic
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(version_from_file_name);
        warnings.extend(config.apply_dynamic_config(&text, version)?);
    }
    let my_id = read_myid(&config.data_dir)?;
    warnings.extend(config.set_my_id(my_id)?);
    Ok((config, warnings))
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

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Keys

/// Keys `QuorumPeerConfig.parseProperties` (3.8) handles itself, plus `version`.
const QUORUM_PEER_CONFIG_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.auth.enableSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal",
    "quorum.cnxn.threads.size",
    "jvm.pause.info-threshold.ms",
    "jvm.pause.warn-threshold.ms",
    "jvm.pause.sleep.time.ms",
    "jvm.pause.monitor",
    "metricsProvider.className",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "version",
];

/// Keys Java 3.8's server reads as `zookeeper.<key>` system properties, which a `zoo.cfg` key
/// of that name sets. The ones with a [`Config`] field are handled by
/// `Parser::apply_typed_system_key`; the rest go to `other` without a warning.
const SYSTEM_PROPERTY_KEYS: &[&str] = &[
    "4lw.commands.whitelist",
    "DigestAuthenticationProvider.digestAlg",
    "DigestAuthenticationProvider.enabled",
    "DigestAuthenticationProvider.superDigest",
    "SASLAuthenticationProvider.superPassword",
    "X509AuthenticationProvider.superUser",
    "allowSaslFailedClients",
    "audit.enable",
    "audit.impl.class",
    "bitHashCacheSize",
    "closeSessionTxn.enabled",
    "cnxTimeout",
    "commitLogCount",
    "commitProcessor.maxCommitBatchSize",
    "commitProcessor.maxReadBatchSize",
    "commitProcessor.numWorkerThreads",
    "commitProcessor.shutdownTimeout",
    "datadir.autocreate",
    "db.autocreate",
    "digest.enabled",
    "electionPortBindRetry",
    "emulate353TTLNodes",
    "enableEagerACLCheck",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforceQuota",
    "ensembleAuthName",
    "extendedTypesEnabled",
    "fastleader.maxNotificationInterval",
    "fastleader.minNotificationInterval",
    "flushDelay",
    "follower.skipLearnerRequestToNextProcessor",
    "forceSnapshotSync",
    "forceSync",
    "forward_learner_requests_to_commit_processor_disabled",
    "fsync.warningthresholdms",
    "globalOutstandingLimit",
    "intBufferStartingSizeBytes",
    "jmx.log4j.disable",
    "jmx.log4j.mbean",
    "jute.maxbuffer.extrasize",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "leader.ackLoggingFrequency",
    "leader.closeSocketAsync",
    "leader.maxConcurrentDiffSyncs",
    "leader.maxConcurrentSnapSyncs",
    "leader.maxTimeToWaitForEpoch",
    "leaderConnectDelayDuringRetryMs",
    "leaderServes",
    "learner.asyncSending",
    "learner.closeSocketAsync",
    "letAnySaslUserDoX",
    "maxBatchSize",
    "maxCnxns",
    "maxGetChildrenResponseCacheSize",
    "maxInProcessingDeadWatchers",
    "maxResponseCacheSize",
    "maxWriteQueuePollTime",
    "messageTracker.BufferSize",
    "messageTracker.Enabled",
    "netty.advancedFlowControl.enabled",
    "netty.server.earlyDropSecureConnectionHandshakes",
    "netty.server.outstandingHandshake.limit",
    "nio.directBufferBytes",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.sessionlessCnxnTimeout",
    "nio.shutdownTimeout",
    "observer.election.DelayMs",
    "observer.reconnectDelayMs",
    "observer.syncEnabled",
    "observerMaster.sizeLimit",
    "preAllocSize",
    "quorumCnxnTimeoutMs",
    "request_stale_connection_check",
    "request_stale_latency_check",
    "request_throttle_drop_stale",
    "request_throttle_max_requests",
    "request_throttle_stall_time",
    "request_throttler.shutdownTimeout",
    "requireKerberosConfig",
    "security.auth_to_local",
    "serverCnxnFactory",
    "sessionRequireClientSASLAuth",
    "skipACL",
    "snapCount",
    "snapSizeLimitInKb",
    "snapshot.compression.method",
    "snapshot.trust.empty",
    "snapshotSizeFactor",
    "superUser",
    "tcpKeepAlive",
    "throttled_op_wait_time",
    "txnLogSizeLimitInKb",
    "watchManagerName",
    "watcherCleanIntervalInSeconds",
    "watcherCleanThreadsNum",
    "watcherCleanThreshold",
];

/// Families of keys Java knows (as `QuorumPeerConfig` keys or system properties).
const KNOWN_PREFIXES: &[&str] = &[
    "metricsProvider.",
    "admin.",
    "ssl.",
    "authProvider.",
    "pathStats.",
    "connection_throttle_",
    "kerberos.",
    "sasl.",
];

fn is_known_java_key(key: &str) -> bool {
    QUORUM_PEER_CONFIG_KEYS.contains(&key)
        || SYSTEM_PROPERTY_KEYS.contains(&key)
        || KNOWN_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn hierarchical_unsupported(key: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: format!("{key}: hierarchical quorums (group.*, weight.*) are not supported"),
    }
}

struct Parser {
    config: Config,
    warnings: Vec<String>,
    servers: Vec<ServerLine>,
    tick_time: Option<u32>,
    min_session: i64,
    max_session: i64,
    client_port_address: Option<String>,
    secure_client_port: u16,
    secure_client_port_address: bool,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    /// quorum.auth.enableSasl, serverRequireSasl, learnerRequireSasl
    quorum_sasl: [bool; 3],
    /// `zookeeper.fsync.warningthresholdms` was given: the unprefixed property is not read.
    fsync_threshold_prefixed: bool,
    /// enforce.auth.enabled, enforce.auth.schemes, sessionRequireClientSASLAuth as given.
    enforce_auth: [Option<String>; 3],
}

fn invalid(key: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// `Integer.parseInt`, range-checked into `lo..=hi`.
fn int_in(key: &str, value: &str, lo: i64, hi: i64, expected: &str) -> Result<i64, ConfigError> {
    value
        .parse::<i32>()
        .ok()
        .map(i64::from)
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| invalid(key, value, expected))
}

/// `Integer.decode` (what `Integer.getInteger` uses), range-checked into `lo..=hi`.
fn decoded_in(
    key: &str,
    value: &str,
    lo: i64,
    hi: i64,
    expected: &str,
) -> Result<i64, ConfigError> {
    java_decode(value)
        .filter(|v| i32::try_from(*v).is_ok() && (lo..=hi).contains(v))
        .ok_or_else(|| invalid(key, value, expected))
}

const NON_NEGATIVE: &str = "a non-negative integer";
const POSITIVE: &str = "a positive integer";
const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;

/// `QuorumPeerConfig.parseBoolean`: `true` / `false` in any case, anything else is an error.
fn strict_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(key, value, "true or false"))
    }
}

impl Parser {
    fn warn(&mut self, line: Option<usize>, message: String) {
        match line {
            Some(line) => self.warnings.push(format!("line {line}: {message}")),
            None => self.warnings.push(message),
        }
    }

    /// `Boolean.parseBoolean` / `Boolean.getBoolean`: true only for `true` in any case.
    fn lenient_bool(&mut self, key: &str, value: &str, line: Option<usize>) -> bool {
        if value.eq_ignore_ascii_case("true") {
            true
        } else {
            if !value.eq_ignore_ascii_case("false") {
                self.warn(
                    line,
                    format!("{key}={value}: not true or false; Java reads it as false"),
                );
            }
            false
        }
    }

    fn apply_system_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            "jute.maxbuffer" => self.set_jute_maxbuffer(name, value),
            "readonlymode.enabled" => {
                // Java compares with "true" exactly.
                self.config.read_only_mode_enabled = value == "true";
                Ok(())
            }
            // Read by Java only when zookeeper.fsync.warningthresholdms is not set.
            "fsync.warningthresholdms" if !self.fsync_threshold_prefixed => {
                self.apply_typed_system_key(name, value, None).map(|_| ())
            }
            _ => match name.strip_prefix("zookeeper.") {
                Some(key) if SYSTEM_PROPERTY_KEYS.contains(&key) || key.starts_with("admin.") => {
                    self.fsync_threshold_prefixed |= key == "fsync.warningthresholdms";
                    self.apply_typed_system_key(key, value, None).map(|_| ())
                }
                _ => Ok(()),
            },
        }
    }

    fn set_jute_maxbuffer(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        self.config.jute_maxbuffer = decoded_in(key, value, 1, INT_MAX, POSITIVE)? as usize;
        Ok(())
    }

    /// System-property keys that have a field. Returns false for other keys.
    fn apply_typed_system_key(
        &mut self,
        key: &str,
        value: &str,
        line: Option<usize>,
    ) -> Result<bool, ConfigError> {
        match key {
            "4lw.commands.whitelist" => {
                let (list, warnings) = FourLetterWhitelist::parse(value);
                self.config.four_letter_whitelist = list;
                for w in warnings {
                    self.warn(line, w);
                }
            }
            "extendedTypesEnabled" => {
                self.config.extended_types_enabled = self.lenient_bool(key, value, line);
            }
            "digest.enabled" => {
                self.config.digest_enabled = self.lenient_bool(key, value, line);
            }
            "fsync.warningthresholdms" => match java_decode(value) {
                // Long.getLong: a value that does not decode counts as not set.
                Some(ms) => self.config.fsync_warning_threshold_ms = ms,
                None => self.warn(
                    line,
                    format!("{key}={value}: not a number; Java keeps its default of 1000 ms"),
                ),
            },
            "snapCount" => {
                let n = decoded_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                if n < 2 {
                    self.warn(line, format!("snapCount {n} is below 2; using 2"));
                }
                self.config.snap_count = n.max(2) as u64;
            }
            "globalOutstandingLimit" => {
                self.config.global_outstanding_limit =
                    decoded_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32;
            }
            "request_throttle_max_requests" => {
                self.config.request_throttle_max_requests =
                    decoded_in(key, value, INT_MIN, INT_MAX, "an integer")? as i32;
            }
            "request_throttle_stall_time" => {
                self.config.request_throttle_stall_time_ms =
                    decoded_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32;
            }
            "request_throttle_drop_stale" => {
                self.config.request_throttle_drop_stale = self.lenient_bool(key, value, line);
            }
            "maxCnxns" => {
                let n = decoded_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                if n < 0 {
                    self.warn(
                        line,
                        format!("maxCnxns {n} is negative; using 0 (unlimited)"),
                    );
                }
                self.config.max_cnxns = n.max(0) as u32;
            }
            "preAllocSize" => {
                self.config.pre_alloc_size_kb = value
                    .parse::<u64>()
                    .ok()
                    .filter(|v| *v <= i64::MAX as u64 / 1024)
                    .ok_or_else(|| invalid(key, value, "a size in KiB"))?;
            }
            "forceSync" => {
                self.config.force_sync = value != "no";
                if value != "yes" && value != "no" {
                    self.warn(
                        line,
                        format!(
                            "forceSync={value}: Java only recognises \"no\"; treating it as yes"
                        ),
                    );
                }
            }
            "skipACL" => {
                self.config.skip_acl = value == "yes";
                if value != "yes" && value != "no" {
                    self.warn(
                        line,
                        format!("skipACL={value}: Java only recognises \"yes\"; treating it as no"),
                    );
                }
            }
            "admin.enableServer" => {
                self.config.admin_enable_server = value != "false";
                if value != "true" && value != "false" {
                    self.warn(
                        line,
                        format!(
                            "admin.enableServer={value}: Java only recognises \"false\"; \
                             treating it as true"
                        ),
                    );
                }
            }
            "admin.serverAddress" => self.config.admin_server_address = value.to_string(),
            "admin.serverPort" => {
                self.config.admin_server_port =
                    decoded_in(key, value, 0, 65535, "a port number")? as u16;
            }
            "DigestAuthenticationProvider.superDigest" => {
                self.config.super_digest = Some(value.to_string());
            }
            // Boolean.parseBoolean: "true" in any case; anything else is false.
            "DigestAuthenticationProvider.enabled" => {
                self.config.digest_auth_enabled = value.eq_ignore_ascii_case("true");
            }
            "enforceQuota" => self.config.enforce_quota = value.eq_ignore_ascii_case("true"),
            "enforce.auth.enabled" => self.enforce_auth[0] = Some(value.to_string()),
            "enforce.auth.schemes" => self.enforce_auth[1] = Some(value.to_string()),
            "sessionRequireClientSASLAuth" => self.enforce_auth[2] = Some(value.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn apply_file_key(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        has_dynamic: bool,
    ) -> Result<(), ConfigError> {
        let at = Some(line);
        match key {
            "dataDir" | "dataLogDir" => {
                if value.is_empty() {
                    return Err(invalid(key, value, "a directory"));
                }
                let path = PathBuf::from(value);
                if path.is_relative() {
                    self.warn(
                        at,
                        format!("{key} {value} is relative to the working directory"),
                    );
                }
                if key == "dataDir" {
                    self.data_dir = Some(path);
                } else {
                    self.data_log_dir = Some(path);
                }
            }
            "clientPort" => {
                self.config.client_port =
                    int_in(key, value, 0, 65535, "a port number (1-65535)")? as u16;
            }
            "clientPortAddress" => self.client_port_address = Some(value.to_string()),
            "secureClientPort" => {
                self.secure_client_port =
                    int_in(key, value, 0, 65535, "a port number (1-65535)")? as u16;
                if self.secure_client_port != 0 {
                    self.warn(
                        at,
                        "secureClientPort: TLS client connections are not supported; ignored"
                            .to_string(),
                    );
                }
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "secureClientPortAddress" => {
                self.secure_client_port_address = true;
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "observerMasterPort" => {
                let p = int_in(key, value, INT_MIN, 65535, "a port number (1-65535)")?;
                self.config.observer_master_port = (p > 0).then_some(p as u16);
            }
            "clientPortListenBacklog" => {
                let n = int_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                self.config.client_port_listen_backlog = (n > 0).then_some(n as u32);
            }
            "tickTime" => {
                self.tick_time = Some(int_in(key, value, 1, INT_MAX, POSITIVE)? as u32);
            }
            "maxClientCnxns" => {
                self.config.max_client_cnxns = int_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32;
            }
            "minSessionTimeout" | "maxSessionTimeout" => {
                let v = int_in(key, value, -1, INT_MAX, "-1 or a non-negative number of ms")?;
                if key == "minSessionTimeout" {
                    self.min_session = v;
                } else {
                    self.max_session = v;
                }
            }
            "initLimit" => {
                self.config.init_limit = int_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32
            }
            "syncLimit" => {
                self.config.sync_limit = int_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32
            }
            "connectToLearnerMasterLimit" => {
                self.config.connect_to_learner_master_limit =
                    int_in(key, value, 0, INT_MAX, NON_NEGATIVE)? as u32;
            }
            "electionAlg" => {
                int_in(
                    key,
                    value,
                    3,
                    3,
                    "3 (the only election algorithm Java 3.8 supports)",
                )?;
            }
            "quorumListenOnAllIPs" => {
                self.config.quorum_listen_on_all_ips = strict_bool(key, value)?
            }
            "localSessionsEnabled" => self.config.local_sessions_enabled = strict_bool(key, value)?,
            "localSessionsUpgradingEnabled" => {
                self.config.local_sessions_upgrading_enabled = strict_bool(key, value)?;
            }
            "syncEnabled" => self.config.sync_enabled = strict_bool(key, value)?,
            "standaloneEnabled" => self.config.standalone_enabled = strict_bool(key, value)?,
            "reconfigEnabled" => self.config.reconfig_enabled = strict_bool(key, value)?,
            "peerType" => {
                self.config.peer_type = match value.to_ascii_lowercase().as_str() {
                    "observer" => PeerType::Observer,
                    "participant" => PeerType::Participant,
                    _ => return Err(invalid(key, value, "observer or participant")),
                };
            }
            "dynamicConfigFile" => {
                if value.is_empty() {
                    return Err(invalid(key, value, "a file name"));
                }
                self.config.dynamic_config_file = Some(PathBuf::from(value));
            }
            "autopurge.snapRetainCount" => {
                let n = int_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                if n < i64::from(MIN_SNAP_RETAIN_COUNT) {
                    self.warn(
                        at,
                        format!(
                            "autopurge.snapRetainCount {n} is below {MIN_SNAP_RETAIN_COUNT}; \
                             using {MIN_SNAP_RETAIN_COUNT}"
                        ),
                    );
                }
                self.config.autopurge_snap_retain_count =
                    n.max(i64::from(MIN_SNAP_RETAIN_COUNT)) as u32;
            }
            "autopurge.purgeInterval" => {
                let n = int_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                self.config.autopurge_purge_interval_hours = n.max(0) as u32;
            }
            "sslQuorum" | "portUnification" | "sslQuorumReloadCertFiles" => {
                let on = strict_bool(key, value)?;
                if on && key != "sslQuorumReloadCertFiles" {
                    self.warn(at, format!("{key}=true: TLS is not supported; ignored"));
                }
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "quorum.auth.enableSasl"
            | "quorum.auth.serverRequireSasl"
            | "quorum.auth.learnerRequireSasl" => {
                let on = strict_bool(key, value)?;
                let i = match key {
                    "quorum.auth.enableSasl" => 0,
                    "quorum.auth.serverRequireSasl" => 1,
                    _ => 2,
                };
                self.quorum_sasl[i] = on;
                if on && i == 0 {
                    self.warn(
                        at,
                        "quorum.auth.enableSasl=true: quorum SASL is not supported; ignored"
                            .to_string(),
                    );
                }
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "jvm.pause.monitor" | "multiAddress.reachabilityCheckEnabled" => {
                strict_bool(key, value)?;
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "multiAddress.enabled" => {
                if strict_bool(key, value)? {
                    self.warn(
                        at,
                        "multiAddress.enabled=true: multiple addresses per server are not \
                         supported"
                            .to_string(),
                    );
                }
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "quorum.cnxn.threads.size" | "multiAddress.reachabilityCheckTimeoutMs" => {
                int_in(key, value, INT_MIN, INT_MAX, "an integer")?;
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "jvm.pause.info-threshold.ms"
            | "jvm.pause.warn-threshold.ms"
            | "jvm.pause.sleep.time.ms" => {
                value
                    .parse::<i64>()
                    .map_err(|_| invalid(key, value, "an integer"))?;
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "oraclePath" => {
                self.warn(
                    at,
                    "oraclePath: the quorum oracle is not supported".to_string(),
                );
                self.config.other.insert(key.to_string(), value.to_string());
            }
            "version" => {
                self.config.config_version = Some(
                    u64::from_str_radix(value, 16)
                        .map_err(|_| invalid(key, value, "a hexadecimal number"))?,
                );
            }
            "jute.maxbuffer" => {
                self.set_jute_maxbuffer(key, value)?;
                self.warn(
                    at,
                    "jute.maxbuffer in zoo.cfg is ignored by Java (it only reads the system \
                     property -Djute.maxbuffer); zk-rs applies it"
                        .to_string(),
                );
            }
            "readonlymode.enabled" => {
                self.config.read_only_mode_enabled = value == "true";
                self.warn(
                    at,
                    "readonlymode.enabled in zoo.cfg is ignored by Java (it only reads the \
                     system property -Dreadonlymode.enabled); zk-rs applies it"
                        .to_string(),
                );
            }
            _ if key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight") =>
            {
                if has_dynamic {
                    return Err(ConfigError::Invalid {
                        key: key.to_string(),
                        message: format!(
                            "{key} must be in the separate dynamic configuration file \
                             (dynamicConfigFile is set)"
                        ),
                    });
                }
                if !key.starts_with("server.") {
                    return Err(hierarchical_unsupported(key));
                }
                self.servers.push(ServerLine::parse(key, value)?);
            }
            _ => {
                if self.apply_typed_system_key(key, value, at)? {
                    return Ok(());
                }
                if let Some(rest) = key.strip_prefix("zookeeper.") {
                    if SYSTEM_PROPERTY_KEYS.contains(&rest) || rest.starts_with("admin.") {
                        let applied = self.apply_typed_system_key(rest, value, at)?;
                        self.warn(
                            at,
                            format!(
                                "{key}: Java ignores the \"zookeeper.\" prefix in zoo.cfg (it \
                                 would set zookeeper.{key}); zk-rs {} it as {rest}",
                                if applied { "applies" } else { "stores" }
                            ),
                        );
                        if !applied {
                            self.config
                                .other
                                .insert(rest.to_string(), value.to_string());
                        }
                        return Ok(());
                    }
                }
                if !is_known_java_key(key) {
                    self.warn(
                        at,
                        format!(
                            "unknown key {key} (Java would set the system property \
                             zookeeper.{key}); stored, not used"
                        ),
                    );
                }
                self.config.other.insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Config, Vec<String>), ConfigError> {
        let [enable, server_requires, learner_requires] = self.quorum_sasl;
        if !enable && server_requires {
            return Err(sasl_error(
                "quorum.auth.serverRequireSasl",
                "quorum.auth.enableSasl",
            ));
        }
        if !enable && learner_requires {
            return Err(sasl_error(
                "quorum.auth.learnerRequireSasl",
                "quorum.auth.enableSasl",
            ));
        }
        if !learner_requires && server_requires {
            return Err(sasl_error(
                "quorum.auth.serverRequireSasl",
                "quorum.auth.learnerRequireSasl",
            ));
        }

        let c = &mut self.config;
        c.data_dir = self.data_dir.take().ok_or_else(|| ConfigError::Missing {
            key: "dataDir".to_string(),
        })?;
        c.data_log_dir = self
            .data_log_dir
            .take()
            .unwrap_or_else(|| c.data_dir.clone());

        if let Some(address) = self.client_port_address.take() {
            if c.client_port == 0 {
                return Err(ConfigError::Invalid {
                    key: "clientPortAddress".to_string(),
                    message: "clientPortAddress is set but clientPort is not set".to_string(),
                });
            }
            let ip = resolve_host(&address).ok_or_else(|| {
                invalid(
                    "clientPortAddress",
                    &address,
                    "an IP address or a resolvable host name",
                )
            })?;
            c.client_port_address = Some(ip);
        }
        if self.secure_client_port == 0 && self.secure_client_port_address {
            return Err(ConfigError::Invalid {
                key: "secureClientPortAddress".to_string(),
                message: "secureClientPortAddress is set but secureClientPort is not set"
                    .to_string(),
            });
        }

        let tick = self.tick_time.unwrap_or(DEFAULT_TICK_TIME_MS);
        c.tick_time_ms = tick;
        let default_min = 2 * i64::from(tick);
        let default_max = 20 * i64::from(tick);
        let min = if self.min_session == -1 {
            default_min
        } else {
            self.min_session
        };
        let max = if self.max_session == -1 {
            default_max
        } else {
            self.max_session
        };
        if min > max {
            return Err(ConfigError::Invalid {
                key: "minSessionTimeout".to_string(),
                message: format!(
                    "minSessionTimeout ({min}) must not be larger than maxSessionTimeout ({max})"
                ),
            });
        }
        c.min_session_timeout_ms = u32::try_from(min).unwrap_or(u32::MAX);
        c.max_session_timeout_ms = u32::try_from(max).unwrap_or(u32::MAX);

        if c.read_only_mode_enabled {
            c.four_letter_whitelist.add("isro");
        }
        let [enabled, schemes, sasl] = std::mem::take(&mut self.enforce_auth);
        c.enforce_auth_schemes = enforce_auth_schemes(
            enabled.as_deref(),
            schemes.as_deref(),
            sasl.as_deref(),
            c.digest_auth_enabled,
        )?;

        self.config.servers = sorted_servers(std::mem::take(&mut self.servers))?;
        if self.config.dynamic_config_file.is_none() {
            self.config.check_ensemble(&mut self.warnings)?;
        }
        Ok((self.config, self.warnings))
    }
}

/// Java's `AuthenticationHelper`: `sessionRequireClientSASLAuth=true` enforces `sasl`;
/// otherwise `enforce.auth.enabled=true` enforces the comma-separated, trimmed
/// `enforce.auth.schemes`. Java refuses to start when none is given or a scheme has no
/// provider: here `ip` and `digest` (unless disabled) are the only providers.
fn enforce_auth_schemes(
    enabled: Option<&str>,
    schemes: Option<&str>,
    sasl: Option<&str>,
    digest_enabled: bool,
) -> Result<Option<Vec<String>>, ConfigError> {
    let is_true = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let schemes: Vec<String> = if is_true(sasl) {
        vec![crate::auth::SCHEME_SASL.to_string()]
    } else if is_true(enabled) {
        schemes.map_or(Vec::new(), java_split_trimmed)
    } else {
        return Ok(None);
    };
    if schemes.is_empty() {
        return Err(ConfigError::Invalid {
            key: "enforce.auth.schemes".to_string(),
            message: "zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes \
                      must be  configured."
                .to_string(),
        });
    }
    for s in &schemes {
        let known =
            s == crate::auth::SCHEME_IP || (digest_enabled && s == crate::auth::SCHEME_DIGEST);
        if !known {
            return Err(ConfigError::Invalid {
                key: "enforce.auth.schemes".to_string(),
                message: format!("Authentication scheme {s} is not available."),
            });
        }
    }
    Ok(Some(schemes))
}

/// Java's `value.split(",")` (with a separator, trailing empty parts are dropped), each
/// part trimmed.
fn java_split_trimmed(value: &str) -> Vec<String> {
    let mut raw: Vec<&str> = value.split(',').collect();
    if value.contains(',') {
        while raw.last() == Some(&"") {
            raw.pop();
        }
    }
    raw.into_iter().map(|p| p.trim().to_string()).collect()
}

fn sasl_error(key: &str, needs: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: format!("{needs} is disabled, so {key} cannot be enabled"),
    }
}

fn sorted_servers(mut servers: Vec<ServerLine>) -> Result<Vec<ServerLine>, ConfigError> {
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
fn resolve_host(host: &str) -> Option<IpAddr> {
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

// ---------------------------------------------------------------------------------------------
// Small Java-compatible helpers

/// `String.trim`: strips every char up to and including U+0020 from both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Long.decode`: optional sign, then `0x` / `0X` / `#` hex, `0` octal, or decimal.
fn java_decode(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, h)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

// ---------------------------------------------------------------------------------------------
// java.util.Properties syntax

struct RawEntry {
    key: String,
    value: String,
    /// 1-based line where the entry starts.
    line: usize,
}

fn is_prop_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Splits `text` into the entries `Properties.load` would see, in file order (duplicates
/// kept).
fn parse_properties(text: &str) -> Result<Vec<RawEntry>, ConfigError> {
    // Natural lines: terminated by \n, \r or \r\n.
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                lines.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }

    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start_matches(is_prop_ws);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            if i >= lines.len() {
                break;
            }
            logical.push_str(lines[i].trim_start_matches(is_prop_ws));
            i += 1;
        }
        let line = start + 1;
        let (key, value) = split_key_value(&logical);
        let syntax = |message: String| ConfigError::Syntax { line, message };
        entries.push(RawEntry {
            key: unescape(key).map_err(syntax)?,
            value: unescape(value).map_err(syntax)?,
            line,
        });
    }
    Ok(entries)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The raw (still escaped) key and value of a logical line.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_separator = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_prop_ws(c) {
            key_end = i;
            value_start = i + c.len_utf8();
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let mut value = &line[value_start..];
    while let Some(c) = value.chars().next() {
        if is_prop_ws(c) {
            value = &value[c.len_utf8()..];
        } else if !has_separator && (c == '=' || c == ':') {
            has_separator = true;
            value = &value[1..];
        } else {
            break;
        }
    }
    (&line[..key_end], value)
}

/// `Properties.loadConvert`: `\t \n \r \f`, `\uXXXX`, and `\x` → `x`.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uxxxx escape: \\u{hex}"))?;
                // A lone surrogate cannot be a Rust char; Java would keep it.
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

/// Keeps the last entry of each key (as `Properties` does), warning about the others.
fn dedup(entries: Vec<RawEntry>, warnings: &mut Vec<String>) -> Vec<RawEntry> {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        last.insert(java_trim(&e.key).to_string(), i);
    }
    let mut out = Vec::with_capacity(last.len());
    for (i, e) in entries.into_iter().enumerate() {
        let key = java_trim(&e.key).to_string();
        let keep = last[&key];
        if keep == i {
            out.push(e);
        } else {
            warnings.push(format!(
                "line {}: {key} is set again later; the later value is used",
                e.line
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/etc/zookeeper/conf/zoo.cfg` as Debian's zookeeper 3.8.0 package ships it.
    const DEBIAN_ZOO_CFG: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial 
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between 
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just 
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the 
# administrator guide before turning on autopurge.
#
# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to \"0\" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
";

    const MIN: &str = "dataDir=/d\nclientPort=2181\n";

    fn ok(text: &str) -> (Config, Vec<String>) {
        match parse(text) {
            Ok(r) => r,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(text: &str) -> ConfigError {
        match parse(text) {
            Ok((c, _)) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    fn with(extra: &str) -> (Config, Vec<String>) {
        ok(&format!("{MIN}{extra}\n"))
    }

    fn with_err(extra: &str) -> ConfigError {
        err(&format!("{MIN}{extra}\n"))
    }

    fn has_warning(warnings: &[String], needle: &str) -> bool {
        warnings.iter().any(|w| w.contains(needle))
    }

    #[test]
    fn enforce_auth_follows_java_authentication_helper() {
        assert_eq!(with("").0.enforce_auth_schemes, None);
        assert_eq!(
            with("enforce.auth.schemes=digest").0.enforce_auth_schemes,
            None
        );
        let c = with("enforce.auth.enabled=TRUE\nenforce.auth.schemes= digest , ip,").0;
        assert_eq!(
            c.enforce_auth_schemes,
            Some(vec!["digest".to_string(), "ip".to_string()])
        );
        let e = with_err("enforce.auth.enabled=true");
        assert_eq!(e.key(), Some("enforce.auth.schemes"));
        for bad in ["sasl", ",digest", "x509"] {
            let e = with_err(&format!(
                "enforce.auth.enabled=true\nenforce.auth.schemes={bad}"
            ));
            assert!(e.to_string().contains("is not available"), "{bad}: {e}");
        }
        // Without the digest provider, digest cannot be enforced.
        let e = with_err(
            "DigestAuthenticationProvider.enabled=false\nenforce.auth.enabled=true\n\
             enforce.auth.schemes=digest",
        );
        assert!(e.to_string().contains("digest is not available"));
        // sessionRequireClientSASLAuth means sasl, which has no provider here.
        let e = with_err("sessionRequireClientSASLAuth=true\nenforce.auth.enabled=false");
        assert!(e.to_string().contains("sasl is not available"));
        // As system properties too.
        let (c, _) = parse_with_system_properties(
            &format!("{MIN}\n"),
            &[
                ("zookeeper.enforce.auth.enabled", "true"),
                ("zookeeper.enforce.auth.schemes", "ip"),
                ("zookeeper.enforceQuota", "true"),
            ],
        )
        .unwrap();
        assert_eq!(c.enforce_auth_schemes, Some(vec!["ip".to_string()]));
        assert!(c.enforce_quota);
    }

    #[test]
    fn enforce_quota_and_digest_provider_flags() {
        let c = with("").0;
        assert!(!c.enforce_quota && c.digest_auth_enabled);
        assert!(with("enforceQuota=True").0.enforce_quota);
        assert!(!with("enforceQuota=yes").0.enforce_quota);
        let c = with("DigestAuthenticationProvider.enabled=false\ndigest.enabled=true").0;
        assert!(!c.digest_auth_enabled && c.digest_enabled);
    }

    #[test]
    fn debian_example_parses() {
        let (c, w) = ok(DEBIAN_ZOO_CFG);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.init_limit, 10);
        assert_eq!(c.sync_limit, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/zookeeper"));
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zookeeper"));
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert!(c.servers.is_empty());
        assert!(!c.is_distributed());
        assert!(c.other.is_empty());
    }

    #[test]
    fn java_defaults() {
        let (c, w) = ok(MIN);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(c.init_limit, 0);
        assert_eq!(c.sync_limit, 0);
        assert_eq!(c.connect_to_learner_master_limit, 0);
        assert_eq!(c.data_log_dir, PathBuf::from("/d"));
        assert_eq!(c.client_port_address, None);
        assert_eq!(
            c.client_socket_addr(),
            "0.0.0.0:2181".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(c.client_port_listen_backlog, None);
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.max_cnxns, 0);
        assert_eq!(c.min_session_timeout_ms, 6000);
        assert_eq!(c.max_session_timeout_ms, 60000);
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::java_default());
        assert!(c.four_letter_word_enabled("srvr"));
        assert!(!c.four_letter_word_enabled("ruok"));
        assert!(!c.four_letter_word_enabled("isro"));
        assert!(!c.extended_types_enabled);
        assert_eq!(c.snap_count, 100_000);
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(c.autopurge_purge_interval_hours, 0);
        assert!(c.force_sync);
        assert_eq!(c.pre_alloc_size_kb, 65536);
        assert_eq!(c.global_outstanding_limit, 1000);
        assert_eq!(c.jute_maxbuffer, 0xfffff);
        assert!(c.digest_enabled);
        assert!(!c.skip_acl);
        assert!(!c.reconfig_enabled);
        assert!(c.standalone_enabled);
        assert!(!c.local_sessions_enabled);
        assert!(!c.local_sessions_upgrading_enabled);
        assert_eq!(c.peer_type, PeerType::Participant);
        assert!(!c.quorum_listen_on_all_ips);
        assert!(c.sync_enabled);
        assert_eq!(c.observer_master_port, None);
        assert_eq!(c.config_version, None);
        assert_eq!(c.dynamic_config_file, None);
        assert_eq!(c.my_id, None);
        assert_eq!(c.super_digest, None);
        assert!(c.admin_enable_server);
        assert_eq!(c.admin_server_address, "0.0.0.0");
        assert_eq!(c.admin_server_port, 8080);
        assert!(!c.read_only_mode_enabled);
    }

    #[test]
    fn embedded() {
        let c = embedded_default();
        assert_eq!(
            c.client_socket_addr(),
            "127.0.0.1:2181".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(c.data_dir, PathBuf::from("./zk-data"));
        assert_eq!(c.data_log_dir, PathBuf::from("./zk-data"));
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
        assert!(c.four_letter_word_enabled("ruok"));
        assert!(c.four_letter_word_enabled("mntr"));
        assert!(!c.four_letter_word_enabled("xyzw"));
        assert!(!c.is_distributed());
        assert_eq!(Config::default(), c);
    }

    #[test]
    fn properties_syntax() {
        let text = "  # comment\n! also a comment\n\n\
                    tickTime 2500\n\
                    dataDir : /data/zk  \n\
                    clientPort=\\\n    2182\n\
                    initLimit\t=\t7\r\n\
                    syncLimit=3\r\
                    maxClientCnxns:=\n";
        // "maxClientCnxns:=" is key maxClientCnxns, value "=": invalid.
        let e = parse(text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"=\" for maxClientCnxns: expected a non-negative integer"
        );
        let (c, w) = ok(&text.replace("maxClientCnxns:=", "maxClientCnxns:10"));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time_ms, 2500);
        assert_eq!(c.data_dir, PathBuf::from("/data/zk"));
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.init_limit, 7);
        assert_eq!(c.sync_limit, 3);
        assert_eq!(c.max_client_cnxns, 10);
    }

    #[test]
    fn properties_escapes_and_edge_cases() {
        let entries = parse_properties(
            "a\\=b=c\\u0041\\td\n\
             key\\ with\\ space = v\n\
             # comment ending in backslash \\\n\
             next=1\n\
             even=x\\\\\n\
             after=2\n\
             lone\n\
             cont=a\\\n# not a comment\n",
        )
        .unwrap();
        let got: Vec<(String, String, usize)> = entries
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect();
        let want = [
            ("a=b", "cA\td", 1),
            ("key with space", "v", 2),
            ("next", "1", 4),
            ("even", "x\\", 5),
            ("after", "2", 6),
            ("lone", "", 7),
            ("cont", "a# not a comment", 8),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1.as_str(), g.2), w);
        }
        let e = parse("dataDir=\\u12\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { line: 1, .. }), "{e:?}");
        assert!(e.to_string().starts_with("line 1: malformed"), "{e}");
    }

    #[test]
    fn duplicate_key_last_wins_with_warning() {
        let (c, w) = with("tickTime=1000\ntickTime=1500");
        assert_eq!(c.tick_time_ms, 1500);
        assert!(
            has_warning(&w, "line 3: tickTime is set again later"),
            "{w:?}"
        );
    }

    #[test]
    fn tick_time() {
        assert_eq!(with("tickTime=100").0.tick_time_ms, 100);
        for bad in ["abc", "0", "-5", "1.5", "99999999999", ""] {
            let e = with_err(&format!("tickTime={bad}"));
            assert_eq!(
                e.to_string(),
                format!("invalid value \"{bad}\" for tickTime: expected a positive integer")
            );
            assert_eq!(e.key(), Some("tickTime"));
        }
    }

    #[test]
    fn session_timeouts() {
        let (c, _) = with("tickTime=1000");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (2000, 20000)
        );
        let (c, _) = with("tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=-1");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (2000, 20000)
        );
        let (c, _) = with("minSessionTimeout=100\nmaxSessionTimeout=200");
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (100, 200)
        );
        let e = with_err("minSessionTimeout=5000\nmaxSessionTimeout=4000");
        assert_eq!(
            e.to_string(),
            "minSessionTimeout (5000) must not be larger than maxSessionTimeout (4000)"
        );
        // Default max (20 * 3000) below an explicit min.
        let e = with_err("minSessionTimeout=70000");
        assert_eq!(e.key(), Some("minSessionTimeout"));
        let e = with_err("maxSessionTimeout=-2");
        assert_eq!(
            e.to_string(),
            "invalid value \"-2\" for maxSessionTimeout: expected -1 or a non-negative number \
             of ms"
        );
    }

    #[test]
    fn data_dirs() {
        let (c, w) = ok("dataDir=rel/dir\ndataLogDir=/logs\nclientPort=1\n");
        assert_eq!(c.data_dir, PathBuf::from("rel/dir"));
        assert_eq!(c.data_log_dir, PathBuf::from("/logs"));
        assert!(has_warning(&w, "dataDir rel/dir is relative"), "{w:?}");
        let e = err("clientPort=2181\n");
        assert_eq!(
            e,
            ConfigError::Missing {
                key: "dataDir".into()
            }
        );
        assert_eq!(e.to_string(), "dataDir is not set");
        assert_eq!(
            err("dataDir=\nclientPort=1\n").to_string(),
            "invalid value \"\" for dataDir: expected a directory"
        );
    }

    #[test]
    fn client_port_and_address() {
        let e = err("dataDir=/d\n");
        assert_eq!(e.to_string(), "clientPort is not set");
        assert_eq!(
            err("dataDir=/d\nclientPort=0\n").to_string(),
            "clientPort is not set"
        );
        for bad in ["70000", "-1", "x"] {
            assert_eq!(
                err(&format!("dataDir=/d\nclientPort={bad}\n")).to_string(),
                format!("invalid value \"{bad}\" for clientPort: expected a port number (1-65535)")
            );
        }
        let (c, _) = with("clientPortAddress=127.0.0.1");
        assert_eq!(
            c.client_socket_addr(),
            "127.0.0.1:2181".parse::<SocketAddr>().unwrap()
        );
        let (c, _) = with("clientPortAddress=::1");
        assert_eq!(c.client_port_address, Some("::1".parse().unwrap()));
        let (c, _) = with("clientPortAddress=[::1]");
        assert_eq!(c.client_port_address, Some("::1".parse().unwrap()));
        let (c, _) = with("clientPortAddress=localhost");
        assert!(c.client_port_address.unwrap().is_loopback());
        let e = with_err("clientPortAddress=no such host.invalid");
        assert_eq!(e.key(), Some("clientPortAddress"));
        let e = err("dataDir=/d\nclientPortAddress=127.0.0.1\n");
        assert_eq!(
            e.to_string(),
            "clientPortAddress is set but clientPort is not set"
        );
        let (c, _) = with("clientPortListenBacklog=50");
        assert_eq!(c.client_port_listen_backlog, Some(50));
        let (c, _) = with("clientPortListenBacklog=-1");
        assert_eq!(c.client_port_listen_backlog, None);
    }

    #[test]
    fn request_throttler_keys() {
        let d = with("").0;
        assert_eq!(
            (
                d.request_throttle_max_requests,
                d.request_throttle_stall_time_ms,
                d.request_throttle_drop_stale
            ),
            (0, 100, true)
        );
        let c = with(
            "request_throttle_max_requests=50\nrequest_throttle_stall_time=20\n\
             request_throttle_drop_stale=false",
        )
        .0;
        assert_eq!(c.request_throttle_max_requests, 50);
        assert_eq!(c.request_throttle_stall_time_ms, 20);
        assert!(!c.request_throttle_drop_stale);
        assert_eq!(
            with_err("request_throttle_stall_time=-1").key(),
            Some("request_throttle_stall_time")
        );
    }

    #[test]
    fn connection_limits() {
        assert_eq!(with("maxClientCnxns=0").0.max_client_cnxns, 0);
        assert_eq!(with("maxClientCnxns=500").0.max_client_cnxns, 500);
        assert_eq!(with_err("maxClientCnxns=-1").key(), Some("maxClientCnxns"));
        assert_eq!(with("maxCnxns=100").0.max_cnxns, 100);
        let (c, w) = with("maxCnxns=-3");
        assert_eq!(c.max_cnxns, 0);
        assert!(has_warning(&w, "maxCnxns -3 is negative"), "{w:?}");
        assert_eq!(
            with("globalOutstandingLimit=0x10")
                .0
                .global_outstanding_limit,
            16
        );
        assert_eq!(
            with_err("globalOutstandingLimit=lots").to_string(),
            "invalid value \"lots\" for globalOutstandingLimit: expected a non-negative integer"
        );
    }

    #[test]
    fn four_letter_whitelist() {
        let (c, w) = with("4lw.commands.whitelist=*");
        assert!(w.is_empty());
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
        for word in KNOWN_FOUR_LETTER_WORDS {
            assert!(c.four_letter_word_enabled(word), "{word}");
        }
        let (c, w) = with("4lw.commands.whitelist= ruok , stat,,mntr ");
        assert!(w.is_empty(), "{w:?}");
        let expected: BTreeSet<String> = ["ruok", "stat", "mntr", "srvr"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::Only(expected));
        assert!(c.four_letter_word_enabled("srvr"));
        assert!(!c.four_letter_word_enabled("conf"));
        let (c, _) = with("4lw.commands.whitelist=ruok, *");
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
        let (c, _) = with("4lw.commands.whitelist=");
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::java_default());
        let (c, w) = with("4lw.commands.whitelist=ruok,RUOK,bogus");
        assert!(c.four_letter_word_enabled("ruok"));
        assert!(!c.four_letter_word_enabled("RUOK"));
        assert!(
            has_warning(&w, "\"RUOK\" is not a four letter word"),
            "{w:?}"
        );
        assert!(has_warning(&w, "\"bogus\""), "{w:?}");
    }

    #[test]
    fn read_only_mode_enables_isro() {
        let (c, _) =
            parse_with_system_properties(MIN, &[("readonlymode.enabled", "true")]).unwrap();
        assert!(c.read_only_mode_enabled);
        assert!(c.four_letter_word_enabled("isro"));
        let (c, w) = with("readonlymode.enabled=true");
        assert!(c.read_only_mode_enabled);
        assert!(c.four_letter_word_enabled("isro"));
        assert!(
            has_warning(&w, "readonlymode.enabled in zoo.cfg is ignored by Java"),
            "{w:?}"
        );
        assert!(!with("readonlymode.enabled=false").0.read_only_mode_enabled);
    }

    #[test]
    fn extended_types() {
        assert!(with("extendedTypesEnabled=true").0.extended_types_enabled);
        assert!(with("extendedTypesEnabled=TRUE").0.extended_types_enabled);
        assert!(!with("extendedTypesEnabled=false").0.extended_types_enabled);
        let (c, w) = with("extendedTypesEnabled=yes");
        assert!(!c.extended_types_enabled);
        assert!(has_warning(&w, "Java reads it as false"), "{w:?}");
        let (c, w) = with("zookeeper.extendedTypesEnabled=true");
        assert!(c.extended_types_enabled);
        assert!(
            has_warning(&w, "Java ignores the \"zookeeper.\" prefix"),
            "{w:?}"
        );
        let (c, _) =
            parse_with_system_properties(MIN, &[("zookeeper.extendedTypesEnabled", "true")])
                .unwrap();
        assert!(c.extended_types_enabled);
    }

    #[test]
    fn snapshots_and_purge() {
        assert_eq!(with("snapCount=5000").0.snap_count, 5000);
        let (c, w) = with("snapCount=1");
        assert_eq!(c.snap_count, 2);
        assert!(has_warning(&w, "snapCount 1 is below 2"), "{w:?}");
        assert_eq!(
            with_err("snapCount=abc").to_string(),
            "invalid value \"abc\" for snapCount: expected an integer"
        );
        assert_eq!(
            with("autopurge.snapRetainCount=10")
                .0
                .autopurge_snap_retain_count,
            10
        );
        let (c, w) = with("autopurge.snapRetainCount=1");
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert!(has_warning(&w, "below 3"), "{w:?}");
        assert_eq!(
            with("autopurge.purgeInterval=24")
                .0
                .autopurge_purge_interval_hours,
            24
        );
        assert_eq!(
            with("autopurge.purgeInterval=-1")
                .0
                .autopurge_purge_interval_hours,
            0
        );
        assert_eq!(
            with_err("autopurge.purgeInterval=daily").key(),
            Some("autopurge.purgeInterval")
        );
        assert_eq!(with("preAllocSize=1024").0.pre_alloc_size_kb, 1024);
        assert_eq!(with_err("preAllocSize=big").key(), Some("preAllocSize"));
    }

    #[test]
    fn yes_no_keys() {
        assert!(!with("forceSync=no").0.force_sync);
        assert!(with("forceSync=yes").0.force_sync);
        let (c, w) = with("forceSync=false");
        assert!(c.force_sync, "Java only turns forceSync off for \"no\"");
        assert!(has_warning(&w, "forceSync=false"), "{w:?}");
        assert!(with("skipACL=yes").0.skip_acl);
        assert!(!with("skipACL=no").0.skip_acl);
        let (c, w) = with("skipACL=true");
        assert!(!c.skip_acl);
        assert!(has_warning(&w, "skipACL=true"), "{w:?}");
        assert!(!with("digest.enabled=false").0.digest_enabled);
        assert!(with("digest.enabled=true").0.digest_enabled);
    }

    #[test]
    fn jute_maxbuffer() {
        let (c, w) = with("jute.maxbuffer=4194304");
        assert_eq!(c.jute_maxbuffer, 4_194_304);
        assert!(has_warning(&w, "ignored by Java"), "{w:?}");
        assert_eq!(with("jute.maxbuffer=0x200000").0.jute_maxbuffer, 0x200000);
        assert_eq!(
            with_err("jute.maxbuffer=0").to_string(),
            "invalid value \"0\" for jute.maxbuffer: expected a positive integer"
        );
        let (c, _) = parse_with_system_properties(MIN, &[("jute.maxbuffer", "0x100000")]).unwrap();
        assert_eq!(c.jute_maxbuffer, 0x100000);
    }

    #[test]
    fn booleans() {
        let (c, w) = with(
            "reconfigEnabled=true\nstandaloneEnabled=TRUE\nlocalSessionsEnabled=true\n\
             localSessionsUpgradingEnabled=true\nquorumListenOnAllIPs=true\nsyncEnabled=false",
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(c.reconfig_enabled);
        assert!(c.standalone_enabled);
        assert!(c.local_sessions_enabled);
        assert!(c.local_sessions_upgrading_enabled);
        assert!(c.quorum_listen_on_all_ips);
        assert!(!c.sync_enabled);
        for key in [
            "reconfigEnabled",
            "standaloneEnabled",
            "localSessionsEnabled",
            "quorumListenOnAllIPs",
            "syncEnabled",
            "sslQuorum",
            "portUnification",
            "quorum.auth.enableSasl",
        ] {
            assert_eq!(
                with_err(&format!("{key}=yes")).to_string(),
                format!("invalid value \"yes\" for {key}: expected true or false")
            );
        }
    }

    #[test]
    fn admin_server() {
        let (c, w) =
            with("admin.enableServer=false\nadmin.serverPort=9090\nadmin.serverAddress=127.0.0.1");
        assert!(w.is_empty(), "{w:?}");
        assert!(!c.admin_enable_server);
        assert_eq!(c.admin_server_port, 9090);
        assert_eq!(c.admin_server_address, "127.0.0.1");
        let (c, w) = with("admin.enableServer=FALSE");
        assert!(
            c.admin_enable_server,
            "Java compares with \"false\" exactly"
        );
        assert!(has_warning(&w, "admin.enableServer=FALSE"), "{w:?}");
        assert_eq!(
            with_err("admin.serverPort=99999").key(),
            Some("admin.serverPort")
        );
        let (c, w) = with("admin.idleTimeout=5000\nadmin.commandURL=/cmds");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.other["admin.idleTimeout"], "5000");
        assert_eq!(c.other["admin.commandURL"], "/cmds");
    }

    #[test]
    fn super_digest() {
        let (c, w) = with("DigestAuthenticationProvider.superDigest=super:abc=");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
        let (c, _) = parse_with_system_properties(
            MIN,
            &[(
                "zookeeper.DigestAuthenticationProvider.superDigest",
                "super:xyz=",
            )],
        )
        .unwrap();
        assert_eq!(c.super_digest.as_deref(), Some("super:xyz="));
    }

    #[test]
    fn fsync_warning_threshold_from_the_file_or_either_property() {
        let ms = |text: &str, props: &[(&str, &str)]| {
            let (c, w) = parse_with_system_properties(&format!("{MIN}{text}"), props).unwrap();
            (c.fsync_warning_threshold_ms, w.len())
        };
        assert_eq!(ms("", &[]), (1000, 0));
        assert_eq!(ms("fsync.warningthresholdms=50\n", &[]), (50, 0));
        assert_eq!(ms("fsync.warningthresholdms=0x10\n", &[]), (16, 0));
        assert_eq!(ms("fsync.warningthresholdms=soon\n", &[]), (1000, 1));
        assert_eq!(ms("", &[("fsync.warningthresholdms", "7")]), (7, 0));
        // The prefixed property wins over the bare one, whatever their order.
        for props in [
            [
                ("fsync.warningthresholdms", "7"),
                ("zookeeper.fsync.warningthresholdms", "9"),
            ],
            [
                ("zookeeper.fsync.warningthresholdms", "9"),
                ("fsync.warningthresholdms", "7"),
            ],
        ] {
            assert_eq!(ms("", &props), (9, 0));
            assert_eq!(ms("fsync.warningthresholdms=3\n", &props), (3, 0));
        }
    }

    #[test]
    fn file_wins_over_system_properties() {
        let props = [
            ("zookeeper.snapCount", "10"),
            ("zookeeper.forceSync", "no"),
            ("zookeeper.tickTime", "5"),
            ("java.io.tmpdir", "/tmp"),
        ];
        let (c, w) = parse_with_system_properties(&format!("{MIN}snapCount=20\n"), &props).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.snap_count, 20);
        assert!(!c.force_sync);
        // tickTime is not a system property in Java.
        assert_eq!(c.tick_time_ms, 3000);
        let e = parse_with_system_properties(MIN, &[("zookeeper.snapCount", "x")]).unwrap_err();
        assert_eq!(e.key(), Some("snapCount"));
    }

    #[test]
    fn known_keys_are_silent() {
        let (c, w) = with(
            "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.\
             PrometheusMetricsProvider\nmetricsProvider.httpPort=7000\n\
             ssl.keyStore.location=/k\nauthProvider.1=org.example.Auth\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
             electionPortBindRetry=3\njvm.pause.monitor=true\njvm.pause.sleep.time.ms=500\n\
             quorum.cnxn.threads.size=20\nelectionAlg=3\nsslQuorumReloadCertFiles=false\n\
             connectToLearnerMasterLimit=4\nobserverMasterPort=2191\nsnapshot.trust.empty=true",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.other["metricsProvider.httpPort"], "7000");
        assert_eq!(c.other["ssl.keyStore.location"], "/k");
        assert_eq!(c.other["authProvider.1"], "org.example.Auth");
        assert_eq!(c.other["snapshot.trust.empty"], "true");
        assert_eq!(c.connect_to_learner_master_limit, 4);
        assert_eq!(c.observer_master_port, Some(2191));

        let (c, w) = with("fooBar=1");
        assert_eq!(c.other["fooBar"], "1");
        assert!(has_warning(&w, "line 3: unknown key fooBar"), "{w:?}");
    }

    #[test]
    fn unsupported_but_accepted() {
        let (c, w) = with("secureClientPort=2281\nsecureClientPortAddress=0.0.0.0");
        assert!(has_warning(&w, "secureClientPort"), "{w:?}");
        assert_eq!(c.other["secureClientPort"], "2281");
        let e = with_err("secureClientPortAddress=0.0.0.0");
        assert_eq!(
            e.to_string(),
            "secureClientPortAddress is set but secureClientPort is not set"
        );
        let (_, w) = with("sslQuorum=true");
        assert!(has_warning(&w, "sslQuorum=true"), "{w:?}");
        let (_, w) = with("quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true");
        assert!(has_warning(&w, "quorum SASL"), "{w:?}");
    }

    #[test]
    fn quorum_sasl_consistency() {
        let e = with_err("quorum.auth.serverRequireSasl=true");
        assert_eq!(
            e.to_string(),
            "quorum.auth.enableSasl is disabled, so quorum.auth.serverRequireSasl cannot be \
             enabled"
        );
        let e = with_err("quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true");
        assert_eq!(e.key(), Some("quorum.auth.serverRequireSasl"));
        assert!(
            e.to_string().contains("learnerRequireSasl is disabled"),
            "{e}"
        );
    }

    #[test]
    fn election_alg_and_peer_type() {
        assert_eq!(
            with_err("electionAlg=1").to_string(),
            "invalid value \"1\" for electionAlg: expected 3 (the only election algorithm \
             Java 3.8 supports)"
        );
        assert_eq!(with("peerType=Observer").0.peer_type, PeerType::Observer);
        assert_eq!(
            with("peerType=participant").0.peer_type,
            PeerType::Participant
        );
        assert_eq!(with_err("peerType=leader").key(), Some("peerType"));
    }

    const ENSEMBLE: &str = "tickTime=2000\ndataDir=/d\nclientPort=2181\ninitLimit=10\n\
                            syncLimit=5\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888\n\
                            server.3=10.0.0.3:2888:3888:participant;2181\n";

    #[test]
    fn ensemble() {
        let (c, w) = ok(ENSEMBLE);
        assert!(w.is_empty(), "{w:?}");
        assert!(c.is_distributed());
        assert_eq!(c.servers.len(), 3);
        assert_eq!(
            c.servers[0],
            ServerLine {
                id: 1,
                host: "zk1".into(),
                quorum_port: 2888,
                election_port: 3888,
                observer: false,
                client: None,
            }
        );
        assert_eq!(c.server(3).unwrap().client, Some((None, 2181)));
        let e = err(&ENSEMBLE.replace("initLimit=10\n", ""));
        assert_eq!(e.to_string(), "initLimit is not set");
        let e = err(&ENSEMBLE.replace("syncLimit=5\n", ""));
        assert_eq!(e.to_string(), "syncLimit is not set");
    }

    #[test]
    fn ensemble_size_warnings_and_errors() {
        let base = "dataDir=/d\nclientPort=1\ninitLimit=1\nsyncLimit=1\n";
        let (c, w) = ok(&format!("{base}server.1=a:1:2\n"));
        assert!(!c.is_distributed());
        assert!(has_warning(&w, "only one server.N line"), "{w:?}");
        let (c, w) = ok(&format!("{base}standaloneEnabled=false\nserver.1=a:1:2\n"));
        assert!(c.is_distributed());
        assert!(!has_warning(&w, "only one"), "{w:?}");
        let (_, w) = ok(&format!("{base}server.1=a:1:2\nserver.2=b:1:2\n"));
        assert!(
            has_warning(&w, "no server failure will be tolerated"),
            "{w:?}"
        );
        let (_, w) = ok(&format!(
            "{base}server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n"
        ));
        assert!(has_warning(&w, "odd number"), "{w:?}");
        let (c, w) = ok(&format!(
            "{base}server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2:observer\n"
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.participants().count(), 3);
        assert!(c.server(4).unwrap().observer);

        let e = err(&format!("{base}standaloneEnabled=false\n"));
        assert_eq!(e.key(), Some("standaloneEnabled"));
        let e = err(&format!("{base}server.1=a:1:2:observer\n"));
        assert!(e.to_string().contains("without participants"), "{e}");
        let e = err(&format!("{base}server.1=a:1:2\nserver.2=b:1:2:observer\n"));
        assert!(e.to_string().contains("without a quorum"), "{e}");
        let e = err(&format!("{base}server.1=a:1:2\nserver.01=b:1:2\n"));
        assert_eq!(e.to_string(), "server id 1 is given more than once");
    }

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

    #[test]
    fn hierarchical_quorums_refused() {
        let e = with_err("group.1=1:2:3");
        assert!(e.to_string().contains("hierarchical quorums"), "{e}");
        let e = with_err("weight.1=1");
        assert_eq!(e.key(), Some("weight.1"));
    }

    #[test]
    fn client_port_from_server_line() {
        let text = "dataDir=/d\ninitLimit=5\nsyncLimit=2\n\
                    server.1=a:1:2;127.0.0.1:2191\nserver.2=b:1:2;2192\nserver.3=c:1:2;2193\n";
        let (mut c, _) = ok(text);
        assert_eq!(c.client_port, 0);
        let w = c.set_my_id(Some(1)).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            c.client_socket_addr(),
            "127.0.0.1:2191".parse::<SocketAddr>().unwrap()
        );
        let (mut c, _) = ok(text);
        c.set_my_id(Some(2)).unwrap();
        assert_eq!(
            c.client_socket_addr(),
            "0.0.0.0:2192".parse::<SocketAddr>().unwrap()
        );

        // A static clientPort must agree with the server line.
        let (mut c, _) = ok(&format!("clientPort=2192\n{text}"));
        c.set_my_id(Some(2)).unwrap();
        let (mut c, _) = ok(&format!("clientPort=9999\n{text}"));
        let e = c.set_my_id(Some(2)).unwrap_err();
        assert_eq!(e.key(), Some("clientPort"));
        assert!(e.to_string().contains("is different from"), "{e}");

        // Without a client port anywhere, the text alone is refused.
        let e = err("dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\n");
        assert_eq!(e.to_string(), "clientPort is not set");
    }

    #[test]
    fn set_my_id_checks() {
        let (mut c, _) = ok(ENSEMBLE);
        let e = c.set_my_id(None).unwrap_err();
        assert_eq!(e.key(), Some("myid"));
        let (mut c, _) = ok(ENSEMBLE);
        let e = c.set_my_id(Some(9)).unwrap_err();
        assert_eq!(e.to_string(), "myid 9 is not in the server list");
        let (mut c, _) = ok(ENSEMBLE);
        c.set_my_id(Some(2)).unwrap();
        assert_eq!(c.my_id, Some(2));
        assert_eq!(c.client_port, 2181);

        let (mut c, _) = ok(&format!("{ENSEMBLE}server.4=o:1:2:observer\n"));
        let w = c.set_my_id(Some(4)).unwrap();
        assert_eq!(c.peer_type, PeerType::Observer);
        assert!(has_warning(&w, "does not match"), "{w:?}");

        let (mut c, _) = with("extendedTypesEnabled=true");
        c.set_my_id(Some(254)).unwrap();
        let e = c.set_my_id(Some(255)).unwrap_err();
        assert_eq!(e.key(), Some("extendedTypesEnabled"));

        // Standalone: no myid needed.
        let (mut c, _) = ok(MIN);
        assert!(c.set_my_id(None).unwrap().is_empty());
    }

    #[test]
    fn dynamic_config() {
        let text = "dataDir=/d\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\n\
                    dynamicConfigFile=/conf/zoo.cfg.dynamic.100000000\n";
        let (mut c, _) = ok(text);
        assert_eq!(
            c.dynamic_config_file,
            Some(PathBuf::from("/conf/zoo.cfg.dynamic.100000000"))
        );
        assert!(c.servers.is_empty());
        let version = version_from_file_name("zoo.cfg.dynamic.100000000");
        assert_eq!(version, Some(0x1_0000_0000));
        let w = c
            .apply_dynamic_config(
                "server.1=a:1:2;2181\nserver.2=b:1:2;2181\nserver.3=c:1:2;2181\n",
                version,
            )
            .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.config_version, Some(0x1_0000_0000));
        c.set_my_id(Some(3)).unwrap();
        assert_eq!(c.client_port, 2181);

        let e = err(&format!("{text}server.1=a:1:2\n"));
        assert_eq!(
            e.to_string(),
            "server.1 must be in the separate dynamic configuration file (dynamicConfigFile is \
             set)"
        );
        let (mut c, _) = ok(text);
        let e = c.apply_dynamic_config("version=1\n", None).unwrap_err();
        assert_eq!(e.key(), Some("version"));
        let e = c.apply_dynamic_config("tickTime=1\n", None).unwrap_err();
        assert!(
            e.to_string().contains("unrecognised parameter tickTime"),
            "{e}"
        );
        assert_eq!(version_from_file_name("zoo.cfg.dynamic"), None);
        assert_eq!(version_from_file_name("zoo.cfg.dynamic.0"), Some(0));
    }

    #[test]
    fn static_version_key() {
        assert_eq!(with("version=1a").0.config_version, Some(0x1a));
        assert_eq!(with_err("version=zz").key(), Some("version"));
    }

    #[test]
    fn java_helpers() {
        assert_eq!(java_decode("10"), Some(10));
        assert_eq!(java_decode("-10"), Some(-10));
        assert_eq!(java_decode("0x1F"), Some(31));
        assert_eq!(java_decode("#ff"), Some(255));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("0"), Some(0));
        assert_eq!(java_decode("0x"), None);
        assert_eq!(java_decode("--1"), None);
        assert_eq!(java_decode(""), None);
        assert_eq!(java_trim("\t x \u{1}"), "x");
    }

    #[test]
    fn load_reads_files() {
        let dir = std::env::temp_dir().join(format!("zk-config-test-{}", std::process::id()));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let dynamic = dir.join("zoo.cfg.dynamic.5");
        std::fs::write(
            &dynamic,
            "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\n\
             server.3=127.0.0.1:2890:3890;2183\n",
        )
        .unwrap();
        std::fs::write(data.join("myid"), "2\n").unwrap();
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "dataDir={}\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
                data.display(),
                dynamic.display()
            ),
        )
        .unwrap();
        let (c, w) = load(&cfg).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.my_id, Some(2));
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.config_version, Some(5));

        std::fs::write(data.join("myid"), "two\n").unwrap();
        let e = load(&cfg).unwrap_err();
        assert_eq!(e.key(), Some("myid"));

        // Latin-1 bytes are read as Java would.
        std::fs::write(&cfg, b"dataDir=/d\xe9\nclientPort=1\n").unwrap();
        let (c, _) = load(&cfg).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d\u{e9}"));

        let e = load(&dir.join("missing.cfg")).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
