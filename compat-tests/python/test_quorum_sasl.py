"""Quorum SASL (quorum.auth.*, DIGEST-MD5 against the JAAS QuorumServer / QuorumLearner
sections) in ensembles of Java and zkserver nodes.

1. A mixed ensemble with enableSasl, learnerRequireSasl and serverRequireSasl: it forms, every
   member serves writes, identical trees, and every member logged a completed SASL exchange.
2. A member whose QuorumLearner password is wrong (as Java and as zkserver) is refused by the
   others, Java and zkserver alike; the two others keep their quorum and serve.
3. CVE-2023-44981 regression: a stranger that claims a server id (a member's, a higher one,
   the observer id, one not in the view) on the election port, or sends FOLLOWERINFO to the
   leader's quorum port, without authenticating, is closed and never answered by a member
   with serverRequireSasl.
4. Java's rolling enablement (admin guide: enableSasl, then learnerRequireSasl, then
   serverRequireSasl, one rolling restart each) with a writer running: no acknowledged write
   lost.

The JAAS file is the system property java.security.auth.login.config: -D for Java, and
zkserver's `-D` command line argument (launch.rs), as Java's zkServer.sh would pass it.
"""

import re
import socket
import struct
import time
import uuid

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for
from test_ensemble_rolling import Writer, _check_no_loss_same_trees, _log_text

GENERATIONS = [pytest.param(p, id="%s+%s" % p) for p in zkharness.pairs()]
pytestmark = pytest.mark.skipif(not GENERATIONS, reason="needs a Java and its zkrs pair")

JAAS = """
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_test="mypassword";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="test"
       password="%s";
};
"""

REQUIRED = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
            "quorum.auth.serverRequireSasl": "true"}
DONE = re.compile(r"Successfully completed the authentication using SASL")


class SaslServer(zkharness.Server):
    """A server started with -Djava.security.auth.login.config=<jaas>."""

    jaas = None

    def _command(self):
        cmd = super()._command()
        prop = "-Djava.security.auth.login.config=%s" % self.jaas
        if zkharness.is_java(self.impl):
            return cmd[:-2] + [prop] + cmd[-2:]
        return cmd[:1] + [prop] + cmd[1:]


class SaslEnsemble(zkharness.Ensemble):
    def __init__(self, tmp, extra, passwords=None):
        super().__init__(tmp, extra=extra)
        self.passwords = dict(passwords or {})

    def new_server(self, sid, impl):
        jaas = self.tmp / ("jaas-%d.conf" % sid)
        jaas.write_text(JAAS % self.passwords.get(sid, "mypassword"))
        srv = SaslServer(impl, self.workdir(sid), self.ports[sid][0], self.node_cfg(sid),
                         myid=sid)
        srv.jaas = jaas
        return srv


def _writes_through_every_member(servers):
    zks = {sid: s.client(timeout=15) for sid, s in servers.items()}
    try:
        base = "/sasl-" + uuid.uuid4().hex[:8]
        next(iter(zks.values())).create(base, b"root")
        for sid, zk in zks.items():
            for k in range(3):
                zk.create(base + "/n%d-%d" % (sid, k), b"from-%d" % sid)
        trees = {}
        for sid, zk in zks.items():
            zk.sync(base)
            children = sorted(zk.get_children(base))
            trees[sid] = {p: zk.get(p) for p in [base] + [base + "/" + c for c in children]}
        values = list(trees.values())
        assert all(t == values[0] for t in values), "trees differ"
        assert len(values[0]) == 1 + 3 * len(zks)
    finally:
        close_clients(*zks.values())


def _three_serving(ens):
    wait_for(lambda: sorted(mode(s) for s in ens.servers.values()) ==
             ["follower", "follower", "leader"], timeout=90, what="one leader, two followers")


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("layout", ["java-ours-ours", "ours-java-java"])
def test_sasl_ensemble(tmp_path, gen, layout):
    java, ours = gen
    impls = {sid: java if r == "java" else ours for sid, r in enumerate(layout.split("-"), 1)}
    with SaslEnsemble(tmp_path, REQUIRED) as ens:
        ens.start_all(impls)
        _three_serving(ens)
        _writes_through_every_member(ens.servers)
        for sid, srv in ens.servers.items():
            assert DONE.search(_log_text(srv)), "node %d (%s) logged no SASL exchange" % (
                sid, srv.impl)
        print("\nquorum SASL %s: leader %d (%s)" % (layout, ens.leader(),
                                                   ens.servers[ens.leader()].impl))


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("outsider", ["java", "ours"])
def test_wrong_password_is_refused(tmp_path, gen, outsider):
    """Node 3 learns with a wrong password; nodes 1 (Java) and 2 (zkserver) refuse it."""
    java, ours = gen
    impls = {1: java, 2: ours, 3: java if outsider == "java" else ours}
    with SaslEnsemble(tmp_path, REQUIRED, passwords={3: "wrong"}) as ens:
        for sid in (1, 2, 3):
            ens.start(sid, impls[sid])
        ens.servers[1].wait_ready(60)
        ens.servers[2].wait_ready(60)
        wait_for(lambda: sorted(mode(ens.servers[s]) or "" for s in (1, 2)) ==
                 ["follower", "leader"], timeout=60, what="nodes 1 and 2 in quorum")
        time.sleep(4)
        assert mode(ens.servers[3]) not in ("follower", "leader")
        ens.servers[3].check_alive()
        _writes_through_every_member({s: ens.servers[s] for s in (1, 2)})
        # Both refused node 3's exchanges (Java: "Failed to authenticate using SASL").
        for sid in (1, 2):
            assert "Failed to authenticate using SASL" in _log_text(ens.servers[sid]), sid


