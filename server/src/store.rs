//! Where the data tree keeps its znodes: a compact, copy-on-write node table.
//!
//! Memory per znode is what issue 6 is about (1M znodes of 100 bytes in <= 250 MB), so:
//!
//! - A znode's path and data share one allocation, a [`Blob`]: a 12-byte header (reference
//!   count, path length, data length) followed by the bytes. A thin pointer to it is all a
//!   slot holds. Child names are not stored again: a child's name is the tail of its path.
//! - Slots ([`Slot`], 64 bytes: blob, children, the stat, ACL id, place in the parent)
//!   live in fixed-size chunks of a slab, addressed by a `u32`. Freed slots are reused. A
//!   chunk of 255 slots with its `Arc` counters fits 16 KiB, one of the allocator's size
//!   classes (256 slots of 72 bytes took a 20 KiB block: 80 bytes per znode).
//! - The path index maps a path to its slot: `u32` entries in hash tables that hash the path
//!   stored in the slot (no key copy), split into [`SHARDS`] independent shards so that a
//!   table never grows by more than 1/256 of the tree at once (no stop-the-world rehash).
//! - A parent's children are a vector of slot numbers in insertion order ([`Kids`]); each
//!   child knows its place in that vector (O(1) removal, leaving a hole), which is also its
//!   insertion rank (Java's iteration order, see [`crate::children`]).
//!
//! Consistent copies for background snapshots: chunks, index shards, blobs and child vectors
//! are reference counted and copied on the first change after a copy was taken (`Clone` of
//! [`Store`] copies only the chunk and shard pointers). Blobs are immutable: a change of data
//! makes a new one.

use hashbrown::{DefaultHashBuilder, HashTable};
use jute::data::StatPersisted;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Slots per chunk (a chunk is the unit of copy-on-write): 255, so that a chunk and the two
/// counters of its `Arc` (16 bytes) fit the allocator's 16 KiB size class.
pub const CHUNK: usize = 255;
/// Independent hash tables of the path index.
pub const SHARDS: usize = 256;
/// "No slot".
pub const NIL: u32 = u32::MAX;
/// `Slot::acl_and_flag`: the node has an ephemeralOwner.
const HAS_OWNER: u32 = 1 << 31;

// ---- Blob: path and data in one allocation ----

#[repr(C)]
struct Header {
    rc: AtomicU32,
    path_len: u32,
    /// `u32::MAX` for null data.
    data_len: u32,
}

const HDR: usize = std::mem::size_of::<Header>();
const NULL_DATA: u32 = u32::MAX;

/// A znode's path and data, immutable and shared (an `Arc<(str, Option<[u8]>)>` behind a
/// thin pointer).
pub struct Blob {
    ptr: NonNull<Header>,
}

// SAFETY: the contents are immutable after construction and the count is atomic, as `Arc`.
unsafe impl Send for Blob {}
unsafe impl Sync for Blob {}

impl Blob {
    pub fn new(path: &str, data: Option<&[u8]>) -> Blob {
        let dlen = data.map_or(0, <[u8]>::len);
        assert!(
            path.len() < u32::MAX as usize && dlen < u32::MAX as usize,
            "znode too large"
        );
        let layout = Self::layout_for(path.len(), dlen);
        // SAFETY: the layout has a non-zero size (the header); we write the header and
        // exactly `path.len() + dlen` bytes after it, within the allocation.
        unsafe {
            let p = alloc(layout);
            if p.is_null() {
                handle_alloc_error(layout);
            }
            std::ptr::write(
                p as *mut Header,
                Header {
                    rc: AtomicU32::new(1),
                    path_len: path.len() as u32,
                    data_len: data.map_or(NULL_DATA, |d| d.len() as u32),
                },
            );
            std::ptr::copy_nonoverlapping(path.as_ptr(), p.add(HDR), path.len());
            if let Some(d) = data {
                std::ptr::copy_nonoverlapping(d.as_ptr(), p.add(HDR + path.len()), d.len());
            }
            Blob {
                ptr: NonNull::new_unchecked(p as *mut Header),
            }
        }
    }

    fn layout_for(path_len: usize, data_len: usize) -> Layout {
        Layout::from_size_align(HDR + path_len + data_len, std::mem::align_of::<Header>())
            .expect("znode too large")
    }

