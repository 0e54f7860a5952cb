"""Helpers for tests that pause a server process (SIGSTOP) while the others go on: the
sockets a process holds, and a writer that proves the ensemble still commits."""

import os
import signal
import subprocess
import time
from contextlib import contextmanager


def established(pid: int, local_port: int) -> int:
    """How many established TCP connections process `pid` holds on its local `local_port`
    (a closed socket still draining to a paused peer belongs to no process)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True,
                         text=True, check=True).stdout
    n = 0
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 5 and "pid=%d," % pid in line and cols[2].endswith(":%d" % local_port):
            n += 1
    return n


@contextmanager
def paused(server):
    """SIGSTOP the server's process for the duration of the block, SIGCONT after."""
    pid = server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def write_for(seconds: float, leader_zk, base: str, other_zk=None, size: int = 4096) -> list:
    """Create nodes under `base` through `leader_zk` for `seconds`; every 25 creates one
    more through `other_zk` (a server that must keep serving). Returns the paths created."""
    payload = b"s" * size
    created = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        p = "%s/n%06d" % (base, i)
        leader_zk.create(p, payload)
        created.append(p)
        if other_zk is not None and i % 25 == 0:
            q = "%s/o%06d" % (base, i)
            other_zk.create(q, b"o")
            assert other_zk.get(q)[0] == b"o"
            created.append(q)
        i += 1
    return created


def assert_caught_up(zk, leader_zk, base: str, created: list) -> None:
    """After a sync on each, `zk`'s server holds what the leader holds under `base`: the
    same children, and the same data and stat for the first and last node written."""
    zk.sync(base)
    leader_zk.sync(base)
    assert sorted(zk.get_children(base)) == sorted(leader_zk.get_children(base))
    for p in (created[0], created[-1]):
        assert zk.get(p) == leader_zk.get(p)
