"""Request-ordering matrix (issue 12): every op code of 3.8 (and unknown ones) sent in the
same TCP write as the ConnectRequest, in the next write before the ConnectResponse is read,
right after it, and right behind a closeSession; on a standalone server and on the leader,
a follower and an observer of a 3-node ensemble with an observer, all of one implementation.

Before the cases a protected tree is built (zkmatrix.TREE: digest ACLs, a world-READ-only
node, children, a container, a TTL node) and another session keeps changing one node, so
that the server always holds a pending change. The probing client never authenticates:
after every case the whole tree (paths, data, ACLs, stats) must be as before, except the
data and version of that node. The answers (session granted, every reply's error code and
normalised body, watch events, whether the connection closed) must be the same on both
servers of one generation: the Java run (java, java39) records them, the run of ours in
that generation's mode (zkrs, zkrs39) compares; run both of a pair (ZK_IMPLS=java,zkrs).

Problem 1 of issue 12 (a closeSession behind the ConnectRequest ran as session 0x0 and
deleted the nodes with pending changes) is also probed on its own, repeatedly; and a dropped
connection must release its watches and its maxClientCnxns slot at once.
"""

import pytest

import zkharness
import zkmatrix
from zkmatrix import OPS, TIMINGS

ROLES = ("standalone", "leader", "follower", "observer")
CFG = {"maxClientCnxns": "0"}

# The Java runs' answers, compared by ours: (generation, role, row, timing) -> comparable.
JAVA_ANSWERS = {}


def _generation(impl):
    return zkharness.version(impl)[:2]


class World:
    """One tree R on a standalone server or an ensemble; clients that own it."""

    def __init__(self, servers, leader):
        self.servers = servers  # role -> Server
        self.leader = leader
        self.owners = {}
        self.n = 0
        self.reset()

    def owner(self, srv):
        c = self.owners.get(srv.port)
        if c is None or c.closed.is_set():
            c = self.owners[srv.port] = zkmatrix.owner_client(srv.host, srv.port)
        return c

    def reset(self):
        """A fresh tree (after a case changed the old one)."""
        self.n += 1
        self.R = "/M%d" % self.n
        self.paths = zkmatrix.build_tree(self.owner(self.leader), self.R)
        self.baseline = {}

    def view(self, role):
        snap = zkmatrix.snapshot(self.owner(self.servers[role]), self.paths)
        return zkmatrix.mask_pending(snap, self.R)

    def check(self, role):
        """Differences between the tree now and before the first case (seen from role)."""
        if role not in self.baseline:
            self.baseline[role] = self.view(role)
            return []
        return zkmatrix.diff(self.baseline[role], self.view(role))


class Env:
    """A standalone server and an ensemble (3 voters + 1 observer) of one implementation,
    started when first needed."""

    def __init__(self, impl, tmp):
        self.impl, self.tmp = impl, tmp
        self.worlds = {}
        self.stoppers = []

    def world(self, role) -> World:
        key = "standalone" if role == "standalone" else "ensemble"
        if key not in self.worlds:
            self.worlds[key] = self._standalone() if key == "standalone" else self._ensemble()
        return self.worlds[key]

    def _standalone(self):
        srv = zkharness.start_server(self.impl, self.tmp / "standalone", extra_cfg=CFG)
        self.stoppers.append(srv.stop)
        return World({"standalone": srv}, srv)

    def _ensemble(self):
        ens = zkharness.Ensemble(self.tmp / "ensemble", n=4, observers=(4,), extra=CFG)
        self.stoppers.append(ens.kill_all)
        ens.start_all({sid: self.impl for sid in (1, 2, 3, 4)})
        leader = zkharness.wait_for(ens.leader, what="a leader")
        follower = next(s for s in (1, 2, 3) if s != leader)
        assert zkharness.mode(ens.servers[4]) == "observer"
        servers = {"leader": ens.servers[leader], "follower": ens.servers[follower],
                   "observer": ens.servers[4]}
        return World(servers, servers["leader"])

    def close(self):
        for w in self.worlds.values():
            for c in w.owners.values():
                c.drop()
        for stop in self.stoppers:
            stop()


@pytest.fixture(scope="module")
def env(impl, tmp_path_factory):
    e = Env(impl, tmp_path_factory.mktemp("order-" + impl))
    yield e
    e.close()


def run_case(world, role, row, timing, window=5):
    """Probe one case with a pending change in flight; (outcome, tree differences)."""
    srv = world.servers[role]
    world.check(role)  # the baseline, on first use
    writer = zkmatrix.Writer(world.owner(world.leader), world.R + zkmatrix.PENDING, window)
    try:
        outcome = zkmatrix.probe(srv.host, srv.port, row, world.R, timing)
    finally:
        errors = writer.stop()
    changed = world.check(role)
    if errors:
        changed.append("the pending-change writer (setData %s%s) failed: %s" % (
            world.R, zkmatrix.PENDING, errors))
    for s in world.servers.values():
        s.check_alive()
    if changed:
        world.reset()
    return outcome, changed


CASES = [pytest.param(role, row, id="%s-%s" % (role, row.name)) for role in ROLES
         for row in OPS]


