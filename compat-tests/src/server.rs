//! Start a Java ZooKeeper server (Debian's 3.8.0, or 3.9.3 from the jars
//! tools/install-deps.sh fetches) or our `zkserver` (in 3.8 or 3.9 mode) on a free 127.0.0.1
//! port, with a temporary dataDir and a Java-format `zoo.cfg`; wait until a session can be
//! established; kill the process (and remove the directory) on drop.
//!
//! All run with tickTime=2000, every four-letter word whitelisted, the AdminServer off and
//! extended types (TTL nodes) on. The container manager's interval is set to a day on both,
//! so that containers and TTL nodes are never reaped in the middle of a differential run
//! (that happens on a timer, so the two servers would do it at different points).

use crate::client::Client;
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server gets to accept its first session.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The container manager's check interval on both servers: a day.
pub const CONTAINER_CHECK_INTERVAL_MS: u64 = 86_400_000;

const JAVA_CLASSPATH: &[&str] = &[
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
const JAVA_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// Which server: two pairs of a Java reference and zkserver in that generation's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// Debian's Java ZooKeeper 3.8.0.
    Java,
    /// zkserver with `compat.version=3.8`.
    Zkrs,
    /// Java ZooKeeper 3.9.3.
    Java39,
    /// zkserver with `compat.version=3.9`.
    Zkrs39,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Java => "java",
            Impl::Zkrs => "zkrs",
            Impl::Java39 => "java39",
            Impl::Zkrs39 => "zkrs39",
        }
    }

    pub fn is_java(self) -> bool {
        matches!(self, Impl::Java | Impl::Java39)
    }
}

/// Where tools/install-deps.sh keeps Java 3.9.3's jars: `$ZK_JAVA39_DIR`, or
/// `${XDG_CACHE_HOME:-$HOME/.cache}/zk-rs/java-3.9.3`.
pub fn java39_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ZK_JAVA39_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        });
    cache.join("zk-rs/java-3.9.3")
}

/// The Java 3.9.3 server's classpath (every jar but Curator's), or why there is none.
pub fn java39_classpath() -> Result<String, String> {
    let dir = java39_dir();
    let mut jars: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| {
            format!(
                "no Java 3.9.3 jars in {} ({e}): run tools/install-deps.sh",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".jar") && !name.starts_with("curator-")
        })
        .collect();
    jars.sort();
    if !jars.iter().any(|p| p.ends_with("zookeeper-3.9.3.jar")) {
        return Err(format!(
            "no zookeeper-3.9.3.jar in {}: run tools/install-deps.sh",
            dir.display()
        ));
    }
    Ok(jars
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":"))
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Impl {
    type Err = String;
    fn from_str(s: &str) -> Result<Impl, String> {
        match s {
            "java" => Ok(Impl::Java),
            "zkrs" | "ours" => Ok(Impl::Zkrs),
            "java39" => Ok(Impl::Java39),
            "zkrs39" => Ok(Impl::Zkrs39),
            _ => Err(format!(
                "unknown server implementation {s:?} (java, zkrs, java39 or zkrs39)"
            )),
        }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compat-tests has a parent directory")
        .to_path_buf()
}

/// `$ZKRS_BIN`, or `<workspace>/target/release/zkserver`.
pub fn zkrs_bin() -> PathBuf {
    match std::env::var_os("ZKRS_BIN") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("target/release/zkserver"),
    }
}

/// `$JAVA`, or `java` from the PATH.
pub fn java_bin() -> PathBuf {
    std::env::var_os("JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// A fresh directory under `$ZK_COMPAT_TMP` or the system temp directory.
fn fresh_dir(tag: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var_os("ZK_COMPAT_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "zk-compat-{tag}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(dir.join("data"))?;
    Ok(dir)
}

/// A running server. Killed (SIGKILL) and its directory removed on drop; set
/// `ZK_COMPAT_KEEP=1` to keep the directory (config, data, log) for inspection.
pub struct ServerProcess {
    pub imp: Impl,
    pub port: u16,
    pub dir: PathBuf,
    pub log_path: PathBuf,
    child: Child,
}

impl fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} server on 127.0.0.1:{} ({})",
            self.imp,
            self.port,
            self.dir.display()
        )
    }
}

