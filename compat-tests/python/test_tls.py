"""TLS on the client port and x509 authentication, against Java 3.8.0 / 3.9.3 and zkserver.

Java serves TLS clients only with NettyServerCnxnFactory: `secureClientPort` is a second
listener that speaks TLS only, `client.portUnification` lets the plain port take TLS too. A
client certificate's subject (X500Principal.getName()) becomes an `x509` id at the handshake;
`X509AuthenticationProvider.superUser` makes it `super` as well. Certificates are made with
openssl into the test's tmp dir (Java reads PEM key and trust stores).
"""

import socket
import ssl
import struct
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, Permissions

from zkharness import (free_port, is_java, selected_impls, start_server, version,
                       ServerStartError, _quiet_logger)

NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
X509 = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"

# openssl subject -> what Java's X500Principal.getName() prints.
ALICE = ("/O=zk/CN=alice", "CN=alice,O=zk")
ODD = ("/DC=org/CN=a\\, b+UID=jdoe/OU=x\\+y #1/emailAddress=a@b.c",
       "1.2.840.113549.1.9.1=#16056140622e63,OU=x\\+y \\#1,CN=a\\, b+UID=jdoe,DC=org")
ADMIN = ("/CN=admin", "CN=admin")


def _openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)


def _ca(d, name):
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", name + "-ca.key", "-out", name + "-ca.pem", "-days", "2",
             "-subj", "/CN=%s CA" % name)


def _leaf(d, ca, name, subject, san="IP:127.0.0.1,DNS:localhost", days=2):
    _openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-utf8",
             "-multivalue-rdn", "-subj", subject)
    (d / (name + ".ext")).write_text("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % san)
    _openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + "-ca.pem", "-CAkey",
             ca + "-ca.key", "-CAcreateserial", "-out", name + ".crt", "-extfile",
             name + ".ext", "-days", str(days))
    (d / (name + ".pem")).write_bytes((d / (name + ".key")).read_bytes()
                                      + (d / (name + ".crt")).read_bytes())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    _ca(d, "a")
    _ca(d, "b")
    _leaf(d, "a", "server", "/CN=server")
    _leaf(d, "a", "alice", ALICE[0])
    _leaf(d, "a", "odd", ODD[0])
    _leaf(d, "a", "admin", ADMIN[0])
    _leaf(d, "a", "elsewhere", "/CN=elsewhere", san="IP:10.9.9.9")
    _leaf(d, "b", "stranger", "/CN=stranger")
    _leaf(d, "b", "server-b", "/CN=server")
    _leaf(d, "a", "expired", "/CN=old", days=-1)
    return d


def tls_cfg(certs, port, **extra):
    cfg = {
        "serverCnxnFactory": NETTY,
        "secureClientPort": str(port),
        "ssl.keyStore.location": str(certs / "server.pem"),
        "ssl.trustStore.location": str(certs / "a-ca.pem"),
        "authProvider.x509": X509,
        "X509AuthenticationProvider.superUser": ADMIN[1],
    }
    cfg.update(extra)
    return cfg


def tls_client(certs, port, who="alice", timeout=10):
    kw = dict(use_ssl=True, ca=str(certs / "a-ca.pem"), verify_certs=True)
    if who:
        kw.update(certfile=str(certs / (who + ".crt")), keyfile=str(certs / (who + ".key")))
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=timeout, logger=_quiet_logger(), **kw)
    zk.start(timeout=timeout)
    return zk


CONNECT = struct.pack(">iiqiqi16sb", 45, 0, 0, 30000, 0, 16, b"\0" * 16, 0)


def session_over(sock, timeout=5.0):
    """Send a ConnectRequest on `sock`; True when a ConnectResponse with a session comes."""
    sock.settimeout(timeout)
    try:
        sock.sendall(CONNECT)
        data = b""
        while len(data) < 4 + 36:
            chunk = sock.recv(64)
            if not chunk:
                return False
            data += chunk
        return struct.unpack(">i", data[:4])[0] in (36, 37) and data[20:28] != b"\0" * 8
    except (OSError, ssl.SSLError):
        return False


