//! `zoo.cfg`: reading the Java server's configuration file into a [`Config`] (Java's
//! `QuorumPeerConfig`).
//!
//! # Layout
//!
//! * [`keys`]: THE table of keys. Each row gives a key's name, how Java reads its value,
//!   Java's default, where it applies, its Java system property, the [`Config`] field it
//!   fills (or why zk-rs ignores it) and how `conf` shows it. Parsing, the defaults, `conf`
//!   and the "accepted but ignored" warnings all come from it.
//! * `properties`: the `java.util.Properties` syntax (`key=value`, `key: value`, `key value`,
//!   `#` / `!` comments, continuation lines, `\t` / `\uXXXX` escapes).
//! * `servers`: `server.N` lines, the dynamic configuration file, `myid`.
//! * `validate`: the checks across keys and the values derived from others.
//! * `whitelist`: `4lw.commands.whitelist`.
//!
//! This file holds [`Config`], [`ConfigError`] and the reading itself: each entry of the
//! file goes to its row of the table; `server.N` lines to `servers`; a key the table does not
//! know is reported and dropped (Java would turn it into the system property
//! `zookeeper.<key>`, which nothing reads); a key the table marks as ignored is reported with
//! the reason. Nothing else in the server reads configuration by name.
//!
//! Differences from Java, on purpose:
//!
//! * a value Java would silently replace by a default because it does not parse as a number
//!   (`snapCount=abc`) is an error here, naming the key and the value;
//! * keys Java reads only as system properties (`jute.maxbuffer`, `readonlymode.enabled`,
//!   `znode.container.checkIntervalMs`) are honoured in `zoo.cfg` too, with a warning;
//! * `zookeeper.`-prefixed spellings of system-property keys (`zookeeper.snapCount`) are
//!   honoured with a warning (Java would look for `zookeeper.zookeeper.snapCount`);
//! * hierarchical quorums (`group.*`, `weight.*`) and multiple addresses per server
//!   (`host:p:p|host:p:p`) are refused rather than half supported;
//! * a file that is not valid UTF-8 is read as ISO-8859-1, which is what Java always does.
//!
//! Java system properties given on the command line (`-Dzookeeper.snapCount=...`, also
//! `-Djute.maxbuffer` and `-Dreadonlymode.enabled`) can be passed to
//! [`parse_with_system_properties`] / [`load_with_system_properties`]. Which wins is Java's
//! answer for each kind of key: a `zoo.cfg` key Java turns into the property `zookeeper.<key>`
//! (`snapCount`) overwrites the `-D` value, as `QuorumPeerConfig` does with
//! `System.setProperty`; for a key Java reads only as a property (`readonlymode.enabled`,
//! `jute.maxbuffer`) the `-D` value wins and the file's line is ignored with a warning.
//! [`reads_system_property`] says whether zk-rs reads a property at all.

pub mod dynamic;
pub mod keys;
mod properties;
mod servers;
mod validate;
mod whitelist;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use properties::{dedup, java_trim, parse_properties, read_text};
pub use servers::{read_myid, version_from_file_name, PeerType, ServerLine};
pub use whitelist::{FourLetterWhitelist, KNOWN_FOUR_LETTER_WORDS};

/// `tickTime` when the file does not set it (Java's `ZooKeeperServer.DEFAULT_TICK_TIME`).
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// `tickTime` of [`embedded_default`].
pub const EMBEDDED_TICK_TIME_MS: u32 = 2000;
/// Largest frame a client may send, unless `jute.maxbuffer` says otherwise.
pub const DEFAULT_JUTE_MAXBUFFER: usize = 0xfffff;
/// Java never keeps fewer snapshots than this when purging.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// The Java ZooKeeper generation zkserver behaves as (`compat.version=3.8|3.9`, default
/// 3.9). 3.8 is Java 3.8.0 exactly: an ensemble with 3.8.0 Java members needs it, since they
/// cannot apply what 3.9 writes (a create2 sub-txn inside a multi). Every behaviour that
/// differs asks this type, so README's list of differences is the list of its methods' uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompatVersion {
    /// Java 3.8.0.
    V3_8,
    /// Java 3.9.3.
    V3_9,
}

