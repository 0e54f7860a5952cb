//! The differential runner: the same seeded random operation sequence against two servers
//! (normally Java 3.8 and zkserver), comparing every reply and every session's watch events
//! after normalising what legitimately differs.
//!
//! # What is compared
//! For each operation, on each server: the reply header (error code and zxid) and the decoded
//! body of the issuing session's reply, and for every session the frames it received while the
//! operation ran, in order: notifications (type, state, path, header zxid), the position of the
//! issuing session's own reply among them (Java delivers a write's notifications to the writer
//! before the write's reply), and the reply to a barrier read (`exists /`) sent on every session
//! after each operation, which flushes the notifications the operation triggered on others.
//!
//! # Normalisation
//! - zxids: relative to the zxid of the setup write (`create /d`) on the same server, so
//!   `Z+5` is "five transactions after the setup" on both. 0 and negative values are kept.
//!   Failed writes, createSession and closeSession all take zxids in Java, so this checks that
//!   both servers assign zxids to the same transactions.
//! - ctime/mtime: replaced by a consistency check (each 0 or a plausible wall-clock time,
//!   mtime >= ctime, equal when mzxid == czxid; see `time_check`). Whether mtime == ctime is
//!   not compared: two transactions may fall in the same millisecond.
//! - ephemeralOwner, session ids: the session's slot and incarnation (`s1.2` = slot 1, third
//!   session opened in that slot); containers and TTL owners are kept as values.
//! - getChildren, getEphemerals, whoAmI lists and ACL lists: sorted (Java returns them in
//!   HashSet order; ACLs from the `auth` scheme come out in the order of a hash set).
//! - closeSession: the notifications it triggers (ephemerals are deleted in HashSet order) are
//!   compared as a sorted multiset per session.
//!
//! # Things deliberately not generated
//! Unknown op codes and auth packets with unknown schemes (Java closes the connection and the
//! session then expires on a timer), `/zookeeper/config` (its data holds the server's ports),
//! and reconfig.

use crate::client::{Client, Received};
use crate::rng::Rng;
use crate::server::{Impl, ServerProcess};
use bytes::{Bytes, BytesMut};
use jute::data::{Acl, Id, Stat};
use jute::multi::{decode_multi_response, encode_multi_request, MultiOp, MultiResult};
use jute::ops;
use jute::proto::*;
use jute::{Decode, Encode, OpCode};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::io;
use std::time::{Duration, Instant};

/// How the runner is configured.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub ops: usize,
    pub sessions: usize,
    /// The reference server (its replies drive the generator's view of the namespace).
    pub left: Impl,
    pub right: Impl,
    /// Stop after this many mismatches (1: stop at the first). Later mismatches may be
    /// consequences of earlier ones once the two trees diverge.
    pub max_mismatches: usize,
    /// Operation kinds not to send (local debugging only).
    pub skip_kinds: Vec<String>,
    /// Print every operation and both normalised outcomes.
    pub verbose: bool,
    /// Session timeout requested in the handshake.
    pub session_timeout_ms: i32,
    /// Read/write timeout on every connection.
    pub io_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            ops: 10_000,
            sessions: 3,
            left: Impl::Java,
            right: Impl::Zkrs,
            max_mismatches: 1,
            skip_kinds: Vec::new(),
            verbose: false,
            session_timeout_ms: 30_000,
            io_timeout: Duration::from_secs(10),
        }
    }
}

/// One difference between the two servers.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub index: usize,
    pub op: String,
    pub left: String,
    pub right: String,
    /// The operations just before (description and the left server's reply).
    pub context: Vec<String>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub seed: u64,
    pub left: String,
    pub right: String,
    pub ops_sent: usize,
    pub per_kind: BTreeMap<&'static str, usize>,
    /// Replies compared (operations' replies and barrier replies).
    pub replies_compared: usize,
    /// Watch notifications compared (counted on the left server).
    pub events_compared: usize,
    /// Operations whose reply carried an error code, per error (left server).
    pub per_error: BTreeMap<String, usize>,
    pub mismatches: Vec<Mismatch>,
    /// Set when the run could not go on (a connection was lost).
    pub aborted: Option<String>,
    pub elapsed: Duration,
    /// Tail of the right server's log at the first mismatch.
    pub right_log_tail: Option<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.aborted.is_none()
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MISMATCH at op #{}: {}", self.index, self.op)?;
        if !self.context.is_empty() {
            writeln!(f, "  preceding ops (reference replies):")?;
            for c in &self.context {
                writeln!(f, "    {c}")?;
            }
        }
        writeln!(f, "  left:\n{}", indent(&self.left, "    "))?;
        writeln!(f, "  right:\n{}", indent(&self.right, "    "))?;
        writeln!(f, "  first difference:")?;
        let l: Vec<&str> = self.left.lines().collect();
        let r: Vec<&str> = self.right.lines().collect();
        for i in 0..l.len().max(r.len()) {
            let (a, b) = (l.get(i).copied(), r.get(i).copied());
            if a != b {
                writeln!(f, "    left:  {}", a.unwrap_or("(nothing)"))?;
                writeln!(f, "    right: {}", b.unwrap_or("(nothing)"))?;
                break;
            }
        }
        Ok(())
    }
}

fn indent(s: &str, pre: &str) -> String {
    s.lines()
        .map(|l| format!("{pre}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.mismatches {
            writeln!(f, "{m}")?;
        }
        if let Some(a) = &self.aborted {
            writeln!(f, "ABORTED: {a}")?;
        }
        if let Some(t) = &self.right_log_tail {
            writeln!(f, "--- tail of the {} server's log ---\n{t}", self.right)?;
        }
        writeln!(
            f,
            "differential {} vs {}: seed {}, {} ops sent, {} replies and {} watch events compared, \
             {} mismatches, {:.1}s",
            self.left,
            self.right,
            self.seed,
            self.ops_sent,
            self.replies_compared,
            self.events_compared,
            self.mismatches.len(),
            self.elapsed.as_secs_f64()
        )?;
        let kinds: Vec<String> = self
            .per_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(f, "ops per kind: {}", kinds.join(", "))?;
        let errs: Vec<String> = self
            .per_error
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        write!(f, "error replies (reference): {}", errs.join(", "))
    }
}

// ------------------------------------------------------------------------------------------
// Operations

/// What to do on the wire.
#[derive(Debug, Clone)]
enum Action {
    Request {
        opcode: i32,
        body: Bytes,
    },
    Auth {
        scheme: &'static str,
        auth: &'static str,
    },
    Ping,
    /// closeSession on the slot's session, then a new session in that slot, asking for
    /// `timeout_ms`, as an old client (no readOnly byte) if asked.
    Reconnect {
        timeout_ms: i32,
        old_client: bool,
    },
    /// Drop the TCP connection (the session lives on) and resume the session on a new one,
    /// first with a wrong password and/or a lastZxidSeen ahead of the server if asked; then
    /// maybe SetWatches.
    Resume {
        wrong_password: bool,
        stale_zxid: bool,
        watches: Option<WatchSpec>,
    },
}

/// The watches a resumed session re-registers, with how many zxids before the last one the
/// client saw its `relativeZxid` lies.
#[derive(Debug, Clone)]
struct WatchSpec {
    /// SetWatches (op 101, no persistent lists) rather than SetWatches2.
    v1: bool,
    back: i64,
    data: Vec<String>,
    exist: Vec<String>,
    child: Vec<String>,
    persistent: Vec<String>,
    recursive: Vec<String>,
}

#[derive(Debug, Clone)]
struct Op {
    kind: &'static str,
    session: usize,
    action: Action,
    desc: String,
    /// What the op does to the tree if it succeeds (the generator's rough model).
    effects: Vec<Effect>,
}

/// A write's intended effect, for the generator's model of which nodes exist.
#[derive(Debug, Clone)]
enum Effect {
    Create { path: String, ephemeral: bool },
    Delete { path: String },
}

const ALICE: &str = "alice:V55/p2T0OpjQ+low3NVAH4aLvm0=";
const BOB: &str = "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=";

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

/// (name, weight, usable on the structural nodes /d and /d/{a,b,c})
const ACL_CHOICES: &[(&str, u32, bool)] = &[
    ("open", 60, true),
    ("read", 4, false),
    ("creator", 6, false),
    ("alice", 5, true),
    ("alice+read", 5, true),
    ("bob+read", 3, false),
    ("ip", 4, true),
    ("ipnet", 1, true),
    ("nocreate", 2, false),
    ("nodelete", 2, false),
    ("zero", 1, false),
    ("dup", 2, true),
    ("allbits", 1, true),
    ("empty", 2, true),
    ("badip", 1, true),
    ("badscheme", 1, true),
    ("baddigest", 1, true),
    ("worldother", 1, true),
];

