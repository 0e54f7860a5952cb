"""The adversarial request matrices' shared parts: the op table, the protected tree, the probe
that sends one op at a chosen point of a connection's life, and the tree snapshot.

- OPS: one row per case (every client op code of ZooKeeper 3.8, a few variants, unknown
  codes): name, op code, xid, and a body builder over the case's root path R. Bodies aim
  at the protected nodes of TREE, so an unauthorised op must be refused and change nothing.
- build_tree(owner, R): the protected tree under R, created by `owner` (a RawClient that
  added OWNER_AUTH): digest ACLs, a world:anyone READ-only node, a node with children, a
  container (with a child, so it is not reaped), a TTL node, a node for pending changes.
- probe(host, port, row, R, timing, auth=False): one fresh connection; the ConnectRequest,
  the op (after OWNER_AUTH when auth) and a sentinel read, sent at the chosen timing;
  returns a comparable Outcome (was a session granted, every reply as (xid, err, normalised
  body), the watch events, and how it ended: sentinel answered, closed, or hung).
- snapshot(owner, paths): every known node's data, stat, ACL and children, pipelined.

Timings: "with" (one TCP write with the ConnectRequest), "before" (the next write, before
the ConnectResponse is read), "after" (after the ConnectResponse), "closed" (right behind a
closeSession, in one write).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import time
from collections import namedtuple
from typing import Dict, List, Optional

import zkraw
from zkraw import Dec, Enc

OWNER_AUTH = ("digest", b"owner:secret")
OWNER_ID = "owner:" + base64.b64encode(hashlib.sha1(b"owner:secret").digest()).decode()
ALL, READ = 31, 1
OWNER_ALL = [(ALL, "digest", OWNER_ID)]
OWNER_ALL_WORLD_READ = [(ALL, "digest", OWNER_ID), (READ, "world", "anyone")]
WORLD_READ = [(READ, "world", "anyone")]

TIMINGS = ("with", "before", "after", "closed")
SENTINEL_XID = 0x5E17
PROBE_TIMEOUT = 3.0

# (relative path, data, acl, create op, flags, ttl) in creation order.
TREE = [
    ("", b"root", OWNER_ALL_WORLD_READ, 15, 0, None),
    ("/prot", b"secret", OWNER_ALL, 15, 0, None),
    ("/prot/leaf", b"leaf", OWNER_ALL, 15, 0, None),
    ("/ro", b"ro", WORLD_READ, 15, 0, None),
    ("/parent", b"p", OWNER_ALL_WORLD_READ, 15, 0, None),
    ("/parent/a", b"a", OWNER_ALL_WORLD_READ, 15, 0, None),
    ("/parent/b", b"b", OWNER_ALL_WORLD_READ, 15, 0, None),
    ("/cont", b"c", OWNER_ALL_WORLD_READ, 19, zkraw.CONTAINER, None),
    ("/cont/c", b"", OWNER_ALL_WORLD_READ, 15, 0, None),
    ("/ttl", b"t", OWNER_ALL_WORLD_READ, 21, zkraw.PERSISTENT_WITH_TTL, 3600000),
    ("/pending", b"0", OWNER_ALL_WORLD_READ, 15, 0, None),
]
PENDING = "/pending"


def _connect_body(session_id: int = 0, passwd: bytes = b"\0" * 16) -> bytes:
    return Enc().int(0).long(0).int(6000).long(session_id).buffer(passwd).bool(False).bytes()


def _mh(op: int, done: bool = False) -> Enc:
    return Enc().int(op).bool(done).int(-1)


def _multi(R):
    e = Enc()
    e.b += _mh(5).bytes() + Enc().string(R + "/prot").buffer(b"m").int(-1).bytes()
    e.b += _mh(2).bytes() + Enc().string(R + "/prot/leaf").int(-1).bytes()
    e.b += _mh(-1, True).bytes()
    return e.bytes()


def _multi_read(R):
    e = Enc()
    e.b += _mh(4).bytes() + Enc().string(R + "/prot").bool(False).bytes()
    e.b += _mh(8).bytes() + Enc().string(R + "/parent").bool(False).bytes()
    e.b += _mh(-1, True).bytes()
    return e.bytes()


def _set_watches(R, v2=False):
    e = Enc().long(0).strings([R + "/prot", R + "/ro"]).strings([R + "/prot/none"])
    e.strings([R + "/prot"])
    if v2:
        e.strings([R + "/prot"]).strings([R + "/parent"])
    return e.bytes()


def _auth(scheme: str, cred: bytes) -> bytes:
    return Enc().int(0).string(scheme).buffer(cred).bytes()


def _p(R, rel):
    return Enc().string(R + rel)


Row = namedtuple("Row", "name op xid body")

# Each body aims at a protected node (unauthorised: NoAuth, nothing changes; with
# OWNER_AUTH: allowed). xid 7 unless the op has a reserved one.
OPS: List[Row] = [
    Row("create", 1, 7, lambda R: _p(R, "/prot/new").buffer(b"x").acls(OWNER_ALL).int(0).bytes()),
    Row("delete", 2, 7, lambda R: _p(R, "/prot/leaf").int(-1).bytes()),
    Row("delete-ro", 2, 7, lambda R: _p(R, "/ro").int(-1).bytes()),
    Row("exists", 3, 7, lambda R: _p(R, "/prot").bool(True).bytes()),
    Row("getData", 4, 7, lambda R: _p(R, "/prot").bool(True).bytes()),
    Row("setData", 5, 7, lambda R: _p(R, "/prot").buffer(b"x").int(-1).bytes()),
    Row("getACL", 6, 7, lambda R: _p(R, "/prot").bytes()),
    Row("setACL", 7, 7, lambda R: _p(R, "/prot").acls(zkraw.OPEN_ACL_UNSAFE).int(-1).bytes()),
    Row("getChildren", 8, 7, lambda R: _p(R, "/prot").bool(True).bytes()),
    Row("sync", 9, 7, lambda R: _p(R, "").bytes()),
    Row("ping", 11, -2, lambda R: b""),
    Row("getChildren2", 12, 7, lambda R: _p(R, "/prot").bool(False).bytes()),
    Row("check", 13, 7, lambda R: _p(R, "/prot").int(0).bytes()),
    Row("multi", 14, 7, _multi),
    Row("create2", 15, 7, lambda R: _p(R, "/prot/new2").buffer(b"x").acls(OWNER_ALL).int(0)
        .bytes()),
    Row("reconfig", 16, 7, lambda R: Enc().string("").string("99").string(None).long(-1)
        .bytes()),
    # (on a node no other row watches: a closed connection's watches must be gone at once,
    # test_order_matrix.test_closed_connection_is_released checks that on its own)
    Row("checkWatches", 17, 7, lambda R: _p(R, "/parent/a").int(3).bytes()),
    Row("removeWatches", 18, 7, lambda R: _p(R, "/parent/a").int(3).bytes()),
    Row("createContainer", 19, 7, lambda R: _p(R, "/prot/cnew").buffer(b"").acls(OWNER_ALL)
        .int(zkraw.CONTAINER).bytes()),
    # As the container reaper sends it inside Java: the raw path, no length prefix.
    Row("deleteContainer-bare", 20, 7, lambda R: (R + "/prot/leaf").encode()),
    Row("deleteContainer", 20, 7, lambda R: _p(R, "/cont").bytes()),
    Row("deleteContainer-ro", 20, 7, lambda R: _p(R, "/ro").bytes()),
    Row("createTTL", 21, 7, lambda R: _p(R, "/prot/tnew").buffer(b"").acls(OWNER_ALL)
        .int(zkraw.PERSISTENT_WITH_TTL).long(60000).bytes()),
    Row("multiRead", 22, 7, _multi_read),
    Row("auth", 100, -4, lambda R: _auth("digest", b"intruder:pw")),
    Row("auth-bad-scheme", 100, -4, lambda R: _auth("nosuch", b"x")),
    Row("setWatches", 101, -8, lambda R: _set_watches(R)),
    Row("sasl", 102, 7, lambda R: Enc().buffer(b"\x01\x02").bytes()),
    Row("getEphemerals", 103, 7, lambda R: _p(R, "").bytes()),
    Row("getAllChildrenNumber", 104, 7, lambda R: _p(R, "/prot").bytes()),
    Row("setWatches2", 105, -8, lambda R: _set_watches(R, v2=True)),
    Row("addWatch", 106, 7, lambda R: _p(R, "/prot").int(1).bytes()),
    Row("whoAmI", 107, 7, lambda R: b""),
    Row("createSession", -10, 7, lambda R: _connect_body()),
    Row("closeSession", -11, 7, lambda R: b""),
    Row("error", -1, 7, lambda R: b""),
] + [Row("unknown%d" % op, op, 7, lambda R: _p(R, "/prot").int(-1).bytes())
     for op in (0, 10, 23, 108, 9999, -12)]
OPS_BY_NAME = {r.name: r for r in OPS}


# -- the protected tree ----------------------------------------------------------------------

def owner_client(host: str, port: int) -> zkraw.RawClient:
    c = zkraw.RawClient(host, port, timeout_ms=30000)
    r = c.add_auth(*OWNER_AUTH)
    assert r.err == zkraw.OK, r
    return c


def build_tree(owner: zkraw.RawClient, R: str) -> List[str]:
    """Create TREE under R (pipelined); returns its paths."""
    slots = []
    for rel, data, acl, op, flags, ttl in TREE:
        e = Enc().string(R + rel).buffer(data).acls(acl).int(flags)
        if op == zkraw.OP_CREATE_TTL:
            e.long(ttl)
        slots.append((R + rel, owner.send(op, e.bytes())))
    for path, slot in slots:
        r = slot.get(timeout=owner.io_timeout)
        assert r is not None and r.err == zkraw.OK, (path, r)
    return [R + rel for rel, *_ in TREE]


NodeView = namedtuple("NodeView", "err data stat acl children")


def snapshot(owner: zkraw.RawClient, paths: List[str], sync: bool = True) -> Dict[str, NodeView]:
    """Data, stat, ACL and children of every path (and of any child found that is not in
    paths), read by owner after a sync of the first path."""
    if sync:
        owner.call(zkraw.OP_SYNC, Enc().string(paths[0]).bytes())
    out: Dict[str, NodeView] = {}
    todo = list(paths)
    while todo:
        batch, todo = todo, []
        slots = [(p, owner.send(zkraw.OP_GET_DATA, Enc().string(p).bool(False).bytes()),
                  owner.send(zkraw.OP_GET_ACL, Enc().string(p).bytes()),
                  owner.send(zkraw.OP_GET_CHILDREN, Enc().string(p).bool(False).bytes()))
                 for p in batch]
        for p, sd, sa, sc in slots:
            rd, ra, rc = (s.get(timeout=owner.io_timeout) for s in (sd, sa, sc))
            if rd is None or ra is None or rc is None:
                raise ConnectionError("checker connection closed")
            if rd.err != zkraw.OK:
                out[p] = NodeView(rd.err, None, None, None, None)
                continue
            d = Dec(rd.body)
            data, stat = d.buffer(), d.stat()
            acl = Dec(ra.body).acls() if ra.err == zkraw.OK else ra.err
            kids = sorted(Dec(rc.body).strings()) if rc.err == zkraw.OK else rc.err
            out[p] = NodeView(rd.err, data, stat, acl, kids)
            if isinstance(kids, list):
                todo += [c for c in (p.rstrip("/") + "/" + k for k in kids)
                         if c not in out and c not in paths]
    return out


def mask_pending(snap: Dict[str, NodeView], R: str) -> Dict[str, NodeView]:
    """The snapshot without what the background writer changes on R/pending."""
    p = R + PENDING
    v = snap.get(p)
    if v is not None and v.stat is not None:
        snap = dict(snap)
        snap[p] = v._replace(data=None, stat=v.stat._replace(mzxid=0, mtime=0, version=0))
    return snap


def norm_stat(s: zkraw.Stat) -> tuple:
    """The parts of a Stat that do not depend on when (zxid, time) the history happened."""
    owner = s.ephemeralOwner
    kind = owner if owner == 0 or owner < 0 else "session"
    return (s.version, s.cversion, s.aversion, kind, s.dataLength, s.numChildren)


def norm_snapshot(snap: Dict[str, NodeView], R: str) -> Dict[str, tuple]:
    """A snapshot comparable across ensembles: paths relative to R, stats normalised."""
    return {p[len(R):] or "/": (v.err, v.data, None if v.stat is None else norm_stat(v.stat),
                                v.acl, v.children)
            for p, v in snap.items()}


def diff(before: Dict, after: Dict) -> List[str]:
    lines = []
    for p in sorted(set(before) | set(after)):
        b, a = before.get(p), after.get(p)
        if b != a:
            lines.append("%s:\n    before %s\n    after  %s" % (p, b, a))
    return lines


# -- the probe -------------------------------------------------------------------------------

Outcome = namedtuple("Outcome", "session replies events end")


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def request(xid: int, op: int, body: bytes) -> bytes:
    return frame(struct.pack(">ii", xid, op) + body)


def _rel(path: Optional[str], R: str) -> Optional[str]:
    return path[len(R):] or "/" if path and path.startswith(R) else path


def _norm_body(op: int, err: int, body: bytes, R: str):
    """Reply bodies without zxids and times (paths relative to R), decoded where the op's
    reply is known."""
    if err != zkraw.OK or not body:
        return body.hex() if len(body) <= 16 else ("len", len(body))
    try:
        d = Dec(body)
        if op in (3, 5, 7):
            return ("stat", norm_stat(d.stat()))
        if op == 4:
            return (d.buffer(), norm_stat(d.stat()))
        if op == 6:
            return (d.acls(), norm_stat(d.stat()))
        if op == 8:
            return sorted(d.strings())
        if op == 12:
            return (sorted(d.strings()), norm_stat(d.stat()))
        if op == 1:
            return _rel(d.string(), R)
        if op in (15, 19, 21):
            return (_rel(d.string(), R), norm_stat(d.stat()))
        if op in (14, 22):
            return _norm_multi(d, R)
        if op == 104:
            return d.int()
        if op == 9:
            return _rel(d.string(), R)
        if op in (103, 107):
            return body.hex()
    except (struct.error, UnicodeDecodeError, IndexError):
        pass
    return ("len", len(body))


def _norm_multi(d: Dec, R: str):
    out = []
    while d.remaining():
        typ, done, err = d.int(), d.bool(), d.int()
        if done:
            break
        if typ == -1:
            out.append(("err", d.int()))
        elif typ == 1:
            out.append((typ, _rel(d.string(), R)))
        elif typ in (15, 19, 21):
            out.append((typ, _rel(d.string(), R), norm_stat(d.stat())))
        elif typ == 5:
            out.append((typ, norm_stat(d.stat())))
        elif typ == 4:
            out.append((typ, d.buffer(), norm_stat(d.stat())))
        elif typ == 8:
            out.append((typ, sorted(d.strings())))
        else:
            out.append((typ, err))
    return out


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def frame(self, deadline: float) -> Optional[bytes]:
        """The next frame, None at EOF/reset, or raise TimeoutError at deadline."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">i", self.buf[:4])
                if n < 0:
                    raise ValueError("negative frame length %d" % n)
                if len(self.buf) >= 4 + n:
                    f, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return f
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            except socket.timeout:
                raise TimeoutError
            if not chunk:
                self.eof = True
            self.buf += chunk


