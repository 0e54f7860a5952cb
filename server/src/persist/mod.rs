//! Durability: Java ZooKeeper 3.8's on-disk formats, byte for byte, and recovery from them.
//!
//! Layout (as `FileTxnSnapLog`): snapshots and the `currentEpoch` / `acceptedEpoch` files live in
//! `<dataDir>/version-2/`, txn logs in `<dataLogDir>/version-2/` (the same folder unless
//! `dataLogDir` is set). File names carry the zxid in lower-case hex without leading zeros:
//! `log.<zxid of the first txn in the file>`, `snapshot.<last zxid applied when it started>`
//! (plus `.gz` / `.snappy` when compressed).
//!
//! - [`txnlog`]: `FileTxnLog` (writer with preallocation and group-commit friendly sync; reader
//!   that checks every checksum and reports a torn tail).
//! - [`snapshot`]: `FileSnap` + `SnapStream` (sessions, ACL cache, nodes, Adler32 seals, digest).
//! - [`digest`]: `DigestCalculator` (per-node CRC32, tree digest = wrapping sum).
//! - [`recovery`]: load the newest valid snapshot and replay the logs; epoch files.
//! - [`purge`]: `PurgeTxnLog` (keep the newest N snapshots and the logs they need).
//! - [`fuzz_support`]: the no-panic checks of the disk readers (fuzz targets, mutation tests).

pub mod digest;
pub mod dump;
pub mod fuzz_support;
pub mod purge;
pub mod recovery;
pub mod snapshot;
pub mod txnlog;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The folder inside dataDir / dataLogDir that holds the files (`FileTxnSnapLog.VERSION`).
pub const VERSION_DIR: &str = "version-2";
pub const LOG_PREFIX: &str = "log";
pub const SNAPSHOT_PREFIX: &str = "snapshot";
/// `FileTxnLog.TXNLOG_MAGIC`: "ZKLG" as a big-endian int.
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// `FileSnap.SNAP_MAGIC`: "ZKSN" as a big-endian int.
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// Format version of both file kinds.
pub const FORMAT_VERSION: i32 = 2;
/// `currentEpoch` / `acceptedEpoch` file names (in the snapshot folder).
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";

/// Why reading or writing the data directory failed.
#[derive(Debug)]
pub enum Error {
    /// An I/O error on a file or folder.
    Io { path: PathBuf, source: io::Error },
    /// A file whose content is not what the format allows (bad magic, checksum, record).
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The directory as a whole is unusable (e.g. logs without any snapshot, bad epochs).
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Corrupt {
                path,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "{}: corrupt at offset {offset}: {reason}",
                    path.display()
                )
            }
            Error::Invalid(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Attach a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// `<dir>/version-2`.
pub fn version_dir(dir: &Path) -> PathBuf {
    dir.join(VERSION_DIR)
}

/// `log.<hex zxid>` (`Util.makeLogName`).
pub fn log_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{zxid:x}")
}

/// `snapshot.<hex zxid>[.gz|.snappy]` (`Util.makeSnapshotName`).
pub fn snapshot_name(zxid: i64, compression: snapshot::Compression) -> String {
    format!("{SNAPSHOT_PREFIX}.{zxid:x}{}", compression.extension())
}

/// Java's `Util.getZxidFromName`: the second dot-separated part parsed as hex (with an
/// optional sign, as `Long.parseLong(s, 16)`), if the first part is `prefix`.
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    let hex = parts.next()?;
    if hex.is_empty() {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
}

/// The files `<prefix>.<zxid>...` in `dir`, sorted by zxid ascending. Names ending in `.tmp`
/// (an interrupted atomic write, ours or Java's) are left out. A missing folder is empty.
pub fn list_files(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at(dir),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            continue;
        }
        if let Some(z) = zxid_from_name(name, prefix) {
            out.push((z, entry.path()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    Ok(out)
}

/// fsync a folder so that a created or renamed entry in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Adler-32 as Java's `java.util.zip.Adler32`, whose `getValue()` is written as a long
/// (SIMD where the CPU has it: it covers every byte of every log entry and snapshot).
#[derive(Clone, Default)]
pub struct Adler32(simd_adler32::Adler32);

impl Adler32 {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
    /// The value as Java's `getValue()` (an unsigned 32-bit value in a long).
    pub fn value(&self) -> i64 {
        self.0.finish() as i64
    }
    pub fn of(bytes: &[u8]) -> i64 {
        let mut a = Adler32::new();
        a.update(bytes);
        a.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(log_name(0x1_0000_0001), "log.100000001");
        assert_eq!(snapshot_name(0, snapshot::Compression::None), "snapshot.0");
        assert_eq!(
            snapshot_name(0x2a, snapshot::Compression::Gzip),
            "snapshot.2a.gz"
        );
        assert_eq!(zxid_from_name("log.100000001", "log"), Some(0x1_0000_0001));
        assert_eq!(zxid_from_name("snapshot.2a.snappy", "snapshot"), Some(0x2a));
        assert_eq!(zxid_from_name("snapshot.zz", "snapshot"), None);
        assert_eq!(zxid_from_name("snapshot", "snapshot"), None);
        assert_eq!(zxid_from_name("logx.1", "log"), None);
        assert_eq!(TXNLOG_MAGIC, 0x5a4b4c47);
        assert_eq!(SNAP_MAGIC, 0x5a4b534e);
    }

    #[test]
    fn adler_matches_java() {
        // java.util.zip.Adler32 of "Wikipedia" = 0x11E60398
        assert_eq!(Adler32::of(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(Adler32::of(b""), 1);
    }
}
