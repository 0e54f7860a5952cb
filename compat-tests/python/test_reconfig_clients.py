"""Dynamic reconfig seen from real clients, against Java 3.8.0 / 3.9.3 and zkserver in each
mode, alone and in mixed ensembles (docs/reconfig.md, "Clients").

1. kazoo's own TestReconfig (kazoo/tests/test_client.py, run through kazoo.testing's
   3-server harness as test_kazoo_upstream does): NoAuth without super, an observer added
   and removed as super, BadVersion for a future `from_config`, BadArguments for a bad spec.
2. zkCli.sh as super (`addauth digest super:...`): `config`, `reconfig -remove`,
   `reconfig -add`, `reconfig -members`, transcripts equal to Java's once the ports and
   zxids are put in words.
3. Non-incremental reconfig (`new_members`, the full list) through kazoo: a follower left
   out, then given back, alone and mixed (Java leading zkserver followers and the reverse).
4. The Java client's getConfig with a watch and Curator's ensemble tracker
   (compat-tests/java/ReconfigTracker.java) following a remove and an add.
"""

import difflib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NodeExistsError, SessionExpiredError

import zkfuzz
import zkharness
from clitools import Canon
from test_curator import JAVA, JAVA_DIR, client_classpath, curator_classes  # noqa: F401
from test_kazoo_upstream import KAZOO_TESTS, kazoo_env
from test_observer_master import VOTERS as OM_VOTERS
from test_observer_master import OMEnsemble, start_leader_3
from test_observer_master import _cases as om_cases
from test_observer_master import _master as om_master
from test_reconfig import (COMBOS, FIRST_VERSION, SUPER, _config_nodes, _ensemble,
                           _expected_config, _zkcli, start_combo)
from zkharness import close_clients, mode, wait_for

KAZOO_RECONFIG = ["test_add_remove_observer", "test_bad_input", "test_no_super_auth"]


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_kazoo_upstream_test_reconfig(impl, tmp_path):
    """All three of kazoo's TestReconfig run (none skipped: it skips itself below 3.5) and
    pass, on Java and on zkserver alike."""
    junit = tmp_path / "kazoo.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
         "--junitxml", str(junit), str(KAZOO_TESTS / "test_client.py::TestReconfig")],
        cwd=str(tmp_path), env=kazoo_env(impl, tmp_path), capture_output=True, text=True,
        timeout=300)
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert sorted(c.get("name") for c in cases) == KAZOO_RECONFIG, out
    for c in cases:
        assert not list(c), (c.get("name"), out)  # no failure, error or skipped element
    assert proc.returncode == 0, out


def _spec(ens, sid, client=True):
    """server.N's spec as a member list names it (with `;client` when asked)."""
    c, q, e = ens.ports[sid]
    spec = "server.%d=127.0.0.1:%d:%d:participant" % (sid, q, e)
    return spec + (";127.0.0.1:%d" % c if client else "")


@pytest.mark.parametrize("impls", [c for _, c in COMBOS], ids=[n for n, _ in COMBOS])
def test_new_members_remove_and_add_back(tmp_path, impls):
    """Non-incremental reconfig: the full new member list without a follower, then with it
    (and client addresses). Java's answer is the parsed list in id order plus the version;
    every member adopts it, the two remaining voters commit writes, and the follower left
    out votes again once given back."""
    with _ensemble(tmp_path) as ens:
        leader = start_combo(ens, impls)
        gone = next(sid for sid in sorted(ens.servers, reverse=True) if sid != leader)
        stay = sorted(sid for sid in ens.servers if sid != gone)
        via = min(sid for sid in stay if sid != leader)  # through a follower
        zk = KazooClient(ens.servers[via].connect_string, auth_data=[("digest", SUPER)])
        zk.start()
        try:
            # Newline and comma separated alike, in any order.
            members = "\n".join(_spec(ens, sid, client=False) for sid in reversed(stay))
            data, stat = zk.reconfig(joining=None, leaving=None, new_members=members,
                                     from_config=FIRST_VERSION)
            want = b"\n".join(l for l in _expected_config(ens, stat.mzxid).splitlines()
                              if not l.startswith(b"server.%d=" % gone))
            assert data == want, (data, want)
            assert (stat.version, stat.dataLength) == (-1, len(want)), stat
            for sid in ens.servers:
                wait_for(lambda: _config_nodes(ens)[sid][0] == want, timeout=10,
                         what="the new config on node %d" % sid)
            w = KazooClient(",".join(ens.servers[s].connect_string for s in stay))
            w.start()
            try:
                w.create("/after-new-members", b"x")
            finally:
                close_clients(w)
            everyone = ",".join(_spec(ens, sid) for sid in sorted(ens.servers))
            data2, stat2 = zk.reconfig(joining=None, leaving=None, new_members=everyone,
                                       from_config=stat.mzxid)
        finally:
            close_clients(zk)
        assert stat2.mzxid > stat.mzxid
        want2 = ("\n".join(_spec(ens, sid) for sid in sorted(ens.servers))
                 + "\nversion=%x" % stat2.mzxid).encode()
        assert data2 == want2, (data2, want2)
        name = "zoo.cfg.dynamic.%x" % stat2.mzxid
        for sid in ens.servers:
            path = ens.workdir(sid) / name
            wait_for(lambda: path.exists(), timeout=10, what="%s on node %d" % (name, sid))
            assert path.read_bytes() == b"\n".join(want2.splitlines()[:-1]), (sid, impls[sid])
            assert _config_nodes(ens)[sid][0] == want2, (sid, impls[sid])
        # The follower given back votes: with the leader alone beside it, writes commit.
        other = next(sid for sid in stay if sid != leader)
        ens.servers[other].kill()
        w = KazooClient(ens.servers[gone].connect_string)
        w.start()
        try:
            w.create("/with-the-member-back", b"y")
            assert w.get("/after-new-members")[0] == b"x"
        finally:
            close_clients(w)


