"""The harness itself, and what it relies on from either server: restart keeps the data,
a crash keeps every acknowledged write, a broken binary is reported, not waited on."""

import time

import pytest

import zkharness


def test_restart_keeps_data_and_port(impl, tmp_path):
    srv = zkharness.start_server(impl, tmp_path)
    try:
        zk = srv.client()
        zk.create("/persisted", b"kept")
        zk.create("/eph", ephemeral=True)
        zk.stop()
        zk.close()
        port = srv.port
        srv.restart()
        assert srv.port == port
        zk = srv.client()
        try:
            assert zk.get("/persisted")[0] == b"kept"
            assert zk.exists("/eph") is None  # closed session: its ephemeral is gone
        finally:
            zk.stop()
            zk.close()
        assert srv.four_letter("ruok") == "imok"
    finally:
        srv.stop()
    assert not srv.running


def test_kill_keeps_acknowledged_writes(impl, tmp_path):
    srv = zkharness.start_server(impl, tmp_path)
    try:
        zk = srv.client()
        for i in range(50):
            zk.create("/n%02d" % i, b"%d" % i)
        last = zk.set("/n49", b"last").mzxid
        srv.kill()
        zk.stop()
        zk.close()
        srv.start()
        zk = srv.client()
        try:
            assert len(zk.get_children("/")) == 50 + 1  # plus /zookeeper
            data, stat = zk.get("/n49")
            assert (data, stat.mzxid) == (b"last", last)
            # new zxids continue after the recovered ones
            assert zk.create("/after", include_data=True)[1].czxid > last
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()


def test_extra_cfg_is_written(impl, tmp_path):
    srv = zkharness.start_server(impl, tmp_path, extra_cfg={"maxSessionTimeout": 30000})
    try:
        assert "maxSessionTimeout=30000\n" in srv.cfg_path.read_text()
        conf = srv.four_letter("conf")
        assert "maxSessionTimeout=30000" in conf
    finally:
        srv.stop()


def test_broken_binary_is_reported_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKRS_BIN", "/bin/false")
    t0 = time.monotonic()
    with pytest.raises(zkharness.ServerStartError) as info:
        zkharness.start_server("zkrs", tmp_path)
    assert time.monotonic() - t0 < 10
    assert "failed to start" in str(info.value)
    assert "exited with code 1" in str(info.value)