impl CompatVersion {
    /// At least Java 3.9.
    pub fn is_3_9(self) -> bool {
        self >= CompatVersion::V3_9
    }

    /// The zxid in a watch notification's reply header for a change made by txn `zxid`:
    /// 3.9 sends the zxid of the change (ZOOKEEPER-4655), 3.8 always -1.
    pub fn notification_zxid(self, zxid: i64) -> i64 {
        if self.is_3_9() {
            zxid
        } else {
            -1
        }
    }

    /// Whether `exists` on a node needs READ on it (ZOOKEEPER-2590, 3.9.2): NoAuth, and no
    /// watch registered, when the connection may not read an existing node.
    pub fn exists_checks_read(self) -> bool {
        self.is_3_9()
    }

    /// Whether a create sub-op sent as `create2` inside a multi stays a create2 (answered
    /// with a Create2Response and its Stat, logged as a type-15 sub-txn; ZOOKEEPER-4026).
    /// 3.8.0 decays it to a plain create. It also decides how a multi's create flags are
    /// read: 3.9 refuses an unknown create mode while decoding (the whole multi fails with
    /// MarshallingError), 3.8 fails that op with BadArguments.
    pub fn multi_keeps_create2(self) -> bool {
        self.is_3_9()
    }

    /// Which watch manager rules apply (`crate::watch`): 3.9 keeps several modes per
    /// (connection, path) (ZOOKEEPER-4466) and knows watcher types 4 and 5 (ZOOKEEPER-4471,
    /// -4472); 3.8 keeps the last registered mode.
    pub fn watch_modes_coexist(self) -> bool {
        self.is_3_9()
    }

    /// How deleteContainer (op 20) carries its path: 3.9 reads a `DeleteContainerRequest`
    /// record (a jute string); 3.8.0 takes the raw bytes of the whole request buffer,
    /// header included, so a client's deleteContainer never names a valid path there.
    pub fn delete_container_is_a_record(self) -> bool {
        self.is_3_9()
    }

    /// Whether `check` (op 13) outside a multi is an op code the server does not accept
    /// (3.9.3's `Request.isValid`): answered Unimplemented on arrival, before requests
    /// queued ahead of it, and the connection closed. 3.8 mode refuses it in prep.
    pub fn bare_check_is_invalid(self) -> bool {
        self.is_3_9()
    }

    /// Whether a single write whose request record does not decode is answered
    /// MarshallingError without taking a zxid (3.9: the record is read before the zxid is
    /// taken; 3.8.0 logs an error txn under a new zxid).
    pub fn malformed_write_takes_no_zxid(self) -> bool {
        self.is_3_9()
    }

    /// Whether the `ip` scheme reads IPv6 addresses (ZOOKEEPER-4240, Java 3.9.4: after our
    /// 3.9.3 reference, taken from its source).
    pub fn ipv6_ip_acls(self) -> bool {
        self.is_3_9()
    }
}

/// With `extendedTypesEnabled`, a server id above this cannot be encoded in TTL session ids.
pub const MAX_EXTENDED_SERVER_ID: u64 = 254;

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

/// `metricsProvider.*` (Java's `QuorumPeerConfig` hands every `metricsProvider.<name>` key to
/// the provider as `<name>`; `PrometheusMetricsProvider.configure` reads these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsProviderConf {
    /// `className` is Java's `PrometheusMetricsProvider`: serve `/metrics`
    /// (`metrics::endpoint`). Otherwise Java's `DefaultMetricsProvider` (or the
    /// `NullMetricsProvider`): no endpoint.
    pub prometheus: bool,
    /// `httpHost` (Java's default `0.0.0.0`).
    pub http_host: String,
    /// `httpPort` (7000).
    pub http_port: u16,
    /// `exportJvmInfo` (true): the `process_*` families.
    pub export_jvm_info: bool,
}

