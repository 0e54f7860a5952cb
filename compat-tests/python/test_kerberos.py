"""SASL GSSAPI (Kerberos) on the client port, against a real MIT KDC (kdc.py), all four impls.

The server reads a JAAS `Server` section with Krb5LoginModule (keytab of
zookeeper/localhost@REALM) through -Djava.security.auth.login.config, and registers
SASLAuthenticationProvider. Clients: kazoo (puresasl + pykerberos) with a ticket from kinit,
zkCli.sh with a JAAS `Client` section, and raw sessions sending tokens no client sends.
Java gets the KDC's krb5.conf through -Djava.security.krb5.conf, zkserver through KRB5_CONFIG.
"""

import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

import kdc as kdcmod
import zkharness
import zkraw

pytestmark = pytest.mark.skipif(kdcmod.available() is not None,
                                reason=str(kdcmod.available()))

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
OP_SASL = 102
ERR_AUTH_FAILED = -115
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


class KrbServer(zkharness.Server):
    """A harness server with extra JVM -D properties (zkserver takes the same as -D
    arguments) and the KDC's environment."""

    def __init__(self, impl, workdir, port, extra_cfg, props, env, myid=None):
        self.props = list(props)
        self.env_extra = dict(env)
        super().__init__(impl, workdir, port, extra_cfg, myid=myid)

    def _command(self):
        cmd = super()._command()
        if zkharness.is_java(self.impl):
            main = cmd.index(zkharness.JAVA_MAIN)
            return cmd[:main] + self.props + cmd[main:]
        return cmd[:1] + self.props + cmd[1:]

    def start(self, wait=True, timeout=zkharness.READY_TIMEOUT):
        saved = dict(os.environ)
        os.environ.update(self.env_extra)
        try:
            return super().start(wait, timeout)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def jaas_server(keytab, principal) -> str:
    return (
        "Server {\n"
        "  com.sun.security.auth.module.Krb5LoginModule required\n"
        "  useKeyTab=true\n"
        '  keyTab="%s"\n'
        "  storeKey=true\n"
        "  useTicketCache=false\n"
        '  principal="%s";\n'
        "};\n" % (keytab, principal))


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    # A small clock skew so that test_expired_ticket sees its ticket expire within seconds.
    with kdcmod.Kdc(tmp_path_factory.mktemp("kdc"), clockskew_s=2) as k:
        k.service_keytab = k.add_principal("zookeeper/localhost")
        k.client_keytab = k.add_principal("client")
        k.other_keytab = k.add_principal("other/localhost")
        yield k


def start_krb_server(impl, tmp, kdc, jaas_text, extra_cfg=None):
    jaas = Path(tmp) / "jaas.conf"
    jaas.parent.mkdir(parents=True, exist_ok=True)
    jaas.write_text(jaas_text)
    cfg = {"authProvider.1": SASL_PROVIDER}
    cfg.update(extra_cfg or {})
    props = ["-Djava.security.auth.login.config=%s" % jaas] + kdc.java_props()
    port = zkharness.free_port()
    srv = KrbServer(impl, Path(tmp) / ("%s-%d" % (impl, port)), port, cfg, props, {
        k: v for k, v in kdc.env().items() if k.startswith("KRB5")})
    return srv


@pytest.fixture(scope="module")
def server(impl, kdc, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("krb-%s" % impl)
    srv = start_krb_server(impl, tmp, kdc, jaas_server(
        kdc.service_keytab, kdc.principal("zookeeper/localhost")))
    srv.start()
    yield srv
    srv.stop()


def kazoo_gssapi(kdc, server, tmp_path, name="client", keytab=None, service="zookeeper"):
    """A kazoo client authenticating with GSSAPI; the ticket is `name`'s, in its own cache."""
    from kazoo.client import KazooClient
    ccache = Path(tmp_path) / ("cc-%s-%s" % (name.replace("/", "_"), time.monotonic_ns()))
    kdc.kinit(name, keytab or kdc.client_keytab, ccache)
    env = kdc.env(ccache)
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME")}
    os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
    os.environ["KRB5CCNAME"] = env["KRB5CCNAME"]
    try:
        # "localhost": kazoo asks for the ticket of <service>@<the host it connects to>.
        zk = KazooClient(hosts="localhost:%d" % server.port, timeout=10,
                         sasl_options={"mechanism": "GSSAPI", "service": service},
                         connection_retry={"max_tries": 0})
        try:
            zk.start(timeout=15)
            # kazoo reports CONNECTED before its SASL exchange, which reads the environment:
            # the first request completes only after it.
            zk.exists("/")
        except BaseException:
            zk.stop()
            zk.close()
            raise
        return zk
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def plain_kazoo(server):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=server.connect_string, timeout=10)
    zk.start(timeout=15)
    return zk


