"""The AdminServer (Java's JettyAdminServer and Commands) against every implementation.

Each server runs with admin.enableServer=true on a free port (Java with Debian's Jetty 9.4
and Jackson jars, zkharness.ADMIN_JARS). The state is fixed before the commands run: one
kazoo session with an ephemeral /a and a data watch on it.

1. Every command Java lists (3.8.0: 26, 3.9.3: 28), with its aliases: the JSON's field
   names, order, types and nesting as Java prints them (SHAPES below, written from Java
   3.8.0's and 3.9.3's answers), values where they are deterministic, and Jackson's
   pretty printing byte for byte (jackson_pretty re-prints the parsed answer).
2. `monitor` holds the keys `mntr` prints, in the same order.
3. Quorum roles on a 3-node ensemble (two participants and an observer... see
   test_quorum_roles): leader, voting_view, zabstate, observers, is_read_only, stats.
4. Bad input: unknown commands, other paths, other methods, 3.9's POST and its
   authentication answers, a huge body, garbage bytes, an admin port already taken.

Differences of zk-rs, on purpose (README, "AdminServer"): the values of environment and
system_properties (there is no JVM), a body over 1 MiB answered 413 (Java ignores bodies
of commands that read none), snapshot/restore with an Authorization header (501: not
implemented), and a standalone server whose admin port is taken keeps serving (Java's
standalone server exits).
"""

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import zkharness
from zkharness import at_least, close_clients, is_java, wait_for


# -- HTTP ----------------------------------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status, self.body = status, body
        self.headers = {k.lower(): v for k, v in headers.items()}  # names are case-blind

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body with objects as Obj: [(key, value)] pairs (order kept)."""
        return json.loads(self.text, object_pairs_hook=Obj)


class Obj(list):
    """A JSON object as its (key, value) pairs, told apart from an array."""


def request(port, path, method="GET", body=None, headers=None, timeout=15):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, dict(e.headers), e.read())


def get(port, command, query=""):
    return request(port, "/commands/%s%s" % (command, query))


def jackson_pretty(value, depth=0):
    """Jackson's DefaultPrettyPrinter on a value parsed with object_pairs_hook=list."""
    if isinstance(value, Obj):
        if not value:
            return "{ }"
        pad = "  " * (depth + 1)
        items = ["%s%s : %s" % (pad, json.dumps(k, ensure_ascii=False),
                                jackson_pretty(v, depth + 1)) for k, v in value]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson_pretty(v, depth) for v in value) + " ]"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def as_dict(pairs):
    return dict(pairs)


# -- what Java answers ---------------------------------------------------------------------------

INT, FLOAT, STR, BOOL, NULL = "int", "float", "str", "bool", "null"


def type_of(v):
    if v is None:
        return NULL
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, str):
        return STR
    return "list"


class Bean(list):
    """A Java bean's fields as Jackson prints them: the properties backed by fields first,
    in declaration order, then the getter-only ones in the JVM's reflection order, which
    changes from one run of the same Java server to the next (seen with 3.9.3's
    ServerStats): only the first `fixed` keys have an order."""

    def __init__(self, fields, fixed):
        super().__init__(fields)
        self.fixed = fixed


BUFFER = [("last_buffer_size", INT), ("min_buffer_size", INT), ("max_buffer_size", INT)]
SERVER_STATS = Bean([
    ("packets_sent", INT), ("packets_received", INT), ("fsync_threshold_exceed_count", INT),
    ("client_response_stats", BUFFER), ("data_dir_size", INT), ("log_dir_size", INT),
    ("provider_null", BOOL), ("server_state", STR), ("last_processed_zxid", INT),
    ("outstanding_requests", INT), ("avg_latency", FLOAT), ("max_latency", INT),
    ("min_latency", INT), ("num_alive_client_connections", INT), ("uptime", INT),
    ("auth_failed_count", INT), ("non_mtlsremote_conn_count", INT),
    ("non_mtlslocal_conn_count", INT)], fixed=4)
SRVR = [("version", STR), ("read_only", BOOL), ("server_stats", SERVER_STATS),
        ("client_response", BUFFER), ("node_count", INT)]
