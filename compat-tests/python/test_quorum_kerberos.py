"""Quorum SASL with Kerberos (GSSAPI) between ensemble members, against a real MIT KDC (kdc.py).

Every member logs in with the JAAS sections QuorumServer and QuorumLearner, both
Krb5LoginModule with a keytab, and has enableSasl, learnerRequireSasl and serverRequireSasl.
`quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST`: a learner asks for a ticket to
zkquorum/<the peer's host as its server.N line writes it> = zkquorum/127.0.0.1, the principal
every member serves as (one keytab on one machine).

1. Ensembles: all Java, all zkserver, and mixed with either kind leading (node 3 leads),
   for Java 3.8.0 and 3.9.3: elect, replicate writes, identical trees; every
   learner asked the KDC for zkquorum/127.0.0.1 (what Java's _HOST gives for 127.0.0.1 here).
2. Refusals, with nodes 1 (Java) and 2 (zkserver) in quorum and node 3 trying to join as Java
   and as zkserver: a learner whose keytab no longer matches the KDC's key, or whose principal
   the KDC does not know, fails its Kerberos login at startup and exits (Java's
   Krb5LoginModule logs in before the peer starts); a learner with a valid principal whose
   host is not an ensemble host, or with no host part at all, is refused at connect (Java
   3.9.3's authorization; upstream 3.8.0 let a host-less principal in, Debian's
   3.8.0-11+deb12u1 carries the CVE-2023-44981 fix and refuses it, as we do in both compat
   modes); a learner without SASL is refused. A QuorumServer keytab that
   no longer matches stops the start too (Java's Krb5LoginModule is an initiator by default
   and logs in). Node 3 with good credentials then joins.
3. CVE-2023-44981: a stranger claiming a server id on the election port, or sending
   FOLLOWERINFO to the leader, without authenticating, gets nothing but ERROR packets; so
   does one whose first token is not a Kerberos AP-REQ.
4. server.N lines naming `localhost`: _HOST is the configured host name, not the address.
5. Ticket renewal (3.9 pair: Java 3.8.0 cannot log in again sooner than 60 s, 3.9.3 takes
   -Dzookeeper.kerberos.minReLoginTimeMs): learner tickets of 20 s and a KDC clock skew of
   2 s; after 30 s the zkserver leader stops and a zkserver learner, whose startup tickets
   have expired, authenticates to the Java 3.9.3 member that now leads.

Java reads the KDC's krb5.conf from -Djava.security.krb5.conf (kdc.java_props()), zkserver
from KRB5_CONFIG (kdc.env()); both read the JAAS file from -Djava.security.auth.login.config.
"""

import struct
import time
import uuid
from pathlib import Path

import pytest

import kdc as kdcmod
import zkharness
from zkharness import mode, wait_for
from test_ensemble_rolling import _log_text
from test_kerberos import KrbServer
from test_quorum_sasl import (OBSERVER_ID, _bare_followerinfo, _election_stranger,
                              _only_auth_error_packets, _send_and_drain,
                              _writes_through_every_member)

GENERATIONS = [pytest.param(p, id="%s+%s" % p) for p in zkharness.pairs()]
pytestmark = [
    pytest.mark.skipif(kdcmod.available() is not None, reason=str(kdcmod.available())),
    pytest.mark.skipif(not GENERATIONS, reason="needs a Java and its zkrs pair"),
]

SERVICE = "zkquorum/127.0.0.1"
REQUIRED = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
            "quorum.auth.serverRequireSasl": "true",
            "quorum.auth.kerberos.servicePrincipal": "zkquorum/_HOST"}
DONE = "Successfully completed the authentication using SASL"


