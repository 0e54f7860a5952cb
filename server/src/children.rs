//! A znode's child names, listed in the order Java 3.8 lists them.
//!
//! Java keeps children in a `HashSet<String>` created with capacity 8, so getChildren, the
//! C client's `ls` and snapshots show them in hash-bucket order: buckets by
//! `(h ^ h >>> 16) & (capacity - 1)` (h = `String.hashCode`), and within a bucket in order
//! of insertion. The table doubles when its size passes 3/4 of the capacity and never
//! shrinks. We store each name with an insertion sequence number and the capacity Java's
//! table would have, and sort by (bucket, sequence) when asked for the order. (Java turns a
//! bucket of 8+ colliding names into a tree; that order is not reproduced.)

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Children {
    names: HashMap<Box<str>, u64>,
    next_seq: u64,
    /// Capacity of Java's table: 0 until the first child, then 8, 16, ...
    java_capacity: u32,
}

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

fn bucket(name: &str, capacity: u32) -> u32 {
    let h = java_string_hash(name) as u32;
    (h ^ (h >> 16)) & (capacity - 1)
}

impl PartialEq for Children {
    /// Equal when they hold the same names (order bookkeeping aside).
    fn eq(&self, other: &Self) -> bool {
        self.names.len() == other.names.len()
            && self.names.keys().all(|k| other.names.contains_key(k))
    }
}

impl Children {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Add a name; false if present.
    pub fn insert(&mut self, name: &str) -> bool {
        if self.names.contains_key(name) {
            return false;
        }
        if self.java_capacity == 0 {
            self.java_capacity = 8;
        }
        self.names.insert(name.into(), self.next_seq);
        self.next_seq += 1;
        // HashMap.putVal: `if (++size > threshold) resize()`, threshold = 3/4 capacity.
        if self.names.len() as u64 > (self.java_capacity as u64 * 3) / 4 {
            self.java_capacity *= 2;
        }
        true
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.names.remove(name).is_some()
    }

    /// Names in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(|k| &**k)
    }

    /// Names in the order Java's HashSet iterates them.
    pub fn java_order(&self) -> Vec<&str> {
        let cap = self.java_capacity.max(1);
        let mut v: Vec<(u32, u64, &str)> = self
            .names
            .iter()
            .map(|(k, seq)| (bucket(k, cap), *seq, &**k))
            .collect();
        v.sort_unstable_by_key(|&(b, s, _)| (b, s));
        v.into_iter().map(|(_, _, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        // Values printed by Java 17's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("zookeeper"), 1_600_681_804);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("é"), 233);
    }

    #[test]
    fn order_is_bucket_then_insertion() {
        let mut c = Children::new();
        for n in ["b", "a", "c"] {
            c.insert(n);
        }
        // capacity 8: buckets a=97&7=1, b=2, c=3.
        assert_eq!(c.java_order(), vec!["a", "b", "c"]);
        // "i" (105 & 7 = 1) shares a's bucket and comes after it.
        c.insert("i");
        assert_eq!(c.java_order(), vec!["a", "i", "b", "c"]);
        // Re-inserting moves a name to the end of its bucket.
        c.remove("a");
        c.insert("a");
        assert_eq!(c.java_order(), vec!["i", "a", "b", "c"]);
    }

    #[test]
    fn matches_a_java_hashset_after_growth_and_removals() {
        let mut c = Children::new();
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
        assert_eq!(c.java_order(), expected);
    }

    #[test]
    fn capacity_grows_past_three_quarters_and_never_shrinks() {
        let mut c = Children::new();
        for i in 0..7 {
            c.insert(&format!("n{i}"));
        }
        assert_eq!(c.java_capacity, 16);
        for i in 0..7 {
            c.remove(&format!("n{i}"));
        }
        assert_eq!(c.java_capacity, 16);
        assert!(c.is_empty());
    }
}
