//! `zkbench report`: Java 3.8 and zkserver side by side in one run.
//!
//! For every workload, a fresh instance of each server (own free port, fresh dataDir, same
//! zoo.cfg with forceSync=yes) is started, loaded, measured and killed; which of the two goes
//! first alternates from one workload to the next; optionally the same for a 3-node ensemble of
//! each (sessions round-robin over the nodes), and optionally both again at the same offered
//! rate (open loop, a fraction of Java's throughput in this run). Then: single-request latency (get, 1 session,
//! depth 1) against a loopback echo server driven by the same client code; server RSS after
//! loading K znodes; restart-to-serving time on the same dataDir after `kill -9`.

use crate::json;
use crate::load::{self, BenchCfg, RunResult, Workload};
use crate::server::{self, Ensemble, Impl, Server, Spec};
use crate::svg;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub struct ReportCfg {
    pub base: BenchCfg,
    pub workloads: Vec<Workload>,
    pub impls: Vec<Impl>,
    pub spec: Spec,
    pub znodes: u64,
    pub out: PathBuf,
    pub keep: bool,
    pub skip_latency: bool,
    pub skip_memory: bool,
    /// Workloads run again against a 3-node ensemble of each implementation (empty: none).
    pub ensemble_workloads: Vec<Workload>,
    /// Workloads run again open loop, both servers at the same offered rate (empty: none).
    pub rate_workloads: Vec<Workload>,
    /// That rate, in ops/s; `None`: `rate_fraction` of Java's ops/s in this run's table.
    pub rate: Option<f64>,
    pub rate_fraction: f64,
}

const ENSEMBLE_NODES: usize = 3;

pub(crate) struct MemResult {
    pub imp: Impl,
    pub start_empty: Duration,
    pub rss_idle_kb: u64,
    pub rss_loaded_kb: u64,
    pub hwm_loaded_kb: u64,
    pub load: RunResult,
    pub restart: Option<Duration>,
    pub recovered: Option<bool>,
    pub rss_restarted_kb: u64,
    pub note: String,
}

fn fmt_lat(us: f64) -> String {
    if us >= 100.0 {
        format!("{:.0}", us)
    } else {
        format!("{:.1}", us)
    }
}

fn fmt_ops(v: f64) -> String {
    format!("{:.0}", v)
}

fn lat5(r: &RunResult) -> String {
    format!(
        "{} / {} / {} / {} / {}",
        fmt_lat(r.q_us(0.5)),
        fmt_lat(r.q_us(0.9)),
        fmt_lat(r.q_us(0.99)),
        fmt_lat(r.q_us(0.999)),
        fmt_lat(r.max_us())
    )
}

fn trouble(r: &RunResult) -> String {
    let mut t = Vec::new();
    if r.error_count() > 0 {
        t.push(r.errors_text());
    }
    if r.disconnects > 0 {
        t.push(format!(
            "{} disconnects ({} requests lost)",
            r.disconnects, r.lost
        ));
    }
    if r.stuck > 0 {
        t.push(format!("{} stuck sessions", r.stuck));
    }
    if r.zero_secs() > 0 {
        t.push(format!("{} s with no completions", r.zero_secs()));
    }
    if t.is_empty() {
        "—".into()
    } else {
        t.join("; ")
    }
}

pub(crate) fn copy_log(srv: &Server, out: &std::path::Path, name: &str) {
    let src = srv.dir.join("server.log");
    if let Ok(b) = fs::read(&src) {
        let keep = &b[b.len().saturating_sub(1 << 20)..];
        let _ = fs::create_dir_all(out.join("logs"));
        let _ = fs::write(out.join("logs").join(format!("{name}.log")), keep);
    }
}

/// Write back everything the last run left dirty before the next one starts. Neither server
/// fsyncs its snapshots, so a run that wrote a large tree leaves tens of MB in the page cache,
/// and the kernel writes them back during whichever run comes next, in front of its txn log
/// fsyncs. (Seen once: a same-rate set run right after a create run had p99.9 26.7 ms; with
/// this step the same section gave 9.0 ms.)
pub(crate) fn settle_disk() {
    let _ = std::process::Command::new("sync").status();
}

pub(crate) async fn start(
    cfg: &ReportCfg,
    imp: Impl,
    dir: &std::path::Path,
) -> io::Result<(Server, Duration)> {
    let mut srv = Server::start(&cfg.spec, imp, dir)?;
    let t = srv.wait_serving(Duration::from_secs(120)).await?;
    Ok((srv, t))
}

