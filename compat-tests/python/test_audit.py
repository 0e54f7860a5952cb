"""The audit log (`audit.enable=true`) against all four implementations: the same operations
give the same records, field for field (Java's AuditHelper / Slf4jAuditLogger, the same in
3.8.0 and 3.9.3), with the session ids replaced by the test's names for its clients.

The Java servers get a log configuration that routes the logger
org.apache.zookeeper.audit.Slf4jAuditLogger to <workdir>/zookeeper_audit.log with the layout
of the RFAAUDIT appender Java ships (commented out) in conf/logback.xml,
`%d{ISO8601} %p %c{2}: %m%n`; zkserver writes that file itself in $ZOO_LOG_DIR.

What Java audits, as the records below show: create/setData/delete/setAcl/reconfig of the
connected client, successes (INFO) and failures (ERROR); a failed write names the request's
path; createTTL is not audited; a multi that succeeded gives one record per create, delete
and setData in it (sequential and TTL creates without a znode_type), one that failed a single
`multiOperation` failure; a session's close deletes its ephemerals as the server's user;
serverStart when serving, serverStop (invoked) on SIGTERM.
"""

import getpass
import re
import time
from pathlib import Path

import pytest
from kazoo.exceptions import BadVersionError, NoAuthError, NodeExistsError, NoNodeError
from kazoo.security import make_digest_acl, make_digest_acl_credential, OPEN_ACL_UNSAFE

import zkharness
import zkraw

AUDIT_FILE = "zookeeper_audit.log"

LOG4J_AUDIT = """
log4j.logger.org.apache.zookeeper.audit.Slf4jAuditLogger=INFO, AUDIT
log4j.additivity.org.apache.zookeeper.audit.Slf4jAuditLogger=false
log4j.appender.AUDIT=org.apache.log4j.FileAppender
log4j.appender.AUDIT.File={path}
log4j.appender.AUDIT.layout=org.apache.log4j.PatternLayout
log4j.appender.AUDIT.layout.ConversionPattern=%d{{ISO8601}} %p %c{{2}}: %m%n
"""

LOG4J2_AUDIT = """
logger.audit.name = org.apache.zookeeper.audit.Slf4jAuditLogger
logger.audit.level = INFO
logger.audit.additivity = false
logger.audit.appenderRef.audit.ref = AUDIT
appender.audit.type = File
appender.audit.name = AUDIT
appender.audit.fileName = {path}
appender.audit.layout.type = PatternLayout
appender.audit.layout.pattern = %d{{ISO8601}} %p %c{{2}}: %m%n
"""

# What zkserver writes: logback's %d{ISO8601}, %p, logback's %c{2}.
ZKRS_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|ERROR) o\.a\.z\.a\.Slf4jAuditLogger: (.*)$")
ANY_LINE = re.compile(r"^.* (INFO|ERROR) \S*Slf4jAuditLogger: (.*)$")


def route_audit_log(server, monkeypatch):
    """Before starting `server`: its audit records go to <workdir>/zookeeper_audit.log."""
    impl = server.impl
    audit_path = server.workdir / AUDIT_FILE
    if impl == "java":
        with open(server.workdir / "log4j.properties", "a") as f:
            f.write(LOG4J_AUDIT.format(path=audit_path))
    elif impl == "java39":
        with open(server.workdir / "log4j2.properties", "a") as f:
            f.write(LOG4J2_AUDIT.format(path=audit_path))
    else:
        monkeypatch.setenv("ZOO_LOG_DIR", str(server.workdir))
        # The server log stays on stderr (the harness's server.log).
        monkeypatch.setenv("ZOO_LOG4J_PROP", "INFO,CONSOLE")
    server.audit_path = audit_path


def start_audited(impl, tmp_path, monkeypatch, extra=None):
    """A server with audit.enable=true whose audit records go to <workdir>/zookeeper_audit.log."""
    port = zkharness.free_port()
    cfg = {"audit.enable": "true"}
    cfg.update(extra or {})
    server = zkharness.Server(impl, Path(tmp_path) / ("%s-%d" % (impl, port)), port, cfg)
    route_audit_log(server, monkeypatch)
    return server.start()


