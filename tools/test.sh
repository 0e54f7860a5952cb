#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every check and test suite.
#
#   tools/test.sh            everything: every compat suite against Java 3.8.0, Java 3.9.3 and
#                            zkserver in each generation's mode (compat.version=3.8 and 3.9)
#
# Environment:
#   PYTEST_ARGS   extra arguments for the compat pytest run (e.g. "-k kazoo -x")
#   TEST_JOBS     parallel pytest workers (default: number of CPUs, at most 4)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() {
    printf '\n==> %s\n' "$*"
    STEP_START=$(date +%s)
}
done_step() {
    printf '    (%ss)\n' "$(($(date +%s) - STEP_START))"
}
TOTAL_START=$(date +%s)

step "install missing system packages"
tools/install-deps.sh
done_step

step "cargo fmt --check"
cargo fmt --all --check
done_step

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
done_step

step "cargo build --release --bin zkserver"
cargo build --release --bin zkserver
done_step

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export ZKRS_BIN="$TARGET_DIR/release/zkserver"

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
    # nextest does not run doctests
    cargo test --workspace --doc
else
    cargo test --workspace --no-fail-fast
fi
done_step

step "compat suites against Java 3.8.0, Java 3.9.3 and zkserver in 3.8 and 3.9 mode"
# Always all four implementations, whatever the caller's environment says.
export ZK_IMPLS=java,zkrs,java39,zkrs39
JOBS="${TEST_JOBS:-$(nproc)}"
if [ "$JOBS" -gt 4 ]; then JOBS=4; fi
XDIST=()
if [ "$JOBS" -gt 1 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
    # loadscope keeps a test module on one worker, so each module starts each server once
    XDIST=(-n "$JOBS" --dist loadscope)
fi
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest -q "${XDIST[@]}" compat-tests/python \
    --ignore=compat-tests/python/test_debian_package.py ${PYTEST_ARGS:-}
done_step

step "Debian package: zookeeperd -> zkserver .deb -> zookeeperd (root; alone, it changes the system)"
/usr/bin/python3 -m pytest -q compat-tests/python/test_debian_package.py
done_step

printf '\nall tests passed in %ss\n' "$(($(date +%s) - TOTAL_START))"
