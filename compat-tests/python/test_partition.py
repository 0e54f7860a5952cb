"""A network partition of a three-node zkserver ensemble, with real network namespaces.

Each node runs in its own network namespace (`ip netns exec NS zkserver zoo.cfg`), with one
end of a veth pair inside (10.X.Y.N/24, X/Y random per run) and the other end a port of a
bridge in the root namespace, which also has 10.X.Y.254 so the test's clients (in the root
namespace) reach every node. A node is partitioned away by blackhole routes: inside its
namespace to the other two nodes, and inside theirs to it. The root namespace keeps reaching
every node, so the test can watch the minority node refuse service.

Checked, for a follower and then for the leader being the minority:
  * the minority node stops serving (`srvr` says so, a session it had fails its writes, a
    new session cannot be established there);
  * the majority keeps (or, after electing a new leader, resumes) accepting writes;
  * after healing, the minority node rejoins and all three hold identical trees (every
    znode: data and Stat), including the writes made during the partition.

Needs root (network namespaces, veth, bridge). If they cannot be created, the test FAILS
(with the reason), it is not skipped. Skipped unless ZK_IMPLS includes zkrs.
"""

import random
import subprocess
import uuid

import pytest
from kazoo.client import KazooClient

import zkharness
from zkharness import close_clients, mode, wait_for

pytestmark = zkharness.needs_impls("zkrs")

TICK = 500
NOT_SERVING = "not currently serving requests"


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if check and r.returncode != 0:
        raise RuntimeError("`ip %s` failed (rc %d): %s" % (" ".join(args), r.returncode,
                                                           r.stderr.strip()))
    return r


class NsServer(zkharness.Server):
    """A zkserver run inside network namespace `ns`, serving clients on `addr`:2181."""

    def __init__(self, ns, addr, workdir, extra, myid):
        self.ns = ns
        super().__init__("zkrs", workdir, 2181, extra, myid=myid)
        self.host = addr
        self.connect_string = "%s:%d" % (addr, self.port)
        self._write_config()

    def _command(self):
        return ["ip", "netns", "exec", self.ns] + super()._command()


class NsEnsemble(zkharness.Ensemble):
    """The three nodes, each in its namespace of `net`, on ports 2181, 2888 and 3888 there."""

    def __init__(self, net, tmp):
        self.net = net
        super().__init__(tmp, tick=TICK, sync_limit=4)

    def peer(self, sid):
        return self.net.addr(sid), (2181, 2888, 3888)

    def new_server(self, sid, impl):
        return NsServer(self.net.ns[sid], self.net.addr(sid), self.workdir(sid),
                        self.node_cfg(sid), sid)


def _srvr(server):
    try:
        return server.four_letter("srvr")
    except OSError as e:
        return "error: %s" % e


def _client(server, timeout=5.0):
    return server.client(timeout=timeout)


