"""A reconfig that changes a member's client address (`server.N=...;host:NEWPORT` for an
existing id), against Java 3.8.0 / 3.9.3 and zkserver alone and in mixed ensembles.

What Java does (QuorumPeer.processReconfig -> NIOServerCnxnFactory.reconfigure): the member
closes its old listening socket, binds the new address, and keeps the connections it had
accepted (their sessions go on on the old connection). A bind failure is logged
("Error reconfiguring client port to ...") and leaves the member without a client listener;
it keeps its place in the quorum and its open connections. A later reconfig can bind again.

Each test changes a follower's client port (in mixed ensembles one of the other
implementation than the leader), then the leader's, and checks on every implementation:
a new client on the new port reads earlier data, the old port refuses connections, the
session opened on the old port before goes on (same connection, no disconnect), and
/zookeeper/config and the dynamic files name the new address everywhere, and `conf` on the
moved member shows the new clientPort.
"""

import socket

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

import zkharness
from test_reconfig import COMBOS, SUPER, _ensemble, start_combo
from zkharness import close_clients, free_port, wait_for

HOST = "127.0.0.1"


def _refused(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _session_on(port: int):
    """A kazoo session on HOST:port only, and the list of its state changes."""
    states = []
    zk = KazooClient(hosts="%s:%d" % (HOST, port), timeout=10,
                     logger=zkharness._quiet_logger())
    zk.add_listener(states.append)
    zk.start(timeout=10)
    return zk, states


def _spec(ens, sid, client_port):
    _, q, e = ens.ports[sid]
    return "server.%d=%s:%d:%d:participant;%s:%d" % (sid, HOST, q, e, HOST, client_port)


def _reconfig(via_port, spec):
    zk = KazooClient(hosts="%s:%d" % (HOST, via_port), auth_data=[("digest", SUPER)],
                     logger=zkharness._quiet_logger())
    zk.start(timeout=10)
    try:
        return zk.reconfig(joining=spec, leaving=None, new_members=None)
    finally:
        close_clients(zk)


def _moved(srv, port):
    """Point the harness's view of `srv` at its new client port (4lw, clients, cleanup)."""
    srv.port = port
    srv.connect_string = "%s:%d" % (HOST, port)


def _check_everywhere(ens, data, stat, spec):
    """Every member serves the reconfig's config node and wrote its dynamic file."""
    name = "zoo.cfg.dynamic.%x" % stat.mzxid
    for sid, srv in ens.servers.items():
        path = ens.workdir(sid) / name
        wait_for(lambda: path.exists(), timeout=15, what="%s on node %d" % (name, sid))
        assert spec.encode() in path.read_bytes().splitlines(), (sid, srv.impl)
        c = srv.client()
        try:
            c.sync("/zookeeper/config")
            assert c.get("/zookeeper/config")[0] == data, (sid, srv.impl)
        finally:
            close_clients(c)


def _move_client_port(ens, sid, via):
    """Reconfigure member `sid`'s client port through member `via` and check Java's
    behaviour; returns the new port."""
    srv = ens.servers[sid]
    old = srv.port
    new = free_port()
    before, states = _session_on(old)
    try:
        spec = _spec(ens, sid, new)
        data, stat = _reconfig(ens.servers[via].port, spec)
        assert spec.encode() + b"\n" in data, data
        wait_for(lambda: _accepts(new), timeout=15,
                 what="node %d (%s) listening on its new port" % (sid, srv.impl))
        _moved(srv, new)
        # `conf` shows the port bound now (Java's getLocalPort), not the startup one.
        conf = srv.four_letter("conf")
        assert "\nclientPort=%d\n" % new in "\n" + conf, (sid, srv.impl, conf)
        # A new client on the new port reads what was written before.
        fresh, _ = _session_on(new)
        try:
            fresh.sync("/before")
            assert fresh.get("/before")[0] == b"data"
        finally:
            close_clients(fresh)
        # The old listening socket is closed.
        assert _refused(old), "node %d (%s) still accepts on %d" % (sid, srv.impl, old)
        # The session opened on the old port goes on over its connection.
        before.create("/via-old-port-%d" % sid, b"x")
        assert before.get("/before")[0] == b"data"
        assert before.state == KazooState.CONNECTED
        assert states == [KazooState.CONNECTED], (sid, srv.impl, states)
        _check_everywhere(ens, data, stat, spec)
    finally:
        close_clients(before)
    return new


@pytest.mark.parametrize("impls", [c for _, c in COMBOS], ids=[n for n, _ in COMBOS])
def test_client_port_moves_by_reconfig(tmp_path, impls):
    with _ensemble(tmp_path) as ens:
        leader = start_combo(ens, impls)
        followers = [s for s in sorted(ens.servers) if s != leader]
        # In a mixed ensemble, a follower of the other implementation than the leader.
        follower = next((s for s in followers if impls[s] != impls[leader]), followers[0])
        third = next(s for s in followers if s != follower)
        print("leader %d (%s), moving follower %d (%s)"
              % (leader, impls[leader], follower, impls[follower]))
        zk = ens.servers[third].client()
        try:
            zk.create("/before", b"data")
        finally:
            close_clients(zk)
        _move_client_port(ens, follower, via=third)
        _move_client_port(ens, leader, via=third)
        # Still one leader, and writes commit through every member on its port.
        assert ens.leader() == leader
        for sid, srv in ens.servers.items():
            c = srv.client()
            try:
                c.create("/after-%d" % sid, b"y")
            finally:
                close_clients(c)


@pytest.mark.parametrize("impl", zkharness.selected_impls())
def test_bind_failure_keeps_the_member(tmp_path, impl):
    """The new port is taken: the member logs the failure, listens nowhere (the old socket is
    closed first), keeps its sessions and its vote; a later reconfig binds again."""
    with _ensemble(tmp_path) as ens:
        leader = start_combo(ens, {1: impl, 2: impl, 3: impl})
        follower, third = [s for s in sorted(ens.servers) if s != leader]
        srv = ens.servers[follower]
        old = srv.port
        zk = ens.servers[third].client()
        try:
            zk.create("/before", b"data")
        finally:
            close_clients(zk)
        before, states = _session_on(old)
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            taken.bind((HOST, 0))
            taken.listen(1)
            busy = taken.getsockname()[1]
            spec = _spec(ens, follower, busy)
            data, stat = _reconfig(ens.servers[third].port, spec)
            assert spec.encode() + b"\n" in data
            wait_for(lambda: b"Error reconfiguring client port to" in srv.log_path.read_bytes(),
                     timeout=15, what="the bind failure in node %d's log" % follower)
            srv.check_alive()
            assert _refused(old)
            before.create("/still-here", b"x")
            assert states == [KazooState.CONNECTED], states
            # Its vote still counts: the other follower can go and writes still commit.
            ens.servers[third].kill()
            before.create("/quorum-of-two", b"x")
        finally:
            taken.close()
            close_clients(before)
        ens.servers[third].start(wait=True)
        new = free_port()
        _reconfig(ens.servers[leader].port, _spec(ens, follower, new))
        wait_for(lambda: _accepts(new), timeout=15, what="the listener after a new reconfig")
        _moved(srv, new)
        c = srv.client()
        try:
            assert c.get("/before")[0] == b"data"
        finally:
            close_clients(c)
