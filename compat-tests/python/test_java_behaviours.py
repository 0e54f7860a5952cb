"""Java 3.8 behaviours that clients we do not test with rely on (issue 12), on both servers.

- enforce.auth.enabled / enforce.auth.schemes: a connection without an id of an enforced
  scheme gets SessionClosedRequireSaslAuth (-124) for its first request and is closed.
- zookeeper.enforceQuota: QuotaExceeded (-125) past a hard limit, for create and setData,
  inside a multi too; the quota gauges of mntr.
- The order of a connection's auth ids (whoAmI, `auth` ACLs): Java's ConcurrentHashMap order.
- Null (-1 length) strings in requests: Java's answer for each op (MarshallingError where
  Java dereferences the null).
- createTTL with a non-TTL create mode: Java 3.8 logs a txn it cannot apply and dies (and
  cannot start again on that log); zk-rs answers BadArguments.
"""

import socket
import struct
import time

import pytest

import zkharness
import zkraw
from zkraw import Enc

NULL = None


def _connect_when_ready(srv, timeout=30.0):
    """A RawClient once the server takes sessions (the harness's kazoo probe cannot pass
    enforce.auth)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            raise AssertionError("%s exited with %s" % (srv.impl, srv.proc.returncode))
        try:
            c = zkraw.RawClient(srv.host, srv.port)
            if c.valid:
                return c
            c.close()
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError("%s took no session within %.0fs (%s)" % (srv.impl, timeout, last))


def _get_data_body(path):
    return Enc().string(path).bool(False).bytes()


# ---- enforce.auth ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def enforcing(impl, tmp_path_factory):
    srv = zkharness.start_server(impl, tmp_path_factory.mktemp("enforce-" + impl), wait=False,
                                 extra_cfg={"enforce.auth.enabled": "true",
                                            "enforce.auth.schemes": "digest"})
    try:
        _connect_when_ready(srv).close()
        yield srv
    finally:
        srv.stop()


def test_enforce_auth_refuses_the_first_request_without_auth(enforcing):
    c = zkraw.RawClient(enforcing.host, enforcing.port)
    session = c.session_id
    r = c.call(zkraw.OP_GET_DATA, _get_data_body("/"))
    assert (r.zxid, r.err) == (0, zkraw.SESSION_CLOSED_REQUIRE_SASL)
    assert c.closed.wait(5), "the connection stays open"
    # Java closes the connection, not the session: it stays until it expires.
    assert "0x%x" % session in enforcing.four_letter("dump")


def test_enforce_auth_runs_nothing_pipelined_behind_the_refused_request(enforcing):
    c = zkraw.RawClient(enforcing.host, enforcing.port)
    create = Enc().string("/sneaky").buffer(b"").acls(zkraw.OPEN_ACL_UNSAFE).int(0).bytes()
    frames = b""
    for xid, op, body in [(1, zkraw.OP_GET_DATA, _get_data_body("/")),
                          (2, zkraw.OP_CREATE, create),
                          (-2, zkraw.OP_PING, b"")]:
        payload = struct.pack(">ii", xid, op) + body
        frames += struct.pack(">i", len(payload)) + payload
    c.sock.sendall(frames)
    assert c.closed.wait(5)
    assert [e for e in c.log if e[0] == "reply"] == [("reply", 1, 0, zkraw.SESSION_CLOSED_REQUIRE_SASL)]
    ok = zkraw.RawClient(enforcing.host, enforcing.port)
    try:
        assert ok.add_auth("digest", b"admin:pw").err == 0
        assert ok.exists("/sneaky") is None
    finally:
        ok.close()


def test_enforce_auth_refuses_a_ping_and_a_close_too(enforcing):
    # (A ping with its own xid: the client drops replies with the ping xid -2.)
    for op, xid in [(zkraw.OP_PING, 5), (zkraw.OP_CLOSE, 7)]:
        c = zkraw.RawClient(enforcing.host, enforcing.port)
        r = c.call(op, b"", xid=xid)
        assert (r.xid, r.zxid, r.err) == (xid, 0, zkraw.SESSION_CLOSED_REQUIRE_SASL)
        assert c.closed.wait(5)
        # closeSession was refused: the session is still there.
        assert "0x%x" % c.session_id in enforcing.four_letter("dump")


def test_enforce_auth_lets_an_authenticated_connection_work(enforcing):
    c = zkraw.RawClient(enforcing.host, enforcing.port)
    try:
        assert c.add_auth("digest", b"u:p").err == 0
        c.create("/authed-%d" % c.session_id, b"x")
        assert c.who_am_i() == [("ip", "127.0.0.1"), ("digest", "u")]
    finally:
        c.close()


@pytest.mark.parametrize("cfg", [
    {"enforce.auth.enabled": "true"},
    {"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest,sasl"},
    {"sessionRequireClientSASLAuth": "true"},
], ids=["no-schemes", "unknown-scheme", "sasl-required"])
def test_enforce_auth_without_a_usable_scheme_does_not_start(impl, tmp_path, cfg):
    srv = zkharness.start_server(impl, tmp_path, extra_cfg=cfg, wait=False)
    try:
        srv.proc.wait(timeout=30)
    except Exception:  # noqa: BLE001
        srv.kill()
        raise AssertionError("%s started with %s" % (impl, cfg))
    assert srv.proc.returncode != 0


# ---- enforceQuota -------------------------------------------------------------------------

def _set_quota(c, root, limits):
    c.create(root, b"")
    c.create("/zookeeper/quota" + root, b"")
    c.create("/zookeeper/quota%s/zookeeper_limits" % root, limits)
    c.create("/zookeeper/quota%s/zookeeper_stats" % root, b"count=0,bytes=0")


def _code(f):
    try:
        f()
        return 0
    except zkraw.ZkError as e:
        return e.code


def _multi(c, ops):
    e = Enc()
    for op, body in ops:
        e.int(op).bool(False).int(-1)
        e.b += body
    e.int(-1).bool(True).int(-1)
    r = c.call(zkraw.OP_MULTI, e.bytes())
    d = zkraw.Dec(r.body)
    return r.err, [(d.int(), d.bool(), d.int())]


def test_enforce_quota_hard_limits(impl, tmp_path):
    srv = zkharness.start_server(impl, tmp_path, extra_cfg={"enforceQuota": "true"})
    try:
        c = zkraw.RawClient(srv.host, srv.port)
        _set_quota(c, "/q", b"count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3")
        assert c.get("/zookeeper/quota/q/zookeeper_stats")[0] == b"count=1,bytes=0"
        assert _code(lambda: c.create("/q/a", b"12345")) == 0
        assert _code(lambda: c.create("/q/b")) == 0
        assert _code(lambda: c.create("/q/c")) == zkraw.QUOTA_EXCEEDED
        assert _code(lambda: c.set("/q/a", b"x" * 11)) == zkraw.QUOTA_EXCEEDED
        assert _code(lambda: c.set("/q/a", b"x" * 10)) == 0
        assert _code(lambda: c.set("/q/a", b"y" * 10)) == 0
        assert _code(lambda: c.set("/q/a", b"")) == 0
        # Inside a multi too (Java prepares each op with the same checks).
        create = Enc().string("/q/m").buffer(b"").acls(zkraw.OPEN_ACL_UNSAFE).int(0).bytes()
        assert _multi(c, [(zkraw.OP_CREATE, create)]) == (0, [(-1, False, zkraw.QUOTA_EXCEEDED)])
        set_data = Enc().string("/q/a").buffer(b"z" * 30).int(-1).bytes()
        assert _multi(c, [(zkraw.OP_SET_DATA, set_data)]) == (0, [(-1, False, zkraw.QUOTA_EXCEEDED)])
        assert sorted(c.get_children("/q")) == ["a", "b"]
        assert c.get("/zookeeper/quota/q/zookeeper_stats")[0] == b"count=3,bytes=0"
        # A soft limit alone only logs.
        _set_quota(c, "/s", b"count=1,bytes=2")
        assert _code(lambda: c.create("/s/x", b"abc")) == 0
        mntr = dict(l.split("\t", 1) for l in srv.four_letter("mntr").splitlines() if "\t" in l)
        quota = {k: v for k, v in mntr.items() if "_quota_" in k}
        assert quota == {
            "zk_q_quota_bytes_limit_per_namespace": "10",
            "zk_q_quota_count_limit_per_namespace": "3",
            "zk_q_quota_count_usage_per_namespace": "3",
            "zk_q_quota_bytes_usage_per_namespace": "0",
            "zk_q_quota_exceeded_error_per_namespace": "4",
            "zk_s_quota_bytes_limit_per_namespace": "2",
            "zk_s_quota_count_limit_per_namespace": "1",
            "zk_s_quota_count_usage_per_namespace": "2",
            "zk_s_quota_bytes_usage_per_namespace": "3",
        }
        c.close()
    finally:
        srv.stop()


def test_quota_is_not_enforced_by_default(server):
    c = zkraw.RawClient(server.host, server.port)
    try:
        root = "/unenforced-%x" % c.session_id
        _set_quota(c, root, b"count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=1")
        c.create(root + "/a", b"far more than one byte")
        stats = "/zookeeper/quota%s/zookeeper_stats" % root
        assert c.get(stats)[0] == b"count=2,bytes=22"
    finally:
        c.close()


# ---- auth id order --------------------------------------------------------------------------

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy"]
# Printed by Java 3.8.0: its ConcurrentHashMap order, across one table resize (16 -> 32).
JAVA_ORDER = ["frank", "carol", "127.0.0.1", "alice", "ivan", "peggy", "bob", "grace", "niaj",
              "erin", "heidi", "mallory", "dave", "olivia", "judy"]


def test_auth_ids_come_in_java_order(server):
    c = zkraw.RawClient(server.host, server.port)
    try:
        for u in USERS[:6]:
            assert c.add_auth("digest", ("%s:pw" % u).encode()).err == 0
        path = "/auth-acl-%x" % c.session_id
        c.create(path, b"", acl=[(31, "auth", "")])
        r = c.call(zkraw.OP_GET_ACL, Enc().string(path).bytes())
        acl = [i.split(":")[0] for _, _, i in zkraw.Dec(r.body).acls()]
        assert acl == ["bob", "frank", "carol", "erin", "dave", "alice"]
        for u in USERS[6:]:
            assert c.add_auth("digest", ("%s:pw" % u).encode()).err == 0
        assert [u for _, u in c.who_am_i()] == JAVA_ORDER
    finally:
        c.close()


# ---- null strings ---------------------------------------------------------------------------

def _acl_create(scheme, ident):
    return Enc().string("/nullacl").buffer(b"d").int(1).int(31).string(scheme).string(ident) \
        .int(0).bytes()


def _multi_body(*ops):
    e = Enc()
    for op, body in ops:
        e.int(op).bool(False).int(-1)
        e.b += body
    return e.int(-1).bool(True).int(-1).bytes()


A = zkraw.OPEN_ACL_UNSAFE
# (name, op, body, Java 3.8.0's error code)
NULL_CASES = [
    ("create", zkraw.OP_CREATE, Enc().string(NULL).buffer(b"d").acls(A).int(0).bytes(), -5),
    ("create2", 15, Enc().string(NULL).buffer(b"d").acls(A).int(0).bytes(), -5),
    ("create-bad-mode", 15, Enc().string(NULL).buffer(b"d").acls(A).int(9).bytes(), -8),
    ("createContainer", zkraw.OP_CREATE_CONTAINER,
     Enc().string(NULL).buffer(b"d").acls(A).int(4).bytes(), -5),
    ("createTTL", zkraw.OP_CREATE_TTL,
     Enc().string(NULL).buffer(b"d").acls(A).int(5).long(100).bytes(), -5),
    ("acl-null-scheme", zkraw.OP_CREATE, _acl_create(NULL, "anyone"), -114),
    ("acl-world-null-id", zkraw.OP_CREATE, _acl_create("world", NULL), -5),
    ("acl-digest-null-id", zkraw.OP_CREATE, _acl_create("digest", NULL), -5),
    ("acl-unknown-null-id", zkraw.OP_CREATE, _acl_create("nope", NULL), -114),
    ("delete", zkraw.OP_DELETE, Enc().string(NULL).int(-1).bytes(), -5),
    ("exists", zkraw.OP_EXISTS, Enc().string(NULL).bool(False).bytes(), -5),
    ("getData", zkraw.OP_GET_DATA, Enc().string(NULL).bool(False).bytes(), -5),
    ("setData", zkraw.OP_SET_DATA, Enc().string(NULL).buffer(b"x").int(-1).bytes(), -8),
    ("getACL", zkraw.OP_GET_ACL, Enc().string(NULL).bytes(), -5),
    ("setACL", zkraw.OP_SET_ACL, Enc().string(NULL).acls(A).int(-1).bytes(), -8),
    ("getChildren", zkraw.OP_GET_CHILDREN, Enc().string(NULL).bool(False).bytes(), -5),
    ("getChildren2", 12, Enc().string(NULL).bool(False).bytes(), -5),
    ("sync", zkraw.OP_SYNC, Enc().string(NULL).bytes(), 0),
    # (check outside a multi is left out: Java 3.8.0 logs it as a txn it cannot read back,
    # zkserver answers Unimplemented as Java 3.8.6 does.)
    ("checkWatches", zkraw.OP_CHECK_WATCHES, Enc().string(NULL).int(3).bytes(), (-5, -121)),
    ("removeWatches", zkraw.OP_REMOVE_WATCHES, Enc().string(NULL).int(3).bytes(), -121),
    ("getEphemerals", zkraw.OP_GET_EPHEMERALS, Enc().string(NULL).bytes(), 0),
    ("getAllChildrenNumber", zkraw.OP_GET_ALL_CHILDREN_NUMBER, Enc().string(NULL).bytes(), -5),
    ("addWatch", zkraw.OP_ADD_WATCH, Enc().string(NULL).int(0).bytes(), 0),
    ("setWatches", zkraw.OP_SET_WATCHES, Enc().long(0).int(1).string(NULL).int(0).int(0).bytes(), -5),
    ("setWatches2", 105, Enc().long(0).int(1).string(NULL).int(0).int(0).int(0).int(0).bytes(), -5),
    ("multi-create", zkraw.OP_MULTI, _multi_body(
        (zkraw.OP_CREATE, Enc().string(NULL).buffer(b"d").acls(A).int(0).bytes())), -5),
    # The null path is found before any op is prepared, even after a failing op.
    ("multi-check-after-failure", zkraw.OP_MULTI, _multi_body(
        (zkraw.OP_CHECK, Enc().string("/missing").int(-1).bytes()),
        (zkraw.OP_DELETE, Enc().string(NULL).int(-1).bytes())), -5),
    ("multiRead", zkraw.OP_MULTI_READ, _multi_body(
        (zkraw.OP_GET_DATA, Enc().string(NULL).bool(False).bytes())), -5),
]


@pytest.mark.parametrize("name,op,body,code", NULL_CASES, ids=[c[0] for c in NULL_CASES])
def test_null_strings_are_answered_as_java_does(impl, server, name, op, body, code):
    """`code` is what Java 3.8.0 answers, or (3.8.0's, 3.9.3's) where they differ."""
    if isinstance(code, tuple):
        code = code[1] if zkharness.at_least(impl, 3, 9) else code[0]
    c = zkraw.RawClient(server.host, server.port)
    try:
        r = c.call(op, body)
        assert r.err == code, name
        assert not c.closed.wait(0.2), "%s closed the connection" % name
        assert c.exists("/nullacl") is None
    finally:
        c.close()


def test_null_scheme_in_auth_is_auth_failed(server):
    c = zkraw.RawClient(server.host, server.port)
    r = c.call(zkraw.OP_AUTH, Enc().int(0).string(NULL).buffer(b"u:p").bytes(), xid=zkraw.XID_AUTH)
    assert r.err == zkraw.AUTH_FAILED
    assert c.closed.wait(5)


# ---- createTTL with a non-TTL mode ----------------------------------------------------------

@pytest.mark.parametrize("flags", [zkraw.PERSISTENT])
def test_create_ttl_with_a_non_ttl_mode(impl, tmp_path, flags):
    srv = zkharness.start_server(impl, tmp_path)
    try:
        c = zkraw.RawClient(srv.host, srv.port)
        body = Enc().string("/t").buffer(b"d").acls(A).int(flags).long(-1).bytes()
        if zkharness.is_java(impl):
            # Java 3.8 (and 3.9.3, master) logs CreateTTLTxn(ttl=-1), then dies applying it
            # ("ttl must be positive"), and dies again replaying it on restart: the data
            # directory is unusable. Its followers would die the same way.
            with pytest.raises(ConnectionError):
                c.call(zkraw.OP_CREATE_TTL, body)
            srv.proc.wait(timeout=30)
            assert srv.proc.returncode != 0
            with pytest.raises(zkharness.ServerStartError):
                srv.start(timeout=20)
            return
        r = c.call(zkraw.OP_CREATE_TTL, body)
        assert r.err == zkraw.BAD_ARGUMENTS
        assert c.exists("/t") is None
        c.close()
        srv.stop()
        srv.start()
        c = zkraw.RawClient(srv.host, srv.port)
        assert c.exists("/t") is None
        c.close()
    finally:
        srv.stop()


# ---- the same under a zkserver leader with Java followers -----------------------------------

@zkharness.needs_impls("java", "zkrs")
def test_zkserver_leader_of_java_followers(tmp_path):
    """zkserver (myid 3, elected) leads two Java 3.8 followers, all with enforceQuota. A
    createTTL with a non-TTL mode, sent to our leader and through a Java follower, is
    BadArguments and leaves nothing a Java follower cannot apply (before the fix our leader
    proposed CreateTTLTxn(ttl=-1) and both Java followers died applying it); a create past a
    hard quota, forwarded by a Java follower, is QuotaExceeded as on a Java leader. The
    digest log (`hash`) of our leader equals the Java followers'."""
    with zkharness.Ensemble(tmp_path, extra={"enforceQuota": "true"}) as ens:
        servers = ens.start_all({3: "zkrs", 1: "java", 2: "java"})
        assert zkharness.mode(servers[3]) == "leader"
        c = {sid: zkraw.RawClient(s.host, s.port) for sid, s in servers.items()}
        ttl_body = Enc().string("/ttl-bad").buffer(b"d").acls(A).int(0).long(-1).bytes()
        for sid in (3, 1):
            assert c[sid].call(zkraw.OP_CREATE_TTL, ttl_body).err == zkraw.BAD_ARGUMENTS, sid
        _set_quota(c[3], "/eq", b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2")
        c[2].call(zkraw.OP_SYNC, Enc().string("/").bytes())
        assert _code(lambda: c[2].create("/eq/a")) == 0
        assert _code(lambda: c[2].create("/eq/b")) == zkraw.QUOTA_EXCEEDED
        c[1].create("/after", b"alive")
        # Past zxid (epoch, 0x80): our leader's `hash` (the digests its prep predicted) equals
        # the Java followers' (the digests of their own trees).
        for i in range(130):
            c[3].create("/after/n%03d" % i, b"d" * (i % 5))
        for sid in (1, 2, 3):
            c[sid].call(zkraw.OP_SYNC, Enc().string("/").bytes())
        hashes = {sid: servers[sid].four_letter("hash") for sid in (1, 2, 3)}
        assert hashes[3].count("\n") >= 1 and hashes[3].split(":")[0].endswith("80"), hashes
        assert hashes[1] == hashes[2] == hashes[3], hashes
        for sid, s in servers.items():
            assert s.proc.poll() is None, "node %d died" % sid
            c[sid].call(zkraw.OP_SYNC, Enc().string("/").bytes())
            assert c[sid].get("/after")[0] == b"alive", sid
            assert c[sid].exists("/ttl-bad") is None, sid
            assert sorted(c[sid].get_children("/eq")) == ["a"], sid
        for x in c.values():
            x.close()


@zkharness.needs_impls("java", "zkrs")
def test_zkserver_follower_of_a_java_leader(tmp_path):
    """A Java leader with a Java and a zkserver (myid 1) follower, all with enforceQuota: a
    create past a hard quota through our follower is QuotaExceeded (the Java leader decides),
    and after 130 writes our follower's `hash` equals the Java nodes'. A createTTL with a
    non-TTL mode sent to our follower is answered BadArguments there and never forwarded: a
    Java 3.8 leader would log it and every Java node would die applying it."""
    with zkharness.Ensemble(tmp_path, extra={"enforceQuota": "true"}) as ens:
        # The Java nodes first: one of them wins the election.
        servers = ens.start_all({3: "java", 2: "java", 1: "zkrs"})
        leader = ens.leader()
        assert leader in (2, 3) and zkharness.mode(servers[1]) == "follower"
        c = {sid: zkraw.RawClient(s.host, s.port) for sid, s in servers.items()}
        _set_quota(c[1], "/eq", b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2")
        # Java's leader checks quotas against its applied tree, which may lag the commit our
        # follower answered on: wait until the leader has applied the limits.
        zkharness.wait_for(
            lambda: c[leader].exists("/zookeeper/quota/eq/zookeeper_stats") is not None,
            timeout=10, what="the quota on the leader")
        assert _code(lambda: c[1].create("/eq/a")) == 0
        assert _code(lambda: c[1].create("/eq/b")) == zkraw.QUOTA_EXCEEDED
        for i in range(130):
            c[leader].create("/n%03d" % i, b"d" * (i % 5))
        for sid in (1, 2, 3):
            c[sid].call(zkraw.OP_SYNC, Enc().string("/").bytes())
        hashes = {sid: servers[sid].four_letter("hash") for sid in (1, 2, 3)}
        assert hashes[leader].split(":")[0].endswith("80"), hashes
        assert hashes[1] == hashes[2] == hashes[3], hashes
        ttl_body = Enc().string("/ttl-bad").buffer(b"d").acls(A).int(0).long(-1).bytes()
        assert c[1].call(zkraw.OP_CREATE_TTL, ttl_body).err == zkraw.BAD_ARGUMENTS
        c[1].create("/after", b"alive")
        for sid, s in servers.items():
            assert s.proc.poll() is None, "node %d died" % sid
            c[sid].call(zkraw.OP_SYNC, Enc().string("/").bytes())
            assert c[sid].get("/after")[0] == b"alive", sid
            assert c[sid].exists("/ttl-bad") is None, sid
        for x in c.values():
            x.close()
