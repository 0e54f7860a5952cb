//! Connections: per-session FIFO hold-back, backpressure (see `flow`), reply batching.

use super::*;

/// Hand what is unsent to `conn` out as one [`Output::Send`]. The buffer goes whole: `split`
/// would leave its spare capacity here, keeping the allocation alive for as long as the
/// connection lives.
fn hand_out(conn: ConnId, c: &mut Conn, out: &mut Vec<Output>) {
    if !c.unsent.is_empty() {
        let bytes = std::mem::take(&mut c.unsent).freeze();
        out.push(Output::Send { conn, bytes });
    }
}

impl Pipeline {
    /// Take a connection's request frames, or hold them (unprocessed, and the reader stops
    /// reading) while the connection has too many reply bytes unsent.
    pub(super) fn admit(&mut self, conn: ConnId, frames: Vec<Bytes>) {
        let mut frames = frames.into_iter();
        while let Some(f) = frames.next() {
            if !self.conns.contains_key(&conn) {
                return;
            }
            if self.must_hold(conn) {
                let fc = self.flows.get_mut(&conn).expect("must_hold found it");
                let all: Vec<Bytes> = std::iter::once(f).chain(frames).collect();
                // Held requests are not in process: they must not throttle other clients.
                let counted = all.iter().filter(|f| counts_as_request(f)).count();
                fc.flow.requests_held(counted as i64);
                fc.held.extend(all);
                return;
            }
            self.request(conn, f);
        }
    }

    /// Whether `conn`'s next request must wait for its writer to drain; starts holding if
    /// so (a `Input::Drained` from the writer ends it).
    pub(super) fn must_hold(&mut self, conn: ConnId) -> bool {
        let (Some(c), Some(fc)) = (self.conns.get(&conn), self.flows.get(&conn)) else {
            return false;
        };
        if !fc.held.is_empty() {
            return true;
        }
        let pending = c.unsent.len();
        if fc.flow.may_process(pending) {
            return false;
        }
        fc.flow.hold();
        // The writer may have drained between the check and `hold`.
        if fc.flow.may_process(pending) {
            fc.flow.release();
            return false;
        }
        true
    }

    /// The writer drained: process held requests until the connection is over budget again.
    pub(super) fn release_held(&mut self, conn: ConnId) {
        loop {
            let Some(fc) = self.flows.get_mut(&conn) else {
                return;
            };
            if fc.held.is_empty() {
                fc.flow.release();
                return;
            }
            let pending = self.conns.get(&conn).map_or(0, |c| c.unsent.len());
            if !fc.flow.may_process(pending) {
                fc.flow.hold();
                if !fc.flow.may_process(pending) {
                    return;
                }
            }
            let f = fc.held.pop_front().expect("not empty");
            if counts_as_request(&f) {
                fc.flow.requests_read(1);
            }
            self.request(conn, f);
        }
    }

    /// Frames queued behind a pending write would all be processed when it is applied: past
    /// the budget, they are held instead (in front of any held already, to keep the order).
    pub(super) fn hold_queued(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(fc) = self.flows.get_mut(&conn) else {
            return false;
        };
        if c.queued.is_empty() || fc.flow.may_process(c.unsent.len()) {
            return false;
        }
        fc.flow.hold();
        if fc.flow.may_process(c.unsent.len()) && fc.held.is_empty() {
            fc.flow.release();
            return false;
        }
        let counted = c.queued.iter().filter(|f| counts_as_request(f)).count();
        fc.flow.requests_held(counted as i64);
        for f in c.queued.drain(..).rev() {
            fc.held.push_front(f);
        }
        true
    }

    /// Add the throttle metrics the connection tasks counted to the statistics.
    pub(super) fn gather_throttle_metrics(&mut self) {
        use crate::stats::Counter;
        if let Some(sf) = &self.server_flow {
            let m = sf.take_metrics();
            self.stats
                .add(Counter::RequestThrottleWaitCount, m.request_throttle_waits);
            self.stats
                .add(Counter::StaleRequestsDropped, m.stale_requests_dropped);
            self.stats.add(Counter::StaleRequests, m.stale_requests);
        }
    }

