//! Server and connection statistics, modelled on ZooKeeper 3.8's `ServerStats`,
//! `ServerCnxn`'s per-connection counters and the `ServerMetrics` registry.
//!
//! This module owns plain counters and nothing else: no clock (callers pass times in), no IO,
//! no locking. The server core updates them; the four-letter words (`srvr`, `stat`, `cons`,
//! `mntr`, `crst`, `srst`) and the AdminServer read and reset them (see `fourlw`).
//!
//! # What Java 3.8 counts, and how
//!
//! * **Packets** ([`ServerStats::packet_received`], [`ServerStats::packet_sent`], and the same
//!   on [`ConnStats`]): one per request frame read (the handshake included) and one per reply
//!   or notification frame written. A four-letter word counts as one received packet of 4
//!   bytes (counted *before* the command runs, so `srvr` includes itself), and one sent packet
//!   per 8192 characters of its answer (counted after it was written); see
//!   `fourlw::response_packets`.
//! * **Request latency** ([`ServerStats::record_request`]): `now - request.createTime` in ms
//!   for every request that gets an answer from the final processor (pings and the session
//!   creation included), negative values ignored. Java's `min/avg/max` is an
//!   `AvgMinMaxCounter`: min and max print 0 while empty, avg is a double rounded to 4
//!   decimals (HALF_UP on the exact binary value). A write (a request with a txn header)
//!   also feeds the `updatelatency` summary, every other request `readlatency`.
//! * **Per connection** ([`ConnStats::record_response`]): last op (a 4-letter code, see
//!   [`op_name`]), last cxid (only if `>= 0`, so pings and notifications do not overwrite
//!   it), last zxid, last response time, last/min/avg/max latency. Java quirk reproduced: a
//!   fresh connection's min latency starts at **0**, not "empty", so `minlat` prints 0 until
//!   `crst` resets the connection (after which it starts empty as it should); avg is the
//!   integer quotient. A fresh connection's last op is Java's `null` (printed `null`), its
//!   last cxid and zxid 0; after a reset they are `NA`, -1 and -1 (`lcxid` is then omitted
//!   by `cons` and `lzxid` prints `0xffffffffffffffff`).
//! * **Response sizes** ([`ServerStats::client_response_size`]): the length of every reply
//!   frame without its 4-byte length prefix (header + body), Java's `BufferStats`: last, min,
//!   max, each -1 until the first reply.
//! * **`srst`** ([`ServerStats::reset`]): clears latency, packet counts, response sizes and
//!   every `ServerMetrics` counter and summary (Java's `ServerMetrics.resetAll`); it does not
//!   touch the auth-failure / mTLS gauges or the uptime.
//! * The named metrics ([`Counter`], [`Summary`], [`PercentileSummary`]) are Java's
//!   `ServerMetrics` names, declared here in the order the default metrics provider prints
//!   them in `mntr` (a `ConcurrentHashMap` order, stable for a given set of names). The
//!   server records the ones it has a meaning for; the others stay 0 and are still printed so
//!   that monitoring that looks for them finds them.
//! * Per-namespace read/write sizes ([`ServerStats::record_namespace_read`] /
//!   [`ServerStats::record_namespace_write`]): Java's `DataTree.updateReadStat` /
//!   `updateWriteStat`, keyed by the first path component.
//!
//! Clocks: Java's `lresp`, latency start/end and uptime use `Time.currentElapsedTime()`
//! (`System.nanoTime() / 1e6`, CLOCK_MONOTONIC on Linux, so roughly "ms since boot"); `est`
//! is wall-clock ms. [`monotonic_ms`] and [`wall_ms`] give the same two clocks.

