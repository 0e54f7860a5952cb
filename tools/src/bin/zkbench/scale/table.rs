//! The pure parts of the scale dimensions: figures of one server's run, the side-by-side
//! table of Java 3.8 and zkserver with zkserver's advantage, quantiles of raw samples, and the
//! split of timed samples into those that overlap given time windows (a snapshot being
//! written, an expiry storm) and the rest. No IO, no clock.

use std::fmt::Write as _;

/// One measured value of one server's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub metric: String,
    /// "ms", "µs", "/s", "B", "" (a count).
    pub unit: &'static str,
    /// Whether less is better (times, bytes) or more is (rates); `None`: not a race (a
    /// count, a ratio of the server's own figures), no advantage shown.
    pub lower_better: Option<bool>,
    /// `None`: not measured (failed, or nothing happened to measure).
    pub value: Option<f64>,
}

/// What one server's run of one step gave.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub values: Vec<Figure>,
    /// The 1-minute load average when the run ended.
    pub load1: f64,
    /// Free text for the notes under the table (failures, method details).
    pub notes: Vec<String>,
}

impl Figures {
    pub fn push(&mut self, metric: &str, unit: &'static str, lower_better: bool, v: Option<f64>) {
        self.values.push(Figure {
            metric: metric.to_string(),
            unit,
            lower_better: Some(lower_better),
            value: v,
        });
    }

    /// A figure that is not compared (a count, a server's own ratio).
    pub fn info(&mut self, metric: &str, unit: &'static str, v: Option<f64>) {
        self.values.push(Figure {
            metric: metric.to_string(),
            unit,
            lower_better: None,
            value: v,
        });
    }

    /// The value of `metric`, if measured.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|f| f.metric == metric)
            .and_then(|f| f.value)
    }
}

/// How many times better zkserver is than Java: java/zkrs where less is better, zkrs/java
/// where more is. `None` if either is missing or a divisor is zero.
pub fn advantage(java: Option<f64>, zkrs: Option<f64>, lower_better: bool) -> Option<f64> {
    let (j, z) = (java?, zkrs?);
    let (num, den) = if lower_better { (j, z) } else { (z, j) };
    (den > 0.0 && num >= 0.0).then(|| num / den)
}

/// A value with its unit, with as many decimals as its size deserves.
pub fn fmt_value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    let n = if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match unit {
        "" => n,
        "/s" => format!("{n}/s"),
        u => format!("{n} {u}"),
    }
}

pub const TABLE_HEAD: &str = "| step | metric | java | zkrs | zkrs better by | load avg (java / zkrs) |\n| ---: | --- | ---: | ---: | ---: | ---: |\n";

/// The table rows of one step: every metric either server reported, in the order first seen
/// (Java's first), side by side.
pub fn rows(step: &str, java: Option<&Figures>, zkrs: Option<&Figures>) -> String {
    let mut metrics: Vec<&Figure> = Vec::new();
    for f in java.iter().chain(zkrs.iter()).flat_map(|f| f.values.iter()) {
        if !metrics.iter().any(|m| m.metric == f.metric) {
            metrics.push(f);
        }
    }
    let load = |f: Option<&Figures>| f.map_or("-".into(), |f| format!("{:.1}", f.load1));
    let mut s = String::new();
    for m in metrics {
        let j = java.and_then(|f| f.get(&m.metric));
        let z = zkrs.and_then(|f| f.get(&m.metric));
        let adv = m
            .lower_better
            .and_then(|lb| advantage(j, z, lb))
            .map_or("-".into(), |a| format!("{a:.2}x"));
        let _ = writeln!(
            s,
            "| {step} | {} | {} | {} | {adv} | {} / {} |",
            m.metric,
            fmt_value(j, m.unit),
            fmt_value(z, m.unit),
            load(java),
            load(zkrs)
        );
    }
    s
}

/// The `q` quantile (0..=1, nearest rank) of `v`; sorts `v`. `None` if empty.
pub fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// A timed sample: when the request was sent (seconds since the epoch) and its latency (µs).
pub type Sample = (f64, f64);

/// Latencies of the samples whose [send, send + latency] interval overlaps one of `windows`
/// (each `(start, end)` in seconds since the epoch), and of the others.
pub fn split_by_windows(samples: &[Sample], windows: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for &(t, lat_us) in samples {
        let end = t + lat_us / 1e6;
        if windows.iter().any(|&(a, b)| t < b && end > a) {
            inside.push(lat_us);
        } else {
            outside.push(lat_us);
        }
    }
    (inside, outside)
}

/// The median of `v` (sorting it), `None` if empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    quantile(v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantage_direction() {
        assert_eq!(advantage(Some(10.0), Some(2.0), true), Some(5.0));
        assert_eq!(advantage(Some(10.0), Some(40.0), false), Some(4.0));
        assert_eq!(advantage(None, Some(1.0), true), None);
        assert_eq!(advantage(Some(1.0), Some(0.0), true), None);
    }

    #[test]
    fn quantiles_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.99), Some(99.0));
        assert_eq!(quantile(&mut v, 0.5), Some(50.0));
        assert_eq!(quantile(&mut v, 1.0), Some(100.0));
        assert_eq!(quantile(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn windows_take_overlapping_samples() {
        // sent at 9.9 s taking 200 ms overlaps [10, 11]; sent at 11.5 does not.
        let s = [(9.9, 200_000.0), (11.5, 10.0), (10.5, 1.0), (9.0, 1000.0)];
        let (i, o) = split_by_windows(&s, &[(10.0, 11.0)]);
        assert_eq!(i, vec![200_000.0, 1.0]);
        assert_eq!(o, vec![10.0, 1000.0]);
        let (i, o) = split_by_windows(&s, &[]);
        assert!(i.is_empty());
        assert_eq!(o.len(), 4);
    }

    #[test]
    fn rows_side_by_side() {
        let mut j = Figures {
            load1: 3.3,
            ..Default::default()
        };
        j.push("write time", "ms", true, Some(1200.0));
        j.push("rate", "/s", false, Some(5.0));
        let mut z = Figures {
            load1: 4.0,
            ..Default::default()
        };
        z.push("write time", "ms", true, Some(300.0));
        z.push("rate", "/s", false, None);
        z.info("extra", "", Some(7.0));
        j.info("extra", "", Some(1.0));
        let r = rows("1M", Some(&j), Some(&z));
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(
            lines,
            vec![
                "| 1M | write time | 1200 ms | 300 ms | 4.00x | 3.3 / 4.0 |",
                "| 1M | rate | 5/s | - | - | 3.3 / 4.0 |",
                "| 1M | extra | 1 | 7 | - | 3.3 / 4.0 |",
            ]
        );
        assert_eq!(rows("x", None, None), "");
        assert_eq!(fmt_value(Some(12.345), "µs"), "12.3 µs");
        assert_eq!(fmt_value(Some(2.5), "ms"), "2.50 ms");
    }
}
