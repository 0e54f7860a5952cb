//! The four-letter words' and the AdminServer's view of the pipeline (`fourlw` and
//! `admin::commands` render them): the `FourLetterSource` / `AdminSource` of a [`Pipeline`],
//! seen from the connection that asked (a four-letter word's connection counts as one of
//! the server's; an HTTP request does not), with what the shell measured outside the
//! pipeline ([`Probes`]: /proc and the data directories, which must not stall every client
//! while an `mntr` poll walks them).

use super::*;
use crate::admin::commands::{self as admin_commands, AdminSource, QuorumInfo, ServerView};
use crate::admin::AdminRequest;
use crate::fourlw::{self, ConnInfo, ExpirySet, FourLetterSource, MonitorValues, ServerConf};
use crate::persist::txnlog::FsyncTimes;
use crate::watch::WatchSummary;

/// Java's sessionless-connection expiry granularity (10 s).
const CNXN_EXPIRY_MS: i64 = 10_000;

/// What a four-letter word needs from outside the pipeline, measured by the shell before
/// the word is handed in (`probes::measure`); what the word does not show stays empty.
#[derive(Debug, Default)]
pub struct Probes {
    /// (open, max) file descriptors of the process (`mntr`).
    pub fd_counts: (i64, i64),
    /// Sizes of the snapshot and txn log directories (`conf`, `dirs`).
    pub snap_dir_size: u64,
    pub txn_log_dir_size: u64,
    /// `envi`'s lines.
    pub environment: Vec<(String, String)>,
    /// The txn log's fsyncs since the last word (timed on the log thread).
    pub fsyncs: Option<FsyncTimes>,
    /// The port the client listener is bound to (`conf`'s `clientPort`; see
    /// `net::bound_client_port`).
    pub client_port: Option<i32>,
    /// The newest snapshot in the snapshot directory: (zxid, modified, seconds)
    /// (the AdminServer's `last_snapshot`).
    pub last_snapshot: Option<(i64, i64)>,
}

struct View<'a> {
    p: &'a mut Pipeline,
    probes: Probes,
    /// The four-letter word's connection (`None` for an AdminServer command and for the
    /// Prometheus endpoint, which Java does not count among the client connections).
    asking: Option<SocketAddr>,
    /// The AdminServer command being answered.
    admin: Option<&'a AdminRequest>,
    asked_at: i64,
    /// The monotonic clock at the same moment as `asked_at`.
    mono_at: i64,
}

fn round_up(t: i64, interval: i64) -> i64 {
    (t / interval + 1) * interval
}

impl View<'_> {
    /// A monotonic-clock time shown on the wall clock, as Java prints expiry times.
    fn mono_to_wall(&self, t: i64) -> i64 {
        t - self.mono_at + self.asked_at
    }

    fn session_of_conn(&self) -> HashMap<u64, i64> {
        self.p
            .conns
            .iter()
            .map(|(id, c)| (*id, c.session))
            .collect()
    }
}

impl View<'_> {
    /// The lines Java adds after `zk_server_state` in a quorum role
    /// (`QuorumZooKeeperServer.dumpMonitorValues`: the peer's state and its ZAB phase, which
    /// is broadcast while the pipeline serves; `ObserverZooKeeperServer`'s: the server the
    /// observer syncs from, the leader as observers here have no observer masters).
    fn role_values(&self) -> Vec<(String, fourlw::MonitorValue)> {
        let state = match self.p.mode {
            Mode::Leader => "leading",
            Mode::Follower => "following",
            Mode::Observer => "observing",
            _ => return Vec::new(),
        };
        let mut lines = vec![(
            "peer_state".to_string(),
            fourlw::MonitorValue::Str(format!("{state} - broadcast")),
        )];
        if let (Mode::Observer, Some(leader)) = (self.p.mode, self.p.leader_id) {
            lines.push((
                "observer_master_id".to_string(),
                fourlw::MonitorValue::Int(leader),
            ));
        }
        lines
    }
}

