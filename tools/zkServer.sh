#!/usr/bin/env bash
# zkServer.sh for zkserver: the commands, variables, files, output and exit codes of Apache
# ZooKeeper's bin/zkServer.sh (with zkEnv.sh), running the zkserver binary instead of a JVM.
# Install it beside zkserver (bin/zkserver, bin/zkServer.sh, conf/zoo.cfg).
#
#   zkServer.sh [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd} [cfg]
#
# Variables, as Java's scripts: ZOOCFGDIR (default ../conf beside this script, else
# ../etc/zookeeper), ZOOCFG (default zoo.cfg, in ZOOCFGDIR), ZOO_LOG_DIR (default ../logs),
# ZOO_LOG_FILE, ZOOPIDFILE (default <dataDir>/zookeeper_server.pid), ZOO_LOG4J_PROP
# (INFO,ROLLINGFILE; INFO,CONSOLE for start-foreground),
# JVMFLAGS and SERVER_JVMFLAGS (their -D words are system properties). $ZOOCFGDIR/
# zookeeper-env.sh is sourced; $ZOOCFGDIR/java.env is read by zkserver itself (no shell).
# ZKRS_BIN names the binary (default: zkserver beside this script).

ZOOBINDIR="$(cd "$(dirname "${BASH_SOURCE-$0}")" && pwd)"
ZOOKEEPER_PREFIX="${ZOOBINDIR}/.."
ZKRS_BIN="${ZKRS_BIN:-$ZOOBINDIR/zkserver}"