/// The server's configuration. Each field names its `zoo.cfg` key; Java's default and how
/// the value is read are in the key's row of [`keys::KEYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `tickTime`.
    pub tick_time_ms: u32,
    /// `initLimit`, in ticks; 0 (the default) is refused in an ensemble.
    pub init_limit: u32,
    /// `syncLimit`, in ticks; 0 (the default) is refused in an ensemble.
    pub sync_limit: u32,
    /// `dataDir`, required; relative paths stay relative (to the working directory).
    pub data_dir: PathBuf,
    /// `dataLogDir`, else `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`. 0 only when it is to be taken from this server's `server.N` line by
    /// [`Config::set_my_id`] (which [`load`] calls).
    pub client_port: u16,
    /// `clientPortAddress` (an IP, or a host name resolved when parsing); `None` = all
    /// interfaces.
    pub client_port_address: Option<IpAddr>,
    /// `clientPortListenBacklog`; `None` (`-1`, or any value below 1) = the OS default.
    /// Only `conf` shows it (see its row).
    pub client_port_listen_backlog: Option<u32>,
    /// `maxClientCnxns`: connections per client IP, 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `minSessionTimeout`; `-1` in the file means 2 × tickTime.
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout`; `-1` in the file means 20 × tickTime.
    pub max_session_timeout_ms: u32,
    /// `4lw.commands.whitelist` (plus `isro` with `readonlymode.enabled`).
    pub four_letter_whitelist: FourLetterWhitelist,
    /// `extendedTypesEnabled` (TTL nodes).
    pub extended_types_enabled: bool,
    /// `compat.version` (zk-rs's own key): the Java generation whose answers, txn types
    /// and disk formats zkserver gives.
    pub compat_version: CompatVersion,
    /// `metricsProvider.*`: Java's metrics provider and its Prometheus endpoint.
    pub metrics_provider: MetricsProviderConf,
    /// `snapCount`: txns between snapshots, at least 2.
    pub snap_count: u64,
    /// `observerMasterPort`: a follower serves observers on this port of its quorum
    /// address, and an observer syncs from a voter's (`None`: 0 or less, off).
    pub observer_master_port: Option<u16>,
    /// `observerMaster.sizeLimit`: bytes of committed txns an observer master keeps for
    /// DIFF syncs (Java's `zookeeper.observerMaster.sizeLimit`, 32 MiB).
    pub observer_master_size_limit: i64,
    /// `observer.reconnectDelayMs`: an observer waits a random time below this before it
    /// reconnects to the leader or starts its list of observer masters again (Java: 0).
    pub observer_reconnect_delay_ms: i64,
    /// `observer.election.DelayMs`: an observer waits a random time below this before it
    /// goes back to leader election after losing its learner master (Java: 200).
    pub observer_election_delay_ms: i64,
    /// `autopurge.snapRetainCount`, at least [`MIN_SNAP_RETAIN_COUNT`].
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`; 0 = no automatic purge.
    pub autopurge_purge_interval_hours: u32,
    /// `forceSync`: fsync the txn log.
    pub force_sync: bool,
    /// `preAllocSize`: txn log files grow by this much.
    pub pre_alloc_size_kb: u64,
    /// `fsync.warningthresholdms`: a txn log fsync slower than this is logged.
    pub fsync_warning_threshold_ms: i64,
    /// `globalOutstandingLimit`.
    pub global_outstanding_limit: u32,
    /// `request_throttle_max_requests`: requests in process before new ones wait (Java's
    /// `RequestThrottler`); 0 (as any value below 1) = no throttling.
    pub request_throttle_max_requests: i32,
    /// `request_throttle_stall_time`: how long a throttled request waits before it checks
    /// again.
    pub request_throttle_stall_time_ms: u32,
    /// `request_throttle_drop_stale`: drop throttled requests of a closed connection.
    pub request_throttle_drop_stale: bool,
    /// `jute.maxbuffer`.
    pub jute_maxbuffer: usize,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes
    /// are looked for (Java's `ContainerManager`).
    pub container_check_interval_ms: u64,
    /// `digest.enabled`.
    pub digest_enabled: bool,
    /// `skipACL`.
    pub skip_acl: bool,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
    /// `audit.enable` (`zookeeper.audit.enable`): write the audit log (`crate::audit`).
    pub audit_enabled: bool,
    /// `audit.impl.class`: only Java's default logger exists here.
    pub audit_impl_class: Option<String>,
    /// `standaloneEnabled`.
    pub standalone_enabled: bool,
    /// `peerType`; [`Config::set_my_id`] makes it agree with the server list, as Java does.
    pub peer_type: PeerType,
    /// The `server.N` lines, ordered by id.
    pub servers: Vec<ServerLine>,
    /// `group.N` and `weight.N` lines (Java's `QuorumHierarchical`); `None`: majorities.
    pub hierarchy: Option<zk_quorum::verifier::Hierarchy>,
    /// `version` of the ensemble configuration (hex), from the file or from the name of the
    /// dynamic configuration file.
    pub config_version: Option<u64>,
    /// `dynamicConfigFile`: where the `server.N` lines are when set.
    pub dynamic_config_file: Option<PathBuf>,
    /// The `zoo.cfg` this was read from ([`load`]): reconfig rewrites it.
    pub config_file: Option<PathBuf>,
    /// This server's id, from `dataDir/myid` (set by [`load`] / [`Config::set_my_id`]).
    pub my_id: Option<u64>,
    /// `DigestAuthenticationProvider.superDigest`: the super user's digest
    /// (`user:base64(sha1(user:password))`); the caller may also set it (for example from
    /// the environment).
    pub super_digest: Option<String>,
    /// `readonlymode.enabled`: a quorum member without a quorum serves read-only. Enables
    /// `isro`.
    pub read_only_mode_enabled: bool,
    /// `DigestAuthenticationProvider.enabled`: the `digest` scheme.
    pub digest_auth_enabled: bool,
    /// `enforce.auth.enabled` / `enforce.auth.schemes` (or `sessionRequireClientSASLAuth`,
    /// which means `sasl`): the schemes one of which a connection must be authenticated with
    /// before any request but auth and sasl; `None` when not enforced. Java's
    /// `AuthenticationHelper`; checked against the known providers when the file is read.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// `enforceQuota`: creates and setData past a hard quota limit fail with QuotaExceeded
    /// (Java's `ZooKeeperServer.checkQuota`).
    pub enforce_quota: bool,
    /// `admin.*`: the AdminServer (Java's `JettyAdminServer`).
    pub admin: AdminConfig,
    /// `ssl.*` (`zookeeper.ssl.*`): TLS of the client port (Java's `ClientX509Util`).
    pub ssl: crate::tls::TlsSettings,
    /// `secureClientPort` (0: none) and `secureClientPortAddress` (`None`: every address):
    /// the client port that speaks TLS.
    pub secure_client_port: u16,
    pub secure_client_port_address: Option<IpAddr>,
    /// `client.portUnification` (`zookeeper.client.portUnification`): the client port(s)
    /// also accept TLS, told apart from plaintext by the first bytes.
    pub client_port_unification: bool,
    /// `client.certReload` (`zookeeper.client.certReload`, 3.9): new handshakes on the client
    /// port read changed store files.
    pub client_cert_reload: bool,
    /// `serverCnxnFactory` (`zookeeper.serverCnxnFactory`): Java needs Netty's for TLS.
    pub server_cnxn_factory: Option<String>,
    /// `X509AuthenticationProvider.superUser`: the x509 id that is also `super`.
    pub x509_super_user: Option<String>,
    /// `ssl.quorum.*` (`zookeeper.ssl.quorum.*`): TLS of the quorum ports
    /// (Java's `QuorumX509Util`).
    pub ssl_quorum: crate::tls::TlsSettings,
    /// `sslQuorum`: election and ZAB connections are opened over TLS, and the quorum ports
    /// accept only TLS (unless `portUnification`).
    pub ssl_quorum_enabled: bool,
    /// `portUnification`: the quorum ports accept TLS and plaintext alike (the rolling
    /// switch to `sslQuorum`).
    pub quorum_port_unification: bool,
    /// `sslQuorumReloadCertFiles`: new quorum handshakes use the `ssl.quorum.*` store files'
    /// current contents.
    pub ssl_quorum_reload_cert_files: bool,
    /// `quorum.auth.*`: quorum SASL.
    pub quorum_sasl: QuorumSasl,
    /// `fips-mode` (`zookeeper.fips-mode`, 3.9; unset: true there). In FIPS mode Java 3.9
    /// checks quorum certificates without its hostname verification.
    pub fips_mode: Option<bool>,
    /// `authProvider.N` (`zookeeper.authProvider.N`): (N, class name) of the extra
    /// authentication providers, in the order given (a later N replaces an earlier one).
    pub auth_providers: Vec<(String, String)>,
    /// The SASL keys of the client port, and the login made from the JAAS file.
    pub sasl: crate::sasl::SaslSettings,
    /// `letAnySaslUserDoX`: a `sasl` ACL id that every SASL-authenticated client matches.
    pub let_any_sasl_user_do_x: Option<String>,
}