class Net:
    """Three namespaces on a bridge; partition()/heal() with blackhole routes."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
        for _ in range(100):
            x, y = random.randint(100, 250), random.randint(1, 254)
            if "10.%d.%d." % (x, y) not in used:
                break
        self.prefix = "10.%d.%d." % (x, y)
        self.bridge = "zkpbr" + tag
        self.ns = {sid: "zkp-%s-%d" % (tag, sid) for sid in (1, 2, 3)}
        self.host_if = {sid: "zkp%s%dh" % (tag, sid) for sid in (1, 2, 3)}
        self.created_ns = []
        self.created_bridge = False
        self.blackholes = []  # (ns, addr)

    def addr(self, sid):
        return self.prefix + str(sid)

    def setup(self):
        _ip("link", "add", self.bridge, "type", "bridge")
        self.created_bridge = True
        _ip("addr", "add", self.prefix + "254/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for sid, ns in self.ns.items():
            _ip("netns", "add", ns)
            self.created_ns.append(ns)
            _ip("link", "add", self.host_if[sid], "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("link", "set", self.host_if[sid], "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", self.addr(sid) + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def partition(self, sid):
        for other in self.ns:
            if other == sid:
                continue
            for ns, dst in ((self.ns[sid], self.addr(other)), (self.ns[other], self.addr(sid))):
                _ip("-n", ns, "route", "add", "blackhole", dst + "/32")
                self.blackholes.append((ns, dst))

    def heal(self):
        while self.blackholes:
            ns, dst = self.blackholes.pop()
            _ip("-n", ns, "route", "del", "blackhole", dst + "/32", check=False)

    def cleanup(self):
        self.heal()
        # delete the veths from the root side: a deleted namespace can linger (kernel refs
        # from closing sockets) and keep its veth pair, and so our host ends, alive
        for ns in self.created_ns:
            sid = next(s for s, n in self.ns.items() if n == ns)
            _ip("link", "del", self.host_if[sid], check=False)
        if self.created_bridge:
            _ip("link", "del", self.bridge, check=False)
        for ns in self.created_ns:
            _ip("netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    net = Net()
    try:
        try:
            net.setup()
        except (RuntimeError, OSError) as e:
            pytest.fail("cannot create network namespaces / veth / bridge here (needs root "
                        "and CAP_NET_ADMIN): %s" % e, pytrace=False)
        with NsEnsemble(net, tmp_path_factory.mktemp("partition")) as ens:
            yield net, ens.start_all({sid: "zkrs" for sid in net.ns}, timeout=30)
    finally:
        net.cleanup()


def _tree(zk):
    """{path: (data, Stat)} of every znode, after a sync."""
    zk.sync("/")
    out = {}
    todo = ["/"]
    while todo:
        path = todo.pop()
        data, stat = zk.get(path)
        if path == "/zookeeper/config":
            # Each member writes it itself when it loads its tree (Java's
            # initConfigInZKDatabase): the same bytes, its own mtime.
            stat = stat._replace(mtime=0)
        out[path] = (data, stat)
        for child in zk.get_children(path):
            todo.append(path.rstrip("/") + "/" + child)
    return out


def _assert_converged(servers):
    def same():
        zks = [_client(s) for s in servers.values()]
        try:
            trees = [_tree(zk) for zk in zks]
        finally:
            close_clients(*zks)
        return trees if trees[0] == trees[1] == trees[2] else None

    try:
        return wait_for(same, timeout=20, what="identical trees on all three nodes")[0]
    except AssertionError:
        zks = [_client(s) for s in servers.values()]
        try:
            trees = [_tree(zk) for zk in zks]
        finally:
            close_clients(*zks)
        diff = {p: [t.get(p) for t in trees] for p in set().union(*trees)
                if len({repr(t.get(p)) for t in trees}) > 1}
        raise AssertionError("trees differ after healing: %r" % diff)


def _minority_refuses(minority, zk_min, base):
    wait_for(lambda: NOT_SERVING in _srvr(minority), timeout=20,
             what="the minority node to stop serving")
    # the session it had cannot write (ConnectionLoss or a timeout, not a success)
    failed = False
    try:
        zk_min.create_async(base + "/from-minority", b"x").get(timeout=3)
    except Exception:  # noqa: BLE001
        failed = True
    assert failed, "a write through the minority node succeeded"
    close_clients(zk_min)  # drop the queued request before any reconnection
    # and no new session can be established there
    zk = KazooClient(hosts=minority.connect_string, timeout=2,
                     logger=zkharness._quiet_logger())
    try:
        with pytest.raises(Exception):
            zk.start(timeout=2)
            zk.get("/")
    finally:
        close_clients(zk)
    assert NOT_SERVING in _srvr(minority)


def _majority_writes(majority, base, tag):
    def write():
        zk = _client(majority[0])
        try:
            zk.create(base + "/" + tag + "-a", b"during")
        finally:
            close_clients(zk)
        return True

    wait_for(write, timeout=30, what="a write through the majority")
    zks = [_client(s) for s in majority]
    try:
        zks[1].create(base + "/" + tag + "-b", b"during")
        zks[0].set(base, tag.encode())
        zks[1].create(base + "/" + tag + "-seq-", b"", sequence=True)
        for zk in zks:
            zk.sync(base)
            assert zk.get(base)[0] == tag.encode()
    finally:
        close_clients(*zks)


@pytest.mark.parametrize("victim", ["follower", "leader"])
def test_partition_minority_stops_majority_continues_heal_converges(ensemble, victim):
    net, servers = ensemble
    leader = wait_for(lambda: next((sid for sid, s in servers.items() if mode(s) == "leader"),
                                   None), timeout=30, what="an elected leader")
    wait_for(lambda: sorted(mode(s) for s in servers.values())
             == ["follower", "follower", "leader"], timeout=30, what="two followers")
    if victim == "leader":
        cut = leader
    else:
        cut = next(sid for sid in servers if sid != leader)
    minority = servers[cut]
    majority = [servers[sid] for sid in servers if sid != cut]
    base = "/part-%s-%s" % (victim, uuid.uuid4().hex[:6])

    zk = _client(majority[0])
    try:
        zk.create(base, b"before")
    finally:
        close_clients(zk)
    zk_min = _client(minority)
    zk_min.sync(base)
    assert zk_min.get(base)[0] == b"before"

    net.partition(cut)
    try:
        _minority_refuses(minority, zk_min, base)
        _majority_writes(majority, base, "p")
        modes = sorted(mode(s) for s in majority)
        assert modes == ["follower", "leader"], modes
        assert NOT_SERVING in _srvr(minority)
    finally:
        net.heal()

    wait_for(lambda: mode(minority) == "follower", timeout=30,
             what="the partitioned node to rejoin as a follower")
    tree = _assert_converged(servers)
    assert tree[base][0] == b"p"
    # (the sequence suffix is the parent's cversion: two creates before it)
    assert {base + "/p-a", base + "/p-b", base + "/p-seq-0000000002"} <= set(tree)
    assert base + "/from-minority" not in tree
    zk = _client(minority)
    try:
        zk.sync(base)
        assert sorted(zk.get_children(base)) == ["p-a", "p-b", "p-seq-0000000002"]
        # and the healed node takes writes again
        zk.create(base + "/after", b"")
    finally:
        close_clients(zk)
    _assert_converged(servers)
