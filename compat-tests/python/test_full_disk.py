"""A follower whose disk fills up (its dataDir on a small tmpfs, filled with a file) while
the leader commits with the other follower: no acknowledged write is lost, the follower says
why it cannot go on (`No space left on device`), its files stay readable (`currentEpoch`,
`acceptedEpoch`, txn logs, snapshots: it starts again from them), and once space is freed
it catches up with every acknowledged write, by itself or after a restart.

snapCount is small so that snapshots fall due while the disk is full too. Needs root (mount);
skipped otherwise.
"""

import os
import subprocess
import time
import uuid

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for

VICTIM = 1
TMPFS_SIZE = "12m"

# (victim impl, impl of nodes 2 and 3): each server alone, and 3.8 mixed both ways
CASES = zkharness.ALONE_AND_MIXED[:6]


def _mount_tmpfs(path):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())


def _fill(path) -> None:
    """Write a file under `path` until the file system is full."""
    chunk = b"\xff" * 65536
    with open(path / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        # What is left is less than a chunk: take it byte by byte-ish.
        for size in (4096, 512, 1):
            try:
                while True:
                    f.write(chunk[:size])
            except OSError:
                pass


def _epochs_readable(srv):
    for name in ("currentEpoch", "acceptedEpoch"):
        text = (srv.data_dir / "version-2" / name).read_text()
        assert text.strip().isdigit(), (name, text)


def _log_text(srv):
    try:
        return srv.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("victim_impl,other_impl", zkharness.victim_cases(CASES, "%s-follower-of-%s"))
def test_a_follower_whose_disk_fills_loses_no_acknowledged_write(
        tmp_path, victim_impl, other_impl):
    impls = {3: other_impl, 2: other_impl, VICTIM: victim_impl}
    ens = zkharness.Ensemble(tmp_path, tick=500, extra={"snapCount": "100"})
    data = ens.workdir(VICTIM) / "data"
    _mount_tmpfs(data)
    try:
        with ens:
            ens.start_all(impls, timeout=90)
            leader = ens.leader_other_than(VICTIM, victim_impl)
            victim = ens.servers[VICTIM]
            other = 5 - leader
            base = "/full-" + uuid.uuid4().hex[:8]
            zk = ens.servers[leader].client()
            acked = []
            try:
                zk.create(base, b"")
                for i in range(30):
                    zk.create("%s/before-%03d" % (base, i), b"b" * 1000)
                    acked.append("%s/before-%03d" % (base, i))
                wait_for(lambda: zkharness.srvr_zxid(victim) == zkharness.srvr_zxid(ens.servers[leader]),
                         what="victim caught up")
                _fill(data)
                # The leader goes on with the other follower: 300 creates, three snapCounts.
                for i in range(300):
                    p = "%s/full-%03d" % (base, i)
                    zk.create(p, b"f" * 1000)
                    acked.append(p)
                time.sleep(3)
                wait_for(lambda: "No space left on device" in _log_text(victim), timeout=30,
                         what="the victim logs the full disk")
                _epochs_readable(victim)
                (data / "filler").unlink()
                # By itself, if it is still running; otherwise the operator restarts it.
                recovered_alone = victim.running
                if victim.running:
                    try:
                        wait_for(lambda: zkharness.srvr_zxid(victim) >= zkharness.srvr_zxid(ens.servers[leader]),
                                 timeout=30, what="victim catches up by itself")
                    except AssertionError:
                        recovered_alone = False
                if not recovered_alone:
                    victim.kill()
                    ens.start(VICTIM, victim_impl, wait=True, timeout=90)
                    victim = ens.servers[VICTIM]
                print("%s recovered %s" % (victim_impl,
                                           "by itself" if recovered_alone else "after a restart"))
                for i in range(10):
                    p = "%s/after-%03d" % (base, i)
                    zk.create(p, b"a")
                    acked.append(p)
            finally:
                close_clients(zk)
            _epochs_readable(victim)
            # The victim and the other follower alone (the leader gone) have every write.
            ens.servers[leader].kill()
            wait_for(lambda: mode(victim) in ("leader", "follower")
                     and mode(ens.servers[other]) in ("leader", "follower"),
                     timeout=90, what="victim and the other follower form a quorum")
            for srv in (victim, ens.servers[other]):
                c = srv.client(timeout=30)
                try:
                    c.sync(base)
                    have = set(c.get_children(base))
                    missing = [p for p in acked if p.rsplit("/", 1)[1] not in have]
                    assert not missing, (srv.impl, len(missing), missing[:5])
                finally:
                    close_clients(c)
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
