//! Slow-disk dimension: the same-rate (open-loop) workloads against a server whose every
//! fsync/fdatasync first sleeps D ms (`tools/shim/fsync-delay.c`, built here with gcc and
//! loaded with LD_PRELOAD; D = 0 runs without it, the quiet disk). The shim's first call of
//! each kind writes a line to the server's log, which shows it was hit.

use super::table::Figures;
use crate::load::{self, Workload};
use crate::report::ReportCfg;
use crate::server::{self, Impl, Server};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SHIM_SOURCE: &str = include_str!("../../../../shim/fsync-delay.c");
/// Offered rate when `--rate` is not given.
pub const DEFAULT_RATE: f64 = 2000.0;

/// Build the shim into `out` (once per run); returns the library's path.
pub fn build_shim(out: &Path) -> io::Result<PathBuf> {
    let src = out.join("fsync-delay.c");
    let lib = out.join("fsync-delay.so");
    if lib.exists() {
        return std::fs::canonicalize(lib);
    }
    std::fs::write(&src, SHIM_SOURCE)?;
    let st = std::process::Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .status()?;
    if !st.success() {
        return Err(io::Error::other("gcc could not build the fsync-delay shim"));
    }
    std::fs::canonicalize(lib)
}

/// The calls the shim reports as hit in a server's log (`fsync`, `fdatasync`).
pub fn shim_hits(log: &str) -> Vec<&str> {
    let mut v: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("fsync-delay: first "))
        .filter_map(|l| l.split(',').next())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

pub fn workloads(rc: &ReportCfg) -> Vec<Workload> {
    if rc.rate_workloads.is_empty() {
        vec![Workload::Create, Workload::Set, Workload::Mix]
    } else {
        rc.rate_workloads.clone()
    }
}

pub async fn run(rc: &ReportCfg, imp: Impl, delay_ms: u64) -> io::Result<Figures> {
    let mut spec = rc.spec.clone();
    if delay_ms > 0 {
        let lib = build_shim(&rc.out)?;
        spec.env
            .push(("LD_PRELOAD".into(), lib.display().to_string()));
        spec.env
            .push(("FSYNC_DELAY_MS".into(), delay_ms.to_string()));
    }
    let dir = server::fresh_dir(&format!("{}-disk{delay_ms}", imp.name()))?;
    let mut srv = Server::start(&spec, imp, &dir)?;
    srv.wait_serving(Duration::from_secs(120)).await?;
    let rate = rc.rate.unwrap_or(DEFAULT_RATE);
    let mut f = Figures::default();
    for w in workloads(rc) {
        let mut c = rc.base.clone();
        c.addrs = vec![srv.addr.clone()];
        c.workload = w;
        c.rate = Some(rate);
        c.progress = false;
        c.label = format!("{} {} fsync+{delay_ms}ms", imp.name(), w.name());
        c.server_pids = vec![srv.pid()];
        eprintln!("zkbench: {}", c.label);
        let r = load::run(&c).await?;
        let ms = |q: f64| Some(r.q_us(q) / 1000.0);
        f.push(&format!("{} p99", w.name()), "ms", true, ms(0.99));
        f.push(&format!("{} p99.9", w.name()), "ms", true, ms(0.999));
        f.push(
            &format!("{} achieved", w.name()),
            "/s",
            false,
            Some(r.ops_per_sec()),
        );
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let hits = shim_hits(&log);
    f.notes.push(format!(
        "{} fsync+{delay_ms} ms at {rate} ops/s: shim hit: {}",
        imp.name(),
        match (delay_ms, hits.is_empty()) {
            (0, _) => "not loaded".to_string(),
            (_, true) => "**no** (the delay did not apply)".to_string(),
            _ => hits.join(", "),
        }
    ));
    super::finish(
        rc,
        &mut srv,
        &dir,
        &format!("disk{delay_ms}-{}", imp.name()),
    );
    f.load1 = super::load1();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_from_log() {
        let log = "x\nfsync-delay: first fdatasync, sleeping 10 ms per call\nINFO y\nfsync-delay: first fsync, sleeping 10 ms per call\n";
        assert_eq!(shim_hits(log), vec!["fdatasync", "fsync"]);
        assert!(shim_hits("nothing").is_empty());
    }
}
