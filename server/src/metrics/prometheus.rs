//! Java's `PrometheusMetricsProvider` (zookeeper-prometheus-metrics, on the Prometheus Java
//! client `simpleclient` 0.9.0, the version Java 3.8.0 and 3.9.3 ship with): the registry
//! ([`Metric`]s) as Prometheus text format 0.0.4, and which requests the endpoint answers.
//! Pure: values in, text out; the HTTP glue is in [`super::endpoint`].
//!
//! What Java writes, for every registered metric (`build(name, name)`: the help is the name):
//! ```text
//! # HELP znode_count znode_count
//! # TYPE znode_count gauge
//! znode_count 5.0
//! # HELP readlatency readlatency
//! # TYPE readlatency summary
//! readlatency{quantile="0.5",} 0.0
//! readlatency{quantile="0.9",} 1.0
//! readlatency{quantile="0.99",} 3.0
//! readlatency_count 42.0
//! readlatency_sum 17.0
//! # HELP read_per_namespace read_per_namespace
//! # TYPE read_per_namespace summary
//! read_per_namespace{key="a",quantile="0.5",} NaN
//! read_per_namespace_count{key="a",} 2.0
//! read_per_namespace_sum{key="a",} 140.0
//! ```
//! Values are Java doubles (`Double.toString`, `NaN`, `+Inf`); labels end with a comma;
//! gauges, gauge sets and counter sets use the label `key`; basic summaries have the
//! quantile 0.5, advanced ones 0.5, 0.9 and 0.99; a set without keys shows its HELP and TYPE
//! lines only. Families come in the registry's order (Java's is a hash order; Prometheus
//! does not care).
//!
//! Where zk-rs differs: Java's quantiles are CKMS estimates over a 10-minute sliding window,
//! ours the reservoir `mntr`'s percentiles come from (samples since start or `srst`); a basic
//! summary keeps no samples here, so its median is `NaN`; `srst` resets our counters (Java's
//! Prometheus values never reset; `rate()` copes with both). With `exportJvmInfo=true` Java
//! adds the `jvm_*` families of the JVM (zk-rs has none: left out) and the `process_*` ones,
//! which zk-rs gives from `/proc` ([`Process`]).

use super::{Detail, Metric, SummaryValues};
use crate::fourlw::java_double;
use crate::http;
use crate::http::{Reply, Request};
use std::fmt::Write;

/// Java's `TextFormat.CONTENT_TYPE_004`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The servlet's path (`context.addServlet(..., "/metrics")`, an exact match).
pub const PATH: &str = "/metrics";

/// What the endpoint does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Scrape, keeping only the families named (`?name[]=a&name[]=b`; empty: all).
    Scrape { names: Vec<String> },
    /// Answer this status with no metrics.
    Refuse(u16),
}

/// Java's servlet: `GET`, `HEAD` and `POST` on `/metrics` scrape (Jetty answers `HEAD`
/// without the body); another path is 404, another method 405 (TRACE too: 3.9.3 forbids
/// it explicitly, 3.8.0's servlet does not implement it for this servlet).
pub fn route(req: &Request) -> Route {
    if req.path != PATH {
        return Route::Refuse(404);
    }
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "POST") {
        return Route::Refuse(405);
    }
    let names = req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            (http::percent_decode(n, true) == "name[]").then(|| http::percent_decode(v, true))
        })
        .collect();
    Route::Scrape { names }
}

/// The reply to a scrape: `text` from [`render`].
pub fn reply(text: String, head: bool) -> Reply {
    Reply::new(200, CONTENT_TYPE, if head { String::new() } else { text })
}

/// The `process_*` values of simpleclient's `StandardExports` (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Process {
    /// User + system CPU time.
    pub cpu_seconds: f64,
    /// When the process started, seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Open and maximum file descriptors (-1 where unknown).
    pub open_fds: i64,
    pub max_fds: i64,
    /// `VmSize` and `VmRSS` of `/proc/self/status`; `None` where unknown (left out).
    pub virtual_memory_bytes: Option<i64>,
    pub resident_memory_bytes: Option<i64>,
}

/// Everything the endpoint shows: the registry, then (with `exportJvmInfo`) the process
/// families, keeping only `names` when some are given.
pub fn render(metrics: &[Metric], process: Option<&Process>, names: &[String]) -> String {
    let mut w = Writer {
        out: String::with_capacity(32 * 1024),
        names,
    };
    // A family's samples must be together: sets listed once per key are merged here.
    let mut done: Vec<&str> = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        let Some(name) = family_name(m) else {
            continue;
        };
        if done.contains(&name) {
            continue;
        }
        done.push(name);
        let same = metrics[i..].iter().filter(|o| family_name(o) == Some(name));
        w.family(name, m, same);
    }
    if let Some(p) = process {
        w.process(p);
    }
    w.out
}