CONN_BRIEF = [("remote_socket_address", STR), ("interest_ops", INT),
              ("outstanding_requests", INT), ("packets_received", INT), ("packets_sent", INT)]
CONN_FULL = CONN_BRIEF + [
    ("session_id", INT), ("last_operation", STR), ("established", INT),
    ("session_timeout", INT), ("last_cxid", INT), ("last_zxid", INT),
    ("last_response_time", INT), ("last_latency", INT), ("min_latency", INT),
    ("avg_latency", INT), ("max_latency", INT)]
# Java's MultipleAddresses bean (getter-only properties: no order).
ADDRESSES = Bean([
    ("empty", BOOL), ("all_addresses", ("list", None)), ("all_reachable_addresses", ("list", None)),
    ("one", STR), ("reachable_address", STR), ("wildcard_addresses", ("list", None)),
    ("all_ports", ("list", None)), ("all_host_strings", ("list", None)),
    ("all_reachable_addresses_or_all", ("list", None)), ("reachable_or_one", STR)], fixed=0)
ENVIRONMENT = [(k, STR) for k in (
    "zookeeper.version", "host.name", "java.version", "java.vendor", "java.home",
    "java.class.path", "java.library.path", "java.io.tmpdir", "java.compiler", "os.name",
    "os.arch", "os.version", "user.name", "user.home", "user.dir", "os.memory.free",
    "os.memory.max", "os.memory.total")]

# command -> (aliases, fields before "command"/"error"); a list value is a nested object,
# ("list", X) a list of X.
SHAPES = {
    "configuration": (["conf", "config"], [
        ("client_port", INT), ("data_dir", STR), ("data_log_dir", STR), ("tick_time", INT),
        ("max_client_cnxns", INT), ("min_session_timeout", INT), ("max_session_timeout", INT),
        ("server_id", INT), ("client_port_listen_backlog", INT)]),
    "connection_stat_reset": (["crst"], []),
    "connections": (["cons"], [("connections", ("list", CONN_FULL)),
                               ("secure_connections", ("list", None))]),
    "dirs": ([], [("datadir_size", INT), ("logdir_size", INT)]),
    "dump": ([], [("expiry_time_to_session_ids", "map"),
                  ("session_id_to_ephemeral_paths", "map")]),
    "environment": (["env", "envi"], ENVIRONMENT),
    "get_trace_mask": (["gtmk"], [("tracemask", INT)]),
    "hash": ([], [("digests", ("list", None))]),
    "initial_configuration": (["icfg"], [("initial_configuration", STR)]),
    "is_read_only": (["isro"], [("read_only", BOOL)]),
    "last_snapshot": (["lsnp"], [("zxid", STR), ("timestamp", INT)]),
    "leader": (["lead"], None),  # standalone: the error comes first (test_leader_standalone)
    "monitor": (["mntr"], "mntr"),
    "observer_connection_stat_reset": (["orst"], []),
    "observers": (["obsr"], [("synced_observers", INT), ("observers", ("list", None))]),
    "ruok": ([], []),
    "server_stats": (["srvr"], SRVR),
    "set_trace_mask": (["stmk"], None),  # needs traceMask (test_set_trace_mask)
    "stat_reset": (["srst"], []),
    "stats": (["stat"], SRVR + [("connections", ("list", CONN_BRIEF)),
                                ("secure_connections", ("list", None))]),
    "system_properties": (["sysp"], "sorted"),
    "voting_view": ([], [("current_config", "map")]),
    "watch_summary": (["wchs"], [("num_connections", INT), ("num_paths", INT),
                                 ("num_total_watches", INT)]),
    "watches": (["wchc"], [("session_id_to_watched_paths", "map")]),
    "watches_by_path": (["wchp"], [("path_to_session_ids", "map")]),
    "zabstate": ([], [("voting", BOOL), ("zabstate", STR)]),
}
COMMANDS_38 = sorted(SHAPES)
COMMANDS_39 = sorted(SHAPES) + []  # snapshot and restore added below
COMMANDS_39 = sorted(COMMANDS_39 + ["restore", "snapshot"])