    fn header(&self) -> &Header {
        // SAFETY: `ptr` points to a live, initialised header while `self` exists.
        unsafe { self.ptr.as_ref() }
    }

    fn bytes_at(&self, off: usize, len: usize) -> &[u8] {
        // SAFETY: `off..off+len` lies within the bytes written by `new`.
        unsafe { std::slice::from_raw_parts((self.ptr.as_ptr() as *const u8).add(off), len) }
    }

    pub fn path(&self) -> &str {
        let n = self.header().path_len as usize;
        // SAFETY: copied from a `&str` in `new`.
        unsafe { std::str::from_utf8_unchecked(self.bytes_at(HDR, n)) }
    }

    /// The last path component (a child's name in its parent).
    pub fn name(&self) -> &str {
        let p = self.path();
        match p.rfind('/') {
            Some(i) => &p[i + 1..],
            None => p,
        }
    }

    pub fn data(&self) -> Option<&[u8]> {
        let h = self.header();
        if h.data_len == NULL_DATA {
            None
        } else {
            Some(self.bytes_at(HDR + h.path_len as usize, h.data_len as usize))
        }
    }

    pub fn data_len(&self) -> usize {
        let l = self.header().data_len;
        if l == NULL_DATA {
            0
        } else {
            l as usize
        }
    }

    /// The same path with other data.
    pub fn with_data(&self, data: Option<&[u8]>) -> Blob {
        Blob::new(self.path(), data)
    }

    /// The data as `Bytes`, sharing this allocation when that is cheaper than a copy.
    pub fn data_bytes(&self) -> Option<bytes::Bytes> {
        let d = self.data()?;
        Some(if d.len() <= 512 {
            bytes::Bytes::copy_from_slice(d)
        } else {
            bytes::Bytes::from_owner(BlobData(self.clone()))
        })
    }
}

struct BlobData(Blob);

impl AsRef<[u8]> for BlobData {
    fn as_ref(&self) -> &[u8] {
        self.0.data().unwrap_or(&[])
    }
}

impl Clone for Blob {
    fn clone(&self) -> Blob {
        let old = self.header().rc.fetch_add(1, Ordering::Relaxed);
        if old > i32::MAX as u32 {
            std::process::abort();
        }
        Blob { ptr: self.ptr }
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        if self.header().rc.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let h = self.header();
        let layout = Self::layout_for(
            h.path_len as usize,
            if h.data_len == NULL_DATA {
                0
            } else {
                h.data_len as usize
            },
        );
        // SAFETY: last reference; allocated with this layout in `new`.
        unsafe { dealloc(self.ptr.as_ptr() as *mut u8, layout) }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("path", &self.path())
            .field("data_len", &self.data().map(<[u8]>::len))
            .finish()
    }
}

// ---- children ----

/// The children of a node: slot numbers in the order they were added, with holes ([`NIL`])
/// where children were removed, squeezed out when they outnumber the children (so a child's
/// place is also its insertion rank, which Java's `HashSet` order needs, see
/// [`crate::children`]); plus the two stat fields that only change with children (a node
/// without a `Kids` has pzxid = czxid and cversion 0). Kept (empty) once a node has had a
/// child: Java's table capacity never shrinks.
#[derive(Debug, Clone, Default)]
pub struct Kids {
    /// Child slots in insertion order; `NIL` for a removed child.
    slots: Vec<u32>,
    /// Children (`slots` minus its holes).
    live: u32,
    /// Capacity of Java's table: 8, 16, ...
    pub java_capacity: u32,
    pub pzxid: i64,
    pub cversion: i32,
}

impl Kids {
    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The child slots, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().copied().filter(|&c| c != NIL)
    }

    /// The child slots with their places (a place orders children by insertion).
    pub fn places(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0u32..)
            .zip(self.slots.iter().copied())
            .filter(|&(_, c)| c != NIL)
    }

    /// The child at `pos`, if any.
    pub fn at(&self, pos: u32) -> Option<u32> {
        self.slots.get(pos as usize).copied().filter(|&c| c != NIL)
    }
}

// ---- slots ----

/// One znode (or a free slot: `blob` is `None`, `pos` links the free list).
#[derive(Debug, Clone)]
pub struct Slot {
    pub blob: Option<Blob>,
    pub kids: Option<Arc<Kids>>,
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub aversion: i32,
    /// Id in the tree's ACL table, and [`HAS_OWNER`]: the node has an ephemeralOwner
    /// (ephemeral, container or TTL nodes; kept in `Store::owners`, not in every slot).
    acl_and_flag: u32,
    /// Index in the parent's `Kids::slots` (free slot: the next free slot).
    pub pos: u32,
}