def tls_socket(certs, port, who=None, trust="a"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(certs / (trust + "-ca.pem")))
    if who:
        ctx.load_cert_chain(str(certs / (who + ".crt")), str(certs / (who + ".key")))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw)


def tls_session(certs, port, who=None):
    """True when a TLS client with `who`'s certificate gets a session on `port`."""
    try:
        s = tls_socket(certs, port, who)
    except (OSError, ssl.SSLError):
        return False
    with s:
        return session_over(s)


def start_tls(impl, tmp_path, certs, **extra):
    port = free_port()
    return start_server(impl, tmp_path, tls_cfg(certs, port, **extra)), port


def auth_id(zk, path):
    """The x509 id Java gave this session: an `auth` ACL expands to the session's ids."""
    zk.create(path, b"", acl=[ACL(Permissions.ALL, Id("auth", ""))])
    acl, _ = zk.get_acls(path)
    return sorted((a.id.scheme, a.id.id) for a in acl)


@pytest.mark.parametrize("impl", selected_impls())
def test_kazoo_over_tls_and_x509_acls(impl, tmp_path, certs):
    server, port = start_tls(impl, tmp_path, certs)
    alice = tls_client(certs, port, "alice")
    odd = tls_client(certs, port, "odd")
    admin = tls_client(certs, port, "admin")
    try:
        # The same operations as over plaintext, watches included.
        seen = []
        alice.create("/t", b"v1")
        alice.get("/t", watch=lambda e: seen.append(e.type))
        odd.set("/t", b"v2")
        deadline = time.time() + 5
        while not seen and time.time() < deadline:
            time.sleep(0.05)
        assert seen == ["CHANGED"]
        assert alice.get("/t")[0] == b"v2"
        # The ids as Java prints the subjects.
        assert auth_id(alice, "/alice") == [("x509", ALICE[1])]
        assert auth_id(odd, "/odd") == [("x509", ODD[1])]
        # A node only alice may read: another certificate is refused, the super user is not.
        alice.create("/mine", b"secret", acl=[ACL(Permissions.ALL, Id("x509", ALICE[1]))])
        with pytest.raises(NoAuthError):
            odd.get("/mine")
        assert admin.get("/mine")[0] == b"secret"
        # x509 ids are compared as strings: another spelling of the same name does not match.
        alice.create("/spaced", b"", acl=[ACL(Permissions.ALL, Id("x509", "CN=alice, O=zk"))])
        with pytest.raises(NoAuthError):
            alice.get("/spaced")
        # Plaintext clients keep working on clientPort.
        plain = server.client()
        with pytest.raises(NoAuthError):
            plain.get("/mine")
        plain.stop()
        plain.close()
    finally:
        for zk in (alice, odd, admin):
            zk.stop()
            zk.close()
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_port_unification(impl, tmp_path, certs):
    """client.portUnification: TLS and plaintext clients on clientPort, both served."""
    port = free_port()
    cfg = tls_cfg(certs, port, **{"client.portUnification": "true"})
    del cfg["secureClientPort"]
    server = start_server(impl, tmp_path, cfg)
    try:
        plain = server.client()
        secure = tls_client(certs, server.port, "alice")
        plain.create("/p", b"plain")
        assert secure.get("/p")[0] == b"plain"
        assert auth_id(secure, "/s") == [("x509", ALICE[1])]
        assert server.four_letter("ruok") == "imok"
        for zk in (plain, secure):
            zk.stop()
            zk.close()
    finally:
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_bad_tls_input(impl, tmp_path, certs):
    """Each is refused (closed), and the server keeps serving a good TLS client."""
    server, port = start_tls(impl, tmp_path, certs)
    good = tls_client(certs, port, "alice")
    try:
        # A plaintext ConnectRequest on the TLS-only port: closed, no session.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert not session_over(s)
        # A TLS ClientHello on the plaintext port: closed (a huge frame length).
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw)
        raw.close()
        # Untrusted, expired, missing client certificates (clientAuth=need by default).
        for who in ("stranger", "expired", None):
            assert not tls_session(certs, port, who), who
        # The client port does not check the client's address against its certificate
        # (ClientX509Util never verifies client hostnames).
        assert tls_session(certs, port, "elsewhere")
        # A handshake cut in the middle.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 20)
        # Garbage after the handshake: a negative frame length.
        s = tls_socket(certs, port, "alice")
        s.settimeout(5)
        s.sendall(b"\xff\xff\xff\xf0garbage!")
        try:
            assert s.recv(64) == b""
        except (OSError, ssl.SSLError):
            pass
        s.close()
        assert good.get("/")[1].version is not None
        assert tls_session(certs, port, "alice")
        server.check_alive()
    finally:
        good.stop()
        good.close()
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_client_auth_want_and_none(impl, tmp_path, certs):
    server, port = start_tls(impl, tmp_path, certs, **{"ssl.clientAuth": "want"})
    try:
        anon = tls_client(certs, port, None)
        assert auth_id(alice := tls_client(certs, port, "alice"), "/a") == [("x509", ALICE[1])]
        # No certificate: served, with no x509 id (an `auth` ACL has nothing to expand to).
        assert anon.get("/")[1] is not None
        for zk in (anon, alice):
            zk.stop()
            zk.close()
    finally:
        server.stop()
    server, port = start_tls(impl, tmp_path / "none", certs, **{"ssl.clientAuth": "none"})
    try:
        zk = tls_client(certs, port, "alice")
        zk.create("/n", b"", acl=[ACL(Permissions.ALL, Id("x509", ALICE[1]))])
        with pytest.raises(NoAuthError):
            zk.get("/n")
        zk.stop()
        zk.close()
    finally:
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_x509_provider_registration(impl, tmp_path, certs):
    """Without authProvider.x509, Java registers X509AuthenticationProvider itself for a
    secure port (QuorumPeerConfig.configureSSLAuth, 3.8.0 and 3.9.3); an ssl.authProvider
    naming a scheme without a provider refuses the start."""
    server, port = start_tls(impl, tmp_path, certs, **{"authProvider.x509": None})
    try:
        zk = tls_client(certs, port, "alice")
        assert auth_id(zk, "/r") == [("x509", ALICE[1])]
        zk.stop()
        zk.close()
    finally:
        server.stop()
    with pytest.raises(ServerStartError):
        start_tls(impl, tmp_path / "other", certs, **{"ssl.authProvider": "nosuch"})


