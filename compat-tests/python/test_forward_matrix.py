"""Forwarded-request matrix (issue 12): every op code (zkmatrix.OPS), without auth and with
the digest auth that owns the nodes, sent by a raw client to the leader, a follower and the
observer of three ensembles (3 voters + 1 observer) per generation, one at a time:

- "java": all Java 3.8 nodes, the reference;
- "zkrs-leader": zkserver leads two Java followers and a Java observer (they forward to us);
- "zkrs-follower": a zkserver follower and a zkserver observer under a Java leader (we
  forward to Java);
- "java39", "zkrs39-leader", "zkrs39-follower": the same with Java 3.9.3 nodes and
  zkserver in 3.9 mode.

Each case gets its own protected tree (zkmatrix.TREE) built by the owner on the leader.
Unauthenticated, the tree (data, ACLs, stats) must be exactly as before; in every case the
answer (session, each reply's error code and normalised body, events, how the connection
ended) and the tree afterwards (relative paths, data, ACLs, versions, counts) must be what
the all-Java ensemble gave for the same role. Also: a session moved to another server, and
a request on its old connection (SessionMoved in Java).

Problem 2 of issue 12 (zkserver leader: an unauthenticated client on a follower sends op 20
with the bare path and the leader deletes a protected node) is the row deleteContainer-bare.
Needs both implementations of a generation; its all-Java ensemble runs first and records
the reference.
"""

import pytest

import zkharness
import zkmatrix
import zkraw
from zkmatrix import OPS

# start order (the first started wins the first election with equal data and the highest id)
# (node 4 is an observer: a Java one under our leader, ours under a Java leader)
LAYOUT = {}
KIND_REFERENCE = {}  # kind -> the all-Java kind whose answers it must give
for _java, _ours in zkharness.pairs():
    _suffix = _ours[len("zkrs"):]
    LAYOUT[_java] = {3: _java, 1: _java, 2: _java, 4: _java}
    LAYOUT["zkrs%s-leader" % _suffix] = {3: _ours, 1: _java, 2: _java, 4: _java}
    LAYOUT["zkrs%s-follower" % _suffix] = {2: _java, 3: _java, 1: _ours, 4: _ours}
    for _kind in (_java, "zkrs%s-leader" % _suffix, "zkrs%s-follower" % _suffix):
        KIND_REFERENCE[_kind] = _java
ENSEMBLES = tuple(LAYOUT)
ROLES = ("leader", "follower", "observer")
CFG = {"maxClientCnxns": "0"}

# The all-Java ensembles' results: (java kind, role, auth, row) -> (comparable answer,
# tree, outcome)
REFERENCE = {}


class Cluster:
    def __init__(self, kind, tmp):
        self.kind = kind
        self.reference = KIND_REFERENCE[kind]
        self.is_reference = kind == self.reference
        self.ens = zkharness.Ensemble(tmp, n=4, observers=(4,), extra=CFG)
        self.ens.start_all(LAYOUT[kind])
        leader = zkharness.wait_for(self.ens.leader, what="a leader")
        if kind.endswith("-leader"):
            assert not zkharness.is_java(self.ens.servers[leader].impl), \
                "zkserver did not win the election"
        if kind.endswith("-follower"):
            follower = 1
            assert zkharness.is_java(self.ens.servers[leader].impl)
        else:
            follower = next(s for s in (1, 2, 3) if s != leader)
        assert zkharness.mode(self.ens.servers[4]) == "observer"
        self.roles = {"leader": self.ens.servers[leader], "follower": self.ens.servers[follower],
                      "observer": self.ens.servers[4]}
        self.owners = {}
        self.n = 0

    def owner(self, srv):
        c = self.owners.get(srv.port)
        if c is None or c.closed.is_set():
            c = self.owners[srv.port] = zkmatrix.owner_client(srv.host, srv.port)
        return c

    def fresh_tree(self):
        self.n += 1
        R = "/F%d" % self.n
        return R, zkmatrix.build_tree(self.owner(self.roles["leader"]), R)

    def check_alive(self):
        for s in self.ens.servers.values():
            s.check_alive()

    def close(self):
        for c in self.owners.values():
            c.drop()
        self.ens.kill_all()


