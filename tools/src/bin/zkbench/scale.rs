//! `zkbench scale`: how Java 3.8 and zkserver behave as one dimension grows, side by side in
//! one run (which server goes first alternates per step; a fresh server, temp dataDir and the
//! same zoo.cfg for each). Writes `scale.md` and one SVG plot per figure.
//!
//! Dimensions so far:
//! - tree size: N znodes of 100 bytes under one parent (names from `--name-len`): RSS per
//!   znode once loaded, restart to serving after `kill -9` (report's memory test);
//! - children: one parent with K children: getChildren latency (min / median / max of a few
//!   calls on one session) and the answer when the list is bigger than jute.maxbuffer
//!   (reply size, error code or connection closed).

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