impl FourLetterSource for View<'_> {
    fn is_serving(&self) -> bool {
        self.p.mode.is_serving()
    }

    fn compat_version(&self) -> crate::config::CompatVersion {
        self.p.cfg.compat_version
    }

    fn server_state(&self) -> String {
        self.p.mode.name().to_string()
    }

    fn is_read_only(&self) -> bool {
        self.p.mode == Mode::ReadOnly
    }

    fn server_stats(&self) -> &ServerStats {
        &self.p.stats
    }

    fn server_stats_mut(&mut self) -> &mut ServerStats {
        &mut self.p.stats
    }

    fn connections(&self) -> Vec<ConnInfo> {
        let mut out: Vec<ConnInfo> = self
            .p
            .conns
            .values()
            .map(|c| ConnInfo {
                remote: Some(c.addr),
                interest_ops: 1,
                queued: c.queued_len() as u64,
                session_id: c.session,
                session_timeout_ms: c.timeout_ms,
                stats: c.stats.clone(),
                expires_at_ms: self.mono_to_wall(c.expiry_bucket),
            })
            .collect();
        if let Some(asking) = self.asking {
            let bucket = round_up(self.mono_at + CNXN_EXPIRY_MS, CNXN_EXPIRY_MS);
            out.push(ConnInfo::four_letter_word(
                asking,
                self.asked_at,
                self.mono_to_wall(bucket),
            ));
        }
        out
    }

    fn empty_connection_buckets(&self) -> Vec<i64> {
        let now = self.mono_at;
        self.p
            .cnxn_buckets
            .iter()
            .filter(|(t, n)| **n == 0 && **t > now)
            .map(|(t, _)| self.mono_to_wall(*t))
            .collect()
    }

    fn reset_connection_stats(&mut self) {
        for c in self.p.conns.values_mut() {
            c.stats.reset();
        }
    }

    fn outstanding_requests(&self) -> u64 {
        self.p.outstanding() as u64
    }

    fn last_processed_zxid(&self) -> i64 {
        self.p.tree.last_zxid
    }

    /// Java's `DataTree.getNodeCount()` is the size of its node map, which holds the root
    /// twice (under "" and "/"): one more than the nodes a walk finds.
    fn node_count(&self) -> u64 {
        self.p.tree.node_count() as u64 + 1
    }

    fn watch_summary(&self) -> WatchSummary {
        self.p.tree.watches.watch_summary()
    }

    fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let sessions = self.session_of_conn();
        self.p
            .tree
            .watches
            .watches_by_connection()
            .into_iter()
            .map(|(conn, paths)| (sessions.get(&conn).copied().unwrap_or(0), paths))
            .collect()
    }

    fn watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
        let sessions = self.session_of_conn();
        self.p
            .tree
            .watches
            .watches_by_path()
            .into_iter()
            .map(|(path, conns)| {
                let ids = conns
                    .iter()
                    .map(|c| sessions.get(c).copied().unwrap_or(0))
                    .collect();
                (path, ids)
            })
            .collect()
    }

    fn session_expiry(&self) -> Vec<ExpirySet> {
        let offset = self.asked_at - self.p.uptime_ms() as i64;
        self.p
            .sessions
            .by_expiry()
            .into_iter()
            .map(|(at, ids)| ExpirySet {
                expires_at_ms: offset + at as i64,
                session_ids: ids.into_iter().map(|(id, _)| id).collect(),
            })
            .collect()
    }

    fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let mut v: Vec<(i64, Vec<String>)> = self
            .p
            .tree
            .ephemerals_by_session()
            .iter()
            .map(|(s, paths)| (*s, paths.iter().cloned().collect()))
            .collect();
        v.sort();
        v
    }

    fn trace_mask(&self) -> i64 {
        self.p.trace_mask
    }

    fn set_trace_mask(&mut self, mask: i64) {
        self.p.trace_mask = mask;
    }

    fn digest_log(&self) -> Vec<(i64, i64)> {
        self.p.digest_log()
    }

    fn proposal_sizes(&self) -> Option<crate::stats::BufferStats> {
        (self.p.mode == Mode::Leader).then_some(self.p.proposal_sizes)
    }

    fn environment(&self) -> Vec<(String, String)> {
        self.probes.environment.clone()
    }

    fn snap_dir_size(&self) -> u64 {
        self.probes.snap_dir_size
    }

    fn txn_log_dir_size(&self) -> u64 {
        self.probes.txn_log_dir_size
    }

    fn conf(&self) -> ServerConf {
        let mut conf = ServerConf::from_config(&self.p.cfg);
        if let Some(port) = self.probes.client_port {
            conf.set("clientPort", port.to_string());
        }
        conf
    }

    fn monitor_values(&self) -> MonitorValues {
        let (open, max) = self.probes.fd_counts;
        let quorum_role = matches!(self.p.mode, Mode::Leader | Mode::Follower | Mode::Observer);
        MonitorValues {
            ephemerals_count: self.p.tree.ephemeral_count() as u64,
            global_sessions: self.p.sessions.len() as u64,
            local_sessions: 0,
            watch_count: self.p.tree.watches.watch_count() as u64,
            approximate_data_size: self.p.tree.approximate_data_size(),
            open_file_descriptor_count: open,
            max_file_descriptor_count: max,
            uptime_ms: self.p.uptime_ms() as i64,
            quota_gauges: crate::quota::metrics(&self.p.tree),
            quorum_size: quorum_role.then(|| self.p.cfg.participants().count() as i64),
            leader_uptime_ms: (self.p.mode == Mode::Leader).then(|| self.p.leader_uptime_ms()),
            leader_gauges: (self.p.mode == Mode::Leader).then(|| {
                let c = self.p.learners.counts;
                fourlw::LeaderGauges {
                    learners: c.learners as i64,
                    synced_followers: c.synced_followers as i64,
                    synced_non_voting_followers: c.synced_non_voting_followers as i64,
                    synced_observers: c.synced_observers as i64,
                    // The learners' syncs are handed back behind their proposals as they
                    // come (see peer::leading), never held until a commit as Java's are.
                    pending_syncs: 0,
                    proposal_sizes: self.p.proposal_sizes,
                }
            }),
            follower_synced_observers: (self.p.mode == Mode::Follower && self.p.observer_master)
                .then_some(self.p.learners.counts.synced_observers as i64),
            // QuorumZooKeeperServer.dumpMonitorValues: the peer's state and its ZAB phase,
            // which is broadcast while the pipeline serves in a quorum role.
            role_values: self.role_values(),
            ..Default::default()
        }
    }
}