@pytest.mark.parametrize("impls", [c for _, c in COMBOS], ids=[n for n, _ in COMBOS])
def test_new_members_hierarchical(tmp_path, impls):
    """Non-incremental reconfig into Java's QuorumHierarchical: the same three members in
    group 1 = {1, 2} and group 2 = {3}, server 1 weighing 3. The answer lists the servers,
    the groups, every participant's weight (1 where no line gave one) and the version; every
    member adopts it (config node, dynamic file); and the weights decide: without server 2,
    servers 1 (3 of group 1's 4) and 3 (all of group 2) elect and commit."""
    with _ensemble(tmp_path) as ens:
        leader = start_combo(ens, impls)
        via = min(sid for sid in ens.servers if sid != leader)
        zk = KazooClient(ens.servers[via].connect_string, auth_data=[("digest", SUPER)])
        zk.start()
        specs = [_spec(ens, sid) for sid in sorted(ens.servers)]
        try:
            members = ",".join(specs + ["group.1=1:2", "group.2=3", "weight.1=3"])
            data, stat = zk.reconfig(joining=None, leaving=None, new_members=members,
                                     from_config=FIRST_VERSION)
        finally:
            close_clients(zk)
        want = "\n".join(specs + ["group.1=1:2", "group.2=3", "weight.1=3", "weight.2=1",
                                  "weight.3=1", "version=%x" % stat.mzxid]).encode()
        assert data == want, (data, want)
        name = "zoo.cfg.dynamic.%x" % stat.mzxid
        for sid in ens.servers:
            wait_for(lambda: _config_nodes(ens)[sid][0] == want, timeout=10,
                     what="the hierarchical config on node %d" % sid)
            path = ens.workdir(sid) / name
            wait_for(lambda: path.exists(), timeout=10, what="%s on node %d" % (name, sid))
            assert path.read_bytes() == b"\n".join(sorted(want.splitlines()[:-1])), \
                (sid, impls[sid], path.read_bytes())
        ens.servers[2].kill()
        w = KazooClient(",".join(ens.servers[s].connect_string for s in (1, 3)))
        w.start(timeout=30)
        try:
            def created():
                try:
                    w.create("/after-hierarchy", b"x")
                except NodeExistsError:
                    pass
                except (ConnectionLoss, SessionExpiredError):
                    return False
                return True
            wait_for(created, timeout=60, what="a write committed by servers 1 and 3")
            w.sync("/")
            assert w.get("/after-hierarchy")[0] == b"x"
        finally:
            close_clients(w)


PAIRS = [p for p in (("java", "zkrs"), ("java39", "zkrs39"))
         if set(p) <= set(zkharness.selected_impls())]


