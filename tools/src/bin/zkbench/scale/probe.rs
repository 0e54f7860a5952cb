//! A small background load whose every request is kept with its send time: `sessions`
//! sessions, one request in flight each (closed loop), getData or setData of the session's own
//! znode, so that latencies can later be split by what the server was doing at the time (a
//! snapshot being written, sessions expiring). Runs on the caller's `LocalSet`.

use super::table::Sample;
use crate::load;
use crate::proto;
use bytes::BytesMut;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// Seconds since the epoch, as the samples and file times are kept.
pub fn epoch_now() -> f64 {
    epoch(SystemTime::now())
}

pub fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub struct Probe {
    samples: Rc<RefCell<Vec<Sample>>>,
    stop: Rc<Cell<bool>>,
    tasks: Vec<tokio::task::JoinHandle<io::Result<()>>>,
}

impl Probe {
    /// Create `<root>/p<i>` for each session and start the sessions; every `set_every`-th
    /// request of a session is a setData (0: gets only).
    pub async fn start(
        addr: &str,
        root: &str,
        sessions: usize,
        set_every: u32,
    ) -> io::Result<Probe> {
        let paths: Vec<Vec<u8>> = (0..sessions)
            .map(|i| format!("{root}/p{i}").into_bytes())
            .collect();
        load::bulk_create(addr, &[root.as_bytes().to_vec()], b"").await?;
        load::bulk_create(addr, &paths, &[b'p'; 100]).await?;
        let samples = Rc::new(RefCell::new(Vec::new()));
        let stop = Rc::new(Cell::new(false));
        let mut tasks = Vec::new();
        for p in paths {
            let (s, _) = proto::connect(addr, Duration::from_secs(30)).await?;
            let (samples, stop) = (Rc::clone(&samples), Rc::clone(&stop));
            tasks.push(tokio::task::spawn_local(session(
                s, p, set_every, samples, stop,
            )));
        }
        Ok(Probe {
            samples,
            stop,
            tasks,
        })
    }

    /// Stop the sessions and return every sample (sessions whose connection failed are noted
    /// in the error count).
    pub async fn stop(self) -> (Vec<Sample>, usize) {
        self.stop.set(true);
        let mut failed = 0;
        for t in self.tasks {
            if !matches!(t.await, Ok(Ok(()))) {
                failed += 1;
            }
        }
        let v = std::mem::take(&mut *self.samples.borrow_mut());
        (v, failed)
    }
}

async fn session(
    mut s: proto::Stream,
    path: Vec<u8>,
    set_every: u32,
    samples: Rc<RefCell<Vec<Sample>>>,
    stop: Rc<Cell<bool>>,
) -> io::Result<()> {
    let mut out = BytesMut::new();
    let value = [b'q'; 100];
    let mut xid = 0i32;
    while !stop.get() {
        xid += 1;
        out.clear();
        if set_every > 0 && (xid as u32).is_multiple_of(set_every) {
            proto::set_data(&mut out, xid, &path, &value);
        } else {
            proto::get_data(&mut out, xid, &path, false);
        }
        let sent = epoch_now();
        let t0 = Instant::now();
        s.write_all(&out).await?;
        s.flush().await?;
        proto::read_reply(&mut s, xid, 16..=1 << 20).await?;
        samples
            .borrow_mut()
            .push((sent, t0.elapsed().as_secs_f64() * 1e6));
    }
    out.clear();
    proto::close_session(&mut out, xid + 1);
    let _ = s.write_all(&out).await;
    Ok(())
}