def probe(host: str, port: int, row: Row, R: str, timing: str = "after", auth: bool = False,
          session: Optional[tuple] = None, timeout: float = PROBE_TIMEOUT) -> Outcome:
    """Send row's op on a new connection at `timing` and collect what comes back."""
    connect = frame(_connect_body(*(session or ())))
    pre = request(-4, 100, _auth(*OWNER_AUTH)) if auth else b""
    if timing == "closed":
        pre += request(1, -11, b"")
    tail = (pre + request(row.xid, row.op, row.body(R))
            + request(SENTINEL_XID, 3, Enc().string("/").bool(False).bytes()))
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = _Reader(sock)
    deadline = time.monotonic() + timeout
    session_state, replies, events, end = "none", [], [], "hung"
    ops_by_xid = {row.xid: row.op, -4: 100, 1: -11}
    try:
        if timing == "with":
            sock.sendall(connect + tail)
        elif timing == "before":
            sock.sendall(connect)
            sock.sendall(tail)
        else:
            sock.sendall(connect)
        f = reader.frame(deadline)
        if f is not None:
            d = Dec(f)
            d.int()
            session_state = "granted" if d.int() > 0 else "refused"
            if timing in ("after", "closed"):
                sock.sendall(tail)
        while True:
            f = reader.frame(deadline)
            if f is None:
                end = "closed"
                break
            d = Dec(f)
            xid, _zxid, err = d.int(), d.long(), d.int()
            if xid == -1:
                events.append((d.int(), d.int(), _rel(d.string(), R)))
                continue
            if xid == SENTINEL_XID:
                end = "sentinel" if err == zkraw.OK else "sentinel-err%d" % err
                break
            body = f[d.off:]
            if xid not in ops_by_xid:
                # not an answer to anything sent (Java answers createSession with a
                # ConnectResponse): only its length is comparable
                replies.append(("frame", len(f)))
                continue
            replies.append((xid, err, _norm_body(ops_by_xid.get(xid, 0), err, body, R)))
    except TimeoutError:
        end = "hung"
    except (ConnectionError, OSError) as e:
        end = "error:%s" % type(e).__name__
    finally:
        sock.close()
    return Outcome(session_state, tuple(replies), tuple(sorted(events)), end)


