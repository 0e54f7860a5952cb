//! Minimal JSON output (no serde): results are flat records of numbers and strings.

use crate::load::RunResult;
use std::fmt::Write as _;

/// A JSON string literal (the dump tools' writer).
pub use zk_server::persist::dump::json_str as string;

pub fn num(v: f64) -> String {
    if v.is_finite() {
        let r = (v * 10.0).round() / 10.0;
        format!("{r}")
    } else {
        "null".into()
    }
}

/// An object from (key, already-encoded value) pairs.
pub fn object(fields: &[(&str, String)]) -> String {
    let mut o = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            o.push_str(", ");
        }
        let _ = write!(o, "{}: {v}", string(k));
    }
    o.push('}');
    o
}

pub fn array(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

pub fn result(r: &RunResult, server: Option<&str>) -> String {
    let mut f = Vec::new();
    if let Some(s) = server {
        f.push(("server", string(s)));
    }
    f.push(("workload", string(&r.workload)));
    f.push(("sessions", r.sessions.to_string()));
    f.push(("depth", r.depth.to_string()));
    let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "null".into());
    f.push(("offered_ops_per_sec", opt(r.rate)));
    f.push(("ops", r.ops.to_string()));
    f.push(("seconds", num(r.secs)));
    f.push(("ops_per_sec", num(r.ops_per_sec())));
    f.push(("p50_us", num(r.q_us(0.5))));
    f.push(("p90_us", num(r.q_us(0.9))));
    f.push(("p99_us", num(r.q_us(0.99))));
    f.push(("p999_us", num(r.q_us(0.999))));
    f.push(("max_us", num(r.max_us())));
    f.push(("server_cpu_s", opt(r.server_cpu)));
    f.push(("client_cpu_s", opt(r.client_cpu)));
    f.push(("server_cpu_us_per_op", opt(r.cpu_us_per_op(r.server_cpu))));
    f.push(("client_cpu_us_per_op", opt(r.cpu_us_per_op(r.client_cpu))));
    let errs: Vec<String> = r
        .errors
        .iter()
        .map(|(c, n)| {
            object(&[
                ("code", c.to_string()),
                ("name", string(crate::proto::err_name(*c))),
                ("count", n.to_string()),
            ])
        })
        .collect();
    f.push(("errors", array(&errs)));
    f.push(("disconnects", r.disconnects.to_string()));
    f.push(("lost_requests", r.lost.to_string()));
    f.push(("stuck_sessions", r.stuck.to_string()));
    f.push(("seconds_without_completions", r.zero_secs().to_string()));
    let ps: Vec<String> = r.per_sec.iter().map(|n| n.to_string()).collect();
    f.push(("per_second", array(&ps)));
    let notes: Vec<String> = r.notes.iter().map(|n| string(n)).collect();
    f.push(("notes", array(&notes)));
    object(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
        assert_eq!(object(&[("x", num(1.25))]), r#"{"x": 1.3}"#);
        assert_eq!(num(f64::NAN), "null");
    }
}
