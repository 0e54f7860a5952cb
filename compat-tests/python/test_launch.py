"""Launching like Java: system properties on the command line and the zkServer.sh launcher.

- `-Dreadonlymode.enabled=true` and `-Dzookeeper.DigestAuthenticationProvider.superDigest=...`
  (what kazoo's own test harness passes) given on the command line: `java -D... QuorumPeerMain
  zoo.cfg` for Java, `zkserver -D... zoo.cfg` for zkserver. Their effects, the same in 3.8
  and 3.9: `isro` is added to a whitelist that does not name it (Java's
  FourLetterCommands), and the super user reads a node whose ACL shuts everyone else out.
- The launcher: start, status, stop through Debian's zkServer.sh for Java 3.8.0 and
  tools/zkServer.sh for zkserver, with `JVMFLAGS=-D...`; both print the same lines and exit
  with the same codes. (Java 3.9.3 is installed as jars only, without its scripts.)
"""

import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

import zkharness

REPO = Path(__file__).resolve().parents[2]
OUR_SCRIPT = REPO / "tools" / "zkServer.sh"
JAVA_SCRIPT = Path("/usr/share/zookeeper/bin/zkServer.sh")

SUPER_PASSWORD = "launch-secret"
SUPER_DIGEST = "super:" + base64.b64encode(
    hashlib.sha1(("super:" + SUPER_PASSWORD).encode()).digest()).decode()

PROPERTIES = {
    "readonlymode.enabled": "true",
    "zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
}


class LaunchedServer(zkharness.Server):
    """A harness server whose command line carries `-D` properties before the config path,
    where Java's launcher takes them."""

    def __init__(self, impl, workdir, port, extra_cfg, properties):
        self.properties = dict(properties)
        super().__init__(impl, workdir, port, extra_cfg)

    def _command(self):
        cmd = super()._command()
        flags = ["-D%s=%s" % kv for kv in self.properties.items()]
        return cmd[:-2] + flags + cmd[-2:] if zkharness.is_java(self.impl) \
            else cmd[:1] + flags + cmd[1:]


def _start(impl, tmp_path, properties):
    srv = LaunchedServer(impl, tmp_path / impl, zkharness.free_port(),
                         {"4lw.commands.whitelist": "srvr"}, properties)
    return srv.start()


def _client(connect_string, auth=None):
    zk = KazooClient(hosts=connect_string, timeout=10,
                     auth_data=[auth] if auth else None)
    zk.start(timeout=15)
    return zk


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_system_properties_on_the_command_line(impl, tmp_path):
    # Without the properties: isro is not whitelisted, nobody is super.
    plain = _start(impl, tmp_path / "plain", {})
    try:
        assert plain.four_letter("isro").strip() == \
            "isro is not executed because it is not in the whitelist."
    finally:
        plain.stop()

    srv = _start(impl, tmp_path / "props", PROPERTIES)
    owner = other = root = None
    try:
        # readonlymode.enabled adds isro to the whitelist; a standalone server is rw.
        assert srv.four_letter("isro").strip() == "rw"
        assert srv.four_letter("stat").strip() == \
            "stat is not executed because it is not in the whitelist."
        owner = _client(srv.connect_string, ("digest", "bob:pw"))
        owner.create("/private", b"secret", acl=[make_digest_acl("bob", "pw", all=True)])
        other = _client(srv.connect_string)
        with pytest.raises(NoAuthError):
            other.get("/private")
        root = _client(srv.connect_string, ("digest", "super:" + SUPER_PASSWORD))
        assert root.get("/private")[0] == b"secret"
        root.delete("/private")
    finally:
        zkharness.close_clients(*[c for c in (owner, other, root) if c])
        srv.stop()


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_which_wins_property_or_zoo_cfg(impl, tmp_path):
    """Java's precedence, per kind of key. `4lw.commands.whitelist` in zoo.cfg becomes the
    property zookeeper.4lw.commands.whitelist (QuorumPeerConfig's System.setProperty), which
    overwrites the -D value: the file wins. `readonlymode.enabled` is read only as a
    property: the -D value wins over the file's line. (The harness also gives Java the file's
    readonlymode.enabled as an earlier -D; the later -D wins in a JVM.)"""
    srv = LaunchedServer(impl, tmp_path / impl, zkharness.free_port(),
                         {"4lw.commands.whitelist": "srvr", "readonlymode.enabled": "false"},
                         {"zookeeper.4lw.commands.whitelist": "*",
                          "readonlymode.enabled": "true"}).start()
    try:
        assert srv.four_letter("stat").strip() == \
            "stat is not executed because it is not in the whitelist."
        assert srv.four_letter("isro").strip() == "rw"
    finally:
        srv.stop()


# -- the launcher ---------------------------------------------------------------------------------

def _launcher_impls():
    return [i for i in zkharness.selected_impls() if i in ("java", "zkrs", "zkrs39")]


def _port_free(port):
    with socket.socket() as s:
        return s.connect_ex((zkharness.HOST, port)) != 0