@pytest.fixture(scope="module", params=ENSEMBLES)
def cluster(request, tmp_path_factory):
    c = Cluster(request.param, tmp_path_factory.mktemp("fwd-" + request.param))
    yield c
    c.close()


MOVES = [("follower", "leader"), ("leader", "follower")]


def _moved_session_answers(cluster, old_role, new_role):
    """A session created on old_role continues on new_role; the old connection (still
    open) then sends writes to a world-writable node, a read and a closeSession, as long as
    it stays open; then the moved session must still be alive."""
    R, paths = cluster.fresh_tree()
    owner = cluster.owner(cluster.roles["leader"])
    owner.create(R + "/open", b"", acl=zkraw.OPEN_ACL_UNSAFE)
    paths.append(R + "/open")
    old_srv, new_srv = cluster.roles[old_role], cluster.roles[new_role]
    old = zkraw.RawClient(old_srv.host, old_srv.port, timeout_ms=10000)
    answers = []
    try:
        moved = zkraw.RawClient(new_srv.host, new_srv.port, session_id=old.session_id,
                                passwd=old.passwd, timeout_ms=10000)
        assert moved.valid and moved.session_id == old.session_id
        requests = [
            ("setData", zkraw.OP_SET_DATA, zkraw.Enc().string(R + "/open").buffer(b"x")
             .int(-1).bytes()),
            ("create", zkraw.OP_CREATE, zkraw.Enc().string(R + "/open/c").buffer(b"")
             .acls(zkraw.OPEN_ACL_UNSAFE).int(0).bytes()),
            ("getData", zkraw.OP_GET_DATA, zkraw.Enc().string(R + "/parent").bool(False)
             .bytes()),
            ("closeSession", zkraw.OP_CLOSE, b""),
        ]
        for name, op, body in requests:
            try:
                answers.append((name, old.call(op, body).err))
            except (ConnectionError, OSError):
                answers.append((name, "closed"))
                break
        # the session lives on where it moved to
        try:
            alive = moved.call(zkraw.OP_EXISTS, zkraw.Enc().string(R).bool(False).bytes()).err
        except (ConnectionError, OSError):
            alive = "closed"
        answers.append(("moved session", alive))
        moved.close()
    finally:
        old.drop()
    view = zkmatrix.norm_snapshot(zkmatrix.snapshot(owner, paths), R)
    return answers, view


@pytest.mark.parametrize("old_role,new_role", MOVES, ids=["%s-to-%s" % m for m in MOVES])
def test_session_moved(cluster, old_role, new_role):
    answers, view = _moved_session_answers(cluster, old_role, new_role)
    cluster.check_alive()
    key = (cluster.reference, "moved", old_role, new_role)
    if cluster.is_reference:
        REFERENCE[key] = (answers, view)
        # Java refuses the old connection's write: SessionMoved, or it closes the connection
        assert answers[0][1] in (zkraw.SESSION_MOVED, "closed"), answers
        return
    if key not in REFERENCE:
        pytest.skip("no reference: the java ensemble did not run this case")
    assert (answers, view) == REFERENCE[key], "java: %s\n%s: %s" % (
        REFERENCE[key][0], cluster.kind, answers)


# An authorised bare check (op 13, outside a multi) makes a Java 3.8 leader log a txn of type
# 13 that its followers cannot read ("Unsupported Txn with type=%d13" in
# SerializeUtils.deserializeTxn): they drop out and the leader loses its quorum. So it runs
# last, and not where a Java 3.8 leader decides it (measured on the all-Java ensemble).
# Java 3.9.3 answers it Unimplemented, so in 3.9 ensembles it is compared like any case.
LAST = ("check", True)
CASES = [pytest.param(role, auth, row, id="%s-%s-%s" % (role, "auth" if auth else "noauth",
                                                         row.name))
         for role in ROLES for auth in (False, True) for row in OPS
         if (row.name, auth) != LAST]
