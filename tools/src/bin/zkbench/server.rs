//! Starting and stopping the servers under test (Java 3.8 and zkserver), each on a free
//! 127.0.0.1 port with a fresh data folder and the same zoo.cfg, alone or as an `Ensemble` of
//! nodes; and a loopback echo server that speaks just enough of the protocol to be driven by the
//! same client code.

use crate::proto;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Java,
    Zkrs,
}

impl Impl {
    pub fn name(&self) -> &'static str {
        match self {
            Impl::Java => "java",
            Impl::Zkrs => "zkrs",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub java: String,
    pub java_cp: String,
    pub java_opts: Vec<String>,
    pub zkrs_bin: PathBuf,
    /// Extra zoo.cfg lines for both servers.
    pub extra_cfg: Vec<String>,
    /// Extra environment variables of the server processes (e.g. `LD_PRELOAD`).
    pub env: Vec<(String, String)>,
}

pub struct Server {
    pub imp: Impl,
    pub addr: String,
    pub dir: PathBuf,
    child: Child,
}

pub fn free_port() -> io::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports (all bound at the same time, then released).
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let ls = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    ls.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// A fresh temp folder for one server instance.
pub fn fresh_dir(tag: &str) -> io::Result<PathBuf> {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("zkbench-{}-{n}-{tag}", std::process::id()));
    if d.exists() {
        fs::remove_dir_all(&d)?;
    }
    fs::create_dir_all(d.join("data"))?;
    Ok(d)
}

pub fn zoo_cfg(dir: &Path, port: u16, extra: &[String]) -> String {
    let mut s = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
         clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nforceSync=yes\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        dir.join("data").display()
    );
    for l in extra {
        s.push_str(l);
        s.push('\n');
    }
    s
}

impl Server {
    /// Start `imp` on a new free port over `dir` (whose `data/` may hold an earlier run's state).
    pub fn start(spec: &Spec, imp: Impl, dir: &Path) -> io::Result<Server> {
        Server::start_on(spec, imp, dir, free_port()?, &[])
    }

