//! `zkbench scale`: how Java 3.8 and zkserver behave as one dimension grows, side by side in
//! one run (which server goes first alternates per step; a fresh server, temp dataDir and the
//! same zoo.cfg for each). Writes `scale.md` and one SVG plot per figure.
//!
//! Dimensions so far:
//! - tree size: N znodes of 100 bytes under one parent (names from `--name-len`): RSS per
//!   znode once loaded, restart to serving after `kill -9` (report's memory test);
//! - children: one parent with K children: getChildren latency (min / median / max of a few
//!   calls on one session) and the answer when the list is bigger than jute.maxbuffer
//!   (reply size, error code or connection closed);
//! - snapshot (`snapshot.rs`): snapshot write time and the p99 of a get/set probe while one
//!   is written vs without;
//! - watch fan-out (`fanout.rs`, sessions held by `holders.rs`): setData to the last of N
//!   notifications;
//! - sessions and ephemerals (`sessions.rs`): connect storm, RSS per session, expiry storms
//!   with the p99 of other clients' gets during them;
//! - slow disk (`slowdisk.rs`): open-loop create/set/mix at one offered rate, every fsync
//!   delayed by an LD_PRELOAD shim;
//! - threads (`threads.rs`): CPU per op of each server thread during a report workload;
//! - ensembles (`ensembles.rs`): N-node set throughput and latency, leader kill -9 to the
//!   next acknowledged write.
//!
//! Each new dimension prints one table of Java and zkserver side by side (`table.rs`), every
//! row marked with the load average at the end of each server's run.

mod ensembles;
mod fanout;
mod holders;
mod probe;
mod sessions;
mod slowdisk;
mod snapshot;
mod table;
mod threads;

use crate::load::{self, Workload};
use crate::proto;
use crate::report::{self, ReportCfg};
use crate::server::{self, Impl};
use crate::svg;
use bytes::{Buf, BytesMut};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct ScaleCfg {
    pub report: ReportCfg,
    /// Tree sizes (znodes) of the tree-size dimension.
    pub sizes: Vec<u64>,
    /// Child counts of the children dimension.
    pub children: Vec<u64>,
    /// Tree sizes of the snapshot dimension.
    pub snapshot: Vec<u64>,
    pub snapshot_cfg: snapshot::SnapshotCfg,
    /// Watching sessions of the fan-out dimension.
    pub fanout: Vec<u64>,
    /// Sessions of the sessions dimension.
    pub sessions: Vec<u64>,
    /// Ephemerals of one expiring session.
    pub ephemerals: Vec<u64>,
    /// fsync delays (ms) of the slow-disk dimension; 0 is the quiet disk.
    pub slow_disk: Vec<u64>,
    /// Workloads of the CPU-per-thread dimension.
    pub threads: Vec<Workload>,
    /// Node counts of the ensemble dimension.
    pub ensembles: Vec<u64>,
    /// znodes loaded before the leader is killed (0: no failover).
    pub failover_znodes: u64,
}

/// Warn when this process may not open `needed` files (the servers inherit the same limit).
fn check_files(needed: usize) {
    let soft = fs::read_to_string("/proc/self/limits").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(3)
                    .and_then(|v| v.parse::<usize>().ok())
            })
    });
    if let Some(soft) = soft.filter(|&s| s < needed) {
        eprintln!("zkbench: warning: the open-file limit is {soft}, {needed} needed: run `ulimit -n {}` first", needed.max(1 << 20));
    }
}

pub use snapshot::SnapshotCfg;

