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
    Events(Vec<AuditEvent>),
    /// Write everything before it, then answer (serverStop before exiting).
    Flush(mpsc::Sender<()>),
}

static SINK: OnceLock<mpsc::SyncSender<Msg>> = OnceLock::new();

/// Batches of records queued for the writer at most: past it the pipeline waits for the
/// disk, as Java's synchronous appender makes it, rather than holding records without bound.
const QUEUE_BATCHES: usize = 4096;
/// Bytes of whole lines gathered before a write (a rollover falls between lines).
const BATCH_BYTES: usize = 64 * 1024;

/// Where the records go.
enum Dest {
    File { file: RollingFile, batch: Vec<u8> },
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
            let batch = Vec::with_capacity(BATCH_BYTES);
            (Dest::File { file, batch }, Some(path))
        }
        None => (Dest::ServerLog, None),
    };
    let (tx, rx) = mpsc::sync_channel(QUEUE_BATCHES);
    std::thread::Builder::new()
        .name("audit-log".into())
        .spawn(move || run(rx, dest, &server_user))?;
    let _ = SINK.set(tx);
    Ok(path)
}

/// Hand records to the writer, in order; nothing when none was started.
pub fn submit(events: Vec<AuditEvent>) {
    if let Some(tx) = SINK.get() {
        let _ = tx.send(Msg::Events(events));
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
    let mut clock = Clock::default();
    while let Ok(first) = rx.recv() {
        // Everything queued goes out in one write.
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Events(events) => {
                    for e in &events {
                        write_event(&mut dest, e, server_user, &mut clock);
                    }
                }
                Msg::Flush(done) => waiting.push(done),
            }
            next = rx.try_recv().ok();
        }
        write_batch(&mut dest);
        for done in waiting {
            let _ = done.send(());
        }
    }
}

fn write_event(dest: &mut Dest, event: &AuditEvent, server_user: &str, clock: &mut Clock) {
    match dest {
        Dest::ServerLog if event.result == Outcome::Failure => {
            tracing::error!(target: TARGET, "{}", event.render(server_user))
        }
        Dest::ServerLog => tracing::info!(target: TARGET, "{}", event.render(server_user)),
        Dest::File { batch, .. } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            append_line(batch, clock, now.as_millis() as i64, event, server_user);
            if batch.len() >= BATCH_BYTES {
                write_batch(dest);
            }
        }
    }
}

/// `%p`: successes are INFO, failures ERROR (`Slf4jAuditLogger`).
fn level(result: Outcome) -> &'static str {
    if result == Outcome::Failure {
        "ERROR"
    } else {
        "INFO"
    }
}

/// `%d{ISO8601} ` with the text of the current second kept (records come many per second).
#[derive(Default)]
struct Clock {
    second: Option<i64>,
    text: String,
}

impl Clock {
    fn stamp(&mut self, out: &mut Vec<u8>, time_ms: i64) {
        let second = time_ms.div_euclid(1000);
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = iso8601_utc(second * 1000);
            self.text.truncate(self.text.len() - 3); // the ",000" milliseconds
        }
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(format!("{:03} ", time_ms.rem_euclid(1000)).as_bytes());
    }
}

/// Write the gathered lines in one write (`RollingFile` rolls over only between writes).
fn write_batch(dest: &mut Dest) {
    if let Dest::File { file, batch } = dest {
        if batch.is_empty() {
            return;
        }
        if let Err(e) = file.write_all(batch).and_then(|_| file.flush()) {
            tracing::error!("cannot write the audit log: {e}");
        }
        batch.clear();
    }
}

/// One line in the `RFAAUDIT` layout, `%d{ISO8601} %p %c{2}: %m%n`, at `time_ms` (UTC).
fn append_line(
    out: &mut Vec<u8>,
    clock: &mut Clock,
    time_ms: i64,
    event: &AuditEvent,
    server_user: &str,
) {
    clock.stamp(out, time_ms);
    out.extend_from_slice(level(event.result).as_bytes());
    out.push(b' ');
    out.extend_from_slice(LOGGER_ABBREVIATED.as_bytes());
    out.extend_from_slice(b": ");
    event.render_into(server_user, out);
    out.push(b'\n');
}

/// logback's `%d{ISO8601}`: `yyyy-MM-dd HH:mm:ss,SSS`.
fn iso8601_utc(time_ms: i64) -> String {
    let t = crate::dates::utc(time_ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
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
        let (mut out, mut clock) = (Vec::new(), Clock::default());
        let start = AuditEvent::server(super::super::OP_START, Outcome::Failure);
        append_line(&mut out, &mut clock, 7, &start, "zk");
        let stop = AuditEvent::server(super::super::OP_STOP, Outcome::Invoked);
        append_line(&mut out, &mut clock, 1_042, &stop, "zk");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01 00:00:00,007 ERROR o.a.z.a.Slf4jAuditLogger: \
             user=zk\toperation=serverStart\tresult=failure\n\
             1970-01-01 00:00:01,042 INFO o.a.z.a.Slf4jAuditLogger: \
             user=zk\toperation=serverStop\tresult=invoked\n"
        );
    }
}