fn acl_list(name: &str) -> Vec<Acl> {
    match name {
        "open" => vec![acl(31, "world", "anyone")],
        "read" => vec![acl(1, "world", "anyone")],
        "creator" => vec![acl(31, "auth", "")],
        "alice" => vec![acl(31, "digest", ALICE)],
        "alice+read" => vec![acl(1, "world", "anyone"), acl(31, "digest", ALICE)],
        "bob+read" => vec![acl(3, "digest", BOB), acl(1, "world", "anyone")],
        "ip" => vec![acl(31, "ip", "127.0.0.1")],
        "ipnet" => vec![acl(31, "ip", "127.0.0.0/8")],
        "nocreate" => vec![acl(31 & !4, "world", "anyone")],
        "nodelete" => vec![acl(31 & !8, "world", "anyone")],
        "zero" => vec![acl(0, "world", "anyone")],
        "dup" => vec![acl(31, "world", "anyone"), acl(31, "world", "anyone")],
        "allbits" => vec![acl(0x7fff_ffff, "world", "anyone")],
        "empty" => vec![],
        "badip" => vec![acl(31, "ip", "not-an-ip")],
        "badscheme" => vec![acl(31, "foo", "bar")],
        "baddigest" => vec![acl(31, "digest", "alice")],
        "worldother" => vec![acl(31, "world", "someone")],
        _ => unreachable!("unknown ACL choice {name}"),
    }
}

const NAMES1: [&str; 3] = ["a", "b", "c"];
const NAMES2: [&str; 2] = ["x", "y"];

/// Paths that are not valid ZooKeeper paths (or are edge cases of validation).
const ODD_PATHS: &[&str] = &[
    "",
    "d",
    "/d/",
    "//d",
    "/d//a",
    "/d/./a",
    "/d/../a",
    "/d/.",
    "/d/..",
    "/d/a\u{0}",
    "/d/\u{1}",
    "/d/\u{7f}",
    "/d/\u{e000}",
    "/d/\u{fff0}",
    "/d/.a",
    "/d/a b",
    "/no/parent",
];

/// Special paths for reads.
const SPECIAL_READ: &[&str] = &[
    "/",
    "/zookeeper",
    "/zookeeper/quota",
    "/zookeeper/quota/d",
    "/zookeeper/quota/d/zookeeper_limits",
    "/zookeeper/quota/d/zookeeper_stats",
];

/// Special paths for setData and delete. Not the quota nodes: Java 3.8 parses their data on
/// every later write below the quota root, and garbage there makes that throw in SyncThread,
/// which stops the server (StatsTrack's constructor, ArrayIndexOutOfBoundsException).
const SPECIAL_WRITE: &[&str] = &["/", "/zookeeper", "/zookeeper/quota"];

const QUOTA_DIR: &str = "/zookeeper/quota/d";

struct Gen {
    rng: Rng,
    sessions: usize,
    /// The nodes believed to exist (from the reference server's replies), with the slot
    /// of the session owning them if ephemeral. Only steers the choice of paths.
    known: BTreeMap<String, Option<usize>>,
    /// Effects of the op being generated.
    effects: Vec<Effect>,
    data_counter: u32,
}

fn depth(path: &str) -> usize {
    path.matches('/').count()
}

impl Gen {
    fn new(seed: u64, sessions: usize) -> Gen {
        Gen {
            rng: Rng::new(seed),
            sessions,
            known: BTreeMap::new(),
            effects: Vec::new(),
            data_counter: 0,
        }
    }

    fn namespace_path(&mut self) -> String {
        let r = &mut self.rng;
        let d = r.weighted(&[5, 20, 45, 30]);
        let mut p = "/d".to_string();
        if d >= 1 {
            p.push('/');
            p.push_str(NAMES1[r.below(NAMES1.len())]);
        }
        if d >= 2 {
            p.push('/');
            p.push_str(NAMES2[r.below(NAMES2.len())]);
        }
        if d >= 3 {
            p.push_str("/z");
        }
        p
    }

    /// A path for an operation: mostly the small namespace, sometimes a sequential node,
    /// an odd (invalid) path, or a special one (`/`, `/zookeeper`).
    fn path(&mut self, special: &[&str]) -> String {
        let r = self.rng.below(100);
        if r < 4 {
            return self.rng.pick(ODD_PATHS).to_string();
        }
        if r < 6 && !special.is_empty() {
            return self.rng.pick(special).to_string();
        }
        if r < 50 && !self.known.is_empty() {
            return self.known_path();
        }
        self.namespace_path()
    }

    fn known_path(&mut self) -> String {
        let i = self.rng.below(self.known.len());
        self.known.keys().nth(i).expect("index in range").clone()
    }

    fn data(&mut self) -> Option<Bytes> {
        self.data_counter += 1;
        match self.rng.weighted(&[5, 10, 80, 5]) {
            0 => None,
            1 => Some(Bytes::new()),
            2 => Some(Bytes::from(format!("v{}", self.data_counter))),
            _ => Some(Bytes::from(
                (0..1500u32)
                    .map(|i| (i.wrapping_mul(31) ^ self.data_counter) as u8)
                    .collect::<Vec<u8>>(),
            )),
        }
    }

    fn version(&mut self) -> i32 {
        match self.rng.weighted(&[35, 60, 5]) {
            0 => -1,
            1 => self.rng.below(4) as i32,
            _ => *self.rng.pick(&[-2, 100]),
        }
    }

    fn acl_for(&mut self, path: &str) -> (&'static str, Vec<Acl>) {
        let structural = depth(path) <= 2 && path.starts_with("/d");
        let weights: Vec<u32> = ACL_CHOICES
            .iter()
            .map(|(_, w, safe)| if structural && !safe { 0 } else { *w })
            .collect();
        let name = ACL_CHOICES[self.rng.weighted(&weights)].0;
        (name, acl_list(name))
    }

    fn create_flags(&mut self) -> i32 {
        const F: [(i32, u32); 10] = [
            (0, 30),
            (1, 18),
            (2, 15),
            (3, 10),
            (4, 6),
            (5, 4),
            (6, 4),
            (7, 1),
            (-1, 1),
            (99, 1),
        ];
        let w: Vec<u32> = F.iter().map(|f| f.1).collect();
        F[self.rng.weighted(&w)].0
    }

    fn ttl(&mut self) -> i64 {
        const T: [(i64, u32); 7] = [
            (3_600_000, 70),
            (1, 5),
            (0, 8),
            (-5, 5),
            (0x00ff_ffff_ffff, 5),
            (0x0100_0000_0000, 4),
            (i64::MAX, 3),
        ];
        let w: Vec<u32> = T.iter().map(|t| t.1).collect();
        T[self.rng.weighted(&w)].0
    }

    /// A path for a create: often a child of a node believed to exist, sometimes with a
    /// trailing slash for sequential creates.
    fn create_path(&mut self, flags: i32) -> String {
        let sequential = flags == 2 || flags == 3 || flags == 6;
        if sequential && self.rng.chance(90) {
            // Sequential nodes hang off the fixed namespace, so names do not pile up.
            let p = self.namespace_path();
            return if self.rng.chance(5) {
                format!("{p}/")
            } else {
                p
            };
        }
        if self.rng.chance(60) {
            let parents: Vec<&String> = self.known.keys().filter(|k| depth(k) <= 3).collect();
            let parent = if parents.is_empty() || self.rng.chance(10) {
                "/d".to_string()
            } else {
                parents[self.rng.below(parents.len())].clone()
            };
            let child = match depth(&parent) {
                1 => *self.rng.pick(&NAMES1),
                2 => *self.rng.pick(&NAMES2),
                _ => "z",
            };
            format!("{parent}/{child}")
        } else {
            self.path(&[])
        }
    }

    fn create_request(&mut self) -> (CreateRequest, String) {
        let flags = self.create_flags();
        let path = self.create_path(flags);
        let data = self.data();
        let (acl_name, acl) = self.acl_for(&path);
        self.effects.push(Effect::Create {
            path: path.clone(),
            ephemeral: flags == 1 || flags == 3,
        });
        let desc = format!(
            "{} data={} acl={acl_name} flags={flags}",
            show_str(&path),
            show_data(&data)
        );
        (
            CreateRequest {
                path,
                data,
                acl,
                flags,
            },
            desc,
        )
    }

    fn ttl_request(&mut self, multi: bool) -> (CreateTTLRequest, String) {
        let flags = *self.rng.pick(&[5, 5, 5, 5, 6, 6, 6, 0, 1, 4, 3]);
        let path = self.create_path(flags);
        let data = self.data();
        let (acl_name, acl) = self.acl_for(&path);
        let mut ttl = self.ttl();
        if flags != 5 && flags != 6 && ttl < 0 && !multi {
            // Java 3.8 bug: a createTTL request with a non-TTL mode and a negative ttl passes
            // validation, and applying its txn throws in SyncThread, which stops the server.
            ttl = -ttl;
        }
        self.effects.push(Effect::Create {
            path: path.clone(),
            ephemeral: false,
        });
        let desc = format!(
            "{} data={} acl={acl_name} flags={flags} ttl={ttl}",
            show_str(&path),
            show_data(&data)
        );
        (
            CreateTTLRequest {
                path,
                data,
                acl,
                flags,
                ttl,
            },
            desc,
        )
    }

