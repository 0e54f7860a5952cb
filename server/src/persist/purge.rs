//! Autopurge (Java's `PurgeTxnLog.purge`, run by `DatadirCleanupManager` every
//! `autopurge.purgeInterval` hours keeping `autopurge.snapRetainCount` snapshots).
//!
//! Keep the newest `retain` valid snapshots; let Z be the zxid of the oldest one kept. Keep the
//! log files Z needs (the newest log starting at or before Z, and every later one). Delete the
//! other `log.*` and `snapshot.*` files whose zxid is below Z.

use super::{txnlog, IoContext, Result, LOG_PREFIX, SNAPSHOT_PREFIX};
use std::path::{Path, PathBuf};

/// Java's minimum for `snapRetainCount` / `-n`.
pub const MIN_RETAIN: usize = 3;

/// Purge `<dataDir>/version-2` and `<dataLogDir>/version-2`, keeping `retain` (at least 3)
/// snapshots. Returns the files removed.
pub fn purge(data_dir: &Path, data_log_dir: &Path, retain: usize) -> Result<Vec<PathBuf>> {
    if retain < MIN_RETAIN {
        return Err(super::Error::Invalid(
            "count should be greater than or equal to 3".into(),
        ));
    }
    let snap_dir = super::version_dir(data_dir);
    let log_dir = super::version_dir(data_log_dir);
    let snaps = super::snapshot::find_valid(&snap_dir, retain)?;
    let Some((least, _)) = snaps.last() else {
        return Ok(Vec::new());
    };
    let least = *least;
    let keep_logs: Vec<PathBuf> = txnlog::log_files_from(&log_dir, least)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut removed = Vec::new();
    for (dir, prefix) in [(&log_dir, LOG_PREFIX), (&snap_dir, SNAPSHOT_PREFIX)] {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).at(dir),
        };
        for entry in rd {
            let entry = entry.at(dir)?;
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.starts_with(&format!("{prefix}.")) || keep_logs.contains(&path) {
                continue;
            }
            // As Java: a name whose zxid does not parse counts as -1, so it goes too.
            let z = super::zxid_from_name(name, prefix).unwrap_or(-1);
            if z < least {
                tracing::info!("Removing file: {}", path.display());
                std::fs::remove_file(&path).at(&path)?;
                removed.push(path);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::snapshot::{write_snapshot, SnapshotOptions};
    use crate::tree::DataTree;

    #[test]
    fn keeps_n_snapshots_and_their_logs() {
        let dir = crate::persist::txnlog::tests::tempdir();
        let v2 = dir.join("version-2");
        std::fs::create_dir_all(&v2).unwrap();
        let t = DataTree::new(false);
        for z in [0x10, 0x20, 0x30, 0x40, 0x50] {
            write_snapshot(&t, &v2, z, &SnapshotOptions::default()).unwrap();
        }
        for z in [0x1, 0x15, 0x25, 0x35, 0x45] {
            std::fs::write(v2.join(format!("log.{z:x}")), b"x").unwrap();
        }
        assert!(purge(&dir, &dir, 2).is_err());
        let removed = purge(&dir, &dir, 3).unwrap();
        let names: Vec<_> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        // Oldest kept snapshot 0x30 needs log.25 (starts before it) and later logs.
        assert_eq!(names, vec!["log.1", "log.15", "snapshot.10", "snapshot.20"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
