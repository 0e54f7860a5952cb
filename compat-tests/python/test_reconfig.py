"""Dynamic reconfig (op 16) and `/zookeeper/config` with `reconfigEnabled=true`, against Java
3.8.0 / 3.9.3 and zkserver in each mode, on 3-node ensembles.

1. The files and the config node (pairs java/zkrs and java39/zkrs39, run one after the
   other in the same directories on the same ports, so the bytes must be equal): at startup
   Java copies zoo.cfg to zoo.cfg.bak, and once the first leader is established every member
   adopts the initial config under version (epoch 1, 0) = 0x100000000: it writes
   zoo.cfg.dynamic.100000000 and rewrites zoo.cfg without its server lines (keys in the
   iteration order of java.util.Properties) plus `dynamicConfigFile=`; /zookeeper/config
   holds the members and `version=100000000`, with mzxid 0x100000000. zkCli's `config`
   prints the same on both, and `reconfig -remove 3`
   the same NoAuth error.
2. Error answers in Java's order of checks (each implementation alone, through the leader
   and through a follower): BadVersion and NewConfigNoQuorum come before the ACL check on
   /zookeeper/config (NoAuth without super), a leaving id that is no number is
   MarshallingError (Java's NumberFormatException), bad server specs BadArguments.
3. Standalone: ReconfigDisabled without reconfigEnabled, Unimplemented with it.
4. Executing a reconfig: removing a follower, in each implementation alone and in mixed
   java/zkserver ensembles of either generation.
"""

import re
import shutil
import subprocess

import pytest
from kazoo.client import KazooClient

import zkharness
import zkfuzz
import zkraw
from test_ensemble39 import _start_leader_first
from test_zkcli import ZKCLI, _env
from zkharness import close_clients, is_java, wait_for

SUPER = zkfuzz.SUPER.decode()
EXTRA = {"reconfigEnabled": "true",
         "DigestAuthenticationProvider.superDigest": zkfuzz.SUPER_DIGEST}
FIRST_VERSION = 0x100000000
OP_RECONFIG = 16


def _ensemble(tmp, extra=EXTRA):
    return zkharness.Ensemble(tmp, n=3, extra=extra)


def _expected_config(ens, version: int) -> bytes:
    lines = ["server.%d=%s:participant" % (sid, ens.base["server.%d" % sid])
             for sid in sorted(ens.ports)]
    return ("\n".join(lines) + "\nversion=%x" % version).encode()


def _config_nodes(ens):
    """{sid: (data, stat without mtime)} of /zookeeper/config on every node."""
    out = {}
    for sid, srv in ens.servers.items():
        zk = srv.client()
        try:
            data, stat = zk.get("/zookeeper/config")
        finally:
            close_clients(zk)
        out[sid] = (data, stat._replace(mtime=0))
    return out


def _files(ens):
    """{(sid, name): bytes} of the config files in each node's folder."""
    out = {}
    for sid in ens.servers:
        wd = ens.workdir(sid)
        for p in sorted(wd.iterdir()):
            if p.name.startswith("zoo.cfg"):
                out[(sid, p.name)] = p.read_bytes()
    return out


def _zkcli(srv, *args, stdin=None):
    proc = subprocess.run([ZKCLI, "-server", srv.connect_string, *args], input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60, env=_env())
    noise = re.compile(r"^(SLF4J: .*|Connecting to .*|Welcome to ZooKeeper!|JLine support .*|"
                       r"WATCHER::|WatchedEvent .*|)$")
    return [l for l in proc.stdout.splitlines() if not noise.match(l.strip())]


def _start(ens, impl):
    ens.start_all({1: impl, 2: impl, 3: impl})
    # Every member adopts the versioned config at UPTODATE: wait until all show it.
    wait_for(lambda: all(d.endswith(b"version=%x" % FIRST_VERSION)
                         for d, _ in _config_nodes(ens).values()),
             timeout=30, what="the versioned config on every node")


def _observe(ens, impl):
    _start(ens, impl)
    seen = {"files": _files(ens), "nodes": _config_nodes(ens),
            "zkcli_config": _zkcli(ens.servers[1], "config"),
            "zkcli_config_s": [l for l in _zkcli(ens.servers[2], "config", "-s")
                               if not l.startswith("mtime")],
            # Refused by the ACL check (no auth here).
            "zkcli_reconfig": [l for l in _zkcli(ens.servers[3],
                                                 stdin="reconfig -remove 3\nquit\n")
                               if "permission" in l]}
    ens.kill_all()
    return seen


