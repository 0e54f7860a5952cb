"""TLS on the quorum ports (sslQuorum, portUnification, ssl.quorum.*) in ensembles of Java and
zkserver nodes.

1. Three-node ensembles over TLS in every mix (all zkserver; two Java + one zkserver; one Java +
   two zkserver), with the leader on each side: a writer through every member, identical trees,
   then the leader killed and a new one elected over TLS, writes going on.
2. Java's documented rolling switch of a running plaintext ensemble to TLS (admin guide,
   "Upgrading existing non-TLS cluster with no downtime"): (1) ssl.quorum.* and
   portUnification=true, rolling restart; (2) sslQuorum=true, rolling restart; (3)
   portUnification=false, rolling restart; a writer runs throughout and no acknowledged write
   is lost.
3. Bad input: plaintext and garbage TLS to the election and quorum ports of a TLS-only member
   (Java: "Blocked insecure connection attempt", the connection closed, quorum kept); a
   member whose certificate the others do not trust is kept out while the rest serve; a
   member whose certificate names another address is refused when hostname verification is on.

Certificates are made at test time with openssl into the test's tmp dir (an EC CA, one node
certificate for 127.0.0.1 shared by every node, a rogue CA's and a wrong-host certificate), as
PEM stores, which Java 3.8 and 3.9 read with ssl.quorum.keyStore.type=PEM.

Generations are not mixed: 3.8 runs java + zkrs (TLSv1.2 by default), 3.9 java39 + zkrs39
(TLSv1.3 by default).
"""

import re
import socket
import struct
import subprocess
import time
import uuid

import pytest

import zkharness
from zkharness import close_clients, mode, wait_for
from test_ensemble_rolling import Writer, _check_no_loss_same_trees, _log_text

GENERATIONS = [pytest.param(p, id="%s+%s" % p) for p in zkharness.pairs()]
pytestmark = pytest.mark.skipif(not GENERATIONS, reason="needs a Java and its zkrs pair")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d, name):
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + "-ca.key",
             cwd=d)
    _openssl("req", "-x509", "-new", "-key", name + "-ca.key", "-days", "2", "-subj",
             "/CN=%s test CA" % name, "-out", name + "-ca.pem", cwd=d)


