//! Ensemble dimension: N-node ensembles of each server (`server::Ensemble`, one machine):
//! closed-loop set throughput and latency with the sessions spread over the nodes; then,
//! with `failover_znodes` > 0, that many znodes loaded, the leader killed with SIGKILL, and
//! the time from the kill to the first create acknowledged by any surviving node (each try
//! on a fresh session, one after another).

use super::table::Figures;
use crate::load::{self, Workload};
use crate::proto;
use crate::report::ReportCfg;
use crate::server::{Ensemble, Impl};
use bytes::BytesMut;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// One create of `path` on a fresh session of `addr`; Ok(()) once it is acknowledged.
async fn create_once(addr: &str, path: &str) -> io::Result<()> {
    let fut = async {
        let (mut s, _) = proto::connect(addr, Duration::from_secs(2)).await?;
        let mut out = BytesMut::new();
        proto::create(&mut out, 1, path.as_bytes(), b"", 0);
        s.write_all(&out).await?;
        s.flush().await?;
        let body = proto::read_reply(&mut s, 1, 16..=1 << 20).await?;
        match proto::reply_header(&body) {
            Some((_, _, 0)) => Ok(()),
            Some((_, _, e)) => Err(io::Error::other(proto::err_name(e))),
            None => Err(io::Error::new(io::ErrorKind::InvalidData, "bad reply")),
        }
    };
    tokio::time::timeout(Duration::from_secs(3), fut)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

pub async fn run(
    rc: &ReportCfg,
    imp: Impl,
    nodes: u64,
    failover_znodes: u64,
) -> io::Result<Figures> {
    let mut ens = Ensemble::start(&rc.spec, imp, nodes as usize)?;
    let result = measure(rc, imp, &mut ens, failover_znodes).await;
    for (i, n) in ens.nodes.iter().enumerate() {
        crate::report::copy_log(
            n,
            &rc.out,
            &format!("ensemble{nodes}-{}-{}", imp.name(), i + 1),
        );
    }
    ens.kill();
    if !rc.keep {
        for n in &ens.nodes {
            let _ = std::fs::remove_dir_all(&n.dir);
        }
    }
    crate::report::settle_disk();
    let mut f = result?;
    f.load1 = super::load1();
    Ok(f)
}

async fn measure(
    rc: &ReportCfg,
    imp: Impl,
    ens: &mut Ensemble,
    znodes: u64,
) -> io::Result<Figures> {
    let n = ens.nodes.len();
    ens.wait_serving(Duration::from_secs(180)).await?;
    let mut f = Figures::default();
    let mut c = rc.base.clone();
    c.addrs = ens.addrs();
    c.workload = Workload::Set;
    c.progress = false;
    c.label = format!("{} set, {n} nodes", imp.name());
    eprintln!("zkbench: {}", c.label);
    let r = load::run(&c).await?;
    f.push("set throughput", "/s", false, Some(r.ops_per_sec()));
    f.push("set p99", "ms", true, Some(r.q_us(0.99) / 1000.0));
    if znodes == 0 {
        return Ok(f);
    }
    let mut l = c.clone();
    l.workload = Workload::Load(znodes);
    l.sessions = 8;
    l.depth = 100;
    eprintln!(
        "zkbench: {} loading {znodes} znodes into {n} nodes",
        imp.name()
    );
    load::run(&l).await?;
    let leader = ens.leader.expect("set by wait_serving for an ensemble");
    let others: Vec<String> = (0..n)
        .filter(|&i| i != leader)
        .map(|i| ens.nodes[i].addr.clone())
        .collect();
    // Let followers apply the load's tail before the kill.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "zkbench: {} kill -9 of the leader (node {})",
        imp.name(),
        leader + 1
    );
    ens.nodes[leader].kill();
    let t0 = Instant::now();
    let mut tries = 0u32;
    let took = 'found: loop {
        for a in &others {
            tries += 1;
            if create_once(a, &format!("{}-failover-{tries}", rc.base.root))
                .await
                .is_ok()
            {
                break 'found Some(t0.elapsed());
            }
            if t0.elapsed() > Duration::from_secs(180) {
                break 'found None;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    f.push(
        &format!("leader kill -9 at {znodes} znodes: next acked write"),
        "ms",
        true,
        took.map(|d| d.as_secs_f64() * 1000.0),
    );
    f.notes.push(format!(
        "{} {n} nodes: failover after {tries} create tries",
        imp.name()
    ));
    Ok(f)
}
