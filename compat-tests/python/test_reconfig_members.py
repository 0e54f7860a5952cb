"""Dynamic reconfig that changes the members of a running ensemble, against Java 3.8.0 /
3.9.3 and zkserver in each mode, alone and mixed, always under a continuous writer.

1. Joining (Java's documented way, zookeeperReconfig "Adding servers"): node 4 starts with
   the three members plus itself (as participant or observer), finds the leader through the
   election (a zkserver joiner adopts the newer config the members gossip, as Java's
   FastLeaderElection does), follows without a vote, then `reconfig(joining=...)` makes it a
   member. After the commit every member's /zookeeper/config, zoo.cfg.dynamic.<version> and
   `dynamicConfigFile=` agree, the joiner serves all earlier data, and a joined participant
   votes: with one former follower killed, writes still commit (3 of 4 need it).
2. Role change: a member becomes an observer by `reconfig -add server.N=...:observer` for
   its own id, and a participant again.

Each runs on an all-Java ensemble (the control), an all-zkserver one, a zkserver joiner to a
Java ensemble and a Java joiner to a zkserver ensemble, per generation. Writers create
znodes through every member all along: at the end no acknowledged write is missing and every
member holds the same tree (data and stat).
"""

import shutil
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss

import zkharness
from test_ensemble_large import BASE, Writers, _tree
from test_ensemble39 import _log_text, _start_leader_first
from test_reconfig import COMBOS as LEADER_COMBOS, EXTRA, FIRST_VERSION, SUPER
from zkharness import close_clients, mode, wait_for

JOINER = 4


class JoinEnsemble(zkharness.Ensemble):
    """Members 1..3 with a reconfig-enabled config; node 4 has ports and a config of the
    three members plus itself (as `joiner_role`), which the members do not list."""

    def __init__(self, tmp, joiner_role="participant"):
        super().__init__(tmp, n=4, extra=EXTRA)
        self.joiner_role = joiner_role

    def spec(self, sid, role):
        """`server.N` value with the client address, as a reconfig names it."""
        client, q, e = self.ports[sid]
        h = zkharness.HOST
        return "%s:%d:%d:%s;%s:%d" % (h, q, e, role, h, client)

    def node_cfg(self, sid):
        cfg = super().node_cfg(sid)
        if sid == JOINER:
            cfg["server.%d" % JOINER] = self.spec(JOINER, self.joiner_role).split(";")[0]
        else:
            del cfg["server.%d" % JOINER]
        return cfg


def _combos():
    """(name, implementation of members 1..3, of the joiner)."""
    sel = set(zkharness.selected_impls())
    out = [(i, i, i) for i in zkharness.selected_impls()]
    for java, ours in (("java", "zkrs"), ("java39", "zkrs39")):
        if {java, ours} <= sel:
            out.append(("%s+%s" % (java, ours), java, ours))
            out.append(("%s+%s" % (ours, java), ours, java))
    return out


COMBOS = _combos()


def _config(srv):
    zk = srv.client()
    try:
        zk.sync("/zookeeper/config")
        return zk.get("/zookeeper/config")
    finally:
        close_clients(zk)


def _reconfig(ens, via, joining=None, leaving=None):
    zk = KazooClient(ens.servers[via].connect_string, auth_data=[("digest", SUPER)])
    zk.start()
    try:
        return zk.reconfig(joining=joining, leaving=leaving, new_members=None)
    finally:
        close_clients(zk)


def _agree(ens, data, stat):
    """Every node serves `data` as /zookeeper/config and has its dynamic file, named by
    its version, with zoo.cfg pointing at it."""
    name = "zoo.cfg.dynamic.%x" % stat.mzxid
    dynamic = b"\n".join(data.splitlines()[:-1])
    for sid, srv in ens.servers.items():
        path = ens.workdir(sid) / name
        wait_for(lambda: path.exists(), timeout=20, what="%s on node %d" % (name, sid))
        assert path.read_bytes() == dynamic, (sid, srv.impl, path.read_bytes())
        # Java writes the dynamic file, then rewrites zoo.cfg.
        pointer = "dynamicConfigFile=%s\n" % path.resolve()
        wait_for(lambda: (ens.workdir(sid) / "zoo.cfg").read_text().endswith(pointer),
                 timeout=10, what="zoo.cfg of node %d naming %s" % (sid, name))
        got, st = _config(srv)
        assert (got, st.mzxid) == (data, stat.mzxid), (sid, srv.impl, got)


