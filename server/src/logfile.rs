//! The server's log file, as Java's `ROLLINGFILE` appender writes it (logback's
//! `RollingFileAppender` with a `FixedWindowRollingPolicy` and a size trigger, the
//! `conf/logback.xml` of 3.8 and 3.9): `$ZOO_LOG_DIR/zookeeper-<user>-server-<host>.log`, and
//! when it passes the size limit it becomes `<name>.1`, the older ones `<name>.2` ... up to
//! `<name>.<max_backups>`, the oldest dropped. Also where the log goes and at which level,
//! from what a Java launch sets ([`settings`]). Written by hand: the crates at hand rotate by
//! time (tracing-appender) or pull in much more than these forty lines.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `zookeeper.log.maxfilesize` of Java's `logback.xml`.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// `zookeeper.log.maxbackupindex` of Java's `logback.xml`.
pub const DEFAULT_MAX_BACKUPS: u32 = 20;

/// Java's log file name, `zookeeper-$USER-server-$HOSTNAME.log` (`zkServer.sh`).
pub fn java_file_name(user: &str, host: &str) -> String {
    format!("zookeeper-{user}-server-{host}.log")
}

/// Where the log goes and at which level, from a `ZOO_LOG4J_PROP`-like value
/// (`INFO,ROLLINGFILE`, `DEBUG,CONSOLE,ROLLINGFILE`): the level word and the appenders.
#[derive(Debug, PartialEq, Eq)]
pub struct Appenders {
    /// `info`, `debug`, ... as `RUST_LOG` spells it; `None` when the value names none.
    pub level: Option<String>,
    pub console: bool,
    pub file: bool,
}

/// Reads `ZOO_LOG4J_PROP`; without one, the file only (what `zkEnv.sh`'s default
/// `INFO,ROLLINGFILE` means).
pub fn appenders(log4j_prop: Option<&str>) -> Appenders {
    let Some(prop) = log4j_prop else {
        return Appenders {
            level: None,
            console: false,
            file: true,
        };
    };
    let words: Vec<String> = prop
        .split(',')
        .map(|w| w.trim().to_ascii_uppercase())
        .collect();
    let level = words.first().and_then(|w| match w.as_str() {
        "TRACE" | "DEBUG" | "INFO" | "ERROR" => Some(w.to_ascii_lowercase()),
        "WARN" => Some("warn".to_string()),
        "FATAL" => Some("error".to_string()),
        "OFF" => Some("off".to_string()),
        _ => None,
    });
    let console = words.iter().any(|w| w == "CONSOLE");
    let file = words.iter().any(|w| w == "ROLLINGFILE");
    Appenders {
        level,
        // Naming no appender at all would silence the server: keep the file then.
        file: file || !console,
        console,
    }
}

/// The server log's place and level, as a Java launch sets them.
#[derive(Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter (`info`, `warn,zk_server::pipeline=debug`, ...).
    pub filter: String,
    /// To stderr.
    pub console: bool,
    /// To this rolling file.
    pub file: Option<PathBuf>,
    /// The log folder (`zookeeper.log.dir` / `ZOO_LOG_DIR`), where the audit log goes too.
    pub dir: Option<PathBuf>,
}