def test_kazoo_gssapi_sasl_acl(kdc, server, tmp_path):
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_acl
    if not zkharness.is_java(server.impl):
        maps = Path("/proc/%d/maps" % server.proc.pid).read_text()
        assert "libgssapi_krb5" in maps
    zk = kazoo_gssapi(kdc, server, tmp_path)
    other = plain_kazoo(server)
    path = "/krb-%d" % time.monotonic_ns()
    try:
        who = "client@%s" % kdc.realm  # KerberosName: short name + "@" + realm
        zk.create(path, b"secret", acl=[make_acl("sasl", who, all=True)])
        assert zk.get(path)[0] == b"secret"
        acl, _ = zk.get_acls(path)
        assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("sasl", who, 31)]
        with pytest.raises(NoAuthError):
            other.get(path)
        if zkharness.at_least(server.impl, 3, 9):
            # 3.9 checks READ on exists too.
            with pytest.raises(NoAuthError):
                other.exists(path)
        else:
            assert other.exists(path) is not None
        zk.delete(path)
    finally:
        zk.stop()
        zk.close()
        other.stop()
        other.close()
    server.check_alive()


@pytest.mark.parametrize("remove", ["realm", "host"])
def test_kerberos_name_rules(impl, kdc, tmp_path, remove):
    """kerberos.removeRealmFromPrincipal / removeHostFromPrincipal shape the sasl id from the
    principal (KerberosName's DEFAULT rule: the realm is krb5.conf's default realm)."""
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_acl
    srv = start_krb_server(impl, tmp_path, kdc, jaas_server(
        kdc.service_keytab, kdc.principal("zookeeper/localhost")),
        {"kerberos.remove%sFromPrincipal" % remove.capitalize(): "true"})
    srv.start()
    try:
        zk = kazoo_gssapi(kdc, srv, tmp_path)
        try:
            # client@REALM has no host: removing the host changes nothing.
            who = "client" if remove == "realm" else "client@%s" % kdc.realm
            other = "client@%s" % kdc.realm if remove == "realm" else "client"
            zk.create("/mine", b"x", acl=[make_acl("sasl", who, all=True)])
            assert zk.get("/mine")[0] == b"x"
            zk.create("/theirs", b"y", acl=[make_acl("sasl", other, all=True)])
            with pytest.raises(NoAuthError):
                zk.get("/theirs")
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()


def test_ticket_for_another_service_fails(kdc, server, tmp_path):
    from kazoo.exceptions import AuthFailedError, ConnectionLoss
    with pytest.raises((AuthFailedError, ConnectionLoss)):
        zk = kazoo_gssapi(kdc, server, tmp_path, service="other")
        zk.stop()
        zk.close()
    # Others are served.
    ok = kazoo_gssapi(kdc, server, tmp_path)
    assert ok.exists("/") is not None
    ok.stop()
    ok.close()
    server.check_alive()


def sasl_body(token: bytes) -> bytes:
    return zkraw.Enc().buffer(token).bytes()


def ap_req(kdc, tmp_path, service_host="zookeeper@localhost", lifetime=None) -> bytes:
    """A real first GSSAPI token (AP-REQ) of `client` for `service_host`."""
    import base64
    import kerberos
    ccache = Path(tmp_path) / ("cc-raw-%d" % time.monotonic_ns())
    kdc.kinit("client", kdc.client_keytab, ccache, lifetime=lifetime)
    env = kdc.env(ccache)
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME")}
    os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
    os.environ["KRB5CCNAME"] = env["KRB5CCNAME"]
    try:
        _, ctx = kerberos.authGSSClientInit(service_host)
        kerberos.authGSSClientStep(ctx, "")
        return base64.b64decode(kerberos.authGSSClientResponse(ctx))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sasl_outcome(server, token: bytes):
    """Sends one SASL token on a fresh session; returns (err or None, closed)."""
    c = zkraw.RawClient(server.host, server.port)
    try:
        try:
            r = c.call(OP_SASL, sasl_body(token))
            err = r.err
        except ConnectionError:
            err = None
        closed = c.closed.wait(5)
        return err, closed
    finally:
        c.drop()


@pytest.mark.parametrize("kind", ["garbled", "truncated", "empty", "other-service",
                                  "header-then-junk", "huge-length", "one-byte"])
