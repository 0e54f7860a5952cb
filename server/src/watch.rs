//! Watch registrations and watch triggering, modelled on ZooKeeper 3.8's and 3.9's
//! server-side `WatchManager` (the default `zookeeper.watchManagerName`) as used by
//! `DataTree`; `compat.version` picks the rules ([`WatchManager::set_compat`]).
//!
//! This module owns: which connection watches which path in which mode, which events a
//! tree change produces for whom (and in what order), `checkWatches` / `removeWatches`
//! semantics, dropping a closed connection's watches, and the raw numbers behind the
//! `wchs` / `wchc` / `wchp` four-letter words, the AdminServer watch commands and the
//! `zk_watch_count` metric. It is sans-IO: it never sends anything, it returns
//! `(WatcherId, Event)` pairs for the caller to deliver.
//!
//! It does not own: ACLs, the tree, sessions, or `SetWatches` (the caller compares the
//! tree with `relativeZxid`, fires what already happened and calls [`WatchManager::add`]
//! for the rest).
//!
//! # The Java 3.8 rules reproduced here
//!
//! * Two independent managers, as in `DataTree`: *data* (getData, exists) and *child*
//!   (getChildren). `addWatch` (PERSISTENT = 0, PERSISTENT_RECURSIVE = 1) registers in
//!   **both** managers with that mode.
//! * Each manager keeps **one mode per (watcher, path)**; the last registration wins. A
//!   standard registration (getData/exists/getChildren with `watch=true`) on a path where the
//!   same connection holds a persistent watch turns that manager's half into a one-shot
//!   watch (3.8 has no per-watch bit set; that came with ZOOKEEPER-4466 in 3.9).
//! * Triggering a path: every watcher registered on exactly that path fires; standard ones
//!   are removed, persistent ones stay. Persistent-recursive watchers fire for the path and
//!   every descendant, but never for `NodeChildrenChanged`. Ancestors are only walked when
//!   the manager holds at least one recursive watch. A watcher fires at most once per
//!   trigger.
//! * create: data manager `NodeCreated(path)`, then child manager
//!   `NodeChildrenChanged(parent)`.
//!   delete: data manager `NodeDeleted(path)`, then child manager `NodeDeleted(path)`
//!   suppressing the watchers the data manager already notified (they are still removed
//!   from the child manager if one-shot), then child manager `NodeChildrenChanged(parent)`.
//!   setData: data manager `NodeDataChanged(path)`. setACL: nothing.
//! * `checkWatches` (`containsWatcher`): for a manager, true if **any** connection watches
//!   exactly that path (3.8 looks the path up but never checks that the set holds the
//!   asking connection). `Any` asks both managers.
//! * `removeWatches` (`removeWatcher(path, watcher)`): removes that connection's watch on
//!   exactly that path from the manager(s) of the type, whatever its mode; true if anything
//!   was removed. False drives `NoWatcher` (-121).
//! * Stats for `wchs` / `wchc` / `wchp` and the AdminServer's `watches`,
//!   `watches_by_path` and `watch_summary` cover the **data manager only**; the
//!   `zk_watch_count` metric sums both managers. A connection stays counted among
//!   "connections watching" (and listed with no paths by `wchc`) after its last watch
//!   fired or was removed, until the connection closes.
//! * The server never sends `DataWatchRemoved` / `ChildWatchRemoved` /
//!   `PersistentWatchRemoved`: the Java client makes those up locally.
//! * Returned events keep Java's per-watcher order; across watchers of one trigger Java's
//!   order is a `HashSet`'s, ours is ascending `WatcherId`.
//!
//! The mode overwrite, the `checkWatches` quirk, the data-only `wchs` and the
//! empty-connection count were checked against Debian's Java 3.8.0 server with a raw
//! client; `golden_sequence_from_java` replays one such session.
//!
//! # The Java 3.9 rules (ZOOKEEPER-4466, -4471, -4472)
//!
//! * One (watcher, path) pair holds a **set of modes** (3.9's `WatchStats`): registrations
//!   add to it. `addWatch` PERSISTENT_RECURSIVE registers in the **data manager only**, so
//!   recursive watches never see `NodeChildrenChanged` and count once in `zk_watch_count`.
//! * Triggering a path fires every pair on it once, whatever its modes, and takes the
//!   standard mode away; ancestors fire their recursive watchers.
//! * `checkWatches` asks about the **asking connection** and one mode: Children / Data its
//!   standard watch in that manager, Persistent (4) / PersistentRecursive (5) that mode in
//!   the data manager, Any any mode in either. Never `MarshallingError` for odd paths.
//! * `removeWatches` takes away the mode `checkWatches` would ask about (Persistent from both
//!   managers), Any every mode; a connection left without paths is forgotten by `wchs`.
//!
//! The 3.9 rules were checked against Java 3.9.3 with a raw client
//! (`compat-tests/python/test_behaviours39.py`).
//!
//! # Left to the caller
//!
//! * Delivery filtering by ACL (CVE-2024-23944, fixed in 3.8.4 and in Debian's
//!   3.8.0-11+deb12u2): an event is delivered only if the connection has READ on the ACL
//!   of the node at `event.path` — the new node for `NodeCreated`, the node just deleted
//!   for `NodeDeleted`, the node for `NodeDataChanged`, the parent for
//!   `NodeChildrenChanged`. The watch is consumed even when the event is filtered out.
//! * A notification is sent with xid -1, state SyncConnected (3), and zxid -1 (3.8) or the
//!   zxid of the txn that fired it (3.9; events fired by SetWatches keep -1).
//! * `exists` registers its watch even when the node does not exist; getData and
//!   getChildren register only when it does. Connections already closed must not add.
//! * An unknown `addWatch` mode or watcher type answers `MarshallingError` (-5) in Java.
//! * `wchc` / `wchp` / the AdminServer print session ids, not connection ids.

use crate::config::CompatVersion;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// A watcher: the id of the client connection that registered the watch (Java keys
/// watches by `ServerCnxn`).
pub type WatcherId = u64;

/// `Watcher.Event.EventType` codes, as sent in a `WatcherEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum EventType {
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
    /// Client-generated only; never produced by this module.
    DataWatchRemoved = 5,
    /// Client-generated only; never produced by this module.
    ChildWatchRemoved = 6,
    /// Client-generated only; never produced by this module.
    PersistentWatchRemoved = 7,
}

impl EventType {
    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Decodes a wire code (state-only `None` = -1 is not a watch event type here).
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            1 => Self::NodeCreated,
            2 => Self::NodeDeleted,
            3 => Self::NodeDataChanged,
            4 => Self::NodeChildrenChanged,
            5 => Self::DataWatchRemoved,
            6 => Self::ChildWatchRemoved,
            7 => Self::PersistentWatchRemoved,
            _ => return None,
        })
    }
}

