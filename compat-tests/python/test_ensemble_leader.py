"""A mixed ensemble led by zkserver: two Java 3.8 servers (myid 1 and 2) and one zkserver with
the highest myid (3), so that with equal data ours wins the election and the Java nodes
follow it. Writes through a Java follower (forwarded to our leader as REQUEST) and through
our node are seen everywhere with identical Stats; ephemerals vanish when their session
closes or expires (our leader expires sessions, kept alive by the followers' touches); a
restarted Java follower catches up from our leader.

Needs both implementations (skipped unless ZK_IMPLS includes java and zkrs).
"""

import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError

import confignode
import zkharness
import zkraw
from zkharness import close_clients, mode, wait_for

pytestmark = zkharness.needs_impls("java", "zkrs")

OURS = 3
JAVA = (1, 2)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    with zkharness.Ensemble(tmp_path_factory.mktemp("ensemble-leader")) as ens:
        # Ours first: the election waits for it, so it wins with the highest id.
        yield ens.start_all({3: "zkrs", 1: "java", 2: "java"})


@pytest.fixture
def clients(ensemble):
    made = []

    def make(sid, **kw):
        zk = ensemble[sid].client(**kw)
        made.append(zk)
        return zk

    yield make
    close_clients(*made)


def _synced_stats(clients_by_sid, path):
    out = {}
    for sid, zk in clients_by_sid.items():
        zk.sync(path)
        out[sid] = zk.get(path)
    return out


def test_modes(ensemble):
    assert mode(ensemble[OURS]) == "leader"
    assert sorted(mode(ensemble[s]) for s in JAVA) == ["follower", "follower"]


def test_writes_through_every_node_same_stats(ensemble, clients):
    zks = {sid: clients(sid) for sid in (1, 2, 3)}
    base = "/lead-" + uuid.uuid4().hex[:8]
    # through a Java follower (forwarded to our leader)
    assert zks[1].create(base, b"from-java") == base
    zks[1].create(base + "/seq-", b"", sequence=True)
    zks[1].set(base, b"v2")
    # through our leader
    zks[3].create(base + "/ours", b"from-zkrs")
    zks[3].create(base + "/seq-", b"", sequence=True)
    zks[3].set(base + "/ours", b"v2")
    # through the other Java follower
    zks[2].create(base + "/seq-", b"x", sequence=True)
    # (sequence numbers follow the parent's cversion, which "ours" moved too)
    for path in (base, base + "/ours", base + "/seq-0000000000", base + "/seq-0000000003"):
        got = _synced_stats(zks, path)
        assert got[1] == got[2] == got[3], (path, got)
    for zk in zks.values():
        assert sorted(zk.get_children(base)) == [
            "ours", "seq-0000000000", "seq-0000000002", "seq-0000000003"]
    # errors are decided by our leader for every node
    for zk in zks.values():
        with pytest.raises(NoNodeError):
            zk.set(base + "/missing", b"x")
        with pytest.raises(BadVersionError):
            zk.set(base, b"x", version=99)
    # multi through a Java follower and through ours
    t = zks[2].transaction()
    t.create(base + "/m1", b"1")
    t.set_data(base + "/ours", b"by-multi")
    res = t.commit()
    assert res[0] == base + "/m1" and res[1].version == 2
    t = zks[3].transaction()
    t.check(base + "/m1", 0)
    t.delete(base + "/m1")
    assert t.commit() == [True, True]
    got = _synced_stats(zks, base)
    assert got[1] == got[2] == got[3]
    assert got[3][1].cversion == 6 and got[3][1].numChildren == 4
    # every node reports the same last zxid, in our leader's epoch
    zx = {s: ensemble[s].four_letter("srvr") for s in (1, 2, 3)}
    lines = {s: [ln for ln in v.splitlines() if ln.startswith("Zxid:")][0] for s, v in zx.items()}
    assert lines[1] == lines[2] == lines[3], lines


def test_watches_fire_across_nodes(ensemble, clients):
    java, ours = clients(1), clients(3)
    base = "/lwatch-" + uuid.uuid4().hex[:8]
    ours.create(base, b"")
    java.sync(base)
    seen = []
    java.get_children(base, watch=lambda e: seen.append(("java", e.type, e.path)))
    ours.exists(base + "/x", watch=lambda e: seen.append(("ours", e.type, e.path)))
    clients(2).create(base + "/x", b"")
    wait_for(lambda: len(seen) == 2, what="watches")
    assert sorted(seen) == [("java", "CHILD", base), ("ours", "CREATED", base + "/x")]