if [ $# -gt 1 ] && [ "$1" = "--config" ]; then
    ZOOCFGDIR="$2"
    shift 2
fi
if [ -z "$ZOOCFGDIR" ]; then
    if [ -e "$ZOOKEEPER_PREFIX/conf" ]; then
        ZOOCFGDIR="$ZOOBINDIR/../conf"
    else
        ZOOCFGDIR="$ZOOBINDIR/../etc/zookeeper"
    fi
fi
if [ -f "$ZOOCFGDIR/zookeeper-env.sh" ]; then
    . "$ZOOCFGDIR/zookeeper-env.sh"
fi
ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
if [ -n "$2" ]; then
    case "$2" in
        */*) ZOOCFG="$2" ;;
        *) ZOOCFG="$ZOOCFGDIR/$2" ;;
    esac
fi
ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZOOKEEPER_PREFIX/logs}"
ZOO_LOG_FILE="${ZOO_LOG_FILE:-zookeeper-$USER-server-$HOSTNAME.log}"
# The log: the file for a daemon, the console in the foreground (upstream's logback.xml
# default), unless ZOO_LOG4J_PROP says otherwise.
case $1 in
start-foreground) ZOO_LOG4J_PROP="${ZOO_LOG4J_PROP:-INFO,CONSOLE}" ;;
*) ZOO_LOG4J_PROP="${ZOO_LOG4J_PROP:-INFO,ROLLINGFILE}" ;;
esac
export ZOOCFGDIR ZOO_LOG_DIR ZOO_LOG_FILE ZOO_LOG4J_PROP JVMFLAGS SERVER_JVMFLAGS

echo "Using config: $ZOOCFG" >&2

# The first value of a key in the config, as Java's script greps it.
cfg_value() {
    grep "^[[:space:]]*$1" "$ZOOCFG" 2>/dev/null | head -n 1 | sed -e 's/.*=//' \
        -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'
}

ZOO_DATADIR="$(cfg_value 'dataDir')"
if [ -z "$ZOOPIDFILE" ]; then
    if [ -n "$ZOO_DATADIR" ] && [ ! -d "$ZOO_DATADIR" ]; then
        mkdir -p "$ZOO_DATADIR"
    fi
    ZOOPIDFILE="$ZOO_DATADIR/zookeeper_server.pid"
else
    mkdir -p "$(dirname "$ZOOPIDFILE")"
fi
if [ ! -w "$ZOO_LOG_DIR" ]; then
    mkdir -p "$ZOO_LOG_DIR"
fi
_ZOO_DAEMON_OUT="$ZOO_LOG_DIR/zookeeper-$USER-server-$HOSTNAME.out"

# The client port and address `status` asks: clientPort / clientPortAddress, else this
# server's `server.<myid>=...;[address:]port` line (static file, then dynamic file).
find_client_port() {
    clientPortAddress="$(cfg_value 'clientPortAddress[^[:alpha:]]')"
    clientPortAddress="${clientPortAddress:-localhost}"
    clientPort="$(cfg_value 'clientPort[^[:alpha:]]')"
    if [[ "$clientPort" =~ ^[0-9]+$ ]]; then
        return 0
    fi
    clientPort=""
    local myid line dynamic
    myid="$(cat "$ZOO_DATADIR/myid" 2>/dev/null | tr -d '[:space:]')"
    if ! [[ "$myid" =~ ^[0-9]+$ ]]; then
        echo "myid could not be determined, will not able to locate clientPort in the server configs."
        return 0
    fi
    line="$(grep "^[[:space:]]*server.$myid=.*;.*" "$ZOOCFG" | sed -e 's/.*=//' -e 's/.*;//')"
    if [ -z "$line" ]; then
        echo "Client port not found in static config file. Looking in dynamic config file."
        dynamic="$(cfg_value 'dynamicConfigFile')"
        line="$(grep "^[[:space:]]*server.$myid=.*;.*" "$dynamic" 2>/dev/null | sed -e 's/.*=//' -e 's/.*;//')"
    fi
    if [ -z "$line" ]; then
        echo "Client port not found in the server configs"
        return 0
    fi
    if [[ "$line" =~ ^.*:[0-9]+ ]]; then
        if [[ "$line" =~ \[.*\]:[0-9]+ ]]; then
            clientPortAddress="$(echo "$line" | sed -e 's|\[||' -e 's|\]:.*||')"
        else
            clientPortAddress="${line%%:*}"
        fi
    fi
    clientPort="${line##*:}"
}

# A four-letter word's answer, over bash's /dev/tcp (Java's script runs FourLetterWordMain).
four_letter_word() {
    {
        exec 3<>"/dev/tcp/$1/$2" && printf '%s' "$3" >&3 && timeout 5 cat <&3
        exec 3<&-
    } 2>/dev/null
}

cmd_line() {
    printf '%q ' "$ZKRS_BIN" "$ZOOCFG"
}

case $1 in
start)
    echo -n "Starting zookeeper ... "
    if [ -f "$ZOOPIDFILE" ]; then
        if kill -0 "$(cat "$ZOOPIDFILE")" >/dev/null 2>&1; then
            echo already running as process "$(cat "$ZOOPIDFILE")".
            exit 1
        fi
    fi
    nohup "$ZKRS_BIN" "$ZOOCFG" >"$_ZOO_DAEMON_OUT" 2>&1 </dev/null &
    pid=$!
    if ! echo -n "$pid" >"$ZOOPIDFILE"; then
        echo FAILED TO WRITE PID
        exit 1
    fi
    sleep 1
    if ps -p "$pid" >/dev/null 2>&1; then
        echo STARTED
    else
        echo FAILED TO START
        exit 1
    fi
    ;;
start-foreground)
    if [ -n "$ZOO_NOEXEC" ]; then
        "$ZKRS_BIN" "$ZOOCFG"
    else
        exec "$ZKRS_BIN" "$ZOOCFG"
    fi
    ;;
print-cmd)
    echo "ZOOCFGDIR=\"$ZOOCFGDIR\" ZOO_LOG_DIR=\"$ZOO_LOG_DIR\" ZOO_LOG_FILE=\"$ZOO_LOG_FILE\"" \
        "ZOO_LOG4J_PROP=\"$ZOO_LOG4J_PROP\" SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS\"" \
        "JVMFLAGS=\"$JVMFLAGS\" $(cmd_line)> \"$_ZOO_DAEMON_OUT\" 2>&1 < /dev/null"
    ;;
stop)
    echo -n "Stopping zookeeper ... "
    if [ ! -f "$ZOOPIDFILE" ]; then
        echo "no zookeeper to stop (could not find file $ZOOPIDFILE)"
    else
        pid="$(cat "$ZOOPIDFILE")"
        kill "$pid"
        rm "$ZOOPIDFILE"
        # Java's script sleeps one second; wait (up to 10 s) until the port is free.
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        echo STOPPED
    fi
    exit 0
    ;;
version)
    "$ZKRS_BIN" --version
    ;;
restart)
    shift
    "$0" stop "$@"
    sleep 3
    "$0" start "$@"
    ;;
status)
    find_client_port
    if [ -z "$clientPort" ]; then
        echo "Client port not found. Looking for secureClientPort in the static config."
        echo "Unable to find either secure or unsecure client port in any configs. Terminating."
        exit 1
    fi
    echo "Client port found: $clientPort. Client address: $clientPortAddress. Client SSL: false."
    STAT="$(four_letter_word "$clientPortAddress" "$clientPort" srvr | grep Mode)"
    if [ -z "$STAT" ]; then
        echo "Error contacting service. It is probably not running."
        exit 1
    else
        echo $STAT
        exit 0
    fi
    ;;
*)
    echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd}" >&2
    ;;
esac
