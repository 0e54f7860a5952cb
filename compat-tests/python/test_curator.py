"""Apache Curator recipes against every server.

compat-tests/java/CuratorCompat.java is compiled once per test session with javac against
each client generation: Debian's Curator 5.4 with the ZooKeeper 3.8 client for the 3.8 pair
(java, zkrs), Curator 5.7.1 with the ZooKeeper 3.9.3 client (the jars tools/install-deps.sh
fetches) for the 3.9 pair (java39, zkrs39). It is then run once per server; it prints
"OK <check>" or "FAIL <check>: reason" per check and "DONE n/m". Each check is reported
as its own pytest test (the run itself is shared through a module-scoped fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import zkharness

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

def client_classpath(impl):
    """Curator and ZooKeeper client jars of `impl`'s generation."""
    if zkharness.at_least(impl, 3, 9):
        jars = [Path(p) for p in zkharness.java39_classpath(curator=True)]
        if not jars:
            pytest.fail("no Curator 5.7.1 / ZooKeeper 3.9.3 jars in %s (run tools/install-deps.sh)"
                        % zkharness.JAVA39_DIR, pytrace=False)
        return jars
    missing = [str(p) for p in CLASSPATH if not p.exists()]
    if missing or not os.path.exists(JAVAC):
        pytest.fail("Curator jars or javac missing (run tools/install-deps.sh): %s"
                    % (missing or JAVAC), pytrace=False)
    return CLASSPATH


_compiled = {}


@pytest.fixture(scope="session")
def curator_classes(tmp_path_factory):
    """compile(impl, source) -> the folder of `source` (default CuratorCompat.java) compiled
    against impl's client jars."""
    def compile_for(impl, source=SOURCE):
        generation = zkharness.version(impl)[:2]
        key = (generation, source)
        if key not in _compiled:
            out = tmp_path_factory.mktemp("%s-classes-%d%d" % ((source.stem,) + generation))
            proc = subprocess.run(
                [JAVAC, "-nowarn", "-encoding", "UTF-8",
                 "-cp", ":".join(map(str, client_classpath(impl))), "-d", str(out), str(source)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
            if proc.returncode != 0:
                pytest.fail("javac failed:\n%s" % proc.stdout, pytrace=False)
            _compiled[key] = out
        return _compiled[key]
    return compile_for


@pytest.fixture(scope="module")
def curator_run(server, curator_classes):
    """Run CuratorCompat once against this module's server: (exit code, output, results)."""
    classes = curator_classes(server.impl)
    cmd = [JAVA, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
           "-Dlog4j2.level=warn",
           "-cp", ":".join([str(classes)] + [str(p) for p in client_classpath(server.impl)]),
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