impl Slot {
    pub const FREE: Slot = Slot {
        blob: None,
        kids: None,
        czxid: 0,
        mzxid: 0,
        ctime: 0,
        mtime: 0,
        version: 0,
        aversion: 0,
        acl_and_flag: 0,
        pos: NIL,
    };

    /// A slot for a node; its ephemeralOwner (if not 0) is for the store to keep.
    pub fn new(blob: Blob, stat: &StatPersisted, acl: u32) -> Slot {
        let mut s = Slot {
            blob: Some(blob),
            ..Slot::FREE
        };
        s.set_acl(acl);
        s.set_stat(stat);
        if stat.ephemeral_owner != 0 {
            s.acl_and_flag |= HAS_OWNER;
        }
        s
    }

    pub fn acl(&self) -> u32 {
        self.acl_and_flag & !HAS_OWNER
    }

    pub fn set_acl(&mut self, acl: u32) {
        assert!(acl < HAS_OWNER, "too many ACL lists");
        self.acl_and_flag = acl | (self.acl_and_flag & HAS_OWNER);
    }

    pub fn has_owner(&self) -> bool {
        self.acl_and_flag & HAS_OWNER != 0
    }

    /// The persisted stat, with the node's ephemeralOwner `owner`.
    pub fn stat(&self, owner: i64) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion(),
            aversion: self.aversion,
            ephemeral_owner: owner,
            pzxid: self.pzxid(),
        }
    }

    /// Set the stat fields a slot holds (not the ephemeralOwner).
    pub fn set_stat(&mut self, s: &StatPersisted) {
        self.czxid = s.czxid;
        self.mzxid = s.mzxid;
        self.ctime = s.ctime;
        self.mtime = s.mtime;
        self.version = s.version;
        self.aversion = s.aversion;
        if self.kids.is_some() || s.pzxid != s.czxid || s.cversion != 0 {
            let k = self.kids_mut();
            k.pzxid = s.pzxid;
            k.cversion = s.cversion;
        }
    }

    pub fn pzxid(&self) -> i64 {
        self.kids.as_ref().map_or(self.czxid, |k| k.pzxid)
    }

    /// The persisted cversion (child creates).
    pub fn cversion(&self) -> i32 {
        self.kids.as_ref().map_or(0, |k| k.cversion)
    }

    /// The children (with pzxid and cversion) to change; created if the node has none.
    pub fn kids_mut(&mut self) -> &mut Kids {
        let czxid = self.czxid;
        Arc::make_mut(self.kids.get_or_insert_with(|| {
            Arc::new(Kids {
                pzxid: czxid,
                ..Kids::default()
            })
        }))
    }

    /// The blob of a live slot.
    pub fn blob(&self) -> &Blob {
        self.blob.as_ref().expect("live slot")
    }

    pub fn path(&self) -> &str {
        self.blob().path()
    }

    pub fn num_children(&self) -> usize {
        self.kids.as_ref().map_or(0, |k| k.len())
    }
}

// ---- the store ----

/// An `Arc` this store may change in place: `mine` is the store's epoch when it was last
/// found (or made) unique. Only `Store::clone` shares these, and it starts a new epoch, so
/// `mine == epoch` proves the `Arc` is still unique without an atomic read-modify-write.
struct Part<T: ?Sized> {
    arc: Arc<T>,
    mine: u64,
}

impl<T: ?Sized> Clone for Part<T> {
    fn clone(&self) -> Self {
        Part {
            arc: self.arc.clone(),
            mine: self.mine,
        }
    }
}

/// What a [`Part`] holds: something `Arc::make_mut` can copy.
trait Unshare {
    fn unshare(arc: &mut Arc<Self>);
}

impl Unshare for [Slot] {
    fn unshare(arc: &mut Arc<Self>) {
        Arc::make_mut(arc);
    }
}

impl Unshare for hashbrown::HashMap<u32, i64> {
    fn unshare(arc: &mut Arc<Self>) {
        Arc::make_mut(arc);
    }
}

impl Unshare for HashTable<u32> {
    fn unshare(arc: &mut Arc<Self>) {
        Arc::make_mut(arc);
    }
}