PAIRS = [p for p in (("java", "zkrs"), ("java39", "zkrs39"))
         if set(p) <= set(zkharness.selected_impls())]


@pytest.mark.parametrize("pair", PAIRS, ids=["%s-%s" % p for p in PAIRS])
def test_files_and_config_node_as_java(tmp_path, pair, monkeypatch):
    java, ours = pair
    # Both write the same zoo.cfg, key for key in the same order: compat.version (zkserver's
    # key) goes last to Java too, which keeps it as an unused system property.
    extra = dict(EXTRA, **{"compat.version": zkharness.ZKRS_COMPAT[ours]})
    monkeypatch.delitem(zkharness.ZKRS_COMPAT, ours)
    with _ensemble(tmp_path, extra) as ens:
        want = _observe(ens, java)
        for sid in ens.servers:
            shutil.rmtree(ens.workdir(sid))
        got = _observe(ens, ours)

    config = _expected_config(ens, FIRST_VERSION)
    for sid, (data, stat) in want["nodes"].items():
        assert data == config, (sid, data)
        assert (stat.czxid, stat.mzxid, stat.version, stat.aversion, stat.dataLength) == (
            0, FIRST_VERSION, -1, -1, len(config)), (sid, stat)
    for sid in ens.servers:
        cfg = ens.workdir(sid) / "zoo.cfg"
        assert want["files"][(sid, "zoo.cfg.dynamic.100000000")] == b"\n".join(
            config.splitlines()[:-1])
        assert want["files"][(sid, "zoo.cfg")].endswith(
            b"dynamicConfigFile=%s.dynamic.100000000\n" % str(cfg.resolve()).encode())
        assert b"server." not in want["files"][(sid, "zoo.cfg")]
        assert b"server.1=" in want["files"][(sid, "zoo.cfg.bak")]
    assert sorted(want["files"]) == sorted(got["files"])
    for key in want["files"]:
        assert got["files"][key] == want["files"][key], (key, got["files"][key])
    assert got["nodes"] == want["nodes"]
    assert want["zkcli_config"] == [l for l in config.decode().splitlines()], want
    assert got["zkcli_config"] == want["zkcli_config"]
    assert got["zkcli_config_s"] == want["zkcli_config_s"]
    assert want["zkcli_reconfig"] == ["Insufficient permission : "], want["zkcli_reconfig"]
    assert got["zkcli_reconfig"] == want["zkcli_reconfig"]


def _outcome(zk, **kw):
    try:
        data, stat = zk.reconfig(**kw)
        return ("ok", data)
    except Exception as e:  # noqa: BLE001 - the class is the answer
        return (type(e).__name__, getattr(e, "code", None))


THREE = "server.1=127.0.0.1:1:2;3,server.2=127.0.0.1:4:5;6,server.3=127.0.0.1:7:8;9"
FOUR_MORE = ("server.4=127.0.0.1:1:2;3,server.5=127.0.0.1:4:5;6,"
             "server.6=127.0.0.1:7:8;9,server.7=127.0.0.1:10:11;12")

# (name, needs super, kwargs, answer): every answer is Java's (3.8.0 and 3.9.3 agree).
CASES = [
    ("no auth", False, dict(leaving="3"), "NoAuthError"),
    ("bad version before acl", False, dict(leaving="3", from_config=5), "BadVersionError"),
    ("bad id before acl", False, dict(leaving="x"), "MarshallingError"),
    ("no quorum before acl", False, dict(joining=FOUR_MORE), "NewConfigNoQuorumError"),
    ("bad version", True, dict(leaving="3", from_config=5), "BadVersionError"),
    ("version of the initial config", True, dict(leaving="3", from_config=0),
     "BadVersionError"),
    ("leaving not a number", True, dict(leaving="1,x"), "MarshallingError"),
    ("joining bad spec", True, dict(joining="server.4=foo"), "BadArgumentsError"),
    ("joining no client port", True, dict(joining="server.4=127.0.0.1:1:2"),
     "BadArgumentsError"),
    ("joining bad id", True, dict(joining="server.x=127.0.0.1:1:2;3"), "MarshallingError"),
    ("joining two =", True, dict(joining="server.4=a=b"), "BadArgumentsError"),
    ("no quorum", True, dict(joining=FOUR_MORE), "NewConfigNoQuorumError"),
    ("one voter left", True, dict(leaving="1,2"), "BadArgumentsError"),
    ("members bad spec", True, dict(new_members="server.1=bad"), "BadArgumentsError"),
    ("members unknown key", True, dict(new_members="foo=1"), "BadArgumentsError"),
    # QuorumHierarchical (group./weight. lines), checked before the quorum.
    ("members in no group", True, dict(new_members=THREE + ",group.1=1:2"),
     "BadArgumentsError"),
    ("members in two groups", True, dict(new_members=THREE + ",group.1=1:2:3,group.2=3"),
     "BadArgumentsError"),
    ("members group not a number", True, dict(new_members=THREE + ",group.1=1:2:x"),
     "MarshallingError"),
    ("members weight not a number", True,
     dict(new_members=THREE + ",group.1=1:2:3,weight.1=heavy"), "MarshallingError"),
]