/// One watch event for one watcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    pub kind: EventType,
    pub path: String,
}

/// What registered the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// getData with `watch` (data manager, one-shot).
    Data,
    /// exists with `watch` (data manager, one-shot; same as `Data` on the server).
    Exist,
    /// getChildren / getChildren2 with `watch` (child manager, one-shot).
    Child,
    /// addWatch mode 0: both managers, persistent.
    Persistent,
    /// addWatch mode 1: both managers, persistent and recursive.
    PersistentRecursive,
}

impl WatchKind {
    /// Maps `AddWatchRequest.mode` (`ZooDefs.AddWatchModes`). `None` for anything else
    /// (Java answers `MarshallingError`).
    pub fn from_add_watch_mode(mode: i32) -> Option<Self> {
        match mode {
            0 => Some(Self::Persistent),
            1 => Some(Self::PersistentRecursive),
            _ => None,
        }
    }
}

/// `Watcher.WatcherType`, the `type` field of `CheckWatchesRequest` / `RemoveWatchesRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum WatcherType {
    Children = 1,
    Data = 2,
    Any = 3,
    /// 3.9 only (ZOOKEEPER-4472): the connection's persistent watch on the path.
    Persistent = 4,
    /// 3.9 only: the connection's persistent recursive watch on the path.
    PersistentRecursive = 5,
}

impl WatcherType {
    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Decodes a wire code as `compat`'s Java knows it. `None` for anything else (Java
    /// answers `MarshallingError`): 3.8 knows 1-3, 3.9 also 4 and 5.
    pub fn from_code(code: i32, compat: CompatVersion) -> Option<Self> {
        match code {
            1 => Some(Self::Children),
            2 => Some(Self::Data),
            3 => Some(Self::Any),
            4 if compat.watch_modes_coexist() => Some(Self::Persistent),
            5 if compat.watch_modes_coexist() => Some(Self::PersistentRecursive),
            _ => None,
        }
    }
}

/// The numbers `wchs` prints (`WatchesSummary`): data manager only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Connections with an entry in the data manager ("N connections watching").
    pub connections: usize,
    /// Paths with at least one data-manager watcher ("watching N paths").
    pub paths: usize,
    /// (connection, path) pairs in the data manager ("Total watches:N").
    pub total: usize,
}

/// All watches of a server's data tree: Java's `dataWatches` and `childWatches`.
#[derive(Debug)]
pub struct WatchManager {
    data: Manager,
    child: Manager,
    /// Whose rules: 3.8's one mode per (watcher, path), or 3.9's coexisting modes.
    compat: CompatVersion,
}

impl WatchManager {
    /// An empty manager following `compat`'s rules.
    pub fn new(compat: CompatVersion) -> Self {
        let mut m = WatchManager {
            data: Manager::default(),
            child: Manager::default(),
            compat,
        };
        m.set_compat(compat);
        m
    }

    /// Follow `compat`'s rules from now on (a tree is built before its server's
    /// configuration is known: the pipeline sets this when it takes the tree).
    pub fn set_compat(&mut self, compat: CompatVersion) {
        self.compat = compat;
        let coexist = compat.watch_modes_coexist();
        self.data.coexist = coexist;
        self.child.coexist = coexist;
    }

    /// Registers a watch (`DataTree.getData/statNode/getChildren/addWatch`).
    pub fn add(&mut self, path: &str, watcher: WatcherId, kind: WatchKind) {
        match kind {
            WatchKind::Data | WatchKind::Exist => self.data.add(path, watcher, Mode::Standard),
            WatchKind::Child => self.child.add(path, watcher, Mode::Standard),
            WatchKind::Persistent => {
                self.data.add(path, watcher, Mode::Persistent);
                self.child.add(path, watcher, Mode::Persistent);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(path, watcher, Mode::Recursive);
                // 3.9 keeps recursive watches out of the child manager (so they never see
                // NodeChildrenChanged, and count once in zk_watch_count).
                if !self.compat.watch_modes_coexist() {
                    self.child.add(path, watcher, Mode::Recursive);
                }
            }
        }
    }

    /// Drops every watch of a connection (`DataTree.removeCnxn`, on connection close).
    pub fn remove_watcher(&mut self, watcher: WatcherId) {
        self.data.remove_watcher(watcher);
        self.child.remove_watcher(watcher);
    }

    /// `checkWatches` (`DataTree.containsWatcher`); false means `NoWatcher` (-121).
    ///
    /// Reproduces 3.8: true when *any* connection watches exactly `path` in the
    /// manager(s) of `kind`; `watcher` does not influence the answer.
    ///
    /// `None` where Java's check throws (and the client gets MarshallingError): a path
    /// without a leading `/` that nobody watches, asked of a manager holding a recursive
    /// watch (Java then walks the path's parents and fails to cut it).
    ///
    /// 3.9 asks about `watcher` itself and a mode: Children and Data its standard watch in
    /// that manager, Persistent and PersistentRecursive that mode in the data manager, Any
    /// any mode in either manager.
    pub fn check(&self, path: &str, watcher: WatcherId, kind: WatcherType) -> Option<bool> {
        if self.compat.watch_modes_coexist() {
            let has = |m: &Manager, mode| m.has(path, watcher, mode);
            return Some(match kind {
                WatcherType::Children => has(&self.child, Some(Mode::Standard)),
                WatcherType::Data => has(&self.data, Some(Mode::Standard)),
                WatcherType::Persistent => has(&self.data, Some(Mode::Persistent)),
                WatcherType::PersistentRecursive => has(&self.data, Some(Mode::Recursive)),
                WatcherType::Any => has(&self.child, None) || has(&self.data, None),
            });
        }
        match kind {
            WatcherType::Children => self.child.contains(path, watcher),
            WatcherType::Data => self.data.contains(path, watcher),
            WatcherType::Any => {
                // Java evaluates both, children first.
                let c = self.child.contains(path, watcher)?;
                let d = self.data.contains(path, watcher)?;
                Some(c || d)
            }
            // 3.8 refuses these types while decoding (`WatcherType::from_code`).
            WatcherType::Persistent | WatcherType::PersistentRecursive => None,
        }
    }