    /// Queue `frame` for `conn`; it goes out with the connection's other replies at the next
    /// [`Pipeline::flush_replies`].
    pub(super) fn send(&mut self, conn: ConnId, frame: Bytes) {
        if answers_request(&frame) {
            if let Some(fc) = self.flows.get(&conn) {
                fc.flow.request_answered();
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packet_sent();
            self.stats.packet_sent();
            if c.unsent.is_empty() {
                self.unsent_conns.push(conn);
            }
            c.unsent.extend_from_slice(&frame);
        }
    }

    /// Hand every connection's queued replies out, one [`Output::Send`] each. The owner of
    /// the pipeline calls this after each batch of inputs it handled: a batch's replies to
    /// one client then cost one channel send and one socket write, not one per reply.
    pub fn flush_replies(&mut self) {
        let mut not_reading = Vec::new();
        for conn in self.unsent_conns.drain(..) {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let Some(fc) = self.flows.get(&conn) else {
                hand_out(conn, c, &mut self.out);
                continue;
            };
            fc.flow.queued(c.unsent.len());
            hand_out(conn, c, &mut self.out);
            if fc.flow.unsent() > crate::flow::hard_cap(self.cfg.jute_maxbuffer) {
                not_reading.push((conn, fc.flow.unsent()));
            }
        }
        for (conn, bytes) in not_reading {
            // Watch events keep coming for a client that does not read: never drop them
            // silently, close the connection (the client's reconnect sets its watches again).
            warn!(
                conn,
                bytes, "closing connection: client does not read its replies and events"
            );
            self.close(conn);
        }
    }

    /// Close `conn` once what was queued for it is sent, and forget it.
    pub(super) fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            hand_out(conn, c, &mut self.out);
        }
        // A connection the pipeline never took (a refused handshake) is closed too.
        self.out.push(Output::Close { conn });
        self.drop_conn(conn);
    }

    /// Java's touchCnxn: file the connection in the expiry bucket after
    /// now + its timeout (10 s buckets).
    pub(super) fn touch_cnxn(&mut self, conn: ConnId) {
        const INTERVAL: i64 = 10_000;
        let now = self.now.mono_ms;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let bucket = ((now + c.timeout_ms as i64) / INTERVAL + 1) * INTERVAL;
        if bucket == c.expiry_bucket {
            return;
        }
        if let Some(n) = self.cnxn_buckets.get_mut(&c.expiry_bucket) {
            *n = n.saturating_sub(1);
        }
        c.expiry_bucket = bucket;
        *self.cnxn_buckets.entry(bucket).or_default() += 1;
        // Buckets whose time has passed are gone (Java's expirer polls them).
        self.cnxn_buckets.retain(|t, n| *t > now || *n > 0);
    }

    pub(super) fn drop_conn(&mut self, conn: ConnId) {
        if let Some(fc) = self.flows.remove(&conn) {
            fc.flow.close();
        }
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(n) = self.cnxn_buckets.get_mut(&c.expiry_bucket) {
                *n = n.saturating_sub(1);
            }
            if c.session != 0 && self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
            self.tree.watches.remove_watcher(conn);
        }
    }

    /// Take a frame in order: it waits behind queued frames, and a read waits until the
    /// connection's earlier writes are applied (FIFO per session).
    pub(super) fn request(&mut self, conn: ConnId, frame: Bytes) {
        self.stats.packet_received(frame.len() as u64 + 4);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.stats.packet_received();
        self.touch_cnxn(conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let write = frame.len() >= 8
            && is_write(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]));
        let closing = self.sessions.get(c.session).is_some_and(|s| s.closing);
        // Nothing but the handshake runs before the session exists (Java stops reading the
        // connection until then): frames that came with or right after the ConnectRequest
        // wait, and run as the new session once it is established (or are dropped with the
        // connection if it is refused). Nothing runs behind a closeSession either: the
        // close is answered, then the connection closes with whatever came after it.
        if c.session == 0 || closing || !c.queued.is_empty() || (c.pending_writes > 0 && !write) {
            c.queued.push_back(frame);
            return;
        }
        self.process(conn, frame);
    }

    /// Process queued frames until one has to wait again.
    pub(super) fn drain(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.pending_writes > 0 || c.session == 0 {
                return;
            }
            if self.hold_queued(conn) {
                return;
            }
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(frame) = c.queued.pop_front() else {
                return;
            };
            self.process(conn, frame);
        }
    }
}
