"""Start a Java ZooKeeper server (3.8.0 or 3.9.3) or zk-rs's zkserver on a free local port.

Stable API (other suites build on it):

    free_port() -> int
    start_server(impl, tmp_path, extra_cfg=None, port=None) -> Server
    class Server:
        impl, host, port, data_dir, proc, connect_string   (attributes)
        cfg_path, log_path, workdir                          (attributes)
        stop(); kill(); restart(); four_letter(cmd) -> str
        client(**kazoo_kwargs) -> started KazooClient        (helper)
        start(wait=True); wait_ready(); check_alive(); running  (helpers)
    ServerStartError  (raised when a server does not become ready)
    ServerDiedError   (check_alive: the process exited under the tests)

Ensembles and test helpers:

    class Ensemble(tmp, n=3, tick=1000, sync_limit=5, extra=None, observers=())
        servers, ports, base (attributes); start(sid, impl); start_all({sid: impl});
        wait_ready(); leader(); connect_string; kill_all(); a context manager (kills all)
    mode(server) -> "leader" | "follower" | ... | None   (from `srvr`)
    wait_for(cond, timeout=30, what=...)   close_clients(*zks)
    selected_impls()   needs_impls(*impls) -> pytest skip mark

`impl` is one of IMPLS, two pairs of a reference and ours:
    "java"    Debian's Java ZooKeeper 3.8.0        "zkrs"    zkserver with compat.version=3.8
    "java39"  Java ZooKeeper 3.9.3 (PyPI jars)     "zkrs39"  zkserver with compat.version=3.9
REFERENCE maps each of ours to the Java it must match; version(impl) and is_java(impl)
let a test state what each generation answers. Every server runs with extended types
(TTL nodes) enabled, the four-letter words whitelisted and the AdminServer disabled
(extra_cfg=admin_cfg(port) enables it).
Readiness means a real session can be established, not just an open port.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import logging
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPLS = ("java", "zkrs", "java39", "zkrs39")
JAVA_IMPLS = ("java", "java39")
REFERENCE = {"zkrs": "java", "zkrs39": "java39"}
VERSION = {"java": (3, 8, 0), "zkrs": (3, 8, 0), "java39": (3, 9, 3), "zkrs39": (3, 9, 3)}
ZKRS_COMPAT = {"zkrs": "3.8", "zkrs39": "3.9"}
HOST = "127.0.0.1"
READY_TIMEOUT = float(os.environ.get("ZK_READY_TIMEOUT", "30"))

JAVA_BIN = os.environ.get("JAVA", "/usr/bin/java")
JAVA_CLASSPATH = [
    "/usr/share/java/zookeeper.jar",  # its manifest pulls in jute, netty, metrics, ...
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    # Debian's manifest lists netty-handler but not netty-codec, which its SslHandler extends:
    # without it a TLS quorum port (UnifiedServerSocket asks SslHandler.isEncrypted) dies on
    # the first connection with a NoClassDefFoundError that the listener's executor swallows.
    "/usr/share/java/netty-codec.jar",
]
JAVA_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
# Jetty 9.4 and Jackson from Debian (jetty9, libjackson2-*): Java's AdminServer needs them,
# 3.8.0's and 3.9.3's alike; only on the class path of a server started with admin_cfg().
ADMIN_JARS = ["/usr/share/java/%s.jar" % j for j in (
    "jetty9-server", "jetty9-servlet", "jetty9-security", "jetty9-util", "jetty9-io",
    "jetty9-http", "jetty9-util-ajax", "servlet-api", "jackson-core", "jackson-databind",
    "jackson-annotations")]

# Java 3.9.3's jars, fetched by tools/install-deps.sh (from PyPI's pyspark==4.0.1).
JAVA39_DIR = Path(os.environ.get("ZK_JAVA39_DIR") or Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zk-rs" / "java-3.9.3")


def java39_classpath(curator: bool = False) -> List[str]:
    """The 3.9.3 server's classpath (with Curator 5.7.1 when `curator`)."""
    jars = sorted(JAVA39_DIR.glob("*.jar"))
    return [str(j) for j in jars if curator or not j.name.startswith("curator-")]