use jute::OpCode;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch (Java's `System.currentTimeMillis()`).
pub fn wall_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Milliseconds on a monotonic clock whose origin approximates the machine's boot, like
/// Java's `Time.currentElapsedTime()` (`System.nanoTime() / 1_000_000`) on Linux. The origin
/// is read once from `/proc/uptime` (0 where that file does not exist).
pub fn monotonic_ms() -> i64 {
    static ORIGIN: OnceLock<(Instant, i64)> = OnceLock::new();
    let (at, base) = ORIGIN.get_or_init(|| {
        let base = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .map(|secs| (secs * 1000.0) as i64)
            .unwrap_or(0);
        (Instant::now(), base)
    });
    base + i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The `lastOp` name Java's `FinalRequestProcessor` records for a request's op code (as used
/// by `cons` and the AdminServer's `connections`): [`OpCode::last_op_name`], and `"NA"` for
/// a number that is no op code (a request that failed before its case was reached also
/// leaves `"NA"`).
pub fn op_name(op_code: i32) -> &'static str {
    OpCode::try_from(op_code).map_or("NA", OpCode::last_op_name)
}

/// Java's `AvgMinMaxCounter`: count, total, min and max of integer data points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgMinMax {
    count: u64,
    total: i64,
    min: i64,
    max: i64,
}

impl Default for AvgMinMax {
    fn default() -> Self {
        Self::new()
    }
}

impl AvgMinMax {
    /// Empty.
    pub const fn new() -> Self {
        AvgMinMax {
            count: 0,
            total: 0,
            min: i64::MAX,
            max: i64::MIN,
        }
    }

    /// Adds a data point.
    pub fn add(&mut self, value: i64) {
        self.count += 1;
        self.total = self.total.wrapping_add(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Number of data points.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the data points.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// Smallest data point, 0 when empty.
    pub fn min(&self) -> i64 {
        if self.min == i64::MAX {
            0
        } else {
            self.min
        }
    }

    /// Largest data point, 0 when empty.
    pub fn max(&self) -> i64 {
        if self.max == i64::MIN {
            0
        } else {
            self.max
        }
    }

    /// Java's `getAvg()`: `total / (double) count` rounded to 4 decimals, HALF_UP on the
    /// double's exact value (`new BigDecimal(avg).setScale(4, HALF_UP).doubleValue()`); 0
    /// when empty.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        round4_half_up(self.total as f64 / self.count as f64)
    }

    /// Empties it (Java's `reset`).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Java's `resetMax`: max becomes the current min.
    pub fn reset_max(&mut self) {
        self.max = self.min();
    }

    /// Adds every data point of `other`, as if each had been added here.
    pub fn merge(&mut self, other: &AvgMinMax) {
        self.count += other.count;
        self.total = self.total.wrapping_add(other.total);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// `new BigDecimal(x).setScale(4, RoundingMode.HALF_UP).doubleValue()`, exactly: the
/// decision is taken on the double's exact binary value, not on a decimal approximation.
pub fn round4_half_up(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let neg = x < 0.0;
    let bits = x.abs().to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // x = mant * 2^exp exactly.
    let (mant, exp) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_bits - 1075)
    };
    if exp >= 0 {
        // An integer already.
        return x;
    }
    let shift = (-exp) as u32;
    let scaled = u128::from(mant) * 10_000;
    let q = if shift >= 128 {
        0
    } else {
        let q = scaled >> shift;
        let rem = scaled - (q << shift);
        let half = 1u128 << (shift - 1);
        if rem >= half {
            q + 1
        } else {
            q
        }
    };
    // q / 10^4, correctly rounded (both operands are exact while q < 2^53).
    let r = if q < (1u128 << 53) {
        q as f64 / 10_000.0
    } else {
        format!("{}.{:04}", q / 10_000, q % 10_000)
            .parse::<f64>()
            .unwrap_or(x)
    };
    if neg {
        -r
    } else {
        r
    }
}

/// Java's `AvgMinMaxPercentileCounter`: an [`AvgMinMax`] plus p50/p95/p99/p999 over a
/// uniform reservoir of 4096 samples (Vitter's algorithm R, as Java's
/// `ResettableUniformReservoir`; our random source is a xorshift generator).
#[derive(Debug, Clone, Default)]
pub struct AvgMinMaxPercentile {
    summary: AvgMinMax,
    seen: u64,
    samples: Vec<i64>,
    rng: u64,
}

/// Size of Java's percentile reservoir.
pub const RESERVOIR_SIZE: usize = 4096;

impl AvgMinMaxPercentile {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a data point.
    pub fn add(&mut self, value: i64) {
        self.summary.add(value);
        self.seen += 1;
        if self.samples.len() < RESERVOIR_SIZE {
            self.samples.push(value);
        } else {
            let r = self.next_random() % self.seen;
            if let Ok(i) = usize::try_from(r) {
                if i < RESERVOIR_SIZE {
                    self.samples[i] = value;
                }
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        if self.rng == 0 {
            // A fixed seed: the sample only needs to be uniform, and runs stay reproducible.
            self.rng = 0x9E37_79B9_7F4A_7C15 ^ self.seen;
            if self.rng == 0 {
                self.rng = 1;
            }
        }
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 1
    }

    /// The count/total/min/max/avg part.
    pub fn summary(&self) -> &AvgMinMax {
        &self.summary
    }

    /// The `quantile` (0..=1) of the reservoir, as Dropwizard's `UniformSnapshot.getValue`
    /// then `Math.round`: linear interpolation at `quantile * (n + 1)` over the sorted
    /// samples; 0 when empty.
    pub fn percentile(&self, quantile: f64) -> i64 {
        if self.samples.is_empty() {
            return 0;
        }
        let mut v = self.samples.clone();
        v.sort_unstable();
        java_round(quantile_of_sorted(&v, quantile))
    }

    /// p50, p95, p99 and p999, in that order (one sort for the four).
    pub fn percentiles(&self) -> [i64; 4] {
        self.quantiles([0.5, 0.95, 0.99, 0.999]).unwrap_or([0; 4])
    }

    /// Each quantile as [`percentile`](Self::percentile) gives it, with one sort for all;
    /// `None` when empty.
    pub fn quantiles<const N: usize>(&self, quantiles: [f64; N]) -> Option<[i64; N]> {
        if self.samples.is_empty() {
            return None;
        }
        let mut v = self.samples.clone();
        v.sort_unstable();
        Some(quantiles.map(|q| java_round(quantile_of_sorted(&v, q))))
    }

    /// Empties it.
    pub fn reset(&mut self) {
        self.summary.reset();
        self.seen = 0;
        self.samples.clear();
    }

    /// Java's `resetMax` (the reservoir is kept).
    pub fn reset_max(&mut self) {
        self.summary.reset_max();
    }
}

fn quantile_of_sorted(v: &[i64], quantile: f64) -> f64 {
    let pos = quantile * (v.len() as f64 + 1.0);
    let index = pos as usize;
    if index < 1 {
        return v[0] as f64;
    }
    if index >= v.len() {
        return v[v.len() - 1] as f64;
    }
    let lower = v[index - 1] as f64;
    let upper = v[index] as f64;
    lower + (pos - pos.floor()) * (upper - lower)
}

/// Java's `Math.round(double)`: floor(x + 0.5).
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

/// Java's `BufferStats`: last, min and max size, each -1 until the first value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    /// The last size, -1 if none.
    pub last: i64,
    /// The smallest size, -1 if none.
    pub min: i64,
    /// The largest size, -1 if none.
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    /// Records a size.
    pub fn set_last(&mut self, size: i64) {
        self.last = size;
        if self.min == -1 || size < self.min {
            self.min = size;
        }
        if size > self.max {
            self.max = size;
        }
    }

    /// Back to -1/-1/-1.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

impl std::fmt::Display for BufferStats {
    /// `last/min/max`, as the leader's `Proposal sizes last/min/max:` line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.last, self.min, self.max)
    }
}

macro_rules! java_metrics {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $java:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = concat!("`", $java, "`")] $variant,)*
        }

        impl $name {
            /// Every metric, in the order Java 3.8's `mntr` prints them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// Java's name (without the `zk_` prefix `mntr` adds).
            pub const fn java_name(self) -> &'static str {
                match self {
                    $($name::$variant => $java,)*
                }
            }

            /// The metric with this Java name.
            pub fn from_java_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|m| m.java_name() == name)
            }
        }
    };
}