def check_shape(fields, pairs, where):
    """`pairs` has exactly the keys of `fields`, in order, with those types and nesting."""
    keys, want_keys = [k for k, _ in pairs], [k for k, _ in fields]
    if isinstance(fields, Bean):
        n = fields.fixed
        assert keys[:n] == want_keys[:n] and sorted(keys[n:]) == sorted(want_keys[n:]), where
        pairs = sorted(pairs, key=lambda p: want_keys.index(p[0]))
    assert [k for k, _ in pairs] == want_keys, where
    for (key, want), (_, got) in zip(fields, pairs):
        here = "%s.%s" % (where, key)
        if isinstance(want, list):
            check_shape(want, got, here)
        elif isinstance(want, tuple):
            assert isinstance(got, list), here
            for i, item in enumerate(got):
                if want[1] is not None:
                    check_shape(want[1], item, "%s[%d]" % (here, i))
        elif want == "map":
            assert isinstance(got, list), here  # an object, as pairs
        else:
            assert type_of(got) == want, "%s: %r is not %s" % (here, got, want)


def check_answer(ans, command, fields, where):
    assert ans.status == 200, (where, ans.status, ans.text)
    assert ans.headers.get("content-type", "").startswith("application/json"), ans.headers
    pairs = ans.json()
    assert ans.text == jackson_pretty(pairs), where
    assert pairs[-2:] == [("command", command), ("error", None)], where
    if fields is not None:
        check_shape(fields, pairs[:-2], where)
    return as_dict(pairs)


# -- a standalone server -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(impl, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin-%s" % impl)
    port = zkharness.free_port()
    srv = zkharness.start_server(impl, tmp, extra_cfg=zkharness.admin_cfg(port))
    zk = srv.client(timeout=30.0)  # pings every 10 s: they do not disturb the counters
    zk.create("/a", b"x", ephemeral=True)
    zk.get("/a", watch=lambda e: None)
    srv.admin_port = port
    srv.zk = zk
    yield srv
    close_clients(zk)
    srv.stop()


def test_command_list(admin, impl):
    """GET <commandURL> and <commandURL>/: a link and a <br/> per primary name, sorted."""
    names = COMMANDS_39 if at_least(impl, 3, 9) else COMMANDS_38
    want = "".join('<a href="/commands/%s">%s</a>\n<br/>\n' % (n, n) for n in names)
    for path in ("/commands", "/commands/"):
        ans = request(admin.admin_port, path)
        assert ans.status == 200
        assert ans.text == want
        assert "content-type" not in ans.headers, ans.headers


@pytest.mark.parametrize("command", [c for c in sorted(SHAPES)
                                     if SHAPES[c][1] not in (None, "mntr", "sorted")])
def test_command_shape(admin, impl, command):
    """Each command and each alias: Java's fields, types and nesting, Jackson's layout."""
    aliases, fields = SHAPES[command]
    for name in [command] + aliases:
        check_answer(get(admin.admin_port, name), command, fields, "%s/%s" % (impl, name))


