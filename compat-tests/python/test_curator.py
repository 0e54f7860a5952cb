"""Apache Curator recipes against both servers.

compat-tests/java/CuratorCompat.java is compiled once per test session with javac against
Debian's Curator 5.4 / ZooKeeper 3.8 client jars, then run once per server; it prints
"OK <check>" or "FAIL <check>: reason" per check and "DONE n/m". Each check is reported
as its own pytest test (the run itself is shared through a module-scoped fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JAVA_DIR = Path(__file__).resolve().parents[1] / "java"
SOURCE = JAVA_DIR / "CuratorCompat.java"
JARS = Path(os.environ.get("JAVA_SHARE", "/usr/share/java"))
CLASSPATH = [JARS / j for j in (
    "curator-recipes.jar", "curator-framework.jar", "curator-client.jar",
    "zookeeper.jar", "zookeeper-jute.jar", "guava.jar", "slf4j-api.jar", "slf4j-nop.jar")]
JAVAC = shutil.which("javac") or "/usr/bin/javac"
JAVA = os.environ.get("JAVA", "/usr/bin/java")

CHECKS = [
    "connect",
    "mutex",                          # InterProcessMutex, 2 sessions x 2 threads
    "leader-latch",                   # LeaderLatch, 2 participants, leadership moves
    "curator-cache",                  # CuratorCache (persistent recursive watch)
    "distributed-atomic-long",        # DistributedAtomicLong from 2 clients
    "transaction-commit",             # CuratorOp create + setData + check + delete
    "transaction-rollback",           # failing op: nothing applied, per-op results
    "ttl-create",                     # PERSISTENT_WITH_TTL (+ sequential)
    "protected-ephemeral-sequential",  # creatingParentsIfNeeded().withProtection()
    "container-parents",              # creatingParentContainersIfNeeded()
    "shared-count",                   # SharedCount versioned sets
    "cleanup",
]

_missing = [str(p) for p in CLASSPATH if not p.exists()]
pytestmark = pytest.mark.skipif(
    bool(_missing) or not os.path.exists(JAVAC),
    reason="Curator jars or javac missing: %s" % (_missing or JAVAC))


@pytest.fixture(scope="session")
def curator_classes(tmp_path_factory):
    out = tmp_path_factory.mktemp("curator-classes")
    proc = subprocess.run(
        [JAVAC, "-nowarn", "-encoding", "UTF-8", "-cp", ":".join(map(str, CLASSPATH)),
         "-d", str(out), str(SOURCE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail("javac failed:\n%s" % proc.stdout, pytrace=False)
    return out


@pytest.fixture(scope="module")
def curator_run(server, curator_classes):
    """Run CuratorCompat once against this module's server: (exit code, output, results)."""
    cmd = [JAVA, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
           "-cp", ":".join([str(curator_classes)] + [str(p) for p in CLASSPATH]),
           "CuratorCompat", server.connect_string, "/curator-compat"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=150)
        rc, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc, output = None, out + "\n(timed out)"
    results = {}
    for line in output.splitlines():
        if line.startswith("OK "):
            results[line[3:].strip()] = None
        elif line.startswith("FAIL "):
            name, _, why = line[5:].partition(": ")
            results[name.strip()] = why
    return rc, output, results


@pytest.mark.parametrize("check", CHECKS)
def test_curator(curator_run, check):
    rc, output, results = curator_run
    assert check in results, "check %s did not report (exit %s):\n%s" % (check, rc, output)
    assert results[check] is None, "FAIL %s: %s" % (check, results[check])


def test_curator_program_exit(curator_run):
    rc, output, results = curator_run
    assert sorted(results) == sorted(CHECKS), output
    assert "DONE %d/%d" % (len(CHECKS), len(CHECKS)) in output, output
    assert rc == 0, output
