#!/usr/bin/python3
"""Ensemble operations measured side by side with Java (issue 16): a long steady-write soak
and the time for a new member to join a big tree. Both start 3-node ensembles with the
compat-tests harness (compat-tests/python/zkharness.py) and load them with zkbench.

  tools/soak.py disk [--minutes 30] [--rate 500] [--impls java,zkrs] [--out DIR]
      One 3-node ensemble per impl, run at the same time with the same zoo.cfg
      (snapCount, autopurge.snapRetainCount). zkbench offers --rate setData/s (open loop) on
      --keys znodes, sessions spread over the three members. Every --purge-minutes the
      operator's cron job runs on every member: Java's PurgeTxnLog (what zkCleanup.sh runs)
      keeping --retain snapshots (autopurge.purgeInterval counts whole hours, too coarse for
      a 30-minute run). Every --sample seconds it records, per member, the data directory's
      allocated bytes, its log and snapshot counts, and the server's RSS (with --threads,
      also its thread count). It writes
      samples.csv and report.md (the stated bound, the largest directory seen after the first
      purge, and RSS after the first tenth of the run against the last sample).

  tools/soak.py join [--znodes 1000000] [--impls java,zkrs] [--out DIR]
      Per impl in turn: members 1 and 2 form a quorum, zkbench loads --znodes znodes of 100 B,
      then member 3 starts with an empty data directory. Reported: seconds from its start to
      serving (its `srvr` says follower and a sync + getData of the last loaded znode answers
      through it), and its RSS then.

Both need target/release/zkserver (ZKRS_BIN) and target/release/zkbench (ZKBENCH_BIN).
"""

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compat-tests" / "python"))

import zkharness  # noqa: E402
from zkharness import mode, wait_for  # noqa: E402

