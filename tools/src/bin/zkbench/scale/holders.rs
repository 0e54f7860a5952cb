//! Many sessions held open from this one process (one task each on the current-thread
//! runtime): opened as a storm (at most `concurrency` handshakes at a time), each optionally
//! keeping a data watch on one path (set at once, and again on each `step`, not on each
//! notification, so that re-arming does not load the server while the notifications of a
//! round are still going out) and creating one ephemeral znode (at the first `step`), pinging at a third of the session timeout, and counting notifications.
//! Dropping the `Holders` (or `abandon`) closes every socket without closing the sessions, so
//! they expire on the server. Needs a file limit above the session count (`ulimit -n`).

use crate::proto;
use bytes::{Buf, BytesMut};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Notify, Semaphore};

/// What every held session does once connected.
#[derive(Clone, Default)]
pub struct Hold {
    /// Keep a data watch (getData with watch) on this path.
    pub watch: Option<Vec<u8>>,
    /// Create the ephemeral `<prefix><i>` at the first `step`.
    pub ephemeral_prefix: Option<String>,
    pub session_timeout_ms: i32,
}

#[derive(Default)]
pub struct Counters {
    pub connected: Cell<usize>,
    /// Watches set (getData replies) and ephemerals created, in all.
    pub armed: Cell<usize>,
    pub events: Cell<usize>,
    pub last_event: Cell<Option<Instant>>,
    pub failed: Cell<usize>,
    pub changed: Notify,
}

impl Counters {
    fn bump(&self, c: &Cell<usize>) {
        c.set(c.get() + 1);
        self.changed.notify_waiters();
    }

    /// Wait until `what(self)` holds, or fail after `timeout`.
    pub async fn wait(
        &self,
        timeout: Duration,
        what: impl Fn(&Counters) -> bool,
    ) -> io::Result<()> {
        let t0 = Instant::now();
        while !what(self) {
            let left = timeout.saturating_sub(t0.elapsed());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "sessions: {} connected, {} armed, {} events, {} failed after {timeout:?}",
                        self.connected.get(),
                        self.armed.get(),
                        self.events.get(),
                        self.failed.get()
                    ),
                ));
            }
            // Counters change from other tasks; poll often enough not to miss a wake-up.
            let _ =
                tokio::time::timeout(left.min(Duration::from_millis(20)), self.changed.notified())
                    .await;
        }
        Ok(())
    }
}

pub struct Holders {
    pub counters: Rc<Counters>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    steps: watch::Sender<usize>,
}

impl Holders {
    /// Start `n` sessions on `addr`; returns at once (see `counters` for progress).
    pub fn open(addr: &str, n: usize, concurrency: usize, hold: Hold) -> Holders {
        let counters = Rc::new(Counters::default());
        let gate = Rc::new(Semaphore::new(concurrency.max(1)));
        let (steps, rx) = watch::channel(0);
        let tasks = (0..n)
            .map(|i| {
                let (addr, hold, rx) = (addr.to_string(), hold.clone(), rx.clone());
                let (c, gate) = (Rc::clone(&counters), Rc::clone(&gate));
                tokio::task::spawn_local(async move {
                    if session(&addr, i, &hold, &c, &gate, rx).await.is_err() {
                        c.bump(&c.failed);
                    }
                })
            })
            .collect();
        Holders {
            counters,
            tasks,
            steps,
        }
    }

    /// Every session takes its next step: sets its watch again, creates its ephemeral if it
    /// has none yet.
    pub fn step(&self) {
        self.steps.send_modify(|g| *g += 1);
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn session(
    addr: &str,
    i: usize,
    hold: &Hold,
    c: &Counters,
    gate: &Semaphore,
    mut steps: watch::Receiver<usize>,
) -> io::Result<()> {
    let mut s = {
        let _permit = gate.acquire().await.map_err(io::Error::other)?;
        proto::connect_with(addr, Duration::from_secs(120), hold.session_timeout_ms)
            .await?
            .0
    };
    c.bump(&c.connected);
    let mut out = BytesMut::new();
    let mut ephemeral = hold.ephemeral_prefix.as_ref().map(|p| format!("{p}{i}"));
    if let Some(w) = &hold.watch {
        proto::get_data(&mut out, 1, w, true);
    }
    s.write_all(&out).await?;
    s.flush().await?;
    let ping_every = Duration::from_millis(hold.session_timeout_ms.max(3) as u64 / 3);
    let mut buf = BytesMut::with_capacity(4096);
    steps.mark_unchanged();
    loop {
        let read = tokio::select! {
            r = tokio::time::timeout(ping_every, s.read_buf(&mut buf)) => r,
            ch = steps.changed() => {
                if ch.is_err() {
                    // The Holders are gone (the task is being aborted).
                    std::future::pending::<()>().await;
                }
                out.clear();
                if let Some(w) = &hold.watch {
                    proto::get_data(&mut out, 1, w, true);
                }
                if let Some(p) = ephemeral.take() {
                    proto::create(&mut out, 2, p.as_bytes(), b"", 1);
                }
                s.write_all(&out).await?;
                s.flush().await?;
                continue;
            }
        };
        match read {
            Err(_) => {
                out.clear();
                proto::ping(&mut out);
                s.write_all(&out).await?;
                s.flush().await?;
                continue;
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(Ok(_)) => {}
        }
        out.clear();
        let used = proto::for_each_frame(&buf, |f| match proto::reply_header(f) {
            Some((-1, _, _)) => {
                c.last_event.set(Some(Instant::now()));
                c.bump(&c.events);
            }
            Some((1 | 2, _, 0)) => c.bump(&c.armed),
            Some((1 | 2, _, e)) => {
                c.bump(&c.failed);
                eprintln!("zkbench: held session: {}", proto::err_name(e));
            }
            _ => {}
        })?;
        buf.advance(used);
        if !out.is_empty() {
            s.write_all(&out).await?;
            s.flush().await?;
        }
    }
}