def test_bad_tokens(kdc, server, tmp_path, kind):
    good = ap_req(kdc, tmp_path)
    token = {
        "garbled": bytes(b ^ 0x5A for b in good),
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "other-service": ap_req(kdc, tmp_path, "other@localhost"),
        # The GSS framing and Kerberos OID of a real token, then bytes no client sends.
        "header-then-junk": good[:19] + os.urandom(200),
        # An ASN.1 length claiming far more than the token holds.
        "huge-length": b"\x60\x84\x7f\xff\xff\xff" + good[6:40],
        "one-byte": b"\x60",
    }[kind]
    err, closed = sasl_outcome(server, token)
    print("OUTCOME", server.impl, kind, err, closed)
    # Java: the SaslException is logged, the reply is AUTHFAILED and the connection closed.
    assert (err, closed) == (ERR_AUTH_FAILED, True)
    ok = plain_kazoo(server)
    assert ok.exists("/") is not None
    ok.stop()
    ok.close()
    server.check_alive()


def test_expired_ticket(kdc, server, tmp_path):
    """An AP-REQ whose service ticket has expired (3 s lifetime, 2 s clock skew)."""
    token = ap_req(kdc, tmp_path, lifetime="3s")
    time.sleep(6)
    err, closed = sasl_outcome(server, token)
    assert (err, closed) == (ERR_AUTH_FAILED, True)
    server.check_alive()


def test_replayed_ap_req_is_refused(kdc, server, tmp_path):
    token = ap_req(kdc, tmp_path)
    c = zkraw.RawClient(server.host, server.port)
    try:
        first = c.call(OP_SASL, sasl_body(token))
        assert first.err == 0
    finally:
        c.drop()
    err, closed = sasl_outcome(server, token)
    assert closed, err
    server.check_alive()


def gss_client(kdc, tmp_path, service_host="zookeeper@localhost"):
    """A pykerberos initiator context for `client` (mutual authentication, as puresasl)."""
    import kerberos
    ccache = Path(tmp_path) / ("cc-ctx-%d" % time.monotonic_ns())
    kdc.kinit("client", kdc.client_keytab, ccache)
    env = kdc.env(ccache)
    os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
    os.environ["KRB5CCNAME"] = env["KRB5CCNAME"]
    _, ctx = kerberos.authGSSClientInit(service_host)
    return ctx


@pytest.mark.parametrize("final", ["garbage", "unwrapped", "integrity-layer", "empty"])
def test_bad_security_layer_answer(kdc, server, tmp_path, final):
    """The context is established, then the client's answer to the wrapped offer is wrong."""
    import base64
    import kerberos
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME")}
    try:
        ctx = gss_client(kdc, tmp_path)
        kerberos.authGSSClientStep(ctx, "")
        c = zkraw.RawClient(server.host, server.port)
        try:
            r = c.call(OP_SASL, sasl_body(base64.b64decode(kerberos.authGSSClientResponse(ctx))))
            assert r.err == 0
            ap_rep = zkraw.Dec(r.body).buffer()
            assert kerberos.authGSSClientStep(ctx, base64.b64encode(ap_rep).decode()) == 1
            r = c.call(OP_SASL, sasl_body(b""))
            assert r.err == 0
            offer = zkraw.Dec(r.body).buffer()
            kerberos.authGSSClientUnwrap(ctx, base64.b64encode(offer).decode())
            # Java offers only "auth" (no security layer) and a 65536-byte buffer.
            assert base64.b64decode(kerberos.authGSSClientResponse(ctx)) == b"\x01\x01\x00\x00"
            plain = {"garbage": None, "unwrapped": None, "empty": None,
                     "integrity-layer": b"\x02\x01\x00\x00client"}[final]
            if plain is not None:
                kerberos.authGSSClientWrap(ctx, base64.b64encode(plain).decode())
                token = base64.b64decode(kerberos.authGSSClientResponse(ctx))
            else:
                token = {"garbage": os.urandom(60), "unwrapped": b"\x01\x01\x00\x00client",
                         "empty": b""}[final]
            try:
                err = c.call(OP_SASL, sasl_body(token)).err
            except ConnectionError:
                err = None
            assert err == ERR_AUTH_FAILED
            assert c.closed.wait(5)
        finally:
            c.drop()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    server.check_alive()


def test_super_user(impl, kdc, tmp_path):
    """zookeeper.superUser names a Kerberos sasl id: that client is super."""
    from kazoo.security import make_acl
    srv = start_krb_server(impl, tmp_path, kdc, jaas_server(
        kdc.service_keytab, kdc.principal("zookeeper/localhost")),
        {"superUser": "client@%s" % kdc.realm})
    srv.start()
    try:
        zk = kazoo_gssapi(kdc, srv, tmp_path)
        try:
            zk.create("/locked", b"x", acl=[make_acl("digest", "nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", all=True)])
            assert zk.get("/locked")[0] == b"x"
            zk.delete("/locked")
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()