java_metrics! {
    /// Java's `ServerMetrics` counters (`SimpleCounter`), each printed by `mntr` as one line.
    Counter {
        ProposalCount = "proposal_count",
        WatchBytes = "watch_bytes",
        OutstandingChangesRemoved = "outstanding_changes_removed",
        ThrottledOps = "throttled_ops",
        StaleRequestsDropped = "stale_requests_dropped",
        LargeRequestsRejected = "large_requests_rejected",
        InsecureAdminCount = "insecure_admin_count",
        ConnectionRejected = "connection_rejected",
        CnxnClosedWithoutZkServerRunning = "cnxn_closed_without_zk_server_running",
        SessionlessConnectionsExpired = "sessionless_connections_expired",
        LookingCount = "looking_count",
        DeadWatchersQueued = "dead_watchers_queued",
        StaleRequests = "stale_requests",
        ConnectionDropCount = "connection_drop_count",
        LearnerProposalReceivedCount = "learner_proposal_received_count",
        DigestMismatchesCount = "digest_mismatches_count",
        DeadWatchersCleared = "dead_watchers_cleared",
        ResponsePacketCacheHits = "response_packet_cache_hits",
        BytesReceivedCount = "bytes_received_count",
        AddDeadWatcherStallTime = "add_dead_watcher_stall_time",
        RequestThrottleWaitCount = "request_throttle_wait_count",
        RequestsNotForwardedToCommitProcessor = "requests_not_forwarded_to_commit_processor",
        ResponsePacketCacheMisses = "response_packet_cache_misses",
        EnsembleAuthSuccess = "ensemble_auth_success",
        PrepProcessorRequestQueued = "prep_processor_request_queued",
        LearnerCommitReceivedCount = "learner_commit_received_count",
        StaleReplies = "stale_replies",
        ConnectionRequestCount = "connection_request_count",
        ResponseBytes = "response_bytes",
        EnsembleAuthFail = "ensemble_auth_fail",
        DiffCount = "diff_count",
        ResponsePacketGetChildrenCacheMisses = "response_packet_get_children_cache_misses",
        ConnectionRevalidateCount = "connection_revalidate_count",
        QuitLeadingDueToDisloyalVoter = "quit_leading_due_to_disloyal_voter",
        SnapCount = "snap_count",
        UnrecoverableErrorCount = "unrecoverable_error_count",
        UnsuccessfulHandshake = "unsuccessful_handshake",
        CommitCount = "commit_count",
        StaleSessionsExpired = "stale_sessions_expired",
        ResponsePacketGetChildrenCacheHits = "response_packet_get_children_cache_hits",
        SyncProcessorRequestQueued = "sync_processor_request_queued",
        OutstandingChangesQueued = "outstanding_changes_queued",
        RequestCommitQueued = "request_commit_queued",
        EnsembleAuthSkip = "ensemble_auth_skip",
        SkipLearnerRequestToNextProcessorCount = "skip_learner_request_to_next_processor_count",
        TlsHandshakeExceeded = "tls_handshake_exceeded",
        RevalidateCount = "revalidate_count",
    }
}

