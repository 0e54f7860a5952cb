"""An ensemble of three zkserver nodes: one is elected leader, the others follow; writes
through any node are seen on every node with identical Stats; when the leader is killed the
other two elect a new one and carry on; the old leader comes back as a follower and catches
up.

Needs only zkserver (skipped unless ZK_IMPLS includes zkrs).
"""

import os
import time
import uuid

import pytest

import zkharness

pytestmark = pytest.mark.skipif(
    "zkrs" not in set(i.strip() for i in os.environ.get("ZK_IMPLS", "java,zkrs").split(",")),
    reason="needs zkrs")

TICK = 1000


def _wait(cond, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


def _mode(server):
    try:
        out = server.four_letter("srvr")
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):]
    return None


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble-zkrs")
    ports = {sid: (zkharness.free_port(), zkharness.free_port(), zkharness.free_port())
             for sid in (1, 2, 3)}
    base = {"server.%d" % sid: "127.0.0.1:%d:%d" % (q, e) for sid, (_, q, e) in ports.items()}
    base.update(tickTime=str(TICK), initLimit="10", syncLimit="5")
    servers = {}
    for sid in (1, 2, 3):
        srv = zkharness.Server("zkrs", tmp / ("zkrs-%d" % sid), ports[sid][0], dict(base),
                               myid=sid)
        srv.start(wait=False)
        servers[sid] = srv
    try:
        for srv in servers.values():
            srv.wait_ready(timeout=60)
        yield servers
    finally:
        for srv in servers.values():
            srv.kill()


def _client(server):
    return server.client()


def _close(*zks):
    for zk in zks:
        try:
            zk.stop()
            zk.close()
        except Exception:  # noqa: BLE001
            pass


def test_one_leader_two_followers(ensemble):
    modes = sorted(_mode(s) for s in ensemble.values())
    assert modes == ["follower", "follower", "leader"]
    assert _mode(ensemble[3]) == "leader"


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
        _close(e)
        for zk in zks.values():
            zk.sync(base)
            assert sorted(zk.get_children(base)) == ["seq-0000000000", "seq-0000000001"]
    finally:
        _close(*zks.values())


def test_leader_killed_new_leader_then_old_one_follows(ensemble):
    leader = next(sid for sid, s in ensemble.items() if _mode(s) == "leader")
    others = [sid for sid in ensemble if sid != leader]
    zk = _client(ensemble[others[0]])
    base = "/z3fail-" + uuid.uuid4().hex[:8]
    try:
        zk.create(base, b"before")
    finally:
        _close(zk)
    ensemble[leader].kill()
    _wait(lambda: sorted(_mode(ensemble[s]) for s in others) == ["follower", "leader"],
          timeout=60, what="a new leader among the other two")
    zks = [_wait(lambda s=s: _client(ensemble[s]), what="a session") for s in others]
    try:
        zks[0].set(base, b"after")
        zks[1].create(base + "/c", b"")
        zks[1].sync(base)
        assert zks[1].get(base)[0] == b"after"
        ensemble[leader].start(wait=True, timeout=60)
        _wait(lambda: _mode(ensemble[leader]) == "follower", timeout=60,
              what="the old leader following")
        back = _client(ensemble[leader])
        try:
            back.sync(base)
            assert back.get(base)[0] == b"after"
            assert back.get_children(base) == ["c"]
            assert back.get(base)[1] == zks[0].get(base)[1]
        finally:
            _close(back)
    finally:
        _close(*zks)
