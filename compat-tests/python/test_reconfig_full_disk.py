"""A reconfig while a follower's config folder is full: its config files are written as Java's
`AtomicFileWritingIdiom` does (`<name>.tmp`, then rename), so a full disk leaves `zoo.cfg`
and the old `zoo.cfg.dynamic.*` as they were, and no `.tmp` behind; the follower logs the
error (Java's `Error closing file`, the same words in zkserver), still adopts the new config
in memory and keeps serving; once space is freed and it restarts from those old files it
rejoins and writes the new config's files.

Node 1 (the victim) has zoo.cfg on a small tmpfs (its data and log elsewhere); node 3 leads;
the reconfig removes node 2. Needs root (mount); skipped otherwise.
"""

import shutil
import subprocess

import pytest
from kazoo.client import KazooClient

import zkharness
from test_ensemble39 import _start_leader_first
from test_full_disk import _fill, _mount_tmpfs
from test_reconfig import EXTRA, FIRST_VERSION, SUPER, _config_nodes
from zkharness import close_clients, wait_for

VICTIM, GONE, LEADER = 1, 2, 3


class ConfServer(zkharness.Server):
    """A server whose zoo.cfg lives in `<workdir>/conf`."""

    def _write_config(self):
        self.cfg_path = self.workdir / "conf" / "zoo.cfg"
        self.cfg_path.parent.mkdir(parents=True, exist_ok=True)
        super()._write_config()


class ConfEnsemble(zkharness.Ensemble):
    def new_server(self, sid, impl):
        cls = ConfServer if sid == VICTIM else zkharness.Server
        return cls(impl, self.workdir(sid), self.ports[sid][0], self.node_cfg(sid), myid=sid)


def _cases():
    out = [pytest.param({1: i, 2: i, 3: i}, id="all-" + i) for i in zkharness.selected_impls()]
    for ref, ours in zkharness.pairs():
        out.append(pytest.param({1: ours, 2: ref, 3: ref}, id="%s-victim-%s-leads" % (ours, ref)))
        out.append(pytest.param({1: ref, 2: ours, 3: ours}, id="%s-victim-%s-leads" % (ref, ours)))
    return out


def _conf_files(conf):
    return {p.name: p.read_bytes() for p in conf.iterdir() if p.name.startswith("zoo.cfg")}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("impls", _cases())
def test_a_reconfig_on_a_full_config_disk(tmp_path, impls):
    ens = ConfEnsemble(tmp_path, n=3, extra=EXTRA)
    conf = ens.workdir(VICTIM) / "conf"
    _mount_tmpfs(conf)
    try:
        with ens:
            for _ in range(3):
                _start_leader_first(ens, impls, LEADER)
                if ens.leader() == LEADER:
                    break
                # Node 3 lost the first election race (a loaded machine): start afresh.
                ens.kill_all()
                for sid in ens.servers:
                    shutil.rmtree(ens.workdir(sid) / "data")
                    for d in (ens.workdir(sid), conf):
                        for f in d.glob("zoo.cfg*"):
                            f.unlink()
            assert ens.leader() == LEADER
            wait_for(lambda: all(d.endswith(b"version=%x" % FIRST_VERSION)
                                 for d, _ in _config_nodes(ens).values()),
                     timeout=60, what="the versioned config on every node")
            victim = ens.servers[VICTIM]
            wait_for(lambda: "zoo.cfg.dynamic.%x" % FIRST_VERSION in _conf_files(conf),
                     timeout=30, what="the victim's first dynamic file")
            before = _conf_files(conf)
            _fill(conf)
            zk = KazooClient(ens.servers[LEADER].connect_string, auth_data=[("digest", SUPER)])
            zk.start()
            try:
                data, stat = zk.reconfig(joining=None, leaving=str(GONE), new_members=None,
                                         from_config=FIRST_VERSION)
            finally:
                close_clients(zk)
            # The victim adopts it in memory, cannot write it, says so, and keeps serving.
            wait_for(lambda: _config_nodes(ens)[VICTIM][0] == data, timeout=30,
                     what="the victim serves the new config")
            wait_for(lambda: "Error closing file" in victim.log_path.read_text(errors="replace"),
                     timeout=30, what="the victim logs the failed write")
            (conf / "filler").unlink()
            assert _conf_files(conf) == before, sorted(_conf_files(conf))
            c = victim.client()
            try:
                c.create("/after-full-reconfig", b"x")
            finally:
                close_clients(c)
            # Restarted from its old files, it rejoins and writes the new config's.
            victim.kill()
            ens.start(VICTIM, impls[VICTIM], wait=True, timeout=90)
            name = "zoo.cfg.dynamic.%x" % stat.mzxid
            wait_for(lambda: name in _conf_files(conf), timeout=60,
                     what="%s written after the restart" % name)
            want = (ens.workdir(LEADER) / name).read_bytes()
            assert _conf_files(conf)[name] == want
            assert (conf / "zoo.cfg").read_text().endswith(
                "dynamicConfigFile=%s\n" % (conf / name).resolve())
            c = ens.servers[VICTIM].client()
            try:
                c.sync("/")
                assert c.get("/after-full-reconfig")[0] == b"x"
                assert c.get("/zookeeper/config")[0] == data
            finally:
                close_clients(c)
    finally:
        subprocess.run(["umount", "-l", str(conf)], check=False)
