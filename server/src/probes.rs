//! What the four-letter words show about the process and the disk, measured outside the
//! pipeline (IO: /proc, /etc/passwd, the data directories). The connection task that took
//! the word calls [`measure`] before handing it to the pipeline, so an `mntr` poll never
//! stalls other clients; the Prometheus endpoint does the same before each scrape.

use crate::config::Config;
use crate::fourlw::{full_version, ServerConf};
use crate::pipeline::Probes;
use std::path::Path;

/// Measure what the four-letter word `cmd` shows.
pub fn measure(cmd: &str, cfg: &Config) -> Probes {
    let mut p = Probes {
        fsyncs: Some(crate::persist::txnlog::take_fsync_times()),
        ..Default::default()
    };
    match cmd {
        "mntr" => p.fd_counts = fd_counts(),
        "conf" | "dirs" => {
            let conf = ServerConf::from_config(cfg);
            p.snap_dir_size = dir_size(&conf.data_dir());
            p.txn_log_dir_size = dir_size(&conf.data_log_dir());
            p.client_port = crate::net::bound_client_port();
        }
        "envi" => p.environment = environment(&full_version(cfg.compat_version)),
        _ => {}
    }
    p
}

/// Java's `ZooKeeperServer.getDirSize`: the summed lengths of every file under `path`
/// (following symbolic links); 0 if it does not exist.
pub fn dir_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(md) if md.is_dir() => std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(md) => md.len(),
        Err(_) => 0,
    }
}

/// (open, max) file descriptors of this process: entries of `/proc/self/fd` (minus the one
/// used to list it) and the soft `Max open files` limit; -1 where unknown.
pub fn fd_counts() -> (i64, i64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|rd| rd.count() as i64 - 1)
        .unwrap_or(-1);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l["Max open files".len()..].split_whitespace().next())
                .and_then(|v| v.parse::<i64>().ok())
        })
        .unwrap_or(-1);
    (open, max)
}

/// `envi` for this process: Java's keys with our values (see the module doc).
pub fn environment(version: &str) -> Vec<(String, String)> {
    const NA: &str = "<NA>";
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let (user, home) = current_user();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mb = |v: Option<u64>| v.map_or(NA.to_string(), |kib| format!("{}MB", kib / 1024));
    let os_name = match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        "macos" => "Mac OS X".to_string(),
        "windows" => "Windows".to_string(),
        "freebsd" => "FreeBSD".to_string(),
        "openbsd" => "OpenBSD".to_string(),
        "netbsd" => "NetBSD".to_string(),
        other => other.to_string(),
    };
    let os_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    };
    let values: [String; 18] = [
        version.to_string(),
        read("/proc/sys/kernel/hostname").unwrap_or_else(|| NA.to_string()),
        NA.to_string(),
        NA.to_string(),
        NA.to_string(),
        NA.to_string(),
        NA.to_string(),
        std::env::temp_dir().display().to_string(),
        NA.to_string(),
        os_name,
        os_arch.to_string(),
        read("/proc/sys/kernel/osrelease").unwrap_or_else(|| NA.to_string()),
        user.unwrap_or_else(|| NA.to_string()),
        home.unwrap_or_else(|| NA.to_string()),
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| NA.to_string()),
        mb(kib_field(&meminfo, "MemAvailable:")),
        mb(kib_field(&meminfo, "MemTotal:")),
        mb(kib_field(&status, "VmRSS:")),
    ];
    crate::fourlw::ENVIRONMENT_KEYS
        .iter()
        .map(|k| k.to_string())
        .zip(values)
        .collect()
}

/// A `Name:   1234 kB` field of a /proc file, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l[name.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// (user name, home directory) of the real uid, from `/proc/self/status` and `/etc/passwd`,
/// falling back to `$USER` / `$HOME`.
fn current_user() -> (Option<String>, Option<String>) {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l[4..].split_whitespace().next().map(str::to_string))
        });
    let from_passwd = uid.and_then(|uid| {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2] == uid).then(|| (f[0].to_string(), f[5].to_string()))
        })
    });
    match from_passwd {
        Some((u, h)) => (Some(u), Some(h)),
        None => (std::env::var("USER").ok(), std::env::var("HOME").ok()),
    }
}

/// simpleclient's `StandardExports` values for this process (Linux `/proc`): CPU time and
/// start time from `/proc/self/stat` (clock ticks, taken as 100 per second, the Linux
/// `USER_HZ` everywhere in practice), descriptors as `mntr`, `VmSize`/`VmRSS` from
/// `/proc/self/status`.
pub fn process() -> crate::metrics::prometheus::Process {
    const TICKS_PER_SECOND: f64 = 100.0;
    let (open_fds, max_fds) = fd_counts();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Numbered as in proc(5) from field 3 (state) on: utime is 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu_seconds = (field(14).unwrap_or(0.0) + field(15).unwrap_or(0.0)) / TICKS_PER_SECOND;
    let boot_time_s = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let start_time_seconds = match (boot_time_s, field(22)) {
        (Some(boot), Some(ticks)) => boot + ticks / TICKS_PER_SECOND,
        _ => 0.0,
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim();
            v.parse::<i64>().ok().map(|k| k * 1024)
        })
    };
    crate::metrics::prometheus::Process {
        cpu_seconds,
        start_time_seconds,
        open_fds,
        max_fds,
        virtual_memory_bytes: kib("VmSize:"),
        resident_memory_bytes: kib("VmRSS:"),
    }
}

/// The AdminServer's `last_snapshot`: the newest snapshot file in `<dataDir>/version-2`,
/// as (zxid, last modified in seconds), or `None` if there is none. Java remembers the
/// snapshot it last wrote or loaded; the newest file on disk is that one.
pub fn last_snapshot(cfg: &Config) -> Option<(i64, i64)> {
    let dir = ServerConf::from_config(cfg).data_dir();
    let (zxid, path) = crate::persist::snapshot::list(&dir)
        .ok()?
        .into_iter()
        .max_by_key(|(z, _)| *z)?;
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    let secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some((zxid, secs as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_environment_and_process_values() {
        let env = environment("v");
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, crate::fourlw::ENVIRONMENT_KEYS);
        assert_eq!(env[0].1, "v");
        assert_eq!(env[2].1, "<NA>");
        if cfg!(target_os = "linux") {
            assert_eq!(env[9].1, "Linux");
            assert!(env[15].1.ends_with("MB"), "{env:?}");
            let (open, max) = fd_counts();
            assert!(open >= 3 && max >= open, "{open} {max}");
        }
        let tmp = std::env::temp_dir().join(format!("zk-fourlw-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("version-2/sub")).unwrap();
        std::fs::write(tmp.join("version-2/a"), [0u8; 457]).unwrap();
        std::fs::write(tmp.join("version-2/sub/b"), [0u8; 43]).unwrap();
        assert_eq!(dir_size(&tmp.join("version-2")), 500);
        assert_eq!(dir_size(&tmp.join("missing")), 0);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn process_values_from_proc() {
        let p = process();
        assert!(p.cpu_seconds >= 0.0);
        let now_s = crate::stats::wall_ms() as f64 / 1000.0;
        assert!(
            p.start_time_seconds > now_s - 3600.0 && p.start_time_seconds <= now_s + 1.0,
            "{p:?}"
        );
        assert!(p.open_fds > 0 && p.max_fds >= p.open_fds, "{p:?}");
        assert!(p.resident_memory_bytes.unwrap_or(0) > 0, "{p:?}");
        assert!(p.virtual_memory_bytes >= p.resident_memory_bytes, "{p:?}");
    }
}
