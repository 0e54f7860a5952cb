//! The four-letter words: recognising them on the client port and rendering the exact text
//! ZooKeeper 3.8's Java server answers.
//!
//! This module owns the *text*: which bytes mean which command ([`command_from_int`]), the
//! whitelist check (with [`FourLetterWhitelist`] from `config`), and the byte-for-byte format
//! of `ruok`, `srvr`, `stat`, `conf`, `cons`, `crst`, `srst`, `dump`, `envi`, `mntr`, `wchs`,
//! `wchc`, `wchp`, `isro`, `dirs`, `gtmk`, `stmk`, `hash` and `telnet close`. The numbers come
//! from the server through [`FourLetterSource`]; the counters themselves live in `stats`.
//! Every format below was compared with Debian's Java 3.8.0 server (`respond` tests hold the
//! captured answers).
//!
//! # How Java handles a four-letter word (NIOServerCnxn.checkFourLetterWord)
//!
//! * Only the first 4 bytes of a connection are checked, read as a big-endian int and compared
//!   with the known commands; anything else is a frame length. The connection is closed after
//!   the answer (the answer is written, then the socket is closed; the client's half-close
//!   does not matter).
//! * The word counts as one received packet of 4 bytes **before** the command runs (so
//!   `srvr` reports itself), also when it is not whitelisted; the answer counts as
//!   [`response_packets`] sent packets afterwards (0 for an empty answer).
//! * The connection asking is itself a connection of the server while the command runs:
//!   `stat`, `cons`, `srvr`'s `Connections:` and `dump`'s connection sets include it, as
//!   ` /ip:port[0](queued=0,recved=1,sent=0)` (no session, interest ops 0). Implementations of
//!   [`FourLetterSource::connections`] should include it ([`ConnInfo::four_letter_word`]).
//! * Not whitelisted: `"<cmd> is not executed because it is not in the whitelist.\n"` (the
//!   whitelist defaults to `srvr` only; see `config::FourLetterWhitelist`).
//! * `stmk` is followed by an 8-byte big-endian trace mask, read only once the command is
//!   known to be whitelisted: see [`respond_set_trace_mask`]. Java echoes the mask and keeps
//!   it for `gtmk` (default 306). If the 8 bytes are missing Java closes without answering.
//! * `telnet close` (`0xfff4fffd`, telnet's IAC IP IAC DO) is known and whitelistable, but
//!   when whitelisted no command runs: Java then treats it as a bad frame length and closes
//!   without answering. [`respond`] gives `Some("")` for it.
//! * While the server is not serving (starting, loading, or in an ensemble while electing),
//!   most commands answer [`ZK_NOT_SERVING`] + `\n` (`hash` without the newline, `isro`
//!   prints `null`); `ruok`, `envi`, `gtmk` and `stmk` answer normally.
//!
//! # Our own values, on purpose
//!
//! * Version ([`full_version`]): `3.8.0-zk-rs, built on <date>`, the shape of Java's
//!   `3.8.0-<git id>, built on 2024-12-29 17:54 UTC` (Debian prints
//!   `3.8.0-${mvngit.commit.id}, ...`); with `compat.version=3.9`, `3.9.3-zk-rs, ...` (Java
//!   3.9.3 prints `3.9.3-c26634f3..., built on 2024-10-17 23:21 UTC`). `<date>` is set by
//!   the crate's `build.rs`: `ZK_RS_BUILT_ON` if given, else `SOURCE_DATE_EPOCH`, else the
//!   time of the commit built, in Java's `yyyy-MM-dd HH:mm UTC`.
//! * `envi` (`probes::environment`): Java's keys in Java's order. `java.*` keys other than
//!   `java.io.tmpdir` print `<NA>` (Java's own spelling of an unset property): there is no
//!   JVM. `host.name` is the kernel host name (Java prints the canonical DNS name of
//!   `InetAddress.getLocalHost()`; we do no DNS). `os.name`/`os.arch` use Java's spellings
//!   (`Linux`, `amd64`). `os.memory.free/max/total` (Java's heap free/max/total) are, for us,
//!   the machine's available memory, the machine's total memory and our resident set size,
//!   in whole MiB with the `MB` suffix.
//! * `mntr`: every key Java 3.8 standalone prints, in Java's order (version and state, 24
//!   gauges, the `ServerMetrics` counters, basic summaries, percentile summaries, then the
//!   per-namespace summaries); metrics we do not measure print 0 (`0.0` for averages).
//!   `zk_open_file_descriptor_count` / `zk_max_file_descriptor_count` come from
//!   `/proc/self/fd` and the soft `RLIMIT_NOFILE` (`probes::fd_counts`). Per-namespace
//!   keys are printed sorted (Java: hash order).
//! * Dates in `dump` (`Wed Nov 25 15:10:36 UTC 2026`, Java's `Date.toString()`) are always
//!   printed in UTC; Java uses the JVM's default time zone.
//! * Java prints connections, sessions with ephemerals, their paths and the watch tables in
//!   hash-map order; we print them in the order the source gives (sessions ascending, paths
//!   sorted in practice). Java's `dump` also lists connection expiry buckets that became
//!   empty (`0 expire at ...:`) until its expirer passes them; ours has no empty buckets.
//!
//! # Java facts that look like bugs (reproduced)
//!
//! * `conf`'s `dataDirSize` and `dirs`' `datadir_size` are the size of the **transaction
//!   log** directory, and `dataLogSize` / `logdir_size` the size of the **snapshot**
//!   directory (`ZooKeeperServer.getDataDirSize` measures `snapLog.getDataDir()`, which is the
//!   log directory). Sizes are the sum of file lengths under `<dir>/version-2`, preallocated
//!   log files at their full length.
//! * `conf`'s `dataDir` / `dataLogDir` are the absolute `version-2` subdirectories;
//!   `secureClientPort` is -1 without TLS; `serverId` is 0 for a standalone server.
//! * `cons`: a fresh connection's `minlat` stays 0 until `crst` (see `stats::ConnStats`);
//!   after `crst` `lcxid` disappears and `lzxid` is `0xffffffffffffffff`.
//! * `wchs`, `wchc`, `wchp` cover the data watches only (getData/exists, and the data half of
//!   persistent watches), and print session ids, not connections.
//! * `stat` and `srvr` print the latency average as a Java `double` (`0.0`, `2.4545`).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{CompatVersion, Config, FourLetterWhitelist};
use crate::stats::{BufferStats, ConnStats, ServerStats, Summary};
use crate::watch::WatchSummary;
use jute::{SessionId, Zxid};

/// What Java prints instead of an answer while the server is not serving.
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Our version in 3.8 mode, in the place of Java's `3.8.0-<git commit id>`.
pub const VERSION: &str = "3.8.0-zk-rs";
/// Our version in 3.9 mode, in the place of Java's `3.9.3-<git commit id>`.
pub const VERSION_3_9: &str = "3.9.3-zk-rs";

/// Java's default `ZooTrace` text trace mask (`gtmk` before any `stmk`).
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// `telnet close` as the int Java compares (`0xfff4fffd`).
pub const TELNET_CLOSE: i32 = 0xfff4_fffd_u32 as i32;

/// Java's `PrintWriter` → `BufferedWriter` → `SendBufferWriter` chain hands the socket one
/// buffer per 8192 characters: one sent packet each.
pub const RESPONSE_CHUNK_CHARS: usize = 8192;

/// The command words, in `FourLetterCommands` order (`telnet close` is separate).
const WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// `3.8.0-zk-rs, built on <date>` (3.9 mode: `3.9.3-zk-rs, ...`): what `srvr`, `stat`,
/// `envi` and `mntr` print as the version (see the module doc).
pub fn full_version(compat: CompatVersion) -> String {
    let built_on = env!("ZK_RS_BUILT_ON");
    let version = if compat.is_3_9() {
        VERSION_3_9
    } else {
        VERSION
    };
    format!("{version}, built on {built_on}")
}

/// The command whose 4 bytes, read as a big-endian int, are `i` (Java's
/// `FourLetterCommands.getCommandString`); `None` means "a frame length".
pub fn command_from_int(i: i32) -> Option<&'static str> {
    if i == TELNET_CLOSE {
        return Some("telnet close");
    }
    WORDS
        .iter()
        .copied()
        .find(|w| w.as_bytes() == i.to_be_bytes().as_slice())
}

/// [`command_from_int`] on the first 4 bytes of a connection.
pub fn command_from_bytes(b: [u8; 4]) -> Option<&'static str> {
    command_from_int(i32::from_be_bytes(b))
}

/// How many packets Java counts as sent for an answer of this text: one per started 8192
/// characters (UTF-16 units), none for an empty answer.
pub fn response_packets(text: &str) -> u64 {
    let chars = text.encode_utf16().count();
    chars.div_ceil(RESPONSE_CHUNK_CHARS) as u64
}

/// One client connection as `cons`, `stat` and `dump` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The peer; `None` once the socket is closed (Java prints `null`).
    pub remote: Option<SocketAddr>,
    /// Java's selector interest ops: 1 = read, 4 = write, 5 = both, 0 = neither (read
    /// throttled, or a four-letter-word connection). Printed in hex.
    pub interest_ops: u32,
    /// Requests read but not answered yet (`queued=`).
    pub queued: u64,
    /// 0 before the handshake completed (then `cons` prints the brief form).
    pub session_id: i64,
    /// The negotiated session timeout (`to=`).
    pub session_timeout_ms: i32,
    /// The counters.
    pub stats: ConnStats,
    /// When the connection expires if idle, wall-clock ms (for `dump`'s connection sets).
    /// Java: the next multiple of 10 s (`zookeeper.nio.sessionlessCnxnTimeout`) at or after
    /// `last activity + timeout`, the timeout being the session timeout, or 10 s before a
    /// session exists; times are bucketed on the monotonic clock, then shown on the wall
    /// clock.
    pub expires_at_ms: i64,
}

impl ConnInfo {
    /// The connection asking for a four-letter word, as it appears in its own answer:
    /// no session, interest ops 0, one packet received, none sent.
    pub fn four_letter_word(remote: SocketAddr, established_ms: i64, expires_at_ms: i64) -> Self {
        let mut stats = ConnStats::new(established_ms);
        stats.packet_received();
        ConnInfo {
            remote: Some(remote),
            interest_ops: 0,
            queued: 0,
            session_id: 0,
            session_timeout_ms: 0,
            stats,
            expires_at_ms,
        }
    }
}

/// Sessions expiring together (a bucket of Java's `ExpiryQueue`), for `dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpirySet {
    /// When they expire, wall-clock ms. Java buckets sessions on the monotonic clock at the
    /// next multiple of `tickTime` at or after `last touch + timeout`, and prints the bucket
    /// converted to wall-clock time.
    pub expires_at_ms: i64,
    /// The sessions.
    pub session_ids: Vec<i64>,
}

