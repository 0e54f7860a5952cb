//! The AdminServer's commands (Java's `Commands`, `CommandBase`, `CommandResponse`): their
//! names and aliases, and what each answers as a [`Json`] value, from an [`AdminSource`]
//! (the four-letter words' [`FourLetterSource`] plus what only the AdminServer shows).
//! Pure: no IO, no clock; the pipeline hands in its view, the HTTP glue prints the result.
//!
//! Field names, types and order are Java's (Jackson with snake-case names), compared with
//! Java 3.8.0 and 3.9.3 in `compat-tests/python/test_admin.py`.

use super::json::Json;
use crate::auth::{self, AuthConfig, AuthId};
use crate::fourlw::{self, ConnInfo, FourLetterSource};
use crate::stats::BufferStats;
use std::net::SocketAddr;
use zk_quorum::zab::leader_net::LearnerInfo;

/// One command: its names (the first is the primary one, which answers carry), whether it
/// needs a serving server (Java's `isServerRequired`), and from which generation on it
/// exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub names: &'static [&'static str],
    pub server_required: bool,
    /// Java 3.9's `snapshot` and `restore`.
    pub since_3_9: bool,
    /// A POST command (3.9's `restore`); every other command is a GET.
    pub post: bool,
    /// Needs an `Authorization` header and ALL permission on `/` (3.9).
    pub auth: bool,
}

const fn get(names: &'static [&'static str], server_required: bool) -> Command {
    Command {
        names,
        server_required,
        since_3_9: false,
        post: false,
        auth: false,
    }
}

/// Java's registry, in its registration order.
pub const COMMANDS: &[Command] = &[
    get(&["connection_stat_reset", "crst"], true),
    get(&["configuration", "conf", "config"], true),
    get(&["connections", "cons"], true),
    get(&["hash"], true),
    get(&["dirs"], true),
    get(&["dump"], true),
    get(&["environment", "env", "envi"], false),
    get(&["get_trace_mask", "gtmk"], false),
    get(&["initial_configuration", "icfg"], true),
    get(&["is_read_only", "isro"], true),
    get(&["last_snapshot", "lsnp"], true),
    get(&["leader", "lead"], true),
    get(&["monitor", "mntr"], false),
    get(&["observer_connection_stat_reset", "orst"], true),
    Command {
        names: &["restore", "rest"],
        server_required: true,
        since_3_9: true,
        post: true,
        auth: true,
    },
    get(&["ruok"], true),
    get(&["set_trace_mask", "stmk"], false),
    Command {
        names: &["snapshot", "snap"],
        server_required: true,
        since_3_9: true,
        post: false,
        auth: true,
    },
    get(&["server_stats", "srvr"], true),
    get(&["stats", "stat"], true),
    get(&["stat_reset", "srst"], true),
    get(&["observers", "obsr"], true),
    get(&["system_properties", "sysp"], false),
    get(&["voting_view"], true),
    get(&["watches", "wchc"], true),
    get(&["watches_by_path", "wchp"], true),
    get(&["watch_summary", "wchs"], true),
    get(&["zabstate"], false),
];

impl Command {
    pub fn primary_name(&self) -> &'static str {
        self.names[0]
    }
}

/// The command called `name` (any alias) in this generation.
pub fn find(name: &str, is_3_9: bool) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .filter(|c| is_3_9 || !c.since_3_9)
        .find(|c| c.names.contains(&name))
}

/// The primary names, sorted (the links `GET <commandURL>` lists).
pub fn primary_names(is_3_9: bool) -> Vec<&'static str> {
    let mut names: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| is_3_9 || !c.since_3_9)
        .map(Command::primary_name)
        .collect();
    names.sort_unstable();
    names
}

/// Java's `CommandResponse`: the command's primary name (or the name asked, when unknown),
/// an error or none, the data, and (3.9) the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandResponse {
    pub command: String,
    pub error: Option<String>,
    /// Always a [`Json::Object`].
    pub data: Json,
    pub status: u16,
    /// Extra HTTP headers (3.9's `snapshot`: `last_zxid`, `snapshot_size`).
    pub headers: Vec<(&'static str, String)>,
    /// An authorized 3.9 `snapshot`: take one; `Some(true)` streams it as the body.
    pub take_snapshot: Option<bool>,
    /// The bytes to send instead of the JSON (a streamed snapshot).
    pub stream: Option<bytes::Bytes>,
}

impl CommandResponse {
    pub fn new(command: &str) -> Self {
        CommandResponse {
            command: command.to_string(),
            error: None,
            data: Json::object(),
            status: 200,
            headers: Vec::new(),
            take_snapshot: None,
            stream: None,
        }
    }

