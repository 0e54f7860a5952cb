//! A learner's check of its tree against the leader's digest carried with every txn (Java's
//! `DataTree.compareDigest` and `reportDigestMismatch`, the same in 3.8 and 3.9).
//!
//! A follower or an observer applies each committed txn, then compares the tree digest the
//! leader logged with it (`TxnDigest`, version 2) with its own. A mismatch is counted
//! (`digest_mismatches_count`) and logged; nothing else happens (Java registers no
//! `DigestWatcher` outside its tests: no repair, no shutdown). The log lines are Java's:
//! once an ERROR `First digest mismatch on txn: ...`, and Java's `RateLogger` (15 minutes)
//! WARN `Message:Digests are not matching. Value is Zxid. Value:<zxid in decimal>`, then
//! `[N times] Message: ... Last value:<zxid>` when the interval passed or a txn matched.
//!
//! After a SNAP the tree may already hold txns the leader sends again (its snapshot is fuzzy):
//! txns not newer than the highest zxid stamped on a node are not compared (Java has no
//! digest in the SNAP stream and compares at once; see docs/sync-correctness.md).

use crate::persist::digest::DIGEST_VERSION;
use crate::tree::DataTree;
use jute::txn::TxnDigest;

/// Java's `DataTree.RATE_LOGGER` interval.
const RATE_LOG_INTERVAL_MS: i64 = 15 * 60 * 1000;
const MISMATCH_MSG: &str = "Digests are not matching. Value is Zxid.";

/// What to log after a comparison (the caller logs it: ERROR for `First`, WARN otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestLog {
    /// The first mismatch this tree saw.
    First {
        zxid: i64,
        expected: i64,
        actual: i64,
    },
    /// A `RateLogger` line.
    Warn(String),
}

/// Java's `RateLogger` for one message: the first occurrence at once, repeats summarised.
#[derive(Debug, Default, Clone)]
struct RateLog {
    /// Since when the current message is being counted; `None` when flushed.
    since_ms: Option<i64>,
    count: u32,
    last_zxid: i64,
}

