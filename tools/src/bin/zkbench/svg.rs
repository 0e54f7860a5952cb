//! Hand-written SVG charts: latency percentile distributions (HdrHistogram style: x is
//! 1/(1-q) on a log scale, y is latency on a log scale) and grouped throughput bars.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

pub struct Series<'a> {
    pub name: String,
    pub color: &'static str,
    /// Latencies in nanoseconds.
    pub hist: &'a Histogram<u64>,
}

pub const COLORS: [&str; 3] = ["#d62728", "#1f77b4", "#7f7f7f"];

const W: f64 = 820.0;
const H: f64 = 480.0;
const ML: f64 = 80.0;
const MR: f64 = 170.0;
const MT: f64 = 40.0;
const MB: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn header(title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (ML + W - MR) / 2.0,
        esc(title)
    );
    s
}

fn fmt_us(us: f64) -> String {
    fn short(v: f64) -> String {
        if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}").trim_end_matches(".0").to_string()
        } else {
            format!("{v:.2}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
    }
    if us >= 1_000_000.0 {
        format!("{}s", short(us / 1_000_000.0))
    } else if us >= 1000.0 {
        format!("{}ms", short(us / 1000.0))
    } else {
        format!("{}µs", short(us))
    }
}

/// Percentile distribution of one or more latency histograms.
pub fn latency_plot(title: &str, series: &[Series]) -> String {
    const XMAX: f64 = 5.0; // up to the 99.999th percentile
    const STEPS: usize = 250;
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    // y range over all series, in log10(µs)
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for s in series.iter().filter(|s| !s.hist.is_empty()) {
        lo = lo.min((s.hist.min().max(1) as f64 / 1000.0).max(0.1).log10());
        hi = hi.max((s.hist.max().max(1) as f64 / 1000.0).max(0.1).log10());
    }
    if lo > hi {
        lo = 0.0;
        hi = 3.0;
    }
    let ylo = lo.floor();
    let yhi = hi.ceil().max(ylo + 1.0);
    let xpos = |x: f64| ML + x / XMAX * pw;
    let ypos = |l10: f64| MT + ph - (l10 - ylo) / (yhi - ylo) * ph;
    let mut s = header(title);
    // grid and axes
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
    {
        let x = xpos(i as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{MT}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            MT + ph,
            MT + ph + 18.0
        );
    }
    let mut d = ylo;
    while d <= yhi + 1e-9 {
        let y = ypos(d);
        let _ = writeln!(
            s,
            r##"<line x1="{ML}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            ML + pw,
            ML - 6.0,
            y + 4.0,
            fmt_us(10f64.powf(d))
        );
        d += 1.0;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ML}" y="{MT}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        ML + pw / 2.0,
        H - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">latency (log scale)</text>"#,
        MT + ph / 2.0,
        MT + ph / 2.0
    );
    // series
    for (k, se) in series.iter().enumerate() {
        if se.hist.is_empty() {
            continue;
        }
        let mut pts = String::new();
        for i in 0..=STEPS {
            let x = XMAX * i as f64 / STEPS as f64;
            let q = (1.0 - 10f64.powf(-x)).min(1.0);
            let v = se.hist.value_at_quantile(q).max(1) as f64 / 1000.0;
            let _ = write!(pts, "{:.1},{:.1} ", xpos(x), ypos(v.max(0.1).log10()));
        }
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            se.color,
            pts.trim_end()
        );
        let ly = MT + 10.0 + k as f64 * 36.0;
        let lx = ML + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" font-size="10">p99 {} max {}</text>"#,
            lx + 20.0,
            se.color,
            lx + 26.0,
            ly + 4.0,
            esc(&se.name),
            lx + 26.0,
            ly + 17.0,
            fmt_us(se.hist.value_at_quantile(0.99) as f64 / 1000.0),
            fmt_us(se.hist.max() as f64 / 1000.0),
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Grouped bars: for each group (workload), one bar per series name.
pub fn bars(title: &str, names: &[&str], groups: &[(String, Vec<f64>)]) -> String {
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0);
    // a round axis top
    let mag = 10f64.powf(max.log10().floor());
    let top = (max / mag).ceil() * mag;
    let mut s = header(title);
    for i in 0..=5 {
        let v = top * i as f64 / 5.0;
        let y = MT + ph - v / top * ph;
        let _ = writeln!(
            s,
            r##"<line x1="{ML}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            ML + pw,
            ML - 6.0,
            y + 4.0,
            v.round()
        );
    }
    let gw = pw / groups.len().max(1) as f64;
    let bw = gw * 0.8 / names.len().max(1) as f64;
    for (gi, (g, vals)) in groups.iter().enumerate() {
        let gx = ML + gi as f64 * gw + gw * 0.1;
        for (k, v) in vals.iter().enumerate() {
            let h = v / top * ph;
            let x = gx + k as f64 * bw;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
                MT + ph - h,
                bw * 0.95,
                COLORS[k % COLORS.len()],
                x + bw / 2.0,
                MT + ph - h - 3.0,
                v.round()
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            gx + gw * 0.4,
            MT + ph + 18.0,
            esc(g)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ML}" y="{MT}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#444"/>"##
    );
    for (k, n) in names.iter().enumerate() {
        let ly = MT + 10.0 + k as f64 * 22.0;
        let lx = ML + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ly - 6.0,
            COLORS[k % COLORS.len()],
            lx + 20.0,
            ly + 4.0,
            esc(n)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">ops/s</text>"#,
        MT + ph / 2.0,
        MT + ph / 2.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_wellformed_ish() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for v in [30_000u64, 40_000, 50_000, 2_000_000] {
            h.record(v).unwrap();
        }
        let svg = latency_plot(
            "t <x>",
            &[Series {
                name: "a".into(),
                color: COLORS[0],
                hist: &h,
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;x&gt;"));
        assert!(svg.contains("<polyline"));
        assert_eq!(fmt_us(1500.0), "1.5ms");
        assert_eq!(fmt_us(769_655.0), "770ms");
        assert_eq!(fmt_us(12.34), "12.3µs");
        assert_eq!(fmt_us(10.0), "10µs");
        assert_eq!(fmt_us(2_000_000.0), "2s");
        let b = bars("b", &["x", "y"], &[("get".into(), vec![1.0, 2.0])]);
        assert_eq!(b.matches("<rect").count(), 2 + 1 + 1 + 2);
    }
}
