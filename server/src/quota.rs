//! Quotas, as Java 3.8's `DataTree` keeps them (`Quotas`, `StatsTrack`, `common.PathTrie`,
//! `DataTree.updateQuotaStat` / `updateQuotaForPath` / `setupQuota`, and
//! `ZooKeeperServer.checkQuota`).
//!
//! - A path `<p>` has a quota when the node `/zookeeper/quota<p>/zookeeper_limits` exists; the
//!   server then keeps `/zookeeper/quota<p>/zookeeper_stats` at `count=N,bytes=M` for the
//!   subtree of `<p>` (nodes, data bytes). Creating the limits node makes `<p>` a quota root
//!   (the trie), creating the stats node recounts the subtree into it, deleting the limits node
//!   drops the root. Every create / delete / setData under the *deepest* quota root of its path
//!   adjusts that root's stats node. These writes change the stats node's data only: not its
//!   version or mzxid, not the tree's approximate data size (Java writes `DataNode.data`
//!   directly), and they fire no watch. The `/zookeeper/...` nodes are outside the digest, so
//!   the digest does not see them either.
//! - After a snapshot is loaded, the trie is rebuilt from the leaf `zookeeper_limits` nodes
//!   under `/zookeeper/quota` and each such root's stats are recounted.
//! - `StatsTrack` text: `count=<c>,bytes=<b>` and, when it holds other keys, `=` followed by
//!   `;key=value` for each in sorted order, e.g. zkCli's limits node
//!   `count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1`. Parsing splits on runs of `,` and
//!   `;`, each pair on `=`; a missing key reads as -1.
//!
//! Java's quirks are kept where they are deterministic and harmless (the string arithmetic on
//! quota paths, components that are all blanks being ignored by the trie). Where Java throws
//! half-way through applying a txn (an unparsable stats node, `zookeeper_limits` directly under
//! `/zookeeper/quota`, a `zookeeper_limits` child of a `/zookeeper...` node whose path is
//! shorter than `/zookeeper/quota`), we skip the quota bookkeeping and apply the rest normally.
//!
//! Pure: the tree is reached through [`QuotaTree`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

/// `Quotas.quotaZookeeper`.
pub const QUOTA_ZOOKEEPER: &str = "/zookeeper/quota";
/// `Quotas.procZookeeper`.
pub const PROC_ZOOKEEPER: &str = "/zookeeper";
/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.quotaPath`: `/zookeeper/quota<path>`.
pub fn quota_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}")
}

/// `Quotas.limitPath`: `/zookeeper/quota<path>/zookeeper_limits`.
pub fn limit_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}/{LIMIT_NODE}")
}

/// `Quotas.statPath`: `/zookeeper/quota<path>/zookeeper_stats`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}/{STAT_NODE}")
}

/// `Quotas.trimQuotaPath`: drop the first 16 characters (the length of `/zookeeper/quota`)
/// without checking what they are, as Java does. `None` where Java's `substring` throws (a
/// string shorter than that). Paths cannot hold characters outside the BMP (Java's
/// `PathUtils.validatePath` rejects surrogates), so characters are UTF-16 units here.
pub fn trim_quota_path(quota_path: &str) -> Option<&str> {
    let skip = QUOTA_ZOOKEEPER.len();
    match quota_path.char_indices().nth(skip) {
        Some((i, _)) => Some(&quota_path[i..]),
        None if quota_path.chars().count() == skip => Some(""),
        None => None,
    }
}

/// Java's parent / child split: everything before the last `/` ("" for top-level nodes) and
/// the name after it.
fn java_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

// ---- StatsTrack ----

/// Why a `StatsTrack` text did not parse (Java throws `ArrayIndexOutOfBoundsException` or
/// `NumberFormatException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quota stats: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

const COUNT: &str = "count";
const BYTES: &str = "bytes";
const COUNT_HARD_LIMIT: &str = "countHardLimit";
const BYTE_HARD_LIMIT: &str = "byteHardLimit";

/// Java's `StatsTrack`: a map from key to long; `count` and `bytes` are the usage (in a stats
/// node) or the soft limits (in a limits node), `countHardLimit` / `byteHardLimit` the hard
/// limits. A key that is absent reads as -1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    stats: HashMap<String, i64>,
}

/// Java's `Pattern.split` / `String.split` with limit 0: pieces between separators, trailing
/// empty pieces dropped. With `runs`, consecutive separators count as one (`[,;]+`).
fn java_split(s: &str, is_sep: impl Fn(char) -> bool, runs: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_run = false;
    for (i, c) in s.char_indices() {
        if is_sep(c) {
            if !(runs && in_run) {
                out.push(&s[start..i]);
            }
            start = i + c.len_utf8();
            in_run = true;
        } else {
            in_run = false;
        }
    }
    out.push(&s[start..]);
    while out.last().is_some_and(|p| p.is_empty()) {
        out.pop();
    }
    out
}

/// Java's `Long.parseLong` for ASCII digits: an optional sign, then at least one digit, no
/// overflow. (Java also takes non-ASCII decimal digits, e.g. fullwidth ones; we do not.)
fn parse_long(s: &str) -> Result<i64, ParseError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError(format!("For input string: \"{s}\"")));
    }
    s.parse::<i64>()
        .map_err(|_| ParseError(format!("For input string: \"{s}\"")))
}

/// Java's `String.compareTo`: by UTF-16 code units.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

impl StatsTrack {
    /// An empty tracker (every key reads -1).
    pub fn new() -> Self {
        Self::default()
    }