def _kw(kw):
    full = dict(joining=None, leaving=None, new_members=None)
    full.update(kw)
    return full


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_reconfig_errors_in_javas_order(tmp_path, impl):
    with _ensemble(tmp_path) as ens:
        _start(ens, impl)
        leader = ens.leader()
        follower = next(sid for sid in ens.servers if sid != leader)
        before = _config_nodes(ens)
        for via in (leader, follower):
            plain = KazooClient(ens.servers[via].connect_string)
            sup = KazooClient(ens.servers[via].connect_string,
                              auth_data=[("digest", SUPER)])
            plain.start()
            sup.start()
            try:
                got = [(name, _outcome(sup if needs_super else plain, **_kw(kw))[0])
                       for name, needs_super, kw, _ in CASES]
            finally:
                close_clients(plain, sup)
            assert got == [(name, answer) for name, _, _, answer in CASES], (impl, via)
        # Nothing changed.
        assert _config_nodes(ens) == before


def _raw_reconfig(srv, leaving="3"):
    """The error code of a reconfig sent by a raw client (kazoo's connection dies on -123,
    which it does not know), as super."""
    with zkraw.RawClient(srv.host, srv.port) as c:
        c.add_auth("digest", SUPER.encode())
        body = (zkraw.Enc().string(None).string(leaving).string(None).long(-1).bytes())
        return c.call(OP_RECONFIG, body).err


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_standalone(tmp_path, impl):
    """Java's checks before it knows it leads: ReconfigDisabled (-123) without
    reconfigEnabled, else Unimplemented (-6) for a server that is no leader; the config
    node of a standalone server stays empty."""
    answers = []
    for enabled in (False, True):
        extra = dict(EXTRA) if enabled else {
            "DigestAuthenticationProvider.superDigest": zkfuzz.SUPER_DIGEST}
        srv = zkharness.start_server(impl, tmp_path / str(enabled), extra_cfg=extra)
        try:
            answers.append(_raw_reconfig(srv))
            zk = srv.client()
            try:
                answers.append(zk.get("/zookeeper/config")[0])
            finally:
                close_clients(zk)
        finally:
            srv.kill()
    assert answers == [zkraw.RECONFIG_DISABLED, b"", zkraw.UNIMPLEMENTED, b""], answers


def _combos():
    """Node implementations {sid: impl} to reconfigure: each implementation alone, and mixed
    3.8 / 3.9 ensembles where node 3 leads: Java leading zkserver followers, and zkserver
    leading a Java follower (through which the reconfig is sent)."""
    sel = set(zkharness.selected_impls())
    out = [(i, {1: i, 2: i, 3: i}) for i in zkharness.selected_impls()]
    for java, ours in (("java", "zkrs"), ("java39", "zkrs39")):
        if {java, ours} <= sel:
            out.append(("%s-%s-%s" % (java, ours, ours), {1: java, 2: ours, 3: ours}))
            out.append(("%s-%s-%s" % (ours, ours, java), {1: ours, 2: ours, 3: java}))
    return out


COMBOS = _combos()


def start_combo(ens, impls, node_3_leads=False):
    """Starts `impls` ({sid: impl}) and waits for the versioned config on every node; a mixed
    ensemble (or any with `node_3_leads`) is started until node 3 leads (see _combos).
    Returns the leader's id."""
    mixed = len(set(impls.values())) > 1 or node_3_leads
    for _ in range(3):
        if mixed:
            _start_leader_first(ens, impls, 3)
        else:
            ens.start_all(impls)
        wait_for(lambda: all(d.endswith(b"version=%x" % FIRST_VERSION)
                             for d, _ in _config_nodes(ens).values()),
                 timeout=30, what="the versioned config on every node")
        leader = ens.leader()
        if not mixed or leader == 3:
            return leader
        # Node 3 lost the first election race (a loaded machine): start afresh.
        ens.kill_all()
        for sid in ens.servers:
            shutil.rmtree(ens.workdir(sid))
    raise AssertionError("node 3 never led %s" % impls)


