"""Seeded generator of client request frames for the live mutation fuzzer (test_fuzz_live.py).

Pure logic, no IO: `Generator(seed, batch)` yields the same frames for the same (seed, batch)
whatever happened before, so one failing batch can be replayed on its own. It builds a valid
frame (4-byte length, RequestHeader xid/type, the body the op's record calls for, as in
ZooKeeper 3.8's zookeeper.jute) for every client op, and then sometimes mutates it: bit flips,
a wrong frame length, a truncated or extended body, a corrupted inner length field, a swapped
op code, a reserved or duplicate xid.

Paths come from a small pool so that ops collide on the same nodes. `Role` decides which paths
and credentials a session may use: the owner (digest "alice") never names the sealed subtree,
so any change there was made by someone without the right to make it.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple

import zkraw as z

# -- identities ------------------------------------------------------------------------------

OWNER = b"alice:alice-secret"     # may do anything on the sealed subtree
OTHER = b"mallory:mallory-pw"     # another digest user: no rights on the sealed subtree
SUPER = b"super:super-walker-pw"  # the walker's super user (superDigest)


def digest_id(cred: bytes) -> str:
    """user:base64(sha1(user:password)), DigestAuthenticationProvider.generateDigest."""
    user = cred.split(b":", 1)[0].decode()
    return "%s:%s" % (user, base64.b64encode(hashlib.sha1(cred).digest()).decode())


OWNER_ID = digest_id(OWNER)
OTHER_ID = digest_id(OTHER)
SUPER_DIGEST = digest_id(SUPER)

# -- the tree the fuzzer plays in -------------------------------------------------------------

SEALED_ROOT = "/sealed"
# The sealed subtree, created by the owner before fuzzing, never written by anyone after:
# (path, data, acl). World may read some of it (and so set watches there).
SEALED = [
    (SEALED_ROOT, b"sealed-root", [(31, "digest", OWNER_ID), (1, "world", "anyone")]),
    (SEALED_ROOT + "/a", b"owner only", [(31, "digest", OWNER_ID)]),
    (SEALED_ROOT + "/r", b"world readable", [(31, "digest", OWNER_ID), (1, "world", "anyone")]),
    (SEALED_ROOT + "/b", b"", [(31, "digest", OWNER_ID), (1, "world", "anyone")]),
    (SEALED_ROOT + "/b/c", b"leaf" * 10, [(31, "digest", OWNER_ID)]),
    # A childless node an unauthenticated deleteContainer (op 20) would like to remove.
    (SEALED_ROOT + "/leaf", b"x", [(31, "digest", OWNER_ID), (1, "world", "anyone")]),
]
# An ephemeral of the (never fuzzed) holder session inside the sealed subtree.
SEALED_EPHEMERAL = SEALED_ROOT + "/eph"
# An ephemeral of the holder anyone may delete (world ALL): deleting it is allowed.
OPEN_EPHEMERAL = "/fz/heph"

OPEN_PATHS = ["/fz", "/fz/a", "/fz/b", "/fz/c", "/fz/a/x", "/fz/a/y", "/fz/b/x", "/fz/a/x/q",
              "/fz/ttl", "/fz/con", "/fz/con/k", OPEN_EPHEMERAL, "/fz/s-"]
SYSTEM_PATHS = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/nope/deep"]
BAD_PATHS = ["", "fz", "/fz/", "/fz//a", "/fz/./a", "/fz/../fz", "/fz/a\x00b", "/\u00e9t\u00e9"]
SEALED_PATHS = [p for p, _, _ in SEALED] + [SEALED_EPHEMERAL, SEALED_ROOT + "/new"]

# Op codes a client can send (ZooDefs.OpCode), and some it cannot.
CLIENT_OPS = [z.OP_CREATE, z.OP_DELETE, z.OP_EXISTS, z.OP_GET_DATA, z.OP_SET_DATA, z.OP_GET_ACL,
              z.OP_SET_ACL, z.OP_GET_CHILDREN, z.OP_SYNC, z.OP_PING, z.OP_GET_CHILDREN2,
              z.OP_CHECK, z.OP_MULTI, z.OP_CREATE2, z.OP_RECONFIG, z.OP_CHECK_WATCHES,
              z.OP_REMOVE_WATCHES, z.OP_CREATE_CONTAINER, z.OP_DELETE_CONTAINER, z.OP_CREATE_TTL,
              z.OP_MULTI_READ, z.OP_AUTH, z.OP_SET_WATCHES, z.OP_SASL, z.OP_GET_EPHEMERALS,
              z.OP_GET_ALL_CHILDREN_NUMBER, z.OP_SET_WATCHES2, z.OP_ADD_WATCH, z.OP_WHO_AM_I,
              z.OP_CLOSE]
ODD_OPS = [0, 10, 23, 99, 108, 1000, -1, -10, -12, 0x7FFFFFFF, -0x80000000]
# A bare check (op 13, outside a multi): Java 3.8 logs a txn of type 13 for it that it cannot
# read back ("Unsupported Txn with type=13"), so it refuses to restart. Not sent at the top
# level (test_bare_check.py covers it); inside multis it is.
TOP_LEVEL_OPS = [op for op in CLIENT_OPS if op != z.OP_CHECK]
# Write ops are drawn more often: they are what can do damage.
WEIGHTS = {z.OP_CREATE: 4, z.OP_CREATE2: 4, z.OP_DELETE: 4, z.OP_SET_DATA: 4, z.OP_SET_ACL: 4,
           z.OP_MULTI: 4, z.OP_DELETE_CONTAINER: 3, z.OP_CREATE_TTL: 2, z.OP_CREATE_CONTAINER: 2,
           z.OP_CLOSE: 3}

MARKER_XID = 0x5EA1ED  # the last request of a session's batch; its reply means "all read"
INTERESTING_INTS = [-1, -2, 0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0xFFFFF, 0x100000,
                    0x7FFFFFFF, -0x80000000]


@dataclass(frozen=True)
class Role:
    name: str
    cred: Optional[bytes]      # digest credential sent first (None: unauthenticated)
    may_name_sealed: bool      # False for the owner: it has the right, so it must not try


ROLES = [Role("owner", OWNER, False), Role("other", OTHER, True), Role("anon", None, True)]


def auth_frame(cred: bytes) -> bytes:
    return frame(z.XID_AUTH, z.OP_AUTH, z.Enc().int(0).string("digest").buffer(cred).bytes())


def frame(xid: int, op: int, body: bytes) -> bytes:
    payload = struct.pack(">ii", xid, op) + body
    return struct.pack(">i", len(payload)) + payload


def connect_frame(timeout_ms: int, session_id: int = 0, passwd: bytes = b"\0" * 16,
                  last_zxid: int = 0) -> bytes:
    body = (z.Enc().int(0).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
            .bool(False).bytes())
    return struct.pack(">i", len(body)) + body


class Generator:
    """Frames for one session of one batch; deterministic in (seed, batch, session index)."""

    def __init__(self, seed: int, batch: int, index: int, role: Role, mutate_p: float = 0.3,
                 skip_ops=()):
        self.rng = random.Random("%d/%d/%d" % (seed, batch, index))
        # Top-level op codes sent (skip_ops: those a server under test is known to fail on).
        self.top_ops = [op for op in TOP_LEVEL_OPS if op not in skip_ops]
        self.role = role
        self.mutate_p = mutate_p
        self.xid = 0
        self.in_multi = False
        self.bad_frame_len = set()  # indexes of the frames whose length prefix was mutated
        self.notes: List[str] = []  # one line per frame, for the replay dump

    # -- small pieces --------------------------------------------------------------------
    def path(self, writing: bool = False) -> str:
        r = self.rng.random()
        if self.role.may_name_sealed and r < (0.45 if writing else 0.3):
            return self.rng.choice(SEALED_PATHS)
        if r < 0.85:
            return self.rng.choice(OPEN_PATHS)
        if r < 0.93:
            return self.rng.choice(SYSTEM_PATHS)
        return self.rng.choice(BAD_PATHS)

    def data(self) -> Optional[bytes]:
        r = self.rng.random()
        if r < 0.05:
            return None
        if r < 0.1:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(256, 1500)))
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 40)))

    def acl(self):
        choices = [
            z.OPEN_ACL_UNSAFE,
            [(1, "world", "anyone")],
            [(31, "digest", OTHER_ID)],
            [(31, "auth", "")],
            [(self.rng.randint(0, 31), "world", "anyone"), (31, "digest", OTHER_ID)],
            [(31, "ip", "127.0.0.1")],
            [(31, "ip", "10.0.0.0/8")],
            [],
            [(31, "bogus", "x")],
            [(0, "world", "anyone")],
            [(31, "digest", "no-colon")],
            [(self.rng.getrandbits(32) - 2 ** 31, "world", "anyone")],
        ]
        if self.role.cred == OWNER:
            choices.append([(31, "digest", OWNER_ID)])
        return self.rng.choice(choices)

    def version(self) -> int:
        return self.rng.choice([-1, -1, 0, 1, 2, self.rng.randint(-5, 5), 0x7FFFFFFF])

    def paths(self, n_max: int = 4):
        return [self.path() for _ in range(self.rng.randint(0, n_max))]

    def credential(self) -> bytes:
        """Never the owner's or the super user's: a non-owner must stay one."""
        if self.role.cred == OWNER:
            return self.rng.choice([OWNER, OTHER, b"alice:wrong", b""])
        return self.rng.choice([OTHER, b"alice:wrong", b"mallory", b"", b"super:guess",
                                b":", bytes(self.rng.getrandbits(8) for _ in range(8))])

    # -- request bodies, one per op ------------------------------------------------------
    def create_body(self, op: int) -> bytes:
        flags = self.rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 7, -1])
        if op == z.OP_CREATE_CONTAINER:
            flags = self.rng.choice([4, 4, 4, 0, 1])
        if op == z.OP_CREATE_TTL:
            flags = self.rng.choice([5, 6, 5, 0, 1])
        e = z.Enc().string(self.path(True)).buffer(self.data()).acls(self.acl()).int(flags)
        if op == z.OP_CREATE_TTL:
            ttl = self.rng.choice([1, 1000, 3600_000, 0, -1, 2 ** 40, 2 ** 63 - 1])
            if ttl == -1 and flags not in (5, 6) and not self.in_multi:
                # Java 3.8 accepts a top-level createTTL with a non-TTL mode and ttl -1, then
                # fails to apply its txn ("ttl must be positive") and stops serving: not sent.
                ttl = 1000
            e.long(ttl)
        return e.bytes()

    def multi_body(self, read: bool) -> bytes:
        self.in_multi = True
        try:
            return self._multi_body(read)
        finally:
            self.in_multi = False

    def _multi_body(self, read: bool) -> bytes:
        e = z.Enc()
        for _ in range(self.rng.randint(1, 4)):
            if read:
                op = self.rng.choice([z.OP_GET_DATA, z.OP_GET_CHILDREN, z.OP_GET_DATA,
                                      z.OP_SET_DATA])
            else:
                op = self.rng.choice([z.OP_CREATE, z.OP_CREATE2, z.OP_DELETE, z.OP_SET_DATA,
                                      z.OP_CHECK, z.OP_CREATE_CONTAINER, z.OP_CREATE_TTL,
                                      z.OP_GET_DATA])
            e.int(op).bool(False).int(-1)
            e.b += self.body(op)
        e.int(-1).bool(True).int(-1)
        return e.bytes()

    def body(self, op: int) -> bytes:
        e, rng = z.Enc(), self.rng
        if op in (z.OP_CREATE, z.OP_CREATE2, z.OP_CREATE_CONTAINER, z.OP_CREATE_TTL):
            return self.create_body(op)
        if op in (z.OP_DELETE, z.OP_DELETE_CONTAINER, z.OP_CHECK):
            return e.string(self.path(True)).int(self.version()).bytes()
        if op in (z.OP_EXISTS, z.OP_GET_DATA, z.OP_GET_CHILDREN, z.OP_GET_CHILDREN2):
            return e.string(self.path()).bool(rng.random() < 0.5).bytes()
        if op == z.OP_SET_DATA:
            return e.string(self.path(True)).buffer(self.data()).int(self.version()).bytes()
        if op in (z.OP_GET_ACL, z.OP_SYNC, z.OP_GET_EPHEMERALS, z.OP_GET_ALL_CHILDREN_NUMBER):
            return e.string(self.path()).bytes()
        if op == z.OP_SET_ACL:
            return e.string(self.path(True)).acls(self.acl()).int(self.version()).bytes()
        if op in (z.OP_MULTI, z.OP_MULTI_READ):
            return self.multi_body(op == z.OP_MULTI_READ)
        if op == z.OP_RECONFIG:
            return (e.string(rng.choice([None, "", "server.9=127.0.0.1:1:2"]))
                    .string(rng.choice([None, "", "1"])).string(rng.choice([None, ""]))
                    .long(-1).bytes())
        if op in (z.OP_CHECK_WATCHES, z.OP_REMOVE_WATCHES):
            return e.string(self.path()).int(rng.choice([1, 2, 3, 0, 4])).bytes()
        if op == z.OP_ADD_WATCH:
            return e.string(self.path()).int(rng.choice([0, 1, 1, 2, -1])).bytes()
        if op == z.OP_AUTH:
            scheme = rng.choice(["digest", "digest", "digest", "world", "ip", "bogus", "sasl"])
            return e.int(rng.choice([0, 0, 1])).string(scheme).buffer(self.credential()).bytes()
        if op in (z.OP_SET_WATCHES, z.OP_SET_WATCHES2):
            e.long(rng.choice([0, -1, 2 ** 40, rng.getrandbits(20)]))
            for _ in range(3 if op == z.OP_SET_WATCHES else 5):
                e.strings(self.paths())
            return e.bytes()
        if op == z.OP_SASL:
            return e.buffer(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 32)))).bytes()
        return b""  # ping, closeSession, whoAmI and unknown ops

    # -- frames --------------------------------------------------------------------------
    def pick_op(self) -> int:
        if self.rng.random() < 0.03:
            return self.rng.choice(ODD_OPS)
        weights = [WEIGHTS.get(op, 1) for op in self.top_ops]
        return self.rng.choices(self.top_ops, weights)[0]

    def pick_xid(self, op: int) -> int:
        self.xid += 1
        if op == z.OP_PING:
            return z.XID_PING
        if op == z.OP_AUTH:
            return z.XID_AUTH if self.rng.random() < 0.8 else self.xid
        if op in (z.OP_SET_WATCHES, z.OP_SET_WATCHES2):
            return z.XID_SET_WATCHES if self.rng.random() < 0.8 else self.xid
        return self.xid

    def mutate(self, f: bytes) -> Tuple[bytes, str]:
        rng, b = self.rng, bytearray(f)
        kind = rng.choice(["flip", "flip", "byte", "frame_len", "truncate", "extend", "inner_len",
                           "inner_len", "op", "xid"])
        if kind == "flip":
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(4, len(b))
                b[i] ^= 1 << rng.randrange(8)
        elif kind == "byte":
            b[rng.randrange(4, len(b))] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x2F])
        elif kind == "frame_len":
            n = len(b) - 4
            struct.pack_into(">i", b, 0, rng.choice(
                [n - 1, n + 1, n - rng.randint(1, 8), n + rng.randint(1, 8), 0, -1, 0x100000,
                 0x7FFFFFFF]))
        elif kind == "truncate":
            cut = rng.randrange(4, len(b))
            b = b[:cut]
            struct.pack_into(">i", b, 0, len(b) - 4)
        elif kind == "extend":
            b += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
            struct.pack_into(">i", b, 0, len(b) - 4)
        elif kind == "inner_len" and len(b) >= 16:
            i = rng.randrange(12, len(b) - 3)
            struct.pack_into(">i", b, i, rng.choice(INTERESTING_INTS))
        elif kind == "op":
            struct.pack_into(">i", b, 8, rng.choice(self.top_ops + ODD_OPS))
        elif kind == "xid":
            struct.pack_into(">i", b, 4, rng.choice([-1, -2, -4, -8, 0, self.xid - 1,
                                                     MARKER_XID, rng.getrandbits(31)]))
        return bytes(b), kind

    def frames(self, n: int) -> List[bytes]:
        """n requests (a closeSession only ever last), then the marker (exists /)."""
        out = []
        for i in range(n):
            op = self.pick_op()
            while op == z.OP_CLOSE and i < n - 1:
                op = self.pick_op()
            f = frame(self.pick_xid(op), op, self.body(op))
            note = "op %d" % op
            if self.rng.random() < self.mutate_p:
                f, kind = self.mutate(f)
                note += " mutated:" + kind
                if kind == "frame_len":
                    self.bad_frame_len.add(i)
            self.notes.append("%s %s" % (note, f.hex()))
            out.append(f)
        out.append(frame(MARKER_XID, z.OP_EXISTS, z.Enc().string("/").bool(False).bytes()))
        return out

    def split(self, data: bytes) -> List[bytes]:
        """Cut one session's bytes into 1-3 writes at random offsets."""
        cuts = sorted(self.rng.randrange(len(data)) for _ in range(self.rng.randint(0, 2)))
        bounds = [0] + cuts + [len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
