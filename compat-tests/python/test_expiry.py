"""One session with many ephemerals goes (closeSession, or expiry after its connection
dropped): the close is one txn, so a reader never sees part of the session's ephemerals —
every getChildren of their parent lists all of them or none (Java's guarantee), and the
watches fire once each: NodeChildrenChanged on the parent, NodeDeleted on a watched
ephemeral.

Standalone against every implementation, and in 3-node ensembles of each kind and mixed
(the reader on a follower of the other implementation's leader: the follower applies the
leader's closeSession txn).
"""

import threading
import time
import uuid

import pytest

import zkharness
import zkraw
from zkraw import EPHEMERAL, OP_CREATE, Enc

N = 3000
NODE_DELETED = 2
NODE_CHILDREN_CHANGED = 4
CASES = zkharness.ALONE_AND_MIXED


def create_ephemerals(c: zkraw.RawClient, parent: str, n: int) -> None:
    """n ephemerals parent/e<i>, pipelined 500 at a time."""
    for start in range(0, n, 500):
        slots = [c.send(OP_CREATE, Enc().string("%s/e%d" % (parent, i)).buffer(b"x")
                        .acls(zkraw.OPEN_ACL_UNSAFE).int(EPHEMERAL).bytes())
                 for i in range(start, min(n, start + 500))]
        for s in slots:
            r = s.get(timeout=30)
            assert r is not None and r.err == 0, r


def children(at, parent: str) -> int:
    with zkraw.RawClient(*at) as c:
        return len(c.get_children(parent))


class Reader:
    """Asks getChildren of `parent` one request after another until stopped; keeps every
    count seen."""

    def __init__(self, host: str, port: int, parent: str):
        self.c = zkraw.RawClient(host, port, timeout_ms=30000)
        self.parent = parent
        self.counts = []
        self.stop = threading.Event()
        self.error = None
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while not self.stop.is_set():
                self.counts.append(len(self.c.get_children(self.parent)))
        except Exception as e:  # noqa: BLE001 -- reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.t.join(30)
        self.c.close()
        assert self.error is None, self.error
        return self.counts


def close_and_check(owner: zkraw.RawClient, how: str, reader_at, watcher_at, parent: str):
    """`owner` holds N ephemerals under `parent`; close its session (`how`: "close" or
    "expire") and check what the reader and the watcher see."""
    w = zkraw.RawClient(*watcher_at, timeout_ms=30000)
    try:
        assert len(w.get_children(parent, watch=True)) == N
        watched = ["%s/e0" % parent, "%s/e%d" % (parent, N - 1)]
        for p in watched:
            assert w.exists(p, watch=True) is not None
        reader = Reader(*reader_at, parent)
        zkharness.wait_for(lambda: len(reader.counts) >= 3, what="first reads")
        if how == "close":
            owner.close()
        else:
            owner.drop()
        zkharness.wait_for(lambda: reader.counts and reader.counts[-1] == 0, timeout=60,
                           what="the ephemerals gone")
        time.sleep(0.3)
        counts = reader.finish()
        partial = sorted({c for c in counts if c not in (0, N)})
        assert partial == [], "a reader saw part of the session's ephemerals: %r" % partial[:10]
        assert counts[0] == N and counts[-1] == 0
        events = []
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            try:
                events.append(w.next_event(timeout=1))
            except Exception:  # noqa: BLE001 -- queue.Empty: wait on
                pass
        assert w.no_event(0.5)
        got = sorted((e.type, e.path) for e in events)
        want = sorted([(NODE_CHILDREN_CHANGED, parent)]
                      + [(NODE_DELETED, p) for p in watched])
        assert got == want
    finally:
        w.close()


def _owner_of_ephemerals(srv):
    """A session on `srv` (4 s timeout) that owns N ephemerals under a fresh parent:
    (its raw client, the parent)."""
    parent = "/expiry-%s" % uuid.uuid4().hex[:8]
    with zkraw.RawClient(srv.host, srv.port) as admin:
        admin.create(parent)
    owner = zkraw.RawClient(srv.host, srv.port, timeout_ms=4000)
    create_ephemerals(owner, parent, N)
    return owner, parent


@pytest.mark.parametrize("how", ["close", "expire"])
def test_a_reader_sees_all_or_none_of_a_closing_sessions_ephemerals(server, how):
    owner, parent = _owner_of_ephemerals(server)
    at = (server.host, server.port)
    close_and_check(owner, how, at, at, parent)


@pytest.mark.parametrize("follower_impl,leader_impl",
                         zkharness.victim_cases(CASES, "%s-follower-of-%s"))
def test_a_follower_applies_the_close_in_one_piece(tmp_path, follower_impl, leader_impl):
    # Node 3 (the highest id) leads; node 1 is the reader's follower, node 2 holds the
    # session.
    impls = {1: follower_impl, 2: leader_impl, 3: leader_impl}
    with zkharness.Ensemble(tmp_path, tick=1000) as ens:
        ens.start_all(impls, timeout=90)
        zkharness.wait_for(lambda: ens.leader() is not None, what="a leader")
        assert zkharness.mode(ens.servers[1]) == "follower"
        s1, s2 = ens.servers[1], ens.servers[2]
        owner, parent = _owner_of_ephemerals(s2)
        at1 = (s1.host, s1.port)
        zkharness.wait_for(lambda: children(at1, parent) == N,
                           what="the follower has every ephemeral")
        close_and_check(owner, "expire", at1, at1, parent)