/// What `conf` prints (Java's `ZooKeeperServer.dumpConf`): the configuration lines the key
/// table renders ([`Config::conf_lines`]), then `serverId`; [`respond`] adds `dataDirSize`
/// after `dataDir` and `dataLogSize` after `dataLogDir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConf {
    /// `(key, value)` in Java's order: `clientPort`, `secureClientPort`, `dataDir` (the
    /// absolute `version-2` directory), `dataLogDir` (likewise), `tickTime`,
    /// `maxClientCnxns`, `minSessionTimeout`, `maxSessionTimeout`, `clientPortListenBacklog`.
    pub keys: Vec<(&'static str, String)>,
    /// 0 for a standalone server, else `myid`.
    pub server_id: i64,
}

impl ServerConf {
    /// The values Java would print for this configuration.
    pub fn from_config(cfg: &Config) -> Self {
        ServerConf {
            keys: cfg.conf_lines(),
            server_id: if cfg.is_distributed() {
                cfg.my_id.map_or(0, |id| id as i64)
            } else {
                0
            },
        }
    }

    /// The value shown for `key`, if `conf` shows it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the value shown for `key` (for example the port actually bound).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        if let Some((_, v)) = self.keys.iter_mut().find(|(k, _)| *k == key) {
            *v = value.into();
        }
    }

    /// The snapshot directory shown (`<dataDir>/version-2`).
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.get("dataDir").unwrap_or_default())
    }

    /// The txn log directory shown (`<dataLogDir>/version-2`).
    pub fn data_log_dir(&self) -> PathBuf {
        PathBuf::from(self.get("dataLogDir").unwrap_or_default())
    }
}

/// The `mntr` gauges that are neither in [`ServerStats`] nor elsewhere in the trait.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MonitorValues {
    /// `zk_ephemerals_count`: ephemeral nodes.
    pub ephemerals_count: u64,
    /// `zk_global_sessions`: sessions in the tracker.
    pub global_sessions: u64,
    /// `zk_local_sessions`: local sessions (0 without `localSessionsEnabled`).
    pub local_sessions: u64,
    /// `zk_watch_count`: watches in **both** managers (data and child).
    pub watch_count: u64,
    /// `zk_approximate_data_size`: Java's `DataTree.cachedApproximateDataSize`, the sum over
    /// nodes of path length + data length.
    pub approximate_data_size: i64,
    /// `zk_open_file_descriptor_count` (-1 where unknown); see `probes::fd_counts`.
    pub open_file_descriptor_count: i64,
    /// `zk_max_file_descriptor_count` (-1 where unknown).
    pub max_file_descriptor_count: i64,
    /// `zk_connection_drop_probability` (Java's connection throttle; 0.0 without one).
    pub connection_drop_probability: f64,
    /// `zk_outstanding_tls_handshake` (0 without TLS).
    pub outstanding_tls_handshake: i64,
    /// `zk_uptime`, ms since the server started (`ServerStats::uptime_ms`).
    pub uptime_ms: i64,
    /// `zk_quorum_size`: the voting members, in a quorum role (Java's
    /// `QuorumZooKeeperServer` gauge, printed after the others); `None` otherwise.
    pub quorum_size: Option<i64>,
    /// `zk_leader_uptime`: ms since this server began to lead (Java's
    /// `LeaderZooKeeperServer` gauge); `None` in other roles.
    pub leader_uptime_ms: Option<i64>,
    /// A leader's other gauges (`LeaderZooKeeperServer.registerMetrics`); `None` in other
    /// roles.
    pub leader_gauges: Option<LeaderGauges>,
    /// `zk_synced_observers` of a follower with an observer master (Java's
    /// `FollowerZooKeeperServer` gauge, null and so not printed without one).
    pub follower_synced_observers: Option<i64>,
    /// Java's quota gauge sets, printed right after the gauges as `zk_<key>\t<value>`; keys
    /// are `<namespace>_quota_count_limit_per_namespace`, `..._quota_bytes_limit_...`,
    /// `..._quota_count_usage_...`, `..._quota_bytes_usage_...`.
    pub quota_gauges: Vec<(String, i64)>,
    /// Lines Java adds after `zk_server_state` in other roles (a leader's `learners`,
    /// `synced_followers`, ...), without the `zk_` prefix.
    pub role_values: Vec<(String, MonitorValue)>,
}

/// The gauges only a leader has, besides `leader_uptime`: its learners (counted by the
/// leader task, `zk_quorum::zab::leader::LearnerCounts`) and the sizes of its proposals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaderGauges {
    pub learners: i64,
    pub synced_followers: i64,
    pub synced_non_voting_followers: i64,
    pub synced_observers: i64,
    /// Syncs waiting for their commit (`Leader.getNumPendingSyncs`).
    pub pending_syncs: i64,
    pub proposal_sizes: BufferStats,
}

/// What the four-letter words need from the server. Methods with `&mut self` are the ones
/// `crst`, `srst` and `stmk` need; [`respond`] takes `&mut dyn FourLetterSource`.
pub trait FourLetterSource {
    /// False while the server cannot serve (loading, electing): most commands then answer
    /// [`ZK_NOT_SERVING`].
    fn is_serving(&self) -> bool {
        true
    }

    /// The Java generation whose answers to give (`compat.version`; the default's here).
    fn compat_version(&self) -> CompatVersion {
        CompatVersion::V3_9
    }

    /// The version string (default [`full_version`]).
    fn version(&self) -> String {
        full_version(self.compat_version())
    }

    /// `standalone`, `leader`, `follower`, `observer` or `read-only` (Java's `getState`).
    fn server_state(&self) -> String {
        "standalone".to_string()
    }

    /// A read-only server (`isro` answers `ro`, `stat` adds a line).
    fn is_read_only(&self) -> bool {
        false
    }

    /// The server's counters.
    fn server_stats(&self) -> &ServerStats;

    /// The server's counters, for `srst`.
    fn server_stats_mut(&mut self) -> &mut ServerStats;

    /// Every open client connection, the one asking included (see the module doc).
    fn connections(&self) -> Vec<ConnInfo>;

    /// `Connections:` / `zk_num_alive_connections` (default: `connections().len()`).
    fn num_alive_connections(&self) -> usize {
        self.connections().len()
    }

    /// `crst`: [`ConnStats::reset`] on every connection.
    fn reset_connection_stats(&mut self);

    /// Requests in the pipeline, not answered yet (`Outstanding:`).
    fn outstanding_requests(&self) -> u64;

    /// The last applied zxid (`Zxid:`).
    fn last_processed_zxid(&self) -> i64;

    /// Nodes in the tree, `/zookeeper` and its children included, plus one as Java counts
    /// the root twice (`Node count:`, `zk_znode_count`).
    fn node_count(&self) -> u64;

    /// `wchs`: `WatchManager::watch_summary`.
    fn watch_summary(&self) -> WatchSummary;

    /// `wchc`: data watches by connection, each connection shown by its session id
    /// (`WatchManager::watches_by_connection` with ids mapped to sessions).
    fn watches_by_session(&self) -> Vec<(i64, Vec<String>)>;

    /// `wchp`: data watches by path, each watcher shown by its session id.
    fn watches_by_path(&self) -> Vec<(String, Vec<i64>)>;

    /// `dump`: the session tracker's expiry buckets.
    fn session_expiry(&self) -> Vec<ExpirySet>;

    /// `dump`: connection expiry buckets (wall-clock ms) that are empty now but not yet
    /// past: Java's ExpiryQueue keeps a bucket its connections left until its time comes.
    fn empty_connection_buckets(&self) -> Vec<i64> {
        Vec::new()
    }

    /// `dump`: ephemeral paths by owning session.
    fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)>;

    /// `conf` (see [`ServerConf::from_config`]).
    fn conf(&self) -> ServerConf;

    /// `mntr` values not found elsewhere.
    fn monitor_values(&self) -> MonitorValues;

    /// `envi` lines (measured by `probes::environment`).
    fn environment(&self) -> Vec<(String, String)>;

    /// Size of the snapshot directory (measured by `probes::dir_size`).
    fn snap_dir_size(&self) -> u64;

    /// Size of the txn log directory (measured by `probes::dir_size`).
    fn txn_log_dir_size(&self) -> u64;

    /// The trace mask (`gtmk`); default [`DEFAULT_TRACE_MASK`].
    fn trace_mask(&self) -> i64 {
        DEFAULT_TRACE_MASK
    }

    /// `stmk` sets the trace mask (default: ignored, so `gtmk` keeps answering 306).
    fn set_trace_mask(&mut self, _mask: i64) {}

    /// `hash`: Java's `DataTree.getDigestLog()`, (zxid, digest) for the applied zxids that
    /// are multiples of 128, the last 1024 of them, oldest first. Default: empty.
    fn digest_log(&self) -> Vec<(i64, i64)> {
        Vec::new()
    }

    /// A leader's proposal sizes (`stat`'s `Proposal sizes last/min/max:` line).
    fn proposal_sizes(&self) -> Option<BufferStats> {
        None
    }
}

/// The answer to the four-letter word `cmd` (as returned by [`command_from_int`]), or
/// `None` if `cmd` is not one (the caller then treats the 4 bytes as a frame length).
///
/// The caller counts the received packet before calling this, sends the text (possibly
/// empty), counts [`response_packets`] sent packets, and closes the connection. For `stmk`
/// use [`respond_set_trace_mask`] once the 8 argument bytes are read (if `stmk` is
/// whitelisted: check with `whitelist.is_enabled("stmk")`); called here, `stmk` behaves as
/// Java does when those bytes are missing (empty answer).
pub fn respond(
    cmd: &str,
    src: &mut dyn FourLetterSource,
    whitelist: &FourLetterWhitelist,
) -> Option<String> {
    if !WORDS.contains(&cmd) && cmd != "telnet close" {
        return None;
    }
    if !whitelist.is_enabled(cmd) {
        return Some(format!(
            "{cmd} is not executed because it is not in the whitelist.\n"
        ));
    }
    let serving = src.is_serving();
    let not_serving = || format!("{ZK_NOT_SERVING}\n");
    let text = match cmd {
        "ruok" => "imok".to_string(),
        "envi" => envi(&*src),
        "gtmk" => src.trace_mask().to_string(),
        "stmk" | "telnet close" => String::new(),
        "isro" if !serving => "null".to_string(),
        "isro" => if src.is_read_only() { "ro" } else { "rw" }.to_string(),
        "hash" if !serving => ZK_NOT_SERVING.to_string(),
        _ if !serving => not_serving(),
        "srvr" => stat(&*src, false),
        "stat" => stat(&*src, true),
        "conf" => conf(&*src),
        "cons" => cons(&*src),
        "crst" => {
            src.reset_connection_stats();
            "Connection stats reset.\n".to_string()
        }
        "srst" => {
            src.server_stats_mut().reset();
            "Server stats reset.\n".to_string()
        }
        "dump" => dump(&*src),
        "mntr" => mntr(&*src),
        "wchs" => wchs(&*src),
        "wchc" => wchc(&*src),
        "wchp" => wchp(&*src),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            src.txn_log_dir_size(),
            src.snap_dir_size()
        ),
        "hash" => {
            let mut s = String::new();
            for (zxid, digest) in src.digest_log() {
                s.push_str(&format!("{:x}: {digest}\n", zxid as u64));
            }
            s
        }
        _ => return None,
    };
    Some(text)
}

