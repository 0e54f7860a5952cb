"""sslQuorumReloadCertFiles: a TLS quorum moves to a new CA without restarting its members.

Java (3.8.0 and 3.9.3) watches the directories of the ssl.quorum key and trust store files
(X509Util.enableCertFileReloading, FileChangeWatcher): a created or modified store file
rebuilds the quorum's default SSLContext, which every later quorum and election handshake
uses, accepted (UnifiedServerSocket) or opened (QuorumCnxManager, Learner); established
connections keep theirs. zkserver checks the files' modification time and length at each
new handshake instead.

Each node has its own store files (PEM, replaced atomically). Nodes 1 and 2 keep running:
1. all on CA "old"; the ensemble forms and serves.
2. 1 and 2 now trust old + new; node 3 restarts with a certificate of CA "new" (trusting
   both) and must rejoin: 1 and 2 accept it only if they read their new trust stores.
3. 1 and 2 switch to a certificate of CA "new" and trust "new" only; node 3 restarts
   trusting only "new" and must rejoin: it accepts 1 and 2 only if they present their new
   certificates, they accept it only with the new trust stores.
Layouts: all Java, and mixed with either side running on the replaced files. The control
(sslQuorumReloadCertFiles=false) shows that node 3 is then kept out at step 2, for a Java
pair and for a zkserver pair.
"""

import os
import time
import uuid

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for
from test_quorum_tls import _ca, _leaf

GENERATIONS = [pytest.param(p, id="%s+%s" % p) for p in zkharness.pairs()]
pytestmark = pytest.mark.skipif(not GENERATIONS, reason="needs a Java and its zkrs pair")
SERVING = ("follower", "leader")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _ca(d, "old")
    _ca(d, "new")
    san = "IP:127.0.0.1,DNS:localhost"
    return {
        "key-old": open(_leaf(d, "old", "node-old", san), "rb").read(),
        "key-new": open(_leaf(d, "new", "node-new", san), "rb").read(),
        "old": (d / "old-ca.pem").read_bytes(),
        "new": (d / "new-ca.pem").read_bytes(),
    }


class ReloadEnsemble(zkharness.Ensemble):
    """Three nodes, each with its own key and trust store files in tmp/tls-<sid>/."""

    def stores(self, sid):
        return self.tmp / ("tls-%d" % sid)

    def node_cfg(self, sid):
        cfg = super().node_cfg(sid)
        d = self.stores(sid)
        cfg.update({
            "ssl.quorum.keyStore.location": str(d / "key.pem"),
            "ssl.quorum.keyStore.type": "PEM",
            "ssl.quorum.trustStore.location": str(d / "trust.pem"),
            "ssl.quorum.trustStore.type": "PEM",
        })
        return cfg

    def put(self, sid, key, trust):
        """Replace node sid's store files (write aside, then rename over: the watcher
        never sees a half-written file)."""
        d = self.stores(sid)
        d.mkdir(parents=True, exist_ok=True)
        for name, body in (("key.pem", key), ("trust.pem", trust)):
            tmp = d / (name + ".tmp")
            tmp.write_bytes(body)
            os.replace(tmp, d / name)


def _serving(ens, sids):
    return all(mode(ens.servers[s]) in SERVING for s in sids)


def _writes_everywhere(ens):
    zks = [s.client(timeout=15) for s in ens.servers.values()]
    try:
        path = "/reload-" + uuid.uuid4().hex[:8]
        zks[0].create(path, b"x")
        for i, zk in enumerate(zks):
            zk.set(path, b"from-%d" % i)
        for zk in zks:
            zk.sync(path)
            assert zk.get(path)[0] == b"from-%d" % (len(zks) - 1)
    finally:
        close_clients(*zks)


def _restart_node3(ens, impl, key, trust):
    ens.servers[3].stop()
    ens.put(3, key, trust)
    ens.start(3, impl)


# layout id -> {sid: "java" | "ours"}; nodes 1 and 2 reload, node 3 restarts.
LAYOUTS = {
    "java123": {1: "java", 2: "java", 3: "java"},
    "java12-ours3": {1: "java", 2: "java", 3: "ours"},
    "ours12-java3": {1: "ours", 2: "ours", 3: "java"},
}


def _impls(gen, layout):
    java, ours = gen
    return {sid: java if r == "java" else ours for sid, r in LAYOUTS[layout].items()}


def _start(tmp_path, pki, impls, reload):
    ens = ReloadEnsemble(tmp_path, extra={
        "sslQuorum": "true", "sslQuorumReloadCertFiles": str(reload).lower()})
    for sid in impls:
        ens.put(sid, pki["key-old"], pki["old"])
    ens.start_all(impls)
    wait_for(lambda: _serving(ens, impls), timeout=60, what="all three serving")
    _writes_everywhere(ens)
    return ens


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_rotate_to_a_new_ca_without_restarting(tmp_path, pki, gen, layout):
    impls = _impls(gen, layout)
    with _start(tmp_path, pki, impls, reload=True) as ens:
        both = pki["old"] + pki["new"]
        for sid in (1, 2):
            ens.put(sid, pki["key-old"], both)
        time.sleep(1)  # Java's watcher thread
        _restart_node3(ens, impls[3], pki["key-new"], both)
        wait_for(lambda: _serving(ens, impls), timeout=60,
                 what="node 3 with a new-CA certificate back in the quorum")
        _writes_everywhere(ens)
        for sid in (1, 2):
            ens.put(sid, pki["key-new"], pki["new"])
        time.sleep(1)
        _restart_node3(ens, impls[3], pki["key-new"], pki["new"])
        wait_for(lambda: _serving(ens, impls), timeout=60,
                 what="node 3 trusting only the new CA back in the quorum")
        _writes_everywhere(ens)
        for srv in ens.servers.values():
            srv.check_alive()


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("layout", ["java12-ours3", "ours12-java3"])
def test_without_reload_the_new_ca_is_refused(tmp_path, pki, gen, layout):
    impls = _impls(gen, layout)
    with _start(tmp_path, pki, impls, reload=False) as ens:
        both = pki["old"] + pki["new"]
        for sid in (1, 2):
            ens.put(sid, pki["key-old"], both)
        time.sleep(1)
        _restart_node3(ens, impls[3], pki["key-new"], both)
        wait_for(lambda: _serving(ens, (1, 2)), timeout=60, what="nodes 1 and 2 serving")
        time.sleep(6)
        assert mode(ens.servers[3]) not in SERVING
        ens.servers[3].check_alive()
        zk = ens.servers[1].client(timeout=15)
        try:
            zk.create("/still-" + uuid.uuid4().hex[:6], b"x")
        finally:
            close_clients(zk)