    fn multi_write_op(&mut self) -> (MultiOp, String) {
        match self.rng.weighted(&[22, 8, 4, 6, 20, 22, 18]) {
            0 => {
                let (r, d) = self.create_request();
                (MultiOp::Create(OpCode::Create, r), format!("create {d}"))
            }
            1 => {
                let (r, d) = self.create_request();
                (MultiOp::Create(OpCode::Create2, r), format!("create2 {d}"))
            }
            2 => {
                let (mut r, d) = self.create_request();
                // Mostly the container flag; sometimes whatever create_request chose (Java
                // goes by the flags, not by the op code, inside a multi).
                let d = if self.rng.chance(75) {
                    r.flags = 4;
                    format!("{d} (flags set to 4)")
                } else {
                    d
                };
                (
                    MultiOp::Create(OpCode::CreateContainer, r),
                    format!("createContainer {d}"),
                )
            }
            3 => {
                let (r, d) = self.ttl_request(true);
                (MultiOp::CreateTtl(r), format!("createTTL {d}"))
            }
            4 => {
                let path = self.path(&[]);
                let version = self.version();
                self.effects.push(Effect::Delete { path: path.clone() });
                let d = format!("delete {} v={version}", show_str(&path));
                (MultiOp::Delete(DeleteRequest { path, version }), d)
            }
            5 => {
                let path = self.path(&[]);
                let data = self.data();
                let version = self.version();
                let d = format!(
                    "setData {} data={} v={version}",
                    show_str(&path),
                    show_data(&data)
                );
                (
                    MultiOp::SetData(SetDataRequest {
                        path,
                        data,
                        version,
                    }),
                    d,
                )
            }
            _ => {
                let path = self.path(&[]);
                let version = self.version();
                let d = format!("check {} v={version}", show_str(&path));
                (MultiOp::Check(CheckVersionRequest { path, version }), d)
            }
        }
    }

    fn multi_read_op(&mut self) -> (MultiOp, String) {
        let path = self.path(SPECIAL_READ);
        if self.rng.chance(50) {
            let d = format!("getChildren {}", show_str(&path));
            (
                MultiOp::GetChildren(GetChildrenRequest { path, watch: false }),
                d,
            )
        } else {
            let d = format!("getData {}", show_str(&path));
            (MultiOp::GetData(GetDataRequest { path, watch: false }), d)
        }
    }