@pytest.mark.parametrize("role,row", CASES)
def test_ordering(env, impl, role, row):
    breaks = zkmatrix.java_breaks(impl, row.name) if role != "standalone" else None
    if breaks and zkharness.is_java(impl):
        pytest.skip("breaks a Java ensemble: " + breaks[0])
    world = env.world(role)
    failures, got = [], {}
    java_bug = zkmatrix.java_bug(impl, row.name) if zkharness.is_java(impl) else None
    bug_seen = False
    for timing in TIMINGS:
        outcome, changed = run_case(world, role, row, timing)
        got[timing] = (zkmatrix.comparable(outcome, row, timing), outcome)
        if changed and java_bug:
            bug_seen = True
        elif changed:
            failures.append("%s %s %s changed the tree (%s):\n  %s" % (
                impl, row.name, timing, zkmatrix.show(outcome), "\n  ".join(changed)))
    if java_bug and not bug_seen:
        failures.append("%s %s: the known Java bug is gone? (%s)" % (impl, row.name, java_bug))
    if zkharness.is_java(impl):
        JAVA_ANSWERS.update({(_generation(impl), role, row.name, t): v for t, v in got.items()})
    else:
        _compare_with_java(impl, role, row, got, failures)
    assert not failures, "\n".join(failures)


def _compare_with_java(impl, role, row, got, failures):
    divergence = zkmatrix.divergence(impl, row.name)
    breaks = zkmatrix.java_breaks(impl, row.name) if role != "standalone" else None
    for timing, (key, outcome) in got.items():
        if breaks is not None and timing != "closed":
            why, ours_ok = breaks
            if not ours_ok(outcome, row):
                failures.append("%s %s: zkrs should answer as documented (%s), got %s"
                                % (row.name, timing, why, zkmatrix.show(outcome)))
            continue
        if divergence is not None and (timing != "closed" or (
                zkharness.at_least(impl, 3, 9) and row.name in zkmatrix.EVERY_TIMING)):
            why, ours_ok = divergence
            if not ours_ok(outcome, row):
                failures.append("%s %s: zkrs should answer as documented (%s), got %s"
                                % (row.name, timing, why, zkmatrix.show(outcome)))
            continue
        java = JAVA_ANSWERS.get((_generation(impl), role, row.name, timing))
        if java is None:
            continue  # its reference not selected (ZK_IMPLS): the tree checks still ran
        if key != java[0]:
            failures.append("%s %s: %s and %s answer differently\n  %s: %s\n  %s: %s"
                            % (row.name, timing, zkharness.REFERENCE[impl], impl,
                               zkharness.REFERENCE[impl], zkmatrix.show(java[1]), impl,
                               zkmatrix.show(outcome)))


@pytest.mark.parametrize("role", ["standalone", "follower"])
def test_close_session_behind_connect_request(env, impl, role):
    """Problem 1: ConnectRequest + closeSession in one write (or the next) while another
    session keeps a persistent node changing must close only the new session: never a
    closeSession for session 0x0, never a deleted node. Repeated: it is a race."""
    world = env.world(role)
    row = zkmatrix.OPS_BY_NAME["closeSession"]
    for i in range(10):
        for timing in ("with", "before"):
            outcome, changed = run_case(world, role, row, timing, window=20)
            assert not changed, "round %d %s: %s\n  %s" % (
                i, timing, zkmatrix.show(outcome), "\n  ".join(changed))
            assert outcome.session == "granted" and outcome.replies[:1] == (
                (row.xid, 0, ""),), zkmatrix.show(outcome)


def test_closed_connection_is_released(impl, tmp_path):
    """A client that drops its TCP connection (session still alive) takes its watches and
    its maxClientCnxns slot with it at once, as in Java: another connection's checkWatches
    (which in 3.8 looks for any connection's watcher) finds none, and connecting and
    dropping in a loop never hits the limit."""
    import time

    import zkraw

    srv = zkharness.start_server(impl, tmp_path, extra_cfg={"maxClientCnxns": "5"})
    try:
        other = zkraw.RawClient(srv.host, srv.port)
        other.create("/w", b"")
        watcher = zkraw.RawClient(srv.host, srv.port)
        watcher.exists("/w", watch=True)

        def watched():
            if zkharness.at_least(impl, 3, 9):
                # 3.9's checkWatches answers only about the asking connection: ask wchs.
                return "Total watches:1" in srv.four_letter("wchs")
            return other.check_watches("/w", zkraw.WATCHER_ANY).err == zkraw.OK
        assert watched()
        if zkharness.at_least(impl, 3, 9):
            assert other.check_watches("/w", zkraw.WATCHER_ANY).err == zkraw.NO_WATCHER
        watcher.drop()
        time.sleep(0.2)
        assert not watched()
        assert "Total watches:0" in srv.four_letter("wchs")
        other.drop()
        time.sleep(0.2)
        for i in range(20):
            c = zkraw.RawClient(srv.host, srv.port)
            assert c.valid, "connection %d refused" % i
            c.drop()
            time.sleep(0.02)
    finally:
        srv.stop()