def _krb5_entry(section, keytab, principal):
    return ("%s {\n  com.sun.security.auth.module.Krb5LoginModule required\n"
            "  useKeyTab=true\n  keyTab=\"%s\"\n  storeKey=true\n  useTicketCache=false\n"
            "  principal=\"%s\";\n};\n" % (section, keytab, principal))


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    with kdcmod.Kdc(tmp_path_factory.mktemp("qkdc")) as k:
        k.keytabs = {name: k.add_principal(name) for name in (
            SERVICE, "zkquorum/localhost", "zkquorum/elsewhere.example", "hostless")}
        # A keytab whose key the KDC has since replaced (kvno 1 in the file, 2 in the KDC).
        k.keytabs["stale"] = k.add_principal("stale/127.0.0.1")
        k._run([kdcmod.KADMIN_LOCAL, "-r", k.realm, "-q",
                "cpw -randkey %s" % k.principal("stale/127.0.0.1")])
        # A keytab for a principal the KDC no longer knows.
        k.keytabs["ghost"] = k.add_principal("ghost/127.0.0.1")
        k._run([kdcmod.KADMIN_LOCAL, "-r", k.realm, "-q",
                "delprinc -force %s" % k.principal("ghost/127.0.0.1")])
        yield k


LEARNERS = {  # variant -> (keytab name, principal); else the ensemble's zkquorum/<host>
    "stale": ("stale", "stale/127.0.0.1"),
    "ghost": ("ghost", "ghost/127.0.0.1"),
    "elsewhere": ("zkquorum/elsewhere.example", "zkquorum/elsewhere.example"),
    "hostless": ("hostless", "hostless"),
    "short": ("short", "short/127.0.0.1"),  # in short_kdc: 20 s tickets
}


class KrbEnsemble(zkharness.Ensemble):
    """Members on `host` (as the server.N lines write it), serving as zkquorum/<host>."""

    def __init__(self, tmp, kdc, host=zkharness.HOST, learner="good", java_props=()):
        self.host = host
        self.default_learner = learner
        self.java_props = list(java_props)
        super().__init__(tmp, extra=REQUIRED)
        self.kdc = kdc
        self.service = "zkquorum/%s" % host
        self.learner = {}   # sid -> LEARNERS variant
        self.server = {}    # sid -> LEARNERS variant of its QuorumServer section
        self.plain = set()  # sids without quorum SASL

    def peer(self, sid):
        return self.host, (zkharness.free_port(), zkharness.free_port(), zkharness.free_port())

    def new_server(self, sid, impl):
        kdc = self.kdc
        good = (self.service, self.service)
        kt_name, principal = LEARNERS.get(self.learner.get(sid, self.default_learner), good)
        skt_name, sprincipal = LEARNERS.get(self.server.get(sid), good)
        jaas = self.tmp / ("jaas-%d-%s.conf" % (sid, uuid.uuid4().hex[:6]))
        jaas.write_text(
            _krb5_entry("QuorumServer", kdc.keytabs[skt_name], kdc.principal(sprincipal)) +
            _krb5_entry("QuorumLearner", kdc.keytabs[kt_name], kdc.principal(principal)))
        cfg = self.node_cfg(sid)
        if sid in self.plain:
            cfg.update({k: None for k in REQUIRED})
        props = ["-Djava.security.auth.login.config=%s" % jaas] + kdc.java_props()
        if zkharness.is_java(impl):
            props += list(self.java_props)
        env = {k: v for k, v in kdc.env().items() if k.startswith("KRB5")}
        return KrbServer(impl, self.workdir(sid), self.ports[sid][0], cfg, props, env, myid=sid)


def _three_serving(ens, timeout=90):
    wait_for(lambda: sorted(mode(s) or "" for s in ens.servers.values()) ==
             ["follower", "follower", "leader"], timeout=timeout,
             what="one leader, two followers")


LAYOUTS = {  # node 3 leads
    "all-java": ("java", "java", "java"),
    "all-ours": ("ours", "ours", "ours"),
    "java-leads-ours": ("ours", "ours", "java"),
    "ours-leads-java": ("java", "java", "ours"),
}


