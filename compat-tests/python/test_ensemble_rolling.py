"""Operational scenarios of mixed Java 3.8 / zkserver ensembles, under a continuous write load:

1. Rolling replacement: a 3-node Java ensemble becomes a 3-node zkserver ensemble, one node at
   a time (stop the Java node, start zkserver on the same zoo.cfg, dataDir, myid and ports,
   wait until it serves as follower/leader), while a writer keeps creating sequential nodes
   through a client that knows all three nodes. No acknowledged write is lost and the three
   nodes end with identical trees (children, data and Stats). A second pass replaces the
   zkserver nodes by Java again (the way back: Java loads zkserver's data dirs).
2. Leader kill -9 under load (zkserver leading two Java followers, three zkservers, and the
   three mixes whose two survivors elect across implementations): the time until writes succeed again (re-election + resync) is measured and bounded; no
   acknowledged write is lost; the old leader comes back, catches up, and all trees agree.
3. One Java + two zkserver nodes (with a Java leader and with a zkserver leader): writes and
   reads through every node, identical Stats.

The counts and times are printed (run with -s to see them).

Needs both implementations (skipped unless ZK_IMPLS includes java and zkrs).
"""

import re
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

import zkharness
from zkharness import close_clients, mode, wait_for

pytestmark = zkharness.needs_impls("java", "zkrs")

RECOVERY_LIMIT = 10.0


@pytest.fixture
def ens(tmp_path):
    """Three nodes whose ports stay fixed for the test: any node can be stopped and started
    again as the other implementation on its own config, data and myid."""
    with zkharness.Ensemble(tmp_path) as e:
        yield e


class Writer(threading.Thread):
    """Sequential creates under `root` through a client that knows all nodes; records every
    acknowledged path and its time."""

    def __init__(self, hosts, root):
        super().__init__(daemon=True)
        self.root = root
        self.zk = KazooClient(
            hosts=hosts, timeout=15, logger=zkharness._quiet_logger(),
            connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5,
                                        ignore_expire=False))
        self.zk.start(timeout=15)
        self.zk.ensure_path(root)
        self.acked = []          # (path, sent_at, acked_at)
        self.failures = 0
        self.errors = {}
        self._halt = threading.Event()

    def run(self):
        i = 0
        while not self._halt.is_set():
            i += 1
            sent = time.monotonic()
            try:
                path = self.zk.create(self.root + "/w-", b"%d" % i, sequence=True)
            except Exception as e:  # noqa: BLE001 -- connection loss, not connected, ...
                self.failures += 1
                name = type(e).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
                time.sleep(0.02)
                continue
            self.acked.append((path, sent, time.monotonic()))
            time.sleep(0.002)

    def finish(self):
        self._halt.set()
        self.join(timeout=30)
        assert not self.is_alive()
        close_clients(self.zk)

    def first_ack_sent_after(self, t):
        for _, sent, acked in self.acked:
            if sent > t:
                return acked
        return None


def _tree(server, root):
    """{path: (data, stat)} of root and its children, read through `server` after a sync."""
    zk = wait_for(lambda: server.client(timeout=15), timeout=60, what="a session on %r" % server)
    try:
        zk.sync(root)
        children = sorted(zk.get_children(root))
        asyncs = [(root, zk.get_async(root))] + [
            (root + "/" + c, zk.get_async(root + "/" + c)) for c in children]
        out = {}
        for path, a in asyncs:
            out[path] = a.get(timeout=30)
        assert set(out) == {root} | {root + "/" + c for c in children}
        return out
    finally:
        close_clients(zk)


def _check_no_loss_same_trees(ens, writer, root):
    trees = {sid: _tree(s, root) for sid, s in ens.servers.items()}
    acked = {p for p, _, _ in writer.acked}
    for sid, tree in trees.items():
        missing = acked - set(tree)
        assert not missing, "node %d lost %d acknowledged writes, e.g. %s" % (
            sid, len(missing), sorted(missing)[:5])
    first = trees[1]
    for sid in (2, 3):
        if trees[sid] != first:
            only = set(trees[sid]) ^ set(first)
            diff = [p for p in first if p in trees[sid] and trees[sid][p] != first[p]]
            raise AssertionError("node %d's tree differs from node 1's: %d paths only on one, "
                                 "%d differ, e.g. %s %s" % (sid, len(only), len(diff),
                                                            sorted(only)[:3], diff[:3]))
    return len(first) - 1


