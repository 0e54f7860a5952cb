"""Fixtures shared by every compat suite.

- `impl`: one of zkharness.IMPLS: java (3.8.0), zkrs (ours, 3.8 mode), java39 (3.9.3) and
  zkrs39 (ours, 3.9 mode). Each test runs against every one ZK_IMPLS names (default all;
  ZK_IMPLS=java,zkrs restricts it for local debugging; tools/test.sh runs all four).
- `server`: one running server per impl per test module (started once, stopped after).
- `zk`: a connected kazoo client on `server`; `zk.base` is a unique, already created
  path for this test, deleted (recursively) afterwards.
- `zk_factory`: make more clients on `server` (closed afterwards).
"""

import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zkharness  # noqa: E402


def _impls():
    raw = os.environ.get("ZK_IMPLS", ",".join(zkharness.IMPLS))
    impls = [i.strip() for i in raw.split(",") if i.strip()]
    bad = [i for i in impls if i not in zkharness.IMPLS]
    if bad:
        raise pytest.UsageError("ZK_IMPLS: unknown impl(s) %s (known: %s)" % (bad, zkharness.IMPLS))
    return impls


# Servers are killed at exit (zkharness registers an atexit hook); make SIGTERM an exit too.
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

IMPL_PARAMS = [pytest.param(i, id=i) for i in _impls()]

# A server that failed to start is not retried for every test of the module: the error
# is remembered per (module, impl) and re-raised, so a broken zkserver costs one timeout.
_start_failures = {}


@pytest.fixture(scope="module", params=IMPL_PARAMS)
def impl(request):
    return request.param


@pytest.fixture(scope="module")
def server(impl, request, tmp_path_factory):
    key = (request.module.__name__, impl)
    if key in _start_failures:
        pytest.fail(_start_failures[key], pytrace=False)
    tmp = tmp_path_factory.mktemp("%s-%s" % (request.module.__name__.rsplit(".", 1)[-1], impl))
    srv = error = None
    try:
        srv = zkharness.start_server(impl, tmp)
    except zkharness.ServerStartError as e:
        error = str(e)
    if error is not None:
        _start_failures[key] = error
        pytest.fail(error, pytrace=False)
    yield srv
    srv.stop()


class _Clients:
    def __init__(self, server):
        self.server = server
        self.clients = []

    def __call__(self, **kwargs):
        c = self.server.client(**kwargs)
        self.clients.append(c)
        return c

    def close_all(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass


def _alive(server):
    try:
        server.check_alive()
    except zkharness.ServerDiedError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def zk_factory(server):
    _alive(server)
    clients = _Clients(server)
    yield clients
    clients.close_all()


def _base_path(request):
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.originalname or request.node.name)
    return "/t_%s_%s" % (name[:60], uuid.uuid4().hex[:8])


@pytest.fixture
def zk(server, request):
    _alive(server)
    client = server.client()
    client.base = _base_path(request)
    client.ensure_path(client.base)
    yield client
    try:
        if client.connected:
            client.delete(client.base, recursive=True)
    except Exception:  # noqa: BLE001 -- cleanup is best effort (e.g. after ACL tests)
        pass
    finally:
        client.stop()
        client.close()


@pytest.fixture
def raw_factory(server):
    """Make raw protocol clients (zkraw.RawClient) on `server`; all closed afterwards."""
    import zkraw

    _alive(server)
    made = []

    def make(**kwargs):
        c = zkraw.RawClient(server.host, server.port, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def raw(raw_factory):
    """A raw protocol client (zkraw.RawClient) with a fresh session on `server`."""
    return raw_factory()
