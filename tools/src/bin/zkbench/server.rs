//! Starting and stopping the servers under test (Java 3.8 and zkserver), each on a free
//! 127.0.0.1 port with a fresh data folder and the same zoo.cfg; and a loopback echo server that
//! speaks just enough of the protocol to be driven by the same client code.

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
}

pub struct Server {
    pub imp: Impl,
    pub addr: String,
    pub dir: PathBuf,
    child: Child,
}

pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
        let port = free_port()?;
        let cfg_path = dir.join("zoo.cfg");
        fs::write(&cfg_path, zoo_cfg(dir, port, &spec.extra_cfg))?;
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

    /// Poll until a new session gets an answer to getData("/"). Returns the time waited.
    pub async fn wait_serving(&mut self, timeout: Duration) -> io::Result<Duration> {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited during startup ({st}); see {}",
                    self.imp.name(),
                    self.dir.join("server.log").display()
                )));
            }
            if let Ok(0) = proto::probe_get(&self.addr, "/", Duration::from_secs(2)).await {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > timeout {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} not serving after {timeout:?}", self.imp.name()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
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
