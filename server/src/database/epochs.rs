//! A quorum member's epoch files, `<dataDir>/version-2/acceptedEpoch` and `currentEpoch`
//! (Java's `QuorumPeer.getAcceptedEpoch` / `setCurrentEpoch`): read and checked when the
//! database is opened in quorum mode ([`recovery::ensure_epochs`]), then written durably
//! (tmp file, fsync, rename) whenever a leader makes us accept or adopt an epoch. Standalone
//! servers neither read nor write them, as Java.

use crate::persist::{self, recovery, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use std::path::{Path, PathBuf};

/// The two epochs as on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epochs {
    snap_dir: PathBuf,
    current: i64,
    accepted: i64,
}

impl Epochs {
    /// Read (and create or repair, as Java's `loadDataBase`) the epoch files of `snap_dir`
    /// for a database whose last zxid is `last_zxid`.
    pub fn open(snap_dir: &Path, last_zxid: i64) -> persist::Result<Epochs> {
        let (current, accepted) = recovery::ensure_epochs(snap_dir, last_zxid)?;
        Ok(Epochs {
            snap_dir: snap_dir.to_path_buf(),
            current,
            accepted,
        })
    }

    pub fn current(&self) -> i64 {
        self.current
    }

    pub fn accepted(&self) -> i64 {
        self.accepted
    }

    /// Write `acceptedEpoch` durably.
    pub fn set_accepted(&mut self, epoch: i64) -> persist::Result<()> {
        recovery::write_epoch(&self.snap_dir, ACCEPTED_EPOCH_FILE, epoch)?;
        self.accepted = epoch;
        Ok(())
    }

    /// Write `currentEpoch` durably.
    pub fn set_current(&mut self, epoch: i64) -> persist::Result<()> {
        recovery::write_epoch(&self.snap_dir, CURRENT_EPOCH_FILE, epoch)?;
        self.current = epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zkrs-epochs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_files_take_the_last_zxids_epoch() {
        let d = dir("missing");
        let e = Epochs::open(&d, (3 << 32) | 5).unwrap();
        assert_eq!((e.current(), e.accepted()), (3, 3));
        assert_eq!(
            recovery::read_epoch(&d, CURRENT_EPOCH_FILE).unwrap(),
            Some(3)
        );
        assert_eq!(
            recovery::read_epoch(&d, ACCEPTED_EPOCH_FILE).unwrap(),
            Some(3)
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn what_is_set_is_on_disk_for_the_next_open() {
        let d = dir("set");
        let mut e = Epochs::open(&d, 0).unwrap();
        e.set_accepted(7).unwrap();
        e.set_current(7).unwrap();
        assert_eq!(Epochs::open(&d, 7 << 32).unwrap(), e);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_accepted_epoch_below_the_current_one_is_refused() {
        let d = dir("refused");
        recovery::write_epoch(&d, CURRENT_EPOCH_FILE, 5).unwrap();
        recovery::write_epoch(&d, ACCEPTED_EPOCH_FILE, 4).unwrap();
        assert!(Epochs::open(&d, 5 << 32).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