/// One implementation's run in a comparison, with the leader's myid for an ensemble.
struct Row {
    imp: Impl,
    r: RunResult,
    leader: Option<usize>,
}

type Runs = Vec<(Workload, Vec<Row>)>;

/// "zkrs create", or "zkrs create, 3 nodes" for an ensemble.
fn run_name(imp: Impl, w: Workload, nodes: usize) -> String {
    match nodes {
        1 => format!("{} {}", imp.name(), w.name()),
        n => format!("{} {}, {n} nodes", imp.name(), w.name()),
    }
}

/// Start `nodes` fresh servers of `imp` (1: standalone, more: an ensemble), load them with
/// `bc` (sessions round-robin over the nodes), kill them, keep their logs.
async fn one_run(
    cfg: &ReportCfg,
    imp: Impl,
    w: Workload,
    bc: &BenchCfg,
    nodes: usize,
) -> io::Result<Row> {
    let name = run_name(imp, w, nodes);
    let mut ens = Ensemble::start(&cfg.spec, imp, nodes)?;
    let r = match ens.wait_serving(Duration::from_secs(120)).await {
        Ok(startup) => {
            let pids: Vec<String> = ens.pids().iter().map(u32::to_string).collect();
            eprintln!(
                "zkbench: {name} on {} (pid {}, serving after {:.2} s{})",
                ens.addrs().join(","),
                pids.join(","),
                startup.as_secs_f64(),
                ens.leader
                    .map(|i| format!(", leader myid {}", i + 1))
                    .unwrap_or_default()
            );
            let mut c = bc.clone();
            c.addrs = ens.addrs();
            c.workload = w;
            c.label = name;
            c.server_pids = ens.pids();
            load::run(&c).await
        }
        Err(e) => Err(e),
    };
    let alive = ens.alive();
    ens.kill();
    let tag = if (bc.sessions, bc.depth) == (1, 1) {
        "-1x1"
    } else {
        ""
    };
    for (k, srv) in ens.nodes.iter().enumerate() {
        let log = match nodes {
            1 => format!("{}{tag}-{}", w.name(), imp.name()),
            _ => format!("ensemble-{}-{}-{}", w.name(), imp.name(), k + 1),
        };
        copy_log(srv, &cfg.out, &log);
        // A failed run's folders stay, for its error message's log path.
        if !cfg.keep && r.is_ok() {
            let _ = fs::remove_dir_all(&srv.dir);
        }
    }
    settle_disk();
    let mut r = r?;
    if !alive {
        r.notes
            .push(format!("{} exited during the run", imp.name()));
    }
    Ok(Row {
        imp,
        r,
        leader: ens.leader.map(|i| i + 1),
    })
}

/// Every workload against fresh servers of each implementation (`nodes` each), which
/// implementation goes first alternating from one workload to the next. Failures go to `md`.
async fn compare(
    cfg: &ReportCfg,
    workloads: &[(Workload, BenchCfg)],
    nodes: usize,
    md: &mut String,
) -> Runs {
    let mut runs = Vec::new();
    for (i, (w, bc)) in workloads.iter().enumerate() {
        let w = *w;
        let mut order = cfg.impls.clone();
        if i % 2 == 1 {
            order.reverse();
        }
        let mut rs = Vec::new();
        for imp in order {
            let name = run_name(imp, w, nodes);
            match one_run(cfg, imp, w, bc, nodes).await {
                Ok(row) => {
                    let r = &row.r;
                    eprintln!(
                        "zkbench: {name}: {:.0} ops/s, p99 {} µs{}",
                        r.ops_per_sec(),
                        fmt_lat(r.q_us(0.99)),
                        match trouble(r).as_str() {
                            "—" => String::new(),
                            t => format!(" ({t})"),
                        }
                    );
                    rs.push(row);
                }
                Err(e) => {
                    eprintln!("zkbench: {name} failed: {e}");
                    let _ = writeln!(md, "- {name} failed: {e}\n");
                }
            }
        }
        rs.sort_by_key(|row| cfg.impls.iter().position(|x| *x == row.imp));
        runs.push((w, rs));
    }
    runs
}