java_metrics! {
    /// Java's `ServerMetrics` summaries without percentiles (`AvgMinMaxCounter`, "basic
    /// summaries"), each printed by `mntr` as `avg_`, `min_`, `max_`, `cnt_`, `sum_` lines.
    Summary {
        SocketClosingTime = "socket_closing_time",
        ProposalProcessTime = "proposal_process_time",
        LeaderUnavailableTime = "leader_unavailable_time",
        NodeCreatedWatchCount = "node_created_watch_count",
        SessionQueuesDrained = "session_queues_drained",
        WriteCommitProcReqQueued = "write_commit_proc_req_queued",
        ConnectionTokenDeficit = "connection_token_deficit",
        ReadCommitProcReqQueued = "read_commit_proc_req_queued",
        NodeDeletedWatchCount = "node_deleted_watch_count",
        StartupTxnsLoadTime = "startup_txns_load_time",
        SyncProcessorQueueSize = "sync_processor_queue_size",
        FollowerSyncTime = "follower_sync_time",
        PrepProcessorQueueSize = "prep_processor_queue_size",
        FsyncTime = "fsynctime",
        InflightSnapCount = "inflight_snap_count",
        ReadsIssuedFromSessionQueue = "reads_issued_from_session_queue",
        LearnerRequestProcessorQueueSize = "learner_request_processor_queue_size",
        SnapshotTime = "snapshottime",
        UnavailableTime = "unavailable_time",
        StartupTxnsLoaded = "startup_txns_loaded",
        ReadsAfterWriteInSessionQueue = "reads_after_write_in_session_queue",
        RequestsInSessionQueue = "requests_in_session_queue",
        WriteCommitProcIssued = "write_commit_proc_issued",
        PrepProcessTime = "prep_process_time",
        PendingSessionQueueSize = "pending_session_queue_size",
        TimeWaitingEmptyPoolInCommitProcessorRead = "time_waiting_empty_pool_in_commit_processor_read_ms",
        CommitProcessTime = "commit_process_time",
        DbInitTime = "dbinittime",
        InflightDiffCount = "inflight_diff_count",
        NettyQueuedBufferCapacity = "netty_queued_buffer_capacity",
        ElectionTime = "election_time",
        CommitCommitProcReqQueued = "commit_commit_proc_req_queued",
        SyncProcessorBatchSize = "sync_processor_batch_size",
        NodeChildrenWatchCount = "node_children_watch_count",
        WriteBatchTimeInCommitProcessor = "write_batch_time_in_commit_processor",
        ReadCommitProcIssued = "read_commit_proc_issued",
        ConcurrentRequestProcessingInCommitProcessor = "concurrent_request_processing_in_commit_processor",
        ObserverSyncTime = "observer_sync_time",
        NodeChangedWatchCount = "node_changed_watch_count",
        SyncProcessTime = "sync_process_time",
        StartupSnapLoadTime = "startup_snap_load_time",
    }
}

java_metrics! {
    /// Java's `ServerMetrics` summaries with percentiles (`AvgMinMaxPercentileCounter`), each
    /// printed by `mntr` as `avg_`, `min_`, `max_`, `cnt_`, `sum_`, `p50_`, `p95_`, `p99_`,
    /// `p999_` lines.
    PercentileSummary {
        PrepProcessorQueueTime = "prep_processor_queue_time_ms",
        JvmPauseTime = "jvm_pause_time_ms",
        CloseSessionPrepTime = "close_session_prep_time",
        ReadCommitProcTime = "read_commitproc_time_ms",
        UpdateLatency = "updatelatency",
        LocalWriteCommittedTime = "local_write_committed_time_ms",
        RequestThrottleQueueTime = "request_throttle_queue_time_ms",
        ReadLatency = "readlatency",
        QuorumAckLatency = "quorum_ack_latency",
        OmCommitProcessTime = "om_commit_process_time_ms",
        ReadFinalProcTime = "read_final_proc_time_ms",
        CommitPropagationLatency = "commit_propagation_latency",
        DeadWatchersCleanerLatency = "dead_watchers_cleaner_latency",
        WriteFinalProcTime = "write_final_proc_time_ms",
        ProposalAckCreationLatency = "proposal_ack_creation_latency",
        ProposalLatency = "proposal_latency",
        OmProposalProcessTime = "om_proposal_process_time_ms",
        SyncProcessorQueueAndFlushTime = "sync_processor_queue_and_flush_time_ms",
        PropagationLatency = "propagation_latency",
        ServerWriteCommittedTime = "server_write_committed_time_ms",
        SyncProcessorQueueTime = "sync_processor_queue_time_ms",
        SyncProcessorQueueFlushTime = "sync_processor_queue_flush_time_ms",
        WriteCommitProcTime = "write_commitproc_time_ms",
    }
}

/// Java's `DataTree.STAT_OVERHEAD_BYTES` (6 longs and 5 ints of a `Stat`), added to every
/// per-namespace read.
pub const STAT_OVERHEAD_BYTES: i64 = 6 * 8 + 5 * 4;

/// Java's `PathUtils.getTopNamespace`: the first component of an absolute path (`"a"` for
/// `/a/b`), `None` for `/`.
pub fn top_namespace(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    parts.next()?;
    parts.next().filter(|s| !s.is_empty())
}

/// Add `v` to the summary of namespace `ns` (a new name is copied once, not on every call).
fn add_to_namespace(map: &mut BTreeMap<String, AvgMinMax>, ns: &str, v: i64) {
    match map.get_mut(ns) {
        Some(s) => s.add(v),
        None => map.entry(ns.to_string()).or_default().add(v),
    }
}

/// Java's `String.length()` (UTF-16 code units).
fn java_len(s: &str) -> i64 {
    if s.is_ascii() {
        return s.len() as i64;
    }
    s.encode_utf16().count() as i64
}

/// The whole server's statistics: Java's `ServerStats` plus the `ServerMetrics` registry.
#[derive(Debug, Clone)]
pub struct ServerStats {
    start_ms: i64,
    packets_received: u64,
    packets_sent: u64,
    request_latency: AvgMinMax,
    client_response: BufferStats,
    auth_failed: u64,
    non_mtls_local_conn: u64,
    non_mtls_remote_conn: u64,
    fsync_threshold_exceed: u64,
    counters: Vec<u64>,
    summaries: Vec<AvgMinMax>,
    percentiles: Vec<AvgMinMaxPercentile>,
    quota_exceeded_per_namespace: BTreeMap<String, u64>,
    read_per_namespace: BTreeMap<String, AvgMinMax>,
    write_per_namespace: BTreeMap<String, AvgMinMax>,
}

