//! Bridges the pipeline's state to the four-letter-word renderer (`fourlw`): the
//! `FourLetterSource` view of a `Core`, seen from the connection that asked.

use crate::core::Core;
use crate::fourlw::{self, ConnInfo, ExpirySet, FourLetterSource, MonitorValues, ServerConf};
use crate::stats::{wall_ms, ServerStats};
use crate::watch::WatchSummary;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Java's sessionless-connection expiry granularity (10 s).
const CNXN_EXPIRY_MS: i64 = 10_000;

struct View<'a> {
    core: &'a mut Core,
    asking: SocketAddr,
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
        self.core
            .conns
            .iter()
            .map(|(id, c)| (*id, c.session))
            .collect()
    }
}

impl FourLetterSource for View<'_> {
    fn is_serving(&self) -> bool {
        self.core.serving
    }

    fn server_state(&self) -> String {
        self.core.role.unwrap_or("standalone").to_string()
    }

    fn is_read_only(&self) -> bool {
        self.core.read_only
    }

    fn server_stats(&self) -> &ServerStats {
        &self.core.stats
    }

    fn server_stats_mut(&mut self) -> &mut ServerStats {
        &mut self.core.stats
    }

    fn connections(&self) -> Vec<ConnInfo> {
        let mut out: Vec<ConnInfo> = self
            .core
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
        let bucket = round_up(self.mono_at + CNXN_EXPIRY_MS, CNXN_EXPIRY_MS);
        out.push(ConnInfo::four_letter_word(
            self.asking,
            self.asked_at,
            self.mono_to_wall(bucket),
        ));
        out
    }

    fn empty_connection_buckets(&self) -> Vec<i64> {
        let now = self.mono_at;
        self.core
            .cnxn_buckets
            .iter()
            .filter(|(t, n)| **n == 0 && **t > now)
            .map(|(t, _)| self.mono_to_wall(*t))
            .collect()
    }

    fn reset_connection_stats(&mut self) {
        for c in self.core.conns.values_mut() {
            c.stats.reset();
        }
    }

    fn outstanding_requests(&self) -> u64 {
        self.core.outstanding() as u64
    }

    fn last_processed_zxid(&self) -> i64 {
        self.core.tree.last_zxid
    }

    /// Java's `DataTree.getNodeCount()` is the size of its node map, which holds the root
    /// twice (under "" and "/"): one more than the nodes a walk finds.
    fn node_count(&self) -> u64 {
        self.core.tree.node_count() as u64 + 1
    }

    fn watch_summary(&self) -> WatchSummary {
        self.core.tree.watches.watch_summary()
    }

    fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let sessions = self.session_of_conn();
        self.core
            .tree
            .watches
            .watches_by_connection()
            .into_iter()
            .map(|(conn, paths)| (sessions.get(&conn).copied().unwrap_or(0), paths))
            .collect()
    }

    fn watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
        let sessions = self.session_of_conn();
        self.core
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
        let offset = wall_ms() - self.core.uptime_ms() as i64;
        self.core
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
            .core
            .tree
            .ephemerals_by_session()
            .iter()
            .map(|(s, paths)| (*s, paths.iter().cloned().collect()))
            .collect();
        v.sort();
        v
    }

    fn trace_mask(&self) -> i64 {
        self.core.trace_mask
    }

    fn set_trace_mask(&mut self, mask: i64) {
        self.core.trace_mask = mask;
    }

    fn digest_log(&self) -> Vec<(i64, i64)> {
        self.core.digest_log()
    }

    fn conf(&self) -> ServerConf {
        ServerConf::from_config(&self.core.cfg)
    }

    fn monitor_values(&self) -> MonitorValues {
        let (open, max) = fourlw::process_fd_counts();
        MonitorValues {
            ephemerals_count: self.core.tree.ephemeral_count() as u64,
            global_sessions: self.core.sessions.len() as u64,
            local_sessions: 0,
            watch_count: self.core.tree.watches.watch_count() as u64,
            approximate_data_size: self.core.tree.approximate_data_size(),
            open_file_descriptor_count: open,
            max_file_descriptor_count: max,
            uptime_ms: self.core.uptime_ms() as i64,
            quota_gauges: crate::quota::metrics(&self.core.tree),
            ..Default::default()
        }
    }
}

/// The text to send for a four-letter word from `asking` (`arg`: `stmk`'s mask, if it came).
pub fn respond(core: &mut Core, cmd: &str, arg: Option<i64>, asking: SocketAddr) -> String {
    // Java counts the command as one received packet of 4 bytes before running it.
    core.stats.packet_received(4);
    // The txn log's fsyncs are timed on its own thread; they join the statistics here.
    let fsyncs = crate::persist::txnlog::take_fsync_times();
    core.stats.add_fsyncs(&fsyncs.ms, fsyncs.over_threshold);
    let whitelist = core.cfg.four_letter_whitelist.clone();
    let mut view = View {
        core,
        asking,
        asked_at: wall_ms(),
        mono_at: crate::stats::monotonic_ms(),
    };
    let text = match (cmd, arg) {
        ("stmk", Some(mask)) => fourlw::respond_set_trace_mask(mask, &mut view, &whitelist),
        _ => fourlw::respond(cmd, &mut view, &whitelist).unwrap_or_default(),
    };
    core.stats.packets_sent(fourlw::response_packets(&text));
    text
}