/// Java's TLS-capable client connection factory.
pub const NETTY_FACTORY: &str = "org.apache.zookeeper.server.NettyServerCnxnFactory";
/// Java's x509 authentication provider class.
pub const X509_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";

impl Config {
    /// Whether Java would have the `x509` scheme: `authProvider.N` names
    /// X509AuthenticationProvider, or Java registers it itself (`configureSSLAuth`, 3.8.0
    /// and 3.9.3 alike, for a secure client port and for client port unification).
    pub fn x509_provider(&self) -> bool {
        self.auth_providers
            .iter()
            .any(|(_, c)| c == X509_PROVIDER_CLASS)
            || self.client_tls()
    }

    /// Whether the client port(s) speak TLS at all (secure port, or unification).
    pub fn client_tls(&self) -> bool {
        self.secure_client_port != 0 || self.client_port_unification
    }

    /// Whether `authProvider.N` registers SASLAuthenticationProvider (the `sasl` scheme).
    pub fn sasl_provider(&self) -> bool {
        self.auth_providers
            .iter()
            .any(|(_, class)| class == crate::sasl::SASL_PROVIDER_CLASS)
    }
}

/// The AdminServer's keys (`admin.enableServer`, ...; Java reads them as the system
/// properties `zookeeper.admin.*`, which `zoo.cfg` lines also set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.enableServer`: anything but `false` enables it, as in Java.
    pub enabled: bool,
    /// `admin.serverAddress`, as written (a host name or an IP).
    pub address: String,
    /// `admin.serverPort`.
    pub port: u16,
    /// `admin.commandURL`: the commands are served under it.
    pub command_url: String,
    /// `admin.idleTimeout`: an HTTP connection idle this long is closed.
    pub idle_timeout_ms: u32,
    /// `admin.snapshot.enabled` / `admin.restore.enabled` (3.9): when false, an authorized
    /// `snapshot` / `restore` answers 503.
    pub snapshot_enabled: bool,
    pub restore_enabled: bool,
}

