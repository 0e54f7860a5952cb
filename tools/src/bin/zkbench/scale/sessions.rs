//! Sessions dimensions.
//!
//! - sessions: N sessions opened as a storm (`holders.rs`): the rate, the server's RSS
//!   growth per session, then each creates one ephemeral, the connections are dropped at
//!   once and the N sessions expire together;
//! - ephemerals: one session creates M ephemerals, its connection is dropped, and the
//!   session expires with all of them.
//!
//! During each expiry storm a probe (`probe.rs`, gets only) runs on other sessions, and a
//! poller sends one request after another (getChildren count of the ephemerals' parent, or
//! exists of one ephemeral). The storm's window is from the send of the last poll that still
//! saw every ephemeral to the answer of the first that saw none: the probe's p99 inside it
//! and outside it.

use super::holders::{Hold, Holders};
use super::probe::{self, Probe};
use super::table::{self, Figures};
use crate::load;
use crate::proto;
use crate::report::ReportCfg;
use crate::server::{self, Impl, Server};
use bytes::{Buf, BytesMut};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Session timeout of the sessions that are made to expire. (At Java's minimum, 4000 ms,
/// Java 3.8 on a loaded 2-core machine expired half of 10,000 sessions while the rest were
/// still connecting: load average 17, 2026-12-04.)
const EXPIRING_TIMEOUT_MS: i32 = 10_000;
const PROBE_SESSIONS: usize = 4;

/// One poll: sent, answered (seconds since the epoch), and what it saw.
pub type Poll = (f64, f64, u64);

/// From the send of the last poll that saw `full` (before the first that saw 0) to the
/// answer of the first that saw 0.
pub fn storm_window(polls: &[Poll], full: u64) -> Option<(f64, f64)> {
    let gone = polls.iter().position(|p| p.2 == 0)?;
    let last_full = polls[..gone].iter().rposition(|p| p.2 >= full)?;
    Some((polls[last_full].0, polls[gone].1))
}

enum Watcher {
    /// getChildren of this path: how many children.
    Count(Vec<u8>),
    /// exists of this path: 1 or 0.
    Exists(Vec<u8>),
}

/// Poll until the value is 0 (or `timeout`), one request at a time.
async fn poll_until_gone(addr: &str, what: &Watcher, timeout: Duration) -> io::Result<Vec<Poll>> {
    let (mut s, _) = proto::connect(addr, Duration::from_secs(30)).await?;
    let mut polls = Vec::new();
    let t0 = Instant::now();
    let mut out = BytesMut::new();
    for xid in 1.. {
        out.clear();
        match what {
            Watcher::Count(p) => proto::get_children(&mut out, xid, p),
            Watcher::Exists(p) => proto::exists(&mut out, xid, p, false),
        }
        let sent = probe::epoch_now();
        s.write_all(&out).await?;
        s.flush().await?;
        let body = proto::read_reply(&mut s, xid, 16..=64 << 20).await?;
        let err = proto::reply_header(&body).map_or(-1, |h| h.2);
        let v = match what {
            Watcher::Count(_) if err == 0 && body.len() >= 20 => {
                (&body[16..20]).get_i32().max(0) as u64
            }
            Watcher::Exists(_) if err == 0 => 1,
            _ => 0,
        };
        polls.push((sent, probe::epoch_now(), v));
        if v == 0 || t0.elapsed() > timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(polls)
}

/// Run the probe around `storm` (which starts the expiry), poll until the ephemerals are
/// gone, and add the storm's figures to `f`.
async fn expiry(
    addr: &str,
    root: &str,
    what: Watcher,
    full: u64,
    storm: impl FnOnce(),
    f: &mut Figures,
) -> io::Result<()> {
    let p = Probe::start(addr, &format!("{root}-probe"), PROBE_SESSIONS, 0).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    storm();
    let polls = poll_until_gone(addr, &what, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (samples, failed) = p.stop().await;
    let polls = polls?;
    let w = storm_window(&polls, full);
    let (mut during, mut without) = table::split_by_windows(&samples, w.as_slice());
    let p99 = |v: &mut Vec<f64>| table::quantile(v, 0.99).map(|us| us / 1000.0);
    f.push(
        "expiry window (last seen all to seen none)",
        "ms",
        true,
        w.map(|(a, b)| (b - a) * 1000.0),
    );
    f.push(
        "others' get p99 during expiry",
        "ms",
        true,
        p99(&mut during),
    );
    f.push("others' get p99 without", "ms", true, p99(&mut without));
    f.notes.push(format!(
        "{} probe gets ({} during the expiry), {failed} probe sessions failed, {} polls",
        samples.len(),
        during.len(),
        polls.len()
    ));
    Ok(())
}

async fn start(rc: &ReportCfg, imp: Impl, tag: &str) -> io::Result<(Server, std::path::PathBuf)> {
    let dir = server::fresh_dir(&format!("{}-{tag}", imp.name()))?;
    let mut srv = Server::start(&rc.spec, imp, &dir)?;
    srv.wait_serving(Duration::from_secs(120)).await?;
    Ok((srv, dir))
}

pub async fn sessions(rc: &ReportCfg, imp: Impl, n: u64) -> io::Result<Figures> {
    let n = n as usize;
    super::check_files(n + 256);
    let (mut srv, dir) = start(rc, imp, "sessions").await?;
    let parent = format!("{}-eph", rc.base.root);
    load::bulk_create(&srv.addr, &[parent.clone().into_bytes()], b"").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = srv.rss_kb().map_or(0, |r| r.0);
    eprintln!("zkbench: {} opening {n} sessions", imp.name());
    let t0 = Instant::now();
    let hold = Hold {
        watch: None,
        ephemeral_prefix: Some(format!("{parent}/e")),
        session_timeout_ms: EXPIRING_TIMEOUT_MS,
    };
    let h = Holders::open(&srv.addr, n, super::fanout::STORM_CONCURRENCY, hold);
    let c = std::rc::Rc::clone(&h.counters);
    c.wait(Duration::from_secs(600), |c| {
        c.connected.get() + c.failed.get() >= n
    })
    .await?;
    let storm = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = srv.rss_kb().map_or(0, |r| r.0);
    let mut f = Figures::default();
    f.push(
        "connect storm",
        "/s",
        false,
        Some(c.connected.get() as f64 / storm.as_secs_f64()),
    );
    f.push(
        "RSS growth per session",
        "B",
        true,
        Some(rss1.saturating_sub(rss0) as f64 * 1024.0 / n as f64),
    );
    h.step();
    c.wait(Duration::from_secs(300), |c| {
        c.armed.get() + c.failed.get() >= n
    })
    .await?;
    eprintln!("zkbench: {} dropping {n} sessions", imp.name());
    let what = Watcher::Count(parent.into_bytes());
    expiry(
        &srv.addr,
        &rc.base.root,
        what,
        n as u64,
        move || drop(h),
        &mut f,
    )
    .await?;
    f.notes = vec![format!(
        "{} {n} sessions: {}",
        imp.name(),
        f.notes.join("; ")
    )];
    super::finish(rc, &mut srv, &dir, &format!("sessions-{n}-{}", imp.name()));
    f.load1 = super::load1();
    Ok(f)
}

/// Create `paths` as ephemerals of the session on `s`, pipelined.
async fn create_ephemerals(s: &mut proto::Stream, paths: &[Vec<u8>]) -> io::Result<()> {
    let (mut next, mut done) = (0usize, 0usize);
    let (mut out, mut buf) = (BytesMut::new(), BytesMut::with_capacity(65536));
    while done < paths.len() {
        out.clear();
        while next < paths.len() && next - done < 256 {
            proto::create(&mut out, next as i32 + 1, &paths[next], b"", 1);
            next += 1;
        }
        s.write_all(&out).await?;
        s.flush().await?;
        if s.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut bad = None;
        let used = proto::for_each_frame(&buf, |fr| {
            if let Some((xid, _, err)) = proto::reply_header(fr) {
                if xid > 0 {
                    done += 1;
                    if err != 0 {
                        bad = Some(err);
                    }
                }
            }
        })?;
        buf.advance(used);
        if let Some(e) = bad {
            return Err(io::Error::other(format!(
                "create ephemeral: {}",
                proto::err_name(e)
            )));
        }
    }
    Ok(())
}

pub async fn ephemerals(rc: &ReportCfg, imp: Impl, m: u64) -> io::Result<Figures> {
    let (mut srv, dir) = start(rc, imp, "ephemerals").await?;
    let parent = format!("{}-eph1", rc.base.root);
    load::bulk_create(&srv.addr, &[parent.clone().into_bytes()], b"").await?;
    let paths: Vec<Vec<u8>> = (0..m)
        .map(|i| format!("{parent}/e{i}").into_bytes())
        .collect();
    let (mut s, _) =
        proto::connect_with(&srv.addr, Duration::from_secs(30), EXPIRING_TIMEOUT_MS).await?;
    eprintln!(
        "zkbench: {} creating {m} ephemerals of one session",
        imp.name()
    );
    create_ephemerals(&mut s, &paths).await?;
    let mut f = Figures::default();
    let last = paths
        .last()
        .cloned()
        .unwrap_or_else(|| parent.clone().into_bytes());
    expiry(
        &srv.addr,
        &rc.base.root,
        Watcher::Exists(last),
        1,
        move || drop(s),
        &mut f,
    )
    .await?;
    f.notes = vec![format!(
        "{} {m} ephemerals: {}",
        imp.name(),
        f.notes.join("; ")
    )];
    super::finish(
        rc,
        &mut srv,
        &dir,
        &format!("ephemerals-{m}-{}", imp.name()),
    );
    f.load1 = super::load1();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_from_last_full_to_first_empty() {
        let polls = [
            (1.0, 1.1, 10),
            (2.0, 2.1, 10),
            (3.0, 3.5, 4),
            (4.0, 4.2, 0),
            (5.0, 5.1, 0),
        ];
        assert_eq!(storm_window(&polls, 10), Some((2.0, 4.2)));
        assert_eq!(storm_window(&polls[..3], 10), None);
        // Gone before the first poll saw them all: no window.
        assert_eq!(storm_window(&[(1.0, 1.1, 0)], 1), None);
    }
}
