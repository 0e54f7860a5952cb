"""Hierarchical quorums (Java's QuorumHierarchical: group.N and weight.N lines): a
five-member ensemble in three groups, {1,2,3}, {4} and {5}. A quorum is a majority of the
weight of a majority of the groups, so losing the whole first group - three of five members,
which would end a majority ensemble - leaves groups 2 and 3, which elect a leader and commit
writes. Each impl runs alone, and Java and zkserver run mixed (Java in the big group, zkserver
as the two single-member groups, and the other way round), with the same zoo.cfg.
"""

import time

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for

GROUPS = {"group.1": "1:2:3", "group.2": "4", "group.3": "5"}


def _layouts():
    impls = zkharness.selected_impls()
    out = [pytest.param({sid: i for sid in range(1, 6)}, id=i) for i in impls]
    for java, ours in (("java", "zkrs"), ("java39", "zkrs39")):
        if java in impls and ours in impls:
            out.append(pytest.param({1: java, 2: java, 3: java, 4: ours, 5: ours},
                                    id="%s-big-%s-small" % (java, ours)))
            out.append(pytest.param({1: ours, 2: ours, 3: ours, 4: java, 5: java},
                                    id="%s-big-%s-small" % (ours, java)))
    return out


@pytest.mark.parametrize("layout", _layouts())
def test_losing_a_whole_group_keeps_the_quorum(layout, tmp_path):
    with zkharness.Ensemble(tmp_path, n=5, extra=GROUPS) as ens:
        ens.start_all(layout)
        zk = ens.servers[1].client()
        try:
            zk.create("/h", b"before")
            config, _ = zk.get("/zookeeper/config")
        finally:
            close_clients(zk)
        # /zookeeper/config carries the groups and weights as Java's toString writes them.
        text = config.decode()
        for line in ("group.1=1:2:3", "group.2=4", "group.3=5", "weight.1=1", "weight.5=1"):
            assert line in text.splitlines(), text
        texts = {}
        for sid in (4, 5):
            c = ens.servers[sid].client()
            try:
                texts[sid] = c.get("/zookeeper/config")[0].decode()
            finally:
                close_clients(c)
        assert texts[4] == texts[5] == text, (layout, texts, text)

        for sid in (1, 2, 3):
            ens.servers[sid].kill()
        # Groups 2 and 3 are a majority of the groups: they elect one of themselves.
        survivors = [ens.servers[4], ens.servers[5]]
        wait_for(lambda: sorted(str(mode(s)) for s in survivors) == ["follower", "leader"],
                 timeout=60, what="groups 2 and 3 elect a leader")
        for s in survivors:
            c = s.client()
            try:
                c.set("/h", b"after-" + str(s.port).encode())
                assert c.get("/h")[0].startswith(b"after-")
            finally:
                close_clients(c)


@pytest.mark.parametrize("layout", _layouts()[:1])
def test_a_single_group_member_is_no_quorum(layout, tmp_path):
    """Group 1 alone (three of five members, a majority by count) is one group of three:
    no quorum, so it serves nobody."""
    with zkharness.Ensemble(tmp_path, n=5, extra=GROUPS) as ens:
        for sid in (1, 2, 3):
            ens.start(sid, layout[sid])
        time.sleep(8)
        assert all(mode(ens.servers[sid]) in (None, "looking") for sid in (1, 2, 3)), \
            [mode(ens.servers[sid]) for sid in (1, 2, 3)]