    /// Java's `new StatsTrack(String)`: split on runs of `,` / `;`, each pair on `=`; the
    /// value is the piece after the first `=` (-1 when it is empty, as in `a==5`), later
    /// pieces are ignored (so `bytes=5=` reads 5). A pair without a value fails.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut t = StatsTrack::new();
        if s.is_empty() {
            return Ok(t);
        }
        for pair in java_split(s, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            if kv.len() < 2 {
                return Err(ParseError(format!("no value in {pair:?}")));
            }
            let value = if kv[1].is_empty() {
                -1
            } else {
                parse_long(kv[1])?
            };
            t.stats.insert(kv[0].to_string(), value);
        }
        Ok(t)
    }

    /// Java's `new StatsTrack(byte[])`: the bytes as UTF-8 (malformed input replaced), then
    /// [`StatsTrack::parse`].
    pub fn parse_bytes(b: &[u8]) -> Result<Self, ParseError> {
        Self::parse(&String::from_utf8_lossy(b))
    }

    pub fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_string(), value);
    }

    pub fn count(&self) -> i64 {
        self.get(COUNT)
    }

    pub fn set_count(&mut self, v: i64) {
        self.set(COUNT, v)
    }

    pub fn bytes(&self) -> i64 {
        self.get(BYTES)
    }

    pub fn set_bytes(&mut self, v: i64) {
        self.set(BYTES, v)
    }

    pub fn count_hard_limit(&self) -> i64 {
        self.get(COUNT_HARD_LIMIT)
    }

    pub fn set_count_hard_limit(&mut self, v: i64) {
        self.set(COUNT_HARD_LIMIT, v)
    }

    pub fn byte_hard_limit(&self) -> i64 {
        self.get(BYTE_HARD_LIMIT)
    }

    pub fn set_byte_hard_limit(&mut self, v: i64) {
        self.set(BYTE_HARD_LIMIT, v)
    }

    /// Java's `getStatsBytes`: the text as UTF-8.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StatsTrack {
    /// Java's `StatsTrack.toString`: `count=<c>,bytes=<b>` always (-1 when absent), then, if
    /// there are other keys, `=` and `;key=value` for each, keys in `String.compareTo` order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{COUNT}={},{BYTES}={}", self.count(), self.bytes())?;
        let mut keys: Vec<&String> = self
            .stats
            .keys()
            .filter(|k| k.as_str() != COUNT && k.as_str() != BYTES)
            .collect();
        if !keys.is_empty() {
            f.write_str("=")?;
            keys.sort_by(|a, b| java_cmp(a, b));
            for k in keys {
                write!(f, ";{k}={}", self.stats[k])?;
            }
        }
        Ok(())
    }
}

// ---- the quota-root trie ----

/// Java's `PathTrie.split`: the components of a path, skipping those that are empty or all
/// blanks (`trim()` removes every char up to U+0020).
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.chars().all(|ch| ch <= ' '))
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: HashMap<Box<str>, TrieNode>,
    /// A quota root ends here.
    property: bool,
}

/// Java's `PathTrie` as `DataTree` uses it: the set of quota roots, by path components.
#[derive(Debug, Clone, Default)]
pub struct PathTrie {
    root: TrieNode,
}

impl PathTrie {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.root.children.is_empty()
    }

    /// `PathTrie.addPath`. Java rejects "" (`IllegalArgumentException`); so do we (false).
    /// A path with no components (e.g. "/") marks the trie's root, which never matches.
    pub fn add_path(&mut self, path: &str) -> bool {
        if path.is_empty() {
            return false;
        }
        let mut node = &mut self.root;
        for c in components(path) {
            node = node.children.entry(c.into()).or_default();
        }
        node.property = true;
        true
    }

    /// `PathTrie.deletePath`: the path stops being a quota root. Java rejects "" and throws
    /// on a path without components; we ignore both.
    pub fn delete_path(&mut self, path: &str) {
        let comps: Vec<&str> = components(path).collect();
        if comps.is_empty() {
            return;
        }
        Self::delete_in(&mut self.root, &comps);
    }

    /// Clear the property at the end of `comps`, dropping nodes left without a property or
    /// children (Java only drops the last one; the difference is not observable).
    fn delete_in(node: &mut TrieNode, comps: &[&str]) -> bool {
        let Some((first, rest)) = comps.split_first() else {
            node.property = false;
            return node.children.is_empty();
        };
        let Some(child) = node.children.get_mut(*first) else {
            return false;
        };
        if Self::delete_in(child, rest) {
            node.children.remove(*first);
            return !node.property && node.children.is_empty();
        }
        false
    }

    /// `PathTrie.findMaxPrefix`: the deepest quota root that is a prefix of `path` (by
    /// components), or "/" if there is none.
    pub fn find_max_prefix(&self, path: &str) -> String {
        let mut node = &self.root;
        let mut walked: Vec<&str> = Vec::new();
        let mut deepest = 0;
        for c in components(path) {
            match node.children.get(c) {
                Some(n) => node = n,
                None => break,
            }
            walked.push(c);
            if node.property {
                deepest = walked.len();
            }
        }
        format!("/{}", walked[..deepest].join("/"))
    }

    /// `PathTrie.clear`.
    pub fn clear(&mut self) {
        self.root = TrieNode::default();
    }
}

// ---- the tree side ----

/// What quota bookkeeping needs from the data tree.
pub trait QuotaTree {
    /// The node at `path`: `Some(data)` (`Some(None)` for null data) or `None` when there is
    /// no such node. "" must find the root, as in Java's node map.
    fn quota_node_data(&self, path: &str) -> Option<Option<&[u8]>>;
    /// The names of the children of the node at `path`, in Java's iteration order; `None` when
    /// there is no such node.
    fn quota_children(&self, path: &str) -> Option<Vec<String>>;
    /// Replace the data of the existing node at `path`, leaving its stat and the tree's
    /// approximate data size alone (Java assigns `DataNode.data`).
    fn quota_replace_data(&mut self, path: &str, data: Vec<u8>);
}

