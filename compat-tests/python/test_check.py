"""`zkserver check zoo.cfg` on dataDirs written by Java 3.8.0, Java 3.9.3 and zkserver (3.8
and 3.9 modes).

Each impl writes a tree (persistent, sequential and ACL'd nodes, ephemerals of a session
still open); `zkserver check` then runs on that server's own zoo.cfg, first while the server
runs (it takes no lock and writes nothing, so the server keeps serving) and again after it
stopped. The report must give the zxid and node count the server itself reported (`srvr`),
the ephemerals it held, every txn digest checked without a mismatch, exit 0, and the
folder must be byte for byte unchanged. The same server then starts again on it.
"""

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from kazoo.security import make_digest_acl

import zkharness

EPHEMERALS = 3


def folder_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def srvr(server):
    text = server.four_letter("srvr")
    zxid = int(re.search(r"^Zxid: (0x[0-9a-f]+)$", text, re.M).group(1), 16)
    nodes = int(re.search(r"^Node count: (\d+)$", text, re.M).group(1))
    return zxid, nodes


def check(cfg_path: Path):
    proc = subprocess.run([str(zkharness.zkrs_bin()), "check", str(cfg_path)],
                          capture_output=True, text=True, timeout=120)
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines()
                  if ": " in line and not line.startswith(" "))
    return proc.returncode, fields, proc.stdout + proc.stderr


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_check_reports_what_the_server_served(impl, tmp_path):
    server = zkharness.start_server(impl, tmp_path)
    zk = server.client()
    try:
        zk.create("/check", b"root")
        acl = make_digest_acl("user", "pw", all=True)
        for i in range(50):
            zk.create("/check/n%03d" % i, b"x" * i)
        for _ in range(20):
            zk.create("/check/seq-", b"s", sequence=True)
        zk.create("/check/acl", b"secret", acl=[acl])
        for i in range(EPHEMERALS):
            zk.create("/check/e%d" % i, b"e", ephemeral=True)
        zk.set("/check/n001", b"changed")
        zk.delete("/check/n002")
        zxid, nodes = srvr(server)

        # While the server runs: it keeps serving, and its folder is not touched.
        before = folder_hash(server.data_dir)
        code, fields, out = check(server.cfg_path)
        assert code == 0, out
        assert folder_hash(server.data_dir) == before
        assert zk.get("/check/n001")[0] == b"changed"
        assert int(fields["last zxid"], 16) == zxid, out
    finally:
        # Stopped with the session open: its ephemerals are on disk.
        server.stop()
        zk.stop()
        zk.close()

    before = folder_hash(server.data_dir)
    code, fields, out = check(server.cfg_path)
    assert code == 0, out
    assert folder_hash(server.data_dir) == before, "check modified the dataDir"
    assert fields["result"] == "ok", out
    assert int(fields["last zxid"], 16) == zxid, out
    assert fields["znodes"] == "%d (srvr's Node count %d: Java counts the root twice)" % (
        nodes - 1, nodes), out
    assert int(fields["ephemerals"]) == EPHEMERALS, out
    assert int(fields["sessions"]) >= 1, out
    checked, mismatches = re.fullmatch(r"(\d+), mismatches: (\d+)",
                                       fields["digests checked"]).groups()
    # Every server here logs a TxnDigest with each txn (digest.enabled, on by default).
    assert int(checked) > 0 and int(mismatches) == 0, out
    assert fields["role"] == "standalone", out

    # The server starts again on the folder check read, at the same zxid.
    server.start()
    try:
        assert srvr(server)[0] >= zxid
        zk = server.client()
        assert zk.get("/check/n001")[0] == b"changed"
        zk.stop()
        zk.close()
    finally:
        server.stop()


@pytest.mark.parametrize("impl", [i for i in zkharness.selected_impls() if zkharness.is_java(i)])
def test_check_fails_on_a_corrupted_java_log(impl, tmp_path):
    """A flipped byte inside a Java txn log: the server would refuse it, check says so."""
    server = zkharness.start_server(impl, tmp_path)
    zk = server.client()
    for i in range(20):
        zk.create("/c%d" % i, b"x" * 100)
    zk.stop()
    zk.close()
    server.stop()
    logs = sorted((server.data_dir / "version-2").glob("log.*"))
    assert logs
    raw = bytearray(logs[-1].read_bytes())
    raw[16 + 40] ^= 0xFF  # inside the first entry, with more entries after it
    logs[-1].write_bytes(bytes(raw))
    code, fields, out = check(server.cfg_path)
    assert code == 1, out
    assert fields["result"].startswith("the server would not start"), out
