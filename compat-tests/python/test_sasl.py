"""SASL DIGEST-MD5 on the client port, against every implementation.

Every server reads the same JAAS file (Java through -Djava.security.auth.login.config, zkserver
through the same key in zoo.cfg) with a `Server` section of DigestLoginModule users, and
registers `authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider`.
Clients: kazoo (pure-sasl), a raw client speaking op 102 with hand-made tokens (bad input),
kazoo's own upstream SASL tests, zkCli.sh with a JAAS `Client` section.

What Java answers (3.8.0 and 3.9.3 alike, checked against both here): a finished exchange
adds `sasl:<user>`; a failed one answers AuthFailed (-115) with no token and closes the
connection (SessionClosedRequireSaslAuth, -124, when sasl is enforced), logging
"Client /<addr> failed to SASL authenticate: javax.security.sasl.SaslException: ...";
allowSaslFailedClients keeps the connection instead.
"""

import hashlib
import os
import re
import subprocess
import sys
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, KeeperState
from kazoo.security import ACL, Id, make_acl

import zkharness
import zkraw

IMPLS = zkharness.selected_impls()
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
JAAS = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret"
    user_alice="alicesecret";
};
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="bobsecret";
};
"""


def sasl_cfg(tmp_path, jaas=JAAS, **extra):
    path = tmp_path / "jaas.conf"
    path.write_text(jaas)
    cfg = {
        "authProvider.1": SASL_PROVIDER,
        "java.security.auth.login.config": str(path),
    }
    cfg.update(extra)
    return cfg


def start(impl, tmp_path, jaas=JAAS, **extra):
    if impl == "java39" and not (zkharness.JAVA39_DIR / "zookeeper-3.9.3.jar").exists():
        pytest.fail("no Java 3.9.3 jars in %s" % zkharness.JAVA39_DIR)
    return zkharness.start_server(impl, tmp_path, extra_cfg=sasl_cfg(tmp_path, jaas, **extra))


def start_enforced(impl, tmp_path, **extra):
    """A server that serves only SASL-authenticated sessions: the harness's readiness check
    (an unauthenticated session) cannot pass, so readiness is a SASL login here."""
    if impl == "java39" and not (zkharness.JAVA39_DIR / "zookeeper-3.9.3.jar").exists():
        pytest.fail("no Java 3.9.3 jars in %s" % zkharness.JAVA39_DIR)
    server = zkharness.start_server(impl, tmp_path, extra_cfg=sasl_cfg(tmp_path, **extra),
                                    wait=False)
    deadline = time.monotonic() + zkharness.READY_TIMEOUT
    while True:
        try:
            rc = sasl_login_raw(server)
            rc.close()
            return server
        except (OSError, ConnectionError, AssertionError, TypeError, ValueError):
            if time.monotonic() > deadline or server.proc.poll() is not None:
                server.kill()
                raise zkharness.ServerStartError("%s did not serve SASL sessions" % impl)
            time.sleep(0.3)


def sasl_client(server, user, password, **kw):
    zk = KazooClient(hosts=server.connect_string, timeout=10,
                     sasl_options={"mechanism": "DIGEST-MD5", "username": user,
                                   "password": password}, **kw)
    return zk


def log_text(server):
    # Java's log4j file, or zkserver's stdout/stderr: both are server.log.
    time.sleep(0.3)
    return server.log_path.read_text(errors="replace")


def wait_log(server, needle, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log_text(server):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


# -- a DIGEST-MD5 client for hand-made tokens (RFC 2831, md5-sess, qop auth) ------------------

def parse_challenge(text):
    return dict((m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
                for m in re.finditer(r'([\w-]+)=(?:"([^"]*)"|([^,]*))', text))


def digest_response(challenge, user, password, cnonce="c0ffee", nc="00000001",
                    uri="zookeeper/zk-sasl-md5"):
    c = parse_challenge(challenge.decode())
    realm, nonce = c["realm"], c["nonce"]

    def h(b):
        return hashlib.md5(b).digest()

    def hx(b):
        return hashlib.md5(b).hexdigest()
    a1 = h(("%s:%s:%s" % (user, realm, password)).encode("latin-1")) + \
        (":%s:%s" % (nonce, cnonce)).encode()
    a2 = ("AUTHENTICATE:%s" % uri).encode()
    resp = hx(("%s:%s:%s:%s:auth:%s" % (hx(a1), nonce, nc, cnonce, hx(a2))).encode())
    return ('charset=utf-8,username="%s",realm="%s",nonce="%s",nc=%s,cnonce="%s",'
            'digest-uri="%s",maxbuf=65536,response=%s,qop=auth'
            % (user, realm, nonce, nc, cnonce, uri, resp)).encode()


def sasl_token(raw, token):
    """Sends op 102 with `token` (None: a null buffer); returns (err, token) or None when the
    connection closed without a reply."""
    try:
        r = raw.call(zkraw.OP_SASL, zkraw.Enc().buffer(token).bytes())
    except ConnectionError:
        return None
    d = zkraw.Dec(r.body)
    return r.err, (d.buffer() if d.remaining() else "no body")


def raw(server):
    return zkraw.RawClient(server.host, server.port, io_timeout=5.0)


def closed_soon(rc, timeout=3.0):
    return rc.closed.wait(timeout)


def sasl_login_raw(server, user="bob", password="bobsecret"):
    rc = raw(server)
    err, challenge = sasl_token(rc, b"")
    assert err == 0 and b"nonce=" in challenge
    err, rspauth = sasl_token(rc, digest_response(challenge, user, password))
    assert err == 0 and rspauth.startswith(b"rspauth="), (err, rspauth)
    return rc


# -- kazoo -----------------------------------------------------------------------------------

def test_kazoo_digest_md5_and_sasl_acls(impl, tmp_path):
    server = start(impl, tmp_path)
    bob = sasl_client(server, "bob", "bobsecret")
    bob.start(timeout=15)
    alice = sasl_client(server, "alice", "alicesecret")
    alice.start(timeout=15)
    anon = server.client()
    try:
        bob.create("/bob", b"secret", acl=[make_acl("sasl", "bob", all=True)])
        assert bob.get("/bob")[0] == b"secret"
        acl, _ = bob.get_acls("/bob")
        assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "sasl", "bob")]
        for zk in (anon, alice):
            with pytest.raises(NoAuthError):
                zk.get_acls("/bob")
            with pytest.raises(NoAuthError):
                zk.get("/bob")
            with pytest.raises(NoAuthError):
                zk.set("/bob", b"x")
        # The `auth` scheme expands to the session's sasl id (and its ip id is not one that
        # authenticates).
        bob.create("/auth", b"", acl=[ACL(31, Id("auth", ""))])
        acl, _ = bob.get_acls("/auth")
        assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "sasl", "bob")]
        # A read-only grant to alice.
        bob.set_acls("/bob", [make_acl("sasl", "bob", all=True),
                              make_acl("sasl", "alice", read=True)])
        assert alice.get("/bob")[0] == b"secret"
        with pytest.raises(NoAuthError):
            alice.set("/bob", b"x")
        # A malformed Kerberos name is not a valid sasl ACL id.
        from kazoo.exceptions import InvalidACLError
        with pytest.raises(InvalidACLError):
            bob.create("/bad", b"", acl=[make_acl("sasl", "a@b@c", all=True)])
        assert wait_log(server, "adding SASL authorization for authorizationID: bob")
    finally:
        zkharness.close_clients(bob, alice, anon)


@pytest.mark.parametrize("user,password", [("bob", "wrong"), ("eve", "whatever")])
def test_kazoo_bad_credentials_fail_and_are_logged(impl, tmp_path, user, password):
    server = start(impl, tmp_path)
    zk = sasl_client(server, user, password)
    # kazoo reports CONNECTED before its SASL exchange, so start() may return; the failure
    # ("AUTH_FAILED closing") then loses the session for good (a racing start() raises
    # AuthFailedError instead, or, when the failure lands between kazoo's connected event
    # and its `connected` check, its "Connection time-out" at once).
    started = time.monotonic()
    try:
        zk.start(timeout=15)
    except AuthFailedError:
        pass
    except KazooTimeoutError:
        assert time.monotonic() - started < 10, "no connection within 15 s"
    zkharness.wait_for(lambda: zk.state == KazooState.LOST and
                       zk.client_state == KeeperState.CLOSED, timeout=15,
                       what="kazoo's session lost after AUTH_FAILED")
    zkharness.close_clients(zk)
    # Java: "Client /<addr> failed to SASL authenticate: {}" (slf4j takes the exception as
    # the throwable) and the exception on the next line; zkserver puts it on the one line.
    assert wait_log(server, "failed to SASL authenticate: ")
    assert wait_log(server, "javax.security.sasl.SaslException: DIGEST-MD5: ")
    if user == "eve":
        assert wait_log(server, "cannot acquire password for eve in realm : zk-sasl-md5")
    else:
        assert wait_log(server, "digest response format violation. Mismatched response.")
    assert wait_log(server, "Closing client connection due to SASL authentication failure.")
    # The server goes on serving others.
    other = server.client()
    assert other.exists("/") is not None
    zkharness.close_clients(other)


def test_super_user_and_whoami(impl, tmp_path):
    server = start(impl, tmp_path, superUser="alice")
    anon = server.client()
    anon.add_auth("digest", "carol:pw")
    anon.create("/carol", b"c", acl=[make_acl("digest", "carol:x", all=True)])
    alice_rc = sasl_login_raw(server, "alice", "alicesecret")
    try:
        data, _ = alice_rc.get("/carol")
        assert data == b"c"
        assert wait_log(server, "Authenticated Id 'alice' as super user")
        if zkharness.at_least(impl, 3, 9):
            ids = sorted(alice_rc.who_am_i())
            assert ("sasl", "alice") in ids and ("super", "") in ids, ids
    finally:
        alice_rc.close()
        zkharness.close_clients(anon)


# -- raw op 102: bad input ---------------------------------------------------------------------

def test_raw_exchange_and_bad_tokens(impl, tmp_path):
    server = start(impl, tmp_path)
    admin = server.client()
    admin_rc = sasl_login_raw(server)
    admin_rc.create("/guarded", b"g", acl=[(31, "sasl", "bob")])
    try:
        # A second exchange after success: the SASL server is done, AuthFailed, closed.
        assert sasl_token(admin_rc, b"") == (zkraw.AUTH_FAILED, None)
        assert closed_soon(admin_rc)

        cases = {
            "garbage": lambda ch: b"garbage",
            "empty second": lambda ch: b"",
            "truncated": lambda ch: digest_response(ch, "bob", "bobsecret")[:60],
            "garbled digest": lambda ch: digest_response(ch, "bob", "bobsecret").replace(
                b"response=", b"response=0"),
            "huge": lambda ch: b"a" * 5000,
            "wrong password": lambda ch: digest_response(ch, "bob", "nope"),
            "unknown user": lambda ch: digest_response(ch, "eve", "bobsecret"),
            "wrong uri": lambda ch: digest_response(ch, "bob", "bobsecret", uri="zookeeper/x"),
        }
        for name, make in cases.items():
            rc = raw(server)
            err, challenge = sasl_token(rc, b"")
            assert err == 0, name
            answer = sasl_token(rc, make(challenge))
            if name == "unknown user" and impl == "java":
                # Java 3.8.0 shares one SaslServerCallbackHandler among all connections
                # (3.9 makes one per connection): an unknown user inherits the password of
                # the last known user another connection named, here bob's, and logs in as
                # "eve". zkserver refuses the unknown user in both modes.
                assert answer[0] == 0 and answer[1].startswith(b"rspauth="), answer
                rc.drop()
                continue
            # (Java refuses an oversized token without ending the exchange, but ZooKeeper
            # closes the connection on the SaslException anyway.)
            assert answer == (zkraw.AUTH_FAILED, None), (name, answer)
            assert closed_soon(rc), name
            rc.drop()

        # A response replayed on a new connection meets a new nonce.
        rc = raw(server)
        _, challenge = sasl_token(rc, b"")
        good = digest_response(challenge, "bob", "bobsecret")
        rc.drop()
        rc = raw(server)
        sasl_token(rc, b"")
        assert sasl_token(rc, good) == (zkraw.AUTH_FAILED, None)
        assert closed_soon(rc)
        assert wait_log(server, "Mismatched nonce.")

        # maxbuf that is no number: Java's NumberFormatException escapes processSasl ("Unexpected
        # exception"), the connection closes without a reply.
        rc = raw(server)
        _, challenge = sasl_token(rc, b"")
        bad = digest_response(challenge, "bob", "bobsecret").replace(b"maxbuf=65536", b"maxbuf=abc")
        assert sasl_token(rc, bad) is None
        assert closed_soon(rc)
        assert wait_log(server, 'java.lang.NumberFormatException: For input string: "abc"')
        assert wait_log(server, "Unexpected exception")

        # A token that is not a GetSASLRequest (a null buffer): the connection closes, no reply.
        rc = raw(server)
        assert sasl_token(rc, None) is None
        assert closed_soon(rc)

        # An exchange interleaved with other requests: they are served as unauthenticated.
        rc = raw(server)
        _, challenge = sasl_token(rc, b"")
        with pytest.raises(zkraw.ZkError) as e:
            rc.get("/guarded")
        assert e.value.code == zkraw.NO_AUTH
        err, _ = sasl_token(rc, digest_response(challenge, "bob", "bobsecret"))
        assert err == 0
        assert rc.get("/guarded")[0] == b"g"
        rc.close()

        # Nothing of this touched other sessions.
        assert admin.get("/")[0] is not None
    finally:
        zkharness.close_clients(admin)


def test_sasl_before_connect_request_closes(impl, tmp_path):
    import socket
    import struct
    server = start(impl, tmp_path)
    s = socket.create_connection((server.host, server.port), timeout=5)
    body = zkraw.Enc().int(1).int(zkraw.OP_SASL).buffer(b"").bytes()
    s.sendall(struct.pack(">i", len(body)) + body)
    s.settimeout(5)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    # The frame is read as a ConnectRequest, too short to be one: closed without a word.
    assert data == b""
    other = server.client()
    assert other.exists("/") is not None
    zkharness.close_clients(other)


def test_allow_sasl_failed_clients_keeps_the_connection(impl, tmp_path):
    server = start(impl, tmp_path, allowSaslFailedClients="true")
    owner = sasl_login_raw(server)
    owner.create("/guarded", b"g", acl=[(31, "sasl", "bob")])
    rc = raw(server)
    _, challenge = sasl_token(rc, b"")
    assert sasl_token(rc, digest_response(challenge, "bob", "nope")) == (0, None)
    assert wait_log(server, "Maintaining client connection despite SASL authentication failure.")
    assert not closed_soon(rc, 1.0)
    with pytest.raises(zkraw.ZkError) as e:
        rc.get("/guarded")
    assert e.value.code == zkraw.NO_AUTH
    # The exchange is over: a new attempt fails too (and the connection is kept).
    assert sasl_token(rc, b"") == (0, None)
    with pytest.raises(zkraw.ZkError):
        rc.get("/guarded")
    rc.close()
    owner.close()


def test_session_require_client_sasl_auth(impl, tmp_path):
    server = start_enforced(impl, tmp_path, sessionRequireClientSASLAuth="true")
    rc = raw(server)
    r = rc.call(zkraw.OP_EXISTS, zkraw.Enc().string("/").bool(False).bytes())
    assert (r.err, r.zxid) == (zkraw.SESSION_CLOSED_REQUIRE_SASL, 0)
    assert closed_soon(rc)
    # Authenticated sessions work.
    ok = sasl_login_raw(server)
    assert ok.exists("/") is not None
    ok.close()
    # A failed exchange answers -124, not AuthFailed.
    rc = raw(server)
    _, challenge = sasl_token(rc, b"")
    assert sasl_token(rc, digest_response(challenge, "bob", "nope")) == \
        (zkraw.SESSION_CLOSED_REQUIRE_SASL, None)
    assert closed_soon(rc)
    word = "authentication" if zkharness.at_least(impl, 3, 9) else "authenticaiton"
    assert wait_log(server, "Closing client connection due to server requires client SASL "
                            + word)
    # kazoo with SASL is served.
    zk = sasl_client(server, "bob", "bobsecret")
    zk.start(timeout=15)
    assert zk.exists("/") is not None
    zkharness.close_clients(zk)


def test_enforce_auth_schemes_sasl(impl, tmp_path):
    server = start_enforced(impl, tmp_path, **{"enforce.auth.enabled": "true",
                                               "enforce.auth.schemes": "sasl"})
    rc = raw(server)
    r = rc.call(zkraw.OP_GET_CHILDREN, zkraw.Enc().string("/").bool(False).bytes())
    assert r.err == zkraw.SESSION_CLOSED_REQUIRE_SASL
    assert closed_soon(rc)
    ok = sasl_login_raw(server)
    assert "zookeeper" in ok.get_children("/")
    ok.close()


def test_no_server_section_answers_sasl_with_an_empty_ok(impl, tmp_path):
    jaas = "Other { org.apache.zookeeper.server.auth.DigestLoginModule required user_x=\"y\"; };\n"
    server = start(impl, tmp_path, jaas=jaas)
    rc = raw(server)
    assert sasl_token(rc, b"") == (0, None)
    assert not closed_soon(rc, 1.0)
    assert rc.exists("/") is not None
    rc.close()
    assert wait_log(server, "cnxn.saslServer is null")


@pytest.mark.parametrize("jaas", [
    "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_x=1; };\n",
    None,  # the file does not exist
])
def test_broken_jaas_file_refuses_to_start(impl, tmp_path, jaas):
    path = tmp_path / "jaas.conf"
    if jaas is not None:
        path.write_text(jaas)
    cfg = {"authProvider.1": SASL_PROVIDER, "java.security.auth.login.config": str(path)}
    with pytest.raises(zkharness.ServerStartError) as e:
        zkharness.start_server(impl, tmp_path, extra_cfg=cfg)
    text = str(e.value) + "".join(
        p.read_text(errors="replace") for p in tmp_path.glob("*/*.log"))
    assert "No JAAS configuration section named 'Server' was found in '%s'." % path in text


# -- real clients --------------------------------------------------------------------------------

def test_kazoo_upstream_sasl_digest_tests(impl, tmp_path):
    """kazoo's own TestSASLDigestAuthentication and TestLegacySASLDigestAuthentication,
    through kazoo's own 3-server harness (see test_kazoo_upstream)."""
    import test_kazoo_upstream as up
    import xml.etree.ElementTree as ET
    tests = ["test_sasl.py::TestSASLDigestAuthentication",
             "test_sasl.py::TestLegacySASLDigestAuthentication"]
    junit = tmp_path / "kazoo.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
         "--junitxml", str(junit)] + [str(up.KAZOO_TESTS / t) for t in tests],
        cwd=str(tmp_path), env=up.kazoo_env(impl, tmp_path), capture_output=True, text=True,
        timeout=900)
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    names = sorted(c.get("name") for c in cases)
    assert names == ["test_connect_sasl_auth", "test_connect_sasl_auth",
                     "test_invalid_sasl_auth", "test_invalid_sasl_auth"], out
    bad = [c.get("name") for c in cases if c.find("failure") is not None
           or c.find("error") is not None or c.find("skipped") is not None]
    assert proc.returncode == 0 and not bad, out