/// `stmk` with its 8-byte big-endian argument: sets the trace mask and echoes it (no
/// newline), or the whitelist refusal.
pub fn respond_set_trace_mask(
    mask: i64,
    src: &mut dyn FourLetterSource,
    whitelist: &FourLetterWhitelist,
) -> String {
    if !whitelist.is_enabled("stmk") {
        return "stmk is not executed because it is not in the whitelist.\n".to_string();
    }
    src.set_trace_mask(mask);
    mask.to_string()
}

fn stat(src: &dyn FourLetterSource, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {}\n", src.version());
    if src.is_read_only() {
        s.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        s.push_str("Clients:\n");
        for c in src.connections() {
            push_conn(&mut s, &c, true);
            s.push('\n');
        }
        s.push('\n');
    }
    let st = src.server_stats();
    let state = src.server_state();
    s.push_str(&format!(
        "Latency min/avg/max: {}/{}/{}\n",
        st.min_latency(),
        java_double(st.avg_latency()),
        st.max_latency()
    ));
    s.push_str(&format!("Received: {}\n", st.packets_received_count()));
    s.push_str(&format!("Sent: {}\n", st.packets_sent_count()));
    s.push_str(&format!("Connections: {}\n", src.num_alive_connections()));
    s.push_str(&format!("Outstanding: {}\n", src.outstanding_requests()));
    s.push_str(&format!(
        "Zxid: {}\n",
        Zxid::from(src.last_processed_zxid())
    ));
    s.push_str(&format!("Mode: {state}\n"));
    s.push_str(&format!("Node count: {}\n", src.node_count()));
    if state == "leader" {
        if let Some(p) = src.proposal_sizes() {
            s.push_str(&format!("Proposal sizes last/min/max: {p}\n"));
        }
    }
    s
}

/// Java's `ServerCnxn.dumpConnectionInfo`.
fn push_conn(s: &mut String, c: &ConnInfo, brief: bool) {
    let ops = if c.interest_ops == 0 {
        "0".to_string()
    } else {
        format!("{:x}", c.interest_ops)
    };
    let st = &c.stats;
    s.push_str(&format!(
        " {}[{ops}](queued={},recved={},sent={}",
        java_socket_addr(c.remote),
        c.queued,
        st.packets_received(),
        st.packets_sent_count()
    ));
    if !brief && c.session_id != 0 {
        s.push_str(&format!(
            ",sid={},lop={},est={},to={}",
            SessionId::from(c.session_id),
            st.last_op(),
            st.established_ms(),
            c.session_timeout_ms
        ));
        if st.last_cxid() >= 0 {
            s.push_str(&format!(",lcxid=0x{:x}", st.last_cxid() as u64));
        }
        s.push_str(&format!(
            ",lzxid={},lresp={},llat={},minlat={},avglat={},maxlat={}",
            Zxid::from(st.last_zxid()),
            st.last_response_time(),
            st.last_latency(),
            st.min_latency(),
            st.avg_latency(),
            st.max_latency()
        ));
    }
    s.push(')');
}

fn cons(src: &dyn FourLetterSource) -> String {
    let mut s = String::new();
    for c in src.connections() {
        push_conn(&mut s, &c, false);
        s.push('\n');
    }
    s.push('\n');
    s
}

fn conf(src: &dyn FourLetterSource) -> String {
    let c = src.conf();
    let mut s = String::new();
    for (key, value) in &c.keys {
        s.push_str(&format!("{key}={value}\n"));
        // Java's labels are swapped relative to what it measures (see the module doc).
        match *key {
            "dataDir" => s.push_str(&format!("dataDirSize={}\n", src.txn_log_dir_size())),
            "dataLogDir" => s.push_str(&format!("dataLogSize={}\n", src.snap_dir_size())),
            _ => {}
        }
    }
    s.push_str(&format!("serverId={}\n", c.server_id));
    s
}

fn dump(src: &dyn FourLetterSource) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let mut sets = src.session_expiry();
    sets.sort_by_key(|e| e.expires_at_ms);
    let total: usize = sets.iter().map(|e| e.session_ids.len()).sum();
    s.push_str(&format!("Session Sets ({})/({total}):\n", sets.len()));
    for e in &sets {
        s.push_str(&format!(
            "{} expire at {}:\n",
            e.session_ids.len(),
            java_date(e.expires_at_ms)
        ));
        for sid in &e.session_ids {
            s.push_str(&format!("\t{}\n", SessionId::from(*sid)));
        }
    }
    s.push_str("ephemeral nodes dump:\n");
    let eph = src.ephemerals_by_session();
    s.push_str(&format!("Sessions with Ephemerals ({}):\n", eph.len()));
    for (sid, paths) in &eph {
        s.push_str(&format!("{}:\n", SessionId::from(*sid)));
        for p in paths {
            s.push_str(&format!("\t{p}\n"));
        }
    }
    s.push_str("Connections dump:\n");
    let conns = src.connections();
    let mut buckets: Vec<(i64, Vec<&ConnInfo>)> = Vec::new();
    for c in &conns {
        match buckets.iter_mut().find(|(t, _)| *t == c.expires_at_ms) {
            Some((_, v)) => v.push(c),
            None => buckets.push((c.expires_at_ms, vec![c])),
        }
    }
    for t in src.empty_connection_buckets() {
        if !buckets.iter().any(|(b, _)| *b == t) {
            buckets.push((t, Vec::new()));
        }
    }
    buckets.sort_by_key(|(t, _)| *t);
    s.push_str(&format!(
        "Connections Sets ({})/({}):\n",
        buckets.len(),
        conns.len()
    ));
    for (t, v) in &buckets {
        s.push_str(&format!("{} expire at {}:\n", v.len(), java_date(*t)));
        for c in v {
            s.push_str(&format!(
                "\tip: {} sessionId: {}\n",
                java_socket_addr(c.remote),
                SessionId::from(c.session_id)
            ));
        }
    }
    s
}

fn envi(src: &dyn FourLetterSource) -> String {
    let mut s = String::from("Environment:\n");
    for (k, v) in src.environment() {
        s.push_str(&format!("{k}={v}\n"));
    }
    s
}

fn wchs(src: &dyn FourLetterSource) -> String {
    let w = src.watch_summary();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        w.connections, w.paths, w.total
    )
}

fn wchc(src: &dyn FourLetterSource) -> String {
    let mut s = String::new();
    for (sid, paths) in src.watches_by_session() {
        s.push_str(&format!("{}\n", SessionId::from(sid)));
        for p in paths {
            s.push_str(&format!("\t{p}\n"));
        }
    }
    s.push('\n');
    s
}

fn wchp(src: &dyn FourLetterSource) -> String {
    let mut s = String::new();
    for (path, sids) in src.watches_by_path() {
        s.push_str(&format!("{path}\n"));
        for sid in sids {
            s.push_str(&format!("\t{}\n", SessionId::from(sid)));
        }
    }
    s.push('\n');
    s
}

/// The `mntr` keys Java 3.8 standalone prints before the named metrics, in its order.
pub const MNTR_GAUGES: [&str; 24] = [
    "ephemerals_count",
    "num_alive_connections",
    "avg_latency",
    "outstanding_requests",
    "znode_count",
    "global_sessions",
    "non_mtls_remote_conn_count",
    "last_client_response_size",
    "packets_sent",
    "packets_received",
    "max_client_response_size",
    "connection_drop_probability",
    "watch_count",
    "auth_failed_count",
    "min_latency",
    "max_file_descriptor_count",
    "approximate_data_size",
    "open_file_descriptor_count",
    "local_sessions",
    "uptime",
    "max_latency",
    "outstanding_tls_handshake",
    "min_client_response_size",
    "non_mtls_local_conn_count",
];

/// Java 3.9.3's `ServerMetrics` counters in its `mntr` order: 3.8.0's and four more
/// (`restore_error_count`, `snapshot_rate_limited_count`, `snapshot_error_count`,
/// `restore_rate_limited_count`: the AdminServer's snapshot and restore commands, which
/// zk-rs does not have, so always 0). Taken from Java 3.9.3's `mntr`.
pub const MNTR_COUNTERS_3_9: [&str; 51] = [
    "watch_bytes",
    "stale_requests_dropped",
    "throttled_ops",
    "insecure_admin_count",
    "connection_rejected",
    "sessionless_connections_expired",
    "dead_watchers_queued",
    "stale_requests",
    "connection_drop_count",
    "response_packet_cache_hits",
    "bytes_received_count",
    "add_dead_watcher_stall_time",
    "request_throttle_wait_count",
    "requests_not_forwarded_to_commit_processor",
    "response_packet_cache_misses",
    "prep_processor_request_queued",
    "stale_replies",
    "response_bytes",
    "ensemble_auth_fail",
    "diff_count",
    "connection_revalidate_count",
    "quit_leading_due_to_disloyal_voter",
    "unrecoverable_error_count",
    "unsuccessful_handshake",
    "commit_count",
    "outstanding_changes_queued",
    "request_commit_queued",
    "ensemble_auth_skip",
    "skip_learner_request_to_next_processor_count",
    "proposal_count",
    "large_requests_rejected",
    "outstanding_changes_removed",
    "restore_error_count",
    "cnxn_closed_without_zk_server_running",
    "looking_count",
    "snapshot_rate_limited_count",
    "learner_proposal_received_count",
    "digest_mismatches_count",
    "dead_watchers_cleared",
    "ensemble_auth_success",
    "learner_commit_received_count",
    "snapshot_error_count",
    "connection_request_count",
    "response_packet_get_children_cache_misses",
    "snap_count",
    "stale_sessions_expired",
    "restore_rate_limited_count",
    "response_packet_get_children_cache_hits",
    "sync_processor_request_queued",
    "tls_handshake_exceeded",
    "revalidate_count",
];

/// Java 3.9.3 prints its `restore_time` summary right after this one.
pub(crate) const RESTORE_TIME_AFTER: Summary = Summary::ReadsIssuedFromSessionQueue;

/// One `mntr` value, typed as Java's `dumpMonitorValues` puts it (the AdminServer's
/// `monitor` prints the same keys as JSON numbers and strings).
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorValue {
    Int(i64),
    Double(f64),
    Str(String),
}

impl std::fmt::Display for MonitorValue {
    /// As `mntr` prints it (doubles as Java's `Double.toString`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorValue::Int(i) => write!(f, "{i}"),
            MonitorValue::Double(d) => f.write_str(&java_double(*d)),
            MonitorValue::Str(s) => f.write_str(s),
        }
    }
}