@pytest.mark.parametrize("impl", selected_impls())
def test_secure_port_needs_netty(impl, tmp_path, certs):
    """NIOServerCnxnFactory cannot serve TLS: the start fails."""
    port = free_port()
    with pytest.raises(ServerStartError):
        start_server(impl, tmp_path, tls_cfg(certs, port, serverCnxnFactory=None))


def java_cli(generation, port, certs, *args):
    """The Java CLI (ZooKeeperMain) of `generation` (3.8: Debian's, 3.9: 3.9.3's jars) over
    TLS with the Netty client socket and alice's certificate; returns its output."""
    from zkharness import JAVA_BIN, JAVA_CLASSPATH, java39_classpath
    # Debian's client side of Netty also needs netty-resolver, which its manifest leaves out.
    cp = (JAVA_CLASSPATH + ["/usr/share/java/netty-resolver.jar"] if generation == (3, 8)
          else java39_classpath())
    cmd = [JAVA_BIN, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", ":".join(cp),
           "-Dzookeeper.client.secure=true",
           "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
           "-Dzookeeper.ssl.keyStore.location=%s" % (certs / "alice.pem"),
           "-Dzookeeper.ssl.trustStore.location=%s" % (certs / "a-ca.pem"),
           "org.apache.zookeeper.ZooKeeperMain", "-waitforconnection", "-timeout", "8000",
           "-server", "127.0.0.1:%d" % port] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


