//! The load generator: N sessions on one thread, each keeping `depth` requests in flight,
//! spread round-robin over one or more server addresses (the client ports of an ensemble).
//!
//! Everything runs on one current-thread tokio runtime inside a `LocalSet`, so the shared
//! state is plain `Cell`/`RefCell` (no atomics, no locks). Each session owns its socket and two
//! buffers that are reused for its whole life: replies are parsed in place and new requests are
//! encoded straight into the write buffer, one `write` per wake-up. The clock is read once per
//! wake-up and serves both as the receive time of the replies just read and as the send time
//! of the requests that replace them.
//!
//! With a `rate` (open loop) the sessions do not wait for replies to send more: each sends on
//! its own fixed schedule (total `rate` ops/s, the sessions' schedules staggered), `depth` only
//! caps what a session has in flight. Latency is still reply time minus send time; a server
//! that cannot keep up shows as an achieved rate below the offered one.

use crate::proto;
use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Create,
    Set,
    Get,
    Mix,
    Exists,
    Watch,
    Ephemeral,
    /// New connections per second: connect (and TLS with `--tls`), open a session, close it
    /// and wait for the server's answer; one at a time per session.
    Handshakes,
    /// Create this many persistent znodes `<root>/n<i>` (no warmup, no time limit).
    Load(u64),
}

impl Workload {
    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "create" => Workload::Create,
            "set" => Workload::Set,
            "get" => Workload::Get,
            "mix" => Workload::Mix,
            "exists" => Workload::Exists,
            "watch" => Workload::Watch,
            "ephemeral" => Workload::Ephemeral,
            "handshakes" => Workload::Handshakes,
            _ => return None,
        })
    }
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mix => "mix",
            Workload::Exists => "exists",
            Workload::Watch => "watch",
            Workload::Ephemeral => "ephemeral",
            Workload::Handshakes => "handshakes",
            Workload::Load(_) => "load",
        }
    }
    pub const ALL: [&'static str; 7] = [
        "create",
        "set",
        "get",
        "mix",
        "exists",
        "watch",
        "ephemeral",
    ];
}

#[derive(Clone, Debug)]
pub struct BenchCfg {
    /// Servers to load: session i connects to `addrs[i % len]`; setup goes through the first.
    pub addrs: Vec<String>,
    pub workload: Workload,
    pub sessions: usize,
    pub depth: usize,
    pub read_pct: u32,
    pub value_size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub keys: usize,
    pub root: String,
    pub progress: bool,
    pub label: String,
    /// The servers' pids, when known: their CPU time over the measured window is reported
    /// (summed over all of them).
    pub server_pids: Vec<u32>,
    /// Open loop: offer this many ops/s in all (create, set, get, mix, exists, ephemeral
    /// creates), instead of keeping `depth` requests in flight per session.
    pub rate: Option<f64>,
    /// Lengths (min, max) of the names the `load` workload creates; (0, 0): `n<i>`.
    pub name_len: (usize, usize),
}

/// The name of the `i`-th znode of the `load` workload: `n<i>`, or with `len` = (min, max)
/// not (0, 0) a user-like name of min..=max bytes (`u<i>-` then hex digits of a hash of i),
/// the length picked from a hash of i.
pub fn load_name(i: u64, len: (usize, usize)) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = write!(s, "{}{i}", if len == (0, 0) { "n" } else { "u" });
    if len == (0, 0) {
        return s;
    }
    let mut h = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let (min, max) = (len.0.min(len.1), len.0.max(len.1));
    let target = min + (next_rand(&mut h) as usize) % (max - min + 1);
    s.push('-');
    // (Never shorter than `u<i>-`: names stay distinct.)
    let target = target.max(s.len());
    while s.len() < target {
        let _ = write!(s, "{:016x}", next_rand(&mut h));
    }
    s.truncate(target);
    s
}

