//! Snapshot dimension: N znodes loaded, then a get/set probe load (`probe.rs`) runs while the
//! servers snapshot on their own (zoo.cfg `snapCount` small, so a snapshot starts every
//! snapCount/2..snapCount txns in both). A snapshot's write time is the time from its file's
//! creation (statx birth time) to its last modification (mtime): Java 3.8 logs no duration,
//! and the same method serves both (zkserver's `.tmp` file keeps both times through its
//! rename). The probe's latencies are split into those that overlap a snapshot being written
//! and the rest.

use super::probe::{self, Probe};
use super::table::{self, Figures};
use crate::load::{self, Workload};
use crate::report::ReportCfg;
use crate::server::{self, Impl, Server};
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

pub struct SnapshotCfg {
    pub snap_count: u64,
    pub probe_secs: u64,
    pub probe_sessions: usize,
}

/// A snapshot file: name, birth time, last modification (seconds since the epoch).
pub type SnapFile = (String, f64, f64);

/// The [birth, mtime] windows of finished snapshot files modified at or after `from`.
pub fn windows(files: &[SnapFile], from: f64) -> Vec<(f64, f64)> {
    let mut w: Vec<(f64, f64)> = files
        .iter()
        .filter(|(n, _, m)| n.starts_with("snapshot.") && !n.ends_with(".tmp") && *m >= from)
        .map(|&(_, b, m)| (b, m))
        .collect();
    w.sort_by(|a, b| a.0.total_cmp(&b.0));
    w
}

fn list(dir: &Path) -> Vec<SnapFile> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let born = m.created().ok().map(probe::epoch)?;
            Some((name, born, probe::epoch(m.modified().ok()?)))
        })
        .filter(|f| f.0.starts_with("snapshot."))
        .collect()
}

/// Wait until no snapshot is being written (no `.tmp`, names and mtimes unchanged for 1 s).
async fn settle(dir: &Path) {
    let mut last = Vec::new();
    for _ in 0..240 {
        let now = list(dir);
        if now == last && !now.iter().any(|f| f.0.ends_with(".tmp")) {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

pub async fn run(rc: &ReportCfg, sc: &SnapshotCfg, imp: Impl, n: u64) -> io::Result<Figures> {
    let dir = server::fresh_dir(&format!("{}-snap", imp.name()))?;
    let mut spec = rc.spec.clone();
    spec.extra_cfg.push(format!("snapCount={}", sc.snap_count));
    let mut srv = Server::start(&spec, imp, &dir)?;
    srv.wait_serving(Duration::from_secs(120)).await?;
    let mut c = rc.base.clone();
    c.addrs = vec![srv.addr.clone()];
    c.workload = Workload::Load(n);
    c.sessions = 8;
    c.depth = 100;
    c.value_size = 100;
    c.progress = false;
    c.label = format!("{} load {n}", imp.name());
    eprintln!(
        "zkbench: {} loading {n} znodes (snapCount={})",
        imp.name(),
        sc.snap_count
    );
    load::run(&c).await?;
    let snap_dir = dir.join("data").join("version-2");
    settle(&snap_dir).await;
    let root = format!("{}-probe", rc.base.root);
    let from = probe::epoch_now();
    eprintln!("zkbench: {} probe for {} s", imp.name(), sc.probe_secs);
    let p = Probe::start(&srv.addr, &root, sc.probe_sessions, 2).await?;
    tokio::time::sleep(Duration::from_secs(sc.probe_secs)).await;
    let (samples, failed) = p.stop().await;
    settle(&snap_dir).await;
    let to = probe::epoch_now();
    let mut f = Figures::default();
    let w: Vec<(f64, f64)> = windows(&list(&snap_dir), from)
        .into_iter()
        .filter(|&(b, _)| b <= to)
        .collect();
    let mut took: Vec<f64> = w.iter().map(|(b, m)| (m - b) * 1000.0).collect();
    let (mut during, mut without) = table::split_by_windows(&samples, &w);
    f.info("snapshots written", "", Some(w.len() as f64));
    f.push(
        "snapshot write time (median)",
        "ms",
        true,
        table::median(&mut took),
    );
    let p99 = |v: &mut Vec<f64>| table::quantile(v, 0.99).map(|us| us / 1000.0);
    let (pd, pw) = (p99(&mut during), p99(&mut without));
    f.push("probe p99 during a snapshot", "ms", true, pd);
    f.push("probe p99 without", "ms", true, pw);
    f.info(
        "p99 during / without (goal <= 2)",
        "",
        pd.zip(pw).map(|(d, w)| d / w),
    );
    f.info("probe ops during snapshots", "", Some(during.len() as f64));
    f.notes.push(format!(
        "{}: {n} znodes, {} probe ops ({} during snapshots), {failed} probe sessions failed",
        imp.name(),
        samples.len(),
        during.len()
    ));
    super::finish(rc, &mut srv, &dir, &format!("snapshot-{n}-{}", imp.name()));
    f.load1 = super::load1();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_finished_recent_snapshots() {
        let files = vec![
            ("snapshot.0".to_string(), 1.0, 1.1),
            ("snapshot.20".to_string(), 12.0, 14.0),
            ("snapshot.10".to_string(), 9.0, 10.5),
            ("snapshot.30.tmp".to_string(), 15.0, 15.5),
            ("log.1".to_string(), 1.0, 20.0),
        ];
        assert_eq!(windows(&files, 10.0), vec![(9.0, 10.5), (12.0, 14.0)]);
        assert!(windows(&files, 30.0).is_empty());
    }
}
