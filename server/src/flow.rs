//! Backpressure: how much one connection and the whole server may hold, and when a
//! connection stops being read.
//!
//! Three limits, shared between a connection's reader and writer tasks (`net`) and the
//! pipeline (`core`) through atomics:
//!
//! * **Unsent reply bytes per connection** ([`CONN_UNSENT_BUDGET`]) and in total
//!   ([`SERVER_UNSENT_BUDGET`]): replies and watch events handed to a connection's writer but
//!   not yet written to its socket. Past the budget the pipeline holds the connection's
//!   next requests unprocessed ([`may_process`]) and its reader stops reading, so TCP pushes
//!   back on a client that sends but does not read; the writer wakes the pipeline when it
//!   has drained to half the budget. Watch events are never dropped: a connection whose
//!   unsent bytes pass [`hard_cap`] (a client that never reads while others' writes keep
//!   firing its watches) is closed with a warning, and the client's reconnect re-registers
//!   its watches.
//! * **`globalOutstandingLimit`** (Java's `ZooKeeperServer.shouldThrottle`): requests read
//!   but not answered, across connections (Java counts requests with xid > 0). While more
//!   are outstanding than the limit, every connection with a request outstanding stops
//!   reading (Java's `disableRecv`) until its own requests are answered or the total falls.
//! * **`zookeeper.request_throttle_max_requests`** (Java's `RequestThrottler`, off when 0):
//!   a request read from the socket waits before entering the pipeline while that many are
//!   in process, re-checking every `zookeeper.request_throttle_stall_time` ms and whenever
//!   one finishes (a stall time of 0 waits for that alone, as Java's `wait(0)`;
//!   `request_throttle_wait_count` counts the waits); with
//!   `zookeeper.request_throttle_drop_stale` (default true) the waiting requests of a
//!   connection closed meanwhile are dropped (`stale_requests_dropped`).
//!
//! The decisions are pure functions; the counters are atomics so that the reader, the
//! writer and the pipeline need no messages to read them. Counts are kept per connection and
//! in total; a connection's remainder is taken off the totals once when it closes
//! ([`ConnFlow::close`]), so a request that is never answered cannot leak.

use crate::config::Config;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Unsent reply bytes one connection may have before its requests are held.
pub const CONN_UNSENT_BUDGET: usize = 1 << 20;
/// Unsent reply bytes of all connections together before connections with unsent replies
/// have their requests held.
pub const SERVER_UNSENT_BUDGET: i64 = 64 << 20;

/// The limits, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `globalOutstandingLimit` (default 1000).
    pub global_outstanding: i64,
    /// `zookeeper.request_throttle_max_requests` (0 = no throttling).
    pub throttle_max_requests: i64,
    /// `zookeeper.request_throttle_stall_time`.
    pub throttle_stall: Duration,
    /// `zookeeper.request_throttle_drop_stale`.
    pub throttle_drop_stale: bool,
    /// `jute.maxbuffer`: the largest single request (and, in practice, reply).
    pub max_buffer: usize,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
        Limits {
            global_outstanding: cfg.global_outstanding_limit as i64,
            throttle_max_requests: cfg.request_throttle_max_requests as i64,
            throttle_stall: Duration::from_millis(cfg.request_throttle_stall_time_ms as u64),
            throttle_drop_stale: cfg.request_throttle_drop_stale,
            max_buffer: cfg.jute_maxbuffer,
        }
    }
}

/// Whether the pipeline may process a connection's next request, given the connection's
/// unsent reply bytes (`own`) and everyone's (`total`). A connection with nothing unsent
/// always may: that is what guarantees progress.
pub fn may_process(own: usize, total: i64) -> bool {
    own == 0 || (own <= CONN_UNSENT_BUDGET && total <= SERVER_UNSENT_BUDGET)
}

/// When the writer, having drained to `own` unsent bytes, wakes a pipeline holding requests.
pub fn drained_enough(own: usize) -> bool {
    own <= CONN_UNSENT_BUDGET / 2
}

/// Unsent bytes past which a connection is closed: its client is not reading.
pub fn hard_cap(max_buffer: usize) -> usize {
    (64usize << 20).max(CONN_UNSENT_BUDGET + 2 * max_buffer)
}

