"""Client-visible behaviours that differ between Java 3.8.0 and 3.9.3, against all four
implementations: each test states what each generation answers (zkharness.at_least), so
zkrs must answer as java and zkrs39 as java39.

- create2 inside multi: 3.9 keeps the header's op (ZOOKEEPER-4026) and answers it with a
  Create2Response and its Stat; 3.8.0 decays it to create. An unknown create mode fails the
  whole 3.9 multi with MarshallingError; 3.8 fails that op with BadArguments.
- watch notifications carry the zxid of the change in 3.9 (ZOOKEEPER-4655), -1 in 3.8.
- watch modes on one path from one connection coexist in 3.9 (ZOOKEEPER-4466); 3.8 keeps
  the last one registered. checkWatches/removeWatches know watcher types 4 (Persistent) and 5
  (PersistentRecursive) in 3.9 (ZOOKEEPER-4471/4472) and answer about the asking connection
  and one mode; 3.8 answers MarshallingError for them.
- exists needs READ on an existing node in 3.9.2+ (ZOOKEEPER-2590).
- the ConnectResponse has the readOnly byte only when the ConnectRequest had it (both).
- a write whose request record does not decode: MarshallingError under a new zxid in 3.8.0
  (an error txn), under the current one in 3.9 (the record is read before a zxid is taken),
  in the connection's order either way.
"""

import socket
import struct
import uuid

import pytest

import zkharness
import zkraw
from zkraw import Dec, Enc


@pytest.fixture
def c(raw_factory):
    return raw_factory()


@pytest.fixture
def base(c):
    path = "/b39_" + uuid.uuid4().hex[:8]
    c.create(path, b"")
    return path


def _events(c, wait=0.7):
    out = []
    while True:
        try:
            out.append(c.next_event(wait))
        except Exception:  # noqa: BLE001 -- queue.Empty: no more events
            return out


def test_create2_inside_multi(impl, c, base):
    ops = [(zkraw.OP_CREATE2, base + "/c2", zkraw.PERSISTENT),
           (zkraw.OP_CREATE, base + "/c1", zkraw.PERSISTENT),
           (zkraw.OP_CREATE2, base + "/c2container", zkraw.CONTAINER),
           (zkraw.OP_CREATE_CONTAINER, base + "/cc", zkraw.PERSISTENT)]
    err, results, zxid = c.multi_creates(ops)
    assert err == zkraw.OK
    types = [r[0] for r in results]
    if zkharness.at_least(impl, 3, 9):
        assert types == [zkraw.OP_CREATE2, zkraw.OP_CREATE, zkraw.OP_CREATE2, zkraw.OP_CREATE2]
        stat = results[0][3]
        assert stat == c.exists(base + "/c2")
        assert stat.czxid == stat.mzxid == zxid
    else:
        # 3.8.0 decays create2 (and a createContainer header without CONTAINER flags) to
        # create; only a container mode makes a createContainer with a Stat.
        assert types == [zkraw.OP_CREATE, zkraw.OP_CREATE, zkraw.OP_CREATE2, zkraw.OP_CREATE]
    assert [r[1] for r in results] == [0, 0, 0, 0]
    assert results[2][3] == c.exists(base + "/c2container")


@pytest.mark.parametrize("header_op", [zkraw.OP_CREATE, zkraw.OP_CREATE2])
def test_unknown_create_mode_inside_multi(impl, c, base, header_op):
    err, results, _ = c.multi_creates([(header_op, base + "/ok", zkraw.PERSISTENT),
                                         (header_op, base + "/bad", 7)])
    if zkharness.at_least(impl, 3, 9):
        assert (err, results) == (zkraw.MARSHALLING_ERROR, [])
    else:
        assert err == zkraw.OK
        assert [(r[0], r[1]) for r in results] == [(-1, 0), (-1, zkraw.BAD_ARGUMENTS)]
    assert c.exists(base + "/ok") is None
    assert c.exists("/") is not None, "the session survives"


def _write(c, op, body):
    r = c.call(op, body)
    assert r.err == zkraw.OK, r
    return r.zxid


