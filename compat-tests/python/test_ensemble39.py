"""Ensembles with Java 3.9.3 nodes: mixed 3.9 ensembles, a rolling replacement of a Java 3.9
ensemble by zkserver, and the rolling upgrade Java 3.8.0 -> zkserver -> Java 3.9.3.

1. Mixed 3.9 ensembles (three participants and one observer), once led by Java 3.9.3 (with a
   zkserver follower and a zkserver observer) and once led by zkserver in 3.9 mode (with a
   Java 3.9.3 follower and observer): writes through every node (multi with create2 too,
   whose sub-txns a 3.9 leader proposes as type 15), reads and watches on every node,
   identical trees and Stats everywhere, and no digest mismatch on any node; a stopped
   follower comes back by DIFF and a wiped observer by SNAP across implementations.
2. Rolling replacement of a 3-node Java 3.9.3 ensemble by zkserver (3.9 mode) under a
   continuous writer: 0 lost acknowledged writes, identical trees, no digest mismatch.
3. The rolling upgrade Java 3.8.0 -> zkserver -> Java 3.9.3 under a continuous writer.
   zkserver runs with compat.version=3.8 during it: in the first pass 3.8.0 Java members
   remain, which cannot apply a multi's type-15 (create2) sub-txn (DataTree.processTxn
   throws "Invalid type of op: 15"), so a zkserver leader must propose what 3.8.0 proposes
   (type 1); in the second pass the Java 3.9.3 nodes that join lead or follow zkserver nodes
   in 3.8 mode, which must apply the type-15 sub-txns a 3.9.3 leader sends.
4. A Java 3.9.3 leader whose committedLog has a hole (ZOOKEEPER-4925): zkserver refuses the
   DIFF that skips txns and syncs by SNAP instead.

The writers: kazoo sequential creates, and multis with a create2 op (zkraw) that cross the
quorum as type-15 sub-txns from a 3.9 leader and as type 1 from a 3.8 one.
Counts and times are printed (run with -s to see them).
"""

import re
import shutil
import threading
import time
import uuid

import pytest

import zkharness
import zkraw
from test_ensemble_rolling import Writer, _check_no_loss_same_trees
from zkharness import at_least, close_clients, is_java, mode, wait_for

pytestmark = zkharness.needs_impls("java39", "zkrs39")


# -- helpers -------------------------------------------------------------------------------------