def test_gssapi_client_against_a_digest_only_server(impl, kdc, tmp_path):
    """No Kerberos login on the server (a DigestLoginModule section): Java's DIGEST-MD5
    server takes the AP-REQ as the client's opening and answers its challenge (OK, the
    connection kept); the GSSAPI client cannot read that and gives up; others are served."""
    from kazoo.exceptions import AuthFailedError, ConnectionLoss
    srv = start_krb_server(impl, tmp_path, kdc, (
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  user_bob="bobsecret";\n};\n'))
    srv.start()
    try:
        if not zkharness.is_java(impl):
            # zkserver opens the Kerberos library only for a Krb5LoginModule section.
            maps = Path("/proc/%d/maps" % srv.proc.pid).read_text()
            assert "libgssapi_krb5" not in maps
        c = zkraw.RawClient(srv.host, srv.port)
        try:
            r = c.call(OP_SASL, sasl_body(ap_req(kdc, tmp_path)))
            assert r.err == 0
            assert b'realm="zk-sasl-md5"' in zkraw.Dec(r.body).buffer()
            assert not c.closed.wait(1)
        finally:
            c.drop()
        with pytest.raises((AuthFailedError, ConnectionLoss)):
            zk = kazoo_gssapi(kdc, srv, tmp_path)
            zk.stop()
            zk.close()
        ok = plain_kazoo(srv)
        assert ok.exists("/") is not None
        ok.stop()
        ok.close()
        srv.check_alive()
    finally:
        srv.stop()


def test_zkcli_with_jaas_client_section(kdc, server, tmp_path):
    if not os.path.exists(ZKCLI):
        pytest.skip("zkCli.sh not installed")
    jaas = tmp_path / "client-jaas.conf"
    jaas.write_text(
        "Client {\n"
        "  com.sun.security.auth.module.Krb5LoginModule required\n"
        "  useKeyTab=true\n"
        '  keyTab="%s"\n'
        "  storeKey=true\n"
        "  useTicketCache=false\n"
        '  principal="%s";\n'
        "};\n" % (kdc.client_keytab, kdc.principal("client")))
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = " ".join([
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Djava.security.auth.login.config=%s" % jaas] + kdc.java_props())
    env.pop("JVMFLAGS", None)
    path = "/krbcli-%d" % time.monotonic_ns()
    who = "client@%s" % kdc.realm
    script = "create %s data sasl:%s:cdrwa\nget %s\ngetAcl %s\ndelete %s\nquit\n" % (
        path, who, path, path, path)
    proc = subprocess.run([ZKCLI, "-server", "localhost:%d" % server.port], input=script,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, env=env)
    out = proc.stdout
    assert "Created %s" % path in out, out
    assert "\ndata\n" in out, out
    assert "'sasl,'%s" % who in out, out
    assert "Authentication failed" not in out and "AuthFailed" not in out, out


def test_service_principal_without_host(impl, kdc, tmp_path):
    """A Server principal without "/host": Java cannot split it into service and host, logs
    "server principal name/hostname determination error", and the connection has no SASL
    server: each token is answered OK with no token ("cnxn.saslServer is null") and nothing
    is authenticated."""
    kt = kdc.add_principal("zookeeper-nohost-%s" % impl)
    srv = start_krb_server(impl, tmp_path, kdc, jaas_server(
        kt, kdc.principal("zookeeper-nohost-%s" % impl)))
    srv.start()
    try:
        c = zkraw.RawClient(srv.host, srv.port)
        try:
            r = c.call(OP_SASL, sasl_body(ap_req(kdc, tmp_path)))
            assert r.err == 0
            assert zkraw.Dec(r.body).buffer() is None
            assert not c.closed.wait(1)
        finally:
            c.drop()
        srv.check_alive()
    finally:
        srv.stop()
    log = srv.log_path.read_text()
    assert "server principal name/hostname determination error" in log
    assert "cnxn.saslServer is null" in log


def test_missing_keytab_fails_startup(impl, kdc, tmp_path):
    srv = start_krb_server(impl, tmp_path, kdc, jaas_server(
        tmp_path / "no-such.keytab", kdc.principal("zookeeper/localhost")))
    with pytest.raises(zkharness.ServerStartError):
        srv.start(timeout=20)
    srv.kill()
    assert srv.proc is None or srv.proc.poll() not in (None, 0)