/// The 1-minute load average now.
fn load1() -> f64 {
    report::loadavg()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// After a dimension's run: keep the server's log, kill it, remove its folder (unless
/// `--keep`) and let the disk settle before the next run.
fn finish(rc: &ReportCfg, srv: &mut server::Server, dir: &std::path::Path, log: &str) {
    report::copy_log(srv, &rc.out, log);
    srv.kill();
    if !rc.keep {
        let _ = fs::remove_dir_all(dir);
    }
    report::settle_disk();
}

/// One of the side-by-side dimensions.
#[derive(Clone, Copy)]
enum Dim {
    Snapshot,
    Fanout,
    Sessions,
    Ephemerals,
    SlowDisk,
    Ensemble,
}

impl Dim {
    fn title(&self) -> &'static str {
        match self {
            Dim::Snapshot => {
                "Snapshot (N znodes of 100 bytes, then a get/set probe while the servers snapshot)"
            }
            Dim::Fanout => "Watch fan-out (N sessions watching one znode)",
            Dim::Sessions => "Sessions (N sessions: connect storm, memory, expiry storm)",
            Dim::Ephemerals => "Expiry of one session with M ephemerals",
            Dim::SlowDisk => "Slow disk (every fsync delayed by D ms; same offered rate)",
            Dim::Ensemble => "Ensembles (N nodes on this machine)",
        }
    }
    /// The plot's file name, its title and the metric it shows.
    fn plot(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Dim::Snapshot => (
                "scale-snapshot.svg",
                "snapshot write time, ms",
                "snapshot write time (median)",
            ),
            Dim::Fanout => (
                "scale-fanout.svg",
                "setData to last notification, ms",
                "setData to last notification (median of 3)",
            ),
            Dim::Sessions => (
                "scale-sessions.svg",
                "RSS growth per session, bytes",
                "RSS growth per session",
            ),
            Dim::Ephemerals => (
                "scale-ephemerals.svg",
                "others' get p99 during expiry, ms",
                "others' get p99 during expiry",
            ),
            Dim::SlowDisk => ("scale-slow-disk.svg", "create p99, ms", "create p99"),
            Dim::Ensemble => (
                "scale-ensemble.svg",
                "set throughput, ops/s",
                "set throughput",
            ),
        }
    }
    async fn measure(&self, cfg: &ScaleCfg, imp: Impl, step: u64) -> io::Result<table::Figures> {
        match self {
            Dim::Snapshot => snapshot::run(&cfg.report, &cfg.snapshot_cfg, imp, step).await,
            Dim::Fanout => fanout::run(&cfg.report, imp, step).await,
            Dim::Sessions => sessions::sessions(&cfg.report, imp, step).await,
            Dim::Ephemerals => sessions::ephemerals(&cfg.report, imp, step).await,
            Dim::SlowDisk => slowdisk::run(&cfg.report, imp, step).await,
            Dim::Ensemble => {
                // The leader kill runs on the first step's ensemble only: Java holds 1M
                // znodes in ~3.75 GiB per node, and 5 such nodes do not fit this machine.
                let first = cfg.ensembles.first() == Some(&step);
                let z = if first { cfg.failover_znodes } else { 0 };
                ensembles::run(&cfg.report, imp, step, z).await
            }
        }
    }
}

/// Run `dim` for each step, each server in alternating order, and append its table, notes
/// and plot to `md`.
async fn side_by_side(
    cfg: &ScaleCfg,
    dim: Dim,
    steps: &[u64],
    method: &str,
    md: &mut String,
) -> io::Result<()> {
    if steps.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = cfg.report.impls.iter().map(|i| i.name()).collect();
    let _ = writeln!(
        md,
        "## {}\n\n{method}\n\n{}",
        dim.title(),
        table::TABLE_HEAD.trim_end()
    );
    let (file, title, metric) = dim.plot();
    let mut groups = Vec::new();
    let mut notes = Vec::new();
    for (i, &step) in steps.iter().enumerate() {
        let (mut java, mut zkrs) = (None, None);
        for imp in order(&cfg.report.impls, i) {
            let f = match dim.measure(cfg, imp, step).await {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("zkbench: {} step {step} failed: {e}", imp.name());
                    let mut f = table::Figures {
                        load1: load1(),
                        ..Default::default()
                    };
                    f.notes
                        .push(format!("{} at {step}: failed: {e}", imp.name()));
                    f
                }
            };
            notes.extend(f.notes.iter().cloned());
            match imp {
                Impl::Java => java = Some(f),
                Impl::Zkrs => zkrs = Some(f),
            }
        }
        md.push_str(&table::rows(
            &step.to_string(),
            java.as_ref(),
            zkrs.as_ref(),
        ));
        let row = cfg
            .report
            .impls
            .iter()
            .map(|imp| {
                let f = if *imp == Impl::Java { &java } else { &zkrs };
                f.as_ref().and_then(|f| f.get(metric)).unwrap_or(0.0)
            })
            .collect();
        groups.push((step.to_string(), row));
    }
    fs::write(cfg.report.out.join(file), svg::bars(title, &names, &groups))?;
    let _ = writeln!(
        md,
        "
Plot: `{file}`.
"
    );
    for n in notes {
        let _ = writeln!(md, "- {n}");
    }
    md.push('\n');
    // What is measured so far survives a later dimension's failure.
    fs::write(cfg.report.out.join("scale.md"), &*md)?;
    Ok(())
}

