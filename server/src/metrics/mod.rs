//! The metrics registry as Java's `MetricsProvider` root context holds it: every gauge the
//! server registers (`ZooKeeperServer.registerMetrics`), every `ServerMetrics` counter,
//! summary and set, with the kind and detail level Java gave it. [`collect`] reads them from
//! a [`FourLetterSource`] (the values `mntr` shows, one place per value); `fourlw`'s `mntr`
//! prints the list as lines and [`prometheus`] as Prometheus text, so the two cannot drift.
//!
//! The list comes in `mntr`'s order (Java's hash orders, which `mntr` reproduces); a set
//! ([`Metric::GaugeSet`], ...) with no keys is still listed: Java's Prometheus registry
//! shows its HELP and TYPE lines, `mntr` nothing.

pub mod endpoint;
pub mod prometheus;

use crate::fourlw::{FourLetterSource, MNTR_COUNTERS_3_9, MNTR_GAUGES, RESTORE_TIME_AFTER};
use crate::stats::{AvgMinMax, AvgMinMaxPercentile, Counter, PercentileSummary, Summary};

/// A gauge's value: `mntr` prints an integer or a Java double as it is, Prometheus every
/// value as a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Double(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Double(v) => v,
        }
    }
}

/// Java's `MetricsContext.DetailLevel`: a basic summary has count, sum, min, max and avg
/// (`AvgMinMaxCounter`; Prometheus: the median only), an advanced one percentiles too
/// (`AvgMinMaxPercentileCounter`; Prometheus: 0.5, 0.9 and 0.99).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Basic,
    Advanced,
}

/// One summary's values.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValues {
    pub stats: AvgMinMax,
    /// An advanced summary's quantiles over the samples it keeps; `None` while it has none
    /// (and always for a basic summary, which keeps no samples).
    pub quantiles: Option<Quantiles>,
}

/// The quantiles `mntr` (p50, p95, p99, p999) and Prometheus (0.5, 0.9, 0.99) show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantiles {
    pub p50: i64,
    pub p90: i64,
    pub p95: i64,
    pub p99: i64,
    pub p999: i64,
}

impl SummaryValues {
    fn basic(stats: AvgMinMax) -> SummaryValues {
        SummaryValues {
            stats,
            quantiles: None,
        }
    }

    fn advanced(p: &AvgMinMaxPercentile) -> SummaryValues {
        SummaryValues {
            stats: *p.summary(),
            quantiles: p.quantiles([0.5, 0.9, 0.95, 0.99, 0.999]).map(
                |[p50, p90, p95, p99, p999]| Quantiles {
                    p50,
                    p90,
                    p95,
                    p99,
                    p999,
                },
            ),
        }
    }
}

