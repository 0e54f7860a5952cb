//! The invariants, checked as the run goes (the first violation ends the run with its seed).
//!
//! - One history: a zxid names one txn everywhere (what a leader committed is what every
//!   member applies at that zxid), and every member at the same zxid has the same tree
//!   digest (`persist::digest`), whether it got there by applying, loading from its disk or
//!   loading a leader's snapshot.
//! - Zxids applied rise by one within an epoch, and a member never steps over a committed
//!   txn (no acknowledged write lost).
//! - A leader is established only with every committed txn in its database.
//! - After the faults stop and the network heals, every member converges on the same zxid
//!   and digest (see `cluster`).

use bytes::Bytes;
use jute::Decode;
use jute::Zxid;
use std::collections::{BTreeMap, BTreeSet};

fn epoch_of(zxid: i64) -> i64 {
    Zxid::from_i64(zxid).epoch()
}

fn counter_of(zxid: i64) -> i64 {
    Zxid::from_i64(zxid).counter()
}

#[derive(Default)]
pub struct Checker {
    /// Txns committed by a leader (written to its tree), by zxid.
    committed: BTreeMap<i64, Bytes>,
    /// The first tree digest seen at each zxid, and who had it.
    digests: BTreeMap<i64, (i64, i64)>,
    /// Each member's last applied (or loaded) zxid.
    last: BTreeMap<i64, i64>,
    /// The zxid of each committed client txn, by (session, cxid).
    by_request: BTreeMap<(i64, i32), i64>,
    /// Zxids of the acknowledged writes of each path.
    acked: BTreeMap<String, Vec<i64>>,
    max_acked: i64,
    /// Sessions a client closed, or found expired.
    ended_sessions: BTreeSet<i64>,
    pub failure: Option<String>,
}

impl Checker {
    pub fn fail(&mut self, msg: String) {
        if self.failure.is_none() {
            self.failure = Some(msg);
        }
    }

    pub fn last_committed(&self) -> i64 {
        self.committed.last_key_value().map_or(0, |(z, _)| *z)
    }

    pub fn committed_count(&self) -> usize {
        self.committed.len()
    }

    /// A leader committed `entry` at `zxid`.
    pub fn committed(&mut self, sid: i64, zxid: i64, entry: &Bytes) {
        match self.committed.get(&zxid) {
            Some(e) if e != entry => self.fail(format!(
                "member {sid} committed a txn at 0x{zxid:x} other than the one committed there before"
            )),
            Some(_) => {}
            None => {
                self.committed.insert(zxid, entry.clone());
                let mut b = entry.clone();
                if let Ok(h) = jute::txn::TxnHeader::decode(&mut b) {
                    self.by_request.insert((h.client_id, h.cxid), zxid);
                }
            }
        }
    }

    /// A client closed its session, or was told it expired.
    pub fn session_ended(&mut self, session: i64) {
        self.ended_sessions.insert(session);
    }

    /// A session that ended and still owns an ephemeral in `tree`, if any.
    pub fn ephemeral_of_ended_session(&self, tree: &zk_server::tree::DataTree) -> Option<i64> {
        tree.ephemerals_by_session()
            .iter()
            .filter(|(_, paths)| !paths.is_empty())
            .map(|(s, _)| *s)
            .find(|s| self.ended_sessions.contains(s))
    }

    /// The highest zxid of a write acknowledged to a client so far.
    pub fn max_acked(&self) -> i64 {
        self.max_acked
    }

    /// A client's write (session, xid) on `path` was acknowledged with reply zxid
    /// `reply_zxid`: it must be a committed txn, at or before that zxid.
    pub fn acked(&mut self, session: i64, xid: i32, reply_zxid: i64, path: &str, who: &str) {
        let Some(&zxid) = self.by_request.get(&(session, xid)) else {
            return self.fail(format!(
                "{who}: write xid {xid} on {path} acknowledged (reply zxid 0x{reply_zxid:x}) but never committed"
            ));
        };
        if zxid > reply_zxid {
            self.fail(format!(
                "{who}: write xid {xid} on {path} committed at 0x{zxid:x}, acknowledged with the earlier zxid 0x{reply_zxid:x}"
            ));
        }
        self.acked.entry(path.to_string()).or_default().push(zxid);
        self.max_acked = self.max_acked.max(zxid);
    }

    /// A read of `path` answered from `zxid` shows the node last modified at `mzxid`: no
    /// acknowledged write of the path may lie in between.
    pub fn read(&mut self, path: &str, mzxid: i64, zxid: i64, who: &str) {
        if mzxid > zxid {
            return self.fail(format!(
                "{who}: read of {path} answered from 0x{zxid:x} shows a later mzxid 0x{mzxid:x}"
            ));
        }
        let missed = self
            .acked
            .get(path)
            .and_then(|ws| ws.iter().find(|w| **w > mzxid && **w <= zxid));
        if let Some(w) = missed {
            self.fail(format!(
                "{who}: read of {path} answered from 0x{zxid:x} shows mzxid 0x{mzxid:x}, missing the acknowledged write 0x{w:x}"
            ));
        }
    }

    /// Member `sid` applied `entry` at `zxid`; its tree digest is now `digest`; the entry
    /// carries the digest the leader's pipeline predicted for the tree after it, if any.
    pub fn applied(
        &mut self,
        sid: i64,
        zxid: i64,
        entry: &Bytes,
        digest: i64,
        logged: Option<i64>,
    ) {
        if logged.is_some_and(|d| d != digest) {
            self.fail(format!(
                "member {sid}: digest {digest:x} after 0x{zxid:x}, the leader logged {:x} with it",
                logged.unwrap_or_default()
            ));
        }
        if self.committed.get(&zxid).is_some_and(|e| e != entry) {
            self.fail(format!(
                "member {sid} applied a txn at 0x{zxid:x} other than the committed one"
            ));
        }
        if let Some(&prev) = self.last.get(&sid) {
            let next_in_epoch = zxid == prev + 1;
            let new_epoch = epoch_of(zxid) > epoch_of(prev) && counter_of(zxid) == 1;
            if !next_in_epoch && !new_epoch {
                self.fail(format!(
                    "member {sid} applied 0x{zxid:x} after 0x{prev:x}: zxids must rise by one"
                ));
            }
            if let Some((skipped, _)) = self.committed.range(prev + 1..zxid).next() {
                self.fail(format!(
                    "member {sid} went from 0x{prev:x} to 0x{zxid:x}, over the committed txn 0x{skipped:x}"
                ));
            }
        }
        self.state(sid, zxid, digest, "applying");
    }

    /// Member `sid`'s tree is at `zxid` with `digest` after `how` (loading its disk, a
    /// leader's snapshot, a truncation).
    pub fn state(&mut self, sid: i64, zxid: i64, digest: i64, how: &str) {
        self.last.insert(sid, zxid);
        match self.digests.get(&zxid) {
            Some(&(d, who)) if d != digest => self.fail(format!(
                "member {sid} has digest {digest:x} at 0x{zxid:x} after {how}, member {who} had {d:x}"
            )),
            Some(_) => {}
            None => {
                self.digests.insert(zxid, (digest, sid));
            }
        }
    }

    /// Member `sid` established its leadership over a database at `zxid`.
    pub fn established(&mut self, sid: i64, epoch: i64, zxid: i64) {
        let last = self.last_committed();
        if last > zxid {
            self.fail(format!(
                "member {sid} leads epoch {epoch} from 0x{zxid:x} without the committed txn 0x{last:x}"
            ));
        }
    }
}