@pytest.mark.parametrize("impl", selected_impls())
def test_java_cli_over_tls(impl, tmp_path, certs):
    """zkCli over TLS (ClientCnxnSocketNetty, zookeeper.client.secure): the same generation's
    client works; 3.8's client (TLSv1.2) cannot reach a 3.9 server (TLSv1.3 only)."""
    server, port = start_tls(impl, tmp_path, certs)
    try:
        gen = (3, 9) if version(impl) >= (3, 9) else (3, 8)
        out = java_cli(gen, port, certs, "create", "/cli", "hello")
        assert "Created /cli" in out, out
        out = java_cli(gen, port, certs, "getAcl", "/cli")
        assert "'world,'anyone" in out, out
        out = java_cli(gen, port, certs, "create", "/cliauth", "x", "auth::cdrwa")
        out = java_cli(gen, port, certs, "getAcl", "/cliauth")
        # (the CLI URL-encodes the id's commas)
        assert "'x509,'%s" % ALICE[1].replace(",", "%2C") in out, out
        if gen == (3, 9):
            zk = server.client()
            zk.create("/from38", b"")
            zk.stop()
            zk.close()
            out = java_cli((3, 8), port, certs, "get", "/from38")
            assert "SyncConnected" not in out and "ConnectionLoss" in out, out
    finally:
        server.stop()


@pytest.mark.parametrize("reload", [True, False])
@pytest.mark.parametrize("impl", selected_impls())
def test_cert_reload(impl, tmp_path, certs, reload):
    """client.certReload: 3.9 picks up a changed trust store for new handshakes (and its x509
    provider with it); established sessions stay. 3.8.0 has no reload: the first files stay.
    3.9 without it builds each handshake from the files, but its x509 provider keeps the first
    trust store and closes the new CA's clients after the handshake."""
    trust = tmp_path / "trust.pem"
    trust.write_bytes((certs / "a-ca.pem").read_bytes())
    server, port = start_tls(impl, tmp_path, certs, **{
        "ssl.trustStore.location": str(trust), "client.certReload": str(reload).lower()})
    alice = tls_client(certs, port, "alice")
    try:
        assert not tls_session(certs, port, "stranger")
        trust.write_bytes((certs / "a-ca.pem").read_bytes() + (certs / "b-ca.pem").read_bytes())
        expected = reload and version(impl) >= (3, 9)
        deadline = time.time() + (15 if expected else 4)
        accepted = False
        while time.time() < deadline and not accepted:
            time.sleep(0.5)
            accepted = tls_session(certs, port, "stranger")
        assert accepted == expected
        assert alice.get("/")[1] is not None
        assert tls_session(certs, port, "alice")
    finally:
        alice.stop()
        alice.close()
        server.stop()


@pytest.mark.parametrize("keys", ["ssl.authProvider", "ssl.authProvider+certReload",
                                  "no-provider"])