def test_zkcli_with_a_jaas_client_section(impl, tmp_path):
    """zkCli.sh (Java 3.8's client) logs in with the JAAS Client section and creates a node
    only bob can read."""
    server = start(impl, tmp_path)
    jaas = tmp_path / "jaas.conf"
    zkcli = "/usr/share/zookeeper/bin/zkCli.sh"
    if not os.path.exists(zkcli):
        pytest.fail("zkCli.sh missing")
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = "-Djava.security.auth.login.config=%s" % jaas
    cmd = [zkcli, "-server", server.connect_string]

    def run(*args):
        return subprocess.run(cmd + list(args), env=env, capture_output=True, text=True,
                              timeout=60)
    p = run("create", "/cli", "hello", "sasl:bob:cdrwa")
    assert "Created /cli" in p.stdout + p.stderr, p.stdout + p.stderr
    p = run("get", "/cli")
    assert "hello" in p.stdout, p.stdout + p.stderr
    anon = server.client()
    with pytest.raises(NoAuthError):
        anon.get("/cli")
    zkharness.close_clients(anon)


# -- ensembles -----------------------------------------------------------------------------------

def test_sasl_on_every_member_and_forwarded_writes(impl, tmp_path):
    """SASL is handled by the member the client is connected to; its `sasl` id travels with
    the writes a follower forwards, so the leader's ACL checks agree. For zkserver the
    ensemble is mixed: a Java node (of the same generation) among two zkserver nodes."""
    ref = zkharness.REFERENCE.get(impl, impl)
    if ref == "java39" and not (zkharness.JAVA39_DIR / "zookeeper-3.9.3.jar").exists():
        pytest.fail("no Java 3.9.3 jars in %s" % zkharness.JAVA39_DIR)
    impls = {1: ref, 2: impl, 3: impl}
    with zkharness.Ensemble(tmp_path, extra=sasl_cfg(tmp_path)) as ens:
        ens.start_all(impls)
        zkharness.wait_for(ens.leader, timeout=30, what="a leader")
        clients = {}
        try:
            for sid, srv in ens.servers.items():
                clients[sid] = sasl_login_raw(srv)
            clients[1].create("/s", b"0", acl=[(31, "sasl", "bob")])
            for sid, rc in clients.items():
                zkharness.wait_for(lambda: rc.exists("/s"), timeout=10, what="/s on %d" % sid)
                rc.set("/s", b"%d" % sid)
                assert rc.get("/s")[0] == b"%d" % sid
                alice = sasl_login_raw(ens.servers[sid], "alice", "alicesecret")
                with pytest.raises(zkraw.ZkError) as e:
                    alice.set("/s", b"x")
                assert e.value.code == zkraw.NO_AUTH
                with pytest.raises(zkraw.ZkError) as e:
                    alice.get("/s")
                assert e.value.code == zkraw.NO_AUTH
                alice.close()
            # `auth` expands on the leader to the forwarding session's sasl id.
            for sid, rc in clients.items():
                rc.create("/a%d" % sid, b"", acl=[(31, "auth", "")])
            for sid, rc in clients.items():
                d = rc.ok(zkraw.OP_GET_ACL, zkraw.Enc().string("/a%d" % sid).bytes())
                assert d.acls() == [(31, "sasl", "bob")], sid
        finally:
            for rc in clients.values():
                rc.close()


