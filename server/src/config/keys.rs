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
use super::{Config, ConfigError, Draft, PeerType, MIN_SNAP_RETAIN_COUNT};
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

const fn key(name: &'static str, applies: Applies, property: Property, kind: Kind) -> Key {
    Key {
        name,
        family: false,
        kind,
        default: None,
        applies,
        property,
        field: None,
        ignored: None,
        conf: None,
    }
}

impl Key {
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

    /// A word for the value's type, for documentation and dumps.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Int { .. } | Kind::Decode { .. } => "int",
            Kind::DecodeOrDefault { .. } | Kind::Long { .. } => "long",
            Kind::Kib { .. } => "KiB",
            Kind::Bool { .. } | Kind::JavaBool { .. } | Kind::Word { .. } => "boolean",
            Kind::Hex { .. } => "hex",
            Kind::OneOf { .. } => "enum",
            Kind::NonEmpty { .. } | Kind::Text { .. } => "string",
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

const TLS: &str = "TLS is not supported";
const QUORUM_SASL: &str = "quorum SASL is not supported";
const SASL: &str = "SASL authentication is not supported";
const NO_JVM: &str = "there is no JVM";
const NO_ADMIN: &str = "zk-rs has no AdminServer";
const NOT_IMPLEMENTED: &str = "not implemented by zk-rs";
const JAVA_TUNING: &str = "a tuning knob of Java's implementation that zk-rs does not have";

use Applies::{Both, Quorum};
use Property::Zookeeper;

/// Text keys Java reads as `zookeeper.` system properties and zk-rs ignores.
const fn java_only(name: &'static str, applies: Applies, why: &'static str) -> Key {
    key(name, applies, Zookeeper, Kind::Text { set: |_, _| {} }).ignored(why)
}

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
/// prints them.
pub static KEYS: &[Key] = &[
    // --- the keys `conf` shows, in its order --------------------------------------------
    key(
        "clientPort",
        Both,
        Property::None,
        Kind::Int {
            min: 0,
            max: 65535,
            expected: PORT,
            set: |d, v| d.config.client_port = v as u16,
        },
    )
    .field("client_port")
    .conf(|c| c.client_port.to_string()),
    key(
        "secureClientPort",
        Both,
        Property::None,
        Kind::Int {
            min: 0,
            max: 65535,
            expected: PORT,
            set: |d, v| d.secure_client_port = v as u16,
        },
    )
    .ignored(TLS)
    .conf(|_| "-1".to_string()),
    key(
        "dataDir",
        Both,
        Property::None,
        Kind::NonEmpty {
            expected: "a directory",
            set: |d, v| set_data_dir(d, v, false),
        },
    )
    .field("data_dir")
    .conf(|c| version_dir(&c.data_dir).display().to_string()),
    key(
        "dataLogDir",
        Both,
        Property::None,
        Kind::NonEmpty {
            expected: "a directory",
            set: |d, v| set_data_dir(d, v, true),
        },
    )
    .field("data_log_dir")
    .conf(|c| version_dir(&c.data_log_dir).display().to_string()),
    key(
        "tickTime",
        Both,
        Property::None,
        Kind::Int {
            min: 1,
            max: INT_MAX,
            expected: POSITIVE,
            set: |d, v| d.config.tick_time_ms = v as u32,
        },
    )
    .default("3000")
    .field("tick_time_ms")
    .conf(|c| c.tick_time_ms.to_string()),
    key(
        "maxClientCnxns",
        Both,
        Property::None,
        Kind::Int {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.max_client_cnxns = v as u32,
        },
    )
    .default("60")
    .field("max_client_cnxns")
    .conf(|c| c.max_client_cnxns.to_string()),
    key(
        "minSessionTimeout",
        Both,
        Property::None,
        Kind::Int {
            min: -1,
            max: INT_MAX,
            expected: "-1 or a non-negative number of ms",
            set: |d, v| d.min_session_timeout_ms = v,
        },
    )
    .default("-1")
    .field("min_session_timeout_ms")
    .conf(|c| c.min_session_timeout_ms.to_string()),
    key(
        "maxSessionTimeout",
        Both,
        Property::None,
        Kind::Int {
            min: -1,
            max: INT_MAX,
            expected: "-1 or a non-negative number of ms",
            set: |d, v| d.max_session_timeout_ms = v,
        },
    )
    .default("-1")
    .field("max_session_timeout_ms")
    .conf(|c| c.max_session_timeout_ms.to_string()),
    key(
        "clientPortListenBacklog",
        Both,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |d, v| d.config.client_port_listen_backlog = (v > 0).then_some(v as u32),
        },
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
        Both,
        Property::None,
        Kind::Text {
            set: |d, v| d.client_port_address = Some(v.to_string()),
        },
    )
    .field("client_port_address"),
    key(
        "secureClientPortAddress",
        Both,
        Property::None,
        Kind::Text {
            set: |d, _| d.secure_client_port_address = true,
        },
    )
    .ignored(TLS),
    key(
        "localSessionsEnabled",
        Both,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored("local sessions are not implemented; every session is global"),
    key(
        "localSessionsUpgradingEnabled",
        Both,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored("local sessions are not implemented; every session is global"),
    key(
        "observerMasterPort",
        Quorum,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: 65535,
            expected: PORT,
            set: |_, _| {},
        },
    )
    .ignored("observers always sync with the leader"),
    key(
        "initLimit",
        Quorum,
        Property::None,
        Kind::Int {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.init_limit = v as u32,
        },
    )
    .default("0")
    .field("init_limit"),
    key(
        "syncLimit",
        Quorum,
        Property::None,
        Kind::Int {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.sync_limit = v as u32,
        },
    )
    .default("0")
    .field("sync_limit"),
    key(
        "connectToLearnerMasterLimit",
        Quorum,
        Property::None,
        Kind::Int {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |_, _| {},
        },
    )
    .default("0")
    .ignored("learners connect to the leader within initLimit"),
    // Only the value zk-rs implements is accepted, so there is nothing to store.
    key(
        "electionAlg",
        Quorum,
        Property::None,
        Kind::Int {
            min: 3,
            max: 3,
            expected: "3 (the only election algorithm Java 3.8 supports)",
            set: |_, _| {},
        },
    )
    .default("3"),
    key(
        "quorumListenOnAllIPs",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored(NOT_IMPLEMENTED),
    key(
        "peerType",
        Quorum,
        Property::None,
        Kind::OneOf {
            words: &["observer", "participant"],
            set: |d, v| {
                d.config.peer_type = if v == "observer" {
                    PeerType::Observer
                } else {
                    PeerType::Participant
                }
            },
        },
    )
    .default("participant")
    .field("peer_type"),
    key(
        "syncEnabled",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("true")
    .ignored(NOT_IMPLEMENTED),
    key(
        "dynamicConfigFile",
        Quorum,
        Property::None,
        Kind::NonEmpty {
            expected: "a file name",
            set: |d, v| d.config.dynamic_config_file = Some(PathBuf::from(v)),
        },
    )
    .field("dynamic_config_file"),
    key(
        "autopurge.snapRetainCount",
        Both,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |d, n| {
                let min = i64::from(MIN_SNAP_RETAIN_COUNT);
                if n < min {
                    d.warn(format!(
                        "autopurge.snapRetainCount {n} is below {min}; using {min}"
                    ));
                }
                d.config.autopurge_snap_retain_count = n.max(min) as u32;
            },
        },
    )
    .default("3")
    .field("autopurge_snap_retain_count"),
    key(
        "autopurge.purgeInterval",
        Both,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |d, n| d.config.autopurge_purge_interval_hours = n.max(0) as u32,
        },
    )
    .default("0")
    .field("autopurge_purge_interval_hours"),
    key(
        "standaloneEnabled",
        Both,
        Property::None,
        Kind::Bool {
            set: |d, v| d.config.standalone_enabled = v,
        },
    )
    .default("true")
    .field("standalone_enabled"),
    key(
        "reconfigEnabled",
        Both,
        Property::None,
        Kind::Bool {
            set: |d, v| d.config.reconfig_enabled = v,
        },
    )
    .default("false")
    .field("reconfig_enabled"),
    key(
        "sslQuorum",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored(TLS),
    key(
        "portUnification",
        Both,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored(TLS),
    key(
        "sslQuorumReloadCertFiles",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored(TLS),
    key(
        "quorum.auth.enableSasl",
        Quorum,
        Property::None,
        Kind::Bool {
            set: |d, v| d.quorum_sasl.enabled = v,
        },
    )
    .default("false")
    .ignored(QUORUM_SASL),
    key(
        "quorum.auth.serverRequireSasl",
        Quorum,
        Property::None,
        Kind::Bool {
            set: |d, v| d.quorum_sasl.server_requires = v,
        },
    )
    .default("false")
    .ignored(QUORUM_SASL),
    key(
        "quorum.auth.learnerRequireSasl",
        Quorum,
        Property::None,
        Kind::Bool {
            set: |d, v| d.quorum_sasl.learner_requires = v,
        },
    )
    .default("false")
    .ignored(QUORUM_SASL),
    key(
        "quorum.auth.learner.saslLoginContext",
        Quorum,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .ignored(QUORUM_SASL),
    key(
        "quorum.auth.server.saslLoginContext",
        Quorum,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .ignored(QUORUM_SASL),
    key(
        "quorum.auth.kerberos.servicePrincipal",
        Quorum,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .ignored(QUORUM_SASL),
    key(
        "quorum.cnxn.threads.size",
        Quorum,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |_, _| {},
        },
    )
    .ignored(QUORUM_SASL),
    key(
        "jvm.pause.info-threshold.ms",
        Both,
        Property::None,
        Kind::Long { set: |_, _| {} },
    )
    .ignored(NO_JVM),
    key(
        "jvm.pause.warn-threshold.ms",
        Both,
        Property::None,
        Kind::Long { set: |_, _| {} },
    )
    .ignored(NO_JVM),
    key(
        "jvm.pause.sleep.time.ms",
        Both,
        Property::None,
        Kind::Long { set: |_, _| {} },
    )
    .ignored(NO_JVM),
    key(
        "jvm.pause.monitor",
        Both,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored(NO_JVM),
    key(
        "metricsProvider.className",
        Both,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .ignored("zk-rs has no pluggable metrics provider"),
    key(
        "metricsProvider.",
        Both,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .family()
    .ignored("zk-rs has no pluggable metrics provider"),
    key(
        "multiAddress.enabled",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .default("false")
    .ignored("multiple addresses per server are not supported"),
    key(
        "multiAddress.reachabilityCheckTimeoutMs",
        Quorum,
        Property::None,
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |_, _| {},
        },
    )
    .ignored("multiple addresses per server are not supported"),
    key(
        "multiAddress.reachabilityCheckEnabled",
        Quorum,
        Property::None,
        Kind::Bool { set: |_, _| {} },
    )
    .ignored("multiple addresses per server are not supported"),
    key(
        "oraclePath",
        Quorum,
        Property::None,
        Kind::Text { set: |_, _| {} },
    )
    .ignored("the quorum oracle is not supported"),
    key(
        "version",
        Quorum,
        Property::None,
        Kind::Hex {
            set: |d, v| d.config.config_version = Some(v),
        },
    )
    .field("config_version"),
    // --- system properties Java reads only as -D ---------------------------------------
    key(
        "jute.maxbuffer",
        Both,
        Property::Only("jute.maxbuffer"),
        Kind::Decode {
            min: 1,
            max: INT_MAX,
            expected: POSITIVE,
            set: |d, v| d.config.jute_maxbuffer = v as usize,
        },
    )
    .default("0xfffff")
    .field("jute_maxbuffer"),
    // Java compares with "true" exactly.
    key(
        "readonlymode.enabled",
        Quorum,
        Property::Only("readonlymode.enabled"),
        Kind::Word {
            word: "true",
            means: true,
            other: None,
            set: |d, v| d.config.read_only_mode_enabled = v,
        },
    )
    .default("false")
    .field("read_only_mode_enabled"),
    key(
        "znode.container.checkIntervalMs",
        Both,
        Property::Only("znode.container.checkIntervalMs"),
        Kind::Decode {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.container_check_interval_ms = v as u64,
        },
    )
    .default("60000")
    .field("container_check_interval_ms"),
    key(
        "znode.container.maxPerMinute",
        Both,
        Property::Only("znode.container.maxPerMinute"),
        Kind::Decode {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |_, _| {},
        },
    )
    .default("10000")
    .ignored(NOT_IMPLEMENTED),
    key(
        "znode.container.maxNeverUsedIntervalMs",
        Both,
        Property::Only("znode.container.maxNeverUsedIntervalMs"),
        Kind::DecodeOrDefault { set: |_, _| {} },
    )
    .default("0")
    .ignored(NOT_IMPLEMENTED),
    // --- zookeeper.* system properties zk-rs acts on -----------------------------------
    key(
        "4lw.commands.whitelist",
        Both,
        Zookeeper,
        Kind::Text {
            set: |d, v| {
                let (list, warnings) = FourLetterWhitelist::parse(v);
                d.config.four_letter_whitelist = list;
                for w in warnings {
                    d.warn(w);
                }
            },
        },
    )
    .default("srvr")
    .field("four_letter_whitelist"),
    key(
        "extendedTypesEnabled",
        Both,
        Zookeeper,
        Kind::JavaBool {
            set: |d, v| d.config.extended_types_enabled = v,
        },
    )
    .default("false")
    .field("extended_types_enabled"),
    key(
        "digest.enabled",
        Both,
        Zookeeper,
        Kind::JavaBool {
            set: |d, v| d.config.digest_enabled = v,
        },
    )
    .default("true")
    .field("digest_enabled"),
    // Also read as the bare system property fsync.warningthresholdms (see `Draft`).
    key(
        "fsync.warningthresholdms",
        Both,
        Zookeeper,
        Kind::DecodeOrDefault {
            set: |d, v| d.config.fsync_warning_threshold_ms = v,
        },
    )
    .default("1000")
    .field("fsync_warning_threshold_ms"),
    key(
        "snapCount",
        Both,
        Zookeeper,
        Kind::Decode {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |d, n| {
                if n < 2 {
                    d.warn(format!("snapCount {n} is below 2; using 2"));
                }
                d.config.snap_count = n.max(2) as u64;
            },
        },
    )
    .default("100000")
    .field("snap_count"),
    key(
        "globalOutstandingLimit",
        Both,
        Zookeeper,
        Kind::Decode {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.global_outstanding_limit = v as u32,
        },
    )
    .default("1000")
    .field("global_outstanding_limit"),
    key(
        "request_throttle_max_requests",
        Both,
        Zookeeper,
        Kind::Decode {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |d, v| d.config.request_throttle_max_requests = v as i32,
        },
    )
    .default("0")
    .field("request_throttle_max_requests"),
    key(
        "request_throttle_stall_time",
        Both,
        Zookeeper,
        Kind::Decode {
            min: 0,
            max: INT_MAX,
            expected: NON_NEGATIVE,
            set: |d, v| d.config.request_throttle_stall_time_ms = v as u32,
        },
    )
    .default("100")
    .field("request_throttle_stall_time_ms"),
    key(
        "request_throttle_drop_stale",
        Both,
        Zookeeper,
        Kind::JavaBool {
            set: |d, v| d.config.request_throttle_drop_stale = v,
        },
    )
    .default("true")
    .field("request_throttle_drop_stale"),
    key(
        "maxCnxns",
        Both,
        Zookeeper,
        Kind::Decode {
            min: INT_MIN,
            max: INT_MAX,
            expected: ANY_INT,
            set: |_, _| {},
        },
    )
    .default("0")
    .ignored("zk-rs limits connections per client address only (maxClientCnxns)"),
    key(
        "preAllocSize",
        Both,
        Zookeeper,
        Kind::Kib {
            set: |d, v| d.config.pre_alloc_size_kb = v,
        },
    )
    .default("65536")
    .field("pre_alloc_size_kb"),
    key(
        "forceSync",
        Both,
        Zookeeper,
        Kind::Word {
            word: "no",
            means: false,
            other: Some("yes"),
            set: |d, v| d.config.force_sync = v,
        },
    )
    .default("yes")
    .field("force_sync"),
    key(
        "skipACL",
        Both,
        Zookeeper,
        Kind::Word {
            word: "yes",
            means: true,
            other: Some("no"),
            set: |d, v| d.config.skip_acl = v,
        },
    )
    .default("no")
    .field("skip_acl"),
    key(
        "DigestAuthenticationProvider.superDigest",
        Both,
        Zookeeper,
        Kind::Text {
            set: |d, v| d.config.super_digest = Some(v.to_string()),
        },
    )
    .field("super_digest"),
    key(
        "DigestAuthenticationProvider.enabled",
        Both,
        Zookeeper,
        Kind::JavaBool {
            set: |d, v| d.config.digest_auth_enabled = v,
        },
    )
    .default("true")
    .field("digest_auth_enabled"),
    key(
        "enforceQuota",
        Both,
        Zookeeper,
        Kind::JavaBool {
            set: |d, v| d.config.enforce_quota = v,
        },
    )
    .default("false")
    .field("enforce_quota"),
    key(
        "enforce.auth.enabled",
        Both,
        Zookeeper,
        Kind::Text {
            set: |d, v| d.enforce_auth.enabled = Some(v.to_string()),
        },
    )
    .default("false")
    .field("enforce_auth_schemes"),
    key(
        "enforce.auth.schemes",
        Both,
        Zookeeper,
        Kind::Text {
            set: |d, v| d.enforce_auth.schemes = Some(v.to_string()),
        },
    )
    .field("enforce_auth_schemes"),
    key(
        "sessionRequireClientSASLAuth",
        Both,
        Zookeeper,
        Kind::Text {
            set: |d, v| d.enforce_auth.session_require_sasl = Some(v.to_string()),
        },
    )
    .default("false")
    .field("enforce_auth_schemes"),
    // --- zookeeper.* system properties zk-rs ignores -----------------------------------
    key(
        "admin.enableServer",
        Both,
        Zookeeper,
        Kind::Word {
            word: "false",
            means: false,
            other: Some("true"),
            set: |_, _| {},
        },
    )
    .default("true")
    .ignored(NO_ADMIN),
    key(
        "admin.serverAddress",
        Both,
        Zookeeper,
        Kind::Text { set: |_, _| {} },
    )
    .default("0.0.0.0")
    .ignored(NO_ADMIN),
    key(
        "admin.serverPort",
        Both,
        Zookeeper,
        Kind::Decode {
            min: 0,
            max: 65535,
            expected: "a port number",
            set: |_, _| {},
        },
    )
    .default("8080")
    .ignored(NO_ADMIN),
    java_only("admin.", Both, NO_ADMIN).family(),
    java_only("ssl.", Both, TLS).family(),
    java_only(
        "authProvider.",
        Both,
        "zk-rs has only the ip and digest authentication providers",
    )
    .family(),
    java_only("pathStats.", Both, NOT_IMPLEMENTED).family(),
    java_only("connection_throttle_", Both, NOT_IMPLEMENTED).family(),
    java_only("kerberos.", Both, SASL).family(),
    java_only("sasl.", Both, SASL).family(),
    java_only(
        "DigestAuthenticationProvider.digestAlg",
        Both,
        "digests are always SHA1, Java's default",
    ),
    java_only("SASLAuthenticationProvider.superPassword", Both, SASL),
    java_only("X509AuthenticationProvider.superUser", Both, TLS),
    java_only("allowSaslFailedClients", Both, SASL),
    java_only("audit.enable", Both, "audit logging is not implemented"),
    java_only("audit.impl.class", Both, "audit logging is not implemented"),
    java_only("bitHashCacheSize", Both, JAVA_TUNING),
    java_only("closeSessionTxn.enabled", Both, NOT_IMPLEMENTED),
    java_only("cnxTimeout", Quorum, NOT_IMPLEMENTED),
    java_only("commitLogCount", Quorum, JAVA_TUNING),
    java_only("commitProcessor.maxCommitBatchSize", Both, JAVA_TUNING),
    java_only("commitProcessor.maxReadBatchSize", Both, JAVA_TUNING),
    java_only("commitProcessor.numWorkerThreads", Both, JAVA_TUNING),
    java_only("commitProcessor.shutdownTimeout", Both, JAVA_TUNING),
    java_only("datadir.autocreate", Both, NOT_IMPLEMENTED),
    java_only("db.autocreate", Both, NOT_IMPLEMENTED),
    java_only("electionPortBindRetry", Quorum, NOT_IMPLEMENTED),
    java_only("emulate353TTLNodes", Both, NOT_IMPLEMENTED),
    java_only("enableEagerACLCheck", Both, NOT_IMPLEMENTED),
    java_only("ensembleAuthName", Quorum, NOT_IMPLEMENTED),
    java_only(
        "fastleader.maxNotificationInterval",
        Quorum,
        NOT_IMPLEMENTED,
    ),
    java_only(
        "fastleader.minNotificationInterval",
        Quorum,
        NOT_IMPLEMENTED,
    ),
    java_only("flushDelay", Both, JAVA_TUNING),
    java_only(
        "follower.skipLearnerRequestToNextProcessor",
        Quorum,
        JAVA_TUNING,
    ),
    java_only("forceSnapshotSync", Quorum, NOT_IMPLEMENTED),
    java_only(
        "forward_learner_requests_to_commit_processor_disabled",
        Quorum,
        JAVA_TUNING,
    ),
    java_only("intBufferStartingSizeBytes", Both, JAVA_TUNING),
    java_only("jmx.log4j.disable", Both, NO_JVM),
    java_only("jmx.log4j.mbean", Both, NO_JVM),
    java_only("jute.maxbuffer.extrasize", Both, NOT_IMPLEMENTED),
    java_only("largeRequestMaxBytes", Both, NOT_IMPLEMENTED),
    java_only("largeRequestThreshold", Both, NOT_IMPLEMENTED),
    java_only("leader.ackLoggingFrequency", Quorum, JAVA_TUNING),
    java_only("leader.closeSocketAsync", Quorum, JAVA_TUNING),
    java_only("leader.maxConcurrentDiffSyncs", Quorum, NOT_IMPLEMENTED),
    java_only("leader.maxConcurrentSnapSyncs", Quorum, NOT_IMPLEMENTED),
    java_only("leader.maxTimeToWaitForEpoch", Quorum, NOT_IMPLEMENTED),
    java_only("leaderConnectDelayDuringRetryMs", Quorum, NOT_IMPLEMENTED),
    java_only("leaderServes", Quorum, NOT_IMPLEMENTED),
    java_only("learner.asyncSending", Quorum, JAVA_TUNING),
    java_only("learner.closeSocketAsync", Quorum, JAVA_TUNING),
    java_only("letAnySaslUserDoX", Both, SASL),
    java_only("maxBatchSize", Both, JAVA_TUNING),
    java_only("maxGetChildrenResponseCacheSize", Both, JAVA_TUNING),
    java_only("maxInProcessingDeadWatchers", Both, JAVA_TUNING),
    java_only("maxResponseCacheSize", Both, JAVA_TUNING),
    java_only("maxWriteQueuePollTime", Both, JAVA_TUNING),
    java_only("messageTracker.BufferSize", Quorum, NOT_IMPLEMENTED),
    java_only("messageTracker.Enabled", Quorum, NOT_IMPLEMENTED),
    java_only("netty.advancedFlowControl.enabled", Both, JAVA_TUNING),
    java_only(
        "netty.server.earlyDropSecureConnectionHandshakes",
        Both,
        TLS,
    ),
    java_only("netty.server.outstandingHandshake.limit", Both, TLS),
    java_only("nio.directBufferBytes", Both, JAVA_TUNING),
    java_only("nio.numSelectorThreads", Both, JAVA_TUNING),
    java_only("nio.numWorkerThreads", Both, JAVA_TUNING),
    java_only("nio.sessionlessCnxnTimeout", Both, JAVA_TUNING),
    java_only("nio.shutdownTimeout", Both, JAVA_TUNING),
    java_only("observer.election.DelayMs", Quorum, NOT_IMPLEMENTED),
    java_only("observer.reconnectDelayMs", Quorum, NOT_IMPLEMENTED),
    java_only("observer.syncEnabled", Quorum, NOT_IMPLEMENTED),
    java_only("observerMaster.sizeLimit", Quorum, NOT_IMPLEMENTED),
    java_only("quorumCnxnTimeoutMs", Quorum, NOT_IMPLEMENTED),
    java_only("request_stale_connection_check", Both, NOT_IMPLEMENTED),
    java_only("request_stale_latency_check", Both, NOT_IMPLEMENTED),
    java_only("request_throttler.shutdownTimeout", Both, JAVA_TUNING),
    java_only("requireKerberosConfig", Both, SASL),
    java_only("security.auth_to_local", Both, SASL),
    java_only("serverCnxnFactory", Both, JAVA_TUNING),
    java_only("snapSizeLimitInKb", Quorum, NOT_IMPLEMENTED),
    java_only(
        "snapshot.compression.method",
        Both,
        "snapshots are never compressed",
    ),
    java_only("snapshot.trust.empty", Both, NOT_IMPLEMENTED),
    java_only("snapshotSizeFactor", Quorum, NOT_IMPLEMENTED),
    java_only("superUser", Both, SASL),
    java_only("tcpKeepAlive", Both, NOT_IMPLEMENTED),
    java_only("throttled_op_wait_time", Both, NOT_IMPLEMENTED),
    java_only("txnLogSizeLimitInKb", Both, NOT_IMPLEMENTED),
    java_only("watchManagerName", Both, JAVA_TUNING),
    java_only("watcherCleanIntervalInSeconds", Both, JAVA_TUNING),
    java_only("watcherCleanThreadsNum", Both, JAVA_TUNING),
    java_only("watcherCleanThreshold", Both, JAVA_TUNING),
];
