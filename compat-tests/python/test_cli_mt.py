"""cli_mt (the C client's shell, libzookeeper_mt) against both servers.

`cli_mt -h host:port -c 'cmd'` runs one command in batch mode and exits (~25 ms; every
command gets its own session, so an ephemeral node is gone by the next command). The
commands that only have a synchronous form (exists, wexists, myid, addauth) never exit
in batch mode and are not used; interactive mode on stdin runs commands asynchronously
and quits before their replies arrive, so it is not used either.

Each test runs a list of commands, turns their outputs into one transcript and compares it
with the golden transcript recorded from Java 3.8 (the Java run re-checks the golden text),
then asserts key substrings. Normalisation: session chatter and "time = N msec" dropped,
ctime/mtime dropped, zxids renamed <Z1>.. (one numbering across the whole test, so equal
zxids in different commands stay visibly equal) and ephemeral owners <S1>..., and the
children listed by ls/ls2 sorted: the C client prints them in the server's order, which for
Java is its HashSet's iteration order; test_children_order checks that order separately.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from clitools import Canon, assert_contains, assert_transcript

CLI_MT = os.environ.get("CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")

pytestmark = pytest.mark.skipif(not os.path.exists(CLI_MT), reason="cli_mt not installed")

_DROP = re.compile(r"^(Watcher SESSION_EVENT state = CONNECTED_STATE|writing client id: .*|"
                   r"time = \d+ msec|\s*[cm]time = .*|\s*mtime=.*)$")
_SESSION = re.compile(r"^Got a new session id: 0x([0-9a-f]+)$")
_ZXID = re.compile(r"^(\s*)(czxid|mzxid)=([0-9a-f]+)$")
_OWNER = re.compile(r"^(\s*)ephemeralOwner = ([0-9a-f]+)$")


def run_cli_mt(server, command, extra_args=(), timeout=10.0):
    proc = subprocess.run(
        [CLI_MT, "-h", server.connect_string, *extra_args, "-c", command],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8", errors="replace")


_CHILD = re.compile(r"^\t[^=\s]+$")


def _sort_child_runs(lines):
    out, run = [], []
    for line in lines + [None]:
        if line is not None and _CHILD.match(line):
            run.append(line)
            continue
        out.extend(sorted(run))
        run = []
        if line is not None:
            out.append(line)
    return out


class Transcript:
    def __init__(self, server):
        self.server = server
        self.zx, self.sess = Canon("Z"), Canon("S")
        self.lines = []
        self.raw = []
        self.session_ids = []

    def run(self, command, extra_args=(), sort_children=True):
        rc, raw = run_cli_mt(self.server, command, extra_args)
        self.raw.append("$ cli_mt %s -c %r  (exit %d)\n%s" % (" ".join(extra_args), command, rc, raw))
        self.lines.append("> %s%s" % (" ".join(extra_args) + " " if extra_args else "", command))
        out = []
        for line in raw.splitlines():
            line = line.rstrip()
            if line.startswith("Batch mode: ") or _DROP.match(line):
                continue
            m = _SESSION.match(line)
            if m:
                self.session_ids.append(int(m.group(1), 16))
                continue
            m = _ZXID.match(line)
            if m:
                out.append("%s%s=%s" % (m.group(1), m.group(2), self.zx(m.group(3))))
                continue
            m = _OWNER.match(line)
            if m:
                v = int(m.group(2), 16)
                if v != 0:
                    line = "%sephemeralOwner = %s" % (m.group(1), self.sess(m.group(2)))
            out.append(line)
        if sort_children:
            out = _sort_child_runs(out)
        if rc != 0:
            out.append("(exit %d)" % rc)
        self.lines.extend(out)
        return "\n".join(out)

    def text(self):
        return "\n".join(self.lines) + "\n"

    def check(self, name, golden, *needles):
        text = self.text()
        assert_transcript(self.server.impl, name, text, golden, "\n".join(self.raw))
        assert_contains(text, *needles)
        return text


def run_all(server, commands):
    t = Transcript(server)
    for c in commands:
        t.run(c)
    return t


# ---------------------------------------------------------------------------------------

CRUD = [
    "create /cm",
    "create /cm",
    "get /cm",
    "set /cm hello",
    "get /cm",
    "create /cm/a",
    "create2 /cm/b",
    "ls /cm/a",
    "ls2 /cm/a",
    "delete /cm",
    "delete /cm/a",
    "ls /cm",
    "ls2 /cm",
    "delete /nonexist",
    "set /nonexist x",
    "get /nonexist",
    "ls /nonexist",
    "ls2 /nonexist",
    "create /nonexist/x",
    "sync /cm",
    "sync /nonexist",
    "delete /cm/b",
    "delete /cm",
    "get /cm",
]

CRUD_GOLDEN = """
> create /cm
Creating [/cm] node (mode: 0)
[/cm]: rc = 0
\tname = /cm
> create /cm
Creating [/cm] node (mode: 0)
[/cm]: rc = -110
> get /cm
/cm: rc = 0
 value_len = 3
