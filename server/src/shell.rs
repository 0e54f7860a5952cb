//! The tokio shell around the [`Pipeline`]: it owns what the pipeline must not touch (the
//! clock, the client connections' writers, the txn log thread, the snapshot writer, the
//! quorum's leader or learner handle, the ticker) and carries out the pipeline's
//! [`Output`]s in order.
//!
//! Every message for the pipeline comes through one channel ([`ToPipeline`]): the client
//! network (`net`), the txn log thread, the snapshot writer, the ticker. The owner of the
//! pipeline (standalone: `main`; quorum: `peer`) takes them one at a time into
//! [`Shell::step`] and calls [`Shell::flush`] after each batch, so a batch's replies to one
//! client go out in one write.

use crate::admin::commands::CommandResponse;
use crate::auth::AuthId;
use crate::database::log_thread::TxnLog;
use crate::flow::ConnFlow;
use crate::persist::snapshot::{self, SnapshotOptions};
use crate::pipeline::{ConnId, Input, Now, Output, Pipeline, Probes};
use crate::tree::DataTree;
use bytes::Bytes;
use jute::Zxid;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};
use zk_quorum::zab::leader_net::LeaderHandle;
use zk_quorum::zab::learner_net::LearnerHandle;
use zk_quorum::zab::packet;

/// What a connection's writer task is asked to do.
#[derive(Debug)]
pub enum Out {
    Frame(Bytes),
    /// Flush what was queued, then close the connection.
    Close,
}

pub type Outbox = mpsc::UnboundedSender<Out>;

/// Messages for the pipeline's owner.
#[derive(Debug)]
pub enum ToPipeline {
    /// An input as it is (requests, closes, the log's durability, the ticker, ...).
    Input(Input),
    /// A new connection's first frame, and where its replies go.
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        frame: Bytes,
        out: Outbox,
        flow: Arc<ConnFlow>,
        /// Ids the TLS handshake authenticated (`x509`, `super`).
        tls_ids: Vec<crate::auth::AuthId>,
    },
    /// A four-letter word, its probes already measured; the reply is the text to send.
    FourLetter {
        cmd: String,
        arg: Option<i64>,
        addr: SocketAddr,
        probes: Box<Probes>,
        reply: oneshot::Sender<String>,
    },
    /// The metrics registry, for the Prometheus endpoint.
    Metrics(MetricsRequest),
    /// An AdminServer command, its probes already measured.
    Admin {
        request: Box<crate::admin::AdminRequest>,
        probes: Box<Probes>,
        reply: oneshot::Sender<CommandResponse>,
    },
}

/// A Prometheus scrape (`metrics::endpoint`): the registry, its probes already measured.
#[derive(Debug)]
pub struct MetricsRequest {
    pub probes: Box<Probes>,
    pub reply: oneshot::Sender<Vec<crate::metrics::Metric>>,
}

/// Audit records handed over at the latest when this many are gathered.
const AUDIT_BATCH_MAX: usize = 4096;

/// Where the pipeline's txns and forwarded requests go, by role.
pub enum Upstream {
    /// Nothing yet (idle, read-only).
    None,
    /// Standalone: the txn log thread's group commit.
    TxnLog(TxnLog),
    /// Leader: each txn is proposed to the quorum; its commit comes back as `Durable`.
    Leader(LeaderHandle),
    /// Follower, observer: requests go to the leader.
    Learner(LearnerHandle),
}

/// Send [`Input::Tick`] a few times per tick (session expiry, containers and TTL nodes).
pub fn spawn_ticker(to: mpsc::Sender<ToPipeline>, tick_time_ms: u32) {
    let every = std::time::Duration::from_millis((tick_time_ms as u64 / 4).clamp(10, 500));
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        loop {
            iv.tick().await;
            if to.send(ToPipeline::Input(Input::Tick)).await.is_err() {
                break;
            }
        }
    });
}

