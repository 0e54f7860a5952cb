"""cli_mt (Debian's zookeeper-bin, the C client 3.8.0) and TLS: it has none, against every server.

The C client speaks TLS only when built with OpenSSL (HAVE_OPENSSL_H): then libzookeeper_mt
has `zookeeper_init_ssl` and links libssl, and cli.c lists `-s, --ssl <ssl params>` in its
usage and calls zookeeper_init_ssl for `-s`. Without it, `-s` is still parsed (getopt's
"h:s:..." is unconditional) but its argument is dropped and the client connects in
plaintext. test_build_has_no_tls asserts the evidence that Debian's build is the latter;
the other tests show what follows, the same for Java and zkserver: `-s` changes nothing on
the plaintext port, and on the TLS-only secure port the plaintext ConnectRequest is refused
(Java: NotSslRecordException; zkserver: a corrupt TLS record) and the command fails with
ZCONNECTIONLOSS (-4) without a session, while the server keeps serving TLS clients.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from test_tls import start_tls, certs, tls_session  # noqa: F401 -- certs is a fixture
from zkharness import is_java, selected_impls

CLI_MT = os.environ.get("CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")
LIB = "libzookeeper_mt.so.2"

pytestmark = pytest.mark.skipif(not os.path.exists(CLI_MT), reason="cli_mt not installed")


def _run(*cmd, timeout=20):
    return subprocess.run(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout).stdout


def _library_path():
    """Where cli_mt's libzookeeper_mt resolves to (from ldd)."""
    for line in _run("ldd", CLI_MT).splitlines():
        m = re.match(r"\s*%s => (\S+)" % re.escape(LIB), line)
        if m:
            return m.group(1)
    pytest.fail("cli_mt does not link %s:\n%s" % (LIB, _run("ldd", CLI_MT)), pytrace=False)


def test_build_has_no_tls():
    lib = _library_path()
    for binary in (CLI_MT, lib):
        linked = _run("ldd", binary)
        assert "libssl" not in linked and "libcrypto" not in linked, linked
    symbols = _run("nm", "-D", lib)
    assert re.search(r" T zookeeper_init$", symbols, re.M), "nm sees no symbols:\n" + symbols
    assert "zookeeper_init_ssl" not in symbols
    # No OpenSSL function is called (an OpenSSL build imports SSL_CTX_new, SSL_connect, ...).
    assert not re.search(r" U (SSL|OPENSSL|TLS)_", symbols, re.M), symbols
    usage = _run(CLI_MT)
    assert "-h, --host" in usage, usage
    assert "--ssl" not in usage, usage
    assert "version 3.8.0" in usage, usage


def cli_mt(port, *args):
    return _run(CLI_MT, "-h", "127.0.0.1:%d" % port, *args, "-c", "ls /", timeout=15)


def ssl_args(d):
    """cli.c's `-s` value: server CA, client certificate, client key, key password."""
    return "-s", "%s,%s,%s,unused" % (d / "a-ca.pem", d / "alice.crt", d / "alice.key")


@pytest.mark.parametrize("impl", selected_impls())
def test_ssl_args_do_nothing_and_the_secure_port_refuses_cli_mt(impl, tmp_path, certs):  # noqa: F811
    server, secure = start_tls(impl, tmp_path, certs)
    try:
        # The plaintext port: `-s` is accepted and ignored, the command is served.
        out = cli_mt(server.port, *ssl_args(certs))
        assert "/: rc = 0" in out and "\tzookeeper" in out, out
        # The secure port, with and without `-s`: a plaintext ConnectRequest, refused.
        for args in (ssl_args(certs), ()):
            out = cli_mt(secure, *args)
            assert "/: rc = -4" in out, out
            assert "failed while receiving a server response" in out, out
            assert "\tzookeeper" not in out and "rc = 0" not in out, out
        # What the server saw: not TLS (the ConnectRequest's length 45 = 0x2d comes first).
        log = server.log_path.read_text(errors="replace")
        if is_java(impl):
            assert "NotSslRecordException: not an SSL/TLS record: 0000002d" in log, log[-3000:]
        else:
            assert "Unsuccessful handshake" in log and "InvalidContentType" in log, log[-3000:]
        # And it still serves TLS clients.
        assert tls_session(certs, secure, "alice")
        server.check_alive()
    finally:
        server.stop()
