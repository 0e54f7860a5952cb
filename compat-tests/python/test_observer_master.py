"""observerMasterPort: observers sync from and follow a follower instead of the leader.

Three voters and one or two observers, each node on its own loopback address
(127.a.b.11..15) so that every voter can listen on the same observerMasterPort, as Java
requires: an observer tries each voter's host at *its own* observerMasterPort, in a
shuffled order, and moves on to the next when one refuses (the leader has no observer
master) or goes away.

Cases: every node of one implementation (java, zkrs, java39, zkrs39), and for each
generation a mixed ensemble (voters 1 and 3 the Java reference, voter 2 ours; observer 4
ours, observer 5 Java) in which each observer is made to follow a Java follower and one
of ours at least once (by killing the follower it follows). In each case:

- the observer's master is a follower: `mntr` says `zk_observer_master_id` and `ss` shows
  the observer's TCP connection to that follower's observerMasterPort;
- writes made through the leader are read on the observer, its watches fire, and a client
  of the observer writes (its requests go through the follower to the leader);
- clients of the observers and of the followers sync at the same time, and every sync
  comes back (the follower tells the leader's SYNCs for its observers from its own);
- the followed follower is killed: writes acknowledged meanwhile by the remaining quorum
  are all on the observer once it follows the other follower (it does);
- the observer restarts after missing writes and catches up with the leader's Stats.
"""

import random
import subprocess
import threading
import time

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for

SUBNET = "127.%d.%d" % (random.randint(100, 250), random.randint(1, 250))
VOTERS = (1, 2, 3)


def _cases():
    chosen = zkharness.selected_impls()
    cases = [pytest.param({s: i for s in (1, 2, 3, 4)}, id="all-" + i) for i in chosen]
    for ref, ours in zkharness.pairs():
        cases.append(pytest.param({1: ref, 2: ours, 3: ref, 4: ours, 5: ref},
                                  id="mixed-%s-%s" % (ref, ours)))
    return cases


class HostServer(zkharness.Server):
    """A server whose client port is on its own loopback address."""

    def __init__(self, host, *args, **kwargs):
        self._host = host
        super().__init__(*args, **kwargs)

    def cfg(self):
        self.host = self._host
        self.connect_string = "%s:%d" % (self.host, self.port)
        return super().cfg()


class OMEnsemble(zkharness.Ensemble):
    def __init__(self, tmp, observers, om_port, extra=None):
        self.om_port = om_port
        super().__init__(tmp, n=3 + len(observers), tick=500, observers=observers,
                         extra=dict({"observerMasterPort": str(om_port),
                                     # Java's defaults, set so that both read them.
                                     "observer.reconnectDelayMs": "0",
                                     "observer.election.DelayMs": "200"}, **(extra or {})))

    def host(self, sid):
        return "%s.%d" % (SUBNET, 10 + sid)

    def peer(self, sid):
        return self.host(sid), (zkharness.free_port(), zkharness.free_port(),
                                zkharness.free_port())

    def new_server(self, sid, impl):
        return HostServer(self.host(sid), impl, self.workdir(sid), self.ports[sid][0],
                          self.node_cfg(sid), myid=sid)