impl ServerStats {
    /// Fresh statistics for a server started at `start_ms` ([`monotonic_ms`] clock; used
    /// for `uptime`).
    pub fn new(start_ms: i64) -> Self {
        ServerStats {
            start_ms,
            packets_received: 0,
            packets_sent: 0,
            request_latency: AvgMinMax::new(),
            client_response: BufferStats::default(),
            auth_failed: 0,
            non_mtls_local_conn: 0,
            non_mtls_remote_conn: 0,
            fsync_threshold_exceed: 0,
            counters: vec![0; Counter::ALL.len()],
            summaries: vec![AvgMinMax::new(); Summary::ALL.len()],
            percentiles: vec![AvgMinMaxPercentile::new(); PercentileSummary::ALL.len()],
            quota_exceeded_per_namespace: BTreeMap::new(),
            read_per_namespace: BTreeMap::new(),
            write_per_namespace: BTreeMap::new(),
        }
    }

    /// A packet (request frame, handshake or four-letter word) of `bytes` bytes arrived
    /// (Java's `ServerCnxn.packetReceived`: also feeds `bytes_received_count`). Java counts a
    /// frame as 4 + its body length, a four-letter word as 4.
    pub fn packet_received(&mut self, bytes: u64) {
        self.packets_received += 1;
        self.add(Counter::BytesReceivedCount, bytes);
    }

    /// `n` packets were sent (reply frames, notifications, four-letter-word chunks).
    pub fn packets_sent(&mut self, n: u64) {
        self.packets_sent += n;
    }

    /// One packet was sent.
    pub fn packet_sent(&mut self) {
        self.packets_sent(1);
    }

    /// A request was answered `latency_ms` after it arrived (`ServerStats.updateLatency`):
    /// feeds min/avg/max and `updatelatency` (`is_write`: the request had a txn) or
    /// `readlatency`. Negative latencies are ignored, as in Java.
    pub fn record_request(&mut self, latency_ms: i64, is_write: bool) {
        if latency_ms < 0 {
            return;
        }
        self.request_latency.add(latency_ms);
        let which = if is_write {
            PercentileSummary::UpdateLatency
        } else {
            PercentileSummary::ReadLatency
        };
        self.add_percentile(which, latency_ms);
    }

    /// A reply frame of `size` bytes (header + body, without the length prefix) was queued.
    pub fn client_response_size(&mut self, size: i64) {
        self.client_response.set_last(size);
    }

    /// An authentication attempt failed (`auth_failed_count`; not reset by `srst`).
    pub fn auth_failed(&mut self) {
        self.auth_failed += 1;
    }

    /// A client connected without mutual TLS from a local (`local`) or remote address.
    pub fn non_mtls_connection(&mut self, local: bool) {
        if local {
            self.non_mtls_local_conn += 1;
        } else {
            self.non_mtls_remote_conn += 1;
        }
    }

    /// Txn log fsyncs measured elsewhere (the log writer's thread): their times in ms go to
    /// the `fsynctime` summary, and `over_threshold` of them took longer than
    /// `zookeeper.fsync.warningthresholdms`.
    pub fn add_fsyncs(&mut self, times_ms: &AvgMinMax, over_threshold: u64) {
        self.summaries[Summary::FsyncTime as usize].merge(times_ms);
        self.fsync_threshold_exceed += over_threshold;
    }

    /// Adds `n` to a counter.
    pub fn add(&mut self, counter: Counter, n: u64) {
        let c = &mut self.counters[counter as usize];
        *c = c.wrapping_add(n);
    }

    /// Adds a data point to a basic summary.
    pub fn add_summary(&mut self, summary: Summary, value: i64) {
        self.summaries[summary as usize].add(value);
    }

    /// Adds a data point to a summary with percentiles.
    pub fn add_percentile(&mut self, summary: PercentileSummary, value: i64) {
        self.percentiles[summary as usize].add(value);
    }

    /// A read of `path` returned `bytes` bytes (getData: the data length; exists: 0;
    /// getChildren: the summed lengths of the child names, in UTF-16 units). Java's
    /// `updateReadStat`: records `path.length() + bytes + STAT_OVERHEAD_BYTES` under the
    /// path's top namespace; nothing for `/`.
    pub fn record_namespace_read(&mut self, path: &str, bytes: i64) {
        if let Some(ns) = top_namespace(path) {
            let v = java_len(path) + bytes + STAT_OVERHEAD_BYTES;
            add_to_namespace(&mut self.read_per_namespace, ns, v);
        }
    }

    /// A write applied to `path` (create: data length; delete: 0; setData: the new data
    /// length). Java's `updateWriteStat`: records `path.length() + bytes`.
    pub fn record_namespace_write(&mut self, path: &str, bytes: i64) {
        if let Some(ns) = top_namespace(path) {
            let v = java_len(path) + bytes;
            add_to_namespace(&mut self.write_per_namespace, ns, v);
        }
    }

    /// A write was refused because it would exceed the quota of `namespace` (the path's
    /// [`top_namespace`]; Java's `quota_exceeded_error_per_namespace` counter set).
    pub fn record_quota_exceeded(&mut self, namespace: &str) {
        *self
            .quota_exceeded_per_namespace
            .entry(namespace.to_string())
            .or_default() += 1;
    }