/// Every `mntr` value in Java's order, keys without the `zk_` prefix: the metrics registry
/// ([`crate::metrics::collect`]) spelled out as Java's `dumpMonitorValues` names its lines
/// (a set's key before the name; a summary as `avg_`, `min_`, `max_`, `cnt_`, `sum_` and,
/// when advanced, `p50_` ... `p999_`). Both `mntr` and the AdminServer's `monitor` render it.
pub fn monitor_values(src: &dyn FourLetterSource) -> Vec<(String, MonitorValue)> {
    use crate::metrics::{Detail, Metric, Number, SummaryValues};
    use MonitorValue::{Double, Int};
    fn summary(
        out: &mut Vec<(String, MonitorValue)>,
        name: &str,
        v: &SummaryValues,
        detail: Detail,
    ) {
        let a = &v.stats;
        out.push((format!("avg_{name}"), Double(a.avg())));
        out.push((format!("min_{name}"), Int(a.min())));
        out.push((format!("max_{name}"), Int(a.max())));
        out.push((format!("cnt_{name}"), Int(a.count() as i64)));
        out.push((format!("sum_{name}"), Int(a.total())));
        if detail == Detail::Advanced {
            let (p50, p95, p99, p999) = v
                .quantiles
                .map_or((0, 0, 0, 0), |q| (q.p50, q.p95, q.p99, q.p999));
            out.push((format!("p50_{name}"), Int(p50)));
            out.push((format!("p95_{name}"), Int(p95)));
            out.push((format!("p99_{name}"), Int(p99)));
            out.push((format!("p999_{name}"), Int(p999)));
        }
    }
    let mut out = Vec::with_capacity(512);
    for metric in crate::metrics::collect(src) {
        match metric {
            Metric::Info { name, value } => out.push((name, value)),
            Metric::Gauge { name, value } => out.push((
                name.to_string(),
                match value {
                    Number::Int(v) => Int(v),
                    Number::Double(v) => Double(v),
                },
            )),
            Metric::GaugeSet { name, values } => {
                for (key, v) in values {
                    out.push((format!("{key}_{name}"), Int(v)));
                }
            }
            Metric::Counter { name, value } => out.push((name.to_string(), Int(value as i64))),
            Metric::CounterSet { name, values } => {
                for (key, v) in values {
                    out.push((format!("{key}_{name}"), Int(v as i64)));
                }
            }
            Metric::Summary {
                name,
                detail,
                values,
            } => summary(&mut out, name, &values, detail),
            Metric::SummarySet {
                name,
                detail,
                values,
            } => {
                for (key, v) in values {
                    summary(&mut out, &format!("{key}_{name}"), &v, detail);
                }
            }
        }
    }
    out
}

fn mntr(src: &dyn FourLetterSource) -> String {
    let mut s = String::with_capacity(16 * 1024);
    for (k, v) in monitor_values(src) {
        s.push_str("zk_");
        s.push_str(&k);
        s.push('\t');
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

/// Java's `Double.toString`: `0.0`, `2.4545`, `1.0E-4`, `1.2345678E7` (decimal notation in
/// [10^-3, 10^7), otherwise computerized scientific notation; at least one fraction digit).
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let a = x.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exp}")
        } else {
            format!("{mantissa}.0E{exp}")
        }
    }
}

/// Java's `InetSocketAddress.toString()` for an address without a host name:
/// `/127.0.0.1:2181`, `/[0:0:0:0:0:0:0:1]:2181` (no `::` compression), IPv4-mapped IPv6
/// addresses shown as IPv4 (Java converts them); `null` for `None`.
pub fn java_socket_addr(addr: Option<SocketAddr>) -> String {
    match addr {
        None => "null".to_string(),
        Some(SocketAddr::V4(a)) => format!("/{}:{}", a.ip(), a.port()),
        Some(SocketAddr::V6(a)) => {
            if let Some(v4) = a.ip().to_ipv4_mapped() {
                return format!("/{v4}:{}", a.port());
            }
            let groups: Vec<String> = a.ip().segments().iter().map(|g| format!("{g:x}")).collect();
            let scope = if a.scope_id() != 0 {
                format!("%{}", a.scope_id())
            } else {
                String::new()
            };
            format!("/[{}{scope}]:{}", groups.join(":"), a.port())
        }
    }
}

/// Java's `Date.toString()` in UTC: `Wed Nov 25 15:10:36 UTC 2026`.
pub fn java_date(wall_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = crate::dates::utc(wall_ms);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[t.weekday as usize],
        MONTHS[(t.month - 1) as usize],
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
    )
}