    pub fn error(command: &str, error: &str, status: u16) -> Self {
        CommandResponse {
            error: Some(error.to_string()),
            status,
            ..CommandResponse::new(command)
        }
    }

    fn put(&mut self, key: &str, value: impl Into<Json>) {
        self.data.put(key, value);
    }

    /// Java's `toMap`: the data, then `command` and `error` (an `error` the data holds
    /// keeps its place and its value).
    pub fn to_json(&self) -> Json {
        let mut m = self.data.clone();
        m.put("command", self.command.as_str());
        let error = self.error.as_deref().map_or(Json::Null, Json::from);
        match self.data.get("error") {
            Some(e) => m.put("error", e.clone()),
            None => m.put("error", error),
        }
        m
    }
}

/// Java's `LearnerHandler.getLearnerHandlerInfo`. The handler's queue is the connection's
/// writer here, which never holds packets back: `queued_packets` are 0.
fn learner_handler_info(l: &LearnerInfo) -> Json {
    let mut m = Json::object();
    m.put("remote_socket_address", format!("/{}", l.remote));
    m.put("sid", l.sid);
    m.put("established", l.established_ms);
    m.put("queued_packets", 0i64);
    m.put("queued_packets_size", 0i64);
    m.put("packets_received", l.packets_received);
    m.put("packets_sent", l.packets_sent);
    m.put("requests", l.requests);
    m.put("last_zxid", l.last_zxid);
    m
}

/// A quorum member's view of itself, for `leader`, `voting_view` and `zabstate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    pub my_id: i64,
    pub is_leader: bool,
    /// The elected leader's id (-1 while none).
    pub leader_id: i64,
    /// The leader's quorum host (Java: its host strings joined by `|`, no port), if known.
    pub leader_address: Option<String>,
    /// The voting members, by id.
    pub voting_view: Vec<ServerView>,
    /// This member's quorum and election addresses (host as written, port).
    pub quorum_address: (String, u16),
    pub election_address: (String, u16),
    /// The client address, `host:port`.
    pub client_address: String,
    /// This member is a voting member with the addresses it runs on.
    pub voting: bool,
    /// Java's `ZabState` in lower case: `election`, `discovery`, `synchronization`,
    /// `broadcast`.
    pub zab_state: &'static str,
}

/// One `server.N` line as `voting_view` shows it (Java's `QuorumServerView`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerView {
    pub id: i64,
    /// `host:port` each.
    pub server_addresses: Vec<String>,
    pub election_addresses: Vec<String>,
    /// `host:port`, or empty.
    pub client_address: String,
    pub observer: bool,
}

/// What the AdminServer shows besides what the four-letter words show.
pub trait AdminSource: FourLetterSource {
    /// The configuration file's text as read at start-up (`initial_configuration`).
    fn initial_configuration(&self) -> String;

    /// Java's system properties: the `-D` properties zkserver was launched with, and the
    /// `zookeeper.*` ones its configuration set (sorted by the caller of `run`).
    fn system_properties(&self) -> Vec<(String, String)>;

    /// The last snapshot written or loaded: (zxid, file modification time in seconds).
    fn last_snapshot(&self) -> Option<(i64, i64)>;

    /// `None` for a standalone server.
    fn quorum(&self) -> Option<QuorumInfo>;

    /// A leader's synced observers (Java's `Leader.getObservingLearnersInfo`); empty in
    /// other roles.
    fn observers(&self) -> Vec<LearnerInfo> {
        Vec::new()
    }

    /// `orst`: a leader's observers' connection counts start again (Java's
    /// `Leader.resetObserverConnectionStats`); nothing in other roles.
    fn reset_observer_stats(&mut self) {}

    /// Whether clients authenticated as `ids` have `perm` on `/` (Java's `checkACL` on the
    /// root's ACL, as 3.9 authorizes `snapshot` and `restore`).
    fn root_allows(&self, ids: &[AuthId], perm: i32) -> bool;

    /// The authentication providers' settings (digest enabled, the super digest).
    fn auth_config(&self) -> AuthConfig;

    /// Java's snapshot `RateLimiter`: one snapshot, then none until its interval passed
    /// since the last reset. Default: always allowed.
    fn allow_snapshot(&mut self) -> bool {
        true
    }

    /// `admin.snapshot.enabled` for `snapshot`, `admin.restore.enabled` for `restore`.
    fn command_enabled(&self, primary_name: &str) -> bool {
        let _ = primary_name;
        true
    }

    /// A wall-clock time as Java's `Time.currentElapsedTime()` (the monotonic clock) shows
    /// it: `dump` keys its session expiry sets so.
    fn wall_to_elapsed_ms(&self, wall_ms: i64) -> i64 {
        wall_ms
    }
}