def test_values(admin, impl):
    """The deterministic values of the fixed state (one session, /a ephemeral and watched)."""
    port, sid = admin.admin_port, admin.zk.client_id[0]
    d = check_answer(get(port, "is_read_only"), "is_read_only", None, impl)
    assert d["read_only"] is False
    assert as_dict(get(port, "gtmk").json())["tracemask"] == 306
    assert as_dict(get(port, "ruok").json()) == {"command": "ruok", "error": None}
    d = as_dict(get(port, "watch_summary").json())
    assert (d["num_connections"], d["num_paths"], d["num_total_watches"]) == (1, 1, 1)
    d = as_dict(get(port, "watches").json())
    assert d["session_id_to_watched_paths"] == [(str(sid), ["/a"])]
    d = as_dict(get(port, "watches_by_path").json())
    assert d["path_to_session_ids"] == [("/a", [sid])]
    d = as_dict(get(port, "dump").json())
    assert d["session_id_to_ephemeral_paths"] == [(str(sid), ["/a"])]
    # The harness's readiness session may still be listed (Java removes it lazily).
    buckets = d["expiry_time_to_session_ids"]
    assert all(int(when) > 0 and all(type_of(s) == INT for s in sids) for when, sids in buckets)
    assert [when for when, sids in buckets if sid in sids] != []
    d = as_dict(get(port, "configuration").json())
    assert d["client_port"] == admin.port and d["server_id"] == 0
    assert d["data_dir"] == str(admin.data_dir / "version-2")
    assert d["tick_time"] == 2000 and d["client_port_listen_backlog"] == -1
    d = as_dict(get(port, "initial_configuration").json())
    assert d["initial_configuration"] == admin.cfg_path.read_text()
    d = as_dict(get(port, "voting_view").json())
    assert d["current_config"] == []
    d = as_dict(get(port, "zabstate").json())
    assert (d["voting"], d["zabstate"]) == (False, "")
    d = as_dict(get(port, "observers").json())
    assert (d["synced_observers"], d["observers"]) == (0, [])
    d = as_dict(get(port, "last_snapshot").json())
    assert d["zxid"] == "0" and d["timestamp"] > 1_600_000_000
    d = as_dict(get(port, "server_stats").json())
    assert d["version"].startswith("3.9.3-" if at_least(impl, 3, 9) else "3.8.0-")
    assert as_dict(d["server_stats"])["server_state"] == "standalone"
    assert as_dict(d["server_stats"])["num_alive_client_connections"] == 1
    assert d["node_count"] == 6  # /, /a, /zookeeper, its config and quota, and the root twice
    d = as_dict(get(port, "connections").json())
    [conn] = [as_dict(c) for c in d["connections"]]
    assert conn["session_id"] == sid and conn["session_timeout"] == 30000
    assert conn["remote_socket_address"].startswith("127.0.0.1:")
    d = as_dict(get(port, "stats").json())
    assert len(d["connections"]) == 1 and d["secure_connections"] == []


def test_monitor_is_mntr(admin, impl):
    """`monitor` holds `mntr`'s keys in mntr's order; numbers typed as Java puts them."""
    ans = get(admin.admin_port, "monitor")
    pairs = check_answer(ans, "monitor", None, impl) and ans.json()[:-2]
    keys = [k for k, _ in pairs]
    mntr = [line.split("\t")[0][len("zk_"):] for line in admin.four_letter("mntr").splitlines()]
    assert keys == mntr
    for k, v in pairs:
        if k in ("version", "server_state"):
            assert type_of(v) == STR, k
        elif k.startswith("avg_") or k in ("avg_latency", "connection_drop_probability"):
            assert type_of(v) == FLOAT, k
        else:
            assert type_of(v) == INT, k
    assert as_dict(get(admin.admin_port, "mntr").json())["command"] == "monitor"


def test_environment_and_system_properties(admin, impl):
    ans = get(admin.admin_port, "environment")
    check_answer(ans, "environment", ENVIRONMENT, impl)
    ans = get(admin.admin_port, "system_properties")
    pairs = check_answer(ans, "system_properties", None, impl) and ans.json()[:-2]
    keys = [k for k, _ in pairs]
    assert keys == sorted(keys)
    assert all(type_of(v) == STR for _, v in pairs)
    props = dict(pairs)
    # zoo.cfg's admin.* lines are zookeeper.* system properties, as Java sets them.
    assert props["zookeeper.admin.serverPort"] == str(admin.admin_port)
    for k in ("user.dir", "user.home", "user.name", "os.name", "os.arch", "java.io.tmpdir"):
        assert k in props, k


def test_leader_standalone(admin, impl):
    """`leader` of a standalone server: Java puts its error among the data, first."""
    for name in ("leader", "lead"):
        ans = get(admin.admin_port, name)
        assert ans.status == 200
        assert ans.json() == [("error", "server is not initialized"), ("command", "leader")]
        assert ans.text == jackson_pretty(ans.json())


