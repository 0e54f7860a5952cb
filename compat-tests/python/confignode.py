"""`/zookeeper/config` of ensemble members, as Java 3.8 writes it (shared by the ensemble
suites).

Java's `ZKDatabase.initConfigInZKDatabase` (at startup and after every sync with a leader,
even with reconfig off) sets it to `QuorumMaj.toString()`: one `server.N=host:quorumPort:
electionPort:participant|observer` line per member in Java's HashMap order (by sid for small
ids), then `version=<hex>` without a newline; mzxid = the config version (0 for a static
config), version -1, aversion -1, czxid = ctime = 0, mtime = the wall time it was set (so it
differs between nodes), ACL world:anyone READ. A standalone server keeps the empty node.
"""

import os
import subprocess

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")


def expected(server) -> bytes:
    """The bytes Java writes for the static `server.N=host:q:e[:observer]` lines of a
    zkharness ensemble member's zoo.cfg (sids below 16)."""
    members = {int(k.split(".", 1)[1]): v for k, v in server.cfg().items()
               if k.startswith("server.")}
    lines = []
    for sid in sorted(members):
        addr = members[sid]
        if not addr.endswith((":observer", ":participant")):
            addr += ":participant"
        lines.append("server.%d=%s" % (sid, addr))
    return ("\n".join(lines) + "\nversion=0").encode()


def read(server):
    """(data, stat, acl) of /zookeeper/config on `server` (kazoo)."""
    zk = server.client()
    try:
        data, stat = zk.get("/zookeeper/config")
        acl, _ = zk.get_acls("/zookeeper/config")
        return data, stat, acl
    finally:
        zk.stop()
        zk.close()


def check(servers):
    """Every node of {sid: Server} holds the expected config with Java's stat and ACL (mtime
    aside)."""
    want = expected(next(iter(servers.values())))
    seen = {}
    for sid, srv in sorted(servers.items()):
        data, stat, acl = read(srv)
        assert data == want, (sid, srv.impl, data, want)
        assert (stat.czxid, stat.mzxid, stat.ctime, stat.version, stat.cversion,
                stat.aversion, stat.ephemeralOwner, stat.dataLength, stat.numChildren,
                stat.pzxid) == (0, 0, 0, -1, 0, -1, 0, len(want), 0, 0), (sid, srv.impl, stat)
        assert stat.mtime > 1_600_000_000_000, (sid, srv.impl, stat)
        assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(1, "world", "anyone")], \
            (sid, srv.impl, acl)
        seen[sid] = (data, stat._replace(mtime=0), acl)
    assert len(set(map(repr, seen.values()))) == 1, seen


def zkcli_config(server, *flags):
    """(exit code, lines) of zkCli.sh `config [flags]` on `server` (JVM noise dropped)."""
    proc = subprocess.run(
        [ZKCLI, "-server", server.connect_string, "config", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
        env=dict(os.environ, CLIENT_JVMFLAGS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"))
    lines = [ln for ln in proc.stdout.splitlines()
             if ln and not ln.startswith(("SLF4J: ", "Connecting to ", "WATCHER::",
                                          "WatchedEvent ", "Welcome to ZooKeeper",
                                          "JLine support"))]
    return proc.returncode, lines
