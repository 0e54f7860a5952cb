#!/bin/bash
# The measurement script of docs/scale-plan.md section 6 (as run, paths of that session).
# usage: bench.sh BIN WORKLOAD [perf]  -> starts server on a free port, runs zkbench, reports thread CPU
BIN=$1; W=$2; PERF=$3
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
D=$(mktemp -d /tmp/pipe/srv.XXXX)
cat > $D/zoo.cfg <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$D/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
CFG
mkdir -p $D/data
$BIN $D/zoo.cfg > $D/log 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null' EXIT   # also when the caller closes our stdout (| head)
for i in $(seq 50); do echo ruok | nc -q1 127.0.0.1 $PORT 2>/dev/null | grep -q imok && break; sleep 0.1; done
snap() { for t in /proc/$SP/task/*; do echo "$(cat $t/comm) $(awk '{print $14+$15}' $t/stat)"; done | awk '{a[$1]+=$2} END{for(k in a) print k, a[k]}' | sort; }
/work/wt-pipe/target/release/zkbench --server 127.0.0.1:$PORT --workload $W --duration 2s --warmup 1s --quiet >/dev/null 2>&1
snap > $D/before
( /usr/bin/time -f "zkbench cpu user %U sys %S wall %e" /work/wt-pipe/target/release/zkbench --server 127.0.0.1:$PORT --workload $W --duration ${DUR:-8s} --warmup 0s --quiet --server-pid $SP ) > $D/out 2>&1 &
BP=$!
if [ "$PERF" = dwarf ]; then sleep 2; perf record --call-graph dwarf,16384 -t $SP -o $D/perf.data -- sleep 2 >/dev/null 2>&1; elif [ "$PERF" = rec ]; then sleep 2; perf record -g -t $SP -o $D/perf.data -- sleep 4 >/dev/null 2>&1; elif [ "$PERF" = strace ]; then sleep 2; LT=$(grep -l txn-log /proc/$SP/task/*/comm | head -1 | cut -d/ -f5); timeout 3 strace -T -e trace=fdatasync,pwrite64,write -p $LT -o $D/strace; elif [ "$PERF" = stat ]; then sleep 1; perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sched_yield,context-switches -p $SP -o $D/stat -- sleep 5; fi
wait $BP
snap > $D/after
grep -E "ops/s|cpu|µs/op|zkbench" $D/out | head -8
join $D/before $D/after | awk '{printf "%s %d ticks\n",$1,$3-$2}'
echo DIR $D
kill $SP; wait $SP 2>/dev/null
