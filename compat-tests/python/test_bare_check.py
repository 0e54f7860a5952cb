"""A bare check (op 13, CheckVersionRequest outside a multi) on a node the client may read.

Java 3.8 (and 3.9, master) turns it into a CheckVersionTxn that SerializeUtils.deserializeTxn
cannot read back ("Unsupported Txn with type=%d13"): the standalone server stops serving
without answering, and it cannot restart from its own txn log; Java followers drop out of
the ensemble (test_forward_matrix). That is a Java bug, asserted here as Java's behaviour.
zkserver answers it as Java 3.8.6/3.9.3 do since ZOOKEEPER-2623 (Unimplemented: `check` is
no longer a valid op outside a multi), keeps serving, comes back after a restart, and leaves a
txn log that Java 3.8.0 can read (no record of a type Java cannot deserialize).
"""

import shutil

import zkharness
import zkraw


def _check_open_node(srv):
    c = zkraw.RawClient(srv.host, srv.port, io_timeout=3)
    try:
        c.create("/open", b"x")
        c.create("/before", b"")
        try:
            return c.call(zkraw.OP_CHECK, zkraw.Enc().string("/open").int(0).bytes()).err
        except Exception:  # noqa: BLE001 -- no answer (queue.Empty) or closed
            return None
    finally:
        c.drop()


def test_bare_check(impl, tmp_path):
    srv = zkharness.start_server(impl, tmp_path / "first")
    try:
        err = _check_open_node(srv)
        if impl == "java":
            assert err is None, "Java 3.8 answered a bare check (%s): the bug is gone?" % err
            srv.stop()
            try:
                srv.start(timeout=15)
            except zkharness.ServerStartError as e:
                assert "Unsupported Txn with type=%d13" in str(e) or "Unsupported Txn" in \
                    srv.log_path.read_text(errors="replace")
                return
            raise AssertionError("Java 3.8 restarted after a bare check: the bug is gone?")
        assert err == zkraw.UNIMPLEMENTED
        c = zkraw.RawClient(srv.host, srv.port)
        c.create("/after", b"")
        c.close()
        srv.restart()
        c = zkraw.RawClient(srv.host, srv.port)
        assert c.exists("/after") is not None
        c.close()
    finally:
        srv.stop()
    # Java reads the data directory zkserver wrote.
    java_dir = tmp_path / "java-reads"
    shutil.copytree(srv.data_dir, java_dir / "data")
    java = zkharness.Server("java", java_dir, zkharness.free_port())
    try:
        java.start(timeout=30)
        c = zkraw.RawClient(java.host, java.port)
        assert c.exists("/after") is not None and c.get("/open")[0] == b"x"
        c.close()
    finally:
        java.stop()
