#!/usr/bin/env bash
# Builds target/debian/zkserver_<version>_<arch>.deb: zkserver as a replacement for Debian's
# zookeeperd (Conflicts/Replaces/Provides zookeeperd; the zookeeper configuration and Java
# library packages stay). Contents: /usr/bin/zkserver, /usr/share/zkserver/zookeeper-service
# (zookeeperd's start-up, run in the foreground), /lib/systemd/system/zookeeper.service and
# the maintainer scripts, all from packaging/debian/.
#
# A short script around dpkg-deb rather than cargo-deb: dpkg-deb is on every Debian machine,
# while `cargo install cargo-deb` compiles a few hundred crates, and the package is five files.
#
# Usage: tools/build-deb.sh [--no-build]   (--no-build: package $ZKRS_BIN, else
# target/release/zkserver, as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=packaging/debian
if [ "${1:-}" != --no-build ]; then
    cargo build --release --bin zkserver
fi
BIN=${ZKRS_BIN:-target/release/zkserver}
[ -x "$BIN" ] || { echo "build-deb: no $BIN" >&2; exit 1; }

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)-1"
ARCH="$(dpkg --print-architecture)"
# The newest glibc symbol version the binary needs (it links only libc, libm, libgcc_s).
GLIBC="$(objdump -T "$BIN" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)"
DEPENDS="libc6 (>= ${GLIBC:-2.31}), libgcc-s1"

STAGE="$(mktemp -d)"
chmod 755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/usr/share/zkserver" \
    "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/zkserver"
# Without debug info: the package is for running, not for a debugger.
objcopy --strip-debug "$BIN" "$STAGE/usr/bin/zkserver"
chmod 755 "$STAGE/usr/bin/zkserver"
install -m 755 "$SRC/zookeeper-service" "$STAGE/usr/share/zkserver/zookeeper-service"
install -m 644 "$SRC/zookeeper.service" "$STAGE/lib/systemd/system/zookeeper.service"
install -m 644 README.md "$STAGE/usr/share/doc/zkserver/README.md"
for script in postinst prerm postrm; do
    install -m 755 "$SRC/$script" "$STAGE/DEBIAN/$script"
done
SIZE_KB="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE_KB@/$SIZE_KB/" \
    -e "s/@DEPENDS@/$DEPENDS/" "$SRC/control.in" > "$STAGE/DEBIAN/control"
(cd "$STAGE" && find usr lib -type f -exec md5sum {} + > DEBIAN/md5sums)

mkdir -p target/debian
OUT="target/debian/zkserver_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$OUT" >/dev/null
echo "$ROOT/$OUT"