new
Stat:
\tczxid=<Z1>
\tmzxid=<Z1>
\tversion=0\taversion=0
\tephemeralOwner = 0
> set /cm hello
/cm: rc = 0 Stat:
\tczxid=<Z1>
\tmzxid=<Z2>
\tversion=1\taversion=0
\tephemeralOwner = 0
> get /cm
/cm: rc = 0
 value_len = 5
hello
Stat:
\tczxid=<Z1>
\tmzxid=<Z2>
\tversion=1\taversion=0
\tephemeralOwner = 0
> create /cm/a
Creating [/cm/a] node (mode: 0)
[/cm/a]: rc = 0
\tname = /cm/a
> create2 /cm/b
Creating [/cm/b] node (mode: 0)
[/cm/b]: rc = 0
\tname = /cm/b
\tczxid=<Z3>
\tmzxid=<Z3>
\tversion=0\taversion=0
\tephemeralOwner = 0
> ls /cm/a
/cm/a: rc = 0
> ls2 /cm/a
/cm/a: rc = 0
\tczxid=<Z4>
\tmzxid=<Z4>
\tversion=0\taversion=0
\tephemeralOwner = 0
> delete /cm
/cm: rc = -111
> delete /cm/a
/cm/a: rc = 0
> ls /cm
/cm: rc = 0
\tb
> ls2 /cm
/cm: rc = 0
\tb
\tczxid=<Z1>
\tmzxid=<Z2>
\tversion=1\taversion=0
\tephemeralOwner = 0
> delete /nonexist
/nonexist: rc = -101
> set /nonexist x
/nonexist: rc = -101 Stat:
null
> get /nonexist
/nonexist: rc = -101

Stat:
null
> ls /nonexist
/nonexist: rc = -101
> ls2 /nonexist
/nonexist: rc = -101
null
> create /nonexist/x
Creating [/nonexist/x] node (mode: 0)
[/nonexist/x]: rc = -101
> sync /cm
[/cm]: rc = 0
\tname = /cm
> sync /nonexist
[/nonexist]: rc = 0
\tname = /nonexist
> delete /cm/b
/cm/b: rc = 0
> delete /cm
/cm: rc = 0
> get /cm
/cm: rc = -101

Stat:
null
"""


def test_crud(server):
    t = run_all(server, CRUD)
    t.check("cli_mt_crud", CRUD_GOLDEN,
            "> create /cm\nCreating [/cm] node (mode: 0)\n[/cm]: rc = 0\n\tname = /cm",
            "> create /cm\nCreating [/cm] node (mode: 0)\n[/cm]: rc = -110",
            "/cm: rc = 0\n value_len = 3\nnew\n",
            "/cm: rc = 0\n value_len = 5\nhello\n",
            "> delete /cm\n/cm: rc = -111",
            "> delete /nonexist\n/nonexist: rc = -101",
            "> create /nonexist/x\nCreating [/nonexist/x] node (mode: 0)\n[/nonexist/x]: rc = -101",
            "\tversion=1\taversion=0")


MODES = [
    "create /cmm",
    "create +e /cmm/e",
    "get /cmm/e",
    "create +s /cmm/s",
    "create +s /cmm/s",
    "create +es /cmm/es",
    "create +c /cmm/c",
    "create2 +c /cmm/c2",
    "get /cmm/c",
    "create +t=60000 /cmm/t",
    "create2 +t=60000 /cmm/t2",
    "get /cmm/t",
    "create +st=60000 /cmm/ts",
    "ls2 /cmm",
    "delete /cmm/c",
    "delete /cmm/c2",
    "delete /cmm/t",
    "delete /cmm/t2",
    "delete /cmm/s0000000001",
    "delete /cmm/s0000000002",
    "delete /cmm/ts0000000008",
    "delete /cmm",
]

MODES_GOLDEN = """
> create /cmm
Creating [/cmm] node (mode: 0)
[/cmm]: rc = 0
\tname = /cmm
> create +e /cmm/e
Creating [/cmm/e] node (mode: 1)
[/cmm/e]: rc = 0
\tname = /cmm/e
> get /cmm/e
/cmm/e: rc = -101