def test_watch_events_carry_the_zxid_of_the_change(impl, c, base):
    def expected(z):
        return z if zkharness.at_least(impl, 3, 9) else -1

    p = base + "/x"
    c.get(base, watch=True)
    c.get_children(base, watch=True)
    c.exists(p, watch=True)
    z = _write(c, zkraw.OP_CREATE, Enc().string(p).buffer(b"").acls(zkraw.OPEN_ACL_UNSAFE)
               .int(0).bytes())
    evs = _events(c)
    assert sorted((e.type, e.path, e.zxid) for e in evs) == [
        (zkraw.EV_NODE_CREATED, p, expected(z)), (zkraw.EV_NODE_CHILDREN_CHANGED, base, expected(z))]
    c.exists(p, watch=True)
    z = _write(c, zkraw.OP_SET_DATA, Enc().string(p).buffer(b"1").int(-1).bytes())
    assert [(e.type, e.zxid) for e in _events(c)] == [(zkraw.EV_NODE_DATA_CHANGED, expected(z))]
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
    z = _write(c, zkraw.OP_DELETE, Enc().string(p).int(-1).bytes())
    assert [(e.type, e.path, e.zxid) for e in _events(c)] == [
        (zkraw.EV_NODE_DELETED, p, expected(z))]
    # Every sub-op of a multi fires with the multi's zxid.
    err, _, z = c.multi_creates([(zkraw.OP_CREATE, base + "/m1", 0),
                                   (zkraw.OP_CREATE, base + "/m2", 0)])
    assert err == zkraw.OK
    assert [(e.path, e.zxid) for e in _events(c)] == [
        (base + "/m1", expected(z)), (base + "/m2", expected(z))]


def test_watch_modes_on_one_path_coexist(impl, c, base):
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT)
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
    c.create(base + "/y", b"")
    got = [(e.type, e.path) for e in _events(c)]
    if zkharness.at_least(impl, 3, 9):
        # Persistent still sees the child list change; recursive sees the creation.
        assert got == [(zkraw.EV_NODE_CREATED, base + "/y"), (zkraw.EV_NODE_CHILDREN_CHANGED, base)]
    else:
        # 3.8: the recursive registration replaced the persistent one.
        assert got == [(zkraw.EV_NODE_CREATED, base + "/y")]
    # A one-shot data watch on top: one event; 3.9 keeps the persistent modes, in 3.8 the
    # standard registration replaced the recursive one in the data manager.
    c.get(base, watch=True)
    c.set(base, b"1")
    assert [(e.type, e.path) for e in _events(c)] == [(zkraw.EV_NODE_DATA_CHANGED, base)]
    c.set(base, b"2")
    again = [(e.type, e.path) for e in _events(c)]
    assert again == ([(zkraw.EV_NODE_DATA_CHANGED, base)] if zkharness.at_least(impl, 3, 9) else [])


def test_recursive_watch_never_sees_children_changed(impl, c, base):
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
    c.create(base + "/z", b"")
    c.delete(base + "/z")
    assert [(e.type, e.path) for e in _events(c)] == [
        (zkraw.EV_NODE_CREATED, base + "/z"), (zkraw.EV_NODE_DELETED, base + "/z")]


def _codes(c, path, call):
    return {t: call(path, t).err for t in (1, 2, 3, 4, 5)}


