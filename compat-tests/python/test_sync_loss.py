"""A follower that cannot make a DIFF sync's txns durable must not take the new leader's epoch
(ZOOKEEPER-4643 / 4646 / 4785): otherwise a later election prefers it for its newer
`currentEpoch`, and as leader it truncates acknowledged writes away on the others.

Scenario (3 voters; node 1, the lowest id, is the victim and never leads while data is equal):

1. All three run in epoch e0; the victim is killed; N creates are acknowledged by the other
   two (leader B, follower A). The victim's log lacks them.
2. A and B are killed; the victim is started alone (it loads its database and waits for a
   quorum); then its next txn log file, `log.<first missing zxid>`, is made a directory, so
   the first append of the DIFF sync fails (a disk error, deterministic, root-proof). A is
   started and leads epoch e1 with the victim, which gets those N txns by DIFF and fails to
   log them. It must not write `currentEpoch` = e1 (nor ACK NEWLEADER).
3. A and the victim are killed, the blocker removed; the victim and B are started: B must win
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


def _cases():
    chosen = set(zkharness.selected_impls())
    return [pytest.param(v, o, id="%s-victim-with-%s" % (v, o))
            for v, o in CASES if {v, o} <= chosen]


def _srvr_zxid(srv) -> int:
    for line in srv.four_letter("srvr").splitlines():
        if line.startswith("Zxid: "):
            return int(line.split()[1], 16)
    raise AssertionError("no Zxid in srvr of %r" % srv)


def _epoch(srv, name: str) -> int:
    return int((srv.data_dir / "version-2" / name).read_text().strip())


def run_scenario(tmp_path, victim_impl: str, other_impl: str):
    """Run the scenario; returns (victim currentEpoch after step 2, e0, e1, missing paths)."""
    impls = {3: other_impl, 2: other_impl, VICTIM: victim_impl}
    with zkharness.Ensemble(tmp_path, tick=500, sync_limit=5) as ens:
        ens.start_all(impls)
        victim = ens.servers[VICTIM]
        leader = wait_for(ens.leader, what="a leader")
        assert leader != VICTIM
        other = 5 - leader  # {2, 3} minus the leader
        zk = ens.servers[leader].client()
        base = "/sync-loss-" + uuid.uuid4().hex[:8]
        zk.create(base, b"")
        zk.stop()
        zk.close()
        # Step 1: the victim is where the leader is, then dies.
        wait_for(lambda: _srvr_zxid(victim) == _srvr_zxid(ens.servers[leader]),
                 what="victim caught up")
        last = _srvr_zxid(victim)
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
        # Step 2: the victim's first append of the DIFF fails. Both implementations list
        # the log folder when they load the database at startup (a directory there stops
        # them), so the victim is started alone first: it loads, then waits in LOOKING.
        ens.servers[leader].kill()
        ens.servers[other].kill()
        ens.start(VICTIM, victim_impl)
        wait_for(lambda: "not currently serving" in ens.servers[VICTIM].four_letter("srvr"),
                 what="victim up and looking")
        time.sleep(1)
        log_dir = victim.data_dir / "version-2"
        blockers = [log_dir / ("log.%x" % z) for z in range(last + 1, first_missing + 1)]
        for b in blockers:
            b.mkdir()
        ens.start(other, impls[other])
        e1 = wait_for(lambda: _epoch(ens.servers[other], "acceptedEpoch") > e0
                      and _epoch(ens.servers[other], "acceptedEpoch"), what="A proposes e1")
        wait_for(lambda: _epoch(ens.servers[VICTIM], "acceptedEpoch") == e1,
                 what="victim accepted e1")
        # The sync (DIFF, NEWLEADER) follows LEADERINFO at once; give a retry or two.
        time.sleep(3)
        victim_epoch = _epoch(ens.servers[VICTIM], "currentEpoch")
        # Step 3.
        ens.servers[other].kill()
        ens.servers[VICTIM].kill()
        for b in blockers:
            b.rmdir()
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
@pytest.mark.parametrize("victim_impl,other_impl", _cases())
def test_failed_diff_log_keeps_epoch_and_loses_no_acknowledged_write(
        tmp_path, victim_impl, other_impl):
    victim_epoch, e0, e1, missing = run_scenario(tmp_path, victim_impl, other_impl)
    assert e1 > e0
    assert victim_epoch == e0, (
        "the victim took epoch %d without its DIFF txns logged (was %d)" % (victim_epoch, e0))
    assert missing and all(m == [] for m in missing.values()), missing
