#!/usr/bin/env bash
# Installs what the test suite needs: the system packages (Java ZooKeeper 3.8 as the
# first reference server, kazoo, pytest, Curator, a JDK) and Java ZooKeeper 3.9.3 with
# Curator 5.7.1 as the second reference (see install_java39 below). Idempotent: when
# everything is present it does nothing, not even `apt-get update`.
set -euo pipefail

# Java ZooKeeper 3.9.3 and Curator 5.7.1 are not in Debian and Maven Central is not
# reachable; PyPI's pyspark==4.0.1 sdist carries them with every jar QuorumPeerMain needs
# in deps/jars/. We download it once (434 MB, ~20 s), keep only those jars (14 MB) in the
# cache folder below and drop the archive. compat-tests/python/zkharness.py reads the
# same folder (ZK_JAVA39_DIR overrides both).
JAVA39_DIR="${ZK_JAVA39_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zk-rs/java-3.9.3}"
JAVA39_JARS=(
    zookeeper-3.9.3.jar zookeeper-jute-3.9.3.jar
    curator-client-5.7.1.jar curator-framework-5.7.1.jar curator-recipes-5.7.1.jar
    slf4j-api-2.0.16.jar log4j-api-2.24.3.jar log4j-core-2.24.3.jar log4j-slf4j2-impl-2.24.3.jar
    netty-buffer-4.1.118.Final.jar netty-codec-4.1.118.Final.jar netty-common-4.1.118.Final.jar
    netty-handler-4.1.118.Final.jar netty-resolver-4.1.118.Final.jar
    netty-transport-4.1.118.Final.jar netty-transport-native-unix-common-4.1.118.Final.jar
    netty-transport-classes-epoll-4.1.118.Final.jar
    netty-transport-native-epoll-4.1.118.Final-linux-x86_64.jar
    metrics-core-4.2.30.jar commons-io-2.18.0.jar commons-cli-1.9.0.jar snappy-java-1.1.10.7.jar
    audience-annotations-0.12.0.jar jline-2.14.6.jar
)

install_java39() {
    if [ -f "$JAVA39_DIR/.complete" ]; then
        echo "install-deps: Java ZooKeeper 3.9.3 jars present in $JAVA39_DIR"
        return
    fi
    echo "install-deps: fetching Java ZooKeeper 3.9.3 and Curator 5.7.1 (pyspark==4.0.1 from PyPI)"
    local work
    work="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --no-binary :all: pyspark==4.0.1 -d "$work"
    local members=()
    for jar in "${JAVA39_JARS[@]}"; do members+=("pyspark-4.0.1/deps/jars/$jar"); done
    mkdir -p "$JAVA39_DIR"
    tar -xzf "$work/pyspark-4.0.1.tar.gz" -C "$JAVA39_DIR" --strip-components=3 "${members[@]}"
    rm -rf "$work"
    touch "$JAVA39_DIR/.complete"
    echo "install-deps: Java 3.9.3 jars in $JAVA39_DIR ($(du -sh "$JAVA39_DIR" | cut -f1))"
}

# Debian's zookeeperd .deb (its init script starting Java 3.8.0), for
# compat-tests/python/test_debian_package.py, which installs it, swaps it for our package and
# back. Downloaded, not installed: the suite's Java servers do not need it.
DEBS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/zk-rs/debs"
fetch_zookeeperd_deb() {
    if compgen -G "$DEBS_DIR/zookeeperd_*.deb" >/dev/null; then
        return
    fi
    mkdir -p "$DEBS_DIR"
    (cd "$DEBS_DIR" && apt-get download zookeeperd)
    echo "install-deps: zookeeperd .deb in $DEBS_DIR"
}

PACKAGES=(
    zookeeper
    zookeeper-bin
    python3-kazoo
    python3-pytest
    python3-pytest-xdist
    python3-pytest-timeout
    libcurator-framework-java
    libcurator-recipes-java
    default-jdk-headless
    # TLS: key/trust store tests (server/src/tls/keystore) and tools/bench-tls.sh make their
    # certificates with openssl and keytool (from the JDK above); Java's Netty TLS handler
    # needs netty-codec, which Debian's zookeeper.jar manifest does not name.
    openssl
    libnetty-java
    # Java's AdminServer (test_admin.py): Jetty 9.4 and Jackson, for 3.8.0 and 3.9.3 alike.
    libjetty9-java
    libservlet-api-java
    libjackson2-databind-java
    libjackson2-core-java
    libjackson2-annotations-java
    # SASL GSSAPI (test_kerberos.py): a throw-away MIT KDC per test session (kdc.py), kinit,
    # and kazoo's GSSAPI through puresasl + pykerberos (python3-gssapi for raw GSS tokens).
    krb5-kdc
    krb5-admin-server
    krb5-user
    python3-kerberos
    python3-gssapi
    # test_cli_mt_tls.py: nm / objdump show which TLS symbols cli_mt and libzookeeper_mt have.
    binutils
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all packages present"
    install_java39
    fetch_zookeeperd_deb
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
install_java39
fetch_zookeeperd_deb
