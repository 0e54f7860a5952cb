#!/bin/sh
# zkbench over TLS against one server: Java 3.8 (Debian's, Netty secure port) or zkserver.
#
#   tools/bench-tls.sh java|zkrs OUTDIR [DURATION]
#
# Makes a CA, a server certificate (RSA 2048, SAN 127.0.0.1 and localhost) in a PKCS12 key
# store, a PKCS12 trust store written by keytool -importcert, and a client certificate (Java's
# ssl.clientAuth defaults to need); starts the server with secureClientPort and the ssl.* keys
# of Java's admin guide; runs zkbench get, set, create at 16x32 and 1x1 and handshakes/s;
# stops the server. Results in OUTDIR/results.txt, the server's log in OUTDIR/server.log.
# ZKRS_BIN (default target/release/zkserver) and ZKBENCH (target/release/zkbench) pick the
# binaries.
set -eu
IMPL=$1
OUT=$2
DUR=${3:-10s}
ZKBENCH=${ZKBENCH:-target/release/zkbench}
ZKRS_BIN=${ZKRS_BIN:-target/release/zkserver}
P=bench-pw
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/data" "$OUT/pki"
mkdir -p "$OUT/data" "$OUT/pki"
(
  cd "$OUT/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=bench-ca -days 2 2>/dev/null
  for n in server client; do
    openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
    openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem \
      -days 2 -extfile san.ext 2>/dev/null
  done
  openssl pkcs12 -export -inkey server.key -in server.pem -certfile ca.pem -name server \
    -out server.p12 -passout pass:$P
  keytool -importcert -noprompt -alias ca -file ca.pem -keystore trust.p12 \
    -storetype PKCS12 -storepass $P >/dev/null 2>&1
)
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PLAIN=$(free_port)
SECURE=$(free_port)
cat > "$OUT/zoo.cfg" <<EOF
tickTime=2000
dataDir=$OUT/data
clientPort=$PLAIN
secureClientPort=$SECURE
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=$OUT/pki/server.p12
ssl.keyStore.password=$P
ssl.trustStore.location=$OUT/pki/trust.p12
ssl.trustStore.password=$P
EOF
case $IMPL in
  java)
    # Debian's zookeeper.jar manifest lacks netty-codec, which the TLS handler needs.
    java -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/netty-codec.jar \
      -Dzookeeper.admin.enableServer=false \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$OUT/zoo.cfg" > "$OUT/server.log" 2>&1 &
    ;;
  zkrs)
    RUST_LOG=${RUST_LOG:-warn} "$ZKRS_BIN" "$OUT/zoo.cfg" > "$OUT/server.log" 2>&1 &
    ;;
  *) echo "usage: $0 java|zkrs OUTDIR [DURATION]" >&2; exit 2 ;;
esac
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
TLS="--tls --ca $OUT/pki/ca.pem --cert $OUT/pki/client.pem --key $OUT/pki/client.key"
SERVER=127.0.0.1:$SECURE
# Ready when a TLS session opens.
i=0
until "$ZKBENCH" --server $SERVER $TLS --workload handshakes --sessions 1 --warmup 0s \
    --duration 200ms --quiet > /dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 60 ] || ! kill -0 $PID 2>/dev/null; then
    echo "$IMPL did not serve TLS on $SERVER; see $OUT/server.log" >&2
    exit 1
  fi
  sleep 1
done
{
  echo "# $IMPL, TLS port $SERVER, $(date -u +%FT%TZ)"
  for w in get set create; do
    "$ZKBENCH" --server $SERVER $TLS --workload $w --sessions 16 --depth 32 \
      --duration "$DUR" --warmup 3s --quiet --server-pid $PID
    "$ZKBENCH" --server $SERVER $TLS --workload $w --sessions 1 --depth 1 \
      --duration "$DUR" --warmup 3s --quiet --server-pid $PID
  done
  "$ZKBENCH" --server $SERVER $TLS --workload handshakes --sessions 16 \
    --duration "$DUR" --warmup 3s --quiet --server-pid $PID
  "$ZKBENCH" --server $SERVER $TLS --workload handshakes --sessions 1 \
    --duration "$DUR" --warmup 3s --quiet --server-pid $PID
  echo "# plaintext port 127.0.0.1:$PLAIN, for comparison"
  "$ZKBENCH" --server 127.0.0.1:$PLAIN --workload handshakes --sessions 16 \
    --duration "$DUR" --warmup 3s --quiet --server-pid $PID
} | tee "$OUT/results.txt"
