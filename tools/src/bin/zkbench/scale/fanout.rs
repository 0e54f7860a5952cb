//! Watch fan-out dimension: N sessions (`holders.rs`) each keep a data watch on one znode;
//! another session sets it, and the time from sending setData to the last of the N
//! notifications arriving here is taken, a few rounds (watches re-armed in between). All N
//! sessions are read by this one client thread, which is part of what is timed, for both
//! servers alike.

use super::holders::{Hold, Holders};
use super::table::{self, Figures};
use crate::load;
use crate::proto;
use crate::report::ReportCfg;
use crate::server::{self, Impl, Server};
use bytes::BytesMut;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Rounds of setData per step.
const ROUNDS: usize = 3;
/// Handshakes in flight at a time while the sessions open.
pub const STORM_CONCURRENCY: usize = 64;

pub async fn run(rc: &ReportCfg, imp: Impl, n: u64) -> io::Result<Figures> {
    let n = n as usize;
    super::check_files(n + 256);
    let dir = server::fresh_dir(&format!("{}-fanout", imp.name()))?;
    let mut srv = Server::start(&rc.spec, imp, &dir)?;
    srv.wait_serving(Duration::from_secs(120)).await?;
    let path = format!("{}-watched", rc.base.root).into_bytes();
    load::bulk_create(&srv.addr, std::slice::from_ref(&path), b"v").await?;
    eprintln!("zkbench: {} opening {n} watching sessions", imp.name());
    let t0 = Instant::now();
    let hold = Hold {
        watch: Some(path.clone()),
        ephemeral_prefix: None,
        session_timeout_ms: 30_000,
    };
    let h = Holders::open(&srv.addr, n, STORM_CONCURRENCY, hold);
    let c = std::rc::Rc::clone(&h.counters);
    c.wait(Duration::from_secs(600), |c| {
        c.connected.get() + c.failed.get() >= n
    })
    .await?;
    let storm = t0.elapsed();
    c.wait(Duration::from_secs(120), |c| c.armed.get() >= n)
        .await?;
    let (mut setter, _) = proto::connect(&srv.addr, Duration::from_secs(30)).await?;
    let mut took = Vec::new();
    for round in 1..=ROUNDS {
        c.wait(Duration::from_secs(120), |c| c.armed.get() >= n * round)
            .await?;
        let mut out = BytesMut::new();
        proto::set_data(&mut out, round as i32, &path, b"w");
        let sent = Instant::now();
        setter.write_all(&out).await?;
        setter.flush().await?;
        c.wait(Duration::from_secs(120), |c| c.events.get() >= n * round)
            .await?;
        let last = c.last_event.get().unwrap_or(sent);
        took.push(last.duration_since(sent).as_secs_f64() * 1000.0);
        h.step();
    }
    let mut f = Figures::default();
    f.push(
        "connect storm",
        "/s",
        false,
        Some(n as f64 / storm.as_secs_f64()),
    );
    f.push(
        &format!("setData to last notification (median of {ROUNDS})"),
        "ms",
        true,
        table::median(&mut took),
    );
    f.notes.push(format!(
        "{}: {n} sessions, rounds {took:.1?} ms, {} sessions failed",
        imp.name(),
        c.failed.get()
    ));
    drop(h);
    super::finish(rc, &mut srv, &dir, &format!("fanout-{n}-{}", imp.name()));
    f.load1 = super::load1();
    Ok(f)
}
