"""A minimal raw ZooKeeper client for what kazoo 2.8 cannot send or observe.

Kazoo 2.8 (Debian 12) has no container/TTL create, no addWatch (persistent and
persistent-recursive watches), no removeWatches, getEphemerals or
getAllChildrenNumber, and it hides reply headers (zxid, err). This client speaks the
wire protocol directly: jute records, a reader thread that sorts frames into replies
and watch events, and a pinger. Opcodes and records follow ZooKeeper 3.8's
zookeeper.jute / ZooDefs.OpCode.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
from collections import namedtuple
from typing import List, Optional

# ZooDefs.OpCode
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_GET_ACL = 6
OP_SET_ACL = 7
OP_GET_CHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GET_CHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_RECONFIG = 16
OP_CHECK_WATCHES = 17
OP_REMOVE_WATCHES = 18
OP_CREATE_CONTAINER = 19
OP_DELETE_CONTAINER = 20
OP_CREATE_TTL = 21
OP_MULTI_READ = 22
OP_AUTH = 100
OP_SET_WATCHES = 101
OP_SASL = 102
OP_GET_EPHEMERALS = 103
OP_GET_ALL_CHILDREN_NUMBER = 104
OP_SET_WATCHES2 = 105
OP_ADD_WATCH = 106
OP_WHO_AM_I = 107
OP_CLOSE = -11

# CreateMode flags
PERSISTENT = 0
EPHEMERAL = 1
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# AddWatchMode
ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1

# WatcherType for checkWatches / removeWatches
WATCHER_CHILDREN = 1
WATCHER_DATA = 2
WATCHER_ANY = 3

# Watcher.Event.EventType
EV_NONE = -1
EV_NODE_CREATED = 1
EV_NODE_DELETED = 2
EV_NODE_DATA_CHANGED = 3
EV_NODE_CHILDREN_CHANGED = 4
EV_DATA_WATCH_REMOVED = 5
EV_CHILD_WATCH_REMOVED = 6
EV_PERSISTENT_WATCH_REMOVED = 7

# KeeperException.Code
OK = 0
SYSTEM_ERROR = -1
RUNTIME_INCONSISTENCY = -2
DATA_INCONSISTENCY = -3
CONNECTION_LOSS = -4
MARSHALLING_ERROR = -5
UNIMPLEMENTED = -6
OPERATION_TIMEOUT = -7
BAD_ARGUMENTS = -8
NEW_CONFIG_NO_QUORUM = -13
RECONFIG_IN_PROGRESS = -14
API_ERROR = -100
NO_NODE = -101
NO_AUTH = -102
BAD_VERSION = -103
NO_CHILDREN_FOR_EPHEMERALS = -108
NODE_EXISTS = -110
NOT_EMPTY = -111
SESSION_EXPIRED = -112
INVALID_CALLBACK = -113
INVALID_ACL = -114
AUTH_FAILED = -115
SESSION_MOVED = -118
NOT_READ_ONLY = -119
EPHEMERAL_ON_LOCAL_SESSION = -120
NO_WATCHER = -121
REQUEST_TIMEOUT = -122
RECONFIG_DISABLED = -123
SESSION_CLOSED_REQUIRE_SASL = -124
QUOTA_EXCEEDED = -125
THROTTLED_OP = -127

XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SET_WATCHES = -8

OPEN_ACL_UNSAFE = [(31, "world", "anyone")]

Stat = namedtuple("Stat", "czxid mzxid ctime mtime version cversion aversion "
                          "ephemeralOwner dataLength numChildren pzxid")
Event = namedtuple("Event", "type state path zxid")
Reply = namedtuple("Reply", "xid zxid err body")

_STAT = struct.Struct(">qqqqiiiqiiq")


class Enc:
    def __init__(self):
        self.b = bytearray()

    def int(self, v):
        self.b += struct.pack(">i", v)
        return self

    def long(self, v):
        self.b += struct.pack(">q", v)
        return self

    def bool(self, v):
        self.b += b"\x01" if v else b"\x00"
        return self

    def buffer(self, v: Optional[bytes]):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def string(self, v: Optional[str]):
        return self.buffer(None if v is None else v.encode("utf-8"))

    def acls(self, acls):
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).string(scheme).string(ident)
        return self

    def strings(self, items):
        self.int(len(items))
        for s in items:
            self.string(s)
        return self

    def bytes(self) -> bytes:
        return bytes(self.b)


class Dec:
    def __init__(self, b: bytes, off: int = 0):
        self.b = b
        self.off = off

    def int(self):
        (v,) = struct.unpack_from(">i", self.b, self.off)
        self.off += 4
        return v

    def long(self):
        (v,) = struct.unpack_from(">q", self.b, self.off)
        self.off += 8
        return v

    def bool(self):
        v = self.b[self.off] != 0
        self.off += 1
        return v

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        v = bytes(self.b[self.off:self.off + n])
        self.off += n
        return v

    def string(self):
        v = self.buffer()
        return None if v is None else v.decode("utf-8")

    def stat(self) -> Stat:
        v = Stat._make(_STAT.unpack_from(self.b, self.off))
        self.off += _STAT.size
        return v

    def strings(self) -> List[str]:
        return [self.string() for _ in range(self.int())]

    def acls(self):
        return [(self.int(), self.string(), self.string()) for _ in range(self.int())]

    def remaining(self) -> int:
        return len(self.b) - self.off


class ZkError(Exception):
    def __init__(self, code: int, what: str = ""):
        super().__init__("zookeeper error %d %s" % (code, what))
        self.code = code


class RawClient:
    """One session over one TCP connection. Not reconnecting: a drop ends it."""

    def __init__(self, host: str, port: int, timeout_ms: int = 10000, session_id: int = 0,
                 passwd: bytes = b"\x00" * 16, read_only: bool = False, last_zxid: int = 0,
                 io_timeout: float = 10.0):
        self.io_timeout = io_timeout
        self.sock = socket.create_connection((host, port), timeout=io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = (Enc().int(0).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
                .bool(read_only).bytes())
        self._send_frame(body)
        d = Dec(self._recv_frame())
        self.protocol_version = d.int()
        self.negotiated_timeout = d.int()
        self.session_id = d.long()
        self.passwd = d.buffer()
        self.read_only = d.bool() if d.remaining() else None
        self.events: "queue.Queue[Event]" = queue.Queue()
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._xid = 0
        self._pending = {}
        # every frame as received, in order: ("event", Event) or ("reply", xid, zxid, err)
        self.log: List[tuple] = []
        self._reader = None
        self._pinger = None
        if self.negotiated_timeout <= 0:
            self.sock.close()
            self.closed.set()
            return
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._pinger = threading.Thread(target=self._ping_loop, daemon=True)
        self._pinger.start()

    @property
    def valid(self) -> bool:
        return self.negotiated_timeout > 0

    # -- framing -------------------------------------------------------------------------
    def _send_frame(self, body: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(body)) + body)

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by server")
            buf += chunk
        return bytes(buf)

    def _recv_frame(self) -> bytes:
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def _read_loop(self) -> None:
        try:
            while True:
                frame = self._recv_frame()
                d = Dec(frame)
                xid, zxid, err = d.int(), d.long(), d.int()
                if xid == XID_NOTIFICATION:
                    ev = Event(d.int(), d.int(), d.string(), zxid)
                    self.log.append(("event", ev))
                    self.events.put(ev)
                    continue
                if xid == XID_PING:
                    continue
                self.log.append(("reply", xid, zxid, err))
                with self._lock:
                    slot = self._pending.pop(xid, None)
                if slot is not None:
                    slot.put(Reply(xid, zxid, err, frame[d.off:]))
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            self.closed.set()
            with self._lock:
                pending, self._pending = self._pending, {}
            for slot in pending.values():
                slot.put(None)

    def _ping_loop(self) -> None:
        interval = max(0.2, self.negotiated_timeout / 3000.0)
        while not self.closed.wait(interval):
            try:
                with self._lock:
                    self._send_frame(Enc().int(XID_PING).int(OP_PING).bytes())
            except OSError:
                return

    # -- requests ------------------------------------------------------------------------
    def send(self, op: int, body: bytes = b"", xid: Optional[int] = None) -> "queue.Queue":
        slot: "queue.Queue" = queue.Queue(1)
        with self._lock:
            if self.closed.is_set():
                raise ConnectionError("connection closed")
            if xid is None:
                self._xid += 1
                xid = self._xid
            self._pending[xid] = slot
            self._send_frame(Enc().int(xid).int(op).bytes() + body)
        return slot

    def call(self, op: int, body: bytes = b"", xid: Optional[int] = None) -> Reply:
        reply = self.send(op, body, xid).get(timeout=self.io_timeout)
        if reply is None:
            raise ConnectionError("connection closed before reply to op %d" % op)
        return reply

    def ok(self, op: int, body: bytes = b"") -> Dec:
        """call() that raises ZkError unless err == 0; returns a decoder over the body."""
        r = self.call(op, body)
        if r.err != OK:
            raise ZkError(r.err, "(op %d)" % op)
        return Dec(r.body)

    def close(self) -> None:
        if self.closed.is_set():
            self._shutdown()
            return
        try:
            self.call(OP_CLOSE)
        except (OSError, ConnectionError, queue.Empty):
            pass
        self._shutdown()

    def drop(self) -> None:
        """Close the TCP connection without closing the session."""
        self._shutdown()

    def _shutdown(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- events --------------------------------------------------------------------------
    def next_event(self, timeout: float = 5.0) -> Event:
        return self.events.get(timeout=timeout)

    def no_event(self, wait: float = 0.5) -> bool:
        try:
            ev = self.events.get(timeout=wait)
        except queue.Empty:
            return True
        self.events.put(ev)
        return False

    # -- operations ----------------------------------------------------------------------
    def create(self, path: str, data: bytes = b"", flags: int = PERSISTENT,
               acl=OPEN_ACL_UNSAFE, ttl: Optional[int] = None, op: Optional[int] = None):
        """create2/createContainer/createTTL; returns (path, stat) or raises ZkError."""
        if op is None:
            if flags == CONTAINER:
                op = OP_CREATE_CONTAINER
            elif ttl is not None:
                op = OP_CREATE_TTL
            else:
                op = OP_CREATE2
        e = Enc().string(path).buffer(data).acls(acl).int(flags)
        if op == OP_CREATE_TTL:
            e.long(ttl if ttl is not None else -1)
        d = self.ok(op, e.bytes())
        if op == OP_CREATE:
            return d.string(), None
        return d.string(), d.stat()

    def exists(self, path: str, watch: bool = False) -> Optional[Stat]:
        r = self.call(OP_EXISTS, Enc().string(path).bool(watch).bytes())
        if r.err == NO_NODE:
            return None
        if r.err != OK:
            raise ZkError(r.err)
        return Dec(r.body).stat()

    def get(self, path: str, watch: bool = False):
        d = self.ok(OP_GET_DATA, Enc().string(path).bool(watch).bytes())
        return d.buffer(), d.stat()

    def set(self, path: str, data: bytes, version: int = -1) -> Stat:
        return self.ok(OP_SET_DATA, Enc().string(path).buffer(data).int(version).bytes()).stat()

    def delete(self, path: str, version: int = -1) -> None:
        self.ok(OP_DELETE, Enc().string(path).int(version).bytes())

    def get_children(self, path: str, watch: bool = False) -> List[str]:
        return self.ok(OP_GET_CHILDREN, Enc().string(path).bool(watch).bytes()).strings()

    def get_children2(self, path: str, watch: bool = False):
        d = self.ok(OP_GET_CHILDREN2, Enc().string(path).bool(watch).bytes())
        return d.strings(), d.stat()

    def add_watch(self, path: str, mode: int) -> None:
        self.ok(OP_ADD_WATCH, Enc().string(path).int(mode).bytes())

    def remove_watches(self, path: str, watcher_type: int) -> Reply:
        return self.call(OP_REMOVE_WATCHES, Enc().string(path).int(watcher_type).bytes())

    def check_watches(self, path: str, watcher_type: int) -> Reply:
        return self.call(OP_CHECK_WATCHES, Enc().string(path).int(watcher_type).bytes())

    def get_ephemerals(self, prefix: str) -> List[str]:
        return self.ok(OP_GET_EPHEMERALS, Enc().string(prefix).bytes()).strings()

    def get_all_children_number(self, path: str) -> int:
        return self.ok(OP_GET_ALL_CHILDREN_NUMBER, Enc().string(path).bytes()).int()

    def who_am_i(self):
        d = self.ok(OP_WHO_AM_I)
        return [(d.string(), d.string()) for _ in range(d.int())]

    def add_auth(self, scheme: str, auth: bytes) -> Reply:
        return self.call(OP_AUTH, Enc().int(0).string(scheme).buffer(auth).bytes(), xid=XID_AUTH)

    def multi_read(self, ops):
        """multiRead (op 22). ops: [("get", path) | ("children", path)].
        Returns one entry per op: (data, stat) for get, [names] for children, or an int
        error code."""
        e = Enc()
        for kind, path in ops:
            e.int(OP_GET_DATA if kind == "get" else OP_GET_CHILDREN).bool(False).int(-1)
            e.string(path).bool(False)
        e.int(-1).bool(True).int(-1)
        d = self.ok(OP_MULTI_READ, e.bytes())
        results = []
        while True:
            typ, done, err = d.int(), d.bool(), d.int()
            if done:
                return results
            if typ == -1:
                results.append(d.int())
            elif typ == OP_GET_DATA:
                results.append((d.buffer(), d.stat()))
            elif typ == OP_GET_CHILDREN:
                results.append(d.strings())
            else:
                raise ValueError("unexpected multiRead result type %d" % typ)

    def multi_creates(self, ops, data: bytes = b"d"):
        """A multi of creates, each sent under any header op (create, create2, a container
        header, ...): ops = [(header_op, path, flags)], each with `data` and an open ACL.
        Returns (reply err, [(result type, err, path or error code, Stat or None)], zxid):
        3.9 answers a create2 with type 15 and the Stat, 3.8.0 with type 1 and the path."""
        e = Enc()
        for op, path, flags in ops:
            e.int(op).bool(False).int(-1)
            e.string(path).buffer(data).acls(OPEN_ACL_UNSAFE).int(flags)
        e.int(-1).bool(True).int(-1)
        r = self.call(OP_MULTI, e.bytes())
        d = Dec(r.body)
        out = []
        while d.remaining():
            typ, done, err = d.int(), d.bool(), d.int()
            if done:
                break
            if typ == -1:
                out.append((typ, err, d.int(), None))
            elif typ == OP_CREATE:
                out.append((typ, err, d.string(), None))
            elif typ == OP_CREATE2:
                out.append((typ, err, d.string(), d.stat()))
            else:
                raise ValueError("unexpected multi result type %d" % typ)
        return r.err, out, r.zxid

    def multi(self, ops):
        """multi (op 14). ops: [("create", path, data, flags) | ("delete", path, version) |
        ("set", path, data, version) | ("check", path, version)].
        Returns (reply_header_err, [(type, err, payload)])."""
        e = Enc()
        for op in ops:
            kind = op[0]
            if kind == "create":
                e.int(OP_CREATE).bool(False).int(-1)
                e.string(op[1]).buffer(op[2]).acls(OPEN_ACL_UNSAFE).int(op[3])
            elif kind == "delete":
                e.int(OP_DELETE).bool(False).int(-1).string(op[1]).int(op[2])
            elif kind == "set":
                e.int(OP_SET_DATA).bool(False).int(-1).string(op[1]).buffer(op[2]).int(op[3])
            elif kind == "check":
                e.int(OP_CHECK).bool(False).int(-1).string(op[1]).int(op[2])
            else:
                raise ValueError(kind)
        e.int(-1).bool(True).int(-1)
        r = self.call(OP_MULTI, e.bytes())
        d = Dec(r.body)
        results = []
        while d.remaining():
            typ, done, err = d.int(), d.bool(), d.int()
            if done:
                break
            if typ == -1:
                results.append((typ, err, d.int()))
            elif typ == OP_CREATE:
                results.append((typ, err, d.string()))
            elif typ == OP_CREATE2:
                results.append((typ, err, (d.string(), d.stat())))
            elif typ == OP_SET_DATA:
                results.append((typ, err, d.stat()))
            else:
                results.append((typ, err, None))
        return r.err, results