# -- 1. rolling replacement --------------------------------------------------------------------

@pytest.mark.parametrize("plan", [("zkrs",), ("zkrs", "java")],
                         ids=["java-to-zkrs", "java-to-zkrs-and-back"])
def test_rolling_replacement(ens, plan):
    """Each entry of `plan` is one rolling pass replacing nodes 1, 2, 3 by that
    implementation; the way back to Java checks that Java reads zkserver's data dir."""
    for sid in (1, 2, 3):
        ens.start(sid, "java")
    ens.wait_ready()
    root = "/rolling-" + uuid.uuid4().hex[:8]
    writer = Writer(ens.connect_string, root)
    writer.start()
    replaced = 0
    timings = []
    try:
        time.sleep(2)
        for impl in plan:
            for sid in (1, 2, 3):
                t0 = time.monotonic()
                before = len(writer.acked)
                ens.servers[sid].stop()
                srv = ens.start(sid, impl)
                wait_for(lambda: mode(srv) in ("follower", "leader"), timeout=60,
                         what="%s %d serving" % (impl, sid))
                srv.wait_ready(timeout=60)
                replaced += 1
                timings.append((sid, impl, mode(srv), time.monotonic() - t0))
                # the writer must make progress with the new node in place
                wait_for(lambda b=before: len(writer.acked) > b + 20, timeout=30,
                         what="writes after replacing node %d" % sid)
                time.sleep(1)
        time.sleep(1)
    finally:
        writer.finish()
    for srv in ens.servers.values():
        srv.check_alive()
        assert srv.impl == plan[-1]
    modes = sorted(mode(s) for s in ens.servers.values())
    assert modes == ["follower", "follower", "leader"], modes
    nodes = _check_no_loss_same_trees(ens, writer, root)
    print("\nrolling replacement (%s): %d acked writes (%d failed attempts %s), %d znodes "
          "under the root, identical on all nodes; %d replacements: %s" % (
              " -> ".join(("java",) + plan), len(writer.acked), writer.failures, writer.errors,
              nodes, replaced,
              ", ".join("node %d -> %s %s in %.1fs" % t for t in timings)))
    assert replaced == 3 * len(plan)
    assert len(writer.acked) > 100


# -- 2. leader kill -9 under load ----------------------------------------------------------------

# Node 3 leads; after its kill -9 nodes 1 and 2 elect node 2. The mixed survivors elect
# across implementations: zkserver decides without Java's finalize wait when the dead node
# refuses its election connection, so it must still follow a Java leader that decides 200 ms
# later (zkrs1-java2-zkrs3) and lead a Java follower that decides later (java1-zkrs23).
KILL9_LAYOUTS = {
    "java12-zkrs3": {1: "java", 2: "java", 3: "zkrs"},
    "zkrs123": {1: "zkrs", 2: "zkrs", 3: "zkrs"},
    "java1-zkrs23": {1: "java", 2: "zkrs", 3: "zkrs"},
    "zkrs1-java2-zkrs3": {1: "zkrs", 2: "java", 3: "zkrs"},
    "zkrs12-java3": {1: "zkrs", 2: "zkrs", 3: "java"},
}


