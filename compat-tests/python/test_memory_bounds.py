"""Memory bounds: clients that never read, clients that send faster than the server
answers, and 10k connections doing it at once (both servers).

The server must not hold every reply a client asked for and does not read: its resident
memory stays under a stated bound, every other client keeps its latency, and a client that
reads late still gets every reply, in order. Each test starts its own server (Java runs with
-Xmx256m, the harness's setting, so its growth is capped by its heap; zkserver stops reading
such a client instead, see server/src/flow.rs).

The bounds asserted hold for both servers; the growth each server showed is printed (run
with -s to see it) and recorded in README.md.
"""

import socket
import struct
import threading
import time

import pytest

import zkharness
import zkraw

MB = 1 << 20

# RSS growth allowed while the never-reading clients below flood the server (both servers;
# Java's heap is capped at 256 MB by the harness, zkserver holds a bounded number of
# unsent reply bytes: 1 MiB per connection, 64 MiB in total, plus one reply per connection).
GROWTH_BOUND_MB = 400
# Another client's reads while the flood goes on.
OTHER_P99_BOUND_S = 1.0
OTHER_MAX_BOUND_S = 5.0


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class RssPeak:
    """Samples a process's RSS every 50 ms until stopped; `growth_mb` from the first sample."""

    def __init__(self, pid):
        self.pid = pid
        self.base = _rss_kb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, _rss_kb(self.pid))
            except (OSError, RuntimeError):
                return
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_kb(self.pid))
        return self.growth_mb()

    def growth_mb(self):
        return (self.peak - self.base) / 1024.0


class OtherClient:
    """A kazoo client reading a small node in a loop; its latencies, in seconds."""

    def __init__(self, srv):
        self.zk = srv.client()
        self.zk.create("/other", b"x" * 100)
        self.lat = []
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                assert self.zk.get("/other")[0] == b"x" * 100
            except Exception as e:  # noqa: BLE001 -- reported by check()
                self.errors.append(repr(e))
                time.sleep(0.5)
                continue
            self.lat.append(time.monotonic() - t)
            time.sleep(0.01)

    def check(self, p99_bound_s=OTHER_P99_BOUND_S, max_bound_s=OTHER_MAX_BOUND_S,
              min_replies=10, losses_allowed=False):
        """Asserts the other client was served throughout; returns (p99, max) in seconds.
        `losses_allowed`: connection losses (kazoo reconnects) are reported, not failed."""
        self._stop.set()
        self._t.join()
        self.zk.stop()
        self.zk.close()
        if losses_allowed:
            assert all("ConnectionLoss" in e for e in self.errors), self.errors[:3]
            if self.errors:
                print("\nother client lost its connection %d times" % len(self.errors))
        else:
            assert not self.errors, self.errors[:3]
        assert len(self.lat) >= min_replies, "the other client got only %d replies" % len(self.lat)
        lat = sorted(self.lat)
        p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
        assert p99 < p99_bound_s and lat[-1] < max_bound_s, (p99, lat[-1])
        return p99, lat[-1]


def _connect_request(timeout_ms=30000):
    body = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
    return struct.pack(">i", len(body)) + body


def _get_data(xid, path):
    body = struct.pack(">ii", xid, zkraw.OP_GET_DATA) + zkraw.Enc().string(path).bool(False).bytes()
    return struct.pack(">i", len(body)) + body


def _set_data(xid, path, data):
    body = (struct.pack(">ii", xid, zkraw.OP_SET_DATA)
            + zkraw.Enc().string(path).buffer(data).int(-1).bytes())
    return struct.pack(">i", len(body)) + body


