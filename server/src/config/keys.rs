//! THE table of `zoo.cfg` keys: for each key its name, how Java reads its value, Java's
//! default, where it applies, the Java system property that carries it, the [`Config`] field
//! it fills (or why zk-rs ignores it), and how the `conf` four-letter word shows it.
//!
//! One row drives everything about a key: parsing (the row's [`Kind`] checks the value and
//! its setter stores it), the defaults ([`super::Config`] starts from each row's default put
//! through the same setter), the `conf` rendering ([`conf_lines`]), system properties
//! ([`find_system_property`]) and the "accepted but ignored" warnings. Java's sources for the
//! rows: `QuorumPeerConfig.parseProperties` (keys without a system property; every other key
//! becomes the system property `zookeeper.<key>`), and the classes that read those properties
//! (`ZooKeeperServer`, `FileTxnLog`, `RequestThrottler`, `ContainerManager`, ...).
//! Model: ClickHouse's `CoordinationSettings`.
//!
//! Cross-key rules (session timeouts from `tickTime`, `dataLogDir` from `dataDir`,
//! `clientPortAddress` needing `clientPort`, ...) are `validate`'s; `server.N` lines are
//! `servers`'.

use super::whitelist::FourLetterWhitelist;
use super::{CompatVersion, Config, ConfigError, Draft, PeerType, MIN_SNAP_RETAIN_COUNT};
use std::path::{Path, PathBuf};

/// Where a key means something. No key is for a standalone server only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Standalone servers and ensemble members.
    Both,
    /// Ensemble members only; a standalone server reads and checks it, then has no use for it.
    Quorum,
}

/// How Java gets at the value, besides `zoo.cfg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// None: `QuorumPeerConfig` reads the `zoo.cfg` key itself.
    None,
    /// The system property `zookeeper.<name>`, which the `zoo.cfg` key sets (Java's
    /// `System.setProperty("zookeeper." + key, value)` for keys it does not know itself).
    Zookeeper,
    /// Only this system property (`-Djute.maxbuffer`); Java ignores the `zoo.cfg` key, zk-rs
    /// honours it with a warning.
    Only(&'static str),
}

/// What a value must look like, and where it goes: each variant carries the setter for the
/// value it parses, so a setter always gets the type it expects.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `Integer.parseInt`, then within `min..=max`.
    Int {
        min: i64,
        max: i64,
        expected: &'static str,
        set: fn(&mut Draft, i64),
    },
    /// `Integer.getInteger`: `Integer.decode` (`10`, `0x1f`, `#1f`, `017`), then within
    /// `min..=max`. Java would use the default for a value that does not decode; zk-rs
    /// refuses it.
    Decode {
        min: i64,
        max: i64,
        expected: &'static str,
        set: fn(&mut Draft, i64),
    },
    /// `Long.getLong`: a value that does not decode leaves the default, with a warning.
    DecodeOrDefault { set: fn(&mut Draft, i64) },
    /// `Long.parseLong`.
    Long { set: fn(&mut Draft, i64) },
    /// A non-negative `Long.parseLong` count of KiB (at most `i64::MAX` bytes).
    Kib { set: fn(&mut Draft, u64) },
    /// `QuorumPeerConfig.parseBoolean`: `true` or `false` in any case, else an error.
    Bool { set: fn(&mut Draft, bool) },
    /// `Boolean.parseBoolean`: `true` in any case is true, anything else false (warned
    /// unless it is `false`).
    JavaBool { set: fn(&mut Draft, bool) },
    /// Compared with one exact word: `word` gives `means`, anything else `!means`, warned
    /// unless it is `other` (Java's `"no".equals(...)` for `forceSync`).
    Word {
        word: &'static str,
        means: bool,
        other: Option<&'static str>,
        set: fn(&mut Draft, bool),
    },
    /// A hexadecimal number (`Long.parseLong(value, 16)`).
    Hex { set: fn(&mut Draft, u64) },
    /// One of `words`, in any case; the setter gets the word in lower case.
    OneOf {
        words: &'static [&'static str],
        set: fn(&mut Draft, &str),
    },
    /// Any text but the empty string.
    NonEmpty {
        expected: &'static str,
        set: fn(&mut Draft, &str),
    },
    /// Any text.
    Text { set: fn(&mut Draft, &str) },
    /// A member of a family: the setter gets the name after the family's prefix and the
    /// text, and says why Java would refuse the value.
    Member {
        set: fn(&mut Draft, &str, &str) -> Result<(), String>,
    },
}

/// One key of the table.
#[derive(Clone, Copy)]
pub struct Key {
    /// The `zoo.cfg` name; with `family`, a prefix (`ssl.`) naming every key it starts.
    pub name: &'static str,
    pub family: bool,
    pub kind: Kind,
    /// Java's default as `zoo.cfg` text (put through `kind` to make the defaults); `None`
    /// when Java has none (required, or unset until another key decides).
    pub default: Option<&'static str>,
    pub applies: Applies,
    pub property: Property,
    /// The [`Config`] field the key fills, if any.
    pub field: Option<&'static str>,
    /// Why zk-rs accepts the key but does not act on it; said at startup when it is set.
    pub ignored: Option<&'static str>,
    /// The value as Java's `conf` four-letter word prints it; `None` when `conf` does not.
    pub conf: Option<fn(&Config) -> String>,
}

/// A row: a key QuorumPeerConfig reads itself, for every server, with no default; the
/// builder methods below say otherwise.
const fn key(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        family: false,
        kind,
        default: None,
        applies: Applies::Both,
        property: Property::None,
        field: None,
        ignored: None,
        conf: None,
    }
}

/// A key Java reads as the system property `zookeeper.<name>` and zk-rs ignores, whatever
/// its text.
const fn java_only(name: &'static str, why: &'static str) -> Key {
    key(name, text(|_, _| {})).zookeeper().ignored(why)
}

const fn int(min: i64, max: i64, expected: &'static str, set: fn(&mut Draft, i64)) -> Kind {
    Kind::Int {
        min,
        max,
        expected,
        set,
    }
}
const fn decode(min: i64, max: i64, expected: &'static str, set: fn(&mut Draft, i64)) -> Kind {
    Kind::Decode {
        min,
        max,
        expected,
        set,
    }
}
const fn boolean(set: fn(&mut Draft, bool)) -> Kind {
    Kind::Bool { set }
}
const fn java_bool(set: fn(&mut Draft, bool)) -> Kind {
    Kind::JavaBool { set }
}
const fn word(
    word: &'static str,
    means: bool,
    other: Option<&'static str>,
    set: fn(&mut Draft, bool),
) -> Kind {
    Kind::Word {
        word,
        means,
        other,
        set,
    }
}
const fn text(set: fn(&mut Draft, &str)) -> Kind {
    Kind::Text { set }
}
const fn non_empty(expected: &'static str, set: fn(&mut Draft, &str)) -> Kind {
    Kind::NonEmpty { expected, set }
}