ZKBENCH = Path(os.environ.get("ZKBENCH_BIN", ROOT / "target" / "release" / "zkbench"))
PURGE_CLASS = "org.apache.zookeeper.server.PurgeTxnLog"


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def thread_count(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def dir_usage(data_dir):
    """(allocated bytes, logs, snapshots, largest log bytes, largest snapshot bytes) of a
    member's version-2 directory; allocated = blocks on disk (Java pads logs sparsely)."""
    d = Path(data_dir) / "version-2"
    used = logs = snaps = max_log = max_snap = 0
    for entry in os.scandir(d):
        try:
            st = entry.stat()
        except FileNotFoundError:  # purged while we looked
            continue
        used += st.st_blocks * 512
        if entry.name.startswith("log."):
            logs += 1
            max_log = max(max_log, st.st_blocks * 512)
        elif entry.name.startswith("snapshot."):
            snaps += 1
            max_snap = max(max_snap, st.st_blocks * 512)
    return used, logs, snaps, max_log, max_snap


def purge(data_dir, retain):
    """The operator's cron job: Java's PurgeTxnLog on one member's data directory."""
    subprocess.run([zkharness.JAVA_BIN, "-cp", ":".join(zkharness.JAVA_CLASSPATH),
                    "-Dlog4j.configuration=file:/dev/null", PURGE_CLASS,
                    str(data_dir), str(data_dir), "-n", str(retain)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_ensemble(impl, tmp, cfg, sids=(1, 2, 3)):
    ens = zkharness.Ensemble(tmp, n=3, extra=cfg)
    for sid in sids:
        ens.start(sid, impl)
    ens.wait_ready(90)
    wait_for(ens.leader, timeout=90, what="a %s leader" % impl)
    return ens


def zkbench(servers, *args, log=None):
    cmd = [str(ZKBENCH), "--server", ",".join(s.connect_string for s in servers), "--quiet"]
    cmd += [str(a) for a in args]
    return subprocess.Popen(cmd, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)


# -- disk ----------------------------------------------------------------------------------

def cmd_disk(a):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"snapCount": str(a.snap_count), "autopurge.snapRetainCount": str(a.retain),
           "autopurge.purgeInterval": "1", "tickTime": "2000"}
    seconds = a.minutes * 60
    ensembles, loads = {}, {}
    tmp = Path(tempfile.mkdtemp(prefix="zksoak-"))
    try:
        for impl in a.impls:
            ensembles[impl] = start_ensemble(impl, tmp / impl, cfg)
        for impl, ens in ensembles.items():
            servers = list(ens.servers.values())
            loads[impl] = zkbench(servers, "--workload", "set", "--rate", a.rate,
                                  "--sessions", 6, "--depth", 16, "--keys", a.keys,
                                  "--value-size", 100, "--warmup", "0s",
                                  "--duration", "%ds" % seconds, "--json",
                                  log=open(out / ("zkbench-%s.json" % impl), "w"))
        rows = []
        start = time.monotonic()
        next_purge = start + a.purge_minutes * 60
        first_purge_done = None
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            if now >= next_purge:
                for ens in ensembles.values():
                    for srv in ens.servers.values():
                        purge(srv.data_dir, a.retain)
                first_purge_done = first_purge_done or now - start
                next_purge += a.purge_minutes * 60
            for impl, ens in ensembles.items():
                for sid, srv in ens.servers.items():
                    srv.check_alive()
                    used, logs, snaps, max_log, max_snap = dir_usage(srv.data_dir)
                    row = dict(t=round(now - start), impl=impl, sid=sid, role=mode(srv),
                               disk=used, logs=logs, snaps=snaps, max_log=max_log,
                               max_snap=max_snap, rss=rss_bytes(srv.proc.pid))
                    if a.threads:
                        row["threads"] = thread_count(srv.proc.pid)
                    rows.append(row)
            time.sleep(a.sample)
        for p in loads.values():
            p.wait(timeout=120)
    finally:
        for ens in ensembles.values():
            ens.kill_all()
    with open(out / "samples.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report = disk_report(a, rows, first_purge_done or seconds, out)
    (out / "report.md").write_text(report)
    print(report)


def disk_report(a, rows, first_purge, out):
    # Files of each kind alive at once: the retained ones, those made between two purges
    # (a snapshot every snapCount/2..snapCount txns, Java's randomised roll), and the open one.
    between = math.ceil(a.rate * a.purge_minutes * 60 / (a.snap_count / 2))
    files = a.retain + between + 1
    lines = [
        "# Soak: %d min, %d setData/s offered, %d keys of 100 B, 3 members per impl" % (
            a.minutes, a.rate, a.keys),
        "",
        "zoo.cfg: snapCount=%d, autopurge.snapRetainCount=%d; PurgeTxnLog -n %d every %d min." % (
            a.snap_count, a.retain, a.retain, a.purge_minutes),
        "Bound per member: (retain %d + at most %d made between purges + 1 open) = %d logs and "
        "%d snapshots, each at most the largest seen." % (a.retain, between, files, files),
        "",
        "| impl | member | role | largest log MiB | largest snapshot MiB | bound MiB | max dir MiB "
        "after 1st purge | max logs / snaps | RSS at %d min MiB | RSS at end MiB |" % (
            max(1, a.minutes // 10)),
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    mib = 1 << 20
    early = max(1, a.minutes // 10) * 60
    for impl in a.impls:
        for sid in (1, 2, 3):
            mine = [r for r in rows if r["impl"] == impl and r["sid"] == sid]
            if not mine:
                continue
            max_log = max(r["max_log"] for r in mine)
            max_snap = max(r["max_snap"] for r in mine)
            bound = files * (max_log + max_snap)
            later = [r for r in mine if r["t"] >= first_purge] or mine
            peak = max(later, key=lambda r: r["disk"])
            rss_early = next((r["rss"] for r in mine if r["t"] >= early), mine[0]["rss"])
            verdict = "" if peak["disk"] <= bound else " **over**"
            lines.append("| %s | %d | %s | %.1f | %.1f | %.1f | %.1f%s | %d / %d | %.0f | %.0f |" % (
                impl, sid, mine[-1]["role"], max_log / mib, max_snap / mib, bound / mib,
                peak["disk"] / mib, verdict, max(r["logs"] for r in later),
                max(r["snaps"] for r in later), rss_early / mib, mine[-1]["rss"] / mib))
    lines.append("")
    for impl in a.impls:
        try:
            text = (Path(out) / ("zkbench-%s.json" % impl)).read_text()
            lines.append("zkbench (%s): %s" % (impl, " ".join(text.split())[:400]))
        except OSError:
            pass
    return "\n".join(lines) + "\n"


# -- join ----------------------------------------------------------------------------------

def cmd_join(a):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# A new member joins a %d-znode tree (3-node ensemble, snapCount default)" % a.znodes,
             "", "| impl | load s | join to serving s | joined member RSS MiB |",
             "| --- | ---: | ---: | ---: |"]
    for impl in a.impls:
        tmp = Path(tempfile.mkdtemp(prefix="zkjoin-%s-" % impl))
        ens = start_ensemble(impl, tmp, {}, sids=(1, 2))
        try:
            t0 = time.monotonic()
            servers = [ens.servers[1], ens.servers[2]]
            p = zkbench(servers, "--workload", "get", "--keys", a.znodes, "--sessions", 8,
                        "--depth", 100, "--duration", "1s", "--warmup", "0s",
                        log=open(out / ("load-%s.log" % impl), "w"))
            if p.wait(timeout=3600) != 0:
                raise SystemExit("zkbench load against %s failed" % impl)
            load_s = time.monotonic() - t0
            last = "/zkbench/k%d" % (a.znodes - 1)
            t1 = time.monotonic()
            srv = ens.start(3, impl)
            holder = {}

            def serving():
                if mode(srv) != "follower":
                    return False
                zk = holder.get("zk") or srv.client(timeout=30)
                holder["zk"] = zk
                zk.sync(last)
                return zk.exists(last) is not None

            wait_for(serving, timeout=1800, what="member 3 serving")
            join_s = time.monotonic() - t1
            rss = rss_bytes(srv.proc.pid)
            zkharness.close_clients(holder["zk"])
            lines.append("| %s | %.1f | %.2f | %.0f |" % (impl, load_s, join_s, rss / (1 << 20)))
            print(lines[-1], flush=True)
        finally:
            ens.kill_all()
    report = "\n".join(lines) + "\n"
    (out / "join.md").write_text(report)
    print(report)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("disk")
    d.add_argument("--minutes", type=int, default=30)
    d.add_argument("--rate", type=int, default=500)
    d.add_argument("--keys", type=int, default=10000)
    d.add_argument("--snap-count", type=int, default=100000)
    d.add_argument("--retain", type=int, default=3)
    d.add_argument("--purge-minutes", type=int, default=5)
    d.add_argument("--sample", type=int, default=30)
    d.add_argument("--impls", default="java,zkrs")
    d.add_argument("--out", default="soak-report")
    d.add_argument("--threads", action="store_true",
                   help="also record each server's thread count (column threads)")
    j = sub.add_parser("join")
    j.add_argument("--znodes", type=int, default=1000000)
    j.add_argument("--impls", default="java,zkrs")
    j.add_argument("--out", default="join-report")
    a = ap.parse_args()
    a.impls = [i for i in a.impls.split(",") if i]
    os.environ.setdefault("ZKRS_BIN", str(ROOT / "target" / "release" / "zkserver"))
    os.environ.setdefault("ZK_JAVA_XMX", "4g" if a.cmd == "join" else "1g")
    {"disk": cmd_disk, "join": cmd_join}[a.cmd](a)


if __name__ == "__main__":
    main()