    /// `removeWatches` (`DataTree.removeWatch`). False means `NoWatcher`.
    ///
    /// 3.8 removes `watcher`'s watch on exactly `path` from the manager(s) of `kind`,
    /// whatever its mode. 3.9 removes only the mode `kind` names (as `check` reads it;
    /// Persistent from both managers), and Any every mode from both.
    pub fn remove(&mut self, path: &str, watcher: WatcherId, kind: WatcherType) -> bool {
        if self.compat.watch_modes_coexist() {
            return match kind {
                WatcherType::Children => {
                    self.child.remove_mode(path, watcher, Some(Mode::Standard))
                }
                WatcherType::Data => self.data.remove_mode(path, watcher, Some(Mode::Standard)),
                WatcherType::Persistent => {
                    let c = self
                        .child
                        .remove_mode(path, watcher, Some(Mode::Persistent));
                    let d = self.data.remove_mode(path, watcher, Some(Mode::Persistent));
                    c || d
                }
                WatcherType::PersistentRecursive => {
                    self.data.remove_mode(path, watcher, Some(Mode::Recursive))
                }
                WatcherType::Any => {
                    let c = self.child.remove_mode(path, watcher, None);
                    let d = self.data.remove_mode(path, watcher, None);
                    c || d
                }
            };
        }
        match kind {
            WatcherType::Children => self.child.remove(path, watcher),
            WatcherType::Data => self.data.remove(path, watcher),
            WatcherType::Any => {
                let c = self.child.remove(path, watcher);
                let d = self.data.remove(path, watcher);
                c || d
            }
            WatcherType::Persistent | WatcherType::PersistentRecursive => false,
        }
    }

    /// A node was created at `path`; `parent` is its parent ("/" for a child of the root).
    /// Returns the events to send, per watcher in the order Java sends them.
    pub fn on_create(&mut self, path: &str, parent: &str) -> Vec<(WatcherId, Event)> {
        debug_assert_eq!(parent, parent_of(path), "parent of {path}");
        let mut out = Vec::new();
        self.data
            .trigger(path, EventType::NodeCreated, &[], &mut out);
        self.child
            .trigger(parent, EventType::NodeChildrenChanged, &[], &mut out);
        out
    }

    /// The node at `path` was deleted; `parent` is its parent ("/" for a child of the root).
    pub fn on_delete(&mut self, path: &str, parent: &str) -> Vec<(WatcherId, Event)> {
        debug_assert_eq!(parent, parent_of(path), "parent of {path}");
        let mut out = Vec::new();
        let notified = self
            .data
            .trigger(path, EventType::NodeDeleted, &[], &mut out);
        self.child
            .trigger(path, EventType::NodeDeleted, &notified, &mut out);
        self.child
            .trigger(parent, EventType::NodeChildrenChanged, &[], &mut out);
        out
    }

    /// The data of the node at `path` was set.
    pub fn on_set_data(&mut self, path: &str) -> Vec<(WatcherId, Event)> {
        let mut out = Vec::new();
        self.data
            .trigger(path, EventType::NodeDataChanged, &[], &mut out);
        out
    }

    /// `DataTree.getWatchCount` (metric `zk_watch_count`): watches in both managers.
    pub fn watch_count(&self) -> usize {
        self.data.total + self.child.total
    }

    /// `wchs` / AdminServer `watch_summary`: data manager only.
    pub fn watch_summary(&self) -> WatchSummary {
        WatchSummary {
            connections: self.data.by_watcher.len(),
            paths: self.data.table.len(),
            total: self.data.total,
        }
    }

    /// `wchc` / AdminServer `watches`: data manager only, by connection (ascending), each
    /// with its paths (sorted). Includes connections left with no paths.
    pub fn watches_by_connection(&self) -> Vec<(WatcherId, Vec<String>)> {
        let mut v: Vec<(WatcherId, Vec<String>)> = self
            .data
            .by_watcher
            .iter()
            .map(|(&w, paths)| {
                let mut p: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
                p.sort_unstable();
                (w, p)
            })
            .collect();
        v.sort_unstable_by_key(|(w, _)| *w);
        v
    }

    /// `wchp` / AdminServer `watches_by_path`: data manager only, by path (sorted), each
    /// with its connections (ascending).
    pub fn watches_by_path(&self) -> Vec<(String, Vec<WatcherId>)> {
        let mut v: Vec<(String, Vec<WatcherId>)> = self
            .data
            .table
            .iter()
            .map(|(path, e)| {
                let mut ws: Vec<WatcherId> = e.watchers.keys().copied().collect();
                ws.sort_unstable();
                (path.to_string(), ws)
            })
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Java's `WatcherMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Standard,
    Persistent,
    Recursive,
}

/// The modes one watcher holds on one path (Java 3.9's `WatchStats`, a bit per mode). Under
/// 3.8's rules it always holds exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Modes(u8);

impl Modes {
    fn bit(mode: Mode) -> u8 {
        1 << mode as u8
    }

    fn only(mode: Mode) -> Modes {
        Modes(Self::bit(mode))
    }

    fn has(self, mode: Mode) -> bool {
        self.0 & Self::bit(mode) != 0
    }

    fn with(self, mode: Mode) -> Modes {
        Modes(self.0 | Self::bit(mode))
    }