/// A write the hard quota refuses (`KeeperException.QuotaExceededException`, -125).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The quota root whose limit the write would pass.
    pub prefix: String,
    /// Java's log line, e.g. `Quota exceeded: /a [current count=4, hardCountLimit=3]`.
    pub message: String,
}

/// The quota roots of a tree and the bookkeeping Java's `DataTree` does around its writes.
#[derive(Debug, Clone, Default)]
pub struct Quotas {
    trie: PathTrie,
}

impl Quotas {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trie(&self) -> &PathTrie {
        &self.trie
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest quota root above or at `path`, `None` if
    /// there is none.
    pub fn max_prefix(&self, path: &str) -> Option<String> {
        if self.trie.is_empty() {
            return None;
        }
        let p = self.trie.find_max_prefix(path);
        (p != "/" && !p.is_empty()).then_some(p)
    }

    /// The tail of `DataTree.createNode`, once the node at `path` (with `data_len` bytes of
    /// data) is in the tree: a `zookeeper_limits` child of `/zookeeper/quota...` adds a quota
    /// root, a `zookeeper_stats` child recounts its root into it; then the deepest quota root
    /// of `path` counts the new node.
    pub fn after_create<T: QuotaTree + ?Sized>(&mut self, tree: &mut T, path: &str, data_len: i64) {
        let (parent, name) = java_parent(path);
        if parent.starts_with(QUOTA_ZOOKEEPER) {
            let root = trim_quota_path(parent).unwrap_or("");
            if name == LIMIT_NODE {
                self.trie.add_path(root);
            }
            if name == STAT_NODE {
                update_quota_for_path(tree, root);
            }
        }
        if let Some(prefix) = self.max_prefix(path) {
            update_quota_stat(tree, &prefix, data_len, 1);
        }
    }

    /// The tail of `DataTree.deleteNode`, once the node at `path` (which had `data_len` bytes)
    /// is gone: deleting a `zookeeper_limits` node drops the quota root (Java tests the parent
    /// against `/zookeeper`, not `/zookeeper/quota`, and cuts 16 characters regardless), then
    /// the deepest quota root of `path` stops counting it.
    pub fn after_delete<T: QuotaTree + ?Sized>(&mut self, tree: &mut T, path: &str, data_len: i64) {
        let (parent, name) = java_parent(path);
        if parent.starts_with(PROC_ZOOKEEPER) && name == LIMIT_NODE {
            if let Some(root) = trim_quota_path(parent) {
                self.trie.delete_path(root);
            }
        }
        if let Some(prefix) = self.max_prefix(path) {
            update_quota_stat(tree, &prefix, -data_len, -1);
        }
    }

    /// The tail of `DataTree.setData`: the deepest quota root of `path` adds the change in
    /// data length (and rewrites its stats even when that is 0, as Java does).
    pub fn after_set_data<T: QuotaTree + ?Sized>(
        &mut self,
        tree: &mut T,
        path: &str,
        old_len: i64,
        new_len: i64,
    ) {
        if let Some(prefix) = self.max_prefix(path) {
            update_quota_stat(tree, &prefix, new_len - old_len, 0);
        }
    }

    /// `DataTree.setupQuota`, run after a snapshot is loaded: forget every root, then walk
    /// `/zookeeper/quota` depth-first (children in Java's order); each *leaf* whose path ends
    /// in `/zookeeper_limits` makes the text between `/zookeeper/quota` and the first
    /// `/zookeeper_limits` a quota root, after recounting that root's stats.
    pub fn rebuild<T: QuotaTree + ?Sized>(&mut self, tree: &mut T) {
        self.trie.clear();
        let end = format!("/{LIMIT_NODE}");
        let mut stack = vec![QUOTA_ZOOKEEPER.to_string()];
        while let Some(path) = stack.pop() {
            let Some(children) = tree.quota_children(&path) else {
                continue;
            };
            if children.is_empty() {
                if path.ends_with(&end) {
                    // `end` does not occur in the first 16 characters (`/zookeeper/quota`).
                    let at = path.find(&end).unwrap_or(path.len());
                    let root = path[QUOTA_ZOOKEEPER.len()..at].to_string();
                    update_quota_for_path(tree, &root);
                    self.trie.add_path(&root);
                }
                continue;
            }
            for c in children.iter().rev() {
                stack.push(format!("{path}/{c}"));
            }
        }
    }