def read_records(server, sessions, wait_for=0, timeout=10.0):
    """The audit records as (level, {field: value}) with session ids named as in
    `sessions` ({id: name}); waits until there are at least `wait_for`."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if server.audit_path.exists():
            lines = server.audit_path.read_text().splitlines()
        if len(lines) >= wait_for or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    out = []
    for line in lines:
        m = (ANY_LINE if zkharness.is_java(server.impl) else ZKRS_LINE).match(line)
        assert m, "not an audit line in the expected layout: %r" % line
        fields = dict(kv.split("=", 1) for kv in m.group(2).split("\t"))
        assert list(fields)[-1] == "result", line
        if "session" in fields:
            fields["session"] = sessions.get(fields["session"], fields["session"])
        out.append((m.group(1), fields))
    return out


def keys_in_order(records):
    return [tuple(f) for _, f in records]


def hex_id(session_id):
    return "0x%x" % session_id


def test_audit_records(impl, tmp_path, monkeypatch):
    server = start_audited(impl, tmp_path, monkeypatch)
    me = getpass.getuser()
    plain = server.client()
    bob = server.client(auth_data=[("digest", "bob:secret")])
    temp = server.client()
    names = {hex_id(plain.client_id[0]): "PLAIN", hex_id(bob.client_id[0]): "BOB",
             hex_id(temp.client_id[0]): "TEMP"}
    try:
        plain.create("/a", b"1")
        with pytest.raises(NodeExistsError):
            plain.create("/a", b"again")
        plain.set("/a", b"2")
        with pytest.raises(BadVersionError):
            plain.set("/a", b"3", version=99)
        with pytest.raises(NoNodeError):
            plain.delete("/nope")
        seq = plain.create("/seq-", b"", sequence=True)
        with zkraw.RawClient(server.host, server.port) as raw:
            names[hex_id(raw.session_id)] = "RAW"
            raw.create("/cont", flags=zkraw.CONTAINER)
            raw.create("/ttl", flags=zkraw.PERSISTENT_WITH_TTL, ttl=60000)  # not audited
        bob_acl = make_digest_acl("bob", "secret", all=True)
        plain.create("/acl", b"")
        plain.set_acls("/acl", [bob_acl])
        with pytest.raises(NoAuthError):
            plain.set("/acl", b"x")
        with pytest.raises(NoAuthError):
            plain.set_acls("/acl", OPEN_ACL_UNSAFE)
        bob.set("/acl", b"by bob")
        tx = plain.transaction()
        tx.create("/m", b"")
        tx.set_data("/m", b"m")
        tx.check("/m", 1)
        tx.create("/mseq-", b"", sequence=True)
        tx.create("/meph", b"", ephemeral=True)
        tx.delete("/meph")
        results = tx.commit()
        mseq = results[3]
        tx = plain.transaction()
        tx.set_data("/m", b"mm")
        tx.create("/a", b"")  # NodeExists: the whole multi fails
        failed = tx.commit()
        assert isinstance(failed[1], NodeExistsError)
        temp.create("/e1", b"", ephemeral=True)
        temp.create("/e2", b"", ephemeral=True)
        temp.stop()
        temp.close()
        plain.delete("/a")
        records = read_records(server, names, wait_for=24)
    finally:
        for c in (plain, bob, temp):
            c.stop()
            c.close()
    # AuthUtil.getUsers walks the connection's ids in its ConcurrentHashMap's order.
    mine = ("127.0.0.1", "bob,127.0.0.1")

    def rec(session, operation, znode=None, znode_type=None, acl=None, result="success",
            user=None):
        f = {"session": session, "user": user or (mine[1] if session == "BOB" else mine[0])}
        f["ip"] = "127.0.0.1"
        f["operation"] = operation
        if znode is not None:
            f["znode"] = znode
        if znode_type is not None:
            f["znode_type"] = znode_type
        if acl is not None:
            f["acl"] = acl
        f["result"] = result
        return ("ERROR" if result == "failure" else "INFO", f)

    def ephemeral(session, znode):
        return ("INFO", {"session": session, "user": me,
                         "operation": "ephemeralZNodeDeletionOnSessionCloseOrExpire",
                         "znode": znode, "result": "success"})

    acl_text = "digest:%s:cdrwa" % make_digest_acl_credential("bob", "secret")
    expected = [
        ("INFO", {"user": me, "operation": "serverStart", "result": "success"}),
        rec("PLAIN", "create", "/a", "persistent"),
        rec("PLAIN", "create", "/a", "persistent", result="failure"),
        rec("PLAIN", "setData", "/a"),
        rec("PLAIN", "setData", "/a", result="failure"),
        rec("PLAIN", "delete", "/nope", result="failure"),
        rec("PLAIN", "create", seq, "persistent_sequential"),
        rec("RAW", "create", "/cont", "container"),
        rec("PLAIN", "create", "/acl", "persistent"),
        rec("PLAIN", "setAcl", "/acl", acl=acl_text),
        rec("PLAIN", "setData", "/acl", result="failure"),
        rec("PLAIN", "setAcl", "/acl", acl="world:anyone:cdrwa", result="failure"),
        rec("BOB", "setData", "/acl"),
        rec("PLAIN", "create", "/m", "persistent"),
        rec("PLAIN", "setData", "/m"),
        # looked up by the applied path: a sequential create has no znode_type
        rec("PLAIN", "create", mseq),
        rec("PLAIN", "create", "/meph", "ephemeral"),
        rec("PLAIN", "delete", "/meph"),
        rec("PLAIN", "multiOperation", result="failure"),
        rec("TEMP", "create", "/e1", "ephemeral"),
        rec("TEMP", "create", "/e2", "ephemeral"),
        ephemeral("TEMP", "/e1"),
        ephemeral("TEMP", "/e2"),
        rec("PLAIN", "delete", "/a"),
    ]
    # Java's closeSession txn lists the ephemerals in no set order.
    got = records[:21] + sorted(records[21:23], key=lambda r: r[1]["znode"]) + records[23:24]
    assert got == expected
    assert all(list(r[1]) == list(e[1]) for r, e in zip(got, expected)), "field order"

    server.stop()
    records = read_records(server, names, wait_for=len(expected) + 1)
    assert len(records) == len(expected) + 1
    assert records[-1] == ("INFO", {"user": me, "operation": "serverStop", "result": "invoked"})


def test_audit_disabled_by_default(impl, tmp_path, monkeypatch):
    server = start_audited(impl, tmp_path, monkeypatch, {"audit.enable": None})
    zk = server.client()
    try:
        zk.create("/x", b"")
    finally:
        zk.stop()
        zk.close()
    time.sleep(0.5)
    text = server.audit_path.read_text() if server.audit_path.exists() else ""
    assert text == ""
    server.stop()


class AuditedEnsemble(zkharness.Ensemble):
    def __init__(self, tmp, monkeypatch):
        super().__init__(tmp, n=3, extra={"audit.enable": "true"})
        self.monkeypatch = monkeypatch

    def start(self, sid, impl, wait=False, timeout=60.0):
        srv = self.new_server(sid, impl)
        route_audit_log(srv, self.monkeypatch)
        self.servers[sid] = srv
        return srv.start(wait=wait, timeout=timeout)


def test_audit_in_an_ensemble(impl, tmp_path, monkeypatch):
    """The server a client is connected to audits its writes (a leader does not audit what a
    follower forwarded, nor a follower what the leader's clients wrote); every server that
    applies a session's close audits its ephemerals' deletion."""
    me = getpass.getuser()
    with AuditedEnsemble(tmp_path, monkeypatch) as ens:
        ens.start_all({1: impl, 2: impl, 3: impl})
        leader = ens.leader()
        assert leader is not None
        follower, other = [sid for sid in (1, 2, 3) if sid != leader]
        at_leader = ens.servers[leader].client()
        at_follower = ens.servers[follower].client()
        names = {hex_id(at_leader.client_id[0]): "L", hex_id(at_follower.client_id[0]): "F"}
        try:
            at_follower.create("/f", b"")
            at_follower.create("/fe", b"", ephemeral=True)
            with pytest.raises(NoNodeError):
                at_follower.set("/nope", b"")
            at_leader.create("/l", b"")
            at_follower.stop()
            at_leader.sync("/")
            at_leader.exists("/fe")
        finally:
            for c in (at_leader, at_follower):
                c.stop()
                c.close()

        def rec(session, operation, znode, znode_type=None, result="success"):
            f = {"session": session, "user": "127.0.0.1", "ip": "127.0.0.1",
                 "operation": operation, "znode": znode}
            if znode_type:
                f["znode_type"] = znode_type
            f["result"] = result
            return ("ERROR" if result == "failure" else "INFO", f)

        start = ("INFO", {"user": me, "operation": "serverStart", "result": "success"})
        gone = ("INFO", {"session": "F", "user": me,
                         "operation": "ephemeralZNodeDeletionOnSessionCloseOrExpire",
                         "znode": "/fe", "result": "success"})
        expected = {
            follower: [start, rec("F", "create", "/f", "persistent"),
                       rec("F", "create", "/fe", "ephemeral"),
                       rec("F", "setData", "/nope", result="failure"), gone],
            leader: [start, rec("L", "create", "/l", "persistent"), gone],
            other: [start, gone],
        }
        for sid, want in expected.items():
            got = read_records(ens.servers[sid], names, wait_for=len(want))
            assert got == want, "node %d (%s)" % (sid, "leader" if sid == leader else "follower")