/// A configuration being read: the table's setters write here, `validate::finish` makes
/// the [`Config`]. Besides the config, the values that mean something only together with
/// other keys.
pub struct Draft {
    config: Config,
    warnings: Vec<String>,
    /// The line of the entry being read, for warnings (`None`: a system property or a
    /// default).
    line: Option<usize>,
    /// As written; `-1` means "from tickTime".
    min_session_timeout_ms: i64,
    max_session_timeout_ms: i64,
    /// Resolved once the file is read (it needs `clientPort`).
    client_port_address: Option<String>,
    secure_client_port: u16,
    secure_client_port_address: Option<String>,
    enforce_auth: EnforceAuth,
    /// The system property `zookeeper.fsync.warningthresholdms` was given: Java then does
    /// not read the bare `fsync.warningthresholdms`.
    fsync_threshold_prefixed: bool,
    /// Keys Java reads only as a system property (`readonlymode.enabled`) that were given
    /// as one: Java never looks at their `zoo.cfg` line, so the property wins.
    set_by_only_property: Vec<&'static str>,
    servers: Vec<ServerLine>,
}

/// Quorum SASL (Java's `QuorumAuth` keys): `quorum.auth.enableSasl`, `serverRequireSasl`,
/// `learnerRequireSasl`, and the JAAS sections the server and the learner log in with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumSasl {
    pub enabled: bool,
    pub server_requires: bool,
    pub learner_requires: bool,
    /// `quorum.auth.server.saslLoginContext` (default `QuorumServer`).
    pub server_login_context: String,
    /// `quorum.auth.learner.saslLoginContext` (default `QuorumLearner`).
    pub learner_login_context: String,
    /// `quorum.auth.kerberos.servicePrincipal` (default `zkquorum/localhost`): the quorum
    /// server's principal a Kerberos learner asks a ticket for; `_HOST` is the peer's host.
    pub service_principal: String,
}