def test_ephemerals_vanish_on_close(ensemble, clients):
    ours = clients(3)
    base = "/leph-" + uuid.uuid4().hex[:8]
    ours.create(base, b"")
    on_java = ensemble[1].client()
    on_ours = ensemble[3].client()
    jsid, osid = on_java.client_id[0], on_ours.client_id[0]
    assert jsid >> 56 == 1 and osid >> 56 == 3
    on_java.create(base + "/j", b"", ephemeral=True)
    on_ours.create(base + "/o", b"", ephemeral=True)
    other = clients(2)
    other.sync(base)
    assert other.exists(base + "/j").ephemeralOwner == jsid
    assert other.exists(base + "/o").ephemeralOwner == osid
    for zk in (on_java, on_ours):
        zk.stop()
        zk.close()
    for zk in (other, ours):
        zk.sync(base)
        assert zk.get_children(base) == []


def test_leader_expires_sessions_touches_keep_them(ensemble, clients):
    """A session on a Java follower lives past its timeout through the follower's touches
    in PING replies; once its client vanishes our leader expires it everywhere."""
    ours = clients(3)
    base = "/lexp-" + uuid.uuid4().hex[:8]
    ours.create(base, b"")
    raw = zkraw.RawClient("127.0.0.1", ensemble[1].port, timeout_ms=4000)
    try:
        assert raw.valid
        raw.create(base + "/e", b"", flags=zkraw.EPHEMERAL)
        time.sleep(6)  # past the timeout: the raw client pings the Java follower
        ours.sync(base)
        assert ours.exists(base + "/e").ephemeralOwner == raw.session_id
    finally:
        raw.drop()
    wait_for(lambda: ours.exists(base + "/e") is None, timeout=20, what="expiry by our leader")
    java = clients(2)
    java.sync(base)
    assert java.exists(base + "/e") is None


def test_session_moves_follower_to_leader(ensemble, clients):
    """A session created on a Java follower continues on our leader (revalidated by our
    session tracker) and keeps its ephemerals."""
    base = "/lmove-" + uuid.uuid4().hex[:8]
    first = ensemble[2].client()
    first.create(base, b"")
    first.create(base + "/e", b"", ephemeral=True)
    sid, pw = first.client_id
    moved = KazooClient(hosts=ensemble[3].connect_string, client_id=(sid, pw), timeout=10,
                        logger=zkharness._quiet_logger())
    moved.start(timeout=10)
    try:
        assert moved.client_id[0] == sid
        moved.create(base + "/e2", b"", ephemeral=True)
        assert moved.exists(base + "/e").ephemeralOwner == sid
    finally:
        moved.stop()
        moved.close()
        close_clients(first)
    java = clients(1)
    wait_for(lambda: java.sync(base) is not None and java.get_children(base) == [],
             what="ephemerals of the moved session gone")


def _guarded(zk, path):
    """A persistent node only digest user owner:secret may change (others may read)."""
    from kazoo.security import make_acl, make_digest_acl
    acl = [make_digest_acl("owner", "secret", all=True), make_acl("world", "anyone", read=True)]
    zk.add_auth("digest", "owner:secret")
    zk.create(path, b"keep", acl=acl)
    return acl


@pytest.mark.parametrize("sid", [1, 3])
def test_client_delete_container_is_bad_arguments_on_every_node(ensemble, clients, sid):
    """A client's deleteContainer (op 20) with the bare path as body: Java reads its path from
    the whole packet, so it is always BadArguments, on a follower (forwarded to our leader)
    as on the leader; the guarded childless node stays."""
    owner = clients(3)
    path = "/ldc-" + uuid.uuid4().hex[:8]
    acl = _guarded(owner, path)
    c = zkraw.RawClient("127.0.0.1", ensemble[sid].port)
    try:
        r = c.call(zkraw.OP_DELETE_CONTAINER, path.encode())
        assert r.err == zkraw.BAD_ARGUMENTS
    finally:
        c.close()
    for node in (1, 2, 3):
        zk = clients(node)
        zk.sync(path)
        assert zk.get(path)[0] == b"keep", node
    assert owner.get_acls(path)[0] == acl
    owner.delete(path)