def _om_peers(ens, sid):
    """The voters whose observerMasterPort observer `sid`'s process has an established
    connection to (ss, from the observer's side: loopback connections all come from
    127.0.0.1, so the process tells whose they are)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True,
                         text=True, check=True).stdout
    pid = "pid=%d," % ens.servers[sid].proc.pid
    found = set()
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 5 or pid not in line:
            continue
        # Java's sockets are dual-stack: [::ffff:127.a.b.c]:port.
        peer = cols[3].replace("[::ffff:", "").replace("]", "")
        for v in VOTERS:
            if peer == "%s:%d" % (ens.host(v), ens.om_port):
                found.add(v)
    return found


def _master(ens, sid, followers):
    """The follower observer `sid` follows, once mntr and the sockets agree on one."""
    seen = {}

    def check():
        m = seen["mntr"] = zkharness.mntr(ens.servers[sid]).get("zk_observer_master_id")
        peers = seen["ss"] = _om_peers(ens, sid)
        if m is not None and int(m) in followers and peers == {int(m)}:
            return int(m)
        return None
    try:
        return wait_for(check, timeout=60)
    except AssertionError as e:
        raise AssertionError("observer %d does not follow one of %s through its "
                             "observerMasterPort: %s (%s)" % (sid, sorted(followers), seen, e))


def _followers(ens):
    return {v for v in VOTERS if ens.servers[v].running and mode(ens.servers[v]) == "follower"}


def _synced_read(zk, path):
    zk.sync(path)
    return zk.get(path)


def start_leader_3(ens, impls, observers):
    """Starts 3 and 1 first, so that 3 leads; then 2 as a follower, then the observers."""
    ens.start(3, impls[3])
    ens.start(1, impls[1])
    ens.servers[3].wait_ready(60)
    ens.servers[1].wait_ready(60)
    ens.start(2, impls[2], wait=True)
    assert mode(ens.servers[3]) == "leader"
    for o in observers:
        ens.start(o, impls[o])
    for o in observers:
        ens.servers[o].wait_ready(60)
        assert mode(ens.servers[o]) == "observer"


@pytest.mark.parametrize("impls", _cases())
def test_observers_follow_followers(tmp_path, impls):
    observers = [s for s in impls if s not in VOTERS]
    with OMEnsemble(tmp_path, observers, zkharness.free_port()) as ens:
        start_leader_3(ens, impls, observers)
        followers = {1, 2}
        served_by = {o: {_master(ens, o, followers)} for o in observers}
        # Java's follower gauge: the observers its observer master serves.
        for f in followers:
            n = sum(1 for o in observers if served_by[o] == {f})
            wait_for(lambda: zkharness.mntr(ens.servers[f]).get("zk_synced_observers") == str(n),
                     timeout=15, what="follower %d: zk_synced_observers %d" % (f, n))
            keys = list(zkharness.mntr(ens.servers[f]))
            assert keys[keys.index("zk_synced_observers") - 1] == "zk_watch_count", keys[:20]

        leader_zk = ens.servers[3].client()
        obs_zk = {o: ens.servers[o].client() for o in observers}
        try:
            leader_zk.create("/omp", b"root")
            for o, zk in obs_zk.items():
                assert _synced_read(zk, "/omp")[0] == b"root"
                # A watch on the observer fires for a write through the leader.
                path = "/omp/w%d" % o
                leader_zk.create(path, b"0")
                fired = threading.Event()
                zk.sync(path)
                zk.get(path, watch=lambda ev: fired.set())
                leader_zk.set(path, b"1")
                assert fired.wait(15), "observer %d: no watch event" % o
                assert zk.get(path)[0] == b"1"
                # The observer's own writes go through its follower to the leader.
                zk.create("/omp/by%d" % o, b"x")
                zk.create("/omp/eph%d" % o, b"", ephemeral=True)
                leader_zk.sync("/omp")
                assert leader_zk.exists("/omp/by%d" % o) is not None
                assert leader_zk.exists("/omp/eph%d" % o).ephemeralOwner == zk.client_id[0]

            # Syncs of the observers' clients and of the followers' own clients at once: the
            # follower forwards both to the leader and must hand each SYNC back to its owner.
            f_zk = {f: ens.servers[f].client() for f in followers}
            try:
                errors = []

                def syncs(zk, who):
                    try:
                        for i in range(25):
                            zk.sync("/omp")
                            zk.exists("/omp/by%d" % observers[0])
                    except Exception as e:  # noqa: BLE001
                        errors.append((who, e))

                threads = [threading.Thread(target=syncs, args=(zk, "observer %d" % o))
                           for o, zk in obs_zk.items()]
                threads += [threading.Thread(target=syncs, args=(zk, "follower %d" % f))
                            for f, zk in f_zk.items()]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                assert not any(t.is_alive() for t in threads), "a sync never came back"
                assert not errors, errors
            finally:
                close_clients(*f_zk.values())

            # Failover: kill the follower an observer follows (in the mixed case until
            # every observer was served by a Java follower and one of ours).
            acked = []
            rounds = 0
            while True:
                todo = [o for o in observers
                        if len({impls[f] for f in served_by[o]}) < len({impls[f] for f in followers})]
                if rounds > 0 and not todo:
                    break
                target = todo[0] if todo else observers[0]
                victim = _master(ens, target, followers)
                ens.servers[victim].kill()
                rest = followers - {victim}
                for i in range(10):
                    p = "/omp/r%d-%d" % (rounds, i)
                    leader_zk.create(p, b"%d" % i)
                    acked.append(p)
                for o in observers:
                    served_by[o].add(_master(ens, o, rest))
                    zk = obs_zk[o]
                    wait_for(lambda: zk.connected, timeout=30, what="observer client")
                    zk.sync("/omp")
                    missing = [p for p in acked if zk.exists(p) is None]
                    assert not missing, (o, missing)
                ens.start(victim, impls[victim], wait=True)
                wait_for(lambda: mode(ens.servers[victim]) == "follower", timeout=30,
                         what="the killed follower back")
                rounds += 1
                assert rounds <= 3, served_by

            for o in observers:
                assert served_by[o] == followers, served_by
            # An observer that missed writes catches up when it comes back.
            o = observers[0]
            obs_zk.pop(o).stop()
            ens.servers[o].stop()
            for i in range(30):
                leader_zk.create("/omp/lag%d" % i, b"%d" % i)
            ens.start(o, impls[o], wait=True)
            _master(ens, o, followers)
            zk = ens.servers[o].client()
            obs_zk[o] = zk
            zk.sync("/omp")
            leader_zk.sync("/omp")
            assert sorted(zk.get_children("/omp")) == sorted(leader_zk.get_children("/omp"))
            for i in (0, 29):
                assert zk.get("/omp/lag%d" % i) == leader_zk.get("/omp/lag%d" % i)
        finally:
            close_clients(leader_zk, *obs_zk.values())


def _stall_cases():
    cases = [pytest.param({s: i for s in (1, 3, 4)}, id="all-" + i)
             for i in zkharness.selected_impls()]
    for ref, ours in zkharness.pairs():
        cases.append(pytest.param({3: ref, 1: ours, 4: ref}, id="%s-master-%s" % (ours, ref)))
        cases.append(pytest.param({3: ours, 1: ref, 4: ours}, id="%s-master-%s" % (ref, ours)))
    return cases


@pytest.mark.timeout(240)
@pytest.mark.parametrize("impls", _stall_cases())
def test_an_observer_that_stops_reading_is_dropped_and_resyncs(tmp_path, impls):
    """Observer 4 follows follower 1 (voter 2 is never started, so every write needs 1's
    ACK) and is paused (SIGSTOP) while the leader commits for 8 s, more than syncLimit
    (5 ticks of 500 ms): follower 1 keeps acking the leader and serving its own client,
    drops the silent observer (`zk_synced_observers` 0, no socket left to it: what it had
    queued is freed), and the observer, continued, resyncs to the leader's tree."""
    import stall

    with OMEnsemble(tmp_path, [4], zkharness.free_port()) as ens:
        ens.start(3, impls[3])
        ens.start(1, impls[1])
        ens.servers[3].wait_ready(90)
        ens.servers[1].wait_ready(90)
        assert mode(ens.servers[3]) == "leader"
        ens.start(4, impls[4], wait=True, timeout=90)
        assert _master(ens, 4, {1}) == 1
        f = ens.servers[1]
        wait_for(lambda: zkharness.mntr(f).get("zk_synced_observers") == "1", timeout=30,
                 what="follower 1 serves the observer")
        leader_zk = ens.servers[3].client()
        f_zk = f.client()
        try:
            leader_zk.create("/stall", b"")
            with stall.paused(ens.servers[4]):
                created = stall.write_for(8, leader_zk, "/stall", f_zk)
                assert len(created) > 50, len(created)
                wait_for(lambda: zkharness.mntr(f).get("zk_synced_observers") == "0", timeout=30,
                         what="follower 1 drops the paused observer")
                wait_for(lambda: stall.established(f.proc.pid, ens.om_port) == 0,
                         timeout=30, what="follower 1 holds no socket to the observer")
                assert f_zk.get("/stall")[1].numChildren == len(created)
            obs_zk = ens.servers[4].client(timeout=30)
            try:
                wait_for(lambda: mode(ens.servers[4]) == "observer", timeout=60,
                         what="the observer back")
                stall.assert_caught_up(obs_zk, leader_zk, "/stall", created)
            finally:
                close_clients(obs_zk)
        finally:
            close_clients(leader_zk, f_zk)