/// What one getChildren call gave.
#[derive(Clone, Debug)]
enum Answer {
    /// Error code and reply length in bytes.
    Reply(i32, usize),
    /// The server closed the connection instead.
    Closed,
    Failed(String),
}

impl Answer {
    fn text(&self) -> String {
        match self {
            Answer::Reply(0, n) => format!("ok, {n} bytes"),
            Answer::Reply(e, _) => format!("{} ({e})", proto::err_name(*e)),
            Answer::Closed => "connection closed".into(),
            Answer::Failed(e) => format!("failed: {e}"),
        }
    }
}

/// One getChildren of `path` on a fresh session: the answer and how long it took.
async fn get_children_once(addr: &str, path: &str) -> (Answer, Duration) {
    let (mut s, _) = match proto::connect(addr, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => return (Answer::Failed(e.to_string()), Duration::ZERO),
    };
    let mut out = BytesMut::new();
    proto::get_children(&mut out, 1, path.as_bytes());
    let t0 = Instant::now();
    if let Err(e) = s.write_all(&out).await {
        return (Answer::Failed(e.to_string()), t0.elapsed());
    }
    let _ = s.flush().await;
    let mut buf = BytesMut::with_capacity(1 << 20);
    loop {
        let read = tokio::time::timeout(Duration::from_secs(30), s.read_buf(&mut buf)).await;
        match read {
            Err(_) => return (Answer::Failed("no answer in 30 s".into()), t0.elapsed()),
            Ok(Err(_)) | Ok(Ok(0)) => return (Answer::Closed, t0.elapsed()),
            Ok(Ok(_)) => {}
        }
        if buf.len() >= 4 {
            let len = i32::from_be_bytes(buf[..4].try_into().unwrap());
            if len < 16 {
                return (Answer::Failed(format!("frame length {len}")), t0.elapsed());
            }
            if buf.len() >= 4 + len as usize {
                let took = t0.elapsed();
                buf.advance(4);
                let err = match proto::reply_header(&buf[..len as usize]) {
                    Some((_, _, err)) => err,
                    None => return (Answer::Failed("bad reply".into()), took),
                };
                return (Answer::Reply(err, len as usize), took);
            }
        }
        if buf.capacity() - buf.len() < 65536 {
            buf.reserve(1 << 20);
        }
    }
}

struct ChildrenResult {
    imp: Impl,
    answer: Answer,
    /// Latencies of the calls, sorted.
    took: Vec<Duration>,
}