impl Key {
    const fn quorum(mut self) -> Key {
        self.applies = Applies::Quorum;
        self
    }
    const fn zookeeper(mut self) -> Key {
        self.property = Property::Zookeeper;
        self
    }
    const fn only(mut self, property: &'static str) -> Key {
        self.property = Property::Only(property);
        self
    }
    const fn default(mut self, text: &'static str) -> Key {
        self.default = Some(text);
        self
    }
    const fn field(mut self, name: &'static str) -> Key {
        self.field = Some(name);
        self
    }
    const fn ignored(mut self, why: &'static str) -> Key {
        self.ignored = Some(why);
        self
    }
    const fn conf(mut self, show: fn(&Config) -> String) -> Key {
        self.conf = Some(show);
        self
    }
    const fn family(mut self) -> Key {
        self.family = true;
        self
    }

    /// The Java system property carrying this key, if any (for a family, the prefix).
    pub fn system_property(&self) -> Option<String> {
        match self.property {
            Property::None => None,
            Property::Zookeeper => Some(format!("zookeeper.{}", self.name)),
            Property::Only(name) => Some(name.to_string()),
        }
    }

    /// Checks `value` (trimmed) as Java would and hands it to the key's setter; warnings
    /// for values Java reads in its own way go to `d`. `name` is the key as written (a
    /// family member's full name).
    pub(super) fn apply(&self, d: &mut Draft, name: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = |expected: &str| ConfigError::InvalidValue {
            key: name.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        };
        match self.kind {
            Kind::Int {
                min,
                max,
                expected,
                set,
            } => {
                let v = value
                    .parse::<i32>()
                    .ok()
                    .map(i64::from)
                    .filter(|v| (min..=max).contains(v))
                    .ok_or_else(|| invalid(expected))?;
                set(d, v);
            }
            Kind::Decode {
                min,
                max,
                expected,
                set,
            } => {
                let v = super::properties::java_decode(value)
                    .filter(|v| i32::try_from(*v).is_ok() && (min..=max).contains(v))
                    .ok_or_else(|| invalid(expected))?;
                set(d, v);
            }
            Kind::DecodeOrDefault { set } => match super::properties::java_decode(value) {
                Some(v) => set(d, v),
                None => d.warn(format!(
                    "{name}={value}: not a number; Java keeps its default of {}",
                    self.default.unwrap_or("nothing")
                )),
            },
            Kind::Long { set } => set(d, value.parse::<i64>().map_err(|_| invalid("an integer"))?),
            Kind::Kib { set } => set(
                d,
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|v| *v <= i64::MAX as u64 / 1024)
                    .ok_or_else(|| invalid("a size in KiB"))?,
            ),
            Kind::Bool { set } => {
                if value.eq_ignore_ascii_case("true") {
                    set(d, true);
                } else if value.eq_ignore_ascii_case("false") {
                    set(d, false);
                } else {
                    return Err(invalid("true or false"));
                }
            }
            Kind::JavaBool { set } => {
                let on = value.eq_ignore_ascii_case("true");
                if !on && !value.eq_ignore_ascii_case("false") {
                    d.warn(format!(
                        "{name}={value}: not true or false; Java reads it as false"
                    ));
                }
                set(d, on);
            }
            Kind::Word {
                word,
                means,
                other,
                set,
            } => {
                let is_word = value == word;
                if let Some(other) = other {
                    if !is_word && value != other {
                        d.warn(format!(
                            "{name}={value}: Java only recognises \"{word}\"; treating it as \
                             {other}"
                        ));
                    }
                }
                set(d, if is_word { means } else { !means });
            }
            Kind::Hex { set } => set(
                d,
                u64::from_str_radix(value, 16).map_err(|_| invalid("a hexadecimal number"))?,
            ),
            Kind::OneOf { words, set } => {
                let lower = value.to_ascii_lowercase();
                if !words.contains(&lower.as_str()) {
                    return Err(invalid(&words.join(" or ")));
                }
                set(d, &lower);
            }
            Kind::NonEmpty { expected, set } => {
                if value.is_empty() {
                    return Err(invalid(expected));
                }
                set(d, value);
            }
            Kind::Text { set } => set(d, value),
            Kind::Member { set } => {
                let suffix = name.strip_prefix(self.name).unwrap_or(name);
                set(d, suffix, value).map_err(|why| invalid(&why))?;
            }
        }
        Ok(())
    }
}

/// The key of this `zoo.cfg` name: an exact row, else the family it belongs to.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter()
        .find(|k| !k.family && k.name == name)
        .or_else(|| KEYS.iter().find(|k| k.family && name.starts_with(k.name)))
}

/// The key a Java system property carries (`zookeeper.snapCount` → `snapCount`), with the
/// key's name as `zoo.cfg` would spell it.
pub fn find_system_property(property: &str) -> Option<(&'static Key, String)> {
    let key = match property.strip_prefix("zookeeper.") {
        Some(rest) => find(rest).filter(|k| k.property == Property::Zookeeper),
        None => None,
    }
    .or_else(|| {
        KEYS.iter()
            .find(|k| matches!(k.property, Property::Only(p) if p == property))
    })?;
    let name = match key.property {
        Property::Zookeeper => property["zookeeper.".len()..].to_string(),
        _ => key.name.to_string(),
    };
    Some((key, name))
}

/// `conf`'s configuration lines, in Java's order (`ZooKeeperServer.dumpConf`): the rows
/// with a `conf` rendering, in table order. `conf` adds the sizes and `serverId`.
pub fn conf_lines(config: &Config) -> Vec<(&'static str, String)> {
    KEYS.iter()
        .filter_map(|k| k.conf.map(|show| (k.name, show(config))))
        .collect()
}

/// Java's `new File(dir, "version-2").getAbsolutePath()`, what `conf` shows for the data
/// directories: relative paths are taken from the working directory, nothing is resolved.
pub fn version_dir(dir: &Path) -> PathBuf {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    abs.join("version-2")
}

pub(super) const NON_NEGATIVE: &str = "a non-negative integer";
pub(super) const POSITIVE: &str = "a positive integer";
pub(super) const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const PORT: &str = "a port number (1-65535)";
const ANY_INT: &str = "an integer";
const SESSION_TIMEOUT: &str = "-1 or a non-negative number of ms";
const ELECTION_ALG: &str = "3 (the only election algorithm Java 3.8 supports)";

const TLS: &str = "Netty's handshake throttling; the TLS listener of zk-rs has none";
const QUORUM_CNXN_THREADS: &str =
    "quorum connections are set up on the async runtime, not on a thread pool";
const SASL: &str =
    "not read by zk-rs: Kerberos (GSSAPI) follows krb5.conf and the DEFAULT name rule only";
