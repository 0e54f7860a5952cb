//! zkbench: a ZooKeeper load generator, and a side-by-side report of Java 3.8 and zkserver.
//!
//! ```text
//! zkbench [run] --server 127.0.0.1:2181[,HOST:PORT...] --workload get[,set,...]
//!         [--sessions 16] [--depth 32] [--duration 10s] [--warmup 3s] [--value-size 100]
//!         [--read-pct 90] [--keys 1000] [--root /zkbench] [--json] [--quiet]
//!         [--tls --ca CA.pem [--cert CERT.pem --key KEY.pem]]
//! zkbench report [--zkrs-bin PATH] [--out DIR] [--znodes N] [--workloads LIST]
//!                [--ensemble] [--ensemble-workloads LIST] [...same...]
//! ```
//! See docs/benchmarks.md.

mod json;
mod load;
mod proto;
mod report;
mod scale;
mod server;
mod svg;
mod tls;

use load::{BenchCfg, Workload};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

const USAGE: &str = "\
usage:
  zkbench [run] [options]      load a server or an ensemble (default 127.0.0.1:2181)
  zkbench report [options]     start Java 3.8 and zkserver in turn, same workloads, side by side
  zkbench scale [options]      the same two servers as the tree and a fan-out grow (scale.md)

workload options:
  --server LIST        HOST:PORT[,...]; sessions round-robin over them (run) [127.0.0.1:2181]
  --workload LIST      create,set,get,mix,exists,watch,ephemeral,handshakes (run) [get]
                       handshakes: new connections (+ TLS) + sessions per second
  --workloads LIST     same, for report                                  [all seven]
  --sessions N         sessions (connections)                            [16]
  --depth D            outstanding requests per session                  [32]
  --duration T         measured time per workload (10s, 500ms, 2m)       [10s]
  --warmup T           unmeasured time before it                         [3s]
  --value-size B       bytes per znode value                             [100]
  --read-pct P         reads in the mix workload                         [90]
  --name-len MIN[-MAX] report's load: names of MIN..MAX bytes (user-like)  [n<i>]
  --keys K             znodes that set/get/mix/exists pick from          [1000]
  --root PATH          parent znode of everything zkbench creates        [/zkbench]
  --server-pid LIST    report the servers' CPU time per op, summed (run mode, local servers)
  --rate R             open loop: offer R ops/s in all on a fixed schedule (depth caps
                       each session's in-flight requests); report: the rate of --fixed-rate
  --tls                connect in TLS (run mode; full handshakes, no resumption)
  --ca FILE            PEM roots that verify the server's certificate (with --tls)
  --cert FILE          PEM client certificate chain (with --tls; Java's clientAuth=need)
  --key FILE           PEM private key of --cert
  --json               machine-readable result on stdout (run mode)
  --quiet              no progress line on stderr

report options:
  --zkrs-bin PATH      zkserver binary   [$ZKRS_BIN, else target/release/zkserver]
  --java PATH          java binary       [java]
  --java-cp CP         classpath         [/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar]
  --java-opts \"OPTS\"   extra JVM options (e.g. \"-Xmx2g\")
  --servers LIST       java,zkrs         [java,zkrs]
  --znodes K           znodes loaded for the memory/restart test (1000000 for the real run) [100000]
  --out DIR            report, JSON, SVG plots, server logs                [zkbench-report]
  --skip-latency       no 1x1 latency section
  --skip-memory        no memory/restart section
  --ensemble           also compare 3-node ensembles of each (workloads create,set)
  --ensemble-workloads LIST  workloads for that (implies --ensemble)       [create,set]
  --fixed-rate         also compare both at the same offered rate, open loop (create,set,mix)
  --rate-workloads LIST  workloads for that (implies --fixed-rate)         [create,set,mix]
  --rate-fraction F    that rate as a fraction of Java's ops/s in this run [0.5]
  --keep               keep the servers' temp data folders

scale options (and --servers, --out, --name-len, --root, --zkrs-bin, --java-opts as above):
  --sizes LIST         tree sizes: znodes of 100 bytes, RSS and restart    [100000,1000000]
  --children LIST      children of one parent: getChildren latency/answer [10000,100000,1000000]
  --snapshot LIST      tree sizes: snapshot write time, probe p99 during/without [1000000]
  --snap-count N       zoo.cfg snapCount of the snapshot dimension          [10000]
  --probe-secs S       how long the probe load runs                         [30]
  --probe-sessions N   probe sessions (one request in flight each)          [8]
  --fanout LIST        sessions watching one znode: setData to last event [1000,10000]
  --session-storm LIST sessions: connect storm, RSS/session, expiry storm [1000,10000]
  --ephemerals LIST    ephemerals of one session expiring at once          [100000]
  --slow-disk LIST     fsync delays in ms (0: quiet disk): open-loop create/set/mix
                       at --rate (default 2000) with --rate-workloads        [0,10]
  --threads LIST       workloads: CPU per op of each server thread  [create,set,get,mix]
  --ensembles LIST     node counts: set throughput/p99, leader kill -9     [3,5]
  --failover-znodes N  znodes loaded before the leader of the first step's
                       ensemble is killed (0: no failover)               [1000000]
  --only LIST          run only these dimensions (sizes,children,snapshot,fanout,
                       sessions,ephemerals,slow-disk,threads,ensembles)
                       (an empty LIST skips a dimension)
";

fn die(msg: &str) -> ! {
    eprintln!("zkbench: {msg}\n\n{USAGE}");
    exit(2)
}

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    if !(0.0..1e7).contains(&v) {
        return None;
    }
    Some(Duration::from_secs_f64(v * mult))
}

/// A comma list, items trimmed, empty ones dropped.
fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn parse_workloads(s: &str) -> Vec<Workload> {
    list(s)
        .iter()
        .map(|x| Workload::parse(x).unwrap_or_else(|| die(&format!("unknown workload {x}"))))
        .collect()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("report") => {
            args.remove(0);
            "report"
        }
        Some("scale") => {
            args.remove(0);
            "scale"
        }
        Some("run") => {
            args.remove(0);
            "run"
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return;
        }
        _ => "run",
    };
    let mut base = BenchCfg {
        addrs: vec!["127.0.0.1:2181".into()],
        workload: Workload::Get,
        sessions: 16,
        depth: 32,
        read_pct: 90,
        value_size: 100,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(3),
        keys: 1000,
        root: "/zkbench".into(),
        progress: true,
        label: String::new(),
        server_pids: Vec::new(),
        rate: None,
        name_len: (0, 0),
    };
    let mut workloads: Option<Vec<Workload>> = None;
    let mut json_out = false;
    let mut spec = server::Spec {
        java: "java".into(),
        java_cp: "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar"
            .into(),
        java_opts: Vec::new(),
        zkrs_bin: std::env::var_os("ZKRS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/zkserver")),
        extra_cfg: Vec::new(),
        env: Vec::new(),
    };
    let mut impls = vec![server::Impl::Java, server::Impl::Zkrs];
    let mut znodes = 100_000u64;
    let mut sizes: Vec<u64> = vec![100_000, 1_000_000];
    let mut children: Vec<u64> = vec![10_000, 100_000, 1_000_000];
    let mut snapshot: Vec<u64> = vec![1_000_000];
    let mut snap_cfg = scale::SnapshotCfg {
        snap_count: 10_000,
        probe_secs: 30,
        probe_sessions: 8,
    };
    let mut only: Option<Vec<String>> = None;
    let mut fanout: Vec<u64> = vec![1_000, 10_000];
    let mut session_storm: Vec<u64> = vec![1_000, 10_000];
    let mut ephemerals: Vec<u64> = vec![100_000];
    let mut slow_disk: Vec<u64> = vec![0, 10];
    let mut ensembles: Vec<u64> = vec![3, 5];
    let mut failover_znodes = 1_000_000u64;
    let mut thread_workloads = parse_workloads("create,set,get,mix");
    let mut out = PathBuf::from("zkbench-report");
    let (mut keep, mut skip_latency, mut skip_memory) = (false, false, false);
    let mut ensemble_workloads: Vec<Workload> = Vec::new();
    let mut rate_workloads: Vec<Workload> = Vec::new();
    let mut rate_fraction = 0.5f64;
    let mut tls = false;
    let (mut ca, mut cert, mut key) = (None::<PathBuf>, None::<PathBuf>, None::<PathBuf>);

    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        let mut val = || -> String {
            if let Some(v) = &inline {
                return v.clone();
            }
            i += 1;
            args.get(i)
                .cloned()
                .unwrap_or_else(|| die(&format!("{flag} needs a value")))
        };
        let num = |v: String| -> u64 {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| die(&format!("{flag}: not a number: {v}")))
        };
        let dur = |v: String| -> Duration {
            parse_duration(&v).unwrap_or_else(|| die(&format!("{flag}: not a duration: {v}")))
        };
        match flag.as_str() {
            "--server" => {
                base.addrs = list(&val());
                if base.addrs.is_empty() {
                    die("--server needs at least one HOST:PORT");
                }
            }
            "--workload" | "--workloads" => workloads = Some(parse_workloads(&val())),
            "--sessions" => base.sessions = num(val()).max(1) as usize,
            "--depth" => base.depth = num(val()).max(1) as usize,
            "--duration" => base.duration = dur(val()),
            "--warmup" => base.warmup = dur(val()),
            "--value-size" => base.value_size = num(val()) as usize,
            "--name-len" => {
                let v = val();
                let (a, b) = v.split_once('-').unwrap_or((&v, &v));
                base.name_len = (num(a.to_string()) as usize, num(b.to_string()) as usize);
            }
            "--read-pct" => base.read_pct = num(val()).min(100) as u32,
            "--keys" => base.keys = num(val()).max(1) as usize,
            "--root" => {
                let r = val();
                if !r.starts_with('/') || r.ends_with('/') {
                    die("--root must be an absolute znode path, not /");
                }
                base.root = r;
            }
            "--server-pid" => {
                base.server_pids = list(&val()).into_iter().map(|p| num(p) as u32).collect()
            }
            "--tls" => tls = true,
            "--ca" => ca = Some(PathBuf::from(val())),
            "--cert" => cert = Some(PathBuf::from(val())),
            "--key" => key = Some(PathBuf::from(val())),
            "--json" => json_out = true,
            "--quiet" => base.progress = false,
            "--zkrs-bin" => spec.zkrs_bin = PathBuf::from(val()),
            "--java" => spec.java = val(),
            "--java-cp" => spec.java_cp = val(),
            "--java-opts" => spec.java_opts = val().split_whitespace().map(String::from).collect(),
            "--zoo-cfg-line" => spec.extra_cfg.push(val()),
            "--servers" => {
                impls = val()
                    .split(',')
                    .map(|s| match s.trim() {
                        "java" => server::Impl::Java,
                        "zkrs" => server::Impl::Zkrs,
                        o => die(&format!("unknown server {o}")),
                    })
                    .collect()
            }
            "--znodes" => znodes = num(val()),
            "--sizes" => sizes = list(&val()).into_iter().map(num).collect(),
            "--children" => children = list(&val()).into_iter().map(num).collect(),
            "--snapshot" => snapshot = list(&val()).into_iter().map(num).collect(),
            "--snap-count" => snap_cfg.snap_count = num(val()).max(2),
            "--probe-secs" => snap_cfg.probe_secs = num(val()).max(1),
            "--probe-sessions" => snap_cfg.probe_sessions = num(val()).max(1) as usize,
            "--fanout" => fanout = list(&val()).into_iter().map(num).collect(),
            "--session-storm" => session_storm = list(&val()).into_iter().map(num).collect(),
            "--ephemerals" => ephemerals = list(&val()).into_iter().map(num).collect(),
            "--slow-disk" => slow_disk = list(&val()).into_iter().map(num).collect(),
            "--threads" => thread_workloads = parse_workloads(&val()),
            "--ensembles" => ensembles = list(&val()).into_iter().map(num).collect(),
            "--failover-znodes" => failover_znodes = num(val()),
            "--only" => only = Some(list(&val())),
            "--out" => out = PathBuf::from(val()),
            "--keep" => keep = true,
            "--skip-latency" => skip_latency = true,
            "--skip-memory" => skip_memory = true,
            "--ensemble" => {
                if ensemble_workloads.is_empty() {
                    ensemble_workloads = vec![Workload::Create, Workload::Set];
                }
            }
            "--ensemble-workloads" => ensemble_workloads = parse_workloads(&val()),
            "--rate" => {
                let v = val();
                match v.replace('_', "").parse::<f64>() {
                    Ok(r) if r > 0.0 && r.is_finite() => base.rate = Some(r),
                    _ => die(&format!("--rate: not a positive number: {v}")),
                }
            }
            "--fixed-rate" => {
                if rate_workloads.is_empty() {
                    rate_workloads = vec![Workload::Create, Workload::Set, Workload::Mix];
                }
            }
            "--rate-workloads" => rate_workloads = parse_workloads(&val()),
            "--rate-fraction" => {
                let v = val();
                match v.parse::<f64>() {
                    Ok(f) if f > 0.0 && f.is_finite() => rate_fraction = f,
                    _ => die(&format!("--rate-fraction: not a positive number: {v}")),
                }
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return;
            }
            o => die(&format!("unknown option {o}")),
        }
        i += 1;
    }

    if tls {
        if mode == "report" {
            die("--tls is for run mode");
        }
        let Some(ca) = &ca else {
            die("--tls needs --ca");
        };
        if let Err(e) = tls::configure(ca, cert.as_deref(), key.as_deref()) {
            die(&e);
        }
    } else if ca.is_some() || cert.is_some() || key.is_some() {
        die("--ca, --cert and --key need --tls");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, async move {
        if mode == "report" || mode == "scale" {
            if !spec.zkrs_bin.exists() && impls.contains(&server::Impl::Zkrs) {
                eprintln!(
                    "zkbench: zkserver binary {} not found (build it with `cargo build --release --bin zkserver`, pass --zkrs-bin or ZKRS_BIN)",
                    spec.zkrs_bin.display()
                );
                return 2;
            }
            // In a report the rate only applies to the fixed-rate section.
            let fixed_rate = base.rate.take();
            let cfg = report::ReportCfg {
                base,
                workloads: workloads.unwrap_or_else(|| {
                    Workload::ALL
                        .iter()
                        .map(|w| Workload::parse(w).unwrap())
                        .collect()
                }),
                impls,
                spec,
                znodes,
                out,
                keep,
                skip_latency,
                skip_memory,
                ensemble_workloads,
                rate_workloads,
                rate: fixed_rate,
                rate_fraction,
            };
            if mode == "scale" {
                let pick = |name: &str, v: Vec<u64>| match &only {
                    Some(o) if !o.iter().any(|x| x == name) => Vec::new(),
                    _ => v,
                };
                let cfg = scale::ScaleCfg {
                    report: cfg,
                    sizes: pick("sizes", sizes.clone()),
                    children: pick("children", children.clone()),
                    snapshot: pick("snapshot", snapshot.clone()),
                    snapshot_cfg: snap_cfg,
                    fanout: pick("fanout", fanout.clone()),
                    sessions: pick("sessions", session_storm.clone()),
                    ephemerals: pick("ephemerals", ephemerals.clone()),
                    slow_disk: pick("slow-disk", slow_disk.clone()),
                    ensembles: pick("ensembles", ensembles.clone()),
                    failover_znodes,
                    threads: match &only {
                        Some(o) if !o.iter().any(|x| x == "threads") => Vec::new(),
                        _ => thread_workloads.clone(),
                    },
                };
                return match scale::run(cfg).await {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("zkbench: scale failed: {e}");
                        1
                    }
                };
            }
            match report::run(cfg).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("zkbench: report failed: {e}");
                    1
                }
            }
        } else {
            let ws = workloads.unwrap_or_else(|| vec![Workload::Get]);
            let mut results = Vec::new();
            let mut code = 0;
            for w in ws {
                let mut c = base.clone();
                c.workload = w;
                c.label = w.name().into();
                match load::run(&c).await {
                    Ok(r) => {
                        if json_out {
                            results.push(json::result(&r, None));
                        } else {
                            print_human(&r);
                        }
                    }
                    Err(e) => {
                        eprintln!("zkbench: {} failed: {e}", w.name());
                        code = 1;
                    }
                }
            }
            if json_out {
                if results.len() == 1 {
                    println!("{}", results[0]);
                } else {
                    println!("{}", json::array(&results));
                }
            }
            code
        }
    });
    exit(code);
}