    fn next(&mut self) -> Op {
        self.effects.clear();
        const KINDS: &[(&str, u32)] = &[
            ("create", 140),
            ("create2", 50),
            ("createContainer", 30),
            ("createTTL", 40),
            ("delete", 100),
            ("exists", 70),
            ("getData", 70),
            ("setData", 80),
            ("getChildren", 40),
            ("getChildren2", 40),
            ("getACL", 30),
            ("setACL", 40),
            ("sync", 15),
            ("multi", 60),
            ("multiRead", 20),
            ("checkWatches", 20),
            ("removeWatches", 20),
            ("addWatch", 30),
            ("getAllChildrenNumber", 15),
            ("getEphemerals", 15),
            ("whoAmI", 10),
            ("addAuth", 10),
            ("ping", 10),
            ("reconnect", 10),
            ("resume", 10),
            ("badOp", 6),
            ("bigData", 2),
            ("garbage", 6),
            ("setQuota", 3),
            ("delQuota", 2),
        ];
        let w: Vec<u32> = KINDS.iter().map(|k| k.1).collect();
        let kind = KINDS[self.rng.weighted(&w)].0;
        let session = self.rng.below(self.sessions);
        let req = |opcode: i32, body: Bytes| Action::Request { opcode, body };
        let (action, desc) = match kind {
            "create" | "create2" => {
                let (r, d) = self.create_request();
                let opcode = if kind == "create" {
                    ops::CREATE
                } else {
                    ops::CREATE2
                };
                (req(opcode, r.to_bytes()), d)
            }
            "createContainer" => {
                let (mut r, d) = self.create_request();
                r.flags = *self.rng.pick(&[4, 4, 4, 4, 4, 4, 4, 4, 0, 1]);
                let d = format!("{d} (flags set to {})", r.flags);
                (req(ops::CREATE_CONTAINER, r.to_bytes()), d)
            }
            "createTTL" => {
                let (r, d) = self.ttl_request(false);
                (req(ops::CREATE_TTL, r.to_bytes()), d)
            }
            "delete" => {
                let path = self.path(SPECIAL_WRITE);
                let version = self.version();
                self.effects.push(Effect::Delete { path: path.clone() });
                let d = format!("{} v={version}", show_str(&path));
                (
                    req(ops::DELETE, DeleteRequest { path, version }.to_bytes()),
                    d,
                )
            }
            "exists" | "getData" | "getChildren" | "getChildren2" => {
                let path = self.path(SPECIAL_READ);
                let watch = self.rng.chance(50);
                let d = format!("{} watch={watch}", show_str(&path));
                let (opcode, body) = match kind {
                    "exists" => (ops::EXISTS, ExistsRequest { path, watch }.to_bytes()),
                    "getData" => (ops::GET_DATA, GetDataRequest { path, watch }.to_bytes()),
                    "getChildren" => (
                        ops::GET_CHILDREN,
                        GetChildrenRequest { path, watch }.to_bytes(),
                    ),
                    _ => (
                        ops::GET_CHILDREN2,
                        GetChildren2Request { path, watch }.to_bytes(),
                    ),
                };
                (req(opcode, body), d)
            }
            "setData" => {
                let path = self.path(SPECIAL_WRITE);
                let data = self.data();
                let version = self.version();
                let d = format!("{} data={} v={version}", show_str(&path), show_data(&data));
                let body = SetDataRequest {
                    path,
                    data,
                    version,
                }
                .to_bytes();
                (req(ops::SET_DATA, body), d)
            }
            "getACL" => {
                let path = self.path(SPECIAL_READ);
                let d = show_str(&path);
                (req(ops::GET_ACL, GetACLRequest { path }.to_bytes()), d)
            }
            "setACL" => {
                // Never on "/": a restrictive ACL there would freeze the whole run.
                let path = self.path(&[]);
                let (acl_name, acl) = self.acl_for(&path);
                let version = self.version();
                let d = format!("{} acl={acl_name} v={version}", show_str(&path));
                let body = SetACLRequest { path, acl, version }.to_bytes();
                (req(ops::SET_ACL, body), d)
            }
            "sync" => {
                let path = self.path(SPECIAL_READ);
                let d = show_str(&path);
                (req(ops::SYNC, SyncRequest { path }.to_bytes()), d)
            }
            "multi" => {
                let n = self.rng.weighted(&[3, 25, 35, 25, 12]);
                let mut mops = Vec::new();
                let mut descs = Vec::new();
                for _ in 0..n {
                    let (o, d) = self.multi_write_op();
                    mops.push(o);
                    descs.push(d);
                }
                if n > 0 && self.rng.chance(2) {
                    // A read mixed into a write multi.
                    let (o, d) = self.multi_read_op();
                    mops.push(o);
                    descs.push(d);
                }
                let mut b = BytesMut::new();
                encode_multi_request(&mops, &mut b);
                (
                    req(ops::MULTI, b.freeze()),
                    format!("[{}]", descs.join("; ")),
                )
            }
            "multiRead" => {
                let n = self.rng.weighted(&[3, 30, 35, 20, 12]);
                let mut mops = Vec::new();
                let mut descs = Vec::new();
                for _ in 0..n {
                    let (o, d) = self.multi_read_op();
                    mops.push(o);
                    descs.push(d);
                }
                let mut b = BytesMut::new();
                encode_multi_request(&mops, &mut b);
                (
                    req(ops::MULTI_READ, b.freeze()),
                    format!("[{}]", descs.join("; ")),
                )
            }
            "checkWatches" | "removeWatches" => {
                let path = self.path(SPECIAL_READ);
                // 1 children, 2 data, 3 any; 4 is not a WatcherType in 3.8.
                let r#type = *self.rng.pick(&[1, 1, 2, 2, 3, 3, 3, 1, 2, 3, 3, 4]);
                let d = format!("{} type={}", show_str(&path), r#type);
                if kind == "checkWatches" {
                    let body = CheckWatchesRequest { path, r#type }.to_bytes();
                    (req(ops::CHECK_WATCHES, body), d)
                } else {
                    let body = RemoveWatchesRequest { path, r#type }.to_bytes();
                    (req(ops::REMOVE_WATCHES, body), d)
                }
            }
            "addWatch" => {
                let path = if self.rng.chance(40) {
                    (*self.rng.pick(&["/d", "/d", "/d/a", "/d/b", "/d/c", "/"])).to_string()
                } else {
                    self.path(SPECIAL_READ)
                };
                let mode = *self
                    .rng
                    .pick(&[0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2]);
                let d = format!("{} mode={mode}", show_str(&path));
                (
                    req(ops::ADD_WATCH, AddWatchRequest { path, mode }.to_bytes()),
                    d,
                )
            }
            "getAllChildrenNumber" => {
                let path = self.path(SPECIAL_READ);
                let d = show_str(&path);
                (
                    req(
                        ops::GET_ALL_CHILDREN_NUMBER,
                        GetAllChildrenNumberRequest { path }.to_bytes(),
                    ),
                    d,
                )
            }
            "getEphemerals" => {
                let prefix_path = self
                    .rng
                    .pick(&["", "/", " / ", "/d", "/d/a", "/d/a/", "/d/b/x", "/x", "d"])
                    .to_string();
                let d = show_str(&prefix_path);
                (
                    req(
                        ops::GET_EPHEMERALS,
                        GetEphemeralsRequest { prefix_path }.to_bytes(),
                    ),
                    d,
                )
            }
            "whoAmI" => (req(ops::WHO_AM_I, Bytes::new()), String::new()),
            "addAuth" => {
                // An unknown scheme fails and Java closes the connection (not the session).
                let (scheme, auth) = *self.rng.pick(&[
                    ("digest", "alice:pw"),
                    ("digest", "alice:pw"),
                    ("digest", "bob:pw"),
                    ("digest", "bob:pw"),
                    ("digest", "alice:wrong"),
                    ("digest", "alice"),
                    ("digest", ""),
                    ("ip", "10.0.0.1"),
                    ("nosuch", "x"),
                    ("world", "anyone"),
                ]);
                (
                    Action::Auth { scheme, auth },
                    format!("{scheme} {}", show_str(auth)),
                )
            }
            "ping" => (Action::Ping, String::new()),
            "reconnect" => {
                // Java bounds the timeout to [2, 20] ticks: 4000..40000 here.
                let timeout_ms = *self
                    .rng
                    .pick(&[30_000, 30_000, 30_000, 20_000, 100_000, 40_001]);
                let old_client = self.rng.chance(25);
                (
                    Action::Reconnect {
                        timeout_ms,
                        old_client,
                    },
                    format!("timeout={timeout_ms} old_client={old_client}"),
                )
            }
            "badOp" => {
                // Op codes a client should not send, or not like this. Java answers some and
                // closes the connection after others (the session lives on).
                let path = self.path(&[]);
                let (opcode, body, d) = match self.rng.below(7) {
                    0 => (
                        ops::NOTIFICATION,
                        Bytes::new(),
                        "notification(0)".to_string(),
                    ),
                    1 => (
                        ops::RECONFIG,
                        ReconfigRequest {
                            joining_servers: String::new(),
                            leaving_servers: String::new(),
                            new_members: String::new(),
                            cur_config_id: -1,
                        }
                        .to_bytes(),
                        "reconfig".to_string(),
                    ),
                    2 => (
                        ops::DELETE_CONTAINER,
                        Bytes::from(path.clone().into_bytes()),
                        format!("deleteContainer {}", show_str(&path)),
                    ),
                    3 => (
                        ops::PING,
                        Bytes::new(),
                        "ping with an ordinary xid".to_string(),
                    ),
                    4 => (50, Bytes::new(), "op 50".to_string()),
                    5 => (999, Bytes::from_static(b"junk"), "op 999".to_string()),
                    _ => (
                        ops::SET_WATCHES,
                        SetWatches {
                            relative_zxid: 0,
                            data_watches: vec![path.clone()],
                            exist_watches: vec![],
                            child_watches: vec![],
                        }
                        .to_bytes(),
                        format!("setWatches with an ordinary xid, relZxid 0, data [{path}]"),
                    ),
                };
                (req(opcode, body), d)
            }
            "bigData" => {
                // Requests around Java's frame limit (jute.maxbuffer 0xfffff plus the
                // server's 1024 extra bytes): above it Java closes the connection, the session
                // lives on.
                const BIG: &str = "/d/big";
                let frame = *self.rng.pick(&[
                    0xfffff - 1000,
                    0xfffff,
                    0xfffff + 1,
                    0xfffff + 1024,
                    0xfffff + 1025,
                    0x1f_ffff,
                ]);
                let create = self.rng.chance(40);
                // RequestHeader 8, path 4 + len, data 4 + len, then the version, or the ACL
                // list (count 4, perms 4, "world" 4 + 5, "anyone" 4 + 6) and the flags: 4 each.
                let fixed = 8 + 4 + BIG.len() + 4 + 4 + if create { 27 } else { 0 };
                let data = Some(Bytes::from(vec![b'x'; frame - fixed]));
                if create {
                    let r = CreateRequest {
                        path: BIG.into(),
                        data,
                        acl: acl_list("open"),
                        flags: 0,
                    };
                    debug_assert_eq!(r.to_bytes().len() + 8, frame);
                    (
                        req(ops::CREATE, r.to_bytes()),
                        format!("create {BIG} frame={frame}"),
                    )
                } else {
                    let r = SetDataRequest {
                        path: BIG.into(),
                        data,
                        version: -1,
                    };
                    debug_assert_eq!(r.to_bytes().len() + 8, frame);
                    (
                        req(ops::SET_DATA, r.to_bytes()),
                        format!("setData {BIG} frame={frame}"),
                    )
                }
            }
            "garbage" => {
                // A valid request body cut short, or with junk after it.
                let path = self.path(&[]);
                let (opcode, body) = match self.rng.below(8) {
                    0 => (
                        ops::CREATE,
                        CreateRequest {
                            path,
                            data: Some(Bytes::from_static(b"g")),
                            acl: acl_list("open"),
                            flags: 0,
                        }
                        .to_bytes(),
                    ),
                    1 => (ops::DELETE, DeleteRequest { path, version: -1 }.to_bytes()),
                    2 => (
                        ops::SET_DATA,
                        SetDataRequest {
                            path,
                            data: Some(Bytes::from_static(b"g")),
                            version: -1,
                        }
                        .to_bytes(),
                    ),
                    3 => (
                        ops::GET_DATA,
                        GetDataRequest { path, watch: true }.to_bytes(),
                    ),
                    4 => (ops::EXISTS, ExistsRequest { path, watch: true }.to_bytes()),
                    5 => (
                        ops::GET_CHILDREN2,
                        GetChildren2Request { path, watch: true }.to_bytes(),
                    ),
                    6 => (
                        ops::SET_ACL,
                        SetACLRequest {
                            path,
                            acl: acl_list("open"),
                            version: -1,
                        }
                        .to_bytes(),
                    ),
                    _ => {
                        let mut b = BytesMut::new();
                        encode_multi_request(
                            &[MultiOp::Delete(DeleteRequest { path, version: -1 })],
                            &mut b,
                        );
                        (ops::MULTI, b.freeze())
                    }
                };
                let (body, d) = if self.rng.chance(50) && body.len() > 1 {
                    let cut = 1 + self.rng.below(body.len() - 1);
                    (
                        body.slice(..cut),
                        format!("op {opcode} cut to {cut} of {} bytes", body.len()),
                    )
                } else {
                    let mut b = BytesMut::from(&body[..]);
                    b.extend_from_slice(b"\x00\x01junk");
                    (
                        b.freeze(),
                        format!("op {opcode} with 6 junk bytes after {} bytes", body.len()),
                    )
                };
                (req(opcode, body), d)
            }
            "resume" => {
                let wrong_password = self.rng.chance(20);
                let stale_zxid = self.rng.chance(10);
                let watches = if self.rng.chance(70) {
                    let v1 = self.rng.chance(30);
                    let back = self.rng.below(30) as i64;
                    let list = |me: &mut Gen, n: usize| -> Vec<String> {
                        (0..me.rng.below(n + 1)).map(|_| me.path(&[])).collect()
                    };
                    let mut w = WatchSpec {
                        v1,
                        back,
                        data: list(self, 3),
                        exist: list(self, 3),
                        child: list(self, 3),
                        persistent: list(self, 1),
                        recursive: list(self, 1),
                    };
                    if v1 {
                        w.persistent.clear();
                        w.recursive.clear();
                    }
                    Some(w)
                } else {
                    None
                };
                let d = format!(
                    "wrong_password_first={wrong_password} stale_zxid_first={stale_zxid} setWatches={}",
                    match &watches {
                        None => "none".to_string(),
                        Some(w) => format!(
                            "v{} relZxid=last-{} data={:?} exist={:?} child={:?} persistent={:?} recursive={:?}",
                            if w.v1 { 1 } else { 2 },
                            w.back,
                            w.data,
                            w.exist,
                            w.child,
                            w.persistent,
                            w.recursive
                        ),
                    }
                );
                (
                    Action::Resume {
                        wrong_password,
                        stale_zxid,
                        watches,
                    },
                    d,
                )
            }
            "setQuota" => {
                // What zkCli's setquota does: the quota node, its limits, then its stats
                // (which makes the server compute and maintain them).
                let count = self.rng.below(30);
                let bytes = self.rng.below(3000);
                let mops = vec![
                    MultiOp::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: QUOTA_DIR.into(),
                            data: Some(Bytes::new()),
                            acl: acl_list("open"),
                            flags: 0,
                        },
                    ),
                    MultiOp::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: format!("{QUOTA_DIR}/zookeeper_limits"),
                            data: Some(Bytes::from(format!("count={count},bytes={bytes}"))),
                            acl: acl_list("open"),
                            flags: 0,
                        },
                    ),
                    MultiOp::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: format!("{QUOTA_DIR}/zookeeper_stats"),
                            data: Some(Bytes::from_static(b"count=0,bytes=0")),
                            acl: acl_list("open"),
                            flags: 0,
                        },
                    ),
                ];
                let mut b = BytesMut::new();
                encode_multi_request(&mops, &mut b);
                (
                    req(ops::MULTI, b.freeze()),
                    format!("/d count={count} bytes={bytes}"),
                )
            }
            "delQuota" => {
                let mops = vec![
                    MultiOp::Delete(DeleteRequest {
                        path: format!("{QUOTA_DIR}/zookeeper_limits"),
                        version: -1,
                    }),
                    MultiOp::Delete(DeleteRequest {
                        path: format!("{QUOTA_DIR}/zookeeper_stats"),
                        version: -1,
                    }),
                    MultiOp::Delete(DeleteRequest {
                        path: QUOTA_DIR.into(),
                        version: -1,
                    }),
                ];
                let mut b = BytesMut::new();
                encode_multi_request(&mops, &mut b);
                (req(ops::MULTI, b.freeze()), "/d".to_string())
            }
            _ => unreachable!(),
        };
        let desc = format!("s{session} {kind} {desc}").trim_end().to_string();
        Op {
            kind,
            session,
            action,
            desc,
            effects: std::mem::take(&mut self.effects),
        }
    }

    /// Update the model of existing nodes from the reference server's outcome.
    fn observe(&mut self, op: &Op, reply: &str, created: &[String]) {
        if matches!(op.action, Action::Reconnect { .. }) {
            self.known.retain(|_, owner| *owner != Some(op.session));
            return;
        }
        let err = reply.split(' ').next().unwrap_or("");
        let single = op.effects.len() == 1 && op.kind != "multi";
        if single {
            match &op.effects[0] {
                Effect::Create { path, ephemeral } => match err {
                    "OK" => {
                        if let Some(p) = created.first() {
                            self.known
                                .insert(p.clone(), ephemeral.then_some(op.session));
                        }
                    }
                    "NodeExists" => {
                        self.known.entry(path.clone()).or_insert(None);
                    }
                    _ => {}
                },
                Effect::Delete { path } => {
                    if err == "OK" || err == "NoNode" {
                        self.known.remove(path);
                    }
                }
            }
        } else if op.kind == "multi" && err == "OK" && !reply.contains("error ") {
            let mut created = created.iter();
            for e in &op.effects {
                match e {
                    Effect::Create { ephemeral, .. } => {
                        if let Some(p) = created.next() {
                            self.known
                                .insert(p.clone(), ephemeral.then_some(op.session));
                        }
                    }
                    Effect::Delete { path } => {
                        self.known.remove(path);
                    }
                }
            }
        }
        // Keep the model small and shallow.
        self.known.retain(|k, _| depth(k) <= 4);
        while self.known.len() > 64 {
            let k = self.known.keys().last().expect("non-empty").clone();
            self.known.remove(&k);
        }
    }
}

