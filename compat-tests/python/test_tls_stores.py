"""TLS key and trust stores in the formats operators have, against Java 3.8.0 / 3.9.3 and zkserver.

The same certificates in a JKS key store and trust store written by Java 17's keytool, a
PKCS12 key store written by openssl with a PKCS12 trust store written by keytool
(-importcert marks the CA trusted), and a PEM key store whose key is encrypted with
PBE-SHA1-3DES (`ENCRYPTED PRIVATE KEY`, its password read from ssl.keyStore.passwordPath):
every server must serve a TLS session to a client with a certificate from the same CA.
"""

import subprocess

import pytest

from zkharness import ServerStartError, free_port, is_java, selected_impls, start_server
from test_tls import NETTY, _ca, _leaf, tls_session

PW = "st0re-pw"


def _run(d, *args):
    subprocess.run(list(args), cwd=d, check=True, capture_output=True)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("stores")
    _ca(d, "a")
    _leaf(d, "a", "server", "/CN=server")
    _leaf(d, "a", "alice", "/CN=alice")
    _run(d, "openssl", "pkcs12", "-export", "-inkey", "server.key", "-in", "server.crt",
         "-certfile", "a-ca.pem", "-name", "server", "-out", "server.p12", "-passout", "pass:" + PW)
    _run(d, "keytool", "-importkeystore", "-noprompt", "-srckeystore", "server.p12",
         "-srcstoretype", "PKCS12", "-srcstorepass", PW, "-destkeystore", "server.jks",
         "-deststoretype", "JKS", "-deststorepass", PW)
    for ext, ty in (("jks", "JKS"), ("p12", "PKCS12")):
        _run(d, "keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "a-ca.pem",
             "-keystore", "trust." + ext, "-storetype", ty, "-storepass", PW)
    _run(d, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "server.key",
         "-out", "server-enc.key", "-passout", "pass:" + PW)
    (d / "server-enc.pem").write_bytes((d / "server-enc.key").read_bytes()
                                       + (d / "server.crt").read_bytes())
    _run(d, "openssl", "pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES", "-in", "server.key",
         "-out", "server-pbe.key", "-passout", "pass:" + PW)
    (d / "server-pbe.pem").write_bytes((d / "server-pbe.key").read_bytes()
                                       + (d / "server.crt").read_bytes())
    (d / "pw.txt").write_text(PW + "\n")
    return d


CASES = {
    "jks": lambda d: {
        "ssl.keyStore.location": d / "server.jks", "ssl.keyStore.password": PW,
        "ssl.trustStore.location": d / "trust.jks", "ssl.trustStore.password": PW},
    "pkcs12": lambda d: {
        "ssl.keyStore.location": d / "server.p12", "ssl.keyStore.password": PW,
        "ssl.trustStore.location": d / "trust.p12", "ssl.trustStore.password": PW},
    "pbe-sha1-3des-pem+passwordPath": lambda d: {
        "ssl.keyStore.location": d / "server-pbe.pem", "ssl.keyStore.passwordPath": d / "pw.txt",
        "ssl.trustStore.location": d / "a-ca.pem"},
}


@pytest.mark.parametrize("impl", selected_impls())
def test_pbes2_encrypted_pem_key(impl, tmp_path, stores):
    """`openssl pkcs8 -topk8 -v2 aes-256-cbc` (PBES2): Java 17's PemReader cannot decrypt it
    ("PBES2 SecretKeyFactory not available": the secure port serves nothing); zkserver
    reads it."""
    port = free_port()
    cfg = {"serverCnxnFactory": NETTY, "secureClientPort": str(port),
           "ssl.keyStore.location": str(stores / "server-enc.pem"),
           "ssl.keyStore.password": PW, "ssl.trustStore.location": str(stores / "a-ca.pem")}
    srv = start_server(impl, tmp_path, cfg)
    try:
        assert tls_session(stores, port, "alice") == (not is_java(impl))
    finally:
        srv.stop()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("impl", selected_impls())
def test_store_formats_serve_tls(impl, tmp_path, stores, case):
    port = free_port()
    cfg = {"serverCnxnFactory": NETTY, "secureClientPort": str(port)}
    cfg.update({k: str(v) for k, v in CASES[case](stores).items()})
    srv = start_server(impl, tmp_path, cfg)
    try:
        assert tls_session(stores, port, "alice"), "%s: no TLS session with %s stores" % (impl, case)
        assert not tls_session(stores, port, None), "clientAuth=need: no certificate, no session"
    finally:
        srv.stop()


PASSWORD_FILES = {"one-newline": PW + "\n", "no-newline": PW, "crlf": PW + "\r\n",
                  "two-newlines": PW + "\n\n"}


@pytest.mark.parametrize("ending", sorted(PASSWORD_FILES))
@pytest.mark.parametrize("impl", selected_impls())
def test_password_file_loses_one_newline(impl, tmp_path, stores, ending):
    """SecretUtils.readSecret strips one trailing newline and nothing else: with `\\r\\n` or
    two newlines the JKS password is wrong. Java then starts and serves no TLS session;
    zkserver refuses the start (unusable stores stop it)."""
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD_FILES[ending])
    port = free_port()
    cfg = {"serverCnxnFactory": NETTY, "secureClientPort": str(port),
           "ssl.keyStore.location": str(stores / "server.jks"),
           "ssl.keyStore.passwordPath": str(pw),
           "ssl.trustStore.location": str(stores / "a-ca.pem")}
    good = ending in ("one-newline", "no-newline")
    try:
        srv = start_server(impl, tmp_path, cfg)
    except ServerStartError as e:
        assert not good and not is_java(impl), str(e)
        assert "password" in str(e), str(e)
        return
    try:
        assert tls_session(stores, port, "alice") == good
    finally:
        srv.stop()
