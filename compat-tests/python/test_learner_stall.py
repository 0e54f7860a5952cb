"""A follower that stops reading (its process paused with SIGSTOP) while the leader commits
with the other follower: the leader keeps committing and drops the silent follower after
syncLimit (`zk_synced_followers` falls to 1, no socket to it is left: what was queued for it
is freed), and the follower, continued, resyncs to the leader's tree.

Three voters, node 3 leads (started first with node 1), node 2 is paused; all one
implementation, and for each generation both mixes (a Java leader with our paused follower,
ours with a Java one).
"""

import pytest

import stall
import zkharness
from zkharness import close_clients, mode, wait_for

PAUSED = 2


def _cases():
    cases = [pytest.param({s: i for s in (1, 2, 3)}, id="all-" + i)
             for i in zkharness.selected_impls()]
    for ref, ours in zkharness.pairs():
        cases.append(pytest.param({3: ref, 1: ref, PAUSED: ours}, id="%s-paused-%s-leads" % (ours, ref)))
        cases.append(pytest.param({3: ours, 1: ours, PAUSED: ref}, id="%s-paused-%s-leads" % (ref, ours)))
    return cases


@pytest.mark.timeout(240)
@pytest.mark.parametrize("impls", _cases())
def test_a_paused_follower_is_dropped_and_resyncs(tmp_path, impls):
    with zkharness.Ensemble(tmp_path, tick=500) as ens:
        ens.start(3, impls[3])
        ens.start(1, impls[1])
        ens.servers[3].wait_ready(90)
        ens.servers[1].wait_ready(90)
        ens.start(PAUSED, impls[PAUSED], wait=True, timeout=90)
        assert mode(ens.servers[3]) == "leader"
        leader = ens.servers[3]
        qport = ens.ports[3][1]
        wait_for(lambda: zkharness.mntr(leader).get("zk_synced_followers") == "2", timeout=30,
                 what="two synced followers")
        assert stall.established(leader.proc.pid, qport) == 2
        leader_zk = leader.client()
        f_zk = ens.servers[1].client()
        try:
            leader_zk.create("/stall", b"")
            with stall.paused(ens.servers[PAUSED]):
                created = stall.write_for(8, leader_zk, "/stall", f_zk)
                assert len(created) > 50, len(created)
                wait_for(lambda: zkharness.mntr(leader).get("zk_synced_followers") == "1", timeout=30,
                         what="the leader drops the paused follower")
                wait_for(lambda: stall.established(leader.proc.pid, qport) == 1, timeout=30,
                         what="the leader holds no socket to the paused follower")
            paused = ens.servers[PAUSED]
            wait_for(lambda: mode(paused) == "follower"
                     and zkharness.mntr(leader).get("zk_synced_followers") == "2",
                     timeout=60, what="the paused follower back in sync")
            p_zk = paused.client(timeout=30)
            try:
                stall.assert_caught_up(p_zk, leader_zk, "/stall", created)
            finally:
                close_clients(p_zk)
        finally:
            close_clients(leader_zk, f_zk)