/// Who asks for a command, for 3.9's authentication of `snapshot` and `restore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    pub peer: SocketAddr,
}

/// Java 3.9's `Commands.handleAuthentication` and `handleAuthorization` for a command that
/// needs ALL on `/`: the header is `<scheme>` or `<scheme> <data>` (`digest user:password`,
/// `ip`; `x509` needs TLS, so it never authenticates here).
fn authorize(asker: &Asker, src: &dyn AdminSource) -> Result<(), (&'static str, u16)> {
    let Some(header) = asker.authorization.as_deref() else {
        return Err(("Auth info is missing for the command", 401));
    };
    const NOT_AUTHENTICATED: (&str, u16) = ("Not authenticated", 401);
    // Java's String.split(" "): trailing empty parts dropped.
    let mut parts: Vec<&str> = header.split(' ').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() != 1 && parts.len() != 2 {
        return Err(NOT_AUTHENTICATED);
    }
    let data = parts.get(1).map_or(&[][..], |d| d.as_bytes());
    let ids = auth::authenticate(parts[0], data, &asker.peer, &src.auth_config())
        .map_err(|_| NOT_AUTHENTICATED)?;
    if ids.is_empty() {
        return Err(NOT_AUTHENTICATED);
    }
    if !src.root_allows(&ids, auth::perms::ALL) {
        return Err(("Not authorized", 403));
    }
    Ok(())
}

/// Runs the command `name` with the query parameters `params` for `asker`. Unknown commands
/// and commands that need a serving server answer an error with status 200, as Java does.
pub fn run(
    name: &str,
    params: &[(String, String)],
    asker: &Asker,
    src: &mut dyn AdminSource,
) -> CommandResponse {
    let is_3_9 = src.compat_version().is_3_9();
    let Some(cmd) = find(name, is_3_9) else {
        return CommandResponse::error(name, &format!("Unknown command: {name}"), 200);
    };
    if cmd.server_required && !src.is_serving() {
        return CommandResponse::error(name, fourlw::ZK_NOT_SERVING, 200);
    }
    if cmd.auth {
        if let Err((error, status)) = authorize(asker, &*src) {
            return CommandResponse::error(name, error, status);
        }
        // Java's feature flags come next: disabled, 503 with the primary name.
        if !src.command_enabled(cmd.primary_name()) {
            let mut r = CommandResponse::new(cmd.primary_name());
            r.status = 503;
            return r;
        }
        if cmd.primary_name() == "snapshot" {
            let mut r = CommandResponse::new("snapshot");
            if !src.allow_snapshot() {
                r.status = 429;
                return r;
            }
            // Java's Boolean.parseBoolean of `streaming`, true when absent.
            let streaming = params
                .iter()
                .find(|(k, _)| k == "streaming")
                .is_none_or(|(_, v)| v.eq_ignore_ascii_case("true"));
            r.take_snapshot = Some(streaming);
            return r;
        }
        // Authorized: Java restores the snapshot in the body.
        return CommandResponse::error(
            name,
            "the restore command is not implemented by zk-rs",
            501,
        );
    }
    let mut r = CommandResponse::new(cmd.primary_name());
    match cmd.primary_name() {
        "connection_stat_reset" => src.reset_connection_stats(),
        "configuration" => configuration(&mut r, &*src),
        "connections" => {
            r.put("connections", connections(&*src, false));
            r.put("secure_connections", Vec::<Json>::new());
        }
        "hash" => {
            let digests: Vec<Json> = src
                .digest_log()
                .into_iter()
                .map(|(zxid, digest)| {
                    let mut d = Json::object();
                    // Java's DataTree.ZxidDigest bean, digest version 2.
                    d.put("zxid", zxid);
                    d.put("digest", digest);
                    d.put("digest_version", 2i64);
                    d
                })
                .collect();
            r.put("digests", digests);
        }
        "dirs" => {
            r.put("datadir_size", src.txn_log_dir_size());
            r.put("logdir_size", src.snap_dir_size());
        }
        "dump" => dump(&mut r, &*src),
        "environment" => {
            for (k, v) in src.environment() {
                r.put(&k, v);
            }
        }
        "get_trace_mask" => r.put("tracemask", src.trace_mask()),
        "initial_configuration" => r.put("initial_configuration", src.initial_configuration()),
        "is_read_only" => r.put("read_only", src.is_read_only()),
        "last_snapshot" => {
            let (zxid, timestamp) = src.last_snapshot().unwrap_or((-1, -1));
            r.put("zxid", format!("{:x}", zxid as u64));
            r.put("timestamp", timestamp);
        }
        "leader" => match src.quorum() {
            Some(q) => {
                r.put("is_leader", q.is_leader);
                r.put("leader_id", q.leader_id);
                r.put("leader_ip", q.leader_address.unwrap_or_default());
            }
            None => r.put("error", "server is not initialized"),
        },
        "monitor" => {
            for (k, v) in fourlw::monitor_values(&*src) {
                r.put(&k, monitor_json(v));
            }
        }
        "observer_connection_stat_reset" => src.reset_observer_stats(),
        "observers" => {
            let observers = src.observers();
            r.put("synced_observers", observers.len());
            r.put(
                "observers",
                observers
                    .iter()
                    .map(learner_handler_info)
                    .collect::<Vec<_>>(),
            );
        }
        "ruok" => {}
        "set_trace_mask" => set_trace_mask(&mut r, params, src),
        "server_stats" => server_stats(&mut r, &*src),
        "stats" => {
            server_stats(&mut r, &*src);
            r.put("connections", connections(&*src, true));
            r.put("secure_connections", Vec::<Json>::new());
        }
        "stat_reset" => src.server_stats_mut().reset(),
        "system_properties" => {
            let mut props = src.system_properties();
            props.sort();
            for (k, v) in props {
                r.put(&k, v);
            }
        }
        "voting_view" => {
            let mut view = Json::object();
            for s in src.quorum().map(|q| q.voting_view).unwrap_or_default() {
                let mut v = Json::object();
                v.put("server_addresses", s.server_addresses);
                v.put("election_addresses", s.election_addresses);
                v.put("client_address", s.client_address);
                v.put(
                    "learner_type",
                    if s.observer {
                        "observer"
                    } else {
                        "participant"
                    },
                );
                view.put(s.id.to_string(), v);
            }
            r.put("current_config", view);
        }
        "watches" => {
            let mut m = Json::object();
            for (sid, paths) in src.watches_by_session() {
                m.put(sid.to_string(), paths);
            }
            r.put("session_id_to_watched_paths", m);
        }
        "watches_by_path" => {
            let mut m = Json::object();
            for (path, sids) in src.watches_by_path() {
                m.put(path, sids);
            }
            r.put("path_to_session_ids", m);
        }
        "watch_summary" => {
            let w = src.watch_summary();
            r.put("num_connections", w.connections);
            r.put("num_paths", w.paths);
            r.put("num_total_watches", w.total);
        }
        "zabstate" => zabstate(&mut r, &*src),
        // snapshot / restore: the caller refuses them before running anything.
        _ => {}
    }
    r
}

