"""kazoo (and, where kazoo 2.8 cannot reach, raw protocol) against Java 3.8 and zk-rs.

Every assertion here is what the Java 3.8 server does; the same test must pass on both.
Fixtures (conftest.py): `server`, `zk` (kazoo client, unique `zk.base`), `zk_factory`,
`raw`/`raw_factory` (zkraw.RawClient, for what kazoo 2.8 lacks: TTL/container creates,
addWatch, removeWatches, multiRead, reply headers, error codes kazoo does not know).
"""

import queue
import re
import threading
import time

import pytest
from kazoo.client import KazooState
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.security import ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Id, make_acl, make_digest_acl

import zkharness
import zkraw

EVENT_TIMEOUT = 10.0


class Events:
    """Collects kazoo watch callbacks (they run on kazoo's callback thread)."""

    def __init__(self):
        self.q = queue.Queue()

    def __call__(self, event):
        self.q.put(event)

    def next(self, timeout=EVENT_TIMEOUT):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no watch event within %ss" % timeout) from None

    def none(self, wait=0.5):
        try:
            ev = self.q.get(timeout=wait)
        except queue.Empty:
            return True
        raise AssertionError("unexpected watch event %r" % (ev,))


def raw_event(client, timeout=EVENT_TIMEOUT):
    try:
        return client.next_event(timeout)
    except queue.Empty:
        raise AssertionError("no watch event within %ss" % timeout) from None


def raw_code(fn, *args, **kwargs):
    """Run a zkraw call that must fail; return its error code."""
    with pytest.raises(zkraw.ZkError) as info:
        fn(*args, **kwargs)
    return info.value.code


# --------------------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------------------


def test_create_persistent_returns_path_and_stores_data(zk):
    path = zk.base + "/node"
    assert zk.create(path, b"hello") == path
    data, stat = zk.get(path)
    assert data == b"hello"
    assert stat.dataLength == 5


def test_create2_stat_fields_on_new_node(zk):
    path, stat = zk.create(zk.base + "/n", b"abc", include_data=True)
    assert path == zk.base + "/n"
    assert stat.czxid == stat.mzxid == stat.pzxid
    assert stat.czxid > 0
    assert stat.ctime == stat.mtime
    assert (stat.version, stat.cversion, stat.aversion) == (0, 0, 0)
    assert stat.ephemeralOwner == 0
    assert stat.dataLength == 3
    assert stat.numChildren == 0
    assert zk.exists(path) == stat


def test_create_existing_node_raises_node_exists(zk):
    zk.create(zk.base + "/dup", b"first")
    with pytest.raises(NodeExistsError):
        zk.create(zk.base + "/dup", b"second")
    assert zk.get(zk.base + "/dup")[0] == b"first"


def test_create_without_parent_raises_no_node(zk):
    with pytest.raises(NoNodeError):
        zk.create(zk.base + "/missing/child")


def test_create_makepath_creates_parents(zk):
    zk.create(zk.base + "/a/b/c", b"leaf", makepath=True)
    assert zk.get(zk.base + "/a/b/c")[0] == b"leaf"
    assert zk.get_children(zk.base + "/a") == ["b"]


def test_sequential_names_are_ten_digit_counter(zk):
    names = [zk.create(zk.base + "/job-", sequence=True) for _ in range(3)]
    assert names == [zk.base + "/job-%010d" % i for i in range(3)]
    assert zk.create(zk.base + "/other-", sequence=True) == zk.base + "/other-0000000003"


def test_sequential_with_trailing_slash_is_bare_counter(zk):
    assert zk.create(zk.base + "/", sequence=True) == zk.base + "/0000000000"
    assert zk.create(zk.base + "/", sequence=True) == zk.base + "/0000000001"


def test_sequence_counts_creates_while_cversion_counts_changes(zk):
    # Java stores the number of child creates and reports cversion = 2*creates - children:
    # a delete bumps the reported cversion but not the sequence counter.
    zk.create(zk.base + "/a")
    zk.delete(zk.base + "/a")
    assert zk.exists(zk.base).cversion == 2
    assert zk.create(zk.base + "/s", sequence=True) == zk.base + "/s0000000001"
    stat = zk.exists(zk.base)
    assert (stat.cversion, stat.numChildren) == (3, 1)


def test_sequence_counter_in_failed_transaction_not_consumed(zk):
    zk.create(zk.base + "/x")
    tx = zk.transaction()
    tx.create(zk.base + "/s", sequence=True)
    tx.create(zk.base + "/x")  # fails: the whole multi rolls back
    tx.commit()
    assert zk.get_children(zk.base) == ["x"]
    assert zk.create(zk.base + "/s", sequence=True) == zk.base + "/s0000000001"


def test_ephemeral_owner_is_session_id(zk):
    path, stat = zk.create(zk.base + "/eph", b"e", ephemeral=True, include_data=True)
    assert stat.ephemeralOwner == zk.client_id[0]
    assert zk.exists(path).ephemeralOwner == zk.client_id[0]


def test_ephemeral_sequential(zk):
    p1 = zk.create(zk.base + "/lock-", ephemeral=True, sequence=True)
    p2 = zk.create(zk.base + "/lock-", ephemeral=True, sequence=True)
    assert (p1, p2) == (zk.base + "/lock-0000000000", zk.base + "/lock-0000000001")
    assert zk.exists(p2).ephemeralOwner == zk.client_id[0]