def _start_members(ens, impl):
    ens.start_all({1: impl, 2: impl, 3: impl}, timeout=90)
    wait_for(lambda: all(_config(s)[0].endswith(b"version=%x" % FIRST_VERSION)
                         for s in ens.servers.values()),
             timeout=30, what="the versioned config on every member")
    zk = ens.servers[1].client()
    try:
        zk.create(BASE, b"")
        for i in range(20):
            zk.create("%s/before-%02d" % (BASE, i), b"%d" % i)
    finally:
        close_clients(zk)


def _check_trees(ens, writers):
    """0 acknowledged writes lost, the same data and stats on every member."""
    trees = {sid: _tree(srv) for sid, srv in ens.servers.items()
             if srv.proc is not None and srv.proc.poll() is None}
    first = next(iter(trees.values()))
    missing = [p for p in writers.acked if p.rsplit("/", 1)[1] not in first]
    assert not missing, "%d acknowledged writes lost: %s" % (len(missing), missing[:5])
    for p, d in writers.acked.items():
        assert first[p.rsplit("/", 1)[1]][0] == d, p
    for sid, t in trees.items():
        assert t == first, "member %d differs" % sid
    return len(writers.acked)


def _writes_commit(ens, sids):
    zk = KazooClient(",".join(ens.servers[s].connect_string for s in sids), timeout=10.0)
    zk.start(timeout=30)
    try:
        path = zk.create("%s/quorum-" % BASE, b"q", sequence=True)
        return path
    finally:
        close_clients(zk)


@pytest.mark.parametrize("role", ["participant", "observer"])
@pytest.mark.parametrize("members,joiner", [(m, j) for _, m, j in COMBOS],
                         ids=[n for n, _, _ in COMBOS])
def test_join_by_reconfig(tmp_path, members, joiner, role):
    with JoinEnsemble(tmp_path, role) as ens:
        _start_members(ens, members)
        hosts = [ens.servers[s].connect_string for s in (1, 2, 3)]
        hosts.append("%s:%d" % (zkharness.HOST, ens.ports[JOINER][0]))
        with Writers(hosts) as w:
            ens.start(JOINER, joiner)
            ens.servers[JOINER].wait_ready(timeout=90)
            # Synced with the leader before it is a member.
            assert mode(ens.servers[JOINER]) in ("follower", "observer")
            leader = ens.leader()
            via = min(s for s in (1, 2, 3) if s != leader)
            data, stat = _reconfig(ens, via, "server.%d=%s" % (JOINER, ens.spec(JOINER, role)))
            assert ("server.%d=%s" % (JOINER, ens.spec(JOINER, role))).encode() in data
            assert data.endswith(b"version=%x" % stat.mzxid)
            _agree(ens, data, stat)
            wait_for(lambda: mode(ens.servers[JOINER]) == ("observer" if role == "observer"
                                                           else "follower"),
                     timeout=30, what="node 4 as %s" % role)
            time.sleep(1)
        # The joiner serves what was written before it came.
        zk = ens.servers[JOINER].client()
        try:
            zk.sync(BASE)
            assert zk.get("%s/before-07" % BASE)[0] == b"7"
        finally:
            close_clients(zk)
        acked = _check_trees(ens, w)
        assert acked > 0
        if role == "participant":
            # Four voters: the leader, one follower and the joiner are a quorum only with
            # the joiner's vote.
            gone = next(s for s in (3, 2, 1) if s != leader)
            ens.servers[gone].kill()
            _writes_commit(ens, [s for s in ens.servers if s != gone])
        print("members %s, joiner %s (%s): %d acknowledged writes" % (
            members, joiner, role, acked))


@pytest.mark.parametrize("members,joiner", [(m, j) for _, m, j in COMBOS],
                         ids=[n for n, _, _ in COMBOS])
