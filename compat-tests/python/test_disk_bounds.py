"""Every role keeps its disk bounded, as Java's do: in an ensemble the leader, the followers
and an observer each snapshot every ~snapCount txns and start a new txn log file at each
snapshot (Java's SyncRequestProcessor), so autopurge (run at startup, then every
purgeInterval hours, in every role) can delete the old ones. A member whose log never rolled
would keep one ever-growing file that no purge may delete.

Each impl runs a 3-node ensemble plus one observer of its own kind, with the same zoo.cfg.
"""

import os
import time

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for

SNAP_COUNT = 200
WRITES = 3000
RETAIN = 3


def _files(server):
    """(logs, snapshots) of a member: {name: size}."""
    logs, snaps = {}, {}
    d = server.data_dir / "version-2"
    for name in os.listdir(d):
        if name.startswith("log."):
            logs[name] = os.path.getsize(d / name)
        elif name.startswith("snapshot."):
            snaps[name] = os.path.getsize(d / name)
    return logs, snaps


def _zxid(name):
    return int(name.split(".", 1)[1], 16)


@pytest.fixture(scope="module")
def ensemble(impl, tmp_path_factory):
    extra = {"snapCount": str(SNAP_COUNT), "autopurge.snapRetainCount": str(RETAIN),
             "autopurge.purgeInterval": "1"}
    with zkharness.Ensemble(tmp_path_factory.mktemp("disk-" + impl), n=4, extra=extra,
                            observers=(4,)) as ens:
        ens.start_all({1: impl, 2: impl, 3: impl, 4: impl})
        zk = ens.servers[1].client()
        try:
            zk.create("/bounded", b"")
            for i in range(WRITES):
                zk.create("/bounded/n%d" % i, b"x" * 100)
            zk.sync("/bounded")
        finally:
            close_clients(zk)
        yield ens


def test_every_role_snapshots_and_rolls_its_log(ensemble):
    roles = {}
    for sid, srv in ensemble.servers.items():
        roles[sid] = mode(srv)
        # The last writes reach every member before its files are counted.
        wait_for(lambda: len(_files(srv)[0]) >= 5, timeout=30,
                 what="node %d (%s) rolls its log" % (sid, roles[sid]))
        logs, snaps = _files(srv)
        # ~3000 txns at one snapshot per 100..200 txns: many snapshots, and a new log at each.
        assert len(snaps) >= 10, (sid, roles[sid], sorted(snaps))
        assert len(logs) >= len(snaps) - 2, (sid, roles[sid], sorted(logs), sorted(snaps))
        # No log file holds more than about two snapshot intervals of txns.
        starts = sorted(_zxid(n) for n in logs)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert max(gaps) <= 2 * SNAP_COUNT, (sid, roles[sid], gaps)
    assert sorted(roles.values()) == ["follower", "follower", "leader", "observer"], roles


def test_autopurge_at_startup_keeps_what_recovery_needs(ensemble, impl):
    # Restart each member in turn: the purge runs at startup (Java's timer starts at 0).
    for sid in sorted(ensemble.servers):
        srv = ensemble.servers[sid]
        srv.stop()
        ensemble.start(sid, impl, wait=True)
        srv = ensemble.servers[sid]

        def purged():
            logs, snaps = _files(srv)
            return len(snaps) <= RETAIN + 1
        wait_for(purged, timeout=30, what="node %d purged" % sid)
        logs, snaps = _files(srv)
        oldest_kept = min(_zxid(n) for n in snaps)
        # Logs before the one holding the oldest kept snapshot's next txn are gone.
        older = [n for n in logs if _zxid(n) <= oldest_kept]
        assert len(older) <= 1, (sid, sorted(logs), sorted(snaps))
        assert len(logs) <= RETAIN + 3, (sid, sorted(logs), sorted(snaps))
    # Nothing acknowledged was lost: every member serves the whole tree.
    for sid, srv in ensemble.servers.items():
        zk = srv.client()
        try:
            zk.sync("/bounded")
            assert len(zk.get_children("/bounded")) == WRITES, sid
        finally:
            close_clients(zk)