/// The keys Java's `Environment.list()` prints, in order.
pub const ENVIRONMENT_KEYS: [&str; 18] = [
    "zookeeper.version",
    "host.name",
    "java.version",
    "java.vendor",
    "java.home",
    "java.class.path",
    "java.library.path",
    "java.io.tmpdir",
    "java.compiler",
    "os.name",
    "os.arch",
    "os.version",
    "user.name",
    "user.home",
    "user.dir",
    "os.memory.free",
    "os.memory.max",
    "os.memory.total",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::op_name;
    use crate::stats::{Counter, PercentileSummary};
    use std::collections::BTreeSet;

    const JAVA_VERSION: &str = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";
    const SID1: i64 = 0x100000b8a300000;
    const SID2: i64 = 0x100000b8a300001;

    /// A server state set to what Java showed in the captured session (two kazoo clients,
    /// three ephemerals, three data watches).
    struct Fake {
        stats: ServerStats,
        conns: Vec<ConnInfo>,
        trace: i64,
        serving: bool,
        read_only: bool,
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn client(port: u16, sid: i64, est: i64, expires: i64) -> ConnInfo {
        ConnInfo {
            remote: Some(addr(port)),
            interest_ops: 1,
            queued: 0,
            session_id: sid,
            session_timeout_ms: 10_000,
            stats: ConnStats::new(est),
            expires_at_ms: expires,
        }
    }

    const CONN_EXPIRY: i64 = 1_795_619_440_000; // Wed Nov 25 15:10:40 UTC 2026

    impl Fake {
        fn new() -> Fake {
            let mut stats = ServerStats::new(0);
            // 11 requests: min 1, max 8, total 27 -> "1/2.4545/8".
            for (lat, write) in [
                (8, true),
                (1, false),
                (2, true),
                (3, true),
                (2, true),
                (1, false),
                (2, true),
                (5, true),
                (1, false),
                (1, true),
                (1, false),
            ] {
                stats.record_request(lat, write);
            }
            let mut c1 = client(36376, SID1, 1_795_619_424_634, CONN_EXPIRY);
            // connect, 3 creates, getData, exists: avg 18/6 = 3, max 8, min 0 (Java quirk).
            for (i, (op, lat)) in [(-10, 8), (1, 2), (1, 2), (1, 2), (4, 3), (3, 1)]
                .into_iter()
                .enumerate()
            {
                c1.stats.packet_received();
                c1.stats.record_response(
                    i as i32,
                    if i == 0 { 0 } else { 7 },
                    op_name(op),
                    774_054 - lat,
                    774_054,
                );
                c1.stats.packet_sent();
            }
            let mut c2 = client(36382, SID2, 1_795_619_424_663, CONN_EXPIRY);
            for (i, (op, lat)) in [(-10, 2), (1, 1), (1, 1), (4, 1), (12, 1)]
                .into_iter()
                .enumerate()
            {
                c2.stats.packet_received();
                c2.stats
                    .record_response(i as i32, 7, op_name(op), 774_057 - lat, 774_057);
                c2.stats.packet_sent();
            }
            Fake {
                stats,
                conns: vec![c1, c2],
                trace: DEFAULT_TRACE_MASK,
                serving: true,
                read_only: false,
            }
        }

        /// The connection asking, with the port Java showed.
        fn asking(&mut self, port: u16) {
            self.conns.retain(|c| c.session_id != 0);
            self.conns.push(ConnInfo::four_letter_word(
                addr(port),
                1_795_619_430_000,
                CONN_EXPIRY,
            ));
        }

        fn set_packets(&mut self, received: u64, sent: u64) {
            let s = &mut self.stats;
            while s.packets_received_count() < received {
                s.packet_received(0);
            }
            s.packets_sent(sent - s.packets_sent_count());
        }
    }

    impl FourLetterSource for Fake {
        fn is_serving(&self) -> bool {
            self.serving
        }
        fn compat_version(&self) -> CompatVersion {
            CompatVersion::V3_8
        }
        fn version(&self) -> String {
            JAVA_VERSION.to_string()
        }
        fn is_read_only(&self) -> bool {
            self.read_only
        }
        fn server_stats(&self) -> &ServerStats {
            &self.stats
        }
        fn server_stats_mut(&mut self) -> &mut ServerStats {
            &mut self.stats
        }
        fn connections(&self) -> Vec<ConnInfo> {
            self.conns.clone()
        }
        fn reset_connection_stats(&mut self) {
            self.conns.iter_mut().for_each(|c| c.stats.reset());
        }
        fn outstanding_requests(&self) -> u64 {
            0
        }
        fn last_processed_zxid(&self) -> i64 {
            7
        }
        fn node_count(&self) -> u64 {
            10
        }
        fn watch_summary(&self) -> WatchSummary {
            WatchSummary {
                connections: 2,
                paths: 2,
                total: 3,
            }
        }
        fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
            vec![
                (SID1, vec!["/a".into(), "/nonexist".into()]),
                (SID2, vec!["/a".into()]),
            ]
        }
        fn watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
            vec![
                ("/a".into(), vec![SID1, SID2]),
                ("/nonexist".into(), vec![SID1]),
            ]
        }
        fn session_expiry(&self) -> Vec<ExpirySet> {
            vec![ExpirySet {
                expires_at_ms: 1_795_619_436_000,
                session_ids: vec![SID1, SID2],
            }]
        }
        fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
            vec![
                (SID2, vec!["/e2".into(), "/e3".into()]),
                (SID1, vec!["/a/e1".into()]),
            ]
        }
        fn conf(&self) -> ServerConf {
            let keys = [
                ("clientPort", "38611"),
                ("secureClientPort", "-1"),
                ("dataDir", "/tmp/j4lw/data/version-2"),
                ("dataLogDir", "/tmp/j4lw/data/version-2"),
                ("tickTime", "2000"),
                ("maxClientCnxns", "60"),
                ("minSessionTimeout", "4000"),
                ("maxSessionTimeout", "40000"),
                ("clientPortListenBacklog", "-1"),
            ];
            ServerConf {
                keys: keys.iter().map(|(k, v)| (*k, v.to_string())).collect(),
                server_id: 0,
            }
        }
        fn monitor_values(&self) -> MonitorValues {
            MonitorValues {
                ephemerals_count: 3,
                global_sessions: 2,
                local_sessions: 0,
                watch_count: 4,
                approximate_data_size: 69,
                open_file_descriptor_count: 41,
                max_file_descriptor_count: 20000,
                connection_drop_probability: 0.0,
                outstanding_tls_handshake: 0,
                uptime_ms: 17921,
                quota_gauges: Vec::new(),
                quorum_size: None,
                leader_uptime_ms: None,
                leader_gauges: None,
                follower_synced_observers: None,
                role_values: Vec::new(),
            }
        }
        fn environment(&self) -> Vec<(String, String)> {
            let v = [
                JAVA_VERSION,
                "localhost",
                "17.0.15",
                "Debian",
                "/usr/lib/jvm/java-17-openjdk-amd64",
                "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar",
                "/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib",
                "/tmp",
                "<NA>",
                "Linux",
                "amd64",
                "6.18.44-fc-v669",
                "root",
                "/root",
                "/tmp/j4lw",
                "368MB",
                "6028MB",
                "388MB",
            ];
            ENVIRONMENT_KEYS
                .iter()
                .zip(v)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }
        fn snap_dir_size(&self) -> u64 {
            67_109_337
        }
        fn txn_log_dir_size(&self) -> u64 {
            67_109_337
        }
        fn trace_mask(&self) -> i64 {
            self.trace
        }
        fn set_trace_mask(&mut self, mask: i64) {
            self.trace = mask;
        }
    }

    fn all() -> FourLetterWhitelist {
        FourLetterWhitelist::All
    }

    fn run(f: &mut Fake, cmd: &str) -> String {
        respond(cmd, f, &all()).expect("a four-letter word")
    }

    #[test]
    fn command_ints() {
        assert_eq!(command_from_int(0x72756f6b), Some("ruok"));
        assert_eq!(command_from_bytes(*b"mntr"), Some("mntr"));
        assert_eq!(command_from_bytes(*b"stmk"), Some("stmk"));
        assert_eq!(command_from_int(-720_899), Some("telnet close"));
        assert_eq!(
            command_from_bytes([0xff, 0xf4, 0xff, 0xfd]),
            Some("telnet close")
        );
        assert_eq!(command_from_bytes([0, 0, 0, 45]), None);
        assert_eq!(command_from_bytes(*b"RUOK"), None);
        for w in WORDS {
            assert_eq!(
                command_from_bytes(w.as_bytes().try_into().unwrap()),
                Some(w)
            );
        }
        let ours: BTreeSet<&str> = WORDS.iter().copied().chain(["telnet close"]).collect();
        let config: BTreeSet<&str> = crate::config::KNOWN_FOUR_LETTER_WORDS.into_iter().collect();
        assert_eq!(ours, config);
    }

    #[test]
    fn whitelist_and_not_words() {
        let mut f = Fake::new();
        let default = FourLetterWhitelist::java_default();
        assert_eq!(
            respond("ruok", &mut f, &default).unwrap(),
            "ruok is not executed because it is not in the whitelist.\n"
        );
        assert_eq!(
            respond("telnet close", &mut f, &default).unwrap(),
            "telnet close is not executed because it is not in the whitelist.\n"
        );
        assert_eq!(
            respond_set_trace_mask(5, &mut f, &default),
            "stmk is not executed because it is not in the whitelist.\n"
        );
        assert!(respond("srvr", &mut f, &default)
            .unwrap()
            .starts_with("Zookeeper version: "));
        assert_eq!(respond("abcd", &mut f, &all()), None);
        assert_eq!(respond("telnet close", &mut f, &all()).unwrap(), "");
        assert_eq!(run(&mut f, "ruok"), "imok");
        assert_eq!(run(&mut f, "isro"), "rw");
        f.read_only = true;
        assert_eq!(run(&mut f, "isro"), "ro");
    }

    #[test]
    fn trace_mask() {
        let mut f = Fake::new();
        assert_eq!(run(&mut f, "gtmk"), "306");
        assert_eq!(respond_set_trace_mask(5, &mut f, &all()), "5");
        assert_eq!(run(&mut f, "gtmk"), "5");
        assert_eq!(respond_set_trace_mask(-2, &mut f, &all()), "-2");
        assert_eq!(run(&mut f, "gtmk"), "-2");
        assert_eq!(run(&mut f, "stmk"), "");
        assert_eq!(run(&mut f, "hash"), "");
    }

    #[test]
    fn srvr_and_stat_as_java() {
        let mut f = Fake::new();
        f.asking(36398);
        f.set_packets(14, 13);
        assert_eq!(
            run(&mut f, "srvr"),
            "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
             Latency min/avg/max: 1/2.4545/8\nReceived: 14\nSent: 13\nConnections: 3\n\
             Outstanding: 0\nZxid: 0x7\nMode: standalone\nNode count: 10\n"
        );
        f.set_packets(15, 14);
        assert_eq!(
            run(&mut f, "stat"),
            "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
             Clients:\n /127.0.0.1:36376[1](queued=0,recved=6,sent=6)\n \
             /127.0.0.1:36382[1](queued=0,recved=5,sent=5)\n \
             /127.0.0.1:36398[0](queued=0,recved=1,sent=0)\n\n\
             Latency min/avg/max: 1/2.4545/8\nReceived: 15\nSent: 14\nConnections: 3\n\
             Outstanding: 0\nZxid: 0x7\nMode: standalone\nNode count: 10\n"
        );
        f.read_only = true;
        assert!(run(&mut f, "srvr")
            .contains("UTC\nREAD-ONLY mode; serving only read-only clients\nLatency min/avg/max:"));
    }

    #[test]
    fn cons_crst_as_java() {
        let mut f = Fake::new();
        f.asking(36410);
        assert_eq!(
            run(&mut f, "cons"),
            " /127.0.0.1:36376[1](queued=0,recved=6,sent=6,sid=0x100000b8a300000,lop=EXIS,\
             est=1795619424634,to=10000,lcxid=0x5,lzxid=0x7,lresp=774054,llat=1,minlat=0,\
             avglat=3,maxlat=8)\n \
             /127.0.0.1:36382[1](queued=0,recved=5,sent=5,sid=0x100000b8a300001,lop=GETC,\
             est=1795619424663,to=10000,lcxid=0x4,lzxid=0x7,lresp=774057,llat=1,minlat=0,\
             avglat=1,maxlat=2)\n /127.0.0.1:36410[0](queued=0,recved=1,sent=0)\n\n"
        );
        assert_eq!(run(&mut f, "crst"), "Connection stats reset.\n");
        // Java lists the asking connection first this time (hash order); ours keeps the
        // source's order.
        f.conns.retain(|c| c.session_id != 0);
        f.conns
            .insert(0, ConnInfo::four_letter_word(addr(36514), 0, CONN_EXPIRY));
        assert_eq!(
            run(&mut f, "cons"),
            " /127.0.0.1:36514[0](queued=0,recved=1,sent=0)\n \
             /127.0.0.1:36376[1](queued=0,recved=0,sent=0,sid=0x100000b8a300000,lop=NA,\
             est=1795619424634,to=10000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,\
             avglat=0,maxlat=0)\n \
             /127.0.0.1:36382[1](queued=0,recved=0,sent=0,sid=0x100000b8a300001,lop=NA,\
             est=1795619424663,to=10000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,\
             avglat=0,maxlat=0)\n\n"
        );
    }

    #[test]
    fn srst_as_java() {
        let mut f = Fake::new();
        f.asking(36520);
        assert_eq!(run(&mut f, "srst"), "Server stats reset.\n");
        // Java, next command: its own packet received, srst's answer sent.
        f.stats.packet_received(4);
        f.stats.packet_sent();
        assert_eq!(
            run(&mut f, "srvr"),
            "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
             Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 1\nConnections: 3\n\
             Outstanding: 0\nZxid: 0x7\nMode: standalone\nNode count: 10\n"
        );
    }

    #[test]
    fn conf_dirs_envi_as_java() {
        let mut f = Fake::new();
        assert_eq!(
            run(&mut f, "conf"),
            "clientPort=38611\nsecureClientPort=-1\ndataDir=/tmp/j4lw/data/version-2\n\
             dataDirSize=67109337\ndataLogDir=/tmp/j4lw/data/version-2\n\
             dataLogSize=67109337\ntickTime=2000\nmaxClientCnxns=60\n\
             minSessionTimeout=4000\nmaxSessionTimeout=40000\n\
             clientPortListenBacklog=-1\nserverId=0\n"
        );
        assert_eq!(
            run(&mut f, "dirs"),
            "datadir_size: 67109337\nlogdir_size: 67109337\n"
        );
        assert_eq!(
            run(&mut f, "envi"),
            "Environment:\n\
             zookeeper.version=3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
             host.name=localhost\njava.version=17.0.15\njava.vendor=Debian\n\
             java.home=/usr/lib/jvm/java-17-openjdk-amd64\n\
             java.class.path=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar\n\
             java.library.path=/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib\n\
             java.io.tmpdir=/tmp\njava.compiler=<NA>\nos.name=Linux\nos.arch=amd64\n\
             os.version=6.18.44-fc-v669\nuser.name=root\nuser.home=/root\nuser.dir=/tmp/j4lw\n\
             os.memory.free=368MB\nos.memory.max=6028MB\nos.memory.total=388MB\n"
        );
    }

    #[test]
    fn conf_and_dirs_swap_sizes_like_java() {
        // Java, dataDir with a 457-byte snapshot and an empty dataLogDir:
        // dataDirSize=0, dataLogSize=457; dirs: datadir_size: 0, logdir_size: 457.
        struct Sizes(Fake);
        let mut f = Fake::new();
        f.conns.clear();
        let mut s = Sizes(f);
        impl FourLetterSource for Sizes {
            fn compat_version(&self) -> CompatVersion {
                CompatVersion::V3_8
            }
            fn environment(&self) -> Vec<(String, String)> {
                Vec::new()
            }
            fn server_stats(&self) -> &ServerStats {
                self.0.server_stats()
            }
            fn server_stats_mut(&mut self) -> &mut ServerStats {
                self.0.server_stats_mut()
            }
            fn connections(&self) -> Vec<ConnInfo> {
                Vec::new()
            }
            fn reset_connection_stats(&mut self) {}
            fn outstanding_requests(&self) -> u64 {
                0
            }
            fn last_processed_zxid(&self) -> i64 {
                0
            }
            fn node_count(&self) -> u64 {
                5
            }
            fn watch_summary(&self) -> WatchSummary {
                WatchSummary::default()
            }
            fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
                Vec::new()
            }
            fn watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
                Vec::new()
            }
            fn session_expiry(&self) -> Vec<ExpirySet> {
                Vec::new()
            }
            fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
                Vec::new()
            }
            fn conf(&self) -> ServerConf {
                let mut c = self.0.conf();
                c.set("dataLogDir", "/tmp/j4lw/logs/version-2");
                c
            }
            fn monitor_values(&self) -> MonitorValues {
                MonitorValues::default()
            }
            fn snap_dir_size(&self) -> u64 {
                457
            }
            fn txn_log_dir_size(&self) -> u64 {
                0
            }
        }
        let conf = respond("conf", &mut s, &all()).unwrap();
        assert!(conf.contains(
            "dataDir=/tmp/j4lw/data/version-2\ndataDirSize=0\n\
             dataLogDir=/tmp/j4lw/logs/version-2\ndataLogSize=457\n"
        ));
        assert_eq!(
            respond("dirs", &mut s, &all()).unwrap(),
            "datadir_size: 0\nlogdir_size: 457\n"
        );
        // Fresh server, nothing watched, only the asking connection: Java's answers.
        assert_eq!(
            respond("wchs", &mut s, &all()).unwrap(),
            "0 connections watching 0 paths\nTotal watches:0\n"
        );
        assert_eq!(respond("wchc", &mut s, &all()).unwrap(), "\n");
        assert_eq!(respond("wchp", &mut s, &all()).unwrap(), "\n");
        assert_eq!(respond("cons", &mut s, &all()).unwrap(), "\n");
        assert_eq!(
            respond("dump", &mut s, &all()).unwrap(),
            "SessionTracker dump:\nSession Sets (0)/(0):\nephemeral nodes dump:\n\
             Sessions with Ephemerals (0):\nConnections dump:\nConnections Sets (0)/(0):\n"
        );
    }

    #[test]
    fn watches_as_java() {
        let mut f = Fake::new();
        assert_eq!(
            run(&mut f, "wchs"),
            "2 connections watching 2 paths\nTotal watches:3\n"
        );
        assert_eq!(
            run(&mut f, "wchc"),
            "0x100000b8a300000\n\t/a\n\t/nonexist\n0x100000b8a300001\n\t/a\n\n"
        );
        assert_eq!(
            run(&mut f, "wchp"),
            "/a\n\t0x100000b8a300000\n\t0x100000b8a300001\n/nonexist\n\t0x100000b8a300000\n\n"
        );
    }

    #[test]
    fn dump_as_java() {
        let mut f = Fake::new();
        f.asking(36422);
        // Java also printed "0 expire at Wed Nov 25 15:10:30 UTC 2026:" (an emptied bucket)
        // and so "Connections Sets (2)/(3)"; everything else is identical.
        assert_eq!(
            run(&mut f, "dump"),
            "SessionTracker dump:\nSession Sets (1)/(2):\n\
             2 expire at Wed Nov 25 15:10:36 UTC 2026:\n\t0x100000b8a300000\n\t0x100000b8a300001\n\
             ephemeral nodes dump:\nSessions with Ephemerals (2):\n\
             0x100000b8a300001:\n\t/e2\n\t/e3\n0x100000b8a300000:\n\t/a/e1\n\
             Connections dump:\nConnections Sets (1)/(3):\n\
             3 expire at Wed Nov 25 15:10:40 UTC 2026:\n\
             \tip: /127.0.0.1:36376 sessionId: 0x100000b8a300000\n\
             \tip: /127.0.0.1:36382 sessionId: 0x100000b8a300001\n\
             \tip: /127.0.0.1:36422 sessionId: 0x0\n"
        );
        // A fresh Java server, the asking connection only.
        let mut g = Fake::new();
        g.conns.clear();
        g.asking(40550);
        g.conns[0].expires_at_ms = 1_795_619_570_000;
        let d = run(&mut g, "dump");
        assert!(d.ends_with(
            "Connections dump:\nConnections Sets (1)/(1):\n\
             1 expire at Wed Nov 25 15:12:50 UTC 2026:\n\tip: /127.0.0.1:40550 sessionId: 0x0\n"
        ));
    }

    #[test]
    fn not_serving() {
        let mut f = Fake::new();
        f.serving = false;
        for cmd in [
            "srvr", "stat", "conf", "cons", "crst", "srst", "dump", "mntr", "wchs", "wchc", "wchp",
            "dirs",
        ] {
            assert_eq!(run(&mut f, cmd), format!("{ZK_NOT_SERVING}\n"), "{cmd}");
        }
        assert_eq!(run(&mut f, "hash"), ZK_NOT_SERVING);
        assert_eq!(run(&mut f, "isro"), "null");
        assert_eq!(run(&mut f, "ruok"), "imok");
        assert_eq!(run(&mut f, "gtmk"), "306");
        assert!(run(&mut f, "envi").starts_with("Environment:\nzookeeper.version="));
    }

    /// `mntr` of Debian's Java 3.8.0 for the captured session (two clients, a few creates
    /// and reads), before the per-namespace lines.
    const JAVA_MNTR: &str = r#"zk_version	3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