/// Java's `ZooKeeperServer.shouldThrottle`: stop reading a connection with `own` requests
/// outstanding while more than `limit` are outstanding in total.
pub fn global_throttle(own: i64, total: i64, limit: i64) -> bool {
    total > limit && own > 0
}

/// Java's `ServerCnxn.incrOutstandingAndCheckThrottle` counts requests whose xid is
/// positive (and we leave out pings, whose reply always has xid -2). `frame` is a request
/// without its length prefix.
pub fn counts_as_request(frame: &[u8]) -> bool {
    if frame.len() < 8 {
        return false;
    }
    let xid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let op = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    xid > 0 && op != jute::ops::PING
}

/// Whether a reply frame (with its length prefix) answers a counted request: its xid is
/// positive (watch events, pings, auth and the handshake are not).
pub fn answers_request(frame: &[u8]) -> bool {
    frame.len() >= 8 && i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]) > 0
}

/// Counters shared by every connection of a server, and the throttle metrics Java's `mntr`
/// shows.
#[derive(Debug)]
pub struct ServerFlow {
    pub limits: Limits,
    /// Requests read and not answered (Java's `requestsInProcess`).
    in_process: AtomicI64,
    /// Reply bytes handed to writers and not yet written.
    unsent: AtomicI64,
    /// Woken when `in_process` falls to the global limit or the throttle limit.
    pub fell: Notify,
    /// `request_throttle_wait_count`, `stale_requests_dropped`, `stale_requests` not yet
    /// added to the pipeline's statistics ([`ServerFlow::take_metrics`]).
    throttle_waits: AtomicU64,
    stale_dropped: AtomicU64,
    stale: AtomicU64,
}

/// Throttle metrics gathered since the last [`ServerFlow::take_metrics`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleMetrics {
    pub request_throttle_waits: u64,
    pub stale_requests_dropped: u64,
    pub stale_requests: u64,
}

impl ServerFlow {
    pub fn new(limits: Limits) -> Arc<ServerFlow> {
        Arc::new(ServerFlow {
            limits,
            in_process: AtomicI64::new(0),
            unsent: AtomicI64::new(0),
            fell: Notify::new(),
            throttle_waits: AtomicU64::new(0),
            stale_dropped: AtomicU64::new(0),
            stale: AtomicU64::new(0),
        })
    }

    pub fn in_process(&self) -> i64 {
        self.in_process.load(SeqCst).max(0)
    }

    pub fn unsent(&self) -> i64 {
        self.unsent.load(SeqCst).max(0)
    }

    /// The RequestThrottler's test: may a request enter the pipeline now?
    pub fn throttle_admits(&self) -> bool {
        let max = self.limits.throttle_max_requests;
        max <= 0 || self.in_process() < max
    }

    pub fn count_throttle_wait(&self) {
        self.throttle_waits.fetch_add(1, SeqCst);
    }

    pub fn count_stale(&self, dropped: bool, n: u64) {
        let c = if dropped {
            &self.stale_dropped
        } else {
            &self.stale
        };
        c.fetch_add(n, SeqCst);
    }

    /// The metrics counted since the last call (the pipeline adds them to its statistics).
    pub fn take_metrics(&self) -> ThrottleMetrics {
        ThrottleMetrics {
            request_throttle_waits: self.throttle_waits.swap(0, SeqCst),
            stale_requests_dropped: self.stale_dropped.swap(0, SeqCst),
            stale_requests: self.stale.swap(0, SeqCst),
        }
    }

    fn sub_in_process(&self, n: i64) {
        if n == 0 {
            return;
        }
        let before = self.in_process.fetch_sub(n, SeqCst);
        let after = before - n;
        let l = &self.limits;
        let crossed = |limit: i64| before > limit && after <= limit;
        if crossed(l.global_outstanding)
            || (l.throttle_max_requests > 0 && crossed(l.throttle_max_requests - 1))
        {
            self.fell.notify_waiters();
        }
    }
}