# All-Java and all-zkserver ensembles run in the first pair only (keeps the suite short).
ENSEMBLES = [pytest.param(g.values[0], layout, id="%s+%s-%s" % (g.values[0] + (layout,)))
             for i, g in enumerate(GENERATIONS) for layout in LAYOUTS
             if i == 0 or not layout.startswith("all-")]


@pytest.mark.parametrize("gen,layout", ENSEMBLES)
def test_kerberos_ensemble(tmp_path, kdc, gen, layout):
    java, ours = gen
    impls = {sid: java if r == "java" else ours for sid, r in enumerate(LAYOUTS[layout], 1)}
    with KrbEnsemble(tmp_path, kdc) as ens:
        # Nodes 1 and 3 alone elect 3 (equal zxids, higher id); node 2 then follows it.
        ens.start(3, impls[3])
        ens.start(1, impls[1])
        wait_for(lambda: mode(ens.servers[3]) == "leader", timeout=60, what="node 3 leading")
        ens.start(2, impls[2])
        ens.wait_ready(60)
        _three_serving(ens)
        assert ens.leader() == 3, "node 3 (%s) should lead" % impls[3]
        _writes_through_every_member(ens.servers)
        for sid, srv in ens.servers.items():
            log = _log_text(srv)
            assert DONE in log, "node %d (%s) logged no SASL exchange" % (sid, srv.impl)
        # Java's _HOST for 127.0.0.1 on this machine, and ours: the same service ticket.
        kdc_log = (kdc.dir / "kdc.log").read_text(errors="replace")
        assert "for %s" % kdc.principal(SERVICE) in kdc_log
        assert "zkquorum/localhost@" not in kdc_log


@pytest.mark.parametrize("gen", GENERATIONS)
def test_host_pattern_with_host_names(tmp_path, kdc, gen):
    """server.N lines naming `localhost`: _HOST becomes localhost (not the address), and
    the members accept zkquorum/localhost as an ensemble host's principal."""
    java, ours = gen
    with KrbEnsemble(tmp_path, kdc, host="localhost") as ens:
        ens.start_all({1: java, 2: ours, 3: ours})
        _three_serving(ens)
        _writes_through_every_member(ens.servers)
    assert "for %s" % kdc.principal("zkquorum/localhost") in \
        (kdc.dir / "kdc.log").read_text(errors="replace")


REFUSAL = "Failed to authenticate using SASL"


@pytest.fixture(scope="module")
def short_kdc(tmp_path_factory):
    """A KDC whose learner tickets last 20 s, with a 2 s clock skew."""
    with kdcmod.Kdc(tmp_path_factory.mktemp("qkdc-short"), clockskew_s=2) as k:
        k.keytabs = {SERVICE: k.add_principal(SERVICE),
                     "short": k.add_principal("short/127.0.0.1", max_life="20s")}
        yield k


@pytest.mark.timeout(300)
@pytest.mark.parametrize("gen", [g for g in GENERATIONS if g.values[0][0] == "java39"])
def test_expired_learner_tickets_are_renewed(tmp_path, short_kdc, gen):
    java, ours = gen
    impls = {1: ours, 2: java, 3: ours}
    with KrbEnsemble(tmp_path, short_kdc, learner="short",
                     java_props=["-Dzookeeper.kerberos.minReLoginTimeMs=2000"]) as ens:
        ens.start(3, impls[3])
        ens.start(1, impls[1])
        wait_for(lambda: mode(ens.servers[3]) == "leader", timeout=60, what="node 3 leading")
        ens.start(2, impls[2])
        _three_serving(ens)
        time.sleep(30)  # every ticket obtained at startup has expired
        ens.servers[3].stop()
        wait_for(lambda: (mode(ens.servers[2]), mode(ens.servers[1])) ==
                 ("leader", "follower"), timeout=60,
                 what="zkserver node 1 following Java node 2 with renewed tickets")
        ens.start(3, impls[3])
        _three_serving(ens)
        _writes_through_every_member(ens.servers)