def test_set_trace_mask(admin, impl):
    port = admin.admin_port
    ans = get(port, "stmk")
    assert ans.json() == [("error", "setTraceMask requires long traceMask argument"),
                          ("command", "set_trace_mask")]
    ans = get(port, "set_trace_mask", "?traceMask=x1")
    assert ans.json() == [("error", "setTraceMask requires long traceMask argument, got x1"),
                          ("command", "set_trace_mask")]
    ans = get(port, "set_trace_mask", "?traceMask=307")
    assert ans.json() == [("tracemask", 307), ("command", "set_trace_mask"), ("error", None)]
    assert as_dict(get(port, "gtmk").json())["tracemask"] == 307
    assert admin.four_letter("gtmk") == "307"
    get(port, "set_trace_mask", "?traceMask=306")


def test_resets(admin, impl):
    """stat_reset and connection_stat_reset reset what srvr/cons show."""
    port = admin.admin_port
    admin.zk.get("/a")
    assert as_dict(as_dict(get(port, "srvr").json())["server_stats"])["packets_received"] > 0
    check_answer(get(port, "srst"), "stat_reset", [], impl)
    assert as_dict(as_dict(get(port, "srvr").json())["server_stats"])["packets_received"] == 0
    check_answer(get(port, "crst"), "connection_stat_reset", [], impl)
    [conn] = as_dict(get(port, "cons").json())["connections"]
    conn = as_dict(conn)
    assert (conn["packets_received"], conn["last_cxid"], conn["last_zxid"]) == (0, -1, -1)


def test_unknown_command(admin, impl):
    for name in ("nope", "stat/extra", "RUOK"):
        ans = get(admin.admin_port, name)
        assert ans.status == 200
        assert ans.json() == [("command", name), ("error", "Unknown command: %s" % name)]


def test_other_paths_and_methods(admin, impl):
    port = admin.admin_port
    assert request(port, "/").status == 404
    assert request(port, "/commandsx").status == 404
    assert request(port, "/commands/ruok", method="PUT", body=b"").status == 405
    assert request(port, "/commands/ruok", method="DELETE").status == 405
    assert request(port, "/commands/ruok", method="TRACE").status == 403
    ans = request(port, "/commands/ruok", method="OPTIONS")
    assert ans.status == 200
    assert ans.headers["allow"] == ("GET, HEAD, POST, TRACE, OPTIONS" if at_least(impl, 3, 9)
                                    else "GET, HEAD, TRACE, OPTIONS")
    head = request(port, "/commands/ruok", method="HEAD")
    assert head.status == 200 and head.body == b""
    post = request(port, "/commands/ruok", method="POST", body=b"x")
    unknown = request(port, "/commands/nope", method="POST", body=b"x")
    if at_least(impl, 3, 9):
        # 3.9.3 POSTs a GET command's runPost (null) into a NullPointerException.
        assert post.status == 500
        assert unknown.status == 200
        assert unknown.json() == [("command", "nope"), ("error", "Unknown command: nope")]
    else:
        assert post.status == 405
        assert "HTTP method POST is not supported by this URL" in post.text
        assert unknown.status == 405


def test_snapshot_and_restore_auth(admin, impl):
    port = admin.admin_port
    for name, method in (("snapshot", "GET"), ("snap", "GET"), ("restore", "POST"),
                         ("rest", "POST")):
        ans = request(port, "/commands/" + name, method=method,
                      body=b"" if method == "POST" else None)
        if not at_least(impl, 3, 9):
            assert ans.status == (200 if method == "GET" else 405), name
            if method == "GET":
                assert as_dict(ans.json())["error"] == "Unknown command: " + name
            continue
        assert ans.status == 401, (name, ans.status)
        assert ans.json() == [("command", name), ("error", "Auth info is missing for the command")]


def test_huge_body_and_garbage(admin, impl):
    """A 3 MB POST and garbage bytes: answered or refused, and the server goes on."""
    port = admin.admin_port
    ans = request(port, "/commands/ruok", method="POST", body=b"\0" * (3 << 20))
    if not is_java(impl):
        assert ans.status == 413  # zk-rs refuses bodies over 1 MiB (README)
    elif at_least(impl, 3, 9):
        assert ans.status == 500
    else:
        assert ans.status == 405
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET /commands/ruok HTTP/9.9\r\n\r\n",
                 b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(junk)
            s.settimeout(10)
            try:
                first = s.recv(64)
            except (ConnectionResetError, socket.timeout):
                first = b""
        assert b" 200 " not in first
    assert get(port, "ruok").status == 200
    admin.check_alive()


