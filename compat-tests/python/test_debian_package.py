"""End to end on this machine: Debian's Java zookeeperd service -> our zkserver package on the
same config and dataDir -> back to zookeeperd.

1. zookeeperd (Debian's package, installed with dpkg) starts Java 3.8.0 through its init
   script /etc/init.d/zookeeper (this machine has no systemd; Docker's policy-rc.d keeps
   dpkg from starting services) on /etc/zookeeper/conf/zoo.cfg, rewritten for the test: a
   free client port and dataDir /var/lib/zookeeper/e2e-<pid> (Debian's /var/lib/zookeeper
   holds a `myid` that is a placeholder sentence, which Java and zkserver both refuse to
   read as a server id).
2. A tree is written: persistent, sequential and ACL'd nodes (a few hundred), and
   ephemerals of a session that stays open across the swap.
3. Java is stopped; `zkserver check` on the config reports Java's last zxid; our .deb
   (tools/build-deb.sh) is installed with apt, which removes zookeeperd (Conflicts +
   Replaces) and keeps the zookeeper and libzookeeper-java packages; zkserver is started the
   way our unit does (its ExecStart as its User).
4. The same tree: data, every Stat field and ACLs (ephemerals with their owner). More writes.
5. zkserver is stopped; zookeeperd is installed again with apt (which removes ours) and its
   init script starts Java: the same tree, our writes included.

Needs root and changes system state: runs under an exclusive lock (never twice at once) and
restores the machine in any case (ours removed, zookeeperd back to how it was found, the
zookeeper library package installed, zoo.cfg byte for byte, the test's data and logs gone).
Skipped, with that reason, only when not root.
"""

import fcntl
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

import zkharness

REPO = Path(__file__).resolve().parents[2]
ZOO_CFG = Path("/etc/zookeeper/conf/zoo.cfg")
UNIT = Path("/lib/systemd/system/zookeeper.service")
INIT = "/etc/init.d/zookeeper"
LOG_DIR = Path("/var/log/zookeeper")
LOCK = Path("/run/lock/zk-rs-debian-package.lock")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zk-rs" / "debs"
SESSION_TIMEOUT_S = 30.0

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="installs and removes Debian packages and services: needs root")


def run(*cmd, check=True, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), **kw)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d\n%s%s" % (" ".join(cmd), proc.returncode,
                                                    proc.stdout, proc.stderr))
    return proc