    /// `ZooKeeperServer.checkQuota` (run in prep when `zookeeper.enforceQuota` is on): would
    /// adding `count_diff` nodes and `bytes_diff` bytes under `path` pass a quota? A create
    /// passes (data length, 1), a setData (new length - old length, 0). Past a hard limit:
    /// `Err`; past only a soft limit: `Ok` with Java's log lines. Missing or unreadable limits
    /// or stats nodes pass.
    pub fn check<T: QuotaTree + ?Sized>(
        &self,
        tree: &T,
        path: &str,
        bytes_diff: i64,
        count_diff: i64,
    ) -> Result<Vec<String>, QuotaExceeded> {
        let mut soft = Vec::new();
        let Some(prefix) = self.max_prefix(path) else {
            return Ok(soft);
        };
        let read = |p: &str| {
            tree.quota_node_data(p)
                .map(|d| StatsTrack::parse_bytes(d.unwrap_or_default()))
        };
        let Some(Ok(limits)) = read(&limit_path(&prefix)) else {
            return Ok(soft);
        };
        let check_count =
            count_diff != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
        let check_bytes = bytes_diff != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
        if !check_count && !check_bytes {
            return Ok(soft);
        }
        let Some(Ok(current)) = read(&stat_path(&prefix)) else {
            return Ok(soft);
        };
        let checks = [
            (
                check_count,
                "count",
                "Count",
                current.count(),
                count_diff,
                limits.count(),
                limits.count_hard_limit(),
            ),
            (
                check_bytes,
                "bytes",
                "Byte",
                current.bytes(),
                bytes_diff,
                limits.bytes(),
                limits.byte_hard_limit(),
            ),
        ];
        for (on, what, kind, now, diff, soft_limit, hard_limit) in checks {
            if !on {
                continue;
            }
            let new = now.wrapping_add(diff);
            let hard = hard_limit > -1;
            let limit = if hard { hard_limit } else { soft_limit };
            if new > limit {
                let message = format!(
                    "Quota exceeded: {prefix} [current {what}={new}, {}{kind}Limit={limit}]",
                    if hard { "hard" } else { "soft" }
                );
                if hard {
                    return Err(QuotaExceeded { prefix, message });
                }
                soft.push(message);
            }
        }
        Ok(soft)
    }
}

/// `DataTree.updateQuotaStat`: add to the stats node of quota root `prefix`. Nothing happens
/// when the stats node is missing (Java logs an error) or does not parse (Java throws).
pub fn update_quota_stat<T: QuotaTree + ?Sized>(
    tree: &mut T,
    prefix: &str,
    bytes_diff: i64,
    count_diff: i64,
) {
    let path = stat_path(prefix);
    let Some(data) = tree.quota_node_data(&path) else {
        return;
    };
    // Java's `new StatsTrack((byte[]) null)` throws; we read null data as empty.
    let Ok(mut st) = StatsTrack::parse_bytes(data.unwrap_or_default()) else {
        return;
    };
    st.set_count(st.count().wrapping_add(count_diff));
    st.set_bytes(st.bytes().wrapping_add(bytes_diff));
    tree.quota_replace_data(&path, st.to_bytes());
}

/// `DataTree.getCounts`: nodes and data bytes of the subtree at `path` (itself included); 0
/// and 0 when there is no node there. Children are reached as `path + "/" + name`, as in Java.
pub fn subtree_counts<T: QuotaTree + ?Sized>(tree: &T, path: &str) -> (i64, i64) {
    let (mut count, mut bytes) = (0i64, 0i64);
    let mut stack = vec![path.to_string()];
    while let Some(p) = stack.pop() {
        let Some(data) = tree.quota_node_data(&p) else {
            continue;
        };
        count += 1;
        bytes += data.map_or(0, |d| d.len() as i64);
        for c in tree.quota_children(&p).unwrap_or_default() {
            stack.push(format!("{p}/{c}"));
        }
    }
    (count, bytes)
}

/// `DataTree.updateQuotaForPath`: recount the subtree of quota root `path` into its stats
/// node (`count=N,bytes=M`, dropping any other key), if that node exists.
pub fn update_quota_for_path<T: QuotaTree + ?Sized>(tree: &mut T, path: &str) {
    let (count, bytes) = subtree_counts(tree, path);
    let mut st = StatsTrack::new();
    st.set_bytes(bytes);
    st.set_count(count);
    let stat = stat_path(path);
    if tree.quota_node_data(&stat).is_some() {
        tree.quota_replace_data(&stat, st.to_bytes());
    }
}

/// Java's `QuotaMetricsUtils`, the quota gauge sets of `mntr`: walking `/zookeeper/quota`
/// depth-first, each leaf `.../zookeeper_limits` adds its limit (the hard limit when set, else
/// the soft one) and each leaf `.../zookeeper_stats` its usage to the top namespace of the
/// quota root (`/a/b` -> `a`). Keys as `mntr` prints them without `zk_`, per namespace in the
/// order Java's gauge sets come out: bytes limit, count usage, count limit, bytes usage.
pub fn metrics<T: QuotaTree + ?Sized>(tree: &T) -> Vec<(String, i64)> {
    // (namespace, [bytes limit, count usage, count limit, bytes usage])
    let mut sums: std::collections::BTreeMap<String, [Option<i64>; 4]> = Default::default();
    let mut stack = vec![QUOTA_ZOOKEEPER.to_string()];
    while let Some(path) = stack.pop() {
        let Some(children) = tree.quota_children(&path) else {
            continue;
        };
        if !children.is_empty() {
            for c in children.iter().rev() {
                stack.push(format!("{path}/{c}"));
            }
            continue;
        }
        let limits = path.ends_with(&format!("/{LIMIT_NODE}"));
        if !limits && !path.ends_with(&format!("/{STAT_NODE}")) {
            continue;
        }
        let Some(ns) = trim_quota_path(&path).and_then(|p| p.split('/').nth(1)) else {
            continue;
        };
        let Some(Some(data)) = tree.quota_node_data(&path) else {
            continue;
        };
        let Ok(t) = StatsTrack::parse_bytes(data) else {
            continue;
        };
        let hard_or_soft = |hard: i64, soft: i64| if hard > -1 { hard } else { soft };
        let entry = sums.entry(ns.to_string()).or_default();
        let add = |slot: &mut Option<i64>, v: i64| *slot = Some(slot.unwrap_or(0).wrapping_add(v));
        if limits {
            add(&mut entry[0], hard_or_soft(t.byte_hard_limit(), t.bytes()));
            add(&mut entry[2], hard_or_soft(t.count_hard_limit(), t.count()));
        } else {
            add(&mut entry[1], t.count());
            add(&mut entry[3], t.bytes());
        }
    }
    let names = ["bytes_limit", "count_usage", "count_limit", "bytes_usage"];
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for (ns, v) in &sums {
            if let Some(v) = v[i] {
                out.push((format!("{ns}_quota_{name}_per_namespace"), v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    // ---- StatsTrack ----

    fn round(s: &str) -> String {
        StatsTrack::parse(s).unwrap().to_string()
    }

    #[test]
    fn stats_track_formats_as_java() {
        // What zkCli 3.8's setquota writes and the server's stats nodes hold.
        let mut limits = StatsTrack::new();
        limits.set_count(-1);
        limits.set_bytes(-1);
        limits.set_count_hard_limit(-1);
        limits.set_byte_hard_limit(-1);
        limits.set_count(5);
        assert_eq!(
            limits.to_string(),
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let mut stats = StatsTrack::new();
        stats.set_count(0);
        stats.set_bytes(0);
        assert_eq!(stats.to_string(), "count=0,bytes=0");
        assert_eq!(StatsTrack::new().to_string(), "count=-1,bytes=-1");
        assert_eq!(stats.to_bytes(), b"count=0,bytes=0".to_vec());
    }

    #[test]
    fn stats_track_parses_as_java() {
        let t = StatsTrack::parse("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3").unwrap();
        assert_eq!(
            (
                t.count(),
                t.bytes(),
                t.count_hard_limit(),
                t.byte_hard_limit()
            ),
            (-1, -1, 3, -1)
        );
        assert_eq!(
            round("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"),
            "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"
        );
        // 3.4's format and the old parser's view of the new one.
        let t = StatsTrack::parse("count=2,bytes=5").unwrap();
        assert_eq!((t.count(), t.bytes(), t.count_hard_limit()), (2, 5, -1));
        // Missing keys read -1; the first two always print.
        assert_eq!(round(""), "count=-1,bytes=-1");
        assert_eq!(round("bytes=7"), "count=-1,bytes=7");
        // Runs of separators, trailing separators, "=" pieces past the value.
        assert_eq!(round("count=1,;,bytes=2;;"), "count=1,bytes=2");
        assert_eq!(round(",;"), "count=-1,bytes=-1");
        assert_eq!(round("count=1=2"), "count=1,bytes=-1");
        assert_eq!(round("count==9,bytes=3="), "count=-1,bytes=3");
        assert_eq!(round("count=+4,bytes=007"), "count=4,bytes=7");
        // Other keys: after "=", sorted by String.compareTo, duplicates: last wins.
        assert_eq!(
            round("zeta=1,count=1,Alpha=2,bytes=2,alpha=3,zeta=4"),
            "count=1,bytes=2=;Alpha=2;alpha=3;zeta=4"
        );
        assert_eq!(round("=5"), "count=-1,bytes=-1=;=5");
        // UTF-16 order: U+FF21 (one unit) sorts after U+1F600 (surrogates D83D DE00).
        assert_eq!(
            round("\u{ff21}=1,\u{1f600}=2"),
            "count=-1,bytes=-1=;\u{1f600}=2;\u{ff21}=1"
        );
    }

    #[test]
    fn stats_track_rejects_what_java_throws_on() {
        for bad in [
            "count",
            "count=",
            ",count=1",
            "=",
            "count=x",
            "count=1.5",
            "count=-",
            "count=+",
            "count= 1",
            "count=99999999999999999999",
            "count=1,bytes",
        ] {
            assert!(StatsTrack::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            StatsTrack::parse("count=-9223372036854775808")
                .unwrap()
                .count(),
            i64::MIN
        );
        assert!(StatsTrack::parse_bytes(b"count=1,bytes=\xff").is_err());
        assert_eq!(
            StatsTrack::parse_bytes(b"\xff=1").unwrap().get("\u{fffd}"),
            1
        );
    }

    #[test]
    fn java_split_semantics() {
        let runs = |s| java_split(s, |c| c == ',' || c == ';', true);
        let eq = |s| java_split(s, |c| c == '=', false);
        assert_eq!(runs("a,,b;c"), vec!["a", "b", "c"]);
        assert_eq!(runs(",a"), vec!["", "a"]);
        assert_eq!(runs("a,,"), vec!["a"]);
        assert!(runs(",,").is_empty());
        assert_eq!(eq("a==5"), vec!["a", "", "5"]);
        assert_eq!(eq("a=5="), vec!["a", "5"]);
        assert!(eq("=").is_empty());
        assert!(eq("").is_empty());
        assert_eq!(eq("=5"), vec!["", "5"]);
    }

    // ---- paths ----

    #[test]
    fn quota_paths() {
        assert_eq!(quota_path("/a/b"), "/zookeeper/quota/a/b");
        assert_eq!(limit_path("/a"), "/zookeeper/quota/a/zookeeper_limits");
        assert_eq!(stat_path("/a"), "/zookeeper/quota/a/zookeeper_stats");
        assert_eq!(trim_quota_path("/zookeeper/quota/a/b"), Some("/a/b"));
        assert_eq!(trim_quota_path("/zookeeper/quota"), Some(""));
        assert_eq!(trim_quota_path("/zookeeper/quotaX"), Some("X"));
        assert_eq!(trim_quota_path("/zookeeper/abcdefgh"), Some("fgh"));
        assert_eq!(trim_quota_path("/zookeeper/é"), None);
        assert_eq!(trim_quota_path("/zookeeper/abcdéfgh"), Some("fgh"));
        assert_eq!(java_parent("/a"), ("", "a"));
        assert_eq!(java_parent("/a/b"), ("/a", "b"));
    }

    // ---- trie ----

    #[test]
    fn trie_longest_prefix() {
        let mut t = PathTrie::new();
        assert_eq!(t.find_max_prefix("/a/b"), "/");
        t.add_path("/a");
        t.add_path("/a/b/c");
        assert_eq!(t.find_max_prefix("/a"), "/a");
        assert_eq!(t.find_max_prefix("/a/b"), "/a");
        assert_eq!(t.find_max_prefix("/a/b/c/d"), "/a/b/c");
        assert_eq!(t.find_max_prefix("/ab"), "/");
        assert_eq!(t.find_max_prefix("/x/a"), "/");
        // Empty and blank components are ignored, as Java's split+trim filter does.
        assert_eq!(t.find_max_prefix("//a/ /b/c/"), "/a/b/c");
        t.delete_path("/a/b/c");
        assert_eq!(t.find_max_prefix("/a/b/c/d"), "/a");
        t.delete_path("/a/b");
        assert_eq!(t.find_max_prefix("/a/b"), "/a");
        t.delete_path("/a");
        assert!(t.is_empty());
        assert_eq!(t.find_max_prefix("/a"), "/");
        // Deleting an inner root keeps deeper ones.
        t.add_path("/p");
        t.add_path("/p/q");
        t.delete_path("/p");
        assert_eq!(t.find_max_prefix("/p/x"), "/");
        assert_eq!(t.find_max_prefix("/p/q/x"), "/p/q");
        // Rejected / ignored as in Java (which throws).
        assert!(!t.add_path(""));
        t.delete_path("");
        t.delete_path("/");
        // "/" marks the trie root, which never matches.
        assert!(t.add_path("/"));
        assert_eq!(t.find_max_prefix("/zz"), "/");
        t.clear();
        assert!(t.is_empty());
        // A relative "root" (from /zookeeper/quotaX/zookeeper_limits) acts as "/X".
        t.add_path("X");
        assert_eq!(t.find_max_prefix("/X/y"), "/X");
    }

    // ---- tree bookkeeping, against a toy tree ----

    #[derive(Default)]
    struct Toy {
        nodes: BTreeMap<String, Option<Vec<u8>>>,
    }

    impl Toy {
        fn key(p: &str) -> &str {
            if p.is_empty() {
                "/"
            } else {
                p
            }
        }
        fn with(paths: &[(&str, &str)]) -> Self {
            let mut t = Toy::default();
            t.nodes.insert("/".into(), Some(vec![]));
            for (p, d) in paths {
                t.nodes.insert(p.to_string(), Some(d.as_bytes().to_vec()));
            }
            t
        }
        fn data(&self, p: &str) -> String {
            String::from_utf8(self.nodes[p].clone().unwrap()).unwrap()
        }
    }

    impl QuotaTree for Toy {
        fn quota_node_data(&self, path: &str) -> Option<Option<&[u8]>> {
            self.nodes.get(Self::key(path)).map(|d| d.as_deref())
        }
        fn quota_children(&self, path: &str) -> Option<Vec<String>> {
            let path = Self::key(path);
            self.nodes.get(path)?;
            let prefix = if path == "/" {
                "/".to_string()
            } else {
                format!("{path}/")
            };
            Some(
                self.nodes
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .filter(|r| !r.is_empty() && !r.contains('/'))
                    .map(str::to_string)
                    .collect(),
            )
        }
        fn quota_replace_data(&mut self, path: &str, data: Vec<u8>) {
            if let Some(d) = self.nodes.get_mut(Self::key(path)) {
                *d = Some(data);
            }
        }
    }

    fn create(q: &mut Quotas, t: &mut Toy, path: &str, data: &str) {
        t.nodes.insert(path.into(), Some(data.as_bytes().to_vec()));
        q.after_create(t, path, data.len() as i64);
    }

    fn delete(q: &mut Quotas, t: &mut Toy, path: &str) {
        let d = t.nodes.remove(path).unwrap();
        q.after_delete(t, path, d.map_or(0, |d| d.len() as i64));
    }

    fn set(q: &mut Quotas, t: &mut Toy, path: &str, data: &str) {
        let old = t.nodes.insert(path.into(), Some(data.as_bytes().to_vec()));
        let old = old.unwrap().map_or(0, |d| d.len() as i64);
        q.after_set_data(t, path, old, data.len() as i64);
    }

    /// zkCli's setquota: the quota path, the limits node, the stats node.
    fn setquota(q: &mut Quotas, t: &mut Toy, path: &str, limits: &str) {
        let mut p = QUOTA_ZOOKEEPER.to_string();
        for c in path.split('/').skip(1) {
            p = format!("{p}/{c}");
            if !t.nodes.contains_key(&p) {
                create(q, t, &p, "");
            }
        }
        create(q, t, &limit_path(path), limits);
        create(q, t, &stat_path(path), "count=0,bytes=0");
    }

    #[test]
    fn stats_follow_the_zkcli_transcript() {
        // The compat test's sequence (Java 3.8's output in its comments).
        let mut q = Quotas::new();
        let mut t = Toy::with(&[("/zookeeper", ""), ("/zookeeper/quota", "")]);
        create(&mut q, &mut t, "/zq", "");
        create(&mut q, &mut t, "/zq/a", "12345");
        setquota(
            &mut q,
            &mut t,
            "/zq",
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
        );
        let sp = stat_path("/zq");
        assert_eq!(t.data(&sp), "count=2,bytes=5");
        create(&mut q, &mut t, "/zq/b", "123");
        create(&mut q, &mut t, "/zq/a/c", "1234567890");
        set(&mut q, &mut t, "/zq/a", "1");
        assert_eq!(t.data(&sp), "count=4,bytes=14");
        delete(&mut q, &mut t, "/zq/b");
        assert_eq!(t.data(&sp), "count=3,bytes=11");
        // Outside the root: nothing.
        create(&mut q, &mut t, "/other", "xyz");
        create(&mut q, &mut t, "/zqq", "xyz");
        assert_eq!(t.data(&sp), "count=3,bytes=11");
        // delquota: zkCli deletes the quota node's children then the node.
        delete(&mut q, &mut t, &limit_path("/zq"));
        delete(&mut q, &mut t, &sp);
        delete(&mut q, &mut t, "/zookeeper/quota/zq");
        assert!(q.trie().is_empty());
        assert_eq!(q.max_prefix("/zq/a"), None);
        // setquota -N 3 again: recounted on the stats node's creation.
        setquota(
            &mut q,
            &mut t,
            "/zq",
            "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3",
        );
        assert_eq!(t.data(&sp), "count=3,bytes=11");
        create(&mut q, &mut t, "/zq/d", "");
        create(&mut q, &mut t, "/zq/e", "");
        assert_eq!(t.data(&sp), "count=5,bytes=11");
        // Stats node deleted first: updates have nowhere to go, nothing breaks.
        delete(&mut q, &mut t, &sp);
        create(&mut q, &mut t, "/zq/f", "");
        assert_eq!(q.max_prefix("/zq/f").as_deref(), Some("/zq"));
    }

    #[test]
    fn deepest_root_counts_and_garbage_is_left_alone() {
        let mut q = Quotas::new();
        let mut t = Toy::with(&[("/zookeeper", ""), ("/zookeeper/quota", ""), ("/a", "")]);
        create(&mut q, &mut t, "/a/b", "xx");
        setquota(&mut q, &mut t, "/a", "count=9,bytes=-1");
        setquota(&mut q, &mut t, "/a/b", "count=9,bytes=-1");
        assert_eq!(t.data(&stat_path("/a")), "count=2,bytes=2");
        assert_eq!(t.data(&stat_path("/a/b")), "count=1,bytes=2");
        create(&mut q, &mut t, "/a/b/c", "123");
        create(&mut q, &mut t, "/a/d", "1");
        assert_eq!(t.data(&stat_path("/a")), "count=3,bytes=3");
        assert_eq!(t.data(&stat_path("/a/b")), "count=2,bytes=5");
        // A stats node a client rewrote: normalised on the next update (set with no length
        // change still rewrites it), unparsable ones are left as they are.
        t.nodes
            .insert(stat_path("/a"), Some(b"bytes=1,count=1,x=7,".to_vec()));
        set(&mut q, &mut t, "/a/d", "2");
        assert_eq!(t.data(&stat_path("/a")), "count=1,bytes=1=;x=7");
        t.nodes.insert(stat_path("/a"), Some(b"garbage".to_vec()));
        set(&mut q, &mut t, "/a/d", "22");
        assert_eq!(t.data(&stat_path("/a")), "garbage");
        t.nodes.insert(stat_path("/a"), None);
        create(&mut q, &mut t, "/a/e", "");
        assert_eq!(t.data(&stat_path("/a")), "count=0,bytes=-1");
    }

    #[test]
    fn java_path_quirks() {
        let mut q = Quotas::new();
        let mut t = Toy::with(&[("/zookeeper", ""), ("/zookeeper/quota", ""), ("/X", "abc")]);
        // zookeeper_limits under /zookeeper/quotaX makes "X" (= "/X") a root; its stats node
        // is /zookeeper/quotaX/zookeeper_stats.
        create(&mut q, &mut t, "/zookeeper/quotaX", "");
        create(&mut q, &mut t, "/zookeeper/quotaX/zookeeper_limits", "");
        create(&mut q, &mut t, "/zookeeper/quotaX/zookeeper_stats", "hello");
        // Recount of "X" (no such node): 0 and 0.
        assert_eq!(
            t.data("/zookeeper/quotaX/zookeeper_stats"),
            "count=0,bytes=0"
        );
        // The root is "/X", whose stats node would be /zookeeper/quota/X/zookeeper_stats:
        // there is none, so creates under /X change nothing.
        assert_eq!(q.max_prefix("/X/y").as_deref(), Some("/X"));
        create(&mut q, &mut t, "/X/y", "12");
        assert_eq!(
            t.data("/zookeeper/quotaX/zookeeper_stats"),
            "count=0,bytes=0"
        );
        // A stats node directly under /zookeeper/quota counts the whole tree (itself
        // included, with the data it was created with).
        let n = t.nodes.len() as i64 + 1;
        let bytes: i64 = t
            .nodes
            .values()
            .map(|d| d.as_ref().map_or(0, |d| d.len() as i64))
            .sum();
        create(&mut q, &mut t, "/zookeeper/quota/zookeeper_stats", "");
        assert_eq!(
            t.data("/zookeeper/quota/zookeeper_stats"),
            format!("count={n},bytes={bytes}")
        );
        // A limits node directly under /zookeeper/quota: Java throws; we add nothing.
        create(&mut q, &mut t, "/zookeeper/quota/zookeeper_limits", "");
        delete(&mut q, &mut t, "/zookeeper/quota/zookeeper_limits");
        // Deleting a limits node under /zookeeper: Java cuts 16 characters regardless.
        create(&mut q, &mut t, "/zookeeper/abcdeX", "");
        create(&mut q, &mut t, "/zookeeper/abcdeX/zookeeper_limits", "");
        assert!(q.max_prefix("/X/y").is_some());
        delete(&mut q, &mut t, "/zookeeper/abcdeX/zookeeper_limits");
        assert_eq!(q.max_prefix("/X/y"), None);
        // Shorter than /zookeeper/quota: Java throws; we skip.
        create(&mut q, &mut t, "/zookeeperZ", "");
        create(&mut q, &mut t, "/zookeeperZ/zookeeper_limits", "");
        delete(&mut q, &mut t, "/zookeeperZ/zookeeper_limits");
    }

    #[test]
    fn rebuild_after_load() {
        let mut t = Toy::with(&[
            ("/zookeeper", ""),
            ("/zookeeper/quota", ""),
            ("/a", "1"),
            ("/a/b", "22"),
            ("/a/b/c", "333"),
            ("/zookeeper/quota/a", ""),
            ("/zookeeper/quota/a/zookeeper_limits", "count=1,bytes=-1"),
            ("/zookeeper/quota/a/zookeeper_stats", "count=99,bytes=99"),
            // Not a leaf: not a root after a load.
            ("/zookeeper/quota/a/b", ""),
            ("/zookeeper/quota/a/b/zookeeper_limits", ""),
            ("/zookeeper/quota/a/b/zookeeper_limits/x", ""),
            ("/zookeeper/quota/a/b/zookeeper_stats", "count=7,bytes=7"),
        ]);
        let mut q = Quotas::new();
        q.trie.add_path("/stale");
        q.rebuild(&mut t);
        assert_eq!(q.max_prefix("/stale"), None);
        assert_eq!(q.max_prefix("/a/b/c").as_deref(), Some("/a"));
        assert_eq!(
            t.data("/zookeeper/quota/a/zookeeper_stats"),
            "count=3,bytes=6"
        );
        assert_eq!(
            t.data("/zookeeper/quota/a/b/zookeeper_stats"),
            "count=7,bytes=7"
        );
        // The realPath ends at the first "/zookeeper_limits".
        let mut t = Toy::with(&[
            ("/zookeeper", ""),
            ("/zookeeper/quota", ""),
            ("/zookeeper/quota/p", ""),
            ("/zookeeper/quota/p/zookeeper_limits", ""),
            ("/zookeeper/quota/p/zookeeper_limits/q", ""),
            ("/zookeeper/quota/p/zookeeper_limits/q/zookeeper_limits", ""),
            // Directly under /zookeeper/quota: Java cannot load this; we skip the root.
            ("/zookeeper/quota/zookeeper_limits", ""),
        ]);
        q.rebuild(&mut t);
        assert_eq!(q.max_prefix("/p/x").as_deref(), Some("/p"));
        // No /zookeeper/quota at all.
        let mut t = Toy::with(&[]);
        q.rebuild(&mut t);
        assert!(q.trie().is_empty());
    }

    #[test]
    fn enforcement_check() {
        let mut q = Quotas::new();
        let mut t = Toy::with(&[("/zookeeper", ""), ("/zookeeper/quota", ""), ("/a", "")]);
        assert_eq!(q.check(&t, "/a/x", 1, 1), Ok(vec![]));
        setquota(
            &mut q,
            &mut t,
            "/a",
            "count=2,bytes=-1=;byteHardLimit=10;countHardLimit=-1",
        );
        // count 1 now: +1 passes, +2 passes the soft limit only.
        assert_eq!(q.check(&t, "/a/x", 0, 1), Ok(vec![]));
        assert_eq!(
            q.check(&t, "/a/x", 0, 2),
            Ok(vec![
                "Quota exceeded: /a [current count=3, softCountLimit=2]".to_string()
            ])
        );
        assert_eq!(q.check(&t, "/a/x", 10, 1), Ok(vec![]));
        assert_eq!(
            q.check(&t, "/a/x", 11, 0),
            Err(QuotaExceeded {
                prefix: "/a".into(),
                message: "Quota exceeded: /a [current bytes=11, hardByteLimit=10]".into()
            })
        );
        // Shrinking data never fails; diffs of 0 are not checked.
        assert_eq!(q.check(&t, "/a/x", -5, 0), Ok(vec![]));
        t.nodes
            .insert(stat_path("/a"), Some(b"count=1,bytes=50".to_vec()));
        assert_eq!(q.check(&t, "/a/x", 0, 0), Ok(vec![]));
        assert!(q.check(&t, "/a/x", 1, 0).is_err());
        assert_eq!(q.check(&t, "/b", 100, 1), Ok(vec![]));
        // Hard count limit, missing stats node.
        t.nodes.insert(
            limit_path("/a"),
            Some(b"count=-1,bytes=-1=;countHardLimit=1".to_vec()),
        );
        assert!(q.check(&t, "/a/x", 0, 1).is_err());
        t.nodes.remove(&stat_path("/a"));
        assert_eq!(q.check(&t, "/a/x", 0, 1), Ok(vec![]));
    }

    #[test]
    fn metrics_sum_limits_and_usage_per_namespace() {
        let mut q = Quotas::new();
        let mut t = Toy::with(&[
            ("/zookeeper", ""),
            ("/zookeeper/quota", ""),
            ("/a", ""),
            ("/a/b", "xy"),
            ("/c", ""),
        ]);
        assert!(metrics(&t).is_empty());
        setquota(
            &mut q,
            &mut t,
            "/a",
            "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3",
        );
        setquota(&mut q, &mut t, "/a/b", "count=4,bytes=5");
        setquota(&mut q, &mut t, "/c", "count=7,bytes=-1");
        let m: HashMap<String, i64> = metrics(&t).into_iter().collect();
        let get = |k: &str| m.get(k).copied();
        // /a and /a/b both count in namespace a: limits 10 + 5 and 3 + 4 (hard wins over
        // soft); /a's stats count /a and /a/b, /a/b's only itself.
        assert_eq!(get("a_quota_bytes_limit_per_namespace"), Some(15));
        assert_eq!(get("a_quota_count_limit_per_namespace"), Some(7));
        assert_eq!(get("a_quota_count_usage_per_namespace"), Some(3));
        assert_eq!(get("a_quota_bytes_usage_per_namespace"), Some(4));
        assert_eq!(get("c_quota_bytes_limit_per_namespace"), Some(-1));
        assert_eq!(get("c_quota_count_limit_per_namespace"), Some(7));
        assert_eq!(m.len(), 8);
    }
}
