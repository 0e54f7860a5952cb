//! CPU per op of each server thread: for each workload, a fresh server of each kind, the
//! CPU time (user + system) of each of its threads from `/proc/PID/task/*/stat` read before
//! and after the run, grouped by thread name (trailing numbers dropped, so Java's
//! `NIOWorkerThread-1..n` or zkserver's tokio workers add up), divided by the ops completed.
//! A first run of the same workload, `--warmup` long and not counted, warms Java's JIT; the
//! counted run has no warmup of its own, so its setup (creating the keys it reads or sets,
//! which already exist) is counted too.

use crate::load::{self, Workload};
use crate::report::ReportCfg;
use crate::server::{self, Impl, Server};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::time::Duration;

/// Threads shown per server and workload (the rest are summed into "other").
const TOP: usize = 8;

/// A thread's name with trailing digits and separators dropped (`SyncThread:0` →
/// `SyncThread`, `GC Thread#3` → `GC Thread`).
pub fn thread_class(comm: &str) -> String {
    let t = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    let t = t.trim_end_matches(['#', ':', '-', '_', ' ']);
    if t.is_empty() {
        comm.to_string()
    } else {
        t.to_string()
    }
}

/// (name, user + system clock ticks) from a `/proc/…/stat` line.
pub fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((name, ut + st))
}

/// Every thread of `pid`: tid → (name, ticks).
fn threads(pid: u32) -> BTreeMap<u32, (String, u64)> {
    let mut m = BTreeMap::new();
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return m;
    };
    for e in rd.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some(t) = fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            m.insert(tid, t);
        }
    }
    m
}