impl ServerProcess {
    /// Start `imp` on a free port and wait (up to [`READY_TIMEOUT`]) until a session can be
    /// established. The error carries the tail of the server's log.
    pub fn start(imp: Impl) -> Result<ServerProcess, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = crate::ports::free_port().map_err(|e| format!("no free port: {e}"))?;
            match Self::start_on(imp, port) {
                Ok(s) => return Ok(s),
                Err(e) if e.contains("in use") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Start `imp` on `port`.
    pub fn start_on(imp: Impl, port: u16) -> Result<ServerProcess, String> {
        let dir = fresh_dir(imp.name()).map_err(|e| format!("temp dir: {e}"))?;
        let data = dir.join("data");
        let cfg_path = dir.join("zoo.cfg");
        let mut cfg = format!(
            "tickTime=2000\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             extendedTypesEnabled=true\n\
             znode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}\n",
            data.display()
        );
        match imp {
            Impl::Zkrs => cfg.push_str("compat.version=3.8\n"),
            Impl::Zkrs39 => cfg.push_str("compat.version=3.9\n"),
            Impl::Java | Impl::Java39 => {}
        }
        fs::write(&cfg_path, cfg).map_err(|e| format!("writing {}: {e}", cfg_path.display()))?;
        let log_path = dir.join("server.log");
        let mut cmd;
        match imp {
            Impl::Java | Impl::Java39 => {
                let (classpath, logging) = if imp == Impl::Java39 {
                    let conf = dir.join("log4j2.properties");
                    fs::write(
                        &conf,
                        format!(
                            "rootLogger.level = INFO\n\
                             rootLogger.appenderRef.file.ref = FILE\n\
                             appender.file.type = File\n\
                             appender.file.name = FILE\n\
                             appender.file.fileName = {}\n\
                             appender.file.append = true\n\
                             appender.file.layout.type = PatternLayout\n\
                             appender.file.layout.pattern = %d{{ISO8601}} - %-5p [%t:%C{{1}}@%L] - %m%n\n",
                            log_path.display()
                        ),
                    )
                    .map_err(|e| format!("writing {}: {e}", conf.display()))?;
                    (
                        java39_classpath()?,
                        format!("-Dlog4j2.configurationFile=file:{}", conf.display()),
                    )
                } else {
                    let log4j = dir.join("log4j.properties");
                    fs::write(
                        &log4j,
                        format!(
                            "log4j.rootLogger=INFO, FILE\n\
                             log4j.appender.FILE=org.apache.log4j.FileAppender\n\
                             log4j.appender.FILE.File={}\n\
                             log4j.appender.FILE.Append=true\n\
                             log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n\
                             log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} - %-5p [%t:%C{{1}}@%L] - %m%n\n",
                            log_path.display()
                        ),
                    )
                    .map_err(|e| format!("writing {}: {e}", log4j.display()))?;
                    (
                        JAVA_CLASSPATH.join(":"),
                        format!("-Dlog4j.configuration=file:{}", log4j.display()),
                    )
                };
                cmd = Command::new(java_bin());
                cmd.arg("-Xmx256m")
                    .arg("-cp")
                    .arg(classpath)
                    .arg(logging)
                    .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
                    .arg("-Dzookeeper.extendedTypesEnabled=true")
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("-Dzookeeper.jmx.log4j.disable=true")
                    .arg(format!(
                        "-Dznode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}"
                    ))
                    .arg(JAVA_MAIN)
                    .arg(&cfg_path);
            }
            Impl::Zkrs | Impl::Zkrs39 => {
                let bin = zkrs_bin();
                if !bin.exists() {
                    return Err(format!(
                        "zkserver binary {} does not exist: build it with \
                         `cargo build --release --bin zkserver` (tools/test.sh does) or set ZKRS_BIN",
                        bin.display()
                    ));
                }
                cmd = Command::new(bin);
                cmd.arg(&cfg_path);
                if std::env::var_os("RUST_LOG").is_none() {
                    cmd.env("RUST_LOG", "info");
                }
            }
        }
        let out_name = if imp.is_java() {
            "stdout.log"
        } else {
            "server.log"
        };
        let out = fs::File::create(dir.join(out_name)).map_err(|e| format!("log file: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("log file: {e}"))?;
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("{imp} server failed to start ({cmd:?}): {e}"))?;
        let mut server = ServerProcess {
            imp,
            port,
            dir,
            log_path,
            child,
        };
        server.wait_ready(READY_TIMEOUT)?;
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Poll until a session can be established (and is closed again cleanly), the process
    /// exits, or `timeout` passes.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last_error = "port never opened".to_string();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(&format!("process exited with {status}")));
            }
            match Client::connect(self.addr(), 30_000, Duration::from_secs(5)) {
                Ok(mut c) => {
                    // Close the probe session: left open it would expire mid-run and take a
                    // zxid at an arbitrary moment.
                    match c.ping().and_then(|_| c.close_session()) {
                        Ok(_) => return Ok(()),
                        Err(e) => last_error = format!("probe session: {e}"),
                    }
                }
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(self.failure(&format!(
            "no session established within {}s ({last_error})",
            timeout.as_secs()
        )))
    }

    fn failure(&self, why: &str) -> String {
        let mut msg = format!(
            "{} server failed to start on {}: {why}\n--- tail of {} ---\n{}",
            self.imp,
            self.addr(),
            self.log_path.display(),
            tail(&self.log_path, 40)
        );
        if self.imp.is_java() {
            let p = self.dir.join("stdout.log");
            msg.push_str(&format!(
                "\n--- tail of {} ---\n{}",
                p.display(),
                tail(&p, 15)
            ));
        }
        msg
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("ZK_COMPAT_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The last `lines` lines of a file (reads at most its last 64 KiB).
pub fn tail(path: &Path, lines: usize) -> String {
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("(no log file at {}: {e})", path.display()),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return format!("(log file {} is empty)", path.display());
    }
    all[all.len().saturating_sub(lines)..].join("\n")
}