def _is_client_op(op: int) -> bool:
    return 1 <= op <= 22 and op != 10 or op in (11, 100, 101, 102, 103, 104, 105, 106, 107,
                                                 -11)


def comparable(o: Outcome, row: Row, timing: str) -> tuple:
    """What of an outcome both servers must agree on.

    Java races its threads in two places, so these parts are not compared:
    - after a closeSession was answered: what Java had already read is answered (reads on a
      learner before the close commits), refused with SessionExpired, or dropped, and the
      connection closes sooner or later;
    - after an op code it does not know (Unimplemented), the connection closes while later
      reads may still be answered;
    - behind a closeSession ("closed"), the ops its connection layer handles (auth, sasl,
      unknown codes) race the close: only the session is compared there.
    Everything before that (session granted, each reply's xid, error code and normalised
    body, watch events) is compared, and a hung connection never matches a closed one."""
    connection_level = row.op in (zkraw.OP_AUTH, zkraw.OP_SASL) or not _is_client_op(row.op)
    if timing == "closed" and connection_level:
        return (o.session, o.end == "hung")
    close_xids = {1} if timing == "closed" else set()
    if row.op == zkraw.OP_CLOSE:
        close_xids.add(row.xid)
    replies, closing = [], False
    for r in o.replies:
        if closing:
            break
        replies.append(r)
        closing = r[0] in close_xids and r[1] == zkraw.OK
    end = o.end
    racy = closing or (timing == "closed" and not replies)
    # Unimplemented closes the connection from another thread than the one answering the
    # requests behind it (Java 3.9's throttler): the sentinel may be answered first.
    refused = any(r[1] == zkraw.UNIMPLEMENTED for r in replies)
    if racy or connection_level or refused:
        end = "hung" if end == "hung" else "closed-or-answered"
    return (o.session, tuple(replies), () if racy else o.events, end)