/// Ticks used between `before` and `after` per thread class: (class, threads, ticks), most
/// first. A thread that started in between counts from zero.
pub fn per_class(
    before: &BTreeMap<u32, (String, u64)>,
    after: &BTreeMap<u32, (String, u64)>,
) -> Vec<(String, usize, u64)> {
    let mut m: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for (tid, (name, t1)) in after {
        let t0 = before.get(tid).map_or(0, |b| b.1);
        let e = m.entry(thread_class(name)).or_default();
        e.0 += 1;
        e.1 += t1.saturating_sub(t0);
    }
    let mut v: Vec<(String, usize, u64)> = m.into_iter().map(|(k, (n, t))| (k, n, t)).collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Table rows of one server's run: the top classes, the rest, and the total, in µs per op.
pub fn rows(w: &str, imp: &str, classes: &[(String, usize, u64)], ops: u64, load1: f64) -> String {
    let us = |ticks: u64| ticks as f64 * 1e4 / ops.max(1) as f64;
    let total: u64 = classes.iter().map(|c| c.2).sum();
    let mut s = String::new();
    for (name, n, t) in classes.iter().take(TOP) {
        let share = 100.0 * *t as f64 / total.max(1) as f64;
        let _ = writeln!(
            s,
            "| {w} | {imp} | {name} | {n} | {:.1} | {share:.0}% | {load1:.1} |",
            us(*t)
        );
    }
    let rest: u64 = classes.iter().skip(TOP).map(|c| c.2).sum();
    if rest > 0 {
        let n: usize = classes.iter().skip(TOP).map(|c| c.1).sum();
        let share = 100.0 * rest as f64 / total.max(1) as f64;
        let _ = writeln!(
            s,
            "| {w} | {imp} | (other) | {n} | {:.1} | {share:.0}% | {load1:.1} |",
            us(rest)
        );
    }
    let n: usize = classes.iter().map(|c| c.1).sum();
    let _ = writeln!(
        s,
        "| {w} | {imp} | **total** | {n} | {:.1} | 100% | {load1:.1} |",
        us(total)
    );
    s
}

async fn one(rc: &ReportCfg, imp: Impl, w: Workload) -> io::Result<String> {
    let dir = server::fresh_dir(&format!("{}-threads", imp.name()))?;
    let mut srv = Server::start(&rc.spec, imp, &dir)?;
    srv.wait_serving(Duration::from_secs(120)).await?;
    let mut c = rc.base.clone();
    c.addrs = vec![srv.addr.clone()];
    c.workload = w;
    c.warmup = Duration::ZERO;
    c.progress = false;
    c.label = format!("{} {} threads", imp.name(), w.name());
    eprintln!("zkbench: {}", c.label);
    let mut warm = c.clone();
    warm.duration = rc.base.warmup.max(Duration::from_secs(1));
    load::run(&warm).await?;
    let before = threads(srv.pid());
    let r = load::run(&c).await?;
    let after = threads(srv.pid());
    let text = rows(
        w.name(),
        imp.name(),
        &per_class(&before, &after),
        r.ops,
        super::load1(),
    );
    super::finish(
        rc,
        &mut srv,
        &dir,
        &format!("threads-{}-{}", w.name(), imp.name()),
    );
    Ok(format!(
        "{text}| {} | {} | ({:.0} ops/s) | | | | |\n",
        w.name(),
        imp.name(),
        r.ops_per_sec()
    ))
}

/// The section of `scale.md`: for each workload, both servers in alternating order.
pub async fn section(rc: &ReportCfg, ws: &[Workload], md: &mut String) {
    if ws.is_empty() {
        return;
    }
    let b = &rc.base;
    let _ = writeln!(
        md,
        "## CPU per op of each server thread\n\n{} sessions × {} outstanding, {} s counted after an uncounted run of the warmup's length (setup of the counted run included); CPU from /proc/PID/task/*/stat, threads grouped by name without trailing numbers; the top {TOP} per server.\n\n| workload | server | thread | threads | CPU µs/op | share | load avg |\n| --- | --- | --- | ---: | ---: | ---: | ---: |",
        b.sessions,
        b.depth,
        b.duration.as_secs_f64()
    );
    for (i, &w) in ws.iter().enumerate() {
        for imp in super::order(&rc.impls, i) {
            match one(rc, imp, w).await {
                Ok(t) => md.push_str(&t),
                Err(e) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} | failed: {e} | | | | |",
                        w.name(),
                        imp.name()
                    );
                }
            }
        }
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_stat() {
        assert_eq!(thread_class("SyncThread:0"), "SyncThread");
        assert_eq!(thread_class("GC Thread#3"), "GC Thread");
        assert_eq!(thread_class("NIOWorkerThread"), "NIOWorkerThread");
        assert_eq!(thread_class("tokio-runtime-w"), "tokio-runtime-w");
        assert_eq!(thread_class("42"), "42");
        let line = "123 (ProcessThread(s) S 1 2 3 4 5 6 7 8 9 10 250 40 0 0 20 0";
        assert_eq!(parse_stat(line), Some(("ProcessThread(s".into(), 290)));
    }

    #[test]
    fn grouped_deltas() {
        let mut b = BTreeMap::new();
        b.insert(1, ("worker-1".to_string(), 100));
        b.insert(2, ("worker-2".to_string(), 50));
        b.insert(3, ("main".to_string(), 10));
        let mut a = b.clone();
        a.insert(1, ("worker-1".to_string(), 130));
        a.insert(2, ("worker-2".to_string(), 60));
        a.insert(4, ("snapshot".to_string(), 5));
        let v = per_class(&b, &a);
        assert_eq!(
            v,
            vec![
                ("worker".to_string(), 2, 40),
                ("snapshot".to_string(), 1, 5),
                ("main".to_string(), 1, 0),
            ]
        );
        // 45 ticks = 0.45 s over 1000 ops = 450 µs/op.
        let r = rows("set", "zkrs", &v, 1000, 1.0);
        assert!(
            r.contains("| set | zkrs | worker | 2 | 400.0 | 89% | 1.0 |"),
            "{r}"
        );
        assert!(r.contains("| **total** | 4 | 450.0 | 100% |"), "{r}");
    }
}