def admin_cfg(port: int) -> Dict[str, str]:
    """extra_cfg enabling the AdminServer on 127.0.0.1:`port` (Java: with ADMIN_JARS)."""
    return {"admin.enableServer": "true", "admin.serverAddress": HOST,
            "admin.serverPort": str(port)}


def is_java(impl: str) -> bool:
    return impl in JAVA_IMPLS


def version(impl: str):
    """The ZooKeeper version whose behaviour `impl` has, as a tuple: (3, 8, 0) or (3, 9, 3)."""
    return VERSION[impl]


def at_least(impl: str, *v) -> bool:
    """Whether `impl` behaves as ZooKeeper `v` (e.g. at_least(impl, 3, 9)) or newer."""
    return VERSION[impl] >= tuple(v)

LOG4J2_PROPERTIES = """\
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {path}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{ISO8601}} - %-5p [%t:%C{{1}}@%L] - %m%n
"""

LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File={path}
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} - %-5p [%t:%C{{1}}@%L] - %m%n
"""

_handed_out_ports = set()
_live_servers = []


class ServerStartError(RuntimeError):
    """The server process did not start or did not accept a session in time."""


class ServerDiedError(RuntimeError):
    """The server process exited while tests were using it."""


def zkrs_bin() -> Path:
    return Path(os.environ.get("ZKRS_BIN", REPO_ROOT / "target" / "release" / "zkserver"))


# Test ports come from below the kernel's ephemeral range: a port found by binding port 0
# and closing it is in that range, where any outgoing connection of a parallel test (a
# client, a Java server's peer connections) may take it as its local port before the
# server under test binds it, and that server then exits with "Address already in use".
# Below the range only explicit binds take ports. Each port handed out is reserved against
# the other processes of the suite (pytest workers, cargo test binaries: the same scheme in
# compat-tests/src/ports.rs) by an flock on PORT_LOCK_DIR/<port>, held by this process.
PORT_LOCK_DIR = Path("/tmp/zkrs-test-ports")
PORT_LOW = 10000
# Reservations of single ports kept per process; the oldest is let go (its server has long
# bound it, or it was never used).
_PORT_LOCKS_KEPT = 256
_port_locks = collections.OrderedDict()
_port_rng = random.Random()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def reserve_port(port: int):
    """An flock held on `port` for this process, if no other process holds one and the port
    can be bound now; else None."""
    if port in _handed_out_ports:
        return None
    PORT_LOCK_DIR.mkdir(parents=True, exist_ok=True)
    f = open(PORT_LOCK_DIR / str(port), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    if not _bindable(port):
        f.close()
        return None
    _handed_out_ports.add(port)
    return f


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below the ephemeral range, reserved for this process
    (never the same one twice per process)."""
    high = _ephemeral_low()
    for _ in range(1000):
        port = _port_rng.randrange(PORT_LOW, high)
        lock = reserve_port(port)
        if lock is not None:
            _port_locks[port] = lock
            while len(_port_locks) > _PORT_LOCKS_KEPT:
                _port_locks.popitem(last=False)[1].close()
            return port
    raise RuntimeError("could not find a free port")


def free_port_block(size: int) -> int:
    """A base port with `size` free ports after it, each reserved for as long as this process
    lives (for harnesses that bind base+k themselves, such as kazoo.testing)."""
    high = _ephemeral_low()
    for _ in range(200):
        base = _port_rng.randrange(PORT_LOW, high - size)
        locks = []
        for p in range(base, base + size):
            lock = reserve_port(p)
            if lock is None:
                break
            locks.append(lock)
        if len(locks) == size:
            _block_locks.extend(locks)
            return base
        for p, lock in zip(range(base, base + size), locks):
            lock.close()
            _handed_out_ports.discard(p)
    raise RuntimeError("no block of %d free ports" % size)