fn print_human(r: &load::RunResult) {
    match r.rate {
        Some(rate) => println!(
            "{}: {} sessions, {:.0} ops/s offered (at most {} outstanding each), {:.1} s: {:.0} ops/s",
            r.workload,
            r.sessions,
            rate,
            r.depth,
            r.secs,
            r.ops_per_sec()
        ),
        None => println!(
            "{}: {} sessions × {} outstanding, {:.1} s: {:.0} ops/s",
            r.workload,
            r.sessions,
            r.depth,
            r.secs,
            r.ops_per_sec()
        ),
    }
    println!(
        "  latency µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        r.q_us(0.5),
        r.q_us(0.9),
        r.q_us(0.99),
        r.q_us(0.999),
        r.max_us()
    );
    let cpu = |c: Option<f64>| match r.cpu_us_per_op(c) {
        Some(v) => format!("{v:.1} µs/op"),
        None => "?".into(),
    };
    if r.server_cpu.is_some() {
        println!(
            "  cpu: server {}, zkbench {}",
            cpu(r.server_cpu),
            cpu(r.client_cpu)
        );
    } else {
        println!("  cpu: zkbench {}", cpu(r.client_cpu));
    }
    if r.error_count() > 0 {
        println!("  errors: {}", r.errors_text());
    }
    if r.disconnects > 0 || r.stuck > 0 || r.zero_secs() > 0 {
        println!(
            "  trouble: {} disconnects, {} requests lost, {} stuck sessions, {} s without completions",
            r.disconnects,
            r.lost,
            r.stuck,
            r.zero_secs()
        );
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-1s"), None);
    }
}
