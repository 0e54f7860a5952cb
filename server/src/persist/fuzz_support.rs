//! The checks behind the fuzz targets in `server/fuzz` for bytes read from disk: a txn log
//! file and a snapshot file (plain, and through the snappy-java and gzip readers). Each takes
//! arbitrary bytes and must return (errors are fine) without panicking, and what it accepts
//! must obey the reader's rules. The tests below run them on seeded mutations of valid
//! files, so stable CI exercises them without a fuzzer.

use super::snapshot::{self, SnappyJavaReader};
use super::txnlog::{self, TxnLogReader};
use std::path::PathBuf;

/// A scratch folder for this process and thread (the readers work on files).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "zkrs-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// `data` as a log file: read every entry, then check what was accepted.
pub fn check_txnlog(data: &[u8]) {
    let path = scratch("log.1");
    std::fs::write(&path, data).expect("scratch file");
    let mut r = TxnLogReader::open_file(&path).expect("open");
    let mut end = 16;
    while let Ok(Some(e)) = r.next_entry() {
        assert_eq!(e.offset, end, "entries are contiguous");
        end = e.offset + 12 + e.raw.len() as u64 + 1;
        assert!(end <= data.len() as u64);
    }
    for t in r.torn_tails() {
        // A torn tail is cut at the end of the last valid entry, past which there is at
        // most one record's worth of non-zero bytes.
        assert!(t.valid_len == 0 || t.valid_len == end, "{t:?} vs {end}");
        assert!(t.valid_len <= t.file_len);
    }
    // The pure pieces on their own.
    let _ = txnlog::classify_tail(data, data.len() as u64, data.len() as u64 + 7);
    let _ = txnlog::decode_entry(&bytes::Bytes::copy_from_slice(data));
    let _ = std::fs::remove_file(&path);
    let _ = path.parent().map(std::fs::remove_dir);
}

/// `data` as a snapshot file: the stream parser (plain and snappy-java framed) and the
/// loader that builds a tree from it.
pub fn check_snapshot(data: &[u8]) {
    let _ = snapshot::read_stream(data, |_| Ok(()));
    let _ = snapshot::read_stream(SnappyJavaReader::new(data), |_| Ok(()));
    let _ = snapshot::read_stream(flate2::read::GzDecoder::new(data), |_| Ok(()));
    let path = scratch("snapshot.1");
    std::fs::write(&path, data).expect("scratch file");
    if let Ok(s) = snapshot::load(&path, true) {
        assert!(s.tree.node("/").is_some(), "a loaded tree has a root");
    }
    let _ = std::fs::remove_file(&path);
    let _ = path.parent().map(std::fs::remove_dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::snapshot::tests::sample_tree;
    use crate::persist::snapshot::{serialize, SnappyJavaWriter};
    use crate::persist::txnlog::{encode_entry, frame_entry};
    use crate::txn::{Txn, TxnBody};
    use jute::fuzz_support::{mutate, MutationRng};
    use jute::ops;
    use jute::txn::{CreateTxn, TxnDigest, TxnHeader};
    use std::io::Write;

    fn log_seed() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&crate::persist::TXNLOG_MAGIC.to_be_bytes());
        out.extend_from_slice(&2i32.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        for z in 1..=6 {
            let txn = Txn {
                hdr: TxnHeader {
                    client_id: 1,
                    cxid: z as i32,
                    zxid: z,
                    time: 5,
                    r#type: ops::CREATE,
                },
                body: TxnBody::Create(CreateTxn {
                    path: format!("/n{z}"),
                    data: Some(bytes::Bytes::from_static(b"data")),
                    acl: vec![],
                    ephemeral: false,
                    parent_c_version: 1,
                }),
            };
            let d = TxnDigest {
                version: 2,
                tree_digest: z * 3,
            };
            frame_entry(&encode_entry(&txn, (z % 2 == 0).then_some(&d)), &mut out);
        }
        out.extend_from_slice(&[0; 200]);
        out
    }

    fn check_all(name: &str, seed: &[u8], check: fn(&[u8]), n: usize) {
        check(seed);
        let mut rng = MutationRng::new(0x5eed ^ name.len() as u64);
        for i in 0..n {
            let input = mutate(seed, &mut rng);
            let r = std::panic::catch_unwind(|| check(&input));
            assert!(r.is_ok(), "{name}: iteration {i} panicked on {input:02x?}");
        }
    }

    /// The log reader on 2,000 mutations of a valid log file.
    #[test]
    fn txnlog_reader_never_panics_on_mutated_files() {
        check_all("txnlog", &log_seed(), check_txnlog, 2000);
    }

    /// The snapshot readers on 1,000 mutations of a valid snapshot, plain and snappy framed.
    /// (It found that a damaged length made the parser allocate up to 256 MiB before
    /// reading: a few such inputs took 16 s here; the buffer now grows with the data.)
    #[test]
    fn snapshot_readers_never_panic_on_mutated_files() {
        let tree = sample_tree();
        let mut plain = Vec::new();
        serialize(&tree, tree.last_zxid, true, &mut plain).unwrap();
        check_all("snapshot", &plain, check_snapshot, 1000);
        let mut w = SnappyJavaWriter::new(Vec::new());
        w.write_all(&plain).unwrap();
        let snappy = w.finish().unwrap();
        check_all("snappy snapshot", &snappy, check_snapshot, 300);
    }
}
