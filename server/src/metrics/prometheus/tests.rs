use super::*;
use crate::metrics::{Number, Quantiles};
use crate::stats::AvgMinMax;
use bytes::Bytes;

fn request(method: &str, path: &str, query: Option<&str>) -> Request {
    Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.map(str::to_string),
        headers: Vec::new(),
        body: Bytes::new(),
        peer: "127.0.0.1:1".parse().unwrap(),
    }
}

fn stats(values: &[i64]) -> AvgMinMax {
    let mut a = AvgMinMax::new();
    values.iter().for_each(|v| a.add(*v));
    a
}

fn registry() -> Vec<Metric> {
    vec![
        Metric::Info {
            name: "version".into(),
            value: crate::fourlw::MonitorValue::Str("3.8.0".into()),
        },
        Metric::Gauge {
            name: "znode_count",
            value: Number::Int(5),
        },
        Metric::Gauge {
            name: "avg_latency",
            value: Number::Double(0.5),
        },
        Metric::GaugeSet {
            name: "quota_count_limit_per_namespace",
            values: vec![("a".into(), 10)],
        },
        Metric::Counter {
            name: "commit_count",
            value: 12_345_678,
        },
        Metric::GaugeSet {
            name: "quota_count_limit_per_namespace",
            values: vec![("b\"\\\n".into(), 3)],
        },
        Metric::CounterSet {
            name: "quota_exceeded_error_per_namespace",
            values: Vec::new(),
        },
        Metric::Summary {
            name: "fsynctime",
            detail: Detail::Basic,
            values: SummaryValues {
                stats: stats(&[2, 4]),
                quantiles: None,
            },
        },
        Metric::Summary {
            name: "readlatency",
            detail: Detail::Advanced,
            values: SummaryValues {
                stats: stats(&[1, 2, 3]),
                quantiles: Some(Quantiles {
                    p50: 2,
                    p90: 3,
                    p95: 3,
                    p99: 3,
                    p999: 3,
                }),
            },
        },
        Metric::SummarySet {
            name: "read_per_namespace",
            detail: Detail::Basic,
            values: vec![(
                "x".into(),
                SummaryValues {
                    stats: stats(&[70]),
                    quantiles: None,
                },
            )],
        },
        Metric::SummarySet {
            name: "ack_latency",
            detail: Detail::Advanced,
            values: Vec::new(),
        },
    ]
}

#[test]
fn the_registry_in_simpleclient_0_9_text_format() {
    let text = render(&registry(), None, &[]);
    let expected = r#"# HELP znode_count znode_count
# TYPE znode_count gauge
znode_count 5.0
# HELP avg_latency avg_latency
# TYPE avg_latency gauge
avg_latency 0.5
# HELP quota_count_limit_per_namespace quota_count_limit_per_namespace
# TYPE quota_count_limit_per_namespace gauge
quota_count_limit_per_namespace{key="a",} 10.0
quota_count_limit_per_namespace{key="b\"\\\n",} 3.0
# HELP commit_count commit_count
# TYPE commit_count counter
commit_count 1.2345678E7
# HELP quota_exceeded_error_per_namespace quota_exceeded_error_per_namespace
# TYPE quota_exceeded_error_per_namespace counter
# HELP fsynctime fsynctime
# TYPE fsynctime summary
fsynctime{quantile="0.5",} NaN
fsynctime_count 2.0
fsynctime_sum 6.0
# HELP readlatency readlatency
# TYPE readlatency summary
readlatency{quantile="0.5",} 2.0
readlatency{quantile="0.9",} 3.0
readlatency{quantile="0.99",} 3.0
readlatency_count 3.0
readlatency_sum 6.0
# HELP read_per_namespace read_per_namespace
# TYPE read_per_namespace summary
read_per_namespace{key="x",quantile="0.5",} NaN
read_per_namespace_count{key="x",} 1.0
read_per_namespace_sum{key="x",} 70.0
# HELP ack_latency ack_latency
# TYPE ack_latency summary
"#;
    assert_eq!(text, expected);
}

#[test]
fn an_empty_advanced_summary_has_nan_quantiles_and_zero_counts() {
    let m = [Metric::Summary {
        name: "updatelatency",
        detail: Detail::Advanced,
        values: SummaryValues {
            stats: AvgMinMax::new(),
            quantiles: None,
        },
    }];
    assert_eq!(
        render(&m, None, &[]),
        "# HELP updatelatency updatelatency\n# TYPE updatelatency summary\n\
         updatelatency{quantile=\"0.5\",} NaN\nupdatelatency{quantile=\"0.9\",} NaN\n\
         updatelatency{quantile=\"0.99\",} NaN\nupdatelatency_count 0.0\nupdatelatency_sum 0.0\n"
    );
}

#[test]
fn process_families_with_standard_exports_wording() {
    let p = Process {
        cpu_seconds: 1.5,
        start_time_seconds: 1_764_799_547.81,
        open_fds: 12,
        max_fds: 1024,
        virtual_memory_bytes: Some(4096),
        resident_memory_bytes: None,
    };
    let text = render(&[], Some(&p), &[]);
    assert_eq!(
        text,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
         # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n\
         # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
         # TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1.76479954781E9\n\
         # HELP process_open_fds Number of open file descriptors.\n\
         # TYPE process_open_fds gauge\nprocess_open_fds 12.0\n\
         # HELP process_max_fds Maximum number of open file descriptors.\n\
         # TYPE process_max_fds gauge\nprocess_max_fds 1024.0\n\
         # HELP process_virtual_memory_bytes Virtual memory size in bytes.\n\
         # TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 4096.0\n"
    );
}

#[test]
fn name_filter_keeps_only_the_families_asked_for() {
    let names = vec!["znode_count".to_string(), "readlatency".to_string()];
    let text = render(&registry(), None, &names);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(families, ["znode_count gauge", "readlatency summary"]);
}

#[test]
fn routes_as_the_servlet_mapping() {
    assert_eq!(
        route(&request("GET", "/metrics", None)),
        Route::Scrape { names: vec![] }
    );
    assert_eq!(
        route(&request(
            "POST",
            "/metrics",
            Some("name%5B%5D=a&x=1&name[]=b+c&name[]=%zz")
        )),
        Route::Scrape {
            names: vec!["a".into(), "b c".into(), "%zz".into()]
        }
    );
    assert!(matches!(
        route(&request("HEAD", "/metrics", None)),
        Route::Scrape { .. }
    ));
    assert_eq!(route(&request("GET", "/", None)), Route::Refuse(404));
    assert_eq!(
        route(&request("GET", "/metrics/x", None)),
        Route::Refuse(404)
    );
    assert_eq!(route(&request("PUT", "/metrics", None)), Route::Refuse(405));
    assert_eq!(
        route(&request("TRACE", "/metrics", None)),
        Route::Refuse(405)
    );
}

#[test]
fn percent_decoding_never_panics_on_odd_input() {
    for q in [
        "%",
        "%4",
        "name[]=%",
        "name[]=%e2%82",
        "name[]=é%ff",
        "=&&==",
    ] {
        let _ = route(&request("GET", "/metrics", Some(q)));
    }
    assert_eq!(crate::http::percent_decode("%41%4a+%", true), "AJ %");
}

#[test]
fn head_has_no_body() {
    let r = reply("x".into(), true);
    assert!(r.body.is_empty());
    assert_eq!(r.headers, vec![("Content-Type", CONTENT_TYPE.to_string())]);
}