def _refusals(ens, sids=(1, 2)):
    return {s: _log_text(ens.servers[s]).count(REFUSAL) for s in sids}


def _refused(ens, sid, outcome, before):
    """Node `sid` never joins; `outcome` "exits" (login failed at startup) or "refused" (both
    members logged a new refusal since `before`, and it is not serving)."""
    srv = ens.servers[sid]
    if outcome == "exits":
        wait_for(lambda: srv.proc.poll() is not None, timeout=120,
                 what="node %d (%s) exiting on its failed login" % (sid, srv.impl))
        assert srv.proc.returncode != 0
        return
    wait_for(lambda: all(n > before[s] for s, n in _refusals(ens).items()), timeout=120,
             what="nodes 1 and 2 refusing node %d (%s)" % (sid, srv.impl))
    time.sleep(1)
    srv.check_alive()
    assert mode(srv) not in ("follower", "leader"), "node %d (%s) joined" % (sid, srv.impl)
    for o in (1, 2):
        assert mode(ens.servers[o]) in ("follower", "leader")


# Twelve starts of node 3: a JVM can take a minute to start on a loaded 2-core machine.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("gen", GENERATIONS)
def test_refused_learners_and_strangers(tmp_path, kdc, gen):
    java, ours = gen
    cases = [("stale", "exits"), ("ghost", "exits"), ("stale-server", "exits"),
             ("elsewhere", "refused"), ("hostless", "refused"), ("plain", "refused")]
    with KrbEnsemble(tmp_path, kdc) as ens:
        ens.start(2, ours)
        ens.start(1, java)
        ens.servers[1].wait_ready(60)
        ens.servers[2].wait_ready(60)
        wait_for(lambda: sorted(mode(ens.servers[s]) or "" for s in (1, 2)) ==
                 ["follower", "leader"], timeout=60, what="nodes 1 and 2 in quorum")
        for case, outcome in cases:
            for impl in (java, ours):
                ens.learner.pop(3, None)
                ens.server.pop(3, None)
                ens.plain.discard(3)
                if case == "plain":
                    ens.plain.add(3)
                elif case == "stale-server":
                    ens.server[3] = "stale"
                else:
                    ens.learner[3] = case
                before = _refusals(ens)
                ens.start(3, impl)
                try:
                    _refused(ens, 3, outcome, before)
                finally:
                    ens.servers[3].stop()
                print("\n%s learner as %s: %s" % (case, impl, outcome))
        _writes_through_every_member({s: ens.servers[s] for s in (1, 2)})
        # Good credentials: node 3 joins.
        ens.learner.pop(3, None)
        ens.plain.discard(3)
        ens.start(3, ours)
        _three_serving(ens)
        # CVE-2023-44981: no id claimed on the election port gets past authentication.
        for sid, srv in ens.servers.items():
            _, _, eport = ens.ports[sid]
            for claimed in (99, OBSERVER_ID, 1, 3, sid):
                got = _election_stranger(eport, claimed)
                assert _only_auth_error_packets(got), (sid, srv.impl, claimed, got[:32])
        # A stranger that starts the exchange with a token that is no AP-REQ.
        magic = struct.pack(">q", 0x5F2435013501EDCC)
        junk = magic + struct.pack(">ii", 0, 12) + b"not-an-ap-req"[:12]
        for sid, srv in ens.servers.items():
            _, _, eport = ens.ports[sid]
            hello = struct.pack(">qqi", -65536, 99, 11) + b"127.0.0.1:1"
            got = _send_and_drain(eport, hello + junk)
            assert got and _only_auth_error_packets(got), (sid, srv.impl, got[:32])
            srv.check_alive()
        _, qport, _ = ens.ports[ens.leader()]
        got = _send_and_drain(qport, _bare_followerinfo())
        assert _only_auth_error_packets(got), got[:32]
        _three_serving(ens)
        _writes_through_every_member(ens.servers)