const NO_JVM: &str = "there is no JVM";
const ADMIN_TLS: &str = "the AdminServer speaks plain HTTP only (TLS is not supported)";
const NO_ADMIN_SNAPSHOT: &str =
    "the AdminServer's snapshot and restore commands are not implemented";
const NOT_IMPLEMENTED: &str = "not implemented by zk-rs";
const NO_LOCAL_SESSIONS: &str = "local sessions are not implemented; every session is global";
const NO_METRICS_WORKERS: &str = "zk-rs records metrics on the request pipeline itself \
     (counters and a sample reservoir, no queue), so it has no metrics worker threads";
const NO_MULTI_ADDRESS: &str = "multiple addresses per server are not supported";
const JAVA_TUNING: &str = "a tuning knob of Java's implementation that zk-rs does not have";

fn set_data_dir(d: &mut Draft, value: &str, log: bool) {
    let path = PathBuf::from(value);
    if path.is_relative() {
        let key = if log { "dataLogDir" } else { "dataDir" };
        d.warn(format!(
            "{key} {value} is relative to the working directory"
        ));
    }
    if log {
        d.config.data_log_dir = path;
    } else {
        d.config.data_dir = path;
    }
}

/// Every key zk-rs knows. Rows with a `conf` rendering come first, in the order Java's `conf`
/// prints them. A setter `|_, _| {}` marks a key that is only checked.
pub static KEYS: &[Key] = &[
    // --- the keys `conf` shows, in its order --------------------------------------------
    key(
        "clientPort",
        int(0, 65535, PORT, |d, v| d.config.client_port = v as u16),
    )
    .field("client_port")
    .conf(|c| c.client_port.to_string()),
    key(
        "secureClientPort",
        int(0, 65535, PORT, |d, v| d.secure_client_port = v as u16),
    )
    .field("secure_client_port")
    .conf(|c| match c.secure_client_port {
        0 => "-1".to_string(),
        p => p.to_string(),
    }),
    key(
        "dataDir",
        non_empty("a directory", |d, v| set_data_dir(d, v, false)),
    )
    .field("data_dir")
    .conf(|c| version_dir(&c.data_dir).display().to_string()),
    key(
        "dataLogDir",
        non_empty("a directory", |d, v| set_data_dir(d, v, true)),
    )
    .field("data_log_dir")
    .conf(|c| version_dir(&c.data_log_dir).display().to_string()),
    key(
        "tickTime",
        int(1, INT_MAX, POSITIVE, |d, v| {
            d.config.tick_time_ms = v as u32
        }),
    )
    .default("3000")
    .field("tick_time_ms")
    .conf(|c| c.tick_time_ms.to_string()),
    key(
        "maxClientCnxns",
        int(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.max_client_cnxns = v as u32
        }),
    )
    .default("60")
    .field("max_client_cnxns")
    .conf(|c| c.max_client_cnxns.to_string()),
    key(
        "minSessionTimeout",
        int(-1, INT_MAX, SESSION_TIMEOUT, |d, v| {
            d.min_session_timeout_ms = v
        }),
    )
    .default("-1")
    .field("min_session_timeout_ms")
    .conf(|c| c.min_session_timeout_ms.to_string()),
    key(
        "maxSessionTimeout",
        int(-1, INT_MAX, SESSION_TIMEOUT, |d, v| {
            d.max_session_timeout_ms = v
        }),
    )
    .default("-1")
    .field("max_session_timeout_ms")
    .conf(|c| c.max_session_timeout_ms.to_string()),
    key(
        "clientPortListenBacklog",
        int(INT_MIN, INT_MAX, ANY_INT, |d, v| {
            d.config.client_port_listen_backlog = (v > 0).then_some(v as u32)
        }),
    )
    .default("-1")
    .field("client_port_listen_backlog")
    .ignored("the client port listens with the default backlog (conf shows the value)")
    .conf(|c| {
        c.client_port_listen_backlog
            .map_or(-1, i64::from)
            .to_string()
    }),
    // --- the rest of QuorumPeerConfig's own keys ----------------------------------------
    key(
        "clientPortAddress",
        text(|d, v| d.client_port_address = Some(v.to_string())),
    )
    .field("client_port_address"),
    key(
        "secureClientPortAddress",
        text(|d, v| d.secure_client_port_address = Some(v.to_string())),
    )
    .field("secure_client_port_address"),
    key("localSessionsEnabled", boolean(|_, _| {}))
        .default("false")
        .ignored(NO_LOCAL_SESSIONS),
    key("localSessionsUpgradingEnabled", boolean(|_, _| {}))
        .default("false")
        .ignored(NO_LOCAL_SESSIONS),
    key(
        "observerMasterPort",
        int(INT_MIN, 65535, PORT, |d, v| {
            d.config.observer_master_port = u16::try_from(v).ok().filter(|p| *p > 0)
        }),
    )
    .quorum()
    .field("observer_master_port"),
    key(
        "initLimit",
        int(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.init_limit = v as u32
        }),
    )
    .quorum()
    .default("0")
    .field("init_limit"),
    key(
        "syncLimit",
        int(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.sync_limit = v as u32
        }),
    )
    .quorum()
    .default("0")
    .field("sync_limit"),
    key(
        "connectToLearnerMasterLimit",
        int(0, INT_MAX, NON_NEGATIVE, |_, _| {}),
    )
    .quorum()
    .default("0")
    .ignored("learners connect to the leader within initLimit"),
    // Only the one value zk-rs implements is accepted: nothing to store.
    key("electionAlg", int(3, 3, ELECTION_ALG, |_, _| {}))
        .quorum()
        .default("3"),
    key("quorumListenOnAllIPs", boolean(|_, _| {}))
        .quorum()
        .default("false")
        .ignored(NOT_IMPLEMENTED),
    key(
        "peerType",
        Kind::OneOf {
            words: &["observer", "participant"],
            set: |d, v| {
                d.config.peer_type = match v {
                    "observer" => PeerType::Observer,
                    _ => PeerType::Participant,
                }
            },
        },
    )
    .quorum()
    .default("participant")
    .field("peer_type"),
    key("syncEnabled", boolean(|_, _| {}))
        .quorum()
        .default("true")
        .ignored(NOT_IMPLEMENTED),
    key(
        "dynamicConfigFile",
        non_empty("a file name", |d, v| {
            d.config.dynamic_config_file = Some(PathBuf::from(v))
        }),
    )
    .quorum()
    .field("dynamic_config_file"),
    key(
        "autopurge.snapRetainCount",
        int(INT_MIN, INT_MAX, ANY_INT, |d, n| {
            let min = i64::from(MIN_SNAP_RETAIN_COUNT);
            if n < min {
                d.warn(format!(
                    "autopurge.snapRetainCount {n} is below {min}; using {min}"
                ));
            }
            d.config.autopurge_snap_retain_count = n.max(min) as u32;
        }),
    )
    .default("3")
    .field("autopurge_snap_retain_count"),
    key(
        "autopurge.purgeInterval",
        int(INT_MIN, INT_MAX, ANY_INT, |d, n| {
            d.config.autopurge_purge_interval_hours = n.max(0) as u32
        }),
    )
    .default("0")
    .field("autopurge_purge_interval_hours"),
    key(
        "standaloneEnabled",
        boolean(|d, v| d.config.standalone_enabled = v),
    )
    .default("true")
    .field("standalone_enabled"),
    key(
        "reconfigEnabled",
        boolean(|d, v| d.config.reconfig_enabled = v),
    )
    .default("false")
    .field("reconfig_enabled"),
    key("sslQuorum", boolean(|d, v| d.config.ssl_quorum_enabled = v))
        .quorum()
        .default("false")
        .field("ssl_quorum_enabled"),
    key(
        "portUnification",
        boolean(|d, v| d.config.quorum_port_unification = v),
    )
    .default("false")
    .field("quorum_port_unification"),
    // 3.9's X509Util: in FIPS mode (the default) the JDK's own trust manager checks
    // certificates, without ZooKeeper's hostname verification; 3.8 has no such key.
    key("fips-mode", java_bool(|d, v| d.config.fips_mode = Some(v)))
        .zookeeper()
        .field("fips_mode"),
    key(
        "sslQuorumReloadCertFiles",
        boolean(|d, v| d.config.ssl_quorum_reload_cert_files = v),
    )
    .quorum()
    .default("false")
    .field("ssl_quorum_reload_cert_files"),
    key(
        "quorum.auth.enableSasl",
        boolean(|d, v| d.config.quorum_sasl.enabled = v),
    )
    .quorum()
    .default("false")
    .field("quorum_sasl"),
    key(
        "quorum.auth.serverRequireSasl",
        boolean(|d, v| d.config.quorum_sasl.server_requires = v),
    )
    .quorum()
    .default("false")
    .field("quorum_sasl"),
    key(
        "quorum.auth.learnerRequireSasl",
        boolean(|d, v| d.config.quorum_sasl.learner_requires = v),
    )
    .quorum()
    .default("false")
    .field("quorum_sasl"),
    key(
        "quorum.auth.learner.saslLoginContext",
        text(|d, v| d.config.quorum_sasl.learner_login_context = v.to_string()),
    )
    .quorum()
    .default("QuorumLearner")
    .field("quorum_sasl"),
    key(
        "quorum.auth.server.saslLoginContext",
        text(|d, v| d.config.quorum_sasl.server_login_context = v.to_string()),
    )
    .quorum()
    .default("QuorumServer")
    .field("quorum_sasl"),
    key(
        "quorum.auth.kerberos.servicePrincipal",
        text(|d, v| d.config.quorum_sasl.service_principal = v.to_string()),
    )
    .quorum()
    .default("zkquorum/localhost")
    .field("quorum_sasl"),
    key(
        "quorum.cnxn.threads.size",
        int(INT_MIN, INT_MAX, ANY_INT, |_, _| {}),
    )
    .quorum()
    .ignored(QUORUM_CNXN_THREADS),
    key("jvm.pause.info-threshold.ms", Kind::Long { set: |_, _| {} }).ignored(NO_JVM),
    key("jvm.pause.warn-threshold.ms", Kind::Long { set: |_, _| {} }).ignored(NO_JVM),
    key("jvm.pause.sleep.time.ms", Kind::Long { set: |_, _| {} }).ignored(NO_JVM),
    key("jvm.pause.monitor", boolean(|_, _| {}))
        .default("false")
        .ignored(NO_JVM),
    // Java checks the class is on its class path (`Class.forName`, else "metrics provider
    // class was not found" and no start); zk-rs has these three.
    key(
        "metricsProvider.className",
        Kind::OneOf {
            words: &[
                "org.apache.zookeeper.metrics.impl.defaultmetricsprovider",
                "org.apache.zookeeper.metrics.impl.nullmetricsprovider",
                "org.apache.zookeeper.metrics.prometheus.prometheusmetricsprovider",
            ],
            set: |d, v| {
                d.config.metrics_provider.prometheus = v.ends_with(".prometheusmetricsprovider")
            },
        },
    )
    .default("org.apache.zookeeper.metrics.impl.DefaultMetricsProvider")
    .field("metrics_provider"),
    key(
        "metricsProvider.httpHost",
        text(|d, v| d.config.metrics_provider.http_host = v.to_string()),
    )
    .default("0.0.0.0")
    .field("metrics_provider"),
    key(
        "metricsProvider.httpPort",
        int(0, 65535, "a port number", |d, v| {
            d.config.metrics_provider.http_port = v as u16
        }),
    )
    .default("7000")
    .field("metrics_provider"),
    key(
        "metricsProvider.exportJvmInfo",
        java_bool(|d, v| d.config.metrics_provider.export_jvm_info = v),
    )
    .default("true")
    .field("metrics_provider"),
    key(
        "metricsProvider.numWorkerThreads",
        int(INT_MIN, INT_MAX, ANY_INT, |_, _| {}),
    )
    .default("1")
    .ignored(NO_METRICS_WORKERS),
    key(
        "metricsProvider.maxQueueSize",
        int(INT_MIN, INT_MAX, ANY_INT, |_, _| {}),
    )
    .default("1000000")
    .ignored(NO_METRICS_WORKERS),
    key(
        "metricsProvider.workerShutdownTimeoutMs",
        Kind::Long { set: |_, _| {} },
    )
    .default("1000")
    .ignored(NO_METRICS_WORKERS),
    key("metricsProvider.", text(|_, _| {}))
        .family()
        .ignored("Java's PrometheusMetricsProvider reads no such key"),
    key("multiAddress.enabled", boolean(|_, _| {}))
        .quorum()
        .default("false")
        .ignored(NO_MULTI_ADDRESS),
    key(
        "multiAddress.reachabilityCheckTimeoutMs",
        int(INT_MIN, INT_MAX, ANY_INT, |_, _| {}),
    )
    .quorum()
    .ignored(NO_MULTI_ADDRESS),
    key("multiAddress.reachabilityCheckEnabled", boolean(|_, _| {}))
        .quorum()
        .ignored(NO_MULTI_ADDRESS),
    key("oraclePath", text(|_, _| {}))
        .quorum()
        .ignored("the quorum oracle is not supported"),
    key(
        "version",
        Kind::Hex {
            set: |d, v| d.config.config_version = Some(v),
        },
    )
    .quorum()
    .field("config_version"),
    // --- system properties Java reads only as -D ---------------------------------------
    key(
        "jute.maxbuffer",
        decode(1, INT_MAX, POSITIVE, |d, v| {
            d.config.jute_maxbuffer = v as usize
        }),
    )
    .only("jute.maxbuffer")
    .default("0xfffff")
    .field("jute_maxbuffer"),
    // Java compares with "true" exactly.
    key(
        "readonlymode.enabled",
        word("true", true, None, |d, v| {
            d.config.read_only_mode_enabled = v
        }),
    )
    .quorum()
    .only("readonlymode.enabled")
    .default("false")
    .field("read_only_mode_enabled"),
    key(
        "znode.container.checkIntervalMs",
        decode(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.container_check_interval_ms = v as u64
        }),
    )
    .only("znode.container.checkIntervalMs")
    .default("60000")
    .field("container_check_interval_ms"),
    key(
        "znode.container.maxPerMinute",
        decode(INT_MIN, INT_MAX, ANY_INT, |_, _| {}),
    )
    .only("znode.container.maxPerMinute")
    .default("10000")
    .ignored(NOT_IMPLEMENTED),
    key(
        "znode.container.maxNeverUsedIntervalMs",
        Kind::DecodeOrDefault { set: |_, _| {} },
    )
    .only("znode.container.maxNeverUsedIntervalMs")
    .default("0")
    .ignored(NOT_IMPLEMENTED),
    // --- zookeeper.* system properties zk-rs acts on -----------------------------------
    key(
        "4lw.commands.whitelist",
        text(|d, v| {
            let (list, warnings) = FourLetterWhitelist::parse(v);
            d.config.four_letter_whitelist = list;
            for w in warnings {
                d.warn(w);
            }
        }),
    )
    .zookeeper()
    .default("srvr")
    .field("four_letter_whitelist"),
    key(
        "extendedTypesEnabled",
        java_bool(|d, v| d.config.extended_types_enabled = v),
    )
    .zookeeper()
    .default("false")
    .field("extended_types_enabled"),
    key(
        "digest.enabled",
        java_bool(|d, v| d.config.digest_enabled = v),
    )
    .zookeeper()
    .default("true")
    .field("digest_enabled"),
    // Also read as the bare system property fsync.warningthresholdms (see `Draft`).
    key(
        "fsync.warningthresholdms",
        Kind::DecodeOrDefault {
            set: |d, v| d.config.fsync_warning_threshold_ms = v,
        },
    )
    .zookeeper()
    .default("1000")
    .field("fsync_warning_threshold_ms"),
    key(
        "snapCount",
        decode(INT_MIN, INT_MAX, ANY_INT, |d, n| {
            if n < 2 {
                d.warn(format!("snapCount {n} is below 2; using 2"));
            }
            d.config.snap_count = n.max(2) as u64;
        }),
    )
    .zookeeper()
    .default("100000")
    .field("snap_count"),
    key(
        "globalOutstandingLimit",
        decode(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.global_outstanding_limit = v as u32
        }),
    )
    .zookeeper()
    .default("1000")
    .field("global_outstanding_limit"),
    key(
        "request_throttle_max_requests",
        decode(INT_MIN, INT_MAX, ANY_INT, |d, v| {
            d.config.request_throttle_max_requests = v as i32
        }),
    )
    .zookeeper()
    .default("0")
    .field("request_throttle_max_requests"),
    key(
        "request_throttle_stall_time",
        decode(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.request_throttle_stall_time_ms = v as u32
        }),
    )
    .zookeeper()
    .default("100")
    .field("request_throttle_stall_time_ms"),
    key(
        "request_throttle_drop_stale",
        java_bool(|d, v| d.config.request_throttle_drop_stale = v),
    )
    .zookeeper()
    .default("true")
    .field("request_throttle_drop_stale"),
    key(
        "preAllocSize",
        Kind::Kib {
            set: |d, v| d.config.pre_alloc_size_kb = v,
        },
    )
    .zookeeper()
    .default("65536")
    .field("pre_alloc_size_kb"),
    key(
        "forceSync",
        word("no", false, Some("yes"), |d, v| d.config.force_sync = v),
    )
    .zookeeper()
    .default("yes")
    .field("force_sync"),
    key(
        "skipACL",
        word("yes", true, Some("no"), |d, v| d.config.skip_acl = v),
    )
    .zookeeper()
    .default("no")
    .field("skip_acl"),
    key(
        "DigestAuthenticationProvider.superDigest",
        text(|d, v| d.config.super_digest = Some(v.to_string())),
    )
    .zookeeper()
    .field("super_digest"),
    key(
        "DigestAuthenticationProvider.enabled",
        java_bool(|d, v| d.config.digest_auth_enabled = v),
    )
    .zookeeper()
    .default("true")
    .field("digest_auth_enabled"),
    key("enforceQuota", java_bool(|d, v| d.config.enforce_quota = v))
        .zookeeper()
        .default("false")
        .field("enforce_quota"),
    key(
        "enforce.auth.enabled",
        text(|d, v| d.enforce_auth.enabled = Some(v.to_string())),
    )
    .zookeeper()
    .default("false")
    .field("enforce_auth_schemes"),
    key(
        "enforce.auth.schemes",
        text(|d, v| d.enforce_auth.schemes = Some(v.to_string())),
    )
    .zookeeper()
    .field("enforce_auth_schemes"),
    key(
        "sessionRequireClientSASLAuth",
        text(|d, v| d.enforce_auth.session_require_sasl = Some(v.to_string())),
    )
    .zookeeper()
    .default("false")
    .field("enforce_auth_schemes"),
    // --- zk-rs's own keys -------------------------------------------------------------
    // Which Java generation to behave as (see `CompatVersion`); Java has no such key.
    key(
        "compat.version",
        Kind::OneOf {
            words: &["3.8", "3.9"],
            set: |d, v| {
                d.config.compat_version = match v {
                    "3.8" => CompatVersion::V3_8,
                    _ => CompatVersion::V3_9,
                }
            },
        },
    )
    .default("3.9")
    .field("compat_version"),
    // --- zookeeper.* system properties zk-rs checks, then ignores ----------------------
    key("maxCnxns", decode(INT_MIN, INT_MAX, ANY_INT, |_, _| {}))
        .zookeeper()
        .default("0")
        .ignored("zk-rs limits connections per client address only (maxClientCnxns)"),
    // --- the AdminServer (zookeeper.admin.* system properties) ----------------------
    key(
        "admin.enableServer",
        word("false", false, Some("true"), |d, v| {
            d.config.admin.enabled = v
        }),
    )
    .zookeeper()
    .default("true")
    .field("admin"),
    key(
        "admin.serverAddress",
        text(|d, v| d.config.admin.address = v.to_string()),
    )
    .zookeeper()
    .default("0.0.0.0")
    .field("admin"),
    key(
        "admin.serverPort",
        decode(0, 65535, "a port number", |d, v| {
            d.config.admin.port = v as u16
        }),
    )
    .zookeeper()
    .default("8080")
    .field("admin"),
    key(
        "admin.commandURL",
        text(|d, v| d.config.admin.command_url = v.to_string()),
    )
    .zookeeper()
    .default("/commands")
    .field("admin"),
    key(
        "admin.idleTimeout",
        decode(0, INT_MAX, NON_NEGATIVE, |d, v| {
            d.config.admin.idle_timeout_ms = v as u32
        }),
    )
    .zookeeper()
    .default("30000")
    .field("admin"),
    key(
        "admin.snapshot.enabled",
        java_bool(|d, v| d.config.admin.snapshot_enabled = v),
    )
    .zookeeper()
    .default("true")
    .field("admin"),
    key(
        "admin.restore.enabled",
        java_bool(|d, v| d.config.admin.restore_enabled = v),
    )
    .zookeeper()
    .default("true")
    .field("admin"),
    java_only("admin.portUnification", ADMIN_TLS),
    java_only("admin.forceHttps", ADMIN_TLS),
    java_only("admin.needClientAuth", ADMIN_TLS),
    java_only("admin.httpVersion", ADMIN_TLS),
    java_only("admin.", NO_ADMIN_SNAPSHOT).family(),
    // Before `ssl.`: the first family whose prefix matches a name is its family.
    key(
        "ssl.quorum.",
        Kind::Member {
            set: |d, k, v| d.tls_key(true, k, v),
        },
    )
    .zookeeper()
    .family()
    .field("ssl_quorum"),
    key(
        "ssl.",
        Kind::Member {
            set: |d, k, v| d.tls_key(false, k, v),
        },
    )
    .zookeeper()
    .family()
    .field("ssl"),
    key(
        "client.portUnification",
        java_bool(|d, v| d.config.client_port_unification = v),
    )
    .zookeeper()
    .default("false")
    .field("client_port_unification"),
    key(
        "client.certReload",
        java_bool(|d, v| d.config.client_cert_reload = v),
    )
    .zookeeper()
    .default("false")
    .field("client_cert_reload"),
    key(
        "serverCnxnFactory",
        text(|d, v| d.config.server_cnxn_factory = Some(v.to_string())),
    )
    .zookeeper()
    .field("server_cnxn_factory"),
    key(
        "X509AuthenticationProvider.superUser",
        text(|d, v| d.config.x509_super_user = Some(v.to_string())),
    )
    .zookeeper()
    .field("x509_super_user"),
    // `authProvider.N=<class>` registers an authentication provider (Java's ProviderRegistry);
    // zk-rs knows SASLAuthenticationProvider (the `sasl` scheme).
    key(
        "authProvider.",
        Kind::Member {
            set: |d, n, v| {
                if v != crate::sasl::SASL_PROVIDER_CLASS && v != super::X509_PROVIDER_CLASS {
                    d.warn(format!(
                        "authProvider.{n} is accepted but ignored: zk-rs has no authentication \
                         provider {v} (only {})",
                        crate::sasl::SASL_PROVIDER_CLASS
                    ));
                }
                d.config.auth_providers.retain(|(k, _)| k != n);
                d.config.auth_providers.push((n.to_string(), v.to_string()));
                Ok(())
            },
        },
    )
    .zookeeper()
    .family()
    .field("auth_providers"),
    // --- SASL on the client port (see `crate::sasl`) ---
    key(
        "java.security.auth.login.config",
        text(|d, v| d.config.sasl.login_config = Some(PathBuf::from(v))),
    )
    .only("java.security.auth.login.config")
    .field("sasl"),
    key(
        "sasl.serverconfig",
        text(|d, v| d.config.sasl.server_section = Some(v.to_string())),
    )
    .zookeeper()
    .field("sasl"),
    key(
        "allowSaslFailedClients",
        java_bool(|d, v| d.config.sasl.allow_failed_clients = v),
    )
    .zookeeper()
    .default("false")
    .field("sasl"),
    key(
        "kerberos.removeHostFromPrincipal",
        word("true", true, Some("false"), |d, v| {
            d.config.sasl.remove_host = v
        }),
    )
    .zookeeper()
    .field("sasl"),
    key(
        "kerberos.removeRealmFromPrincipal",
        word("true", true, Some("false"), |d, v| {
            d.config.sasl.remove_realm = v
        }),
    )
    .zookeeper()
    .field("sasl"),
    key(
        "SASLAuthenticationProvider.superPassword",
        text(|d, v| d.config.sasl.super_password = Some(v.to_string())),
    )
    .zookeeper()
    .field("sasl"),
    key(
        "superUser",
        text(|d, v| d.config.sasl.super_users.push(v.to_string())),
    )
    .zookeeper()
    .field("sasl"),
    key(
        "superUser.",
        Kind::Member {
            set: |d, _, v| {
                d.config.sasl.super_users.push(v.to_string());
                Ok(())
            },
        },
    )
    .zookeeper()
    .family()
    .field("sasl"),
    key(
        "letAnySaslUserDoX",
        text(|d, v| d.config.let_any_sasl_user_do_x = Some(v.to_string())),
    )
    .zookeeper()
    .field("let_any_sasl_user_do_x"),
    java_only("pathStats.", NOT_IMPLEMENTED).family(),
    java_only("connection_throttle_", NOT_IMPLEMENTED).family(),
    java_only("kerberos.", SASL).family(),
    java_only("sasl.", SASL).family(),
    java_only(
        "DigestAuthenticationProvider.digestAlg",
        "digests are SHA1, Java's default",
    ),
    key("audit.enable", java_bool(|d, v| d.config.audit_enabled = v))
        .zookeeper()
        .default("false")
        .field("audit_enabled"),
    key(
        "audit.impl.class",
        text(|d, v| d.config.audit_impl_class = Some(v.to_string())),
    )
    .zookeeper()
    .field("audit_impl_class"),
    java_only("bitHashCacheSize", JAVA_TUNING),
    java_only("closeSessionTxn.enabled", NOT_IMPLEMENTED),
    java_only("cnxTimeout", NOT_IMPLEMENTED).quorum(),
    java_only("commitLogCount", JAVA_TUNING).quorum(),
    java_only("commitProcessor.maxCommitBatchSize", JAVA_TUNING),
    java_only("commitProcessor.maxReadBatchSize", JAVA_TUNING),
    java_only("commitProcessor.numWorkerThreads", JAVA_TUNING),
    java_only("commitProcessor.shutdownTimeout", JAVA_TUNING),
    java_only("datadir.autocreate", NOT_IMPLEMENTED),
    java_only("db.autocreate", NOT_IMPLEMENTED),
    java_only("electionPortBindRetry", NOT_IMPLEMENTED).quorum(),
    java_only("emulate353TTLNodes", NOT_IMPLEMENTED),
    java_only("enableEagerACLCheck", NOT_IMPLEMENTED),
    java_only("ensembleAuthName", NOT_IMPLEMENTED).quorum(),
    java_only("fastleader.maxNotificationInterval", NOT_IMPLEMENTED).quorum(),
    java_only("fastleader.minNotificationInterval", NOT_IMPLEMENTED).quorum(),
    java_only("flushDelay", JAVA_TUNING),
    java_only("follower.skipLearnerRequestToNextProcessor", JAVA_TUNING).quorum(),
    java_only("forceSnapshotSync", NOT_IMPLEMENTED).quorum(),
    java_only(
        "forward_learner_requests_to_commit_processor_disabled",
        JAVA_TUNING,
    )
    .quorum(),
    java_only("intBufferStartingSizeBytes", JAVA_TUNING),
    java_only("jmx.log4j.disable", NO_JVM),
    java_only("jmx.log4j.mbean", NO_JVM),
    java_only("jute.maxbuffer.extrasize", NOT_IMPLEMENTED),
    java_only("largeRequestMaxBytes", NOT_IMPLEMENTED),
    java_only("largeRequestThreshold", NOT_IMPLEMENTED),
    java_only("leader.ackLoggingFrequency", JAVA_TUNING).quorum(),
    java_only("leader.closeSocketAsync", JAVA_TUNING).quorum(),
    java_only("leader.maxConcurrentDiffSyncs", NOT_IMPLEMENTED).quorum(),
    java_only("leader.maxConcurrentSnapSyncs", NOT_IMPLEMENTED).quorum(),
    java_only("leader.maxTimeToWaitForEpoch", NOT_IMPLEMENTED).quorum(),
    java_only("leaderConnectDelayDuringRetryMs", NOT_IMPLEMENTED).quorum(),
    java_only("leaderServes", NOT_IMPLEMENTED).quorum(),
    java_only("learner.asyncSending", JAVA_TUNING).quorum(),
    java_only("learner.closeSocketAsync", JAVA_TUNING).quorum(),
    java_only("maxBatchSize", JAVA_TUNING),
    java_only("maxGetChildrenResponseCacheSize", JAVA_TUNING),
    java_only("maxInProcessingDeadWatchers", JAVA_TUNING),
    java_only("maxResponseCacheSize", JAVA_TUNING),
    java_only("maxWriteQueuePollTime", JAVA_TUNING),
    java_only("messageTracker.BufferSize", NOT_IMPLEMENTED).quorum(),
    java_only("messageTracker.Enabled", NOT_IMPLEMENTED).quorum(),
    java_only("netty.advancedFlowControl.enabled", JAVA_TUNING),
    java_only("netty.server.earlyDropSecureConnectionHandshakes", TLS),
    java_only("netty.server.outstandingHandshake.limit", TLS),
    java_only("nio.directBufferBytes", JAVA_TUNING),
    java_only("nio.numSelectorThreads", JAVA_TUNING),
    java_only("nio.numWorkerThreads", JAVA_TUNING),
    java_only("nio.sessionlessCnxnTimeout", JAVA_TUNING),
    java_only("nio.shutdownTimeout", JAVA_TUNING),
    key(
        "observer.election.DelayMs",
        Kind::DecodeOrDefault {
            set: |d, v| d.config.observer_election_delay_ms = v,
        },
    )
    .zookeeper()
    .quorum()
    .default("200")
    .field("observer_election_delay_ms"),
    key(
        "observer.reconnectDelayMs",
        Kind::DecodeOrDefault {
            set: |d, v| d.config.observer_reconnect_delay_ms = v,
        },
    )
    .zookeeper()
    .quorum()
    .default("0")
    .field("observer_reconnect_delay_ms"),
    java_only("observer.syncEnabled", NOT_IMPLEMENTED).quorum(),
    key(
        "observerMaster.sizeLimit",
        Kind::DecodeOrDefault {
            set: |d, v| d.config.observer_master_size_limit = v,
        },
    )
    .zookeeper()
    .quorum()
    .default("33554432")
    .field("observer_master_size_limit"),
    java_only("quorumCnxnTimeoutMs", NOT_IMPLEMENTED).quorum(),
    java_only("request_stale_connection_check", NOT_IMPLEMENTED),
    java_only("request_stale_latency_check", NOT_IMPLEMENTED),
    java_only("request_throttler.shutdownTimeout", JAVA_TUNING),
    java_only("requireKerberosConfig", SASL),
    java_only("security.auth_to_local", SASL),
    java_only("snapSizeLimitInKb", NOT_IMPLEMENTED).quorum(),
    java_only(
        "snapshot.compression.method",
        "snapshots are never compressed",
    ),
    java_only("snapshot.trust.empty", NOT_IMPLEMENTED),
    java_only("snapshotSizeFactor", NOT_IMPLEMENTED).quorum(),
    java_only("tcpKeepAlive", NOT_IMPLEMENTED),
    java_only("throttled_op_wait_time", NOT_IMPLEMENTED),
    java_only("txnLogSizeLimitInKb", NOT_IMPLEMENTED),
    java_only("watchManagerName", JAVA_TUNING),
    java_only("watcherCleanIntervalInSeconds", JAVA_TUNING),
    java_only("watcherCleanThreadsNum", JAVA_TUNING),
    java_only("watcherCleanThreshold", JAVA_TUNING),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, parse_with_system_properties, Draft};

    const MIN: &str = "dataDir=/d\nclientPort=2181\n";

    fn exact_keys() -> impl Iterator<Item = &'static Key> {
        KEYS.iter().filter(|k| !k.family)
    }

    /// A valid value for every key: its default, else one that fits its kind.
    fn sample(k: &Key) -> String {
        if let Some(d) = k.default {
            return d.to_string();
        }
        match (k.name, k.kind) {
            ("clientPortAddress" | "secureClientPortAddress", _) => "127.0.0.1".into(),
            ("dataDir" | "dataLogDir", _) => "/d".into(),
            ("authProvider.", _) => crate::sasl::SASL_PROVIDER_CLASS.into(),
            (_, Kind::Int { min, max, .. } | Kind::Decode { min, max, .. }) => {
                1.clamp(min, max).to_string()
            }
            (_, Kind::DecodeOrDefault { .. } | Kind::Long { .. } | Kind::Kib { .. }) => "1".into(),
            (_, Kind::Bool { .. } | Kind::JavaBool { .. }) => "false".into(),
            (_, Kind::Word { word, .. }) => word.into(),
            (_, Kind::Hex { .. }) => "1a".into(),
            (_, Kind::OneOf { words, .. }) => words[0].into(),
            (_, Kind::NonEmpty { .. } | Kind::Text { .. } | Kind::Member { .. }) => "x".into(),
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        let mut names: Vec<(&str, bool)> = KEYS.iter().map(|k| (k.name, k.family)).collect();
        names.sort();
        for pair in names.windows(2) {
            assert_ne!(pair[0], pair[1], "{} is in the table twice", pair[0].0);
        }
        for k in KEYS {
            let probe = if k.family {
                format!("{}anything", k.name)
            } else {
                k.name.to_string()
            };
            assert_eq!(find(&probe).map(|f| f.name), Some(k.name), "{probe}");
            if let Some(property) = k.system_property() {
                let probe = if k.family {
                    format!("{property}anything")
                } else {
                    property
                };
                let (found, name) = find_system_property(&probe).expect("found by property");
                assert_eq!(found.name, k.name, "{probe}");
                assert!(name.starts_with(k.name), "{probe} -> {name}");
            }
        }
        assert!(find("server.1").is_none());
        assert!(find_system_property("zookeeper.tickTime").is_none());
        assert!(find_system_property("zookeeper.jute.maxbuffer").is_none());
    }

    #[test]
    fn defaults_come_from_the_table_without_warnings() {
        let d = Draft::java_defaults();
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let c = d.config;
        assert_eq!(c.tick_time_ms, crate::config::DEFAULT_TICK_TIME_MS);
        assert_eq!(c.jute_maxbuffer, crate::config::DEFAULT_JUTE_MAXBUFFER);
        assert_eq!(
            c.fsync_warning_threshold_ms,
            crate::persist::txnlog::DEFAULT_FSYNC_WARNING_THRESHOLD_MS
        );
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::java_default());
        // Writing a key's default changes nothing.
        let (base, _) = parse(MIN).unwrap();
        for k in exact_keys().filter(|k| k.default.is_some()) {
            let text = format!("{MIN}{}={}\n", k.name, k.default.unwrap());
            let (c, _) = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c, base, "{}", k.name);
        }
    }

    #[test]
    fn defaults_round_trip_through_conf() {
        let (c, _) = parse(MIN).unwrap();
        let lines = c.conf_lines();
        let names: Vec<&str> = lines.iter().map(|(k, _)| *k).collect();
        // ZooKeeperServer.dumpConf's order.
        assert_eq!(
            names,
            [
                "clientPort",
                "secureClientPort",
                "dataDir",
                "dataLogDir",
                "tickTime",
                "maxClientCnxns",
                "minSessionTimeout",
                "maxSessionTimeout",
                "clientPortListenBacklog",
            ]
        );
        for (name, shown) in &lines {
            let k = find(name).unwrap();
            let want = match (*name, k.default) {
                // -1 stands for 2 and 20 ticks; conf shows the result.
                ("minSessionTimeout", _) => (2 * c.tick_time_ms).to_string(),
                ("maxSessionTimeout", _) => (20 * c.tick_time_ms).to_string(),
                (_, Some(default)) => default.to_string(),
                ("clientPort", None) => "2181".to_string(),
                ("secureClientPort", None) => "-1".to_string(),
                ("dataDir" | "dataLogDir", None) => "/d/version-2".to_string(),
                (_, None) => panic!("{name}: no default and no expectation"),
            };
            assert_eq!(shown, &want, "{name}");
        }
    }

    #[test]
    fn fields_named_by_the_table_exist_and_every_field_has_a_key() {
        let (c, _) = parse(MIN).unwrap();
        let debug = format!("{c:#?}");
        let fields: Vec<&str> = debug
            .lines()
            .filter_map(|l| l.strip_prefix("    ")?.split_once(": ").map(|(f, _)| f))
            .filter(|f| !f.starts_with(' '))
            .collect();
        for k in KEYS {
            if let Some(field) = k.field {
                assert!(fields.contains(&field), "{}: no field {field}", k.name);
            }
        }
        for f in fields {
            // Set from the server.N, group.N and weight.N lines, the myid file and the
            // path the file was read from, not from a key.
            if f == "servers" || f == "my_id" || f == "hierarchy" || f == "config_file" {
                continue;
            }
            assert!(
                KEYS.iter().any(|k| k.field == Some(f)),
                "field {f} is filled by no key"
            );
        }
    }

    #[test]
    fn a_file_with_every_key_parses_and_says_what_it_ignores() {
        let mut text = String::new();
        let mut names = Vec::new();
        for k in KEYS {
            let name = if let Kind::Member { .. } = k.kind {
                // A member the family knows: an unknown one is warned about as such.
                format!("{}protocol", k.name)
            } else if k.family {
                format!("{}x", k.name)
            } else {
                k.name.to_string()
            };
            text.push_str(&format!("{name}={}\n", sample(k)));
            names.push((name, k));
        }
        let (_, warnings) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for (line, (name, k)) in names.iter().enumerate() {
            let at = format!("line {}: {name}", line + 1);
            let mine: Vec<&String> = warnings
                .iter()
                .filter(|w| w.starts_with(&format!("{at} ")))
                .collect();
            let mut want = 0;
            if let Some(why) = k.ignored {
                want += 1;
                let line = format!("{at} is accepted but ignored: {why}");
                assert!(mine.iter().any(|w| **w == line), "{line}: {mine:?}");
            }
            if let Property::Only(property) = k.property {
                want += 1;
                let line = format!(
                    "{at} in zoo.cfg is ignored by Java (it only reads the system property \
                     -D{property}); zk-rs applies it"
                );
                assert!(mine.iter().any(|w| **w == line), "{line}: {mine:?}");
            }
            if name == "dataDir" || name == "dataLogDir" {
                continue;
            }
            assert_eq!(mine.len(), want, "{name}: {mine:?}");
        }
    }

    #[test]
    fn ignored_system_properties_say_so() {
        let (_, w) = parse_with_system_properties(
            MIN,
            &[
                ("zookeeper.maxCnxns", "10"),
                ("zookeeper.ssl.keyStore.location", "/k"),
            ],
        )
        .unwrap();
        assert_eq!(
            w,
            [
                "system property zookeeper.maxCnxns is accepted but ignored: zk-rs limits \
                 connections per client address only (maxClientCnxns)",
            ]
        );
    }

    #[test]
    fn bad_values_name_key_value_and_expectation() {
        for k in exact_keys() {
            let bad = match k.kind {
                Kind::NonEmpty { .. } => "",
                Kind::Int { .. }
                | Kind::Decode { .. }
                | Kind::Long { .. }
                | Kind::Kib { .. }
                | Kind::Bool { .. }
                | Kind::Hex { .. }
                | Kind::OneOf { .. } => "not-a-value",
                // Never refused: Java reads any text as something.
                Kind::DecodeOrDefault { .. }
                | Kind::JavaBool { .. }
                | Kind::Word { .. }
                | Kind::Text { .. }
                | Kind::Member { .. } => continue,
            };
            let text = format!("{MIN}{}={bad}\n", k.name);
            match parse(&text) {
                Err(ConfigError::InvalidValue {
                    key,
                    value,
                    expected,
                }) => {
                    assert_eq!((key.as_str(), value.as_str()), (k.name, bad));
                    assert!(!expected.is_empty(), "{}", k.name);
                }
                other => panic!("{}={bad}: {other:?}", k.name),
            }
        }
    }
}