impl<T: ?Sized + Unshare> Part<T> {
    fn new(arc: Arc<T>, epoch: u64) -> Self {
        Part { arc, mine: epoch }
    }

    fn get_mut(&mut self, epoch: u64) -> &mut T {
        if self.mine != epoch {
            T::unshare(&mut self.arc);
            self.mine = epoch;
        }
        // SAFETY: `make_mut` left this `Arc` unique at `epoch`; nothing but `Store::clone`
        // (which moves both stores to a later epoch) shares a part, so it still is. We hold
        // `&mut self`, so no other reference through this `Arc` exists.
        unsafe { &mut *(Arc::as_ptr(&self.arc) as *mut T) }
    }
}

/// The node table: slab of slots plus the path index. `clone` is a cheap, consistent copy.
pub struct Store {
    chunks: Vec<Part<[Slot]>>,
    /// Head of the free-slot list.
    free: u32,
    /// Slots handed out so far (free or not); the rest of the last chunk is untouched.
    bump: u32,
    live: usize,
    hasher: DefaultHashBuilder,
    shards: Box<[Part<HashTable<u32>>]>,
    /// The ephemeralOwner of the slots that have one (most nodes have none).
    owners: Part<hashbrown::HashMap<u32, i64>>,
    /// See [`Part`]. Atomic only so that `clone` can advance it through `&self`.
    epoch: AtomicU64,
}

