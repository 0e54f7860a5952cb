"""Live mutation fuzzer: seeded batches of valid and mutated request frames, pipelined by
sessions with different auth, against a running server (both servers, same assertions).

Every batch opens fresh sessions (the owner "alice", another digest user "mallory", and an
unauthenticated one; sometimes the handshake is pipelined in the same write as the first
requests, and sometimes someone tries to take over the holder's session with a wrong
password), sends each its frames from zkfuzz.Generator in one to three writes, reads until
its last request is answered or the server hangs up, then closes every session it opened
(reattaching to do so if the server dropped the connection). Then, with the server quiet:

- the server process is alive and answers reads and writes;
- a full tree walk by the super user agrees with mntr: zk_znode_count, zk_ephemerals_count
  and zk_approximate_data_size (Java's path length + data length per node), and
  zk_watch_count and zk_global_sessions are back to what the never-fuzzed sessions hold;
- the sealed subtree (ACL: alice only, world at most READ; the owner's generator never names
  it) is exactly as created: data, ACL, every stat field, children; and the holder session's
  watches there never fired.

Once in the middle and at the end the server is killed with SIGKILL and restarted on the
same dataDir: the tree walked after the restart (paths, data, ACLs, every stat field) must
equal the tree walked before the kill.

Knobs: ZK_FUZZ_SEED (default 1; "random" picks one), ZK_FUZZ_SECONDS (default 20 per
server) or ZK_FUZZ_BATCHES (an exact number of batches, for replay); ZK_FUZZ_PRECONNECT=0
never pipelines a handshake with requests (to look past a bug there). A failure names the
seed and batch and writes that batch's frames (hex, one per line) next to the server's log.
A batch's frames are the same on every run of a seed; how the three sessions interleave on
the server is not, so a replay reproduces most failures, not all.
"""

from __future__ import annotations

import os
import queue
import random
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

import zkfuzz
import zkharness
import zkraw as z

SEED_ENV = os.environ.get("ZK_FUZZ_SEED", "1")
SEED = random.randrange(2 ** 32) if SEED_ENV == "random" else int(SEED_ENV)
SECONDS = float(os.environ.get("ZK_FUZZ_SECONDS", "20"))
BATCHES = int(os.environ["ZK_FUZZ_BATCHES"]) if os.environ.get("ZK_FUZZ_BATCHES") else None
# Long enough that a session the fuzzer could not close outlives the 15 s of check retries.
SESSION_TIMEOUT_MS = 20000
# A handshake pipelined with requests gets the shortest timeout (2 ticks): when a bad frame
# right after it closes the connection, both servers may still create the session without
# the client ever learning its id, and such a session must expire within those 15 s.
PIPELINED_SESSION_TIMEOUT_MS = 4000
# 0 turns off handshakes pipelined with requests (to look past that known zkserver bug).
PRECONNECT = os.environ.get("ZK_FUZZ_PRECONNECT", "1") != "0"
READ_WAIT_S = 2.0  # how long a session waits for the answer to its last request

CFG = {
    "DigestAuthenticationProvider.superDigest": zkfuzz.SUPER_DIGEST,
    # No reaping during the run: TTL and container nodes must not vanish between two walks.
    "znode.container.checkIntervalMs": "3600000",
    # Snapshots during the run, so restarts load snapshot + log, not only a log.
    "snapCount": "400",
    "maxClientCnxns": "0",
}


class FuzzFailure(AssertionError):
    pass


# -- one fuzzing session ----------------------------------------------------------------------

def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def _recv_frame(sock):
    (n,) = struct.unpack(">i", _recv_exact(sock, 4))
    return _recv_exact(sock, n)


def _parse_connect_response(body):
    d = z.Dec(body)
    d.int()
    timeout, sid, passwd = d.int(), d.long(), d.buffer()
    return timeout, sid, passwd