fn show_str(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| (' '..='~').contains(&c) && c != ' ') {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

fn show_data(d: &Option<Bytes>) -> String {
    match d {
        None => "null".into(),
        Some(b) if b.len() <= 40 && b.iter().all(|c| (0x20..0x7f).contains(c)) => {
            format!("{:?}", String::from_utf8_lossy(b))
        }
        Some(b) => {
            // Long or binary: length and a cheap checksum.
            let sum = b
                .iter()
                .fold(0u32, |a, &c| a.wrapping_mul(31).wrapping_add(c as u32));
            format!("<{} bytes #{sum:08x}>", b.len())
        }
    }
}

// ------------------------------------------------------------------------------------------
// Normalisation

fn err_name(e: i32) -> String {
    let n = match e {
        0 => "OK",
        -1 => "SystemError",
        -2 => "RuntimeInconsistency",
        -3 => "DataInconsistency",
        -4 => "ConnectionLoss",
        -5 => "MarshallingError",
        -6 => "Unimplemented",
        -7 => "OperationTimeout",
        -8 => "BadArguments",
        -13 => "NewConfigNoQuorum",
        -14 => "ReconfigInProgress",
        -15 => "UnknownSession",
        -100 => "APIError",
        -101 => "NoNode",
        -102 => "NoAuth",
        -103 => "BadVersion",
        -108 => "NoChildrenForEphemerals",
        -110 => "NodeExists",
        -111 => "NotEmpty",
        -112 => "SessionExpired",
        -113 => "InvalidCallback",
        -114 => "InvalidACL",
        -115 => "AuthFailed",
        -118 => "SessionMoved",
        -119 => "NotReadOnly",
        -120 => "EphemeralOnLocalSession",
        -121 => "NoWatcher",
        -122 => "RequestTimeout",
        -123 => "ReconfigDisabled",
        -124 => "SessionClosedRequireSasl",
        -125 => "QuotaExceeded",
        -127 => "Throttled",
        _ => return format!("err{e}"),
    };
    n.to_string()
}

fn event_type(t: i32) -> String {
    let n = match t {
        -1 => "None",
        1 => "NodeCreated",
        2 => "NodeDeleted",
        3 => "NodeDataChanged",
        4 => "NodeChildrenChanged",
        5 => "DataWatchRemoved",
        6 => "ChildWatchRemoved",
        7 => "PersistentWatchRemoved",
        _ => return format!("type{t}"),
    };
    n.to_string()
}

/// Per-server normalisation context.
struct Norm<'a> {
    base: i64,
    labels: &'a HashMap<i64, String>,
}

