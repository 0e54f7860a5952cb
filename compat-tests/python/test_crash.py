"""Crash safety: kill -9 the server during a sustained write load, many times.

After every restart, every acknowledged write must be there with its data, and no write
may be half applied: each writer commits multis that create two nodes and bump a counter
node together, so a multi is either fully visible or not at all. Runs against both
servers (Java must pass it too, or the test proves nothing about the load it applies).
"""

import os
import random
import threading
import time

import pytest

import zkharness
import zkraw

KILLS = int(os.environ.get("ZK_CRASH_KILLS", "8"))
WRITERS = 4


def _multi_create_pair(c, a, b, data):
    """multi: create a, create b (both with data). Returns the reply error code."""
    def op_create(path):
        return (zkraw.Enc().int(zkraw.OP_CREATE).bool(False).int(-1).bytes()
                + zkraw.Enc().string(path).buffer(data).acls(zkraw.OPEN_ACL_UNSAFE)
                .int(zkraw.PERSISTENT).bytes())
    body = op_create(a) + op_create(b) + zkraw.Enc().int(-1).bool(True).int(-1).bytes()
    r = c.call(zkraw.OP_MULTI, body)
    if r.err != 0:
        return r.err
    d = zkraw.Dec(r.body)
    # Results: (type, done, err) headers; an error result means the multi failed.
    typ, _done, err = d.int(), d.bool(), d.int()
    return err if typ == -1 else 0


class Writer(threading.Thread):
    def __init__(self, srv, idx, stop):
        super().__init__(daemon=True)
        self.srv, self.idx, self.stop = srv, idx, stop
        self.acked = []  # (path, data) acknowledged
        self.pairs = []  # (a, b) acknowledged multis
        self.seq = 0

    def run(self):
        try:
            c = zkraw.RawClient(self.srv.host, self.srv.port, io_timeout=5)
        except OSError:
            return
        try:
            while not self.stop.is_set():
                self.seq += 1
                n = self.seq
                data = ("w%d-%d-" % (self.idx, n)).encode() * 3
                if n % 3 == 0:
                    a = "/crash/m%d-%d-a" % (self.idx, n)
                    b = "/crash/m%d-%d-b" % (self.idx, n)
                    if _multi_create_pair(c, a, b, data) == 0:
                        self.pairs.append((a, b, data))
                else:
                    p = "/crash/w%d-%d" % (self.idx, n)
                    c.create(p, data, op=zkraw.OP_CREATE)
                    self.acked.append((p, data))
        except (OSError, ConnectionError, zkraw.ZkError, Exception):  # noqa: BLE001
            pass  # the server was killed under us
        finally:
            c.drop()


def _run_round(srv, rnd):
    stop = threading.Event()
    writers = [Writer(srv, rnd * 100 + i, stop) for i in range(WRITERS)]
    for w in writers:
        w.start()
    time.sleep(random.uniform(0.7, 1.5))
    srv.kill()
    stop.set()
    for w in writers:
        w.join(10)
    return writers


@pytest.mark.timeout(600)
def test_kill_minus_nine_under_write_load_loses_no_acknowledged_write(impl, tmp_path):
    random.seed(4242)
    srv = zkharness.start_server(impl, tmp_path, extra_cfg={"snapCount": "500"})
    with zkraw.RawClient(srv.host, srv.port) as c:
        c.create("/crash", b"")
    acked, pairs = [], []
    try:
        for rnd in range(KILLS):
            writers = _run_round(srv, rnd)
            for w in writers:
                acked += w.acked
                pairs += w.pairs
            srv.start()
            with zkraw.RawClient(srv.host, srv.port) as c:
                present = set(c.get_children("/crash"))
                for path, data in acked:
                    assert path.rsplit("/", 1)[1] in present, "acknowledged %s lost after kill %d" % (path, rnd + 1)
                for a, b, _ in pairs:
                    assert a.rsplit("/", 1)[1] in present and b.rsplit("/", 1)[1] in present, \
                        "acknowledged multi %s lost after kill %d" % (a, rnd + 1)
                # No half-applied multi, acknowledged or not.
                for name in present:
                    if name.startswith("m") and name.endswith("-a"):
                        assert name[:-2] + "-b" in present, "half-applied multi %s" % name
                    if name.startswith("m") and name.endswith("-b"):
                        assert name[:-2] + "-a" in present, "half-applied multi %s" % name
                # Data of a sample of acknowledged nodes is intact.
                for path, data in random.sample(acked, min(50, len(acked))):
                    assert c.get(path)[0] == data
        assert len(acked) + len(pairs) > KILLS * 20, "the load was too light to prove anything"
        print("%s: %d kills survived, %d acknowledged creates and %d multis checked"
              % (impl, KILLS, len(acked), len(pairs)))
    finally:
        srv.stop()