    /// `srst`: Java's `ServerStats.reset()` — latency, packet counts, response sizes and
    /// every named metric.
    pub fn reset(&mut self) {
        self.request_latency.reset();
        self.packets_received = 0;
        self.packets_sent = 0;
        self.client_response.reset();
        self.reset_metrics();
    }

    /// Only the latency (Java's `resetLatency`, the AdminServer's `stat_reset` does more).
    pub fn reset_latency(&mut self) {
        self.request_latency.reset();
    }

    /// Java's `resetMaxLatency`: max becomes the current min.
    pub fn reset_max_latency(&mut self) {
        self.request_latency.reset_max();
    }

    /// Java's `ServerMetrics.resetAll`: every counter and summary back to empty.
    pub fn reset_metrics(&mut self) {
        self.counters.iter_mut().for_each(|c| *c = 0);
        self.summaries.iter_mut().for_each(AvgMinMax::reset);
        self.percentiles
            .iter_mut()
            .for_each(AvgMinMaxPercentile::reset);
        // Java resets the per-namespace counters too (their names stay).
        self.quota_exceeded_per_namespace
            .values_mut()
            .for_each(|c| *c = 0);
        self.read_per_namespace
            .values_mut()
            .for_each(AvgMinMax::reset);
        self.write_per_namespace
            .values_mut()
            .for_each(AvgMinMax::reset);
    }

    /// Packets received since start or `srst`.
    pub fn packets_received_count(&self) -> u64 {
        self.packets_received
    }

    /// Packets sent since start or `srst`.
    pub fn packets_sent_count(&self) -> u64 {
        self.packets_sent
    }

    /// Request latency (ms): min/avg/max as `srvr` prints them.
    pub fn latency(&self) -> &AvgMinMax {
        &self.request_latency
    }

    /// Smallest request latency, 0 when none.
    pub fn min_latency(&self) -> i64 {
        self.request_latency.min()
    }

    /// Average request latency, rounded to 4 decimals.
    pub fn avg_latency(&self) -> f64 {
        self.request_latency.avg()
    }

    /// Largest request latency, 0 when none.
    pub fn max_latency(&self) -> i64 {
        self.request_latency.max()
    }

    /// Reply sizes (`last_client_response_size`, ...).
    pub fn client_response_stats(&self) -> BufferStats {
        self.client_response
    }

    /// `auth_failed_count`.
    pub fn auth_failed_count(&self) -> u64 {
        self.auth_failed
    }

    /// `non_mtls_local_conn_count`.
    pub fn non_mtls_local_conn_count(&self) -> u64 {
        self.non_mtls_local_conn
    }

    /// `non_mtls_remote_conn_count`.
    pub fn non_mtls_remote_conn_count(&self) -> u64 {
        self.non_mtls_remote_conn
    }

    /// `fsync_threshold_exceed_count` (an AdminServer / JMX value, not in `mntr`).
    pub fn fsync_threshold_exceed_count(&self) -> u64 {
        self.fsync_threshold_exceed
    }

    /// Milliseconds since start, given the current [`monotonic_ms`].
    pub fn uptime_ms(&self, now_ms: i64) -> i64 {
        now_ms - self.start_ms
    }

    /// A counter's value.
    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters[counter as usize]
    }

    /// A basic summary.
    pub fn summary(&self, summary: Summary) -> &AvgMinMax {
        &self.summaries[summary as usize]
    }

    /// A summary with percentiles.
    pub fn percentile_summary(&self, summary: PercentileSummary) -> &AvgMinMaxPercentile {
        &self.percentiles[summary as usize]
    }

    /// Java's `quota_exceeded_error_per_namespace` counters, by namespace (sorted).
    pub fn quota_exceeded_per_namespace(&self) -> &BTreeMap<String, u64> {
        &self.quota_exceeded_per_namespace
    }

    /// Java's `read_per_namespace` summaries, by namespace (sorted).
    pub fn read_per_namespace(&self) -> &BTreeMap<String, AvgMinMax> {
        &self.read_per_namespace
    }

    /// Java's `write_per_namespace` summaries, by namespace (sorted).
    pub fn write_per_namespace(&self) -> &BTreeMap<String, AvgMinMax> {
        &self.write_per_namespace
    }
}

/// One connection's statistics (Java's fields of `ServerCnxn`), as `cons` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnStats {
    established_ms: i64,
    packets_received: u64,
    packets_sent: u64,
    min_latency: i64,
    max_latency: i64,
    last_op: &'static str,
    last_cxid: i64,
    last_zxid: i64,
    last_response_time: i64,
    last_latency: i64,
    count: u64,
    total_latency: i64,
}

impl ConnStats {
    /// A connection accepted at `established_ms` (wall clock, [`wall_ms`]). Starts as Java's
    /// does: min latency 0 (not empty), last op `null`, last cxid and zxid 0.
    pub fn new(established_ms: i64) -> Self {
        ConnStats {
            established_ms,
            packets_received: 0,
            packets_sent: 0,
            min_latency: 0,
            max_latency: 0,
            last_op: "null",
            last_cxid: 0,
            last_zxid: 0,
            last_response_time: 0,
            last_latency: 0,
            count: 0,
            total_latency: 0,
        }
    }

    /// A packet arrived on this connection.
    pub fn packet_received(&mut self) {
        self.packets_received += 1;
    }