/// What one run measured.
pub struct RunResult {
    pub workload: String,
    pub sessions: usize,
    pub depth: usize,
    /// The offered rate of an open-loop run (ops/s, all sessions).
    pub rate: Option<f64>,
    /// Completed operations inside the measured window (for `watch`: events received).
    pub ops: u64,
    pub secs: f64,
    /// Latencies in nanoseconds.
    pub hist: Histogram<u64>,
    pub errors: BTreeMap<i32, u64>,
    /// Sessions whose connection failed during the run.
    pub disconnects: u64,
    /// Requests that were in flight on a failed connection.
    pub lost: u64,
    /// Sessions still waiting for replies 10 s after the end of the run.
    pub stuck: u64,
    /// Completions per second during the measured window.
    pub per_sec: Vec<u64>,
    /// The first few failure messages.
    pub notes: Vec<String>,
    /// CPU seconds (user + system) used in the measured window by the servers (if their
    /// pids were given, summed) and by this process.
    pub server_cpu: Option<f64>,
    pub client_cpu: Option<f64>,
}

impl RunResult {
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }
    /// A quantile in microseconds.
    pub fn q_us(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
    pub fn max_us(&self) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.max() as f64 / 1000.0
    }
    /// CPU microseconds per completed op, of the server and of the client.
    pub fn cpu_us_per_op(&self, cpu: Option<f64>) -> Option<f64> {
        if self.ops == 0 {
            return None;
        }
        cpu.map(|c| c * 1e6 / self.ops as f64)
    }
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
    /// Whole seconds of the measured window in which nothing completed.
    pub fn zero_secs(&self) -> usize {
        self.per_sec.iter().filter(|&&n| n == 0).count()
    }
    pub fn errors_text(&self) -> String {
        let mut s = String::new();
        for (code, n) in &self.errors {
            if !s.is_empty() {
                s.push_str(", ");
            }
            let _ = write!(s, "{}({code})×{n}", proto::err_name(*code));
        }
        s
    }
}

/// User + system CPU seconds of a process, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let s = std::fs::read_to_string(path).ok()?;
    // fields after the parenthesised command: state is field 3; utime, stime are 14, 15
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

/// CPU seconds summed over `pids` (None if there are none or one cannot be read).
fn servers_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| cpu_seconds(Some(p))).sum()
}

pub fn new_hist() -> Histogram<u64> {
    // 1 ns .. 10 min at 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("histogram bounds")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain(Workload),
    Watcher,
    Setter,
}

#[derive(Clone, Copy)]
enum Kind {
    Op,
    EphCreate(u64),
    EphDelete,
    Rearm(usize),
    WatchSet,
}

struct Pending {
    xid: i32,
    sent: Instant,
    kind: Kind,
}

struct Shared {
    phase: Cell<Phase>,
    keys: Vec<Vec<u8>>,
    watch_paths: Vec<Vec<u8>>,
    value: Vec<u8>,
    root: String,
    /// Distinguishes this run's znode names from earlier runs' on the same server.
    run_id: u32,
    read_pct: u32,
    depth: usize,
    /// Open loop: the time between two sends of one session.
    send_every: Option<Duration>,
    load_next: Cell<u64>,
    load_total: u64,
    name_len: (usize, usize),
    hist: RefCell<Histogram<u64>>,
    sec_hist: RefCell<Histogram<u64>>,
    ops: Cell<u64>,
    total: Cell<u64>,
    errors: RefCell<BTreeMap<i32, u64>>,
    disconnects: Cell<u64>,
    lost: Cell<u64>,
    notes: RefCell<Vec<String>>,
    // watch workload
    armed: RefCell<Vec<u32>>,
    set_sent: RefCell<Vec<Instant>>,
    ready: RefCell<VecDeque<usize>>,
    watchers: u32,
    notify: Notify,
}

impl Shared {
    #[inline]
    fn complete(&self, latency: Duration) {
        self.total.set(self.total.get() + 1);
        if self.phase.get() == Phase::Measure {
            let ns = latency.as_nanos().max(1) as u64;
            self.hist.borrow_mut().saturating_record(ns);
            self.sec_hist.borrow_mut().saturating_record(ns);
            self.ops.set(self.ops.get() + 1);
        }
    }
    fn error(&self, code: i32) {
        *self.errors.borrow_mut().entry(code).or_insert(0) += 1;
    }
    fn note(&self, msg: String) {
        let mut n = self.notes.borrow_mut();
        if n.len() < 20 {
            n.push(msg);
        }
    }
}