/// Both clocks of this process now.
pub fn now() -> Now {
    Now {
        mono_ms: crate::stats::monotonic_ms(),
        wall_ms: crate::stats::wall_ms(),
    }
}

/// A seed for a pipeline's randomness from this process (time and pid).
pub fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ ((std::process::id() as u64) << 32)
}

pub struct Shell {
    pub pipeline: Pipeline,
    pub upstream: Upstream,
    /// The writers of the connections the pipeline knows.
    outboxes: HashMap<ConnId, Outbox>,
    /// Four-letter words waiting for their text, by token.
    four_letter: HashMap<u64, oneshot::Sender<String>>,
    /// AdminServer commands waiting for their answer, by token.
    admin: HashMap<u64, oneshot::Sender<CommandResponse>>,
    next_token: u64,
    /// Where snapshots go (`<dataDir>/version-2`); `None`: not written.
    snapshots: Option<(PathBuf, SnapshotOptions)>,
    /// For the snapshot writer's `SnapshotDone`.
    to_self: mpsc::Sender<ToPipeline>,
    outputs: Vec<Output>,
    /// Client `sync`s forwarded to the leader so far (an observer master tells the leader's
    /// SYNCs for them from those for its observers by this count).
    pub forwarded_syncs: u64,
    /// Audit records of this batch of outputs, handed to the audit writer in one message.
    audit: Vec<crate::audit::AuditEvent>,
}

impl Shell {
    pub fn new(pipeline: Pipeline, to_self: mpsc::Sender<ToPipeline>) -> Shell {
        Shell {
            pipeline,
            upstream: Upstream::None,
            outboxes: HashMap::new(),
            four_letter: HashMap::new(),
            admin: HashMap::new(),
            next_token: 0,
            snapshots: None,
            to_self,
            outputs: Vec::new(),
            forwarded_syncs: 0,
            audit: Vec::new(),
        }
    }

    /// Write snapshots the pipeline asks for into `dir`.
    pub fn write_snapshots_to(&mut self, dir: PathBuf, opts: SnapshotOptions) {
        self.snapshots = Some((dir, opts));
    }

    /// Hand one message to the pipeline and carry out what it asks.
    pub fn step(&mut self, msg: ToPipeline) {
        let input = match msg {
            ToPipeline::Input(i) => i,
            ToPipeline::Metrics(MetricsRequest { probes, reply }) => {
                let _ = reply.send(self.pipeline.metrics(now(), *probes));
                return;
            }
            ToPipeline::Connect {
                conn,
                addr,
                frame,
                out,
                flow,
                tls_ids,
            } => {
                self.outboxes.insert(conn, out);
                Input::Connect {
                    conn,
                    addr,
                    frame,
                    flow: Some(flow),
                    tls_ids,
                }
            }
            ToPipeline::FourLetter {
                cmd,
                arg,
                addr,
                probes,
                reply,
            } => {
                self.next_token += 1;
                let token = self.next_token;
                self.four_letter.insert(token, reply);
                Input::FourLetter {
                    token,
                    cmd,
                    arg,
                    addr,
                    probes,
                }
            }
            ToPipeline::Admin {
                request,
                probes,
                reply,
            } => {
                self.next_token += 1;
                let token = self.next_token;
                self.admin.insert(token, reply);
                Input::Admin {
                    token,
                    request,
                    probes,
                }
            }
        };
        if let Input::Closed { conn } = &input {
            self.outboxes.remove(conn);
        }
        self.pipeline.handle(now(), input);
        self.execute();
    }

    /// Send what the pipeline queued for each connection (after a batch of steps).
    pub fn flush(&mut self) {
        self.pipeline.flush_replies();
        self.execute();
        self.submit_audit();
    }

    /// Close every client connection (the quorum member stops serving).
    pub fn close_all(&mut self) {
        self.pipeline.close_all();
        self.execute();
        self.submit_audit();
    }