/// `enforce.auth.enabled`, `enforce.auth.schemes`, `sessionRequireClientSASLAuth`, as given.
#[derive(Debug, Clone, Default)]
struct EnforceAuth {
    enabled: Option<String>,
    schemes: Option<String>,
    session_require_sasl: Option<String>,
}

impl Draft {
    /// Java's defaults: every key's default from the table, put through its setter.
    fn java_defaults() -> Draft {
        let mut d = Draft {
            config: Config::blank(),
            warnings: Vec::new(),
            line: None,
            min_session_timeout_ms: -1,
            max_session_timeout_ms: -1,
            client_port_address: None,
            secure_client_port: 0,
            secure_client_port_address: None,
            enforce_auth: EnforceAuth::default(),
            fsync_threshold_prefixed: false,
            set_by_only_property: Vec::new(),
            servers: Vec::new(),
        };
        for key in keys::KEYS {
            if let Some(text) = key.default {
                key.apply(&mut d, key.name, text)
                    .expect("the key table's defaults are valid values of their keys");
            }
        }
        let (min, max) = validate::session_timeouts_ms(d.config.tick_time_ms, -1, -1);
        d.config.min_session_timeout_ms = min as u32;
        d.config.max_session_timeout_ms = max as u32;
        d
    }

    /// One `ssl.*` (or, `quorum`, `ssl.quorum.*`) key: `suffix` is the name after the prefix.
    fn tls_key(&mut self, quorum: bool, suffix: &str, value: &str) -> Result<(), String> {
        let (prefix, settings) = if quorum {
            ("ssl.quorum.", &mut self.config.ssl_quorum)
        } else {
            ("ssl.", &mut self.config.ssl)
        };
        match settings.set(suffix, value)? {
            crate::tls::settings::Set::Done => {}
            crate::tls::settings::Set::NotABoolean => self.warn(format!(
                "{prefix}{suffix}={value}: not true or false; Java reads it as false"
            )),
            crate::tls::settings::Set::Unknown => self.warn(format!(
                "{prefix}{suffix} is not a TLS key Java reads (it becomes the system property \
                 zookeeper.{prefix}{suffix}, which nothing reads); ignored"
            )),
        }
        Ok(())
    }

    fn warn(&mut self, message: String) {
        match self.line {
            Some(line) => self.warnings.push(format!("line {line}: {message}")),
            None => self.warnings.push(message),
        }
    }