/// A fast non-cryptographic generator (xorshift64*), seeded per session.
#[inline]
fn next_rand(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

struct Sess {
    id: usize,
    role: Role,
    stream: proto::Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    xid: i32,
    pending: VecDeque<Pending>,
    rng: u64,
    counter: u64,
    path: String,
    last_send: Instant,
    /// Open loop: when this session's next request is due.
    next_due: Instant,
    sh: Rc<Shared>,
}

impl Sess {
    #[inline]
    fn next_xid(&mut self) -> i32 {
        self.xid = if self.xid >= i32::MAX - 1 {
            1
        } else {
            self.xid + 1
        };
        self.xid
    }

    fn push(&mut self, now: Instant, kind: Kind) {
        self.pending.push_back(Pending {
            xid: self.xid,
            sent: now,
            kind,
        });
    }

    /// Issue one new request of this session's workload.
    fn issue(&mut self, now: Instant) {
        let sh = Rc::clone(&self.sh);
        let Role::Plain(w) = self.role else {
            return;
        };
        let xid = self.next_xid();
        match w {
            Workload::Get | Workload::Exists | Workload::Set | Workload::Mix => {
                let r = next_rand(&mut self.rng);
                let key = &sh.keys[(r % sh.keys.len() as u64) as usize];
                let read = match w {
                    Workload::Get | Workload::Exists => true,
                    Workload::Set => false,
                    _ => ((r >> 32) % 100) < sh.read_pct as u64,
                };
                if !read {
                    proto::set_data(&mut self.wbuf, xid, key, &sh.value);
                } else if w == Workload::Exists {
                    proto::exists(&mut self.wbuf, xid, key, false);
                } else {
                    proto::get_data(&mut self.wbuf, xid, key, false);
                }
                self.push(now, Kind::Op);
            }
            Workload::Create => {
                self.path.clear();
                let _ = write!(
                    self.path,
                    "{}/c{:x}-{}-{}",
                    sh.root, sh.run_id, self.id, self.counter
                );
                self.counter += 1;
                proto::create(&mut self.wbuf, xid, self.path.as_bytes(), &sh.value, 0);
                self.push(now, Kind::Op);
            }
            Workload::Ephemeral => {
                let n = self.counter;
                self.counter += 1;
                self.path.clear();
                let _ = write!(self.path, "{}/e{:x}-{}-{}", sh.root, sh.run_id, self.id, n);
                proto::create(&mut self.wbuf, xid, self.path.as_bytes(), &sh.value, 1);
                self.push(now, Kind::EphCreate(n));
            }
            Workload::Load(_) => {
                let n = sh.load_next.get();
                sh.load_next.set(n + 1);
                self.path.clear();
                let _ = write!(self.path, "{}/{}", sh.root, load_name(n, sh.name_len));
                proto::create(&mut self.wbuf, xid, self.path.as_bytes(), &sh.value, 0);
                self.push(now, Kind::Op);
            }
            // Their own loops (`handshakes`, the watch roles) send these.
            Workload::Watch | Workload::Handshakes => {}
        }
    }

    /// Whether this session may start new requests now.
    fn may_issue(&self) -> bool {
        match self.sh.phase.get() {
            Phase::Stop => false,
            _ => match self.role {
                Role::Plain(Workload::Load(_)) => self.sh.load_next.get() < self.sh.load_total,
                _ => true,
            },
        }
    }

    fn fill(&mut self, now: Instant) {
        if !matches!(self.role, Role::Plain(_)) {
            return;
        }
        match self.sh.send_every {
            None => {
                while self.pending.len() < self.sh.depth && self.may_issue() {
                    self.issue(now);
                }
            }
            Some(every) => {
                // Late sends (timer granularity, the depth cap) catch up at once.
                while self.next_due <= now && self.pending.len() < self.sh.depth && self.may_issue()
                {
                    self.issue(now);
                    self.next_due += every;
                }
            }
        }
    }

    /// Open loop: this session will send when its next send is due (the depth cap allows
    /// it and the run is not over).
    fn paced(&self) -> bool {
        self.sh.send_every.is_some()
            && matches!(self.role, Role::Plain(_))
            && self.pending.len() < self.sh.depth
            && self.may_issue()
    }

    fn rearm(&mut self, now: Instant, j: usize) {
        let sh = Rc::clone(&self.sh);
        let xid = self.next_xid();
        proto::get_data(&mut self.wbuf, xid, &sh.watch_paths[j], true);
        self.push(now, Kind::Rearm(j));
    }

    fn setter_send_ready(&mut self, now: Instant) {
        let sh = Rc::clone(&self.sh);
        loop {
            if sh.phase.get() == Phase::Stop {
                sh.ready.borrow_mut().clear();
                return;
            }
            let Some(j) = sh.ready.borrow_mut().pop_front() else {
                return;
            };
            sh.armed.borrow_mut()[j] = 0;
            sh.set_sent.borrow_mut()[j] = now;
            let xid = self.next_xid();
            proto::set_data(&mut self.wbuf, xid, &sh.watch_paths[j], &sh.value);
            self.push(now, Kind::WatchSet);
        }
    }

    fn on_frame(&mut self, frame: &[u8], now: Instant) -> io::Result<()> {
        let Some((xid, _zxid, err)) = proto::reply_header(frame) else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short reply"));
        };
        if xid == jute::ops::XID_PING {
            return Ok(());
        }
        let sh = Rc::clone(&self.sh);
        if xid == jute::ops::XID_NOTIFICATION {
            if self.role != Role::Watcher {
                return Ok(());
            }
            let Some((_typ, path)) = proto::watcher_event(frame) else {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad event"));
            };
            let Some(j) = trailing_number(path) else {
                return Ok(());
            };
            if j >= sh.watch_paths.len() {
                return Ok(());
            }
            let sent = sh.set_sent.borrow()[j];
            sh.complete(now.saturating_duration_since(sent));
            if sh.phase.get() != Phase::Stop {
                self.rearm(now, j);
            }
            return Ok(());
        }
        let Some(p) = self.pending.pop_front() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply xid {xid} with nothing outstanding"),
            ));
        };
        if p.xid != xid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply xid {xid}, expected {} (out of order)", p.xid),
            ));
        }
        if err != 0 {
            sh.error(err);
        }
        match p.kind {
            Kind::Op => sh.complete(now - p.sent),
            Kind::EphCreate(n) => {
                sh.complete(now - p.sent);
                if err == 0 && sh.phase.get() != Phase::Stop {
                    self.path.clear();
                    let _ = write!(self.path, "{}/e{:x}-{}-{}", sh.root, sh.run_id, self.id, n);
                    let xid = self.next_xid();
                    proto::delete(&mut self.wbuf, xid, self.path.as_bytes());
                    self.push(now, Kind::EphDelete);
                }
            }
            Kind::EphDelete => sh.complete(now - p.sent),
            Kind::Rearm(j) => {
                let mut armed = sh.armed.borrow_mut();
                armed[j] += 1;
                if armed[j] == sh.watchers {
                    sh.ready.borrow_mut().push_back(j);
                    sh.notify.notify_one();
                }
            }
            Kind::WatchSet => {}
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.pending.is_empty() && !self.may_issue_more()
    }

    fn may_issue_more(&self) -> bool {
        match self.role {
            Role::Plain(_) => self.may_issue(),
            _ => self.sh.phase.get() != Phase::Stop,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await?;
            self.wbuf.clear();
            self.last_send = Instant::now();
        }
        Ok(())
    }

    async fn run(mut self) {
        let sh = Rc::clone(&self.sh);
        let r = self.run_inner().await;
        match r {
            Ok(()) => {
                // Close the session politely so that ephemerals and watches go at once.
                let xid = self.next_xid();
                proto::close_session(&mut self.wbuf, xid);
                let _ = tokio::time::timeout(Duration::from_secs(3), async {
                    self.flush().await?;
                    loop {
                        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                            self.rbuf.reserve(16384);
                        }
                        if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                            return Ok::<_, io::Error>(());
                        }
                        let mut done = false;
                        let n = proto::for_each_frame(&self.rbuf, |f| {
                            if let Some((x, _, _)) = proto::reply_header(f) {
                                done |= x == xid;
                            }
                        })?;
                        self.rbuf.advance(n);
                        if done {
                            return Ok(());
                        }
                    }
                })
                .await;
            }
            Err(e) => {
                sh.disconnects.set(sh.disconnects.get() + 1);
                sh.lost.set(sh.lost.get() + self.pending.len() as u64);
                sh.note(format!("session {}: {e}", self.id));
            }
        }
    }

    async fn run_inner(&mut self) -> io::Result<()> {
        let sh = Rc::clone(&self.sh);
        let now = Instant::now();
        match self.role {
            Role::Watcher => {
                for j in 0..sh.watch_paths.len() {
                    self.rearm(now, j);
                }
            }
            Role::Setter => {}
            Role::Plain(_) => self.fill(now),
        }
        self.flush().await?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let is_setter = self.role == Role::Setter;
        loop {
            if self.finished() {
                return Ok(());
            }
            if self.rbuf.capacity() - self.rbuf.len() < 16384 {
                self.rbuf.reserve(65536);
            }
            tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.rbuf) => {
                    if r? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("server closed the connection with {} requests outstanding",
                                self.pending.len()),
                        ));
                    }
                    let now = Instant::now();
                    let rbuf = std::mem::take(&mut self.rbuf);
                    let mut res = Ok(());
                    let consumed = proto::for_each_frame(&rbuf, |f| {
                        if res.is_ok() {
                            res = self.on_frame(f, now);
                        }
                    });
                    self.rbuf = rbuf;
                    res?;
                    self.rbuf.advance(consumed?);
                    self.fill(now);
                    if is_setter {
                        self.setter_send_ready(now);
                    }
                    self.flush().await?;
                }
                _ = tokio::time::sleep_until(self.next_due.into()), if self.paced() => {
                    self.fill(Instant::now());
                    self.flush().await?;
                }
                _ = sh.notify.notified(), if is_setter => {
                    self.setter_send_ready(Instant::now());
                    self.flush().await?;
                }
                _ = tick.tick() => {
                    if self.last_send.elapsed() > Duration::from_secs(5) {
                        proto::ping(&mut self.wbuf);
                        self.flush().await?;
                    }
                }
            }
        }
    }
}

