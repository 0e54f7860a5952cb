"""A mixed ensemble: two Java 3.8 servers and one zkserver (myid 1, the lowest, so a Java
server leads) as a follower, or as an observer. All three serve; clients on our node and on
the Java nodes see each other's writes, watches fire across nodes, ephemerals of a session on
our node vanish everywhere when it closes, sessions are global.

Needs both implementations (skipped unless ZK_IMPLS includes java and zkrs).
"""

import time
import uuid

import pytest
from kazoo.exceptions import NoNodeError

import confignode
import zkharness
from zkharness import close_clients, mode, wait_for

pytestmark = zkharness.needs_impls("java", "zkrs")


@pytest.fixture(scope="module", params=["follower", "observer"])
def ensemble(request, tmp_path_factory):
    role = request.param
    tmp = tmp_path_factory.mktemp("ensemble-" + role)
    with zkharness.Ensemble(tmp, observers=(1,) if role == "observer" else ()) as ens:
        yield role, ens.start_all({2: "java", 3: "java", 1: "zkrs"})


@pytest.fixture
def clients(ensemble):
    role, servers = ensemble
    made = []

    def make(sid):
        zk = servers[sid].client()
        made.append(zk)
        return zk

    yield make
    close_clients(*made)


def test_modes(ensemble):
    role, servers = ensemble
    assert mode(servers[1]) == role
    java_modes = sorted(mode(servers[s]) for s in (2, 3))
    assert java_modes == ["follower", "leader"]


def test_zookeeper_config_as_java_writes_it(ensemble):
    """/zookeeper/config on our follower / observer holds exactly what the Java nodes hold
    (server lines with our :observer role, version=0; stat but mtime; ACL), and zkCli's
    `config` prints it."""
    role, servers = ensemble
    confignode.check(servers)
    want = confignode.expected(servers[1]).decode().splitlines()
    assert want[0].endswith(":observer" if role == "observer" else ":participant")
    for sid in (1, 2):
        rc, lines = confignode.zkcli_config(servers[sid])
        assert (rc, lines) == (0, want), (sid, lines)


def test_writes_cross_nodes(ensemble, clients):
    role, servers = ensemble
    ours, java = clients(1), clients(2)
    base = "/ens-" + uuid.uuid4().hex[:8]
    path = ours.create(base, b"from-zkrs")
    assert path == base
    ours.create(base + "/seq-", b"", sequence=True)
    ours.set(base, b"v2")
    # our own write is visible on our node at once (read after write, same session)
    data, stat = ours.get(base)
    assert data == b"v2" and stat.version == 1
    java.sync(base)
    data, jstat = java.get(base)
    assert data == b"v2"
    assert jstat == stat
    assert java.get_children(base) == ["seq-0000000000"]
    # and the other way round
    java.create(base + "/j", b"from-java")
    ours.sync(base)
    assert ours.get(base + "/j")[0] == b"from-java"
    assert sorted(ours.get_children(base)) == ["j", "seq-0000000000"]
    # errors come back from the leader
    with pytest.raises(NoNodeError):
        ours.set(base + "/missing", b"x")
    # multi through our node
    t = ours.transaction()
    t.create(base + "/m1", b"1")
    t.set_data(base + "/j", b"changed")
    results = t.commit()
    assert results[0] == base + "/m1"
    assert results[1].version == 1
    java.sync(base)
    assert java.get(base + "/j")[0] == b"changed"
    assert java.exists(base + "/m1") is not None
    # zxids agree
    ours.sync(base)
    java.sync(base)
    assert ours.get(base)[1] == java.get(base)[1]


def test_watches_cross_nodes(ensemble, clients):
    role, servers = ensemble
    ours, java = clients(1), clients(3)
    base = "/watch-" + uuid.uuid4().hex[:8]
    java.create(base, b"")
    ours.sync(base)
    events = []
    ours.get_children(base, watch=lambda e: events.append(("ours", e.type, e.path)))
    ours.exists(base + "/x", watch=lambda e: events.append(("ours", e.type, e.path)))
    java_events = []
    java.get(base, watch=lambda e: java_events.append(("java", e.type, e.path)))
    java.create(base + "/x", b"")
    wait_for(lambda: len(events) == 2, what="watches on our node")
    assert sorted(events) == sorted([("ours", "CHILD", base), ("ours", "CREATED", base + "/x")])
    ours.set(base, b"changed")
    wait_for(lambda: java_events, what="watch on the Java node")
    assert java_events == [("java", "CHANGED", base)]


def test_ephemerals_vanish_when_session_closes(ensemble, clients):
    role, servers = ensemble
    java = clients(2)
    base = "/eph-" + uuid.uuid4().hex[:8]
    java.create(base, b"")
    ours = servers[1].client()
    sid = ours.client_id[0]
    assert (sid >> 56) == 1, "session ids of our node carry myid 1: 0x%x" % sid
    ours.create(base + "/e", b"", ephemeral=True)
    java.sync(base)
    stat = java.exists(base + "/e")
    assert stat is not None and stat.ephemeralOwner == sid
    ours.stop()
    ours.close()
    java.sync(base)
    assert java.exists(base + "/e") is None
    assert "0x%x" % sid not in servers[2].four_letter("cons")