fn family_name(m: &Metric) -> Option<&'static str> {
    match m {
        Metric::Info { .. } => None,
        Metric::Gauge { name, .. }
        | Metric::GaugeSet { name, .. }
        | Metric::Counter { name, .. }
        | Metric::CounterSet { name, .. }
        | Metric::Summary { name, .. }
        | Metric::SummarySet { name, .. } => Some(name),
    }
}

struct Writer<'a> {
    out: String,
    names: &'a [String],
}

impl Writer<'_> {
    fn header(&mut self, name: &str, help: &str, kind: &str) -> bool {
        if !self.names.is_empty() && !self.names.iter().any(|n| n == name) {
            return false;
        }
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        true
    }

    fn sample(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (k, v) in labels {
                let _ = write!(self.out, "{k}=\"{}\",", escape_label(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&go_double(value));
        self.out.push('\n');
    }

    fn family<'m>(&mut self, name: &str, first: &Metric, all: impl Iterator<Item = &'m Metric>) {
        let kind = match first {
            Metric::Gauge { .. } | Metric::GaugeSet { .. } => "gauge",
            Metric::Counter { .. } | Metric::CounterSet { .. } => "counter",
            _ => "summary",
        };
        if !self.header(name, name, kind) {
            return;
        }
        for m in all {
            match m {
                Metric::Info { .. } => {}
                Metric::Gauge { value, .. } => self.sample(name, "", &[], value.as_f64()),
                Metric::Counter { value, .. } => self.sample(name, "", &[], *value as f64),
                Metric::GaugeSet { values, .. } => {
                    for (key, v) in values {
                        self.sample(name, "", &[("key", key)], *v as f64);
                    }
                }
                Metric::CounterSet { values, .. } => {
                    for (key, v) in values {
                        self.sample(name, "", &[("key", key)], *v as f64);
                    }
                }
                Metric::Summary { detail, values, .. } => {
                    self.summary(name, None, *detail, values);
                }
                Metric::SummarySet { detail, values, .. } => {
                    for (key, v) in values {
                        self.summary(name, Some(key), *detail, v);
                    }
                }
            }
        }
    }

    /// simpleclient's `Summary.collect`: each quantile, then `_count` and `_sum`.
    fn summary(&mut self, name: &str, key: Option<&str>, detail: Detail, v: &SummaryValues) {
        let q = v.quantiles;
        let wanted: Vec<(&str, Option<i64>)> = match detail {
            Detail::Basic => vec![("0.5", q.map(|q| q.p50))],
            Detail::Advanced => vec![
                ("0.5", q.map(|q| q.p50)),
                ("0.9", q.map(|q| q.p90)),
                ("0.99", q.map(|q| q.p99)),
            ],
        };
        let mut labels: Vec<(&str, &str)> = key.map(|k| ("key", k)).into_iter().collect();
        for (label, value) in wanted {
            labels.push(("quantile", label));
            self.sample(name, "", &labels, value.map_or(f64::NAN, |v| v as f64));
            labels.pop();
        }
        self.sample(name, "_count", &labels, v.stats.count() as f64);
        self.sample(name, "_sum", &labels, v.stats.total() as f64);
    }

    /// simpleclient_hotspot's `StandardExports` on Linux, in its order and wording.
    fn process(&mut self, p: &Process) {
        let families: [(&str, &str, &str, Option<f64>); 6] = [
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                Some(p.cpu_seconds),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                Some(p.start_time_seconds),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
                Some(p.open_fds as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                "gauge",
                Some(p.max_fds as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
                p.virtual_memory_bytes.map(|v| v as f64),
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                p.resident_memory_bytes.map(|v| v as f64),
            ),
        ];
        for (name, help, kind, value) in families {
            if let Some(value) = value {
                if self.header(name, help, kind) {
                    self.sample(name, "", &[], value);
                }
            }
        }
    }
}

/// simpleclient's `Collector.doubleToGoString`: `+Inf`, `-Inf`, `NaN`, else Java's
/// `Double.toString`.
pub fn go_double(x: f64) -> String {
    if x == f64::INFINITY {
        "+Inf".to_string()
    } else if x == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        java_double(x)
    }
}

/// `TextFormat.writeEscapedHelp`: `\` and newlines escaped.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `TextFormat.writeEscapedLabelValue`: `\`, `"` and newlines escaped.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