impl Clone for Store {
    fn clone(&self) -> Self {
        let e = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        Store {
            chunks: self.chunks.clone(),
            free: self.free,
            bump: self.bump,
            live: self.live,
            hasher: self.hasher.clone(),
            shards: self.shards.clone(),
            owners: self.owners.clone(),
            epoch: AtomicU64::new(e),
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

fn slot_in(chunks: &[Part<[Slot]>], i: u32) -> &Slot {
    &chunks[i as usize / CHUNK].arc[i as usize % CHUNK]
}

fn slot_mut_in(chunks: &mut [Part<[Slot]>], epoch: u64, i: u32) -> &mut Slot {
    &mut chunks[i as usize / CHUNK].get_mut(epoch)[i as usize % CHUNK]
}

impl Store {
    pub fn new() -> Store {
        Store {
            chunks: Vec::new(),
            free: NIL,
            bump: 0,
            live: 0,
            hasher: DefaultHashBuilder::default(),
            shards: (0..SHARDS)
                .map(|_| Part::new(Arc::new(HashTable::new()), 0))
                .collect(),
            owners: Part::new(Arc::new(hashbrown::HashMap::new()), 0),
            epoch: AtomicU64::new(0),
        }
    }

    /// Live znodes.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    fn shard(h: u64) -> usize {
        (h >> 48) as usize % SHARDS
    }

    pub fn find(&self, path: &str) -> Option<u32> {
        self.find_hashed(self.hash(path), path)
    }

    pub fn find_hashed(&self, h: u64, path: &str) -> Option<u32> {
        let chunks = &self.chunks;
        self.shards[Self::shard(h)]
            .arc
            .find(h, |&i| slot_in(chunks, i).path() == path)
            .copied()
    }

    pub fn slot(&self, i: u32) -> &Slot {
        slot_in(&self.chunks, i)
    }

    /// A slot to change (its chunk is copied first if a copy of the store shares it).
    pub fn slot_mut(&mut self, i: u32) -> &mut Slot {
        slot_mut_in(&mut self.chunks, *self.epoch.get_mut(), i)
    }

    /// Put `slot` (whose blob holds `path`, hashed `h`, not in the store) in a free slot and
    /// index it. Returns its number.
    pub fn insert_hashed(&mut self, h: u64, slot: Slot, owner: i64) -> u32 {
        debug_assert!(slot.blob.is_some());
        debug_assert_eq!(slot.has_owner(), owner != 0);
        let i = self.alloc_slot();
        self.set_owner(i, owner);
        *self.slot_mut(i) = slot;
        let Store {
            chunks,
            hasher,
            shards,
            epoch,
            ..
        } = self;
        shards[Self::shard(h)]
            .get_mut(*epoch.get_mut())
            .insert_unique(h, i, |&j| hasher.hash_one(slot_in(chunks, j).path()));
        self.live += 1;
        i
    }

    /// Put `slot` in a new slot without indexing it (bulk loading; `index_bulk` indexes).
    pub fn push_unindexed(&mut self, slot: Slot, owner: i64) -> u32 {
        debug_assert_eq!(slot.has_owner(), owner != 0);
        let i = self.alloc_slot();
        self.set_owner(i, owner);
        *self.slot_mut(i) = slot;
        self.live += 1;
        i
    }

    fn alloc_slot(&mut self) -> u32 {
        if self.free != NIL {
            let i = self.free;
            self.free = self.slot(i).pos;
            return i;
        }
        if self.bump as usize == self.chunks.len() * CHUNK {
            assert!(self.bump < NIL - CHUNK as u32, "too many znodes");
            let e = *self.epoch.get_mut();
            self.chunks.push(Part::new(
                std::iter::repeat_n(Slot::FREE, CHUNK).collect(),
                e,
            ));
        }
        self.bump += 1;
        self.bump - 1
    }

    /// Index slots put in with `push_unindexed`, given as (hash of path, slot). Entries are
    /// grouped by shard first, so each shard's table is filled while it is in cache. Stops at
    /// the first path that is indexed already and returns its slot and the new one.
    pub fn index_bulk(&mut self, entries: &[(u64, u32)]) -> Result<(), (u32, u32)> {
        let mut start = vec![0usize; SHARDS + 1];
        for &(h, _) in entries {
            start[Self::shard(h) + 1] += 1;
        }
        for s in 0..SHARDS {
            start[s + 1] += start[s];
        }
        let mut at = start.clone();
        let mut grouped = vec![(0u64, 0u32); entries.len()];
        for &(h, i) in entries {
            let s = Self::shard(h);
            grouped[at[s]] = (h, i);
            at[s] += 1;
        }
        let Store {
            chunks,
            hasher,
            shards,
            epoch,
            ..
        } = self;
        let e = *epoch.get_mut();
        for s in 0..SHARDS {
            let part = &grouped[start[s]..start[s + 1]];
            if part.is_empty() {
                continue;
            }
            let table = shards[s].get_mut(e);
            // Room to grow by a quarter before the first rehash (which reads every slot).
            let room = part.len() + part.len() / 4 + 16;
            table.reserve(room, |&j| hasher.hash_one(slot_in(chunks, j).path()));
            for &(h, i) in part {
                // (Paths are read only when the hash matches: reading every slot's path
                // would cost a cache miss per node.)
                let same = |&j: &u32| slot_in(chunks, j).path() == slot_in(chunks, i).path();
                if let Some(&old) = table.find(h, same) {
                    return Err((old, i));
                }
                table.insert_unique(h, i, |&j| hasher.hash_one(slot_in(chunks, j).path()));
            }
        }
        Ok(())
    }

    /// The ephemeralOwner of slot `i` (0 for most nodes).
    pub fn owner(&self, i: u32) -> i64 {
        if !self.slot(i).has_owner() {
            return 0;
        }
        self.owners.arc.get(&i).copied().unwrap_or(0)
    }

    /// Slots with an ephemeralOwner.
    pub fn owners_len(&self) -> usize {
        self.owners.arc.len()
    }

    /// Record slot `i`'s ephemeralOwner (the slot's flag must say so already).
    pub fn set_owner(&mut self, i: u32, owner: i64) {
        let e = *self.epoch.get_mut();
        if owner != 0 {
            self.owners.get_mut(e).insert(i, owner);
        } else if self.owners.arc.contains_key(&i) {
            self.owners.get_mut(e).remove(&i);
        }
    }

    /// Remove the node at `path` from the index and free its slot; returns its number, what
    /// the slot held and its ephemeralOwner.
    pub fn remove(&mut self, path: &str) -> Option<(u32, Slot, i64)> {
        let h = self.hash(path);
        let i = self.find_hashed(h, path)?;
        let (slot, owner) = self.remove_found(h, i);
        Some((i, slot, owner))
    }

    /// Remove slot `i`, found under path hash `h` (`find_hashed`), from the index and free
    /// it; returns what the slot held and its ephemeralOwner.
    pub fn remove_found(&mut self, h: u64, i: u32) -> (Slot, i64) {
        let e = *self.epoch.get_mut();
        match self.shards[Self::shard(h)]
            .get_mut(e)
            .find_entry(h, |&j| j == i)
        {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("indexed slot"),
        }
        let owner = self.owner(i);
        if owner != 0 {
            self.set_owner(i, 0);
        }
        let free = Slot {
            pos: self.free,
            ..Slot::FREE
        };
        let slot = std::mem::replace(self.slot_mut(i), free);
        self.free = i;
        self.live -= 1;
        (slot, owner)
    }

    /// Link child slot `c` into parent slot `p`'s children (Java's `HashSet.add`).
    pub fn add_child(&mut self, p: u32, c: u32) {
        let kids = self.slot_mut(p).kids_mut();
        if kids.java_capacity == 0 {
            kids.java_capacity = 8;
        }
        if kids.slots.len() >= NIL as usize {
            // Only holes can have used up the places: squeeze them out.
            squeeze(&mut self.chunks, *self.epoch.get_mut(), p);
        }
        let kids = self.slot_mut(p).kids_mut();
        let pos = kids.slots.len() as u32;
        kids.slots.push(c);
        kids.live += 1;
        // HashMap.putVal: `if (++size > threshold) resize()`, threshold = 3/4 capacity.
        if kids.live as u64 > kids.java_capacity as u64 * 3 / 4 {
            kids.java_capacity = kids.java_capacity.saturating_mul(2);
        }
        self.slot_mut(c).pos = pos;
    }

    /// Unlink the child at `pos` of parent slot `p`.
    pub fn remove_child(&mut self, p: u32, pos: u32) {
        let Some(kids) = self.slot_mut(p).kids.as_mut() else {
            return;
        };
        let kids = Arc::make_mut(kids);
        let Some(c) = kids.slots.get_mut(pos as usize).filter(|c| **c != NIL) else {
            return;
        };
        *c = NIL;
        kids.live -= 1;
        let holes = kids.slots.len() - kids.live as usize;
        if kids.live == 0 {
            kids.slots = Vec::new();
        } else if holes > 16 && holes > kids.live as usize {
            // Amortised O(1): at least as many removals came before as children are moved.
            squeeze(&mut self.chunks, *self.epoch.get_mut(), p);
        }
    }

    /// Every live slot, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Slot)> {
        self.chunks
            .iter()
            .flat_map(|c| c.arc.iter())
            .take(self.bump as usize)
            .enumerate()
            .filter(|(_, s)| s.blob.is_some())
            .map(|(i, s)| (i as u32, s))
    }

    /// Make room for `n` more znodes without growing the index in between.
    pub fn reserve(&mut self, n: usize) {
        let per = n / SHARDS + n / SHARDS / 8 + 1;
        let Store {
            chunks,
            hasher,
            shards,
            epoch,
            ..
        } = self;
        for s in shards.iter_mut() {
            s.get_mut(*epoch.get_mut())
                .reserve(per, |&j| hasher.hash_one(slot_in(chunks, j).path()));
        }
    }
}

/// Remove the holes of parent `p`'s children, keeping their order, and tell each child its
/// new place.
fn squeeze(chunks: &mut [Part<[Slot]>], epoch: u64, p: u32) {
    let Some(kids) = slot_mut_in(chunks, epoch, p).kids.as_mut() else {
        return;
    };
    let kids = Arc::make_mut(kids);
    kids.slots.retain(|&c| c != NIL);
    kids.slots.shrink_to(kids.slots.len() * 2);
    let slots = std::mem::take(&mut kids.slots);
    for (pos, &c) in slots.iter().enumerate() {
        slot_mut_in(chunks, epoch, c).pos = pos as u32;
    }
    let kids = Arc::make_mut(slot_mut_in(chunks, epoch, p).kids.as_mut().expect("kept"));
    kids.slots = slots;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(z: i64) -> StatPersisted {
        StatPersisted {
            czxid: z,
            ..Default::default()
        }
    }

    #[test]
    fn blob_round_trip() {
        let b = Blob::new("/a/bc", Some(b"xyz"));
        assert_eq!(
            (b.path(), b.name(), b.data()),
            ("/a/bc", "bc", Some(&b"xyz"[..]))
        );
        let n = Blob::new("/", None);
        assert_eq!((n.path(), n.data(), n.data_len()), ("/", None, 0));
        let e = b.with_data(Some(b""));
        assert_eq!(e.data(), Some(&b""[..]));
        let c = b.clone();
        drop(b);
        assert_eq!(c.path(), "/a/bc");
        let big = Blob::new("/big", Some(&[7u8; 4096]));
        let bytes = big.data_bytes().unwrap();
        drop(big);
        assert_eq!(bytes.len(), 4096);
        assert_eq!(bytes[4095], 7);
    }

    #[test]
    fn slot_is_compact() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
        // A chunk is exactly one allocator size class.
        let arc_counters = 16;
        assert!(arc_counters + CHUNK * std::mem::size_of::<Slot>() <= 16384);
    }