def test_check_and_remove_watches_by_mode(impl, c, base, raw_factory):
    v39 = zkharness.at_least(impl, 3, 9)
    ok, none, bad = zkraw.OK, zkraw.NO_WATCHER, zkraw.MARSHALLING_ERROR
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT)
    c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
    c.get(base, watch=True)
    if v39:
        # Children asks for a standard child watch: the persistent one is not that.
        assert _codes(c, base, c.check_watches) == {1: none, 2: ok, 3: ok, 4: ok, 5: ok}
    else:
        assert _codes(c, base, c.check_watches) == {1: ok, 2: ok, 3: ok, 4: bad, 5: bad}
    # Another connection without watches: 3.9 answers for the asking connection only.
    other = raw_factory()
    assert other.check_watches(base, 3).err == (none if v39 else ok)
    if v39:
        assert c.remove_watches(base, 4).err == ok
        assert c.remove_watches(base, 4).err == none
        assert _codes(c, base, c.check_watches) == {1: none, 2: ok, 3: ok, 4: none, 5: ok}
        assert c.remove_watches(base, 5).err == ok
        assert c.remove_watches(base, 2).err == ok
        assert _codes(c, base, c.check_watches) == {1: none, 2: none, 3: none, 4: none, 5: none}
        c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT)
        assert c.remove_watches(base, 1).err == none
    else:
        assert c.remove_watches(base, 4).err == bad
        assert c.remove_watches(base, 5).err == bad
        assert c.remove_watches(base, 2).err == ok
        assert _codes(c, base, c.check_watches) == {1: ok, 2: none, 3: ok, 4: bad, 5: bad}
        c.add_watch(base, zkraw.ADD_WATCH_PERSISTENT)
        assert c.remove_watches(base, 1).err == ok
    assert c.remove_watches(base, 6).err == bad
    assert c.check_watches(base, 6).err == bad
    # The server sends no "watch removed" events: the Java client makes those up.
    assert c.no_event(0.3)


def test_exists_needs_read(impl, c, base):
    secret = base + "/secret"
    write_only = [(2, "world", "anyone")]  # Perms.WRITE only
    c.call(zkraw.OP_CREATE2, Enc().string(secret).buffer(b"").acls(write_only).int(0).bytes())
    r = c.call(zkraw.OP_EXISTS, Enc().string(secret).bool(True).bytes())
    if zkharness.at_least(impl, 3, 9):
        assert r.err == zkraw.NO_AUTH
    else:
        assert r.err == zkraw.OK and Dec(r.body).stat().version == 0
    # Below it, nothing exists: NoNode either way (no ACL to check).
    r = c.call(zkraw.OP_EXISTS, Enc().string(secret + "/nope").bool(False).bytes())
    assert r.err == zkraw.NO_NODE
    # A refused exists registers no watch.
    v39 = zkharness.at_least(impl, 3, 9)
    assert c.check_watches(secret, 2).err == (zkraw.NO_WATCHER if v39 else zkraw.OK)
    # Either way no event reaches a connection that may not read the node.
    assert c.set(secret, b"z").version == 1
    assert c.no_event(0.5)
    assert c.exists("/") is not None, "the session survives"


@pytest.mark.parametrize("read_only_byte", [False, True])
def test_connect_response_mirrors_the_request(server, read_only_byte):
    body = Enc().int(0).long(0).int(10000).long(0).buffer(b"\0" * 16)
    if read_only_byte:
        body.bool(False)
    b = body.bytes()
    assert len(b) == (45 if read_only_byte else 44)
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(b)) + b)
        (n,) = struct.unpack(">i", s.recv(4))
    assert n == (37 if read_only_byte else 36)


def test_undecodable_write_behind_pending_writes(impl, c, base):
    """create, a setData cut inside its path, create: pipelined in one go. The answers come
    in order; 3.8 gives the broken write a zxid of its own, 3.9 answers it under the zxid of
    the create before it."""
    create = lambda p: Enc().string(p).buffer(b"").acls(zkraw.OPEN_ACL_UNSAFE).int(0).bytes()
    cut = Enc().string(base + "/x").buffer(b"v").int(-1).bytes()[:5]
    slots = [c.send(zkraw.OP_CREATE, create(base + "/a")),
             c.send(zkraw.OP_SET_DATA, cut),
             c.send(zkraw.OP_CREATE, create(base + "/b"))]
    first, bad, last = [s.get(timeout=10) for s in slots]
    assert (first.err, bad.err, last.err) == (zkraw.OK, zkraw.MARSHALLING_ERROR, zkraw.OK)
    assert first.xid < bad.xid < last.xid
    if zkharness.at_least(impl, 3, 9):
        assert (bad.zxid, last.zxid) == (first.zxid, first.zxid + 1)
    else:
        assert (bad.zxid, last.zxid) == (first.zxid + 1, first.zxid + 2)
    assert c.exists(base + "/b") is not None