/// Each workload with the same load settings.
fn with_cfg(workloads: &[Workload], bc: &BenchCfg) -> Vec<(Workload, BenchCfg)> {
    workloads.iter().map(|&w| (w, bc.clone())).collect()
}

/// The Java/zkrs table of `runs` into `md`, a latency plot per workload and a throughput bar
/// chart into `--out` (file names starting with `prefix`); returns the runs as JSON.
fn table(
    cfg: &ReportCfg,
    runs: &Runs,
    nodes: usize,
    prefix: &str,
    md: &mut String,
) -> io::Result<Vec<String>> {
    let ens = nodes > 1;
    let setup = if ens {
        format!("{nodes}-node ensemble, ")
    } else {
        String::new()
    };
    let _ = writeln!(
        md,
        "| workload | Java ops/s | zkrs ops/s | zkrs/Java ops | Java latency µs | zkrs latency µs | Java/zkrs p99 | server CPU µs/op{} (Java; zkrs) | trouble (Java; zkrs) |{}",
        if ens { ", all nodes" } else { "" },
        if ens { " leader myid (Java; zkrs) |" } else { "" }
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |{}",
        if ens { " --- |" } else { "" }
    );
    let mut js_runs = Vec::new();
    let mut groups = Vec::new();
    let mut notes = Vec::new();
    for (w, rs) in runs {
        for row in rs {
            let res = json::result(&row.r, Some(row.imp.name()));
            js_runs.push(match row.leader {
                Some(l) => json::object(&[
                    ("server", json::string(row.imp.name())),
                    ("nodes", nodes.to_string()),
                    ("leader_myid", l.to_string()),
                    ("result", res),
                ]),
                None => res,
            });
            for n in &row.r.notes {
                notes.push(format!("- note ({}): {n}", run_name(row.imp, *w, nodes)));
            }
        }
        let get = |imp: Impl| rs.iter().find(|row| row.imp == imp);
        let (jr, zr) = (get(Impl::Java), get(Impl::Zkrs));
        let (j, z) = (jr.map(|row| &row.r), zr.map(|row| &row.r));
        let ops = |r: Option<&RunResult>| r.map(|r| fmt_ops(r.ops_per_sec())).unwrap_or("—".into());
        let lat = |r: Option<&RunResult>| r.map(lat5).unwrap_or("—".into());
        let ratio_ops = match (j, z) {
            (Some(j), Some(z)) if j.ops_per_sec() > 0.0 => {
                format!("{:.2}×", z.ops_per_sec() / j.ops_per_sec())
            }
            _ => "—".into(),
        };
        let ratio_p99 = match (j, z) {
            (Some(j), Some(z)) if z.q_us(0.99) > 0.0 => {
                format!("{:.2}×", j.q_us(0.99) / z.q_us(0.99))
            }
            _ => "—".into(),
        };
        let tr = format!(
            "{}; {}",
            j.map(trouble).unwrap_or("—".into()),
            z.map(trouble).unwrap_or("—".into())
        );
        let cpu = |r: Option<&RunResult>| {
            r.and_then(|r| r.cpu_us_per_op(r.server_cpu))
                .map(|v| format!("{v:.1}"))
                .unwrap_or("—".into())
        };
        let leader = |row: Option<&Row>| {
            row.and_then(|row| row.leader)
                .map(|l| l.to_string())
                .unwrap_or("—".into())
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {}; {} | {} |{}",
            w.name(),
            ops(j),
            ops(z),
            ratio_ops,
            lat(j),
            lat(z),
            ratio_p99,
            cpu(j),
            cpu(z),
            tr,
            if ens {
                format!(" {}; {} |", leader(jr), leader(zr))
            } else {
                String::new()
            }
        );
        groups.push((
            w.name().to_string(),
            cfg.impls
                .iter()
                .map(|&i| get(i).map(|row| row.r.ops_per_sec()).unwrap_or(0.0))
                .collect::<Vec<_>>(),
        ));
        let series: Vec<svg::Series> = rs
            .iter()
            .map(|row| svg::Series {
                name: row.imp.name().to_string(),
                color: svg::COLORS[if row.imp == Impl::Java { 0 } else { 1 }],
                hist: &row.r.hist,
            })
            .collect();
        if let Some(first) = rs.first() {
            fs::write(
                cfg.out.join(format!("{prefix}latency-{}.svg", w.name())),
                svg::latency_plot(
                    &match first.r.rate {
                        Some(rate) => format!(
                            "{} latency, {setup}{} ops/s offered by {} sessions",
                            w.name(),
                            fmt_ops(rate),
                            first.r.sessions
                        ),
                        None => format!(
                            "{} latency, {setup}{} sessions × {} outstanding",
                            w.name(),
                            first.r.sessions,
                            first.r.depth
                        ),
                    },
                    &series,
                ),
            )?;
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "\n{}", notes.join("\n"));
    }
    if !groups.is_empty() {
        let names: Vec<&str> = cfg.impls.iter().map(|i| i.name()).collect();
        fs::write(
            cfg.out.join(format!("{prefix}throughput.svg")),
            svg::bars(&format!("throughput, {setup}ops/s"), &names, &groups),
        )?;
    }
    Ok(js_runs)
}