/// The `handshakes` workload of one session slot: connect, open a session, close it, again,
/// until the run stops. A failure counts as a disconnect and the loop goes on.
async fn handshakes(addr: String, sh: Rc<Shared>) {
    while sh.phase.get() != Phase::Stop {
        let t0 = Instant::now();
        let cycle = async {
            let (mut s, _) = proto::connect(&addr, Duration::from_secs(10)).await?;
            let mut out = BytesMut::new();
            proto::close_session(&mut out, 1);
            s.write_all(&out).await?;
            s.flush().await?;
            let mut rbuf = BytesMut::with_capacity(256);
            // The server answers the close and then closes the connection.
            loop {
                if s.read_buf(&mut rbuf).await? == 0 {
                    return Ok::<_, io::Error>(());
                }
                let mut done = false;
                let n = proto::for_each_frame(&rbuf, |f| {
                    done |= matches!(proto::reply_header(f), Some((1, _, _)));
                })?;
                rbuf.advance(n);
                if done {
                    return Ok(());
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), cycle).await {
            Ok(Ok(())) => sh.complete(t0.elapsed()),
            Ok(Err(e)) => {
                sh.disconnects.set(sh.disconnects.get() + 1);
                sh.note(format!("handshake: {e}"));
            }
            Err(_) => {
                sh.disconnects.set(sh.disconnects.get() + 1);
                sh.note("handshake: timed out".to_string());
            }
        }
    }
}

fn run_id() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

fn trailing_number(path: &[u8]) -> Option<usize> {
    let start = path.iter().rposition(|b| !b.is_ascii_digit())? + 1;
    std::str::from_utf8(&path[start..]).ok()?.parse().ok()
}

/// Create `paths` (ignoring "already exists") through one pipelined session.
pub async fn bulk_create(addr: &str, paths: &[Vec<u8>], value: &[u8]) -> io::Result<()> {
    let (mut s, _) = proto::connect(addr, Duration::from_secs(10)).await?;
    let mut wbuf = BytesMut::with_capacity(65536);
    let mut rbuf = BytesMut::with_capacity(65536);
    let mut next = 0usize;
    let mut outstanding = 0usize;
    let mut failure = None;
    while next < paths.len() || outstanding > 0 {
        while next < paths.len() && outstanding < 256 {
            proto::create(&mut wbuf, next as i32 + 1, &paths[next], value, 0);
            next += 1;
            outstanding += 1;
        }
        s.write_all(&wbuf).await?;
        s.flush().await?;
        wbuf.clear();
        if rbuf.capacity() - rbuf.len() < 16384 {
            rbuf.reserve(65536);
        }
        if s.read_buf(&mut rbuf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the setup session",
            ));
        }
        let n = proto::for_each_frame(&rbuf, |f| {
            if let Some((xid, _, err)) = proto::reply_header(f) {
                if xid > 0 {
                    outstanding -= 1;
                    if err != 0 && err != proto::ERR_NODEEXISTS && failure.is_none() {
                        failure = Some(format!(
                            "setup create {} failed: {} ({err})",
                            String::from_utf8_lossy(&paths[xid as usize - 1]),
                            proto::err_name(err)
                        ));
                    }
                }
            }
        })?;
        rbuf.advance(n);
    }
    let mut out = BytesMut::new();
    proto::close_session(&mut out, i32::MAX);
    if s.write_all(&out).await.is_ok() {
        let _ = s.flush().await;
    }
    match failure {
        Some(f) => Err(io::Error::other(f)),
        None => Ok(()),
    }
}