    /// Hand the audit records gathered so far to the audit writer, in one message (waking
    /// its thread once per batch of steps, not once per record).
    fn submit_audit(&mut self) {
        if !self.audit.is_empty() {
            crate::audit::writer::submit(std::mem::take(&mut self.audit));
        }
    }

    fn execute(&mut self) {
        self.pipeline.drain_outputs_into(&mut self.outputs);
        let mut outputs = std::mem::take(&mut self.outputs);
        for o in outputs.drain(..) {
            self.carry_out(o);
        }
        self.outputs = outputs;
        if self.audit.len() >= AUDIT_BATCH_MAX {
            self.submit_audit();
        }
    }

    fn carry_out(&mut self, o: Output) {
        match o {
            Output::Send { conn, bytes } => {
                if let Some(out) = self.outboxes.get(&conn) {
                    let _ = out.send(Out::Frame(bytes));
                }
            }
            Output::Close { conn } => {
                if let Some(out) = self.outboxes.remove(&conn) {
                    let _ = out.send(Out::Close);
                }
            }
            Output::Log { zxid, entry } => self.log(zxid, entry),
            Output::ResetObserverStats => {
                if let Upstream::Leader(h) = &self.upstream {
                    h.reset_observer_stats();
                }
            }
            Output::RollLog => match &self.upstream {
                // Whoever writes the log rolls it, in order with the entries it appends.
                Upstream::TxnLog(log) => log.roll(),
                Upstream::Leader(h) => h.roll_log(),
                Upstream::Learner(h) => h.roll_log(),
                Upstream::None => {}
            },
            Output::Snapshot { tree } => self.write_snapshot(*tree),
            Output::Forward {
                session,
                cxid,
                op,
                body,
                auth,
            } => {
                if let Upstream::Learner(h) = &self.upstream {
                    if op == jute::OpCode::Sync.code() {
                        self.forwarded_syncs += 1;
                    }
                    let ids = auth.iter().map(AuthId::to_wire).collect();
                    h.send(packet::request(session, cxid, op, &body, ids));
                }
            }
            Output::Touch {
                session,
                timeout_ms,
            } => {
                if let Upstream::Learner(h) = &self.upstream {
                    h.touch(session, timeout_ms);
                }
            }
            Output::Revalidate {
                session,
                timeout_ms,
            } => {
                if let Upstream::Learner(h) = &self.upstream {
                    h.send(packet::revalidate_request(session, timeout_ms));
                }
            }
            Output::RevalidateAnswer {
                from,
                session,
                valid,
            } => {
                if let Upstream::Leader(h) = &self.upstream {
                    h.revalidated(from, session, valid);
                }
            }
            Output::FourLetterReply { token, text } => {
                if let Some(reply) = self.four_letter.remove(&token) {
                    let _ = reply.send(text);
                }
            }
            Output::Audit(event) => self.audit.push(*event),
            Output::AdminReply {
                token,
                response,
                snapshot,
            } => {
                if let Some(reply) = self.admin.remove(&token) {
                    match snapshot {
                        None => {
                            let _ = reply.send(*response);
                        }
                        Some(tree) => self.admin_snapshot(*tree, *response, reply),
                    }
                }
            }
        }
    }

    fn log(&mut self, zxid: i64, entry: Bytes) {
        match &mut self.upstream {
            Upstream::TxnLog(log) => log.append(zxid, entry),
            Upstream::Leader(h) => {
                let handle = h.clone();
                let sent = h.submit(move |next| {
                    if next != zxid {
                        error!(
                            "the pipeline numbered a txn {} but the leader's next zxid is {}: \
                             giving up the leadership",
                            Zxid::from(zxid),
                            Zxid::from(next)
                        );
                        handle.shutdown();
                    }
                    entry
                });
                if sent.is_err() {
                    warn!(
                        "txn {} not proposed: the leader has stopped",
                        Zxid::from(zxid)
                    );
                }
            }
            Upstream::Learner(_) | Upstream::None => {
                error!(
                    "txn {} prepped where nothing can log it; dropped",
                    Zxid::from(zxid)
                );
            }
        }
    }