Stat:
null
> create +s /cmm/s
Creating [/cmm/s] node (mode: 2)
[/cmm/s]: rc = 0
\tname = /cmm/s0000000001
> create +s /cmm/s
Creating [/cmm/s] node (mode: 2)
[/cmm/s]: rc = 0
\tname = /cmm/s0000000002
> create +es /cmm/es
Creating [/cmm/es] node (mode: 3)
[/cmm/es]: rc = 0
\tname = /cmm/es0000000003
> create +c /cmm/c
Creating [/cmm/c] node (mode: 4)
[/cmm/c]: rc = 0
\tname = /cmm/c
> create2 +c /cmm/c2
Creating [/cmm/c2] node (mode: 4)
[/cmm/c2]: rc = 0
\tname = /cmm/c2
\tczxid=<Z1>
\tmzxid=<Z1>
\tversion=0\taversion=0
\tephemeralOwner = 0
> get /cmm/c
/cmm/c: rc = 0
 value_len = 3
new
Stat:
\tczxid=<Z2>
\tmzxid=<Z2>
\tversion=0\taversion=0
\tephemeralOwner = 0
> create +t=60000 /cmm/t
Creating [/cmm/t] node (mode: 5)
[/cmm/t]: rc = 0
\tname = /cmm/t
> create2 +t=60000 /cmm/t2
Creating [/cmm/t2] node (mode: 5)
[/cmm/t2]: rc = 0
\tname = /cmm/t2
\tczxid=<Z3>
\tmzxid=<Z3>
\tversion=0\taversion=0
\tephemeralOwner = 0
> get /cmm/t
/cmm/t: rc = 0
 value_len = 3
new
Stat:
\tczxid=<Z4>
\tmzxid=<Z4>
\tversion=0\taversion=0
\tephemeralOwner = 0
> create +st=60000 /cmm/ts
Creating [/cmm/ts] node (mode: 6)
[/cmm/ts]: rc = 0
\tname = /cmm/ts0000000008
> ls2 /cmm
/cmm: rc = 0
\tc
\tc2
\ts0000000001
\ts0000000002
\tt
\tt2
\tts0000000008
\tczxid=<Z5>
\tmzxid=<Z5>
\tversion=0\taversion=0
\tephemeralOwner = 0
> delete /cmm/c
/cmm/c: rc = 0
> delete /cmm/c2
/cmm/c2: rc = 0
> delete /cmm/t
/cmm/t: rc = 0
> delete /cmm/t2
/cmm/t2: rc = 0
> delete /cmm/s0000000001
/cmm/s0000000001: rc = 0
> delete /cmm/s0000000002
/cmm/s0000000002: rc = 0
> delete /cmm/ts0000000008
/cmm/ts0000000008: rc = 0
> delete /cmm
/cmm: rc = 0
"""


def test_create_modes(server):
    t = run_all(server, MODES)
    text = t.check("cli_mt_modes", MODES_GOLDEN,
                   "> create +e /cmm/e\nCreating [/cmm/e] node (mode: 1)\n[/cmm/e]: rc = 0",
                   "> get /cmm/e\n/cmm/e: rc = -101",
                   "\tname = /cmm/s0000000001",
                   "\tname = /cmm/s0000000002",
                   # sequence numbers count creates only (es was deleted with its session)
                   "\tname = /cmm/ts0000000008",
                   "Creating [/cmm/c] node (mode: 4)\n[/cmm/c]: rc = 0",
                   "Creating [/cmm/t] node (mode: 5)\n[/cmm/t]: rc = 0",
                   "> delete /cmm\n/cmm: rc = 0")
    # Clients see ephemeralOwner 0 for containers and TTL nodes.
    assert "ephemeralOwner = <S" not in text


# ---------------------------------------------------------------------------------------

MISC = [
    "config",
    "reconfig -remove 5",
    "reconfig -add 5=127.0.0.1:12345:12346;12347",
    "get /zookeeper/config",
    "ls /zookeeper",
    "ls2 /zookeeper/quota",
    "set /zookeeper/config x",
    "delete /zookeeper",
]

MISC_GOLDEN = """
> config
/zookeeper/config: rc = 0
 value_len = 0