fn monitor_json(v: fourlw::MonitorValue) -> Json {
    match v {
        fourlw::MonitorValue::Int(i) => Json::Int(i),
        fourlw::MonitorValue::Double(d) => Json::Double(d),
        fourlw::MonitorValue::Str(s) => Json::Str(s),
    }
}

/// Java's `ZooKeeperServer.getConf().toMap()`.
fn configuration(r: &mut CommandResponse, src: &dyn AdminSource) {
    let conf = src.conf();
    let int = |key: &str| -> Json {
        conf.get(key)
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(Json::Null, Json::Int)
    };
    r.put("client_port", int("clientPort"));
    r.put("data_dir", conf.get("dataDir").unwrap_or_default());
    r.put("data_log_dir", conf.get("dataLogDir").unwrap_or_default());
    r.put("tick_time", int("tickTime"));
    r.put("max_client_cnxns", int("maxClientCnxns"));
    r.put("min_session_timeout", int("minSessionTimeout"));
    r.put("max_session_timeout", int("maxSessionTimeout"));
    r.put("server_id", conf.server_id);
    r.put("client_port_listen_backlog", int("clientPortListenBacklog"));
}

/// Java's `ServerCnxn.getConnectionInfo(brief)` for each connection.
fn connections(src: &dyn AdminSource, brief: bool) -> Vec<Json> {
    src.connections()
        .iter()
        .map(|c| connection(c, brief))
        .collect()
}

fn connection(c: &ConnInfo, brief: bool) -> Json {
    let st = &c.stats;
    let mut m = Json::object();
    // Java's InetSocketAddress.toString() without the leading slash of an unresolved host.
    let remote = fourlw::java_socket_addr(c.remote);
    m.put(
        "remote_socket_address",
        remote.strip_prefix('/').unwrap_or(&remote),
    );
    m.put("interest_ops", c.interest_ops);
    m.put("outstanding_requests", c.queued);
    m.put("packets_received", st.packets_received());
    m.put("packets_sent", st.packets_sent_count());
    if !brief {
        m.put("session_id", c.session_id);
        m.put("last_operation", st.last_op());
        m.put("established", st.established_ms());
        m.put("session_timeout", c.session_timeout_ms);
        m.put("last_cxid", st.last_cxid());
        m.put("last_zxid", st.last_zxid());
        m.put("last_response_time", st.last_response_time());
        m.put("last_latency", st.last_latency());
        m.put("min_latency", st.min_latency());
        m.put("avg_latency", st.avg_latency());
        m.put("max_latency", st.max_latency());
    }
    m
}

