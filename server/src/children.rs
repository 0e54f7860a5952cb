//! A znode's child names, listed in the order Java 3.8 lists them.
//!
//! Java keeps children in a `HashSet<String>` created with capacity 8, so getChildren, the
//! C client's `ls` and snapshots show them in hash-bucket order: buckets by
//! `(h ^ h >>> 16) & (capacity - 1)` (h = `String.hashCode`), and within a bucket in order
//! of insertion. The table doubles when its size passes 3/4 of the capacity and never
//! shrinks. A parent keeps its children in insertion order and the capacity Java's table
//! would have (`crate::store::Kids`, maintained by `Store::add_child`), and we sort by
//! (bucket, place in that order) when asked for the order. (Java turns a bucket of 8+ colliding names
//! into a tree; that order is not reproduced.)
//!
//! The names themselves are not stored twice: a child's name is the last component of the
//! path its slot holds.

use crate::store::{Kids, Store};

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    if s.is_ascii() {
        return s
            .bytes()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32));
    }
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

fn bucket(name: &str, capacity: u32) -> u32 {
    let h = java_string_hash(name) as u32;
    (h ^ (h >> 16)) & (capacity.max(1) - 1)
}

/// The children of one znode, read-only (a view into the tree).
#[derive(Clone, Copy)]
pub struct Children<'a> {
    store: &'a Store,
    kids: Option<&'a Kids>,
}

impl<'a> Children<'a> {
    pub(crate) fn new(store: &'a Store, kids: Option<&'a Kids>) -> Self {
        Children { store, kids }
    }

    pub fn len(&self) -> usize {
        self.kids.map_or(0, Kids::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a child is called `name` (a scan: use the tree's path lookup where it matters).
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// Child slots, oldest first.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + 'a {
        self.kids.into_iter().flat_map(Kids::iter)
    }

    /// Names in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let store = self.store;
        self.slots().map(move |c| store.slot(c).blob().name())
    }

    /// Slot numbers in the order Java's HashSet iterates the names.
    pub(crate) fn java_order_slots(&self) -> impl Iterator<Item = u32> + 'a {
        self.java_sorted().into_iter().map(|(_, c, _)| c)
    }

    /// Names in the order Java's HashSet iterates them.
    pub fn java_order(&self) -> Vec<&'a str> {
        self.java_sorted()
            .into_iter()
            .map(|(_, _, name)| name)
            .collect()
    }

    /// (sort key, slot, name) of every child, sorted by the key: bucket in the high half,
    /// place in the low half, so one `u64` compare orders them as Java iterates. Each
    /// child's slot is read once (a 100k-child getChildren is dominated by these reads).
    fn java_sorted(&self) -> Vec<(u64, u32, &'a str)> {
        let Some(kids) = self.kids else {
            return Vec::new();
        };
        let mut v: Vec<(u64, u32, &'a str)> = Vec::with_capacity(kids.len());
        v.extend(kids.places().map(|(place, c)| {
            let name = self.store.slot(c).blob().name();
            let key = (u64::from(bucket(name, kids.java_capacity)) << 32) | u64::from(place);
            (key, c, name)
        }));
        v.sort_unstable_by_key(|e| e.0);
        v
    }
}

