#!/usr/bin/env bash
# Installs the system packages the test suite needs (Java ZooKeeper 3.8 as the
# reference server, kazoo, pytest, Curator, a JDK). Idempotent: when every
# package is already installed it does nothing, not even `apt-get update`.
set -euo pipefail

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
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all packages present"
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