def _zkcli_session(ens, impl):
    """One zkCli.sh session on a follower of a fresh `impl` ensemble (node 3 leading, node 2
    the follower it changes), normalised: mtime dropped, config versions and zxids as
    tokens in order of appearance, each node's ports as words."""
    leader = start_combo(ens, {1: impl, 2: impl, 3: impl}, node_3_leads=True)
    assert leader == 3
    specs = {sid: _spec(ens, sid) for sid in ens.servers}
    script = [
        "config",
        "reconfig -remove 2",  # no auth yet
        "addauth digest %s" % SUPER,
        "reconfig -remove 2",
        "config -s",
        "reconfig -remove 2",  # already gone: Java commits a new version all the same
        "reconfig -add %s" % specs[2],
        "reconfig -s -members %s" % ",".join(specs[s] for s in sorted(specs)),
        "reconfig -remove 1,2,3",
        "reconfig -add server.9=foo",
        "reconfig -members server.1=bad",
        "reconfig -add server.4=127.0.0.1:1:2",
        "config -c",
        "quit", ""]
    lines = _zkcli(ens.servers[1], stdin="\n".join(script))
    ens.kill_all()
    canon = Canon("v")
    words = {}
    for sid, (c, q, e) in ens.ports.items():
        words.update({str(c): "client%d" % sid, str(q): "quorum%d" % sid,
                      str(e): "election%d" % sid})
    out = []
    for line in lines:
        if line.startswith("mtime = "):
            continue
        line = re.sub(r"(?<=version=)[0-9a-f]+|(?<=Zxid = 0x)[0-9a-f]+|^[0-9a-f]{9,}(?= )",
                      lambda m: canon(m.group(0)), line)
        out.append(re.sub(r"(?<=:)\d{4,5}\b", lambda m: words.get(m.group(0), m.group(0)),
                          line))
    return out


@pytest.mark.parametrize("pair", PAIRS, ids=["%s-%s" % p for p in PAIRS])
def test_zkcli_reconfig_and_config_as_super(tmp_path, pair):
    """zkCli.sh's `reconfig -remove/-add/-members` and `config` (plain, -s, -c): zkserver's
    transcript is Java's (same ports: one ensemble folder, run one after the other)."""
    java, ours = pair
    with _ensemble(tmp_path) as ens:
        want = _zkcli_session(ens, java)
        for sid in ens.servers:
            shutil.rmtree(ens.workdir(sid))
        got = _zkcli_session(ens, ours)
    text = "\n".join(want)
    # What Java says, in short: one refusal, four commits, three bad arguments.
    assert text.count("Insufficient permission") == 1, text
    assert text.count("Committed new configuration:") == 4, text
    assert text.count("Arguments are not valid") == 4, text
    assert "server.2=127.0.0.1:quorum2:election2:participant;127.0.0.1:client2\n" in text
    assert got == want, "\n".join(difflib.unified_diff(want, got, "java", ours, lineterm=""))


TRACKER = JAVA_DIR / "ReconfigTracker.java"


def _words(ens, text):
    """Each node's ports as words (client1, quorum1, election1, ...)."""
    words = {}
    for sid, (c, q, e) in ens.ports.items():
        words.update({str(c): "client%d" % sid, str(q): "quorum%d" % sid,
                      str(e): "election%d" % sid})
    return re.sub(r"(?<=:)\d{4,5}\b", lambda m: words.get(m.group(0), m.group(0)), text)


def _tracker_expected(ens):
    """ReconfigTracker's output for ID 2, ports as words, versions as <vN> tokens."""
    def spec(sid):
        return _words(ens, _spec(ens, sid))

    def config(sids, v):
        return " | ".join([spec(s) for s in sids] + ["version=<v%d>" % v])

    def conn(sids):
        return ",".join("127.0.0.1:client%d" % s for s in sids)

    out = ["start tracker version=<v0> members=[] voters=[] connect=%s"
           % ",".join(sorted(_words(ens, ens.connect_string).split(",")))]
    for v, (name, sids) in enumerate((("members", [1, 2, 3]), ("remove", [1, 3]),
                                      ("add", [1, 2, 3])), start=1):
        members = "[%s]" % ", ".join(map(str, sids))
        out += ["%s answer %s" % (name, config(sids, v)),
                "%s watch NodeDataChanged /zookeeper/config" % name,
                "%s getConfig %s mzxid=<v%d>" % (name, config(sids, v), v),
                "%s tracker version=<v%d> members=%s voters=%s connect=%s"
                % (name, v, members, members, conn(sids))]
    return out + ["DONE"]