    fn without(self, mode: Mode) -> Modes {
        Modes(self.0 & !Self::bit(mode))
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Hasher for server-assigned connection ids (not attacker-chosen): a splitmix64 finaliser.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(n).wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<V> = HashMap<WatcherId, V, BuildHasherDefault<IdHasher>>;

/// The watchers of one path in one manager.
#[derive(Debug, Default)]
struct PathEntry {
    watchers: IdMap<Modes>,
    /// How many of `watchers` are recursive (lets ancestor walks skip this path).
    recursive: usize,
}

/// One Java `WatchManager`: `watchTable`, `watch2Paths` and the `WatcherModeManager`.
/// Invariant: `w` is in `table[p].watchers` iff `p` is in `by_watcher[w]`; a path's entry
/// exists only while it has watchers; a watcher's entry may be empty (as in Java).
#[derive(Debug, Default)]
struct Manager {
    table: HashMap<Arc<str>, PathEntry>,
    by_watcher: IdMap<HashSet<Arc<str>>>,
    /// Recursive (watcher, path) pairs (`recursiveQty`).
    recursive: usize,
    /// All (watcher, path) pairs (`size()`).
    total: usize,
    /// 3.9's rules: a registration adds its mode to the pair's modes instead of replacing
    /// them, and a removal takes one mode away (see `WatchManager::set_compat`).
    coexist: bool,
}

impl Manager {
    fn add(&mut self, path: &str, watcher: WatcherId, mode: Mode) {
        let (key, entry) = match self.table.get_key_value(path) {
            Some((k, _)) => {
                let k = k.clone();
                let e = self.table.get_mut(path).expect("present");
                (k, e)
            }
            None => {
                let k: Arc<str> = Arc::from(path);
                let e = self.table.entry(k.clone()).or_default();
                (k, e)
            }
        };
        let old = entry.watchers.get(&watcher).copied();
        let new = match old {
            Some(modes) if self.coexist => modes.with(mode),
            _ => Modes::only(mode),
        };
        entry.watchers.insert(watcher, new);
        let was_recursive = old.is_some_and(|m| m.has(Mode::Recursive));
        let is_recursive = new.has(Mode::Recursive);
        if was_recursive != is_recursive {
            if is_recursive {
                entry.recursive += 1;
                self.recursive += 1;
            } else {
                entry.recursive -= 1;
                self.recursive -= 1;
            }
        }
        if old.is_none() {
            self.total += 1;
            self.by_watcher.entry(watcher).or_default().insert(key);
        }
    }

    fn remove_watcher(&mut self, watcher: WatcherId) {
        let Some(paths) = self.by_watcher.remove(&watcher) else {
            return;
        };
        for p in paths {
            self.unlink(&p, watcher);
        }
    }

    /// Removes `watcher` from `table[path]` (not from `by_watcher`).
    fn unlink(&mut self, path: &str, watcher: WatcherId) -> bool {
        let Some(entry) = self.table.get_mut(path) else {
            return false;
        };
        let Some(modes) = entry.watchers.remove(&watcher) else {
            return false;
        };
        self.total -= 1;
        if modes.has(Mode::Recursive) {
            entry.recursive -= 1;
            self.recursive -= 1;
        }
        if entry.watchers.is_empty() {
            self.table.remove(path);
        }
        true
    }

    /// Java 3.8 `containsWatcher`: the leaf lookup ignores which watcher is in the set, and a
    /// recursive mode for (watcher, path) implies the set is there, so this is a path lookup.
    fn contains(&self, path: &str, _watcher: WatcherId) -> Option<bool> {
        // Java walks `path` and, while the manager has recursive watches, its parents
        // (PathParentIterator): "" yields nothing; taking the parent of a path without '/'
        // throws (before the leaf is even looked at).
        if path.is_empty() {
            return Some(false);
        }
        if path != "/" && !path.contains('/') {
            return None;
        }
        if self.table.contains_key(path) {
            return Some(true);
        }
        if self.recursive > 0 && !path.starts_with('/') {
            return None;
        }
        Some(false)
    }

    /// Java 3.9 `containsWatcher(path, watcher, mode)`: whether `watcher` watches exactly
    /// `path` in `mode` (`None`: in any mode).
    fn has(&self, path: &str, watcher: WatcherId, mode: Option<Mode>) -> bool {
        let modes = self
            .table
            .get(path)
            .and_then(|e| e.watchers.get(&watcher).copied());
        modes.is_some_and(|m| mode.map_or(true, |mode| m.has(mode)))
    }

    /// Java 3.9 `removeWatcher(path, watcher, mode)`: takes `mode` (`None`: every mode) away
    /// from `watcher`'s watch on `path`; true if that changed anything. A connection left
    /// without paths is forgotten (3.9's `unwatch`, unlike a fired one-shot watch).
    fn remove_mode(&mut self, path: &str, watcher: WatcherId, mode: Option<Mode>) -> bool {
        let Some(old) = self
            .table
            .get(path)
            .and_then(|e| e.watchers.get(&watcher).copied())
        else {
            return false;
        };
        let new = mode.map_or(Modes::default(), |mode| old.without(mode));
        if new == old {
            return false;
        }
        if new.is_empty() {
            self.unlink(path, watcher);
            if let Some(paths) = self.by_watcher.get_mut(&watcher) {
                paths.remove(path);
                if paths.is_empty() {
                    self.by_watcher.remove(&watcher);
                }
            }
            return true;
        }
        let entry = self.table.get_mut(path).expect("looked up above");
        entry.watchers.insert(watcher, new);
        if old.has(Mode::Recursive) && !new.has(Mode::Recursive) {
            entry.recursive -= 1;
            self.recursive -= 1;
        }
        true
    }

    fn remove(&mut self, path: &str, watcher: WatcherId) -> bool {
        // Java leaves the connection's (possibly now empty) path set in place.
        let removed = match self.by_watcher.get_mut(&watcher) {
            Some(paths) => paths.remove(path),
            None => false,
        };
        if !removed {
            return false;
        }
        self.unlink(path, watcher)
    }

    /// `triggerWatch(path, kind, suppress)`. Appends one event per notified, unsuppressed
    /// watcher (ascending ids) to `out`; returns every notified watcher (sorted, including
    /// suppressed ones), which is what Java hands back for the next call's suppression.
    fn trigger(
        &mut self,
        path: &str,
        kind: EventType,
        suppress: &[WatcherId],
        out: &mut Vec<(WatcherId, Event)>,
    ) -> Vec<WatcherId> {
        let mut fired = Vec::new();
        if self.table.is_empty() {
            return fired;
        }
        let children_changed = kind == EventType::NodeChildrenChanged;
        if let Some(entry) = self.table.get_mut(path) {
            let by_watcher = &mut self.by_watcher;
            let mut removed = 0;
            entry.watchers.retain(|&w, modes| {
                // Every mode fires on its own path, but a recursive watch never for
                // NodeChildrenChanged (3.8 has them in the child manager; 3.9 does not).
                if !(children_changed && *modes == Modes::only(Mode::Recursive)) {
                    fired.push(w);
                }
                // The standard mode is used up; the others stay.
                *modes = modes.without(Mode::Standard);
                if !modes.is_empty() {
                    return true;
                }
                if let Some(paths) = by_watcher.get_mut(&w) {
                    paths.remove(path);
                }
                removed += 1;
                false
            });
            // Only standard modes are removed: the recursive counts are unchanged.
            self.total -= removed;
            if entry.watchers.is_empty() {
                self.table.remove(path);
            }
        }
        if self.recursive > 0 && !children_changed {
            for ancestor in Ancestors(path) {
                if let Some(entry) = self.table.get(ancestor) {
                    if entry.recursive > 0 {
                        fired.extend(
                            entry
                                .watchers
                                .iter()
                                .filter(|(_, m)| m.has(Mode::Recursive))
                                .map(|(w, _)| *w),
                        );
                    }
                }
            }
        }
        if fired.is_empty() {
            return fired;
        }
        fired.sort_unstable();
        fired.dedup();
        for &w in &fired {
            if suppress.binary_search(&w).is_err() {
                out.push((
                    w,
                    Event {
                        kind,
                        path: path.to_owned(),
                    },
                ));
            }
        }
        fired
    }
}

/// The proper ancestors of a path, nearest first: "/a/b" gives "/a", "/" (Java's
/// `PathParentIterator` after its first element).
struct Ancestors<'a>(&'a str);

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() || self.0 == "/" {
            return None;
        }
        let parent = match self.0.rfind('/') {
            Some(0) => "/",
            Some(i) => &self.0[..i],
            None => "",
        };
        self.0 = parent;
        if parent.is_empty() {
            None
        } else {
            Some(parent)
        }
    }
}