@pytest.mark.parametrize("impl", selected_impls())
def test_stores_read_once_with_ssl_auth_provider(impl, tmp_path, certs, keys):
    """Both store files replaced by CA b's. With ssl.authProvider, Java's initSSL takes the
    key and trust managers of the x509 provider, which read the files once: CA a's clients
    keep being served, 3.8.0 and 3.9.3 alike, unless 3.9's client.certReload watcher
    re-creates the provider. Without it 3.9.3 builds each handshake's context from the files,
    so CA a's clients are refused (3.8.0 keeps its first context)."""
    key, trust = tmp_path / "key.pem", tmp_path / "trust.pem"
    key.write_bytes((certs / "server.pem").read_bytes())
    trust.write_bytes((certs / "a-ca.pem").read_bytes())
    extra = {"ssl.keyStore.location": str(key), "ssl.trustStore.location": str(trust)}
    provider = keys.startswith("ssl.authProvider")
    if provider:
        extra["ssl.authProvider"] = "x509"
    if keys.endswith("certReload"):
        extra["client.certReload"] = "true"
    server, port = start_tls(impl, tmp_path, certs, **extra)
    try:
        assert tls_session(certs, port, "alice")
        key.write_bytes((certs / "server-b.pem").read_bytes())
        trust.write_bytes((certs / "b-ca.pem").read_bytes())
        files_reread = version(impl) >= (3, 9) and (not provider or keys.endswith("certReload"))
        # Java's certReload watcher runs on its own thread: give it time.
        deadline = time.time() + 10
        while files_reread and tls_session(certs, port, "alice") and time.time() < deadline:
            time.sleep(0.5)
        for _ in range(4):
            assert tls_session(certs, port, "alice") == (not files_reread)
            assert not tls_session(certs, port, "stranger")
            time.sleep(0.5)
        server.check_alive()
    finally:
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_tls_on_ensemble_members(impl, tmp_path, certs):
    """Every member's client port takes TLS (client.portUnification): a session on a
    follower gets its x509 id there, and the ACL it sets holds on every member."""
    from zkharness import Ensemble, mode
    cfg = tls_cfg(certs, 0, **{"client.portUnification": "true"})
    del cfg["secureClientPort"]
    with Ensemble(tmp_path, extra=cfg) as ens:
        ens.start_all({1: impl, 2: impl, 3: impl})
        follower = next(s for s in ens.servers.values() if mode(s) == "follower")
        leader = next(s for s in ens.servers.values() if mode(s) == "leader")
        alice = tls_client(certs, follower.port, "alice")
        odd = tls_client(certs, leader.port, "odd")
        plain = leader.client()
        try:
            assert auth_id(alice, "/f") == [("x509", ALICE[1])]
            alice.create("/only-alice", b"x", acl=[ACL(Permissions.ALL, Id("x509", ALICE[1]))])
            odd.sync("/only-alice")
            with pytest.raises(NoAuthError):
                odd.get("/only-alice")
            with pytest.raises(NoAuthError):
                plain.get("/only-alice")
            again = tls_client(certs, leader.port, "alice")
            assert again.get("/only-alice")[0] == b"x"
            again.stop()
            again.close()
        finally:
            for zk in (alice, odd, plain):
                zk.stop()
                zk.close()


@pytest.mark.parametrize("impl", selected_impls())
def test_pkcs12_key_store_and_jks_trust_store(impl, tmp_path, certs):
    """The server's key in a PKCS12 store and the CA in a JKS trust store, with passwords."""
    p12 = tmp_path / "server.p12"
    jks = tmp_path / "trust.jks"
    _openssl(certs, "pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key",
             "-out", str(p12), "-passout", "pass:secret1", "-name", "server")
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file",
                    str(certs / "a-ca.pem"), "-keystore", str(jks), "-storetype", "JKS",
                    "-storepass", "secret2"], check=True, capture_output=True)
    server, port = start_tls(impl, tmp_path, certs, **{
        "ssl.keyStore.location": str(p12), "ssl.keyStore.password": "secret1",
        "ssl.trustStore.location": str(jks), "ssl.trustStore.password": "secret2"})
    try:
        zk = tls_client(certs, port, "alice")
        assert auth_id(zk, "/k") == [("x509", ALICE[1])]
        zk.stop()
        zk.close()
        assert not tls_session(certs, port, "stranger")
    finally:
        server.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_four_letter_words_over_tls(impl, tmp_path, certs):
    """The secure port answers four-letter words inside TLS, as Netty's does."""
    server, port = start_tls(impl, tmp_path, certs)
    try:
        s = tls_socket(certs, port, "alice")
        s.settimeout(5)
        s.sendall(b"ruok")
        out = b""
        try:
            while True:
                chunk = s.recv(64)
                if not chunk:
                    break
                out += chunk
        except (OSError, ssl.SSLError):
            pass
        s.close()
        assert out == b"imok"
    finally:
        server.stop()