/// Parent folders of `root` and `root` itself, shallowest first.
fn root_chain(root: &str) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for (i, c) in root.char_indices().skip(1) {
        if c == '/' {
            v.push(root.as_bytes()[..i].to_vec());
        }
    }
    v.push(root.as_bytes().to_vec());
    v
}

/// Wait until getData(`path`) succeeds on every one of `addrs` (a follower may apply the
/// setup's last create a moment after the node it went through answered it).
async fn wait_seen(addrs: &[String], path: &[u8]) -> io::Result<()> {
    let path = String::from_utf8_lossy(path);
    for a in addrs {
        let (timeout, every) = (Duration::from_secs(10), Duration::from_millis(10));
        proto::wait_for_path(a, &path, timeout, every, || Ok(())).await?;
    }
    Ok(())
}

/// Run one workload against `cfg.addrs`. Must be called inside a `LocalSet`.
pub async fn run(cfg: &BenchCfg) -> io::Result<RunResult> {
    let value = vec![b'x'; cfg.value_size];
    let sessions = cfg.sessions.max(1);
    let depth = cfg.depth.max(1);
    let Some(setup_addr) = cfg.addrs.first() else {
        return Err(io::Error::other("no server address"));
    };
    // Setup: the root, then the keys / watched nodes the workload uses.
    for p in root_chain(&cfg.root) {
        bulk_create(setup_addr, &[p], b"").await?;
    }
    let keys: Vec<Vec<u8>> = (0..cfg.keys.max(1))
        .map(|i| format!("{}/k{i}", cfg.root).into_bytes())
        .collect();
    let watch_paths: Vec<Vec<u8>> = (0..depth)
        .map(|j| format!("{}/w{j}", cfg.root).into_bytes())
        .collect();
    let last_setup = match cfg.workload {
        Workload::Set | Workload::Get | Workload::Mix | Workload::Exists => {
            bulk_create(setup_addr, &keys, &value).await?;
            keys.last()
        }
        Workload::Watch => {
            bulk_create(setup_addr, &watch_paths, &value).await?;
            watch_paths.last()
        }
        _ => None,
    };
    if cfg.addrs.len() > 1 {
        let root = cfg.root.as_bytes();
        wait_seen(&cfg.addrs[1..], last_setup.map_or(root, |p| p)).await?;
    }
    let (load_total, is_load) = match cfg.workload {
        Workload::Load(n) => (n, true),
        _ => (0, false),
    };
    let watchers = if cfg.workload == Workload::Watch {
        sessions.max(2) - 1
    } else {
        0
    };
    let start_time = Instant::now();
    let rate = cfg.rate.filter(|r| *r > 0.0);
    let send_every = rate.map(|r| Duration::from_secs_f64(sessions as f64 / r));
    let sh = Rc::new(Shared {
        phase: Cell::new(if is_load {
            Phase::Measure
        } else {
            Phase::Warmup
        }),
        keys,
        watch_paths,
        value,
        root: cfg.root.clone(),
        run_id: run_id(),
        read_pct: cfg.read_pct.min(100),
        depth,
        send_every,
        load_next: Cell::new(0),
        load_total,
        name_len: cfg.name_len,
        hist: RefCell::new(new_hist()),
        sec_hist: RefCell::new(new_hist()),
        ops: Cell::new(0),
        total: Cell::new(0),
        errors: RefCell::new(BTreeMap::new()),
        disconnects: Cell::new(0),
        lost: Cell::new(0),
        notes: RefCell::new(Vec::new()),
        armed: RefCell::new(vec![0; depth]),
        set_sent: RefCell::new(vec![start_time; depth]),
        ready: RefCell::new(VecDeque::new()),
        watchers: watchers as u32,
        notify: Notify::new(),
    });
    let n_sess = if cfg.workload == Workload::Watch {
        watchers + 1
    } else {
        sessions
    };
    let mut handles = Vec::with_capacity(n_sess);
    for id in 0..n_sess {
        if cfg.workload == Workload::Handshakes {
            let addr = cfg.addrs[id % cfg.addrs.len()].clone();
            handles.push(tokio::task::spawn_local(handshakes(addr, Rc::clone(&sh))));
            continue;
        }
        let (stream, sid) =
            proto::connect(&cfg.addrs[id % cfg.addrs.len()], Duration::from_secs(10)).await?;
        let role = match cfg.workload {
            Workload::Watch if id == 0 => Role::Setter,
            Workload::Watch => Role::Watcher,
            w => Role::Plain(w),
        };
        let sess = Sess {
            id,
            role,
            stream,
            rbuf: BytesMut::with_capacity(65536),
            wbuf: BytesMut::with_capacity(16384),
            xid: 0,
            pending: VecDeque::with_capacity(depth * 2 + 4),
            rng: (sid as u64 ^ 0x9E37_79B9_7F4A_7C15).wrapping_add(id as u64 * 7919) | 1,
            counter: 0,
            path: String::with_capacity(64),
            last_send: Instant::now(),
            // Staggered: session i starts i/sessions of an interval late.
            next_due: start_time + send_every.unwrap_or_default() * id as u32 / n_sess as u32,
            sh: Rc::clone(&sh),
        };
        handles.push(tokio::task::spawn_local(sess.run()));
    }

    // Progress, once a second, on stderr; also the per-second series of the measured window.
    let series = Rc::new(RefCell::new(Vec::<u64>::new()));
    let progress = {
        let sh = Rc::clone(&sh);
        let label = cfg.label.clone();
        let show = cfg.progress;
        tokio::task::spawn_local(async move {
            let t0 = Instant::now();
            let mut iv = tokio::time::interval(Duration::from_secs(1));
            iv.tick().await;
            let mut last_total = 0;
            loop {
                iv.tick().await;
                let total = sh.total.get();
                let phase = sh.phase.get();
                let p99 = {
                    let mut h = sh.sec_hist.borrow_mut();
                    let v = if h.is_empty() {
                        0.0
                    } else {
                        h.value_at_quantile(0.99) as f64 / 1000.0
                    };
                    h.reset();
                    v
                };
                if show {
                    let what = match phase {
                        Phase::Warmup => "warmup",
                        Phase::Measure if is_load => "loading",
                        Phase::Measure => "measure",
                        Phase::Stop => "draining",
                    };
                    let errs: u64 = sh.errors.borrow().values().sum();
                    let extra = if is_load {
                        format!(
                            " {}/{}",
                            sh.load_next.get().min(sh.load_total),
                            sh.load_total
                        )
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "[{label}] {:>4}s {what:<8} {:>9} ops/s  p99 {:>9.1} µs  errors {errs}  disconnects {}{extra}",
                        t0.elapsed().as_secs(),
                        total - last_total,
                        p99,
                        sh.disconnects.get(),
                    );
                }
                last_total = total;
            }
        })
    };

    let mut measure_start = Instant::now();
    let mut cpu0 = (servers_cpu(&cfg.server_pids), cpu_seconds(None));
    if !is_load {
        tokio::time::sleep(cfg.warmup).await;
        sh.hist.borrow_mut().reset();
        sh.sec_hist.borrow_mut().reset();
        sh.ops.set(0);
        measure_start = Instant::now();
        cpu0 = (servers_cpu(&cfg.server_pids), cpu_seconds(None));
        sh.phase.set(Phase::Measure);
        let end = tokio::time::Instant::from_std(measure_start) + cfg.duration;
        let mut last = 0;
        loop {
            let now = tokio::time::Instant::now();
            if now >= end {
                break;
            }
            tokio::time::sleep_until(end.min(now + Duration::from_secs(1))).await;
            let ops = sh.ops.get();
            series.borrow_mut().push(ops - last);
            last = ops;
        }
        sh.phase.set(Phase::Stop);
        // Wake the setter so that it sees the stop.
        sh.notify.notify_one();
    }
    let mut secs = measure_start.elapsed().as_secs_f64();
    let mut cpu1 = (servers_cpu(&cfg.server_pids), cpu_seconds(None));
    let ops = if is_load {
        // The load ends when every session has drained; count completions per second meanwhile.
        let mut last = 0;
        let mut next_mark = measure_start + Duration::from_secs(1);
        while !handles.iter().all(|h| h.is_finished()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if Instant::now() >= next_mark {
                let ops = sh.ops.get();
                series.borrow_mut().push(ops - last);
                last = ops;
                next_mark += Duration::from_secs(1);
            }
        }
        handles.clear();
        secs = measure_start.elapsed().as_secs_f64();
        cpu1 = (servers_cpu(&cfg.server_pids), cpu_seconds(None));
        sh.ops.get()
    } else {
        sh.ops.get()
    };
    let mut stuck = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for h in handles {
        let abort = h.abort_handle();
        if tokio::time::timeout_at(deadline, h).await.is_err() {
            stuck += 1;
            abort.abort();
        }
    }
    progress.abort();
    let series = series.borrow().clone();
    let mut notes = sh.notes.borrow().clone();
    if stuck > 0 {
        notes.push(format!(
            "{stuck} sessions still had requests outstanding 10 s after the run ended"
        ));
    }
    let hist = sh.hist.borrow().clone();
    let errors = sh.errors.borrow().clone();
    Ok(RunResult {
        workload: cfg.workload.name().to_string(),
        sessions: n_sess,
        // A handshakes session makes one connection at a time.
        depth: if cfg.workload == Workload::Handshakes {
            1
        } else {
            depth
        },
        rate,
        ops,
        secs,
        hist,
        errors,
        disconnects: sh.disconnects.get(),
        lost: sh.lost.get(),
        stuck,
        per_sec: series,
        notes,
        server_cpu: cpu0.0.zip(cpu1.0).map(|(a, b)| b - a),
        client_cpu: cpu0.1.zip(cpu1.1).map(|(a, b)| b - a),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_names() {
        assert_eq!(load_name(7, (0, 0)), "n7");
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let n = load_name(i, (40, 60));
            assert!((40..=60).contains(&n.len()), "{n}");
            assert!(n.starts_with(&format!("u{i}-")));
            assert!(seen.insert(n));
        }
        assert_eq!(load_name(5, (40, 60)), load_name(5, (40, 60)));
    }

    #[test]
    fn trailing_numbers() {
        assert_eq!(trailing_number(b"/zkbench/w17"), Some(17));
        assert_eq!(trailing_number(b"/zkbench/w"), None);
    }

    #[test]
    fn root_chain_lists_parents() {
        assert_eq!(root_chain("/a/b"), vec![b"/a".to_vec(), b"/a/b".to_vec()]);
        assert_eq!(root_chain("/a"), vec![b"/a".to_vec()]);
    }
}