def test_participant_to_observer_and_back(tmp_path, members, joiner):
    """Node 4 (`joiner`) joins as a participant, becomes an observer by reconfig of its own
    id, then a participant again; node 3 (`members`) does the same after it."""
    with JoinEnsemble(tmp_path, "participant") as ens:
        _start_members(ens, members)
        ens.start(JOINER, joiner)
        ens.servers[JOINER].wait_ready(timeout=90)
        leader = ens.leader()
        via = min(s for s in (1, 2, 3) if s != leader)
        _reconfig(ens, via, "server.%d=%s" % (JOINER, ens.spec(JOINER, "participant")))
        hosts = [s.connect_string for s in ens.servers.values()]
        with Writers(hosts) as w:
            for sid in (JOINER, next(s for s in (3, 2) if s != leader)):
                for role, want in (("observer", "observer"), ("participant", "follower")):
                    data, stat = _reconfig(ens, via, "server.%d=%s" % (sid, ens.spec(sid, role)))
                    assert ("server.%d=%s" % (sid, ens.spec(sid, role))).encode() in data
                    _agree(ens, data, stat)
                    wait_for(lambda: mode(ens.servers[sid]) == want, timeout=30,
                             what="node %d as %s" % (sid, want))
            time.sleep(1)
        acked = _check_trees(ens, w)
        assert acked > 0
        print("members %s, node 4 %s: %d acknowledged writes" % (members, joiner, acked))


def _removed(srv, sid):
    """/zookeeper/config on `srv` once it no longer lists `sid`, else None."""
    try:
        data, stat = _config(srv)
    except Exception:  # still electing
        return None
    return None if b"server.%d=" % sid in data else (data, stat)


def _start_led_by_3(ens, impls):
    """Start {sid: impl}; mixed ensembles are started node 3 first so that it leads (a
    loaded machine may still elect another: then start afresh, at most three times)."""
    mixed = len(set(impls.values())) > 1
    for _ in range(3):
        if mixed:
            _start_leader_first(ens, impls, 3)
        else:
            ens.start_all(impls, timeout=90)
        wait_for(lambda: all(_config(s)[0].endswith(b"version=%x" % FIRST_VERSION)
                             for s in ens.servers.values()),
                 timeout=30, what="the versioned config on every member")
        leader = wait_for(ens.leader, timeout=30, what="a leader")
        if not mixed or leader == 3:
            return leader
        ens.kill_all()
        for sid in ens.servers:
            shutil.rmtree(ens.workdir(sid))
    raise AssertionError("node 3 never led")


@pytest.mark.parametrize("impls", [c for _, c in LEADER_COMBOS],
                         ids=[n for n, _ in LEADER_COMBOS])
def test_remove_the_leader(tmp_path, impls):
    """`reconfig -remove <leader>` under writers: the two others go on with a new leader,
    the removed server follows on without a vote, 0 acknowledged writes lost, the same tree
    on every server. In the mixed ensembles node 3 leads: zkserver handing over to Java
    followers and Java handing over to zkserver ones."""
    with zkharness.Ensemble(tmp_path, n=3, extra=EXTRA) as ens:
        leader = _start_led_by_3(ens, impls)
        zk = ens.servers[leader].client()
        try:
            zk.create(BASE, b"")
        finally:
            close_clients(zk)
        stay = [s for s in ens.servers if s != leader]
        with Writers([s.connect_string for s in ens.servers.values()]) as w:
            time.sleep(1)
            try:
                data, stat = _reconfig(ens, stay[0], leaving=str(leader))
            except ConnectionLoss:
                # Java's follower restarts its role at the COMMITANDACTIVATE that changes its
                # leader, often before the answer is out; the reconfig happened all the same.
                data, stat = wait_for(lambda: _removed(ens.servers[stay[0]], leader),
                                      timeout=60, what="the config without %d" % leader)
            assert b"server.%d=" % leader not in data
            new = wait_for(lambda: next((s for s in stay if mode(ens.servers[s]) == "leader"),
                                        None), timeout=60, what="a new leader")
            _agree(ens, data, stat)
            before = len(w.acked)
            wait_for(lambda: len(w.acked) > before + 20, timeout=30,
                     what="writes after the hand-over")
        # The reconfig designated a leader (Java's updateVote). Not every server need hear
        # it: the removed leader may close a connection before its COMMITANDACTIVATE is
        # read, and that follower elects (in Java too).
        assert any("Suggested leader: " in _log_text(s) for s in ens.servers.values())
        acked = _check_trees(ens, w)
        print("%s: leader %d removed, %d leads; %d acknowledged writes" % (
            impls, leader, new, acked))

