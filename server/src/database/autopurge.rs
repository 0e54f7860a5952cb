//! Java's autopurge (`DatadirCleanupManager`): in every role, at startup and then every
//! `autopurge.purgeInterval` hours, keep the newest `autopurge.snapRetainCount` snapshots and
//! the logs they need, delete the rest.

use crate::config::Config;
use std::path::PathBuf;
use std::time::Duration;
use tracing::{error, info};

/// Log the settings as Java does and, when the interval is positive, start the purge thread:
/// a purge now (Java's timer starts at 0), then one every interval.
pub fn start(cfg: &Config) {
    let retain = cfg.autopurge_snap_retain_count as usize;
    let hours = cfg.autopurge_purge_interval_hours;
    info!("autopurge.snapRetainCount set to {retain}");
    info!("autopurge.purgeInterval set to {hours}");
    if hours == 0 {
        info!("Purge task is not scheduled.");
        return;
    }
    spawn(
        cfg.data_dir.clone(),
        cfg.data_log_dir.clone(),
        retain,
        Duration::from_secs(u64::from(hours) * 3600),
    );
}

fn spawn(data_dir: PathBuf, log_dir: PathBuf, retain: usize, interval: Duration) {
    let _ = std::thread::Builder::new()
        .name("PurgeTask".into())
        .spawn(move || loop {
            info!("Purge task started.");
            match crate::persist::purge::purge(&data_dir, &log_dir, retain) {
                Ok(removed) => info!("autopurge: removed {} files", removed.len()),
                Err(e) => error!("Error occurred while purging: {e}"),
            }
            info!("Purge task completed.");
            std::thread::sleep(interval);
        });
}