def test_port_taken(impl, tmp_path):
    """An admin port already in use: a standalone Java server exits ("Unable to start
    AdminServer, exiting abnormally"); zkserver logs Java's "Problem starting AdminServer"
    and serves clients without it (README)."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        srv = zkharness.Server(impl, tmp_path, zkharness.free_port(),
                               zkharness.admin_cfg(port))
        if is_java(impl):
            srv.start(wait=False)
            wait_for(lambda: srv.proc.poll() is not None, timeout=60, what="java to exit")
            log = srv.log_path.read_text(errors="replace")
            assert "Unable to start AdminServer, exiting abnormally" in log
            return
        srv.start()
        try:
            zk = srv.client()
            zk.create("/x", b"1")
            close_clients(zk)
            log = srv.log_path.read_text(errors="replace")
            assert "Problem starting AdminServer on address 127.0.0.1, port %d" % port in log
        finally:
            srv.stop()


# -- quorum roles --------------------------------------------------------------------------------

class AdminEnsemble(zkharness.Ensemble):
    """Every node with its AdminServer on a free port."""

    def __init__(self, *a, **kw):
        self.admin_ports = {}
        super().__init__(*a, **kw)

    def node_cfg(self, sid):
        cfg = super().node_cfg(sid)
        port = self.admin_ports.setdefault(sid, zkharness.free_port())
        cfg.update(zkharness.admin_cfg(port))
        return cfg


def test_quorum_roles(impl, tmp_path):
    """Two participants and an observer of one implementation: leader, voting_view,
    zabstate, observers, server_stats' state and the links, from every node."""
    with AdminEnsemble(tmp_path, n=3, observers=(3,)) as ens:
        ens.start_all({1: impl, 2: impl, 3: impl})
        wait_for(lambda: ens.leader() is not None, timeout=60, what="a leader")
        leader = ens.leader()
        for sid, srv in ens.servers.items():
            port = ens.admin_ports[sid]
            where = "%s node %d" % (impl, sid)
            state = "leader" if sid == leader else ("observer" if sid == 3 else "follower")
            d = check_answer(get(port, "leader"), "leader",
                             [("is_leader", BOOL), ("leader_id", INT), ("leader_ip", STR)], where)
            assert d["is_leader"] == (sid == leader) and d["leader_id"] == leader, where
            assert d["leader_ip"] == "127.0.0.1", where
            d = check_answer(get(port, "voting_view"), "voting_view",
                             [("current_config", "map")], where)
            view = d["current_config"]
            assert [k for k, _ in view] == ["1", "2"], where
            for vid, v in view:
                c, q, e = ens.ports[int(vid)]
                # Java gives its own line the clientPortAddress:clientPort of its file.
                client = "127.0.0.1:%d" % c if int(vid) == sid else ""
                assert v == [("server_addresses", ["127.0.0.1:%d" % q]),
                             ("election_addresses", ["127.0.0.1:%d" % e]),
                             ("client_address", client), ("learner_type", "participant")], where
            d = check_answer(get(port, "zabstate"), "zabstate", [
                ("myid", INT), ("is_leader", BOOL), ("quorum_address", ADDRESSES),
                ("election_address", ADDRESSES), ("client_address", STR), ("voting", BOOL),
                ("last_zxid", STR), ("zab_epoch", INT), ("zab_counter", INT),
                ("zabstate", STR)], where)
            c, q, e = ens.ports[sid]
            assert (d["myid"], d["is_leader"], d["voting"], d["zabstate"]) == (
                sid, sid == leader, sid != 3, "broadcast"), where
            for key, p in (("quorum_address", q), ("election_address", e)):
                a = as_dict(d[key])
                assert (a["one"], a["all_ports"], a["all_host_strings"]) == (
                    "127.0.0.1:%d" % p, [p], ["127.0.0.1"]), (where, key)
            assert d["client_address"] == "127.0.0.1:%d" % c, where
            assert d["last_zxid"] == "0x%x" % (d["zab_epoch"] << 32 | d["zab_counter"]), where
            d = check_answer(get(port, "observers"), "observers",
                             [("synced_observers", INT), ("observers", ("list", None))], where)
            if sid != leader:
                assert (d["synced_observers"], d["observers"]) == (0, []), where
            d = check_answer(get(port, "srvr"), "server_stats", None, where)
            assert as_dict(d["server_stats"])["server_state"] == state, where
            assert ("proposal_stats" in d) == (sid == leader), (where, list(d))
            d = check_answer(get(port, "conf"), "configuration", None, where)
            assert d["server_id"] == sid, where
            check_answer(get(port, "orst"), "observer_connection_stat_reset", [], where)
            d = check_answer(get(port, "isro"), "is_read_only", None, where)
            assert d["read_only"] is False