/// One entry of the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A value `mntr` shows that is no registered metric (Java's `dumpMonitorValues`:
    /// `version`, `server_state`, a role's lines): not exported to Prometheus.
    Info {
        name: String,
        value: crate::fourlw::MonitorValue,
    },
    /// A registered gauge.
    Gauge { name: &'static str, value: Number },
    /// A registered gauge set (label `key`).
    GaugeSet {
        name: &'static str,
        values: Vec<(String, i64)>,
    },
    /// A `ServerMetrics` counter.
    Counter { name: &'static str, value: u64 },
    /// A `ServerMetrics` counter set (label `key`).
    CounterSet {
        name: &'static str,
        values: Vec<(String, u64)>,
    },
    /// A `ServerMetrics` summary.
    Summary {
        name: &'static str,
        detail: Detail,
        values: SummaryValues,
    },
    /// A `ServerMetrics` summary set (label `key`).
    SummarySet {
        name: &'static str,
        detail: Detail,
        values: Vec<(String, SummaryValues)>,
    },
}

/// Java's quota gauge sets (`QuotaMetricsUtils`); `quota::metrics` keys are
/// `<namespace>_<set>`.
pub const QUOTA_GAUGE_SETS: [&str; 4] = [
    "quota_bytes_limit_per_namespace",
    "quota_count_usage_per_namespace",
    "quota_count_limit_per_namespace",
    "quota_bytes_usage_per_namespace",
];

/// `ServerMetrics` summary sets zk-rs registers but never records into (a leader's
/// per-learner queue and ack times): Prometheus shows their HELP and TYPE lines as Java's.
const UNUSED_SUMMARY_SETS: [(&str, Detail); 3] = [
    ("learner_handler_qp_size", Detail::Basic),
    ("learner_handler_qp_time_ms", Detail::Advanced),
    ("ack_latency", Detail::Advanced),
];

/// Every metric of the server seen through `src`, in `mntr`'s order.
pub fn collect(src: &dyn FourLetterSource) -> Vec<Metric> {
    let st = src.server_stats();
    let m = src.monitor_values();
    let resp = st.client_response_stats();
    let v39 = src.compat_version().is_3_9();
    let mut out = Vec::with_capacity(256);
    out.push(Metric::Info {
        name: "version".to_string(),
        value: crate::fourlw::MonitorValue::Str(src.version()),
    });
    out.push(Metric::Info {
        name: "server_state".to_string(),
        value: crate::fourlw::MonitorValue::Str(src.server_state()),
    });
    for (name, value) in &m.role_values {
        out.push(Metric::Info {
            name: name.clone(),
            value: value.clone(),
        });
    }
    for name in MNTR_GAUGES {
        use Number::{Double, Int};
        let value = match name {
            "ephemerals_count" => Int(m.ephemerals_count as i64),
            "num_alive_connections" => Int(src.num_alive_connections() as i64),
            "avg_latency" => Double(st.avg_latency()),
            "outstanding_requests" => Int(src.outstanding_requests() as i64),
            "znode_count" => Int(src.node_count() as i64),
            "global_sessions" => Int(m.global_sessions as i64),
            "non_mtls_remote_conn_count" => Int(st.non_mtls_remote_conn_count() as i64),
            "last_client_response_size" => Int(resp.last),
            "packets_sent" => Int(st.packets_sent_count() as i64),
            "packets_received" => Int(st.packets_received_count() as i64),
            "max_client_response_size" => Int(resp.max),
            "connection_drop_probability" => Double(m.connection_drop_probability),
            "watch_count" => Int(m.watch_count as i64),
            "auth_failed_count" => Int(st.auth_failed_count() as i64),
            "min_latency" => Int(st.min_latency()),
            "max_file_descriptor_count" => Int(m.max_file_descriptor_count),
            "approximate_data_size" => Int(m.approximate_data_size),
            "open_file_descriptor_count" => Int(m.open_file_descriptor_count),
            "local_sessions" => Int(m.local_sessions as i64),
            "uptime" => Int(m.uptime_ms),
            "max_latency" => Int(st.max_latency()),
            "outstanding_tls_handshake" => Int(m.outstanding_tls_handshake),
            "min_client_response_size" => Int(resp.min),
            "non_mtls_local_conn_count" => Int(st.non_mtls_local_conn_count() as i64),
            _ => Int(0),
        };
        out.push(Metric::Gauge { name, value });
        // A leader's gauges come among these in Java's (hash) order, the same in 3.8.0 and
        // 3.9.3.
        let int = |name, v: i64| Metric::Gauge {
            name,
            value: Number::Int(v),
        };
        if let Some(g) = &m.leader_gauges {
            match name {
                "avg_latency" => out.push(int("min_proposal_size", g.proposal_sizes.min)),
                "packets_received" => out.push(int("max_proposal_size", g.proposal_sizes.max)),
                "max_client_response_size" => out.push(int("synced_followers", g.synced_followers)),
                "watch_count" => {
                    out.push(int(
                        "synced_non_voting_followers",
                        g.synced_non_voting_followers,
                    ));
                    out.push(int("synced_observers", g.synced_observers));
                }
                "open_file_descriptor_count" => {
                    out.push(int("last_proposal_size", g.proposal_sizes.last));
                    out.push(int("pending_syncs", g.pending_syncs));
                }
                "outstanding_tls_handshake" => out.push(int("learners", g.learners)),
                _ => {}
            }
        }
        if let (Some(n), "watch_count") = (m.follower_synced_observers, name) {
            // Where a leader's comes, its neighbours not being a follower's.
            out.push(int("synced_observers", n));
        }
        if let (Some(uptime), "open_file_descriptor_count") = (m.leader_uptime_ms, name) {
            out.push(int("leader_uptime", uptime));
        }
    }
    if let Some(size) = m.quorum_size {
        out.push(Metric::Gauge {
            name: "quorum_size",
            value: Number::Int(size),
        });
    }
    // One entry per quota line, in `mntr`'s order; the empty sets after them.
    for (key, value) in &m.quota_gauges {
        if let Some((name, ns)) = QUOTA_GAUGE_SETS.iter().find_map(|set| {
            let ns = key.strip_suffix(set)?.strip_suffix('_')?;
            Some((*set, ns))
        }) {
            out.push(Metric::GaugeSet {
                name,
                values: vec![(ns.to_string(), *value)],
            });
        }
    }
    for name in QUOTA_GAUGE_SETS {
        out.push(Metric::GaugeSet {
            name,
            values: Vec::new(),
        });
    }
    if v39 {
        // 3.9.3's counters come in another (hash) order, with four we never count.
        for name in MNTR_COUNTERS_3_9 {
            let value = Counter::from_java_name(name).map_or(0, |c| st.counter(c));
            out.push(Metric::Counter { name, value });
        }
    } else {
        for c in Counter::ALL {
            out.push(Metric::Counter {
                name: c.java_name(),
                value: st.counter(*c),
            });
        }
    }
    out.push(Metric::CounterSet {
        name: "quota_exceeded_error_per_namespace",
        values: st
            .quota_exceeded_per_namespace()
            .iter()
            .map(|(ns, n)| (ns.clone(), *n))
            .collect(),
    });
    for sm in Summary::ALL {
        out.push(Metric::Summary {
            name: sm.java_name(),
            detail: Detail::Basic,
            values: SummaryValues::basic(*st.summary(*sm)),
        });
        if *sm == RESTORE_TIME_AFTER && v39 {
            // 3.9.3's snapshot restore summary (AdminServer `restore`): never used here.
            out.push(Metric::Summary {
                name: "restore_time",
                detail: Detail::Basic,
                values: SummaryValues::basic(AvgMinMax::new()),
            });
        }
    }
    for ps in PercentileSummary::ALL {
        out.push(Metric::Summary {
            name: ps.java_name(),
            detail: Detail::Advanced,
            values: SummaryValues::advanced(st.percentile_summary(*ps)),
        });
    }
    let per_namespace = |map: &std::collections::BTreeMap<String, AvgMinMax>| {
        map.iter()
            .map(|(ns, a)| (ns.clone(), SummaryValues::basic(*a)))
            .collect()
    };
    out.push(Metric::SummarySet {
        name: "read_per_namespace",
        detail: Detail::Basic,
        values: per_namespace(st.read_per_namespace()),
    });
    out.push(Metric::SummarySet {
        name: "write_per_namespace",
        detail: Detail::Basic,
        values: per_namespace(st.write_per_namespace()),
    });
    for (name, detail) in UNUSED_SUMMARY_SETS {
        out.push(Metric::SummarySet {
            name,
            detail,
            values: Vec::new(),
        });
    }
    out
}