    /// A Java system property (`zookeeper.snapCount`, `jute.maxbuffer`, ...); properties
    /// that carry no key are not zk-rs's business.
    fn apply_system_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        // Java reads the bare fsync.warningthresholdms only without the prefixed one.
        let (key, key_name) = match name {
            "fsync.warningthresholdms" if self.fsync_threshold_prefixed => return Ok(()),
            "fsync.warningthresholdms" => (
                keys::find(name).expect("fsync.warningthresholdms is in the key table"),
                name.to_string(),
            ),
            _ => match keys::find_system_property(name) {
                Some(found) => found,
                None => return Ok(()),
            },
        };
        self.fsync_threshold_prefixed |= name == "zookeeper.fsync.warningthresholdms";
        if let keys::Property::Only(_) = key.property {
            self.set_by_only_property.push(key.name);
        }
        if let Some(why) = key.ignored {
            self.warn(format!(
                "system property {name} is accepted but ignored: {why}"
            ));
        }
        key.apply(self, &key_name, value)
    }

    /// One entry of the file.
    fn apply_file_key(
        &mut self,
        name: &str,
        value: &str,
        has_dynamic: bool,
    ) -> Result<(), ConfigError> {
        if name.starts_with("server.") || name.starts_with("group") || name.starts_with("weight") {
            if has_dynamic {
                return Err(ConfigError::Invalid {
                    key: name.to_string(),
                    message: format!(
                        "{name} must be in the separate dynamic configuration file \
                         (dynamicConfigFile is set)"
                    ),
                });
            }
            if name.starts_with("server.") {
                self.servers.push(ServerLine::parse(name, value)?);
            } else {
                servers::add_hierarchy_line(&mut self.config.hierarchy, name, value)?;
            }
            return Ok(());
        }
        let (key, key_name) = match keys::find(name) {
            Some(key) => (key, name),
            None => match name
                .strip_prefix("zookeeper.")
                .and_then(|rest| Some((keys::find(rest)?, rest)))
                .filter(|(k, _)| k.property == keys::Property::Zookeeper)
            {
                Some((key, rest)) => {
                    self.warn(format!(
                        "{name}: Java ignores the \"zookeeper.\" prefix in zoo.cfg (it would \
                         set zookeeper.{name}); zk-rs reads it as {rest}"
                    ));
                    (key, rest)
                }
                None => {
                    self.warn(format!(
                        "unknown key {name} (Java would set the system property \
                         zookeeper.{name}, which nothing reads); ignored"
                    ));
                    return Ok(());
                }
            },
        };
        if let keys::Property::Only(property) = key.property {
            if self.set_by_only_property.contains(&key.name) {
                self.warn(format!(
                    "{key_name} in zoo.cfg is ignored: -D{property} is given, and Java reads \
                     only the system property"
                ));
                return Ok(());
            }
            self.warn(format!(
                "{key_name} in zoo.cfg is ignored by Java (it only reads the system property \
                 -D{property}); zk-rs applies it"
            ));
        }
        if let Some(why) = key.ignored {
            self.warn(format!("{key_name} is accepted but ignored: {why}"));
        }
        key.apply(self, key_name, value)
    }
}

impl Config {
    /// Every field empty, zero or false: what the table's defaults are applied to.
    fn blank() -> Config {
        Config {
            tick_time_ms: 0,
            init_limit: 0,
            sync_limit: 0,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: 0,
            client_port_address: None,
            client_port_listen_backlog: None,
            max_client_cnxns: 0,
            min_session_timeout_ms: 0,
            max_session_timeout_ms: 0,
            four_letter_whitelist: FourLetterWhitelist::Only(Default::default()),
            extended_types_enabled: false,
            compat_version: CompatVersion::V3_9,
            metrics_provider: MetricsProviderConf {
                prometheus: false,
                http_host: String::new(),
                http_port: 0,
                export_jvm_info: false,
            },
            snap_count: 0,
            observer_master_port: None,
            observer_master_size_limit: 0,
            observer_reconnect_delay_ms: 0,
            observer_election_delay_ms: 0,
            autopurge_snap_retain_count: 0,
            autopurge_purge_interval_hours: 0,
            force_sync: false,
            pre_alloc_size_kb: 0,
            fsync_warning_threshold_ms: 0,
            global_outstanding_limit: 0,
            request_throttle_max_requests: 0,
            request_throttle_stall_time_ms: 0,
            request_throttle_drop_stale: false,
            jute_maxbuffer: 0,
            container_check_interval_ms: 0,
            digest_enabled: false,
            skip_acl: false,
            reconfig_enabled: false,
            audit_enabled: false,
            audit_impl_class: None,
            standalone_enabled: false,
            peer_type: PeerType::Participant,
            servers: Vec::new(),
            hierarchy: None,
            config_version: None,
            dynamic_config_file: None,
            config_file: None,
            my_id: None,
            super_digest: None,
            read_only_mode_enabled: false,
            digest_auth_enabled: false,
            enforce_auth_schemes: None,
            enforce_quota: false,
            admin: AdminConfig {
                enabled: true,
                address: "0.0.0.0".to_string(),
                port: 8080,
                command_url: "/commands".to_string(),
                idle_timeout_ms: 30_000,
                snapshot_enabled: true,
                restore_enabled: true,
            },
            ssl: Default::default(),
            secure_client_port: 0,
            secure_client_port_address: None,
            client_port_unification: false,
            client_cert_reload: false,
            server_cnxn_factory: None,
            x509_super_user: None,
            ssl_quorum: Default::default(),
            ssl_quorum_enabled: false,
            quorum_port_unification: false,
            ssl_quorum_reload_cert_files: false,
            quorum_sasl: QuorumSasl::default(),
            fips_mode: None,
            auth_providers: Vec::new(),
            sasl: Default::default(),
            let_any_sasl_user_do_x: None,
        }
    }