/// The parent path as `DataTree` passes it to the child manager ("/" for "/a").
fn parent_of(path: &str) -> &str {
    Ancestors(path).next().unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    const A: WatcherId = 1;
    const B: WatcherId = 2;
    const C: WatcherId = 3;

    fn ev(w: WatcherId, kind: EventType, path: &str) -> (WatcherId, Event) {
        (
            w,
            Event {
                kind,
                path: path.to_string(),
            },
        )
    }

    /// Checks every internal invariant of one manager.
    fn check_manager(m: &Manager) {
        let mut total = 0;
        let mut recursive = 0;
        for (path, e) in &m.table {
            assert!(!e.watchers.is_empty(), "empty entry for {path}");
            let rec = e
                .watchers
                .values()
                .filter(|m| m.has(Mode::Recursive))
                .count();
            assert_eq!(rec, e.recursive, "recursive count of {path}");
            recursive += rec;
            total += e.watchers.len();
            for w in e.watchers.keys() {
                assert!(
                    m.by_watcher[w].contains(&**path),
                    "{w} at {path} not in by_watcher"
                );
            }
        }
        let mut total2 = 0;
        for (w, paths) in &m.by_watcher {
            for p in paths {
                assert!(
                    m.table[&**p].watchers.contains_key(w),
                    "{w} at {p} not in table"
                );
                // Paths are stored once per manager: key and set entry share one allocation.
                let (k, _) = m.table.get_key_value(&**p).unwrap();
                assert!(Arc::ptr_eq(k, p), "path {p} stored twice");
            }
            total2 += paths.len();
        }
        assert_eq!(total, m.total);
        assert_eq!(total2, m.total);
        assert_eq!(recursive, m.recursive);
    }

    fn check(wm: &WatchManager) {
        check_manager(&wm.data);
        check_manager(&wm.child);
    }

    fn create(wm: &mut WatchManager, path: &str) -> Vec<(WatcherId, Event)> {
        let out = wm.on_create(path, parent_of(path));
        check(wm);
        out
    }

    fn delete(wm: &mut WatchManager, path: &str) -> Vec<(WatcherId, Event)> {
        let out = wm.on_delete(path, parent_of(path));
        check(wm);
        out
    }

    fn set(wm: &mut WatchManager, path: &str) -> Vec<(WatcherId, Event)> {
        let out = wm.on_set_data(path);
        check(wm);
        out
    }

    #[test]
    fn codes() {
        for c in 1..=7 {
            assert_eq!(EventType::from_code(c).unwrap().code(), c);
        }
        assert_eq!(EventType::from_code(0), None);
        assert_eq!(EventType::from_code(-1), None);
        assert_eq!(NodeChildrenChanged.code(), 4);
        use CompatVersion::{V3_8, V3_9};
        for c in 1..=3 {
            assert_eq!(WatcherType::from_code(c, V3_8).unwrap().code(), c);
        }
        for c in 1..=5 {
            assert_eq!(WatcherType::from_code(c, V3_9).unwrap().code(), c);
        }
        assert_eq!(WatcherType::from_code(0, V3_9), None);
        assert_eq!(WatcherType::from_code(4, V3_8), None);
        assert_eq!(WatcherType::from_code(5, V3_8), None);
        assert_eq!(WatcherType::from_code(6, V3_9), None);
        assert_eq!(WatcherType::Children.code(), 1);
        assert_eq!(WatcherType::Data.code(), 2);
        assert_eq!(
            WatchKind::from_add_watch_mode(0),
            Some(WatchKind::Persistent)
        );
        assert_eq!(
            WatchKind::from_add_watch_mode(1),
            Some(WatchKind::PersistentRecursive)
        );
        assert_eq!(WatchKind::from_add_watch_mode(2), None);
        assert_eq!(WatchKind::from_add_watch_mode(-1), None);
    }

    #[test]
    fn ancestors_and_parent() {
        let v: Vec<&str> = Ancestors("/a/b/c").collect();
        assert_eq!(v, ["/a/b", "/a", "/"]);
        assert_eq!(Ancestors("/a").collect::<Vec<_>>(), ["/"]);
        assert_eq!(Ancestors("/").count(), 0);
        assert_eq!(Ancestors("").count(), 0);
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/zookeeper/config"), "/zookeeper");
    }

    #[test]
    fn no_watches_no_events() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        assert!(create(&mut wm, "/a").is_empty());
        assert!(set(&mut wm, "/a").is_empty());
        assert!(delete(&mut wm, "/a").is_empty());
        assert_eq!(wm.watch_count(), 0);
        assert_eq!(wm.watch_summary(), WatchSummary::default());
    }

    #[test]
    fn data_watch_is_one_shot() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        check(&wm);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert!(set(&mut wm, "/a").is_empty());
        assert_eq!(wm.watch_count(), 0);
    }

    #[test]
    fn data_watch_ignores_children_and_other_paths() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        assert!(create(&mut wm, "/a/b").is_empty());
        assert!(set(&mut wm, "/a/b").is_empty());
        assert!(delete(&mut wm, "/a/b").is_empty());
        assert!(set(&mut wm, "/ab").is_empty());
        assert!(set(&mut wm, "/").is_empty());
        assert_eq!(wm.watch_count(), 1);
    }

    #[test]
    fn exist_watch_fires_on_create() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Exist);
        assert_eq!(create(&mut wm, "/a"), vec![ev(A, NodeCreated, "/a")]);
        assert!(delete(&mut wm, "/a").is_empty());
    }

    #[test]
    fn data_watch_fires_on_delete() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert_eq!(wm.watch_count(), 0);
    }

    #[test]
    fn child_watch() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Child);
        // Data changes of the watched node and grandchildren do not fire it.
        assert!(set(&mut wm, "/a").is_empty());
        assert!(create(&mut wm, "/a/b/c").is_empty());
        assert!(set(&mut wm, "/a/b").is_empty());
        assert_eq!(
            create(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert!(create(&mut wm, "/a/c").is_empty(), "one-shot");
        wm.add("/a", A, WatchKind::Child);
        assert_eq!(
            delete(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        wm.add("/a", A, WatchKind::Child);
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert_eq!(wm.watch_count(), 0);
    }

    #[test]
    fn child_watch_on_root() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/", A, WatchKind::Child);
        assert_eq!(create(&mut wm, "/x"), vec![ev(A, NodeChildrenChanged, "/")]);
    }

    #[test]
    fn delete_deduplicates_data_and_child_watch() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/a", A, WatchKind::Child);
        wm.add("/a", B, WatchKind::Child);
        wm.add("/a", C, WatchKind::Exist);
        assert_eq!(
            delete(&mut wm, "/a"),
            vec![
                ev(A, NodeDeleted, "/a"),
                ev(C, NodeDeleted, "/a"),
                ev(B, NodeDeleted, "/a"),
            ]
        );
        // The suppressed child watch of A was consumed too.
        assert_eq!(wm.watch_count(), 0);
        assert!(!wm.check("/a", A, WatcherType::Any).unwrap());
    }

    #[test]
    fn per_watcher_order_create_and_delete() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/p/c", A, WatchKind::Exist);
        wm.add("/p", A, WatchKind::Child);
        assert_eq!(
            create(&mut wm, "/p/c"),
            vec![ev(A, NodeCreated, "/p/c"), ev(A, NodeChildrenChanged, "/p")]
        );
        wm.add("/p/c", A, WatchKind::Data);
        wm.add("/p/c", B, WatchKind::Child);
        wm.add("/p", A, WatchKind::Child);
        wm.add("/p", B, WatchKind::Child);
        assert_eq!(
            delete(&mut wm, "/p/c"),
            vec![
                ev(A, NodeDeleted, "/p/c"),
                ev(B, NodeDeleted, "/p/c"),
                ev(A, NodeChildrenChanged, "/p"),
                ev(B, NodeChildrenChanged, "/p"),
            ]
        );
    }

    #[test]
    fn across_watchers_order_is_ascending_id() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        for w in [9, 3, 7, 1, 5] {
            wm.add("/a", w, WatchKind::Data);
        }
        let ids: Vec<WatcherId> = set(&mut wm, "/a").into_iter().map(|(w, _)| w).collect();
        assert_eq!(ids, [1, 3, 5, 7, 9]);
    }

    #[test]
    fn persistent_watch() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Persistent);
        check(&wm);
        assert_eq!(wm.watch_count(), 2, "registered in both managers");
        assert_eq!(create(&mut wm, "/a"), vec![ev(A, NodeCreated, "/a")]);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert_eq!(
            create(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert_eq!(
            create(&mut wm, "/a/c"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        // Not recursive: nothing about descendants' own changes.
        assert!(set(&mut wm, "/a/b").is_empty());
        assert!(create(&mut wm, "/a/b/x").is_empty());
        assert!(delete(&mut wm, "/a/b/x").is_empty());
        assert_eq!(
            delete(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        // Deleted through both managers, delivered once; survives deletion.
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert_eq!(create(&mut wm, "/a"), vec![ev(A, NodeCreated, "/a")]);
        assert_eq!(wm.watch_count(), 2);
    }

    #[test]
    fn recursive_watch() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::PersistentRecursive);
        assert_eq!(wm.data.recursive, 1);
        assert_eq!(wm.child.recursive, 1);
        assert_eq!(create(&mut wm, "/a"), vec![ev(A, NodeCreated, "/a")]);
        // Never NodeChildrenChanged, neither for /a nor below.
        assert_eq!(create(&mut wm, "/a/b"), vec![ev(A, NodeCreated, "/a/b")]);
        assert_eq!(
            create(&mut wm, "/a/b/c"),
            vec![ev(A, NodeCreated, "/a/b/c")]
        );
        assert_eq!(
            set(&mut wm, "/a/b/c"),
            vec![ev(A, NodeDataChanged, "/a/b/c")]
        );
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert_eq!(
            delete(&mut wm, "/a/b/c"),
            vec![ev(A, NodeDeleted, "/a/b/c")]
        );
        // Siblings sharing a prefix are not descendants.
        assert!(create(&mut wm, "/ab").is_empty());
        assert!(set(&mut wm, "/").is_empty());
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert_eq!(wm.watch_count(), 2);
    }

    #[test]
    fn recursive_watch_on_root_sees_everything_but_children_changed() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/", A, WatchKind::PersistentRecursive);
        assert_eq!(create(&mut wm, "/x"), vec![ev(A, NodeCreated, "/x")]);
        assert_eq!(
            set(&mut wm, "/zookeeper/config"),
            vec![ev(A, NodeDataChanged, "/zookeeper/config")]
        );
        assert_eq!(set(&mut wm, "/"), vec![ev(A, NodeDataChanged, "/")]);
        assert_eq!(delete(&mut wm, "/x"), vec![ev(A, NodeDeleted, "/x")]);
    }

    #[test]
    fn watcher_notified_once_per_trigger_across_levels() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/", A, WatchKind::PersistentRecursive);
        wm.add("/a", A, WatchKind::PersistentRecursive);
        wm.add("/a/b", A, WatchKind::Data);
        wm.add("/a", B, WatchKind::Persistent);
        wm.add("/a", C, WatchKind::Data);
        assert_eq!(set(&mut wm, "/a/b"), vec![ev(A, NodeDataChanged, "/a/b")]);
        // A's standard watch on /a/b was consumed anyway.
        assert!(!wm.data.table.contains_key("/a/b"));
        // B (persistent, non-recursive) and C (data) on the parent are not notified of a
        // child's data change; B gets NodeChildrenChanged on creation, A does not.
        assert_eq!(
            create(&mut wm, "/a/z"),
            vec![ev(A, NodeCreated, "/a/z"), ev(B, NodeChildrenChanged, "/a")]
        );
        assert_eq!(
            delete(&mut wm, "/a"),
            vec![
                ev(A, NodeDeleted, "/a"),
                ev(B, NodeDeleted, "/a"),
                ev(C, NodeDeleted, "/a"),
            ]
        );
    }

    // ---- 3.9 rules (checked against Java 3.9.3 with a raw client) ----

    #[test]
    fn v3_9_modes_coexist_on_one_path() {
        let mut wm = WatchManager::new(CompatVersion::V3_9);
        wm.add("/w", A, WatchKind::Persistent);
        wm.add("/w", A, WatchKind::PersistentRecursive);
        wm.add("/w", A, WatchKind::Data);
        check(&wm);
        // One (watcher, path) pair per manager; recursive is not in the child manager.
        assert_eq!(wm.watch_count(), 2);
        // The persistent half of the pair sees the parent's NodeChildrenChanged; the
        // recursive one the child's creation.
        assert_eq!(
            create(&mut wm, "/w/y"),
            vec![ev(A, NodeCreated, "/w/y"), ev(A, NodeChildrenChanged, "/w")]
        );
        // One event for three modes; the standard one is used up, the others stay.
        assert_eq!(set(&mut wm, "/w"), vec![ev(A, NodeDataChanged, "/w")]);
        assert_eq!(wm.check("/w", A, WatcherType::Data), Some(false));
        assert_eq!(wm.check("/w", A, WatcherType::Persistent), Some(true));
        assert_eq!(
            wm.check("/w", A, WatcherType::PersistentRecursive),
            Some(true)
        );
        assert_eq!(set(&mut wm, "/w"), vec![ev(A, NodeDataChanged, "/w")]);
        check(&wm);
    }

    #[test]
    fn v3_9_recursive_alone_never_sees_children_changed() {
        let mut wm = WatchManager::new(CompatVersion::V3_9);
        wm.add("/w", A, WatchKind::PersistentRecursive);
        assert_eq!(create(&mut wm, "/w/z"), vec![ev(A, NodeCreated, "/w/z")]);
        assert_eq!(delete(&mut wm, "/w/z"), vec![ev(A, NodeDeleted, "/w/z")]);
        assert_eq!(wm.watch_count(), 1);
        check(&wm);
    }

    #[test]
    fn v3_9_check_asks_for_the_connection_and_the_mode() {
        let mut wm = WatchManager::new(CompatVersion::V3_9);
        wm.add("/w", A, WatchKind::Persistent);
        wm.add("/w", B, WatchKind::Child);
        // 3.8 answers for any connection; 3.9 for the asking one.
        assert_eq!(wm.check("/w", A, WatcherType::Children), Some(false));
        assert_eq!(wm.check("/w", B, WatcherType::Children), Some(true));
        assert_eq!(wm.check("/w", A, WatcherType::Data), Some(false));
        assert_eq!(wm.check("/w", A, WatcherType::Persistent), Some(true));
        assert_eq!(
            wm.check("/w", A, WatcherType::PersistentRecursive),
            Some(false)
        );
        assert_eq!(wm.check("/w", A, WatcherType::Any), Some(true));
        assert_eq!(wm.check("/w", C, WatcherType::Any), Some(false));
        // No parent walk, so no MarshallingError for a path without '/'.
        wm.add("/r", C, WatchKind::PersistentRecursive);
        assert_eq!(wm.check("nope", C, WatcherType::Any), Some(false));
    }

    #[test]
    fn v3_9_remove_takes_one_mode_away() {
        let mut wm = WatchManager::new(CompatVersion::V3_9);
        wm.add("/w", A, WatchKind::Persistent);
        wm.add("/w", A, WatchKind::Data);
        // Children names the standard child watch: the persistent one does not count.
        assert!(!wm.remove("/w", A, WatcherType::Children));
        assert!(wm.remove("/w", A, WatcherType::Data));
        assert!(!wm.remove("/w", A, WatcherType::Data));
        check(&wm);
        assert_eq!(wm.check("/w", A, WatcherType::Persistent), Some(true));
        assert!(wm.remove("/w", A, WatcherType::Persistent));
        assert!(!wm.remove("/w", A, WatcherType::Persistent));
        check(&wm);
        assert_eq!(wm.watch_count(), 0);
        // A connection whose last watch was removed is forgotten (wchs), unlike 3.8.
        assert_eq!(wm.watch_summary().connections, 0);
        wm.add("/w", A, WatchKind::PersistentRecursive);
        wm.add("/w", A, WatchKind::Data);
        assert!(wm.remove("/w", A, WatcherType::PersistentRecursive));
        assert_eq!(wm.data.recursive, 0);
        assert!(wm.remove("/w", A, WatcherType::Any));
        assert!(!wm.remove("/w", A, WatcherType::Any));
        check(&wm);
        assert!(create(&mut wm, "/w/x").is_empty());
    }

    #[test]
    fn standard_registration_downgrades_persistent_in_that_manager() {
        // 3.8: one mode per (watcher, path) per manager; the last registration wins.
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Persistent);
        wm.add("/a", A, WatchKind::Data);
        check(&wm);
        assert_eq!(wm.watch_count(), 2);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert!(set(&mut wm, "/a").is_empty(), "data half is now one-shot");
        // The child half is still persistent.
        assert_eq!(
            create(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert_eq!(
            create(&mut wm, "/a/c"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);

        // getChildren downgrades the child half instead.
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Persistent);
        wm.add("/a", A, WatchKind::Child);
        assert_eq!(
            create(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert!(create(&mut wm, "/a/c").is_empty());
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
    }

    #[test]
    fn persistent_registration_upgrades_standard() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/a", A, WatchKind::Child);
        wm.add("/a", A, WatchKind::Persistent);
        check(&wm);
        assert_eq!(wm.watch_count(), 2);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
    }

    #[test]
    fn standard_registration_downgrades_recursive() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::PersistentRecursive);
        wm.add("/a", A, WatchKind::Data);
        check(&wm);
        assert_eq!(wm.data.recursive, 0);
        assert_eq!(wm.child.recursive, 1);
        // Data manager no longer recursive: no NodeCreated / NodeDataChanged below /a ...
        assert!(create(&mut wm, "/a/b").is_empty());
        assert!(set(&mut wm, "/a/b").is_empty());
        // ... but the child manager's recursive half still reports descendants' deletion.
        assert_eq!(delete(&mut wm, "/a/b"), vec![ev(A, NodeDeleted, "/a/b")]);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
        assert!(set(&mut wm, "/a").is_empty());
        // Recursive <-> persistent switches keep the counters right.
        wm.add("/a", A, WatchKind::Persistent);
        assert_eq!(wm.child.recursive, 0);
        wm.add("/a", A, WatchKind::PersistentRecursive);
        assert_eq!((wm.data.recursive, wm.child.recursive), (1, 1));
        wm.add("/a", A, WatchKind::PersistentRecursive);
        check(&wm);
        assert_eq!((wm.data.recursive, wm.child.recursive), (1, 1));
    }

    #[test]
    fn remove_watcher_drops_everything() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/a", A, WatchKind::Child);
        wm.add("/b", A, WatchKind::PersistentRecursive);
        wm.add("/c", A, WatchKind::Persistent);
        wm.add("/a", B, WatchKind::Data);
        wm.remove_watcher(A);
        check(&wm);
        assert_eq!(wm.data.recursive + wm.child.recursive, 0);
        assert_eq!(wm.watch_count(), 1);
        assert!(create(&mut wm, "/b/x").is_empty());
        assert!(set(&mut wm, "/c").is_empty());
        assert_eq!(set(&mut wm, "/a"), vec![ev(B, NodeDataChanged, "/a")]);
        assert_eq!(wm.watch_summary().connections, 1, "B keeps an empty entry");
        wm.remove_watcher(B);
        wm.remove_watcher(C);
        check(&wm);
        assert_eq!(wm.watch_summary(), WatchSummary::default());
        assert!(wm.data.table.is_empty() && wm.child.table.is_empty());
    }

    #[test]
    fn check_by_type() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/d", A, WatchKind::Data);
        wm.add("/c", A, WatchKind::Child);
        wm.add("/p", A, WatchKind::Persistent);
        wm.add("/r", A, WatchKind::PersistentRecursive);
        use WatcherType::*;
        assert!(wm.check("/d", A, Data).unwrap() && wm.check("/d", A, Any).unwrap());
        assert!(!wm.check("/d", A, Children).unwrap());
        assert!(wm.check("/c", A, Children).unwrap() && wm.check("/c", A, Any).unwrap());
        assert!(!wm.check("/c", A, Data).unwrap());
        for p in ["/p", "/r"] {
            assert!(
                wm.check(p, A, Data).unwrap()
                    && wm.check(p, A, Children).unwrap()
                    && wm.check(p, A, Any).unwrap()
            );
        }
        // A recursive watch covers descendants for events, not for checkWatches.
        assert!(!wm.check("/r/x", A, Any).unwrap());
        assert!(!wm.check("/x", A, Any).unwrap());
        // Java throws taking the parent of a path without '/'; "" yields nothing.
        assert_eq!(wm.check("x", A, Any), None);
        assert_eq!(wm.check("x", A, Data), None);
        assert_eq!(wm.check("", A, Data), Some(false));
        // "x/y" is looked up first; its parent "x" is only reached by the recursive walk.
        assert_eq!(wm.check("x/y", A, Data), None);
        let empty = WatchManager::new(CompatVersion::V3_8);
        assert_eq!(empty.check("x/y", A, Data), Some(false));
        assert_eq!(empty.check("x", A, Data), None);
    }

    #[test]
    fn check_matches_any_connection_on_the_path() {
        // 3.8's containsWatcher finds the path's watcher set and answers true without
        // looking for the asking connection in it.
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        assert!(wm.check("/a", B, WatcherType::Data).unwrap());
        assert!(!wm.check("/a", B, WatcherType::Children).unwrap());
        // removeWatches, by contrast, only removes the connection's own watch.
        assert!(!wm.remove("/a", B, WatcherType::Data));
        assert!(wm.check("/a", A, WatcherType::Data).unwrap());
    }

    #[test]
    fn remove_by_type() {
        use WatcherType::*;
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/a", A, WatchKind::Child);
        assert!(!wm.remove("/b", A, Any));
        assert!(wm.remove("/a", A, Data));
        check(&wm);
        assert!(!wm.remove("/a", A, Data), "already gone");
        assert!(!wm.check("/a", A, Data).unwrap());
        assert!(wm.check("/a", A, Children).unwrap());
        assert!(set(&mut wm, "/a").is_empty());
        assert!(wm.remove("/a", A, Any));
        assert!(!wm.remove("/a", A, Any));
        check(&wm);
        assert_eq!(wm.watch_count(), 0);
        assert!(create(&mut wm, "/a/x").is_empty());
    }

    #[test]
    fn remove_half_of_a_persistent_watch() {
        use WatcherType::*;
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Persistent);
        assert!(wm.remove("/a", A, Data));
        check(&wm);
        assert!(set(&mut wm, "/a").is_empty());
        // The child half keeps delivering, persistently.
        assert_eq!(
            create(&mut wm, "/a/b"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert_eq!(
            create(&mut wm, "/a/c"),
            vec![ev(A, NodeChildrenChanged, "/a")]
        );
        assert_eq!(delete(&mut wm, "/a"), vec![ev(A, NodeDeleted, "/a")]);
        assert!(wm.remove("/a", A, Children));
        assert!(!wm.remove("/a", A, Any));

        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/r", A, WatchKind::PersistentRecursive);
        assert!(wm.remove("/r", A, Any));
        check(&wm);
        assert_eq!(wm.data.recursive + wm.child.recursive, 0);
        assert!(create(&mut wm, "/r/x").is_empty());
    }

    #[test]
    fn summary_counts_data_manager_only() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/b", A, WatchKind::Exist);
        wm.add("/a", B, WatchKind::Data);
        wm.add("/c", C, WatchKind::Child);
        wm.add("/p", C, WatchKind::Persistent);
        assert_eq!(
            wm.watch_summary(),
            WatchSummary {
                connections: 3,
                paths: 3,
                total: 4
            }
        );
        assert_eq!(wm.watch_count(), 6);
        assert_eq!(
            wm.watches_by_connection(),
            vec![
                (A, vec!["/a".to_string(), "/b".to_string()]),
                (B, vec!["/a".to_string()]),
                (C, vec!["/p".to_string()]),
            ]
        );
        assert_eq!(
            wm.watches_by_path(),
            vec![
                ("/a".to_string(), vec![A, B]),
                ("/b".to_string(), vec![A]),
                ("/p".to_string(), vec![C]),
            ]
        );
    }

    #[test]
    fn summary_keeps_connections_whose_watches_are_gone() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/b", B, WatchKind::Data);
        wm.add("/c", C, WatchKind::Child);
        set(&mut wm, "/a");
        assert!(wm.remove("/b", B, WatcherType::Data));
        assert_eq!(
            wm.watch_summary(),
            WatchSummary {
                connections: 2,
                paths: 0,
                total: 0
            }
        );
        assert_eq!(wm.watches_by_connection(), vec![(A, vec![]), (B, vec![])]);
        assert!(wm.watches_by_path().is_empty());
        assert_eq!(wm.watch_count(), 1);
        wm.remove_watcher(A);
        assert_eq!(wm.watch_summary().connections, 1);
    }

    #[test]
    fn duplicate_registration_counts_once() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/a", A, WatchKind::Data);
        wm.add("/a", A, WatchKind::Exist);
        check(&wm);
        assert_eq!(wm.watch_count(), 1);
        assert_eq!(set(&mut wm, "/a"), vec![ev(A, NodeDataChanged, "/a")]);
    }

    #[test]
    fn many_watchers_one_path() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        for w in 0..1000 {
            wm.add("/herd", w, WatchKind::Exist);
        }
        check(&wm);
        let out = create(&mut wm, "/herd");
        assert_eq!(out.len(), 1000);
        assert!(out.windows(2).all(|p| p[0].0 < p[1].0));
        assert_eq!(wm.watch_count(), 0);
        assert_eq!(wm.watch_summary().connections, 1000);
    }

    /// The sequence observed against Debian's Java 3.8.0 server with a raw client.
    #[test]
    fn golden_sequence_from_java() {
        let mut wm = WatchManager::new(CompatVersion::V3_8);
        wm.add("/", A, WatchKind::PersistentRecursive);
        wm.add("/m", A, WatchKind::PersistentRecursive);
        let mut got = create(&mut wm, "/m/n");
        wm.add("/m/n", A, WatchKind::Data);
        wm.add("/m/n", A, WatchKind::Child);
        got.extend(set(&mut wm, "/m/n"));
        got.extend(create(&mut wm, "/m/n/o"));
        got.extend(delete(&mut wm, "/m/n/o"));
        got.extend(delete(&mut wm, "/m/n"));
        got.extend(set(&mut wm, "/m"));
        let got: Vec<(i32, &str)> = got
            .iter()
            .map(|(w, e)| {
                assert_eq!(*w, A);
                (e.kind.code(), e.path.as_str())
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "/m/n"),
                (3, "/m/n"),
                (1, "/m/n/o"),
                (4, "/m/n"),
                (2, "/m/n/o"),
                (2, "/m/n"),
                (3, "/m"),
            ]
        );
        assert_eq!(
            wm.watch_summary(),
            WatchSummary {
                connections: 1,
                paths: 2,
                total: 2
            }
        );
    }
}