    /// 3.9's `snapshot` command (Java's `takeSnapshot` and `StreamOutputter`): write `tree`
    /// to the data directory off the pipeline, then answer with the file's zxid and size in
    /// headers and, when streaming, its bytes; 500 if it cannot be written.
    fn admin_snapshot(
        &self,
        tree: DataTree,
        mut response: CommandResponse,
        reply: oneshot::Sender<CommandResponse>,
    ) {
        let Some((dir, opts)) = self.snapshots.clone() else {
            response.status = 500;
            let _ = reply.send(response);
            return;
        };
        tokio::task::spawn_blocking(move || {
            let zxid = tree.last_zxid;
            let written = snapshot::write_snapshot(&tree, &dir, zxid, &opts)
                .map_err(|e| e.to_string())
                .and_then(|path| std::fs::read(&path).map_err(|e| e.to_string()));
            match written {
                Ok(bytes) if !bytes.is_empty() => {
                    response
                        .headers
                        .push(("last_zxid", format!("0x{:x}", zxid as u64)));
                    response
                        .headers
                        .push(("snapshot_size", bytes.len().to_string()));
                    if response.take_snapshot == Some(true) {
                        response.stream = Some(Bytes::from(bytes));
                    }
                }
                Ok(_) => response.status = 500,
                Err(e) => {
                    warn!("Exception occurred when taking the snapshot via the snapshot admin command: {e}");
                    response.status = 500;
                }
            }
            let _ = reply.send(response);
        });
    }

    /// Write `tree` in a background thread at low priority; `SnapshotDone` when it ends.
    fn write_snapshot(&mut self, tree: DataTree) {
        let Some((dir, opts)) = self.snapshots.clone() else {
            let done = self.to_self.clone();
            tokio::spawn(async move {
                let _ = done
                    .send(ToPipeline::Input(Input::SnapshotDone { took_ms: 0 }))
                    .await;
            });
            return;
        };
        let done = self.to_self.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                lower_this_threads_priority();
                let zxid = tree.last_zxid;
                let t0 = Instant::now();
                // Java's FileTxnSnapLog / ZooKeeperServer wording.
                let name = crate::persist::snapshot_name(zxid, opts.compression);
                info!("Snapshotting: 0x{zxid:x} to {}", dir.join(name).display());
                match snapshot::write_snapshot(&tree, &dir, zxid, &opts) {
                    Ok(_) => info!(
                        "Snapshot taken in {} ms ({} nodes)",
                        t0.elapsed().as_millis(),
                        tree.node_count()
                    ),
                    Err(e) => error!("snapshot at zxid {} failed: {e}", Zxid::from(zxid)),
                }
                // What the copy alone held (chunks changed meanwhile) is freed here; the
                // zkserver binary's allocator (mimalloc, purge delay 0) returns it to the
                // system at once.
                drop(tree);
                let took_ms = t0.elapsed().as_millis() as i64;
                let _ = done.blocking_send(ToPipeline::Input(Input::SnapshotDone { took_ms }));
            });
        if spawned.is_err() {
            warn!("cannot start the snapshot thread");
            let done = self.to_self.clone();
            tokio::spawn(async move {
                let _ = done
                    .send(ToPipeline::Input(Input::SnapshotDone { took_ms: 0 }))
                    .await;
            });
        }
    }
}

/// Let the pipeline, the log and the connections run before the snapshot writer when the
/// CPUs are busy: the snapshot can wait, a client cannot (nice 19 for this thread only; on
/// Linux the nice value is per thread).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        // SAFETY: setpriority(PRIO_PROCESS = 0, 0 = the calling thread, 19) only changes
        // the calling thread's nice value; it reads and writes no memory of ours.
        unsafe {
            setpriority(0, 0, 19);
        }
    }
}