def test_session_moves_between_nodes(ensemble, clients):
    """A session created on a Java node continues on ours (REVALIDATE) and keeps its
    ephemerals; its writes through our node are accepted."""
    role, servers = ensemble
    from kazoo.client import KazooClient

    java = clients(3)
    base = "/move-" + uuid.uuid4().hex[:8]
    java.create(base, b"")
    first = servers[2].client()
    first.create(base + "/e", b"", ephemeral=True)
    sid, pw = first.client_id
    # Resume the session on our node (the Java node keeps the old connection open).
    moved = KazooClient(hosts=servers[1].connect_string, client_id=(sid, pw), timeout=10,
                        logger=zkharness._quiet_logger())
    moved.start(timeout=10)
    try:
        assert moved.client_id[0] == sid
        moved.create(base + "/e2", b"", ephemeral=True)
        java.sync(base)
        assert java.exists(base + "/e2").ephemeralOwner == sid
        assert java.exists(base + "/e") is not None
    finally:
        moved.stop()
        moved.close()
        close_clients(first)
    java.sync(base)
    wait_for(lambda: java.exists(base + "/e") is None and java.exists(base + "/e2") is None,
             what="ephemerals of the moved session gone")


def test_our_node_serves_reads_locally(ensemble):
    role, servers = ensemble
    out = servers[1].four_letter("srvr")
    assert "Zxid: 0x" in out
    assert servers[1].four_letter("ruok") == "imok"
    for s in servers.values():
        s.check_alive()


def test_sessions_on_our_node_kept_alive_by_pings(ensemble, clients):
    """The leader expires sessions; ours stay alive only through the touches our node reports
    in its PING replies."""
    role, servers = ensemble
    java = clients(2)
    base = "/alive-" + uuid.uuid4().hex[:8]
    java.create(base, b"")
    ours = clients(1)
    ours.stop()  # the fixture client is replaced by one with a short timeout
    short = servers[1].client(timeout=2.0)
    try:
        sid = short.client_id[0]
        short.create(base + "/e", b"", ephemeral=True)
        time.sleep(3 * 2.0 + 1)
        java.sync(base)
        stat = java.exists(base + "/e")
        assert stat is not None and stat.ephemeralOwner == sid
    finally:
        short.stop()
        short.close()
    java.sync(base)
    assert java.exists(base + "/e") is None


def test_our_node_restarts_and_catches_up(ensemble, clients):
    """kill -9 our node, write meanwhile, restart it: it syncs (DIFF from its log) and
    serves the writes it missed as well as its old data."""
    role, servers = ensemble
    java = clients(2)
    base = "/restart-" + uuid.uuid4().hex[:8]
    java.create(base, b"before")
    ours = servers[1].client()
    ours.sync(base)
    assert ours.get(base)[0] == b"before"
    ours.stop()
    ours.close()
    servers[1].kill()
    java.set(base, b"while-down")
    java.create(base + "/new", b"")
    servers[1].start(wait=True, timeout=60)
    ours = servers[1].client()
    try:
        ours.sync(base)
        assert ours.get(base)[0] == b"while-down"
        assert ours.get_children(base) == ["new"]
        assert mode(servers[1]) == role
    finally:
        ours.stop()
        ours.close()


def test_leader_killed_our_node_follows_the_new_leader(ensemble, clients):
    """Runs last: the Java leader is killed; our node and the other Java node elect a new
    leader (the Java one, higher sid) and our node follows it with its data intact."""
    role, servers = ensemble
    leader = next(s for s in (2, 3) if mode(servers[s]) == "leader")
    if role == "observer":
        # One Java participant left is no quorum: our observer must stop serving (as a
        # Java observer does) rather than keep answering from a tree nobody updates.
        servers[leader].kill()
        deadline = time.time() + 20
        while time.time() < deadline:
            if "not currently serving" in servers[1].four_letter("srvr"):
                return
            time.sleep(0.2)
        pytest.fail("our observer kept serving without a quorum: %r" % servers[1].four_letter("srvr"))
    other = 5 - leader
    ours = servers[1].client()
    base = "/failover-" + uuid.uuid4().hex[:8]
    ours.create(base, b"x")
    ours.stop()
    ours.close()
    servers[leader].kill()
    wait_for(lambda: mode(servers[other]) == "leader", timeout=60, what="a new leader")
    wait_for(lambda: mode(servers[1]) == "follower", timeout=60, what="our node following")
    ours = wait_for(lambda: servers[1].client(), timeout=30, what="a session on our node")
    try:
        assert ours.get(base)[0] == b"x"
        ours.set(base, b"after-failover")
        j = servers[other].client()
        try:
            j.sync(base)
            assert j.get(base)[0] == b"after-failover"
        finally:
            j.stop()
            j.close()
    finally:
        ours.stop()
        ours.close()