impl Norm<'_> {
    fn zxid(&self, z: i64) -> String {
        if z <= 0 {
            z.to_string()
        } else {
            format!("Z{:+}", z - self.base)
        }
    }

    fn owner(&self, o: i64) -> String {
        if o == 0 {
            return "-".into();
        }
        if let Some(l) = self.labels.get(&o) {
            return l.clone();
        }
        if o == i64::MIN {
            return "container".into();
        }
        if (o as u64) >> 56 == 0xff {
            return format!("ttl:{:#x}", o as u64);
        }
        format!("unknown-session:{:#x}", o as u64)
    }

    fn stat(&self, s: &Stat) -> String {
        let t = time_check(s);
        format!(
            "{{c:{} m:{} p:{} t:{} v:{} cv:{} av:{} eo:{} dl:{} nc:{}}}",
            self.zxid(s.czxid),
            self.zxid(s.mzxid),
            self.zxid(s.pzxid),
            t,
            s.version,
            s.cversion,
            s.aversion,
            self.owner(s.ephemeral_owner),
            s.data_length,
            s.num_children
        )
    }

    fn acls(&self, acl: &[Acl]) -> String {
        let mut v: Vec<String> = acl
            .iter()
            .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
            .collect();
        v.sort();
        format!("[{}]", v.join(", "))
    }

    fn multi_result(&self, r: &MultiResult) -> String {
        match r {
            MultiResult::Create(p) => format!("create {}", show_str(p)),
            MultiResult::Create2(p, s) => format!("create2 {} {}", show_str(p), self.stat(s)),
            MultiResult::Delete => "delete".into(),
            MultiResult::SetData(s) => format!("setData {}", self.stat(s)),
            MultiResult::Check => "check".into(),
            MultiResult::GetChildren(c) => format!("getChildren {}", sorted(c)),
            MultiResult::GetData(d, s) => format!("getData {} {}", show_data(d), self.stat(s)),
            MultiResult::Error(e) => format!("error {}", err_name(*e)),
        }
    }

    /// The decoded body of a reply to `opcode`, and the paths it reports as created.
    fn body(&self, opcode: i32, body: &Bytes, created: &mut Vec<String>) -> String {
        if body.is_empty() {
            return String::new();
        }
        fn dec<T: Decode>(b: &Bytes) -> Result<T, String> {
            T::from_bytes_exact(b.clone()).map_err(|e| format!("UNDECODABLE ({e}) {}", hex(b)))
        }
        let r: Result<String, String> = (|| {
            Ok(match opcode {
                ops::CREATE => {
                    let r: CreateResponse = dec(body)?;
                    created.push(r.path.clone());
                    show_str(&r.path)
                }
                ops::CREATE2 | ops::CREATE_CONTAINER | ops::CREATE_TTL => {
                    let r: Create2Response = dec(body)?;
                    created.push(r.path.clone());
                    format!("{} {}", show_str(&r.path), self.stat(&r.stat))
                }
                ops::EXISTS => self.stat(&dec::<ExistsResponse>(body)?.stat),
                ops::GET_DATA => {
                    let r: GetDataResponse = dec(body)?;
                    format!("{} {}", show_data(&r.data), self.stat(&r.stat))
                }
                ops::SET_DATA => self.stat(&dec::<SetDataResponse>(body)?.stat),
                ops::GET_ACL => {
                    let r: GetACLResponse = dec(body)?;
                    format!("{} {}", self.acls(&r.acl), self.stat(&r.stat))
                }
                ops::SET_ACL => self.stat(&dec::<SetACLResponse>(body)?.stat),
                ops::GET_CHILDREN => sorted(&dec::<GetChildrenResponse>(body)?.children),
                ops::GET_CHILDREN2 => {
                    let r: GetChildren2Response = dec(body)?;
                    format!("{} {}", sorted(&r.children), self.stat(&r.stat))
                }
                ops::SYNC => show_str(&dec::<SyncResponse>(body)?.path),
                ops::MULTI | ops::MULTI_READ => {
                    let mut b = body.clone();
                    let rs = decode_multi_response(&mut b)
                        .map_err(|e| format!("UNDECODABLE ({e}) {}", hex(body)))?;
                    if !b.is_empty() {
                        return Err(format!("TRAILING BYTES {}", hex(&b)));
                    }
                    for r in &rs {
                        match r {
                            MultiResult::Create(p) | MultiResult::Create2(p, _) => {
                                created.push(p.clone())
                            }
                            _ => {}
                        }
                    }
                    let v: Vec<String> = rs.iter().map(|r| self.multi_result(r)).collect();
                    format!("[{}]", v.join("; "))
                }
                ops::ADD_WATCH => format!("ErrorResponse({})", dec::<ErrorResponse>(body)?.err),
                ops::GET_ALL_CHILDREN_NUMBER => dec::<GetAllChildrenNumberResponse>(body)?
                    .total_number
                    .to_string(),
                ops::GET_EPHEMERALS => sorted(&dec::<GetEphemeralsResponse>(body)?.ephemerals),
                ops::WHO_AM_I => {
                    let mut v: Vec<String> = dec::<WhoAmIResponse>(body)?
                        .client_info
                        .iter()
                        .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                        .collect();
                    v.sort();
                    format!("[{}]", v.join(", "))
                }
                _ => format!("raw {}", hex(body)),
            })
        })();
        r.unwrap_or_else(|e| e)
    }
}

/// ctime/mtime cannot be compared across servers (nor reliably with each other: two
/// transactions may share a millisecond), so check what must hold on any server instead:
/// each is 0 (nodes that exist from the start, as Java's `/` and `/zookeeper`) or a wall-clock
/// millisecond within a day of now, mtime >= ctime, and mtime == ctime when the node was never
/// modified (mzxid == czxid). Rendered as which of the two are 0 (`0`) or wall-clock (`w`),
/// e.g. `ww`, `0w`, `00`; anything else as the raw values.
fn time_check(s: &Stat) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    const DAY: i64 = 86_400_000;
    let kind = |t: i64| {
        if t == 0 {
            Some('0')
        } else if (now - DAY..=now + DAY).contains(&t) {
            Some('w')
        } else {
            None
        }
    };
    match (kind(s.ctime), kind(s.mtime)) {
        (Some(c), Some(m)) if s.mtime >= s.ctime && (s.mzxid != s.czxid || s.mtime == s.ctime) => {
            format!("{c}{m}")
        }
        _ => format!("bad(ctime={},mtime={})", s.ctime, s.mtime),
    }
}

fn sorted(v: &[String]) -> String {
    let mut v: Vec<String> = v.iter().map(|s| show_str(s)).collect();
    v.sort();
    format!("[{}]", v.join(", "))
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for c in b.iter().take(256) {
        let _ = write!(s, "{c:02x}");
    }
    if b.len() > 256 {
        s.push_str("...");
    }
    s
}

// ------------------------------------------------------------------------------------------
// One server under test

struct Side {
    name: String,
    server: ServerProcess,
    slots: Vec<Option<Client>>,
    generation: Vec<u32>,
    labels: HashMap<i64, String>,
    base: i64,
    session_timeout_ms: i32,
    io_timeout: Duration,
}

/// What one operation did on one server, normalised.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    reply: String,
    /// Per session: notifications, the op's own reply marker, the barrier reply.
    streams: Vec<Vec<String>>,
    /// Set when a connection broke (the run cannot continue).
    fatal: Option<String>,
}

impl Outcome {
    fn render(&self) -> String {
        let mut s = format!("reply: {}", self.reply);
        for (i, st) in self.streams.iter().enumerate() {
            let _ = write!(s, "\ns{i}: {}", st.join(" | "));
        }
        if let Some(f) = &self.fatal {
            let _ = write!(s, "\nFATAL: {f}");
        }
        s
    }
}

