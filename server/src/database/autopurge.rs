//! Java's autopurge (`DatadirCleanupManager`): every `autopurge.purgeInterval` hours, keep
//! the newest `autopurge.snapRetainCount` snapshots and the logs they need, delete the rest.

use std::path::PathBuf;
use tracing::{info, warn};

/// Start the purge thread for `data_dir` / `log_dir`, every `interval`, keeping `retain`.
pub fn start(data_dir: PathBuf, log_dir: PathBuf, retain: usize, interval: std::time::Duration) {
    let _ = std::thread::Builder::new()
        .name("autopurge".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            match crate::persist::purge::purge(&data_dir, &log_dir, retain) {
                Ok(removed) => info!("autopurge: removed {} files", removed.len()),
                Err(e) => warn!("autopurge failed: {e}"),
            }
        });
}