Stat:
\tczxid=<Z1>
\tmzxid=<Z1>
\tversion=0\taversion=ffffffff
\tephemeralOwner = 0
> reconfig -remove 5
-remove 5: rc = -123

Stat:
null
> reconfig -add 5=127.0.0.1:12345:12346;12347
-add 5=127.0.0.1:12345:12346;12347: rc = -123

Stat:
null
> get /zookeeper/config
/zookeeper/config: rc = 0
 value_len = 0

Stat:
\tczxid=<Z1>
\tmzxid=<Z1>
\tversion=0\taversion=ffffffff
\tephemeralOwner = 0
> ls /zookeeper
/zookeeper: rc = 0
\tconfig
\tquota
> ls2 /zookeeper/quota
/zookeeper/quota: rc = 0
\tczxid=<Z1>
\tmzxid=<Z1>
\tversion=0\taversion=0
\tephemeralOwner = 0
> set /zookeeper/config x
/zookeeper/config: rc = -102 Stat:
null
> delete /zookeeper
/zookeeper: rc = -8
"""


def test_config_and_system_nodes(server):
    t = run_all(server, MISC)
    t.check("cli_mt_misc", MISC_GOLDEN,
            "> config\n/zookeeper/config: rc = 0\n value_len = 0",
            "> reconfig -remove 5\n-remove 5: rc = -123",
            "\tversion=0\taversion=ffffffff",
            "> set /zookeeper/config x\n/zookeeper/config: rc = -102",
            "> delete /zookeeper\n/zookeeper: rc = -8")


def test_session_ids_and_read_only_flag(server, tmp_path):
    t = Transcript(server)
    t.run("create /cms")
    t.run("get /cms", ("-r",))                 # ConnectRequest with readOnly = true
    t.run("set /cms ro", ("-r",))              # a read-write server accepts writes anyway
    idfile = str(tmp_path / "clientid")
    t.run("create +e /cms/e", ("-m", idfile))  # writes session id + password to the file
    t.run("get /cms", ("-m", idfile))          # that session was closed: a new one
    t.run("delete /cms")
    text = t.text()
    assert_contains(text, "> -r get /cms\n/cms: rc = 0\n value_len = 3\nnew",
                    "> -r set /cms ro\n/cms: rc = 0 Stat:",
                    "> -m %s get /cms\n/cms: rc = 0\n value_len = 2\nro" % idfile,
                    "> delete /cms\n/cms: rc = 0")
    assert len(t.session_ids) == 6, text
    assert len(set(t.session_ids)) == 6, ["%#x" % s for s in t.session_ids]
    # Standalone: the session tracker's server id is 1 (ZooKeeperServer's
    # createSessionTrackerServerId), and it is the high byte of every session id.
    assert {s >> 56 for s in t.session_ids} == {1}, ["%#x" % s for s in t.session_ids]
    # Ids from one server are handed out consecutively.
    assert t.session_ids == list(range(t.session_ids[0], t.session_ids[0] + 6)), \
        ["%#x" % s for s in t.session_ids]


# ---------------------------------------------------------------------------------------
# The order of getChildren replies. Java keeps a node's children in a java.util.HashSet,
# so clients see its iteration order (by String.hashCode, table size, insertion history),
# not the creation order or a sorted one; the C client prints that order unchanged.

ORDER = (["create /cmo"] + ["create /cmo/%s" % n for n in (
    "zookeeper", "a", "b", "c", "node-1", "node-2", "node-10", "x", "lock-0000000001",
    "Z", "aa", "leader", "member_0000000042", "q", "config", "0")] +
    ["delete /cmo/b", "delete /cmo/node-10", "create /cmo/bb", "ls /cmo"])

ORDER_GOLDEN = """
/cmo: rc = 0
\taa
\tbb
\ta
\tleader
\tc
\tmember_0000000042
\tzookeeper
\tnode-1
\tnode-2
\t0
\tq
\tx
\tlock-0000000001
\tZ
\tconfig
"""


def test_children_order(server):
    t = Transcript(server)
    for c in ORDER:
        out = t.run(c, sort_children=False)
    # only the ls output: the creates are checked by the other tests
    assert_transcript(server.impl, "cli_mt_order", out + "\n", ORDER_GOLDEN, "\n".join(t.raw[-1:]))