fn io_msg(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "no reply (timeout)".into(),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "connection closed by the server".into(),
        _ => format!("I/O error: {e}"),
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

impl Side {
    fn start(imp: Impl, cfg: &Config) -> Result<Side, String> {
        let server = ServerProcess::start(imp)?;
        let mut side = Side {
            name: imp.name().to_string(),
            server,
            slots: Vec::new(),
            generation: vec![0; cfg.sessions],
            labels: HashMap::new(),
            base: 0,
            session_timeout_ms: cfg.session_timeout_ms,
            io_timeout: cfg.io_timeout,
        };
        let e = |what: &str, e: io::Error| format!("{}: setup {what}: {e}", imp);
        for i in 0..cfg.sessions {
            let c = Client::connect(side.server.addr(), cfg.session_timeout_ms, cfg.io_timeout)
                .map_err(|x| e("connect", x))?;
            side.labels.insert(c.session_id(), format!("s{i}.0"));
            side.slots.push(Some(c));
        }
        let c0 = side.slots[0].as_mut().expect("slot 0");
        c0.auth("digest", b"alice:pw").map_err(|x| e("auth", x))?;
        let body = CreateRequest {
            path: "/d".into(),
            data: Some(Bytes::from_static(b"root")),
            acl: acl_list("open"),
            flags: 0,
        }
        .to_bytes();
        let frames = c0.call(ops::CREATE, &body).map_err(|x| e("create /d", x))?;
        match frames.last() {
            Some(Received::Reply { header, .. }) if header.err == 0 => side.base = header.zxid,
            other => return Err(format!("{imp}: setup create /d failed: {other:?}")),
        }
        Ok(side)
    }

    fn norm(&self) -> Norm<'_> {
        Norm {
            base: self.base,
            labels: &self.labels,
        }
    }

    fn header(&self, h: &ReplyHeader, expect_xid: i32) -> String {
        let mut s = format!("{} {}", err_name(h.err), self.norm().zxid(h.zxid));
        if h.xid != expect_xid {
            let _ = write!(s, " xid={}", h.xid);
        }
        s
    }

    fn event(&self, zxid: i64, e: &WatcherEvent) -> String {
        let mut s = format!(
            "{} {}",
            event_type(e.r#type),
            if e.path.is_empty() {
                "\"\"".to_string()
            } else {
                show_str(&e.path)
            }
        );
        if e.state != 3 {
            let _ = write!(s, " state={}", e.state);
        }
        if zxid != -1 {
            let _ = write!(s, " @{}", self.norm().zxid(zxid));
        }
        s
    }

    /// Record the frames of one call into `stream` (the reply as `reply_marker`); returns
    /// the reply's rendering.
    fn absorb(
        &self,
        opcode: i32,
        expect_xid: i32,
        frames: &[Received],
        stream: &mut Vec<String>,
        created: &mut Vec<String>,
        reply_marker: &str,
    ) -> String {
        let mut reply = String::from("(no reply)");
        for f in frames {
            match f {
                Received::Event { zxid, event } => stream.push(self.event(*zxid, event)),
                Received::Reply { header, body } => {
                    stream.push(reply_marker.to_string());
                    let b = self.norm().body(opcode, body, created);
                    reply = if b.is_empty() {
                        self.header(header, expect_xid)
                    } else {
                        format!("{} {b}", self.header(header, expect_xid))
                    };
                }
            }
        }
        reply
    }

    fn client(&mut self, s: usize) -> &mut Client {
        self.slots[s].as_mut().expect("live session slot")
    }

    /// Resume slot `s`'s session on a new connection, after the server closed the old one.
    fn reattach(&mut self, s: usize) -> Result<String, String> {
        let old = self.slots[s].take().expect("live session slot");
        let (sid, passwd, last) = (old.session_id(), old.session.passwd.clone(), old.last_zxid);
        drop(old);
        match Client::handshake(
            self.server.addr(),
            self.session_timeout_ms,
            sid,
            &passwd,
            last,
            Some(false),
            self.io_timeout,
        ) {
            Ok(mut c) if c.session_id() == sid => {
                let mut txt = format!("session {} resumed", self.norm().owner(sid));
                if s == 0 {
                    // Auth is per connection: slot 0 is always alice (see `reconnect`).
                    match c.auth("digest", b"alice:pw") {
                        Ok(frames) => {
                            let mut ignore = (Vec::new(), Vec::new());
                            let r = self.absorb(
                                ops::AUTH,
                                ops::XID_AUTH,
                                &frames,
                                &mut ignore.0,
                                &mut ignore.1,
                                "",
                            );
                            let _ = write!(txt, ", auth {r}");
                        }
                        Err(e) => return Err(format!("auth after resuming: {}", io_msg(&e))),
                    }
                }
                self.slots[s] = Some(c);
                Ok(txt)
            }
            Ok(c) => Err(format!("resuming was refused: {:?}", c.session)),
            Err(e) => Err(format!("resuming failed: {}", io_msg(&e))),
        }
    }

    /// One exchange on slot `s` (`call` sends and reads up to the reply), recorded into
    /// `stream`. A connection the server closes is recorded and the session resumed on a new
    /// one (Java does that to a session after a failed auth or an unknown op code).
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        s: usize,
        opcode: i32,
        expect_xid: i32,
        call: impl FnOnce(&mut Client) -> io::Result<Vec<Received>>,
        stream: &mut Vec<String>,
        created: &mut Vec<String>,
        fatal: &mut Option<String>,
    ) -> String {
        match call(self.client(s)) {
            Ok(frames) => {
                let reply = self.absorb(opcode, expect_xid, &frames, stream, created, "<reply>");
                let err = match frames.last() {
                    Some(Received::Reply { header, .. }) => header.err,
                    _ => 0,
                };
                if err == -6 || err == -115 {
                    // Java closes the connection after Unimplemented and AuthFailed replies,
                    // at its own pace: wait for that here rather than racing a barrier.
                    match self.client(s).read() {
                        Ok(_) => stream.push("unexpected frame after the reply".into()),
                        Err(e) if is_closed(&e) => {
                            stream.push(io_msg(&e));
                            match self.reattach(s) {
                                Ok(t) => stream.push(t),
                                Err(x) => *fatal = Some(format!("s{s}: {x}")),
                            }
                        }
                        Err(e) => stream.push(format!("connection left open ({})", io_msg(&e))),
                    }
                }
                reply
            }
            Err(e) if is_closed(&e) => {
                let msg = io_msg(&e);
                stream.push(msg.clone());
                match self.reattach(s) {
                    Ok(t) => format!("{msg}; {t}"),
                    Err(x) => {
                        *fatal = Some(format!("s{s}: {msg}; {x}"));
                        msg
                    }
                }
            }
            Err(e) => {
                *fatal = Some(format!("s{s}: {}", io_msg(&e)));
                io_msg(&e)
            }
        }
    }

    /// closeSession, then a new session in the slot.
    fn reconnect(
        &mut self,
        s: usize,
        timeout_ms: i32,
        old_client: bool,
        streams: &mut [Vec<String>],
        created: &mut Vec<String>,
        fatal: &mut Option<String>,
    ) -> String {
        let mut old = self.slots[s].take().expect("live session slot");
        let expect = old.peek_xid();
        let close = match old.close_session() {
            Ok(frames) => self.absorb(
                ops::CLOSE_SESSION,
                expect,
                &frames,
                &mut streams[s],
                created,
                "<reply>",
            ),
            Err(e) => {
                *fatal = Some(format!("s{s} closeSession: {}", io_msg(&e)));
                io_msg(&e)
            }
        };
        // After closeSession's reply the server closes the connection: nothing more may
        // arrive on it.
        let after = match old.read() {
            Ok(f) => format!(", then unexpected frame {f:?}"),
            Err(e) if is_closed(&e) => String::new(),
            Err(e) => format!(", then {}", io_msg(&e)),
        };
        drop(old);
        self.generation[s] += 1;
        let open = match Client::handshake(
            self.server.addr(),
            timeout_ms,
            0,
            &[0; 16],
            0,
            if old_client { None } else { Some(false) },
            self.io_timeout,
        ) {
            Ok(mut c) if c.session_id() != 0 => {
                self.labels
                    .insert(c.session_id(), format!("s{s}.{}", self.generation[s]));
                let sess = c.session.clone();
                let mut txt = format!(
                    "connect: session {} proto {} timeout {} passwd {}B readOnly {:?}",
                    self.norm().owner(sess.session_id),
                    sess.protocol_version,
                    sess.timeout,
                    sess.passwd.len(),
                    sess.read_only
                );
                if s == 0 {
                    // Slot 0 is always alice, so the structural nodes stay writable.
                    let expect = ops::XID_AUTH;
                    match c.auth("digest", b"alice:pw") {
                        Ok(frames) => {
                            let r = self.absorb(
                                ops::AUTH,
                                expect,
                                &frames,
                                &mut streams[s],
                                created,
                                "<auth>",
                            );
                            let _ = write!(txt, "; auth {r}");
                        }
                        Err(e) => *fatal = Some(format!("s{s} auth: {}", io_msg(&e))),
                    }
                }
                self.slots[s] = Some(c);
                txt
            }
            Ok(c) => {
                *fatal = Some(format!("s{s}: new session refused"));
                format!("connect refused: {:?}", c.session)
            }
            Err(e) => {
                *fatal = Some(format!("s{s} connect: {}", io_msg(&e)));
                format!("connect failed: {}", io_msg(&e))
            }
        };
        format!("close: {close}{after}; {open}")
    }

    /// A handshake meant to be refused; renders what the server did.
    fn refused_handshake(&self, sid: i64, passwd: &[u8], last: i64) -> String {
        match Client::handshake(
            self.server.addr(),
            self.session_timeout_ms,
            sid,
            passwd,
            last,
            Some(false),
            self.io_timeout,
        ) {
            Ok(mut c) => {
                let sess = c.session.clone();
                let after = match c.read() {
                    Ok(f) => format!("then {f:?}"),
                    Err(e) => format!("then {}", io_msg(&e)),
                };
                format!(
                    "session {} timeout {} passwd {}, {after}",
                    self.norm().owner(sess.session_id),
                    sess.timeout,
                    hex(&sess.passwd)
                )
            }
            Err(e) => io_msg(&e),
        }
    }

    /// Drop the connection of slot `s` (the session lives on) and resume its session on a
    /// new one, after the refused attempts asked for; then maybe SetWatches.
    #[allow(clippy::too_many_arguments)]
    fn resume(
        &mut self,
        s: usize,
        wrong_password: bool,
        stale_zxid: bool,
        watches: &Option<WatchSpec>,
        streams: &mut [Vec<String>],
        created: &mut Vec<String>,
        fatal: &mut Option<String>,
    ) -> String {
        let old = self.slots[s].take().expect("live session slot");
        let (sid, passwd, last) = (old.session_id(), old.session.passwd.clone(), old.last_zxid);
        drop(old);
        let mut parts = Vec::new();
        if wrong_password {
            let bad: Vec<u8> = passwd.iter().map(|b| b ^ 0x5a).collect();
            parts.push(format!(
                "wrong password: {}",
                self.refused_handshake(sid, &bad, last)
            ));
        }
        if stale_zxid {
            // A client that has seen a later zxid than the server's must be turned away.
            parts.push(format!(
                "lastZxidSeen ahead of the server: {}",
                self.refused_handshake(sid, &passwd, last + 1000)
            ));
        }
        match Client::handshake(
            self.server.addr(),
            self.session_timeout_ms,
            sid,
            &passwd,
            last,
            Some(false),
            self.io_timeout,
        ) {
            Ok(mut c) if c.session_id() != 0 => {
                let sess = c.session.clone();
                parts.push(format!(
                    "resumed: session {} timeout {} same passwd {} readOnly {:?}",
                    self.norm().owner(sess.session_id),
                    sess.timeout,
                    sess.passwd == passwd,
                    sess.read_only
                ));
                if s == 0 {
                    // Auth is per connection: slot 0 is always alice (see `reconnect`).
                    match c.auth("digest", b"alice:pw") {
                        Ok(frames) => {
                            let r = self.absorb(
                                ops::AUTH,
                                ops::XID_AUTH,
                                &frames,
                                &mut streams[s],
                                created,
                                "<auth>",
                            );
                            parts.push(format!("auth {r}"));
                        }
                        Err(e) => *fatal = Some(format!("s{s} auth: {}", io_msg(&e))),
                    }
                }
                if let Some(w) = watches {
                    let r = if w.v1 {
                        let sw = SetWatches {
                            relative_zxid: last - w.back,
                            data_watches: w.data.clone(),
                            exist_watches: w.exist.clone(),
                            child_watches: w.child.clone(),
                        };
                        c.set_watches_v1(&sw)
                    } else {
                        let sw = SetWatches2 {
                            relative_zxid: last - w.back,
                            data_watches: w.data.clone(),
                            exist_watches: w.exist.clone(),
                            child_watches: w.child.clone(),
                            persistent_watches: w.persistent.clone(),
                            persistent_recursive_watches: w.recursive.clone(),
                        };
                        c.set_watches(&sw)
                    };
                    match r {
                        Ok(frames) => {
                            let opcode = if w.v1 {
                                ops::SET_WATCHES
                            } else {
                                ops::SET_WATCHES2
                            };
                            let r = self.absorb(
                                opcode,
                                ops::XID_SET_WATCHES,
                                &frames,
                                &mut streams[s],
                                created,
                                "<setWatches>",
                            );
                            parts.push(format!("setWatches: {r}"));
                        }
                        Err(e) => {
                            *fatal = Some(format!("s{s} setWatches: {}", io_msg(&e)));
                            parts.push(io_msg(&e));
                        }
                    }
                }
                self.slots[s] = Some(c);
            }
            Ok(c) => {
                *fatal = Some(format!("s{s}: resuming the session was refused"));
                parts.push(format!("refused: {:?}", c.session));
            }
            Err(e) => {
                *fatal = Some(format!("s{s} resume: {}", io_msg(&e)));
                parts.push(io_msg(&e));
            }
        }
        parts.join("; ")
    }

    fn exec(&mut self, op: &Op, created: &mut Vec<String>) -> Outcome {
        let n = self.slots.len();
        let s = op.session;
        let mut streams = vec![Vec::new(); n];
        let mut fatal = None;
        let reply = match &op.action {
            Action::Request { opcode, body } => {
                let expect = self.client(s).peek_xid();
                self.exchange(
                    s,
                    *opcode,
                    expect,
                    |c| c.call(*opcode, body),
                    &mut streams[s],
                    created,
                    &mut fatal,
                )
            }
            Action::Auth { scheme, auth } => self.exchange(
                s,
                ops::AUTH,
                ops::XID_AUTH,
                |c| c.auth(scheme, auth.as_bytes()),
                &mut streams[s],
                created,
                &mut fatal,
            ),
            Action::Ping => self.exchange(
                s,
                ops::PING,
                ops::XID_PING,
                |c| c.ping(),
                &mut streams[s],
                created,
                &mut fatal,
            ),
            Action::Reconnect {
                timeout_ms,
                old_client,
            } => self.reconnect(
                s,
                *timeout_ms,
                *old_client,
                &mut streams,
                created,
                &mut fatal,
            ),
            Action::Resume {
                wrong_password,
                stale_zxid,
                watches,
            } => self.resume(
                s,
                *wrong_password,
                *stale_zxid,
                watches,
                &mut streams,
                created,
                &mut fatal,
            ),
        };
        // Barrier: a read on every session flushes the notifications this op triggered. A
        // connection the server closed after the op's reply shows up here: it is recorded and
        // the session resumed.
        let exists = ExistsRequest {
            path: "/".into(),
            watch: false,
        }
        .to_bytes();
        for (i, stream) in streams.iter_mut().enumerate() {
            for attempt in 0..2 {
                if fatal.is_some() || self.slots[i].is_none() {
                    break;
                }
                let expect = self.client(i).peek_xid();
                match self.client(i).call(ops::EXISTS, &exists) {
                    Ok(frames) => {
                        let mut ignore = Vec::new();
                        let mut tmp = Vec::new();
                        let rep =
                            self.absorb(ops::EXISTS, expect, &frames, &mut tmp, &mut ignore, "");
                        tmp.pop(); // the barrier's own marker
                        stream.extend(tmp);
                        // Only the header: the root's stat is compared elsewhere.
                        let hdr = rep.split(" {").next().unwrap_or("").to_string();
                        stream.push(format!("barrier {hdr}"));
                        break;
                    }
                    Err(e) if is_closed(&e) && attempt == 0 => {
                        stream.push(format!("barrier: {}", io_msg(&e)));
                        match self.reattach(i) {
                            Ok(t) => stream.push(t),
                            Err(x) => fatal = Some(format!("s{i} barrier: {x}")),
                        }
                    }
                    Err(e) => {
                        fatal = Some(format!("s{i} barrier: {}", io_msg(&e)));
                        stream.push(io_msg(&e));
                    }
                }
            }
        }
        if matches!(op.action, Action::Reconnect { .. }) {
            // closeSession deletes the session's ephemerals in HashSet order.
            for st in &mut streams {
                st.sort();
            }
        }
        Outcome {
            reply,
            streams,
            fatal,
        }
    }
}