/// One connection's share: what its reader, writer and the pipeline tell each other.
#[derive(Debug)]
pub struct ConnFlow {
    pub server: Arc<ServerFlow>,
    /// Requests read and not answered.
    outstanding: AtomicI64,
    /// Reply bytes handed to the writer and not yet written.
    unsent: AtomicI64,
    /// The pipeline holds requests of this connection (the reader does not read meanwhile).
    held: AtomicBool,
    /// The pipeline waits for the writer to drain ([`drained_enough`]).
    want_drained: AtomicBool,
    closed: AtomicBool,
    /// Wakes the reader: a request answered, or the pipeline stopped holding.
    pub wake: Notify,
}

/// Saturating subtract of `n` from `counter`; returns what was actually taken.
fn take(counter: &AtomicI64, n: i64) -> i64 {
    let prev = counter
        .fetch_update(SeqCst, SeqCst, |cur| Some((cur - n).max(0)))
        .expect("the closure always returns Some");
    prev.max(0) - (prev - n).max(0)
}

impl ConnFlow {
    pub fn new(server: Arc<ServerFlow>) -> Arc<ConnFlow> {
        Arc::new(ConnFlow {
            server,
            outstanding: AtomicI64::new(0),
            unsent: AtomicI64::new(0),
            held: AtomicBool::new(false),
            want_drained: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    pub fn outstanding(&self) -> i64 {
        self.outstanding.load(SeqCst).max(0)
    }

    pub fn unsent(&self) -> usize {
        self.unsent.load(SeqCst).max(0) as usize
    }

    /// The reader handed `n` requests to the pipeline.
    pub fn requests_read(&self, n: i64) {
        if n == 0 || self.closed.load(SeqCst) {
            return;
        }
        self.outstanding.fetch_add(n, SeqCst);
        self.server.in_process.fetch_add(n, SeqCst);
    }

    /// The pipeline holds `n` requests unprocessed: they are not in process any more.
    pub fn requests_held(&self, n: i64) {
        let n = take(&self.outstanding, n);
        self.server.sub_in_process(n);
    }

    /// The pipeline answered a request.
    pub fn request_answered(&self) {
        let n = take(&self.outstanding, 1);
        self.server.sub_in_process(n);
        if n > 0 {
            self.wake.notify_one();
        }
    }

    /// The pipeline handed `n` reply bytes to the writer.
    pub fn queued(&self, n: usize) {
        if self.closed.load(SeqCst) {
            return;
        }
        self.unsent.fetch_add(n as i64, SeqCst);
        self.server.unsent.fetch_add(n as i64, SeqCst);
    }

    /// The writer wrote `n` bytes. Returns whether the pipeline now wants to hear that the
    /// connection drained (it then expects `CoreMsg::Drained`).
    pub fn written(&self, n: usize) -> bool {
        let n = take(&self.unsent, n as i64);
        self.server.unsent.fetch_sub(n, SeqCst);
        // Paired with `hold`: the pipeline sets `want_drained` before it looks at `unsent`,
        // the writer lowers `unsent` before it looks at `want_drained`, so one of them sees
        // the other.
        drained_enough(self.unsent()) && self.want_drained.swap(false, SeqCst)
    }

    /// Whether the pipeline may process this connection's next request, with `pending`
    /// reply bytes it has not handed to the writer yet.
    pub fn may_process(&self, pending: usize) -> bool {
        may_process(
            self.unsent() + pending,
            self.server.unsent() + pending as i64,
        )
    }

    /// The pipeline starts holding requests: stop the reader and ask the writer for a
    /// `Drained` when it has drained.
    pub fn hold(&self) {
        self.held.store(true, SeqCst);
        self.want_drained.store(true, SeqCst);
    }

    /// The pipeline holds nothing any more: let the reader read.
    pub fn release(&self) {
        if self.held.swap(false, SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Whether the connection was closed (by the pipeline, or after its tasks ended).
    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Whether the reader should stop reading (see the module doc).
    pub fn reader_paused(&self) -> bool {
        self.held.load(SeqCst)
            || global_throttle(
                self.outstanding(),
                self.server.in_process(),
                self.server.limits.global_outstanding,
            )
    }

    /// The connection is gone: take what it still counts off the totals (once; later
    /// counts are ignored).
    pub fn close(&self) {
        self.closed.store(true, SeqCst);
        let n = self.outstanding.swap(0, SeqCst).max(0);
        self.server.sub_in_process(n);
        let b = self.unsent.swap(0, SeqCst).max(0);
        self.server.unsent.fetch_sub(b, SeqCst);
        self.held.store(false, SeqCst);
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(global: i64, throttle: i64) -> Limits {
        Limits {
            global_outstanding: global,
            throttle_max_requests: throttle,
            throttle_stall: Duration::from_millis(100),
            throttle_drop_stale: true,
            max_buffer: 0xfffff,
        }
    }

    #[test]
    fn a_connection_with_nothing_unsent_may_always_proceed() {
        assert!(may_process(0, i64::MAX));
        assert!(may_process(CONN_UNSENT_BUDGET, SERVER_UNSENT_BUDGET));
        assert!(!may_process(CONN_UNSENT_BUDGET + 1, 0));
        assert!(!may_process(1, SERVER_UNSENT_BUDGET + 1));
    }

    #[test]
    fn global_limit_throttles_only_connections_with_requests_outstanding() {
        assert!(!global_throttle(5, 1000, 1000));
        assert!(global_throttle(1, 1001, 1000));
        assert!(!global_throttle(0, 5000, 1000));
        // Java: a limit of 0 throttles every connection with anything outstanding.
        assert!(global_throttle(1, 1, 0));
    }

    #[test]
    fn request_frames_are_counted_as_java_counts_them() {
        let frame = |xid: i32, op: i32| [xid.to_be_bytes(), op.to_be_bytes()].concat();
        assert!(counts_as_request(&frame(1, jute::ops::GET_DATA)));
        assert!(!counts_as_request(&frame(0, jute::ops::GET_DATA)));
        assert!(!counts_as_request(&frame(-2, jute::ops::PING)));
        assert!(!counts_as_request(&frame(7, jute::ops::PING)));
        assert!(!counts_as_request(&[0, 0, 0, 1]));
        let reply = |xid: i32| [16i32.to_be_bytes(), xid.to_be_bytes()].concat();
        assert!(answers_request(&reply(3)));
        assert!(!answers_request(&reply(-1)));
        assert!(!answers_request(&reply(0)));
    }

    #[test]
    fn counts_never_go_negative_and_close_settles_the_totals() {
        let server = ServerFlow::new(limits(2, 0));
        let a = ConnFlow::new(server.clone());
        let b = ConnFlow::new(server.clone());
        a.requests_read(3);
        b.requests_read(1);
        assert_eq!(server.in_process(), 4);
        assert!(a.reader_paused() && b.reader_paused());
        // An answer without a counted request (a client reusing an xid) does not underflow.
        for _ in 0..5 {
            b.request_answered();
        }
        assert_eq!((b.outstanding(), server.in_process()), (0, 3));
        assert!(!b.reader_paused(), "nothing outstanding: b reads on");
        a.queued(100);
        b.queued(10);
        assert_eq!(server.unsent(), 110);
        a.close();
        assert_eq!((server.in_process(), server.unsent()), (0, 10));
        // Counts after close are ignored; the writer's late `written` takes nothing.
        a.requests_read(2);
        a.written(100);
        assert_eq!((server.in_process(), server.unsent()), (0, 10));
    }

    #[test]
    fn writer_reports_drained_once_per_hold() {
        let server = ServerFlow::new(limits(1000, 0));
        let c = ConnFlow::new(server);
        c.queued(CONN_UNSENT_BUDGET + 10);
        assert!(!c.may_process(0));
        c.hold();
        assert!(c.reader_paused());
        assert!(!c.written(100), "still above half the budget");
        assert!(c.written(CONN_UNSENT_BUDGET / 2 + 100));
        assert!(!c.written(0), "reported once");
        assert!(c.may_process(0));
        c.release();
        assert!(!c.reader_paused());
    }

    #[test]
    fn request_throttler_admits_below_max_requests() {
        let server = ServerFlow::new(limits(1000, 2));
        let c = ConnFlow::new(server.clone());
        assert!(server.throttle_admits());
        c.requests_read(2);
        assert!(!server.throttle_admits());
        c.request_answered();
        assert!(server.throttle_admits());
        let off = ServerFlow::new(limits(1000, 0));
        ConnFlow::new(off.clone()).requests_read(10_000);
        assert!(off.throttle_admits());
    }
}