LEARNER_HANDLER = [
    ("remote_socket_address", STR), ("sid", INT), ("established", INT), ("queued_packets", INT),
    ("queued_packets_size", INT), ("packets_received", INT), ("packets_sent", INT),
    ("requests", INT), ("last_zxid", INT)]


def test_leader_lists_its_observers(impl, tmp_path):
    """The leader's `observers`: one synced observer, described by its LearnerHandler (the
    observer's address as Java's socket prints it, INFORMs counted as packets sent, the
    last zxid sent); `orst` starts its counts again. Followers list none."""
    with AdminEnsemble(tmp_path, n=3, observers=(3,)) as ens:
        ens.start_all({1: impl, 2: impl, 3: impl})
        wait_for(lambda: ens.leader() is not None, timeout=60, what="a leader")
        leader = ens.leader()
        zk = ens.servers[leader].client()
        try:
            for i in range(30):
                zk.create("/obsr-%d" % i, b"x")
            last = zk.exists("/obsr-29").mzxid
        finally:
            zk.stop()
            zk.close()
        port = ens.admin_ports[leader]

        def observer():
            d = check_answer(get(port, "obsr"), "observers", [
                ("synced_observers", INT), ("observers", ("list", LEARNER_HANDLER))], impl)
            assert d["synced_observers"] == 1 == len(d["observers"]), impl
            return as_dict(d["observers"][0])

        # The counts may trail by a tick.
        wait_for(lambda: observer()["last_zxid"] >= last, timeout=10, what="INFORMs counted")
        o = observer()
        assert o["sid"] == 3
        assert re.fullmatch(r"/127\.0\.0\.1:\d+", o["remote_socket_address"]), o
        assert o["packets_sent"] >= 30, o
        assert o["queued_packets"] == 0
        assert abs(o["established"] / 1000 - time.time()) < 600, o
        check_answer(get(port, "orst"), "observer_connection_stat_reset", [], impl)
        wait_for(lambda: observer()["packets_sent"] < 30, timeout=10, what="orst's reset")
        follower = next(sid for sid in (1, 2) if sid != leader)
        d = check_answer(get(ens.admin_ports[follower], "obsr"), "observers", [
            ("synced_observers", INT), ("observers", ("list", LEARNER_HANDLER))], impl)
        assert d["synced_observers"] == 0 and d["observers"] == [], impl


def test_hash_digests(admin, impl):
    """`hash` after 128 more txns: Java's DataTree.ZxidDigest beans, as the `hash` word."""
    zk = admin.zk
    zk.ensure_path("/h")
    for i in range(130):
        zk.create("/h/n", b"", sequence=True)
    ans = get(admin.admin_port, "hash")
    d = check_answer(ans, "hash", [("digests", ("list", [
        ("zxid", INT), ("digest", INT), ("digest_version", INT)]))], impl)
    assert d["digests"], impl
    text = admin.four_letter("hash")
    for digest in d["digests"]:
        digest = as_dict(digest)
        assert digest["digest_version"] == 2
        assert "%x: %d\n" % (digest["zxid"], digest["digest"]) in text