class Launcher:
    """One install: Debian's script for Java (its zkEnv.sh fixes ZOOCFGDIR and ZOO_LOG_DIR,
    so the config path is given as the command's second argument), ours beside a copy of
    zkserver for zkrs (ZOOCFGDIR, ZOO_LOG_DIR as variables)."""

    def __init__(self, impl, tmp_path):
        self.impl = impl
        self.port = zkharness.free_port()
        self.root = tmp_path / "install"
        self.data = self.root / "data"
        self.conf = self.root / "conf"
        self.logs = self.root / "logs"
        for d in (self.data, self.conf, self.root / "bin"):
            d.mkdir(parents=True)
        cfg = {
            "tickTime": "2000", "dataDir": str(self.data), "clientPort": str(self.port),
            "clientPortAddress": zkharness.HOST, "4lw.commands.whitelist": "srvr",
            "admin.enableServer": "false",
        }
        if impl in zkharness.ZKRS_COMPAT:
            cfg["compat.version"] = zkharness.ZKRS_COMPAT[impl]
        self.cfg = self.conf / "zoo.cfg"
        self.cfg.write_text("".join("%s=%s\n" % kv for kv in cfg.items()))
        self.env = dict(os.environ, JVMFLAGS="-Xmx256m -Dreadonlymode.enabled=true")
        self.env.pop("ZOO_LOG4J_PROP", None)
        if zkharness.is_java(impl):
            self.script = JAVA_SCRIPT
        else:
            self.script = self.root / "bin" / "zkServer.sh"
            shutil.copy(OUR_SCRIPT, self.script)
            shutil.copy(zkharness.zkrs_bin(), self.root / "bin" / "zkserver")
            self.env.update(ZOOCFGDIR=str(self.conf), ZOO_LOG_DIR=str(self.logs))
            self.env.pop("ZKRS_BIN", None)
            self.env.pop("RUST_LOG", None)

    def run(self, command):
        p = subprocess.run(["bash", str(self.script), command, str(self.cfg)], env=self.env,
                           cwd=self.root, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout

    def pid(self):
        path = self.data / "zookeeper_server.pid"
        return int(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("impl", _launcher_impls())
def test_launcher_start_status_stop(impl, tmp_path):
    if zkharness.is_java(impl) and not JAVA_SCRIPT.exists():
        pytest.fail("Debian's zkServer.sh is missing at %s" % JAVA_SCRIPT)
    launcher = Launcher(impl, tmp_path)
    port = launcher.port
    found = "Client port found: %d. Client address: %s. Client SSL: false.\n" % (
        port, zkharness.HOST)
    try:
        assert launcher.run("start") == (0, "Starting zookeeper ... STARTED\n")
        pid = launcher.pid()
        assert pid is not None
        os.kill(pid, 0)  # alive
        zkharness.wait_for(lambda: not _port_free(port), 30, "the client port to open")
        assert launcher.run("start") == (
            1, "Starting zookeeper ... already running as process %d.\n" % pid)
        # status asks srvr until the server answers it.
        zkharness.wait_for(lambda: launcher.run("status")[0] == 0, 30, "status to answer")
        assert launcher.run("status") == (0, found + "Mode: standalone\n")
        # JVMFLAGS' -D words reached the server: isro is whitelisted.
        assert zkharness.four_letter(zkharness.HOST, port, "isro").strip() == "rw"
        if not zkharness.is_java(impl):
            # Our binary logs to Java's file name in ZOO_LOG_DIR, without colours.
            name = "zookeeper-%s-server-%s.log" % (os.environ.get("USER", ""),
                                                   socket.gethostname())
            text = (launcher.logs / name).read_text()
            assert "JVM flags ignored (zkserver is not a JVM): -Xmx256m" in text
            assert "binding to port" in text
            assert "\x1b[" not in text
        assert launcher.run("stop") == (0, "Stopping zookeeper ... STOPPED\n")
        assert launcher.pid() is None
        zkharness.wait_for(lambda: _port_free(port), 30, "the server to exit")
        assert launcher.run("status") == (
            1, found + "Error contacting service. It is probably not running.\n")
        assert launcher.run("stop") == (
            0, "Stopping zookeeper ... no zookeeper to stop (could not find file %s)\n"
            % (launcher.data / "zookeeper_server.pid"))
    finally:
        pid = launcher.pid()
        if pid is not None:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("impl", [i for i in zkharness.selected_impls() if not zkharness.is_java(i)])
def test_our_launcher_reads_java_env(impl, tmp_path):
    """$ZOOCFGDIR/java.env, which zkEnv.sh sources, is read by zkserver itself: its
    SERVER_JVMFLAGS carry the super digest (java.env lines as Java deployments write them)."""
    launcher = Launcher(impl, tmp_path)
    (launcher.conf / "java.env").write_text(
        '# as in a Java deployment\nexport SERVER_JVMFLAGS="-Xmx512m '
        '-Dzookeeper.DigestAuthenticationProvider.superDigest=%s"\n' % SUPER_DIGEST)
    owner = root = None
    try:
        assert launcher.run("start")[0] == 0
        connect_string = "%s:%d" % (zkharness.HOST, launcher.port)
        zkharness.wait_for(lambda: launcher.run("status")[0] == 0, 30, "status to answer")
        owner = _client(connect_string, ("digest", "bob:pw"))
        owner.create("/private", b"x", acl=[make_digest_acl("bob", "pw", all=True)])
        root = _client(connect_string, ("digest", "super:" + SUPER_PASSWORD))
        assert root.get("/private")[0] == b"x"
        text = "".join(p.read_text() for p in launcher.logs.glob("*.log"))
        assert re.search(r"read JVMFLAGS and SERVER_JVMFLAGS from .*java\.env", text), text
    finally:
        zkharness.close_clients(*[c for c in (owner, root) if c])
        assert launcher.run("stop")[0] == 0