impl RateLog {
    fn mismatch(&mut self, zxid: i64, now_ms: i64, out: &mut Vec<DigestLog>) {
        match self.since_ms {
            None => {
                out.push(DigestLog::Warn(format!(
                    "Message:{MISMATCH_MSG} Value:{zxid}"
                )));
                *self = RateLog {
                    since_ms: Some(now_ms),
                    count: 0,
                    last_zxid: zxid,
                };
            }
            Some(since) => {
                self.count += 1;
                self.last_zxid = zxid;
                if now_ms - since >= RATE_LOG_INTERVAL_MS {
                    self.flush(out);
                    self.since_ms = Some(now_ms);
                    self.last_zxid = zxid;
                }
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<DigestLog>) {
        if self.since_ms.is_some() && self.count > 0 {
            let times = if self.count > 1 {
                format!("[{} times] ", self.count)
            } else {
                String::new()
            };
            out.push(DigestLog::Warn(format!(
                "{times}Message: {MISMATCH_MSG} Last value:{}",
                self.last_zxid
            )));
        }
        *self = RateLog::default();
    }
}

/// The comparison state of one learner's tree.
#[derive(Debug, Clone)]
pub struct DigestCheck {
    /// `zookeeper.digest.enabled`.
    enabled: bool,
    /// Txns up to this zxid may already be in the tree (after a SNAP): not compared.
    fuzzy_until: i64,
    /// Mismatches not yet taken by [`DigestCheck::take_mismatches`].
    mismatches: u64,
    first_reported: bool,
    rate: RateLog,
}

impl DigestCheck {
    pub fn new(enabled: bool) -> Self {
        DigestCheck {
            enabled,
            fuzzy_until: 0,
            mismatches: 0,
            first_reported: false,
            rate: RateLog::default(),
        }
    }

    /// `tree` came from a leader's SNAP: skip the txns it may already hold.
    pub fn after_snapshot(&mut self, tree: &DataTree) {
        self.fuzzy_until = tree.last_zxid.max(highest_stamped_zxid(tree));
    }

    /// Txn `zxid` was applied and the tree's digest is now `actual`; `logged` is the tree
    /// digest the leader logged with it (see [`leader_digest`]). Returns what to log.
    pub fn check(
        &mut self,
        zxid: i64,
        logged: Option<i64>,
        actual: i64,
        now_ms: i64,
    ) -> Vec<DigestLog> {
        let mut out = Vec::new();
        let Some(logged) = logged else {
            return out;
        };
        if !self.enabled || zxid <= self.fuzzy_until {
            return out;
        }
        if logged == actual {
            self.rate.flush(&mut out);
            return out;
        }
        self.mismatches += 1;
        self.rate.mismatch(zxid, now_ms, &mut out);
        if !self.first_reported {
            self.first_reported = true;
            out.push(DigestLog::First {
                zxid,
                expected: logged,
                actual,
            });
        }
        out
    }

    /// Mismatches since the last call (for `digest_mismatches_count`).
    pub fn take_mismatches(&mut self) -> u64 {
        std::mem::take(&mut self.mismatches)
    }
}

/// The tree digest a txn log entry carries, if it is one we can compare with ours (Java
/// skips other digest versions).
pub fn leader_digest(digest: Option<TxnDigest>) -> Option<i64> {
    digest
        .filter(|d| d.version == DIGEST_VERSION)
        .map(|d| d.tree_digest)
}

/// The highest zxid on any node (czxid, mzxid, pzxid): a fuzzy snapshot holds no txn that
/// changed a node beyond it.
fn highest_stamped_zxid(tree: &DataTree) -> i64 {
    let mut highest = 0;
    tree.for_each_node_unordered(|_, n| {
        highest = highest
            .max(n.stat.czxid)
            .max(n.stat.mzxid)
            .max(n.stat.pzxid);
    });
    highest
}

/// Log what [`DigestCheck::check`] returned, at Java's levels.
pub fn log(lines: Vec<DigestLog>) {
    for line in lines {
        match line {
            DigestLog::First {
                zxid,
                expected,
                actual,
            } => tracing::error!(
                "First digest mismatch on txn: 0x{zxid:x}, expected digest is {expected}, actual digest is {actual}"
            ),
            DigestLog::Warn(text) => tracing::warn!("{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Option<i64> {
        leader_digest(Some(TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: v,
        }))
    }

    #[test]
    fn equal_digests_count_nothing_and_log_nothing() {
        let mut c = DigestCheck::new(true);
        assert!(c.check(1, d(7), 7, 0).is_empty());
        assert_eq!(c.take_mismatches(), 0);
    }

    #[test]
    fn a_mismatch_is_counted_and_logged_as_java_does() {
        let mut c = DigestCheck::new(true);
        let out = c.check(0x100000002, d(7), 8, 0);
        assert_eq!(
            out,
            vec![
                DigestLog::Warn(
                    "Message:Digests are not matching. Value is Zxid. Value:4294967298".into()
                ),
                DigestLog::First {
                    zxid: 0x100000002,
                    expected: 7,
                    actual: 8
                },
            ]
        );
        // Repeats within the interval are only counted; the first match flushes them.
        assert!(c.check(0x100000003, d(1), 2, 1000).is_empty());
        assert!(c.check(0x100000004, d(1), 2, 2000).is_empty());
        assert_eq!(
            c.check(0x100000005, d(3), 3, 3000),
            vec![DigestLog::Warn(
                "[2 times] Message: Digests are not matching. Value is Zxid. Last value:4294967300"
                    .into()
            )]
        );
        assert_eq!(c.take_mismatches(), 3);
        assert_eq!(c.take_mismatches(), 0);
        // The ERROR line is once per tree; the WARN starts again after a flush.
        let out = c.check(0x100000006, d(1), 2, 4000);
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], DigestLog::Warn(t) if t.ends_with("Value:4294967302")));
    }

    #[test]
    fn repeats_are_summarised_once_the_interval_passed() {
        let mut c = DigestCheck::new(true);
        c.check(1, d(1), 2, 0);
        c.check(2, d(1), 2, 10);
        let out = c.check(3, d(1), 2, RATE_LOG_INTERVAL_MS);
        assert_eq!(
            out,
            vec![DigestLog::Warn(
                "[2 times] Message: Digests are not matching. Value is Zxid. Last value:3".into()
            )]
        );
        assert_eq!(c.take_mismatches(), 3);
    }

    #[test]
    fn disabled_missing_or_other_version_digests_are_not_compared() {
        let mut c = DigestCheck::new(false);
        assert!(c.check(1, d(1), 2, 0).is_empty());
        let mut c = DigestCheck::new(true);
        assert!(c.check(1, None, 2, 0).is_empty());
        let v1 = TxnDigest {
            version: 1,
            tree_digest: 1,
        };
        assert!(c.check(1, leader_digest(Some(v1)), 2, 0).is_empty());
        assert_eq!(c.take_mismatches(), 0);
    }

    #[test]
    fn txns_a_fuzzy_snapshot_may_hold_are_not_compared() {
        let mut tree = DataTree::new(false);
        tree.last_zxid = 5;
        let mut c = DigestCheck::new(true);
        c.after_snapshot(&tree);
        assert!(c.check(5, d(1), 2, 0).is_empty());
        assert_eq!(c.take_mismatches(), 0);
        c.check(6, d(1), 2, 0);
        assert_eq!(c.take_mismatches(), 1);
    }
}