class Writer:
    """Keeps `window` setData of path in flight from `client` (an owner) until stop(), so
    that the server always holds a pending change of that node from another session."""

    def __init__(self, client: zkraw.RawClient, path: str, window: int = 5):
        import threading

        self.client, self.window = client, window
        self.body = Enc().string(path).buffer(b"w").int(-1).bytes()
        self.done = threading.Event()
        self.errors: List[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            inflight = [self.client.send(zkraw.OP_SET_DATA, self.body)
                        for _ in range(self.window)]
            while inflight:
                r = inflight.pop(0).get(timeout=self.client.io_timeout)
                if r is None or r.err != zkraw.OK:
                    self.errors.append(repr(r))
                    return
                if not self.done.is_set():
                    inflight.append(self.client.send(zkraw.OP_SET_DATA, self.body))
        except Exception as e:  # noqa: BLE001 -- reported by stop()
            self.errors.append(repr(e))

    def stop(self) -> List[str]:
        """Stop writing; the errors seen (a NoNode means someone deleted the node)."""
        self.done.set()
        self.thread.join(timeout=30)
        if self.thread.is_alive():
            self.errors.append("writer stuck")
        return self.errors


def show(o: Outcome) -> str:
    return "session=%s end=%s replies=%s events=%s" % (o.session, o.end, list(o.replies),
                                                       list(o.events))


def refused_as_unimplemented(o: Outcome, row: Row) -> bool:
    """The op was answered Unimplemented and the connection then closed (what Java does for
    an op code it does not accept)."""
    return (any(r[0] == row.xid and r[1] == zkraw.UNIMPLEMENTED for r in o.replies)
            and o.end == "closed")


def answered_unimplemented(o: Outcome, row: Row) -> bool:
    """The op was answered Unimplemented (a learner forwarding it keeps its connection)."""
    return any(r[0] == row.xid and r[1] == zkraw.UNIMPLEMENTED for r in o.replies)


def check_refused_or_closed(o: Outcome, row: Row) -> bool:
    """Unimplemented, or (behind a closeSession) no answer to it and the connection closed."""
    return answered_unimplemented(o, row) or (
        o.end == "closed" and not any(r[0] == row.xid for r in o.replies))


# Divergences whose answer depends on a race in Java even behind a closeSession: compared
# by ours_ok at every timing (the others are compared with Java's answer at "closed").
EVERY_TIMING = {"check"}


def answered_no_auth(o: Outcome, row: Row) -> bool:
    """The op was answered NoAuth and nothing else happened to the connection."""
    return any(r[0] == row.xid and r[1] == zkraw.NO_AUTH for r in o.replies)


# Where zkrs answers differently from its Java reference on purpose: generation ((3, 8) or
# (3, 9)) -> row name -> (why, what zkrs must do instead). Asserted on every run, like any
# other answer. DECIDED_BY says which server's answer it is in a mixed ensemble: the
# client's own node, or the leader too (a write a Java follower forwards to a zkrs leader).
_CREATE_SESSION = (
    "op -10 after the handshake: Java 3.8.0 and 3.9.3 take it as a second createSession of "
    "the connection's session (logging a txn with the request's unclamped timeout) and answer "
    "a second ConnectResponse; zkrs refuses the op as it refuses every op a client may not "
    "send: Unimplemented, then the connection closes",
    refused_as_unimplemented)
_DELETE_CONTAINER_39 = (
    "deleteContainer (op 20) from a client: Java 3.9.3 parses it as a DeleteContainerRequest "
    "and checks no ACL, so any session deletes any childless node that is not an ephemeral "
    "(asserted as a Java bug: JAVA_BUGS); zkrs39 first asks for DELETE on the parent, as "
    "delete does: NoAuth",
    answered_no_auth)
DIVERGENCES = {
    (3, 8): {
        "createSession": _CREATE_SESSION,
        "check": (
            "check (op 13) outside a multi: Java 3.8.0 answers NoAuth without READ and "
            "otherwise logs a CheckVersionTxn it cannot read back (the server stops, "
            "followers drop out); zkrs refuses it as Java 3.8.6/3.9.3 do since "
            "ZOOKEEPER-2623: Unimplemented (then the connection closes, unless a Java "
            "learner forwarded it to a zkrs leader)",
            answered_unimplemented),
    },
    (3, 9): {
        "createSession": _CREATE_SESSION,
        "check": (
            "check (op 13) outside a multi: Java 3.9.3 answers Unimplemented and closes the "
            "connection from its request throttler thread, racing the requests queued ahead "
            "of it: behind a closeSession either answer comes first, and a learner's "
            "connection sometimes serves one more request before it closes; zkrs39 answers "
            "Unimplemented and closes, or, behind a closeSession, closes the session",
            check_refused_or_closed),
        "deleteContainer": _DELETE_CONTAINER_39,
        "deleteContainer-ro": _DELETE_CONTAINER_39,
    },
}

# Java bugs the matrices assert (so that a fixed Java shows up): generation -> row name ->
# what the bug does. The probing client changes the protected tree through them.
JAVA_BUGS = {
    (3, 9): {
        "deleteContainer-ro": "Java 3.9.3 deletes a world-READ-only childless node for an "
                              "anonymous client's deleteContainer (op 20): no ACL check",
    },
}


def answered_marshalling_error(o: Outcome, row: Row) -> bool:
    """The op was answered MarshallingError."""
    return any(r[0] == row.xid and r[1] == zkraw.MARSHALLING_ERROR for r in o.replies)


# Rows that break a Java ensemble whose Java leader decides them, so no Java answer exists
# there: generation -> row name -> (what happens, what zkrs must answer instead). The
# matrices skip them on such ensembles (reported as skipped) and assert ours.
JAVA_BREAKS = {
    (3, 9): {
        "deleteContainer-bare": (
            "a deleteContainer (op 20) whose body is no DeleteContainerRequest: a Java 3.9.3 "
            "leader fails its prep (\"Unreasonable length\"), proposes an error txn under a "
            "zxid it already used, and its ensemble stops answering (a standalone 3.9.3 "
            "answers MarshallingError); zkrs39 answers MarshallingError on every role and "
            "its learners do not forward it to a Java leader",
            answered_marshalling_error),
    },
}


def java_breaks(impl: str, name: str):
    """(what happens, ours_ok) if row `name` breaks a Java ensemble of impl's generation."""
    import zkharness
    return JAVA_BREAKS.get(zkharness.version(impl)[:2], {}).get(name)


def divergence(impl: str, name: str):
    """(why, ours_ok) where zkrs in impl's generation answers `name` differently on purpose."""
    import zkharness
    return DIVERGENCES[zkharness.version(impl)[:2]].get(name)


def java_bug(impl: str, name: str):
    """What the Java bug of impl's generation does for row `name`, if it has one."""
    import zkharness
    return JAVA_BUGS.get(zkharness.version(impl)[:2], {}).get(name)


# "leader": ours if the client's node or the leader is ours (a learner of ours answers it
# itself, a Java learner forwards it); "leader only": the leader's answer, whoever forwards.
DECIDED_BY = {"createSession": "node", "check": "leader", "deleteContainer": "leader only",
              "deleteContainer-ro": "leader only"}
# Divergences that hold only for a client without the owner's auth (with it, ours and
# Java's answers agree).
NOAUTH_ONLY = {"deleteContainer", "deleteContainer-ro"}