    /// Start `imp` on client port `port` over `dir`; `quorum` lines (`server.N=…`) are added
    /// to the zoo.cfg.
    fn start_on(
        spec: &Spec,
        imp: Impl,
        dir: &Path,
        port: u16,
        quorum: &[String],
    ) -> io::Result<Server> {
        let cfg_path = dir.join("zoo.cfg");
        let lines: Vec<String> = spec.extra_cfg.iter().chain(quorum).cloned().collect();
        fs::write(&cfg_path, zoo_cfg(dir, port, &lines))?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))?;
        let mut cmd = match imp {
            Impl::Java => {
                let mut c = Command::new(&spec.java);
                c.args(&spec.java_opts)
                    .arg("-cp")
                    .arg(&spec.java_cp)
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(&cfg_path);
                c
            }
            Impl::Zkrs => {
                let mut c = Command::new(&spec.zkrs_bin);
                c.arg(&cfg_path);
                if std::env::var_os("RUST_LOG").is_none() {
                    c.env("RUST_LOG", "warn");
                }
                c
            }
        };
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", imp.name())))?;
        Ok(Server {
            imp,
            addr: format!("127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error if the process has exited.
    fn check_running(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            Some(st) => Err(io::Error::other(format!(
                "{} exited during startup ({st}); see {}",
                self.imp.name(),
                self.dir.join("server.log").display()
            ))),
            None => Ok(()),
        }
    }

    /// The `Mode:` line of the `srvr` four-letter word (`leader`, `follower`, `standalone`), if
    /// the server answers with one.
    pub async fn mode(&self) -> Option<String> {
        let text = proto::four_letter(&self.addr, "srvr", Duration::from_secs(2))
            .await
            .ok()?;
        let m = text.lines().find_map(|l| l.strip_prefix("Mode: "))?;
        Some(m.trim().to_string())
    }

    /// Poll until a new session gets an answer to getData("/"). Returns the time waited.
    pub async fn wait_serving(&mut self, timeout: Duration) -> io::Result<Duration> {
        let addr = self.addr.clone();
        let every = Duration::from_millis(2);
        proto::wait_for_path(&addr, "/", timeout, every, || self.check_running())
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::TimedOut => io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} not serving after {timeout:?}", self.imp.name()),
                ),
                _ => e,
            })
    }

    /// Resident set size in KiB (VmRSS), and the peak (VmHWM).
    pub fn rss_kb(&self) -> Option<(u64, u64)> {
        let s = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The servers of one run: a standalone server (one node), or an ensemble of n nodes with
/// myid 1..=n, each in its own fresh folder with `data/myid` and a zoo.cfg of `zoo_cfg`'s lines
/// plus `server.N=127.0.0.1:QPORT:EPORT` for every node (all ports distinct and free).
/// Dropping it kills every node.
pub struct Ensemble {
    pub nodes: Vec<Server>,
    /// Index in `nodes` of the leader, once `wait_serving` has seen one (ensembles only).
    pub leader: Option<usize>,
}

impl Ensemble {
    pub fn start(spec: &Spec, imp: Impl, n: usize) -> io::Result<Ensemble> {
        let mut nodes = Vec::with_capacity(n);
        if n <= 1 {
            nodes.push(Server::start(spec, imp, &fresh_dir(imp.name())?)?);
        } else {
            let ports = free_ports(3 * n)?;
            let quorum: Vec<String> = (0..n)
                .map(|i| {
                    let (q, e) = (ports[3 * i + 1], ports[3 * i + 2]);
                    format!("server.{}=127.0.0.1:{q}:{e}", i + 1)
                })
                .collect();
            for i in 0..n {
                let dir = fresh_dir(&format!("{}-{}", imp.name(), i + 1))?;
                fs::write(dir.join("data").join("myid"), format!("{}\n", i + 1))?;
                nodes.push(Server::start_on(spec, imp, &dir, ports[3 * i], &quorum)?);
            }
        }
        Ok(Ensemble {
            nodes,
            leader: None,
        })
    }

    /// Wait until, for an ensemble, `srvr` shows exactly one leader and the rest followers,
    /// and then until a new session on every node gets an answer. Returns the time waited.
    pub async fn wait_serving(&mut self, timeout: Duration) -> io::Result<Duration> {
        let t0 = Instant::now();
        if self.nodes.len() > 1 {
            self.leader = Some(self.wait_leader(timeout).await?);
        }
        for n in &mut self.nodes {
            n.wait_serving(timeout.saturating_sub(t0.elapsed())).await?;
        }
        Ok(t0.elapsed())
    }

    async fn wait_leader(&mut self, timeout: Duration) -> io::Result<usize> {
        let t0 = Instant::now();
        loop {
            let mut modes = Vec::with_capacity(self.nodes.len());
            for n in &mut self.nodes {
                n.check_running()?;
                modes.push(n.mode().await);
            }
            let is = |m: &Option<String>, what: &str| m.as_deref() == Some(what);
            let leaders: Vec<usize> = (0..modes.len())
                .filter(|&i| is(&modes[i], "leader"))
                .collect();
            if leaders.len() == 1 && modes.iter().all(|m| is(m, "leader") || is(m, "follower")) {
                return Ok(leaders[0]);
            }
            if t0.elapsed() > timeout {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} ensemble: no single leader with followers after {timeout:?} (modes {modes:?})",
                        self.nodes[0].imp.name()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The nodes' client addresses.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(Server::pid).collect()
    }

    /// Whether every node is still running.
    pub fn alive(&mut self) -> bool {
        self.nodes.iter_mut().all(Server::alive)
    }

    /// SIGKILL and reap every node.
    pub fn kill(&mut self) {
        self.nodes.iter_mut().for_each(Server::kill);
    }
}

/// A loopback server on its own thread that answers the handshake with a valid
/// ConnectResponse and every request frame with a reply header carrying the request's xid,
/// padded to `reply_len` bytes (the size of a getData reply). One thread per connection,
/// blocking IO: the cost of a bare TCP round trip between two processes' worth of threads.
pub fn start_echo(reply_len: usize) -> io::Result<String> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?.to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            std::thread::spawn(move || {
                let _ = echo_conn(s, reply_len.max(16));
            });
        }
    });
    Ok(addr)
}

fn echo_conn(mut s: TcpStream, reply_len: usize) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut inbuf = vec![0u8; 65536];
    let mut have = 0usize;
    let mut out = Vec::with_capacity(65536);
    let mut handshake = true;
    loop {
        let n = s.read(&mut inbuf[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        let mut off = 0;
        let mut close = false;
        while have - off >= 4 {
            let len = i32::from_be_bytes(inbuf[off..off + 4].try_into().unwrap()) as usize;
            if len > inbuf.len() - 4 {
                return Ok(());
            }
            if have - off - 4 < len {
                break;
            }
            let body = &inbuf[off + 4..off + 4 + len];
            if handshake {
                handshake = false;
                // protocolVersion, timeOut, sessionId, passwd(16), readOnly
                out.extend_from_slice(&37i32.to_be_bytes());
                out.extend_from_slice(&0i32.to_be_bytes());
                out.extend_from_slice(&30_000i32.to_be_bytes());
                out.extend_from_slice(&1i64.to_be_bytes());
                out.extend_from_slice(&16i32.to_be_bytes());
                out.extend_from_slice(&[0u8; 16]);
                out.push(0);
            } else if body.len() >= 8 {
                let xid = &body[0..4];
                let op = i32::from_be_bytes(body[4..8].try_into().unwrap());
                out.extend_from_slice(&(reply_len as i32).to_be_bytes());
                out.extend_from_slice(xid);
                out.extend_from_slice(&0i64.to_be_bytes());
                out.extend_from_slice(&0i32.to_be_bytes());
                out.resize(out.len() + reply_len - 16, 0);
                close |= op == jute::ops::CLOSE_SESSION;
            }
            off += 4 + len;
        }
        inbuf.copy_within(off..have, 0);
        have -= off;
        if !out.is_empty() {
            s.write_all(&out)?;
            out.clear();
        }
        if close {
            return Ok(());
        }
    }
}
