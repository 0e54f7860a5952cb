"""Four-letter words: both servers, same scripted state, outputs compared line by line.

Numbers, addresses, dates, session ids and paths differ between any two servers, so they
are normalised; everything else (keys, order, wording, layout) must be identical.

Each test runs once per pair of a Java reference and ours (zkharness.REFERENCE) whose two
members ZK_IMPLS selects: java (3.8.0) with zkrs, java39 (3.9.3) with zkrs39. In the
dictionaries below "java" is the reference and "zkrs" ours.
"""

import re
import time

import pytest

import zkharness
import zkraw

WORDS = ["ruok", "srvr", "stat", "conf", "cons", "wchs", "wchc", "wchp", "dump", "mntr",
         "isro", "dirs", "envi", "crst", "srst"]


PAIRS = [(ref, ours) for ours, ref in sorted(zkharness.REFERENCE.items())
         if {ref, ours} <= set(zkharness.selected_impls())]


@pytest.fixture(scope="module", params=PAIRS or [pytest.param(None, marks=pytest.mark.skip(
    reason="ZK_IMPLS selects no (reference, ours) pair"))], ids=lambda p: p and p[1])
def pair(request):
    """(reference impl, our impl)."""
    return request.param


def _roles(pair):
    """("java", reference impl), ("zkrs", our impl): the keys the tests compare by."""
    return zip(("java", "zkrs"), pair)


@pytest.fixture(scope="module")
def both(pair, tmp_path_factory):
    servers = {}
    try:
        for role, impl in _roles(pair):
            servers[role] = zkharness.start_server(impl, tmp_path_factory.mktemp("4lw-" + impl))
        yield servers
    finally:
        for s in servers.values():
            s.stop()
        _prepared.clear()


def _prepare(srv):
    """The same state on each server: nodes, an ephemeral, data/child/exist watches."""
    c = zkraw.RawClient(srv.host, srv.port)
    c.create("/w", b"abc")
    c.create("/w/e", b"", zkraw.EPHEMERAL)
    c.get("/w", watch=True)
    c.get_children("/w", watch=True)
    c.exists("/missing", watch=True)
    return c


def _normalise(text, srv):
    t = text.replace(str(srv.data_dir), "<DATADIR>")
    t = re.sub(r"version-2", "<V2>", t)
    t = re.sub(r"^Zookeeper version: .*$", "Zookeeper version: <V>", t, flags=re.M)
    t = re.sub(r"^zk_version\t.*$", "zk_version\t<V>", t, flags=re.M)
    t = re.sub(r"/127\.0\.0\.1:\d+", "/<ADDR>", t)
    t = re.sub(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}", "<DATE>", t)
    t = re.sub(r"0x[0-9a-f]+", "0x<H>", t)
    t = re.sub(r"-?\d+(\.\d+)?(E-?\d+)?", "<N>", t)
    return t


def _lines(text):
    """Lines, with each run of connection lines (" /addr...") sorted: Java lists
    connections in the order of a hash set of connection objects, which varies run to run."""
    out, run = [], []
    for line in text.splitlines():
        if line.startswith(" /") or line.startswith("\tip: /"):
            run.append(line)
            continue
        out += sorted(run)
        run = []
        out.append(line)
    return out + sorted(run)


@pytest.mark.parametrize("word", WORDS)
def test_four_letter_word_matches_java(both, word):
    clients = {impl: _prepare_once(both, impl) for impl in both}
    assert clients
    out = {impl: both[impl].four_letter(word) for impl in both}
    if word == "envi":
        # Values are the JVM's vs ours; the keys and their order must match.
        keys = {impl: [l.split("=", 1)[0] for l in _lines(t)] for impl, t in out.items()}
        assert keys["zkrs"] == keys["java"]
        return
    if word == "dump":
        # An empty "0 expire at" bucket is left wherever a session's touch moved it on;
        # how many there are depends on where the clients' pings fell relative to tick
        # boundaries, which differs run to run (our unit tests check that they are kept).
        out = {impl: re.sub(r"^0 expire at [^\n]*:\n", "", t, flags=re.M) for impl, t in out.items()}
    norm = {impl: _normalise(t, both[impl]) for impl, t in out.items()}
    assert _lines(norm["zkrs"]) == _lines(norm["java"]), "%s differs:\n--- java\n%s\n--- zkrs\n%s" % (
        word, out["java"], out["zkrs"])


_prepared = {}


def _prepare_once(both, impl):
    if impl not in _prepared:
        _prepared[impl] = _prepare(both[impl])
        time.sleep(0.2)
    return _prepared[impl]