@pytest.mark.parametrize("impls", [c for _, c in COMBOS], ids=[n for n, _ in COMBOS])
def test_remove_and_add_back_a_follower(tmp_path, impls):
    """An incremental reconfig removing a follower: the answer holds the new config (version
    = its zxid), the watch on /zookeeper/config fires, every member serves the new config
    node and writes zoo.cfg.dynamic.<zxid> and points zoo.cfg at it, and the two remaining
    voters go on committing writes. Then the removed server (still following, without a
    vote) joins again with its client address in its spec."""
    with _ensemble(tmp_path) as ens:
        leader = start_combo(ens, impls)
        gone = next(sid for sid in sorted(ens.servers, reverse=True) if sid != leader)
        print("leader %d (%s), removing %d (%s)" % (leader, impls[leader], gone, impls[gone]))
        stay = [sid for sid in ens.servers if sid != gone]
        via = min(sid for sid in stay if sid != leader)  # through a follower
        zk = KazooClient(ens.servers[via].connect_string, auth_data=[("digest", SUPER)])
        zk.start()
        try:
            events = []
            zk.get("/zookeeper/config", watch=events.append)
            data, stat = zk.reconfig(joining=None, leaving=str(gone), new_members=None,
                                     from_config=FIRST_VERSION)
            want = b"\n".join(l for l in _expected_config(ens, stat.mzxid).splitlines()
                              if not l.startswith(b"server.%d=" % gone))
            assert data == want, (data, want)
            assert (stat.version, stat.dataLength) == (-1, len(want)), stat
            wait_for(lambda: events, timeout=10, what="the config watch")
            assert (events[0].type, events[0].path) == ("CHANGED", "/zookeeper/config")
            # The same reconfig again: the version it names is gone.
            with pytest.raises(Exception) as err:
                zk.reconfig(joining=None, leaving=str(gone), new_members=None,
                            from_config=FIRST_VERSION)
            assert type(err.value).__name__ == "BadVersionError"
        finally:
            close_clients(zk)
        name = "zoo.cfg.dynamic.%x" % stat.mzxid
        dynamic = b"\n".join(want.splitlines()[:-1])
        # The removed follower follows on without a vote (Java's "non-voting participant"),
        # so it has the new config too.
        for sid in ens.servers:
            path = ens.workdir(sid) / name
            wait_for(lambda: path.exists(), timeout=10, what="%s on node %d" % (name, sid))
            assert path.read_bytes() == dynamic, (sid, impls[sid])
            cfg = (ens.workdir(sid) / "zoo.cfg").read_text()
            assert cfg.endswith("dynamicConfigFile=%s\n" % path.resolve()), (sid, cfg)
            node = _config_nodes(ens)[sid]
            assert node[0] == want and node[1].mzxid == stat.mzxid, (sid, impls[sid], node)
        # The remaining two commit writes.
        zk = KazooClient(",".join(ens.servers[s].connect_string for s in stay))
        zk.start()
        try:
            zk.create("/after-reconfig", b"x")
            for sid in stay:
                c = ens.servers[sid].client()
                try:
                    c.sync("/")
                    assert c.get("/after-reconfig")[0] == b"x"
                finally:
                    close_clients(c)
        finally:
            close_clients(zk)
        # Add it back; its spec now carries the client address.
        host, (client, q, e) = "127.0.0.1", ens.ports[gone]
        spec = "server.%d=%s:%d:%d:participant;%s:%d" % (gone, host, q, e, host, client)
        zk = KazooClient(ens.servers[leader].connect_string, auth_data=[("digest", SUPER)])
        zk.start()
        try:
            data2, stat2 = zk.reconfig(joining=spec, leaving=None, new_members=None)
        finally:
            close_clients(zk)
        assert stat2.mzxid > stat.mzxid
        assert spec.encode() + b"\n" in data2 and data2.endswith(b"version=%x" % stat2.mzxid)
        name2 = "zoo.cfg.dynamic.%x" % stat2.mzxid
        for sid in ens.servers:
            path = ens.workdir(sid) / name2
            wait_for(lambda: path.exists(), timeout=10, what="%s on node %d" % (name2, sid))
            assert spec.encode() in path.read_bytes()
            assert _config_nodes(ens)[sid][0] == data2, (sid, impls[sid])
