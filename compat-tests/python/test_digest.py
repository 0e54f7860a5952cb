"""A learner compares its tree with the leader's digest after every txn (Java's
`DataTree.compareDigest`, `zookeeper.digest.enabled`, default true), counts mismatches in
`mntr` `zk_digest_mismatches_count` and logs `Digests are not matching`.

Scenario (3 voters; node 1, the lowest id, is the victim and follows):

1. A workload through the leader; every member reports 0 mismatches.
2. The victim is stopped. In its newest txn log the last setData of `/…/t` gets other data
   (same length), and that entry and every later one lose their TxnDigest (a txn without a
   digest is not compared, in Java and in zkserver), checksums recomputed: the victim
   loads a tree that differs from the others' without noticing.
3. Writes while it is down (it gets them by DIFF), then it starts again, then more writes
   (broadcast): the victim's counter rises, the others' stay 0, and the victim still has the
   tampered data (neither implementation repairs).
"""

import struct
import uuid
import zlib

import pytest

import zkharness
from zkharness import close_clients, wait_for

VICTIM = 1
SET_DATA = 5

# (victim impl, impl of nodes 2 and 3)
CASES = zkharness.ALONE_AND_MIXED


def mntr(srv) -> dict:
    out = {}
    for line in srv.four_letter("mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def mismatches(srv) -> int:
    return int(mntr(srv)["zk_digest_mismatches_count"])


def read_log(path):
    """(file header, [record bytes]) of a txn log: entries are Adler32 (long), length (int),
    record, 0x42; a zero length or the end of the file ends them."""
    raw = path.read_bytes()
    header, pos, records = raw[:16], 16, []
    while pos + 12 <= len(raw):
        _, n = struct.unpack_from(">qi", raw, pos)
        if n <= 0 or pos + 12 + n + 1 > len(raw):
            break
        records.append(raw[pos + 12:pos + 12 + n])
        pos += 12 + n + 1
    return header, records, len(raw)


def write_log(path, header, records, size):
    out = bytearray(header)
    for r in records:
        out += struct.pack(">qi", zlib.adler32(r), len(r)) + r + b"\x42"
    out += bytes(max(0, size - len(out)))
    path.write_bytes(bytes(out))


def tamper_last_set_data(log_dir, path: str, new_data: bytes) -> int:
    """In the newest log, give the last setData of `path` `new_data` (same length) and strip
    the TxnDigest (12 bytes: version int, digest long) from it and every later entry.
    Returns its zxid."""
    newest = max(log_dir.glob("log.*"), key=lambda p: int(p.name[4:], 16))
    header, records, size = read_log(newest)
    for i in range(len(records) - 1, -1, -1):
        r = records[i]
        zxid, typ = struct.unpack_from(">q", r, 12)[0], struct.unpack_from(">i", r, 28)[0]
        if typ != SET_DATA:
            continue
        n = struct.unpack_from(">i", r, 32)[0]
        if r[36:36 + n].decode() != path:
            continue
        at = 36 + n
        dlen = struct.unpack_from(">i", r, at)[0]
        assert dlen == len(new_data), (dlen, new_data)
        records[i] = r[:at + 4] + new_data + r[at + 4 + dlen:]
        for j in range(i, len(records)):
            records[j] = records[j][:-12]
        write_log(newest, header, records, size)
        return zxid
    raise AssertionError("no setData of %s in %s" % (path, newest))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("victim_impl,other_impl", zkharness.victim_cases(CASES, "%s-follower-of-%s"))
def test_a_learner_counts_digest_mismatches(tmp_path, victim_impl, other_impl):
    impls = {3: other_impl, 2: other_impl, VICTIM: victim_impl}
    with zkharness.Ensemble(tmp_path, tick=500) as ens:
        ens.start_all(impls, timeout=90)
        leader = ens.leader_other_than(VICTIM, victim_impl)
        victim = ens.servers[VICTIM]
        base = "/digest-" + uuid.uuid4().hex[:8]
        t = base + "/t"
        zk = ens.servers[leader].client()
        try:
            zk.create(base, b"")
            for i in range(20):
                zk.create("%s/n-%02d" % (base, i), b"x" * i, ephemeral=(i % 5 == 0))
                zk.set("%s/n-%02d" % (base, i), b"y")
            zk.delete("%s/n-03" % base)
            zk.create(t, b"v0")
            zk.set(t, b"v1")
        finally:
            close_clients(zk)
        wait_for(lambda: zkharness.srvr_zxid(victim) == zkharness.srvr_zxid(ens.servers[leader]),
                 what="victim caught up")
        # Untampered: a workload with sessions, ephemerals, deletes: no mismatch anywhere.
        for sid, srv in ens.servers.items():
            assert mismatches(srv) == 0, (sid, srv.impl)
        victim.stop()
        tamper_last_set_data(victim.data_dir / "version-2", t, b"x1")
        zk = ens.servers[leader].client()
        try:
            for i in range(3):
                zk.create("%s/diff-%d" % (base, i), b"d")
            ens.start(VICTIM, victim_impl, wait=True, timeout=90)
            victim = ens.servers[VICTIM]
            for i in range(3):
                zk.create("%s/broadcast-%d" % (base, i), b"b")
            assert zk.get(t)[0] == b"v1"
        finally:
            close_clients(zk)
        wait_for(lambda: zkharness.srvr_zxid(victim) >= zkharness.srvr_zxid(ens.servers[leader]),
                 timeout=60, what="victim caught up again")
        wait_for(lambda: mismatches(victim) > 0, timeout=30, what="a mismatch counted")
        for sid, srv in ens.servers.items():
            if sid != VICTIM:
                assert mismatches(srv) == 0, (sid, srv.impl)
        assert "Digests are not matching" in victim.log_path.read_text(errors="replace")
        c = victim.client()
        try:
            assert c.get(t)[0] == b"x1"  # counted, not repaired
            assert len(c.get_children(base)) == 15 + 1 + 6
        finally:
            close_clients(c)