_block_locks = []


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def four_letter(host: str, port: int, cmd: str, timeout: float = 10.0) -> str:
    """Send a four-letter word and return everything the server answers until it closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode("ascii"))
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log file at %s)" % path
    return "\n".join(text.splitlines()[-lines:]) or "(log file %s is empty)" % path


class Server:
    def __init__(self, impl: str, workdir: Path, port: int, extra_cfg: Optional[Dict] = None,
                 myid: Optional[int] = None):
        if impl not in IMPLS:
            raise ValueError("impl must be one of %s, not %r" % (IMPLS, impl))
        self.impl = impl
        self.host = HOST
        self.port = port
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "server.log"
        self.extra_cfg = dict(extra_cfg or {})
        self.myid = myid
        self.proc: Optional[subprocess.Popen] = None
        self.connect_string = "%s:%d" % (self.host, self.port)
        self._write_config()

    # -- configuration -------------------------------------------------------------------
    def cfg(self) -> Dict[str, str]:
        cfg = {
            "tickTime": "2000",
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            # Java turns unknown keys into zookeeper.* system properties; ours reads it.
            "extendedTypesEnabled": "true",
        }
        if self.impl in ZKRS_COMPAT:
            cfg["compat.version"] = ZKRS_COMPAT[self.impl]
        for k, v in self.extra_cfg.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = str(v)
        return cfg

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.myid is not None:
            (self.data_dir / "myid").write_text("%d\n" % self.myid)
        self.cfg_path.write_text("".join("%s=%s\n" % kv for kv in self.cfg().items()))
        if self.impl == "java":
            (self.workdir / "log4j.properties").write_text(
                LOG4J_PROPERTIES.format(path=self.log_path))
        if self.impl == "java39":
            (self.workdir / "log4j2.properties").write_text(
                LOG4J2_PROPERTIES.format(path=self.log_path))

    # -- process control -----------------------------------------------------------------
    def _command(self):
        if is_java(self.impl):
            if self.impl == "java39":
                if not (JAVA39_DIR / "zookeeper-3.9.3.jar").exists():
                    raise ServerStartError(
                        "java39 server failed to start: no Java 3.9.3 jars in %s "
                        "(run tools/install-deps.sh or set ZK_JAVA39_DIR)" % JAVA39_DIR)
                classpath = java39_classpath()
                logging_conf = "-Dlog4j2.configurationFile=file:%s" % (
                    self.workdir / "log4j2.properties")
            else:
                classpath = JAVA_CLASSPATH
                logging_conf = "-Dlog4j.configuration=file:%s" % (
                    self.workdir / "log4j.properties")
            admin = self.cfg().get("admin.enableServer") == "true"
            if admin:
                classpath = classpath + ADMIN_JARS
            return [
                JAVA_BIN,
                # ZK_JAVA_XMX: a bigger heap for benchmarks that load millions of znodes
                "-Xmx" + os.environ.get("ZK_JAVA_XMX", "256m"),
                "-cp", ":".join(classpath),
                logging_conf,
                "-Dzookeeper.log.dir=%s" % self.workdir,
                "-Dzookeeper.extendedTypesEnabled=true",
                "-Dzookeeper.admin.enableServer=%s" % ("true" if admin else "false"),
                "-Dzookeeper.jmx.log4j.disable=true",
            ] + [
                # Settings Java reads only as JVM system properties (zkserver reads them from
                # zoo.cfg): pass them both ways.
                "-D%s=%s" % (k, v) for k, v in self.cfg().items()
                if k.startswith(("znode.", "readonlymode.", "java.security."))
            ] + [
                JAVA_MAIN,
                str(self.cfg_path),
            ]
        binary = zkrs_bin()
        if not binary.exists():
            raise ServerStartError(
                "zkrs server failed to start: binary %s does not exist "
                "(build it with `cargo build --release --bin zkserver` or set ZKRS_BIN)" % binary)
        return [str(binary), str(self.cfg_path)]

    def start(self, wait: bool = True, timeout: float = READY_TIMEOUT) -> "Server":
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        cmd = self._command()
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        out = open(self.workdir / ("stdout.log" if is_java(self.impl) else "server.log"), "ab")
        try:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT)
        except OSError as e:
            raise ServerStartError("%s server failed to start: %s" % (self.impl, e)) from e
        finally:
            out.close()
        _live_servers.append(self)
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self.kill()
                raise
        return self

    def _failure(self, why: str) -> ServerStartError:
        msg = ["%s server failed to start on %s: %s" % (self.impl, self.connect_string, why),
               "command: %s" % " ".join(self._command()),
               "--- tail of %s ---" % self.log_path, _tail(self.log_path)]
        if is_java(self.impl):
            msg += ["--- tail of stdout.log ---", _tail(self.workdir / "stdout.log", 15)]
        return ServerStartError("\n".join(msg))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll until a session can be established, the process dies, or `timeout` passes."""
        from kazoo.client import KazooClient

        deadline = time.monotonic() + timeout
        last_error = "port never opened"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise self._failure("process exited with code %s" % rc)
            if not _port_open(self.host, self.port):
                time.sleep(0.1)
                continue
            remaining = max(1.0, min(5.0, deadline - time.monotonic()))
            zk = KazooClient(hosts=self.connect_string, timeout=remaining,
                             logger=_quiet_logger())
            try:
                zk.start(timeout=remaining)
                zk.get("/")
                return
            except Exception as e:  # noqa: BLE001 -- anything means "not ready yet"
                last_error = "%s: %s" % (type(e).__name__, e)
                time.sleep(0.2)
            finally:
                try:
                    zk.stop()
                    zk.close()
                except Exception:  # noqa: BLE001
                    pass
        raise self._failure("no session established within %.0fs (%s)" % (timeout, last_error))

    def _wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_exit(timeout):
            self.kill()
        self._forget()

    def kill(self) -> None:
        """SIGKILL (a crash: nothing is flushed)."""
        if self.proc is None or self.proc.poll() is not None:
            self._forget()
            return
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self._wait_exit(10.0)
        self._forget()

    def _forget(self) -> None:
        if self in _live_servers:
            _live_servers.remove(self)

    def restart(self, wait: bool = True, timeout: float = READY_TIMEOUT) -> "Server":
        """Stop gracefully and start again with the same config, port and data."""
        self.stop()
        self._write_config()
        return self.start(wait=wait, timeout=timeout)

    def check_alive(self) -> None:
        """Raise ServerDiedError (with the log tail) if the server process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            err = self._failure("process exited with code %s" % self.proc.returncode)
            raise ServerDiedError(str(err).replace("failed to start", "died", 1))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients -------------------------------------------------------------------------
    def four_letter(self, cmd: str) -> str:
        return four_letter(self.host, self.port, cmd)

    def client(self, timeout: float = 10.0, **kwargs):
        """A started kazoo client connected to this server (caller stops/closes it)."""
        from kazoo.client import KazooClient

        kwargs.setdefault("logger", _quiet_logger())
        zk = KazooClient(hosts=self.connect_string, timeout=timeout, **kwargs)
        zk.start(timeout=timeout)
        return zk

    def __repr__(self) -> str:
        return "Server(%s, %s)" % (self.impl, self.connect_string)


def start_server(impl: str, tmp_path, extra_cfg: Optional[Dict] = None, port: Optional[int] = None,
                 myid: Optional[int] = None, wait: bool = True) -> Server:
    """Write a zoo.cfg under tmp_path/<impl>-<port>/ and start that server.

    extra_cfg entries are added to (or override; value None removes) the defaults.
    Waits (up to 30 s) until a real session can be established unless wait=False; raises
    ServerStartError with the tail of the server log otherwise. If the port was chosen
    here and turns out to be taken, a few other ports are tried.
    """
    attempts = 1 if port is not None else 3
    last = None
    for _ in range(attempts):
        p = port if port is not None else free_port()
        server = Server(impl, Path(tmp_path) / ("%s-%d" % (impl, p)), p, extra_cfg, myid)
        try:
            return server.start(wait=wait)
        except ServerStartError as e:
            last = e
            if "Address already in use" not in str(e) and "AddrInUse" not in str(e):
                raise
    raise last


# -- ensembles and test helpers ------------------------------------------------------------------

def selected_impls() -> List[str]:
    """The implementations ZK_IMPLS names (default: all of IMPLS), in its order."""
    raw = os.environ.get("ZK_IMPLS", ",".join(IMPLS))
    return [i.strip() for i in raw.split(",") if i.strip()]


def pairs() -> List[tuple]:
    """(reference, ours) for each pair ZK_IMPLS selects both halves of: ("java", "zkrs"),
    ("java39", "zkrs39")."""
    chosen = selected_impls()
    return [(ref, ours) for ours, ref in REFERENCE.items() if ref in chosen and ours in chosen]


# (impl of one node, impl of the others): each server alone, then Java and zkserver mixed
# both ways, for 3.8 and for 3.9 (the cases of victim_cases in test_digest, test_expiry).
ALONE_AND_MIXED = [
    ("zkrs", "zkrs"),
    ("java", "java"),
    ("zkrs39", "zkrs39"),
    ("java39", "java39"),
    ("zkrs", "java"),
    ("java", "zkrs"),
    ("zkrs39", "java39"),
    ("java39", "zkrs39"),
]


def victim_cases(cases, id_format: str) -> list:
    """pytest params of the (victim impl, impl of the others) pairs in `cases` whose impls
    ZK_IMPLS selects, each named `id_format % (victim, others)`."""
    import pytest

    chosen = set(selected_impls())
    return [pytest.param(v, o, id=id_format % (v, o)) for v, o in cases if {v, o} <= chosen]


def needs_impls(*impls):
    """A pytest mark that skips a module or test unless ZK_IMPLS selects all of `impls`."""
    import pytest

    return pytest.mark.skipif(not set(impls) <= set(selected_impls()),
                              reason="needs " + " and ".join(impls))


def wait_for(cond, timeout: float = 30.0, what: str = "condition"):
    """Poll cond() every 0.2 s until it returns something true, and return that; an exception
    counts as "not yet". AssertionError (naming `what` and the last exception) on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