class FuzzSession(threading.Thread):
    """Connects, sends its frames pipelined, reads until the marker reply or EOF."""

    def __init__(self, srv, gen: zkfuzz.Generator, n_frames: int, preconnect: bool):
        super().__init__(daemon=True)
        self.srv, self.gen, self.n_frames, self.preconnect = srv, gen, n_frames, preconnect
        self.session = None  # (id, passwd) once the handshake was answered
        self.replies = 0
        self.marker = False
        self.stalled = False  # no answer to the last request, and no hang-up, in READ_WAIT_S
        self.error = None
        self.closed_how = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 -- reported by the batch, never fatal here
            self.error = "%s: %s" % (type(e).__name__, e)

    def _run(self):
        role, gen = self.gen.role, self.gen
        sock = socket.create_connection((self.srv.host, self.srv.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            hello = zkfuzz.connect_frame(
                PIPELINED_SESSION_TIMEOUT_MS if self.preconnect else SESSION_TIMEOUT_MS)
            prefix = [zkfuzz.auth_frame(role.cred)] if role.cred else []
            stream = b"".join(prefix + gen.frames(self.n_frames))
            if not self.preconnect:
                sock.sendall(hello)
                self._handshake(_recv_frame(sock))
                if self.session is None:
                    return
                writes = gen.split(stream)
            else:
                writes = gen.split(hello + stream)
            reader = threading.Thread(target=self._read, args=(sock,), daemon=True)
            reader.start()
            try:
                for w in writes:
                    sock.sendall(w)
            except OSError:
                pass  # the server hung up on a bad frame: fine
            reader.join(READ_WAIT_S + 1)
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _handshake(self, body):
        timeout, sid, passwd = _parse_connect_response(body)
        if timeout > 0:
            self.session = (sid, passwd)

    def _read(self, sock):
        sock.settimeout(READ_WAIT_S)
        try:
            if self.preconnect:
                self._handshake(_recv_frame(sock))
            while True:
                f = _recv_frame(sock)
                (xid,) = struct.unpack_from(">i", f)
                self.replies += 1
                if xid == zkfuzz.MARKER_XID:
                    self.marker = True
                    return
        except socket.timeout:
            self.stalled = True
        except (OSError, ConnectionError, struct.error):
            return


def _hijack(srv, holder_sid, rng):
    """Try to resume the holder's session with a wrong password and close it / delete its
    sealed ephemeral, all in one write. The server must refuse the handshake."""
    passwd = bytes(rng.getrandbits(8) for _ in range(16))
    delete = z.Enc().string(zkfuzz.SEALED_EPHEMERAL).int(-1).bytes()
    frames = (zkfuzz.connect_frame(SESSION_TIMEOUT_MS, holder_sid, passwd)
              + zkfuzz.frame(1, z.OP_DELETE, delete) + zkfuzz.frame(2, z.OP_CLOSE, b""))
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        try:
            s.sendall(frames)
            timeout, _, _ = _parse_connect_response(_recv_frame(s))
        except (OSError, ConnectionError, struct.error):
            return None
    return timeout


def _close_session(srv, session):
    """Close a session the fuzzer opened (reattaching; the fuzz connection is gone).
    Returns what happened, for failure messages."""
    sid, passwd = session
    try:
        c = z.RawClient(srv.host, srv.port, timeout_ms=SESSION_TIMEOUT_MS, session_id=sid,
                        passwd=passwd, io_timeout=10)
    except (OSError, ConnectionError, struct.error) as e:
        return "reattach failed: %r" % e
    if not c.valid:
        c.close()
        return "already gone"
    try:
        r = c.call(z.OP_CLOSE)
        return "closed (err %d)" % r.err
    except (OSError, ConnectionError, queue.Empty) as e:
        return "close not answered: %r" % e
    finally:
        c.drop()


# -- the checker ------------------------------------------------------------------------------

def _utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


def walk(c):
    """{path: (data, acl, stat, children)} of the whole tree, level by level, pipelined."""
    tree, level = {}, ["/"]
    while level:
        slots = [(p, c.send(z.OP_GET_DATA, z.Enc().string(p).bool(False).bytes()),
                  c.send(z.OP_GET_ACL, z.Enc().string(p).bytes()),
                  c.send(z.OP_GET_CHILDREN, z.Enc().string(p).bool(False).bytes()))
                 for p in level]
        nxt = []
        for p, sd, sa, sc in slots:
            rd, ra, rc = (s.get(timeout=c.io_timeout) for s in (sd, sa, sc))
            if None in (rd, ra, rc):
                raise ConnectionError("walker lost its connection at %s" % p)
            if rd.err == z.NO_NODE:
                continue  # deleted while we walked; the caller walks again
            for r in (rd, ra, rc):
                if r.err != z.OK:
                    raise FuzzFailure("walk: error %d at %s for the super user" % (r.err, p))
            d = z.Dec(rd.body)
            data, stat = d.buffer(), d.stat()
            acl = tuple(z.Dec(ra.body).acls())
            kids = tuple(sorted(z.Dec(rc.body).strings()))
            tree[p] = (data, acl, stat, kids)
            nxt += [(p.rstrip("/") + "/" + k) for k in kids]
        level = nxt
    return tree


def tree_counts(tree):
    """What mntr should say about this tree, as Java 3.8 counts: its DataTree holds the root
    twice (under "" and "/"), so zk_znode_count is one more than the walk finds, and
    zk_approximate_data_size (path length + data length per entry) has one more byte for
    "/". Java adds the root's data to the size once while running but twice when it
    recomputes the size after loading a snapshot, so either value is accepted there."""
    eph = sum(1 for (_, _, st, _) in tree.values()
              if st.ephemeralOwner != 0 and (st.ephemeralOwner >> 56) & 0xFF not in (0x80, 0xFF))
    size = 1 + sum(_utf16_len("" if p == "/" else p) + len(d or b"")
                   for p, (d, _, _, _) in tree.items())
    root_data = len(tree["/"][0] or b"")
    return {"zk_znode_count": len(tree) + 1, "zk_ephemerals_count": eph,
            "zk_approximate_data_size": {size, size + root_data}}


def mntr(srv):
    out = srv.four_letter("mntr")
    vals = {}
    for line in out.splitlines():
        k, _, v = line.partition("\t")
        vals[k] = v
    return vals


MNTR_KEYS = ["zk_znode_count", "zk_ephemerals_count", "zk_approximate_data_size",
             "zk_watch_count", "zk_global_sessions"]


def _ints(m):
    return {k: int(m[k]) for k in MNTR_KEYS if k in m}


def tree_diff(a, b, limit=8):
    """Human-readable differences between two walks."""
    out = []
    for p in sorted(set(a) | set(b)):
        if p not in a:
            out.append("only after: %s %r" % (p, b[p]))
        elif p not in b:
            out.append("only before: %s %r" % (p, a[p]))
        elif a[p] != b[p]:
            out.append("%s: before %r after %r" % (p, a[p], b[p]))
        if len(out) >= limit:
            out.append("...")
            break
    return out


class Fuzz:
    """One server's run: setup, batches, checks, kill -9 and restart."""

    def __init__(self, impl, tmp_path):
        self.impl, self.tmp = impl, Path(tmp_path)
        # Java 3.9.3 deletes any childless non-ephemeral node for any client's deleteContainer
        # (no ACL check; the matrices assert it as its bug): not sent to it here, since the
        # sealed subtree would not survive. Ours gets it in both modes.
        self.skip_ops = (z.OP_DELETE_CONTAINER,) if impl == "java39" else ()
        self.root_lens = set()  # data lengths the root has had (Java's size drift)
        self.srv = zkharness.start_server(impl, tmp_path, extra_cfg=CFG)
        self.batch = -1
        self.gens = []
        self.stats = {"frames": 0, "replies": 0, "dropped": 0, "restarts": 0, "hijacks": 0,
                      "holder_resumed": 0, "stalled": 0}
        self._connect_walker()
        self._setup_tree()
        self._connect_holder(None)
        self.sealed = {p: v for p, v in walk(self.walker).items()
                       if p == zkfuzz.SEALED_ROOT or p.startswith(zkfuzz.SEALED_ROOT + "/")}
        self.base = self._quiet_mntr()

    # -- sessions that are never fuzzed ---------------------------------------------------
    def _connect_walker(self, session=None):
        """The walker: the super user (resumed after a restart, or its old session would
        still count in zk_global_sessions for 30 s)."""
        sid, passwd = session or (0, b"\0" * 16)
        self.walker = z.RawClient(self.srv.host, self.srv.port, timeout_ms=30000,
                                  session_id=sid, passwd=passwd)
        assert self.walker.valid, "%s: walker session 0x%x not resumed" % (self.impl, sid)
        assert self.walker.add_auth("digest", zkfuzz.SUPER).err == z.OK

    def _setup_tree(self):
        c = self.walker
        c.create("/fz", b"fuzz area")
        for p in ("/fz/a", "/fz/b", "/fz/a/x"):
            c.create(p, b"seed " + p.encode())
        with z.RawClient(self.srv.host, self.srv.port) as owner:
            assert owner.add_auth("digest", zkfuzz.OWNER).err == z.OK
            for p, data, acl in zkfuzz.SEALED:
                owner.create(p, data, acl=acl)
            # A change on /sealed/r so its versions are not all zero.
            owner.set(zkfuzz.SEALED_ROOT + "/r", b"world readable, v1")

    def _connect_holder(self, session):
        """The holder: alice, owns two ephemerals, watches the sealed subtree."""
        sid, passwd = session or (0, b"\0" * 16)
        h = z.RawClient(self.srv.host, self.srv.port, timeout_ms=30000, session_id=sid,
                        passwd=passwd)
        assert h.valid, "%s: holder session 0x%x not resumed" % (self.impl, sid)
        assert h.add_auth("digest", zkfuzz.OWNER).err == z.OK
        if session is None:
            h.create(zkfuzz.SEALED_EPHEMERAL, b"holder", flags=z.EPHEMERAL,
                     acl=[(31, "digest", zkfuzz.OWNER_ID)])
            h.create(zkfuzz.OPEN_EPHEMERAL, b"anyone may delete me", flags=z.EPHEMERAL)
        for p in (zkfuzz.SEALED_ROOT + "/a", zkfuzz.SEALED_ROOT + "/r", zkfuzz.SEALED_EPHEMERAL):
            h.get(p, watch=True)
        h.get_children(zkfuzz.SEALED_ROOT, watch=True)
        h.get_children(zkfuzz.SEALED_ROOT + "/b", watch=True)
        self.holder = h

    def resume_holder(self):
        """Java 3.8 closes a session's connection when anyone sends a handshake naming that
        session, before it checks the password (ZooKeeperServer.processConnectRequest). The
        session lives on: resume it, after checking what its old connection received."""
        self.stats["holder_resumed"] += 1
        if not self.holder.events.empty():
            self.fail("a watch on the sealed subtree fired: %r" % self.holder.events.get())
        self._connect_holder((self.holder.session_id, self.holder.passwd))

    def _quiet_mntr(self):
        return zkharness.wait_for(lambda: self._stable_mntr(), timeout=15, what="a quiet mntr")

    def _stable_mntr(self):
        a = _ints(mntr(self.srv))
        time.sleep(0.05)
        b = _ints(mntr(self.srv))
        return a if a == b else None

    # -- failures ----------------------------------------------------------------------------
    def fail(self, what):
        dump = self.tmp / ("fuzz-batch-%d.txt" % self.batch)
        lines = []
        for g in self.gens:
            lines.append("# session %s" % g.role.name)
            lines += g.notes
        dump.write_text("\n".join(lines) + "\n")
        what += "".join(
            "\n  %s session 0x%x%s: %d replies, %s, then %s"
            % (s.gen.role.name, s.session[0] if s.session else 0,
               " (handshake pipelined)" if s.preconnect else "", s.replies,
               "answered to the end" if s.marker else "cut off", s.closed_how)
            for s in getattr(self, "sessions", []))
        raise FuzzFailure(
            "%s: %s\n  after batch %d of seed %d (replay: ZK_FUZZ_SEED=%d ZK_FUZZ_BATCHES=%d)\n"
            "  frames of that batch: %s\n  server log: %s"
            % (self.impl, what, self.batch, SEED, SEED, self.batch + 1, dump, self.srv.log_path))

    # -- a batch -----------------------------------------------------------------------------
    def run_batch(self, b):
        self.batch = b
        rng = random.Random("%d/%d/batch" % (SEED, b))
        self.gens, sessions = [], []
        self.sessions = sessions
        for i, role in enumerate(zkfuzz.ROLES):
            # Most sessions send few mutated frames: the first one that does not decode
            # usually ends the connection, and the valid writes are what build up state.
            gen = zkfuzz.Generator(SEED, b, i, role, rng.choice([0.0, 0.02, 0.05, 0.1, 0.3]),
                                   skip_ops=self.skip_ops)
            self.gens.append(gen)
            sessions.append(FuzzSession(self.srv, gen, rng.randint(10, 50),
                                        rng.random() < 0.2 and PRECONNECT))
        for s in sessions:
            s.start()
        if rng.random() < 0.3:
            self.stats["hijacks"] += 1
            t = _hijack(self.srv, self.holder.session_id, rng)
            if t is not None and t > 0:
                self.fail("a handshake with the holder's session id and a wrong password "
                          "was accepted (timeout %d)" % t)
        for s in sessions:
            s.join(30)
            if s.is_alive():
                self.fail("a fuzz session is still running after 30 s")
        for s in sessions:
            if s.error is not None:
                self.fail("the %s session could not talk to the server: %s"
                          % (s.gen.role.name, s.error))
            bad_next_len = s.gen.role.cred is None and 0 in s.gen.bad_frame_len
            # Java also closes before its queued ConnectResponse goes out when the very
            # next request is unreadable (a mutated frame): a race in Java, not asserted there.
            java_race = (zkharness.is_java(self.impl) and s.preconnect
                         and any("mutated" in n for n in s.gen.notes[:1]))
            if s.session is None and not bad_next_len and not java_race:
                # Java reads no request after a ConnectRequest until the session exists, so
                # whatever follows it in the same write, the handshake is answered; only a
                # bad length prefix right after it closes the connection first (Java checks
                # the next length as soon as it has read the ConnectRequest).
                self.fail("the %s session's ConnectRequest%s was refused or never answered"
                          % (s.gen.role.name, " (sent in one write with the requests after it)"
                             if s.preconnect else ""))
            self.stats["frames"] += s.n_frames
            self.stats["replies"] += s.replies
            self.stats["dropped"] += 0 if s.marker else 1
            self.stats["stalled"] += 1 if s.stalled else 0
            if s.session is not None:
                s.closed_how = _close_session(self.srv, s.session)
        self.check()

    # -- checks ------------------------------------------------------------------------------
    def check_alive(self):
        try:
            self.srv.check_alive()
        except zkharness.ServerDiedError as e:
            self.fail("the server died:\n%s" % e)
        try:
            p = "/probe-%d" % self.batch
            self.walker.create(p, b"probe")
            self.walker.delete(p)
            if self.holder.closed.is_set():
                self.resume_holder()
            self.holder.exists(zkfuzz.SEALED_ROOT)
        except FuzzFailure:
            raise
        except Exception as e:  # noqa: BLE001
            self.fail("the server stopped answering other clients: %r" % e)

    def consistent_view(self):
        """(tree, mntr) with mntr and the walk agreeing, or fail after 15 s of trying: less
        than the fuzz sessions' timeout, so a session the fuzzer could not see (and so not
        close) is caught before it expires."""
        deadline, last = time.monotonic() + 15, None
        while True:
            m1 = _ints(mntr(self.srv))
            tree = walk(self.walker)
            m2 = _ints(mntr(self.srv))
            want = dict(tree_counts(tree), zk_watch_count=self.base["zk_watch_count"],
                        zk_global_sessions=self.base["zk_global_sessions"])
            self.root_lens.add(len(tree["/"][0] or b""))
            if zkharness.is_java(self.impl):
                # Java's size drifts by the root's data when the root changes after a
                # restart (it counted the root's old data twice when it loaded the snapshot):
                # a range for Java; ours must be exact.
                lo = min(want["zk_approximate_data_size"])
                want["zk_approximate_data_size"] = range(lo, lo + 2 * max(self.root_lens) + 1)
            got = {k: m2.get(k) for k in want}
            if m1 == m2 and all(got[k] == v or (isinstance(v, (set, range)) and got[k] in v)
                                for k, v in want.items()):
                return tree, m2
            if os.environ.get("ZK_FUZZ_DEBUG"):
                print("retry", m1 == m2, got, want)
            last = "mntr %r, the walk (and the never-fuzzed sessions) say %r" % (got, want)
            if time.monotonic() > deadline:
                self.fail("mntr disagrees with the tree: " + last)
            time.sleep(0.3)

    def check_sealed(self, tree):
        now = {p: tree.get(p) for p in self.sealed}
        extra = [p for p in tree if p.startswith(zkfuzz.SEALED_ROOT + "/") and p not in self.sealed]
        if now != self.sealed or extra:
            diff = tree_diff(self.sealed, {p: v for p, v in tree.items()
                                           if p in self.sealed or p in extra})
            self.fail("the sealed subtree changed without an authorised write:\n    "
                      + "\n    ".join(diff))
        if not self.holder.events.empty():
            self.fail("a watch on the sealed subtree fired: %r" % self.holder.events.get())

    def check(self):
        self.check_alive()
        tree, _ = self.consistent_view()
        self.check_sealed(tree)
        return tree

    # -- kill -9 and restart -----------------------------------------------------------------
    def kill_and_restart(self):
        before = self.check()
        holder = (self.holder.session_id, self.holder.passwd)
        walker = (self.walker.session_id, self.walker.passwd)
        self.srv.kill()
        self.walker.drop()
        self.holder.drop()
        self._start_again()
        self.stats["restarts"] += 1
        self._connect_walker(walker)
        after = walk(self.walker)
        if after != before:
            self.fail("the tree after kill -9 and restart differs from the tree before:\n    "
                      + "\n    ".join(tree_diff(before, after)))
        self._connect_holder(holder)
        self.check()

    def _start_again(self):
        """Start the server on its dataDir and wait for a session (not zkharness's kazoo
        get("/"): the fuzzer may have taken READ on "/" away from the world)."""
        self.srv.start(wait=False)
        deadline = time.monotonic() + zkharness.READY_TIMEOUT
        while True:
            try:
                self.srv.check_alive()
            except zkharness.ServerDiedError as e:
                self.fail("the server did not come back after kill -9:\n%s" % e)
            try:
                with z.RawClient(self.srv.host, self.srv.port, io_timeout=5) as c:
                    if c.valid:
                        return
            except (OSError, ConnectionError, struct.error):
                pass
            if time.monotonic() > deadline:
                self.fail("the server did not accept a session within %.0f s after kill -9"
                          % zkharness.READY_TIMEOUT)
            time.sleep(0.2)

    def close(self):
        for c in (self.walker, self.holder):
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self.srv.stop()


@pytest.mark.timeout(300)
def test_live_mutation_fuzzer(impl, tmp_path):
    fz = Fuzz(impl, tmp_path)
    try:
        start = time.monotonic()
        mid_done = False
        b = 0
        while (b < BATCHES) if BATCHES is not None else (time.monotonic() - start < SECONDS):
            fz.run_batch(b)
            b += 1
            half = (b >= BATCHES / 2) if BATCHES is not None else (
                time.monotonic() - start >= SECONDS / 2)
            if half and not mid_done:
                fz.kill_and_restart()
                mid_done = True
        fz.kill_and_restart()
        tree = walk(fz.walker)
        st = fz.stats
        print("%s: seed %d, %d batches in %.1f s: %d frames sent, %d replies read, %d sessions "
              "cut off (%d left waiting), %d hijack attempts (holder resumed %d times), %d kill -9 "
              "restarts, %d znodes at the end"
              % (impl, SEED, b, time.monotonic() - start, st["frames"], st["replies"],
                 st["dropped"], st["stalled"], st["hijacks"], st["holder_resumed"],
                 st["restarts"], len(tree)))
        assert b >= 3, "too few batches to mean anything"
    finally:
        fz.close()


@pytest.mark.timeout(60)
def test_handshake_answered_before_a_bad_frame_later_in_the_same_write(impl, tmp_path):
    """ConnectRequest, a valid exists, then a frame length over jute.maxbuffer, all in one
    write (the fuzzer's seed 1 batch 9 does this). Java reads nothing after the handshake
    until the session exists: it answers the handshake, then finds the bad length and
    closes. The connection must not die unanswered, leaving a session the client cannot
    know about."""
    srv = zkharness.start_server(impl, tmp_path)
    try:
        exists = zkfuzz.frame(1, z.OP_EXISTS, z.Enc().string("/").bool(False).bytes())
        for bad_len in (0x7FFFFFFF, -5):
            with socket.create_connection((srv.host, srv.port), timeout=5) as s:
                s.sendall(zkfuzz.connect_frame(SESSION_TIMEOUT_MS) + exists
                          + struct.pack(">i", bad_len) + b"\0" * 8)
                try:
                    timeout, sid, _ = _parse_connect_response(_recv_frame(s))
                except (OSError, ConnectionError) as e:
                    pytest.fail("bad length %d: the handshake was never answered (%r)"
                                % (bad_len, e))
                assert timeout > 0 and sid != 0
    finally:
        srv.stop()