pub(crate) async fn memory(cfg: &ReportCfg, imp: Impl) -> io::Result<MemResult> {
    let dir = server::fresh_dir(&format!("{}-mem", imp.name()))?;
    let (mut srv, start_empty) = start(cfg, imp, &dir).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_idle_kb, _) = srv.rss_kb().unwrap_or((0, 0));
    let mut c = cfg.base.clone();
    c.addrs = vec![srv.addr.clone()];
    c.workload = Workload::Load(cfg.znodes);
    c.sessions = 8;
    c.depth = 100;
    c.value_size = 100;
    c.label = format!("{} load {}", imp.name(), cfg.znodes);
    c.server_pids = vec![srv.pid()];
    eprintln!(
        "zkbench: {} loading {} znodes of 100 bytes on {} (pid {})",
        imp.name(),
        cfg.znodes,
        srv.addr,
        srv.pid()
    );
    let load = load::run(&c).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_loaded_kb, hwm_loaded_kb) = srv.rss_kb().unwrap_or((0, 0));
    let last = format!(
        "{}/{}",
        c.root,
        load::load_name(cfg.znodes.saturating_sub(1), c.name_len)
    );
    // kill -9, restart on the same dataDir, time until a session gets a getData answer.
    srv.kill();
    copy_log(&srv, &cfg.out, &format!("memory-{}", imp.name()));
    drop(srv);
    let mut note = String::new();
    let (restart, recovered, rss_restarted_kb) = match start(cfg, imp, &dir).await {
        Ok((srv2, t)) => {
            let rec =
                match crate::proto::probe_get(&srv2.addr, &last, Duration::from_secs(10)).await {
                    Ok(0) => Some(true),
                    Ok(_) => Some(false),
                    Err(e) => {
                        note = format!("probe after restart failed: {e}");
                        None
                    }
                };
            let rss = srv2.rss_kb().map(|r| r.0).unwrap_or(0);
            copy_log(&srv2, &cfg.out, &format!("restart-{}", imp.name()));
            (Some(t), rec, rss)
        }
        Err(e) => {
            note = format!("restart failed: {e}");
            (None, None, 0)
        }
    };
    if !cfg.keep {
        let _ = fs::remove_dir_all(&dir);
    }
    settle_disk();
    Ok(MemResult {
        imp,
        start_empty,
        rss_idle_kb,
        rss_loaded_kb,
        hwm_loaded_kb,
        load,
        restart,
        recovered,
        rss_restarted_kb,
        note,
    })
}

/// The date and time, "2026-12-04 13:25 UTC".
pub(crate) fn utc_now() -> String {
    cmd_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default()
}

fn cmd_output(prog: &str, args: &[&str]) -> Option<String> {
    let o = std::process::Command::new(prog).args(args).output().ok()?;
    let text = if o.stdout.is_empty() {
        o.stderr
    } else {
        o.stdout
    };
    let s = String::from_utf8_lossy(&text);
    Some(s.lines().next()?.trim().to_string())
}

pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn environment(cfg: &ReportCfg) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut add = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            v.push((k.to_string(), val));
        }
    };
    add("date", cmd_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]));
    add(
        "cpu",
        fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        }),
    );
    add(
        "cores",
        std::thread::available_parallelism()
            .ok()
            .map(|n| n.to_string()),
    );
    add(
        "kernel",
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
    );
    add("load average at start", Some(loadavg()));
    add("java", cmd_output(&cfg.spec.java, &["-version"]));
    let bin = &cfg.spec.zkrs_bin;
    let commit = bin.parent().and_then(|d| {
        cmd_output(
            "git",
            &["-C", &d.to_string_lossy(), "log", "-1", "--format=%h %s"],
        )
    });
    add(
        "zkserver",
        Some(format!(
            "{}{}",
            bin.display(),
            commit
                .map(|c| format!(" (repo at {c})"))
                .unwrap_or_default()
        )),
    );
    add(
        "client",
        Some("zkbench, one tokio current-thread runtime (one core), same machine".into()),
    );
    v
}