def test_old_connection_of_a_moved_session_gets_closed(ensemble, clients):
    """A session moved from Java follower 1 to Java follower 2: a write on its old connection
    is SessionMoved at our leader, which the follower answers by closing that connection
    (Java's FinalRequestProcessor); the write does not happen."""
    owner = clients(3)
    path = "/lmoved-" + uuid.uuid4().hex[:8]
    owner.create(path, b"before")
    old = zkraw.RawClient("127.0.0.1", ensemble[1].port)
    new = zkraw.RawClient("127.0.0.1", ensemble[2].port, session_id=old.session_id,
                          passwd=old.passwd)
    try:
        assert new.valid and new.session_id == old.session_id
        slot = old.send(zkraw.OP_SET_DATA, zkraw.Enc().string(path).buffer(b"stale").int(-1).bytes())
        assert old.closed.wait(10), "old connection still open"
        reply = None if slot.empty() else slot.get_nowait()
        assert reply is None or reply.err != 0, reply
        owner.sync(path)
        assert owner.get(path)[0] == b"before"
        # The session itself lives on where it moved to.
        new.ok(zkraw.OP_SET_DATA, zkraw.Enc().string(path).buffer(b"after").int(-1).bytes())
        assert owner.get(path)[0] == b"after"
    finally:
        old.drop()
        new.close()


def test_java_follower_restarts_and_catches_up(ensemble, clients):
    """kill -9 a Java follower, write meanwhile, restart it: our leader syncs it (DIFF) and
    it serves what it missed."""
    ours = clients(3)
    base = "/lrestart-" + uuid.uuid4().hex[:8]
    ours.create(base, b"before")
    ensemble[2].kill()
    ours.set(base, b"while-down")
    for i in range(20):
        ours.create(base + "/n%02d" % i, b"%d" % i)
    ensemble[2].start(wait=True, timeout=60)
    wait_for(lambda: mode(ensemble[2]) == "follower", what="the Java node following again")
    java = clients(2)
    java.sync(base)
    assert java.get(base)[0] == b"while-down"
    assert len(java.get_children(base)) == 20
    assert java.get(base)[1] == ours.get(base)[1]
    java.create(base + "/after", b"")
    ours.sync(base)
    assert ours.exists(base + "/after") is not None
    assert mode(ensemble[OURS]) == "leader"
    log = (ensemble[2].workdir / "server.log").read_text(errors="replace")
    assert "Getting a diff from the leader" in log


def test_wiped_java_follower_rebuilt_by_snap(ensemble, clients):
    """A Java follower whose data is gone gets our tree as a SNAP stream."""
    import shutil

    ours = clients(3)
    base = "/lsnap-" + uuid.uuid4().hex[:8]
    ours.create(base, b"x" * 1000)
    ours.create(base + "/child", b"", ephemeral=True)
    srv = ensemble[1]
    srv.kill()
    shutil.rmtree(srv.data_dir / "version-2", ignore_errors=True)
    ours.set(base, b"after-wipe")
    srv.start(wait=True, timeout=60)
    wait_for(lambda: mode(srv) == "follower", what="the wiped Java node following again")
    java = clients(1)
    java.sync(base)
    assert java.get(base) == ours.get(base)
    assert java.exists(base + "/child").ephemeralOwner == ours.client_id[0]
    log = (srv.workdir / "server.log").read_text(errors="replace")
    assert "Getting a snapshot from leader" in log
    java.create(base + "/new", b"")
    ours.sync(base)
    assert sorted(ours.get_children(base)) == ["child", "new"]


def test_all_alive(ensemble):
    for s in ensemble.values():
        s.check_alive()
    assert ensemble[OURS].four_letter("ruok") == "imok"


def test_zookeeper_config_as_java_writes_it(ensemble):
    """/zookeeper/config holds the server lines and version=0 on our leader exactly as on
    the Java followers (data, stat but mtime, ACL), and zkCli's `config` prints them."""
    confignode.check(ensemble)
    want = confignode.expected(ensemble[OURS]).decode().splitlines()
    for sid in (1, OURS):
        rc, lines = confignode.zkcli_config(ensemble[sid])
        assert (rc, lines) == (0, want), (sid, lines)