def _leaf(d, ca, name, san):
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".ec", cwd=d)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", name + ".ec", "-out", name + ".key", cwd=d)
    _openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=%s" % name, "-out",
             name + ".csr", cwd=d)
    (d / (name + ".ext")).write_text(
        "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" % san)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + "-ca.pem", "-CAkey",
             ca + "-ca.key", "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
             "-out", name + ".crt", cwd=d)
    # A PEM key store: the private key and the certificate in one file.
    (d / (name + ".pem")).write_text((d / (name + ".key")).read_text() +
                                     (d / (name + ".crt")).read_text())
    return str(d / (name + ".pem"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _ca(d, "good")
    _ca(d, "rogue")
    return {
        "ca": str(d / "good-ca.pem"),
        "node": _leaf(d, "good", "node", "IP:127.0.0.1,DNS:localhost"),
        "rogue": _leaf(d, "rogue", "rogue", "IP:127.0.0.1,DNS:localhost"),
        "wronghost": _leaf(d, "good", "wronghost", "IP:10.11.12.13"),
    }


def stores(pki, key="node"):
    """The ssl.quorum.* keys of a node presenting `key`, trusting the good CA."""
    return {
        "ssl.quorum.keyStore.location": pki[key],
        "ssl.quorum.keyStore.type": "PEM",
        "ssl.quorum.trustStore.location": pki["ca"],
        "ssl.quorum.trustStore.type": "PEM",
    }


def tls_cfg(pki, key="node"):
    return dict(stores(pki, key), sslQuorum="true")


TLS_LOG = re.compile(r"SSL handshake complete with|Accepted TLS connection from")


def _start_with_leader(ens, impls, leader_sid):
    """Start `impls` ({sid: impl}) so that leader_sid (the highest sid) leads: it starts first
    and the others once its first election has begun."""
    ens.start(leader_sid, impls[leader_sid])
    started = re.compile(r"New election\. My id = %d|new election my_sid=%d" % (
        leader_sid, leader_sid))
    wait_for(lambda: started.search(_log_text(ens.servers[leader_sid])), timeout=60,
             what="node %d's first election" % leader_sid)
    for sid in sorted(impls):
        if sid != leader_sid:
            ens.start(sid, impls[sid])
    ens.wait_ready()
    three = ["follower", "follower", "leader"]
    wait_for(lambda: sorted(mode(s) for s in ens.servers.values()) == three, timeout=60,
             what="one leader, two followers")
    other = ens.leader()
    if other != leader_sid:
        # The two others elected each other before this one's first TLS handshakes were
        # through (a JVM's first handshake is slow): without the other leader, the highest
        # sid (equal zxids) wins; the other comes back as a follower.
        ens.servers[other].kill()
        wait_for(lambda: ens.leader() == leader_sid, timeout=60,
                 what="node %d leading" % leader_sid)
        ens.start(other, impls[other], wait=True)
        wait_for(lambda: sorted(mode(s) for s in ens.servers.values()) == three, timeout=60,
                 what="one leader, two followers again")
    assert ens.leader() == leader_sid


def _writes_through_every_member(ens):
    zks = {sid: s.client(timeout=15) for sid, s in ens.servers.items() if s.running}
    try:
        base = "/tls-" + uuid.uuid4().hex[:8]
        first = next(iter(zks.values()))
        first.create(base, b"root")
        for sid, zk in zks.items():
            for k in range(3):
                zk.create(base + "/n%d-%d" % (sid, k), b"from-%d" % sid)
            zk.set(base + "/n%d-0" % sid, b"changed-%d" % sid)
        trees = {}
        for sid, zk in zks.items():
            zk.sync(base)
            children = sorted(zk.get_children(base))
            trees[sid] = {p: zk.get(p) for p in [base] + [base + "/" + c for c in children]}
        values = list(trees.values())
        assert all(t == values[0] for t in values), "trees differ between members"
        assert len(values[0]) == 1 + 3 * len(zks)
        return len(values[0])
    finally:
        close_clients(*zks.values())


# layout id -> ({sid: "java" | "ours"}, the sid that leads)
LAYOUTS = {
    "ours123": ({1: "ours", 2: "ours", 3: "ours"}, 3),
    "java12-ours3-ours-leads": ({1: "java", 2: "java", 3: "ours"}, 3),
    "ours1-java23-java-leads": ({1: "ours", 2: "java", 3: "java"}, 3),
    "java1-ours23-ours-leads": ({1: "java", 2: "ours", 3: "ours"}, 3),
    "ours12-java3-java-leads": ({1: "ours", 2: "ours", 3: "java"}, 3),
}


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_tls_ensemble(tmp_path, pki, gen, layout):
    java, ours = gen
    roles, leader_sid = LAYOUTS[layout]
    impls = {sid: java if r == "java" else ours for sid, r in roles.items()}
    with zkharness.Ensemble(tmp_path, extra=tls_cfg(pki)) as ens:
        _start_with_leader(ens, impls, leader_sid)
        nodes = _writes_through_every_member(ens)
        # Every member did its quorum handshakes over TLS (sslQuorum without portUnification
        # refuses plaintext, so the ensemble could not have formed otherwise).
        for sid, srv in ens.servers.items():
            assert TLS_LOG.search(_log_text(srv)), "node %d (%s) logged no TLS handshake" % (
                sid, srv.impl)
        # Kill the leader: the two others elect a new one over TLS and serve writes.
        ens.servers[leader_sid].kill()
        wait_for(lambda: ens.leader() not in (None, leader_sid), timeout=60,
                 what="a new leader among the others")
        wait_for(lambda: sorted(mode(s) for sid, s in ens.servers.items()
                                if sid != leader_sid) == ["follower", "leader"],
                 timeout=60, what="a leader and a follower")
        del ens.servers[leader_sid]
        after = _writes_through_every_member(ens)
        print("\nquorum TLS %s (%s): %d znodes identical on 3 members; after killing leader "
              "%d, %d identical on 2" % (layout, impls, nodes, leader_sid, after))


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("layout", ["java-ours-java", "ours-java-ours"])
def test_rolling_switch_to_tls(tmp_path, pki, gen, layout):
    """Java's admin guide procedure, with zkserver nodes among the Java nodes."""
    java, ours = gen
    impls = {sid: java if r == "java" else ours
             for sid, r in enumerate(layout.split("-"), 1)}
    with zkharness.Ensemble(tmp_path) as ens:
        ens.start_all(impls)
        wait_for(lambda: ens.leader() is not None, timeout=60, what="a leader")
        root = "/switch-" + uuid.uuid4().hex[:8]
        writer = Writer(ens.connect_string, root)
        writer.start()
        steps = [
            dict(stores(pki), portUnification="true"),
            dict(stores(pki), portUnification="true", sslQuorum="true"),
            dict(stores(pki), portUnification="false", sslQuorum="true"),
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
        modes = sorted(mode(s) for s in ens.servers.values())
        assert modes == ["follower", "follower", "leader"], modes
        for sid, srv in ens.servers.items():
            assert TLS_LOG.search(_log_text(srv)), "node %d spoke no TLS" % sid
        nodes = _check_no_loss_same_trees(ens, writer, root)
        print("\nrolling switch to TLS (%s): %d acked writes (%d failed attempts %s), %d znodes "
              "identical" % (impls, len(writer.acked), writer.failures, writer.errors, nodes))


def _closed_without_answer(port, payload, timeout=10.0):
    """Sends payload to 127.0.0.1:port; True when the peer closes (or resets) without sending
    a byte back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            return True
        return data == b""
    finally:
        s.close()


def _answer_until_closed(port, payload, timeout=10.0):
    """Sends payload to 127.0.0.1:port and returns every byte sent back until the peer
    closes (a reset counts as closed); a timeout (still open) fails the test."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        s.sendall(payload)
        while True:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                return got
            if not data:
                return got
            got += data
    finally:
        s.close()


def _tls_alert_or_nothing(answer):
    """What a TLS server may send before closing on a bad handshake: nothing, or alert
    records (content type 21)."""
    return answer == b"" or answer[0] == 21


def _plain_election_hello(sid):
    addr = b"127.0.0.1:1"
    hello = struct.pack(">qqi", -65536, sid, len(addr)) + addr
    note = struct.pack(">iqqqqi", 0, sid, 0, 0, 0, 1)
    return hello + struct.pack(">i", len(note)) + note


@pytest.mark.parametrize("gen", GENERATIONS)
def test_plaintext_and_garbage_to_tls_ports(tmp_path, pki, gen):
    java, ours = gen
    impls = {1: java, 2: ours, 3: ours}
    with zkharness.Ensemble(tmp_path, extra=tls_cfg(pki)) as ens:
        _start_with_leader(ens, impls, 3)
        garbage_tls = b"\x16\x03\x01\x00\x30" + bytes(range(48))
        for sid, srv in ens.servers.items():
            _, qport, eport = ens.ports[sid]
            # A plaintext initial message from a would-be member with a high id.
            assert _closed_without_answer(eport, _plain_election_hello(99)), (sid, srv.impl)
            # A TLS record header followed by bytes that are no ClientHello: closed, at most
            # after an alert.
            answer = _answer_until_closed(eport, garbage_tls)
            assert _tls_alert_or_nothing(answer), (sid, srv.impl, answer[:16])
        leader = ens.leader()
        _, qport, _ = ens.ports[leader]
        # A plaintext FOLLOWERINFO-sized frame to the leader's quorum port.
        assert _closed_without_answer(qport, struct.pack(">ii", 40, 11) + bytes(36))
        assert _tls_alert_or_nothing(_answer_until_closed(qport, garbage_tls))
        for sid, srv in ens.servers.items():
            srv.check_alive()
            assert "Blocked insecure connection attempt" in _log_text(srv), (sid, srv.impl)
        assert sorted(mode(s) for s in ens.servers.values()) == ["follower", "follower",
                                                                  "leader"]
        _writes_through_every_member(ens)


@pytest.mark.parametrize("gen", GENERATIONS)
@pytest.mark.parametrize("outsider", ["java", "ours"])
@pytest.mark.parametrize("cert", ["rogue", "wronghost"])
def test_member_with_a_bad_certificate_is_kept_out(tmp_path, pki, gen, outsider, cert):
    """Node 3 presents a certificate of an untrusted CA, or one for another address: the
    other two (one Java, one zkserver) form a quorum without it and it never serves.
    Except Java 3.9's FIPS mode (its default, zookeeper.fips-mode=true): the JDK's trust
    manager checks no host names on the quorum, so the wrong-host member joins."""
    java, ours = gen
    if cert == "wronghost" and zkharness.at_least(java, 3, 9):
        impls = {1: java, 2: ours, 3: java if outsider == "java" else ours}
        with zkharness.Ensemble(tmp_path, extra=tls_cfg(pki)) as ens:
            for sid in (1, 2, 3):
                ens.servers[sid] = ens.new_server(sid, impls[sid])
                if sid == 3:
                    ens.servers[3].extra_cfg.update(stores(pki, cert))
                    ens.servers[3]._write_config()
                ens.servers[sid].start(wait=False)
            ens.wait_ready()
            wait_for(lambda: sorted(mode(s) for s in ens.servers.values()) ==
                     ["follower", "follower", "leader"], timeout=60, what="all three serving")
        return
    impls = {1: java, 2: ours, 3: java if outsider == "java" else ours}
    with zkharness.Ensemble(tmp_path, extra=tls_cfg(pki)) as ens:
        ens.start(1, impls[1])
        ens.start(2, impls[2])
        ens.servers[3] = ens.new_server(3, impls[3])
        ens.servers[3].extra_cfg.update(stores(pki, cert))
        ens.servers[3]._write_config()
        ens.servers[3].start(wait=False)
        ens.servers[1].wait_ready(60)
        ens.servers[2].wait_ready(60)
        wait_for(lambda: sorted(mode(ens.servers[s]) or "" for s in (1, 2)) ==
                 ["follower", "leader"], timeout=60, what="nodes 1 and 2 in quorum")
        time.sleep(3)
        assert mode(ens.servers[3]) not in ("follower", "leader")
        ens.servers[3].check_alive()
        zk = ens.servers[1].client(timeout=15)
        try:
            zk.create("/kept-out-" + uuid.uuid4().hex[:6], b"x")
        finally:
            close_clients(zk)