fn buffer_stats(b: &BufferStats) -> Json {
    let mut m = Json::object();
    m.put("last_buffer_size", b.last);
    m.put("min_buffer_size", b.min);
    m.put("max_buffer_size", b.max);
    m
}

/// `server_stats` (srvr) and the first part of `stats`: Jackson's view of Java's
/// `ServerStats` bean, in the order Java 3.8.0 and 3.9.3 print its properties.
fn server_stats(r: &mut CommandResponse, src: &dyn AdminSource) {
    let st = src.server_stats();
    let m = src.monitor_values();
    let resp = st.client_response_stats();
    let mut s = Json::object();
    s.put("packets_sent", st.packets_sent_count());
    s.put("packets_received", st.packets_received_count());
    s.put(
        "fsync_threshold_exceed_count",
        st.fsync_threshold_exceed_count(),
    );
    s.put("client_response_stats", buffer_stats(&resp));
    // Java's ServerStats asks ZooKeeperServer.getDataDirSize / getLogDirSize, which both
    // measure what their names swap (see fourlw's module doc).
    s.put("data_dir_size", src.txn_log_dir_size());
    s.put("log_dir_size", src.snap_dir_size());
    s.put("provider_null", false);
    s.put("server_state", src.server_state());
    s.put("last_processed_zxid", src.last_processed_zxid());
    s.put("outstanding_requests", src.outstanding_requests());
    s.put("avg_latency", st.avg_latency());
    s.put("max_latency", st.max_latency());
    s.put("min_latency", st.min_latency());
    s.put("num_alive_client_connections", src.num_alive_connections());
    s.put("uptime", m.uptime_ms);
    s.put("auth_failed_count", st.auth_failed_count());
    s.put("non_mtlsremote_conn_count", st.non_mtls_remote_conn_count());
    s.put("non_mtlslocal_conn_count", st.non_mtls_local_conn_count());
    r.put("version", src.version());
    r.put("read_only", src.is_read_only());
    r.put("server_stats", s);
    r.put("client_response", buffer_stats(&resp));
    if src.server_state() == "leader" {
        if let Some(p) = src.proposal_sizes() {
            r.put("proposal_stats", buffer_stats(&p));
        }
    }
    r.put("node_count", src.node_count());
}

/// Java's `getSessionExpiryMap` (keyed by times of its monotonic clock) and
/// `getEphemerals`: times and ids as JSON keys (strings).
fn dump(r: &mut CommandResponse, src: &dyn AdminSource) {
    let mut expiry = Json::object();
    let mut sets = src.session_expiry();
    sets.sort_by_key(|e| e.expires_at_ms);
    for e in sets {
        let at = src.wall_to_elapsed_ms(e.expires_at_ms);
        expiry.put(at.to_string(), e.session_ids);
    }
    r.put("expiry_time_to_session_ids", expiry);
    let mut eph = Json::object();
    for (sid, paths) in src.ephemerals_by_session() {
        eph.put(sid.to_string(), paths);
    }
    r.put("session_id_to_ephemeral_paths", eph);
}

fn set_trace_mask(r: &mut CommandResponse, params: &[(String, String)], src: &mut dyn AdminSource) {
    let Some((_, text)) = params.iter().find(|(k, _)| k == "traceMask") else {
        r.put("error", "setTraceMask requires long traceMask argument");
        return;
    };
    // Java's Long.parseLong: an optional sign and decimal digits, as Rust's parse.
    match text.parse::<i64>().ok() {
        Some(mask) => {
            src.set_trace_mask(mask);
            r.put("tracemask", mask);
        }
        None => r.put(
            "error",
            format!("setTraceMask requires long traceMask argument, got {text}"),
        ),
    }
}

/// Jackson's view of Java's `MultipleAddresses` bean for one address: getter-only
/// properties, whose order the JVM's reflection decides (this is the order Java 3.8.0
/// printed; it changes between runs). Every address counts as reachable.
fn multiple_addresses((host, port): &(String, u16)) -> Json {
    let host_port = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut m = Json::object();
    m.put("empty", false);
    m.put("all_addresses", vec![host_port.clone()]);
    m.put("all_reachable_addresses", vec![host_port.clone()]);
    m.put("one", host_port.clone());
    m.put("reachable_address", host_port.clone());
    m.put("wildcard_addresses", vec![format!("0.0.0.0:{port}")]);
    m.put("all_ports", vec![*port as i64]);
    m.put("all_host_strings", vec![host.clone()]);
    m.put("all_reachable_addresses_or_all", vec![host_port.clone()]);
    m.put("reachable_or_one", host_port);
    m
}

