#!/usr/bin/python3
"""Restart-to-serving on a copy of a dataDir: process start to the first successful getData.

    tools/restart_time.py FIXTURE_DIR NAME=CMD [NAME=CMD ...] [--runs N] [--path /zkbench]

Each CMD is a server command line with `{cfg}` where the zoo.cfg goes (for example
`zkserver {cfg}` or a `java ... QuorumPeerMain {cfg}` line). Per run and server, in turn
(alternating which goes first): FIXTURE_DIR is copied to a fresh folder, a zoo.cfg with a free
port and snapCount=10000000 is written, the server is started, a raw client connects every
10 ms and asks getData(PATH) until it gets an answer with err 0, then the server is killed
with SIGKILL. Prints one line per run and the median per server, with the load average.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_frame(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise OSError("closed")
            b += c
        return b

    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def get_data_ok(port, path):
    """One session: connect, getData(path); True if answered with err 0."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            req = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0"
            s.sendall(struct.pack(">i", len(req)) + req)
            resp = recv_frame(s)
            if struct.unpack(">q", resp[8:16])[0] == 0:
                return False  # refused session
            p = path.encode()
            req = struct.pack(">ii", 1, 4) + struct.pack(">i", len(p)) + p + b"\0"
            s.sendall(struct.pack(">i", len(req)) + req)
            resp = recv_frame(s)
            _xid, _zxid, err = struct.unpack(">iqi", resp[:16])
            return err == 0
    except OSError:
        return False


def one_run(fixture, cmd, path, log):
    work = tempfile.mkdtemp(prefix="restart-")
    data = os.path.join(work, "data")
    shutil.copytree(fixture, data)
    port = free_port()
    cfg = os.path.join(work, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(
            f"tickTime=2000\ndataDir={data}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
            "snapCount=10000000\nadmin.enableServer=false\n4lw.commands.whitelist=*\n"
        )
    subprocess.run(["sync"], check=False)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd.format(cfg=cfg), shell=True, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        while not get_data_ok(port, path):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {cmd}")
            if time.monotonic() - t0 > 300:
                raise RuntimeError("not serving after 300 s")
            time.sleep(0.01)
        return time.monotonic() - t0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = sys.argv[1:]
    runs, path = 3, "/zkbench"
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    if "--path" in args:
        i = args.index("--path")
        path = args[i + 1]
        del args[i:i + 2]
    fixture, servers = args[0], [a.split("=", 1) for a in args[1:]]
    times = {name: [] for name, _ in servers}
    with open(os.path.join(tempfile.gettempdir(), "restart_time.log"), "ab") as log:
        for r in range(runs):
            order = servers if r % 2 == 0 else servers[::-1]
            for name, cmd in order:
                t = one_run(fixture, cmd, path, log)
                times[name].append(t)
                print(f"run {r} {name}: {t:.3f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    for name, ts in times.items():
        ts = sorted(ts)
        print(f"{name}: median {ts[len(ts) // 2]:.3f} s, min {ts[0]:.3f}, max {ts[-1]:.3f}")


if __name__ == "__main__":
    main()
