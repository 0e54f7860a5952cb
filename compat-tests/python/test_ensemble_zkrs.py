"""An ensemble of three zkserver nodes: one is elected leader, the others follow; writes
through any node are seen on every node with identical Stats; when the leader is killed the
other two elect a new one and carry on; the old leader comes back as a follower and catches
up.

Needs only zkserver (skipped unless ZK_IMPLS includes zkrs).
"""

import uuid

import pytest

import confignode
import zkharness
from zkharness import close_clients, mode, wait_for

pytestmark = zkharness.needs_impls("zkrs")


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    with zkharness.Ensemble(tmp_path_factory.mktemp("ensemble-zkrs")) as ens:
        yield ens.start_all({1: "zkrs", 2: "zkrs", 3: "zkrs"})


def _client(server):
    return server.client()


def test_one_leader_two_followers(ensemble):
    modes = sorted(mode(s) for s in ensemble.values())
    assert modes == ["follower", "follower", "leader"]
    assert mode(ensemble[3]) == "leader"


def test_zookeeper_config_as_java_writes_it(ensemble):
    """/zookeeper/config holds the server lines and version=0 as a Java member writes them
    (the bytes, stat and ACL a Java ensemble shows, test_ensemble*.py), on every node."""
    confignode.check(ensemble)


def test_writes_everywhere_same_stats(ensemble):
    zks = {sid: _client(s) for sid, s in ensemble.items()}
    try:
        base = "/z3-" + uuid.uuid4().hex[:8]
        zks[1].create(base, b"a")
        zks[2].create(base + "/seq-", b"", sequence=True)
        zks[3].create(base + "/seq-", b"", sequence=True)
        zks[1].set(base, b"b")
        e = _client(ensemble[2])
        e.create(base + "/eph", b"", ephemeral=True)
        for path in (base, base + "/seq-0000000000", base + "/seq-0000000001", base + "/eph"):
            got = {}
            for sid, zk in zks.items():
                zk.sync(path)
                got[sid] = zk.get(path)
            assert got[1] == got[2] == got[3], (path, got)
        close_clients(e)
        for zk in zks.values():
            zk.sync(base)
            assert sorted(zk.get_children(base)) == ["seq-0000000000", "seq-0000000001"]
    finally:
        close_clients(*zks.values())


def test_leader_killed_new_leader_then_old_one_follows(ensemble):
    leader = next(sid for sid, s in ensemble.items() if mode(s) == "leader")
    others = [sid for sid in ensemble if sid != leader]
    zk = _client(ensemble[others[0]])
    base = "/z3fail-" + uuid.uuid4().hex[:8]
    try:
        zk.create(base, b"before")
    finally:
        close_clients(zk)
    ensemble[leader].kill()
    wait_for(lambda: sorted(mode(ensemble[s]) for s in others) == ["follower", "leader"],
             timeout=60, what="a new leader among the other two")
    zks = [wait_for(lambda s=s: _client(ensemble[s]), what="a session") for s in others]
    try:
        zks[0].set(base, b"after")
        zks[1].create(base + "/c", b"")
        zks[1].sync(base)
        assert zks[1].get(base)[0] == b"after"
        ensemble[leader].start(wait=True, timeout=60)
        wait_for(lambda: mode(ensemble[leader]) == "follower", timeout=60,
                 what="the old leader following")
        back = _client(ensemble[leader])
        try:
            back.sync(base)
            assert back.get(base)[0] == b"after"
            assert back.get_children(base) == ["c"]
            assert back.get(base)[1] == zks[0].get(base)[1]
        finally:
            close_clients(back)
    finally:
        close_clients(*zks)