OBSERVER_ID = (1 << 63) - 1


def _send_and_drain(port, payload, timeout=8.0):
    """Connect to 127.0.0.1:`port`, send `payload`, and return every byte received until the
    server closes the connection or `timeout` passes."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                break
            if not data:
                break
            got += data
    return got


def _bare_followerinfo(sid=99):
    """A framed FOLLOWERINFO (type 11) from `sid` that no authentication preceded."""
    learner_info = struct.pack(">qiq", sid, 0x10000, 0)
    info = struct.pack(">iqi", 11, 0, len(learner_info)) + learner_info + struct.pack(">i", -1)
    return struct.pack(">i", len(info)) + info


def _election_stranger(port, sid, timeout=8.0):
    """Connect to an election port as `sid` without authenticating: initial message, then a
    LOOKING notification. Returns the bytes received before the close (or the timeout)."""
    addr = b"127.0.0.1:1"
    hello = struct.pack(">qqi", -65536, sid, len(addr)) + addr
    note = struct.pack(">iqqqqi", 0, sid, 0, 1, 0, 1)
    return _send_and_drain(port, hello + struct.pack(">i", len(note)) + note, timeout)


def _only_auth_error_packets(data):
    """True when `data` holds nothing but QuorumAuthPackets with status ERROR (what a server
    may send before closing), i.e. no election notification."""
    magic = struct.pack(">q", 0x5F2435013501EDCC)
    while data:
        if len(data) < 16 or data[:8] != magic:
            return False
        status, length = struct.unpack(">ii", data[8:16])
        if status != -1:
            return False
        data = data[16 + max(length, 0):]
    return True


@pytest.mark.parametrize("gen", GENERATIONS)
def test_unauthenticated_strangers_are_refused(tmp_path, gen):
    java, ours = gen
    impls = {1: java, 2: ours, 3: ours}
    with SaslEnsemble(tmp_path, REQUIRED) as ens:
        ens.start_all(impls)
        _three_serving(ens)
        for sid, srv in ens.servers.items():
            _, qport, eport = ens.ports[sid]
            for claimed in (99, OBSERVER_ID, 1, 3, sid):
                got = _election_stranger(eport, claimed)
                assert _only_auth_error_packets(got), (sid, srv.impl, claimed, got[:32])
        leader = ens.leader()
        _, qport, _ = ens.ports[leader]
        # FOLLOWERINFO (type 11) without authenticating: no LEADERINFO comes back.
        got = _send_and_drain(qport, _bare_followerinfo())
        assert _only_auth_error_packets(got), got[:32]
        for srv in ens.servers.values():
            srv.check_alive()
        _three_serving(ens)
        _writes_through_every_member(ens.servers)


@pytest.mark.parametrize("gen", GENERATIONS)
def test_rolling_enablement(tmp_path, gen):
    """Java's admin guide: enableSasl, then learnerRequireSasl, then serverRequireSasl,
    each with a rolling restart, under a writer."""
    java, ours = gen
    impls = {1: java, 2: ours, 3: java}
    with SaslEnsemble(tmp_path, {}) as ens:
        ens.start_all(impls)
        _three_serving(ens)
        root = "/sasl-roll-" + uuid.uuid4().hex[:8]
        writer = Writer(ens.connect_string, root)
        writer.start()
        steps = [
            {"quorum.auth.enableSasl": "true"},
            {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true"},
            REQUIRED,
        ]
        try:
            wait_for(lambda: len(writer.acked) > 50, what="writes before the switch")
            for step, extra in enumerate(steps, 1):
                ens.base.update(extra)
                for sid in (1, 2, 3):
                    before = len(writer.acked)
                    ens.servers[sid].stop()
                    srv = ens.start(sid, impls[sid])
                    wait_for(lambda: mode(srv) in ("follower", "leader"), timeout=90,
                             what="step %d: node %d (%s) serving" % (step, sid, srv.impl))
                    wait_for(lambda b=before: len(writer.acked) > b + 20, timeout=60,
                             what="step %d: writes after restarting node %d" % (step, sid))
            time.sleep(1)
        finally:
            writer.finish()
        _three_serving(ens)
        for sid, srv in ens.servers.items():
            assert DONE.search(_log_text(srv)), "node %d authenticated nothing" % sid
        nodes = _check_no_loss_same_trees(ens, writer, root)
        print("\nrolling SASL enablement (%s): %d acked writes (%d failed attempts), %d znodes"
              % (impls, len(writer.acked), writer.failures, nodes))