def test_sasl_serverconfig_names_the_section(impl, tmp_path):
    jaas = JAAS.replace("Server {", "MyServer {")
    server = start(impl, tmp_path, jaas=jaas, **{"sasl.serverconfig": "MyServer"})
    rc = sasl_login_raw(server)
    rc.create("/mine", b"", acl=[(31, "sasl", "bob")])
    assert rc.get("/mine")[0] == b""
    rc.close()


def test_sasl_on_an_observer(impl, tmp_path):
    ref = zkharness.REFERENCE.get(impl, impl)
    if ref == "java39" and not (zkharness.JAVA39_DIR / "zookeeper-3.9.3.jar").exists():
        pytest.fail("no Java 3.9.3 jars in %s" % zkharness.JAVA39_DIR)
    with zkharness.Ensemble(tmp_path, n=3, extra=sasl_cfg(tmp_path), observers=(3,)) as ens:
        ens.start_all({1: ref, 2: ref, 3: impl})
        assert zkharness.mode(ens.servers[3]) == "observer"
        rc = sasl_login_raw(ens.servers[3])
        try:
            rc.create("/o", b"1", acl=[(31, "sasl", "bob")])
            rc.set("/o", b"2")
            assert rc.get("/o")[0] == b"2"
            alice = sasl_login_raw(ens.servers[3], "alice", "alicesecret")
            with pytest.raises(zkraw.ZkError) as e:
                alice.set("/o", b"x")
            assert e.value.code == zkraw.NO_AUTH
            alice.close()
        finally:
            rc.close()