def test_not_whitelisted_word_is_refused_the_same_way(pair, tmp_path):
    out = {}
    for role, impl in _roles(pair):
        srv = zkharness.start_server(impl, tmp_path / impl,
                                     extra_cfg={"4lw.commands.whitelist": "srvr,ruok"})
        try:
            out[role] = (srv.four_letter("ruok"), srv.four_letter("mntr"), srv.four_letter("wchs"))
        finally:
            srv.stop()
    assert out["zkrs"] == out["java"]
    assert out["java"][1] == "mntr is not executed because it is not in the whitelist.\n"


def _mntr_values(text):
    return dict(l.split("\t", 1) for l in text.splitlines() if "\t" in l)


@pytest.mark.parametrize("force_sync", ["yes", "no"])
def test_mntr_counts_txn_log_fsyncs(pair, tmp_path, force_sync):
    """Each write a lone client waits for is synced on its own: `fsynctime` counts one fsync
    per commit (and none with forceSync=no), in whole ms."""
    writes = 20
    seen = {}
    for _, impl in _roles(pair):
        srv = zkharness.start_server(impl, tmp_path / impl, extra_cfg={"forceSync": force_sync})
        try:
            c = zkraw.RawClient(srv.host, srv.port)
            for i in range(writes):
                c.create("/f%d" % i, b"x")
            m = _mntr_values(srv.four_letter("mntr"))
            c.close()
        finally:
            srv.stop()
        seen[impl] = {k: int(float(m["zk_%s_fsynctime" % k])) for k in ("cnt", "min", "max", "sum")}
    for impl, v in seen.items():
        if force_sync == "no":
            assert v["cnt"] == 0, (impl, seen)
        else:
            # The creates plus the session's createSession txn, give or take a shared sync.
            assert writes <= v["cnt"] <= writes + 3, (impl, seen)
            assert 0 <= v["min"] <= v["max"] and v["sum"] >= 0, (impl, seen)


def _raw_word(srv, payload: bytes) -> bytes:
    """Send raw bytes as a four-letter word; the answer up to the server's close."""
    import socket
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(payload)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk


def test_stmk_sets_the_trace_mask_and_gtmk_shows_it(both):
    import struct
    seen = {}
    for impl, srv in both.items():
        before = srv.four_letter("gtmk")
        answers = [_raw_word(srv, b"stmk" + struct.pack(">q", v)) for v in (0x1234, -1)]
        after = srv.four_letter("gtmk")
        # stmk without its 8 bytes: Java closes without an answer.
        short = _raw_word(srv, b"stmk\x00\x01")
        _raw_word(srv, b"stmk" + struct.pack(">q", 306))
        seen[impl] = (before, answers, after, short, srv.four_letter("gtmk"))
    assert seen["java"] == (b"306".decode(), [b"4660", b"-1"], "-1", b"", "306"), seen
    assert seen["zkrs"] == seen["java"]


def test_stmk_not_whitelisted_is_refused_without_reading_the_mask(pair, tmp_path):
    out = {}
    for role, impl in _roles(pair):
        srv = zkharness.start_server(impl, tmp_path / impl,
                                     extra_cfg={"4lw.commands.whitelist": "gtmk"})
        try:
            out[role] = (_raw_word(srv, b"stmk"), srv.four_letter("gtmk"))
        finally:
            srv.stop()
    assert out["java"] == (b"stmk is not executed because it is not in the whitelist.\n", "306")
    assert out["zkrs"] == out["java"]


def test_hash_lists_the_digest_every_128_zxids(pair, tmp_path):
    """`hash`: "<zxid hex>: <tree digest>" for each applied zxid that is a multiple of 128.
    Digests include node times, so only the zxids and the shape are compared."""
    out = {}
    for role, impl in _roles(pair):
        srv = zkharness.start_server(impl, tmp_path / impl)
        try:
            assert srv.four_letter("hash") == ""
            c = zkraw.RawClient(srv.host, srv.port)  # createSession: zxid 1
            for i in range(300):
                c.create("/h%03d" % i, b"x" * (i % 7))
            text = srv.four_letter("hash")
            c.close()
        finally:
            srv.stop()
        out[role] = text
        lines = text.splitlines()
        assert [l.split(": ")[0] for l in lines] == ["80", "100"], (impl, text)
        assert all(re.fullmatch(r"[0-9a-f]+: -?\d+", l) for l in lines), (impl, text)
        assert text.endswith("\n")
    assert out["zkrs"].count("\n") == out["java"].count("\n")