impl Pipeline {
    /// Answer a four-letter word from `asking` (`arg`: `stmk`'s mask, if it came).
    pub(super) fn four_letter(
        &mut self,
        token: u64,
        cmd: &str,
        arg: Option<i64>,
        asking: SocketAddr,
        probes: Probes,
    ) {
        self.gather_throttle_metrics();
        // Java counts the command as one received packet of 4 bytes before running it.
        self.stats.packet_received(4);
        if let Some(f) = &probes.fsyncs {
            self.stats.add_fsyncs(&f.ms, f.over_threshold);
        }
        let whitelist = self.cfg.four_letter_whitelist.clone();
        let (asked_at, mono_at) = (self.now.wall_ms, self.now.mono_ms);
        let mut view = View {
            p: self,
            probes,
            asking: Some(asking),
            admin: None,
            asked_at,
            mono_at,
        };
        let text = match (cmd, arg) {
            ("stmk", Some(mask)) => fourlw::respond_set_trace_mask(mask, &mut view, &whitelist),
            _ => fourlw::respond(cmd, &mut view, &whitelist).unwrap_or_default(),
        };
        self.stats.packets_sent(fourlw::response_packets(&text));
        self.out.push(Output::FourLetterReply { token, text });
    }
}

/// `host:port` as Java's `QuorumServer.delimitedHostString` (IPv6 in brackets).
fn java_host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    }
}