def status(pkg):
    """dpkg's status of `pkg` ("installed", "config-files", ...), None when unknown."""
    proc = run("dpkg-query", "-W", "-f=${db:Status-Status}", pkg, check=False)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def zookeeperd_deb() -> Path:
    """Debian's zookeeperd .deb, from tools/install-deps.sh's cache or downloaded into it."""
    found = sorted(CACHE.glob("zookeeperd_*.deb"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        run("apt-get", "download", "zookeeperd", cwd=str(CACHE))
        found = sorted(CACHE.glob("zookeeperd_*.deb"))
    assert found, "no zookeeperd .deb in %s" % CACHE
    return found[-1]


def our_deb() -> Path:
    """Our .deb of the zkserver under test (tools/build-deb.sh --no-build)."""
    proc = subprocess.run([str(REPO / "tools" / "build-deb.sh"), "--no-build"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, ZKRS_BIN=str(zkharness.zkrs_bin())))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def wait_serving(port, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=2.0)
            zk.start(timeout=2.0)
            zk.stop()
            zk.close()
            return
        except Exception:
            time.sleep(0.3)
    raise AssertionError("nothing serves on port %d after %.0f s" % (port, timeout))


def wait_closed(port, timeout=40.0):
    deadline = time.time() + timeout
    while zkharness._port_open("127.0.0.1", port):
        assert time.time() < deadline, "port %d still open" % port
        time.sleep(0.2)


def tree(zk, path="/e2e"):
    """{path: (data, stat, acl)} under `path`."""
    out = {}
    data, stat = zk.get(path)
    acl, _ = zk.get_acls(path)
    out[path] = (data, tuple(stat), sorted((a.perms, a.id.scheme, a.id.id) for a in acl))
    for child in zk.get_children(path):
        out.update(tree(zk, path + "/" + child))
    return out


def write_tree(zk, prefix, count):
    acl = make_digest_acl("e2e", "secret", all=True)
    zk.ensure_path("/e2e/%s" % prefix)
    for i in range(count):
        zk.create("/e2e/%s/n%04d" % (prefix, i), ("value %d" % i).encode() * (i % 7))
    for _ in range(count // 4):
        zk.create("/e2e/%s/seq-" % prefix, b"s", sequence=True)
    for i in range(count // 10):
        zk.create("/e2e/%s/acl%d" % (prefix, i), b"private", acl=[acl])
    for i in range(0, count, 9):
        zk.set("/e2e/%s/n%04d" % (prefix, i), b"updated")


def client(port, timeout=10.0):
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=timeout,
                     auth_data=[("digest", "e2e:secret")])
    zk.start(timeout=30)
    return zk


class Unit:
    """What zookeeper.service runs: ExecStart as User, in a clean environment as systemd
    gives it."""

    def __init__(self, path: Path):
        text = path.read_text()
        self.user = re.search(r"^User=(\S+)$", text, re.M).group(1)
        self.exec_start = shlex.split(re.search(r"^ExecStart=(.+)$", text, re.M).group(1))
        self.proc = None

    def start(self):
        pw = pwd.getpwnam(self.user)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "USER": self.user, "LOGNAME": self.user, "HOME": pw.pw_dir,
               "SHELL": pw.pw_shell, "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
             "--init-groups", "--"] + self.exec_start,
            env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        """SIGTERM, as systemd's stop; the exit status it reports."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("zkserver did not stop on SIGTERM within 30 s")


def init_script(action):
    return run(INIT, action, check=False)


def test_swap_zookeeperd_for_zkserver_and_back(tmp_path):
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = open(LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # waits for another run of this test

    assert status("zkserver") in (None, "not-installed", "config-files"), (
        "the zkserver package is already installed; this test would not know what to restore")
    assert status("zookeeper") == "installed", "Debian's zookeeper package is needed"
    zookeeperd_before = status("zookeeperd")
    cfg_before = ZOO_CFG.read_bytes()
    cfg_stat = ZOO_CFG.stat()
    logs_before = set(LOG_DIR.iterdir()) if LOG_DIR.exists() else set()
    run_dir_existed = Path("/var/run/zookeeper").exists()
    data_dir = Path("/var/lib/zookeeper/e2e-%d" % os.getpid())
    port = zkharness.free_port()
    zookeeperd = zookeeperd_deb()
    ours = our_deb()
    unit = None
    session = None
    try:
        ZOO_CFG.write_text(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n"
            "clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n"
            % (data_dir, port))
        data_dir.mkdir()
        shutil.chown(data_dir, "zookeeper", "zookeeper")

        # 1. Debian's Java service.
        run("dpkg", "-i", str(zookeeperd))
        assert init_script("start").returncode == 0
        wait_serving(port)

        # 2. A tree, and a session whose ephemerals cross both swaps.
        session = KazooClient(hosts="127.0.0.1:%d" % port, timeout=SESSION_TIMEOUT_S,
                              connection_retry={"max_tries": -1, "delay": 0.2},
                              auth_data=[("digest", "e2e:secret")])
        session.start(timeout=30)
        session.ensure_path("/e2e")
        write_tree(session, "java", 300)
        for i in range(5):
            session.create("/e2e/java/eph%d" % i, b"e", ephemeral=True)
        java_tree = tree(session)
        assert len(java_tree) > 400

        # 3. Stop Java; check; install ours (apt removes zookeeperd); start ours as its unit.
        init_script("stop")
        wait_closed(port)
        check = run(str(zkharness.zkrs_bin()), "check", str(ZOO_CFG), check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "role: standalone" in check.stdout
        assert "ephemerals: 5\n" in check.stdout, check.stdout
        run("apt-get", "install", "-y", "--no-install-recommends", str(ours))
        assert status("zkserver") == "installed"
        assert status("zookeeperd") != "installed", "zookeeperd still installed beside ours"
        assert status("zookeeper") == "installed" and Path("/usr/share/java/zookeeper.jar").exists()
        assert UNIT.exists() and Path("/usr/bin/zkserver").exists()
        assert run("/usr/bin/zkserver", "check", str(ZOO_CFG)).returncode == 0
        unit = Unit(UNIT)
        unit.start()
        wait_serving(port)

        # 4. The same tree on zkserver (the open session reconnects to it), then more writes.
        zk = client(port)
        assert tree(zk) == java_tree
        zk.stop()
        zk.close()
        assert session.exists("/e2e/java/eph0").owner_session_id == session.client_id[0]
        write_tree(session, "zkrs", 100)
        session.delete("/e2e/java/n0001")
        session.create("/e2e/zkrs/eph", b"e", ephemeral=True)
        ours_tree = tree(session)
        assert unit.stop() is not None
        wait_closed(port)
        assert (LOG_DIR / "zookeeper.log").exists(), "the unit logs to Debian's log file"

        # 5. Back to Java's package with apt (it removes ours), and its init script.
        run("apt-get", "install", "-y", "--no-install-recommends", str(zookeeperd))
        assert status("zookeeperd") == "installed" and status("zkserver") != "installed"
        assert init_script("start").returncode == 0
        wait_serving(port)
        zk = client(port)
        assert tree(zk) == ours_tree
        zk.stop()
        zk.close()
        assert session.exists("/e2e/zkrs/eph").owner_session_id == session.client_id[0]
    finally:
        if session is not None:
            session.stop()
            session.close()
        if unit is not None:
            unit.stop()
        if Path(INIT).exists() and os.access(INIT, os.X_OK):
            init_script("stop")
        if status("zkserver") not in (None, "not-installed"):
            run("dpkg", "--purge", "zkserver", check=False)
        now = status("zookeeperd")
        if zookeeperd_before in (None, "not-installed") and now not in (None, "not-installed"):
            run("dpkg", "--purge", "zookeeperd", check=False)
        elif zookeeperd_before == "installed" and now != "installed":
            run("dpkg", "-i", str(zookeeperd), check=False)
        ZOO_CFG.write_bytes(cfg_before)
        os.utime(ZOO_CFG, ns=(cfg_stat.st_atime_ns, cfg_stat.st_mtime_ns))
        shutil.rmtree(data_dir, ignore_errors=True)
        for f in set(LOG_DIR.iterdir()) - logs_before if LOG_DIR.exists() else ():
            f.unlink()
        if not run_dir_existed:
            shutil.rmtree("/var/run/zookeeper", ignore_errors=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    assert status("zookeeper") == "installed"
    assert Path("/usr/share/java/zookeeper.jar").exists()
    assert ZOO_CFG.read_bytes() == cfg_before