    #[test]
    fn insert_find_remove_reuse_and_copy_on_write() {
        let mut s = Store::new();
        let root = s.insert_hashed(s.hash("/"), Slot::new(Blob::new("/", None), &stat(0), 0), 0);
        let mut kids = vec![];
        for i in 0..3000 {
            let p = format!("/n{i}");
            let c = s.insert_hashed(s.hash(&p), Slot::new(Blob::new(&p, None), &stat(i), 0), 0);
            s.add_child(root, c);
            kids.push(c);
        }
        assert_eq!(s.len(), 3001);
        assert_eq!(s.slot(root).num_children(), 3000);
        let copy = s.clone();
        for i in (0..3000).step_by(2) {
            let p = format!("/n{i}");
            let (idx, slot, _) = s.remove(&p).unwrap();
            assert_eq!(idx, kids[i]);
            s.remove_child(root, slot.pos);
        }
        assert_eq!(s.len(), 1501);
        assert!(s.find("/n0").is_none());
        assert_eq!(s.slot(s.find("/n1").unwrap()).czxid, 1);
        // Every remaining child's `pos` points back at it.
        let k = s.slot(root).kids.clone().unwrap();
        for (pos, c) in k.places() {
            assert_eq!(s.slot(c).pos, pos);
        }
        assert_eq!(k.iter().count(), 1500);
        // The copy still sees everything as it was.
        assert_eq!(copy.len(), 3001);
        assert_eq!(copy.slot(copy.find("/n0").unwrap()).czxid, 0);
        assert_eq!(copy.slot(root).num_children(), 3000);
        // Freed slots are reused.
        let c = s.insert_hashed(
            s.hash("/x"),
            Slot::new(Blob::new("/x", None), &stat(9), 0),
            0,
        );
        assert!(kids.contains(&c));
        assert_eq!(s.iter().count(), 1502);
        assert_eq!(copy.iter().count(), 3001);
    }