impl AdminSource for View<'_> {
    fn initial_configuration(&self) -> String {
        self.admin
            .map(|a| a.process.initial_configuration.clone())
            .unwrap_or_default()
    }

    fn system_properties(&self) -> Vec<(String, String)> {
        self.admin
            .map(|a| a.process.system_properties.clone())
            .unwrap_or_default()
    }

    fn last_snapshot(&self) -> Option<(i64, i64)> {
        self.probes.last_snapshot
    }

    fn root_allows(&self, ids: &[crate::auth::AuthId], perm: i32) -> bool {
        self.p
            .tree
            .node("/")
            .is_some_and(|root| crate::auth::check_acl(&root.acl, perm, ids, &self.p.auth_cfg))
    }

    fn auth_config(&self) -> crate::auth::AuthConfig {
        self.p.auth_cfg.clone()
    }

    /// Java's `RateLimiter(1, 300000, MICROSECONDS)`: one permit per 300 ms.
    fn allow_snapshot(&mut self) -> bool {
        const INTERVAL_MS: i64 = 300;
        let (reset_at, permit) = &mut self.p.admin_snapshot_permit;
        if self.mono_at > *reset_at + INTERVAL_MS {
            *reset_at = self.mono_at;
            *permit = true;
        }
        std::mem::replace(permit, false)
    }

    fn observers(&self) -> Vec<zk_quorum::zab::leader_net::LearnerInfo> {
        // A follower's are its observer master's (Java's `Follower.getSyncedObserversInfo`).
        if !matches!(self.p.mode, Mode::Leader | Mode::Follower) {
            return Vec::new();
        }
        let learners = &self.p.learners.learners;
        learners
            .iter()
            .filter(|l| l.observer && l.synced)
            .cloned()
            .collect()
    }

    fn reset_observer_stats(&mut self) {
        if self.p.mode == Mode::Leader {
            self.p.out.push(Output::ResetObserverStats);
        }
    }

    fn command_enabled(&self, primary_name: &str) -> bool {
        match primary_name {
            "snapshot" => self.p.cfg.admin.snapshot_enabled,
            "restore" => self.p.cfg.admin.restore_enabled,
            _ => true,
        }
    }

    fn wall_to_elapsed_ms(&self, wall_ms: i64) -> i64 {
        wall_ms - self.asked_at + self.mono_at
    }

    /// Java's `QuorumZooKeeperServer`: a leader, follower or observer that serves.
    fn quorum(&self) -> Option<QuorumInfo> {
        let is_leader = match self.p.mode {
            Mode::Leader => true,
            Mode::Follower | Mode::Observer => false,
            _ => return None,
        };
        let cfg = &self.p.cfg;
        let my_id = cfg.my_id? as i64;
        let me = cfg.server(my_id as u64)?;
        let leader_id = if is_leader {
            my_id
        } else {
            self.p.leader_id.unwrap_or(-1)
        };
        // Java: the host strings of the leader's quorum addresses, without ports.
        let leader_address = cfg.server(leader_id as u64).map(|s| s.host.clone());
        let voting_view = cfg
            .participants()
            .map(|s| ServerView {
                id: s.id as i64,
                server_addresses: vec![format!("{}:{}", s.host, s.quorum_port)],
                election_addresses: vec![format!("{}:{}", s.host, s.election_port)],
                client_address: match &s.client {
                    Some((host, port)) => {
                        format!("{}:{port}", host.as_deref().unwrap_or("0.0.0.0"))
                    }
                    // Java gives its own line the client address of the file.
                    None if s.id == my_id as u64 => java_host_port(cfg.client_socket_addr()),
                    None => String::new(),
                },
                observer: s.observer,
            })
            .collect();
        let client = cfg.client_socket_addr();
        // Java: a member is voting when its line is among the voting members.
        Some(QuorumInfo {
            my_id,
            is_leader,
            leader_id,
            leader_address,
            voting_view,
            quorum_address: (me.host.clone(), me.quorum_port),
            election_address: (me.host.clone(), me.election_port),
            client_address: java_host_port(client),
            voting: !me.observer,
            zab_state: "broadcast",
        })
    }
}

impl Pipeline {
    /// Answer an AdminServer command.
    pub(super) fn admin(&mut self, token: u64, request: AdminRequest, probes: Probes) {
        self.gather_throttle_metrics();
        if let Some(f) = &probes.fsyncs {
            self.stats.add_fsyncs(&f.ms, f.over_threshold);
        }
        let (asked_at, mono_at) = (self.now.wall_ms, self.now.mono_ms);
        let response = {
            let mut view = View {
                p: self,
                probes,
                asking: None,
                admin: Some(&request),
                asked_at,
                mono_at,
            };
            admin_commands::run(&request.command, &request.params, &request.asker, &mut view)
        };
        let snapshot = response
            .take_snapshot
            .map(|_| Box::new(self.tree.snapshot_copy()));
        self.out.push(Output::AdminReply {
            token,
            response: Box::new(response),
            snapshot,
        });
    }
}

impl Pipeline {
    /// The metrics registry at `now`, for the Prometheus endpoint: what `mntr` shows, by
    /// kind ([`crate::metrics::collect`]), with no connection asking (the scrape is no
    /// client connection and no packet).
    pub fn metrics(&mut self, now: Now, probes: Probes) -> Vec<crate::metrics::Metric> {
        self.now = Now {
            mono_ms: now.mono_ms.max(self.now.mono_ms),
            wall_ms: now.wall_ms,
        };
        self.gather_throttle_metrics();
        if let Some(f) = &probes.fsyncs {
            self.stats.add_fsyncs(&f.ms, f.over_threshold);
        }
        let (asked_at, mono_at) = (self.now.wall_ms, self.now.mono_ms);
        let view = View {
            p: self,
            probes,
            asking: None,
            admin: None,
            asked_at,
            mono_at,
        };
        crate::metrics::collect(&view)
    }
}