    /// `n` packets were sent on this connection.
    pub fn packets_sent(&mut self, n: u64) {
        self.packets_sent += n;
    }

    /// One packet was sent on this connection.
    pub fn packet_sent(&mut self) {
        self.packets_sent(1);
    }

    /// A request was answered (Java's `updateStatsForResponse`): `cxid` is kept only if
    /// `>= 0`; `zxid` is the last processed zxid put in the reply header; `op` the
    /// [`op_name`]; `start_ms` / `end_ms` the request's arrival and the answer on the
    /// [`monotonic_ms`] clock (`end_ms` becomes `lresp`).
    pub fn record_response(
        &mut self,
        cxid: i32,
        zxid: i64,
        op: &'static str,
        start_ms: i64,
        end_ms: i64,
    ) {
        if cxid >= 0 {
            self.last_cxid = i64::from(cxid);
        }
        self.last_zxid = zxid;
        self.last_op = op;
        self.last_response_time = end_ms;
        let elapsed = end_ms - start_ms;
        self.last_latency = elapsed;
        if elapsed < self.min_latency {
            self.min_latency = elapsed;
        }
        if elapsed > self.max_latency {
            self.max_latency = elapsed;
        }
        self.count += 1;
        self.total_latency = self.total_latency.wrapping_add(elapsed);
    }

    /// `crst` (Java's `resetStats`): counts to 0, min latency empty, last op `NA`, last cxid
    /// and zxid -1. The established time stays.
    pub fn reset(&mut self) {
        *self = ConnStats {
            min_latency: i64::MAX,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            ..ConnStats::new(self.established_ms)
        };
    }

    /// When the connection was accepted (wall-clock ms; `est=` in `cons`).
    pub fn established_ms(&self) -> i64 {
        self.established_ms
    }

    /// Packets received (`recved=`).
    pub fn packets_received(&self) -> u64 {
        self.packets_received
    }

    /// Packets sent (`sent=`).
    pub fn packets_sent_count(&self) -> u64 {
        self.packets_sent
    }