pub async fn run(cfg: ReportCfg) -> io::Result<()> {
    fs::create_dir_all(&cfg.out)?;
    let b = &cfg.base;
    let mut md = String::new();
    let mut js: Vec<(&str, String)> = Vec::new();
    let _ = writeln!(md, "# zkbench report\n");
    let env = environment(&cfg);
    for (k, v) in &env {
        let _ = writeln!(md, "- {k}: {v}");
    }
    let _ = writeln!(md);
    js.push((
        "environment",
        json::object(
            &env.iter()
                .map(|(k, v)| (k.as_str(), json::string(v)))
                .collect::<Vec<_>>(),
        ),
    ));
    let _ = writeln!(
        md,
        "{} sessions × {} outstanding, {} s measured after {} s warmup, {}-byte values, \
         {} keys, mix = {}% reads. zoo.cfg: forceSync=yes, one fresh server per workload.\n",
        b.sessions,
        b.depth,
        b.duration.as_secs_f64(),
        b.warmup.as_secs_f64(),
        b.value_size,
        b.keys,
        b.read_pct
    );
    js.push((
        "config",
        json::object(&[
            ("sessions", b.sessions.to_string()),
            ("depth", b.depth.to_string()),
            ("duration_s", json::num(b.duration.as_secs_f64())),
            ("warmup_s", json::num(b.warmup.as_secs_f64())),
            ("value_size", b.value_size.to_string()),
            ("keys", b.keys.to_string()),
            ("read_pct", b.read_pct.to_string()),
            ("znodes", cfg.znodes.to_string()),
        ]),
    ));

    // 1. throughput and latency per workload, standalone
    let mut runs = Vec::new();
    if !cfg.workloads.is_empty() {
        let _ = writeln!(md, "## Throughput and latency\n");
        let _ = writeln!(
            md,
            "Latency columns: p50 / p90 / p99 / p99.9 / max in µs. `watch`: ops = notifications \
             received, latency = event arrival minus the setData's send time ({} watchers, {} \
             watched nodes). `ephemeral`: every create and every delete is one op.\n",
            b.sessions.max(2) - 1,
            b.depth
        );
        runs = compare(&cfg, &with_cfg(&cfg.workloads, b), 1, &mut md).await;
        let js_runs = table(&cfg, &runs, 1, "", &mut md)?;
        js.push(("runs", json::array(&js_runs)));
    }

    // 2. the same against 3-node ensembles
    if !cfg.ensemble_workloads.is_empty() {
        let _ = writeln!(md, "\n## {ENSEMBLE_NODES}-node ensemble\n");
        let _ = writeln!(
            md,
            "Each implementation as {ENSEMBLE_NODES} fresh nodes on 127.0.0.1 (the same zoo.cfg \
             plus server.1-{ENSEMBLE_NODES}), serving once `srvr` shows one leader and the rest \
             followers and a session on every node is answered; the {} sessions go round-robin \
             over the nodes' client ports (followers forward writes to the leader). Server CPU \
             is summed over the nodes. Latency columns: p50 / p90 / p99 / p99.9 / max in µs.\n",
            b.sessions
        );
        let ws = with_cfg(&cfg.ensemble_workloads, b);
        let runs = compare(&cfg, &ws, ENSEMBLE_NODES, &mut md).await;
        let js_runs = table(&cfg, &runs, ENSEMBLE_NODES, "ensemble-", &mut md)?;
        js.push(("ensemble", json::array(&js_runs)));
    }

    // 2b. the same offered rate for both (open loop)
    if !cfg.rate_workloads.is_empty() {
        let _ = writeln!(md, "\n## Latency at the same offered rate\n");
        let _ = writeln!(
            md,
            "Open loop: each of the {} sessions sends on a fixed schedule (at most {} in flight), \
             both servers at the same offered rate: {}. Latency columns: p50 / p90 / p99 / \
             p99.9 / max in µs. An achieved rate below the offered one means the server did not \
             keep up.\n",
            b.sessions,
            b.depth,
            match cfg.rate {
                Some(r) => format!("{} ops/s", fmt_ops(r)),
                None => format!(
                    "{:.0}% of Java's ops/s in the table above",
                    cfg.rate_fraction * 100.0
                ),
            }
        );
        let mut paced = Vec::new();
        for &w in &cfg.rate_workloads {
            let java_ops = runs
                .iter()
                .find(|(x, _)| *x == w)
                .and_then(|(_, rs)| rs.iter().find(|row| row.imp == Impl::Java))
                .map(|row| row.r.ops_per_sec());
            let Some(rate) = cfg.rate.or(java_ops.map(|o| o * cfg.rate_fraction)) else {
                let _ = writeln!(
                    md,
                    "- {}: no Java run of it above to take the rate from (pass --rate)\n",
                    w.name()
                );
                continue;
            };
            let _ = writeln!(md, "- {}: {} ops/s offered", w.name(), fmt_ops(rate));
            let mut bc = b.clone();
            bc.rate = Some(rate);
            paced.push((w, bc));
        }
        let _ = writeln!(md);
        let rate_runs = compare(&cfg, &paced, 1, &mut md).await;
        let js_runs = table(&cfg, &rate_runs, 1, "rate-", &mut md)?;
        js.push(("same_rate", json::array(&js_runs)));
    }

    // 3. single-request latency vs a bare loopback round trip
    if !cfg.skip_latency {
        let _ = writeln!(
            md,
            "\n## Single-request latency (get, 1 session × 1 outstanding)\n"
        );
        let mut lc = b.clone();
        lc.sessions = 1;
        lc.depth = 1;
        lc.workload = Workload::Get;
        let mut lat_runs: Vec<(String, RunResult)> = Vec::new();
        let echo = server::start_echo(16 + 4 + b.value_size + 68)?;
        let mut ec = lc.clone();
        ec.addrs = vec![echo];
        ec.label = "loopback echo".into();
        ec.keys = 1;
        match load::run(&ec).await {
            Ok(r) => lat_runs.push(("loopback TCP echo".into(), r)),
            Err(e) => eprintln!("zkbench: echo run failed: {e}"),
        }
        for &imp in &cfg.impls {
            match one_run(&cfg, imp, Workload::Get, &lc, 1).await {
                Ok(row) => lat_runs.push((format!("{} get 1×1", imp.name()), row.r)),
                Err(e) => eprintln!("zkbench: {} 1×1 failed: {e}", imp.name()),
            }
        }
        let _ = writeln!(
            md,
            "| | ops/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | p50 over echo |"
        );
        let _ = writeln!(
            md,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        let echo_p50 = lat_runs
            .iter()
            .find(|(n, _)| n.starts_with("loopback"))
            .map(|(_, r)| r.q_us(0.5));
        let mut js_lat = Vec::new();
        for (n, r) in &lat_runs {
            let over = match echo_p50 {
                Some(e) if !n.starts_with("loopback") => {
                    format!("+{} µs", fmt_lat(r.q_us(0.5) - e))
                }
                _ => "—".into(),
            };
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} | {} | {} | {over} |",
                fmt_ops(r.ops_per_sec()),
                fmt_lat(r.q_us(0.5)),
                fmt_lat(r.q_us(0.9)),
                fmt_lat(r.q_us(0.99)),
                fmt_lat(r.q_us(0.999)),
                fmt_lat(r.max_us())
            );
            js_lat.push(json::result(r, Some(n)));
        }
        let series: Vec<svg::Series> = lat_runs
            .iter()
            .map(|(n, r)| svg::Series {
                name: n.clone(),
                color: if n.starts_with("java") {
                    svg::COLORS[0]
                } else if n.starts_with("zkrs") {
                    svg::COLORS[1]
                } else {
                    svg::COLORS[2]
                },
                hist: &r.hist,
            })
            .collect();
        fs::write(
            cfg.out.join("latency-1x1.svg"),
            svg::latency_plot("get latency, 1 session × 1 outstanding", &series),
        )?;
        js.push(("single_request", json::array(&js_lat)));
    }

    // 4. memory after K znodes, restart-to-serving
    if !cfg.skip_memory {
        let _ = writeln!(
            md,
            "\n## Memory and restart ({} znodes of 100 bytes)\n",
            cfg.znodes
        );
        let _ = writeln!(
            md,
            "| server | RSS idle | RSS loaded (peak) | load rate | load latency p99 / max µs | start, empty dataDir | restart to serving after kill -9 | data recovered | RSS after restart |"
        );
        let _ = writeln!(
            md,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
        );
        let mut js_mem = Vec::new();
        for &imp in &cfg.impls {
            match memory(&cfg, imp).await {
                Ok(m) => {
                    let mb = |kb: u64| format!("{:.0} MiB", kb as f64 / 1024.0);
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} ({}) | {} creates/s | {} / {} | {:.2} s | {} | {} | {} |",
                        m.imp.name(),
                        mb(m.rss_idle_kb),
                        mb(m.rss_loaded_kb),
                        mb(m.hwm_loaded_kb),
                        fmt_ops(m.load.ops_per_sec()),
                        fmt_lat(m.load.q_us(0.99)),
                        fmt_lat(m.load.max_us()),
                        m.start_empty.as_secs_f64(),
                        m.restart
                            .map(|t| format!("{:.2} s", t.as_secs_f64()))
                            .unwrap_or("—".into()),
                        match m.recovered {
                            Some(true) => "yes",
                            Some(false) => "**no**",
                            None => "?",
                        },
                        mb(m.rss_restarted_kb),
                    );
                    if m.imp == Impl::Zkrs && m.recovered == Some(false) {
                        let _ = writeln!(
                            md,
                            "\n- **zkrs did not recover its data after kill -9**: it is running \
                             in-memory (no txn log, no fsync), so its write numbers above are \
                             not comparable with Java's fsync'd writes."
                        );
                    }
                    if !m.note.is_empty() {
                        let _ = writeln!(md, "\n- note ({}): {}", m.imp.name(), m.note);
                    }
                    if trouble(&m.load) != "—" {
                        let _ =
                            writeln!(md, "\n- note ({} load): {}", m.imp.name(), trouble(&m.load));
                    }
                    js_mem.push(json::object(&[
                        ("server", json::string(m.imp.name())),
                        ("znodes", cfg.znodes.to_string()),
                        (
                            "start_empty_s",
                            format!("{:.3}", m.start_empty.as_secs_f64()),
                        ),
                        ("rss_idle_kb", m.rss_idle_kb.to_string()),
                        ("rss_loaded_kb", m.rss_loaded_kb.to_string()),
                        ("hwm_loaded_kb", m.hwm_loaded_kb.to_string()),
                        ("load", json::result(&m.load, Some(m.imp.name()))),
                        (
                            "restart_to_serving_s",
                            m.restart
                                .map(|t| format!("{:.3}", t.as_secs_f64()))
                                .unwrap_or("null".into()),
                        ),
                        (
                            "recovered",
                            m.recovered.map(|b| b.to_string()).unwrap_or("null".into()),
                        ),
                        ("rss_restarted_kb", m.rss_restarted_kb.to_string()),
                        ("note", json::string(&m.note)),
                    ]));
                }
                Err(e) => {
                    eprintln!("zkbench: memory test for {} failed: {e}", imp.name());
                    let _ = writeln!(md, "\n- {} memory test failed: {e}", imp.name());
                }
            }
        }
        js.push(("memory", json::array(&js_mem)));
    }
    let _ = writeln!(md, "\n- load average at the end: {}", loadavg());
    let mut plots = Vec::new();
    if !cfg.workloads.is_empty() {
        plots.push("`throughput.svg`, `latency-<workload>.svg`");
    }
    if !cfg.rate_workloads.is_empty() {
        plots.push("`rate-throughput.svg`, `rate-latency-<workload>.svg`");
    }
    if !cfg.ensemble_workloads.is_empty() {
        plots.push("`ensemble-throughput.svg`, `ensemble-latency-<workload>.svg`");
    }
    if !cfg.skip_latency {
        plots.push("`latency-1x1.svg`");
    }
    let plots = match plots.is_empty() {
        true => String::new(),
        false => format!("Plots: {}. ", plots.join(", ")),
    };
    let _ = writeln!(md, "\n{plots}Server logs in `logs/`.");
    fs::write(cfg.out.join("report.md"), &md)?;
    fs::write(cfg.out.join("report.json"), json::object(&js) + "\n")?;
    println!("{md}");
    eprintln!("zkbench: report written to {}", cfg.out.display());
    Ok(())
}