@pytest.mark.parametrize("impls", [c for _, c in COMBOS], ids=[n for n, _ in COMBOS])
def test_get_config_watch_and_curator_ensemble_tracker(tmp_path, impls, curator_classes):
    """The ZooKeeper client's getConfig watch fires on each reconfig and reads the new
    config; Curator's ensemble tracker (Debian's Curator 5.4 + ZooKeeper 3.8 client, or
    Curator 5.7.1 + 3.9.3) takes each config as its getCurrentConfig() and its connection
    string: every member given a client address (new_members), node 2 removed, added back."""
    impl = impls[1]
    classes = curator_classes(impl, TRACKER)
    with _ensemble(tmp_path) as ens:
        assert start_combo(ens, impls, node_3_leads=True) == 3
        specs = ",".join(_spec(ens, sid) for sid in sorted(ens.servers))
        cmd = [JAVA, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
               "-Dlog4j2.level=warn",
               "-cp", ":".join([str(classes)] + [str(p) for p in client_classpath(impl)]),
               "ReconfigTracker", ens.connect_string, SUPER, "2", specs]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=150)
        want = _tracker_expected(ens)
    canon = Canon("v")
    got = [re.sub(r"(?<=version=)[0-9a-f]+|(?<=mzxid=)[0-9a-f]+",
                  lambda m: "<v%d>" % (int(canon(m.group(0))[2:-1]) - 1), _words(ens, line))
           for line in proc.stdout.splitlines() if not line.startswith("SLF4J")]
    # The tracker's host order is the client's own (HashMap order in Curator 5.4, another
    # in 5.7.1): compare the hosts, sorted.
    got = [re.sub(r"(?<= tracker )(.*connect=)(.*)",
                  lambda m: m.group(1) + ",".join(sorted(m.group(2).split(","))), line)
           for line in got]
    assert got == want, "\n".join(difflib.unified_diff(want, got, "expected", "got",
                                                       lineterm="")) + "\n" + proc.stdout
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("impls", om_cases())
def test_observers_behind_an_observer_master_activate_a_reconfig(tmp_path, impls):
    """Observers that follow a follower (observerMasterPort) take a reconfig as the
    leader's own observers do: the follower relays it as INFORMANDACTIVATE (Java's
    ObserverMaster.informAndActivate), so each observer serves the new /zookeeper/config
    and writes zoo.cfg.dynamic.<version>. Every observer is made to follow follower 1 (in
    the mixed case Java), then follower 2 (ours), by stopping the other follower; each
    time an observer is added to the config (server.9, never started) or removed."""
    observers = [s for s in impls if s not in OM_VOTERS]
    extra = {"reconfigEnabled": "true",
             "DigestAuthenticationProvider.superDigest": zkfuzz.SUPER_DIGEST}
    with OMEnsemble(tmp_path, observers, zkharness.free_port(), extra) as ens:
        start_leader_3(ens, impls, observers)
        for step, (master, other) in enumerate(((1, 2), (2, 1))):
            ens.servers[other].kill()
            for o in observers:
                om_master(ens, o, {master})
            zk = KazooClient(ens.servers[3].connect_string, auth_data=[("digest", SUPER)])
            zk.start()
            try:
                if step == 0:
                    spec = "server.9=127.0.0.1:%d:%d:observer;127.0.0.1:%d" % (
                        zkharness.free_port(), zkharness.free_port(), zkharness.free_port())
                    data, stat = zk.reconfig(joining=spec, leaving=None, new_members=None)
                else:
                    data, stat = zk.reconfig(joining=None, leaving="9", new_members=None)
            finally:
                close_clients(zk)
            assert (b"server.9=" in data) == (step == 0), data
            if step == 0:
                # Java's order (reconfig::config_text): server.9 shares server.1's bucket
                # in the table of 8 an incremental reconfig of 4 or 5 members copies into.
                assert data.index(b"server.9=") < data.index(b"server.2="), data
            name = "zoo.cfg.dynamic.%x" % stat.mzxid
            for o in observers:
                c = ens.servers[o].client()
                try:
                    wait_for(lambda: c.get("/zookeeper/config")[0] == data, timeout=15,
                             what="the new config node on observer %d" % o)
                finally:
                    close_clients(c)
                path = ens.workdir(o) / name
                wait_for(lambda: path.exists(), timeout=15,
                         what="%s on observer %d (%s) behind follower %d (%s)" % (
                             name, o, impls[o], master, impls[master]))
                # The file is in id order, the node in Java's HashMap order.
                assert sorted(path.read_bytes().splitlines()) == sorted(data.splitlines()[:-1])
            ens.start(other, impls[other], wait=True)
            wait_for(lambda: mode(ens.servers[other]) == "follower", timeout=30,
                     what="follower %d back" % other)