    /// Java's defaults, with no `dataDir` and no `clientPort` yet.
    fn java_defaults() -> Config {
        Draft::java_defaults().config
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

    /// The `key=value` lines Java's `conf` four-letter word prints for this configuration,
    /// in its order (see [`keys::conf_lines`]).
    pub fn conf_lines(&self) -> Vec<(&'static str, String)> {
        keys::conf_lines(self)
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
    // Not Java's 0.0.0.0: a server started without a file answers on this machine only.
    c.admin.address = "127.0.0.1".to_string();
    c
}

/// [`embedded_default`] as the `zoo.cfg` it amounts to, for system properties to apply to.
const EMBEDDED_TEXT: &str = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=./zk-data\n\
                             clientPort=2181\nclientPortAddress=127.0.0.1\n\
                             4lw.commands.whitelist=*\n";

/// [`embedded_default`] with Java system properties applied (`zkserver -Dname=value` without
/// a config file).
pub fn embedded_with_system_properties(
    system_properties: &[(&str, &str)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let (mut config, mut warnings) =
        parse_with_system_properties(EMBEDDED_TEXT, system_properties)?;
    if !system_properties
        .iter()
        .any(|(name, _)| *name == "zookeeper.admin.serverAddress")
    {
        config.admin.address = embedded_default().admin.address;
    }
    // Warnings with a line are about the embedded text, which the user did not write.
    warnings.retain(|w| !w.starts_with("line "));
    Ok((config, warnings))
}

/// Parses the text of a `zoo.cfg`. Returns the configuration and warnings (unknown keys,
/// keys zk-rs ignores, values Java would quietly adjust, ...). Touches no file: when the text
/// names a `dynamicConfigFile`, the ensemble checks wait for
/// [`Config::apply_dynamic_config`]; `myid` is [`Config::set_my_id`]'s business. [`load`]
/// does all of it.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    parse_with_system_properties(text, &[])
}

/// [`parse`], with Java system properties (`("zookeeper.snapCount", "1000")`,
/// `("jute.maxbuffer", "4194304")`, `("readonlymode.enabled", "true")`, ...) applied first,
/// so that the file wins where both set something. Properties that carry no key are not
/// looked at.
pub fn parse_with_system_properties(
    text: &str,
    system_properties: &[(&str, &str)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut d = Draft::java_defaults();
    for (name, value) in system_properties {
        d.apply_system_property(name, java_trim(value))?;
    }
    let entries = dedup(parse_properties(text)?, &mut d.warnings);
    let has_dynamic = entries
        .iter()
        .any(|e| java_trim(&e.key) == "dynamicConfigFile");
    for e in &entries {
        d.line = Some(e.line);
        d.apply_file_key(java_trim(&e.key), java_trim(&e.value), has_dynamic)?;
    }
    d.line = None;
    validate::finish(d)
}

/// Whether a Java system property carries a setting zk-rs reads (through the key table);
/// the others are accepted and ignored, like the many properties Java's launch passes.
pub fn reads_system_property(name: &str) -> bool {
    name == "fsync.warningthresholdms" || keys::find_system_property(name).is_some()
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
    config.config_file = Some(path.to_path_buf());
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