def _log_text(srv):
    try:
        return re.sub(r"\x1b\[[0-9;]*m", "", srv.log_path.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


def _start_leader_first(ens, impls, leader_sid):
    """Start `leader_sid` and wait until its first election runs, then the others: with equal
    (empty) data the highest participant id present wins."""
    ens.start(leader_sid, impls[leader_sid])
    started = re.compile(r"New election\. My id = %d|new election my_sid=%d" % (
        leader_sid, leader_sid))
    wait_for(lambda: started.search(_log_text(ens.servers[leader_sid])), timeout=60,
             what="node %d's first election" % leader_sid)
    for sid, impl in impls.items():
        if sid != leader_sid:
            ens.start(sid, impl)
    ens.wait_ready()


DIGEST_MISMATCH_LOG = re.compile(r"digest mismatch|Digests are not matching", re.I)


def _digest_mismatches(srv):
    """Both count each txn whose logged digest differs from the learner's tree after applying
    it (mntr zk_digest_mismatches_count); zkserver also logs a mismatch found when it replays
    its log at start-up. Returns what the node reports, 0 when all matched."""
    n = int(zkharness.mntr(srv).get("zk_digest_mismatches_count", "-1"))
    if is_java(srv.impl):
        return n
    return n + len(DIGEST_MISMATCH_LOG.findall(_log_text(srv)))


def _multi_create2(raw, paths, data=b"m"):
    """A multi of create2 ops (op 15) through a raw session: (err, [(type, err, path, stat)]);
    a 3.9 server answers each with type 15 and the Stat, 3.8.0 with type 1 and the path only
    (it proposes the sub-txn as a plain create)."""
    err, out, _ = raw.multi_creates([(zkraw.OP_CREATE2, p, zkraw.PERSISTENT) for p in paths],
                                    data)
    return err, out


def _tree_with_stats(zk, root):
    zk.sync(root)
    children = sorted(zk.get_children(root))
    return {p: zk.get(p) for p in [root] + [root + "/" + c for c in children]}


# -- 1. mixed 3.9 ensembles, every role ----------------------------------------------------------

# sid 4 is the observer; sid 3 (the highest participant) leads.
LAYOUTS = {
    "java39-leads": {3: "java39", 1: "zkrs39", 2: "java39", 4: "zkrs39"},
    "zkrs39-leads": {3: "zkrs39", 1: "java39", 2: "zkrs39", 4: "java39"},
}
ROLES = {3: "leader", 1: "follower", 2: "follower", 4: "observer"}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def mixed(request, tmp_path_factory):
    impls = LAYOUTS[request.param]
    with zkharness.Ensemble(tmp_path_factory.mktemp("ens39-" + request.param), n=4,
                            observers=(4,)) as ens:
        _start_leader_first(ens, impls, 3)
        wait_for(lambda: {sid: mode(s) for sid, s in ens.servers.items()} == ROLES,
                 timeout=60, what="node 3 leading, 1 and 2 following, 4 observing")
        yield ens


@pytest.fixture
def clients(mixed):
    made = []

    def make(sid):
        zk = mixed.servers[sid].client()
        made.append(zk)
        return zk

    yield make
    close_clients(*made)


def test_roles(mixed):
    """Both implementations in every role: the layouts swap them."""
    assert {sid: mode(s) for sid, s in mixed.servers.items()} == ROLES
    by_role = {(s.impl, ROLES[sid]) for sid, s in mixed.servers.items()}
    leader_impl = mixed.servers[3].impl
    other = "zkrs39" if leader_impl == "java39" else "java39"
    assert by_role == {(leader_impl, "leader"), (leader_impl, "follower"),
                       (other, "follower"), (other, "observer")}


def test_writes_through_every_node_identical_trees(mixed, clients):
    zks = {sid: clients(sid) for sid in mixed.servers}
    base = "/w39-" + uuid.uuid4().hex[:8]
    zks[4].create(base, b"root")
    for sid, zk in zks.items():
        zk.create(base + "/n%d" % sid, b"from-%d" % sid)
        zk.create(base + "/seq-", b"%d" % sid, sequence=True)
        zk.set(base + "/n%d" % sid, b"changed-%d" % sid)
        t = zk.transaction()
        t.create(base + "/t%d" % sid, b"t")
        t.set_data(base + "/n%d" % sid, b"by-multi-%d" % sid)
        t.delete(base + "/t%d" % sid)
        t.commit()
        # a write is visible on the writer's node at once (read after write, same session)
        assert zk.get(base + "/n%d" % sid)[0] == b"by-multi-%d" % sid
    trees = {sid: _tree_with_stats(zk, base) for sid, zk in zks.items()}
    for sid in zks:
        assert trees[sid] == trees[3], "node %d (%s) differs from the leader" % (
            sid, mixed.servers[sid].impl)
    tree = trees[3]
    assert len(tree) == 1 + 4 + 4
    assert all(tree[base + "/n%d" % s][1].version == 2 for s in zks)
    for sid, srv in mixed.servers.items():
        assert _digest_mismatches(srv) == 0, (sid, srv.impl)


def test_multi_create2_through_every_node(mixed):
    """create2 inside multi (ZOOKEEPER-4026, 3.8.2+/3.9): the 3.9 leader proposes each
    sub-txn as type 15, and whatever node the client is on answers type 15 with the Stat of
    the new node, the same Stat every node then reads."""
    base = "/c2-" + uuid.uuid4().hex[:8]
    with zkraw.RawClient(zkharness.HOST, mixed.servers[3].port) as raw:
        raw.create(base, b"")
    for sid, srv in mixed.servers.items():
        assert at_least(srv.impl, 3, 9)
        with zkraw.RawClient(zkharness.HOST, srv.port) as raw:
            paths = [base + "/a%d" % sid, base + "/b%d" % sid]
            err, results = _multi_create2(raw, paths)
            assert err == 0, (sid, srv.impl, err, results)
            assert [(t, e, p) for t, e, p, _ in results] == [
                (zkraw.OP_CREATE2, 0, p) for p in paths], (sid, srv.impl)
            for (_, _, p, stat) in results:
                assert raw.exists(p) == stat, (sid, srv.impl, p)
    for sid, srv in mixed.servers.items():
        with zkraw.RawClient(zkharness.HOST, srv.port) as raw:
            raw.ok(zkraw.OP_SYNC, zkraw.Enc().string(base).bytes())
            assert sorted(raw.get_children(base)) == sorted(
                "%s%d" % (k, s) for s in mixed.servers for k in "ab"), (sid, srv.impl)
        assert _digest_mismatches(srv) == 0, (sid, srv.impl)


def test_watches_fire_on_every_node(mixed, clients):
    """Data and child watches set on every node fire for a write made through any node;
    from 3.9.0 (ZOOKEEPER-4655) the event carries the zxid of the change."""
    base = "/wa39-" + uuid.uuid4().hex[:8]
    clients(3).create(base, b"")
    raws = {}
    try:
        for sid, srv in mixed.servers.items():
            raws[sid] = zkraw.RawClient(zkharness.HOST, srv.port)
            raws[sid].ok(zkraw.OP_SYNC, zkraw.Enc().string(base).bytes())
            raws[sid].get(base, watch=True)
            raws[sid].get_children(base, watch=True)
        for writer_sid in mixed.servers:
            stat = clients(writer_sid).set(base, b"by-%d" % writer_sid)
            for sid, raw in raws.items():
                ev = raw.next_event(timeout=10)
                impl = mixed.servers[sid].impl
                assert (ev.type, ev.path) == (zkraw.EV_NODE_DATA_CHANGED, base), (sid, impl)
                assert ev.zxid == (stat.mzxid if at_least(impl, 3, 9) else -1), (sid, impl)
                raw.get(base, watch=True)
        child = clients(4).create(base + "/c", b"")
        for sid, raw in raws.items():
            ev = raw.next_event(timeout=10)
            assert (ev.type, ev.path) == (zkraw.EV_NODE_CHILDREN_CHANGED, base), sid
            assert raw.get(child)[0] == b""
    finally:
        for raw in raws.values():
            raw.close()


def test_session_and_ephemerals_across_implementations(mixed, clients):
    """A session made on a zkserver node moves to a Java node and back; its ephemeral
    vanishes everywhere once it closes."""
    ours = next(sid for sid, s in mixed.servers.items() if not is_java(s.impl))
    java = next(sid for sid, s in mixed.servers.items() if is_java(s.impl))
    base = "/eph39-" + uuid.uuid4().hex[:8]
    clients(3).create(base, b"")
    with zkraw.RawClient(zkharness.HOST, mixed.servers[ours].port) as a:
        a.create(base + "/e", b"", flags=zkraw.EPHEMERAL)
        sid_, pw = a.session_id, a.passwd
        a.drop()
    with zkraw.RawClient(zkharness.HOST, mixed.servers[java].port, session_id=sid_,
                         passwd=pw) as b:
        assert b.valid and b.session_id == sid_
        assert b.get_ephemerals(base) == [base + "/e"]
        b.close()
    for sid in mixed.servers:
        zk = clients(sid)
        wait_for(lambda z=zk: (z.sync(base), z.exists(base + "/e"))[1] is None,
                 timeout=15, what="the ephemeral gone on node %d" % sid)


SYNC_LOG = {
    "diff": re.compile(r"Getting a diff from the leader|syncing with the leader by Diff"),
    "snap": re.compile(r"Getting a snapshot from leader|syncing with the leader by Snap"),
}


def test_restarted_and_wiped_nodes_resync_across_implementations(mixed, clients):
    """The other implementation's follower (node 1), stopped while writes go on, comes back
    by DIFF; its observer (node 4), wiped, comes back by SNAP: a Java 3.9.3 leader syncs
    zkserver and zkserver syncs Java 3.9.3 both ways."""
    base = "/rs39-" + uuid.uuid4().hex[:8]
    zk = clients(2)
    zk.create(base, b"")
    for sid, how in ((1, "diff"), (4, "snap")):
        srv = mixed.servers[sid]
        srv.stop()
        if how == "snap":
            shutil.rmtree(srv.data_dir / "version-2")
        for i in range(20):
            zk.create("%s/%d-%02d" % (base, sid, i), b"x")
        log_before = len(_log_text(srv))
        srv.start(wait=True, timeout=60)
        wait_for(lambda s=srv, r=ROLES[sid]: mode(s) == r, timeout=60,
                 what="node %d back as %s" % (sid, ROLES[sid]))
        synced = _log_text(srv)[log_before:]
        assert SYNC_LOG[how].search(synced), (sid, srv.impl, how)
    trees = {}
    for sid in mixed.servers:
        trees[sid] = _tree_with_stats(clients(sid), base)
    assert all(t == trees[3] for t in trees.values())
    assert len(trees[3]) == 41
    for sid, srv in mixed.servers.items():
        assert _digest_mismatches(srv) == 0, (sid, srv.impl)


# -- 2. rolling replacement java39 -> zkrs39 -----------------------------------------------------

class Create2Writer(threading.Thread):
    """Multis of one create2 through raw sessions, moving to the next node when a session
    breaks; records every acknowledged path."""

    def __init__(self, ens, root):
        super().__init__(daemon=True)
        self.ens, self.root = ens, root
        self.acked = []
        self.failures = 0
        self.types = {}
        self._halt = threading.Event()

    def run(self):
        i, node, raw = 0, 0, None
        while not self._halt.is_set():
            i += 1
            try:
                if raw is None or raw.closed.is_set():
                    sids = sorted(self.ens.servers)
                    node = (node + 1) % len(sids)
                    srv = self.ens.servers[sids[node]]
                    raw = zkraw.RawClient(zkharness.HOST, srv.port, io_timeout=5)
                    if not raw.valid:
                        raise ConnectionError("session refused")
                path = "%s/c2-%06d" % (self.root, i)
                err, results = _multi_create2(raw, [path])
                if err == 0:
                    self.acked.append(path)
                    self.types[results[0][0]] = self.types.get(results[0][0], 0) + 1
                else:
                    self.failures += 1
            except Exception:  # noqa: BLE001 -- a stopped node, a closed session
                self.failures += 1
                if raw is not None:
                    raw.drop()
                raw = None
                time.sleep(0.05)
                continue
            time.sleep(0.01)
        if raw is not None:
            raw.close()

    def finish(self):
        self._halt.set()
        self.join(timeout=30)
        assert not self.is_alive()


@pytest.fixture
def ens3(tmp_path):
    with zkharness.Ensemble(tmp_path) as e:
        yield e


def _rolling(ens, passes, root):
    """Run the writers while each pass replaces nodes 1, 2, 3 by its implementation; returns
    (writer, create2 writer, timings, digest mismatches seen on each node before it stopped)."""
    writer = Writer(ens.connect_string, root)
    writer.zk.ensure_path(root + "-c2")
    c2 = Create2Writer(ens, root + "-c2")
    writer.start()
    c2.start()
    timings, mismatches = [], {}
    try:
        time.sleep(1.5)
        for impl in passes:
            for sid in (1, 2, 3):
                t0 = time.monotonic()
                before = (len(writer.acked), len(c2.acked))
                old = ens.servers[sid]
                mismatches["%d/%s" % (sid, old.impl)] = _digest_mismatches(old)
                old.stop()
                srv = ens.start(sid, impl)
                wait_for(lambda: mode(srv) in ("follower", "leader"), timeout=60,
                         what="%s %d serving" % (impl, sid))
                srv.wait_ready(timeout=60)
                timings.append((sid, impl, mode(srv), time.monotonic() - t0))
                wait_for(lambda b=before: len(writer.acked) > b[0] + 20 and
                         len(c2.acked) > b[1] + 5, timeout=30,
                         what="writes after replacing node %d" % sid)
                time.sleep(0.5)
    finally:
        writer.finish()
        c2.finish()
    for sid, srv in ens.servers.items():
        srv.check_alive()
        mismatches["%d/%s" % (sid, srv.impl)] = _digest_mismatches(srv)
    return writer, c2, timings, mismatches


def _check_create2_writes(ens, c2):
    root = c2.root
    for sid, srv in ens.servers.items():
        zk = srv.client(timeout=15)
        try:
            zk.sync(root)
            have = {root + "/" + c for c in zk.get_children(root)}
        finally:
            close_clients(zk)
        missing = set(c2.acked) - have
        assert not missing, "node %d lost %d acknowledged create2 multis, e.g. %s" % (
            sid, len(missing), sorted(missing)[:5])


def test_rolling_replacement_java39_to_zkrs39(ens3):
    for sid in (1, 2, 3):
        ens3.start(sid, "java39")
    ens3.wait_ready()
    root = "/roll39-" + uuid.uuid4().hex[:8]
    writer, c2, timings, mismatches = _rolling(ens3, ("zkrs39",), root)
    assert sorted(mode(s) for s in ens3.servers.values()) == ["follower", "follower", "leader"]
    assert all(s.impl == "zkrs39" for s in ens3.servers.values())
    nodes = _check_no_loss_same_trees(ens3, writer, root)
    _check_create2_writes(ens3, c2)
    assert mismatches == {k: 0 for k in mismatches}, mismatches
    print("\nrolling replacement java39 -> zkrs39: %d acked creates (%d failed attempts %s), "
          "%d acked create2 multis (answers by type %s, %d failed), %d znodes identical on "
          "all nodes; %s; digest mismatches %s" % (
              len(writer.acked), writer.failures, writer.errors, len(c2.acked), c2.types,
              c2.failures, nodes,
              ", ".join("node %d -> %s %s in %.1fs" % t for t in timings), mismatches))
    # every create2 was answered as 3.9 answers it (type 15 with the Stat)
    assert set(c2.types) == {zkraw.OP_CREATE2}, c2.types
    assert len(writer.acked) > 100 and len(c2.acked) > 30


# -- 3. rolling upgrade java 3.8.0 -> zkserver -> java 3.9.3 -------------------------------------

@zkharness.needs_impls("java", "zkrs")
def test_rolling_upgrade_java38_zkrs_java39(ens3):
    """zkserver runs as "zkrs" (compat.version=3.8) throughout: while 3.8.0 members remain it
    must not propose type-15 sub-txns they cannot apply; when the 3.9.3 nodes arrive it
    follows (and applies the type-15 sub-txns of) a 3.9.3 leader, or leads them."""
    for sid in (1, 2, 3):
        ens3.start(sid, "java")
    ens3.wait_ready()
    root = "/up39-" + uuid.uuid4().hex[:8]
    writer, c2, timings, mismatches = _rolling(ens3, ("zkrs", "java39"), root)
    assert sorted(mode(s) for s in ens3.servers.values()) == ["follower", "follower", "leader"]
    assert all(s.impl == "java39" for s in ens3.servers.values())
    nodes = _check_no_loss_same_trees(ens3, writer, root)
    _check_create2_writes(ens3, c2)
    assert mismatches == {k: 0 for k in mismatches}, mismatches
    print("\nrolling upgrade java -> zkrs (3.8) -> java39: %d acked creates (%d failed "
          "attempts %s), %d acked create2 multis (answers by type %s, %d failed), %d znodes "
          "identical on all nodes; %s; digest mismatches %s" % (
              len(writer.acked), writer.failures, writer.errors, len(c2.acked), c2.types,
              c2.failures, nodes,
              ", ".join("node %d -> %s %s in %.1fs" % t for t in timings), mismatches))
    # 3.8.0 answers a multi's create2 as a create (type 1), 3.9.3 as create2 (type 15): both
    # generations led during the upgrade
    assert set(c2.types) == {zkraw.OP_CREATE, zkraw.OP_CREATE2}, c2.types
    assert len(writer.acked) > 100 and len(c2.acked) > 30


# -- 4. a Java 3.9.3 leader's discontinuous committedLog (ZOOKEEPER-4925) ------------------------

def test_java393_leader_diff_with_a_hole_is_refused(tmp_path):
    """Java 3.9.3 leaves the txns a learner applies during its own DIFF sync out of its
    in-memory committedLog (ZOOKEEPER-4925, fixed in 3.9.4). Once such a node leads, a
    learner that was behind gets a DIFF that skips those txns. zkserver notices the gap,
    drops that sync and asks for a SNAP instead (ACKEPOCH with last zxid 0): it ends with
    every txn. Five nodes: zkserver is node 1, Java 3.9.3 nodes 2-5; node 5 gets the hole
    and then leads."""
    def creates(zk, prefix, n=15):
        return [zk.create("%s/%s-%02d" % (root, prefix, i), b"x") for i in range(n)]

    root = "/hole-" + uuid.uuid4().hex[:8]
    with zkharness.Ensemble(tmp_path, n=5) as ens:
        _start_leader_first(ens, {4: "java39", 1: "zkrs39", 2: "java39", 3: "java39"}, 4)
        wait_for(lambda: ens.leader() == 4, timeout=60, what="node 4 leading")
        ens.start(5, "java39", wait=True)
        zk = ens.servers[2].client()
        try:
            written = [zk.create(root, b"")]
            written += creates(zk, "w1")
            ens.servers[1].stop()                       # node 1 (ours) behind from here
            written += creates(zk, "w2")
            ens.servers[5].stop()
            hole = creates(zk, "w3")                    # node 5 gets these by DIFF ...
            ens.start(5, "java39", wait=True)
            wait_for(lambda: mode(ens.servers[5]) == "follower", what="node 5 following")
            written += hole + creates(zk, "w4")         # ... and they miss in its committedLog
        finally:
            close_clients(zk)
        ens.servers[4].stop()                           # node 5 has the highest id: it leads
        wait_for(lambda: ens.leader() == 5, timeout=60, what="node 5 leading")
        ours = ens.start(1, "zkrs39")
        wait_for(lambda: mode(ours) == "follower", timeout=60, what="node 1 following")
        ours.wait_ready(timeout=60)
        log = _log_text(ours)
        assert "skips txns" in log and "asking leader for a SNAP" in log, \
            "the leader's DIFF had no gap: the scenario did not reproduce ZOOKEEPER-4925"
        trees = {}
        for sid in (1, 2, 3, 5):
            c = ens.servers[sid].client()
            try:
                trees[sid] = _tree_with_stats(c, root)
            finally:
                close_clients(c)
        missing = set(written) - set(trees[1])
        assert not missing, "node 1 lost %d txns, e.g. %s" % (len(missing), sorted(missing)[:3])
        assert trees[1] == trees[2] == trees[3] == trees[5]
        print("\nJava 3.9.3 leader with a committedLog hole of %d txns: node 1 refused its DIFF "
              "and synced by SNAP; %d znodes identical on nodes 1, 2, 3, 5" % (
                  len(hole), len(trees[1])))