zk_server_state	standalone
zk_ephemerals_count	3
zk_num_alive_connections	3
zk_avg_latency	2.4545
zk_outstanding_requests	0
zk_znode_count	10
zk_global_sessions	2
zk_non_mtls_remote_conn_count	0
zk_last_client_response_size	55
zk_packets_sent	19
zk_packets_received	20
zk_max_client_response_size	93
zk_connection_drop_probability	0.0
zk_watch_count	4
zk_auth_failed_count	0
zk_min_latency	1
zk_max_file_descriptor_count	20000
zk_approximate_data_size	69
zk_open_file_descriptor_count	41
zk_local_sessions	0
zk_uptime	17921
zk_max_latency	8
zk_outstanding_tls_handshake	0
zk_min_client_response_size	16
zk_non_mtls_local_conn_count	0
zk_proposal_count	0
zk_watch_bytes	0
zk_outstanding_changes_removed	10
zk_throttled_ops	0
zk_stale_requests_dropped	0
zk_large_requests_rejected	0
zk_insecure_admin_count	0
zk_connection_rejected	0
zk_cnxn_closed_without_zk_server_running	0
zk_sessionless_connections_expired	0
zk_looking_count	0
zk_dead_watchers_queued	0
zk_stale_requests	0
zk_connection_drop_count	0
zk_learner_proposal_received_count	0
zk_digest_mismatches_count	0
zk_dead_watchers_cleared	0
zk_response_packet_cache_hits	1
zk_bytes_received_count	496
zk_add_dead_watcher_stall_time	0
zk_request_throttle_wait_count	0
zk_requests_not_forwarded_to_commit_processor	0
zk_response_packet_cache_misses	1
zk_ensemble_auth_success	0
zk_prep_processor_request_queued	11
zk_learner_commit_received_count	0
zk_stale_replies	0
zk_connection_request_count	2
zk_response_bytes	372
zk_ensemble_auth_fail	0
zk_diff_count	0
zk_response_packet_get_children_cache_misses	0
zk_connection_revalidate_count	0
zk_quit_leading_due_to_disloyal_voter	0
zk_snap_count	0
zk_unrecoverable_error_count	0
zk_unsuccessful_handshake	0
zk_commit_count	0
zk_stale_sessions_expired	0
zk_response_packet_get_children_cache_hits	0
zk_sync_processor_request_queued	11
zk_outstanding_changes_queued	10
zk_request_commit_queued	0
zk_ensemble_auth_skip	0
zk_skip_learner_request_to_next_processor_count	0
zk_tls_handshake_exceeded	0
zk_revalidate_count	0
zk_avg_socket_closing_time	0.0
zk_min_socket_closing_time	0
zk_max_socket_closing_time	0
zk_cnt_socket_closing_time	0
zk_sum_socket_closing_time	0
zk_avg_proposal_process_time	0.0909
zk_min_proposal_process_time	0
zk_max_proposal_process_time	1
zk_cnt_proposal_process_time	11
zk_sum_proposal_process_time	1
zk_avg_leader_unavailable_time	0.0
zk_min_leader_unavailable_time	0
zk_max_leader_unavailable_time	0
zk_cnt_leader_unavailable_time	0
zk_sum_leader_unavailable_time	0
zk_avg_node_created_watch_count	0.0
zk_min_node_created_watch_count	0
zk_max_node_created_watch_count	0
zk_cnt_node_created_watch_count	0
zk_sum_node_created_watch_count	0
zk_avg_session_queues_drained	0.0
zk_min_session_queues_drained	0
zk_max_session_queues_drained	0
zk_cnt_session_queues_drained	0
zk_sum_session_queues_drained	0
zk_avg_write_commit_proc_req_queued	0.0
zk_min_write_commit_proc_req_queued	0
zk_max_write_commit_proc_req_queued	0
zk_cnt_write_commit_proc_req_queued	0
zk_sum_write_commit_proc_req_queued	0
zk_avg_connection_token_deficit	0.0
zk_min_connection_token_deficit	0
zk_max_connection_token_deficit	0
zk_cnt_connection_token_deficit	2
zk_sum_connection_token_deficit	0
zk_avg_read_commit_proc_req_queued	0.0
zk_min_read_commit_proc_req_queued	0
zk_max_read_commit_proc_req_queued	0
zk_cnt_read_commit_proc_req_queued	0
zk_sum_read_commit_proc_req_queued	0
zk_avg_node_deleted_watch_count	0.0
zk_min_node_deleted_watch_count	0
zk_max_node_deleted_watch_count	0
zk_cnt_node_deleted_watch_count	0
zk_sum_node_deleted_watch_count	0
zk_avg_startup_txns_load_time	0.0
zk_min_startup_txns_load_time	0
zk_max_startup_txns_load_time	0
zk_cnt_startup_txns_load_time	0
zk_sum_startup_txns_load_time	0
zk_avg_sync_processor_queue_size	0.0
zk_min_sync_processor_queue_size	0
zk_max_sync_processor_queue_size	0
zk_cnt_sync_processor_queue_size	12
zk_sum_sync_processor_queue_size	0
zk_avg_follower_sync_time	0.0
zk_min_follower_sync_time	0
zk_max_follower_sync_time	0
zk_cnt_follower_sync_time	0
zk_sum_follower_sync_time	0
zk_avg_prep_processor_queue_size	0.0
zk_min_prep_processor_queue_size	0
zk_max_prep_processor_queue_size	0
zk_cnt_prep_processor_queue_size	12
zk_sum_prep_processor_queue_size	0
zk_avg_fsynctime	0.1429
zk_min_fsynctime	0
zk_max_fsynctime	1
zk_cnt_fsynctime	7
zk_sum_fsynctime	1
zk_avg_inflight_snap_count	0.0
zk_min_inflight_snap_count	0
zk_max_inflight_snap_count	0
zk_cnt_inflight_snap_count	0
zk_sum_inflight_snap_count	0
zk_avg_reads_issued_from_session_queue	0.0
zk_min_reads_issued_from_session_queue	0
zk_max_reads_issued_from_session_queue	0
zk_cnt_reads_issued_from_session_queue	0
zk_sum_reads_issued_from_session_queue	0
zk_avg_learner_request_processor_queue_size	0.0
zk_min_learner_request_processor_queue_size	0
zk_max_learner_request_processor_queue_size	0
zk_cnt_learner_request_processor_queue_size	0
zk_sum_learner_request_processor_queue_size	0
zk_avg_snapshottime	1.0
zk_min_snapshottime	1
zk_max_snapshottime	1
zk_cnt_snapshottime	1
zk_sum_snapshottime	1
zk_avg_unavailable_time	0.0
zk_min_unavailable_time	0
zk_max_unavailable_time	0
zk_cnt_unavailable_time	0
zk_sum_unavailable_time	0
zk_avg_startup_txns_loaded	0.0
zk_min_startup_txns_loaded	0
zk_max_startup_txns_loaded	0
zk_cnt_startup_txns_loaded	0
zk_sum_startup_txns_loaded	0
zk_avg_reads_after_write_in_session_queue	0.0
zk_min_reads_after_write_in_session_queue	0
zk_max_reads_after_write_in_session_queue	0
zk_cnt_reads_after_write_in_session_queue	0
zk_sum_reads_after_write_in_session_queue	0
zk_avg_requests_in_session_queue	0.0
zk_min_requests_in_session_queue	0
zk_max_requests_in_session_queue	0
zk_cnt_requests_in_session_queue	0
zk_sum_requests_in_session_queue	0
zk_avg_write_commit_proc_issued	0.0
zk_min_write_commit_proc_issued	0
zk_max_write_commit_proc_issued	0
zk_cnt_write_commit_proc_issued	0
zk_sum_write_commit_proc_issued	0
zk_avg_prep_process_time	0.5455
zk_min_prep_process_time	0
zk_max_prep_process_time	4
zk_cnt_prep_process_time	11
zk_sum_prep_process_time	6
zk_avg_pending_session_queue_size	0.0
zk_min_pending_session_queue_size	0
zk_max_pending_session_queue_size	0
zk_cnt_pending_session_queue_size	0
zk_sum_pending_session_queue_size	0
zk_avg_time_waiting_empty_pool_in_commit_processor_read_ms	0.0
zk_min_time_waiting_empty_pool_in_commit_processor_read_ms	0
zk_max_time_waiting_empty_pool_in_commit_processor_read_ms	0
zk_cnt_time_waiting_empty_pool_in_commit_processor_read_ms	0
zk_sum_time_waiting_empty_pool_in_commit_processor_read_ms	0
zk_avg_commit_process_time	0.0
zk_min_commit_process_time	0
zk_max_commit_process_time	0
zk_cnt_commit_process_time	0
zk_sum_commit_process_time	0
zk_avg_dbinittime	23.0
zk_min_dbinittime	23
zk_max_dbinittime	23
zk_cnt_dbinittime	1
zk_sum_dbinittime	23
zk_avg_inflight_diff_count	0.0
zk_min_inflight_diff_count	0
zk_max_inflight_diff_count	0
zk_cnt_inflight_diff_count	0
zk_sum_inflight_diff_count	0
zk_avg_netty_queued_buffer_capacity	0.0
zk_min_netty_queued_buffer_capacity	0
zk_max_netty_queued_buffer_capacity	0
zk_cnt_netty_queued_buffer_capacity	0
zk_sum_netty_queued_buffer_capacity	0
zk_avg_election_time	0.0
zk_min_election_time	0
zk_max_election_time	0
zk_cnt_election_time	0
zk_sum_election_time	0
zk_avg_commit_commit_proc_req_queued	0.0
zk_min_commit_commit_proc_req_queued	0
zk_max_commit_commit_proc_req_queued	0
zk_cnt_commit_commit_proc_req_queued	0
zk_sum_commit_commit_proc_req_queued	0
zk_avg_sync_processor_batch_size	1.0
zk_min_sync_processor_batch_size	1
zk_max_sync_processor_batch_size	1
zk_cnt_sync_processor_batch_size	7
zk_sum_sync_processor_batch_size	7
zk_avg_node_children_watch_count	0.0
zk_min_node_children_watch_count	0
zk_max_node_children_watch_count	0
zk_cnt_node_children_watch_count	0
zk_sum_node_children_watch_count	0
zk_avg_write_batch_time_in_commit_processor	0.0
zk_min_write_batch_time_in_commit_processor	0
zk_max_write_batch_time_in_commit_processor	0
zk_cnt_write_batch_time_in_commit_processor	0
zk_sum_write_batch_time_in_commit_processor	0
zk_avg_read_commit_proc_issued	0.0
zk_min_read_commit_proc_issued	0
zk_max_read_commit_proc_issued	0
zk_cnt_read_commit_proc_issued	0
zk_sum_read_commit_proc_issued	0
zk_avg_concurrent_request_processing_in_commit_processor	0.0
zk_min_concurrent_request_processing_in_commit_processor	0
zk_max_concurrent_request_processing_in_commit_processor	0
zk_cnt_concurrent_request_processing_in_commit_processor	0
zk_sum_concurrent_request_processing_in_commit_processor	0
zk_avg_observer_sync_time	0.0
zk_min_observer_sync_time	0
zk_max_observer_sync_time	0
zk_cnt_observer_sync_time	0
zk_sum_observer_sync_time	0
zk_avg_node_changed_watch_count	0.0
zk_min_node_changed_watch_count	0
zk_max_node_changed_watch_count	0
zk_cnt_node_changed_watch_count	0
zk_sum_node_changed_watch_count	0
zk_avg_sync_process_time	0.0
zk_min_sync_process_time	0
zk_max_sync_process_time	0
zk_cnt_sync_process_time	7
zk_sum_sync_process_time	0
zk_avg_startup_snap_load_time	2.0
zk_min_startup_snap_load_time	2
zk_max_startup_snap_load_time	2
zk_cnt_startup_snap_load_time	1
zk_sum_startup_snap_load_time	2
zk_avg_prep_processor_queue_time_ms	0.0
zk_min_prep_processor_queue_time_ms	0
zk_max_prep_processor_queue_time_ms	0
zk_cnt_prep_processor_queue_time_ms	11
zk_sum_prep_processor_queue_time_ms	0
zk_p50_prep_processor_queue_time_ms	0
zk_p95_prep_processor_queue_time_ms	0
zk_p99_prep_processor_queue_time_ms	0
zk_p999_prep_processor_queue_time_ms	0
zk_avg_jvm_pause_time_ms	0.0
zk_min_jvm_pause_time_ms	0
zk_max_jvm_pause_time_ms	0
zk_cnt_jvm_pause_time_ms	0
zk_sum_jvm_pause_time_ms	0
zk_p50_jvm_pause_time_ms	0
zk_p95_jvm_pause_time_ms	0
zk_p99_jvm_pause_time_ms	0
zk_p999_jvm_pause_time_ms	0
zk_avg_close_session_prep_time	0.0
zk_min_close_session_prep_time	0
zk_max_close_session_prep_time	0
zk_cnt_close_session_prep_time	0
zk_sum_close_session_prep_time	0
zk_p50_close_session_prep_time	0
zk_p95_close_session_prep_time	0
zk_p99_close_session_prep_time	0
zk_p999_close_session_prep_time	0
zk_avg_read_commitproc_time_ms	0.0
zk_min_read_commitproc_time_ms	0
zk_max_read_commitproc_time_ms	0
zk_cnt_read_commitproc_time_ms	0
zk_sum_read_commitproc_time_ms	0
zk_p50_read_commitproc_time_ms	0
zk_p95_read_commitproc_time_ms	0
zk_p99_read_commitproc_time_ms	0
zk_p999_read_commitproc_time_ms	0
zk_avg_updatelatency	3.1429
zk_min_updatelatency	1
zk_max_updatelatency	8
zk_cnt_updatelatency	7
zk_sum_updatelatency	22
zk_p50_updatelatency	2
zk_p95_updatelatency	8
zk_p99_updatelatency	8
zk_p999_updatelatency	8
zk_avg_local_write_committed_time_ms	0.0
zk_min_local_write_committed_time_ms	0
zk_max_local_write_committed_time_ms	0
zk_cnt_local_write_committed_time_ms	0
zk_sum_local_write_committed_time_ms	0
zk_p50_local_write_committed_time_ms	0
zk_p95_local_write_committed_time_ms	0
zk_p99_local_write_committed_time_ms	0
zk_p999_local_write_committed_time_ms	0
zk_avg_request_throttle_queue_time_ms	0.0
zk_min_request_throttle_queue_time_ms	0
zk_max_request_throttle_queue_time_ms	0
zk_cnt_request_throttle_queue_time_ms	11
zk_sum_request_throttle_queue_time_ms	0
zk_p50_request_throttle_queue_time_ms	0
zk_p95_request_throttle_queue_time_ms	0
zk_p99_request_throttle_queue_time_ms	0
zk_p999_request_throttle_queue_time_ms	0
zk_avg_readlatency	1.25
zk_min_readlatency	1
zk_max_readlatency	2
zk_cnt_readlatency	4
zk_sum_readlatency	5
zk_p50_readlatency	1
zk_p95_readlatency	2
zk_p99_readlatency	2
zk_p999_readlatency	2
zk_avg_quorum_ack_latency	0.0
zk_min_quorum_ack_latency	0
zk_max_quorum_ack_latency	0
zk_cnt_quorum_ack_latency	0
zk_sum_quorum_ack_latency	0
zk_p50_quorum_ack_latency	0
zk_p95_quorum_ack_latency	0
zk_p99_quorum_ack_latency	0
zk_p999_quorum_ack_latency	0
zk_avg_om_commit_process_time_ms	0.0
zk_min_om_commit_process_time_ms	0
zk_max_om_commit_process_time_ms	0
zk_cnt_om_commit_process_time_ms	0
zk_sum_om_commit_process_time_ms	0
zk_p50_om_commit_process_time_ms	0
zk_p95_om_commit_process_time_ms	0
zk_p99_om_commit_process_time_ms	0
zk_p999_om_commit_process_time_ms	0
zk_avg_read_final_proc_time_ms	0.0
zk_min_read_final_proc_time_ms	0
zk_max_read_final_proc_time_ms	0
zk_cnt_read_final_proc_time_ms	0
zk_sum_read_final_proc_time_ms	0
zk_p50_read_final_proc_time_ms	0
zk_p95_read_final_proc_time_ms	0
zk_p99_read_final_proc_time_ms	0
zk_p999_read_final_proc_time_ms	0
zk_avg_commit_propagation_latency	0.0
zk_min_commit_propagation_latency	0
zk_max_commit_propagation_latency	0
zk_cnt_commit_propagation_latency	0
zk_sum_commit_propagation_latency	0
zk_p50_commit_propagation_latency	0
zk_p95_commit_propagation_latency	0
zk_p99_commit_propagation_latency	0
zk_p999_commit_propagation_latency	0
zk_avg_dead_watchers_cleaner_latency	0.0
zk_min_dead_watchers_cleaner_latency	0
zk_max_dead_watchers_cleaner_latency	0
zk_cnt_dead_watchers_cleaner_latency	0
zk_sum_dead_watchers_cleaner_latency	0
zk_p50_dead_watchers_cleaner_latency	0
zk_p95_dead_watchers_cleaner_latency	0
zk_p99_dead_watchers_cleaner_latency	0
zk_p999_dead_watchers_cleaner_latency	0
zk_avg_write_final_proc_time_ms	0.0
zk_min_write_final_proc_time_ms	0
zk_max_write_final_proc_time_ms	0
zk_cnt_write_final_proc_time_ms	0
zk_sum_write_final_proc_time_ms	0
zk_p50_write_final_proc_time_ms	0
zk_p95_write_final_proc_time_ms	0
zk_p99_write_final_proc_time_ms	0
zk_p999_write_final_proc_time_ms	0
zk_avg_proposal_ack_creation_latency	0.0
zk_min_proposal_ack_creation_latency	0
zk_max_proposal_ack_creation_latency	0
zk_cnt_proposal_ack_creation_latency	0
zk_sum_proposal_ack_creation_latency	0
zk_p50_proposal_ack_creation_latency	0
zk_p95_proposal_ack_creation_latency	0
zk_p99_proposal_ack_creation_latency	0
zk_p999_proposal_ack_creation_latency	0
zk_avg_proposal_latency	0.0
zk_min_proposal_latency	0
zk_max_proposal_latency	0
zk_cnt_proposal_latency	0
zk_sum_proposal_latency	0
zk_p50_proposal_latency	0
zk_p95_proposal_latency	0
zk_p99_proposal_latency	0
zk_p999_proposal_latency	0
zk_avg_om_proposal_process_time_ms	0.0
zk_min_om_proposal_process_time_ms	0
zk_max_om_proposal_process_time_ms	0
zk_cnt_om_proposal_process_time_ms	0
zk_sum_om_proposal_process_time_ms	0
zk_p50_om_proposal_process_time_ms	0
zk_p95_om_proposal_process_time_ms	0
zk_p99_om_proposal_process_time_ms	0
zk_p999_om_proposal_process_time_ms	0
zk_avg_sync_processor_queue_and_flush_time_ms	1.0
zk_min_sync_processor_queue_and_flush_time_ms	0
zk_max_sync_processor_queue_and_flush_time_ms	3
zk_cnt_sync_processor_queue_and_flush_time_ms	7
zk_sum_sync_processor_queue_and_flush_time_ms	7
zk_p50_sync_processor_queue_and_flush_time_ms	1
zk_p95_sync_processor_queue_and_flush_time_ms	3
zk_p99_sync_processor_queue_and_flush_time_ms	3
zk_p999_sync_processor_queue_and_flush_time_ms	3
zk_avg_propagation_latency	3.0
zk_min_propagation_latency	1
zk_max_propagation_latency	7
zk_cnt_propagation_latency	7
zk_sum_propagation_latency	21
zk_p50_propagation_latency	2
zk_p95_propagation_latency	7
zk_p99_propagation_latency	7
zk_p999_propagation_latency	7
zk_avg_server_write_committed_time_ms	0.0
zk_min_server_write_committed_time_ms	0
zk_max_server_write_committed_time_ms	0
zk_cnt_server_write_committed_time_ms	0
zk_sum_server_write_committed_time_ms	0
zk_p50_server_write_committed_time_ms	0
zk_p95_server_write_committed_time_ms	0
zk_p99_server_write_committed_time_ms	0
zk_p999_server_write_committed_time_ms	0
zk_avg_sync_processor_queue_time_ms	0.4545
zk_min_sync_processor_queue_time_ms	0
zk_max_sync_processor_queue_time_ms	1
zk_cnt_sync_processor_queue_time_ms	11
zk_sum_sync_processor_queue_time_ms	5
zk_p50_sync_processor_queue_time_ms	0
zk_p95_sync_processor_queue_time_ms	1
zk_p99_sync_processor_queue_time_ms	1
zk_p999_sync_processor_queue_time_ms	1
zk_avg_sync_processor_queue_flush_time_ms	0.5714
zk_min_sync_processor_queue_flush_time_ms	0
zk_max_sync_processor_queue_flush_time_ms	2
zk_cnt_sync_processor_queue_flush_time_ms	7
zk_sum_sync_processor_queue_flush_time_ms	4
zk_p50_sync_processor_queue_flush_time_ms	0
zk_p95_sync_processor_queue_flush_time_ms	2
zk_p99_sync_processor_queue_flush_time_ms	2
zk_p999_sync_processor_queue_flush_time_ms	2
zk_avg_write_commitproc_time_ms	0.0
zk_min_write_commitproc_time_ms	0
zk_max_write_commitproc_time_ms	0
zk_cnt_write_commitproc_time_ms	0
zk_sum_write_commitproc_time_ms	0
zk_p50_write_commitproc_time_ms	0
zk_p95_write_commitproc_time_ms	0
zk_p99_write_commitproc_time_ms	0
zk_p999_write_commitproc_time_ms	0
"#;

    /// Feeds `stats` data points that reproduce the summaries of Java's `mntr` text.
    fn replay_java_summaries(stats: &mut ServerStats, java: &str) {
        let value = |key: &str| -> i64 {
            java.lines()
                .find_map(|l| l.strip_prefix(&format!("zk_{key}\t")))
                .unwrap_or_else(|| panic!("{key} missing"))
                .parse()
                .unwrap()
        };
        for sm in Summary::ALL {
            let n = sm.java_name();
            let (min, max, cnt, sum) = (
                value(&format!("min_{n}")),
                value(&format!("max_{n}")),
                value(&format!("cnt_{n}")),
                value(&format!("sum_{n}")),
            );
            let mut points = Vec::new();
            if cnt >= 1 {
                points.push(min);
            }
            if cnt >= 2 {
                points.push(max);
            }
            let mut rest = sum - points.iter().sum::<i64>();
            for i in 2..cnt {
                let left = cnt - i - 1;
                let v = (rest - left * min).min(max).max(min);
                points.push(v);
                rest -= v;
            }
            for p in points {
                stats.add_summary(*sm, p);
            }
        }
        // Percentile summaries: values chosen to give Java's cnt/sum/min/max and p50..p999.
        let chosen: [(PercentileSummary, &[i64]); 7] = [
            (PercentileSummary::PrepProcessorQueueTime, &[0; 11]),
            (PercentileSummary::RequestThrottleQueueTime, &[0; 11]),
            (PercentileSummary::UpdateLatency, &[1, 1, 2, 2, 3, 5, 8]),
            (PercentileSummary::ReadLatency, &[1, 1, 1, 2]),
            (
                PercentileSummary::SyncProcessorQueueAndFlushTime,
                &[0, 0, 1, 1, 1, 1, 3],
            ),
            (
                PercentileSummary::PropagationLatency,
                &[1, 1, 2, 2, 4, 4, 7],
            ),
            (
                PercentileSummary::SyncProcessorQueueFlushTime,
                &[0, 0, 0, 0, 1, 1, 2],
            ),
        ];
        for (ps, points) in chosen {
            for p in points {
                stats.add_percentile(ps, *p);
            }
        }
        for p in [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1] {
            stats.add_percentile(PercentileSummary::SyncProcessorQueueTime, p);
        }
        for c in Counter::ALL {
            let v = value(c.java_name());
            stats.add(*c, v as u64 - stats.counter(*c));
        }
    }

    #[test]
    fn mntr_as_java() {
        let mut f = Fake::new();
        f.asking(36500);
        let mut stats = ServerStats::new(0);
        // Request latency 1/2.4545/8 over 11 requests; Java's update/read latency
        // summaries are replayed below, so the named metrics are cleared first.
        for l in [8, 1, 2, 3, 2, 1, 2, 5, 1, 1, 1] {
            stats.record_request(l, true);
        }
        for size in [16, 93, 55] {
            stats.client_response_size(size);
        }
        for _ in 0..20 {
            stats.packet_received(0);
        }
        stats.packets_sent(19);
        stats.reset_metrics();
        replay_java_summaries(&mut stats, JAVA_MNTR);
        // Per-namespace: getData /a ("hello") twice; creates /a, /a/e1, /b, /e2, /e3.
        stats.record_namespace_read("/a", 5);
        stats.record_namespace_read("/a", 5);
        for (path, len) in [("/a", 5), ("/a/e1", 1), ("/b", 0), ("/e2", 2), ("/e3", 2)] {
            stats.record_namespace_write(path, len);
        }
        f.stats = stats;
        let per_namespace = "\
zk_avg_a_read_per_namespace\t75.0
zk_min_a_read_per_namespace\t75
zk_max_a_read_per_namespace\t75
zk_cnt_a_read_per_namespace\t2
zk_sum_a_read_per_namespace\t150
zk_avg_a_write_per_namespace\t6.5
zk_min_a_write_per_namespace\t6
zk_max_a_write_per_namespace\t7
zk_cnt_a_write_per_namespace\t2
zk_sum_a_write_per_namespace\t13
zk_avg_b_write_per_namespace\t2.0
zk_min_b_write_per_namespace\t2
zk_max_b_write_per_namespace\t2
zk_cnt_b_write_per_namespace\t1
zk_sum_b_write_per_namespace\t2
zk_avg_e2_write_per_namespace\t5.0
zk_min_e2_write_per_namespace\t5
zk_max_e2_write_per_namespace\t5
zk_cnt_e2_write_per_namespace\t1
zk_sum_e2_write_per_namespace\t5
zk_avg_e3_write_per_namespace\t5.0
zk_min_e3_write_per_namespace\t5
zk_max_e3_write_per_namespace\t5
zk_cnt_e3_write_per_namespace\t1
zk_sum_e3_write_per_namespace\t5
";
        let ours = run(&mut f, "mntr");
        let expected = format!("{JAVA_MNTR}{per_namespace}");
        for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, b, "line {}", i + 1);
        }
        assert_eq!(ours, expected);
        // 17153 characters: Java sends them in 3 chunks.
        assert_eq!(ours.len(), 17153);
        assert_eq!(response_packets(&ours), 3);
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(2.4545), "2.4545");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.0009), "9.0E-4");
        assert_eq!(java_double(3.0E-4), "3.0E-4");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(9_999_999.999_9), "9999999.9999");
        assert_eq!(java_double(123_456_789.123_4), "1.234567891234E8");
        assert_eq!(java_socket_addr(Some(addr(1234))), "/127.0.0.1:1234");
        assert_eq!(
            java_socket_addr(Some("[::1]:1234".parse().unwrap())),
            "/[0:0:0:0:0:0:0:1]:1234"
        );
        assert_eq!(
            java_socket_addr(Some("[2001:db8::ff00:42:8329]:1234".parse().unwrap())),
            "/[2001:db8:0:0:0:ff00:42:8329]:1234"
        );
        assert_eq!(
            java_socket_addr(Some("[::ffff:127.0.0.1]:1234".parse().unwrap())),
            "/127.0.0.1:1234"
        );
        assert_eq!(
            java_socket_addr(Some("[fe80::1%1]:1234".parse().unwrap())),
            "/[fe80:0:0:0:0:0:0:1%1]:1234"
        );
        assert_eq!(java_socket_addr(None), "null");
        assert_eq!(java_date(1_795_619_424_634), "Wed Nov 25 15:10:24 UTC 2026");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
        assert_eq!(response_packets(""), 0);
        assert_eq!(response_packets("imok"), 1);
        assert_eq!(response_packets(&"x".repeat(8192)), 1);
        assert_eq!(response_packets(&"x".repeat(8193)), 2);
        assert!(full_version(CompatVersion::V3_8).starts_with("3.8.0-zk-rs, built on "));
        assert!(full_version(CompatVersion::V3_9).starts_with("3.9.3-zk-rs, built on "));
        // A real date from build.rs (not the epoch), in Java's `yyyy-MM-dd HH:mm UTC`.
        let date = full_version(CompatVersion::V3_9)["3.9.3-zk-rs, built on ".len()..].to_string();
        let shape: String = date
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "9999-99-99 99:99 UTC", "{date}");
        assert!(date.as_str() > "2024", "{date}");
    }

    #[test]
    fn server_conf_from_config() {
        let text = "tickTime=2000\ndataDir=/tmp/x/data\nclientPort=2181\n";
        let (cfg, _) = crate::config::parse(text).unwrap();
        let c = ServerConf::from_config(&cfg);
        assert_eq!(c.data_dir(), PathBuf::from("/tmp/x/data/version-2"));
        assert_eq!(c.data_log_dir(), PathBuf::from("/tmp/x/data/version-2"));
        let shown: Vec<(&str, &str)> = c.keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            shown,
            [
                ("clientPort", "2181"),
                ("secureClientPort", "-1"),
                ("dataDir", "/tmp/x/data/version-2"),
                ("dataLogDir", "/tmp/x/data/version-2"),
                ("tickTime", "2000"),
                ("maxClientCnxns", "60"),
                ("minSessionTimeout", "4000"),
                ("maxSessionTimeout", "40000"),
                ("clientPortListenBacklog", "-1"),
            ]
        );
        assert_eq!(c.server_id, 0);
    }
}
