//! Writing audit records off the pipeline thread (Java's `Slf4jAuditLogger` and the
//! `RFAAUDIT` appender of its shipped `conf/logback.xml`, 3.8 and 3.9).
//!
//! One thread per process owns the output and takes records from a channel, so the
//! pipeline only moves a record into it. With `ZOO_LOG_DIR` set the records go to
//! `$ZOO_LOG_DIR/zookeeper_audit.log` in that appender's layout,
//! `%d{ISO8601} %p %c{2}: %m%n` (`2024-05-01 12:00:00,123 INFO o.a.z.a.Slf4jAuditLogger:
//! session=0x...`; the time in UTC), rolled over at 10 MB keeping 10 (`logfile`). Without
//! it they go to the server log under the logger's name, which is where Java's own default
//! configuration sends them (its audit appender ships commented out). Successes are INFO,
//! failures ERROR, as `Slf4jAuditLogger` logs them.

use super::{AuditEvent, Outcome};
use crate::logfile::RollingFile;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::OnceLock;

/// The audit file's name (`zookeeper.auditlog.file`).
pub const FILE_NAME: &str = "zookeeper_audit.log";
/// `MaxFileSize` and `maxIndex` of the `RFAAUDIT` appender.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
pub const MAX_BACKUPS: u32 = 10;
/// The logger name as `%c{2}` abbreviates it in logback.
const LOGGER_ABBREVIATED: &str = "o.a.z.a.Slf4jAuditLogger";
/// The tracing target when the records go to the server log.
const TARGET: &str = "org.apache.zookeeper.audit.Slf4jAuditLogger";

enum Msg {
    Event(AuditEvent),
    /// Write everything before it, then answer (serverStop before exiting).
    Flush(mpsc::Sender<()>),
}

static SINK: OnceLock<mpsc::Sender<Msg>> = OnceLock::new();

/// Where the records go.
enum Dest {
    File(io::BufWriter<RollingFile>),
    ServerLog,
}

/// Start the process's audit writer (once; later calls are ignored): to
/// `dir/zookeeper_audit.log` when `log_dir` is given, else the server log. `server_user` is
/// the name system operations are logged as. Returns the file's path, if any.
pub fn start(log_dir: Option<&Path>, server_user: String) -> io::Result<Option<PathBuf>> {
    if SINK.get().is_some() {
        return Ok(None);
    }
    let (dest, path) = match log_dir {
        Some(dir) => {
            let path = dir.join(FILE_NAME);
            let file = RollingFile::open(&path, MAX_FILE_BYTES, MAX_BACKUPS)?;
            (Dest::File(io::BufWriter::new(file)), Some(path))
        }
        None => (Dest::ServerLog, None),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("audit-log".into())
        .spawn(move || run(rx, dest, &server_user))?;
    let _ = SINK.set(tx);
    Ok(path)
}

/// Hand a record to the writer; nothing when none was started.
pub fn submit(event: AuditEvent) {
    if let Some(tx) = SINK.get() {
        let _ = tx.send(Msg::Event(event));
    }
}

/// Wait until every record submitted so far is written (at most a second).
pub fn flush() {
    if let Some(tx) = SINK.get() {
        let (done, wait) = mpsc::channel();
        if tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(1));
        }
    }
}

fn run(rx: mpsc::Receiver<Msg>, mut dest: Dest, server_user: &str) {
    let mut line = String::new();
    while let Ok(first) = rx.recv() {
        // Everything queued goes out in one write.
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Event(e) => write_event(&mut dest, &e, server_user, &mut line),
                Msg::Flush(done) => waiting.push(done),
            }
            next = rx.try_recv().ok();
        }
        if let Dest::File(f) = &mut dest {
            if let Err(e) = f.flush() {
                tracing::error!("cannot write the audit log: {e}");
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

fn write_event(dest: &mut Dest, event: &AuditEvent, server_user: &str, line: &mut String) {
    let record = event.render(server_user);
    match dest {
        Dest::ServerLog if event.result == Outcome::Failure => {
            tracing::error!(target: TARGET, "{record}")
        }
        Dest::ServerLog => tracing::info!(target: TARGET, "{record}"),
        Dest::File(f) => {
            line.clear();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format_line(line, now.as_millis() as i64, event.result, &record);
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::error!("cannot write the audit log: {e}");
            }
        }
    }
}

/// One line in the `RFAAUDIT` layout, `%d{ISO8601} %p %c{2}: %m%n`, at `time_ms` (UTC).
pub fn format_line(out: &mut String, time_ms: i64, result: Outcome, record: &str) {
    use std::fmt::Write as _;
    let level = if result == Outcome::Failure {
        "ERROR"
    } else {
        "INFO"
    };
    let _ = writeln!(
        out,
        "{} {level} {LOGGER_ABBREVIATED}: {record}",
        iso8601_utc(time_ms)
    );
}

/// logback's `%d{ISO8601}`: `yyyy-MM-dd HH:mm:ss,SSS`.
fn iso8601_utc(time_ms: i64) -> String {
    let (days, ms_of_day) = (
        time_ms.div_euclid(86_400_000),
        time_ms.rem_euclid(86_400_000),
    );
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

/// The user the server runs as (Java's `user.name`: the passwd entry of the process's uid;
/// then `$USER`; `<NA>` when unknown, as Java's `Login.SYSTEM_USER`).
pub fn server_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid());
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid.ok()
        .and_then(|uid| passwd_name(&passwd, uid))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "<NA>".to_string())
}

/// The name of `uid` in `/etc/passwd` text (`name:x:uid:...`).
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let entry_uid: u32 = f.nth(1)?.parse().ok()?;
        (entry_uid == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logback_iso8601() {
        assert_eq!(iso8601_utc(0), "1970-01-01 00:00:00,000");
        // 2024-02-29 23:59:59.007 UTC
        assert_eq!(iso8601_utc(1_709_251_199_007), "2024-02-29 23:59:59,007");
        assert_eq!(iso8601_utc(951_782_400_000), "2000-02-29 00:00:00,000");
    }

    #[test]
    fn passwd_lookup() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nzookeeper:x:107:113::/var/lib/zookeeper:/bin/false\n";
        assert_eq!(passwd_name(passwd, 107).as_deref(), Some("zookeeper"));
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 5), None);
    }

    #[test]
    fn line_layout() {
        let mut out = String::new();
        format_line(
            &mut out,
            0,
            Outcome::Failure,
            "user=zk\toperation=serverStart\tresult=failure",
        );
        assert_eq!(
            out,
            "1970-01-01 00:00:00,000 ERROR o.a.z.a.Slf4jAuditLogger: \
             user=zk\toperation=serverStart\tresult=failure\n"
        );
        out.clear();
        format_line(&mut out, 0, Outcome::Invoked, "x");
        assert!(out.contains(" INFO o.a.z.a.Slf4jAuditLogger: x\n"));
    }
}
