"""Seven-member ensembles: five voters and two observers, and seven voters, each impl alone
and Java and zkserver mixed in one ensemble, under continuous writers that reach every member.

Each run starts the members, checks the roles every member reports, runs three writers for WRITE_SECONDS (each a
kazoo client knowing every member in its own order, so writes also arrive through followers
and observers and move on when their member dies), kills the leader with SIGKILL a third of the
way in, waits for the survivors to elect a new one, restarts the old leader as the same impl
and lets it rejoin. Then it asserts: writes were acknowledged after the kill (the ensemble
carried on), every acknowledged create is on every member after a sync, and every member
holds the same children with the same data and Stat.
"""

import random
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError

import zkharness
from zkharness import close_clients, mode, wait_for

WRITE_SECONDS = 24
BASE = "/large"


def _layouts():
    """(observers, {sid: impl}) per run: Java 3.8 and zkserver each alone with 5 voters + 2
    observers, then mixed (odd ids the reference, even ids ours): 5 + 2 for the first pair
    and 7 voters for every pair."""
    impls = zkharness.selected_impls()
    runs = []
    for impl in ("java", "zkrs"):
        if impl in impls:
            runs.append(pytest.param((6, 7), {sid: impl for sid in range(1, 8)},
                                     id="5+2-%s" % impl))
    for n, (ref, ours) in enumerate(zkharness.pairs()):
        mixed = {sid: (ref if sid % 2 else ours) for sid in range(1, 8)}
        if n == 0:  # one mixed 5 + 2 run is enough: the 7-voter runs cover each generation
            runs.append(pytest.param((6, 7), mixed, id="5+2-mixed-%s-%s" % (ref, ours)))
        runs.append(pytest.param((), mixed, id="7-mixed-%s-%s" % (ref, ours)))
    return runs


class Writers:
    """Writer threads creating BASE/w<k>-<n>; `acked` holds each create the server answered OK
    (a create whose answer was lost may or may not have happened: it is not counted)."""

    def __init__(self, hosts, count=3):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}
        self.acked_at = []
        self.clients = []
        for k in range(count):
            order = list(hosts)
            random.Random(k).shuffle(order)
            zk = KazooClient(hosts=",".join(order), timeout=10.0,
                             logger=zkharness._quiet_logger())
            zk.start(timeout=30)
            self.clients.append(zk)
        self.threads = [threading.Thread(target=self._run, args=(k, zk), daemon=True)
                        for k, zk in enumerate(self.clients)]

    def _run(self, k, zk):
        n = 0
        while not self.stop.is_set():
            path = "%s/w%d-%06d" % (BASE, k, n)
            data = ("%d:%d" % (k, n)).encode()
            n += 1
            try:
                zk.create(path, data)
            except NodeExistsError:
                # an earlier attempt whose answer was lost did happen: not acknowledged to us
                continue
            except KazooException:
                time.sleep(0.1)
                continue
            with self.lock:
                self.acked[path] = data
                self.acked_at.append(time.monotonic())

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        close_clients(*self.clients)


def _tree(srv):
    """{child: (data, Stat)} of BASE on one member, after a sync through that member."""
    zk = srv.client(timeout=15.0)
    try:
        zk.sync(BASE)
        out = {}
        for child in zk.get_children(BASE):
            data, stat = zk.get("%s/%s" % (BASE, child))
            out[child] = (data, stat)
        return out
    finally:
        close_clients(zk)


@pytest.mark.parametrize("observers,layout", _layouts())
def test_seven_members_survive_a_leader_kill(observers, layout, tmp_path):
    voters = [sid for sid in layout if sid not in observers]
    with zkharness.Ensemble(tmp_path, n=7, observers=observers) as ens:
        ens.start_all(layout, timeout=90)
        # whichever voters form the first quorum elect the highest of them (slow starters
        # may miss it), so any voter may lead
        first = wait_for(ens.leader, timeout=60, what="a leader")
        assert first in voters
        roles = {sid: mode(srv) for sid, srv in ens.servers.items()}
        for sid, role in roles.items():
            want = "observer" if sid in observers else ("leader" if sid == first else "follower")
            assert role == want, roles

        zk = ens.servers[first].client()
        try:
            zk.create(BASE, b"")
        finally:
            close_clients(zk)

        hosts = [srv.connect_string for srv in ens.servers.values()]
        with Writers(hosts) as w:
            time.sleep(WRITE_SECONDS / 3)
            killed_at = time.monotonic()
            ens.servers[first].kill()
            survivors = {sid: s for sid, s in ens.servers.items() if sid != first}
            new = wait_for(lambda: next((sid for sid, s in survivors.items()
                                         if mode(s) == "leader"), None),
                           timeout=60, what="a new leader among the survivors")
            assert new in voters and new != first
            time.sleep(WRITE_SECONDS / 3)
            ens.start(first, layout[first], wait=True, timeout=90)
            wait_for(lambda: mode(ens.servers[first]) == "follower", timeout=60,
                     what="the old leader rejoining as a follower")
            time.sleep(WRITE_SECONDS / 3)
        after_kill = [t for t in w.acked_at if t > killed_at]
        assert after_kill, "no write was acknowledged after the leader was killed"
        assert len(w.acked) > 50, "only %d writes acknowledged" % len(w.acked)

        trees = {sid: _tree(srv) for sid, srv in sorted(ens.servers.items())}
        for sid, tree in trees.items():
            lost = [p for p in w.acked if p.rsplit("/", 1)[1] not in tree]
            assert not lost, "member %d (%s) lacks %d acknowledged creates, e.g. %s" % (
                sid, layout[sid], len(lost), lost[:3])
            for path, data in w.acked.items():
                assert tree[path.rsplit("/", 1)[1]][0] == data, (sid, path)
        reference = trees[first]
        for sid, tree in trees.items():
            assert tree == reference, "member %d (%s) differs from member %d (%s)" % (
                sid, layout[sid], first, layout[first])