async fn children_run(cfg: &ReportCfg, imp: Impl, k: u64) -> io::Result<ChildrenResult> {
    let dir = server::fresh_dir(&format!("{}-children", imp.name()))?;
    let (srv, _) = report::start(cfg, imp, &dir).await?;
    let mut c = cfg.base.clone();
    c.addrs = vec![srv.addr.clone()];
    c.workload = Workload::Load(k);
    c.sessions = 8;
    c.depth = 100;
    c.label = format!("{} children {k}", imp.name());
    c.progress = false;
    eprintln!(
        "zkbench: {} creating {k} children of {}",
        imp.name(),
        c.root
    );
    load::run(&c).await?;
    let mut took = Vec::new();
    let mut answer = Answer::Failed("not run".into());
    for _ in 0..5 {
        let (a, t) = get_children_once(&srv.addr, &c.root).await;
        took.push(t);
        answer = a;
    }
    took.sort();
    report::copy_log(&srv, &cfg.out, &format!("children-{k}-{}", imp.name()));
    drop(srv);
    if !cfg.keep {
        let _ = fs::remove_dir_all(&dir);
    }
    report::settle_disk();
    Ok(ChildrenResult { imp, answer, took })
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The servers in the order of step `i` (alternating).
fn order(impls: &[Impl], i: usize) -> Vec<Impl> {
    let mut v = impls.to_vec();
    if i % 2 == 1 {
        v.reverse();
    }
    v
}

pub async fn run(cfg: ScaleCfg) -> io::Result<()> {
    let out = cfg.report.out.clone();
    fs::create_dir_all(out.join("logs"))?;
    let names: Vec<&str> = cfg.report.impls.iter().map(|i| i.name()).collect();
    let mut md = String::new();
    let _ = writeln!(md, "# zkbench scale\n");
    let _ = writeln!(
        md,
        "- date: {}\n- load average at start: {}\n- names: {}\n",
        report::utc_now(),
        report::loadavg(),
        match cfg.report.base.name_len {
            (0, 0) => "n<i>".to_string(),
            (a, b) => format!("{a}-{b} bytes (`zkbench --name-len {a}-{b}`)"),
        }
    );

    // Tree size.
    if !cfg.sizes.is_empty() {
        let _ = writeln!(
            md,
            "## Tree size (znodes of 100 bytes under {})\n\n| znodes | server | RSS loaded (peak) | B/znode (RSS / znodes) | restart to serving after kill -9 | data recovered | RSS after restart | B/znode after restart |\n| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
            cfg.report.base.root
        );
        let mut per_znode = Vec::new();
        let mut restart = Vec::new();
        for (i, &n) in cfg.sizes.iter().enumerate() {
            let mut rc = clone_cfg(&cfg.report);
            rc.znodes = n;
            let mut row_b = vec![0.0; names.len()];
            let mut row_r = vec![0.0; names.len()];
            for imp in order(&cfg.report.impls, i) {
                let m = report::memory(&rc, imp).await?;
                let b = m.rss_loaded_kb as f64 * 1024.0 / n as f64;
                let b2 = m.rss_restarted_kb as f64 * 1024.0 / n as f64;
                let r = m.restart.map(|d| d.as_secs_f64());
                let _ = writeln!(
                    md,
                    "| {n} | {} | {:.0} MiB ({:.0} MiB) | {b:.0} | {} | {} | {:.0} MiB | {b2:.0} |{}",
                    imp.name(),
                    mib(m.rss_loaded_kb),
                    mib(m.hwm_loaded_kb),
                    r.map_or("-".into(), |s| format!("{s:.2} s")),
                    match m.recovered {
                        Some(true) => "yes",
                        Some(false) => "**no**",
                        None => "?",
                    },
                    mib(m.rss_restarted_kb),
                    if m.note.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", m.note)
                    }
                );
                let k = names.iter().position(|x| *x == imp.name()).unwrap_or(0);
                row_b[k] = b2;
                row_r[k] = r.unwrap_or(0.0) * 1000.0;
            }
            per_znode.push((format!("{n}"), row_b));
            restart.push((format!("{n}"), row_r));
        }
        fs::write(
            out.join("scale-bytes-per-znode.svg"),
            svg::bars("RSS after restart / znodes, bytes", &names, &per_znode),
        )?;
        fs::write(
            out.join("scale-restart.svg"),
            svg::bars("restart to serving after kill -9, ms", &names, &restart),
        )?;
        let _ = writeln!(
            md,
            "\nPlots: `scale-bytes-per-znode.svg`, `scale-restart.svg`.\n"
        );
    }

    // Children.
    if !cfg.children.is_empty() {
        let _ = writeln!(
            md,
            "## Children (one parent, {} with K children, jute.maxbuffer default)\n\n| children | server | getChildren min / median / max | answer |\n| ---: | --- | ---: | --- |",
            cfg.report.base.root
        );
        let mut lat = Vec::new();
        for (i, &k) in cfg.children.iter().enumerate() {
            let mut row = vec![0.0; names.len()];
            for imp in order(&cfg.report.impls, i) {
                let r = children_run(&cfg.report, imp, k).await?;
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                let (lo, mid, hi) = (
                    r.took.first().copied().unwrap_or_default(),
                    r.took.get(r.took.len() / 2).copied().unwrap_or_default(),
                    r.took.last().copied().unwrap_or_default(),
                );
                let _ = writeln!(
                    md,
                    "| {k} | {} | {:.1} / {:.1} / {:.1} ms | {} |",
                    r.imp.name(),
                    ms(lo),
                    ms(mid),
                    ms(hi),
                    r.answer.text()
                );
                let j = names.iter().position(|x| *x == imp.name()).unwrap_or(0);
                row[j] = ms(mid);
            }
            lat.push((format!("{k}"), row));
        }
        fs::write(
            out.join("scale-getchildren.svg"),
            svg::bars("getChildren median latency, ms", &names, &lat),
        )?;
        let _ = writeln!(md, "\nPlot: `scale-getchildren.svg`.\n");
    }
    let sc = &cfg.snapshot_cfg;
    side_by_side(
        &cfg,
        Dim::Snapshot,
        &cfg.snapshot,
        &format!(
            "zoo.cfg `snapCount={}`; the probe: {} sessions, one request in flight each, every second one a setData, for {} s after the load. Write time: a snapshot file's birth time (statx) to its mtime. p99 during: requests that overlap a snapshot being written.",
            sc.snap_count, sc.probe_sessions, sc.probe_secs
        ),
        &mut md,
    )
    .await?;
    side_by_side(
        &cfg,
        Dim::Fanout,
        &cfg.fanout,
        &format!("N sessions open ({} handshakes at a time: the connect storm rate), each with a data watch on one znode; another session sets it: time from sending setData to the last notification read by this one client thread, 3 rounds (watches re-armed between).", fanout::STORM_CONCURRENCY),
        &mut md,
    )
    .await?;
    let expiry = "During the expiry a probe of 4 other sessions does getData (one in flight each); a poller asks one request after another (getChildren count of the parent, or exists of the last ephemeral); the expiry window runs from the send of the last poll that saw every ephemeral to the answer of the first that saw none. Session timeout 10000 ms.";
    side_by_side(
        &cfg,
        Dim::Sessions,
        &cfg.sessions,
        &format!("N sessions opened ({} handshakes at a time), RSS growth / N one second later; then each creates one ephemeral and all connections are dropped at once. {expiry}", fanout::STORM_CONCURRENCY),
        &mut md,
    )
    .await?;
    side_by_side(
        &cfg,
        Dim::Ephemerals,
        &cfg.ephemerals,
        &format!("One session creates M ephemerals, then its connection is dropped. {expiry}"),
        &mut md,
    )
    .await?;
    let b = &cfg.report.base;
    side_by_side(
        &cfg,
        Dim::SlowDisk,
        &cfg.slow_disk,
        &format!(
            "Open loop at {} ops/s offered ({} sessions, at most {} in flight each), {} s measured after {} s warmup, one server per step running {} in turn. D = 0: no shim (the quiet disk); else `tools/shim/fsync-delay.c` in LD_PRELOAD sleeps D ms before every fsync/fdatasync. Goal: zkserver's p99 <= 1/5 of Java's (5x).",
            cfg.report.rate.unwrap_or(slowdisk::DEFAULT_RATE),
            b.sessions,
            b.depth,
            b.duration.as_secs_f64(),
            b.warmup.as_secs_f64(),
            slowdisk::workloads(&cfg.report).iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
        ),
        &mut md,
    )
    .await?;
    threads::section(&cfg.report, &cfg.threads, &mut md).await;
    side_by_side(
        &cfg,
        Dim::Ensemble,
        &cfg.ensembles,
        &format!(
            "Closed-loop set: {} sessions × {} outstanding spread over the nodes, {} s after {} s warmup. Then, on the first step's ensemble only, {} znodes loaded, the leader killed (SIGKILL), and creates tried one after another, each on a fresh session of a surviving node, until one is acknowledged.",
            b.sessions,
            b.depth,
            b.duration.as_secs_f64(),
            b.warmup.as_secs_f64(),
            cfg.failover_znodes
        ),
        &mut md,
    )
    .await?;
    let _ = writeln!(md, "- load average at the end: {}", report::loadavg());
    fs::write(out.join("scale.md"), &md)?;
    print!("{md}");
    eprintln!("zkbench: scale report written to {}", out.display());
    Ok(())
}

fn clone_cfg(c: &ReportCfg) -> ReportCfg {
    ReportCfg {
        base: c.base.clone(),
        workloads: Vec::new(),
        impls: c.impls.clone(),
        spec: c.spec.clone(),
        znodes: c.znodes,
        out: c.out.clone(),
        keep: c.keep,
        skip_latency: true,
        skip_memory: false,
        ensemble_workloads: Vec::new(),
        rate_workloads: Vec::new(),
        rate: None,
        rate_fraction: c.rate_fraction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_alternates() {
        let v = [Impl::Java, Impl::Zkrs];
        assert_eq!(order(&v, 0), vec![Impl::Java, Impl::Zkrs]);
        assert_eq!(order(&v, 1), vec![Impl::Zkrs, Impl::Java]);
    }
}
