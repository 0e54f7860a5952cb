//! A Java ZooKeeper 3.8 ensemble on 127.0.0.1 for the ZAB interop tests: `server.1..N` lines
//! for every member, but only the Java members are started; the others are ours (their
//! quorum and election ports are reserved in the config and left to the test).

use super::client::{four_letter, srvr_zxid};
use compat_tests::ports::test_port;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLASSPATH: &[&str] = &[
    "/etc/zookeeper/conf",
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// tickTime of the test ensembles: short, so that syncLimit (5 ticks) is 2.5 s.
pub const TICK_MS: u64 = 500;
pub const INIT_LIMIT: u32 = 10;
pub const SYNC_LIMIT: u32 = 5;

/// Panic with a clear message when Java ZooKeeper is not installed.
pub fn require_java() {
    let java_ok = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        java_ok,
        "these tests need Java (`java` on the PATH): apt-get install default-jdk-headless"
    );
    for jar in &CLASSPATH[1..] {
        assert!(
            Path::new(jar).exists(),
            "these tests need Java ZooKeeper 3.8: {jar} is missing (apt-get install zookeeper)"
        );
    }
}

pub struct Member {
    pub sid: i64,
    pub quorum_port: u16,
    pub election_port: u16,
    pub client_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Member {
    pub fn client_addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.client_port).into()
    }
    pub fn quorum_addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.quorum_port).into()
    }
    pub fn is_java(&self) -> bool {
        self.child.is_some()
    }
    /// The `srvr` answer, if the node answers.
    pub fn srvr(&self) -> Option<String> {
        four_letter(self.client_addr(), "srvr").ok()
    }
    pub fn mode(&self) -> Option<String> {
        let s = self.srvr()?;
        let l = s.lines().find(|l| l.starts_with("Mode: "))?;
        Some(l.trim_start_matches("Mode: ").trim().to_string())
    }
    pub fn zxid(&self) -> Option<i64> {
        srvr_zxid(&self.srvr()?)
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default()
    }
    /// SIGKILL the Java process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Ensemble {
    pub root: PathBuf,
    pub members: Vec<Member>,
}

impl Ensemble {
    /// Members 1..=n, all participants; the ones in `ours` are not started.
    pub fn start(tag: &str, n: i64, ours: &[i64]) -> Ensemble {
        Ensemble::start_with(tag, n, ours, &[])
    }

    /// Members 1..=n, those in `observers` as observers (`server.N=...:observer`); the ones
    /// in `ours` are not started.
    pub fn start_with(tag: &str, n: i64, ours: &[i64], observers: &[i64]) -> Ensemble {
        require_java();
        let root = std::env::temp_dir().join(format!(
            "zab-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        let _ = std::fs::remove_dir_all(&root);
        let mut members: Vec<Member> = (1..=n)
            .map(|sid| Member {
                sid,
                quorum_port: test_port(),
                election_port: test_port(),
                client_port: test_port(),
                dir: root.join(format!("node{sid}")),
                child: None,
            })
            .collect();
        let servers: String = members
            .iter()
            .map(|m| {
                let role = if observers.contains(&m.sid) {
                    ":observer"
                } else {
                    ""
                };
                format!(
                    "server.{}=127.0.0.1:{}:{}{role}\n",
                    m.sid, m.quorum_port, m.election_port
                )
            })
            .collect();
        for m in members.iter_mut() {
            std::fs::create_dir_all(m.dir.join("data")).unwrap();
            std::fs::write(m.dir.join("data/myid"), format!("{}\n", m.sid)).unwrap();
            if ours.contains(&m.sid) {
                continue;
            }
            let cfg = format!(
                "tickTime={TICK_MS}\ninitLimit={INIT_LIMIT}\nsyncLimit={SYNC_LIMIT}\n\
                 dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
                 maxSessionTimeout=120000\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                 {servers}",
                m.dir.join("data").display(),
                m.client_port
            );
            std::fs::write(m.dir.join("zoo.cfg"), cfg).unwrap();
            std::fs::write(
                m.dir.join("log4j.properties"),
                format!(
                    "log4j.rootLogger=INFO, FILE\n\
                     log4j.appender.FILE=org.apache.log4j.FileAppender\n\
                     log4j.appender.FILE.File={}\n\
                     log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n\
                     log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} [myid:{}] - %-5p [%t:%C{{1}}@%L] - %m%n\n",
                    m.dir.join("zookeeper.log").display(),
                    m.sid
                ),
            )
            .unwrap();
            let out = std::fs::File::create(m.dir.join("stdout.log")).unwrap();
            let child = Command::new("java")
                .arg("-Xmx256m")
                .arg("-cp")
                .arg(CLASSPATH.join(":"))
                .arg(format!(
                    "-Dlog4j.configuration=file:{}",
                    m.dir.join("log4j.properties").display()
                ))
                .arg("-Dzookeeper.extendedTypesEnabled=true")
                .arg("-Dzookeeper.admin.enableServer=false")
                .arg("-Dzookeeper.jmx.log4j.disable=true")
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(m.dir.join("zoo.cfg"))
                .current_dir(&m.dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start java");
            m.child = Some(child);
        }
        Ensemble { root, members }
    }

    pub fn member(&self, sid: i64) -> &Member {
        &self.members[(sid - 1) as usize]
    }

    pub fn member_mut(&mut self, sid: i64) -> &mut Member {
        &mut self.members[(sid - 1) as usize]
    }

    /// Wait until one Java member leads and every other Java member follows; the leader's sid.
    pub fn wait_for_leader(&self, timeout: Duration) -> i64 {
        let end = Instant::now() + timeout;
        loop {
            let modes: Vec<(i64, Option<String>)> = self
                .members
                .iter()
                .filter(|m| m.is_java())
                .map(|m| (m.sid, m.mode()))
                .collect();
            let leaders: Vec<i64> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(s, _)| *s)
                .collect();
            let followers = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("follower"))
                .count();
            if leaders.len() == 1 && followers + 1 == modes.len() {
                return leaders[0];
            }
            if Instant::now() > end {
                panic!(
                    "no leader among the Java members after {timeout:?}: {modes:?}\n{}",
                    self.logs_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The tail of every Java member's log, for failure messages.
    pub fn logs_tail(&self) -> String {
        let mut s = String::new();
        for m in &self.members {
            let log = m.log();
            let lines: Vec<&str> = log.lines().collect();
            let from = lines.len().saturating_sub(40);
            s.push_str(&format!(
                "---- node {} ----\n{}\n",
                m.sid,
                lines[from..].join("\n")
            ));
        }
        s
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for m in self.members.iter_mut() {
            m.kill();
        }
        if std::env::var_os("ZAB_KEEP").is_none() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
