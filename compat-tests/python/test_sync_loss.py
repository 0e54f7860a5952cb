"""A follower that cannot make a DIFF sync's txns durable must not take the new leader's epoch
(ZOOKEEPER-4643 / 4646 / 4785): otherwise a later election prefers it for its newer
`currentEpoch`, and as leader it truncates acknowledged writes away on the others.

Scenario (3 voters; node 1, the lowest id, is the victim and never leads while data is equal):

1. All three run in epoch e0; the victim is killed; N creates are acknowledged by the other
   two (leader B, follower A). The victim's log lacks them.
2. A and B are killed. The victim's next txn log file, `log.<first missing zxid>`, is made
   an empty txn log (a header) that nobody may write, not even root (`chattr +i`): both
   implementations read it as an empty log when they load, and fail to open it for the
   first append of the DIFF sync (a disk error, deterministic). The victim and A are
   started; A leads epoch e1 with the victim, which gets those N txns by DIFF and fails to
   log them. It must not write `currentEpoch` = e1 (nor ACK NEWLEADER).
3. A and the victim are killed, the blocking file removed; the victim and B are started: B must win
   (same epoch, more txns) and every acknowledged create must be on both (A stays down: the
   leader of this quorum decides what A would be synced to).

Java 3.8.0 has the bug: at NEWLEADER its `Learner.syncWithLeader` writes `currentEpoch`
first and hands the txns to the asynchronous `SyncRequestProcessor`, whose append fails
after the ACK. Run against "java" (see docs/sync-correctness.md), the victim ended with
`currentEpoch` e1 and its log short of the N txns, won the election in step 3 and the N
creates were gone from all three nodes. So the test runs only over implementations that
claim the fix: zkserver (both compat levels), Java 3.9.3 (ZOOKEEPER-4785, 4394 in 3.9.3),
and mixed ensembles whose victim is zkserver.
"""

import struct
import subprocess
import time
import uuid

import pytest

import zkharness
from zkharness import close_clients, wait_for

N = 40
VICTIM = 1

# (victim impl, impl of nodes 2 and 3)
CASES = [
    ("zkrs", "zkrs"),
    ("zkrs39", "zkrs39"),
    ("java39", "java39"),
    ("zkrs39", "java39"),
    ("java39", "zkrs39"),
    ("zkrs", "java"),
]


def _block(path) -> None:
    """An empty txn log at `path` (magic ZKLG, version 2, dbid 0) that cannot be opened for
    writing, even by root."""
    path.write_bytes(b"ZKLG" + struct.pack(">iq", 2, 0) + bytes(64))
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        path.unlink()
        pytest.skip("chattr +i not possible here (needs root on ext4/xfs): %s" % r.stderr.strip())


def _unblock(path) -> None:
    if path.exists():
        subprocess.run(["chattr", "-i", str(path)], check=False)
        path.unlink()


def _newleaders(srv) -> int:
    """How many times the server logged that it received NEWLEADER."""
    try:
        return srv.log_path.read_text(errors="replace").count("Learner received NEWLEADER")
    except FileNotFoundError:
        return 0


def _epoch(srv, name: str) -> int:
    return int((srv.data_dir / "version-2" / name).read_text().strip())


def run_scenario(tmp_path, victim_impl: str, other_impl: str):
    """Run the scenario; returns (victim currentEpoch after step 2, e0, e1, missing paths)."""
    impls = {3: other_impl, 2: other_impl, VICTIM: victim_impl}
    with zkharness.Ensemble(tmp_path, tick=500, sync_limit=5) as ens:
        ens.start_all(impls)
        # The victim must be a follower.
        leader = ens.leader_other_than(VICTIM, victim_impl)
        victim = ens.servers[VICTIM]
        other = 5 - leader  # {2, 3} minus the leader
        zk = ens.servers[leader].client()
        base = "/sync-loss-" + uuid.uuid4().hex[:8]
        zk.create(base, b"")
        zk.stop()
        zk.close()
        # Step 1: the victim is where the leader is, then dies.
        wait_for(lambda: zkharness.srvr_zxid(victim) == zkharness.srvr_zxid(ens.servers[leader]),
                 what="victim caught up")
        last = zkharness.srvr_zxid(victim)
        e0 = _epoch(victim, "currentEpoch")
        victim.kill()
        zk = ens.servers[other].client()
        acked = []
        try:
            for i in range(N):
                p = "%s/n-%03d" % (base, i)
                zk.create(p, b"x" * 100)
                acked.append(p)
            first_missing = zk.exists(acked[0]).czxid
        finally:
            close_clients(zk)
        # Nothing but our creates ran since the victim died (no other client, no session
        # txn after it: our session was created on `other`... before `last` or after it).
        assert last < first_missing, (hex(last), hex(first_missing))
        # Step 2: the victim's first append of the DIFF fails.
        ens.servers[leader].kill()
        ens.servers[other].kill()
        log_dir = victim.data_dir / "version-2"
        blockers = [log_dir / ("log.%x" % z) for z in range(last + 1, first_missing + 1)]
        try:
            for b in blockers:
                _block(b)
            newleaders = _newleaders(victim)
            ens.start(VICTIM, victim_impl)
            ens.start(other, impls[other])
            e1 = wait_for(lambda: _epoch(ens.servers[other], "acceptedEpoch") > e0
                          and _epoch(ens.servers[other], "acceptedEpoch"),
                          timeout=90, what="A proposes e1")
            wait_for(lambda: _epoch(ens.servers[VICTIM], "acceptedEpoch") == e1,
                     timeout=60, what="victim accepted e1")
            # The scenario happened: the victim got to NEWLEADER (same words in both logs).
            wait_for(lambda: _newleaders(victim) > newleaders, timeout=60,
                     what="victim got NEWLEADER")
            time.sleep(2)
            victim_epoch = _epoch(ens.servers[VICTIM], "currentEpoch")
            # Step 3.
            ens.servers[other].kill()
            ens.servers[VICTIM].kill()
        finally:
            for b in blockers:
                _unblock(b)
        ens.start(VICTIM, victim_impl)
        ens.start(leader, impls[leader])
        ens.servers[VICTIM].wait_ready(90)
        ens.servers[leader].wait_ready(90)
        # A stays down: whoever leads now decides what A would be synced to.
        del ens.servers[other]
        missing = {}
        for sid, srv in sorted(ens.servers.items()):
            c = srv.client()
            try:
                c.sync(base)
                missing[sid] = [p for p in acked if c.exists(p) is None]
            finally:
                close_clients(c)
        return victim_epoch, e0, e1, missing


@pytest.mark.timeout(200)  # four JVM starts in a row for java39
@pytest.mark.parametrize("victim_impl,other_impl", zkharness.victim_cases(CASES, "%s-victim-with-%s"))
def test_failed_diff_log_keeps_epoch_and_loses_no_acknowledged_write(
        tmp_path, victim_impl, other_impl):
    victim_epoch, e0, e1, missing = run_scenario(tmp_path, victim_impl, other_impl)
    assert e1 > e0
    assert victim_epoch == e0, (
        "the victim took epoch %d without its DIFF txns logged (was %d)" % (victim_epoch, e0))
    assert missing and all(m == [] for m in missing.values()), missing