    #[test]
    fn removed_children_leave_holes_that_are_squeezed_out_in_order() {
        let mut s = Store::new();
        let root = s.insert_hashed(s.hash("/"), Slot::new(Blob::new("/", None), &stat(0), 0), 0);
        let mut kids = vec![];
        for i in 0..100 {
            let p = format!("/n{i}");
            let c = s.insert_hashed(s.hash(&p), Slot::new(Blob::new(&p, None), &stat(i), 0), 0);
            s.add_child(root, c);
            kids.push(c);
        }
        let remove = |s: &mut Store, i: usize| {
            let (_, slot, _) = s.remove(&format!("/n{i}")).unwrap();
            s.remove_child(root, slot.pos);
        };
        // 40 holes: not squeezed yet (fewer holes than children).
        for i in 0..40 {
            remove(&mut s, i * 2);
        }
        let k = s.slot(root).kids.clone().unwrap();
        assert_eq!((k.len(), k.slots.len()), (60, 100));
        // More holes than children: squeezed, order kept, places updated.
        for i in 40..50 {
            remove(&mut s, i * 2);
        }
        remove(&mut s, 1);
        let k = s.slot(root).kids.clone().unwrap();
        assert_eq!(k.len(), 49);
        assert_eq!(k.slots.len(), k.len());
        let left: Vec<u32> = (3..100).step_by(2).map(|i| kids[i]).collect();
        assert_eq!(k.iter().collect::<Vec<_>>(), left);
        for (pos, c) in k.places() {
            assert_eq!(s.slot(c).pos, pos);
        }
        // Removing a child twice, or a place that holds none, changes nothing.
        s.remove_child(root, 1000);
        assert_eq!(s.slot(root).num_children(), 49);
        // The last child gone: no places kept.
        for i in (3..100).step_by(2) {
            remove(&mut s, i);
        }
        let k = s.slot(root).kids.clone().unwrap();
        assert_eq!((k.len(), k.slots.len(), k.java_capacity), (0, 0, 256));
    }
}
