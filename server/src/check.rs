//! `zkserver check <zoo.cfg>`: an offline pre-flight of what a server started on that config
//! would serve. It loads the dataDir / dataLogDir with the server's own recovery
//! ([`recovery::load_with`], read-only: no folder created, no torn tail truncated, no initial
//! snapshot written, no lock taken, so a running server, ours or Java's, is not disturbed),
//! which verifies the snapshot seals, the txn log CRCs and the digests, and then reports the
//! tree as the server would serve it (the ephemerals of dead sessions removed, as at start).
//! Java has no such command; its nearest are `zkSnapShotToolkit.sh` and `zkTxnLogToolkit.sh`.
//!
//! [`inspect`] does the reading; [`Findings`] is plain data with its rendering and exit status.

use crate::config::{Config, PeerType};
use crate::persist::{self, recovery};
use jute::Zxid;
use std::path::PathBuf;

/// Exit status: the server would start and everything read back clean.
pub const EXIT_OK: i32 = 0;
/// Exit status: the server would refuse to start on this database.
pub const EXIT_UNLOADABLE: i32 = 1;
/// Exit status: the command line or the config is wrong (the server would refuse it too).
pub const EXIT_CONFIG: i32 = 2;
/// Exit status: the server would start, but damage was found (a snapshot skipped, a torn log
/// tail it would cut off, a digest that does not match the replayed tree).
pub const EXIT_DAMAGED: i32 = 3;

/// What was found in the folders of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    pub config_warnings: Vec<String>,
    pub compat_version: String,
    pub role: Role,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    /// Loading failed: why (the server would refuse to start with the same error).
    pub unloadable: Option<String>,
    pub db: Option<Db>,
}

/// Standalone, or an ensemble member and its server lines (as `server.N=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Standalone,
    Member {
        my_id: Option<u64>,
        observer: bool,
        servers: Vec<String>,
    },
}

/// The database as the server would serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Db {
    /// The snapshot loaded (zxid, file), if any.
    pub snapshot: Option<(i64, PathBuf)>,
    /// Snapshots passed over, with why.
    pub bad_snapshots: Vec<(PathBuf, String)>,
    pub snapshot_files: usize,
    pub log_files: usize,
    pub txns_replayed: u64,
    /// Torn log tails, which the server cuts off at start: (file, valid length, why).
    pub torn_tails: Vec<(PathBuf, u64, String)>,
    pub digest_enabled: bool,
    pub digests_checked: u64,
    pub digest_mismatches: u64,
    pub last_zxid: i64,
    pub node_count: usize,
    pub sessions: usize,
    pub ephemerals: usize,
    /// Sessions that own ephemerals but are not in the session table: the server closes
    /// them at start.
    pub dead_sessions: Vec<i64>,
    /// The digest of the tree served.
    pub digest: i64,
    pub current_epoch: Option<i64>,
    pub accepted_epoch: Option<i64>,
}