def test_snapshot_and_restore_authentication(impl, tmp_path):
    """3.9: `snapshot` and `restore` need ALL on `/` for the ids of the Authorization header
    (`<scheme>` or `<scheme> <data>`): 401 without it or when it does not authenticate
    (x509 without TLS, an unknown scheme, three words), 403 when `/`'s ACL refuses them.
    3.8 has neither command."""
    from kazoo.security import make_digest_acl

    port = zkharness.free_port()
    srv = zkharness.start_server(impl, tmp_path, extra_cfg=zkharness.admin_cfg(port))
    zk = srv.client()
    try:
        zk.add_auth("digest", "root:secret")
        zk.set_acls("/", [make_digest_acl("root", "secret", all=True)])
        cases = [(None, 401, "Auth info is missing for the command"),
                 ("x509", 401, "Not authenticated"),
                 ("nope data", 401, "Not authenticated"),
                 ("digest a b c", 401, "Not authenticated"),
                 ("ip", 403, "Not authorized"),
                 ("digest root:wrong", 403, "Not authorized")]
        for name, method in (("snapshot", "GET"), ("restore", "POST")):
            for header, status, error in cases:
                ans = request(port, "/commands/" + name, method=method,
                              body=b"" if method == "POST" else None,
                              headers={"Authorization": header} if header else {})
                if not at_least(impl, 3, 9):
                    assert ans.status == (200 if method == "GET" else 405), (name, header)
                    continue
                assert (ans.status, ans.json()) == (
                    status, [("command", name), ("error", error)]), (name, header)
    finally:
        close_clients(zk)
        srv.stop()


def test_snapshot_streams(admin, impl):
    """3.9.3 with default settings: an authorized `snapshot` writes a snapshot of the tree
    to the data directory and streams it, its zxid and size in headers; a second one within
    300 ms is rate limited (429); `streaming=false` answers the JSON with the headers."""
    if not at_least(impl, 3, 9):
        ans = get(admin.admin_port, "snapshot")
        assert ans.json() == [("command", "snapshot"), ("error", "Unknown command: snapshot")]
        return
    admin.zk.create("/snapped", b"x")
    time.sleep(0.5)  # past an earlier test's permit
    ans = request_snapshot(admin.admin_port)
    again = request_snapshot(admin.admin_port)
    assert ans.status == 200, (ans.status, ans.text[:200])
    assert ans.headers["content-type"] == "application/octet-stream"
    zxid = int(ans.headers["last_zxid"], 16)
    assert int(ans.headers["snapshot_size"]) == len(ans.body) > 0
    assert ans.body[:4] == b"ZKSN"
    assert (admin.data_dir / "version-2" / ("snapshot.%x" % zxid)).exists()
    assert zxid == admin.zk.exists("/snapped").mzxid
    assert (again.status, again.json()) == (429, [("command", "snapshot"), ("error", None)])
    time.sleep(0.5)
    ans = request(admin.admin_port, "/commands/snapshot?streaming=false",
                  headers={"Authorization": "ip"})
    assert ans.status == 200
    assert ans.json() == [("command", "snapshot"), ("error", None)]
    assert int(ans.headers["snapshot_size"]) > 0 and ans.headers["last_zxid"].startswith("0x")


def request_snapshot(port):
    return request(port, "/commands/snapshot", headers={"Authorization": "ip"})


def test_snapshot_and_restore_disabled(impl, tmp_path):
    """admin.snapshot.enabled=false / admin.restore.enabled=false (the system properties
    zookeeper.admin.*): an authorized request answers 503 with the primary name (3.9)."""
    port = zkharness.free_port()
    cfg = dict(zkharness.admin_cfg(port))
    cfg.update({"admin.snapshot.enabled": "false", "admin.restore.enabled": "false"})
    srv = zkharness.start_server(impl, tmp_path, extra_cfg=cfg)
    try:
        for name, primary, method in (("snap", "snapshot", "GET"), ("rest", "restore", "POST")):
            ans = request(port, "/commands/" + name, method=method,
                          body=b"" if method == "POST" else None,
                          headers={"Authorization": "ip"})
            if not at_least(impl, 3, 9):
                assert ans.status == (200 if method == "GET" else 405), name
                continue
            assert (ans.status, ans.json()) == (503, [("command", primary), ("error", None)])
    finally:
        srv.stop()