def mntr(server: Server) -> Dict[str, str]:
    """The server's `mntr` answer, key -> value."""
    out = {}
    for line in server.four_letter("mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def srvr_zxid(server: Server) -> int:
    """The `Zxid:` of the server's `srvr` answer."""
    for line in server.four_letter("srvr").splitlines():
        if line.startswith("Zxid: "):
            return int(line.split()[1], 16)
    raise AssertionError("no Zxid in srvr of %r" % server)


def mode(server: Server) -> Optional[str]:
    """The `Mode:` of the server's `srvr` answer (leader, follower, observer, standalone), or
    None when it has none (not serving) or cannot be reached."""
    try:
        out = server.four_letter("srvr")
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):]
    return None


def close_clients(*zks) -> None:
    """Stop and close kazoo clients, ignoring errors (for teardown)."""
    for zk in zks:
        try:
            zk.stop()
            zk.close()
        except Exception:  # noqa: BLE001
            pass


class Ensemble:
    """Quorum peers 1..n sharing one zoo.cfg base: the server.<sid> lines, tickTime, initLimit
    10, syncLimit, then `extra`; the `observers` are listed as :observer and get
    peerType=observer. Node sid lives in tmp/node-<sid> whatever its implementation, so it can
    be stopped and started again as the other one on the same config, data and myid.

    By default every node is on 127.0.0.1 with three free ports (client, quorum, election);
    a subclass places nodes elsewhere by overriding peer() and new_server().
    Used as a context manager, it kills every node on exit.
    """

    def __init__(self, tmp, n: int = 3, tick: int = 1000, sync_limit: int = 5,
                 extra: Optional[Dict] = None, observers=()):
        self.tmp = Path(tmp)
        self.observers = set(observers)
        peers = {sid: self.peer(sid) for sid in range(1, n + 1)}
        self.ports = {sid: ports for sid, (_, ports) in peers.items()}
        self.base = {"server.%d" % sid: "%s:%d:%d%s" % (
            host, q, e, ":observer" if sid in self.observers else "")
            for sid, (host, (_, q, e)) in peers.items()}
        self.base.update(tickTime=str(tick), initLimit="10", syncLimit=str(sync_limit))
        self.base.update(extra or {})
        self.servers: Dict[int, Server] = {}

    def peer(self, sid: int):
        """(host, (client, quorum, election) ports) of node sid."""
        return HOST, (free_port(), free_port(), free_port())

    def workdir(self, sid: int) -> Path:
        return self.tmp / ("node-%d" % sid)

    def node_cfg(self, sid: int) -> Dict[str, str]:
        """zoo.cfg entries of node sid on top of the harness defaults."""
        cfg = dict(self.base)
        if sid in self.observers:
            cfg["peerType"] = "observer"
        return cfg

    def new_server(self, sid: int, impl: str) -> Server:
        return Server(impl, self.workdir(sid), self.ports[sid][0], self.node_cfg(sid), myid=sid)

    def start(self, sid: int, impl: str, wait: bool = False, timeout: float = 60.0) -> Server:
        """Start node sid as `impl` (what ran there before must be stopped)."""
        srv = self.new_server(sid, impl)
        self.servers[sid] = srv
        return srv.start(wait=wait, timeout=timeout)

    def start_all(self, impls: Dict[int, str], timeout: float = 60.0) -> Dict[int, Server]:
        """Start the nodes {sid: impl} in that order without waiting (the first election waits
        for the first ones), then wait until each accepts a session; returns self.servers."""
        for sid, impl in impls.items():
            self.start(sid, impl)
        self.wait_ready(timeout)
        return self.servers

    def wait_ready(self, timeout: float = 60.0) -> None:
        for srv in self.servers.values():
            srv.wait_ready(timeout=timeout)

    @property
    def connect_string(self) -> str:
        """host:port of every started node, comma-separated (a client that knows them all)."""
        return ",".join(s.connect_string for s in self.servers.values())

    def leader(self) -> Optional[int]:
        """The sid of the node whose `srvr` says leader, or None."""
        return next((sid for sid, s in self.servers.items() if mode(s) == "leader"), None)

    def leader_other_than(self, sid: int, impl: str, timeout: float = 90.0) -> int:
        """The leader's sid once it is not `sid`. A start too slow for the first election (a
        loaded machine) can make `sid` win it; then `sid` is killed, the others elect, and
        `sid` starts again (as `impl`) to join them as a learner."""
        leader = wait_for(self.leader, timeout=60, what="a leader")
        if leader == sid:
            self.servers[sid].kill()
            leader = wait_for(lambda: self.leader() not in (None, sid) and self.leader(),
                              timeout=60, what="a leader other than %d" % sid)
            self.start(sid, impl, wait=True, timeout=timeout)
        return leader

    def kill_all(self) -> None:
        for srv in self.servers.values():
            srv.kill()

    def __enter__(self) -> "Ensemble":
        return self

    def __exit__(self, *exc) -> None:
        self.kill_all()


_QUIET = None


def _quiet_logger():
    """Kazoo logs every failed connection attempt at WARNING/ERROR; keep that out of test output."""
    global _QUIET
    if _QUIET is None:
        _QUIET = logging.getLogger("zkharness.kazoo")
        _QUIET.setLevel(logging.CRITICAL)
        _QUIET.propagate = False
    return _QUIET


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_live_servers):
        try:
            server.kill()
        except Exception:  # noqa: BLE001
            pass