/// Load the database `cfg` names, read-only, and say what would be served.
pub fn inspect(cfg: &Config, config_warnings: Vec<String>) -> Findings {
    let opts = recovery::LoadOptions {
        extended_types: cfg.extended_types_enabled,
        digest_enabled: cfg.digest_enabled,
        read_only: true,
        ..Default::default()
    };
    let (db, unloadable) = match load(cfg, &opts) {
        Ok(db) => (Some(db), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Findings {
        config_warnings,
        compat_version: if cfg.compat_version.is_3_9() {
            "3.9"
        } else {
            "3.8"
        }
        .to_string(),
        role: role(cfg),
        data_dir: cfg.data_dir.clone(),
        data_log_dir: cfg.data_log_dir.clone(),
        unloadable,
        db,
    }
}

fn load(cfg: &Config, opts: &recovery::LoadOptions) -> persist::Result<Db> {
    let mut loaded = recovery::load_with(&cfg.data_dir, &cfg.data_log_dir, opts)?;
    // As the server's start does (database::open): only this copy in memory changes.
    let dead_sessions = recovery::kill_orphan_sessions(&mut loaded.tree);
    let digest = if dead_sessions.is_empty() {
        loaded.digest
    } else {
        persist::digest::tree_digest(&loaded.tree)
    };
    let tree = &loaded.tree;
    Ok(Db {
        snapshot_files: persist::list_files(&loaded.snap_dir, persist::SNAPSHOT_PREFIX)?.len(),
        log_files: persist::list_files(&loaded.log_dir, persist::LOG_PREFIX)?.len(),
        snapshot: loaded.snapshot.clone(),
        bad_snapshots: loaded.bad_snapshots.clone(),
        txns_replayed: loaded.txns_replayed,
        torn_tails: loaded
            .torn_tails
            .iter()
            .map(|t| (t.file.clone(), t.valid_len, t.reason.clone()))
            .collect(),
        digest_enabled: opts.digest_enabled,
        digests_checked: loaded.digests_checked,
        digest_mismatches: loaded.digest_mismatches,
        last_zxid: tree.last_zxid,
        node_count: tree.node_count(),
        sessions: tree.sessions.len(),
        ephemerals: tree.ephemerals_by_session().values().map(|p| p.len()).sum(),
        dead_sessions,
        digest,
        current_epoch: loaded.current_epoch,
        accepted_epoch: loaded.accepted_epoch,
    })
}

fn role(cfg: &Config) -> Role {
    if !cfg.is_distributed() {
        return Role::Standalone;
    }
    Role::Member {
        my_id: cfg.my_id,
        observer: cfg.peer_type == PeerType::Observer,
        servers: cfg
            .servers
            .iter()
            .map(|s| format!("server.{}={s}", s.id))
            .collect(),
    }
}

impl Findings {
    /// Why the server would not serve this cleanly; empty when it would.
    pub fn damage(&self) -> Vec<String> {
        let Some(db) = &self.db else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (path, why) in &db.bad_snapshots {
            out.push(format!("snapshot {} skipped: {why}", path.display()));
        }
        for (path, valid_len, why) in &db.torn_tails {
            out.push(format!(
                "txn log {} has a torn tail ({why}): the server cuts it at offset {valid_len}",
                path.display()
            ));
        }
        if db.digest_mismatches > 0 {
            out.push(format!(
                "{} of {} digests do not match the replayed tree",
                db.digest_mismatches, db.digests_checked
            ));
        }
        out
    }

    pub fn exit_code(&self) -> i32 {
        if self.unloadable.is_some() {
            EXIT_UNLOADABLE
        } else if !self.damage().is_empty() {
            EXIT_DAMAGED
        } else {
            EXIT_OK
        }
    }

    /// The report, one `name: value` line each.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        for w in &self.config_warnings {
            line(format!("config warning: {w}"));
        }
        line(format!("compat.version: {}", self.compat_version));
        match &self.role {
            Role::Standalone => line("role: standalone".into()),
            Role::Member {
                my_id,
                observer,
                servers,
            } => {
                let kind = if *observer { "observer" } else { "participant" };
                let id = my_id.map_or("none".to_string(), |id| id.to_string());
                line(format!("role: ensemble {kind}, myid {id}"));
                for s in servers {
                    line(format!("  {s}"));
                }
            }
        }
        line(format!("dataDir: {}", self.data_dir.display()));
        line(format!("dataLogDir: {}", self.data_log_dir.display()));
        if let Some(db) = &self.db {
            match &db.snapshot {
                Some((zxid, path)) => line(format!(
                    "snapshot: {} (zxid {}, {} snapshot files)",
                    path.display(),
                    Zxid::from(*zxid),
                    db.snapshot_files
                )),
                None => line("snapshot: none (the server starts empty)".into()),
            }
            line(format!(
                "txn logs: {} files, {} txns replayed after the snapshot",
                db.log_files, db.txns_replayed
            ));
            if db.digest_enabled {
                line(format!(
                    "digests checked: {}, mismatches: {}",
                    db.digests_checked, db.digest_mismatches
                ));
            } else {
                line("digests checked: none (digest.enabled=false)".into());
            }
            line(format!("last zxid: {}", Zxid::from(db.last_zxid)));
            line(format!(
                "znodes: {} (srvr's Node count {}: Java counts the root twice)",
                db.node_count,
                db.node_count + 1
            ));
            line(format!("sessions: {}", db.sessions));
            line(format!("ephemerals: {}", db.ephemerals));
            for s in &db.dead_sessions {
                line(format!(
                    "dead session 0x{s:x}: its ephemerals are removed at start"
                ));
            }
            line(format!("digest: {}", db.digest));
            let epoch = |e: Option<i64>| e.map_or("none".to_string(), |e| e.to_string());
            line(format!(
                "epochs: current {}, accepted {}",
                epoch(db.current_epoch),
                epoch(db.accepted_epoch)
            ));
        }
        let damage = self.damage();
        for d in &damage {
            line(format!("damage: {d}"));
        }
        match &self.unloadable {
            Some(why) => line(format!("result: the server would not start: {why}")),
            None if damage.is_empty() => line("result: ok".into()),
            None => line("result: the server would start, but found damage (above)".into()),
        }
        out
    }
}

#[cfg(test)]
mod tests;