fn zabstate(r: &mut CommandResponse, src: &dyn AdminSource) {
    let Some(q) = src.quorum() else {
        r.put("voting", false);
        r.put("zabstate", "");
        return;
    };
    let zxid = src.last_processed_zxid();
    r.put("myid", q.my_id);
    r.put("is_leader", q.is_leader);
    r.put("quorum_address", multiple_addresses(&q.quorum_address));
    r.put("election_address", multiple_addresses(&q.election_address));
    r.put("client_address", q.client_address);
    r.put("voting", q.voting);
    r.put("last_zxid", format!("0x{:x}", zxid as u64));
    r.put("zab_epoch", zxid >> 32);
    r.put("zab_counter", zxid & 0xffff_ffff);
    r.put("zabstate", q.zab_state);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CompatVersion;
    use crate::fourlw::{ExpirySet, MonitorValues, ServerConf};
    use crate::stats::{ConnStats, ServerStats};
    use crate::watch::WatchSummary;

    /// A standalone server with one session watching /a, or a follower.
    struct Fake {
        stats: ServerStats,
        compat: CompatVersion,
        serving: bool,
        quorum: Option<QuorumInfo>,
        trace_mask: i64,
        reset_conns: bool,
        snapshot_disabled: bool,
    }

    const SID: i64 = 72_059_852_135_923_712;

    fn fake() -> Fake {
        Fake {
            stats: ServerStats::new(0),
            compat: CompatVersion::V3_8,
            serving: true,
            quorum: None,
            trace_mask: 306,
            reset_conns: false,
            snapshot_disabled: false,
        }
    }

    impl FourLetterSource for Fake {
        fn is_serving(&self) -> bool {
            self.serving
        }
        fn compat_version(&self) -> CompatVersion {
            self.compat
        }
        fn version(&self) -> String {
            "3.8.0-zk-rs, built on 2026-12-01 00:00 UTC".to_string()
        }
        fn server_stats(&self) -> &ServerStats {
            &self.stats
        }
        fn server_stats_mut(&mut self) -> &mut ServerStats {
            &mut self.stats
        }
        fn connections(&self) -> Vec<ConnInfo> {
            vec![ConnInfo {
                remote: Some("127.0.0.1:43620".parse().unwrap()),
                interest_ops: 1,
                queued: 0,
                session_id: SID,
                session_timeout_ms: 10_000,
                stats: ConnStats::new(1_796_336_901_686),
                expires_at_ms: 0,
            }]
        }
        fn reset_connection_stats(&mut self) {
            self.reset_conns = true;
        }
        fn outstanding_requests(&self) -> u64 {
            0
        }
        fn last_processed_zxid(&self) -> i64 {
            0x1_0000_0006
        }
        fn node_count(&self) -> u64 {
            6
        }
        fn watch_summary(&self) -> WatchSummary {
            WatchSummary {
                connections: 1,
                paths: 1,
                total: 1,
            }
        }
        fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
            vec![(SID, vec!["/a".to_string()])]
        }
        fn watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
            vec![("/a".to_string(), vec![SID])]
        }
        fn session_expiry(&self) -> Vec<ExpirySet> {
            vec![ExpirySet {
                expires_at_ms: 34_478_000,
                session_ids: vec![SID],
            }]
        }
        fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
            vec![(SID, vec!["/a".to_string()])]
        }
        fn conf(&self) -> ServerConf {
            ServerConf {
                keys: vec![
                    ("clientPort", "21981".to_string()),
                    ("secureClientPort", "-1".to_string()),
                    ("dataDir", "/d/version-2".to_string()),
                    ("dataLogDir", "/d/version-2".to_string()),
                    ("tickTime", "2000".to_string()),
                    ("maxClientCnxns", "60".to_string()),
                    ("minSessionTimeout", "4000".to_string()),
                    ("maxSessionTimeout", "40000".to_string()),
                    ("clientPortListenBacklog", "-1".to_string()),
                ],
                server_id: 0,
            }
        }
        fn monitor_values(&self) -> MonitorValues {
            MonitorValues::default()
        }
        fn environment(&self) -> Vec<(String, String)> {
            vec![("zookeeper.version".to_string(), self.version())]
        }
        fn snap_dir_size(&self) -> u64 {
            1
        }
        fn txn_log_dir_size(&self) -> u64 {
            2
        }
        fn trace_mask(&self) -> i64 {
            self.trace_mask
        }
        fn set_trace_mask(&mut self, mask: i64) {
            self.trace_mask = mask;
        }
    }

    impl AdminSource for Fake {
        fn initial_configuration(&self) -> String {
            "tickTime=2000\n".to_string()
        }
        fn system_properties(&self) -> Vec<(String, String)> {
            vec![
                ("user.dir".into(), "/x".into()),
                ("os.name".into(), "Linux".into()),
            ]
        }
        fn last_snapshot(&self) -> Option<(i64, i64)> {
            Some((0x1_0000_0000, 1_796_336_890))
        }
        fn quorum(&self) -> Option<QuorumInfo> {
            self.quorum.clone()
        }
        /// `/` readable by digest `root:secret` only.
        fn root_allows(&self, ids: &[AuthId], perm: i32) -> bool {
            let acl = [auth::new_acl(
                auth::perms::ALL,
                "digest",
                auth::digest_id("root:secret"),
            )];
            auth::check_acl(&acl, perm, ids, &self.auth_config())
        }
        fn auth_config(&self) -> AuthConfig {
            AuthConfig::default()
        }
        fn command_enabled(&self, primary_name: &str) -> bool {
            !(self.snapshot_disabled && primary_name == "snapshot")
        }
    }

    #[test]
    fn snapshot_and_restore_are_authenticated_in_3_9() {
        let mut f = fake();
        f.compat = CompatVersion::V3_9;
        let mut who = asker();
        let answer = |f: &mut Fake, who: &Asker| {
            let r = run("snap", &[], who, f);
            (r.status, r.error.unwrap_or_default(), r.command)
        };
        let missing = (
            401,
            "Auth info is missing for the command".to_string(),
            "snap".to_string(),
        );
        assert_eq!(answer(&mut f, &who), missing);
        for header in ["x509", "nope data", "digest a b c", ""] {
            who.authorization = Some(header.to_string());
            assert_eq!(answer(&mut f, &who).0, 401, "{header}");
            assert_eq!(answer(&mut f, &who).1, "Not authenticated", "{header}");
        }
        for header in ["ip", "digest root:wrong", "digest other:secret"] {
            who.authorization = Some(header.to_string());
            assert_eq!(answer(&mut f, &who).0, 403, "{header}");
            assert_eq!(answer(&mut f, &who).1, "Not authorized", "{header}");
        }
        who.authorization = Some("digest root:secret".to_string());
        assert_eq!(answer(&mut f, &who).0, 200);
        assert_eq!(run("snap", &[], &who, &mut f).take_snapshot, Some(true));
        let no_stream = [("streaming".to_string(), "False".to_string())];
        assert_eq!(
            run("snap", &no_stream, &who, &mut f).take_snapshot,
            Some(false)
        );
        assert_eq!(run("rest", &[], &who, &mut f).status, 501);
        f.snapshot_disabled = true;
        assert_eq!(
            answer(&mut f, &who),
            (503, String::new(), "snapshot".to_string())
        );
    }

    fn asker() -> Asker {
        Asker {
            authorization: None,
            peer: "127.0.0.1:5000".parse().unwrap(),
        }
    }

    fn run_text(name: &str, params: &[(&str, &str)], src: &mut Fake) -> String {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        run(name, &params, &asker(), src).to_json().pretty()
    }

    #[test]
    fn answers_as_java_prints_them() {
        let mut f = fake();
        assert_eq!(
            run_text("configuration", &[], &mut f),
            "{\n  \"client_port\" : 21981,\n  \"data_dir\" : \"/d/version-2\",\n  \
             \"data_log_dir\" : \"/d/version-2\",\n  \"tick_time\" : 2000,\n  \
             \"max_client_cnxns\" : 60,\n  \"min_session_timeout\" : 4000,\n  \
             \"max_session_timeout\" : 40000,\n  \"server_id\" : 0,\n  \
             \"client_port_listen_backlog\" : -1,\n  \"command\" : \"configuration\",\n  \
             \"error\" : null\n}"
        );
        assert_eq!(
            run_text("dump", &[], &mut f),
            "{\n  \"expiry_time_to_session_ids\" : {\n    \"34478000\" : [ 72059852135923712 ]\n  },\n  \
             \"session_id_to_ephemeral_paths\" : {\n    \"72059852135923712\" : [ \"/a\" ]\n  },\n  \
             \"command\" : \"dump\",\n  \"error\" : null\n}"
        );
        // `stats` lists connections briefly: no session, Java's address without a slash.
        let stats = run_text("stats", &[], &mut f);
        assert!(stats.contains(
            "  \"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:43620\",\n    \
             \"interest_ops\" : 1,\n    \"outstanding_requests\" : 0,\n    \
             \"packets_received\" : 0,\n    \"packets_sent\" : 0\n  } ],\n  \
             \"secure_connections\" : [ ],"
        ));
        assert_eq!(
            run_text("lsnp", &[], &mut f),
            "{\n  \"zxid\" : \"100000000\",\n  \"timestamp\" : 1796336890,\n  \
             \"command\" : \"last_snapshot\",\n  \"error\" : null\n}"
        );
        let props = run_text("sysp", &[], &mut f);
        assert!(props.find("os.name").unwrap() < props.find("user.dir").unwrap());
    }

    #[test]
    fn errors_java_puts_among_the_data_come_first() {
        let mut f = fake();
        assert_eq!(
            run_text("lead", &[], &mut f),
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
        assert_eq!(
            run_text("stmk", &[("traceMask", "x")], &mut f),
            "{\n  \"error\" : \"setTraceMask requires long traceMask argument, got x\",\n  \
             \"command\" : \"set_trace_mask\"\n}"
        );
        assert_eq!(
            run_text("stmk", &[("traceMask", "307")], &mut f),
            "{\n  \"tracemask\" : 307,\n  \"command\" : \"set_trace_mask\",\n  \"error\" : null\n}"
        );
        assert_eq!(f.trace_mask, 307);
    }

    #[test]
    fn unknown_and_not_serving() {
        let mut f = fake();
        let r = run("snapshot", &[], &asker(), &mut f);
        assert_eq!(r.error.as_deref(), Some("Unknown command: snapshot"));
        f.compat = CompatVersion::V3_9;
        assert_eq!(run("snapshot", &[], &asker(), &mut f).status, 401);
        f.serving = false;
        let r = run("srvr", &[], &asker(), &mut f);
        assert_eq!((r.command.as_str(), r.status), ("srvr", 200));
        assert_eq!(r.error.as_deref(), Some(fourlw::ZK_NOT_SERVING));
        // Commands that do not need a serving server still answer.
        assert!(run("mntr", &[], &asker(), &mut f).error.is_none());
        assert!(run("zabstate", &[], &asker(), &mut f).error.is_none());
    }

    #[test]
    fn server_stats_fields_in_javas_order() {
        let mut f = fake();
        let r = run("srvr", &[], &asker(), &mut f).to_json();
        let Some(Json::Object(stats)) = r.get("server_stats") else {
            panic!("{r:?}")
        };
        let keys: Vec<&str> = stats.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys[..4],
            [
                "packets_sent",
                "packets_received",
                "fsync_threshold_exceed_count",
                "client_response_stats"
            ]
        );
        assert_eq!(keys.len(), 18);
        assert_eq!(r.get("node_count"), Some(&Json::Int(6)));
        assert!(r.get("proposal_stats").is_none());
    }

    #[test]
    fn resets_reach_the_source() {
        let mut f = fake();
        f.stats.packet_received(4);
        run("crst", &[], &asker(), &mut f);
        assert!(f.reset_conns);
        run("srst", &[], &asker(), &mut f);
        assert_eq!(f.stats.packets_received_count(), 0);
    }

    #[test]
    fn zabstate_of_a_follower() {
        let mut f = fake();
        f.quorum = Some(QuorumInfo {
            my_id: 1,
            is_leader: false,
            leader_id: 2,
            leader_address: Some("127.0.0.1".to_string()),
            voting_view: Vec::new(),
            quorum_address: ("127.0.0.1".to_string(), 2888),
            election_address: ("127.0.0.1".to_string(), 3888),
            client_address: "127.0.0.1:2181".to_string(),
            voting: true,
            zab_state: "broadcast",
        });
        let r = run("zabstate", &[], &asker(), &mut f).to_json();
        assert_eq!(r.get("last_zxid"), Some(&Json::from("0x100000006")));
        assert_eq!(r.get("zab_epoch"), Some(&Json::Int(1)));
        assert_eq!(r.get("zab_counter"), Some(&Json::Int(6)));
        let Some(addr) = r.get("quorum_address") else {
            panic!()
        };
        assert_eq!(addr.get("one"), Some(&Json::from("127.0.0.1:2888")));
        assert_eq!(
            addr.get("wildcard_addresses"),
            Some(&Json::from(vec!["0.0.0.0:2888"]))
        );
        let r = run("leader", &[], &asker(), &mut f).to_json();
        assert_eq!(r.get("leader_id"), Some(&Json::Int(2)));
        assert_eq!(r.get("leader_ip"), Some(&Json::from("127.0.0.1")));
    }
}
