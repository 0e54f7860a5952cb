//! Housekeeping on [`Input::Tick`]: session expiry, containers and TTL nodes (Java's
//! SessionTracker and ContainerManager), and when snapshots are taken (Java's
//! SyncRequestProcessor).

use super::*;

/// After a snapshot that took `d`, the next one starts no sooner than `d * REST_FACTOR` after
/// it ended. Under sustained writes a large tree is snapshotted every snapCount txns, each
/// snapshot writing the whole tree: at 100k creates/s that kept the snapshot thread busy all
/// the time and its writeback in front of the txn log's fsyncs (creates 101-103k ops/s with
/// snapshots, 109-153k without). With this the snapshot thread works at most a quarter of
/// the time; at ordinary rates a snapshot takes milliseconds and nothing changes.
const REST_FACTOR: i64 = 3;

impl Pipeline {
    /// `znode.container.checkIntervalMs` (Java's default 60 s).
    fn container_interval_ms(&self) -> u64 {
        self.cfg.container_check_interval_ms
    }

    pub(super) fn tick(&mut self) {
        if self.snapshots.deferred {
            self.start_snapshot(false);
        }
        if self.mode.is_learner() {
            // The leader expires sessions and reaps containers.
            return;
        }
        let now = self.uptime_ms();
        if self.mode == Mode::ReadOnly {
            // Local sessions expire without a txn; the tree is never changed.
            for id in self.sessions.expire(now) {
                info!("Expiring read-only session {}", SessionId::from(id));
                let conn = self.session_conn.get(&id).copied();
                self.close_local_session(id);
                if let Some(conn) = conn {
                    self.close(conn);
                }
            }
            return;
        }
        for id in self.sessions.expire(now) {
            info!(
                "Expiring session {}, timeout of {}ms exceeded",
                SessionId::from(id),
                self.sessions.get(id).map_or(0, |s| s.timeout_ms)
            );
            self.internal_write(id, OpCode::CloseSession, Bytes::new());
        }
        self.check_containers();
    }

    /// Java's ContainerManager: delete empty containers that once had children, and TTL
    /// nodes without children whose mtime is older than their TTL.
    pub(super) fn check_containers(&mut self) {
        let now = self.uptime_ms();
        if now < self.containers_checked_ms + self.container_interval_ms() {
            return;
        }
        self.containers_checked_ms = now;
        let wall = self.now.wall_ms;
        let mut victims = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.node(p) {
                if n.stat.cversion > 0 && n.children.is_empty() {
                    victims.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.node(p) {
                if let NodeKind::Ttl(ttl) = crate::tree::node_kind(n.stat.ephemeral_owner, true) {
                    if n.children.is_empty() && ttl != 0 && wall - n.stat.mtime > ttl {
                        victims.push(p.clone());
                    }
                }
            }
        }
        for p in victims.into_iter().take(10_000) {
            let body = if self.cfg.compat_version.delete_container_is_a_record() {
                let mut b = bytes::BytesMut::new();
                // Java 3.9's DeleteContainerRequest: the path as one string.
                jute::Encode::encode(&p, &mut b);
                b.freeze()
            } else {
                Bytes::from(p.into_bytes())
            };
            self.internal_write(0, OpCode::DeleteContainer, body);
        }
    }

    /// Snapshots from now on, every snapCount txns or so (Java: after snapCount/2 plus a
    /// random part of snapCount/2, so ensemble members do not snapshot together).
    pub(super) fn enable_snapshots(&mut self) {
        self.snapshots.enabled = true;
        self.snapshots.last_zxid = self.tree.last_zxid;
        self.snapshots.after = self.next_snapshot_threshold();
    }

    fn next_snapshot_threshold(&mut self) -> u64 {
        let half = (self.cfg.snap_count / 2).max(1);
        half + self.rng.next_u64() % half
    }

    /// snapCount's threshold was reached: roll the log and snapshot a consistent copy of the
    /// tree in the background. The log rolls every time, as Java's SyncRequestProcessor rolls
    /// it even when it skips a snapshot ("Too busy to snap"), so no log file holds more than
    /// one threshold of txns. The snapshot may be deferred: while the previous one is being
    /// written, or after a long one (see `REST_FACTOR`, but not once 2 * snapCount txns have
    /// passed since the last one started, which bounds what a restart replays); a tick starts
    /// it when it may.
    pub fn snapshot_now(&mut self) {
        if !self.snapshots.enabled {
            return;
        }
        self.start_snapshot(true);
        self.out.push(Output::RollLog);
        self.snapshots.txns_since = 0;
        self.snapshots.after = self.next_snapshot_threshold();
    }

    /// Start a snapshot if one may start now, else leave it deferred.
    fn start_snapshot(&mut self, log: bool) {
        let started = self.snapshot_may_start(log);
        if started {
            self.snapshots.busy = true;
            self.snapshots.last_zxid = self.tree.last_zxid;
            let tree = Box::new(self.tree.snapshot_copy());
            self.out.push(Output::Snapshot { tree });
        }
        self.snapshots.deferred = !started;
    }

    /// Whether a snapshot may start now (`log`: say why not, as Java does when busy).
    fn snapshot_may_start(&self, log: bool) -> bool {
        let may_rest = self.snapshot_may_rest();
        if may_rest && self.now.mono_ms < self.snapshots.rest_until_ms {
            if log {
                debug!("snapshot deferred: the previous one ended too recently for its length");
            }
            return false;
        }
        if self.snapshots.busy {
            if log {
                warn!("Too busy to snap, skipping");
            }
            return false;
        }
        true
    }

    /// A due snapshot may wait out the rest until 2 * snapCount txns have passed since the
    /// last one started.
    fn snapshot_may_rest(&self) -> bool {
        let since_last = self.tree.last_zxid.wrapping_sub(self.snapshots.last_zxid);
        (0..2 * self.cfg.snap_count as i64).contains(&since_last)
    }

    /// The snapshot writer finished one that took `took_ms`.
    pub(super) fn snapshot_done(&mut self, took_ms: i64) {
        self.snapshots.busy = false;
        self.snapshots.rest_until_ms = self.now.mono_ms + took_ms.max(0) * REST_FACTOR;
    }
}
