"""Apache Curator over TLS (x509) and over SASL DIGEST-MD5, against every server.

One server per implementation serves a TLS-only secureClientPort (PEM stores, x509
provider) and the plaintext clientPort, with SASL (a JAAS Server section) on both.
compat-tests/java/CuratorTls.java, compiled against the client generation of the server
(as test_curator.py: Debian's Curator 5.4 + ZooKeeper 3.8 client, or Curator 5.7.1 + the
3.9.3 client), runs create / get / set / a data watch / an ephemeral node / an
InterProcessMutex, then checks that an `auth` ACL expands to exactly the expected ids and
that a node whose ACL names one of them is usable. Variants, as an application configures
them with system properties:
- tls-jks: zookeeper.client.secure + ClientCnxnSocketNetty, JKS key and trust stores
  (written by keytool): the session is `x509:CN=alice,O=zk`.
- tls-pkcs12+sasl: the same with PKCS12 stores (openssl / keytool), plus a JAAS Client
  section: `x509:CN=alice,O=zk` and `sasl:bob`.
- sasl: the plaintext port with the JAAS Client section: `sasl:bob`.
Afterwards an anonymous kazoo client is refused (NoAuth) on each identity's node.
"""

from __future__ import annotations

import subprocess

import pytest
from kazoo.exceptions import NoAuthError

import test_curator
import zkharness
from test_sasl import sasl_cfg
from test_tls import ALICE, certs, tls_cfg  # noqa: F401 -- certs is a fixture

PW = "cl1ent-pw"
CLIENT_JAAS = """Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="bobsecret";
};
"""
X509_ID = "x509:" + ALICE[1]
SASL_ID = "sasl:bob"
# Debian's zookeeper.jar manifest names netty-handler and netty-transport but not the codec
# (SslHandler's parent) nor the resolver that the Netty client socket needs.
DEBIAN_NETTY_EXTRA = ["/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar"]

VARIANTS = {
    "tls-jks": ("jks", False, [X509_ID]),
    "tls-pkcs12+sasl": ("p12", True, [X509_ID, SASL_ID]),
    "sasl": (None, True, [SASL_ID]),
}


def _run(d, *args):
    subprocess.run(list(args), cwd=d, check=True, capture_output=True)


@pytest.fixture(scope="module")
def client_stores(certs):  # noqa: F811
    """alice's key and the CA in JKS and PKCS12 stores, beside the PEM files of `certs`."""
    d = certs
    if not (d / "alice.jks").exists():
        _run(d, "openssl", "pkcs12", "-export", "-inkey", "alice.key", "-in", "alice.crt",
             "-certfile", "a-ca.pem", "-name", "alice", "-out", "alice.p12",
             "-passout", "pass:" + PW)
        _run(d, "keytool", "-importkeystore", "-noprompt", "-srckeystore", "alice.p12",
             "-srcstoretype", "PKCS12", "-srcstorepass", PW, "-destkeystore", "alice.jks",
             "-deststoretype", "JKS", "-deststorepass", PW)
        for ext, ty in (("jks", "JKS"), ("p12", "PKCS12")):
            _run(d, "keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "a-ca.pem",
                 "-keystore", "client-trust." + ext, "-storetype", ty, "-storepass", PW)
    (d / "client-jaas.conf").write_text(CLIENT_JAAS)
    return d


def classpath(impl):
    jars = [str(p) for p in test_curator.client_classpath(impl)]
    return jars if zkharness.at_least(impl, 3, 9) else jars + DEBIAN_NETTY_EXTRA


_compiled = {}


def compiled(impl, tmp_path_factory):
    generation = zkharness.version(impl)[:2]
    if generation not in _compiled:
        out = tmp_path_factory.mktemp("curator-tls-classes")
        proc = subprocess.run(
            [test_curator.JAVAC, "-nowarn", "-encoding", "UTF-8", "-cp", ":".join(classpath(impl)),
             "-d", str(out), str(test_curator.JAVA_DIR / "CuratorTls.java")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if proc.returncode != 0:
            pytest.fail("javac failed:\n%s" % proc.stdout, pytrace=False)
        _compiled[generation] = out
    return _compiled[generation]


@pytest.fixture(scope="module")
def secured(impl, tmp_path_factory, certs):  # noqa: F811
    """(server, secure port): TLS on the secure port, SASL on both ports."""
    tmp = tmp_path_factory.mktemp("curator-tls-%s" % impl)
    secure = zkharness.free_port()
    cfg = tls_cfg(certs, secure)
    cfg.update(sasl_cfg(tmp))
    server = zkharness.start_server(impl, tmp, cfg)
    yield server, secure
    server.stop()


def security_props(d, store, sasl):
    props = []
    if store:
        ty = {"jks": "JKS", "p12": "PKCS12"}[store]
        props += [
            "-Dzookeeper.client.secure=true",
            "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
            "-Dzookeeper.ssl.keyStore.location=%s" % (d / ("alice." + store)),
            "-Dzookeeper.ssl.keyStore.password=" + PW,
            "-Dzookeeper.ssl.keyStore.type=" + ty,
            "-Dzookeeper.ssl.trustStore.location=%s" % (d / ("client-trust." + store)),
            "-Dzookeeper.ssl.trustStore.password=" + PW,
            "-Dzookeeper.ssl.trustStore.type=" + ty,
        ]
    if sasl:
        props.append("-Djava.security.auth.login.config=%s" % (d / "client-jaas.conf"))
    else:
        props.append("-Dzookeeper.sasl.client=false")
    return props


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_curator_secured(secured, impl, variant, client_stores, tmp_path_factory):
    server, secure = secured
    store, sasl, ids = VARIANTS[variant]
    port = secure if store else server.port
    base = "/curator-" + variant.replace("+", "-")
    cmd = ([test_curator.JAVA, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
            "-cp", ":".join([str(compiled(impl, tmp_path_factory))] + classpath(impl))]
           + security_props(client_stores, store, sasl)
           + ["CuratorTls", "127.0.0.1:%d" % port, base] + ids)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    out = proc.stdout
    total = 6 + len(ids)
    assert "DONE %d/%d" % (total, total) in out and proc.returncode == 0, out[-4000:]
    assert "IDS " + " | ".join(sorted(ids)) in out, out[-2000:]
    anon = server.client()
    try:
        for scheme in sorted(i.split(":")[0] for i in ids):
            with pytest.raises(NoAuthError):
                anon.get(base + "/only-" + scheme)
        with pytest.raises(NoAuthError):
            anon.get(base + "/auth")
        assert anon.get(base + "/n")[0] == b"v3"
    finally:
        zkharness.close_clients(anon)