fn count_events(o: &Outcome) -> usize {
    o.streams
        .iter()
        .flatten()
        .filter(|s| !s.starts_with('<') && !s.starts_with("barrier"))
        .count()
}

/// Run the differential test. `Err` only when a server could not be started or set up.
pub fn run(cfg: &Config) -> Result<Report, String> {
    let started = Instant::now();
    if cfg.sessions == 0 {
        return Err("need at least one session".into());
    }
    let mut left = Side::start(cfg.left, cfg)?;
    let mut right = Side::start(cfg.right, cfg)?;
    left.name = format!("{} (left)", left.name);
    right.name = format!("{} (right)", right.name);
    let mut report = Report {
        seed: cfg.seed,
        left: cfg.left.name().into(),
        right: cfg.right.name().into(),
        ..Report::default()
    };
    let mut gen = Gen::new(cfg.seed, cfg.sessions);
    let mut context: VecDeque<String> = VecDeque::new();
    let mut index = 0;
    while report.ops_sent < cfg.ops {
        let op = gen.next();
        index += 1;
        if cfg.skip_kinds.iter().any(|k| k == op.kind) {
            continue;
        }
        let mut created_l = Vec::new();
        let mut created_r = Vec::new();
        let lo = left.exec(&op, &mut created_l);
        let ro = right.exec(&op, &mut created_r);
        report.ops_sent += 1;
        *report.per_kind.entry(op.kind).or_default() += 1;
        report.replies_compared += 1 + lo.streams.len();
        report.events_compared += count_events(&lo);
        let err = lo.reply.split(' ').next().unwrap_or("").to_string();
        if err != "OK" && !matches!(op.action, Action::Reconnect { .. } | Action::Resume { .. }) {
            *report.per_error.entry(err).or_default() += 1;
        }
        gen.observe(&op, &lo.reply, &created_l);
        if cfg.verbose {
            eprintln!("#{index} {}\n{}", op.desc, indent(&lo.render(), "  L "));
            if lo != ro {
                eprintln!("{}", indent(&ro.render(), "  R "));
            }
        }
        if lo != ro {
            report.mismatches.push(Mismatch {
                index,
                op: op.desc.clone(),
                left: lo.render(),
                right: ro.render(),
                context: context.iter().cloned().collect(),
            });
            if report.right_log_tail.is_none() {
                report.right_log_tail = Some(right.server.log_tail(30));
            }
        }
        if let Some(f) = lo.fatal.as_ref().or(ro.fatal.as_ref()) {
            report.aborted = Some(format!("op #{index} ({}): {f}", op.desc));
            break;
        }
        if report.mismatches.len() >= cfg.max_mismatches.max(1) {
            break;
        }
        context.push_back(format!("#{index} {} => {}", op.desc, lo.reply));
        if context.len() > 8 {
            context.pop_front();
        }
    }
    // Close every session cleanly on both sides (and check both servers are still alive).
    for side in [&mut left, &mut right] {
        for c in side.slots.iter_mut().flatten() {
            let _ = c.close_session();
        }
        if !side.server.is_running() && report.aborted.is_none() {
            report.aborted = Some(format!("the {} server exited", side.name));
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic() {
        let mut a = Gen::new(5, 3);
        let mut b = Gen::new(5, 3);
        for _ in 0..500 {
            let (x, y) = (a.next(), b.next());
            assert_eq!(x.desc, y.desc);
        }
    }

    #[test]
    fn zxids_are_relative() {
        let labels = HashMap::from([(77, "s0.0".to_string())]);
        let n = Norm {
            base: 100,
            labels: &labels,
        };
        assert_eq!(n.zxid(0), "0");
        assert_eq!(n.zxid(105), "Z+5");
        assert_eq!(n.zxid(99), "Z-1");
        assert_eq!(n.owner(77), "s0.0");
        assert_eq!(n.owner(i64::MIN), "container");
        assert_eq!(n.owner(0), "-");
    }
}