def test_ephemeral_cannot_have_children(zk):
    zk.create(zk.base + "/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(zk.base + "/eph/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(zk.base + "/eph/child", sequence=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(zk.base + "/eph/child", ephemeral=True)


def test_container_node_reports_no_ephemeral_owner(zk, raw):
    path, stat = raw.create(zk.base + "/c", b"cd", zkraw.CONTAINER)
    assert path == zk.base + "/c"
    assert stat.ephemeralOwner == 0
    assert stat.czxid == stat.mzxid == stat.pzxid
    data, zstat = zk.get(path)
    assert data == b"cd"
    assert zstat.ephemeralOwner == 0
    zk.create(path + "/child")
    assert zk.get_children(path) == ["child"]


def test_ttl_node_reports_no_ephemeral_owner(zk, raw):
    path, stat = raw.create(zk.base + "/t", b"td", zkraw.PERSISTENT_WITH_TTL, ttl=60000)
    assert path == zk.base + "/t"
    assert stat.ephemeralOwner == 0  # Java hides the TTL encoding from clients
    assert stat.dataLength == 2
    assert zk.exists(path).ephemeralOwner == 0
    seq, _ = raw.create(zk.base + "/t-", b"", zkraw.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=1)
    assert seq == zk.base + "/t-0000000001"


def test_ttl_and_flag_validation_is_bad_arguments(zk, raw):
    b = zk.base
    max_ttl = (1 << 40) - 1
    assert raw.create(b + "/max", b"", zkraw.PERSISTENT_WITH_TTL, ttl=max_ttl)[0] == b + "/max"
    assert raw_code(raw.create, b + "/t0", b"", zkraw.PERSISTENT_WITH_TTL, ttl=0) == -8
    assert raw_code(raw.create, b + "/tneg", b"", zkraw.PERSISTENT_WITH_TTL, ttl=-5) == -8
    assert raw_code(raw.create, b + "/tbig", b"", zkraw.PERSISTENT_WITH_TTL,
                    ttl=max_ttl + 1) == -8
    # TTL op with a non-TTL mode, and a TTL mode on plain create2 / create
    assert raw_code(raw.create, b + "/tp", b"", zkraw.PERSISTENT, ttl=100,
                    op=zkraw.OP_CREATE_TTL) == -8
    assert raw_code(raw.create, b + "/te", b"", zkraw.EPHEMERAL, ttl=100,
                    op=zkraw.OP_CREATE_TTL) == -8
    assert raw_code(raw.create, b + "/t2", b"", zkraw.PERSISTENT_WITH_TTL,
                    op=zkraw.OP_CREATE2) == -8
    assert raw_code(raw.create, b + "/t1", b"", zkraw.PERSISTENT_WITH_TTL,
                    op=zkraw.OP_CREATE) == -8
    assert raw_code(raw.create, b + "/bad", b"", 9) == -8  # no such CreateMode
    assert zk.get_children(b) == ["max"]


def test_container_flag_accepted_on_plain_create_ops(zk, raw):
    # Java does not insist on createContainer for CONTAINER mode.
    assert raw.create(zk.base + "/c1", b"", zkraw.CONTAINER, op=zkraw.OP_CREATE)[0] == \
        zk.base + "/c1"
    assert raw.create(zk.base + "/c2", b"", zkraw.CONTAINER, op=zkraw.OP_CREATE2)[0] == \
        zk.base + "/c2"


def test_invalid_paths(zk, raw):
    b = zk.base
    assert raw_code(raw.create, "relative") == -8
    assert raw_code(raw.create, "//x") == -8
    assert raw_code(raw.create, b + "//x") == -101  # parent "<base>/" looked up first
    assert raw_code(raw.create, b + "/.") == -8
    assert raw_code(raw.create, b + "/..") == -8
    assert raw_code(raw.create, b + "/a\u0000b") == -8
    assert raw_code(raw.create, b + "/") == -8  # trailing slash, parent exists
    assert raw_code(raw.create, b + "/missing/x/") == -101  # parent looked up first
    assert raw.create(b + "/a.b")[0] == b + "/a.b"  # dots inside a name are fine
    # reads of a malformed path answer NoNode, deletes BadArguments
    assert raw.call(zkraw.OP_GET_DATA, zkraw.Enc().string("nope").bool(False).bytes()).err == -101
    assert raw.call(zkraw.OP_EXISTS, zkraw.Enc().string("nope").bool(False).bytes()).err == -101
    assert raw.call(zkraw.OP_DELETE, zkraw.Enc().string("nope").int(-1).bytes()).err == -8


def test_oversized_request_drops_connection_but_not_session(zk):
    sid = zk.client_id[0]
    almost = b"x" * (1024 * 1024 - 1024)
    zk.create(zk.base + "/big", almost)
    assert zk.get(zk.base + "/big")[0] == almost
    with pytest.raises(ConnectionLoss):
        zk.create(zk.base + "/huge", b"x" * (1024 * 1024 + 1))
    # kazoo reconnects and resumes the same session
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline and not zk.connected:
        time.sleep(0.05)
    assert zk.exists(zk.base + "/huge") is None
    assert zk.client_id[0] == sid


# --------------------------------------------------------------------------------------
# get / set / delete and Stat
# --------------------------------------------------------------------------------------


def test_set_increments_version_and_moves_mzxid(zk):
    path, created = zk.create(zk.base + "/v", b"0", include_data=True)
    s1 = zk.set(path, b"11")
    assert s1.version == 1
    assert s1.czxid == created.czxid
    assert s1.mzxid > created.mzxid
    assert s1.pzxid == created.pzxid
    assert s1.ctime == created.ctime
    assert s1.mtime >= created.mtime
    assert s1.dataLength == 2
    s2 = zk.set(path, b"")
    assert s2.version == 2
    assert s2.dataLength == 0
    assert zk.get(path) == (b"", s2)


def test_set_with_version(zk):
    path = zk.create(zk.base + "/v", b"a")
    assert zk.set(path, b"b", version=0).version == 1
    with pytest.raises(BadVersionError):
        zk.set(path, b"c", version=0)
    assert zk.get(path)[0] == b"b"
    assert zk.set(path, b"d", version=-1).version == 2


def test_set_and_get_missing_node_raise_no_node(zk):
    with pytest.raises(NoNodeError):
        zk.get(zk.base + "/none")
    with pytest.raises(NoNodeError):
        zk.set(zk.base + "/none", b"x")
    assert zk.exists(zk.base + "/none") is None


def test_delete_with_version(zk):
    path = zk.create(zk.base + "/d")
    zk.set(path, b"1")
    with pytest.raises(BadVersionError):
        zk.delete(path, version=0)
    zk.delete(path, version=1)
    assert zk.exists(path) is None


def test_delete_missing_is_no_node_even_with_version(zk):
    with pytest.raises(NoNodeError):
        zk.delete(zk.base + "/none")
    with pytest.raises(NoNodeError):
        zk.delete(zk.base + "/none", version=5)


def test_delete_with_children_raises_not_empty(zk):
    zk.create(zk.base + "/p/c", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(zk.base + "/p")
    zk.delete(zk.base + "/p/c")
    zk.delete(zk.base + "/p")


def test_binary_data_round_trips(zk):
    data = bytes(range(256)) * 4
    zk.create(zk.base + "/bin", data)
    got, stat = zk.get(zk.base + "/bin")
    assert got == data
    assert stat.dataLength == 1024


def test_parent_stat_tracks_children(zk):
    parent = zk.base + "/p"
    _, p0 = zk.create(parent, b"pd", include_data=True)
    _, child = zk.create(parent + "/c1", include_data=True)
    p1 = zk.exists(parent)
    assert (p1.cversion, p1.numChildren, p1.pzxid) == (1, 1, child.czxid)
    assert (p1.version, p1.mzxid, p1.mtime) == (p0.version, p0.mzxid, p0.mtime)
    zk.set(parent + "/c1", b"child data does not touch the parent")
    assert zk.exists(parent) == p1
    zk.delete(parent + "/c1")
    p2 = zk.exists(parent)
    assert (p2.cversion, p2.numChildren) == (2, 0)
    assert p2.pzxid > child.czxid
    assert p2.mzxid == p0.mzxid


def test_zxids_are_consecutive_and_failed_writes_consume_one(zk):
    path = zk.create(zk.base + "/z")
    m0 = zk.set(path, b"1").mzxid
    m1 = zk.set(path, b"2").mzxid
    assert m1 == m0 + 1
    zk.get(path)  # reads do not use a zxid
    zk.exists(path)
    m2 = zk.set(path, b"3").mzxid
    assert m2 == m1 + 1
    with pytest.raises(NodeExistsError):
        zk.create(path)  # a failed write is still a (error) txn with its own zxid
    m3 = zk.set(path, b"4").mzxid
    assert m3 == m2 + 2
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=42)
    assert zk.set(path, b"5").mzxid == m3 + 2


def test_reply_header_zxid_tracks_last_txn(zk, raw):
    path, stat = raw.create(zk.base + "/h")
    r = raw.call(zkraw.OP_GET_DATA, zkraw.Enc().string(path).bool(False).bytes())
    assert r.err == 0
    assert r.zxid >= stat.czxid
    s = raw.set(path, b"x")
    r2 = raw.call(zkraw.OP_EXISTS, zkraw.Enc().string(path).bool(False).bytes())
    assert r2.zxid >= s.mzxid


def test_ctime_and_mtime_are_wall_clock_millis(zk):
    before = time.time()
    _, stat = zk.create(zk.base + "/t", include_data=True)
    after = time.time()
    assert before - 5 <= stat.ctime / 1000.0 <= after + 5
    time.sleep(0.05)
    s2 = zk.set(zk.base + "/t", b"x")
    assert s2.mtime >= stat.ctime + 1
    assert s2.ctime == stat.ctime


def test_get_children_and_include_data(zk):
    for name in ("b", "a", "c"):
        zk.create(zk.base + "/" + name)
    assert sorted(zk.get_children(zk.base)) == ["a", "b", "c"]
    children, stat = zk.get_children(zk.base, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat == zk.exists(zk.base)
    assert stat.numChildren == 3
    with pytest.raises(NoNodeError):
        zk.get_children(zk.base + "/none")


def test_zookeeper_system_nodes(zk):
    assert sorted(zk.get_children("/zookeeper")) == ["config", "quota"]
    stat = zk.exists("/zookeeper")
    assert stat.numChildren == 2
    assert stat.cversion == -2  # two children created at startup without counting
    assert (stat.czxid, stat.mzxid, stat.ctime, stat.version) == (0, 0, 0, 0)
    data, cfg = zk.get("/zookeeper/config")
    assert data == b""  # standalone: no dynamic config
    assert cfg.aversion == -1  # Java sets its ACL with version -1
    assert zk.get_acls("/zookeeper/config")[0] == [ACL(1, Id("world", "anyone"))]
    with pytest.raises(NoAuthError):
        zk.set("/zookeeper/config", b"x")
    with pytest.raises(BadArgumentsError):
        zk.delete("/zookeeper/config")
    with pytest.raises(BadArgumentsError):
        zk.delete("/zookeeper")
    with pytest.raises(BadArgumentsError):
        zk.delete("/")
    root = zk.exists("/")
    assert (root.czxid, root.version) == (0, 0)


# --------------------------------------------------------------------------------------
# watches
# --------------------------------------------------------------------------------------


def test_exists_watch_on_missing_node_fires_created(zk, zk_factory):
    other = zk_factory()
    events = Events()
    assert zk.exists(zk.base + "/w", watch=events) is None
    other.create(zk.base + "/w")
    ev = events.next()
    assert (ev.type, ev.path) == ("CREATED", zk.base + "/w")


def test_exists_watch_on_existing_node_fires_changed(zk, zk_factory):
    other = zk_factory()
    zk.create(zk.base + "/w")
    events = Events()
    assert zk.exists(zk.base + "/w", watch=events) is not None
    other.set(zk.base + "/w", b"new")
    ev = events.next()
    assert (ev.type, ev.path) == ("CHANGED", zk.base + "/w")


def test_data_watch_fires_changed_then_deleted(zk, zk_factory):
    other = zk_factory()
    path = zk.create(zk.base + "/w")
    events = Events()
    zk.get(path, watch=events)
    other.set(path, b"1")
    assert events.next().type == "CHANGED"
    zk.get(path, watch=events)
    other.delete(path)
    ev = events.next()
    assert (ev.type, ev.path, ev.state) == ("DELETED", path, "CONNECTED")


def test_child_watch_fires_on_create_and_delete_not_on_child_data(zk, zk_factory):
    other = zk_factory()
    events = Events()
    zk.get_children(zk.base, watch=events)
    other.create(zk.base + "/c")
    ev = events.next()
    assert (ev.type, ev.path) == ("CHILD", zk.base)
    zk.get_children(zk.base, watch=events)
    other.set(zk.base + "/c", b"data")
    events.none()
    other.delete(zk.base + "/c")
    assert events.next().type == "CHILD"


def test_child_watch_on_deleted_node_fires_deleted(zk, zk_factory):
    other = zk_factory()
    path = zk.create(zk.base + "/p")
    events = Events()
    zk.get_children(path, watch=events)
    other.delete(path)
    ev = events.next()
    assert (ev.type, ev.path) == ("DELETED", path)


def test_watch_fires_only_once(zk, zk_factory):
    other = zk_factory()
    path = zk.create(zk.base + "/once")
    events = Events()
    zk.get(path, watch=events)
    other.set(path, b"1")
    other.set(path, b"2")
    other.set(path, b"3")
    assert events.next().type == "CHANGED"
    events.none(1.0)


def test_events_for_one_client_arrive_in_order(zk, zk_factory):
    other = zk_factory()
    paths = [zk.create(zk.base + "/n%d" % i) for i in range(5)]
    events = Events()
    for p in paths:
        zk.get(p, watch=events)
    for p in reversed(paths):
        other.set(p, b"x")
    got = [events.next().path for _ in paths]
    assert got == list(reversed(paths))


def test_notification_precedes_reply_and_has_zxid_minus_one(impl, zk, raw):
    """3.9 puts the zxid of the change in the notification's header (ZOOKEEPER-4655)."""
    path, _ = raw.create(zk.base + "/o")
    raw.get(path, watch=True)
    raw.set(path, b"mine")
    time.sleep(0.2)
    kinds = [(e[0], e[1].type if e[0] == "event" else None) for e in raw.log[-2:]]
    assert kinds == [("event", zkraw.EV_NODE_DATA_CHANGED), ("reply", None)]
    ev = raw.log[-2][1]
    set_zxid = raw.log[-1][2]
    assert (ev.path, ev.state, ev.zxid) == (
        path, 3, set_zxid if zkharness.at_least(impl, 3, 9) else -1)


def test_data_and_exists_watch_on_same_path_fire_one_event(zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/one")
    raw.get(path, watch=True)
    raw.exists(path, watch=True)
    other.set(path, b"1")
    assert raw_event(raw).type == zkraw.EV_NODE_DATA_CHANGED
    assert raw.no_event(0.5)


def test_delete_with_data_and_child_watch_fires_one_deleted(zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/one")
    raw.get(path, watch=True)
    raw.get_children(path, watch=True)
    other.delete(path)
    ev = raw_event(raw)
    assert (ev.type, ev.path) == (zkraw.EV_NODE_DELETED, path)
    assert raw.no_event(0.5)


def test_persistent_watch_fires_repeatedly(zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/pw")
    raw.add_watch(path, zkraw.ADD_WATCH_PERSISTENT)
    other.create(path + "/c")
    other.set(path, b"1")
    other.set(path + "/c", b"child data: no event")
    other.set(path, b"2")
    other.delete(path + "/c")
    got = [(e.type, e.path) for e in (raw_event(raw) for _ in range(4))]
    assert got == [
        (zkraw.EV_NODE_CHILDREN_CHANGED, path),
        (zkraw.EV_NODE_DATA_CHANGED, path),
        (zkraw.EV_NODE_DATA_CHANGED, path),
        (zkraw.EV_NODE_CHILDREN_CHANGED, path),
    ]
    assert raw.no_event(0.5)


def test_persistent_recursive_watch_sees_descendants(zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/rw")
    raw.add_watch(path, zkraw.ADD_WATCH_PERSISTENT_RECURSIVE)
    other.create(path + "/a")
    other.set(path + "/a", b"x")
    other.create(path + "/a/b")
    other.delete(path + "/a/b")
    other.set(path, b"y")
    got = [(e.type, e.path) for e in (raw_event(raw) for _ in range(5))]
    assert got == [
        (zkraw.EV_NODE_CREATED, path + "/a"),
        (zkraw.EV_NODE_DATA_CHANGED, path + "/a"),
        (zkraw.EV_NODE_CREATED, path + "/a/b"),
        (zkraw.EV_NODE_DELETED, path + "/a/b"),
        (zkraw.EV_NODE_DATA_CHANGED, path),
    ]
    assert raw.no_event(0.5)  # no NodeChildrenChanged in recursive mode


def test_persistent_watch_on_missing_path_fires_created(zk, raw, raw_factory):
    other = raw_factory()
    path = zk.base + "/later"
    raw.add_watch(path, zkraw.ADD_WATCH_PERSISTENT)
    other.create(path)
    other.delete(path)
    other.create(path)
    got = [raw_event(raw).type for _ in range(3)]
    assert got == [zkraw.EV_NODE_CREATED, zkraw.EV_NODE_DELETED, zkraw.EV_NODE_CREATED]


def test_persistent_and_one_shot_watch_on_same_path_fire_one_event(zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/both")
    raw.get(path, watch=True)
    raw.add_watch(path, zkraw.ADD_WATCH_PERSISTENT)
    other.set(path, b"1")
    assert raw_event(raw).type == zkraw.EV_NODE_DATA_CHANGED
    assert raw.no_event(0.5)
    other.set(path, b"2")  # the persistent one is still there
    assert raw_event(raw).type == zkraw.EV_NODE_DATA_CHANGED


def test_remove_and_check_watches(impl, zk, raw, raw_factory):
    other = raw_factory()
    path, _ = raw.create(zk.base + "/rm")
    assert raw.check_watches(path, zkraw.WATCHER_ANY).err == zkraw.NO_WATCHER
    assert raw.remove_watches(path, zkraw.WATCHER_ANY).err == zkraw.NO_WATCHER
    raw.add_watch(path, zkraw.ADD_WATCH_PERSISTENT)
    # 3.9: Data asks for a standard data watch, which a persistent one is not.
    assert raw.check_watches(path, zkraw.WATCHER_DATA).err == (
        zkraw.NO_WATCHER if zkharness.at_least(impl, 3, 9) else zkraw.OK)
    assert raw.check_watches(path, zkraw.WATCHER_ANY).err == zkraw.OK
    assert raw.remove_watches(path, zkraw.WATCHER_ANY).err == zkraw.OK
    other.set(path, b"after removal")
    assert raw.no_event(0.5)
    raw.get(path, watch=True)
    assert raw.remove_watches(path, zkraw.WATCHER_CHILDREN).err == zkraw.NO_WATCHER
    assert raw.remove_watches(path, zkraw.WATCHER_DATA).err == zkraw.OK
    other.set(path, b"again")
    assert raw.no_event(0.5)


# --------------------------------------------------------------------------------------
# transactions (multi)
# --------------------------------------------------------------------------------------


def test_transaction_success_results(zk):
    b = zk.base
    zk.create(b + "/x", b"0")
    tx = zk.transaction()
    tx.create(b + "/new", b"n")
    tx.set_data(b + "/x", b"1")
    tx.check(b + "/x", 1)
    tx.delete(b + "/new")
    results = tx.commit()
    assert len(results) == 4
    assert results[0] == b + "/new"
    assert results[1].version == 1 and results[1].dataLength == 1
    assert results[2] is True and results[3] is True
    assert zk.get(b + "/x")[0] == b"1"
    assert zk.exists(b + "/new") is None


def test_transaction_ops_share_one_zxid(zk):
    b = zk.base
    tx = zk.transaction()
    tx.create(b + "/a")
    tx.create(b + "/b")
    tx.commit()
    assert zk.exists(b + "/a").czxid == zk.exists(b + "/b").czxid


def test_transaction_failure_results_and_rollback(zk):
    b = zk.base
    zk.create(b + "/exists", b"orig")
    tx = zk.transaction()
    tx.create(b + "/a")
    tx.set_data(b + "/exists", b"changed")
    tx.create(b + "/exists")  # fails
    tx.delete(b + "/exists")
    tx.create(b + "/c")
    results = tx.commit()
    assert [type(r) for r in results] == [
        RolledBackError, RolledBackError, NodeExistsError, RuntimeInconsistency,
        RuntimeInconsistency,
    ]
    assert zk.get_children(b) == ["exists"]
    data, stat = zk.get(b + "/exists")
    assert (data, stat.version) == (b"orig", 0)


def test_transaction_check_version_failure(zk):
    b = zk.base
    zk.create(b + "/v")
    tx = zk.transaction()
    tx.check(b + "/v", 5)
    tx.create(b + "/w")
    results = tx.commit()
    assert [type(r) for r in results] == [BadVersionError, RuntimeInconsistency]
    tx = zk.transaction()
    tx.check(b + "/missing", 0)
    assert [type(r) for r in tx.commit()] == [NoNodeError]


def test_multi_failure_wire_format(zk, raw):
    b = zk.base
    raw.create(b + "/m")
    err, results = raw.multi([
        ("create", b + "/m/c", b"x", 0),
        ("check", b + "/m", 3),
        ("delete", b + "/m", -1),
    ])
    assert err == 0  # the reply header of a failed multi carries no error
    assert results == [(-1, 0, 0), (-1, -103, -103), (-1, -2, -2)]
    err, results = raw.multi([])
    assert (err, results) == (0, [])


def test_transaction_sequential_and_ephemeral_creates(zk):
    b = zk.base
    tx = zk.transaction()
    tx.create(b + "/s-", sequence=True)
    tx.create(b + "/s-", sequence=True)
    tx.create(b + "/e", ephemeral=True)
    assert tx.commit() == [b + "/s-0000000000", b + "/s-0000000001", b + "/e"]
    assert zk.exists(b + "/e").ephemeralOwner == zk.client_id[0]


def test_empty_transaction(zk):
    assert zk.transaction().commit() == []


def test_multi_read(zk, raw):
    b = zk.base
    raw.create(b + "/r", b"rd")
    raw.create(b + "/r/kid")
    res = raw.multi_read([("get", b + "/r"), ("children", b + "/r"), ("get", b + "/none"),
                          ("children", b + "/none"), ("get", b + "/r/kid")])
    assert res[0][0] == b"rd" and res[0][1].numChildren == 1
    assert res[1] == ["kid"]
    assert res[2] == -101 and res[3] == -101  # errors do not abort a read multi
    assert res[4][0] == b""


# --------------------------------------------------------------------------------------
# ACLs and auth
# --------------------------------------------------------------------------------------


def test_digest_acl_denies_unauthenticated_client(impl, zk, zk_factory):
    acl = make_digest_acl("alice", "secret", all=True)
    assert acl.id == Id("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=")
    zk.add_auth("digest", "alice:secret")
    path = zk.create(zk.base + "/d", b"data", acl=[acl])
    other = zk_factory()
    with pytest.raises(NoAuthError):
        other.get(path)
    with pytest.raises(NoAuthError):
        other.set(path, b"x")
    with pytest.raises(NoAuthError):
        other.get_children(path)
    with pytest.raises(NoAuthError):
        other.get_acls(path)
    with pytest.raises(NoAuthError):
        other.create(path + "/c")
    if zkharness.at_least(impl, 3, 9):
        with pytest.raises(NoAuthError):  # exists needs READ since 3.9.2 (ZOOKEEPER-2590)
            other.exists(path)
    else:
        assert other.exists(path).dataLength == 4  # exists is not ACL checked
    assert zk.get(path)[0] == b"data"
    zk.create(path + "/c")
    zk.set(path, b"by owner")
    assert zk.get_acls(path)[0] == [acl]


def test_wrong_digest_password_gets_no_access(zk, zk_factory):
    zk.add_auth("digest", "bob:right")
    path = zk.create(zk.base + "/d", b"x", acl=[make_digest_acl("bob", "right", all=True)])
    other = zk_factory()
    other.add_auth("digest", "bob:wrong")  # accepted: it is just another identity
    with pytest.raises(NoAuthError):
        other.get(path)
    third = zk_factory(auth_data=[("digest", "bob:right")])
    assert third.get(path)[0] == b"x"


def test_delete_needs_permission_on_parent_not_node(zk, zk_factory):
    zk.add_auth("digest", "carol:pw")
    path = zk.create(zk.base + "/locked", acl=[make_digest_acl("carol", "pw", all=True)])
    other = zk_factory()
    other.delete(path)  # the parent is world:anyone ALL
    assert zk.exists(path) is None


def test_world_read_only_node(zk, zk_factory):
    path = zk.create(zk.base + "/ro", b"r", acl=READ_ACL_UNSAFE)
    other = zk_factory()
    assert other.get(path)[0] == b"r"
    assert other.get_children(path) == []
    with pytest.raises(NoAuthError):
        other.set(path, b"w")
    with pytest.raises(NoAuthError):
        other.create(path + "/c")
    with pytest.raises(NoAuthError):
        other.set_acls(path, OPEN_ACL_UNSAFE)
    assert other.get_acls(path)[0] == [ACL(1, Id("world", "anyone"))]


def test_create_only_acl(zk, zk_factory):
    path = zk.create(zk.base + "/co", acl=[make_acl("world", "anyone", create=True)])
    other = zk_factory()
    assert other.create(path + "/kid") == path + "/kid"
    with pytest.raises(NoAuthError):
        other.get(path)
    with pytest.raises(NoAuthError):
        other.get_children(path)
    with pytest.raises(NoAuthError):
        other.get_acls(path)  # getACL needs READ or ADMIN
    with pytest.raises(NoAuthError):
        other.delete(path + "/kid")  # needs DELETE on the parent


def test_set_acls_versions(zk):
    path, created = zk.create(zk.base + "/a", b"x", include_data=True)
    acl = [make_acl("world", "anyone", read=True, write=True, admin=True)]
    stat = zk.set_acls(path, acl)
    assert stat.aversion == 1
    assert (stat.mzxid, stat.version, stat.mtime) == (created.mzxid, 0, created.mtime)
    with pytest.raises(BadVersionError):
        zk.set_acls(path, OPEN_ACL_UNSAFE, version=0)
    assert zk.set_acls(path, OPEN_ACL_UNSAFE, version=1).aversion == 2
    acls, stat2 = zk.get_acls(path)
    assert acls == list(OPEN_ACL_UNSAFE)
    assert stat2 == zk.exists(path)
    with pytest.raises(NoNodeError):
        zk.get_acls(zk.base + "/none")
    with pytest.raises(NoNodeError):
        zk.set_acls(zk.base + "/none", OPEN_ACL_UNSAFE)


def test_invalid_acls(zk, zk_factory, raw):
    b = zk.base
    with pytest.raises(InvalidACLError):
        zk.create(b + "/a", acl=[make_acl("world", "someone", all=True)])
    with pytest.raises(InvalidACLError):
        zk.create(b + "/b", acl=[make_acl("ip", "not-an-ip", all=True)])
    with pytest.raises(InvalidACLError):
        zk.create(b + "/c", acl=[make_acl("nosuchscheme", "x", all=True)])
    with pytest.raises(InvalidACLError):
        zk.create(b + "/d", acl=[make_acl("digest", "nocolon", all=True)])
    fresh = zk_factory()
    with pytest.raises(InvalidACLError):  # "auth" with no authenticated identity
        fresh.create(b + "/e", acl=[make_acl("auth", "", all=True)])
    assert raw_code(raw.create, b + "/f", b"", acl=[]) == zkraw.INVALID_ACL
    with pytest.raises(InvalidACLError):
        zk.set_acls(b, [make_acl("world", "someone", all=True)])
    assert zk.get_children(b) == []


def test_acl_normalisation(zk):
    b = zk.base
    world_all = make_acl("world", "anyone", all=True)
    zk.create(b + "/dup", acl=[world_all, world_all])
    assert zk.get_acls(b + "/dup")[0] == [world_all]  # duplicates collapse
    zk.create(b + "/extra", acl=[ACL(0x5F, Id("world", "anyone"))])
    assert zk.get_acls(b + "/extra")[0] == [ACL(0x5F, Id("world", "anyone"))]  # kept as is
    nohash = make_acl("digest", "dave:not-a-real-hash", all=True)
    zk.create(b + "/nohash", acl=[nohash, make_acl("world", "anyone", read=True, admin=True)])
    assert zk.get_acls(b + "/nohash")[0] == [nohash, make_acl("world", "anyone", read=True,
                                                               admin=True)]


def test_get_acls_without_admin_redacts_digests(zk):
    b = zk.base
    reader = make_acl("world", "anyone", read=True)
    zk.create(b + "/r", acl=[make_acl("digest", "dave:abc=", all=True), reader])
    assert zk.get_acls(b + "/r")[0] == [make_acl("digest", "dave:x", all=True), reader]
    zk.create(b + "/e", acl=[make_acl("digest", ":abc", all=True), reader])
    assert zk.get_acls(b + "/e")[0][0].id == Id("digest", ":x")
    for bad in ("dave:x:y", "dave:", "a:b:c:d"):
        with pytest.raises(InvalidACLError):
            zk.create(b + "/bad", acl=[make_acl("digest", bad, all=True)])


def test_auth_scheme_acl_expands_to_digest_identity(zk):
    zk.add_auth("digest", "erin:pw")
    path = zk.create(zk.base + "/au", acl=[make_acl("auth", "", all=True)])
    acls = zk.get_acls(path)[0]
    assert acls == [make_digest_acl("erin", "pw", all=True)]


def test_ip_acl(zk, zk_factory):
    zk.create(zk.base + "/local", b"l", acl=[make_acl("ip", "127.0.0.1", all=True)])
    zk.create(zk.base + "/net", b"n", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    zk.create(zk.base + "/far", b"f", acl=[make_acl("ip", "10.0.0.0/8", all=True)])
    other = zk_factory()
    assert other.get(zk.base + "/local")[0] == b"l"
    assert other.get(zk.base + "/net")[0] == b"n"
    with pytest.raises(NoAuthError):
        other.get(zk.base + "/far")


def test_zero_permission_acl(impl, zk):
    path = zk.create(zk.base + "/p0", acl=[ACL(0, Id("world", "anyone"))])
    if zkharness.at_least(impl, 3, 9):
        with pytest.raises(NoAuthError):  # exists needs READ since 3.9.2
            zk.exists(path)
    else:
        assert zk.exists(path) is not None
    with pytest.raises(NoAuthError):
        zk.get(path)
    with pytest.raises(NoAuthError):
        zk.get_acls(path)
    zk.delete(path)


def test_auth_with_unknown_scheme_fails_and_closes(zk, raw):
    r = raw.add_auth("nosuchscheme", b"x")
    assert (r.xid, r.err) == (zkraw.XID_AUTH, zkraw.AUTH_FAILED)
    assert raw.closed.wait(5)


def test_who_am_i(zk, raw):
    assert raw.who_am_i() == [("ip", "127.0.0.1")]
    r = raw.add_auth("digest", b"frank:pw")
    assert (r.xid, r.err) == (zkraw.XID_AUTH, 0)
    assert sorted(raw.who_am_i()) == [("digest", "frank"), ("ip", "127.0.0.1")]


# --------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------


def test_ephemerals_removed_when_session_closes(zk, zk_factory):
    owner = zk_factory()
    owner.create(zk.base + "/e1", ephemeral=True)
    owner.create(zk.base + "/e2-", ephemeral=True, sequence=True)
    events = Events()
    assert zk.exists(zk.base + "/e1", watch=events) is not None
    assert len(zk.get_children(zk.base)) == 2
    owner.stop()
    ev = events.next()
    assert (ev.type, ev.path) == ("DELETED", zk.base + "/e1")
    assert zk.get_children(zk.base) == []
    stat = zk.exists(zk.base)
    assert (stat.numChildren, stat.cversion) == (0, 4)


def test_session_expiry_deletes_ephemerals_and_notifies(server, zk, zk_factory):
    victim = zk_factory(timeout=4)
    states = []
    victim.add_listener(states.append)
    victim.create(zk.base + "/mine", ephemeral=True)
    events = Events()
    zk.exists(zk.base + "/mine", watch=events)
    # The standard trick: a second connection with the same id/password takes the
    # session over; closing it expires the session for the first one.
    sid, pw = victim.client_id
    thief = zkraw.RawClient(server.host, server.port, session_id=sid, passwd=pw)
    assert thief.session_id == sid
    thief.close()
    ev = events.next()
    assert (ev.type, ev.path) == ("DELETED", zk.base + "/mine")
    deadline = time.monotonic() + EVENT_TIMEOUT
    while KazooState.LOST not in states and time.monotonic() < deadline:
        time.sleep(0.05)
    assert KazooState.LOST in states
    assert zk.exists(zk.base + "/mine") is None


def test_session_moved_closes_old_connection(server, raw):
    thief = zkraw.RawClient(server.host, server.port, session_id=raw.session_id,
                            passwd=raw.passwd)
    try:
        assert thief.session_id == raw.session_id
        assert raw.closed.wait(5)  # the server drops the older connection
        assert thief.get_children("/zookeeper")
    finally:
        thief.close()


def test_reconnect_to_closed_session_is_rejected(server, raw):
    sid, pw = raw.session_id, raw.passwd
    raw.close()
    again = zkraw.RawClient(server.host, server.port, session_id=sid, passwd=pw)
    assert (again.negotiated_timeout, again.session_id, again.passwd) == (0, 0, b"\0" * 16)
    assert not again.valid


def test_wrong_session_password_is_rejected(server, zk, raw):
    path, _ = raw.create(zk.base + "/eph", flags=zkraw.EPHEMERAL)
    bad = zkraw.RawClient(server.host, server.port, session_id=raw.session_id,
                          passwd=b"x" * 16)
    assert (bad.negotiated_timeout, bad.session_id, bad.passwd) == (0, 0, b"\0" * 16)
    assert bad.closed.is_set()
    # Java closes the owner's connection *before* checking the password ...
    assert raw.closed.wait(5)
    # ... but the session itself survives and the right password gets it back.
    again = zkraw.RawClient(server.host, server.port, session_id=raw.session_id,
                            passwd=raw.passwd)
    try:
        assert again.session_id == raw.session_id
        assert again.exists(path).ephemeralOwner == raw.session_id
    finally:
        again.close()


def test_session_timeout_negotiation(server, raw_factory):
    # tickTime=2000: min 2*tick, max 20*tick
    assert raw_factory(timeout_ms=100).negotiated_timeout == 4000
    assert raw_factory(timeout_ms=10000).negotiated_timeout == 10000
    assert raw_factory(timeout_ms=1000000).negotiated_timeout == 40000
    c = raw_factory()
    assert c.protocol_version == 0
    assert c.read_only is False
    assert len(c.passwd) == 16


def test_session_ids_are_distinct_and_carry_server_id_one(zk, zk_factory):
    other = zk_factory()
    a, b = zk.client_id[0], other.client_id[0]
    assert a != b
    assert a >> 56 == 1 and b >> 56 == 1  # a standalone server uses id 1 for sessions


def test_sync(zk, raw):
    zk.create(zk.base + "/s")
    assert zk.sync(zk.base + "/s") == zk.base + "/s"
    r = raw.call(zkraw.OP_SYNC, zkraw.Enc().string(zk.base + "/none").bytes())
    assert r.err == 0  # no existence check
    assert zkraw.Dec(r.body).string() == zk.base + "/none"


def test_get_ephemerals_and_all_children_number(zk, raw):
    b = zk.base
    raw.create(b + "/e1", flags=zkraw.EPHEMERAL)
    raw.create(b + "/p")
    raw.create(b + "/p/e2", flags=zkraw.EPHEMERAL)
    raw.create(b + "/p/q")
    assert sorted(raw.get_ephemerals(b)) == [b + "/e1", b + "/p/e2"]
    assert raw.get_ephemerals(b + "/p") == [b + "/p/e2"]
    assert raw.get_ephemerals(b + "/none") == []
    assert raw.get_all_children_number(b) == 4
    assert raw.get_all_children_number(b + "/p") == 2
    assert raw_code(raw.get_all_children_number, b + "/none") == zkraw.NO_NODE


# --------------------------------------------------------------------------------------
# server-level behaviour: unknown ops, reconfig, four-letter words
# --------------------------------------------------------------------------------------


def test_unknown_opcode_is_unimplemented_and_closes_connection(server, raw):
    r = raw.call(999, b"")
    assert r.err == zkraw.UNIMPLEMENTED
    assert raw.closed.wait(5)  # Java answers, then closes the connection
    again = zkraw.RawClient(server.host, server.port, session_id=raw.session_id,
                            passwd=raw.passwd)
    try:
        assert again.session_id == raw.session_id  # ... but not the session
    finally:
        again.close()


def test_reconfig_disabled(raw):
    # kazoo 2.8 cannot be used here: it does not know error -123 and its reader thread dies.
    body = zkraw.Enc().string("server.5=127.0.0.1:2222:2223;2224").string(None).string(None)
    r = raw.call(zkraw.OP_RECONFIG, body.long(-1).bytes())
    assert r.err == zkraw.RECONFIG_DISABLED


def test_ruok_and_kazoo_command(impl, server, zk):
    assert server.four_letter("ruok") == "imok"
    assert zk.command(b"ruok") == "imok"
    assert zk.server_version()[:2] == ((3, 9) if zkharness.at_least(impl, 3, 9) else (3, 8))


def _version_re(impl):
    """The version line's number: 3.8.x from 3.8 impls, 3.9.x from 3.9 ones."""
    return r"3\.9\.\d+" if zkharness.at_least(impl, 3, 9) else r"3\.8\.\d+"


def _parse_srvr(text):
    lines = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)
    return lines


def test_srvr_and_stat(impl, server, zk):
    zk.set(zk.base, b"bump")
    srvr = _parse_srvr(server.four_letter("srvr"))
    assert re.match(_version_re(impl), srvr["Zookeeper version"])
    assert srvr["Mode"] == "standalone"
    assert re.fullmatch(r"\d+/[\d.]+/\d+", srvr["Latency min/avg/max"])
    assert re.fullmatch(r"0x[0-9a-f]+", srvr["Zxid"])
    assert int(srvr["Zxid"], 16) >= zk.exists(zk.base).mzxid
    assert int(srvr["Node count"]) >= 5
    assert int(srvr["Connections"]) >= 1
    for key in ("Received", "Sent", "Outstanding"):
        int(srvr[key])
    stat = server.four_letter("stat")
    assert stat.startswith("Zookeeper version: ")
    assert "\nClients:\n /127.0.0.1:" in stat
    assert "Mode: standalone\n" in stat


def test_mntr_keys(impl, server, zk):
    zk.create(zk.base + "/e", ephemeral=True)
    text = server.four_letter("mntr")
    values = {}
    for line in text.strip().splitlines():
        key, value = line.split("\t", 1)
        values[key] = value
    assert re.match(_version_re(impl), values["zk_version"])
    assert values["zk_server_state"] == "standalone"
    for key in ("zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received",
                "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
                "zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
                "zk_approximate_data_size", "zk_open_file_descriptor_count",
                "zk_max_file_descriptor_count", "zk_uptime", "zk_global_sessions"):
        assert key in values, key
        float(values[key])
    assert int(values["zk_znode_count"]) >= 5
    assert int(values["zk_ephemerals_count"]) >= 1
    assert int(values["zk_num_alive_connections"]) >= 1


def test_other_four_letter_words(impl, server, zk):
    assert server.four_letter("isro") == "rw"
    conf = dict(line.split("=", 1) for line in server.four_letter("conf").strip().splitlines())
    assert conf["clientPort"] == str(server.port)
    assert conf["tickTime"] == "2000"
    assert (conf["minSessionTimeout"], conf["maxSessionTimeout"]) == ("4000", "40000")
    assert re.search("zookeeper.version=" + _version_re(impl), server.four_letter("envi"))
    events = Events()
    zk.get(zk.base, watch=events)
    wchs = server.four_letter("wchs")
    assert re.search(r"\d+ connections watching \d+ paths\nTotal watches:\d+", wchs)
    assert server.four_letter("xyzw") == ""  # unknown words: connection closed, no output
