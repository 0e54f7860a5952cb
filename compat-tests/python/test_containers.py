"""Container and TTL nodes are reaped by the container manager (both servers).

Java's ContainerManager runs every `znode.container.checkIntervalMs` (a JVM property for
Java, a zoo.cfg key for zkserver; the harness passes it both ways): it deletes containers
that had children once and have none now, and TTL nodes without children whose mtime is
older than their TTL.
"""

import time

import pytest

import zkharness
import zkraw

INTERVAL_MS = 200


@pytest.fixture(scope="module")
def reaping(impl, tmp_path_factory):
    srv = zkharness.start_server(impl, tmp_path_factory.mktemp("reap-" + impl),
                                 extra_cfg={"znode.container.checkIntervalMs": str(INTERVAL_MS)})
    yield srv
    srv.stop()


def _gone_within(c, path, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if c.exists(path) is None:
            return True
        time.sleep(0.05)
    return False


def test_empty_container_that_had_children_is_deleted(reaping):
    with zkraw.RawClient(reaping.host, reaping.port) as c:
        c.create("/ctr", b"", zkraw.CONTAINER)
        c.create("/ctr/child", b"")
        assert c.exists("/ctr", watch=True) is not None
        c.delete("/ctr/child")
        assert _gone_within(c, "/ctr", 10), "container not reaped"
        ev = c.next_event(5)
        assert (ev.type, ev.path) == (2, "/ctr")  # NodeDeleted


def test_container_that_never_had_children_stays(reaping):
    with zkraw.RawClient(reaping.host, reaping.port) as c:
        c.create("/ctr-never", b"", zkraw.CONTAINER)
        time.sleep(INTERVAL_MS * 5 / 1000)
        assert c.exists("/ctr-never") is not None
        c.delete("/ctr-never")


def test_container_with_children_stays(reaping):
    with zkraw.RawClient(reaping.host, reaping.port) as c:
        c.create("/ctr-full", b"", zkraw.CONTAINER)
        c.create("/ctr-full/a", b"")
        time.sleep(INTERVAL_MS * 5 / 1000)
        assert c.exists("/ctr-full") is not None
        c.delete("/ctr-full/a")
        assert _gone_within(c, "/ctr-full", 10)


def test_ttl_node_expires_after_its_ttl(reaping):
    with zkraw.RawClient(reaping.host, reaping.port) as c:
        c.create("/ttl-short", b"x", zkraw.PERSISTENT_WITH_TTL, ttl=300)
        assert c.exists("/ttl-short") is not None
        assert _gone_within(c, "/ttl-short", 10), "TTL node not reaped"


def test_ttl_node_with_children_or_fresh_mtime_stays(reaping):
    with zkraw.RawClient(reaping.host, reaping.port) as c:
        c.create("/ttl-parent", b"", zkraw.PERSISTENT_WITH_TTL, ttl=300)
        c.create("/ttl-parent/kid", b"")
        c.create("/ttl-long", b"", zkraw.PERSISTENT_WITH_TTL, ttl=60000)
        time.sleep(1.5)
        assert c.exists("/ttl-parent") is not None
        assert c.exists("/ttl-long") is not None
        c.delete("/ttl-parent/kid")
        assert _gone_within(c, "/ttl-parent", 10)
        c.delete("/ttl-long")