    /// The last answered operation (`lop=`).
    pub fn last_op(&self) -> &'static str {
        self.last_op
    }

    /// The last non-negative cxid answered, -1 after a reset (`lcxid=`, omitted when < 0).
    pub fn last_cxid(&self) -> i64 {
        self.last_cxid
    }

    /// The zxid of the last answer's header (`lzxid=`).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// When the last answer was sent, [`monotonic_ms`] clock (`lresp=`).
    pub fn last_response_time(&self) -> i64 {
        self.last_response_time
    }

    /// Latency of the last answer (`llat=`).
    pub fn last_latency(&self) -> i64 {
        self.last_latency
    }

    /// Smallest latency (`minlat=`), 0 when empty.
    pub fn min_latency(&self) -> i64 {
        if self.min_latency == i64::MAX {
            0
        } else {
            self.min_latency
        }
    }

    /// Average latency, integer division (`avglat=`), 0 when empty.
    pub fn avg_latency(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.total_latency / self.count as i64
        }
    }

    /// Largest latency (`maxlat=`).
    pub fn max_latency(&self) -> i64 {
        self.max_latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avg_rounding_matches_java() {
        let mut s = AvgMinMax::new();
        assert_eq!((s.min(), s.avg(), s.max()), (0, 0.0, 0));
        for v in [1, 8, 2, 3, 2, 1, 2, 3, 2, 1, 2] {
            s.add(v);
        }
        // 27 / 11 = 2.454545... -> 2.4545 (seen from Java: "1/2.4545/8").
        assert_eq!(s.avg(), 2.4545);
        assert_eq!((s.min(), s.max(), s.count(), s.total()), (1, 8, 11, 27));
        assert_eq!(round4_half_up(1.0 / 11.0), 0.0909);
        assert_eq!(round4_half_up(6.0 / 11.0), 0.5455);
        assert_eq!(round4_half_up(1.0 / 7.0), 0.1429);
        assert_eq!(round4_half_up(22.0 / 7.0), 3.1429);
        // 0.00005 as a double is slightly above 5e-5: HALF_UP on the exact value gives 1e-4.
        assert_eq!(round4_half_up(0.00005), 0.0001);
        // Values checked with Java's BigDecimal: the exact binary value decides.
        assert_eq!(round4_half_up(1.00005), 1.0001);
        assert_eq!(round4_half_up(1.23455), 1.2346);
        assert_eq!(round4_half_up(1.30005), 1.3);
        assert_eq!(round4_half_up(0.00045), 0.0004);
        assert_eq!(round4_half_up(1.45675), 1.4567);
        assert_eq!(round4_half_up(2.5), 2.5);
        assert_eq!(round4_half_up(123456789.123456), 123456789.1235);
        s.reset_max();
        assert_eq!(s.max(), 1);
        s.reset();
        assert_eq!((s.count(), s.min(), s.max()), (0, 0, 0));
    }

    #[test]
    fn merged_summaries_equal_one_fed_all_points() {
        let (mut a, mut b, mut all) = (AvgMinMax::new(), AvgMinMax::new(), AvgMinMax::new());
        for v in [5, 3, 9] {
            a.add(v);
            all.add(v);
        }
        for v in [1, 4] {
            b.add(v);
            all.add(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
        a.merge(&AvgMinMax::new());
        assert_eq!(a, all);
        let mut stats = ServerStats::new(0);
        stats.add_fsyncs(&all, 2);
        stats.add_fsyncs(&AvgMinMax::new(), 1);
        let f = stats.summary(Summary::FsyncTime);
        assert_eq!((f.count(), f.min(), f.max(), f.total()), (5, 1, 9, 22));
        assert_eq!(stats.fsync_threshold_exceed_count(), 3);
    }

    #[test]
    fn percentiles_as_dropwizard_uniform_snapshot() {
        let mut p = AvgMinMaxPercentile::new();
        assert_eq!(p.percentiles(), [0, 0, 0, 0]);
        for v in [8, 1, 2, 5, 2, 1, 3] {
            p.add(v);
        }
        // Java printed p50 2, p95 8, p99 8, p999 8 for such a set.
        assert_eq!(p.percentiles(), [2, 8, 8, 8]);
        let mut q = AvgMinMaxPercentile::new();
        for v in 1..=100 {
            q.add(v);
        }
        // pos = 0.5 * 101 = 50.5 -> 50 + 0.5 * (51 - 50) = 50.5 -> round 51.
        assert_eq!(q.percentile(0.5), 51);
        assert_eq!(q.percentile(0.95), 96);
        assert_eq!(q.percentile(0.999), 100);
        for v in 0..10_000 {
            q.add(v);
        }
        assert_eq!(q.samples.len(), RESERVOIR_SIZE);
        assert_eq!(q.summary().count(), 10_100);
        q.reset();
        assert_eq!(q.percentiles(), [0, 0, 0, 0]);
    }

    #[test]
    fn server_stats_reset_is_srst() {
        let mut s = ServerStats::new(1000);
        s.packet_received(4);
        s.packet_received(48);
        s.packet_sent();
        s.record_request(3, true);
        s.record_request(1, false);
        s.record_request(-1, false);
        s.client_response_size(16);
        s.client_response_size(93);
        s.client_response_size(55);
        s.auth_failed();
        s.add(Counter::SnapCount, 2);
        s.add_summary(Summary::FsyncTime, 1);
        s.record_namespace_read("/a", 5);
        s.record_namespace_write("/a/e1", 1);
        s.record_namespace_write("/", 1);
        assert_eq!(s.packets_received_count(), 2);
        assert_eq!(s.counter(Counter::BytesReceivedCount), 52);
        assert_eq!(
            (s.min_latency(), s.avg_latency(), s.max_latency()),
            (1, 2.0, 3)
        );
        assert_eq!(
            s.percentile_summary(PercentileSummary::UpdateLatency)
                .summary()
                .count(),
            1
        );
        assert_eq!(s.client_response_stats().to_string(), "55/16/93");
        assert_eq!(s.read_per_namespace()["a"].total(), 2 + 5 + 68);
        assert_eq!(s.write_per_namespace()["a"].total(), 5 + 1);
        assert_eq!(s.write_per_namespace().len(), 1);
        assert_eq!(s.uptime_ms(18921), 17921);
        s.reset();
        assert_eq!((s.packets_received_count(), s.packets_sent_count()), (0, 0));
        assert_eq!(
            (s.min_latency(), s.avg_latency(), s.max_latency()),
            (0, 0.0, 0)
        );
        assert_eq!(s.client_response_stats(), BufferStats::default());
        assert_eq!(s.counter(Counter::SnapCount), 0);
        assert_eq!(s.summary(Summary::FsyncTime).count(), 0);
        assert_eq!(s.auth_failed_count(), 1);
    }

    #[test]
    fn conn_stats_java_quirks() {
        let mut c = ConnStats::new(1_795_619_424_634);
        assert_eq!(c.last_op(), "null");
        c.packet_received();
        c.record_response(0, 0, op_name(-10), 100, 108);
        c.record_response(-2, 7, op_name(11), 200, 202);
        c.record_response(5, 7, op_name(3), 300, 301);
        // min starts at 0 and stays there (Java quirk).
        assert_eq!(c.min_latency(), 0);
        assert_eq!((c.last_op(), c.last_cxid(), c.last_zxid()), ("EXIS", 5, 7));
        assert_eq!(
            (c.last_latency(), c.avg_latency(), c.max_latency()),
            (1, 3, 8)
        );
        assert_eq!(c.last_response_time(), 301);
        c.reset();
        assert_eq!((c.last_op(), c.last_cxid(), c.last_zxid()), ("NA", -1, -1));
        assert_eq!(
            (c.min_latency(), c.avg_latency(), c.max_latency()),
            (0, 0, 0)
        );
        assert_eq!(c.established_ms(), 1_795_619_424_634);
        c.record_response(6, 8, op_name(4), 10, 13);
        assert_eq!(c.min_latency(), 3);
    }

    #[test]
    fn names() {
        assert_eq!(op_name(12), "GETC");
        assert_eq!(op_name(104), "GETACN");
        assert_eq!(op_name(100), "NA");
        assert_eq!(top_namespace("/a/b"), Some("a"));
        assert_eq!(top_namespace("/a"), Some("a"));
        assert_eq!(top_namespace("/"), None);
        assert_eq!(Counter::ALL.len(), 47);
        assert_eq!(Summary::ALL.len(), 41);
        assert_eq!(PercentileSummary::ALL.len(), 23);
        assert_eq!(
            Summary::from_java_name("fsynctime"),
            Some(Summary::FsyncTime)
        );
        assert!(monotonic_ms() > 0 || !std::path::Path::new("/proc/uptime").exists());
    }
}