CURATOR_SASL = r"""
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;

public class CuratorSasl {
    public static void main(String[] args) throws Exception {
        try (CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], new RetryOneTime(500))) {
            c.start();
            c.blockUntilConnected();
            List<ACL> acl = List.of(new ACL(ZooDefs.Perms.ALL, new Id("sasl", "bob")));
            c.create().withACL(acl).forPath("/curator-sasl", "hi".getBytes());
            System.out.println("DATA " + new String(c.getData().forPath("/curator-sasl")));
            System.out.println("ACL " + c.getACL().forPath("/curator-sasl"));
        }
    }
}
"""


def test_curator_with_a_jaas_client_section(impl, tmp_path):
    """Curator (the ZooKeeper client of the server's generation) logs in through the JAAS
    Client section and reads back a node only bob may read."""
    import test_curator
    server = start(impl, tmp_path)
    src = tmp_path / "CuratorSasl.java"
    src.write_text(CURATOR_SASL)
    cp = ":".join(str(p) for p in test_curator.client_classpath(impl))
    p = subprocess.run(
        [test_curator.JAVA, "-cp", cp,
         "-Djava.security.auth.login.config=%s" % (tmp_path / "jaas.conf"),
         str(src), server.connect_string],
        capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "DATA hi" in p.stdout, p.stdout
    assert "sasl" in p.stdout and "bob" in p.stdout, p.stdout
    anon = server.client()
    with pytest.raises(NoAuthError):
        anon.get("/curator-sasl")
    zkharness.close_clients(anon)