# (once is enough: after it the Java followers of a zkserver leader drop out today)
CASES += [pytest.param("follower", True, zkmatrix.OPS_BY_NAME["check"], id="follower-auth-check")]


@pytest.mark.parametrize("role,auth,row", CASES)
def test_forwarded(cluster, role, auth, row):
    java38_bare_check = (row.name, auth) == LAST and cluster.reference == "java"
    if java38_bare_check and cluster.kind != "zkrs-leader":
        pytest.skip("a Java 3.8 leader breaks its own ensemble on an authorised bare check")
    srv = cluster.roles[role]
    leader_impl = cluster.roles["leader"].impl
    breaks = zkmatrix.java_breaks(cluster.reference, row.name)
    if breaks and zkharness.is_java(srv.impl) and zkharness.is_java(leader_impl):
        pytest.skip("breaks a Java ensemble: " + breaks[0])
    R, paths = cluster.fresh_tree()
    checker = cluster.owner(srv)
    before = zkmatrix.snapshot(checker, paths)
    outcome = zkmatrix.probe(srv.host, srv.port, row, R, "after", auth=auth)
    after = zkmatrix.snapshot(checker, paths)
    cluster.check_alive()
    failures = []
    decided_by = zkmatrix.DECIDED_BY.get(row.name)
    if decided_by == "leader only":
        ours = not zkharness.is_java(leader_impl)
    else:
        ours = not zkharness.is_java(srv.impl) or (decided_by == "leader"
                                                  and not zkharness.is_java(leader_impl))
    # A known Java bug (zkmatrix.JAVA_BUGS) where Java decides: asserted, not failed.
    java_bug = None if ours else zkmatrix.java_bug(
        leader_impl if decided_by in ("leader", "leader only") else srv.impl, row.name)
    if java_bug and not auth and before == after:
        failures.append("%s %s: the known Java bug is gone? (%s)" % (
            cluster.kind, row.name, java_bug))
    if not auth and before != after and not java_bug:
        failures.append("%s %s without auth changed the tree (%s):\n  %s" % (
            cluster.kind, row.name, zkmatrix.show(outcome),
            "\n  ".join(zkmatrix.diff(before, after))))
    got = (zkmatrix.comparable(outcome, row, "after"), zkmatrix.norm_snapshot(after, R))
    key = (cluster.reference, role, auth, row.name)
    if cluster.is_reference:
        REFERENCE[key] = got + (outcome,)
    elif java38_bare_check:
        # Java has no usable answer; ours must keep every node serving the same tree.
        for s in cluster.ens.servers.values():
            s.wait_ready(timeout=20)
        zkmatrix.snapshot(cluster.owner(cluster.roles["follower"]), paths)
    elif breaks:
        why, ours_ok = breaks
        if not ours_ok(outcome, row):
            failures.append("%s %s: zkrs should answer as documented (%s), got %s" % (
                role, row.name, why, zkmatrix.show(outcome)))
    elif key not in REFERENCE:
        pytest.skip("no reference: the java ensemble did not run this case")
    else:
        ref = REFERENCE[key]
        # Where Java's answer is a bug of its own, ours leaves the tree alone (checked above).
        ref_bug = zkmatrix.java_bug(cluster.reference, row.name) and not auth
        if got[1] != ref[1] and not (ours and ref_bug):
            failures.append("%s %s: the tree differs from java's:\n  %s" % (
                cluster.kind, row.name, "\n  ".join(zkmatrix.diff(ref[1], got[1]))))
        divergence = zkmatrix.divergence(cluster.reference, row.name) if ours else None
        if auth and row.name in zkmatrix.NOAUTH_ONLY:
            divergence = None
        if divergence is not None:
            why, ours_ok = divergence
            if not ours_ok(outcome, row):
                failures.append("%s %s: zkrs should answer as documented (%s), got %s" % (
                    role, row.name, why, zkmatrix.show(outcome)))
        elif got[0] != ref[0]:
            failures.append("%s %s: answers differ\n  java: %s\n  %s: %s" % (
                role, row.name, zkmatrix.show(ref[2]), cluster.kind, zkmatrix.show(outcome)))
    assert not failures, "\n".join(failures)