impl PartialEq for Children<'_> {
    /// Equal when they hold the same names (order bookkeeping aside).
    fn eq(&self, other: &Self) -> bool {
        let mut a: Vec<&str> = self.iter().collect();
        let mut b: Vec<&str> = other.iter().collect();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

impl std::fmt::Debug for Children<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.java_order()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Blob, Slot};
    use jute::data::StatPersisted;

    /// A parent "/" and its children, maintained as the tree does.
    struct Parent {
        store: Store,
        root: u32,
    }

    impl Parent {
        fn new() -> Self {
            let mut store = Store::new();
            let slot = Slot::new(Blob::new("/", None), &StatPersisted::default(), 0);
            let root = store.insert_hashed(store.hash("/"), slot, 0);
            Parent { store, root }
        }
        fn insert(&mut self, name: &str) {
            let path = format!("/{name}");
            let slot = Slot::new(Blob::new(&path, None), &StatPersisted::default(), 0);
            let c = self.store.insert_hashed(self.store.hash(&path), slot, 0);
            self.store.add_child(self.root, c);
        }
        fn remove(&mut self, name: &str) {
            let (_, slot, _) = self.store.remove(&format!("/{name}")).unwrap();
            self.store.remove_child(self.root, slot.pos);
        }
        fn children(&self) -> Children<'_> {
            let kids = self.store.slot(self.root).kids.as_deref();
            Children::new(&self.store, kids)
        }
        fn java_capacity(&self) -> u32 {
            self.store
                .slot(self.root)
                .kids
                .as_ref()
                .unwrap()
                .java_capacity
        }
    }

    #[test]
    fn hash_matches_java() {
        // Values printed by Java 17's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("zookeeper"), 1_600_681_804);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("é"), 233);
        // A character outside the BMP counts as two UTF-16 units (Java: "😀".hashCode()).
        assert_eq!(java_string_hash("😀"), 1_772_899);
    }

    #[test]
    fn order_is_bucket_then_insertion() {
        let mut c = Parent::new();
        for n in ["b", "a", "c"] {
            c.insert(n);
        }
        // capacity 8: buckets a=97&7=1, b=2, c=3.
        assert_eq!(c.children().java_order(), vec!["a", "b", "c"]);
        // "i" (105 & 7 = 1) shares a's bucket and comes after it.
        c.insert("i");
        assert_eq!(c.children().java_order(), vec!["a", "i", "b", "c"]);
        // Re-inserting moves a name to the end of its bucket.
        c.remove("a");
        c.insert("a");
        assert_eq!(c.children().java_order(), vec!["i", "a", "b", "c"]);
        assert!(c.children().contains("i") && !c.children().contains("x"));
    }

    #[test]
    fn matches_a_java_hashset_after_growth_and_removals() {
        let mut c = Parent::new();
        for i in 0..40 {
            c.insert(&format!("node-{i}"));
        }
        for i in (0..40).step_by(3) {
            c.remove(&format!("node-{i}"));
        }
        c.insert("node-3");
        c.insert("x");
        // Printed by Java 17 for the same operations on `new HashSet<String>(8)`.
        let java = "node-37, node-14, node-13, node-35, node-34, node-11, node-10, node-32, node-31, \
                    node-19, node-17, node-16, node-38, node-1, node-2, node-26, node-3, node-4, \
                    node-25, node-5, node-23, node-7, node-22, node-8, node-20, node-29, node-28, x";
        let expected: Vec<&str> = java.split(", ").map(str::trim).collect();
        assert_eq!(c.children().java_order(), expected);
    }

    #[test]
    fn capacity_grows_past_three_quarters_and_never_shrinks() {
        let mut c = Parent::new();
        for i in 0..7 {
            c.insert(&format!("n{i}"));
        }
        assert_eq!(c.java_capacity(), 16);
        for i in 0..7 {
            c.remove(&format!("n{i}"));
        }
        assert_eq!(c.java_capacity(), 16);
        assert!(c.children().is_empty());
    }

    /// The emulation children.rs had before the compact store (names with sequence numbers in
    /// a map, plus Java's capacity), as a model.
    #[derive(Default)]
    struct Model {
        names: std::collections::HashMap<String, u64>,
        next: u64,
        cap: u32,
    }

    impl Model {
        fn insert(&mut self, n: &str) {
            if self.cap == 0 {
                self.cap = 8;
            }
            self.names.insert(n.to_string(), self.next);
            self.next += 1;
            if self.names.len() as u64 > self.cap as u64 * 3 / 4 {
                self.cap *= 2;
            }
        }
        fn order(&self) -> Vec<String> {
            let mut v: Vec<(u32, u64, &String)> = self
                .names
                .iter()
                .map(|(k, s)| (bucket(k, self.cap), *s, k))
                .collect();
            v.sort();
            v.into_iter().map(|(_, _, k)| k.clone()).collect()
        }
    }

    #[test]
    fn random_inserts_and_removes_match_the_model() {
        let mut c = Parent::new();
        let mut m = Model::default();
        let mut x = 0x1234_5678_9abc_def1u64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let name = format!("n{}", x % 700);
            if m.names.contains_key(&name) {
                if x & (1 << 40) != 0 {
                    c.remove(&name);
                    m.names.remove(&name);
                }
            } else {
                c.insert(&name);
                m.insert(&name);
            }
            if step % 997 == 0 {
                assert_eq!(c.children().java_order(), m.order(), "after step {step}");
                assert_eq!(c.java_capacity(), m.cap);
            }
        }
        assert_eq!(c.children().java_order(), m.order());
    }
}