/// Resolve the log settings from the environment (`env`) and the Java system properties
/// the launch carries (`-D`, `JVMFLAGS`, `SERVER_JVMFLAGS`, `java.env`):
/// - level: `RUST_LOG` (any `tracing` filter), else the level word of
///   `-Dzookeeper.root.logger` (what log4j configurations such as Debian's read:
///   `log4j.rootLogger=${zookeeper.root.logger}`), else of `ZOO_LOG4J_PROP` (which
///   launchers pass as that property), else `info` (the shipped `logback.xml`'s root level);
/// - appenders: CONSOLE and ROLLINGFILE named by the same value (a file only, without one);
/// - folder and file: `-Dzookeeper.log.dir` / `-Dzookeeper.log.file` (what `zkServer.sh`
///   passes), else `ZOO_LOG_DIR` / `ZOO_LOG_FILE`, the file named
///   `zookeeper-$USER-server-<host>.log` by default. No folder: stderr only.
pub fn settings(
    env: impl Fn(&str) -> Option<String>,
    properties: &[(String, String)],
    host: &str,
) -> LogSettings {
    let property = |name: &str| {
        properties
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let root_logger = property("zookeeper.root.logger").or_else(|| env("ZOO_LOG4J_PROP"));
    let appenders = appenders(root_logger.as_deref());
    let filter = env("RUST_LOG")
        .filter(|f| !f.trim().is_empty())
        .or(appenders.level)
        .unwrap_or_else(|| "info".to_string());
    let dir = property("zookeeper.log.dir")
        .or_else(|| env("ZOO_LOG_DIR"))
        .map(PathBuf::from);
    let file = match &dir {
        Some(dir) if appenders.file => {
            let name = property("zookeeper.log.file")
                .or_else(|| env("ZOO_LOG_FILE"))
                .unwrap_or_else(|| {
                    java_file_name(&env("USER").unwrap_or_else(|| "unknown".into()), host)
                });
            Some(dir.join(name))
        }
        _ => None,
    };
    LogSettings {
        filter,
        console: appenders.console || file.is_none(),
        file,
        dir,
    }
}

/// A log file that rolls over by size. Each `write` is one formatted event, so a rollover
/// never splits a line.
pub struct RollingFile {
    path: PathBuf,
    max_file_bytes: u64,
    max_backups: u32,
    file: File,
    written_bytes: u64,
}

impl RollingFile {
    /// Opens (appends to) `path`, creating its directory as `zkServer.sh` does.
    pub fn open(path: &Path, max_file_bytes: u64, max_backups: u32) -> io::Result<RollingFile> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written_bytes = file.metadata()?.len();
        Ok(RollingFile {
            path: path.to_path_buf(),
            max_file_bytes,
            max_backups,
            file,
            written_bytes,
        })
    }

    fn backup(&self, index: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{index}"));
        PathBuf::from(name)
    }

    /// `name.(n-1)` -> `name.n`, ..., `name` -> `name.1`, then a fresh `name`.
    fn roll_over(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.max_backups == 0 {
            self.file = File::create(&self.path)?;
        } else {
            let _ = fs::remove_file(self.backup(self.max_backups));
            for i in (1..self.max_backups).rev() {
                let _ = fs::rename(self.backup(i), self.backup(i + 1));
            }
            fs::rename(&self.path, self.backup(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.written_bytes = 0;
        Ok(())
    }
}

impl Write for RollingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written_bytes > 0 && self.written_bytes + buf.len() as u64 > self.max_file_bytes {
            // A failed rollover keeps writing to the current file rather than losing lines.
            let _ = self.roll_over();
        }
        let n = self.file.write(buf)?;
        self.written_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log4j_prop_words() {
        assert_eq!(
            appenders(Some("INFO,ROLLINGFILE")),
            Appenders {
                level: Some("info".into()),
                console: false,
                file: true
            }
        );
        assert_eq!(
            appenders(Some("debug, CONSOLE ,ROLLINGFILE")),
            Appenders {
                level: Some("debug".into()),
                console: true,
                file: true
            }
        );
        let console_only = appenders(Some("WARN,CONSOLE"));
        assert_eq!(console_only.level.as_deref(), Some("warn"));
        assert!(console_only.console && !console_only.file);
        assert!(appenders(Some("CONSOLE")).level.is_none());
        assert!(appenders(None).file);
        assert!(appenders(Some("INFO")).file);
    }

    #[test]
    fn settings_as_a_java_launch_gives_them() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let props = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        // Nothing set: info, to stderr.
        let s = settings(env(&[]), &[], "h");
        assert_eq!(
            (s.filter.as_str(), s.console, s.file, s.dir),
            ("info", true, None, None)
        );
        // Debian's environment file: ZOO_LOG_DIR and ZOO_LOG4J_PROP.
        let debian = env(&[
            ("ZOO_LOG_DIR", "/var/log/zookeeper"),
            ("ZOO_LOG4J_PROP", "INFO,ROLLINGFILE"),
            ("USER", "zookeeper"),
        ]);
        let s = settings(debian, &[], "node1");
        assert_eq!(s.filter, "info");
        assert!(!s.console);
        assert_eq!(
            s.file,
            Some(PathBuf::from(
                "/var/log/zookeeper/zookeeper-zookeeper-server-node1.log"
            ))
        );
        // -Dzookeeper.root.logger and -Dzookeeper.log.{dir,file} win over the environment.
        let p = props(&[
            ("zookeeper.root.logger", "WARN,CONSOLE,ROLLINGFILE"),
            ("zookeeper.log.dir", "/logs"),
            ("zookeeper.log.file", "zk.log"),
        ]);
        let s = settings(debian, &p, "node1");
        assert_eq!(s.filter, "warn");
        assert!(s.console);
        assert_eq!(s.file, Some(PathBuf::from("/logs/zk.log")));
        assert_eq!(s.dir, Some(PathBuf::from("/logs")));
        // RUST_LOG wins over both.
        let s = settings(
            env(&[("RUST_LOG", "debug"), ("ZOO_LOG4J_PROP", "ERROR")]),
            &p,
            "h",
        );
        assert_eq!(s.filter, "debug");
        // CONSOLE only: no file even with a folder (the audit log still goes there).
        let s = settings(
            env(&[("ZOO_LOG_DIR", "/l"), ("ZOO_LOG4J_PROP", "INFO,CONSOLE")]),
            &[],
            "h",
        );
        assert_eq!(
            (s.console, s.file, s.dir),
            (true, None, Some(PathBuf::from("/l")))
        );
    }

    #[test]
    fn java_name() {
        assert_eq!(
            java_file_name("zk", "node1"),
            "zookeeper-zk-server-node1.log"
        );
    }

    #[test]
    fn rolls_over_by_size_keeping_max_backups() {
        let dir = std::env::temp_dir().join(format!("zkrs-logfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("logs").join("z.log");
        let mut f = RollingFile::open(&path, 10, 2).unwrap();
        for line in ["aaaaaa\n", "bbbbbb\n", "cccccc\n", "dddddd\n"] {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.flush().unwrap();
        let read = |p: PathBuf| fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "dddddd\n");
        assert_eq!(read(f.backup(1)), "cccccc\n");
        assert_eq!(read(f.backup(2)), "bbbbbb\n");
        assert!(!f.backup(3).exists(), "the oldest (aaaaaa) is dropped");
        // Reopening appends and counts what is there.
        drop(f);
        let mut f = RollingFile::open(&path, 10, 2).unwrap();
        f.write_all(b"eeeeee\n").unwrap();
        assert_eq!(read(path.clone()), "eeeeee\n");
        assert_eq!(read(f.backup(1)), "dddddd\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