def _raw_connect(srv, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # A small receive buffer: the kernel holds little of what the client does not read.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect((srv.host, srv.port))
    return s


def _session(srv, rcvbuf=None):
    """A raw connection with a new session (the ConnectResponse read): requests are sent
    only once the session exists."""
    s = _raw_connect(srv, rcvbuf)
    s.sendall(_connect_request())
    _recv_frame(s)
    return s


def _flood(sock, frames, seconds):
    """Send `frames` (bytes) over and over for `seconds` without ever reading; returns how
    many bytes went out (the server's kernel buffers and what it read)."""
    sock.setblocking(False)
    sent = 0
    pending = memoryview(b"")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pending:
            pending = memoryview(frames)
        try:
            n = sock.send(pending)
            pending = pending[n:]
            sent += n
        except BlockingIOError:
            time.sleep(0.005)
    return sent


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("server closed the connection after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def _recv_frame(sock):
    (n,) = struct.unpack(">i", _recv_exact(sock, 4))
    return _recv_exact(sock, n)


def _read_replies(sock, count):
    """Read `count` replies; returns [(xid, err, body)] (watch events skipped)."""
    out = []
    while len(out) < count:
        f = _recv_frame(sock)
        xid, _zxid, err = struct.unpack_from(">iqi", f)
        if xid == zkraw.XID_NOTIFICATION:
            continue
        out.append((xid, err, f[16:]))
    return out


@pytest.fixture()
def fresh(impl, tmp_path):
    # A long accept queue: with Java's default of 50, 10k connects take over a minute.
    srv = zkharness.start_server(impl, tmp_path, extra_cfg={
        "maxClientCnxns": "0", "clientPortListenBacklog": "4096"})
    yield srv
    srv.stop()


def _report(name, impl, growth, p99_max):
    print("\n%s[%s]: RSS growth %.0f MB, other client's get p99 %.1f ms, max %.1f ms"
          % (name, impl, growth, p99_max[0] * 1000, p99_max[1] * 1000))


def test_client_that_never_reads_1mb_replies(fresh, impl):
    """Pipelined getData of a 1 MB node, never read, for 4 s (zkserver before the fix: about
    +2 GB in 10 s)."""
    zk = fresh.client()
    zk.create("/big", b"b" * 1_000_000)
    zk.stop()
    zk.close()
    other = OtherClient(fresh)
    rss = RssPeak(fresh.proc.pid)
    s = _session(fresh, rcvbuf=16 * 1024)
    frames = b"".join(_get_data(i, "/big") for i in range(1, 201))
    _flood(s, frames, 4.0)
    time.sleep(0.5)
    growth = rss.stop()
    p = other.check()
    _report("1 MB never read", impl, growth, p)
    s.close()
    assert growth < GROWTH_BOUND_MB
    fresh.check_alive()


def test_client_that_never_reads_100k_small_replies(fresh, impl):
    """100k pipelined getData of a 16 KB node, never read (before the fix: +2 GB)."""
    zk = fresh.client()
    zk.create("/mid", b"m" * 16 * 1024)
    zk.stop()
    zk.close()
    other = OtherClient(fresh)
    rss = RssPeak(fresh.proc.pid)
    s = _session(fresh, rcvbuf=16 * 1024)
    frames = b"".join(_get_data(i, "/mid") for i in range(1, 100_001))
    _flood(s, frames, 4.0)
    time.sleep(0.5)
    growth = rss.stop()
    p = other.check()
    _report("100k x 16 KB never read", impl, growth, p)
    s.close()
    assert growth < GROWTH_BOUND_MB


@pytest.mark.parametrize("limit", [None, "1"], ids=["default-limit", "globalOutstandingLimit=1"])
def test_fast_sender_gets_every_reply_in_order(impl, tmp_path, limit):
    """A client sends 1,500 getData of 64 KB, 3,000 setData, then 100 rounds of a setData
    of the 64 KB node and 20 getData of it (reads queued behind a write) at once, reads
    nothing for 2 s, then reads: every reply arrives, in order, with the right data (held,
    not dropped; each read sees the write before it), also with globalOutstandingLimit=1,
    which throttles every connection with anything outstanding."""
    cfg = {"maxClientCnxns": "0"}
    if limit:
        cfg["globalOutstandingLimit"] = limit
    srv = zkharness.start_server(impl, tmp_path, extra_cfg=cfg)
    try:
        zk = srv.client()
        data = bytes(range(256)) * 256
        zk.create("/d64", data)
        zk.create("/w", b"")
        zk.stop()
        zk.close()
        rss = RssPeak(srv.proc.pid)
        s = _session(srv, rcvbuf=16 * 1024)
        reads, writes = 1500, 3000
        out = [_get_data(i, "/d64") for i in range(1, reads + 1)]
        out += [_set_data(reads + i, "/w", b"%d" % i) for i in range(1, writes + 1)]
        rounds, per_round = 100, 20
        xid = reads + writes
        for r in range(rounds):
            xid += 1
            out.append(_set_data(xid, "/d64", bytes([r]) * len(data)))
            for _ in range(per_round):
                xid += 1
                out.append(_get_data(xid, "/d64"))
        sender = threading.Thread(target=s.sendall, args=(b"".join(out),), daemon=True)
        sender.start()
        time.sleep(2.0)
        s.settimeout(30)
        replies = _read_replies(s, xid)
        sender.join(10)
        growth = rss.stop()
        s.close()
        print("\nfast sender[%s, %s]: RSS growth %.0f MB" % (impl, limit or "default", growth))
        assert [x for x, _, _ in replies] == list(range(1, xid + 1))
        assert all(err == 0 for _, err, _ in replies)
        for _, _, body in replies[:reads]:
            assert zkraw.Dec(body).buffer() == data
        versions = [zkraw.Dec(body).stat().version for _, _, body in replies[reads:reads + writes]]
        assert versions == list(range(1, writes + 1))
        mixed = replies[reads + writes:]
        for r in range(rounds):
            got = mixed[r * (per_round + 1) + 1:(r + 1) * (per_round + 1)]
            assert all(zkraw.Dec(b).buffer() == bytes([r]) * len(data) for _, _, b in got), r
        assert growth < GROWTH_BOUND_MB
    finally:
        srv.stop()


@pytest.mark.parametrize("stall_ms", ["0", "5"])
def test_request_throttler_waits_and_counts(impl, tmp_path, stall_ms):
    """zookeeper.request_throttle_max_requests=2 (a zoo.cfg key Java turns into the system
    property): four clients pipelining writes all get their answers, and mntr counts the
    throttler's waits under Java's name. A stall time of 0 waits until a request finishes
    (Java's wait(0))."""
    srv = zkharness.start_server(impl, tmp_path, extra_cfg={
        "maxClientCnxns": "0",
        "request_throttle_max_requests": "2",
        "request_throttle_stall_time": stall_ms,
    })
    try:
        zk = srv.client()
        zk.create("/w", b"")
        zk.stop()
        zk.close()
        socks = []
        n = 300
        for _ in range(4):
            socks.append(_session(srv))
        for s in socks:
            s.sendall(b"".join(_set_data(i, "/w", b"x") for i in range(1, n + 1)))
        for s in socks:
            s.settimeout(30)
            replies = _read_replies(s, n)
            assert [x for x, _, _ in replies] == list(range(1, n + 1))
            assert all(err == 0 for _, err, _ in replies)
            s.close()
        mntr = dict(line.split("\t", 1) for line in srv.four_letter("mntr").splitlines()
                    if "\t" in line)
        assert int(mntr["zk_request_throttle_wait_count"]) > 0
        assert mntr["zk_stale_requests_dropped"] == "0"
        assert mntr["zk_throttled_ops"] == "0"
    finally:
        srv.stop()


def test_ten_thousand_connections_that_never_read(fresh, impl):
    """10k connections each create a session and pipeline 4 getData of a 16 KB node without
    reading (640 MB of replies asked for in total); another client keeps being served.

    Both servers need seconds of CPU to answer what the kernel's socket buffers take from
    10k connections (zkserver about 1.7 s of CPU), so on a loaded machine the other client
    may wait longer than kazoo's read timeout and reconnect (seen with Java 3.8 and with
    zkserver at a load average of 16 on 2 cores): connection losses are reported, and the
    slowest get is bounded at 10 s. Java 3.8 serves the other client only a few times in
    the whole run (0.4-4 s per get while the 10k sessions are created and flood it), so on
    Java the test asks for one reply; zkserver must keep a p99 under 3 s (measured 20-900
    ms on 2 busy cores) and serve at least 10 gets."""
    zk = fresh.client()
    zk.create("/mid", b"m" * 16 * 1024)
    zk.stop()
    zk.close()
    n = 10_000
    other = OtherClient(fresh)
    rss = RssPeak(fresh.proc.pid)
    per_conn = 4
    payload = b"".join(_get_data(i, "/mid") for i in range(1, per_conn + 1))
    socks = []
    try:
        # All handshakes first, then all answers: the sessions are created in a few
        # group commits rather than one fsync each.
        for i in range(n):
            try:
                socks.append(_raw_connect(fresh, rcvbuf=4096))
                socks[-1].sendall(_connect_request())
            except OSError as e:
                pytest.fail("connection %d of %d failed: %s" % (i, n, e))
        for s in socks:
            _recv_frame(s)
        for s in socks:
            s.sendall(payload)
        time.sleep(3.0)
        growth = rss.stop()
        if zkharness.is_java(impl):
            p = other.check(p99_bound_s=10.0, max_bound_s=10.0, min_replies=1,
                            losses_allowed=True)
        else:
            p = other.check(p99_bound_s=3.0, max_bound_s=10.0, losses_allowed=True)
        _report("10k connections never reading", impl, growth, p)
        assert growth < GROWTH_BOUND_MB
        assert fresh.four_letter("ruok") == "imok"
        # The last connection still gets all its replies once it reads.
        s = socks.pop()
        s.settimeout(30)
        replies = _read_replies(s, per_conn)
        assert [x for x, _, _ in replies] == list(range(1, per_conn + 1))
        assert all(len(zkraw.Dec(b).buffer()) == 16 * 1024 for _, _, b in replies)
    finally:
        for s in socks:
            s.close()