@pytest.mark.parametrize("layout", list(KILL9_LAYOUTS))
def test_leader_kill9_under_load(ens, layout):
    impls = KILL9_LAYOUTS[layout]
    # The intended leader first: the election waits for it, it wins with the highest id
    # (a JVM starts slower than the two others would elect among themselves).
    ens.start(3, impls[3])
    started = re.compile(r"New election\. My id = 3|new election my_sid=3")
    wait_for(lambda: started.search(_log_text(ens.servers[3])), timeout=60,
             what="node 3's first election")
    for sid in (1, 2):
        ens.start(sid, impls[sid])
    ens.wait_ready()
    wait_for(lambda: ens.leader() is not None, what="a leader")
    leader = ens.leader()
    assert leader == 3, (leader, layout)
    root = "/kill9-" + uuid.uuid4().hex[:8]
    writer = Writer(ens.connect_string, root)
    writer.start()
    try:
        wait_for(lambda: len(writer.acked) > 200, what="writes before the kill")
        t_kill = time.monotonic()
        ens.servers[leader].kill()
        others = [s for s in ens.servers if s != leader]
        wait_for(lambda: writer.first_ack_sent_after(t_kill) is not None, timeout=60,
                 what="a write acknowledged after the kill")
        recovery = writer.first_ack_sent_after(t_kill) - t_kill
        new_leader = wait_for(lambda: ens.leader(), timeout=30, what="the new leader")
        assert new_leader in others
        after = len(writer.acked)
        wait_for(lambda: len(writer.acked) > after + 100, what="writes with the new leader")
        # the old leader comes back (same implementation) and follows
        ens.start(leader, impls[leader], wait=True)
        wait_for(lambda: mode(ens.servers[leader]) == "follower", timeout=60,
                 what="the old leader following")
        time.sleep(1)
    finally:
        writer.finish()
    for srv in ens.servers.values():
        srv.check_alive()
    nodes = _check_no_loss_same_trees(ens, writer, root)
    print("\nleader kill -9 (%s): killed node %d (%s), new leader node %d (%s); writes "
          "succeeded again after %.2fs; %d acked writes (%d failed attempts %s), %d znodes" % (
              layout, leader, impls[leader], new_leader, ens.servers[new_leader].impl,
              recovery, len(writer.acked), writer.failures, writer.errors, nodes))
    assert recovery < RECOVERY_LIMIT, "writes resumed only after %.2fs" % recovery


def _log_text(srv):
    try:
        return re.sub(r"\x1b\[[0-9;]*m", "", srv.log_path.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


# -- 3. one Java, two zkserver -------------------------------------------------------------------

@pytest.mark.parametrize("java_sid", [1, 3], ids=["zkrs-leader", "java-leader"])
def test_one_java_two_zkrs(ens, java_sid):
    impls = {sid: ("java" if sid == java_sid else "zkrs") for sid in (1, 2, 3)}
    ens.start(3, impls[3])
    # node 3 (the intended leader) takes part in the first election: wait until its election
    # has started (a JVM starts slower than the two others would elect a leader among
    # themselves; Java opens its election port ~0.4 s before it starts looking, and answers
    # no notification before that)
    started = re.compile(r"New election\. My id = 3|new election my_sid=3")
    wait_for(lambda: started.search(_log_text(ens.servers[3])), timeout=60,
             what="node 3's first election")
    for sid in (1, 2):
        ens.start(sid, impls[sid])
    ens.wait_ready()
    wait_for(lambda: sorted(mode(s) for s in ens.servers.values()) ==
             ["follower", "follower", "leader"], timeout=60, what="one leader, two followers")
    assert ens.leader() == 3
    zks = {sid: ens.servers[sid].client() for sid in (1, 2, 3)}
    try:
        base = "/mix-" + uuid.uuid4().hex[:8]
        zks[1].create(base, b"root")
        for sid in (1, 2, 3):
            for k in range(3):
                zks[sid].create(base + "/n%d-%d" % (sid, k), b"from-%d" % sid)
                zks[sid].create(base + "/seq-", b"%d" % sid, sequence=True)
            zks[sid].set(base + "/n%d-0" % sid, b"changed-%d" % sid)
            zks[sid].delete(base + "/n%d-2" % sid)
        t = zks[2].transaction()
        t.create(base + "/multi", b"m")
        t.set_data(base + "/n1-1", b"by-multi")
        t.commit()
        zks[3].set(base, b"root2")
        trees = {}
        for sid, zk in zks.items():
            zk.sync(base)
            children = sorted(zk.get_children(base))
            trees[sid] = {p: zk.get(p) for p in [base] + [base + "/" + c for c in children]}
        assert trees[1] == trees[2] == trees[3]
        tree = trees[1]
        assert len(tree) == 1 + 3 * 2 + 3 * 3 + 1
        assert tree[base][0] == b"root2" and tree[base][1].version == 1
        assert tree[base + "/n1-1"][0] == b"by-multi"
        assert len([p for p in tree if "/seq-" in p]) == 9
        print("\n1 java + 2 zkrs (%s): modes %s, %d znodes identical through every node" % (
            "java leader" if java_sid == 3 else "zkrs leader",
            {sid: "%s/%s" % (ens.servers[sid].impl, mode(ens.servers[sid])) for sid in zks},
            len(tree)))
    finally:
        close_clients(*zks.values())
